//! `/assets`: the asset inventory.

use super::events::EventRow;
use super::orgs::ContactView;
use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, Opt, OrgNames, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vigil_model::{Action, Asset, AssetId, AssetKind, Importance};
use vigil_store::{AssetQuery, EventQuery, OrgQuery};

pub struct AssetRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub industrial: bool,
    pub importance: &'static str,
    pub importance_class: &'static str,
    pub org_id: String,
    pub org: String,
    pub addresses: String,
    pub vendor: String,
    pub updated: String,
}

pub fn importance_name(i: Importance, t: &'static Catalog) -> &'static str {
    match i {
        Importance::Low => t.t("importance.low"),
        Importance::Medium => t.t("importance.medium"),
        Importance::High => t.t("importance.high"),
        Importance::Critical => t.t("importance.critical"),
    }
}

impl AssetRow {
    pub fn new(a: &Asset, t: &'static Catalog, orgs: &OrgNames) -> Self {
        let s = &a.spec;
        let mut addresses: Vec<String> = s.ips.iter().map(ToString::to_string).collect();
        addresses.extend(s.cidrs.iter().map(ToString::to_string));
        addresses.extend(s.hostnames.iter().cloned());
        addresses.extend(s.domains.iter().cloned());
        addresses.extend(s.urls.iter().cloned());
        let more = addresses.len().saturating_sub(4);
        addresses.truncate(4);
        let mut addresses = addresses.join(", ");
        if more > 0 {
            addresses.push_str(&format!(" +{more}"));
        }
        let vendor = [s.vendor.as_deref(), s.model.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            id: a.id.to_string(),
            name: s.name.clone(),
            kind: s.kind.name(t.lang()),
            industrial: s.kind.is_industrial(),
            importance: importance_name(s.importance, t),
            importance_class: match s.importance {
                Importance::Critical => "imp imp-critical",
                Importance::High => "imp imp-high",
                Importance::Medium => "imp imp-medium",
                Importance::Low => "imp imp-low",
            },
            org_id: s.org_id.to_string(),
            org: orgs.name(s.org_id),
            addresses,
            vendor,
            updated: view::fmt_time(a.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "assets.html")]
pub struct AssetsPage {
    pub page: Frame,
    pub q: String,
    pub orgs: Vec<Opt>,
    pub kinds: Vec<Opt>,
    pub importances: Vec<Opt>,
    pub industrial: bool,
    pub assets: Vec<AssetRow>,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub error: Option<String>,
    /// The user may add assets (the "new asset" link).
    pub can_write: bool,
    /// Shown after an asset was deleted.
    pub notice: Option<&'static str>,
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadDirectory) {
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
    let q = AssetQuery {
        org_id: p.get("org_id").and_then(|o| o.parse().ok()),
        kind: p.get("kind").and_then(AssetKind::parse),
        industrial: p.flag("industrial").then_some(true),
        importance: p.get("importance").and_then(Importance::parse),
        text: p.get("q").map(str::to_string),
        limit: view::PAGE_SIZE,
        cursor: p.get("cursor").map(str::to_string),
    };
    let (rows, next, error) = match st.store.list_assets(scope, &q).await {
        Ok(page) => (
            page.items
                .iter()
                .map(|a| AssetRow::new(a, t, &names))
                .collect(),
            page.next_cursor,
            None,
        ),
        Err(vigil_store::StoreError::BadCursor(_)) => {
            (Vec::new(), None, Some(t.t("error.bad_cursor").to_string()))
        }
        Err(e) => return Err(UiError::from_store(e, t)),
    };
    Ok(html(&AssetsPage {
        page: ui.frame("assets", t.t("nav.assets").to_string()),
        q: p.string("q"),
        orgs: options(
            t,
            all_orgs
                .iter()
                .map(|o| (o.id.to_string(), o.spec.name.clone())),
            p.get("org_id"),
        ),
        kinds: options(
            t,
            AssetKind::ALL.iter().map(|k| (k.as_str(), k.name(lang))),
            p.get("kind"),
        ),
        importances: options(
            t,
            Importance::ALL
                .iter()
                .rev()
                .map(|i| (i.as_str(), importance_name(*i, t))),
            p.get("importance"),
        ),
        industrial: p.flag("industrial"),
        assets: rows,
        next_url: next.map(|c| p.with_cursor("/assets", Some(&c))),
        first_url: p.get("cursor").map(|_| p.with_cursor("/assets", None)),
        error,
        can_write: ui.principal.allows(Action::WriteAssets),
        notice: p.flag("deleted").then(|| t.t("assetform.deleted")),
    }))
}

/// One line of a software inventory.
pub struct SoftwareRow {
    pub name: String,
    pub version: String,
    pub purl: String,
    pub cpe: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
pub struct AssetPage {
    pub page: Frame,
    pub row: AssetRow,
    pub ips: String,
    pub cidrs: String,
    pub hostnames: String,
    pub domains: String,
    pub urls: Vec<String>,
    pub macs: String,
    pub firmware: String,
    pub tags: String,
    pub software: Vec<SoftwareRow>,
    pub responsible: Option<ContactView>,
    pub created: String,
    pub events: Vec<EventRow>,
    pub events_url: String,
    /// The user may edit or delete the asset (the edit link).
    pub can_write: bool,
    /// Shown after the asset was saved.
    pub notice: Option<&'static str>,
}

fn joined<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `/assets/{id}`: one asset with its identifiers, software inventory and latest events.
pub async fn detail(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadDirectory) {
        return Err(UiError::forbidden(t));
    }
    let scope = ui.principal.scope();
    let id: AssetId = id.parse().map_err(|_| UiError::not_found(t))?;
    let asset = st
        .store
        .get_asset(scope, id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let org = st.store.get_org(scope, asset.spec.org_id).await.ui(t)?;
    let names = OrgNames::new(org.as_slice());
    let events = if ui.principal.allows(Action::ReadEvents) {
        st.store
            .search_events(
                scope,
                &EventQuery {
                    asset_id: Some(id),
                    limit: 20,
                    ..EventQuery::default()
                },
            )
            .await
            .ui(t)?
            .items
            .iter()
            .map(|e| EventRow::new(e, &names))
            .collect()
    } else {
        Vec::new()
    };
    let s = &asset.spec;
    Ok(html(&AssetPage {
        page: ui.frame("assets", s.name.clone()),
        ips: joined(&s.ips),
        cidrs: joined(&s.cidrs),
        hostnames: s.hostnames.join(", "),
        domains: s.domains.join(", "),
        urls: s.urls.clone(),
        macs: s.macs.join(", "),
        firmware: s.firmware.clone().unwrap_or_default(),
        tags: s.tags.join(", "),
        software: s
            .software
            .iter()
            .map(|c| SoftwareRow {
                name: c.name.clone(),
                version: c.version.clone().unwrap_or_default(),
                purl: c.purl.clone().unwrap_or_default(),
                cpe: c.cpe.clone().unwrap_or_default(),
            })
            .collect(),
        responsible: s.responsible.as_ref().map(ContactView::from),
        created: view::fmt_time(asset.created_at),
        events,
        events_url: format!("/events?org_id={}", s.org_id),
        can_write: ui.principal.allows(Action::WriteAssets),
        notice: Params::parse(raw.as_deref())
            .flag("saved")
            .then(|| t.t("assetform.saved")),
        row: AssetRow::new(&asset, t, &names),
    }))
}
