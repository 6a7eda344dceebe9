//! Unit tests of the correlation compiler pieces (expressions, percentiles, keys) and of the
//! engine's window mechanics (arrival and close modes, lateness, bounds, chaining).

use serde_json::{Value as Json, json};

use super::*;
use crate::{LogSource, Scratch};

const T0: i64 = 1_700_000_000;

const BASE: &str = "title: A\nname: a\nlogsource: {product: test}\ndetection: {sel: {EventID: 1}, condition: sel}\n---\ntitle: B\nname: b\nlogsource: {product: test}\ndetection: {sel: {EventID: 2}, condition: sel}\n---\ntitle: C\nname: c\nlogsource: {product: test}\ndetection: {sel: {EventID: 3}, condition: sel}\n";

fn set_with(correlation: &str) -> RuleSet {
    let text = format!("{BASE}---\n{correlation}");
    let (set, problems) = RuleSet::compile(&[("c.yml", text.as_str())]);
    assert!(problems.is_empty(), "{problems:?}");
    set
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(T0 + second).expect("valid time")
}

/// Feeds `(second, event)` pairs; returns what matched.
fn feed<'r>(
    set: &'r RuleSet,
    engine: &mut CorrelationEngine<'r>,
    events: &[(i64, Json)],
) -> Vec<CorrelationMatch<'r>> {
    let ls = LogSource::new().product("test");
    let mut scratch = Scratch::new();
    let mut matches = Vec::new();
    let mut out = Vec::new();
    for (second, event) in events {
        matches.clear();
        set.matches_into(event, &ls, &mut scratch, &mut matches);
        engine.observe(event, at(*second), &matches, &mut out);
    }
    out
}

fn ev(id: u32, user: &str) -> Json {
    json!({"EventID": id, "User": user})
}

#[test]
fn expressions_parse_with_precedence() {
    let mut names = Vec::new();
    let e = parse_expression("a and b or not (c and a)", &mut names).expect("parses");
    assert_eq!(names, vec!["a", "b", "c"]);
    assert_eq!(
        e,
        BoolExpr::Or(vec![
            BoolExpr::And(vec![BoolExpr::Rule(0), BoolExpr::Rule(1)]),
            BoolExpr::Not(Box::new(BoolExpr::And(vec![
                BoolExpr::Rule(2),
                BoolExpr::Rule(0)
            ]))),
        ])
    );
    assert!(!e.monotone());
    assert!(e.eval(&[true, true, true]));
    assert!(!e.eval(&[true, false, true]));
    assert!(e.eval(&[false, false, false]));
    let mut names = Vec::new();
    let e = parse_expression("x-1 AND (y.z OR w)", &mut names).expect("parses");
    assert!(e.monotone());
    assert_eq!(names, vec!["x-1", "y.z", "w"]);
    for bad in ["", "a and", "(a or b", "a b", "a & b", "and"] {
        assert!(
            parse_expression(bad, &mut Vec::new()).is_err(),
            "{bad} should not parse"
        );
    }
}

#[test]
fn percentiles_interpolate_between_ranks() {
    let mut v = vec![40.0, 10.0, 30.0, 20.0];
    assert_eq!(percentile(&mut v, 0.0), 10.0);
    assert_eq!(percentile(&mut v, 100.0), 40.0);
    assert_eq!(percentile(&mut v, 50.0), 25.0);
    assert!((percentile(&mut v, 90.0) - 37.0).abs() < 1e-9);
    assert_eq!(percentile(&mut [], 50.0), 0.0);
    assert_eq!(percentile(&mut [7.0], 95.0), 7.0);
}

#[test]
fn group_keys_round_trip_any_text() {
    let mut key = String::new();
    for v in ["a:b", "", "12:x", "é"] {
        push_key(&mut key, v);
    }
    let values = decode_key(&key);
    let got: Vec<&str> = values.iter().map(|v| &**v).collect();
    assert_eq!(got, vec!["a:b", "", "12:x", "é"]);
    // Keys of different values never collide, however the values are split.
    let (mut k1, mut k2) = (String::new(), String::new());
    push_key(&mut k1, "ab");
    push_key(&mut k1, "c");
    push_key(&mut k2, "a");
    push_key(&mut k2, "bc");
    assert_ne!(k1, k2);
}

#[test]
fn operators_compare_as_named() {
    let cases = [
        (Op::Gt, [false, false, true]),
        (Op::Gte, [false, true, true]),
        (Op::Lt, [true, false, false]),
        (Op::Lte, [true, true, false]),
        (Op::Eq, [false, true, false]),
        (Op::Neq, [true, false, true]),
    ];
    for (op, want) in cases {
        let got = [op.test(4.0, 5.0), op.test(5.0, 5.0), op.test(6.0, 5.0)];
        assert_eq!(got, want, "{op:?}");
    }
}

#[test]
fn values_read_as_text_and_numbers() {
    let mut text = String::new();
    assert!(value_text(Value::Int(-3), &mut text));
    assert_eq!(text, "-3");
    let list = json!(["x", 2]);
    assert!(value_text(Value::from_json(&list), &mut text));
    assert_eq!(text, "x,2");
    assert!(!value_text(Value::Null, &mut text));
    let empty = json!([]);
    assert!(!value_text(Value::from_json(&empty), &mut text));
    assert_eq!(
        entry_value(CorrelationType::ValueSum, Value::Str(" 2.5 "), &mut text),
        Some(2.5f64.to_bits())
    );
    assert_eq!(
        entry_value(CorrelationType::ValueSum, Value::Str("x"), &mut text),
        None
    );
    let a = entry_value(CorrelationType::ValueCount, Value::Str("bob"), &mut text);
    let b = entry_value(CorrelationType::ValueCount, Value::Str("bob"), &mut text);
    let c = entry_value(CorrelationType::ValueCount, Value::Str("Bob"), &mut text);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn modes_follow_the_condition() {
    let set = set_with(
        "title: Low\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 2}}\n---\ntitle: Range\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gt: 2, lte: 4}}\n---\ntitle: T\ncorrelation: {type: temporal, rules: [a, b], timespan: 1m}\n---\ntitle: X\ncorrelation: {type: temporal, timespan: 1m, condition: 'a and not b'}\n",
    );
    let modes: Vec<Mode> = set.plans().iter().map(|p| p.mode).collect();
    assert_eq!(
        modes,
        vec![Mode::Arrival, Mode::Close, Mode::Arrival, Mode::Close]
    );
    // The temporal default is "all rules"; expressions fill in the rule list.
    assert_eq!(set.plans()[2].ops, vec![(Op::Gte, 2.0)]);
    assert_eq!(set.correlations()[3].rules, vec!["a", "b"]);
}

#[test]
fn a_match_consumes_its_window() {
    let set = set_with(
        "title: Three\ncorrelation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {gte: 3}}\n",
    );
    let mut engine = CorrelationEngine::new(&set);
    let events: Vec<(i64, Json)> = (0..7).map(|i| (i, ev(1, "bob"))).collect();
    let out = feed(&set, &mut engine, &events);
    assert_eq!(out.len(), 2, "3 + 3, the seventh waits");
    assert_eq!(out[0].window_start, at(0));
    assert_eq!(out[0].window_end, at(2));
    assert_eq!(out[1].window_start, at(3));
    assert_eq!(out[1].events, 3);
    let stats = engine.stats();
    assert_eq!(stats.matches, 2);
    assert_eq!(stats.inputs, 7);
    assert_eq!(stats.entries, 1);
}

#[test]
fn late_events_within_the_lateness_are_placed_in_order() {
    let set = set_with(
        "title: Ordered\ncorrelation: {type: temporal_ordered, rules: [a, b], group-by: [User], timespan: 1m}\n",
    );
    // b is observed before a, but a happened first: in order by event time.
    let mut engine = CorrelationEngine::new(&set);
    let out = feed(&set, &mut engine, &[(30, ev(2, "u")), (20, ev(1, "u"))]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].window_start, at(20));
    assert_eq!(out[0].window_end, at(30));
    // Beyond the lateness the late event is dropped and counted.
    let limits = CorrelationLimits {
        max_lateness: Duration::from_secs(5),
        ..CorrelationLimits::default()
    };
    let mut engine = CorrelationEngine::with_limits(&set, limits);
    let out = feed(&set, &mut engine, &[(30, ev(2, "u")), (20, ev(1, "u"))]);
    assert!(out.is_empty());
    assert_eq!(engine.stats().late_events, 1);
}

#[test]
fn a_late_event_rechecks_later_windows() {
    // 10 and 50 arrive first; 45 arrives late. No window ending at 45 holds three entries,
    // but the window ending at the later entry 50 does (10, 45, 50).
    let set = set_with(
        "title: Three\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 3}}\n",
    );
    let mut engine = CorrelationEngine::new(&set);
    let out = feed(
        &set,
        &mut engine,
        &[(10, ev(1, "u")), (50, ev(1, "u")), (45, ev(1, "u"))],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].window_start, at(10));
    assert_eq!(out[0].window_end, at(50));
}

#[test]
fn upper_bounds_are_decided_when_the_window_closes() {
    let set = set_with(
        "title: Few\ncorrelation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {lt: 3}}\n",
    );
    let limits = CorrelationLimits {
        max_lateness: Duration::from_secs(0),
        ..CorrelationLimits::default()
    };
    let mut engine = CorrelationEngine::with_limits(&set, limits);
    let mut out = feed(
        &set,
        &mut engine,
        &[
            (0, ev(1, "few")),
            (1, ev(1, "many")),
            (2, ev(1, "many")),
            (3, ev(1, "many")),
            (10, ev(1, "few")),
        ],
    );
    assert!(
        out.is_empty(),
        "nothing is decided while the windows are open"
    );
    // An unrelated event a minute later closes both windows.
    out.extend(feed(&set, &mut engine, &[(61, ev(9, "x"))]));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].group, vec![("User", "few".to_owned())]);
    assert_eq!(out[0].value, 2.0);
    // `advance` closes windows without an event; `finish` closes the rest.
    let mut engine = CorrelationEngine::with_limits(&set, limits);
    let mut out = feed(&set, &mut engine, &[(0, ev(1, "a")), (100, ev(1, "b"))]);
    assert_eq!(out.len(), 1);
    engine.advance(at(161), &mut out);
    assert_eq!(out.len(), 2);
    feed(&set, &mut engine, &[(200, ev(1, "c"))]);
    engine.finish(&mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(engine.stats().groups, 0);
}

#[test]
fn one_event_cannot_fill_two_ordered_steps() {
    let text = "title: AB\nname: ab\nlogsource: {product: test}\ndetection: {sel: {User: x}, condition: sel}\n";
    let set_text = format!(
        "{BASE}---\n{text}---\ntitle: O\ncorrelation: {{type: temporal_ordered, rules: [ab, a], timespan: 1m}}\n"
    );
    let (set, problems) = RuleSet::compile(&[("c.yml", set_text.as_str())]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut engine = CorrelationEngine::new(&set);
    // One event matches both `ab` and `a`: not an ordered pair.
    let out = feed(&set, &mut engine, &[(0, ev(1, "x"))]);
    assert!(out.is_empty());
    // A second one completes it (the first event's `ab`, then this one's `a`).
    let out = feed(&set, &mut engine, &[(1, ev(1, "x"))]);
    assert_eq!(out.len(), 1);
}

#[test]
fn bounds_evict_and_count() {
    let set = set_with(
        "title: Many\ncorrelation: {type: event_count, rules: [a], group-by: [User], timespan: 1h, condition: {gte: 1000}}\n",
    );
    let limits = CorrelationLimits {
        max_groups: 4,
        max_entries_per_group: 8,
        max_lateness: Duration::from_secs(60),
    };
    let mut engine = CorrelationEngine::with_limits(&set, limits);
    let events: Vec<(i64, Json)> = (0..100)
        .map(|i| (i, ev(1, &format!("user{}", i % 10))))
        .collect();
    let out = feed(&set, &mut engine, &events);
    assert!(out.is_empty());
    let s = engine.stats();
    assert!(s.groups <= 4, "{s:?}");
    assert!(s.entries <= 4 * 8, "{s:?}");
    assert_eq!(s.inputs, 100);
    assert!(s.evicted_groups > 0);
    assert_eq!(
        s.entries as u64 + s.evicted_entries,
        100,
        "every entry is held or counted as evicted: {s:?}"
    );
    // Zero limits are taken as one.
    let engine = CorrelationEngine::with_limits(
        &set,
        CorrelationLimits {
            max_groups: 0,
            max_entries_per_group: 0,
            max_lateness: Duration::ZERO,
        },
    );
    assert_eq!(engine.limits().max_groups, 1);
    assert_eq!(engine.limits().max_entries_per_group, 1);
}

#[test]
fn expired_groups_are_freed() {
    let set = set_with(
        "title: Many\ncorrelation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {gte: 5}}\n",
    );
    let mut engine = CorrelationEngine::with_limits(
        &set,
        CorrelationLimits {
            max_lateness: Duration::ZERO,
            ..CorrelationLimits::default()
        },
    );
    let events: Vec<(i64, Json)> = (0..50).map(|i| (i, ev(1, &format!("u{i}")))).collect();
    feed(&set, &mut engine, &events);
    assert_eq!(engine.stats().groups, 50);
    feed(&set, &mut engine, &[(200, ev(9, "x"))]);
    assert_eq!(engine.stats().groups, 0);
    assert_eq!(engine.stats().evicted_groups, 0, "expiry is not eviction");
}

#[test]
fn matches_of_another_rule_set_are_ignored() {
    let set = set_with(
        "title: One\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 1}}\n",
    );
    let other = set_with(
        "title: One\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 1}}\n",
    );
    let ls = LogSource::new().product("test");
    let event = ev(1, "u");
    let foreign: Vec<_> = other.matches(&event, &ls).collect();
    let mut engine = CorrelationEngine::new(&set);
    let mut out = Vec::new();
    engine.observe(&event, at(0), &foreign, &mut out);
    assert!(out.is_empty());
    assert_eq!(engine.stats().foreign_matches, 1);
    let own: Vec<_> = set.matches(&event, &ls).collect();
    engine.observe(&event, at(0), &own, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn missing_group_fields_are_not_counted() {
    let set = set_with(
        "title: Two\ncorrelation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {gte: 2}}\n",
    );
    let mut engine = CorrelationEngine::new(&set);
    let out = feed(
        &set,
        &mut engine,
        &[
            (0, json!({"EventID": 1})),
            (1, json!({"EventID": 1, "User": null})),
            (2, ev(1, "u")),
        ],
    );
    assert!(out.is_empty());
    assert_eq!(engine.stats().missing_fields, 2);
}

#[test]
fn reset_forgets_windows() {
    let set = set_with(
        "title: Two\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 2}}\n",
    );
    let mut engine = CorrelationEngine::new(&set);
    assert!(feed(&set, &mut engine, &[(0, ev(1, "u"))]).is_empty());
    engine.reset();
    assert!(feed(&set, &mut engine, &[(1, ev(1, "u"))]).is_empty());
    assert_eq!(feed(&set, &mut engine, &[(2, ev(1, "u"))]).len(), 1);
}

#[test]
fn correlation_fields_and_seqs_let_a_caller_keep_only_what_correlations_read() {
    let set = set_with(
        "title: Spread\ncorrelation: {type: value_count, rules: [a], group-by: [User], timespan: 1m, condition: {field: Host, gte: 2}}\n",
    );
    let ls = LogSource::new().product("test");
    let event = json!({"EventID": 1, "User": "bob", "Host": "h1", "Noise": "x"});
    let matches: Vec<_> = set.matches(&event, &ls).collect();
    assert_eq!(matches.len(), 1);
    assert!(set.feeds_correlations(&matches[0]));
    let mut fields: Vec<&str> = set
        .correlation_fields(&matches[0])
        .map(FieldPath::as_str)
        .collect();
    fields.sort_unstable();
    fields.dedup();
    assert_eq!(fields, vec!["Host", "User"]);
    let b = json!({"EventID": 2, "User": "bob"});
    let other: Vec<_> = set.matches(&b, &ls).collect();
    assert!(!set.feeds_correlations(&other[0]));
    assert_eq!(set.correlation_fields(&other[0]).count(), 0);

    let mut engine = CorrelationEngine::new(&set);
    let out = feed(
        &set,
        &mut engine,
        &[
            (0, json!({"EventID": 1, "User": "bob", "Host": "h1"})),
            (1, json!({"EventID": 2, "User": "bob", "Host": "h9"})),
            (2, json!({"EventID": 1, "User": "bob", "Host": "h2"})),
        ],
    );
    assert_eq!(engine.seq(), 3);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].seqs, vec![1, 3]);
    assert_eq!(out[0].seqs.len(), out[0].events);
}
