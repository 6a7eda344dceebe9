//! A TAXII 2.1 server under `/taxii2/` over the stored indicators.
//!
//! One API root (`/taxii2/vigil/`) with two collections:
//! - **Vigil indicators** (read-only): every stored indicator of every source, as its STIX
//!   object (revoked in Vigil: served with `revoked: true`).
//! - **Partner submissions** (writable by analysts and administrators): objects POSTed here
//!   are imported like a STIX bundle into the source `taxii:partners`, and read back from it.
//!
//! Only indicators are stored, so only indicators are served; other STIX objects in a POSTed
//! envelope are accepted for their context but not kept. Each indicator is kept in its latest
//! version, so `match[version]` and `versions/` know that version only.
//!
//! Written by hand on axum rather than with a TAXII crate: there is no maintained Rust TAXII
//! server, and the protocol is a handful of JSON resources over the store's keyset pages.
//! Authentication is the API's (bearer tokens or sessions); every authenticated principal
//! may read (indicators are platform-wide), writes need the manage-intelligence permission.

use crate::api::intel::{Format, may_manage_intel, run_import, source_named};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};
use vigil_model::Timestamp;
use vigil_store::{IndicatorQuery, StoredIndicator};

/// The TAXII media type of every resource.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the objects.
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";
/// The API root's path.
pub const API_ROOT: &str = "/taxii2/vigil/";
/// The read-only collection of Vigil's indicators.
pub const INDICATORS_COLLECTION: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";
/// The writable collection for partners.
pub const PARTNERS_COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
/// The source objects POSTed to the partners collection are imported into.
pub const PARTNERS_SOURCE: &str = "taxii:partners";
/// Page size when the client does not say, and the most a page holds.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;
/// Status resources kept for `GET status/{id}/` (the oldest go first).
const STATUS_KEPT: usize = 1_024;

/// The TAXII routes (merge them into the application).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/vigil/", get(api_root))
        .route("/taxii2/vigil/status/{id}/", get(status))
        .route("/taxii2/vigil/collections/", get(collections))
        .route("/taxii2/vigil/collections/{cid}/", get(collection))
        .route("/taxii2/vigil/collections/{cid}/manifest/", get(manifest))
        .route(
            "/taxii2/vigil/collections/{cid}/objects/",
            get(objects).post(add_objects),
        )
        .route(
            "/taxii2/vigil/collections/{cid}/objects/{oid}/",
            get(object),
        )
        .route(
            "/taxii2/vigil/collections/{cid}/objects/{oid}/versions/",
            get(versions),
        )
}

/// A TAXII error message.
struct TaxiiError {
    status: StatusCode,
    title: String,
    description: String,
}

impl TaxiiError {
    fn new(status: StatusCode, title: &str, description: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_string(),
            description: description.into(),
        }
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("{what} not found"),
        )
    }
}

impl From<ApiError> for TaxiiError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status,
            title: e.code.to_string(),
            description: e.message,
        }
    }
}

impl From<vigil_store::StoreError> for TaxiiError {
    fn from(e: vigil_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        taxii_response(self.status, &body, HeaderMap::new())
    }
}

type TaxiiResult = Result<Response, TaxiiError>;

fn taxii_response(status: StatusCode, body: &Value, mut headers: HeaderMap) -> Response {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA));
    (status, headers, body.to_string()).into_response()
}

fn ok(body: &Value) -> TaxiiResult {
    Ok(taxii_response(StatusCode::OK, body, HeaderMap::new()))
}

/// Is `value` (one media range, parameters included) acceptable as the TAXII media type?
fn acceptable(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let ty = parts.next().unwrap_or("").to_ascii_lowercase();
    let version_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("version"))
        .all(|(_, v)| v.trim().trim_matches('"') == "2.1");
    matches!(
        ty.as_str(),
        "application/taxii+json" | "*/*" | "application/*"
    ) && version_ok
}

/// 406 unless the Accept header (when sent) admits the TAXII media type.
fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let Some(v) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let text = v.to_str().unwrap_or("");
    if text.split(',').any(acceptable) {
        Ok(())
    } else {
        Err(TaxiiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not acceptable",
            format!("the server answers only {TAXII_MEDIA}"),
        ))
    }
}

/// The caller, with the media type checked first so that a client speaking the wrong media
/// type learns that even before authenticating.
fn caller(headers: &HeaderMap, auth: Result<Auth, ApiError>) -> Result<Auth, TaxiiError> {
    check_accept(headers)?;
    Ok(auth?)
}

async fn discovery(headers: HeaderMap, auth: Result<Auth, ApiError>) -> TaxiiResult {
    caller(&headers, auth)?;
    ok(&json!({
        "title": "Vigil TAXII server",
        "description": "Threat intelligence shared by Vigil",
        "default": API_ROOT,
        "api_roots": [API_ROOT],
    }))
}

async fn api_root(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
) -> TaxiiResult {
    caller(&headers, auth)?;
    ok(&json!({
        "title": "Vigil",
        "description": "Vigil's indicators and partner submissions",
        "versions": [TAXII_MEDIA],
        "max_content_length": st.config.max_body_bytes,
    }))
}

fn collection_json(id: &str, auth: &Auth) -> Option<Value> {
    let (title, description, can_write) = match id {
        INDICATORS_COLLECTION => (
            "Vigil indicators",
            "Every indicator Vigil holds, from all sources",
            false,
        ),
        PARTNERS_COLLECTION => (
            "Partner submissions",
            "Indicators partners share with Vigil",
            may_manage_intel(&auth.principal),
        ),
        _ => return None,
    };
    Some(json!({
        "id": id,
        "title": title,
        "description": description,
        "can_read": true,
        "can_write": can_write,
        "media_types": [STIX_MEDIA],
    }))
}

async fn collections(headers: HeaderMap, auth: Result<Auth, ApiError>) -> TaxiiResult {
    let auth = caller(&headers, auth)?;
    let all: Vec<Value> = [INDICATORS_COLLECTION, PARTNERS_COLLECTION]
        .iter()
        .filter_map(|c| collection_json(c, &auth))
        .collect();
    ok(&json!({ "collections": all }))
}

async fn collection(
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(cid): Path<String>,
) -> TaxiiResult {
    let auth = caller(&headers, auth)?;
    let c = collection_json(&cid, &auth).ok_or_else(|| TaxiiError::not_found("collection"))?;
    ok(&c)
}

/// The filters of an objects or manifest request.
#[derive(Debug, Default)]
struct Filters {
    added_after: Option<Timestamp>,
    limit: usize,
    next: Option<String>,
    ids: Vec<String>,
    types: Vec<String>,
}

fn parse_filters(raw: Option<&str>) -> Result<Filters, TaxiiError> {
    let bad = |m: String| TaxiiError::new(StatusCode::BAD_REQUEST, "bad request", m);
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| bad(e.to_string()))?;
    let mut f = Filters {
        limit: DEFAULT_LIMIT,
        ..Filters::default()
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "added_after" => {
                f.added_after = Some(
                    v.parse()
                        .map_err(|e| bad(format!("added_after '{v}': {e}")))?,
                );
            }
            "limit" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| bad(format!("limit '{v}' is not a number")))?;
                f.limit = n.clamp(1, MAX_LIMIT);
            }
            "next" => f.next = Some(v),
            "match[id]" => f.ids.extend(list(&v)),
            "match[type]" => f.types.extend(list(&v)),
            // Only the latest version and STIX 2.1 are kept, which is what the defaults ask for.
            "match[version]" | "match[spec_version]" => {}
            other => return Err(bad(format!("unknown parameter '{other}'"))),
        }
    }
    Ok(f)
}

/// One page of a collection's indicators, oldest `date_added` first, and whether more follow.
async fn page(
    st: &AppState,
    cid: &str,
    f: &Filters,
) -> Result<(Vec<StoredIndicator>, Option<String>), TaxiiError> {
    let source_id = match cid {
        INDICATORS_COLLECTION => None,
        PARTNERS_COLLECTION => match st
            .store
            .list_intel_sources()
            .await?
            .into_iter()
            .find(|s| s.spec.name == PARTNERS_SOURCE)
        {
            Some(s) => Some(s.id),
            None => return Ok((Vec::new(), None)),
        },
        _ => return Err(TaxiiError::not_found("collection")),
    };
    if !f.types.is_empty() && !f.types.iter().any(|t| t == "indicator") {
        return Ok((Vec::new(), None));
    }
    let base = IndicatorQuery {
        source_id,
        include_revoked: true,
        added_after: f.added_after,
        oldest_first: true,
        limit: f.limit,
        cursor: f.next.clone(),
        ..IndicatorQuery::default()
    };
    if f.ids.is_empty() {
        let p = st.store.list_indicators(&base).await?;
        return Ok((p.items, p.next_cursor));
    }
    // A few ids: each looked up, merged in date_added order, one page.
    let mut items = Vec::new();
    for id in f.ids.iter().take(MAX_LIMIT) {
        let q = IndicatorQuery {
            stix_id: Some(id.clone()),
            cursor: None,
            limit: MAX_LIMIT,
            ..base.clone()
        };
        items.extend(st.store.list_indicators(&q).await?.items);
    }
    items.sort_by_key(|i| (i.date_added, i.id));
    items.truncate(f.limit);
    Ok((items, None))
}

/// The STIX object served for a stored indicator.
fn served_object(i: &StoredIndicator) -> Option<Value> {
    let mut o = i.spec.object.clone();
    let m = o.as_object_mut()?;
    if i.revoked_at.is_some() {
        m.insert("revoked".into(), Value::Bool(true));
    }
    Some(o)
}

fn stix_time(t: Timestamp) -> String {
    vigil_intel::stix::stix_time(t)
}

/// A `date_added` with the store's microsecond precision, so that `added_after` with a
/// value the server handed out excludes exactly what came up to it.
pub fn taxii_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `X-TAXII-Date-Added-First/Last` of a page.
fn date_headers(items: &[StoredIndicator]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, item) in [
        ("x-taxii-date-added-first", items.first()),
        ("x-taxii-date-added-last", items.last()),
    ] {
        if let Some(i) = item
            && let Ok(v) = HeaderValue::from_str(&taxii_time(i.date_added))
        {
            h.insert(name, v);
        }
    }
    h
}

fn envelope(items: &[StoredIndicator], next: Option<String>) -> Value {
    let objects: Vec<Value> = items.iter().filter_map(served_object).collect();
    let mut env = json!({ "more": next.is_some(), "objects": objects });
    if let (Some(n), Some(m)) = (next, env.as_object_mut()) {
        m.insert("next".into(), Value::String(n));
    }
    env
}

async fn objects(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let f = parse_filters(raw.as_deref())?;
    let (items, next) = page(&st, &cid, &f).await?;
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&items, next),
        date_headers(&items),
    ))
}

async fn manifest(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let f = parse_filters(raw.as_deref())?;
    let (items, next) = page(&st, &cid, &f).await?;
    let objects: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "id": i.spec.stix_id,
                "date_added": taxii_time(i.date_added),
                "version": stix_time(i.spec.modified),
                "media_type": STIX_MEDIA,
            })
        })
        .collect();
    let mut body = json!({ "more": next.is_some(), "objects": objects });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("next".into(), Value::String(n));
    }
    Ok(taxii_response(StatusCode::OK, &body, date_headers(&items)))
}

async fn object(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path((cid, oid)): Path<(String, String)>,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let f = Filters {
        limit: MAX_LIMIT,
        ids: vec![oid],
        ..Filters::default()
    };
    let (items, _) = page(&st, &cid, &f).await?;
    if items.is_empty() {
        return Err(TaxiiError::not_found("object"));
    }
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&items, None),
        date_headers(&items),
    ))
}

async fn versions(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path((cid, oid)): Path<(String, String)>,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let f = Filters {
        limit: MAX_LIMIT,
        ids: vec![oid],
        ..Filters::default()
    };
    let (items, _) = page(&st, &cid, &f).await?;
    if items.is_empty() {
        return Err(TaxiiError::not_found("object"));
    }
    let mut v: Vec<String> = items.iter().map(|i| stix_time(i.spec.modified)).collect();
    v.sort();
    v.dedup();
    Ok(taxii_response(
        StatusCode::OK,
        &json!({ "more": false, "versions": v }),
        date_headers(&items),
    ))
}

fn statuses() -> &'static Mutex<VecDeque<(String, Value)>> {
    static S: OnceLock<Mutex<VecDeque<(String, Value)>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(VecDeque::new()))
}

fn keep_status(id: String, body: Value) {
    // A poisoned lock only means another request panicked while holding it; the queue is
    // still usable.
    let mut q = statuses().lock().unwrap_or_else(|e| e.into_inner());
    if q.len() >= STATUS_KEPT {
        q.pop_front();
    }
    q.push_back((id, body));
}

async fn status(
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(id): Path<String>,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let found = statuses()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| v.clone());
    match found {
        Some(v) => ok(&v),
        None => Err(TaxiiError::not_found("status")),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if acceptable(ct)
        && ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/taxii+json")
    {
        Ok(())
    } else {
        Err(TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported media type",
            format!("send the envelope as {TAXII_MEDIA}"),
        ))
    }
}

async fn add_objects(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(cid): Path<String>,
    body: Bytes,
) -> TaxiiResult {
    let auth = caller(&headers, auth)?;
    let c = collection_json(&cid, &auth).ok_or_else(|| TaxiiError::not_found("collection"))?;
    if c["can_write"] != Value::Bool(true) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(TaxiiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this collection is not writable for the caller",
        ));
    }
    check_content_type(&headers)?;
    let envelope: Value = serde_json::from_slice(&body).map_err(|e| {
        TaxiiError::new(
            StatusCode::BAD_REQUEST,
            "bad request",
            format!("not a TAXII envelope: {e}"),
        )
    })?;
    let Some(objs) = envelope.get("objects").and_then(Value::as_array) else {
        return Err(TaxiiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid envelope",
            "the envelope has no objects array",
        ));
    };
    let posted: Vec<(String, String)> = objs
        .iter()
        .map(|o| {
            (
                o.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                o.get("modified")
                    .or_else(|| o.get("created"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let requested = Timestamp::now();
    let source = source_named(&st, PARTNERS_SOURCE, "taxii").await?;
    let report = run_import(&st, body, Format::Stix, &source, None, None).await?;
    let failed: std::collections::HashSet<&str> = report
        .problems
        .iter()
        .map(|p| p.object_id.as_str())
        .collect();
    let failures: Vec<Value> = report
        .problems
        .iter()
        .map(|p| json!({ "id": p.object_id, "message": p.reason }))
        .collect();
    let successes: Vec<Value> = posted
        .iter()
        .filter(|(id, _)| !id.is_empty() && !failed.contains(id.as_str()))
        .map(|(id, v)| json!({ "id": id, "version": v }))
        .collect();
    let status_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "id": status_id,
        "status": "complete",
        "request_timestamp": stix_time(requested),
        "total_count": posted.len(),
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    });
    keep_status(status_id, body.clone());
    crate::api::audit_change(
        &st,
        &auth,
        "intel.taxii_add",
        format!("taxii-collection/{cid}"),
        None,
        &format!(
            "{} objects: {} indicators inserted, {} updated, {} problems",
            posted.len(),
            report.stored.inserted,
            report.stored.updated,
            report.problems_total
        ),
    )
    .await;
    Ok(taxii_response(
        StatusCode::ACCEPTED,
        &body,
        HeaderMap::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ranges() {
        assert!(acceptable("application/taxii+json;version=2.1"));
        assert!(acceptable("application/taxii+json"));
        assert!(acceptable("*/*"));
        assert!(acceptable(" application/taxii+json; version=\"2.1\""));
        assert!(!acceptable("application/taxii+json;version=2.0"));
        assert!(!acceptable("application/json"));
    }

    #[test]
    fn filters_parse_and_cap() {
        let f = parse_filters(Some(
            "limit=5000&match%5Bid%5D=indicator--a,indicator--b&match%5Btype%5D=indicator&added_after=2026-01-01T00:00:00Z",
        ))
        .ok()
        .expect("filters");
        assert_eq!(f.limit, MAX_LIMIT);
        assert_eq!(f.ids, ["indicator--a", "indicator--b"]);
        assert_eq!(f.types, ["indicator"]);
        assert!(f.added_after.is_some());
        assert!(parse_filters(Some("limit=x")).is_err());
        assert!(parse_filters(Some("bogus=1")).is_err());
    }
}
