//! `/api/v1/intel/export` and `/api/v1/intel/feeds`: sharing intelligence out as STIX 2.1
//! bundles, and the state of the TAXII feeds Vigil polls.
//!
//! The export holds indicators (platform-wide, minus the TLP levels the caller may not see)
//! and sightings (organization data: an organization user gets only its own). Every object
//! is STIX 2.1 as the OASIS validator checks it: objects that arrived as STIX 2.0 are given
//! `spec_version`, `pattern_type` and `valid_from`, Vigil's own revocation is written as
//! `revoked: true`, and sightings reference their indicators by STIX id.

use super::intel::may_read_sources;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use vigil_intel::stix::{stable_id, stix_time};
use vigil_model::Timestamp;
use vigil_store::{IndicatorId, IndicatorQuery, IntelSourceId, SightingQuery, StoredIndicator};

/// Objects in one export when the caller does not say; the most one export holds.
const DEFAULT_EXPORT: usize = 10_000;
const MAX_EXPORT: usize = 100_000;
/// Rows per store call while exporting.
const PAGE: usize = 1_000;
/// The producer identity of exported objects.
pub const PRODUCER: &str = "Vigil";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Comma-separated: `indicator`, `sighting` (default both).
    pub types: Option<String>,
    /// Indicators of one source only.
    pub source_id: Option<IntelSourceId>,
    /// Revoked indicators too (exported with `revoked: true`).
    pub include_revoked: Option<bool>,
    /// Indicators changed after this time and sightings seen from it on only.
    pub added_after: Option<Timestamp>,
    /// Most objects exported (default 10,000, at most 100,000).
    pub limit: Option<usize>,
}

/// An indicator's stored object as a STIX 2.1 indicator; `None` when the stored object is not
/// an indicator with an id and a pattern.
pub fn indicator_21(ind: &StoredIndicator) -> Option<Value> {
    let mut o: Map<String, Value> = ind.spec.object.as_object()?.clone();
    if o.get("type").and_then(Value::as_str) != Some("indicator") {
        return None;
    }
    o.get("id").and_then(Value::as_str)?;
    if o.get("pattern").and_then(Value::as_str).is_none() {
        o.insert("pattern".into(), Value::String(ind.spec.pattern.clone()?));
    }
    let modified = stix_time(ind.spec.modified);
    o.insert("spec_version".into(), json!("2.1"));
    o.entry("pattern_type").or_insert_with(|| json!("stix"));
    o.entry("modified").or_insert_with(|| json!(modified));
    let created = o.get("created").cloned().unwrap_or_else(|| json!(modified));
    o.entry("created").or_insert_with(|| created.clone());
    o.entry("valid_from").or_insert(created);
    if ind.is_revoked() {
        o.insert("revoked".into(), Value::Bool(true));
    }
    Some(Value::Object(o))
}

/// The types asked for.
fn parse_types(raw: Option<&str>) -> Result<(bool, bool), ApiError> {
    let Some(raw) = raw else {
        return Ok((true, true));
    };
    let (mut ind, mut sig) = (false, false);
    for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match t {
            "indicator" => ind = true,
            "sighting" => sig = true,
            other => {
                return Err(ApiError::invalid(
                    "types",
                    format!("'{other}' is not indicator or sighting"),
                ));
            }
        }
    }
    if !(ind || sig) {
        return Err(ApiError::invalid(
            "types",
            "name at least one of indicator, sighting",
        ));
    }
    Ok((ind, sig))
}

/// `GET /api/v1/intel/export`: a STIX 2.1 bundle (`application/stix+json;version=2.1`).
pub async fn export(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params?;
    let (want_ind, want_sig) = parse_types(p.types.as_deref())?;
    let limit = p.limit.unwrap_or(DEFAULT_EXPORT).clamp(1, MAX_EXPORT);
    let principal = &auth.principal;
    let now = Timestamp::now();
    let producer_id = stable_id("identity", PRODUCER);
    let mut objects: Vec<Value> = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": producer_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": PRODUCER,
        "identity_class": "system",
    })];
    let (mut indicators, mut sightings) = (0usize, 0usize);
    if want_ind {
        let mut cursor = None;
        loop {
            let q = IndicatorQuery {
                source_id: p.source_id,
                include_revoked: p.include_revoked.unwrap_or(false),
                added_after: p.added_after,
                oldest_first: true,
                limit: PAGE,
                cursor: cursor.take(),
                tlp_exclude: super::intel_admin::tlp_exclude_for(principal),
                ..IndicatorQuery::default()
            };
            let page = st.store.list_indicators(&q).await?;
            for i in &page.items {
                if indicators >= limit {
                    break;
                }
                if let Some(o) = indicator_21(i) {
                    objects.push(o);
                    indicators += 1;
                }
            }
            match page.next_cursor {
                Some(c) if indicators < limit => cursor = Some(c),
                _ => break,
            }
        }
    }
    if want_sig {
        let mut stix_ids: HashMap<IndicatorId, Option<String>> = HashMap::new();
        let mut cursor = None;
        'pages: loop {
            let q = SightingQuery {
                from: p.added_after,
                limit: PAGE,
                cursor: cursor.take(),
                ..SightingQuery::default()
            };
            let page = st.store.list_sightings(principal.scope(), &q).await?;
            for s in &page.items {
                if indicators + sightings >= limit {
                    break 'pages;
                }
                let of = match stix_ids.get(&s.spec.indicator_id) {
                    Some(v) => v.clone(),
                    None => {
                        let v = st
                            .store
                            .get_indicator(s.spec.indicator_id)
                            .await?
                            .filter(|i| super::intel_admin::may_see(principal, i))
                            .map(|i| i.spec.stix_id);
                        stix_ids.insert(s.spec.indicator_id, v.clone());
                        v
                    }
                };
                // A sighting of an indicator the caller may not see stays out with it.
                let Some(of) = of else { continue };
                let at = stix_time(s.spec.seen_at);
                let created = stix_time(s.created_at);
                objects.push(json!({
                    "type": "sighting",
                    "spec_version": "2.1",
                    "id": stable_id("sighting", &s.id.to_string()),
                    "created_by_ref": producer_id,
                    "created": created,
                    "modified": created,
                    "sighting_of_ref": of,
                    "first_seen": at,
                    "last_seen": at,
                    "count": s.spec.count.min(999_999_999),
                }));
                sightings += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    tracing::debug!(indicators, sightings, "intel export");
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    });
    let name = format!(
        "attachment; filename=\"vigil-intel-{}.json\"",
        now.strftime("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/stix+json;version=2.1".to_string(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        bundle.to_string(),
    )
        .into_response())
}

/// `GET /api/v1/intel/feeds`: the TAXII feeds polled so far, with their state.
pub async fn feeds(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    if !may_read_sources(&auth.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(ApiError::forbidden(
            "role org_user may not read intelligence feeds",
        ));
    }
    let feeds = st.store.list_taxii_feeds().await?;
    Ok(super::page_json(feeds, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse() {
        assert_eq!(parse_types(None).ok(), Some((true, true)));
        assert_eq!(parse_types(Some("sighting")).ok(), Some((false, true)));
        assert_eq!(
            parse_types(Some("indicator, sighting")).ok(),
            Some((true, true))
        );
        assert!(parse_types(Some("malware")).is_err());
        assert!(parse_types(Some(",")).is_err());
    }
}
