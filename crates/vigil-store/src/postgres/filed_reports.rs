//! Filed incident reports (see `crate::filed_reports`): the incident row is locked while the
//! sequence number is chosen, the record goes in and the timeline gets its entry, in one
//! transaction.

use super::evidence::{append_timeline, incident_visible, lock_incident_for_write};
use super::{PgStore, Ts, now, scope_org};
use crate::Result;
use crate::filed_reports::{
    FiledReport, FiledReportId, MAX_REPORTS_LISTED, NewFiledReport, next_seq,
};
use tokio_postgres::Row;
use vigil_model::{IncidentId, OrgId, Scope, TimelineEntry, ValidationError};

const COLUMNS: &str = "r.id, r.incident_id, r.org_id, r.seq, r.kind, r.timeline_upto, \
                       r.filed_by, r.filed_at, r.size, r.sm3";

fn from_row(r: &Row) -> Result<FiledReport> {
    let seq: i32 = r.try_get("seq")?;
    let upto: i32 = r.try_get("timeline_upto")?;
    let size: i64 = r.try_get("size")?;
    Ok(FiledReport {
        id: FiledReportId(r.try_get("id")?),
        incident_id: IncidentId(r.try_get("incident_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        seq: u32::try_from(seq).unwrap_or_default(),
        kind: r.try_get("kind")?,
        timeline_upto: u32::try_from(upto).unwrap_or_default(),
        filed_by: r.try_get("filed_by")?,
        filed_at: r.try_get::<_, Ts>("filed_at")?.0,
        size: u64::try_from(size).unwrap_or_default(),
        sm3: r.try_get("sm3")?,
    })
}

/// A stored integer column from a `u32`.
fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl PgStore {
    pub(crate) async fn add_filed_report_impl(
        &self,
        scope: Scope,
        spec: NewFiledReport,
        actor: &str,
    ) -> Result<FiledReport> {
        spec.validate()?;
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inc = lock_incident_for_write(&tx, scope, spec.incident_id).await?;
        if spec.timeline_upto as usize > inc.timeline.len() {
            return Err(ValidationError::new(
                "timeline_upto",
                format!(
                    "the incident's timeline has {} entries, the report claims {}",
                    inc.timeline.len(),
                    spec.timeline_upto
                ),
            )
            .into());
        }
        let row = tx
            .query_one(
                "SELECT coalesce(max(seq), 0) AS latest, coalesce(bool_or(kind = $2), false) AS has_kind
                 FROM filed_reports WHERE incident_id = $1",
                &[&spec.incident_id.0, &spec.kind],
            )
            .await?;
        let latest: i32 = row.try_get("latest")?;
        let has_kind: bool = row.try_get("has_kind")?;
        let seq = next_seq(&spec, u32::try_from(latest).unwrap_or_default(), has_kind)?;
        let rec = spec.record(inc.spec.org_id, seq, actor, at);
        tx.execute(
            "INSERT INTO filed_reports (id, incident_id, org_id, seq, kind, timeline_upto,
                 filed_by, filed_at, size, sm3, snapshot)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &rec.id.0,
                &rec.incident_id.0,
                &rec.org_id.0,
                &int(rec.seq),
                &rec.kind,
                &int(rec.timeline_upto),
                &rec.filed_by,
                &Ts(rec.filed_at),
                &(rec.size as i64),
                &rec.sm3,
                &spec.snapshot,
            ],
        )
        .await?;
        let entry = TimelineEntry {
            at,
            actor: actor.to_string(),
            action: rec.timeline_action(),
            note: rec.timeline_note(),
        };
        append_timeline(&tx, inc, entry).await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub(crate) async fn list_filed_reports_impl(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<FiledReport>>> {
        let client = self.client().await?;
        if !incident_visible(&client, scope, incident).await? {
            return Ok(None);
        }
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM filed_reports r
                 WHERE r.incident_id = $1 AND ($2::uuid IS NULL OR r.org_id = $2)
                 ORDER BY r.seq LIMIT $3"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&incident.0, &scope_org(scope), &(MAX_REPORTS_LISTED as i64)],
            )
            .await?;
        rows.iter()
            .map(from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub(crate) async fn get_filed_report_impl(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: FiledReportId,
    ) -> Result<Option<(FiledReport, Vec<u8>)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, r.snapshot FROM filed_reports r
                 WHERE r.id = $1 AND r.incident_id = $2 AND ($3::uuid IS NULL OR r.org_id = $3)"
            ))
            .await?;
        let Some(row) = client
            .query_opt(&stmt, &[&id.0, &incident.0, &scope_org(scope)])
            .await?
        else {
            return Ok(None);
        };
        let bytes: Vec<u8> = row.try_get("snapshot")?;
        Ok(Some((from_row(&row)?, bytes)))
    }
}
