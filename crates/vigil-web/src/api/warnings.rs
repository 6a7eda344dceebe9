//! `/api/v1/warnings`: early-warning bulletins.
//!
//! Platform admins and analysts issue warnings; every role reads them within its scope (an
//! organization user sees the warnings addressed to its organization, with its own recipient
//! row only); organization users acknowledge for their organization, and staff may
//! acknowledge on an organization's behalf with a note. The recipient list is computed by the
//! store from the targets at issue time.

use super::{Created, audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use vigil_model::{
    Action, NewWarning, OrgId, Role, Timestamp, Warning, WarningId, WarningLevel, WarningRecipient,
};
use vigil_store::{Acknowledgement, WarningQuery};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only warnings addressed to this organization.
    pub org_id: Option<OrgId>,
    pub level: Option<WarningLevel>,
    /// Issued at or after.
    pub since: Option<Timestamp>,
    /// Only warnings with recipients (within the caller's scope) that have not acknowledged.
    pub unacknowledged: Option<bool>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadWarnings)?;
    let Query(p) = params?;
    let q = WarningQuery {
        org_id: p.org_id,
        level: p.level,
        since: p.since,
        unacknowledged: p.unacknowledged,
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
    };
    let page = st.store.list_warnings(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

/// A warning with the state of its recipients (within the caller's scope).
#[derive(Debug, Serialize)]
pub struct WarningDetail {
    #[serde(flatten)]
    pub warning: Warning,
    pub recipient_status: Vec<WarningRecipient>,
}

/// The warning and its recipient rows, or 404 when it is not visible to the caller.
pub async fn detail(st: &AppState, auth: &Auth, id: WarningId) -> ApiResult<WarningDetail> {
    let scope = auth.principal.scope();
    let warning = st
        .store
        .get_warning(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("warning"))?;
    let recipient_status = st
        .store
        .list_warning_recipients(scope, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("warning"))?;
    Ok(WarningDetail {
        warning,
        recipient_status,
    })
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<WarningId>,
) -> ApiResult<Json<WarningDetail>> {
    auth.require(Action::ReadWarnings)?;
    Ok(Json(detail(&st, &auth, id).await?))
}

/// `POST /warnings`: issues a warning to the organizations its targets select.
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    body: Result<Json<NewWarning>, JsonRejection>,
) -> ApiResult<Created<Warning>> {
    auth.require(Action::IssueWarnings)?;
    let Json(spec) = body?;
    Ok(Created(issue(&st, &auth, spec).await?))
}

/// Validates, stores (with the recipients resolved), audits and hands the warning to
/// notification. Shared by the API and the issue form.
pub async fn issue(st: &AppState, auth: &Auth, spec: NewWarning) -> ApiResult<Warning> {
    auth.require(Action::IssueWarnings)?;
    spec.validate()?;
    let w = st
        .store
        .create_warning(spec, &auth.principal.actor())
        .await?;
    audit_change(
        st,
        auth,
        "warning.issue",
        format!("warning/{}", w.id),
        None,
        &format!(
            "{} warning to {} organizations: {}",
            w.spec.level.as_str(),
            w.recipients,
            w.spec.title
        ),
    )
    .await;
    crate::warning::on_issued(st, &w).await;
    Ok(w)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// The recipient organization: an organization user's own (may be left out), required
    /// when staff acknowledge on an organization's behalf.
    #[serde(default)]
    pub org_id: Option<OrgId>,
    /// The organization's response; for staff acknowledging on its behalf, the note saying
    /// how the organization confirmed (required then).
    #[serde(default)]
    pub response: Option<String>,
}

/// `POST /warnings/{id}/ack`
pub async fn ack(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<WarningId>,
    body: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Json<Acknowledgement>> {
    let Json(b) = body?;
    Ok(Json(acknowledge(&st, &auth, id, b).await?))
}

/// Acknowledges for the caller's organization (or, for staff, the named one). Shared by the
/// API and the warning page.
pub async fn acknowledge(
    st: &AppState,
    auth: &Auth,
    id: WarningId,
    b: AckBody,
) -> ApiResult<Acknowledgement> {
    auth.require(Action::AcknowledgeWarnings)?;
    let response = b
        .response
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    vigil_model::warning::validate_response(response.as_deref())?;
    let org = match (auth.principal.role, auth.principal.org_id, b.org_id) {
        (Role::OrgUser, Some(own), None) => own,
        (Role::OrgUser, _, Some(named)) => {
            // Another organization's acknowledgement looks like a missing warning.
            auth.require_org(named)
                .map_err(|_| ApiError::not_found("warning"))?;
            named
        }
        (Role::OrgUser, None, None) => return Err(ApiError::not_found("warning")),
        (_, _, None) => {
            return Err(ApiError::invalid(
                "org_id",
                "name the organization you acknowledge for",
            ));
        }
        (_, _, Some(named)) => {
            if response.is_none() {
                return Err(ApiError::invalid(
                    "response",
                    "acknowledging on an organization's behalf needs a note (how it confirmed)",
                ));
            }
            named
        }
    };
    let outcome = st
        .store
        .acknowledge_warning(
            auth.principal.scope(),
            id,
            org,
            &auth.principal.actor(),
            response,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("warning"))?;
    if outcome.newly {
        let on_behalf = auth.principal.role != Role::OrgUser;
        audit_change(
            st,
            auth,
            "warning.acknowledge",
            format!("warning/{id}"),
            Some(org),
            if on_behalf {
                "acknowledged on the organization's behalf"
            } else {
                "acknowledged"
            },
        )
        .await;
    }
    Ok(outcome)
}

/// `GET /warnings/{id}/pending`: recipients (within the caller's scope) that have not
/// acknowledged.
pub async fn pending(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<WarningId>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadWarnings)?;
    let items = st
        .store
        .list_warning_recipients(auth.principal.scope(), id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("warning"))?;
    Ok(Json(serde_json::json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedParams {
    /// Address the bulletin to this recipient (an organization user's bulletins are always
    /// addressed to its own organization).
    pub org_id: Option<OrgId>,
}

/// `GET /warnings/{id}/signed`: the bulletin signed with the platform's SM2 key.
pub async fn signed(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<WarningId>,
    params: Result<Query<SignedParams>, QueryRejection>,
) -> ApiResult<Json<vigil_crypto::Envelope>> {
    auth.require(Action::ReadWarnings)?;
    let Query(p) = params?;
    let scope = auth.principal.scope();
    let w = st
        .store
        .get_warning(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("warning"))?;
    let addressee = match (auth.principal.role, auth.principal.org_id) {
        (Role::OrgUser, Some(own)) => Some(own),
        _ => p.org_id,
    };
    let recipient = match addressee {
        None => None,
        Some(org) => {
            let rows = st
                .store
                .list_warning_recipients(scope, id, false)
                .await?
                .unwrap_or_default();
            if !rows.iter().any(|r| r.org_id == org) {
                return Err(ApiError::not_found("warning"));
            }
            Some(
                st.store
                    .get_org(scope, org)
                    .await?
                    .ok_or_else(|| ApiError::not_found("organization"))?,
            )
        }
    };
    Ok(Json(crate::warning::sign(&st, &w, recipient.as_ref())?))
}
