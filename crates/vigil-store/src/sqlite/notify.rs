//! The notification outbox. Every write runs on the writer thread, one job at a time, so a
//! claim (select the due rows, then mark them) is atomic without further locking.

use super::sql::{Filter, get_enum, get_opt_ts, get_ts, get_uuid, page, text, us, uuid_cursor};
use crate::notify::{
    Delivery, DeliveryId, DeliveryOutcome, DeliveryQuery, DeliveryStatus, NewDelivery, clip_error,
};
use crate::{Cursor, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{OrgId, Page, Scope, Timestamp};

const COLUMNS: &str = "id, org_id, channel, kind, recipient, reference_kind, reference_id, \
    subject, body, max_attempts, not_before, status, attempts, last_error, due_at, sent_at, \
    created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let status = get_enum(row, 11, DeliveryStatus::parse)?;
    let due_at = get_opt_ts(row, 14)?;
    Ok(Delivery {
        id: DeliveryId(get_uuid(row, 0)?),
        spec: NewDelivery {
            org_id: OrgId(get_uuid(row, 1)?),
            channel: row.get(2)?,
            kind: row.get(3)?,
            recipient: row.get(4)?,
            reference_kind: row.get(5)?,
            reference_id: row.get(6)?,
            subject: row.get(7)?,
            body: row.get(8)?,
            max_attempts: row.get(9)?,
            not_before: get_ts(row, 10)?,
        },
        status,
        attempts: row.get(12)?,
        last_error: row.get(13)?,
        next_attempt_at: due_at.filter(|_| status == DeliveryStatus::Pending),
        lease_until: due_at.filter(|_| status == DeliveryStatus::Sending),
        sent_at: get_opt_ts(row, 15)?,
        created_at: get_ts(row, 16)?,
        updated_at: get_ts(row, 17)?,
    })
}

fn get(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notify_deliveries WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

pub(crate) fn enqueue(
    conn: &Connection,
    items: Vec<NewDelivery>,
    now: Timestamp,
) -> Result<Vec<Delivery>> {
    let mut out = Vec::with_capacity(items.len());
    let mut orgs_ok: Vec<OrgId> = Vec::new();
    for mut spec in items {
        spec.validate()?;
        if !orgs_ok.contains(&spec.org_id) {
            if !super::directory::org_visible(conn, Scope::All, spec.org_id)? {
                return Err(StoreError::MissingReference(format!(
                    "organization {}",
                    spec.org_id
                )));
            }
            orgs_ok.push(spec.org_id);
        }
        spec.not_before = super::sql::truncate(spec.not_before);
        let id = DeliveryId::new();
        conn.prepare_cached(&format!(
            "INSERT INTO notify_deliveries ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending', 0, NULL, ?11,
                     NULL, ?12, ?12)"
        ))?
        .execute(params![
            id.to_string(),
            spec.org_id.to_string(),
            spec.channel,
            spec.kind,
            spec.recipient,
            spec.reference_kind,
            spec.reference_id,
            spec.subject,
            spec.body,
            spec.max_attempts,
            us(spec.not_before),
            us(now),
        ])?;
        out.push(Delivery {
            id,
            next_attempt_at: Some(spec.not_before),
            spec,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            lease_until: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        });
    }
    Ok(out)
}

pub(crate) fn claim(
    conn: &Connection,
    now: Timestamp,
    lease_until: Timestamp,
    limit: usize,
) -> Result<Vec<Delivery>> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM notify_deliveries WHERE due_at IS NOT NULL AND due_at <= ?1
             ORDER BY due_at, id LIMIT ?2",
        )?
        .query_map(params![us(now), limit as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        conn.prepare_cached(
            "UPDATE notify_deliveries SET status = 'sending', attempts = attempts + 1,
                 due_at = ?2, updated_at = ?3
             WHERE id = ?1",
        )?
        .execute(params![id, us(lease_until), us(now)])?;
        if let Some(d) = get(conn, &id)? {
            out.push(d);
        }
    }
    Ok(out)
}

pub(crate) fn finish(
    conn: &Connection,
    id: DeliveryId,
    attempt: u32,
    outcome: DeliveryOutcome,
    now: Timestamp,
) -> Result<Option<Delivery>> {
    let (status, error, due, sent) = match outcome {
        DeliveryOutcome::Sent => (DeliveryStatus::Sent, None, None, Some(us(now))),
        DeliveryOutcome::Retry { at, error } => (
            DeliveryStatus::Pending,
            Some(clip_error(&error)),
            Some(us(at)),
            None,
        ),
        DeliveryOutcome::Failed { error } => {
            (DeliveryStatus::Failed, Some(clip_error(&error)), None, None)
        }
    };
    // A sent delivery keeps the error of its last failed attempt, so the history shows.
    let n = conn
        .prepare_cached(
            "UPDATE notify_deliveries SET status = ?3, last_error = COALESCE(?4, last_error), due_at = ?5,
                 sent_at = ?6, updated_at = ?7
             WHERE id = ?1 AND status = 'sending' AND attempts = ?2",
        )?
        .execute(params![
            id.to_string(),
            attempt,
            status.as_str(),
            error,
            due,
            sent,
            us(now),
        ])?;
    if n == 0 {
        return Ok(None);
    }
    get(conn, &id.to_string())
}

pub(crate) fn list(conn: &Connection, scope: Scope, q: &DeliveryQuery) -> Result<Page<Delivery>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(k) = &q.reference_kind {
        f.and("reference_kind = ?", [text(k)]);
    }
    if let Some(r) = &q.reference_id {
        f.and("reference_id = ?", [text(r)]);
    }
    if let Some(s) = q.status {
        f.and("status = ?", [text(s.as_str())]);
    }
    if let Some(c) = &q.channel {
        f.and("channel = ?", [text(c)]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("created_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM notify_deliveries{} ORDER BY created_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(f.params.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |d: &Delivery| Cursor {
        micros: us(d.created_at),
        key: d.id.to_string(),
    }))
}
