//! `/warnings` list and issue form, `/warnings/{id}` detail with the recipients and the
//! acknowledgement form. Issuing and acknowledging go through the same functions as the API
//! (`api::warnings::issue`, `api::warnings::acknowledge`), so validation, scope and audit are
//! the same.

use crate::api::warnings::{AckBody, acknowledge, detail as load_detail, issue};
use crate::auth::{Auth, Via};
use crate::state::AppState;
use crate::ui::view::{self, Opt, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use vigil_model::{
    Action, AssetCriterion, NewWarning, OrgId, Role, Warning, WarningId, WarningLevel,
    WarningTargets, taxonomy,
};
use vigil_store::{OrgQuery, WarningQuery};

/// The CSS class of a level badge (the grade colours).
pub fn level_class(l: WarningLevel) -> &'static str {
    match l {
        WarningLevel::Red => "grade grade-red",
        WarningLevel::Orange => "grade grade-orange",
        WarningLevel::Yellow => "grade grade-yellow",
        WarningLevel::Blue => "grade grade-blue",
    }
}

/// A row of the warning list.
pub struct WarningRow {
    pub id: String,
    pub issued: String,
    pub level: &'static str,
    pub level_class: &'static str,
    pub title: String,
    /// "n / m".
    pub progress: String,
    pub complete: bool,
    pub deadline: String,
}

impl WarningRow {
    fn new(w: &Warning, lang: &str) -> Self {
        Self {
            id: w.id.to_string(),
            issued: view::fmt_time(w.issued_at),
            level: w.spec.level.name(lang),
            level_class: level_class(w.spec.level),
            title: w.spec.title.clone(),
            progress: format!("{} / {}", w.acknowledged, w.recipients),
            complete: w.pending() == 0,
            deadline: view::fmt_opt_time(w.spec.response_deadline),
        }
    }
}

fn auth_of(ui: &UiAuth) -> Auth {
    Auth {
        principal: ui.principal.clone(),
        via: Via::Session(ui.session.clone()),
        client: ui.client.clone(),
    }
}

#[derive(Template)]
#[template(path = "warnings.html")]
pub struct WarningsPage {
    pub page: Frame,
    pub levels: Vec<Opt>,
    pub pending: Vec<Opt>,
    pub warnings: Vec<WarningRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub error: Option<String>,
    /// The issue form is shown to those who may issue.
    pub can_issue: bool,
    pub form_levels: Vec<Opt>,
    pub sectors: Vec<Opt>,
    pub orgs: Vec<Opt>,
    pub mlps: Vec<Opt>,
    pub miit: Vec<Opt>,
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadWarnings) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let scope = ui.principal.scope();
    let p = Params::parse(raw.as_deref());
    let q = WarningQuery {
        level: p.get("level").and_then(WarningLevel::parse),
        unacknowledged: p.get("unacknowledged").and_then(|v| v.parse().ok()),
        limit: view::PAGE_SIZE,
        cursor: p.get("cursor").map(str::to_string),
        ..WarningQuery::default()
    };
    let (rows, next, error) = match st.store.list_warnings(scope, &q).await {
        Ok(page) => (
            page.items
                .iter()
                .map(|w| WarningRow::new(w, lang))
                .collect(),
            page.next_cursor,
            None,
        ),
        Err(vigil_store::StoreError::BadCursor(_)) => {
            (Vec::new(), None, Some(t.t("error.bad_cursor").to_string()))
        }
        Err(e) => return Err(UiError::from_store(e, t)),
    };
    let can_issue = ui.principal.allows(Action::IssueWarnings);
    let orgs = if can_issue {
        let all = st
            .store
            .list_orgs(scope, &OrgQuery::default())
            .await
            .ui(t)?;
        options(
            t,
            all.iter().map(|o| (o.id.to_string(), o.spec.name.clone())),
            None,
        )
    } else {
        Vec::new()
    };
    let level_items = || {
        WarningLevel::ALL
            .iter()
            .map(|l| (l.as_str().to_string(), l.name(lang).to_string()))
    };
    Ok(html(&WarningsPage {
        page: ui.frame("warnings", t.t("nav.warnings").to_string()),
        levels: options(t, level_items(), p.get("level")),
        pending: options(
            t,
            [
                ("true", t.t("warnings.pending_only")),
                ("false", t.t("warnings.all_acknowledged")),
            ],
            p.get("unacknowledged"),
        ),
        warnings: rows,
        next_url: next.map(|c| p.with_cursor("/warnings", Some(&c))),
        first_url: p
            .get("cursor")
            .is_some()
            .then(|| p.with_cursor("/warnings", None)),
        error,
        can_issue,
        form_levels: level_items()
            .map(|(v, l)| Opt::new(v, l, Some("yellow")))
            .collect(),
        sectors: options(
            t,
            taxonomy::sectors()
                .iter()
                .map(|s| (s.term.code.clone(), s.term.name(lang).to_string())),
            None,
        ),
        orgs,
        mlps: options(
            t,
            (1..=5u8).map(|l| (l.to_string(), view::mlps_name(l, lang))),
            None,
        ),
        miit: options(
            t,
            (1..=3u8).map(|g| (g.to_string(), view::miit_grade_name(g, lang))),
            None,
        ),
    }))
}

/// The issue form. Lists are typed comma- or line-separated; one asset criterion per form.
#[derive(Debug, Default, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub cves: String,
    #[serde(default)]
    pub indicators: String,
    #[serde(default)]
    pub affected_products: String,
    #[serde(default)]
    pub measures: String,
    #[serde(default)]
    pub response_deadline: String,
    #[serde(default)]
    pub all: Option<String>,
    #[serde(default)]
    pub org_id: String,
    #[serde(default)]
    pub sector: String,
    #[serde(default)]
    pub region_prefixes: String,
    #[serde(default)]
    pub mlps_min: String,
    #[serde(default)]
    pub cii_only: Option<String>,
    #[serde(default)]
    pub miit_grade_min: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub firmware: String,
    #[serde(default)]
    pub purl_prefix: String,
    #[serde(default)]
    pub cpe_prefix: String,
}

fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n', '\r', ' ', '，'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn opt_text(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|v| !v.is_empty())
}

impl IssueForm {
    /// The warning the form describes; a malformed value is reported with its field.
    fn to_spec(&self) -> Result<NewWarning, (String, String)> {
        let bad = |field: &str, v: &str| (field.to_string(), format!("'{v}'"));
        let level =
            WarningLevel::parse(self.level.trim()).ok_or_else(|| bad("level", &self.level))?;
        let response_deadline = match self.response_deadline.trim() {
            "" => None,
            s => Some(view::parse_form_time(s).ok_or_else(|| bad("response_deadline", s))?),
        };
        let small = |field: &str, s: &str| -> Result<Option<u8>, (String, String)> {
            match s.trim() {
                "" => Ok(None),
                v => v.parse().map(Some).map_err(|_| bad(field, v)),
            }
        };
        let org_ids = match self.org_id.trim() {
            "" => Vec::new(),
            s => vec![s.parse::<OrgId>().map_err(|_| bad("targets.org_ids", s))?],
        };
        let criterion = AssetCriterion {
            vendor: opt_text(&self.vendor),
            product: opt_text(&self.product),
            firmware: opt_text(&self.firmware),
            purl_prefix: opt_text(&self.purl_prefix),
            cpe_prefix: opt_text(&self.cpe_prefix),
        };
        let assets = if criterion == AssetCriterion::default() {
            Vec::new()
        } else {
            vec![criterion]
        };
        Ok(NewWarning {
            title: self.title.trim().to_string(),
            summary: self.summary.trim().to_string(),
            level,
            cves: split_list(&self.cves),
            indicators: split_list(&self.indicators),
            affected_products: opt_text(&self.affected_products),
            measures: opt_text(&self.measures),
            response_deadline,
            targets: WarningTargets {
                all: self.all.is_some(),
                org_ids,
                sectors: opt_text(&self.sector).into_iter().collect(),
                region_prefixes: split_list(&self.region_prefixes),
                mlps_min: small("targets.mlps_min", &self.mlps_min)?,
                cii_only: self.cii_only.is_some(),
                miit_grade_min: small("targets.miit_grade_min", &self.miit_grade_min)?,
                assets,
            },
        })
    }
}

pub async fn create(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    Form(f): Form<IssueForm>,
) -> UiResult {
    view::check_post_allowed(
        &ui,
        &headers,
        &f.csrf,
        ui.principal.allows(Action::IssueWarnings),
    )?;
    let t = ui.catalog();
    let spec = f
        .to_spec()
        .map_err(|(field, msg)| UiError::invalid(t, format!("{field}: {msg}")))?;
    let w = issue(&st, &auth_of(&ui), spec).await.ui(t)?;
    Ok(Redirect::to(&format!("/warnings/{}?issued=1", w.id)).into_response())
}

/// A recipient row of the detail page.
pub struct RecipientRow {
    pub org_id: String,
    pub org: String,
    pub delivered: String,
    pub acknowledged: String,
    pub by: String,
    pub response: String,
    pub pending: bool,
}

#[derive(Template)]
#[template(path = "warning.html")]
pub struct WarningPage {
    pub page: Frame,
    pub id: String,
    pub title: String,
    pub level: &'static str,
    pub level_class: &'static str,
    pub summary: String,
    pub cves: Vec<String>,
    pub indicators: Vec<String>,
    pub affected_products: String,
    pub measures: String,
    pub deadline: String,
    pub issued: String,
    pub issued_by: String,
    pub progress: String,
    /// The targets in words, one criterion a line.
    pub targets: Vec<String>,
    pub recipients: Vec<RecipientRow>,
    /// Staff see who has not acknowledged.
    pub staff: bool,
    pub pending: Vec<RecipientRow>,
    /// The caller may acknowledge (an organization user whose row is pending, or staff for
    /// a pending organization).
    pub can_ack: bool,
    pub pending_orgs: Vec<Opt>,
    pub flash: Option<&'static str>,
}

fn describe_targets(tg: &WarningTargets, lang: &str, t: &crate::ui::i18n::Catalog) -> Vec<String> {
    let mut out = Vec::new();
    if tg.all {
        out.push(t.t("warnings.target_all").to_string());
    }
    if !tg.org_ids.is_empty() {
        out.push(t.tf(
            "warnings.target_orgs",
            &[("n", &tg.org_ids.len().to_string())],
        ));
    }
    if !tg.sectors.is_empty() {
        let names: Vec<String> = tg
            .sectors
            .iter()
            .map(|s| view::sector_name(s, lang))
            .collect();
        out.push(format!("{}: {}", t.t("org.sector"), names.join(", ")));
    }
    if !tg.region_prefixes.is_empty() {
        out.push(format!(
            "{}: {}",
            t.t("warnings.region_prefixes"),
            tg.region_prefixes.join(", ")
        ));
    }
    if let Some(m) = tg.mlps_min {
        out.push(format!("{} ≥ {}", t.t("warnings.mlps_min"), m));
    }
    if tg.cii_only {
        out.push(t.t("warnings.cii_only").to_string());
    }
    if let Some(g) = tg.miit_grade_min {
        out.push(format!("{} ≥ {}", t.t("warnings.miit_grade_min"), g));
    }
    for a in &tg.assets {
        out.push(format!(
            "{}: {}",
            t.t("warnings.asset_criterion"),
            a.describe()
        ));
    }
    out
}

pub async fn detail(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadWarnings) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let id: WarningId = id.parse().map_err(|_| UiError::not_found(t))?;
    let d = load_detail(&st, &auth_of(&ui), id).await.ui(t)?;
    let w = &d.warning;
    let rows: Vec<RecipientRow> = d
        .recipient_status
        .iter()
        .map(|r| RecipientRow {
            org_id: r.org_id.to_string(),
            org: r.org_name.clone(),
            delivered: view::fmt_time(r.delivered_at),
            acknowledged: view::fmt_opt_time(r.acknowledged_at),
            by: r.acknowledged_by.clone().unwrap_or_default(),
            response: r.response.clone().unwrap_or_default(),
            pending: r.acknowledged_at.is_none(),
        })
        .collect();
    let staff = ui.principal.role != Role::OrgUser;
    let may_ack = ui.principal.allows(Action::AcknowledgeWarnings);
    let pending_orgs: Vec<Opt> = rows
        .iter()
        .filter(|r| r.pending)
        .map(|r| Opt::new(r.org_id.clone(), r.org.clone(), None))
        .collect();
    let p = Params::parse(raw.as_deref());
    let flash = if p.flag("issued") {
        Some("warnings.issued")
    } else if p.flag("acknowledged") {
        Some("warnings.acknowledged_flash")
    } else {
        None
    };
    Ok(html(&WarningPage {
        page: ui.frame("warnings", w.spec.title.clone()),
        id: w.id.to_string(),
        title: w.spec.title.clone(),
        level: w.spec.level.name(lang),
        level_class: level_class(w.spec.level),
        summary: w.spec.summary.clone(),
        cves: w.spec.cves.clone(),
        indicators: w.spec.indicators.clone(),
        affected_products: w.spec.affected_products.clone().unwrap_or_default(),
        measures: w.spec.measures.clone().unwrap_or_default(),
        deadline: view::fmt_opt_time(w.spec.response_deadline),
        issued: view::fmt_time(w.issued_at),
        issued_by: w.issued_by.clone(),
        progress: t.tf(
            "warnings.progress",
            &[
                ("n", &w.acknowledged.to_string()),
                ("m", &w.recipients.to_string()),
            ],
        ),
        targets: describe_targets(&w.spec.targets, lang, t),
        pending: if staff {
            rows.iter()
                .filter(|r| r.pending)
                .map(|r| RecipientRow {
                    org_id: r.org_id.clone(),
                    org: r.org.clone(),
                    delivered: r.delivered.clone(),
                    acknowledged: String::new(),
                    by: String::new(),
                    response: String::new(),
                    pending: true,
                })
                .collect()
        } else {
            Vec::new()
        },
        can_ack: may_ack && !pending_orgs.is_empty(),
        pending_orgs: if staff { pending_orgs } else { Vec::new() },
        recipients: rows,
        staff,
        flash,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub org_id: String,
    #[serde(default)]
    pub response: String,
}

pub async fn ack(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<AckForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    let id: WarningId = id.parse().map_err(|_| UiError::not_found(t))?;
    let org_id = match f.org_id.trim() {
        "" => None,
        s => Some(s.parse::<OrgId>().map_err(|_| UiError::not_found(t))?),
    };
    acknowledge(
        &st,
        &auth_of(&ui),
        id,
        AckBody {
            org_id,
            response: opt_text(&f.response),
        },
    )
    .await
    .ui(t)?;
    Ok(Redirect::to(&format!("/warnings/{id}?acknowledged=1")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_form_becomes_a_warning_with_named_problems() {
        let f = IssueForm {
            title: " PLC warning ".into(),
            summary: "text".into(),
            level: "red".into(),
            cves: "CVE-2024-0001, CVE-2024-0002\nCVE-2024-0003".into(),
            region_prefixes: "3301，33".into(),
            cii_only: Some("on".into()),
            mlps_min: "3".into(),
            vendor: "Siemens".into(),
            product: "S7-1200".into(),
            response_deadline: "2026-12-01T08:00".into(),
            ..IssueForm::default()
        };
        let w = f.to_spec().expect("valid form");
        assert_eq!(w.title, "PLC warning");
        assert_eq!(w.level, WarningLevel::Red);
        assert_eq!(w.cves.len(), 3);
        assert_eq!(w.targets.region_prefixes, vec!["3301", "33"]);
        assert!(w.targets.cii_only && !w.targets.all);
        assert_eq!(w.targets.mlps_min, Some(3));
        assert_eq!(w.targets.assets[0].vendor.as_deref(), Some("Siemens"));
        assert_eq!(
            w.response_deadline.map(|t| t.to_string()),
            Some("2026-12-01T00:00:00Z".into())
        );
        assert_eq!(w.validate(), Ok(()));
        let bad = IssueForm {
            level: "green".into(),
            ..IssueForm::default()
        };
        assert_eq!(bad.to_spec().map_err(|e| e.0), Err("level".into()));
        let bad = IssueForm {
            level: "blue".into(),
            mlps_min: "high".into(),
            ..IssueForm::default()
        };
        assert_eq!(
            bad.to_spec().map_err(|e| e.0),
            Err("targets.mlps_min".into())
        );
        assert_eq!(level_class(WarningLevel::Orange), "grade grade-orange");
    }
}
