//! Correlation rules over a hunt: the second pass, after the files.
//!
//! Files are read in parallel and in no particular order, but the correlation engine wants
//! events in time order. So while the files are read, each event with matches of rules that
//! correlations reference is kept as a [`Pending`]: its time, file and record, and only the
//! fields the correlations read (group-by and value fields, through the field mapping), not
//! the whole event. Once every file is done, the pending events of each rule set are sorted
//! by time (then file and record) and fed to a [`CorrelationEngine`]; its matches become
//! [`Hit`]s with a [`CorrelationHit`] saying which events made them.
//!
//! Memory is bounded by the correlation inputs (the matches of referenced rules), never by
//! the events read. Events without a time cannot be placed in a window and are counted
//! ([`crate::Summary::correlation_untimed`]) instead.
//!
//! Correlations are evaluated per rule set: a correlation sees the matches of EVTX-shaped
//! events or those of flat JSON events, not both mixed (their fields are named differently).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value as Json;
use vigil_sigma::{
    CorrelationEngine, CorrelationLimits, CorrelationMatch, CorrelationStats, Event, FieldPath,
    Match, RuleRef, RuleSet, Value,
};

use crate::{Filters, Hit, Input};

/// Contributing events listed in a correlation hit; the rest are counted.
pub const MAX_CONTRIBUTORS: usize = 5;

/// Engine bounds for a hunt: the input is sorted, so nothing is late; groups and windows
/// may be large, since the pending events already bound the memory.
const LIMITS: CorrelationLimits = CorrelationLimits {
    max_groups: 100_000,
    max_entries_per_group: 100_000,
    max_lateness: Duration::ZERO,
};

/// Which compiled rule set an event was evaluated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetKind {
    Evtx,
    Native,
}

/// An event kept for the correlation pass.
#[derive(Debug)]
pub(crate) struct Pending<'h> {
    pub set: SetKind,
    pub time: Timestamp,
    /// Index of the file in the hunt's inputs.
    pub file: u32,
    pub record: u64,
    pub host: Option<Box<str>>,
    /// The event's matches of rules correlations reference (their `fields` emptied).
    pub matches: Vec<Match<'h>>,
    /// The fields the correlations read, as found in the event.
    pub fields: Vec<(&'h FieldPath, Json)>,
}

/// One event that contributed to a correlation hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contributor {
    pub time: String,
    pub file: String,
    pub record: u64,
}

/// What a correlation hit adds to a [`Hit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationHit {
    /// `event_count`, `value_count`, `temporal`, `temporal_ordered`, `value_sum`, ...
    pub kind: String,
    /// Times of the window's first and last entries (RFC 3339).
    pub window_start: String,
    pub window_end: String,
    /// The measure that met the condition (events, distinct values, rules, sum, ...).
    pub value: f64,
    /// Entries in the window: base events, or matches of a chained correlation.
    pub events: usize,
    /// Distinct files the contributing events came from.
    pub files: usize,
    /// Titles of the rules (or correlations) with entries in the window.
    pub rules: Vec<String>,
    /// The group: each group-by field (or alias) with its value.
    pub group: BTreeMap<String, String>,
    /// The first [`MAX_CONTRIBUTORS`] contributing events, in time order.
    pub contributors: Vec<Contributor>,
}

/// The fields kept of an event, looked up as the engine looks them up in the whole event.
struct Projected<'a, 'h>(&'a [(&'h FieldPath, Json)]);

impl Event for Projected<'_, '_> {
    fn field(&self, path: &FieldPath) -> Option<Value<'_>> {
        self.0
            .iter()
            .find(|(p, _)| p.as_str() == path.as_str())
            .map(|(_, v)| Value::from_json(v))
    }

    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.0.iter().any(|(_, v)| Value::from_json(v).any_text(f))
    }
}

/// An owned copy of a field value (objects were already read as null).
pub(crate) fn to_json(v: Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Int(i) => Json::from(i),
        Value::UInt(u) => Json::from(u),
        Value::Float(x) => serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.to_owned()),
        Value::List(items) => Json::Array(items.to_vec()),
    }
}

/// Keeps what the correlations of `set` need of the matches in `matches` that feed them:
/// moves those matches into the returned list and the fields they read into `fields`.
pub(crate) fn keep<'h, E: Event + ?Sized>(
    set: &'h RuleSet,
    event: &E,
    m: Match<'h>,
    matches: &mut Vec<Match<'h>>,
    fields: &mut Vec<(&'h FieldPath, Json)>,
) {
    for p in set.correlation_fields(&m) {
        if fields.iter().any(|(q, _)| q.as_str() == p.as_str()) {
            continue;
        }
        if let Some(v) = event.field(p) {
            fields.push((p, to_json(v)));
        }
    }
    let mut m = m;
    // The engine needs the rule, not which fields matched.
    m.fields = Vec::new();
    matches.push(m);
}

fn time_text(t: Timestamp) -> String {
    t.to_string()
}

/// Runs the correlations of `set` over its pending events (in any order; sorted here) and
/// calls `emit` with every correlation hit the filters keep. Returns the engine's counters.
pub(crate) fn run<'h>(
    set: &'h RuleSet,
    mut pending: Vec<Pending<'h>>,
    inputs: &[Input],
    filters: &Filters,
    emit: &mut dyn FnMut(Hit),
) -> CorrelationStats {
    pending.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then(a.file.cmp(&b.file))
            .then(a.record.cmp(&b.record))
    });
    let mut engine = CorrelationEngine::with_limits(set, LIMITS);
    // Arrival number (1-based) → index in `pending`.
    let mut by_seq: Vec<u32> = Vec::with_capacity(pending.len());
    let mut out: Vec<CorrelationMatch<'h>> = Vec::new();
    let ctx = Context {
        pending: &pending,
        inputs,
        filters,
    };
    for (i, p) in pending.iter().enumerate() {
        let before = engine.seq();
        engine.observe(&Projected(&p.fields), p.time, &p.matches, &mut out);
        if engine.seq() != before {
            by_seq.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        for cm in out.drain(..) {
            if let Some(h) = ctx.hit(&cm, &by_seq) {
                emit(h);
            }
        }
    }
    engine.finish(&mut out);
    for cm in out.drain(..) {
        if let Some(h) = ctx.hit(&cm, &by_seq) {
            emit(h);
        }
    }
    engine.stats()
}

struct Context<'a, 'h> {
    pending: &'a [Pending<'h>],
    inputs: &'a [Input],
    filters: &'a Filters,
}

impl Context<'_, '_> {
    fn file(&self, i: u32) -> String {
        self.inputs
            .get(i as usize)
            .map(|f| f.path.display().to_string())
            .unwrap_or_default()
    }

    /// The hit of a correlation match, or `None` when it is a building block of another
    /// correlation or the filters drop it.
    fn hit(&self, cm: &CorrelationMatch<'_>, by_seq: &[u32]) -> Option<Hit> {
        if !cm.standalone {
            return None;
        }
        let c = cm.correlation;
        let mut tags: Vec<String> = c.tags.clone();
        if tags.is_empty() {
            // A correlation without tags of its own carries those of the rules it joins.
            for r in &cm.rules {
                let rt = match r {
                    RuleRef::Rule(info) => info.tags.as_slice(),
                    RuleRef::Correlation(inner) => inner.tags.as_slice(),
                };
                for t in rt {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
            }
        }
        if !self.filters.level_tags_ok(c.level, &tags) {
            return None;
        }
        let events: Vec<&Pending<'_>> = cm
            .seqs
            .iter()
            .filter_map(|s| by_seq.get(usize::try_from(s.checked_sub(1)?).ok()?))
            .filter_map(|&i| self.pending.get(i as usize))
            .collect();
        let files: BTreeSet<u32> = events.iter().map(|p| p.file).collect();
        let trigger = events.iter().max_by_key(|p| (p.time, p.file, p.record));
        let group: BTreeMap<String, String> = cm
            .group
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let detail = CorrelationHit {
            kind: c.kind.as_str().to_owned(),
            window_start: time_text(cm.window_start),
            window_end: time_text(cm.window_end),
            value: cm.value,
            events: cm.events,
            files: files.len(),
            rules: cm.rules.iter().map(|r| r.title().to_owned()).collect(),
            group: group.clone(),
            contributors: events
                .iter()
                .take(MAX_CONTRIBUTORS)
                .map(|p| Contributor {
                    time: time_text(p.time),
                    file: self.file(p.file),
                    record: p.record,
                })
                .collect(),
        };
        Some(Hit {
            time: Some(time_text(cm.window_end)),
            rule_id: c.id.clone(),
            rule_title: c.title.clone(),
            level: c.level.map(|l| l.as_str().to_owned()),
            tags: tags
                .into_iter()
                .filter(|t| t.starts_with("attack."))
                .collect(),
            host: trigger.and_then(|p| p.host.as_deref().map(str::to_owned)),
            channel: None,
            event_id: None,
            matched: c.group_by.clone(),
            fields: group,
            file: trigger.map(|p| self.file(p.file)).unwrap_or_default(),
            record: trigger.map_or(0, |p| p.record),
            rule_path: c.path.clone(),
            correlation: Some(Box::new(detail)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vigil_sigma::{LogSource, Scratch};

    const RULES: &str = "title: Fail\nname: fail\nlogsource: {product: test}\ndetection: {sel: {EventID: 4625}, condition: sel}\n---\ntitle: Many fails\nid: c1\nlevel: high\ncorrelation: {type: event_count, rules: [fail], group-by: [Source.Ip], timespan: 1m, condition: {gte: 3}}\n";

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("time")
    }

    /// The pending event of `event` as a hunt worker builds it.
    fn pending<'h>(set: &'h RuleSet, event: &Json, second: i64, record: u64) -> Pending<'h> {
        let mut matches = Vec::new();
        set.matches_into(
            event,
            &LogSource::new().product("test"),
            &mut Scratch::new(),
            &mut matches,
        );
        let (mut kept, mut fields) = (Vec::new(), Vec::new());
        for m in matches {
            assert!(set.feeds_correlations(&m));
            keep(set, event, m, &mut kept, &mut fields);
        }
        Pending {
            set: SetKind::Native,
            time: at(second),
            file: 0,
            record,
            host: None,
            matches: kept,
            fields,
        }
    }

    #[test]
    fn only_the_fields_correlations_read_are_kept_and_read_back_alike() {
        let (set, problems) = RuleSet::compile(&[("r.yml", RULES)]);
        assert!(problems.is_empty(), "{problems:?}");
        let event = json!({"EventID": 4625, "Source": {"Ip": "10.0.0.1"}, "Big": "x".repeat(1000)});
        let p = pending(&set, &event, 0, 1);
        assert_eq!(p.fields.len(), 1);
        assert_eq!(p.fields[0].0.as_str(), "Source.Ip");
        assert!(p.matches.iter().all(|m| m.fields.is_empty()));
        let path = FieldPath::new("Source.Ip");
        assert_eq!(Projected(&p.fields).field(&path), event.field(&path));
        assert_eq!(Projected(&p.fields).field(&FieldPath::new("Big")), None);
        for v in [
            json!(null),
            json!(true),
            json!(-3),
            json!(2.5),
            json!("s"),
            json!([1, "a"]),
        ] {
            assert_eq!(to_json(Value::from_json(&v)), v);
        }
    }

    #[test]
    fn pending_events_are_sorted_by_time_before_correlating() {
        let (set, _) = RuleSet::compile(&[("r.yml", RULES)]);
        let ev = |ip: &str| json!({"EventID": 4625, "Source": {"Ip": ip}});
        // Handed over newest first, as files finishing in any order would.
        let list = vec![
            pending(&set, &ev("10.0.0.1"), 50, 3),
            pending(&set, &ev("10.0.0.2"), 40, 9),
            pending(&set, &ev("10.0.0.1"), 20, 2),
            pending(&set, &ev("10.0.0.1"), 0, 1),
        ];
        let inputs = [Input {
            path: "f.ndjson".into(),
            kind: crate::Kind::Json,
            size: 0,
        }];
        let mut hits = Vec::new();
        let stats = run(&set, list, &inputs, &Filters::default(), &mut |h| {
            hits.push(h)
        });
        assert_eq!(stats.late_events, 0);
        assert_eq!(hits.len(), 1, "{hits:#?}");
        let c = hits[0].correlation.as_ref().expect("correlation");
        assert_eq!(
            hits[0].fields.get("Source.Ip").map(String::as_str),
            Some("10.0.0.1")
        );
        let records: Vec<u64> = c.contributors.iter().map(|e| e.record).collect();
        assert_eq!(records, vec![1, 2, 3]);
        assert_eq!(hits[0].record, 3);
        assert_eq!(hits[0].file, "f.ndjson");
    }
}
