//! Evaluates the SigmaHQ Windows rules on every record of ../shared/data/evtx-samples, `N`
//! passes (first argument, default 3), for instruction counts that stay repeatable on a
//! loaded machine (the `eval_evtx` bench measures the rate):
//!
//! ```text
//! cargo build --release -p vigil-hunt --example eval_evtx_count
//! valgrind --tool=callgrind target/release/examples/eval_evtx_count 3
//! valgrind --tool=callgrind target/release/examples/eval_evtx_count 1
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
        .unwrap_or(3);
    let (Some(rules_dir), Some(evtx_dir)) = (
        vigil_testkit::shared_data("sigma-rules", "eval_evtx_count"),
        vigil_testkit::shared_data("evtx-samples", "eval_evtx_count"),
    ) else {
        return;
    };
    let rules = vigil_testkit::read_tree(&rules_dir.join("rules/windows"), "yml");
    let Some(opts) = CompileOptions::with_mapping("evtx") else {
        eprintln!("no evtx mapping");
        return;
    };
    let (set, _) = RuleSet::compile_with(&rules, &opts);
    let events = vigil_hunt::read_evtx_values(&[evtx_dir]);
    let ls = LogSource::new().product("windows");
    let mut scratch = Scratch::new();
    let start = std::time::Instant::now();
    let total: usize = (0..passes)
        .map(|_| set.count_matches(&events, &ls, &mut scratch))
        .sum();
    let el = start.elapsed();
    println!(
        "{} rules, {} events x {passes} passes, {total} matches, {:.0} events/s",
        set.stats().rules,
        events.len(),
        (events.len() * passes) as f64 / el.as_secs_f64()
    );
}
