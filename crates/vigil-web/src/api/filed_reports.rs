//! `/api/v1/incidents/{id}/reports`: regulatory incident reports as filed.
//!
//! Filing (analysts and administrators: `ManageIncidents`) builds the report
//! ([`crate::incident_report::prepare_filing`]), stores its JSON snapshot with a sequence number
//! and the SM3 digest of the bytes (the store adds the `report:<kind>` timeline entry in the
//! same transaction), and audits it as `incident.report` with the report id, number, kind and
//! digest, so the audit hash chain protects the digest. Reading a filed report re-hashes the
//! stored bytes and refuses to serve them when they no longer match (logged, counted,
//! audited), like evidence files. Everyone who may read the incident may read its reports;
//! another organization's incident is 404. The incident page uses the same functions.

use crate::api::evidence::{Altered, refuse_altered};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::incident_report::{self, IncidentReport, ReportKind};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_model::{Action, AuditOutcome, IncidentId, Locale, Principal, Timestamp};
use vigil_store::{FiledReport, FiledReportId, NewFiledReport, StoreError};

/// Files a report of `kind` for `principal` (who must be allowed to manage incidents and see
/// the incident), audits it and returns the record.
pub async fn file(
    st: &AppState,
    principal: &Principal,
    id: IncidentId,
    kind: ReportKind,
) -> ApiResult<FiledReport> {
    if !principal.allows(Action::ManageIncidents) {
        return Err(ApiError::forbidden(
            "filing reports needs the analyst or administrator role",
        ));
    }
    let scope = principal.scope();
    let now = Timestamp::now();
    let loaded = incident_report::gather(st.store.as_ref(), scope, id, now).await?;
    let filed = st
        .store
        .list_filed_reports(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let mut filing =
        incident_report::prepare_filing(kind, loaded.inputs(now), &filed).map_err(|e| {
            metrics::counter!("vigil_incident_reports_refused_total", "kind" => kind.as_str())
                .increment(1);
            ApiError::from(e)
        })?;
    // The impact recorded for the incident goes into the filed report as it stands now.
    let recorded = st.store.get_incident_impact(scope, id).await?;
    incident_report::apply_impact(&mut filing.report, recorded.as_ref());
    let snapshot = serde_json::to_vec(&filing.report).map_err(|e| {
        tracing::error!(error = %e, "serializing a report to file failed");
        ApiError::internal()
    })?;
    let actor = principal.actor();
    let rec = match st
        .store
        .add_filed_report(
            scope,
            NewFiledReport {
                incident_id: id,
                kind: kind.as_str().to_string(),
                timeline_upto: filing.timeline_upto,
                previous_seq: filing.previous_seq,
                snapshot,
            },
            &actor,
        )
        .await
    {
        Ok(r) => r,
        Err(StoreError::MissingReference(_)) => return Err(ApiError::not_found("incident")),
        Err(StoreError::Conflict(m)) => {
            metrics::counter!("vigil_incident_reports_refused_total", "kind" => kind.as_str())
                .increment(1);
            return Err(ApiError::new(StatusCode::CONFLICT, "report_conflict", m));
        }
        Err(e) => return Err(e.into()),
    };
    let detail = serde_json::json!({
        "report_id": rec.id,
        "seq": rec.seq,
        "kind": rec.kind,
        "size": rec.size,
        "sm3": rec.sm3,
    });
    crate::auth::audit(
        st,
        &actor,
        "incident.report",
        format!("incident/{id}/reports/{}", rec.id),
        AuditOutcome::Success,
        Some(rec.org_id),
        detail.to_string(),
    )
    .await;
    metrics::counter!("vigil_incident_reports_filed_total", "kind" => kind.as_str()).increment(1);
    tracing::info!(incident = %id, report = %rec.id, seq = rec.seq, kind = %rec.kind, sm3 = %rec.sm3, "incident report filed");
    Ok(rec)
}

/// A filed report the principal may see, its snapshot checked against the recorded digest:
/// the record and the bytes as filed.
pub async fn read_filed(
    st: &AppState,
    principal: &Principal,
    incident: IncidentId,
    id: FiledReportId,
) -> ApiResult<(FiledReport, Vec<u8>)> {
    let (rec, bytes) = st
        .store
        .get_filed_report(principal.scope(), incident, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    if !rec.matches(&bytes) {
        let actual = vigil_crypto::sm3_hex(&bytes);
        tracing::error!(
            incident = %incident,
            report = %rec.id,
            recorded_sm3 = %rec.sm3,
            actual_sm3 = %actual,
            "filed report bytes do not match the digest recorded when it was filed; not served"
        );
        return Err(refuse_altered(
            st,
            principal,
            Altered {
                counter: "vigil_incident_report_integrity_failures_total",
                audit_action: "incident.report.read",
                target: format!("incident/{incident}/reports/{}", rec.id),
                org: rec.org_id,
                recorded_sm3: &rec.sm3,
                actual_sm3: &actual,
                code: "report_integrity",
                message: "the stored report no longer matches the SM3 digest recorded when it \
                          was filed; it was altered afterwards and is not served",
                details: serde_json::json!({ "report_id": rec.id, "sm3": rec.sm3 }),
            },
        )
        .await);
    }
    Ok((rec, bytes))
}

/// The report read back from a verified snapshot, to print it.
pub fn parse_filed(rec: &FiledReport, bytes: &[u8]) -> ApiResult<IncidentReport> {
    incident_report::from_snapshot(bytes).map_err(|e| {
        metrics::counter!("vigil_incident_report_integrity_failures_total").increment(1);
        tracing::error!(report = %rec.id, error = %e, "a filed report does not read back as a report");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "report_unreadable",
            format!("filed report #{} does not read back as a report: {e}", rec.seq),
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    pub kind: String,
}

/// `POST /incidents/{id}/reports` with `{"kind": "initial" | "supplement" | "final"}`.
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
    body: Result<Json<FileBody>, JsonRejection>,
) -> ApiResult<Response> {
    auth.require(Action::ManageIncidents)?;
    let Json(b) = body?;
    let kind = ReportKind::from_param(Some(&b.kind))?;
    let rec = file(&st, &auth.principal, id, kind).await?;
    Ok((StatusCode::CREATED, Json(rec)).into_response())
}

/// `GET /incidents/{id}/reports`: the filed reports by number, without their snapshots.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadIncidents)?;
    let items = st
        .store
        .list_filed_reports(auth.principal.scope(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(serde_json::json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// `json` (default) or `pdf`.
    pub format: Option<String>,
    /// The PDF's language: `zh-CN` (default) or `en`.
    pub lang: Option<String>,
}

/// `GET /incidents/{id}/reports/{report_id}[?format=pdf&lang=en]`: the report exactly as
/// filed (the stored JSON bytes, `X-Content-SM3`), or printed to PDF from them.
pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path((id, rid)): Path<(IncidentId, FiledReportId)>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> ApiResult<Response> {
    auth.require(Action::ReadIncidents)?;
    let Query(p) = params?;
    let pdf = match p.format.as_deref() {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("'{other}' is not json or pdf"),
            ));
        }
    };
    let locale = match p.lang.as_deref() {
        None => Locale::ZhCn,
        Some(l) => Locale::parse(l)
            .ok_or_else(|| ApiError::invalid("lang", format!("'{l}' is not zh-CN or en")))?,
    };
    let (rec, bytes) = read_filed(&st, &auth.principal, id, rid).await?;
    if pdf {
        let report = parse_filed(&rec, &bytes)?;
        let t = crate::ui::i18n::Catalog::get(locale);
        return crate::ui::filed_pdf(&report, &rec, t).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "pdf_unavailable",
                e.to_string(),
            )
        });
    }
    let mut resp = Body::from(bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&rec.sm3) {
        h.insert("x-content-sm3", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
