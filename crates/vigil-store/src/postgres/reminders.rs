//! Durable once-only marks of the deadline watcher (see `sqlite/reminders.rs`): the incident
//! row is locked (`FOR UPDATE`) while its timeline is checked and extended, and the
//! recipient's mark is a conditional `UPDATE`, so two callers cannot both succeed.

use super::{PgStore, Ts, now};
use crate::Result;
use tokio_postgres::types::Json;
use vigil_model::{IncidentId, OrgId, TimelineEntry, Timestamp, WarningId};

impl PgStore {
    pub(crate) async fn add_incident_entry_once_impl(
        &self,
        id: IncidentId,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<Option<bool>> {
        let entry = TimelineEntry {
            at: now(),
            actor: actor.to_string(),
            action: action.to_string(),
            note: note.to_string(),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT timeline FROM incidents WHERE id = $1 FOR UPDATE",
                &[&id.0],
            )
            .await?
        else {
            return Ok(None);
        };
        let Json(mut timeline): Json<Vec<TimelineEntry>> = row.try_get("timeline")?;
        if timeline.iter().any(|e| e.action == entry.action) {
            return Ok(Some(false));
        }
        let at = entry.at;
        timeline.push(entry);
        tx.execute(
            "UPDATE incidents SET timeline = $2, updated_at = $3 WHERE id = $1",
            &[&id.0, &Json(&timeline), &Ts(at)],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    pub(crate) async fn mark_warning_reminded_impl(
        &self,
        id: WarningId,
        org: OrgId,
        at: Timestamp,
    ) -> Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE warning_recipients SET reminded_at = $3
                 WHERE warning_id = $1 AND org_id = $2
                   AND reminded_at IS NULL AND acknowledged_at IS NULL",
                &[&id.0, &org.0, &Ts(super::micros(at))],
            )
            .await?;
        Ok(changed == 1)
    }
}
