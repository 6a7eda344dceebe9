//! Issue 4, items 3 and 7: a kill -9 between storing a batch's events and creating its alerts.
//! The next start skips the batch (its events are stored; HTTP events exactly once) and must
//! still create its alerts, from the in-flight marker, once.

use std::collections::BTreeMap;

use vigil_model::{Alert, OrgId, Scope};
use vigil_pipeline::Pipeline;
use vigil_pipeline::spool::{Record, RecordKind};
use vigil_store::{AlertQuery, Store};

use super::{World, config, events_of, prespool, restart_skipping_the_stored_batch, until, world};

const SIGMA_RULE: &str = "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e01";
const CORRELATION_RULE: &str = "5d2c8f0e-7a41-4c55-9b1e-0a6f3c2d1e02";

/// One batch mixing HTTP events (one of org B by its token, two attributed to org A by host)
/// and a syslog line from org A's host: four failed logins, three of them on org A's web-1,
/// so the Sigma rule fires for both organizations and the brute-force correlation for org A.
fn records(w: &World) -> Vec<Record> {
    let http = |org: Option<OrgId>, n: u32| {
        Record {
        kind: RecordKind::Event,
        received_at: "2026-11-21T10:00:09Z".parse().expect("time"),
        input: "api".into(),
        sender: Some("token:t".into()),
        org,
        data: format!(
            r#"{{"@timestamp":"2026-11-21T10:00:0{n}Z","event":{{"dataset":"linux.sshd"}},"host":{{"name":"web-1.corp.example"}},"message":"Failed password for admin from 198.51.100.{n} port 22 ssh2"}}"#
        )
        .into_bytes(),
    }
    };
    let syslog = Record {
        kind: RecordKind::Frame,
        received_at: "2026-11-21T10:00:09Z".parse().expect("time"),
        input: "syslog-tcp".into(),
        sender: Some("127.0.0.1:5514".into()),
        org: None,
        data: b"<34>1 2026-11-21T10:00:04Z web-1.corp.example sshd 411 - - Failed password for root from 203.0.113.7 port 4242 ssh2".to_vec(),
    };
    vec![http(Some(w.org_b), 1), syslog, http(None, 2), http(None, 3)]
}

async fn all_alerts(store: &dyn Store) -> Vec<Alert> {
    store
        .list_alerts(
            Scope::All,
            &AlertQuery {
                limit: 100,
                ..AlertQuery::default()
            },
        )
        .await
        .expect("alerts")
        .items
}

/// (organization, rule) → number of events of each alert, what a run leaves behind.
fn shape(alerts: &[Alert], w: &World) -> BTreeMap<(&'static str, String), Vec<usize>> {
    let mut m: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for a in alerts {
        let org = if a.spec.org_id == w.org_a { "A" } else { "B" };
        m.entry((org, a.spec.rule_id.clone()))
            .or_default()
            .push(a.spec.event_ids.len());
    }
    for v in m.values_mut() {
        v.sort_unstable();
    }
    m
}

/// Runs the batch to its end with no crash, for the alerts it should make.
async fn reference() -> (World, Vec<Alert>) {
    let w = world(true).await;
    prespool(&w, &records(&w));
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("start");
    let spool = p.spool().clone();
    until("checkpoint at the end", async || {
        spool.committed() == spool.end()
    })
    .await;
    p.shutdown().await;
    let alerts = all_alerts(w.store.as_ref()).await;
    (w, alerts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_of_a_batch_stored_before_a_crash_are_created_at_the_next_start_once() {
    let (rw, expected) = reference().await;
    let expected = shape(&expected, &rw);
    assert!(
        expected.contains_key(&("A", SIGMA_RULE.to_string()))
            && expected.contains_key(&("B", SIGMA_RULE.to_string()))
            && expected.contains_key(&("A", CORRELATION_RULE.to_string())),
        "the batch fires the Sigma rule for both organizations and the correlation: {expected:?}"
    );

    let w = world(true).await;
    prespool(&w, &records(&w));
    let spool_dir = w.data.join("spool");
    // The crash: the batch's events are appended, then the process is gone before its
    // alerts and its checkpoint.
    vigil_pipeline::failpoint::stop_before_alerts_in(&spool_dir, true);
    let p = Pipeline::start(config(&w, &[]), w.store.clone())
        .await
        .expect("start");
    let store = w.store.clone();
    let (org_a, org_b) = (w.org_a, w.org_b);
    until("the events stored", async || {
        events_of(store.as_ref(), org_a).await.len() == 3
            && events_of(store.as_ref(), org_b).await.len() == 1
    })
    .await;
    let spool = p.spool().clone();
    p.shutdown().await;
    vigil_pipeline::failpoint::stop_before_alerts_in(&spool_dir, false);
    assert_eq!(spool.committed(), 0, "no checkpoint after the crash");
    assert!(
        all_alerts(w.store.as_ref()).await.is_empty(),
        "no alerts yet"
    );
    let marker = std::fs::read_to_string(spool_dir.join("inflight")).expect("marker");
    assert!(marker.starts_with("vigil-inflight 2 "), "{marker}");
    drop(spool);

    // The next start: the batch is skipped (not stored again) and its alerts are created,
    // linked to the stored events.
    restart_skipping_the_stored_batch(&w).await;
    let a = events_of(w.store.as_ref(), w.org_a).await;
    let b = events_of(w.store.as_ref(), w.org_b).await;
    assert_eq!((a.len(), b.len()), (3, 1), "events stored once");
    let alerts = all_alerts(w.store.as_ref()).await;
    assert_eq!(shape(&alerts, &w), expected);
    for alert in &alerts {
        let own = if alert.spec.org_id == w.org_a { &a } else { &b };
        for id in &alert.spec.event_ids {
            assert!(
                own.iter().any(|e| e.id == *id),
                "alert {} names event {id} of its organization",
                alert.spec.rule_id
            );
        }
    }

    // A crash after the alerts and before the checkpoint: the same batch is skipped again,
    // and its alerts are not made twice.
    let off = "0";
    std::fs::write(
        spool_dir.join("checkpoint"),
        format!("vigil-spool 1 {off} {}\n", crc32fast::hash(off.as_bytes())),
    )
    .expect("rewind checkpoint");
    restart_skipping_the_stored_batch(&w).await;
    assert_eq!(all_alerts(w.store.as_ref()).await.len(), alerts.len());
    assert_eq!(events_of(w.store.as_ref(), w.org_a).await.len(), 3);
}
