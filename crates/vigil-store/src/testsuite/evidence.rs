//! Conformance: evidence files — stored with the SM3 digest of their bytes, listed without
//! them, read back byte for byte, the upload on the incident's timeline, scoped like the
//! incident, sanitized names, and too large or empty files refused by name.

use super::{S, incident_spec, new_org};
use crate::StoreError;
use crate::evidence::{MAX_EVIDENCE_BYTES, NewEvidence};
use vigil_model::Scope;

fn file(inc: vigil_model::IncidentId, name: &str, ct: &str, bytes: &[u8]) -> NewEvidence {
    NewEvidence {
        incident_id: inc,
        file_name: name.into(),
        content_type: ct.into(),
        note: Some("  from the firewall  ".into()),
        bytes: bytes.to_vec(),
    }
}

pub async fn evidence_files_keep_their_digest_and_scope(store: S) {
    let a = new_org(&store, "Evidence A").await;
    let b = new_org(&store, "Evidence B").await;
    let inc = store
        .create_incident(incident_spec(a.id, "ransom", "MP", None), "user:a")
        .await
        .unwrap();
    let other = store
        .create_incident(incident_spec(b.id, "other", "MP", None), "user:b")
        .await
        .unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    let ev = store
        .add_evidence(
            Scope::Org(a.id),
            file(
                inc.id,
                "../../captures/dump.pcap",
                "Application/Vnd.Tcpdump.Pcap; x=1",
                &bytes,
            ),
            "user:officer",
        )
        .await
        .unwrap();
    assert_eq!(ev.incident_id, inc.id);
    assert_eq!(ev.org_id, a.id);
    assert_eq!(ev.file_name, "dump.pcap");
    assert_eq!(ev.content_type, "application/vnd.tcpdump.pcap");
    assert_eq!(ev.size, 70_000);
    assert_eq!(ev.sm3, vigil_crypto::sm3_hex(&bytes));
    assert_eq!(ev.sm3.len(), 64);
    assert_eq!(ev.uploaded_by, "user:officer");
    assert_eq!(ev.note.as_deref(), Some("from the firewall"));

    // A second file, listed after the first; the list carries no bytes but the records.
    let ev2 = store
        .add_evidence(
            Scope::All,
            file(inc.id, "notes.txt", "", b"hello"),
            "user:analyst",
        )
        .await
        .unwrap();
    assert_eq!(ev2.content_type, "application/octet-stream");
    let listed = store
        .list_evidence(Scope::Org(a.id), inc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed, vec![ev.clone(), ev2.clone()]);

    // Read back byte for byte, and the digest matches.
    let (got, got_bytes) = store
        .get_evidence(Scope::Org(a.id), inc.id, ev.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ev);
    assert_eq!(got_bytes, bytes);
    assert!(got.matches(&got_bytes));
    assert!(!got.matches(b"something else"));

    // The upload is on the timeline with name, size and digest.
    let inc_now = store
        .get_incident(Scope::All, inc.id)
        .await
        .unwrap()
        .unwrap();
    let entries: Vec<_> = inc_now
        .timeline
        .iter()
        .filter(|e| e.action == "evidence")
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].actor, "user:officer");
    assert_eq!(
        entries[0].note,
        format!("dump.pcap (70000 bytes, SM3 {})", ev.sm3)
    );

    // Another organization's scope sees nothing of it, and cannot add to it.
    assert!(
        store
            .list_evidence(Scope::Org(b.id), inc.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_evidence(Scope::Org(b.id), inc.id, ev.id)
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .add_evidence(
            Scope::Org(b.id),
            file(inc.id, "x.txt", "text/plain", b"x"),
            "user:b",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference(_)), "{err}");
    // An evidence id asked for under another incident is not found either.
    assert!(
        store
            .get_evidence(Scope::All, other.id, ev.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_evidence(Scope::All, other.id)
            .await
            .unwrap()
            .unwrap(),
        vec![]
    );
    let missing = vigil_model::IncidentId::new();
    assert!(
        store
            .list_evidence(Scope::All, missing)
            .await
            .unwrap()
            .is_none()
    );

    // Too large and empty files are refused, naming the field; nothing is stored.
    let big = vec![0u8; MAX_EVIDENCE_BYTES + 1];
    let err = store
        .add_evidence(Scope::All, file(inc.id, "big.bin", "", &big), "user:a")
        .await
        .unwrap_err();
    match err {
        StoreError::Invalid(v) => {
            assert_eq!(v.field, "content");
            assert!(v.message.contains("at most"), "{}", v.message);
        }
        other => panic!("expected Invalid, got {other}"),
    }
    let err = store
        .add_evidence(Scope::All, file(inc.id, "empty.bin", "", b""), "user:a")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref v) if v.field == "content"),
        "{err}"
    );
    assert_eq!(
        store
            .list_evidence(Scope::All, inc.id)
            .await
            .unwrap()
            .unwrap()
            .len(),
        2
    );
}
