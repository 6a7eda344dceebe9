//! `/reports/monthly`: the monthly situation report, printable.

use crate::state::AppState;
use crate::stats::{Count, load};
use crate::ui::view::Params;
use crate::ui::{Frame, UiAuth, UiError, UiResult, html};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
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
    Ok(html(&ReportPage {
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
    }))
}
