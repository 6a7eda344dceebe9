//! Dead letters (see `crate::dead_letters`).

use super::directory::{cursor_time, page};
use super::query::{Query, uuid_cursor};
use super::{PgStore, Ts};
use crate::dead_letters::{
    DeadLetter, DeadLetterQuery, DeadLetterReason, DeadLetterRetention, NewDeadLetter, needle,
    prepare_batch,
};
use crate::{Cursor, Result, StoreError, page_size};
use tokio_postgres::Row;
use uuid::Uuid;
use vigil_model::{OrgId, Page, Scope};

const COLUMNS: &str = "id, received_at, source, sender, reason, detail, raw, raw_len, org_id";

fn from_row(r: &Row) -> Result<DeadLetter> {
    let reason: String = r.try_get("reason")?;
    Ok(DeadLetter {
        id: r.try_get("id")?,
        received_at: r.try_get::<_, Ts>("received_at")?.0,
        source: r.try_get("source")?,
        sender: r.try_get("sender")?,
        reason: DeadLetterReason::parse(&reason)
            .ok_or_else(|| StoreError::Backend(format!("dead letter reason '{reason}'")))?,
        detail: r.try_get("detail")?,
        raw: r.try_get("raw")?,
        raw_len: u64::try_from(r.try_get::<_, i64>("raw_len")?)
            .map_err(|e| StoreError::Backend(format!("dead letter raw_len: {e}")))?,
        org_id: r.try_get::<_, Option<Uuid>>("org_id")?.map(OrgId),
    })
}

fn filter(query: &mut Query, scope: Scope, q: &DeadLetterQuery) {
    if let Scope::Org(o) = scope {
        query.eq("org_id", o.0);
    }
    if let Some(r) = q.reason {
        query.eq("reason", r.as_str().to_string());
    }
    if let Some(s) = &q.source {
        query.eq("source", s.clone());
    }
    if let Some(t) = q.since {
        let p = query.arg(Ts(t));
        query.and(&format!("received_at >= {p}"));
    }
    if let Some(t) = q.until {
        let p = query.arg(Ts(t));
        query.and(&format!("received_at < {p}"));
    }
    if let Some(n) = needle(q) {
        let p = query.arg(n);
        query.and(&format!("strpos(search_text, {p}) > 0"));
    }
}

impl PgStore {
    pub(crate) async fn append_dead_letters_impl(
        &self,
        batch: Vec<NewDeadLetter>,
    ) -> Result<usize> {
        let rows = prepare_batch(&batch)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO dead_letters ({COLUMNS}, search_text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .await?;
        for (d, search) in &rows {
            tx.execute(
                &stmt,
                &[
                    &d.id,
                    &Ts(d.received_at),
                    &d.source,
                    &d.sender,
                    &d.reason.as_str(),
                    &d.detail,
                    &d.raw,
                    &(d.raw_len as i64),
                    &d.org_id.map(|o| o.0),
                    search,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    pub(crate) async fn search_dead_letters_impl(
        &self,
        scope: Scope,
        q: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {COLUMNS} FROM dead_letters"));
        filter(&mut query, scope, q);
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(received_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY received_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |d| Cursor {
            micros: d.received_at.as_microsecond(),
            key: d.id.to_string(),
        }))
    }

    pub(crate) async fn count_dead_letters_impl(
        &self,
        scope: Scope,
        q: &DeadLetterQuery,
    ) -> Result<Vec<(DeadLetterReason, u64)>> {
        let mut query = Query::new("SELECT reason, count(*) AS n FROM dead_letters");
        filter(&mut query, scope, q);
        query.push(" GROUP BY reason ORDER BY reason");
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        rows.iter()
            .map(|r| {
                let reason: String = r.try_get("reason")?;
                let n: i64 = r.try_get("n")?;
                Ok((
                    DeadLetterReason::parse(&reason).ok_or_else(|| {
                        StoreError::Backend(format!("dead letter reason '{reason}'"))
                    })?,
                    n.max(0) as u64,
                ))
            })
            .collect()
    }

    pub(crate) async fn prune_dead_letters_impl(&self, keep: DeadLetterRetention) -> Result<u64> {
        let client = self.client().await?;
        let mut n = 0u64;
        if let Some(t) = keep.older_than {
            n += client
                .execute("DELETE FROM dead_letters WHERE received_at < $1", &[&Ts(t)])
                .await?;
        }
        // The keep_newest-th newest row (0-based) and everything older go.
        let offset = i64::try_from(keep.keep_newest).unwrap_or(i64::MAX);
        n += client
            .execute(
                "DELETE FROM dead_letters WHERE (received_at, id) <= (
                   SELECT received_at, id FROM dead_letters
                   ORDER BY received_at DESC, id DESC OFFSET $1 LIMIT 1)",
                &[&offset],
            )
            .await?;
        Ok(n)
    }
}
