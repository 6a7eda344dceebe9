//! The server-rendered web UI.
//!
//! Pages are askama templates (`templates/`) over small view structs built here from the
//! [`vigil_store::Store`], always with the logged-in user's scope. The UI authenticates by
//! session cookie only ([`UiAuth`]); every POST form carries the session's CSRF token in a
//! hidden `csrf` field and is checked against it and against the request's origin.
//! Labels come from the message catalogs in `i18n/` ([`i18n::Catalog`]), in the language stored
//! with the user. Static files (`assets/`) are embedded and served under `/static/`.
//!
//! No inline scripts or styles anywhere (the CSP is `default-src 'self'`): charts are SVG
//! built on the server, widths and colours are CSS classes.

pub mod chart;
pub mod i18n;
mod pages;
mod session;
pub mod view;

use crate::auth::{self, check_same_origin, secrets_equal};
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use i18n::Catalog;
use vigil_model::{Locale, Principal, User};
use vigil_store::{Session, StoreError};

/// A filed incident report printed to PDF (the API prints with the UI's templates).
pub(crate) use pages::filed_reports::filed_pdf;

/// The UI routes, merged at the root by [`crate::router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview::page))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/settings/locale", post(session::set_locale))
        .route(
            "/settings/password",
            get(session::password_form).post(session::change_password),
        )
        .route("/orgs", get(pages::orgs::list))
        .route("/orgs/{id}", get(pages::orgs::detail))
        .route("/assets", get(pages::assets::list))
        .route("/static/{*path}", get(static_asset))
        .route("/assets/{id}", get(pages::assets::detail))
        .route(
            "/assets/new",
            get(pages::asset_form::new_form).post(pages::asset_form::create),
        )
        .route(
            "/assets/{id}/edit",
            get(pages::asset_form::edit_form).post(pages::asset_form::update),
        )
        .route("/assets/{id}/delete", post(pages::asset_form::delete))
        .route("/events", get(pages::events::list))
        .route("/events/{id}", get(pages::events::detail))
        .route("/alerts", get(pages::alerts::list))
        .route("/alerts/{id}", get(pages::alerts::detail))
        .route("/incidents", get(pages::incidents::list))
        .route("/reports/monthly", get(pages::reports::monthly))
        .route("/intel", get(pages::intel::list))
        .route("/intel/indicators/{id}", get(pages::intel::detail))
        .route("/intel/indicators/{id}/revoke", post(pages::intel::revoke))
        .route("/intel/sources", get(pages::intel::sources))
        .route("/intel/feeds", get(pages::intel::feeds))
        .route("/intel/sources/import", post(pages::intel::upload))
        .route("/intel/sources/{id}", post(pages::intel::update_source))
        .route("/intel/attack", get(pages::attack::matrix))
        .route("/intel/attack/{id}", get(pages::attack::technique))
        .route("/pipeline", get(pages::pipeline::page))
        .route("/pipeline/sources", post(pages::pipeline::save))
        .route(
            "/pipeline/sources/{id}/state",
            post(pages::pipeline::set_state),
        )
        .route(
            "/pipeline/sources/{id}/delete",
            post(pages::pipeline::remove),
        )
        .route(
            "/incidents/{id}",
            get(pages::incidents::detail).post(pages::incidents::update),
        )
        .route("/incidents/{id}/report", get(pages::incident_report::page))
        .route("/incidents/{id}/reports", post(pages::filed_reports::file))
        .route(
            "/incidents/{id}/reports/{report_id}",
            get(pages::filed_reports::show),
        )
        .route(
            "/incidents/{id}/evidence",
            post(pages::incidents::upload_evidence),
        )
        .route("/incidents/{id}/impact", post(pages::impact::submit))
        .route("/incidents/{id}/feedback", post(pages::feedback::submit))
        .route(
            "/warnings",
            get(pages::warnings::list).post(pages::warnings::create),
        )
        .route("/warnings/{id}", get(pages::warnings::detail))
        .route("/warnings/{id}/ack", post(pages::warnings::ack))
        .route("/favicon.ico", get(favicon))
}

// ---------------------------------------------------------------------------------------------
// Static assets

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A short fingerprint of an embedded file, for cache-busting `?v=` links and the ETag.
pub fn asset_version(path: &str) -> String {
    Assets::get(path)
        .map(|f| hex8(&f.metadata.sha256_hash()))
        .unwrap_or_default()
}

fn hex8(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

async fn static_asset(
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_asset(&path, &headers)
}

async fn favicon(headers: HeaderMap) -> Response {
    serve_asset("favicon.svg", &headers)
}

fn serve_asset(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("\"{}\"", hex8(&file.metadata.sha256_hash()));
    let cache = "public, max-age=86400";
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache.into())],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type(path).to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache.into()),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Authentication for pages

/// The logged-in user of a page request. Resolved from the session cookie only (a bearer
/// token never authenticates a page); without a valid session a GET is redirected to
/// `/login?next=<this page>`.
pub struct UiAuth {
    pub principal: Principal,
    pub session: Session,
    pub user: User,
    /// The path and query of this request, to come back to after a language switch.
    pub here: String,
    /// Client address, for the audit log.
    pub client: String,
}

impl FromRequestParts<AppState> for UiAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let found = match auth::cookie(&parts.headers, auth::SESSION_COOKIE) {
            Some(secret) => auth::session_user(state, secret)
                .await
                .map_err(|e| UiError::from_api(e, Locale::default()).into_response())?,
            None => None,
        };
        let Some((session, user)) = found else {
            let next = if parts.method == axum::http::Method::GET {
                here.as_str()
            } else {
                "/"
            };
            return Err(login_redirect(next));
        };
        Ok(UiAuth {
            principal: auth::user_principal(&user),
            session,
            user,
            here,
            client: auth::client_addr(parts),
        })
    }
}

/// `303 See Other` to the login page, remembering where to go afterwards.
pub fn login_redirect(next: &str) -> Response {
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    let target = if next == "/" || q.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?{q}")
    };
    Redirect::to(&target).into_response()
}

/// A local path to redirect to after login or a language switch: only same-site absolute
/// paths, never `//host` or `/\host`, so a link cannot send the user elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n'])
                && !n.starts_with("/login")
                && n.len() <= 2048 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

impl UiAuth {
    pub fn catalog(&self) -> &'static Catalog {
        Catalog::get(self.principal.locale)
    }

    /// Checks a POST: same origin, and the form's `csrf` field equals the session's token.
    pub fn check_post(&self, headers: &HeaderMap, csrf: &str) -> Result<(), UiError> {
        let cat = self.catalog();
        if check_same_origin(headers).is_err() {
            metrics::counter!("vigil_csrf_refused_total", "kind" => "origin").increment(1);
            return Err(UiError::new(StatusCode::FORBIDDEN, cat, "error.origin"));
        }
        if csrf.is_empty() || !secrets_equal(csrf, &self.session.csrf_token) {
            metrics::counter!("vigil_csrf_refused_total", "kind" => "token").increment(1);
            return Err(UiError::new(StatusCode::FORBIDDEN, cat, "error.csrf"));
        }
        Ok(())
    }

    /// The frame of a page: header, navigation, language switch.
    pub fn frame(&self, nav: &'static str, title: String) -> Frame {
        let t = self.catalog();
        let display = if self.user.spec.display_name.trim().is_empty() {
            self.user.spec.username.clone()
        } else {
            self.user.spec.display_name.clone()
        };
        Frame {
            t,
            title,
            nav,
            user: display,
            role: self.principal.role.name(t.lang()).to_string(),
            csrf: self.session.csrf_token.clone(),
            here: self.here.clone(),
            wall: false,
            refresh: None,
            css_version: asset_version("vigil.css"),
            ops: crate::api::pipeline::may_read_pipeline(&self.principal),
        }
    }
}

/// What every logged-in page's layout needs.
pub struct Frame {
    pub t: &'static Catalog,
    pub title: String,
    /// The active navigation entry (`overview`, `orgs`, …).
    pub nav: &'static str,
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub here: String,
    /// Large-text mode for a wall display.
    pub wall: bool,
    /// Reload the page after this many seconds (wall display).
    pub refresh: Option<u32>,
    pub css_version: String,
    /// May see the platform's own operation (the ingestion pipeline page).
    pub ops: bool,
}

impl Frame {
    pub fn t(&self, key: &'static str) -> &'static str {
        self.t.t(key)
    }

    pub fn lang(&self) -> &'static str {
        self.t.lang()
    }

    pub fn is_zh(&self) -> bool {
        self.t.locale == Locale::ZhCn
    }

    /// "N entries".
    pub fn count(&self, n: usize) -> String {
        self.t.tf("common.count", &[("n", &n.to_string())])
    }

    /// The class of a navigation link.
    pub fn nav_class(&self, entry: &str) -> &'static str {
        if self.nav == entry { "active" } else { "" }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and rendering

/// An error page: status, a localized message, an optional detail.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub t: &'static Catalog,
    pub message: String,
    pub detail: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Catalog,
    css_version: String,
    status: u16,
    message: &'a str,
    detail: Option<&'a str>,
}

impl UiError {
    pub fn new(status: StatusCode, t: &'static Catalog, key: &'static str) -> Self {
        Self {
            status,
            t,
            message: t.t(key).to_string(),
            detail: None,
        }
    }

    pub fn with_message(status: StatusCode, t: &'static Catalog, message: &str) -> Self {
        Self {
            status,
            t,
            message: message.to_string(),
            detail: None,
        }
    }

    pub fn not_found(t: &'static Catalog) -> Self {
        Self::new(StatusCode::NOT_FOUND, t, "error.not_found")
    }

    pub fn forbidden(t: &'static Catalog) -> Self {
        Self::new(StatusCode::FORBIDDEN, t, "error.forbidden")
    }

    pub fn invalid(t: &'static Catalog, detail: String) -> Self {
        Self {
            detail: Some(detail),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, t, "error.invalid")
        }
    }

    pub fn from_store(e: StoreError, t: &'static Catalog) -> Self {
        Self::from_api(ApiError::from(e), t.locale)
    }

    pub fn from_api(e: ApiError, locale: Locale) -> Self {
        let t = Catalog::get(locale);
        let key = match e.status {
            StatusCode::NOT_FOUND => "error.not_found",
            StatusCode::FORBIDDEN => "error.forbidden",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "error.invalid",
            _ => "error.internal",
        };
        let detail = (e.status.is_client_error()).then_some(e.message);
        Self {
            detail,
            ..Self::new(e.status, t, key)
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            t: self.t,
            css_version: asset_version("vigil.css"),
            status: self.status.as_u16(),
            message: &self.message,
            detail: self.detail.as_deref(),
        };
        let mut resp = html(&page);
        *resp.status_mut() = self.status;
        resp
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

/// Store results into UI errors in the page's language.
pub trait OrUi<T> {
    fn ui(self, t: &'static Catalog) -> UiResult<T>;
}

impl<T> OrUi<T> for Result<T, StoreError> {
    fn ui(self, t: &'static Catalog) -> UiResult<T> {
        self.map_err(|e| UiError::from_store(e, t))
    }
}

impl<T> OrUi<T> for Result<T, ApiError> {
    fn ui(self, t: &'static Catalog) -> UiResult<T> {
        self.map_err(|e| UiError::from_api(e, t.locale))
    }
}

/// Renders a template as an HTML response that no shared cache keeps (pages hold tenant data).
pub fn html<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
