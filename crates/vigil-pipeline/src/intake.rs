//! The HTTP bulk API's way into the pipeline: validated ECS lines appended to the spool as
//! [`RecordKind::Event`] records, acknowledged once the append is synced, then processed like
//! listener traffic (attribution, Sigma with correlation state, indicators, store, alerts and
//! incidents).
//!
//! Appends go straight to the spool (serialized there with the spool writer thread), not
//! through the listeners' queue: the API answers at once with 503 when the spool is over its
//! bound instead of holding the request while the queue waits.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::Stats;
use crate::spool::{Record, RecordKind, Spool, SpoolError};
use jiff::Timestamp;
use vigil_model::OrgId;

/// The input name of HTTP-ingested records (provenance, metrics, dead letters).
pub const HTTP_INPUT: &str = "api";

/// Why an HTTP batch was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Backpressure: the spool holds its maximum; retry after the processor caught up.
    #[error("the spool is full ({used} of {max} bytes)")]
    Full { used: u64, max: u64 },
    /// One line is larger than a spool record may be.
    #[error("a line of {0} bytes exceeds the spool's record limit")]
    TooLarge(usize),
    #[error("spool: {0}")]
    Spool(String),
}

/// One validated API line on its way to the spool.
#[derive(Debug, Clone)]
pub struct IntakeLine {
    /// The organization the API resolved (line, query or the token's); `None` leaves it to
    /// attribution by host and addresses.
    pub org: Option<OrgId>,
    pub line: Vec<u8>,
}

/// A cheap, cloneable handle the web layer keeps.
#[derive(Debug, Clone)]
pub struct Intake {
    pub(crate) spool: Spool,
    pub(crate) stats: Arc<Stats>,
    pub(crate) spool_max: u64,
}

impl Intake {
    /// Appends the lines as one spool batch (all or none) and returns the spool position
    /// after it, once durable per the spool's fsync policy.
    pub async fn append(
        &self,
        sender: Option<String>,
        received_at: Timestamp,
        lines: Vec<IntakeLine>,
    ) -> Result<u64, IntakeError> {
        let n = lines.len() as u64;
        let records: Vec<Record> = lines
            .into_iter()
            .map(|l| Record {
                kind: RecordKind::Event,
                received_at,
                input: HTTP_INPUT.into(),
                sender: sender.clone(),
                org: l.org,
                data: l.line,
            })
            .collect();
        let spool = self.spool.clone();
        let res = tokio::task::spawn_blocking(move || spool.append(&records))
            .await
            .map_err(|e| IntakeError::Spool(e.to_string()))?;
        match res {
            Ok(end) => {
                self.stats.received.fetch_add(n, Ordering::Relaxed);
                self.stats.spooled.fetch_add(n, Ordering::Relaxed);
                if let Some(i) = self.stats.inputs.get(HTTP_INPUT) {
                    i.note_received_many(n);
                    i.spooled.fetch_add(n, Ordering::Relaxed);
                }
                metrics::counter!("vigil_pipeline_received_total", "input" => HTTP_INPUT)
                    .increment(n);
                metrics::counter!("vigil_pipeline_spooled_total").increment(n);
                Ok(end)
            }
            Err(SpoolError::Full { used, max }) => {
                self.stats.spool_full.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("vigil_pipeline_spool_full_total").increment(1);
                Err(IntakeError::Full { used, max })
            }
            Err(SpoolError::TooLarge(n)) => Err(IntakeError::TooLarge(n)),
            Err(e) => {
                tracing::error!(error = %e, "pipeline: spooling HTTP events failed");
                Err(IntakeError::Spool(e.to_string()))
            }
        }
    }

    /// Counts lines the API refused before spooling (invalid JSON or fields, organization
    /// out of scope) on the HTTP source's row: received and rejected.
    pub fn note_rejected(&self, n: u64) {
        if n == 0 {
            return;
        }
        if let Some(i) = self.stats.inputs.get(HTTP_INPUT) {
            i.note_received_many(n);
            i.rejected.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Bytes the spool may hold.
    pub fn spool_max(&self) -> u64 {
        self.spool_max
    }

    /// Bytes in the spool now.
    pub fn spool_used(&self) -> u64 {
        self.spool.used_bytes()
    }
}
