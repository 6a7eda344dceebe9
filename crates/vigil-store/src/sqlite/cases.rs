//! Alerts, incidents and the overview counts.

use super::directory::org_visible;
use super::sql::{
    Filter, get_enum, get_json, get_opt_ts, get_opt_uuid, get_ts, get_uuid, page, text, to_json,
    us, uuid_cursor,
};
use crate::{
    AlertQuery, Cursor, IncidentQuery, IncidentUpdate, Overview, Result, StoreError, page_size,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{
    Alert, AlertId, AlertSource, AlertStatus, AssetId, Grade, Incident, IncidentId, IncidentStatus,
    NewAlert, NewIncident, OrgId, Page, Scope, Severity, TimelineEntry, Timestamp,
};

const ALERT_COLUMNS: &str = "id, org_id, asset_id, source, rule_id, title, severity, category, \
                             detected_at, event_ids, details, status, incident_id, created_at, \
                             updated_at";

fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: AlertId(get_uuid(row, 0)?),
        spec: NewAlert {
            org_id: OrgId(get_uuid(row, 1)?),
            asset_id: get_opt_uuid(row, 2)?.map(AssetId),
            source: get_enum(row, 3, AlertSource::parse)?,
            rule_id: row.get(4)?,
            title: row.get(5)?,
            severity: get_enum(row, 6, Severity::parse)?,
            category: row.get(7)?,
            detected_at: get_ts(row, 8)?,
            event_ids: get_json(row, 9)?,
            details: get_json(row, 10)?,
        },
        status: get_enum(row, 11, AlertStatus::parse)?,
        incident_id: get_opt_uuid(row, 12)?.map(IncidentId),
        created_at: get_ts(row, 13)?,
        updated_at: get_ts(row, 14)?,
    })
}

pub(crate) fn create_alerts(
    conn: &Connection,
    alerts: Vec<NewAlert>,
    now: Timestamp,
) -> Result<Vec<Alert>> {
    for a in &alerts {
        a.validate()?;
    }
    let mut checked: Vec<OrgId> = Vec::new();
    for a in &alerts {
        if !checked.contains(&a.org_id) {
            if !org_visible(conn, Scope::All, a.org_id)? {
                return Err(StoreError::MissingReference(format!(
                    "organization {}",
                    a.org_id
                )));
            }
            checked.push(a.org_id);
        }
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO alerts (id, org_id, asset_id, source, rule_id, title, severity, category,
             detected_at, event_ids, details, status, incident_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, ?13, ?13)",
    )?;
    let mut out = Vec::with_capacity(alerts.len());
    for mut spec in alerts {
        spec.detected_at = super::sql::truncate(spec.detected_at);
        let alert = Alert {
            id: AlertId::new(),
            spec,
            status: AlertStatus::New,
            incident_id: None,
            created_at: now,
            updated_at: now,
        };
        let s = &alert.spec;
        stmt.execute(params![
            alert.id.to_string(),
            s.org_id.to_string(),
            s.asset_id.map(|a| a.to_string()),
            s.source.as_str(),
            s.rule_id,
            s.title,
            s.severity.as_str(),
            s.category,
            us(s.detected_at),
            to_json(&s.event_ids)?,
            to_json(&s.details)?,
            alert.status.as_str(),
            us(now),
        ])?;
        out.push(alert);
    }
    Ok(out)
}

pub(crate) fn get_alert(conn: &Connection, scope: Scope, id: AlertId) -> Result<Option<Alert>> {
    let mut f = Filter::default();
    f.and("id = ?", [text(id)]).scope(scope, "org_id");
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts{}", f.sql);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(f.params.iter()), alert_from_row)
        .optional()?)
}

pub(crate) fn list_alerts(conn: &Connection, scope: Scope, q: &AlertQuery) -> Result<Page<Alert>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(s) = q.status {
        f.and("status = ?", [text(s.as_str())]);
    }
    if let Some(s) = q.severity {
        f.and("severity = ?", [text(s.as_str())]);
    }
    if let Some(s) = q.source {
        f.and("source = ?", [text(s.as_str())]);
    }
    if let Some(i) = q.incident_id {
        f.and("incident_id = ?", [text(i)]);
    }
    if let Some(t) = q.from {
        f.and("created_at >= ?", [Value::Integer(us(t))]);
    }
    if let Some(t) = q.to {
        f.and("created_at < ?", [Value::Integer(us(t))]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("created_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts{} ORDER BY created_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), alert_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |a: &Alert| Cursor {
        micros: us(a.created_at),
        key: a.id.to_string(),
    }))
}

pub(crate) fn set_alert_status(
    conn: &Connection,
    scope: Scope,
    id: AlertId,
    status: AlertStatus,
    incident: Option<IncidentId>,
    now: Timestamp,
) -> Result<Option<Alert>> {
    let Some(alert) = get_alert(conn, scope, id)? else {
        return Ok(None);
    };
    if let Some(inc) = incident {
        // The incident must be the alert's organization's.
        let same_org = conn
            .prepare_cached("SELECT 1 FROM incidents WHERE id = ?1 AND org_id = ?2")?
            .query_row(
                params![inc.to_string(), alert.spec.org_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !same_org {
            return Err(StoreError::MissingReference(format!("incident {inc}")));
        }
    }
    conn.prepare_cached(
        "UPDATE alerts SET status = ?2, incident_id = coalesce(?3, incident_id), updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![
        id.to_string(),
        status.as_str(),
        incident.map(|i| i.to_string()),
        us(now),
    ])?;
    get_alert(conn, scope, id)
}

const INCIDENT_COLUMNS: &str = "id, org_id, title, description, category, subcategory, grade, \
                                asset_ids, alert_ids, occurred_at, status, created_at, \
                                updated_at, closed_at, timeline";

fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: IncidentId(get_uuid(row, 0)?),
        spec: NewIncident {
            org_id: OrgId(get_uuid(row, 1)?),
            title: row.get(2)?,
            description: row.get(3)?,
            category: row.get(4)?,
            subcategory: row.get(5)?,
            grade: get_enum(row, 6, Grade::parse)?,
            asset_ids: get_json(row, 7)?,
            alert_ids: get_json(row, 8)?,
            occurred_at: get_ts(row, 9)?,
        },
        status: get_enum(row, 10, IncidentStatus::parse)?,
        created_at: get_ts(row, 11)?,
        updated_at: get_ts(row, 12)?,
        closed_at: get_opt_ts(row, 13)?,
        timeline: get_json(row, 14)?,
    })
}

pub(crate) fn create_incident(
    conn: &Connection,
    mut spec: NewIncident,
    actor: &str,
    now: Timestamp,
) -> Result<Incident> {
    spec.validate()?;
    if !org_visible(conn, Scope::All, spec.org_id)? {
        return Err(StoreError::MissingReference(format!(
            "organization {}",
            spec.org_id
        )));
    }
    spec.occurred_at = super::sql::truncate(spec.occurred_at);
    let id = IncidentId::new();
    let incident = Incident {
        id,
        spec,
        status: IncidentStatus::Open,
        created_at: now,
        updated_at: now,
        closed_at: None,
        timeline: vec![TimelineEntry {
            at: now,
            actor: actor.to_string(),
            action: "created".into(),
            note: String::new(),
        }],
    };
    write_incident(conn, &incident, true)?;
    // Linked alerts must be the incident's organization's; they are escalated to it.
    let mut escalate = conn.prepare_cached(
        "UPDATE alerts SET status = ?3, incident_id = ?4, updated_at = ?5
         WHERE id = ?1 AND org_id = ?2",
    )?;
    for a in &incident.spec.alert_ids {
        let n = escalate.execute(params![
            a.to_string(),
            incident.spec.org_id.to_string(),
            AlertStatus::Escalated.as_str(),
            id.to_string(),
            us(now),
        ])?;
        if n == 0 {
            return Err(StoreError::MissingReference(format!("alert {a}")));
        }
    }
    Ok(incident)
}

pub(crate) fn write_incident(conn: &Connection, i: &Incident, insert: bool) -> Result<()> {
    let sql = if insert {
        "INSERT INTO incidents (id, org_id, title, description, category, subcategory, grade,
             asset_ids, alert_ids, occurred_at, status, created_at, updated_at, closed_at,
             timeline)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    } else {
        "UPDATE incidents SET org_id = ?2, title = ?3, description = ?4, category = ?5,
             subcategory = ?6, grade = ?7, asset_ids = ?8, alert_ids = ?9, occurred_at = ?10,
             status = ?11, created_at = ?12, updated_at = ?13, closed_at = ?14, timeline = ?15
         WHERE id = ?1"
    };
    let s = &i.spec;
    conn.prepare_cached(sql)?.execute(params![
        i.id.to_string(),
        s.org_id.to_string(),
        s.title,
        s.description,
        s.category,
        s.subcategory,
        s.grade.as_str(),
        to_json(&s.asset_ids)?,
        to_json(&s.alert_ids)?,
        us(s.occurred_at),
        i.status.as_str(),
        us(i.created_at),
        us(i.updated_at),
        i.closed_at.map(us),
        to_json(&i.timeline)?,
    ])?;
    Ok(())
}

pub(crate) fn get_incident(
    conn: &Connection,
    scope: Scope,
    id: IncidentId,
) -> Result<Option<Incident>> {
    let mut f = Filter::default();
    f.and("id = ?", [text(id)]).scope(scope, "org_id");
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents{}", f.sql);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(f.params.iter()), incident_from_row)
        .optional()?)
}

pub(crate) fn list_incidents(
    conn: &Connection,
    scope: Scope,
    q: &IncidentQuery,
) -> Result<Page<Incident>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(s) = q.status {
        f.and("status = ?", [text(s.as_str())]);
    }
    match q.open {
        Some(true) => {
            f.and(&format!("status NOT IN {DONE}"), []);
        }
        Some(false) => {
            f.and(&format!("status IN {DONE}"), []);
        }
        None => {}
    }
    if let Some(g) = q.grade {
        f.and("grade = ?", [text(g.as_str())]);
    }
    if let Some(c) = &q.category {
        f.and("category = ?", [text(c)]);
    }
    if let Some(t) = q.from {
        f.and("created_at >= ?", [Value::Integer(us(t))]);
    }
    if let Some(t) = q.to {
        f.and("created_at < ?", [Value::Integer(us(t))]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("created_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents{} ORDER BY created_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), incident_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |i: &Incident| Cursor {
        micros: us(i.created_at),
        key: i.id.to_string(),
    }))
}

/// Applies a change and records one timeline entry per applied change, in this order:
/// `status:<new>`, `grade:<new>`, `edit` (title, description, category, subcategory; the note
/// names the fields), `comment` (the note is the comment). A field set to the value it already
/// has is not a change.
pub(crate) fn update_incident(
    conn: &Connection,
    scope: Scope,
    id: IncidentId,
    change: IncidentUpdate,
    actor: &str,
    now: Timestamp,
) -> Result<Option<Incident>> {
    let Some(mut inc) = get_incident(conn, scope, id)? else {
        return Ok(None);
    };
    crate::check_expected_status(&inc, &change)?;
    let mut spec = inc.spec.clone();
    let mut edited: Vec<&str> = Vec::new();
    if let Some(t) = change.title
        && t != spec.title
    {
        spec.title = t;
        edited.push("title");
    }
    if let Some(d) = change.description
        && d != spec.description
    {
        spec.description = d;
        edited.push("description");
    }
    if let Some(c) = change.category
        && c != spec.category
    {
        spec.category = c;
        edited.push("category");
    }
    if let Some(s) = change.subcategory
        && s != spec.subcategory
    {
        spec.subcategory = s;
        edited.push("subcategory");
    }
    let grade_changed = change.grade.filter(|g| *g != spec.grade);
    if let Some(g) = grade_changed {
        spec.grade = g;
    }
    spec.validate()?;
    let entry = |action: String, note: String| TimelineEntry {
        at: now,
        actor: actor.to_string(),
        action,
        note,
    };
    let mut entries = Vec::new();
    if let Some(s) = change.status.filter(|s| *s != inc.status) {
        if !s.is_open() && inc.status.is_open() {
            inc.closed_at = Some(now);
        } else if s.is_open() {
            inc.closed_at = None;
        }
        entries.push(entry(
            format!("status:{}", s.as_str()),
            format!("{} -> {}", inc.status.as_str(), s.as_str()),
        ));
        inc.status = s;
    }
    if let Some(g) = grade_changed {
        entries.push(entry(
            format!("grade:{}", g.as_str()),
            format!("{} -> {}", inc.spec.grade.as_str(), g.as_str()),
        ));
    }
    if !edited.is_empty() {
        entries.push(entry("edit".into(), edited.join(", ")));
    }
    if let Some(c) = change.comment.filter(|c| !c.trim().is_empty()) {
        entries.push(entry("comment".into(), c));
    }
    if entries.is_empty() {
        return Ok(Some(inc));
    }
    inc.spec = spec;
    inc.timeline.extend(entries);
    inc.updated_at = now;
    write_incident(conn, &inc, false)?;
    Ok(Some(inc))
}

/// The statuses of finished incidents, as an SQL list.
const DONE: &str = "('closed', 'archived')";

/// Counts for the overview within `scope`. Time-bound (`since`): events (by event time),
/// alerts (by detection time: `alerts_per_day`, `new_alerts`); incident figures
/// (`open_incidents`, `incidents_by_category_grade`, `top_orgs_open_incidents`) are the current
/// open ones, whenever they were opened.
/// `organizations` and `assets` count the whole inventory in scope.
pub(crate) fn overview(conn: &Connection, scope: Scope, since: Timestamp) -> Result<Overview> {
    let since = Value::Integer(us(since));
    let scoped = |col: &str| -> (String, Vec<Value>) {
        match scope {
            Scope::All => (String::new(), vec![]),
            Scope::Org(o) => (format!(" AND {col} = ?"), vec![text(o)]),
        }
    };
    let count = |sql: String, params: Vec<Value>| -> Result<u64> {
        let n: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let with = |mut first: Vec<Value>, rest: Vec<Value>| {
        first.extend(rest);
        first
    };

    let (sc, sp) = scoped("org_id");
    let mut o = Overview::default();

    let mut stmt = conn.prepare_cached(&format!(
        "SELECT category, grade, count(*) FROM incidents
         WHERE status NOT IN {DONE}{sc}
         GROUP BY category, grade ORDER BY count(*) DESC, category, grade"
    ))?;
    let rows = stmt.query_map(params_from_iter(sp.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            get_enum(r, 1, Grade::parse)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (c, g, n) = row?;
        o.incidents_by_category_grade
            .push((c, g, u64::try_from(n).unwrap_or(0)));
    }

    let mut stmt = conn.prepare_cached(&format!(
        "SELECT strftime('%Y-%m-%d', detected_at / 1000000, 'unixepoch') AS day, count(*)
         FROM alerts WHERE detected_at >= ?{sc} GROUP BY day ORDER BY day"
    ))?;
    let rows = stmt.query_map(
        params_from_iter(with(vec![since.clone()], sp.clone()).iter()),
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )?;
    for row in rows {
        let (d, n) = row?;
        o.alerts_per_day.push((d, u64::try_from(n).unwrap_or(0)));
    }

    let (isc, isp) = scoped("i.org_id");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, o.name, count(*) AS n FROM incidents i JOIN organizations o ON o.id = i.org_id
         WHERE i.status NOT IN {DONE}{isc}
         GROUP BY o.id, o.name ORDER BY n DESC, o.name LIMIT 10"
    ))?;
    let rows = stmt.query_map(params_from_iter(isp.iter()), |r| {
        Ok((
            OrgId(get_uuid(r, 0)?),
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (id, name, n) = row?;
        o.top_orgs_open_incidents
            .push((id, name, u64::try_from(n).unwrap_or(0)));
    }

    o.open_incidents = count(
        format!("SELECT count(*) FROM incidents WHERE status NOT IN {DONE}{sc}"),
        sp.clone(),
    )?;
    o.new_alerts = count(
        format!("SELECT count(*) FROM alerts WHERE status = ? AND detected_at >= ?{sc}"),
        with(
            vec![text(AlertStatus::New.as_str()), since.clone()],
            sp.clone(),
        ),
    )?;
    let (osc, osp) = scoped("id");
    o.organizations = count(
        format!("SELECT count(*) FROM organizations WHERE 1 = 1{osc}"),
        osp,
    )?;
    o.assets = count(
        format!("SELECT count(*) FROM assets WHERE 1 = 1{sc}"),
        sp.clone(),
    )?;
    let since = match since {
        Value::Integer(v) => v,
        _ => 0,
    };
    o.events = u64::try_from(super::events::count_since(conn, scope, since)?).unwrap_or(0);
    Ok(o)
}
