//! A TAXII 2.1 client that polls one remote collection incrementally and imports what it
//! finds into a source.
//!
//! Each poll asks for objects added after the last watermark (`added_after`), follows
//! `next` while `more` is true (and, for servers that say `more` without `next`, continues
//! with `added_after` = the `X-TAXII-Date-Added-Last` header), and returns the new
//! watermark. Plain HTTP only for now: the workspace has no TLS client stack yet, so a peer
//! behind HTTPS needs a TLS-terminating proxy until one is added.
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
#[derive(Debug, Clone)]
pub struct Peer {
    /// The collection URL, ending in `/` (`http://host/taxii2/api1/collections/<id>/`).
    pub collection_url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// Objects per page asked for.
    pub page_size: usize,
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
    if !peer.collection_url.starts_with("http://") || !peer.collection_url.ends_with('/') {
        return Err(TaxiiClientError::Url(peer.collection_url.clone()));
    }
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
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
        if let Some(t) = &peer.bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| TaxiiClientError::Url(e.to_string()))?;
        let resp = client
            .request(req)
            .await
            .map_err(|e| TaxiiClientError::Http(e.to_string()))?;
        let status = resp.status();
        let last_added = resp
            .headers()
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<Timestamp>().ok());
        let bytes = Limited::new(resp.into_body(), MAX_PAGE_BYTES)
            .collect()
            .await
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
    let report = run_import(st, bytes, Format::Stix, &source, None, None)
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
