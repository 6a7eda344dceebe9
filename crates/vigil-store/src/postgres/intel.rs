//! Intelligence sources, indicators and sightings.

use super::directory::{cursor_time, lock_orgs, page};
use super::events::clean_json;
use super::query::{Query, contains_pattern, uuid_cursor};
use super::{PgStore, Ts, micros, now, scope_org};
use crate::intel::{
    IndicatorId, IndicatorQuery, IntelSource, IntelSourceId, NewIndicator, NewIntelSource,
    NewSighting, Sighting, SightingId, SightingQuery, StoredIndicator, UpsertCounts,
};
use crate::{Cursor, Result, StoreError, page_size};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{AlertId, OrgId, Page, Scope};

const SOURCE_COLUMNS: &str = "id, name, kind, url, enabled, trust, created_at, updated_at";

fn small(v: i16, what: &str) -> Result<u8> {
    u8::try_from(v).map_err(|_| super::corrupt(what, v))
}

fn source_from_row(r: &Row) -> Result<IntelSource> {
    Ok(IntelSource {
        id: IntelSourceId(r.try_get("id")?),
        spec: NewIntelSource {
            name: r.try_get("name")?,
            kind: r.try_get("kind")?,
            url: r.try_get("url")?,
            enabled: r.try_get("enabled")?,
            trust: small(r.try_get("trust")?, "trust")?,
        },
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

const INDICATOR_COLUMNS: &str = "id, source_id, stix_id, kind, value, all_values, pattern, name, \
    description, confidence, tlp, valid_from, valid_until, labels, kill_chain, attack_ids, \
    modified, revoked, object, first_seen, last_seen, date_added, revoked_at";

fn indicator_from_row(r: &Row) -> Result<StoredIndicator> {
    let Json(object): Json<serde_json::Value> = r.try_get("object")?;
    Ok(StoredIndicator {
        id: IndicatorId(r.try_get("id")?),
        spec: NewIndicator {
            source_id: IntelSourceId(r.try_get("source_id")?),
            stix_id: r.try_get("stix_id")?,
            kind: r.try_get("kind")?,
            value: r.try_get("value")?,
            values: r.try_get("all_values")?,
            pattern: r.try_get("pattern")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            confidence: small(r.try_get("confidence")?, "confidence")?,
            tlp: r.try_get("tlp")?,
            valid_from: r.try_get::<_, Option<Ts>>("valid_from")?.map(|t| t.0),
            valid_until: r.try_get::<_, Option<Ts>>("valid_until")?.map(|t| t.0),
            labels: r.try_get("labels")?,
            kill_chain: r.try_get("kill_chain")?,
            attack_ids: r.try_get("attack_ids")?,
            modified: r.try_get::<_, Ts>("modified")?.0,
            revoked: r.try_get("revoked")?,
            object,
        },
        first_seen: r.try_get::<_, Ts>("first_seen")?.0,
        last_seen: r.try_get::<_, Ts>("last_seen")?.0,
        date_added: r.try_get::<_, Ts>("date_added")?.0,
        revoked_at: r.try_get::<_, Option<Ts>>("revoked_at")?.map(|t| t.0),
    })
}

const SIGHTING_COLUMNS: &str =
    "id, indicator_id, org_id, event_id, alert_id, seen_at, count, created_at";

fn sighting_from_row(r: &Row) -> Result<Sighting> {
    let count: i32 = r.try_get("count")?;
    Ok(Sighting {
        id: SightingId(r.try_get("id")?),
        spec: NewSighting {
            indicator_id: IndicatorId(r.try_get("indicator_id")?),
            org_id: OrgId(r.try_get("org_id")?),
            event_id: r.try_get("event_id")?,
            alert_id: r.try_get::<_, Option<Uuid>>("alert_id")?.map(AlertId),
            seen_at: r.try_get::<_, Ts>("seen_at")?.0,
            count: u32::try_from(count).map_err(|_| super::corrupt("count", count))?,
        },
        created_at: r.try_get::<_, Ts>("created_at")?.0,
    })
}

impl PgStore {
    pub(crate) async fn upsert_intel_source_impl(
        &self,
        spec: NewIntelSource,
    ) -> Result<IntelSource> {
        spec.validate()?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO intel_sources ({SOURCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, url = EXCLUDED.url,
                     enabled = EXCLUDED.enabled, trust = EXCLUDED.trust,
                     updated_at = EXCLUDED.updated_at
                 RETURNING {SOURCE_COLUMNS}"
            ))
            .await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &IntelSourceId::new().0,
                    &spec.name,
                    &spec.kind,
                    &spec.url,
                    &spec.enabled,
                    &i16::from(spec.trust),
                    &Ts(now()),
                ],
            )
            .await?;
        source_from_row(&row)
    }

    pub(crate) async fn get_intel_source_impl(
        &self,
        id: IntelSourceId,
    ) -> Result<Option<IntelSource>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {SOURCE_COLUMNS} FROM intel_sources WHERE id = $1"),
                &[&id.0],
            )
            .await?
            .as_ref()
            .map(source_from_row)
            .transpose()
    }

    pub(crate) async fn list_intel_sources_impl(&self) -> Result<Vec<IntelSource>> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {SOURCE_COLUMNS} FROM intel_sources ORDER BY name"),
                &[],
            )
            .await?
            .iter()
            .map(source_from_row)
            .collect()
    }

    pub(crate) async fn upsert_indicators_impl(
        &self,
        items: Vec<NewIndicator>,
    ) -> Result<UpsertCounts> {
        for i in &items {
            i.validate()?;
        }
        let mut counts = UpsertCounts::default();
        if items.is_empty() {
            return Ok(counts);
        }
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let wanted: BTreeSet<Uuid> = items.iter().map(|i| i.source_id.0).collect();
        let ids: Vec<Uuid> = wanted.iter().copied().collect();
        let found: BTreeSet<Uuid> = tx
            .query(
                "SELECT id FROM intel_sources WHERE id = ANY($1) FOR KEY SHARE",
                &[&ids],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if let Some(missing) = wanted.iter().find(|s| !found.contains(s)) {
            return Err(StoreError::MissingReference(format!(
                "intel source {missing}"
            )));
        }
        // Inserts, or replaces the stored version only when this one is newer; no row comes
        // back when the stored one is as new, and then only last_seen moves.
        let upsert = tx
            .prepare_cached(&format!(
                "INSERT INTO indicators ({INDICATOR_COLUMNS}, plain_values)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         $17, $18, $19, $20, $20, $20, NULL, $21)
                 ON CONFLICT (source_id, stix_id) DO UPDATE SET kind = EXCLUDED.kind,
                     value = EXCLUDED.value, all_values = EXCLUDED.all_values,
                     pattern = EXCLUDED.pattern, name = EXCLUDED.name,
                     description = EXCLUDED.description, confidence = EXCLUDED.confidence,
                     tlp = EXCLUDED.tlp, valid_from = EXCLUDED.valid_from,
                     valid_until = EXCLUDED.valid_until, labels = EXCLUDED.labels,
                     kill_chain = EXCLUDED.kill_chain, attack_ids = EXCLUDED.attack_ids,
                     modified = EXCLUDED.modified, revoked = EXCLUDED.revoked,
                     object = EXCLUDED.object, plain_values = EXCLUDED.plain_values,
                     last_seen = EXCLUDED.last_seen, date_added = EXCLUDED.date_added
                 WHERE indicators.modified < EXCLUDED.modified
                 RETURNING (xmax = 0) AS inserted"
            ))
            .await?;
        let touch = tx
            .prepare_cached(
                "UPDATE indicators SET last_seen = $3 WHERE source_id = $1 AND stix_id = $2",
            )
            .await?;
        for s in &items {
            let plain = s.plain_values();
            let confidence = i16::from(s.confidence);
            let row = tx
                .query_opt(
                    &upsert,
                    &[
                        &IndicatorId::new().0,
                        &s.source_id.0,
                        &s.stix_id,
                        &s.kind,
                        &s.value,
                        &s.values,
                        &s.pattern,
                        &s.name,
                        &s.description,
                        &confidence,
                        &s.tlp,
                        &s.valid_from.map(|t| Ts(micros(t))),
                        &s.valid_until.map(|t| Ts(micros(t))),
                        &s.labels,
                        &s.kill_chain,
                        &s.attack_ids,
                        &Ts(micros(s.modified)),
                        &s.revoked,
                        &Json(clean_json(&s.object)),
                        &Ts(at),
                        &plain,
                    ],
                )
                .await?;
            match row {
                Some(r) if r.try_get::<_, bool>("inserted")? => counts.inserted += 1,
                Some(_) => counts.updated += 1,
                None => {
                    tx.execute(&touch, &[&s.source_id.0, &s.stix_id, &Ts(at)])
                        .await?;
                    counts.unchanged += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub(crate) async fn get_indicator_impl(
        &self,
        id: IndicatorId,
    ) -> Result<Option<StoredIndicator>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = $1"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id.0])
            .await?
            .as_ref()
            .map(indicator_from_row)
            .transpose()
    }

    pub(crate) async fn list_indicators_impl(
        &self,
        q: &IndicatorQuery,
    ) -> Result<Page<StoredIndicator>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {INDICATOR_COLUMNS} FROM indicators"));
        if let Some(s) = q.source_id {
            query.eq("source_id", s.0);
        }
        if let Some(k) = &q.kind {
            query.eq("kind", k.clone());
        }
        if let Some(v) = &q.value {
            let p = query.arg(vec![v.clone()]);
            query.and(&format!("plain_values @> {p}"));
        }
        if let Some(s) = &q.stix_id {
            query.eq("stix_id", s.clone());
        }
        if let Some(t) = &q.text {
            let p = query.arg(contains_pattern(t));
            query.and(&format!(
                "(value ILIKE {p} OR name ILIKE {p} OR pattern ILIKE {p})"
            ));
        }
        if !q.include_revoked {
            query.and("NOT revoked AND revoked_at IS NULL");
        }
        if let Some(t) = q.added_after {
            let p = query.arg(Ts(micros(t)));
            query.and(&format!("date_added > {p}"));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            let op = if q.oldest_first { ">" } else { "<" };
            query.and(&format!("(date_added, id) {op} ({t}, {k})"));
        }
        let order = if q.oldest_first { "ASC" } else { "DESC" };
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(
            " ORDER BY date_added {order}, id {order} LIMIT {l}"
        ));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(indicator_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |i| Cursor {
            micros: i.date_added.as_microsecond(),
            key: i.id.to_string(),
        }))
    }

    pub(crate) async fn revoke_indicator_impl(
        &self,
        id: IndicatorId,
    ) -> Result<Option<StoredIndicator>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "UPDATE indicators SET revoked_at = COALESCE(revoked_at, $2), date_added = $2
                     WHERE id = $1 RETURNING {INDICATOR_COLUMNS}"
                ),
                &[&id.0, &Ts(now())],
            )
            .await?
            .as_ref()
            .map(indicator_from_row)
            .transpose()
    }

    pub(crate) async fn delete_indicator_impl(&self, id: IndicatorId) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM indicators WHERE id = $1", &[&id.0])
            .await?;
        Ok(n > 0)
    }

    pub(crate) async fn record_sightings_impl(
        &self,
        scope: Scope,
        items: Vec<NewSighting>,
    ) -> Result<Vec<Sighting>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let orgs: BTreeSet<OrgId> = items.iter().map(|s| s.org_id).collect();
        if let Some(o) = scope_org(scope)
            && let Some(other) = orgs.iter().find(|x| x.0 != o)
        {
            return Err(StoreError::MissingReference(format!(
                "organization {other}"
            )));
        }
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &orgs).await?;
        let wanted: BTreeSet<Uuid> = items.iter().map(|s| s.indicator_id.0).collect();
        let ids: Vec<Uuid> = wanted.iter().copied().collect();
        let found: BTreeSet<Uuid> = tx
            .query(
                "SELECT id FROM indicators WHERE id = ANY($1) FOR KEY SHARE",
                &[&ids],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if let Some(missing) = wanted.iter().find(|i| !found.contains(i)) {
            return Err(StoreError::MissingReference(format!("indicator {missing}")));
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO sightings ({SIGHTING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for mut spec in items {
            spec.seen_at = micros(spec.seen_at);
            let s = Sighting {
                id: SightingId::new(),
                spec,
                created_at: at,
            };
            let count = i32::try_from(s.spec.count).unwrap_or(i32::MAX);
            tx.execute(
                &stmt,
                &[
                    &s.id.0,
                    &s.spec.indicator_id.0,
                    &s.spec.org_id.0,
                    &s.spec.event_id,
                    &s.spec.alert_id.map(|a| a.0),
                    &Ts(s.spec.seen_at),
                    &count,
                    &Ts(at),
                ],
            )
            .await?;
            out.push(s);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn list_sightings_impl(
        &self,
        scope: Scope,
        q: &SightingQuery,
    ) -> Result<Page<Sighting>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {SIGHTING_COLUMNS} FROM sightings"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(i) = q.indicator_id {
            query.eq("indicator_id", i.0);
        }
        if let Some(from) = q.from {
            let p = query.arg(Ts(micros(from)));
            query.and(&format!("seen_at >= {p}"));
        }
        if let Some(to) = q.to {
            let p = query.arg(Ts(micros(to)));
            query.and(&format!("seen_at < {p}"));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(seen_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY seen_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(sighting_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |s| Cursor {
            micros: s.spec.seen_at.as_microsecond(),
            key: s.id.to_string(),
        }))
    }
}
