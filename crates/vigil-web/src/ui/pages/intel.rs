//! Threat-intelligence pages: `/intel` (indicator search), `/intel/indicators/{id}` (detail
//! with provenance, linked objects, sightings and the revoke button) and `/intel/sources`
//! (sources with state and counts, settings form, import upload, import history with the
//! rejected objects) and `/intel/feeds` (the configured TAXII feeds with their polling state
//! and next attempt).
//!
//! The search and the detail go through the API's functions (`api::intel::indicator_query`,
//! `api::intel_admin::may_see`), so the TLP rule is the same: organization users see only
//! unmarked, TLP:CLEAR and TLP:GREEN indicators. The sources page is for staff; changing
//! settings, uploading and revoking for intelligence managers. Every form carries the CSRF
//! token.

use crate::api::intel::{Format, ListParams, may_manage_intel, may_read_sources};
use crate::api::intel_admin::{ImportOrigin, SourcePatchBody, apply_patch, may_see};
use crate::auth::{Auth, Via};
use crate::state::AppState;
use crate::ui::view::{self, Opt, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::Form;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use std::collections::HashMap;
use vigil_model::Timestamp;
use vigil_store::{
    IndicatorId, IndicatorQuery, IndicatorState, IntelImportId, IntelSource, IntelSourceId,
    OrgQuery, SightingQuery, StoredIndicator,
};

fn auth_of(ui: &UiAuth) -> Auth {
    Auth {
        principal: ui.principal.clone(),
        via: Via::Session(ui.session.clone()),
        client: ui.client.clone(),
    }
}

fn state_name(t: &'static crate::ui::i18n::Catalog, s: IndicatorState) -> &'static str {
    match s {
        IndicatorState::Active => t.t("intel.state_active"),
        IndicatorState::Expired => t.t("intel.state_expired"),
        IndicatorState::Revoked => t.t("intel.state_revoked"),
    }
}

fn tlp_class(tlp: Option<&str>) -> &'static str {
    match tlp {
        Some("red") => "tlp tlp-red",
        Some("amber" | "amber+strict") => "tlp tlp-amber",
        Some("green") => "tlp tlp-green",
        Some("clear") => "tlp tlp-clear",
        _ => "tlp",
    }
}

fn tlp_label(tlp: Option<&str>) -> String {
    tlp.map(|t| format!("TLP:{}", t.to_ascii_uppercase()))
        .unwrap_or_else(|| "—".into())
}

/// A row of the indicator table.
pub struct IndicatorRow {
    pub id: String,
    pub value: String,
    pub kind: String,
    pub source: String,
    pub tlp: String,
    pub tlp_class: &'static str,
    pub confidence: u8,
    pub state: &'static str,
    pub state_key: &'static str,
    pub valid_until: String,
    pub labels: String,
}

impl IndicatorRow {
    fn new(
        i: &StoredIndicator,
        t: &'static crate::ui::i18n::Catalog,
        names: &HashMap<IntelSourceId, String>,
        now: Timestamp,
    ) -> Self {
        let state = IndicatorState::of(i, now);
        Self {
            id: i.id.to_string(),
            value: view::truncate(
                i.spec
                    .value
                    .as_deref()
                    .or(i.spec.pattern.as_deref())
                    .unwrap_or(""),
                120,
            ),
            kind: i.spec.kind.clone(),
            source: names
                .get(&i.spec.source_id)
                .cloned()
                .unwrap_or_else(|| i.spec.source_id.to_string()),
            tlp: tlp_label(i.spec.tlp.as_deref()),
            tlp_class: tlp_class(i.spec.tlp.as_deref()),
            confidence: i.spec.confidence,
            state: state_name(t, state),
            state_key: state.as_str(),
            valid_until: view::fmt_opt_time(i.spec.valid_until),
            labels: i.spec.labels.join(", "),
        }
    }
}

async fn source_names(
    st: &AppState,
    t: &'static crate::ui::i18n::Catalog,
) -> UiResult<(Vec<IntelSource>, HashMap<IntelSourceId, String>)> {
    let sources = st.store.list_intel_sources().await.ui(t)?;
    let names = sources
        .iter()
        .map(|s| (s.id, s.spec.name.clone()))
        .collect();
    Ok((sources, names))
}

const KINDS: &[&str] = &[
    "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sm3", "ja3", "ja4",
    "pattern",
];
const TLPS: &[&str] = &["clear", "green", "amber", "amber+strict", "red"];

#[derive(Template)]
#[template(path = "intel.html")]
pub struct IntelPage {
    pub page: Frame,
    pub q: String,
    pub value: String,
    pub label: String,
    pub min_confidence: String,
    pub max_confidence: String,
    pub kinds: Vec<Opt>,
    pub sources: Vec<Opt>,
    pub tlps: Vec<Opt>,
    pub states: Vec<Opt>,
    pub rows: Vec<IndicatorRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub error: Option<String>,
    pub can_read_sources: bool,
}

/// `/intel`: indicator search.
pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    let p = Params::parse(raw.as_deref());
    let (sources, names) = source_names(&st, t).await?;
    let small = |name: &str| p.get(name).and_then(|v| v.parse::<u8>().ok());
    let state = p.get("state").unwrap_or("active");
    let params = ListParams {
        source_id: p.get("source_id").and_then(|s| s.parse().ok()),
        kind: p.get("kind").map(str::to_string),
        value: p.get("value").map(str::to_string),
        q: p.get("q").map(str::to_string),
        tlp: p.get("tlp").map(str::to_string),
        min_confidence: small("min_confidence"),
        max_confidence: small("max_confidence"),
        label: p.get("label").map(str::to_string),
        state: (state != "any").then(|| state.to_string()),
        include_revoked: Some(state == "any"),
        limit: Some(view::PAGE_SIZE),
        cursor: p.get("cursor").map(str::to_string),
        ..ListParams::default()
    };
    let now = Timestamp::now();
    let (rows, next, error) = match crate::api::intel::indicator_query(params, &ui.principal) {
        Err(e) => (Vec::new(), None, Some(e.message)),
        Ok(q) => match st.store.list_indicators(&q).await {
            Ok(page) => (
                page.items
                    .iter()
                    .map(|i| IndicatorRow::new(i, t, &names, now))
                    .collect(),
                page.next_cursor,
                None,
            ),
            Err(vigil_store::StoreError::BadCursor(_)) => {
                (Vec::new(), None, Some(t.t("error.bad_cursor").to_string()))
            }
            Err(e) => return Err(UiError::from_store(e, t)),
        },
    };
    let visible_tlps: Vec<&str> = TLPS
        .iter()
        .copied()
        .filter(|m| {
            !crate::api::intel_admin::tlp_exclude_for(&ui.principal)
                .iter()
                .any(|x| x == m)
        })
        .collect();
    Ok(html(&IntelPage {
        page: ui.frame("intel", t.t("intel.title").to_string()),
        q: p.string("q"),
        value: p.string("value"),
        label: p.string("label"),
        min_confidence: p.string("min_confidence"),
        max_confidence: p.string("max_confidence"),
        kinds: options(t, KINDS.iter().map(|k| (*k, *k)), p.get("kind")),
        sources: options(
            t,
            sources
                .iter()
                .map(|s| (s.id.to_string(), s.spec.name.clone())),
            p.get("source_id"),
        ),
        tlps: options(
            t,
            visible_tlps
                .iter()
                .map(|m| (m.to_string(), tlp_label(Some(m)))),
            p.get("tlp"),
        ),
        states: ["active", "expired", "revoked", "any"]
            .iter()
            .map(|s| Opt::new(*s, t.t(state_key(s)), Some(state)))
            .collect(),
        rows,
        next_url: next.map(|c| p.with_cursor("/intel", Some(&c))),
        first_url: p
            .get("cursor")
            .is_some()
            .then(|| p.with_cursor("/intel", None)),
        error,
        can_read_sources: may_read_sources(&ui.principal),
    }))
}

fn state_key(s: &str) -> &'static str {
    match s {
        "active" => "intel.state_active",
        "expired" => "intel.state_expired",
        "revoked" => "intel.state_revoked",
        _ => "intel.state_any",
    }
}

/// A source that supplied the same value.
pub struct ProvenanceRow {
    pub id: String,
    pub source: String,
    pub stix_id: String,
    pub confidence: u8,
    pub tlp: String,
    pub state: &'static str,
    pub first_seen: String,
    pub last_seen: String,
    pub this: bool,
}

pub struct RelatedRow {
    pub relationship: String,
    pub ty: String,
    pub name: String,
    pub attack_id: Option<String>,
    pub stix_id: String,
}

pub struct SightingRow {
    pub seen: String,
    pub org: String,
    pub count: u32,
    pub event_id: Option<String>,
    pub alert_id: Option<String>,
}

#[derive(Template)]
#[template(path = "intel_indicator.html")]
pub struct IndicatorPage {
    pub page: Frame,
    pub id: String,
    pub value: String,
    pub kind: String,
    pub values: Vec<String>,
    pub pattern: Option<String>,
    pub name: String,
    pub description: String,
    pub stix_id: String,
    pub source: String,
    pub tlp: String,
    pub tlp_class: &'static str,
    pub confidence: u8,
    pub state: &'static str,
    pub valid_from: String,
    pub valid_until: String,
    pub modified: String,
    pub first_seen: String,
    pub last_seen: String,
    pub revoked_at: String,
    pub labels: Vec<String>,
    pub kill_chain: Vec<String>,
    pub attack_ids: Vec<String>,
    pub provenance: Vec<ProvenanceRow>,
    pub related: Vec<RelatedRow>,
    pub sightings: Vec<SightingRow>,
    pub can_revoke: bool,
    pub object_json: String,
}

/// `/intel/indicators/{id}`
pub async fn detail(State(st): State<AppState>, ui: UiAuth, Path(id): Path<String>) -> UiResult {
    let t = ui.catalog();
    let id: IndicatorId = id.parse().map_err(|_| UiError::not_found(t))?;
    let ind = st
        .store
        .get_indicator(id)
        .await
        .ui(t)?
        .filter(|i| may_see(&ui.principal, i))
        .ok_or_else(|| UiError::not_found(t))?;
    let (_, names) = source_names(&st, t).await?;
    let now = Timestamp::now();
    let name_of = |s: IntelSourceId| names.get(&s).cloned().unwrap_or_else(|| s.to_string());
    // Every source's indicator that carries one of the same values.
    let mut provenance: Vec<ProvenanceRow> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in ind.spec.plain_values().into_iter().take(20) {
        let q = IndicatorQuery {
            value: Some(v),
            include_revoked: true,
            tlp_exclude: crate::api::intel_admin::tlp_exclude_for(&ui.principal),
            limit: 100,
            ..IndicatorQuery::default()
        };
        for other in st.store.list_indicators(&q).await.ui(t)?.items {
            if !seen.insert(other.id) {
                continue;
            }
            provenance.push(ProvenanceRow {
                id: other.id.to_string(),
                source: name_of(other.spec.source_id),
                stix_id: other.spec.stix_id.clone(),
                confidence: other.spec.confidence,
                tlp: tlp_label(other.spec.tlp.as_deref()),
                state: state_name(t, IndicatorState::of(&other, now)),
                first_seen: view::fmt_time(other.first_seen),
                last_seen: view::fmt_time(other.last_seen),
                this: other.id == ind.id,
            });
        }
    }
    let related = match crate::api::intel_objects::related_of(&st, &ind.spec.stix_id).await {
        Ok(r) => r
            .into_iter()
            .map(|r| RelatedRow {
                relationship: r.relationship_type,
                ty: r.object.ty,
                name: r.object.name.unwrap_or_default(),
                attack_id: r.object.attack_id,
                stix_id: r.object.id,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e.message, "related objects of an indicator failed");
            Vec::new()
        }
    };
    let scope = ui.principal.scope();
    let orgs = st
        .store
        .list_orgs(scope, &OrgQuery::default())
        .await
        .ui(t)?;
    let org_names = view::OrgNames::new(&orgs);
    let sightings = st
        .store
        .list_sightings(
            scope,
            &SightingQuery {
                indicator_id: Some(ind.id),
                limit: 100,
                ..SightingQuery::default()
            },
        )
        .await
        .ui(t)?
        .items
        .into_iter()
        .map(|s| SightingRow {
            seen: view::fmt_time(s.spec.seen_at),
            org: org_names.name(s.spec.org_id),
            count: s.spec.count,
            event_id: s.spec.event_id.map(|e| e.to_string()),
            alert_id: s.spec.alert_id.map(|a| a.to_string()),
        })
        .collect();
    let spec = &ind.spec;
    Ok(html(&IndicatorPage {
        page: ui.frame(
            "intel",
            format!(
                "{} {}",
                t.t("intel.indicator"),
                view::truncate(spec.value.as_deref().unwrap_or(&spec.stix_id), 60)
            ),
        ),
        id: ind.id.to_string(),
        value: spec.value.clone().unwrap_or_default(),
        kind: spec.kind.clone(),
        values: spec.values.clone(),
        pattern: spec.pattern.clone(),
        name: spec.name.clone().unwrap_or_default(),
        description: spec.description.clone().unwrap_or_default(),
        stix_id: spec.stix_id.clone(),
        source: name_of(spec.source_id),
        tlp: tlp_label(spec.tlp.as_deref()),
        tlp_class: tlp_class(spec.tlp.as_deref()),
        confidence: spec.confidence,
        state: state_name(t, IndicatorState::of(&ind, now)),
        valid_from: view::fmt_opt_time(spec.valid_from),
        valid_until: view::fmt_opt_time(spec.valid_until),
        modified: view::fmt_time(spec.modified),
        first_seen: view::fmt_time(ind.first_seen),
        last_seen: view::fmt_time(ind.last_seen),
        revoked_at: view::fmt_opt_time(ind.revoked_at),
        labels: spec.labels.clone(),
        kill_chain: spec.kill_chain.clone(),
        attack_ids: spec.attack_ids.clone(),
        provenance,
        related,
        sightings,
        can_revoke: may_manage_intel(&ui.principal) && !ind.is_revoked(),
        object_json: serde_json::to_string_pretty(&spec.object).unwrap_or_default(),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /intel/indicators/{id}/revoke`
pub async fn revoke(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> UiResult {
    let t = ui.catalog();
    view::check_post_allowed(&ui, &headers, &form.csrf, may_manage_intel(&ui.principal))?;
    let id: IndicatorId = id.parse().map_err(|_| UiError::not_found(t))?;
    let ind = st
        .store
        .revoke_indicator(id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    crate::api::audit_change(
        &st,
        &auth_of(&ui),
        "intel.revoke",
        format!("indicator/{id}"),
        None,
        &ind.spec.stix_id,
    )
    .await;
    Ok(Redirect::to(&format!("/intel/indicators/{id}")).into_response())
}

pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub enabled: bool,
    pub trust: u8,
    pub default_tlp: String,
    pub tlp_options: Vec<Opt>,
    pub description: String,
    pub total: u64,
    pub active: u64,
    pub last_import: String,
    pub selected: bool,
}

pub struct RejectionRow {
    pub id: String,
    pub reason: String,
}

pub struct ImportRow {
    pub id: String,
    pub finished: String,
    pub actor: String,
    pub via: String,
    pub format: String,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub rejections: Vec<RejectionRow>,
    pub open: bool,
}

#[derive(Template)]
#[template(path = "intel_sources.html")]
pub struct SourcesPage {
    pub page: Frame,
    pub sources: Vec<SourceRow>,
    pub can_manage: bool,
    pub formats: Vec<Opt>,
    pub selected: Option<String>,
    pub selected_name: String,
    pub imports: Vec<ImportRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub notice: Option<String>,
}

/// `/intel/sources`
pub async fn sources(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !may_read_sources(&ui.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    let p = Params::parse(raw.as_deref());
    let selected: Option<IntelSourceId> = p.get("source").and_then(|s| s.parse().ok());
    let opened: Option<IntelImportId> = p.get("import").and_then(|s| s.parse().ok());
    let all = st.store.list_intel_sources().await.ui(t)?;
    let counts: HashMap<IntelSourceId, (u64, u64)> = st
        .store
        .intel_source_counts()
        .await
        .ui(t)?
        .into_iter()
        .map(|c| (c.source_id, (c.total, c.active)))
        .collect();
    let mut rows = Vec::with_capacity(all.len());
    for s in &all {
        let last = st
            .store
            .list_intel_imports(Some(s.id), 1, None)
            .await
            .ui(t)?
            .items
            .into_iter()
            .next();
        let (total, active) = counts.get(&s.id).copied().unwrap_or((0, 0));
        let current = s.default_tlp.as_deref().unwrap_or("");
        let mut tlp_options = vec![Opt::new("", t.t("intel.tlp_none"), Some(current))];
        tlp_options.extend(
            TLPS.iter()
                .map(|m| Opt::new(*m, tlp_label(Some(m)), Some(current))),
        );
        rows.push(SourceRow {
            id: s.id.to_string(),
            name: s.spec.name.clone(),
            kind: s.spec.kind.clone(),
            url: s.spec.url.clone().unwrap_or_default(),
            enabled: s.spec.enabled,
            trust: s.spec.trust,
            default_tlp: tlp_label(s.default_tlp.as_deref()),
            tlp_options,
            description: s.description.clone().unwrap_or_default(),
            total,
            active,
            last_import: last
                .map(|i| {
                    format!(
                        "{} · +{} / ~{} / ={} / ✕{}",
                        view::fmt_time(i.finished_at),
                        i.spec.inserted,
                        i.spec.updated,
                        i.spec.unchanged,
                        i.spec.rejected
                    )
                })
                .unwrap_or_else(|| "—".into()),
            selected: Some(s.id) == selected,
        });
    }
    let mut imports = Vec::new();
    let mut next = None;
    let mut selected_name = String::new();
    if let Some(sid) = selected {
        let Some(src) = all.iter().find(|s| s.id == sid) else {
            return Err(UiError::not_found(t));
        };
        selected_name = src.spec.name.clone();
        let page = match st
            .store
            .list_intel_imports(Some(sid), 20, p.get("cursor").map(str::to_string))
            .await
        {
            Ok(page) => page,
            Err(vigil_store::StoreError::BadCursor(_)) => vigil_model::Page {
                items: Vec::new(),
                next_cursor: None,
            },
            Err(e) => return Err(UiError::from_store(e, t)),
        };
        next = page.next_cursor;
        imports = page
            .items
            .into_iter()
            .map(|i| ImportRow {
                id: i.id.to_string(),
                finished: view::fmt_time(i.finished_at),
                actor: i.spec.actor,
                via: i.spec.via,
                format: i.spec.format,
                inserted: i.spec.inserted,
                updated: i.spec.updated,
                unchanged: i.spec.unchanged,
                rejected: i.spec.rejected,
                open: Some(i.id) == opened,
                rejections: i
                    .spec
                    .rejections
                    .into_iter()
                    .map(|r| RejectionRow {
                        id: r.id.unwrap_or_default(),
                        reason: r.reason,
                    })
                    .collect(),
            })
            .collect();
    }
    let notice = opened.and_then(|id| {
        imports.iter().find(|i| i.id == id.to_string()).map(|i| {
            t.tf(
                "intel.import_done",
                &[
                    ("inserted", &i.inserted.to_string()),
                    ("updated", &i.updated.to_string()),
                    ("unchanged", &i.unchanged.to_string()),
                    ("rejected", &i.rejected.to_string()),
                ],
            )
        })
    });
    Ok(html(&SourcesPage {
        page: ui.frame("intel", t.t("intel.sources_title").to_string()),
        sources: rows,
        can_manage: may_manage_intel(&ui.principal),
        formats: [
            ("stix", "STIX 2.x"),
            ("misp", "MISP"),
            ("csv", "CSV"),
            ("list", t.t("intel.format_plain")),
        ]
        .iter()
        .map(|(v, l)| Opt::new(*v, *l, Some("stix")))
        .collect(),
        selected: selected.map(|s| s.to_string()),
        selected_name,
        imports,
        next_url: next.map(|c| p.with_cursor("/intel/sources", Some(&c))),
        first_url: p
            .get("cursor")
            .is_some()
            .then(|| p.with_cursor("/intel/sources", None)),
        notice,
    }))
}

/// One row of the feeds page.
#[derive(Debug)]
pub struct FeedRow {
    pub name: String,
    pub source: String,
    pub source_id: Option<String>,
    pub collection_url: String,
    pub state: &'static str,
    pub state_label: String,
    pub interval: String,
    pub last_poll: String,
    pub last_success: String,
    pub watermark: String,
    pub objects: u64,
    pub polls: u64,
    pub failures: u64,
    pub last_error: String,
    pub last_error_at: String,
    pub next_attempt: String,
}

#[derive(Template)]
#[template(path = "intel_feeds.html")]
pub struct FeedsPage {
    pub page: Frame,
    pub feeds: Vec<FeedRow>,
}

/// An interval as the configuration writes it (`15m`, `1h`, `90s`).
fn fmt_interval(secs: u64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `/intel/feeds`: the configured TAXII feeds with their polling state (staff only, like the
/// sources page).
pub async fn feeds(State(st): State<AppState>, ui: UiAuth) -> UiResult {
    let t = ui.catalog();
    if !may_read_sources(&ui.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    let views = crate::api::intel_share::feed_views(&st)
        .await
        .map_err(|e| UiError::from_api(e, t.locale))?;
    let sources: HashMap<String, IntelSourceId> = st
        .store
        .list_intel_sources()
        .await
        .ui(t)?
        .into_iter()
        .map(|s| (s.spec.name, s.id))
        .collect();
    let time = |v: Option<Timestamp>| v.map_or_else(|| "—".to_string(), view::fmt_time);
    let feeds = views
        .into_iter()
        .map(|f| {
            let p = f.polled.as_ref();
            let source = f.source.clone().unwrap_or_default();
            FeedRow {
                source_id: sources.get(&source).map(|id| id.to_string()),
                source,
                name: f.name,
                collection_url: f.collection_url,
                state: f.state,
                state_label: t.t(&format!("intelfeeds.state_{}", f.state)).to_string(),
                interval: f.interval_secs.map_or_else(|| "—".into(), fmt_interval),
                last_poll: time(p.and_then(|p| p.last_attempt_at)),
                last_success: time(p.and_then(|p| p.last_success_at)),
                watermark: p
                    .and_then(|p| p.watermark)
                    .map_or_else(|| "—".into(), crate::taxii::taxii_time),
                objects: p.map_or(0, |p| p.objects_imported),
                polls: p.map_or(0, |p| p.polls),
                failures: p.map_or(0, |p| p.failures),
                last_error: p.and_then(|p| p.last_error.clone()).unwrap_or_default(),
                last_error_at: time(p.and_then(|p| p.last_error_at)),
                next_attempt: match (f.configured, f.next_attempt_at) {
                    (true, Some(at)) => view::fmt_time(at),
                    (true, None) => t.t("intelfeeds.at_start").to_string(),
                    (false, _) => "—".into(),
                },
            }
        })
        .collect();
    Ok(html(&FeedsPage {
        page: ui.frame("intel", t.t("intelfeeds.title").to_string()),
        feeds,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct SourceForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub enabled: Option<String>,
    #[serde(default)]
    pub trust: String,
    #[serde(default)]
    pub default_tlp: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /intel/sources/{id}`: the settings form.
pub async fn update_source(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SourceForm>,
) -> UiResult {
    let t = ui.catalog();
    view::check_post_allowed(&ui, &headers, &form.csrf, may_manage_intel(&ui.principal))?;
    let id: IntelSourceId = id.parse().map_err(|_| UiError::not_found(t))?;
    let trust = form
        .trust
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| UiError::invalid(t, format!("trust: '{}'", form.trust)))?;
    let body = SourcePatchBody {
        enabled: Some(form.enabled.is_some()),
        trust: Some(trust),
        default_tlp: Some(Some(form.default_tlp)),
        description: Some(Some(form.description)),
    };
    let patch = body.into_patch().ui(t)?;
    apply_patch(&st, &auth_of(&ui), id, patch).await.ui(t)?;
    Ok(Redirect::to(&format!("/intel/sources?source={id}")).into_response())
}

/// Largest file the upload form takes (the body limit applies too).
const MAX_UPLOAD: usize = 64 << 20;

/// `POST /intel/sources/import`: the upload form (multipart: csrf, source, new_source,
/// format, file).
pub async fn upload(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> UiResult {
    let t = ui.catalog();
    let mut multipart =
        multipart.map_err(|e| UiError::with_message(e.status(), t, &e.body_text()))?;
    let limit = MAX_UPLOAD.min(st.config.max_body_bytes);
    let too_large = || {
        UiError::with_message(
            StatusCode::PAYLOAD_TOO_LARGE,
            t,
            &format!("{} > {limit} bytes", t.t("intel.upload_too_large")),
        )
    };
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            UiError::with_message(e.status(), t, &e.body_text())
        }
    };
    let mut csrf = String::new();
    let mut source = String::new();
    let mut new_source = String::new();
    let mut format = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(bad_form)?,
            "source" => source = field.text().await.map_err(bad_form)?,
            "new_source" => new_source = field.text().await.map_err(bad_form)?,
            "format" => format = field.text().await.map_err(bad_form)?,
            "file" => {
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
            _ => {}
        }
    }
    view::check_post_allowed(&ui, &headers, &csrf, may_manage_intel(&ui.principal))?;
    if bytes.is_empty() {
        return Err(UiError::with_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            t,
            t.t("intel.upload_missing"),
        ));
    }
    let format = match format.trim() {
        "stix" => Format::Stix,
        "misp" => Format::Misp,
        "csv" => Format::Csv,
        "list" => Format::List,
        other => return Err(UiError::invalid(t, format!("format: '{other}'"))),
    };
    let src = match new_source.trim() {
        "" => {
            let id: IntelSourceId = source
                .trim()
                .parse()
                .map_err(|_| UiError::invalid(t, t.t("intel.upload_no_source").to_string()))?;
            st.store
                .get_intel_source(id)
                .await
                .ui(t)?
                .ok_or_else(|| UiError::not_found(t))?
        }
        name => crate::api::intel::source_named(&st, name, format.as_str())
            .await
            .ui(t)?,
    };
    let auth = auth_of(&ui);
    let report = crate::api::intel::run_import_as(
        &st,
        bytes.into(),
        format,
        &src,
        None,
        None,
        ImportOrigin::of(&auth, "ui"),
    )
    .await
    .ui(t)?;
    crate::api::audit_change(
        &st,
        &auth,
        "intel.import",
        format!("intel-source/{}", src.id),
        None,
        &format!(
            "{} {}: {} inserted, {} updated, {} unchanged, {} problems (upload)",
            src.spec.name,
            format.as_str(),
            report.stored.inserted,
            report.stored.updated,
            report.stored.unchanged,
            report.problems_total
        ),
    )
    .await;
    let mut target = format!("/intel/sources?source={}", src.id);
    if let Some(i) = report.import_id {
        target.push_str(&format!("&import={i}"));
    }
    Ok(Redirect::to(&target).into_response())
}
