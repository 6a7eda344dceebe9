//! PostgreSQL event append: batches of 1,000 realistic events through binary COPY.
//!
//! Each event has six of the twelve indexed fields, a few other fields and a raw syslog line
//! of about 300 bytes. The store lives in a fresh schema of the database named by
//! `VIGIL_TEST_POSTGRES_URL`, dropped at the end; without the variable the bench prints a SKIP
//! line and does nothing.
//!
//! ```text
//! VIGIL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p vigil-store --bench append_pg
//! ```

use criterion::{BatchSize, Criterion, Throughput};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_model::{NewEvent, OrgId, Provenance, Timestamp};
use vigil_store::Store;
use vigil_store::postgres::PgStore;

const BATCH: usize = 1_000;

/// A small deterministic generator, so every run appends the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

fn batch(org: OrgId, rng: &mut Lcg, start: Timestamp) -> Vec<NewEvent> {
    const ACTIONS: [&str; 5] = [
        "logon-failed",
        "logon",
        "process-started",
        "connection-accepted",
        "file-created",
    ];
    const HOSTS: [&str; 4] = ["hmi-01", "plc-gw-02", "scada-srv", "eng-ws-07"];
    const USERS: [&str; 4] = ["root", "operator", "admin", "svc_backup"];
    (0..BATCH)
        .map(|i| {
            let src = format!(
                "10.{}.{}.{}",
                rng.next() % 256,
                rng.next() % 256,
                rng.next() % 256
            );
            let dst = format!("192.168.{}.{}", rng.next() % 16, rng.next() % 256);
            let port = [22u64, 80, 443, 502, 102, 3389][(rng.next() % 6) as usize];
            let action = rng.pick(&ACTIONS);
            let host = rng.pick(&HOSTS);
            let user = rng.pick(&USERS);
            let ts = start
                .checked_add(Duration::from_millis(i as u64 * 7))
                .unwrap_or(start);
            let raw = format!(
                "<38>1 {ts} {host} sshd 4123 - [meta sequenceId=\"{i}\"] {action} for user {user} \
                 from {src} port {} ssh2 to {dst}:{port}; session opened by uid=0, tty=pts/3, \
                 cipher=chacha20-poly1305@openssh.com kex=curve25519-sha256 hostkey=ssh-ed25519 \
                 mac=hmac-sha2-256-etm@openssh.com",
                40_000 + rng.next() % 20_000
            );
            let mut fields: BTreeMap<String, Value> = BTreeMap::new();
            fields.insert("event.category".into(), json!("authentication"));
            fields.insert("event.action".into(), json!(action));
            fields.insert(
                "event.outcome".into(),
                json!(if i % 3 == 0 { "failure" } else { "success" }),
            );
            fields.insert("source.ip".into(), json!(src));
            fields.insert("destination.port".into(), json!(port));
            fields.insert("host.name".into(), json!(host));
            fields.insert("user.name".into(), json!(user));
            fields.insert("destination.address".into(), json!(dst));
            fields.insert("process.pid".into(), json!(4123));
            fields.insert("log.syslog.facility.code".into(), json!(4));
            fields.insert(
                "message".into(),
                json!(format!("{action} for user {user} from {src}")),
            );
            NewEvent {
                org_id: org,
                asset_id: None,
                timestamp: ts,
                received_at: ts,
                provenance: Provenance {
                    input: "syslog-tcp".into(),
                    sender: Some("10.0.0.5:51514".into()),
                },
                fields,
                native: BTreeMap::new(),
                raw: raw.into_bytes(),
            }
        })
        .collect()
}

fn main() {
    let Some(url) = vigil_testkit::service_url("VIGIL_TEST_POSTGRES_URL", "append_pg") else {
        return;
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    };
    let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
    let store = match rt.block_on(PgStore::connect_with_schema(&url, &schema)) {
        Ok(s) => s.drop_schema_when_dropped(),
        Err(e) => panic!("cannot open the PostgreSQL store: {e}"),
    };
    let org = match rt.block_on(store.create_org(vigil_model::NewOrganization {
        name: "Bench Grid Co.".into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: None,
        miit_grade: None,
        responsible: vigil_model::Contact {
            name: "Li Wei".into(),
            ..Default::default()
        },
        contacts: vec![],
    })) {
        Ok(o) => o.id,
        Err(e) => panic!("cannot create the organization: {e}"),
    };
    let sample = batch(org, &mut Lcg(1), Timestamp::UNIX_EPOCH);
    let raw_avg = sample.iter().map(|e| e.raw.len()).sum::<usize>() / BATCH;
    println!("append_pg: batches of {BATCH} events, raw lines of {raw_avg} bytes on average");

    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut group = c.benchmark_group("postgres");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut rng = Lcg(7);
    let mut start = Timestamp::now();
    group.bench_function("append_events_copy_1000", |b| {
        b.iter_batched(
            || {
                start = start.checked_add(Duration::from_secs(10)).unwrap_or(start);
                batch(org, &mut rng, start)
            },
            |events| match rt.block_on(store.append_events(events)) {
                Ok(ids) => ids,
                Err(e) => panic!("append failed: {e}"),
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
    c.final_summary();
    drop(store);
}
