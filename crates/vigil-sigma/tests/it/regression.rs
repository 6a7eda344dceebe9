//! SigmaHQ regression data (../shared/data/sigma-regression): for each tested rule, a folder
//! named after the rule file holds `info.yml` (the rule id under `rule_metadata`) and the
//! positive sample as concatenated EVTX-JSON records. Each tested rule must match at least
//! one record of its sample, with the Windows log source found from channel and event id.

use std::path::Path;

use vigil_sigma::{CompileOptions, LogSource, RuleSet};

#[derive(serde::Deserialize)]
struct Info {
    rule_metadata: Vec<RuleMeta>,
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
