//! The settings of one source (listener) as written by an administrator, and the one
//! validator that turns them into a [`ListenerConfig`]: `[[pipeline.listeners]]` in the TOML
//! configuration and the sources defined through the API (`/api/v1/pipeline/sources`) go
//! through [`SourceSpec::resolve`], so both follow the same rules and their errors name the
//! same fields.
//!
//! The only secret is the MQTT broker password. It may be given in the URL
//! (`mqtt://user:password@host`) or in `password`; [`SourceSpec::without_secrets`] is what
//! may be shown or logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ListenerConfig, ListenerKind};

/// Longest source name.
pub const MAX_NAME: usize = 64;

/// A source as written: every field optional, checked by [`SourceSpec::resolve`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `syslog_udp`, `syslog_tcp`, `syslog_tls`, `mqtt` or `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Syslog: the socket address, `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// MQTT: the broker, `mqtt://[user[:password]@]host[:port]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// MQTT: the broker password (overrides one in `url`). Never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// MQTT: topic filters (wildcards allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    /// MQTT: the persistent session's client id (default `vigil-<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// TLS: the server certificate chain (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// TLS: its private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// TLS: CA certificates for client certificates; when set, clients must present one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
    /// TLS: certificate name → organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_orgs: Option<Vec<ClientOrgSpec>>,
    /// File: glob patterns (`*`, `?` in the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<PathBuf>>,
    /// File: how often the patterns are scanned and the files read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_ms: Option<u64>,
    /// IANA zone of the senders (`"Asia/Shanghai"`) for times without an offset (RFC 3164);
    /// default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.without_secrets();
        f.debug_struct("SourceSpec")
            .field("name", &shown.name)
            .field("kind", &shown.kind)
            .field("listen", &shown.listen)
            .field("url", &shown.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("topics", &shown.topics)
            .field("paths", &shown.paths)
            .finish_non_exhaustive()
    }
}

/// `client_orgs` rows of a `syslog_tls` source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOrgSpec {
    /// A subject common name or DNS subject alternative name of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The organization id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// A source that breaks a rule: the field (as the caller names it) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SourceError {
    pub field: String,
    pub message: String,
}

fn range<T: PartialOrd + std::fmt::Display + Copy>(
    field: String,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, SourceError> {
    if v < lo || v > hi {
        return Err(SourceError {
            field,
            message: format!("{v} is not between {lo} and {hi}"),
        });
    }
    Ok(v)
}

/// `user:password@` taken out of an MQTT URL: the URL without the password, and the password.
fn split_url_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    match userinfo.split_once(':') {
        Some((user, pass)) => (format!("{scheme}://{user}@{host}"), Some(pass.to_string())),
        None => (url.to_string(), None),
    }
}

impl SourceSpec {
    /// The spec of a stored source: its settings with its name and kind.
    pub fn from_stored(s: &vigil_store::PipelineSource) -> Result<Self, SourceError> {
        let mut spec: SourceSpec =
            serde_json::from_value(s.settings.clone()).map_err(|e| SourceError {
                field: "settings".into(),
                message: e.to_string(),
            })?;
        spec.name = Some(s.name.clone());
        spec.kind = Some(s.kind.clone());
        Ok(spec)
    }

    /// The settings as stored: without name and kind (kept in their own columns), the
    /// password out of the URL.
    pub fn settings_json(&self) -> serde_json::Value {
        let mut s = self.clone().normalized();
        s.name = None;
        s.kind = None;
        serde_json::to_value(s).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// The settings with the password moved out of the URL into `password` (how they are
    /// stored, so that the URL can be shown).
    pub fn normalized(mut self) -> Self {
        if let Some(url) = &self.url {
            let (u, p) = split_url_password(url);
            self.url = Some(u);
            if self.password.is_none() {
                self.password = p;
            }
        }
        self
    }

    /// What may be shown or logged: the password gone (from `password` and the URL).
    pub fn without_secrets(&self) -> Self {
        let mut s = self.clone().normalized();
        s.password = None;
        s
    }

    /// Whether a password is set (in `password` or in the URL).
    pub fn has_password(&self) -> bool {
        self.clone().normalized().password.is_some()
    }

    /// Checks every field and builds the listener. `key` names a field in errors
    /// (`pipeline.listeners[0].listen` for the configuration file, `listen` for the API).
    /// Organizations of `client_orgs` are checked to exist when the listener starts.
    pub fn resolve(&self, key: &dyn Fn(&str) -> String) -> Result<ListenerConfig, SourceError> {
        let invalid = |k: &str, message: String| SourceError {
            field: key(k),
            message,
        };
        let l = self.clone().normalized();
        let name = l.name.clone().unwrap_or_default();
        if name.trim().is_empty() || name.len() > MAX_NAME {
            return Err(invalid("name", "is required (1 to 64 characters)".into()));
        }
        if name.chars().any(|c| c.is_control() || c == '/') {
            return Err(invalid(
                "name",
                "must not contain '/' or control characters".into(),
            ));
        }
        if name == crate::intake::HTTP_INPUT {
            return Err(invalid(
                "name",
                format!(
                    "'{}' is the HTTP bulk API's source name",
                    crate::intake::HTTP_INPUT
                ),
            ));
        }
        let kind_s = l.kind.clone().unwrap_or_default();
        let kind = ListenerKind::parse(&kind_s).ok_or_else(|| {
            invalid(
                "kind",
                format!("'{kind_s}' is not syslog_udp, syslog_tcp, syslog_tls, mqtt or file"),
            )
        })?;
        let mut lc = if kind == ListenerKind::Mqtt {
            use crate::mqtt::{MqttConfigError, MqttSettings};
            if l.listen.is_some() {
                return Err(invalid(
                    "listen",
                    "is not used by mqtt listeners (they connect to `url`)".into(),
                ));
            }
            let url = l
                .url
                .clone()
                .ok_or_else(|| invalid("url", "is required for an mqtt listener".into()))?;
            let client_id = l
                .client_id
                .clone()
                .unwrap_or_else(|| format!("vigil-{name}"));
            let mut settings =
                MqttSettings::new(&url, l.topics.clone().unwrap_or_default(), &client_id).map_err(
                    |e| {
                        let k = match e {
                            MqttConfigError::Url(_) => "url",
                            MqttConfigError::NoTopics | MqttConfigError::Topic(_) => "topics",
                            MqttConfigError::ClientId => "client_id",
                        };
                        invalid(k, e.to_string())
                    },
                )?;
            if let Some(p) = &l.password {
                if settings.username.is_none() {
                    return Err(invalid(
                        "password",
                        "needs a user name in `url` (mqtt://user@host)".into(),
                    ));
                }
                settings.password = Some(p.clone());
            }
            ListenerConfig::mqtt(&name, settings)
        } else if kind == ListenerKind::File {
            if l.listen.is_some() {
                return Err(invalid("listen", "is not used by file listeners".into()));
            }
            let mut f = crate::tail::FileSettings::new(l.paths.clone().unwrap_or_default())
                .map_err(|e| invalid("paths", e.to_string()))?;
            if let Some(ms) = l.poll_ms {
                f.poll = Duration::from_millis(range(key("poll_ms"), ms, 10, 60_000)?);
            }
            ListenerConfig::file(&name, f)
        } else {
            for (k, set) in [
                ("url", l.url.is_some()),
                ("password", l.password.is_some()),
                ("topics", l.topics.is_some()),
                ("client_id", l.client_id.is_some()),
            ] {
                if set {
                    return Err(invalid(k, "is for mqtt listeners only".into()));
                }
            }
            let listen_s = l
                .listen
                .clone()
                .ok_or_else(|| invalid("listen", "is required".into()))?;
            let listen: SocketAddr = listen_s.parse().map_err(|_| {
                invalid(
                    "listen",
                    format!("'{listen_s}' is not an address of the form host:port"),
                )
            })?;
            let mut lc = ListenerConfig::new(&name, kind, listen);
            if kind == ListenerKind::SyslogTls {
                lc.tls = Some(l.resolve_tls(key)?);
            }
            lc
        };
        if kind != ListenerKind::File {
            for (k, set) in [
                ("paths", l.paths.is_some()),
                ("poll_ms", l.poll_ms.is_some()),
            ] {
                if set {
                    return Err(invalid(k, "is for file listeners only".into()));
                }
            }
        }
        if kind != ListenerKind::SyslogTls {
            for (k, set) in [
                ("cert_file", l.cert_file.is_some()),
                ("key_file", l.key_file.is_some()),
                ("client_ca_file", l.client_ca_file.is_some()),
                ("client_orgs", l.client_orgs.is_some()),
            ] {
                if set {
                    return Err(invalid(k, "is for syslog_tls listeners only".into()));
                }
            }
        }
        if let Some(n) = l.max_frame_bytes {
            lc.max_frame = range(key("max_frame_bytes"), n, 256, 1 << 20)?;
        }
        if let Some(n) = l.max_connections {
            lc.max_connections = range(key("max_connections"), n, 1, 65_536)?;
        }
        if let Some(tz) = &l.timezone {
            let tz = tz.trim().to_string();
            jiff::tz::TimeZone::get(&tz).map_err(|e| {
                invalid(
                    "timezone",
                    format!("'{tz}' is not a known IANA time zone: {e}"),
                )
            })?;
            lc.timezone = Some(tz);
        }
        Ok(lc)
    }

    /// The certificate files and client table of a `syslog_tls` listener.
    fn resolve_tls(
        &self,
        key: &dyn Fn(&str) -> String,
    ) -> Result<crate::tls::TlsSettings, SourceError> {
        use crate::tls::{ClientOrg, TlsSettings};
        let invalid = |k: &str, message: String| SourceError {
            field: key(k),
            message,
        };
        let file = |v: &Option<PathBuf>, k: &str| -> Result<PathBuf, SourceError> {
            match v {
                Some(p) if !p.as_os_str().is_empty() => Ok(p.clone()),
                _ => Err(invalid(k, "is required for a syslog_tls listener".into())),
            }
        };
        let mut t = TlsSettings {
            cert_file: file(&self.cert_file, "cert_file")?,
            key_file: file(&self.key_file, "key_file")?,
            client_ca_file: self.client_ca_file.clone(),
            client_orgs: Vec::new(),
        };
        let rows = self.client_orgs.clone().unwrap_or_default();
        if !rows.is_empty() && t.client_ca_file.is_none() {
            return Err(invalid(
                "client_orgs",
                "needs client_ca_file (only verified client certificates are mapped)".into(),
            ));
        }
        for (j, r) in rows.into_iter().enumerate() {
            let k = |f: &str| format!("client_orgs[{j}].{f}");
            let name = r.name.unwrap_or_default();
            if name.trim().is_empty() {
                return Err(invalid(
                    &k("name"),
                    "is required (a certificate CN or DNS name)".into(),
                ));
            }
            let org_s = r.org.unwrap_or_default();
            let org = org_s
                .parse::<vigil_model::OrgId>()
                .map_err(|_| invalid(&k("org"), format!("'{org_s}' is not an organization id")))?;
            t.client_orgs.push(ClientOrg { name, org });
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> SourceSpec {
        serde_json::from_value(json).expect("spec")
    }

    #[test]
    fn errors_name_the_field_with_the_callers_prefix() {
        let key = |k: &str| format!("pipeline.listeners[3].{k}");
        for (s, field) in [
            (
                serde_json::json!({"kind": "syslog_tcp", "listen": "127.0.0.1:1"}),
                "name",
            ),
            (serde_json::json!({"name": "a", "kind": "nope"}), "kind"),
            (
                serde_json::json!({"name": "a", "kind": "syslog_udp", "listen": "x"}),
                "listen",
            ),
            (
                serde_json::json!({"name": "a", "kind": "syslog_udp", "listen": "127.0.0.1:1", "max_frame_bytes": 1}),
                "max_frame_bytes",
            ),
            (
                serde_json::json!({"name": "a", "kind": "syslog_udp", "listen": "127.0.0.1:1", "topics": ["t"]}),
                "topics",
            ),
            (
                serde_json::json!({"name": "a", "kind": "mqtt", "url": "mqtt://h", "topics": ["a/#/b"]}),
                "topics",
            ),
            (
                serde_json::json!({"name": "a", "kind": "syslog_tls", "listen": "127.0.0.1:1", "cert_file": "c", "key_file": "k", "client_ca_file": "ca", "client_orgs": [{"name": "x", "org": "acme"}]}),
                "client_orgs[0].org",
            ),
        ] {
            let e = spec(s).resolve(&key).expect_err("invalid");
            assert_eq!(e.field, format!("pipeline.listeners[3].{field}"), "{e}");
        }
    }

    #[test]
    fn the_mqtt_password_moves_out_of_the_url_and_is_never_shown() {
        let s = spec(serde_json::json!({
            "name": "plant", "kind": "mqtt", "url": "mqtt://vigil:s3cret@broker:1883",
            "topics": ["site/#"]
        }));
        assert!(s.has_password());
        let shown = s.without_secrets();
        assert_eq!(shown.url.as_deref(), Some("mqtt://vigil@broker:1883"));
        assert_eq!(shown.password, None);
        assert!(!format!("{s:?}").contains("s3cret"));
        let stored = s.clone().normalized();
        assert_eq!(stored.password.as_deref(), Some("s3cret"));
        let lc = stored.resolve(&|k| k.to_string()).expect("valid");
        let m = lc.mqtt.expect("mqtt");
        assert_eq!(m.password.as_deref(), Some("s3cret"));
        assert_eq!(m.username.as_deref(), Some("vigil"));
        let no_user = spec(serde_json::json!({
            "name": "p", "kind": "mqtt", "url": "mqtt://broker", "topics": ["a"], "password": "x"
        }));
        assert_eq!(
            no_user
                .resolve(&|k| k.to_string())
                .expect_err("no user")
                .field,
            "password"
        );
    }
}
