//! Notifications the web layer triggers: when an incident is notified to its organization,
//! its contacts get an e-mail and every webhook channel serving it a message with the notice
//! summary (title, category, grade, deadlines, link). Sending happens later, from the
//! outbox (vigil-notify's worker); a failure to enqueue is logged and does not undo the
//! workflow step, which is already stored and audited.

use crate::state::AppState;
use vigil_model::{Incident, Scope};
use vigil_notify::Notification;

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
