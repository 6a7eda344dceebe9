//! Event append throughput of the SQLite store: batches of 1,000 realistic events (half of
//! the twelve indexed fields set, a ~300-byte syslog line as raw) into a fresh store in a
//! temporary directory, through the public `Store::append_events` (encoding and compression
//! on the calling side, then the writer thread, one transaction per batch). Source addresses repeat across batches (1,000 distinct ones), so
//! the `source_ip` index takes inserts all over its range, as it does in production.
//!
//! `cargo bench -p vigil-store --bench append -- --quick`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::collections::BTreeMap;
use vigil_model::{Contact, NewEvent, NewOrganization, OrgId, Provenance, Timestamp};
use vigil_store::Store;
use vigil_store::sqlite::{SqliteOptions, SqliteStore};

const BATCH: usize = 1_000;

fn org_spec() -> NewOrganization {
    NewOrganization {
        name: "Bench Grid Co.".into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: None,
        miit_grade: None,
        responsible: Contact {
            name: "Li Wei".into(),
            ..Contact::default()
        },
        contacts: vec![],
    }
}

/// One sshd/firewall-like event; `i` varies addresses, hosts, users and time.
fn event(org: OrgId, i: usize) -> NewEvent {
    let ts = Timestamp::from_microsecond(1_772_323_200_000_000 + i as i64 * 1_000)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let src = format!("203.0.{}.{}", (i / 250) % 250, i % 250);
    let host = format!("scada-hmi-{:02}", i % 40);
    let user = ["operator", "admin", "maint", "root"][i % 4];
    let outcome = if i.is_multiple_of(7) {
        "success"
    } else {
        "failure"
    };
    let port = 40_000 + (i % 20_000);
    let message = format!(
        "Failed password for invalid user {user} from {src} port {port} ssh2 \
         [session {i:08x}]"
    );
    let raw = format!(
        "<38>1 2026-03-01T00:00:{:02}.{:06}Z {host}.plant.example.cn sshd 4211 AUTH \
         [origin ip=\"10.20.3.{}\" enterpriseId=\"32473\"] {message} \
         kex=curve25519-sha256 cipher=chacha20-poly1305@openssh.com",
        (i / 1000) % 60,
        (i % 1000) * 1000,
        i % 250
    );
    let mut fields = BTreeMap::new();
    // Six of the twelve indexed fields.
    fields.insert("event.category".into(), json!("authentication"));
    fields.insert("event.action".into(), json!("ssh-login"));
    fields.insert("event.outcome".into(), json!(outcome));
    fields.insert("source.ip".into(), json!(src));
    fields.insert("host.name".into(), json!(host));
    fields.insert("user.name".into(), json!(user));
    // And some that are not indexed.
    fields.insert("source.port".into(), json!(port));
    fields.insert("process.pid".into(), json!(4211));
    fields.insert("log.syslog.facility.code".into(), json!(4));
    fields.insert("message".into(), json!(message));
    let mut native = BTreeMap::new();
    native.insert("appname".into(), json!("sshd"));
    NewEvent {
        org_id: org,
        asset_id: None,
        timestamp: ts,
        received_at: ts,
        provenance: Provenance {
            input: "syslog-tcp".into(),
            sender: Some("10.20.3.1:514".into()),
        },
        fields,
        native,
        raw: raw.into_bytes(),
    }
}

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let mut group = c.benchmark_group("sqlite_append");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, durable) in [("batch_1000", false), ("batch_1000_fsync_full", true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_with(
            dir.path(),
            &SqliteOptions {
                durable_fsync: durable,
            },
        )
        .expect("open store");
        let org = rt.block_on(store.create_org(org_spec())).expect("org").id;
        let batch: Vec<NewEvent> = (0..BATCH).map(|i| event(org, i)).collect();
        let raw_len = batch.iter().map(|e| e.raw.len()).sum::<usize>() / BATCH;
        eprintln!("{name}: average raw line {raw_len} bytes");
        // Each batch a second later than the one before, as a live stream would be: the time
        // indexes then grow at their end instead of every batch landing between the
        // previous ones.
        let mut shift = 0i64;
        let mut next_batch = || {
            shift += 1_000_000;
            let mut b = batch.clone();
            for e in &mut b {
                e.timestamp = Timestamp::from_microsecond(e.timestamp.as_microsecond() + shift)
                    .unwrap_or(e.timestamp);
                e.received_at = e.timestamp;
            }
            b
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                &mut next_batch,
                |events| {
                    let ids = rt.block_on(store.append_events(events)).expect("append");
                    assert_eq!(ids.len(), BATCH);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    // Four appenders at once: the writer commits their batches together (group commit).
    let mut group = c.benchmark_group("sqlite_append_concurrent");
    group.throughput(Throughput::Elements(4 * BATCH as u64));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(SqliteStore::open(dir.path()).expect("open store"));
    let org = rt.block_on(store.create_org(org_spec())).expect("org").id;
    let batch: Vec<NewEvent> = (0..BATCH).map(|i| event(org, i)).collect();
    let mut shift = 0i64;
    group.bench_function("4x_batch_1000", |b| {
        b.iter_batched(
            || {
                (0..4)
                    .map(|_| {
                        shift += 250_000;
                        let mut v = batch.clone();
                        for e in &mut v {
                            e.timestamp =
                                Timestamp::from_microsecond(e.timestamp.as_microsecond() + shift)
                                    .unwrap_or(e.timestamp);
                        }
                        v
                    })
                    .collect::<Vec<_>>()
            },
            |batches| {
                rt.block_on(async {
                    let tasks: Vec<_> = batches
                        .into_iter()
                        .map(|events| {
                            let store = std::sync::Arc::clone(&store);
                            tokio::spawn(async move { store.append_events(events).await })
                        })
                        .collect();
                    for t in tasks {
                        let ids = t.await.expect("join").expect("append");
                        assert_eq!(ids.len(), BATCH);
                    }
                })
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
