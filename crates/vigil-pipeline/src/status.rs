//! What the pipeline shows of itself: every source with its state and counters, the spool,
//! and the processing lag (the dead letters themselves are in the store, see `deadletter`).
//!
//! Counters per source live in [`InputStats`], created once per configured listener when the
//! pipeline starts and updated with relaxed atomics by the listener and processor tasks (the
//! same places that update the Prometheus counters). A [`Monitor`] is a cheap handle the web
//! layer keeps to read them; it never blocks the pipeline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use serde::Serialize;

use crate::spool::Spool;
use crate::{ListenerConfig, ListenerKind, Stats};

/// The state of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputState {
    /// Configured, not yet bound or connected.
    Starting,
    /// A socket listener accepting, or a file listener following its patterns.
    Listening,
    /// An MQTT subscription with a live broker connection.
    Connected,
    /// An MQTT subscription retrying its broker connection.
    Disconnected,
    /// The pipeline stopped it.
    Stopped,
    /// Defined but disabled by an administrator (not listening).
    Disabled,
    /// Could not start (the bind error or similar is its `last_error`).
    Failed,
}

impl InputState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => InputState::Listening,
            2 => InputState::Connected,
            3 => InputState::Disconnected,
            4 => InputState::Stopped,
            5 => InputState::Disabled,
            6 => InputState::Failed,
            _ => InputState::Starting,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            InputState::Starting => 0,
            InputState::Listening => 1,
            InputState::Connected => 2,
            InputState::Disconnected => 3,
            InputState::Stopped => 4,
            InputState::Disabled => 5,
            InputState::Failed => 6,
        }
    }
}

/// Counters of one source since the pipeline started.
#[derive(Debug)]
pub struct InputStats {
    pub name: String,
    /// `config` (`[[pipeline.listeners]]`) or `api` (defined at runtime).
    pub origin: &'static str,
    /// The kind and where it listens, which broker and topics, or which file patterns
    /// (replaced when an administrator changes the source); `None` for the HTTP bulk API.
    what: Mutex<(Option<ListenerKind>, String)>,
    /// The address actually bound (port 0 in the settings), while listening.
    addr: Mutex<Option<SocketAddr>>,
    /// Why it last failed to start; cleared when it starts.
    last_error: Mutex<Option<String>>,
    pub received: AtomicU64,
    /// UDP datagrams dropped on a full queue.
    pub dropped: AtomicU64,
    pub frame_errors: AtomicU64,
    pub parsed: AtomicU64,
    pub rejected: AtomicU64,
    pub stored: AtomicU64,
    pub dead_letters: AtomicU64,
    /// Records this source put in the spool itself (the HTTP bulk API; listeners share the
    /// spool writer's queue, counted in the totals).
    pub spooled: AtomicU64,
    /// Open TCP/TLS connections.
    pub connections: AtomicI64,
    /// Unix milliseconds of the last frame received; 0 when none yet.
    last_received_ms: AtomicI64,
    state: AtomicU8,
}

fn endpoint_of(cfg: &ListenerConfig) -> String {
    match cfg.kind {
        ListenerKind::SyslogUdp => format!("udp://{}", cfg.listen),
        ListenerKind::SyslogTcp => format!("tcp://{}", cfg.listen),
        ListenerKind::SyslogTls => format!("tls://{}", cfg.listen),
        ListenerKind::Mqtt => match &cfg.mqtt {
            Some(m) => format!("{} {}", m.url(), m.topics.join(",")),
            None => "mqtt".into(),
        },
        ListenerKind::File => match &cfg.file {
            Some(f) => f
                .patterns
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            None => "file".into(),
        },
    }
}

impl InputStats {
    pub(crate) fn new(cfg: &ListenerConfig, origin: &'static str) -> Self {
        Self::fresh(
            cfg.name.clone(),
            origin,
            (Some(cfg.kind), endpoint_of(cfg)),
            InputState::Starting,
        )
    }

    /// The HTTP bulk API (`POST /api/v1/events`) as a source of its own, named
    /// [`crate::intake::HTTP_INPUT`]: always listening while the server runs.
    pub(crate) fn http() -> Self {
        Self::fresh(
            crate::intake::HTTP_INPUT.to_string(),
            "builtin",
            (None, "POST /api/v1/events".into()),
            InputState::Listening,
        )
    }

    fn fresh(
        name: String,
        origin: &'static str,
        what: (Option<ListenerKind>, String),
        state: InputState,
    ) -> Self {
        InputStats {
            name,
            origin,
            what: Mutex::new(what),
            addr: Mutex::new(None),
            last_error: Mutex::new(None),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            frame_errors: AtomicU64::new(0),
            parsed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            spooled: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            last_received_ms: AtomicI64::new(0),
            state: AtomicU8::new(state.as_u8()),
        }
    }

    pub fn state(&self) -> InputState {
        InputState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: InputState) {
        self.state.store(s.as_u8(), Ordering::Relaxed);
    }

    /// The listener kind; `None` for the HTTP bulk API.
    pub fn kind(&self) -> Option<ListenerKind> {
        self.what.lock().ok().and_then(|w| w.0)
    }

    /// New settings for the same source: the counters stay.
    pub(crate) fn reconfigure(&self, cfg: &ListenerConfig) {
        if let Ok(mut w) = self.what.lock() {
            *w = (Some(cfg.kind), endpoint_of(cfg));
        }
    }

    pub(crate) fn set_addr(&self, a: Option<SocketAddr>) {
        if let Ok(mut g) = self.addr.lock() {
            *g = a;
        }
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr.lock().ok().and_then(|g| *g)
    }

    pub(crate) fn set_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e;
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|g| g.clone())
    }

    /// Counts `n` received records (an HTTP request's lines) and remembers when.
    pub fn note_received_many(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
        self.last_received_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }

    /// Counts one received frame and remembers when.
    pub fn note_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.last_received_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }

    fn snapshot(&self) -> InputStatus {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let ms = self.last_received_ms.load(Ordering::Relaxed);
        let (kind, mut endpoint) = self
            .what
            .lock()
            .map(|w| w.clone())
            .unwrap_or((None, String::new()));
        // Port 0 in the settings: show the address actually bound.
        if let Some(a) = self.addr() {
            let scheme = endpoint.split("://").next().unwrap_or("tcp").to_string();
            endpoint = format!("{scheme}://{a}");
        }
        InputStatus {
            name: self.name.clone(),
            kind: kind.map_or("http", ListenerKind::as_str),
            origin: self.origin,
            endpoint,
            state: self.state(),
            last_error: self.last_error(),
            received: g(&self.received),
            dropped: g(&self.dropped),
            frame_errors: g(&self.frame_errors),
            parsed: g(&self.parsed),
            rejected: g(&self.rejected),
            stored: g(&self.stored),
            dead_letters: g(&self.dead_letters),
            spooled: g(&self.spooled),
            connections: self.connections.load(Ordering::Relaxed).max(0) as u64,
            last_received_at: (ms > 0)
                .then(|| Timestamp::from_millisecond(ms).ok())
                .flatten(),
        }
    }
}

/// The sources of a pipeline by name: the configured ones from the start, those defined at
/// runtime added and removed as administrators change them.
#[derive(Debug, Default)]
pub struct Inputs {
    inner: RwLock<Registry>,
}

/// The sources by name, and in the order they were added.
type Registry = (HashMap<String, Arc<InputStats>>, Vec<Arc<InputStats>>);

impl Inputs {
    /// The HTTP bulk API's row first (unless a listener took its name), then the listeners.
    pub(crate) fn new(listeners: &[ListenerConfig]) -> Self {
        let i = Inputs::default();
        if !listeners
            .iter()
            .any(|l| l.name == crate::intake::HTTP_INPUT)
        {
            i.insert(Arc::new(InputStats::http()));
        }
        for l in listeners {
            i.insert(Arc::new(InputStats::new(l, "config")));
        }
        i
    }

    /// Adds a source (replacing one of the same name).
    pub(crate) fn insert(&self, s: Arc<InputStats>) {
        if let Ok(mut g) = self.inner.write() {
            let (by_name, order) = &mut *g;
            order.retain(|o| o.name != s.name);
            by_name.insert(s.name.clone(), s.clone());
            order.push(s);
        }
    }

    /// Forgets a removed source; `None` when there was none.
    pub(crate) fn remove(&self, name: &str) -> Option<Arc<InputStats>> {
        let mut g = self.inner.write().ok()?;
        let (by_name, order) = &mut *g;
        order.retain(|o| o.name != name);
        by_name.remove(name)
    }

    /// The source named `name`; `None` for records of an input no longer configured (replayed
    /// from the spool after a configuration change or a removal).
    pub fn get(&self, name: &str) -> Option<Arc<InputStats>> {
        self.inner.read().ok()?.0.get(name).cloned()
    }

    /// Every source, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = Arc<InputStats>> + use<> {
        self.inner
            .read()
            .map(|g| g.1.clone())
            .unwrap_or_default()
            .into_iter()
    }
}

/// One source, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InputStatus {
    pub name: String,
    /// A listener kind, or `http` for the bulk API.
    pub kind: &'static str,
    /// `config`, `api`, or `builtin` (the HTTP bulk API).
    pub origin: &'static str,
    pub endpoint: String,
    pub state: InputState,
    /// Why it last failed to start (a bind error, missing certificate files).
    pub last_error: Option<String>,
    pub received: u64,
    pub dropped: u64,
    pub frame_errors: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub stored: u64,
    pub dead_letters: u64,
    pub spooled: u64,
    pub connections: u64,
    pub last_received_at: Option<Timestamp>,
}

/// Totals over every source since start.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub received: u64,
    pub dropped: u64,
    pub frame_errors: u64,
    pub connections_refused: u64,
    pub spooled: u64,
    pub spool_full: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub unattributed: u64,
    pub dead_letters: u64,
    /// Dead letters dropped on a full dead-letter queue.
    pub dead_letters_dropped: u64,
    /// Dead letters the store refused (dropped, logged).
    pub dead_letter_store_errors: u64,
    pub stored: u64,
    pub alerts: u64,
    pub store_errors: u64,
}

/// The spool's fill.
#[derive(Debug, Clone, Serialize)]
pub struct SpoolStatus {
    /// Bytes on disk in segments.
    pub used_bytes: u64,
    /// Bytes written but not yet stored (what a crash now would replay).
    pub pending_bytes: u64,
    pub max_bytes: u64,
    pub segments: usize,
}

/// The whole pipeline, as `GET /api/v1/pipeline` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStatus {
    pub started_at: Timestamp,
    /// Sigma rules loaded (0 without detection).
    pub rules: usize,
    pub processing: bool,
    pub inputs: Vec<InputStatus>,
    pub totals: Totals,
    pub spool: SpoolStatus,
    /// Seconds between receiving the oldest record of the last processed batch and storing it.
    pub lag_seconds: f64,
}

/// A read-only handle on a running pipeline (cheap to clone).
#[derive(Debug, Clone)]
pub struct Monitor {
    pub(crate) stats: Arc<Stats>,
    pub(crate) spool: Spool,
    pub(crate) spool_max: u64,
    pub(crate) dead_letter_stats: Arc<crate::deadletter::SinkStats>,
    pub(crate) rules: usize,
    pub(crate) processing: bool,
    pub(crate) started_at: Timestamp,
    pub(crate) sources: crate::sources::SourceControl,
}

impl Monitor {
    pub fn status(&self) -> PipelineStatus {
        let s = &self.stats;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let inputs: Vec<InputStatus> = s.inputs.iter().map(|i| i.snapshot()).collect();
        PipelineStatus {
            started_at: self.started_at,
            rules: self.rules,
            processing: self.processing,
            inputs,
            totals: Totals {
                received: g(&s.received),
                dropped: g(&s.dropped),
                frame_errors: g(&s.frame_errors),
                connections_refused: g(&s.connections_refused),
                spooled: g(&s.spooled),
                spool_full: g(&s.spool_full),
                parsed: g(&s.parsed),
                rejected: g(&s.rejected),
                unattributed: g(&s.unattributed),
                dead_letters: g(&s.dead_letters),
                dead_letters_dropped: g(&self.dead_letter_stats.dropped),
                dead_letter_store_errors: g(&self.dead_letter_stats.store_errors),
                stored: g(&s.stored),
                alerts: g(&s.alerts),
                store_errors: g(&s.store_errors),
            },
            spool: SpoolStatus {
                used_bytes: self.spool.used_bytes(),
                pending_bytes: self.spool.pending_bytes(),
                max_bytes: self.spool_max,
                segments: self.spool.segment_count(),
            },
            lag_seconds: f64::from_bits(s.lag_bits.load(Ordering::Relaxed)),
        }
    }

    /// The handle that changes the sources of the running pipeline (for administrators).
    pub fn sources(&self) -> &crate::sources::SourceControl {
        &self.sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ListenerConfig;

    #[test]
    fn the_http_api_is_a_row_of_its_own_unless_a_listener_has_its_name() {
        let inputs = Inputs::new(&[]);
        let rows: Vec<_> = inputs.iter().map(|i| i.snapshot()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, crate::intake::HTTP_INPUT);
        assert_eq!((rows[0].kind, rows[0].origin), ("http", "builtin"));
        assert_eq!(rows[0].state, InputState::Listening);
        assert_eq!(rows[0].endpoint, "POST /api/v1/events");
        let l = ListenerConfig::new(
            crate::intake::HTTP_INPUT,
            crate::ListenerKind::SyslogUdp,
            "127.0.0.1:0".parse().expect("addr"),
        );
        let inputs = Inputs::new(std::slice::from_ref(&l));
        let rows: Vec<_> = inputs.iter().map(|i| i.snapshot()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, "syslog_udp");
    }

    #[test]
    fn input_state_round_trips() {
        for s in [
            InputState::Starting,
            InputState::Listening,
            InputState::Connected,
            InputState::Disconnected,
            InputState::Stopped,
            InputState::Disabled,
            InputState::Failed,
        ] {
            assert_eq!(InputState::from_u8(s.as_u8()), s);
        }
    }
}
