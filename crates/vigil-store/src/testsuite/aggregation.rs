//! Conformance: incidents under an aggregation key and alerts attached to them.

use super::{S, alert_spec, incident_spec, new_org};
use crate::{AlertAttachment, IncidentUpdate, StoreError};
use vigil_model::{AlertStatus, AssetKind, Grade, IncidentStatus, Scope, Severity};

/// Finding by key is scoped and per organization; a second open incident with the key is a
/// conflict; attaching extends alerts and assets, escalates the alerts, raises but never
/// lowers the grade, and writes the timeline; a closed incident takes no alerts and frees its
/// key.
pub async fn incident_aggregation_by_key(store: S) {
    let org = new_org(&store, "Aggregation").await;
    let other = new_org(&store, "Aggregation other").await;
    let assets = store
        .create_assets(
            Scope::All,
            vec![super::asset_spec(org.id, "web-01", AssetKind::Host)],
        )
        .await
        .expect("asset");
    let alerts = store
        .create_alerts(vec![
            alert_spec(org.id, "a1", Severity::High),
            alert_spec(org.id, "a2", Severity::High),
            alert_spec(org.id, "a3", Severity::High),
            alert_spec(other.id, "foreign", Severity::High),
        ])
        .await
        .expect("alerts");
    let key = "NACRED|web-01|2026-02-01T08:00:00Z";
    let scope = Scope::Org(org.id);

    assert_eq!(
        store
            .find_open_incident_by_key(scope, org.id, key)
            .await
            .expect("find"),
        None
    );
    let mut spec = incident_spec(org.id, "Brute force on web-01", "NA", Some("NACRED"));
    spec.grade = Grade::General;
    spec.alert_ids = vec![alerts[0].id];
    let inc = store
        .create_aggregated_incident(spec.clone(), key, "system:aggregator")
        .await
        .expect("create");
    assert_eq!(inc.spec, spec);
    assert_eq!(inc.timeline[0].action, "created");
    assert_eq!(inc.timeline[0].actor, "system:aggregator");
    assert_eq!(
        inc.timeline[0].note,
        format!("alert {} attached", alerts[0].id)
    );
    let a1 = store
        .get_alert(scope, alerts[0].id)
        .await
        .expect("get")
        .expect("alert");
    assert_eq!(
        (a1.status, a1.incident_id),
        (AlertStatus::Escalated, Some(inc.id))
    );

    // Found by the organization and the platform; invisible to another organization, and
    // the same key of another organization is another incident.
    for s in [scope, Scope::All] {
        assert_eq!(
            store
                .find_open_incident_by_key(s, org.id, key)
                .await
                .expect("find"),
            Some(inc.clone())
        );
    }
    assert_eq!(
        store
            .find_open_incident_by_key(Scope::Org(other.id), org.id, key)
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        store
            .find_open_incident_by_key(Scope::All, other.id, key)
            .await
            .expect("find"),
        None
    );
    let r = store
        .create_aggregated_incident(spec.clone(), key, "system:aggregator")
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let mut foreign = incident_spec(other.id, "Brute force", "NA", Some("NACRED"));
    foreign.alert_ids = vec![alerts[3].id];
    let theirs = store
        .create_aggregated_incident(foreign, key, "system:aggregator")
        .await
        .expect("same key, other organization");
    let r = store
        .create_aggregated_incident(spec.clone(), "", "system:aggregator")
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");

    // Attach: alerts and assets listed once, grade raised with a reason.
    let out = store
        .attach_alerts(
            scope,
            inc.id,
            AlertAttachment {
                alert_ids: vec![alerts[0].id, alerts[1].id],
                asset_ids: vec![assets[0].id],
                grade: Some(Grade::Large),
                grade_note: "50 or more assets of CII operators affected".into(),
            },
            "system:aggregator",
        )
        .await
        .expect("attach")
        .expect("in scope");
    assert!(out.raised());
    assert_eq!(out.previous_grade, Grade::General);
    assert_eq!(out.attached, vec![alerts[1].id]);
    assert_eq!(out.added_assets, vec![assets[0].id]);
    let got = &out.incident;
    assert_eq!(got.spec.alert_ids, vec![alerts[0].id, alerts[1].id]);
    assert_eq!(got.spec.asset_ids, vec![assets[0].id]);
    assert_eq!(got.spec.grade, Grade::Large);
    let actions: Vec<&str> = got.timeline.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(actions, ["created", "alerts_attached", "grade:large"]);
    assert_eq!(
        got.timeline[1].note,
        format!(
            "alert {} attached; affected assets added: {}",
            alerts[1].id, assets[0].id
        )
    );
    assert_eq!(
        got.timeline[2].note,
        "general -> large: 50 or more assets of CII operators affected"
    );
    assert_eq!(
        store.get_incident(scope, inc.id).await.expect("get"),
        Some(got.clone())
    );
    let a2 = store
        .get_alert(scope, alerts[1].id)
        .await
        .expect("get")
        .expect("alert");
    assert_eq!(
        (a2.status, a2.incident_id),
        (AlertStatus::Escalated, Some(inc.id))
    );

    // A less severe grade is not applied; nothing new, nothing written.
    let out = store
        .attach_alerts(
            Scope::All,
            inc.id,
            AlertAttachment {
                alert_ids: vec![alerts[1].id],
                grade: Some(Grade::General),
                ..AlertAttachment::default()
            },
            "system:aggregator",
        )
        .await
        .expect("attach")
        .expect("found");
    assert!(!out.raised());
    assert!(out.attached.is_empty());
    assert_eq!(out.incident, got.clone());

    // Another organization cannot attach to it, nor attach its alerts.
    let r = store
        .attach_alerts(
            Scope::Org(other.id),
            inc.id,
            AlertAttachment {
                alert_ids: vec![alerts[3].id],
                ..AlertAttachment::default()
            },
            "system:aggregator",
        )
        .await
        .expect("attach");
    assert_eq!(r, None);
    let r = store
        .attach_alerts(
            Scope::All,
            inc.id,
            AlertAttachment {
                alert_ids: vec![alerts[2].id, alerts[3].id],
                ..AlertAttachment::default()
            },
            "system:aggregator",
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let a3 = store
        .get_alert(scope, alerts[2].id)
        .await
        .expect("get")
        .expect("alert");
    assert_eq!(
        (a3.status, a3.incident_id),
        (AlertStatus::New, None),
        "a failed attach changes nothing"
    );

    // Closed: no more alerts, and the key opens a new incident.
    store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                status: Some(IncidentStatus::Closed),
                ..IncidentUpdate::default()
            },
            "user:alice",
        )
        .await
        .expect("close")
        .expect("found");
    assert_eq!(
        store
            .find_open_incident_by_key(scope, org.id, key)
            .await
            .expect("find"),
        None
    );
    let r = store
        .attach_alerts(
            scope,
            inc.id,
            AlertAttachment {
                alert_ids: vec![alerts[2].id],
                ..AlertAttachment::default()
            },
            "system:aggregator",
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    spec.alert_ids = vec![alerts[2].id];
    let next = store
        .create_aggregated_incident(spec, key, "system:aggregator")
        .await
        .expect("a new incident for the key");
    assert_ne!(next.id, inc.id);
    assert_eq!(
        store
            .find_open_incident_by_key(scope, org.id, key)
            .await
            .expect("find")
            .map(|i| i.id),
        Some(next.id)
    );
    assert_eq!(
        store
            .find_open_incident_by_key(Scope::All, other.id, key)
            .await
            .expect("find")
            .map(|i| i.id),
        Some(theirs.id)
    );
}

/// Many creators of the same key at once: exactly one incident, the rest get conflicts.
pub async fn aggregated_creates_race_to_one_incident(store: S) {
    let org = new_org(&store, "Aggregation race").await;
    let key = "MPRANS|-|2026-02-01T08:00:00Z";
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let spec = incident_spec(org.id, &format!("racer {i}"), "MP", Some("MPRANS"));
        tasks.push(tokio::spawn(async move {
            store
                .create_aggregated_incident(spec, key, "system:aggregator")
                .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(created, 1);
    let list = store
        .list_incidents(
            Scope::Org(org.id),
            &crate::IncidentQuery {
                org_id: Some(org.id),
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
}
