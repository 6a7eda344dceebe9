//! Stored STIX objects, every version (see [`crate::stix`]).

use super::sql::{Filter, get_json, get_opt_ts, get_ts, get_uuid, json_err, page, text, us};
use crate::intel::IntelSourceId;
use crate::stix::{
    MAX_OBJECT_BYTES, NewStixObject, StixObjectQuery, StixPutCounts, StixVersion, StoredStixObject,
};
use crate::{Cursor, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{Page, Timestamp};

const COLUMNS: &str = "stix_id, modified, type, spec_version, created, revoked, source_id, \
    date_added, latest, object";

fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredStixObject> {
    let source: Option<String> = row.get(6)?;
    Ok(StoredStixObject {
        spec: NewStixObject {
            stix_id: row.get(0)?,
            modified: get_ts(row, 1)?,
            ty: row.get(2)?,
            spec_version: row.get(3)?,
            created: get_opt_ts(row, 4)?,
            revoked: row.get(5)?,
            source_id: match source {
                Some(_) => Some(IntelSourceId(get_uuid(row, 6)?)),
                None => None,
            },
            object: get_json(row, 9)?,
        },
        date_added: get_ts(row, 7)?,
        latest: row.get(8)?,
    })
}

/// Stores the versions not stored yet, each with the next `date_added`; keeps `latest` on the
/// newest version of each object.
pub(crate) fn put(
    conn: &Connection,
    items: Vec<NewStixObject>,
    now: Timestamp,
) -> Result<StixPutCounts> {
    let mut counts = StixPutCounts::default();
    if items.is_empty() {
        return Ok(counts);
    }
    let mut sources: Vec<IntelSourceId> = Vec::new();
    for s in items.iter().filter_map(|i| i.source_id) {
        if !sources.contains(&s) {
            if super::intel::get_source(conn, s)?.is_none() {
                return Err(StoreError::MissingReference(format!("intel source {s}")));
            }
            sources.push(s);
        }
    }
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(date_added) FROM stix_objects")?
        .query_row([], |r| r.get(0))?;
    let mut next = us(now).max(last.map_or(i64::MIN, |l| l + 1));
    let mut newest =
        conn.prepare_cached("SELECT max(modified), count(*) FROM stix_objects WHERE stix_id = ?1")?;
    let mut exists =
        conn.prepare_cached("SELECT 1 FROM stix_objects WHERE stix_id = ?1 AND modified = ?2")?;
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO stix_objects ({COLUMNS}, name, name_lower, attack_id, source_ref,
             target_ref, relationship_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?;
    let mut demote = conn.prepare_cached(
        "UPDATE stix_objects SET latest = 0 WHERE stix_id = ?1 AND latest = 1 AND modified < ?2",
    )?;
    for spec in items {
        spec.validate()?;
        let modified = us(spec.modified);
        if exists
            .query_row(params![spec.stix_id, modified], |_| Ok(()))
            .optional()?
            .is_some()
        {
            counts.unchanged += 1;
            continue;
        }
        let object = serde_json::to_string(&spec.object).map_err(json_err)?;
        if object.len() > MAX_OBJECT_BYTES {
            return Err(StoreError::Invalid(vigil_model::ValidationError {
                field: "object".into(),
                message: format!("{} is larger than {MAX_OBJECT_BYTES} bytes", spec.stix_id),
            }));
        }
        let (max, n): (Option<i64>, i64) =
            newest.query_row([&spec.stix_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let latest = max.is_none_or(|m| modified > m);
        let name = spec.name().map(str::to_string);
        insert.execute(params![
            spec.stix_id,
            modified,
            spec.ty,
            spec.spec_version,
            spec.created.map(us),
            spec.revoked,
            spec.source_id.map(|s| s.to_string()),
            next,
            latest,
            object,
            name,
            name.as_deref().map(str::to_lowercase),
            spec.attack_id(),
            spec.source_ref(),
            spec.target_ref(),
            spec.relationship_type(),
        ])?;
        next += 1;
        if latest && n > 0 {
            demote.execute(params![spec.stix_id, modified])?;
        }
        if n == 0 {
            counts.inserted += 1;
        } else {
            counts.new_versions += 1;
        }
        *counts.by_type.entry(spec.ty).or_insert(0) += 1;
    }
    Ok(counts)
}

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

fn any_of(f: &mut Filter, col: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let marks = vec!["?"; values.len()].join(", ");
    f.and(&format!("{col} IN ({marks})"), values.iter().map(text));
}

pub(crate) fn list(conn: &Connection, q: &StixObjectQuery) -> Result<Page<StoredStixObject>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    any_of(&mut f, "stix_id", &q.ids);
    any_of(&mut f, "type", &q.types);
    any_of(&mut f, "spec_version", &q.spec_versions);
    if let Some(s) = q.source_id {
        f.and("source_id = ?", [text(s)]);
    }
    if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pat = format!("%{}%", like_escape(&t.to_lowercase()));
        f.and(
            "(name_lower LIKE ? ESCAPE '\\' OR attack_id = ? OR stix_id = ?)",
            [text(pat), text(t.to_uppercase()), text(t)],
        );
    }
    if let Some(a) = &q.attack_id {
        f.and("attack_id = ?", [text(a)]);
    }
    if let Some(r) = &q.source_ref {
        f.and("source_ref = ?", [text(r)]);
    }
    if let Some(r) = &q.target_ref {
        f.and("target_ref = ?", [text(r)]);
    }
    if let Some(r) = &q.touching {
        f.and("(source_ref = ? OR target_ref = ?)", [text(r), text(r)]);
    }
    if let Some(r) = &q.relationship_type {
        f.and("relationship_type = ?", [text(r)]);
    }
    match q.version {
        StixVersion::Last => {
            f.and("latest = 1", []);
        }
        StixVersion::First => {
            f.and(
                "modified = (SELECT min(modified) FROM stix_objects o WHERE o.stix_id = s.stix_id)",
                [],
            );
        }
        StixVersion::All => {}
        StixVersion::At(t) => {
            f.and("modified = ?", [Value::Integer(us(t))]);
        }
    }
    if q.exclude_revoked {
        f.and("revoked = 0", []);
    }
    if let Some(t) = q.added_after {
        f.and("date_added > ?", [Value::Integer(us(t))]);
    }
    if let Some(c) = &q.cursor {
        let c = Cursor::decode(c)?;
        f.and("date_added > ?", [Value::Integer(c.micros)]);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM stix_objects s{} ORDER BY date_added LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |o: &StoredStixObject| Cursor {
        micros: us(o.date_added),
        key: o.spec.stix_id.clone(),
    }))
}
