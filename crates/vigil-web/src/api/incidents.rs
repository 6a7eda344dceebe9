//! `/api/v1/incidents`

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
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
    let page = st.store.list_incidents(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<Incident>> {
    auth.require(Action::ReadIncidents)?;
    st.store
        .get_incident(auth.principal.scope(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("incident"))
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
    let change = IncidentUpdate {
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
        .update_incident(auth.principal.scope(), id, change, &auth.principal.actor())
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    audit_change(
        &st,
        &auth,
        "incident.update",
        format!("incident/{id}"),
        Some(inc.spec.org_id),
        inc.status.as_str(),
    )
    .await;
    Ok(Json(inc))
}
