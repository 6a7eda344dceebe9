//! `/api/v1/users`, `/api/v1/auth/*`

use super::{Created, audit_change};
use crate::auth::{self, Auth, LoginError};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_model::{Action, Locale, NewUser, PrincipalKind, User, UserId};

pub async fn list(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    if !auth.principal.allows(Action::ReadAudit) {
        auth.require(Action::ManageUsers)?;
    }
    let users = st.store.list_users(auth.principal.scope()).await?;
    Ok(super::page_json(users, None))
}

pub async fn me(auth: Auth) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": auth.principal.name,
        "role": auth.principal.role,
        "org_id": auth.principal.org_id,
        "locale": auth.principal.locale,
        "kind": auth.principal.kind,
        "csrf_token": auth.csrf_token(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(flatten)]
    pub user: NewUser,
    /// Omit to have one generated; it is returned once.
    pub password: Option<String>,
}

pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Created<serde_json::Value>> {
    auth.require(Action::ManageUsers)?;
    let Json(raw) = body?;
    // `deny_unknown_fields` does not combine with `flatten`, so check the keys here.
    if let Some(obj) = raw.as_object() {
        for k in obj.keys() {
            if ![
                "username",
                "display_name",
                "role",
                "org_id",
                "locale",
                "password",
            ]
            .contains(&k.as_str())
            {
                return Err(ApiError::invalid(k, "unknown field"));
            }
        }
    }
    let req: CreateUser = serde_json::from_value(raw)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()))?;
    req.user.validate()?;
    if let Some(org) = req.user.org_id
        && st
            .store
            .get_org(auth.principal.scope(), org)
            .await?
            .is_none()
    {
        return Err(ApiError::invalid("org_id", "organization not found"));
    }
    let (password, generated) = match req.password {
        Some(p) => {
            vigil_crypto::check_password_policy(&p)
                .map_err(|m| ApiError::invalid("password", m))?;
            (p, false)
        }
        None => (vigil_crypto::new_password(), true),
    };
    let hash = hash(password.clone()).await?;
    let user = st.store.create_user(req.user, hash).await?;
    audit_change(
        &st,
        &auth,
        "user.create",
        format!("user/{}", user.spec.username),
        user.spec.org_id,
        user.spec.role.as_str(),
    )
    .await;
    let mut body = serde_json::to_value(&user).map_err(|_| ApiError::internal())?;
    if generated && let Some(obj) = body.as_object_mut() {
        obj.insert("password".into(), serde_json::Value::String(password));
    }
    Ok(Created(body))
}

async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || vigil_crypto::hash_password(&password))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub disabled: Option<bool>,
    pub locale: Option<Locale>,
}

pub async fn patch(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<UserId>,
    body: Result<Json<Patch>, JsonRejection>,
) -> ApiResult<Json<User>> {
    let Json(p) = body?;
    let is_self = auth.principal.kind == PrincipalKind::User(id);
    if p.disabled.is_some() || !is_self {
        auth.require(Action::ManageUsers)?;
    }
    let scope = auth.principal.scope();
    let visible = st
        .store
        .list_users(scope)
        .await?
        .into_iter()
        .any(|u| u.id == id);
    if !visible && !is_self {
        return Err(ApiError::not_found("user"));
    }
    if let Some(d) = p.disabled {
        if is_self && d {
            return Err(ApiError::invalid(
                "disabled",
                "you cannot disable your own account",
            ));
        }
        st.store.set_user_disabled(id, d).await?;
        if d {
            st.store.delete_user_sessions(id).await?;
        }
    }
    if let Some(l) = p.locale {
        st.store.set_user_locale(id, l).await?;
    }
    let user = st
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    audit_change(
        &st,
        &auth,
        "user.update",
        format!("user/{}", user.spec.username),
        user.spec.org_id,
        &format!(
            "disabled={:?} locale={:?}",
            p.disabled,
            p.locale.map(|l| l.as_str())
        ),
    )
    .await;
    Ok(Json(user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Required when changing one's own password.
    pub current_password: Option<String>,
    pub new_password: String,
}

pub async fn set_password(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<UserId>,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let Json(p) = body?;
    let is_self = auth.principal.kind == PrincipalKind::User(id);
    if is_self {
        let user = st
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        let (_, stored) = st
            .store
            .find_user_for_login(&user.spec.username)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        let current = p.current_password.clone().unwrap_or_default();
        let ok = tokio::task::spawn_blocking(move || {
            vigil_crypto::verify_password(&current, &stored).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if !ok {
            return Err(ApiError::invalid("current_password", "does not match"));
        }
    } else {
        auth.require(Action::ManageUsers)?;
        if !st
            .store
            .list_users(auth.principal.scope())
            .await?
            .iter()
            .any(|u| u.id == id)
        {
            return Err(ApiError::not_found("user"));
        }
    }
    vigil_crypto::check_password_policy(&p.new_password)
        .map_err(|m| ApiError::invalid("new_password", m))?;
    let h = hash(p.new_password).await?;
    if !st.store.set_password(id, h).await? {
        return Err(ApiError::not_found("user"));
    }
    st.store.delete_user_sessions(id).await?;
    audit_change(&st, &auth, "user.password", format!("user/{id}"), None, "").await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// JSON login for scripts and the browser: sets the session cookie and returns the CSRF token.
pub async fn login(
    State(st): State<AppState>,
    auth::ClientAddr(client): auth::ClientAddr,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(p) = body?;
    match auth::login(&st, &p.username, &p.password, &client).await {
        Ok(done) => {
            let body = serde_json::json!({
                "user": done.user,
                "csrf_token": done.session.csrf_token,
            });
            Ok((
                [(header::SET_COOKIE, auth::session_cookie(&st, &done.secret))],
                Json(body),
            )
                .into_response())
        }
        Err(LoginError::Throttled(secs)) => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("too many failed logins; try again in {secs} s"),
            ),
        )
            .into_response()),
        Err(LoginError::BadCredentials) => {
            Err(ApiError::unauthorized("wrong user name or password"))
        }
        Err(LoginError::Store(e)) => Err(e),
    }
}

pub async fn logout(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    if let auth::Via::Session(s) = &auth.via {
        st.store.delete_session(&s.id_hash).await?;
        audit_change(
            &st,
            &auth,
            "auth.logout",
            format!("user/{}", auth.principal.name),
            auth.principal.org_id,
            "",
        )
        .await;
    }
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie())],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}
