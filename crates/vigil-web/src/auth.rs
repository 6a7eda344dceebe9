//! Authentication and the request principal.
//!
//! Two credentials: API tokens (`Authorization: Bearer vgl_…`) for machines, and session
//! cookies for browsers. Both resolve to a [`Principal`]; handlers then ask
//! [`Auth::require`] for the action they perform, and pass [`Principal::scope`] to the store.
//!
//! CSRF, for cookie-authenticated requests only (a bearer token is never sent by a browser on
//! its own): the session cookie is `SameSite=Lax` and `HttpOnly`; unsafe methods must carry the
//! session's CSRF token (the `X-CSRF-Token` header for API calls, a `csrf` form field for
//! pages) and must not come from another site (`Origin` must match `Host`, and
//! `Sec-Fetch-Site: cross-site` is refused). Written here rather than taken from a crate
//! because it is a few lines over our own session table, and the available CSRF crates bring
//! their own session or cookie-signing machinery.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::net::SocketAddr;
use vigil_model::{
    Action, AuditOutcome, NewAuditRecord, OrgId, Principal, PrincipalKind, Timestamp, User,
};
use vigil_store::Session;

pub const SESSION_COOKIE: &str = "vigil_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Token,
    Session(Session),
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    pub via: Via,
    /// Client address, for the audit log.
    pub client: String,
}

impl Auth {
    /// Refuses with 403 unless the principal's role may perform `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.principal.allows(action) {
            Ok(())
        } else {
            metrics::counter!("vigil_access_denied_total").increment(1);
            Err(ApiError::forbidden(format!(
                "role {} may not {}",
                self.principal.role.as_str(),
                action_name(action)
            )))
        }
    }

    /// Refuses with 404 when `org` is outside the principal's scope: a record of another
    /// organization must look exactly like a missing one.
    pub fn require_org(&self, org: OrgId) -> Result<(), ApiError> {
        if self.principal.scope().allows_org(org) {
            Ok(())
        } else {
            Err(ApiError::not_found("organization"))
        }
    }

    pub fn csrf_token(&self) -> Option<&str> {
        match &self.via {
            Via::Session(s) => Some(&s.csrf_token),
            Via::Token => None,
        }
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::ReadDirectory => "read the directory",
        Action::WriteOrganizations => "change organizations",
        Action::WriteAssets => "change assets",
        Action::GradeAssets => "grade assets or move them to another organization",
        Action::ReadEvents => "read events",
        Action::IngestEvents => "ingest events",
        Action::ReadAlerts => "read alerts",
        Action::CreateAlerts => "raise alerts",
        Action::TriageAlerts => "triage alerts",
        Action::ReadIncidents => "read incidents",
        Action::ManageIncidents => "manage incidents",
        Action::RespondIncidents => "respond to incidents",
        Action::ManageUsers => "manage users",
        Action::ManageTokens => "manage API tokens",
        Action::ReadAudit => "read the audit log",
        Action::ReadWarnings => "read warnings",
        Action::IssueWarnings => "issue warnings",
        Action::AcknowledgeWarnings => "acknowledge warnings",
    }
}

/// The client address from the connection, or `unknown` (in-process tests).
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client address as an extractor (never fails).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts)))
    }
}

/// The value of a cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses cross-site unsafe requests made with a session cookie.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(ApiError::forbidden("cross-site request refused"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if origin == "null" || origin_host != host {
            return Err(ApiError::forbidden(
                "request Origin does not match this site",
            ));
        }
    }
    Ok(())
}

/// Constant-time comparison of two secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Resolves a bearer token into a principal.
async fn token_principal(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = vigil_crypto::secret_hash(secret);
    let token = state.store.find_token(&hash).await?;
    let now = Timestamp::now();
    let Some(token) = token.filter(|t| t.is_active(now)) else {
        metrics::counter!("vigil_auth_failures_total", "kind" => "token").increment(1);
        return Err(ApiError::unauthorized(
            "API token is unknown, revoked or expired",
        ));
    };
    // Recording every use would make each request a write; once a minute is enough.
    if token
        .last_used_at
        .is_none_or(|t| now.duration_since(t).as_secs() >= 60)
    {
        state.store.touch_token(token.id, now).await?;
    }
    Ok(Principal {
        kind: PrincipalKind::Token(token.id),
        name: token.name,
        role: token.role,
        org_id: token.org_id,
        locale: vigil_model::Locale::default(),
    })
}

/// Resolves a session cookie into the session and its user, if both are still valid.
pub async fn session_user(
    state: &AppState,
    secret: &str,
) -> Result<Option<(Session, User)>, ApiError> {
    let hash = vigil_crypto::secret_hash(secret);
    let Some(session) = state.store.get_session(&hash).await? else {
        return Ok(None);
    };
    if session.expires_at <= Timestamp::now() {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(user) = state.store.get_user(session.user_id).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    Ok(Some((session, user)))
}

pub fn user_principal(user: &User) -> Principal {
    Principal {
        kind: PrincipalKind::User(user.id),
        name: user.spec.username.clone(),
        role: user.spec.role,
        org_id: user.spec.org_id,
        locale: user.spec.locale,
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_addr(parts);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| ApiError::unauthorized("Authorization header is not text"))?;
            let Some(secret) = value.strip_prefix("Bearer ") else {
                return Err(ApiError::unauthorized(
                    "Authorization must be 'Bearer <token>'",
                ));
            };
            let principal = token_principal(state, secret.trim()).await?;
            return Ok(Auth {
                principal,
                via: Via::Token,
                client,
            });
        }
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            if let Some((session, user)) = session_user(state, secret).await? {
                if is_unsafe(&parts.method) {
                    check_same_origin(&parts.headers)?;
                    let sent = parts
                        .headers
                        .get(CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !secrets_equal(sent, &session.csrf_token) {
                        return Err(ApiError::forbidden(
                            "missing or wrong X-CSRF-Token header for a cookie-authenticated request",
                        ));
                    }
                }
                return Ok(Auth {
                    principal: user_principal(&user),
                    via: Via::Session(session),
                    client,
                });
            }
            return Err(ApiError::unauthorized("session expired; log in again"));
        }
        metrics::counter!("vigil_auth_failures_total", "kind" => "missing").increment(1);
        Err(ApiError::unauthorized(
            "authentication required: send 'Authorization: Bearer <token>' or log in",
        ))
    }
}

/// Writes an audit record; a failure to write it is logged and counted, not hidden.
pub async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    object: String,
    outcome: AuditOutcome,
    org_id: Option<OrgId>,
    detail: String,
) {
    let rec = NewAuditRecord {
        actor: actor.to_string(),
        action: action.to_string(),
        object,
        outcome,
        org_id,
        detail,
    };
    if let Err(e) = state.store.append_audit(rec).await {
        metrics::counter!("vigil_audit_write_failures_total").increment(1);
        tracing::error!(error = %e, action, "audit record could not be written");
    }
}

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// Too many failures; try again after this many seconds.
    Throttled(u64),
    BadCredentials,
    Store(ApiError),
}

/// A successful login: the new session and its cookie secret.
pub struct LoggedIn {
    pub user: User,
    pub secret: String,
    pub session: Session,
}

/// Checks a user name and password (rate-limited per name and per client address), opens a
/// session, and audits the outcome. Unknown users cost the same argon2 work as known ones.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    client: &str,
) -> Result<LoggedIn, LoginError> {
    let user_key = format!("user:{}", username.to_lowercase());
    let ip_key = format!("ip:{client}");
    let keys = [user_key.as_str(), ip_key.as_str()];
    if let Some(wait) = state.limiter.check(&keys) {
        metrics::counter!("vigil_login_throttled_total").increment(1);
        return Err(LoginError::Throttled(wait.as_secs().max(1)));
    }
    let found = state
        .store
        .find_user_for_login(username)
        .await
        .map_err(|e| LoginError::Store(e.into()))?;
    let (ok, user) = match found {
        Some((user, hash)) => {
            let ok = tokio::task::spawn_blocking({
                let password = password.to_string();
                move || vigil_crypto::verify_password(&password, &hash).unwrap_or(false)
            })
            .await
            .unwrap_or(false);
            (ok && !user.disabled, Some(user))
        }
        None => {
            // Same cost as a real check, so timing does not reveal which names exist.
            let password = password.to_string();
            let _ =
                tokio::task::spawn_blocking(move || vigil_crypto::hash_password(&password)).await;
            (false, None)
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        state.limiter.fail(&keys);
        metrics::counter!("vigil_auth_failures_total", "kind" => "password").increment(1);
        audit(
            state,
            &format!("user:{username}"),
            "auth.login",
            format!("user/{username}"),
            AuditOutcome::Denied,
            None,
            format!("client {client}"),
        )
        .await;
        return Err(LoginError::BadCredentials);
    };
    state.limiter.succeed(&keys);
    let secret = vigil_crypto::new_secret("vgs_");
    let now = Timestamp::now();
    let ttl = jiff::SignedDuration::try_from(state.config.session_ttl)
        .unwrap_or(jiff::SignedDuration::from_hours(8));
    let session = Session {
        id_hash: vigil_crypto::secret_hash(&secret),
        user_id: user.id,
        csrf_token: vigil_crypto::new_secret(""),
        created_at: now,
        expires_at: now.saturating_add(ttl).unwrap_or(now),
    };
    state
        .store
        .create_session(session.clone())
        .await
        .map_err(|e| LoginError::Store(e.into()))?;
    audit(
        state,
        &format!("user:{}", user.spec.username),
        "auth.login",
        format!("user/{}", user.spec.username),
        AuditOutcome::Success,
        user.spec.org_id,
        format!("client {client}"),
    )
    .await;
    Ok(LoggedIn {
        user,
        secret,
        session,
    })
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(state: &AppState, secret: &str) -> String {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.config.session_ttl.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
