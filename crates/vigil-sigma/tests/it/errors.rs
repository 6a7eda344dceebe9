//! Golden error messages: each `tests/fixtures/errors/NAME.yml` compiles to the problems in
//! `NAME.out` (one `Display` line each). Set `VIGIL_BLESS=1` to rewrite the `.out` files.

use std::path::Path;

use vigil_sigma::RuleSet;

#[test]
fn error_messages_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors");
    let bless = std::env::var("VIGIL_BLESS").is_ok_and(|v| v == "1");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (name, text) in crate::read_tree(&dir, "yml") {
        let (_, problems) = RuleSet::compile(&[(name.as_str(), text.as_str())]);
        let mut got: String = problems.iter().map(|p| format!("{p}\n")).collect();
        if got.is_empty() {
            got = "(no problems)\n".into();
        }
        let out = dir.join(name.replace(".yml", ".out"));
        if bless {
            std::fs::write(&out, &got).expect("write golden file");
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        if got != want {
            mismatches.push(format!("{name}:\n  want: {want}  got:  {got}"));
        }
        checked += 1;
    }
    assert!(checked >= 20, "expected the fixtures, found {checked}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
