//! Evaluation tests: every modifier, wildcard and escape case, condition form, filters,
//! routing by log source, and the event implementations.

use serde_json::{Value as Json, json};

use super::*;

const LS: &str = "logsource: {product: test}\n";

fn rule(detection: &str) -> String {
    format!("title: t\nid: r1\n{LS}detection:\n{detection}")
}

fn compiled(detection: &str) -> RuleSet {
    let (set, problems) = RuleSet::compile(&[("t.yml", rule(detection))]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(set.stats().rules, 1);
    set
}

fn hits(set: &RuleSet, event: &Json) -> bool {
    set.matches(event, &LogSource::new().product("test"))
        .next()
        .is_some()
}

/// Asserts that the selection `sel` (YAML map body) matches each of `yes` and none of `no`.
fn check(sel: &str, yes: &[Json], no: &[Json]) {
    let set = compiled(&format!("  sel:\n{sel}  condition: sel\n"));
    for e in yes {
        assert!(hits(&set, e), "{sel} should match {e}");
    }
    for e in no {
        assert!(!hits(&set, e), "{sel} should not match {e}");
    }
}

#[test]
fn plain_values_are_case_insensitive_whole_value() {
    check(
        "    F: abc\n",
        &[
            json!({"F": "abc"}),
            json!({"F": "ABC"}),
            json!({"F": ["x", "aBc"]}),
        ],
        &[
            json!({"F": "abcd"}),
            json!({"F": "xabc"}),
            json!({}),
            json!({"G": "abc"}),
        ],
    );
    check(
        "    F: 'Ärger'\n",
        &[json!({"F": "ärger"}), json!({"F": "ÄRGER"})],
        &[json!({"F": "arger"})],
    );
    check(
        "    F: ''\n",
        &[json!({"F": ""})],
        &[json!({"F": "x"}), json!({})],
    );
}

#[test]
fn numbers_booleans_and_null() {
    check(
        "    EventID: 4688\n",
        &[json!({"EventID": 4688}), json!({"EventID": "4688"})],
        &[json!({"EventID": 46880})],
    );
    check("    F: '5'\n", &[json!({"F": 5})], &[json!({"F": 6})]);
    check(
        "    F: true\n",
        &[json!({"F": true}), json!({"F": "True"})],
        &[json!({"F": false})],
    );
    check(
        "    F: null\n",
        &[json!({}), json!({"F": null}), json!({"F": ""})],
        &[json!({"F": "x"}), json!({"F": 0})],
    );
    check("    F: 1.5\n", &[json!({"F": 1.5})], &[json!({"F": 1.25})]);
}

#[test]
fn wildcards_and_escapes() {
    check(
        "    F: 'a*c'\n",
        &[
            json!({"F": "ac"}),
            json!({"F": "aXXc"}),
            json!({"F": "A\nc"}),
        ],
        &[json!({"F": "acx"})],
    );
    check(
        "    F: 'a?c'\n",
        &[json!({"F": "abc"}), json!({"F": "aéc"})],
        &[json!({"F": "ac"}), json!({"F": "abbc"})],
    );
    check(
        "    F: 'a\\*c'\n",
        &[json!({"F": "a*c"})],
        &[json!({"F": "abc"})],
    );
    check(
        "    F: 'a\\?c'\n",
        &[json!({"F": "a?c"})],
        &[json!({"F": "abc"})],
    );
    check(
        "    F: 'a\\\\*'\n",
        &[json!({"F": "a\\"}), json!({"F": "a\\xyz"})],
        &[json!({"F": "ab"})],
    );
    // `\*` is an escaped star, so a directory wildcard needs `\\*` (spec 2.1 escaping).
    check(
        "    F: 'C:\\Windows\\*'\n",
        &[json!({"F": "c:\\windows*"})],
        &[json!({"F": "c:\\windows\\x.exe"})],
    );
    check(
        "    F: 'C:\\Windows\\\\*'\n",
        &[json!({"F": "c:\\windows\\x.exe"})],
        &[json!({"F": "c:\\win"})],
    );
    check(
        "    F: '*'\n",
        &[json!({"F": "x"}), json!({"F": ""}), json!({"F": 3})],
        &[json!({}), json!({"F": null})],
    );
    check(
        "    F: '*a*b*'\n",
        &[json!({"F": "xaybz"})],
        &[json!({"F": "xbya"})],
    );
}

#[test]
fn string_modifiers() {
    check(
        "    F|contains: ell\n",
        &[json!({"F": "HELLO"})],
        &[json!({"F": "elo"})],
    );
    check(
        "    F|startswith: he\n",
        &[json!({"F": "Hello"})],
        &[json!({"F": "ohe"})],
    );
    check(
        "    F|endswith: '\\cmd.exe'\n",
        &[json!({"F": "C:\\x\\CMD.EXE"})],
        &[json!({"F": "cmd.exe"})],
    );
    check(
        "    F|contains|all: [a, b]\n",
        &[json!({"F": "xbxa"})],
        &[json!({"F": "aaa"})],
    );
    check(
        "    F|contains: [a, b]\n",
        &[json!({"F": "xb"})],
        &[json!({"F": "c"})],
    );
    check(
        "    F|cased: AbC\n",
        &[json!({"F": "AbC"})],
        &[json!({"F": "abc"})],
    );
    check(
        "    F|contains|cased: B\n",
        &[json!({"F": "aBc"})],
        &[json!({"F": "abc"})],
    );
    check(
        "    F|neq: x\n",
        &[json!({"F": "y"}), json!({})],
        &[json!({"F": "X"})],
    );
}

#[test]
fn encoding_modifiers() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    check(
        "    F|base64: 'cmd'\n",
        &[json!({"F": b64(b"cmd")})],
        &[json!({"F": "cmd"})],
    );
    check(
        "    F|base64|contains: 'cmd'\n",
        &[json!({"F": format!("xx{}", b64(b"cmd"))})],
        &[json!({"F": "x"})],
    );
    // base64offset finds the value at any byte offset inside a longer encoded text.
    for prefix in ["", "a", "ab", "abc"] {
        let encoded = b64(format!("{prefix}Invoke-Mimikatz and more").as_bytes());
        check(
            "    F|base64offset|contains: 'Invoke-Mimikatz'\n",
            &[json!({"F": encoded})],
            &[json!({"F": b64(b"other text here")})],
        );
    }
    let wide: Vec<u8> = "Invoke"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    for prefix in [&b""[..], b"x\0", b"ab\0c"] {
        let mut payload = prefix.to_vec();
        payload.extend_from_slice(&wide);
        check(
            "    F|wide|base64offset|contains: 'Invoke'\n",
            &[json!({"F": b64(&payload)})],
            &[json!({"F": b64(b"Invoke")})],
        );
    }
    check(
        "    F|utf16le|base64: 'ab'\n",
        &[json!({"F": b64(b"a\0b\0")})],
        &[],
    );
    check(
        "    F|utf16be|base64: 'ab'\n",
        &[json!({"F": b64(b"\0a\0b")})],
        &[],
    );
    check(
        "    F|utf16|base64: 'ab'\n",
        &[json!({"F": b64(b"\xff\xfea\0b\0")})],
        &[],
    );
    check(
        "    F|wide|contains: 'ab'\n",
        &[json!({"F": "xa\u{0}b\u{0}"})],
        &[json!({"F": "ab"})],
    );
}

#[test]
fn caseless_non_ascii_needles_use_the_automaton() {
    assert!(ascii_foldable("a\u{2013}b".as_bytes()));
    assert!(!ascii_foldable("\u{c4}rger".as_bytes()));
    assert!(!ascii_foldable(&[0xff, 0x00]));
}

#[test]
fn unicode_folded_needles_are_triggered_by_non_ascii_values() {
    // Cyrillic letters have case: these needles are tested with Unicode folding, and the
    // rule is a candidate only when a value has a non-ASCII character.
    check(
        "    F|contains: '\u{410}\u{411}'\n",
        &[
            json!({"F": "x\u{430}\u{431}y"}),
            json!({"F": "\u{410}\u{431}"}),
            json!({"F": ["ascii", "\u{430}\u{411}"]}),
        ],
        &[
            json!({"F": "ab"}),
            json!({"F": "\u{430}"}),
            json!({"G": "\u{430}\u{431}"}),
        ],
    );
    check(
        "    F|endswith: '\u{c4}'\n",
        &[json!({"F": "x\u{e4}"})],
        &[json!({"F": "xa"}), json!({"F": "\u{e4}x"})],
    );
    let set = compiled("  kw:\n    - '\u{416}'\n  condition: kw\n");
    assert_eq!(set.stats().untriggered_rules, 0);
    assert!(hits(&set, &json!({"a": {"b": "x\u{436}"}})));
    assert!(!hits(&set, &json!({"a": {"b": "zh"}})));
}

#[test]
fn windash() {
    check(
        "    F|contains|windash: ' -enc '\n",
        &[
            json!({"F": "powershell -enc x"}),
            json!({"F": "powershell /enc x"}),
            json!({"F": "powershell \u{2013}enc x"}),
            json!({"F": "powershell \u{2014}enc x"}),
            json!({"F": "powershell \u{2015}enc x"}),
        ],
        &[json!({"F": "powershell +enc x"})],
    );
}

#[test]
fn regex_modifier_and_flags() {
    check(
        "    F|re: 'a.c'\n",
        &[json!({"F": "xxabcxx"})],
        &[json!({"F": "ABC"}), json!({"F": "ac"})],
    );
    check(
        "    F|re: '^a.c$'\n",
        &[json!({"F": "abc"})],
        &[json!({"F": "abcd"})],
    );
    check(
        "    F|re|i: 'a.c'\n",
        &[json!({"F": "ABC"})],
        &[json!({"F": "ab"})],
    );
    check(
        "    F|re|m: '^b$'\n",
        &[json!({"F": "a\nb\nc"})],
        &[json!({"F": "ab"})],
    );
    check(
        "    F|re|s: 'a.b'\n",
        &[json!({"F": "a\nb"})],
        &[json!({"F": "ab"})],
    );
    check(
        "    F|re: '\\d{3}'\n",
        &[json!({"F": 1234})],
        &[json!({"F": 12})],
    );
}

#[test]
fn cidr_numbers_exists_time_fieldref() {
    check(
        "    F|cidr: ['10.0.0.0/8', 'fe80::/10']\n",
        &[json!({"F": "10.1.2.3"}), json!({"F": "fe80::1"})],
        &[
            json!({"F": "11.0.0.1"}),
            json!({"F": "not an ip"}),
            json!({}),
        ],
    );
    check(
        "    F|gt: 5\n",
        &[json!({"F": 6}), json!({"F": "7"})],
        &[json!({"F": 5}), json!({"F": "x"})],
    );
    check("    F|gte: 5\n", &[json!({"F": 5})], &[json!({"F": 4.9})]);
    check("    F|lt: 5\n", &[json!({"F": -1})], &[json!({"F": 5})]);
    check(
        "    F|lte: 5\n",
        &[json!({"F": 5}), json!({"F": [9, 1]})],
        &[json!({"F": 5.1})],
    );
    check(
        "    F|exists: true\n",
        &[json!({"F": ""}), json!({"F": null})],
        &[json!({})],
    );
    check("    F|exists: false\n", &[json!({})], &[json!({"F": "x"})]);
    check(
        "    T|hour: 3\n",
        &[
            json!({"T": "2024-05-01T03:10:00Z"}),
            json!({"T": "2024-05-01 03:59:59"}),
        ],
        &[json!({"T": "2024-05-01T04:00:00Z"})],
    );
    check(
        "    T|hour|gte: 22\n",
        &[json!({"T": "2024-05-01T23:00:00Z"})],
        &[json!({"T": "2024-05-01T21:00:00Z"})],
    );
    check(
        "    T|month: 12\n",
        &[json!({"T": "2024-12-01T00:00:00Z"})],
        &[json!({"T": "2024-11-01T00:00:00Z"})],
    );
    check(
        "    T|year: 2024\n",
        &[json!({"T": "2024-12-01T00:00:00Z"})],
        &[],
    );
    check(
        "    T|day: 2\n",
        &[json!({"T": "2024-12-02T00:00:00Z"})],
        &[],
    );
    check(
        "    T|minute: 7\n",
        &[json!({"T": "2024-12-02T00:07:00Z"})],
        &[],
    );
    check(
        "    T|week: 1\n",
        &[json!({"T": "2024-01-03T00:00:00Z"})],
        &[json!({"T": "2024-02-03T00:00:00Z"})],
    );
    check(
        "    A|fieldref: B\n",
        &[json!({"A": "x", "B": "X"})],
        &[json!({"A": "x", "B": "y"}), json!({"A": "x"})],
    );
    check(
        "    A|fieldref|endswith: B\n",
        &[json!({"A": "c:\\a.exe", "B": "a.exe"})],
        &[json!({"A": "a.exe", "B": "c:\\a.exe"})],
    );
    check(
        "    A|fieldref|contains: B\n",
        &[json!({"A": "xyz", "B": "Y"})],
        &[json!({"A": "xyz", "B": "q"})],
    );
    check(
        "    A|fieldref|startswith: B\n",
        &[json!({"A": "xyz", "B": "x"})],
        &[json!({"A": "xyz", "B": "y"})],
    );
}

#[test]
fn expand_with_configured_placeholders() {
    let mut opts = CompileOptions::default();
    opts.placeholders
        .insert("dcs".into(), vec!["dc1".into(), "dc2".into()]);
    let text = rule("  sel:\n    Host|expand: '%dcs%'\n  condition: sel\n");
    let (set, problems) = RuleSet::compile_with(&[("t.yml", text.as_str())], &opts);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(hits(&set, &json!({"Host": "DC2"})));
    assert!(!hits(&set, &json!({"Host": "dc3"})));
    let (set, problems) = RuleSet::compile(&[("t.yml", text.as_str())]);
    assert_eq!(set.stats().rules, 0);
    assert_eq!(problems[0].code, Code::UnresolvedPlaceholder);
}

#[test]
fn keywords() {
    let set = compiled("  kw:\n    - mimikatz\n    - 'sekurlsa::*'\n  condition: kw\n");
    assert!(hits(&set, &json!({"a": {"b": "run MIMIKATZ now"}})));
    assert!(hits(&set, &json!({"a": ["x sekurlsa::logonpasswords"]})));
    assert!(!hits(
        &set,
        &json!({"mimikatz": "key names are not searched"})
    ));
    let set = compiled("  kw:\n    '|all': [foo, bar]\n  condition: kw\n");
    assert!(hits(&set, &json!({"a": "foo", "b": "xbarx"})));
    assert!(!hits(&set, &json!({"a": "foo"})));
    let set = compiled("  kw: 1337\n  condition: kw\n");
    assert!(hits(&set, &json!({"port": 1337})));
    // The event's strings are scanned joined by a separator: no match across two values.
    let set = compiled("  kw: mimikatz\n  condition: kw\n");
    assert!(!hits(&set, &json!({"a": "mimi", "b": "katz"})));
    assert!(!hits(&set, &json!({"a": ["mimi", "katz"]})));
    assert!(hits(&set, &json!({"a": ["mimi", "xMimiKatz"]})));
}

#[test]
fn condition_forms() {
    let d = "  sel_a: {A: 1}\n  sel_b: {B: 1}\n  filter: {C: 1}\n  _hidden: {D: 1}\n";
    let cases: &[(&str, Json, bool)] = &[
        ("sel_a and sel_b", json!({"A": 1, "B": 1}), true),
        ("sel_a and sel_b", json!({"A": 1}), false),
        ("sel_a or sel_b", json!({"B": 1}), true),
        ("not sel_a", json!({"B": 1}), true),
        ("not sel_a", json!({"A": 1}), false),
        ("sel_a and not filter", json!({"A": 1, "C": 1}), false),
        ("sel_a or sel_b and filter", json!({"A": 1}), true),
        ("(sel_a or sel_b) and filter", json!({"A": 1}), false),
        ("not sel_a and sel_b", json!({"B": 1}), true),
        ("not (sel_a and sel_b)", json!({"A": 1, "B": 1}), false),
        ("1 of sel_*", json!({"B": 1}), true),
        ("any of sel_*", json!({"B": 1}), true),
        ("all of sel_*", json!({"B": 1}), false),
        ("all of sel_*", json!({"A": 1, "B": 1}), true),
        ("1 of them", json!({"C": 1}), true),
        ("1 of them", json!({"D": 1}), false),
        ("all of them", json!({"A": 1, "B": 1, "C": 1}), true),
        ("_hidden", json!({"D": 1}), true),
        ("1 of *_a", json!({"A": 1}), true),
        (
            "1 of sel_* and not 1 of filter*",
            json!({"A": 1, "C": 1}),
            false,
        ),
    ];
    for (cond, event, want) in cases {
        let set = compiled(&format!("{d}  condition: {cond}\n"));
        assert_eq!(hits(&set, event), *want, "{cond} on {event}");
    }
    // A list of conditions is their OR.
    let set = compiled(&format!("{d}  condition: [sel_a, sel_b]\n"));
    assert!(hits(&set, &json!({"B": 1})));
}

#[test]
fn list_of_maps_is_or_map_is_and() {
    let set = compiled("  sel:\n    - {A: 1, B: 2}\n    - {C: 3}\n  condition: sel\n");
    assert!(hits(&set, &json!({"A": 1, "B": 2})));
    assert!(hits(&set, &json!({"C": 3})));
    assert!(!hits(&set, &json!({"A": 1})));
}

#[test]
fn matched_fields_and_metadata() {
    let text = "title: T\nid: x-1\nlevel: high\ntags: [attack.t1059]\nlogsource: {product: test}\ndetection:\n  sel:\n    Image|endswith: '\\a.exe'\n    CommandLine|contains: ' -x'\n  filter:\n    User: admin\n  condition: sel and not filter\n";
    let (set, problems) = RuleSet::compile(&[("t.yml", text)]);
    assert!(problems.is_empty());
    let ev = json!({"Image": "c:\\a.exe", "CommandLine": "a -x", "User": "bob"});
    let m: Vec<Match> = set
        .matches(&ev, &LogSource::new().product("test"))
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].id(), Some("x-1"));
    assert_eq!(m[0].level(), Some(crate::Level::High));
    assert_eq!(m[0].tags(), ["attack.t1059".to_owned()]);
    assert_eq!(m[0].fields, vec!["Image", "CommandLine"]);
}

#[test]
fn rules_run_only_on_their_log_source() {
    let a = "title: A\nlogsource: {product: windows, category: process_creation}\ndetection: {sel: {Image: x}, condition: sel}\n";
    let b = "title: B\nlogsource: {product: linux}\ndetection: {sel: {Image: x}, condition: sel}\n";
    let c = "title: C\nlogsource: {category: process_creation}\ndetection: {sel: {Image: x}, condition: sel}\n";
    let (set, _) = RuleSet::compile(&[("a.yml", a), ("b.yml", b), ("c.yml", c)]);
    let ev = json!({"Image": "x"});
    let titles = |ls: LogSource| {
        set.matches(&ev, &ls)
            .map(|m| m.title().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        titles(
            LogSource::new()
                .product("windows")
                .category("process_creation")
        ),
        vec!["A", "C"]
    );
    assert_eq!(titles(LogSource::new().product("linux")), vec!["B"]);
    assert_eq!(
        titles(
            LogSource::new()
                .product("linux")
                .category("process_creation")
        ),
        vec!["B", "C"]
    );
    assert!(titles(LogSource::new().product("macos")).is_empty());
}

#[test]
fn windows_events_are_classified_by_channel_and_event_id() {
    let a = "title: A\nlogsource: {product: windows, category: process_creation}\ndetection: {sel: {Image|endswith: x.exe}, condition: sel}\n";
    let b = "title: B\nlogsource: {product: windows, service: sysmon}\ndetection: {sel: {Image|endswith: x.exe}, condition: sel}\n";
    let c = "title: C\nlogsource: {product: windows, service: security}\ndetection: {sel: {Image|endswith: x.exe}, condition: sel}\n";
    let opts = CompileOptions::with_mapping("evtx").expect("evtx");
    let (set, problems) = RuleSet::compile_with(&[("a.yml", a), ("b.yml", b), ("c.yml", c)], &opts);
    assert!(problems.is_empty());
    let sysmon1 = json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}, "EventData": {"Image": "C:\\x.exe"}}});
    let sysmon7 = json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 7}}, "EventData": {"Image": "C:\\x.exe"}}});
    let titles = |ev: &Json| {
        set.matches(ev, &LogSource::new().product("windows"))
            .map(|m| m.title().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&sysmon1), vec!["A", "B"]);
    assert_eq!(titles(&sysmon7), vec!["B"]);
}

#[test]
fn ecs_mapping_reads_normalized_events() {
    let a = "title: A\nlogsource: {product: windows, category: process_creation}\ndetection: {sel: {Image|endswith: '\\x.exe', CommandLine|contains: evil}, condition: sel}\n";
    let opts = CompileOptions::with_mapping("ecs").expect("ecs");
    let (set, _) = RuleSet::compile_with(&[("a.yml", a)], &opts);
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("process.executable".to_owned(), json!("C:\\x.exe"));
    fields.insert("process.command_line".to_owned(), json!("x.exe --evil"));
    let ls = LogSource::new()
        .product("windows")
        .category("process_creation");
    assert_eq!(set.matches(&fields, &ls).count(), 1);
    let ev = vigil_model::NewEvent {
        org_id: vigil_model::OrgId::new(),
        asset_id: None,
        timestamp: vigil_model::Timestamp::UNIX_EPOCH,
        received_at: vigil_model::Timestamp::UNIX_EPOCH,
        provenance: vigil_model::Provenance {
            input: "test".into(),
            sender: None,
        },
        fields,
        native: Default::default(),
        raw: Vec::new(),
    };
    assert_eq!(set.matches(&ev, &ls).count(), 1);
}

#[test]
fn filters_apply_as_and() {
    let r = "title: R\nid: rid\nname: r_name\nlogsource: {product: windows, category: process_creation}\ndetection: {sel: {Image|endswith: x.exe}, condition: sel}\n";
    let f = "title: F\nlogsource: {product: windows}\nfilter:\n  rules: [rid]\n  admin: {User: admin}\n  condition: not admin\n";
    let (set, problems) = RuleSet::compile(&[("r.yml", r), ("f.yml", f)]);
    assert!(problems.is_empty(), "{problems:?}");
    let ls = LogSource::new()
        .product("windows")
        .category("process_creation");
    assert_eq!(
        set.matches(&json!({"Image": "x.exe", "User": "bob"}), &ls)
            .count(),
        1
    );
    assert_eq!(
        set.matches(&json!({"Image": "x.exe", "User": "ADMIN"}), &ls)
            .count(),
        0
    );
    // The specification's own example form (`condition: selection`) keeps only what matches.
    let f2 = "title: F\nlogsource: {product: windows}\nfilter:\n  rules: [r_name]\n  sel: {User: admin}\n  condition: sel\n";
    let (set, _) = RuleSet::compile(&[("r.yml", r), ("f.yml", f2)]);
    assert_eq!(
        set.matches(&json!({"Image": "x.exe", "User": "admin"}), &ls)
            .count(),
        1
    );
    assert_eq!(
        set.matches(&json!({"Image": "x.exe", "User": "bob"}), &ls)
            .count(),
        0
    );
    // A filter for another log source does not apply.
    let f3 = "title: F\nlogsource: {product: linux}\nfilter:\n  rules: any\n  sel: {User: admin}\n  condition: not sel\n";
    let (set, _) = RuleSet::compile(&[("r.yml", r), ("f.yml", f3)]);
    assert_eq!(
        set.matches(&json!({"Image": "x.exe", "User": "admin"}), &ls)
            .count(),
        1
    );
    let f4 = "title: F\nlogsource: {product: windows}\nfilter:\n  rules: [nope]\n  sel: {User: admin}\n  condition: not sel\n";
    let (_, problems) = RuleSet::compile(&[("r.yml", r), ("f.yml", f4)]);
    assert_eq!(problems[0].code, Code::UnknownRuleReference);
}

#[test]
fn correlations_compile_without_problems_and_mark_building_blocks() {
    let text = "title: Fail\nname: failed_logon\nlogsource: {product: windows, service: security}\ndetection: {sel: {EventID: 4625}, condition: sel}\n---\ntitle: Many\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [TargetUserName]\n  timespan: 5m\n  condition: {gte: 10}\n";
    let (set, problems) = RuleSet::compile(&[("c.yml", text)]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(set.stats().rules, 1);
    assert_eq!(set.stats().correlations, 1);
    assert_eq!(set.correlations()[0].title, "Many");
    let ls = LogSource::new().product("windows").service("security");
    let hits: Vec<_> = set.matches(&json!({"EventID": 4625}), &ls).collect();
    assert_eq!(hits.len(), 1);
    assert!(!hits[0].standalone, "a building block of a correlation");
    // Without the correlation the same rule reports on its own.
    let alone = text.split("---").next().expect("first document");
    let (set, _) = RuleSet::compile(&[("r.yml", alone)]);
    let hits: Vec<_> = set.matches(&json!({"EventID": 4625}), &ls).collect();
    assert!(hits[0].standalone);
}

#[test]
fn bad_rules_are_skipped_and_the_rest_load() {
    let good = rule("  sel: {A: 1}\n  condition: sel\n");
    let bad = "title: bad\nlogsource: {}\ndetection: {sel: {A|nope: 1}, condition: sel}\n";
    let (set, problems) = RuleSet::compile(&[
        ("good.yml", good.as_str()),
        ("bad.yml", bad),
        ("broken.yml", "a: ["),
    ]);
    assert_eq!(set.stats().rules, 1);
    let codes: Vec<Code> = problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, vec![Code::Yaml, Code::UnknownModifier]);
}

#[test]
fn duplicate_ids_keep_the_first() {
    let a = rule("  sel: {A: 1}\n  condition: sel\n");
    let (set, problems) = RuleSet::compile(&[("a.yml", a.as_str()), ("b.yml", a.as_str())]);
    assert_eq!(set.stats().rules, 1);
    assert_eq!(problems[0].code, Code::DuplicateId);
}

#[test]
fn batch_and_scratch_reuse() {
    let set = compiled("  sel: {A|contains: x}\n  condition: sel\n");
    let events = vec![json!({"A": "x"}), json!({"A": "y"}), json!({"A": "xx"})];
    let ls = LogSource::new().product("test");
    let got: Vec<usize> = set
        .matches_batch(&events, &ls)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(got, vec![0, 2]);
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        for e in &events {
            set.matches_into(e, &ls, &mut scratch, &mut out);
        }
    }
    assert_eq!(out.len(), 6);
}

proptest::proptest! {
    /// The literal fast path agrees with a direct implementation of the same test.
    #[test]
    fn literal_paths_agree_with_naive(needle in "[a-cA-C\\\\ -]{1,4}", hay in "[a-cA-C\\\\ -]{0,12}", op in 0usize..4) {
        let (key, naive): (&str, bool) = match op {
            0 => ("F", hay.eq_ignore_ascii_case(&needle)),
            1 => ("F|startswith", hay.to_ascii_lowercase().starts_with(&needle.to_ascii_lowercase())),
            2 => ("F|endswith", hay.to_ascii_lowercase().ends_with(&needle.to_ascii_lowercase())),
            _ => ("F|contains", hay.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())),
        };
        // Escape the Sigma wildcard escape character so the needle stays literal.
        let escaped = needle.replace('\\', "\\\\");
        let set = compiled(&format!("  sel:\n    {key}: '{escaped}'\n  condition: sel\n"));
        proptest::prop_assert_eq!(hits(&set, &json!({"F": hay})), naive);
    }

    /// Wildcard patterns agree with a naive glob matcher.
    #[test]
    fn globs_agree_with_naive(pat in "[ab*?]{1,6}", hay in "[abAB]{0,8}") {
        fn glob(p: &[u8], h: &[u8]) -> bool {
            match p.split_first() {
                None => h.is_empty(),
                Some((b'*', r)) => (0..=h.len()).any(|i| glob(r, &h[i..])),
                Some((b'?', r)) => !h.is_empty() && glob(r, &h[1..]),
                Some((c, r)) => h.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && glob(r, &h[1..]),
            }
        }
        let set = compiled(&format!("  sel:\n    F: '{pat}'\n  condition: sel\n"));
        let want = glob(pat.as_bytes(), hay.as_bytes());
        proptest::prop_assert_eq!(hits(&set, &json!({"F": hay})), want);
    }
}

#[test]
fn recycled_field_buffers_keep_their_allocation() {
    let mut v: Vec<Option<Value<'static>>> = Vec::with_capacity(64);
    v.push(Some(Value::Int(1)));
    let text = String::from("x");
    let mut w: Vec<Option<Value<'_>>> = recycle(v);
    assert!(w.is_empty() && w.capacity() >= 64);
    w.push(Some(Value::Str(&text)));
    let back: Vec<Option<Value<'static>>> = recycle(w);
    assert!(back.is_empty() && back.capacity() >= 64);
}

#[test]
fn gated_scanners_still_find_every_overlapping_needle_in_long_text() {
    let pad = "x".repeat(GATE_MIN_TEXT);
    let set = compiled(
        "  a:\n    F|contains: 'ab-cd'\n  b:\n    F|contains: 'cd-ef'\n  condition: a and b\n",
    );
    assert!(hits(&set, &json!({"F": format!("{pad}AB-cd-EF")})));
    assert!(!hits(&set, &json!({"F": format!("{pad}ab-cd")})));
    assert!(!hits(&set, &json!({"F": pad.clone()})));
    let set =
        compiled("  k1:\n    - 'kerberos::ptt'\n  k2:\n    - 'ptt'\n  condition: k1 and k2\n");
    assert!(hits(&set, &json!({"A": pad.clone(), "B": "Kerberos::PTT"})));
    assert!(!hits(&set, &json!({"A": pad.clone(), "B": "kerberos::pt"})));
}

#[test]
fn keyword_atoms_read_each_events_own_strings() {
    // Field-less tests (a glob, a literal, a negation) on events that share one scratch:
    // each event is tested on its own strings, never the previous one's.
    let set = compiled("  k:\n    - 'evil*tool'\n  n:\n    - 'benign'\n  condition: k and not n\n");
    let ls = LogSource::new().product("test");
    let mut scratch = Scratch::new();
    let events = [
        json!({"A": "EVIL big TOOL", "B": 1}),
        json!({"A": "evil tool", "B": "benign"}),
        json!({"A": "nothing"}),
        json!({"X": {"Y": ["x", "evil-tool"]}}),
    ];
    let got: Vec<bool> = events
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            set.matches_into(e, &ls, &mut scratch, &mut out);
            !out.is_empty()
        })
        .collect();
    assert_eq!(got, vec![true, false, false, true]);
}

/// Rule files of every kind for the serial/parallel comparison: literals, globs, regexes,
/// keywords, a filter, a duplicate id, broken YAML and a bad regex, spread over enough
/// files that several compile threads each get work.
fn many_rules() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for i in 0..120 {
        let det = match i % 6 {
            0 => format!("  sel: {{Image|endswith: '\\\\tool{i}.exe'}}\n  condition: sel\n"),
            1 => format!(
                "  sel: {{CommandLine|contains|all: [' -a{i}', ' -b']}}\n  condition: sel\n"
            ),
            2 => format!("  sel: {{CommandLine|re: 'x{i}[0-9]+y'}}\n  condition: sel\n"),
            3 => format!(
                "  sel: {{Image: 'c:\\\\*\\\\t{i}?.exe'}}\n  f: {{User: admin}}\n  condition: sel and not f\n"
            ),
            4 => format!("  kw: ['evil{i}', 'tool{i}']\n  condition: kw\n"),
            _ => format!("  sel: {{EventID: {i}}}\n  condition: sel\n"),
        };
        let id = if i == 77 { 76 } else { i };
        files.push((
            format!("r{i:03}.yml"),
            format!("title: R{i}\nid: id-{id}\nlogsource: {{product: test}}\ndetection:\n{det}"),
        ));
    }
    files.push(("bad.yml".into(), "title: [unclosed\n".into()));
    files.push((
        "badre.yml".into(),
        "title: B\nlogsource: {product: test}\ndetection: {sel: {A|re: '(?<=x)y'}, condition: sel}\n"
            .into(),
    ));
    files.push((
        "filter.yml".into(),
        "title: F\nlogsource: {product: test}\nfilter:\n  rules: [id-0, id-6]\n  ok: {User: trusted}\n  condition: not ok\n".into(),
    ));
    files
}

fn outcome(set: &RuleSet, events: &[Json]) -> Vec<Vec<(String, Vec<String>)>> {
    let ls = LogSource::new().product("test");
    events
        .iter()
        .map(|e| {
            set.matches(e, &ls)
                .map(|m| {
                    (
                        m.title().to_owned(),
                        m.fields.iter().map(|f| (*f).to_owned()).collect(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn parallel_compile_equals_serial() {
    let files = many_rules();
    let opts = CompileOptions::default();
    let (serial, sp) = RuleSet::compile_threads(&files, &opts, 1);
    // Before any evaluation: automata are built on first use.
    let serial_groups = format!("{:?}", serial.groups);
    let events: Vec<Json> = vec![
        json!({"Image": "C:\\x\\TOOL0.exe", "User": "bob"}),
        json!({"Image": "C:\\x\\TOOL0.exe", "User": "trusted"}),
        json!({"CommandLine": "run -A7 -b x14123y"}),
        json!({"Image": "c:\\dir\\t3x.exe", "EventID": 5}),
        json!({"Other": "some EVIL4 text", "EventID": 11}),
    ];
    let want = outcome(&serial, &events);
    // The second event is the first one with the filter's exception.
    let found: Vec<bool> = want.iter().map(|m| !m.is_empty()).collect();
    assert_eq!(found, vec![true, false, true, true, true], "{want:?}");
    for threads in [2, 3, 8] {
        let (par, pp) = RuleSet::compile_threads(&files, &opts, threads);
        assert_eq!(pp, sp, "problems with {threads} threads");
        assert_eq!(par.stats(), serial.stats());
        assert!(par.rules().eq(serial.rules()));
        assert_eq!(format!("{:?}", par.groups), serial_groups);
        assert_eq!(outcome(&par, &events), want);
    }
    assert!(sp.iter().any(|p| p.code == Code::DuplicateId));
    assert!(sp.iter().any(|p| p.code == Code::Yaml));
    assert!(sp.iter().any(|p| p.code == Code::BadRegex));
}

#[test]
fn json_events_and_maps_agree() {
    // JSON values, JSON maps and B-tree maps resolve fields through the per-event path
    // index (B-tree maps flat key first); an event that is none of them through one lookup
    // per path, trying every field of its groups. Same rules, same events, same matches.
    struct Plain<'a>(&'a Json);
    impl Event for Plain<'_> {
        fn field(&self, path: &FieldPath) -> Option<crate::event::Value<'_>> {
            self.0.field(path)
        }
        fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
            self.0.any_string(f)
        }
    }
    let opts = CompileOptions::with_mapping("evtx").expect("evtx");
    let rule = "title: T\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: '\\a.exe'\n    Provider_Name: P\n  op:\n    Target: t\n  condition: sel or op\n";
    let (set, problems) = RuleSet::compile_with(&[("t.yml", rule)], &opts);
    assert!(problems.is_empty(), "{problems:?}");
    let ls = LogSource::new().product("windows");
    let events = [
        json!({"Event": {"System": {"Provider": {"#attributes": {"Name": "P"}}}, "EventData": {"Image": "C:\\A.EXE"}}}),
        json!({"Event": {"System": {"Provider": {"#attributes": {"Name": "Q"}}}, "EventData": {"Image": "C:\\A.EXE"}}}),
        json!({"Event": {"UserData": {"Op": {"Target": "T"}}}}),
        json!({"Event": {"EventData": {"Image": null}, "System": {"Image": "x\\a.exe", "Provider": {"#attributes": {"Name": "p"}}}}}),
    ];
    let mut got = Vec::new();
    for e in &events {
        let Json::Object(m) = e else { panic!() };
        let tree: std::collections::BTreeMap<String, Json> =
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let a: Vec<Match> = set.matches(e, &ls).collect();
        let b: Vec<Match> = set.matches(m, &ls).collect();
        let c: Vec<Match> = set.matches(&tree, &ls).collect();
        let d: Vec<Match> = set.matches(&Plain(e), &ls).collect();
        assert_eq!(a, b);
        assert_eq!(a, c, "{e}");
        assert_eq!(a, d, "{e}");
        got.push(a.len());
    }
    assert_eq!(got, vec![1, 0, 1, 1]);
}

#[test]
fn automata_are_built_on_first_use_of_their_log_source() {
    let a = "title: a\nid: a\nlogsource: {product: pa}\ndetection:\n  sel:\n    F|contains: needle\n  condition: sel\n";
    let b = "title: b\nid: b\nlogsource: {product: pb}\ndetection:\n  sel:\n    G|endswith: tail\n    H: exact\n  condition: sel\n";
    let (set, problems) = RuleSet::compile(&[("a.yml", a), ("b.yml", b)]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        set.automata_built(),
        (0, 3),
        "nothing is built at compile time"
    );
    let pa = LogSource::new().product("pa");
    assert_eq!(set.matches(&json!({"F": "a NEEDLE here"}), &pa).count(), 1);
    assert_eq!(set.automata_built(), (1, 3), "only pa's field automaton");
    let pb = LogSource::new().product("pb");
    assert_eq!(set.matches(&json!({"G": "x"}), &pb).count(), 0);
    assert_eq!(
        set.automata_built(),
        (1, 3),
        "values shorter than every needle"
    );
    assert_eq!(set.matches(&json!({"G": "no match"}), &pb).count(), 0);
    assert_eq!(set.automata_built(), (2, 3), "H is absent from the event");
    assert_eq!(
        set.matches(&json!({"G": "the TAIL", "H": "Exact"}), &pb)
            .count(),
        1
    );
    assert_eq!(set.automata_built(), (3, 3));
}
