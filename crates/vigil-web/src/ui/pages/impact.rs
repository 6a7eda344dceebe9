//! The impact section of the incident page (issue 6): the recorded figures, ransom details,
//! support requested, preliminary cause and affected scope, with a form
//! (`templates/incident_impact.html`) for those who respond to incidents, and its handler
//! `POST /incidents/{id}/impact`, which goes through the API's path (validation, re-grading
//! that only ever raises, audit, timeline).

use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, Opt};
use crate::ui::{OrUi, UiAuth, UiError, UiResult};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use vigil_model::{
    Action, Incident, IncidentId, IncidentImpact, PaymentMethod, Ransom, RansomStatus,
    RecordedImpact,
};

/// A label and a value, for the read-only view.
pub struct ImpactField {
    pub label: String,
    pub value: String,
}

/// What the incident page shows of the impact.
pub struct ImpactSection {
    /// The user may record the impact (the form); otherwise the values are listed.
    pub can_edit: bool,
    /// Ransomware (MP / MPRANS) or a ransom already recorded: the ransom block is shown.
    pub show_ransom: bool,
    /// "Recorded by … at …", empty when nothing was recorded.
    pub recorded: String,
    /// The form's current values, by field name.
    pub outage_minutes: String,
    pub degraded_minutes: String,
    pub people_affected: String,
    pub personal_records_leaked: String,
    pub direct_loss_yuan: String,
    pub defacement_homepage_minutes: String,
    pub defacement_other_minutes: String,
    pub ransom_statuses: Vec<Opt>,
    pub ransom_amount: String,
    pub ransom_currency: String,
    pub ransom_methods: Vec<Opt>,
    pub ransom_date: String,
    pub ransom_wallet: String,
    pub support_requested: String,
    pub preliminary_cause: String,
    pub affected_scope: String,
    /// The recorded values, for those who may only read.
    pub fields: Vec<ImpactField>,
}

fn num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// The section for `inc` as `ui` may see it.
pub async fn section(st: &AppState, ui: &UiAuth, inc: &Incident) -> UiResult<ImpactSection> {
    let t = ui.catalog();
    let lang = t.lang();
    let rec = st
        .store
        .get_incident_impact(ui.principal.scope(), inc.id)
        .await
        .ui(t)?;
    let empty = IncidentImpact::default();
    let m = rec.as_ref().map_or(&empty, |r| &r.impact);
    let ransom = m.ransom.as_ref();
    let status = ransom.map(|r| r.status.as_str());
    let mut ransom_statuses = vec![Opt::new(
        "",
        t.t("impact.ransom_none"),
        Some(status.unwrap_or("")),
    )];
    ransom_statuses.extend(
        RansomStatus::ALL
            .iter()
            .map(|s| Opt::new(s.as_str(), s.name(lang), status)),
    );
    let method = ransom
        .and_then(|r| r.payment_method)
        .map(PaymentMethod::as_str);
    let mut ransom_methods = vec![Opt::new(
        "",
        t.t("impact.method_none"),
        Some(method.unwrap_or("")),
    )];
    ransom_methods.extend(
        PaymentMethod::ALL
            .iter()
            .map(|p| Opt::new(p.as_str(), p.name(lang), method)),
    );
    let ransomware = inc.spec.category == "MP"
        || inc.spec.subcategory.as_deref() == Some(crate::incident_report::RANSOMWARE);
    Ok(ImpactSection {
        can_edit: ui.principal.allows(Action::RespondIncidents),
        show_ransom: ransomware || ransom.is_some(),
        recorded: rec
            .as_ref()
            .map_or_else(String::new, |r| recorded_text(r, t)),
        outage_minutes: num(m.outage_minutes),
        degraded_minutes: num(m.degraded_minutes),
        people_affected: num(m.people_affected),
        personal_records_leaked: num(m.personal_records_leaked),
        direct_loss_yuan: num(m.direct_loss_yuan),
        defacement_homepage_minutes: num(m.defacement_homepage_minutes),
        defacement_other_minutes: num(m.defacement_other_minutes),
        ransom_statuses,
        ransom_amount: ransom.map(|r| r.amount.clone()).unwrap_or_default(),
        ransom_currency: ransom.map(|r| r.currency.clone()).unwrap_or_default(),
        ransom_methods,
        ransom_date: ransom
            .and_then(|r| r.payment_date)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ransom_wallet: ransom
            .and_then(|r| r.wallet_address.clone())
            .unwrap_or_default(),
        support_requested: m.support_requested.clone().unwrap_or_default(),
        preliminary_cause: m.preliminary_cause.clone().unwrap_or_default(),
        affected_scope: m.affected_scope.clone().unwrap_or_default(),
        fields: rec.as_ref().map_or_else(Vec::new, |r| fields(&r.impact, t)),
    })
}

fn recorded_text(r: &RecordedImpact, t: &Catalog) -> String {
    t.tf(
        "impact.recorded",
        &[
            ("by", &r.recorded_by),
            ("at", &view::fmt_time(r.recorded_at)),
        ],
    )
}

/// The recorded values as label/value pairs (what is not recorded is left out).
fn fields(m: &IncidentImpact, t: &Catalog) -> Vec<ImpactField> {
    let lang = t.lang();
    let mut out = Vec::new();
    let mut push = |key: &str, value: String| {
        out.push(ImpactField {
            label: t.t(key).to_string(),
            value,
        });
    };
    for (key, v) in [
        ("impact.outage_minutes", m.outage_minutes),
        ("impact.degraded_minutes", m.degraded_minutes),
        ("impact.people_affected", m.people_affected),
        ("impact.personal_records_leaked", m.personal_records_leaked),
        ("impact.direct_loss_yuan", m.direct_loss_yuan),
        (
            "impact.defacement_homepage_minutes",
            m.defacement_homepage_minutes,
        ),
        (
            "impact.defacement_other_minutes",
            m.defacement_other_minutes,
        ),
    ] {
        if let Some(v) = v {
            push(key, v.to_string());
        }
    }
    if let Some(r) = &m.ransom {
        push("impact.ransom_status", r.status.name(lang).to_string());
        push(
            "impact.ransom_amount",
            format!("{} {}", r.amount, r.currency),
        );
        if let Some(p) = r.payment_method {
            push("impact.ransom_method", p.name(lang).to_string());
        }
        if let Some(d) = r.payment_date {
            push("impact.ransom_date", d.to_string());
        }
        if let Some(w) = &r.wallet_address {
            push("impact.ransom_wallet", w.clone());
        }
    }
    for (key, v) in [
        ("impact.support_requested", &m.support_requested),
        ("impact.preliminary_cause", &m.preliminary_cause),
        ("impact.affected_scope", &m.affected_scope),
    ] {
        if let Some(v) = v {
            push(key, v.clone());
        }
    }
    out
}

/// The form as posted; every field is text, blank meaning "not recorded".
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImpactForm {
    csrf: String,
    outage_minutes: String,
    degraded_minutes: String,
    people_affected: String,
    personal_records_leaked: String,
    direct_loss_yuan: String,
    defacement_homepage_minutes: String,
    defacement_other_minutes: String,
    ransom_status: String,
    ransom_amount: String,
    ransom_currency: String,
    ransom_method: String,
    ransom_date: String,
    ransom_wallet: String,
    support_requested: String,
    preliminary_cause: String,
    affected_scope: String,
}

fn opt_text(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ImpactForm {
    /// The impact the form describes, or the field that is not understood.
    fn impact(&self, t: &'static Catalog) -> Result<IncidentImpact, UiError> {
        let number = |field: &str, v: &str| -> Result<Option<u64>, UiError> {
            let v: String = v
                .trim()
                .chars()
                .filter(|c| !matches!(c, ',' | '_' | ' '))
                .collect();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<u64>()
                .map(Some)
                .map_err(|_| UiError::invalid(t, format!("{field}: {}", t.t("impact.bad_number"))))
        };
        let ransom = match self.ransom_status.trim() {
            "" => {
                let details = [
                    &self.ransom_amount,
                    &self.ransom_currency,
                    &self.ransom_method,
                    &self.ransom_date,
                    &self.ransom_wallet,
                ];
                if details.iter().any(|d| !d.trim().is_empty()) {
                    return Err(UiError::invalid(
                        t,
                        format!("ransom.status: {}", t.t("impact.status_needed")),
                    ));
                }
                None
            }
            s => Some(Ransom {
                status: RansomStatus::parse(s)
                    .ok_or_else(|| UiError::invalid(t, format!("ransom.status: '{s}'")))?,
                amount: self.ransom_amount.trim().to_string(),
                currency: self.ransom_currency.trim().to_string(),
                payment_method: match self.ransom_method.trim() {
                    "" => None,
                    m => Some(PaymentMethod::parse(m).ok_or_else(|| {
                        UiError::invalid(t, format!("ransom.payment_method: '{m}'"))
                    })?),
                },
                payment_date: match self.ransom_date.trim() {
                    "" => None,
                    d => Some(d.parse::<jiff::civil::Date>().map_err(|_| {
                        UiError::invalid(
                            t,
                            format!("ransom.payment_date: {}", t.t("impact.bad_date")),
                        )
                    })?),
                },
                wallet_address: opt_text(&self.ransom_wallet),
            }),
        };
        Ok(IncidentImpact {
            outage_minutes: number("outage_minutes", &self.outage_minutes)?,
            degraded_minutes: number("degraded_minutes", &self.degraded_minutes)?,
            people_affected: number("people_affected", &self.people_affected)?,
            personal_records_leaked: number(
                "personal_records_leaked",
                &self.personal_records_leaked,
            )?,
            direct_loss_yuan: number("direct_loss_yuan", &self.direct_loss_yuan)?,
            defacement_homepage_minutes: number(
                "defacement_homepage_minutes",
                &self.defacement_homepage_minutes,
            )?,
            defacement_other_minutes: number(
                "defacement_other_minutes",
                &self.defacement_other_minutes,
            )?,
            ransom,
            support_requested: opt_text(&self.support_requested),
            preliminary_cause: opt_text(&self.preliminary_cause),
            affected_scope: opt_text(&self.affected_scope),
        })
    }
}

/// `POST /incidents/{id}/impact`: records the impact from the form, then back to the incident
/// page, which says whether the grade was raised.
pub async fn submit(
    State(st): State<AppState>,
    ui: UiAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<ImpactForm>,
) -> UiResult {
    ui.check_post(&headers, &f.csrf)?;
    let t = ui.catalog();
    if !ui.principal.allows(Action::RespondIncidents) {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(UiError::forbidden(t));
    }
    let id: IncidentId = id.parse().map_err(|_| UiError::not_found(t))?;
    let impact = f.impact(t)?;
    let saved = crate::api::impact::save(&st, &ui.principal, id, impact)
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                UiError::not_found(t)
            } else {
                UiError::with_message(e.status, t, &e.message)
            }
        })?;
    let to = if saved.raised {
        format!(
            "/incidents/{id}?impact=1&raised={}#impact",
            saved.grade.as_str()
        )
    } else {
        format!("/incidents/{id}?impact=1#impact")
    };
    Ok(Redirect::to(&to).into_response())
}

/// The notice of the incident page after a save (`?impact=1`, `&raised=<grade>`).
pub fn notice(params: &view::Params, t: &Catalog) -> Option<String> {
    if !params.flag("impact") {
        return None;
    }
    Some(
        match params.get("raised").and_then(vigil_model::Grade::parse) {
            Some(g) => t.tf("impact.saved_raised", &[("grade", g.name(t.lang()))]),
            None => t.t("impact.saved").to_string(),
        },
    )
}
