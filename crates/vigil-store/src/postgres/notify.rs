//! The notification outbox. Claims take rows with `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers (in one process or several) split the due rows between them instead of waiting or
//! taking the same ones.

use super::directory::{cursor_time, lock_orgs, page};
use super::query::{Query, uuid_cursor};
use super::{PgStore, Ts, micros, now, scope_org};
use crate::notify::{
    Delivery, DeliveryId, DeliveryOutcome, DeliveryQuery, DeliveryStatus, NewDelivery, clip_error,
};
use crate::{Cursor, Result, page_size};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use vigil_model::{OrgId, Page, Scope, Timestamp};

const COLUMNS: &str = "id, org_id, channel, kind, recipient, reference_kind, reference_id, \
    subject, body, max_attempts, not_before, status, attempts, last_error, due_at, sent_at, \
    created_at, updated_at";

fn count(v: i32, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| super::corrupt(what, v))
}

fn from_row(r: &Row) -> Result<Delivery> {
    let status: String = r.try_get("status")?;
    let status =
        DeliveryStatus::parse(&status).ok_or_else(|| super::corrupt("delivery status", &status))?;
    let due_at = r.try_get::<_, Option<Ts>>("due_at")?.map(|t| t.0);
    Ok(Delivery {
        id: DeliveryId(r.try_get("id")?),
        spec: NewDelivery {
            org_id: OrgId(r.try_get("org_id")?),
            channel: r.try_get("channel")?,
            kind: r.try_get("kind")?,
            recipient: r.try_get("recipient")?,
            reference_kind: r.try_get("reference_kind")?,
            reference_id: r.try_get("reference_id")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            max_attempts: count(r.try_get("max_attempts")?, "max_attempts")?,
            not_before: r.try_get::<_, Ts>("not_before")?.0,
        },
        status,
        attempts: count(r.try_get("attempts")?, "attempts")?,
        last_error: r.try_get("last_error")?,
        next_attempt_at: due_at.filter(|_| status == DeliveryStatus::Pending),
        lease_until: due_at.filter(|_| status == DeliveryStatus::Sending),
        sent_at: r.try_get::<_, Option<Ts>>("sent_at")?.map(|t| t.0),
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

impl PgStore {
    pub(crate) async fn enqueue_deliveries_impl(
        &self,
        items: Vec<NewDelivery>,
    ) -> Result<Vec<Delivery>> {
        for d in &items {
            d.validate()?;
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let at = now();
        let orgs: BTreeSet<OrgId> = items.iter().map(|d| d.org_id).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &orgs).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO notify_deliveries ({COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', 0, NULL, $11,
                         NULL, $12, $12)"
            ))
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for mut spec in items {
            spec.not_before = micros(spec.not_before);
            let id = DeliveryId::new();
            let max = i32::try_from(spec.max_attempts).unwrap_or(i32::MAX);
            tx.execute(
                &stmt,
                &[
                    &id.0,
                    &spec.org_id.0,
                    &spec.channel,
                    &spec.kind,
                    &spec.recipient,
                    &spec.reference_kind,
                    &spec.reference_id,
                    &spec.subject,
                    &spec.body,
                    &max,
                    &Ts(spec.not_before),
                    &Ts(at),
                ],
            )
            .await?;
            out.push(Delivery {
                id,
                next_attempt_at: Some(spec.not_before),
                spec,
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_error: None,
                lease_until: None,
                sent_at: None,
                created_at: at,
                updated_at: at,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn claim_deliveries_impl(
        &self,
        at: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE notify_deliveries d SET status = 'sending', attempts = d.attempts + 1,
                     due_at = $2, updated_at = $1
                 FROM (SELECT id FROM notify_deliveries
                       WHERE due_at IS NOT NULL AND due_at <= $1
                       ORDER BY due_at, id LIMIT $3
                       FOR UPDATE SKIP LOCKED) due
                 WHERE d.id = due.id
                 RETURNING {}",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("d.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&Ts(micros(at)), &Ts(micros(lease_until)), &(limit as i64)],
            )
            .await?;
        let mut out = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|d| (d.lease_until, d.id));
        Ok(out)
    }

    pub(crate) async fn finish_delivery_impl(
        &self,
        id: DeliveryId,
        attempt: u32,
        outcome: DeliveryOutcome,
    ) -> Result<Option<Delivery>> {
        let at = now();
        let (status, error, due, sent) = match outcome {
            DeliveryOutcome::Sent => (DeliveryStatus::Sent, None, None, Some(Ts(at))),
            DeliveryOutcome::Retry { at: when, error } => (
                DeliveryStatus::Pending,
                Some(clip_error(&error)),
                Some(Ts(micros(when))),
                None,
            ),
            DeliveryOutcome::Failed { error } => {
                (DeliveryStatus::Failed, Some(clip_error(&error)), None, None)
            }
        };
        let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE notify_deliveries SET status = $3, last_error = COALESCE($4, last_error), due_at = $5,
                     sent_at = $6, updated_at = $7
                 WHERE id = $1 AND status = 'sending' AND attempts = $2
                 RETURNING {COLUMNS}"
            ))
            .await?;
        client
            .query_opt(
                &stmt,
                &[
                    &id.0,
                    &attempt,
                    &status.as_str(),
                    &error,
                    &due,
                    &sent,
                    &Ts(at),
                ],
            )
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub(crate) async fn list_deliveries_impl(
        &self,
        scope: Scope,
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {COLUMNS} FROM notify_deliveries"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(k) = &q.reference_kind {
            query.eq("reference_kind", k.clone());
        }
        if let Some(r) = &q.reference_id {
            query.eq("reference_id", r.clone());
        }
        if let Some(s) = q.status {
            query.eq("status", s.as_str().to_string());
        }
        if let Some(c) = &q.channel {
            query.eq("channel", c.clone());
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
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |d| Cursor {
            micros: d.created_at.as_microsecond(),
            key: d.id.to_string(),
        }))
    }
}
