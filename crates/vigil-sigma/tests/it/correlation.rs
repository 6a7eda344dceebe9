//! Correlation evaluation end to end: the YAML fixtures in `tests/fixtures/correlation` are
//! compiled, event sequences are matched and fed to a `CorrelationEngine`, and the reported
//! correlation matches are checked. Every correlation type has a matching and a
//! non-matching sequence; group-by separation, window expiry, aliases, chaining, order,
//! `generate`, and the memory bounds have their own tests.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value as Json, json};
use vigil_sigma::{
    CorrelationEngine, CorrelationLimits, CorrelationMatch, LogSource, Match, RuleRef, RuleSet,
    Scratch,
};

const T0: i64 = 1_700_000_000;

fn fixture(name: &str) -> RuleSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/correlation")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture file");
    let (set, problems) = RuleSet::compile(&[(name, text.as_str())]);
    assert!(problems.is_empty(), "{name}: {problems:?}");
    set
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(T0 + second).expect("valid time")
}

/// A rule set, an engine over it, and everything reported so far.
struct Run<'r> {
    set: &'r RuleSet,
    engine: CorrelationEngine<'r>,
    scratch: Scratch,
    matches: Vec<Match<'r>>,
    /// Standalone rule matches reported, by title.
    alerts: Vec<String>,
    out: Vec<CorrelationMatch<'r>>,
}

impl<'r> Run<'r> {
    fn new(set: &'r RuleSet) -> Run<'r> {
        Run::with_limits(set, CorrelationLimits::default())
    }

    fn with_limits(set: &'r RuleSet, limits: CorrelationLimits) -> Run<'r> {
        Run {
            set,
            engine: CorrelationEngine::with_limits(set, limits),
            scratch: Scratch::new(),
            matches: Vec::new(),
            alerts: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Feeds `(second, event)` pairs; returns the correlation matches they produced.
    fn feed(&mut self, events: &[(i64, Json)]) -> Vec<CorrelationMatch<'r>> {
        let ls = LogSource::new().product("test");
        let before = self.out.len();
        for (second, event) in events {
            self.matches.clear();
            self.set
                .matches_into(event, &ls, &mut self.scratch, &mut self.matches);
            self.alerts.extend(
                self.matches
                    .iter()
                    .filter(|m| m.standalone)
                    .map(|m| m.title().to_owned()),
            );
            self.engine
                .observe(event, at(*second), &self.matches, &mut self.out);
        }
        self.out[before..].to_vec()
    }

    fn finish(&mut self) -> Vec<CorrelationMatch<'r>> {
        let before = self.out.len();
        self.engine.finish(&mut self.out);
        self.out[before..].to_vec()
    }
}

fn titles(ms: &[CorrelationMatch<'_>]) -> Vec<String> {
    ms.iter().map(|m| m.title().to_owned()).collect()
}

fn group(m: &CorrelationMatch<'_>) -> Vec<(String, String)> {
    m.group
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn failed(user: &str) -> Json {
    json!({"EventID": 4625, "TargetUserName": user})
}

// --- event_count -------------------------------------------------------------------------

#[test]
fn event_count_fires_at_the_threshold_within_the_window() {
    let set = fixture("event_count.yml");
    let mut run = Run::new(&set);
    let events: Vec<(i64, Json)> = (0..5).map(|i| (i * 30, failed("alice"))).collect();
    let got = run.feed(&events);
    assert_eq!(titles(&got), vec!["Brute force against one account"]);
    let m = &got[0];
    assert_eq!(m.id(), Some("5c0a9d0e-0001-4000-8000-000000000101"));
    assert_eq!(m.level(), Some(vigil_sigma::Level::High));
    assert_eq!(
        group(m),
        vec![("TargetUserName".to_owned(), "alice".to_owned())]
    );
    assert_eq!((m.window_start, m.window_end), (at(0), at(120)));
    assert_eq!(m.value, 5.0);
    assert_eq!(m.events, 5);
    assert_eq!(
        m.rules.iter().map(RuleRef::id).collect::<Vec<_>>(),
        vec![Some("5c0a9d0e-0001-4000-8000-000000000001")]
    );
    assert!(m.standalone);
    assert!(
        run.alerts.is_empty(),
        "failed logons are building blocks: {:?}",
        run.alerts
    );
}

#[test]
fn event_count_does_not_fire_below_the_threshold_or_across_windows() {
    let set = fixture("event_count.yml");
    let mut run = Run::new(&set);
    // Four in five minutes: below the threshold.
    assert!(
        run.feed(&(0..4).map(|i| (i, failed("bob"))).collect::<Vec<_>>())
            .is_empty()
    );
    // Five, but spread over more than five minutes: no window holds five.
    let mut run = Run::new(&set);
    let spread: Vec<(i64, Json)> = (0..8).map(|i| (i * 90, failed("bob"))).collect();
    assert!(run.feed(&spread).is_empty());
}

#[test]
fn event_count_groups_are_separate() {
    let set = fixture("event_count.yml");
    let mut run = Run::new(&set);
    // Ten failures, alternating between two accounts: 5 each, one match per account.
    let events: Vec<(i64, Json)> = (0..10)
        .map(|i| (i, failed(if i % 2 == 0 { "a" } else { "b" })))
        .collect();
    let got = run.feed(&events);
    let groups: Vec<_> = got.iter().map(|m| m.group[0].1.clone()).collect();
    assert_eq!(groups, vec!["a", "b"]);
    // Nine failures over three accounts: 3 each, nothing.
    let mut run = Run::new(&set);
    let events: Vec<(i64, Json)> = (0..9)
        .map(|i| (i, failed(["x", "y", "z"][i as usize % 3])))
        .collect();
    assert!(run.feed(&events).is_empty());
}

#[test]
fn event_count_windows_expire() {
    let set = fixture("event_count.yml");
    let mut run = Run::new(&set);
    // Four early failures expire before the next four: no window of five minutes has five.
    let mut events: Vec<(i64, Json)> = (0..4).map(|i| (i, failed("carol"))).collect();
    events.extend((0..4).map(|i| (400 + i, failed("carol"))));
    assert!(run.feed(&events).is_empty());
    // One more within five minutes of the last four completes a window.
    let got = run.feed(&[(500, failed("carol"))]);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].window_start, got[0].window_end), (at(400), at(500)));
}

// --- value_count -------------------------------------------------------------------------

fn spray(ip: &str, user: &str) -> Json {
    json!({"EventID": 4625, "IpAddress": ip, "TargetUserName": user})
}

#[test]
fn value_count_counts_distinct_values() {
    let set = fixture("value_count.yml");
    let mut run = Run::new(&set);
    let got = run.feed(&[
        (0, spray("10.0.0.9", "a")),
        (10, spray("10.0.0.9", "b")),
        (20, spray("10.0.0.9", "a")),
        (30, spray("10.0.0.9", "c")),
        (40, spray("10.0.0.9", "d")),
    ]);
    assert_eq!(titles(&got), vec!["Password spraying from one address"]);
    assert_eq!(got[0].value, 4.0);
    assert_eq!(got[0].events, 5);
    assert_eq!(
        group(&got[0]),
        vec![("IpAddress".into(), "10.0.0.9".into())]
    );
}

#[test]
fn value_count_ignores_repeats_and_other_groups() {
    let set = fixture("value_count.yml");
    let mut run = Run::new(&set);
    // Many failures, but only three accounts per source.
    let events: Vec<(i64, Json)> = (0..30)
        .map(|i| {
            let ip = if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" };
            (i, spray(ip, ["a", "b", "c"][i as usize % 3]))
        })
        .collect();
    assert!(run.feed(&events).is_empty());
    // A value missing from the event is not a distinct value.
    let got = run.feed(&[(40, json!({"EventID": 4625, "IpAddress": "10.0.0.1"}))]);
    assert!(got.is_empty());
    assert_eq!(run.engine.stats().missing_fields, 1);
}

// --- temporal ----------------------------------------------------------------------------

fn proc(image: &str, host: &str, user: &str) -> Json {
    json!({"Image": format!("C:\\Windows\\System32\\{image}"), "Computer": host, "User": user})
}

#[test]
fn temporal_needs_every_rule_in_any_order() {
    let set = fixture("temporal.yml");
    let mut run = Run::new(&set);
    let got = run.feed(&[
        (0, proc("ipconfig.exe", "h1", "u")),
        (60, proc("whoami.exe", "h1", "u")),
        (61, proc("whoami.exe", "h1", "u")),
        (120, proc("net.exe", "h1", "u")),
    ]);
    assert_eq!(titles(&got), vec!["Reconnaissance burst"]);
    assert_eq!(got[0].value, 3.0);
    assert_eq!(
        group(&got[0]),
        vec![
            ("Computer".into(), "h1".into()),
            ("User".into(), "u".into())
        ]
    );
    let rules: Vec<_> = got[0].rules.iter().map(RuleRef::title).collect();
    assert_eq!(
        rules,
        vec!["Whoami", "Net", "Ipconfig"],
        "in the listed order"
    );
}

#[test]
fn temporal_does_not_fire_when_a_rule_is_missing_or_out_of_window() {
    let set = fixture("temporal.yml");
    let mut run = Run::new(&set);
    // Two of three rules.
    assert!(
        run.feed(&[
            (0, proc("whoami.exe", "h", "u")),
            (1, proc("net.exe", "h", "u"))
        ])
        .is_empty()
    );
    // All three, but on two hosts (group-by separation).
    assert!(
        run.feed(&[(2, proc("ipconfig.exe", "other", "u"))])
            .is_empty()
    );
    // All three on one host, but more than five minutes apart.
    let mut run = Run::new(&set);
    assert!(
        run.feed(&[
            (0, proc("whoami.exe", "h", "u")),
            (100, proc("net.exe", "h", "u")),
            (400, proc("ipconfig.exe", "h", "u")),
        ])
        .is_empty()
    );
}

#[test]
fn temporal_expressions_are_boolean_over_rules_seen() {
    let set = fixture("expression.yml");
    let e = |id: u32, user: &str| json!({"EventID": id, "User": user});
    let mut run = Run::new(&set);
    // download + script (no exec): holds.
    let got = run.feed(&[(0, e(12, "u")), (30, e(10, "u"))]);
    assert_eq!(titles(&got), vec!["Download then run"]);
    assert_eq!(got[0].value, 2.0);
    // exec + script without download: does not hold.
    let mut run = Run::new(&set);
    assert!(run.feed(&[(0, e(11, "u")), (1, e(12, "u"))]).is_empty());
}

// --- temporal_ordered and chaining -------------------------------------------------------

fn logon(id: u32, user: &str) -> Json {
    json!({"EventID": id, "User": user})
}

#[test]
fn chained_temporal_ordered_fires_on_failures_then_success() {
    let set = fixture("temporal_ordered.yml");
    let mut run = Run::new(&set);
    let got = run.feed(&[
        (0, logon(4625, "eve")),
        (10, logon(529, "eve")),
        (20, logon(4625, "eve")),
        (30, logon(4624, "eve")),
    ]);
    // The inner correlation matched at 20 (a building block, not standalone); the outer one
    // at 30.
    assert_eq!(
        titles(&got),
        vec![
            "Multiple failed logons",
            "Correlation - Multiple Failed Logins Followed by Successful Login"
        ]
    );
    assert!(!got[0].standalone);
    assert!(got[1].standalone);
    let outer = &got[1];
    assert_eq!(outer.id(), Some("b180ead8-d58f-40b2-ae54-c8940995b9b6"));
    assert_eq!(group(outer), vec![("User".into(), "eve".into())]);
    assert_eq!((outer.window_start, outer.window_end), (at(20), at(30)));
    assert_eq!(outer.value, 2.0);
    let refs: Vec<_> = outer.rules.iter().map(|r| (r.name(), r.id())).collect();
    assert_eq!(
        refs,
        vec![
            (
                Some("multiple_failed_login"),
                Some("a8418a5a-5fc4-46b5-b23b-6c73beb19d41")
            ),
            (
                Some("successful_login"),
                Some("4d0a2c83-c62c-4ed4-b475-c7e23a9269b8")
            ),
        ]
    );
    assert!(matches!(outer.rules[0], RuleRef::Correlation(_)));
    assert!(matches!(outer.rules[1], RuleRef::Rule(_)));
    // Neither base rule reports on its own.
    assert!(run.alerts.is_empty(), "{:?}", run.alerts);
}

#[test]
fn temporal_ordered_is_order_sensitive() {
    let set = fixture("temporal_ordered.yml");
    let mut run = Run::new(&set);
    // Success first, then the failures: the inner correlation matches, the outer does not.
    let got = run.feed(&[
        (0, logon(4624, "eve")),
        (10, logon(4625, "eve")),
        (20, logon(4625, "eve")),
        (30, logon(4625, "eve")),
    ]);
    assert_eq!(titles(&got), vec!["Multiple failed logons"]);
    // A later success completes the order.
    let got = run.feed(&[(40, logon(4624, "eve"))]);
    assert_eq!(got.len(), 1);
    assert!(got[0].standalone);
}

#[test]
fn temporal_ordered_respects_the_window_and_the_group() {
    let set = fixture("temporal_ordered.yml");
    let mut run = Run::new(&set);
    let failures: Vec<(i64, Json)> = (0..3).map(|i| (i, logon(4625, "eve"))).collect();
    run.feed(&failures);
    // Another user's success does not count; eve's success eleven minutes later neither.
    assert!(run.feed(&[(60, logon(4624, "mallory"))]).is_empty());
    assert!(run.feed(&[(2 + 601, logon(4624, "eve"))]).is_empty());
}

// --- value_sum / value_avg / value_percentile / value_median -----------------------------

fn upload(ip: &str, bytes: Json) -> Json {
    json!({"EventID": 3, "SourceIp": ip, "BytesOut": bytes})
}

#[test]
fn value_aggregates_fire_on_their_measures() {
    let set = fixture("value_aggregates.yml");
    let mut run = Run::new(&set);
    let got = run.feed(&[
        (0, upload("10.1.1.1", json!(100))),
        (1, upload("10.1.1.1", json!("200"))),
        (2, upload("10.1.1.1", json!(900))),
    ]);
    let names: Vec<_> = got
        .iter()
        .map(|m| (m.correlation.name.as_deref().unwrap_or(""), m.value))
        .collect();
    // At 2: sum 1200 >= 1000, avg 400 is not > 400, p90 of [100, 200, 900] = 760 >= 500,
    // median 200 < 300 at 2 (the median fired nowhere yet).
    assert_eq!(
        names,
        vec![("upload_sum", 1200.0), ("upload_p90", 760.0)],
        "{got:?}"
    );
    // One more large transfer: avg and median now hold (the sum and p90 windows were
    // consumed; 1000 alone meets the sum again and is its own 90th percentile).
    let got = run.feed(&[(3, upload("10.1.1.1", json!(1000)))]);
    let names: Vec<_> = got
        .iter()
        .map(|m| (m.correlation.name.as_deref().unwrap_or(""), m.value))
        .collect();
    assert_eq!(
        names,
        vec![
            ("upload_sum", 1000.0),
            ("upload_avg", 550.0),
            ("upload_p90", 1000.0),
            ("upload_median", 550.0)
        ]
    );
}

#[test]
fn value_aggregates_do_not_fire_on_small_or_non_numeric_values() {
    let set = fixture("value_aggregates.yml");
    let mut run = Run::new(&set);
    let mut events: Vec<(i64, Json)> = (0..20)
        .map(|i| (i, upload("10.2.2.2", json!(40))))
        .collect();
    events.push((21, upload("10.2.2.2", json!("lots"))));
    events.push((22, upload("10.2.2.2", json!(null))));
    assert!(run.feed(&events).is_empty());
    // Each non-numeric value is skipped once per value correlation (four of them).
    assert_eq!(run.engine.stats().missing_fields, 8);
    // Large values spread over more than a minute never add up in one window.
    let mut run = Run::new(&set);
    let spread: Vec<(i64, Json)> = (0..5)
        .map(|i| (i * 70, upload("10.3.3.3", json!(250))))
        .collect();
    let got = run.feed(&spread);
    assert!(
        got.iter()
            .all(|m| m.correlation.name.as_deref() != Some("upload_sum")),
        "{got:?}"
    );
}

// --- aliases -----------------------------------------------------------------------------

#[test]
fn aliases_join_differently_named_fields() {
    let set = fixture("aliases.yml");
    let error = |src: &str, dst: &str| json!({"http": {"response": {"status_code": 500}}, "source": {"ip": src}, "destination": {"ip": dst}});
    let conn = |src: &str, dst: &str| json!({"event": {"category": "network", "type": "connection", "outcome": "success"}, "source": {"ip": src}, "destination": {"ip": dst}});
    let mut run = Run::new(&set);
    // The error is seen on 10.0.0.5 (destination) from 192.0.2.7; the connection goes out
    // from 10.0.0.5 (source) to 192.0.2.7.
    let got = run.feed(&[
        (0, error("192.0.2.7", "10.0.0.5")),
        (5, conn("10.0.0.5", "192.0.2.7")),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        group(&got[0]),
        vec![
            ("internal_ip".into(), "10.0.0.5".into()),
            ("remote_ip".into(), "192.0.2.7".into())
        ]
    );
    // The same addresses on the same sides in both events do not join.
    let mut run = Run::new(&set);
    assert!(
        run.feed(&[
            (0, error("192.0.2.7", "10.0.0.5")),
            (5, conn("192.0.2.7", "10.0.0.5")),
        ])
        .is_empty()
    );
    // Nor do matching ones more than ten seconds apart.
    let mut run = Run::new(&set);
    assert!(
        run.feed(&[
            (0, error("192.0.2.7", "10.0.0.5")),
            (11, conn("10.0.0.5", "192.0.2.7")),
        ])
        .is_empty()
    );
}

// --- generate ----------------------------------------------------------------------------

#[test]
fn generate_decides_which_referenced_rules_report_on_their_own() {
    let set = fixture("generate.yml");
    let standalone: Vec<(String, bool)> = set
        .matches(&json!({"EventID": 4625}), &LogSource::new().product("test"))
        .chain(set.matches(&json!({"EventID": 7045}), &LogSource::new().product("test")))
        .chain(set.matches(&json!({"EventID": 4688}), &LogSource::new().product("test")))
        .map(|m| (m.title().to_owned(), m.standalone))
        .collect();
    assert_eq!(
        standalone,
        vec![
            ("Failed logon".to_owned(), false),
            ("Service installed".to_owned(), true),
            ("Process start".to_owned(), true),
        ]
    );
    let mut run = Run::new(&set);
    let got = run.feed(&[
        (0, json!({"EventID": 4625})),
        (1, json!({"EventID": 4625})),
        (2, json!({"EventID": 7045})),
        (3, json!({"EventID": 7045})),
        (4, json!({"EventID": 4688})),
    ]);
    assert_eq!(titles(&got), vec!["Failed logons", "Services installed"]);
    assert_eq!(
        run.alerts,
        vec!["Service installed", "Service installed", "Process start"]
    );
}

// --- upper bounds ------------------------------------------------------------------------

#[test]
fn upper_bound_conditions_are_checked_when_windows_close() {
    let set = fixture("upper_bound.yml");
    let limits = CorrelationLimits {
        max_lateness: Duration::from_secs(10),
        ..CorrelationLimits::default()
    };
    let mut run = Run::with_limits(&set, limits);
    let beat = |host: &str| json!({"EventID": 1, "Host": host});
    let mut events = vec![(0, beat("quiet"))];
    events.extend((0..3).map(|i| (i, beat("three"))));
    events.extend((0..6).map(|i| (i, beat("busy"))));
    assert!(run.feed(&events).is_empty(), "windows are still open");
    // At 70 s the windows (0..60 s, plus 10 s of lateness) have closed.
    let got = run.feed(&[(71, json!({"EventID": 99}))]);
    let mut seen: Vec<(String, String, f64)> = got
        .iter()
        .map(|m| (m.title().to_owned(), m.group[0].1.clone(), m.value))
        .collect();
    seen.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    assert_eq!(
        seen,
        vec![
            ("Three or four heartbeats".into(), "three".into(), 3.0),
            ("Too few heartbeats".into(), "quiet".into(), 1.0),
        ]
    );
    // The end of the stream closes what is still open.
    run.feed(&[(100, beat("late"))]);
    let got = run.finish();
    assert_eq!(titles(&got), vec!["Too few heartbeats"]);
}

// --- out of order and memory bounds ------------------------------------------------------

#[test]
fn slightly_out_of_order_events_still_correlate() {
    let set = fixture("event_count.yml");
    let mut run = Run::new(&set);
    // Five failures inside five minutes, observed shuffled by up to 40 seconds.
    let got = run.feed(&[
        (40, failed("dan")),
        (0, failed("dan")),
        (80, failed("dan")),
        (60, failed("dan")),
        (20, failed("dan")),
    ]);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].window_start, got[0].window_end), (at(0), at(80)));
    // Far too late (beyond the default minute of lateness): dropped and counted.
    let mut run = Run::new(&set);
    run.feed(&[(1000, failed("dan"))]);
    run.feed(&(0..5).map(|i| (i, failed("dan"))).collect::<Vec<_>>());
    assert_eq!(run.engine.stats().late_events, 5);
    assert!(run.out.is_empty());
}

#[test]
fn memory_stays_within_the_limits() {
    let set = fixture("event_count.yml");
    let limits = CorrelationLimits {
        max_groups: 100,
        max_entries_per_group: 3,
        max_lateness: Duration::from_secs(60),
    };
    let mut run = Run::with_limits(&set, limits);
    // 10,000 accounts, each failing twice, all within five minutes.
    let events: Vec<(i64, Json)> = (0..20_000)
        .map(|i| (i / 100, failed(&format!("user{}", i % 10_000))))
        .collect();
    assert!(run.feed(&events).is_empty());
    let s = run.engine.stats();
    assert!(s.groups <= 100, "{s:?}");
    assert!(s.entries <= 300, "{s:?}");
    assert!(s.evicted_groups >= 9_900, "{s:?}");
    // A count above max_entries_per_group can never be reached: one account failing
    // often keeps only its latest three entries.
    let mut run = Run::with_limits(&set, limits);
    let got = run.feed(&(0..50).map(|i| (i, failed("x"))).collect::<Vec<_>>());
    assert!(got.is_empty());
    let s = run.engine.stats();
    assert_eq!(s.entries, 3);
    assert_eq!(s.evicted_entries, 47);
}
