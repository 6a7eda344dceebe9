//! Intelligence sources, indicators and sightings.

use super::directory::org_visible;
use super::sql::{
    Filter, get_json, get_opt_ts, get_opt_uuid, get_ts, get_uuid, page, text, to_json, us,
    uuid_cursor,
};
use crate::intel::{
    EdlList, IndicatorId, IndicatorQuery, IndicatorState, IntelImport, IntelImportId, IntelSource,
    IntelSourceCounts, IntelSourceId, IntelSourcePatch, MAX_IMPORT_REJECTIONS, MAX_MATCH_PAGE,
    MatchIndicator, NewEdlList, NewIndicator, NewIntelImport, NewIntelSource, NewSighting,
    Sighting, SightingId, SightingQuery, StoredIndicator, UpsertCounts,
};
use crate::{Cursor, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{AlertId, OrgId, Page, Scope, Timestamp};

const SOURCE_COLUMNS: &str =
    "id, name, kind, url, enabled, trust, created_at, updated_at, default_tlp, description";

fn source_from_row(row: &Row<'_>) -> rusqlite::Result<IntelSource> {
    Ok(IntelSource {
        id: IntelSourceId(get_uuid(row, 0)?),
        spec: NewIntelSource {
            name: row.get(1)?,
            kind: row.get(2)?,
            url: row.get(3)?,
            enabled: row.get(4)?,
            trust: row.get(5)?,
        },
        created_at: get_ts(row, 6)?,
        updated_at: get_ts(row, 7)?,
        default_tlp: row.get(8)?,
        description: row.get(9)?,
    })
}

pub(crate) fn upsert_source(
    conn: &Connection,
    spec: NewIntelSource,
    now: Timestamp,
) -> Result<IntelSource> {
    conn.prepare_cached(
        "INSERT INTO intel_sources (id, name, kind, url, enabled, trust, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url,
             enabled = excluded.enabled, trust = excluded.trust, updated_at = excluded.updated_at",
    )?
    .execute(params![
        IntelSourceId::new().to_string(),
        spec.name,
        spec.kind,
        spec.url,
        spec.enabled,
        spec.trust,
        us(now),
    ])?;
    conn.prepare_cached(&format!(
        "SELECT {SOURCE_COLUMNS} FROM intel_sources WHERE name = ?1"
    ))?
    .query_row([&spec.name], source_from_row)
    .map_err(Into::into)
}

pub(crate) fn get_source(conn: &Connection, id: IntelSourceId) -> Result<Option<IntelSource>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SOURCE_COLUMNS} FROM intel_sources WHERE id = ?1"
        ))?
        .query_row([id.to_string()], source_from_row)
        .optional()?)
}

pub(crate) fn list_sources(conn: &Connection) -> Result<Vec<IntelSource>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SOURCE_COLUMNS} FROM intel_sources ORDER BY name"
    ))?;
    let rows = stmt
        .query_map([], source_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

const INDICATOR_COLUMNS: &str = "id, source_id, stix_id, kind, value, all_values, pattern, name, \
    description, confidence, tlp, valid_from, valid_until, labels, kill_chain, attack_ids, \
    modified, revoked, object, first_seen, last_seen, date_added, revoked_at";

fn indicator_from_row(row: &Row<'_>) -> rusqlite::Result<StoredIndicator> {
    Ok(StoredIndicator {
        id: IndicatorId(get_uuid(row, 0)?),
        spec: NewIndicator {
            source_id: IntelSourceId(get_uuid(row, 1)?),
            stix_id: row.get(2)?,
            kind: row.get(3)?,
            value: row.get(4)?,
            values: get_json(row, 5)?,
            pattern: row.get(6)?,
            name: row.get(7)?,
            description: row.get(8)?,
            confidence: row.get(9)?,
            tlp: row.get(10)?,
            valid_from: get_opt_ts(row, 11)?,
            valid_until: get_opt_ts(row, 12)?,
            labels: get_json(row, 13)?,
            kill_chain: get_json(row, 14)?,
            attack_ids: get_json(row, 15)?,
            modified: get_ts(row, 16)?,
            revoked: row.get(17)?,
            object: get_json(row, 18)?,
        },
        first_seen: get_ts(row, 19)?,
        last_seen: get_ts(row, 20)?,
        date_added: get_ts(row, 21)?,
        revoked_at: get_opt_ts(row, 22)?,
    })
}

pub(crate) fn upsert_indicators(
    conn: &Connection,
    items: Vec<NewIndicator>,
    now: Timestamp,
) -> Result<UpsertCounts> {
    let mut counts = UpsertCounts::default();
    let mut known_sources: Vec<IntelSourceId> = Vec::new();
    // Each stored version gets its own `date_added`, strictly after every earlier one, so
    // that TAXII clients paging with `added_after` (taxii2-client, OpenCTI) lose nothing
    // when one batch stores many indicators.
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(date_added) FROM indicators")?
        .query_row([], |r| r.get(0))?;
    let mut next = us(now).max(last.map_or(i64::MIN, |l| l + 1));
    for mut spec in items {
        spec.validate()?;
        if !known_sources.contains(&spec.source_id) {
            if get_source(conn, spec.source_id)?.is_none() {
                return Err(StoreError::MissingReference(format!(
                    "intel source {}",
                    spec.source_id
                )));
            }
            known_sources.push(spec.source_id);
        }
        spec.modified = super::sql::truncate(spec.modified);
        spec.valid_from = spec.valid_from.map(super::sql::truncate);
        spec.valid_until = spec.valid_until.map(super::sql::truncate);
        let existing: Option<(String, i64)> = conn
            .prepare_cached(
                "SELECT id, modified FROM indicators WHERE source_id = ?1 AND stix_id = ?2",
            )?
            .query_row(params![spec.source_id.to_string(), spec.stix_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let id = match existing {
            Some((id, modified)) if modified >= us(spec.modified) => {
                conn.prepare_cached("UPDATE indicators SET last_seen = ?2 WHERE id = ?1")?
                    .execute(params![id, us(now)])?;
                counts.unchanged += 1;
                continue;
            }
            Some((id, _)) => {
                // The version replaced stays retrievable (TAXII versions), with its own
                // date_added.
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO indicator_versions
                         (indicator_id, source_id, stix_id, modified, date_added, object)
                     SELECT id, source_id, stix_id, modified, date_added, object
                     FROM indicators WHERE id = ?1",
                )?
                .execute([&id])?;
                conn.prepare_cached(
                    "UPDATE indicators SET kind = ?2, value = ?3, all_values = ?4, pattern = ?5,
                         name = ?6, description = ?7, confidence = ?8, tlp = ?9,
                         valid_from = ?10, valid_until = ?11, labels = ?12, kill_chain = ?13,
                         attack_ids = ?14, modified = ?15, revoked = ?16, object = ?17,
                         last_seen = ?18, date_added = ?19
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    spec.kind,
                    spec.value,
                    to_json(&spec.values)?,
                    spec.pattern,
                    spec.name,
                    spec.description,
                    spec.confidence,
                    spec.tlp,
                    spec.valid_from.map(us),
                    spec.valid_until.map(us),
                    to_json(&spec.labels)?,
                    to_json(&spec.kill_chain)?,
                    to_json(&spec.attack_ids)?,
                    us(spec.modified),
                    spec.revoked,
                    to_json(&spec.object)?,
                    us(now),
                    next,
                ])?;
                next += 1;
                conn.prepare_cached("DELETE FROM indicator_values WHERE indicator_id = ?1")?
                    .execute([&id])?;
                counts.updated += 1;
                id
            }
            None => {
                let id = IndicatorId::new().to_string();
                conn.prepare_cached(&format!(
                    "INSERT INTO indicators ({INDICATOR_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                             ?16, ?17, ?18, ?19, ?20, ?20, ?21, NULL)"
                ))?
                .execute(params![
                    id,
                    spec.source_id.to_string(),
                    spec.stix_id,
                    spec.kind,
                    spec.value,
                    to_json(&spec.values)?,
                    spec.pattern,
                    spec.name,
                    spec.description,
                    spec.confidence,
                    spec.tlp,
                    spec.valid_from.map(us),
                    spec.valid_until.map(us),
                    to_json(&spec.labels)?,
                    to_json(&spec.kill_chain)?,
                    to_json(&spec.attack_ids)?,
                    us(spec.modified),
                    spec.revoked,
                    to_json(&spec.object)?,
                    us(now),
                    next,
                ])?;
                next += 1;
                counts.inserted += 1;
                id
            }
        };
        let mut ins = conn.prepare_cached(
            "INSERT OR IGNORE INTO indicator_values (indicator_id, value) VALUES (?1, ?2)",
        )?;
        for v in spec.plain_values() {
            ins.execute(params![id, v])?;
        }
    }
    Ok(counts)
}

pub(crate) fn get_indicator(conn: &Connection, id: IndicatorId) -> Result<Option<StoredIndicator>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ?1"
        ))?
        .query_row([id.to_string()], indicator_from_row)
        .optional()?)
}

pub(crate) fn list_indicators(
    conn: &Connection,
    q: &IndicatorQuery,
) -> Result<Page<StoredIndicator>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    if let Some(s) = q.source_id {
        f.and("source_id = ?", [text(s)]);
    }
    if let Some(k) = &q.kind {
        f.and("kind = ?", [text(k)]);
    }
    if let Some(v) = &q.value {
        f.and(
            "id IN (SELECT indicator_id FROM indicator_values WHERE value = ?)",
            [text(v)],
        );
    }
    if let Some(s) = &q.stix_id {
        f.and("stix_id = ?", [text(s)]);
    }
    if let Some(t) = &q.text {
        let pat = format!("%{}%", like_escape(&t.to_lowercase()));
        f.and(
            "(lower(coalesce(value, '')) LIKE ? ESCAPE '\\' \
              OR lower(coalesce(name, '')) LIKE ? ESCAPE '\\' \
              OR lower(coalesce(pattern, '')) LIKE ? ESCAPE '\\')",
            [text(&pat), text(&pat), text(&pat)],
        );
    }
    let revoked = "(revoked = 1 OR revoked_at IS NOT NULL)";
    if !q.include_revoked && q.state != Some(IndicatorState::Revoked) {
        f.and("revoked = 0 AND revoked_at IS NULL", []);
    }
    if let Some(t) = q.added_after {
        f.and("date_added > ?", [Value::Integer(us(t))]);
    }
    if let Some(t) = &q.tlp {
        f.and("tlp = ?", [text(t)]);
    }
    for t in &q.tlp_exclude {
        f.and("(tlp IS NULL OR tlp <> ?)", [text(t)]);
    }
    if let Some(c) = q.min_confidence {
        f.and("confidence >= ?", [Value::Integer(i64::from(c))]);
    }
    if let Some(c) = q.max_confidence {
        f.and("confidence <= ?", [Value::Integer(i64::from(c))]);
    }
    if let Some(l) = &q.label {
        f.and(
            "EXISTS (SELECT 1 FROM json_each(indicators.labels) AS l WHERE l.value = ?)",
            [text(l)],
        );
    }
    if !q.kinds.is_empty() {
        // The first value's kind, or any value's (a pattern's values may be of several).
        let marks = vec!["?"; q.kinds.len()].join(", ");
        f.and(
            &format!(
                "(kind IN ({marks}) OR EXISTS (SELECT 1 FROM json_each(indicators.all_values) AS v \
                 WHERE substr(v.value, 1, instr(v.value, ':') - 1) IN ({marks})))"
            ),
            q.kinds.iter().chain(q.kinds.iter()).map(text),
        );
    }
    if let Some(state) = q.state {
        let now = Value::Integer(us(q.now.unwrap_or_else(super::sql::now)));
        match state {
            IndicatorState::Active => f.and(
                &format!("NOT {revoked} AND (valid_until IS NULL OR valid_until > ?)"),
                [now],
            ),
            IndicatorState::Expired => f.and(
                &format!("NOT {revoked} AND valid_until IS NOT NULL AND valid_until <= ?"),
                [now],
            ),
            IndicatorState::Revoked => f.and(revoked, []),
        };
    }
    if q.enabled_sources_only {
        f.and(
            "source_id IN (SELECT id FROM intel_sources WHERE enabled = 1)",
            [],
        );
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        if q.oldest_first {
            f.and(
                "(date_added > ? OR (date_added = ? AND id > ?))",
                [Value::Integer(micros), Value::Integer(micros), key],
            );
        } else {
            f.before("date_added", "id", micros, key);
        }
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let order = if q.oldest_first { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators{} ORDER BY date_added {order}, id {order} \
         LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), indicator_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |i: &StoredIndicator| Cursor {
        micros: us(i.date_added),
        key: i.id.to_string(),
    }))
}

/// See [`crate::Store::indicators_for_matching`]: only the columns the matcher needs, in
/// primary-key order after `after`. The `+` keeps the planner off the `(source_id, stix_id)`
/// index, which would sort the whole table for every page (quadratic: 42 s for 1 M).
pub(crate) fn indicators_for_matching(
    conn: &Connection,
    after: Option<IndicatorId>,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<MatchIndicator>> {
    let limit = limit.clamp(1, MAX_MATCH_PAGE);
    let mut stmt = conn.prepare_cached(
        "SELECT id, source_id, kind, value, all_values, pattern, name, description, confidence,
                tlp, valid_from, valid_until, labels, kill_chain, attack_ids
         FROM indicators
         WHERE id > ?1 AND revoked = 0 AND revoked_at IS NULL
           AND (valid_until IS NULL OR valid_until > ?2)
           AND +source_id IN (SELECT id FROM intel_sources WHERE enabled = 1)
         ORDER BY id LIMIT ?3",
    )?;
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    let rows = stmt
        .query_map(params![after, us(now), limit as i64], |row| {
            Ok(MatchIndicator {
                id: IndicatorId(get_uuid(row, 0)?),
                source_id: IntelSourceId(get_uuid(row, 1)?),
                kind: row.get(2)?,
                value: row.get(3)?,
                values: get_json(row, 4)?,
                pattern: row.get(5)?,
                name: row.get(6)?,
                description: row.get(7)?,
                confidence: row.get(8)?,
                tlp: row.get(9)?,
                valid_from: get_opt_ts(row, 10)?,
                valid_until: get_opt_ts(row, 11)?,
                labels: get_json(row, 12)?,
                kill_chain: get_json(row, 13)?,
                attack_ids: get_json(row, 14)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// `s` with `\`, `%` and `_` escaped for `LIKE ... ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn revoke_indicator(
    conn: &Connection,
    id: IndicatorId,
    now: Timestamp,
) -> Result<Option<StoredIndicator>> {
    conn.prepare_cached(
        "UPDATE indicators SET revoked_at = coalesce(revoked_at, ?2), date_added = ?2
         WHERE id = ?1",
    )?
    .execute(params![id.to_string(), us(now)])?;
    get_indicator(conn, id)
}

pub(crate) fn delete_indicator(conn: &Connection, id: IndicatorId) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM indicators WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(n > 0)
}

const SIGHTING_COLUMNS: &str =
    "id, indicator_id, org_id, event_id, alert_id, seen_at, count, created_at";

fn sighting_from_row(row: &Row<'_>) -> rusqlite::Result<Sighting> {
    Ok(Sighting {
        id: SightingId(get_uuid(row, 0)?),
        spec: NewSighting {
            indicator_id: IndicatorId(get_uuid(row, 1)?),
            org_id: OrgId(get_uuid(row, 2)?),
            event_id: row.get(3)?,
            alert_id: get_opt_uuid(row, 4)?.map(AlertId),
            seen_at: get_ts(row, 5)?,
            count: row.get(6)?,
        },
        created_at: get_ts(row, 7)?,
    })
}

pub(crate) fn record_sightings(
    conn: &Connection,
    scope: Scope,
    items: Vec<NewSighting>,
    now: Timestamp,
) -> Result<Vec<Sighting>> {
    let mut out = Vec::with_capacity(items.len());
    let mut orgs_ok: Vec<OrgId> = Vec::new();
    for mut spec in items {
        if !orgs_ok.contains(&spec.org_id) {
            if !org_visible(conn, scope, spec.org_id)? {
                return Err(StoreError::MissingReference(format!(
                    "organization {}",
                    spec.org_id
                )));
            }
            orgs_ok.push(spec.org_id);
        }
        if get_indicator(conn, spec.indicator_id)?.is_none() {
            return Err(StoreError::MissingReference(format!(
                "indicator {}",
                spec.indicator_id
            )));
        }
        spec.seen_at = super::sql::truncate(spec.seen_at);
        let s = Sighting {
            id: SightingId::new(),
            spec,
            created_at: now,
        };
        conn.prepare_cached(&format!(
            "INSERT INTO sightings ({SIGHTING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))?
        .execute(params![
            s.id.to_string(),
            s.spec.indicator_id.to_string(),
            s.spec.org_id.to_string(),
            s.spec.event_id,
            s.spec.alert_id.map(|a| a.to_string()),
            us(s.spec.seen_at),
            s.spec.count,
            us(now),
        ])?;
        out.push(s);
    }
    Ok(out)
}

pub(crate) fn list_sightings(
    conn: &Connection,
    scope: Scope,
    q: &SightingQuery,
) -> Result<Page<Sighting>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(i) = q.indicator_id {
        f.and("indicator_id = ?", [text(i)]);
    }
    if let Some(t) = q.from {
        f.and("seen_at >= ?", [Value::Integer(us(t))]);
    }
    if let Some(t) = q.to {
        f.and("seen_at < ?", [Value::Integer(us(t))]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("seen_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {SIGHTING_COLUMNS} FROM sightings{} ORDER BY seen_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), sighting_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |s: &Sighting| Cursor {
        micros: us(s.spec.seen_at),
        key: s.id.to_string(),
    }))
}

pub(crate) fn update_source(
    conn: &Connection,
    id: IntelSourceId,
    patch: IntelSourcePatch,
    now: Timestamp,
) -> Result<Option<IntelSource>> {
    patch.validate()?;
    let Some(cur) = get_source(conn, id)? else {
        return Ok(None);
    };
    conn.prepare_cached(
        "UPDATE intel_sources SET enabled = ?2, trust = ?3, default_tlp = ?4, description = ?5,
             updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        id.to_string(),
        patch.enabled.unwrap_or(cur.spec.enabled),
        patch.trust.unwrap_or(cur.spec.trust),
        patch.default_tlp.unwrap_or(cur.default_tlp),
        patch.description.unwrap_or(cur.description),
        us(now),
    ])?;
    get_source(conn, id)
}

pub(crate) fn source_counts(conn: &Connection, now: Timestamp) -> Result<Vec<IntelSourceCounts>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source_id, count(*),
             sum(CASE WHEN revoked = 0 AND revoked_at IS NULL
                       AND (valid_until IS NULL OR valid_until > ?1) THEN 1 ELSE 0 END)
         FROM indicators GROUP BY source_id",
    )?;
    let rows = stmt
        .query_map([us(now)], |r| {
            Ok(IntelSourceCounts {
                source_id: IntelSourceId(get_uuid(r, 0)?),
                total: r.get::<_, i64>(1)?.max(0) as u64,
                active: r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

const IMPORT_COLUMNS: &str = "id, source_id, actor, via, format, inserted, updated, unchanged, \
    rejected, rejections, started_at, finished_at";

fn count(v: i64) -> u64 {
    v.max(0) as u64
}

fn import_from_row(row: &Row<'_>) -> rusqlite::Result<IntelImport> {
    Ok(IntelImport {
        id: IntelImportId(get_uuid(row, 0)?),
        spec: NewIntelImport {
            source_id: IntelSourceId(get_uuid(row, 1)?),
            actor: row.get(2)?,
            via: row.get(3)?,
            format: row.get(4)?,
            inserted: count(row.get(5)?),
            updated: count(row.get(6)?),
            unchanged: count(row.get(7)?),
            rejected: count(row.get(8)?),
            rejections: get_json(row, 9)?,
            started_at: get_ts(row, 10)?,
        },
        finished_at: get_ts(row, 11)?,
    })
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn record_import(
    conn: &Connection,
    mut spec: NewIntelImport,
    now: Timestamp,
) -> Result<IntelImport> {
    spec.validate()?;
    if get_source(conn, spec.source_id)?.is_none() {
        return Err(StoreError::MissingReference(format!(
            "intel source {}",
            spec.source_id
        )));
    }
    spec.rejections.truncate(MAX_IMPORT_REJECTIONS);
    spec.started_at = super::sql::truncate(spec.started_at);
    let rec = IntelImport {
        id: IntelImportId::new(),
        spec,
        finished_at: super::sql::truncate(now),
    };
    conn.prepare_cached(&format!(
        "INSERT INTO intel_imports ({IMPORT_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(params![
        rec.id.to_string(),
        rec.spec.source_id.to_string(),
        rec.spec.actor,
        rec.spec.via,
        rec.spec.format,
        signed(rec.spec.inserted),
        signed(rec.spec.updated),
        signed(rec.spec.unchanged),
        signed(rec.spec.rejected),
        to_json(&rec.spec.rejections)?,
        us(rec.spec.started_at),
        us(rec.finished_at),
    ])?;
    Ok(rec)
}

pub(crate) fn list_imports(
    conn: &Connection,
    source_id: Option<IntelSourceId>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<IntelImport>> {
    let limit = page_size(limit);
    let mut f = Filter::default();
    if let Some(s) = source_id {
        f.and("source_id = ?", [text(s)]);
    }
    if let Some(c) = cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("finished_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {IMPORT_COLUMNS} FROM intel_imports{} ORDER BY finished_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), import_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |i: &IntelImport| Cursor {
        micros: us(i.finished_at),
        key: i.id.to_string(),
    }))
}

pub(crate) fn get_import(conn: &Connection, id: IntelImportId) -> Result<Option<IntelImport>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {IMPORT_COLUMNS} FROM intel_imports WHERE id = ?1"
        ))?
        .query_row([id.to_string()], import_from_row)
        .optional()?)
}

const EDL_COLUMNS: &str = "name, description, filter, created_by, created_at, updated_at";

fn edl_from_row(row: &Row<'_>) -> rusqlite::Result<EdlList> {
    Ok(EdlList {
        spec: NewEdlList {
            name: row.get(0)?,
            description: row.get(1)?,
            filter: get_json(row, 2)?,
        },
        created_by: row.get(3)?,
        created_at: get_ts(row, 4)?,
        updated_at: get_ts(row, 5)?,
    })
}

pub(crate) fn put_edl(
    conn: &Connection,
    spec: NewEdlList,
    actor: &str,
    now: Timestamp,
) -> Result<EdlList> {
    spec.validate()?;
    conn.prepare_cached(&format!(
        "INSERT INTO intel_edl_lists ({EDL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (name) DO UPDATE SET description = excluded.description,
             filter = excluded.filter, updated_at = excluded.updated_at"
    ))?
    .execute(params![
        spec.name,
        spec.description,
        to_json(&spec.filter)?,
        actor,
        us(now)
    ])?;
    get_edl(conn, &spec.name)?
        .ok_or_else(|| StoreError::MissingReference(format!("edl list {}", spec.name)))
}

pub(crate) fn list_edl(conn: &Connection) -> Result<Vec<EdlList>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EDL_COLUMNS} FROM intel_edl_lists ORDER BY name"
    ))?;
    let rows = stmt
        .query_map([], edl_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn get_edl(conn: &Connection, name: &str) -> Result<Option<EdlList>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {EDL_COLUMNS} FROM intel_edl_lists WHERE name = ?1"
        ))?
        .query_row([name], edl_from_row)
        .optional()?)
}

pub(crate) fn delete_edl(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM intel_edl_lists WHERE name = ?1")?
        .execute([name])?
        > 0)
}
