//! The live ingestion pipeline (issue 4).
//!
//! ```text
//! syslog UDP ─┐ (drop, counted, when the queue is full)
//! syslog TCP ─┤ RFC 6587 framing per frame; stops reading when the queue is full
//! syslog TLS ─┤ the same behind rustls (RFC 5425); client certificates map to organizations
//! files ──────┤ tailed by glob, rotation and truncation followed, offsets checkpointed
//! MQTT ───────┤ QoS 1, persistent session; PUBACK only once the message is in the spool
//!             ▼
//!   (HTTP API: POST /api/v1/events appends validated ECS lines to the spool itself through
//!   an [`intake::Intake`], answers 202 once synced and 503 + Retry-After when it is full)
//!   bounded queue ─► spool writer thread ─► spool (checksummed WAL segments, fsync per batch)
//!                                              │ reader from the checkpoint
//!                                              ▼
//!   processor: parse (vigil-ingest) ─► attribute (directory from the store) ─► Sigma rules
//!     and indicator matching (set reloaded from the store) ─► Store::append_events
//!     ─► Store::create_alerts ─► Store::record_sightings ─► spool checkpoint advanced
//!     (parse failures, oversized frames and unattributed events ─► dead letters in the store)
//! ```
//!
//! Backpressure runs from the store back to the sockets: the processor stops reading the spool
//! while the store is failing, the spool fills up to its maximum, the writer thread stops
//! taking from the queue, the queue fills, TCP connections stop being read and UDP datagrams
//! are dropped (and counted). Delivery from the spool into the store is at least once.

pub mod deadletter;
pub mod detect;
pub mod directory;
pub mod intake;
pub mod intel;
mod listener;
pub mod mqtt;
mod process;
#[doc(hidden)]
pub use process::failpoint;
pub mod retrohunt;
pub mod source;
pub mod sources;
pub mod spool;
pub mod status;
pub mod tail;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use vigil_model::{OrgId, Scope};
use vigil_store::Store;

use crate::spool::{FsyncPolicy, Record, Spool, SpoolConfig, SpoolError};

/// What can stop the pipeline from starting.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Rules(#[from] detect::RulesError),
    #[error("listener {name}: cannot bind {addr}: {source}")]
    Bind {
        name: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("default organization {0} does not exist")]
    DefaultOrg(OrgId),
    #[error("store: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("spool writer thread: {0}")]
    Thread(std::io::Error),
    #[error("listener {name}: {message}")]
    Listener { name: String, message: String },
    #[error("source {0} is defined in the configuration file and cannot be changed at runtime")]
    ConfigSource(String),
}

/// The transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    SyslogUdp,
    SyslogTcp,
    /// RFC 5425 ([`ListenerConfig::tls`] holds the certificate files).
    SyslogTls,
    /// An MQTT subscription ([`ListenerConfig::mqtt`] holds the broker and topics).
    Mqtt,
    /// Files followed by glob patterns ([`ListenerConfig::file`]).
    File,
}

impl ListenerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::SyslogUdp => "syslog_udp",
            ListenerKind::SyslogTcp => "syslog_tcp",
            ListenerKind::SyslogTls => "syslog_tls",
            ListenerKind::Mqtt => "mqtt",
            ListenerKind::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "syslog_udp" => Some(ListenerKind::SyslogUdp),
            "syslog_tcp" => Some(ListenerKind::SyslogTcp),
            "syslog_tls" => Some(ListenerKind::SyslogTls),
            "mqtt" => Some(ListenerKind::Mqtt),
            "file" => Some(ListenerKind::File),
            _ => None,
        }
    }
}

/// One listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Names the input in provenance, metrics and dead letters.
    pub name: String,
    pub kind: ListenerKind,
    /// The socket address syslog listeners bind (unused by MQTT, which connects out).
    pub listen: SocketAddr,
    /// Longest frame (TCP) or datagram (UDP) accepted; longer ones become dead letters.
    pub max_frame: usize,
    /// Concurrent TCP connections; more are refused (and counted).
    pub max_connections: usize,
    /// Broker, topics and client id of an [`ListenerKind::Mqtt`] listener.
    pub mqtt: Option<mqtt::MqttSettings>,
    /// Certificate files of a [`ListenerKind::SyslogTls`] listener.
    pub tls: Option<tls::TlsSettings>,
    /// Patterns of a [`ListenerKind::File`] listener.
    pub file: Option<tail::FileSettings>,
    /// IANA zone of the senders (`Asia/Shanghai`) for times without an offset (RFC 3164,
    /// naive CEF and EVE times); `None` is UTC. Organizations carry no zone of their own, so
    /// this is the only source of it.
    pub timezone: Option<String>,
}

impl ListenerConfig {
    /// 64 KiB frames, 1,024 connections.
    pub fn new(name: &str, kind: ListenerKind, listen: SocketAddr) -> Self {
        ListenerConfig {
            name: name.to_string(),
            kind,
            listen,
            max_frame: 64 * 1024,
            max_connections: 1024,
            mqtt: None,
            tls: None,
            file: None,
            timezone: None,
        }
    }

    /// An MQTT subscription listener (64 KiB messages).
    pub fn mqtt(name: &str, settings: mqtt::MqttSettings) -> Self {
        let mut c = ListenerConfig::new(
            name,
            ListenerKind::Mqtt,
            SocketAddr::from(([0, 0, 0, 0], 0)),
        );
        c.mqtt = Some(settings);
        c
    }

    /// A file tailing listener (64 KiB lines).
    pub fn file(name: &str, settings: tail::FileSettings) -> Self {
        let mut c = ListenerConfig::new(
            name,
            ListenerKind::File,
            SocketAddr::from(([0, 0, 0, 0], 0)),
        );
        c.file = Some(settings);
        c
    }
}

/// A record on its way to the spool writer, with who to tell once it is durable (the MQTT
/// listener acknowledges a message only then). A dropped `done` means "not spooled".
pub(crate) struct Queued {
    pub record: Record,
    pub done: Option<tokio::sync::oneshot::Sender<()>>,
}

impl From<Record> for Queued {
    fn from(record: Record) -> Self {
        Queued { record, done: None }
    }
}

/// Pipeline settings (resolved and validated by the server's configuration).
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Holds `spool/` and `tail/`.
    pub data_dir: PathBuf,
    pub listeners: Vec<ListenerConfig>,
    /// Sigma rules directory (recursive); `None` runs without detection.
    pub rules_dir: Option<PathBuf>,
    /// Organization of events no asset matches; `None` dead-letters them.
    pub default_org: Option<OrgId>,
    /// Records between the listeners and the spool writer.
    pub queue_capacity: usize,
    /// Records per spool append and per processed batch, at most.
    pub batch_max: usize,
    pub spool_segment_bytes: u64,
    pub spool_max_bytes: u64,
    pub fsync: FsyncPolicy,
    /// How many dead letters the store keeps.
    pub dead_letters: deadletter::Retention,
    /// How often the asset directory is reloaded from the store.
    pub directory_refresh: Duration,
    /// How often the indicators are reloaded from the store for live matching.
    pub intel_refresh: Duration,
    /// Severity of indicator alerts whose indicator has no confidence (0).
    pub intel_severity: vigil_model::Severity,
    /// `false` runs the listeners and the spool only (a standby that only accepts, and the
    /// replay tests); the spool is processed by the next start with processing on.
    pub process: bool,
    /// Incident aggregation of the alerts detection creates (`[incidents]`); `None` leaves
    /// them unaggregated.
    pub incidents: Option<vigil_aggregator::AggregatorConfig>,
}

impl PipelineConfig {
    /// Defaults: queue 10,000, batches of 1,000, 64 MiB segments, 1 GiB spool, fsync per
    /// batch, 100,000 dead letters of at most 30 days, directory reloaded every 60 s.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        PipelineConfig {
            data_dir: data_dir.into(),
            listeners: Vec::new(),
            rules_dir: None,
            default_org: None,
            queue_capacity: 10_000,
            batch_max: 1_000,
            spool_segment_bytes: 64 << 20,
            spool_max_bytes: 1 << 30,
            fsync: FsyncPolicy::Batch,
            dead_letters: deadletter::Retention::default(),
            directory_refresh: Duration::from_secs(60),
            intel_refresh: Duration::from_secs(60),
            intel_severity: vigil_model::Severity::Medium,
            process: true,
            incidents: None,
        }
    }
}

/// Counters since start (also exported as `vigil_pipeline_*` metrics).
#[derive(Debug, Default)]
pub struct Stats {
    /// Frames and datagrams received.
    pub received: AtomicU64,
    /// UDP datagrams dropped because the queue was full, and records lost at shutdown while
    /// the spool was full.
    pub dropped: AtomicU64,
    /// Oversized frames.
    pub frame_errors: AtomicU64,
    pub connections_refused: AtomicU64,
    /// Records durably in the spool.
    pub spooled: AtomicU64,
    /// Appends refused because the spool was full (each is retried).
    pub spool_full: AtomicU64,
    pub parsed: AtomicU64,
    /// Parse failures (dead letters).
    pub rejected: AtomicU64,
    /// Events without organization (dead letters).
    pub unattributed: AtomicU64,
    pub dead_letters: AtomicU64,
    pub stored: AtomicU64,
    pub alerts: AtomicU64,
    /// Indicator hits (an observable matching an active indicator).
    pub intel_hits: AtomicU64,
    /// Sightings recorded.
    pub sightings: AtomicU64,
    pub store_errors: AtomicU64,
    /// MQTT topic subscriptions the broker granted.
    pub mqtt_subscribed: AtomicU64,
    /// Per source (the configured ones from the start, runtime ones as they are defined).
    pub inputs: status::Inputs,
    /// `f64` bits of the last processed batch's lag in seconds.
    pub lag_bits: AtomicU64,
}

impl Stats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A running pipeline.
#[derive(Debug)]
pub struct Pipeline {
    stats: Arc<Stats>,
    monitor: status::Monitor,
    spool: Spool,
    sources: sources::SourceControl,
    shutdown: watch::Sender<bool>,
    stopping: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Pipeline {
    /// Opens the spool (replaying what was not stored), loads the rules, binds the listeners
    /// and starts every stage. Errors leave nothing running.
    pub async fn start(
        cfg: PipelineConfig,
        store: Arc<dyn Store>,
    ) -> Result<Pipeline, PipelineError> {
        if let Some(org) = cfg.default_org
            && store.get_org(Scope::All, org).await?.is_none()
        {
            return Err(PipelineError::DefaultOrg(org));
        }
        let detector = match &cfg.rules_dir {
            Some(dir) => {
                let dir = dir.clone();
                let (d, problems) =
                    tokio::task::spawn_blocking(move || detect::Detector::load(&dir))
                        .await
                        .map_err(|e| {
                            PipelineError::Thread(std::io::Error::other(e.to_string()))
                        })??;
                tracing::info!(
                    rules = d.rule_count(),
                    problems,
                    "pipeline: sigma rules loaded"
                );
                metrics::gauge!("vigil_pipeline_rules").set(d.rule_count() as f64);
                Some(Arc::new(d))
            }
            None => None,
        };
        let spool_cfg = SpoolConfig {
            dir: cfg.data_dir.join("spool"),
            segment_bytes: cfg.spool_segment_bytes,
            max_bytes: cfg.spool_max_bytes,
            fsync: cfg.fsync,
        };
        let (spool, report) = tokio::task::spawn_blocking(move || Spool::open(spool_cfg))
            .await
            .map_err(|e| PipelineError::Thread(std::io::Error::other(e.to_string())))??;
        if report.torn_records > 0 {
            metrics::counter!("vigil_pipeline_spool_torn_total").increment(report.torn_records);
        }
        tracing::info!(
            replay_bytes = report.end - report.checkpoint,
            truncated = report.truncated_bytes,
            "pipeline: spool opened"
        );
        // Bind everything before starting anything, so a bind error leaves nothing behind.
        let mut bound = Vec::new();
        // Filled by the source control as it starts each source (configured or stored).
        let zones = process::Zones::default();
        for l in &cfg.listeners {
            bound.push((l.clone(), sources::bind(l, &store).await?));
        }

        let stats = Arc::new(Stats {
            inputs: status::Inputs::new(&cfg.listeners),
            ..Stats::default()
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let stopping = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Queued>(cfg.queue_capacity.max(1));
        let writer = {
            let spool = spool.clone();
            let stats = stats.clone();
            let stopping = stopping.clone();
            let batch_max = cfg.batch_max.max(1);
            // Weak: a strong sender here would keep the writer alive forever.
            let queue = tx.downgrade();
            std::thread::Builder::new()
                .name("vigil-spool-writer".into())
                .spawn(move || spool_writer(rx, spool, stats, stopping, batch_max, queue))
                .map_err(PipelineError::Thread)?
        };
        // Started before any listener task so that a failure here leaves nothing running.
        let worker = if cfg.process {
            Some(
                process::Worker::start(detector.clone(), zones.clone())
                    .map_err(PipelineError::Thread)?,
            )
        } else {
            None
        };
        let mut tasks = Vec::new();
        let sources = sources::SourceControl::new(
            stats.clone(),
            store.clone(),
            cfg.data_dir.clone(),
            tx,
            zones,
        );
        sources.start_bound(bound).await?;
        // Those defined through the API and kept in the store; failures are their state.
        let stored = sources.start_stored().await;
        if stored > 0 {
            tracing::info!(sources = stored, "pipeline: stored sources started");
        }
        let dead_stats = Arc::new(deadletter::SinkStats::default());
        let monitor = status::Monitor {
            stats: stats.clone(),
            spool: spool.clone(),
            spool_max: cfg.spool_max_bytes,
            dead_letter_stats: dead_stats.clone(),
            rules: detector.as_ref().map_or(0, |d| d.rule_count()),
            processing: cfg.process,
            started_at: jiff::Timestamp::now(),
            sources: sources.clone(),
        };
        if let Some(worker) = worker {
            let incidents = aggregator(&cfg, &store);
            let (intel_tx, intel_rx) = watch::channel(None);
            tasks.push(tokio::spawn(intel::refresh_task(
                store.clone(),
                cfg.intel_refresh,
                intel_tx,
                shutdown_rx.clone(),
            )));
            // Ends after the processor, which holds the last sink: awaited after it below.
            let (dead_sink, dead_task) = deadletter::DeadLetterSink::start(
                store.clone(),
                cfg.dead_letters,
                dead_stats.clone(),
            );
            let p = process::Processor {
                store,
                reader: spool.reader(),
                spool: spool.clone(),
                detector,
                worker,
                dead: dead_sink,
                default_org: cfg.default_org,
                batch_max: cfg.batch_max.max(1),
                refresh: cfg.directory_refresh,
                aggregator: incidents,
                stats: stats.clone(),
                intel: intel_rx,
                intel_severity: cfg.intel_severity,
            };
            tasks.push(tokio::spawn(p.run(shutdown_rx.clone())));
            tasks.push(dead_task);
        }
        Ok(Pipeline {
            stats,
            monitor,
            spool,
            sources,
            shutdown,
            stopping,
            tasks,
            writer: Some(writer),
        })
    }

    /// The bound address of the listener `name` (useful with port 0).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.sources.local_addr(name)
    }

    /// The handle that starts, restarts and stops sources while the pipeline runs.
    pub fn sources(&self) -> sources::SourceControl {
        self.sources.clone()
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// A read-only handle for status pages and the API (sources, counters, dead letters).
    pub fn monitor(&self) -> status::Monitor {
        self.monitor.clone()
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// The handle the HTTP bulk API appends its events to the spool with.
    pub fn intake(&self) -> intake::Intake {
        intake::Intake {
            spool: self.spool.clone(),
            stats: self.stats.clone(),
            spool_max: self.monitor.spool_max,
        }
    }

    /// Stops accepting, writes what is queued to the spool, lets the processor finish its
    /// batch, and waits for every stage. What is spooled but not stored is replayed by the
    /// next start.
    pub async fn shutdown(mut self) {
        // The listeners first (each with its own signal), then the processor and refreshers.
        self.sources.stop_all().await;
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        // Connection tasks hold queue senders; they see the signal too. The writer drains the
        // queue and exits when the last sender is gone (or gives up on a full spool).
        self.stopping.store(true, Ordering::Release);
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

/// The spool writer: takes records from the queue in batches and appends them. While the
/// spool is full it keeps the batch and retries, so the queue fills up and the listeners
/// feel it. Runs on its own thread because appends block on `fdatasync`.
fn spool_writer(
    mut rx: mpsc::Receiver<Queued>,
    spool: Spool,
    stats: Arc<Stats>,
    stopping: Arc<AtomicBool>,
    batch_max: usize,
    queue: mpsc::WeakSender<Queued>,
) {
    let mut batch = Vec::with_capacity(batch_max);
    let mut dones = Vec::new();
    fn take(q: Queued, batch: &mut Vec<Record>, dones: &mut Vec<tokio::sync::oneshot::Sender<()>>) {
        batch.push(q.record);
        if let Some(d) = q.done {
            dones.push(d);
        }
    }
    while let Some(first) = rx.blocking_recv() {
        take(first, &mut batch, &mut dones);
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(r) => take(r, &mut batch, &mut dones),
                Err(_) => break,
            }
        }
        loop {
            match spool.append(&batch) {
                Ok(_) => {
                    let n = batch.len() as u64;
                    stats.spooled.fetch_add(n, Ordering::Relaxed);
                    metrics::counter!("vigil_pipeline_spooled_total").increment(n);
                    // Durable now: whoever waits may acknowledge.
                    for d in dones.drain(..) {
                        let _ = d.send(());
                    }
                    break;
                }
                Err(e) => {
                    if matches!(e, SpoolError::Full { .. }) {
                        stats.spool_full.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("vigil_pipeline_spool_full_total").increment(1);
                    } else {
                        tracing::error!(error = %e, "pipeline: spool append failed, retrying");
                    }
                    if stopping.load(Ordering::Acquire) {
                        let n = batch.len() as u64;
                        stats.dropped.fetch_add(n, Ordering::Relaxed);
                        metrics::counter!("vigil_pipeline_dropped_total", "input" => "*", "reason" => "shutdown_spool_unavailable")
                            .increment(n);
                        tracing::error!(records = n, error = %e, "pipeline: stopping with records the spool could not take");
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        batch.clear();
        // Not spooled (shutdown with the spool unavailable): dropped, so never acknowledged.
        dones.clear();
        if let Some(q) = queue.upgrade() {
            let depth = q.max_capacity() - q.capacity();
            metrics::gauge!("vigil_pipeline_queue_depth").set(depth as f64);
        }
    }
}

/// The pipeline's incident aggregator, when `[incidents]` asks for one. The embedded grading
/// and classification tables are tested at build time, so this fails only on a broken build;
/// the pipeline then runs without aggregation rather than not at all.
fn aggregator(
    cfg: &PipelineConfig,
    store: &Arc<dyn Store>,
) -> Option<Arc<vigil_aggregator::Aggregator>> {
    let c = cfg.incidents?;
    match vigil_aggregator::Aggregator::new(store.clone(), c) {
        Ok(a) => Some(Arc::new(a)),
        Err(e) => {
            metrics::counter!("vigil_incident_aggregation_errors_total").increment(1);
            tracing::error!(error = %e, "incident aggregation disabled");
            None
        }
    }
}
