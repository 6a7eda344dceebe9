//! Correlation rules in a hunt, over the NDJSON fixtures in tests/fixtures/correlation:
//! failed logons split across two files and out of order between (and within) them, a
//! recon-then-service sequence per host, and a correlation over a rule that does not compile.

use std::path::PathBuf;

use vigil_hunt::{
    Filters, Hit, HuntOptions, Hunter, InputProblem, Report, Summary, collect_inputs, read_rules,
};
use vigil_sigma::{Level, Problem};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/correlation")
        .join(rel)
}

struct Outcome {
    hits: Vec<Hit>,
    problems: Vec<InputProblem>,
    compile_problems: Vec<Problem>,
    summary: Summary,
    correlations: usize,
}

fn hunt_with(rule_dirs: &[&str], events: &[&str], opts: HuntOptions) -> Outcome {
    let rule_paths: Vec<PathBuf> = rule_dirs.iter().map(|d| fixture(d)).collect();
    let (sources, read_problems) = read_rules(&rule_paths);
    assert!(read_problems.is_empty(), "{read_problems:?}");
    let files: Vec<PathBuf> = events.iter().map(|e| fixture(e)).collect();
    let (inputs, problems) = collect_inputs(&files);
    assert!(problems.is_empty(), "{problems:?}");
    // The rules compile while the files are read (no `prepare`), as `vigil hunt` runs.
    let hunter = Hunter::new(sources, opts);
    let mut hits: Vec<Hit> = Vec::new();
    let mut problems = Vec::new();
    let mut compile_problems = Vec::new();
    let mut loaded = 0;
    let summary = hunter.run(&inputs, &mut |r| match r {
        Report::Hit(h) => {
            assert_eq!(loaded, 1, "a hit before the rules were loaded");
            // Correlation hits come after every other hit.
            assert!(
                h.correlation.is_some() || hits.iter().all(|x| x.correlation.is_none()),
                "{h:?} after a correlation hit"
            );
            hits.push((**h).clone())
        }
        Report::Problem(p) => problems.push(p.clone()),
        Report::FileDone(_) => {}
        Report::RulesLoaded(l) => {
            loaded += 1;
            compile_problems = l.problems.clone();
        }
    });
    assert_eq!(loaded, 1);
    Outcome {
        hits,
        problems,
        compile_problems,
        summary,
        correlations: hunter.correlation_count(),
    }
}

fn hunt(events: &[&str]) -> Outcome {
    hunt_with(&["rules"], events, HuntOptions::default())
}

fn titled<'a>(hits: &'a [Hit], title: &str) -> Vec<&'a Hit> {
    hits.iter().filter(|h| h.rule_title == title).collect()
}

#[test]
fn event_count_over_two_files_out_of_order_fires_once_for_the_right_source() {
    let o = hunt(&["events-a.ndjson", "events-b.ndjson"]);
    assert!(o.compile_problems.is_empty(), "{:?}", o.compile_problems);
    assert!(o.problems.is_empty(), "{:?}", o.problems);
    assert_eq!(o.correlations, 3);

    let bf = titled(&o.hits, "Brute Force From One Source");
    // 10.0.0.5 fails five times in four minutes across both files; 10.0.0.9 four times,
    // 10.0.0.7 three times; the sixth failure of 10.0.0.5 is an hour later.
    assert_eq!(bf.len(), 1, "{bf:#?}");
    let h = bf[0];
    assert_eq!(
        h.fields.get("IpAddress").map(String::as_str),
        Some("10.0.0.5")
    );
    assert_eq!(h.matched, vec!["IpAddress"]);
    assert_eq!(h.level.as_deref(), Some("high"));
    assert_eq!(h.tags, vec!["attack.credential-access", "attack.t1110"]);
    assert_eq!(h.time.as_deref(), Some("2024-05-01T10:04:00Z"));
    assert_eq!(h.host.as_deref(), Some("dc1"));
    assert!(h.file.ends_with("events-a.ndjson"), "{}", h.file);
    assert_eq!(h.record, 1);
    let c = h.correlation.as_ref().expect("a correlation hit");
    assert_eq!(c.kind, "event_count");
    assert_eq!(c.window_start, "2024-05-01T10:00:00Z");
    assert_eq!(c.window_end, "2024-05-01T10:04:00Z");
    assert_eq!(c.value, 5.0);
    assert_eq!(c.events, 5);
    assert_eq!(c.files, 2);
    assert_eq!(c.rules, vec!["Failed Logon"]);
    // The contributing events, in time order, from both files.
    let contributors: Vec<(String, u64)> = c
        .contributors
        .iter()
        .map(|e| {
            let name = PathBuf::from(&e.file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, e.record)
        })
        .collect();
    assert_eq!(
        contributors,
        vec![
            ("events-a.ndjson".to_owned(), 2),
            ("events-b.ndjson".to_owned(), 2),
            ("events-a.ndjson".to_owned(), 3),
            ("events-b.ndjson".to_owned(), 1),
            ("events-a.ndjson".to_owned(), 1),
        ]
    );
    assert_eq!(c.contributors[0].time, "2024-05-01T10:00:00Z");

    // The failed logon is a building block: it never reports on its own.
    assert!(titled(&o.hits, "Failed Logon").is_empty());
    // The failure without a time could not be placed in a window.
    assert_eq!(o.summary.correlation_untimed, 1);
}

#[test]
fn below_the_threshold_nothing_fires() {
    // File a alone holds three of 10.0.0.5's failures and two of the spray's users.
    let o = hunt(&["events-a.ndjson"]);
    assert!(titled(&o.hits, "Brute Force From One Source").is_empty());
    assert!(titled(&o.hits, "Password Spray From One Source").is_empty());
    assert_eq!(o.summary.correlation_hits, 0);
    assert_eq!(o.summary.correlation_events, 10);
    // Without the whoami events of file b, the sequence is incomplete too.
    assert!(titled(&o.hits, "Recon Then Service Install On One Host").is_empty());
}

#[test]
fn value_count_counts_distinct_users_per_source() {
    let o = hunt(&["events-a.ndjson", "events-b.ndjson"]);
    let spray = titled(&o.hits, "Password Spray From One Source");
    // 10.0.0.7 tries u1, u2, u3; the other sources try one user each, however often.
    assert_eq!(spray.len(), 1, "{spray:#?}");
    assert_eq!(
        spray[0].fields.get("IpAddress").map(String::as_str),
        Some("10.0.0.7")
    );
    let c = spray[0].correlation.as_ref().expect("a correlation hit");
    assert_eq!(c.kind, "value_count");
    assert_eq!(c.value, 3.0);
    assert_eq!(c.files, 2);
    assert_eq!(
        spray[0].tags,
        vec!["attack.credential-access", "attack.t1110.003"]
    );
}

#[test]
fn temporal_ordered_fires_only_in_the_listed_order_and_generate_keeps_the_base_hits() {
    let o = hunt(&["events-a.ndjson", "events-b.ndjson"]);
    let seq = titled(&o.hits, "Recon Then Service Install On One Host");
    // ws1: whoami (file b) then a service (file a); ws2: the service comes first.
    assert_eq!(seq.len(), 1, "{seq:#?}");
    let h = seq[0];
    assert_eq!(h.fields.get("Computer").map(String::as_str), Some("ws1"));
    assert_eq!(h.level.as_deref(), Some("critical"));
    assert_eq!(h.host.as_deref(), Some("ws1"));
    // No tags of its own: those of the rules it joins.
    assert_eq!(h.tags, vec!["attack.discovery", "attack.t1033"]);
    let c = h.correlation.as_ref().expect("a correlation hit");
    assert_eq!(c.kind, "temporal_ordered");
    assert_eq!(c.rules, vec!["Whoami Run", "Service Installed"]);
    assert_eq!(c.window_start, "2024-05-01T10:01:00Z");
    assert_eq!(c.window_end, "2024-05-01T10:05:00Z");
    // `generate: true`: the rules it references report on their own as well.
    assert_eq!(titled(&o.hits, "Whoami Run").len(), 2);
    assert_eq!(titled(&o.hits, "Service Installed").len(), 2);
    assert!(titled(&o.hits, "Whoami Run")[0].correlation.is_none());
}

#[test]
fn the_summary_counts_correlation_hits_by_rule_and_level() {
    let o = hunt(&["events-a.ndjson", "events-b.ndjson"]);
    let s = &o.summary;
    assert_eq!(s.hits, 7, "{:#?}", o.hits);
    assert_eq!(s.hits, o.hits.len() as u64);
    assert_eq!(s.correlation_hits, 3);
    assert_eq!(s.events, 18);
    // 15 failed logons with a time, 2 whoami, 2 services.
    assert_eq!(s.correlation_events, 17);
    assert_eq!(s.correlation_missing_fields, 0);
    let levels: Vec<(&str, u64)> = s.by_level.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        levels,
        vec![("critical", 1), ("high", 2), ("low", 2), ("medium", 2)]
    );
    let by_rule = |t: &str| s.by_rule.iter().find(|r| r.rule_title == t).map(|r| r.hits);
    assert_eq!(by_rule("Brute Force From One Source"), Some(1));
    assert_eq!(by_rule("Password Spray From One Source"), Some(1));
    assert_eq!(by_rule("Recon Then Service Install On One Host"), Some(1));
    assert_eq!(by_rule("Failed Logon"), None);
}

#[test]
fn filters_apply_to_correlation_hits() {
    let opts = HuntOptions {
        filters: Filters {
            min_level: Some(Level::Critical),
            ..Filters::default()
        },
        ..HuntOptions::default()
    };
    let o = hunt_with(&["rules"], &["events-a.ndjson", "events-b.ndjson"], opts);
    let titles: Vec<&str> = o.hits.iter().map(|h| h.rule_title.as_str()).collect();
    assert_eq!(titles, vec!["Recon Then Service Install On One Host"]);

    let opts = HuntOptions {
        filters: Filters {
            tags: vec!["t1110.003".to_owned()],
            ..Filters::default()
        },
        ..HuntOptions::default()
    };
    let o = hunt_with(&["rules"], &["events-a.ndjson", "events-b.ndjson"], opts);
    let titles: Vec<&str> = o.hits.iter().map(|h| h.rule_title.as_str()).collect();
    assert_eq!(titles, vec!["Password Spray From One Source"]);
}

#[test]
fn a_correlation_over_a_rule_that_does_not_compile_is_reported_and_the_rest_runs() {
    let o = hunt_with(
        &["rules", "broken"],
        &["events-a.ndjson", "events-b.ndjson"],
        HuntOptions::default(),
    );
    let errors: Vec<String> = o
        .compile_problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("broken.yml")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("broken_rule")),
        "the correlation's reference is reported: {errors:?}"
    );
    // The good correlations still load and fire; the broken one does not.
    assert_eq!(o.correlations, 3);
    assert_eq!(o.summary.correlation_hits, 3);
    assert!(titled(&o.hits, "Correlation Over A Broken Rule").is_empty());
}
