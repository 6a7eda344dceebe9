//! The STIX 2.x pattern language: a hand-written parser, the compiler of its equality / `IN` /
//! CIDR subset into atomic indicators for the line-rate matcher, and a general evaluator over
//! observations for everything else.
//!
//! Hand-written because no maintained Rust crate parses STIX patterns; the grammar
//! (oasis-open STIXPattern.g4) is small. Precedence, loosest first: `FOLLOWEDBY`, `OR`, `AND`
//! between observations; `OR`, `AND` inside brackets; qualifiers (`WITHIN n SECONDS`,
//! `REPEATS n TIMES`, `START t'..' STOP t'..'`) bind to the observation expression before them.
//!
//! The general evaluator works on [`Observation`]s: maps from canonical object paths
//! (`ipv4-addr:value`, `file:hashes.SHA-256`, `email-message:to_refs[*].value`) to JSON values.
//! Multi-observation operators are evaluated over time spans: `A FOLLOWEDBY B` needs an `A`
//! observation no later than a `B` one, `WITHIN` bounds a span's length, `REPEATS n` needs `n`
//! matching spans, `START/STOP` bounds a span's times.

use crate::indicator::{IndicatorContext, IndicatorKind, IndicatorValue, parse_ip};
use jiff::Timestamp;
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern error at byte {offset}: {message}")]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

/// A literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(Timestamp),
    Hex(Vec<u8>),
    Binary(String),
}

/// A comparison operator with its operand.
#[derive(Debug, Clone)]
pub enum Op {
    Eq(Literal),
    Ne(Literal),
    Lt(Literal),
    Le(Literal),
    Gt(Literal),
    Ge(Literal),
    In(Vec<Literal>),
    Like(String, Regex),
    Matches(String, Regex),
    IsSubset(String),
    IsSuperset(String),
}

/// A comparison expression: what must hold on one observation.
#[derive(Debug, Clone)]
pub enum Cmp {
    And(Box<Cmp>, Box<Cmp>),
    Or(Box<Cmp>, Box<Cmp>),
    Test { path: String, negated: bool, op: Op },
    Exists { path: String, negated: bool },
}

/// An observation qualifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within(f64),
    Repeats(u32),
    StartStop(Timestamp, Timestamp),
}

/// A parsed pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    Observation(Cmp),
    And(Box<Pattern>, Box<Pattern>),
    Or(Box<Pattern>, Box<Pattern>),
    FollowedBy(Box<Pattern>, Box<Pattern>),
    Qualified(Box<Pattern>, Qualifier),
}

/// One observation for the general evaluator: when, and values by canonical object path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub time: Option<Timestamp>,
    pub fields: BTreeMap<String, Value>,
}

/// How a pattern is matched.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// An OR of equality/IN/CIDR tests on indexable values: each value (or the reason it is
    /// not a valid value) becomes an atomic indicator for the line-rate matcher.
    Atomic(Vec<Result<IndicatorValue, String>>),
    /// Anything else; the string says why it is not line-rate.
    General(String),
}

/// An indicator whose pattern needs the general evaluator.
#[derive(Debug, Clone)]
pub struct PatternIndicator {
    /// The STIX id of the indicator.
    pub id: String,
    pub pattern_text: String,
    pub pattern: Pattern,
    pub confidence: u8,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub context: Arc<IndicatorContext>,
}

impl PatternIndicator {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

/// Parses a STIX pattern.
pub fn parse(text: &str) -> Result<Pattern, PatternError> {
    let mut p = Parser { s: text, pos: 0 };
    let pat = p.obs_followed_by()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.error("unexpected text after the pattern"));
    }
    Ok(pat)
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> PatternError {
        PatternError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let t = self.rest();
        self.pos += t.len() - t.trim_start().len();
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    /// Consumes a keyword (case-insensitive) when it is followed by a non-word character.
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let r = self.rest();
        let matches = r.len() >= kw.len()
            && r.is_char_boundary(kw.len())
            && r[..kw.len()].eq_ignore_ascii_case(kw)
            && !r[kw.len()..]
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if matches {
            self.pos += kw.len();
        }
        matches
    }

    fn expect(&mut self, tok: &str) -> Result<(), PatternError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.error(format!("expected {tok:?}")))
        }
    }

    fn obs_followed_by(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_or()?;
        while self.keyword("FOLLOWEDBY") {
            let right = self.obs_or()?;
            left = Pattern::FollowedBy(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn obs_or(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_and()?;
        while self.keyword("OR") {
            let right = self.obs_and()?;
            left = Pattern::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn obs_and(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_qualified()?;
        while self.keyword("AND") {
            let right = self.obs_qualified()?;
            left = Pattern::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn obs_qualified(&mut self) -> Result<Pattern, PatternError> {
        let mut p = if self.eat("[") {
            let c = self.cmp_or()?;
            self.expect("]")?;
            Pattern::Observation(c)
        } else if self.eat("(") {
            let p = self.obs_followed_by()?;
            self.expect(")")?;
            p
        } else {
            return Err(self.error("expected '[' or '('"));
        };
        loop {
            if self.keyword("WITHIN") {
                let n = self.number()?;
                if !self.keyword("SECONDS") {
                    return Err(self.error("expected SECONDS"));
                }
                p = Pattern::Qualified(Box::new(p), Qualifier::Within(n));
            } else if self.keyword("REPEATS") {
                let n = self.number()?;
                if !self.keyword("TIMES") {
                    return Err(self.error("expected TIMES"));
                }
                if n < 1.0 || n.fract() != 0.0 || n > f64::from(u32::MAX) {
                    return Err(self.error("REPEATS needs a positive integer"));
                }
                p = Pattern::Qualified(Box::new(p), Qualifier::Repeats(n as u32));
            } else if self.keyword("START") {
                let Literal::Time(a) = self.literal()? else {
                    return Err(self.error("START needs a t'...' timestamp"));
                };
                if !self.keyword("STOP") {
                    return Err(self.error("expected STOP"));
                }
                let Literal::Time(b) = self.literal()? else {
                    return Err(self.error("STOP needs a t'...' timestamp"));
                };
                p = Pattern::Qualified(Box::new(p), Qualifier::StartStop(a, b));
            } else {
                return Ok(p);
            }
        }
    }

    fn cmp_or(&mut self) -> Result<Cmp, PatternError> {
        let mut left = self.cmp_and()?;
        while self.keyword("OR") {
            let right = self.cmp_and()?;
            left = Cmp::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cmp_and(&mut self) -> Result<Cmp, PatternError> {
        let mut left = self.cmp_unary()?;
        while self.keyword("AND") {
            let right = self.cmp_unary()?;
            left = Cmp::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cmp_unary(&mut self) -> Result<Cmp, PatternError> {
        if self.eat("(") {
            let c = self.cmp_or()?;
            self.expect(")")?;
            return Ok(c);
        }
        let negated_exists = self.keyword("NOT");
        if self.keyword("EXISTS") {
            let path = self.path()?;
            return Ok(Cmp::Exists {
                path,
                negated: negated_exists,
            });
        }
        if negated_exists {
            return Err(self.error("NOT before a comparison must follow its path"));
        }
        let path = self.path()?;
        let negated = self.keyword("NOT");
        let op = if self.eat("==") || self.eat("=") {
            Op::Eq(self.literal()?)
        } else if self.eat("!=") || self.eat("<>") {
            Op::Ne(self.literal()?)
        } else if self.eat("<=") {
            Op::Le(self.literal()?)
        } else if self.eat(">=") {
            Op::Ge(self.literal()?)
        } else if self.eat("<") {
            Op::Lt(self.literal()?)
        } else if self.eat(">") {
            Op::Gt(self.literal()?)
        } else if self.keyword("IN") {
            self.expect("(")?;
            let mut items = vec![self.literal()?];
            while self.eat(",") {
                items.push(self.literal()?);
            }
            self.expect(")")?;
            Op::In(items)
        } else if self.keyword("LIKE") {
            let s = self.string_literal()?;
            let re = like_regex(&s).map_err(|e| self.error(format!("LIKE: {e}")))?;
            Op::Like(s, re)
        } else if self.keyword("MATCHES") {
            let s = self.string_literal()?;
            let re = Regex::new(&s)
                .map_err(|e| self.error(format!("MATCHES regex unsupported: {e}")))?;
            Op::Matches(s, re)
        } else if self.keyword("ISSUBSET") {
            Op::IsSubset(self.string_literal()?)
        } else if self.keyword("ISSUPERSET") {
            Op::IsSuperset(self.string_literal()?)
        } else {
            return Err(self.error("expected a comparison operator"));
        };
        Ok(Cmp::Test { path, negated, op })
    }

    fn ident(&mut self) -> Option<&'a str> {
        let r: &'a str = &self.s[self.pos..];
        let n = r
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        if n == 0 {
            return None;
        }
        self.pos += n;
        Some(&r[..n])
    }

    /// An object path in canonical form: quotes removed, file hash names normalized.
    fn path(&mut self) -> Result<String, PatternError> {
        self.ws();
        let ty = self
            .ident()
            .ok_or_else(|| self.error("expected an object type"))?
            .to_ascii_lowercase();
        if !self.rest().starts_with(':') {
            return Err(self.error("expected ':' after the object type"));
        }
        self.pos += 1;
        let mut out = format!("{ty}:");
        let mut first = true;
        let mut prev = String::new();
        loop {
            let name = if first || self.rest().starts_with('.') {
                if !first {
                    self.pos += 1;
                }
                if self.rest().starts_with('\'') {
                    self.string_literal()?
                } else {
                    self.ident()
                        .ok_or_else(|| self.error("expected a property name"))?
                        .to_string()
                }
            } else if self.rest().starts_with('[') {
                self.pos += 1;
                let idx = if self.rest().starts_with('*') {
                    self.pos += 1;
                    "*".to_string()
                } else {
                    self.ident()
                        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| self.error("expected a list index or '*'"))?
                        .to_string()
                };
                if !self.rest().starts_with(']') {
                    return Err(self.error("expected ']'"));
                }
                self.pos += 1;
                out.push('[');
                out.push_str(&idx);
                out.push(']');
                continue;
            } else {
                break;
            };
            if !first {
                out.push('.');
            }
            if ty == "file" && prev == "hashes" {
                out.push_str(&normalize_hash_name(&name));
            } else {
                out.push_str(&name);
            }
            prev = name;
            first = false;
        }
        Ok(out)
    }

    fn string_literal(&mut self) -> Result<String, PatternError> {
        self.ws();
        if !self.rest().starts_with('\'') {
            return Err(self.error("expected a quoted string"));
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    _ => {
                        self.pos += i;
                        return Err(self.error("only \\' and \\\\ escapes are allowed"));
                    }
                },
                '\'' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(self.error("unterminated string"))
    }

    fn number(&mut self) -> Result<f64, PatternError> {
        self.ws();
        let r = self.rest();
        let n = r
            .bytes()
            .enumerate()
            .take_while(|&(i, b)| {
                b.is_ascii_digit() || b == b'.' || (i == 0 && (b == b'-' || b == b'+'))
            })
            .count();
        let v = r[..n]
            .parse::<f64>()
            .map_err(|_| self.error("expected a number"))?;
        self.pos += n;
        Ok(v)
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        self.ws();
        let r = self.rest();
        if r.starts_with('\'') {
            return self.string_literal().map(Literal::Str);
        }
        for (prefix, kind) in [("t'", 't'), ("h'", 'h'), ("b'", 'b')] {
            if r.starts_with(prefix) {
                self.pos += 1;
                let s = self.string_literal()?;
                return match kind {
                    't' => s
                        .parse::<Timestamp>()
                        .map(Literal::Time)
                        .map_err(|e| self.error(format!("bad timestamp: {e}"))),
                    'h' => hex::decode(&s)
                        .map(Literal::Hex)
                        .map_err(|e| self.error(format!("bad hex: {e}"))),
                    _ => Ok(Literal::Binary(s)),
                };
            }
        }
        if self.keyword("true") {
            return Ok(Literal::Bool(true));
        }
        if self.keyword("false") {
            return Ok(Literal::Bool(false));
        }
        self.ws();
        let start = self.pos;
        let n = self.number()?;
        let text = &self.s[start..self.pos];
        if !text.contains('.')
            && let Ok(i) = text.parse::<i64>()
        {
            return Ok(Literal::Int(i));
        }
        Ok(Literal::Float(n))
    }
}

/// Normalizes a file hash algorithm name to the STIX vocabulary spelling (`md5` → `MD5`,
/// `sha256` → `SHA-256`); real data uses both.
pub fn normalize_hash_name(name: &str) -> String {
    let u = name.to_ascii_uppercase().replace(['-', '_'], "");
    match u.as_str() {
        "MD5" => "MD5".into(),
        "SHA1" => "SHA-1".into(),
        "SHA256" => "SHA-256".into(),
        "SHA512" => "SHA-512".into(),
        "SHA3256" => "SHA3-256".into(),
        "SHA3512" => "SHA3-512".into(),
        "SM3" => "SM3".into(),
        _ => name.to_ascii_uppercase(),
    }
}

fn like_regex(s: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("(?s)^");
    for c in s.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re)
}

// ---------------------------------------------------------------------------------------------
// Compilation into atomic indicators

/// The indicator type of an object path the line-rate matcher indexes.
fn atomic_kind(path: &str) -> Option<IndicatorKind> {
    Some(match path {
        "ipv4-addr:value" => IndicatorKind::Ipv4,
        "ipv6-addr:value" => IndicatorKind::Ipv6,
        // Either family: decided by the value.
        "network-traffic:dst_ref.value" | "network-traffic:src_ref.value" => IndicatorKind::Ipv4,
        "domain-name:value" => IndicatorKind::Domain,
        "url:value" => IndicatorKind::Url,
        "email-addr:value" | "email-message:from_ref.value" | "email-message:sender_ref.value" => {
            IndicatorKind::Email
        }
        "file:hashes.MD5" => IndicatorKind::Md5,
        "file:hashes.SHA-1" => IndicatorKind::Sha1,
        "file:hashes.SHA-256" => IndicatorKind::Sha256,
        "file:hashes.SM3" => IndicatorKind::Sm3,
        _ => return None,
    })
}

fn atomic_value(path: &str, kind: IndicatorKind, s: &str) -> Result<IndicatorValue, String> {
    let v = if kind == IndicatorKind::Ipv4 && path.starts_with("network-traffic:") {
        parse_ip(s.trim())
    } else {
        IndicatorValue::parse(kind, s)
    };
    v.map_err(|e| format!("{path} = {s:?}: {e}"))
}

impl Pattern {
    /// Decides how the pattern is matched: line-rate atomic values, or the general evaluator.
    pub fn compile(&self) -> Compiled {
        let Pattern::Observation(cmp) = self else {
            return Compiled::General(match self {
                Pattern::FollowedBy(..) => "FOLLOWEDBY across observations".into(),
                Pattern::Qualified(..) => "qualified observation (WITHIN/REPEATS/START)".into(),
                _ => "several observations".into(),
            });
        };
        let mut out = Vec::new();
        match collect_atomic(cmp, &mut out) {
            Ok(()) => Compiled::Atomic(out),
            Err(why) => Compiled::General(why),
        }
    }

    /// True when the pattern holds on the observations (sorted or not; times decide order).
    pub fn matches(&self, observations: &[Observation]) -> bool {
        !spans(self, observations).is_empty()
    }
}

fn collect_atomic(cmp: &Cmp, out: &mut Vec<Result<IndicatorValue, String>>) -> Result<(), String> {
    match cmp {
        Cmp::Or(a, b) => {
            collect_atomic(a, out)?;
            collect_atomic(b, out)
        }
        Cmp::And(..) => Err("AND inside an observation".into()),
        Cmp::Exists { .. } => Err("EXISTS".into()),
        Cmp::Test { negated: true, .. } => Err("NOT".into()),
        Cmp::Test {
            op: Op::Like(..), ..
        } => Err("LIKE".into()),
        Cmp::Test {
            op: Op::Matches(..),
            ..
        } => Err("MATCHES".into()),
        Cmp::Test { path, op, .. } => {
            let kind = atomic_kind(path).ok_or_else(|| format!("{path} is not indexed"))?;
            let is_ip = matches!(kind, IndicatorKind::Ipv4 | IndicatorKind::Ipv6);
            match op {
                Op::Eq(Literal::Str(s)) => out.push(atomic_value(path, kind, s)),
                Op::In(items) => {
                    for l in items {
                        match l {
                            Literal::Str(s) => out.push(atomic_value(path, kind, s)),
                            _ => return Err("IN with a non-string literal".into()),
                        }
                    }
                }
                Op::IsSubset(s) if is_ip => out.push(atomic_value(path, kind, s)),
                _ => return Err(format!("operator on {path} is not line-rate")),
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// General evaluator

/// A matched stretch of observations: first and last time, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    first: i64,
    last: i64,
}

/// Bound on intermediate spans, so a hostile pattern cannot make evaluation quadratic without
/// limit.
const MAX_SPANS: usize = 4096;

fn spans(p: &Pattern, obs: &[Observation]) -> Vec<Span> {
    match p {
        Pattern::Observation(c) => obs
            .iter()
            .filter(|o| eval_cmp(c, o))
            .map(|o| {
                let t = o.time.map_or(0, Timestamp::as_second);
                Span { first: t, last: t }
            })
            .take(MAX_SPANS)
            .collect(),
        Pattern::Or(a, b) => {
            let mut v = spans(a, obs);
            v.extend(spans(b, obs));
            v.truncate(MAX_SPANS);
            v
        }
        Pattern::And(a, b) | Pattern::FollowedBy(a, b) => {
            let (l, r) = (spans(a, obs), spans(b, obs));
            let ordered = matches!(p, Pattern::FollowedBy(..));
            let mut v = Vec::new();
            'outer: for x in &l {
                for y in &r {
                    if !ordered || x.last <= y.first {
                        v.push(Span {
                            first: x.first.min(y.first),
                            last: x.last.max(y.last),
                        });
                        if v.len() >= MAX_SPANS {
                            break 'outer;
                        }
                    }
                }
            }
            v
        }
        Pattern::Qualified(inner, q) => {
            let mut v = spans(inner, obs);
            match q {
                Qualifier::Within(secs) => v.retain(|s| ((s.last - s.first) as f64) <= *secs),
                Qualifier::StartStop(a, b) => {
                    let (a, b) = (a.as_second(), b.as_second());
                    v.retain(|s| s.first >= a && s.last < b);
                }
                Qualifier::Repeats(n) => {
                    let n = *n as usize;
                    v.sort_by_key(|s| (s.first, s.last));
                    v = v
                        .windows(n)
                        .map(|w| Span {
                            first: w[0].first,
                            last: w.iter().map(|s| s.last).max().unwrap_or(w[0].last),
                        })
                        .collect();
                }
            }
            v
        }
    }
}

fn values<'a>(o: &'a Observation, path: &str) -> Vec<&'a Value> {
    match o.fields.get(path) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

fn eval_cmp(c: &Cmp, o: &Observation) -> bool {
    match c {
        Cmp::And(a, b) => eval_cmp(a, o) && eval_cmp(b, o),
        Cmp::Or(a, b) => eval_cmp(a, o) || eval_cmp(b, o),
        Cmp::Exists { path, negated } => o.fields.contains_key(path) != *negated,
        Cmp::Test { path, negated, op } => {
            let vals = values(o, path);
            // A property the observation lacks makes the comparison false, NOT or not.
            !vals.is_empty() && vals.iter().any(|v| eval_op(path, op, v) != *negated)
        }
    }
}

fn is_ip_path(path: &str) -> bool {
    matches!(
        path,
        "ipv4-addr:value"
            | "ipv6-addr:value"
            | "network-traffic:dst_ref.value"
            | "network-traffic:src_ref.value"
    )
}

fn ip_contains(outer: &str, inner: &str) -> bool {
    let (Ok(o), Ok(i)) = (parse_ip(outer.trim()), parse_ip(inner.trim())) else {
        return false;
    };
    match (
        o.ipv4_range(),
        i.ipv4_range(),
        o.ipv6_range(),
        i.ipv6_range(),
    ) {
        (Some((ol, oh)), Some((il, ih)), _, _) => ol <= il && ih <= oh,
        (_, _, Some((ol, oh)), Some((il, ih))) => ol <= il && ih <= oh,
        _ => false,
    }
}

fn lit_eq(path: &str, l: &Literal, v: &Value) -> bool {
    match (l, v) {
        (Literal::Str(s), Value::String(x)) => {
            if is_ip_path(path) {
                ip_contains(s, x)
            } else if path.starts_with("file:hashes.") {
                s.eq_ignore_ascii_case(x)
            } else {
                s == x
            }
        }
        (Literal::Int(i), Value::Number(n)) => n.as_f64() == Some(*i as f64),
        (Literal::Float(f), Value::Number(n)) => n.as_f64() == Some(*f),
        (Literal::Bool(b), Value::Bool(x)) => b == x,
        (Literal::Time(t), Value::String(x)) => x.parse::<Timestamp>().is_ok_and(|x| x == *t),
        (Literal::Hex(h), Value::String(x)) => hex::decode(x).is_ok_and(|x| x == *h),
        (Literal::Binary(b), Value::String(x)) => b == x,
        _ => false,
    }
}

fn lit_cmp(l: &Literal, v: &Value) -> Option<std::cmp::Ordering> {
    match (v, l) {
        (Value::Number(n), Literal::Int(i)) => n.as_f64()?.partial_cmp(&(*i as f64)),
        (Value::Number(n), Literal::Float(f)) => n.as_f64()?.partial_cmp(f),
        (Value::String(s), Literal::Time(t)) => s.parse::<Timestamp>().ok()?.partial_cmp(t),
        (Value::String(s), Literal::Str(x)) => Some(s.as_str().cmp(x.as_str())),
        _ => None,
    }
}

fn eval_op(path: &str, op: &Op, v: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq(l) => lit_eq(path, l, v),
        Op::Ne(l) => !lit_eq(path, l, v),
        Op::Lt(l) => lit_cmp(l, v) == Some(Less),
        Op::Le(l) => matches!(lit_cmp(l, v), Some(Less | Equal)),
        Op::Gt(l) => lit_cmp(l, v) == Some(Greater),
        Op::Ge(l) => matches!(lit_cmp(l, v), Some(Greater | Equal)),
        Op::In(items) => items.iter().any(|l| lit_eq(path, l, v)),
        Op::Like(_, re) | Op::Matches(_, re) => v.as_str().is_some_and(|s| re.is_match(s)),
        Op::IsSubset(cidr) => v.as_str().is_some_and(|s| ip_contains(cidr, s)),
        Op::IsSuperset(cidr) => v.as_str().is_some_and(|s| ip_contains(s, cidr)),
    }
}

// ---------------------------------------------------------------------------------------------
// Observations from events

/// ECS field → STIX object paths it feeds.
const ECS_TO_STIX: &[(&str, &[&str])] = &[
    ("source.ip", &["@ip", "network-traffic:src_ref.value"]),
    ("destination.ip", &["@ip", "network-traffic:dst_ref.value"]),
    ("source.port", &["network-traffic:src_port"]),
    ("destination.port", &["network-traffic:dst_port"]),
    ("network.transport", &["network-traffic:protocols[*]"]),
    ("dns.question.name", &["domain-name:value"]),
    ("url.domain", &["domain-name:value"]),
    ("destination.domain", &["domain-name:value"]),
    ("tls.server.name", &["domain-name:value"]),
    ("url.full", &["url:value"]),
    ("url.original", &["url:value"]),
    ("file.hash.md5", &["file:hashes.MD5"]),
    ("file.hash.sha1", &["file:hashes.SHA-1"]),
    ("file.hash.sha256", &["file:hashes.SHA-256"]),
    ("file.hash.sha512", &["file:hashes.SHA-512"]),
    ("file.hash.sm3", &["file:hashes.SM3"]),
    ("file.name", &["file:name"]),
    ("file.size", &["file:size"]),
    (
        "email.from.address",
        &["email-addr:value", "email-message:from_ref.value"],
    ),
    (
        "email.to.address",
        &["email-addr:value", "email-message:to_refs[*].value"],
    ),
    ("email.subject", &["email-message:subject"]),
    (
        "email.attachments.file.name",
        &["email-message:body_multipart[*].body_raw_ref.name"],
    ),
    ("process.name", &["process:name"]),
    ("process.command_line", &["process:command_line"]),
    ("user.name", &["user-account:user_id"]),
    (
        "tls.server.x509.serial_number",
        &["x509-certificate:serial_number"],
    ),
    (
        "tls.server.x509.issuer.distinguished_name",
        &["x509-certificate:issuer"],
    ),
    ("tls.server.hash.sha1", &["x509-certificate:hashes.SHA-1"]),
];

impl Observation {
    /// The observation of one event, from its ECS fields.
    pub fn from_fields(time: Option<Timestamp>, fields: &BTreeMap<String, Value>) -> Self {
        let mut out: BTreeMap<String, Value> = BTreeMap::new();
        for (ecs, paths) in ECS_TO_STIX {
            let Some(v) = fields.get(*ecs) else { continue };
            for path in *paths {
                let path = if *path == "@ip" {
                    let s = match v {
                        Value::String(s) => s.as_str(),
                        Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or(""),
                        _ => "",
                    };
                    if s.contains(':') {
                        "ipv6-addr:value"
                    } else {
                        "ipv4-addr:value"
                    }
                } else {
                    path
                };
                match out.get_mut(path) {
                    None => {
                        out.insert(path.to_string(), v.clone());
                    }
                    Some(existing) => {
                        let mut items = match existing.take() {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        match v {
                            Value::Array(a) => items.extend(a.iter().cloned()),
                            other => items.push(other.clone()),
                        }
                        *existing = Value::Array(items);
                    }
                }
            }
        }
        Self { time, fields: out }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Time(t) => write!(f, "t'{t}'"),
            Literal::Hex(h) => write!(f, "h'{}'", hex::encode(h)),
            Literal::Binary(b) => write!(f, "b'{b}'"),
        }
    }
}

/// Quotes a string for a pattern literal.
pub fn quote(s: &str) -> String {
    Literal::Str(s.to_string()).to_string()
}

/// The STIX pattern of one atomic indicator value, for export.
pub fn pattern_for(value: &IndicatorValue) -> String {
    let v = quote(&value.text());
    match value.kind() {
        IndicatorKind::Ipv4 => format!("[ipv4-addr:value = {v}]"),
        IndicatorKind::Ipv6 => format!("[ipv6-addr:value = {v}]"),
        IndicatorKind::Domain => format!("[domain-name:value = {v}]"),
        IndicatorKind::Url => format!("[url:value = {v}]"),
        IndicatorKind::Email => format!("[email-addr:value = {v}]"),
        IndicatorKind::Md5 => format!("[file:hashes.MD5 = {v}]"),
        IndicatorKind::Sha1 => format!("[file:hashes.'SHA-1' = {v}]"),
        IndicatorKind::Sha256 => format!("[file:hashes.'SHA-256' = {v}]"),
        IndicatorKind::Sm3 => format!("[file:hashes.SM3 = {v}]"),
        // JA3/JA4 have no STIX object; the x509/network-traffic extensions do not carry them,
        // so a custom property path is used (custom properties are allowed in patterns).
        IndicatorKind::Ja3 => format!("[network-traffic:extensions.'x-ja3'.ja3 = {v}]"),
        IndicatorKind::Ja4 => format!("[network-traffic:extensions.'x-ja4'.ja4 = {v}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn atoms(p: &str) -> Vec<String> {
        match parse(p).expect("parses").compile() {
            Compiled::Atomic(v) => v
                .into_iter()
                .map(|r| {
                    r.map(|v| v.to_string())
                        .unwrap_or_else(|e| format!("ERR {e}"))
                })
                .collect(),
            Compiled::General(why) => vec![format!("GENERAL {why}")],
        }
    }

    fn obs(fields: Value) -> Observation {
        Observation {
            time: None,
            fields: serde_json::from_value(fields).expect("map"),
        }
    }

    fn at(secs: i64, fields: Value) -> Observation {
        Observation {
            time: Some(Timestamp::from_second(secs).expect("ts")),
            ..obs(fields)
        }
    }

    #[test]
    fn equality_in_and_cidr_compile_to_atoms() {
        assert_eq!(atoms("[ipv4-addr:value = '1.2.3.4']"), ["ipv4:1.2.3.4"]);
        assert_eq!(atoms("[ ipv4-addr:value = '10.0.0.0' ]"), ["ipv4:10.0.0.0"]);
        assert_eq!(
            atoms("[ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
            ["ipv4:10.0.0.0/8"]
        );
        assert_eq!(
            atoms("[domain-name:value IN ('a.com', 'B.com')]"),
            ["domain:a.com", "domain:b.com"]
        );
        assert_eq!(
            atoms(
                "[domain-name:value = 'x.org' OR ipv4-addr:value = '1.1.1.1' OR url:value = 'http://X.org/a']"
            ),
            ["domain:x.org", "ipv4:1.1.1.1", "url:http://x.org/a"]
        );
        assert_eq!(
            atoms(
                "[file:hashes.'SHA-256' = 'EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C']"
            ),
            ["sha256:ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"]
        );
        assert_eq!(
            atoms("[file:hashes.md5 = '001dd76872d80801692ff942308c64e6']"),
            ["md5:001dd76872d80801692ff942308c64e6"]
        );
        assert_eq!(
            atoms("[email-addr:value = 'Evil@X.org']"),
            ["email:evil@x.org"]
        );
        // A bad value inside an otherwise atomic pattern is reported, the rest imports.
        assert_eq!(
            atoms(
                "[domain-name:value = 'domain autuo.xicp.net' OR ipv4-addr:value = '60.10.1.115']"
            ),
            [
                "ERR domain-name:value = \"domain autuo.xicp.net\": domain: \"domain autuo.xicp.net\" has a bad character",
                "ipv4:60.10.1.115"
            ]
        );
    }

    #[test]
    fn everything_else_is_general() {
        for (p, why) in [
            (
                "[email-message:subject MATCHES '^[IMPORTANT] Please']",
                "MATCHES",
            ),
            ("[file:name = 'x.exe']", "file:name is not indexed"),
            ("[domain-name:value LIKE '%.evil.com']", "LIKE"),
            (
                "[x509-certificate:issuer = 'CN=A' AND x509-certificate:serial_number = '0e']",
                "AND inside an observation",
            ),
            ("[ipv4-addr:value NOT = '1.2.3.4']", "NOT"),
            (
                "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.com']",
                "FOLLOWEDBY across observations",
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES WITHIN 60 SECONDS",
                "qualified observation (WITHIN/REPEATS/START)",
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'a.com']",
                "several observations",
            ),
            ("[EXISTS file:name]", "EXISTS"),
        ] {
            assert_eq!(atoms(p), [format!("GENERAL {why}")], "{p}");
        }
    }

    #[test]
    fn syntax_errors_are_reported_with_offsets() {
        for p in [
            "",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = '1.2.3.4]",
            "[ipv4-addr:value ~ '1']",
            "[ipv4-addr = '1']",
            "[file:name MATCHES '(?<=x)']",
            "[a:b = 1] WITHIN SECONDS",
            "[a:b = 1] trailing",
            "[a:b = 'x\\n']",
        ] {
            assert!(parse(p).is_err(), "{p} should not parse");
        }
        let e = parse("[ipv4-addr:value = '1.2.3.4'").expect_err("unterminated");
        assert_eq!(e.offset, 28);
    }

    #[test]
    fn paths_and_literals() {
        let p = parse(
            "[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
        )
        .expect("parses");
        let o = obs(json!({
            "email-message:body_multipart[*].body_raw_ref.name": ["a.txt", "Final Report 2016.exe"]
        }));
        assert!(p.matches(&[o]));
        let p =
            parse("[file:size > 1000 AND file:size <= 2048.5 AND file:x = true]").expect("parses");
        assert!(p.matches(&[obs(json!({"file:size": 2048, "file:x": true}))]));
        assert!(!p.matches(&[obs(json!({"file:size": 999, "file:x": true}))]));
        let p = parse("[file:created >= t'2020-01-01T00:00:00Z' AND file:h = h'ff00']")
            .expect("parses");
        assert!(p.matches(&[obs(
            json!({"file:created": "2021-05-05T00:00:00Z", "file:h": "FF00"})
        )]));
        let p = parse("[file:name = 'it\\'s']").expect("parses");
        assert!(p.matches(&[obs(json!({"file:name": "it's"}))]));
    }

    #[test]
    fn evaluator_handles_general_comparisons() {
        let p = parse("[domain-name:value LIKE '%.evil._om']").expect("parses");
        assert!(p.matches(&[obs(json!({"domain-name:value": "a.evil.com"}))]));
        assert!(!p.matches(&[obs(json!({"domain-name:value": "evil.com"}))]));
        let p = parse("[ipv4-addr:value ISSUBSET '10.0.0.0/8' AND NOT EXISTS domain-name:value]")
            .expect("parses");
        assert!(p.matches(&[obs(json!({"ipv4-addr:value": "10.2.3.4"}))]));
        assert!(!p.matches(&[obs(json!({"ipv4-addr:value": "11.2.3.4"}))]));
        assert!(!p.matches(&[obs(
            json!({"ipv4-addr:value": "10.2.3.4", "domain-name:value": "x"})
        )]));
        let p = parse("[ipv4-addr:value NOT IN ('1.1.1.1', '2.2.2.2')]").expect("parses");
        assert!(p.matches(&[obs(json!({"ipv4-addr:value": "3.3.3.3"}))]));
        assert!(!p.matches(&[obs(json!({"ipv4-addr:value": "1.1.1.1"}))]));
        // A missing property is false even under NOT.
        assert!(!p.matches(&[obs(json!({}))]));
        let p = parse(
            "[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b']",
        )
        .expect("parses");
        assert!(p.matches(&[obs(json!({"x509-certificate:issuer": "CN=WEBMAIL", "x509-certificate:serial_number": "4c:0b"}))]));
        assert!(!p.matches(&[obs(json!({"x509-certificate:issuer": "CN=WEBMAIL"}))]));
    }

    #[test]
    fn evaluator_handles_multiple_observations() {
        let p = parse("([domain-name:value = 'a.com'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']) WITHIN 60 SECONDS")
            .expect("parses");
        let dns = |t| at(t, json!({"domain-name:value": "a.com"}));
        let ip = |t| at(t, json!({"ipv4-addr:value": "1.2.3.4"}));
        assert!(p.matches(&[dns(100), ip(130)]));
        assert!(!p.matches(&[ip(100), dns(130)]), "wrong order");
        assert!(!p.matches(&[dns(100), ip(200)]), "outside the window");
        let p = parse("[ipv4-addr:value = '1.2.3.4'] REPEATS 3 TIMES WITHIN 10 SECONDS")
            .expect("parses");
        assert!(p.matches(&[ip(1), ip(5), ip(9)]));
        assert!(!p.matches(&[ip(1), ip(5)]));
        assert!(!p.matches(&[ip(1), ip(5), ip(30)]));
        let p = parse("([ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.com']) START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'")
            .expect("parses");
        let day = 1_577_836_800;
        assert!(p.matches(&[ip(day + 5), dns(day + 50)]));
        assert!(!p.matches(&[ip(day - 5), dns(day + 50)]));
    }

    #[test]
    fn observations_come_from_ecs_fields() {
        let fields: BTreeMap<String, Value> = serde_json::from_value(json!({
            "source.ip": "10.0.0.1",
            "destination.ip": "2001:db8::1",
            "dns.question.name": "a.com",
            "url.domain": "b.com",
            "email.subject": "[IMPORTANT] Please Review Before"
        }))
        .expect("map");
        let o = Observation::from_fields(None, &fields);
        assert_eq!(o.fields["ipv4-addr:value"], json!("10.0.0.1"));
        assert_eq!(o.fields["ipv6-addr:value"], json!("2001:db8::1"));
        assert_eq!(o.fields["domain-name:value"], json!(["a.com", "b.com"]));
        let p =
            parse("[email-message:subject MATCHES '^\\\\[IMPORTANT\\\\] Please']").expect("parses");
        assert!(p.matches(&[o]));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s).map(|p| (p.compile(), p.matches(&[])));
            let _ = IndicatorValue::sniff(&s);
            let _ = crate::indicator::normalize_url(&s);
        }

        #[test]
        fn pattern_shaped_text_never_panics(
            s in "\\[[a-z0-9:.' =\\-\\[\\]*()]{0,40}\\]( (AND|OR|FOLLOWEDBY) \\[[a-z:' =]{0,20}\\])?( WITHIN [0-9]{1,3} SECONDS| REPEATS [0-9] TIMES)?"
        ) {
            let _ = parse(&s).map(|p| (p.compile(), p.matches(&[])));
        }
    }

    #[test]
    fn exported_patterns_parse_back_to_the_same_value() {
        for t in [
            "1.2.3.4",
            "10.0.0.0/8",
            "2001:db8::/32",
            "evil.com",
            "http://evil.com/a'b",
            "a@evil.com",
            "d41d8cd98f00b204e9800998ecf8427e",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            let v = IndicatorValue::sniff(t).expect("value");
            let text = pattern_for(&v);
            match parse(&text).expect("parses").compile() {
                Compiled::Atomic(a) => assert_eq!(a, vec![Ok(v)], "{text}"),
                Compiled::General(w) => panic!("{text}: {w}"),
            }
        }
    }
}
