//! Generates a small demo data set into a SQLite store in a temporary directory and checks
//! what the store then reports.

use std::collections::BTreeSet;
use std::time::Instant;
use vigil_demo::{DemoOptions, generate, plan};
use vigil_model::{AlertStatus, IncidentStatus, Scope, Timestamp};
use vigil_store::{
    AlertQuery, AssetQuery, EventQuery, FieldFilter, IncidentQuery, OrgQuery, SqliteStore, Store,
};

fn small(now: Timestamp) -> DemoOptions {
    DemoOptions {
        seed: 42,
        orgs: 5,
        assets_min: 200,
        events: 5_000,
        days: 30,
        now,
    }
}

async fn count_alerts(store: &SqliteStore, q: AlertQuery) -> usize {
    let mut n = 0;
    let mut q = AlertQuery { limit: 1_000, ..q };
    loop {
        let page = store.list_alerts(Scope::All, &q).await.expect("alerts");
        n += page.items.len();
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_fills_a_sqlite_store() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path()).expect("open store");
    let now = Timestamp::now();
    let opts = small(now);
    let expected = plan(&opts);

    let started = Instant::now();
    let summary = generate(&store, &opts).await.expect("generate");
    println!("generated {summary:?} in {:?}", started.elapsed());

    assert_eq!(summary.orgs, 5);
    assert_eq!(summary.assets, expected.assets.len());
    assert!(summary.assets >= 200);
    assert_eq!(summary.events, expected.events.len());
    assert!(summary.events >= 5_000);
    assert_eq!(summary.alerts, expected.alerts.len());
    assert_eq!(summary.incidents, expected.incidents.len());
    assert!(summary.incidents >= 3, "{summary:?}");

    // Overview counts.
    let since = now - jiff::SignedDuration::from_hours(24 * 31);
    let ov = store.overview(Scope::All, since).await.expect("overview");
    assert_eq!(ov.organizations, 5);
    assert_eq!(ov.assets as usize, summary.assets);
    assert_eq!(ov.events as usize, summary.events);
    let per_day: u64 = ov.alerts_per_day.iter().map(|(_, n)| n).sum();
    assert_eq!(per_day as usize, summary.alerts);
    let open_planned = expected
        .incidents
        .iter()
        .filter(|i| {
            i.steps.iter().filter_map(|s| s.status).next_back() != Some(IncidentStatus::Closed)
        })
        .count();
    assert_eq!(ov.open_incidents as usize, open_planned);
    assert!(!ov.top_orgs_open_incidents.is_empty() || open_planned == 0);

    // Lists.
    let orgs = store
        .list_orgs(Scope::All, &OrgQuery::default())
        .await
        .expect("orgs");
    assert_eq!(orgs.len(), 5);
    let plcs = store
        .list_assets(
            Scope::All,
            &AssetQuery {
                industrial: Some(true),
                limit: 1_000,
                ..AssetQuery::default()
            },
        )
        .await
        .expect("assets");
    assert!(!plcs.items.is_empty(), "industrial assets");

    let incidents = store
        .list_incidents(
            Scope::All,
            &IncidentQuery {
                limit: 1_000,
                ..IncidentQuery::default()
            },
        )
        .await
        .expect("incidents");
    assert_eq!(incidents.items.len(), summary.incidents);
    let statuses: BTreeSet<&str> = incidents.items.iter().map(|i| i.status.as_str()).collect();
    assert!(statuses.len() >= 2, "{statuses:?}");
    for i in &incidents.items {
        assert!(
            i.timeline.iter().any(|t| t.actor.starts_with("user:")),
            "{}",
            i.spec.title
        );
    }

    // The planned impacts are recorded, each with its timeline entry.
    let planned_impacts = expected
        .incidents
        .iter()
        .filter(|i| i.impact.is_some())
        .count();
    let mut recorded = 0;
    for i in &incidents.items {
        if let Some(r) = store
            .get_incident_impact(Scope::All, i.id)
            .await
            .expect("impact")
        {
            recorded += 1;
            assert!(
                i.timeline.iter().any(|t| t.action == "impact"),
                "{}",
                i.spec.title
            );
            if i.spec.subcategory.as_deref() == Some("MPRANS") {
                assert!(r.impact.ransom.is_some(), "{}", i.spec.title);
            }
        }
    }
    assert!(
        planned_impacts > 0,
        "the demo has ransomware or defacement incidents"
    );
    assert_eq!(recorded, planned_impacts);

    // Alerts escalated by incidents, and triaged ones.
    let planned_escalated: usize = expected
        .incidents
        .iter()
        .map(|i| i.incident.alert_ids.len())
        .sum();
    let escalated = count_alerts(
        &store,
        AlertQuery {
            status: Some(AlertStatus::Escalated),
            ..AlertQuery::default()
        },
    )
    .await;
    assert_eq!(escalated, planned_escalated);
    let all = count_alerts(&store, AlertQuery::default()).await;
    assert_eq!(all, summary.alerts);

    // An alert's evidence is stored and belongs to the same organization.
    let page = store
        .list_alerts(
            Scope::All,
            &AlertQuery {
                limit: 50,
                ..AlertQuery::default()
            },
        )
        .await
        .expect("alerts");
    let alert = page
        .items
        .iter()
        .find(|a| !a.spec.event_ids.is_empty())
        .expect("an alert with events");
    for &id in alert.spec.event_ids.iter().take(20) {
        let e = store
            .get_event(Scope::All, id)
            .await
            .expect("get event")
            .expect("event exists");
        assert_eq!(e.event.org_id, alert.spec.org_id);
    }

    // Events are searchable by their ECS fields.
    let found = store
        .search_events(
            Scope::All,
            &EventQuery {
                filters: vec![FieldFilter {
                    field: "event.outcome".into(),
                    value: "failure".into(),
                }],
                limit: 100,
                ..EventQuery::default()
            },
        )
        .await
        .expect("search");
    assert!(!found.items.is_empty());
    assert!(found.items.iter().all(|e| e.event.timestamp < now));
}

#[tokio::test]
async fn the_live_feed_keeps_events_and_alerts_arriving() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path()).expect("open store");
    let opts = DemoOptions {
        orgs: 3,
        assets_min: 40,
        events: 2_000,
        ..DemoOptions::default()
    };
    generate(&store, &opts).await.expect("generate");
    let mut feed = vigil_demo::live::LiveFeed::load(&store, 7)
        .await
        .expect("load");
    let now = vigil_model::Timestamp::now();
    let batch = feed.events(now, 25);
    assert_eq!(batch.len(), 25);
    assert!(
        batch
            .iter()
            .all(|e| e.timestamp == now && e.provenance.input == "demo-live")
    );
    let orgs: Vec<_> = batch.iter().map(|e| e.org_id).collect();
    let ids = store.append_events(batch).await.expect("append");
    let evidence: Vec<_> = orgs.into_iter().zip(ids).collect();
    let alert = feed.alert(now, &evidence).expect("an alert template");
    assert_eq!(alert.detected_at, now);
    let same_org: Vec<i64> = evidence
        .iter()
        .filter(|(o, _)| *o == alert.org_id)
        .map(|(_, id)| *id)
        .collect();
    assert!(alert.event_ids.iter().all(|id| same_org.contains(id)));
    assert_eq!(alert.event_ids.len(), same_org.len().min(5));
    store
        .create_alerts(vec![alert])
        .await
        .expect("alert stored");
}
