//! Intelligence sources, indicators and sightings.

use super::directory::{cursor_time, lock_orgs, page};
use super::events::clean_json;
use super::query::{Query, contains_pattern, uuid_cursor};
use super::{PgStore, Ts, micros, now, scope_org};
use crate::intel::{
    EdlList, ImportRejection, IndicatorId, IndicatorQuery, IndicatorState, IntelImport,
    IntelImportId, IntelSource, IntelSourceCounts, IntelSourceId, IntelSourcePatch,
    MAX_IMPORT_REJECTIONS, MAX_MATCH_PAGE, MatchIndicator, NewEdlList, NewIndicator,
    NewIntelImport, NewIntelSource, NewSighting, Sighting, SightingId, SightingQuery,
    StoredIndicator, UpsertCounts,
};
use crate::{Cursor, Result, StoreError, page_size};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{AlertId, OrgId, Page, Scope};

const SOURCE_COLUMNS: &str =
    "id, name, kind, url, enabled, trust, created_at, updated_at, default_tlp, description";

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
        default_tlp: r.try_get("default_tlp")?,
        description: r.try_get("description")?,
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
                "INSERT INTO intel_sources (id, name, kind, url, enabled, trust, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
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
        // Each stored version gets its own `date_added`, strictly after every earlier one (under
        // a lock, so concurrent batches do not interleave), so that TAXII clients paging with
        // `added_after` (taxii2-client, OpenCTI) lose nothing when one batch stores many.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('vigil.indicators.date_added.' || current_schema()))",
            &[],
        )
        .await?;
        let last: Option<Ts> = tx
            .query_one("SELECT max(date_added) FROM indicators", &[])
            .await?
            .try_get(0)?;
        let mut next = at
            .as_microsecond()
            .max(last.map_or(i64::MIN, |l| l.0.as_microsecond() + 1));
        // Inserts, or replaces the stored version only when this one is newer; no row comes
        // back when the stored one is as new, and then only last_seen moves. The version
        // replaced goes to indicator_versions first (the CTE reads the row as it was before
        // the statement: every part of it sees the same snapshot).
        let upsert = tx
            .prepare_cached(&format!(
                "WITH superseded AS (
                     INSERT INTO indicator_versions
                         (indicator_id, source_id, stix_id, modified, date_added, object)
                     SELECT id, source_id, stix_id, modified, date_added, object
                     FROM indicators
                     WHERE source_id = $2 AND stix_id = $3 AND modified < $17
                     ON CONFLICT DO NOTHING
                 )
                 INSERT INTO indicators ({INDICATOR_COLUMNS}, plain_values)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                         $17, $18, $19, $20, $20, $22, NULL, $21)
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
            let added = vigil_model::Timestamp::from_microsecond(next)
                .map_err(|e| StoreError::Backend(format!("date_added out of range: {e}")))?;
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
                        &Ts(added),
                    ],
                )
                .await?;
            if row.is_some() {
                next += 1;
            }
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

    /// See [`crate::Store::indicators_for_matching`].
    pub(crate) async fn indicators_for_matching_impl(
        &self,
        after: Option<IndicatorId>,
        now: vigil_model::Timestamp,
        limit: usize,
    ) -> Result<Vec<MatchIndicator>> {
        let limit = limit.clamp(1, MAX_MATCH_PAGE) as i64;
        let client = self.client().await?;
        // Two statements rather than `$1 IS NULL OR id > $1`, which a generic plan cannot
        // turn into a range of the primary key (every page would scan and sort the table).
        let columns = "SELECT id, source_id, kind, value, all_values, pattern, name, description,
                confidence, tlp, valid_from, valid_until, labels, kill_chain, attack_ids
             FROM indicators
             WHERE NOT revoked AND revoked_at IS NULL AND (valid_until IS NULL OR valid_until > $1)
               AND source_id IN (SELECT id FROM intel_sources WHERE enabled)";
        let rows = match after {
            None => {
                let stmt = client
                    .prepare_cached(&format!("{columns} ORDER BY id LIMIT $2"))
                    .await?;
                client.query(&stmt, &[&Ts(now), &limit]).await?
            }
            Some(a) => {
                let stmt = client
                    .prepare_cached(&format!("{columns} AND id > $3 ORDER BY id LIMIT $2"))
                    .await?;
                client.query(&stmt, &[&Ts(now), &limit, &a.0]).await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(MatchIndicator {
                    id: IndicatorId(r.try_get("id")?),
                    source_id: IntelSourceId(r.try_get("source_id")?),
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
                })
            })
            .collect()
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
        let revoked = "(revoked OR revoked_at IS NOT NULL)";
        if !q.include_revoked && q.state != Some(IndicatorState::Revoked) {
            query.and("NOT revoked AND revoked_at IS NULL");
        }
        if let Some(t) = q.added_after {
            let p = query.arg(Ts(micros(t)));
            query.and(&format!("date_added > {p}"));
        }
        if let Some(t) = &q.tlp {
            query.eq("tlp", t.clone());
        }
        if !q.tlp_exclude.is_empty() {
            let p = query.arg(q.tlp_exclude.clone());
            query.and(&format!("(tlp IS NULL OR NOT (tlp = ANY({p})))"));
        }
        if let Some(c) = q.min_confidence {
            let p = query.arg(i16::from(c));
            query.and(&format!("confidence >= {p}"));
        }
        if let Some(c) = q.max_confidence {
            let p = query.arg(i16::from(c));
            query.and(&format!("confidence <= {p}"));
        }
        if let Some(l) = &q.label {
            let p = query.arg(l.clone());
            query.and(&format!("{p} = ANY(labels)"));
        }
        if !q.kinds.is_empty() {
            // The first value's kind, or any value's (a pattern's values may be of several).
            let p = query.arg(q.kinds.clone());
            query.and(&format!(
                "(kind = ANY({p}) OR EXISTS (SELECT 1 FROM unnest(all_values) AS v \
                 WHERE split_part(v, ':', 1) = ANY({p})))"
            ));
        }
        if let Some(state) = q.state {
            let at = micros(q.now.unwrap_or_else(now));
            match state {
                IndicatorState::Active => {
                    let p = query.arg(Ts(at));
                    query.and(&format!(
                        "NOT {revoked} AND (valid_until IS NULL OR valid_until > {p})"
                    ));
                }
                IndicatorState::Expired => {
                    let p = query.arg(Ts(at));
                    query.and(&format!(
                        "NOT {revoked} AND valid_until IS NOT NULL AND valid_until <= {p}"
                    ));
                }
                IndicatorState::Revoked => query.and(revoked),
            }
        }
        if q.enabled_sources_only {
            query.and("source_id IN (SELECT id FROM intel_sources WHERE enabled)");
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

const IMPORT_COLUMNS: &str = "id, source_id, actor, via, format, inserted, updated, unchanged, \
    rejected, rejections, started_at, finished_at";

fn count(r: &Row, col: &str) -> Result<u64> {
    let v: i64 = r.try_get(col)?;
    u64::try_from(v).map_err(|_| super::corrupt(col, v))
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn import_from_row(r: &Row) -> Result<IntelImport> {
    let Json(rejections): Json<Vec<ImportRejection>> = r.try_get("rejections")?;
    Ok(IntelImport {
        id: IntelImportId(r.try_get("id")?),
        spec: NewIntelImport {
            source_id: IntelSourceId(r.try_get("source_id")?),
            actor: r.try_get("actor")?,
            via: r.try_get("via")?,
            format: r.try_get("format")?,
            inserted: count(r, "inserted")?,
            updated: count(r, "updated")?,
            unchanged: count(r, "unchanged")?,
            rejected: count(r, "rejected")?,
            rejections,
            started_at: r.try_get::<_, Ts>("started_at")?.0,
        },
        finished_at: r.try_get::<_, Ts>("finished_at")?.0,
    })
}

const EDL_COLUMNS: &str = "name, description, filter, created_by, created_at, updated_at";

fn edl_from_row(r: &Row) -> Result<EdlList> {
    let Json(filter): Json<serde_json::Value> = r.try_get("filter")?;
    Ok(EdlList {
        spec: NewEdlList {
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            filter,
        },
        created_by: r.try_get("created_by")?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

impl PgStore {
    pub(crate) async fn update_intel_source_impl(
        &self,
        id: IntelSourceId,
        patch: IntelSourcePatch,
    ) -> Result<Option<IntelSource>> {
        patch.validate()?;
        let set_tlp = patch.default_tlp.is_some();
        let set_desc = patch.description.is_some();
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "UPDATE intel_sources SET enabled = COALESCE($2, enabled),
                         trust = COALESCE($3, trust),
                         default_tlp = CASE WHEN $4 THEN $5 ELSE default_tlp END,
                         description = CASE WHEN $6 THEN $7 ELSE description END,
                         updated_at = $8
                     WHERE id = $1 RETURNING {SOURCE_COLUMNS}"
                ),
                &[
                    &id.0,
                    &patch.enabled,
                    &patch.trust.map(i16::from),
                    &set_tlp,
                    &patch.default_tlp.flatten(),
                    &set_desc,
                    &patch.description.flatten(),
                    &Ts(now()),
                ],
            )
            .await?
            .as_ref()
            .map(source_from_row)
            .transpose()
    }

    pub(crate) async fn intel_source_counts_impl(&self) -> Result<Vec<IntelSourceCounts>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT source_id, count(*) AS total,
                     count(*) FILTER (WHERE NOT revoked AND revoked_at IS NULL
                         AND (valid_until IS NULL OR valid_until > $1)) AS active
                 FROM indicators GROUP BY source_id",
                &[&Ts(now())],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(IntelSourceCounts {
                    source_id: IntelSourceId(r.try_get("source_id")?),
                    total: count(r, "total")?,
                    active: count(r, "active")?,
                })
            })
            .collect()
    }

    pub(crate) async fn record_intel_import_impl(
        &self,
        mut spec: NewIntelImport,
    ) -> Result<IntelImport> {
        spec.validate()?;
        spec.rejections.truncate(MAX_IMPORT_REJECTIONS);
        spec.started_at = micros(spec.started_at);
        let rec = IntelImport {
            id: IntelImportId::new(),
            spec,
            finished_at: now(),
        };
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO intel_imports ({IMPORT_COLUMNS})
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
                     WHERE EXISTS (SELECT 1 FROM intel_sources WHERE id = $2)"
                ),
                &[
                    &rec.id.0,
                    &rec.spec.source_id.0,
                    &rec.spec.actor,
                    &rec.spec.via,
                    &rec.spec.format,
                    &signed(rec.spec.inserted),
                    &signed(rec.spec.updated),
                    &signed(rec.spec.unchanged),
                    &signed(rec.spec.rejected),
                    &Json(&rec.spec.rejections),
                    &Ts(rec.spec.started_at),
                    &Ts(rec.finished_at),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::MissingReference(format!(
                "intel source {}",
                rec.spec.source_id
            )));
        }
        Ok(rec)
    }

    pub(crate) async fn list_intel_imports_impl(
        &self,
        source_id: Option<IntelSourceId>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<IntelImport>> {
        let limit = page_size(limit);
        let mut query = Query::new(&format!("SELECT {IMPORT_COLUMNS} FROM intel_imports"));
        if let Some(s) = source_id {
            query.eq("source_id", s.0);
        }
        if let Some(c) = &cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(finished_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY finished_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(import_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |i| Cursor {
            micros: i.finished_at.as_microsecond(),
            key: i.id.to_string(),
        }))
    }

    pub(crate) async fn get_intel_import_impl(
        &self,
        id: IntelImportId,
    ) -> Result<Option<IntelImport>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {IMPORT_COLUMNS} FROM intel_imports WHERE id = $1"),
                &[&id.0],
            )
            .await?
            .as_ref()
            .map(import_from_row)
            .transpose()
    }

    pub(crate) async fn put_edl_list_impl(&self, spec: NewEdlList, actor: &str) -> Result<EdlList> {
        spec.validate()?;
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO intel_edl_lists ({EDL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5)
                     ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
                         filter = EXCLUDED.filter, updated_at = EXCLUDED.updated_at
                     RETURNING {EDL_COLUMNS}"
                ),
                &[
                    &spec.name,
                    &spec.description,
                    &Json(&spec.filter),
                    &actor,
                    &Ts(now()),
                ],
            )
            .await?;
        edl_from_row(&row)
    }

    pub(crate) async fn list_edl_lists_impl(&self) -> Result<Vec<EdlList>> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {EDL_COLUMNS} FROM intel_edl_lists ORDER BY name"),
                &[],
            )
            .await?
            .iter()
            .map(edl_from_row)
            .collect()
    }

    pub(crate) async fn get_edl_list_impl(&self, name: &str) -> Result<Option<EdlList>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {EDL_COLUMNS} FROM intel_edl_lists WHERE name = $1"),
                &[&name],
            )
            .await?
            .as_ref()
            .map(edl_from_row)
            .transpose()
    }

    pub(crate) async fn delete_edl_list_impl(&self, name: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM intel_edl_lists WHERE name = $1", &[&name])
            .await?;
        Ok(n > 0)
    }
}
