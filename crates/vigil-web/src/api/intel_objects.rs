//! `/api/v1/intel/objects`: the stored STIX objects (malware, intrusion sets, ATT&CK
//! techniques, relationships, reports, ...) with their versions and relationships.
//!
//! Like indicators, these objects are platform-wide intelligence: every authenticated caller
//! may read them; they change only through imports (which are audited there).

use super::page_json;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vigil_store::{IndicatorQuery, IntelSourceId, StixObjectQuery, StixVersion, StoredStixObject};

/// Relationships listed for one object at most (ATT&CK techniques have a few hundred).
pub const MAX_RELATIONSHIPS: usize = 5_000;
/// Ids looked up per store call.
const IDS_PER_QUERY: usize = 500;

/// A short description of a STIX object at one end of a relationship.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObjectSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub name: Option<String>,
    /// The ATT&CK id (`T1059.001`, `G0007`, `S0154`), when it has one.
    pub attack_id: Option<String>,
    pub revoked: bool,
    /// For indicators: the stored indicator's id in Vigil (`/api/v1/intel/indicators/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator_id: Option<vigil_store::IndicatorId>,
}

impl ObjectSummary {
    pub fn of(o: &StoredStixObject) -> Self {
        Self {
            id: o.spec.stix_id.clone(),
            ty: o.spec.ty.clone(),
            name: o.spec.name().map(str::to_string),
            attack_id: o.spec.attack_id().map(str::to_string),
            revoked: o.spec.revoked
                || o.spec
                    .object
                    .get("x_mitre_deprecated")
                    .and_then(Value::as_bool)
                    == Some(true),
            indicator_id: None,
        }
    }

    fn unknown(id: &str) -> Self {
        Self {
            id: id.to_string(),
            ty: id.split_once("--").map_or("", |(t, _)| t).to_string(),
            name: None,
            attack_id: None,
            revoked: false,
            indicator_id: None,
        }
    }
}

/// One relationship of an object and the object at its other end.
#[derive(Debug, Clone, Serialize)]
pub struct Related {
    /// `outgoing` (the object is the source) or `incoming` (it is the target).
    pub direction: &'static str,
    pub relationship_type: String,
    pub relationship_id: String,
    pub description: Option<String>,
    pub object: ObjectSummary,
}

/// Every stored version of one object, oldest first.
pub async fn versions_of(st: &AppState, id: &str) -> ApiResult<Vec<StoredStixObject>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = st
            .store
            .list_stix_objects(&StixObjectQuery {
                ids: vec![id.to_string()],
                version: StixVersion::All,
                limit: vigil_store::MAX_PAGE,
                cursor,
                ..StixObjectQuery::default()
            })
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The latest versions of these objects, by id (missing ones left out).
pub async fn latest_of(
    st: &AppState,
    ids: impl IntoIterator<Item = String>,
) -> ApiResult<BTreeMap<String, StoredStixObject>> {
    let ids: Vec<String> = ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let page = st
            .store
            .list_stix_objects(&StixObjectQuery {
                ids: chunk.to_vec(),
                limit: vigil_store::MAX_PAGE,
                ..StixObjectQuery::default()
            })
            .await?;
        for o in page.items {
            out.insert(o.spec.stix_id.clone(), o);
        }
    }
    Ok(out)
}

/// The latest relationships from or to `id` (at most [`MAX_RELATIONSHIPS`]), with the
/// objects at their other ends (stored STIX objects, or indicators from the indicator store).
pub async fn related_of(st: &AppState, id: &str) -> ApiResult<Vec<Related>> {
    let mut rels = Vec::new();
    let mut cursor = None;
    while rels.len() < MAX_RELATIONSHIPS {
        let page = st
            .store
            .list_stix_objects(&StixObjectQuery {
                touching: Some(id.to_string()),
                types: vec!["relationship".into()],
                limit: vigil_store::MAX_PAGE,
                cursor,
                ..StixObjectQuery::default()
            })
            .await?;
        rels.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    rels.truncate(MAX_RELATIONSHIPS);
    let other_end = |r: &StoredStixObject| -> Option<(&'static str, String)> {
        let src = r.spec.source_ref()?;
        let dst = r.spec.target_ref()?;
        if src == id {
            Some(("outgoing", dst.to_string()))
        } else {
            Some(("incoming", src.to_string()))
        }
    };
    let ends: Vec<String> = rels
        .iter()
        .filter_map(|r| other_end(r).map(|e| e.1))
        .collect();
    let objects = latest_of(st, ends.iter().cloned()).await?;
    let mut indicators: BTreeMap<String, ObjectSummary> = BTreeMap::new();
    for end in ends
        .iter()
        .filter(|e| e.starts_with("indicator--") && !objects.contains_key(*e))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(IDS_PER_QUERY)
    {
        let found = st
            .store
            .list_indicators(&IndicatorQuery {
                stix_id: Some(end.clone()),
                include_revoked: true,
                limit: 1,
                ..IndicatorQuery::default()
            })
            .await?;
        if let Some(i) = found.items.first() {
            indicators.insert(
                end.clone(),
                ObjectSummary {
                    id: end.clone(),
                    ty: "indicator".into(),
                    name: i.spec.name.clone().or_else(|| i.spec.value.clone()),
                    attack_id: None,
                    revoked: i.is_revoked(),
                    indicator_id: Some(i.id),
                },
            );
        }
    }
    let mut out: Vec<Related> = rels
        .iter()
        .filter_map(|r| {
            let (direction, end) = other_end(r)?;
            let object = objects
                .get(&end)
                .map(ObjectSummary::of)
                .or_else(|| indicators.get(&end).cloned())
                .unwrap_or_else(|| ObjectSummary::unknown(&end));
            Some(Related {
                direction,
                relationship_type: r
                    .spec
                    .relationship_type()
                    .unwrap_or("related-to")
                    .to_string(),
                relationship_id: r.spec.stix_id.clone(),
                description: r
                    .spec
                    .object
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                object,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (
            a.direction,
            &a.relationship_type,
            &a.object.ty,
            &a.object.name,
        )
            .cmp(&(
                b.direction,
                &b.relationship_type,
                &b.object.ty,
                &b.object.name,
            ))
    });
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// STIX type (`malware`, `attack-pattern`, ...).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Substring of the name, or an ATT&CK id or STIX id.
    pub q: Option<String>,
    pub attack_id: Option<String>,
    pub source_id: Option<IntelSourceId>,
    /// Every version instead of the latest ones.
    pub all_versions: Option<bool>,
    pub include_revoked: Option<bool>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    _auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(p) = params?;
    if p.ty.as_ref().is_some_and(|t| t.len() > 250) {
        return Err(ApiError::invalid("type", "is too long"));
    }
    let q = StixObjectQuery {
        types: p.ty.into_iter().collect(),
        text: p.q,
        attack_id: p.attack_id,
        source_id: p.source_id,
        version: if p.all_versions == Some(true) {
            StixVersion::All
        } else {
            StixVersion::Last
        },
        exclude_revoked: p.include_revoked != Some(true),
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
        ..StixObjectQuery::default()
    };
    let page = st.store.list_stix_objects(&q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

/// One object: its latest version, every version, and its relationships both ways.
#[derive(Debug, Serialize)]
pub struct ObjectDetail {
    pub object: StoredStixObject,
    pub versions: Vec<StoredStixObject>,
    pub relationships: Vec<Related>,
}

pub async fn get(
    State(st): State<AppState>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ObjectDetail>> {
    if id.len() > 300 || !id.contains("--") {
        return Err(ApiError::not_found("STIX object"));
    }
    let versions = versions_of(&st, &id).await?;
    let Some(object) = versions
        .iter()
        .find(|v| v.latest)
        .or(versions.last())
        .cloned()
    else {
        return Err(ApiError::not_found("STIX object"));
    };
    let relationships = related_of(&st, &id).await?;
    Ok(Json(ObjectDetail {
        object,
        versions,
        relationships,
    }))
}
