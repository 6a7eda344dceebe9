//! `/api/v1/incidents`

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use vigil_model::{
    Action, Grade, Incident, IncidentId, IncidentStatus, NewIncident, OrgId, Timestamp,
};
use vigil_store::{IncidentQuery, IncidentUpdate};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub org_id: Option<OrgId>,
    pub status: Option<IncidentStatus>,
    pub open: Option<bool>,
    pub grade: Option<Grade>,
    pub category: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only incidents with a deadline passed and not met (`true`), or only those without
    /// (`false`); see [`crate::overdue`].
    pub overdue: Option<bool>,
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadIncidents)?;
    let Query(p) = params?;
    let q = IncidentQuery {
        org_id: p.org_id,
        status: p.status,
        open: p.open,
        grade: p.grade,
        category: p.category,
        from: p.from,
        to: p.to,
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
    };
    if let Some(want) = p.overdue {
        let page = crate::overdue::page(
            st.store.as_ref(),
            auth.principal.scope(),
            &q,
            want,
            Timestamp::now(),
        )
        .await?;
        return Ok(page_json(page.items, page.next_cursor));
    }
    let page = st.store.list_incidents(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

/// The incident with its timeline and, under `impact`, its recorded impact (`null` when none
/// was recorded; see [`super::impact`]).
pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadIncidents)?;
    let scope = auth.principal.scope();
    let inc = st
        .store
        .get_incident(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let impact = st.store.get_incident_impact(scope, id).await?;
    let mut v = serde_json::to_value(&inc).map_err(|_| ApiError::internal())?;
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "impact".into(),
            serde_json::to_value(&impact).map_err(|_| ApiError::internal())?,
        );
    }
    Ok(Json(v))
}

/// `GET /incidents/{id}/notice`: the signed notice of a notified incident (an SM2-signed
/// [`vigil_crypto::Envelope`]), for the platform and for the organization it concerns.
pub async fn notice(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<vigil_crypto::Envelope>> {
    auth.require(Action::ReadIncidents)?;
    let scope = auth.principal.scope();
    let inc = st
        .store
        .get_incident(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    if !crate::notice::is_notified(inc.status) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_notified",
            format!(
                "the incident is '{}': a notice exists once it has been notified",
                inc.status.as_str()
            ),
        ));
    }
    let org = st
        .store
        .get_org(scope, inc.spec.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let key = st.notice_key.get().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_signing_key",
            "notice signing is not configured on this server (no platform SM2 key)",
        )
    })?;
    let payload = crate::notice::payload(&inc, &org, Timestamp::now());
    let env = vigil_crypto::seal_envelope(key, payload.to_string()).map_err(|e| {
        tracing::error!(error = %e, "signing a notice failed");
        ApiError::internal()
    })?;
    Ok(Json(env))
}

/// `GET /incidents/{id}/deadlines`: reporting, escalation, acknowledgement and remediation
/// deadlines with their state (pending, met, met late, overdue, missed).
pub async fn deadlines(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadIncidents)?;
    let scope = auth.principal.scope();
    let inc = st
        .store
        .get_incident(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let org = st
        .store
        .get_org(scope, inc.spec.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let items = crate::workflow::deadlines(&inc, &org, Timestamp::now())?;
    let overdue = items.iter().filter(|d| d.status == "overdue").count();
    Ok(Json(serde_json::json!({
        "zone": "Asia/Shanghai",
        "items": items,
        "overdue": overdue,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    pub kind: Option<String>,
}

/// `GET /incidents/{id}/report?kind=initial|supplement|final`: the regulatory incident report
/// ([`crate::incident_report`]); a final report of an open incident is refused (409).
pub async fn report(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> ApiResult<Json<crate::incident_report::IncidentReport>> {
    auth.require(Action::ReadIncidents)?;
    let Query(p) = params?;
    let kind = crate::incident_report::ReportKind::from_param(p.kind.as_deref())?;
    crate::incident_report::load(
        st.store.as_ref(),
        auth.principal.scope(),
        id,
        kind,
        Timestamp::now(),
    )
    .await
    .map(Json)
}

/// `GET /notice-key`: the platform's published SM2 public key, which notices verify with.
pub async fn notice_key(
    State(st): State<AppState>,
    _auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    let key = st.notice_key.get().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_signing_key",
            "notice signing is not configured on this server (no platform SM2 key)",
        )
    })?;
    let public = key.public_key();
    let pem = public.to_pem().map_err(|_| ApiError::internal())?;
    Ok(Json(serde_json::json!({
        "alg": vigil_crypto::envelope::ENVELOPE_ALG,
        "signer_id": vigil_crypto::DEFAULT_SM2_ID,
        "public_key_pem": pem,
        "public_key_hex": public.to_hex(),
    })))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<NewIncident>, JsonRejection>,
) -> ApiResult<Created<Incident>> {
    auth.require(Action::ManageIncidents)?;
    let Json(spec) = body?;
    auth.require_org(spec.org_id)?;
    spec.validate()?;
    let inc = st
        .store
        .create_incident(spec, &auth.principal.actor())
        .await?;
    audit_change(
        &st,
        &auth,
        "incident.create",
        format!("incident/{}", inc.id),
        Some(inc.spec.org_id),
        &inc.spec.title,
    )
    .await;
    Ok(Created(inc))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub status: Option<IncidentStatus>,
    pub grade: Option<Grade>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub comment: Option<String>,
}

/// Statuses an organization's own people may set: they acknowledge, work on, and report the
/// remediation of their incidents; notifying, verifying and closing are the platform's.
const RESPONDER_STATUSES: [IncidentStatus; 3] = [
    IncidentStatus::Acknowledged,
    IncidentStatus::Remediating,
    IncidentStatus::Remediated,
];

pub async fn patch(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
    body: Result<Json<Patch>, JsonRejection>,
) -> ApiResult<Json<Incident>> {
    let Json(p) = body?;
    let manages = p.grade.is_some()
        || p.title.is_some()
        || p.description.is_some()
        || p.category.is_some()
        || p.subcategory.is_some();
    if manages || p.status.is_some_and(|s| !RESPONDER_STATUSES.contains(&s)) {
        auth.require(Action::ManageIncidents)?;
    } else {
        auth.require(Action::RespondIncidents)?;
    }
    if let Some(c) = &p.comment
        && (c.trim().is_empty() || c.chars().count() > 10_000)
    {
        return Err(ApiError::invalid(
            "comment",
            "must be 1 to 10000 characters",
        ));
    }
    let scope = auth.principal.scope();
    // A status change must be a legal workflow step from the status read here; the store
    // applies it only if that status still holds.
    let mut step = None;
    let mut expect_status = None;
    if let Some(requested) = p.status {
        let current = st
            .store
            .get_incident(scope, id)
            .await?
            .ok_or_else(|| ApiError::not_found("incident"))?;
        step = crate::workflow::step_to(&auth.principal, &current, requested)?;
        expect_status = Some(current.status);
    }
    let change = IncidentUpdate {
        expect_status,
        status: p.status,
        grade: p.grade,
        title: p.title,
        description: p.description,
        category: p.category,
        subcategory: p
            .subcategory
            .map(|s| if s.is_empty() { None } else { Some(s) }),
        comment: p.comment,
    };
    let inc = st
        .store
        .update_incident(scope, id, change, &auth.principal.actor())
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    audit_change(
        &st,
        &auth,
        &crate::workflow::audit_action(step.as_ref()),
        format!("incident/{id}"),
        Some(inc.spec.org_id),
        inc.status.as_str(),
    )
    .await;
    if step
        .as_ref()
        .is_some_and(|s| s.to.status() == IncidentStatus::Notified)
    {
        crate::notify::incident_notified(&st, &inc).await;
    }
    Ok(Json(inc))
}
