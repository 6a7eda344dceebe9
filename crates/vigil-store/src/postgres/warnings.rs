//! Early warnings: issue with target resolution, scoped reads, acknowledgements.
//!
//! Asset criteria are evaluated on the asset columns (`vendor`, `model`, `firmware`) and the
//! `software` JSONB array (`purl`, `cpe` of one entry). Vendors compare with `lower()`, the
//! prefixes with `ILIKE`; for ASCII letters that is the same case folding the SQLite store's
//! `NOCASE`/`LIKE` does.

use super::directory::{cursor_time, lock_orgs, page};
use super::query::{Query, like_escape, uuid_cursor};
use super::{PgStore, Ts, micros, now, scope_org};
use crate::warnings::{
    Acknowledgement, MAX_RECIPIENTS, WarningQuery, no_recipients, too_many_recipients,
};
use crate::{Cursor, Result, page_size};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{
    AssetCriterion, NewWarning, OrgId, Page, Scope, Warning, WarningId, WarningRecipient,
    WarningTargets,
};

/// Columns of a warning with its counts within the scope, which must be parameter `$1`.
const WARNING_SELECT: &str = "SELECT w.id, w.spec, w.issued_by, w.issued_at,
    (SELECT count(*) FROM warning_recipients r
      WHERE r.warning_id = w.id AND ($1::uuid IS NULL OR r.org_id = $1)) AS recipients,
    (SELECT count(*) FROM warning_recipients r
      WHERE r.warning_id = w.id AND ($1::uuid IS NULL OR r.org_id = $1)
        AND r.acknowledged_at IS NOT NULL) AS acknowledged
    FROM warnings w";

/// The warning is visible in the scope `$1`.
const VISIBLE: &str = "($1::uuid IS NULL OR EXISTS (SELECT 1 FROM warning_recipients r
    WHERE r.warning_id = w.id AND r.org_id = $1))";

const RECIPIENT_SELECT: &str = "SELECT r.warning_id, r.org_id, o.name, r.delivered_at,
    r.acknowledged_at, r.acknowledged_by, r.response
    FROM warning_recipients r JOIN organizations o ON o.id = r.org_id";

fn count(r: &Row, col: &str) -> Result<u64> {
    let n: i64 = r.try_get(col)?;
    Ok(n.max(0) as u64)
}

fn warning_from_row(r: &Row, scope: Scope) -> Result<Warning> {
    let Json(mut spec): Json<NewWarning> = r.try_get("spec")?;
    if let Scope::Org(o) = scope {
        spec.targets = spec.targets.redacted_for(o);
    }
    Ok(Warning {
        id: WarningId(r.try_get("id")?),
        spec,
        issued_by: r.try_get("issued_by")?,
        issued_at: r.try_get::<_, Ts>("issued_at")?.0,
        recipients: count(r, "recipients")?,
        acknowledged: count(r, "acknowledged")?,
    })
}

fn recipient_from_row(r: &Row) -> Result<WarningRecipient> {
    Ok(WarningRecipient {
        warning_id: WarningId(r.try_get("warning_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        org_name: r.try_get("name")?,
        delivered_at: r.try_get::<_, Ts>("delivered_at")?.0,
        acknowledged_at: r.try_get::<_, Option<Ts>>("acknowledged_at")?.map(|t| t.0),
        acknowledged_by: r.try_get("acknowledged_by")?,
        response: r.try_get("response")?,
    })
}

fn prefix(s: &str) -> String {
    format!("{}%", like_escape(s.trim()))
}

/// One asset criterion's condition on asset `a` (all given fields on the same asset, the
/// software fields on the same inventory entry).
fn asset_condition(q: &mut Query, c: &AssetCriterion) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(v) = &c.vendor {
        let p = q.arg(v.trim().to_string());
        parts.push(format!("lower(a.vendor) = lower({p})"));
    }
    for (given, col) in [(&c.product, "a.model"), (&c.firmware, "a.firmware")] {
        if let Some(v) = given {
            let p = q.arg(prefix(v));
            parts.push(format!("{col} ILIKE {p}"));
        }
    }
    let mut software: Vec<String> = Vec::new();
    for (given, key) in [(&c.purl_prefix, "purl"), (&c.cpe_prefix, "cpe")] {
        if let Some(v) = given {
            let p = q.arg(prefix(v));
            software.push(format!("s->>'{key}' ILIKE {p}"));
        }
    }
    if !software.is_empty() {
        parts.push(format!(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(a.software) s WHERE {})",
            software.join(" AND ")
        ));
    }
    format!("({})", parts.join(" AND "))
}

/// The query selecting the organizations the targets' filters match (explicit ids aside).
fn filter_query(t: &WarningTargets) -> Query {
    let mut q = Query::new("SELECT o.id FROM organizations o");
    if !t.sectors.is_empty() {
        let p = q.arg(t.sectors.clone());
        q.and(&format!("o.sector = ANY({p})"));
    }
    if !t.region_prefixes.is_empty() {
        // Validated digits: no LIKE metacharacters to escape.
        let patterns: Vec<String> = t.region_prefixes.iter().map(|p| format!("{p}%")).collect();
        let p = q.arg(patterns);
        q.and(&format!("o.region_code LIKE ANY({p})"));
    }
    if let Some(m) = t.mlps_min {
        let p = q.arg(i16::from(m));
        q.and(&format!("o.mlps_level >= {p}"));
    }
    if t.cii_only {
        q.and("o.cii");
    }
    if let Some(g) = t.miit_grade_min {
        let p = q.arg(i16::from(g));
        q.and(&format!("o.miit_grade >= {p}"));
    }
    if !t.assets.is_empty() {
        let conds: Vec<String> = t
            .assets
            .iter()
            .map(|c| asset_condition(&mut q, c))
            .collect();
        q.and(&format!(
            "EXISTS (SELECT 1 FROM assets a WHERE a.org_id = o.id AND ({}))",
            conds.join(" OR ")
        ));
    }
    let l = q.arg(MAX_RECIPIENTS as i64 + 1);
    q.push(&format!(" LIMIT {l}"));
    q
}

impl PgStore {
    pub(crate) async fn create_warning_impl(
        &self,
        spec: NewWarning,
        issued_by: &str,
    ) -> Result<Warning> {
        spec.validate()?;
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let explicit: BTreeSet<OrgId> = spec.targets.org_ids.iter().copied().collect();
        let mut recipients: BTreeSet<Uuid> = explicit.iter().map(|o| o.0).collect();
        if !explicit.is_empty() {
            lock_orgs(&tx, &explicit).await?;
        }
        if spec.targets.selects_by_filter() {
            let q = filter_query(&spec.targets);
            for row in tx.query(q.sql(), &q.params()).await? {
                recipients.insert(row.try_get(0)?);
            }
        }
        if recipients.is_empty() {
            return Err(no_recipients());
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(too_many_recipients(recipients.len()));
        }
        let id = WarningId::new();
        tx.execute(
            "INSERT INTO warnings (id, title, level, spec, issued_by, issued_at, response_deadline)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id.0,
                &spec.title,
                &spec.level.as_str(),
                &Json(&spec),
                &issued_by,
                &Ts(at),
                &spec.response_deadline.map(|t| Ts(micros(t))),
            ],
        )
        .await?;
        let ids: Vec<Uuid> = recipients.iter().copied().collect();
        tx.execute(
            "INSERT INTO warning_recipients (warning_id, org_id, delivered_at)
             SELECT $1, o, $3 FROM unnest($2::uuid[]) AS o",
            &[&id.0, &ids, &Ts(at)],
        )
        .await?;
        tx.commit().await?;
        Ok(Warning {
            id,
            spec,
            issued_by: issued_by.to_string(),
            issued_at: at,
            recipients: ids.len() as u64,
            acknowledged: 0,
        })
    }

    pub(crate) async fn get_warning_impl(
        &self,
        scope: Scope,
        id: WarningId,
    ) -> Result<Option<Warning>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("{WARNING_SELECT} WHERE w.id = $2 AND {VISIBLE}"),
                &[&scope_org(scope), &id.0],
            )
            .await?;
        row.map(|r| warning_from_row(&r, scope)).transpose()
    }

    pub(crate) async fn list_warnings_impl(
        &self,
        scope: Scope,
        q: &WarningQuery,
    ) -> Result<Page<Warning>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(WARNING_SELECT);
        // `$1`, which the fixed text above refers to.
        query.arg(scope_org(scope));
        query.and(VISIBLE);
        if let Some(o) = q.org_id {
            if !scope.allows_org(o) {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
            let p = query.arg(o.0);
            query.and(&format!(
                "EXISTS (SELECT 1 FROM warning_recipients r WHERE r.warning_id = w.id AND r.org_id = {p})"
            ));
        }
        if let Some(l) = q.level {
            query.eq("w.level", l.as_str().to_string());
        }
        if let Some(t) = q.since {
            let p = query.arg(Ts(micros(t)));
            query.and(&format!("w.issued_at >= {p}"));
        }
        if let Some(u) = q.unacknowledged {
            let pending = "EXISTS (SELECT 1 FROM warning_recipients r WHERE r.warning_id = w.id
                 AND ($1::uuid IS NULL OR r.org_id = $1) AND r.acknowledged_at IS NULL)";
            if u {
                query.and(pending);
            } else {
                query.and(&format!("NOT {pending}"));
            }
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(w.issued_at, w.id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY w.issued_at DESC, w.id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(|r| warning_from_row(r, scope))
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |w| Cursor {
            micros: w.issued_at.as_microsecond(),
            key: w.id.to_string(),
        }))
    }

    pub(crate) async fn acknowledge_warning_impl(
        &self,
        scope: Scope,
        id: WarningId,
        org: OrgId,
        actor: &str,
        response: Option<String>,
    ) -> Result<Option<Acknowledgement>> {
        vigil_model::warning::validate_response(response.as_deref())?;
        if !scope.allows_org(org) {
            return Ok(None);
        }
        let client = self.client().await?;
        // Only the first acknowledgement sets the time, actor and response; the row lock of
        // the UPDATE makes a concurrent second one see the first's values.
        let changed = client
            .execute(
                "UPDATE warning_recipients
                 SET acknowledged_at = $3, acknowledged_by = $4, response = $5
                 WHERE warning_id = $1 AND org_id = $2 AND acknowledged_at IS NULL",
                &[&id.0, &org.0, &Ts(now()), &actor, &response],
            )
            .await?;
        let row = client
            .query_opt(
                &format!("{RECIPIENT_SELECT} WHERE r.warning_id = $1 AND r.org_id = $2"),
                &[&id.0, &org.0],
            )
            .await?;
        row.map(|r| {
            Ok(Acknowledgement {
                recipient: recipient_from_row(&r)?,
                newly: changed == 1,
            })
        })
        .transpose()
    }

    pub(crate) async fn list_warning_recipients_impl(
        &self,
        scope: Scope,
        id: WarningId,
        pending_only: bool,
    ) -> Result<Option<Vec<WarningRecipient>>> {
        let client = self.client().await?;
        let visible = client
            .query_opt(
                &format!("SELECT 1 FROM warnings w WHERE w.id = $2 AND {VISIBLE}"),
                &[&scope_org(scope), &id.0],
            )
            .await?
            .is_some();
        if !visible {
            return Ok(None);
        }
        let pending = if pending_only {
            " AND r.acknowledged_at IS NULL"
        } else {
            ""
        };
        let rows = client
            .query(
                &format!(
                    "{RECIPIENT_SELECT} WHERE r.warning_id = $2
                     AND ($1::uuid IS NULL OR r.org_id = $1){pending}
                     ORDER BY lower(o.name), r.org_id"
                ),
                &[&scope_org(scope), &id.0],
            )
            .await?;
        rows.iter()
            .map(recipient_from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}
