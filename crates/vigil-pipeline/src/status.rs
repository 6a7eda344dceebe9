//! What the pipeline shows of itself: every source with its state and counters, the spool,
//! the processing lag, and the dead letters (searchable).
//!
//! Counters per source live in [`InputStats`], created once per configured listener when the
//! pipeline starts and updated with relaxed atomics by the listener and processor tasks (the
//! same places that update the Prometheus counters). A [`Monitor`] is a cheap handle the web
//! layer keeps to read them; it never blocks the pipeline.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
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
    /// (replaced when an administrator changes the source).
    what: Mutex<(ListenerKind, String)>,
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
        InputStats {
            name: cfg.name.clone(),
            origin,
            what: Mutex::new((cfg.kind, endpoint_of(cfg))),
            addr: Mutex::new(None),
            last_error: Mutex::new(None),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            frame_errors: AtomicU64::new(0),
            parsed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            last_received_ms: AtomicI64::new(0),
            state: AtomicU8::new(InputState::Starting.as_u8()),
        }
    }

    pub fn state(&self) -> InputState {
        InputState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: InputState) {
        self.state.store(s.as_u8(), Ordering::Relaxed);
    }

    pub fn kind(&self) -> ListenerKind {
        self.what.lock().map_or(ListenerKind::SyslogTcp, |w| w.0)
    }

    /// New settings for the same source: the counters stay.
    pub(crate) fn reconfigure(&self, cfg: &ListenerConfig) {
        if let Ok(mut w) = self.what.lock() {
            *w = (cfg.kind, endpoint_of(cfg));
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
            .unwrap_or((ListenerKind::SyslogTcp, String::new()));
        // Port 0 in the settings: show the address actually bound.
        if let Some(a) = self.addr() {
            let scheme = endpoint.split("://").next().unwrap_or("tcp").to_string();
            endpoint = format!("{scheme}://{a}");
        }
        InputStatus {
            name: self.name.clone(),
            kind: kind.as_str(),
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
    pub(crate) fn new(listeners: &[ListenerConfig]) -> Self {
        let i = Inputs::default();
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
    pub kind: &'static str,
    /// `config` or `api`.
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
    pub(crate) dead_letter_dir: PathBuf,
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

    /// Searches the dead letters (blocking file IO: call from a blocking thread).
    pub fn dead_letters(&self, q: &DeadLetterQuery) -> io::Result<DeadLetterPage> {
        search_dead_letters(&self.dead_letter_dir, q)
    }
}

/// Largest page of dead letters.
pub const MAX_DEAD_LETTER_PAGE: usize = 200;

/// Filters over the dead letters; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterQuery {
    /// Exact input (listener) name.
    pub input: Option<String>,
    /// `parse`, `oversized`, `unattributed` or `invalid`.
    pub reason: Option<String>,
    /// Case-insensitive substring of the detail, the sender or the raw bytes (as text).
    pub text: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Newest first; at most [`MAX_DEAD_LETTER_PAGE`].
    pub limit: usize,
}

/// One dead letter as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterView {
    pub time: String,
    pub reason: String,
    pub detail: String,
    pub input: String,
    pub sender: Option<String>,
    /// Length of the input; only the first 64 KiB are kept.
    pub raw_len: u64,
    /// The kept bytes as text (invalid UTF-8 replaced).
    pub raw_text: String,
    /// The kept bytes exactly, base64.
    pub raw_b64: String,
}

/// A page of dead letters, newest first, and how many matched in all.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetterView>,
    pub matched: u64,
    /// Lines of the files that were not dead letters (a torn last line while writing).
    pub unreadable_lines: u64,
}

#[derive(serde::Deserialize)]
struct Line {
    time: String,
    reason: String,
    #[serde(default)]
    detail: String,
    input: String,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    raw_len: u64,
    #[serde(default)]
    raw_b64: String,
}

/// The kept raw bytes of a dead letter as text (invalid UTF-8 replaced).
fn decode_raw(b64: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&raw).into_owned()
}

/// Reads the rotated file, then the current one (oldest to newest), keeping the newest
/// `limit` matches in a ring: memory is bounded by the page, whatever the files hold.
pub fn search_dead_letters(dir: &Path, q: &DeadLetterQuery) -> io::Result<DeadLetterPage> {
    let limit = q.limit.clamp(1, MAX_DEAD_LETTER_PAGE);
    let needle = q
        .text
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase);
    let mut ring: std::collections::VecDeque<DeadLetterView> =
        std::collections::VecDeque::with_capacity(limit);
    let mut matched = 0u64;
    let mut unreadable = 0u64;
    for name in [crate::deadletter::OLD, crate::deadletter::FILE] {
        let f = match std::fs::File::open(dir.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(f).split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            let Ok(l) = serde_json::from_slice::<Line>(&line) else {
                unreadable += 1;
                continue;
            };
            if q.input.as_deref().is_some_and(|i| i != l.input)
                || q.reason.as_deref().is_some_and(|r| r != l.reason)
            {
                continue;
            }
            if q.since.is_some() || q.until.is_some() {
                let Ok(t) = l.time.parse::<Timestamp>() else {
                    continue;
                };
                if q.since.is_some_and(|s| t < s) || q.until.is_some_and(|u| t >= u) {
                    continue;
                }
            }
            // Without a text search the raw bytes are decoded only for the page kept, below.
            let mut raw_text = String::new();
            if let Some(n) = &needle {
                raw_text = decode_raw(&l.raw_b64);
                let hit = l.detail.to_lowercase().contains(n)
                    || l.sender
                        .as_deref()
                        .is_some_and(|s| s.to_lowercase().contains(n))
                    || raw_text.to_lowercase().contains(n);
                if !hit {
                    continue;
                }
            }
            matched += 1;
            if ring.len() == limit {
                ring.pop_front();
            }
            ring.push_back(DeadLetterView {
                time: l.time,
                reason: l.reason,
                detail: l.detail,
                input: l.input,
                sender: l.sender,
                raw_len: l.raw_len,
                raw_text,
                raw_b64: l.raw_b64,
            });
        }
    }
    if needle.is_none() {
        for d in &mut ring {
            d.raw_text = decode_raw(&d.raw_b64);
        }
    }
    Ok(DeadLetterPage {
        items: ring.into_iter().rev().collect(),
        matched,
        unreadable_lines: unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadletter::{DeadLetter, DeadLetterFile, Reason};

    fn letter(i: u32, reason: Reason, input: &str, raw: &[u8]) -> DeadLetter {
        DeadLetter {
            reason,
            detail: format!("problem {i}"),
            input: input.into(),
            sender: Some(format!("10.0.0.{i}:514")),
            received_at: Timestamp::from_second(1_700_000_000 + i64::from(i)).expect("ts"),
            raw: raw.to_vec(),
        }
    }

    #[test]
    fn search_filters_and_returns_newest_first_across_rotation() {
        let dir = tempfile::tempdir().expect("tmp");
        // Small limit: the early letters end up in the rotated file.
        let mut f = DeadLetterFile::open(dir.path(), 4096).expect("open");
        for i in 0..40 {
            let (reason, input) = if i % 4 == 0 {
                (Reason::Oversized, "udp")
            } else {
                (Reason::Parse, "tcp")
            };
            let raw = format!("<13>garbage number {i} \u{00e9}");
            f.write(&[letter(i, reason, input, raw.as_bytes())])
                .expect("write");
        }
        assert!(dir.path().join(crate::deadletter::OLD).exists());

        let all = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                limit: 5,
                ..Default::default()
            },
        )
        .expect("search");
        assert_eq!(all.items.len(), 5);
        assert_eq!(all.items[0].detail, "problem 39", "newest first");
        assert_eq!(all.items[4].detail, "problem 35");
        assert!(all.matched <= 40 && all.matched >= 5);

        let udp = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                input: Some("udp".into()),
                reason: Some("oversized".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .expect("search");
        assert!(!udp.items.is_empty());
        assert!(
            udp.items
                .iter()
                .all(|d| d.input == "udp" && d.reason == "oversized")
        );

        let text = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                text: Some("NUMBER 38 É".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .expect("search");
        assert_eq!(text.matched, 1);
        assert_eq!(text.items[0].raw_text, "<13>garbage number 38 \u{00e9}");
        assert_eq!(text.items[0].sender.as_deref(), Some("10.0.0.38:514"));

        let window = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                since: Some(Timestamp::from_second(1_700_000_036).expect("ts")),
                until: Some(Timestamp::from_second(1_700_000_038).expect("ts")),
                limit: 10,
                ..Default::default()
            },
        )
        .expect("search");
        let details: Vec<_> = window.items.iter().map(|d| d.detail.as_str()).collect();
        assert_eq!(details, ["problem 37", "problem 36"]);
    }

    #[test]
    fn torn_lines_are_counted_not_fatal_and_missing_files_are_empty() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .expect("search");
        assert_eq!(empty.matched, 0);
        let mut f = DeadLetterFile::open(dir.path(), 1 << 20).expect("open");
        f.write(&[letter(1, Reason::Unattributed, "mqtt", b"{\"a\":1}")])
            .expect("write");
        drop(f);
        use std::io::Write as _;
        let mut raw = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(crate::deadletter::FILE))
            .expect("open");
        raw.write_all(b"{\"time\":\"2026-").expect("torn");
        let page = search_dead_letters(
            dir.path(),
            &DeadLetterQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .expect("search");
        assert_eq!(page.matched, 1);
        assert_eq!(page.unreadable_lines, 1);
        assert_eq!(page.items[0].reason, "unattributed");
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
