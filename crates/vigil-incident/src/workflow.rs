//! The disposal workflow (处置流程): from a new incident to its archive, with the party that
//! performs each step.
//!
//! | from | to | step | performed by |
//! |---|---|---|---|
//! | new | triaged | triage (研判) | platform |
//! | new | closed | dismiss (误报/无需处置) | platform |
//! | triaged | notified | notify (通报) | platform |
//! | triaged | closed | dismiss | platform |
//! | notified | acknowledged | acknowledge (签收) | organization |
//! | acknowledged | remediating | start remediation (处置) | organization |
//! | remediating | feedback_submitted | submit feedback (反馈) | organization |
//! | feedback_submitted | verified | verify (核查) | platform |
//! | feedback_submitted | remediating | send back (退回) | platform |
//! | verified | closed | close (关闭) | platform |
//! | closed | triaged | reopen (重新打开) | platform |
//! | closed | archived | archive (归档) | platform |
//!
//! "Platform" is a platform administrator or analyst; "organization" is a user of the
//! responsible organization (whether that user belongs to the incident's organization is the
//! caller's scope check). Auditors change nothing. Every other pair is refused with a
//! [`TransitionError`] naming the steps that are allowed.
//!
//! Each [`Stage`] is stored as one vigil-model [`IncidentStatus`] ([`Stage::status`],
//! [`Stage::from_status`]); the stage `new` is the stored status `open`.

use serde::{Deserialize, Serialize};
use vigil_model::{IncidentStatus, Role};

/// A workflow state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    New,
    Triaged,
    Notified,
    Acknowledged,
    Remediating,
    FeedbackSubmitted,
    Verified,
    Closed,
    Archived,
}

impl Stage {
    pub const ALL: [Self; 9] = [
        Self::New,
        Self::Triaged,
        Self::Notified,
        Self::Acknowledged,
        Self::Remediating,
        Self::FeedbackSubmitted,
        Self::Verified,
        Self::Closed,
        Self::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Triaged => "triaged",
            Self::Notified => "notified",
            Self::Acknowledged => "acknowledged",
            Self::Remediating => "remediating",
            Self::FeedbackSubmitted => "feedback_submitted",
            Self::Verified => "verified",
            Self::Closed => "closed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match (self, zh) {
            (Self::New, true) => "新建",
            (Self::Triaged, true) => "已研判",
            (Self::Notified, true) => "已通报",
            (Self::Acknowledged, true) => "已签收",
            (Self::Remediating, true) => "处置中",
            (Self::FeedbackSubmitted, true) => "已反馈",
            (Self::Verified, true) => "已核查",
            (Self::Closed, true) => "已关闭",
            (Self::Archived, true) => "已归档",
            (Self::New, false) => "New",
            (Self::Triaged, false) => "Triaged",
            (Self::Notified, false) => "Notified",
            (Self::Acknowledged, false) => "Acknowledged",
            (Self::Remediating, false) => "Remediating",
            (Self::FeedbackSubmitted, false) => "Feedback submitted",
            (Self::Verified, false) => "Verified",
            (Self::Closed, false) => "Closed",
            (Self::Archived, false) => "Archived",
        }
    }

    /// The stored vigil-model status of this stage.
    pub fn status(self) -> IncidentStatus {
        match self {
            Self::New => IncidentStatus::Open,
            Self::Triaged => IncidentStatus::Triaged,
            Self::Notified => IncidentStatus::Notified,
            Self::Acknowledged => IncidentStatus::Acknowledged,
            Self::Remediating => IncidentStatus::Remediating,
            Self::FeedbackSubmitted => IncidentStatus::Remediated,
            Self::Verified => IncidentStatus::Verified,
            Self::Closed => IncidentStatus::Closed,
            Self::Archived => IncidentStatus::Archived,
        }
    }

    /// The stage of a stored status.
    pub fn from_status(status: IncidentStatus) -> Self {
        match status {
            IncidentStatus::Open => Self::New,
            IncidentStatus::Triaged => Self::Triaged,
            IncidentStatus::Notified => Self::Notified,
            IncidentStatus::Acknowledged => Self::Acknowledged,
            IncidentStatus::Remediating => Self::Remediating,
            IncidentStatus::Remediated => Self::FeedbackSubmitted,
            IncidentStatus::Verified => Self::Verified,
            IncidentStatus::Closed => Self::Closed,
            IncidentStatus::Archived => Self::Archived,
        }
    }

    /// Whether the responsible organization is expected to act (what its portal highlights).
    pub fn awaits_organization(self) -> bool {
        matches!(
            self,
            Self::Notified | Self::Acknowledged | Self::Remediating
        )
    }

    pub fn is_terminal(self) -> bool {
        self == Self::Archived
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// A platform administrator or analyst (the CERT).
    Platform,
    /// A user of the responsible organization.
    Organization,
}

impl Party {
    /// The party a role acts as; auditors act as neither.
    pub fn of(role: Role) -> Option<Self> {
        match role {
            Role::PlatformAdmin | Role::Analyst => Some(Self::Platform),
            Role::OrgUser => Some(Self::Organization),
            Role::Auditor => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "the platform (analyst or administrator)",
            Self::Organization => "the responsible organization",
        }
    }
}

/// One legal step of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    pub from: Stage,
    pub to: Stage,
    /// Verb of the step: `triage`, `notify`, `acknowledge`... The audit action is
    /// `incident.<action>`; the timeline action is `status:<to>`.
    pub action: &'static str,
    pub by: Party,
}

impl Step {
    /// The audit-log action of this step (`incident.acknowledge`).
    pub fn audit_action(&self) -> String {
        format!("incident.{}", self.action)
    }
}

/// The workflow table: every legal step.
pub const STEPS: &[Step] = &[
    step(Stage::New, Stage::Triaged, "triage", Party::Platform),
    step(Stage::New, Stage::Closed, "dismiss", Party::Platform),
    step(Stage::Triaged, Stage::Notified, "notify", Party::Platform),
    step(Stage::Triaged, Stage::Closed, "dismiss", Party::Platform),
    step(
        Stage::Notified,
        Stage::Acknowledged,
        "acknowledge",
        Party::Organization,
    ),
    step(
        Stage::Acknowledged,
        Stage::Remediating,
        "start_remediation",
        Party::Organization,
    ),
    step(
        Stage::Remediating,
        Stage::FeedbackSubmitted,
        "submit_feedback",
        Party::Organization,
    ),
    step(
        Stage::FeedbackSubmitted,
        Stage::Verified,
        "verify",
        Party::Platform,
    ),
    step(
        Stage::FeedbackSubmitted,
        Stage::Remediating,
        "send_back",
        Party::Platform,
    ),
    step(Stage::Verified, Stage::Closed, "close", Party::Platform),
    step(Stage::Closed, Stage::Triaged, "reopen", Party::Platform),
    step(Stage::Closed, Stage::Archived, "archive", Party::Platform),
];

const fn step(from: Stage, to: Stage, action: &'static str, by: Party) -> Step {
    Step {
        from,
        to,
        action,
        by,
    }
}

/// The legal steps out of `from`.
pub fn next_steps(from: Stage) -> impl Iterator<Item = &'static Step> {
    STEPS.iter().filter(move |s| s.from == from)
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("illegal transition from '{from}' to '{to}': {}", allowed_text(*from))]
    Illegal { from: Stage, to: Stage },
    #[error(
        "role '{}' may not {action} ('{from}' to '{to}'): this step is performed by {}",
        role.as_str(),
        required.as_str()
    )]
    WrongParty {
        from: Stage,
        to: Stage,
        action: &'static str,
        role: Role,
        required: Party,
    },
}

fn allowed_text(from: Stage) -> String {
    let next: Vec<String> = next_steps(from)
        .map(|s| format!("'{}' ({} by {})", s.to, s.action, s.by.as_str()))
        .collect();
    if next.is_empty() {
        format!("'{from}' is final")
    } else {
        format!("from '{from}' the next step can be {}", next.join(" or "))
    }
}

/// Checks a requested transition: returns the step to record (and audit) or why not.
pub fn transition(current: Stage, requested: Stage, role: Role) -> Result<Step, TransitionError> {
    let Some(step) = STEPS
        .iter()
        .find(|s| s.from == current && s.to == requested)
    else {
        return Err(TransitionError::Illegal {
            from: current,
            to: requested,
        });
    };
    if Party::of(role) != Some(step.by) {
        return Err(TransitionError::WrongParty {
            from: current,
            to: requested,
            action: step.action,
            role,
            required: step.by,
        });
    }
    Ok(*step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    /// The expected table, written independently of [`STEPS`]: (from, to, platform?, org?).
    const EXPECTED: &[(Stage, Stage, bool, bool)] = &[
        (New, Triaged, true, false),
        (New, Closed, true, false),
        (Triaged, Notified, true, false),
        (Triaged, Closed, true, false),
        (Notified, Acknowledged, false, true),
        (Acknowledged, Remediating, false, true),
        (Remediating, FeedbackSubmitted, false, true),
        (FeedbackSubmitted, Verified, true, false),
        (FeedbackSubmitted, Remediating, true, false),
        (Verified, Closed, true, false),
        (Closed, Triaged, true, false),
        (Closed, Archived, true, false),
    ];

    #[test]
    fn every_pair_of_stages_and_every_role_is_decided_as_the_table_says() {
        let mut legal = 0;
        let mut refused = 0;
        for from in Stage::ALL {
            for to in Stage::ALL {
                let expected = EXPECTED.iter().find(|e| e.0 == from && e.1 == to);
                for role in Role::ALL {
                    let got = transition(from, to, role);
                    let allowed = match (expected, Party::of(role)) {
                        (Some(e), Some(Party::Platform)) => e.2,
                        (Some(e), Some(Party::Organization)) => e.3,
                        _ => false,
                    };
                    match (&got, allowed) {
                        (Ok(step), true) => {
                            assert_eq!((step.from, step.to), (from, to));
                            legal += 1;
                        }
                        (Err(TransitionError::Illegal { .. }), false) => {
                            assert!(expected.is_none(), "{from}->{to} {role:?}");
                            refused += 1;
                        }
                        (Err(TransitionError::WrongParty { required, .. }), false) => {
                            assert!(expected.is_some(), "{from}->{to} {role:?}");
                            assert_ne!(Party::of(role), Some(*required));
                            refused += 1;
                        }
                        _ => panic!("{from} -> {to} as {role:?}: got {got:?}, allowed {allowed}"),
                    }
                }
            }
        }
        // 9 platform-side steps x 2 platform roles + 3 organization steps x 1 role.
        assert_eq!(legal, 9 * 2 + 3);
        assert_eq!(legal + refused, 9 * 9 * 4);
        assert_eq!(STEPS.len(), EXPECTED.len());
    }

    #[test]
    fn the_happy_path_and_the_send_back_loop_run_with_the_right_roles() {
        let path = [
            (New, Triaged, Role::Analyst, "triage"),
            (Triaged, Notified, Role::Analyst, "notify"),
            (Notified, Acknowledged, Role::OrgUser, "acknowledge"),
            (
                Acknowledged,
                Remediating,
                Role::OrgUser,
                "start_remediation",
            ),
            (
                Remediating,
                FeedbackSubmitted,
                Role::OrgUser,
                "submit_feedback",
            ),
            (FeedbackSubmitted, Remediating, Role::Analyst, "send_back"),
            (
                Remediating,
                FeedbackSubmitted,
                Role::OrgUser,
                "submit_feedback",
            ),
            (FeedbackSubmitted, Verified, Role::PlatformAdmin, "verify"),
            (Verified, Closed, Role::Analyst, "close"),
            (Closed, Archived, Role::PlatformAdmin, "archive"),
        ];
        for (from, to, role, action) in path {
            let s = transition(from, to, role).expect("legal step");
            assert_eq!(s.action, action);
            assert_eq!(s.audit_action(), format!("incident.{action}"));
        }
    }

    #[test]
    fn errors_name_the_illegal_transition_and_what_is_allowed() {
        let e = transition(Notified, Verified, Role::Analyst).expect_err("illegal");
        assert_eq!(
            e.to_string(),
            "illegal transition from 'notified' to 'verified': from 'notified' the next step \
             can be 'acknowledged' (acknowledge by the responsible organization)"
        );
        let e = transition(Notified, Acknowledged, Role::Analyst).expect_err("wrong party");
        assert_eq!(
            e.to_string(),
            "role 'analyst' may not acknowledge ('notified' to 'acknowledged'): this step is \
             performed by the responsible organization"
        );
        let e = transition(FeedbackSubmitted, Verified, Role::OrgUser).expect_err("self-verify");
        assert!(e.to_string().contains("performed by the platform"), "{e}");
        let e = transition(Archived, Closed, Role::PlatformAdmin).expect_err("final");
        assert!(e.to_string().contains("'archived' is final"), "{e}");
        let e = transition(New, New, Role::Analyst).expect_err("no-op");
        assert!(matches!(e, TransitionError::Illegal { .. }));
        assert!(transition(New, Triaged, Role::Auditor).is_err());
    }

    #[test]
    fn stages_map_onto_the_model_statuses_and_back() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_status(s.status()), s);
            assert_eq!(Stage::parse(s.as_str()), Some(s));
            assert!(!s.name("zh").is_empty() && !s.name("en").is_empty());
        }
        assert_eq!(New.status(), IncidentStatus::Open);
        assert_eq!(FeedbackSubmitted.status(), IncidentStatus::Remediated);
        assert_eq!(Archived.status(), IncidentStatus::Archived);
        assert!(!IncidentStatus::Archived.is_open() && IncidentStatus::Triaged.is_open());
        // Every model status is reached by exactly one stage.
        for st in IncidentStatus::ALL {
            assert_eq!(
                Stage::ALL.iter().filter(|s| s.status() == *st).count(),
                1,
                "{st:?}"
            );
        }
        assert!(Notified.awaits_organization() && !Verified.awaits_organization());
    }
}
