//! End-to-end tests of the live pipeline: real sockets on ephemeral ports, a temporary SQLite
//! store, the fixture rule in `rules/`. Asynchronous results are polled with a generous
//! timeout; nothing here measures speed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use vigil_model::{NewAsset, OrgId, Scope};
use vigil_pipeline::{ListenerConfig, ListenerKind, Pipeline, PipelineConfig, Stats};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{AlertQuery, EventQuery, Store};
use vigil_testkit::fixtures::{asset_spec, org_spec};

mod crash;
mod intel;
mod overlap;
mod retrohunt;
mod sources;

fn asset(org: OrgId, name: &str, cidrs: &[&str], hostnames: &[&str]) -> NewAsset {
    NewAsset {
        cidrs: cidrs.iter().map(|c| c.parse().expect("cidr")).collect(),
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
        ..asset_spec(org, name)
    }
}

struct World {
    _dir: tempfile::TempDir,
    data: PathBuf,
    store: Arc<dyn Store>,
    /// Owns `web-1.corp.example`.
    org_a: OrgId,
    /// Owns 127.0.0.0/8 when created with `with_range`.
    org_b: OrgId,
}

async fn world(with_range: bool) -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let store_dir = dir.path().join("store");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&store_dir).expect("store"));
    let a = store.create_org(org_spec("Org A")).await.expect("org a");
    let b = store.create_org(org_spec("Org B")).await.expect("org b");
    let mut assets = vec![asset(a.id, "web-1", &[], &["web-1.corp.example"])];
    if with_range {
        assets.push(asset(b.id, "collector range", &["127.0.0.0/8"], &[]));
    }
    store
        .create_assets(Scope::All, assets)
        .await
        .expect("assets");
    World {
        _dir: dir,
        data,
        store,
        org_a: a.id,
        org_b: b.id,
    }
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/rules")
}

fn config(w: &World, listeners: &[(&str, ListenerKind)]) -> PipelineConfig {
    let mut c = PipelineConfig::new(&w.data);
    c.rules_dir = Some(rules_dir());
    c.directory_refresh = Duration::from_secs(3600);
    c.spool_segment_bytes = 64 * 1024;
    c.spool_max_bytes = 16 << 20;
    for (name, kind) in listeners {
        let mut l = ListenerConfig::new(name, *kind, "127.0.0.1:0".parse().expect("addr"));
        l.max_frame = 2048;
        c.listeners.push(l);
    }
    c
}

/// Polls until `cond` holds, failing after 30 s.
async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the pipeline again over the spool left by a crash, waits until it has replayed
/// everything, and checks that the batch already in the store was skipped, not stored again.
async fn restart_skipping_the_stored_batch(w: &World) {
    let p = Pipeline::start(config(w, &[]), w.store.clone())
        .await
        .expect("restart");
    let spool = p.spool().clone();
    until("checkpoint past the batch", async || {
        spool.committed() == spool.end()
    })
    .await;
    assert_eq!(get(&p.stats().stored), 0, "the stored batch was skipped");
    p.shutdown().await;
}

fn get(c: &AtomicU64) -> u64 {
    Stats::get(c)
}

async fn events_of(store: &dyn Store, org: OrgId) -> Vec<vigil_model::Event> {
    store
        .search_events(
            Scope::Org(org),
            &EventQuery {
                limit: 1000,
                ..EventQuery::default()
            },
        )
        .await
        .expect("search")
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tcp_and_udp_is_stored_attributed_and_detected() {
    let w = world(true).await;
    let p = Pipeline::start(
        config(
            &w,
            &[
                ("tcp", ListenerKind::SyslogTcp),
                ("udp", ListenerKind::SyslogUdp),
            ],
        ),
        w.store.clone(),
    )
    .await
    .expect("start");

    let mut tcp = tokio::net::TcpStream::connect(p.local_addr("tcp").expect("tcp"))
        .await
        .expect("connect");
    let mut stream = Vec::new();
    // Newline framing: an sshd line from web-1 (org A, matches the rule), one from an unknown
    // host (attributed by the sender's address to org B), and a broken JSON line.
    stream.extend_from_slice(
        b"<34>Oct 11 22:14:15 web-1 sshd[411]: Failed password for root from 203.0.113.7 port 4242 ssh2\n",
    );
    stream.extend_from_slice(b"<13>1 2026-11-21T10:00:00Z otherhost app - - - newline framed\n");
    stream.extend_from_slice(b"{\"broken json\n");
    // Octet counting, switched per frame.
    for m in [
        "<13>1 2026-11-21T10:00:01Z otherhost app - - - octet one",
        "<13>1 2026-11-21T10:00:02Z otherhost app - - - octet\ntwo with a newline inside",
    ] {
        stream.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
    }
    // An oversized newline-framed line (max_frame is 2048).
    stream.extend_from_slice(b"<13>1 2026-11-21T10:00:03Z otherhost app - - - ");
    stream.extend_from_slice(&[b'x'; 5000]);
    stream.push(b'\n');
    tcp.write_all(&stream).await.expect("write");
    tcp.shutdown().await.expect("close");

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    udp.send_to(
        b"<13>1 2026-11-21T10:00:04Z web-1.corp.example app - - - over udp\n",
        p.local_addr("udp").expect("udp addr"),
    )
    .await
    .expect("send");

    let s = p.stats().clone();
    until("5 stored events and 2 dead letters", async || {
        get(&s.stored) == 5 && get(&s.dead_letters) == 2
    })
    .await;
    assert_eq!(get(&s.received), 7);
    assert_eq!(get(&s.rejected), 1);
    assert_eq!(get(&s.frame_errors), 1);
    assert_eq!(get(&s.dropped), 0);

    let a = events_of(w.store.as_ref(), w.org_a).await;
    let b = events_of(w.store.as_ref(), w.org_b).await;
    assert_eq!(a.len(), 2, "org A: {a:#?}");
    assert_eq!(b.len(), 3, "org B: {b:#?}");
    assert!(a.iter().all(|e| e.event.asset_id.is_some()));
    let mut messages: Vec<String> = b.iter().map(|e| e.event.message()).collect();
    messages.sort();
    assert_eq!(
        messages,
        vec![
            "newline framed",
            "octet\ntwo with a newline inside",
            "octet one",
        ]
    );
    let udp_event = a
        .iter()
        .find(|e| e.event.provenance.input == "udp")
        .expect("udp event in org A");
    assert!(
        udp_event
            .event
            .provenance
            .sender
            .as_deref()
            .is_some_and(|s| s.starts_with("127.0.0.1:"))
    );

    let alerts = w
        .store
        .list_alerts(Scope::Org(w.org_a), &AlertQuery::default())
        .await
        .expect("alerts")
        .items;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let al = &alerts[0].spec;
    assert_eq!(al.rule_id, "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e01");
    assert_eq!(al.severity, vigil_model::Severity::High);
    assert_eq!(al.event_ids.len(), 1);
    let ev = w
        .store
        .get_event(Scope::Org(w.org_a), al.event_ids[0])
        .await
        .expect("get")
        .expect("linked event");
    assert!(ev.event.message().contains("Failed password"));
    assert_eq!(get(&s.alerts), 1);
    let none_b = w
        .store
        .list_alerts(Scope::Org(w.org_b), &AlertQuery::default())
        .await
        .expect("alerts")
        .items;
    assert!(none_b.is_empty());

    // Dead letters reach the store (written after the batch, off its path) with the reason,
    // the source, the sender and the raw bytes.
    let store = w.store.clone();
    let letters = async || {
        store
            .search_dead_letters(Scope::All, &vigil_store::DeadLetterQuery::default())
            .await
            .expect("dead letters")
            .items
    };
    until("2 dead letters in the store", async || {
        letters().await.len() == 2
    })
    .await;
    let mut dl = letters().await;
    dl.sort_by_key(|d| d.reason.as_str());
    let reasons: Vec<&str> = dl.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, vec!["oversized", "parse"]);
    for d in &dl {
        assert_eq!(d.source, "tcp", "{d:?}");
        assert!(
            d.sender
                .as_deref()
                .is_some_and(|s| s.starts_with("127.0.0.1:")),
            "{d:?}"
        );
        assert!(!d.detail.is_empty());
    }
    assert!(
        dl[0]
            .raw
            .starts_with(b"<13>1 2026-11-21T10:00:03Z otherhost app"),
        "{:?}",
        dl[0]
    );
    assert!(!dl[1].raw.is_empty());
    let parse_only = w
        .store
        .search_dead_letters(
            Scope::All,
            &vigil_store::DeadLetterQuery {
                reason: Some(vigil_store::DeadLetterReason::Parse),
                ..Default::default()
            },
        )
        .await
        .expect("search");
    assert_eq!(parse_only.items.len(), 1);

    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_events_are_replayed_after_a_restart() {
    let w = world(true).await;
    // First run: listeners and spool only, as if the process died before storing anything.
    let mut c = config(&w, &[("tcp", ListenerKind::SyslogTcp)]);
    c.process = false;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let mut tcp = tokio::net::TcpStream::connect(p.local_addr("tcp").expect("tcp"))
        .await
        .expect("connect");
    let mut stream = String::new();
    for i in 0..200 {
        stream.push_str(&format!(
            "<13>1 2026-11-21T10:00:00Z otherhost app - - - replay {i}\n"
        ));
    }
    tcp.write_all(stream.as_bytes()).await.expect("write");
    let s = p.stats().clone();
    until("200 spooled records", async || get(&s.spooled) == 200).await;
    // Stop mid-stream: the connection is still open.
    p.shutdown().await;
    drop(tcp);
    assert!(events_of(w.store.as_ref(), w.org_b).await.is_empty());

    // Second run: processing on, no listeners. Everything spooled is stored.
    let c = config(&w, &[]);
    let p = Pipeline::start(c, w.store.clone()).await.expect("restart");
    let s = p.stats().clone();
    until("200 stored events", async || get(&s.stored) == 200).await;
    let spool = p.spool().clone();
    until("checkpoint at the end", async || {
        spool.committed() == spool.end()
    })
    .await;
    p.shutdown().await;
    let mut got: Vec<String> = events_of(w.store.as_ref(), w.org_b)
        .await
        .iter()
        .map(|e| e.event.message())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("replay {i}")).collect();
    want.sort();
    assert_eq!(got, want);

    // Third run: nothing left to replay.
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("third start");
    assert_eq!(p.spool().committed(), p.spool().end());
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unattributed_events_are_dead_letters_unless_a_default_org_is_set() {
    let w = world(false).await;
    let c = config(&w, &[("udp", ListenerKind::SyslogUdp)]);
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let to = p.local_addr("udp").expect("addr");
    udp.send_to(b"<13>1 2026-11-21T10:00:00Z nobody app - - - lost", to)
        .await
        .expect("send");
    let s = p.stats().clone();
    until("an unattributed dead letter", async || {
        get(&s.unattributed) == 1
    })
    .await;
    assert_eq!(get(&s.dead_letters), 1);
    assert_eq!(get(&s.stored), 0);
    p.shutdown().await;

    let mut c = config(&w, &[("udp", ListenerKind::SyslogUdp)]);
    c.default_org = Some(w.org_b);
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let to = p.local_addr("udp").expect("addr");
    udp.send_to(b"<13>1 2026-11-21T10:00:00Z nobody app - - - found", to)
        .await
        .expect("send");
    let s = p.stats().clone();
    until("a stored event", async || get(&s.stored) == 1).await;
    p.shutdown().await;
    let b = events_of(w.store.as_ref(), w.org_b).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].event.message(), "found");

    // A default organization that does not exist stops the start.
    let mut c = config(&w, &[]);
    c.default_org = Some(OrgId::new());
    let e = Pipeline::start(c, w.store.clone())
        .await
        .expect_err("unknown org");
    assert!(
        matches!(e, vigil_pipeline::PipelineError::DefaultOrg(_)),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_stops_tcp_reading_and_what_was_spooled_is_stored_later() {
    let w = world(true).await;
    // A spool of two 64 KiB segments, a tiny queue, nothing consuming.
    let mut c = config(&w, &[("tcp", ListenerKind::SyslogTcp)]);
    c.process = false;
    c.spool_max_bytes = 128 * 1024;
    c.queue_capacity = 8;
    c.batch_max = 8;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let addr = p.local_addr("tcp").expect("tcp");
    // Far more than the spool, the queue and the socket buffers hold together.
    let sender = tokio::spawn(async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let line = b"<13>1 2026-11-21T10:00:00Z otherhost app - - - pressure\n";
        let chunk: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 1000)
            .collect();
        for _ in 0..400 {
            if tcp.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let s = p.stats().clone();
    until("the spool to refuse appends", async || {
        get(&s.spool_full) > 0
    })
    .await;
    // The sender is held back (TCP is not read while the queue is full), not dropped.
    assert!(!sender.is_finished(), "the sender was never held back");
    assert_eq!(get(&s.dropped), 0);
    let spooled = get(&s.spooled);
    assert!(spooled > 0 && spooled < 400_000, "{spooled}");
    p.shutdown().await;
    sender.abort();

    // Everything that reached the spool is stored after a restart with processing on.
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("restart");
    let s = p.stats().clone();
    until("the spooled records to be stored", async || {
        get(&s.stored) == spooled
    })
    .await;
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correlation_rule_raises_one_alert_in_the_right_organization() {
    let w = world(true).await;
    let p = Pipeline::start(
        config(&w, &[("tcp", ListenerKind::SyslogTcp)]),
        w.store.clone(),
    )
    .await
    .expect("start");
    let mut tcp = tokio::net::TcpStream::connect(p.local_addr("tcp").expect("tcp"))
        .await
        .expect("connect");
    let mut stream = String::new();
    for (i, host) in ["web-1", "web-1", "otherhost", "web-1"].iter().enumerate() {
        stream.push_str(&format!(
            "<34>Oct 11 22:14:1{i} {host} sshd[411]: Failed password for root from 203.0.113.7 port 4242 ssh2\n"
        ));
    }
    tcp.write_all(stream.as_bytes()).await.expect("write");
    tcp.shutdown().await.expect("close");
    let s = p.stats().clone();
    until("4 stored events", async || get(&s.stored) == 4).await;
    p.shutdown().await;

    let alerts_a = w
        .store
        .list_alerts(Scope::Org(w.org_a), &AlertQuery::default())
        .await
        .expect("alerts")
        .items;
    let corr: Vec<_> = alerts_a
        .iter()
        .filter(|a| a.spec.rule_id == "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e02")
        .collect();
    assert_eq!(corr.len(), 1, "{alerts_a:#?}");
    assert_eq!(corr[0].spec.severity, vigil_model::Severity::Critical);
    assert_eq!(corr[0].spec.details["events"], 3);
    assert_eq!(corr[0].spec.event_ids.len(), 1);
    // `generate: true`: the base rule still reports on its own.
    assert!(
        alerts_a
            .iter()
            .any(|a| a.spec.rule_id == "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e01")
    );
    // The one failed login of org B's host is not counted with org A's.
    let alerts_b = w
        .store
        .list_alerts(Scope::Org(w.org_b), &AlertQuery::default())
        .await
        .expect("alerts")
        .items;
    assert!(
        alerts_b
            .iter()
            .all(|a| a.spec.rule_id != "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e02"),
        "{alerts_b:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_are_dropped_and_counted_when_the_queue_is_full() {
    let w = world(true).await;
    let mut c = config(&w, &[("udp", ListenerKind::SyslogUdp)]);
    c.process = false;
    c.spool_max_bytes = 128 * 1024;
    c.queue_capacity = 4;
    c.batch_max = 4;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let to = p.local_addr("udp").expect("addr");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let s = p.stats().clone();
    let line = format!(
        "<13>1 2026-11-21T10:00:00Z otherhost app - - - {}",
        "u".repeat(500)
    );
    let mut sent = 0u64;
    until("dropped datagrams", async || {
        for _ in 0..100 {
            if udp.send_to(line.as_bytes(), to).await.is_ok() {
                sent += 1;
            }
        }
        get(&s.dropped) > 0
    })
    .await;
    // Whether the queue filled because the spool was full or because fsyncs were slower than
    // the sender does not matter: every received datagram is spooled or counted as dropped.
    assert!(get(&s.received) <= sent);
    p.shutdown().await;
    assert_eq!(get(&s.spooled) + get(&s.dropped), get(&s.received));
}

/// Publishes `messages` (topic, payload) with QoS 1 and returns once the broker has
/// acknowledged every one.
async fn mqtt_publish(url: &str, messages: &[(String, String)]) {
    let s = vigil_pipeline::mqtt::MqttSettings::new(
        url,
        vec!["unused".into()],
        &format!("vigil-test-pub-{}", uuid::Uuid::new_v4()),
    )
    .expect("broker url");
    let mut o = rumqttc::MqttOptions::new(s.client_id.clone(), s.host.clone(), s.port);
    o.set_keep_alive(Duration::from_secs(10));
    let (client, mut ev) = rumqttc::AsyncClient::new(o, 64);
    for (topic, payload) in messages {
        client
            .publish(
                topic.clone(),
                rumqttc::QoS::AtLeastOnce,
                false,
                payload.clone().into_bytes(),
            )
            .await
            .expect("publish");
    }
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acked < messages.len() {
        let e = tokio::time::timeout_at(deadline, ev.poll())
            .await
            .expect("broker acknowledgements in time")
            .expect("publisher connection");
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e {
            acked += 1;
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ev.poll()).await;
}

/// Ends the broker's persistent session of `client_id` (a clean-session connect drops it).
async fn mqtt_drop_session(url: &str, client_id: &str) {
    let s = vigil_pipeline::mqtt::MqttSettings::new(url, vec!["unused".into()], client_id)
        .expect("broker url");
    let mut o = rumqttc::MqttOptions::new(client_id, s.host.clone(), s.port);
    o.set_clean_session(true);
    let (client, mut ev) = rumqttc::AsyncClient::new(o, 8);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, ev.poll()).await {
        if let rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)) = e {
            break;
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ev.poll()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_messages_are_stored_and_a_persistent_session_keeps_those_sent_while_down() {
    const TEST: &str =
        "mqtt_messages_are_stored_and_a_persistent_session_keeps_those_sent_while_down";
    let Some(url) = vigil_testkit::service_url("VIGIL_TEST_MQTT_URL", TEST) else {
        return;
    };
    let w = world(false).await;
    let run = uuid::Uuid::new_v4();
    let client_id = format!("vigil-test-{run}");
    let topic = |site: &str, kind: &str| format!("vigil-test/{run}/{site}/{kind}");
    let make = || {
        let mut c = config(&w, &[]);
        c.default_org = Some(w.org_b);
        let settings = vigil_pipeline::mqtt::MqttSettings::new(
            &url,
            vec![
                format!("vigil-test/{run}/+/syslog"),
                format!("vigil-test/{run}/+/json/#"),
            ],
            &client_id,
        )
        .expect("settings");
        c.listeners.push(ListenerConfig::mqtt("plants", settings));
        c
    };

    // A fresh session: the listener subscribes, then messages arrive and are stored.
    let p = Pipeline::start(make(), w.store.clone())
        .await
        .expect("start");
    let s = p.stats().clone();
    until("two granted subscriptions", async || {
        get(&s.mqtt_subscribed) == 2
    })
    .await;
    mqtt_publish(
        &url,
        &[
            (
                topic("waterworks", "syslog"),
                "<134>1 2026-11-22T08:00:00Z plc-7 scada - - - pump 3 pressure high\n".into(),
            ),
            (
                topic("waterworks", "json/alarms"),
                r#"{"@timestamp":"2026-11-22T08:00:01Z","message":"valve 12 opened","host":{"name":"plc-8"}}"#.into(),
            ),
            // Not a topic of ours: never delivered.
            (format!("vigil-test/{run}/other"), "ignored".into()),
        ],
    )
    .await;
    until("two stored events", async || get(&s.stored) == 2).await;
    p.shutdown().await;
    let events = events_of(w.store.as_ref(), w.org_b).await;
    assert_eq!(events.len(), 2);
    let by_sender = |t: &str| {
        events
            .iter()
            .find(|e| e.event.provenance.sender.as_deref() == Some(t))
            .unwrap_or_else(|| panic!("no event from {t}: {events:?}"))
    };
    let e = by_sender(&topic("waterworks", "syslog"));
    assert_eq!(e.event.provenance.input, "plants");
    assert_eq!(e.event.message(), "pump 3 pressure high");
    let e = by_sender(&topic("waterworks", "json/alarms"));
    assert_eq!(e.event.message(), "valve 12 opened");

    // Down: QoS 1 messages wait in the broker's session and arrive at the next start, once.
    let down: Vec<(String, String)> = (0..3)
        .map(|i| {
            (
                topic("substation", "syslog"),
                format!("<134>1 2026-11-22T09:00:0{i}Z rtu-1 scada - - - breaker {i} tripped"),
            )
        })
        .collect();
    mqtt_publish(&url, &down).await;
    let p = Pipeline::start(make(), w.store.clone())
        .await
        .expect("restart");
    let s = p.stats().clone();
    until("three stored events after the restart", async || {
        get(&s.stored) == 3
    })
    .await;
    p.shutdown().await;
    mqtt_drop_session(&url, &client_id).await;
    let mut got: Vec<String> = events_of(w.store.as_ref(), w.org_b)
        .await
        .iter()
        .map(|e| e.event.message())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "breaker 0 tripped",
            "breaker 1 tripped",
            "breaker 2 tripped",
            "pump 3 pressure high",
            "valve 12 opened"
        ]
    );
}

/// A test CA that issues server and client certificates.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("key");
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(p, key).expect("ca"),
        }
    }

    /// (certificate PEM, key PEM) for `cn` with DNS names `sans`.
    fn issue(&self, cn: &str, sans: &[&str], client: bool) -> (String, String) {
        let mut p =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

/// Connects with TLS (trusting `ca_pem`, presenting `client` when given), sends `data` and
/// closes. Errors are returned, not raised: refused clients are part of the tests.
async fn tls_send(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    client: Option<&(String, String)>,
    data: &[u8],
) -> Result<(), String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca pem"))
        .expect("root");
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => b
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert pem")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key pem"),
            )
            .expect("client cert"),
        None => b.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(data).await.map_err(|e| e.to_string())?;
    s.shutdown().await.map_err(|e| e.to_string())?;
    // Wait for the server to close (or refuse): the frames are then read.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest),
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_requires_client_certificates_and_maps_them_to_organizations() {
    let w = world(false).await;
    let ca = TestCa::new("Vigil test CA");
    let other_ca = TestCa::new("Someone else's CA");
    let certs = w.data.with_file_name("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    let (server_cert, server_key) = ca.issue("vigil-collector", &["localhost"], false);
    std::fs::write(certs.join("server.pem"), &server_cert).expect("write");
    std::fs::write(certs.join("server.key"), &server_key).expect("write");
    let ca_pem = ca.issuer.pem();
    std::fs::write(certs.join("clients-ca.pem"), &ca_pem).expect("write");

    let mut c = config(&w, &[]);
    let mut l = ListenerConfig::new(
        "syslog-tls",
        ListenerKind::SyslogTls,
        "127.0.0.1:0".parse().expect("addr"),
    );
    l.tls = Some(vigil_pipeline::tls::TlsSettings {
        cert_file: certs.join("server.pem"),
        key_file: certs.join("server.key"),
        client_ca_file: Some(certs.join("clients-ca.pem")),
        client_orgs: vec![vigil_pipeline::tls::ClientOrg {
            name: "GW-1.waterworks.example".into(),
            org: w.org_b,
        }],
    });
    c.listeners.push(l);
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let addr = p.local_addr("syslog-tls").expect("tls addr");

    // Refused: no certificate, and a certificate from a CA the listener does not trust.
    let anonymous = tls_send(
        addr,
        &ca_pem,
        None,
        b"<13>1 2026-11-22T08:00:00Z web-1.corp.example app - - - anonymous\n",
    )
    .await;
    let stranger = other_ca.issue("gw-1.waterworks.example", &[], true);
    let _ = tls_send(
        addr,
        &ca_pem,
        Some(&stranger),
        b"<13>1 2026-11-22T08:00:00Z web-1.corp.example app - - - stranger\n",
    )
    .await;

    // Mapped by its common name: everything it sends is Org B's, even a host of Org A's
    // (octet-counted framing, RFC 5425, and a newline-framed line on one connection).
    let gw1 = ca.issue("gw-1.waterworks.example", &[], true);
    let line = "<13>1 2026-11-22T08:00:01Z web-1.corp.example app - - - from gw-1 claiming web-1";
    let mut data = format!("{} {line}", line.len()).into_bytes();
    data.extend_from_slice(b"<13>1 2026-11-22T08:00:02Z plc-9 app - - - from gw-1 plc-9\n");
    tls_send(addr, &ca_pem, Some(&gw1), &data)
        .await
        .expect("gw-1 sends");
    // A trusted certificate whose names are not mapped: attributed as usual (by host).
    let gw2 = ca.issue("gw-2", &["gw-2.example"], true);
    tls_send(
        addr,
        &ca_pem,
        Some(&gw2),
        b"<13>1 2026-11-22T08:00:03Z web-1.corp.example app - - - from gw-2\n",
    )
    .await
    .expect("gw-2 sends");

    let s = p.stats().clone();
    until("three stored events", async || get(&s.stored) == 3).await;
    p.shutdown().await;
    let mut b: Vec<String> = events_of(w.store.as_ref(), w.org_b)
        .await
        .iter()
        .map(|e| {
            assert_eq!(e.event.asset_id, None, "no asset of another organization");
            e.event.message()
        })
        .collect();
    b.sort();
    assert_eq!(b, ["from gw-1 claiming web-1", "from gw-1 plc-9"]);
    let a: Vec<String> = events_of(w.store.as_ref(), w.org_a)
        .await
        .iter()
        .map(|e| e.event.message())
        .collect();
    assert_eq!(a, ["from gw-2"], "anonymous: {anonymous:?}");
    assert_eq!(get(&s.received), 3);
}

#[test]
fn certificate_names_are_common_names_then_dns_alternative_names() {
    let ca = TestCa::new("CA");
    let (pem, _) = ca.issue("gw-3", &["gw-3.example", "alt.example"], true);
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
    assert_eq!(
        vigil_pipeline::tls::cert_names(&der),
        ["gw-3", "gw-3.example", "alt.example"]
    );
    assert!(vigil_pipeline::tls::cert_names(b"not a certificate").is_empty());
}

fn file_lines(range: std::ops::Range<u32>) -> String {
    range
        .map(|i| format!("<13>1 2026-11-22T08:00:00Z filehost app - - - file line {i}\n"))
        .collect()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailed_files_follow_rotation_and_truncation_and_resume_after_a_restart() {
    let w = world(false).await;
    let logs = w.data.with_file_name("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let log = logs.join("app.log");
    let make = || {
        let mut c = config(&w, &[]);
        c.default_org = Some(w.org_b);
        let mut f =
            vigil_pipeline::tail::FileSettings::new(vec![logs.join("*.log")]).expect("patterns");
        f.poll = Duration::from_millis(50);
        c.listeners.push(ListenerConfig::file("files", f));
        c
    };
    let mut want: Vec<u32> = Vec::new();

    // Written before the start, with an unfinished last line.
    append(&log, &file_lines(0..100));
    append(
        &log,
        "<13>1 2026-11-22T08:00:00Z filehost app - - - file line 100",
    );
    want.extend(0..101);
    let p = Pipeline::start(make(), w.store.clone())
        .await
        .expect("start");
    let s = p.stats().clone();
    until("100 lines", async || get(&s.stored) == 100).await;
    append(&log, "\n");
    until("the finished line", async || get(&s.stored) == 101).await;

    // Rotation by rename: the writer keeps writing to the renamed file for a moment, and a
    // new file appears at the path.
    {
        use std::io::Write;
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        old.write_all(file_lines(101..150).as_bytes())
            .expect("write");
        std::fs::rename(&log, logs.join("app.log.1")).expect("rotate");
        old.write_all(file_lines(150..160).as_bytes())
            .expect("write");
    }
    append(&log, &file_lines(200..220));
    want.extend(101..160);
    want.extend(200..220);
    until("the rotated and the new file", async || {
        get(&s.stored) == 101 + 59 + 20
    })
    .await;

    // Truncation: the file is read again from its start.
    std::fs::write(&log, file_lines(300..305)).expect("truncate");
    want.extend(300..305);
    until("the truncated file", async || get(&s.stored) == 185).await;
    p.shutdown().await;

    // Written while stopped: read after the restart, and nothing read twice.
    append(&log, &file_lines(400..420));
    want.extend(400..420);
    let p = Pipeline::start(make(), w.store.clone())
        .await
        .expect("restart");
    let s = p.stats().clone();
    // A wrong resume offset would read more than these (duplicates, caught below).
    until("the lines written while stopped", async || {
        get(&s.stored) >= 20
    })
    .await;
    p.shutdown().await;

    let mut got: Vec<u32> = Vec::new();
    let mut q = EventQuery {
        limit: 1000,
        ..EventQuery::default()
    };
    loop {
        let page = w
            .store
            .search_events(Scope::Org(w.org_b), &q)
            .await
            .expect("search");
        for e in &page.items {
            assert_eq!(e.event.provenance.input, "files");
            let m = e.event.message();
            got.push(
                m.strip_prefix("file line ")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected event {m:?}")),
            );
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    got.sort();
    want.sort();
    assert_eq!(got, want, "every line once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_without_a_client_ca_accepts_any_client() {
    let w = world(false).await;
    let ca = TestCa::new("Vigil test CA");
    let certs = w.data.with_file_name("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    let (server_cert, server_key) = ca.issue("vigil-collector", &["localhost"], false);
    std::fs::write(certs.join("server.pem"), &server_cert).expect("write");
    std::fs::write(certs.join("server.key"), &server_key).expect("write");
    let mut c = config(&w, &[]);
    c.default_org = Some(w.org_b);
    let mut l = ListenerConfig::new(
        "tls",
        ListenerKind::SyslogTls,
        "127.0.0.1:0".parse().expect("addr"),
    );
    l.tls = Some(vigil_pipeline::tls::TlsSettings {
        cert_file: certs.join("server.pem"),
        key_file: certs.join("server.key"),
        client_ca_file: None,
        client_orgs: vec![],
    });
    c.listeners.push(l);
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let addr = p.local_addr("tls").expect("tls addr");
    tls_send(
        addr,
        &ca.issuer.pem(),
        None,
        b"<13>1 2026-11-22T08:00:00Z web-1.corp.example app - - - over tls\n",
    )
    .await
    .expect("send");
    let s = p.stats().clone();
    until("one stored event", async || get(&s.stored) == 1).await;
    p.shutdown().await;
    let a = events_of(w.store.as_ref(), w.org_a).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].event.message(), "over tls");

    // A key file that is not a key stops the start with the listener's name.
    let mut c = config(&w, &[]);
    let mut l = ListenerConfig::new(
        "tls",
        ListenerKind::SyslogTls,
        "127.0.0.1:0".parse().expect("addr"),
    );
    l.tls = Some(vigil_pipeline::tls::TlsSettings {
        cert_file: certs.join("server.pem"),
        key_file: certs.join("server.pem"),
        client_ca_file: None,
        client_orgs: vec![],
    });
    c.listeners.push(l);
    let e = Pipeline::start(c, w.store.clone())
        .await
        .expect_err("bad key");
    assert!(e.to_string().contains("listener tls"), "{e}");
}

/// Writes `records` into the spool of `w` before any pipeline runs (the next start replays
/// them), so receive times can be chosen.
fn prespool(w: &World, records: &[vigil_pipeline::spool::Record]) {
    let cfg = vigil_pipeline::spool::SpoolConfig {
        segment_bytes: 64 * 1024,
        max_bytes: 16 << 20,
        ..vigil_pipeline::spool::SpoolConfig::new(w.data.join("spool"))
    };
    let (spool, _) = vigil_pipeline::spool::Spool::open(cfg).expect("spool");
    spool.append(records).expect("append");
}

fn frame(input: &str, received_at: &str, line: &str) -> vigil_pipeline::spool::Record {
    vigil_pipeline::spool::Record {
        kind: vigil_pipeline::spool::RecordKind::Frame,
        received_at: received_at.parse().expect("time"),
        input: input.into(),
        sender: Some("127.0.0.1:5514".into()),
        org: None,
        data: line.as_bytes().to_vec(),
    }
}

/// Issue 4, item 2: RFC 3164 carries no zone and no year. The zone is configured per
/// listener (`timezone`), so the same line from a UTC source and an Asia/Shanghai source is
/// 8 h apart in UTC, and the year follows each source's local calendar across New Year.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3164_times_use_the_zone_of_their_listener_across_the_new_year() {
    let w = world(false).await;
    let dec = "<13>Dec 31 23:50:00 web-1.corp.example app: tz-dec";
    let jan = "<13>Jan  1 00:20:00 web-1.corp.example app: tz-jan";
    prespool(
        &w,
        &[
            // Received just after New Year in UTC (08:10 in Shanghai): December is last year
            // in both zones.
            frame("utc", "2027-01-01T00:10:00Z", dec),
            frame("cn", "2027-01-01T00:10:00Z", dec),
            // Shanghai is in 2027 already while UTC is still on 31 December: January is
            // this (local) year, 2027, not 2026.
            frame("cn", "2026-12-31T16:30:00Z", jan),
            frame("utc", "2027-01-01T00:30:00Z", jan),
        ],
    );
    let mut c = config(
        &w,
        &[
            ("utc", ListenerKind::SyslogUdp),
            ("cn", ListenerKind::SyslogUdp),
        ],
    );
    c.listeners[1].timezone = Some("Asia/Shanghai".into());
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let s = p.stats().clone();
    until("4 stored events", async || get(&s.stored) == 4).await;
    // A source added at runtime gets its zone too: the same live line to it and to the UTC
    // listener is 8 h apart.
    let mut live = ListenerConfig::new(
        "cn-live",
        ListenerKind::SyslogUdp,
        "127.0.0.1:0".parse().expect("addr"),
    );
    live.timezone = Some("Asia/Shanghai".into());
    let live_addr = p
        .sources()
        .apply(live, true)
        .await
        .expect("runtime source")
        .expect("bound");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let line = b"<13>Jul  1 12:00:00 web-1.corp.example app: tz-live";
    udp.send_to(line, live_addr).await.expect("send");
    udp.send_to(line, p.local_addr("utc").expect("utc"))
        .await
        .expect("send");
    until("2 live events stored", async || get(&s.stored) == 6).await;
    p.shutdown().await;
    let events = events_of(w.store.as_ref(), w.org_a).await;
    let time = |input: &str, msg: &str| {
        events
            .iter()
            .find(|e| e.event.provenance.input == input && e.event.message().contains(msg))
            .unwrap_or_else(|| panic!("{input} {msg}: {events:?}"))
            .event
            .timestamp
    };
    let ts = |s: &str| s.parse::<jiff::Timestamp>().expect("ts");
    assert_eq!(time("utc", "tz-dec"), ts("2026-12-31T23:50:00Z"));
    assert_eq!(time("cn", "tz-dec"), ts("2026-12-31T15:50:00Z"));
    assert_eq!(time("cn", "tz-jan"), ts("2026-12-31T16:20:00Z"));
    assert_eq!(time("utc", "tz-jan"), ts("2027-01-01T00:20:00Z"));
    for m in ["tz-dec", "tz-jan"] {
        let d = time("utc", m).duration_since(time("cn", m));
        assert_eq!(d, jiff::SignedDuration::from_hours(8), "{m}");
    }
    assert_eq!(
        time("utc", "tz-live").duration_since(time("cn-live", "tz-live")),
        jiff::SignedDuration::from_hours(8)
    );
    // An unknown zone stops the start with the listener named.
    let mut c = config(&w, &[("bad", ListenerKind::SyslogUdp)]);
    c.listeners[0].timezone = Some("Mars/Olympus".into());
    let e = Pipeline::start(c, w.store.clone())
        .await
        .expect_err("unknown zone");
    assert!(e.to_string().contains("bad"), "{e}");
}

/// Issue 4, item 1: HTTP events go through the spool and are detected like listener traffic;
/// the batch in flight at a crash is looked up in the store at the next start and not stored
/// a second time (removing that marker shows the at-least-once replay it prevents).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_events_are_detected_and_a_stored_batch_in_flight_is_not_stored_twice() {
    use vigil_pipeline::intake::IntakeLine;
    let w = world(true).await;
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("start");
    let intake = p.intake();
    let line = |n: u32| {
        format!(
            r#"{{"@timestamp":"2026-11-21T10:00:0{n}Z","event":{{"dataset":"linux.sshd"}},"host":{{"name":"web-1.corp.example"}},"message":"Failed password for admin from 198.51.100.{n} port 22 ssh2"}}"#
        )
        .into_bytes()
    };
    let lines = vec![
        // Organization resolved by the API (an org-scoped token): kept.
        IntakeLine {
            org: Some(w.org_b),
            line: line(1),
        },
        // No organization: attributed by host.name to org A.
        IntakeLine {
            org: None,
            line: line(2),
        },
    ];
    let pos = intake
        .append(Some("token:t".into()), jiff::Timestamp::now(), lines)
        .await
        .expect("spooled");
    assert_eq!(pos, p.spool().end());
    let s = p.stats().clone();
    until("2 stored", async || get(&s.stored) == 2).await;
    let spool = p.spool().clone();
    until("checkpoint at the end", async || {
        spool.committed() == spool.end()
    })
    .await;
    assert_eq!(get(&s.alerts), 2, "one Sigma alert per failed login");
    p.shutdown().await;
    let b = events_of(w.store.as_ref(), w.org_b).await;
    let a = events_of(w.store.as_ref(), w.org_a).await;
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(b[0].event.provenance.input, "api");
    assert_eq!(b[0].event.provenance.sender.as_deref(), Some("token:t"));
    assert_eq!(b[0].event.raw, line(1));
    let alerts_b = w
        .store
        .list_alerts(
            Scope::Org(w.org_b),
            &AlertQuery {
                limit: 10,
                ..AlertQuery::default()
            },
        )
        .await
        .expect("alerts")
        .items;
    assert_eq!(alerts_b.len(), 1);
    assert_eq!(alerts_b[0].spec.event_ids, vec![b[0].id]);

    // A crash after the store and before the checkpoint: the checkpoint file still points
    // at the batch's start.
    let spool_dir = w.data.join("spool");
    let rewind = || {
        let off = "0";
        std::fs::write(
            spool_dir.join("checkpoint"),
            format!("vigil-spool 1 {off} {}\n", crc32fast::hash(off.as_bytes())),
        )
        .expect("rewind checkpoint");
    };
    rewind();
    restart_skipping_the_stored_batch(&w).await;
    assert_eq!(events_of(w.store.as_ref(), w.org_b).await.len(), 1);
    assert_eq!(events_of(w.store.as_ref(), w.org_a).await.len(), 1);

    // Without the marker the same replay stores the batch again (at least once).
    rewind();
    std::fs::remove_file(spool_dir.join("inflight")).expect("marker");
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("restart");
    let s = p.stats().clone();
    until("2 stored again", async || get(&s.stored) == 2).await;
    p.shutdown().await;
    assert_eq!(events_of(w.store.as_ref(), w.org_b).await.len(), 2);
}

/// A spool over its bound refuses an HTTP batch whole (backpressure, counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_batches_get_spool_full_when_the_spool_is_at_its_bound() {
    use vigil_pipeline::intake::{IntakeError, IntakeLine};
    let w = world(true).await;
    let mut c = config(&w, &[]);
    c.process = false;
    c.spool_max_bytes = 128 * 1024;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let intake = p.intake();
    let line = |i: usize| IntakeLine {
        org: Some(w.org_a),
        line: format!(r#"{{"message":"fill {i} {}"}}"#, "z".repeat(900)).into_bytes(),
    };
    let mut accepted = 0;
    let full = loop {
        match intake
            .append(None, jiff::Timestamp::now(), (0..10).map(line).collect())
            .await
        {
            Ok(_) => accepted += 10,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "the spool never filled");
    };
    assert!(matches!(full, IntakeError::Full { .. }), "{full}");
    assert!(accepted > 0);
    let s = p.stats().clone();
    assert_eq!(get(&s.spool_full), 1);
    assert_eq!(get(&s.spooled), accepted);
    let end = p.spool().end();
    p.shutdown().await;
    // Nothing of the refused batch is in the spool.
    assert!(end <= 128 * 1024);
}
