//! `[notify]`: the SMTP relay, webhook channels and retry policy of vigil-notify.
//!
//! ```toml
//! [notify]
//! enabled = true
//! base_url = "https://vigil.example.cn"     # for links in messages
//! max_attempts = 8
//! retry_delays_secs = [30, 120, 600, 3600, 21600]
//!
//! [notify.smtp]
//! host = "smtp.example.cn"
//! port = 587                                # default by tls: 587, 465, 25
//! tls = "starttls"                          # starttls | implicit | plain (loopback only)
//! username = "vigil"
//! password_file = "/run/secrets/smtp"       # or password_env = "VIGIL_SMTP_PASSWORD"
//! from = "Vigil <vigil@example.cn>"
//!
//! [[notify.webhooks]]
//! name = "soc-dingtalk"
//! kind = "dingtalk"                         # generic | dingtalk | wecom
//! url = "https://oapi.dingtalk.com/robot/send?access_token=..."
//! secret_env = "VIGIL_DINGTALK_SECRET"      # or secret / secret_file
//! orgs = ["0190c8a0-..."]                   # omitted: every organization
//! ```
//!
//! Secrets may be written inline, but `*_file` and `*_env` keep them out of the file; they
//! are never logged (`vigil_notify::Secret` prints `***`).

use crate::config::{ConfigError, Env};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use vigil_notify::{
    NotifyConfig, RetryPolicy, Secret, SmtpConfig, TlsMode, WebhookChannel, WebhookKind,
};

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub max_attempts: Option<u32>,
    pub retry_delays_secs: Option<Vec<u64>>,
    pub smtp: Option<RawSmtp>,
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub from: Option<String>,
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    pub orgs: Option<Vec<String>>,
}

/// One secret from inline text, a file (trailing newline dropped) or an environment variable.
fn secret(
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    var: Option<String>,
    env: Env,
) -> Result<Option<Secret>, ConfigError> {
    let given = [inline.is_some(), file.is_some(), var.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(invalid(key, "give only one of the value, _file and _env"));
    }
    if let Some(s) = inline {
        return Ok(Some(Secret::new(s)));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                &format!("{key}_file"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        return Ok(Some(Secret::new(text.trim_end_matches(['\r', '\n']))));
    }
    if let Some(name) = var {
        return match env(&name) {
            Some(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
            _ => Err(invalid(
                &format!("{key}_env"),
                format!("the variable {name} is not set"),
            )),
        };
    }
    Ok(None)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The resolved `[notify]`, or `None` when disabled (the default when nothing is configured).
pub fn resolve(raw: RawNotify, env: Env) -> Result<Option<NotifyConfig>, ConfigError> {
    let configured = raw.smtp.is_some() || !raw.webhooks.is_empty();
    if !raw.enabled.unwrap_or(configured) {
        return Ok(None);
    }
    let mut cfg = NotifyConfig::default();
    if let Some(b) = raw.base_url {
        url::Url::parse(&b).map_err(|e| invalid("notify.base_url", format!("'{b}': {e}")))?;
        cfg.base_url = Some(b);
    }
    let mut retry = RetryPolicy::default();
    if let Some(n) = raw.max_attempts {
        if !(1..=100).contains(&n) {
            return Err(invalid("notify.max_attempts", "must be 1 to 100"));
        }
        retry.max_attempts = n;
    }
    if let Some(d) = raw.retry_delays_secs {
        if d.is_empty() || d.iter().any(|s| *s == 0 || *s > 7 * 86_400) {
            return Err(invalid(
                "notify.retry_delays_secs",
                "must be a non-empty list of 1 to 604800 seconds",
            ));
        }
        retry.delays = d.into_iter().map(Duration::from_secs).collect();
    }
    cfg.retry = retry;
    if let Some(s) = raw.smtp {
        let host = s
            .host
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| invalid("notify.smtp.host", "is required"))?;
        let tls = match s.tls.as_deref() {
            None => TlsMode::StartTls,
            Some(t) => TlsMode::parse(t).ok_or_else(|| {
                invalid(
                    "notify.smtp.tls",
                    format!("'{t}' is not starttls, implicit or plain"),
                )
            })?,
        };
        if tls == TlsMode::Plain && !is_loopback(&host) {
            return Err(invalid(
                "notify.smtp.tls",
                "plain SMTP is only allowed to a loopback relay (localhost, 127.0.0.1, ::1)",
            ));
        }
        let from = s
            .from
            .filter(|f| f.contains('@'))
            .ok_or_else(|| invalid("notify.smtp.from", "is required (an e-mail address)"))?;
        let password = secret(
            "notify.smtp.password",
            s.password,
            s.password_file,
            s.password_env,
            env,
        )?
        .or_else(|| env_nonempty(env, "VIGIL_NOTIFY_SMTP_PASSWORD").map(Secret::new));
        if password.is_some() && s.username.is_none() {
            return Err(invalid(
                "notify.smtp.username",
                "is required with a password",
            ));
        }
        cfg.smtp = Some(SmtpConfig {
            port: s.port.unwrap_or(tls.default_port()),
            host,
            tls,
            username: s.username,
            password,
            from,
            timeout: Duration::from_secs(s.timeout_secs.unwrap_or(30).clamp(1, 600)),
        });
    }
    for (i, w) in raw.webhooks.into_iter().enumerate() {
        let key = |k: &str| format!("notify.webhooks[{i}].{k}");
        let name = w
            .name
            .filter(|n| !n.trim().is_empty() && n.len() <= 100)
            .ok_or_else(|| invalid(&key("name"), "is required (1 to 100 characters)"))?;
        if name == vigil_notify::EMAIL_CHANNEL || cfg.webhook(&name).is_some() {
            return Err(invalid(
                &key("name"),
                format!("'{name}' is reserved or used twice"),
            ));
        }
        let kind_s = w.kind.unwrap_or_else(|| "generic".into());
        let kind = WebhookKind::parse(&kind_s).ok_or_else(|| {
            invalid(
                &key("kind"),
                format!("'{kind_s}' is not generic, dingtalk or wecom"),
            )
        })?;
        // The URL may hold a robot key: errors name the key, never the value.
        let url: url::Url = w
            .url
            .as_deref()
            .ok_or_else(|| invalid(&key("url"), "is required"))?
            .parse()
            .map_err(|_| invalid(&key("url"), "is not a URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid(&key("url"), "must be https (or http)"));
        }
        let secret = secret(&key("secret"), w.secret, w.secret_file, w.secret_env, env)?;
        if kind == WebhookKind::Generic && secret.is_none() {
            return Err(invalid(
                &key("secret"),
                "is required for generic webhooks (signing)",
            ));
        }
        let orgs = w
            .orgs
            .map(|list| {
                list.iter()
                    .map(|o| {
                        o.parse::<uuid::Uuid>()
                            .map(vigil_model::OrgId)
                            .map_err(|_| {
                                invalid(&key("orgs"), format!("'{o}' is not an organization id"))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        cfg.webhooks.push(WebhookChannel {
            name,
            kind,
            url,
            secret,
            orgs,
        });
    }
    Ok(Some(cfg))
}

fn env_nonempty(env: Env, key: &str) -> Option<String> {
    env(key).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_toml(toml: &str, env: &[(&str, &str)]) -> Result<Option<NotifyConfig>, ConfigError> {
        let raw: RawNotify = toml::from_str(toml).expect("toml");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(raw, &move |k: &str| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_configured_is_off() {
        assert!(resolve_toml("", &[]).expect("ok").is_none());
    }

    #[test]
    fn smtp_and_webhooks_resolve_with_secrets_from_the_environment() {
        let c = resolve_toml(
            r#"
base_url = "https://vigil.example.cn"
max_attempts = 4
[smtp]
host = "smtp.example.cn"
username = "vigil"
password_env = "SMTP_PW"
from = "Vigil <vigil@example.cn>"
[[webhooks]]
name = "ding"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
secret_env = "DING"
[[webhooks]]
name = "soc"
url = "https://soc.example.cn/hook"
secret = "k"
orgs = ["0190c8a0-0000-7000-8000-000000000001"]
"#,
            &[("SMTP_PW", "pw"), ("DING", "SEC1")],
        )
        .expect("ok")
        .expect("on");
        let s = c.smtp.as_ref().expect("smtp");
        assert_eq!((s.port, s.tls), (587, TlsMode::StartTls));
        assert_eq!(s.password.as_ref().map(|p| p.expose()), Some("pw"));
        assert!(!format!("{c:?}").contains("pw\""));
        assert_eq!(c.retry.max_attempts, 4);
        assert_eq!(c.webhooks.len(), 2);
        assert_eq!(c.webhooks[0].kind, WebhookKind::DingTalk);
        assert_eq!(
            c.webhooks[0].secret.as_ref().map(|s| s.expose()),
            Some("SEC1")
        );
        assert_eq!(c.webhooks[1].kind, WebhookKind::Generic);
        assert_eq!(c.webhooks[1].orgs.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn bad_settings_name_their_key() {
        for (toml, key) in [
            (
                "[smtp]\nhost = \"mail.example.cn\"\ntls = \"plain\"\nfrom = \"a@b\"\n",
                "notify.smtp.tls",
            ),
            ("[smtp]\nhost = \"h\"\n", "notify.smtp.from"),
            (
                "[smtp]\nhost = \"h\"\nfrom = \"a@b\"\npassword_env = \"NOPE\"\nusername = \"u\"\n",
                "notify.smtp.password_env",
            ),
            (
                "[[webhooks]]\nname = \"x\"\nurl = \"https://h/\"\n",
                "notify.webhooks[0].secret",
            ),
            (
                "[[webhooks]]\nname = \"email\"\nkind = \"wecom\"\nurl = \"https://h/\"\n",
                "notify.webhooks[0].name",
            ),
            (
                "[[webhooks]]\nname = \"x\"\nkind = \"slack\"\nurl = \"https://h/\"\n",
                "notify.webhooks[0].kind",
            ),
            (
                "[[webhooks]]\nname = \"x\"\nkind = \"wecom\"\nurl = \"ftp://h/?key=SECRETKEY\"\n",
                "notify.webhooks[0].url",
            ),
        ] {
            let e = resolve_toml(toml, &[]).expect_err(toml);
            assert!(e.to_string().starts_with(key), "{e} for {toml}");
            assert!(!e.to_string().contains("SECRETKEY"));
        }
        let ok = resolve_toml(
            "[smtp]\nhost = \"127.0.0.1\"\ntls = \"plain\"\nfrom = \"a@b\"\n",
            &[],
        )
        .expect("loopback plain")
        .expect("on");
        assert_eq!(ok.smtp.map(|s| s.port), Some(25));
    }
}
