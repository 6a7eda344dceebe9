//! Impact records of incidents (issue 6): the figures grading reads, ransom details, support
//! requested, preliminary cause and affected scope, one record per incident, replaced as a
//! whole. Saving one adds an `impact` timeline entry and, when the caller's re-computed grade
//! is more severe than the incident's, raises the grade with a `grade:raised` entry — in the
//! same transaction. A grade is never lowered here: analysts reclassify by hand.

use vigil_model::{Grade, Incident, IncidentImpact, RecordedImpact};

/// What `set_incident_impact` saves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImpactUpdate {
    /// The new record; validated by the store.
    pub impact: IncidentImpact,
    /// The grade computed from the impact and the affected objects. Applied only when it is
    /// more severe than the incident's.
    pub grade: Option<Grade>,
    /// Why (the grading reasons): the note of the `grade:raised` entry after `old -> new: `.
    pub grade_note: String,
}

/// What saving an impact did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactOutcome {
    /// The incident after the save.
    pub incident: Incident,
    pub record: RecordedImpact,
    /// The grade before the save (differs from the incident's only when it was raised).
    pub previous_grade: Grade,
}

impl ImpactOutcome {
    /// The grade was raised by this save.
    pub fn raised(&self) -> bool {
        self.incident.spec.grade < self.previous_grade
    }
}

/// The timeline action of a raised grade.
pub(crate) const GRADE_RAISED: &str = "grade:raised";

/// The note of a `grade:raised` entry: `old -> new`, then the reasons. The report reads the
/// grade before the change from the `old -> ` prefix, like every `grade:` entry.
pub(crate) fn raised_note(previous: Grade, new: Grade, why: &str) -> String {
    let mut note = format!("{} -> {}", previous.as_str(), new.as_str());
    if !why.is_empty() {
        note.push_str(": ");
        note.push_str(why);
    }
    note
}

/// An archived incident is done: its record is not changed any more.
pub(crate) fn archived_conflict() -> crate::StoreError {
    crate::StoreError::Conflict("the incident is archived; its impact can no longer change".into())
}
