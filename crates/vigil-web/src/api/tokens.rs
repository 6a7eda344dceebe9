//! `/api/v1/tokens`: machine credentials, shown once, stored hashed.

use super::{Created, audit_change};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use vigil_model::{Action, ApiToken, OrgId, Role, Timestamp, TokenId};

pub async fn list(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ManageTokens)?;
    let tokens = st.store.list_tokens(auth.principal.scope()).await?;
    Ok(super::page_json(tokens, None))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub org_id: Option<OrgId>,
    /// Lifetime in days; omit for a token that does not expire.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<CreateToken>, JsonRejection>,
) -> ApiResult<Created<serde_json::Value>> {
    auth.require(Action::ManageTokens)?;
    let Json(req) = body?;
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    vigil_model::user::validate_role_org(req.role, req.org_id)?;
    if let Some(org) = req.org_id
        && st
            .store
            .get_org(auth.principal.scope(), org)
            .await?
            .is_none()
    {
        return Err(ApiError::invalid("org_id", "organization not found"));
    }
    let now = Timestamp::now();
    let expires_at = match req.expires_in_days {
        None => None,
        Some(0) | Some(3651..) => {
            return Err(ApiError::invalid("expires_in_days", "must be 1 to 3650"));
        }
        Some(d) => Some(
            now.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(d)))
                .map_err(|_| ApiError::invalid("expires_in_days", "out of range"))?,
        ),
    };
    let secret = vigil_crypto::new_secret("vgl_");
    let token = ApiToken {
        id: TokenId::new(),
        name: req.name.trim().to_string(),
        role: req.role,
        org_id: req.org_id,
        created_by: auth.principal.actor(),
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    st.store
        .create_token(token.clone(), vigil_crypto::secret_hash(&secret))
        .await?;
    audit_change(
        &st,
        &auth,
        "token.create",
        format!("token/{}", token.id),
        token.org_id,
        &format!("{} role={}", token.name, token.role.as_str()),
    )
    .await;
    let mut body = serde_json::to_value(&token).map_err(|_| ApiError::internal())?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("secret".into(), serde_json::Value::String(secret));
    }
    Ok(Created(body))
}

pub async fn revoke(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<TokenId>,
) -> ApiResult<StatusCode> {
    auth.require(Action::ManageTokens)?;
    if !st
        .store
        .revoke_token(auth.principal.scope(), id, Timestamp::now())
        .await?
    {
        return Err(ApiError::not_found("token"));
    }
    audit_change(&st, &auth, "token.revoke", format!("token/{id}"), None, "").await;
    Ok(StatusCode::NO_CONTENT)
}
