//! `/api/v1/alerts`

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use vigil_model::{
    Action, Alert, AlertId, AlertSource, AlertStatus, NewAlert, OrgId, Severity, Timestamp,
};
use vigil_store::AlertQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub org_id: Option<OrgId>,
    pub status: Option<AlertStatus>,
    pub severity: Option<Severity>,
    pub source: Option<AlertSource>,
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
    auth.require(Action::ReadAlerts)?;
    let Query(p) = params?;
    let q = AlertQuery {
        org_id: p.org_id,
        status: p.status,
        severity: p.severity,
        source: p.source,
        incident_id: None,
        from: p.from,
        to: p.to,
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
    };
    let page = st.store.list_alerts(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AlertId>,
) -> ApiResult<Json<Alert>> {
    auth.require(Action::ReadAlerts)?;
    st.store
        .get_alert(auth.principal.scope(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("alert"))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<NewAlert>, JsonRejection>,
) -> ApiResult<Created<Alert>> {
    auth.require(Action::CreateAlerts)?;
    let Json(spec) = body?;
    auth.require_org(spec.org_id)?;
    spec.validate()?;
    let mut alert = st
        .store
        .create_alerts(vec![spec])
        .await?
        .pop()
        .ok_or_else(ApiError::internal)?;
    // The alert is stored whatever aggregation does: its failures are logged and counted
    // (vigil_incident_aggregation_errors_total), and the answer is the alert as it is now.
    if let Some(agg) = st.aggregator.get() {
        let summary = agg.aggregate(std::slice::from_ref(&alert)).await;
        if summary.aggregated > 0
            && let Ok(Some(now)) = st.store.get_alert(auth.principal.scope(), alert.id).await
        {
            alert = now;
        }
    }
    audit_change(
        &st,
        &auth,
        "alert.create",
        format!("alert/{}", alert.id),
        Some(alert.spec.org_id),
        &alert.spec.title,
    )
    .await;
    Ok(Created(alert))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub status: AlertStatus,
}

pub async fn patch(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AlertId>,
    body: Result<Json<Patch>, JsonRejection>,
) -> ApiResult<Json<Alert>> {
    auth.require(Action::TriageAlerts)?;
    let Json(p) = body?;
    if p.status == AlertStatus::Escalated {
        return Err(ApiError::invalid(
            "status",
            "an alert is escalated by opening an incident with it",
        ));
    }
    let alert = st
        .store
        .set_alert_status(auth.principal.scope(), id, p.status, None)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    audit_change(
        &st,
        &auth,
        "alert.status",
        format!("alert/{id}"),
        Some(alert.spec.org_id),
        p.status.as_str(),
    )
    .await;
    Ok(Json(alert))
}
