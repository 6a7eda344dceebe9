//! Conformance: the deadline watcher's once-only marks — a timeline entry appended unless
//! one with its action exists (even under concurrent calls), and the overdue reminder of a
//! warning recipient recorded once and never for one that acknowledged.

use super::{S, at, incident_spec, new_org};
use vigil_model::{NewWarning, Scope, WarningLevel, WarningTargets};

pub async fn incident_entries_are_added_once(store: S) {
    let org = new_org(&store, "Once").await;
    let inc = store
        .create_incident(incident_spec(org.id, "late", "MP", None), "user:a")
        .await
        .unwrap();
    // Concurrent calls for one action: exactly one appends.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.spawn(async move {
            s.add_incident_entry_once(inc.id, "overdue:acknowledge", "due 2026-01-01", "system")
                .await
        });
    }
    let mut appended = 0;
    while let Some(r) = tasks.join_next().await {
        if r.unwrap().unwrap() == Some(true) {
            appended += 1;
        }
    }
    assert_eq!(appended, 1);
    // Another action is another mark; a repeat is not.
    assert_eq!(
        store
            .add_incident_entry_once(inc.id, "reminder:remediate", "soon", "system")
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        store
            .add_incident_entry_once(inc.id, "overdue:acknowledge", "again", "system")
            .await
            .unwrap(),
        Some(false)
    );
    let got = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    let actions: Vec<&str> = got.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["created", "overdue:acknowledge", "reminder:remediate"]
    );
    let mark = &got.timeline[1];
    assert_eq!(
        (mark.actor.as_str(), mark.note.as_str()),
        ("system", "due 2026-01-01")
    );
    assert_eq!(got.updated_at, got.timeline[2].at);
    // An incident that does not exist.
    assert_eq!(
        store
            .add_incident_entry_once(
                vigil_model::IncidentId::new(),
                "overdue:report",
                "",
                "system"
            )
            .await
            .unwrap(),
        None
    );
}

pub async fn warning_reminders_are_marked_once(store: S) {
    let (a, b) = (
        new_org(&store, "Remind A").await,
        new_org(&store, "Remind B").await,
    );
    let w = store
        .create_warning(
            NewWarning {
                title: "respond".into(),
                summary: "s".into(),
                level: WarningLevel::Orange,
                cves: vec![],
                indicators: vec![],
                affected_products: None,
                measures: None,
                response_deadline: Some(at("2026-01-01T00:00:00Z")),
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
    let now = at("2026-01-02T00:00:00Z");
    // A acknowledged: never reminded. B: once.
    assert!(!store.mark_warning_reminded(w.id, a.id, now).await.unwrap());
    let (x, y) = tokio::join!(
        store.mark_warning_reminded(w.id, b.id, now),
        store.mark_warning_reminded(w.id, b.id, now)
    );
    assert!(
        x.unwrap() ^ y.unwrap(),
        "exactly one of two concurrent marks"
    );
    assert!(!store.mark_warning_reminded(w.id, b.id, now).await.unwrap());
    // Not a recipient, or no such warning.
    let c = new_org(&store, "Remind C").await;
    assert!(!store.mark_warning_reminded(w.id, c.id, now).await.unwrap());
    assert!(
        !store
            .mark_warning_reminded(vigil_model::WarningId::new(), b.id, now)
            .await
            .unwrap()
    );
}
