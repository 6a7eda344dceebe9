//! Alerts, incidents and the overview counts.

use super::directory::{cursor_time, lock_orgs, page};
use super::events::clean_json;
use super::query::{Query, uuid_cursor};
use super::{PgStore, Ts, corrupt, micros, now, scope_org};
use crate::{
    AlertQuery, Cursor, IncidentQuery, IncidentUpdate, Overview, Result, StoreError, page_size,
};
use futures_util::future::try_join_all;
use std::collections::BTreeSet;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{
    Alert, AlertId, AlertSource, AlertStatus, AssetId, Grade, Incident, IncidentId, IncidentStatus,
    NewAlert, NewIncident, OrgId, Page, Scope, Severity, TimelineEntry, Timestamp,
};

const ALERT_COLUMNS: &str = "id, org_id, asset_id, source, rule_id, title, severity, category, \
     detected_at, event_ids, details, status, incident_id, created_at, updated_at";

pub(super) const INCIDENT_COLUMNS: &str = "id, org_id, title, description, category, subcategory, grade, \
     asset_ids, alert_ids, occurred_at, status, created_at, updated_at, closed_at, timeline";

fn parse<T>(r: &Row, col: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    let s: String = r.try_get(col)?;
    parse(&s).ok_or_else(|| corrupt(col, &s))
}

fn alert_from_row(r: &Row) -> Result<Alert> {
    Ok(Alert {
        id: AlertId(r.try_get("id")?),
        spec: NewAlert {
            org_id: OrgId(r.try_get("org_id")?),
            asset_id: r.try_get::<_, Option<Uuid>>("asset_id")?.map(AssetId),
            source: parse(r, "source", AlertSource::parse)?,
            rule_id: r.try_get("rule_id")?,
            title: r.try_get("title")?,
            severity: parse(r, "severity", Severity::parse)?,
            category: r.try_get("category")?,
            detected_at: r.try_get::<_, Ts>("detected_at")?.0,
            event_ids: r.try_get("event_ids")?,
            details: r.try_get("details")?,
        },
        status: parse(r, "status", AlertStatus::parse)?,
        incident_id: r.try_get::<_, Option<Uuid>>("incident_id")?.map(IncidentId),
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

pub(super) fn incident_from_row(r: &Row) -> Result<Incident> {
    let Json(timeline): Json<Vec<TimelineEntry>> = r.try_get("timeline")?;
    Ok(Incident {
        id: IncidentId(r.try_get("id")?),
        spec: NewIncident {
            org_id: OrgId(r.try_get("org_id")?),
            title: r.try_get("title")?,
            description: r.try_get("description")?,
            category: r.try_get("category")?,
            subcategory: r.try_get("subcategory")?,
            grade: parse(r, "grade", Grade::parse)?,
            asset_ids: r
                .try_get::<_, Vec<Uuid>>("asset_ids")?
                .into_iter()
                .map(AssetId)
                .collect(),
            alert_ids: r
                .try_get::<_, Vec<Uuid>>("alert_ids")?
                .into_iter()
                .map(AlertId)
                .collect(),
            occurred_at: r.try_get::<_, Ts>("occurred_at")?.0,
        },
        status: parse(r, "status", IncidentStatus::parse)?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
        closed_at: r.try_get::<_, Option<Ts>>("closed_at")?.map(|t| t.0),
        timeline,
    })
}

fn timeline_entry(at: Timestamp, actor: &str, action: String, note: String) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.to_string(),
        action,
        note,
    }
}

fn count(r: &Row, i: usize) -> Result<u64> {
    Ok(r.try_get::<_, i64>(i)?.unsigned_abs())
}

impl PgStore {
    pub(crate) async fn create_alerts_impl(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>> {
        for a in &alerts {
            a.validate()?;
        }
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let at = now();
        let alerts: Vec<Alert> = alerts
            .into_iter()
            .map(|spec| Alert {
                id: AlertId::new(),
                spec: NewAlert {
                    detected_at: micros(spec.detected_at),
                    ..spec
                },
                status: AlertStatus::New,
                incident_id: None,
                created_at: at,
                updated_at: at,
            })
            .collect();
        let orgs: BTreeSet<OrgId> = alerts.iter().map(|a| a.spec.org_id).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &orgs).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .await?;
        try_join_all(alerts.iter().map(|a| {
            let s = &a.spec;
            let details = clean_json(&s.details);
            let asset = s.asset_id.map(|x| x.0);
            let (tx, stmt) = (&tx, &stmt);
            async move {
                tx.execute(
                    stmt,
                    &[
                        &a.id.0,
                        &s.org_id.0,
                        &asset,
                        &s.source.as_str(),
                        &s.rule_id,
                        &s.title,
                        &s.severity.as_str(),
                        &s.category,
                        &Ts(s.detected_at),
                        &s.event_ids,
                        &Json(details),
                        &a.status.as_str(),
                        &a.incident_id.map(|i| i.0),
                        &Ts(a.created_at),
                        &Ts(a.updated_at),
                    ],
                )
                .await
            }
        }))
        .await?;
        tx.commit().await?;
        Ok(alerts)
    }

    pub(crate) async fn get_alert_impl(&self, scope: Scope, id: AlertId) -> Result<Option<Alert>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id.0, &scope_org(scope)])
            .await?
            .as_ref()
            .map(alert_from_row)
            .transpose()
    }

    pub(crate) async fn list_alerts_impl(
        &self,
        scope: Scope,
        q: &AlertQuery,
    ) -> Result<Page<Alert>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {ALERT_COLUMNS} FROM alerts"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(s) = q.status {
            query.eq("status", s.as_str());
        }
        if let Some(s) = q.severity {
            query.eq("severity", s.as_str());
        }
        if let Some(s) = q.source {
            query.eq("source", s.as_str());
        }
        if let Some(i) = q.incident_id {
            query.eq("incident_id", i.0);
        }
        if let Some(from) = q.from {
            let p = query.arg(Ts(micros(from)));
            query.and(&format!("created_at >= {p}"));
        }
        if let Some(to) = q.to {
            let p = query.arg(Ts(micros(to)));
            query.and(&format!("created_at < {p}"));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(created_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |a| Cursor {
            micros: a.created_at.as_microsecond(),
            key: a.id.to_string(),
        }))
    }

    pub(crate) async fn set_alert_status_impl(
        &self,
        scope: Scope,
        id: AlertId,
        status: AlertStatus,
        incident: Option<IncidentId>,
    ) -> Result<Option<Alert>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let org: Option<Uuid> = tx
            .query_opt(
                "SELECT org_id FROM alerts WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2) \
                 FOR UPDATE",
                &[&id.0, &scope_org(scope)],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let Some(org) = org else {
            return Ok(None);
        };
        if let Some(inc) = incident {
            // The incident must be the alert's organization's.
            let same_org = tx
                .query_opt(
                    "SELECT 1 FROM incidents WHERE id = $1 AND org_id = $2 FOR KEY SHARE",
                    &[&inc.0, &org],
                )
                .await?
                .is_some();
            if !same_org {
                return Err(StoreError::MissingReference(format!("incident {inc}")));
            }
        }
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE alerts SET status = $2, incident_id = COALESCE($3, incident_id), \
                 updated_at = $4 WHERE id = $1 RETURNING {ALERT_COLUMNS}"
            ))
            .await?;
        let row = tx
            .query_opt(
                &stmt,
                &[&id.0, &status.as_str(), &incident.map(|i| i.0), &Ts(now())],
            )
            .await?;
        let alert = row.as_ref().map(alert_from_row).transpose()?;
        tx.commit().await?;
        Ok(alert)
    }

    pub(crate) async fn create_incident_impl(
        &self,
        spec: NewIncident,
        actor: &str,
    ) -> Result<Incident> {
        spec.validate()?;
        let at = now();
        let incident = Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                occurred_at: micros(spec.occurred_at),
                ..spec
            },
            status: IncidentStatus::Open,
            created_at: at,
            updated_at: at,
            closed_at: None,
            timeline: vec![timeline_entry(at, actor, "created".into(), String::new())],
        };
        let s = &incident.spec;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &BTreeSet::from([s.org_id])).await?;

        let wanted: BTreeSet<Uuid> = s.alert_ids.iter().map(|a| a.0).collect();
        let alert_ids: Vec<Uuid> = wanted.iter().copied().collect();
        if !alert_ids.is_empty() {
            // Alerts of another organization are reported exactly like missing ones.
            let found: BTreeSet<Uuid> = tx
                .query(
                    "SELECT id FROM alerts WHERE id = ANY($1) AND org_id = $2 FOR UPDATE",
                    &[&alert_ids, &s.org_id.0],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            if let Some(missing) = wanted.iter().find(|a| !found.contains(a)) {
                return Err(StoreError::MissingReference(format!("alert {missing}")));
            }
        }

        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO incidents ({INCIDENT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .await?;
        let asset_ids: Vec<Uuid> = s.asset_ids.iter().map(|a| a.0).collect();
        let listed_alerts: Vec<Uuid> = s.alert_ids.iter().map(|a| a.0).collect();
        tx.execute(
            &stmt,
            &[
                &incident.id.0,
                &s.org_id.0,
                &s.title,
                &s.description,
                &s.category,
                &s.subcategory,
                &s.grade.as_str(),
                &asset_ids,
                &listed_alerts,
                &Ts(s.occurred_at),
                &incident.status.as_str(),
                &Ts(incident.created_at),
                &Ts(incident.updated_at),
                &incident.closed_at.map(Ts),
                &Json(&incident.timeline),
            ],
        )
        .await?;
        if !alert_ids.is_empty() {
            tx.execute(
                "UPDATE alerts SET status = $1, incident_id = $2, updated_at = $3 \
                 WHERE id = ANY($4)",
                &[
                    &AlertStatus::Escalated.as_str(),
                    &incident.id.0,
                    &Ts(at),
                    &alert_ids,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(incident)
    }

    pub(crate) async fn get_incident_impl(
        &self,
        scope: Scope,
        id: IncidentId,
    ) -> Result<Option<Incident>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id.0, &scope_org(scope)])
            .await?
            .as_ref()
            .map(incident_from_row)
            .transpose()
    }

    pub(crate) async fn list_incidents_impl(
        &self,
        scope: Scope,
        q: &IncidentQuery,
    ) -> Result<Page<Incident>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(s) = q.status {
            query.eq("status", s.as_str());
        }
        match q.open {
            Some(true) => query.and("status NOT IN ('closed', 'archived')"),
            Some(false) => query.and("status IN ('closed', 'archived')"),
            None => {}
        }
        if let Some(g) = q.grade {
            query.eq("grade", g.as_str());
        }
        if let Some(c) = &q.category {
            query.eq("category", c.clone());
        }
        if let Some(from) = q.from {
            let p = query.arg(Ts(micros(from)));
            query.and(&format!("created_at >= {p}"));
        }
        if let Some(to) = q.to {
            let p = query.arg(Ts(micros(to)));
            query.and(&format!("created_at < {p}"));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(created_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(incident_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |i| Cursor {
            micros: i.created_at.as_microsecond(),
            key: i.id.to_string(),
        }))
    }

    pub(crate) async fn update_incident_impl(
        &self,
        scope: Scope,
        id: IncidentId,
        change: IncidentUpdate,
        actor: &str,
    ) -> Result<Option<Incident>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(mut inc) = lock_incident(&tx, scope, id).await? else {
            return Ok(None);
        };
        crate::check_expected_status(&inc, &change)?;
        let at = now();
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
        if let Some(sub) = change.subcategory
            && sub != spec.subcategory
        {
            spec.subcategory = sub;
            edited.push("subcategory");
        }
        let grade_changed = change.grade.filter(|g| *g != spec.grade);
        if let Some(g) = grade_changed {
            spec.grade = g;
        }
        spec.validate()?;

        // One entry per applied change, in this order: status, grade, edit, comment. A field
        // set to the value it already has is not a change.
        let mut entries = Vec::new();
        if let Some(status) = change.status.filter(|s| *s != inc.status) {
            if !status.is_open() && inc.status.is_open() {
                inc.closed_at = Some(at);
            } else if status.is_open() {
                inc.closed_at = None;
            }
            entries.push(timeline_entry(
                at,
                actor,
                format!("status:{}", status.as_str()),
                format!("{} -> {}", inc.status.as_str(), status.as_str()),
            ));
            inc.status = status;
        }
        if let Some(g) = grade_changed {
            entries.push(timeline_entry(
                at,
                actor,
                format!("grade:{}", g.as_str()),
                format!("{} -> {}", inc.spec.grade.as_str(), g.as_str()),
            ));
        }
        if !edited.is_empty() {
            entries.push(timeline_entry(at, actor, "edit".into(), edited.join(", ")));
        }
        if let Some(c) = change.comment.filter(|c| !c.trim().is_empty()) {
            entries.push(timeline_entry(at, actor, "comment".into(), c));
        }
        if entries.is_empty() {
            return Ok(Some(inc));
        }
        inc.spec = spec;
        inc.timeline.extend(entries);
        inc.updated_at = at;

        let s = &inc.spec;
        let stmt = tx
            .prepare_cached(
                "UPDATE incidents SET title = $2, description = $3, category = $4, \
                 subcategory = $5, grade = $6, status = $7, updated_at = $8, closed_at = $9, \
                 timeline = $10 WHERE id = $1",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &inc.id.0,
                &s.title,
                &s.description,
                &s.category,
                &s.subcategory,
                &s.grade.as_str(),
                &inc.status.as_str(),
                &Ts(inc.updated_at),
                &inc.closed_at.map(Ts),
                &Json(&inc.timeline),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(inc))
    }

    pub(crate) async fn overview_impl(&self, scope: Scope, since: Timestamp) -> Result<Overview> {
        let org = scope_org(scope);
        let since = Ts(micros(since));
        let mut client = self.client().await?;
        // One read-only snapshot, so the counts agree with each other.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let overview = overview_queries(&tx, org, since).await?;
        tx.commit().await?;
        Ok(overview)
    }
}

async fn overview_queries(
    client: &deadpool_postgres::Transaction<'_>,
    org: Option<Uuid>,
    since: Ts,
) -> Result<Overview> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&org, &since];
    let by_category = client.query(
        "SELECT category, grade, count(*) AS n FROM incidents \
         WHERE status NOT IN ('closed', 'archived') AND ($1::uuid IS NULL OR org_id = $1) \
         GROUP BY category, grade ORDER BY n DESC, category COLLATE \"C\", grade COLLATE \"C\"",
        &params[..1],
    );
    let per_day = client.query(
        "SELECT to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) \
         FROM alerts WHERE detected_at >= $2 AND ($1::uuid IS NULL OR org_id = $1) \
         GROUP BY day ORDER BY day",
        &params,
    );
    let top = client.query(
        "SELECT o.id, o.name, count(*) AS n FROM incidents i \
         JOIN organizations o ON o.id = i.org_id \
         WHERE i.status NOT IN ('closed', 'archived') \
           AND ($1::uuid IS NULL OR i.org_id = $1) \
         GROUP BY o.id, o.name ORDER BY n DESC, o.name COLLATE \"C\", o.id LIMIT 10",
        &params[..1],
    );
    let counts = client.query_one(
        "SELECT \
           (SELECT count(*) FROM incidents WHERE status NOT IN ('closed', 'archived') \
             AND ($1::uuid IS NULL OR org_id = $1)), \
           (SELECT count(*) FROM alerts \
             WHERE status = 'new' AND detected_at >= $2 AND ($1::uuid IS NULL OR org_id = $1)), \
           (SELECT count(*) FROM organizations WHERE ($1::uuid IS NULL OR id = $1)), \
           (SELECT count(*) FROM assets WHERE ($1::uuid IS NULL OR org_id = $1)), \
           (SELECT count(*) FROM events WHERE ts >= $2 AND ($1::uuid IS NULL OR org_id = $1))",
        &params,
    );
    // Pipelined: all four are sent before the first answer is read.
    let (by_category, per_day, top, counts) =
        futures_util::try_join!(by_category, per_day, top, counts)?;

    let incidents_by_category_grade = by_category
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<_, String>(0)?,
                parse(r, "grade", Grade::parse)?,
                count(r, 2)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Overview {
        incidents_by_category_grade,
        alerts_per_day: per_day
            .iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, count(r, 1)?)))
            .collect::<Result<_>>()?,
        top_orgs_open_incidents: top
            .iter()
            .map(|r| {
                Ok((
                    OrgId(r.try_get(0)?),
                    r.try_get::<_, String>(1)?,
                    count(r, 2)?,
                ))
            })
            .collect::<Result<_>>()?,
        open_incidents: count(&counts, 0)?,
        new_alerts: count(&counts, 1)?,
        organizations: count(&counts, 2)?,
        assets: count(&counts, 3)?,
        events: count(&counts, 4)?,
    })
}

/// Reads an incident within the scope and locks its row (`FOR UPDATE`) for a
/// read-modify-write in `tx`; `None` when it does not exist in the scope.
pub(crate) async fn lock_incident(
    tx: &deadpool_postgres::Transaction<'_>,
    scope: Scope,
    id: IncidentId,
) -> Result<Option<Incident>> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2) FOR UPDATE"
            ),
            &[&id.0, &scope_org(scope)],
        )
        .await?;
    row.map(|r| incident_from_row(&r)).transpose()
}
