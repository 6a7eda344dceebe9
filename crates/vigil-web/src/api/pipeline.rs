//! `/api/v1/pipeline`: the live ingestion pipeline's sources with their state and counters,
//! the spool and the lag, and the dead letters (input that could not become an event), which
//! can be searched.
//!
//! Platform staff who run the platform only (administrators and analysts): dead letters hold
//! raw input that no organization could be found for, so they are not organization data an
//! organization user could be scoped to.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use vigil_model::{Principal, Role, Timestamp};
use vigil_pipeline::status::{DeadLetterPage, DeadLetterQuery, MAX_DEAD_LETTER_PAGE};

/// May the principal see the pipeline? Administrators and analysts.
pub fn may_read_pipeline(p: &Principal) -> bool {
    matches!(p.role, Role::PlatformAdmin | Role::Analyst)
}

fn require(auth: &Auth) -> Result<(), ApiError> {
    if may_read_pipeline(&auth.principal) {
        Ok(())
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(ApiError::forbidden(format!(
            "role {} may not read the ingestion pipeline",
            auth.principal.role.as_str()
        )))
    }
}

/// `GET /api/v1/pipeline`: `{"enabled": false}` when `[pipeline] enabled` is off.
pub async fn status(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    require(&auth)?;
    Ok(Json(match st.pipeline.get() {
        None => serde_json::json!({ "enabled": false }),
        Some(m) => {
            let mut v = serde_json::to_value(m.status()).map_err(|_| ApiError::internal())?;
            if let Some(o) = v.as_object_mut() {
                o.insert("enabled".into(), true.into());
            }
            v
        }
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterParams {
    pub input: Option<String>,
    pub reason: Option<String>,
    pub q: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
}

const REASONS: [&str; 4] = ["parse", "oversized", "unattributed", "invalid"];

fn time_param(field: &str, v: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Timestamp>().map_err(|e| {
                ApiError::invalid(field, format!("'{s}' is not an RFC 3339 time: {e}"))
            })
        })
        .transpose()
}

/// Validates the query parameters into a search.
pub fn dead_letter_query(p: &DeadLetterParams) -> Result<DeadLetterQuery, ApiError> {
    let reason = p.reason.clone().filter(|r| !r.is_empty());
    if let Some(r) = &reason
        && !REASONS.contains(&r.as_str())
    {
        return Err(ApiError::invalid(
            "reason",
            format!("'{r}' is not one of {}", REASONS.join(", ")),
        ));
    }
    Ok(DeadLetterQuery {
        input: p.input.clone().filter(|s| !s.is_empty()),
        reason,
        text: p.q.clone().filter(|s| !s.is_empty()),
        since: time_param("since", p.since.as_deref())?,
        until: time_param("until", p.until.as_deref())?,
        limit: p.limit.unwrap_or(50).clamp(1, MAX_DEAD_LETTER_PAGE),
    })
}

/// Runs a dead-letter search off the async threads; an empty page without a pipeline.
pub async fn search(st: &AppState, q: DeadLetterQuery) -> ApiResult<Option<DeadLetterPage>> {
    let Some(m) = st.pipeline.get().cloned() else {
        return Ok(None);
    };
    let page = tokio::task::spawn_blocking(move || m.dead_letters(&q))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "reading the dead letters failed");
            ApiError::internal()
        })?;
    Ok(Some(page))
}

/// `GET /api/v1/pipeline/dead-letters`: newest first.
pub async fn dead_letters(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<DeadLetterParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    require(&auth)?;
    let Query(p) = params?;
    let q = dead_letter_query(&p)?;
    Ok(Json(match search(&st, q).await? {
        None => serde_json::json!({ "enabled": false, "items": [], "matched": 0 }),
        Some(page) => {
            let mut v = serde_json::to_value(page).map_err(|_| ApiError::internal())?;
            if let Some(o) = v.as_object_mut() {
                o.insert("enabled".into(), true.into());
            }
            v
        }
    }))
}
