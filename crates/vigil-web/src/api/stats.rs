//! `/api/v1/stats`: incident statistics for a period.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stats::{IncidentStats, load};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use vigil_model::{Action, OrgId, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Registered at or after.
    pub from: Option<Timestamp>,
    /// Registered before.
    pub to: Option<Timestamp>,
    pub org_id: Option<OrgId>,
}

/// `GET /stats/incidents`: counts by category, sub-category, grade, industry, province and
/// month; mean times to acknowledge and to close; the overdue rate. Scoped like the incidents.
pub async fn incidents(
    State(st): State<AppState>,
    auth: Auth,
    q: Result<Query<Params>, QueryRejection>,
) -> ApiResult<Json<IncidentStats>> {
    auth.require(Action::ReadIncidents)?;
    let Query(p) = q?;
    if let (Some(f), Some(t)) = (p.from, p.to)
        && f >= t
    {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok(Json(
        load(
            st.store.as_ref(),
            auth.principal.scope(),
            p.org_id,
            p.from,
            p.to,
        )
        .await?,
    ))
}
