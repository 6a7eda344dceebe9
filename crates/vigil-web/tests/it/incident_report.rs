//! The regulatory incident report: initial, supplement and final reports along the workflow,
//! ransomware fields, kind validation, organization isolation.

use crate::harness::{TestApp, token};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_model::Role;

async fn report(app: &TestApp, id: &str, kind: &str, secret: &str) -> (StatusCode, Value) {
    app.get(
        &format!("/api/v1/incidents/{id}/report?kind={kind}"),
        secret,
    )
    .await
}

fn actions(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["action"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn reports_follow_the_workflow_from_notification_to_closing_summary() {
    let app = TestApp::new().await;
    let (s, inc) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.analyst,
            json!({
                "org_id": app.a.id, "title": "勒索软件感染 ransomware", "category": "MP",
                "subcategory": "MPRANS", "grade": "large", "occurred_at": "2026-11-21T08:00:00Z",
                "description": "phishing mail opened on the engineering workstation",
                "asset_ids": [app.a.asset], "alert_ids": [app.a.alert],
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_str().expect("id").to_string();
    let patch = |secret: String, body: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            let (s, v) = app
                .json("PATCH", &format!("/api/v1/incidents/{id}"), &secret, body)
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    };

    // Nothing to supplement before the first report, which is made at notification.
    let (s, v) = report(&app, &id, "supplement", &app.analyst).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "not_notified");
    patch(app.analyst.clone(), json!({"status": "triaged"})).await;
    patch(app.analyst.clone(), json!({"status": "notified"})).await;

    let (s, r) = report(&app, &id, "initial", &app.analyst).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["kind"], "initial");
    assert_eq!(r["unit"]["name"], "Org A Power");
    assert_eq!(r["unit"]["responsible"], "Zhang San");
    assert_eq!(r["unit"]["cii"], true);
    assert_eq!(r["unit"]["mlps_level"], 3);
    assert_eq!(r["place"]["code"], "330100");
    assert_eq!(r["affected_systems"][0]["name"], "Org A Power PLC");
    assert_eq!(r["affected_systems"][0]["importance"], "high");
    assert_eq!(r["affected_systems"][0]["addresses"][0], "10.1.2.3");
    assert_eq!(r["category"]["code"], "MP");
    assert_eq!(r["category"]["name_zh"], "恶意程序事件");
    assert_eq!(r["category"]["name_en"], "Malicious program");
    assert_eq!(r["subcategory"]["code"], "MPRANS");
    assert_eq!(r["subcategory"]["name_zh"], "勒索软件");
    assert_eq!(r["subcategory"]["name_en"], "Ransomware");
    assert_eq!(r["grade"]["code"], "large");
    assert_eq!(r["grade"]["level"], "III");
    assert_eq!(r["grade"]["name_zh"], "较大");
    assert_eq!(r["grade"]["must_report"], true);
    assert_eq!(r["times"]["occurred_at"], "2026-11-21T08:00:00Z");
    assert!(r["times"]["discovered_at"].is_string(), "{r}");
    assert!(r["times"]["notified_at"].is_string(), "{r}");
    assert_eq!(r["as_of"], r["times"]["notified_at"]);
    assert_eq!(r["status"]["code"], "notified");
    assert_eq!(r["measures"], json!([]));
    // No impact recorded for the incident: figures and ransom details are null, not invented.
    assert_eq!(r["impact"]["direct_loss_yuan"], Value::Null);
    assert_eq!(r["impact"]["recorded_by"], Value::Null);
    assert_eq!(r["impact"]["affected_systems"], 1);
    assert_eq!(
        r["ransom"],
        json!({"amount": null, "payment_method": null, "paid_on": null, "status": null,
               "currency": null, "wallet_address": null})
    );
    assert_eq!(
        r["preliminary_cause"],
        "phishing mail opened on the engineering workstation"
    );
    assert_eq!(r["tracing_leads"][0]["rule_id"], "rule-1");
    assert_eq!(r["support_requested"], Value::Null);
    assert_eq!(r["changes"], Value::Null);
    assert_eq!(r["closing"], Value::Null);

    // A closing summary only once the incident is closed.
    let (s, v) = report(&app, &id, "final", &app.analyst).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "not_closed");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("closed")),
        "{v}"
    );

    // The organization acknowledges, remediates and reports back.
    let officer = app.officer.clone();
    patch(
        officer.clone(),
        json!({"status": "acknowledged", "comment": "已签收"}),
    )
    .await;
    patch(officer.clone(), json!({"status": "remediating"})).await;
    patch(
        officer.clone(),
        json!({"comment": "infected host isolated"}),
    )
    .await;
    patch(
        officer.clone(),
        json!({"status": "remediated", "comment": "restored from backup"}),
    )
    .await;

    let (s, r) = report(&app, &id, "supplement", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["kind"], "supplement");
    assert_eq!(
        actions(&r["changes"]),
        [
            "status:acknowledged",
            "comment",
            "status:remediating",
            "comment",
            "status:remediated",
            "comment"
        ]
    );
    let notes: Vec<&str> = r["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["note"].as_str())
        .collect();
    assert!(notes.contains(&"infected host isolated"), "{notes:?}");
    assert_eq!(r["status"]["code"], "remediated");
    assert_eq!(
        actions(&r["measures"]),
        [
            "comment",
            "status:remediating",
            "comment",
            "status:remediated",
            "comment"
        ]
    );
    // The initial report still speaks as of the notification.
    let (_, first) = report(&app, &id, "initial", &app.analyst).await;
    assert_eq!(first["measures"], json!([]));
    assert_eq!(first["status"]["code"], "notified");

    patch(app.analyst.clone(), json!({"status": "verified"})).await;
    patch(
        app.analyst.clone(),
        json!({"status": "closed", "grade": "major"}),
    )
    .await;
    let (s, r) = report(&app, &id, "final", &app.analyst).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["kind"], "final");
    assert_eq!(r["grade"]["code"], "major");
    assert!(r["times"]["closed_at"].is_string(), "{r}");
    assert!(r["closing"]["closed_at"].is_string(), "{r}");
    assert!(r["closing"]["hours_to_close"].is_number(), "{r}");
    let rect = actions(&r["closing"]["rectification"]);
    assert!(rect.contains(&"status:remediated".to_string()), "{rect:?}");
    assert!(rect.contains(&"status:closed".to_string()), "{rect:?}");
    assert_eq!(r["further_measures"], json!([]));
    // The initial report keeps the grade it was made with.
    let (_, first) = report(&app, &id, "initial", &app.analyst).await;
    assert_eq!(first["grade"]["code"], "large");
}

#[tokio::test]
async fn reports_are_scoped_validated_and_ransom_only_for_ransomware() {
    let app = TestApp::new().await;
    let a = app.a.incident.to_string();
    let b = app.b.incident.to_string();
    // The fixture incident is credential abuse (NACRED), notified.
    let (s, r) = report(&app, &a, "initial", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["subcategory"]["code"], "NACRED");
    assert_eq!(r["ransom"], Value::Null);
    // No kind is an initial report.
    let (s, r) = app
        .get(&format!("/api/v1/incidents/{a}/report"), &app.officer)
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["kind"], "initial");
    // Another organization's incident does not exist for an organization user.
    let (s, v) = report(&app, &b, "initial", &app.officer).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains(&app.b.name), "{v}");
    let b_user = token(app.store.as_ref(), Role::OrgUser, Some(app.b.id)).await;
    let (s, _) = report(&app, &a, "supplement", &b_user).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = report(&app, &b, "supplement", &b_user).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["unit"]["name"], app.b.name);
    // An unknown kind names the parameter.
    let (s, v) = report(&app, &a, "weekly", &app.analyst).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"]["field"], "kind");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("kind:")),
        "{v}"
    );
}
