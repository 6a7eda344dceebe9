//! The processor stores one batch while it prepares the next (two batches in flight): a
//! store failure or a stop in the middle neither loses nor duplicates events, and events reach
//! the store in spool order.

use std::path::Path;

use vigil_model::{Event, OrgId, Scope};
use vigil_pipeline::Pipeline;
use vigil_store::{EventQuery, Store};

use super::{World, config, frame, get, prespool, until, world};

const N: u32 = 3_000;

fn lines() -> Vec<vigil_pipeline::spool::Record> {
    (0..N)
        .map(|i| {
            frame(
                "syslog-tcp",
                "2026-11-21T10:00:00Z",
                &format!(
                    "<13>1 2026-11-21T10:00:00Z web-1.corp.example app - - - overlap-line-{i:05}"
                ),
            )
        })
        .collect()
}

/// Every stored event of `org`, oldest first (by id, the order they were appended in).
async fn all_events(store: &dyn Store, org: OrgId) -> Vec<Event> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search_events(
                Scope::Org(org),
                &EventQuery {
                    limit: 1000,
                    cursor,
                    ..EventQuery::default()
                },
            )
            .await
            .expect("search");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_by_key(|e| e.id);
    out
}

/// Each line exactly once, and in spool order.
async fn assert_each_line_once_in_order(w: &World) {
    let events = all_events(w.store.as_ref(), w.org_a).await;
    let numbers: Vec<u32> = events
        .iter()
        .map(|e| {
            let raw = String::from_utf8_lossy(&e.event.raw);
            let (_, n) = raw.rsplit_once("overlap-line-").expect("a numbered line");
            n.trim().parse().expect("line number")
        })
        .collect();
    let expected: Vec<u32> = (0..N).collect();
    assert_eq!(numbers.len(), expected.len(), "events stored");
    assert!(
        numbers == expected,
        "each line once and in spool order; first differences: {:?}",
        numbers
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .take(5)
            .collect::<Vec<_>>()
    );
}

fn sqlite(w: &World) -> rusqlite::Connection {
    let path = w
        ._dir
        .path()
        .join("store")
        .join(vigil_store::sqlite::DB_FILE);
    let c = rusqlite::Connection::open(Path::new(&path)).expect("open the store's database");
    c.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    c
}

/// The store refuses appends once 1,000 events are stored, until the test lifts the fault:
/// the failing batch has its successor prepared (in flight) at that moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_with_two_batches_in_flight_loses_and_duplicates_nothing() {
    let w = world(false).await;
    prespool(&w, &lines());
    let db = sqlite(&w);
    db.execute_batch(
        "CREATE TABLE test_fault (x INTEGER);
         INSERT INTO test_fault VALUES (1);
         CREATE TRIGGER test_fault_append BEFORE INSERT ON event_chunks
         WHEN EXISTS (SELECT 1 FROM test_fault)
              AND (SELECT coalesce(sum(count), 0) FROM event_chunks) >= 1000
         BEGIN SELECT RAISE(ABORT, 'injected store failure'); END;",
    )
    .expect("install the fault");
    let mut c = config(&w, &[]);
    c.batch_max = 100;
    let p = Pipeline::start(c, w.store.clone()).await.expect("start");
    let s = p.stats().clone();
    until("a store failure", async || get(&s.store_errors) >= 1).await;
    let stored_at_failure = get(&s.stored);
    assert!(
        (1000..N as u64).contains(&stored_at_failure),
        "{stored_at_failure} stored when the store failed"
    );
    assert!(
        p.spool().committed() < p.spool().end(),
        "the checkpoint stays before the failed batch"
    );
    db.execute_batch("DELETE FROM test_fault")
        .expect("lift the fault");
    until("all stored", async || get(&s.stored) == N as u64).await;
    let spool = p.spool().clone();
    until("checkpoint at the end", async || {
        spool.committed() == spool.end()
    })
    .await;
    p.shutdown().await;
    assert_eq!(get(&s.stored), N as u64, "counted once");
    assert_each_line_once_in_order(&w).await;
}

/// A stop while batches are in flight: the batch being stored is finished and checkpointed,
/// the one prepared after it is read again at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_with_two_batches_in_flight_then_a_restart_stores_each_event_once() {
    let w = world(false).await;
    prespool(&w, &lines());
    let mut c = config(&w, &[]);
    c.batch_max = 100;
    let p = Pipeline::start(c.clone(), w.store.clone())
        .await
        .expect("start");
    let s = p.stats().clone();
    until("some stored", async || get(&s.stored) >= 300).await;
    p.shutdown().await;
    let first = get(&s.stored);
    assert!(first < N as u64, "stopped in the middle ({first} stored)");
    assert_eq!(
        all_events(w.store.as_ref(), w.org_a).await.len() as u64,
        first,
        "what was counted is what is stored"
    );
    let p = Pipeline::start(c, w.store.clone()).await.expect("restart");
    let s2 = p.stats().clone();
    until("the rest stored", async || {
        get(&s2.stored) == N as u64 - first
    })
    .await;
    let spool = p.spool().clone();
    until("checkpoint at the end", async || {
        spool.committed() == spool.end()
    })
    .await;
    p.shutdown().await;
    assert_each_line_once_in_order(&w).await;
}
