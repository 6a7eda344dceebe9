//! TAXII state kept across restarts: the polling state of each TAXII feed Vigil pulls from
//! (watermark, last success, last error, counters), and the status resources of the writes
//! Vigil's own TAXII server accepted (`GET {api-root}/status/{id}/`).
//!
//! Both are platform-wide (feeds are platform configuration, statuses are looked up by their
//! unguessable id); callers check the role.

use serde::{Deserialize, Serialize};
use vigil_model::{Timestamp, ValidationError};

/// Longest error message kept for a feed (the rest is cut).
pub const MAX_FEED_ERROR: usize = 2_000;
/// Longest feed name.
pub const MAX_FEED_NAME: usize = 200;
/// Largest status resource body stored (JSON text).
pub const MAX_STATUS_BYTES: usize = 4 << 20;
/// Status resources older than this are dropped when a new one is stored.
pub const STATUS_KEPT_DAYS: i64 = 30;

/// The polling state of one TAXII feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxiiFeedState {
    /// The feed's configured name (unique).
    pub name: String,
    /// The collection URL of the last poll (without credentials).
    pub collection_url: String,
    /// `added_after` for the next poll: the newest `date_added` the peer reported.
    pub watermark: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    /// The error of the last failed poll; cleared by a success.
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    pub polls: u64,
    pub failures: u64,
    /// Objects fetched and handed to the import, over all polls.
    pub objects_imported: u64,
    pub updated_at: Timestamp,
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxiiFeedPoll {
    /// The poll fetched and imported `objects`; the next poll starts after `watermark`
    /// (`None` keeps the stored one).
    Success {
        watermark: Option<Timestamp>,
        objects: u64,
    },
    /// The poll failed; the watermark stays.
    Failure { error: String },
}

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Checks a feed name and URL before a poll is recorded.
pub fn validate_feed(name: &str, collection_url: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() || name.len() > MAX_FEED_NAME {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    if collection_url.is_empty() || collection_url.len() > 2_000 {
        return Err(invalid("collection_url", "must be 1 to 2000 characters"));
    }
    Ok(())
}

impl TaxiiFeedState {
    /// The state after `poll` at `at`, from the previous state (if any). A changed collection
    /// URL starts over: the old watermark belongs to another collection.
    pub fn apply(
        prev: Option<Self>,
        name: &str,
        collection_url: &str,
        poll: TaxiiFeedPoll,
        at: Timestamp,
    ) -> Self {
        let mut s = match prev {
            Some(p) if p.collection_url == collection_url => p,
            _ => Self {
                name: name.to_string(),
                collection_url: collection_url.to_string(),
                watermark: None,
                last_attempt_at: None,
                last_success_at: None,
                last_error: None,
                last_error_at: None,
                consecutive_failures: 0,
                polls: 0,
                failures: 0,
                objects_imported: 0,
                updated_at: at,
            },
        };
        s.polls += 1;
        s.last_attempt_at = Some(at);
        s.updated_at = at;
        match poll {
            TaxiiFeedPoll::Success { watermark, objects } => {
                if watermark.is_some() {
                    s.watermark = watermark;
                }
                s.objects_imported = s.objects_imported.saturating_add(objects);
                s.last_success_at = Some(at);
                s.last_error = None;
                s.consecutive_failures = 0;
            }
            TaxiiFeedPoll::Failure { error } => {
                let mut e = error;
                if e.len() > MAX_FEED_ERROR {
                    let mut cut = MAX_FEED_ERROR;
                    while !e.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    e.truncate(cut);
                }
                s.last_error = Some(e);
                s.last_error_at = Some(at);
                s.failures += 1;
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            }
        }
        s
    }
}

/// A TAXII status resource as served (`{id, status, request_timestamp, total_count, ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxiiStatus {
    /// The status id (a UUID string).
    pub id: String,
    pub body: serde_json::Value,
    pub created_at: Timestamp,
}

impl TaxiiStatus {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.id.is_empty() || self.id.len() > 100 {
            return Err(invalid("id", "must be 1 to 100 characters"));
        }
        if self.body.to_string().len() > MAX_STATUS_BYTES {
            return Err(invalid("body", "is too large"));
        }
        Ok(())
    }
}
