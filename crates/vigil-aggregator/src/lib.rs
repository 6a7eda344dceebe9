//! The incident aggregator (issue 6, item 1): newly created alerts become incidents.
//!
//! Alerts at or above a minimum severity group by [`vigil_incident::group_key`]
//! (organization, asset, rule family, time window). For each group the aggregator looks for
//! the organization's open incident opened under that key and attaches the alerts to it, or
//! opens a new one: titled after the first alert and the asset, classified by GB/T
//! 20986-2023 from the alerts' tags, ATT&CK techniques and indicator types
//! ([`ClassificationTable`]), graded from the affected assets and organization as the store
//! has them now ([`vigil_incident::grade`] against versioned [`Thresholds`]), with the reasons
//! in its description. An attach re-grades with the incident's assets and raises the grade
//! when it is more severe; it never lowers it (an analyst may).
//!
//! Concurrency is the store's: an organization has at most one open incident per key
//! (`Store::create_aggregated_incident` answers `Conflict` to the second), so any number of
//! aggregators (the pipeline's, the API's, the demo's) may run at once. A create that loses
//! the race finds the winner and attaches; an attach to an incident closed meanwhile opens a
//! new one.
//!
//! Aggregation never fails the caller's alerts: [`Aggregator::aggregate`] reports errors per
//! group in its [`Summary`] (and counts them in `vigil_incident_aggregation_errors_total`),
//! after the alerts are stored.

use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use std::sync::Arc;
use vigil_incident::classify::MappingError;
use vigil_incident::grading::ThresholdError;
use vigil_incident::{
    AffectedAsset, AffectedOrg, ClassificationTable, GradeReason, GroupKey, Impact, Thresholds,
    Window, group_key,
};
use vigil_model::{
    Alert, AlertId, AlertStatus, Asset, AssetId, AuditOutcome, Grade, Incident, IncidentId,
    NewAuditRecord, NewIncident, OrgId, Organization, Scope, Severity, taxonomy,
};
use vigil_store::{AlertAttachment, AttachOutcome, Store, StoreError};

/// The actor of the aggregator's timeline entries and audit records.
pub const ACTOR: &str = "system:aggregator";
/// Window length when the configuration does not say.
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_hours(1);
/// Least severe alert that aggregates when the configuration does not say.
pub const DEFAULT_MIN_SEVERITY: Severity = Severity::Medium;
/// Find-then-create-or-attach rounds per group before giving up. A round is lost only when
/// another aggregator created or closed the key's incident in between, so three is plenty.
const MAX_ROUNDS: usize = 4;
/// Longest rule family kept in a key (an engine's `rule_family` is free text).
const MAX_FAMILY_CHARS: usize = 300;

/// What can stop one group from aggregating.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Thresholds(#[from] ThresholdError),
    #[error(transparent)]
    Classification(#[from] MappingError),
    #[error(transparent)]
    Window(#[from] vigil_incident::aggregate::WindowError),
    #[error("organization {0} of the alerts does not exist")]
    MissingOrg(OrgId),
    #[error("the incident of key '{0}' kept changing under concurrent aggregation")]
    Contended(String),
}

/// How alerts aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorConfig {
    pub window: Window,
    /// Alerts less severe than this are left alone.
    pub min_severity: Severity,
}

impl AggregatorConfig {
    /// A window of `window` (1 minute to 31 days, aligned to Shanghai midnight).
    pub fn new(window: SignedDuration, min_severity: Severity) -> Result<Self, AggregateError> {
        Ok(Self {
            window: Window::new(window)?,
            min_severity,
        })
    }

    /// One-hour windows, medium severity and above.
    pub fn defaults() -> Result<Self, AggregateError> {
        Self::new(DEFAULT_WINDOW, DEFAULT_MIN_SEVERITY)
    }
}

/// What one [`Aggregator::aggregate`] call did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Incidents opened.
    pub created: Vec<IncidentId>,
    /// Existing incidents that took alerts.
    pub attached_to: Vec<IncidentId>,
    /// Incidents whose grade an attach raised.
    pub raised: Vec<IncidentId>,
    /// Alerts now on an incident.
    pub aggregated: usize,
    /// Alerts below the minimum severity, or already on an incident.
    pub skipped: usize,
    /// Groups that failed, with the error; their alerts stay as they are.
    pub errors: Vec<AggregateError>,
}

/// Groups alerts into incidents through a store. Cheap to share (`Arc`).
pub struct Aggregator {
    store: Arc<dyn Store>,
    config: AggregatorConfig,
    thresholds: Thresholds,
    table: ClassificationTable,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator")
            .field("config", &self.config)
            .field("thresholds", &self.thresholds.version)
            .field("classification", &self.table.version)
            .finish()
    }
}

/// One group's result.
enum Outcome {
    Created(Incident),
    Attached(AttachOutcome),
}

impl Aggregator {
    /// An aggregator with the embedded grading thresholds and classification table.
    pub fn new(store: Arc<dyn Store>, config: AggregatorConfig) -> Result<Self, AggregateError> {
        Ok(Self {
            store,
            config,
            thresholds: Thresholds::builtin()?.clone(),
            table: ClassificationTable::builtin()?.clone(),
        })
    }

    /// Grades against other thresholds (a newer version, or a test's).
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Aggregates newly created alerts. Never fails as a whole: a group that fails is logged,
    /// counted and reported in [`Summary::errors`], and the other groups go on.
    pub async fn aggregate(&self, alerts: &[Alert]) -> Summary {
        let mut summary = Summary::default();
        let mut groups: BTreeMap<GroupKey, Vec<&Alert>> = BTreeMap::new();
        for a in alerts {
            let fresh = a.status == AlertStatus::New && a.incident_id.is_none();
            if fresh && a.spec.severity >= self.config.min_severity {
                groups
                    .entry(group_key(&a.spec, &self.config.window))
                    .or_default()
                    .push(a);
            } else {
                summary.skipped += 1;
            }
        }
        for (key, mut members) in groups {
            members.sort_by_key(|a| (a.spec.detected_at, a.id));
            match self.group(&key, &members).await {
                Ok(Outcome::Created(inc)) => {
                    metrics::counter!("vigil_incidents_created_total").increment(1);
                    summary.aggregated += members.len();
                    summary.created.push(inc.id);
                }
                Ok(Outcome::Attached(out)) => {
                    metrics::counter!("vigil_incident_alerts_attached_total")
                        .increment(out.attached.len() as u64);
                    summary.aggregated += members.len();
                    if out.raised() {
                        metrics::counter!("vigil_incident_grade_raised_total").increment(1);
                        summary.raised.push(out.incident.id);
                    }
                    summary.attached_to.push(out.incident.id);
                }
                Err(e) => {
                    metrics::counter!("vigil_incident_aggregation_errors_total").increment(1);
                    tracing::warn!(
                        error = %e,
                        org = %key.org_id,
                        family = %key.rule_family,
                        alerts = members.len(),
                        "incident aggregation failed; the alerts stay unaggregated"
                    );
                    summary.errors.push(e);
                }
            }
        }
        summary
    }

    async fn group(&self, gk: &GroupKey, alerts: &[&Alert]) -> Result<Outcome, AggregateError> {
        let key = key_string(gk);
        let scope = Scope::Org(gk.org_id);
        let org = self
            .store
            .get_org(scope, gk.org_id)
            .await?
            .ok_or(AggregateError::MissingOrg(gk.org_id))?;
        let alert_ids: Vec<AlertId> = alerts.iter().map(|a| a.id).collect();
        let mut wanted: Vec<AssetId> = Vec::new();
        for a in alerts {
            if let Some(id) = a.spec.asset_id
                && !wanted.contains(&id)
            {
                wanted.push(id);
            }
        }
        let new_assets = self.assets(scope, &wanted).await?;
        for _ in 0..MAX_ROUNDS {
            if let Some(inc) = self
                .store
                .find_open_incident_by_key(scope, gk.org_id, &key)
                .await?
            {
                let mut ids = inc.spec.asset_ids.clone();
                for a in &new_assets {
                    if !ids.contains(&a.id) {
                        ids.push(a.id);
                    }
                }
                let assets = self.assets(scope, &ids).await?;
                // The impact recorded for the incident counts as well: an attach must not
                // propose less than the impact already justifies.
                let impact = self
                    .store
                    .get_incident_impact(scope, inc.id)
                    .await?
                    .map(|r| Impact::from(&r.impact))
                    .unwrap_or_default();
                let (grade, reasons) = self.grade(&org, &assets, &impact);
                let attach = AlertAttachment {
                    alert_ids: alert_ids.clone(),
                    asset_ids: new_assets.iter().map(|a| a.id).collect(),
                    grade: Some(grade),
                    grade_note: grade_text(grade, &reasons, &self.thresholds),
                };
                match self.store.attach_alerts(scope, inc.id, attach, ACTOR).await {
                    Ok(Some(out)) => {
                        self.audit_attach(&out).await;
                        return Ok(Outcome::Attached(out));
                    }
                    // Closed or deleted since it was found: look again.
                    Ok(None) | Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let spec = self.new_incident(&org, gk, alerts, &new_assets);
            match self
                .store
                .create_aggregated_incident(spec, &key, ACTOR)
                .await
            {
                Ok(inc) => {
                    self.audit(
                        "incident.create",
                        &inc,
                        format!("opened from {} alerts under key {key}", alerts.len()),
                    )
                    .await;
                    return Ok(Outcome::Created(inc));
                }
                // Another aggregator opened it first: attach to theirs.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AggregateError::Contended(key))
    }

    /// The assets among `ids` that exist in the scope, in order.
    async fn assets(&self, scope: Scope, ids: &[AssetId]) -> Result<Vec<Asset>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = self.store.get_asset(scope, *id).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The grade of an incident of `org` affecting `assets` with `impact`. Alerts carry no
    /// impact figures (outage, records, loss): those are recorded for the incident
    /// (`Store::set_incident_impact`), by the analyst or the organization.
    fn grade(
        &self,
        org: &Organization,
        assets: &[Asset],
        impact: &Impact,
    ) -> (Grade, Vec<GradeReason>) {
        let orgs = [AffectedOrg::from(&org.spec)];
        let affected: Vec<AffectedAsset> = assets
            .iter()
            .map(|a| AffectedAsset::of(&a.spec, &org.spec))
            .collect();
        vigil_incident::grade(impact, &orgs, &affected, &self.thresholds)
    }

    fn new_incident(
        &self,
        org: &Organization,
        gk: &GroupKey,
        alerts: &[&Alert],
        assets: &[Asset],
    ) -> NewIncident {
        let first = alerts.first().map(|a| &a.spec);
        let rule_title = first.map_or(gk.rule_family.as_str(), |a| a.title.as_str());
        let place = match assets.first() {
            Some(a) => format!("{} ({})", a.spec.name, org.spec.name),
            None => org.spec.name.clone(),
        };
        let title = truncate(&format!("{rule_title} on {place}"), 500);
        let (category, subcategory, why) = self.classify(alerts);
        let (grade, reasons) = self.grade(org, assets, &Impact::default());
        let end = gk
            .window_start
            .checked_add(self.config.window.length())
            .unwrap_or(gk.window_start);
        let asset_text = match assets.first() {
            Some(a) => format!("asset {} ({})", a.spec.name, a.id),
            None => "no attributed asset".to_string(),
        };
        let description = format!(
            "Opened by the alert aggregator from {n} alert(s) of rule family \"{family}\" on \
             {asset_text} between {start} and {end}.\nClassification: {why}.\nGrade {level} \
             ({grade}): {reasons}.",
            n = alerts.len(),
            family = gk.rule_family,
            start = gk.window_start,
            level = grade.level(),
            grade = grade.name("zh"),
            reasons = grade_text(grade, &reasons, &self.thresholds),
        );
        NewIncident {
            org_id: org.id,
            title,
            description: truncate(&description, 20_000),
            category,
            subcategory,
            grade,
            asset_ids: assets.iter().map(|a| a.id).collect(),
            alert_ids: alerts.iter().map(|a| a.id).collect(),
            occurred_at: alerts
                .iter()
                .map(|a| a.spec.detected_at)
                .min()
                .unwrap_or_else(Timestamp::now),
        }
    }

    /// Category, sub-category and why: the classification table over the alerts' signals,
    /// else the sub-category a detection suggested, else "other" for an analyst to decide.
    fn classify(&self, alerts: &[&Alert]) -> (String, Option<String>, String) {
        let mut tags: Vec<String> = Vec::new();
        let mut indicators: Vec<String> = Vec::new();
        for a in alerts {
            let d = &a.spec.details;
            for t in strings(d.get("tags")) {
                push_unique(&mut tags, t);
            }
            for t in strings(d.get("indicator_types")) {
                push_unique(&mut indicators, t);
            }
            if let Some(t) = d.get("indicator_type").and_then(|v| v.as_str()) {
                push_unique(&mut indicators, t.to_string());
            }
        }
        if let Some(c) = self.table.classify(
            tags.iter().map(String::as_str),
            indicators.iter().map(String::as_str),
        ) {
            let why = format!(
                "{} from {} (classification table {})",
                c.subcategory,
                c.matched.join(", "),
                self.table.version
            );
            return (c.category, Some(c.subcategory), why);
        }
        for a in alerts {
            let Some(code) = a.spec.category.as_deref() else {
                continue;
            };
            if let Some((cat, sub)) = taxonomy::incident_subcategory(code) {
                let why = format!("{code} as the detection suggested");
                return (cat.term.code.clone(), Some(sub.code.clone()), why);
            }
            if taxonomy::incident_category(code).is_some() {
                let why = format!("{code} as the detection suggested");
                return (code.to_string(), None, why);
            }
        }
        let why = format!(
            "no tag, ATT&CK technique or indicator type of the alerts is in the classification \
             table {}; an analyst should classify it",
            self.table.version
        );
        ("OTH".to_string(), None, why)
    }

    async fn audit_attach(&self, out: &AttachOutcome) {
        if !out.attached.is_empty() {
            self.audit(
                "incident.attach_alerts",
                &out.incident,
                format!("{} alerts attached", out.attached.len()),
            )
            .await;
        }
        if out.raised() {
            self.audit(
                "incident.grade",
                &out.incident,
                format!(
                    "{} -> {} as more assets are affected",
                    out.previous_grade.as_str(),
                    out.incident.spec.grade.as_str()
                ),
            )
            .await;
        }
    }

    async fn audit(&self, action: &str, inc: &Incident, detail: String) {
        let record = NewAuditRecord {
            actor: ACTOR.to_string(),
            action: action.to_string(),
            object: format!("incident/{}", inc.id),
            outcome: AuditOutcome::Success,
            org_id: Some(inc.spec.org_id),
            detail,
        };
        if let Err(e) = self.store.append_audit(record).await {
            metrics::counter!("vigil_audit_write_failures_total").increment(1);
            tracing::error!(error = %e, action, incident = %inc.id, "audit write failed");
        }
    }
}

/// The store key of a group: rule family, asset and window start (the organization is the
/// incident's own column).
pub fn key_string(gk: &GroupKey) -> String {
    let asset = gk
        .asset_id
        .map_or_else(|| "-".to_string(), |a| a.to_string());
    format!(
        "{}|{asset}|{}",
        truncate(&gk.rule_family, MAX_FAMILY_CHARS),
        gk.window_start
    )
}

/// Why a grade: the rules met, or that none was.
fn grade_text(grade: Grade, reasons: &[GradeReason], t: &Thresholds) -> String {
    if reasons.is_empty() {
        return format!(
            "{} by default, no threshold of {} reached by the affected assets and organization",
            grade.as_str(),
            t.version
        );
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|r| {
            format!(
                "{} ({:?} {} >= {}, {})",
                r.text, r.factor, r.value, r.min, r.source
            )
        })
        .collect();
    format!("{} (thresholds {})", parts.join("; "), t.version)
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
