//! Alerts posted to the API aggregate into classified, graded incidents; analysts reclassify.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use vigil_aggregator::{Aggregator, AggregatorConfig};
use vigil_web::{AppState, WebConfig};

/// The harness's application with an aggregator installed, as `vigil serve` does.
async fn app() -> TestApp {
    let mut t = TestApp::new().await;
    let state = AppState::new(t.store.clone(), WebConfig::default(), None);
    let config = AggregatorConfig::defaults().expect("defaults");
    state.set_aggregator(Arc::new(
        Aggregator::new(t.store.clone(), config).expect("aggregator"),
    ));
    t.app = vigil_web::router(state);
    t
}

fn alert(t: &TestApp, severity: &str, at: &str) -> Value {
    json!({
        "org_id": t.a.id, "asset_id": t.a.asset, "source": "sigma",
        "rule_id": "ransom-note-written", "title": "Ransom note written",
        "severity": severity, "detected_at": at,
        "details": {"tags": ["attack.impact", "attack.t1486"]},
    })
}

#[tokio::test]
async fn posted_alerts_become_one_classified_graded_incident() {
    let t = app().await;
    let mut ids = Vec::new();
    for at in ["2026-04-01T02:10:00Z", "2026-04-01T02:40:00Z"] {
        let (s, v) = t
            .json("POST", "/api/v1/alerts", &t.analyst, alert(&t, "high", at))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "escalated", "{v}");
        ids.push((v["id"].clone(), v["incident_id"].clone()));
    }
    assert_eq!(ids[0].1, ids[1].1, "both alerts on one incident");
    // Below the minimum severity (medium): stored, not aggregated.
    let (s, low) = t
        .json(
            "POST",
            "/api/v1/alerts",
            &t.analyst,
            alert(&t, "low", "2026-04-01T02:20:00Z"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{low}");
    assert_eq!(
        (low["status"].clone(), low["incident_id"].clone()),
        (json!("new"), Value::Null)
    );

    let (s, list) = t
        .get(
            &format!("/api/v1/incidents?org_id={}&category=MP", t.a.id),
            &t.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    let inc = &items[0];
    assert_eq!(inc["id"], ids[0].1);
    assert_eq!(inc["subcategory"], "MPRANS");
    assert_eq!(inc["grade"], "general");
    assert_eq!(inc["occurred_at"], "2026-04-01T02:10:00Z");
    assert_eq!(inc["alert_ids"], json!([ids[0].0, ids[1].0]));
    assert_eq!(inc["asset_ids"], json!([t.a.asset]));
    let description = inc["description"].as_str().expect("description");
    assert!(
        description.contains("MPRANS from attack.t1486"),
        "{description}"
    );
    let actions: Vec<&str> = inc["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["created", "alerts_attached"]);

    // Reclassification is the analyst's: validated against the taxonomy, and audited.
    let path = format!("/api/v1/incidents/{}", inc["id"].as_str().expect("id"));
    let (s, _) = t
        .json("PATCH", &path, &t.officer, json!({"category": "NA"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = t
        .json(
            "PATCH",
            &path,
            &t.analyst,
            json!({"category": "NA", "subcategory": "MPRANS"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = t
        .json(
            "PATCH",
            &path,
            &t.analyst,
            json!({"category": "NA", "subcategory": "NACRED", "grade": "large"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["category"].clone(), v["subcategory"].clone()),
        (json!("NA"), json!("NACRED"))
    );
    assert_eq!(v["grade"], "large");
    let tail: Vec<(&str, &str)> = v["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .rev()
        .take(2)
        .filter_map(|e| Some((e["action"].as_str()?, e["note"].as_str()?)))
        .collect();
    assert_eq!(
        tail,
        [
            ("edit", "category, subcategory"),
            ("grade:large", "general -> large")
        ]
    );
    let (s, audit) = t.get("/api/v1/audit?action=incident.", &t.auditor).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let text = audit.to_string();
    assert!(text.contains("system:aggregator"), "{text}");
}
