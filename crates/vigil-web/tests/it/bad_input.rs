//! Bad input gets a 4xx with a message that names the problem, and never half-stores anything.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::json;
use vigil_web::WebConfig;

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_named() {
    let app = TestApp::new().await;
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&app.admin),
            Some(("application/json", b"{\"name\":".to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "bad_json");

    let mut body = json!(crate::harness::org_spec("Typed"));
    body["mlps_level"] = json!("three");
    let (s, v) = app
        .json("POST", "/api/v1/organizations", &app.admin, body)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("mlps_level")),
        "{v}"
    );

    let mut body = json!(crate::harness::org_spec("Unknown"));
    body["colour"] = json!("red");
    let (s, v) = app
        .json("POST", "/api/v1/organizations", &app.admin, body)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("colour")),
        "{v}"
    );

    let mut body = json!(crate::harness::org_spec("Bad region"));
    body["region_code"] = json!("990000");
    let (s, v) = app
        .json("POST", "/api/v1/organizations", &app.admin, body)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"]["field"], "region_code", "{v}");

    let (s, v) = app
        .call(
            "POST",
            "/api/v1/organizations",
            Some(&app.admin),
            Some(("text/plain", b"{}".to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");

    let (s, v) = app.get("/api/v1/incidents?grade=huge", &app.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("huge")),
        "{v}"
    );
    let (s, v) = app.get("/api/v1/alerts?colour=red", &app.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app.get("/api/v1/events?cursor=garbage", &app.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "bad_cursor");
    let (s, _) = app.get("/api/v1/assets/not-a-uuid", &app.admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::with_config(WebConfig {
        max_body_bytes: 1024,
        ..WebConfig::default()
    })
    .await;
    let big = format!("{{\"message\":\"{}\"}}\n", "x".repeat(4096));
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/v1/events?org_id={}", app.a.id),
            Some(&app.admin),
            Some(("application/x-ndjson", big.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let mut org = json!(crate::harness::org_spec("Big"));
    org["name"] = json!("y".repeat(4096));
    let (s, _) = app
        .json("POST", "/api/v1/organizations", &app.admin, org)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_json_array_body_is_ingested_element_by_element() {
    let app = TestApp::new().await;
    let org = app.a.id;
    let body = r#"[{"@timestamp":"2026-11-20T10:00:00Z","message":"array one"},
                   7,
                   {"message":"array two","host":{"name":"h"}}]"#;
    let (s, v) = app
        .call(
            "POST",
            &format!("/api/v1/events?org_id={org}"),
            Some(&app.officer),
            Some(("application/json", body.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"], 2, "{v}");
    assert_eq!(v["rejected"], 1, "{v}");
    assert_eq!(v["results"][1]["line"], 2, "{v}");
    assert!(
        v["results"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON object")),
        "{v}"
    );
    assert!(v["results"][2]["id"].is_i64(), "{v}");
}

#[tokio::test]
async fn the_openapi_document_describes_bulk_ingest_answers() {
    let app = TestApp::new().await;
    let (s, doc) = app.get("/api/v1/openapi.json", &app.analyst).await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/api/v1/events"]["post"];
    assert!(op["responses"]["202"].is_object(), "{op}");
    assert!(
        op["responses"]["503"]["headers"]["Retry-After"].is_object(),
        "{op}"
    );
    assert!(
        op["requestBody"]["content"]["application/x-ndjson"].is_object(),
        "{op}"
    );
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["type"],
        "array"
    );
}

#[tokio::test]
async fn ndjson_bulk_reports_every_line_and_stores_only_whole_good_ones() {
    let app = TestApp::new().await;
    let org = app.a.id;
    let body = format!(
        "{{\"@timestamp\":\"2026-11-20T10:00:00Z\",\"message\":\"first good\",\"source\":{{\"ip\":\"198.51.100.1\"}}}}\n\
         {{\"message\": broken json\n\
         \n\
         [1,2,3]\n\
         {{\"@timestamp\":\"not a time\",\"message\":\"bad time\"}}\n\
         {{\"vigil.org_id\":\"{}\",\"message\":\"other org\"}}\n\
         {{\"@timestamp\":\"2026-11-20T10:00:01Z\",\"message\":\"second good\"}}\r\n",
        app.b.id
    );
    let (s, v) = app
        .call(
            "POST",
            &format!("/api/v1/events?org_id={org}"),
            Some(&app.officer),
            Some(("application/x-ndjson", body.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"], 2, "{v}");
    assert_eq!(v["rejected"], 4, "{v}");
    let results = v["results"].as_array().expect("results");
    let by_line = |n: u64| {
        results
            .iter()
            .find(|r| r["line"] == n)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_line(1)["status"], "stored");
    assert!(by_line(1)["id"].is_i64());
    assert!(
        by_line(2)["error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON")),
        "{v}"
    );
    assert!(by_line(3).is_null(), "blank lines are skipped");
    assert!(
        by_line(4)["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON object")),
        "{v}"
    );
    assert!(
        by_line(5)["error"]
            .as_str()
            .is_some_and(|e| e.contains("@timestamp")),
        "{v}"
    );
    assert!(
        by_line(6)["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{v}"
    );
    assert_eq!(by_line(7)["status"], "stored");

    // The stored lines are searchable; the rejected ones left nothing behind.
    let (s, v) = app
        .get(&format!("/api/v1/events?org_id={org}&q=good"), &app.officer)
        .await;
    assert_eq!(s, StatusCode::OK);
    let msgs: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["fields"]["message"].as_str())
        .collect();
    assert_eq!(msgs, vec!["second good", "first good"]);
    let (_, v) = app.get("/api/v1/events?q=bad%20time", &app.admin).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    let (_, v) = app.get("/api/v1/events?q=other%20org", &app.admin).await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn wrong_credentials_are_401_and_revoked_tokens_stop_working() {
    let app = TestApp::new().await;
    let (s, v) = app.get("/api/v1/organizations", "vgl_wrong").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("token")),
        "{v}"
    );
    let (s, _) = app
        .send(
            axum::http::Request::get("/api/v1/organizations")
                .header("authorization", "Basic YWRtaW46YWRtaW4=")
                .body(axum::body::Body::empty())
                .expect("req"),
        )
        .await
        .into_tuple();
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, v) = app
        .json(
            "POST",
            "/api/v1/tokens",
            &app.admin,
            json!({"name":"temp","role":"analyst"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let secret = v["secret"].as_str().expect("secret shown once").to_string();
    let id = v["id"].as_str().expect("id").to_string();
    let (s, _) = app.get("/api/v1/organizations", &secret).await;
    assert_eq!(s, StatusCode::OK);
    // The secret is never listed again.
    let (_, list) = app.get("/api/v1/tokens", &app.admin).await;
    assert!(!list.to_string().contains(&secret));
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get("/api/v1/organizations", &secret).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

trait IntoTuple {
    fn into_tuple(self) -> (StatusCode, serde_json::Value);
}
impl IntoTuple for (StatusCode, serde_json::Value, axum::http::HeaderMap) {
    fn into_tuple(self) -> (StatusCode, serde_json::Value) {
        (self.0, self.1)
    }
}

/// Bulk ingest sheds load instead of queueing bodies without bound: when every slot is busy
/// for longer than `ingest_wait`, the request is answered 503 with `Retry-After` and nothing
/// of it is stored; once a slot is free the same body is stored.
#[tokio::test]
async fn bulk_ingest_sheds_load_with_503_and_retry_after() {
    let app = TestApp::with_config(WebConfig {
        ingest_max_inflight: 2,
        ingest_wait: std::time::Duration::from_millis(50),
        ..WebConfig::default()
    })
    .await;
    let body = "{\"@timestamp\":\"2026-11-20T10:00:00Z\",\"message\":\"shed me\"}\n";
    let request = || {
        axum::http::Request::builder()
            .method("POST")
            .uri(format!("/api/v1/events?org_id={}", app.a.id))
            .header("authorization", format!("Bearer {}", app.admin))
            .header("content-type", "application/x-ndjson")
            .body(axum::body::Body::from(body))
            .expect("request")
    };
    // Every slot taken, as by two long requests in flight.
    let busy = app
        .state
        .ingest_slots
        .clone()
        .acquire_many_owned(2)
        .await
        .expect("slots");
    let (s, v, headers) = app.send(request()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["code"], "overloaded");
    assert_eq!(
        headers.get("retry-after").and_then(|h| h.to_str().ok()),
        Some("1")
    );
    let (_, found) = app.get("/api/v1/events?q=shed", &app.admin).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(0), "{found}");

    drop(busy);
    let (s, v, _) = app.send(request()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"], 1);
    let (_, found) = app.get("/api/v1/events?q=shed", &app.admin).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
}
