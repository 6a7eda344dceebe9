//! Scheduled TAXII polling: every `[[intel.taxii_feeds]]` is polled on its interval,
//! incrementally, and what it brings is imported into the feed's source.
//!
//! The watermark (`added_after` of the next poll), the last success, the last error and the
//! counters are kept in the store ([`vigil_store::TaxiiFeedState`]), so a restarted node
//! continues after the last object it imported, and analysts see each feed's health at
//! `GET /api/v1/intel/feeds`. A failed poll keeps the watermark and is retried sooner than
//! the interval: after `retry_min`, doubling with each further failure up to the interval.
//! Failures are logged (without credentials) and counted in
//! `vigil_taxii_feed_polls_total{feed, outcome}`; imported objects in
//! `vigil_taxii_feed_objects_total{feed}`.
//!
//! Configuration (`[[intel.taxii_feeds]]`):
//!
//! ```toml
//! [[intel.taxii_feeds]]
//! name = "partner-cert"                       # unique; the source is `taxii:<name>`
//! collection_url = "https://taxii.partner.example/api1/collections/<id>/"
//! interval = "15m"                            # 10s to 7d, default 1h
//! username = "vigil"                          # HTTP Basic, with password_env or password_file
//! password_env = "PARTNER_TAXII_PASSWORD"
//! # token_env / token_file: a bearer token instead
//! # ca_file = "/etc/vigil/partner-ca.pem"     # HTTPS peers with a private CA
//! trust = 70                                  # source trust, default confidence of its indicators
//! tlp = "amber"                               # marking of objects that carry none
//! ```
//!
//! Secrets are named by environment variable or file, never written in the configuration,
//! read once at start and never logged.

use crate::config::{ConfigError, Env, RawTaxiiFeed};
use std::path::PathBuf;
use std::time::Duration;
use vigil_intel::Tlp;
use vigil_model::{AuditOutcome, NewAuditRecord, Timestamp};
use vigil_store::{IntelSourcePatch, TaxiiFeedPoll, TaxiiFeedState};
use vigil_web::AppState;
use vigil_web::taxii_client::{Peer, poll_and_import};

/// Default interval between polls.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3_600);
/// First retry after a failure (then doubling up to the interval).
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(30);

/// One resolved feed.
#[derive(Debug, Clone)]
pub struct TaxiiFeed {
    pub name: String,
    /// The intelligence source its objects are imported into.
    pub source: String,
    /// Where and how to poll (credentials redacted from `Debug`).
    pub peer: Peer,
    pub interval: Duration,
    pub retry_min: Duration,
    /// Trust of the source (0-100), applied at start when configured.
    pub trust: Option<u8>,
    /// Default TLP of the source, applied at start when configured.
    pub tlp: Option<Tlp>,
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

fn duration(key: &str, text: &str, lo: Duration, hi: Duration) -> Result<Duration, ConfigError> {
    let bad = || {
        invalid(
            key,
            format!(
                "'{text}' is not a duration from {}s to {}s, like 30s, 15m or 1h",
                lo.as_secs(),
                hi.as_secs()
            ),
        )
    };
    let d = text
        .trim()
        .parse::<jiff::Span>()
        .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(bad)?;
    if d < lo || d > hi {
        return Err(bad());
    }
    Ok(d)
}

/// A secret from the environment variable named by `env_key` or the file at `file_key`
/// (trimmed); errors name the key, never the value.
fn secret(
    env: Env,
    key: &dyn Fn(&str) -> String,
    (env_key, env_name): (&str, &Option<String>),
    (file_key, file): (&str, &Option<PathBuf>),
) -> Result<Option<String>, ConfigError> {
    match (env_name, file) {
        (Some(_), Some(_)) => Err(invalid(
            &key(env_key),
            format!("set {env_key} or {file_key}, not both"),
        )),
        (Some(var), None) => {
            let v = env(var).map(|v| v.trim().to_string()).unwrap_or_default();
            if v.is_empty() {
                return Err(invalid(
                    &key(env_key),
                    format!("the environment variable {var} is not set or empty"),
                ));
            }
            Ok(Some(v))
        }
        (None, Some(path)) => {
            let v = std::fs::read_to_string(path)
                .map_err(|e| invalid(&key(file_key), format!("{}: {e}", path.display())))?
                .trim()
                .to_string();
            if v.is_empty() {
                return Err(invalid(
                    &key(file_key),
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(Some(v))
        }
        (None, None) => Ok(None),
    }
}

/// Resolves `[[intel.taxii_feeds]]`.
pub fn resolve(raw: Vec<RawTaxiiFeed>, env: Env) -> Result<Vec<TaxiiFeed>, ConfigError> {
    let mut out: Vec<TaxiiFeed> = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("intel.taxii_feeds[{i}].{k}");
        let name = f.name.unwrap_or_default().trim().to_string();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                &key("name"),
                "is required: 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(&key("name"), format!("'{name}' is used twice")));
        }
        let mut url = f.collection_url.unwrap_or_default().trim().to_string();
        let parsed = url::Url::parse(&url)
            .map_err(|e| invalid(&key("collection_url"), format!("'{url}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(invalid(
                &key("collection_url"),
                format!("'{url}' is not an http:// or https:// URL"),
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Credentials in the URL would end up in logs and in the feed list.
            return Err(invalid(
                &key("collection_url"),
                "must not carry credentials: use username with password_env/password_file, or token_env/token_file",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                &key("collection_url"),
                "must not have a query or fragment",
            ));
        }
        if !url.ends_with('/') {
            url.push('/');
        }
        let interval = match &f.interval {
            Some(t) => duration(
                &key("interval"),
                t,
                Duration::from_secs(10),
                Duration::from_secs(7 * 86_400),
            )?,
            None => DEFAULT_INTERVAL,
        };
        let retry_min = match &f.retry {
            Some(t) => duration(
                &key("retry"),
                t,
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            )?,
            None => DEFAULT_RETRY_MIN,
        }
        .min(interval);
        let timeout = match &f.timeout {
            Some(t) => Some(duration(
                &key("timeout"),
                t,
                Duration::from_secs(1),
                Duration::from_secs(3_600),
            )?),
            None => None,
        };
        let page_size = f.page_size.unwrap_or(1_000);
        if !(1..=10_000).contains(&page_size) {
            return Err(invalid(&key("page_size"), "must be 1 to 10000"));
        }
        let token = secret(
            env,
            &key,
            ("token_env", &f.token_env),
            ("token_file", &f.token_file),
        )?;
        let password = secret(
            env,
            &key,
            ("password_env", &f.password_env),
            ("password_file", &f.password_file),
        )?;
        let basic = match (f.username, password) {
            (Some(u), Some(p)) if !u.trim().is_empty() => Some((u.trim().to_string(), p)),
            (Some(_), Some(_)) => return Err(invalid(&key("username"), "must not be empty")),
            (Some(_), None) => {
                return Err(invalid(
                    &key("username"),
                    "needs password_env or password_file",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    &key("username"),
                    "is required with password_env or password_file",
                ));
            }
            (None, None) => None,
        };
        if token.is_some() && basic.is_some() {
            return Err(invalid(
                &key("token_env"),
                "use a bearer token or a username and password, not both",
            ));
        }
        if let Some(ca) = &f.ca_file
            && !ca.is_file()
        {
            return Err(invalid(
                &key("ca_file"),
                format!("'{}' is not a file", ca.display()),
            ));
        }
        if f.trust.is_some_and(|t| t > 100) {
            return Err(invalid(&key("trust"), "must be 0 to 100"));
        }
        let tlp = match &f.tlp {
            Some(t) => Some(Tlp::parse(t).ok_or_else(|| {
                invalid(
                    &key("tlp"),
                    format!("'{t}' is not clear, green, amber, amber+strict or red"),
                )
            })?),
            None => None,
        };
        let source = f
            .source
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| format!("taxii:{name}"));
        if source.is_empty() || source.len() > 200 {
            return Err(invalid(&key("source"), "must be 1 to 200 characters"));
        }
        out.push(TaxiiFeed {
            name,
            source,
            peer: Peer {
                collection_url: url,
                bearer: token,
                basic,
                page_size,
                ca_file: f.ca_file,
                timeout,
                default_confidence: f.trust,
                default_tlp: tlp,
            },
            interval,
            retry_min,
            trust: f.trust,
            tlp,
        });
    }
    Ok(out)
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    pub state: TaxiiFeedState,
    /// Objects fetched in this poll (0 on failure).
    pub objects: u64,
    pub ok: bool,
}

/// The watermark to poll after: the stored one, unless it belongs to another collection URL.
async fn stored_watermark(st: &AppState, feed: &TaxiiFeed) -> Option<Timestamp> {
    match st.store.get_taxii_feed(&feed.name).await {
        Ok(Some(s)) if s.collection_url == feed.peer.collection_url => s.watermark,
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(feed = %feed.name, error = %e, "reading the feed state failed");
            None
        }
    }
}

/// Polls the feed once from its stored watermark, imports, and records the outcome.
pub async fn poll_once(
    st: &AppState,
    feed: &TaxiiFeed,
) -> Result<PollOutcome, vigil_store::StoreError> {
    let since = stored_watermark(st, feed).await;
    let at = Timestamp::now();
    let name = feed.name.as_str();
    let (poll, objects) = match poll_and_import(st, &feed.peer, &feed.source, since).await {
        Ok((report, polled)) => {
            let n = polled.objects.len() as u64;
            metrics::counter!("vigil_taxii_feed_polls_total", "feed" => name.to_string(), "outcome" => "success")
                .increment(1);
            metrics::counter!("vigil_taxii_feed_objects_total", "feed" => name.to_string())
                .increment(n);
            if report.problems_total > 0 {
                metrics::counter!("vigil_taxii_feed_rejected_total", "feed" => name.to_string())
                    .increment(report.problems_total as u64);
            }
            if n > 0 {
                tracing::info!(
                    feed = name,
                    objects = n,
                    inserted = report.stored.inserted,
                    updated = report.stored.updated,
                    problems = report.problems_total,
                    "taxii feed polled"
                );
                audit(
                    st,
                    feed,
                    AuditOutcome::Success,
                    format!(
                        "{n} objects from {}: {} inserted, {} updated, {} unchanged, {} problems",
                        feed.peer.collection_url,
                        report.stored.inserted,
                        report.stored.updated,
                        report.stored.unchanged,
                        report.problems_total
                    ),
                )
                .await;
            } else {
                tracing::debug!(feed = name, "taxii feed polled: nothing new");
            }
            (
                TaxiiFeedPoll::Success {
                    watermark: polled.watermark,
                    objects: n,
                },
                n,
            )
        }
        Err(e) => {
            metrics::counter!("vigil_taxii_feed_polls_total", "feed" => name.to_string(), "outcome" => "failure")
                .increment(1);
            tracing::warn!(feed = name, url = %feed.peer.collection_url, error = %e, "taxii feed poll failed");
            (
                TaxiiFeedPoll::Failure {
                    error: e.to_string(),
                },
                0,
            )
        }
    };
    let ok = matches!(poll, TaxiiFeedPoll::Success { .. });
    let state = st
        .store
        .record_taxii_feed_poll(name, &feed.peer.collection_url, poll, at)
        .await?;
    metrics::gauge!("vigil_taxii_feed_consecutive_failures", "feed" => name.to_string())
        .set(f64::from(state.consecutive_failures));
    Ok(PollOutcome { state, objects, ok })
}

async fn audit(st: &AppState, feed: &TaxiiFeed, outcome: AuditOutcome, detail: String) {
    let record = NewAuditRecord {
        actor: "system".into(),
        action: "intel.taxii_poll".into(),
        object: format!("taxii-feed/{}", feed.name),
        outcome,
        org_id: None,
        detail,
    };
    if let Err(e) = st.store.append_audit(record).await {
        tracing::error!(feed = %feed.name, error = %e, "audit of a taxii poll failed");
    }
}

impl TaxiiFeed {
    /// What the web layer shows of the feed (the feeds page): no credentials.
    pub fn schedule(&self) -> vigil_web::api::intel_share::TaxiiFeedSchedule {
        vigil_web::api::intel_share::TaxiiFeedSchedule {
            name: self.name.clone(),
            source: self.source.clone(),
            collection_url: self.peer.collection_url.clone(),
            interval: self.interval,
            retry_min: self.retry_min,
        }
    }
}

/// How long to wait after a poll: the interval after a success, after failures `retry_min`
/// doubled per consecutive failure, at most the interval — the one formula the feeds page
/// also shows (`intel_share::feed_delay`).
pub fn next_delay(feed: &TaxiiFeed, consecutive_failures: u32) -> Duration {
    vigil_web::api::intel_share::feed_delay(feed.interval, feed.retry_min, consecutive_failures)
}

/// Until the first poll after a start: what is left of the interval since the last attempt
/// (immediately when there was none, or the last one failed).
async fn first_delay(st: &AppState, feed: &TaxiiFeed) -> Duration {
    let Ok(Some(s)) = st.store.get_taxii_feed(&feed.name).await else {
        return Duration::ZERO;
    };
    if s.collection_url != feed.peer.collection_url {
        return Duration::ZERO;
    }
    let Some(last) = s.last_attempt_at else {
        return Duration::ZERO;
    };
    let wait = next_delay(feed, s.consecutive_failures);
    let since = Timestamp::now().duration_since(last).unsigned_abs();
    wait.saturating_sub(since)
}

/// Applies the configured trust and TLP to the feed's source (created when new).
async fn prepare_source(st: &AppState, feed: &TaxiiFeed) {
    let source = match vigil_web::api::intel::source_named(st, &feed.source, "taxii").await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(feed = %feed.name, error = %e.message, "preparing the feed's source failed");
            return;
        }
    };
    if feed.trust.is_none() && feed.tlp.is_none() {
        return;
    }
    let patch = IntelSourcePatch {
        trust: feed.trust,
        default_tlp: feed.tlp.map(|t| Some(t.as_str().to_string())),
        ..IntelSourcePatch::default()
    };
    if let Err(e) = st.store.update_intel_source(source.id, patch).await {
        tracing::warn!(feed = %feed.name, error = %e, "applying the feed's trust and TLP failed");
    }
}

/// Polls one feed on its schedule until `stop` says so.
async fn run_feed(st: AppState, feed: TaxiiFeed, mut stop: tokio::sync::watch::Receiver<bool>) {
    prepare_source(&st, &feed).await;
    let mut delay = first_delay(&st, &feed).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        delay = match poll_once(&st, &feed).await {
            Ok(o) => next_delay(&feed, o.state.consecutive_failures),
            Err(e) => {
                // The poll may have imported; its record did not go in. The next poll starts
                // from the old watermark again, which re-imports idempotently.
                metrics::counter!("vigil_taxii_feed_polls_total", "feed" => feed.name.clone(), "outcome" => "store_error")
                    .increment(1);
                tracing::error!(feed = %feed.name, error = %e, "recording a taxii poll failed");
                next_delay(&feed, 1)
            }
        };
    }
}

/// Runs every feed's schedule until `shutdown` completes.
pub async fn run(
    st: AppState,
    feeds: Vec<TaxiiFeed>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for feed in feeds {
        tracing::info!(feed = %feed.name, url = %feed.peer.collection_url, interval = ?feed.interval, "taxii feed scheduled");
        tasks.spawn(run_feed(st.clone(), feed, rx.clone()));
    }
    shutdown.await;
    let _ = tx.send(true);
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Config, RawConfig};

    fn resolve_with(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let raw = RawConfig::from_toml(toml).map_err(|m| ConfigError::Parse {
            path: "t.toml".into(),
            message: m,
        })?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::resolve(raw, &move |k: &str| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn err_key(r: Result<Config, ConfigError>) -> String {
        match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn feeds_resolve_with_credentials_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret-token\n").unwrap();
        let toml = format!(
            r#"
[[intel.taxii_feeds]]
name = "partner-cert"
collection_url = "https://taxii.partner.example/api1/collections/abc"
interval = "15m"
username = "vigil"
password_env = "PARTNER_PW"
trust = 70
tlp = "amber"

[[intel.taxii_feeds]]
name = "national"
collection_url = "http://127.0.0.1:5000/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"
token_file = "{}"
retry = "5s"
page_size = 50
"#,
            token.display()
        );
        let c = resolve_with(&toml, &[("PARTNER_PW", "pw-value")]).unwrap();
        assert_eq!(c.taxii_feeds.len(), 2);
        let a = &c.taxii_feeds[0];
        assert_eq!(a.name, "partner-cert");
        assert_eq!(a.source, "taxii:partner-cert");
        assert_eq!(
            a.peer.collection_url,
            "https://taxii.partner.example/api1/collections/abc/"
        );
        assert_eq!(a.interval, Duration::from_secs(900));
        assert_eq!(a.retry_min, DEFAULT_RETRY_MIN);
        assert_eq!(
            a.peer.basic,
            Some(("vigil".to_string(), "pw-value".to_string()))
        );
        assert_eq!(a.peer.bearer, None);
        assert_eq!(a.trust, Some(70));
        assert_eq!(a.peer.default_confidence, Some(70));
        assert_eq!(a.tlp, Some(Tlp::Amber));
        let b = &c.taxii_feeds[1];
        assert_eq!(b.peer.bearer.as_deref(), Some("s3cret-token"));
        assert_eq!(b.interval, DEFAULT_INTERVAL);
        assert_eq!(b.retry_min, Duration::from_secs(5));
        assert_eq!(b.peer.page_size, 50);
        // Secrets never show in Debug output (logs, panics).
        let dbg = format!("{:?}", c.taxii_feeds);
        assert!(
            !dbg.contains("pw-value") && !dbg.contains("s3cret-token"),
            "{dbg}"
        );
        // No feeds by default.
        assert!(resolve_with("", &[]).unwrap().taxii_feeds.is_empty());
    }

    #[test]
    fn bad_feeds_name_their_key() {
        let feed = |body: &str| format!("[[intel.taxii_feeds]]\n{body}\n");
        let ok_url = "collection_url = \"http://peer.example/r/collections/c/\"";
        let cases = [
            (feed(ok_url), "intel.taxii_feeds[0].name"),
            (
                feed("name = \"a\"\ncollection_url = \"ftp://peer/x/\""),
                "intel.taxii_feeds[0].collection_url",
            ),
            (
                feed("name = \"a\"\ncollection_url = \"https://u:p@peer.example/c/\""),
                "intel.taxii_feeds[0].collection_url",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\ninterval = \"1s\"")),
                "intel.taxii_feeds[0].interval",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\ninterval = \"soon\"")),
                "intel.taxii_feeds[0].interval",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\nusername = \"u\"")),
                "intel.taxii_feeds[0].username",
            ),
            (
                feed(&format!(
                    "name = \"a\"\n{ok_url}\ntoken_env = \"MISSING_VAR\""
                )),
                "intel.taxii_feeds[0].token_env",
            ),
            (
                feed(&format!(
                    "name = \"a\"\n{ok_url}\ntoken_file = \"/nonexistent/token\""
                )),
                "intel.taxii_feeds[0].token_file",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\ntrust = 101")),
                "intel.taxii_feeds[0].trust",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\ntlp = \"purple\"")),
                "intel.taxii_feeds[0].tlp",
            ),
            (
                feed(&format!("name = \"a\"\n{ok_url}\npage_size = 0")),
                "intel.taxii_feeds[0].page_size",
            ),
            (
                format!(
                    "{}{}",
                    feed(&format!("name = \"a\"\n{ok_url}")),
                    feed(&format!("name = \"a\"\n{ok_url}"))
                ),
                "intel.taxii_feeds[1].name",
            ),
        ];
        for (toml, key) in cases {
            assert_eq!(err_key(resolve_with(&toml, &[])), key, "{toml}");
        }
        // Unknown keys are refused at parse time.
        assert!(RawConfig::from_toml("[[intel.taxii_feeds]]\nnmae = \"x\"\n").is_err());
    }

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let feed = TaxiiFeed {
            name: "f".into(),
            source: "taxii:f".into(),
            peer: Peer::default(),
            interval: Duration::from_secs(600),
            retry_min: Duration::from_secs(30),
            trust: None,
            tlp: None,
        };
        assert_eq!(next_delay(&feed, 0), Duration::from_secs(600));
        assert_eq!(next_delay(&feed, 1), Duration::from_secs(30));
        assert_eq!(next_delay(&feed, 2), Duration::from_secs(60));
        assert_eq!(next_delay(&feed, 4), Duration::from_secs(240));
        assert_eq!(next_delay(&feed, 5), Duration::from_secs(480));
        assert_eq!(next_delay(&feed, 6), Duration::from_secs(600));
        assert_eq!(next_delay(&feed, 400), Duration::from_secs(600));
    }
}
