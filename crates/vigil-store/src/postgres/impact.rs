//! Impact records of incidents (see `crate::impact`): the incident row is locked while the
//! record, the timeline entries and a raised grade are written, in one transaction.

use super::cases::lock_incident;
use super::{PgStore, Ts, now, scope_org};
use crate::Result;
use crate::aggregation::raised_grade;
use crate::impact::{GRADE_RAISED, ImpactOutcome, ImpactUpdate, archived_conflict, raised_note};
use tokio_postgres::types::Json;
use vigil_model::{
    IncidentId, IncidentImpact, IncidentStatus, RecordedImpact, Scope, TimelineEntry,
};

impl PgStore {
    pub(crate) async fn get_incident_impact_impl(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<RecordedImpact>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT incident_id, impact, recorded_by, recorded_at FROM incident_impacts
                 WHERE incident_id = $1 AND ($2::uuid IS NULL OR org_id = $2)",
                &[&incident.0, &scope_org(scope)],
            )
            .await?
        else {
            return Ok(None);
        };
        let Json(impact): Json<IncidentImpact> = row.try_get("impact")?;
        Ok(Some(RecordedImpact {
            incident_id: IncidentId(row.try_get("incident_id")?),
            impact,
            recorded_by: row.try_get("recorded_by")?,
            recorded_at: row.try_get::<_, Ts>("recorded_at")?.0,
        }))
    }

    pub(crate) async fn set_incident_impact_impl(
        &self,
        scope: Scope,
        id: IncidentId,
        update: ImpactUpdate,
        actor: &str,
    ) -> Result<Option<ImpactOutcome>> {
        update.impact.validate()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(mut inc) = lock_incident(&tx, scope, id).await? else {
            return Ok(None);
        };
        if inc.status == IncidentStatus::Archived {
            return Err(archived_conflict());
        }
        let at = now();
        let record = RecordedImpact {
            incident_id: id,
            impact: update.impact,
            recorded_by: actor.to_string(),
            recorded_at: at,
        };
        tx.execute(
            "INSERT INTO incident_impacts (incident_id, org_id, impact, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (incident_id) DO UPDATE SET impact = excluded.impact,
                 recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
            &[
                &id.0,
                &inc.spec.org_id.0,
                &Json(&record.impact),
                &record.recorded_by,
                &Ts(at),
            ],
        )
        .await?;
        let previous_grade = inc.spec.grade;
        let entry = |action: &str, note: String| TimelineEntry {
            at,
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
        inc.updated_at = at;
        tx.execute(
            "UPDATE incidents SET grade = $2, updated_at = $3, timeline = $4 WHERE id = $1",
            &[
                &id.0,
                &inc.spec.grade.as_str(),
                &Ts(at),
                &Json(&inc.timeline),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ImpactOutcome {
            incident: inc,
            record,
            previous_grade,
        }))
    }
}
