//! Sigma documents: detection rules, filters and correlation rules, read from the YAML tree
//! with their metadata. Unknown top-level keys are tolerated, as the specification asks.

use std::fmt;

use crate::problem::{Code, Issue};
use crate::yaml::{Node, Pos, SNode};

/// Severity level of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's `logsource` (only `product`, `category` and `service` select events).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

impl LogSource {
    pub fn new() -> LogSource {
        LogSource::default()
    }
    pub fn product(mut self, p: &str) -> LogSource {
        self.product = Some(p.to_owned());
        self
    }
    pub fn category(mut self, c: &str) -> LogSource {
        self.category = Some(c.to_owned());
        self
    }
    pub fn service(mut self, s: &str) -> LogSource {
        self.service = Some(s.to_owned());
        self
    }

    /// True when every part `self` names is named the same by `other` (so a filter or a
    /// rule group with this log source covers events of `other`).
    pub fn covers(&self, other: &LogSource) -> bool {
        fn part(a: &Option<String>, b: &Option<String>) -> bool {
            a.as_ref().is_none_or(|a| b.as_ref() == Some(a))
        }
        part(&self.product, &other.product)
            && part(&self.category, &other.category)
            && part(&self.service, &other.service)
    }
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.product.as_deref().unwrap_or("*"),
            self.category.as_deref().unwrap_or("*"),
            self.service.as_deref().unwrap_or("*")
        )
    }
}

/// A rule's metadata, as reported with each match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleInfo {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<Level>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub logsource: LogSource,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
    pub references: Vec<String>,
    /// The source path the rule came from.
    pub path: String,
    pub line: u32,
}

/// The three kinds of Sigma documents.
#[derive(Debug, Clone)]
pub(crate) enum Doc {
    Rule(RuleDoc),
    Filter(FilterDoc),
    Correlation(CorrelationDoc),
}

#[derive(Debug, Clone)]
pub(crate) struct RuleDoc {
    pub info: RuleInfo,
    pub detection: SNode,
}

#[derive(Debug, Clone)]
pub(crate) struct FilterDoc {
    pub title: String,
    pub pos: Pos,
    pub logsource: LogSource,
    /// Rule ids or names; empty (or `any`) means every rule of the log source.
    pub rules: Vec<String>,
    /// The `filter` map without `rules`: search identifiers and `condition`.
    pub detection: SNode,
}

/// Correlation types of specification 2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMedian,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_median" => CorrelationType::ValueMedian,
            _ => return None,
        })
    }
}

impl CorrelationType {
    /// The name used in rules, e.g. `event_count`.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }

    /// True for the types that aggregate `condition.field` (`value_count`, `value_sum`, ...).
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        )
    }

    /// True for `temporal` and `temporal_ordered`.
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

impl fmt::Display for CorrelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed and checked correlation rule. [`crate::CorrelationEngine`] evaluates the ones a
/// [`crate::RuleSet`] compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub level: Option<Level>,
    pub kind: CorrelationType,
    /// Ids or names of the rules (or correlations) correlated. For a temporal correlation
    /// whose condition is an expression and that lists no rules, the names the expression
    /// uses (filled in when the rule set compiles).
    pub rules: Vec<String>,
    /// Fields (or alias names) events are grouped by; empty means one group.
    pub group_by: Vec<String>,
    /// The window in seconds.
    pub timespan_secs: u64,
    /// `(operator, value)` pairs, all of which must hold. Empty for a temporal correlation
    /// without condition (all rules must match) or with an [`Correlation::expression`].
    pub condition: Vec<(String, f64)>,
    /// The aggregated field of `value_*` types.
    pub field: Option<String>,
    /// The percentile (0 to 100) of `value_percentile`.
    pub percentile: Option<f64>,
    /// pySigma's extended condition of temporal types: a boolean expression over rule names
    /// (`a and (b or not c)`).
    pub expression: Option<String>,
    /// `alias → [(rule, field)]`.
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// Whether the referenced rules also report matches on their own (default false).
    pub generate: bool,
    /// The correlation's own `tags` (ATT&CK and others), as written.
    pub tags: Vec<String>,
    pub path: String,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct CorrelationDoc {
    pub correlation: Correlation,
    pub pos: Pos,
    /// Where `correlation.condition` is (or the correlation map when it has none).
    pub condition_pos: Pos,
}

fn string_field(doc: &SNode, key: &str) -> Result<Option<String>, Issue> {
    match doc.get(key) {
        None => Ok(None),
        Some(n) => match &n.node {
            Node::Null => Ok(None),
            Node::Str(s) => Ok(Some(s.clone())),
            _ => n.scalar_text().map(Some).ok_or_else(|| {
                Issue::new(
                    Code::WrongType,
                    n.pos,
                    format!("'{key}' must be a string, not {}", n.kind()),
                )
            }),
        },
    }
}

fn string_list(doc: &SNode, key: &str) -> Result<Vec<String>, Issue> {
    match doc.get(key) {
        None => Ok(Vec::new()),
        Some(n) => match &n.node {
            Node::Null => Ok(Vec::new()),
            Node::Seq(items) => items
                .iter()
                .filter(|i| i.node != Node::Null)
                .map(|i| {
                    i.scalar_text().ok_or_else(|| {
                        Issue::new(
                            Code::WrongType,
                            i.pos,
                            format!("'{key}' must be a list of strings, found {}", i.kind()),
                        )
                    })
                })
                .collect(),
            _ => n.scalar_text().map(|s| vec![s]).ok_or_else(|| {
                Issue::new(
                    Code::WrongType,
                    n.pos,
                    format!("'{key}' must be a list of strings, not {}", n.kind()),
                )
            }),
        },
    }
}

fn logsource(doc: &SNode) -> Result<LogSource, Issue> {
    let Some(ls) = doc.get("logsource") else {
        return Err(Issue::new(
            Code::MissingField,
            doc.pos,
            "missing mandatory field 'logsource'",
        ));
    };
    if !matches!(ls.node, Node::Map(_)) {
        return Err(Issue::new(
            Code::WrongType,
            ls.pos,
            format!("'logsource' must be a map, not {}", ls.kind()),
        ));
    }
    // Log source names are lowercase by the specification; fold so `Windows` still routes.
    let lower = |v: Option<String>| v.map(|s| s.to_ascii_lowercase());
    Ok(LogSource {
        product: lower(string_field(ls, "product")?),
        category: lower(string_field(ls, "category")?),
        service: lower(string_field(ls, "service")?),
    })
}

fn title(doc: &SNode) -> Result<String, Issue> {
    match string_field(doc, "title")? {
        Some(t) if !t.trim().is_empty() => Ok(t),
        _ => Err(Issue::new(
            Code::MissingField,
            doc.pos,
            "missing mandatory field 'title'",
        )),
    }
}

/// Classifies one YAML document and reads its metadata.
pub(crate) fn read_doc(doc: &SNode, path: &str) -> Result<Doc, (Issue, Option<String>)> {
    if !matches!(doc.node, Node::Map(_)) {
        return Err((
            Issue::new(
                Code::NotARule,
                doc.pos,
                format!("a Sigma document must be a map, not {}", doc.kind()),
            ),
            None,
        ));
    }
    let t = title(doc).ok();
    let with_title = |e: Issue| (e, t.clone());
    if doc.get("correlation").is_some() {
        return read_correlation(doc, path)
            .map(Doc::Correlation)
            .map_err(with_title);
    }
    if doc.get("filter").is_some() && doc.get("detection").is_none() {
        return read_filter(doc).map(Doc::Filter).map_err(with_title);
    }
    read_rule(doc, path).map(Doc::Rule).map_err(with_title)
}

fn read_rule(doc: &SNode, path: &str) -> Result<RuleDoc, Issue> {
    let title = title(doc)?;
    let logsource = logsource(doc)?;
    let Some(detection) = doc.get("detection") else {
        return Err(Issue::new(
            Code::MissingField,
            doc.pos,
            "missing mandatory field 'detection'",
        ));
    };
    if !matches!(detection.node, Node::Map(_)) {
        return Err(Issue::new(
            Code::WrongType,
            detection.pos,
            format!("'detection' must be a map, not {}", detection.kind()),
        ));
    }
    let level = match string_field(doc, "level")? {
        None => None,
        Some(l) => Some(Level::parse(&l.to_ascii_lowercase()).ok_or_else(|| {
            Issue::new(
                Code::WrongType,
                doc.get("level").map_or(doc.pos, |n| n.pos),
                format!(
                    "unknown level '{l}' (expected informational, low, medium, high or critical)"
                ),
            )
        })?),
    };
    let info = RuleInfo {
        title,
        id: string_field(doc, "id")?,
        name: string_field(doc, "name")?,
        status: string_field(doc, "status")?,
        level,
        description: string_field(doc, "description")?,
        author: string_field(doc, "author")?,
        logsource,
        tags: string_list(doc, "tags")?,
        falsepositives: string_list(doc, "falsepositives")?,
        fields: string_list(doc, "fields")?,
        references: string_list(doc, "references")?,
        path: path.to_owned(),
        line: doc.pos.line,
    };
    Ok(RuleDoc {
        info,
        detection: detection.clone(),
    })
}

fn read_filter(doc: &SNode) -> Result<FilterDoc, Issue> {
    let title = title(doc)?;
    let logsource = logsource(doc)?;
    let Some(filter) = doc.get("filter") else {
        return Err(Issue::new(
            Code::MissingField,
            doc.pos,
            "missing mandatory field 'filter'",
        ));
    };
    let Node::Map(entries) = &filter.node else {
        return Err(Issue::new(
            Code::BadFilter,
            filter.pos,
            format!("'filter' must be a map, not {}", filter.kind()),
        ));
    };
    let rules = match filter.get("rules") {
        None => {
            return Err(Issue::new(
                Code::BadFilter,
                filter.pos,
                "a filter needs 'rules' (rule ids or names, or 'any')",
            ));
        }
        Some(n) => match &n.node {
            Node::Str(s) if s == "any" => Vec::new(),
            _ => string_list(filter, "rules")?,
        },
    };
    match filter.get("condition") {
        Some(c) if c.as_str().is_some() => {}
        Some(c) => {
            return Err(Issue::new(
                Code::BadFilter,
                c.pos,
                "a filter's 'condition' must be one string",
            ));
        }
        None => {
            return Err(Issue::new(
                Code::MissingCondition,
                filter.pos,
                "the filter has no 'condition'",
            ));
        }
    }
    let detection = SNode {
        node: Node::Map(
            entries
                .iter()
                .filter(|(k, _)| k.as_str() != Some("rules"))
                .cloned()
                .collect(),
        ),
        pos: filter.pos,
    };
    Ok(FilterDoc {
        title,
        pos: doc.pos,
        logsource,
        rules,
        detection,
    })
}

/// Parses `90m`, `1h`, `30s`, `2d`, `1w`, `1M`, `1y` into seconds.
pub fn parse_timespan(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mul = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        'M' => 2_629_746,
        'y' => 31_556_952,
        _ => return None,
    };
    n.checked_mul(mul).filter(|&v| v > 0)
}

fn read_correlation(doc: &SNode, path: &str) -> Result<CorrelationDoc, Issue> {
    let title = title(doc)?;
    let Some(c) = doc.get("correlation") else {
        return Err(Issue::new(
            Code::BadCorrelation,
            doc.pos,
            "missing 'correlation'",
        ));
    };
    if !matches!(c.node, Node::Map(_)) {
        return Err(Issue::new(
            Code::BadCorrelation,
            c.pos,
            format!("'correlation' must be a map, not {}", c.kind()),
        ));
    }
    let bad = |pos: Pos, m: String| Issue::new(Code::BadCorrelation, pos, m);
    let type_text =
        string_field(c, "type")?.ok_or_else(|| bad(c.pos, "a correlation needs 'type'".into()))?;
    let kind = CorrelationType::parse(&type_text).ok_or_else(|| {
        bad(
            c.get("type").map_or(c.pos, |n| n.pos),
            format!("unknown correlation type '{type_text}' (expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg or value_percentile)"),
        )
    })?;
    let rules = string_list(c, "rules")?;
    let expression_given = kind.is_temporal()
        && c.get("condition")
            .is_some_and(|n| matches!(n.node, Node::Str(_)));
    if rules.is_empty() && !expression_given {
        return Err(bad(
            c.pos,
            "a correlation needs 'rules' (ids or names of the rules it correlates)".into(),
        ));
    }
    let ts_text = string_field(c, "timespan")?
        .ok_or_else(|| bad(c.pos, "a correlation needs 'timespan'".into()))?;
    let timespan_secs = parse_timespan(&ts_text).ok_or_else(|| {
        bad(
            c.get("timespan").map_or(c.pos, |n| n.pos),
            format!("invalid timespan '{ts_text}' (expected a number and s, m, h, d, w, M or y)"),
        )
    })?;
    let group_by = string_list(c, "group-by")?;
    let mut condition = Vec::new();
    let mut field = None;
    let mut percentile = None;
    let mut expression = None;
    let condition_pos = c.get("condition").map_or(c.pos, |n| n.pos);
    let number = |key: &str, v: &SNode| -> Result<f64, Issue> {
        let n = match &v.node {
            Node::Int(i) => *i as f64,
            Node::UInt(u) => *u as f64,
            Node::Float(f) => *f,
            Node::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| bad(v.pos, format!("'{key}' needs a number")))?,
            _ => return Err(bad(v.pos, format!("'{key}' needs a number"))),
        };
        if n.is_finite() {
            Ok(n)
        } else {
            Err(bad(v.pos, format!("'{key}' needs a finite number")))
        }
    };
    match c.get("condition") {
        None => {
            if !kind.is_temporal() {
                return Err(bad(
                    c.pos,
                    format!("a {type_text} correlation needs 'condition'"),
                ));
            }
        }
        Some(cond) => match &cond.node {
            Node::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_str().unwrap_or("");
                    match key {
                        "gt" | "gte" | "lt" | "lte" | "eq" | "neq" => {
                            condition.push((key.to_owned(), number(key, v)?));
                        }
                        "field" => field = v.scalar_text(),
                        "percentile" => {
                            let p = number(key, v)?;
                            if !(0.0..=100.0).contains(&p) {
                                return Err(bad(
                                    v.pos,
                                    format!("'percentile' must be from 0 to 100, not {p}"),
                                ));
                            }
                            percentile = Some(p);
                        }
                        other => {
                            return Err(bad(
                                k.pos,
                                format!("unknown correlation condition operator '{other}'"),
                            ));
                        }
                    }
                }
                if condition.is_empty() && !kind.is_temporal() {
                    return Err(bad(
                        cond.pos,
                        "'condition' needs an operator (gt, gte, lt, lte, eq or neq)".into(),
                    ));
                }
            }
            // pySigma accepts a boolean expression over rule names for temporal types.
            Node::Str(s) if kind.is_temporal() => expression = Some(s.clone()),
            _ => {
                return Err(bad(
                    cond.pos,
                    "'condition' must be a map like {gte: 10}".into(),
                ));
            }
        },
    }
    if kind.needs_field() && field.is_none() {
        return Err(bad(
            c.pos,
            format!("a {type_text} correlation needs 'condition.field'"),
        ));
    }
    if kind == CorrelationType::ValuePercentile && percentile.is_none() {
        return Err(bad(
            condition_pos,
            "a value_percentile correlation needs 'condition.percentile' (0 to 100)".into(),
        ));
    }
    let mut aliases = Vec::new();
    if let Some(a) = c.get("aliases") {
        let Node::Map(entries) = &a.node else {
            return Err(bad(a.pos, "'aliases' must be a map".into()));
        };
        for (k, v) in entries {
            let Node::Map(per_rule) = &v.node else {
                return Err(bad(
                    v.pos,
                    "each alias must map rule names to field names".into(),
                ));
            };
            let mut pairs = Vec::new();
            for (r, f) in per_rule {
                match (r.scalar_text(), f.scalar_text()) {
                    (Some(r), Some(f)) => pairs.push((r, f)),
                    _ => {
                        return Err(bad(
                            r.pos,
                            "each alias must map rule names to field names".into(),
                        ));
                    }
                }
            }
            aliases.push((k.scalar_text().unwrap_or_default(), pairs));
        }
    }
    let generate = match c.get("generate").or_else(|| doc.get("generate")) {
        None => false,
        Some(n) => match n.node {
            Node::Bool(b) => b,
            _ => return Err(bad(n.pos, "'generate' must be true or false".into())),
        },
    };
    let level = string_field(doc, "level")?.and_then(|l| Level::parse(&l.to_ascii_lowercase()));
    Ok(CorrelationDoc {
        correlation: Correlation {
            title,
            id: string_field(doc, "id")?,
            name: string_field(doc, "name")?,
            level,
            kind,
            rules,
            group_by,
            timespan_secs,
            condition,
            field,
            percentile,
            expression,
            aliases,
            generate,
            tags: string_list(doc, "tags")?,
            path: path.to_owned(),
            line: doc.pos.line,
        },
        pos: doc.pos,
        condition_pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn doc(y: &str) -> Result<Doc, (Issue, Option<String>)> {
        let d = parse_documents(y).expect("yaml");
        read_doc(&d[0], "t.yml")
    }

    #[test]
    fn rule_metadata() {
        let Ok(Doc::Rule(r)) = doc(
            "title: T\nid: abc\nstatus: test\nlevel: high\nlogsource: {product: Windows, category: process_creation}\ntags: [attack.t1059]\nfalsepositives: [x]\nfields: [a]\nreferences: [u]\ndetection: {sel: {a: b}, condition: sel}\ncustom: 1\n",
        ) else {
            panic!("rule expected")
        };
        assert_eq!(r.info.level, Some(Level::High));
        assert_eq!(
            r.info.logsource,
            LogSource::new()
                .product("windows")
                .category("process_creation")
        );
        assert_eq!(r.info.tags, vec!["attack.t1059"]);
        assert_eq!(r.info.id.as_deref(), Some("abc"));
    }

    #[test]
    fn missing_fields_are_named() {
        let (e, t) = doc("title: T\ndetection: {condition: x}\n").expect_err("no logsource");
        assert_eq!(e.code, Code::MissingField);
        assert_eq!(t.as_deref(), Some("T"));
        let (e, _) = doc("logsource: {}\ndetection: {condition: x}\n").expect_err("no title");
        assert!(e.message.contains("'title'"));
        let (e, _) = doc("title: T\nlogsource: {}\n").expect_err("no detection");
        assert!(e.message.contains("'detection'"));
        let (e, _) = doc("- a\n").expect_err("list");
        assert_eq!(e.code, Code::NotARule);
        let (e, _) = doc("title: T\nlogsource: {}\nlevel: severe\ndetection: {condition: x}\n")
            .expect_err("level");
        assert_eq!(e.code, Code::WrongType);
    }

    #[test]
    fn filters() {
        let Ok(Doc::Filter(f)) = doc(
            "title: F\nlogsource: {product: windows}\nfilter:\n  rules: [r1, r2]\n  sel: {User: admin}\n  condition: not sel\n",
        ) else {
            panic!("filter expected")
        };
        assert_eq!(f.rules, vec!["r1", "r2"]);
        assert!(f.detection.get("rules").is_none());
        assert!(f.detection.get("condition").is_some());
        let (e, _) = doc("title: F\nlogsource: {}\nfilter: {sel: {a: b}, condition: sel}\n")
            .expect_err("no rules");
        assert_eq!(e.code, Code::BadFilter);
    }

    #[test]
    fn correlations() {
        let Ok(Doc::Correlation(c)) = doc(
            "title: C\nname: many_fails\ncorrelation:\n  type: value_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 15m\n  condition: {gte: 10, field: TargetHost}\n  aliases:\n    host: {failed_logon: Computer}\ntags: [attack.credential-access, attack.t1110]\n",
        ) else {
            panic!("correlation expected")
        };
        let c = c.correlation;
        assert_eq!(c.kind, CorrelationType::ValueCount);
        assert_eq!(c.timespan_secs, 900);
        assert_eq!(c.condition, vec![("gte".to_owned(), 10.0)]);
        assert_eq!(c.field.as_deref(), Some("TargetHost"));
        assert_eq!(c.aliases.len(), 1);
        assert_eq!(c.tags, vec!["attack.credential-access", "attack.t1110"]);
        for (y, msg) in [
            (
                "title: C\ncorrelation: {type: nope, rules: [a], timespan: 1m, condition: {gt: 1}}\n",
                "unknown correlation type",
            ),
            (
                "title: C\ncorrelation: {type: event_count, rules: [a], timespan: 1x, condition: {gt: 1}}\n",
                "invalid timespan",
            ),
            (
                "title: C\ncorrelation: {type: event_count, timespan: 1m, condition: {gt: 1}}\n",
                "needs 'rules'",
            ),
            (
                "title: C\ncorrelation: {type: value_sum, rules: [a], timespan: 1m, condition: {gt: 1}}\n",
                "condition.field",
            ),
            (
                "title: C\ncorrelation: {type: event_count, rules: [a], timespan: 1m}\n",
                "needs 'condition'",
            ),
        ] {
            let (e, _) = doc(y).expect_err("invalid");
            assert_eq!(e.code, Code::BadCorrelation, "{y}");
            assert!(e.message.contains(msg), "{} / {msg}", e.message);
        }
        assert!(matches!(
            doc("title: C\ncorrelation: {type: temporal, rules: [a, b], timespan: 1h}\n"),
            Ok(Doc::Correlation(_))
        ));
    }

    #[test]
    fn correlation_conditions() {
        let Ok(Doc::Correlation(c)) = doc(
            "title: P\ncorrelation: {type: value_percentile, rules: [a], timespan: 1h, condition: {field: B, percentile: 95, gte: '1e3', lt: 5000}}\n",
        ) else {
            panic!("correlation expected")
        };
        let c = c.correlation;
        assert_eq!(c.percentile, Some(95.0));
        assert_eq!(
            c.condition,
            vec![("gte".to_owned(), 1000.0), ("lt".to_owned(), 5000.0)]
        );
        // An expression condition of a temporal type may stand in for the rule list.
        let Ok(Doc::Correlation(c)) =
            doc("title: X\ncorrelation: {type: temporal, timespan: 1h, condition: 'a and b'}\n")
        else {
            panic!("correlation expected")
        };
        assert_eq!(c.correlation.expression.as_deref(), Some("a and b"));
        assert!(c.correlation.rules.is_empty());
        for (y, msg) in [
            (
                "title: C\ncorrelation: {type: value_percentile, rules: [a], timespan: 1m, condition: {field: f, gt: 1}}\n",
                "condition.percentile",
            ),
            (
                "title: C\ncorrelation: {type: value_percentile, rules: [a], timespan: 1m, condition: {field: f, percentile: 101, gt: 1}}\n",
                "from 0 to 100",
            ),
            (
                "title: C\ncorrelation: {type: value_count, rules: [a], timespan: 1m, condition: {field: f}}\n",
                "needs an operator",
            ),
            (
                "title: C\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gt: 'inf'}}\n",
                "finite",
            ),
            (
                "title: C\ncorrelation: {type: event_count, rules: [a, b], timespan: 1m, condition: 'a or b'}\n",
                "must be a map",
            ),
            (
                "title: C\ncorrelation: {type: event_count, rules: [a], timespan: 1m, condition: {gt: 1}, aliases: {x: {a: [1]}}}\n",
                "rule names to field names",
            ),
        ] {
            let (e, _) = doc(y).expect_err("invalid");
            assert_eq!(e.code, Code::BadCorrelation, "{y}");
            assert!(e.message.contains(msg), "{} / {msg}", e.message);
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("30s"), Some(30));
        assert_eq!(parse_timespan("90m"), Some(5400));
        assert_eq!(parse_timespan("2d"), Some(172_800));
        assert_eq!(parse_timespan("1M"), Some(2_629_746));
        assert_eq!(parse_timespan("m"), None);
        assert_eq!(parse_timespan("0s"), None);
    }
}
