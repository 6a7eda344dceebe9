//! Early warnings: issue with target resolution, scoped reads, acknowledgements.
//!
//! Asset criteria are evaluated on the asset's stored JSON spec (`vendor`, `model`,
//! `firmware`, and each `software[]` entry's `purl` and `cpe`) with `json_extract` and
//! `json_each`. Comparisons use SQLite's `NOCASE`/`LIKE`, which fold ASCII letters only; the
//! PostgreSQL store does the same (see `postgres/warnings.rs`), so both answer alike.

use super::sql::{
    Filter, get_json, get_opt_ts, get_ts, get_uuid, page, text, to_json, us, uuid_cursor,
};
use crate::warnings::{
    Acknowledgement, MAX_RECIPIENTS, WarningQuery, like_prefix, no_recipients, too_many_recipients,
};
use crate::{Cursor, Result, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use std::collections::BTreeSet;
use vigil_model::{
    AssetCriterion, NewWarning, OrgId, Page, Scope, Timestamp, Warning, WarningId,
    WarningRecipient, WarningTargets,
};

fn scope_value(scope: Scope) -> Value {
    match scope {
        Scope::All => Value::Null,
        Scope::Org(o) => text(o),
    }
}

/// Redacts what an organization's scope must not see of the targets.
fn scoped(mut w: Warning, scope: Scope) -> Warning {
    if let Scope::Org(o) = scope {
        w.spec.targets = w.spec.targets.redacted_for(o);
    }
    w
}

/// Columns of a warning read with its counts within the scope bound as `?1`.
const WARNING_SELECT: &str = "SELECT w.id, w.spec, w.issued_by, w.issued_at,
    (SELECT count(*) FROM warning_recipients r
      WHERE r.warning_id = w.id AND (?1 IS NULL OR r.org_id = ?1)),
    (SELECT count(*) FROM warning_recipients r
      WHERE r.warning_id = w.id AND (?1 IS NULL OR r.org_id = ?1)
        AND r.acknowledged_at IS NOT NULL)
    FROM warnings w";

/// The condition that the warning is visible in the scope bound as `?1`.
const VISIBLE: &str = "(?1 IS NULL OR EXISTS (SELECT 1 FROM warning_recipients r
    WHERE r.warning_id = w.id AND r.org_id = ?1))";

fn warning_from_row(row: &Row<'_>) -> rusqlite::Result<Warning> {
    let spec: NewWarning = get_json(row, 1)?;
    Ok(Warning {
        id: WarningId(get_uuid(row, 0)?),
        spec,
        issued_by: row.get(2)?,
        issued_at: get_ts(row, 3)?,
        recipients: row.get::<_, i64>(4)?.max(0) as u64,
        acknowledged: row.get::<_, i64>(5)?.max(0) as u64,
    })
}

const RECIPIENT_SELECT: &str = "SELECT r.warning_id, r.org_id, o.name, r.delivered_at,
    r.acknowledged_at, r.acknowledged_by, r.response
    FROM warning_recipients r JOIN organizations o ON o.id = r.org_id";

fn recipient_from_row(row: &Row<'_>) -> rusqlite::Result<WarningRecipient> {
    Ok(WarningRecipient {
        warning_id: WarningId(get_uuid(row, 0)?),
        org_id: OrgId(get_uuid(row, 1)?),
        org_name: row.get(2)?,
        delivered_at: get_ts(row, 3)?,
        acknowledged_at: get_opt_ts(row, 4)?,
        acknowledged_by: row.get(5)?,
        response: row.get(6)?,
    })
}

/// Adds one asset criterion's condition on asset `a` (all given fields on the same asset, the
/// software fields on the same inventory entry).
fn asset_condition(c: &AssetCriterion, params: &mut Vec<Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(v) = &c.vendor {
        parts.push("json_extract(a.spec, '$.vendor') = ? COLLATE NOCASE".into());
        params.push(text(v.trim()));
    }
    for (given, path) in [(&c.product, "$.model"), (&c.firmware, "$.firmware")] {
        if let Some(v) = given {
            parts.push(format!("json_extract(a.spec, '{path}') LIKE ? ESCAPE '\\'"));
            params.push(text(like_prefix(v.trim())));
        }
    }
    let mut software: Vec<&str> = Vec::new();
    if let Some(p) = &c.purl_prefix {
        software.push("json_extract(s.value, '$.purl') LIKE ? ESCAPE '\\'");
        params.push(text(like_prefix(p.trim())));
    }
    if let Some(p) = &c.cpe_prefix {
        software.push("json_extract(s.value, '$.cpe') LIKE ? ESCAPE '\\'");
        params.push(text(like_prefix(p.trim())));
    }
    if !software.is_empty() {
        parts.push(format!(
            "EXISTS (SELECT 1 FROM json_each(a.spec, '$.software') s WHERE {})",
            software.join(" AND ")
        ));
    }
    format!("({})", parts.join(" AND "))
}

/// The organizations the targets' filters select (explicit ids aside).
fn resolve_filters(conn: &Connection, t: &WarningTargets) -> Result<Vec<String>> {
    let mut f = Filter::default();
    if !t.sectors.is_empty() {
        let marks = vec!["?"; t.sectors.len()].join(", ");
        f.and(
            &format!("o.sector IN ({marks})"),
            t.sectors.iter().map(text),
        );
    }
    if !t.region_prefixes.is_empty() {
        // Prefixes are validated digits, so they need no LIKE escaping.
        let conds = vec!["o.region_code LIKE ?"; t.region_prefixes.len()].join(" OR ");
        f.and(
            &format!("({conds})"),
            t.region_prefixes.iter().map(|p| text(format!("{p}%"))),
        );
    }
    if let Some(m) = t.mlps_min {
        f.and("o.mlps_level >= ?", [Value::Integer(i64::from(m))]);
    }
    if t.cii_only {
        f.and("o.cii = 1", []);
    }
    if let Some(g) = t.miit_grade_min {
        f.and("o.miit_grade >= ?", [Value::Integer(i64::from(g))]);
    }
    if !t.assets.is_empty() {
        let mut params = Vec::new();
        let conds: Vec<String> = t
            .assets
            .iter()
            .map(|c| asset_condition(c, &mut params))
            .collect();
        f.and(
            &format!(
                "EXISTS (SELECT 1 FROM assets a WHERE a.org_id = o.id AND ({}))",
                conds.join(" OR ")
            ),
            params,
        );
    }
    // One more than allowed, to tell "too many" from "exactly the maximum".
    f.params.push(Value::Integer(MAX_RECIPIENTS as i64 + 1));
    let sql = format!("SELECT o.id FROM organizations o{} LIMIT ?", f.sql);
    let mut stmt = conn.prepare(&sql)?;
    let ids = stmt
        .query_map(params_from_iter(f.params.iter()), |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

pub(crate) fn create(
    conn: &Connection,
    spec: NewWarning,
    issued_by: &str,
    now: Timestamp,
) -> Result<Warning> {
    let t = &spec.targets;
    let mut recipients: BTreeSet<String> = BTreeSet::new();
    {
        let mut exists = conn.prepare_cached("SELECT 1 FROM organizations WHERE id = ?1")?;
        for o in &t.org_ids {
            let id = o.to_string();
            if exists.query_row([&id], |_| Ok(())).optional()?.is_none() {
                return Err(StoreError::MissingReference(format!("organization {o}")));
            }
            recipients.insert(id);
        }
    }
    if t.selects_by_filter() {
        recipients.extend(resolve_filters(conn, t)?);
    }
    if recipients.is_empty() {
        return Err(no_recipients());
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(too_many_recipients(recipients.len()));
    }
    let id = WarningId::new();
    conn.prepare_cached(
        "INSERT INTO warnings (id, title, level, spec, issued_by, issued_at, response_deadline)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id.to_string(),
        spec.title,
        spec.level.as_str(),
        to_json(&spec)?,
        issued_by,
        us(now),
        spec.response_deadline.map(us),
    ])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO warning_recipients (warning_id, org_id, delivered_at) VALUES (?1, ?2, ?3)",
    )?;
    for org in &recipients {
        insert.execute(params![id.to_string(), org, us(now)])?;
    }
    Ok(Warning {
        id,
        spec,
        issued_by: issued_by.to_string(),
        issued_at: now,
        recipients: recipients.len() as u64,
        acknowledged: 0,
    })
}

pub(crate) fn get(conn: &Connection, scope: Scope, id: WarningId) -> Result<Option<Warning>> {
    let sql = format!("{WARNING_SELECT} WHERE w.id = ?2 AND {VISIBLE}");
    let w = conn
        .prepare_cached(&sql)?
        .query_row(
            params![scope_value(scope), id.to_string()],
            warning_from_row,
        )
        .optional()?;
    Ok(w.map(|w| scoped(w, scope)))
}

pub(crate) fn list(conn: &Connection, scope: Scope, q: &WarningQuery) -> Result<Page<Warning>> {
    let limit = page_size(q.limit);
    // `?1` (the scope) is the first parameter; the filter's `?`s number on from it.
    let mut f = Filter::default();
    f.params.push(scope_value(scope));
    f.and(VISIBLE, []);
    if let Some(o) = q.org_id {
        if !scope.allows_org(o) {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        f.and(
            "EXISTS (SELECT 1 FROM warning_recipients r WHERE r.warning_id = w.id AND r.org_id = ?)",
            [text(o)],
        );
    }
    if let Some(l) = q.level {
        f.and("w.level = ?", [text(l.as_str())]);
    }
    if let Some(t) = q.since {
        f.and("w.issued_at >= ?", [Value::Integer(us(t))]);
    }
    if let Some(u) = q.unacknowledged {
        let pending = "EXISTS (SELECT 1 FROM warning_recipients r WHERE r.warning_id = w.id
             AND (?1 IS NULL OR r.org_id = ?1) AND r.acknowledged_at IS NULL)";
        if u {
            f.and(pending, []);
        } else {
            f.and(&format!("NOT {pending}"), []);
        }
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("w.issued_at", "w.id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "{WARNING_SELECT}{} ORDER BY w.issued_at DESC, w.id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), warning_from_row)?
        .map(|w| w.map(|w| scoped(w, scope)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page(items, limit, |w: &Warning| Cursor {
        micros: us(w.issued_at),
        key: w.id.to_string(),
    }))
}

fn get_recipient(conn: &Connection, id: WarningId, org: OrgId) -> Result<Option<WarningRecipient>> {
    let sql = format!("{RECIPIENT_SELECT} WHERE r.warning_id = ?1 AND r.org_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id.to_string(), org.to_string()], recipient_from_row)
        .optional()?)
}

pub(crate) fn acknowledge(
    conn: &Connection,
    scope: Scope,
    id: WarningId,
    org: OrgId,
    actor: &str,
    response: Option<String>,
    now: Timestamp,
) -> Result<Option<Acknowledgement>> {
    if !scope.allows_org(org) {
        return Ok(None);
    }
    // Only the first acknowledgement sets the time, actor and response.
    let changed = conn
        .prepare_cached(
            "UPDATE warning_recipients
             SET acknowledged_at = ?3, acknowledged_by = ?4, response = ?5
             WHERE warning_id = ?1 AND org_id = ?2 AND acknowledged_at IS NULL",
        )?
        .execute(params![
            id.to_string(),
            org.to_string(),
            us(now),
            actor,
            response
        ])?;
    Ok(
        get_recipient(conn, id, org)?.map(|recipient| Acknowledgement {
            recipient,
            newly: changed == 1,
        }),
    )
}

pub(crate) fn recipients(
    conn: &Connection,
    scope: Scope,
    id: WarningId,
    pending_only: bool,
) -> Result<Option<Vec<WarningRecipient>>> {
    let visible = conn
        .prepare_cached(&format!(
            "SELECT 1 FROM warnings w WHERE w.id = ?2 AND {VISIBLE}"
        ))?
        .query_row(params![scope_value(scope), id.to_string()], |_| Ok(()))
        .optional()?
        .is_some();
    if !visible {
        return Ok(None);
    }
    let pending = if pending_only {
        " AND r.acknowledged_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "{RECIPIENT_SELECT} WHERE r.warning_id = ?2 AND (?1 IS NULL OR r.org_id = ?1){pending}
         ORDER BY o.name_lower, r.org_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![scope_value(scope), id.to_string()],
            recipient_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(rows))
}
