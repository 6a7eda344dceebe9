//! Conformance: TAXII state kept across restarts — a feed's watermark, counters and last
//! error as polls succeed and fail, a changed collection URL starting over, and status
//! resources stored and found by id.

use super::{S, at, uniq};
use crate::{TaxiiFeedPoll, TaxiiStatus};

pub async fn taxii_feed_state_and_statuses_persist(store: S) {
    let name = format!("feed-{}", uniq());
    let url = "http://peer.example/taxii2/api1/collections/c1/";
    assert_eq!(store.get_taxii_feed(&name).await.unwrap(), None);

    // A first success sets the watermark and counts the objects.
    let w1 = at("2026-03-01T10:00:00.123456Z");
    let s = store
        .record_taxii_feed_poll(
            &name,
            url,
            TaxiiFeedPoll::Success {
                watermark: Some(w1),
                objects: 7,
            },
            at("2026-03-01T10:00:05Z"),
        )
        .await
        .unwrap();
    assert_eq!(s.watermark, Some(w1));
    assert_eq!((s.polls, s.failures, s.objects_imported), (1, 0, 7));
    assert_eq!(s.last_success_at, Some(at("2026-03-01T10:00:05Z")));

    // Failures keep the watermark, count, and show the error.
    for i in 0..2 {
        store
            .record_taxii_feed_poll(
                &name,
                url,
                TaxiiFeedPoll::Failure {
                    error: format!("connection refused {i}"),
                },
                at("2026-03-01T10:05:00Z"),
            )
            .await
            .unwrap();
    }
    let s = store.get_taxii_feed(&name).await.unwrap().expect("feed");
    assert_eq!(s.watermark, Some(w1));
    assert_eq!(s.last_error.as_deref(), Some("connection refused 1"));
    assert_eq!(s.last_error_at, Some(at("2026-03-01T10:05:00Z")));
    assert_eq!((s.polls, s.failures, s.consecutive_failures), (3, 2, 2));
    // Errors are cut to a bounded length.
    let long = store
        .record_taxii_feed_poll(
            &name,
            url,
            TaxiiFeedPoll::Failure {
                error: "é".repeat(5_000),
            },
            at("2026-03-01T10:06:00Z"),
        )
        .await
        .unwrap();
    assert!(long.last_error.as_ref().is_some_and(|e| e.len() <= 2_000));

    // A success without a new watermark (nothing new) keeps the old one and clears the error.
    let s = store
        .record_taxii_feed_poll(
            &name,
            url,
            TaxiiFeedPoll::Success {
                watermark: None,
                objects: 0,
            },
            at("2026-03-01T10:10:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(s.watermark, Some(w1));
    assert_eq!(s.last_error, None);
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.last_error_at, Some(at("2026-03-01T10:06:00Z")));
    assert_eq!(store.get_taxii_feed(&name).await.unwrap(), Some(s.clone()));
    assert!(store.list_taxii_feeds().await.unwrap().contains(&s));

    // Another collection URL for the same name starts over.
    let s = store
        .record_taxii_feed_poll(
            &name,
            "http://other.example/taxii2/r/collections/c2/",
            TaxiiFeedPoll::Success {
                watermark: None,
                objects: 1,
            },
            at("2026-03-02T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(s.watermark, None);
    assert_eq!((s.polls, s.objects_imported), (1, 1));
    assert!(
        store
            .record_taxii_feed_poll(
                "",
                url,
                TaxiiFeedPoll::Failure { error: "x".into() },
                at("2026-03-02T00:00:00Z")
            )
            .await
            .is_err()
    );

    // Status resources.
    let id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "id": id,
        "status": "complete",
        "total_count": 2,
        "success_count": 1,
        "successes": [{"id": "indicator--1", "version": "2026-01-01T00:00:00.000Z"}],
        "failure_count": 1,
        "failures": [{"id": "indicator--2", "message": "bad pattern"}],
        "pending_count": 0,
        "pendings": [],
    });
    let status = TaxiiStatus {
        id: id.clone(),
        body: body.clone(),
        created_at: at("2026-03-01T10:00:00Z"),
    };
    store.put_taxii_status(status.clone()).await.unwrap();
    assert_eq!(store.get_taxii_status(&id).await.unwrap(), Some(status));
    assert_eq!(store.get_taxii_status("nope").await.unwrap(), None);
    // A month later a new status pushes the old one out.
    let newer = TaxiiStatus {
        id: uuid::Uuid::new_v4().to_string(),
        body: serde_json::json!({"status": "complete"}),
        created_at: at("2026-04-15T00:00:00Z"),
    };
    store.put_taxii_status(newer.clone()).await.unwrap();
    assert_eq!(store.get_taxii_status(&id).await.unwrap(), None);
    assert_eq!(
        store.get_taxii_status(&newer.id).await.unwrap(),
        Some(newer)
    );
}

/// Every indicator version stored gets its own `date_added`, strictly increasing also inside
/// one batch, so a TAXII client paging with `added_after` = a `date_added` it was given (as
/// taxii2-client and OpenCTI do) never skips an object stored in the same batch.
pub async fn indicator_batches_get_strictly_increasing_date_added(store: S) {
    let src = super::new_source(&store, "batch-dates").await;
    let batch: Vec<_> = (0..5)
        .map(|i| {
            super::indicator(
                src.id,
                &format!("indicator--{}", uuid::Uuid::new_v4()),
                "domain",
                &format!("batch{i}.example.net"),
            )
        })
        .collect();
    store.upsert_indicators(batch.clone()).await.unwrap();
    let second: Vec<_> = (0..3)
        .map(|i| {
            super::indicator(
                src.id,
                &format!("indicator--{}", uuid::Uuid::new_v4()),
                "domain",
                &format!("later{i}.example.net"),
            )
        })
        .collect();
    store.upsert_indicators(second).await.unwrap();
    let mut q = super::source_query(src.id);
    q.oldest_first = true;
    let items = store.list_indicators(&q).await.unwrap().items;
    assert_eq!(items.len(), 8);
    for w in items.windows(2) {
        assert!(
            w[0].date_added < w[1].date_added,
            "{} !< {}",
            w[0].date_added,
            w[1].date_added
        );
    }
    // added_after the third one's date_added gives exactly the five after it.
    q.added_after = Some(items[2].date_added);
    assert_eq!(store.list_indicators(&q).await.unwrap().items.len(), 5);
}
