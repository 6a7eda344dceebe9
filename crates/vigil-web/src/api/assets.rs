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
use vigil_model::{
    Action, Asset, AssetId, AssetKind, AuditOutcome, Importance, NewAsset, OrgId, Principal,
};
use vigil_store::AssetQuery;

/// The importance below which an organization user may not register an asset.
pub const UNGRADED_IMPORTANCE: Importance = Importance::Medium;

/// The lowest importance `p` may give an asset that now has `before` (`None`: a new one).
/// Platform staff may set any; an organization user may raise the importance of its assets
/// but not lower it (below the stored value, or below [`UNGRADED_IMPORTANCE`] for a new one).
pub fn importance_floor(p: &Principal, before: Option<Importance>) -> Importance {
    if p.allows(Action::GradeAssets) {
        Importance::Low
    } else {
        before.unwrap_or(UNGRADED_IMPORTANCE)
    }
}

/// Who owns which fields of an asset. An organization user keeps its own inventory (name,
/// kind, addresses, vendor, model, firmware, software, responsible person, tags); the
/// platform ([`Action::GradeAssets`]) owns two things:
/// - lowering `importance`: it is an input of incident grading (CII/MLPS/importance rules of
///   vigil-incident), so an organization could lower the grade, the reporting duty and the
///   deadlines of its own incidents. Raising it has no such conflict and is allowed.
/// - `org_id`: moving an asset would hand it, and what is attributed to it, to another
///   organization. (An organization user naming another organization gets the 404 of any
///   organization outside its scope first; this check is the second line.)
///
/// (An organization's MLPS level and CII flag are on the organization, which organization
/// users cannot change at all.) `before` is the stored asset of an update, `None` for a new
/// one. The refusal is a 403 naming the field.
pub fn check_platform_fields(
    p: &Principal,
    before: Option<&NewAsset>,
    spec: &NewAsset,
) -> Result<(), ApiError> {
    if p.allows(Action::GradeAssets) {
        return Ok(());
    }
    let refuse = |field: &str, message: &str| {
        metrics::counter!("vigil_access_denied_total").increment(1);
        ApiError::forbidden(format!("{field}: {message}"))
            .with_details(serde_json::json!({ "field": field }))
    };
    if let Some(b) = before
        && b.org_id != spec.org_id
    {
        return Err(refuse(
            "org_id",
            "the organization of an asset is set by the platform; an organization user may not move it",
        ));
    }
    let floor = importance_floor(p, before.map(|b| b.importance));
    if spec.importance < floor {
        return Err(refuse(
            "importance",
            &format!(
                "lowering the importance is the platform's (it feeds incident grading); an organization user may set '{}' or higher",
                floor.as_str()
            ),
        ));
    }
    Ok(())
}

/// Audits a refused change of platform-owned fields (who tried to regrade or move what).
pub async fn audit_refused(
    st: &AppState,
    p: &Principal,
    action: &str,
    object: String,
    org: OrgId,
    err: &ApiError,
) {
    crate::auth::audit(
        st,
        &p.actor(),
        action,
        object,
        AuditOutcome::Denied,
        Some(org),
        err.message.clone(),
    )
    .await;
}

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
    create_asset(&st, &auth.principal, spec).await.map(Created)
}

pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AssetId>,
    body: Result<Json<NewAsset>, JsonRejection>,
) -> ApiResult<Json<Asset>> {
    auth.require(Action::WriteAssets)?;
    let Json(spec) = body?;
    update_asset(&st, &auth.principal, id, spec).await.map(Json)
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<AssetId>,
) -> ApiResult<axum::http::StatusCode> {
    auth.require(Action::WriteAssets)?;
    delete_asset(&st, &auth.principal, id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn require_write(p: &Principal) -> Result<(), ApiError> {
    if p.allows(Action::WriteAssets) {
        Ok(())
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(ApiError::forbidden(format!(
            "role {} may not change assets",
            p.role.as_str()
        )))
    }
}

async fn audit_success(st: &AppState, p: &Principal, action: &str, asset: &Asset) {
    crate::auth::audit(
        st,
        &p.actor(),
        action,
        format!("asset/{}", asset.id),
        AuditOutcome::Success,
        Some(asset.spec.org_id),
        asset.spec.name.clone(),
    )
    .await;
}

/// Creates an asset for the principal (the API's POST and the UI's form): the organization
/// within the scope (else 404), a valid spec (else 422), platform-owned fields untouched
/// (else 403, audited); the creation is audited as `asset.create`.
pub async fn create_asset(st: &AppState, p: &Principal, spec: NewAsset) -> ApiResult<Asset> {
    require_write(p)?;
    let scope = p.scope();
    if !scope.allows_org(spec.org_id) || st.store.get_org(scope, spec.org_id).await?.is_none() {
        return Err(ApiError::not_found("organization"));
    }
    spec.validate()?;
    if let Err(e) = check_platform_fields(p, None, &spec) {
        audit_refused(st, p, "asset.create", "asset/new".into(), spec.org_id, &e).await;
        return Err(e);
    }
    let mut created = st.store.create_assets(scope, vec![spec]).await?;
    let asset = created.pop().ok_or_else(ApiError::internal)?;
    audit_success(st, p, "asset.create", &asset).await;
    Ok(asset)
}

/// Replaces an asset for the principal: another organization's asset is 404 whatever the
/// body says; then as [`create_asset`], audited as `asset.update`.
pub async fn update_asset(
    st: &AppState,
    p: &Principal,
    id: AssetId,
    spec: NewAsset,
) -> ApiResult<Asset> {
    require_write(p)?;
    let scope = p.scope();
    let before = st
        .store
        .get_asset(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("asset"))?;
    // An organization outside the scope looks absent, as in every other request (for an
    // organization user this is also what refuses moving its asset elsewhere).
    if !scope.allows_org(spec.org_id) || st.store.get_org(scope, spec.org_id).await?.is_none() {
        return Err(ApiError::not_found("organization"));
    }
    spec.validate()?;
    if let Err(e) = check_platform_fields(p, Some(&before.spec), &spec) {
        audit_refused(
            st,
            p,
            "asset.update",
            format!("asset/{id}"),
            before.spec.org_id,
            &e,
        )
        .await;
        return Err(e);
    }
    let asset = st
        .store
        .update_asset(scope, id, spec)
        .await?
        .ok_or_else(|| ApiError::not_found("asset"))?;
    audit_success(st, p, "asset.update", &asset).await;
    Ok(asset)
}

/// Deletes an asset of the principal's scope (404 otherwise), audited as `asset.delete`.
pub async fn delete_asset(st: &AppState, p: &Principal, id: AssetId) -> ApiResult<Asset> {
    require_write(p)?;
    let scope = p.scope();
    let asset = st
        .store
        .get_asset(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("asset"))?;
    if !st.store.delete_asset(scope, id).await? {
        return Err(ApiError::not_found("asset"));
    }
    audit_success(st, p, "asset.delete", &asset).await;
    Ok(asset)
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
            } else if let Err(e) = check_platform_fields(&auth.principal, None, spec) {
                row.outcome = RowOutcome::Error(e.message);
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AssetKind, Locale, PrincipalKind, Role};

    fn principal(role: Role, org: OrgId) -> Principal {
        Principal {
            kind: PrincipalKind::System,
            name: "t".into(),
            role,
            org_id: (role == Role::OrgUser).then_some(org),
            locale: Locale::En,
        }
    }

    fn spec(org: OrgId, importance: Importance) -> NewAsset {
        NewAsset {
            org_id: org,
            name: "HMI".into(),
            kind: AssetKind::Hmi,
            importance,
            ips: vec![],
            cidrs: vec![],
            hostnames: vec![],
            domains: vec![],
            urls: vec![],
            macs: vec![],
            vendor: None,
            model: None,
            firmware: None,
            software: vec![],
            responsible: None,
            tags: vec![],
        }
    }

    fn field(r: Result<(), ApiError>) -> Option<String> {
        r.err().map(|e| {
            assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
            e.details["field"].as_str().unwrap_or_default().to_string()
        })
    }

    #[test]
    fn organization_users_may_raise_but_not_lower_the_importance_nor_move_assets() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let officer = principal(Role::OrgUser, a);
        let stored = spec(a, Importance::High);
        let check = |before: Option<&NewAsset>, s: &NewAsset| {
            field(check_platform_fields(&officer, before, s))
        };
        assert_eq!(check(Some(&stored), &spec(a, Importance::High)), None);
        assert_eq!(check(Some(&stored), &spec(a, Importance::Critical)), None);
        assert_eq!(
            check(Some(&stored), &spec(a, Importance::Medium)).as_deref(),
            Some("importance")
        );
        assert_eq!(
            check(Some(&stored), &spec(b, Importance::High)).as_deref(),
            Some("org_id")
        );
        // New assets: the default importance or higher.
        assert_eq!(check(None, &spec(a, Importance::Medium)), None);
        assert_eq!(
            check(None, &spec(a, Importance::Low)).as_deref(),
            Some("importance")
        );
        assert_eq!(
            importance_floor(&officer, Some(Importance::High)),
            Importance::High
        );
    }

    #[test]
    fn staff_grade_and_move_freely() {
        let (a, b) = (OrgId::new(), OrgId::new());
        for role in [Role::Analyst, Role::PlatformAdmin] {
            let p = principal(role, a);
            let stored = spec(a, Importance::Critical);
            assert!(check_platform_fields(&p, Some(&stored), &spec(b, Importance::Low)).is_ok());
            assert_eq!(
                importance_floor(&p, Some(Importance::Critical)),
                Importance::Low
            );
        }
    }
}
