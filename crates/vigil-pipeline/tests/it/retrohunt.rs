//! Retro-hunt: indicators imported after the events they match, on SQLite and PostgreSQL.

use super::*;
use jiff::{SignedDuration, Timestamp};
use vigil_model::{AlertSource, EventId, NewEvent, Provenance};
use vigil_pipeline::retrohunt::{RetroHuntConfig, RetroHuntJob, RetroHunter, Scheduled, hunt};
use vigil_store::postgres::PgStore;
use vigil_store::{IndicatorQuery, IntelSourceId, NewIndicator, NewIntelSource, SightingQuery};

const MD5: &str = "0cc175b9c0f1b6a831c399e269772661";

fn ago(days: i64) -> Timestamp {
    Timestamp::now()
        .checked_sub(SignedDuration::from_hours(24 * days))
        .expect("time")
}

fn event(org: OrgId, at: Timestamp, fields: serde_json::Value) -> NewEvent {
    NewEvent {
        org_id: org,
        asset_id: None,
        timestamp: at,
        received_at: at,
        provenance: Provenance {
            input: "test".into(),
            sender: None,
        },
        fields: serde_json::from_value(fields).expect("fields"),
        native: Default::default(),
        raw: b"retro".to_vec(),
    }
}

fn indicator(src: IntelSourceId, kind: &str, value: &str, modified: &str) -> NewIndicator {
    let id = format!(
        "indicator--{}",
        uuid::Uuid::from_u128(value.bytes().fold(7u128, |h, b| {
            h.wrapping_mul(31).wrapping_add(u128::from(b))
        }))
    );
    NewIndicator {
        source_id: src,
        stix_id: id.clone(),
        kind: kind.into(),
        value: Some(value.into()),
        values: vec![format!("{kind}:{value}")],
        pattern: None,
        name: Some(format!("retro {kind}")),
        description: None,
        confidence: 85,
        tlp: Some("amber".into()),
        valid_from: None,
        valid_until: None,
        labels: vec!["botnet".into(), "c2".into()],
        kill_chain: vec![],
        attack_ids: vec![],
        modified: modified.parse().expect("modified"),
        revoked: false,
        object: serde_json::json!({"type": "indicator", "id": id}),
    }
}

async fn import(store: &dyn Store, src: IntelSourceId, modified: &str) -> RetroHuntJob {
    let since = Timestamp::now();
    store
        .upsert_indicators(vec![
            indicator(src, "ipv4", "203.0.113.7", modified),
            indicator(src, "domain", "evil-retro.example", modified),
            indicator(src, "md5", MD5, modified),
        ])
        .await
        .expect("upsert");
    RetroHuntJob {
        source_id: src,
        since,
    }
}

async fn id_of(store: &dyn Store, value: &str) -> vigil_store::IndicatorId {
    store
        .list_indicators(&IndicatorQuery {
            value: Some(value.into()),
            limit: 10,
            ..IndicatorQuery::default()
        })
        .await
        .expect("list")
        .items
        .first()
        .expect("stored")
        .id
}

async fn ioc_alerts(store: &dyn Store, org: OrgId) -> Vec<vigil_model::Alert> {
    store
        .list_alerts(
            Scope::Org(org),
            &AlertQuery {
                source: Some(AlertSource::Ioc),
                limit: 100,
                ..AlertQuery::default()
            },
        )
        .await
        .expect("alerts")
        .items
}

/// Events stored first, indicators imported later: hits inside the window become alerts and
/// sightings, the older event does not, and hunting again (or re-importing) adds nothing.
async fn scenario(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let org = store.create_org(org_spec("Org R")).await.expect("org").id;
    let other = store.create_org(org_spec("Org S")).await.expect("org").id;
    let ids: Vec<EventId> = store
        .append_events(vec![
            // Found through the indexed source.ip.
            event(org, ago(1), serde_json::json!({"source.ip": "203.0.113.7"})),
            // Found by the window scan: a subdomain in an unindexed field, an MD5 digest.
            event(
                org,
                ago(2),
                serde_json::json!({"dns.question.name": "WWW.Evil-Retro.example."}),
            ),
            event(other, ago(3), serde_json::json!({"file.hash.md5": MD5})),
            // Outside the seven days.
            event(org, ago(10), serde_json::json!({"source.ip": "203.0.113.7"})),
            // No hit.
            event(
                org,
                ago(1),
                serde_json::json!({"source.ip": "10.0.0.1", "dns.question.name": "notevil-retro.example"}),
            ),
        ])
        .await
        .expect("events");
    let src = store
        .upsert_intel_source(NewIntelSource {
            name: "retro-feed".into(),
            kind: "stix".into(),
            url: None,
            enabled: true,
            trust: 80,
        })
        .await
        .expect("source")
        .id;
    let job = import(store, src, "2026-01-01T00:00:00Z").await;
    let cfg = RetroHuntConfig::default();
    let r = hunt(store, &cfg, None, &job, Timestamp::now())
        .await
        .expect("hunt");
    assert_eq!(r.indicators, 3);
    assert_eq!(r.events_hit, 3, "{r:?}");
    assert_eq!(r.alerts, 3, "{r:?}");
    assert_eq!(r.sightings, 3, "{r:?}");
    // The scan reads the four events of the window, not the one ten days old.
    assert_eq!(r.scanned, 4, "{r:?}");

    let alerts = ioc_alerts(store, org).await;
    assert_eq!(alerts.len(), 2);
    let ip_alert = alerts
        .iter()
        .find(|a| a.spec.rule_id == "ipv4 203.0.113.7")
        .expect("ip alert");
    assert_eq!(ip_alert.spec.event_ids, [ids[0]]);
    assert_eq!(ip_alert.spec.severity, vigil_model::Severity::High);
    assert!(
        ip_alert.spec.category.is_some(),
        "botnet c2 has a sub-category"
    );
    assert!(ip_alert.spec.title.starts_with("Retro-hunt: "));
    assert_eq!(ip_alert.spec.details["retro_hunt"]["days"], 7);
    let dns_alert = alerts
        .iter()
        .find(|a| a.spec.rule_id == "domain evil-retro.example")
        .expect("domain alert");
    assert_eq!(dns_alert.spec.event_ids, [ids[1]]);
    let md5_alerts = ioc_alerts(store, other).await;
    assert_eq!(md5_alerts.len(), 1);
    assert_eq!(md5_alerts[0].spec.event_ids, [ids[2]]);

    let ip = id_of(store, "203.0.113.7").await;
    let sightings = store
        .list_sightings(
            Scope::All,
            &SightingQuery {
                indicator_id: Some(ip),
                limit: 100,
                ..SightingQuery::default()
            },
        )
        .await
        .expect("sightings")
        .items;
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].spec.event_id, Some(ids[0]));
    assert_eq!(sightings[0].spec.alert_id, Some(ip_alert.id));

    // The same job again: every pair has its sighting, nothing new.
    let again = hunt(store, &cfg, None, &job, Timestamp::now())
        .await
        .expect("again");
    assert_eq!((again.alerts, again.sightings), (0, 0), "{again:?}");
    assert_eq!(again.already_seen, 3);
    // Re-importing the same versions changes no stored indicator: nothing is hunted.
    let same = import(store, src, "2026-01-01T00:00:00Z").await;
    let r = hunt(store, &cfg, None, &same, Timestamp::now())
        .await
        .expect("re-import");
    assert_eq!((r.indicators, r.alerts), (0, 0), "{r:?}");
    // A newer version is hunted again, and still alerts nothing twice.
    let newer = import(store, src, "2026-02-01T00:00:00Z").await;
    let r = hunt(store, &cfg, None, &newer, Timestamp::now())
        .await
        .expect("newer");
    assert_eq!(r.indicators, 3);
    assert_eq!((r.alerts, r.sightings, r.already_seen), (0, 0, 3), "{r:?}");
    assert_eq!(ioc_alerts(store, org).await.len(), 2);

    // A shorter window leaves the older hits out; off (0 days) hunts nothing.
    let one_day = RetroHuntConfig {
        days: 1,
        ..cfg.clone()
    };
    let newest = import(store, src, "2026-03-01T00:00:00Z").await;
    let r = hunt(store, &one_day, None, &newest, Timestamp::now())
        .await
        .expect("one day");
    assert_eq!((r.events_hit, r.alerts), (0, 0), "{r:?}");
    let off = RetroHuntConfig { days: 0, ..cfg };
    let r = hunt(store, &off, None, &newest, Timestamp::now())
        .await
        .expect("off");
    assert_eq!(r, Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunt_alerts_once_on_events_of_the_window_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).expect("store"));
    scenario(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunt_alerts_once_on_events_of_the_window_postgres() {
    let test = "retro_hunt_alerts_once_on_events_of_the_window_postgres";
    let Some(url) = vigil_testkit::service_url("VIGIL_TEST_POSTGRES_URL", test) else {
        return;
    };
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let store = PgStore::connect_with_schema(&url, &schema)
        .await
        .expect("postgres")
        .drop_schema_when_dropped();
    scenario(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_hunts_run_in_the_background() {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).expect("store"));
    let org = store.create_org(org_spec("Org R")).await.expect("org").id;
    store
        .append_events(vec![event(
            org,
            ago(1),
            serde_json::json!({"destination.ip": "203.0.113.7"}),
        )])
        .await
        .expect("events");
    let src = store
        .upsert_intel_source(NewIntelSource {
            name: "bg-feed".into(),
            kind: "stix".into(),
            url: None,
            enabled: true,
            trust: 80,
        })
        .await
        .expect("source")
        .id;
    let off = RetroHunter::spawn(
        store.clone(),
        RetroHuntConfig {
            days: 0,
            ..RetroHuntConfig::default()
        },
        None,
    );
    let job = import(store.as_ref(), src, "2026-01-01T00:00:00Z").await;
    assert_eq!(off.schedule(job.clone()), Scheduled::Off);
    let hunter = RetroHunter::spawn(store.clone(), RetroHuntConfig::default(), None);
    assert_eq!(hunter.schedule(job), Scheduled::Scheduled);
    assert_eq!(Scheduled::Scheduled.as_str(), "retro-hunt scheduled");
    until("the retro-hunt alert", async || {
        ioc_alerts(store.as_ref(), org).await.len() == 1
    })
    .await;
}
