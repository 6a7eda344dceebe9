//! The domain logic of incident disposal (应急处置), issue 6: pure functions over vigil-model
//! values, no IO, no clock of its own (every "now" is a parameter).
//!
//! - [`workflow`]: the notice-to-archive state machine, new → triaged → notified →
//!   acknowledged → remediating → feedback submitted → verified (or sent back) → closed →
//!   archived, with the party that performs each step; [`transition`] refuses anything else
//!   with an error naming the illegal transition. [`Stage`] maps onto vigil-model's
//!   `IncidentStatus`.
//! - [`deadline`]: reporting (CII 1 h, central/state organs 2 h, others 4 h, for 较大+),
//!   escalation (30 min / 1 h, for 重大+), acknowledgement and remediation deadlines from
//!   versioned data, computed in Asia/Shanghai civil time; [`overdue`].
//! - [`grading`]: 特别重大/重大/较大/一般 from impact figures and the affected objects (CII,
//!   MLPS level, asset importance) against versioned threshold data, with reasons.
//! - [`classify`](mod@classify): a GB/T 20986-2023 sub-category from rule tags, ATT&CK
//!   techniques and indicator types, by a data table checked against the model's taxonomy.
//! - [`aggregate`]: the key that groups alerts into incident candidates (organization, asset,
//!   rule family, time window).
//!
//! Numbers that come from regulations or policy live in `data/` (TOML/CSV embedded with
//! `include_str!`, each with a version string), never in code.

pub mod aggregate;
pub mod classify;
pub mod deadline;
pub mod escalation;
pub mod grading;
pub mod workflow;

pub use aggregate::{GroupKey, Window, group_key, rule_family};
pub use classify::{Classification, ClassificationTable, classify};
pub use deadline::{
    Deadline, DeadlineKind, DeadlinePolicy, DeadlineStatus, IncidentClock, OperatorType, Overdue,
    overdue,
};
pub use grading::{AffectedAsset, AffectedOrg, Factor, GradeReason, Impact, Thresholds, grade};
pub use workflow::{Party, STEPS, Stage, Step, TransitionError, transition};

/// An organization for tests.
#[cfg(test)]
pub(crate) fn test_org(cii: bool, mlps_level: u8) -> vigil_model::NewOrganization {
    vigil_model::NewOrganization {
        name: "Test Org".into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level,
        cii,
        miit_type: None,
        miit_grade: None,
        responsible: vigil_model::Contact {
            name: "Li Wei".into(),
            ..Default::default()
        },
        contacts: vec![],
    }
}
