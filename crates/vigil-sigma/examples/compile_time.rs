//! Compiles the SigmaHQ Windows rules (the set `vigil hunt` loads) `N` times (first
//! argument, default 5) and prints each compile's wall time, for loading figures:
//!
//! ```text
//! cargo build --release -p vigil-sigma --example compile_time
//! target/release/examples/compile_time 5
//! valgrind --tool=callgrind target/release/examples/compile_time 1   # instructions
//! ```

use std::time::Instant;

use vigil_sigma::{CompileOptions, RuleSet};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let Some(rules_dir) = vigil_testkit::shared_data("sigma-rules", "compile_time") else {
        return;
    };
    let files = vigil_testkit::read_tree(&rules_dir.join("rules/windows"), "yml");
    let Some(opts) = CompileOptions::with_mapping("evtx") else {
        eprintln!("no evtx mapping");
        return;
    };
    for _ in 0..runs {
        let start = Instant::now();
        let (set, problems) = RuleSet::compile_with(&files, &opts);
        let el = start.elapsed();
        println!(
            "{} files, {} rules, {} problems, {:?}: {:.1} ms",
            files.len(),
            set.stats().rules,
            problems.len(),
            set.stats(),
            el.as_secs_f64() * 1e3
        );
    }
}
