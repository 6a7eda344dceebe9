//! Retro-hunt (issue 5, item 4): newly imported indicators searched over the stored events
//! of the last N days, their hits turned into alerts and sightings like live matches.
//!
//! An import (API, TAXII poll, TAXII write) schedules a [`RetroHuntJob`] naming the source and
//! the time the import started; the import answers at once ("retro-hunt scheduled") and one
//! background task works the jobs in order. A job:
//!
//! 1. loads the source's indicators whose stored version changed since the import started
//!    (new or updated; an unchanged re-import schedules nothing that matches) into an
//!    [`IntelMatcher`] of its own, exactly as the live pipeline would;
//! 2. finds candidate events of the window through the store's event search: host addresses
//!    by `source.ip` / `destination.ip` and SHA-256 digests by `file.hash.sha256` (indexed
//!    fields), at most [`RetroHuntConfig::max_events_per_indicator`] per value and field;
//!    when the job holds values no index can find exactly (networks, domains and their
//!    subdomains, URLs, other digests, e-mail addresses, fingerprints), one pass over the
//!    window's newest events, at most [`RetroHuntConfig::max_scan_events`];
//! 3. matches every candidate with the job's matcher (so each hit is a real match of an ECS
//!    observable, the same as live), drops the (indicator, event) pairs that already have a
//!    sighting (matched live, or by an earlier hunt), and stores one `ioc` alert per indicator
//!    value and organization with its events, and one sighting per indicator and event, then
//!    hands the alerts to the incident aggregator.
//!
//! Progress and results are logged and counted (`vigil_intel_retrohunt_*`). Jobs run one at a
//! time, so two hunts never race each other for the same pair.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use vigil_intel::IndicatorValue;
use vigil_model::{EventId, Scope, Severity};
use vigil_store::{
    EventQuery, FieldFilter, IndicatorId, IndicatorQuery, IntelSourceId, SightingQuery, Store,
    StoreError,
};

use crate::detect::EventMeta;
use crate::intel::{IntelError, IntelHit, IntelMatcher, Target};

/// Jobs waiting, at most; an import finding the queue full is told so (and counted).
pub const QUEUE: usize = 64;
/// Sightings read per indicator to skip pairs already seen, at most.
const MAX_SIGHTINGS_READ: usize = 100_000;

/// `[intel]` retro-hunt settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetroHuntConfig {
    /// Days of stored events searched (`retro_hunt_days`); 0 turns retro-hunt off.
    pub days: u32,
    /// Events read per value and indexed field, at most (`retro_hunt_max_events`).
    pub max_events_per_indicator: usize,
    /// Newest events of the window read for values no index finds, at most
    /// (`retro_hunt_max_scan`); 0 searches indexed fields only.
    pub max_scan_events: usize,
    /// Severity of alerts whose indicator states no confidence (as the live pipeline's
    /// `intel_severity`).
    pub default_severity: Severity,
}

impl Default for RetroHuntConfig {
    fn default() -> Self {
        Self {
            days: 7,
            max_events_per_indicator: 1_000,
            max_scan_events: 200_000,
            default_severity: Severity::Medium,
        }
    }
}

/// Indicators of one source changed at or after `since` (an import that started then).
#[derive(Debug, Clone, PartialEq)]
pub struct RetroHuntJob {
    pub source_id: IntelSourceId,
    pub since: Timestamp,
}

/// What one job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetroHuntReport {
    /// Distinct values and general patterns hunted.
    pub indicators: usize,
    /// Event searches on indexed fields.
    pub searches: usize,
    /// Events read by the window scan.
    pub scanned: usize,
    /// The scan stopped at `max_scan_events` before the window's start.
    pub scan_truncated: bool,
    /// Distinct candidate events matched.
    pub events_examined: usize,
    /// Events with at least one new hit.
    pub events_hit: usize,
    /// (indicator, event) pairs skipped because a sighting existed.
    pub already_seen: usize,
    pub alerts: usize,
    pub sightings: usize,
}

/// Why a job failed (logged and counted; the import it came from is unaffected).
#[derive(Debug, thiserror::Error)]
pub enum RetroHuntError {
    #[error("retro-hunt store access: {0}")]
    Store(#[from] StoreError),
    #[error("retro-hunt indicators: {0}")]
    Intel(#[from] IntelError),
}

/// What [`RetroHunter::schedule`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    Scheduled,
    /// `retro_hunt_days = 0`.
    Off,
    /// [`QUEUE`] jobs are waiting already; this one was dropped.
    QueueFull,
    /// The task has stopped.
    Stopped,
}

impl Scheduled {
    /// The words an import answer carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "retro-hunt scheduled",
            Self::Off => "retro-hunt off",
            Self::QueueFull => "retro-hunt not scheduled: queue full",
            Self::Stopped => "retro-hunt not scheduled: stopped",
        }
    }
}

/// The handle imports schedule jobs through; cheap to clone.
#[derive(Debug, Clone)]
pub struct RetroHunter {
    tx: Option<mpsc::Sender<RetroHuntJob>>,
}

impl RetroHunter {
    /// Starts the task that works the jobs (none when `cfg.days` is 0: every job is `Off`).
    pub fn spawn(
        store: Arc<dyn Store>,
        cfg: RetroHuntConfig,
        aggregator: Option<Arc<vigil_aggregator::Aggregator>>,
    ) -> Self {
        if cfg.days == 0 {
            return Self { tx: None };
        }
        let (tx, mut rx) = mpsc::channel::<RetroHuntJob>(QUEUE);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                metrics::gauge!("vigil_intel_retrohunt_queued").set(rx.len() as f64);
                run_logged(store.as_ref(), &cfg, aggregator.as_deref(), &job).await;
            }
        });
        Self { tx: Some(tx) }
    }

    /// Queues a job without waiting.
    pub fn schedule(&self, job: RetroHuntJob) -> Scheduled {
        let Some(tx) = &self.tx else {
            return Scheduled::Off;
        };
        match tx.try_send(job) {
            Ok(()) => {
                metrics::counter!("vigil_intel_retrohunt_scheduled_total").increment(1);
                Scheduled::Scheduled
            }
            Err(mpsc::error::TrySendError::Full(job)) => {
                metrics::counter!("vigil_intel_retrohunt_dropped_total").increment(1);
                tracing::warn!(source = %job.source_id, "retro-hunt queue full; job dropped");
                Scheduled::QueueFull
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Scheduled::Stopped,
        }
    }
}

async fn run_logged(
    store: &dyn Store,
    cfg: &RetroHuntConfig,
    aggregator: Option<&vigil_aggregator::Aggregator>,
    job: &RetroHuntJob,
) {
    let started = std::time::Instant::now();
    match hunt(store, cfg, aggregator, job, Timestamp::now()).await {
        Ok(r) => {
            metrics::counter!("vigil_intel_retrohunt_runs_total").increment(1);
            tracing::info!(
                source = %job.source_id,
                indicators = r.indicators,
                searches = r.searches,
                scanned = r.scanned,
                scan_truncated = r.scan_truncated,
                events_examined = r.events_examined,
                events_hit = r.events_hit,
                already_seen = r.already_seen,
                alerts = r.alerts,
                sightings = r.sightings,
                ms = started.elapsed().as_millis() as u64,
                "retro-hunt done"
            );
        }
        Err(e) => {
            metrics::counter!("vigil_intel_retrohunt_errors_total").increment(1);
            tracing::warn!(source = %job.source_id, error = %e, "retro-hunt failed");
        }
    }
}

/// The indexed event fields an exact search can find a value in; `None` when a value needs
/// the window scan (networks, domains with their subdomains, unindexed types).
fn indexed_searches(v: &IndicatorValue) -> Option<Vec<FieldFilter>> {
    let f = |field: &str| FieldFilter {
        field: field.to_string(),
        value: v.text(),
    };
    match v {
        IndicatorValue::Ipv4 { prefix: 32, .. } | IndicatorValue::Ipv6 { prefix: 128, .. } => {
            Some(vec![f("source.ip"), f("destination.ip")])
        }
        IndicatorValue::Sha256(_) => Some(vec![f("file.hash.sha256")]),
        _ => None,
    }
}

/// Runs one job at `now`: see the module documentation.
pub async fn hunt(
    store: &dyn Store,
    cfg: &RetroHuntConfig,
    aggregator: Option<&vigil_aggregator::Aggregator>,
    job: &RetroHuntJob,
    now: Timestamp,
) -> Result<RetroHuntReport, RetroHuntError> {
    let mut report = RetroHuntReport::default();
    if cfg.days == 0 {
        return Ok(report);
    }
    let (m, _) = IntelMatcher::load_where(
        store,
        IndicatorQuery {
            source_id: Some(job.source_id),
            // Strictly after: one microsecond before the import started.
            added_after: job.since.checked_sub(SignedDuration::from_micros(1)).ok(),
            ..IndicatorQuery::default()
        },
    )
    .await?;
    report.indicators = m.len();
    if m.is_empty() {
        return Ok(report);
    }
    let from = now
        .checked_sub(SignedDuration::from_hours(24 * i64::from(cfg.days)))
        .unwrap_or(Timestamp::MIN);
    tracing::info!(
        source = %job.source_id,
        indicators = report.indicators,
        days = cfg.days,
        "retro-hunt started"
    );

    // Candidate events, by id.
    let mut events: HashMap<EventId, vigil_model::Event> = HashMap::new();
    let mut needs_scan = !m.set().patterns().is_empty();
    for ind in m.set().indicators() {
        let Some(filters) = indexed_searches(&ind.value) else {
            needs_scan = true;
            continue;
        };
        for filter in filters {
            let mut cursor = None;
            let mut read = 0usize;
            while read < cfg.max_events_per_indicator {
                let page = store
                    .search_events(
                        Scope::All,
                        &EventQuery {
                            from: Some(from),
                            filters: vec![filter.clone()],
                            limit: (cfg.max_events_per_indicator - read).min(vigil_store::MAX_PAGE),
                            cursor: cursor.take(),
                            ..EventQuery::default()
                        },
                    )
                    .await?;
                report.searches += 1;
                read += page.items.len();
                for e in page.items {
                    events.entry(e.id).or_insert(e);
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
    }
    if needs_scan && cfg.max_scan_events > 0 {
        let mut cursor = None;
        loop {
            if report.scanned >= cfg.max_scan_events {
                report.scan_truncated = true;
                break;
            }
            let page = store
                .search_events(
                    Scope::All,
                    &EventQuery {
                        from: Some(from),
                        limit: (cfg.max_scan_events - report.scanned).min(vigil_store::MAX_PAGE),
                        cursor: cursor.take(),
                        ..EventQuery::default()
                    },
                )
                .await?;
            report.scanned += page.items.len();
            for e in page.items {
                // Only events with a hit are kept, so memory stays bounded by the hits.
                if !m.match_event(&e.event, now).is_empty() {
                    events.entry(e.id).or_insert(e);
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        metrics::counter!("vigil_intel_retrohunt_events_scanned_total")
            .increment(report.scanned as u64);
    }
    report.events_examined = events.len();

    // Hits, then the pairs already sighted.
    let mut hits: Vec<(EventMeta, EventId, Vec<IntelHit>)> = Vec::new();
    for (id, e) in &events {
        let h = m.match_event(&e.event, now);
        if !h.is_empty() {
            hits.push((
                EventMeta {
                    org_id: e.event.org_id,
                    asset_id: e.event.asset_id,
                    timestamp: e.event.timestamp,
                },
                *id,
                h,
            ));
        }
    }
    // Oldest first, so alerts list their events in time order.
    hits.sort_by_key(|(meta, id, _)| (meta.timestamp, *id));
    let mut ids_of: HashMap<Target, Vec<IndicatorId>> = HashMap::new();
    for (_, _, hs) in &hits {
        for h in hs {
            ids_of
                .entry(h.target)
                .or_insert_with(|| m.indicator_ids(h.target));
        }
    }
    let mut seen: HashSet<(IndicatorId, EventId)> = HashSet::new();
    let mut wanted: HashSet<IndicatorId> = ids_of.values().flatten().copied().collect();
    for id in wanted.drain() {
        let mut cursor = None;
        let mut read = 0usize;
        while read < MAX_SIGHTINGS_READ {
            let page = store
                .list_sightings(
                    Scope::All,
                    &SightingQuery {
                        indicator_id: Some(id),
                        from: Some(from),
                        limit: vigil_store::MAX_PAGE,
                        cursor: cursor.take(),
                        ..SightingQuery::default()
                    },
                )
                .await?;
            read += page.items.len();
            seen.extend(
                page.items
                    .iter()
                    .filter_map(|s| Some((s.spec.indicator_id, s.spec.event_id?))),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    for (_, event_id, hs) in &mut hits {
        hs.retain(|h| {
            let ids = ids_of.get(&h.target).map(Vec::as_slice).unwrap_or(&[]);
            let fresh = ids.is_empty() || ids.iter().any(|i| !seen.contains(&(*i, *event_id)));
            if !fresh {
                report.already_seen += 1;
            }
            fresh
        });
    }
    hits.retain(|(_, _, hs)| !hs.is_empty());
    report.events_hit = hits.len();
    if hits.is_empty() {
        return Ok(report);
    }

    let batch: Vec<(EventMeta, EventId, &[IntelHit])> = hits
        .iter()
        .map(|(meta, id, hs)| (*meta, *id, hs.as_slice()))
        .collect();
    // STIX ids and names of the hit indicators, for the alerts (the matcher keeps only ids).
    let hit_ids: Vec<IndicatorId> = ids_of.values().flatten().copied().collect();
    m.prefetch(store, &hit_ids).await;
    let mut outcome = m.outcome(&batch, cfg.default_severity);
    for a in &mut outcome.alerts {
        a.title = format!("Retro-hunt: {}", a.title);
        if let Some(d) = a.details.as_object_mut() {
            d.insert("retro_hunt".into(), serde_json::json!({ "days": cfg.days }));
        }
    }
    let alerts = outcome.alerts.clone();
    let created = store.create_alerts(alerts.clone()).await?;
    report.alerts = created.len();
    metrics::counter!("vigil_intel_retrohunt_alerts_total").increment(created.len() as u64);
    let ids = crate::intel::alert_ids(&alerts, &created);
    let sightings = store
        .record_sightings(Scope::All, outcome.sightings_with(&ids))
        .await?;
    report.sightings = sightings.len();
    metrics::counter!("vigil_intel_retrohunt_sightings_total").increment(sightings.len() as u64);
    if let Some(agg) = aggregator {
        agg.aggregate(&created).await;
    }
    Ok(report)
}
