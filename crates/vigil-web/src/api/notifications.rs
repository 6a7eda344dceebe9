//! `/api/v1/notifications`: the delivery state of e-mails and webhook messages (the
//! notification outbox), within the caller's scope: an organization user sees its own
//! organization's deliveries only.
//!
//! Nothing secret is in a delivery: a webhook's recipient is its address without the query
//! (where DingTalk and WeCom robot keys travel) and without credentials, and signing secrets
//! are never stored with deliveries.
//!
//! Filters are parsed here rather than by the query extractor, so a bad value is answered
//! with a 422 naming the parameter (`details.field`).

use super::page_json;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use vigil_model::{Action, OrgId};
use vigil_store::{DeliveryQuery, DeliveryStatus};

/// What deliveries may be about (`reference_kind`).
pub const REFERENCE_KINDS: [&str; 2] = ["incident", "warning"];

/// Largest page.
const MAX_LIMIT: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub org_id: Option<String>,
    pub reference_kind: Option<String>,
    pub reference_id: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Empty parameters (`?status=`) count as absent.
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ListParams {
    /// The store query, or a 422 naming the first bad parameter.
    pub fn into_query(self) -> ApiResult<DeliveryQuery> {
        let org_id = given(self.org_id)
            .map(|s| {
                s.parse::<OrgId>()
                    .map_err(|_| ApiError::invalid("org_id", "must be an organization id (UUID)"))
            })
            .transpose()?;
        let reference_kind = given(self.reference_kind)
            .map(|k| {
                if REFERENCE_KINDS.contains(&k.as_str()) {
                    Ok(k)
                } else {
                    Err(ApiError::invalid(
                        "reference_kind",
                        format!("must be one of {}", REFERENCE_KINDS.join(", ")),
                    ))
                }
            })
            .transpose()?;
        let reference_id = given(self.reference_id);
        if let Some(r) = &reference_id {
            if reference_kind.is_none() {
                return Err(ApiError::invalid(
                    "reference_id",
                    "needs reference_kind (incident or warning)",
                ));
            }
            if r.len() > 200 {
                return Err(ApiError::invalid(
                    "reference_id",
                    "must be at most 200 characters",
                ));
            }
        }
        let status = given(self.status)
            .map(|s| {
                DeliveryStatus::parse(&s).ok_or_else(|| {
                    let all: Vec<&str> = DeliveryStatus::ALL.iter().map(|v| v.as_str()).collect();
                    ApiError::invalid("status", format!("must be one of {}", all.join(", ")))
                })
            })
            .transpose()?;
        let channel = given(self.channel);
        if channel.as_ref().is_some_and(|c| c.len() > 100) {
            return Err(ApiError::invalid(
                "channel",
                "must be at most 100 characters",
            ));
        }
        let limit = match given(self.limit) {
            None => 0,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid(
                        "limit",
                        format!("must be a number from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        Ok(DeliveryQuery {
            org_id,
            reference_kind,
            reference_id,
            status,
            channel,
            limit,
            cursor: given(self.cursor),
        })
    }
}

/// `GET /notifications`: deliveries newest first, with a cursor.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    // Deliveries are about incidents and warnings: reading them needs both.
    auth.require(Action::ReadIncidents)?;
    auth.require(Action::ReadWarnings)?;
    let Query(p) = params?;
    let q = p.into_query()?;
    let page = st.store.list_deliveries(auth.principal.scope(), &q).await?;
    Ok(page_json(page.items, page.next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(p: ListParams) -> String {
        match p.into_query() {
            Ok(q) => panic!("accepted: {q:?}"),
            Err(e) => {
                assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
                e.details["field"].as_str().unwrap_or_default().to_string()
            }
        }
    }

    #[test]
    fn filters_parse_and_bad_values_name_the_parameter() {
        let org = OrgId::new();
        let q = ListParams {
            org_id: Some(org.to_string()),
            reference_kind: Some("incident".into()),
            reference_id: Some("abc".into()),
            status: Some("failed".into()),
            channel: Some("email".into()),
            limit: Some("10".into()),
            cursor: Some(String::new()),
        }
        .into_query()
        .expect("valid");
        assert_eq!(q.org_id, Some(org));
        assert_eq!(q.status, Some(DeliveryStatus::Failed));
        assert_eq!(q.limit, 10);
        assert_eq!(q.cursor, None);

        let bad = |f: fn(&mut ListParams)| {
            let mut p = ListParams::default();
            f(&mut p);
            field(p)
        };
        assert_eq!(bad(|p| p.org_id = Some("acme".into())), "org_id");
        assert_eq!(bad(|p| p.status = Some("done".into())), "status");
        assert_eq!(
            bad(|p| p.reference_kind = Some("alert".into())),
            "reference_kind"
        );
        assert_eq!(bad(|p| p.reference_id = Some("x".into())), "reference_id");
        assert_eq!(bad(|p| p.limit = Some("0".into())), "limit");
        assert_eq!(bad(|p| p.limit = Some("many".into())), "limit");
        assert_eq!(bad(|p| p.channel = Some("c".repeat(101))), "channel");
    }
}
