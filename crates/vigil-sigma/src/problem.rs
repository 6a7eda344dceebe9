//! Compile problems: every rule that cannot be compiled, and every rule part that cannot be
//! evaluated yet, is reported with file, line, column, a stable code and a plain message.
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `SIGMA-E001` | error | the file is not valid YAML (or breaks the size/nesting/alias budget) |
//! | `SIGMA-E002` | error | a document is not a map, or not a rule, filter or correlation |
//! | `SIGMA-E003` | error | a mandatory field is missing (`title`, `logsource`, `detection`, ...) |
//! | `SIGMA-E004` | error | a field has the wrong type (e.g. `tags` not a list of strings) |
//! | `SIGMA-E005` | error | `detection` has no `condition` |
//! | `SIGMA-E006` | error | the condition has a syntax error |
//! | `SIGMA-E007` | error | the condition names a search identifier that does not exist |
//! | `SIGMA-E008` | error | an `x of pattern` selector matches no search identifier |
//! | `SIGMA-E009` | error | a search identifier has a value of the wrong shape |
//! | `SIGMA-E010` | error | unknown value modifier |
//! | `SIGMA-E011` | error | modifiers that cannot be combined, or a value a modifier cannot take |
//! | `SIGMA-E012` | error | invalid or too large regular expression |
//! | `SIGMA-E013` | error | invalid CIDR network |
//! | `SIGMA-E014` | error | a numeric modifier (`gt`, `lte`, `hour`, ...) with a non-numeric value |
//! | `SIGMA-E015` | error | `expand` placeholder with no value configured |
//! | `SIGMA-E016` | error | legacy aggregation (`| count() ...`, `| near`) in a condition |
//! | `SIGMA-E017` | error | invalid correlation rule |
//! | `SIGMA-E018` | error | invalid filter |
//! | `SIGMA-E019` | error | a filter or correlation refers to a rule that was not loaded |
//! | `SIGMA-E020` | error | a value expands to too many alternatives (windash, base64offset, expand) |
//! | `SIGMA-E021` | error | a correlation uses a feature Vigil does not evaluate (`temporal_ordered` with an expression condition) |
//! | `SIGMA-W001` | retired | was "correlation rules are not evaluated"; they are now, and the code is not reused |
//! | `SIGMA-W002` | warning | `all` on a single value (the specification forbids it; it is ignored) |
//! | `SIGMA-W003` | warning | duplicate rule id: the later rule is skipped |
//!
//! Errors skip the rule (or filter or correlation); warnings do not.

use std::fmt;

use crate::yaml::Pos;

/// Stable problem codes; the table is in the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    Yaml,
    NotARule,
    MissingField,
    WrongType,
    MissingCondition,
    ConditionSyntax,
    UnknownIdentifier,
    PatternMatchesNothing,
    BadSearchIdentifier,
    UnknownModifier,
    BadModifierCombination,
    BadRegex,
    BadCidr,
    BadNumber,
    UnresolvedPlaceholder,
    LegacyAggregation,
    BadCorrelation,
    BadFilter,
    UnknownRuleReference,
    TooManyAlternatives,
    UnsupportedCorrelation,
    SingleValueAll,
    DuplicateId,
}

impl Code {
    /// The stable code, e.g. `SIGMA-E010`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Yaml => "SIGMA-E001",
            Code::NotARule => "SIGMA-E002",
            Code::MissingField => "SIGMA-E003",
            Code::WrongType => "SIGMA-E004",
            Code::MissingCondition => "SIGMA-E005",
            Code::ConditionSyntax => "SIGMA-E006",
            Code::UnknownIdentifier => "SIGMA-E007",
            Code::PatternMatchesNothing => "SIGMA-E008",
            Code::BadSearchIdentifier => "SIGMA-E009",
            Code::UnknownModifier => "SIGMA-E010",
            Code::BadModifierCombination => "SIGMA-E011",
            Code::BadRegex => "SIGMA-E012",
            Code::BadCidr => "SIGMA-E013",
            Code::BadNumber => "SIGMA-E014",
            Code::UnresolvedPlaceholder => "SIGMA-E015",
            Code::LegacyAggregation => "SIGMA-E016",
            Code::BadCorrelation => "SIGMA-E017",
            Code::BadFilter => "SIGMA-E018",
            Code::UnknownRuleReference => "SIGMA-E019",
            Code::TooManyAlternatives => "SIGMA-E020",
            Code::UnsupportedCorrelation => "SIGMA-E021",
            Code::SingleValueAll => "SIGMA-W002",
            Code::DuplicateId => "SIGMA-W003",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::SingleValueAll | Code::DuplicateId => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found while compiling.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub code: Code,
    /// The source path as the caller passed it.
    pub path: String,
    /// 1-based; 0 when unknown.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub column: u32,
    /// The rule's title (or id) when it was read before the problem.
    pub rule: Option<String>,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(code: Code, path: &str, pos: Pos, message: impl Into<String>) -> Self {
        Problem {
            code,
            path: path.to_owned(),
            line: pos.line,
            column: pos.column,
            rule: None,
            message: message.into(),
        }
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

impl fmt::Display for Problem {
    /// `path:line:column: SIGMA-E010 error: message (rule: title)`, the format of the golden
    /// files and of `vigil rules check`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {} {sev}: {}",
            self.path, self.line, self.column, self.code, self.message
        )?;
        if let Some(rule) = &self.rule {
            write!(f, " (rule: {rule})")?;
        }
        Ok(())
    }
}

/// A problem without a path yet, raised deep in the compiler.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub code: Code,
    pub pos: Pos,
    pub message: String,
}

impl Issue {
    pub fn new(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Issue {
            code,
            pos,
            message: message.into(),
        }
    }
}
