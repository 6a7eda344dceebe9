//! Sending one delivery: SMTP through lettre, webhooks through hyper with rustls.
//!
//! Every failure is classified: **permanent** ones (a 4xx answer other than 408 and 429, a
//! 5xx SMTP reply, a robot's error code for a bad key or content, an address that does not
//! parse, a channel no longer configured) are not retried; everything else (connection
//! errors, timeouts, 5xx and 429 answers, 4xx SMTP replies, robots' rate limits) is.

use crate::config::{NotifyConfig, SmtpConfig, TlsMode, WebhookChannel, WebhookKind};
use crate::render::webhook_body;
use crate::sign;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vigil_store::Delivery;

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            permanent: false,
            message: message.into(),
        }
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends deliveries; holds the HTTP client and the SMTP transport (connections reused).
pub struct Sender {
    config: NotifyConfig,
    http: Option<HttpsClient>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot set up TLS for webhooks: {0}")]
    Tls(String),
    #[error("cannot set up the SMTP transport: {0}")]
    Smtp(String),
}

impl Sender {
    pub fn new(config: NotifyConfig) -> Result<Self, SetupError> {
        let http = if config.webhooks.is_empty() {
            None
        } else {
            let provider = tokio_rustls::rustls::crypto::ring::default_provider();
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(provider)
                .map_err(|e| SetupError::Tls(e.to_string()))?
                .https_or_http()
                .enable_http1()
                .build();
            Some(Client::builder(TokioExecutor::new()).build(https))
        };
        let smtp = config.smtp.as_ref().map(smtp_transport).transpose()?;
        Ok(Self { config, http, smtp })
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// One attempt at the delivery.
    pub async fn send(&self, d: &Delivery) -> Result<(), SendError> {
        if d.spec.kind == "email" {
            return self.send_email(d).await;
        }
        let Some(ch) = self.config.webhook(&d.spec.channel) else {
            return Err(SendError::permanent(format!(
                "webhook channel '{}' is no longer configured",
                d.spec.channel
            )));
        };
        self.send_webhook(ch, d).await
    }

    async fn send_email(&self, d: &Delivery) -> Result<(), SendError> {
        let (Some(cfg), Some(transport)) = (&self.config.smtp, &self.smtp) else {
            return Err(SendError::permanent("no SMTP relay is configured"));
        };
        let msg = email_message(cfg, d)?;
        match tokio::time::timeout(cfg.timeout, transport.send(msg)).await {
            Err(_) => Err(SendError::transient("SMTP conversation timed out")),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Ok(Err(e)) => Err(SendError::transient(format!("SMTP: {e}"))),
        }
    }

    async fn send_webhook(&self, ch: &WebhookChannel, d: &Delivery) -> Result<(), SendError> {
        let Some(client) = &self.http else {
            return Err(SendError::permanent("no HTTP client"));
        };
        let body = serde_json::to_vec(&webhook_body(ch.kind, d))
            .map_err(|e| SendError::permanent(format!("cannot encode the message: {e}")))?;
        let now = jiff::Timestamp::now();
        let mut url = ch.url.clone();
        let mut req = hyper::Request::post(url.as_str());
        match ch.kind {
            WebhookKind::Generic => {
                let ts = now.as_second();
                let secret = ch.secret.as_ref().map(|s| s.expose()).unwrap_or_default();
                req = hyper::Request::post(url.as_str())
                    .header(sign::TIMESTAMP_HEADER, ts.to_string())
                    .header(
                        sign::SIGNATURE_HEADER,
                        sign::sign_generic(secret.as_bytes(), ts, &body),
                    );
            }
            WebhookKind::DingTalk => {
                if let Some(secret) = &ch.secret {
                    url = sign::dingtalk_url(&url, secret.expose(), now.as_millisecond());
                    req = hyper::Request::post(url.as_str());
                }
            }
            WebhookKind::WeCom => {}
        }
        let req = req
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::permanent(format!("bad request: {e}")))?;
        let exchange = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| SendError::transient(format!("HTTP: {}", describe(&e))))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| SendError::transient(format!("HTTP body: {e}")))?;
            Ok::<_, SendError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.config.http_timeout, exchange)
            .await
            .map_err(|_| SendError::transient("HTTP request timed out"))??;
        check_response(ch.kind, status, &bytes)
    }
}

/// The error and its causes, without the URL (which may carry a robot key).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut s = if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Robot error codes that mean "later", not "never": DingTalk 130101 (too fast), WeCom
/// 45009 (frequency limit), -1 (system busy, both).
const RATE_LIMIT_CODES: [i64; 3] = [130_101, 45_009, -1];

/// Judges a webhook's answer.
pub fn check_response(kind: WebhookKind, status: u16, body: &[u8]) -> Result<(), SendError> {
    let excerpt = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    match status {
        200..=299 => {}
        408 | 429 => {
            return Err(SendError::transient(format!("HTTP {status}: {excerpt}")));
        }
        500..=599 => return Err(SendError::transient(format!("HTTP {status}: {excerpt}"))),
        _ => return Err(SendError::permanent(format!("HTTP {status}: {excerpt}"))),
    }
    if kind == WebhookKind::Generic {
        return Ok(());
    }
    // DingTalk and WeCom answer 200 with {"errcode": 0, "errmsg": "ok"}; anything else is
    // a failure, even with status 200.
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        SendError::transient(format!(
            "HTTP {status}: the answer is not the robot's JSON: {excerpt}"
        ))
    })?;
    match v.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) => Ok(()),
        Some(code) => {
            let msg = v.get("errmsg").and_then(|m| m.as_str()).unwrap_or("");
            let text = format!("errcode {code}: {msg}");
            if RATE_LIMIT_CODES.contains(&code) {
                Err(SendError::transient(text))
            } else {
                Err(SendError::permanent(text))
            }
        }
        None => Err(SendError::transient(format!(
            "HTTP {status}: no errcode in the answer: {excerpt}"
        ))),
    }
}

fn smtp_transport(cfg: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, SetupError> {
    let mut b = match cfg.tls {
        TlsMode::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host),
        TlsMode::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host),
        TlsMode::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &cfg.host,
        )),
    }
    .map_err(|e| SetupError::Smtp(e.to_string()))?
    .port(cfg.port)
    .timeout(Some(cfg.timeout));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        b = b.credentials(Credentials::new(u.clone(), p.expose().to_string()));
    }
    Ok(b.build())
}

/// The e-mail for a delivery: UTF-8 text (the markdown as written), base64 transfer
/// encoding; lettre encodes a non-ASCII subject as RFC 2047 words.
pub fn email_message(cfg: &SmtpConfig, d: &Delivery) -> Result<Message, SendError> {
    let from: Mailbox = cfg
        .from
        .parse()
        .map_err(|e| SendError::permanent(format!("bad sender address: {e}")))?;
    let to: Mailbox = d
        .spec
        .recipient
        .parse()
        .map_err(|e| SendError::permanent(format!("bad recipient address: {e}")))?;
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::Base64)
        .body(d.spec.body.clone());
    Message::builder()
        .from(from)
        .to(to)
        .subject(d.spec.subject.clone())
        .singlepart(part)
        .map_err(|e| SendError::permanent(format!("cannot build the e-mail: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let ok = br#"{"errcode":0,"errmsg":"ok"}"#;
        assert_eq!(check_response(WebhookKind::DingTalk, 200, ok), Ok(()));
        assert_eq!(check_response(WebhookKind::Generic, 204, b""), Ok(()));
        let e = check_response(
            WebhookKind::DingTalk,
            200,
            br#"{"errcode":310000,"errmsg":"sign not match"}"#,
        )
        .expect_err("sign");
        assert!(e.permanent && e.message.contains("310000"), "{e:?}");
        let e = check_response(
            WebhookKind::WeCom,
            200,
            br#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
        )
        .expect_err("rate");
        assert!(!e.permanent);
        assert!(
            !check_response(WebhookKind::Generic, 500, b"x")
                .expect_err("500")
                .permanent
        );
        assert!(
            !check_response(WebhookKind::Generic, 429, b"x")
                .expect_err("429")
                .permanent
        );
        assert!(
            check_response(WebhookKind::Generic, 400, b"x")
                .expect_err("400")
                .permanent
        );
        assert!(
            check_response(WebhookKind::Generic, 404, b"x")
                .expect_err("404")
                .permanent
        );
        assert!(
            !check_response(WebhookKind::WeCom, 200, b"<html>")
                .expect_err("html")
                .permanent
        );
    }
}
