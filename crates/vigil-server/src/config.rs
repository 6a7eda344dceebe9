//! Configuration: one TOML file, `VIGIL_*` environment overrides, validated once.
//!
//! [`RawConfig`] is what was written (every key optional, unknown keys refused);
//! [`Config::resolve`] applies the environment and defaults and checks every value, so the
//! rest of the program gets facts, not options. Every error names the key and the problem.
//!
//! Environment overrides: `VIGIL_<SECTION>_<KEY>` for every key (`VIGIL_SERVER_LISTEN`,
//! `VIGIL_STORE_BACKEND`, `VIGIL_STORE_POSTGRES_URL`, `VIGIL_RETENTION_EVENTS_DAYS`, ...),
//! plus the short forms `VIGIL_LISTEN` and `VIGIL_DATA_DIR`.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub retention: RawRetention,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub pipeline: RawPipeline,
    #[serde(default)]
    pub crypto: RawCrypto,
    #[serde(default)]
    pub notify: crate::notify_config::RawNotify,
    #[serde(default)]
    pub incidents: RawIncidents,
    #[serde(default)]
    pub intel: RawIntel,
}

/// `[intel]`: threat intelligence.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntel {
    /// `[[intel.taxii_feeds]]`: TAXII 2.1 collections polled on a schedule
    /// ([`crate::taxii_feeds`]).
    #[serde(default)]
    pub taxii_feeds: Vec<RawTaxiiFeed>,
    /// `[[intel.edl]]`: external dynamic lists firewalls poll at `/edl/<name>.txt`.
    #[serde(default)]
    pub edl: Vec<RawEdl>,
    /// Days of stored events searched for newly imported indicators (default 7; 0 = off).
    pub retro_hunt_days: Option<u32>,
    /// Events read per indicator value and indexed field by a retro-hunt (default 1000).
    pub retro_hunt_max_events: Option<usize>,
    /// Newest events of the window a retro-hunt scans for values no index finds (default
    /// 200000; 0 = indexed fields only).
    pub retro_hunt_max_scan: Option<usize>,
}

/// `[[intel.edl]]`: a named blocklist served at `/edl/<name>.txt` (token-authenticated).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdl {
    /// `a-z`, `0-9`, `-`, `_`; 1 to 64 characters.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Any of ipv4, ipv6, cidr, domain, url (default all).
    #[serde(default)]
    pub types: Vec<String>,
    pub min_confidence: Option<u8>,
    /// Highest TLP included: clear, green (default) or amber; red is never exported.
    pub tlp: Option<String>,
    /// Source names (default every enabled source).
    #[serde(default)]
    pub sources: Vec<String>,
}

/// The configured external dynamic lists, validated like the API's.
fn resolve_edl(raw: Vec<RawEdl>) -> Result<Vec<vigil_store::NewEdlList>, ConfigError> {
    let mut out: Vec<vigil_store::NewEdlList> = Vec::new();
    for (i, e) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("intel.edl[{i}].{k}");
        let parsed = vigil_web::api::blocklist::BlocklistFilter::from_parts(
            &e.types,
            e.min_confidence,
            e.tlp.as_deref(),
            e.sources,
        )
        .map_err(|(field, message)| invalid(&key(field), message))?;
        let filter = parsed.to_json();
        let list = vigil_store::NewEdlList {
            name: e.name.unwrap_or_default().trim().to_string(),
            description: e.description.filter(|d| !d.trim().is_empty()),
            filter,
        };
        list.validate()
            .map_err(|err| invalid(&key(&err.field), err.message))?;
        if out.iter().any(|o| o.name == list.name) {
            return Err(invalid(
                &key("name"),
                format!("'{}' is used twice", list.name),
            ));
        }
        out.push(list);
    }
    Ok(out)
}

/// `[[intel.taxii_feeds]]`: one TAXII 2.1 collection polled incrementally.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaxiiFeed {
    /// Unique name (letters, digits, `-`, `_`, `.`); shown in `GET /api/v1/intel/feeds`.
    pub name: Option<String>,
    /// The collection URL (`https://host/api-root/collections/<id>/`), without credentials.
    pub collection_url: Option<String>,
    /// Between polls, e.g. `15m` (default 1h; 10 seconds to 7 days).
    pub interval: Option<String>,
    /// First retry after a failure, doubling up to the interval (default 30s).
    pub retry: Option<String>,
    /// Longest wait for one page (default 60s).
    pub timeout: Option<String>,
    /// Objects per page asked for (default 1000).
    pub page_size: Option<usize>,
    /// HTTP Basic user; the password from `password_env` or `password_file`.
    pub username: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// The file holding the password.
    pub password_file: Option<PathBuf>,
    /// The environment variable holding a bearer token.
    pub token_env: Option<String>,
    /// The file holding a bearer token.
    pub token_file: Option<PathBuf>,
    /// PEM CA certificates for an HTTPS peer with a private CA (default: the webpki roots).
    pub ca_file: Option<PathBuf>,
    /// The intelligence source objects go into (default `taxii:<name>`).
    pub source: Option<String>,
    /// Trust of the source, 0-100 (the default confidence of its indicators).
    pub trust: Option<u8>,
    /// TLP for objects without a marking: clear, green, amber, amber+strict, red.
    pub tlp: Option<String>,
}

/// `[incidents]`: aggregation of alerts into incidents (vigil-aggregator).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncidents {
    /// Aggregate new alerts into incidents (default true).
    pub aggregate: Option<bool>,
    /// Window length, e.g. `1h`, `30m`, `1d` (default 1h; 1 minute to 31 days).
    pub window: Option<String>,
    /// Least severe alert that aggregates: info, low, medium, high, critical (default medium).
    pub min_severity: Option<String>,
    /// How often the deadline watcher looks for deadlines near or past, e.g. `1m` (default
    /// 1m; 10 seconds to 1 day; `off` disables it).
    pub overdue_check: Option<String>,
    /// When the reminder before a deadline goes out, as the fraction of the time from start
    /// to due (default 0.8; strictly between 0 and 1).
    pub remind_at: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrypto {
    /// The platform's SM2 private key that signs notices (created when missing).
    pub notice_key_file: Option<PathBuf>,
    /// The SM4 key that encrypts contact names, phone numbers and e-mail addresses at rest
    /// (created when missing).
    pub field_key_file: Option<PathBuf>,
}

/// `[pipeline]`: the live ingestion pipeline (vigil-pipeline), off unless `enabled`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub enabled: Option<bool>,
    pub data_dir: Option<PathBuf>,
    pub rules_dir: Option<PathBuf>,
    pub default_org: Option<String>,
    pub queue_capacity: Option<usize>,
    pub batch_max: Option<usize>,
    pub spool_segment_mb: Option<u64>,
    pub spool_max_mb: Option<u64>,
    pub fsync: Option<String>,
    /// No longer used (dead letters are in the store); accepted so older files still load.
    pub dead_letter_max_mb: Option<u64>,
    /// Dead letters the store keeps at most (newest first); default 100,000.
    pub dead_letter_keep: Option<u64>,
    /// Days a dead letter is kept at most; 0 keeps them regardless of age; default 30.
    pub dead_letter_keep_days: Option<u32>,
    pub directory_refresh_secs: Option<u64>,
    /// How often indicators are reloaded for live matching: `"60s"`, `"5m"`.
    pub intel_refresh: Option<String>,
    /// Severity of indicator alerts whose indicator states no confidence.
    pub intel_severity: Option<String>,
    #[serde(default)]
    pub listeners: Vec<RawListener>,
}

/// `[[pipeline.listeners]]`: the same settings, and the same validator, as the sources
/// defined through the API.
pub type RawListener = vigil_pipeline::source::SourceSpec;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_body_mb: Option<u64>,
    pub ingest_max_inflight: Option<usize>,
    pub ingest_wait_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub backend: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub postgres_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub events_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub session_hours: Option<u32>,
    pub login_max_failures: Option<u32>,
    pub login_lockout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

/// Which store to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Sqlite { data_dir: PathBuf },
    Postgres { url: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub web: vigil_web::WebConfig,
    /// Events older than this are deleted; `None` keeps them forever.
    pub retention: Option<Duration>,
    pub log_level: String,
    pub log_format: LogFormat,
    /// The live pipeline; `None` when `pipeline.enabled` is false (the default).
    pub pipeline: Option<vigil_pipeline::PipelineConfig>,
    /// The platform's SM2 key file (`crypto.notice_key_file`; default `keys/platform-sm2.pem`
    /// in the data directory), read at start or created there owner-only.
    pub notice_key_file: PathBuf,
    /// The SM4 key file for personal contact fields at rest (`crypto.field_key_file`; default
    /// `keys/field-sm4.key` in the data directory), read at start or created there owner-only.
    pub field_key_file: PathBuf,
    /// Alert aggregation into incidents (`[incidents]`); `None` when `aggregate = false`.
    /// The pipeline's alerts, the API's and the demo's all aggregate with it.
    pub incidents: Option<vigil_aggregator::AggregatorConfig>,
    /// Notifications (`[notify]`): e-mail and webhooks; `None` when off.
    pub notify: Option<vigil_notify::NotifyConfig>,
    /// The deadline watcher (`[incidents] overdue_check`, `remind_at`); `None` when off.
    pub deadline_watch: Option<DeadlineWatch>,
    /// TAXII feeds polled on a schedule (`[[intel.taxii_feeds]]`).
    pub taxii_feeds: Vec<crate::taxii_feeds::TaxiiFeed>,
    /// Retro-hunt of newly imported indicators (`[intel] retro_hunt_*`).
    pub retro_hunt: vigil_pipeline::retrohunt::RetroHuntConfig,
}

/// The deadline watcher's schedule ([`crate::overdue`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadlineWatch {
    pub interval: Duration,
    pub remind_at: vigil_incident::escalation::ReminderLead,
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Environment lookup, injectable for tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn env_str(env: Env, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| env(k)).filter(|v| !v.is_empty())
}

fn env_parse<T: std::str::FromStr>(
    env: Env,
    keys: &[&str],
    config_key: &str,
) -> Result<Option<T>, ConfigError> {
    match env_str(env, keys) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            invalid(
                config_key,
                format!("'{v}' from {} is not a valid value", keys[0]),
            )
        }),
    }
}

impl Config {
    /// Applies environment overrides and defaults, and validates.
    pub fn resolve(raw: RawConfig, env: Env) -> Result<Self, ConfigError> {
        let listen_s = env_str(env, &["VIGIL_SERVER_LISTEN", "VIGIL_LISTEN"])
            .or(raw.server.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "'{listen_s}' is not an address of the form host:port (e.g. 127.0.0.1:8080)"
                ),
            )
        })?;

        let backend = env_str(env, &["VIGIL_STORE_BACKEND"])
            .or(raw.store.backend)
            .unwrap_or_else(|| "sqlite".into());
        let store = match backend.as_str() {
            "sqlite" => {
                let data_dir = env_str(env, &["VIGIL_STORE_DATA_DIR", "VIGIL_DATA_DIR"])
                    .map(PathBuf::from)
                    .or(raw.store.data_dir)
                    .unwrap_or_else(|| PathBuf::from("./vigil-data"));
                if data_dir.as_os_str().is_empty() {
                    return Err(invalid("store.data_dir", "must not be empty"));
                }
                StoreConfig::Sqlite { data_dir }
            }
            "postgres" => {
                let url = env_str(env, &["VIGIL_STORE_POSTGRES_URL"])
                    .or(raw.store.postgres_url)
                    .ok_or_else(|| {
                        invalid(
                            "store.postgres_url",
                            "is required when store.backend = \"postgres\"",
                        )
                    })?;
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(invalid(
                        "store.postgres_url",
                        "must start with postgres:// or postgresql://",
                    ));
                }
                StoreConfig::Postgres { url }
            }
            other => {
                return Err(invalid(
                    "store.backend",
                    format!("'{other}' is not one of sqlite, postgres"),
                ));
            }
        };

        let mut web = vigil_web::WebConfig::default();
        if let Some(v) = env_parse::<bool>(
            env,
            &["VIGIL_SERVER_SECURE_COOKIES"],
            "server.secure_cookies",
        )?
        .or(raw.server.secure_cookies)
        {
            web.secure_cookies = v;
        }
        if let Some(mb) =
            env_parse::<u64>(env, &["VIGIL_SERVER_MAX_BODY_MB"], "server.max_body_mb")?
                .or(raw.server.max_body_mb)
        {
            if !(1..=1024).contains(&mb) {
                return Err(invalid("server.max_body_mb", "must be 1 to 1024"));
            }
            web.max_body_bytes = (mb as usize) << 20;
        }
        if let Some(n) = env_parse::<usize>(
            env,
            &["VIGIL_SERVER_INGEST_MAX_INFLIGHT"],
            "server.ingest_max_inflight",
        )?
        .or(raw.server.ingest_max_inflight)
        {
            if !(1..=1024).contains(&n) {
                return Err(invalid("server.ingest_max_inflight", "must be 1 to 1024"));
            }
            web.ingest_max_inflight = n;
        }
        if let Some(ms) = env_parse::<u64>(
            env,
            &["VIGIL_SERVER_INGEST_WAIT_MS"],
            "server.ingest_wait_ms",
        )?
        .or(raw.server.ingest_wait_ms)
        {
            if !(1..=60_000).contains(&ms) {
                return Err(invalid("server.ingest_wait_ms", "must be 1 to 60000"));
            }
            web.ingest_wait = Duration::from_millis(ms);
        }
        if let Some(h) = env_parse::<u32>(env, &["VIGIL_AUTH_SESSION_HOURS"], "auth.session_hours")?
            .or(raw.auth.session_hours)
        {
            if !(1..=720).contains(&h) {
                return Err(invalid("auth.session_hours", "must be 1 to 720"));
            }
            web.session_ttl = Duration::from_secs(u64::from(h) * 3600);
        }
        if let Some(n) = env_parse::<u32>(
            env,
            &["VIGIL_AUTH_LOGIN_MAX_FAILURES"],
            "auth.login_max_failures",
        )?
        .or(raw.auth.login_max_failures)
        {
            if !(1..=100).contains(&n) {
                return Err(invalid("auth.login_max_failures", "must be 1 to 100"));
            }
            web.login_max_failures = n;
        }
        if let Some(s) = env_parse::<u64>(
            env,
            &["VIGIL_AUTH_LOGIN_LOCKOUT_SECS"],
            "auth.login_lockout_secs",
        )?
        .or(raw.auth.login_lockout_secs)
        {
            if !(1..=86_400).contains(&s) {
                return Err(invalid("auth.login_lockout_secs", "must be 1 to 86400"));
            }
            web.login_lockout = Duration::from_secs(s);
        }

        let days = env_parse::<u32>(
            env,
            &["VIGIL_RETENTION_EVENTS_DAYS"],
            "retention.events_days",
        )?
        .or(raw.retention.events_days)
        .unwrap_or(90);
        if days > 36_500 {
            return Err(invalid(
                "retention.events_days",
                "must be at most 36500 (0 keeps events forever)",
            ));
        }
        let retention = (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400));

        let log_level = env_str(env, &["VIGIL_LOG_LEVEL"])
            .or(raw.log.level)
            .unwrap_or_else(|| "info".into());
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str())
            && !log_level.contains('=')
        {
            return Err(invalid(
                "log.level",
                format!(
                    "'{log_level}' is not error, warn, info, debug, trace or a filter like vigil_web=debug"
                ),
            ));
        }
        let log_format = match env_str(env, &["VIGIL_LOG_FORMAT"])
            .or(raw.log.format)
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log.format",
                    format!("'{other}' is not text or json"),
                ));
            }
        };
        let deadline_watch = resolve_deadline_watch(&raw.incidents, env)?;
        let incidents = resolve_incidents(raw.incidents, env)?;
        let mut pipeline = resolve_pipeline(raw.pipeline, &store, env)?;
        if let Some(p) = &mut pipeline {
            p.incidents = incidents;
        }
        let key_dir = match &store {
            StoreConfig::Sqlite { data_dir } => data_dir.clone(),
            StoreConfig::Postgres { .. } => env_str(env, &["VIGIL_DATA_DIR"])
                .map_or_else(|| PathBuf::from("./vigil-data"), PathBuf::from),
        }
        .join("keys");
        let notice_key_file = env_str(env, &["VIGIL_CRYPTO_NOTICE_KEY_FILE"])
            .map(PathBuf::from)
            .or(raw.crypto.notice_key_file)
            .unwrap_or_else(|| key_dir.join("platform-sm2.pem"));
        let field_key_file = env_str(env, &["VIGIL_CRYPTO_FIELD_KEY_FILE"])
            .map(PathBuf::from)
            .or(raw.crypto.field_key_file)
            .unwrap_or_else(|| key_dir.join("field-sm4.key"));
        if field_key_file.as_os_str().is_empty() {
            return Err(invalid("crypto.field_key_file", "must not be empty"));
        }
        let notify = crate::notify_config::resolve(raw.notify, env)?;
        let taxii_feeds = crate::taxii_feeds::resolve(raw.intel.taxii_feeds, env)?;
        let retro_hunt = crate::retrohunt_config::resolve(
            raw.intel.retro_hunt_days,
            raw.intel.retro_hunt_max_events,
            raw.intel.retro_hunt_max_scan,
            env,
            pipeline
                .as_ref()
                .map_or(vigil_model::Severity::Medium, |p| p.intel_severity),
        )?;
        web.edl_lists = resolve_edl(raw.intel.edl)?;
        web.taxii_feeds = taxii_feeds
            .iter()
            .map(crate::taxii_feeds::TaxiiFeed::schedule)
            .collect();
        if notice_key_file.as_os_str().is_empty() {
            return Err(invalid("crypto.notice_key_file", "must not be empty"));
        }
        Ok(Self {
            listen,
            store,
            web,
            retention,
            log_level,
            log_format,
            pipeline,
            notice_key_file,
            field_key_file,
            incidents,
            notify,
            deadline_watch,
            taxii_feeds,
            retro_hunt,
        })
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v < lo || v > hi {
        return Err(invalid(key, format!("{v} is not between {lo} and {hi}")));
    }
    Ok(v)
}

/// Resolves the deadline watcher's keys of `[incidents]`. Environment:
/// `VIGIL_INCIDENTS_OVERDUE_CHECK`, `VIGIL_INCIDENTS_REMIND_AT`.
fn resolve_deadline_watch(
    raw: &RawIncidents,
    env: Env,
) -> Result<Option<DeadlineWatch>, ConfigError> {
    let remind_at = env_parse::<f64>(env, &["VIGIL_INCIDENTS_REMIND_AT"], "incidents.remind_at")?
        .or(raw.remind_at)
        .map_or(Ok(vigil_incident::escalation::ReminderLead::DEFAULT), |f| {
            vigil_incident::escalation::ReminderLead::new(f).ok_or_else(|| {
                invalid(
                    "incidents.remind_at",
                    format!("{f} is not a fraction strictly between 0 and 1"),
                )
            })
        })?;
    let text = env_str(env, &["VIGIL_INCIDENTS_OVERDUE_CHECK"])
        .or_else(|| raw.overdue_check.clone())
        .unwrap_or_else(|| "1m".into());
    if text.trim() == "off" {
        return Ok(None);
    }
    let interval = text
        .trim()
        .parse::<jiff::Span>()
        .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| {
            invalid(
                "incidents.overdue_check",
                format!("'{text}' is not a duration like 30s, 1m or 1h, or off"),
            )
        })?;
    if interval < Duration::from_secs(10) || interval > Duration::from_secs(86_400) {
        return Err(invalid(
            "incidents.overdue_check",
            format!("'{text}' is not between 10 seconds and 1 day"),
        ));
    }
    Ok(Some(DeadlineWatch {
        interval,
        remind_at,
    }))
}

/// Resolves `[incidents]`. Environment: `VIGIL_INCIDENTS_AGGREGATE`,
/// `VIGIL_INCIDENTS_WINDOW`, `VIGIL_INCIDENTS_MIN_SEVERITY`.
fn resolve_incidents(
    raw: RawIncidents,
    env: Env,
) -> Result<Option<vigil_aggregator::AggregatorConfig>, ConfigError> {
    let aggregate = env_parse::<bool>(env, &["VIGIL_INCIDENTS_AGGREGATE"], "incidents.aggregate")?
        .or(raw.aggregate)
        .unwrap_or(true);
    let window = match env_str(env, &["VIGIL_INCIDENTS_WINDOW"]).or(raw.window) {
        None => vigil_aggregator::DEFAULT_WINDOW,
        // A span, so that days are accepted (as 24 hours: windows align to Shanghai midnight,
        // which has no daylight saving).
        Some(w) => w
            .trim()
            .parse::<jiff::Span>()
            .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
            .map_err(|_| {
                invalid(
                    "incidents.window",
                    format!("'{w}' is not a duration like 30m, 1h or 1d"),
                )
            })?,
    };
    let min_severity = match env_str(env, &["VIGIL_INCIDENTS_MIN_SEVERITY"]).or(raw.min_severity) {
        None => vigil_aggregator::DEFAULT_MIN_SEVERITY,
        Some(s) => vigil_model::Severity::parse(s.trim()).ok_or_else(|| {
            invalid(
                "incidents.min_severity",
                format!("'{s}' is not info, low, medium, high or critical"),
            )
        })?,
    };
    let config = vigil_aggregator::AggregatorConfig::new(window, min_severity)
        .map_err(|e| invalid("incidents.window", e.to_string()))?;
    Ok(aggregate.then_some(config))
}

/// Resolves `[pipeline]`. Environment: `VIGIL_PIPELINE_ENABLED`, `VIGIL_PIPELINE_DATA_DIR`,
/// `VIGIL_PIPELINE_RULES_DIR`, `VIGIL_PIPELINE_DEFAULT_ORG`, `VIGIL_PIPELINE_FSYNC`,
/// `VIGIL_PIPELINE_QUEUE_CAPACITY`, `VIGIL_PIPELINE_BATCH_MAX`, `VIGIL_PIPELINE_SPOOL_MAX_MB`,
/// `VIGIL_PIPELINE_INTEL_REFRESH`, `VIGIL_PIPELINE_INTEL_SEVERITY`.
/// Listeners come from the file here; more are defined at runtime through the API.
fn resolve_pipeline(
    raw: RawPipeline,
    store: &StoreConfig,
    env: Env,
) -> Result<Option<vigil_pipeline::PipelineConfig>, ConfigError> {
    use vigil_pipeline::PipelineConfig;
    use vigil_pipeline::spool::FsyncPolicy;

    let enabled = env_parse::<bool>(env, &["VIGIL_PIPELINE_ENABLED"], "pipeline.enabled")?
        .or(raw.enabled)
        .unwrap_or(false);
    let data_dir = env_str(env, &["VIGIL_PIPELINE_DATA_DIR"])
        .map(PathBuf::from)
        .or(raw.data_dir)
        .unwrap_or_else(|| match store {
            StoreConfig::Sqlite { data_dir } => data_dir.clone(),
            StoreConfig::Postgres { .. } => env_str(env, &["VIGIL_DATA_DIR"])
                .map_or_else(|| PathBuf::from("./vigil-data"), PathBuf::from),
        });
    if data_dir.as_os_str().is_empty() {
        return Err(invalid("pipeline.data_dir", "must not be empty"));
    }
    let mut c = PipelineConfig::new(data_dir);
    c.rules_dir = env_str(env, &["VIGIL_PIPELINE_RULES_DIR"])
        .map(PathBuf::from)
        .or(raw.rules_dir);
    if enabled
        && let Some(d) = &c.rules_dir
        && !d.is_dir()
    {
        return Err(invalid(
            "pipeline.rules_dir",
            format!("'{}' is not a directory", d.display()),
        ));
    }
    if let Some(o) = env_str(env, &["VIGIL_PIPELINE_DEFAULT_ORG"]).or(raw.default_org) {
        c.default_org = Some(o.parse().map_err(|_| {
            invalid(
                "pipeline.default_org",
                format!("'{o}' is not an organization id (a UUID)"),
            )
        })?);
    }
    if let Some(n) = env_parse::<usize>(
        env,
        &["VIGIL_PIPELINE_QUEUE_CAPACITY"],
        "pipeline.queue_capacity",
    )?
    .or(raw.queue_capacity)
    {
        c.queue_capacity = in_range("pipeline.queue_capacity", n, 1, 1_000_000)?;
    }
    if let Some(n) = env_parse::<usize>(env, &["VIGIL_PIPELINE_BATCH_MAX"], "pipeline.batch_max")?
        .or(raw.batch_max)
    {
        // At most 10,000: one alert links at most that many events.
        c.batch_max = in_range("pipeline.batch_max", n, 1, 10_000)?;
    }
    if let Some(mb) = raw.spool_segment_mb {
        c.spool_segment_bytes = in_range("pipeline.spool_segment_mb", mb, 1, 1024)? << 20;
    }
    if let Some(mb) = env_parse::<u64>(
        env,
        &["VIGIL_PIPELINE_SPOOL_MAX_MB"],
        "pipeline.spool_max_mb",
    )?
    .or(raw.spool_max_mb)
    {
        c.spool_max_bytes = in_range("pipeline.spool_max_mb", mb, 1, 16 << 20)? << 20;
    }
    if c.spool_max_bytes < 2 * c.spool_segment_bytes {
        return Err(invalid(
            "pipeline.spool_max_mb",
            "must be at least twice pipeline.spool_segment_mb",
        ));
    }
    match env_str(env, &["VIGIL_PIPELINE_FSYNC"])
        .or(raw.fsync)
        .as_deref()
    {
        None | Some("batch") => c.fsync = FsyncPolicy::Batch,
        Some("never") => c.fsync = FsyncPolicy::Never,
        Some(other) => {
            return Err(invalid(
                "pipeline.fsync",
                format!("'{other}' is not batch or never"),
            ));
        }
    }
    if let Some(n) = raw.dead_letter_keep {
        c.dead_letters.keep = in_range("pipeline.dead_letter_keep", n, 1, 100_000_000)?;
    }
    if let Some(d) = raw.dead_letter_keep_days {
        c.dead_letters.keep_days = in_range("pipeline.dead_letter_keep_days", d, 0, 36_500)?;
    }
    if let Some(s) = raw.directory_refresh_secs {
        c.directory_refresh =
            Duration::from_secs(in_range("pipeline.directory_refresh_secs", s, 1, 86_400)?);
    }
    if let Some(r) = env_str(env, &["VIGIL_PIPELINE_INTEL_REFRESH"]).or(raw.intel_refresh) {
        let bad = || {
            invalid(
                "pipeline.intel_refresh",
                format!("'{r}' is not a duration from 1s to 1d, like 60s or 5m"),
            )
        };
        let d = r
            .trim()
            .parse::<jiff::Span>()
            .and_then(|s| s.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
            .map_err(|_| bad())?;
        if d < jiff::SignedDuration::from_secs(1) || d > jiff::SignedDuration::from_hours(24) {
            return Err(bad());
        }
        c.intel_refresh = Duration::try_from(d).map_err(|_| bad())?;
    }
    if let Some(s) = env_str(env, &["VIGIL_PIPELINE_INTEL_SEVERITY"]).or(raw.intel_severity) {
        c.intel_severity = vigil_model::Severity::parse(s.trim()).ok_or_else(|| {
            invalid(
                "pipeline.intel_severity",
                format!("'{s}' is not info, low, medium, high or critical"),
            )
        })?;
    }
    for (i, l) in raw.listeners.into_iter().enumerate() {
        let key = |k: &str| format!("pipeline.listeners[{i}].{k}");
        let lc = l.resolve(&key).map_err(|e| invalid(&e.field, e.message))?;
        if c.listeners.iter().any(|o| o.name == lc.name) {
            return Err(invalid(
                &key("name"),
                format!("'{}' is used twice", lc.name),
            ));
        }
        c.listeners.push(lc);
    }
    Ok(enabled.then_some(c))
}

/// The process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_deadline_watcher_interval_and_reminder_fraction() {
        let c = resolve("", &[]).expect("defaults");
        let w = c.deadline_watch.expect("on by default");
        assert_eq!(w.interval, Duration::from_secs(60));
        assert_eq!(w.remind_at.fraction(), 0.8);
        let c = resolve(
            "[incidents]\noverdue_check = \"5m\"\nremind_at = 0.5\n",
            &[("VIGIL_INCIDENTS_OVERDUE_CHECK", "30s")],
        )
        .expect("file and env");
        let w = c.deadline_watch.expect("on");
        assert_eq!(w.interval, Duration::from_secs(30));
        assert_eq!(w.remind_at.fraction(), 0.5);
        let c = resolve("[incidents]\noverdue_check = \"off\"\n", &[]).expect("off");
        assert!(c.deadline_watch.is_none());
        for (toml, env, key) in [
            (
                "[incidents]\noverdue_check = \"soon\"\n",
                vec![],
                "incidents.overdue_check",
            ),
            (
                "[incidents]\noverdue_check = \"1s\"\n",
                vec![],
                "incidents.overdue_check",
            ),
            (
                "[incidents]\nremind_at = 1.0\n",
                vec![],
                "incidents.remind_at",
            ),
            (
                "",
                vec![("VIGIL_INCIDENTS_REMIND_AT", "x")],
                "incidents.remind_at",
            ),
        ] {
            let e = resolve(toml, &env).expect_err(toml);
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    fn resolve(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let raw = RawConfig::from_toml(toml).map_err(|message| ConfigError::Parse {
            path: "t.toml".into(),
            message,
        })?;
        Config::resolve(raw, &|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_sqlite_on_localhost() {
        let c = resolve("", &[]).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.store,
            StoreConfig::Sqlite {
                data_dir: "./vigil-data".into()
            }
        );
        assert_eq!(c.retention, Some(Duration::from_secs(90 * 86_400)));
    }

    #[test]
    fn edl_lists_resolve_and_bad_ones_name_their_key() {
        let c = resolve(
            "[[intel.edl]]\nname = \"perimeter-ips\"\ntypes = [\"ipv4\", \"CIDR\"]\n\
             min_confidence = 70\ntlp = \"amber\"\nsources = [\"cert-feed\"]\n",
            &[],
        )
        .expect("edl");
        assert_eq!(c.web.edl_lists.len(), 1);
        let l = &c.web.edl_lists[0];
        assert_eq!(l.name, "perimeter-ips");
        assert_eq!(l.filter["types"][0], "ipv4");
        assert_eq!(l.filter["types"][1], "cidr");
        assert_eq!(l.filter["tlp"], "amber");
        assert_eq!(l.filter["min_confidence"], 70);
        for (toml, key) in [
            ("[[intel.edl]]\nname = \"Bad Name\"\n", "intel.edl[0].name"),
            (
                "[[intel.edl]]\nname = \"x\"\ntlp = \"red\"\n",
                "intel.edl[0].tlp",
            ),
            (
                "[[intel.edl]]\nname = \"x\"\ntypes = [\"sha256\"]\n",
                "intel.edl[0].types",
            ),
            (
                "[[intel.edl]]\nname = \"x\"\nmin_confidence = 101\n",
                "intel.edl[0].min_confidence",
            ),
            (
                "[[intel.edl]]\nname = \"x\"\n[[intel.edl]]\nname = \"x\"\n",
                "intel.edl[1].name",
            ),
        ] {
            let e = resolve(toml, &[]).expect_err(toml);
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = resolve(
            "[server]\nlisten = \"0.0.0.0:9000\"\n[store]\nbackend = \"sqlite\"\n",
            &[
                ("VIGIL_LISTEN", "127.0.0.1:9100"),
                ("VIGIL_DATA_DIR", "/tmp/x"),
            ],
        )
        .expect("config");
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(
            c.store,
            StoreConfig::Sqlite {
                data_dir: "/tmp/x".into()
            }
        );
        let c = resolve(
            "",
            &[
                ("VIGIL_STORE_BACKEND", "postgres"),
                ("VIGIL_STORE_POSTGRES_URL", "postgres://u@h/db"),
                ("VIGIL_RETENTION_EVENTS_DAYS", "0"),
            ],
        )
        .expect("config");
        assert_eq!(
            c.store,
            StoreConfig::Postgres {
                url: "postgres://u@h/db".into()
            }
        );
        assert_eq!(c.retention, None);
    }

    #[test]
    fn the_notice_key_lives_in_the_data_directory_unless_configured() {
        let c = resolve("", &[("VIGIL_DATA_DIR", "/srv/vigil")]).expect("defaults");
        assert_eq!(
            c.notice_key_file,
            PathBuf::from("/srv/vigil/keys/platform-sm2.pem")
        );
        let c = resolve("[crypto]\nnotice_key_file = \"/etc/vigil/sm2.pem\"\n", &[]).expect("file");
        assert_eq!(c.notice_key_file, PathBuf::from("/etc/vigil/sm2.pem"));
        let c = resolve(
            "[crypto]\nnotice_key_file = \"/etc/vigil/sm2.pem\"\n",
            &[("VIGIL_CRYPTO_NOTICE_KEY_FILE", "/run/keys/sm2.pem")],
        )
        .expect("env");
        assert_eq!(c.notice_key_file, PathBuf::from("/run/keys/sm2.pem"));
        let e = resolve("[crypto]\nnotice_key_file = \"\"\n", &[]).expect_err("empty");
        assert!(e.to_string().contains("crypto.notice_key_file"), "{e}");
    }

    #[test]
    fn the_field_key_lives_in_the_data_directory_unless_configured() {
        let c = resolve("[store]\ndata_dir = \"/srv/v\"\n", &[]).expect("defaults");
        assert_eq!(c.field_key_file, PathBuf::from("/srv/v/keys/field-sm4.key"));
        let c = resolve("[crypto]\nfield_key_file = \"/etc/vigil/f.key\"\n", &[]).expect("file");
        assert_eq!(c.field_key_file, PathBuf::from("/etc/vigil/f.key"));
        let c = resolve(
            "[crypto]\nfield_key_file = \"/etc/vigil/f.key\"\n",
            &[("VIGIL_CRYPTO_FIELD_KEY_FILE", "/run/keys/f.key")],
        )
        .expect("env");
        assert_eq!(c.field_key_file, PathBuf::from("/run/keys/f.key"));
        let e = resolve("[crypto]\nfield_key_file = \"\"\n", &[]).expect_err("empty");
        assert!(e.to_string().contains("crypto.field_key_file"), "{e}");
    }

    #[test]
    fn pipeline_is_off_by_default_and_resolves_listeners() {
        let c = resolve("", &[]).expect("defaults");
        assert!(c.pipeline.is_none());
        let toml = r#"
[store]
data_dir = "/var/lib/vigil"
[pipeline]
enabled = true
default_org = "0190c8a0-0000-7000-8000-000000000001"
fsync = "never"
[[pipeline.listeners]]
name = "syslog-tcp"
kind = "syslog_tcp"
listen = "0.0.0.0:6514"
max_frame_bytes = 8192
[[pipeline.listeners]]
name = "syslog-udp"
kind = "syslog_udp"
listen = "0.0.0.0:5514"
"#;
        let p = resolve(toml, &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        assert_eq!(p.data_dir, PathBuf::from("/var/lib/vigil"));
        assert_eq!(p.listeners.len(), 2);
        assert_eq!(p.listeners[0].max_frame, 8192);
        assert_eq!(p.listeners[1].kind, vigil_pipeline::ListenerKind::SyslogUdp);
        assert_eq!(p.fsync, vigil_pipeline::spool::FsyncPolicy::Never);
        assert!(p.default_org.is_some());
        let p = resolve("", &[("VIGIL_PIPELINE_ENABLED", "true")])
            .expect("env")
            .pipeline
            .expect("enabled by env");
        assert!(p.listeners.is_empty());
        assert_eq!(p.intel_refresh, Duration::from_secs(60));
    }

    #[test]
    fn listener_timezones_are_iana_names_checked_at_load() {
        let head = "[pipeline]\nenabled = true\n[[pipeline.listeners]]\nname = \"u\"\nkind = \"syslog_udp\"\nlisten = \"0.0.0.0:5514\"\n";
        let p = resolve(&format!("{head}timezone = \"Asia/Shanghai\"\n"), &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        assert_eq!(p.listeners[0].timezone.as_deref(), Some("Asia/Shanghai"));
        let p = resolve(head, &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        assert_eq!(p.listeners[0].timezone, None, "UTC unless configured");
        let e = resolve(&format!("{head}timezone = \"Mars/Olympus\"\n"), &[])
            .expect_err("unknown zone");
        assert!(
            e.to_string().contains("pipeline.listeners[0].timezone"),
            "{e}"
        );
    }

    #[test]
    fn pipeline_intel_refresh_and_severity_resolve_from_file_and_env() {
        let toml =
            "[pipeline]\nenabled = true\nintel_refresh = \"5m\"\nintel_severity = \"high\"\n";
        let p = resolve(toml, &[]).expect("config").pipeline.expect("on");
        assert_eq!(p.intel_refresh, Duration::from_secs(300));
        assert_eq!(p.intel_severity, vigil_model::Severity::High);
        let p = resolve(toml, &[("VIGIL_PIPELINE_INTEL_REFRESH", "15s")])
            .expect("env")
            .pipeline
            .expect("on");
        assert_eq!(p.intel_refresh, Duration::from_secs(15));
        for bad in ["0s", "2d", "soon"] {
            let t = format!("[pipeline]\nenabled = true\nintel_refresh = \"{bad}\"\n");
            match resolve(&t, &[]) {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "pipeline.intel_refresh"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn mqtt_listeners_resolve_their_broker_topics_and_client_id() {
        let toml = r##"
[pipeline]
enabled = true
[[pipeline.listeners]]
name = "plants"
kind = "mqtt"
url = "mqtt://127.0.0.1:1883"
topics = ["plant/+/syslog", "plant/+/json/#"]
[[pipeline.listeners]]
name = "plants-2"
kind = "mqtt"
url = "mqtt://u:p@broker.example"
topics = ["#"]
client_id = "vigil-site-2"
"##;
        let p = resolve(toml, &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        assert_eq!(p.listeners[0].kind, vigil_pipeline::ListenerKind::Mqtt);
        let m = p.listeners[0].mqtt.as_ref().expect("mqtt settings");
        assert_eq!((m.host.as_str(), m.port), ("127.0.0.1", 1883));
        assert_eq!(m.topics, ["plant/+/syslog", "plant/+/json/#"]);
        assert_eq!(m.client_id, "vigil-plants");
        let m = p.listeners[1].mqtt.as_ref().expect("mqtt settings");
        assert_eq!(m.client_id, "vigil-site-2");
        assert_eq!(m.username.as_deref(), Some("u"));
        let head = "[[pipeline.listeners]]\nname = \"m\"\nkind = \"mqtt\"\n";
        for (body, key) in [
            ("topics = [\"a\"]\n", "pipeline.listeners[0].url"),
            (
                "url = \"http://x\"\ntopics = [\"a\"]\n",
                "pipeline.listeners[0].url",
            ),
            ("url = \"mqtt://x\"\n", "pipeline.listeners[0].topics"),
            (
                "url = \"mqtt://x\"\ntopics = [\"a/#/b\"]\n",
                "pipeline.listeners[0].topics",
            ),
            (
                "url = \"mqtt://x\"\ntopics = [\"a\"]\nlisten = \"0.0.0.0:1\"\n",
                "pipeline.listeners[0].listen",
            ),
        ] {
            let e = resolve(&format!("{head}{body}"), &[]).expect_err(body);
            assert!(e.to_string().contains(key), "{body}: {e}");
        }
        let e = resolve(
            "[[pipeline.listeners]]\nname = \"t\"\nkind = \"syslog_tcp\"\nlisten = \"0.0.0.0:1\"\ntopics = [\"a\"]\n",
            &[],
        )
        .expect_err("topics on tcp");
        assert!(
            e.to_string().contains("pipeline.listeners[0].topics"),
            "{e}"
        );
    }

    #[test]
    fn tls_listeners_resolve_certificate_files_and_client_organizations() {
        let toml = r#"
[pipeline]
enabled = true
[[pipeline.listeners]]
name = "syslog-tls"
kind = "syslog_tls"
listen = "0.0.0.0:6514"
cert_file = "/etc/vigil/tls/server.pem"
key_file = "/etc/vigil/tls/server.key"
client_ca_file = "/etc/vigil/tls/clients.pem"
[[pipeline.listeners.client_orgs]]
name = "gw-1.waterworks.example"
org = "0190c8a0-0000-7000-8000-000000000001"
"#;
        let p = resolve(toml, &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        let l = &p.listeners[0];
        assert_eq!(l.kind, vigil_pipeline::ListenerKind::SyslogTls);
        let t = l.tls.as_ref().expect("tls settings");
        assert_eq!(t.key_file, PathBuf::from("/etc/vigil/tls/server.key"));
        assert_eq!(t.client_orgs.len(), 1);
        assert_eq!(t.client_orgs[0].name, "gw-1.waterworks.example");
        let head =
            "[[pipeline.listeners]]\nname = \"t\"\nkind = \"syslog_tls\"\nlisten = \"0.0.0.0:1\"\n";
        for (body, key) in [
            ("key_file = \"k\"\n", "pipeline.listeners[0].cert_file"),
            ("cert_file = \"c\"\n", "pipeline.listeners[0].key_file"),
            (
                "cert_file = \"c\"\nkey_file = \"k\"\n[[pipeline.listeners.client_orgs]]\nname = \"a\"\norg = \"0190c8a0-0000-7000-8000-000000000001\"\n",
                "pipeline.listeners[0].client_orgs",
            ),
            (
                "cert_file = \"c\"\nkey_file = \"k\"\nclient_ca_file = \"ca\"\n[[pipeline.listeners.client_orgs]]\nname = \"a\"\norg = \"acme\"\n",
                "pipeline.listeners[0].client_orgs[0].org",
            ),
        ] {
            let e = resolve(&format!("{head}{body}"), &[]).expect_err(body);
            assert!(e.to_string().contains(key), "{body}: {e}");
        }
        let e = resolve(
            "[[pipeline.listeners]]\nname = \"t\"\nkind = \"syslog_tcp\"\nlisten = \"0.0.0.0:1\"\ncert_file = \"c\"\n",
            &[],
        )
        .expect_err("cert_file on tcp");
        assert!(
            e.to_string().contains("pipeline.listeners[0].cert_file"),
            "{e}"
        );
    }

    #[test]
    fn file_listeners_resolve_their_patterns() {
        let toml = r#"
[pipeline]
enabled = true
[[pipeline.listeners]]
name = "app-logs"
kind = "file"
paths = ["/var/log/app/*.log", "/var/log/nginx/access.log"]
poll_ms = 250
"#;
        let p = resolve(toml, &[])
            .expect("config")
            .pipeline
            .expect("enabled");
        let f = p.listeners[0].file.as_ref().expect("file settings");
        assert_eq!(f.patterns.len(), 2);
        assert_eq!(f.poll, Duration::from_millis(250));
        let head = "[[pipeline.listeners]]\nname = \"f\"\nkind = \"file\"\n";
        for (body, key) in [
            ("", "pipeline.listeners[0].paths"),
            (
                "paths = [\"/var/*/x.log\"]\n",
                "pipeline.listeners[0].paths",
            ),
            (
                "paths = [\"/x.log\"]\npoll_ms = 1\n",
                "pipeline.listeners[0].poll_ms",
            ),
            (
                "paths = [\"/x.log\"]\nlisten = \"0.0.0.0:1\"\n",
                "pipeline.listeners[0].listen",
            ),
        ] {
            let e = resolve(&format!("{head}{body}"), &[]).expect_err(body);
            assert!(e.to_string().contains(key), "{body}: {e}");
        }
    }

    #[test]
    fn incidents_aggregate_hourly_from_medium_by_default_and_are_configurable() {
        let c = resolve("", &[]).expect("defaults");
        let i = c.incidents.expect("aggregation is on by default");
        assert_eq!(i.window.length(), jiff::SignedDuration::from_hours(1));
        assert_eq!(i.min_severity, vigil_model::Severity::Medium);

        let c = resolve(
            "[incidents]\nwindow = \"30m\"\nmin_severity = \"high\"\n\n\
             [pipeline]\nenabled = true\n",
            &[],
        )
        .expect("file");
        let i = c.incidents.expect("on");
        assert_eq!(i.window.length(), jiff::SignedDuration::from_mins(30));
        assert_eq!(i.min_severity, vigil_model::Severity::High);
        assert_eq!(c.pipeline.expect("pipeline").incidents, Some(i));

        let c = resolve(
            "[incidents]\nwindow = \"30m\"\n",
            &[
                ("VIGIL_INCIDENTS_WINDOW", "1d"),
                ("VIGIL_INCIDENTS_MIN_SEVERITY", "low"),
            ],
        )
        .expect("env");
        let i = c.incidents.expect("on");
        assert_eq!(i.window.length(), jiff::SignedDuration::from_hours(24));
        assert_eq!(i.min_severity, vigil_model::Severity::Low);
        let off = resolve("", &[("VIGIL_INCIDENTS_AGGREGATE", "false")]).expect("off");
        assert_eq!(off.incidents, None);

        for (toml, key) in [
            ("[incidents]\nwindow = \"soon\"\n", "incidents.window"),
            ("[incidents]\nwindow = \"10s\"\n", "incidents.window"),
            (
                "[incidents]\nmin_severity = \"urgent\"\n",
                "incidents.min_severity",
            ),
        ] {
            match resolve(toml, &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{toml}"),
                other => panic!("{toml}: expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_error_names_its_key() {
        let cases = [
            ("[server]\nlisten = \"nowhere\"\n", vec![], "server.listen"),
            ("[store]\nbackend = \"mysql\"\n", vec![], "store.backend"),
            (
                "[store]\nbackend = \"postgres\"\n",
                vec![],
                "store.postgres_url",
            ),
            ("[server]\nmax_body_mb = 0\n", vec![], "server.max_body_mb"),
            (
                "[server]\ningest_max_inflight = 0\n",
                vec![],
                "server.ingest_max_inflight",
            ),
            (
                "[server]\n",
                vec![("VIGIL_SERVER_INGEST_WAIT_MS", "0")],
                "server.ingest_wait_ms",
            ),
            ("[log]\nformat = \"xml\"\n", vec![], "log.format"),
            (
                "",
                vec![("VIGIL_RETENTION_EVENTS_DAYS", "soon")],
                "retention.events_days",
            ),
            (
                "[pipeline]\ndefault_org = \"acme\"\n",
                vec![],
                "pipeline.default_org",
            ),
            (
                "[pipeline]\nfsync = \"sometimes\"\n",
                vec![],
                "pipeline.fsync",
            ),
            (
                "[pipeline]\nenabled = true\nrules_dir = \"/nonexistent/rules\"\n",
                vec![],
                "pipeline.rules_dir",
            ),
            (
                "[[pipeline.listeners]]\nname = \"a\"\nkind = \"smtp\"\nlisten = \"0.0.0.0:1\"\n",
                vec![],
                "pipeline.listeners[0].kind",
            ),
            (
                "[[pipeline.listeners]]\nname = \"a\"\nkind = \"syslog_udp\"\nlisten = \"x\"\n",
                vec![],
                "pipeline.listeners[0].listen",
            ),
            (
                "[[pipeline.listeners]]\nname = \"a\"\nkind = \"syslog_udp\"\nlisten = \"0.0.0.0:1\"\n[[pipeline.listeners]]\nname = \"a\"\nkind = \"syslog_tcp\"\nlisten = \"0.0.0.0:1\"\n",
                vec![],
                "pipeline.listeners[1].name",
            ),
            ("[pipeline]\nbatch_max = 0\n", vec![], "pipeline.batch_max"),
        ];
        for (toml, env, key) in cases {
            match resolve(toml, &env) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: expected an Invalid error, got {other:?}"),
            }
        }
        let err = RawConfig::from_toml("[server]\nlisen = \"x\"\n").expect_err("must fail");
        assert!(err.contains("lisen"), "{err}");
    }
}
