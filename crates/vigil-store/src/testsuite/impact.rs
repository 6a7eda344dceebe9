//! Conformance: incident impact records — stored and read back as given, replaced as a whole,
//! on the timeline, a more severe computed grade raised with its reasons and a less severe
//! one never applied, scoped like the incident, invalid ones refused by field, archived
//! incidents refused.

use super::{S, incident_spec, new_org};
use crate::{ImpactUpdate, IncidentUpdate, StoreError};
use vigil_model::{
    Grade, IncidentImpact, IncidentStatus, PaymentMethod, Ransom, RansomStatus, Scope,
};

fn ransomware_impact() -> IncidentImpact {
    IncidentImpact {
        outage_minutes: Some(360),
        people_affected: Some(1_200),
        personal_records_leaked: Some(12_000_000),
        direct_loss_yuan: Some(3_500_000),
        ransom: Some(Ransom {
            status: RansomStatus::Paid,
            amount: "2.5".into(),
            currency: "BTC".into(),
            payment_method: Some(PaymentMethod::Btc),
            payment_date: Some(jiff::civil::date(2026, 2, 3)),
            wallet_address: Some("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh".into()),
        }),
        support_requested: Some("数据恢复与溯源技术支持".into()),
        preliminary_cause: Some("VPN 弱口令".into()),
        affected_scope: Some("生产网 40 台服务器".into()),
        ..IncidentImpact::default()
    }
}

pub async fn incident_impact_is_recorded_and_raises_the_grade(store: S) {
    let a = new_org(&store, "Impact A").await;
    let b = new_org(&store, "Impact B").await;
    let inc = store
        .create_incident(
            incident_spec(a.id, "ransom", "MP", Some("MPRANS")),
            "user:a",
        )
        .await
        .unwrap();
    assert_eq!(inc.spec.grade, Grade::Large);
    assert_eq!(
        store.get_incident_impact(Scope::All, inc.id).await.unwrap(),
        None
    );

    // Recorded with a more severe computed grade: raised, with the reasons on the timeline.
    let out = store
        .set_incident_impact(
            Scope::Org(a.id),
            inc.id,
            ImpactUpdate {
                impact: ransomware_impact(),
                grade: Some(Grade::Major),
                grade_note: "personal records leaked 12000000 >= 10000000".into(),
            },
            "user:officer",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(out.raised());
    assert_eq!(out.previous_grade, Grade::Large);
    assert_eq!(out.incident.spec.grade, Grade::Major);
    assert_eq!(out.record.impact, ransomware_impact());
    assert_eq!(out.record.recorded_by, "user:officer");
    let n = out.incident.timeline.len();
    let (impact_entry, raised) = (&out.incident.timeline[n - 2], &out.incident.timeline[n - 1]);
    assert_eq!(impact_entry.action, "impact");
    assert!(
        impact_entry.note.contains("outage 360 min"),
        "{}",
        impact_entry.note
    );
    assert!(
        impact_entry.note.contains("ransom paid 2.5 BTC"),
        "{}",
        impact_entry.note
    );
    assert_eq!(raised.action, "grade:raised");
    assert_eq!(raised.actor, "user:officer");
    assert_eq!(
        raised.note,
        "large -> major: personal records leaked 12000000 >= 10000000"
    );
    // Read back, from the store, as given.
    let stored = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.spec.grade, Grade::Major);
    assert_eq!(stored.timeline, out.incident.timeline);
    let got = store
        .get_incident_impact(Scope::Org(a.id), inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, out.record);

    // Replaced as a whole; a less severe computed grade is never applied.
    let smaller = IncidentImpact {
        outage_minutes: Some(30),
        ..IncidentImpact::default()
    };
    let out = store
        .set_incident_impact(
            Scope::All,
            inc.id,
            ImpactUpdate {
                impact: smaller.clone(),
                grade: Some(Grade::General),
                grade_note: String::new(),
            },
            "user:analyst",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!out.raised());
    assert_eq!(out.incident.spec.grade, Grade::Major);
    assert_eq!(out.incident.timeline.last().unwrap().action, "impact");
    let got = store
        .get_incident_impact(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.impact, smaller);
    assert_eq!(got.impact.ransom, None);
    assert_eq!(got.recorded_by, "user:analyst");

    // Another organization's scope sees nothing and changes nothing.
    assert_eq!(
        store
            .get_incident_impact(Scope::Org(b.id), inc.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .set_incident_impact(
                Scope::Org(b.id),
                inc.id,
                ImpactUpdate {
                    impact: ransomware_impact(),
                    grade: Some(Grade::EspeciallyMajor),
                    grade_note: String::new(),
                },
                "user:b",
            )
            .await
            .unwrap(),
        None
    );
    let unchanged = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.spec.grade, Grade::Major);
    assert_eq!(unchanged.timeline.len(), out.incident.timeline.len());

    // Invalid impact is refused by field, and nothing is written.
    let mut bad = ransomware_impact();
    if let Some(r) = &mut bad.ransom {
        r.amount = "-3".into();
    }
    let err = store
        .set_incident_impact(
            Scope::All,
            inc.id,
            ImpactUpdate {
                impact: bad,
                ..ImpactUpdate::default()
            },
            "user:analyst",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(v) if v.field == "ransom.amount"),
        "{err:?}"
    );
    let got = store
        .get_incident_impact(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.impact, smaller);

    // Unknown incident: None.
    assert!(
        store
            .set_incident_impact(
                Scope::All,
                vigil_model::IncidentId::new(),
                ImpactUpdate::default(),
                "user:analyst",
            )
            .await
            .unwrap()
            .is_none()
    );

    // An archived incident's impact no longer changes.
    let done = store
        .create_incident(incident_spec(a.id, "old", "MP", None), "user:a")
        .await
        .unwrap();
    for s in [IncidentStatus::Closed, IncidentStatus::Archived] {
        store
            .update_incident(
                Scope::All,
                done.id,
                IncidentUpdate {
                    status: Some(s),
                    ..IncidentUpdate::default()
                },
                "user:analyst",
            )
            .await
            .unwrap()
            .unwrap();
    }
    let err = store
        .set_incident_impact(
            Scope::All,
            done.id,
            ImpactUpdate {
                impact: smaller,
                ..ImpactUpdate::default()
            },
            "user:analyst",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}
