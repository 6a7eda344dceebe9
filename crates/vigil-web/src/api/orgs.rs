//! `/api/v1/organizations`

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use vigil_model::{Action, NewOrganization, OrgId, Organization};
use vigil_store::OrgQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub q: Option<String>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub mlps_level: Option<u8>,
    pub cii: Option<bool>,
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadDirectory)?;
    let Query(p) = params?;
    let q = OrgQuery {
        text: p.q,
        sector: p.sector,
        region_prefix: p.region,
        mlps_level: p.mlps_level,
        cii: p.cii,
    };
    let items = st.store.list_orgs(auth.principal.scope(), &q).await?;
    Ok(page_json(items, None))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<OrgId>,
) -> ApiResult<Json<Organization>> {
    auth.require(Action::ReadDirectory)?;
    st.store
        .get_org(auth.principal.scope(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("organization"))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<NewOrganization>, JsonRejection>,
) -> ApiResult<Created<Organization>> {
    auth.require(Action::WriteOrganizations)?;
    let Json(spec) = body?;
    spec.validate()?;
    let org = st.store.create_org(spec).await?;
    audit_change(
        &st,
        &auth,
        "org.create",
        format!("organization/{}", org.id),
        Some(org.id),
        &org.spec.name,
    )
    .await;
    Ok(Created(org))
}

pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<OrgId>,
    body: Result<Json<NewOrganization>, JsonRejection>,
) -> ApiResult<Json<Organization>> {
    auth.require(Action::WriteOrganizations)?;
    let Json(spec) = body?;
    spec.validate()?;
    let org = st
        .store
        .update_org(auth.principal.scope(), id, spec)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    audit_change(
        &st,
        &auth,
        "org.update",
        format!("organization/{id}"),
        Some(id),
        &org.spec.name,
    )
    .await;
    Ok(Json(org))
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<OrgId>,
) -> ApiResult<axum::http::StatusCode> {
    auth.require(Action::WriteOrganizations)?;
    if !st.store.delete_org(auth.principal.scope(), id).await? {
        return Err(ApiError::not_found("organization"));
    }
    audit_change(
        &st,
        &auth,
        "org.delete",
        format!("organization/{id}"),
        Some(id),
        "",
    )
    .await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
