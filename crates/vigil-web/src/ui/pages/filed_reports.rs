//! Filed regulatory reports on the incident page: the list with links, the "file initial /
//! supplement / final report" buttons (`POST /incidents/{id}/reports`), and a filed report
//! printed again from its stored snapshot (`/incidents/{id}/reports/{rid}[?format=pdf]`). The
//! filing and the digest check are the API's ([`crate::api::filed_reports`]).

use super::incident_report::{ReportDocument, view};
use crate::incident_report::{IncidentReport, ReportKind};
use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self as uiview, Params};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use vigil_model::{Action, IncidentId, Scope};
use vigil_store::{FiledReport, FiledReportId};

/// One filed report as the incident page lists it.
pub struct FiledRow {
    pub seq: u32,
    pub kind: String,
    pub filed_by: String,
    pub filed_at: String,
    pub sm3: String,
    /// The printable page of the stored report.
    pub href: String,
    pub pdf_href: String,
    /// The stored JSON as filed (the API checks the digest before serving it).
    pub json_href: String,
}

/// A "file … report" button.
pub struct FileButton {
    pub kind: &'static str,
    pub label: String,
}

/// The filed-reports section of the incident page.
pub struct FiledSection {
    pub rows: Vec<FiledRow>,
    /// Empty when the user may not file reports.
    pub buttons: Vec<FileButton>,
}

fn kind_label(kind: &str, t: &Catalog) -> String {
    t.t(&format!("increport.kind_{kind}")).to_string()
}

/// The filed reports of an incident the user can see, and the filing buttons when the user
/// may file.
pub async fn section(
    st: &AppState,
    ui: &UiAuth,
    scope: Scope,
    id: IncidentId,
) -> UiResult<FiledSection> {
    let t = ui.catalog();
    let rows = st
        .store
        .list_filed_reports(scope, id)
        .await
        .ui(t)?
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let href = format!("/incidents/{}/reports/{}", r.incident_id, r.id);
            FiledRow {
                seq: r.seq,
                kind: kind_label(&r.kind, t),
                filed_by: r.filed_by.clone(),
                filed_at: uiview::fmt_time(r.filed_at),
                sm3: r.sm3.clone(),
                pdf_href: format!("{href}?format=pdf"),
                json_href: format!("/api/v1/incidents/{}/reports/{}", r.incident_id, r.id),
                href,
            }
        })
        .collect();
    let buttons = if ui.principal.allows(Action::ManageIncidents) {
        ReportKind::ALL
            .iter()
            .map(|k| FileButton {
                kind: k.as_str(),
                label: t.t(&format!("filed.file_{}", k.as_str())).to_string(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(FiledSection { rows, buttons })
}

/// A frame for a document printed outside a page (no user, no navigation).
fn print_frame(t: &'static Catalog, title: String) -> Frame {
    Frame {
        t,
        title,
        nav: "incidents",
        user: String::new(),
        role: String::new(),
        csrf: String::new(),
        here: String::new(),
        wall: false,
        refresh: None,
        css_version: String::new(),
        ops: false,
    }
}

fn title(report: &IncidentReport, rec: &FiledReport, t: &Catalog) -> String {
    format!(
        "{} #{} · {}",
        kind_label(&rec.kind, t),
        rec.seq,
        report.title
    )
}

/// The stored report printed to PDF in the catalog's language.
pub async fn filed_pdf(
    report: &IncidentReport,
    rec: &FiledReport,
    t: &'static Catalog,
) -> Result<Response, crate::pdf::PdfError> {
    let doc = ReportDocument {
        page: print_frame(t, title(report, rec, t)),
        r: view(report, t),
    };
    let body = doc.render().map_err(|e| {
        tracing::error!(error = %e, "rendering a filed report document failed");
        crate::pdf::PdfError::Failed(format!("template: {e}"))
    })?;
    let bytes = crate::pdf::render(body).await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!(
        "attachment; filename=\"incident-{}-report-{}-{}.pdf\"",
        rec.incident_id, rec.seq, rec.kind
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&rec.sm3) {
        h.insert("x-report-sm3", v);
    }
    Ok(resp)
}

fn ui_error(e: crate::error::ApiError, t: &'static Catalog) -> UiError {
    match e.status {
        StatusCode::NOT_FOUND => UiError::not_found(t),
        StatusCode::FORBIDDEN => UiError::forbidden(t),
        s => UiError::with_message(s, t, &e.message),
    }
}

/// `GET /incidents/{id}/reports/{rid}[?format=pdf]`: a filed report as it was filed, checked
/// against its digest, printable, or as PDF.
pub async fn show(
    State(st): State<AppState>,
    ui: UiAuth,
    Path((id, rid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadIncidents) {
        return Err(UiError::forbidden(t));
    }
    let p = Params::parse(raw.as_deref());
    let pdf = match p.get("format") {
        None | Some("html") => false,
        Some("pdf") => true,
        Some(other) => {
            return Err(UiError::invalid(
                t,
                format!("format: '{other}' is not html or pdf"),
            ));
        }
    };
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let rid: FiledReportId = rid.parse().map_err(|_| UiError::not_found(t))?;
    let (rec, bytes) = crate::api::filed_reports::read_filed(&st, &ui.principal, id, rid)
        .await
        .map_err(|e| ui_error(e, t))?;
    let report =
        crate::api::filed_reports::parse_filed(&rec, &bytes).map_err(|e| ui_error(e, t))?;
    if pdf {
        return filed_pdf(&report, &rec, t).await.map_err(|e| {
            tracing::warn!(error = %e, "filed incident report PDF");
            UiError::with_message(
                StatusCode::SERVICE_UNAVAILABLE,
                t,
                &format!("{}: {e}", t.t("increport.pdf_unavailable")),
            )
        });
    }
    Ok(html(&ReportDocument {
        page: ui.frame("incidents", title(&report, &rec, t)),
        r: view(&report, t),
    }))
}

#[derive(Debug, Deserialize)]
pub struct FileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
}

/// `POST /incidents/{id}/reports`: the filing buttons of the incident page.
pub async fn file(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<FileForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    if !ui.principal.allows(Action::ManageIncidents) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let kind = ReportKind::parse(&f.kind)
        .ok_or_else(|| UiError::invalid(t, format!("kind: '{}' is not a report kind", f.kind)))?;
    let rec = crate::api::filed_reports::file(&st, &ui.principal, id, kind)
        .await
        .map_err(|e| {
            if e.status == StatusCode::CONFLICT {
                UiError {
                    detail: Some(e.message),
                    ..UiError::new(StatusCode::CONFLICT, t, "filed.refused")
                }
            } else {
                ui_error(e, t)
            }
        })?;
    Ok(Redirect::to(&format!("/incidents/{id}?filed={}#reports", rec.seq)).into_response())
}
