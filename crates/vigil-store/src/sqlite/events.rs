//! Events: the hot path.
//!
//! A batch is inserted with one cached prepared statement inside the writer's transaction.
//! The twelve [`INDEXED_FIELDS`] have their own columns with partial indexes (only rows that
//! have the field are in the index, so sparse fields cost nothing on rows without them);
//! everything else stays in the `fields` JSON and is filtered with `json_extract`.
//!
//! Cost (benches/append.rs, 2-core VM): 40-75k events/s for sequential 1,000-event batches,
//! more with concurrent appenders, whose batches share a commit. Most of it is B-tree work
//! and writing dirty pages to the WAL at commit; a high-cardinality indexed field such as
//! `source.ip` dirties about one index page per distinct value per commit, which is why
//! bigger (group) commits are cheaper per event. Checkpoints run on their own thread.

use super::directory::org_visible;
use super::sql::{Filter, col_err, get_opt_uuid, get_ts, get_uuid, page, text, to_json, us};
use crate::{Cursor, EventQuery, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use std::collections::BTreeMap;
use vigil_model::{
    AssetId, Event, EventId, INDEXED_FIELDS, NewEvent, OrgId, Page, Provenance, Scope, Timestamp,
};

/// Column of each of [`INDEXED_FIELDS`], in the same order.
pub(crate) const INDEXED_COLUMNS: [&str; 12] = [
    "event_category",
    "event_action",
    "event_outcome",
    "event_severity",
    "source_ip",
    "destination_ip",
    "destination_port",
    "host_name",
    "user_name",
    "process_name",
    "url_domain",
    "file_hash_sha256",
];

const INSERT: &str = "INSERT INTO events (org_id, asset_id, ts, received_at, input, sender,
        event_category, event_action, event_outcome, event_severity, source_ip, destination_ip,
        destination_port, host_name, user_name, process_name, url_domain, file_hash_sha256,
        message, fields, native, raw)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
        ?19, ?20, ?21, ?22)";

const COLUMNS: &str = "id, org_id, asset_id, ts, received_at, input, sender, fields, native, raw";

/// Events deleted per writer job by retention, so appends are not held up behind one huge
/// delete.
pub(crate) const DELETE_CHUNK: i64 = 20_000;

/// Appends a batch in the current (writer) transaction; ids come back in input order.
pub(crate) fn append(conn: &Connection, events: &[NewEvent]) -> Result<Vec<EventId>> {
    // One existence check per organization of the batch instead of a foreign key per row.
    let mut orgs: Vec<(OrgId, String)> = Vec::new();
    for e in events {
        if !orgs.iter().any(|(o, _)| *o == e.org_id) {
            if !org_visible(conn, Scope::All, e.org_id)? {
                return Err(StoreError::MissingReference(format!(
                    "organization {}",
                    e.org_id
                )));
            }
            orgs.push((e.org_id, e.org_id.to_string()));
        }
    }
    let mut stmt = conn.prepare_cached(INSERT)?;
    let mut ids = Vec::with_capacity(events.len());
    for e in events {
        let org = orgs
            .iter()
            .find(|(o, _)| *o == e.org_id)
            .map(|(_, s)| s.as_str())
            .unwrap_or_default();
        let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11] = e.indexed_values();
        let native = if e.native.is_empty() {
            None
        } else {
            Some(to_json(&e.native)?)
        };
        let id = stmt.insert(params![
            org,
            e.asset_id.map(|a| a.to_string()),
            us(e.timestamp),
            us(e.received_at),
            e.provenance.input,
            e.provenance.sender,
            c0,
            c1,
            c2,
            c3,
            c4,
            c5,
            c6,
            c7,
            c8,
            c9,
            c10,
            c11,
            e.message(),
            to_json(&e.fields)?,
            native,
            e.raw,
        ])?;
        ids.push(id);
    }
    Ok(ids)
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let fields: String = row.get(7)?;
    let fields: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&fields).map_err(|e| col_err(7, format!("bad fields json: {e}")))?;
    let native = match row.get_ref(8)?.as_str_or_null()? {
        None => BTreeMap::new(),
        Some(s) => {
            serde_json::from_str(s).map_err(|e| col_err(8, format!("bad native json: {e}")))?
        }
    };
    Ok(Event {
        id: row.get(0)?,
        event: NewEvent {
            org_id: OrgId(get_uuid(row, 1)?),
            asset_id: get_opt_uuid(row, 2)?.map(AssetId),
            timestamp: get_ts(row, 3)?,
            received_at: get_ts(row, 4)?,
            provenance: Provenance {
                input: row.get(5)?,
                sender: row.get(6)?,
            },
            fields,
            native,
            raw: row.get(9)?,
        },
    })
}

pub(crate) fn get(conn: &Connection, scope: Scope, id: EventId) -> Result<Option<Event>> {
    let mut f = Filter::default();
    f.and("id = ?", [Value::Integer(id)]).scope(scope, "org_id");
    let sql = format!("SELECT {COLUMNS} FROM events{}", f.sql);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(f.params.iter()), event_from_row)
        .optional()?)
}

/// The `fields` JSON value of `name` as text, the way [`vigil_model::event::value_text`]
/// prints it: strings as they are, numbers and booleans printed, objects and arrays never
/// equal to anything.
const JSON_FIELD_TEXT: &str = "(CASE json_type(fields, ?1)
        WHEN 'text' THEN json_extract(fields, ?1)
        WHEN 'integer' THEN CAST(json_extract(fields, ?1) AS TEXT)
        WHEN 'real' THEN CAST(json_extract(fields, ?1) AS TEXT)
        WHEN 'true' THEN 'true'
        WHEN 'false' THEN 'false'
    END)";

pub(crate) fn search(conn: &Connection, scope: Scope, q: &EventQuery) -> Result<Page<Event>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(a) = q.asset_id {
        f.and("asset_id = ?", [text(a)]);
    }
    if let Some(from) = q.from {
        f.and("ts >= ?", [Value::Integer(us(from))]);
    }
    if let Some(to) = q.to {
        f.and("ts < ?", [Value::Integer(us(to))]);
    }
    for ff in &q.filters {
        match INDEXED_FIELDS.iter().position(|n| *n == ff.field) {
            Some(i) => {
                f.and(&format!("{} = ?", INDEXED_COLUMNS[i]), [text(&ff.value)]);
            }
            None if ff.field.contains('"') => {
                // A JSON path cannot name this key, so no stored event has it.
                f.and("0", []);
            }
            None => {
                // Numbered parameters would clash with the builder's positional ones, so
                // the path is bound once per use.
                let path = format!("$.\"{}\"", ff.field);
                let cond = JSON_FIELD_TEXT.replace("?1", "?");
                let uses = cond.matches('?').count();
                let mut values: Vec<Value> = (0..uses).map(|_| text(&path)).collect();
                values.push(text(&ff.value));
                f.and(&format!("{cond} = ?"), values);
            }
        }
    }
    if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
        f.and("instr(lower(message), lower(?)) > 0", [text(t)]);
    }
    if let Some(c) = &q.cursor {
        let cur = Cursor::decode(c)?;
        let id: i64 = cur.key.parse().map_err(|_| {
            StoreError::BadCursor(format!("'{c}' is not a cursor this server issued"))
        })?;
        f.before("ts", "id", cur.micros, Value::Integer(id));
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM events{} ORDER BY ts DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), event_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |e: &Event| Cursor {
        micros: us(e.event.timestamp),
        key: e.id.to_string(),
    }))
}

/// Deletes up to [`DELETE_CHUNK`] events older than `cutoff`; returns how many went.
pub(crate) fn delete_chunk_before(conn: &Connection, cutoff: Timestamp) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ?1 LIMIT ?2)",
        )?
        .execute(params![us(cutoff), DELETE_CHUNK])?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_indexed_fields() {
        for (field, col) in INDEXED_FIELDS.iter().zip(INDEXED_COLUMNS) {
            assert_eq!(field.replace('.', "_"), col);
        }
    }
}
