//! `/` for an organization user: the organization's portal (单位门户) instead of the platform
//! overview. What waits for the organization — notices to acknowledge, incidents to report
//! remediation for, early warnings to acknowledge, items the platform sent back — with their
//! deadlines and overdue marks, its asset inventory by kind and importance, its contacts and
//! its latest alerts.
//!
//! Every read goes through the store with the user's scope (`Scope::Org`), so nothing of
//! another organization can appear even if a filter here were wrong.

use super::AlertRow;
use super::orgs::ContactView;
use super::warnings::level_class;
use crate::state::AppState;
use crate::ui::i18n::Catalog;
use crate::ui::view::{self, OrgNames};
use crate::ui::{Frame, OrUi, UiAuth, UiError, UiResult, html};
use askama::Template;
use std::collections::BTreeMap;
use vigil_model::{
    Action, AssetKind, Importance, Incident, IncidentStatus, Organization, Timestamp,
};
use vigil_store::{AlertQuery, AssetQuery, IncidentQuery, MAX_PAGE, WarningQuery};

/// Most incidents of one kind of task listed (the list links to the full incident list).
const MAX_TASKS: usize = 200;
/// Most assets counted page by page for the inventory summary.
const MAX_COUNTED_ASSETS: usize = 20_000;
/// How far back sent-back items are shown.
const SENT_BACK_DAYS: i64 = 30;

/// One incident waiting for the organization, with the deadline that matters for its step.
pub struct TaskRow {
    pub id: String,
    pub title: String,
    pub grade: &'static str,
    pub grade_class: &'static str,
    pub status: &'static str,
    /// `acknowledge` or `remediate` deadline, China time; empty when none applies.
    pub due: String,
    /// Localized deadline state (pending, overdue...).
    pub due_state: String,
    /// `deadline-overdue`, `deadline-pending`...
    pub due_class: String,
    pub overdue: bool,
    /// The platform sent the feedback back (the incident is being remediated again).
    pub sent_back: bool,
}

/// An early warning the organization has not acknowledged.
pub struct PortalWarning {
    pub id: String,
    pub issued: String,
    pub level: &'static str,
    pub level_class: &'static str,
    pub title: String,
    pub deadline: String,
    pub overdue: bool,
}

/// Feedback the platform sent back recently.
pub struct SentBackRow {
    pub id: String,
    pub title: String,
    pub at: String,
    pub by: String,
    /// The comment made with the send-back, if any.
    pub reason: String,
}

/// A line of the inventory summary.
pub struct CountRow {
    pub label: &'static str,
    pub count: u64,
    pub href: String,
}

#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    pub page: Frame,
    pub org_id: String,
    pub org_name: String,
    pub sector: String,
    pub region: String,
    pub mlps: String,
    pub cii: bool,
    pub notices: Vec<TaskRow>,
    pub feedback: Vec<TaskRow>,
    pub warnings: Vec<PortalWarning>,
    pub sent_back: Vec<SentBackRow>,
    pub asset_total: u64,
    /// More assets than were counted.
    pub assets_capped: bool,
    pub by_kind: Vec<CountRow>,
    pub by_importance: Vec<CountRow>,
    pub responsible: ContactView,
    pub contacts: Vec<ContactView>,
    pub alerts: Vec<AlertRow>,
    pub overdue_total: usize,
}

/// The portal of the user's organization.
pub async fn page(st: &AppState, ui: &UiAuth) -> UiResult {
    let t = ui.catalog();
    let scope = ui.principal.scope();
    let org_id = ui.principal.org_id.ok_or_else(|| UiError::forbidden(t))?;
    let org = st
        .store
        .get_org(scope, org_id)
        .await
        .ui(t)?
        .ok_or_else(|| UiError::not_found(t))?;
    let lang = t.lang();
    let now = Timestamp::now();
    let names = OrgNames::new(std::slice::from_ref(&org));

    let (mut notices, mut feedback, mut sent_back) = (Vec::new(), Vec::new(), Vec::new());
    if ui.principal.allows(Action::ReadIncidents) {
        let open = open_incidents(st, ui).await?;
        let since = now
            .checked_sub(jiff::SignedDuration::from_hours(24 * SENT_BACK_DAYS))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        for inc in &open {
            match inc.status {
                IncidentStatus::Notified => {
                    notices.push(task_row(inc, &org, "acknowledge", now, t)?);
                }
                IncidentStatus::Acknowledged | IncidentStatus::Remediating => {
                    feedback.push(task_row(inc, &org, "remediate", now, t)?);
                }
                _ => {}
            }
            if let Some(row) = sent_back_row(inc, since) {
                sent_back.push(row);
            }
        }
        // Most urgent first: overdue, then by due time (the format sorts as time), those
        // without a deadline last.
        for list in [&mut notices, &mut feedback] {
            list.sort_by(|a, b| {
                b.overdue
                    .cmp(&a.overdue)
                    .then_with(|| a.due.is_empty().cmp(&b.due.is_empty()))
                    .then_with(|| a.due.cmp(&b.due))
            });
        }
        sent_back.sort_by(|a, b| b.at.cmp(&a.at));
    }
    let overdue_total = notices
        .iter()
        .chain(&feedback)
        .filter(|r| r.overdue)
        .count();

    let warnings = if ui.principal.allows(Action::ReadWarnings) {
        st.store
            .list_warnings(
                scope,
                &WarningQuery {
                    org_id: Some(org_id),
                    unacknowledged: Some(true),
                    limit: MAX_TASKS,
                    ..WarningQuery::default()
                },
            )
            .await
            .ui(t)?
            .items
            .iter()
            .map(|w| PortalWarning {
                id: w.id.to_string(),
                issued: view::fmt_time(w.issued_at),
                level: w.spec.level.name(lang),
                level_class: level_class(w.spec.level),
                title: w.spec.title.clone(),
                deadline: view::fmt_opt_time(w.spec.response_deadline),
                overdue: w.spec.response_deadline.is_some_and(|d| d < now),
            })
            .collect()
    } else {
        Vec::new()
    };

    // The inventory, counted page by page within the scope.
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut importances: BTreeMap<Importance, u64> = BTreeMap::new();
    let mut asset_total = 0u64;
    let mut assets_capped = false;
    if ui.principal.allows(Action::ReadDirectory) {
        let mut cursor = None;
        loop {
            let page = st
                .store
                .list_assets(
                    scope,
                    &AssetQuery {
                        org_id: Some(org_id),
                        limit: MAX_PAGE,
                        cursor,
                        ..AssetQuery::default()
                    },
                )
                .await
                .ui(t)?;
            for a in &page.items {
                *kinds.entry(a.spec.kind.as_str()).or_default() += 1;
                *importances.entry(a.spec.importance).or_default() += 1;
                asset_total += 1;
            }
            match page.next_cursor {
                Some(c) if (asset_total as usize) < MAX_COUNTED_ASSETS => cursor = Some(c),
                Some(_) => {
                    assets_capped = true;
                    break;
                }
                None => break,
            }
        }
    }
    let by_kind = AssetKind::ALL
        .iter()
        .filter_map(|k| {
            kinds.get(k.as_str()).map(|n| CountRow {
                label: k.name(lang),
                count: *n,
                href: format!("/assets?kind={}", k.as_str()),
            })
        })
        .collect();
    let by_importance = Importance::ALL
        .iter()
        .rev()
        .map(|i| CountRow {
            label: super::assets::importance_name(*i, t),
            count: importances.get(i).copied().unwrap_or(0),
            href: format!("/assets?importance={}", i.as_str()),
        })
        .collect();

    let alerts = if ui.principal.allows(Action::ReadAlerts) {
        st.store
            .list_alerts(
                scope,
                &AlertQuery {
                    org_id: Some(org_id),
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

    let s = &org.spec;
    Ok(html(&PortalPage {
        page: ui.frame("overview", t.t("portal.title").to_string()),
        org_id: org.id.to_string(),
        org_name: s.name.clone(),
        sector: view::sector_name(&s.sector, lang),
        region: view::region_name(&s.region_code, lang),
        mlps: view::mlps_name(s.mlps_level, lang),
        cii: s.cii,
        notices,
        feedback,
        warnings,
        sent_back,
        asset_total,
        assets_capped,
        by_kind,
        by_importance,
        responsible: ContactView::from(&s.responsible),
        contacts: s.contacts.iter().map(ContactView::from).collect(),
        alerts,
        overdue_total,
    }))
}

/// The organization's open incidents, newest first.
async fn open_incidents(st: &AppState, ui: &UiAuth) -> UiResult<Vec<Incident>> {
    let t = ui.catalog();
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = st
            .store
            .list_incidents(
                ui.principal.scope(),
                &IncidentQuery {
                    org_id: ui.principal.org_id,
                    open: Some(true),
                    limit: MAX_TASKS,
                    cursor,
                    ..IncidentQuery::default()
                },
            )
            .await
            .ui(t)?;
        out.extend(page.items);
        match page.next_cursor {
            // Open incidents of one organization are few; a bound keeps the page cheap.
            Some(c) if out.len() < MAX_TASKS * 5 => cursor = Some(c),
            _ => break,
        }
    }
    Ok(out)
}

fn task_row(
    inc: &Incident,
    org: &Organization,
    kind: &str,
    now: Timestamp,
    t: &'static Catalog,
) -> UiResult<TaskRow> {
    let lang = t.lang();
    let deadline = crate::workflow::deadlines(inc, org, now)
        .ui(t)?
        .into_iter()
        .find(|d| d.kind == kind);
    let (due, due_state, due_class, overdue) = match deadline {
        Some(d) => (
            d.due_local,
            t.t(&format!("deadline.{}", d.status)).to_string(),
            format!("deadline-{}", d.status.replace('_', "-")),
            d.status == "overdue",
        ),
        None => (String::new(), String::new(), String::new(), false),
    };
    Ok(TaskRow {
        id: inc.id.to_string(),
        title: inc.spec.title.clone(),
        grade: inc.spec.grade.name(lang),
        grade_class: super::grade_class(inc.spec.grade),
        status: inc.status.name(lang),
        due,
        due_state,
        due_class,
        overdue,
        sent_back: is_sent_back(inc),
    })
}

/// Whether the last status step of the incident was the platform sending the feedback back.
fn is_sent_back(inc: &Incident) -> bool {
    inc.timeline
        .iter()
        .rev()
        .find(|e| e.action.starts_with("status:"))
        .is_some_and(is_send_back_entry)
}

fn is_send_back_entry(e: &vigil_model::TimelineEntry) -> bool {
    e.action == "status:remediating" && e.note.starts_with("remediated ->")
}

/// The latest send-back of the incident since `since`, with the comment made with it.
fn sent_back_row(inc: &Incident, since: Timestamp) -> Option<SentBackRow> {
    let (i, e) = inc
        .timeline
        .iter()
        .enumerate()
        .rev()
        .find(|(_, e)| is_send_back_entry(e) && e.at >= since)?;
    let reason = inc
        .timeline
        .get(i + 1)
        .filter(|c| c.action == "comment" && c.actor == e.actor && c.at == e.at)
        .map(|c| c.note.clone())
        .unwrap_or_default();
    Some(SentBackRow {
        id: inc.id.to_string(),
        title: inc.spec.title.clone(),
        at: view::fmt_time(e.at),
        by: e.actor.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{Grade, IncidentId, NewIncident, OrgId, TimelineEntry};

    fn entry(at: i64, actor: &str, action: &str, note: &str) -> TimelineEntry {
        TimelineEntry {
            at: Timestamp::from_second(at).expect("ts"),
            actor: actor.into(),
            action: action.into(),
            note: note.into(),
        }
    }

    fn incident(timeline: Vec<TimelineEntry>) -> Incident {
        Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: OrgId::new(),
                title: "t".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: None,
                grade: Grade::General,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: Timestamp::UNIX_EPOCH,
            },
            status: IncidentStatus::Remediating,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
            closed_at: None,
            timeline,
        }
    }

    #[test]
    fn a_send_back_is_found_with_its_reason() {
        let inc = incident(vec![
            entry(
                10,
                "user:o",
                "status:remediating",
                "acknowledged -> remediating",
            ),
            entry(
                20,
                "user:o",
                "status:remediated",
                "remediating -> remediated",
            ),
            entry(
                30,
                "user:a",
                "status:remediating",
                "remediated -> remediating",
            ),
            entry(30, "user:a", "comment", "patch the HMI too"),
        ]);
        assert!(is_sent_back(&inc));
        let row = sent_back_row(&inc, Timestamp::UNIX_EPOCH).expect("sent back");
        assert_eq!(row.reason, "patch the HMI too");
        assert_eq!(row.by, "user:a");
        // Too old for the list.
        assert!(sent_back_row(&inc, Timestamp::from_second(31).expect("ts")).is_none());
    }

    #[test]
    fn a_notice_past_its_acknowledgement_deadline_is_marked_overdue() {
        use vigil_model::{Contact, Locale, NewOrganization, Organization};
        let org = Organization {
            id: OrgId::new(),
            spec: NewOrganization {
                name: "Alpha".into(),
                uscc: None,
                sector: "power".into(),
                region_code: "330100".into(),
                mlps_level: 3,
                cii: true,
                miit_type: None,
                miit_grade: None,
                responsible: Contact {
                    name: "Li".into(),
                    ..Contact::default()
                },
                contacts: vec![],
            },
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        let notified = Timestamp::from_second(1_700_000_000).expect("ts");
        let mut inc = incident(vec![entry(
            1_700_000_000,
            "user:a",
            "status:notified",
            "triaged -> notified",
        )]);
        inc.status = IncidentStatus::Notified;
        inc.created_at = notified;
        inc.spec.grade = Grade::Major;
        let t = Catalog::get(Locale::En);
        let week_later = Timestamp::from_second(1_700_000_000 + 7 * 86_400).expect("ts");
        let row = task_row(&inc, &org, "acknowledge", week_later, t).expect("row");
        assert!(row.overdue, "{}", row.due_state);
        assert_eq!(row.due_class, "deadline-overdue");
        assert_eq!(row.due_state, "Overdue");
        assert!(!row.due.is_empty());
        let row = task_row(&inc, &org, "acknowledge", notified, t).expect("row");
        assert!(!row.overdue);
        assert_eq!(row.due_class, "deadline-pending");
    }

    #[test]
    fn starting_remediation_is_not_a_send_back() {
        let inc = incident(vec![entry(
            10,
            "user:o",
            "status:remediating",
            "acknowledged -> remediating",
        )]);
        assert!(!is_sent_back(&inc));
        assert!(sent_back_row(&inc, Timestamp::UNIX_EPOCH).is_none());
    }
}
