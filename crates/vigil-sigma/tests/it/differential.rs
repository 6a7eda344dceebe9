//! Differential tests: Vigil's verdicts against independent Sigma implementations on
//! generated rules × events (tests/fixtures/differential/cases.yml: one group per value
//! modifier and condition form, each rule of a group evaluated on each event of the group).
//!
//! - **pySigma** (PyPI `pysigma`, pinned in crates/vigil-web/tests/fixtures/requirements.txt,
//!   installed by `.ci/run` into the shared venv and found through `VIGIL_TEST_PYTHON`). pySigma
//!   has no evaluator: tests/differential/pysigma_eval.py takes pySigma's rule parsing, modifier
//!   chain and resolved condition tree and evaluates the tree's leaves with the rules stated at
//!   its top. So this compares rule acceptance, modifier output, condition semantics, and leaf
//!   matching under those stated rules.
//! - **rsigma** (crates.io 0.23.0, its `rule validate` and `engine eval` commands), compared when
//!   `VIGIL_TEST_RSIGMA` names its binary. CI does not install it (its `cargo install` takes far
//!   more than the 3-minute budget on this machine kind); a line says when it was not run.
//!
//! A verdict is `match`, `nomatch` or `error` (the rule is rejected). Every disagreement must be
//! listed in tests/fixtures/differential/known_differences.txt, each explained in
//! docs/sigma-differences.md; a listed difference that no longer occurs fails too (stale list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_sigma::{CompileOptions, LogSource, RuleSet};

#[derive(serde::Deserialize)]
struct Cases {
    groups: Vec<Group>,
}

#[derive(serde::Deserialize)]
struct Group {
    group: String,
    rules: BTreeMap<String, String>,
    events: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Match,
    NoMatch,
    Error,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::NoMatch => "nomatch",
            Verdict::Error => "error",
        }
    }
}

/// One generated rule: `group/name`, its file stem, its text and its group's events (global
/// indexes into the NDJSON file).
struct GenRule {
    key: String,
    stem: String,
    group: String,
    text: String,
    events: std::ops::Range<usize>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/differential")
}

fn generate() -> (Vec<GenRule>, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(fixtures().join("cases.yml")).expect("cases.yml");
    let cases: Cases = serde_saphyr::from_str(&text).expect("cases.yml parses");
    let mut rules = Vec::new();
    let mut events = Vec::new();
    for (gi, g) in cases.groups.iter().enumerate() {
        let start = events.len();
        events.extend(g.events.iter().cloned());
        let range = start..events.len();
        for (ri, (name, body)) in g.rules.iter().enumerate() {
            let detection: String = body.lines().map(|l| format!("  {l}\n")).collect();
            let text = format!(
                "title: diff {group}/{name}\nid: 5e3a0000-0000-4000-8000-{gi:06}{ri:06}\nstatus: test\nlogsource:\n  product: difftest\n  category: {group}\ndetection:\n{detection}level: low\n",
                group = g.group
            );
            rules.push(GenRule {
                key: format!("{}/{name}", g.group),
                stem: format!("{}__{name}", g.group),
                group: g.group.clone(),
                text,
                events: range.clone(),
            });
        }
    }
    (rules, events)
}

/// Vigil's verdicts, in process: `(rule key, global event index) -> verdict`.
fn vigil_verdicts(
    rules: &[GenRule],
    events: &[serde_json::Value],
) -> BTreeMap<(String, usize), Verdict> {
    let sources: Vec<(String, String)> = rules
        .iter()
        .map(|r| (format!("{}.yml", r.stem), r.text.clone()))
        .collect();
    let (set, problems) = RuleSet::compile_with(&sources, &CompileOptions::default());
    let failed: BTreeSet<String> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.path.trim_end_matches(".yml").to_owned())
        .collect();
    let mut out = BTreeMap::new();
    for r in rules {
        let ls = LogSource::new().product("difftest").category(&r.group);
        let title = format!("diff {}", r.key);
        for i in r.events.clone() {
            let v = if failed.contains(&r.stem) {
                Verdict::Error
            } else if set.matches(&events[i], &ls).any(|m| m.title() == title) {
                Verdict::Match
            } else {
                Verdict::NoMatch
            };
            out.insert((r.key.clone(), i), v);
        }
    }
    out
}

/// Turns `{"rule": stem, "event": i}` / `{"rule": stem, "error": ...}` lines into verdicts.
fn verdicts_from_lines(
    rules: &[GenRule],
    matched: &BTreeSet<(String, usize)>,
    errors: &BTreeSet<String>,
) -> BTreeMap<(String, usize), Verdict> {
    let mut out = BTreeMap::new();
    for r in rules {
        for i in r.events.clone() {
            let v = if errors.contains(&r.stem) {
                Verdict::Error
            } else if matched.contains(&(r.stem.clone(), i)) {
                Verdict::Match
            } else {
                Verdict::NoMatch
            };
            out.insert((r.key.clone(), i), v);
        }
    }
    out
}

fn pysigma_verdicts(
    python: &Path,
    dir: &Path,
    rules: &[GenRule],
) -> BTreeMap<(String, usize), Verdict> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/pysigma_eval.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(dir.join("rules"))
        .arg(dir.join("events.ndjson"))
        .output()
        .expect("run pysigma_eval.py");
    assert!(
        out.status.success(),
        "pysigma_eval.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut matched = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let stem = v["rule"].as_str().expect("rule").to_owned();
        if let Some(e) = v.get("error") {
            println!("  pysigma rejects {stem}: {}", e.as_str().unwrap_or(""));
            errors.insert(stem);
        } else {
            let i = v["event"].as_u64().expect("event index") as usize;
            matched.insert((stem, i));
        }
    }
    verdicts_from_lines(rules, &matched, &errors)
}

/// rsigma: per rule, `rsigma rule validate` (exit 0 or the rule is rejected) then `rsigma engine eval
/// --include-event` over the rule's group's events; each JSON match carries the event, which
/// identifies its index (the events of a group are distinct).
fn rsigma_verdicts(
    bin: &Path,
    dir: &Path,
    rules: &[GenRule],
    events: &[serde_json::Value],
) -> BTreeMap<(String, usize), Verdict> {
    let mut matched = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for r in rules {
        // One rule per directory so a rejected rule does not hide the others.
        let rdir = dir.join("rsigma").join(&r.stem);
        std::fs::create_dir_all(&rdir).expect("rule dir");
        std::fs::write(rdir.join("rule.yml"), &r.text).expect("write rule");
        let group = &events[r.events.clone()];
        let mut ndjson = String::new();
        for e in group {
            ndjson.push_str(&serde_json::to_string(e).expect("event json"));
            ndjson.push('\n');
        }
        let efile = dir.join("rsigma").join(format!("{}.ndjson", r.stem));
        std::fs::write(&efile, ndjson).expect("write events");
        let valid = Command::new(bin)
            .args(["rule", "validate"])
            .arg(&rdir)
            .output()
            .expect("run rsigma validate");
        if !valid.status.success() {
            println!(
                "  rsigma rejects {}: {}",
                r.stem,
                String::from_utf8_lossy(&valid.stdout)
                    .lines()
                    .chain(String::from_utf8_lossy(&valid.stderr).lines())
                    .filter(|l| l.to_lowercase().contains("error"))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
            errors.insert(r.stem.clone());
            continue;
        }
        let out = Command::new(bin)
            .args(["engine", "eval"])
            .arg("-r")
            .arg(&rdir)
            .arg("--include-event")
            .arg("-e")
            .arg(format!("@{}", efile.display()))
            .output()
            .expect("run rsigma eval");
        if out.status.code() == Some(2) || out.status.code() == Some(3) {
            println!(
                "  rsigma eval rejects {}: {}",
                r.stem,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            errors.insert(r.stem.clone());
            continue;
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(ev) = v.get("event") else {
                continue;
            };
            if let Some(k) = group.iter().position(|e| e == ev) {
                matched.insert((r.stem.clone(), r.events.start + k));
            }
        }
    }
    verdicts_from_lines(rules, &matched, &errors)
}

fn python(test: &str) -> Option<PathBuf> {
    let p = std::env::var("VIGIL_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let why = match &p {
        None => "VIGIL_TEST_PYTHON is not set".to_owned(),
        Some(p) if !p.exists() => format!("VIGIL_TEST_PYTHON={} does not exist", p.display()),
        Some(p) => {
            let ok = Command::new(p)
                .args(["-c", "import sigma.collection"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(p.clone());
            }
            format!("pySigma is not installed in {}", p.display())
        }
    };
    assert!(
        !vigil_testkit::require(),
        "{test}: {why} (VIGIL_TEST_REQUIRE=1; .ci/run installs pysigma into the venv)"
    );
    println!("SKIP {test}: {why}");
    None
}

/// The rsigma binary named by `VIGIL_TEST_RSIGMA` (for example
/// /var/tmp/vigil-tools/bin/rsigma). Set but missing: a SKIP line, or a failure under
/// `VIGIL_TEST_REQUIRE=1`. Unset: the rsigma comparison is optional (CI compares pySigma only,
/// so its result never depends on a tool left on the machine) and a line says it was not run.
fn rsigma(test: &str) -> Option<PathBuf> {
    match std::env::var("VIGIL_TEST_RSIGMA")
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    {
        Some(p) if p.exists() => Some(p),
        Some(p) => {
            let why = format!("VIGIL_TEST_RSIGMA={} does not exist", p.display());
            assert!(
                !vigil_testkit::require(),
                "{test}: {why} (VIGIL_TEST_REQUIRE=1)"
            );
            println!("SKIP {test} (rsigma part): {why}");
            None
        }
        None => {
            println!(
                "{test}: rsigma not compared (VIGIL_TEST_RSIGMA unset; CI compares pySigma only)"
            );
            None
        }
    }
}

/// `tool<TAB>group/rule<TAB>event index in its group<TAB>vigil verdict<TAB>tool verdict`.
fn known_differences() -> BTreeSet<String> {
    std::fs::read_to_string(fixtures().join("known_differences.txt"))
        .expect("known_differences.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').take(5).collect::<Vec<_>>().join("\t"))
        .collect()
}

fn compare(
    tool: &str,
    rules: &[GenRule],
    vigil: &BTreeMap<(String, usize), Verdict>,
    other: &BTreeMap<(String, usize), Verdict>,
    found: &mut BTreeSet<String>,
) -> (usize, usize) {
    let start: BTreeMap<&str, usize> = rules
        .iter()
        .map(|r| (r.key.as_str(), r.events.start))
        .collect();
    let mut total = 0;
    let mut agree = 0;
    for ((key, i), v) in vigil {
        total += 1;
        let o = other[&(key.clone(), *i)];
        if o == *v {
            agree += 1;
        } else {
            found.insert(format!(
                "{tool}\t{key}\t{}\t{}\t{}",
                i - start[key.as_str()],
                v.as_str(),
                o.as_str()
            ));
        }
    }
    (total, agree)
}

#[test]
fn vigil_agrees_with_pysigma_and_rsigma() {
    const TEST: &str = "vigil_agrees_with_pysigma_and_rsigma";
    let (rules, events) = generate();
    assert!(rules.len() >= 80, "only {} generated rules", rules.len());
    let vigil = vigil_verdicts(&rules, &events);

    let dir = std::env::temp_dir().join(format!("vigil-sigmadiff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rules")).expect("temp dir");
    for r in &rules {
        std::fs::write(dir.join("rules").join(format!("{}.yml", r.stem)), &r.text)
            .expect("write rule");
    }
    let mut ndjson = String::new();
    for e in &events {
        ndjson.push_str(&serde_json::to_string(e).expect("event json"));
        ndjson.push('\n');
    }
    std::fs::write(dir.join("events.ndjson"), ndjson).expect("write events");

    let known = known_differences();
    let mut found = BTreeSet::new();
    let mut tools_run = Vec::new();
    if let Some(py) = python(TEST) {
        let theirs = pysigma_verdicts(&py, &dir, &rules);
        let (total, agree) = compare("pysigma", &rules, &vigil, &theirs, &mut found);
        tools_run.push("pysigma");
        println!(
            "sigma differential vs pySigma: {total} generated cases ({} rules), {agree} agree, {} differ",
            rules.len(),
            total - agree
        );
    }
    if let Some(bin) = rsigma(TEST) {
        let theirs = rsigma_verdicts(&bin, &dir, &rules, &events);
        let (total, agree) = compare("rsigma", &rules, &vigil, &theirs, &mut found);
        tools_run.push("rsigma");
        println!(
            "sigma differential vs rsigma: {total} generated cases ({} rules), {agree} agree, {} differ",
            rules.len(),
            total - agree
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    let undocumented: Vec<&String> = found.difference(&known).collect();
    let stale: Vec<&String> = known
        .iter()
        .filter(|k| tools_run.iter().any(|t| k.starts_with(&format!("{t}\t"))))
        .filter(|k| !found.contains(*k))
        .collect();
    println!(
        "documented differences: {} (of {} listed)",
        found.len() - undocumented.len(),
        known.len()
    );
    for d in &undocumented {
        println!("  UNDOCUMENTED {d}");
    }
    for d in &stale {
        println!("  STALE {d}");
    }
    assert!(
        undocumented.is_empty(),
        "{} disagreements are not in known_differences.txt: {undocumented:#?}",
        undocumented.len()
    );
    assert!(
        stale.is_empty(),
        "known_differences.txt lists differences that no longer occur: {stale:#?}"
    );
}
