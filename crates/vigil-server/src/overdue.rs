//! The deadline watcher: a background task of `vigil serve` that acts when incident deadlines
//! come close or pass, and when early warnings are not acknowledged by their response
//! deadline.
//!
//! Every pass (every `[incidents] overdue_check`):
//! - lists the open incidents page by page (bounded memory), computes their deadlines under
//!   the built-in policy and asks [`vigil_incident::escalation::decide`] what is still to do;
//! - a deadline within its reminder lead gets a `reminder:<kind>` timeline entry, an audit
//!   record `incident.deadline_reminder`, a reminder to the organization, and counts
//!   `vigil_incidents_deadline_reminders_total{kind}`;
//! - a passed deadline gets an `overdue:<kind>` timeline entry, an audit record
//!   `incident.overdue`, a reminder to the organization, for 重大 and 特别重大 an escalation
//!   notice to the platform's channels (webhooks serving every organization), and counts
//!   `vigil_incidents_overdue_total{kind}`;
//! - for every warning whose response deadline has passed, each recipient that has not
//!   acknowledged gets one reminder, counted `vigil_warnings_overdue_total`.
//!
//! **Once only.** The mark is written first and conditionally, and only the caller whose mark
//! was new acts: `Store::add_incident_entry_once` appends the timeline entry unless one with
//! that action exists, in one transaction under the incident's lock (SQLite's single writer,
//! PostgreSQL's `SELECT ... FOR UPDATE`); `Store::mark_warning_reminded` sets the recipient's
//! `reminded_at` only where it is NULL. A restart, a second pass, or a second node on the
//! same database therefore never acts twice. The price: a crash between the mark and the
//! enqueue loses that one reminder (at most once, never twice); the mark is on the timeline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use vigil_incident::deadline::{DeadlineKind, DeadlinePolicy, IncidentClock, PolicyError};
use vigil_incident::escalation::{self, Action, ReminderLead};
use vigil_model::{
    AuditOutcome, Incident, NewAuditRecord, OrgId, Organization, Scope, Timestamp, Warning,
};
use vigil_notify::{Notification, Notifier};
use vigil_store::{IncidentQuery, Store, StoreError, WarningQuery};

/// The actor of the watcher's timeline entries and audit records.
pub const ACTOR: &str = "system:deadline-watcher";
/// Incidents and warnings read per page.
const PAGE: usize = 200;

/// What can stop a pass.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// Incidents looked at.
    pub incidents: usize,
    /// Overdue deadlines escalated (timeline entry, audit, reminder).
    pub overdue: usize,
    /// Reminders before a deadline.
    pub reminders: usize,
    /// Warning recipients reminded after the response deadline.
    pub warning_reminders: usize,
    /// Deliveries enqueued in all.
    pub deliveries: usize,
}

/// The watcher. Cheap to build; [`DeadlineWatcher::run_once`] is one pass.
pub struct DeadlineWatcher {
    store: Arc<dyn Store>,
    notifier: Option<Notifier>,
    policy: &'static DeadlinePolicy,
    lead: ReminderLead,
}

fn kind_zh(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Report => "报告",
        DeadlineKind::Escalate => "上报",
        DeadlineKind::Acknowledge => "签收",
        DeadlineKind::Remediate => "整改反馈",
    }
}

impl DeadlineWatcher {
    /// A watcher over `store`; without a notifier it still records (timeline, audit,
    /// metrics) but sends nothing, and leaves warnings alone (their mark would claim a
    /// reminder that was never sent).
    pub fn new(
        store: Arc<dyn Store>,
        notifier: Option<Notifier>,
        lead: ReminderLead,
    ) -> Result<Self, WatchError> {
        Ok(Self {
            store,
            notifier,
            policy: DeadlinePolicy::builtin()?,
            lead,
        })
    }

    /// Runs a pass now and then every `interval` until `shutdown` completes. Errors are
    /// logged; the next pass tries again.
    pub async fn run(self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            match self.run_once(Timestamp::now()).await {
                Ok(r) if r.overdue + r.reminders + r.warning_reminders > 0 => {
                    tracing::info!(
                        overdue = r.overdue,
                        reminders = r.reminders,
                        warning_reminders = r.warning_reminders,
                        deliveries = r.deliveries,
                        "deadline watcher pass"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline watcher pass failed"),
            }
        }
    }

    /// One pass over open incidents and overdue warnings at `now`.
    pub async fn run_once(&self, now: Timestamp) -> Result<PassReport, WatchError> {
        let mut report = PassReport::default();
        self.incidents(now, &mut report).await?;
        if self.notifier.is_some() {
            self.warnings(now, &mut report).await?;
        }
        Ok(report)
    }

    async fn incidents(&self, now: Timestamp, report: &mut PassReport) -> Result<(), WatchError> {
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_incidents(
                    Scope::All,
                    &IncidentQuery {
                        open: Some(true),
                        limit: PAGE,
                        cursor: cursor.take(),
                        ..IncidentQuery::default()
                    },
                )
                .await?;
            // Organizations of this page only, so memory stays bounded by the page.
            let mut orgs: HashMap<OrgId, Option<Organization>> = HashMap::new();
            for inc in &page.items {
                report.incidents += 1;
                let org = match orgs.entry(inc.spec.org_id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(self.store.get_org(Scope::All, inc.spec.org_id).await?)
                    }
                };
                let Some(org) = org.as_ref() else {
                    continue;
                };
                self.incident(inc, org, now, report).await?;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }

    async fn incident(
        &self,
        inc: &Incident,
        org: &Organization,
        now: Timestamp,
        report: &mut PassReport,
    ) -> Result<(), WatchError> {
        let clock = IncidentClock::of_incident(inc, &org.spec, false);
        let actions = escalation::decide(self.policy, &clock, now, self.lead, |a| {
            inc.timeline.iter().any(|e| e.action == a)
        });
        for action in actions {
            let due_local = action
                .due()
                .to_zoned(self.policy.zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string();
            let kind = action.kind().as_str();
            let note = format!("{kind} due {due_local} (Asia/Shanghai)");
            // The durable, conditional mark: only the caller that writes it acts.
            let newly = self
                .store
                .add_incident_entry_once(inc.id, &action.mark(), &note, ACTOR)
                .await?;
            if newly != Some(true) {
                continue;
            }
            let (audit_action, escalate) = match action {
                Action::Remind { .. } => {
                    report.reminders += 1;
                    metrics::counter!("vigil_incidents_deadline_reminders_total", "kind" => kind)
                        .increment(1);
                    ("incident.deadline_reminder", false)
                }
                Action::Overdue {
                    escalate_to_platform,
                    ..
                } => {
                    report.overdue += 1;
                    metrics::counter!("vigil_incidents_overdue_total", "kind" => kind).increment(1);
                    ("incident.overdue", escalate_to_platform)
                }
            };
            if let Err(e) = self
                .store
                .append_audit(NewAuditRecord {
                    actor: ACTOR.into(),
                    action: audit_action.into(),
                    object: format!("incident/{}", inc.id),
                    outcome: AuditOutcome::Success,
                    org_id: Some(inc.spec.org_id),
                    detail: note.clone(),
                })
                .await
            {
                tracing::error!(incident = %inc.id, error = %e, "cannot audit the deadline action");
            }
            tracing::info!(incident = %inc.id, action = %action.mark(), due = %action.due(), "deadline action");
            let Some(notifier) = &self.notifier else {
                continue;
            };
            let n = incident_message(inc, org, &action, &due_local, notifier);
            match notifier.enqueue(n.clone()).await {
                Ok(d) => report.deliveries += d.len(),
                Err(e) => {
                    tracing::error!(incident = %inc.id, error = %e, "cannot enqueue the deadline reminder")
                }
            }
            if escalate {
                let n = escalation_message(inc, org, &action, &due_local, n);
                match notifier.enqueue_platform(n).await {
                    Ok(d) => report.deliveries += d.len(),
                    Err(e) => {
                        tracing::error!(incident = %inc.id, error = %e, "cannot enqueue the escalation")
                    }
                }
            }
        }
        Ok(())
    }

    async fn warnings(&self, now: Timestamp, report: &mut PassReport) -> Result<(), WatchError> {
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_warnings(
                    Scope::All,
                    &WarningQuery {
                        unacknowledged: Some(true),
                        limit: PAGE,
                        cursor: cursor.take(),
                        ..WarningQuery::default()
                    },
                )
                .await?;
            for w in &page.items {
                if w.spec.response_deadline.is_some_and(|d| d < now) {
                    self.warning(w, now, report).await?;
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }

    async fn warning(
        &self,
        w: &Warning,
        now: Timestamp,
        report: &mut PassReport,
    ) -> Result<(), WatchError> {
        let Some(notifier) = &self.notifier else {
            return Ok(());
        };
        let pending = self
            .store
            .list_warning_recipients(Scope::All, w.id, true)
            .await?
            .unwrap_or_default();
        let link = notifier.link(&format!("/warnings/{}", w.id));
        for r in &pending {
            if !self
                .store
                .mark_warning_reminded(w.id, r.org_id, now)
                .await?
            {
                continue;
            }
            report.warning_reminders += 1;
            metrics::counter!("vigil_warnings_overdue_total").increment(1);
            match notifier
                .enqueue(warning_message(w, r.org_id, link.clone()))
                .await
            {
                Ok(d) => report.deliveries += d.len(),
                Err(e) => {
                    tracing::error!(warning = %w.id, org = %r.org_id, error = %e, "cannot enqueue the warning reminder")
                }
            }
        }
        Ok(())
    }
}

/// The reminder to the organization (before or after the deadline).
pub fn incident_message(
    inc: &Incident,
    org: &Organization,
    action: &Action,
    due_local: &str,
    notifier: &Notifier,
) -> Notification {
    let kind = action.kind();
    let grade = format!(
        "{} / {}",
        inc.spec.grade.name("zh-CN"),
        inc.spec.grade.as_str()
    );
    let (tag, line) = match action {
        Action::Remind { .. } => (
            "时限提醒 Deadline reminder",
            format!(
                "{}时限即将到期 The {} deadline is near: {due_local} (Asia/Shanghai).",
                kind_zh(kind),
                kind.as_str()
            ),
        ),
        Action::Overdue { .. } => (
            "逾期提醒 Overdue",
            format!(
                "{}时限已过 The {} deadline has passed: {due_local} (Asia/Shanghai).",
                kind_zh(kind),
                kind.as_str()
            ),
        ),
    };
    let mut md = format!(
        "**{}**\n\n- 单位 Organization: {}\n- 分级 Grade: {grade}\n- 状态 Status: {}\n\n{line}\n",
        inc.spec.title,
        org.spec.name,
        inc.status.as_str()
    );
    md.push_str("\n请尽快按要求处置并在平台上完成相应步骤。\nPlease act now and complete the step on the platform.\n");
    if let Some(l) = notifier.link(&format!("/incidents/{}", inc.id)) {
        md.push_str(&format!("\n[{l}]({l})\n"));
    }
    Notification {
        org_id: inc.spec.org_id,
        reference_kind: "incident".into(),
        reference_id: inc.id.to_string(),
        subject: format!(
            "【{tag}】{} — {} {} ({due_local})",
            inc.spec.title,
            kind_zh(kind),
            kind.as_str()
        ),
        markdown: md,
    }
}

/// The escalation notice to the platform's channels, built on the reminder.
fn escalation_message(
    inc: &Incident,
    org: &Organization,
    action: &Action,
    due_local: &str,
    reminder: Notification,
) -> Notification {
    Notification {
        subject: format!(
            "【逾期升级 Escalation】{} {} — {}: {} {} overdue since {due_local}",
            inc.spec.grade.name("zh-CN"),
            inc.spec.title,
            org.spec.name,
            kind_zh(action.kind()),
            action.kind().as_str()
        ),
        ..reminder
    }
}

/// The reminder to a recipient that has not acknowledged a warning by its deadline.
pub fn warning_message(w: &Warning, org: OrgId, link: Option<String>) -> Notification {
    let due = w
        .spec
        .response_deadline
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mut md = format!(
        "**{}**\n\n- 预警级别 Level: {} / {}\n- 反馈时限 Respond by: {due}\n\n本预警通报的反馈时限已过，贵单位尚未签收。请立即签收并反馈处置情况。\nThe response deadline of this warning has passed and your organization has not acknowledged it. Acknowledge and report back now.\n",
        w.spec.title,
        w.spec.level.name("zh-CN"),
        w.spec.level.name("en"),
    );
    if let Some(l) = link {
        md.push_str(&format!("\n[{l}]({l})\n"));
    }
    Notification {
        org_id: org,
        reference_kind: "warning".into(),
        reference_id: w.id.to_string(),
        subject: format!("【预警反馈逾期 Warning response overdue】{}", w.spec.title),
        markdown: md,
    }
}
