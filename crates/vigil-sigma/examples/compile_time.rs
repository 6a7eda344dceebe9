//! Compiles the SigmaHQ Windows rules (the set `vigil hunt` loads) `N` times (first
//! argument, default 5) and prints each compile's wall time, for loading figures:
//!
//! ```text
//! cargo build --release -p vigil-sigma --example compile_time
//! target/release/examples/compile_time 5
//! valgrind --tool=callgrind target/release/examples/compile_time 1   # instructions
//! ```

use std::path::Path;
use std::time::Instant;

use vigil_sigma::{CompileOptions, RuleSet};

fn read_tree(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            read_tree(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml")
            && let Ok(text) = std::fs::read_to_string(&p)
        {
            out.push((p.to_string_lossy().into_owned(), text));
        }
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let Some(rules_dir) = vigil_testkit::shared_data("sigma-rules", "compile_time") else {
        return;
    };
    let mut files = Vec::new();
    read_tree(&rules_dir.join("rules/windows"), &mut files);
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
