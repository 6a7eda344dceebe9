//! Regulatory incident reports as filed: the JSON snapshot of each report exactly as it was
//! sent, with its sequence number, kind, author, time and SM3 digest.
//!
//! A filed report is never changed or deleted (it goes only with its incident). The store
//! numbers the reports of an incident (1, 2, ...), computes the SM3 digest over the bytes it
//! stores, and adds a `report:<kind>` entry to the incident's timeline, all in one
//! transaction under the incident's lock. It enforces the rules that concurrent filings could
//! otherwise break: at most one initial and one final report per incident, and a report is
//! filed only against the latest one its author saw ([`NewFiledReport::previous_seq`]), so two
//! supplements built from the same state cannot both go in. What a report may contain and when
//! a kind may be filed (after notification, once closed) is the web layer's business.
//! Readers re-hash the bytes ([`FiledReport::matches`]) before they hand them out.

use serde::{Deserialize, Serialize};
use vigil_model::{IncidentId, OrgId, Timestamp, ValidationError};

/// Largest snapshot the store accepts.
pub const MAX_SNAPSHOT_BYTES: usize = 8 << 20;
/// Most reports listed for one incident.
pub const MAX_REPORTS_LISTED: usize = 1_000;
/// The report kinds, as stored.
pub const REPORT_KINDS: [&str; 3] = ["initial", "supplement", "final"];

/// Identifier of a filed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FiledReportId(pub uuid::Uuid);

impl FiledReportId {
    /// A new time-ordered (v7) id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for FiledReportId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for FiledReportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for FiledReportId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// A report to file.
#[derive(Debug, Clone)]
pub struct NewFiledReport {
    pub incident_id: IncidentId,
    /// `initial`, `supplement` or `final`.
    pub kind: String,
    /// How many entries of the incident's timeline the report covers (it was built from
    /// entries `0..timeline_upto`); the next supplement starts there.
    pub timeline_upto: u32,
    /// The sequence number of the latest filed report the snapshot was built against (0: none
    /// yet). When another report was filed since, the store refuses with `Conflict`.
    pub previous_seq: u32,
    /// The report as filed: a JSON document.
    pub snapshot: Vec<u8>,
}

impl NewFiledReport {
    /// Refuses an unknown kind and an empty, too large or non-JSON snapshot.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !REPORT_KINDS.contains(&self.kind.as_str()) {
            return Err(ValidationError::new(
                "kind",
                format!(
                    "'{}' is not a report kind (initial, supplement, final)",
                    self.kind
                ),
            ));
        }
        if self.snapshot.is_empty() {
            return Err(ValidationError::new("snapshot", "the report is empty"));
        }
        if self.snapshot.len() > MAX_SNAPSHOT_BYTES {
            return Err(ValidationError::new(
                "snapshot",
                format!(
                    "the report has {} bytes; at most {MAX_SNAPSHOT_BYTES} are stored",
                    self.snapshot.len()
                ),
            ));
        }
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&self.snapshot) {
            return Err(ValidationError::new(
                "snapshot",
                format!("the report is not a JSON document: {e}"),
            ));
        }
        Ok(())
    }

    /// The record as stored under `seq`.
    pub(crate) fn record(
        &self,
        org_id: OrgId,
        seq: u32,
        filed_by: &str,
        filed_at: Timestamp,
    ) -> FiledReport {
        FiledReport {
            id: FiledReportId::new(),
            incident_id: self.incident_id,
            org_id,
            seq,
            kind: self.kind.clone(),
            timeline_upto: self.timeline_upto,
            filed_by: filed_by.to_string(),
            filed_at,
            size: self.snapshot.len() as u64,
            sm3: vigil_crypto::sm3_hex(&self.snapshot),
        }
    }
}

/// A filed report's record (without the snapshot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiledReport {
    pub id: FiledReportId,
    pub incident_id: IncidentId,
    pub org_id: OrgId,
    /// 1 for the incident's first filed report, then 2, 3, ...
    pub seq: u32,
    pub kind: String,
    pub timeline_upto: u32,
    /// The actor (`user:name`, `token:name`).
    pub filed_by: String,
    pub filed_at: Timestamp,
    pub size: u64,
    /// SM3 of the snapshot as filed, lowercase hex (64 digits).
    pub sm3: String,
}

impl FiledReport {
    /// Whether `bytes` are the snapshot this record was filed with (size and SM3 digest).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && vigil_crypto::sm3_hex(bytes) == self.sm3
    }

    /// The incident timeline entry of the filing.
    pub fn timeline_action(&self) -> String {
        format!("report:{}", self.kind)
    }

    pub fn timeline_note(&self) -> String {
        format!("#{} {} (SM3 {})", self.seq, self.id, self.sm3)
    }
}

/// Checks a filing against the reports already filed for the incident (`latest`: the highest
/// sequence number, 0 for none; `has_kind`: whether one of this kind exists) and returns the
/// new report's sequence number.
pub(crate) fn next_seq(spec: &NewFiledReport, latest: u32, has_kind: bool) -> crate::Result<u32> {
    if spec.kind != "supplement" && has_kind {
        return Err(crate::StoreError::Conflict(format!(
            "the incident already has a filed {} report",
            spec.kind
        )));
    }
    if latest != spec.previous_seq {
        return Err(crate::StoreError::Conflict(format!(
            "report #{latest} was filed since this one was made (it follows #{}); make it again",
            spec.previous_seq
        )));
    }
    Ok(latest.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, snapshot: &[u8]) -> NewFiledReport {
        NewFiledReport {
            incident_id: IncidentId::new(),
            kind: kind.into(),
            timeline_upto: 3,
            previous_seq: 0,
            snapshot: snapshot.to_vec(),
        }
    }

    #[test]
    fn kinds_and_snapshots_are_checked() {
        assert!(spec("initial", br#"{"a":1}"#).validate().is_ok());
        assert_eq!(
            spec("draft", b"{}").validate().err().map(|e| e.field),
            Some("kind".into())
        );
        assert_eq!(
            spec("final", b"").validate().err().map(|e| e.field),
            Some("snapshot".into())
        );
        assert_eq!(
            spec("final", b"{not json")
                .validate()
                .err()
                .map(|e| e.field),
            Some("snapshot".into())
        );
    }

    #[test]
    fn sequence_follows_the_latest_and_single_kinds_stay_single() {
        let s = spec("supplement", b"{}");
        assert_eq!(next_seq(&s, 0, false).ok(), Some(1));
        assert!(
            next_seq(&s, 2, true).is_err(),
            "built against #0, #2 exists"
        );
        let s = NewFiledReport {
            previous_seq: 2,
            ..s
        };
        assert_eq!(next_seq(&s, 2, true).ok(), Some(3));
        let i = NewFiledReport {
            previous_seq: 2,
            ..spec("initial", b"{}")
        };
        assert!(next_seq(&i, 2, true).is_err());
        assert_eq!(next_seq(&i, 2, false).ok(), Some(3));
    }
}
