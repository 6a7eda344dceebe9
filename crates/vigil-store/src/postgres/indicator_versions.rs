//! Every version of stored indicators: the current ones (`indicators`) and those a newer
//! version replaced (`indicator_versions`), see [`crate::intel::IndicatorVersion`].

use super::directory::{cursor_time, page};
use super::query::{Query, uuid_cursor};
use super::{PgStore, Ts, micros};
use crate::intel::{
    IndicatorId, IndicatorVersion, IndicatorVersionQuery, IntelSourceId, merge_versions,
    version_conditions,
};
use crate::{Cursor, Result, page_size};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use vigil_model::Page;

fn from_row(r: &Row) -> Result<IndicatorVersion> {
    let Json(object): Json<serde_json::Value> = r.try_get("object")?;
    Ok(IndicatorVersion {
        indicator_id: IndicatorId(r.try_get("indicator_id")?),
        source_id: IntelSourceId(r.try_get("source_id")?),
        stix_id: r.try_get("stix_id")?,
        modified: r.try_get::<_, Ts>("modified")?.0,
        date_added: r.try_get::<_, Ts>("date_added")?.0,
        object,
        latest: r.try_get("latest")?,
        revoked_at: r.try_get::<_, Option<Ts>>("revoked_at")?.map(|t| t.0),
    })
}

impl PgStore {
    async fn fetch_indicator_versions(
        &self,
        q: &IndicatorVersionQuery,
        current: bool,
        limit: usize,
    ) -> Result<Vec<IndicatorVersion>> {
        let (base, id_col) = if current {
            (
                "SELECT id AS indicator_id, source_id, stix_id, modified, date_added, object, \
                 true AS latest, revoked_at FROM indicators i",
                "id",
            )
        } else {
            (
                "SELECT indicator_id, source_id, stix_id, modified, date_added, object, \
                 false AS latest, NULL::timestamptz AS revoked_at FROM indicator_versions v",
                "indicator_id",
            )
        };
        let mut query = Query::new(base);
        let conds = version_conditions(&q.selections(), current, |t| query.arg(Ts(micros(t))));
        if conds.is_empty() {
            return Ok(Vec::new());
        }
        query.and(&format!("({})", conds.join(" OR ")));
        if let Some(s) = q.source_id {
            query.eq("source_id", s.0);
        }
        if !q.stix_ids.is_empty() {
            let p = query.arg(q.stix_ids.clone());
            query.and(&format!("stix_id = ANY({p})"));
        }
        if let Some(t) = q.added_after {
            let p = query.arg(Ts(micros(t)));
            query.and(&format!("date_added > {p}"));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(date_added, {id_col}) > ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY date_added, {id_col} LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        rows.iter().map(from_row).collect()
    }

    pub(crate) async fn list_indicator_versions_impl(
        &self,
        q: &IndicatorVersionQuery,
    ) -> Result<Page<IndicatorVersion>> {
        let limit = page_size(q.limit);
        let current = self.fetch_indicator_versions(q, true, limit).await?;
        let older = self.fetch_indicator_versions(q, false, limit).await?;
        Ok(page(merge_versions(current, older, limit), limit, |v| {
            Cursor {
                micros: v.date_added.as_microsecond(),
                key: v.indicator_id.to_string(),
            }
        }))
    }
}
