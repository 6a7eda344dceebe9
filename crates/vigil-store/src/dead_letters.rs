//! Dead letters (issue 4): input the pipeline received but could not turn into a stored event
//! (a parse failure, an oversized frame, no organization, an event the store refused), kept
//! with the reason, the sender and the raw bytes so that operators can search them.
//!
//! The raw bytes are kept up to [`MAX_DEAD_LETTER_RAW`] with the original length beside them.
//! Text search is case-insensitive over the detail, the sender and the raw bytes read as
//! UTF-8 (invalid sequences replaced), through a lowercased search column both backends fill
//! the same way ([`search_text`]). Retention is the caller's: [`DeadLetterRetention`] keeps
//! the newest N and drops those older than a time.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_model::{OrgId, Timestamp, ValidationError};

/// Raw bytes kept per dead letter.
pub const MAX_DEAD_LETTER_RAW: usize = 64 << 10;
/// Longest detail kept (longer ones are cut at a character boundary).
pub const MAX_DEAD_LETTER_DETAIL: usize = 2048;
/// Longest source or sender name kept.
pub const MAX_DEAD_LETTER_NAME: usize = 256;
/// Most dead letters one append takes.
pub const MAX_DEAD_LETTER_BATCH: usize = 10_000;

/// Why an input became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// The parser refused it.
    Parse,
    /// Longer than the listener's maximum frame.
    Oversized,
    /// No asset or organization matched and no default organization is configured.
    Unattributed,
    /// The store refused the event as invalid.
    Invalid,
}

impl DeadLetterReason {
    pub const ALL: [DeadLetterReason; 4] = [
        DeadLetterReason::Parse,
        DeadLetterReason::Oversized,
        DeadLetterReason::Unattributed,
        DeadLetterReason::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Parse => "parse",
            DeadLetterReason::Oversized => "oversized",
            DeadLetterReason::Unattributed => "unattributed",
            DeadLetterReason::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A dead letter to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadLetter {
    pub received_at: Timestamp,
    /// The listener (source) name; `api` for the HTTP bulk API.
    pub source: String,
    /// The peer address or API actor, when known.
    pub sender: Option<String>,
    pub reason: DeadLetterReason,
    /// What went wrong, for people.
    pub detail: String,
    /// The received bytes (cut to [`MAX_DEAD_LETTER_RAW`] when stored).
    pub raw: Vec<u8>,
    /// The organization the input was sent as, when known (a mapped client certificate, an
    /// API token).
    pub org_id: Option<OrgId>,
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub id: Uuid,
    pub received_at: Timestamp,
    pub source: String,
    pub sender: Option<String>,
    pub reason: DeadLetterReason,
    pub detail: String,
    /// The kept bytes (at most [`MAX_DEAD_LETTER_RAW`]).
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// Length of the input as received.
    pub raw_len: u64,
    pub org_id: Option<OrgId>,
}

/// Filters over dead letters; every one given must hold. Newest first by `received_at`.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterQuery {
    pub reason: Option<DeadLetterReason>,
    /// Exact source name.
    pub source: Option<String>,
    /// `received_at >= since`.
    pub since: Option<Timestamp>,
    /// `received_at < until`.
    pub until: Option<Timestamp>,
    /// Case-insensitive substring of the detail, the sender or the raw bytes as text.
    pub text: Option<String>,
    /// Page size (see [`crate::page_size`]).
    pub limit: usize,
    pub cursor: Option<String>,
}

/// What [`crate::Store::prune_dead_letters`] keeps: at most `keep_newest` rows, none
/// received before `older_than`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterRetention {
    pub keep_newest: u64,
    pub older_than: Option<Timestamp>,
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl NewDeadLetter {
    /// The form the store keeps: raw bytes, detail and names cut to their limits, and the
    /// original length. Refuses an empty source name.
    pub(crate) fn bounded(&self) -> Result<(DeadLetter, String), ValidationError> {
        if self.source.is_empty() {
            return Err(ValidationError {
                field: "source".into(),
                message: "must not be empty".into(),
            });
        }
        let d = DeadLetter {
            id: Uuid::now_v7(),
            received_at: self.received_at,
            source: cut(&self.source, MAX_DEAD_LETTER_NAME),
            sender: self.sender.as_deref().map(|s| cut(s, MAX_DEAD_LETTER_NAME)),
            reason: self.reason,
            detail: cut(&self.detail, MAX_DEAD_LETTER_DETAIL),
            raw: self.raw[..self.raw.len().min(MAX_DEAD_LETTER_RAW)].to_vec(),
            raw_len: self.raw.len() as u64,
            org_id: self.org_id,
        };
        let text = search_text(&d);
        Ok((d, text))
    }
}

/// A batch in the form the store keeps, each with its search text; refuses batches over
/// [`MAX_DEAD_LETTER_BATCH`] and dead letters without a source.
pub(crate) fn prepare_batch(
    batch: &[NewDeadLetter],
) -> Result<Vec<(DeadLetter, String)>, ValidationError> {
    if batch.len() > MAX_DEAD_LETTER_BATCH {
        return Err(ValidationError {
            field: "dead_letters".into(),
            message: format!("at most {MAX_DEAD_LETTER_BATCH} per append"),
        });
    }
    batch.iter().map(NewDeadLetter::bounded).collect()
}

/// The lowercased text a search matches against: detail, sender and the raw bytes as UTF-8
/// (invalid sequences replaced; NUL as a space, which PostgreSQL text cannot hold).
pub(crate) fn search_text(d: &DeadLetter) -> String {
    let raw = String::from_utf8_lossy(&d.raw);
    let mut s = String::with_capacity(d.detail.len() + raw.len() + 64);
    s.push_str(&d.detail);
    s.push('\n');
    s.push_str(d.sender.as_deref().unwrap_or(""));
    s.push('\n');
    s.push_str(&raw);
    s.replace('\0', " ").to_lowercase()
}

/// The needle of a text search as the search column holds it.
pub(crate) fn needle(q: &DeadLetterQuery) -> Option<String> {
    q.text
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| t.replace('\0', " ").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_raw_and_detail_and_keeps_the_length() {
        let d = NewDeadLetter {
            received_at: Timestamp::UNIX_EPOCH,
            source: "tcp".into(),
            sender: None,
            reason: DeadLetterReason::Parse,
            detail: "é".repeat(MAX_DEAD_LETTER_DETAIL),
            raw: vec![b'A'; MAX_DEAD_LETTER_RAW + 10],
            org_id: None,
        };
        let (b, text) = d.bounded().unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(b.raw.len(), MAX_DEAD_LETTER_RAW);
        assert_eq!(b.raw_len, (MAX_DEAD_LETTER_RAW + 10) as u64);
        assert!(b.detail.len() <= MAX_DEAD_LETTER_DETAIL);
        assert!(text.contains("aaaa"));
        for r in DeadLetterReason::ALL {
            assert_eq!(DeadLetterReason::parse(r.as_str()), Some(r));
        }
    }
}
