//! Pipeline sources defined at runtime (see `crate::pipeline_sources`).

use super::sql::{col_err, get_ts, to_json, us};
use crate::Result;
use crate::pipeline_sources::{PipelineSource, SourceOrigin};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str =
    "name, kind, settings, enabled, origin, created_by, created_at, updated_by, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<PipelineSource> {
    let settings: String = row.get(2)?;
    let origin: String = row.get(4)?;
    Ok(PipelineSource {
        name: row.get(0)?,
        kind: row.get(1)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| col_err(2, format!("settings: {e}")))?,
        enabled: row.get::<_, i64>(3)? != 0,
        origin: SourceOrigin::parse(&origin)
            .ok_or_else(|| col_err(4, format!("origin '{origin}'")))?,
        created_by: row.get(5)?,
        created_at: get_ts(row, 6)?,
        updated_by: row.get(7)?,
        updated_at: get_ts(row, 8)?,
    })
}

pub(crate) fn get(conn: &Connection, name: &str) -> Result<Option<PipelineSource>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM pipeline_sources WHERE name = ?1"
        ))?
        .query_row(params![name], from_row)
        .optional()?)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<PipelineSource>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM pipeline_sources ORDER BY name"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Inserts or replaces by name; a replaced row keeps its creator and creation time.
pub(crate) fn put(conn: &Connection, s: &PipelineSource) -> Result<PipelineSource> {
    conn.prepare_cached(&format!(
        "INSERT INTO pipeline_sources ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, settings = excluded.settings,
           enabled = excluded.enabled, origin = excluded.origin,
           updated_by = excluded.updated_by, updated_at = excluded.updated_at"
    ))?
    .execute(params![
        s.name,
        s.kind,
        to_json(&s.settings)?,
        i64::from(s.enabled),
        s.origin.as_str(),
        s.created_by,
        us(s.created_at),
        s.updated_by,
        us(s.updated_at),
    ])?;
    get(conn, &s.name)?.ok_or_else(|| crate::StoreError::Backend("source vanished".into()))
}

pub(crate) fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM pipeline_sources WHERE name = ?1")?
        .execute([name])?
        > 0)
}
