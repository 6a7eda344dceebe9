//! `GET /incidents?overdue=true|false`: open incidents with a deadline passed and unmet,
//! computed from the deadlines, paged with cursors, scoped per organization.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::Value;
use vigil_model::Timestamp;

/// Registers the incident as 较大 two hours ago, directly in the database (the store stamps
/// the creation time itself): a CII organization's report was due after one hour.
fn backdate(app: &TestApp, id: vigil_model::IncidentId) {
    let at = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .expect("time");
    let conn = rusqlite::Connection::open(app._dir.path().join("vigil.db")).expect("db");
    let n = conn
        .execute(
            "UPDATE incidents SET created_at = ?1, grade = 'large' WHERE id = ?2",
            rusqlite::params![at.as_microsecond(), id.to_string()],
        )
        .expect("backdate");
    assert_eq!(n, 1);
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn overdue_incidents_are_listed_paged_and_scoped() {
    let app = TestApp::new().await;
    // Fresh incidents are not overdue.
    let (s, v) = app
        .get("/api/v1/incidents?overdue=true", &app.analyst)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), Vec::<String>::new());
    let (_, v) = app
        .get("/api/v1/incidents?overdue=false", &app.analyst)
        .await;
    assert_eq!(ids(&v).len(), 2, "{v}");

    backdate(&app, app.a.incident);
    backdate(&app, app.b.incident);
    let (s, v) = app
        .get("/api/v1/incidents?overdue=true", &app.analyst)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v).len(), 2, "{v}");
    assert_eq!(v["items"][0]["overdue"][0]["kind"], "report", "{v}");
    assert!(
        v["items"][0]["overdue"][0]["minutes_over"].as_i64() >= Some(59),
        "{v}"
    );
    assert!(
        v["items"][0]["title"].is_string(),
        "the incident itself: {v}"
    );

    // One per page, following the cursor, each once.
    let (_, p1) = app
        .get("/api/v1/incidents?overdue=true&limit=1", &app.analyst)
        .await;
    let cursor = p1["next_cursor"].as_str().expect("a cursor").to_string();
    let (_, p2) = app
        .get(
            &format!("/api/v1/incidents?overdue=true&limit=1&cursor={cursor}"),
            &app.analyst,
        )
        .await;
    let mut seen = ids(&p1);
    seen.extend(ids(&p2));
    seen.sort();
    let mut both = vec![app.a.incident.to_string(), app.b.incident.to_string()];
    both.sort();
    assert_eq!(seen, both);
    assert!(p2["next_cursor"].is_null(), "{p2}");

    // The organization sees its own only; closed ones are never overdue; bad values refused.
    let (_, own) = app
        .get("/api/v1/incidents?overdue=true", &app.officer)
        .await;
    assert_eq!(ids(&own), [app.a.incident.to_string()]);
    let (_, closed) = app
        .get("/api/v1/incidents?overdue=true&open=false", &app.analyst)
        .await;
    assert_eq!(ids(&closed), Vec::<String>::new());
    let (s, _) = app
        .get("/api/v1/incidents?overdue=maybe", &app.analyst)
        .await;
    assert!(s.is_client_error(), "{s}");

    // Filing the initial report is the report the deadline asked for: late, but met.
    let (s, v) = app
        .json(
            "POST",
            &format!("/api/v1/incidents/{}/reports", app.a.incident),
            &app.analyst,
            serde_json::json!({ "kind": "initial" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = app
        .get("/api/v1/incidents?overdue=true", &app.analyst)
        .await;
    assert_eq!(ids(&v), [app.b.incident.to_string()]);
    let (_, d) = app
        .get(
            &format!("/api/v1/incidents/{}/deadlines", app.a.incident),
            &app.analyst,
        )
        .await;
    let report = d["items"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["kind"] == "report").cloned())
        .expect("report deadline");
    assert_eq!(report["status"], "met_late", "{d}");
}
