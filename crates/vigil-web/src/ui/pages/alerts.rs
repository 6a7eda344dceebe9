//! `/alerts` list and `/alerts/{id}` detail.

use super::{AlertRow, severity_class};
use crate::state::AppState;
use crate::ui::view::{self, Opt, OrgNames, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vigil_model::{Action, AlertId, AlertSource, AlertStatus, Severity};
use vigil_store::{AlertQuery, OrgQuery};

#[derive(Template)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub page: Frame,
    pub statuses: Vec<Opt>,
    pub severities: Vec<Opt>,
    pub sources: Vec<Opt>,
    pub orgs: Vec<Opt>,
    pub alerts: Vec<AlertRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub error: Option<String>,
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadAlerts) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let scope = ui.principal.scope();
    let p = Params::parse(raw.as_deref());
    let all_orgs = st
        .store
        .list_orgs(scope, &OrgQuery::default())
        .await
        .ui(t)?;
    let names = OrgNames::new(&all_orgs);
    let q = AlertQuery {
        org_id: p.get("org_id").and_then(|o| o.parse().ok()),
        status: p.get("status").and_then(AlertStatus::parse),
        severity: p.get("severity").and_then(Severity::parse),
        source: p.get("source").and_then(AlertSource::parse),
        limit: view::PAGE_SIZE,
        cursor: p.get("cursor").map(str::to_string),
        ..AlertQuery::default()
    };
    let (rows, next, error) = match st.store.list_alerts(scope, &q).await {
        Ok(page) => (
            page.items
                .iter()
                .map(|a| AlertRow::new(a, t, &names))
                .collect(),
            page.next_cursor,
            None,
        ),
        Err(vigil_store::StoreError::BadCursor(_)) => {
            (Vec::new(), None, Some(t.t("error.bad_cursor").to_string()))
        }
        Err(e) => return Err(UiError::from_store(e, t)),
    };
    Ok(html(&AlertsPage {
        page: ui.frame("alerts", t.t("nav.alerts").to_string()),
        statuses: options(
            t,
            AlertStatus::ALL.iter().map(|s| (s.as_str(), s.name(lang))),
            p.get("status"),
        ),
        severities: options(
            t,
            Severity::ALL
                .iter()
                .rev()
                .map(|s| (s.as_str(), s.name(lang))),
            p.get("severity"),
        ),
        sources: options(
            t,
            AlertSource::ALL.iter().map(|s| (s.as_str(), s.name(lang))),
            p.get("source"),
        ),
        orgs: options(
            t,
            all_orgs
                .iter()
                .map(|o| (o.id.to_string(), o.spec.name.clone())),
            p.get("org_id"),
        ),
        alerts: rows,
        next_url: next.map(|c| p.with_cursor("/alerts", Some(&c))),
        first_url: p.get("cursor").map(|_| p.with_cursor("/alerts", None)),
        error,
    }))
}

#[derive(Template)]
#[template(path = "alert.html")]
pub struct AlertPage {
    pub page: Frame,
    pub row: AlertRow,
    pub rule_id: String,
    pub detected: String,
    pub updated: String,
    pub asset: String,
    pub event_ids: Vec<i64>,
    pub details: String,
    pub severity_class: &'static str,
}

pub async fn detail(State(st): State<AppState>, ui: UiAuth, Path(id): Path<String>) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadAlerts) {
        return Err(UiError::forbidden(t));
    }
    let scope = ui.principal.scope();
    let id: AlertId = id.parse().map_err(|_| UiError::not_found(t))?;
    let a = st
        .store
        .get_alert(scope, id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let org = st.store.get_org(scope, a.spec.org_id).await.ui(t)?;
    let names = OrgNames::new(org.as_slice());
    let asset = match a.spec.asset_id {
        Some(x) => st
            .store
            .get_asset(scope, x)
            .await
            .ui(t)?
            .map(|x| x.spec.name)
            .unwrap_or_else(|| x.to_string()),
        None => String::new(),
    };
    let details = if a.spec.details.is_null() {
        String::new()
    } else {
        serde_json::to_string_pretty(&a.spec.details).unwrap_or_default()
    };
    Ok(html(&AlertPage {
        page: ui.frame("alerts", a.spec.title.clone()),
        row: AlertRow::new(&a, t, &names),
        rule_id: a.spec.rule_id.clone(),
        detected: view::fmt_time(a.spec.detected_at),
        updated: view::fmt_time(a.updated_at),
        asset,
        event_ids: a.spec.event_ids.iter().take(200).copied().collect(),
        details,
        severity_class: severity_class(a.spec.severity),
    }))
}
