//! Dead letters: input that could not become a stored event (parse failure, oversized frame,
//! no organization, refused by the store), kept in the store's `dead_letters` table with the
//! reason, the sender, the organization when known and the raw bytes (the first 64 KiB and the
//! original length).
//!
//! The processor hands each batch's dead letters to a [`DeadLetterSink`] and goes on: a
//! bounded queue to one writer task that appends them to the store in batches. Good events
//! never wait for dead letters: a full queue drops the dead letters (counted in
//! `vigil_pipeline_dead_letters_dropped_total`), a store failure drops the batch (counted in
//! `vigil_pipeline_dead_letter_store_errors_total`, logged with the count and reasons, never
//! the raw bytes). The writer also prunes the table to the retention (newest N, and none older
//! than D days) at start and every hour. Each dead letter is counted when made
//! (`vigil_pipeline_dead_letters_total{input,reason}`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use vigil_model::OrgId;
use vigil_store::{DeadLetterRetention, NewDeadLetter, Store};

pub use vigil_store::DeadLetterReason as Reason;
pub use vigil_store::dead_letters::MAX_DEAD_LETTER_RAW as MAX_RAW;

/// Batches waiting for the writer, at most.
const QUEUE_BATCHES: usize = 256;
/// Dead letters per store append, at most.
const APPEND_MAX: usize = 1_000;
/// How often the table is pruned to the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// One dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub reason: Reason,
    /// What went wrong, for people.
    pub detail: String,
    pub input: String,
    pub sender: Option<String>,
    pub received_at: Timestamp,
    pub raw: Vec<u8>,
    /// The organization the sender was authenticated as, when known.
    pub org: Option<OrgId>,
}

impl DeadLetter {
    /// The store keeps the first [`MAX_RAW`] bytes and the original length (`raw_len`), so
    /// the bytes go over whole.
    fn into_new(self) -> NewDeadLetter {
        NewDeadLetter {
            received_at: self.received_at,
            source: self.input,
            sender: self.sender,
            reason: self.reason,
            detail: self.detail,
            raw: self.raw,
            org_id: self.org,
        }
    }
}

/// How many dead letters the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest this many, at most.
    pub keep: u64,
    /// None received more than this many days ago; 0 keeps them regardless of age.
    pub keep_days: u32,
}

impl Default for Retention {
    /// 100,000 dead letters of at most 30 days (at most about 13 GiB of raw bytes when every
    /// one is a full 64 KiB frame; typically a few hundred bytes each).
    fn default() -> Self {
        Retention {
            keep: 100_000,
            keep_days: 30,
        }
    }
}

impl Retention {
    fn at(self, now: Timestamp) -> DeadLetterRetention {
        let older_than = (self.keep_days > 0)
            .then(|| {
                now.checked_sub(jiff::SignedDuration::from_hours(
                    24 * i64::from(self.keep_days),
                ))
                .ok()
            })
            .flatten();
        DeadLetterRetention {
            keep_newest: self.keep,
            older_than,
        }
    }
}

/// Counters of the sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Dead letters written to the store.
    pub written: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Dropped because the store refused the append.
    pub store_errors: AtomicU64,
    /// Removed by the retention.
    pub pruned: AtomicU64,
}

/// The processor's handle: hands batches to the writer task without waiting.
#[derive(Debug, Clone)]
pub struct DeadLetterSink {
    tx: mpsc::Sender<Vec<DeadLetter>>,
    stats: Arc<SinkStats>,
}

impl DeadLetterSink {
    /// Starts the writer task; it ends once every sink clone is dropped and the queue is
    /// written.
    pub fn start(
        store: Arc<dyn Store>,
        retention: Retention,
        stats: Arc<SinkStats>,
    ) -> (DeadLetterSink, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        let task = tokio::spawn(writer(store, rx, retention, stats.clone()));
        (DeadLetterSink { tx, stats }, task)
    }

    /// Queues a batch for the store; never waits. `false` when the queue was full and the
    /// batch was dropped (counted).
    pub fn send(&self, letters: Vec<DeadLetter>) -> bool {
        if letters.is_empty() {
            return true;
        }
        let n = letters.len() as u64;
        match self.tx.try_send(letters) {
            Ok(()) => true,
            Err(_) => {
                self.stats.dropped.fetch_add(n, Ordering::Relaxed);
                metrics::counter!("vigil_pipeline_dead_letters_dropped_total").increment(n);
                tracing::warn!(
                    dead_letters = n,
                    "pipeline: dead-letter queue full, dead letters dropped"
                );
                false
            }
        }
    }

    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

async fn prune(store: &dyn Store, retention: Retention, stats: &SinkStats) {
    match store
        .prune_dead_letters(retention.at(Timestamp::now()))
        .await
    {
        Ok(n) => {
            stats.pruned.fetch_add(n, Ordering::Relaxed);
            if n > 0 {
                tracing::info!(removed = n, "pipeline: dead letters pruned");
            }
        }
        Err(e) => tracing::warn!(error = %e, "pipeline: pruning dead letters failed"),
    }
}

async fn writer(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Vec<DeadLetter>>,
    retention: Retention,
    stats: Arc<SinkStats>,
) {
    prune(&*store, retention, &stats).await;
    let mut pruned_at = tokio::time::Instant::now();
    let mut pending: Vec<DeadLetter> = Vec::new();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(b) => pending = b,
                None => break,
            }
        }
        while pending.len() < APPEND_MAX {
            match rx.try_recv() {
                Ok(mut b) => pending.append(&mut b),
                Err(_) => break,
            }
        }
        let rest = if pending.len() > APPEND_MAX {
            pending.split_off(APPEND_MAX)
        } else {
            Vec::new()
        };
        let batch = std::mem::replace(&mut pending, rest);
        let n = batch.len() as u64;
        let reasons: std::collections::BTreeSet<&'static str> =
            batch.iter().map(|d| d.reason.as_str()).collect();
        let reasons = reasons.into_iter().collect::<Vec<_>>().join(",");
        let rows = batch.into_iter().map(DeadLetter::into_new).collect();
        match store.append_dead_letters(rows).await {
            Ok(_) => {
                stats.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                stats.store_errors.fetch_add(n, Ordering::Relaxed);
                metrics::counter!("vigil_pipeline_dead_letter_store_errors_total").increment(n);
                // The error and the counts only: never the raw bytes.
                tracing::error!(error = %e, dead_letters = n, reasons = %reasons, "pipeline: storing dead letters failed, dropped");
            }
        }
        if pruned_at.elapsed() >= PRUNE_EVERY {
            prune(&*store, retention, &stats).await;
            pruned_at = tokio::time::Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_store::{DeadLetterQuery, SqliteStore};

    fn letter(i: usize, raw: Vec<u8>) -> DeadLetter {
        DeadLetter {
            reason: Reason::Parse,
            detail: format!("bad {i}"),
            input: "tcp".into(),
            sender: Some("10.0.0.1:5000".into()),
            received_at: Timestamp::from_second(1_700_000_000 + i as i64).expect("time"),
            raw,
            org: None,
        }
    }

    #[tokio::test]
    async fn batches_reach_the_store_and_the_writer_ends_with_the_sinks() {
        let dir = tempfile::tempdir().expect("tmp");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).expect("open"));
        let stats = Arc::new(SinkStats::default());
        let (sink, task) =
            DeadLetterSink::start(store.clone(), Retention::default(), stats.clone());
        assert!(sink.send(vec![
            letter(0, b"x".to_vec()),
            letter(1, vec![b'y'; MAX_RAW + 5])
        ]));
        assert!(sink.send(vec![]));
        drop(sink);
        task.await.expect("writer");
        assert_eq!(stats.written.load(Ordering::Relaxed), 2);
        let page = store
            .search_dead_letters(vigil_model::Scope::All, &DeadLetterQuery::default())
            .await
            .expect("search");
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].raw_len, (MAX_RAW + 5) as u64);
        assert_eq!(page.items[0].raw.len(), MAX_RAW);
        assert_eq!(page.items[1].raw, b"x");
    }

    #[test]
    fn retention_days_become_a_time() {
        let now = Timestamp::from_second(1_700_000_000).expect("t");
        let r = Retention {
            keep: 5,
            keep_days: 1,
        }
        .at(now);
        assert_eq!(r.keep_newest, 5);
        assert_eq!(
            r.older_than,
            Timestamp::from_second(1_700_000_000 - 86_400).ok()
        );
        let r = Retention {
            keep: 5,
            keep_days: 0,
        }
        .at(now);
        assert_eq!(r.older_than, None);
    }
}
