//! `/api/v1/pipeline`: the live ingestion pipeline's sources with their state and counters,
//! the spool and the lag, and the dead letters (input that could not become an event), which
//! can be searched.
//!
//! The status is for platform staff who run the platform (administrators and analysts). Dead
//! letters come from the store: administrators and analysts search all of them, organization
//! users only those attributed to their organization (sent with its client certificate or
//! API token); raw input no organization could be found for stays with the platform staff.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use base64::Engine as _;
use serde::Deserialize;
use vigil_model::{Page, Principal, Role, Timestamp};
use vigil_store::{DeadLetter, DeadLetterQuery, DeadLetterReason};

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
    /// The source (listener) name; `input` as before the store kept them.
    #[serde(alias = "source")]
    pub input: Option<String>,
    pub reason: Option<String>,
    pub q: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Largest page of dead letters.
pub const MAX_DEAD_LETTER_PAGE: usize = 200;

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
    let reason = match p.reason.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(DeadLetterReason::parse(r).ok_or_else(|| {
            let all: Vec<_> = DeadLetterReason::ALL.iter().map(|r| r.as_str()).collect();
            ApiError::invalid("reason", format!("'{r}' is not one of {}", all.join(", ")))
        })?),
    };
    Ok(DeadLetterQuery {
        source: p.input.clone().filter(|s| !s.is_empty()),
        reason,
        text: p.q.clone().filter(|s| !s.is_empty()),
        since: time_param("since", p.since.as_deref())?,
        until: time_param("until", p.until.as_deref())?,
        limit: p.limit.unwrap_or(50).clamp(1, MAX_DEAD_LETTER_PAGE),
        cursor: p.cursor.clone().filter(|s| !s.is_empty()),
    })
}

/// May the principal search dead letters? Administrators and analysts all of them,
/// organization users those attributed to their organization.
pub fn may_read_dead_letters(p: &Principal) -> bool {
    matches!(p.role, Role::PlatformAdmin | Role::Analyst | Role::OrgUser)
}

/// The raw bytes for people: the text when they are UTF-8, else hex.
pub fn raw_view(raw: &[u8]) -> (&'static str, String) {
    match std::str::from_utf8(raw) {
        Ok(s) => ("text", s.to_string()),
        Err(_) => {
            let mut h = String::with_capacity(raw.len() * 2);
            for b in raw {
                h.push_str(&format!("{b:02x}"));
            }
            ("hex", h)
        }
    }
}

/// A page of dead letters (newest first) and the counts per reason under the same filters.
pub struct DeadLetterResult {
    pub page: Page<DeadLetter>,
    pub by_reason: Vec<(DeadLetterReason, u64)>,
}

impl DeadLetterResult {
    pub fn matched(&self) -> u64 {
        self.by_reason.iter().map(|(_, n)| n).sum()
    }
}

/// Searches the stored dead letters within the principal's scope.
pub async fn search(
    st: &AppState,
    principal: &Principal,
    q: DeadLetterQuery,
) -> ApiResult<DeadLetterResult> {
    let scope = principal.scope();
    let page = st.store.search_dead_letters(scope, &q).await?;
    let by_reason = st.store.count_dead_letters_by_reason(scope, &q).await?;
    Ok(DeadLetterResult { page, by_reason })
}

/// `GET /api/v1/pipeline/dead-letters`: newest first, `next_cursor` for the next page.
pub async fn dead_letters(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<DeadLetterParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    if !may_read_dead_letters(&auth.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(ApiError::forbidden(format!(
            "role {} may not read dead letters",
            auth.principal.role.as_str()
        )));
    }
    let Query(p) = params?;
    let q = dead_letter_query(&p)?;
    let r = search(&st, &auth.principal, q).await?;
    let matched = r.matched();
    let items: Vec<serde_json::Value> = r
        .page
        .items
        .iter()
        .map(|d| {
            let (encoding, shown) = raw_view(&d.raw);
            serde_json::json!({
                "id": d.id,
                "time": d.received_at,
                "reason": d.reason.as_str(),
                "detail": d.detail,
                "input": d.source,
                "sender": d.sender,
                "org_id": d.org_id,
                "raw_len": d.raw_len,
                "raw_encoding": encoding,
                "raw": shown,
                "raw_b64": base64::engine::general_purpose::STANDARD.encode(&d.raw),
            })
        })
        .collect();
    let by_reason: serde_json::Map<String, serde_json::Value> = r
        .by_reason
        .iter()
        .map(|(k, n)| (k.as_str().to_string(), (*n).into()))
        .collect();
    Ok(Json(serde_json::json!({
        "enabled": st.pipeline.get().is_some(),
        "items": items,
        "matched": matched,
        "by_reason": by_reason,
        "next_cursor": r.page.next_cursor,
    })))
}
