//! A TAXII 2.1 server under `/taxii2/` over the stored intelligence.
//!
//! One API root (`/taxii2/vigil/`) with two collections:
//! - **Vigil intelligence** (read-only, id kept from when it held indicators only): every
//!   stored indicator of every source, as its STIX object (revoked in Vigil: served with
//!   `revoked: true`), and every version of every other stored STIX object (malware, intrusion
//!   sets, attack patterns, relationships, reports, `x-mitre-*`, ...).
//! - **Partner submissions** (writable by analysts and administrators): objects POSTed here
//!   are imported like a STIX bundle into the source `taxii:partners` (indicators into the
//!   indicator store, everything else into the object store) and read back from it.
//!
//! Objects come in `date_added` order from two streams merged page by page (the indicator
//! store and the object store); the `next` token holds the position in each. Every version
//! is kept and served: the indicator store holds the current version of each indicator (what
//! the matcher reads) and keeps every version a newer one replaced, with the `date_added` it
//! had; the object store keeps every version of the other objects. So `match[version]`
//! (`last` by default, `first`, `all`, a timestamp, or several of these), `versions/` and
//! `manifest/` see them all, for indicators as for other objects: the default (`last`) reads
//! the current indicators, any other selection the indicator versions
//! (`Store::list_indicator_versions`). A version stored before by another source stays with
//! that source (the object store keeps one copy per id and `modified`; an indicator's versions
//! are those of its source).
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
use vigil_model::Timestamp;
use vigil_store::{
    IndicatorQuery, IndicatorVersion, IndicatorVersionQuery, StixObjectQuery, StixVersion,
    StoredIndicator, StoredStixObject,
};

/// The TAXII media type of every resource.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the objects.
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";
/// The API root's path.
pub const API_ROOT: &str = "/taxii2/vigil/";
/// The read-only collection of Vigil's intelligence (indicators and other STIX objects).
pub const INDICATORS_COLLECTION: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";
/// The writable collection for partners.
pub const PARTNERS_COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
/// The source objects POSTed to the partners collection are imported into.
pub const PARTNERS_SOURCE: &str = "taxii:partners";
/// Page size when the client does not say, and the most a page holds.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

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
            "Vigil intelligence",
            "Every indicator and STIX object Vigil holds, from all sources",
            false,
        ),
        PARTNERS_COLLECTION => (
            "Partner submissions",
            "Indicators and other STIX objects partners share with Vigil",
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

/// The filters of an objects, manifest or versions request.
#[derive(Debug, Default)]
struct Filters {
    added_after: Option<Timestamp>,
    limit: usize,
    next: Option<String>,
    ids: Vec<String>,
    types: Vec<String>,
    /// `match[version]`: any of these (empty: the latest).
    versions: Vec<StixVersion>,
    /// `match[spec_version]`: any of these (empty: all).
    spec_versions: Vec<String>,
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
            "match[version]" => {
                for s in list(&v) {
                    f.versions.push(match s.as_str() {
                        "last" => StixVersion::Last,
                        "first" => StixVersion::First,
                        "all" => StixVersion::All,
                        t => StixVersion::At(t.parse().map_err(|e| {
                            bad(format!(
                                "match[version] '{t}' is not first, last, all or a timestamp: {e}"
                            ))
                        })?),
                    });
                }
            }
            "match[spec_version]" => {
                for s in list(&v) {
                    if !matches!(s.as_str(), "2.0" | "2.1") {
                        return Err(bad(format!("match[spec_version] '{s}' is not 2.0 or 2.1")));
                    }
                    f.spec_versions.push(s);
                }
            }
            other => return Err(bad(format!("unknown parameter '{other}'"))),
        }
    }
    Ok(f)
}

/// One served version: an indicator of the indicator store (its current version), a version
/// of an indicator (current or replaced), or a version of another STIX object of the object
/// store.
#[derive(Debug, Clone)]
enum Item {
    Indicator(Box<StoredIndicator>),
    IndicatorVersion(Box<IndicatorVersion>),
    Object(Box<StoredStixObject>),
}

impl Item {
    fn date_added(&self) -> Timestamp {
        match self {
            Item::Indicator(i) => i.date_added,
            Item::IndicatorVersion(v) => v.date_added,
            Item::Object(o) => o.date_added,
        }
    }

    fn stix_id(&self) -> &str {
        match self {
            Item::Indicator(i) => &i.spec.stix_id,
            Item::IndicatorVersion(v) => &v.stix_id,
            Item::Object(o) => &o.spec.stix_id,
        }
    }

    fn version(&self) -> Timestamp {
        match self {
            Item::Indicator(i) => i.spec.modified,
            Item::IndicatorVersion(v) => v.modified,
            Item::Object(o) => o.spec.modified,
        }
    }

    fn spec_version(&self) -> &str {
        let object = match self {
            Item::Indicator(i) => &i.spec.object,
            Item::IndicatorVersion(v) => &v.object,
            Item::Object(o) => return &o.spec.spec_version,
        };
        object
            .get("spec_version")
            .and_then(Value::as_str)
            .unwrap_or("2.1")
    }

    fn is_indicator(&self) -> bool {
        !matches!(self, Item::Object(_))
    }

    /// The cursor of the item's own stream positioned after it.
    fn cursor(&self) -> String {
        let key = match self {
            Item::Indicator(i) => i.id.to_string(),
            Item::IndicatorVersion(v) => v.indicator_id.to_string(),
            Item::Object(o) => o.spec.stix_id.clone(),
        };
        vigil_store::Cursor {
            micros: self.date_added().as_microsecond(),
            key,
        }
        .encode()
    }

    /// The STIX object served.
    fn served(&self) -> Option<Value> {
        match self {
            Item::Indicator(i) => {
                let mut o = i.spec.object.clone();
                let m = o.as_object_mut()?;
                if i.revoked_at.is_some() {
                    m.insert("revoked".into(), Value::Bool(true));
                }
                Some(o)
            }
            Item::IndicatorVersion(v) => {
                let mut o = v.object.clone();
                let m = o.as_object_mut()?;
                if v.revoked_at.is_some() {
                    m.insert("revoked".into(), Value::Bool(true));
                }
                Some(o)
            }
            Item::Object(o) => Some(o.spec.object.clone()),
        }
    }
}

/// Where a stream of a paged request stands: not started, after a cursor, or done.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    Start,
    After(String),
    Done,
}

impl Position {
    fn encode(&self) -> &str {
        match self {
            Position::Start => "",
            Position::After(c) => c,
            Position::Done => "~",
        }
    }

    fn decode(s: &str) -> Self {
        match s {
            "" => Position::Start,
            "~" => Position::Done,
            c => Position::After(c.to_string()),
        }
    }

    fn cursor(&self) -> Option<String> {
        match self {
            Position::After(c) => Some(c.clone()),
            _ => None,
        }
    }
}

/// The `next` token of a collection page: the positions of the indicator stream and of the
/// object stream, `v1.<indicators>.<objects>` (store cursors are URL-safe base64, no dots).
fn encode_next(ind: &Position, obj: &Position) -> String {
    format!("v1.{}.{}", ind.encode(), obj.encode())
}

fn decode_next(s: &str) -> Result<(Position, Position), TaxiiError> {
    let mut parts = s.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(i), Some(o), None) => Ok((Position::decode(i), Position::decode(o))),
        _ => Err(TaxiiError::new(
            StatusCode::BAD_REQUEST,
            "bad request",
            format!("next '{s}' is not a token this server issued"),
        )),
    }
}

/// Does an indicator (one version, selected by `match[version]` in the store) pass the
/// spec-version filter?
fn indicator_selected(i: &Item, f: &Filters) -> bool {
    f.spec_versions.is_empty() || f.spec_versions.iter().any(|s| s == i.spec_version())
}

/// Does the request want only the current version of each object (`match[version]` absent
/// or only `last`)?
fn latest_only(f: &Filters) -> bool {
    f.versions.iter().all(|v| *v == StixVersion::Last)
}

/// The source a collection is limited to: `Ok(None)` for all, `Err(())` when the
/// collection's source does not exist yet (nothing to serve).
async fn collection_source(
    st: &AppState,
    cid: &str,
) -> Result<Result<Option<vigil_store::IntelSourceId>, ()>, TaxiiError> {
    match cid {
        INDICATORS_COLLECTION => Ok(Ok(None)),
        PARTNERS_COLLECTION => Ok(st
            .store
            .list_intel_sources()
            .await?
            .into_iter()
            .find(|s| s.spec.name == PARTNERS_SOURCE)
            .map(|s| Some(s.id))
            .ok_or(())),
        _ => Err(TaxiiError::not_found("collection")),
    }
}

/// One fetched stream: its items in `date_added` order and whether the store has more.
struct Fetched {
    items: Vec<Item>,
    more: bool,
}

async fn fetch_indicators(
    st: &AppState,
    source_id: Option<vigil_store::IntelSourceId>,
    f: &Filters,
    ids: &[String],
    from: &Position,
) -> Result<Fetched, TaxiiError> {
    if !latest_only(f) {
        // Replaced versions too: the store merges them with the current ones.
        let p = st
            .store
            .list_indicator_versions(&IndicatorVersionQuery {
                source_id,
                stix_ids: ids.iter().take(MAX_LIMIT).cloned().collect(),
                versions: f.versions.clone(),
                added_after: f.added_after,
                limit: f.limit,
                cursor: from.cursor(),
            })
            .await?;
        return Ok(Fetched {
            more: p.next_cursor.is_some(),
            items: p
                .items
                .into_iter()
                .map(|v| Item::IndicatorVersion(Box::new(v)))
                .collect(),
        });
    }
    let base = IndicatorQuery {
        source_id,
        include_revoked: true,
        added_after: f.added_after,
        oldest_first: true,
        limit: f.limit,
        cursor: from.cursor(),
        ..IndicatorQuery::default()
    };
    if ids.is_empty() {
        let p = st.store.list_indicators(&base).await?;
        return Ok(Fetched {
            more: p.next_cursor.is_some(),
            items: p
                .items
                .into_iter()
                .map(|i| Item::Indicator(Box::new(i)))
                .collect(),
        });
    }
    // A few ids: each looked up, in date_added order, one page.
    let mut items = Vec::new();
    for id in ids.iter().take(MAX_LIMIT) {
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
    Ok(Fetched {
        items: items
            .into_iter()
            .map(|i| Item::Indicator(Box::new(i)))
            .collect(),
        more: false,
    })
}

async fn fetch_objects(
    st: &AppState,
    source_id: Option<vigil_store::IntelSourceId>,
    f: &Filters,
    ids: &[String],
    types: &[String],
    from: &Position,
) -> Result<Fetched, TaxiiError> {
    let single = match f.versions.as_slice() {
        [] => Some(StixVersion::Last),
        [v] => Some(*v),
        vs if vs.contains(&StixVersion::All) => Some(StixVersion::All),
        _ => None,
    };
    let q = StixObjectQuery {
        ids: ids.to_vec(),
        types: types.to_vec(),
        source_id,
        spec_versions: f.spec_versions.clone(),
        version: single.unwrap_or(StixVersion::All),
        added_after: f.added_after,
        limit: f.limit,
        cursor: from.cursor(),
        ..StixObjectQuery::default()
    };
    let p = st.store.list_stix_objects(&q).await?;
    let more = p.next_cursor.is_some();
    let mut items = p.items;
    if single.is_none() {
        // Several selectors (`first,last`, timestamps): every version fetched, those that
        // match one kept. Which versions are the first is asked for the page's ids.
        let page_ids: Vec<String> = items.iter().map(|o| o.spec.stix_id.clone()).collect();
        let firsts: std::collections::HashSet<(String, Timestamp)> =
            if f.versions.contains(&StixVersion::First) {
                st.store
                    .list_stix_objects(&StixObjectQuery {
                        ids: page_ids,
                        version: StixVersion::First,
                        limit: MAX_LIMIT,
                        ..StixObjectQuery::default()
                    })
                    .await?
                    .items
                    .into_iter()
                    .map(|o| (o.spec.stix_id, o.spec.modified))
                    .collect()
            } else {
                Default::default()
            };
        items.retain(|o| {
            f.versions.iter().any(|v| match v {
                StixVersion::Last => o.latest,
                StixVersion::First => firsts.contains(&(o.spec.stix_id.clone(), o.spec.modified)),
                StixVersion::All => true,
                StixVersion::At(t) => o.spec.modified == *t,
            })
        });
    }
    Ok(Fetched {
        items: items
            .into_iter()
            .map(|o| Item::Object(Box::new(o)))
            .collect(),
        more,
    })
}

/// One page of a collection: indicators and the other STIX objects merged in `date_added`
/// order, and the `next` token when more follow. Each stream is read from its own position
/// (held in the token), at most `limit` items, and the merge takes the first `limit`.
async fn page(
    st: &AppState,
    cid: &str,
    f: &Filters,
) -> Result<(Vec<Item>, Option<String>), TaxiiError> {
    let Ok(source_id) = collection_source(st, cid).await? else {
        return Ok((Vec::new(), None));
    };
    let (mut ind_pos, mut obj_pos) = match &f.next {
        Some(n) => decode_next(n)?,
        None => (Position::Start, Position::Start),
    };
    let wants_indicators = f.types.is_empty() || f.types.iter().any(|t| t == "indicator");
    let object_types: Vec<String> = f
        .types
        .iter()
        .filter(|t| *t != "indicator")
        .cloned()
        .collect();
    let wants_objects = f.types.is_empty() || !object_types.is_empty();
    let (ind_ids, obj_ids): (Vec<String>, Vec<String>) = f
        .ids
        .iter()
        .cloned()
        .partition(|i| i.starts_with("indicator--"));
    let by_id = !f.ids.is_empty();
    if !wants_indicators || (by_id && ind_ids.is_empty()) {
        ind_pos = Position::Done;
    }
    if !wants_objects || (by_id && obj_ids.is_empty()) {
        obj_pos = Position::Done;
    }
    let inds = if ind_pos == Position::Done {
        Fetched {
            items: Vec::new(),
            more: false,
        }
    } else {
        fetch_indicators(st, source_id, f, &ind_ids, &ind_pos).await?
    };
    let objs = if obj_pos == Position::Done {
        Fetched {
            items: Vec::new(),
            more: false,
        }
    } else {
        fetch_objects(st, source_id, f, &obj_ids, &object_types, &obj_pos).await?
    };
    let (ind_total, obj_total) = (inds.items.len(), objs.items.len());
    let mut merged = Vec::with_capacity(f.limit.min(ind_total + obj_total));
    let (mut a, mut b) = (
        inds.items.into_iter().peekable(),
        objs.items.into_iter().peekable(),
    );
    let (mut took_ind, mut took_obj) = (0, 0);
    while merged.len() < f.limit {
        let take_ind = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.date_added() <= y.date_added(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_ind {
            took_ind += 1;
            a.next()
        } else {
            took_obj += 1;
            b.next()
        };
        merged.extend(next);
    }
    let advance = |pos: Position, took: usize, total: usize, more: bool, last: Option<&Item>| {
        if pos == Position::Done || (took == total && !more) {
            Position::Done
        } else {
            last.map_or(pos, |i| Position::After(i.cursor()))
        }
    };
    let last_ind = merged.iter().rev().find(|i| i.is_indicator());
    let last_obj = merged.iter().rev().find(|i| matches!(i, Item::Object(_)));
    let ind_next = advance(ind_pos, took_ind, ind_total, inds.more, last_ind);
    let obj_next = advance(obj_pos, took_obj, obj_total, objs.more, last_obj);
    let next = (ind_next != Position::Done || obj_next != Position::Done)
        .then(|| encode_next(&ind_next, &obj_next));
    merged.retain(|i| !i.is_indicator() || indicator_selected(i, f));
    Ok((merged, next))
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
fn date_headers(items: &[Item]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let first = items.iter().map(Item::date_added).min();
    let last = items.iter().map(Item::date_added).max();
    for (name, t) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Some(t) = t
            && let Ok(v) = HeaderValue::from_str(&taxii_time(t))
        {
            h.insert(name, v);
        }
    }
    h
}

fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("next".into(), Value::String(n));
    }
    body
}

fn envelope(items: &[Item], next: Option<String>) -> Value {
    let objects: Vec<Value> = items.iter().filter_map(Item::served).collect();
    with_next(json!({ "more": next.is_some(), "objects": objects }), next)
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
                "id": i.stix_id(),
                "date_added": taxii_time(i.date_added()),
                "version": stix_time(i.version()),
                "media_type": STIX_MEDIA,
            })
        })
        .collect();
    let body = with_next(json!({ "more": next.is_some(), "objects": objects }), next);
    Ok(taxii_response(StatusCode::OK, &body, date_headers(&items)))
}

/// The filters of a request about one object: its own query, the object's id.
fn object_filters(raw: Option<&str>, oid: String) -> Result<Filters, TaxiiError> {
    let mut f = parse_filters(raw)?;
    if !f.ids.is_empty() || !f.types.is_empty() {
        return Err(TaxiiError::new(
            StatusCode::BAD_REQUEST,
            "bad request",
            "match[id] and match[type] do not apply to one object",
        ));
    }
    f.ids = vec![oid];
    Ok(f)
}

async fn object(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let f = object_filters(raw.as_deref(), oid)?;
    let (items, next) = page(&st, &cid, &f).await?;
    if items.is_empty() && f.next.is_none() {
        return Err(TaxiiError::not_found("object"));
    }
    Ok(taxii_response(
        StatusCode::OK,
        &envelope(&items, next),
        date_headers(&items),
    ))
}

async fn versions(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path((cid, oid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    caller(&headers, auth)?;
    let mut f = object_filters(raw.as_deref(), oid)?;
    if !f.versions.is_empty() {
        return Err(TaxiiError::new(
            StatusCode::BAD_REQUEST,
            "bad request",
            "match[version] does not apply to versions",
        ));
    }
    f.versions = vec![StixVersion::All];
    let (items, next) = page(&st, &cid, &f).await?;
    if items.is_empty() && f.next.is_none() {
        return Err(TaxiiError::not_found("object"));
    }
    let v: Vec<String> = items.iter().map(|i| stix_time(i.version())).collect();
    Ok(taxii_response(
        StatusCode::OK,
        &with_next(json!({ "more": next.is_some(), "versions": v }), next),
        date_headers(&items),
    ))
}

async fn status(
    State(st): State<AppState>,
    headers: HeaderMap,
    auth: Result<Auth, ApiError>,
    Path(id): Path<String>,
) -> TaxiiResult {
    caller(&headers, auth)?;
    match st.store.get_taxii_status(&id).await? {
        Some(s) => ok(&s.body),
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
    // Kept in the store so that `GET status/{id}/` answers after a restart too.
    st.store
        .put_taxii_status(vigil_store::TaxiiStatus {
            id: status_id,
            body: body.clone(),
            created_at: requested,
        })
        .await?;
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

    #[test]
    fn version_filters_parse() {
        let f = parse_filters(Some(
            "match%5Bversion%5D=first,last,2020-01-01T00:00:00.123Z&match%5Bspec_version%5D=2.0",
        ))
        .ok()
        .expect("filters");
        let t: Timestamp = "2020-01-01T00:00:00.123Z".parse().expect("t");
        assert_eq!(
            f.versions,
            [StixVersion::First, StixVersion::Last, StixVersion::At(t)]
        );
        assert_eq!(f.spec_versions, ["2.0"]);
        assert!(parse_filters(Some("match%5Bversion%5D=newest")).is_err());
        assert!(parse_filters(Some("match%5Bspec_version%5D=2.2")).is_err());
    }

    #[test]
    fn next_tokens_round_trip() {
        let c = vigil_store::Cursor {
            micros: 1,
            key: "x".into(),
        }
        .encode();
        for (i, o) in [
            (Position::Start, Position::After(c.clone())),
            (Position::Done, Position::Start),
            (Position::After(c.clone()), Position::Done),
        ] {
            let (i2, o2) = decode_next(&encode_next(&i, &o)).ok().expect("decodes");
            assert_eq!((i2, o2), (i, o));
        }
        assert!(decode_next("garbage").is_err());
        assert!(decode_next("v1.a.b.c").is_err());
    }
}
