//! `/incidents/{id}/report?kind=initial|supplement|final[&format=pdf]`: the regulatory incident
//! report ([`crate::incident_report`]), printable, in the user's language; as PDF where
//! Chromium is installed.

use super::incidents::{TimelineRow, timeline_row};
use crate::incident_report::{self, IncidentReport, Named, ReportKind, Step};
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, Params};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use crate::workflow::DeadlineView;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use vigil_model::{Action, IncidentId, TimelineEntry, Timestamp};

use crate::state::AppState;

/// A label and its value (or "not recorded").
pub struct Field {
    pub label: String,
    pub value: String,
}

pub struct SystemRow {
    pub name: String,
    pub kind: String,
    pub importance: String,
    pub addresses: String,
    pub vendor: String,
    pub mlps: String,
    pub cii: String,
}

pub struct LeadRow {
    pub source: String,
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub detected: String,
    pub indicator: String,
    pub techniques: String,
    pub actors: String,
}

pub struct DueRow {
    pub kind: String,
    pub due: String,
    pub status: String,
}

pub struct ClosingView {
    pub fields: Vec<Field>,
    pub rectification: Vec<TimelineRow>,
    pub not_met: Vec<DueRow>,
}

/// A report kind the page links to.
pub struct KindLink {
    pub kind: &'static str,
    pub label: String,
    pub current: bool,
}

/// The report as the page shows it, every value already in the page's language.
pub struct ReportView {
    pub id: String,
    pub kind: &'static str,
    pub kind_label: String,
    pub title: String,
    pub generated: String,
    pub as_of: String,
    pub unit: Vec<Field>,
    pub systems: Vec<SystemRow>,
    pub basics: Vec<Field>,
    pub must_report: bool,
    pub impact: Vec<Field>,
    pub ransom: Option<Vec<Field>>,
    pub measures: Vec<TimelineRow>,
    pub trend: String,
    pub cause: String,
    pub leads: Vec<LeadRow>,
    pub further: Vec<DueRow>,
    pub support: String,
    pub changes: Option<Vec<TimelineRow>>,
    pub closing: Option<ClosingView>,
}

#[derive(Template)]
#[template(path = "incident_report.html")]
pub struct ReportPage {
    pub page: Frame,
    pub r: ReportView,
    pub kinds: Vec<KindLink>,
    pub pdf: bool,
}

/// The same report as a self-contained document (styles inline, no links to the server), for
/// printing to PDF.
#[derive(Template)]
#[template(path = "incident_report_print.html")]
pub struct ReportDocument {
    pub page: Frame,
    pub r: ReportView,
}

fn named(n: &Named, lang: &str) -> String {
    format!("{} ({})", n.name(lang), n.code)
}

fn or_not_recorded<T: ToString>(v: Option<T>, t: &Catalog) -> String {
    v.map_or_else(
        || t.t("increport.not_recorded").to_string(),
        |v| v.to_string(),
    )
}

fn yes_no(b: bool, t: &Catalog) -> String {
    t.t(if b { "common.yes" } else { "common.no" }).to_string()
}

fn field(t: &Catalog, key: &str, value: String) -> Field {
    Field {
        label: t.t(key).to_string(),
        value,
    }
}

fn steps(s: &[Step], t: &'static Catalog) -> Vec<TimelineRow> {
    s.iter()
        .map(|s| {
            timeline_row(
                &TimelineEntry {
                    at: s.at,
                    actor: s.actor.clone(),
                    action: s.action.clone(),
                    note: s.note.clone(),
                },
                t,
            )
        })
        .collect()
}

fn dues(d: &[DeadlineView], t: &Catalog) -> Vec<DueRow> {
    d.iter()
        .map(|d| DueRow {
            kind: t.t(&format!("deadline.{}", d.kind)).to_string(),
            due: d.due_local.clone(),
            status: t.t(&format!("deadline.{}", d.status)).to_string(),
        })
        .collect()
}

fn kind_label(k: ReportKind, t: &Catalog) -> String {
    t.t(&format!("increport.kind_{}", k.as_str())).to_string()
}

fn hours(h: Option<f64>, t: &Catalog) -> String {
    or_not_recorded(
        h.map(|h| t.tf("increport.hours", &[("h", &format!("{h:.1}"))])),
        t,
    )
}

/// The view of a report in the catalog's language.
pub fn view(r: &IncidentReport, t: &'static Catalog) -> ReportView {
    let lang = t.lang();
    let opt_time = |x: Option<Timestamp>| or_not_recorded(x.map(view::fmt_time), t);
    let u = &r.unit;
    let unit = vec![
        field(t, "increport.unit_name", u.name.clone()),
        field(t, "increport.uscc", or_not_recorded(u.uscc.clone(), t)),
        field(t, "increport.sector", named(&u.sector, lang)),
        field(t, "increport.region", named(&u.region, lang)),
        field(t, "increport.mlps", view::mlps_name(u.mlps_level, lang)),
        field(t, "increport.cii", yes_no(u.cii, t)),
        field(
            t,
            "increport.responsible",
            match &u.responsible_title {
                Some(title) => format!("{} ({title})", u.responsible),
                None => u.responsible.clone(),
            },
        ),
    ];
    let systems = r
        .affected_systems
        .iter()
        .map(|s| SystemRow {
            name: s.name.clone(),
            kind: s.kind.clone(),
            importance: s.importance.clone(),
            addresses: s.addresses.join(", "),
            vendor: [s.vendor.as_deref(), s.model.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            mlps: view::mlps_name(s.mlps_level, lang),
            cii: yes_no(s.cii, t),
        })
        .collect();
    let basics = vec![
        field(t, "increport.occurred", view::fmt_time(r.times.occurred_at)),
        field(
            t,
            "increport.discovered",
            view::fmt_time(r.times.discovered_at),
        ),
        field(t, "increport.notified", opt_time(r.times.notified_at)),
        field(t, "increport.place", named(&r.place, lang)),
        field(
            t,
            "increport.category",
            match &r.subcategory {
                Some(s) => format!("{} / {}", named(&r.category, lang), named(s, lang)),
                None => named(&r.category, lang),
            },
        ),
        field(
            t,
            "increport.grade",
            format!(
                "{} · {}",
                r.grade.level,
                if lang.starts_with("zh") {
                    r.grade.name_zh
                } else {
                    r.grade.name_en
                }
            ),
        ),
        field(t, "increport.status", r.status.name(lang).to_string()),
    ];
    let i = &r.impact;
    let impact = vec![
        field(t, "increport.outage", or_not_recorded(i.outage_minutes, t)),
        field(t, "increport.people", or_not_recorded(i.people_affected, t)),
        field(
            t,
            "increport.records",
            or_not_recorded(i.personal_records_leaked, t),
        ),
        field(t, "increport.loss", or_not_recorded(i.direct_loss_yuan, t)),
        field(
            t,
            "increport.degraded",
            or_not_recorded(i.degraded_minutes, t),
        ),
        field(
            t,
            "increport.defaced_home",
            or_not_recorded(i.defacement_homepage_minutes, t),
        ),
        field(
            t,
            "increport.defaced_other",
            or_not_recorded(i.defacement_other_minutes, t),
        ),
        field(
            t,
            "increport.scope",
            or_not_recorded(i.affected_scope.clone(), t),
        ),
        field(
            t,
            "increport.affected_count",
            i.affected_systems.to_string(),
        ),
        field(t, "increport.alerts_count", i.linked_alerts.to_string()),
        field(
            t,
            "increport.impact_recorded",
            or_not_recorded(
                i.recorded_by
                    .as_ref()
                    .zip(i.recorded_at)
                    .map(|(by, at)| format!("{by} · {}", view::fmt_time(at))),
                t,
            ),
        ),
    ];
    let ransom = r.ransom.as_ref().map(|x| {
        let amount = x.amount.as_ref().map(|a| match &x.currency {
            Some(c) => format!("{a} {c}"),
            None => a.clone(),
        });
        let status = x.status.as_deref().map(|s| {
            vigil_model::RansomStatus::parse(s)
                .map_or_else(|| s.to_string(), |v| v.name(lang).to_string())
        });
        let method = x.payment_method.as_deref().map(|m| {
            vigil_model::PaymentMethod::parse(m)
                .map_or_else(|| m.to_string(), |v| v.name(lang).to_string())
        });
        vec![
            field(t, "increport.ransom_status", or_not_recorded(status, t)),
            field(t, "increport.ransom_amount", or_not_recorded(amount, t)),
            field(t, "increport.ransom_method", or_not_recorded(method, t)),
            field(
                t,
                "increport.ransom_date",
                or_not_recorded(x.paid_on.clone(), t),
            ),
            field(
                t,
                "increport.ransom_wallet",
                or_not_recorded(x.wallet_address.clone(), t),
            ),
        ]
    });
    let none = t.t("common.none");
    let tr = &r.trend;
    let trend = t.tf(
        "increport.trend_text",
        &[
            ("total", &tr.alerts_total.to_string()),
            ("recent", &tr.alerts_last_24h.to_string()),
            (
                "first",
                &tr.first_alert_at
                    .map_or_else(|| none.to_string(), view::fmt_time),
            ),
            (
                "last",
                &tr.last_alert_at
                    .map_or_else(|| none.to_string(), view::fmt_time),
            ),
            ("status", tr.status.name(lang)),
        ],
    );
    let leads = r
        .tracing_leads
        .iter()
        .map(|l| LeadRow {
            source: vigil_model::AlertSource::parse(&l.source)
                .map_or_else(|| l.source.clone(), |s| s.name(lang).to_string()),
            rule: l.rule_id.clone(),
            title: l.title.clone(),
            severity: vigil_model::Severity::parse(&l.severity)
                .map_or_else(|| l.severity.clone(), |s| s.name(lang).to_string()),
            detected: view::fmt_time(l.detected_at),
            indicator: l.indicator.clone().unwrap_or_default(),
            techniques: l.techniques.join(", "),
            actors: l
                .threat_actors
                .iter()
                .chain(&l.malware)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let closing = r.closing.as_ref().map(|c| ClosingView {
        fields: vec![
            field(t, "increport.closed", opt_time(c.closed_at)),
            field(t, "increport.tta", hours(c.hours_to_acknowledge, t)),
            field(t, "increport.ttc", hours(c.hours_to_close, t)),
        ],
        rectification: steps(&c.rectification, t),
        not_met: dues(&c.deadlines_not_met, t),
    });
    ReportView {
        id: r.incident_id.to_string(),
        kind: r.kind.as_str(),
        kind_label: kind_label(r.kind, t),
        title: r.title.clone(),
        generated: view::fmt_time(r.generated_at),
        as_of: view::fmt_time(r.as_of),
        unit,
        systems,
        basics,
        must_report: r.grade.must_report,
        impact,
        ransom,
        measures: steps(&r.measures, t),
        trend,
        cause: or_not_recorded(r.preliminary_cause.clone(), t),
        leads,
        further: dues(&r.further_measures, t),
        support: or_not_recorded(r.support_requested.clone(), t),
        changes: r.changes.as_ref().map(|c| steps(c, t)),
        closing,
    }
}

pub async fn page(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let t = ui.catalog();
    if !ui.principal.allows(Action::ReadIncidents) {
        return Err(UiError::forbidden(t));
    }
    let p = Params::parse(raw.as_deref());
    let kind = ReportKind::from_param(p.get("kind")).ui(t)?;
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
    let report = incident_report::load(
        st.store.as_ref(),
        ui.principal.scope(),
        id,
        kind,
        Timestamp::now(),
    )
    .await
    .map_err(|e| {
        if e.status == StatusCode::CONFLICT {
            let key = if e.code == "not_closed" {
                "increport.not_closed"
            } else {
                "increport.not_notified"
            };
            UiError {
                detail: Some(e.message),
                ..UiError::new(StatusCode::CONFLICT, t, key)
            }
        } else {
            UiError::from_api(e, t.locale)
        }
    })?;
    let title = format!("{} · {}", kind_label(kind, t), report.title);
    let r = view(&report, t);
    if pdf {
        let doc = ReportDocument {
            page: ui.frame("incidents", title),
            r,
        };
        let body = doc.render().map_err(|e| {
            tracing::error!(error = %e, "rendering the report document failed");
            UiError::new(StatusCode::INTERNAL_SERVER_ERROR, t, "error.internal")
        })?;
        let bytes = crate::pdf::render(body).await.map_err(|e| {
            tracing::warn!(error = %e, "incident report PDF");
            UiError::with_message(
                StatusCode::SERVICE_UNAVAILABLE,
                t,
                &format!("{}: {e}", t.t("increport.pdf_unavailable")),
            )
        })?;
        let disposition = format!(
            "attachment; filename=\"incident-{id}-{}.pdf\"",
            kind.as_str()
        );
        let mut resp = bytes.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pdf"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(resp);
    }
    let kinds = ReportKind::ALL
        .iter()
        .map(|k| KindLink {
            kind: k.as_str(),
            label: kind_label(*k, t),
            current: *k == kind,
        })
        .collect();
    Ok(html(&ReportPage {
        page: ui.frame("incidents", title),
        r,
        kinds,
        pdf: crate::pdf::available(),
    }))
}
