//! TAXII feed state and status resources (see `crate::taxii`).

use super::sql::{get_opt_ts, get_ts, to_json, us};
use crate::taxii::{STATUS_KEPT_DAYS, TaxiiFeedPoll, TaxiiFeedState, TaxiiStatus};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};
use vigil_model::Timestamp;

const FEED_COLUMNS: &str = "name, collection_url, watermark, last_attempt_at, last_success_at, \
                            last_error, last_error_at, consecutive_failures, polls, failures, \
                            objects_imported, updated_at";

fn count(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(idx)?).unwrap_or_default())
}

fn feed_from_row(row: &Row<'_>) -> rusqlite::Result<TaxiiFeedState> {
    Ok(TaxiiFeedState {
        name: row.get(0)?,
        collection_url: row.get(1)?,
        watermark: get_opt_ts(row, 2)?,
        last_attempt_at: get_opt_ts(row, 3)?,
        last_success_at: get_opt_ts(row, 4)?,
        last_error: row.get(5)?,
        last_error_at: get_opt_ts(row, 6)?,
        consecutive_failures: u32::try_from(row.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        polls: count(row, 8)?,
        failures: count(row, 9)?,
        objects_imported: count(row, 10)?,
        updated_at: get_ts(row, 11)?,
    })
}

pub(crate) fn get_feed(conn: &Connection, name: &str) -> Result<Option<TaxiiFeedState>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {FEED_COLUMNS} FROM taxii_feeds WHERE name = ?1"
        ))?
        .query_row(params![name], feed_from_row)
        .optional()?)
}

pub(crate) fn list_feeds(conn: &Connection) -> Result<Vec<TaxiiFeedState>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FEED_COLUMNS} FROM taxii_feeds ORDER BY name"
    ))?;
    let rows = stmt.query_map([], feed_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn opt_us(t: Option<Timestamp>) -> Option<i64> {
    t.map(us)
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn record_poll(
    conn: &Connection,
    name: &str,
    collection_url: &str,
    poll: TaxiiFeedPoll,
    at: Timestamp,
) -> Result<TaxiiFeedState> {
    crate::taxii::validate_feed(name, collection_url)?;
    let prev = get_feed(conn, name)?;
    let s = TaxiiFeedState::apply(prev, name, collection_url, poll, at);
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO taxii_feeds ({FEED_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(params![
        s.name,
        s.collection_url,
        opt_us(s.watermark),
        opt_us(s.last_attempt_at),
        opt_us(s.last_success_at),
        s.last_error,
        opt_us(s.last_error_at),
        i64::from(s.consecutive_failures),
        clamp_i64(s.polls),
        clamp_i64(s.failures),
        clamp_i64(s.objects_imported),
        us(s.updated_at),
    ])?;
    Ok(s)
}

pub(crate) fn put_status(conn: &Connection, status: &TaxiiStatus) -> Result<()> {
    status.validate()?;
    let cutoff = status.created_at.as_microsecond() - STATUS_KEPT_DAYS * 86_400_000_000;
    conn.prepare_cached("DELETE FROM taxii_statuses WHERE created_at < ?1")?
        .execute(params![cutoff])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO taxii_statuses (id, body, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        status.id,
        to_json(&status.body)?,
        us(status.created_at)
    ])?;
    Ok(())
}

pub(crate) fn get_status(conn: &Connection, id: &str) -> Result<Option<TaxiiStatus>> {
    let row = conn
        .prepare_cached("SELECT id, body, created_at FROM taxii_statuses WHERE id = ?1")?
        .query_row(params![id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                get_ts(r, 2)?,
            ))
        })
        .optional()?;
    row.map(|(id, body, created_at)| {
        let body = serde_json::from_str(&body)
            .map_err(|e| StoreError::Backend(format!("stored taxii status {id}: {e}")))?;
        Ok(TaxiiStatus {
            id,
            body,
            created_at,
        })
    })
    .transpose()
}
