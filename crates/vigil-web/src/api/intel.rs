//! `/api/v1/intel`: threat-intelligence import, indicators and sightings.
//!
//! Indicators are platform-wide: every authenticated caller may read them. Importing,
//! revoking and deleting them is for analysts and administrators ([`may_manage_intel`]).
//! Sightings belong to organizations: an organization user sees only its own.

use super::{audit_change, page_json};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use vigil_intel::{ImportProblem, ImportSummary, Indicator, Intel, Source, Tlp};
use vigil_model::{OrgId, Principal, Role, Timestamp};
use vigil_store::{
    IndicatorId, IndicatorQuery, IntelSource, IntelSourceId, NewIndicator, NewIntelSource,
    NewStixObject, SightingQuery, StixPutCounts, UpsertCounts,
};

/// May the principal import, revoke and delete intelligence? Analysts and administrators.
///
/// Kept here rather than as an `Action` in the model's role table because that table is
/// being changed by other work right now; it belongs there once that settles.
pub fn may_manage_intel(p: &Principal) -> bool {
    matches!(p.role, Role::PlatformAdmin | Role::Analyst)
}

/// May the principal see the list of sources? Everyone but organization users (sources are
/// platform configuration).
pub fn may_read_sources(p: &Principal) -> bool {
    !matches!(p.role, Role::OrgUser)
}

/// Refuses with 403 unless the caller may manage intelligence.
pub fn require_manage(auth: &Auth) -> Result<(), ApiError> {
    if may_manage_intel(&auth.principal) {
        Ok(())
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(ApiError::forbidden(format!(
            "role {} may not manage threat intelligence",
            auth.principal.role.as_str()
        )))
    }
}

/// Largest number of problems an import answer lists (the total is always given).
const MAX_PROBLEMS_SHOWN: usize = 1_000;
/// Indicators stored per store call.
const UPSERT_BATCH: usize = 5_000;
/// STIX objects stored per store call.
const OBJECT_BATCH: usize = 5_000;

/// The import formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Stix,
    Misp,
    Csv,
    List,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stix => "stix",
            Self::Misp => "misp",
            Self::Csv => "csv",
            Self::List => "list",
        }
    }
}

/// What one import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The import's record in the source's history (none when recording it failed).
    pub import_id: Option<vigil_store::IntelImportId>,
    pub source_id: IntelSourceId,
    pub format: Format,
    pub summary: ImportSummary,
    pub stored: UpsertCounts,
    /// The STIX objects other than indicators (malware, attack patterns, relationships, ...)
    /// stored in the object store, by type.
    pub objects: StixPutCounts,
    pub problems_total: usize,
    /// Up to [`MAX_PROBLEMS_SHOWN`] of them.
    pub problems: Vec<ImportProblem>,
    /// `retro-hunt scheduled` when indicators were added or changed and the stored events
    /// are being searched for them in the background; otherwise why not (`retro-hunt off`,
    /// `nothing new to hunt`, a full queue).
    pub retro_hunt: &'static str,
}

/// Schedules the retro-hunt of what an import stored; never waits for it.
fn schedule_retro_hunt(
    st: &AppState,
    source_id: IntelSourceId,
    since: Timestamp,
    stored: &UpsertCounts,
) -> &'static str {
    use vigil_pipeline::retrohunt::{RetroHuntJob, Scheduled};
    if stored.inserted + stored.updated == 0 {
        return "nothing new to hunt";
    }
    match st.retro_hunter.get() {
        Some(h) => h.schedule(RetroHuntJob { source_id, since }).as_str(),
        None => Scheduled::Off.as_str(),
    }
}

/// Parses `bytes` in `format` and turns the result into indicators of `source_id`. CPU-bound:
/// call it on a blocking thread.
pub fn parse_import(
    bytes: &[u8],
    format: Format,
    source: &Source,
    source_id: IntelSourceId,
) -> (ImportSummary, Vec<ImportProblem>, Vec<NewIndicator>) {
    let mut intel = Intel::new();
    let (summary, problems) = match format {
        Format::Stix => intel.import_stix(bytes, source),
        Format::Misp => intel.import_misp_event(bytes, source),
        Format::Csv => intel.import_csv(bytes, source),
        Format::List => intel.import_list(bytes, source),
    };
    let items = to_new_indicators(&intel, source_id);
    (summary, problems, items)
}

/// Like [`parse_import`], and also the STIX objects other than indicators (every version) for
/// the object store; an object whose times do not parse is reported with its id and reason.
pub fn parse_import_all(
    bytes: &[u8],
    format: Format,
    source: &Source,
    source_id: IntelSourceId,
) -> (
    ImportSummary,
    Vec<ImportProblem>,
    Vec<NewIndicator>,
    Vec<NewStixObject>,
) {
    let mut intel = Intel::new();
    let (summary, mut problems) = match format {
        Format::Stix => intel.import_stix(bytes, source),
        Format::Misp => intel.import_misp_event(bytes, source),
        Format::Csv => intel.import_csv(bytes, source),
        Format::List => intel.import_list(bytes, source),
    };
    let items = to_new_indicators(&intel, source_id);
    let mut objects = Vec::new();
    for o in intel
        .objects
        .into_versions()
        .filter(|o| o.ty != "indicator")
    {
        match NewStixObject::from_json(o.json, &o.spec_version, Some(source_id)) {
            Ok(n) => objects.push(n),
            Err(e) => problems.push(ImportProblem::new(o.id, e.to_string())),
        }
    }
    (summary, problems, items, objects)
}

/// Stores STIX objects in batches.
pub async fn store_objects(st: &AppState, items: Vec<NewStixObject>) -> ApiResult<StixPutCounts> {
    let mut total = StixPutCounts::default();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let batch: Vec<NewStixObject> = items.by_ref().take(OBJECT_BATCH).collect();
        total.add(&st.store.put_stix_objects(batch).await?);
    }
    Ok(total)
}

fn parse_stix_time(v: Option<&str>) -> Option<Timestamp> {
    v.and_then(|s| s.parse::<Timestamp>().ok())
}

/// The key an atomic indicator is stored under: its STIX id (so the values of one pattern
/// stay together), or for MISP attributes (whose reference is their event) and list lines a
/// stable id from the reference and the value, so a re-import finds the same row.
fn stix_key(ind: &Indicator) -> String {
    let value = format!("{}:{}", ind.value.kind().as_str(), ind.value.text());
    match ind
        .context
        .sources
        .first()
        .and_then(|s| s.reference.as_deref())
    {
        Some(r) if r.starts_with("indicator--") => r.to_string(),
        Some(r) => vigil_intel::stix::stable_id("indicator", &format!("{r}/{value}")),
        None => vigil_intel::stix::stable_id("indicator", &value),
    }
}

/// One stored indicator per STIX indicator (or MISP attribute, or line): the atomic values
/// of one pattern are kept together; patterns the fast matcher cannot hold are stored with
/// their pattern only; revoked STIX indicators are stored revoked, so that a revocation
/// replaces the active version.
pub fn to_new_indicators(intel: &Intel, source_id: IntelSourceId) -> Vec<NewIndicator> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<&Indicator>> = HashMap::new();
    for ind in &intel.indicators {
        let key = stix_key(ind);
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(ind);
    }
    let mut out = Vec::with_capacity(order.len() + intel.patterns.len());
    for key in order {
        let Some(group) = groups.get(&key) else {
            continue;
        };
        let Some(first) = group.first() else {
            continue;
        };
        let ctx = &first.context;
        let values: Vec<String> = group
            .iter()
            .map(|i| format!("{}:{}", i.value.kind().as_str(), i.value.text()))
            .collect();
        let obj = intel.objects.get(&key);
        let object = match obj {
            Some(o) => o.json.clone(),
            None => generated_object(&key, group),
        };
        let modified = obj
            .and_then(|o| parse_stix_time(o.modified.as_deref()))
            .or(first.valid_from)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let pattern = object
            .get("pattern")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(NewIndicator {
            source_id,
            stix_id: key.clone(),
            kind: first.value.kind().as_str().to_string(),
            value: Some(first.value.text()),
            values,
            pattern,
            name: object
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
            description: ctx.description.clone(),
            confidence: group.iter().map(|i| i.confidence).max().unwrap_or(0),
            tlp: ctx.tlp.map(|t| t.as_str().to_string()),
            valid_from: first.valid_from,
            valid_until: first
                .valid_until
                .filter(|u| first.valid_from.is_none_or(|f| f <= *u)),
            labels: ctx.tags.clone(),
            kill_chain: ctx.kill_chain_phases.clone(),
            attack_ids: techniques(&ctx.techniques, &object),
            modified,
            revoked: obj.is_some_and(|o| o.revoked()),
            object,
        });
    }
    for p in &intel.patterns {
        let obj = intel.objects.get(&p.id);
        let ctx = &p.context;
        out.push(NewIndicator {
            source_id,
            stix_id: p.id.clone(),
            kind: "pattern".into(),
            value: None,
            values: Vec::new(),
            pattern: Some(p.pattern_text.clone()),
            name: obj.and_then(|o| o.name()).map(str::to_string),
            description: ctx.description.clone(),
            confidence: p.confidence,
            tlp: ctx.tlp.map(|t| t.as_str().to_string()),
            valid_from: p.valid_from,
            valid_until: p
                .valid_until
                .filter(|u| p.valid_from.is_none_or(|f| f <= *u)),
            labels: ctx.tags.clone(),
            kill_chain: ctx.kill_chain_phases.clone(),
            attack_ids: ctx.techniques.clone(),
            modified: obj
                .and_then(|o| parse_stix_time(o.modified.as_deref()))
                .unwrap_or(Timestamp::UNIX_EPOCH),
            revoked: obj.is_some_and(|o| o.revoked()),
            object: obj.map_or(Value::Null, |o| o.json.clone()),
        });
    }
    let stored: std::collections::HashSet<&str> = out.iter().map(|n| n.stix_id.as_str()).collect();
    let mut revoked = Vec::new();
    for o in intel.objects.of_type("indicator") {
        if !o.revoked() || stored.contains(o.id.as_str()) {
            continue;
        }
        let Some(pattern) = o.str("pattern") else {
            continue;
        };
        revoked.push(NewIndicator {
            source_id,
            stix_id: o.id.clone(),
            kind: "pattern".into(),
            value: None,
            values: Vec::new(),
            pattern: Some(pattern.to_string()),
            name: o.name().map(str::to_string),
            description: None,
            confidence: 0,
            tlp: None,
            valid_from: None,
            valid_until: None,
            labels: Vec::new(),
            kill_chain: Vec::new(),
            attack_ids: Vec::new(),
            modified: parse_stix_time(o.modified.as_deref()).unwrap_or(Timestamp::UNIX_EPOCH),
            revoked: true,
            object: o.json.clone(),
        });
    }
    out.extend(revoked);
    out
}

/// ATT&CK technique ids from the context (relationships), else from the object's own
/// external references.
fn techniques(from_context: &[String], object: &Value) -> Vec<String> {
    if from_context.is_empty() {
        vigil_intel::stix::technique_ids(object)
    } else {
        from_context.to_vec()
    }
}

/// A STIX 2.1 indicator for values that came without one (MISP, CSV, lists), under `id`.
fn generated_object(id: &str, group: &[&Indicator]) -> Value {
    let inds: Vec<Indicator> = group.iter().map(|i| (*i).clone()).collect();
    let at = group
        .first()
        .and_then(|i| i.valid_from)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let bundle = vigil_intel::export_bundle(&inds[..1.min(inds.len())], &[], "Vigil", at);
    let mut obj = bundle
        .get("objects")
        .and_then(|o| o.get(1))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(m) = obj.as_object_mut() {
        m.insert("id".into(), Value::String(id.to_string()));
        m.remove("created_by_ref");
        if inds.len() > 1 {
            let parts: Vec<String> = inds
                .iter()
                .map(|i| {
                    vigil_intel::pattern::pattern_for(&i.value)
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string()
                })
                .collect();
            m.insert(
                "pattern".into(),
                Value::String(format!("[{}]", parts.join(" OR "))),
            );
        }
    }
    obj
}

/// Stores a parsed import in batches.
pub async fn store_indicators(st: &AppState, items: Vec<NewIndicator>) -> ApiResult<UpsertCounts> {
    let mut total = UpsertCounts::default();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let batch: Vec<NewIndicator> = items.by_ref().take(UPSERT_BATCH).collect();
        let c = st.store.upsert_indicators(batch).await?;
        total.inserted += c.inserted;
        total.updated += c.updated;
        total.unchanged += c.unchanged;
    }
    Ok(total)
}

/// The source of that name, created (STIX kind, enabled, trust 50) when it does not exist.
pub async fn source_named(st: &AppState, name: &str, kind: &str) -> ApiResult<IntelSource> {
    if let Some(s) = st
        .store
        .list_intel_sources()
        .await?
        .into_iter()
        .find(|s| s.spec.name == name)
    {
        return Ok(s);
    }
    let spec = NewIntelSource {
        name: name.to_string(),
        kind: kind.to_string(),
        url: None,
        enabled: true,
        trust: 50,
    };
    spec.validate()?;
    Ok(st.store.upsert_intel_source(spec).await?)
}

/// Runs an import of `bytes` into the source: parse on a blocking thread, store, report.
/// Recorded in the source's import history as coming by TAXII (its callers are the TAXII
/// server and client); other paths call [`run_import_as`].
pub async fn run_import(
    st: &AppState,
    bytes: Bytes,
    format: Format,
    source: &IntelSource,
    default_confidence: Option<u8>,
    default_tlp: Option<Tlp>,
) -> ApiResult<ImportReport> {
    let origin = super::intel_admin::ImportOrigin::taxii(&source.spec.name);
    run_import_as(
        st,
        bytes,
        format,
        source,
        default_confidence,
        default_tlp,
        origin,
    )
    .await
}

/// [`run_import`] recorded as done by `origin`. Values without their own confidence or
/// marking get the source's trust and default TLP unless the caller gives others.
pub async fn run_import_as(
    st: &AppState,
    bytes: Bytes,
    format: Format,
    source: &IntelSource,
    default_confidence: Option<u8>,
    default_tlp: Option<Tlp>,
    origin: super::intel_admin::ImportOrigin,
) -> ApiResult<ImportReport> {
    let started = Timestamp::now();
    let mut src = Source::new(source.spec.name.clone());
    src.default_confidence = default_confidence.unwrap_or(source.spec.trust);
    src.default_tlp = default_tlp.or_else(|| source.default_tlp.as_deref().and_then(Tlp::parse));
    let source_id = source.id;
    let (summary, mut problems, items, objects) =
        tokio::task::spawn_blocking(move || parse_import_all(&bytes, format, &src, source_id))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "intel import task failed");
                ApiError::internal()
            })?;
    let stored = store_indicators(st, items).await?;
    let retro_hunt = schedule_retro_hunt(st, source_id, started, &stored);
    let objects = store_objects(st, objects).await?;
    if !problems.is_empty() {
        metrics::counter!("vigil_intel_rejected_total", "format" => format.as_str())
            .increment(problems.len() as u64);
    }
    let problems_total = problems.len();
    problems.truncate(MAX_PROBLEMS_SHOWN);
    let import_id = super::intel_admin::record_import(
        st,
        source_id,
        &origin,
        format,
        started,
        &stored,
        problems_total,
        &problems,
    )
    .await;
    Ok(ImportReport {
        import_id,
        source_id,
        format,
        summary,
        stored,
        objects,
        problems_total,
        problems,
        retro_hunt,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// The source's name; created when new.
    pub source: String,
    /// `stix`, `misp`, `csv` or `list`; by default from the content type (JSON: STIX,
    /// `text/csv`: CSV, other text: list).
    pub format: Option<Format>,
    pub confidence: Option<u8>,
    pub tlp: Option<String>,
}

fn format_from(headers: &HeaderMap) -> Format {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.contains("json") {
        Format::Stix
    } else if ct.starts_with("text/csv") {
        Format::Csv
    } else {
        Format::List
    }
}

pub async fn import(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ImportParams>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    require_manage(&auth)?;
    let Query(p) = params?;
    if p.confidence.is_some_and(|c| c > 100) {
        return Err(ApiError::invalid("confidence", "must be 0 to 100"));
    }
    let tlp = match &p.tlp {
        None => None,
        Some(t) => Some(Tlp::parse(t).ok_or_else(|| {
            ApiError::invalid("tlp", "must be clear, green, amber, amber+strict or red")
        })?),
    };
    let format = p.format.unwrap_or_else(|| format_from(&headers));
    let kind = format.as_str();
    let source = source_named(&st, p.source.trim(), kind).await?;
    let origin = super::intel_admin::ImportOrigin::of(&auth, "api");
    let report = run_import_as(&st, body, format, &source, p.confidence, tlp, origin).await?;
    audit_change(
        &st,
        &auth,
        "intel.import",
        format!("intel-source/{}", source.id),
        None,
        &format!(
            "{} {}: {} inserted, {} updated, {} unchanged, {} STIX objects stored ({} new versions), {} problems",
            source.spec.name,
            kind,
            report.stored.inserted,
            report.stored.updated,
            report.stored.unchanged,
            report.objects.inserted,
            report.objects.new_versions,
            report.problems_total
        ),
    )
    .await;
    Ok(Json(report))
}

pub async fn list_sources(
    State(st): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    if !may_read_sources(&auth.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(ApiError::forbidden(
            "role org_user may not read intelligence sources",
        ));
    }
    let sources = st.store.list_intel_sources().await?;
    Ok(page_json(sources, None))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub source_id: Option<IntelSourceId>,
    pub kind: Option<String>,
    /// Exact normalized value.
    pub value: Option<String>,
    pub stix_id: Option<String>,
    /// Substring of value, name or pattern.
    pub q: Option<String>,
    pub include_revoked: Option<bool>,
    pub added_after: Option<Timestamp>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only this TLP marking.
    pub tlp: Option<String>,
    pub min_confidence: Option<u8>,
    pub max_confidence: Option<u8>,
    /// Only those with this label (tag).
    pub label: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub state: Option<String>,
}

/// The store query of the indicator search (API and pages alike), with the TLP rule of
/// the caller applied.
pub fn indicator_query(p: ListParams, principal: &Principal) -> ApiResult<IndicatorQuery> {
    // A value is looked up in its normalized form when it parses as one.
    let value = p
        .value
        .filter(|v| !v.trim().is_empty())
        .map(|v| vigil_intel::IndicatorValue::sniff(v.trim()).map_or(v, |iv| iv.text()));
    let tlp = match p.tlp.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            Tlp::parse(t)
                .ok_or_else(|| {
                    ApiError::invalid("tlp", "must be clear, green, amber, amber+strict or red")
                })?
                .as_str()
                .to_string(),
        ),
    };
    let state = match p.state.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(s) => Some(
            vigil_store::IndicatorState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", "must be active, expired or revoked"))?,
        ),
    };
    if p.min_confidence.is_some_and(|c| c > 100) || p.max_confidence.is_some_and(|c| c > 100) {
        return Err(ApiError::invalid("confidence", "must be 0 to 100"));
    }
    let nonblank = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(IndicatorQuery {
        source_id: p.source_id,
        kind: nonblank(p.kind),
        value,
        stix_id: nonblank(p.stix_id),
        text: nonblank(p.q),
        include_revoked: p.include_revoked.unwrap_or(false),
        added_after: p.added_after,
        oldest_first: false,
        limit: p.limit.unwrap_or(0),
        cursor: nonblank(p.cursor),
        tlp,
        tlp_exclude: super::intel_admin::tlp_exclude_for(principal),
        min_confidence: p.min_confidence,
        max_confidence: p.max_confidence,
        label: nonblank(p.label),
        state,
        ..IndicatorQuery::default()
    })
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params?;
    let q = indicator_query(p, &auth.principal)?;
    let page = st.store.list_indicators(&q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

/// An indicator with the objects related to it through relationships (`indicates` →
/// malware, threat actors, attack patterns, ...).
#[derive(Debug, Serialize)]
pub struct IndicatorDetail {
    #[serde(flatten)]
    pub indicator: vigil_store::StoredIndicator,
    pub related: Vec<super::intel_objects::Related>,
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IndicatorId>,
) -> ApiResult<Json<IndicatorDetail>> {
    let indicator = st
        .store
        .get_indicator(id)
        .await?
        .filter(|i| super::intel_admin::may_see(&auth.principal, i))
        .ok_or_else(|| ApiError::not_found("indicator"))?;
    let related = super::intel_objects::related_of(&st, &indicator.spec.stix_id).await?;
    Ok(Json(IndicatorDetail { indicator, related }))
}

pub async fn revoke(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IndicatorId>,
) -> ApiResult<Json<vigil_store::StoredIndicator>> {
    require_manage(&auth)?;
    let ind = st
        .store
        .revoke_indicator(id)
        .await?
        .ok_or_else(|| ApiError::not_found("indicator"))?;
    audit_change(
        &st,
        &auth,
        "intel.revoke",
        format!("indicator/{id}"),
        None,
        &ind.spec.stix_id,
    )
    .await;
    Ok(Json(ind))
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<IndicatorId>,
) -> ApiResult<StatusCode> {
    require_manage(&auth)?;
    let ind = st
        .store
        .get_indicator(id)
        .await?
        .ok_or_else(|| ApiError::not_found("indicator"))?;
    if !st.store.delete_indicator(id).await? {
        return Err(ApiError::not_found("indicator"));
    }
    audit_change(
        &st,
        &auth,
        "intel.delete",
        format!("indicator/{id}"),
        None,
        &ind.spec.stix_id,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SightingParams {
    pub indicator_id: Option<IndicatorId>,
    pub org_id: Option<OrgId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

pub async fn sightings(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<SightingParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params?;
    let q = SightingQuery {
        indicator_id: p.indicator_id,
        org_id: p.org_id,
        from: p.from,
        to: p.to,
        limit: p.limit.unwrap_or(0),
        cursor: p.cursor,
    };
    let page = st.store.list_sightings(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}
