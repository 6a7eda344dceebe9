//! Impact records of incidents (see `crate::impact`): the record, the timeline entries and a
//! raised grade written in one transaction.

use super::cases::get_incident;
use super::sql::{get_json, get_ts, get_uuid, text, to_json, us};
use crate::Result;
use crate::aggregation::raised_grade;
use crate::impact::{GRADE_RAISED, ImpactOutcome, ImpactUpdate, archived_conflict, raised_note};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_model::{IncidentId, IncidentStatus, RecordedImpact, Scope, TimelineEntry, Timestamp};

pub(crate) fn get(
    conn: &Connection,
    scope: Scope,
    incident: IncidentId,
) -> Result<Option<RecordedImpact>> {
    let org = match scope {
        Scope::All => None,
        Scope::Org(o) => Some(o.to_string()),
    };
    Ok(conn
        .prepare_cached(
            "SELECT incident_id, impact, recorded_by, recorded_at FROM incident_impacts
             WHERE incident_id = ?1 AND (?2 IS NULL OR org_id = ?2)",
        )?
        .query_row(params![text(incident), org], |row| {
            Ok(RecordedImpact {
                incident_id: IncidentId(get_uuid(row, 0)?),
                impact: get_json(row, 1)?,
                recorded_by: row.get(2)?,
                recorded_at: get_ts(row, 3)?,
            })
        })
        .optional()?)
}

pub(crate) fn set(
    conn: &Connection,
    scope: Scope,
    id: IncidentId,
    update: ImpactUpdate,
    actor: &str,
    now: Timestamp,
) -> Result<Option<ImpactOutcome>> {
    update.impact.validate()?;
    let Some(mut inc) = get_incident(conn, scope, id)? else {
        return Ok(None);
    };
    if inc.status == IncidentStatus::Archived {
        return Err(archived_conflict());
    }
    let record = RecordedImpact {
        incident_id: id,
        impact: update.impact,
        recorded_by: actor.to_string(),
        recorded_at: now,
    };
    conn.prepare_cached(
        "INSERT INTO incident_impacts (incident_id, org_id, impact, recorded_by, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (incident_id) DO UPDATE SET impact = excluded.impact,
             recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )?
    .execute(params![
        text(id),
        text(inc.spec.org_id),
        to_json(&record.impact)?,
        record.recorded_by,
        us(now),
    ])?;
    let previous_grade = inc.spec.grade;
    let entry = |action: &str, note: String| TimelineEntry {
        at: now,
        actor: actor.to_string(),
        action: action.to_string(),
        note,
    };
    inc.timeline.push(entry("impact", record.impact.summary()));
    if let Some(g) = raised_grade(previous_grade, update.grade) {
        inc.timeline.push(entry(
            GRADE_RAISED,
            raised_note(previous_grade, g, &update.grade_note),
        ));
        inc.spec.grade = g;
    }
    inc.updated_at = now;
    conn.prepare_cached(
        "UPDATE incidents SET grade = ?2, updated_at = ?3, timeline = ?4 WHERE id = ?1",
    )?
    .execute(params![
        text(id),
        inc.spec.grade.as_str(),
        us(now),
        to_json(&inc.timeline)?,
    ])?;
    Ok(Some(ImpactOutcome {
        incident: inc,
        record,
        previous_grade,
    }))
}
