//! Runtime wiring of a Vigil node: configuration, store selection, first-start bootstrap,
//! retention, demo data, and the HTTP listener.
//!
//! [`config::Config`] is resolved once at start; [`open_store`] opens the configured backend
//! (running its migrations); [`bootstrap_admin`] makes sure an administrator exists;
//! [`serve`] runs the web application until Ctrl-C or SIGTERM, with the retention task beside
//! it, and the live ingestion pipeline (`vigil-pipeline`) when `[pipeline] enabled = true`.

pub mod config;
pub mod field_key;
pub mod notify_config;
pub mod overdue;
pub mod retrohunt_config;
pub mod taxii_feeds;

use anyhow::Context;
use config::{Config, StoreConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use vigil_model::{AuditOutcome, Locale, NewAuditRecord, NewUser, Role};
use vigil_store::Store;

/// Opens the configured store and runs its migrations. Contact names, phone numbers and
/// e-mail addresses are encrypted at rest with the SM4 key in `field_key_file`
/// (`crypto.field_key_file`), created there owner-only when missing ([`field_key`]).
pub async fn open_store(
    cfg: &StoreConfig,
    field_key_file: &std::path::Path,
) -> anyhow::Result<Arc<dyn Store>> {
    let key_file = field_key_file.to_path_buf();
    let key = tokio::task::spawn_blocking(move || field_key::load_or_create_field_key(&key_file))
        .await
        .context("loading the field key")?
        .context("crypto.field_key_file")?;
    Ok(match cfg {
        StoreConfig::Sqlite { data_dir } => {
            let dir = data_dir.clone();
            let store =
                tokio::task::spawn_blocking(move || vigil_store::sqlite::SqliteStore::open(&dir))
                    .await
                    .context("sqlite open task")?
                    .with_context(|| {
                        format!("opening the SQLite store in {}", data_dir.display())
                    })?;
            Arc::new(store.with_field_key(key))
        }
        StoreConfig::Postgres { url } => {
            let store = vigil_store::postgres::PgStore::connect(url)
                .await
                .context("connecting to PostgreSQL (store.postgres_url)")?;
            Arc::new(store.with_field_key(key))
        }
    })
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users already existed.
    Existing,
    /// Created `admin` with the password from `VIGIL_ADMIN_PASSWORD`.
    FromEnvironment,
    /// Created `admin` with this generated one-time password.
    Generated(String),
}

/// On the first start (no users at all), creates the `admin` platform administrator with
/// `admin_password` if given, else a generated password that the caller shows once.
pub async fn bootstrap_admin(
    store: &dyn Store,
    admin_password: Option<String>,
) -> anyhow::Result<Bootstrap> {
    if store.count_users().await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let (password, outcome) = match admin_password {
        Some(p) => {
            vigil_crypto::check_password_policy(&p)
                .map_err(|m| anyhow::anyhow!("VIGIL_ADMIN_PASSWORD: {m}"))?;
            (p, Bootstrap::FromEnvironment)
        }
        None => {
            let p = vigil_crypto::new_password();
            (p.clone(), Bootstrap::Generated(p))
        }
    };
    let hash =
        tokio::task::spawn_blocking(move || vigil_crypto::hash_password(&password)).await??;
    store
        .create_user(
            NewUser {
                username: "admin".into(),
                display_name: "Platform administrator".into(),
                role: Role::PlatformAdmin,
                org_id: None,
                locale: Locale::ZhCn,
            },
            hash,
        )
        .await?;
    store
        .append_audit(NewAuditRecord {
            actor: "system".into(),
            action: "user.create".into(),
            object: "user/admin".into(),
            outcome: AuditOutcome::Success,
            org_id: None,
            detail: "first start".into(),
        })
        .await?;
    Ok(outcome)
}

/// Creates the demo's users (analyst, auditor, and an officer of the first organization) with
/// generated passwords, returned for display. Skips names that already exist.
pub async fn demo_users(store: &dyn Store) -> anyhow::Result<Vec<(String, String)>> {
    let first_org = store
        .list_orgs(vigil_model::Scope::All, &Default::default())
        .await?
        .into_iter()
        .next()
        .map(|o| o.id);
    let mut out = Vec::new();
    let specs = [
        ("analyst", Role::Analyst, None),
        ("auditor", Role::Auditor, None),
        ("officer", Role::OrgUser, first_org),
    ];
    for (name, role, org) in specs {
        if role == Role::OrgUser && org.is_none() {
            continue;
        }
        if store.find_user_for_login(name).await?.is_some() {
            continue;
        }
        let password = vigil_crypto::new_password();
        let p = password.clone();
        let hash = tokio::task::spawn_blocking(move || vigil_crypto::hash_password(&p)).await??;
        store
            .create_user(
                NewUser {
                    username: name.into(),
                    display_name: name.into(),
                    role,
                    org_id: org,
                    locale: Locale::ZhCn,
                },
                hash,
            )
            .await?;
        out.push((name.to_string(), password));
    }
    Ok(out)
}

/// Installs the Prometheus recorder once per process; later calls get `None`.
pub fn install_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
        .ok()
}

/// Deletes events past the retention period now and then every hour.
pub fn spawn_retention(store: Arc<dyn Store>, keep: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let Ok(keep) = jiff::SignedDuration::try_from(keep) else {
                return;
            };
            let cutoff = jiff::Timestamp::now()
                .checked_sub(keep)
                .unwrap_or(jiff::Timestamp::MIN);
            match store.delete_events_before(cutoff).await {
                Ok(n) if n > 0 => {
                    tracing::info!(deleted = n, %cutoff, "retention removed old events")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
            let _ = store.delete_expired_sessions(jiff::Timestamp::now()).await;
        }
    });
}

/// Runs the HTTP server until Ctrl-C or SIGTERM. `on_listening` gets the bound address (which
/// differs from the configured one when the port is 0).
pub async fn serve(
    config: &Config,
    store: Arc<dyn Store>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    serve_until(config, store, metrics, on_listening, shutdown_signal()).await
}

/// [`serve`] until `shutdown` completes instead of a signal (for embedding and tests). The
/// pipeline, when configured, is running by the time `on_listening` is called.
pub async fn serve_until(
    config: &Config,
    store: Arc<dyn Store>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Some(keep) = config.retention {
        spawn_retention(store.clone(), keep);
    }
    let pipeline = match &config.pipeline {
        Some(pc) => Some(
            vigil_pipeline::Pipeline::start(pc.clone(), store.clone())
                .await
                .context("starting the ingestion pipeline (pipeline.*)")?,
        ),
        None => None,
    };
    let store_for_notify = store.clone();
    let mut notify_stop: Option<tokio::sync::oneshot::Sender<()>> = None;
    let state = vigil_web::AppState::new(store.clone(), config.web.clone(), metrics);
    if let Some(c) = config.incidents {
        let agg = vigil_aggregator::Aggregator::new(store, c)
            .context("loading the incident grading and classification tables")?;
        state.set_aggregator(Arc::new(agg));
    }
    // Imports schedule searches of the stored events for the indicators they add or change.
    state.set_retro_hunter(vigil_pipeline::retrohunt::RetroHunter::spawn(
        store_for_notify.clone(),
        config.retro_hunt.clone(),
        state.aggregator.get().cloned(),
    ));
    if let Some(p) = &pipeline {
        state.set_pipeline(p.monitor());
        // HTTP bulk events go through the spool and live detection like listener traffic.
        state.set_intake(p.intake());
    }
    let key_file = config.notice_key_file.clone();
    let key = tokio::task::spawn_blocking(move || vigil_web::notice::load_or_create_key(&key_file))
        .await
        .context("loading the platform key")?
        .context("crypto.notice_key_file")?;
    tracing::info!(public_key = %key.public_key().to_hex(), "notices are signed with this SM2 key");
    state.set_notice_key(key);
    if let Some(nc) = &config.notify {
        let notifier = vigil_notify::Notifier::new(store_for_notify.clone(), nc.clone());
        let worker = notifier
            .worker()
            .context("setting up notification delivery (notify.*)")?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        notify_stop = Some(stop_tx);
        tokio::spawn(worker.run(async move {
            let _ = stop_rx.await;
        }));
        tracing::info!(
            smtp = nc.smtp.is_some(),
            webhooks = nc.webhooks.len(),
            "notification worker started"
        );
        state.set_notifier(notifier);
    }
    let mut watch_stop: Option<tokio::sync::oneshot::Sender<()>> = None;
    if let Some(w) = config.deadline_watch {
        let watcher = overdue::DeadlineWatcher::new(
            store_for_notify.clone(),
            state.notifier.get().cloned(),
            w.remind_at,
        )
        .context("starting the deadline watcher")?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        watch_stop = Some(stop_tx);
        tokio::spawn(watcher.run(w.interval, async move {
            let _ = stop_rx.await;
        }));
        tracing::info!(interval = ?w.interval, "deadline watcher started");
    }
    let mut feeds_stop: Option<tokio::sync::oneshot::Sender<()>> = None;
    if !config.taxii_feeds.is_empty() {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        feeds_stop = Some(stop_tx);
        tokio::spawn(taxii_feeds::run(
            state.clone(),
            config.taxii_feeds.clone(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        tracing::info!(
            feeds = config.taxii_feeds.len(),
            "taxii feed poller started"
        );
    }
    let app = vigil_web::router(state);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {} (server.listen)", config.listen))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(addr = %local, "vigil listening");
    on_listening(local);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("http server")?;
    if let Some(stop) = watch_stop {
        let _ = stop.send(());
    }
    if let Some(stop) = feeds_stop {
        let _ = stop.send(());
    }
    if let Some(stop) = notify_stop {
        // Deliveries in flight finish or are claimed again after their lease.
        let _ = stop.send(());
    }
    if let Some(p) = pipeline {
        // Stops the listeners, spools what is queued; the rest is replayed at the next start.
        p.shutdown().await;
    }
    tracing::info!("vigil stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
