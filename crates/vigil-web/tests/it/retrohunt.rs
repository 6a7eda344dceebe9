//! Retro-hunt from the import API: the answer says it is scheduled, and an event stored
//! before the import becomes an indicator alert in the background.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::Value;
use vigil_model::{AlertSource, NewEvent, Provenance, Scope, Timestamp};
use vigil_pipeline::retrohunt::{RetroHuntConfig, RetroHunter};
use vigil_store::AlertQuery;

async fn import(app: &TestApp, body: &Value) -> Value {
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=peer-cert",
            Some(&app.analyst),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_schedule_a_retro_hunt_that_alerts_on_stored_events() {
    let app = TestApp::new().await;
    let at = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(30))
        .expect("time");
    let ids = app
        .store
        .append_events(vec![NewEvent {
            org_id: app.a.id,
            asset_id: None,
            timestamp: at,
            received_at: at,
            provenance: Provenance {
                input: "test".into(),
                sender: None,
            },
            fields: serde_json::from_value(serde_json::json!({
                "destination.ip": "198.51.100.1",
                "event.action": "connection",
            }))
            .expect("fields"),
            native: Default::default(),
            raw: b"conn".to_vec(),
        }])
        .await
        .expect("event");

    // Without a retro-hunter (as in a node with retro_hunt_days = 0) the answer says so.
    let v = import(&app, &crate::intel::bundle("2026-01-02T00:00:00.000Z", 70)).await;
    assert_eq!(v["retro_hunt"], "retro-hunt off", "{v}");

    app.state.set_retro_hunter(RetroHunter::spawn(
        app.store.clone(),
        RetroHuntConfig::default(),
        None,
    ));
    // Unchanged indicators: nothing to hunt.
    let v = import(&app, &crate::intel::bundle("2026-01-02T00:00:00.000Z", 70)).await;
    assert_eq!(v["retro_hunt"], "nothing new to hunt", "{v}");
    // A newer version is hunted: the answer comes at once, the alert follows.
    let v = import(&app, &crate::intel::bundle("2026-02-01T00:00:00.000Z", 90)).await;
    assert_eq!(v["retro_hunt"], "retro-hunt scheduled", "{v}");
    let mut alerts = Vec::new();
    for _ in 0..100 {
        alerts = app
            .store
            .list_alerts(
                Scope::Org(app.a.id),
                &AlertQuery {
                    source: Some(AlertSource::Ioc),
                    limit: 10,
                    ..AlertQuery::default()
                },
            )
            .await
            .expect("alerts")
            .items;
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(alerts.len(), 1, "one retro-hunt alert");
    assert_eq!(alerts[0].spec.event_ids, ids);
    assert_eq!(alerts[0].spec.rule_id, "ipv4 198.51.100.1");
    assert_eq!(alerts[0].spec.severity, vigil_model::Severity::High);
}
