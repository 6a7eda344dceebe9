//! The incident disposal workflow as the API and the UI enforce it: a status change must be
//! a legal step of [`vigil_incident::workflow`] for the caller's role, checked against the
//! status the caller read, and applied only if the incident is still in that status.

use crate::error::ApiError;
use axum::http::StatusCode;
use vigil_incident::workflow::{self, Stage, Step};
use vigil_model::{Incident, IncidentStatus, Principal};

/// The step from the incident's status to `requested` for this principal, or a 409
/// `illegal_transition` naming the steps that are allowed. `None` when nothing changes.
pub fn step_to(
    p: &Principal,
    inc: &Incident,
    requested: IncidentStatus,
) -> Result<Option<Step>, ApiError> {
    if requested == inc.status {
        return Ok(None);
    }
    workflow::transition(
        Stage::from_status(inc.status),
        Stage::from_status(requested),
        p.role,
    )
    .map(Some)
    .map_err(|e| ApiError::new(StatusCode::CONFLICT, "illegal_transition", e.to_string()))
}

/// The statuses this principal may move the incident to next, in workflow order.
pub fn next_statuses(p: &Principal, inc: &Incident) -> Vec<IncidentStatus> {
    workflow::next_steps(Stage::from_status(inc.status))
        .filter(|s| workflow::Party::of(p.role) == Some(s.by))
        .map(|s| s.to.status())
        .collect()
}

/// The audit action of a change: `incident.<step>` for a workflow step, else
/// `incident.update`.
pub fn audit_action(step: Option<&Step>) -> String {
    step.map_or_else(|| "incident.update".to_string(), Step::audit_action)
}

/// One deadline of an incident, as the API and the incident page show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadlineView {
    /// `report`, `escalate`, `acknowledge`, `remediate`.
    pub kind: &'static str,
    pub start: vigil_model::Timestamp,
    pub due: vigil_model::Timestamp,
    /// The due time in the policy's zone (Asia/Shanghai), `YYYY-MM-DD HH:MM`.
    pub due_local: String,
    pub met_at: Option<vigil_model::Timestamp>,
    /// `pending`, `met`, `met_late`, `overdue`.
    pub status: &'static str,
}

/// The labels a [`DeadlineView`] carries, for reading one back from a stored report.
const DEADLINE_LABELS: [&str; 9] = [
    "report",
    "escalate",
    "acknowledge",
    "remediate",
    "pending",
    "met",
    "met_late",
    "overdue",
    "missed",
];

fn static_label(s: &str) -> Result<&'static str, String> {
    DEADLINE_LABELS
        .iter()
        .find(|l| **l == s)
        .copied()
        .ok_or_else(|| format!("unknown deadline label '{s}'"))
}

/// A [`DeadlineView`] as a stored report holds it.
#[derive(serde::Deserialize)]
struct StoredDeadline {
    kind: String,
    start: vigil_model::Timestamp,
    due: vigil_model::Timestamp,
    due_local: String,
    met_at: Option<vigil_model::Timestamp>,
    status: String,
}

/// Read back from a stored report (written by hand: derived, the `&'static str` fields would
/// borrow from the input).
impl<'de> serde::Deserialize<'de> for DeadlineView {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let d = StoredDeadline::deserialize(d)?;
        Ok(Self {
            kind: static_label(&d.kind).map_err(serde::de::Error::custom)?,
            start: d.start,
            due: d.due,
            due_local: d.due_local,
            met_at: d.met_at,
            status: static_label(&d.status).map_err(serde::de::Error::custom)?,
        })
    }
}

/// The deadlines of an incident under the built-in policy (data/deadlines.toml of
/// vigil-incident), at `now`. The organization is never taken for a central or state organ
/// (the directory does not record that yet).
pub fn deadlines(
    inc: &Incident,
    org: &vigil_model::Organization,
    now: vigil_model::Timestamp,
) -> Result<Vec<DeadlineView>, ApiError> {
    use vigil_incident::deadline::{DeadlinePolicy, DeadlineStatus, IncidentClock};
    let policy = DeadlinePolicy::builtin().map_err(|e| {
        tracing::error!(error = %e, "the built-in deadline policy does not load");
        ApiError::internal()
    })?;
    let clock = IncidentClock::of_incident(inc, &org.spec, false);
    let closed = !inc.status.is_open();
    Ok(policy
        .deadlines(&clock)
        .into_iter()
        .map(|d| {
            let status = match d.status(now) {
                // A finished incident has nothing overdue any more; what was missed stays
                // visible as not met.
                DeadlineStatus::Overdue if closed => "missed",
                DeadlineStatus::Overdue => "overdue",
                DeadlineStatus::Pending => "pending",
                DeadlineStatus::Met => "met",
                DeadlineStatus::MetLate => "met_late",
            };
            DeadlineView {
                kind: d.kind.as_str(),
                start: d.start,
                due: d.due,
                due_local: d
                    .due_local(&policy.zone)
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
                met_at: d.met_at,
                status,
            }
        })
        .collect())
}
