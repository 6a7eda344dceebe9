//! Conformance: the SigmaHQ rule corpus in ../shared/data/sigma-rules compiles, its
//! correlation rules included.

use std::collections::BTreeMap;

use vigil_sigma::{CompileOptions, RuleSet, Severity};

#[test]
fn sigmahq_corpus_compiles() {
    let Some(dir) = vigil_testkit::shared_data("sigma-rules", "sigmahq_corpus_compiles") else {
        return;
    };
    let files = crate::read_tree(&dir, "yml");
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let (set, problems) = RuleSet::compile_with(&files, &opts);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity() == Severity::Error)
        .collect();
    let failed_files: std::collections::BTreeSet<&str> =
        errors.iter().map(|p| p.path.as_str()).collect();
    let total = set.stats().rules + failed_files.len();
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &errors {
        *by_code.entry(p.code.as_str()).or_default() += 1;
    }
    println!(
        "sigma corpus: {} of {} rules compiled ({:.2}%), {} failed, {} warnings",
        set.stats().rules,
        total,
        100.0 * set.stats().rules as f64 / total.max(1) as f64,
        failed_files.len(),
        problems.len() - errors.len()
    );
    println!("failures by code: {by_code:?}");
    for p in &errors {
        println!("  {p}");
    }
    println!("stats: {:?}", set.stats());
    assert!(
        total >= 3_700,
        "expected the whole corpus, found {total} rules"
    );
    assert!(
        set.stats().rules as f64 >= 0.995 * total as f64,
        "only {} of {total} rules compiled",
        set.stats().rules
    );
}

/// Every correlation document of the corpus (files with a top-level `correlation:` key)
/// compiles without errors, with the whole corpus loaded so references resolve. The corpus
/// copied into ../shared/data had none when this test was written; the count is printed.
#[test]
fn sigmahq_correlation_rules_compile() {
    let Some(dir) = vigil_testkit::shared_data("sigma-rules", "sigmahq_correlation_rules_compile")
    else {
        return;
    };
    let files = crate::read_tree(&dir, "yml");
    let with_correlations: std::collections::BTreeSet<&str> = files
        .iter()
        .filter(|(_, text)| text.lines().any(|l| l.starts_with("correlation:")))
        .map(|(path, _)| path.as_str())
        .collect();
    let opts = CompileOptions::with_mapping("evtx").expect("builtin mapping");
    let (set, problems) = RuleSet::compile_with(&files, &opts);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.is_error() && with_correlations.contains(p.path.as_str()))
        .collect();
    println!(
        "sigma corpus: {} files with correlation rules, {} correlations compiled, {} errors",
        with_correlations.len(),
        set.correlations().len(),
        errors.len()
    );
    for p in &errors {
        println!("  {p}");
    }
    assert!(errors.is_empty(), "correlation rules failed: {errors:?}");
    assert!(set.correlations().len() >= with_correlations.len());
}
