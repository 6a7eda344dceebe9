//! Filed incident reports (see `crate::filed_reports`): the record, its sequence number and the
//! incident's timeline entry in the one write transaction of the insert.

use super::cases::get_incident;
use super::evidence::{append_timeline, incident_for_write, scope_org};
use super::sql::{get_ts, get_uuid, text, us};
use crate::Result;
use crate::filed_reports::{
    FiledReport, FiledReportId, MAX_REPORTS_LISTED, NewFiledReport, next_seq,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use vigil_model::{IncidentId, OrgId, Scope, Timestamp, ValidationError};

const COLUMNS: &str = "r.id, r.incident_id, r.org_id, r.seq, r.kind, r.timeline_upto, \
                       r.filed_by, r.filed_at, r.size, r.sm3";

fn from_row(row: &Row<'_>) -> rusqlite::Result<FiledReport> {
    Ok(FiledReport {
        id: FiledReportId(get_uuid(row, 0)?),
        incident_id: IncidentId(get_uuid(row, 1)?),
        org_id: OrgId(get_uuid(row, 2)?),
        seq: u32::try_from(row.get::<_, i64>(3)?).unwrap_or_default(),
        kind: row.get(4)?,
        timeline_upto: u32::try_from(row.get::<_, i64>(5)?).unwrap_or_default(),
        filed_by: row.get(6)?,
        filed_at: get_ts(row, 7)?,
        size: u64::try_from(row.get::<_, i64>(8)?).unwrap_or_default(),
        sm3: row.get(9)?,
    })
}

pub(crate) fn add(
    conn: &Connection,
    scope: Scope,
    spec: NewFiledReport,
    actor: &str,
    now: Timestamp,
) -> Result<FiledReport> {
    spec.validate()?;
    let mut inc = incident_for_write(conn, scope, spec.incident_id)?;
    if spec.timeline_upto as usize > inc.timeline.len() {
        return Err(ValidationError::new(
            "timeline_upto",
            format!(
                "the incident's timeline has {} entries, the report claims {}",
                inc.timeline.len(),
                spec.timeline_upto
            ),
        )
        .into());
    }
    let (latest, has_kind): (i64, bool) = conn
        .prepare_cached(
            "SELECT coalesce(max(seq), 0), coalesce(max(kind = ?2), 0) FROM filed_reports
             WHERE incident_id = ?1",
        )?
        .query_row(params![text(spec.incident_id), spec.kind], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0))
        })?;
    let seq = next_seq(&spec, u32::try_from(latest).unwrap_or(u32::MAX), has_kind)?;
    let rec = spec.record(inc.spec.org_id, seq, actor, now);
    conn.prepare_cached(
        "INSERT INTO filed_reports (id, incident_id, org_id, seq, kind, timeline_upto, filed_by,
             filed_at, size, sm3, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        text(rec.id),
        text(rec.incident_id),
        text(rec.org_id),
        i64::from(rec.seq),
        rec.kind,
        i64::from(rec.timeline_upto),
        rec.filed_by,
        us(rec.filed_at),
        rec.size as i64,
        rec.sm3,
        spec.snapshot,
    ])?;
    append_timeline(
        conn,
        &mut inc,
        actor,
        now,
        rec.timeline_action(),
        rec.timeline_note(),
    )?;
    Ok(rec)
}

pub(crate) fn list(
    conn: &Connection,
    scope: Scope,
    incident: IncidentId,
) -> Result<Option<Vec<FiledReport>>> {
    if get_incident(conn, scope, incident)?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM filed_reports r
         WHERE r.incident_id = ?1 AND (?2 IS NULL OR r.org_id = ?2)
         ORDER BY r.seq LIMIT ?3"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(
            params![text(incident), scope_org(scope), MAX_REPORTS_LISTED as i64],
            from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(items))
}

pub(crate) fn get(
    conn: &Connection,
    scope: Scope,
    incident: IncidentId,
    id: FiledReportId,
) -> Result<Option<(FiledReport, Vec<u8>)>> {
    let sql = format!(
        "SELECT {COLUMNS}, r.snapshot FROM filed_reports r
         WHERE r.id = ?1 AND r.incident_id = ?2 AND (?3 IS NULL OR r.org_id = ?3)"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![text(id), text(incident), scope_org(scope)], |row| {
            Ok((from_row(row)?, row.get::<_, Vec<u8>>(10)?))
        })
        .optional()?)
}
