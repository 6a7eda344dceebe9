//! `/api/v1/assets`, including bulk import from CSV or JSON with per-row results.

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::import::{RowOutcome, parse_assets};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use vigil_model::{Action, Asset, AssetId, AssetKind, Importance, NewAsset, OrgId};
use vigil_store::AssetQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub org_id: Option<OrgId>,
    pub kind: Option<AssetKind>,
    pub industrial: Option<bool>,
    pub importance: Option<Importance>,
    pub q: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadDirectory)?;
    let Query(p) = params?;
    let q = AssetQuery {
        org_id: p.org_id,
        kind: p.kind,
        industrial: p.industrial,
        importance: p.importance,
        text: p.q,
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
    };
    let page = st.store.list_assets(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<Json<Asset>> {
    auth.require(Action::ReadDirectory)?;
    st.store
        .get_asset(auth.principal.scope(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("asset"))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<NewAsset>, JsonRejection>,
) -> ApiResult<Created<Asset>> {
    auth.require(Action::WriteAssets)?;
    let Json(spec) = body?;
    auth.require_org(spec.org_id)?;
    spec.validate()?;
    let mut created = st
        .store
        .create_assets(auth.principal.scope(), vec![spec])
        .await?;
    let asset = created.pop().ok_or_else(ApiError::internal)?;
    audit_change(
        &st,
        &auth,
        "asset.create",
        format!("asset/{}", asset.id),
        Some(asset.spec.org_id),
        &asset.spec.name,
    )
    .await;
    Ok(Created(asset))
}

pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AssetId>,
    body: Result<Json<NewAsset>, JsonRejection>,
) -> ApiResult<Json<Asset>> {
    auth.require(Action::WriteAssets)?;
    let Json(spec) = body?;
    auth.require_org(spec.org_id)?;
    spec.validate()?;
    let asset = st
        .store
        .update_asset(auth.principal.scope(), id, spec)
        .await?
        .ok_or_else(|| ApiError::not_found("asset"))?;
    audit_change(
        &st,
        &auth,
        "asset.update",
        format!("asset/{id}"),
        Some(asset.spec.org_id),
        &asset.spec.name,
    )
    .await;
    Ok(Json(asset))
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<axum::http::StatusCode> {
    auth.require(Action::WriteAssets)?;
    let scope = auth.principal.scope();
    let asset = st
        .store
        .get_asset(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("asset"))?;
    if !st.store.delete_asset(scope, id).await? {
        return Err(ApiError::not_found("asset"));
    }
    audit_change(
        &st,
        &auth,
        "asset.delete",
        format!("asset/{id}"),
        Some(asset.spec.org_id),
        &asset.spec.name,
    )
    .await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Default organization for rows that do not name one.
    pub org_id: Option<OrgId>,
    /// Check every row and report, store nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Bulk import: `text/csv` (header row, see `import.rs`) or `application/json` (an array of
/// assets). Every row is checked; valid rows are stored together; every failed row is reported
/// with its number and the reason, and none of it is stored.
pub async fn import(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ImportParams>, QueryRejection>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::WriteAssets)?;
    let Query(p) = params?;
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let default_org = p.org_id.or(auth.principal.org_id);
    let mut rows = parse_assets(ctype, &body, default_org).map_err(ApiError::bad_request)?;
    // Scope and existence of each row's organization.
    let scope = auth.principal.scope();
    let mut known: std::collections::HashMap<OrgId, bool> = Default::default();
    for row in rows.iter_mut() {
        if let RowOutcome::Valid(spec) = &row.outcome {
            let org = spec.org_id;
            let ok = match known.get(&org) {
                Some(ok) => *ok,
                None => {
                    let ok = scope.allows_org(org) && st.store.get_org(scope, org).await?.is_some();
                    known.insert(org, ok);
                    ok
                }
            };
            if !ok {
                row.outcome = RowOutcome::Error("org_id: organization not found".into());
            }
        }
    }
    let valid: Vec<NewAsset> = rows
        .iter()
        .filter_map(|r| match &r.outcome {
            RowOutcome::Valid(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let failed = rows.len() - valid.len();
    let mut ids = Vec::new();
    if !p.dry_run && !valid.is_empty() {
        let created = st.store.create_assets(scope, valid.clone()).await?;
        ids = created.iter().map(|a| a.id).collect();
        audit_change(
            &st,
            &auth,
            "asset.import",
            format!("assets/{}", created.len()),
            default_org,
            &format!("{} created, {failed} rows failed", created.len()),
        )
        .await;
    }
    let mut next_id = ids.into_iter();
    let results: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| match r.outcome {
            RowOutcome::Valid(_) => {
                let id = next_id.next();
                serde_json::json!({ "row": r.row, "status": if p.dry_run { "valid" } else { "created" }, "id": id })
            }
            RowOutcome::Error(e) => serde_json::json!({ "row": r.row, "status": "rejected", "error": e }),
        })
        .collect();
    let ok = results.len() - failed;
    Ok(Json(serde_json::json!({
        "dry_run": p.dry_run,
        "created": if p.dry_run { 0 } else { ok },
        "valid": ok,
        "rejected": failed,
        "rows": results,
    })))
}
