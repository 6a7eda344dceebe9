//! How long the live pipeline takes to load indicators from a SQLite store into its matcher
//! (issue 5, item 7), and the memory it needs:
//!
//! ```sh
//! cargo run --release -p vigil-pipeline --example intel_store_load -- --indicators 1000000
//! ```
//!
//! Stores `--indicators N` (default 1,000,000) generated indicators of one source in a fresh
//! SQLite store under `--dir` (default a temporary directory), in batches of 5,000 as an
//! import does, then runs `IntelMatcher::load` (what `intel_refresh` runs) and prints both
//! times and the peak resident memory (`VmHWM`). Each indicator is one value (IPv4, domain,
//! URL, SHA-256, MD5, e-mail, in turn) with a minimal STIX object. `--load-only` with `--dir`
//! of an earlier run skips storing and only loads.
//!
//! `--postgres URL` stores into and loads from PostgreSQL instead (the tables in the schema
//! `--schema`, default `vigil_bench_intel`, created when missing and kept for `--load-only`).
//! Besides the peak, the resident memory at the end is split into anonymous memory (the
//! process's heap) and file pages (SQLite's memory-mapped reads).

use std::sync::Arc;
use std::time::Instant;

use vigil_pipeline::intel::IntelMatcher;
use vigil_store::postgres::PgStore;
use vigil_store::sqlite::SqliteStore;
use vigil_store::{NewIndicator, NewIntelSource, Store};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn value(i: usize) -> (&'static str, String) {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    match i % 6 {
        0 => ("ipv4", std::net::Ipv4Addr::from(h as u32).to_string()),
        1 => ("domain", format!("c2-{i:x}.evil{}.com", h % 1000)),
        2 => (
            "url",
            format!("http://dl{}.example.net/p/{i:x}/x.exe", h % 5000),
        ),
        3 => ("sha256", format!("{h:016x}{:016x}{h:016x}{i:016x}", !h)),
        4 => ("md5", format!("{h:016x}{i:016x}")),
        _ => ("email", format!("phish{i:x}@mail{}.example", h % 100)),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--indicators")
        .map(|v| v.replace(['_', ','], "").parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let dir = arg(&args, "--dir").map_or_else(|| tmp.path().to_path_buf(), Into::into);
    let store: Arc<dyn Store> = match arg(&args, "--postgres") {
        Some(url) => {
            let schema = arg(&args, "--schema").unwrap_or_else(|| "vigil_bench_intel".into());
            Arc::new(PgStore::connect_with_schema(&url, &schema).await?)
        }
        None => Arc::new(SqliteStore::open(&dir)?),
    };
    let source = store
        .upsert_intel_source(NewIntelSource {
            name: "bench-feed".into(),
            kind: "stix".into(),
            url: None,
            enabled: true,
            trust: 70,
        })
        .await?
        .id;
    let modified = jiff::Timestamp::now();
    let t = Instant::now();
    // `--load-only`: the store under `--dir` already holds them (from an earlier run).
    let mut i = if args.iter().any(|a| a == "--load-only") {
        n
    } else {
        0
    };
    while i < n {
        let batch: Vec<NewIndicator> = (i..(i + 5_000).min(n))
            .map(|j| {
                let (kind, v) = value(j);
                let id = format!("indicator--{}", uuid::Uuid::from_u128(j as u128 + 1));
                NewIndicator {
                    source_id: source,
                    stix_id: id.clone(),
                    kind: kind.into(),
                    value: Some(v.clone()),
                    values: vec![format!("{kind}:{v}")],
                    pattern: None,
                    name: None,
                    description: None,
                    confidence: 70,
                    tlp: Some("green".into()),
                    valid_from: None,
                    valid_until: None,
                    labels: vec!["c2".into()],
                    kill_chain: vec![],
                    attack_ids: vec![],
                    modified,
                    revoked: false,
                    object: serde_json::json!({"type": "indicator", "id": id}),
                }
            })
            .collect();
        i += batch.len();
        store.upsert_indicators(batch).await?;
    }
    let stored = t.elapsed();
    if i > 0 && stored.as_secs_f64() > 0.1 {
        println!(
            "stored {n} indicators in {:.1} s ({:.0}/s)",
            stored.as_secs_f64(),
            n as f64 / stored.as_secs_f64()
        );
    }
    let rss0 = status_kib("VmRSS:");
    let t = Instant::now();
    let (m, r) = IntelMatcher::load(store.as_ref()).await?;
    let loaded = t.elapsed();
    println!(
        "IntelMatcher::load: {} stored, {} values in {:.1} s ({:.0}/s); resident before {:?} KiB, after {:?} KiB, peak (VmHWM) {:?} KiB",
        r.stored,
        m.set().len(),
        loaded.as_secs_f64(),
        r.stored as f64 / loaded.as_secs_f64(),
        rss0,
        status_kib("VmRSS:"),
        status_kib("VmHWM:")
    );
    println!(
        "  the set's own estimate: {:.0} MiB; resident now: anonymous {:?} KiB, file {:?} KiB",
        m.set().approx_heap_bytes() as f64 / 1048576.0,
        status_kib("RssAnon:"),
        status_kib("RssFile:")
    );
    Ok(())
}
