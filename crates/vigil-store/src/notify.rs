//! The notification outbox: deliveries of e-mails and webhook messages waiting to be sent,
//! being sent, sent, or given up on.
//!
//! A delivery is written before anything is sent ([`Store::enqueue_deliveries`]), so a
//! restart loses nothing. Workers take due deliveries with a lease
//! ([`Store::claim_deliveries`]): the claim moves them to `sending`, counts the attempt and
//! sets `lease_until`; a delivery whose lease ran out (its worker died) is due again. A
//! worker reports the outcome with the attempt number it claimed
//! ([`Store::finish_delivery`]); a report for an attempt that is no longer current (the
//! lease expired and another worker claimed it) changes nothing, so two workers never both
//! record an outcome for one attempt.
//!
//! Deliveries belong to an organization (the one notified) and are listed by scope.
//!
//! [`Store::enqueue_deliveries`]: crate::Store::enqueue_deliveries
//! [`Store::claim_deliveries`]: crate::Store::claim_deliveries
//! [`Store::finish_delivery`]: crate::Store::finish_delivery

use serde::{Deserialize, Serialize};
use vigil_model::{OrgId, Timestamp, ValidationError};

/// Identifier of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub uuid::Uuid);

impl DeliveryId {
    /// A new time-ordered (v7) id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for DeliveryId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for DeliveryId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or for a retry at `next_attempt_at`.
    Pending,
    /// Claimed by a worker until `lease_until`.
    Sending,
    /// Accepted by the mail server or the webhook.
    Sent,
    /// Given up: a permanent failure or the last attempt failed.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Longest subject stored.
pub const MAX_SUBJECT: usize = 1_000;
/// Longest body stored (markdown).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest error text kept; longer ones are cut (on a character boundary).
pub const MAX_ERROR: usize = 2_000;

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// A message to deliver on one channel to one recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The organization the message concerns (who may see the delivery).
    pub org_id: OrgId,
    /// The configured channel: `email` or a webhook channel's name.
    pub channel: String,
    /// `email`, `generic`, `dingtalk`, `wecom`.
    pub kind: String,
    /// Who receives it: an e-mail address, or the webhook's address without its query
    /// (robot keys travel in the query and are never stored here).
    pub recipient: String,
    /// What the message is about: `incident`, `warning`, ...
    pub reference_kind: String,
    pub reference_id: String,
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// Attempts before giving up (at least 1).
    pub max_attempts: u32,
    /// Not before this time (normally now).
    pub not_before: Timestamp,
}

impl NewDelivery {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, v, max) in [
            ("channel", &self.channel, 100),
            ("kind", &self.kind, 32),
            ("recipient", &self.recipient, 1_000),
            ("reference_kind", &self.reference_kind, 32),
            ("reference_id", &self.reference_id, 200),
        ] {
            if v.trim().is_empty() || v.len() > max {
                return Err(invalid(field, &format!("must be 1 to {max} characters")));
            }
        }
        if self.subject.trim().is_empty() || self.subject.len() > MAX_SUBJECT {
            return Err(invalid("subject", "must be 1 to 1000 characters"));
        }
        if self.body.len() > MAX_BODY {
            return Err(invalid("body", "is longer than 64 KiB"));
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(invalid("max_attempts", "must be 1 to 100"));
        }
        Ok(())
    }
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    #[serde(flatten)]
    pub spec: NewDelivery,
    pub status: DeliveryStatus,
    /// Attempts started so far (a claim counts one).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When it is due (pending), `None` once sent or failed.
    pub next_attempt_at: Option<Timestamp>,
    /// While sending: when the claim runs out.
    pub lease_until: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Sent,
    /// Failed for now; due again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Failed for good.
    Failed {
        error: String,
    },
}

/// Filters for listing deliveries; newest first by creation.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub org_id: Option<OrgId>,
    pub reference_kind: Option<String>,
    pub reference_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub channel: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// `error` cut to [`MAX_ERROR`] bytes on a character boundary.
pub fn clip_error(error: &str) -> String {
    if error.len() <= MAX_ERROR {
        return error.to_string();
    }
    let mut end = MAX_ERROR;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_errors_are_clipped() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("done"), None);
        let long = "错".repeat(1_000);
        let c = clip_error(&long);
        assert!(c.len() <= MAX_ERROR + '…'.len_utf8());
        assert!(c.ends_with('…'));
        assert_eq!(clip_error("short"), "short");
    }
}
