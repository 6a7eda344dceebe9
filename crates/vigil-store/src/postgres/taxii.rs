//! TAXII feed state and status resources (see `crate::taxii`). A poll's record is a
//! read-modify-write of the feed's row under `FOR UPDATE`, so two nodes recording polls of the
//! same feed never lose a counter.

use super::{PgStore, Ts};
use crate::Result;
use crate::taxii::{STATUS_KEPT_DAYS, TaxiiFeedPoll, TaxiiFeedState, TaxiiStatus};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use vigil_model::Timestamp;

const FEED_COLUMNS: &str = "name, collection_url, watermark, last_attempt_at, last_success_at, \
                            last_error, last_error_at, consecutive_failures, polls, failures, \
                            objects_imported, updated_at";

fn opt_ts(r: &Row, col: &str) -> Result<Option<Timestamp>> {
    Ok(r.try_get::<_, Option<Ts>>(col)?.map(|t| t.0))
}

fn count(r: &Row, col: &str) -> Result<u64> {
    Ok(u64::try_from(r.try_get::<_, i64>(col)?).unwrap_or_default())
}

fn feed_from_row(r: &Row) -> Result<TaxiiFeedState> {
    Ok(TaxiiFeedState {
        name: r.try_get("name")?,
        collection_url: r.try_get("collection_url")?,
        watermark: opt_ts(r, "watermark")?,
        last_attempt_at: opt_ts(r, "last_attempt_at")?,
        last_success_at: opt_ts(r, "last_success_at")?,
        last_error: r.try_get("last_error")?,
        last_error_at: opt_ts(r, "last_error_at")?,
        consecutive_failures: u32::try_from(r.try_get::<_, i32>("consecutive_failures")?)
            .unwrap_or_default(),
        polls: count(r, "polls")?,
        failures: count(r, "failures")?,
        objects_imported: count(r, "objects_imported")?,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgStore {
    pub(crate) async fn get_taxii_feed_impl(&self, name: &str) -> Result<Option<TaxiiFeedState>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {FEED_COLUMNS} FROM taxii_feeds WHERE name = $1"),
                &[&name],
            )
            .await?
            .as_ref()
            .map(feed_from_row)
            .transpose()
    }

    pub(crate) async fn list_taxii_feeds_impl(&self) -> Result<Vec<TaxiiFeedState>> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {FEED_COLUMNS} FROM taxii_feeds ORDER BY name"),
                &[],
            )
            .await?
            .iter()
            .map(feed_from_row)
            .collect()
    }

    pub(crate) async fn record_taxii_feed_poll_impl(
        &self,
        name: &str,
        collection_url: &str,
        poll: TaxiiFeedPoll,
        at: Timestamp,
    ) -> Result<TaxiiFeedState> {
        crate::taxii::validate_feed(name, collection_url)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let prev = tx
            .query_opt(
                &format!("SELECT {FEED_COLUMNS} FROM taxii_feeds WHERE name = $1 FOR UPDATE"),
                &[&name],
            )
            .await?
            .as_ref()
            .map(feed_from_row)
            .transpose()?;
        let s = TaxiiFeedState::apply(prev, name, collection_url, poll, at);
        tx.execute(
            &format!(
                "INSERT INTO taxii_feeds ({FEED_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (name) DO UPDATE SET
                     collection_url = EXCLUDED.collection_url,
                     watermark = EXCLUDED.watermark,
                     last_attempt_at = EXCLUDED.last_attempt_at,
                     last_success_at = EXCLUDED.last_success_at,
                     last_error = EXCLUDED.last_error,
                     last_error_at = EXCLUDED.last_error_at,
                     consecutive_failures = EXCLUDED.consecutive_failures,
                     polls = EXCLUDED.polls,
                     failures = EXCLUDED.failures,
                     objects_imported = EXCLUDED.objects_imported,
                     updated_at = EXCLUDED.updated_at"
            ),
            &[
                &s.name,
                &s.collection_url,
                &s.watermark.map(Ts),
                &s.last_attempt_at.map(Ts),
                &s.last_success_at.map(Ts),
                &s.last_error,
                &s.last_error_at.map(Ts),
                &i32::try_from(s.consecutive_failures).unwrap_or(i32::MAX),
                &clamp_i64(s.polls),
                &clamp_i64(s.failures),
                &clamp_i64(s.objects_imported),
                &Ts(s.updated_at),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    pub(crate) async fn put_taxii_status_impl(&self, status: TaxiiStatus) -> Result<()> {
        status.validate()?;
        let cutoff = Timestamp::from_microsecond(
            status.created_at.as_microsecond() - STATUS_KEPT_DAYS * 86_400_000_000,
        )
        .unwrap_or(Timestamp::UNIX_EPOCH);
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM taxii_statuses WHERE created_at < $1",
                &[&Ts(cutoff)],
            )
            .await?;
        client
            .execute(
                "INSERT INTO taxii_statuses (id, body, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                &[&status.id, &Json(&status.body), &Ts(status.created_at)],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn get_taxii_status_impl(&self, id: &str) -> Result<Option<TaxiiStatus>> {
        let client = self.client().await?;
        let Some(r) = client
            .query_opt(
                "SELECT id, body, created_at FROM taxii_statuses WHERE id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let Json(body): Json<serde_json::Value> = r.try_get("body")?;
        Ok(Some(TaxiiStatus {
            id: r.try_get("id")?,
            body,
            created_at: r.try_get::<_, Ts>("created_at")?.0,
        }))
    }
}
