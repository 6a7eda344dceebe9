use super::*;
use serde_json::json;

const WHOAMI: &str = r#"
title: Whoami
id: 0b3a3b4c-0000-4000-8000-000000000001
level: medium
tags: [attack.discovery, attack.t1033, car.2016-03-001]
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\whoami.exe'
  condition: sel
"#;

const SERVICE: &str = r#"
title: Mimikatz Service
id: 0b3a3b4c-0000-4000-8000-000000000002
level: critical
tags: [attack.persistence, attack.t1543.003]
logsource: {product: windows, service: system}
detection:
  sel:
    EventID: 7045
    ServiceName|contains: mimikatz
  condition: sel
"#;

fn rules() -> Vec<(String, String)> {
    vec![
        ("whoami.yml".to_owned(), WHOAMI.to_owned()),
        ("service.yml".to_owned(), SERVICE.to_owned()),
    ]
}

/// One hunt: rules compiled before it (`prepare`), or while it reads the files.
fn hunt_once(
    opts: HuntOptions,
    files: &[(&str, &str)],
    prepare: bool,
) -> (Vec<Hit>, Vec<InputProblem>, Summary) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let (inputs, problems) = collect_inputs(&[dir.path().to_path_buf()]);
    assert!(problems.is_empty(), "{problems:?}");
    let h = Hunter::new(rules(), opts);
    if prepare {
        let compile_problems = h.prepare(&inputs);
        assert!(compile_problems.is_empty(), "{compile_problems:?}");
        assert_eq!(h.rule_count(), 2);
    }
    let mut hits = Vec::new();
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    let summary = h.run(&inputs, &mut |r| match r {
        Report::Hit(h) => hits.push((**h).clone()),
        Report::Problem(p) => problems.push(p.clone()),
        Report::FileDone(_) => {}
        Report::RulesLoaded(l) => loaded.push(l.clone()),
    });
    if prepare || h.options().parse_only {
        assert!(loaded.is_empty(), "{loaded:?}");
    } else {
        assert_eq!(loaded.len(), 1, "{loaded:?}");
        assert_eq!((loaded[0].rules, loaded[0].problems.len()), (2, 0));
        assert_eq!(h.rule_count(), 2);
    }
    hits.sort_by(|a, b| (&a.file, a.record).cmp(&(&b.file, b.record)));
    // Hits of one event in rule order; problems of different files in any order.
    problems.sort_by(|a, b| (&a.path, &a.location).cmp(&(&b.path, &b.location)));
    (hits, problems, summary)
}

/// A hunt run three ways, which must agree: rules compiled first, compiled while the files
/// are read, and compiled while they are read with no room to hold events (every event
/// read before the rules are ready makes its worker wait).
fn hunt(opts: HuntOptions, files: &[(&str, &str)]) -> (Vec<Hit>, Vec<InputProblem>, Summary) {
    let first = hunt_once(opts.clone(), files, true);
    for hold_bytes in [None, Some(0)] {
        let o = HuntOptions {
            hold_bytes,
            ..opts.clone()
        };
        let (hits, problems, mut summary) = hunt_once(o, files, false);
        let file = |h: &Hit| h.file.rsplit('/').next().map(str::to_owned);
        let names = |hits: &[Hit]| {
            hits.iter()
                .map(|h| (file(h), h.record, h.rule_title.clone(), h.matched.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&hits), names(&first.0), "{hold_bytes:?}");
        assert_eq!(problems.len(), first.1.len(), "{problems:?}");
        summary.held_peak_bytes = first.2.held_peak_bytes;
        assert_eq!(summary, first.2, "{hold_bytes:?}");
    }
    first
}

const EVENTS: &str = concat!(
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"ws1","UtcTime":"2024-05-01 10:00:00.000","Image":"C:\\Windows\\System32\\whoami.exe","User":"CORP\\bob"}"#,
    "\n",
    "not json\n",
    "\n",
    r#"{"Channel":"System","EventID":7045,"Computer":"dc1","@timestamp":"2024-05-02T10:00:00Z","ServiceName":"mimikatz driver"}"#,
    "\n",
    r#"{"Image":"C:\\Windows\\System32\\whoami.exe"}"#,
    "\n",
    r#"{"logsource":{"product":"windows","category":"process_creation"},"Image":"C:\\x\\whoami.exe","time":1714557600}"#,
    "\n",
    "[1]\n",
);

#[test]
fn ndjson_events_are_routed_and_reported() {
    let (hits, problems, summary) = hunt(HuntOptions::default(), &[("e.ndjson", EVENTS)]);
    let got: Vec<(u64, &str, Option<&str>)> = hits
        .iter()
        .map(|h| (h.record, h.rule_title.as_str(), h.host.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "Whoami", Some("ws1")),
            (4, "Mimikatz Service", Some("dc1")),
            (6, "Whoami", None),
        ]
    );
    let first = &hits[0];
    assert_eq!(first.tags, vec!["attack.discovery", "attack.t1033"]);
    assert_eq!(first.matched, vec!["Image"]);
    assert_eq!(first.level.as_deref(), Some("medium"));
    assert_eq!(first.event_id, Some(1));
    assert_eq!(first.time.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(
        first.fields.get("User").map(String::as_str),
        Some("CORP\\bob")
    );
    assert_eq!(hits[1].matched, vec!["EventID", "ServiceName"]);
    let where_: Vec<Option<&str>> = problems.iter().map(|p| p.location.as_deref()).collect();
    assert_eq!(where_, vec![Some("line 2"), Some("line 7")]);
    assert!(problems[0].message.contains("invalid JSON"), "{problems:?}");
    assert_eq!(summary.files, 1);
    assert_eq!(summary.events, 4);
    assert_eq!(summary.without_logsource, 1);
    assert_eq!(summary.problems, 2);
    assert_eq!(summary.hits, 3);
    assert_eq!(summary.by_level.get("medium"), Some(&2));
    assert_eq!(summary.by_level.get("critical"), Some(&1));
    assert_eq!(summary.by_rule[0].rule_title, "Whoami");
    assert_eq!(summary.by_rule[0].hits, 2);
}

#[test]
fn filters_select_rules_and_times() {
    let only_critical = HuntOptions {
        filters: Filters {
            min_level: Some(Level::High),
            ..Filters::default()
        },
        ..HuntOptions::default()
    };
    let (hits, _, _) = hunt(only_critical, &[("e.ndjson", EVENTS)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule_title, "Mimikatz Service");

    let by_tag = HuntOptions {
        filters: Filters {
            tags: vec!["T1543".to_owned()],
            ..Filters::default()
        },
        ..HuntOptions::default()
    };
    let (hits, _, _) = hunt(by_tag, &[("e.ndjson", EVENTS)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule_title, "Mimikatz Service");

    let may_first = HuntOptions {
        filters: Filters {
            from: "2024-05-01T00:00:00Z".parse().ok(),
            to: "2024-05-01T23:59:59Z".parse().ok(),
            ..Filters::default()
        },
        ..HuntOptions::default()
    };
    let (hits, _, summary) = hunt(may_first, &[("e.ndjson", EVENTS)]);
    let records: Vec<u64> = hits.iter().map(|h| h.record).collect();
    // Line 6 is 2024-05-01T10:00:00Z as Unix seconds; line 5 has no time at all.
    assert_eq!(records, vec![1, 6]);
    assert_eq!(summary.out_of_range, 2);
}

#[test]
fn tag_filter_matches_exact_and_sub_techniques_only() {
    let rule = RuleInfo {
        tags: vec!["attack.t1003.001".to_owned()],
        level: Some(Level::High),
        ..RuleInfo::default()
    };
    let f = |t: &str| Filters {
        tags: vec![t.to_owned()],
        ..Filters::default()
    };
    assert!(f("attack.t1003").rule_ok(&rule));
    assert!(f("t1003.001").rule_ok(&rule));
    assert!(!f("t100").rule_ok(&rule));
    assert!(!f("attack.t1003.002").rule_ok(&rule));
    let no_level = RuleInfo::default();
    let min = Filters {
        min_level: Some(Level::Informational),
        ..Filters::default()
    };
    assert!(!min.rule_ok(&no_level));
}

#[test]
fn json_documents_and_parse_only() {
    let doc = r#"[
      {"Channel": "System", "EventID": 7045, "ServiceName": "mimikatz"},
      3
    ]"#;
    let pretty = "{\n  \"Event\": {\"System\": {\"Channel\": \"System\", \"EventID\": 7045},\n  \"EventData\": {\"ServiceName\": \"mimikatz\"}}\n}\n";
    let (hits, problems, summary) = hunt(
        HuntOptions::default(),
        &[("a.json", doc), ("b.json", pretty)],
    );
    let got: Vec<(&str, u64)> = hits
        .iter()
        .map(|h| (h.rule_title.as_str(), h.record))
        .collect();
    assert_eq!(got, vec![("Mimikatz Service", 0), ("Mimikatz Service", 0)]);
    assert_eq!(
        hits[1].fields.get("ServiceName").map(String::as_str),
        Some("mimikatz")
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].location.as_deref(), Some("item 1"));
    assert_eq!(summary.events, 2);

    let parse_only = HuntOptions {
        parse_only: true,
        ..HuntOptions::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("e.ndjson"), EVENTS).expect("write");
    let (inputs, _) = collect_inputs(&[dir.path().to_path_buf()]);
    let h = Hunter::new(rules(), parse_only);
    assert!(h.prepare(&inputs).is_empty());
    let mut n = 0;
    let s = h.run(&inputs, &mut |r| {
        if matches!(r, Report::Hit(_)) {
            n += 1
        }
    });
    assert_eq!((n, s.events, s.hits), (0, 4, 0));
}

#[test]
fn rules_test_tries_every_log_source_for_bare_events() {
    let h = Hunter::new(rules(), HuntOptions::default());
    let e = json!({"Image": "C:\\Windows\\System32\\whoami.exe"});
    let hits = h.test_event(&e, 1, Path::new("events.ndjson"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule_title, "Whoami");
    let e = json!({"EventID": 7045, "ServiceName": "mimikatz"});
    let hits = h.test_event(&e, 2, Path::new("events.ndjson"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rule_title, "Mimikatz Service");
    assert!(h.test_event(&json!({"x": 1}), 3, Path::new("e")).is_empty());
}

#[test]
fn broken_evtx_files_are_reported_and_skipped() {
    let Some(dir) = vigil_testkit::shared_data(
        "windows-evtx/omerbenamram-evtx",
        "broken_evtx_files_are_reported_and_skipped",
    ) else {
        return;
    };
    let (inputs, problems) = collect_inputs(std::slice::from_ref(&dir));
    assert!(problems.is_empty(), "{problems:?}");
    assert!(inputs.len() >= 12, "{inputs:?}");
    // The rules compile while the files are read, with no room to hold events: broken
    // chunks are reported all the same.
    let h = Hunter::new(
        rules(),
        HuntOptions {
            hold_bytes: Some(0),
            ..HuntOptions::default()
        },
    );
    let mut files_with_problems = std::collections::BTreeSet::new();
    let mut per_file: BTreeMap<String, u64> = BTreeMap::new();
    let summary = h.run(&inputs, &mut |r| match r {
        Report::Problem(p) => {
            files_with_problems.insert(p.path.clone());
        }
        Report::FileDone(f) => {
            per_file.insert(
                f.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                f.events,
            );
        }
        Report::Hit(_) | Report::RulesLoaded(_) => {}
    });
    // Every file was finished, broken ones included.
    assert_eq!(summary.files, inputs.len() as u64);
    assert!(summary.events > 1_000, "{summary:?}");
    // The file with a bad chunk magic still yields its good chunks' records.
    let bad = per_file
        .get("sample_with_a_bad_chunk_magic.evtx")
        .copied()
        .unwrap_or(0);
    assert!(bad > 0, "{per_file:?}");
    assert!(
        files_with_problems
            .iter()
            .any(|p| p.ends_with("sample_with_a_bad_chunk_magic.evtx")),
        "{files_with_problems:?}"
    );
}

#[test]
fn a_truncated_or_garbage_evtx_file_is_a_problem_not_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("garbage.evtx"),
        b"ElfFile\0 and then nothing",
    )
    .expect("write");
    std::fs::write(dir.path().join("empty.evtx"), b"").expect("write");
    let (inputs, _) = collect_inputs(&[dir.path().to_path_buf()]);
    let h = Hunter::new(rules(), HuntOptions::default());
    h.prepare(&inputs);
    let mut problems = Vec::new();
    let s = h.run(&inputs, &mut |r| {
        if let Report::Problem(p) = r {
            problems.push(p.clone());
        }
    });
    assert_eq!(s.files, 2);
    assert_eq!(s.problems, 2);
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("not a readable EVTX file")),
        "{problems:?}"
    );
}
