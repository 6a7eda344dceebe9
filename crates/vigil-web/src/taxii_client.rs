//! A TAXII 2.1 client that polls one remote collection incrementally and imports what it
//! finds into a source.
//!
//! Each poll asks for objects added after the last watermark (`added_after`), follows
//! `next` while `more` is true (and, for servers that say `more` without `next`, continues
//! with `added_after` = the `X-TAXII-Date-Added-Last` header), and returns the new
//! watermark. HTTP and HTTPS (rustls, TLS 1.2+, the webpki roots or a configured CA file);
//! credentials are a bearer token or HTTP Basic (the TAXII interop baseline, which the OASIS
//! reference server medallion speaks), never logged.
//!
//! Lives here rather than in `vigil-intel` because that crate does no network IO, and the
//! import stores through the API's import path.

use crate::api::intel::{Format, ImportReport, run_import, source_named};
use crate::state::AppState;
use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use vigil_intel::Tlp;
use vigil_model::Timestamp;

/// Largest response page read.
const MAX_PAGE_BYTES: usize = 64 << 20;
/// Most pages one poll follows (a server that never stops saying `more`).
const MAX_PAGES: usize = 10_000;

/// What can go wrong while polling.
#[derive(Debug, thiserror::Error)]
pub enum TaxiiClientError {
    #[error("bad collection URL '{0}'")]
    Url(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Http(String),
    #[error("the server answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the server's answer is not a TAXII envelope: {0}")]
    Envelope(String),
    #[error("importing failed: {0}")]
    Import(String),
}

/// A remote collection.
#[derive(Clone, Default)]
pub struct Peer {
    /// The collection URL, ending in `/` (`https://host/taxii2/api1/collections/<id>/`).
    pub collection_url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// HTTP Basic credentials (user, password), used when there is no bearer token.
    pub basic: Option<(String, String)>,
    /// Objects per page asked for.
    pub page_size: usize,
    /// PEM CA certificates that HTTPS peers are verified against instead of the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Longest wait for one page (default 60 s).
    pub timeout: Option<Duration>,
    /// Confidence given to imported indicators that state none.
    pub default_confidence: Option<u8>,
    /// TLP given to imported objects that carry no marking.
    pub default_tlp: Option<Tlp>,
}

/// Credentials stay out of logs and panics.
impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("collection_url", &self.collection_url)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field(
                "basic",
                &self.basic.as_ref().map(|(u, _)| format!("{u}:<redacted>")),
            )
            .field("page_size", &self.page_size)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Peer {
    /// The `Authorization` header value, if any.
    fn authorization(&self) -> Option<String> {
        use base64::Engine as _;
        if let Some(t) = &self.bearer {
            return Some(format!("Bearer {t}"));
        }
        self.basic.as_ref().map(|(u, p)| {
            let raw = format!("{u}:{p}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        })
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The HTTP(S) client for `peer`: rustls with the webpki roots, or the peer's CA file.
fn client(peer: &Peer) -> Result<HttpsClient, TaxiiClientError> {
    use tokio_rustls::rustls;
    let tls = |e: &dyn std::fmt::Display| TaxiiClientError::Tls(e.to_string());
    let provider = rustls::crypto::ring::default_provider();
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match &peer.ca_file {
        None => builder
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| tls(&e))?,
        Some(path) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let bytes = std::fs::read(path)
                .map_err(|e| TaxiiClientError::Tls(format!("{}: {e}", path.display())))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                let cert =
                    cert.map_err(|e| TaxiiClientError::Tls(format!("{}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| tls(&e))?;
            }
            if roots.is_empty() {
                return Err(TaxiiClientError::Tls(format!(
                    "{}: no certificate",
                    path.display()
                )));
            }
            let config = rustls::ClientConfig::builder_with_provider(provider.into())
                .with_safe_default_protocol_versions()
                .map_err(|e| tls(&e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder.with_tls_config(config)
        }
    };
    let https = builder.https_or_http().enable_http1().build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// One poll's objects and the watermark for the next poll.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub objects: Vec<Value>,
    pub pages: usize,
    /// The newest `X-TAXII-Date-Added-Last` seen, or the previous watermark.
    pub watermark: Option<Timestamp>,
}

/// Fetches every object added after `since`.
pub async fn poll(peer: &Peer, since: Option<Timestamp>) -> Result<Polled, TaxiiClientError> {
    let url = &peer.collection_url;
    if !(url.starts_with("http://") || url.starts_with("https://")) || !url.ends_with('/') {
        return Err(TaxiiClientError::Url(url.clone()));
    }
    let client = client(peer)?;
    let timeout = peer.timeout.unwrap_or(Duration::from_secs(60));
    let mut out = Polled {
        watermark: since,
        ..Polled::default()
    };
    let mut next: Option<String> = None;
    let mut after = since;
    while out.pages < MAX_PAGES {
        let mut query = vec![("limit".to_string(), peer.page_size.max(1).to_string())];
        if let Some(n) = &next {
            query.push(("next".into(), n.clone()));
        }
        if let Some(a) = after {
            query.push(("added_after".into(), crate::taxii::taxii_time(a)));
        }
        let qs = serde_urlencoded::to_string(&query)
            .map_err(|e| TaxiiClientError::Url(e.to_string()))?;
        let uri = format!("{}objects/?{qs}", peer.collection_url);
        let mut req = axum::http::Request::get(&uri).header("accept", crate::taxii::TAXII_MEDIA);
        if let Some(a) = peer.authorization() {
            req = req.header("authorization", a);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| TaxiiClientError::Url(e.to_string()))?;
        let resp = tokio::time::timeout(timeout, client.request(req))
            .await
            .map_err(|_| TaxiiClientError::Timeout(timeout))?
            .map_err(|e| TaxiiClientError::Http(error_chain(&e)))?;
        let status = resp.status();
        let last_added = resp
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<Timestamp>().ok());
        let bytes = tokio::time::timeout(
            timeout,
            Limited::new(resp.into_body(), MAX_PAGE_BYTES).collect(),
        )
        .await
        .map_err(|_| TaxiiClientError::Timeout(timeout))?
        .map_err(|e| TaxiiClientError::Http(e.to_string()))?
        .to_bytes();
        if !status.is_success() {
            return Err(TaxiiClientError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            });
        }
        out.pages += 1;
        let env: Value = serde_json::from_slice(&bytes)
            .map_err(|e| TaxiiClientError::Envelope(e.to_string()))?;
        let objects = env
            .get("objects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let got = objects.len();
        out.objects.extend(objects);
        if let Some(l) = last_added {
            out.watermark = Some(out.watermark.map_or(l, |w| w.max(l)));
        }
        let more = env.get("more").and_then(Value::as_bool).unwrap_or(false);
        if !more || got == 0 {
            break;
        }
        match env.get("next").and_then(Value::as_str) {
            Some(n) => next = Some(n.to_string()),
            None => {
                // `more` without `next`: continue after the last object of this page.
                next = None;
                match last_added {
                    Some(l) if Some(l) != after => after = Some(l),
                    _ => break,
                }
            }
        }
    }
    Ok(out)
}

/// Polls the peer and imports the objects into the source `source_name` (created when new).
pub async fn poll_and_import(
    st: &AppState,
    peer: &Peer,
    source_name: &str,
    since: Option<Timestamp>,
) -> Result<(ImportReport, Polled), TaxiiClientError> {
    let polled = poll(peer, since).await?;
    let source = source_named(st, source_name, "taxii")
        .await
        .map_err(|e| TaxiiClientError::Import(e.message))?;
    let envelope = serde_json::json!({ "objects": polled.objects });
    let bytes = Bytes::from(envelope.to_string());
    let report = run_import(
        st,
        bytes,
        Format::Stix,
        &source,
        peer.default_confidence,
        peer.default_tlp,
    )
    .await
    .map_err(|e| TaxiiClientError::Import(e.message))?;
    tracing::info!(
        peer = %peer.collection_url,
        objects = polled.objects.len(),
        inserted = report.stored.inserted,
        updated = report.stored.updated,
        problems = report.problems_total,
        "taxii poll imported"
    );
    Ok((report, polled))
}

/// The error with its sources (hyper's own message is only "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(url: &str) -> Peer {
        Peer {
            collection_url: url.to_string(),
            page_size: 10,
            ..Peer::default()
        }
    }

    #[test]
    fn credentials_go_in_the_header_and_never_in_debug() {
        let mut p = peer("https://peer.example/api1/collections/c/");
        assert_eq!(p.authorization(), None);
        p.basic = Some(("vigil".into(), "interop-pass".into()));
        assert_eq!(
            p.authorization().as_deref(),
            Some("Basic dmlnaWw6aW50ZXJvcC1wYXNz")
        );
        p.bearer = Some("vgl_secret".into());
        assert_eq!(p.authorization().as_deref(), Some("Bearer vgl_secret"));
        let dbg = format!("{p:?}");
        assert!(
            !dbg.contains("interop-pass") && !dbg.contains("vgl_secret"),
            "{dbg}"
        );
        assert!(dbg.contains("vigil:<redacted>"), "{dbg}");
    }

    #[tokio::test]
    async fn urls_and_tls_setup_errors_are_reported() {
        for bad in [
            "ftp://peer.example/c/",
            "https://peer.example/c",
            "peer.example/c/",
        ] {
            assert!(
                matches!(poll(&peer(bad), None).await, Err(TaxiiClientError::Url(_))),
                "{bad}"
            );
        }
        let dir = std::env::temp_dir().join(format!("vigil-taxii-ca-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok();
        let not_pem = dir.join("ca.pem");
        std::fs::write(&not_pem, "not a certificate\n").ok();
        for ca in [dir.join("missing.pem"), not_pem] {
            let p = Peer {
                ca_file: Some(ca.clone()),
                ..peer("https://127.0.0.1:9/c/")
            };
            let r = poll(&p, None).await;
            assert!(matches!(r, Err(TaxiiClientError::Tls(_))), "{ca:?}: {r:?}");
        }
        std::fs::remove_dir_all(&dir).ok();
        // HTTPS with the webpki roots: set up, then the connection itself fails (nobody
        // listens on the discard port), reported with its cause.
        let r = poll(&peer("https://127.0.0.1:9/c/"), None).await;
        match r {
            Err(TaxiiClientError::Http(m)) => assert!(m.contains("onnect"), "{m}"),
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
}
