//! The regulatory incident report (网络安全事件报告), built from a stored incident.
//!
//! The structure follows the 2025 reporting measures (Art. 5/6, see
//! `../shared/docs/reference/standards-and-crypto.md`): the reporting unit and the affected
//! systems; time, place, type, grade, impact and the measures taken; for ransomware the ransom
//! amount, payment method and date; the trend; the preliminary cause; tracing leads; further
//! measures and support requested. Three kinds:
//!
//! - `initial`: the first report, as of the notification step (the timeline up to and including
//!   it; before notification, as of now);
//! - `supplement`: a later report that lists what changed since the initial one (every
//!   timeline entry after the notification step); only once the incident has been notified;
//! - `final`: the closing summary with the rectification, only for closed or archived incidents.
//!
//! Nothing is invented: what the incident model does not record (impact figures, ransom
//! details, requested support) is `null` in JSON and "not recorded" on the page.

use crate::error::ApiError;
use crate::workflow::DeadlineView;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use vigil_model::{
    Alert, Asset, Grade, Incident, IncidentId, IncidentStatus, Organization, Scope, TimelineEntry,
    Timestamp, taxonomy,
};
use vigil_store::{AlertQuery, Store};

/// The sub-category whose reports carry the ransom fields.
pub const RANSOMWARE: &str = "MPRANS";

/// Most alerts listed as tracing leads.
const MAX_LEADS: usize = 200;

/// Which report of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Initial,
    Supplement,
    Final,
}

impl ReportKind {
    pub const ALL: [Self; 3] = [Self::Initial, Self::Supplement, Self::Final];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Supplement => "supplement",
            Self::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `kind` query parameter: absent means `initial`; anything unknown is an error that
    /// names the parameter.
    pub fn from_param(p: Option<&str>) -> Result<Self, ApiError> {
        match p {
            None => Ok(Self::Initial),
            Some(s) => Self::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "kind",
                    format!("'{s}' is not a report kind (initial, supplement, final)"),
                )
            }),
        }
    }
}

/// Why a report of this kind cannot be made for the incident now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "the incident is '{0}': a supplementary report follows the initial report, which is made at notification"
    )]
    NotNotified(&'static str),
    #[error("the incident is '{0}': a closing summary is made once it is closed or archived")]
    NotClosed(&'static str),
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        let code = match e {
            ReportError::NotNotified(_) => "not_notified",
            ReportError::NotClosed(_) => "not_closed",
        };
        ApiError::new(StatusCode::CONFLICT, code, e.to_string())
    }
}

/// A code with its Chinese and English names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

impl Named {
    fn new(code: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
        }
    }

    fn term(t: &taxonomy::Term) -> Self {
        Self::new(&t.code, &t.name_zh, &t.name_en)
    }

    /// A taxonomy term, or the bare code when the table does not know it.
    fn term_or_code(t: Option<&taxonomy::Term>, code: &str) -> Self {
        t.map_or_else(|| Self::new(code, code, code), Self::term)
    }

    fn status(s: IncidentStatus) -> Self {
        Self::new(s.as_str(), s.name("zh-CN"), s.name("en"))
    }

    /// The name in the page's language.
    pub fn name(&self, lang: &str) -> &str {
        if lang.starts_with("zh") {
            &self.name_zh
        } else {
            &self.name_en
        }
    }
}

/// The reporting unit (事发单位).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    pub org_id: vigil_model::OrgId,
    pub name: String,
    /// Unified social credit code, when recorded.
    pub uscc: Option<String>,
    pub sector: Named,
    pub region: Named,
    pub mlps_level: u8,
    pub cii: bool,
    /// The organization's responsible person.
    pub responsible: String,
    pub responsible_title: Option<String>,
}

/// An affected system (设施/系统/平台). Protection level and CII status are the
/// organization's: assets do not record their own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AffectedSystem {
    pub asset_id: vigil_model::AssetId,
    pub name: String,
    pub kind: String,
    pub importance: String,
    pub addresses: Vec<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub mlps_level: u8,
    pub cii: bool,
}

/// The times of the incident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Times {
    /// When it started or was discovered (as entered).
    pub occurred_at: Timestamp,
    /// When the platform registered it.
    pub discovered_at: Timestamp,
    pub notified_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GradeView {
    pub code: &'static str,
    /// I–IV.
    pub level: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Warning colour of the same level.
    pub colour: &'static str,
    /// 较大 and above must be reported to the authorities.
    pub must_report: bool,
}

impl GradeView {
    fn new(g: Grade) -> Self {
        Self {
            code: g.as_str(),
            level: g.level(),
            name_zh: g.name("zh-CN"),
            name_en: g.name("en"),
            colour: g.colour(),
            must_report: g.must_report(),
        }
    }
}

/// Impact and harm (已造成的影响和危害): the figures recorded for the incident
/// (`PUT /incidents/{id}/impact`); one not recorded is `None` ("not recorded").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImpactView {
    pub outage_minutes: Option<u64>,
    pub people_affected: Option<u64>,
    pub personal_records_leaked: Option<u64>,
    pub direct_loss_yuan: Option<u64>,
    /// Counted from the incident.
    pub affected_systems: usize,
    pub linked_alerts: usize,
    pub degraded_minutes: Option<u64>,
    pub defacement_homepage_minutes: Option<u64>,
    pub defacement_other_minutes: Option<u64>,
    /// What is affected, in words (影响范围).
    pub affected_scope: Option<String>,
    /// Who recorded the impact last, and when; `None` when nobody has.
    pub recorded_by: Option<String>,
    pub recorded_at: Option<Timestamp>,
}

/// Ransomware details (赎金金额, 支付方式, 日期); `None` when not recorded. `amount` is the
/// decimal amount in `currency`; `payment_method` and `status` are codes
/// ([`vigil_model::PaymentMethod`], [`vigil_model::RansomStatus`]); `paid_on` is `YYYY-MM-DD`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ransom {
    pub amount: Option<String>,
    pub payment_method: Option<String>,
    pub paid_on: Option<String>,
    pub status: Option<String>,
    pub currency: Option<String>,
    pub wallet_address: Option<String>,
}

/// One timeline entry as reports list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: Timestamp,
    pub actor: String,
    /// `status:remediated`, `comment`, `grade:major`...
    pub action: String,
    pub note: String,
}

impl From<&TimelineEntry> for Step {
    fn from(e: &TimelineEntry) -> Self {
        Self {
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            note: e.note.clone(),
        }
    }
}

/// How the incident is developing, from its alerts and its status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trend {
    pub status: Named,
    pub alerts_total: usize,
    /// Alerts detected in the 24 hours before the report's time.
    pub alerts_last_24h: usize,
    pub first_alert_at: Option<Timestamp>,
    pub last_alert_at: Option<Timestamp>,
}

/// A tracing lead (溯源线索): a linked alert, its rule or indicator and what it says about the
/// attacker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lead {
    pub alert_id: vigil_model::AlertId,
    pub source: String,
    pub rule_id: String,
    pub title: String,
    pub severity: String,
    pub detected_at: Timestamp,
    pub indicator: Option<String>,
    /// ATT&CK techniques and rule tags.
    pub techniques: Vec<String>,
    pub threat_actors: Vec<String>,
    pub malware: Vec<String>,
}

/// The closing summary of a final report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Closing {
    pub closed_at: Option<Timestamp>,
    pub hours_to_acknowledge: Option<f64>,
    pub hours_to_close: Option<f64>,
    /// Rectification (整改情况): the remediation and feedback steps and comments after the
    /// notification.
    pub rectification: Vec<Step>,
    /// Deadlines that were missed or met late.
    pub deadlines_not_met: Vec<DeadlineView>,
}

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentReport {
    pub kind: ReportKind,
    pub incident_id: IncidentId,
    pub title: String,
    pub generated_at: Timestamp,
    /// The time the report speaks for: the notification for an initial report, else now.
    pub as_of: Timestamp,
    /// Status and grade as of `as_of`.
    pub status: Named,
    pub grade: GradeView,
    pub unit: Unit,
    pub affected_systems: Vec<AffectedSystem>,
    pub times: Times,
    pub place: Named,
    pub category: Named,
    pub subcategory: Option<Named>,
    pub description: String,
    pub impact: ImpactView,
    /// Present for ransomware (MPRANS) only.
    pub ransom: Option<Ransom>,
    /// Measures taken (已采取的措施) up to `as_of`.
    pub measures: Vec<Step>,
    pub trend: Trend,
    /// The recorded preliminary cause; without one, the analyst's description stands for it
    /// (`None` when that is empty too).
    pub preliminary_cause: Option<String>,
    pub tracing_leads: Vec<Lead>,
    /// Further measures (拟进一步采取的措施): the deadlines still pending or overdue.
    pub further_measures: Vec<DeadlineView>,
    pub deadlines: Vec<DeadlineView>,
    /// Support requested, as recorded with the impact.
    pub support_requested: Option<String>,
    /// Supplement only: every timeline entry after the notification step.
    pub changes: Option<Vec<Step>>,
    /// Final only.
    pub closing: Option<Closing>,
}

/// Index of the first notification step in the timeline.
fn notified_index(inc: &Incident) -> Option<usize> {
    let action = format!("status:{}", IncidentStatus::Notified.as_str());
    inc.timeline.iter().position(|e| e.action == action)
}

/// Is this entry a measure: a remediation, feedback or verification step, or a comment?
fn is_measure(action: &str) -> bool {
    match action.split_once(':') {
        Some(("status", s)) => matches!(
            IncidentStatus::parse(s),
            Some(
                IncidentStatus::Remediating
                    | IncidentStatus::Remediated
                    | IncidentStatus::Verified
                    | IncidentStatus::Closed
            )
        ),
        _ => action == "comment",
    }
}

/// The value an `old -> new` note had before a change.
fn old_value(note: &str) -> Option<&str> {
    note.split_once(" -> ").map(|(old, _)| old.trim())
}

/// Grade and status at the end of `entries` (the first ones of the timeline): the current
/// value, unless a later entry changed it, in which case the value before that change.
fn state_at(inc: &Incident, upto: usize) -> (Grade, IncidentStatus) {
    let later = inc.timeline.get(upto..).unwrap_or_default();
    let grade = later
        .iter()
        .find(|e| e.action.starts_with("grade:"))
        .and_then(|e| old_value(&e.note))
        .and_then(Grade::parse)
        .unwrap_or(inc.spec.grade);
    let status = later
        .iter()
        .find(|e| e.action.starts_with("status:"))
        .and_then(|e| old_value(&e.note))
        .and_then(IncidentStatus::parse)
        .unwrap_or(inc.status);
    (grade, status)
}

fn hours_between(a: Timestamp, b: Timestamp) -> Option<f64> {
    let secs = b.as_second().checked_sub(a.as_second())?;
    // Whole seconds to hours, rounded to a tenth.
    #[allow(clippy::cast_precision_loss)]
    let h = secs as f64 / 3600.0;
    (h >= 0.0).then(|| (h * 10.0).round() / 10.0)
}

fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn lead(a: &Alert) -> Lead {
    let d = &a.spec.details;
    let mut techniques = strings(d, "attack_techniques");
    techniques.extend(strings(d, "tags"));
    techniques.dedup();
    Lead {
        alert_id: a.id,
        source: a.spec.source.as_str().to_string(),
        rule_id: a.spec.rule_id.clone(),
        title: a.spec.title.clone(),
        severity: a.spec.severity.as_str().to_string(),
        detected_at: a.spec.detected_at,
        indicator: d
            .get("indicator")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        techniques,
        threat_actors: strings(d, "threat_actors"),
        malware: strings(d, "malware"),
    }
}

/// Everything a report is built from.
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub org: &'a Organization,
    pub assets: &'a [Asset],
    pub alerts: &'a [Alert],
    pub deadlines: Vec<DeadlineView>,
    pub now: Timestamp,
}

/// Builds a report of `kind`, or says why that kind cannot be made now.
pub fn build(kind: ReportKind, i: Inputs<'_>) -> Result<IncidentReport, ReportError> {
    let inc = i.incident;
    let notified = notified_index(inc);
    match kind {
        ReportKind::Initial => {}
        ReportKind::Supplement => {
            if notified.is_none() {
                return Err(ReportError::NotNotified(inc.status.as_str()));
            }
        }
        ReportKind::Final => {
            if inc.status.is_open() {
                return Err(ReportError::NotClosed(inc.status.as_str()));
            }
        }
    }
    // The timeline the report speaks for.
    let upto = match (kind, notified) {
        (ReportKind::Initial, Some(n)) => n + 1,
        _ => inc.timeline.len(),
    };
    let seen = inc.timeline.get(..upto).unwrap_or_default();
    let as_of = match kind {
        ReportKind::Initial => seen.last().map_or(i.now, |e| e.at),
        _ => i.now,
    };
    let (grade, status) = state_at(inc, upto);
    let notified_at = notified.and_then(|n| inc.timeline.get(n)).map(|e| e.at);
    let after_notice: Vec<Step> = notified
        .and_then(|n| inc.timeline.get(n + 1..))
        .unwrap_or_default()
        .iter()
        .map(Step::from)
        .collect();
    let o = &i.org.spec;
    let unit = Unit {
        org_id: i.org.id,
        name: o.name.clone(),
        uscc: o.uscc.clone(),
        sector: taxonomy::sector(&o.sector).map_or_else(
            || Named::new(&o.sector, &o.sector, &o.sector),
            |s| Named::term(&s.term),
        ),
        region: Named::term_or_code(taxonomy::region(&o.region_code), &o.region_code),
        mlps_level: o.mlps_level,
        cii: o.cii,
        responsible: o.responsible.name.clone(),
        responsible_title: o.responsible.title.clone(),
    };
    let affected_systems: Vec<AffectedSystem> = i
        .assets
        .iter()
        .map(|a| AffectedSystem {
            asset_id: a.id,
            name: a.spec.name.clone(),
            kind: a.spec.kind.as_str().to_string(),
            importance: a.spec.importance.as_str().to_string(),
            addresses: a
                .spec
                .ips
                .iter()
                .map(ToString::to_string)
                .chain(a.spec.cidrs.iter().map(ToString::to_string))
                .chain(a.spec.hostnames.iter().cloned())
                .chain(a.spec.domains.iter().cloned())
                .collect(),
            vendor: a.spec.vendor.clone(),
            model: a.spec.model.clone(),
            mlps_level: o.mlps_level,
            cii: o.cii,
        })
        .collect();
    let category = Named::term_or_code(
        taxonomy::incident_category(&inc.spec.category).map(|c| &c.term),
        &inc.spec.category,
    );
    let subcategory = inc.spec.subcategory.as_deref().map(|code| {
        Named::term_or_code(taxonomy::incident_subcategory(code).map(|(_, t)| t), code)
    });
    let ransom = (inc.spec.subcategory.as_deref() == Some(RANSOMWARE)).then_some(Ransom {
        amount: None,
        payment_method: None,
        paid_on: None,
        status: None,
        currency: None,
        wallet_address: None,
    });
    let day_ago = as_of
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let trend = Trend {
        status: Named::status(status),
        alerts_total: i.alerts.len(),
        alerts_last_24h: i
            .alerts
            .iter()
            .filter(|a| a.spec.detected_at > day_ago && a.spec.detected_at <= as_of)
            .count(),
        first_alert_at: i.alerts.iter().map(|a| a.spec.detected_at).min(),
        last_alert_at: i.alerts.iter().map(|a| a.spec.detected_at).max(),
    };
    let further_measures = if kind == ReportKind::Final {
        Vec::new()
    } else {
        i.deadlines
            .iter()
            .filter(|d| matches!(d.status, "pending" | "overdue"))
            .cloned()
            .collect()
    };
    let closing = (kind == ReportKind::Final).then(|| {
        let ack = inc
            .timeline
            .iter()
            .find(|e| e.action == "status:acknowledged")
            .map(|e| e.at);
        Closing {
            closed_at: inc.closed_at,
            hours_to_acknowledge: notified_at.zip(ack).and_then(|(n, a)| hours_between(n, a)),
            hours_to_close: inc.closed_at.and_then(|c| hours_between(inc.created_at, c)),
            rectification: after_notice
                .iter()
                .filter(|s| is_measure(&s.action))
                .cloned()
                .collect(),
            deadlines_not_met: i
                .deadlines
                .iter()
                .filter(|d| matches!(d.status, "missed" | "met_late" | "overdue"))
                .cloned()
                .collect(),
        }
    });
    Ok(IncidentReport {
        kind,
        incident_id: inc.id,
        title: inc.spec.title.clone(),
        generated_at: i.now,
        as_of,
        status: Named::status(status),
        grade: GradeView::new(grade),
        place: unit.region.clone(),
        unit,
        affected_systems,
        times: Times {
            occurred_at: inc.spec.occurred_at,
            discovered_at: inc.created_at,
            notified_at,
            closed_at: if kind == ReportKind::Initial {
                None
            } else {
                inc.closed_at
            },
        },
        category,
        subcategory,
        description: inc.spec.description.clone(),
        impact: ImpactView {
            outage_minutes: None,
            people_affected: None,
            personal_records_leaked: None,
            direct_loss_yuan: None,
            affected_systems: i.assets.len(),
            linked_alerts: i.alerts.len(),
            degraded_minutes: None,
            defacement_homepage_minutes: None,
            defacement_other_minutes: None,
            affected_scope: None,
            recorded_by: None,
            recorded_at: None,
        },
        ransom,
        measures: seen
            .iter()
            .filter(|e| is_measure(&e.action))
            .map(Step::from)
            .collect(),
        trend,
        preliminary_cause: Some(inc.spec.description.trim())
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        tracing_leads: i.alerts.iter().map(lead).collect(),
        further_measures,
        deadlines: i.deadlines,
        support_requested: None,
        changes: (kind == ReportKind::Supplement).then_some(after_notice),
        closing,
    })
}

/// What a report is built from, loaded from the store.
pub struct Loaded {
    pub incident: Incident,
    pub org: Organization,
    pub assets: Vec<Asset>,
    pub alerts: Vec<Alert>,
    pub deadlines: Vec<DeadlineView>,
}

impl Loaded {
    pub fn inputs(&self, now: Timestamp) -> Inputs<'_> {
        Inputs {
            incident: &self.incident,
            org: &self.org,
            assets: &self.assets,
            alerts: &self.alerts,
            deadlines: self.deadlines.clone(),
            now,
        }
    }
}

/// Loads the incident (within `scope`: another organization's incident is not found), its
/// organization, assets, alerts and deadlines at `now`.
pub async fn gather(
    store: &dyn Store,
    scope: Scope,
    id: IncidentId,
    now: Timestamp,
) -> Result<Loaded, ApiError> {
    let inc = store
        .get_incident(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    let org = store
        .get_org(scope, inc.spec.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let mut assets = Vec::new();
    for a in &inc.spec.asset_ids {
        if let Some(asset) = store.get_asset(scope, *a).await? {
            assets.push(asset);
        }
    }
    // Alerts escalated into the incident, and those named when it was opened.
    let mut alerts = store
        .list_alerts(
            scope,
            &AlertQuery {
                incident_id: Some(inc.id),
                limit: MAX_LEADS,
                ..AlertQuery::default()
            },
        )
        .await?
        .items;
    for a in &inc.spec.alert_ids {
        if alerts.len() >= MAX_LEADS {
            break;
        }
        if !alerts.iter().any(|x| x.id == *a)
            && let Some(alert) = store.get_alert(scope, *a).await?
        {
            alerts.push(alert);
        }
    }
    alerts.sort_by_key(|a| (a.spec.detected_at, a.id));
    let deadlines = crate::workflow::deadlines(&inc, &org, now)?;
    Ok(Loaded {
        incident: inc,
        org,
        assets,
        alerts,
        deadlines,
    })
}

/// Fills the report's impact, ransom, support requested and preliminary cause from the
/// impact recorded for the incident (the latest record, whatever the report's kind). The
/// ransom block appears for ransomware and whenever a ransom was recorded.
pub fn apply_impact(report: &mut IncidentReport, recorded: Option<&vigil_model::RecordedImpact>) {
    let Some(rec) = recorded else {
        return;
    };
    let m = &rec.impact;
    let v = &mut report.impact;
    v.outage_minutes = m.outage_minutes;
    v.people_affected = m.people_affected;
    v.personal_records_leaked = m.personal_records_leaked;
    v.direct_loss_yuan = m.direct_loss_yuan;
    v.degraded_minutes = m.degraded_minutes;
    v.defacement_homepage_minutes = m.defacement_homepage_minutes;
    v.defacement_other_minutes = m.defacement_other_minutes;
    v.affected_scope.clone_from(&m.affected_scope);
    v.recorded_by = Some(rec.recorded_by.clone());
    v.recorded_at = Some(rec.recorded_at);
    if let Some(r) = &m.ransom {
        report.ransom = Some(Ransom {
            amount: Some(r.amount.clone()),
            payment_method: r.payment_method.map(|p| p.as_str().to_string()),
            paid_on: r.payment_date.map(|d| d.to_string()),
            status: Some(r.status.as_str().to_string()),
            currency: Some(r.currency.clone()),
            wallet_address: r.wallet_address.clone(),
        });
    }
    if m.preliminary_cause.is_some() {
        report.preliminary_cause.clone_from(&m.preliminary_cause);
    }
    report.support_requested.clone_from(&m.support_requested);
}

/// Loads the incident (within `scope`) and builds the report.
pub async fn load(
    store: &dyn Store,
    scope: Scope,
    id: IncidentId,
    kind: ReportKind,
    now: Timestamp,
) -> Result<IncidentReport, ApiError> {
    let loaded = gather(store, scope, id, now).await?;
    let mut report = build(kind, loaded.inputs(now))?;
    let recorded = store.get_incident_impact(scope, id).await?;
    apply_impact(&mut report, recorded.as_ref());
    Ok(report)
}

// ---- Filed reports ----------------------------------------------------------------------
//
// Filing stores the report as a JSON snapshot (vigil-store's `filed_reports`): what was sent
// stays as it was sent, numbered, with its SM3 digest. A filed supplement reports only what
// happened after the previous filed report, so consecutive supplements never repeat each
// other. The snapshot is read back into an [`IncidentReport`] to print it again.

/// A stored report names its grade by code; the rest of the view follows from it.
impl<'de> Deserialize<'de> for GradeView {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Code {
            code: String,
        }
        let c = Code::deserialize(d)?;
        Grade::parse(&c.code)
            .map(Self::new)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown grade '{}'", c.code)))
    }
}

/// Why a report cannot be filed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilingError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(
        "the incident is '{0}': the initial report is filed once the incident has been notified"
    )]
    InitialNotNotified(&'static str),
    #[error("the incident already has a filed {0} report (#{1})")]
    AlreadyFiled(&'static str, u32),
    #[error("the final report (#{0}) closed the incident's reporting")]
    AfterFinal(u32),
    #[error("nothing happened since report #{0}: a supplement reports what is new")]
    NothingNew(u32),
}

impl From<FilingError> for ApiError {
    fn from(e: FilingError) -> Self {
        let code = match &e {
            FilingError::Report(r) => return r.clone().into(),
            FilingError::InitialNotNotified(_) => "not_notified",
            FilingError::AlreadyFiled(..) => "already_filed",
            FilingError::AfterFinal(_) => "final_filed",
            FilingError::NothingNew(_) => "nothing_new",
        };
        ApiError::new(StatusCode::CONFLICT, code, e.to_string())
    }
}

/// A report ready to be filed, with what the store records alongside it.
#[derive(Debug, Clone)]
pub struct Filing {
    pub report: IncidentReport,
    /// Timeline entries `0..timeline_upto` are covered by this report.
    pub timeline_upto: u32,
    /// The latest filed report it follows (0: none).
    pub previous_seq: u32,
}

/// The filing of a report is itself on the timeline, but is not news for the next report.
pub fn is_filing_entry(action: &str) -> bool {
    action.starts_with("report:")
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds the report of `kind` to file, given the reports already filed (any order): the
/// initial report once, after notification, as of the notification; a supplement with the
/// timeline entries after the previous filed report (the first: after the notification);
/// the final report once, when the incident is closed.
pub fn prepare_filing(
    kind: ReportKind,
    i: Inputs<'_>,
    filed: &[vigil_store::FiledReport],
) -> Result<Filing, FilingError> {
    let inc = i.incident;
    let latest = filed.iter().max_by_key(|r| r.seq);
    let previous_seq = latest.map_or(0, |r| r.seq);
    if let Some(f) = filed.iter().find(|r| r.kind == ReportKind::Final.as_str()) {
        return Err(FilingError::AfterFinal(f.seq));
    }
    if kind == ReportKind::Initial
        && let Some(f) = filed.iter().find(|r| r.kind == kind.as_str())
    {
        return Err(FilingError::AlreadyFiled(kind.as_str(), f.seq));
    }
    let notified = notified_index(inc);
    if kind == ReportKind::Initial && notified.is_none() {
        return Err(FilingError::InitialNotNotified(inc.status.as_str()));
    }
    let len = inc.timeline.len();
    let mut report = build(kind, i)?;
    let timeline_upto = match (kind, notified) {
        (ReportKind::Initial, Some(n)) => n + 1,
        _ => len,
    };
    if kind == ReportKind::Supplement {
        let after_notice = notified.map_or(len, |n| n + 1);
        let since = latest.map_or(after_notice, |r| {
            (r.timeline_upto as usize).max(after_notice)
        });
        let changes: Vec<Step> = inc
            .timeline
            .get(since..)
            .unwrap_or_default()
            .iter()
            .filter(|e| !is_filing_entry(&e.action))
            .map(Step::from)
            .collect();
        if changes.is_empty() {
            return Err(FilingError::NothingNew(previous_seq));
        }
        report.changes = Some(changes);
    }
    Ok(Filing {
        report,
        timeline_upto: count(timeline_upto),
        previous_seq,
    })
}

/// A filed report read back from its stored snapshot.
pub fn from_snapshot(bytes: &[u8]) -> Result<IncidentReport, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod filing_tests {
    use super::*;
    use vigil_model::{Contact, NewIncident, NewOrganization, OrgId};
    use vigil_store::{FiledReport, FiledReportId};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn entry(action: &str, secs: i64) -> TimelineEntry {
        TimelineEntry {
            at: at(secs),
            actor: "user:t".into(),
            action: action.into(),
            note: String::new(),
        }
    }

    fn org() -> Organization {
        Organization {
            id: OrgId::new(),
            spec: NewOrganization {
                name: "Grid".into(),
                uscc: None,
                sector: "power".into(),
                region_code: "330100".into(),
                mlps_level: 3,
                cii: true,
                miit_type: None,
                miit_grade: None,
                responsible: Contact::default(),
                contacts: vec![],
            },
            created_at: at(0),
            updated_at: at(0),
        }
    }

    fn incident(org: &Organization, actions: &[&str]) -> Incident {
        Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: org.id,
                title: "t".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: None,
                grade: Grade::Major,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: at(0),
            },
            status: IncidentStatus::Remediating,
            created_at: at(0),
            updated_at: at(0),
            closed_at: None,
            timeline: actions
                .iter()
                .zip(0..)
                .map(|(a, i)| entry(a, i * 60))
                .collect(),
        }
    }

    fn filed(inc: &Incident, seq: u32, kind: &str, upto: u32) -> FiledReport {
        FiledReport {
            id: FiledReportId::new(),
            incident_id: inc.id,
            org_id: inc.spec.org_id,
            seq,
            kind: kind.into(),
            timeline_upto: upto,
            filed_by: "user:t".into(),
            filed_at: at(0),
            size: 2,
            sm3: String::new(),
        }
    }

    fn prepare(
        kind: ReportKind,
        inc: &Incident,
        org: &Organization,
        done: &[FiledReport],
    ) -> Result<Filing, FilingError> {
        let deadlines = crate::workflow::deadlines(inc, org, at(7200)).unwrap_or_default();
        prepare_filing(
            kind,
            Inputs {
                incident: inc,
                org,
                assets: &[],
                alerts: &[],
                deadlines,
                now: at(7200),
            },
            done,
        )
    }

    fn changes(f: &Filing) -> Vec<&str> {
        f.report
            .changes
            .iter()
            .flatten()
            .map(|s| s.action.as_str())
            .collect()
    }

    #[test]
    fn supplements_cover_only_what_followed_the_previous_filed_report() {
        let o = org();
        let mut inc = incident(
            &o,
            &["created", "status:triaged", "status:notified", "comment"],
        );
        let first = prepare(ReportKind::Initial, &inc, &o, &[]).expect("initial");
        assert_eq!(first.timeline_upto, 3, "as of the notification");
        assert_eq!(first.previous_seq, 0);
        inc.timeline.push(entry("report:initial", 200));
        let done = [filed(&inc, 1, "initial", first.timeline_upto)];
        assert_eq!(
            prepare(ReportKind::Initial, &inc, &o, &done).err(),
            Some(FilingError::AlreadyFiled("initial", 1))
        );
        // The first supplement: after the notification (the filing itself is no news).
        let sup = prepare(ReportKind::Supplement, &inc, &o, &done).expect("supplement");
        assert_eq!(changes(&sup), ["comment"]);
        assert_eq!(sup.previous_seq, 1);
        assert_eq!(sup.timeline_upto, 5);
        inc.timeline.push(entry("report:supplement", 300));
        let done = [
            done[0].clone(),
            filed(&inc, 2, "supplement", sup.timeline_upto),
        ];
        assert_eq!(
            prepare(ReportKind::Supplement, &inc, &o, &done).err(),
            Some(FilingError::NothingNew(2))
        );
        inc.timeline.push(entry("status:acknowledged", 400));
        inc.timeline.push(entry("status:remediating", 500));
        let next = prepare(ReportKind::Supplement, &inc, &o, &done).expect("supplement");
        assert_eq!(
            changes(&next),
            ["status:acknowledged", "status:remediating"]
        );
        assert_eq!(next.previous_seq, 2);
    }

    #[test]
    fn initial_waits_for_the_notice_and_nothing_follows_the_final() {
        let o = org();
        let inc = incident(&o, &["created", "status:triaged"]);
        assert_eq!(
            prepare(ReportKind::Initial, &inc, &o, &[]).err(),
            Some(FilingError::InitialNotNotified("remediating"))
        );
        let done = [filed(&inc, 3, "final", 2)];
        assert_eq!(
            prepare(ReportKind::Supplement, &inc, &o, &done).err(),
            Some(FilingError::AfterFinal(3))
        );
    }

    #[test]
    fn a_filed_snapshot_reads_back_as_the_same_report() {
        let o = org();
        let inc = incident(
            &o,
            &["created", "status:triaged", "status:notified", "comment"],
        );
        let f = prepare(ReportKind::Supplement, &inc, &o, &[]).expect("supplement");
        assert!(!f.report.deadlines.is_empty(), "deadlines in the snapshot");
        let bytes = serde_json::to_vec(&f.report).expect("json");
        let back = from_snapshot(&bytes).expect("reads back");
        assert_eq!(
            serde_json::to_value(&back).ok(),
            serde_json::to_value(&f.report).ok()
        );
        assert_eq!(back.grade.name_zh, "重大");
        let mut broken: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        broken["deadlines"][0]["status"] = "whenever".into();
        assert!(from_snapshot(broken.to_string().as_bytes()).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{Contact, NewIncident, NewOrganization, OrgId};

    fn entry(action: &str, note: &str, secs: i64) -> TimelineEntry {
        TimelineEntry {
            at: Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH),
            actor: "user:t".into(),
            action: action.into(),
            note: note.into(),
        }
    }

    fn org() -> Organization {
        Organization {
            id: OrgId::new(),
            spec: NewOrganization {
                name: "浙江电网测试公司".into(),
                uscc: None,
                sector: "power".into(),
                region_code: "330100".into(),
                mlps_level: 3,
                cii: true,
                miit_type: None,
                miit_grade: None,
                responsible: Contact {
                    name: "张三".into(),
                    ..Contact::default()
                },
                contacts: vec![],
            },
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn incident(org: &Organization, subcategory: &str) -> Incident {
        Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: org.id,
                title: "t".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: Some(subcategory.into()),
                grade: Grade::Major,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: Timestamp::UNIX_EPOCH,
            },
            status: IncidentStatus::Remediated,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            closed_at: None,
            timeline: vec![
                entry("created", "", 0),
                entry("status:triaged", "open -> triaged", 60),
                entry("comment", "before the notice", 90),
                entry("status:notified", "triaged -> notified", 120),
                entry("status:acknowledged", "notified -> acknowledged", 180),
                entry("grade:major", "large -> major", 200),
                entry("overdue:remediate", "", 250),
                entry("status:remediating", "acknowledged -> remediating", 300),
                entry("status:remediated", "remediating -> remediated", 400),
            ],
        }
    }

    fn make(
        kind: ReportKind,
        inc: &Incident,
        org: &Organization,
    ) -> Result<IncidentReport, ReportError> {
        build(
            kind,
            Inputs {
                incident: inc,
                org,
                assets: &[],
                alerts: &[],
                deadlines: Vec::new(),
                now: Timestamp::from_second(1000).unwrap_or(Timestamp::UNIX_EPOCH),
            },
        )
    }

    #[test]
    fn kinds_parse_and_unknown_ones_name_the_parameter() {
        assert_eq!(ReportKind::from_param(None).ok(), Some(ReportKind::Initial));
        assert_eq!(
            ReportKind::from_param(Some("final")).ok(),
            Some(ReportKind::Final)
        );
        let e = ReportKind::from_param(Some("Final")).err();
        assert_eq!(
            e.as_ref().map(|e| e.status),
            Some(StatusCode::UNPROCESSABLE_ENTITY)
        );
        assert!(e.is_some_and(|e| e.message.starts_with("kind:")));
    }

    #[test]
    fn the_initial_report_speaks_as_of_the_notification() {
        let o = org();
        let inc = incident(&o, "MPRANS");
        let r = make(ReportKind::Initial, &inc, &o).expect("initial");
        assert_eq!(r.as_of.as_second(), 120);
        assert_eq!(r.grade.code, "large", "regraded after the notice");
        assert_eq!(r.status.code, "notified");
        // A comment before the notice is a measure; the triage step is not.
        assert_eq!(r.measures.len(), 1);
        assert_eq!(r.measures[0].note, "before the notice");
        assert!(r.ransom.as_ref().is_some_and(|x| x.amount.is_none()));
        assert_eq!(r.unit.region.name_zh, "杭州市");
        assert!(r.changes.is_none() && r.closing.is_none());
    }

    #[test]
    fn supplements_list_every_entry_after_the_notice_and_finals_wait_for_closing() {
        let o = org();
        let mut inc = incident(&o, "MPTROJ");
        let r = make(ReportKind::Supplement, &inc, &o).expect("supplement");
        let changes: Vec<&str> = r
            .changes
            .iter()
            .flatten()
            .map(|s| s.action.as_str())
            .collect();
        assert_eq!(
            changes,
            [
                "status:acknowledged",
                "grade:major",
                "overdue:remediate",
                "status:remediating",
                "status:remediated"
            ]
        );
        assert_eq!(r.grade.code, "major");
        assert!(r.ransom.is_none());
        assert_eq!(
            make(ReportKind::Final, &inc, &o).err(),
            Some(ReportError::NotClosed("remediated"))
        );
        inc.timeline.retain(|e| e.action != "status:notified");
        inc.status = IncidentStatus::Triaged;
        assert_eq!(
            make(ReportKind::Supplement, &inc, &o).err(),
            Some(ReportError::NotNotified("triaged"))
        );
    }
}
