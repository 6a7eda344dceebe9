//! Durable once-only marks of the deadline watcher: a timeline entry added to an incident
//! unless one with the same action is there, and the reminder mark of a warning recipient.
//! Both run on the writer thread, one transaction each, so two callers cannot both succeed.

use super::cases::{get_incident, write_incident};
use super::sql::{text, us};
use crate::Result;
use rusqlite::{Connection, params};
use vigil_model::{IncidentId, OrgId, Scope, TimelineEntry, Timestamp, WarningId};

pub(crate) fn add_incident_entry_once(
    conn: &Connection,
    id: IncidentId,
    entry: TimelineEntry,
) -> Result<Option<bool>> {
    // `entry.at` is the store's clock (set by the caller, `sql::now()`).
    let Some(mut inc) = get_incident(conn, Scope::All, id)? else {
        return Ok(None);
    };
    if inc.timeline.iter().any(|e| e.action == entry.action) {
        return Ok(Some(false));
    }
    inc.updated_at = entry.at;
    inc.timeline.push(entry);
    write_incident(conn, &inc, false)?;
    Ok(Some(true))
}

pub(crate) fn mark_warning_reminded(
    conn: &Connection,
    id: WarningId,
    org: OrgId,
    at: Timestamp,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE warning_recipients SET reminded_at = ?3
             WHERE warning_id = ?1 AND org_id = ?2
               AND reminded_at IS NULL AND acknowledged_at IS NULL",
        )?
        .execute(params![text(id), text(org), us(at)])?;
    Ok(changed == 1)
}
