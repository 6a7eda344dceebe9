//! `/reports/monthly[?month=YYYY-MM][&format=pdf]`: the monthly situation report, printable,
//! and as PDF through [`crate::pdf`] (headless Chromium; 503 when it is missing).

use crate::state::AppState;
use crate::stats::{Count, load};
use crate::ui::view::Params;
use crate::ui::{Frame, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use vigil_model::Action;

/// A breakdown row as the report prints it.
pub struct Line {
    pub code: String,
    pub name: String,
    pub count: u64,
    pub percent: String,
    /// Bar width in percent of the largest row.
    pub bar: u64,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub page: Frame,
    pub month: String,
    pub prev: String,
    pub next: String,
    /// The period as RFC 3339 instants, for the JSON link.
    pub from: String,
    pub to: String,
    pub headline: String,
    pub total: u64,
    pub open: u64,
    pub mtta: String,
    pub mttc: String,
    pub overdue: String,
    pub sections: Vec<Section>,
    /// Chromium is installed: the page links to the PDF.
    pub pdf: bool,
}

/// The same report as a self-contained document (styles inline, no links to the server), for
/// printing to PDF.
#[derive(Template)]
#[template(path = "report_print.html")]
pub struct ReportDocument {
    pub page: Frame,
    pub month: String,
    pub headline: String,
    pub total: u64,
    pub open: u64,
    pub mtta: String,
    pub mttc: String,
    pub overdue: String,
    pub sections: Vec<Section>,
}

impl From<ReportPage> for ReportDocument {
    fn from(r: ReportPage) -> Self {
        Self {
            page: r.page,
            month: r.month,
            headline: r.headline,
            total: r.total,
            open: r.open,
            mtta: r.mtta,
            mttc: r.mttc,
            overdue: r.overdue,
            sections: r.sections,
        }
    }
}

/// The report printed to PDF, as an attachment named after the month.
async fn pdf_response(doc: ReportDocument, t: &'static crate::ui::i18n::Catalog) -> UiResult {
    let month = doc.month.clone();
    let body = doc.render().map_err(|e| {
        tracing::error!(error = %e, "rendering the monthly report document failed");
        UiError::new(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal")
    })?;
    let bytes = crate::pdf::render(body).await.map_err(|e| {
        metrics::counter!("vigil_report_pdf_failures_total", "report" => "monthly").increment(1);
        tracing::warn!(error = %e, "monthly report PDF");
        UiError::with_message(
            StatusCode::SERVICE_UNAVAILABLE,
            t,
            &format!("{}: {e}", t.t("increport.pdf_unavailable")),
        )
    })?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"situation-report-{month}.pdf\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// One breakdown table.
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub rows: Vec<Line>,
}

fn lines(counts: &[Count], zh: bool) -> Vec<Line> {
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    counts
        .iter()
        .map(|c| Line {
            code: c.code.clone(),
            name: if zh {
                c.name_zh.clone()
            } else {
                c.name_en.clone()
            },
            count: c.count,
            percent: format!("{:.1}%", c.percent),
            bar: c.count * 100 / max,
        })
        .collect()
}

fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "—".to_string(), |h| format!("{h:.1} h"))
}

pub async fn monthly(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
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
    let beijing = TimeZone::fixed(Offset::constant(8));
    let today = jiff::Timestamp::now().to_zoned(beijing.clone()).date();
    let first = match p.get("month") {
        Some(m) => format!("{m}-01").parse::<Date>().map_err(|_| {
            UiError::with_message(
                StatusCode::UNPROCESSABLE_ENTITY,
                t,
                &format!("month: '{m}' is not YYYY-MM"),
            )
        })?,
        None => today.first_of_month(),
    };
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| UiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, t, "month"))?;
    let prev = first
        .checked_sub(jiff::Span::new().months(1))
        .map_err(|_| UiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, t, "month"))?;
    let at = |d: Date| {
        d.to_zoned(beijing.clone())
            .map(|z| z.timestamp())
            .map_err(|_| UiError::with_message(StatusCode::UNPROCESSABLE_ENTITY, t, "month"))
    };
    let (from, to) = (at(first)?, at(next)?);
    let stats = load(
        st.store.as_ref(),
        ui.principal.scope(),
        None,
        Some(from),
        Some(to),
    )
    .await
    .map_err(|e| UiError::with_message(e.status, t, &e.message))?;
    let zh = t.lang().starts_with("zh");
    let month = first.strftime("%Y-%m").to_string();
    let report = ReportPage {
        page: ui.frame("reports", format!("{} {month}", t.t("report.title"))),
        prev: prev.strftime("%Y-%m").to_string(),
        next: next.strftime("%Y-%m").to_string(),
        month,
        from: from.to_string(),
        to: to.to_string(),
        headline: crate::stats::headline(&stats, zh),
        total: stats.total,
        open: stats.open,
        mtta: hours(stats.mean_hours_to_acknowledge),
        mttc: hours(stats.mean_hours_to_close),
        overdue: format!("{} ({:.1}%)", stats.overdue, stats.overdue_percent),
        sections: vec![
            Section {
                id: "by-category",
                title: t.t("report.by_category"),
                rows: lines(&stats.by_category, zh),
            },
            Section {
                id: "by-subcategory",
                title: t.t("report.by_subcategory"),
                rows: lines(&stats.by_subcategory, zh),
            },
            Section {
                id: "by-grade",
                title: t.t("report.by_grade"),
                rows: lines(&stats.by_grade, zh),
            },
            Section {
                id: "by-sector",
                title: t.t("report.by_sector"),
                rows: lines(&stats.by_sector, zh),
            },
            Section {
                id: "by-province",
                title: t.t("report.by_province"),
                rows: lines(&stats.by_province, zh),
            },
        ],
        pdf: crate::pdf::available(),
    };
    if pdf {
        return pdf_response(ReportDocument::from(report), t).await;
    }
    Ok(html(&report))
}
