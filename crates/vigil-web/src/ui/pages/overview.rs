//! `/`: the situation overview.

use super::{AlertRow, grade_class};
use crate::state::AppState;
use crate::ui::chart::{Bar, ChartText, bar_chart};
use crate::ui::view::{self, OrgNames, Params};
use crate::ui::{Frame, OrUi, UiAuth, UiResult, html};
use askama::Template;
use axum::extract::{RawQuery, State};
use std::collections::HashMap;
use vigil_model::{Action, Grade, Timestamp, taxonomy};
use vigil_store::{AlertQuery, OrgQuery};

pub struct Counter {
    pub label: &'static str,
    pub value: u64,
    pub href: String,
    pub class: &'static str,
}

pub struct GradeHead {
    pub name: &'static str,
    pub class: &'static str,
}

pub struct HeatCell {
    pub count: u64,
    pub class: String,
    pub href: String,
}

pub struct HeatRow {
    pub code: String,
    pub name: String,
    pub cells: Vec<HeatCell>,
    pub total: u64,
}

pub struct TopOrg {
    pub id: String,
    pub name: String,
    pub count: u64,
    pub bar_class: String,
}

pub struct Period {
    pub label: String,
    pub href: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub page: Frame,
    pub period_label: String,
    pub periods: Vec<Period>,
    pub counters: Vec<Counter>,
    pub grades: Vec<GradeHead>,
    pub heat: Vec<HeatRow>,
    pub heat_total: u64,
    /// Built by [`bar_chart`], which escapes every text it draws.
    pub chart: String,
    pub chart_total: u64,
    pub top_orgs: Vec<TopOrg>,
    pub alerts: Vec<AlertRow>,
    pub wall: bool,
    pub wall_href: String,
}

const PERIODS: [u32; 4] = [1, 7, 30, 90];

pub async fn page(State(st): State<AppState>, ui: UiAuth, RawQuery(raw): RawQuery) -> UiResult {
    // An organization's own people land on its portal, not on the platform's situation.
    if ui.principal.role == vigil_model::Role::OrgUser {
        return super::portal::page(&st, &ui).await;
    }
    let t = ui.catalog();
    let lang = t.lang();
    let scope = ui.principal.scope();
    let params = Params::parse(raw.as_deref());
    let days: u32 = params
        .get("days")
        .and_then(|d| d.parse().ok())
        .filter(|d| PERIODS.contains(d))
        .unwrap_or(30);
    let wall = params.flag("wall");

    // Whole UTC days, the last one being today, as the store counts alerts per UTC day.
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let first = today
        .checked_sub(jiff::Span::new().days(i64::from(days) - 1))
        .unwrap_or(today);
    let since = first
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let ov = st.store.overview(scope, since).await.ui(t)?;

    let period_label = t.tf("overview.period", &[("days", &days.to_string())]);
    let periods = PERIODS
        .iter()
        .map(|&d| Period {
            label: t.tf("overview.period_short", &[("days", &d.to_string())]),
            href: format!("/?days={d}{}", if wall { "&wall=1" } else { "" }),
            active: d == days,
        })
        .collect();

    let counters = vec![
        Counter {
            label: t.t("overview.open_incidents"),
            value: ov.open_incidents,
            href: "/incidents?open=true".into(),
            class: "counter counter-incidents",
        },
        Counter {
            label: t.t("overview.new_alerts"),
            value: ov.new_alerts,
            href: "/alerts?status=new".into(),
            class: "counter counter-alerts",
        },
        Counter {
            label: t.t("overview.organizations"),
            value: ov.organizations,
            href: "/orgs".into(),
            class: "counter",
        },
        Counter {
            label: t.t("overview.assets"),
            value: ov.assets,
            href: "/assets".into(),
            class: "counter",
        },
        Counter {
            label: t.t("overview.events"),
            value: ov.events,
            href: "/events".into(),
            class: "counter",
        },
    ];

    // Category × grade grid over all ten GB/T 20986 categories.
    let counts: HashMap<(&str, Grade), u64> = ov
        .incidents_by_category_grade
        .iter()
        .map(|(c, g, n)| ((c.as_str(), *g), *n))
        .collect();
    let max_cell = counts.values().copied().max().unwrap_or(0);
    let grades = Grade::ALL
        .iter()
        .map(|g| GradeHead {
            name: g.name(lang),
            class: grade_class(*g),
        })
        .collect();
    let mut heat_total = 0;
    let heat = taxonomy::incident_categories()
        .iter()
        .map(|c| {
            let code = c.term.code.as_str();
            let cells: Vec<HeatCell> = Grade::ALL
                .iter()
                .map(|g| {
                    let n = counts.get(&(code, *g)).copied().unwrap_or(0);
                    HeatCell {
                        count: n,
                        class: heat_class(*g, n, max_cell),
                        href: format!("/incidents?open=true&category={code}&grade={}", g.as_str()),
                    }
                })
                .collect();
            let total = cells.iter().map(|c| c.count).sum();
            heat_total += total;
            HeatRow {
                code: code.to_string(),
                name: c.term.name(lang).to_string(),
                cells,
                total,
            }
        })
        .collect();

    // Alerts per day, every day present (the store leaves out days without alerts).
    let per_day: HashMap<&str, u64> = ov
        .alerts_per_day
        .iter()
        .map(|(d, n)| (d.as_str(), *n))
        .collect();
    let bars: Vec<Bar> = (0..days)
        .filter_map(|i| first.checked_add(jiff::Span::new().days(i64::from(i))).ok())
        .map(|d| {
            let key = d.to_string();
            Bar {
                label: d.strftime("%m-%d").to_string(),
                value: per_day.get(key.as_str()).copied().unwrap_or(0),
                tooltip: key,
            }
        })
        .collect();
    let chart_total = bars.iter().map(|b| b.value).sum();
    let chart_title = t.tf("overview.chart_title", &[("days", &days.to_string())]);
    let chart = bar_chart(
        &bars,
        &ChartText {
            title: &chart_title,
            y_axis: t.t("overview.chart_y"),
            x_axis: t.t("overview.chart_x"),
        },
    );

    let max_org = ov
        .top_orgs_open_incidents
        .first()
        .map(|(_, _, n)| *n)
        .unwrap_or(0);
    let top_orgs = ov
        .top_orgs_open_incidents
        .iter()
        .map(|(id, name, n)| TopOrg {
            id: id.to_string(),
            name: name.clone(),
            count: *n,
            bar_class: view::pct_class(*n, max_org),
        })
        .collect();

    let alerts = if ui.principal.allows(Action::ReadAlerts) {
        let orgs = st
            .store
            .list_orgs(scope, &OrgQuery::default())
            .await
            .ui(t)?;
        let names = OrgNames::new(&orgs);
        st.store
            .list_alerts(
                scope,
                &AlertQuery {
                    limit: 10,
                    ..AlertQuery::default()
                },
            )
            .await
            .ui(t)?
            .items
            .iter()
            .map(|a| AlertRow::new(a, t, &names))
            .collect()
    } else {
        Vec::new()
    };

    let mut page = ui.frame("overview", t.t("nav.overview").to_string());
    page.wall = wall;
    page.refresh = wall.then_some(60);
    let wall_href = if wall {
        format!("/?days={days}")
    } else {
        format!("/?days={days}&wall=1")
    };
    Ok(html(&OverviewPage {
        page,
        period_label,
        periods,
        counters,
        grades,
        heat,
        heat_total,
        chart,
        chart_total,
        top_orgs,
        alerts,
        wall,
        wall_href,
    }))
}

/// Colour of the grade, stronger with the share of the busiest cell (0 = empty).
fn heat_class(g: Grade, n: u64, max: u64) -> String {
    let level = if n == 0 || max == 0 {
        0
    } else {
        // 1..=4
        1 + (n * 3 / max).min(3)
    };
    format!("heat heat-{} heat-{level}", g.colour())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_levels_grow_with_the_count() {
        assert_eq!(heat_class(Grade::Major, 0, 5), "heat heat-orange heat-0");
        assert_eq!(heat_class(Grade::Major, 5, 5), "heat heat-orange heat-4");
        assert_eq!(heat_class(Grade::General, 1, 100), "heat heat-blue heat-1");
        assert_eq!(heat_class(Grade::General, 50, 100), "heat heat-blue heat-2");
    }
}
