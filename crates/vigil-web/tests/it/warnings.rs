//! Early warnings through the API: targets computed from asset inventories, isolation between
//! organizations, idempotent acknowledgement, audit, and the signed bulletin.

use crate::harness::{TestApp, asset_spec, org_spec};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_model::{NewWarning, OrgId, Scope, WarningId, WarningLevel, WarningTargets};

/// A warning addressed to `org` only, stored directly (for the access matrix).
pub async fn seed_warning(app: &TestApp, org: OrgId) -> WarningId {
    app.store
        .create_warning(
            NewWarning {
                title: "Seeded warning".into(),
                summary: "Seeded for the access matrix.".into(),
                level: WarningLevel::Yellow,
                cves: vec![],
                indicators: vec![],
                affected_products: None,
                measures: None,
                response_deadline: None,
                targets: WarningTargets {
                    org_ids: vec![org],
                    ..WarningTargets::default()
                },
            },
            "user:test",
        )
        .await
        .expect("seed warning")
        .id
}

/// The body of a warning issued through the API.
pub fn warning_body(targets: Value) -> Value {
    json!({
        "title": "Siemens S7-1200 remote code execution (CVE-2024-38876)",
        "summary": "Exploitation of exposed S7-1200 PLCs has been observed.",
        "level": "orange",
        "cves": ["CVE-2024-38876"],
        "indicators": ["198.51.100.23"],
        "affected_products": "SIMATIC S7-1200, firmware before V4.7",
        "measures": "Block TCP 102 at the perimeter; update the firmware.",
        "response_deadline": "2026-12-01T00:00:00Z",
        "targets": targets,
    })
}

/// Three organizations besides the fixtures: two with a Siemens S7-1200 PLC, one with a
/// Schneider PLC. (The fixtures' PLCs are Siemens without a model, so they do not match.)
async fn plc_owners(app: &TestApp) -> (OrgId, OrgId, OrgId) {
    let mut ids = Vec::new();
    for (name, vendor, model) in [
        ("Hangzhou Water", "Siemens", "S7-1200 CPU 1214C"),
        ("Ningbo Grid", "SIEMENS", "S7-1200"),
        ("Shaoxing Gas", "Schneider Electric", "Modicon M340"),
    ] {
        let org = app.store.create_org(org_spec(name)).await.expect("org");
        let mut asset = asset_spec(org.id, &format!("{name} PLC"));
        asset.vendor = Some(vendor.into());
        asset.model = Some(model.into());
        app.store
            .create_assets(Scope::All, vec![asset])
            .await
            .expect("asset");
        ids.push(org.id);
    }
    (ids[0], ids[1], ids[2])
}

fn org_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["recipient_status"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["org_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn issuing_by_asset_inventory_reaches_exactly_the_owners() {
    let app = TestApp::new().await;
    let (water, grid, gas) = plc_owners(&app).await;
    let body = warning_body(json!({
        "assets": [{ "vendor": "Siemens", "product": "S7-1200" }],
    }));
    let (status, w) = app
        .json("POST", "/api/v1/warnings", &app.analyst, body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    assert_eq!(w["recipients"], 2, "{w}");
    assert_eq!(w["acknowledged"], 0);
    assert_eq!(w["level"], "orange");
    assert_eq!(w["issued_by"], "token:analyst-token");
    let id = w["id"].as_str().expect("id").to_string();

    let (status, detail) = app.get(&format!("/api/v1/warnings/{id}"), &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let mut expected = vec![water.to_string(), grid.to_string()];
    expected.sort();
    assert_eq!(org_ids(&detail), expected);
    assert!(!org_ids(&detail).contains(&gas.to_string()));
    assert!(
        detail["recipient_status"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["delivered_at"].is_string() && r["acknowledged_at"].is_null())
    );

    // Issuing is audited with the recipient count.
    let (status, audit) = app
        .get("/api/v1/audit?action=warning.issue", &app.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let records = audit["items"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        records
            .iter()
            .any(|r| r["object"] == format!("warning/{id}")
                && r["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("2 organizations"))),
        "{audit}"
    );

    // The list shows the progress; the level filter applies.
    let (status, list) = app.get("/api/v1/warnings?level=orange", &app.analyst).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, none) = app.get("/api/v1/warnings?level=red", &app.analyst).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
}

#[tokio::test]
async fn bad_warnings_are_refused_with_the_field() {
    let app = TestApp::new().await;
    for (targets, field) in [
        (json!({}), "targets"),
        (
            json!({ "region_prefixes": ["9"] }),
            "targets.region_prefixes[0]",
        ),
        (json!({ "assets": [{}] }), "targets.assets[0]"),
        (
            json!({ "assets": [{ "vendor": "Nobody GmbH" }] }),
            "targets",
        ),
    ] {
        let (status, v) = app
            .json(
                "POST",
                "/api/v1/warnings",
                &app.admin,
                warning_body(targets),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["code"], "invalid");
        assert_eq!(v["details"]["field"], field, "{v}");
    }
    let (status, v) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.admin,
            warning_body(json!({ "org_ids": [OrgId::new()] })),
        )
        .await;
    assert!(status.is_client_error(), "{status} {v}");
    let (status, v) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.admin,
            json!({ "title": "x" }),
        )
        .await;
    assert!(status.is_client_error(), "{v}");
    assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
    // Organization users and auditors do not issue.
    for secret in [&app.officer, &app.auditor] {
        let (status, _) = app
            .json(
                "POST",
                "/api/v1/warnings",
                secret,
                warning_body(json!({ "all": true })),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn organizations_see_only_warnings_addressed_to_them_and_acknowledge_once() {
    let app = TestApp::new().await;
    // One warning for B only, one for A and B.
    let (_, only_b) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.admin,
            warning_body(json!({ "org_ids": [app.b.id] })),
        )
        .await;
    let only_b = only_b["id"].as_str().expect("id").to_string();
    let (_, both) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.admin,
            warning_body(json!({ "org_ids": [app.a.id, app.b.id] })),
        )
        .await;
    let both = both["id"].as_str().expect("id").to_string();

    // A's officer: B's warning is a 404 on every route, like a missing one.
    for path in ["", "/pending", "/signed"] {
        let (status, v) = app
            .get(&format!("/api/v1/warnings/{only_b}{path}"), &app.officer)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(!v.to_string().contains(&app.b.id.to_string()));
    }
    let (status, v) = app
        .json(
            "POST",
            &format!("/api/v1/warnings/{only_b}/ack"),
            &app.officer,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    // Acknowledging for B on a warning A also got: refused like a missing one.
    let (status, _) = app
        .json(
            "POST",
            &format!("/api/v1/warnings/{both}/ack"),
            &app.officer,
            json!({ "org_id": app.b.id }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The list holds only the shared warning, with A's own progress.
    let (_, list) = app.get("/api/v1/warnings", &app.officer).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], both.as_str());
    assert_eq!(items[0]["recipients"], 1);
    assert!(!list.to_string().contains(&app.b.id.to_string()), "{list}");
    let (_, detail) = app
        .get(&format!("/api/v1/warnings/{both}"), &app.officer)
        .await;
    assert_eq!(org_ids(&detail), vec![app.a.id.to_string()]);
    assert!(
        !detail.to_string().contains(&app.b.id.to_string()),
        "{detail}"
    );

    // Acknowledge, then again: the first time and response stay.
    let ack = |body: Value| {
        let path = format!("/api/v1/warnings/{both}/ack");
        let app = &app;
        async move { app.json("POST", &path, &app.officer, body).await }
    };
    let (status, first) = ack(json!({ "response": "PLCs isolated" })).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["newly"], true);
    assert_eq!(first["recipient"]["org_id"], app.a.id.to_string());
    assert_eq!(first["recipient"]["response"], "PLCs isolated");
    let (status, second) = ack(json!({ "response": "again" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["newly"], false);
    assert_eq!(
        second["recipient"]["acknowledged_at"],
        first["recipient"]["acknowledged_at"]
    );
    assert_eq!(second["recipient"]["response"], "PLCs isolated");
    // One audit record for the two calls.
    let (_, audit) = app
        .get("/api/v1/audit?action=warning.acknowledge", &app.admin)
        .await;
    let records = audit["items"]
        .as_array()
        .or(audit.as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        records
            .iter()
            .filter(|r| r["object"] == format!("warning/{both}"))
            .count(),
        1,
        "{audit}"
    );

    // Staff: both rows, B pending; acknowledging for B needs a note.
    let (_, pending) = app
        .get(&format!("/api/v1/warnings/{both}/pending"), &app.analyst)
        .await;
    let rows = pending["items"].as_array().expect("items");
    assert_eq!(rows.len(), 1, "{pending}");
    assert_eq!(rows[0]["org_id"], app.b.id.to_string());
    let path = format!("/api/v1/warnings/{both}/ack");
    let (status, v) = app
        .json("POST", &path, &app.analyst, json!({ "org_id": app.b.id }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"]["field"], "response");
    let (status, v) = app
        .json(
            "POST",
            &path,
            &app.analyst,
            json!({ "org_id": app.b.id, "response": "confirmed by phone" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["recipient"]["acknowledged_by"], "token:analyst-token");
    let (_, pending) = app
        .get(&format!("/api/v1/warnings/{both}/pending"), &app.analyst)
        .await;
    assert_eq!(pending["items"].as_array().map(Vec::len), Some(0));
    let (_, list) = app
        .get("/api/v1/warnings?unacknowledged=true", &app.analyst)
        .await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(ids, vec![only_b.as_str()]);
    // The auditor reads but does not acknowledge.
    let (status, _) = app
        .get(&format!("/api/v1/warnings/{both}"), &app.auditor)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .json(
            "POST",
            &path,
            &app.auditor,
            json!({ "org_id": app.b.id, "response": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The signed bulletin opens with the platform key through the function `vigil
/// verify-notice` uses, and a tampered one does not.
#[tokio::test]
async fn signed_bulletins_verify_and_tampering_is_detected() {
    let app = TestApp::new().await;
    let (_, w) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.admin,
            warning_body(json!({ "org_ids": [app.a.id, app.b.id] })),
        )
        .await;
    let id = w["id"].as_str().expect("id").to_string();
    let (status, key) = app.get("/api/v1/notice-key", &app.officer).await;
    assert_eq!(status, StatusCode::OK);
    let trusted = vigil_crypto::Sm2PublicKey::parse(key["public_key_pem"].as_str().expect("pem"))
        .expect("public key");

    let (status, env) = app
        .get(&format!("/api/v1/warnings/{id}/signed"), &app.officer)
        .await;
    assert_eq!(status, StatusCode::OK, "{env}");
    let envelope: vigil_crypto::Envelope =
        serde_json::from_value(env.clone()).expect("an envelope");
    let payload = vigil_crypto::open_envelope(&envelope, &trusted).expect("verifies");
    let doc: Value = serde_json::from_str(payload).expect("json payload");
    assert_eq!(doc["type"], "vigil.early_warning");
    assert_eq!(doc["warning"]["id"], id.as_str());
    assert_eq!(doc["warning"]["level_name_zh"], "橙色预警");
    assert_eq!(doc["warning"]["cves"][0], "CVE-2024-38876");
    // Addressed to the officer's organization, naming no other.
    assert_eq!(doc["recipient"]["organization_id"], app.a.id.to_string());
    assert!(!payload.contains(&app.b.id.to_string()));

    // Altered text, or a signature by another key: refused.
    let mut altered = envelope.clone();
    altered.payload = altered.payload.replace("orange", "blue");
    assert_ne!(altered.payload, envelope.payload);
    assert!(matches!(
        vigil_crypto::open_envelope(&altered, &trusted),
        Err(vigil_crypto::EnvelopeError::BadSignature)
    ));
    let other = vigil_crypto::Sm2PrivateKey::generate().expect("key");
    assert!(vigil_crypto::open_envelope(&envelope, &other.public_key()).is_err());

    // Staff may address the bulletin to a recipient, not to a stranger.
    let (status, env) = app
        .get(
            &format!("/api/v1/warnings/{id}/signed?org_id={}", app.b.id),
            &app.analyst,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let envelope: vigil_crypto::Envelope = serde_json::from_value(env).expect("envelope");
    let doc: Value =
        serde_json::from_str(vigil_crypto::open_envelope(&envelope, &trusted).expect("verifies"))
            .expect("json");
    assert_eq!(doc["recipient"]["organization_id"], app.b.id.to_string());
    let (status, _) = app
        .get(
            &format!("/api/v1/warnings/{id}/signed?org_id={}", OrgId::new()),
            &app.analyst,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
