//! Deadlines: reporting and escalation by the 2025 reporting measures, acknowledgement and
//! remediation of notices by platform policy; overdue detection.
//!
//! | deadline | applies to | clock starts | length |
//! |---|---|---|---|
//! | report (初报) | 较大 and above | discovery | CII 1 h, central/state organs 2 h, others 4 h |
//! | escalate (上报) | 重大 and above, once reported | the first report | CII 30 min, others 1 h |
//! | acknowledge (签收) | notified incidents | the notice | per grade (data) |
//! | remediate (整改反馈) | notified incidents | the notice | per grade (data), met by feedback |
//!
//! Lengths live in `data/deadlines.toml` (embedded, versioned). Arithmetic is done on civil
//! time in the policy's zone (Asia/Shanghai): "7d" is seven calendar days, across month ends
//! and leap days, and a deadline in days ends at 23:59:59 local on its last day when
//! `days_end_at_end_of_day` is set. Instants are `jiff::Timestamp` (UTC); [`Deadline::due_local`]
//! gives the display time. Closed and archived incidents have nothing overdue.

use crate::workflow::Stage;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use vigil_model::{Grade, NewOrganization};

/// Operator type for the reporting measures (Art 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorType {
    /// Operator of critical information infrastructure.
    Cii,
    /// Central and state organs and their directly affiliated units.
    CentralOrgan,
    Other,
}

impl OperatorType {
    /// The type of an organization. vigil-model has no "central or state organ" flag yet, so
    /// the caller says; a CII operator is CII whatever else it is (its deadline is the shortest).
    pub fn of(org: &NewOrganization, central_organ: bool) -> Self {
        if org.cii {
            Self::Cii
        } else if central_organ {
            Self::CentralOrgan
        } else {
            Self::Other
        }
    }
}

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    Report,
    Escalate,
    Acknowledge,
    Remediate,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Escalate => "escalate",
            Self::Acknowledge => "acknowledge",
            Self::Remediate => "remediate",
        }
    }
}

/// Bad deadline data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deadline policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    zone: String,
    days_end_at_end_of_day: bool,
    reporting: RawByOperator,
    escalation: RawByOperator,
    acknowledge: RawByGrade,
    remediate: RawByGrade,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawByOperator {
    cii: String,
    central_organ: String,
    other: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawByGrade {
    especially_major: String,
    major: String,
    large: String,
    general: String,
}

/// Deadline lengths and the zone they are computed in.
#[derive(Debug, Clone)]
pub struct DeadlinePolicy {
    pub version: String,
    pub zone: TimeZone,
    pub days_end_at_end_of_day: bool,
    reporting: [Span; 3],
    escalation: [Span; 3],
    acknowledge: [Span; 4],
    remediate: [Span; 4],
}

/// The time zone `name`; `Asia/Shanghai` falls back to fixed UTC+8 (China has kept it since
/// 1991) when the host has no time-zone database.
pub fn zone(name: &str) -> Result<TimeZone, PolicyError> {
    match TimeZone::get(name) {
        Ok(tz) => Ok(tz),
        Err(_) if name == "Asia/Shanghai" => Ok(TimeZone::fixed(Offset::constant(8))),
        Err(e) => Err(PolicyError(format!("unknown time zone '{name}': {e}"))),
    }
}

fn span(field: &str, text: &str) -> Result<Span, PolicyError> {
    let s: Span = text
        .trim()
        .parse()
        .map_err(|e| PolicyError(format!("{field}: '{text}' is not a duration: {e}")))?;
    if !s.is_positive() {
        return Err(PolicyError(format!("{field}: '{text}' must be positive")));
    }
    Ok(s)
}

fn ops(field: &str, r: &RawByOperator) -> Result<[Span; 3], PolicyError> {
    Ok([
        span(&format!("{field}.cii"), &r.cii)?,
        span(&format!("{field}.central_organ"), &r.central_organ)?,
        span(&format!("{field}.other"), &r.other)?,
    ])
}

fn grades(field: &str, r: &RawByGrade) -> Result<[Span; 4], PolicyError> {
    Ok([
        span(&format!("{field}.especially_major"), &r.especially_major)?,
        span(&format!("{field}.major"), &r.major)?,
        span(&format!("{field}.large"), &r.large)?,
        span(&format!("{field}.general"), &r.general)?,
    ])
}

fn op_index(op: OperatorType) -> usize {
    match op {
        OperatorType::Cii => 0,
        OperatorType::CentralOrgan => 1,
        OperatorType::Other => 2,
    }
}

fn grade_index(g: Grade) -> usize {
    match g {
        Grade::EspeciallyMajor => 0,
        Grade::Major => 1,
        Grade::Large => 2,
        Grade::General => 3,
    }
}

impl DeadlinePolicy {
    /// Parses a policy from TOML (the format of `data/deadlines.toml`).
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| PolicyError(format!("not valid TOML: {e}")))?;
        if raw.version.trim().is_empty() {
            return Err(PolicyError("version must not be empty".into()));
        }
        Ok(Self {
            version: raw.version,
            zone: zone(&raw.zone)?,
            days_end_at_end_of_day: raw.days_end_at_end_of_day,
            reporting: ops("reporting", &raw.reporting)?,
            escalation: ops("escalation", &raw.escalation)?,
            acknowledge: grades("acknowledge", &raw.acknowledge)?,
            remediate: grades("remediate", &raw.remediate)?,
        })
    }

    /// The embedded default policy (`data/deadlines.toml`).
    pub fn builtin() -> Result<&'static Self, PolicyError> {
        static POLICY: OnceLock<Result<DeadlinePolicy, PolicyError>> = OnceLock::new();
        POLICY
            .get_or_init(|| Self::from_toml(include_str!("../data/deadlines.toml")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// `start + length` in the policy's zone; a length in days (or longer) ends at 23:59:59
    /// local on its last day when the policy says so. Saturates at the end of time.
    pub fn add(&self, start: Timestamp, length: Span) -> Timestamp {
        let z = start.to_zoned(self.zone.clone());
        let Ok(end) = z.checked_add(length) else {
            return Timestamp::MAX;
        };
        let calendar = length.get_days() != 0
            || length.get_weeks() != 0
            || length.get_months() != 0
            || length.get_years() != 0;
        if calendar && self.days_end_at_end_of_day {
            end.date()
                .at(23, 59, 59, 0)
                .to_zoned(self.zone.clone())
                .map_or(Timestamp::MAX, |z| z.timestamp())
        } else {
            end.timestamp()
        }
    }

    /// Every deadline that applies to the incident now, met or not.
    pub fn deadlines(&self, c: &IncidentClock) -> Vec<Deadline> {
        let mut out = Vec::new();
        let mut push = |kind, start: Timestamp, length: Span, met_at| {
            out.push(Deadline {
                kind,
                start,
                due: self.add(start, length),
                met_at,
            });
        };
        if c.grade.must_report() {
            push(
                DeadlineKind::Report,
                c.discovered_at,
                self.reporting[op_index(c.operator)],
                c.reported_at,
            );
        }
        if c.grade <= Grade::Major
            && let Some(reported) = c.reported_at
        {
            push(
                DeadlineKind::Escalate,
                reported,
                self.escalation[op_index(c.operator)],
                c.escalated_at,
            );
        }
        if let Some(notified) = c.notified_at {
            push(
                DeadlineKind::Acknowledge,
                notified,
                self.acknowledge[grade_index(c.grade)],
                c.acknowledged_at,
            );
            let fed_back = c.stage >= Stage::FeedbackSubmitted;
            push(
                DeadlineKind::Remediate,
                notified,
                self.remediate[grade_index(c.grade)],
                c.feedback_at.filter(|_| fed_back),
            );
        }
        out
    }

    /// The deadlines passed and not met at `now`, most overdue first. Nothing is overdue once
    /// the incident is closed.
    pub fn overdue(&self, c: &IncidentClock, now: Timestamp) -> Vec<Overdue> {
        if c.stage >= Stage::Closed {
            return Vec::new();
        }
        let mut out: Vec<Overdue> = self
            .deadlines(c)
            .into_iter()
            .filter(|d| d.status(now) == DeadlineStatus::Overdue)
            .map(|d| Overdue {
                kind: d.kind,
                due: d.due,
                by: now.duration_since(d.due),
            })
            .collect();
        out.sort_by_key(|o| std::cmp::Reverse(o.by));
        out
    }
}

/// What the deadline computation needs to know about an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentClock {
    pub grade: Grade,
    pub operator: OperatorType,
    pub stage: Stage,
    /// When the incident was discovered (the reporting clock starts here).
    pub discovered_at: Timestamp,
    /// When the first report reached the authority.
    pub reported_at: Option<Timestamp>,
    /// When the report was escalated upward.
    pub escalated_at: Option<Timestamp>,
    /// When the notice was sent to the responsible organization.
    pub notified_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    /// When the feedback now under review (or accepted) was submitted; a sent-back incident
    /// (stage `remediating`) has not met its remediation deadline.
    pub feedback_at: Option<Timestamp>,
}

impl IncidentClock {
    /// The clock of a stored incident: discovered when it was registered, the workflow times
    /// from its timeline (the first notice, the first acknowledgement, the latest feedback;
    /// `report` and `escalate` entries when the platform records them), the stage from its
    /// status, the operator type from its organization (`central_organ` as in
    /// [`OperatorType::of`]).
    pub fn of_incident(
        inc: &vigil_model::Incident,
        org: &NewOrganization,
        central_organ: bool,
    ) -> Self {
        let times = |action: &'static str| {
            inc.timeline
                .iter()
                .filter(move |e| e.action == action)
                .map(|e| e.at)
        };
        Self {
            grade: inc.spec.grade,
            operator: OperatorType::of(org, central_organ),
            stage: Stage::from_status(inc.status),
            discovered_at: inc.created_at,
            // A `report` entry, or the initial report filed through the platform
            // (vigil-store's filed reports write `report:initial`).
            reported_at: times("report").chain(times("report:initial")).min(),
            escalated_at: times("escalate").min(),
            notified_at: times("status:notified").min(),
            acknowledged_at: times("status:acknowledged").min(),
            feedback_at: times("status:remediated").max(),
        }
    }

    /// A clock for a newly discovered incident.
    pub fn new(grade: Grade, operator: OperatorType, discovered_at: Timestamp) -> Self {
        Self {
            grade,
            operator,
            stage: Stage::New,
            discovered_at,
            reported_at: None,
            escalated_at: None,
            notified_at: None,
            acknowledged_at: None,
            feedback_at: None,
        }
    }
}

/// Where a deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    Pending,
    Met,
    MetLate,
    Overdue,
}

/// One deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    pub start: Timestamp,
    pub due: Timestamp,
    pub met_at: Option<Timestamp>,
}

impl Deadline {
    pub fn status(&self, now: Timestamp) -> DeadlineStatus {
        match self.met_at {
            Some(m) if m <= self.due => DeadlineStatus::Met,
            Some(_) => DeadlineStatus::MetLate,
            None if now > self.due => DeadlineStatus::Overdue,
            None => DeadlineStatus::Pending,
        }
    }

    /// The due time in a display zone.
    pub fn due_local(&self, tz: &TimeZone) -> Zoned {
        self.due.to_zoned(tz.clone())
    }
}

/// A deadline passed and not met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue {
    pub kind: DeadlineKind,
    pub due: Timestamp,
    /// How long past due.
    pub by: SignedDuration,
}

/// [`DeadlinePolicy::overdue`] with the embedded policy. Empty if the embedded data were
/// broken, which the crate's tests rule out.
pub fn overdue(clock: &IncidentClock, now: Timestamp) -> Vec<Overdue> {
    DeadlinePolicy::builtin()
        .map(|p| p.overdue(clock, now))
        .unwrap_or_default()
}

#[cfg(test)]
mod clock_tests {
    use super::*;
    use vigil_model::{Incident, IncidentId, IncidentStatus, NewIncident, OrgId, TimelineEntry};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_stored_incident_yields_its_clock_and_deadlines() {
        let entry = |at: &str, action: &str| TimelineEntry {
            at: ts(at),
            actor: "user:a".into(),
            action: action.into(),
            note: String::new(),
        };
        let inc = Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: OrgId::new(),
                title: "Ransomware".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: Some("MPRANS".into()),
                grade: Grade::Major,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: ts("2026-03-01T00:00:00Z"),
            },
            status: IncidentStatus::Remediated,
            created_at: ts("2026-03-01T01:00:00Z"),
            updated_at: ts("2026-03-02T00:00:00Z"),
            closed_at: None,
            timeline: vec![
                entry("2026-03-01T01:00:00Z", "created"),
                entry("2026-03-01T01:10:00Z", "status:triaged"),
                entry("2026-03-01T01:20:00Z", "status:notified"),
                entry("2026-03-01T02:00:00Z", "status:acknowledged"),
                entry("2026-03-01T05:00:00Z", "status:remediated"),
                entry("2026-03-01T06:00:00Z", "status:remediating"),
                entry("2026-03-01T09:00:00Z", "status:remediated"),
            ],
        };
        let org = NewOrganization {
            name: "Grid".into(),
            uscc: None,
            sector: "power".into(),
            region_code: "330100".into(),
            mlps_level: 3,
            cii: true,
            miit_type: None,
            miit_grade: None,
            responsible: Default::default(),
            contacts: vec![],
        };
        let c = IncidentClock::of_incident(&inc, &org, false);
        assert_eq!(c.operator, OperatorType::Cii);
        assert_eq!(c.stage, Stage::FeedbackSubmitted);
        assert_eq!(c.discovered_at, ts("2026-03-01T01:00:00Z"));
        assert_eq!(c.notified_at, Some(ts("2026-03-01T01:20:00Z")));
        assert_eq!(c.acknowledged_at, Some(ts("2026-03-01T02:00:00Z")));
        // Sent back once: the feedback that counts is the latest.
        assert_eq!(c.feedback_at, Some(ts("2026-03-01T09:00:00Z")));
        assert_eq!(c.reported_at, None);
        let policy = DeadlinePolicy::builtin().expect("policy");
        let d = policy.deadlines(&c);
        let report = d
            .iter()
            .find(|d| d.kind == DeadlineKind::Report)
            .expect("report");
        // 重大 at a CII operator: report within one hour of discovery.
        assert_eq!(report.due, ts("2026-03-01T02:00:00Z"));
        assert_eq!(
            report.status(ts("2026-03-01T03:00:00Z")),
            DeadlineStatus::Overdue
        );
        assert!(d.iter().any(|d| d.kind == DeadlineKind::Acknowledge));

        // Filing the initial report meets the reporting deadline (late here) and starts the
        // escalation clock of a 重大 incident.
        let mut filed = inc.clone();
        filed
            .timeline
            .push(entry("2026-03-01T02:30:00Z", "report:initial"));
        filed
            .timeline
            .push(entry("2026-03-01T04:00:00Z", "report:supplement"));
        let c = IncidentClock::of_incident(&filed, &org, false);
        assert_eq!(c.reported_at, Some(ts("2026-03-01T02:30:00Z")));
        let d = policy.deadlines(&c);
        let report = d
            .iter()
            .find(|d| d.kind == DeadlineKind::Report)
            .expect("report");
        assert_eq!(
            report.status(ts("2026-03-01T03:00:00Z")),
            DeadlineStatus::MetLate
        );
        let escalate = d
            .iter()
            .find(|d| d.kind == DeadlineKind::Escalate)
            .expect("escalation follows the report");
        assert_eq!(escalate.start, ts("2026-03-01T02:30:00Z"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> &'static DeadlinePolicy {
        DeadlinePolicy::builtin().expect("embedded policy parses")
    }

    /// A local time in Asia/Shanghai.
    fn cst(s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .expect("civil")
            .to_zoned(policy().zone.clone())
            .expect("zoned")
            .timestamp()
    }

    fn due(c: &IncidentClock, kind: DeadlineKind) -> Option<Timestamp> {
        policy()
            .deadlines(c)
            .into_iter()
            .find(|d| d.kind == kind)
            .map(|d| d.due)
    }

    #[test]
    fn embedded_policy_parses_with_a_version() {
        assert!(policy().version.starts_with("vigil-deadlines/"));
        assert_eq!(
            policy().zone.to_offset(Timestamp::UNIX_EPOCH),
            Offset::constant(8)
        );
    }

    #[test]
    fn reporting_deadline_by_grade_and_operator_type() {
        let t0 = cst("2025-11-03T09:15");
        let cases = [
            (OperatorType::Cii, 60),
            (OperatorType::CentralOrgan, 120),
            (OperatorType::Other, 240),
        ];
        for grade in Grade::ALL {
            for (op, minutes) in cases {
                let c = IncidentClock::new(*grade, op, t0);
                let got = due(&c, DeadlineKind::Report);
                if grade.must_report() {
                    assert_eq!(
                        got,
                        Some(t0 + SignedDuration::from_mins(minutes)),
                        "{grade:?} {op:?}"
                    );
                } else {
                    assert_eq!(got, None, "一般 incidents have no reporting deadline");
                }
            }
        }
    }

    #[test]
    fn escalation_applies_to_major_and_above_once_reported() {
        let t0 = cst("2025-11-03T23:50");
        let reported = t0 + SignedDuration::from_mins(40);
        for (grade, op, minutes) in [
            (Grade::EspeciallyMajor, OperatorType::Cii, Some(30)),
            (Grade::Major, OperatorType::Cii, Some(30)),
            (Grade::Major, OperatorType::CentralOrgan, Some(60)),
            (Grade::EspeciallyMajor, OperatorType::Other, Some(60)),
            (Grade::Large, OperatorType::Cii, None),
            (Grade::General, OperatorType::Other, None),
        ] {
            let mut c = IncidentClock::new(grade, op, t0);
            assert_eq!(due(&c, DeadlineKind::Escalate), None, "not yet reported");
            c.reported_at = Some(reported);
            assert_eq!(
                due(&c, DeadlineKind::Escalate),
                minutes.map(|m| reported + SignedDuration::from_mins(m)),
                "{grade:?} {op:?}"
            );
        }
    }

    #[test]
    fn remediation_in_days_counts_calendar_days_in_shanghai_across_month_ends() {
        // Notified 2025-01-31 10:00 CST, 一般 = 15 days: ends 2025-02-15 23:59:59 CST.
        let mut c =
            IncidentClock::new(Grade::General, OperatorType::Other, cst("2025-01-31T09:00"));
        c.notified_at = Some(cst("2025-01-31T10:00"));
        assert_eq!(
            due(&c, DeadlineKind::Remediate),
            Some(cst("2025-02-15T23:59:59"))
        );
        // 较大 = 7 days from 2024-02-25 (leap year): ends 2024-03-03 23:59:59 CST.
        c.grade = Grade::Large;
        c.notified_at = Some(cst("2024-02-25T16:30"));
        assert_eq!(
            due(&c, DeadlineKind::Remediate),
            Some(cst("2024-03-03T23:59:59"))
        );
        // A notice sent at 2025-04-30 20:00 UTC is already 1 May 04:00 in Shanghai: the days
        // count from the Shanghai date, not the UTC one.
        c.notified_at = Some("2025-04-30T20:00:00Z".parse().expect("ts"));
        assert_eq!(
            due(&c, DeadlineKind::Remediate),
            Some(cst("2025-05-08T23:59:59"))
        );
        let d = policy()
            .deadlines(&c)
            .into_iter()
            .find(|d| d.kind == DeadlineKind::Remediate)
            .expect("remediate");
        assert_eq!(
            d.due_local(&policy().zone)
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string(),
            "2025-05-08 23:59:59"
        );
        assert_eq!(d.due.to_string(), "2025-05-08T15:59:59Z");
        // 重大 = 3 days across the year end.
        c.grade = Grade::Major;
        c.notified_at = Some(cst("2025-12-30T08:00"));
        assert_eq!(
            due(&c, DeadlineKind::Remediate),
            Some(cst("2026-01-02T23:59:59"))
        );
        // 特别重大 = 24 hours: exact, no end-of-day rounding.
        c.grade = Grade::EspeciallyMajor;
        c.notified_at = Some(cst("2025-02-28T22:00"));
        assert_eq!(
            due(&c, DeadlineKind::Remediate),
            Some(cst("2025-03-01T22:00"))
        );
    }

    #[test]
    fn acknowledgement_deadline_per_grade() {
        let n = cst("2025-06-30T23:45");
        for (grade, minutes) in [
            (Grade::EspeciallyMajor, 30),
            (Grade::Major, 60),
            (Grade::Large, 240),
            (Grade::General, 1440),
        ] {
            let mut c = IncidentClock::new(grade, OperatorType::Other, n);
            c.notified_at = Some(n);
            assert_eq!(
                due(&c, DeadlineKind::Acknowledge),
                Some(n + SignedDuration::from_mins(minutes))
            );
        }
    }

    #[test]
    fn overdue_items_are_listed_most_overdue_first_until_met_or_closed() {
        let t0 = cst("2025-11-03T09:00");
        let mut c = IncidentClock::new(Grade::Major, OperatorType::Cii, t0);
        // Report due 10:00. At 10:00 exactly it is not yet overdue; one second later it is.
        assert!(overdue(&c, cst("2025-11-03T10:00")).is_empty());
        let o = overdue(&c, cst("2025-11-03T10:00:01"));
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].kind, DeadlineKind::Report);
        assert_eq!(o[0].by, SignedDuration::from_secs(1));

        // Reported late at 10:30: the report deadline is met late, not overdue; escalation
        // (30 min for CII) runs from 10:30.
        c.reported_at = Some(cst("2025-11-03T10:30"));
        c.stage = Stage::Triaged;
        let ds = policy().deadlines(&c);
        assert_eq!(
            ds[0].status(cst("2025-11-03T12:00")),
            DeadlineStatus::MetLate
        );
        c.notified_at = Some(cst("2025-11-03T10:40"));
        c.stage = Stage::Notified;
        let o = overdue(&c, cst("2025-11-03T12:00"));
        let kinds: Vec<_> = o.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            vec![DeadlineKind::Escalate, DeadlineKind::Acknowledge]
        );
        assert_eq!(o[0].by, SignedDuration::from_mins(60));
        assert_eq!(o[1].by, SignedDuration::from_mins(20));

        c.escalated_at = Some(cst("2025-11-03T12:01"));
        c.acknowledged_at = Some(cst("2025-11-03T12:02"));
        c.stage = Stage::Remediating;
        // Remediation (3 days) ends 2025-11-06 23:59:59.
        assert!(overdue(&c, cst("2025-11-06T23:59:59")).is_empty());
        let o = overdue(&c, cst("2025-11-07T00:00"));
        assert_eq!(
            o.iter().map(|x| x.kind).collect::<Vec<_>>(),
            vec![DeadlineKind::Remediate]
        );

        // Feedback submitted, then sent back: the deadline is open again.
        c.feedback_at = Some(cst("2025-11-05T12:00"));
        c.stage = Stage::FeedbackSubmitted;
        assert!(overdue(&c, cst("2025-11-08T00:00")).is_empty());
        c.stage = Stage::Remediating;
        assert_eq!(overdue(&c, cst("2025-11-08T00:00")).len(), 1);
        c.stage = Stage::Closed;
        assert!(overdue(&c, cst("2025-12-01T00:00")).is_empty());
    }

    #[test]
    fn bad_policies_are_refused_with_the_field_named() {
        let good = include_str!("../data/deadlines.toml");
        let e = DeadlinePolicy::from_toml(&good.replace("cii = \"1h\"", "cii = \"soon\""))
            .expect_err("bad duration");
        assert!(e.to_string().contains("reporting.cii"), "{e}");
        let e = DeadlinePolicy::from_toml(&good.replace("general = \"15d\"", "general = \"-1d\""))
            .expect_err("negative");
        assert!(e.to_string().contains("remediate.general"), "{e}");
        let e = DeadlinePolicy::from_toml(&good.replace("Asia/Shanghai", "Mars/Olympus"))
            .expect_err("zone");
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
        assert!(DeadlinePolicy::from_toml("version = \"x\"").is_err());
    }

    #[test]
    fn operator_type_follows_the_organization() {
        let mut org = crate::test_org(true, 3);
        assert_eq!(OperatorType::of(&org, true), OperatorType::Cii);
        org.cii = false;
        assert_eq!(OperatorType::of(&org, true), OperatorType::CentralOrgan);
        assert_eq!(OperatorType::of(&org, false), OperatorType::Other);
    }
}
