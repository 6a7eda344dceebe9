//! Dead letters (see `crate::dead_letters`).

use super::sql::{Filter, col_err, get_enum, get_ts, get_uuid, page, text, us, uuid_cursor};
use crate::dead_letters::{
    DeadLetter, DeadLetterQuery, DeadLetterReason, DeadLetterRetention, needle,
};
use crate::{Cursor, Result, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};
use uuid::Uuid;
use vigil_model::{OrgId, Page, Scope};

const COLUMNS: &str = "id, received_at, source, sender, reason, detail, raw, raw_len, org_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<DeadLetter> {
    let org: Option<String> = row.get(8)?;
    Ok(DeadLetter {
        id: get_uuid(row, 0)?,
        received_at: get_ts(row, 1)?,
        source: row.get(2)?,
        sender: row.get(3)?,
        reason: get_enum(row, 4, DeadLetterReason::parse)?,
        detail: row.get(5)?,
        raw: row.get(6)?,
        raw_len: u64::try_from(row.get::<_, i64>(7)?).map_err(|e| col_err(7, e.to_string()))?,
        org_id: org
            .map(|s| Uuid::parse_str(&s).map(OrgId))
            .transpose()
            .map_err(|e| col_err(8, e.to_string()))?,
    })
}

pub(crate) fn append(conn: &Connection, rows: &[(DeadLetter, String)]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO dead_letters ({COLUMNS}, search_text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    for (d, search) in rows {
        stmt.execute(params![
            d.id.to_string(),
            us(d.received_at),
            d.source,
            d.sender,
            d.reason.as_str(),
            d.detail,
            d.raw,
            d.raw_len as i64,
            d.org_id.map(|o| o.0.to_string()),
            search,
        ])?;
    }
    Ok(rows.len())
}

fn filter(scope: Scope, q: &DeadLetterQuery) -> Filter {
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(r) = q.reason {
        f.and("reason = ?", [text(r.as_str())]);
    }
    if let Some(s) = &q.source {
        f.and("source = ?", [text(s)]);
    }
    if let Some(t) = q.since {
        f.and("received_at >= ?", [Value::Integer(us(t))]);
    }
    if let Some(t) = q.until {
        f.and("received_at < ?", [Value::Integer(us(t))]);
    }
    if let Some(n) = needle(q) {
        f.and("instr(search_text, ?) > 0", [text(n)]);
    }
    f
}

pub(crate) fn search(
    conn: &Connection,
    scope: Scope,
    q: &DeadLetterQuery,
) -> Result<Page<DeadLetter>> {
    let limit = page_size(q.limit);
    let mut f = filter(scope, q);
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("received_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM dead_letters{} ORDER BY received_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |d: &DeadLetter| Cursor {
        micros: us(d.received_at),
        key: d.id.to_string(),
    }))
}

pub(crate) fn count_by_reason(
    conn: &Connection,
    scope: Scope,
    q: &DeadLetterQuery,
) -> Result<Vec<(DeadLetterReason, u64)>> {
    let f = filter(scope, q);
    let sql = format!(
        "SELECT reason, count(*) FROM dead_letters{} GROUP BY reason ORDER BY reason",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(f.params.iter()), |r| {
            Ok((
                get_enum(r, 0, DeadLetterReason::parse)?,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn prune(conn: &Connection, keep: DeadLetterRetention) -> Result<u64> {
    let mut n = 0u64;
    if let Some(t) = keep.older_than {
        n += conn
            .prepare_cached("DELETE FROM dead_letters WHERE received_at < ?1")?
            .execute([us(t)])? as u64;
    }
    // Everything at or past the keep_newest-th newest row goes.
    let offset = i64::try_from(keep.keep_newest).unwrap_or(i64::MAX);
    n += conn
        .prepare_cached(
            "DELETE FROM dead_letters WHERE id IN (
               SELECT id FROM dead_letters ORDER BY received_at DESC, id DESC
               LIMIT -1 OFFSET ?1)",
        )?
        .execute([offset])? as u64;
    Ok(n)
}
