//! Notifications the web layer triggers: when an incident is notified to its organization,
//! its contacts get an e-mail and every webhook channel serving it a message with the notice
//! summary (title, category, grade, deadlines, link); when an early warning is issued, every
//! recipient organization gets the bulletin's summary (level, title, summary, measures,
//! link) the same way. Sending happens later, from the outbox (vigil-notify's worker); a
//! failure to enqueue is logged and does not undo the workflow step or the issue, which are
//! already stored and audited.

use crate::state::AppState;
use vigil_model::{Incident, OrgId, Scope, Warning};
use vigil_notify::Notification;

/// Longest summary or measures text put into a warning message, in characters; the rest is
/// on the platform (the link). Keeps messages well within the outbox's body limit and what
/// robots accept.
const MAX_WARNING_TEXT: usize = 4_000;

/// `text` cut to `max` characters, with a note that the full text is on the platform.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…（全文见平台 full text on the platform）", &text[..end]),
    }
}

/// The notice summary of a notified incident, in Chinese with English terms, as markdown.
pub fn incident_notification(
    inc: &Incident,
    org: &vigil_model::Organization,
    deadlines: &[crate::workflow::DeadlineView],
    link: Option<String>,
) -> Notification {
    let category = vigil_model::taxonomy::incident_category(&inc.spec.category);
    let cat_name = category.map_or_else(
        || inc.spec.category.clone(),
        |c| {
            format!(
                "{} {} / {}",
                inc.spec.category, c.term.name_zh, c.term.name_en
            )
        },
    );
    let grade = format!(
        "{} / {}",
        inc.spec.grade.name("zh-CN"),
        inc.spec.grade.as_str()
    );
    let mut md = format!(
        "**{}**\n\n- 单位 Organization: {}\n- 类别 Category: {}\n- 分级 Grade: {}\n- 发生时间 Occurred: {}\n",
        inc.spec.title, org.spec.name, cat_name, grade, inc.spec.occurred_at
    );
    if !deadlines.is_empty() {
        md.push_str("\n时限 Deadlines (Asia/Shanghai):\n");
        for d in deadlines {
            md.push_str(&format!("- {}: {} ({})\n", d.kind, d.due_local, d.status));
        }
    }
    md.push_str("\n请立即签收本通报，按要求开展处置，并在处置完成后反馈处置措施和证据。\n");
    md.push_str("Acknowledge this notice now, remediate as required, and report the measures taken with evidence when done.\n");
    if let Some(l) = link {
        md.push_str(&format!("\n[{l}]({l})\n"));
    }
    Notification {
        org_id: inc.spec.org_id,
        reference_kind: "incident".into(),
        reference_id: inc.id.to_string(),
        subject: format!("【事件通报 Incident notice】{} ({})", inc.spec.title, grade),
        markdown: md,
    }
}

/// Enqueues the notice messages of an incident that has just been notified. Does nothing
/// when notifications are not configured.
pub async fn incident_notified(st: &AppState, inc: &Incident) {
    let Some(notifier) = st.notifier.get() else {
        return;
    };
    let org = match st.store.get_org(Scope::All, inc.spec.org_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(incident = %inc.id, error = %e, "cannot read the organization to notify");
            return;
        }
    };
    let deadlines =
        crate::workflow::deadlines(inc, &org, vigil_model::Timestamp::now()).unwrap_or_default();
    let link = notifier.link(&format!("/incidents/{}", inc.id));
    let n = incident_notification(inc, &org, &deadlines, link);
    match notifier.enqueue(n).await {
        Ok(made) => {
            tracing::info!(incident = %inc.id, deliveries = made.len(), "incident notice enqueued")
        }
        Err(e) => {
            tracing::error!(incident = %inc.id, error = %e, "cannot enqueue the incident notice")
        }
    }
}

/// The early-warning message for one recipient organization, in Chinese with English terms,
/// as markdown: level and title in the subject; summary, CVEs, affected products, measures,
/// the response deadline and the link in the body.
pub fn warning_notification(w: &Warning, org_id: OrgId, link: Option<String>) -> Notification {
    let level = format!(
        "{} / {}",
        w.spec.level.name("zh-CN"),
        w.spec.level.name("en")
    );
    let mut md = format!(
        "**{}**\n\n- 预警级别 Level: {}\n- 发布时间 Issued: {}\n",
        w.spec.title, level, w.issued_at
    );
    if !w.spec.cves.is_empty() {
        md.push_str(&format!("- 漏洞编号 CVE: {}\n", w.spec.cves.join(", ")));
    }
    if let Some(p) = w
        .spec
        .affected_products
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        md.push_str(&format!(
            "- 影响产品 Affected products: {}\n",
            clip(p, MAX_WARNING_TEXT)
        ));
    }
    if let Some(d) = w.spec.response_deadline {
        md.push_str(&format!("- 反馈时限 Respond by: {d}\n"));
    }
    md.push_str(&format!(
        "\n预警内容 Summary:\n\n{}\n",
        clip(&w.spec.summary, MAX_WARNING_TEXT)
    ));
    if let Some(m) = w.spec.measures.as_deref().filter(|m| !m.trim().is_empty()) {
        md.push_str(&format!(
            "\n防范措施 Measures:\n\n{}\n",
            clip(m, MAX_WARNING_TEXT)
        ));
    }
    md.push_str("\n请立即签收本预警通报，排查受影响资产，按建议措施开展防范，并反馈处置情况。\n");
    md.push_str("Acknowledge this warning now, check your affected assets, apply the recommended measures and report back.\n");
    if let Some(l) = link {
        md.push_str(&format!("\n[{l}]({l})\n"));
    }
    Notification {
        org_id,
        reference_kind: "warning".into(),
        reference_id: w.id.to_string(),
        subject: format!("【{}】{}", level, w.spec.title),
        markdown: md,
    }
}

/// Enqueues the warning's message for every recipient organization. Does nothing when
/// notifications are not configured; failures are logged per organization and never fail
/// the issue.
pub async fn warning_issued(st: &AppState, w: &Warning) {
    let Some(notifier) = st.notifier.get() else {
        return;
    };
    let recipients = match st
        .store
        .list_warning_recipients(Scope::All, w.id, false)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(warning = %w.id, "issued warning not found for notification");
            return;
        }
        Err(e) => {
            tracing::error!(warning = %w.id, error = %e, "cannot read the warning's recipients to notify");
            return;
        }
    };
    let link = notifier.link(&format!("/warnings/{}", w.id));
    let mut enqueued = 0usize;
    for r in &recipients {
        match notifier
            .enqueue(warning_notification(w, r.org_id, link.clone()))
            .await
        {
            Ok(made) => enqueued += made.len(),
            Err(e) => {
                tracing::error!(warning = %w.id, org = %r.org_id, error = %e, "cannot enqueue the warning notice")
            }
        }
    }
    tracing::info!(warning = %w.id, organizations = recipients.len(), deliveries = enqueued, "warning notices enqueued");
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{
        Contact, Grade, IncidentId, IncidentStatus, NewIncident, NewOrganization, NewWarning,
        Organization, Timestamp, WarningId, WarningLevel, WarningTargets,
    };

    fn org() -> Organization {
        Organization {
            id: OrgId::new(),
            spec: NewOrganization {
                name: "杭州水务 Hangzhou Water".into(),
                uscc: None,
                sector: "water".into(),
                region_code: "330100".into(),
                mlps_level: 3,
                cii: true,
                miit_type: None,
                miit_grade: None,
                responsible: Contact {
                    name: "Zhang San".into(),
                    ..Contact::default()
                },
                contacts: vec![],
            },
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn the_incident_notice_names_title_grade_category_deadlines_and_link() {
        let o = org();
        let now = Timestamp::now();
        let inc = Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: o.id,
                title: "SCADA ransomware at pumping station 3".into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: Some("MPRANS".into()),
                grade: Grade::Major,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: now,
            },
            status: IncidentStatus::Notified,
            created_at: now,
            updated_at: now,
            closed_at: None,
            timeline: vec![],
        };
        let deadlines = crate::workflow::deadlines(&inc, &o, now).expect("deadlines");
        let link = format!("https://vigil.example.cn/incidents/{}", inc.id);
        let n = incident_notification(&inc, &o, &deadlines, Some(link.clone()));
        assert_eq!(n.org_id, o.id);
        assert_eq!(n.reference_kind, "incident");
        assert_eq!(n.reference_id, inc.id.to_string());
        assert!(
            n.subject.contains("SCADA ransomware at pumping station 3"),
            "{}",
            n.subject
        );
        assert!(n.subject.contains("重大 / major"), "{}", n.subject);
        let cat = vigil_model::taxonomy::incident_category("MP").expect("MP is a category");
        for needle in [
            "SCADA ransomware at pumping station 3",
            "重大 / major",
            "MP ",
            cat.term.name_zh.as_str(),
            cat.term.name_en.as_str(),
            "杭州水务 Hangzhou Water",
            &format!("[{link}]({link})"),
        ] {
            assert!(
                n.markdown.contains(needle),
                "{needle:?} missing:\n{}",
                n.markdown
            );
        }
        assert!(!deadlines.is_empty());
        assert!(n.markdown.contains("Deadlines"), "{}", n.markdown);
        // Without a base URL there is no link at all.
        let n = incident_notification(&inc, &o, &[], None);
        assert!(!n.markdown.contains("http"), "{}", n.markdown);
        assert!(!n.markdown.contains("Deadlines"), "{}", n.markdown);
    }

    #[test]
    fn the_warning_message_names_level_title_summary_measures_and_link() {
        let org = OrgId::new();
        let w = Warning {
            id: WarningId::new(),
            spec: NewWarning {
                title: "Siemens S7-1200 RCE".into(),
                summary: "Exploitation observed.".into(),
                level: WarningLevel::Red,
                cves: vec!["CVE-2024-38876".into()],
                indicators: vec![],
                affected_products: Some("S7-1200 before V4.7".into()),
                measures: Some("Block TCP 102.".into()),
                response_deadline: None,
                targets: WarningTargets::default(),
            },
            issued_by: "user:analyst".into(),
            issued_at: Timestamp::now(),
            recipients: 1,
            acknowledged: 0,
        };
        let link = format!("https://vigil.example.cn/warnings/{}", w.id);
        let n = warning_notification(&w, org, Some(link.clone()));
        assert_eq!((n.org_id, n.reference_kind.as_str()), (org, "warning"));
        assert_eq!(n.reference_id, w.id.to_string());
        assert!(n.subject.contains("红色预警") && n.subject.contains("Red warning"));
        assert!(n.subject.contains("Siemens S7-1200 RCE"));
        for needle in [
            "Exploitation observed.",
            "Block TCP 102.",
            "CVE-2024-38876",
            "S7-1200 before V4.7",
            link.as_str(),
        ] {
            assert!(
                n.markdown.contains(needle),
                "{needle:?} missing:\n{}",
                n.markdown
            );
        }
        // A long summary is cut, and the body stays within the outbox's limit.
        let mut long = w.clone();
        long.spec.summary = "预".repeat(20_000);
        long.spec.measures = Some("措".repeat(20_000));
        let n = warning_notification(&long, org, None);
        assert!(
            n.markdown.len() < vigil_store::notify::MAX_BODY,
            "{}",
            n.markdown.len()
        );
        assert!(n.markdown.contains("full text on the platform"));
    }
}
