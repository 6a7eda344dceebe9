//! The resolved notification settings: the SMTP relay, the webhook channels and the retry
//! policy. The server's configuration builds these from `[notify]`; secrets never appear in
//! `Debug` output.

use std::time::Duration;
use vigil_model::OrgId;

/// A secret (SMTP password, webhook signing secret): printed as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS at all: only for a relay on the loopback interface (tests, local MTAs).
    Plain,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starttls" => Some(Self::StartTls),
            "implicit" | "tls" => Some(Self::Implicit),
            "plain" | "none" => Some(Self::Plain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Implicit => "implicit",
            Self::Plain => "plain",
        }
    }

    /// The usual port of the mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Implicit => 465,
            Self::Plain => 25,
        }
    }
}

/// The SMTP relay e-mails go through.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// How long one SMTP conversation may take.
    pub timeout: Duration,
}

/// The message format a webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// Vigil's own JSON, signed with HMAC-SM3 (see [`crate::sign`]).
    Generic,
    /// A DingTalk group robot (markdown message, optional `sign` secret).
    DingTalk,
    /// A WeCom (企业微信) group robot (markdown message; the key is in the URL).
    WeCom,
}

impl WebhookKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "generic" => Some(Self::Generic),
            "dingtalk" => Some(Self::DingTalk),
            "wecom" => Some(Self::WeCom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::DingTalk => "dingtalk",
            Self::WeCom => "wecom",
        }
    }
}

/// One configured webhook.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    /// Unique; the `channel` of its deliveries. `email` is reserved.
    pub name: String,
    pub kind: WebhookKind,
    /// The full address, robot keys included (never stored with deliveries nor logged).
    pub url: url::Url,
    /// Generic: the HMAC-SM3 key (required); DingTalk: the robot's signing secret
    /// (optional); WeCom: unused.
    pub secret: Option<Secret>,
    /// The organizations it serves; `None` serves all.
    pub orgs: Option<Vec<OrgId>>,
}

impl WebhookChannel {
    pub fn serves(&self, org: OrgId) -> bool {
        self.orgs.as_ref().is_none_or(|o| o.contains(&org))
    }

    /// The address shown as the recipient: scheme, host, port and path, without the query
    /// (where robot keys live) or credentials.
    pub fn display_url(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        u.set_fragment(None);
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.to_string()
    }
}

/// When failed attempts are tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay after the 1st, 2nd, ... failure; the last one repeats.
    pub delays: Vec<Duration>,
    /// Attempts in all before a delivery is given up.
    pub max_attempts: u32,
    /// Each delay is spread by ± this fraction (0 to 1), so failures of many deliveries at
    /// once do not come back all at the same second.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: [30, 120, 600, 3_600, 6 * 3_600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            max_attempts: 8,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), with jitter from `unit`, a
    /// number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let idx = (attempt.max(1) as usize - 1).min(self.delays.len().saturating_sub(1));
        let base = self.delays.get(idx).copied().unwrap_or(Duration::ZERO);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        base.mul_f64(factor.max(0.0))
    }
}

/// Everything the notifier needs.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpConfig>,
    pub webhooks: Vec<WebhookChannel>,
    pub retry: RetryPolicy,
    /// The platform's address, for links in messages (`https://vigil.example.cn`).
    pub base_url: Option<String>,
    /// How long a worker holds a claimed delivery before another may take it.
    pub lease: Duration,
    /// How often the worker looks for due deliveries when idle.
    pub poll: Duration,
    /// Deliveries claimed at once.
    pub batch: usize,
    /// How long one webhook request may take.
    pub http_timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            webhooks: Vec::new(),
            retry: RetryPolicy::default(),
            base_url: None,
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(5),
            batch: 20,
            http_timeout: Duration::from_secs(15),
        }
    }
}

impl NotifyConfig {
    pub fn webhook(&self, name: &str) -> Option<&WebhookChannel> {
        self.webhooks.iter().find(|w| w.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(30));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(120));
        assert_eq!(p.delay(9, 0.5), Duration::from_secs(6 * 3_600));
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(24));
        assert!(p.delay(1, 0.999) < Duration::from_secs(36));
        assert!(p.delay(1, 0.999) > Duration::from_secs(35));
    }

    #[test]
    fn secrets_and_robot_keys_stay_out_of_sight() {
        let w = WebhookChannel {
            name: "ops".into(),
            kind: WebhookKind::WeCom,
            url: "https://u:p@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
                .parse()
                .expect("url"),
            secret: Some(Secret::new("s3cret")),
            orgs: None,
        };
        assert_eq!(
            w.display_url(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
        );
        assert!(!format!("{w:?}").contains("s3cret"));
        assert!(w.serves(OrgId::new()));
    }
}
