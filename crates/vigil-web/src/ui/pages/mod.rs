//! The pages behind the navigation.

pub mod alerts;
pub mod asset_form;
pub mod assets;
pub mod attack;
pub mod events;
pub mod feedback;
pub mod filed_reports;
pub mod impact;
pub mod incident_report;
pub mod incidents;
pub mod intel;
pub mod orgs;
pub mod overview;
pub mod pipeline;
pub mod portal;
pub mod reports;
pub mod warnings;

use super::i18n::Catalog;
use super::view::{self, OrgNames};
use vigil_model::{Alert, Grade, Incident, Severity};

/// A row of an alert table.
pub struct AlertRow {
    pub id: String,
    pub created: String,
    pub severity: &'static str,
    pub severity_class: &'static str,
    pub title: String,
    pub org_id: String,
    pub org: String,
    pub source: &'static str,
    pub status: &'static str,
    pub category: String,
    pub incident_id: Option<String>,
}

pub fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Info => "sev sev-info",
        Severity::Low => "sev sev-low",
        Severity::Medium => "sev sev-medium",
        Severity::High => "sev sev-high",
        Severity::Critical => "sev sev-critical",
    }
}

pub fn grade_class(g: Grade) -> &'static str {
    match g.colour() {
        "red" => "grade grade-red",
        "orange" => "grade grade-orange",
        "yellow" => "grade grade-yellow",
        _ => "grade grade-blue",
    }
}

impl AlertRow {
    pub fn new(a: &Alert, t: &Catalog, orgs: &OrgNames) -> Self {
        let lang = t.lang();
        Self {
            id: a.id.to_string(),
            created: view::fmt_time(a.created_at),
            severity: a.spec.severity.name(lang),
            severity_class: severity_class(a.spec.severity),
            title: a.spec.title.clone(),
            org_id: a.spec.org_id.to_string(),
            org: orgs.name(a.spec.org_id),
            source: a.spec.source.name(lang),
            status: a.status.name(lang),
            category: a
                .spec
                .category
                .as_deref()
                .map(|c| view::category_name(c, lang))
                .unwrap_or_default(),
            incident_id: a.incident_id.map(|i| i.to_string()),
        }
    }
}

/// A row of an incident table.
pub struct IncidentRow {
    pub id: String,
    pub created: String,
    pub occurred: String,
    pub grade: &'static str,
    pub grade_class: &'static str,
    pub title: String,
    pub org_id: String,
    pub org: String,
    pub category: String,
    pub status: &'static str,
    pub open: bool,
    /// A deadline has passed unmet (set by the pages that compute it; see `crate::overdue`).
    pub overdue: bool,
}

impl IncidentRow {
    pub fn new(i: &Incident, t: &Catalog, orgs: &OrgNames) -> Self {
        let lang = t.lang();
        let mut category = view::category_name(&i.spec.category, lang);
        if let Some(sub) = &i.spec.subcategory {
            category = format!("{category} / {}", view::category_name(sub, lang));
        }
        Self {
            id: i.id.to_string(),
            created: view::fmt_time(i.created_at),
            occurred: view::fmt_time(i.spec.occurred_at),
            grade: i.spec.grade.name(lang),
            grade_class: grade_class(i.spec.grade),
            title: i.spec.title.clone(),
            org_id: i.spec.org_id.to_string(),
            org: orgs.name(i.spec.org_id),
            category,
            status: i.status.name(lang),
            open: i.status.is_open(),
            overdue: false,
        }
    }
}
