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
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use vigil_intel::stix::{stable_id, stix_time};
use vigil_model::Timestamp;
use vigil_store::{IndicatorId, IndicatorQuery, IntelSourceId, SightingQuery, StoredIndicator};

/// Objects in one export page when the caller does not say; the most one page holds.
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
    /// Most objects in one bundle (default 10,000, at most 100,000); more come page by page.
    pub limit: Option<usize>,
    /// Where to go on: the `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
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

/// Where a paged export stands: in the indicators (after a store position, or from the
/// start) or in the sightings (likewise). The `cursor` parameter and the `X-Next-Cursor`
/// header carry it as `i.<store cursor>` / `s.<store cursor>` (`i.` / `s.` for the start).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ExportPos {
    Indicators(Option<String>),
    Sightings(Option<String>),
}

impl ExportPos {
    fn encode(&self) -> String {
        match self {
            ExportPos::Indicators(c) => format!("i.{}", c.as_deref().unwrap_or("")),
            ExportPos::Sightings(c) => format!("s.{}", c.as_deref().unwrap_or("")),
        }
    }

    fn decode(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::invalid("cursor", "is not a cursor this server issued");
        let (phase, rest) = s.split_once('.').ok_or_else(bad)?;
        if rest.len() > 512
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad());
        }
        let c = (!rest.is_empty()).then(|| rest.to_string());
        match phase {
            "i" => Ok(ExportPos::Indicators(c)),
            "s" => Ok(ExportPos::Sightings(c)),
            _ => Err(bad()),
        }
    }
}

/// A bundle written object by object into one text (no tree of values kept alongside).
struct BundleText {
    text: String,
    objects: usize,
}

impl BundleText {
    fn new() -> Self {
        let text = format!(
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[",
            uuid::Uuid::new_v4()
        );
        Self { text, objects: 0 }
    }

    fn push(&mut self, o: &Value) {
        if self.objects > 0 {
            self.text.push(',');
        }
        // Writing a Value into a String cannot fail.
        if serde_json::to_writer(VecWriter(&mut self.text), o).is_ok() {
            self.objects += 1;
        }
    }

    fn finish(mut self) -> String {
        self.text.push_str("]}");
        self.text
    }
}

/// `io::Write` into a `String` (serde_json writes valid UTF-8).
struct VecWriter<'a>(&'a mut String);

impl std::io::Write for VecWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.push_str(s);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /api/v1/intel/export`: a STIX 2.1 bundle (`application/stix+json;version=2.1`) of at
/// most `limit` indicators and sightings (plus the producer identity), indicators first in
/// `date_added` order, then sightings newest first. When more follow, the answer carries an
/// `X-Next-Cursor` header: the same request with `cursor=<it>` gives the next bundle, so a
/// client pages through any number of objects, each once (the last page may be empty).
pub async fn export(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(p) = params?;
    let (want_ind, want_sig) = parse_types(p.types.as_deref())?;
    let limit = p.limit.unwrap_or(DEFAULT_EXPORT).clamp(1, MAX_EXPORT);
    let mut pos = match p.cursor.as_deref() {
        Some(c) => ExportPos::decode(c)?,
        None if want_ind => ExportPos::Indicators(None),
        None => ExportPos::Sightings(None),
    };
    let principal = &auth.principal;
    let now = Timestamp::now();
    let producer_id = stable_id("identity", PRODUCER);
    let mut bundle = BundleText::new();
    bundle.push(&json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": producer_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": PRODUCER,
        "identity_class": "system",
    }));
    let (mut indicators, mut sightings) = (0usize, 0usize);
    // The position after the page, when more may follow.
    let mut next: Option<ExportPos> = None;
    if let ExportPos::Indicators(start) = &pos
        && want_ind
    {
        let mut cursor = start.clone();
        'ind: loop {
            let q = IndicatorQuery {
                source_id: p.source_id,
                include_revoked: p.include_revoked.unwrap_or(false),
                added_after: p.added_after,
                oldest_first: true,
                limit: PAGE,
                cursor: cursor.clone(),
                tlp_exclude: super::intel_admin::tlp_exclude_for(principal),
                ..IndicatorQuery::default()
            };
            let page = st.store.list_indicators(&q).await?;
            let n = page.items.len();
            for (k, i) in page.items.iter().enumerate() {
                if let Some(o) = indicator_21(i) {
                    bundle.push(&o);
                    indicators += 1;
                }
                let here = vigil_store::Cursor {
                    micros: i.date_added.as_microsecond(),
                    key: i.id.to_string(),
                }
                .encode();
                cursor = Some(here);
                if indicators >= limit {
                    let more_here = k + 1 < n || page.next_cursor.is_some();
                    if more_here {
                        next = Some(ExportPos::Indicators(cursor.clone()));
                    } else if want_sig {
                        next = Some(ExportPos::Sightings(None));
                    }
                    break 'ind;
                }
            }
            if page.next_cursor.is_none() {
                break;
            }
        }
        pos = ExportPos::Sightings(None);
    }
    if let ExportPos::Sightings(start) = &pos
        && want_sig
        && next.is_none()
        && indicators < limit
    {
        let mut stix_ids: HashMap<IndicatorId, Option<String>> = HashMap::new();
        let mut cursor = start.clone();
        'sig: loop {
            let q = SightingQuery {
                from: p.added_after,
                limit: PAGE,
                cursor: cursor.clone(),
                ..SightingQuery::default()
            };
            let page = st.store.list_sightings(principal.scope(), &q).await?;
            let n = page.items.len();
            for (k, s) in page.items.iter().enumerate() {
                cursor = Some(
                    vigil_store::Cursor {
                        micros: s.spec.seen_at.as_microsecond(),
                        key: s.id.to_string(),
                    }
                    .encode(),
                );
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
                if let Some(of) = of {
                    let at = stix_time(s.spec.seen_at);
                    let created = stix_time(s.created_at);
                    bundle.push(&json!({
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
                if indicators + sightings >= limit {
                    if k + 1 < n || page.next_cursor.is_some() {
                        next = Some(ExportPos::Sightings(cursor.clone()));
                    }
                    break 'sig;
                }
            }
            if page.next_cursor.is_none() {
                break;
            }
        }
    }
    tracing::debug!(indicators, sightings, more = next.is_some(), "intel export");
    let name = format!(
        "attachment; filename=\"vigil-intel-{}.json\"",
        now.strftime("%Y%m%dT%H%M%SZ")
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/stix+json;version=2.1"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(n) = next
        && let Ok(v) = HeaderValue::from_str(&n.encode())
    {
        headers.insert(NEXT_CURSOR, v);
    }
    Ok((headers, bundle.finish()).into_response())
}

/// The header that names the next page of an export.
pub const NEXT_CURSOR: &str = "x-next-cursor";

/// A configured TAXII feed as the web layer knows it (`[[intel.taxii_feeds]]`, resolved by
/// the server): what the feeds page and `GET /api/v1/intel/feeds` show besides the stored
/// polling state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxiiFeedSchedule {
    pub name: String,
    /// The intelligence source its objects go into.
    pub source: String,
    /// The collection URL (no credentials).
    pub collection_url: String,
    pub interval: std::time::Duration,
    /// First retry after a failure, doubling per further failure up to the interval.
    pub retry_min: std::time::Duration,
}

impl TaxiiFeedSchedule {
    /// The wait after a poll (the scheduler, `vigil-server`'s `taxii_feeds::next_delay`,
    /// calls this): the interval after a success, `retry_min` doubled per consecutive failure
    /// after failures, at most the interval.
    pub fn next_delay(&self, consecutive_failures: u32) -> std::time::Duration {
        feed_delay(self.interval, self.retry_min, consecutive_failures)
    }
}

/// The wait after a TAXII feed poll: `interval` after a success, after failures `retry_min`
/// doubled per consecutive failure, at most `interval`.
pub fn feed_delay(
    interval: std::time::Duration,
    retry_min: std::time::Duration,
    consecutive_failures: u32,
) -> std::time::Duration {
    if consecutive_failures == 0 {
        return interval;
    }
    let factor = 1u32 << consecutive_failures.saturating_sub(1).min(20);
    retry_min.saturating_mul(factor).min(interval)
}

/// One feed: configured, polled, or both.
#[derive(Debug, Clone, Serialize)]
pub struct FeedView {
    pub name: String,
    /// In the current configuration (a feed polled before and since removed is not).
    pub configured: bool,
    pub source: Option<String>,
    pub collection_url: String,
    pub interval_secs: Option<u64>,
    /// `never polled`, `ok`, `failing`, or `removed` (polled, no longer configured).
    pub state: &'static str,
    #[serde(flatten)]
    pub polled: Option<vigil_store::TaxiiFeedState>,
    /// When the scheduler polls next (configured feeds; `None` when due at the next start).
    pub next_attempt_at: Option<Timestamp>,
}

/// The configured feeds in configuration order with their stored state, then feeds polled
/// before that are no longer configured.
pub async fn feed_views(st: &AppState) -> ApiResult<Vec<FeedView>> {
    let mut stored: Vec<vigil_store::TaxiiFeedState> = st.store.list_taxii_feeds().await?;
    let mut out = Vec::new();
    for f in &st.config.taxii_feeds {
        let polled = stored
            .iter()
            .position(|s| s.name == f.name)
            .map(|i| stored.remove(i))
            // A changed collection URL starts over (the scheduler does the same).
            .filter(|s| s.collection_url == f.collection_url);
        let state = match &polled {
            None => "never_polled",
            Some(s) if s.consecutive_failures > 0 => "failing",
            Some(_) => "ok",
        };
        let next_attempt_at = polled.as_ref().and_then(|s| {
            let last = s.last_attempt_at?;
            let wait = jiff::SignedDuration::try_from(f.next_delay(s.consecutive_failures)).ok()?;
            last.checked_add(wait).ok()
        });
        out.push(FeedView {
            name: f.name.clone(),
            configured: true,
            source: Some(f.source.clone()),
            collection_url: f.collection_url.clone(),
            interval_secs: Some(f.interval.as_secs()),
            state,
            polled,
            next_attempt_at,
        });
    }
    out.extend(stored.into_iter().map(|s| FeedView {
        name: s.name.clone(),
        configured: false,
        source: None,
        collection_url: s.collection_url.clone(),
        interval_secs: None,
        state: "removed",
        polled: Some(s),
        next_attempt_at: None,
    }));
    Ok(out)
}

/// `GET /api/v1/intel/feeds`: the configured TAXII feeds and those polled before, with their
/// state and the next attempt.
pub async fn feeds(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    if !may_read_sources(&auth.principal) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(ApiError::forbidden(
            "role org_user may not read intelligence feeds",
        ));
    }
    Ok(super::page_json(feed_views(&st).await?, None))
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

    #[test]
    fn feed_retries_double_up_to_the_interval() {
        let f = TaxiiFeedSchedule {
            name: "a".into(),
            source: "taxii:a".into(),
            collection_url: "https://peer.example/c/".into(),
            interval: std::time::Duration::from_secs(3600),
            retry_min: std::time::Duration::from_secs(30),
        };
        let secs = |n| f.next_delay(n).as_secs();
        assert_eq!(
            [secs(0), secs(1), secs(2), secs(3), secs(8), secs(40)],
            [3600, 30, 60, 120, 3600, 3600]
        );
    }

    #[test]
    fn export_cursors_round_trip() {
        for p in [
            ExportPos::Indicators(None),
            ExportPos::Indicators(Some("AbC-_1".into())),
            ExportPos::Sightings(None),
            ExportPos::Sightings(Some("x".into())),
        ] {
            assert_eq!(ExportPos::decode(&p.encode()).ok(), Some(p));
        }
        for bad in ["", "x.abc", "i", "i.a b", "s.a/b"] {
            assert!(ExportPos::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bundle_text_is_json() {
        let mut b = BundleText::new();
        b.push(&json!({"a": 1}));
        b.push(&json!({"b": "ü"}));
        let v: Value = serde_json::from_str(&b.finish()).expect("json");
        assert_eq!(v["objects"], json!([{"a": 1}, {"b": "ü"}]));
        assert_eq!(v["type"], "bundle");
    }
}
