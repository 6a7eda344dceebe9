//! Conformance: filed incident reports — numbered per incident, stored with the SM3 digest of
//! the snapshot, read back byte for byte, the filing on the incident's timeline, one initial
//! and one final report at most, a report built against an older state refused, scoped like
//! the incident.

use super::{S, incident_spec, new_org};
use crate::StoreError;
use crate::filed_reports::NewFiledReport;
use vigil_model::{IncidentId, Scope};

fn report(inc: IncidentId, kind: &str, previous_seq: u32, body: &str) -> NewFiledReport {
    NewFiledReport {
        incident_id: inc,
        kind: kind.into(),
        timeline_upto: 1,
        previous_seq,
        snapshot: body.as_bytes().to_vec(),
    }
}

pub async fn filed_reports_are_numbered_hashed_and_scoped(store: S) {
    let a = new_org(&store, "Reports A").await;
    let b = new_org(&store, "Reports B").await;
    let inc = store
        .create_incident(incident_spec(a.id, "outage", "MP", None), "user:a")
        .await
        .unwrap();
    let other = store
        .create_incident(incident_spec(b.id, "other", "MP", None), "user:b")
        .await
        .unwrap();
    assert_eq!(
        store
            .list_filed_reports(Scope::Org(a.id), inc.id)
            .await
            .unwrap()
            .unwrap(),
        vec![]
    );

    let initial_body = r#"{"kind":"initial","title":"首报"}"#;
    let first = store
        .add_filed_report(
            Scope::All,
            report(inc.id, "initial", 0, initial_body),
            "user:analyst",
        )
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.kind, "initial");
    assert_eq!(first.org_id, a.id);
    assert_eq!(first.incident_id, inc.id);
    assert_eq!(first.filed_by, "user:analyst");
    assert_eq!(first.timeline_upto, 1);
    assert_eq!(first.size, initial_body.len() as u64);
    assert_eq!(first.sm3, vigil_crypto::sm3_hex(initial_body.as_bytes()));

    // A second initial report is refused, also when built against the latest one.
    let err = store
        .add_filed_report(Scope::All, report(inc.id, "initial", 1, "{}"), "user:x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    // Supplements follow; one built against #0 after #1 exists is refused.
    let err = store
        .add_filed_report(Scope::All, report(inc.id, "supplement", 0, "{}"), "user:x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let second = store
        .add_filed_report(
            Scope::All,
            report(inc.id, "supplement", 1, r#"{"n":2}"#),
            "user:analyst",
        )
        .await
        .unwrap();
    let third = store
        .add_filed_report(
            Scope::All,
            report(inc.id, "supplement", 2, r#"{"n":3}"#),
            "user:analyst",
        )
        .await
        .unwrap();
    assert_eq!((second.seq, third.seq), (2, 3));
    let fin = store
        .add_filed_report(
            Scope::All,
            report(inc.id, "final", 3, r#"{"n":4}"#),
            "user:a",
        )
        .await
        .unwrap();
    assert_eq!(fin.seq, 4);
    let err = store
        .add_filed_report(Scope::All, report(inc.id, "final", 4, "{}"), "user:a")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    // Two filings built against the same latest report race: exactly one goes in.
    let race = store
        .create_incident(incident_spec(a.id, "race", "MP", None), "user:a")
        .await
        .unwrap();
    let (x, y) = tokio::join!(
        store.add_filed_report(
            Scope::All,
            report(race.id, "supplement", 0, r#"{"by":"x"}"#),
            "user:x"
        ),
        store.add_filed_report(
            Scope::All,
            report(race.id, "supplement", 0, r#"{"by":"y"}"#),
            "user:y"
        ),
    );
    assert_eq!(
        [&x, &y].iter().filter(|r| r.is_ok()).count(),
        1,
        "{x:?} / {y:?}"
    );
    assert!(
        [x, y]
            .into_iter()
            .any(|r| matches!(r, Err(StoreError::Conflict(_))))
    );
    let raced = store
        .list_filed_reports(Scope::All, race.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raced.len(), 1);
    assert_eq!(raced[0].seq, 1);

    // Listed in order, without snapshots; read back byte for byte.
    let listed = store
        .list_filed_reports(Scope::Org(a.id), inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        listed,
        vec![first.clone(), second.clone(), third.clone(), fin.clone()]
    );
    let (got, bytes) = store
        .get_filed_report(Scope::Org(a.id), inc.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, first);
    assert_eq!(bytes, initial_body.as_bytes());
    assert!(got.matches(&bytes));
    assert!(!got.matches(r#"{"kind":"initial","title":"改过"}"#.as_bytes()));

    // Every filing is on the timeline, in order, with its number and digest.
    let now = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    let entries: Vec<(&str, &str)> = now
        .timeline
        .iter()
        .filter(|e| e.action.starts_with("report:"))
        .map(|e| (e.action.as_str(), e.note.as_str()))
        .collect();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].0, "report:initial");
    assert_eq!(entries[0].1, first.timeline_note());
    assert!(entries[0].1.contains(&first.sm3));
    assert_eq!(
        entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        [
            "report:initial",
            "report:supplement",
            "report:supplement",
            "report:final"
        ]
    );

    // Another organization sees nothing and cannot file; ids under another incident are
    // not found.
    assert!(
        store
            .list_filed_reports(Scope::Org(b.id), inc.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_filed_report(Scope::Org(b.id), inc.id, first.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_filed_report(Scope::All, other.id, first.id)
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .add_filed_report(
            Scope::Org(b.id),
            report(inc.id, "supplement", 4, "{}"),
            "user:b",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference(_)), "{err}");

    // Bad kinds, non-JSON snapshots and coverage beyond the timeline are refused by field.
    for (spec, field) in [
        (report(other.id, "draft", 0, "{}"), "kind"),
        (report(other.id, "initial", 0, "not json"), "snapshot"),
        (
            NewFiledReport {
                timeline_upto: 999,
                ..report(other.id, "initial", 0, "{}")
            },
            "timeline_upto",
        ),
    ] {
        let err = store
            .add_filed_report(Scope::All, spec, "user:b")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref v) if v.field == field),
            "{field}: {err}"
        );
    }
    assert_eq!(
        store
            .list_filed_reports(Scope::All, other.id)
            .await
            .unwrap()
            .unwrap(),
        vec![]
    );
}
