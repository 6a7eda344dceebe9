//! Events: the hot path.
//!
//! Events live in compressed chunks with chunk-level postings for the twelve
//! [`INDEXED_FIELDS`] and the asset (see [`super::chunk`] for why and for the format). The
//! caller's thread encodes and compresses a batch; the writer thread only assigns ids and
//! inserts one `event_chunks` row and one `event_terms` row per distinct indexed value of
//! each chunk, all at the right-hand end of their B-trees.
//!
//! Ids are allocated from `event_seq`, contiguous within a chunk (`first_id ..
//! first_id + count`), never reused. Retention deletes whole chunks, or marks single events
//! deleted in the chunk's `deleted` positions (and narrows its `ts_min`) when a chunk
//! straddles the cutoff.
//!
//! Search walks the candidate chunks newest first (`ts_max` descending), narrows each chunk's
//! positions with the postings, the times and the deleted set, decompresses the body only
//! when a non-indexed filter or the free text needs it, and keeps the best `limit + 1` by
//! `(ts, id)`; it stops as soon as no remaining chunk can beat the page.

use super::chunk::{self, ASSET_FIELD, Bits, Body, CHUNK_MAX, EncodedBatch, EncodedChunk};
use super::directory::org_visible;
use super::sql::{Filter, col_err, get_uuid, page, text, us};
use crate::{Cursor, EventQuery, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use vigil_model::{
    AssetId, Event, EventId, INDEXED_FIELDS, NewEvent, OrgId, Page, Provenance, Scope, Timestamp,
};

/// Events deleted per writer job by retention, so appends are not held up behind one huge
/// delete.
pub(crate) const DELETE_CHUNK: i64 = 20_000;

/// Appends encoded chunks in the current (writer) transaction; ids come back in the input
/// order of the batch.
pub(crate) fn append(conn: &Connection, batch: &EncodedBatch) -> Result<Vec<EventId>> {
    // One existence check per organization of the batch instead of a foreign key per row.
    let mut checked: Vec<OrgId> = Vec::new();
    for c in &batch.chunks {
        if !checked.contains(&c.org_id) {
            if !org_visible(conn, Scope::All, c.org_id)? {
                return Err(StoreError::MissingReference(format!(
                    "organization {}",
                    c.org_id
                )));
            }
            checked.push(c.org_id);
        }
    }
    let mut next: i64 = conn
        .prepare_cached("SELECT next_id FROM event_seq WHERE one = 1")?
        .query_row([], |r| r.get(0))?;
    let mut firsts = Vec::with_capacity(batch.chunks.len());
    for c in &batch.chunks {
        insert_chunk(conn, next, c)?;
        firsts.push(next);
        next += c.count as i64;
    }
    conn.prepare_cached("UPDATE event_seq SET next_id = ?1 WHERE one = 1")?
        .execute([next])?;
    Ok(batch
        .placement
        .iter()
        .map(|&(c, pos)| firsts.get(c).copied().unwrap_or_default() + pos as i64)
        .collect())
}

fn insert_chunk(conn: &Connection, first_id: i64, c: &EncodedChunk) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO event_chunks (first_id, org_id, count, live, ts_min, ts_max, ts, deleted, body)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, NULL, ?7)",
    )?
    .execute(params![
        first_id,
        c.org_id.to_string(),
        c.count as i64,
        c.ts_min,
        c.ts_max,
        c.ts,
        c.body
    ])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO event_terms (chunk, field, value, positions) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (field, value, positions) in &c.terms {
        stmt.execute(params![first_id, field, value, positions])?;
    }
    Ok(())
}

/// Converts the events of the one-row-per-event schema (V1, V2) into chunks, keeping their
/// ids: runs of consecutive ids of one organization become one chunk each.
pub(crate) fn convert_legacy(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT id, org_id, asset_id, ts, received_at, input, sender, fields, native, raw
         FROM events ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut run: Vec<NewEvent> = Vec::new();
    let mut run_first = 0i64;
    let mut converted = 0u64;
    let flush = |run: &mut Vec<NewEvent>, first: i64| -> Result<()> {
        if let Some(org) = run.first().map(|e| e.org_id) {
            let refs: Vec<&NewEvent> = run.iter().collect();
            let c = chunk::encode_chunk(org, &refs)?;
            insert_chunk(conn, first, &c)?;
            run.clear();
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let fields: String = row.get(7)?;
        let native: Option<String> = row.get(8)?;
        let ts = |i: usize| -> rusqlite::Result<Timestamp> {
            let us: i64 = row.get(i)?;
            Timestamp::from_microsecond(us).map_err(|e| col_err(i, e.to_string()))
        };
        let e = NewEvent {
            org_id: OrgId(get_uuid(row, 1)?),
            asset_id: row
                .get::<_, Option<String>>(2)?
                .map(|s| uuid::Uuid::parse_str(&s).map_err(|e| col_err(2, e.to_string())))
                .transpose()?
                .map(AssetId),
            timestamp: ts(3)?,
            received_at: ts(4)?,
            provenance: Provenance {
                input: row.get(5)?,
                sender: row.get(6)?,
            },
            fields: serde_json::from_str(&fields)
                .map_err(|e| col_err(7, format!("bad fields json: {e}")))?,
            native: match native {
                None => BTreeMap::new(),
                Some(s) => serde_json::from_str(&s)
                    .map_err(|e| col_err(8, format!("bad native json: {e}")))?,
            },
            raw: row.get(9)?,
        };
        let continues = run.last().is_some_and(|last| last.org_id == e.org_id)
            && run_first + run.len() as i64 == id
            && run.len() < CHUNK_MAX;
        if !continues {
            flush(&mut run, run_first)?;
            run_first = id;
        }
        run.push(e);
        converted += 1;
    }
    flush(&mut run, run_first)?;
    Ok(converted)
}

/// The chunk holding `id`, if any: (first id, organization, count, times, deleted).
struct Located {
    first_id: i64,
    org: OrgId,
    count: usize,
    ts: Vec<i64>,
    deleted: Option<Bits>,
    /// The body, when the search already decompressed it for filtering.
    body: Option<Body>,
}

/// Decompressed bodies a search keeps between filtering and building the page.
const BODY_CACHE_BYTES: usize = 64 << 20;

fn deleted_of(b: Option<Vec<u8>>, count: usize) -> Result<Option<Bits>> {
    b.map(|b| chunk::decode_positions(&b, count)).transpose()
}

pub(crate) fn get(conn: &Connection, scope: Scope, id: EventId) -> Result<Option<Event>> {
    let found = conn
        .prepare_cached(
            "SELECT first_id, org_id, count, ts, deleted FROM event_chunks
             WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                OrgId(get_uuid(r, 1)?),
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
            ))
        })
        .optional()?;
    let Some((first_id, org, count, ts, deleted)) = found else {
        return Ok(None);
    };
    let count = usize::try_from(count).unwrap_or(0);
    let pos = usize::try_from(id - first_id).unwrap_or(usize::MAX);
    if pos >= count || !scope.allows_org(org) {
        return Ok(None);
    }
    let loc = Located {
        first_id,
        org,
        count,
        ts: chunk::decode_ts(&ts, count)?,
        deleted: deleted_of(deleted, count)?,
        body: None,
    };
    if loc.deleted.as_ref().is_some_and(|d| d.has(pos)) {
        return Ok(None);
    }
    let body = load_body(conn, loc.first_id)?;
    Ok(Some(event_at(&body, &loc, pos)?))
}

fn load_body(conn: &Connection, first_id: i64) -> Result<Body> {
    let frame: Vec<u8> = conn
        .prepare_cached("SELECT body FROM event_chunks WHERE first_id = ?1")?
        .query_row([first_id], |r| r.get(0))?;
    Body::decompress(&frame)
}

fn event_at(body: &Body, loc: &Located, pos: usize) -> Result<Event> {
    if body.count() != loc.count {
        return Err(StoreError::Backend(format!(
            "corrupt event chunk {}: body holds {} events, the row says {}",
            loc.first_id,
            body.count(),
            loc.count
        )));
    }
    let ts = loc.ts.get(pos).copied().unwrap_or_default();
    Ok(Event {
        id: loc.first_id + pos as i64,
        event: body.record(pos)?.to_event(loc.org, ts)?,
    })
}

/// Case-insensitive substring test for free-text search: ASCII folding for ASCII needles
/// (on a reused buffer), full Unicode lowercase otherwise.
struct TextNeedle {
    lower: String,
    ascii: bool,
    buf: Vec<u8>,
}

impl TextNeedle {
    fn new(t: &str) -> Self {
        Self {
            lower: t.to_lowercase(),
            ascii: t.is_ascii(),
            buf: Vec::new(),
        }
    }

    fn found_in(&mut self, hay: &str) -> bool {
        if self.ascii {
            self.buf.clear();
            self.buf
                .extend(hay.as_bytes().iter().map(u8::to_ascii_lowercase));
            memchr::memmem::find(&self.buf, self.lower.as_bytes()).is_some()
        } else {
            hay.to_lowercase().contains(&self.lower)
        }
    }
}

pub(crate) fn search(conn: &Connection, scope: Scope, q: &EventQuery) -> Result<Page<Event>> {
    let limit = page_size(q.limit);
    let keep = limit + 1;
    let cursor = match &q.cursor {
        None => None,
        Some(c) => {
            let cur = Cursor::decode(c)?;
            let id: i64 = cur.key.parse().map_err(|_| {
                StoreError::BadCursor(format!("'{c}' is not a cursor this server issued"))
            })?;
            Some((cur.micros, id))
        }
    };
    let from = q.from.map(us);
    let to = q.to.map(us);
    // Postings to look up: (field number, value); the rest is checked on the body.
    let mut terms: Vec<(u8, &str)> = Vec::new();
    let mut body_filters: Vec<(&str, &str)> = Vec::new();
    for ff in &q.filters {
        match INDEXED_FIELDS.iter().position(|n| *n == ff.field) {
            Some(i) => terms.push((i as u8, ff.value.as_str())),
            None => body_filters.push((ff.field.as_str(), ff.value.as_str())),
        }
    }
    let asset = q.asset_id.map(|a| a.0.to_string());
    if let Some(a) = &asset {
        terms.push((ASSET_FIELD, a.as_str()));
    }
    let mut needle = q
        .text
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(TextNeedle::new);

    let mut f = Filter::default();
    f.and("live > 0", []).scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(from) = from {
        f.and("ts_max >= ?", [Value::Integer(from)]);
    }
    if let Some(to) = to {
        f.and("ts_min < ?", [Value::Integer(to)]);
    }
    if let Some((micros, _)) = cursor {
        f.and("ts_min <= ?", [Value::Integer(micros)]);
    }
    let sql = format!(
        "SELECT first_id, org_id, count, ts_max, ts, deleted FROM event_chunks{}
         ORDER BY ts_max DESC, first_id DESC",
        f.sql
    );
    let mut chunks = conn.prepare_cached(&sql)?;
    let mut rows = chunks.query(params_from_iter(f.params.iter()))?;
    let mut postings = conn.prepare_cached(
        "SELECT positions FROM event_terms WHERE chunk = ?1 AND field = ?2 AND value = ?3",
    )?;
    // The best `keep` so far, smallest on top: (ts, id, chunk index in `located`).
    let mut top: BinaryHeap<Reverse<(i64, i64, usize)>> = BinaryHeap::new();
    let mut located: Vec<Located> = Vec::new();
    let mut cached_bytes = 0usize;
    'chunks: while let Some(row) = rows.next()? {
        let first_id: i64 = row.get(0)?;
        let count = usize::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
        let ts_max: i64 = row.get(3)?;
        let last_id = first_id + count as i64 - 1;
        if top.len() >= keep
            && let Some(Reverse((t, id, _))) = top.peek()
            && (*t, *id) > (ts_max, last_id)
        {
            // Chunks come by descending (ts_max, id range): none left can enter the page.
            break;
        }
        let mut cand = Bits::full(count);
        for (field, value) in &terms {
            let p: Option<Vec<u8>> = postings
                .query_row(params![first_id, field, value], |r| r.get(0))
                .optional()?;
            match p {
                None => continue 'chunks,
                Some(p) => cand.and(&chunk::decode_positions(&p, count)?),
            }
        }
        if cand.is_empty() {
            continue;
        }
        let deleted = deleted_of(row.get(5)?, count)?;
        if let Some(d) = &deleted {
            cand.and_not(d);
        }
        let ts = chunk::decode_ts(&row.get::<_, Vec<u8>>(4)?, count)?;
        let floor = if top.len() >= keep {
            top.peek().map(|Reverse((t, id, _))| (*t, *id))
        } else {
            None
        };
        for pos in 0..count {
            if !cand.has(pos) {
                continue;
            }
            let key = (
                ts.get(pos).copied().unwrap_or_default(),
                first_id + pos as i64,
            );
            let ok = from.is_none_or(|f| key.0 >= f)
                && to.is_none_or(|t| key.0 < t)
                && cursor.is_none_or(|c| key < c)
                && floor.is_none_or(|fl| key > fl);
            if !ok {
                cand.clear(pos);
            }
        }
        if cand.is_empty() {
            continue;
        }
        let org = OrgId(get_uuid(row, 1)?);
        let mut loaded = None;
        if needle.is_some() || !body_filters.is_empty() {
            let body = load_body(conn, first_id)?;
            for pos in cand.iter().collect::<Vec<_>>() {
                let rec = body.record(pos)?;
                let mut ok = needle.as_mut().is_none_or(|n| n.found_in(rec.message));
                if ok && !body_filters.is_empty() {
                    let fields: BTreeMap<String, serde_json::Value> =
                        serde_json::from_str(rec.fields).map_err(|e| {
                            StoreError::Backend(format!(
                                "corrupt event {}: fields: {e}",
                                first_id + pos as i64
                            ))
                        })?;
                    ok = body_filters.iter().all(|(name, want)| {
                        fields
                            .get(*name)
                            .and_then(vigil_model::event::value_text)
                            .is_some_and(|v| v == *want)
                    });
                }
                if !ok {
                    cand.clear(pos);
                }
            }
            loaded = Some(body);
        }
        let idx = located.len();
        let mut used = false;
        for pos in cand.iter() {
            let key = (
                ts.get(pos).copied().unwrap_or_default(),
                first_id + pos as i64,
            );
            if top.len() < keep {
                top.push(Reverse((key.0, key.1, idx)));
                used = true;
            } else if top
                .peek()
                .is_some_and(|Reverse((t, id, _))| key > (*t, *id))
            {
                top.pop();
                top.push(Reverse((key.0, key.1, idx)));
                used = true;
            }
        }
        if used {
            let body = loaded.filter(|b| {
                cached_bytes += b.size();
                cached_bytes <= BODY_CACHE_BYTES
            });
            located.push(Located {
                first_id,
                org,
                count,
                ts,
                deleted: None,
                body,
            });
        }
    }
    drop(rows);
    // Newest first; decode each chunk's events with one decompression.
    let mut picked: Vec<(i64, i64, usize)> = top.into_iter().map(|Reverse(k)| k).collect();
    picked.sort_unstable_by_key(|k| Reverse((k.0, k.1)));
    let mut by_chunk: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, (_, _, c)) in picked.iter().enumerate() {
        by_chunk.entry(*c).or_default().push(i);
    }
    let mut items: Vec<Option<Event>> = (0..picked.len()).map(|_| None).collect();
    for (c, idxs) in by_chunk {
        let Some(loc) = located.get_mut(c) else {
            continue;
        };
        let body = match loc.body.take() {
            Some(b) => b,
            None => load_body(conn, loc.first_id)?,
        };
        for i in idxs {
            let pos = usize::try_from(picked[i].1 - loc.first_id).unwrap_or(usize::MAX);
            items[i] = Some(event_at(&body, loc, pos)?);
        }
    }
    let items: Vec<Event> = items.into_iter().flatten().collect();
    Ok(page(items, limit, |e: &Event| Cursor {
        micros: us(e.event.timestamp),
        key: e.id.to_string(),
    }))
}

/// Events with event time at or after `since` within `scope`, for the overview.
pub(crate) fn count_since(conn: &Connection, scope: Scope, since: i64) -> Result<i64> {
    let mut f = Filter::default();
    f.and("live > 0", [])
        .and("ts_max >= ?", [Value::Integer(since)])
        .scope(scope, "org_id");
    let sql = format!(
        "SELECT count, live, ts_min, ts, deleted FROM event_chunks{}",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(f.params.iter()))?;
    let mut n = 0i64;
    while let Some(row) = rows.next()? {
        let live: i64 = row.get(1)?;
        let ts_min: i64 = row.get(2)?;
        if ts_min >= since {
            n += live;
            continue;
        }
        let count = usize::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let ts = chunk::decode_ts(&row.get::<_, Vec<u8>>(3)?, count)?;
        let deleted = deleted_of(row.get(4)?, count)?;
        n += ts
            .iter()
            .enumerate()
            .filter(|(pos, t)| **t >= since && !deleted.as_ref().is_some_and(|d| d.has(*pos)))
            .count() as i64;
    }
    Ok(n)
}

/// Deletes every event of an organization.
pub(crate) fn delete_org(conn: &Connection, org: &str) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM event_terms WHERE chunk IN (SELECT first_id FROM event_chunks WHERE org_id = ?1)",
    )?
    .execute([org])?;
    conn.prepare_cached("DELETE FROM event_chunks WHERE org_id = ?1")?
        .execute([org])?;
    Ok(())
}

fn delete_chunk(conn: &Connection, first_id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM event_terms WHERE chunk = ?1")?
        .execute([first_id])?;
    conn.prepare_cached("DELETE FROM event_chunks WHERE first_id = ?1")?
        .execute([first_id])?;
    Ok(())
}

/// Deletes about [`DELETE_CHUNK`] events older than `cutoff` (whole chunks at a time);
/// returns how many went and whether older events may be left.
pub(crate) fn delete_chunk_before(conn: &Connection, cutoff: Timestamp) -> Result<(u64, bool)> {
    let cutoff = us(cutoff);
    let mut stmt = conn.prepare_cached(
        "SELECT first_id, count, live, ts_max, ts, deleted FROM event_chunks
         WHERE ts_min < ?1 ORDER BY ts_min LIMIT 64",
    )?;
    /// first id, count, live, ts_max, ts, deleted
    type Old = (i64, usize, i64, i64, Vec<u8>, Option<Vec<u8>>);
    let old: Vec<Old> = stmt
        .query_map([cutoff], |r| {
            Ok((
                r.get(0)?,
                usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut more = old.len() == 64;
    let mut n = 0u64;
    for (first_id, count, live, ts_max, ts, deleted) in old {
        if n >= DELETE_CHUNK as u64 {
            more = true;
            break;
        }
        if ts_max < cutoff {
            delete_chunk(conn, first_id)?;
            n += live.max(0) as u64;
            continue;
        }
        // The chunk straddles the cutoff: mark its old events deleted.
        let ts = chunk::decode_ts(&ts, count)?;
        let mut gone = deleted_of(deleted, count)?.unwrap_or_else(|| Bits::empty(count));
        let mut newly = 0i64;
        let mut ts_min = i64::MAX;
        for (pos, t) in ts.iter().enumerate() {
            if gone.has(pos) {
                continue;
            }
            if *t < cutoff {
                gone.set(pos);
                newly += 1;
            } else {
                ts_min = ts_min.min(*t);
            }
        }
        let left = live - newly;
        if left <= 0 {
            delete_chunk(conn, first_id)?;
        } else {
            conn.prepare_cached(
                "UPDATE event_chunks SET deleted = ?2, live = ?3, ts_min = ?4 WHERE first_id = ?1",
            )?
            .execute(params![first_id, gone.encode(), left, ts_min])?;
        }
        n += newly.max(0) as u64;
    }
    Ok((n, more))
}
