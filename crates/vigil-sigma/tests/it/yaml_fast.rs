//! The fast YAML reader against serde-saphyr: over every YAML file of the SigmaHQ corpus
//! and the regression samples (trees and positions equal whenever the fast reader takes a
//! file; most files must take it), and over generated Sigma-like documents.

use std::collections::BTreeMap;

use proptest::prelude::*;

/// Every `.yml` under `dir`, checked; returns (fast, fell back), panics on a difference.
fn check_tree(name: &str, test: &str) -> Option<(usize, usize, Vec<String>)> {
    let dir = vigil_testkit::shared_data(name, test)?;
    let mut fast = 0;
    let mut fallback = Vec::new();
    let mut differ = Vec::new();
    for (path, text) in crate::read_tree(&dir, "yml") {
        match vigil_sigma::yaml_fast_equivalence(&text) {
            Ok(true) => fast += 1,
            Ok(false) => {
                let line = vigil_sigma::yaml_fast_fallback_line(&text).unwrap_or(0);
                let at = text
                    .lines()
                    .nth(line.saturating_sub(1) as usize)
                    .filter(|_| line > 0)
                    .unwrap_or("(whole file)");
                fallback.push(format!("{path}:{line}: {}", at.trim()));
            }
            Err(e) => differ.push(format!("{path}: {e}")),
        }
    }
    assert!(
        differ.is_empty(),
        "{} files read differently:\n{}",
        differ.len(),
        differ.join("\n\n")
    );
    Some((fast, fallback.len(), fallback))
}

#[test]
fn fast_reader_equals_serde_saphyr_on_the_corpus() {
    let mut total_fast = 0;
    let mut total = 0;
    for name in ["sigma-rules", "sigma-regression"] {
        let Some((fast, fell_back, paths)) =
            check_tree(name, "fast_reader_equals_serde_saphyr_on_the_corpus")
        else {
            continue;
        };
        println!(
            "{name}: {fast} files by the fast reader, {fell_back} by serde-saphyr ({:.1}% fast)",
            100.0 * fast as f64 / (fast + fell_back).max(1) as f64
        );
        for p in &paths {
            println!("  fell back: {name}/{p}");
        }
        total_fast += fast;
        total += fast + fell_back;
    }
    if total > 0 {
        assert!(
            total_fast as f64 >= 0.95 * total as f64,
            "only {total_fast} of {total} files took the fast path"
        );
    }
}

/// Text with the characters that make YAML quoting awkward.
fn awkward() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(":".to_owned()),
            Just(": ".to_owned()),
            Just("#".to_owned()),
            Just(" #".to_owned()),
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just(" ".to_owned()),
            Just("-".to_owned()),
            Just("- ".to_owned()),
            Just(",".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("*".to_owned()),
            Just("é".to_owned()),
            Just("日本".to_owned()),
            Just("0".to_owned()),
            Just("1".to_owned()),
            Just(".".to_owned()),
            Just("e".to_owned()),
            Just("x".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            "[a-zA-Z0-9_|.]{1,8}",
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

#[derive(Debug, Clone)]
enum Style {
    Plain,
    Single,
    Double,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)]
}

fn render(s: &str, style: &Style) -> String {
    match style {
        // Plain may well be invalid or mean something else: then the fast reader must fall
        // back or agree.
        Style::Plain => s.to_owned(),
        Style::Single => format!("'{}'", s.replace('\'', "''")),
        Style::Double => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    'é' => out.push_str("\\u00e9"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

type Selection = Vec<(String, Style, Vec<(String, Style)>)>;

fn selection() -> impl Strategy<Value = Selection> {
    prop::collection::vec(
        (
            "[A-Za-z][A-Za-z0-9|]{0,12}",
            style(),
            prop::collection::vec((awkward(), style()), 1..4),
        ),
        1..4,
    )
}

fn document(sel: &Selection, flow: bool, indent: usize, comments: bool) -> String {
    let pad = " ".repeat(indent);
    let mut y = String::from("title: generated\ndetection:\n");
    y.push_str(&format!("{pad}selection:\n"));
    let mut seen = BTreeMap::new();
    for (key, kstyle, values) in sel {
        if seen.insert(key.clone(), ()).is_some() {
            continue;
        }
        let k = render(key, kstyle);
        if flow {
            let items: Vec<String> = values.iter().map(|(v, s)| render(v, s)).collect();
            y.push_str(&format!("{pad}{pad}{k}: [{}]\n", items.join(", ")));
        } else if values.len() == 1 {
            y.push_str(&format!(
                "{pad}{pad}{k}: {}\n",
                render(&values[0].0, &values[0].1)
            ));
        } else {
            y.push_str(&format!("{pad}{pad}{k}:\n"));
            for (v, s) in values {
                let c = if comments { " # note" } else { "" };
                y.push_str(&format!("{pad}{pad}{pad}- {}{c}\n", render(v, s)));
            }
        }
    }
    y.push_str(&format!("{pad}condition: selection\n"));
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn fast_reader_equals_serde_saphyr_on_generated_rules(
        sel in selection(),
        flow in any::<bool>(),
        indent in 1usize..5,
        comments in any::<bool>(),
    ) {
        let doc = document(&sel, flow, indent, comments);
        let r = vigil_sigma::yaml_fast_equivalence(&doc);
        prop_assert!(r.is_ok(), "{doc}\n{}", r.clone().err().unwrap_or_default());
        // Quoted keys and values are always in the subset: the comparison above is not
        // vacuous.
        let quoted = |s: &Style| !matches!(s, Style::Plain);
        if sel.iter().all(|(_, k, vs)| quoted(k) && vs.iter().all(|(_, s)| quoted(s))) {
            prop_assert_eq!(r, Ok(true), "{}", doc);
        }
    }
}
