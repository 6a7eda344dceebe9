//! `PUT /api/v1/incidents/{id}/impact`: the impact of an incident (issue 6) — the figures the
//! grading thresholds read, ransom details for ransomware, the support requested, the
//! preliminary cause and the affected scope.
//!
//! Analysts and administrators record it, and so do the incident's own organization's people
//! as part of their feedback (another organization's incident is not found). The record
//! replaces the previous one, is audited (`incident.impact`) and put on the timeline. The
//! incident is then re-graded from the impact and its affected organization and assets
//! against the grading thresholds; a more severe grade is applied (`grade:raised` with the
//! reasons), a less severe one never: analysts reclassify by hand. The UI's form uses the same
//! function.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use vigil_incident::{AffectedAsset, AffectedOrg, GradeReason, Impact, Thresholds};
use vigil_model::{
    Action, AuditOutcome, Grade, Incident, IncidentId, IncidentImpact, Principal, RecordedImpact,
};
use vigil_store::{ImpactUpdate, StoreError};

/// What saving an impact did.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub impact: RecordedImpact,
    /// The incident's grade after the save.
    pub grade: Grade,
    pub previous_grade: Grade,
    /// The grade was raised by this save.
    pub raised: bool,
    /// The grade the thresholds give for the impact and the affected objects.
    pub computed_grade: Grade,
    /// The threshold rules met at the computed grade.
    pub reasons: Vec<GradeReason>,
    pub thresholds_version: String,
    #[serde(skip)]
    pub incident: Incident,
}

/// The reasons as one line: the `grade:raised` note after `old -> new: `.
fn reasons_text(reasons: &[GradeReason], t: &Thresholds) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .map(|r| {
            let factor = serde_json::to_value(r.factor)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "{} ({factor} {} >= {}, {})",
                r.text, r.value, r.min, r.source
            )
        })
        .collect();
    format!("{} (thresholds {})", parts.join("; "), t.version)
}

fn rejected(reason: &'static str) {
    metrics::counter!("vigil_incident_impact_rejected_total", "reason" => reason).increment(1);
}

/// Validates and saves `impact` for `principal` (who must be allowed to respond to incidents
/// and see the incident), re-grades the incident and audits the change.
pub async fn save(
    st: &AppState,
    principal: &Principal,
    id: IncidentId,
    impact: IncidentImpact,
) -> ApiResult<Saved> {
    if !principal.allows(Action::RespondIncidents) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(ApiError::forbidden(format!(
            "role {} may not record the impact of incidents",
            principal.role.as_str()
        )));
    }
    let impact = impact.normalized();
    if let Err(e) = impact.validate() {
        rejected("invalid");
        return Err(ApiError::invalid(&e.field, e.message));
    }
    let scope = principal.scope();
    let inc = st
        .store
        .get_incident(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let org = st
        .store
        .get_org(scope, inc.spec.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let mut assets = Vec::new();
    for a in &inc.spec.asset_ids {
        if let Some(asset) = st.store.get_asset(scope, *a).await? {
            assets.push(AffectedAsset::of(&asset.spec, &org.spec));
        }
    }
    let thresholds = Thresholds::builtin().map_err(|e| {
        tracing::error!(error = %e, "grading thresholds do not load");
        ApiError::internal()
    })?;
    let (computed, reasons) = vigil_incident::grade(
        &Impact::from(&impact),
        &[AffectedOrg::from(&org.spec)],
        &assets,
        thresholds,
    );
    let actor = principal.actor();
    let update = ImpactUpdate {
        impact,
        grade: Some(computed),
        grade_note: reasons_text(&reasons, thresholds),
    };
    let out = match st
        .store
        .set_incident_impact(scope, id, update, &actor)
        .await
    {
        Ok(Some(out)) => out,
        Ok(None) => return Err(ApiError::not_found("incident")),
        Err(e) => {
            if matches!(e, StoreError::Invalid(_)) {
                rejected("invalid");
            } else if matches!(e, StoreError::Conflict(_)) {
                rejected("archived");
            }
            return Err(e.into());
        }
    };
    let raised = out.raised();
    if raised {
        metrics::counter!("vigil_incident_grade_raised_total", "by" => "impact").increment(1);
    }
    let detail = serde_json::json!({
        "summary": out.record.impact.summary(),
        "computed_grade": computed,
        "previous_grade": out.previous_grade,
        "grade": out.incident.spec.grade,
        "raised": raised,
    });
    crate::auth::audit(
        st,
        &actor,
        "incident.impact",
        format!("incident/{id}"),
        AuditOutcome::Success,
        Some(out.incident.spec.org_id),
        detail.to_string(),
    )
    .await;
    tracing::info!(
        incident = %id,
        computed = computed.as_str(),
        grade = out.incident.spec.grade.as_str(),
        raised,
        "incident impact recorded"
    );
    Ok(Saved {
        grade: out.incident.spec.grade,
        previous_grade: out.previous_grade,
        raised,
        computed_grade: computed,
        reasons,
        thresholds_version: thresholds.version.clone(),
        impact: out.record,
        incident: out.incident,
    })
}

/// `PUT /incidents/{id}/impact`
pub async fn put(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IncidentId>,
    body: Result<Json<IncidentImpact>, JsonRejection>,
) -> ApiResult<Json<Saved>> {
    auth.require(Action::RespondIncidents)?;
    let Json(impact) = body.inspect_err(|_| rejected("malformed"))?;
    save(&st, &auth.principal, id, impact).await.map(Json)
}
