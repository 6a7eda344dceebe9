//! What the incident aggregator needs from a store: incidents opened under an aggregation key
//! (unique among the open incidents of an organization), found by it, and alerts attached to
//! them.
//!
//! The uniqueness is the store's, not the caller's: two aggregators that see the first alerts
//! of the same key at once both try to create, one wins, and the other gets
//! [`StoreError::Conflict`](crate::StoreError::Conflict) and attaches instead. A closed or
//! archived incident leaves the uniqueness, so the next alert of its key opens a new one.

use vigil_model::{AlertId, AssetId, Grade, Incident};

/// Alerts joining an open incident.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertAttachment {
    /// Alerts of the incident's organization; each is marked escalated to the incident.
    /// Alerts the incident already lists are not listed twice.
    pub alert_ids: Vec<AlertId>,
    /// Affected assets to add; ones already listed are skipped.
    pub asset_ids: Vec<AssetId>,
    /// A re-computed grade. Applied only when it is more severe than the incident's: an
    /// aggregator never lowers a grade (an analyst may, through `update_incident`).
    pub grade: Option<Grade>,
    /// Why the grade is what it is: the note of the `grade:<new>` timeline entry when the
    /// grade is raised.
    pub grade_note: String,
}

/// What an attach did.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachOutcome {
    /// The incident after the attach.
    pub incident: Incident,
    /// The grade before the attach (differs from the incident's only when it was raised).
    pub previous_grade: Grade,
    /// The alerts newly listed on the incident, in the order given.
    pub attached: Vec<AlertId>,
    /// The assets newly listed on the incident, in the order given.
    pub added_assets: Vec<AssetId>,
}

impl AttachOutcome {
    /// The grade was raised by this attach.
    pub fn raised(&self) -> bool {
        self.incident.spec.grade < self.previous_grade
    }
}

/// The message of the conflict a second open incident with the same key gets.
pub(crate) const DUPLICATE_KEY: &str =
    "an open incident with this aggregation key already exists in the organization";

/// The timeline note of an attach: the alerts (by id) and assets added.
pub(crate) fn attach_note(alerts: &[AlertId], assets: &[AssetId]) -> String {
    let list = |ids: Vec<String>| ids.join(", ");
    let mut parts = Vec::new();
    match alerts {
        [] => {}
        [one] => parts.push(format!("alert {one} attached")),
        many => parts.push(format!(
            "{} alerts attached: {}",
            many.len(),
            list(many.iter().map(ToString::to_string).collect())
        )),
    }
    if !assets.is_empty() {
        parts.push(format!(
            "affected assets added: {}",
            list(assets.iter().map(ToString::to_string).collect())
        ));
    }
    parts.join("; ")
}

/// The grade an attach leaves: the more severe of the current and the proposed one.
pub(crate) fn raised_grade(current: Grade, proposed: Option<Grade>) -> Option<Grade> {
    proposed.filter(|g| *g < current)
}

/// Appends the ids of `new` that `list` lacks, returning them.
pub(crate) fn extend_unique<T: PartialEq + Copy>(list: &mut Vec<T>, new: &[T]) -> Vec<T> {
    let mut added = Vec::new();
    for x in new {
        if !list.contains(x) {
            list.push(*x);
            added.push(*x);
        }
    }
    added
}

/// Checks an aggregation key: 1 to 500 characters.
pub(crate) fn check_key(key: &str) -> crate::Result<()> {
    if key.is_empty() || key.chars().count() > 500 {
        return Err(crate::StoreError::Invalid(
            vigil_model::ValidationError::new("aggregation_key", "must be 1 to 500 characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_are_only_raised() {
        assert_eq!(
            raised_grade(Grade::General, Some(Grade::Large)),
            Some(Grade::Large)
        );
        assert_eq!(raised_grade(Grade::Major, Some(Grade::Large)), None);
        assert_eq!(raised_grade(Grade::Large, Some(Grade::Large)), None);
        assert_eq!(raised_grade(Grade::Large, None), None);
    }

    #[test]
    fn notes_name_the_alerts() {
        let a = AlertId::new();
        assert_eq!(attach_note(&[], &[]), "");
        assert_eq!(attach_note(&[a], &[]), format!("alert {a} attached"));
        let b = AlertId::new();
        let s = AssetId::new();
        assert_eq!(
            attach_note(&[a, b], &[s]),
            format!("2 alerts attached: {a}, {b}; affected assets added: {s}")
        );
    }
}
