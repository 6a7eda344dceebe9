//! Times the phases of a hunt one after the other on one thread, for profiling (callgrind
//! instruction counts or wall time on an idle machine):
//!
//! ```text
//! cargo run --release -p vigil-hunt --example hunt_phases -- EVTX_DIR RULES_DIR [phase]
//! ```
//!
//! `phase` is `compile`, `render` (EVTX records to JSON text), `parse` (records to JSON
//! values, as a hunt reads them), `eval` (parse, then the rules over every event) or `all`
//! (the default).

use std::path::PathBuf;
use std::time::Instant;

use vigil_hunt::{HuntOptions, Hunter, Report, collect_inputs, read_rules};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(evtx), Some(rules)) = (args.first(), args.get(1)) else {
        eprintln!("usage: hunt_phases EVTX_DIR RULES_DIR [compile|render|parse|eval|hunt|all]");
        std::process::exit(2);
    };
    let phase = args.get(2).map_or("all", String::as_str);
    let (inputs, _) = collect_inputs(&[PathBuf::from(evtx)]);
    let (sources, _) = read_rules(&[PathBuf::from(rules)]);
    let all = phase == "all";

    if all || phase == "compile" {
        let t = Instant::now();
        let h = Hunter::new(sources.clone(), HuntOptions::default());
        let problems = h.prepare(&inputs);
        eprintln!(
            "compile: {} rules, {} problems, {:.3} s",
            h.rule_count(),
            problems.len(),
            t.elapsed().as_secs_f64()
        );
    }
    if all || phase == "render" {
        let t = Instant::now();
        let mut bytes = 0usize;
        let mut n = 0u64;
        for i in &inputs {
            let Ok(p) = evtx::EvtxParser::from_path(&i.path) else {
                continue;
            };
            let mut p = p.with_configuration(evtx::ParserSettings::new().num_threads(1));
            for r in p.records_json_bytes().flatten() {
                bytes += r.data.len();
                n += 1;
            }
        }
        eprintln!(
            "render: {n} records, {bytes} JSON bytes, {:.3} s",
            t.elapsed().as_secs_f64()
        );
    }
    if all || phase == "parse" {
        let t = Instant::now();
        let mut n = 0u64;
        for i in &inputs {
            let Ok(p) = evtx::EvtxParser::from_path(&i.path) else {
                continue;
            };
            let mut p = p.with_configuration(evtx::ParserSettings::new().num_threads(1));
            n += p.records_json_value().flatten().count() as u64;
        }
        eprintln!("parse: {n} records, {:.3} s", t.elapsed().as_secs_f64());
    }
    if all || phase == "hunt" || phase == "parse-only" {
        let opts = HuntOptions {
            threads: 1,
            parse_only: phase == "parse-only",
            ..HuntOptions::default()
        };
        let t = Instant::now();
        let h = Hunter::new(sources.clone(), opts);
        let mut hits = 0u64;
        let s = h.run(&inputs, &mut |r| {
            if let Report::Hit(_) = r {
                hits += 1;
            }
        });
        eprintln!(
            "hunt (one thread, compile included): {} events, {hits} hits, {:.3} s",
            s.events,
            t.elapsed().as_secs_f64()
        );
    }
}
