//! The deadline watcher against a real SQLite store: overdue incident deadlines are recorded,
//! audited and notified once (across passes and restarts), reminders go out inside the
//! lead time only, and overdue warnings remind only recipients that have not acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use vigil_incident::deadline::{DeadlineKind, DeadlinePolicy, IncidentClock};
use vigil_incident::escalation::ReminderLead;
use vigil_model::{
    Grade, Incident, IncidentStatus, NewIncident, NewOrganization, NewWarning, OrgId, Organization,
    Scope, Timestamp, WarningLevel, WarningTargets,
};
use vigil_notify::{Notifier, NotifyConfig, WebhookChannel, WebhookKind};
use vigil_server::overdue::{DeadlineWatcher, PassReport};
use vigil_store::{AuditQuery, DeliveryQuery, IncidentUpdate, SqliteStore, Store};

fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        sector: "water".into(),
        ..vigil_testkit::fixtures::org_spec(name)
    }
}

fn notifier(store: Arc<dyn Store>) -> Notifier {
    let cfg = NotifyConfig {
        webhooks: vec![WebhookChannel {
            name: "soc".into(),
            kind: WebhookKind::Generic,
            url: "https://soc.example.cn/hook".parse().unwrap(),
            secret: Some(vigil_notify::Secret::new("k")),
            orgs: None,
        }],
        base_url: Some("https://vigil.example.cn".into()),
        ..NotifyConfig::default()
    };
    Notifier::new(store, cfg)
}

async fn notified_incident(store: &Arc<dyn Store>, org: OrgId, grade: Grade) -> Incident {
    let inc = store
        .create_incident(
            NewIncident {
                org_id: org,
                title: format!("ransomware {}", grade.as_str()),
                description: String::new(),
                category: "MP".into(),
                subcategory: None,
                grade,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: Timestamp::now(),
            },
            "user:analyst",
        )
        .await
        .unwrap();
    store
        .update_incident(
            Scope::All,
            inc.id,
            IncidentUpdate {
                status: Some(IncidentStatus::Notified),
                ..IncidentUpdate::default()
            },
            "user:analyst",
        )
        .await
        .unwrap()
        .unwrap()
}

async fn deliveries(store: &Arc<dyn Store>, reference_id: &str) -> Vec<vigil_store::Delivery> {
    store
        .list_deliveries(
            Scope::All,
            &DeliveryQuery {
                reference_id: Some(reference_id.into()),
                limit: 1000,
                ..DeliveryQuery::default()
            },
        )
        .await
        .unwrap()
        .items
}

async fn audits(store: &Arc<dyn Store>, prefix: &str) -> usize {
    store
        .list_audit(&AuditQuery {
            action_prefix: Some(prefix.into()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .len()
}

fn marks(inc: &Incident, prefix: &str) -> Vec<String> {
    inc.timeline
        .iter()
        .filter(|e| e.action.starts_with(prefix))
        .map(|e| e.action.clone())
        .collect()
}

fn watcher(store: &Arc<dyn Store>) -> DeadlineWatcher {
    DeadlineWatcher::new(
        store.clone(),
        Some(notifier(store.clone())),
        ReminderLead::DEFAULT,
    )
    .unwrap()
}

async fn org(store: &Arc<dyn Store>, name: &str) -> Organization {
    store.create_org(org_spec(name)).await.unwrap()
}

#[tokio::test]
async fn overdue_deadlines_act_once_across_passes_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let o = org(&store, "杭州水务 Hangzhou Water").await;
    let inc = notified_incident(&store, o.id, Grade::Major).await;
    // A month later: report, acknowledge and remediate have all passed unmet.
    let later: Timestamp = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 30))
        .unwrap();

    let r = watcher(&store).run_once(later).await.unwrap();
    assert_eq!((r.overdue, r.reminders), (3, 0), "{r:?}");
    let got = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    let mut m = marks(&got, "overdue:");
    m.sort();
    assert_eq!(
        m,
        ["overdue:acknowledge", "overdue:remediate", "overdue:report"]
    );
    assert!(marks(&got, "reminder:").is_empty());
    let entry = got
        .timeline
        .iter()
        .find(|e| e.action == "overdue:acknowledge")
        .unwrap();
    assert_eq!(entry.actor, vigil_server::overdue::ACTOR);
    assert!(entry.note.contains("acknowledge due"), "{}", entry.note);
    assert_eq!(audits(&store, "incident.overdue").await, 3);
    // Each overdue deadline: a reminder to the organization (its channel) and, for a 重大
    // incident, an escalation to the platform channel.
    let d = deliveries(&store, &inc.id.to_string()).await;
    assert_eq!(d.len(), 6, "{d:#?}");
    assert_eq!(
        d.iter()
            .filter(|d| d.spec.subject.contains("逾期升级 Escalation"))
            .count(),
        3
    );
    assert!(d.iter().any(|d| d.spec.subject.contains(&inc.spec.title)
        && d.spec.subject.contains("acknowledge")
        && d.spec.subject.contains("逾期提醒 Overdue")));
    assert!(d.iter().all(|d| d.spec.org_id == o.id));

    // A second pass, and a restarted watcher on the same store: nothing new.
    let r = watcher(&store).run_once(later).await.unwrap();
    assert_eq!(
        r,
        PassReport {
            incidents: 1,
            ..PassReport::default()
        }
    );
    let reopened: Arc<dyn Store> = {
        drop(store);
        Arc::new(SqliteStore::open(dir.path()).unwrap())
    };
    let r = watcher(&reopened).run_once(later).await.unwrap();
    assert_eq!((r.overdue, r.reminders, r.deliveries), (0, 0, 0), "{r:?}");
    assert_eq!(deliveries(&reopened, &inc.id.to_string()).await.len(), 6);
    assert_eq!(audits(&reopened, "incident.overdue").await, 3);
    let got = reopened
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marks(&got, "overdue:").len(), 3);

    // Two watchers racing on one store act once in all.
    let dir2 = tempfile::tempdir().unwrap();
    let s2: Arc<dyn Store> = Arc::new(SqliteStore::open(dir2.path()).unwrap());
    let o2 = org(&s2, "Race").await;
    let inc2 = notified_incident(&s2, o2.id, Grade::General).await;
    let (w1, w2) = (watcher(&s2), watcher(&s2));
    let (a, b) = tokio::join!(w1.run_once(later), w2.run_once(later));
    assert_eq!(a.unwrap().overdue + b.unwrap().overdue, 2);
    assert_eq!(deliveries(&s2, &inc2.id.to_string()).await.len(), 2);
}

#[tokio::test]
async fn a_reminder_inside_the_lead_time_only_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let o = org(&store, "Ningbo Port").await;
    // 一般: no reporting deadline; acknowledge within 24 h, remediate within 15 days.
    let inc = notified_incident(&store, o.id, Grade::General).await;
    let policy = DeadlinePolicy::builtin().unwrap();
    let clock = IncidentClock::of_incident(&inc, &o.spec, false);
    let ack = policy
        .deadlines(&clock)
        .into_iter()
        .find(|d| d.kind == DeadlineKind::Acknowledge)
        .unwrap();
    let lead = ReminderLead::DEFAULT.remind_at(ack.start, ack.due);

    // Before the lead time: nothing.
    let early = lead
        .checked_sub(jiff::SignedDuration::from_mins(1))
        .unwrap();
    let r = watcher(&store).run_once(early).await.unwrap();
    assert_eq!((r.overdue, r.reminders, r.deliveries), (0, 0, 0));

    // Inside it: the acknowledgement reminder, nothing overdue.
    let inside = lead
        .checked_add(jiff::SignedDuration::from_mins(1))
        .unwrap();
    assert!(inside < ack.due);
    let r = watcher(&store).run_once(inside).await.unwrap();
    assert_eq!((r.overdue, r.reminders, r.deliveries), (0, 1, 1), "{r:?}");
    let got = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marks(&got, "reminder:"), ["reminder:acknowledge"]);
    assert!(marks(&got, "overdue:").is_empty());
    let d = deliveries(&store, &inc.id.to_string()).await;
    assert!(
        d[0].spec.subject.contains("时限提醒 Deadline reminder"),
        "{}",
        d[0].spec.subject
    );
    assert_eq!(audits(&store, "incident.deadline_reminder").await, 1);
    let r = watcher(&store).run_once(inside).await.unwrap();
    assert_eq!((r.reminders, r.deliveries), (0, 0));

    // Once past due, the escalation still comes (the reminder does not stand for it); a
    // 一般 incident is not escalated to the platform.
    let past = ack
        .due
        .checked_add(jiff::SignedDuration::from_mins(1))
        .unwrap();
    let r = watcher(&store).run_once(past).await.unwrap();
    assert_eq!((r.overdue, r.reminders, r.deliveries), (1, 0, 1), "{r:?}");
}

#[tokio::test]
async fn overdue_warnings_remind_only_who_has_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let (a, b) = (org(&store, "Acked").await, org(&store, "Silent").await);
    let deadline = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    let w = store
        .create_warning(
            NewWarning {
                title: "Siemens S7-1200 RCE".into(),
                summary: "Exploitation observed.".into(),
                level: WarningLevel::Red,
                cves: vec![],
                indicators: vec![],
                affected_products: None,
                measures: None,
                response_deadline: Some(deadline),
                targets: WarningTargets {
                    org_ids: vec![a.id, b.id],
                    ..WarningTargets::default()
                },
            },
            "user:analyst",
        )
        .await
        .unwrap();
    store
        .acknowledge_warning(Scope::Org(a.id), w.id, a.id, "user:a", None)
        .await
        .unwrap()
        .unwrap();
    // Before the deadline: nothing.
    let r = watcher(&store).run_once(Timestamp::now()).await.unwrap();
    assert_eq!(r.warning_reminders, 0);
    let after = deadline
        .checked_add(jiff::SignedDuration::from_mins(1))
        .unwrap();
    let r = watcher(&store).run_once(after).await.unwrap();
    assert_eq!((r.warning_reminders, r.deliveries), (1, 1), "{r:?}");
    let d = deliveries(&store, &w.id.to_string()).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].spec.org_id, b.id);
    assert!(d[0].spec.subject.contains("Warning response overdue"));
    // Once per recipient, also after a restart.
    let r = watcher(&store).run_once(after).await.unwrap();
    assert_eq!(r.warning_reminders, 0);
    drop(store);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let r = watcher(&store).run_once(after).await.unwrap();
    assert_eq!(r.warning_reminders, 0);
    assert_eq!(deliveries(&store, &w.id.to_string()).await.len(), 1);
}
