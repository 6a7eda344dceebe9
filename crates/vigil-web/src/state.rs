//! Shared state of the web layer.

use crate::ratelimit::LoginLimiter;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use vigil_store::Store;

/// Settings the web layer needs, resolved and validated by the server's configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served over TLS or behind a TLS proxy).
    pub secure_cookies: bool,
    /// How long a browser session lives without being used.
    pub session_ttl: Duration,
    /// Largest request body accepted, in bytes (bulk ingest included).
    pub max_body_bytes: usize,
    /// Failed logins per user name and per client address before a pause.
    pub login_max_failures: u32,
    /// The pause after too many failed logins.
    pub login_lockout: Duration,
    /// Bulk ingest requests (`POST /api/v1/events`) the store works on at once; more wait.
    pub ingest_max_inflight: usize,
    /// How long a bulk ingest request waits for a slot before it is answered 503 with
    /// `Retry-After` (load shedding instead of an unbounded queue of bodies in memory).
    pub ingest_wait: Duration,
    /// External dynamic lists defined in the configuration (`/edl/{name}.txt`); the filter
    /// is a blocklist filter as JSON. Lists can also be defined through the API.
    pub edl_lists: Vec<vigil_store::NewEdlList>,
    /// The TAXII feeds the server polls (`[[intel.taxii_feeds]]`), for the feeds page.
    pub taxii_feeds: Vec<crate::api::intel_share::TaxiiFeedSchedule>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_ttl: Duration::from_secs(8 * 3600),
            max_body_bytes: 32 << 20,
            login_max_failures: 5,
            login_lockout: Duration::from_secs(300),
            ingest_max_inflight: 8,
            ingest_wait: Duration::from_secs(2),
            edl_lists: Vec::new(),
            taxii_feeds: Vec::new(),
        }
    }
}

/// Cheap to clone; handed to every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub config: WebConfig,
    pub limiter: LoginLimiter,
    pub metrics: Option<PrometheusHandle>,
    /// The platform's SM2 key that signs notices; set once at start
    /// ([`AppState::set_notice_key`]). Without it, notices cannot be issued.
    pub notice_key: OnceLock<Arc<vigil_crypto::Sm2PrivateKey>>,
    /// Enqueues e-mails and webhook messages ([`AppState::set_notifier`]); without it,
    /// nothing is sent.
    pub notifier: OnceLock<vigil_notify::Notifier>,
    /// Aggregates alerts created through the API into incidents, when `[incidents]` says so
    /// ([`AppState::set_aggregator`]).
    pub aggregator: OnceLock<Arc<vigil_aggregator::Aggregator>>,
    /// The live ingestion pipeline, when `vigil serve` runs one ([`AppState::set_pipeline`]).
    pub pipeline: OnceLock<vigil_pipeline::status::Monitor>,
    /// When set, `POST /api/v1/events` appends to the pipeline's spool instead of storing
    /// directly ([`AppState::set_intake`]), so HTTP events are detected live.
    pub intake: OnceLock<vigil_pipeline::intake::Intake>,
    /// Searches the stored events for the indicators each import adds or changes
    /// ([`AppState::set_retro_hunter`]); without it, imports schedule no retro-hunt.
    pub retro_hunter: OnceLock<vigil_pipeline::retrohunt::RetroHunter>,
    /// Slots of [`WebConfig::ingest_max_inflight`].
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: WebConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let limiter = LoginLimiter::new(config.login_max_failures, config.login_lockout);
        let ingest_slots = Arc::new(tokio::sync::Semaphore::new(
            config.ingest_max_inflight.max(1),
        ));
        Self(Arc::new(Inner {
            store,
            config,
            limiter,
            metrics,
            notice_key: OnceLock::new(),
            notifier: OnceLock::new(),
            aggregator: OnceLock::new(),
            pipeline: OnceLock::new(),
            intake: OnceLock::new(),
            retro_hunter: OnceLock::new(),
            ingest_slots,
        }))
    }

    /// Shows the running pipeline's sources, counters and dead letters (first call wins).
    pub fn set_pipeline(&self, monitor: vigil_pipeline::status::Monitor) {
        let _ = self.0.pipeline.set(monitor);
    }

    /// Sends HTTP bulk events through the pipeline's spool (first call wins).
    pub fn set_intake(&self, intake: vigil_pipeline::intake::Intake) {
        let _ = self.0.intake.set(intake);
    }

    /// Aggregates the alerts the API creates into incidents (first call wins).
    pub fn set_aggregator(&self, aggregator: Arc<vigil_aggregator::Aggregator>) {
        let _ = self.0.aggregator.set(aggregator);
    }

    /// Schedules retro-hunts for imported indicators (first call wins).
    pub fn set_retro_hunter(&self, hunter: vigil_pipeline::retrohunt::RetroHunter) {
        let _ = self.0.retro_hunter.set(hunter);
    }

    /// Installs the notifier (first call wins).
    pub fn set_notifier(&self, n: vigil_notify::Notifier) {
        let _ = self.0.notifier.set(n);
    }

    /// Installs the platform key that signs notices (first call wins).
    pub fn set_notice_key(&self, key: vigil_crypto::Sm2PrivateKey) {
        let _ = self.0.notice_key.set(Arc::new(key));
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
