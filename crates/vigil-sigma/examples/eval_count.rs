//! Evaluates all SigmaHQ Windows rules on the SigmaHQ regression events, `N` passes (first
//! argument, default 20), for instruction counts that stay repeatable on a loaded machine:
//!
//! ```text
//! cargo build --release -p vigil-sigma --example eval_count
//! valgrind --tool=callgrind target/release/examples/eval_count 3
//! valgrind --tool=callgrind target/release/examples/eval_count 1
//! ```
//!
//! Instructions per event = (the first total − the second) / (2 × events printed): loading
//! and one-time builds cancel out. (`--toggle-collect` on the evaluation function is not
//! reliable: inlining decides which frames callgrind sees.)

use vigil_sigma::{CompileOptions, LogSource, RuleSet, Scratch};

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
    let mut files = vigil_testkit::read_tree(&rules_dir.join("rules/windows"), "yml");
    files.retain(|(_, t)| t.contains("product: windows"));
    let Some(opts) = CompileOptions::with_mapping("evtx") else {
        eprintln!("no evtx mapping");
        return;
    };
    let (set, _) = RuleSet::compile_with(&files, &opts);
    let jsons = vigil_testkit::read_tree(&reg_dir, "json");
    let mut events = Vec::new();
    for (_, text) in &jsons {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        events.extend(stream.map_while(Result::ok));
    }
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    let start = std::time::Instant::now();
    let total: usize = (0..passes)
        .map(|_| set.count_matches(&events, &ls, &mut scratch))
        .sum();
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
