//! `/api/v1/intel/sources/{id}` and `/api/v1/intel/imports`: source settings and import
//! history, plus the TLP rule for what organization users may see of the intelligence.
//!
//! Source settings (enabled, trust, default TLP, description) are for intelligence managers
//! ([`super::intel::may_manage_intel`]); import history is for those who may read sources
//! (staff, not organization users). A disabled source keeps its indicators, but the live
//! matcher, the intel refresh and the blocklists leave them out (they load with
//! `enabled_sources_only` or skip disabled sources).
//!
//! TLP for organization users: indicators marked TLP:AMBER, TLP:AMBER+STRICT or TLP:RED are
//! shared with the CERT, not with its constituents, so organization users see only
//! unmarked, TLP:CLEAR and TLP:GREEN indicators; a hidden indicator answers 404 like a
//! missing one.

use super::audit_change;
use super::intel::{Format, may_read_sources, require_manage};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Deserializer};
use vigil_intel::ImportProblem;
use vigil_model::{Principal, Role, Timestamp};
use vigil_store::{
    ImportRejection, IntelImport, IntelImportId, IntelSource, IntelSourceId, IntelSourcePatch,
    NewIntelImport, StoredIndicator, UpsertCounts,
};

/// The TLP markings organization users may not see.
pub const HIDDEN_FROM_ORG_USERS: &[&str] = &["amber", "amber+strict", "red"];

/// The markings to leave out of what `p` sees (nothing for staff).
pub fn tlp_exclude_for(p: &Principal) -> Vec<String> {
    if p.role == Role::OrgUser {
        HIDDEN_FROM_ORG_USERS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        Vec::new()
    }
}

/// May `p` see this indicator under the TLP rule?
pub fn may_see(p: &Principal, ind: &StoredIndicator) -> bool {
    p.role != Role::OrgUser
        || !ind
            .spec
            .tlp
            .as_deref()
            .is_some_and(|t| HIDDEN_FROM_ORG_USERS.contains(&t))
}

/// Who ran an import and by which path, for the import history.
#[derive(Debug, Clone)]
pub struct ImportOrigin {
    pub actor: String,
    pub via: &'static str,
}

impl ImportOrigin {
    /// An import by an authenticated caller through `via` (`api`, `ui`).
    pub fn of(auth: &Auth, via: &'static str) -> Self {
        Self {
            actor: auth.principal.actor(),
            via,
        }
    }

    /// An import that came by TAXII into the named source.
    pub fn taxii(source: &str) -> Self {
        let mut actor = format!("taxii:{source}");
        actor.truncate(200);
        Self {
            actor,
            via: "taxii",
        }
    }

    /// An import by the command-line tool.
    pub fn cli(user: &str) -> Self {
        Self {
            actor: format!("cli:{user}"),
            via: "cli",
        }
    }
}

/// Records a finished import in the source's history. A failure to record is logged and
/// counted; the import itself stands.
#[allow(clippy::too_many_arguments)]
pub async fn record_import(
    st: &AppState,
    source_id: IntelSourceId,
    origin: &ImportOrigin,
    format: Format,
    started_at: Timestamp,
    stored: &UpsertCounts,
    problems_total: usize,
    problems: &[ImportProblem],
) -> Option<IntelImportId> {
    let spec = NewIntelImport {
        source_id,
        actor: origin.actor.clone(),
        via: origin.via.to_string(),
        format: format.as_str().to_string(),
        inserted: stored.inserted,
        updated: stored.updated,
        unchanged: stored.unchanged,
        rejected: problems_total as u64,
        rejections: problems
            .iter()
            .take(vigil_store::intel::MAX_IMPORT_REJECTIONS)
            .map(|p| ImportRejection {
                id: Some(p.object_id.clone()).filter(|s| !s.is_empty()),
                reason: p.reason.clone(),
            })
            .collect(),
        started_at,
    };
    match st.store.record_intel_import(spec).await {
        Ok(rec) => {
            metrics::counter!("vigil_intel_imports_total", "via" => origin.via).increment(1);
            Some(rec.id)
        }
        Err(e) => {
            tracing::error!(error = %e, source = %source_id, "recording intel import failed");
            metrics::counter!("vigil_intel_import_record_failures_total").increment(1);
            None
        }
    }
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /intel/sources/{id}` body; a field left out stays, `null` clears the optional
/// ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePatchBody {
    pub enabled: Option<bool>,
    pub trust: Option<u8>,
    #[serde(default, deserialize_with = "double_option")]
    pub default_tlp: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
}

impl SourcePatchBody {
    /// The store's patch, with blank text as a clear and the TLP normalized.
    pub fn into_patch(self) -> Result<IntelSourcePatch, ApiError> {
        let default_tlp = match self.default_tlp {
            Some(Some(t)) if t.trim().is_empty() => Some(None),
            Some(Some(t)) => Some(Some(
                vigil_intel::Tlp::parse(&t)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "default_tlp",
                            "must be clear, green, amber, amber+strict or red",
                        )
                    })?
                    .as_str()
                    .to_string(),
            )),
            other => other,
        };
        let description = match self.description {
            Some(Some(d)) if d.trim().is_empty() => Some(None),
            Some(Some(d)) => Some(Some(d.trim().to_string())),
            other => other,
        };
        let patch = IntelSourcePatch {
            enabled: self.enabled,
            trust: self.trust,
            default_tlp,
            description,
        };
        patch.validate()?;
        Ok(patch)
    }
}

/// Applies a patch to a source and audits what changed.
pub async fn apply_patch(
    st: &AppState,
    auth: &Auth,
    id: IntelSourceId,
    patch: IntelSourcePatch,
) -> ApiResult<IntelSource> {
    require_manage(auth)?;
    let before = st
        .store
        .get_intel_source(id)
        .await?
        .ok_or_else(|| ApiError::not_found("intelligence source"))?;
    if patch.is_empty() {
        return Ok(before);
    }
    let after = st
        .store
        .update_intel_source(id, patch)
        .await?
        .ok_or_else(|| ApiError::not_found("intelligence source"))?;
    let mut changes = Vec::new();
    if before.spec.enabled != after.spec.enabled {
        let state = if after.spec.enabled {
            "enabled"
        } else {
            "disabled"
        };
        changes.push(state.to_string());
    }
    if before.spec.trust != after.spec.trust {
        changes.push(format!(
            "trust {} -> {}",
            before.spec.trust, after.spec.trust
        ));
    }
    if before.default_tlp != after.default_tlp {
        changes.push(format!(
            "default_tlp {} -> {}",
            before.default_tlp.as_deref().unwrap_or("none"),
            after.default_tlp.as_deref().unwrap_or("none")
        ));
    }
    if before.description != after.description {
        changes.push("description changed".into());
    }
    audit_change(
        st,
        auth,
        "intel.source.update",
        format!("intel-source/{id}"),
        None,
        &format!("{}: {}", after.spec.name, changes.join(", ")),
    )
    .await;
    Ok(after)
}

pub async fn patch_source(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IntelSourceId>,
    body: Result<Json<SourcePatchBody>, JsonRejection>,
) -> ApiResult<Json<IntelSource>> {
    require_manage(&auth)?;
    let Json(body) = body?;
    let patch = body.into_patch()?;
    Ok(Json(apply_patch(&st, &auth, id, patch).await?))
}

fn require_read_sources(auth: &Auth) -> Result<(), ApiError> {
    if may_read_sources(&auth.principal) {
        Ok(())
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(ApiError::forbidden(
            "role org_user may not read intelligence sources",
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportListParams {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub async fn list_imports(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IntelSourceId>,
    params: Result<Query<ImportListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    require_read_sources(&auth)?;
    let Query(p) = params?;
    if st.store.get_intel_source(id).await?.is_none() {
        return Err(ApiError::not_found("intelligence source"));
    }
    let page = st
        .store
        .list_intel_imports(Some(id), p.limit.unwrap_or(0), p.cursor)
        .await?;
    Ok(super::page_json(page.items, page.next_cursor))
}

pub async fn get_import(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IntelImportId>,
) -> ApiResult<Json<IntelImport>> {
    require_read_sources(&auth)?;
    st.store
        .get_intel_import(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("intelligence import"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patch_body_tells_absent_from_null() {
        let b: SourcePatchBody =
            serde_json::from_str(r#"{"enabled": false, "default_tlp": null}"#).unwrap();
        let p = b.into_patch().unwrap();
        assert_eq!(p.enabled, Some(false));
        assert_eq!(p.default_tlp, Some(None));
        assert_eq!(p.description, None);
        assert_eq!(p.trust, None);
        let b: SourcePatchBody =
            serde_json::from_str(r#"{"default_tlp": "TLP:AMBER", "description": "  "}"#).unwrap();
        let p = b.into_patch().unwrap();
        assert_eq!(p.default_tlp, Some(Some("amber".into())));
        assert_eq!(p.description, Some(None));
        let b: SourcePatchBody = serde_json::from_str(r#"{"default_tlp": "purple"}"#).unwrap();
        assert!(b.into_patch().is_err());
        assert!(serde_json::from_str::<SourcePatchBody>(r#"{"name": "x"}"#).is_err());
    }
}
