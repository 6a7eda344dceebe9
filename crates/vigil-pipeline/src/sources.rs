//! The running listeners, changed while the pipeline runs: administrators add, change,
//! disable and remove sources (`/api/v1/pipeline/sources`), and [`SourceControl`] starts,
//! restarts and stops the matching listener tasks without touching the others, the spool or
//! the processor.
//!
//! Each listener has its own stop signal; its connection tasks watch the same one, so
//! stopping a source closes its socket and its connections, while what it already queued is
//! still written to the spool and processed. A source keeps its counters across changes (the
//! same [`InputStats`] is reconfigured); a removed one is forgotten. A bind error is the
//! source's state ([`InputState::Failed`] with the error), never the pipeline's end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use vigil_model::Scope;
use vigil_store::Store;

use crate::status::{InputState, InputStats};
use crate::{
    ListenerConfig, ListenerKind, PipelineError, Queued, Stats, listener, mqtt, tail, tls,
};

/// A listener's socket or settings, ready to run.
pub(crate) enum Bound {
    Udp(tokio::net::UdpSocket),
    Tcp(tokio::net::TcpListener, Option<tls::Tls>),
    Mqtt(mqtt::MqttSettings),
    File(tail::FileSettings),
}

/// Binds the socket of `l` (loads its certificates, checks its client organizations).
pub(crate) async fn bind(
    l: &ListenerConfig,
    store: &Arc<dyn Store>,
) -> Result<Bound, PipelineError> {
    let bind_err = |source| PipelineError::Bind {
        name: l.name.clone(),
        addr: l.listen,
        source,
    };
    let listener_err = |message: String| PipelineError::Listener {
        name: l.name.clone(),
        message,
    };
    if let Some(name) = &l.timezone {
        jiff::tz::TimeZone::get(name)
            .map_err(|e| listener_err(format!("timezone '{name}': {e}")))?;
    }
    Ok(match l.kind {
        ListenerKind::SyslogUdp => Bound::Udp(
            tokio::net::UdpSocket::bind(l.listen)
                .await
                .map_err(bind_err)?,
        ),
        ListenerKind::SyslogTcp => Bound::Tcp(
            tokio::net::TcpListener::bind(l.listen)
                .await
                .map_err(bind_err)?,
            None,
        ),
        ListenerKind::SyslogTls => {
            let settings = l.tls.as_ref().ok_or_else(|| {
                listener_err("a syslog_tls listener needs its certificate files".into())
            })?;
            for c in &settings.client_orgs {
                if store.get_org(Scope::All, c.org).await?.is_none() {
                    return Err(listener_err(format!(
                        "client_orgs: organization {} (for '{}') does not exist",
                        c.org.0, c.name
                    )));
                }
            }
            let s = settings.clone();
            let tls = tokio::task::spawn_blocking(move || tls::Tls::load(&s))
                .await
                .map_err(|e| PipelineError::Thread(std::io::Error::other(e.to_string())))?
                .map_err(|e| listener_err(e.to_string()))?;
            Bound::Tcp(
                tokio::net::TcpListener::bind(l.listen)
                    .await
                    .map_err(bind_err)?,
                Some(tls),
            )
        }
        ListenerKind::File => match &l.file {
            Some(f) => Bound::File(f.clone()),
            None => {
                return Err(listener_err(
                    "a file listener needs its path patterns".into(),
                ));
            }
        },
        ListenerKind::Mqtt => match &l.mqtt {
            Some(m) => Bound::Mqtt(m.clone()),
            None => {
                return Err(listener_err(
                    "an mqtt listener needs its broker settings".into(),
                ));
            }
        },
    })
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    stats: Arc<Stats>,
    store: Arc<dyn Store>,
    data_dir: PathBuf,
    /// `None` once the pipeline is stopping: nothing starts any more.
    tx: std::sync::Mutex<Option<mpsc::Sender<Queued>>>,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// The processor's zones by source name (RFC 3164 times), set at each (re)start.
    zones: crate::process::Zones,
}

/// Starts, restarts and stops the pipeline's listeners while it runs (cheap to clone).
#[derive(Clone)]
pub struct SourceControl {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SourceControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceControl").finish_non_exhaustive()
    }
}

impl SourceControl {
    pub(crate) fn new(
        stats: Arc<Stats>,
        store: Arc<dyn Store>,
        data_dir: PathBuf,
        tx: mpsc::Sender<Queued>,
        zones: crate::process::Zones,
    ) -> Self {
        SourceControl {
            inner: Arc::new(Inner {
                stats,
                store,
                data_dir,
                tx: std::sync::Mutex::new(Some(tx)),
                running: tokio::sync::Mutex::new(HashMap::new()),
                zones,
            }),
        }
    }

    /// Runs a bound listener under its own stop signal; `None` when the pipeline is stopping.
    fn spawn(
        &self,
        l: ListenerConfig,
        b: Bound,
        stats: &InputStats,
    ) -> Result<Option<(Running, Option<SocketAddr>)>, PipelineError> {
        let Some(tx) = self.inner.tx.lock().ok().and_then(|g| g.clone()) else {
            return Ok(None);
        };
        // `bind` checked the name; records already spooled from this source keep the zone it
        // has from now on.
        let tz = l
            .timezone
            .as_deref()
            .and_then(|n| jiff::tz::TimeZone::get(n).ok());
        if let Ok(mut z) = self.inner.zones.write() {
            match tz {
                Some(tz) => z.insert(l.name.clone(), tz),
                None => z.remove(&l.name),
            };
        }
        let (stop, stop_rx) = watch::channel(false);
        let ctx = listener::Ctx {
            cfg: l.clone(),
            tx,
            stats: self.inner.stats.clone(),
            shutdown: stop_rx,
        };
        let local = |a: std::io::Result<SocketAddr>| {
            a.map_err(|source| PipelineError::Bind {
                name: l.name.clone(),
                addr: l.listen,
                source,
            })
        };
        stats.set_state(InputState::Listening);
        let (task, addr) = match b {
            Bound::Udp(s) => {
                let a = local(s.local_addr())?;
                tracing::info!(input = %l.name, addr = %a, "syslog udp listening");
                (tokio::spawn(listener::run_udp(s, ctx)), Some(a))
            }
            Bound::Tcp(s, tls) => {
                let a = local(s.local_addr())?;
                if tls.is_some() {
                    tracing::info!(input = %l.name, addr = %a, "syslog tls listening");
                } else {
                    tracing::info!(input = %l.name, addr = %a, "syslog tcp listening");
                }
                (tokio::spawn(listener::run_tcp(s, ctx, tls)), Some(a))
            }
            Bound::Mqtt(m) => {
                tracing::info!(input = %l.name, broker = %m.url(), topics = ?m.topics, "mqtt subscribing");
                (tokio::spawn(mqtt::run(m, ctx)), None)
            }
            Bound::File(f) => {
                tracing::info!(input = %l.name, patterns = ?f.patterns, "tailing files");
                let ckpt = tail::checkpoint_path(&self.inner.data_dir, &l.name);
                (tokio::spawn(tail::run(f, ckpt, ctx)), None)
            }
        };
        stats.set_addr(addr);
        stats.set_error(None);
        Ok(Some((Running { stop, task }, addr)))
    }

    /// Starts the configured listeners bound by `Pipeline::start`.
    pub(crate) async fn start_bound(
        &self,
        bound: Vec<(ListenerConfig, Bound)>,
    ) -> Result<(), PipelineError> {
        let mut running = self.inner.running.lock().await;
        for (l, b) in bound {
            let Some(stats) = self.inner.stats.inputs.get(&l.name) else {
                continue;
            };
            if let Some((r, _)) = self.spawn(l.clone(), b, &stats)? {
                running.insert(l.name.clone(), r);
            }
        }
        Ok(())
    }

    /// Where the source came from (`config` or `api`), when the pipeline knows it.
    pub fn origin(&self, name: &str) -> Option<&'static str> {
        self.inner.stats.inputs.get(name).map(|i| i.origin)
    }

    /// The address the source `name` is bound to, while it listens.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.inner.stats.inputs.get(name).and_then(|i| i.addr())
    }

    /// Runs the source `cfg.name` with `cfg` when `enabled` (started, or restarted when it
    /// ran), or stops it and shows it disabled. Its counters stay. A bind error leaves it
    /// shown as failed with the error, and is returned. Sources of the configuration file
    /// are not changed here.
    pub async fn apply(
        &self,
        cfg: ListenerConfig,
        enabled: bool,
    ) -> Result<Option<SocketAddr>, PipelineError> {
        let mut running = self.inner.running.lock().await;
        let existing = self.inner.stats.inputs.get(&cfg.name);
        if existing.as_ref().is_some_and(|i| i.origin == "config") {
            return Err(PipelineError::ConfigSource(cfg.name.clone()));
        }
        if let Some(r) = running.remove(&cfg.name) {
            stop(r).await;
        }
        let stats = match existing {
            Some(s) => {
                s.reconfigure(&cfg);
                s
            }
            None => {
                let s = Arc::new(InputStats::new(&cfg, "api"));
                self.inner.stats.inputs.insert(s.clone());
                s
            }
        };
        stats.set_addr(None);
        stats.set_error(None);
        if !enabled {
            stats.set_state(InputState::Disabled);
            tracing::info!(input = %cfg.name, "source disabled");
            return Ok(None);
        }
        stats.set_state(InputState::Starting);
        let failed = |e: PipelineError| {
            stats.set_state(InputState::Failed);
            stats.set_error(Some(e.to_string()));
            metrics::counter!("vigil_pipeline_source_start_failures_total", "input" => cfg.name.clone())
                .increment(1);
            tracing::warn!(input = %cfg.name, error = %e, "source failed to start");
            e
        };
        let b = bind(&cfg, &self.inner.store).await.map_err(failed)?;
        match self.spawn(cfg.clone(), b, &stats).map_err(failed)? {
            Some((r, addr)) => {
                running.insert(cfg.name.clone(), r);
                Ok(addr)
            }
            None => {
                stats.set_state(InputState::Stopped);
                Ok(None)
            }
        }
    }

    /// Stops the source `name` (its socket and connections closed) and forgets it; `false`
    /// when the pipeline has no such source. Sources of the configuration file stay.
    pub async fn remove(&self, name: &str) -> Result<bool, PipelineError> {
        let mut running = self.inner.running.lock().await;
        if self.origin(name) == Some("config") {
            return Err(PipelineError::ConfigSource(name.to_string()));
        }
        if let Some(r) = running.remove(name) {
            stop(r).await;
        }
        let known = self.inner.stats.inputs.remove(name).is_some();
        if known {
            tracing::info!(input = %name, "source removed");
        }
        Ok(known)
    }

    /// Starts the sources stored through the API (`vigil serve` start): enabled ones listen,
    /// disabled ones are shown; one that cannot start is shown failed, and one whose name the
    /// configuration file now uses is skipped. Returns how many were started.
    pub async fn start_stored(&self) -> usize {
        let stored = match self.inner.store.list_pipeline_sources().await {
            Ok(s) => s,
            Err(e) => {
                metrics::counter!("vigil_pipeline_source_start_failures_total", "input" => "*")
                    .increment(1);
                tracing::error!(error = %e, "cannot read the stored pipeline sources");
                return 0;
            }
        };
        let mut started = 0;
        for s in stored
            .into_iter()
            .filter(|s| s.origin == vigil_store::SourceOrigin::Api)
        {
            if self.origin(&s.name) == Some("config") {
                tracing::warn!(input = %s.name, "stored source skipped: the configuration file defines one of that name");
                continue;
            }
            let cfg = match crate::source::SourceSpec::from_stored(&s)
                .and_then(|spec| spec.resolve(&|k| k.to_string()))
            {
                Ok(c) => c,
                Err(e) => {
                    metrics::counter!("vigil_pipeline_source_start_failures_total", "input" => s.name.clone())
                        .increment(1);
                    tracing::error!(input = %s.name, error = %e, "stored source is invalid, not started");
                    continue;
                }
            };
            if self.apply(cfg, s.enabled).await.is_ok() && s.enabled {
                started += 1;
            }
        }
        started
    }

    /// Stops every listener and lets go of the queue (the pipeline is stopping).
    pub(crate) async fn stop_all(&self) {
        let mut running = self.inner.running.lock().await;
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        for (_, r) in running.drain() {
            stop(r).await;
        }
        for i in self.inner.stats.inputs.iter() {
            i.set_state(InputState::Stopped);
            i.set_addr(None);
        }
    }
}

/// Signals one listener (and its connections) to stop and waits for the listener task, so
/// its socket is closed when this returns.
async fn stop(r: Running) {
    let _ = r.stop.send(true);
    let _ = r.task.await;
}
