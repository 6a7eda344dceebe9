//! Incidents under an aggregation key, and alerts attached to them (see
//! [`crate::aggregation`]). The partial unique index `incidents_open_aggregation` (migration
//! V5) keeps one open incident per organization and key; every write here runs on the writer
//! thread, inside one savepoint, so a read-modify-write cannot interleave with another.

use super::cases::{create_incident, get_incident};
use super::sql::{to_json, us};
use crate::aggregation::{
    AlertAttachment, AttachOutcome, DUPLICATE_KEY, attach_note, check_key, extend_unique,
    raised_grade,
};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_model::{
    AlertStatus, Incident, IncidentId, NewIncident, OrgId, Scope, TimelineEntry, Timestamp,
};

pub(crate) fn find_open_incident_by_key(
    conn: &Connection,
    scope: Scope,
    org: OrgId,
    key: &str,
) -> Result<Option<Incident>> {
    if let Scope::Org(o) = scope
        && o != org
    {
        return Ok(None);
    }
    let id: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM incidents
             WHERE org_id = ?1 AND aggregation_key = ?2
               AND status NOT IN ('closed', 'archived')",
        )?
        .query_row(params![org.to_string(), key], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|e| StoreError::Backend(format!("stored incident id '{id}': {e}")))?;
    get_incident(conn, scope, IncidentId(id))
}

pub(crate) fn create_aggregated_incident(
    conn: &Connection,
    spec: NewIncident,
    key: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Incident> {
    check_key(key)?;
    let mut inc = create_incident(conn, spec, actor, now)?;
    if let Some(first) = inc.timeline.first_mut() {
        first.note = attach_note(&inc.spec.alert_ids, &[]);
    }
    let set = conn
        .prepare_cached("UPDATE incidents SET aggregation_key = ?2, timeline = ?3 WHERE id = ?1")?
        .execute(params![inc.id.to_string(), key, to_json(&inc.timeline)?]);
    match set {
        Ok(_) => Ok(inc),
        // The job's savepoint rolls the insert back with it.
        Err(e) => match StoreError::from(e) {
            StoreError::Conflict(_) => Err(StoreError::Conflict(DUPLICATE_KEY.into())),
            other => Err(other),
        },
    }
}

pub(crate) fn attach_alerts(
    conn: &Connection,
    scope: Scope,
    id: IncidentId,
    attach: AlertAttachment,
    actor: &str,
    now: Timestamp,
) -> Result<Option<AttachOutcome>> {
    let Some(mut inc) = get_incident(conn, scope, id)? else {
        return Ok(None);
    };
    if !inc.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "the incident is {}; alerts are attached to open incidents only",
            inc.status.as_str()
        )));
    }
    let org = inc.spec.org_id.to_string();
    // Alerts must be the incident's organization's; another's look like missing ones.
    let mut escalate = conn.prepare_cached(
        "UPDATE alerts SET status = ?3, incident_id = ?4, updated_at = ?5
         WHERE id = ?1 AND org_id = ?2",
    )?;
    for a in &attach.alert_ids {
        let n = escalate.execute(params![
            a.to_string(),
            org,
            AlertStatus::Escalated.as_str(),
            id.to_string(),
            us(now),
        ])?;
        if n == 0 {
            return Err(StoreError::MissingReference(format!("alert {a}")));
        }
    }
    let previous_grade = inc.spec.grade;
    let attached = extend_unique(&mut inc.spec.alert_ids, &attach.alert_ids);
    let added_assets = extend_unique(&mut inc.spec.asset_ids, &attach.asset_ids);
    let entry = |action: String, note: String| TimelineEntry {
        at: now,
        actor: actor.to_string(),
        action,
        note,
    };
    if !attached.is_empty() || !added_assets.is_empty() {
        inc.timeline.push(entry(
            "alerts_attached".into(),
            attach_note(&attached, &added_assets),
        ));
    }
    if let Some(g) = raised_grade(previous_grade, attach.grade) {
        let mut note = format!("{} -> {}", previous_grade.as_str(), g.as_str());
        if !attach.grade_note.is_empty() {
            note.push_str(": ");
            note.push_str(&attach.grade_note);
        }
        inc.timeline
            .push(entry(format!("grade:{}", g.as_str()), note));
        inc.spec.grade = g;
    }
    if inc.spec.grade != previous_grade || !attached.is_empty() || !added_assets.is_empty() {
        inc.updated_at = now;
        conn.prepare_cached(
            "UPDATE incidents SET grade = ?2, asset_ids = ?3, alert_ids = ?4, updated_at = ?5,
                 timeline = ?6
             WHERE id = ?1",
        )?
        .execute(params![
            id.to_string(),
            inc.spec.grade.as_str(),
            to_json(&inc.spec.asset_ids)?,
            to_json(&inc.spec.alert_ids)?,
            us(now),
            to_json(&inc.timeline)?,
        ])?;
    }
    Ok(Some(AttachOutcome {
        incident: inc,
        previous_grade,
        attached,
        added_assets,
    }))
}
