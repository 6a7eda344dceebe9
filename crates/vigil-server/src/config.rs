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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub secure_cookies: Option<bool>,
    pub max_body_mb: Option<u64>,
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
        Ok(Self {
            listen,
            store,
            web,
            retention,
            log_level,
            log_format,
        })
    }
}

/// The process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
            ("[log]\nformat = \"xml\"\n", vec![], "log.format"),
            (
                "",
                vec![("VIGIL_RETENTION_EVENTS_DAYS", "soon")],
                "retention.events_days",
            ),
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
