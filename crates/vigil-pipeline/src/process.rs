//! The processing stage: spool → parse → attribute → detect → store → checkpoint.
//!
//! Two stages overlap. The processor task reads a batch from the spool and has it parsed,
//! attributed and evaluated on the detection thread ([`Worker`]), in spool order, so
//! correlation state follows event order. The prepared batch then goes to the store stage, a
//! task of its own ([`StoreStage::store`]) that appends its events, hands on its dead letters,
//! creates its alerts and sightings and only then moves the checkpoint past it. While it does,
//! the processor reads and prepares the next batch; that one is handed over only when the
//! previous store task has finished. So at most two batches are in flight, the store sees
//! them in spool order, the checkpoint never passes an unstored batch, and the in-flight
//! marker (written by the store stage) always names the batch starting at the checkpoint. A
//! crash anywhere replays from the checkpoint (at least once; exactly once for HTTP batches
//! through the marker).
//!
//! When the store fails, no batch is dropped: the reader is moved back to the failed batch's
//! first record (the checkpoint), the prepared batch after it is discarded unstored, the
//! directory is reloaded (a deleted organization is the likely permanent cause), and both are
//! processed again in order after a growing pause (up to 5 s). Meanwhile the spool fills up,
//! which is how store trouble becomes backpressure on the listeners.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::watch;
use vigil_ingest::ParseContext;
use vigil_model::{Alert, EventId, NewAlert, NewEvent, OrgId, Provenance, Scope};
use vigil_sigma::{CorrelationEngine, Scratch};
use vigil_store::{NewSighting, Store};

use crate::Stats;
use crate::deadletter::{DeadLetter, DeadLetterSink, Reason};
use crate::detect::{Detector, EventMeta, Hit};
use crate::directory::Directory;
use crate::intel::{IntelHit, IntelMatcher};
use crate::spool::{
    InFlight, PendingAlerts, PendingEvent, RecordKind, Spool, SpoolReader, SpooledRecord,
    placeholder, placeholder_index,
};

/// The field HTTP-ingested events carry their spool offset in: the probe that tells, after a
/// crash, whether the batch in flight was stored (see [`InFlight`]).
pub const INGEST_OFFSET_FIELD: &str = "vigil.ingest.offset";

/// Zones of the sources by input name, for times without an offset (RFC 3164). Shared with
/// [`crate::sources::SourceControl`], which sets a source's zone whenever it (re)starts it, so
/// sources added or changed at runtime get theirs too.
pub(crate) type Zones = Arc<std::sync::RwLock<HashMap<String, jiff::tz::TimeZone>>>;

/// Bytes of record data read from the spool per batch, at most.
const MAX_BATCH_BYTES: usize = 16 << 20;

pub(crate) struct Processor {
    pub store: Arc<dyn Store>,
    pub spool: Spool,
    pub reader: SpoolReader,
    pub detector: Option<Arc<Detector>>,
    pub worker: Worker,
    pub dead: DeadLetterSink,
    pub default_org: Option<OrgId>,
    pub batch_max: usize,
    pub refresh: Duration,
    pub stats: Arc<Stats>,
    /// Aggregates the created alerts into incidents (vigil-aggregator).
    pub aggregator: Option<Arc<vigil_aggregator::Aggregator>>,
    /// The current indicator set, published by the intel refresh task; `None` inside until
    /// the first load was attempted.
    pub intel: watch::Receiver<Option<Arc<IntelMatcher>>>,
    /// Severity of indicator alerts whose confidence is unknown.
    pub intel_severity: vigil_model::Severity,
}

/// A batch after parsing, attribution and detection.
struct Prepared {
    events: Vec<NewEvent>,
    /// Per event (same index): its hits.
    hits: Vec<Vec<Hit>>,
    /// Per event (same index): its spool offset.
    offsets: Vec<u64>,
    /// Correlation alerts, each with the index of the event that completed it.
    correlated: Vec<(usize, NewAlert)>,
    /// Indicator hits, each with the index of its event (events without hits left out).
    intel: Vec<(usize, Vec<IntelHit>)>,
    dead: Vec<DeadLetter>,
    rejected: u64,
    unattributed: u64,
    /// Oldest receive time in the batch, for the lag gauge.
    oldest: Option<Timestamp>,
    /// The first HTTP event of the batch: (spool offset, organization, event time).
    probe: Option<(u64, OrgId, Timestamp)>,
}

fn sender_ip(sender: Option<&str>) -> Option<IpAddr> {
    let s = sender?;
    s.parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<IpAddr>())
        .ok()
}

/// Correlation engines, one per organization, so windows never mix organizations.
type Engines<'r> = HashMap<OrgId, CorrelationEngine<'r>>;
/// Organizations with correlation state, at most (bounds memory with the per-engine limits).
const MAX_ENGINES: usize = 10_000;
/// Event times further ahead of the receive time are clamped to it for correlation: one
/// event stamped in the future would otherwise make every later event "late".
const MAX_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

fn prepare<'r>(
    batch: Vec<SpooledRecord>,
    dir: &Directory,
    detector: Option<&'r Detector>,
    default_org: Option<OrgId>,
    engines: &mut Engines<'r>,
    intel: Option<&IntelMatcher>,
    zones: &Zones,
) -> Prepared {
    // One instant per batch for indicator validity.
    let now = Timestamp::now();
    let intel = intel.filter(|m| !m.is_empty());
    let mut p = Prepared {
        events: Vec::with_capacity(batch.len()),
        hits: Vec::with_capacity(batch.len()),
        offsets: Vec::with_capacity(batch.len()),
        correlated: Vec::new(),
        intel: Vec::new(),
        dead: Vec::new(),
        rejected: 0,
        unattributed: 0,
        oldest: None,
        probe: None,
    };
    let mut scratch = Scratch::new();
    let mut matches = Vec::new();
    let mut last_ls: Option<(vigil_ingest::LogSource, vigil_sigma::LogSource)> = None;
    // Read once per batch: a source (re)started meanwhile applies from the next batch.
    let zones = zones
        .read()
        .map(|z| z.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    for sr in batch {
        let offset = sr.offset;
        let r = sr.record;
        p.oldest = Some(p.oldest.map_or(r.received_at, |o| o.min(r.received_at)));
        let dead = |reason, detail: String, raw: Vec<u8>| DeadLetter {
            reason,
            detail,
            input: r.input.clone(),
            sender: r.sender.clone(),
            received_at: r.received_at,
            raw,
            org: r.org,
        };
        if r.kind == RecordKind::Oversized {
            p.dead.push(dead(
                Reason::Oversized,
                "frame longer than the listener's max_frame_bytes (first bytes kept)".into(),
                r.data,
            ));
            continue;
        }
        let mut ctx = ParseContext::new(r.received_at);
        if let Some(tz) = zones.get(&r.input) {
            ctx = ctx.with_tz(tz.clone());
        }
        let http = r.kind == RecordKind::Event;
        let res = if http {
            // Validated by the API already; the generic JSON reader flattens it the same way
            // and derives the Sigma log source from event.dataset / event.module.
            vigil_ingest::json::parse_json(&r.data, &ctx)
        } else {
            vigil_ingest::detect_and_parse(&r.data, &ctx)
        };
        let parsed = match res {
            Ok(x) => x,
            Err(e) => {
                p.rejected += 1;
                p.dead.push(dead(Reason::Parse, e.to_string(), r.data));
                continue;
            }
        };
        // Runs of events share their log source: converted once per run, not per event.
        if last_ls
            .as_ref()
            .is_some_and(|(ls, _)| *ls != parsed.logsource)
        {
            last_ls = None;
        }
        let (_, sigma_ls) = &*last_ls.get_or_insert_with(|| {
            let ls = &parsed.logsource;
            let mut sigma_ls = vigil_sigma::LogSource::new();
            sigma_ls.product = ls.product.as_ref().map(|s| s.to_string());
            sigma_ls.category = ls.category.as_ref().map(|s| s.to_string());
            sigma_ls.service = ls.service.as_ref().map(|s| s.to_string());
            (ls.clone(), sigma_ls)
        });
        // Attribution reads event fields, so the event is built first with a placeholder
        // organization and fixed up (or dead-lettered) right after.
        let provenance = Provenance {
            input: r.input.clone(),
            sender: r.sender.clone(),
        };
        let mut event = parsed.into_event(OrgId(uuid::Uuid::nil()), provenance, r.received_at);
        let owner = dir.attribute(&event, sender_ip(r.sender.as_deref()));
        match (r.org, owner) {
            // An authenticated sender's organization wins; an asset is kept only when it is
            // that organization's (a sender cannot claim another organization's host).
            (Some(org), owner) => {
                event.org_id = org;
                event.asset_id = owner.filter(|o| o.org_id == org).and_then(|o| o.asset_id);
                // The API checked a named asset against this organization before spooling.
                if http && let Some(asset) = http_asset(&r.data) {
                    event.asset_id = Some(asset);
                }
            }
            (None, Some(owner)) => {
                event.org_id = owner.org_id;
                event.asset_id = owner.asset_id;
            }
            (None, None) => match default_org {
                Some(org) => event.org_id = org,
                None => {
                    p.unattributed += 1;
                    p.dead.push(dead(
                        Reason::Unattributed,
                        "no asset matches the host, sender or addresses, and no default organization is configured".into(),
                        std::mem::take(&mut event.raw),
                    ));
                    continue;
                }
            },
        }
        if http {
            event.fields.insert(
                INGEST_OFFSET_FIELD.to_string(),
                serde_json::Value::from(offset),
            );
            if p.probe.is_none() {
                p.probe = Some((offset, event.org_id, event.timestamp));
            }
        }
        let mut hits = Vec::new();
        if let Some(d) = detector {
            hits = d.evaluate(&event, sigma_ls, &mut scratch, &mut matches);
            if d.correlation_count() > 0 {
                let engines_len = engines.len();
                let engine = match engines.entry(event.org_id) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
                    std::collections::hash_map::Entry::Vacant(e) if engines_len < MAX_ENGINES => {
                        Some(e.insert(d.correlation_engine()))
                    }
                    std::collections::hash_map::Entry::Vacant(_) => None,
                };
                if let Some(engine) = engine {
                    let limit = r.received_at.checked_add(MAX_SKEW).unwrap_or(r.received_at);
                    let time = event.timestamp.min(limit);
                    for a in d.correlate(engine, &event, time, &matches) {
                        p.correlated.push((p.events.len(), a));
                    }
                }
            }
        }
        if let Some(m) = intel {
            let h = m.match_event(&event, now);
            if !h.is_empty() {
                p.intel.push((p.events.len(), h));
            }
        }
        p.events.push(event);
        p.hits.push(hits);
        p.offsets.push(offset);
    }
    if p.probe.is_some() {
        // A batch with HTTP events may be skipped at the next start (see `InFlight`); its
        // other events carry their offset too, so that the alerts of a skipped batch can find
        // every event they name.
        for (e, off) in p.events.iter_mut().zip(&p.offsets) {
            if !e.fields.contains_key(INGEST_OFFSET_FIELD) {
                e.fields.insert(
                    INGEST_OFFSET_FIELD.to_string(),
                    serde_json::Value::from(*off),
                );
            }
        }
    }
    p
}

/// `vigil.asset_id` of an API line (only parsed when the line mentions it).
fn http_asset(line: &[u8]) -> Option<vigil_model::AssetId> {
    const NEEDLE: &[u8] = b"asset_id";
    if !line.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
        return None;
    }
    vigil_model::event::parse_ecs_line(line).ok()?.asset_id
}

impl Processor {
    /// After a restart: when the batch recorded in flight at the crash reached the store (its
    /// probe event is there), the checkpoint moves past it instead of storing it again.
    /// Its alerts, recorded in the marker, are created then unless they already were (a crash
    /// between the events and their alerts loses none, and none is made twice).
    async fn skip_stored_inflight(&mut self, stage: &StoreStage) -> Result<(), ProcessError> {
        let Some(m) = self.spool.read_inflight() else {
            return Ok(());
        };
        let q = vigil_store::EventQuery {
            org_id: Some(m.org),
            // A second either side: the stores keep times at their own precision.
            from: m
                .timestamp
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .ok(),
            to: m
                .timestamp
                .checked_add(jiff::SignedDuration::from_secs(1))
                .ok(),
            filters: vec![vigil_store::FieldFilter {
                field: INGEST_OFFSET_FIELD.into(),
                value: m.probe.to_string(),
            }],
            limit: 1,
            ..Default::default()
        };
        let found = !self
            .store
            .search_events(Scope::All, &q)
            .await?
            .items
            .is_empty();
        if found {
            tracing::info!(
                start = m.start,
                end = m.end,
                "pipeline: the batch in flight at the last stop was stored; not storing it again"
            );
            metrics::counter!("vigil_pipeline_replay_skipped_total").increment(1);
            if let Some(pending) = m.pending {
                stage.recover_alerts(pending).await?;
            }
            if let Err(e) = self.spool.commit(m.end) {
                tracing::error!(error = %e, "pipeline: writing the spool checkpoint failed");
            }
            self.reader = self.spool.reader();
        }
        Ok(())
    }

    async fn load_directory(&self) -> Option<Directory> {
        match self.store.all_assets().await {
            Ok(assets) => {
                let d = Directory::new(&assets);
                metrics::gauge!("vigil_pipeline_directory_assets").set(d.assets() as f64);
                Some(d)
            }
            Err(e) => {
                tracing::warn!(error = %e, "pipeline: loading the asset directory failed");
                None
            }
        }
    }

    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let stage = StoreStage {
            store: self.store.clone(),
            spool: self.spool.clone(),
            detector: self.detector.clone(),
            dead: self.dead.clone(),
            stats: self.stats.clone(),
            aggregator: self.aggregator.clone(),
            intel_severity: self.intel_severity,
        };
        let mut directory: Option<Arc<Directory>> = None;
        let mut loaded: Option<Instant> = None;
        let mut backoff = Duration::from_millis(100);
        let mut inflight_checked = false;
        // The batch being stored (and checkpointed) by its own task while the next one is
        // read and prepared: at most one, so at most two batches are in flight.
        let mut storing: Option<Storing> = None;
        loop {
            // A dropped `Pipeline` (sender gone) stops the processor like a shutdown would;
            // otherwise `changed()` would return at once forever and the loop would spin.
            if *shutdown.borrow() || shutdown.has_changed().is_err() {
                break;
            }
            if loaded.is_none_or(|t| t.elapsed() >= self.refresh) {
                if let Some(d) = self.load_directory().await {
                    directory = Some(Arc::new(d));
                }
                // Retried at the next refresh when it failed; the old directory stays.
                loaded = Some(Instant::now());
            }
            // Never process without a directory: every event would be unattributed (dead
            // letters, or all in the default organization) while the store is unreachable.
            let Some(directory) = directory.clone() else {
                loaded = None;
                self.pause(&mut shutdown, Duration::from_secs(1)).await;
                continue;
            };
            // The first indicator load is awaited like the directory, so that events received
            // at start are matched too (it publishes an empty set when it fails).
            // A refresh task that is gone (it panicked) leaves the pipeline without matching
            // rather than stalled.
            if self.intel.borrow().is_none() && self.intel.has_changed().is_ok() {
                tokio::select! {
                    _ = self.intel.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            if !inflight_checked {
                match self.skip_stored_inflight(&stage).await {
                    Ok(()) => inflight_checked = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "pipeline: checking the batch in flight at the last stop failed, retrying");
                        self.pause(&mut shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            self.publish_gauges();
            let start = self.reader.position();
            let batch_max = self.batch_max;
            let mut reader = std::mem::replace(&mut self.reader, self.spool.reader());
            let res = tokio::task::spawn_blocking(move || {
                let r = reader.read_batch(batch_max, MAX_BATCH_BYTES);
                (reader, r)
            })
            .await;
            let batch = match res {
                Ok((reader, r)) => {
                    self.reader = reader;
                    match r {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "pipeline: reading the spool failed");
                            self.pause(&mut shutdown, Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "pipeline: spool reader task failed");
                    self.reader.rewind_to(start);
                    self.pause(&mut shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Some(last) = batch.last().map(|r| r.next) else {
                // Caught up: settle the batch being stored before waiting for more.
                if let Some(s) = storing.take() {
                    if !self.settle(s, &mut backoff, &mut shutdown).await {
                        loaded = None;
                    }
                    continue;
                }
                tokio::select! {
                    _ = self.spool.wait_for_data(start) => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            };
            let n = batch.len() as u64;
            // The set current now is the one this batch is matched, alerted and sighted with.
            let intel = self.intel.borrow().clone();
            // Parsed and detected on the detection thread while the previous batch is stored.
            let prepared = self
                .worker
                .prepare(batch, directory.clone(), self.default_org, intel.clone())
                .await;
            // The previous batch first: this one is stored only after it is stored and
            // checkpointed (spool order, and the in-flight marker always names the batch
            // starting at the checkpoint). When it failed, the reader is back at its start and
            // this batch is dropped unstored, to be read and prepared again after it.
            if let Some(s) = storing.take()
                && !self.settle(s, &mut backoff, &mut shutdown).await
            {
                loaded = None;
                continue;
            }
            let prepared = match prepared {
                Ok(p) => p,
                Err(e) => {
                    self.failed(start, &e, &mut backoff, &mut shutdown).await;
                    loaded = None;
                    continue;
                }
            };
            storing = Some(Storing {
                start,
                task: tokio::spawn(stage.clone().store(prepared, intel, n, start, last)),
            });
        }
        // Stopping: the batch being stored is finished (and checkpointed when it succeeds);
        // one prepared after it was not stored and is read again at the next start.
        if let Some(s) = storing.take() {
            match s.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "pipeline: storing a batch failed while stopping; it is processed again at the next start");
                }
                Err(e) => {
                    tracing::error!(error = %e, "pipeline: the store task failed while stopping; its batch is processed again at the next start");
                }
            }
        }
        self.publish_gauges();
        tracing::info!("pipeline processor stopped");
    }

    /// Waits for the batch being stored. False when it failed: the failure is counted, the
    /// reader moved back to that batch's first record (the checkpoint: nothing after it was
    /// stored, since a batch is stored only once the one before it is), and the processor
    /// pauses before processing it again.
    async fn settle(
        &mut self,
        s: Storing,
        backoff: &mut Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let err = match s.task.await {
            Ok(Ok(())) => {
                *backoff = Duration::from_millis(100);
                return true;
            }
            Ok(Err(e)) => e,
            Err(e) => ProcessError::Task(e.to_string()),
        };
        self.failed(s.start, &err, backoff, shutdown).await;
        false
    }

    /// A batch starting at `start` failed: counted, logged, the reader moved back to it, and
    /// a growing pause.
    async fn failed(
        &mut self,
        start: u64,
        e: &ProcessError,
        backoff: &mut Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vigil_pipeline_store_errors_total").increment(1);
        tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "pipeline: storing a batch failed; it will be processed again");
        self.reader.rewind_to(start);
        self.pause(shutdown, *backoff).await;
        *backoff = (*backoff * 2).min(Duration::from_secs(5));
    }

    async fn pause(&self, shutdown: &mut watch::Receiver<bool>, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = shutdown.changed() => {}
        }
    }

    fn publish_gauges(&self) {
        metrics::gauge!("vigil_pipeline_spool_bytes").set(self.spool.used_bytes() as f64);
        metrics::gauge!("vigil_pipeline_spool_pending_bytes")
            .set(self.spool.pending_bytes() as f64);
    }
}

/// A batch handed to the store stage: its first record's offset and the task storing it.
struct Storing {
    start: u64,
    task: tokio::task::JoinHandle<Result<(), ProcessError>>,
}

/// The store stage: what a prepared batch needs to reach the store and the checkpoint. It
/// runs as a task per batch, one at a time, while the processor prepares the next batch.
#[derive(Clone)]
struct StoreStage {
    store: Arc<dyn Store>,
    spool: Spool,
    detector: Option<Arc<Detector>>,
    dead: DeadLetterSink,
    stats: Arc<Stats>,
    aggregator: Option<Arc<vigil_aggregator::Aggregator>>,
    intel_severity: vigil_model::Severity,
}

impl StoreStage {
    /// Creates alerts (retried a few times: the events are stored already, and processing
    /// the batch again would store them twice), then the sightings of their indicators, each
    /// with the index of its alert.
    async fn create_alerts(
        &self,
        alerts: Vec<NewAlert>,
        sightings: Vec<(NewSighting, usize)>,
    ) -> Result<Vec<Alert>, ProcessError> {
        let mut created = Vec::new();
        if !alerts.is_empty() {
            let mut attempt = 0;
            loop {
                match self.store.create_alerts(alerts.clone()).await {
                    Ok(c) => {
                        created = c;
                        break;
                    }
                    Err(e) if attempt < 3 => {
                        attempt += 1;
                        tracing::warn!(error = %e, attempt, "pipeline: creating alerts failed, retrying");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if !sightings.is_empty() {
            let ids = crate::intel::alert_ids(&alerts, &created);
            let items = sightings
                .into_iter()
                .map(|(s, ai)| NewSighting {
                    alert_id: ids.get(ai).copied().flatten(),
                    ..s
                })
                .collect();
            self.record_sightings(items).await?;
        }
        Ok(created)
    }

    /// The alerts of a batch skipped at start because its events were stored before the
    /// crash: its events' ids are looked up by their spool offsets, alerts created since the
    /// marker was written are not made again, the others are created (with their sightings)
    /// and aggregated. Idempotent, so a failure is simply retried.
    async fn recover_alerts(&self, pending: PendingAlerts) -> Result<(), ProcessError> {
        let second = jiff::SignedDuration::from_secs(1);
        let mut ids: HashMap<usize, EventId> = HashMap::new();
        for e in &pending.events {
            let q = vigil_store::EventQuery {
                org_id: Some(e.org),
                from: e.timestamp.checked_sub(second).ok(),
                to: e.timestamp.checked_add(second).ok(),
                filters: vec![vigil_store::FieldFilter {
                    field: INGEST_OFFSET_FIELD.into(),
                    value: e.offset.to_string(),
                }],
                limit: 1,
                ..Default::default()
            };
            match self
                .store
                .search_events(Scope::All, &q)
                .await?
                .items
                .first()
            {
                Some(found) => {
                    ids.insert(e.index, found.id);
                }
                None => {
                    tracing::warn!(
                        offset = e.offset,
                        "pipeline: an event of the skipped batch was not found; its alerts go without it"
                    );
                }
            }
        }
        let mut alerts = pending.alerts;
        let mut sightings = pending.sightings;
        resolve_placeholders(&mut alerts, &mut sightings, |i| ids.get(&i).copied());
        // Alerts are created in one call, so either all of the batch's are there or none;
        // compared one by one all the same.
        let mut existing = std::collections::HashSet::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_alerts(
                    Scope::All,
                    &vigil_store::AlertQuery {
                        from: pending.since.checked_sub(second).ok(),
                        limit: 500,
                        cursor,
                        ..Default::default()
                    },
                )
                .await?;
            existing.extend(page.items.iter().map(|a| alert_key(&a.spec)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut kept = Vec::new();
        let mut new_index = vec![None; alerts.len()];
        for (i, a) in alerts.into_iter().enumerate() {
            if !existing.contains(&alert_key(&a)) {
                new_index[i] = Some(kept.len());
                kept.push(a);
            }
        }
        let sightings = sightings
            .into_iter()
            .filter_map(|(s, ai)| Some((s, (*new_index.get(ai)?)?)))
            .collect();
        let skipped = new_index.iter().filter(|i| i.is_none()).count();
        let created = self.create_alerts(kept, sightings).await?;
        tracing::info!(
            created = created.len(),
            already_stored = skipped,
            "pipeline: alerts of the batch skipped at start"
        );
        if !created.is_empty() {
            if let Some(agg) = &self.aggregator {
                agg.aggregate(&created).await;
            }
            let n = created.len() as u64;
            self.stats.alerts.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("vigil_pipeline_detected_total").increment(n);
            metrics::counter!("vigil_pipeline_recovered_alerts_total").increment(n);
        }
        Ok(())
    }

    async fn record_sightings(&self, mut items: Vec<NewSighting>) -> Result<(), ProcessError> {
        let mut attempt = 0;
        while !items.is_empty() {
            match self.store.record_sightings(Scope::All, items.clone()).await {
                Ok(s) => {
                    self.stats
                        .sightings
                        .fetch_add(s.len() as u64, Ordering::Relaxed);
                    metrics::counter!("vigil_pipeline_intel_sightings_total")
                        .increment(s.len() as u64);
                    break;
                }
                Err(vigil_store::StoreError::MissingReference(what)) if attempt < 3 => {
                    attempt += 1;
                    let mut gone = Vec::new();
                    for id in items.iter().map(|s| s.indicator_id) {
                        if !gone.contains(&id) && self.store.get_indicator(id).await?.is_none() {
                            gone.push(id);
                        }
                    }
                    let before = items.len();
                    items.retain(|s| !gone.contains(&s.indicator_id));
                    let dropped = (before - items.len()) as u64;
                    metrics::counter!("vigil_pipeline_intel_sightings_dropped_total")
                        .increment(dropped);
                    tracing::warn!(missing = %what, dropped, "pipeline: sightings of deleted indicators dropped");
                    if dropped == 0 {
                        // An organization deleted meanwhile: the batch fails and its events
                        // are processed again with a reloaded directory.
                        return Err(vigil_store::StoreError::MissingReference(what).into());
                    }
                }
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "pipeline: recording sightings failed, retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Stores a prepared batch, then moves the checkpoint past it. The checkpoint advances
    /// only after the batch's events are appended (durable) and its
    /// alerts and sightings created, so a crash anywhere before that replays the batch.
    async fn store(
        self,
        mut p: Prepared,
        intel: Option<Arc<IntelMatcher>>,
        n: u64,
        start: u64,
        end: u64,
    ) -> Result<(), ProcessError> {
        let parsed = n
            - p.rejected
            - p.dead
                .iter()
                .filter(|d| d.reason == Reason::Oversized)
                .count() as u64;
        // Per input: [parsed, rejected, stored], for the labelled metrics.
        let mut per_input: HashMap<String, [u64; 3]> = HashMap::new();
        for e in &p.events {
            // Looked up before inserting: no input name copied per event.
            match per_input.get_mut(&e.provenance.input) {
                Some(c) => {
                    c[0] += 1;
                    c[2] += 1;
                }
                None => {
                    per_input.insert(e.provenance.input.clone(), [1, 0, 1]);
                }
            }
        }
        for d in &p.dead {
            let c = per_input.entry(d.input.clone()).or_default();
            match d.reason {
                Reason::Parse => c[1] += 1,
                Reason::Unattributed | Reason::Invalid => c[0] += 1,
                Reason::Oversized => {}
            }
        }
        // The alerts are made before the events are appended, naming the events by
        // placeholder ids, so that a batch with HTTP events can record them in its in-flight
        // marker: a crash after its events are stored and before its alerts are makes the next
        // start skip the batch, and create those alerts then (`recover_alerts`).
        let metas: Vec<EventMeta> = p.events.iter().map(EventMeta::of).collect();
        let mut alerts = Vec::new();
        if let Some(d) = &self.detector {
            let with_hits: Vec<_> = metas
                .iter()
                .zip(&p.hits)
                .enumerate()
                .filter(|(_, (_, h))| !h.is_empty())
                .map(|(i, (m, h))| (*m, placeholder(i), h.as_slice()))
                .collect();
            alerts = d.alerts(&with_hits);
        }
        for (i, mut a) in p.correlated {
            if i < p.events.len() {
                a.event_ids.push(placeholder(i));
                alerts.push(a);
            }
        }
        let sigma_alerts = alerts.len();
        let mut intel_hits = 0u64;
        let mut sightings: Vec<(NewSighting, usize)> = Vec::new();
        if let Some(m) = &intel
            && !p.intel.is_empty()
        {
            let with_hits: Vec<_> = p
                .intel
                .iter()
                .filter_map(|(i, h)| Some((*metas.get(*i)?, placeholder(*i), h.as_slice())))
                .collect();
            intel_hits = with_hits.iter().map(|(_, _, h)| h.len() as u64).sum();
            let o = m.outcome(&with_hits, self.intel_severity);
            alerts.extend(o.alerts.iter().cloned());
            sightings = o
                .sightings
                .iter()
                .map(|(s, ai)| (s.clone(), sigma_alerts + ai))
                .collect();
        }
        let n_alerts = alerts.len() as u64;
        if let Some((probe, org, timestamp)) = p.probe {
            // Acknowledged HTTP events are stored exactly once: the next start looks this
            // batch up in the store before storing it again. One more fsync, only for batches
            // with HTTP events.
            let pending = (!alerts.is_empty())
                .then(|| pending_alerts(&alerts, &sightings, &metas, &p.offsets));
            let spool = self.spool.clone();
            let m = InFlight {
                start,
                end,
                probe,
                org,
                timestamp,
                pending,
            };
            tokio::task::spawn_blocking(move || spool.write_inflight(&m))
                .await
                .map_err(|e| ProcessError::Task(e.to_string()))?
                .map_err(|e| ProcessError::Task(format!("writing the in-flight marker: {e}")))?;
        }
        let stored = p.events.len() as u64;
        let ids = if p.events.is_empty() {
            Vec::new()
        } else {
            self.store.append_events(p.events).await?
        };
        if failpoint::stop_before_alerts(&self.spool) {
            // Tests: what a kill -9 right after the append leaves (no alerts, no checkpoint).
            return Ok(());
        }
        resolve_placeholders(&mut alerts, &mut sightings, |i| ids.get(i).copied());
        let created = self.create_alerts(alerts, sightings).await?;
        // The alerts are stored: aggregation failures are logged and counted
        // (vigil_incident_aggregation_errors_total), never fail the batch.
        if !created.is_empty()
            && let Some(agg) = &self.aggregator
        {
            agg.aggregate(&created).await;
        }
        if intel_hits > 0 {
            self.stats
                .intel_hits
                .fetch_add(intel_hits, Ordering::Relaxed);
            metrics::counter!("vigil_pipeline_intel_hits_total").increment(intel_hits);
        }
        // Counted once the batch is done, so a retried batch is not counted twice.
        let s = &self.stats;
        s.parsed.fetch_add(parsed, Ordering::Relaxed);
        s.rejected.fetch_add(p.rejected, Ordering::Relaxed);
        s.unattributed.fetch_add(p.unattributed, Ordering::Relaxed);
        s.stored.fetch_add(stored, Ordering::Relaxed);
        s.alerts.fetch_add(n_alerts, Ordering::Relaxed);
        s.dead_letters
            .fetch_add(p.dead.len() as u64, Ordering::Relaxed);
        for (input, [parsed, rejected, stored]) in per_input {
            if let Some(i) = s.inputs.get(&input) {
                i.parsed.fetch_add(parsed, Ordering::Relaxed);
                i.rejected.fetch_add(rejected, Ordering::Relaxed);
                i.stored.fetch_add(stored, Ordering::Relaxed);
            }
            metrics::counter!("vigil_pipeline_parsed_total", "input" => input.clone())
                .increment(parsed);
            metrics::counter!("vigil_pipeline_rejected_total", "input" => input.clone())
                .increment(rejected);
            metrics::counter!("vigil_pipeline_stored_total", "input" => input).increment(stored);
        }
        metrics::counter!("vigil_pipeline_detected_total").increment(n_alerts);
        for d in &p.dead {
            if let Some(i) = s.inputs.get(&d.input) {
                i.dead_letters.fetch_add(1, Ordering::Relaxed);
            }
            metrics::counter!("vigil_pipeline_dead_letters_total", "input" => d.input.clone(), "reason" => d.reason.as_str())
                .increment(1);
        }
        // Handed to the dead-letter writer without waiting, once the batch is stored (a
        // retried batch sends them once); see `deadletter`.
        self.dead.send(std::mem::take(&mut p.dead));
        if let Some(oldest) = p.oldest {
            let lag = Timestamp::now()
                .duration_since(oldest)
                .as_secs_f64()
                .max(0.0);
            s.lag_bits.store(lag.to_bits(), Ordering::Relaxed);
            metrics::gauge!("vigil_pipeline_lag_seconds").set(lag);
        }
        if let Err(e) = self.spool.commit(end) {
            // The batch is stored; it will be stored again after a restart.
            tracing::error!(error = %e, "pipeline: writing the spool checkpoint failed");
        }
        Ok(())
    }
}

/// What makes two alerts the same for [`StoreStage::recover_alerts`].
fn alert_key(a: &NewAlert) -> (OrgId, String, &'static str, Vec<EventId>) {
    let mut ids = a.event_ids.clone();
    ids.sort_unstable();
    (a.org_id, a.rule_id.clone(), a.source.as_str(), ids)
}

/// The marker's record of a batch's alerts: the alerts and sightings with placeholder event
/// ids, and where each event they name is.
fn pending_alerts(
    alerts: &[NewAlert],
    sightings: &[(NewSighting, usize)],
    metas: &[EventMeta],
    offsets: &[u64],
) -> PendingAlerts {
    let mut named: Vec<usize> = alerts
        .iter()
        .flat_map(|a| a.event_ids.iter())
        .chain(sightings.iter().filter_map(|(s, _)| s.event_id.as_ref()))
        .filter_map(|id| placeholder_index(*id))
        .collect();
    named.sort_unstable();
    named.dedup();
    PendingAlerts {
        since: Timestamp::now(),
        events: named
            .into_iter()
            .filter_map(|index| {
                let m = metas.get(index)?;
                Some(PendingEvent {
                    index,
                    offset: *offsets.get(index)?,
                    org: m.org_id,
                    timestamp: m.timestamp,
                })
            })
            .collect(),
        alerts: alerts.to_vec(),
        sightings: sightings.to_vec(),
    }
}

/// Replaces placeholder event ids by stored ones (`id_of` the batch index); a placeholder
/// without a stored id is dropped from its alert (and leaves its sighting without event).
fn resolve_placeholders(
    alerts: &mut [NewAlert],
    sightings: &mut [(NewSighting, usize)],
    id_of: impl Fn(usize) -> Option<EventId>,
) {
    let resolve = |id: EventId| match placeholder_index(id) {
        Some(i) => id_of(i),
        None => Some(id),
    };
    for a in alerts {
        a.event_ids = a.event_ids.iter().filter_map(|id| resolve(*id)).collect();
    }
    for (s, _) in sightings {
        s.event_id = s.event_id.and_then(resolve);
    }
}

/// Fault injection for tests: a stop (as by kill -9) between a batch's events and its alerts.
#[doc(hidden)]
pub mod failpoint {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    static ANY: AtomicBool = AtomicBool::new(false);
    static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// While on, the processor of the spool in `spool_dir` stores each batch's events and
    /// then abandons the batch: no alerts, no sightings, no checkpoint.
    pub fn stop_before_alerts_in(spool_dir: &Path, on: bool) {
        let mut d = DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.retain(|p| p != spool_dir);
        if on {
            d.push(spool_dir.to_path_buf());
        }
        ANY.store(!d.is_empty(), Ordering::Relaxed);
    }

    pub(crate) fn stop_before_alerts(spool: &crate::spool::Spool) -> bool {
        ANY.load(Ordering::Relaxed)
            && DIRS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .any(|p| p == spool.dir())
    }
}

struct Job {
    batch: Vec<SpooledRecord>,
    directory: Arc<Directory>,
    default_org: Option<OrgId>,
    intel: Option<Arc<IntelMatcher>>,
    reply: tokio::sync::oneshot::Sender<Prepared>,
}

/// The detection thread: parses, attributes and evaluates batches in order. A thread of its
/// own (not a blocking task per batch) because the correlation engines keep state across
/// batches and borrow the compiled rules, which the thread owns for its whole life.
///
/// Correlation state lives in memory only: windows open at a restart start empty, and a
/// batch processed again after a store failure (and the batch prepared after it, discarded
/// then) is observed again.
pub(crate) struct Worker {
    tx: std::sync::mpsc::SyncSender<Job>,
}

impl Worker {
    pub fn start(detector: Option<Arc<Detector>>, zones: Zones) -> std::io::Result<Worker> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(1);
        std::thread::Builder::new()
            .name("vigil-detect".into())
            .spawn(move || {
                let detector = detector;
                let d = detector.as_deref();
                let mut engines: Engines<'_> = HashMap::new();
                while let Ok(job) = rx.recv() {
                    let p = prepare(
                        job.batch,
                        &job.directory,
                        d,
                        job.default_org,
                        &mut engines,
                        job.intel.as_deref(),
                        &zones,
                    );
                    let _ = job.reply.send(p);
                }
            })?;
        Ok(Worker { tx })
    }

    async fn prepare(
        &self,
        batch: Vec<SpooledRecord>,
        directory: Arc<Directory>,
        default_org: Option<OrgId>,
        intel: Option<Arc<IntelMatcher>>,
    ) -> Result<Prepared, ProcessError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            batch,
            directory,
            default_org,
            intel,
            reply,
        };
        // The channel holds one job and this processor waits for each reply, so this never
        // blocks for long.
        self.tx
            .send(job)
            .map_err(|_| ProcessError::Task("detection thread stopped".into()))?;
        rx.await
            .map_err(|_| ProcessError::Task("detection thread stopped".into()))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessError {
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
    #[error("processing task: {0}")]
    Task(String),
}
