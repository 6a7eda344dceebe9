//! Conformance: the notification outbox (enqueue, leased claims, outcomes, scoped lists).

use super::{S, new_org, now, secs};
use crate::{DeliveryId, DeliveryOutcome, DeliveryQuery, DeliveryStatus, NewDelivery, StoreError};
use std::time::Duration;
use vigil_model::{OrgId, Scope};

fn delivery(org: OrgId, channel: &str, recipient: &str, reference: &str) -> NewDelivery {
    NewDelivery {
        org_id: org,
        channel: channel.to_string(),
        kind: if channel == "email" {
            "email".into()
        } else {
            "dingtalk".into()
        },
        recipient: recipient.to_string(),
        reference_kind: "incident".into(),
        reference_id: reference.to_string(),
        subject: "【通报】勒索软件事件 ransomware".into(),
        body: "**事件**: 勒索软件\n\n- grade: major".into(),
        max_attempts: 3,
        not_before: now(),
    }
}

/// Only the test's own deliveries, in case a backend shares its outbox between tests.
fn own(claimed: Vec<crate::Delivery>, ids: &[DeliveryId]) -> Vec<crate::Delivery> {
    claimed
        .into_iter()
        .filter(|d| ids.contains(&d.id))
        .collect()
}

/// Enqueued deliveries are due at `not_before`; a claim leases them (one more attempt) and
/// no second claim gets them while the lease holds; an outcome for a stale attempt changes
/// nothing; retry, sent and failed are recorded with their error and times.
pub async fn notifications_outbox_claims_and_outcomes(store: S) {
    let org = new_org(&store, "Outbox").await;
    let t0 = now();
    // A missing organization refuses the whole batch.
    let r = store
        .enqueue_deliveries(vec![
            delivery(org.id, "email", "a@example.cn", "r1"),
            delivery(OrgId::new(), "email", "b@example.cn", "r1"),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let r = store
        .enqueue_deliveries(vec![NewDelivery {
            max_attempts: 0,
            ..delivery(org.id, "email", "a@example.cn", "r1")
        }])
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let reference = format!("inc-{}", super::uniq());
    let later = NewDelivery {
        not_before: secs(t0, 3_600),
        ..delivery(
            org.id,
            "ops-dingtalk",
            "https://oapi.dingtalk.com/robot/send",
            &reference,
        )
    };
    let made = store
        .enqueue_deliveries(vec![
            delivery(org.id, "email", "a@example.cn", &reference),
            delivery(org.id, "email", "b@example.cn", &reference),
            later.clone(),
        ])
        .await
        .expect("enqueue");
    assert_eq!(made.len(), 3);
    assert!(
        made.iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
    assert_eq!(made[2].next_attempt_at, Some(later.not_before));
    assert_eq!(made[0].spec.subject, "【通报】勒索软件事件 ransomware");
    let ids: Vec<DeliveryId> = made.iter().map(|d| d.id).collect();

    // Only the two due now are claimed, with a lease.
    let lease = Duration::from_secs(60);
    let claimed = own(
        store
            .claim_deliveries(secs(t0, 1), lease, 10)
            .await
            .expect("claim"),
        &ids,
    );
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    for d in &claimed {
        assert_eq!(d.status, DeliveryStatus::Sending);
        assert_eq!(d.attempts, 1);
        assert_eq!(d.lease_until, Some(secs(t0, 61)));
        assert_eq!(d.next_attempt_at, None);
    }
    assert!(claimed.iter().all(|d| d.spec.channel == "email"));
    // While the lease holds, nobody else gets them.
    let again = own(
        store
            .claim_deliveries(secs(t0, 30), lease, 10)
            .await
            .expect("claim again"),
        &ids,
    );
    assert!(again.is_empty(), "{again:?}");

    // The first one is sent.
    let sent = store
        .finish_delivery(claimed[0].id, 1, DeliveryOutcome::Sent)
        .await
        .expect("finish")
        .expect("current attempt");
    assert_eq!(sent.status, DeliveryStatus::Sent);
    assert!(sent.sent_at.is_some());
    assert_eq!(sent.next_attempt_at, None);
    assert_eq!(sent.lease_until, None);
    // Reporting it again (or a wrong attempt) changes nothing.
    assert!(
        store
            .finish_delivery(
                claimed[0].id,
                1,
                DeliveryOutcome::Failed { error: "x".into() }
            )
            .await
            .expect("stale")
            .is_none()
    );

    // The second one's worker dies: after the lease it is due again, attempt 2.
    let second = claimed[1].id;
    let reclaimed = own(
        store
            .claim_deliveries(secs(t0, 62), lease, 10)
            .await
            .expect("reclaim"),
        &ids,
    );
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].id, second);
    assert_eq!(reclaimed[0].attempts, 2);
    // The dead worker's late report for attempt 1 is refused.
    assert!(
        store
            .finish_delivery(second, 1, DeliveryOutcome::Sent)
            .await
            .expect("late")
            .is_none()
    );
    let retry_at = secs(t0, 200);
    let retried = store
        .finish_delivery(
            second,
            2,
            DeliveryOutcome::Retry {
                at: retry_at,
                error: "HTTP 500: 服务器错误".into(),
            },
        )
        .await
        .expect("retry")
        .expect("current");
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert_eq!(retried.next_attempt_at, Some(retry_at));
    assert_eq!(retried.last_error.as_deref(), Some("HTTP 500: 服务器错误"));
    assert!(
        own(
            store
                .claim_deliveries(secs(t0, 199), lease, 10)
                .await
                .expect("not yet"),
            &ids
        )
        .is_empty()
    );
    let third = own(
        store
            .claim_deliveries(secs(t0, 200), lease, 10)
            .await
            .expect("due"),
        &ids,
    );
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].attempts, 3);
    assert_eq!(third[0].last_error.as_deref(), Some("HTTP 500: 服务器错误"));
    let failed = store
        .finish_delivery(
            second,
            3,
            DeliveryOutcome::Failed {
                error: "e".repeat(5_000),
            },
        )
        .await
        .expect("fail")
        .expect("current");
    assert_eq!(failed.status, DeliveryStatus::Failed);
    assert_eq!(failed.next_attempt_at, None);
    assert!(failed.last_error.as_ref().is_some_and(|e| e.len() < 2_100));

    // The later one comes due in its time, and the limit holds.
    let late = own(
        store
            .claim_deliveries(secs(t0, 3_601), lease, 1)
            .await
            .expect("later"),
        &ids,
    );
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].id, made[2].id);
    assert!(
        store
            .finish_delivery(DeliveryId::new(), 1, DeliveryOutcome::Sent)
            .await
            .expect("missing")
            .is_none()
    );
}

/// Lists are newest first, filtered by reference, status and channel, paged, and scoped: an
/// organization sees only its own deliveries, and naming another one finds nothing.
pub async fn notifications_are_listed_by_scope(store: S) {
    let a = new_org(&store, "Outbox A").await;
    let b = new_org(&store, "Outbox B").await;
    let reference = format!("inc-{}", super::uniq());
    let made = store
        .enqueue_deliveries(vec![
            delivery(a.id, "email", "a1@example.cn", &reference),
            delivery(a.id, "email", "a2@example.cn", &reference),
            delivery(
                a.id,
                "wecom",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                &reference,
            ),
            delivery(b.id, "email", "b1@example.cn", &reference),
        ])
        .await
        .expect("enqueue");
    let q = DeliveryQuery {
        reference_kind: Some("incident".into()),
        reference_id: Some(reference.clone()),
        ..DeliveryQuery::default()
    };
    let all = store.list_deliveries(Scope::All, &q).await.expect("all");
    assert_eq!(all.items.len(), 4);
    // One batch shares its creation time; the order within it is by id, descending.
    let mut expected: Vec<DeliveryId> = made.iter().map(|d| d.id).collect();
    expected.sort();
    expected.reverse();
    assert_eq!(all.items.iter().map(|d| d.id).collect::<Vec<_>>(), expected);
    let first = made.iter().find(|d| d.id == expected[0]).expect("made");
    assert_eq!(&all.items[0], first);

    let only_a = store
        .list_deliveries(Scope::Org(a.id), &q)
        .await
        .expect("scoped");
    assert_eq!(only_a.items.len(), 3);
    assert!(only_a.items.iter().all(|d| d.spec.org_id == a.id));
    let cross = store
        .list_deliveries(
            Scope::Org(a.id),
            &DeliveryQuery {
                org_id: Some(b.id),
                ..q.clone()
            },
        )
        .await
        .expect("cross");
    assert!(cross.items.is_empty());
    let wecom = store
        .list_deliveries(
            Scope::All,
            &DeliveryQuery {
                channel: Some("wecom".into()),
                ..q.clone()
            },
        )
        .await
        .expect("channel");
    assert_eq!(wecom.items.len(), 1);
    assert_eq!(wecom.items[0].id, made[2].id);

    // Status filter after one is sent.
    let claimed: Vec<_> = store
        .claim_deliveries(now(), Duration::from_secs(60), 100)
        .await
        .expect("claim")
        .into_iter()
        .filter(|d| d.id == made[0].id)
        .collect();
    assert_eq!(claimed.len(), 1);
    store
        .finish_delivery(made[0].id, 1, DeliveryOutcome::Sent)
        .await
        .expect("sent")
        .expect("current");
    let sent = store
        .list_deliveries(
            Scope::Org(a.id),
            &DeliveryQuery {
                status: Some(DeliveryStatus::Sent),
                ..q.clone()
            },
        )
        .await
        .expect("sent list");
    assert_eq!(sent.items.len(), 1);
    assert_eq!(sent.items[0].id, made[0].id);

    // Pages.
    let p1 = store
        .list_deliveries(
            Scope::All,
            &DeliveryQuery {
                limit: 3,
                ..q.clone()
            },
        )
        .await
        .expect("page 1");
    assert_eq!(p1.items.len(), 3);
    let p2 = store
        .list_deliveries(
            Scope::All,
            &DeliveryQuery {
                limit: 3,
                cursor: p1.next_cursor.clone(),
                ..q.clone()
            },
        )
        .await
        .expect("page 2");
    assert_eq!(p2.items.len(), 1);
    assert_eq!(p2.items[0].id, expected[3]);
    assert!(p2.next_cursor.is_none());

    // Deleting the organization takes its deliveries (b has no assets or users).
    assert!(store.delete_org(Scope::All, b.id).await.expect("delete"));
    let left = store.list_deliveries(Scope::All, &q).await.expect("left");
    assert_eq!(left.items.len(), 3);
}
