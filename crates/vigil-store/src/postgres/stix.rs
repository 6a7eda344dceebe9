//! Stored STIX objects, every version (see [`crate::stix`]).

use super::directory::{cursor_time, page};
use super::events::clean_json;
use super::query::{Query, contains_pattern};
use super::{PgStore, Ts, micros, now};
use crate::intel::IntelSourceId;
use crate::stix::{
    MAX_OBJECT_BYTES, NewStixObject, StixObjectQuery, StixPutCounts, StixVersion, StoredStixObject,
};
use crate::{Cursor, Result, StoreError, page_size};
use std::collections::{BTreeSet, HashMap, HashSet};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::Page;

const COLUMNS: &str = "stix_id, modified, type, spec_version, created, revoked, source_id, \
    date_added, latest, object";

fn from_row(r: &Row) -> Result<StoredStixObject> {
    let Json(object): Json<serde_json::Value> = r.try_get("object")?;
    Ok(StoredStixObject {
        spec: NewStixObject {
            stix_id: r.try_get("stix_id")?,
            modified: r.try_get::<_, Ts>("modified")?.0,
            ty: r.try_get("type")?,
            spec_version: r.try_get("spec_version")?,
            created: r.try_get::<_, Option<Ts>>("created")?.map(|t| t.0),
            revoked: r.try_get("revoked")?,
            source_id: r
                .try_get::<_, Option<Uuid>>("source_id")?
                .map(IntelSourceId),
            object,
        },
        date_added: r.try_get::<_, Ts>("date_added")?.0,
        latest: r.try_get("latest")?,
    })
}

impl PgStore {
    /// One transaction under an advisory lock (so `date_added` grows strictly across
    /// concurrent writers): the known versions are read with one query, the new ones go in
    /// with one `INSERT ... SELECT FROM unnest(...)`, and `latest` is recomputed for the
    /// objects that got a version.
    pub(crate) async fn put_stix_objects_impl(
        &self,
        items: Vec<NewStixObject>,
    ) -> Result<StixPutCounts> {
        let mut counts = StixPutCounts::default();
        if items.is_empty() {
            return Ok(counts);
        }
        let mut seen: HashSet<(String, i64)> = HashSet::with_capacity(items.len());
        let mut fresh = Vec::with_capacity(items.len());
        for mut spec in items {
            spec.validate()?;
            spec.modified = micros(spec.modified);
            spec.created = spec.created.map(micros);
            if seen.insert((spec.stix_id.clone(), spec.modified.as_microsecond())) {
                fresh.push(spec);
            } else {
                counts.unchanged += 1;
            }
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('vigil.stix_objects.' || current_schema()))",
            &[],
        )
        .await?;
        let sources: Vec<Uuid> = fresh
            .iter()
            .filter_map(|s| s.source_id.map(|i| i.0))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !sources.is_empty() {
            let found: BTreeSet<Uuid> = tx
                .query(
                    "SELECT id FROM intel_sources WHERE id = ANY($1) FOR KEY SHARE",
                    &[&sources],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            if let Some(missing) = sources.iter().find(|s| !found.contains(s)) {
                return Err(StoreError::MissingReference(format!(
                    "intel source {missing}"
                )));
            }
        }
        let ids: Vec<String> = fresh
            .iter()
            .map(|s| s.stix_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut known: HashMap<String, HashSet<i64>> = HashMap::new();
        for r in tx
            .query(
                "SELECT stix_id, modified FROM stix_objects WHERE stix_id = ANY($1)",
                &[&ids],
            )
            .await?
        {
            let id: String = r.try_get(0)?;
            let m: Ts = r.try_get(1)?;
            known.entry(id).or_default().insert(m.0.as_microsecond());
        }
        // Objects with versions stored before: their `latest` flags are recomputed after the
        // insert; the others get theirs right at the insert.
        let had_before: HashSet<String> = known.keys().cloned().collect();
        let last: Option<Ts> = tx
            .query_one("SELECT max(date_added) FROM stix_objects", &[])
            .await?
            .try_get(0)?;
        let mut next = now()
            .as_microsecond()
            .max(last.map_or(i64::MIN, |l| l.0.as_microsecond() + 1));
        let mut cols = Columns::default();
        for spec in fresh {
            let m = spec.modified.as_microsecond();
            match known.get(&spec.stix_id) {
                Some(v) if v.contains(&m) => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.new_versions += 1,
                None => counts.inserted += 1,
            }
            known.entry(spec.stix_id.clone()).or_default().insert(m);
            let object = serde_json::to_string(&*clean_json(&spec.object))
                .map_err(|e| StoreError::Backend(format!("json encoding failed: {e}")))?;
            if object.len() > MAX_OBJECT_BYTES {
                return Err(StoreError::Invalid(vigil_model::ValidationError {
                    field: "object".into(),
                    message: format!("{} is larger than {MAX_OBJECT_BYTES} bytes", spec.stix_id),
                }));
            }
            *counts.by_type.entry(spec.ty.clone()).or_insert(0) += 1;
            let added = vigil_model::Timestamp::from_microsecond(next)
                .map_err(|e| StoreError::Backend(format!("date_added out of range: {e}")))?;
            next += 1;
            cols.push(spec, object, Ts(added));
        }
        if !cols.stix_id.is_empty() {
            let latest: Vec<bool> = cols
                .stix_id
                .iter()
                .zip(&cols.modified)
                .map(|(id, m)| {
                    known
                        .get(id)
                        .and_then(|v| v.iter().max())
                        .is_none_or(|newest| *newest == m.0.as_microsecond())
                })
                .collect();
            let changed: Vec<String> = cols
                .stix_id
                .iter()
                .filter(|id| had_before.contains(*id))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            tx.execute(
                "INSERT INTO stix_objects (stix_id, modified, type, spec_version, created,
                     revoked, source_id, date_added, latest, object, name, attack_id,
                     source_ref, target_ref, relationship_type)
                 SELECT i, m, t, sv, c, r, s, d, l, o::jsonb, n, a, sr, tr, rt
                 FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[],
                     $5::timestamptz[], $6::boolean[], $7::uuid[], $8::timestamptz[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                     $14::text[], $15::boolean[])
                     AS u(i, m, t, sv, c, r, s, d, o, n, a, sr, tr, rt, l)
                 ON CONFLICT (stix_id, modified) DO NOTHING",
                &[
                    &cols.stix_id,
                    &cols.modified,
                    &cols.ty,
                    &cols.spec_version,
                    &cols.created,
                    &cols.revoked,
                    &cols.source_id,
                    &cols.date_added,
                    &cols.object,
                    &cols.name,
                    &cols.attack_id,
                    &cols.source_ref,
                    &cols.target_ref,
                    &cols.relationship_type,
                    &latest,
                ],
            )
            .await?;
            if !changed.is_empty() {
                tx.execute(
                    "UPDATE stix_objects s SET latest = (s.modified = m.newest)
                     FROM (SELECT stix_id, max(modified) AS newest FROM stix_objects
                           WHERE stix_id = ANY($1) GROUP BY stix_id) m
                     WHERE s.stix_id = m.stix_id
                       AND s.latest IS DISTINCT FROM (s.modified = m.newest)",
                    &[&changed],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub(crate) async fn list_stix_objects_impl(
        &self,
        q: &StixObjectQuery,
    ) -> Result<Page<StoredStixObject>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {COLUMNS} FROM stix_objects s"));
        if !q.ids.is_empty() {
            let p = query.arg(q.ids.clone());
            query.and(&format!("stix_id = ANY({p})"));
        }
        if !q.types.is_empty() {
            let p = query.arg(q.types.clone());
            query.and(&format!("type = ANY({p})"));
        }
        if !q.spec_versions.is_empty() {
            let p = query.arg(q.spec_versions.clone());
            query.and(&format!("spec_version = ANY({p})"));
        }
        if let Some(s) = q.source_id {
            query.eq("source_id", s.0);
        }
        if let Some(t) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let p = query.arg(contains_pattern(t));
            let a = query.arg(t.to_uppercase());
            let i = query.arg(t.to_string());
            query.and(&format!(
                "(name ILIKE {p} OR attack_id = {a} OR stix_id = {i})"
            ));
        }
        if let Some(a) = &q.attack_id {
            query.eq("attack_id", a.clone());
        }
        if let Some(r) = &q.source_ref {
            query.eq("source_ref", r.clone());
        }
        if let Some(r) = &q.target_ref {
            query.eq("target_ref", r.clone());
        }
        if let Some(r) = &q.touching {
            let p = query.arg(r.clone());
            query.and(&format!("(source_ref = {p} OR target_ref = {p})"));
        }
        if let Some(r) = &q.relationship_type {
            query.eq("relationship_type", r.clone());
        }
        match q.version {
            StixVersion::Last => query.and("latest"),
            StixVersion::First => query.and(
                "modified = (SELECT min(modified) FROM stix_objects o WHERE o.stix_id = s.stix_id)",
            ),
            StixVersion::All => {}
            StixVersion::At(t) => query.eq("modified", Ts(micros(t))),
        }
        if q.exclude_revoked {
            query.and("NOT revoked");
        }
        if let Some(t) = q.added_after {
            let p = query.arg(Ts(micros(t)));
            query.and(&format!("date_added > {p}"));
        }
        if let Some(c) = &q.cursor {
            let c = Cursor::decode(c)?;
            let p = query.arg(Ts(cursor_time(&c)?));
            query.and(&format!("date_added > {p}"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY date_added LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |o| Cursor {
            micros: o.date_added.as_microsecond(),
            key: o.spec.stix_id.clone(),
        }))
    }
}

/// The columns of an `unnest` insert.
#[derive(Default)]
struct Columns {
    stix_id: Vec<String>,
    modified: Vec<Ts>,
    ty: Vec<String>,
    spec_version: Vec<String>,
    created: Vec<Option<Ts>>,
    revoked: Vec<bool>,
    source_id: Vec<Option<Uuid>>,
    date_added: Vec<Ts>,
    object: Vec<String>,
    name: Vec<Option<String>>,
    attack_id: Vec<Option<String>>,
    source_ref: Vec<Option<String>>,
    target_ref: Vec<Option<String>>,
    relationship_type: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, spec: NewStixObject, object: String, added: Ts) {
        let owned = |v: Option<&str>| v.map(str::to_string);
        self.name.push(owned(spec.name()));
        self.attack_id.push(owned(spec.attack_id()));
        self.source_ref.push(owned(spec.source_ref()));
        self.target_ref.push(owned(spec.target_ref()));
        self.relationship_type.push(owned(spec.relationship_type()));
        self.modified.push(Ts(spec.modified));
        self.created.push(spec.created.map(Ts));
        self.revoked.push(spec.revoked);
        self.source_id.push(spec.source_id.map(|s| s.0));
        self.date_added.push(added);
        self.object.push(object);
        self.ty.push(spec.ty);
        self.spec_version.push(spec.spec_version);
        self.stix_id.push(spec.stix_id);
    }
}
