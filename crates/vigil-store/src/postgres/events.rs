//! Events: binary COPY in, keyset-paginated search out.

use super::directory::{cursor_time, lock_orgs, page};
use super::query::{Query, contains_pattern};
use super::{PgStore, Ts, micros, scope_org};
use crate::{Cursor, EventQuery, Result, StoreError, page_size};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, ToSql, Type};
use vigil_model::{
    AssetId, Event, EventId, INDEXED_FIELDS, NewEvent, OrgId, Page, Provenance, Scope, Timestamp,
};

/// The column of each of [`INDEXED_FIELDS`], in the same order: the dotted name with `_`.
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

/// Events deleted per statement by retention.
const DELETE_CHUNK: i64 = 20_000;

const EVENT_COLUMNS: &str =
    "id, org_id, asset_id, ts, received_at, input, sender, fields, native, raw";

/// The COPY column list: the id (reserved beforehand), the fixed columns, the indexed ones.
fn copy_statement() -> String {
    format!(
        "COPY events (id, org_id, asset_id, ts, received_at, input, sender, message, fields, \
         native, raw, {}) FROM STDIN (FORMAT binary)",
        INDEXED_COLUMNS.join(", ")
    )
}

/// The types of [`copy_statement`]'s columns, in order.
fn copy_types() -> Vec<Type> {
    let mut t = vec![
        Type::INT8,
        Type::UUID,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::JSONB,
        Type::JSONB,
        Type::BYTEA,
    ];
    t.extend([Type::TEXT; 12]);
    t
}

fn indexed_column(field: &str) -> Option<&'static str> {
    INDEXED_FIELDS
        .iter()
        .position(|f| *f == field)
        .map(|i| INDEXED_COLUMNS[i])
}

fn event_from_row(r: &Row) -> Result<Event> {
    let Json(fields): Json<BTreeMap<String, Value>> = r.try_get("fields")?;
    let Json(native): Json<BTreeMap<String, Value>> = r.try_get("native")?;
    Ok(Event {
        id: r.try_get("id")?,
        event: NewEvent {
            org_id: OrgId(r.try_get("org_id")?),
            asset_id: r.try_get::<_, Option<uuid::Uuid>>("asset_id")?.map(AssetId),
            timestamp: r.try_get::<_, Ts>("ts")?.0,
            received_at: r.try_get::<_, Ts>("received_at")?.0,
            provenance: Provenance {
                input: r.try_get("input")?,
                sender: r.try_get("sender")?,
            },
            fields,
            native,
            raw: r.try_get("raw")?,
        },
    })
}

// PostgreSQL text and jsonb cannot hold NUL characters. One hostile event must not make a
// whole batch fail, so NULs in text become U+FFFD; the raw bytes (bytea) keep them.

fn clean_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn value_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(value_has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || value_has_nul(v)),
        _ => false,
    }
}

fn clean_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clean_text(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(clean_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (clean_text(k).into_owned(), clean_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `v` without NUL characters, copied only when it has some.
pub(crate) fn clean_json(v: &Value) -> Cow<'_, Value> {
    if value_has_nul(v) {
        Cow::Owned(clean_value(v))
    } else {
        Cow::Borrowed(v)
    }
}

fn clean_map(m: &BTreeMap<String, Value>) -> Cow<'_, BTreeMap<String, Value>> {
    if m.iter().any(|(k, v)| k.contains('\0') || value_has_nul(v)) {
        Cow::Owned(
            m.iter()
                .map(|(k, v)| (clean_text(k).into_owned(), clean_value(v)))
                .collect(),
        )
    } else {
        Cow::Borrowed(m)
    }
}

impl PgStore {
    /// Reserves one id per event from the table's sequence, then streams the batch with binary
    /// COPY in the same transaction. Reserving first is what gives the ids back in input order
    /// without a round trip per row; COPY then writes the ids explicitly (the identity column
    /// is `BY DEFAULT`, so it accepts them).
    pub(crate) async fn append_events_impl(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let n = i64::try_from(events.len())
            .map_err(|_| StoreError::Backend("batch too large".into()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One existence check per organization of the batch instead of a foreign key per row.
        // Its FOR KEY SHARE lock also makes a concurrent delete_org wait for this batch, and
        // then delete its events too, instead of leaving them behind.
        let orgs: BTreeSet<OrgId> = events.iter().map(|e| e.org_id).collect();
        lock_orgs(&tx, &orgs).await?;
        let reserve = tx
            .prepare_cached(
                "SELECT nextval(pg_get_serial_sequence('events', 'id')) \
                 FROM generate_series(1, $1::bigint)",
            )
            .await?;
        let mut ids: Vec<i64> = tx
            .query(&reserve, &[&n])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        if ids.len() != events.len() {
            return Err(StoreError::Backend(format!(
                "reserved {} event ids for {} events",
                ids.len(),
                events.len()
            )));
        }

        let copy = tx.prepare_cached(&copy_statement()).await?;
        let sink = tx.copy_in(&copy).await?;
        let writer = BinaryCopyInWriter::new(sink, &copy_types());
        futures_util::pin_mut!(writer);
        for (id, e) in ids.iter().zip(&events) {
            let indexed = e.indexed_values();
            let indexed: Vec<Option<Cow<'_, str>>> = indexed
                .iter()
                .map(|v| v.as_deref().map(clean_text))
                .collect();
            let message = e.message();
            let message = clean_text(&message);
            let input = clean_text(&e.provenance.input);
            let sender = e.provenance.sender.as_deref().map(clean_text);
            let fields = Json(clean_map(&e.fields));
            let native = Json(clean_map(&e.native));
            let ts = Ts(micros(e.timestamp));
            let received = Ts(micros(e.received_at));
            let asset = e.asset_id.map(|a| a.0);
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![
                id,
                &e.org_id.0,
                &asset,
                &ts,
                &received,
                &input,
                &sender,
                &message,
                &fields,
                &native,
                &e.raw,
            ];
            row.extend(indexed.iter().map(|v| v as &(dyn ToSql + Sync)));
            writer.as_mut().write(&row).await?;
        }
        writer.as_mut().finish().await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(crate) async fn get_event_impl(&self, scope: Scope, id: EventId) -> Result<Option<Event>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id, &scope_org(scope)])
            .await?
            .as_ref()
            .map(event_from_row)
            .transpose()
    }

    pub(crate) async fn search_events_impl(
        &self,
        scope: Scope,
        q: &EventQuery,
    ) -> Result<Page<Event>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {EVENT_COLUMNS} FROM events"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(a) = q.asset_id {
            query.eq("asset_id", a.0);
        }
        if let Some(from) = q.from {
            let p = query.arg(Ts(micros(from)));
            query.and(&format!("ts >= {p}"));
        }
        if let Some(to) = q.to {
            let p = query.arg(Ts(micros(to)));
            query.and(&format!("ts < {p}"));
        }
        for f in &q.filters {
            match indexed_column(&f.field) {
                Some(col) => query.eq(col, f.value.clone()),
                None => {
                    let k = query.arg(f.field.clone());
                    let v = query.arg(f.value.clone());
                    // Like value_text: scalars compare as their text, objects and arrays
                    // never match.
                    query.and(&format!(
                        "(jsonb_typeof(fields->{k}) IN ('string', 'number', 'boolean') \
                          AND fields->>{k} = {v})"
                    ));
                }
            }
        }
        if let Some(t) = &q.text {
            let p = query.arg(contains_pattern(t));
            query.and(&format!("message ILIKE {p}"));
        }
        if let Some(c) = &q.cursor {
            let cursor = Cursor::decode(c)?;
            let id: i64 = cursor.key.parse().map_err(|_| {
                StoreError::BadCursor(format!("'{c}' is not a cursor this server issued"))
            })?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(ts, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY ts DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |e| Cursor {
            micros: e.event.timestamp.as_microsecond(),
            key: e.id.to_string(),
        }))
    }

    /// Deletes in chunks of [`DELETE_CHUNK`], each its own transaction, so retention never
    /// holds one huge transaction (locks, WAL, a long-running snapshot) over the hot table.
    pub(crate) async fn delete_events_before_impl(&self, cutoff: Timestamp) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "DELETE FROM events WHERE id = ANY(ARRAY(\
                     SELECT id FROM events WHERE ts < $1 LIMIT $2))",
            )
            .await?;
        let cutoff = Ts(micros(cutoff));
        let mut total = 0;
        loop {
            let n = client.execute(&stmt, &[&cutoff, &DELETE_CHUNK]).await?;
            total += n;
            if n < DELETE_CHUNK.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_columns_follow_the_model() {
        for (f, c) in INDEXED_FIELDS.iter().zip(INDEXED_COLUMNS) {
            assert_eq!(f.replace('.', "_"), c);
        }
        assert_eq!(indexed_column("source.ip"), Some("source_ip"));
        assert_eq!(indexed_column("source.port"), None);
        assert_eq!(copy_types().len(), 11 + 12);
    }

    #[test]
    fn nul_characters_are_replaced_only_when_present() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Value::String("x".into()));
        assert!(matches!(clean_map(&m), Cow::Borrowed(_)));
        m.insert("b\0".to_string(), serde_json::json!(["y\0"]));
        let c = clean_map(&m);
        assert_eq!(c.get("b\u{fffd}"), Some(&serde_json::json!(["y\u{fffd}"])));
    }
}
