//! What each endpoint does, end to end through the router.

use crate::harness::{TestApp, asset_spec, org_spec};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn organizations_are_created_read_updated_and_deleted() {
    let app = TestApp::new().await;
    let (s, org) = app
        .json(
            "POST",
            "/api/v1/organizations",
            &app.analyst,
            json!(org_spec("Hangzhou Metro")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    let id = org["id"].as_str().expect("id").to_string();
    let (s, dup) = app
        .json(
            "POST",
            "/api/v1/organizations",
            &app.analyst,
            json!(org_spec("Hangzhou Metro")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{dup}");
    let (_, got) = app
        .get(&format!("/api/v1/organizations/{id}"), &app.auditor)
        .await;
    assert_eq!(got["name"], "Hangzhou Metro");
    assert_eq!(got["region_code"], "330100");
    let mut spec = org_spec("Hangzhou Metro Group");
    spec.mlps_level = 4;
    let (s, upd) = app
        .json(
            "PUT",
            &format!("/api/v1/organizations/{id}"),
            &app.analyst,
            json!(spec),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["mlps_level"], 4);
    let (_, list) = app.get("/api/v1/organizations?q=metro", &app.analyst).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    // An organization with assets cannot be deleted.
    let (s, v) = app
        .call(
            "DELETE",
            &format!("/api/v1/organizations/{}", app.a.id),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/organizations/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .get(&format!("/api/v1/organizations/{id}"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_import_from_csv_reports_each_row_and_stores_the_good_ones() {
    let app = TestApp::new().await;
    let csv = format!(
        "org_id,name,kind,ips,purls,importance\n\
         {a},SCADA server,scada,10.0.0.5,pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1,critical\n\
         {a},Toaster,toaster,,,\n\
         {b},Other org HMI,hmi,10.0.0.6,,\n\
         ,Default org RTU,rtu,10.0.0.7,,\n",
        a = app.a.id,
        b = app.b.id
    );
    // Dry run stores nothing.
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/assets/import?dry_run=true",
            Some(&app.officer),
            Some(("text/csv", csv.clone().into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], 2, "{v}");
    assert_eq!(v["created"], 0);
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/assets/import",
            Some(&app.officer),
            Some(("text/csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 2, "{v}");
    assert_eq!(v["rejected"], 2, "{v}");
    assert_eq!(v["rows"][1]["status"], "rejected");
    assert!(
        v["rows"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("toaster"))
    );
    assert!(
        v["rows"][2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("organization not found"))
    );
    assert_eq!(v["rows"][3]["status"], "created");
    let (_, list) = app.get("/api/v1/assets?kind=scada", &app.officer).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["software"][0]["name"], "log4j-core");
    let (_, list) = app
        .get(
            &format!("/api/v1/assets?org_id={}&q=Other", app.b.id),
            &app.admin,
        )
        .await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "the rejected row was not stored"
    );
}

#[tokio::test]
async fn asset_updates_cannot_move_an_asset_to_another_organization() {
    let app = TestApp::new().await;
    let (s, v) = app
        .json(
            "PUT",
            &format!("/api/v1/assets/{}", app.a.asset),
            &app.officer,
            json!(asset_spec(app.b.id, "moved")),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .json(
            "PUT",
            &format!("/api/v1/assets/{}", app.a.asset),
            &app.officer,
            json!(asset_spec(app.a.id, "renamed PLC")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "renamed PLC");
}

#[tokio::test]
async fn event_search_filters_and_paginates_without_gaps() {
    let app = TestApp::new().await;
    let mut body = String::new();
    for i in 0..130 {
        body.push_str(&format!(
            "{{\"@timestamp\":\"2026-11-21T00:{:02}:{:02}Z\",\"message\":\"conn {i}\",\"source.ip\":\"10.0.0.{}\",\"destination\":{{\"port\":{}}}}}\n",
            i / 60,
            i % 60,
            i % 3,
            if i % 2 == 0 { 502 } else { 443 }
        ));
    }
    let (s, v) = app
        .call(
            "POST",
            &format!("/api/v1/events?org_id={}", app.a.id),
            Some(&app.analyst),
            Some(("application/x-ndjson", body.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["stored"], 130);

    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut uri = format!(
            "/api/v1/events?org_id={}&from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z&limit=50",
            app.a.id
        );
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (s, v) = app.get(&uri, &app.auditor).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for e in v["items"].as_array().expect("items") {
            assert!(
                seen.insert(e["id"].as_i64().expect("id")),
                "duplicate across pages"
            );
        }
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 130);
    assert_eq!(pages, 3);

    let (_, v) = app
        .get(
            "/api/v1/events?filter=source.ip:10.0.0.1&filter=destination.port:502",
            &app.analyst,
        )
        .await;
    let n = v["items"].as_array().map(Vec::len).unwrap_or(0);
    let expected = (0..130).filter(|i| i % 3 == 1 && i % 2 == 0).count();
    assert_eq!(n, expected);
    let (s, v) = app.get("/api/v1/events?filter=nocolon", &app.analyst).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn incidents_move_through_their_workflow_with_a_timeline() {
    let app = TestApp::new().await;
    let alert = app
        .store
        .create_alerts(vec![crate::harness::alert_spec(app.a.id, "x", app.a.event)])
        .await
        .expect("alert")[0]
        .id;
    let (s, inc) = app
        .json("POST", "/api/v1/incidents", &app.analyst, json!({
            "org_id": app.a.id, "title": "勒索软件感染", "category": "MP", "subcategory": "MPRANS",
            "grade": "large", "occurred_at": "2026-11-21T08:00:00Z", "alert_ids": [alert],
        }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_str().expect("id").to_string();
    let (_, a) = app
        .get(&format!("/api/v1/alerts/{alert}"), &app.analyst)
        .await;
    assert_eq!(a["status"], "escalated");
    assert_eq!(a["incident_id"], id.as_str());

    // The workflow: a new incident is triaged before the organization is notified.
    let patch = |who: &'static str, body: serde_json::Value| {
        let app = &app;
        let id = id.clone();
        async move {
            let token = match who {
                "analyst" => &app.analyst,
                _ => &app.officer,
            };
            app.json("PATCH", &format!("/api/v1/incidents/{id}"), token, body)
                .await
        }
    };
    let (s, v) = patch("analyst", json!({"status":"notified"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "illegal_transition");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("from 'new' the next step can be 'triaged'")),
        "{v}"
    );
    let (s, v) = patch("analyst", json!({"status":"triaged"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = patch("analyst", json!({"status":"notified"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Acknowledging is the organization's step, not the analyst's.
    let (s, v) = patch("analyst", json!({"status":"acknowledged"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("performed by the responsible organization")),
        "{v}"
    );
    // The organization acknowledges and reports remediation; it cannot close or regrade.
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.officer,
            json!({"status":"acknowledged","comment":"已签收"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.officer,
            json!({"status":"closed"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.officer,
            json!({"grade":"general"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.analyst,
            json!({"subcategory":"NADOS"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Closing before the remediation is verified is refused, and changes nothing.
    let (s, v) = patch("analyst", json!({"status":"closed","grade":"major"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Remediation, feedback, sent back once, feedback again, verification.
    for (who, status, want) in [
        ("officer", "remediating", StatusCode::OK),
        ("officer", "verified", StatusCode::FORBIDDEN),
        ("officer", "remediated", StatusCode::OK),
        ("analyst", "remediating", StatusCode::OK),
        ("officer", "remediated", StatusCode::OK),
        ("analyst", "verified", StatusCode::OK),
    ] {
        let (s, v) = patch(who, json!({ "status": status })).await;
        assert_eq!(s, want, "{who} -> {status}: {v}");
    }
    let (s, closed) = patch("analyst", json!({"status":"closed","grade":"major"})).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert_eq!(closed["grade"], "major");
    assert!(closed["closed_at"].is_string());
    let (s, v) = patch("analyst", json!({"status":"archived"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["closed_at"].is_string(),
        "archiving keeps the closing time"
    );
    // Archived is final.
    let (s, v) = patch("analyst", json!({"status":"triaged"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, audit) = app
        .get("/api/v1/audit?action=incident.&limit=1000", &app.auditor)
        .await;
    let audited: Vec<&str> = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for a in [
        "incident.triage",
        "incident.notify",
        "incident.acknowledge",
        "incident.start_remediation",
        "incident.submit_feedback",
        "incident.send_back",
        "incident.verify",
        "incident.close",
        "incident.archive",
    ] {
        assert!(audited.contains(&a), "{a} not in {audited:?}");
    }
    let actions: Vec<&str> = closed["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["action"].as_str())
        .collect();
    assert!(actions.contains(&"created"), "{actions:?}");
    assert!(actions.contains(&"status:acknowledged"), "{actions:?}");
    assert!(actions.contains(&"comment"), "{actions:?}");
    assert!(actions.contains(&"status:closed"), "{actions:?}");
    assert!(actions.contains(&"grade:major"), "{actions:?}");
    let (_, list) = app
        .get("/api/v1/incidents?open=false&grade=major", &app.auditor)
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn users_are_created_with_one_time_passwords_and_every_change_is_audited() {
    let app = TestApp::new().await;
    let (s, u) = app
        .json(
            "POST",
            "/api/v1/users",
            &app.admin,
            json!({"username":"li.lei","role":"analyst"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let password = u["password"]
        .as_str()
        .expect("generated password")
        .to_string();
    assert!(u.get("password_hash").is_none());
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/users",
            &app.admin,
            json!({"username":"li.lei","role":"analyst"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/users",
            &app.admin,
            json!({"username":"x","role":"org_user"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/users",
            &app.admin,
            json!({"username":"y","role":"analyst","password":"short"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/auth/login",
            "",
            json!({"username":"li.lei","password":password}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, log) = app.get("/api/v1/audit?action=user.", &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    let entries = log["items"].as_array().expect("items");
    assert!(
        entries.iter().any(|e| e["action"] == "user.create"
            && e["object"] == "user/li.lei"
            && e["actor"].as_str().is_some_and(|a| a.starts_with("token:"))),
        "{log}"
    );
    let (_, all) = app.get("/api/v1/audit?limit=1000", &app.auditor).await;
    assert!(
        all["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["action"] == "auth.login" && e["outcome"] == "success")
    );
    assert!(
        !all.to_string().contains(&password),
        "no secret in the audit log"
    );
    let (s, v) = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checked"].as_u64().is_some_and(|n| n >= 2), "{v}");
}

#[tokio::test]
async fn health_readiness_metrics_and_taxonomies() {
    let app = TestApp::new().await;
    let (s, _) = app.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.call("GET", "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, t) = app.get("/api/v1/taxonomies", &app.officer).await;
    assert_eq!(t["incident_categories"].as_array().map(Vec::len), Some(10));
    assert_eq!(t["grades"][0]["name_zh"], "特别重大");
    assert_eq!(t["grades"][0]["colour"], "red");
    let (_, me) = app.get("/api/v1/users/me", &app.officer).await;
    assert_eq!(me["role"], "org_user");
    assert_eq!(me["org_id"], app.a.id.to_string());
}

/// The API over the PostgreSQL store: the same requests, the same answers.
#[tokio::test]
async fn postgres_backend_serves_the_same_api() {
    let Some(app) = TestApp::postgres("postgres_backend_serves_the_same_api").await else {
        return;
    };
    let body = concat!(
        r#"{"@timestamp":"2026-11-21T01:00:00Z","message":"pg first","source.ip":"198.51.100.4"}"#,
        "\nnot json\n",
        r#"{"@timestamp":"2026-11-21T01:00:01Z","message":"pg second"}"#,
        "\n"
    )
    .to_string();
    let (s, v) = app
        .call(
            "POST",
            &format!("/api/v1/events?org_id={}", app.a.id),
            Some(&app.officer),
            Some(("application/x-ndjson", body.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"], 2);
    assert_eq!(v["rejected"], 1);
    let (_, found) = app
        .get(
            "/api/v1/events?q=pg&filter=source.ip:198.51.100.4",
            &app.officer,
        )
        .await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    // Isolation holds on this backend too.
    let (s, _) = app
        .get(
            &format!("/api/v1/incidents/{}", app.b.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/alerts", &app.officer).await;
    assert!(!list.to_string().contains(&app.b.id.to_string()));
    let (s, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{}", app.a.incident),
            &app.analyst,
            json!({"status":"notified"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{}", app.a.incident),
            &app.officer,
            json!({"status":"acknowledged","comment":"收到"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, audit) = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test]
async fn audit_verification_names_the_tampered_record() {
    let app = TestApp::new().await;
    for name in ["Tamper One", "Tamper Two", "Tamper Three", "Tamper Four"] {
        let (s, _) = app
            .json(
                "POST",
                "/api/v1/organizations",
                &app.admin,
                json!(org_spec(name)),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, v) = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["findings"].as_array().is_some_and(Vec::is_empty));

    // Someone with access to the database file rewrites who did something.
    let db = app._dir.path().join("vigil.db");
    let conn = rusqlite::Connection::open(&db).expect("open the database file");
    let changed = conn
        .execute(
            "UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 2",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    let (_, v) = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["findings"][0]["seq"], 2, "{v}");
    assert_eq!(v["findings"][0]["kind"], "altered", "{v}");

    // And deletes one from the middle. (Removing the newest records needs a signed
    // checkpoint to notice; that is vigil_crypto::check_against_checkpoint's job.)
    conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .expect("delete");
    let (_, v) = app.get("/api/v1/audit/verify", &app.auditor).await;
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"removed"), "{v}");
}

#[tokio::test]
async fn notified_incidents_have_notices_signed_with_the_published_key() {
    let app = TestApp::new().await;
    let (s, key) = app.get("/api/v1/notice-key", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{key}");
    assert_eq!(key["alg"], "SM2-SM3");
    let trusted = vigil_crypto::Sm2PublicKey::parse(key["public_key_pem"].as_str().expect("pem"))
        .expect("published key");

    // The organization fetches the notice of its incident and checks it.
    let (s, env) = app
        .get(
            &format!("/api/v1/incidents/{}/notice", app.a.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{env}");
    let env: vigil_crypto::Envelope = serde_json::from_value(env).expect("envelope");
    let payload = vigil_crypto::open_envelope(&env, &trusted).expect("valid signature");
    let doc: serde_json::Value = serde_json::from_str(payload).expect("payload json");
    assert_eq!(doc["type"], "vigil.incident_notice");
    assert_eq!(doc["incident"]["id"], app.a.incident.to_string());
    assert_eq!(doc["recipient"]["organization_id"], app.a.id.to_string());
    assert_eq!(doc["incident"]["status"], "notified");
    assert!(doc["notified_at"].is_string(), "{doc}");
    // A changed payload no longer verifies.
    let mut altered = env.clone();
    altered.payload = altered.payload.replace("notified", "closed");
    assert!(vigil_crypto::open_envelope(&altered, &trusted).is_err());

    // Another organization's notice does not exist for this user.
    let (s, _) = app
        .get(
            &format!("/api/v1/incidents/{}/notice", app.b.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An incident not yet notified has no notice.
    let (s, inc) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.analyst,
            json!({
                "org_id": app.a.id, "title": "Port scan", "category": "NA",
                "grade": "general", "occurred_at": "2026-11-21T08:00:00Z",
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let (s, v) = app
        .get(
            &format!(
                "/api/v1/incidents/{}/notice",
                inc["id"].as_str().expect("id")
            ),
            &app.analyst,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "not_notified");
}

#[tokio::test]
async fn incident_deadlines_follow_grade_operator_and_workflow() {
    let app = TestApp::new().await;
    // The fixture incident is 一般 and notified: acknowledge and remediate are running.
    let (s, v) = app
        .get(
            &format!("/api/v1/incidents/{}/deadlines", app.a.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let kinds: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["acknowledge", "remediate"], "{v}");
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|d| d["status"] == "pending"),
        "{v}"
    );
    assert_eq!(v["overdue"], 0);
    // A 重大 incident at a CII operator must be reported within an hour of discovery.
    let (s, inc) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.analyst,
            json!({
                "org_id": app.a.id, "title": "Ransomware on the SCADA server", "category": "MP",
                "subcategory": "MPRANS", "grade": "major", "occurred_at": "2026-11-21T08:00:00Z",
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let (s, v) = app
        .get(
            &format!(
                "/api/v1/incidents/{}/deadlines",
                inc["id"].as_str().expect("id")
            ),
            &app.analyst,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let report = &v["items"][0];
    assert_eq!(report["kind"], "report", "{v}");
    let created: jiff::Timestamp = inc["created_at"]
        .as_str()
        .expect("created")
        .parse()
        .expect("ts");
    let due: jiff::Timestamp = report["due"].as_str().expect("due").parse().expect("ts");
    assert_eq!(due.duration_since(created).as_secs(), 3600, "{v}");
    // Someone else's incident has no deadlines for this user.
    let (s, _) = app
        .get(
            &format!("/api/v1/incidents/{}/deadlines", app.b.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn incident_statistics_are_scoped_and_validated() {
    let app = TestApp::new().await;
    let (s, all) = app.get("/api/v1/stats/incidents", &app.analyst).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 2, "{all}");
    assert_eq!(all["by_subcategory"][0]["code"], "NACRED", "{all}");
    assert_eq!(all["by_subcategory"][0]["percent"], 100.0, "{all}");
    assert_eq!(all["by_sector"][0]["code"], "power", "{all}");
    // An organization user counts only its own.
    let (s, own) = app.get("/api/v1/stats/incidents", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{own}");
    assert_eq!(own["total"], 1, "{own}");
    let (s, other) = app
        .get(
            &format!("/api/v1/stats/incidents?org_id={}", app.b.id),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{other}");
    assert_eq!(other["total"], 0, "{other}");
    // A period in the past is empty; a backwards one is refused.
    let (_, past) = app
        .get(
            "/api/v1/stats/incidents?from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z",
            &app.analyst,
        )
        .await;
    assert_eq!(past["total"], 0, "{past}");
    let (s, v) = app
        .get(
            "/api/v1/stats/incidents?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &app.analyst,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}
