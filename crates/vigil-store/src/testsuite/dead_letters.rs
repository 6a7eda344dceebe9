//! Conformance: dead letters — stored with reason, source, sender, raw bytes (cut to 64 KiB
//! with the original length) and organization; searched by reason, source, time range and
//! case-insensitive text in the detail, sender and raw bytes, newest first with cursors;
//! scoped to the organization they are attributed to; counted by reason; pruned by age and
//! by count.

use super::{S, at, new_org, uniq};
use crate::StoreError;
use crate::dead_letters::{
    DeadLetterQuery, DeadLetterReason, DeadLetterRetention, MAX_DEAD_LETTER_RAW, NewDeadLetter,
};
use vigil_model::{OrgId, Scope};

fn letter(
    source: &str,
    t: &str,
    reason: DeadLetterReason,
    raw: &[u8],
    org: Option<OrgId>,
) -> NewDeadLetter {
    NewDeadLetter {
        received_at: at(t),
        source: source.to_string(),
        sender: Some("192.0.2.7:5140".into()),
        reason,
        detail: format!("{} failure", reason.as_str()),
        raw: raw.to_vec(),
        org_id: org,
    }
}

fn by_source(source: &str) -> DeadLetterQuery {
    DeadLetterQuery {
        source: Some(source.to_string()),
        ..Default::default()
    }
}

pub async fn dead_letters_are_stored_searched_scoped_and_pruned(store: S) {
    let u = uniq();
    let (src, other) = (format!("tcp-{u}"), format!("udp-{u}"));
    let a = new_org(&store, "Dead letters A").await;
    let b = new_org(&store, "Dead letters B").await;
    let big = vec![b'Z'; MAX_DEAD_LETTER_RAW + 100];
    let batch = vec![
        letter(
            &src,
            "2026-05-01T10:00:00Z",
            DeadLetterReason::Parse,
            b"<13>Not SYSLOG at all",
            None,
        ),
        letter(
            &src,
            "2026-05-01T10:00:01.000001Z",
            DeadLetterReason::Oversized,
            &big,
            Some(a.id),
        ),
        letter(
            &src,
            "2026-05-01T10:00:02Z",
            DeadLetterReason::Parse,
            b"\xff\xfe\x00binary\x00NEEDLE",
            Some(b.id),
        ),
        letter(
            &other,
            "2026-05-01T10:00:03Z",
            DeadLetterReason::Unattributed,
            b"{\"host\":\"x\"}",
            Some(a.id),
        ),
    ];
    assert_eq!(store.append_dead_letters(batch).await.unwrap(), 4);
    assert_eq!(store.append_dead_letters(vec![]).await.unwrap(), 0);
    let mut empty_source = letter(
        &src,
        "2026-05-01T10:00:00Z",
        DeadLetterReason::Parse,
        b"x",
        None,
    );
    empty_source.source.clear();
    assert!(matches!(
        store.append_dead_letters(vec![empty_source]).await,
        Err(StoreError::Invalid(_))
    ));

    // Newest first, fields as written, raw cut with the original length kept.
    let all = store
        .search_dead_letters(Scope::All, &by_source(&src))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.next_cursor, None);
    let times: Vec<_> = all.items.iter().map(|d| d.received_at).collect();
    assert_eq!(
        times,
        vec![
            at("2026-05-01T10:00:02Z"),
            at("2026-05-01T10:00:01.000001Z"),
            at("2026-05-01T10:00:00Z")
        ]
    );
    let binary = &all.items[0];
    assert_eq!(binary.raw, b"\xff\xfe\x00binary\x00NEEDLE");
    assert_eq!(binary.raw_len, 16);
    assert_eq!(binary.org_id, Some(b.id));
    assert_eq!(binary.sender.as_deref(), Some("192.0.2.7:5140"));
    assert_eq!(binary.detail, "parse failure");
    let oversized = &all.items[1];
    assert_eq!(oversized.reason, DeadLetterReason::Oversized);
    assert_eq!(oversized.raw.len(), MAX_DEAD_LETTER_RAW);
    assert_eq!(oversized.raw_len, (MAX_DEAD_LETTER_RAW + 100) as u64);
    assert_eq!(all.items[2].org_id, None);

    // Filters: reason, time range, text (case-insensitive, in raw bytes past invalid UTF-8,
    // in the detail, in the sender).
    let q = DeadLetterQuery {
        reason: Some(DeadLetterReason::Parse),
        ..by_source(&src)
    };
    assert_eq!(
        store
            .search_dead_letters(Scope::All, &q)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let q = DeadLetterQuery {
        since: Some(at("2026-05-01T10:00:01Z")),
        until: Some(at("2026-05-01T10:00:02Z")),
        ..by_source(&src)
    };
    let window = store.search_dead_letters(Scope::All, &q).await.unwrap();
    assert_eq!(window.items.len(), 1);
    assert_eq!(window.items[0].reason, DeadLetterReason::Oversized);
    for (needle, n) in [
        ("needle", 1),
        ("not syslog", 1),
        ("OVERSIZED FAIL", 1),
        ("192.0.2.7", 3),
        ("absent", 0),
    ] {
        let q = DeadLetterQuery {
            text: Some(needle.into()),
            ..by_source(&src)
        };
        assert_eq!(
            store
                .search_dead_letters(Scope::All, &q)
                .await
                .unwrap()
                .items
                .len(),
            n,
            "{needle}"
        );
    }

    // Pages of one with cursors walk all three; a bad cursor is refused.
    let mut q = DeadLetterQuery {
        limit: 1,
        ..by_source(&src)
    };
    let mut seen = Vec::new();
    loop {
        let p = store.search_dead_letters(Scope::All, &q).await.unwrap();
        seen.extend(p.items.iter().map(|d| d.id));
        match p.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, all.items.iter().map(|d| d.id).collect::<Vec<_>>());
    q.cursor = Some("garbage".into());
    assert!(matches!(
        store.search_dead_letters(Scope::All, &q).await,
        Err(StoreError::BadCursor(_))
    ));

    // An organization sees only those attributed to it.
    let own = store
        .search_dead_letters(Scope::Org(a.id), &DeadLetterQuery::default())
        .await
        .unwrap();
    assert_eq!(own.items.len(), 2);
    assert!(own.items.iter().all(|d| d.org_id == Some(a.id)));
    let q = DeadLetterQuery {
        text: Some("needle".into()),
        ..Default::default()
    };
    assert!(
        store
            .search_dead_letters(Scope::Org(a.id), &q)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Counts by reason under the same filters and scope.
    let counts = store
        .count_dead_letters_by_reason(Scope::All, &by_source(&src))
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![
            (DeadLetterReason::Oversized, 1),
            (DeadLetterReason::Parse, 2)
        ]
    );
    let counts = store
        .count_dead_letters_by_reason(Scope::Org(a.id), &DeadLetterQuery::default())
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![
            (DeadLetterReason::Oversized, 1),
            (DeadLetterReason::Unattributed, 1)
        ]
    );

    // Pruning by age takes the ones before the time only.
    let gone = store
        .prune_dead_letters(DeadLetterRetention {
            keep_newest: u64::MAX,
            older_than: Some(at("2026-05-01T10:00:01Z")),
        })
        .await
        .unwrap();
    assert!(gone >= 1);
    let left = store
        .search_dead_letters(Scope::All, &by_source(&src))
        .await
        .unwrap();
    assert_eq!(left.items.len(), 2);
    // Pruning by count keeps the newest (letters far in the future are the newest of any
    // test sharing the database).
    let fut = format!("future-{u}");
    let batch = (0..5)
        .map(|i| {
            letter(
                &fut,
                &format!("2100-01-01T00:00:0{i}Z"),
                DeadLetterReason::Parse,
                b"later",
                None,
            )
        })
        .collect();
    store.append_dead_letters(batch).await.unwrap();
    store
        .prune_dead_letters(DeadLetterRetention {
            keep_newest: 2,
            older_than: None,
        })
        .await
        .unwrap();
    let kept = store
        .search_dead_letters(Scope::All, &by_source(&fut))
        .await
        .unwrap();
    assert_eq!(
        kept.items.iter().map(|d| d.received_at).collect::<Vec<_>>(),
        vec![at("2100-01-01T00:00:04Z"), at("2100-01-01T00:00:03Z")]
    );
    assert!(
        store
            .search_dead_letters(Scope::All, &by_source(&src))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
