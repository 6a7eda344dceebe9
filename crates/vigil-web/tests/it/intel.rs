//! The intelligence API: import, search, revoke, delete, sightings.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_model::Scope;

pub fn bundle(modified: &str, confidence: u8) -> Value {
    json!({
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "created": "2026-01-01T00:00:00.000Z", "modified": modified,
                "name": "C2 server",
                "pattern": "[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'c2.evil.example']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
                "confidence": confidence, "labels": ["c2"],
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
                "external_references": [{"source_name": "mitre-attack", "external_id": "T1071.001"}],
                "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]
            },
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--1f3a3c5e-0c0e-4c7a-8a5e-6f0a4f1f3b10",
                "created": "2026-01-01T00:00:00.000Z", "modified": modified,
                "pattern": "[file:hashes.'SHA-256' = 'not a hash']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            },
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--b1a3c5e0-0c0e-4c7a-8a5e-6f0a4f1f3b11",
                "created": "2026-01-01T00:00:00.000Z", "modified": modified,
                "pattern": "[url:value MATCHES '^https?://evil\\\\.example/']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            },
            { "type": "indicator", "id": "indicator--broken" }
        ]
    })
}

async fn import(app: &TestApp, secret: &str, body: &Value) -> (StatusCode, Value) {
    app.call(
        "POST",
        "/api/v1/intel/import?source=peer-cert",
        Some(secret),
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await
}

#[tokio::test]
async fn stix_import_reports_problems_and_is_idempotent() {
    stix_import(TestApp::new().await).await;
}

#[tokio::test]
async fn stix_import_reports_problems_and_is_idempotent_on_postgres() {
    if let Some(app) = TestApp::postgres("intel import").await {
        stix_import(app).await;
    }
}

async fn stix_import(app: TestApp) {
    let (s, v) = import(&app, &app.analyst, &bundle("2026-01-02T00:00:00.000Z", 70)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The two-value pattern and the general pattern are stored; the bad hash and the broken
    // object are reported with their ids.
    assert_eq!(v["stored"]["inserted"], 2, "{v}");
    assert_eq!(v["format"], "stix");
    let ids: Vec<&str> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["object_id"].as_str())
        .collect();
    assert!(
        ids.contains(&"indicator--1f3a3c5e-0c0e-4c7a-8a5e-6f0a4f1f3b10"),
        "{v}"
    );
    assert!(ids.iter().any(|i| i.contains("broken")), "{v}");

    let (s, list) = app
        .get(
            "/api/v1/intel/indicators?value=C2.EVIL.example",
            // TLP:AMBER: staff see it, organization users do not (intel_admin.rs).
            &app.auditor,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    let ind = &items[0];
    assert_eq!(ind["kind"], "ipv4");
    assert_eq!(ind["confidence"], 70);
    assert_eq!(ind["tlp"], "amber");
    assert_eq!(ind["attack_ids"], json!(["T1071.001"]));
    assert_eq!(
        ind["values"],
        json!(["ipv4:198.51.100.1", "domain:c2.evil.example"])
    );
    let id = ind["id"].as_str().expect("id").to_string();

    // The same bundle again changes nothing; a newer version replaces the stored one.
    let (_, v) = import(&app, &app.admin, &bundle("2026-01-02T00:00:00.000Z", 70)).await;
    assert_eq!(v["stored"]["unchanged"], 2, "{v}");
    let (_, v) = import(&app, &app.admin, &bundle("2026-02-01T00:00:00.000Z", 90)).await;
    assert_eq!(v["stored"]["updated"], 2, "{v}");
    let (s, got) = app
        .get(&format!("/api/v1/intel/indicators/{id}"), &app.auditor)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["confidence"], 90);

    let (s, pat) = app
        .get("/api/v1/intel/indicators?kind=pattern", &app.admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pat["items"].as_array().map(Vec::len), Some(1), "{pat}");

    // Auditors and organization users may read but not import.
    let (s, _) = import(&app, &app.auditor, &bundle("2026-03-01T00:00:00Z", 1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = import(&app, &app.officer, &bundle("2026-03-01T00:00:00Z", 1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Revoked indicators leave the default list; deleting removes them.
    let (s, r) = app
        .call(
            "POST",
            &format!("/api/v1/intel/indicators/{id}/revoke"),
            Some(&app.analyst),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, list) = app
        .get("/api/v1/intel/indicators?value=198.51.100.1", &app.admin)
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let (_, list) = app
        .get(
            "/api/v1/intel/indicators?value=198.51.100.1&include_revoked=true",
            &app.admin,
        )
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/intel/indicators/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .get(&format!("/api/v1/intel/indicators/{id}"), &app.admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Every change is audited.
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery {
            action_prefix: Some("intel.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.record.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "intel.import",
            "intel.import",
            "intel.import",
            "intel.revoke",
            "intel.delete"
        ]
    );
}

#[tokio::test]
async fn misp_and_csv_imports_store_indicators() {
    let app = TestApp::new().await;
    let misp = json!({"Event": {
        "uuid": "5c2a0a0e-2f6c-4d3b-9c1e-0a0b0c0d0e0f", "info": "phishing wave",
        "Orgc": {"name": "CIRCL"}, "threat_level_id": "1",
        "Attribute": [
            {"uuid": "6d3b1b1f-3a7d-4e4c-8d2f-1b1c1d1e1f10", "type": "domain", "category": "Network activity",
             "to_ids": true, "value": "login-evil.example", "timestamp": "1767225600"},
            {"uuid": "6d3b1b1f-3a7d-4e4c-8d2f-1b1c1d1e1f11", "type": "ip-dst", "category": "Network activity",
             "to_ids": true, "value": "999.1.1.1", "timestamp": "1767225600"}
        ]
    }});
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=circl&format=misp",
            Some(&app.admin),
            Some(("application/json", misp.to_string().into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["stored"]["inserted"], 1, "{v}");
    assert_eq!(v["problems_total"], 1, "{v}");
    assert_eq!(
        v["problems"][0]["object_id"], "6d3b1b1f-3a7d-4e4c-8d2f-1b1c1d1e1f11",
        "{v}"
    );
    let (_, list) = app
        .get(
            "/api/v1/intel/indicators?value=login-evil.example",
            &app.admin,
        )
        .await;
    // One stored indicator per attribute, under a stable id.
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert!(
        list["items"][0]["stix_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("indicator--")),
        "{list}"
    );
    assert_eq!(list["items"][0]["object"]["type"], "indicator", "{list}");
    let (_, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=circl&format=misp",
            Some(&app.admin),
            Some(("application/json", misp.to_string().into_bytes())),
        )
        .await;
    assert_eq!(v["stored"]["unchanged"], 1, "{v}");

    let csv = "value,type,confidence\n203.0.113.5,ipv4,90\nbad value here,domain,10\n";
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=csv-feed",
            Some(&app.analyst),
            Some(("text/csv", csv.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["format"], "csv");
    assert_eq!(v["stored"]["inserted"], 1, "{v}");
    assert_eq!(v["problems_total"], 1, "{v}");
    // Again: nothing changes.
    let (_, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=csv-feed",
            Some(&app.analyst),
            Some(("text/csv", csv.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(v["stored"]["unchanged"], 1, "{v}");
    let (s, sources) = app.get("/api/v1/intel/sources", &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sources["items"].as_array().map(Vec::len), Some(2));
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=x&confidence=200",
            Some(&app.analyst),
            Some(("text/plain", b"evil.example\n".to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sightings_are_listed_within_the_callers_scope() {
    let app = TestApp::new().await;
    let (_, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=list",
            Some(&app.admin),
            Some(("text/plain", b"203.0.113.77\n".to_vec())),
        )
        .await;
    assert_eq!(v["stored"]["inserted"], 1, "{v}");
    let ind = app
        .store
        .list_indicators(&vigil_store::IndicatorQuery {
            value: Some("203.0.113.77".into()),
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .id;
    for org in [app.a.id, app.b.id, app.b.id] {
        app.store
            .record_sightings(
                Scope::All,
                vec![vigil_store::NewSighting {
                    indicator_id: ind,
                    org_id: org,
                    event_id: Some(1),
                    alert_id: None,
                    seen_at: vigil_model::Timestamp::now(),
                    count: 1,
                }],
            )
            .await
            .expect("sighting");
    }
    let path = format!("/api/v1/intel/sightings?indicator_id={ind}");
    let (_, all) = app.get(&path, &app.analyst).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    let (_, own) = app.get(&path, &app.officer).await;
    let own = own["items"].as_array().expect("items").clone();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["org_id"], app.a.id.to_string());
    let (_, page) = app.get(&format!("{path}&limit=2"), &app.auditor).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert!(page["next_cursor"].is_string());
}

/// `GET /api/v1/intel/export` pages with `limit` and `cursor` (the `X-Next-Cursor` of the
/// previous page): every indicator and every sighting the caller may see comes exactly once,
/// each page a valid bundle with the producer identity and at most `limit` other objects.
#[tokio::test]
async fn export_pages_visit_every_object_once() {
    let app = TestApp::new().await;
    let list: String = (0..7).map(|i| format!("198.51.100.{i}\n")).collect();
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=export-paging",
            Some(&app.admin),
            Some(("text/plain", list.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let inds = app
        .store
        .list_indicators(&vigil_store::IndicatorQuery::default())
        .await
        .expect("list")
        .items;
    assert_eq!(inds.len(), 7);
    let t0 = vigil_model::Timestamp::now();
    for (n, org) in [app.a.id, app.b.id, app.a.id, app.b.id, app.a.id]
        .iter()
        .enumerate()
    {
        app.store
            .record_sightings(
                Scope::All,
                vec![vigil_store::NewSighting {
                    indicator_id: inds[n].id,
                    org_id: *org,
                    event_id: Some(n as i64),
                    alert_id: None,
                    seen_at: t0
                        .checked_sub(jiff::SignedDuration::from_secs(n as i64))
                        .expect("time"),
                    count: 1,
                }],
            )
            .await
            .expect("sighting");
    }
    let export_all = |secret: String, limit: usize| {
        let app = &app;
        async move {
            let mut seen: Vec<(String, String)> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages < 50, "paging did not end");
                let path = match &cursor {
                    Some(c) => format!("/api/v1/intel/export?limit={limit}&cursor={c}"),
                    None => format!("/api/v1/intel/export?limit={limit}"),
                };
                let req = axum::http::Request::get(&path)
                    .header("authorization", format!("Bearer {secret}"))
                    .body(axum::body::Body::empty())
                    .expect("request");
                let (s, bundle, h) = app.send(req).await;
                assert_eq!(s, StatusCode::OK, "{bundle}");
                assert_eq!(bundle["type"], "bundle");
                let objs = bundle["objects"].as_array().expect("objects");
                assert_eq!(objs[0]["type"], "identity", "every page names its producer");
                assert!(objs.len() - 1 <= limit, "{} objects on a page", objs.len());
                seen.extend(objs[1..].iter().map(|o| {
                    (
                        o["type"].as_str().unwrap_or("").to_string(),
                        o["id"].as_str().unwrap_or("").to_string(),
                    )
                }));
                match h.get("x-next-cursor").and_then(|v| v.to_str().ok()) {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return (seen, pages),
                }
            }
        }
    };
    for limit in [1, 3, 5, 12, 1000] {
        let (seen, pages) = export_all(app.analyst.clone(), limit).await;
        let mut ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids.len(), 12, "limit {limit}: {seen:?}");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12, "each object once (limit {limit})");
        let kinds: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "indicator").count(), 7);
        assert!(
            kinds
                .windows(2)
                .all(|w| !(w[0] == "sighting" && w[1] == "indicator")),
            "indicators first: {kinds:?}"
        );
        assert!(
            pages <= 12usize.div_ceil(limit) + 1,
            "limit {limit}: {pages} pages"
        );
    }
    // An organization user pages through its own sightings only.
    let (seen, _) = export_all(app.officer.clone(), 2).await;
    assert_eq!(seen.iter().filter(|(t, _)| t == "sighting").count(), 3);
    // A cursor the server did not issue.
    for bad in ["nope", "x.abc", "i.not%20base64"] {
        let (s, v) = app
            .get(&format!("/api/v1/intel/export?cursor={bad}"), &app.analyst)
            .await;
        assert!(s.is_client_error(), "{bad}: {s} {v}");
    }
}
