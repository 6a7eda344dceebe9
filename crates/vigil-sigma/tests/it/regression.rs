//! SigmaHQ regression data (../shared/data/sigma-regression): for each tested rule, a folder
//! named after the rule file holds `info.yml` (the rule id under `rule_metadata`) and the
//! positive sample as concatenated EVTX-JSON records. Each tested rule must match at least
//! one record of its sample, with the Windows log source found from channel and event id.

use std::path::Path;

use vigil_sigma::{CompileOptions, LogSource, RuleSet};

#[derive(serde::Deserialize)]
struct Info {
    rule_metadata: Vec<RuleMeta>,
    #[serde(default)]
    regression_tests_info: Vec<TestInfo>,
}

/// One `regression_tests_info` entry. SigmaHQ's have no `match_count` (a positive sample must
/// match); Vigil's own fixtures give it, and add negative tests (`match_count: 0`).
#[derive(serde::Deserialize)]
struct TestInfo {
    name: String,
    path: String,
    #[serde(default)]
    match_count: Option<usize>,
}

#[derive(serde::Deserialize)]
struct RuleMeta {
    id: String,
    #[serde(default)]
    title: String,
}

fn samples(dir: &Path) -> Vec<(std::path::PathBuf, Info)> {
    let mut out = Vec::new();
    for (rel, text) in crate::read_tree(dir, "yml") {
        if !rel.ends_with("info.yml") {
            continue;
        }
        let info: Info = serde_saphyr::from_str(&text).expect("info.yml parses");
        let folder = dir.join(&rel).parent().expect("folder").to_path_buf();
        out.push((folder, info));
    }
    out
}

/// The records of a sample file: concatenated EVTX-JSON objects.
fn records(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("sample json");
    serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .map(|v| v.expect("valid json record"))
        .collect()
}

/// Vigil's own regression samples (tests/fixtures/regression), in SigmaHQ's shape: a folder
/// per rule with `info.yml` and the samples it names, plus the rule itself as `rule.yml`
/// (so the check runs without ../shared/data). Each `regression_tests_info` entry gives the
/// exact number of records its rule must match: positive samples all of theirs, negative
/// samples none. Together they cover windash, all of/1 of with null and startswith filters,
/// base64offset at each offset, cidr v4/v6 under not, re|i, cased, fieldref and gte, each
/// routed by channel and event id like the SigmaHQ samples.
#[test]
fn own_regression_fixtures_give_their_match_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/regression");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let windows = LogSource::new().product("windows");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (folder, info) in samples(&dir) {
        let rule_text = std::fs::read_to_string(folder.join("rule.yml")).expect("rule.yml");
        let (set, problems) = RuleSet::compile_with(&[("rule.yml", rule_text)], &opts);
        assert!(problems.is_empty(), "{}: {problems:?}", folder.display());
        let meta = &info.rule_metadata[0];
        assert!(
            info.regression_tests_info.len() >= 2,
            "{}: expected a positive and a negative test",
            folder.display()
        );
        for t in &info.regression_tests_info {
            let events = records(&folder.join(&t.path));
            let want = t.match_count.expect("own fixtures give match_count");
            let got = events
                .iter()
                .filter(|e| {
                    set.matches(*e, &windows)
                        .any(|m| m.id() == Some(meta.id.as_str()))
                })
                .count();
            checked += 1;
            if got != want {
                failures.push(format!(
                    "{} '{}' ({}): {got} of {} records matched, expected {want}",
                    folder.file_name().unwrap_or_default().to_string_lossy(),
                    meta.title,
                    t.name,
                    events.len()
                ));
            }
        }
    }
    println!(
        "own regression fixtures: {checked} sample files checked, {} failed",
        failures.len()
    );
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        checked >= 16,
        "expected 8 fixtures with 2 tests each, found {checked}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sigmahq_regression_samples_match() {
    let Some(rules_dir) =
        vigil_testkit::shared_data("sigma-rules", "sigmahq_regression_samples_match")
    else {
        return;
    };
    let Some(reg_dir) =
        vigil_testkit::shared_data("sigma-regression", "sigmahq_regression_samples_match")
    else {
        return;
    };
    let files = crate::read_tree(&rules_dir, "yml");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let (set, _) = RuleSet::compile_with(&files, &opts);
    let windows = LogSource::new().product("windows");

    let mut tested = 0;
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for (folder, info) in samples(&reg_dir) {
        for meta in &info.rule_metadata {
            tested += 1;
            let mut events = Vec::new();
            for entry in std::fs::read_dir(&folder).expect("sample folder") {
                let p = entry.expect("entry").path();
                if p.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&p).expect("sample json");
                    for v in
                        serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>()
                    {
                        events.push(v.expect("valid json record"));
                    }
                }
            }
            if events.is_empty() {
                // The sample is not EVTX-JSON (e.g. a raw Cisco log line): nothing to replay.
                skipped.push(format!("{}: no JSON sample", folder.display()));
                continue;
            }
            let Some(rule) = set
                .rules()
                .find(|r| r.id.as_deref() == Some(meta.id.as_str()))
            else {
                failures.push(format!(
                    "{}: rule {} ({}) not compiled",
                    folder.display(),
                    meta.id,
                    meta.title
                ));
                continue;
            };
            let hit = events.iter().any(|e| {
                set.matches(e, &windows)
                    .any(|m| m.id() == Some(meta.id.as_str()))
            });
            if !hit {
                failures.push(format!(
                    "{}: rule '{}' ({}, log source {}) matched none of {} sample records",
                    folder.strip_prefix(&reg_dir).unwrap_or(&folder).display(),
                    rule.title,
                    meta.id,
                    rule.logsource,
                    events.len()
                ));
            }
        }
    }
    println!(
        "sigma regression: {} of {} replayable rules matched their positive sample ({} without a JSON sample)",
        tested - skipped.len() - failures.len(),
        tested - skipped.len(),
        skipped.len()
    );
    for s in &skipped {
        println!("  SKIP {s}");
    }
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        tested >= 200,
        "expected ~203 regression samples, found {tested}"
    );
    assert!(
        failures.is_empty(),
        "{} regression samples failed",
        failures.len()
    );
}
