//! Correlation rules (Sigma "meta rules"): checking them against the loaded rules when a
//! [`RuleSet`] compiles, and evaluating them on a stream of rule matches with a stateful
//! [`CorrelationEngine`].
//!
//! ```text
//! (event, time) ──RuleSet::matches_into──► base Matches (building blocks included)
//!     ──CorrelationEngine::observe──► per correlation: group key from the group-by fields
//!         (aliases resolved per rule) ─► entry in that group's sorted window
//!         ─► aggregate (count, distinct count, rules seen, ordered prefix, sum, avg,
//!            percentile) ─► condition ─► CorrelationMatch ─► fed on to the correlations
//!            that reference this one (chaining)
//! ```
//!
//! # Semantics
//!
//! - **Windows slide.** A window is any span of `timespan` (both ends included), not a fixed
//!   bucket. Conditions that only set a lower bound (`gt`, `gte`, and temporal conditions
//!   without `not`) are checked when an entry arrives, on every window that contains it;
//!   the first window that satisfies the condition is reported at once.
//! - **Upper bounds wait for the window to close.** Conditions with `lt`, `lte`, `eq` or
//!   `neq` (and temporal expressions with `not`) cannot be decided while events may still
//!   arrive, so for them a window opens at the group's first entry, closes `timespan` later,
//!   and is checked once the stream has moved past its end (plus the allowed lateness), or
//!   at [`CorrelationEngine::advance`] / [`CorrelationEngine::finish`].
//! - **A match consumes its window**: the entries that made it are dropped, so a burst of
//!   25 failed logons against `gte: 10` reports two matches, not sixteen.
//! - `event_count` counts entries; `value_count` counts distinct values of
//!   `condition.field` (compared by a 64-bit hash of their text); `temporal` counts the
//!   distinct referenced rules seen (default condition: all of them; pySigma's expression
//!   conditions such as `a and (b or c)` are supported); `temporal_ordered` counts how many
//!   of the listed rules, from the first, matched in the listed order (by event time, then
//!   arrival; one event cannot fill two steps); `value_sum`, `value_avg`,
//!   `value_percentile` (linear interpolation between ranks) and `value_median` aggregate
//!   the numeric `condition.field`. Entries whose value field is absent or not a number are
//!   not taken in (counted in [`CorrelationStats::missing_fields`]).
//! - **Group-by** fields are read through the rule set's field mapping for each referenced
//!   rule's log source, after the correlation's `aliases` rename them for that rule. An event
//!   without one of the group-by fields is not counted (as SIEM `group by` queries drop
//!   null keys). A chained correlation reads its group-by fields from the group of the
//!   correlation it references, which must group by them (checked when compiling).
//! - **Out-of-order events**: events up to [`CorrelationLimits::max_lateness`] older than
//!   the newest time seen are placed in time order and every window they fall into is
//!   re-checked; older events are dropped and counted ([`CorrelationStats::late_events`]).
//!   Matches of chained correlations are always taken in, whatever their time. Time only
//!   moves forward, so one event stamped far in the future makes every later event "late":
//!   clamp event times to your clock (plus some skew) before observing them.
//! - **Memory is bounded** per correlation: at most [`CorrelationLimits::max_groups`]
//!   groups (the least recently updated is evicted) and
//!   [`CorrelationLimits::max_entries_per_group`] entries per group (the oldest is evicted);
//!   evictions are counted. Groups whose entries have all expired are freed as time moves.
//!   A count above `max_entries_per_group` can therefore never be reached.
//! - **`generate`**: a rule referenced by correlations is a building block, reported on its
//!   own ([`crate::Match::standalone`], [`CorrelationMatch::standalone`]) only when at least
//!   one referencing correlation sets `generate: true`. (pySigma disables the output when any
//!   referencing correlation leaves `generate` false; Vigil keeps it when any asks for it.)

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::hash::{Hash as _, Hasher as _};
use std::time::Duration;

use jiff::Timestamp;

use crate::engine::{Match, RuleSet};
use crate::event::{Event, FieldPath, Value};
use crate::mapping::FieldMapping;
use crate::problem::{Code, Problem};
use crate::rule::{Correlation, CorrelationDoc, CorrelationType, Level, RuleInfo};
use crate::yaml::Pos;

// ---------------------------------------------------------------------------------------
// Compiled form.

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            _ => return None,
        })
    }

    fn test(self, x: f64, v: f64) -> bool {
        match self {
            Op::Gt => x > v,
            Op::Gte => x >= v,
            Op::Lt => x < v,
            Op::Lte => x <= v,
            Op::Eq => x == v,
            Op::Neq => x != v,
        }
    }

    /// True when the operator only sets a lower bound (decidable as entries arrive).
    fn lower_bound(self) -> bool {
        matches!(self, Op::Gt | Op::Gte)
    }
}

/// A temporal expression condition over the correlation's inputs (by position).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoolExpr {
    Rule(usize),
    Not(Box<BoolExpr>),
    And(Vec<BoolExpr>),
    Or(Vec<BoolExpr>),
}

impl BoolExpr {
    fn eval(&self, present: &[bool]) -> bool {
        match self {
            BoolExpr::Rule(i) => present.get(*i).copied().unwrap_or(false),
            BoolExpr::Not(x) => !x.eval(present),
            BoolExpr::And(v) => v.iter().all(|x| x.eval(present)),
            BoolExpr::Or(v) => v.iter().any(|x| x.eval(present)),
        }
    }

    /// True when the expression has no `not`: more rules seen never makes it false.
    fn monotone(&self) -> bool {
        match self {
            BoolExpr::Rule(_) => true,
            BoolExpr::Not(_) => false,
            BoolExpr::And(v) | BoolExpr::Or(v) => v.iter().all(BoolExpr::monotone),
        }
    }

    fn map_rules(&mut self, f: &impl Fn(usize) -> usize) {
        match self {
            BoolExpr::Rule(i) => *i = f(*i),
            BoolExpr::Not(x) => x.map_rules(f),
            BoolExpr::And(v) | BoolExpr::Or(v) => v.iter_mut().for_each(|x| x.map_rules(f)),
        }
    }
}

/// When a correlation's condition is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// On every entry, over every window containing it (lower-bound conditions).
    Arrival,
    /// Once per window, after the window has closed (conditions with an upper bound).
    Close,
}

/// What feeds a correlation input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A base rule, by index in the rule set.
    Rule(u32),
    /// Another correlation, by index in the rule set.
    Correlation(u32),
}

/// Where an input reads a group-by or value field.
#[derive(Debug)]
pub(crate) enum FieldSource {
    /// From the event, through the field mapping of the rule's log source.
    Event(Vec<FieldPath>),
    /// From the group of the referenced correlation's match (index in its group-by).
    Group(usize),
}

#[derive(Debug)]
pub(crate) struct PlanInput {
    source: Source,
    group: Vec<FieldSource>,
    value: Option<FieldSource>,
}

/// A correlation ready to evaluate.
#[derive(Debug)]
pub(crate) struct Plan {
    kind: CorrelationType,
    window_ms: i64,
    ops: Vec<(Op, f64)>,
    expr: Option<BoolExpr>,
    mode: Mode,
    percentile: f64,
    inputs: Vec<PlanInput>,
    /// The correlations fed by this one's matches: `(correlation, input)`.
    consumers: Vec<(u32, u16)>,
    standalone: bool,
}

/// What [`compile`] hands to the rule set.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    pub correlations: Vec<Correlation>,
    pub plans: Vec<Plan>,
    /// Per base rule: the correlation inputs it feeds.
    pub rule_consumers: Vec<Vec<(u32, u16)>>,
    /// Per base rule: whether it reports matches on its own.
    pub rule_standalone: Vec<bool>,
}

// ---------------------------------------------------------------------------------------
// Compilation.

/// Parses pySigma's extended temporal condition (`a and (b or not c)`); rule names are
/// numbered in order of first appearance into `names`.
pub(crate) fn parse_expression(text: &str, names: &mut Vec<String>) -> Result<BoolExpr, String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Open,
        Close,
        And,
        Or,
        Not,
        Name(String),
    }
    let mut toks = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            toks.push(Tok::Open);
            chars.next();
        } else if c == ')' {
            toks.push(Tok::Close);
            chars.next();
        } else if c.is_alphanumeric() || c == '_' {
            let mut end = i;
            while let Some(&(j, c)) = chars.peek() {
                if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    end = j + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &text[i..end];
            toks.push(match word.to_ascii_lowercase().as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                _ => Tok::Name(word.to_owned()),
            });
        } else {
            return Err(format!("unexpected character '{c}' in the condition"));
        }
    }

    struct P<'t> {
        toks: &'t [Tok],
        at: usize,
        names: &'t mut Vec<String>,
    }
    impl P<'_> {
        fn or(&mut self) -> Result<BoolExpr, String> {
            let mut items = vec![self.and()?];
            while self.toks.get(self.at) == Some(&Tok::Or) {
                self.at += 1;
                items.push(self.and()?);
            }
            Ok(if items.len() == 1 {
                items.remove(0)
            } else {
                BoolExpr::Or(items)
            })
        }
        fn and(&mut self) -> Result<BoolExpr, String> {
            let mut items = vec![self.not()?];
            while self.toks.get(self.at) == Some(&Tok::And) {
                self.at += 1;
                items.push(self.not()?);
            }
            Ok(if items.len() == 1 {
                items.remove(0)
            } else {
                BoolExpr::And(items)
            })
        }
        fn not(&mut self) -> Result<BoolExpr, String> {
            if self.toks.get(self.at) == Some(&Tok::Not) {
                self.at += 1;
                return Ok(BoolExpr::Not(Box::new(self.not()?)));
            }
            self.atom()
        }
        fn atom(&mut self) -> Result<BoolExpr, String> {
            match self.toks.get(self.at) {
                Some(Tok::Open) => {
                    self.at += 1;
                    let e = self.or()?;
                    if self.toks.get(self.at) != Some(&Tok::Close) {
                        return Err("missing ')' in the condition".into());
                    }
                    self.at += 1;
                    Ok(e)
                }
                Some(Tok::Name(n)) => {
                    self.at += 1;
                    let i = match self.names.iter().position(|x| x == n) {
                        Some(i) => i,
                        None => {
                            self.names.push(n.clone());
                            self.names.len() - 1
                        }
                    };
                    Ok(BoolExpr::Rule(i))
                }
                Some(t) => Err(format!("unexpected {t:?} in the condition")),
                None => Err("the condition ends too early".into()),
            }
        }
    }
    let mut p = P {
        toks: &toks,
        at: 0,
        names,
    };
    let e = p.or()?;
    if p.at != toks.len() {
        return Err("unexpected text after the end of the condition".into());
    }
    Ok(e)
}

/// A correlation being checked.
struct Cand {
    path: String,
    doc: CorrelationDoc,
    expr: Option<BoolExpr>,
    sources: Vec<Source>,
    ok: bool,
}

/// The field an input reads for `field`: the alias target for that rule, else `field`.
fn aliased<'c>(c: &'c Correlation, field: &'c str, refs: &[&str]) -> &'c str {
    c.aliases
        .iter()
        .find(|(alias, _)| alias == field)
        .and_then(|(_, per_rule)| {
            per_rule
                .iter()
                .find(|(r, _)| refs.contains(&r.as_str()))
                .map(|(_, f)| f.as_str())
        })
        .unwrap_or(field)
}

/// The reference strings (id, name) of a rule.
fn rule_refs(info: &RuleInfo) -> Vec<&str> {
    info.id
        .iter()
        .chain(info.name.iter())
        .map(String::as_str)
        .collect()
}

fn corr_refs(c: &Correlation) -> Vec<&str> {
    c.id.iter()
        .chain(c.name.iter())
        .map(String::as_str)
        .collect()
}

fn problem(code: Code, path: &str, pos: Pos, title: &str, message: String) -> Problem {
    let mut p = Problem::new(code, path, pos, message);
    p.rule = Some(title.to_owned());
    p
}

/// Checks the correlations against the compiled rules (`rules`, by index) and every rule
/// document read (`parsed`, to tell a rule that failed to compile from one never loaded),
/// and builds their evaluation plans. Problems are appended; invalid correlations are left
/// out.
pub(crate) fn compile(
    docs: Vec<(String, CorrelationDoc)>,
    rules: &[&RuleInfo],
    parsed: &[&RuleInfo],
    mapping: &FieldMapping,
    problems: &mut Vec<Problem>,
) -> Compiled {
    // 1. Expressions (which may supply the rule list), then references.
    let mut cands: Vec<Cand> = Vec::with_capacity(docs.len());
    for (path, mut doc) in docs {
        let mut ok = true;
        let mut expr = None;
        let c = &mut doc.correlation;
        if c.kind != CorrelationType::TemporalOrdered {
            // A rule listed twice would count each of its matches twice; only order makes a
            // repeat meaningful.
            let mut seen = HashSet::new();
            c.rules.retain(|r| seen.insert(r.clone()));
        }
        if let Some(text) = c.expression.clone() {
            let mut names = Vec::new();
            match parse_expression(&text, &mut names) {
                Err(e) => {
                    problems.push(problem(
                        Code::BadCorrelation,
                        &path,
                        doc.condition_pos,
                        &c.title,
                        format!("invalid condition expression '{text}': {e}"),
                    ));
                    ok = false;
                }
                Ok(mut e) => {
                    if c.kind == CorrelationType::TemporalOrdered {
                        problems.push(problem(
                            Code::UnsupportedCorrelation,
                            &path,
                            doc.condition_pos,
                            &c.title,
                            "a temporal_ordered correlation with an expression condition is not evaluated (the order of an expression is undefined); list the rules in order instead".into(),
                        ));
                        ok = false;
                    } else if c.rules.is_empty() {
                        c.rules = names;
                    } else {
                        let missing: Vec<&String> =
                            c.rules.iter().filter(|r| !names.contains(r)).collect();
                        let extra: Vec<&String> =
                            names.iter().filter(|n| !c.rules.contains(n)).collect();
                        if let Some(m) = missing.first() {
                            problems.push(problem(
                                Code::BadCorrelation,
                                &path,
                                doc.condition_pos,
                                &c.title,
                                format!(
                                    "rule '{m}' is listed in 'rules' but not used by the condition"
                                ),
                            ));
                            ok = false;
                        } else if let Some(x) = extra.first() {
                            problems.push(problem(
                                Code::BadCorrelation,
                                &path,
                                doc.condition_pos,
                                &c.title,
                                format!("the condition uses '{x}', which is not listed in 'rules'"),
                            ));
                            ok = false;
                        } else {
                            let order: Vec<usize> = names
                                .iter()
                                .map(|n| c.rules.iter().position(|r| r == n).unwrap_or(0))
                                .collect();
                            e.map_rules(&|i| order.get(i).copied().unwrap_or(0));
                        }
                    }
                    expr = Some(e);
                }
            }
        }
        if ok && c.rules.len() > usize::from(u16::MAX) {
            problems.push(problem(
                Code::BadCorrelation,
                &path,
                doc.pos,
                &c.title,
                format!("a correlation can refer to at most {} rules", u16::MAX),
            ));
            ok = false;
        }
        cands.push(Cand {
            path,
            doc,
            expr,
            sources: Vec::new(),
            ok,
        });
    }

    let mut rule_index: HashMap<&str, u32> = HashMap::new();
    for (i, info) in rules.iter().enumerate() {
        for r in rule_refs(info) {
            rule_index
                .entry(r)
                .or_insert(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
    let parsed_refs: HashSet<&str> = parsed.iter().flat_map(|i| rule_refs(i)).collect();
    let mut corr_index: HashMap<String, usize> = HashMap::new();
    for (i, cand) in cands.iter().enumerate() {
        for r in corr_refs(&cand.doc.correlation) {
            corr_index.entry(r.to_owned()).or_insert(i);
        }
    }

    // 2. Each reference, alias and chained group-by field.
    for ci in 0..cands.len() {
        if !cands[ci].ok {
            continue;
        }
        let (path, c, pos) = (
            &cands[ci].path,
            &cands[ci].doc.correlation,
            cands[ci].doc.pos,
        );
        let mut sources = Vec::new();
        let mut error: Option<(Code, String)> = None;
        for r in &c.rules {
            if let Some(&i) = rule_index.get(r.as_str()) {
                sources.push(Source::Rule(i));
            } else if let Some(&i) = corr_index.get(r) {
                sources.push(Source::Correlation(u32::try_from(i).unwrap_or(u32::MAX)));
            } else if parsed_refs.contains(r.as_str()) {
                error = Some((
                    Code::UnknownRuleReference,
                    format!("the correlation refers to rule '{r}', which failed to compile"),
                ));
                break;
            } else {
                error = Some((
                    Code::UnknownRuleReference,
                    format!("the correlation refers to rule '{r}', which is not loaded"),
                ));
                break;
            }
        }
        if error.is_none() {
            for (alias, per_rule) in &c.aliases {
                if let Some((r, _)) = per_rule.iter().find(|(r, _)| !c.rules.contains(r)) {
                    error = Some((
                        Code::BadCorrelation,
                        format!(
                            "alias '{alias}' names rule '{r}', which the correlation does not refer to"
                        ),
                    ));
                    break;
                }
            }
        }
        if error.is_none() {
            'inputs: for (r, s) in c.rules.iter().zip(&sources) {
                let Source::Correlation(inner) = *s else {
                    continue;
                };
                let Some(inner) = cands.get(inner as usize) else {
                    continue;
                };
                let inner_c = &inner.doc.correlation;
                let refs = corr_refs(inner_c);
                let mut refs: Vec<&str> = refs;
                refs.push(r.as_str());
                let fields = c.group_by.iter().chain(c.field.iter());
                for f in fields {
                    let target = aliased(c, f, &refs);
                    if !inner_c.group_by.iter().any(|g| g == target) {
                        error = Some((
                            Code::BadCorrelation,
                            format!(
                                "field '{target}' is not among the group-by fields of correlation '{r}' ({}), so its matches cannot be grouped or measured by it",
                                if inner_c.group_by.is_empty() {
                                    "none".to_owned()
                                } else {
                                    inner_c.group_by.join(", ")
                                }
                            ),
                        ));
                        break 'inputs;
                    }
                }
            }
        }
        match error {
            Some((code, message)) => {
                problems.push(problem(code, path, pos, &c.title, message));
                cands[ci].ok = false;
            }
            None => cands[ci].sources = sources,
        }
    }

    // 3. Reference cycles, then correlations that refer to broken ones (to a fixpoint).
    for ci in 0..cands.len() {
        if !cands[ci].ok {
            continue;
        }
        let mut seen = vec![false; cands.len()];
        let mut stack: Vec<usize> = cands[ci]
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Correlation(i) => Some(*i as usize),
                Source::Rule(_) => None,
            })
            .collect();
        let mut cyclic = false;
        while let Some(x) = stack.pop() {
            if x == ci {
                cyclic = true;
                break;
            }
            if seen.get(x).copied().unwrap_or(true) {
                continue;
            }
            seen[x] = true;
            if let Some(cx) = cands.get(x) {
                stack.extend(cx.sources.iter().filter_map(|s| match s {
                    Source::Correlation(i) => Some(*i as usize),
                    Source::Rule(_) => None,
                }));
            }
        }
        if cyclic {
            let c = &cands[ci].doc.correlation;
            problems.push(problem(
                Code::BadCorrelation,
                &cands[ci].path,
                cands[ci].doc.pos,
                &c.title,
                "the correlation refers back to itself through its rules (a reference cycle)"
                    .into(),
            ));
        }
        cands[ci].ok = !cyclic;
    }
    loop {
        let mut changed = false;
        for ci in 0..cands.len() {
            if !cands[ci].ok {
                continue;
            }
            let broken = cands[ci]
                .doc
                .correlation
                .rules
                .iter()
                .zip(&cands[ci].sources)
                .find(|(_, s)| {
                    matches!(s, Source::Correlation(i) if !cands.get(*i as usize).is_some_and(|c| c.ok))
                })
                .map(|(r, _)| r.clone());
            if let Some(r) = broken {
                let c = &cands[ci].doc.correlation;
                problems.push(problem(
                    Code::UnknownRuleReference,
                    &cands[ci].path,
                    cands[ci].doc.pos,
                    &c.title,
                    format!("the correlation refers to correlation '{r}', which has errors"),
                ));
                cands[ci].ok = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    // 4. Plans for the valid ones.
    let mut plan_of: Vec<Option<u32>> = vec![None; cands.len()];
    let mut next = 0u32;
    for (ci, cand) in cands.iter().enumerate() {
        if cand.ok {
            plan_of[ci] = Some(next);
            next += 1;
        }
    }
    // The group-by fields and references of every candidate, for chained inputs.
    let inner_groups: Vec<Vec<String>> = cands
        .iter()
        .map(|c| c.doc.correlation.group_by.clone())
        .collect();
    let inner_refs: Vec<Vec<String>> = cands
        .iter()
        .map(|c| {
            corr_refs(&c.doc.correlation)
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let mut out = Compiled {
        rule_consumers: vec![Vec::new(); rules.len()],
        rule_standalone: vec![true; rules.len()],
        ..Compiled::default()
    };
    for cand in cands.into_iter().filter(|c| c.ok) {
        let c = cand.doc.correlation;
        let mut inputs = Vec::with_capacity(c.rules.len());
        for (r, s) in c.rules.iter().zip(&cand.sources) {
            let input = match *s {
                Source::Rule(ri) => {
                    let Some(info) = rules.get(ri as usize) else {
                        continue;
                    };
                    let mut refs = rule_refs(info);
                    refs.push(r.as_str());
                    let resolve = |f: &str| {
                        let target = aliased(&c, f, &refs);
                        FieldSource::Event(
                            mapping
                                .resolve(&info.logsource, target)
                                .iter()
                                .map(|p| FieldPath::new(p))
                                .collect(),
                        )
                    };
                    PlanInput {
                        source: Source::Rule(ri),
                        group: c.group_by.iter().map(|f| resolve(f)).collect(),
                        value: c.field.as_deref().map(resolve),
                    }
                }
                Source::Correlation(ci) => {
                    let ci = ci as usize;
                    let inner_group: &[String] = inner_groups.get(ci).map_or(&[], Vec::as_slice);
                    let mut refs: Vec<&str> = inner_refs
                        .get(ci)
                        .map(|v| v.iter().map(String::as_str).collect())
                        .unwrap_or_default();
                    refs.push(r.as_str());
                    let resolve = |f: &str| {
                        let target = aliased(&c, f, &refs);
                        FieldSource::Group(
                            inner_group
                                .iter()
                                .position(|g| g == target)
                                .unwrap_or(usize::MAX),
                        )
                    };
                    PlanInput {
                        source: Source::Correlation(
                            plan_of.get(ci).copied().flatten().unwrap_or(u32::MAX),
                        ),
                        group: c.group_by.iter().map(|f| resolve(f)).collect(),
                        value: c.field.as_deref().map(resolve),
                    }
                }
            };
            inputs.push(input);
        }
        let mut ops: Vec<(Op, f64)> = c
            .condition
            .iter()
            .filter_map(|(o, v)| Op::parse(o).map(|o| (o, *v)))
            .collect();
        if c.kind.is_temporal() && ops.is_empty() && cand.expr.is_none() {
            ops.push((Op::Gte, inputs.len() as f64));
        }
        let mode = if ops.iter().all(|(o, _)| o.lower_bound())
            && cand.expr.as_ref().is_none_or(BoolExpr::monotone)
        {
            Mode::Arrival
        } else {
            Mode::Close
        };
        out.plans.push(Plan {
            kind: c.kind,
            window_ms: i64::try_from(c.timespan_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            ops,
            expr: cand.expr,
            mode,
            percentile: match c.kind {
                CorrelationType::ValueMedian => 50.0,
                _ => c.percentile.unwrap_or(50.0),
            },
            inputs,
            consumers: Vec::new(),
            standalone: true,
        });
        out.correlations.push(c);
    }

    // 5. Who feeds whom, and what reports on its own.
    let mut rule_generate: Vec<Option<bool>> = vec![None; rules.len()];
    let mut corr_generate: Vec<Option<bool>> = vec![None; out.plans.len()];
    let mut chained: Vec<(u32, (u32, u16))> = Vec::new();
    for (p, (plan, def)) in out.plans.iter().zip(&out.correlations).enumerate() {
        let me = u32::try_from(p).unwrap_or(u32::MAX);
        for (i, input) in plan.inputs.iter().enumerate() {
            let slot = (me, u16::try_from(i).unwrap_or(u16::MAX));
            let generate = match input.source {
                Source::Rule(r) => {
                    if let Some(v) = out.rule_consumers.get_mut(r as usize) {
                        v.push(slot);
                    }
                    rule_generate.get_mut(r as usize)
                }
                Source::Correlation(inner) => {
                    chained.push((inner, slot));
                    corr_generate.get_mut(inner as usize)
                }
            };
            if let Some(g) = generate {
                *g = Some(g.unwrap_or(false) || def.generate);
            }
        }
    }
    for (inner, slot) in chained {
        if let Some(plan) = out.plans.get_mut(inner as usize) {
            plan.consumers.push(slot);
        }
    }
    for (s, g) in out.rule_standalone.iter_mut().zip(&rule_generate) {
        *s = g.unwrap_or(true);
    }
    for (p, g) in out.plans.iter_mut().zip(&corr_generate) {
        p.standalone = g.unwrap_or(true);
    }
    out
}

impl RuleSet {
    /// Whether matches of `m`'s rule feed correlation rules of this set (and so must be
    /// passed to a [`CorrelationEngine`]).
    pub fn feeds_correlations(&self, m: &Match<'_>) -> bool {
        self.consumers_of(m).is_some_and(|c| !c.is_empty())
    }

    /// The event fields the correlations fed by `m`'s rule read (group-by and value fields,
    /// aliases resolved, through the field mapping; possibly repeated). An event holding only
    /// these fields gives a [`CorrelationEngine`] the same groups and values as the whole
    /// event, so a caller may keep just them until it observes the match.
    pub fn correlation_fields<'s>(
        &'s self,
        m: &Match<'_>,
    ) -> impl Iterator<Item = &'s FieldPath> + use<'s> {
        let consumers = self.consumers_of(m).unwrap_or(&[]);
        consumers
            .iter()
            .filter_map(|&(c, i)| self.plans().get(c as usize)?.inputs.get(usize::from(i)))
            .flat_map(|input| input.group.iter().chain(input.value.iter()))
            .flat_map(|f| match f {
                FieldSource::Event(paths) => paths.as_slice(),
                FieldSource::Group(_) => &[],
            })
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation.

/// Memory and ordering bounds of a [`CorrelationEngine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationLimits {
    /// Groups (distinct group-by values) kept per correlation; the least recently updated
    /// group is evicted beyond this.
    pub max_groups: usize,
    /// Entries (rule matches with their time and value) kept per group; the oldest is
    /// evicted beyond this.
    pub max_entries_per_group: usize,
    /// How much older than the newest event seen an event may be and still be placed in
    /// its windows; older events are dropped. Windows with an upper-bound condition close
    /// this much later.
    pub max_lateness: Duration,
}

impl Default for CorrelationLimits {
    /// 10,000 groups of 1,000 entries per correlation (about 32 bytes an entry), one minute
    /// of lateness.
    fn default() -> Self {
        CorrelationLimits {
            max_groups: 10_000,
            max_entries_per_group: 1_000,
            max_lateness: Duration::from_secs(60),
        }
    }
}

/// Counters of a [`CorrelationEngine`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrelationStats {
    /// Events observed.
    pub events: u64,
    /// Entries taken into windows (rule matches and chained correlation matches).
    pub inputs: u64,
    /// Correlation matches reported.
    pub matches: u64,
    /// Events with matches for correlations dropped for being later than
    /// [`CorrelationLimits::max_lateness`].
    pub late_events: u64,
    /// Rule matches not taken in because a group-by field was missing, or the value field
    /// was missing or (for sums, averages and percentiles) not a number.
    pub missing_fields: u64,
    /// Matches passed in that came from another rule set (ignored).
    pub foreign_matches: u64,
    /// Groups evicted by [`CorrelationLimits::max_groups`].
    pub evicted_groups: u64,
    /// Entries evicted by [`CorrelationLimits::max_entries_per_group`] or with their group.
    pub evicted_entries: u64,
    /// Groups held now.
    pub groups: usize,
    /// Entries held now.
    pub entries: usize,
}

/// A rule or correlation that contributed to a [`CorrelationMatch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleRef<'r> {
    Rule(&'r RuleInfo),
    Correlation(&'r Correlation),
}

impl<'r> RuleRef<'r> {
    pub fn id(&self) -> Option<&'r str> {
        match self {
            RuleRef::Rule(r) => r.id.as_deref(),
            RuleRef::Correlation(c) => c.id.as_deref(),
        }
    }
    pub fn name(&self) -> Option<&'r str> {
        match self {
            RuleRef::Rule(r) => r.name.as_deref(),
            RuleRef::Correlation(c) => c.name.as_deref(),
        }
    }
    pub fn title(&self) -> &'r str {
        match self {
            RuleRef::Rule(r) => &r.title,
            RuleRef::Correlation(c) => &c.title,
        }
    }
}

/// A correlation whose condition held on a window of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationMatch<'r> {
    pub correlation: &'r Correlation,
    /// The group: each group-by field (or alias) with its value.
    pub group: Vec<(&'r str, String)>,
    /// The time of the first and last entries of the window.
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    /// The measure that met the condition: events, distinct values, rules seen, ordered
    /// steps, sum, average or percentile.
    pub value: f64,
    /// Entries in the window (rule matches, or matches of a referenced correlation).
    pub events: usize,
    /// The referenced rules (or correlations) with entries in the window, in the order the
    /// correlation lists them.
    pub rules: Vec<RuleRef<'r>>,
    /// False when this correlation is itself referenced by correlations that do not
    /// `generate` it: report it only through them.
    pub standalone: bool,
    /// The arrival numbers ([`CorrelationEngine::seq`]) of the events behind the window's
    /// entries, in window order (for an entry from a chained correlation, the event that
    /// completed that correlation's match); one per entry, so `seqs.len() == events`.
    pub seqs: Vec<u64>,
}

impl CorrelationMatch<'_> {
    pub fn id(&self) -> Option<&str> {
        self.correlation.id.as_deref()
    }
    pub fn title(&self) -> &str {
        &self.correlation.title
    }
    pub fn level(&self) -> Option<Level> {
        self.correlation.level
    }
}

/// A rule match held in a group's window.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Milliseconds since the Unix epoch.
    time: i64,
    /// Arrival order (one number per observed event).
    seq: u64,
    /// The correlation input it feeds.
    input: u16,
    /// The value: `f64` bits for sums and percentiles, a hash for distinct counts.
    val: u64,
}

#[derive(Debug)]
struct Group {
    id: u64,
    /// Length-prefixed group values (the map key).
    key: String,
    values: Box<[Box<str>]>,
    /// Sorted by `(time, seq)`.
    entries: VecDeque<Entry>,
    /// Position in the least-recently-updated order.
    tick: u64,
    /// For [`Mode::Close`]: when the window starting at the first entry may be checked.
    deadline: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    index: HashMap<String, u32>,
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
    lru: BTreeMap<u64, u32>,
    due: BinaryHeap<Reverse<(i64, u64, u32)>>,
}

impl State {
    fn remove(&mut self, slot: u32) -> Option<Group> {
        let g = self.slots.get_mut(slot as usize)?.take()?;
        self.index.remove(&g.key);
        self.lru.remove(&g.tick);
        self.free.push(slot);
        Some(g)
    }

    fn group(&mut self, slot: u32) -> Option<&mut Group> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }
}

/// A match of a referenced correlation on its way to the correlations that use it.
#[derive(Debug)]
struct Pending {
    corr: u32,
    input: u16,
    time: i64,
    seq: u64,
    values: Box<[Box<str>]>,
}

/// Reusable buffers for measuring windows.
#[derive(Debug, Default)]
struct Buffers {
    nums: Vec<f64>,
    hashes: Vec<u64>,
    present: Vec<bool>,
}

/// Evaluates the correlations of a [`RuleSet`] on a stream of events and their rule
/// matches. Stateful (one per stream; not shared between threads), bounded by
/// [`CorrelationLimits`]. The semantics are in the [module documentation](self).
///
/// ```
/// use vigil_sigma::{CorrelationEngine, LogSource, RuleSet, Scratch};
///
/// let rules = r#"
/// title: Failed logon
/// name: failed_logon
/// logsource: {product: windows, service: security}
/// detection: {sel: {EventID: 4625}, condition: sel}
/// ---
/// title: Brute force
/// correlation:
///   type: event_count
///   rules: [failed_logon]
///   group-by: [TargetUserName]
///   timespan: 5m
///   condition: {gte: 3}
/// "#;
/// let (set, problems) = RuleSet::compile(&[("bf.yml", rules)]);
/// assert!(problems.is_empty());
/// let ls = LogSource::new().product("windows").service("security");
/// let mut engine = CorrelationEngine::new(&set);
/// let (mut scratch, mut matches, mut alerts) = (Scratch::new(), Vec::new(), Vec::new());
/// for second in [0, 10, 20] {
///     let event = serde_json::json!({"EventID": 4625, "TargetUserName": "bob"});
///     let time = jiff::Timestamp::from_second(1_700_000_000 + second).expect("time");
///     matches.clear();
///     set.matches_into(&event, &ls, &mut scratch, &mut matches);
///     // The failed logon is a building block of the correlation, not an alert.
///     assert!(!matches[0].standalone);
///     engine.observe(&event, time, &matches, &mut alerts);
/// }
/// assert_eq!(alerts.len(), 1);
/// assert_eq!(alerts[0].title(), "Brute force");
/// assert_eq!(alerts[0].group, vec![("TargetUserName", "bob".to_owned())]);
/// assert_eq!(alerts[0].value, 3.0);
/// ```
#[derive(Debug)]
pub struct CorrelationEngine<'r> {
    set: &'r RuleSet,
    limits: CorrelationLimits,
    lateness_ms: i64,
    states: Vec<State>,
    /// The newest event time taken in (milliseconds).
    watermark: Option<i64>,
    seq: u64,
    tick: u64,
    next_group: u64,
    stats: CorrelationStats,
    key: String,
    text: String,
    bufs: Buffers,
    pending: VecDeque<Pending>,
}

impl<'r> CorrelationEngine<'r> {
    /// An engine with the default [`CorrelationLimits`].
    pub fn new(set: &'r RuleSet) -> CorrelationEngine<'r> {
        CorrelationEngine::with_limits(set, CorrelationLimits::default())
    }

    /// An engine with explicit limits (a zero limit is taken as one).
    pub fn with_limits(set: &'r RuleSet, limits: CorrelationLimits) -> CorrelationEngine<'r> {
        let limits = CorrelationLimits {
            max_groups: limits.max_groups.max(1),
            max_entries_per_group: limits.max_entries_per_group.max(1),
            ..limits
        };
        CorrelationEngine {
            set,
            lateness_ms: i64::try_from(limits.max_lateness.as_millis()).unwrap_or(i64::MAX),
            limits,
            states: set.plans().iter().map(|_| State::default()).collect(),
            watermark: None,
            seq: 0,
            tick: 0,
            next_group: 0,
            stats: CorrelationStats::default(),
            key: String::new(),
            text: String::new(),
            bufs: Buffers::default(),
            pending: VecDeque::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &CorrelationLimits {
        &self.limits
    }

    /// The newest event time taken in (events older than this minus the lateness are
    /// dropped).
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
    }

    /// The arrival number of the last event taken in by [`CorrelationEngine::observe`]
    /// (1 for the first; events dropped as late get none). [`CorrelationMatch::seqs`] refer
    /// to these numbers.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Counters, with the groups and entries held now.
    pub fn stats(&self) -> CorrelationStats {
        let mut s = self.stats.clone();
        s.groups = self.states.iter().map(|st| st.index.len()).sum();
        s.entries = self
            .states
            .iter()
            .flat_map(|st| st.slots.iter().flatten())
            .map(|g| g.entries.len())
            .sum();
        s
    }

    /// Takes in one event: its time and the matches [`RuleSet::matches_into`] found in it
    /// (all of them, building blocks included). Appends the correlation matches this
    /// completes to `out`. Call it for events without matches too when you can: time moving
    /// on is what closes windows with upper-bound conditions and frees expired groups.
    pub fn observe<E: Event + ?Sized>(
        &mut self,
        event: &E,
        time: Timestamp,
        matches: &[Match<'_>],
        out: &mut Vec<CorrelationMatch<'r>>,
    ) {
        let set = self.set;
        if set.plans().is_empty() {
            return;
        }
        self.stats.events += 1;
        let t = time.as_millisecond();
        if let Some(w) = self.watermark
            && t < w.saturating_sub(self.lateness_ms)
        {
            if matches
                .iter()
                .any(|m| set.consumers_of(m).is_some_and(|c| !c.is_empty()))
            {
                self.stats.late_events += 1;
            }
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
        for m in matches {
            let Some(consumers) = set.consumers_of(m) else {
                self.stats.foreign_matches += 1;
                continue;
            };
            for &(c, i) in consumers {
                let Some(plan) = set.plans().get(c as usize) else {
                    continue;
                };
                let Some(input) = plan.inputs.get(usize::from(i)) else {
                    continue;
                };
                match self.event_key(event, plan.kind, input) {
                    Some(val) => self.feed(c, i, t, seq, val, out),
                    None => self.stats.missing_fields += 1,
                }
            }
        }
        self.run_pending(out);
        self.close_due(self.watermark.unwrap_or(i64::MIN), out);
        self.expire();
    }

    /// Moves time to `now` without an event (for example from a wall clock): closes the
    /// windows that ended before `now` minus the lateness and frees expired groups.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<CorrelationMatch<'r>>) {
        let t = now.as_millisecond();
        self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
        self.close_due(self.watermark.unwrap_or(i64::MIN), out);
        self.expire();
    }

    /// Ends the stream: checks every open window of upper-bound conditions as if it had
    /// closed, reports what matches, and clears all state (counters are kept).
    pub fn finish(&mut self, out: &mut Vec<CorrelationMatch<'r>>) {
        loop {
            self.close_due(i64::MAX, out);
            self.run_pending(out);
            if self.pending.is_empty() && self.states.iter().all(|s| s.due.is_empty()) {
                break;
            }
        }
        self.reset();
    }

    /// Drops all windows and the time seen (counters are kept).
    pub fn reset(&mut self) {
        self.states = self.set.plans().iter().map(|_| State::default()).collect();
        self.watermark = None;
        self.pending.clear();
    }

    /// Builds the group key of an event for `input` into `self.key`; returns the entry
    /// value, or `None` when a field is missing.
    fn event_key<E: Event + ?Sized>(
        &mut self,
        event: &E,
        kind: CorrelationType,
        input: &PlanInput,
    ) -> Option<u64> {
        self.key.clear();
        for f in &input.group {
            let FieldSource::Event(paths) = f else {
                return None;
            };
            let v = field_value(event, paths)?;
            if !value_text(v, &mut self.text) {
                return None;
            }
            push_key(&mut self.key, &self.text);
        }
        match &input.value {
            None => Some(0),
            Some(FieldSource::Event(paths)) => {
                let v = field_value(event, paths)?;
                entry_value(kind, v, &mut self.text)
            }
            Some(FieldSource::Group(_)) => None,
        }
    }

    /// Builds the group key of a referenced correlation's match into `self.key`.
    fn chained_key(
        &mut self,
        kind: CorrelationType,
        input: &PlanInput,
        values: &[Box<str>],
    ) -> Option<u64> {
        self.key.clear();
        for f in &input.group {
            let FieldSource::Group(i) = f else {
                return None;
            };
            push_key(&mut self.key, values.get(*i)?);
        }
        match &input.value {
            None => Some(0),
            Some(FieldSource::Group(i)) => {
                let text = values.get(*i)?;
                entry_value(kind, Value::Str(text), &mut self.text)
            }
            Some(FieldSource::Event(_)) => None,
        }
    }

    fn run_pending(&mut self, out: &mut Vec<CorrelationMatch<'r>>) {
        let set = self.set;
        while let Some(p) = self.pending.pop_front() {
            let Some(plan) = set.plans().get(p.corr as usize) else {
                continue;
            };
            let Some(input) = plan.inputs.get(usize::from(p.input)) else {
                continue;
            };
            match self.chained_key(plan.kind, input, &p.values) {
                Some(val) => self.feed(p.corr, p.input, p.time, p.seq, val, out),
                None => self.stats.missing_fields += 1,
            }
        }
    }

    /// Puts an entry (keyed by `self.key`) into its group and checks the condition.
    fn feed(
        &mut self,
        corr: u32,
        input: u16,
        time: i64,
        seq: u64,
        val: u64,
        out: &mut Vec<CorrelationMatch<'r>>,
    ) {
        let set = self.set;
        let Some(plan) = set.plans().get(corr as usize) else {
            return;
        };
        let limits = self.limits;
        let lateness = self.lateness_ms;
        let watermark = self.watermark.unwrap_or(time);
        self.stats.inputs += 1;
        self.tick += 1;
        let tick = self.tick;
        let Some(st) = self.states.get_mut(corr as usize) else {
            return;
        };
        let slot = match st.index.get(self.key.as_str()) {
            Some(&s) => s,
            None => {
                if st.index.len() >= limits.max_groups
                    && let Some((_, &oldest)) = st.lru.first_key_value()
                    && let Some(g) = st.remove(oldest)
                {
                    self.stats.evicted_groups += 1;
                    self.stats.evicted_entries += g.entries.len() as u64;
                }
                self.next_group += 1;
                let g = Group {
                    id: self.next_group,
                    key: self.key.clone(),
                    values: decode_key(&self.key),
                    entries: VecDeque::new(),
                    tick: 0,
                    deadline: None,
                };
                let slot = match st.free.pop() {
                    Some(s) => {
                        if let Some(x) = st.slots.get_mut(s as usize) {
                            *x = Some(g);
                        }
                        s
                    }
                    None => {
                        st.slots.push(Some(g));
                        u32::try_from(st.slots.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                st.index.insert(self.key.clone(), slot);
                slot
            }
        };
        let Some(g) = st.group(slot) else {
            return;
        };
        let old_tick = g.tick;
        g.tick = tick;
        st.lru.remove(&old_tick);
        st.lru.insert(tick, slot);
        let Some(g) = st.group(slot) else {
            return;
        };

        // Insert in (time, seq) order; nearly always at the back.
        let entry = Entry {
            time,
            seq,
            input,
            val,
        };
        let mut pos = if g
            .entries
            .back()
            .is_none_or(|b| (b.time, b.seq) <= (time, seq))
        {
            g.entries.push_back(entry);
            g.entries.len() - 1
        } else {
            let p = g
                .entries
                .partition_point(|e| (e.time, e.seq) <= (time, seq));
            g.entries.insert(p, entry);
            p
        };
        while g.entries.len() > limits.max_entries_per_group {
            g.entries.pop_front();
            self.stats.evicted_entries += 1;
            if pos == 0 {
                // The new entry itself was the oldest: nothing of it is left to check.
                return;
            }
            pos -= 1;
        }

        match plan.mode {
            Mode::Arrival => {
                // Entries no future window can hold.
                let floor = watermark
                    .saturating_sub(plan.window_ms)
                    .saturating_sub(lateness);
                while g.entries.front().is_some_and(|e| e.time < floor) {
                    g.entries.pop_front();
                    if pos == 0 {
                        return;
                    }
                    pos -= 1;
                }
                // Every window that holds the new entry ends at it or at a later entry
                // no more than the timespan after it.
                let limit = time.saturating_add(plan.window_ms);
                let mut end = pos;
                while end < g.entries.len() {
                    let Some(e) = g.entries.get(end) else { break };
                    if e.time > limit {
                        break;
                    }
                    let start_time = e.time.saturating_sub(plan.window_ms);
                    let lo = g.entries.partition_point(|x| x.time < start_time);
                    let (value, holds) = measure(plan, g.entries.range(lo..=end), &mut self.bufs);
                    if holds {
                        let m = report(set, corr, plan, g, lo, end, value, &mut self.pending);
                        g.entries.drain(..=end);
                        if let Some(m) = m {
                            self.stats.matches += 1;
                            out.push(m);
                        }
                        break;
                    }
                    end += 1;
                }
            }
            Mode::Close => {
                let due = g.entries.front().and_then(|first| {
                    let d = first
                        .time
                        .saturating_add(plan.window_ms)
                        .saturating_add(lateness);
                    g.deadline.is_none_or(|old| d < old).then_some((d, g.id))
                });
                if let Some((d, id)) = due {
                    g.deadline = Some(d);
                    st.due.push(Reverse((d, id, slot)));
                }
            }
        }
    }

    /// Checks the windows of upper-bound correlations whose deadline is before `upto`.
    fn close_due(&mut self, upto: i64, out: &mut Vec<CorrelationMatch<'r>>) {
        let set = self.set;
        for (ci, plan) in set.plans().iter().enumerate() {
            if plan.mode != Mode::Close {
                continue;
            }
            let corr = u32::try_from(ci).unwrap_or(u32::MAX);
            while let Some(st) = self.states.get_mut(ci) {
                let Some(&Reverse((d, id, slot))) = st.due.peek() else {
                    break;
                };
                if d >= upto && upto != i64::MAX {
                    break;
                }
                st.due.pop();
                let Some(g) = st.group(slot) else {
                    continue;
                };
                if g.id != id || g.deadline != Some(d) {
                    continue;
                }
                g.deadline = None;
                let Some(first) = g.entries.front().map(|e| e.time) else {
                    st.remove(slot);
                    continue;
                };
                let end_time = first.saturating_add(plan.window_ms);
                let real = end_time.saturating_add(self.lateness_ms);
                if real > d && real >= upto && upto != i64::MAX {
                    // The first entry was evicted since: the window ends later.
                    g.deadline = Some(real);
                    let gid = g.id;
                    st.due.push(Reverse((real, gid, slot)));
                    continue;
                }
                let hi = g.entries.partition_point(|e| e.time <= end_time);
                if hi > 0 {
                    let (value, holds) = measure(plan, g.entries.range(..hi), &mut self.bufs);
                    if holds
                        && let Some(m) =
                            report(set, corr, plan, g, 0, hi - 1, value, &mut self.pending)
                    {
                        self.stats.matches += 1;
                        out.push(m);
                    }
                    g.entries.drain(..hi);
                }
                match g.entries.front() {
                    Some(next) => {
                        let nd = next
                            .time
                            .saturating_add(plan.window_ms)
                            .saturating_add(self.lateness_ms);
                        g.deadline = Some(nd);
                        let gid = g.id;
                        st.due.push(Reverse((nd, gid, slot)));
                    }
                    None => {
                        st.remove(slot);
                    }
                }
                // Matches feed the correlations that reference this one at once.
                self.run_pending(out);
            }
        }
    }

    /// Frees groups of lower-bound correlations whose entries have all expired.
    fn expire(&mut self) {
        let Some(w) = self.watermark else { return };
        let set = self.set;
        for (plan, st) in set.plans().iter().zip(self.states.iter_mut()) {
            if plan.mode != Mode::Arrival {
                continue;
            }
            let floor = w
                .saturating_sub(plan.window_ms)
                .saturating_sub(self.lateness_ms);
            while let Some((_, &slot)) = st.lru.first_key_value() {
                let expired = st
                    .group(slot)
                    .is_none_or(|g| g.entries.back().is_none_or(|e| e.time < floor));
                if !expired {
                    break;
                }
                if st.remove(slot).is_none() {
                    // A stale order entry: drop it.
                    st.lru.pop_first();
                }
            }
        }
    }
}

/// The first present, non-null value among `paths`.
fn field_value<'e, E: Event + ?Sized>(event: &'e E, paths: &[FieldPath]) -> Option<Value<'e>> {
    paths.iter().find_map(|p| match event.field(p) {
        Some(Value::Null) | None => None,
        Some(v) => Some(v),
    })
}

/// The text of a value (list elements joined by commas) into `out`; false for null and
/// empty lists.
fn value_text(v: Value<'_>, out: &mut String) -> bool {
    out.clear();
    let mut any = false;
    let list = matches!(v, Value::List(_));
    v.any_text(&mut |t| {
        if any {
            out.push(',');
        }
        any = true;
        out.push_str(&String::from_utf8_lossy(t));
        !list
    });
    any
}

/// The entry value of a correlation type: number bits, a text hash, or nothing.
fn entry_value(kind: CorrelationType, v: Value<'_>, text: &mut String) -> Option<u64> {
    match kind {
        CorrelationType::ValueCount => {
            if !value_text(v, text) {
                return None;
            }
            let mut h = std::hash::DefaultHasher::new();
            text.hash(&mut h);
            Some(h.finish())
        }
        CorrelationType::ValueSum
        | CorrelationType::ValueAvg
        | CorrelationType::ValuePercentile
        | CorrelationType::ValueMedian => v.as_f64().filter(|x| x.is_finite()).map(f64::to_bits),
        CorrelationType::EventCount
        | CorrelationType::Temporal
        | CorrelationType::TemporalOrdered => Some(0),
    }
}

/// Appends one value to a group key: its byte length, `:`, the value.
fn push_key(key: &mut String, value: &str) {
    let _ = write!(key, "{}:", value.len());
    key.push_str(value);
}

fn decode_key(mut key: &str) -> Box<[Box<str>]> {
    let mut values = Vec::new();
    while let Some((len, rest)) = key.split_once(':') {
        let Ok(len) = len.parse::<usize>() else {
            break;
        };
        let Some(v) = rest.get(..len) else {
            break;
        };
        values.push(Box::from(v));
        key = rest.get(len..).unwrap_or("");
    }
    values.into_boxed_slice()
}

/// Measures a window and checks the condition: `(value, holds)`.
fn measure<'a>(
    plan: &Plan,
    window: impl Iterator<Item = &'a Entry> + Clone,
    b: &mut Buffers,
) -> (f64, bool) {
    let value = match plan.kind {
        CorrelationType::EventCount => window.count() as f64,
        CorrelationType::ValueCount => {
            b.hashes.clear();
            b.hashes.extend(window.map(|e| e.val));
            b.hashes.sort_unstable();
            b.hashes.dedup();
            b.hashes.len() as f64
        }
        CorrelationType::Temporal => {
            b.present.clear();
            b.present.resize(plan.inputs.len(), false);
            for e in window {
                if let Some(p) = b.present.get_mut(usize::from(e.input)) {
                    *p = true;
                }
            }
            let seen = b.present.iter().filter(|p| **p).count() as f64;
            if let Some(expr) = &plan.expr {
                let holds = expr.eval(&b.present) && plan.ops.iter().all(|(o, v)| o.test(seen, *v));
                return (seen, holds);
            }
            seen
        }
        CorrelationType::TemporalOrdered => {
            // Greedy: the earliest entry for each step leaves the most room for the next;
            // consecutive steps must come from different events.
            let mut next = 0usize;
            let mut last_seq = None;
            for e in window {
                if usize::from(e.input) == next && last_seq != Some(e.seq) {
                    next += 1;
                    last_seq = Some(e.seq);
                    if next == plan.inputs.len() {
                        break;
                    }
                }
            }
            next as f64
        }
        CorrelationType::ValueSum => window.map(|e| f64::from_bits(e.val)).sum(),
        CorrelationType::ValueAvg => {
            let (n, sum) = window.fold((0usize, 0.0), |(n, s), e| {
                (n + 1, s + f64::from_bits(e.val))
            });
            if n == 0 { 0.0 } else { sum / n as f64 }
        }
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            b.nums.clear();
            b.nums.extend(window.map(|e| f64::from_bits(e.val)));
            percentile(&mut b.nums, plan.percentile)
        }
    };
    let holds = plan.ops.iter().all(|(o, v)| o.test(value, *v));
    (value, holds)
}

/// The `p`th percentile (0 to 100) with linear interpolation between closest ranks.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable_by(f64::total_cmp);
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (Some(a), Some(b)) = (values.get(lo), values.get(hi)) else {
        return 0.0;
    };
    a + (b - a) * (rank - lo as f64)
}

/// Builds the match of window `lo..=hi` of group `g`, and queues it for the correlations
/// that reference this one.
#[allow(clippy::too_many_arguments)]
fn report<'r>(
    set: &'r RuleSet,
    corr: u32,
    plan: &Plan,
    g: &Group,
    lo: usize,
    hi: usize,
    value: f64,
    pending: &mut VecDeque<Pending>,
) -> Option<CorrelationMatch<'r>> {
    let def = set.correlations().get(corr as usize)?;
    let start = g.entries.get(lo).map_or(0, |e| e.time);
    let end = g.entries.get(hi).map_or(start, |e| e.time);
    let mut seen = vec![false; plan.inputs.len()];
    for e in g.entries.range(lo..=hi) {
        if let Some(s) = seen.get_mut(usize::from(e.input)) {
            *s = true;
        }
    }
    let mut rules: Vec<RuleRef<'r>> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    for (input, _) in plan.inputs.iter().zip(&seen).filter(|(_, s)| **s) {
        if sources.contains(&input.source) {
            continue;
        }
        sources.push(input.source);
        let r = match input.source {
            Source::Rule(r) => set.rule_info(r).map(RuleRef::Rule),
            Source::Correlation(c) => set.correlations().get(c as usize).map(RuleRef::Correlation),
        };
        rules.extend(r);
    }
    let seq = g.entries.get(hi).map_or(0, |e| e.seq);
    for &(c, i) in &plan.consumers {
        pending.push_back(Pending {
            corr: c,
            input: i,
            time: end,
            seq,
            values: g.values.clone(),
        });
    }
    let ts = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    Some(CorrelationMatch {
        correlation: def,
        group: def
            .group_by
            .iter()
            .map(String::as_str)
            .zip(g.values.iter().map(|v| v.to_string()))
            .collect(),
        window_start: ts(start),
        window_end: ts(end),
        value,
        events: hi + 1 - lo,
        rules,
        standalone: plan.standalone,
        seqs: g.entries.range(lo..=hi).map(|e| e.seq).collect(),
    })
}

#[cfg(test)]
#[path = "correlation_tests.rs"]
mod tests;
