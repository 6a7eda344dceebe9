//! The organization's asset inventory through the API (issue 6, portal): an organization
//! user creates, edits (software inventory included) and deletes its own assets; another
//! organization's assets are 404 for every verb, and so is moving an asset there; lowering
//! the importance (a platform-owned grading input) is refused with 403 naming the field and
//! audited as denied; staff may do both; the auditor only reads. Every change is audited.

use crate::harness::{TestApp, asset_spec};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_model::{AuditOutcome, Importance, Scope, SoftwareComponent};
use vigil_store::AuditQuery;

fn sw(name: &str, version: &str) -> SoftwareComponent {
    SoftwareComponent {
        name: name.into(),
        version: Some(version.into()),
        purl: Some(format!("pkg:generic/{name}@{version}")),
        cpe: None,
    }
}

async fn audit(app: &TestApp, action: &str) -> Vec<vigil_model::AuditRecord> {
    app.store
        .list_audit(&AuditQuery {
            action_prefix: Some(action.into()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .expect("audit")
        .into_iter()
        .filter(|r| r.record.action == action)
        .collect()
}

#[tokio::test]
async fn an_organization_user_keeps_its_own_inventory_and_every_change_is_audited() {
    let app = TestApp::new().await;
    let mut spec = asset_spec(app.a.id, "Line 4 HMI");
    spec.importance = Importance::Medium;
    spec.vendor = Some("Siemens".into());
    spec.model = Some("TP1500".into());
    spec.firmware = Some("V17".into());
    spec.software = vec![sw("wincc", "7.5"), sw("openssl", "1.1.1k")];
    let (s, v) = app
        .json("POST", "/api/v1/assets", &app.officer, json!(spec))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["software"].as_array().map(Vec::len), Some(2));
    let created = audit(&app, "asset.create").await;
    assert!(
        created
            .iter()
            .any(|r| r.record.object == format!("asset/{id}")
                && r.record.actor.starts_with("token:")),
        "{created:?}"
    );

    // Edit: one software row removed, one added, firmware changed, importance raised.
    spec.software = vec![sw("wincc", "8.0"), sw("log4j-core", "2.17.1")];
    spec.firmware = Some("V18".into());
    spec.importance = Importance::High;
    let (s, v) = app
        .json(
            "PUT",
            &format!("/api/v1/assets/{id}"),
            &app.officer,
            json!(spec),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v["software"]
        .as_array()
        .expect("software")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["wincc", "log4j-core"]);
    assert_eq!(v["firmware"], "V18");
    assert_eq!(v["importance"], "high");
    assert_eq!(audit(&app, "asset.update").await.len(), 1);

    // Delete: gone, audited.
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/assets/{id}"),
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/api/v1/assets/{id}"), &app.officer).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(audit(&app, "asset.delete").await.len(), 1);
}

#[tokio::test]
async fn another_organizations_assets_are_absent_for_every_verb() {
    let app = TestApp::new().await;
    let other = app.b.asset;
    let before = app
        .store
        .get_asset(Scope::All, other)
        .await
        .expect("store")
        .expect("asset");
    let path = format!("/api/v1/assets/{other}");
    let (s, v) = app.get(&path, &app.officer).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // Whatever the body says (its own organization or the other one).
    for org in [app.a.id, app.b.id] {
        let (s, v) = app
            .json(
                "PUT",
                &path,
                &app.officer,
                json!(asset_spec(org, "Taken over")),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    }
    let (s, _) = app.call("DELETE", &path, Some(&app.officer), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Creating for the other organization looks like a missing organization.
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/assets",
            &app.officer,
            json!(asset_spec(app.b.id, "Planted")),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains(&app.b.name));
    let after = app
        .store
        .get_asset(Scope::All, other)
        .await
        .expect("store")
        .expect("asset still there");
    assert_eq!(after, before, "untouched");
}

#[tokio::test]
async fn platform_owned_fields_are_refused_with_the_field_named_and_audited() {
    let app = TestApp::new().await;
    let own = app.a.asset;
    let path = format!("/api/v1/assets/{own}");
    let (_, stored) = app.get(&path, &app.officer).await;
    assert_eq!(stored["importance"], "high", "the fixture's asset");
    let mut spec: vigil_model::NewAsset = serde_json::from_value(strip(&stored)).expect("spec");

    // Lowering the importance (an input of incident grading).
    spec.importance = Importance::Low;
    let (s, v) = app.json("PUT", &path, &app.officer, json!(spec)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "forbidden");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("importance:")),
        "{v}"
    );

    // Moving the asset to another organization: that organization looks absent.
    spec.importance = Importance::High;
    spec.org_id = app.b.id;
    let (s, v) = app.json("PUT", &path, &app.officer, json!(spec)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains(&app.b.name));

    // Registering a new asset below the default importance.
    let mut new = asset_spec(app.a.id, "Test website");
    new.importance = Importance::Low;
    let (s, v) = app
        .json("POST", "/api/v1/assets", &app.officer, json!(new))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    // Nothing changed; the refusals are in the audit log as denied.
    let (_, now) = app.get(&path, &app.officer).await;
    assert_eq!(now["importance"], "high");
    assert_eq!(now["org_id"], app.a.id.to_string());
    let denied: Vec<_> = audit(&app, "asset.update")
        .await
        .into_iter()
        .filter(|r| r.record.outcome == AuditOutcome::Denied)
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(
        denied
            .iter()
            .any(|r| r.record.detail.contains("importance"))
    );
    assert!(
        audit(&app, "asset.create")
            .await
            .iter()
            .any(|r| r.record.outcome == AuditOutcome::Denied)
    );

    // The import refuses such rows one by one.
    let csv = format!(
        "org_id,name,kind,ips,importance\n{a},Low HMI,hmi,10.0.0.8,low\n{a},Critical RTU,rtu,10.0.0.9,critical\n",
        a = app.a.id
    );
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/assets/import",
            Some(&app.officer),
            Some(("text/csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows"][0]["status"], "rejected", "{v}");
    assert!(
        v["rows"][0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("importance:")),
        "{v}"
    );
    assert_eq!(v["rows"][1]["status"], "created", "raising is allowed: {v}");

    // Staff grade: the analyst lowers the importance and may move the asset.
    let mut spec: vigil_model::NewAsset = serde_json::from_value(strip(&now)).expect("spec");
    spec.importance = Importance::Low;
    let (s, v) = app.json("PUT", &path, &app.analyst, json!(spec)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["importance"], "low");
}

#[tokio::test]
async fn the_auditor_reads_the_inventory_and_changes_nothing() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/assets/{}", app.a.asset);
    let (s, _) = app.get(&path, &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .json("PUT", &path, &app.auditor, json!(asset_spec(app.a.id, "x")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = app.call("DELETE", &path, Some(&app.auditor), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json(
            "POST",
            "/api/v1/assets",
            &app.auditor,
            json!(asset_spec(app.a.id, "y")),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A stored asset's JSON as the body of a PUT (without the stored-only fields).
fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["id", "created_at", "updated_at"] {
            o.remove(k);
        }
    }
    v
}
