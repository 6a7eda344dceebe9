//! Log in, log out, and the language switch.

use super::i18n::Catalog;
use super::{UiAuth, UiError, UiResult, asset_version, html, safe_next};
use crate::auth::{self, ClientAddr, LoginError, check_same_origin};
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use vigil_model::{AuditOutcome, Locale};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Catalog,
    css_version: String,
    next: String,
    username: String,
    error: Option<String>,
    /// The other language, for the switch link on the login page.
    other_lang: &'static str,
    other_label: &'static str,
}

impl LoginPage {
    fn new(locale: Locale, next: String) -> Self {
        let t = Catalog::get(locale);
        let (other_lang, other_label) = match locale {
            Locale::ZhCn => ("en", t.t("lang.en")),
            Locale::En => ("zh-CN", t.t("lang.zh")),
        };
        Self {
            t,
            css_version: asset_version("vigil.css"),
            next,
            username: String::new(),
            error: None,
            other_lang,
            other_label,
        }
    }

    /// The query string of the language link.
    fn lang_query(&self) -> String {
        let mut q: Vec<(&str, &str)> = vec![("lang", self.other_lang)];
        if self.next != "/" {
            q.push(("next", &self.next));
        }
        serde_urlencoded::to_string(q).unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

/// The login form. Chinese unless `?lang=en`; a user who is already logged in goes on.
pub async fn login_form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if let Some(secret) = auth::cookie(&headers, auth::SESSION_COOKIE)
        && let Ok(Some(_)) = auth::session_user(&st, secret).await
    {
        return Redirect::to(&next).into_response();
    }
    let locale = q
        .lang
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or_default();
    html(&LoginPage::new(locale, next))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// Checks the credentials; on success sets the session cookie and goes to `next`.
///
/// There is no session yet, so there is no CSRF token to check; the origin check refuses
/// cross-site login attempts (login CSRF) instead.
pub async fn login(
    State(st): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let locale = f
        .lang
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or_default();
    let t = Catalog::get(locale);
    if check_same_origin(&headers).is_err() {
        return UiError::new(StatusCode::FORBIDDEN, t, "error.origin").into_response();
    }
    let next = safe_next(f.next.as_deref());
    let mut page = LoginPage::new(locale, next.clone());
    page.username = f.username.clone();
    match auth::login(&st, f.username.trim(), &f.password, &client).await {
        Ok(done) => (
            [(header::SET_COOKIE, auth::session_cookie(&st, &done.secret))],
            Redirect::to(&next),
        )
            .into_response(),
        Err(LoginError::Throttled(secs)) => {
            page.error = Some(t.tf("login.throttled", &[("secs", &secs.to_string())]));
            let mut resp = html(&page);
            *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            if let Ok(v) = secs.to_string().parse() {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        Err(LoginError::BadCredentials) => {
            page.error = Some(t.t("login.bad_credentials").to_string());
            let mut resp = html(&page);
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            resp
        }
        Err(LoginError::Store(e)) => UiError::from_api(e, locale).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session and clears the cookie.
pub async fn logout(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    st.store
        .delete_session(&ui.session.id_hash)
        .await
        .map_err(|e| UiError::from_store(e, t))?;
    auth::audit(
        &st,
        &ui.principal.actor(),
        "auth.logout",
        format!("user/{}", ui.principal.name),
        AuditOutcome::Success,
        ui.principal.org_id,
        format!("client {}", ui.client),
    )
    .await;
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct LocaleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    back: Option<String>,
}

/// Stores the user's language and returns to the page the switch was used on.
pub async fn set_locale(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    Form(f): Form<LocaleForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    let Some(locale) = Locale::parse(&f.locale) else {
        return Err(UiError::invalid(t, format!("locale: '{}'", f.locale)));
    };
    if locale != ui.principal.locale {
        st.store
            .set_user_locale(ui.user.id, locale)
            .await
            .map_err(|e| UiError::from_store(e, t))?;
        auth::audit(
            &st,
            &ui.principal.actor(),
            "user.update",
            format!("user/{}", ui.principal.name),
            AuditOutcome::Success,
            ui.principal.org_id,
            format!("locale={}", locale.as_str()),
        )
        .await;
    }
    Ok(Redirect::to(&safe_next(f.back.as_deref())).into_response())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    page: super::Frame,
    error: Option<String>,
    hint: String,
}

fn password_hint(t: &'static Catalog) -> String {
    t.tf(
        "password.hint",
        &[("n", &vigil_crypto::MIN_PASSWORD_LEN.to_string())],
    )
}

/// `/settings/password`: the form to change one's own password.
pub async fn password_form(ui: UiAuth) -> UiResult {
    let t = ui.catalog();
    Ok(html(&PasswordPage {
        page: ui.frame("password", t.t("password.title").to_string()),
        error: None,
        hint: password_hint(t),
    }))
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

/// Changes one's own password after checking the current one; every session of the user ends,
/// this one included, and the user logs in again with the new password.
pub async fn change_password(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    let again = |msg: String| -> UiResult {
        let mut resp = html(&PasswordPage {
            page: ui.frame("password", t.t("password.title").to_string()),
            error: Some(msg),
            hint: password_hint(t),
        });
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(resp)
    };
    let stored = st
        .store
        .find_user_for_login(&ui.user.spec.username)
        .await
        .map_err(|e| UiError::from_store(e, t))?
        .map(|(_, hash)| hash)
        .unwrap_or_default();
    let current = f.current.clone();
    let ok = tokio::task::spawn_blocking(move || {
        vigil_crypto::verify_password(&current, &stored).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !ok {
        return again(t.t("password.wrong_current").to_string());
    }
    if f.new != f.confirm {
        return again(t.t("password.mismatch").to_string());
    }
    if vigil_crypto::check_password_policy(&f.new).is_err() {
        return again(t.tf(
            "password.too_short",
            &[("n", &vigil_crypto::MIN_PASSWORD_LEN.to_string())],
        ));
    }
    let new = f.new.clone();
    let hash = tokio::task::spawn_blocking(move || vigil_crypto::hash_password(&new))
        .await
        .map_err(|_| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal"))?
        .map_err(|_| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal"))?;
    st.store
        .set_password(ui.user.id, hash)
        .await
        .map_err(|e| UiError::from_store(e, t))?;
    st.store
        .delete_user_sessions(ui.user.id)
        .await
        .map_err(|e| UiError::from_store(e, t))?;
    auth::audit(
        &st,
        &ui.principal.actor(),
        "user.password",
        format!("user/{}", ui.principal.name),
        AuditOutcome::Success,
        ui.principal.org_id,
        "changed by the user".into(),
    )
    .await;
    Ok((
        [(header::SET_COOKIE, auth::clear_cookie())],
        Redirect::to("/login?changed=1"),
    )
        .into_response())
}
