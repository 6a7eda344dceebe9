//! Audit records: who did what to which object, when, and how it ended.

use crate::{OrgId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    /// Refused for lack of permission or bad credentials.
    Denied,
    /// Attempted and failed (invalid input, store error).
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// An audit record to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditRecord {
    /// `user:alice`, `token:sensor-7`, `system`.
    pub actor: String,
    /// `org.create`, `incident.update`, `auth.login`...
    pub action: String,
    /// `organization/0194...`, `user/bob`.
    pub object: String,
    pub outcome: AuditOutcome,
    /// The organization the object belongs to, when it belongs to one.
    pub org_id: Option<OrgId>,
    /// Free-form detail; never a secret.
    pub detail: String,
}

/// A stored audit record. `hash` is SM3 over the previous record's hash and this record's
/// content, so any altered, removed or reordered record breaks the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: Timestamp,
    #[serde(flatten)]
    pub record: NewAuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The canonical bytes the chain hash covers (everything but the hashes themselves).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let r = &self.record;
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.seq,
            self.at.as_microsecond(),
            r.actor,
            r.action,
            r.object,
            r.outcome.as_str(),
            r.org_id.map(|o| o.to_string()).unwrap_or_default(),
            r.detail
        )
        .into_bytes()
    }
}
