//! `/api/v1/incidents/{id}/evidence`: evidence files with their SM3 digests (chain of
//! custody).
//!
//! The store computes the digest over the bytes it stores; the upload is audited
//! (`incident.evidence`, with the evidence id, file name, size and digest in the detail, so
//! the audit hash chain protects the digest) and put on the incident's timeline. A download
//! re-hashes the bytes and refuses to serve them when they no longer match the digest (an
//! altered database), logging and counting the failure. The UI's upload form and download
//! link use the same functions.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_model::{Action, AuditOutcome, IncidentId, OrgId, Principal};
use vigil_store::evidence::{MAX_EVIDENCE_BYTES, OCTET_STREAM, is_passive_content_type};
use vigil_store::{Evidence, EvidenceId, NewEvidence, StoreError};

/// The largest evidence file this server accepts: the store's limit, or the server's request
/// body limit (`server.max_body_mb`) when that is lower.
pub fn upload_limit(st: &AppState) -> usize {
    st.config.max_body_bytes.min(MAX_EVIDENCE_BYTES)
}

/// An upload refused for its size, naming the limit.
pub fn too_large(limit: usize) -> ApiError {
    metrics::counter!("vigil_evidence_rejected_total", "reason" => "too_large").increment(1);
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("evidence files may have at most {limit} bytes"),
    )
    .with_details(serde_json::json!({ "field": "content", "max_bytes": limit }))
}

/// Stores an evidence file for `principal` (who must be allowed to respond to incidents and
/// see the incident), audits it and returns the record. Another organization's incident is
/// reported as missing (404).
pub async fn store_upload(
    st: &AppState,
    principal: &Principal,
    incident: IncidentId,
    spec: NewEvidence,
) -> ApiResult<Evidence> {
    let limit = upload_limit(st);
    if spec.bytes.len() > limit {
        return Err(too_large(limit));
    }
    let actor = principal.actor();
    let ev = match st.store.add_evidence(principal.scope(), spec, &actor).await {
        Ok(ev) => ev,
        Err(StoreError::MissingReference(_)) => return Err(ApiError::not_found("incident")),
        Err(e @ StoreError::Invalid(_)) => {
            metrics::counter!("vigil_evidence_rejected_total", "reason" => "invalid").increment(1);
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let detail = serde_json::json!({
        "evidence_id": ev.id,
        "file_name": ev.file_name,
        "content_type": ev.content_type,
        "size": ev.size,
        "sm3": ev.sm3,
    });
    crate::auth::audit(
        st,
        &actor,
        "incident.evidence",
        format!("incident/{incident}/evidence/{}", ev.id),
        AuditOutcome::Success,
        Some(ev.org_id),
        detail.to_string(),
    )
    .await;
    tracing::info!(
        incident = %incident,
        evidence = %ev.id,
        size = ev.size,
        sm3 = %ev.sm3,
        "evidence stored"
    );
    Ok(ev)
}

/// The download of an evidence file the principal may see: the bytes, checked against the
/// recorded digest first, as an attachment with `X-Content-SM3`.
pub async fn download_response(
    st: &AppState,
    principal: &Principal,
    incident: IncidentId,
    id: EvidenceId,
) -> ApiResult<Response> {
    let (ev, bytes) = st
        .store
        .get_evidence(principal.scope(), incident, id)
        .await?
        .ok_or_else(|| ApiError::not_found("evidence"))?;
    if !ev.matches(&bytes) {
        let actual = vigil_crypto::sm3_hex(&bytes);
        tracing::error!(
            incident = %incident,
            evidence = %ev.id,
            recorded_sm3 = %ev.sm3,
            actual_sm3 = %actual,
            recorded_size = ev.size,
            actual_size = bytes.len(),
            "evidence bytes do not match the digest recorded at upload; not served"
        );
        return Err(refuse_altered(
            st,
            principal,
            Altered {
                counter: "vigil_evidence_integrity_failures_total",
                audit_action: "incident.evidence.download",
                target: format!("incident/{incident}/evidence/{}", ev.id),
                org: ev.org_id,
                recorded_sm3: &ev.sm3,
                actual_sm3: &actual,
                code: "evidence_integrity",
                message: "the stored file no longer matches the SM3 digest recorded at upload; \
                          it was altered after upload and is not served",
                details: serde_json::json!({ "evidence_id": ev.id, "sm3": ev.sm3 }),
            },
        )
        .await);
    }
    let served_type = if is_passive_content_type(&ev.content_type) {
        ev.content_type.as_str()
    } else {
        OCTET_STREAM
    };
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(served_type).unwrap_or(HeaderValue::from_static(OCTET_STREAM)),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&ev.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&ev.sm3) {
        h.insert("x-content-sm3", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(resp)
}

/// Stored bytes (an evidence file, a filed report) that no longer match the SM3 digest
/// recorded when they were stored.
pub(crate) struct Altered<'a> {
    /// The failure counter to increment.
    pub counter: &'static str,
    /// The audited action, recorded as a failure.
    pub audit_action: &'static str,
    pub target: String,
    pub org: OrgId,
    pub recorded_sm3: &'a str,
    pub actual_sm3: &'a str,
    /// The API error code and message of the refusal.
    pub code: &'static str,
    pub message: &'static str,
    pub details: serde_json::Value,
}

/// Counts and audits the integrity failure (the caller logs it with its own fields) and
/// returns the refusal to serve the bytes.
pub(crate) async fn refuse_altered(
    st: &AppState,
    principal: &Principal,
    a: Altered<'_>,
) -> ApiError {
    metrics::counter!(a.counter).increment(1);
    crate::auth::audit(
        st,
        &principal.actor(),
        a.audit_action,
        a.target,
        AuditOutcome::Failure,
        Some(a.org),
        format!(
            "integrity check failed: recorded sm3 {}, actual {}",
            a.recorded_sm3, a.actual_sm3
        ),
    )
    .await;
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, a.code, a.message).with_details(a.details)
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266
/// and RFC 8187). Written by hand because it is a dozen lines and no crate of the workspace
/// does it; the fallback replaces every character outside printable ASCII and the quote and
/// backslash with `_`.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // RFC 8187 attr-char.
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    pub filename: Option<String>,
    pub note: Option<String>,
}

/// `POST /incidents/{id}/evidence?filename=…&note=…`: the request body is the file, its
/// `Content-Type` the file's type.
pub async fn upload(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
    params: Result<Query<UploadParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    auth.require(Action::RespondIncidents)?;
    let Query(p) = params?;
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(upload_limit(&st))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {r}"))
        }
    })?;
    let file_name = p.filename.filter(|f| !f.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid("filename", "the query must name the file: ?filename=…")
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(OCTET_STREAM)
        .to_string();
    let spec = NewEvidence {
        incident_id: id,
        file_name,
        content_type,
        note: p.note,
        bytes: bytes.to_vec(),
    };
    let ev = store_upload(&st, &auth.principal, id, spec).await?;
    Ok((StatusCode::CREATED, Json(ev)).into_response())
}

/// `GET /incidents/{id}/evidence`: the records, oldest first, without the bytes.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadIncidents)?;
    let items = st
        .store
        .list_evidence(auth.principal.scope(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `GET /incidents/{id}/evidence/{evidence_id}`: the file, verified against its digest.
pub async fn download(
    State(st): State<AppState>,
    auth: Auth,
    Path((id, evidence_id)): Path<(IncidentId, EvidenceId)>,
) -> ApiResult<Response> {
    auth.require(Action::ReadIncidents)?;
    download_response(&st, &auth.principal, id, evidence_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_encodes_any_name() {
        assert_eq!(
            content_disposition("dump.pcap"),
            "attachment; filename=\"dump.pcap\"; filename*=UTF-8''dump.pcap"
        );
        assert_eq!(
            content_disposition("取证 \"a\".txt"),
            "attachment; filename=\"__ _a_.txt\"; filename*=UTF-8''%E5%8F%96%E8%AF%81%20%22a%22.txt"
        );
    }
}
