//! Evidence files (see `crate::evidence`): records and bytes in two tables; the incident row
//! is locked while the record goes in and its timeline gets the entry, in one transaction.

use super::cases::lock_incident;
use super::{PgStore, Ts, now, scope_org};
use crate::evidence::{Evidence, EvidenceId, MAX_EVIDENCE_LISTED, NewEvidence};
use crate::{Result, StoreError};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use vigil_model::{Incident, IncidentId, OrgId, Scope, TimelineEntry, Timestamp};

const COLUMNS: &str = "e.id, e.incident_id, e.org_id, e.file_name, e.content_type, e.size, \
                       e.sm3, e.uploaded_by, e.uploaded_at, e.note";

fn from_row(r: &Row) -> Result<Evidence> {
    let size: i64 = r.try_get("size")?;
    Ok(Evidence {
        id: EvidenceId(r.try_get("id")?),
        incident_id: IncidentId(r.try_get("incident_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        file_name: r.try_get("file_name")?,
        content_type: r.try_get("content_type")?,
        size: u64::try_from(size).unwrap_or_default(),
        sm3: r.try_get("sm3")?,
        uploaded_by: r.try_get("uploaded_by")?,
        uploaded_at: r.try_get::<_, Ts>("uploaded_at")?.0,
        note: r.try_get("note")?,
    })
}

/// The incident a record is being attached to, locked for the rest of the transaction; an
/// incident outside the scope is a missing reference.
pub(super) async fn lock_incident_for_write(
    tx: &deadpool_postgres::Transaction<'_>,
    scope: Scope,
    id: IncidentId,
) -> Result<Incident> {
    lock_incident(tx, scope, id)
        .await?
        .ok_or_else(|| StoreError::MissingReference(format!("incident {id}")))
}

/// Appends the timeline entry for an attached record to the locked incident.
pub(super) async fn append_timeline(
    tx: &deadpool_postgres::Transaction<'_>,
    inc: Incident,
    entry: TimelineEntry,
) -> Result<()> {
    let at: Timestamp = entry.at;
    let mut timeline = inc.timeline;
    timeline.push(entry);
    tx.execute(
        "UPDATE incidents SET timeline = $2, updated_at = $3 WHERE id = $1",
        &[&inc.id.0, &Json(&timeline), &Ts(at)],
    )
    .await?;
    Ok(())
}

/// Whether the incident exists within the scope.
pub(super) async fn incident_visible(
    client: &deadpool_postgres::Client,
    scope: Scope,
    id: IncidentId,
) -> Result<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM incidents WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)",
            &[&id.0, &scope_org(scope)],
        )
        .await?
        .is_some())
}

impl PgStore {
    pub(crate) async fn add_evidence_impl(
        &self,
        scope: Scope,
        spec: NewEvidence,
        actor: &str,
    ) -> Result<Evidence> {
        spec.validate()?;
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inc = lock_incident_for_write(&tx, scope, spec.incident_id).await?;
        let ev = spec.record(inc.spec.org_id, actor, at);
        tx.execute(
            "INSERT INTO evidence (id, incident_id, org_id, file_name, content_type, size, sm3,
                 uploaded_by, uploaded_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &ev.id.0,
                &ev.incident_id.0,
                &ev.org_id.0,
                &ev.file_name,
                &ev.content_type,
                &(ev.size as i64),
                &ev.sm3,
                &ev.uploaded_by,
                &Ts(ev.uploaded_at),
                &ev.note,
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO evidence_content (evidence_id, bytes) VALUES ($1, $2)",
            &[&ev.id.0, &spec.bytes],
        )
        .await?;
        let entry = TimelineEntry {
            at,
            actor: actor.to_string(),
            action: "evidence".into(),
            note: ev.timeline_note(),
        };
        append_timeline(&tx, inc, entry).await?;
        tx.commit().await?;
        Ok(ev)
    }

    pub(crate) async fn list_evidence_impl(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<Evidence>>> {
        let client = self.client().await?;
        if !incident_visible(&client, scope, incident).await? {
            return Ok(None);
        }
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM evidence e
                 WHERE e.incident_id = $1 AND ($2::uuid IS NULL OR e.org_id = $2)
                 ORDER BY e.uploaded_at, e.id LIMIT $3"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &incident.0,
                    &scope_org(scope),
                    &(MAX_EVIDENCE_LISTED as i64),
                ],
            )
            .await?;
        rows.iter()
            .map(from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub(crate) async fn get_evidence_impl(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: EvidenceId,
    ) -> Result<Option<(Evidence, Vec<u8>)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, c.bytes FROM evidence e
                 JOIN evidence_content c ON c.evidence_id = e.id
                 WHERE e.id = $1 AND e.incident_id = $2 AND ($3::uuid IS NULL OR e.org_id = $3)"
            ))
            .await?;
        let Some(row) = client
            .query_opt(&stmt, &[&id.0, &incident.0, &scope_org(scope)])
            .await?
        else {
            return Ok(None);
        };
        let bytes: Vec<u8> = row.try_get("bytes")?;
        Ok(Some((from_row(&row)?, bytes)))
    }
}
