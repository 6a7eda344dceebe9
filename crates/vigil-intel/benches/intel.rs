//! Matcher and importer benchmarks.
//!
//! - `lookup/mixed_1m`: observable lookups against 1,000,000 mixed indicators (IPv4 hosts and
//!   networks, IPv6, domains, URLs, MD5/SHA-1/SHA-256, e-mail, JA3); `mixed_1m_hits50pct`
//!   has every second probe derived from an indicator (a pessimistic mix: a hit costs cache
//!   misses on the indicator and, for strings, its heap bytes), `mixed_1m_hits1pct` one in a
//!   hundred (closer to live traffic, where almost every observable misses); throughput is
//!   lookups/s on one core; `mixed_1m_hits50pct_text` is the 50% mix given as text to
//!   `lookup_text`. A per-type breakdown of the 50% mix is printed. Build time and memory (the set's own
//!   estimate and the change in resident memory) are printed once before the runs.
//! - `match_event/ecs_fields`: `observables_from_fields` + `match_event` on a realistic ECS
//!   field map (9 observables), per event.
//! - `import/attack_enterprise`: import of the 24,771-object ATT&CK Enterprise bundle
//!   (skipped with a SKIP line when ../shared/data is absent).
//!
//! `cargo bench -p vigil-intel`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use serde_json::json;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;
use vigil_intel::{
    IndicatorKind, IndicatorSet, IndicatorValue, Intel, Source, observables_from_fields,
};

mod common;
use common::{indicators, probes};

fn rss_kib() -> Option<u64> {
    common::status_kib("VmRSS:")
}

const INDICATORS: usize = 1_000_000;
const PROBES: usize = 100_000;

fn lookup(c: &mut Criterion) {
    let rss0 = rss_kib();
    let t = Instant::now();
    let inds: Vec<_> = indicators(INDICATORS).collect();
    let generated = t.elapsed();
    let t = Instant::now();
    let set = IndicatorSet::build(inds, Vec::new());
    let built = t.elapsed();
    let rss1 = rss_kib();
    let stats = set.stats();
    println!(
        "indicator set: {} indicators ({} merged), generated in {:.2?}, built in {:.2?} ({:.0} indicators/s)",
        stats.indicators,
        stats.duplicates_merged,
        generated,
        built,
        stats.indicators as f64 / built.as_secs_f64()
    );
    println!(
        "  by kind {:?}; ipv4 segments {}, ipv6 segments {}",
        stats.by_kind, stats.ipv4_segments, stats.ipv6_segments
    );
    println!(
        "  approx heap {:.1} MiB = {:.0} bytes/indicator; resident growth {} (generation + build)",
        set.approx_heap_bytes() as f64 / 1048576.0,
        set.approx_heap_bytes() as f64 / stats.indicators as f64,
        match (rss0, rss1) {
            (Some(a), Some(b)) => format!(
                "{:.1} MiB = {:.0} bytes/indicator",
                (b - a) as f64 / 1024.0,
                (b - a) as f64 * 1024.0 / stats.indicators as f64
            ),
            _ => "unknown".into(),
        }
    );
    let probes_1 = probes(&set, PROBES, 100);
    let probes = probes(&set, PROBES, 2);
    let now = Timestamp::from_second(1_763_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut hits = 0usize;
    for p in &probes {
        set.lookup(p, now, |_| hits += 1);
    }
    println!("  probes: {PROBES}, hits {hits}");
    // A rough per-type breakdown (wall clock, best of 5 passes) to show where time goes.
    let mut by_kind: BTreeMap<String, Vec<&IndicatorValue>> = BTreeMap::new();
    for p in &probes {
        by_kind.entry(p.kind().to_string()).or_default().push(p);
    }
    for (kind, ps) in &by_kind {
        let best = (0..5)
            .map(|_| {
                let t = Instant::now();
                let mut n = 0usize;
                for p in ps {
                    set.lookup(black_box(p), now, |_| n += 1);
                }
                black_box(n);
                t.elapsed().as_nanos() as f64 / ps.len() as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!("  {kind:>7}: {:6} probes, {best:6.0} ns/lookup", ps.len());
    }
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(PROBES as u64));
    for (name, ps) in [
        ("mixed_1m_hits50pct", &probes),
        ("mixed_1m_hits1pct", &probes_1),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for p in ps {
                    set.lookup(black_box(p), now, |_| n += 1);
                }
                black_box(n)
            })
        });
    }
    // The same probes as text, through the allocation-free path (addresses, ASCII domains
    // and digests normalized on the stack; URLs and e-mail addresses through the parser).
    let texts: Vec<(IndicatorKind, String)> = probes.iter().map(|v| (v.kind(), v.text())).collect();
    g.bench_function("mixed_1m_hits50pct_text", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (k, t) in &texts {
                set.lookup_text(*k, black_box(t), now, |_| n += 1);
            }
            black_box(n)
        })
    });
    g.finish();

    let fields: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({
        "source.ip": "10.20.3.4",
        "destination.ip": "203.0.113.9",
        "dns.question.name": "www.c2-1f.evil7.com",
        "url.domain": "dl42.example.net",
        "url.full": "http://dl42.example.net/p/1f/payload.exe",
        "tls.server.name": "cdn.example.org",
        "file.hash.sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "email.from.address": "a@mail7.example",
        "tls.client.ja3": "e7d705a3286e19ea42f587b344ee6865",
        "event.action": "connection"
    }))
    .unwrap_or_default();
    let mut g = c.benchmark_group("match_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ecs_fields", |b| {
        b.iter(|| {
            let obs = observables_from_fields(black_box(&fields));
            black_box(set.match_event(&obs, now).len())
        })
    });
    g.finish();
}

fn import(c: &mut Criterion) {
    let path = vigil_testkit::workspace_root()
        .join("../shared/data/stix-samples/enterprise-attack-v18-stix20-assembled.json");
    let Ok(bytes) = std::fs::read(&path) else {
        println!(
            "SKIP import/attack_enterprise: {} is missing",
            path.display()
        );
        return;
    };
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(24_771));
    g.bench_function("attack_enterprise", |b| {
        b.iter(|| {
            let mut intel = Intel::new();
            let (s, _) = intel.import_stix(black_box(&bytes), &Source::new("mitre-attack"));
            black_box(s.objects)
        })
    });
    g.finish();
}

criterion_group!(benches, lookup, import);
criterion_main!(benches);
