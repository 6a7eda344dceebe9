//! Benchmarks: compiling the whole SigmaHQ corpus, and evaluating all Windows rules on
//! pre-parsed EVTX-JSON events (the SigmaHQ regression samples). Run with
//! `cargo bench -p vigil-sigma`; skipped with a printed line when the corpus is absent.
//! The correlation benchmark needs no corpus: synthetic logon events through four
//! correlations with group-by (one of them chained).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sigma::{CompileOptions, CorrelationEngine, LogSource, RuleSet, Scratch};

fn benches(c: &mut Criterion) {
    let (Some(rules_dir), Some(reg_dir)) = (
        vigil_testkit::shared_data("sigma-rules", "bench eval"),
        vigil_testkit::shared_data("sigma-regression", "bench eval"),
    ) else {
        return;
    };
    let files = vigil_testkit::read_tree(&rules_dir, "yml");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");

    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("compile_sigmahq_corpus", |b| {
        b.iter(|| black_box(RuleSet::compile_with(black_box(&files), &opts)))
    });
    g.finish();

    let windows: Vec<(String, String)> = files
        .iter()
        .filter(|(p, t)| p.contains("/windows/") && t.contains("product: windows"))
        .cloned()
        .collect();
    let (set, _) = RuleSet::compile_with(&windows, &opts);
    let jsons = vigil_testkit::read_tree(&reg_dir, "json");
    let mut events = Vec::new();
    for (_, text) in &jsons {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        events.extend(stream.map_while(Result::ok));
    }
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    println!(
        "eval: {} Windows rules ({:?}), {} events, {} matches in one pass",
        set.stats().rules,
        set.stats(),
        events.len(),
        set.count_matches(&events, &ls, &mut scratch)
    );

    let mut g = c.benchmark_group("eval");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("windows_rules_on_regression_events", |b| {
        b.iter(|| black_box(set.count_matches(black_box(&events), &ls, &mut scratch)))
    });
    g.finish();
}

const CORRELATIONS: &str = r#"
title: Failed logon
name: failed_logon
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Successful logon
name: successful_logon
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4624}, condition: sel}
---
title: Special privileges
name: special_privileges
logsource: {product: windows, service: security}
detection: {sel: {EventID: 4672}, condition: sel}
---
title: Many failed logons
name: many_failed
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 5}
---
title: Password spraying
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 10m
  condition: {field: TargetUserName, gte: 20}
---
title: Failures then success
correlation:
  type: temporal_ordered
  rules: [many_failed, successful_logon]
  group-by: [TargetUserName]
  timespan: 10m
---
title: Logon with privileges
correlation:
  type: temporal
  rules: [successful_logon, special_privileges]
  group-by: [TargetUserName, IpAddress]
  timespan: 1m
"#;

/// 100,000 logon events, 10 ms apart: failures (60%), successes (25%), privilege
/// assignments (15%) over 5,000 accounts and 500 addresses.
fn logon_events() -> Vec<(jiff::Timestamp, serde_json::Value)> {
    let start = jiff::Timestamp::from_second(1_700_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    (0..100_000u64)
        .map(|i| {
            // A multiplicative hash spreads accounts and addresses without a RNG.
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            let id = match i % 20 {
                0..=11 => 4625,
                12..=16 => 4624,
                _ => 4672,
            };
            let event = serde_json::json!({
                "Channel": "Security",
                "EventID": id,
                "TargetUserName": format!("user{}", h % 5_000),
                "IpAddress": format!("10.0.{}.{}", (h >> 16) % 2, (h >> 8) % 250),
            });
            let t = start + jiff::SignedDuration::from_millis(i64::try_from(i * 10).unwrap_or(0));
            (t, event)
        })
        .collect()
}

fn correlation_benches(c: &mut Criterion) {
    let (set, problems) = RuleSet::compile(&[("bench.yml", CORRELATIONS)]);
    assert!(problems.is_empty(), "{problems:?}");
    let events = logon_events();
    let ls = LogSource::new().product("windows").service("security");
    let mut scratch = Scratch::new();
    let mut matches = Vec::new();
    let mut out = Vec::new();
    let mut engine = CorrelationEngine::new(&set);
    for (t, e) in &events {
        matches.clear();
        set.matches_into(e, &ls, &mut scratch, &mut matches);
        engine.observe(e, *t, &matches, &mut out);
    }
    engine.finish(&mut out);
    println!(
        "correlation: {} events, {} correlation matches in one pass, {:?}",
        events.len(),
        out.len(),
        engine.stats()
    );
    // The rule matches of every event, computed once, for the engine-only figure.
    let per_event: Vec<Vec<vigil_sigma::Match<'_>>> = events
        .iter()
        .map(|(_, e)| {
            let mut m = Vec::new();
            set.matches_into(e, &ls, &mut scratch, &mut m);
            m
        })
        .collect();

    let mut g = c.benchmark_group("correlation");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("rules_and_4_correlations_on_logons", |b| {
        b.iter(|| {
            let mut engine = CorrelationEngine::new(&set);
            out.clear();
            for (t, e) in &events {
                matches.clear();
                set.matches_into(black_box(e), &ls, &mut scratch, &mut matches);
                engine.observe(e, *t, &matches, &mut out);
            }
            black_box(out.len())
        })
    });
    g.bench_function("4_correlations_only_on_logons", |b| {
        b.iter(|| {
            let mut engine = CorrelationEngine::new(&set);
            out.clear();
            for ((t, e), m) in events.iter().zip(&per_event) {
                engine.observe(e, *t, black_box(m), &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(eval, benches, correlation_benches);
criterion_main!(eval);
