//! Vigil's Sigma engine: compiles Sigma rules and evaluates them on events. No IO: rule text
//! goes in, a [`RuleSet`] and a list of [`Problem`]s come out; events go in, [`Match`]es
//! come out.
//!
//! Data flow:
//!
//! ```text
//! (path, YAML text) ──yaml──► node tree with line/column ──rule──► rule | filter | correlation
//!     ──compile──► detection: condition tree over atoms (value + modifiers → typed tests)
//!     ──engine──► RuleSet: rules grouped by log source; literal needles of all rules of a
//!                 group and field in one Aho-Corasick automaton; trigger needles per rule
//! (event, LogSource) ──RuleSet::matches──► route to groups ─► scan fields once ─► evaluate
//!                 only rules whose trigger needle was seen ─► Match { rule, fields }
//! (event, time, matches) ──CorrelationEngine::observe──► per correlation and group-by
//!                 value: sliding window ─► condition ─► CorrelationMatch (chained onward)
//! ```
//!
//! Main types: [`RuleSet`] (compile, match), [`CompileOptions`] with a [`FieldMapping`]
//! (where Sigma fields live in events: `evtx`, `ecs`, `native`, or your own YAML) and
//! [`LogSourceTable`]s (how Windows events are classified by channel and event id),
//! [`Event`] (implemented for `serde_json::Value`/`Map`, `BTreeMap<String, Value>` and
//! `vigil_model::NewEvent`), [`LogSource`], [`Match`], [`Problem`] with stable [`Code`]s
//! (table in [`problem`]), [`Scratch`] for allocation-free evaluation loops,
//! [`CorrelationEngine`] (with [`CorrelationLimits`]) turning matches into
//! [`CorrelationMatch`]es.
//!
//! ```
//! use vigil_sigma::{LogSource, RuleSet};
//!
//! let rule = r#"
//! title: Whoami
//! id: 0b3a3b4c-0000-4000-8000-000000000001
//! level: medium
//! logsource: {product: windows, category: process_creation}
//! detection:
//!   sel:
//!     Image|endswith: '\whoami.exe'
//!   condition: sel
//! "#;
//! let (rules, problems) = RuleSet::compile(&[("whoami.yml", rule)]);
//! assert!(problems.is_empty());
//! let event = serde_json::json!({"Image": "C:\\Windows\\System32\\WHOAMI.EXE"});
//! let ls = LogSource::new().product("windows").category("process_creation");
//! let hits: Vec<_> = rules.matches(&event, &ls).collect();
//! assert_eq!(hits[0].title(), "Whoami");
//! assert_eq!(hits[0].fields, vec!["Image"]);
//! ```
//!
//! Correlation rules are checked when the set compiles (references, aliases, chains, cycles)
//! and evaluated by a stateful [`CorrelationEngine`] fed with each event's time and matches;
//! see [`correlation`] for the window semantics. Rules referenced by correlations without
//! `generate: true` still come out of [`RuleSet::matches_into`] (the engine needs them) but
//! with [`Match::standalone`] false: report them through the correlation.
//! Sigma filters are applied as pySigma does: `(rule) and (filter)`.

pub mod compile;
pub mod condition;
pub mod correlation;
mod engine;
pub mod event;
mod index;
pub mod mapping;
pub mod problem;
pub mod rule;
pub mod value;
mod yaml;
mod yaml_fast;

pub use correlation::{
    CorrelationEngine, CorrelationLimits, CorrelationMatch, CorrelationStats, RuleRef,
};
pub use engine::{CompileOptions, Match, RuleSet, Scratch, Stats};
pub use event::{Event, FieldPath, Value};
pub use mapping::{FieldMapping, LogSourceTable, MappingError};
pub use problem::{Code, Problem, Severity};
pub use rule::{Correlation, CorrelationType, Level, LogSource, RuleInfo};
#[doc(hidden)]
pub use yaml_fast::{
    equivalence as yaml_fast_equivalence, fallback_line as yaml_fast_fallback_line,
};
