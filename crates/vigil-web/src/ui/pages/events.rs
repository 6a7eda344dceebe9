//! `/events` search and `/events/{id}` detail.

use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, Opt, OrgNames, Params, options};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vigil_model::{Action, Event, EventId};
use vigil_store::{EventQuery, FieldFilter, OrgQuery};

pub struct EventRow {
    pub id: i64,
    pub time: String,
    pub org: String,
    pub host: String,
    pub source_ip: String,
    pub action: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "events.html")]
pub struct EventsPage {
    pub page: Frame,
    pub from: String,
    pub to: String,
    pub q: String,
    /// The filters given, plus empty inputs for more.
    pub filters: Vec<String>,
    pub orgs: Vec<Opt>,
    pub rows: Vec<EventRow>,
    pub searched: bool,
    pub next_url: Option<String>,
    pub first_url: Option<String>,
    pub errors: Vec<String>,
}

/// Builds the store query from the form. Problems are reported on the page, not as an error
/// page, so the user can correct the form.
fn event_query(p: &Params, t: &'static Catalog) -> (EventQuery, Vec<String>) {
    let mut errors = Vec::new();
    let mut q = EventQuery {
        limit: view::PAGE_SIZE,
        text: p.get("q").map(str::to_string),
        cursor: p.get("cursor").map(str::to_string),
        ..EventQuery::default()
    };
    for (name, slot) in [("from", &mut q.from), ("to", &mut q.to)] {
        if let Some(v) = p.get(name) {
            match view::parse_form_time(v) {
                Some(ts) => *slot = Some(ts),
                None => errors.push(t.tf("events.bad_time", &[("value", v)])),
            }
        }
    }
    if let Some(o) = p.get("org_id") {
        match o.parse() {
            Ok(id) => q.org_id = Some(id),
            Err(_) => errors.push(t.tf("events.bad_org", &[("value", o)])),
        }
    }
    for f in p.all("filter").into_iter().take(20) {
        match f.split_once(':') {
            Some((field, value)) if !field.trim().is_empty() && field.len() <= 200 => {
                q.filters.push(FieldFilter {
                    field: field.trim().to_string(),
                    value: value.trim().to_string(),
                })
            }
            _ => errors.push(t.tf("events.bad_filter", &[("value", f)])),
        }
    }
    (q, errors)
}

fn field(e: &Event, name: &str) -> String {
    e.event.field_text(name).unwrap_or_default()
}

impl EventRow {
    pub fn new(e: &Event, names: &OrgNames) -> Self {
        Self {
            id: e.id,
            time: view::fmt_time(e.event.timestamp),
            org: names.name(e.event.org_id),
            host: field(e, "host.name"),
            source_ip: field(e, "source.ip"),
            action: field(e, "event.action"),
            message: view::truncate(&e.event.message(), 240),
        }
    }
}

pub async fn list(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadEvents) {
        return Err(UiError::forbidden(t));
    }
    let scope = ui.principal.scope();
    let p = Params::parse(raw.as_deref());
    let all_orgs = st
        .store
        .list_orgs(scope, &OrgQuery::default())
        .await
        .ui(t)?;
    let names = OrgNames::new(&all_orgs);
    let (q, mut errors) = event_query(&p, t);
    let mut rows = Vec::new();
    let mut next = None;
    if errors.is_empty() {
        match st.store.search_events(scope, &q).await {
            Ok(page) => {
                rows = page
                    .items
                    .iter()
                    .map(|e| EventRow::new(e, &names))
                    .collect();
                next = page.next_cursor;
            }
            Err(vigil_store::StoreError::BadCursor(_)) => {
                errors.push(t.t("error.bad_cursor").to_string())
            }
            Err(vigil_store::StoreError::Invalid(v)) => errors.push(v.to_string()),
            Err(e) => return Err(UiError::from_store(e, t)),
        }
    }
    let mut filters: Vec<String> = p.all("filter").into_iter().map(str::to_string).collect();
    let blanks = if filters.is_empty() { 2 } else { 1 };
    filters.extend(std::iter::repeat_n(String::new(), blanks));
    let searched = ["from", "to", "q", "filter", "org_id"]
        .iter()
        .any(|k| p.get(k).is_some());
    Ok(html(&EventsPage {
        page: ui.frame("events", t.t("nav.events").to_string()),
        from: p.string("from"),
        to: p.string("to"),
        q: p.string("q"),
        filters,
        orgs: options(
            t,
            all_orgs
                .iter()
                .map(|o| (o.id.to_string(), o.spec.name.clone())),
            p.get("org_id"),
        ),
        rows,
        searched,
        next_url: next.map(|c| p.with_cursor("/events", Some(&c))),
        first_url: p.get("cursor").map(|_| p.with_cursor("/events", None)),
        errors,
    }))
}

pub struct FieldRow {
    pub name: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "event.html")]
pub struct EventPage {
    pub page: Frame,
    pub id: i64,
    pub time: String,
    pub received: String,
    pub org_id: String,
    pub org: String,
    pub asset: String,
    pub input: String,
    pub sender: String,
    pub message: String,
    pub fields: Vec<FieldRow>,
    pub native: Vec<FieldRow>,
    pub raw: String,
}

pub async fn detail(State(st): State<AppState>, ui: UiAuth, Path(id): Path<String>) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadEvents) {
        return Err(UiError::forbidden(t));
    }
    let scope = ui.principal.scope();
    let id: EventId = id.parse().map_err(|_| UiError::not_found(t))?;
    let e = st
        .store
        .get_event(scope, id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let org = st.store.get_org(scope, e.event.org_id).await.ui(t)?;
    let asset = match e.event.asset_id {
        Some(a) => st
            .store
            .get_asset(scope, a)
            .await
            .ui(t)?
            .map(|x| x.spec.name)
            .unwrap_or_else(|| a.to_string()),
        None => String::new(),
    };
    let rows = |m: &std::collections::BTreeMap<String, serde_json::Value>| {
        m.iter()
            .map(|(k, v)| FieldRow {
                name: k.clone(),
                value: view::value_text(v),
            })
            .collect()
    };
    let ev = &e.event;
    Ok(html(&EventPage {
        page: ui.frame("events", format!("{} #{}", t.t("event.title"), e.id)),
        id: e.id,
        time: view::fmt_time(ev.timestamp),
        received: view::fmt_time(ev.received_at),
        org_id: ev.org_id.to_string(),
        org: org
            .map(|o| o.spec.name)
            .unwrap_or_else(|| ev.org_id.to_string()),
        asset,
        input: ev.provenance.input.clone(),
        sender: ev.provenance.sender.clone().unwrap_or_default(),
        message: ev.message(),
        fields: rows(&ev.fields),
        native: rows(&ev.native),
        raw: String::from_utf8_lossy(&ev.raw).into_owned(),
    }))
}
