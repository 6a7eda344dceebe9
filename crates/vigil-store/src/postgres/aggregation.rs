//! Incidents under an aggregation key, and alerts attached to them (see
//! [`crate::aggregation`]). The partial unique index `incidents_open_aggregation` (migration
//! V4) keeps one open incident per organization and key: of two transactions inserting the
//! same key, the second waits for the first and then fails with a unique violation. An attach
//! locks the incident row (`FOR UPDATE`) for its read-modify-write.

use super::cases::{INCIDENT_COLUMNS, incident_from_row, lock_incident};
use super::directory::lock_orgs;
use super::{PgStore, Ts, micros, now, scope_org};
use crate::aggregation::{
    AlertAttachment, AttachOutcome, DUPLICATE_KEY, attach_note, check_key, extend_unique,
    raised_grade,
};
use crate::{Result, StoreError};
use std::collections::BTreeSet;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{
    AlertStatus, Incident, IncidentId, IncidentStatus, NewIncident, OrgId, Scope, TimelineEntry,
};

impl PgStore {
    pub(crate) async fn find_open_incident_by_key_impl(
        &self,
        scope: Scope,
        org: OrgId,
        key: &str,
    ) -> Result<Option<Incident>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents \
                 WHERE org_id = $1 AND aggregation_key = $2 \
                   AND status NOT IN ('closed', 'archived') \
                   AND ($3::uuid IS NULL OR org_id = $3)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&org.0, &key, &scope_org(scope)])
            .await?
            .as_ref()
            .map(incident_from_row)
            .transpose()
    }

    pub(crate) async fn create_aggregated_incident_impl(
        &self,
        spec: NewIncident,
        key: &str,
        actor: &str,
    ) -> Result<Incident> {
        spec.validate()?;
        check_key(key)?;
        let at = now();
        let note = attach_note(&spec.alert_ids, &[]);
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
            timeline: vec![TimelineEntry {
                at,
                actor: actor.to_string(),
                action: "created".into(),
                note,
            }],
        };
        let s = &incident.spec;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &BTreeSet::from([s.org_id])).await?;
        let alert_ids: Vec<Uuid> = s
            .alert_ids
            .iter()
            .map(|a| a.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        check_alerts(&tx, &alert_ids, s.org_id).await?;
        let asset_ids: Vec<Uuid> = s.asset_ids.iter().map(|a| a.0).collect();
        let listed: Vec<Uuid> = s.alert_ids.iter().map(|a| a.0).collect();
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO incidents ({INCIDENT_COLUMNS}, aggregation_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16)"
                ),
                &[
                    &incident.id.0,
                    &s.org_id.0,
                    &s.title,
                    &s.description,
                    &s.category,
                    &s.subcategory,
                    &s.grade.as_str(),
                    &asset_ids,
                    &listed,
                    &Ts(s.occurred_at),
                    &incident.status.as_str(),
                    &Ts(incident.created_at),
                    &Ts(incident.updated_at),
                    &incident.closed_at.map(Ts),
                    &Json(&incident.timeline),
                    &key,
                ],
            )
            .await;
        if let Err(e) = inserted {
            return Err(match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(DUPLICATE_KEY.into()),
                other => other,
            });
        }
        escalate(&tx, &alert_ids, incident.id, at).await?;
        tx.commit().await?;
        Ok(incident)
    }

    pub(crate) async fn attach_alerts_impl(
        &self,
        scope: Scope,
        id: IncidentId,
        attach: AlertAttachment,
        actor: &str,
    ) -> Result<Option<AttachOutcome>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(mut inc) = lock_incident(&tx, scope, id).await? else {
            return Ok(None);
        };
        if !inc.status.is_open() {
            return Err(StoreError::Conflict(format!(
                "the incident is {}; alerts are attached to open incidents only",
                inc.status.as_str()
            )));
        }
        let at = now();
        let alert_ids: Vec<Uuid> = attach
            .alert_ids
            .iter()
            .map(|a| a.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        check_alerts(&tx, &alert_ids, inc.spec.org_id).await?;
        escalate(&tx, &alert_ids, id, at).await?;

        let previous_grade = inc.spec.grade;
        let attached = extend_unique(&mut inc.spec.alert_ids, &attach.alert_ids);
        let added_assets = extend_unique(&mut inc.spec.asset_ids, &attach.asset_ids);
        let entry = |action: String, note: String| TimelineEntry {
            at,
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
            inc.updated_at = at;
            let assets: Vec<Uuid> = inc.spec.asset_ids.iter().map(|a| a.0).collect();
            let alerts: Vec<Uuid> = inc.spec.alert_ids.iter().map(|a| a.0).collect();
            tx.execute(
                "UPDATE incidents SET grade = $2, asset_ids = $3, alert_ids = $4, \
                 updated_at = $5, timeline = $6 WHERE id = $1",
                &[
                    &id.0,
                    &inc.spec.grade.as_str(),
                    &assets,
                    &alerts,
                    &Ts(at),
                    &Json(&inc.timeline),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(AttachOutcome {
            incident: inc,
            previous_grade,
            attached,
            added_assets,
        }))
    }
}

/// Locks the alerts, which must all be `org`'s (another organization's look missing).
async fn check_alerts(
    tx: &deadpool_postgres::Transaction<'_>,
    ids: &[Uuid],
    org: OrgId,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: BTreeSet<Uuid> = tx
        .query(
            "SELECT id FROM alerts WHERE id = ANY($1) AND org_id = $2 FOR UPDATE",
            &[&ids, &org.0],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    match ids.iter().find(|a| !found.contains(a)) {
        Some(missing) => Err(StoreError::MissingReference(format!("alert {missing}"))),
        None => Ok(()),
    }
}

async fn escalate(
    tx: &deadpool_postgres::Transaction<'_>,
    ids: &[Uuid],
    incident: IncidentId,
    at: vigil_model::Timestamp,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "UPDATE alerts SET status = $1, incident_id = $2, updated_at = $3 WHERE id = ANY($4)",
        &[&AlertStatus::Escalated.as_str(), &incident.0, &Ts(at), &ids],
    )
    .await?;
    Ok(())
}
