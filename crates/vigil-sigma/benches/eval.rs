//! Benchmarks: compiling the whole SigmaHQ corpus, and evaluating all Windows rules on
//! pre-parsed EVTX-JSON events (the SigmaHQ regression samples). Run with
//! `cargo bench -p vigil-sigma`; skipped with a printed line when the corpus is absent.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sigma::{CompileOptions, LogSource, RuleSet, Scratch};

fn read_tree(dir: &Path, ext: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            read_tree(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext)
            && let Ok(text) = std::fs::read_to_string(&p)
        {
            out.push((p.to_string_lossy().into_owned(), text));
        }
    }
}

fn benches(c: &mut Criterion) {
    let (Some(rules_dir), Some(reg_dir)) = (
        vigil_testkit::shared_data("sigma-rules", "bench eval"),
        vigil_testkit::shared_data("sigma-regression", "bench eval"),
    ) else {
        return;
    };
    let mut files = Vec::new();
    read_tree(&rules_dir, "yml", &mut files);
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
    let mut jsons = Vec::new();
    read_tree(&reg_dir, "json", &mut jsons);
    let mut events = Vec::new();
    for (_, text) in &jsons {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        events.extend(stream.map_while(Result::ok));
    }
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    for e in &events {
        set.matches_into(e, &ls, &mut scratch, &mut out);
    }
    println!(
        "eval: {} Windows rules ({:?}), {} events, {} matches in one pass",
        set.stats().rules,
        set.stats(),
        events.len(),
        out.len()
    );

    let mut g = c.benchmark_group("eval");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("windows_rules_on_regression_events", |b| {
        b.iter(|| {
            let mut n = 0;
            for e in &events {
                out.clear();
                set.matches_into(black_box(e), &ls, &mut scratch, &mut out);
                n += out.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(eval, benches);
criterion_main!(eval);
