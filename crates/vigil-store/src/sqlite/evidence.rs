//! Evidence files (see `crate::evidence`): records and bytes in two tables, the timeline
//! entry in the same transaction as the insert.

use super::cases::{get_incident, write_incident};
use super::sql::{get_ts, get_uuid, text, us};
use crate::evidence::{Evidence, EvidenceId, MAX_EVIDENCE_LISTED, NewEvidence};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};
use vigil_model::{Incident, IncidentId, OrgId, Scope, TimelineEntry, Timestamp};

const COLUMNS: &str = "e.id, e.incident_id, e.org_id, e.file_name, e.content_type, e.size, \
                       e.sm3, e.uploaded_by, e.uploaded_at, e.note";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Evidence> {
    Ok(Evidence {
        id: EvidenceId(get_uuid(row, 0)?),
        incident_id: IncidentId(get_uuid(row, 1)?),
        org_id: OrgId(get_uuid(row, 2)?),
        file_name: row.get(3)?,
        content_type: row.get(4)?,
        size: u64::try_from(row.get::<_, i64>(5)?).unwrap_or_default(),
        sm3: row.get(6)?,
        uploaded_by: row.get(7)?,
        uploaded_at: get_ts(row, 8)?,
        note: row.get(9)?,
    })
}

/// The scope as an optional organization id for `(?n IS NULL OR org_id = ?n)`.
pub(super) fn scope_org(scope: Scope) -> Option<String> {
    match scope {
        Scope::All => None,
        Scope::Org(o) => Some(o.to_string()),
    }
}

/// The incident a record is being attached to, read inside the write transaction; an
/// incident outside the scope is a missing reference.
pub(super) fn incident_for_write(
    conn: &Connection,
    scope: Scope,
    id: IncidentId,
) -> Result<Incident> {
    get_incident(conn, scope, id)?
        .ok_or_else(|| StoreError::MissingReference(format!("incident {id}")))
}

/// Appends the timeline entry for an attached record and writes the incident back.
pub(super) fn append_timeline(
    conn: &Connection,
    inc: &mut Incident,
    actor: &str,
    now: Timestamp,
    action: String,
    note: String,
) -> Result<()> {
    inc.timeline.push(TimelineEntry {
        at: now,
        actor: actor.to_string(),
        action,
        note,
    });
    inc.updated_at = now;
    write_incident(conn, inc, false)
}

pub(crate) fn add(
    conn: &Connection,
    scope: Scope,
    spec: NewEvidence,
    actor: &str,
    now: Timestamp,
) -> Result<Evidence> {
    spec.validate()?;
    let mut inc = incident_for_write(conn, scope, spec.incident_id)?;
    let ev = spec.record(inc.spec.org_id, actor, now);
    conn.prepare_cached(
        "INSERT INTO evidence (id, incident_id, org_id, file_name, content_type, size, sm3,
             uploaded_by, uploaded_at, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        text(ev.id),
        text(ev.incident_id),
        text(ev.org_id),
        ev.file_name,
        ev.content_type,
        ev.size as i64,
        ev.sm3,
        ev.uploaded_by,
        us(ev.uploaded_at),
        ev.note,
    ])?;
    conn.prepare_cached("INSERT INTO evidence_content (evidence_id, bytes) VALUES (?1, ?2)")?
        .execute(params![text(ev.id), spec.bytes])?;
    append_timeline(
        conn,
        &mut inc,
        actor,
        now,
        "evidence".into(),
        ev.timeline_note(),
    )?;
    Ok(ev)
}

pub(crate) fn list(
    conn: &Connection,
    scope: Scope,
    incident: IncidentId,
) -> Result<Option<Vec<Evidence>>> {
    if get_incident(conn, scope, incident)?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM evidence e
         WHERE e.incident_id = ?1 AND (?2 IS NULL OR e.org_id = ?2)
         ORDER BY e.uploaded_at, e.id LIMIT ?3"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(
            params![text(incident), scope_org(scope), MAX_EVIDENCE_LISTED as i64],
            from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(items))
}

pub(crate) fn get(
    conn: &Connection,
    scope: Scope,
    incident: IncidentId,
    id: EvidenceId,
) -> Result<Option<(Evidence, Vec<u8>)>> {
    let sql = format!(
        "SELECT {COLUMNS}, c.bytes FROM evidence e
         JOIN evidence_content c ON c.evidence_id = e.id
         WHERE e.id = ?1 AND e.incident_id = ?2 AND (?3 IS NULL OR e.org_id = ?3)"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![text(id), text(incident), scope_org(scope)], |row| {
            Ok((from_row(row)?, row.get::<_, Vec<u8>>(10)?))
        })
        .optional()?)
}
