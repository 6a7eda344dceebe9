//! `/api/v1/audit`: the audit log and its chain check.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use vigil_model::{Action, OrgId};
use vigil_store::{AuditQuery, Store, StoreError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub after_seq: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub org_id: Option<OrgId>,
    pub limit: Option<usize>,
}

pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Action::ReadAudit)?;
    let Query(p) = params?;
    let q = AuditQuery {
        after_seq: p.after_seq,
        actor: p.actor,
        action_prefix: p.action,
        org_id: p.org_id,
        limit: vigil_store::page_size(p.limit.unwrap_or(0)),
    };
    let items = st.store.list_audit(&q).await?;
    let next = (items.len() == q.limit)
        .then(|| items.last().map(|r| r.seq))
        .flatten();
    Ok(Json(
        serde_json::json!({ "items": items, "next_after_seq": next }),
    ))
}

/// Most findings reported by one verification.
pub const MAX_FINDINGS: usize = 100;

/// One thing wrong with the audit chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub seq: i64,
    /// `altered`, `removed`, `inserted` or `reordered`.
    pub kind: String,
    pub detail: String,
}

/// The outcome of walking the whole audit chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// True only for an intact chain.
    pub ok: bool,
    /// Records examined.
    pub checked: usize,
    /// The stored hash of the last record: what a later verification continues from.
    pub head: String,
    /// At most [`MAX_FINDINGS`], in chain order.
    pub findings: Vec<Finding>,
}

/// Walks the whole chain from the start, a page at a time, and reports every finding: which
/// record was altered, removed, inserted or reordered. Used by the API and `vigil audit
/// verify`.
pub async fn verify_chain(store: &dyn Store) -> Result<Verification, StoreError> {
    let mut prev = vigil_crypto::AUDIT_GENESIS.to_string();
    let mut after = None;
    let mut checked = 0usize;
    let mut findings = Vec::new();
    loop {
        let q = AuditQuery {
            after_seq: after,
            limit: vigil_store::MAX_PAGE,
            ..Default::default()
        };
        let page = store.list_audit(&q).await?;
        if let (Some(first), Some(a)) = (page.first(), after)
            && first.seq != a + 1
        {
            findings.push(Finding {
                seq: a + 1,
                kind: "removed".into(),
                detail: format!("records {} to {} are missing", a + 1, first.seq - 1),
            });
        }
        let report = vigil_crypto::audit_chain_report(&prev, &page);
        findings.extend(report.issues.iter().map(|i| Finding {
            seq: i.seq,
            kind: i.kind.as_str().to_string(),
            detail: i.detail.clone(),
        }));
        checked += report.checked;
        prev = report.last_hash;
        if findings.len() >= MAX_FINDINGS {
            findings.truncate(MAX_FINDINGS);
            break;
        }
        match page.last() {
            Some(r) if page.len() == q.limit => after = Some(r.seq),
            _ => break,
        }
    }
    Ok(Verification {
        ok: findings.is_empty(),
        checked,
        head: prev,
        findings,
    })
}

/// `GET /audit/verify`: [`verify_chain`] for auditors and administrators.
pub async fn verify(State(st): State<AppState>, auth: Auth) -> ApiResult<Json<Verification>> {
    auth.require(Action::ReadAudit)?;
    Ok(Json(verify_chain(st.store.as_ref()).await?))
}
