//! The fast reader against serde-saphyr: every construct of the subset gives the same tree
//! (positions included), every construct outside it falls back.

use super::*;

/// The fast reader takes `text` and agrees with serde-saphyr.
#[track_caller]
fn same(text: &str) {
    match equivalence(text) {
        Ok(true) => {}
        Ok(false) => panic!("fell back on {text:?}"),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// The fast reader leaves `text` to serde-saphyr.
#[track_caller]
fn falls_back(text: &str) {
    assert!(parse(text).is_none(), "took {text:?}: {:#?}", parse(text));
}

#[test]
fn block_maps_and_sequences() {
    same("title: x\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n");
    same("a:\n  - x\n  - y\nb:\n- 1\n- 2\nc: z\n");
    same("- a\n- b: 1\n  c: 2\n- c\n");
    same("list:\n  - a: 1\n    b:\n      - x\n  - c: 'q'\n    d: \"e\"\n");
    same("  indented: root\n  second: 2\n");
    same("a:\n    deep:\n        deeper: x\n");
    same("- x\n-   spaced: 1\n    next: 2\n");
    same("top:\n- a: 1\n  b: 2\n- c\n");
    same("- k:\n  - a\n  - b\n- c\n");
    same("a:\n  b:\n  - x\n  c: 1\n");
}

#[test]
fn comments_and_blank_lines() {
    same(
        "# head\n\na: 1 # trailing\n\n# mid\nb:   # after key\n  - x # item\n    # deeper\n  - y\n",
    );
    same("a: x#y\nb: 'q' # c\nc: \"d\"   # e\n");
    same("a: b  \nc: d \n");
}

#[test]
fn documents() {
    same("a: 1\n---\nb: 2\n");
    same("---\na: 1\n---\nb: 2\n...\n");
    same("# c\n---\na: 1\n");
    same("a: 1\n...\n---\nb: 2\n");
    same("a: 1\n...\n");
    same("");
    same("# only a comment\n\n");
}

#[test]
fn plain_scalars_are_typed_as_serde_saphyr_types_them() {
    for v in [
        "x",
        "null",
        "Null",
        "NULL",
        "~",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Y",
        "N",
        "0",
        "1",
        "-1",
        "42",
        "4688",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.5",
        "-2.25",
        "0.1",
        "10.000",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "Infinity",
        "-Infinity",
        "2021-01-01",
        "2021/01/01",
        "1.2.3",
        "1-2",
        "a1",
        "-x",
        "--x",
        "1a",
        "1f",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        "0b4b72e3-4c53-4d5b-b198-2c58cfef39a9",
        "0xzz",
        "0b12x",
        "0xg",
        "-.x",
        "-.5x",
        ".x",
        ".serviceAccounts.patch",
        ".iNf",
        ".nAn",
        "d41d8cd98f00b204e9800998ecf8427e",
        "C:\\Windows",
        "foo bar",
        "a,b",
        "a]b",
        "a}b",
        "a[b",
        "日本",
        "é1",
        "1é",
        "1 2",
        "1.5 x",
        "+x",
        "1+",
        "a:b",
        "http://x/y",
        "1_a",
        "2020-01-01T00:00:00Z",
        "12:30",
        "1:2",
        "x%",
        "a'b",
        "a\"b",
        "a\\b",
        "a#b",
        "a #b",
    ] {
        same(&format!("k: {v}\n"));
        same(&format!("- {v}\n"));
    }
}

#[test]
fn uncertain_plain_scalars_fall_back() {
    for v in [
        "0x10", "0o17", "0b101", "1e5", "1E5", "-1e-5", "1_000", "+1", "+1.5", "-0", "01", "007",
        "0.", ".5", ".inf", "-.inf", ".nan", "1.", "1e", "0x", "00.5", ".Inf", "+.inf", ".NaN",
        ".5e3",
    ] {
        falls_back(&format!("k: {v}\n"));
    }
}

#[test]
fn keys_are_typed_too() {
    // Not duplicates for serde-saphyr (an integer and a string), but the check here
    // compares text.
    falls_back("4688: a\n'4688': b\n");
    same("4688: a\n'4689': b\n");
    same("1: a\n2: b\n");
    same("\"quoted key\": 1\n'single key': 2\nplain key: 3\n");
    same("Field|contains|all:\n  - a\n  - b\n");
    same("- 'q': 1\n  \"r\": 2\n");
}

#[test]
fn quoted_scalars() {
    same("a: 'it''s'\nb: ''\nc: '''x'''\nd: 'a # b'\ne: 'x: y'\n");
    same(r#"a: "\\ \" \n \t \/ \x41 \u00e9 \U0001F600 \0 \a \b \e \f \r \v \  \N \_ \L \P""#);
    same("a: \"\"\nb: \"C:\\\\Windows\"\nc: \"null\"\nd: '1'\ne: 'true'\n");
    same("a: '  spaces  '\nb: \"  \"\n");
    same("a: 'é日本'\nb: 'x' # c\n");
    same("- 'é' \n- \"日本\": 'x'\n");
}

#[test]
fn block_scalars() {
    for h in ["|", "|-", "|+", ">", ">-", ">+"] {
        same(&format!("a: {h}\n  one\n  two\n\n  three\n\n\nb: x\n"));
        let more_indented = format!("a: {h}\n  one\n    indented\n  two\n\nb: x\n");
        if h.starts_with('|') {
            same(&more_indented);
        } else {
            // Folded lines indented more keep their breaks: not in the subset.
            falls_back(&more_indented);
        }
        same(&format!("- {h}\n  x\n  y\n- z\n"));
        same(&format!("a: {h} # c\n   x  \n   y\nb: 1\n"));
        same(&format!("a:\n  b: {h}\n    x\n\n    y\n  c: d\n"));
        same(&format!("a: {h}\n\n  x\nb: 1\n"));
    }
}

#[test]
fn flow_sequences() {
    same("a: [x, 'y', \"z\", 1, true, null]\nb: []\nc: [ a , b ]\n");
    same(
        "tags: [attack.t1059, 'attack.execution']\n- x\n"
            .split("- x")
            .next()
            .unwrap_or(""),
    );
    same("- [a, b]\n- [ ]\n");
    same("a: ['x,y', \"]\"] # c\n");
}

#[test]
fn unicode_columns() {
    same("é: 日本\nx: 'ü'\n- a\n".split("- a").next().unwrap_or(""));
    same("- 日本: é\n  ü: [é, ü]\n");
}

#[test]
fn outside_the_subset_falls_back() {
    for t in [
        "%YAML 1.2\n---\na: 1\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: {b: 1}\n",
        "? a\n: b\n",
        "a: b\n  c\n",
        "- a\n  b\n",
        "a: 'x\n  y'\n",
        "a: \"x\n  y\"\n",
        "a:\tb\n",
        "a: b\r\n",
        "\u{feff}a: b\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\n",
        "a: [[1], 2]\n",
        "a: [x,\n  y]\n",
        "a: |2\n  x\n",
        "a: b: c\n",
        "- - a\n",
        "a: [a: b]\n",
        "--- a: 1\n",
        "a: 1\n---\n",
        "just a scalar\n",
        "a: \"\\q\"\n",
        "a: \"\\ud800\"\n",
        "a: 1 \n b: 2\n",
        "a:\n  - x\n b: 1\n",
        "a: >\n  x\n   more\n  y\n",
        "a: x\n- y\n",
        "a: [x, ]\n",
        "a: ",
        "a:\n",
        "- \n",
        "a:\n-\n  k: v\n",
        "- a\nb: 1\n",
        "a: 'x'\n  b\n",
    ] {
        falls_back(t);
    }
}

fn nested(levels: usize) -> String {
    let mut s = String::new();
    for d in 0..levels {
        s.push_str(&" ".repeat(d * 2));
        s.push_str("k:\n");
    }
    s.push_str(&" ".repeat(levels * 2));
    s.push_str("v: 1\n");
    s
}

#[test]
fn deep_nesting_falls_back() {
    same(&nested(20));
    // Deeper goes to serde-saphyr, whose budget decides (not called here: in a debug build
    // its recursion needs more than a test thread's stack well before its limit of 64).
    falls_back(&nested(50));
}

#[test]
fn size_limit_stays_first() {
    let big = "a: b\n".repeat(crate::yaml::MAX_FILE_BYTES / 5 + 1);
    let err = crate::yaml::parse_documents(&big).expect_err("too large");
    assert!(err.message.contains("more than the limit"), "{err:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2_000))]

    /// Any text, however broken, gets an answer and no panic; when it is `Some`, it is
    /// serde-saphyr's.
    #[test]
    fn arbitrary_text_never_panics(text in "([ \n:#'\"|>\\[\\],{}&*!%@`?\\\\-]|[a-c0-9]|é|\\.|---|\t){0,120}") {
        if let Some(fast) = parse(&text) {
            let slow = crate::yaml::parse_documents_saphyr(&text);
            proptest::prop_assert_eq!(Some(fast), slow.ok());
        }
    }
}
