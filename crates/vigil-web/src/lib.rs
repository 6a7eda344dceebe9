//! Vigil's HTTP face: the JSON API under `/api/v1`, the server-rendered web UI, and the
//! operational endpoints `/healthz`, `/readyz` and `/metrics`.
//!
//! [`router`] builds the whole application from an [`AppState`] (a [`vigil_store::Store`], the
//! resolved [`WebConfig`] and the Prometheus handle). Requests authenticate in [`auth`] into a
//! [`vigil_model::Principal`]; handlers check the role's permission for their action and hand
//! the principal's scope to the store, which filters by organization in its queries. Errors of
//! the API render through [`error::ApiError`] as `{code, message, details}`.
//!
//! Only this crate knows HTTP and HTML.

pub mod api;
pub mod auth;
pub mod error;
pub mod import;
pub mod incident_report;
pub mod notice;
pub mod notify;
pub mod overdue;
pub mod pdf;
pub mod ratelimit;
pub mod state;
pub mod stats;
pub mod taxii;
pub mod taxii_client;
pub mod ui;
pub mod warning;
pub mod workflow;

pub use state::{AppState, WebConfig};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::time::Instant;
use tower_http::set_header::SetResponseHeaderLayer;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .nest("/api/v1", api::router())
        .merge(taxii::router())
        .merge(api::blocklist::edl_router())
        .merge(ui::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(track))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .with_state(state)
}

/// Counts requests and their latency per matched route, method and status.
async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("vigil_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("vigil_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

async fn readyz(State(st): State<AppState>) -> Response {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "store not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

/// Prometheus text format. Needs any valid credential: the numbers are not tenant data, but
/// every endpoint that says something about the platform is authenticated.
async fn metrics_text(State(st): State<AppState>, _auth: auth::Auth) -> Response {
    match &st.metrics {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}
