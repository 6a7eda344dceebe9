//! Conformance: intelligence source settings (enable/disable, trust, default TLP,
//! description), indicator counts per source, import history with bounded rejections, the
//! search filters of the indicator pages and blocklists, and external dynamic lists.

use super::{S, at, indicator, new_source, source_query, uniq};
use crate::StoreError;
use crate::intel::{
    ImportRejection, IndicatorQuery, IndicatorState, IntelImportId, IntelSourceId,
    IntelSourcePatch, MAX_IMPORT_REJECTIONS, NewEdlList, NewIntelImport,
};
use serde_json::json;

pub async fn intel_source_settings_and_counts(store: S) {
    let src = new_source(&store, "settings").await;
    assert_eq!(src.default_tlp, None);
    assert_eq!(src.description, None);
    let changed = store
        .update_intel_source(
            src.id,
            IntelSourcePatch {
                enabled: Some(false),
                trust: Some(20),
                default_tlp: Some(Some("amber".into())),
                description: Some(Some("national feed".into())),
            },
        )
        .await
        .unwrap()
        .expect("source exists");
    assert!(!changed.spec.enabled);
    assert_eq!(changed.spec.trust, 20);
    assert_eq!(changed.default_tlp.as_deref(), Some("amber"));
    assert_eq!(changed.description.as_deref(), Some("national feed"));
    assert_eq!(changed.spec.name, src.spec.name);
    // A partial patch leaves the rest; Some(None) clears.
    let again = store
        .update_intel_source(
            src.id,
            IntelSourcePatch {
                enabled: Some(true),
                default_tlp: Some(None),
                ..IntelSourcePatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(again.spec.enabled);
    assert_eq!(again.spec.trust, 20);
    assert_eq!(again.default_tlp, None);
    assert_eq!(again.description.as_deref(), Some("national feed"));
    assert_eq!(
        store.get_intel_source(src.id).await.unwrap().as_ref(),
        Some(&again)
    );
    // Bad values are refused by field; a missing source is None.
    let bad = store
        .update_intel_source(
            src.id,
            IntelSourcePatch {
                default_tlp: Some(Some("purple".into())),
                ..IntelSourcePatch::default()
            },
        )
        .await;
    assert!(
        matches!(bad, Err(StoreError::Invalid(ref e)) if e.field == "default_tlp"),
        "{bad:?}"
    );
    let bad = store
        .update_intel_source(
            src.id,
            IntelSourcePatch {
                trust: Some(101),
                ..IntelSourcePatch::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    assert!(
        store
            .update_intel_source(IntelSourceId::new(), IntelSourcePatch::default())
            .await
            .unwrap()
            .is_none()
    );

    // Counts: 3 stored, one revoked by its source, one expired.
    let mut items = vec![
        indicator(src.id, "indicator--c1", "domain", "a.count.example"),
        indicator(src.id, "indicator--c2", "domain", "b.count.example"),
        indicator(src.id, "indicator--c3", "domain", "c.count.example"),
    ];
    items[1].revoked = true;
    items[2].valid_until = Some(at("2026-03-01T00:00:00Z"));
    store.upsert_indicators(items).await.unwrap();
    let counts = store.intel_source_counts().await.unwrap();
    let c = counts
        .iter()
        .find(|c| c.source_id == src.id)
        .expect("counts of the source");
    assert_eq!((c.total, c.active), (3, 1));
}

pub async fn intel_indicator_search_filters(store: S) {
    let src = new_source(&store, "filters").await;
    let off = new_source(&store, "filters off").await;
    let tag = format!("tag-{}", uniq());
    let mut red = indicator(src.id, "indicator--f1", "ipv4", "198.51.100.7");
    red.tlp = Some("red".into());
    red.confidence = 95;
    red.labels = vec![tag.clone(), "c2".into()];
    let mut green = indicator(src.id, "indicator--f2", "domain", "green.filter.example");
    green.tlp = Some("green".into());
    green.confidence = 40;
    let mut unmarked = indicator(src.id, "indicator--f3", "url", "http://x.filter.example/a");
    unmarked.tlp = None;
    unmarked.confidence = 60;
    unmarked.labels = vec![tag.clone()];
    let mut expired = indicator(src.id, "indicator--f4", "domain", "old.filter.example");
    expired.valid_until = Some(at("2026-03-01T00:00:00Z"));
    let mut revoked = indicator(src.id, "indicator--f5", "domain", "gone.filter.example");
    revoked.revoked = true;
    let disabled = indicator(off.id, "indicator--f6", "domain", "off.filter.example");
    // A pattern of two values: its first is an address, its second a domain.
    let mut pair = indicator(src.id, "indicator--f7", "ipv4", "192.0.2.77");
    pair.values = vec![
        "ipv4:192.0.2.77".into(),
        "domain:pair.filter.example".into(),
    ];
    pair.confidence = 10;
    store
        .upsert_indicators(vec![red, green, unmarked, expired, revoked, disabled, pair])
        .await
        .unwrap();
    store
        .update_intel_source(
            off.id,
            IntelSourcePatch {
                enabled: Some(false),
                ..IntelSourcePatch::default()
            },
        )
        .await
        .unwrap();
    let values = |q: IndicatorQuery| {
        let store = store.clone();
        async move {
            let mut v: Vec<String> = store
                .list_indicators(&q)
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|i| i.spec.value)
                .collect();
            v.sort();
            v
        }
    };
    let now = Some(at("2026-12-01T00:00:00Z"));
    assert_eq!(
        values(IndicatorQuery {
            tlp: Some("red".into()),
            ..source_query(src.id)
        })
        .await,
        ["198.51.100.7"]
    );
    // Excluding markings keeps unmarked ones.
    assert_eq!(
        values(IndicatorQuery {
            tlp_exclude: vec!["red".into(), "amber".into()],
            ..source_query(src.id)
        })
        .await,
        ["green.filter.example", "http://x.filter.example/a"]
    );
    assert_eq!(
        values(IndicatorQuery {
            min_confidence: Some(50),
            max_confidence: Some(90),
            ..source_query(src.id)
        })
        .await,
        ["http://x.filter.example/a", "old.filter.example"]
    );
    assert_eq!(
        values(IndicatorQuery {
            label: Some(tag.clone()),
            ..source_query(src.id)
        })
        .await,
        ["198.51.100.7", "http://x.filter.example/a"]
    );
    assert_eq!(
        values(IndicatorQuery {
            kinds: vec!["ipv4".into(), "url".into()],
            ..source_query(src.id)
        })
        .await,
        ["192.0.2.77", "198.51.100.7", "http://x.filter.example/a"]
    );
    // Any value's kind counts: the pair's second value is a domain.
    assert_eq!(
        values(IndicatorQuery {
            kinds: vec!["domain".into()],
            ..source_query(src.id)
        })
        .await,
        ["192.0.2.77", "green.filter.example", "old.filter.example"]
    );
    assert_eq!(
        values(IndicatorQuery {
            state: Some(IndicatorState::Expired),
            now,
            ..source_query(src.id)
        })
        .await,
        ["old.filter.example"]
    );
    assert_eq!(
        values(IndicatorQuery {
            state: Some(IndicatorState::Revoked),
            now,
            ..source_query(src.id)
        })
        .await,
        ["gone.filter.example"]
    );
    assert_eq!(
        values(IndicatorQuery {
            state: Some(IndicatorState::Active),
            now,
            ..source_query(src.id)
        })
        .await,
        [
            "192.0.2.77",
            "198.51.100.7",
            "green.filter.example",
            "http://x.filter.example/a"
        ]
    );
    // A disabled source's indicators are out when only enabled sources count.
    assert_eq!(values(source_query(off.id)).await, ["off.filter.example"]);
    assert!(
        values(IndicatorQuery {
            enabled_sources_only: true,
            ..source_query(off.id)
        })
        .await
        .is_empty()
    );
    assert_eq!(
        values(IndicatorQuery {
            enabled_sources_only: true,
            state: Some(IndicatorState::Active),
            now,
            ..source_query(src.id)
        })
        .await
        .len(),
        4
    );
}

fn import_of(source: IntelSourceId, rejected: usize) -> NewIntelImport {
    NewIntelImport {
        source_id: source,
        actor: "user:analyst".into(),
        via: "api".into(),
        format: "stix".into(),
        inserted: 5,
        updated: 2,
        unchanged: 1,
        rejected: rejected as u64,
        rejections: (0..rejected)
            .map(|i| ImportRejection {
                id: Some(format!("indicator--{i}")),
                reason: format!("unsupported pattern {i}"),
            })
            .collect(),
        started_at: at("2026-12-01T10:00:00Z"),
    }
}

pub async fn intel_imports_are_recorded(store: S) {
    let src = new_source(&store, "imports").await;
    let other = new_source(&store, "imports other").await;
    let first = store
        .record_intel_import(import_of(src.id, 2))
        .await
        .unwrap();
    assert_eq!(first.spec.rejections.len(), 2);
    assert_eq!(first.spec.rejections[1].reason, "unsupported pattern 1");
    // Rejections beyond the bound are dropped, the count stays.
    let big = store
        .record_intel_import(import_of(src.id, MAX_IMPORT_REJECTIONS + 5))
        .await
        .unwrap();
    assert_eq!(big.spec.rejected, (MAX_IMPORT_REJECTIONS + 5) as u64);
    assert_eq!(big.spec.rejections.len(), MAX_IMPORT_REJECTIONS);
    let third = store
        .record_intel_import(import_of(src.id, 0))
        .await
        .unwrap();
    store
        .record_intel_import(import_of(other.id, 1))
        .await
        .unwrap();
    let got = store
        .get_intel_import(big.id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got, big);
    assert!(
        store
            .get_intel_import(IntelImportId::new())
            .await
            .unwrap()
            .is_none()
    );
    // Newest first, one source, pages by cursor.
    let p1 = store
        .list_intel_imports(Some(src.id), 2, None)
        .await
        .unwrap();
    assert_eq!(
        p1.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [third.id, big.id]
    );
    let p2 = store
        .list_intel_imports(Some(src.id), 2, p1.next_cursor.clone())
        .await
        .unwrap();
    assert_eq!(
        p2.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [first.id]
    );
    assert!(p2.next_cursor.is_none());
    assert_eq!(
        p2.items[0].spec,
        NewIntelImport {
            started_at: at("2026-12-01T10:00:00Z"),
            ..import_of(src.id, 2)
        }
    );
    // An unknown source is refused.
    let r = store
        .record_intel_import(import_of(IntelSourceId::new(), 0))
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
}

pub async fn edl_lists_put_list_and_delete(store: S) {
    let name = format!("fw-{}", uniq());
    let list = store
        .put_edl_list(
            NewEdlList {
                name: name.clone(),
                description: Some("perimeter".into()),
                filter: json!({"types": ["ipv4"], "min_confidence": 70}),
            },
            "user:admin",
        )
        .await
        .unwrap();
    assert_eq!(list.created_by, "user:admin");
    assert_eq!(list.spec.filter["min_confidence"], 70);
    let replaced = store
        .put_edl_list(
            NewEdlList {
                name: name.clone(),
                description: None,
                filter: json!({"types": ["domain"]}),
            },
            "user:other",
        )
        .await
        .unwrap();
    assert_eq!(replaced.created_by, "user:admin");
    assert_eq!(replaced.created_at, list.created_at);
    assert_eq!(replaced.spec.filter, json!({"types": ["domain"]}));
    assert_eq!(
        store.get_edl_list(&name).await.unwrap().as_ref(),
        Some(&replaced)
    );
    assert!(
        store
            .list_edl_lists()
            .await
            .unwrap()
            .iter()
            .any(|l| l.spec.name == name)
    );
    let bad = store
        .put_edl_list(
            NewEdlList {
                name: "Bad Name".into(),
                description: None,
                filter: json!({}),
            },
            "user:admin",
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    assert!(store.delete_edl_list(&name).await.unwrap());
    assert!(!store.delete_edl_list(&name).await.unwrap());
    assert!(store.get_edl_list(&name).await.unwrap().is_none());
}
