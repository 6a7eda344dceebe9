//! Load and lookup rate of the indicator matcher at scale (issue 5, item 7):
//!
//! ```sh
//! cargo run --release -p vigil-intel --example intel_scale -- --indicators 10000000
//! ```
//!
//! Generates the mixed set of `benches/common` lazily while building the `IndicatorSet` (so
//! the load time includes generating the values, and no second copy is held), then prints the
//! load time, the peak resident memory of the process (`VmHWM`), and the lookup rate on one
//! core over pre-parsed values (`IndicatorSet::lookup`) and over text (`lookup_text`, the
//! allocation-free path for addresses, ASCII domains and digests), at the given hit rate.
//! Options: `--indicators N` (10,000,000), `--probes N` (1,000,000), `--hit-every N` (2: 50 %
//! hits), `--passes N` (5, best taken), `--lookups-only` (skip the text pass).

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;
use vigil_intel::{IndicatorSet, IndicatorValue};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".into(), |k| {
        format!("{:.0} MiB", k as f64 / 1024.0)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--indicators", 10_000_000);
    let probes_n = arg(&args, "--probes", 1_000_000).max(1);
    let hit_every = arg(&args, "--hit-every", 2).max(1);
    let passes = arg(&args, "--passes", 5).max(1);
    let rss0 = common::status_kib("VmRSS:");
    let t = Instant::now();
    let set = IndicatorSet::build(common::indicators(n), Vec::new());
    let load = t.elapsed();
    let stats = set.stats();
    println!(
        "loaded {} indicators ({} merged) in {:.2} s ({:.0}/s, generation included)",
        stats.indicators,
        stats.duplicates_merged,
        load.as_secs_f64(),
        stats.indicators as f64 / load.as_secs_f64()
    );
    println!("  by kind {:?}", stats.by_kind);
    println!(
        "  resident before {}, after {}, peak (VmHWM) {}; set's own estimate {:.0} MiB = {:.0} bytes/indicator",
        mib(rss0),
        mib(common::status_kib("VmRSS:")),
        mib(common::status_kib("VmHWM:")),
        set.approx_heap_bytes() as f64 / 1048576.0,
        set.approx_heap_bytes() as f64 / stats.indicators.max(1) as f64
    );
    let probes = common::probes(&set, probes_n, hit_every);
    let texts: Vec<(vigil_intel::IndicatorKind, String)> =
        probes.iter().map(|v| (v.kind(), v.text())).collect();
    let now = jiff::Timestamp::now();
    let mut hits = 0usize;
    for p in &probes {
        set.lookup(p, now, |_| hits += 1);
    }
    println!("  {probes_n} probes, one in {hit_every} derived from an indicator: {hits} hits");
    let rate = |f: &dyn Fn() -> usize| {
        (0..passes)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                probes_n as f64 / t.elapsed().as_secs_f64()
            })
            .fold(0.0f64, f64::max)
    };
    let values = rate(&|| {
        let mut n = 0usize;
        for p in &probes {
            set.lookup(black_box(p), now, |_| n += 1);
        }
        n
    });
    println!(
        "  lookup (parsed values): {:.2} M lookups/s on one core (best of {passes})",
        values / 1e6
    );
    if !args.iter().any(|a| a == "--lookups-only") {
        let text = rate(&|| {
            let mut n = 0usize;
            for (k, t) in &texts {
                set.lookup_text(*k, black_box(t), now, |_| n += 1);
            }
            n
        });
        println!(
            "  lookup_text (text in, normalized on the stack where it can be): {:.2} M lookups/s",
            text / 1e6
        );
    }
    let _: Option<&IndicatorValue> = probes.first();
}
