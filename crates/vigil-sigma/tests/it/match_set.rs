//! The exact matches of the SigmaHQ rules on the SigmaHQ regression events: every
//! (event, rule, matched fields) triple, compared with `tests/fixtures/regression_matches.txt`.
//! Guards evaluator optimizations (prefilters, indexes, caches) against changing any result.
//! Set `VIGIL_BLESS=1` to rewrite the golden file.

use std::path::Path;

use vigil_sigma::{CompileOptions, LogSource, RuleSet, Scratch};

/// A named run: rule files and the log source the events are given with.
type Run<'a> = (&'a str, &'a [(String, String)], LogSource);

#[test]
fn regression_events_give_the_golden_matches() {
    let Some(rules_dir) =
        vigil_testkit::shared_data("sigma-rules", "regression_events_give_the_golden_matches")
    else {
        return;
    };
    let Some(reg_dir) = vigil_testkit::shared_data(
        "sigma-regression",
        "regression_events_give_the_golden_matches",
    ) else {
        return;
    };
    let files = crate::read_tree(&rules_dir, "yml");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let mut events = Vec::new();
    for (rel, text) in crate::read_tree(&reg_dir, "json") {
        let stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        for (i, v) in stream.enumerate() {
            events.push((format!("{rel}#{i}"), v.expect("valid json record")));
        }
    }
    assert!(events.len() >= 200, "found {} events", events.len());

    let mut got = String::new();
    // The whole corpus, then the Windows rules alone (the benchmark's rule set), each under
    // the Windows product with the log source classified from channel and event id, and
    // the whole corpus once more with the category given by the caller.
    let windows: Vec<(String, String)> = files
        .iter()
        .filter(|(p, t)| format!("/{p}").contains("/windows/") && t.contains("product: windows"))
        .cloned()
        .collect();
    let runs: [Run<'_>; 3] = [
        ("all", &files, LogSource::new().product("windows")),
        ("windows", &windows, LogSource::new().product("windows")),
        (
            "all-proc",
            &files,
            LogSource::new()
                .product("windows")
                .category("process_creation"),
        ),
    ];
    let mut scratch = Scratch::new();
    for (name, sources, ls) in runs {
        let (set, _) = RuleSet::compile_with(sources, &opts);
        let mut out = Vec::new();
        let mut count = 0;
        for (where_, e) in &events {
            out.clear();
            set.matches_into(e, &ls, &mut scratch, &mut out);
            for m in &out {
                count += 1;
                got.push_str(&format!(
                    "{name}\t{where_}\t{}\t{}\t{}\n",
                    m.id().unwrap_or(m.title()),
                    m.fields.join(","),
                    m.standalone
                ));
            }
        }
        assert!(count > 20, "{name}: only {count} matches");
    }

    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regression_matches.txt");
    if std::env::var("VIGIL_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&golden, &got).expect("write golden file");
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    if got != want {
        let want_lines: std::collections::BTreeSet<&str> = want.lines().collect();
        let got_lines: std::collections::BTreeSet<&str> = got.lines().collect();
        let missing: Vec<_> = want_lines.difference(&got_lines).take(20).collect();
        let extra: Vec<_> = got_lines.difference(&want_lines).take(20).collect();
        panic!(
            "matches differ from the golden file ({} lines now, {} golden)\nmissing: {missing:#?}\nextra: {extra:#?}",
            got.lines().count(),
            want.lines().count()
        );
    }
}
