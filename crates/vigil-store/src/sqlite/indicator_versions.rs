//! Every version of stored indicators: the current ones (`indicators`) and those a newer
//! version replaced (`indicator_versions`), see [`crate::intel::IndicatorVersion`].

use super::sql::{Filter, get_json, get_opt_ts, get_ts, get_uuid, page, text, us, uuid_cursor};
use crate::intel::{
    IndicatorId, IndicatorVersion, IndicatorVersionQuery, IntelSourceId, merge_versions,
    version_conditions,
};
use crate::stix::StixVersion;
use crate::{Cursor, Result, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use vigil_model::Page;

fn from_row(row: &Row<'_>) -> rusqlite::Result<IndicatorVersion> {
    Ok(IndicatorVersion {
        indicator_id: IndicatorId(get_uuid(row, 0)?),
        source_id: IntelSourceId(get_uuid(row, 1)?),
        stix_id: row.get(2)?,
        modified: get_ts(row, 3)?,
        date_added: get_ts(row, 4)?,
        object: get_json(row, 5)?,
        latest: row.get(6)?,
        revoked_at: get_opt_ts(row, 7)?,
    })
}

/// The filters both tables share (`id_col` names the indicator id column).
fn common(q: &IndicatorVersionQuery, id_col: &str) -> Result<Filter> {
    let mut f = Filter::default();
    if let Some(s) = q.source_id {
        f.and("source_id = ?", [text(s)]);
    }
    if !q.stix_ids.is_empty() {
        let marks = vec!["?"; q.stix_ids.len()].join(", ");
        f.and(
            &format!("stix_id IN ({marks})"),
            q.stix_ids.iter().map(text),
        );
    }
    if let Some(t) = q.added_after {
        f.and("date_added > ?", [Value::Integer(us(t))]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.and(
            &format!("(date_added > ? OR (date_added = ? AND {id_col} > ?))"),
            [Value::Integer(micros), Value::Integer(micros), key],
        );
    }
    Ok(f)
}

/// `(cond OR cond ...)` of the selections for one table, `None` when none can match there.
fn selection(sels: &[StixVersion], current: bool, params: &mut Vec<Value>) -> Option<String> {
    let conds = version_conditions(sels, current, |t| {
        params.push(Value::Integer(us(t)));
        "?".to_string()
    });
    (!conds.is_empty()).then(|| format!("({})", conds.join(" OR ")))
}

fn fetch(
    conn: &Connection,
    q: &IndicatorVersionQuery,
    current: bool,
    limit: usize,
) -> Result<Vec<IndicatorVersion>> {
    let id_col = if current { "id" } else { "indicator_id" };
    let mut f = common(q, id_col)?;
    let mut sel_params = Vec::new();
    let Some(sel) = selection(&q.selections(), current, &mut sel_params) else {
        return Ok(Vec::new());
    };
    f.and(&sel, sel_params);
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = if current {
        format!(
            "SELECT id, source_id, stix_id, modified, date_added, object, 1, revoked_at \
             FROM indicators i{} ORDER BY date_added, id LIMIT ?",
            f.sql
        )
    } else {
        format!(
            "SELECT indicator_id, source_id, stix_id, modified, date_added, object, 0, NULL \
             FROM indicator_versions v{} ORDER BY date_added, indicator_id LIMIT ?",
            f.sql
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(f.params.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn list(conn: &Connection, q: &IndicatorVersionQuery) -> Result<Page<IndicatorVersion>> {
    let limit = page_size(q.limit);
    let current = fetch(conn, q, true, limit)?;
    let older = fetch(conn, q, false, limit)?;
    Ok(page(merge_versions(current, older, limit), limit, |v| {
        Cursor {
            micros: us(v.date_added),
            key: v.indicator_id.to_string(),
        }
    }))
}
