//! Event search over the SQLite store's chunks: 300,000 events (300 batches of the append
//! bench's sshd-like events, a second apart) in one organization, pages of 50, newest first.
//! Shapes: no filter; a rare indexed value (one event per chunk); a common indexed value; a
//! value of a field outside the indexed dozen (decompresses and parses every candidate
//! chunk); free text; an indexed value that is nowhere (postings say no for every chunk).
//!
//! `cargo bench -p vigil-store --bench search -- --quick`

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::collections::BTreeMap;
use vigil_model::{Contact, NewEvent, NewOrganization, OrgId, Provenance, Scope, Timestamp};
use vigil_store::sqlite::SqliteStore;
use vigil_store::{EventQuery, FieldFilter, Store};

const BATCH: usize = 1_000;
const BATCHES: usize = 300;

fn event(org: OrgId, batch: usize, i: usize) -> NewEvent {
    let ts = Timestamp::from_microsecond(
        1_772_323_200_000_000 + batch as i64 * 1_000_000 + i as i64 * 1_000,
    )
    .unwrap_or(Timestamp::UNIX_EPOCH);
    let src = format!("203.0.{}.{}", (i / 250) % 250, i % 250);
    let host = format!("scada-hmi-{:02}", i % 40);
    let outcome = if i.is_multiple_of(7) {
        "success"
    } else {
        "failure"
    };
    let port = 40_000 + (i % 20_000);
    let message = format!(
        "Failed password for invalid user admin from {src} port {port} ssh2 [session {i:08x}]"
    );
    let mut fields = BTreeMap::new();
    fields.insert("event.category".into(), json!("authentication"));
    fields.insert("event.outcome".into(), json!(outcome));
    fields.insert("source.ip".into(), json!(src));
    fields.insert("host.name".into(), json!(host));
    fields.insert("source.port".into(), json!(port));
    fields.insert("message".into(), json!(message));
    NewEvent {
        org_id: org,
        asset_id: None,
        timestamp: ts,
        received_at: ts,
        provenance: Provenance {
            input: "syslog-tcp".into(),
            sender: None,
        },
        raw: format!("<38>1 - {host} sshd - - - {message}").into_bytes(),
        fields,
        native: BTreeMap::new(),
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
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open store");
    let org = rt
        .block_on(store.create_org(NewOrganization {
            name: "Search Bench Co.".into(),
            uscc: None,
            sector: "power".into(),
            region_code: "330100".into(),
            mlps_level: 3,
            cii: false,
            miit_type: None,
            miit_grade: None,
            responsible: Contact {
                name: "Zhang Min".into(),
                ..Contact::default()
            },
            contacts: vec![],
        }))
        .expect("org")
        .id;
    for b in 0..BATCHES {
        let events = (0..BATCH).map(|i| event(org, b, i)).collect();
        rt.block_on(store.append_events(events)).expect("append");
    }
    let filter = |f: &str, v: &str| {
        vec![FieldFilter {
            field: f.into(),
            value: v.into(),
        }]
    };
    let shapes: Vec<(&str, EventQuery)> = vec![
        ("first_page", EventQuery::default()),
        (
            "indexed_rare",
            EventQuery {
                filters: filter("source.ip", "203.0.3.7"),
                ..EventQuery::default()
            },
        ),
        (
            "indexed_common",
            EventQuery {
                filters: filter("event.outcome", "success"),
                ..EventQuery::default()
            },
        ),
        (
            "not_indexed",
            EventQuery {
                filters: filter("source.port", "40007"),
                ..EventQuery::default()
            },
        ),
        (
            "free_text",
            EventQuery {
                text: Some("SESSION 000003E7".into()),
                ..EventQuery::default()
            },
        ),
        (
            "indexed_absent",
            EventQuery {
                filters: filter("source.ip", "192.0.2.1"),
                ..EventQuery::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("sqlite_search_300k");
    for (name, mut q) in shapes {
        q.limit = 50;
        group.bench_function(name, |b| {
            b.iter(|| {
                let page = rt
                    .block_on(store.search_events(Scope::All, &q))
                    .expect("search");
                assert!(page.items.len() <= 50);
                page
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
