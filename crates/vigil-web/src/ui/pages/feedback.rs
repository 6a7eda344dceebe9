//! `POST /incidents/{id}/feedback`: the organization's feedback (处置反馈) in one form — the
//! measures taken and any number of evidence files — moving the incident from remediating to
//! feedback submitted.
//!
//! The form (`templates/incident_feedback.html`) is shown on the incident page when the
//! workflow offers the user that step. The handler checks the CSRF token and the step before
//! storing anything, stores each file through the evidence API's path (SM3 digest, audit,
//! timeline), then applies the step with the measures as its comment, only if the incident is
//! still in the status read (a concurrent change is a 409, and the files stay attached as
//! evidence).

use super::incidents::read_evidence_form;
use crate::state::AppState;
use crate::ui::{OrUi, UiAuth, UiError, UiResult};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use vigil_model::{Action, AuditOutcome, IncidentId, IncidentStatus};
use vigil_store::IncidentUpdate;

/// Most characters of the measures (the API's comment limit).
pub const MAX_MEASURES: usize = 10_000;
/// Most files one feedback carries.
pub const MAX_FILES: usize = 20;
/// The note stored with the evidence files of a feedback.
pub const EVIDENCE_NOTE: &str = "feedback";

pub async fn submit(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> UiResult {
    let t = ui.catalog();
    let mut files: Vec<(String, String, Vec<u8>)> = Vec::new();
    let form = read_evidence_form(&st, t, multipart, &["measures"], |name, ct, bytes| {
        // A file input left empty sends a part without name or bytes.
        if !bytes.is_empty() {
            if files.len() == MAX_FILES {
                return Err(UiError::invalid(
                    t,
                    format!("file: at most {MAX_FILES} files in one feedback"),
                ));
            }
            files.push((name, ct, bytes));
        }
        Ok(())
    })
    .await?;
    let [measures] = <[String; 1]>::try_from(form.texts).unwrap_or_default();
    let csrf = form.csrf;
    ui.check_post(&headers, &csrf)?;
    if !ui.principal.allows(Action::RespondIncidents) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let scope = ui.principal.scope();
    let current = st
        .store
        .get_incident(scope, id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let measures = measures.trim().to_string();
    if measures.is_empty() {
        return Err(UiError::with_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            t,
            t.t("feedback.missing_measures"),
        ));
    }
    if measures.chars().count() > MAX_MEASURES {
        return Err(UiError::invalid(
            t,
            t.t("incident.comment_too_long").to_string(),
        ));
    }
    // The step is checked before any file is stored.
    let step = crate::workflow::step_to(&ui.principal, &current, IncidentStatus::Remediated)
        .map_err(|e| UiError::with_message(StatusCode::CONFLICT, t, &e.message))?;
    let Some(step) = step else {
        return Err(UiError::with_message(
            StatusCode::CONFLICT,
            t,
            "the feedback has been submitted already",
        ));
    };
    for (file_name, content_type, bytes) in files {
        let spec = vigil_store::NewEvidence {
            incident_id: id,
            file_name,
            content_type,
            note: Some(EVIDENCE_NOTE.into()),
            bytes,
        };
        crate::api::evidence::store_upload(&st, &ui.principal, id, spec)
            .await
            .map_err(|e| UiError::with_message(e.status, t, &e.message))?;
    }
    let actor = ui.principal.actor();
    let inc = st
        .store
        .update_incident(
            scope,
            id,
            IncidentUpdate {
                expect_status: Some(current.status),
                status: Some(IncidentStatus::Remediated),
                comment: Some(measures),
                ..IncidentUpdate::default()
            },
            &actor,
        )
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    crate::auth::audit(
        &st,
        &actor,
        &crate::workflow::audit_action(Some(&step)),
        format!("incident/{id}"),
        AuditOutcome::Success,
        Some(inc.spec.org_id),
        inc.status.as_str().to_string(),
    )
    .await;
    Ok(Redirect::to(&format!("/incidents/{id}?saved=1")).into_response())
}
