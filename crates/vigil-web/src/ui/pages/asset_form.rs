//! `/assets/new`, `/assets/{id}/edit` and `/assets/{id}/delete`: the asset inventory forms,
//! for organization users (their own organization's assets) and platform staff.
//!
//! The forms work without scripts (the CSP allows none inline): the software inventory is a
//! table of numbered rows (`sw_name_0`, `sw_version_0`, `sw_purl_0`, `sw_cpe_0`,
//! `sw_remove_0`…); "add a row" is a submit button that renders the form again with what was
//! typed and one more empty row, and a row is removed by ticking its box (or leaving it
//! empty). Saving goes through the API's path (`api::assets::{create_asset, update_asset,
//! delete_asset}`): scope, validation, the platform-owned fields (`importance`, `org_id`,
//! see [`crate::api::assets::check_platform_fields`]) and the audit log are the same.
//! A refused or invalid form is shown again with the message and the values typed.

use super::assets::importance_name;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::Opt;
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use vigil_model::{
    Action, Asset, AssetId, AssetKind, Contact, Importance, NewAsset, OrgId, SoftwareComponent,
};
use vigil_store::OrgQuery;

/// Most software rows one form carries.
pub const MAX_SOFTWARE_ROWS: usize = 500;
/// Empty rows offered at the end of the software table.
const BLANK_ROWS: usize = 2;

/// One software row as the form shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwRow {
    pub index: usize,
    pub name: String,
    pub version: String,
    pub purl: String,
    pub cpe: String,
}

impl SwRow {
    fn is_empty(&self) -> bool {
        [&self.name, &self.version, &self.purl, &self.cpe]
            .iter()
            .all(|s| s.trim().is_empty())
    }
}

/// The form's values, as typed (lists one entry per line or separated by commas).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetForm {
    pub org_id: String,
    pub name: String,
    pub kind: String,
    /// Empty when the form did not carry it (then the stored or default importance).
    pub importance: String,
    pub ips: String,
    pub cidrs: String,
    pub hostnames: String,
    pub domains: String,
    pub urls: String,
    pub macs: String,
    pub vendor: String,
    pub model: String,
    pub firmware: String,
    pub tags: String,
    pub resp_name: String,
    pub resp_title: String,
    pub resp_phone: String,
    pub resp_email: String,
    pub software: Vec<SwRow>,
}

/// What the POST asked for besides the values.
#[derive(Debug, Default)]
struct Posted {
    form: AssetForm,
    csrf: String,
    add_row: bool,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|x| !x.is_empty())
}

/// Reads an `application/x-www-form-urlencoded` body (repeated and numbered fields).
fn parse_posted(body: &[u8]) -> Result<Posted, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("form: {e}"))?;
    let mut p = Posted::default();
    let mut rows: std::collections::BTreeMap<usize, (SwRow, bool)> = Default::default();
    for (k, v) in pairs {
        let f = &mut p.form;
        match k.as_str() {
            "csrf" => p.csrf = v,
            "add_row" => p.add_row = true,
            "org_id" => f.org_id = v,
            "name" => f.name = v,
            "kind" => f.kind = v,
            "importance" => f.importance = v,
            "ips" => f.ips = v,
            "cidrs" => f.cidrs = v,
            "hostnames" => f.hostnames = v,
            "domains" => f.domains = v,
            "urls" => f.urls = v,
            "macs" => f.macs = v,
            "vendor" => f.vendor = v,
            "model" => f.model = v,
            "firmware" => f.firmware = v,
            "tags" => f.tags = v,
            "resp_name" => f.resp_name = v,
            "resp_title" => f.resp_title = v,
            "resp_phone" => f.resp_phone = v,
            "resp_email" => f.resp_email = v,
            other => {
                let Some((field, idx)) = other
                    .strip_prefix("sw_")
                    .and_then(|r| r.rsplit_once('_'))
                    .and_then(|(field, i)| Some((field, i.parse::<usize>().ok()?)))
                else {
                    continue;
                };
                if !rows.contains_key(&idx) && rows.len() > MAX_SOFTWARE_ROWS + BLANK_ROWS {
                    return Err(format!(
                        "software: at most {MAX_SOFTWARE_ROWS} components in one form"
                    ));
                }
                let (row, removed) = rows.entry(idx).or_default();
                match field {
                    "name" => row.name = v,
                    "version" => row.version = v,
                    "purl" => row.purl = v,
                    "cpe" => row.cpe = v,
                    "remove" => *removed = true,
                    _ => {}
                }
            }
        }
    }
    p.form.software = rows
        .into_values()
        .filter(|(r, removed)| !removed && !r.is_empty())
        .map(|(r, _)| r)
        .enumerate()
        .map(|(i, r)| SwRow { index: i, ..r })
        .collect();
    if p.form.software.len() > MAX_SOFTWARE_ROWS {
        return Err(format!(
            "software: at most {MAX_SOFTWARE_ROWS} components in one form"
        ));
    }
    Ok(p)
}

impl AssetForm {
    /// The form of a stored asset.
    pub fn of(a: &NewAsset) -> Self {
        let join = |v: &[String]| v.join("\n");
        let r = a.responsible.clone().unwrap_or_default();
        Self {
            org_id: a.org_id.to_string(),
            name: a.name.clone(),
            kind: a.kind.as_str().into(),
            importance: a.importance.as_str().into(),
            ips: a
                .ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            cidrs: a
                .cidrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            hostnames: join(&a.hostnames),
            domains: join(&a.domains),
            urls: join(&a.urls),
            macs: join(&a.macs),
            vendor: a.vendor.clone().unwrap_or_default(),
            model: a.model.clone().unwrap_or_default(),
            firmware: a.firmware.clone().unwrap_or_default(),
            tags: a.tags.join(", "),
            resp_name: r.name,
            resp_title: r.title.unwrap_or_default(),
            resp_phone: r.phone.unwrap_or_default(),
            resp_email: r.email.unwrap_or_default(),
            software: a
                .software
                .iter()
                .enumerate()
                .map(|(i, c)| SwRow {
                    index: i,
                    name: c.name.clone(),
                    version: c.version.clone().unwrap_or_default(),
                    purl: c.purl.clone().unwrap_or_default(),
                    cpe: c.cpe.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// The asset the form describes; `importance` falls back to `default_importance` when
    /// the form did not carry one. Errors name the field as the API does.
    pub fn to_spec(&self, default_importance: Importance) -> Result<NewAsset, ApiError> {
        let org_id: OrgId = self
            .org_id
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid("org_id", "choose an organization"))?;
        let kind = AssetKind::parse(self.kind.trim())
            .ok_or_else(|| ApiError::invalid("kind", "choose a kind"))?;
        let importance = match self.importance.trim() {
            "" => default_importance,
            s => Importance::parse(s)
                .ok_or_else(|| ApiError::invalid("importance", format!("'{s}'")))?,
        };
        let ips = split_list(&self.ips)
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse().map_err(|_| {
                    ApiError::invalid(&format!("ips[{i}]"), format!("'{s}' is not an IP address"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cidrs = split_list(&self.cidrs)
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse().map_err(|_| {
                    ApiError::invalid(&format!("cidrs[{i}]"), format!("'{s}' is not a CIDR range"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let responsible = if [
            &self.resp_name,
            &self.resp_title,
            &self.resp_phone,
            &self.resp_email,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
        {
            None
        } else {
            Some(Contact {
                name: self.resp_name.trim().to_string(),
                title: opt(&self.resp_title),
                phone: opt(&self.resp_phone),
                email: opt(&self.resp_email),
            })
        };
        let software = self
            .software
            .iter()
            .map(|r| SoftwareComponent {
                name: r.name.trim().to_string(),
                version: opt(&r.version),
                purl: opt(&r.purl),
                cpe: opt(&r.cpe),
            })
            .collect();
        Ok(NewAsset {
            org_id,
            name: self.name.trim().to_string(),
            kind,
            importance,
            ips,
            cidrs,
            hostnames: split_list(&self.hostnames),
            domains: split_list(&self.domains),
            urls: split_list(&self.urls),
            macs: split_list(&self.macs),
            vendor: opt(&self.vendor),
            model: opt(&self.model),
            firmware: opt(&self.firmware),
            software,
            responsible,
            tags: split_list(&self.tags),
        })
    }
}

#[derive(Template)]
#[template(path = "asset_form.html")]
pub struct AssetFormPage {
    pub page: Frame,
    /// `/assets/new` or `/assets/{id}/edit`.
    pub action: String,
    /// Set when editing: the asset's id (for the delete form and the way back).
    pub asset_id: Option<String>,
    pub form: AssetForm,
    pub orgs: Vec<Opt>,
    /// Only one organization to choose from (an organization user's own).
    pub org_fixed: Option<String>,
    pub kinds: Vec<Opt>,
    pub importances: Vec<Opt>,
    /// The user may set any importance; otherwise only the stored one or higher is offered.
    pub can_grade: bool,
    /// The software rows followed by empty ones.
    pub rows: Vec<SwRow>,
    pub error: Option<String>,
}

async fn render_form(
    st: &AppState,
    ui: &UiAuth,
    before: Option<&Asset>,
    form: AssetForm,
    extra_rows: usize,
    error: Option<String>,
) -> UiResult {
    let asset_id = before.map(|a| a.id);
    let t = ui.catalog();
    let lang = t.lang();
    let scope = ui.principal.scope();
    let orgs = st
        .store
        .list_orgs(scope, &OrgQuery::default())
        .await
        .ui(t)?;
    let can_grade = ui.principal.allows(Action::GradeAssets);
    let org_fixed = if can_grade {
        None
    } else {
        orgs.iter()
            .find(|o| o.id.to_string() == form.org_id)
            .or(orgs.first())
            .map(|o| o.spec.name.clone())
    };
    let floor =
        crate::api::assets::importance_floor(&ui.principal, before.map(|a| a.spec.importance));
    let current_importance = Importance::parse(&form.importance).unwrap_or(floor);
    let mut rows = form.software.clone();
    for i in 0..(BLANK_ROWS + extra_rows) {
        rows.push(SwRow {
            index: form.software.len() + i,
            ..SwRow::default()
        });
    }
    let title = match asset_id {
        Some(_) => t.tf("assetform.edit_title", &[("name", &form.name)]),
        None => t.t("assetform.new").to_string(),
    };
    let mut kinds = vec![Opt::new(
        "",
        t.t("assetform.choose"),
        Some(form.kind.as_str()),
    )];
    kinds.extend(
        AssetKind::ALL
            .iter()
            .map(|k| Opt::new(k.as_str(), k.name(lang), Some(form.kind.as_str()))),
    );
    let page = AssetFormPage {
        page: ui.frame("assets", title),
        action: match asset_id {
            Some(id) => format!("/assets/{id}/edit"),
            None => "/assets/new".into(),
        },
        asset_id: asset_id.map(|i| i.to_string()),
        orgs: std::iter::once(Opt::new(
            "",
            t.t("assetform.choose"),
            Some(form.org_id.as_str()),
        ))
        .chain(orgs.iter().map(|o| {
            Opt::new(
                o.id.to_string(),
                o.spec.name.clone(),
                Some(form.org_id.as_str()),
            )
        }))
        .collect(),
        org_fixed,
        kinds,
        importances: Importance::ALL
            .iter()
            .rev()
            .filter(|i| **i >= floor)
            .map(|i| {
                Opt::new(
                    i.as_str(),
                    importance_name(*i, t),
                    Some(current_importance.as_str()),
                )
            })
            .collect(),
        can_grade,
        rows,
        form,
        error,
    };
    let mut resp = html(&page);
    if page.error.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

fn require_write(ui: &UiAuth) -> UiResult<&'static Catalog> {
    let t = ui.catalog();
    if ui.principal.allows(Action::WriteAssets) {
        Ok(t)
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(UiError::forbidden(t))
    }
}

/// `GET /assets/new`.
pub async fn new_form(State(st): State<AppState>, ui: UiAuth) -> UiResult {
    require_write(&ui)?;
    let form = AssetForm {
        org_id: ui
            .principal
            .org_id
            .map(|o| o.to_string())
            .unwrap_or_default(),
        importance: crate::api::assets::UNGRADED_IMPORTANCE.as_str().into(),
        ..AssetForm::default()
    };
    render_form(&st, &ui, None, form, 0, None).await
}

async fn load(st: &AppState, ui: &UiAuth, id: &str) -> UiResult<Asset> {
    let t = ui.catalog();
    let id: AssetId = id.parse().map_err(|_| UiError::not_found(t))?;
    st.store
        .get_asset(ui.principal.scope(), id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))
}

/// `GET /assets/{id}/edit`.
pub async fn edit_form(State(st): State<AppState>, ui: UiAuth, Path(id): Path<String>) -> UiResult {
    require_write(&ui)?;
    let asset = load(&st, &ui, &id).await?;
    let form = AssetForm::of(&asset.spec);
    render_form(&st, &ui, Some(&asset), form, 0, None).await
}

/// A refusal or invalid value shown on the form (with the API's status); anything else is
/// an error page.
fn form_error(e: ApiError, t: &'static Catalog) -> Result<(StatusCode, String), UiError> {
    match e.status {
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => Ok((
            e.status,
            t.tf("assetform.refused", &[("reason", &e.message)]),
        )),
        _ => Err(UiError::from_api(e, t.locale)),
    }
}

/// `POST /assets/new`.
pub async fn create(
    State(st): State<AppState>,
    ui: UiAuth,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult {
    save(st, ui, headers, body, None).await
}

/// `POST /assets/{id}/edit`.
pub async fn update(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult {
    let t = ui.catalog();
    let id: AssetId = id.parse().map_err(|_| UiError::not_found(t))?;
    save(st, ui, headers, body, Some(id)).await
}

async fn save(
    st: AppState,
    ui: UiAuth,
    headers: HeaderMap,
    body: Bytes,
    id: Option<AssetId>,
) -> UiResult {
    let t = ui.catalog();
    let posted = parse_posted(&body).map_err(|e| UiError::invalid(t, e))?;
    ui.check_post(&headers, &posted.csrf)?;
    require_write(&ui)?;
    // Another organization's asset is absent before anything else is said about the form.
    let before = match id {
        Some(id) => Some(load(&st, &ui, &id.to_string()).await?),
        None => None,
    };
    let form = posted.form;
    if posted.add_row {
        return render_form(&st, &ui, before.as_ref(), form, 1, None).await;
    }
    let default_importance = before
        .as_ref()
        .map_or(crate::api::assets::UNGRADED_IMPORTANCE, |a| {
            a.spec.importance
        });
    let result = match form.to_spec(default_importance) {
        Ok(spec) => match id {
            Some(id) => crate::api::assets::update_asset(&st, &ui.principal, id, spec).await,
            None => crate::api::assets::create_asset(&st, &ui.principal, spec).await,
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(asset) => Ok(Redirect::to(&format!("/assets/{}?saved=1", asset.id)).into_response()),
        Err(e) if e.status == StatusCode::NOT_FOUND && id.is_some() => Err(UiError::not_found(t)),
        Err(e) => {
            let (status, msg) = form_error(e, t)?;
            let mut resp = render_form(&st, &ui, before.as_ref(), form, 0, Some(msg)).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /assets/{id}/delete`.
pub async fn delete(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<DeleteForm>,
) -> Result<Response, UiError> {
    ui.check_post(&headers, &f.csrf)?;
    let t = require_write(&ui)?;
    let id: AssetId = id.parse().map_err(|_| UiError::not_found(t))?;
    crate::api::assets::delete_asset(&st, &ui.principal, id)
        .await
        .ui(t)?;
    Ok(Redirect::to("/assets?deleted=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
        serde_urlencoded::to_string(pairs)
            .expect("form")
            .into_bytes()
    }

    #[test]
    fn numbered_software_rows_are_read_and_empty_or_removed_ones_dropped() {
        let org = OrgId::new().to_string();
        let p = parse_posted(&body(&[
            ("csrf", "x"),
            ("org_id", &org),
            ("name", "HMI 3"),
            ("kind", "hmi"),
            ("ips", "10.0.0.1, 10.0.0.2\n"),
            ("sw_name_0", "openssl"),
            ("sw_version_0", "1.1.1k"),
            ("sw_purl_0", "pkg:generic/openssl@1.1.1k"),
            ("sw_name_1", "wincc"),
            ("sw_remove_1", "1"),
            ("sw_name_2", ""),
            ("sw_name_7", "log4j"),
            ("sw_cpe_7", "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"),
        ]))
        .expect("parsed");
        assert_eq!(p.csrf, "x");
        assert!(!p.add_row);
        let names: Vec<_> = p.form.software.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["openssl", "log4j"]);
        assert_eq!(p.form.software[1].index, 1, "renumbered");
        let spec = p.form.to_spec(Importance::Medium).expect("spec");
        assert_eq!(spec.ips.len(), 2);
        assert_eq!(spec.software[0].version.as_deref(), Some("1.1.1k"));
        assert_eq!(spec.software[1].purl, None);
        assert_eq!(spec.importance, Importance::Medium);
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn bad_values_name_their_field() {
        let form = AssetForm {
            org_id: OrgId::new().to_string(),
            name: "x".into(),
            kind: "host".into(),
            ips: "10.0.0.1\n999.1.1.1".into(),
            ..AssetForm::default()
        };
        let e = form.to_spec(Importance::Low).expect_err("bad ip");
        assert!(e.message.starts_with("ips[1]"), "{}", e.message);
        let form = AssetForm {
            kind: "toaster".into(),
            ..form
        };
        assert!(form.to_spec(Importance::Low).is_err());
    }

    #[test]
    fn a_stored_asset_round_trips_through_the_form() {
        let spec = NewAsset {
            org_id: OrgId::new(),
            name: "Line 3 PLC".into(),
            kind: AssetKind::Plc,
            importance: Importance::Critical,
            ips: vec!["10.20.3.15".parse().expect("ip")],
            cidrs: vec!["10.20.3.0/24".parse().expect("cidr")],
            hostnames: vec!["plc-3.plant.local".into()],
            domains: vec![],
            urls: vec!["https://plc-3.plant.local/".into()],
            macs: vec!["00:1d:9c:c7:b0:70".into()],
            vendor: Some("Siemens".into()),
            model: Some("S7-1500".into()),
            firmware: Some("V2.9.4".into()),
            software: vec![SoftwareComponent {
                name: "openssl".into(),
                version: Some("1.1.1k".into()),
                purl: Some("pkg:generic/openssl@1.1.1k".into()),
                cpe: None,
            }],
            responsible: Some(Contact {
                name: "Li Wei".into(),
                title: None,
                phone: Some("+86 10 0000 0000".into()),
                email: None,
            }),
            tags: vec!["ics".into(), "line-3".into()],
        };
        let back = AssetForm::of(&spec).to_spec(Importance::Low).expect("spec");
        assert_eq!(back, spec);
    }
}
