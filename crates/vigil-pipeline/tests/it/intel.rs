//! Live indicator matching: indicators in the store, CEF-over-syslog lines through the
//! pipeline, sightings and alerts linked to the stored events.

use super::*;
use vigil_model::{AlertSource, Severity};
use vigil_store::{
    IndicatorId, IndicatorQuery, IntelSourceId, NewIndicator, NewIntelSource, Sighting,
    SightingQuery,
};

async fn source(store: &dyn Store, name: &str, enabled: bool) -> IntelSourceId {
    store
        .upsert_intel_source(NewIntelSource {
            name: name.into(),
            kind: "stix".into(),
            url: None,
            enabled,
            trust: 80,
        })
        .await
        .expect("source")
        .id
}

struct Ind<'a> {
    kind: &'a str,
    value: &'a str,
    name: &'a str,
    confidence: u8,
    labels: &'a [&'a str],
    revoked: bool,
}

fn stix_id(value: &str) -> String {
    // Deterministic per value (uuid's v5 feature is not enabled in the workspace).
    let mut b = [0u8; 16];
    for (i, c) in value.bytes().enumerate() {
        b[i % 16] ^= c.wrapping_add(i as u8);
    }
    format!("indicator--{}", uuid::Uuid::from_bytes(b))
}

/// Stores the indicator and returns its id.
async fn indicator(store: &dyn Store, src: IntelSourceId, i: Ind<'_>) -> IndicatorId {
    let id = stix_id(i.value);
    let modified: vigil_model::Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
    store
        .upsert_indicators(vec![NewIndicator {
            source_id: src,
            stix_id: id.clone(),
            kind: i.kind.into(),
            value: Some(i.value.into()),
            values: vec![format!("{}:{}", i.kind, i.value)],
            pattern: None,
            name: Some(i.name.into()),
            description: None,
            confidence: i.confidence,
            tlp: Some("amber".into()),
            valid_from: None,
            valid_until: None,
            labels: i.labels.iter().map(|s| s.to_string()).collect(),
            kill_chain: vec![],
            attack_ids: vec!["T1071".into()],
            modified,
            revoked: i.revoked,
            object: serde_json::json!({"type": "indicator", "id": id}),
        }])
        .await
        .expect("upsert");
    store
        .list_indicators(&IndicatorQuery {
            stix_id: Some(id),
            include_revoked: true,
            ..IndicatorQuery::default()
        })
        .await
        .expect("list")
        .items
        .first()
        .expect("stored")
        .id
}

async fn sightings(store: &dyn Store, scope: Scope, ind: Option<IndicatorId>) -> Vec<Sighting> {
    store
        .list_sightings(
            scope,
            &SightingQuery {
                indicator_id: ind,
                limit: 1000,
                ..SightingQuery::default()
            },
        )
        .await
        .expect("sightings")
        .items
}

async fn ioc_alerts(store: &dyn Store, org: OrgId) -> Vec<vigil_model::Alert> {
    store
        .list_alerts(
            Scope::Org(org),
            &AlertQuery {
                source: Some(AlertSource::Ioc),
                limit: 1000,
                ..AlertQuery::default()
            },
        )
        .await
        .expect("alerts")
        .items
}

/// A CEF event from web-1 (organization A) over RFC 3164 syslog.
fn cef(ext: &str) -> String {
    format!("<134>Nov 21 10:00:00 web-1.corp.example CEF:0|Acme|FW|1.0|100|conn|3|{ext}\n")
}

async fn send_tcp(p: &Pipeline, data: &str) {
    let mut tcp = tokio::net::TcpStream::connect(p.local_addr("tcp").expect("tcp"))
        .await
        .expect("connect");
    tcp.write_all(data.as_bytes()).await.expect("write");
    tcp.shutdown().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicator_hits_become_sightings_and_one_alert_per_indicator_and_batch() {
    let w = world(false).await;
    let store = w.store.as_ref();
    let src = source(store, "cert-feed", true).await;
    let off = source(store, "disabled-feed", false).await;
    let ip = indicator(
        store,
        src,
        Ind {
            kind: "ipv4",
            value: "203.0.113.7",
            name: "Mirai C2",
            confidence: 85,
            labels: &["botnet", "c2"],
            revoked: false,
        },
    )
    .await;
    let domain = indicator(
        store,
        src,
        Ind {
            kind: "domain",
            value: "evil-c2.example",
            name: "Phishing kit host",
            confidence: 60,
            labels: &["phishing"],
            revoked: false,
        },
    )
    .await;
    let revoked = indicator(
        store,
        src,
        Ind {
            kind: "ipv4",
            value: "198.51.100.9",
            name: "old",
            confidence: 90,
            labels: &[],
            revoked: true,
        },
    )
    .await;
    let disabled = indicator(
        store,
        off,
        Ind {
            kind: "ipv4",
            value: "198.51.100.10",
            name: "from a disabled source",
            confidence: 90,
            labels: &[],
            revoked: false,
        },
    )
    .await;

    // Spooled first and processed after a restart, so that all lines are one batch.
    let mut c = config(&w, &[("tcp", ListenerKind::SyslogTcp)]);
    c.process = false;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let mut lines = String::new();
    for i in 0..40 {
        lines.push_str(&cef(&format!(
            "src=203.0.113.7 spt={} dst=10.0.0.5",
            1000 + i
        )));
    }
    lines.push_str(&cef("src=10.0.0.9 dhost=www.evil-c2.example"));
    lines.push_str(&cef("src=198.51.100.9 dst=10.0.0.5"));
    lines.push_str(&cef("src=198.51.100.10 dst=10.0.0.5"));
    lines.push_str(&cef("src=10.0.0.9 dhost=notevil-c2.example"));
    lines.push_str("<13>1 2026-11-21T10:00:00Z web-1.corp.example app - - - no observables here\n");
    send_tcp(&p, &lines).await;
    let s = p.stats().clone();
    until("45 spooled", async || get(&s.spooled) == 45).await;
    p.shutdown().await;

    let p = Pipeline::start(
        config(&w, &[("tcp", ListenerKind::SyslogTcp)]),
        w.store.clone(),
    )
    .await
    .expect("restart");
    let s = p.stats().clone();
    until("45 stored", async || get(&s.stored) == 45).await;
    p.shutdown().await;
    assert_eq!(get(&s.intel_hits), 41);
    assert_eq!(get(&s.sightings), 41);

    let alerts = ioc_alerts(store, w.org_a).await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let ip_alert = alerts
        .iter()
        .find(|a| a.spec.rule_id == "ipv4 203.0.113.7")
        .expect("ip alert");
    let a = &ip_alert.spec;
    assert_eq!(a.event_ids.len(), 40, "one alert for the whole flood");
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.category.as_deref(), Some("MPZOMB"));
    assert!(a.title.contains("203.0.113.7"), "{}", a.title);
    assert!(a.title.contains("cert-feed"), "{}", a.title);
    assert!(a.title.contains("Mirai C2"), "{}", a.title);
    assert_eq!(a.details["indicator_ids"][0], ip.to_string());
    assert_eq!(a.details["stix_ids"][0], stix_id("203.0.113.7"));
    assert_eq!(a.details["labels"], serde_json::json!(["botnet", "c2"]));
    assert_eq!(a.details["tlp"], "amber");
    assert_eq!(
        a.details["observed"],
        serde_json::json!([{"field": "source.ip", "value": "203.0.113.7"}])
    );
    // The linked events are the stored CEF events of organization A.
    let ev = store
        .get_event(Scope::Org(w.org_a), a.event_ids[0])
        .await
        .expect("get")
        .expect("linked event");
    assert_eq!(
        ev.event.fields.get("source.ip").and_then(|v| v.as_str()),
        Some("203.0.113.7")
    );

    let ip_sightings = sightings(store, Scope::Org(w.org_a), Some(ip)).await;
    assert_eq!(ip_sightings.len(), 40);
    let mut sighted: Vec<_> = ip_sightings
        .iter()
        .map(|s| s.spec.event_id.expect("event id"))
        .collect();
    sighted.sort();
    let mut linked = a.event_ids.clone();
    linked.sort();
    assert_eq!(
        sighted, linked,
        "one sighting per event, the alert's events"
    );
    assert!(ip_sightings.iter().all(|s| s.spec.org_id == w.org_a
        && s.spec.alert_id == Some(ip_alert.id)
        && s.spec.count == 1));

    let d_alert = alerts
        .iter()
        .find(|a| a.spec.rule_id == "domain evil-c2.example")
        .expect("domain alert");
    assert_eq!(d_alert.spec.event_ids.len(), 1);
    assert_eq!(d_alert.spec.severity, Severity::Medium);
    assert_eq!(d_alert.spec.category.as_deref(), Some("NAPHISH"));
    assert_eq!(
        d_alert.spec.details["observed"],
        serde_json::json!([{"field": "destination.domain", "value": "www.evil-c2.example"}])
    );
    let d_sightings = sightings(store, Scope::Org(w.org_a), Some(domain)).await;
    assert_eq!(d_sightings.len(), 1);
    assert_eq!(
        d_sightings[0].spec.event_id,
        Some(d_alert.spec.event_ids[0])
    );

    // Revoked indicators and those of disabled sources do not match; nothing lands in B.
    assert!(sightings(store, Scope::All, Some(revoked)).await.is_empty());
    assert!(
        sightings(store, Scope::All, Some(disabled))
            .await
            .is_empty()
    );
    assert!(sightings(store, Scope::Org(w.org_b), None).await.is_empty());
    // The event without observables (and those that matched nothing) is stored, unlinked.
    let events = events_of(store, w.org_a).await;
    assert_eq!(events.len(), 45);
    let quiet = events
        .iter()
        .find(|e| e.event.message() == "no observables here")
        .expect("quiet event");
    assert!(alerts.iter().all(|a| !a.spec.event_ids.contains(&quiet.id)));
    assert_eq!(sightings(store, Scope::All, None).await.len(), 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_added_or_revoked_after_start_take_effect_at_the_refresh() {
    let w = world(false).await;
    let store = w.store.as_ref();
    let src = source(store, "late-feed", true).await;
    let mut c = config(&w, &[("tcp", ListenerKind::SyslogTcp)]);
    c.intel_refresh = Duration::from_millis(300);
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let s = p.stats().clone();

    send_tcp(&p, &cef("src=192.0.2.66 dst=10.0.0.5")).await;
    until("1 stored", async || get(&s.stored) == 1).await;
    assert_eq!(get(&s.intel_hits), 0);
    assert!(ioc_alerts(store, w.org_a).await.is_empty());

    let ind = indicator(
        store,
        src,
        Ind {
            kind: "ipv4",
            value: "192.0.2.0/24",
            name: "scanner range",
            confidence: 30,
            labels: &["scanner"],
            revoked: false,
        },
    )
    .await;
    // Several refresh intervals.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_tcp(&p, &cef("src=192.0.2.66 dst=10.0.0.5")).await;
    until("2 stored and a sighting", async || {
        get(&s.stored) == 2 && get(&s.sightings) == 1
    })
    .await;
    let found = sightings(store, Scope::Org(w.org_a), Some(ind)).await;
    assert_eq!(found.len(), 1);
    let alerts = ioc_alerts(store, w.org_a).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].spec.rule_id, "ipv4 192.0.2.0/24");
    assert_eq!(alerts[0].spec.severity, Severity::Low);
    assert_eq!(alerts[0].spec.category.as_deref(), Some("NASCAN"));
    assert_eq!(Some(alerts[0].spec.event_ids[0]), found[0].spec.event_id);

    // Revoked in Vigil: gone from matching at the next refresh.
    store
        .revoke_indicator(ind)
        .await
        .expect("revoke")
        .expect("exists");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_tcp(&p, &cef("src=192.0.2.66 dst=10.0.0.5")).await;
    until("3 stored", async || get(&s.stored) == 3).await;
    p.shutdown().await;
    assert_eq!(get(&s.intel_hits), 1);
    assert_eq!(sightings(store, Scope::All, None).await.len(), 1);
    assert_eq!(ioc_alerts(store, w.org_a).await.len(), 1);
}
