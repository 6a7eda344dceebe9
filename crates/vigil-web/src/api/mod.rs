//! The JSON API under `/api/v1`.
//!
//! [`ROUTES`] lists every endpoint once, with its summary and the action it needs; the
//! OpenAPI document is built from it and the tests walk it (every route × every role ×
//! own/other organization), so documentation and access checks cannot drift from the router.

pub mod alerts;
pub mod assets;
pub mod audit;
pub mod blocklist;
pub mod events;
pub mod evidence;
pub mod filed_reports;
pub mod impact;
pub mod incidents;
pub mod intel;
pub mod intel_admin;
pub mod intel_objects;
pub mod intel_share;
pub mod notifications;
pub mod openapi;
pub mod orgs;
pub mod pipeline;
pub mod pipeline_sources;
pub mod stats;
pub mod tokens;
pub mod users;
pub mod warnings;

use crate::auth::{self, Auth};
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use vigil_model::{AuditOutcome, OrgId};

/// One documented endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    /// Path under `/api/v1`, with `{id}` placeholders.
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Request body media type, if any.
    pub body: Option<&'static str>,
}

const fn r(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        tag,
        summary,
        body,
    }
}

const JSON: Option<&str> = Some("application/json");

pub const ROUTES: &[RouteDoc] = &[
    r(
        "GET",
        "/organizations",
        "directory",
        "List organizations (filters: q, sector, region, mlps_level, cii)",
        None,
    ),
    r(
        "POST",
        "/organizations",
        "directory",
        "Create an organization",
        JSON,
    ),
    r(
        "GET",
        "/organizations/{id}",
        "directory",
        "Get an organization",
        None,
    ),
    r(
        "PUT",
        "/organizations/{id}",
        "directory",
        "Replace an organization",
        JSON,
    ),
    r(
        "DELETE",
        "/organizations/{id}",
        "directory",
        "Delete an organization without assets or users",
        None,
    ),
    r(
        "GET",
        "/assets",
        "directory",
        "List assets (filters: org_id, kind, industrial, importance, q; cursor pagination)",
        None,
    ),
    r(
        "POST",
        "/assets",
        "directory",
        "Create an asset (organization users: in their own organization, importance medium or higher; a lower one is 403 naming the field)",
        JSON,
    ),
    r(
        "POST",
        "/assets/import",
        "directory",
        "Bulk import assets from text/csv or application/json with per-row results (?org_id=, ?dry_run=true)",
        Some("text/csv"),
    ),
    r("GET", "/assets/{id}", "directory", "Get an asset", None),
    r(
        "PUT",
        "/assets/{id}",
        "directory",
        "Replace an asset, software inventory included (organization users: not lowering the importance, 403 naming the field; not moving it to another organization, 404)",
        JSON,
    ),
    r(
        "DELETE",
        "/assets/{id}",
        "directory",
        "Delete an asset",
        None,
    ),
    r(
        "POST",
        "/events",
        "events",
        "Ingest NDJSON (one ECS document per line) or a JSON array of them; with the pipeline running, 202 once in the durable spool (attributed, detected live and stored after), 503 + Retry-After when the spool is full; without it, 200 per line once stored",
        Some("application/x-ndjson"),
    ),
    r(
        "GET",
        "/events",
        "events",
        "Search events (from, to, q, repeated filter=field:value, org_id, asset_id; cursor pagination)",
        None,
    ),
    r("GET", "/events/{id}", "events", "Get an event", None),
    r(
        "GET",
        "/alerts",
        "alerts",
        "List alerts (filters: org_id, status, severity, source, from, to; cursor pagination)",
        None,
    ),
    r("POST", "/alerts", "alerts", "Raise an alert", JSON),
    r("GET", "/alerts/{id}", "alerts", "Get an alert", None),
    r(
        "PATCH",
        "/alerts/{id}",
        "alerts",
        "Change an alert's status",
        JSON,
    ),
    r(
        "GET",
        "/incidents",
        "incidents",
        "List incidents (filters: org_id, status, open, grade, category, from, to, overdue=true|false: a deadline passed and unmet, computed from the deadline policy, each item then carrying its overdue deadlines; cursor pagination, an overdue page may hold fewer items than the limit with a cursor to continue)",
        None,
    ),
    r(
        "POST",
        "/incidents",
        "incidents",
        "Open an incident (GB/T 20986-2023 category and grade)",
        JSON,
    ),
    r(
        "GET",
        "/incidents/{id}",
        "incidents",
        "Get an incident with its timeline",
        None,
    ),
    r(
        "PATCH",
        "/incidents/{id}",
        "incidents",
        "Change status, grade, content, or comment",
        JSON,
    ),
    r(
        "GET",
        "/incidents/{id}/notice",
        "incidents",
        "The SM2-signed notice of a notified incident (verify with /notice-key)",
        None,
    ),
    r(
        "GET",
        "/incidents/{id}/deadlines",
        "incidents",
        "Reporting, escalation, acknowledgement and remediation deadlines with their state",
        None,
    ),
    r(
        "GET",
        "/incidents/{id}/report",
        "incidents",
        "The regulatory incident report (kind: initial, supplement or final): unit and affected systems, time, place, type, grade, impact, measures, ransom for MPRANS, trend, cause, tracing leads, further measures",
        None,
    ),
    r(
        "PUT",
        "/incidents/{id}/impact",
        "incidents",
        "Record the incident's impact (outage, people, records leaked, direct loss, defacement; ransom for ransomware: status, amount, currency, payment method, date, wallet; support requested, preliminary cause, affected scope); re-grades and raises the grade when the thresholds give a more severe one (never lowers); audited, on the timeline",
        JSON,
    ),
    r(
        "POST",
        "/incidents/{id}/evidence",
        "incidents",
        "Attach an evidence file: the body is the file, its Content-Type the file's (?filename=, ?note=); the server stores its SM3 digest, audits and adds it to the timeline (at most 20 MiB or the server's body limit)",
        Some("application/octet-stream"),
    ),
    r(
        "GET",
        "/incidents/{id}/evidence",
        "incidents",
        "List an incident's evidence files (name, type, size, SM3 digest, uploader, time, note)",
        None,
    ),
    r(
        "GET",
        "/incidents/{id}/evidence/{evidence_id}",
        "incidents",
        "Download an evidence file, verified against its recorded SM3 digest (X-Content-SM3); refused when it no longer matches",
        None,
    ),
    r(
        "POST",
        "/incidents/{id}/reports",
        "incidents",
        "File the regulatory report of a kind ({\"kind\": \"initial\" | \"supplement\" | \"final\"}): stores the JSON snapshot numbered, with its SM3 digest, audited (incident.report) and on the timeline; initial once and after notification, a supplement with what happened since the previous filed report, final once when closed (409 otherwise)",
        JSON,
    ),
    r(
        "GET",
        "/incidents/{id}/reports",
        "incidents",
        "List an incident's filed reports (number, kind, author, time, SM3 digest)",
        None,
    ),
    r(
        "GET",
        "/incidents/{id}/reports/{report_id}",
        "incidents",
        "A filed report exactly as filed (JSON, X-Content-SM3), verified against its recorded SM3 digest (500 report_integrity when it no longer matches); ?format=pdf&lang=zh-CN|en prints it (503 without Chromium)",
        None,
    ),
    r(
        "GET",
        "/stats/incidents",
        "stats",
        "Incident statistics for a period (from, to, org_id): by category, sub-category, grade, industry, province and month; mean times to acknowledge and close; overdue rate",
        None,
    ),
    r(
        "GET",
        "/notice-key",
        "incidents",
        "The platform's SM2 public key that notices and warnings are signed with",
        None,
    ),
    r("GET", "/users", "users", "List users", None),
    r(
        "POST",
        "/users",
        "users",
        "Create a user (password generated and shown once when omitted)",
        JSON,
    ),
    r("GET", "/users/me", "users", "The caller", None),
    r(
        "PATCH",
        "/users/{id}",
        "users",
        "Disable or enable a user, or change the language",
        JSON,
    ),
    r(
        "POST",
        "/users/{id}/password",
        "users",
        "Set a password (own: needs the current one)",
        JSON,
    ),
    r(
        "POST",
        "/auth/login",
        "auth",
        "Log in: sets the session cookie, returns the CSRF token",
        JSON,
    ),
    r("POST", "/auth/logout", "auth", "Log out", None),
    r("GET", "/tokens", "tokens", "List API tokens", None),
    r(
        "POST",
        "/tokens",
        "tokens",
        "Create an API token (secret shown once)",
        JSON,
    ),
    r(
        "DELETE",
        "/tokens/{id}",
        "tokens",
        "Revoke an API token",
        None,
    ),
    r(
        "GET",
        "/audit",
        "audit",
        "Read the audit log (after_seq, actor, action, org_id, limit)",
        None,
    ),
    r(
        "GET",
        "/audit/verify",
        "audit",
        "Verify the SM3 hash chain of the audit log",
        None,
    ),
    r(
        "POST",
        "/intel/import",
        "intel",
        "Import threat intelligence into a source (?source=, ?format=stix|misp|csv|list, ?confidence=, ?tlp=); per-object problems and counts",
        JSON,
    ),
    r(
        "GET",
        "/intel/sources",
        "intel",
        "List intelligence sources",
        None,
    ),
    r(
        "GET",
        "/intel/indicators",
        "intel",
        "Search indicators (source_id, kind, value, stix_id, q, include_revoked, added_after; cursor pagination)",
        None,
    ),
    r(
        "GET",
        "/intel/indicators/{id}",
        "intel",
        "Get an indicator",
        None,
    ),
    r(
        "POST",
        "/intel/indicators/{id}/revoke",
        "intel",
        "Revoke an indicator (kept, no longer active)",
        None,
    ),
    r(
        "DELETE",
        "/intel/indicators/{id}",
        "intel",
        "Delete an indicator and its sightings",
        None,
    ),
    r(
        "GET",
        "/intel/sightings",
        "intel",
        "List sightings (indicator_id, org_id, from, to; cursor pagination)",
        None,
    ),
    r(
        "GET",
        "/intel/export",
        "intel",
        "Indicators and sightings as one STIX 2.1 bundle (application/stix+json;version=2.1): types=indicator,sighting, source_id, include_revoked, added_after, limit (default 10,000, at most 100,000); organization users get their own sightings and no TLP levels hidden from them",
        None,
    ),
    r(
        "GET",
        "/intel/feeds",
        "intel",
        "The TAXII feeds Vigil polls ([[intel.taxii_feeds]]): collection URL, watermark (added_after of the next poll), last attempt, last success, last error, consecutive and total failures, objects imported",
        None,
    ),
    r(
        "PATCH",
        "/intel/sources/{id}",
        "intel",
        "Change a source's settings: enabled (a disabled source's indicators stop matching and leave the blocklists), trust 0-100 (default confidence of its values), default_tlp (null clears), description; audited",
        JSON,
    ),
    r(
        "GET",
        "/intel/sources/{id}/imports",
        "intel",
        "Import history of a source, newest first: who, when, by which path (api, ui, taxii), format, counts (inserted, updated, unchanged, rejected) and the first 1,000 rejected objects with their reasons (cursor pagination)",
        None,
    ),
    r(
        "GET",
        "/intel/imports/{id}",
        "intel",
        "One recorded import with its rejected objects",
        None,
    ),
    r(
        "GET",
        "/intel/blocklist",
        "intel",
        "Blocklist of active indicators of enabled sources (format=plain|nftables|suricata, type=ipv4,ipv6,cidr,domain,url, min_confidence, tlp=clear|green|amber (default green; TLP:RED never; amber is the explicit opt-in, not for organization users), source=names or ids); ETag and If-None-Match 304",
        None,
    ),
    r(
        "GET",
        "/intel/edl",
        "intel",
        "External dynamic lists (from the configuration and the API) with their filters and the /edl/{name}.txt path firewalls poll with a bearer token",
        None,
    ),
    r(
        "PUT",
        "/intel/edl/{id}",
        "intel",
        "Create or replace the external dynamic list named {id} ({\"description\", \"filter\": {types, min_confidence, tlp, sources}}); audited",
        JSON,
    ),
    r(
        "DELETE",
        "/intel/edl/{id}",
        "intel",
        "Delete an external dynamic list defined through the API (409 for one from the configuration)",
        None,
    ),
    r(
        "GET",
        "/intel/objects",
        "intel",
        "Search stored STIX objects other than indicators (type, q: name substring or ATT&CK/STIX id, attack_id, source_id, all_versions, include_revoked; cursor pagination by date added)",
        None,
    ),
    r(
        "GET",
        "/intel/objects/{id}",
        "intel",
        "A stored STIX object by STIX id: latest version, every version, and its relationships both ways with the objects at their other ends",
        None,
    ),
    r(
        "GET",
        "/warnings",
        "warnings",
        "List early warnings (filters: level, since, unacknowledged, org_id; cursor pagination)",
        None,
    ),
    r(
        "POST",
        "/warnings",
        "warnings",
        "Issue an early warning (level red/orange/yellow/blue) to the organizations its targets select: ids, sector, region prefix, MLPS level, CII, MIIT grade, asset vendor/product/firmware/purl/CPE",
        JSON,
    ),
    r(
        "GET",
        "/warnings/{id}",
        "warnings",
        "Get a warning with its recipients' delivery and acknowledgement state",
        None,
    ),
    r(
        "POST",
        "/warnings/{id}/ack",
        "warnings",
        "Acknowledge a warning for an organization (org_id, response; staff need a note)",
        JSON,
    ),
    r(
        "GET",
        "/warnings/{id}/pending",
        "warnings",
        "Recipients that have not acknowledged yet",
        None,
    ),
    r(
        "GET",
        "/warnings/{id}/signed",
        "warnings",
        "The SM2-signed bulletin (verify with /notice-key and vigil verify-notice; ?org_id= addresses it to a recipient)",
        None,
    ),
    r(
        "GET",
        "/notifications",
        "notifications",
        "Delivery state of notification e-mails and webhook messages, newest first (filters: org_id, reference_kind + reference_id, status, channel; cursor pagination); webhook addresses are shown without their query or credentials",
        None,
    ),
    r(
        "GET",
        "/taxonomies",
        "meta",
        "GB/T 20986 categories, grades, MLPS levels, MIIT types and grades, sectors, regions",
        None,
    ),
    r(
        "GET",
        "/pipeline",
        "pipeline",
        "Ingestion pipeline: every source with its state and counters, totals, spool fill and lag",
        None,
    ),
    r(
        "GET",
        "/pipeline/dead-letters",
        "pipeline",
        "Search dead letters, newest first (input, reason, q, since, until, limit)",
        None,
    ),
    r(
        "GET",
        "/pipeline/sources",
        "pipeline",
        "Pipeline sources: those of the configuration file (origin config, read-only) and those defined through the API (origin api), with settings (secrets left out), state and counters",
        None,
    ),
    r(
        "POST",
        "/pipeline/sources",
        "pipeline",
        "Define a source (administrators): name, kind, its settings and enabled; validated like [[pipeline.listeners]] (422 names the field), stored and started at once (a bind error is in start_error and the source's state); password is write-only",
        Some("application/json"),
    ),
    r(
        "GET",
        "/pipeline/sources/{id}",
        "pipeline",
        "One source by name with its settings, state and counters",
        None,
    ),
    r(
        "PUT",
        "/pipeline/sources/{id}",
        "pipeline",
        "Replace a source defined through the API and restart it (409 for one of the configuration file; the password is kept when left out)",
        Some("application/json"),
    ),
    r(
        "PATCH",
        "/pipeline/sources/{id}",
        "pipeline",
        "Change some settings of a source or enable/disable it ({\"enabled\": false}); null clears a setting",
        Some("application/json"),
    ),
    r(
        "DELETE",
        "/pipeline/sources/{id}",
        "pipeline",
        "Remove a source defined through the API: its listener stops and its connections close; what it already spooled is still processed",
        None,
    ),
    r("GET", "/openapi.json", "meta", "This document", None),
];

/// The `/api/v1` router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(orgs::list).post(orgs::create))
        .route(
            "/organizations/{id}",
            get(orgs::get).put(orgs::update).delete(orgs::delete),
        )
        .route("/assets", get(assets::list).post(assets::create))
        .route("/assets/import", post(assets::import))
        .route(
            "/assets/{id}",
            get(assets::get).put(assets::update).delete(assets::delete),
        )
        .route("/events", get(events::search).post(events::ingest))
        .route("/events/{id}", get(events::get))
        .route("/alerts", get(alerts::list).post(alerts::create))
        .route("/alerts/{id}", get(alerts::get).patch(alerts::patch))
        .route("/incidents", get(incidents::list).post(incidents::create))
        .route(
            "/incidents/{id}",
            get(incidents::get).patch(incidents::patch),
        )
        .route("/incidents/{id}/notice", get(incidents::notice))
        .route("/incidents/{id}/deadlines", get(incidents::deadlines))
        .route("/incidents/{id}/report", get(incidents::report))
        .route("/incidents/{id}/impact", axum::routing::put(impact::put))
        .route(
            "/incidents/{id}/evidence",
            get(evidence::list).post(evidence::upload),
        )
        .route(
            "/incidents/{id}/evidence/{evidence_id}",
            get(evidence::download),
        )
        .route(
            "/incidents/{id}/reports",
            get(filed_reports::list).post(filed_reports::create),
        )
        .route(
            "/incidents/{id}/reports/{report_id}",
            get(filed_reports::get),
        )
        .route("/notice-key", get(incidents::notice_key))
        .route("/stats/incidents", get(stats::incidents))
        .route("/users", get(users::list).post(users::create))
        .route("/users/me", get(users::me))
        .route("/users/{id}", axum::routing::patch(users::patch))
        .route("/users/{id}/password", post(users::set_password))
        .route("/auth/login", post(users::login))
        .route("/auth/logout", post(users::logout))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .route("/intel/import", post(intel::import))
        .route("/intel/sources", get(intel::list_sources))
        .route("/intel/indicators", get(intel::list))
        .route(
            "/intel/indicators/{id}",
            get(intel::get).delete(intel::delete),
        )
        .route("/intel/indicators/{id}/revoke", post(intel::revoke))
        .route("/intel/sightings", get(intel::sightings))
        .route("/intel/export", get(intel_share::export))
        .route("/intel/feeds", get(intel_share::feeds))
        .route(
            "/intel/sources/{id}",
            axum::routing::patch(intel_admin::patch_source),
        )
        .route(
            "/intel/sources/{id}/imports",
            get(intel_admin::list_imports),
        )
        .route("/intel/imports/{id}", get(intel_admin::get_import))
        .route("/intel/blocklist", get(blocklist::blocklist))
        .route("/intel/edl", get(blocklist::list_edl))
        .route(
            "/intel/edl/{id}",
            axum::routing::put(blocklist::put_edl).delete(blocklist::delete_edl),
        )
        .route("/intel/objects", get(intel_objects::list))
        .route("/intel/objects/{id}", get(intel_objects::get))
        .route("/pipeline", get(pipeline::status))
        .route("/pipeline/dead-letters", get(pipeline::dead_letters))
        .route(
            "/pipeline/sources",
            get(pipeline_sources::list).post(pipeline_sources::create),
        )
        .route(
            "/pipeline/sources/{id}",
            get(pipeline_sources::get)
                .put(pipeline_sources::replace)
                .patch(pipeline_sources::patch)
                .delete(pipeline_sources::delete),
        )
        .route("/warnings", get(warnings::list).post(warnings::create))
        .route("/warnings/{id}", get(warnings::get))
        .route("/warnings/{id}/ack", post(warnings::ack))
        .route("/warnings/{id}/pending", get(warnings::pending))
        .route("/warnings/{id}/signed", get(warnings::signed))
        .route("/notifications", get(notifications::list))
        .route("/taxonomies", get(taxonomies))
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { crate::error::ApiError::not_found("endpoint") })
}

/// 201 Created with a JSON body.
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// `{"items": [...], "next_cursor": ...}`
pub fn page_json<T: Serialize>(items: Vec<T>, next: Option<String>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "items": items, "next_cursor": next }))
}

/// Audits a successful change made by the caller.
pub async fn audit_change(
    st: &AppState,
    auth: &Auth,
    action: &str,
    object: String,
    org: Option<OrgId>,
    detail: &str,
) {
    auth::audit(
        st,
        &auth.principal.actor(),
        action,
        object,
        AuditOutcome::Success,
        org,
        detail.to_string(),
    )
    .await;
}

async fn taxonomies(_auth: Auth) -> Json<serde_json::Value> {
    use vigil_model::taxonomy as t;
    let grades: Vec<_> = vigil_model::Grade::ALL
        .iter()
        .map(|g| {
            serde_json::json!({
                "code": g.as_str(), "level": g.level(), "colour": g.colour(),
                "name_zh": g.name("zh"), "name_en": g.name("en"),
            })
        })
        .collect();
    let miit_types: Vec<_> = vigil_model::MiitEnterpriseType::ALL
        .iter()
        .map(|m| serde_json::json!({ "code": m.as_str(), "name_zh": m.name("zh"), "name_en": m.name("en") }))
        .collect();
    Json(serde_json::json!({
        "incident_categories": t::incident_categories(),
        "grades": grades,
        "mlps_levels": t::mlps_levels(),
        "miit_types": miit_types,
        "miit_grades": t::miit_grades(),
        "sectors": t::sectors(),
        "regions": t::regions(),
    }))
}
