//! `/api/v1/events`: NDJSON / JSON-array bulk ingest with per-line results (through the
//! pipeline's spool when it runs), and search.

use super::page_json;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use std::collections::{BTreeMap, HashMap};
use vigil_model::event::parse_ecs_line;
use vigil_model::{Action, AssetId, Event, EventId, NewEvent, OrgId, Provenance, Timestamp};
use vigil_store::{EventQuery, FieldFilter};

/// The result of one NDJSON line.
#[derive(Debug, serde::Serialize)]
pub struct LineResult {
    pub line: usize,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<EventId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The items of a bulk body: the elements of one JSON array (a body that parses as one), or
/// else NDJSON lines, each with its 1-based number.
fn body_items(body: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[')
        && let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(body)
    {
        return items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, serde_json::to_vec(&v).unwrap_or_default()))
            .collect();
    }
    // Not an array: NDJSON, whose lines are judged one by one (a first line that is a broken
    // array is rejected with its reason like any other).
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.iter().all(u8::is_ascii_whitespace)).then(|| (i + 1, line.to_vec()))
        })
        .collect()
}

/// Bulk ingest. The body is NDJSON (each non-blank line an ECS JSON document) or one JSON
/// array of such documents. `?org_id=` names the organization for lines that do not carry
/// `vigil.org_id`; organization users and organization-scoped tokens may only send for their
/// own organization.
///
/// With the ingestion pipeline running, the accepted lines are appended to its durable spool
/// in one synced append and the answer is `202 Accepted` with the spool position; they are
/// then attributed (the organization resolved here, else by host and addresses), run through
/// live Sigma detection, indicator matching and aggregation, and stored. A full spool answers
/// `503` with `Retry-After` and spools nothing. Without the pipeline, a line is stored whole or
/// not at all and the answer (200, with event ids) comes only after the stored lines are
/// durable.
pub async fn ingest(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(raw_query): RawQuery,
    body: bytes::Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<serde_json::Value>)> {
    auth.require(Action::IngestEvents)?;
    // Load shedding: at most `ingest_max_inflight` bodies are worked on at once; a request
    // that finds no slot within `ingest_wait` is refused before anything is stored, so the
    // client can retry it whole.
    let _slot = match tokio::time::timeout(
        st.config.ingest_wait,
        st.ingest_slots.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(permit)) => permit,
        _ => {
            metrics::counter!("vigil_ingest_overloaded_total", "input" => "api").increment(1);
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the server is storing as fast as it can; nothing of this request was stored, send it again after the Retry-After delay",
            )
            .with_retry_after(1));
        }
    };
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query.as_deref().unwrap_or("")).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "bad_query",
                e.to_string(),
            )
        })?;
    let mut default_org: Option<OrgId> = None;
    for (k, v) in &params {
        match k.as_str() {
            "org_id" => {
                default_org = Some(
                    v.parse()
                        .map_err(|_| ApiError::invalid("org_id", format!("'{v}' is not a UUID")))?,
                )
            }
            other => {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("unknown query parameter '{other}'"),
                ));
            }
        }
    }
    let intake = st.intake.get().cloned();
    let accepted_status = if intake.is_some() {
        "spooled"
    } else {
        "stored"
    };
    let scope = auth.principal.scope();
    let own_org = auth
        .principal
        .org_id
        .filter(|_| matches!(scope, vigil_model::Scope::Org(_)));
    let default_org = default_org.or(own_org);
    let received_at = Timestamp::now();
    let sender = Some(auth.principal.actor());

    let mut results: Vec<LineResult> = Vec::new();
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut spool_lines: Vec<vigil_pipeline::intake::IntakeLine> = Vec::new();
    let mut batch_lines: Vec<usize> = Vec::new();
    let mut org_ok: HashMap<OrgId, bool> = HashMap::new();
    let mut asset_org: HashMap<AssetId, Option<OrgId>> = HashMap::new();

    for (line_no, line) in body_items(&body) {
        let reject = |results: &mut Vec<LineResult>, msg: String| {
            metrics::counter!("vigil_ingest_rejected_total", "input" => "api").increment(1);
            results.push(LineResult {
                line: line_no,
                status: "rejected",
                id: None,
                error: Some(msg),
            });
        };
        let doc = match parse_ecs_line(&line) {
            Ok(d) => d,
            Err(e) => {
                reject(&mut results, e.to_string());
                continue;
            }
        };
        // The organization an asset named without one belongs to (only through the
        // pipeline, which may also attribute by host and addresses; the direct path needs it).
        let mut org = doc.org_id.or(default_org);
        if org.is_none()
            && intake.is_some()
            && let Some(asset) = doc.asset_id
        {
            org = match asset_org.get(&asset) {
                Some(o) => *o,
                None => {
                    let o = st
                        .store
                        .get_asset(scope, asset)
                        .await?
                        .map(|a| a.spec.org_id);
                    asset_org.insert(asset, o);
                    o
                }
            };
            if org.is_none() {
                reject(
                    &mut results,
                    format!("vigil.asset_id: asset {asset} not found"),
                );
                continue;
            }
        }
        let Some(org) = org else {
            if intake.is_some() {
                // Attributed by the pipeline from host.name / host.ip / source and destination
                // addresses against the asset directory.
                spool_lines.push(vigil_pipeline::intake::IntakeLine { org: None, line });
                results.push(LineResult {
                    line: line_no,
                    status: accepted_status,
                    id: None,
                    error: None,
                });
                continue;
            }
            reject(
                &mut results,
                "vigil.org_id: missing; name the organization in the line or with ?org_id=".into(),
            );
            continue;
        };
        let allowed = match org_ok.get(&org) {
            Some(ok) => *ok,
            None => {
                let ok = scope.allows_org(org) && st.store.get_org(scope, org).await?.is_some();
                org_ok.insert(org, ok);
                ok
            }
        };
        if !allowed {
            reject(
                &mut results,
                format!("vigil.org_id: organization {org} not found"),
            );
            continue;
        }
        if let Some(asset) = doc.asset_id {
            let owner = match asset_org.get(&asset) {
                Some(o) => *o,
                None => {
                    let o = st
                        .store
                        .get_asset(scope, asset)
                        .await?
                        .map(|a| a.spec.org_id);
                    asset_org.insert(asset, o);
                    o
                }
            };
            if owner != Some(org) {
                reject(
                    &mut results,
                    format!("vigil.asset_id: asset {asset} not found in organization {org}"),
                );
                continue;
            }
        }
        results.push(LineResult {
            line: line_no,
            status: accepted_status,
            id: None,
            error: None,
        });
        if intake.is_some() {
            spool_lines.push(vigil_pipeline::intake::IntakeLine {
                org: Some(org),
                line,
            });
            continue;
        }
        batch.push(NewEvent {
            org_id: org,
            asset_id: doc.asset_id,
            timestamp: doc.timestamp.unwrap_or(received_at),
            received_at,
            provenance: Provenance {
                input: "api".into(),
                sender: sender.clone(),
            },
            fields: doc.fields,
            native: BTreeMap::new(),
            raw: line,
        });
        batch_lines.push(line_no);
    }

    if let Some(intake) = intake {
        let spooled = spool_lines.len();
        let rejected = results.len() - spooled;
        intake.note_rejected(rejected as u64);
        let position = if spool_lines.is_empty() {
            None
        } else {
            match intake.append(sender, received_at, spool_lines).await {
                Ok(end) => {
                    metrics::counter!("vigil_events_ingested_total", "input" => "api")
                        .increment(spooled as u64);
                    Some(end)
                }
                Err(vigil_pipeline::intake::IntakeError::Full { used, max }) => {
                    metrics::counter!("vigil_ingest_spool_full_total", "input" => "api")
                        .increment(1);
                    tracing::warn!(actor = %auth.principal.actor(), used, max, lines = spooled, "http ingest refused: spool full");
                    return Err(ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "spool_full",
                        "the ingestion spool is full; nothing of this request was accepted, send it again after the Retry-After delay",
                    )
                    .with_retry_after(2));
                }
                Err(vigil_pipeline::intake::IntakeError::TooLarge(n)) => {
                    return Err(ApiError::new(
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "line_too_large",
                        format!("a line of {n} bytes exceeds the spool's record limit"),
                    ));
                }
                Err(e) => {
                    metrics::counter!("vigil_ingest_spool_errors_total", "input" => "api")
                        .increment(1);
                    tracing::error!(error = %e, "http ingest: spool append failed");
                    return Err(ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "spool_unavailable",
                        "the ingestion spool cannot take events now; nothing of this request was accepted",
                    )
                    .with_retry_after(5));
                }
            }
        };
        if rejected > 0 {
            tracing::info!(actor = %auth.principal.actor(), spooled, rejected, "bulk lines rejected");
        }
        return Ok((
            axum::http::StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "spooled": spooled,
                "rejected": rejected,
                "position": position,
                "results": results,
            })),
        ));
    }

    let stored = batch.len();
    if !batch.is_empty() {
        let ids = st.store.append_events(batch).await?;
        metrics::counter!("vigil_events_ingested_total", "input" => "api")
            .increment(ids.len() as u64);
        let by_line: HashMap<usize, EventId> = batch_lines.into_iter().zip(ids).collect();
        for r in results.iter_mut().filter(|r| r.status == "stored") {
            r.id = by_line.get(&r.line).copied();
        }
    }
    let rejected = results.len() - stored;
    if rejected > 0 {
        tracing::info!(actor = %auth.principal.actor(), stored, rejected, "ndjson lines rejected");
    }
    Ok((
        axum::http::StatusCode::OK,
        Json(serde_json::json!({
            "stored": stored,
            "rejected": rejected,
            "results": results,
        })),
    ))
}

/// Parses the search query string. Repeated `filter=field:value` parameters combine with AND.
pub fn parse_search(raw: Option<&str>) -> Result<EventQuery, ApiError> {
    let bad = |m: String| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_query", m);
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| bad(e.to_string()))?;
    let mut q = EventQuery::default();
    let time = |k: &str, v: &str| {
        vigil_model::event::parse_timestamp(v)
            .ok_or_else(|| ApiError::invalid(k, format!("'{v}' is not an RFC 3339 time")))
    };
    for (k, v) in params {
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "org_id" => {
                q.org_id = Some(
                    v.parse()
                        .map_err(|_| ApiError::invalid("org_id", "not a UUID"))?,
                )
            }
            "asset_id" => {
                q.asset_id = Some(
                    v.parse()
                        .map_err(|_| ApiError::invalid("asset_id", "not a UUID"))?,
                )
            }
            "from" => q.from = Some(time("from", &v)?),
            "to" => q.to = Some(time("to", &v)?),
            "q" => q.text = Some(v),
            "limit" => {
                q.limit = v
                    .parse()
                    .map_err(|_| ApiError::invalid("limit", "not a number"))?
            }
            "cursor" => q.cursor = Some(v),
            "filter" => {
                let (field, value) = v.split_once(':').ok_or_else(|| {
                    ApiError::invalid("filter", format!("'{v}' must be field:value"))
                })?;
                if field.is_empty() || field.len() > 200 {
                    return Err(ApiError::invalid(
                        "filter",
                        "field name must be 1 to 200 characters",
                    ));
                }
                if q.filters.len() >= 20 {
                    return Err(ApiError::invalid("filter", "at most 20 filters"));
                }
                q.filters.push(FieldFilter {
                    field: field.to_string(),
                    value: value.to_string(),
                });
            }
            other => return Err(bad(format!("unknown query parameter '{other}'"))),
        }
    }
    Ok(q)
}

pub async fn search(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadEvents)?;
    let q = parse_search(raw.as_deref())?;
    let page = st.store.search_events(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<EventId>,
) -> ApiResult<Json<Event>> {
    auth.require(Action::ReadEvents)?;
    st.store
        .get_event(auth.principal.scope(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("event"))
}
