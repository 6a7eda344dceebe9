//! In-process evaluation on real attack logs: the SigmaHQ Windows rules (as `vigil hunt`
//! loads them, EVTX field mapping) on every record of ../shared/data/evtx-samples, parsed
//! once beforehand into the JSON values `vigil hunt` evaluates. One core. Skipped with a
//! printed line when the corpora are absent.
//!
//! `cargo bench -p vigil-hunt --bench eval_evtx`
//!
//! vigil-sigma's own `eval` bench measures the same rules on the SigmaHQ regression samples
//! (one event per rule, each built to trigger it): that is the worst case per event; this
//! is the mix an analyst's collected logs have.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sigma::{CompileOptions, LogSource, RuleSet, Scratch};

fn benches(c: &mut Criterion) {
    let (Some(rules_dir), Some(evtx_dir)) = (
        vigil_testkit::shared_data("sigma-rules", "bench eval_evtx"),
        vigil_testkit::shared_data("evtx-samples", "bench eval_evtx"),
    ) else {
        return;
    };
    let rules = vigil_testkit::read_tree(&rules_dir.join("rules/windows"), "yml");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let (set, _) = RuleSet::compile_with(&rules, &opts);
    let events = vigil_hunt::read_evtx_values(std::slice::from_ref(&evtx_dir));
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    let hits = set.count_matches(&events, &ls, &mut scratch);
    println!(
        "eval_evtx: {} Windows rules, {} events from {}, {hits} rule matches in one pass",
        set.stats().rules,
        events.len(),
        evtx_dir.display()
    );

    let mut g = c.benchmark_group("eval");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("windows_rules_on_evtx_samples", |b| {
        b.iter(|| black_box(set.count_matches(black_box(&events), &ls, &mut scratch)))
    });
    g.finish();
}

criterion_group!(eval, benches);
criterion_main!(eval);
