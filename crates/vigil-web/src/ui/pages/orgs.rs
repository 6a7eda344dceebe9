//! `/orgs` directory and `/orgs/{id}` detail.

use super::assets::AssetRow;
use super::{AlertRow, IncidentRow};
use crate::state::AppState;
use crate::ui::view::{self, Opt, OrgNames, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vigil_model::{Action, Contact, OrgId, Organization, taxonomy};
use vigil_store::{AlertQuery, AssetQuery, IncidentQuery, OrgQuery};

pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub sector: String,
    pub region: String,
    pub mlps: u8,
    pub cii: bool,
    pub miit: String,
    pub responsible: String,
}

#[derive(Template)]
#[template(path = "orgs.html")]
pub struct OrgsPage {
    pub page: Frame,
    pub q: String,
    pub region: String,
    pub sectors: Vec<Opt>,
    pub mlps: Vec<Opt>,
    pub cii: Vec<Opt>,
    pub rows: Vec<OrgRow>,
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadDirectory) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let p = Params::parse(raw.as_deref());
    let q = OrgQuery {
        text: p.get("q").map(str::to_string),
        sector: p.get("sector").map(str::to_string),
        region_prefix: p
            .get("region")
            .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
            .map(region_prefix),
        mlps_level: p.get("mlps_level").and_then(|l| l.parse().ok()),
        cii: p.get("cii").and_then(|c| c.parse().ok()),
    };
    let orgs = st.store.list_orgs(ui.principal.scope(), &q).await.ui(t)?;
    let rows = orgs
        .iter()
        .map(|o| OrgRow {
            id: o.id.to_string(),
            name: o.spec.name.clone(),
            sector: view::sector_name(&o.spec.sector, lang),
            region: view::region_name(&o.spec.region_code, lang),
            mlps: o.spec.mlps_level,
            cii: o.spec.cii,
            miit: o
                .spec
                .miit_type
                .map(|m| m.name(lang).to_string())
                .unwrap_or_default(),
            responsible: o.spec.responsible.name.clone(),
        })
        .collect();
    let sectors = options(
        t,
        taxonomy::sectors()
            .iter()
            .map(|s| (s.term.code.clone(), s.term.name(lang).to_string())),
        p.get("sector"),
    );
    let mlps = options(
        t,
        taxonomy::mlps_levels()
            .iter()
            .map(|m| (m.code.clone(), m.name(lang).to_string())),
        p.get("mlps_level"),
    );
    let cii = options(
        t,
        [("true", t.t("common.yes")), ("false", t.t("common.no"))],
        p.get("cii"),
    );
    Ok(html(&OrgsPage {
        page: ui.frame("orgs", t.t("nav.orgs").to_string()),
        q: p.string("q"),
        region: p.string("region"),
        sectors,
        mlps,
        cii,
        rows,
    }))
}

/// The prefix a region code filters by: `330000` (a province) → `33`, `330100` → `3301`.
fn region_prefix(code: &str) -> String {
    let mut r = code;
    while r.len() > 2 && r.ends_with("00") {
        r = &r[..r.len() - 2];
    }
    r.to_string()
}

/// A contact as display lines.
pub struct ContactView {
    pub name: String,
    pub title: String,
    pub phone: String,
    pub email: String,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        Self {
            name: c.name.clone(),
            title: c.title.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            email: c.email.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "org.html")]
pub struct OrgPage {
    pub page: Frame,
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub sector: String,
    pub sector_code: String,
    pub cii_sector: bool,
    pub region: String,
    pub region_code: String,
    pub mlps: String,
    pub cii: bool,
    pub miit_type: String,
    pub miit_grade: String,
    pub responsible: ContactView,
    pub contacts: Vec<ContactView>,
    pub created: String,
    pub updated: String,
    pub assets: Vec<AssetRow>,
    pub more_assets: bool,
    pub incidents: Vec<IncidentRow>,
    pub alerts: Vec<AlertRow>,
}

pub async fn detail(State(st): State<AppState>, ui: UiAuth, Path(id): Path<String>) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadDirectory) {
        return Err(UiError::forbidden(t));
    }
    let lang = t.lang();
    let scope = ui.principal.scope();
    let id: OrgId = id.parse().map_err(|_| UiError::not_found(t))?;
    let org: Organization = st
        .store
        .get_org(scope, id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let names = OrgNames::new(std::slice::from_ref(&org));

    let assets = st
        .store
        .list_assets(
            scope,
            &AssetQuery {
                org_id: Some(id),
                limit: view::PAGE_SIZE,
                ..AssetQuery::default()
            },
        )
        .await
        .ui(t)?;
    let incidents = if ui.principal.allows(Action::ReadIncidents) {
        st.store
            .list_incidents(
                scope,
                &IncidentQuery {
                    org_id: Some(id),
                    open: Some(true),
                    limit: view::PAGE_SIZE,
                    ..IncidentQuery::default()
                },
            )
            .await
            .ui(t)?
            .items
    } else {
        Vec::new()
    };
    let alerts = if ui.principal.allows(Action::ReadAlerts) {
        st.store
            .list_alerts(
                scope,
                &AlertQuery {
                    org_id: Some(id),
                    limit: 10,
                    ..AlertQuery::default()
                },
            )
            .await
            .ui(t)?
            .items
    } else {
        Vec::new()
    };

    let s = &org.spec;
    Ok(html(&OrgPage {
        page: ui.frame("orgs", s.name.clone()),
        id: org.id.to_string(),
        name: s.name.clone(),
        uscc: s.uscc.clone().unwrap_or_default(),
        sector: view::sector_name(&s.sector, lang),
        sector_code: s.sector.clone(),
        cii_sector: taxonomy::sector(&s.sector).is_some_and(|x| x.cii_sector),
        region: view::region_name(&s.region_code, lang),
        region_code: s.region_code.clone(),
        mlps: view::mlps_name(s.mlps_level, lang),
        cii: s.cii,
        miit_type: s
            .miit_type
            .map(|m| m.name(lang).to_string())
            .unwrap_or_default(),
        miit_grade: s
            .miit_grade
            .map(|g| view::miit_grade_name(g, lang))
            .unwrap_or_default(),
        responsible: ContactView::from(&s.responsible),
        contacts: s.contacts.iter().map(ContactView::from).collect(),
        created: view::fmt_time(org.created_at),
        updated: view::fmt_time(org.updated_at),
        more_assets: assets.next_cursor.is_some(),
        assets: assets
            .items
            .iter()
            .map(|a| AssetRow::new(a, t, &names))
            .collect(),
        incidents: incidents
            .iter()
            .map(|i| IncidentRow::new(i, t, &names))
            .collect(),
        alerts: alerts.iter().map(|a| AlertRow::new(a, t, &names)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_prefixes_drop_trailing_zero_pairs() {
        assert_eq!(super::region_prefix("330000"), "33");
        assert_eq!(super::region_prefix("500000"), "50");
        assert_eq!(super::region_prefix("330100"), "3301");
        assert_eq!(super::region_prefix("33"), "33");
        assert_eq!(super::region_prefix("330106"), "330106");
    }
}
