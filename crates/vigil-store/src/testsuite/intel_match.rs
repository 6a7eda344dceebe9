//! Conformance: the lean indicator read the live matcher loads from
//! (`Store::indicators_for_matching`): keyset pages in id order, only indicators that can
//! match (not revoked, not expired, of enabled sources), the fields the matcher needs.

use super::{S, at, indicator, new_source};
use crate::intel::{IndicatorId, IntelSourceId, IntelSourcePatch, MatchIndicator};

/// Every row of `source` the read returns, paging by `page` rows.
async fn read_all(
    store: &S,
    source: IntelSourceId,
    now: vigil_model::Timestamp,
    page: usize,
) -> Vec<MatchIndicator> {
    let mut out = Vec::new();
    let mut after: Option<IndicatorId> = None;
    loop {
        let rows = store
            .indicators_for_matching(after, now, page)
            .await
            .expect("read page");
        assert!(rows.len() <= page);
        if let (Some(a), Some(first)) = (after, rows.first()) {
            assert!(first.id > a, "pages follow each other in id order");
        }
        assert!(rows.windows(2).all(|w| w[0].id < w[1].id), "id order");
        let last = rows.last().map(|r| r.id);
        let full = rows.len() == page;
        out.extend(rows.into_iter().filter(|r| r.source_id == source));
        match last {
            Some(l) if full => after = Some(l),
            _ => break,
        }
    }
    out
}

pub async fn indicators_for_matching_pages_only_what_can_match(store: S) {
    let src = new_source(&store, "match-read").await;
    let off = new_source(&store, "match-read-disabled").await;
    let now = at("2026-06-01T00:00:00Z");
    let mut items = Vec::new();
    for i in 0..25 {
        items.push(indicator(
            src.id,
            &format!("indicator--{}", uuid::Uuid::new_v4()),
            "ipv4",
            &format!("198.51.100.{i}"),
        ));
    }
    // Expired at `now`, revoked by its source, and one revoked in Vigil below.
    let mut expired = indicator(src.id, "indicator--expired", "domain", "old.example");
    expired.valid_until = Some(at("2026-05-01T00:00:00Z"));
    let mut revoked = indicator(src.id, "indicator--revoked", "domain", "gone.example");
    revoked.revoked = true;
    let mut multi = indicator(src.id, "indicator--multi", "url", "http://a.example/x");
    multi.values.push("domain:b.example".into());
    multi.description = Some("phishing kit".into());
    items.extend([expired, revoked, multi]);
    store.upsert_indicators(items).await.expect("store");
    store
        .upsert_indicators(vec![indicator(
            off.id,
            "indicator--off",
            "domain",
            "disabled.example",
        )])
        .await
        .expect("store disabled");
    store
        .update_intel_source(
            off.id,
            IntelSourcePatch {
                enabled: Some(false),
                ..IntelSourcePatch::default()
            },
        )
        .await
        .expect("disable")
        .expect("source exists");

    let rows = read_all(&store, src.id, now, 7).await;
    assert_eq!(rows.len(), 26, "25 addresses and the multi-valued one");
    let m = rows
        .iter()
        .find(|r| r.kind == "url")
        .expect("multi-valued indicator");
    assert_eq!(m.value.as_deref(), Some("http://a.example/x"));
    assert_eq!(m.values, ["url:http://a.example/x", "domain:b.example"]);
    assert_eq!(m.description.as_deref(), Some("phishing kit"));
    assert_eq!(m.name.as_deref(), Some("bad http://a.example/x"));
    assert_eq!(m.confidence, 80);
    assert_eq!(m.tlp.as_deref(), Some("amber"));
    assert_eq!(m.valid_until, Some(at("2027-01-01T00:00:00Z")));
    assert_eq!(m.labels, ["c2"]);
    assert_eq!(m.kill_chain, ["mitre-attack:command-and-control"]);
    assert_eq!(m.attack_ids, ["T1071.001"]);
    assert!(
        !rows.iter().any(|r| r.kind == "domain"),
        "expired/revoked left out"
    );
    assert!(
        read_all(&store, off.id, now, 1000).await.is_empty(),
        "a disabled source's indicators are left out"
    );

    // Revoked in Vigil: gone from the next read. Before the expiry: the expired one is there.
    let victim = rows[0].id;
    store
        .revoke_indicator(victim)
        .await
        .expect("revoke")
        .expect("exists");
    let rows = read_all(&store, src.id, now, 1000).await;
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|r| r.id != victim));
    let earlier = read_all(&store, src.id, at("2026-04-01T00:00:00Z"), 1000).await;
    assert!(
        earlier
            .iter()
            .any(|r| r.value.as_deref() == Some("old.example"))
    );
    // Past the last page: nothing.
    let last = rows.iter().map(|r| r.id).max().expect("rows");
    let after_all = store
        .indicators_for_matching(Some(last), now, 1000)
        .await
        .expect("read");
    assert!(after_all.iter().all(|r| r.source_id != src.id));
}
