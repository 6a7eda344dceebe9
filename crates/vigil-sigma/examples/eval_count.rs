//! Evaluates all SigmaHQ Windows rules on the SigmaHQ regression events, `N` passes (first
//! argument, default 20), for instruction counts that stay repeatable on a loaded machine:
//!
//! ```text
//! cargo build --release -p vigil-sigma --example eval_count
//! valgrind --tool=callgrind --toggle-collect='*matches_into*' \
//!     target/release/examples/eval_count 20
//! ```
//!
//! Instructions per event = the collected total / (passes × events printed).

use std::path::Path;

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

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let (Some(rules_dir), Some(reg_dir)) = (
        vigil_testkit::shared_data("sigma-rules", "eval_count"),
        vigil_testkit::shared_data("sigma-regression", "eval_count"),
    ) else {
        return;
    };
    let mut files = Vec::new();
    read_tree(&rules_dir.join("rules/windows"), "yml", &mut files);
    files.retain(|(_, t)| t.contains("product: windows"));
    let Some(opts) = CompileOptions::with_mapping("evtx") else {
        eprintln!("no evtx mapping");
        return;
    };
    let (set, _) = RuleSet::compile_with(&files, &opts);
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
    let mut total = 0usize;
    let start = std::time::Instant::now();
    for _ in 0..passes {
        for e in &events {
            out.clear();
            set.matches_into(e, &ls, &mut scratch, &mut out);
            total += out.len();
        }
    }
    let el = start.elapsed();
    println!(
        "{} rules, {} events x {} passes, {} matches, {:.0} events/s",
        set.stats().rules,
        events.len(),
        passes,
        total,
        (events.len() * passes) as f64 / el.as_secs_f64()
    );
}
