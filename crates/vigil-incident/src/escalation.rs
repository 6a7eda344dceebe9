//! What the deadline watcher does about an incident at `now`: a reminder once a deadline is
//! close, an overdue escalation once it has passed, each at most once per deadline kind.
//!
//! The watcher records each action as a timeline entry on the incident (`reminder:<kind>`,
//! `overdue:<kind>`), so "already done" is a property of the incident itself and survives
//! restarts; [`decide`] takes the set of actions already on the timeline and returns only what
//! is still to do. Deadlines already met (in time or late) need nothing; closed and archived
//! incidents need nothing. A deadline that has passed is escalated and not also reminded.
//! Overdue deadlines of 重大 and 特别重大 incidents are escalated to the platform as well.

use crate::deadline::{DeadlineKind, DeadlinePolicy, DeadlineStatus, IncidentClock};
use crate::workflow::Stage;
use jiff::{SignedDuration, Timestamp};
use vigil_model::Grade;

/// When the reminder before a deadline goes out: at this fraction of the time from the
/// deadline's start to its due time (0.8: with a fifth of the time left).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReminderLead(f64);

impl ReminderLead {
    /// The default, 0.8.
    pub const DEFAULT: ReminderLead = ReminderLead(0.8);

    /// A fraction strictly between 0 and 1.
    pub fn new(fraction: f64) -> Option<Self> {
        (fraction > 0.0 && fraction < 1.0).then_some(Self(fraction))
    }

    pub fn fraction(self) -> f64 {
        self.0
    }

    /// When the reminder for a deadline from `start` to `due` is due.
    pub fn remind_at(self, start: Timestamp, due: Timestamp) -> Timestamp {
        let span = due.duration_since(start);
        if span <= SignedDuration::ZERO {
            return due;
        }
        let lead = SignedDuration::from_secs_f64(span.as_secs_f64() * self.0);
        start.checked_add(lead).unwrap_or(due)
    }
}

impl Default for ReminderLead {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The deadline is close and not met: remind the organization.
    Remind { kind: DeadlineKind, due: Timestamp },
    /// The deadline has passed unmet: record, remind the organization, and (for 重大 and
    /// above) escalate to the platform.
    Overdue {
        kind: DeadlineKind,
        due: Timestamp,
        escalate_to_platform: bool,
    },
}

impl Action {
    pub fn kind(&self) -> DeadlineKind {
        match self {
            Self::Remind { kind, .. } | Self::Overdue { kind, .. } => *kind,
        }
    }

    pub fn due(&self) -> Timestamp {
        match self {
            Self::Remind { due, .. } | Self::Overdue { due, .. } => *due,
        }
    }

    /// The timeline action that records it: `reminder:<kind>` or `overdue:<kind>`.
    pub fn mark(&self) -> String {
        match self {
            Self::Remind { kind, .. } => reminder_mark(*kind),
            Self::Overdue { kind, .. } => overdue_mark(*kind),
        }
    }
}

/// The timeline action of an overdue escalation.
pub fn overdue_mark(kind: DeadlineKind) -> String {
    format!("overdue:{}", kind.as_str())
}

/// The timeline action of a reminder before the deadline.
pub fn reminder_mark(kind: DeadlineKind) -> String {
    format!("reminder:{}", kind.as_str())
}

/// What is still to do about the incident at `now`, given the timeline actions it already
/// has (`done` answers whether an action such as `overdue:acknowledge` is on the timeline).
pub fn decide(
    policy: &DeadlinePolicy,
    clock: &IncidentClock,
    now: Timestamp,
    lead: ReminderLead,
    done: impl Fn(&str) -> bool,
) -> Vec<Action> {
    if clock.stage >= Stage::Closed {
        return Vec::new();
    }
    let major = clock.grade <= Grade::Major;
    let mut out = Vec::new();
    for d in policy.deadlines(clock) {
        let action = match d.status(now) {
            DeadlineStatus::Overdue => Action::Overdue {
                kind: d.kind,
                due: d.due,
                escalate_to_platform: major,
            },
            DeadlineStatus::Pending if now >= lead.remind_at(d.start, d.due) => Action::Remind {
                kind: d.kind,
                due: d.due,
            },
            _ => continue,
        };
        if !done(&action.mark()) {
            out.push(action);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::OperatorType;
    use std::collections::BTreeSet;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn policy() -> &'static DeadlinePolicy {
        DeadlinePolicy::builtin().expect("builtin policy")
    }

    /// A 较大 incident of an ordinary organization, discovered at 00:00 UTC (report due in
    /// 4 h), notified at 01:00 UTC.
    fn clock(grade: Grade) -> IncidentClock {
        let mut c = IncidentClock::new(grade, OperatorType::Other, ts("2026-03-02T00:00:00Z"));
        c.stage = Stage::Notified;
        c.notified_at = Some(ts("2026-03-02T01:00:00Z"));
        c
    }

    fn run(c: &IncidentClock, now: &str, done: &BTreeSet<String>) -> Vec<Action> {
        decide(policy(), c, ts(now), ReminderLead::DEFAULT, |a| {
            done.contains(a)
        })
    }

    #[test]
    fn nothing_before_the_lead_then_a_reminder_then_the_escalation() {
        let c = clock(Grade::Large);
        let none = BTreeSet::new();
        // Report due 04:00 UTC; 80% of 4 h is 03:12.
        assert!(
            run(&c, "2026-03-02T03:00:00Z", &none)
                .iter()
                .all(|a| a.kind() != DeadlineKind::Report)
        );
        let at_lead = run(&c, "2026-03-02T03:12:00Z", &none);
        assert!(at_lead.contains(&Action::Remind {
            kind: DeadlineKind::Report,
            due: ts("2026-03-02T04:00:00Z")
        }));
        let after = run(&c, "2026-03-02T04:00:01Z", &none);
        assert!(after.contains(&Action::Overdue {
            kind: DeadlineKind::Report,
            due: ts("2026-03-02T04:00:00Z"),
            escalate_to_platform: false,
        }));
        // A passed deadline is escalated, not reminded as well.
        assert!(!after.contains(&Action::Remind {
            kind: DeadlineKind::Report,
            due: ts("2026-03-02T04:00:00Z")
        }));
    }

    #[test]
    fn what_is_on_the_timeline_is_not_done_again() {
        let c = clock(Grade::Large);
        let all = run(&c, "2027-01-01T00:00:00Z", &BTreeSet::new());
        let kinds: BTreeSet<_> = all.iter().map(Action::kind).collect();
        assert_eq!(
            kinds,
            [
                DeadlineKind::Report,
                DeadlineKind::Acknowledge,
                DeadlineKind::Remediate
            ]
            .into_iter()
            .collect()
        );
        let done: BTreeSet<String> = all.iter().map(Action::mark).collect();
        assert!(done.contains("overdue:acknowledge"));
        assert!(run(&c, "2027-01-01T00:00:00Z", &done).is_empty());
        // The reminder mark does not stand for the escalation.
        let reminded: BTreeSet<String> = ["reminder:report".to_string()].into();
        assert!(
            run(&c, "2027-01-01T00:00:00Z", &reminded)
                .iter()
                .any(|a| a.mark() == "overdue:report")
        );
    }

    #[test]
    fn met_deadlines_closed_incidents_and_grades() {
        let mut c = clock(Grade::Major);
        c.acknowledged_at = Some(ts("2026-03-02T01:30:00Z"));
        c.reported_at = Some(ts("2026-03-02T00:30:00Z"));
        let late = run(&c, "2027-01-01T00:00:00Z", &BTreeSet::new());
        // Met deadlines (report, acknowledge) need nothing; escalate and remediate are late,
        // and a 重大 incident goes to the platform.
        let marks: BTreeSet<String> = late.iter().map(Action::mark).collect();
        assert_eq!(
            marks,
            ["overdue:escalate".to_string(), "overdue:remediate".into()].into()
        );
        assert!(late.iter().all(|a| matches!(
            a,
            Action::Overdue {
                escalate_to_platform: true,
                ..
            }
        )));
        c.stage = Stage::Closed;
        assert!(run(&c, "2027-01-01T00:00:00Z", &BTreeSet::new()).is_empty());
        // 一般 incidents have no reporting deadline and are never escalated to the platform.
        let g = clock(Grade::General);
        let late = run(&g, "2027-01-01T00:00:00Z", &BTreeSet::new());
        assert!(!late.is_empty());
        assert!(late.iter().all(|a| a.kind() != DeadlineKind::Report));
        assert!(late.iter().all(|a| matches!(
            a,
            Action::Overdue {
                escalate_to_platform: false,
                ..
            }
        )));
    }

    #[test]
    fn reminder_lead_bounds() {
        assert!(ReminderLead::new(0.0).is_none());
        assert!(ReminderLead::new(1.0).is_none());
        assert!(ReminderLead::new(f64::NAN).is_none());
        let l = ReminderLead::new(0.5).expect("valid");
        assert_eq!(
            l.remind_at(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T02:00:00Z")),
            ts("2026-01-01T01:00:00Z")
        );
        assert_eq!(
            l.remind_at(ts("2026-01-01T02:00:00Z"), ts("2026-01-01T01:00:00Z")),
            ts("2026-01-01T01:00:00Z")
        );
    }
}
