//! Conformance: every version of an indicator stays retrievable (`list_indicator_versions`):
//! a replaced version keeps its STIX object and `date_added`, the current one is `latest`,
//! `first`/`last`/`all`/a time select as TAXII `match[version]` does, and keyset pages visit
//! every version once.

use super::{S, at, indicator, new_source};
use crate::intel::{IndicatorVersion, IndicatorVersionQuery};
use crate::stix::StixVersion;
use serde_json::json;

fn version(
    source: crate::IntelSourceId,
    stix_id: &str,
    value: &str,
    modified: &str,
) -> crate::NewIndicator {
    let mut i = indicator(source, stix_id, "domain", value);
    i.modified = at(modified);
    i.object = json!({"type": "indicator", "id": stix_id, "spec_version": "2.1",
                      "modified": modified, "pattern": format!("[domain-name:value = '{value}']")});
    i
}

async fn all_pages(store: &S, q: &IndicatorVersionQuery, page: usize) -> Vec<IndicatorVersion> {
    let mut out: Vec<IndicatorVersion> = Vec::new();
    let mut q = IndicatorVersionQuery {
        limit: page,
        ..q.clone()
    };
    for _ in 0..100 {
        let p = store
            .list_indicator_versions(&q)
            .await
            .expect("versions page");
        assert!(p.items.len() <= page);
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn modifieds(v: &[IndicatorVersion]) -> Vec<String> {
    v.iter()
        .map(|v| {
            format!(
                "{}@{}",
                v.object["pattern"].as_str().unwrap_or(""),
                v.modified
            )
        })
        .collect()
}

pub async fn indicator_versions_keep_every_replaced_version(store: S) {
    let src = new_source(&store, "versions").await;
    let other = new_source(&store, "versions-other").await;
    let a = format!("indicator--{}", uuid::Uuid::new_v4());
    let b = format!("indicator--{}", uuid::Uuid::new_v4());
    let t1 = "2026-03-01T00:00:00.001Z";
    let t2 = "2026-03-02T00:00:00Z";
    let t3 = "2026-03-03T00:00:00Z";
    // a: three versions in three batches, plus an older and an equal one that change nothing;
    // b: one version only; the same id in another source is another indicator.
    store
        .upsert_indicators(vec![
            version(src.id, &a, "v1.example", t1),
            version(src.id, &b, "b.example", t2),
        ])
        .await
        .expect("v1");
    store
        .upsert_indicators(vec![version(src.id, &a, "v2.example", t2)])
        .await
        .expect("v2");
    let c = store
        .upsert_indicators(vec![
            version(src.id, &a, "v3.example", t3),
            version(src.id, &a, "v0.example", "2026-02-01T00:00:00Z"),
        ])
        .await
        .expect("v3");
    assert_eq!((c.updated, c.unchanged), (1, 1));
    store
        .upsert_indicators(vec![version(src.id, &a, "v3-again.example", t3)])
        .await
        .expect("same");
    store
        .upsert_indicators(vec![version(other.id, &a, "other.example", t1)])
        .await
        .expect("other");

    let base = IndicatorVersionQuery {
        source_id: Some(src.id),
        ..IndicatorVersionQuery::default()
    };
    let q = |versions: Vec<StixVersion>| IndicatorVersionQuery {
        versions,
        ..base.clone()
    };
    // Every version, in date_added order (strictly increasing here), each once.
    let all = all_pages(&store, &q(vec![StixVersion::All]), 1).await;
    let want_all = [
        format!("[domain-name:value = 'v1.example']@{}", at(t1)),
        format!("[domain-name:value = 'b.example']@{}", at(t2)),
        format!("[domain-name:value = 'v2.example']@{}", at(t2)),
        format!("[domain-name:value = 'v3.example']@{}", at(t3)),
    ];
    assert_eq!(modifieds(&all), want_all);
    assert!(all.windows(2).all(|w| w[0].date_added < w[1].date_added));
    assert_eq!(
        all.iter().map(|v| v.latest).collect::<Vec<_>>(),
        [false, true, false, true]
    );
    assert!(all.iter().all(|v| v.source_id == src.id));
    let ids: std::collections::HashSet<_> = all
        .iter()
        .filter(|v| v.stix_id == a)
        .map(|v| v.indicator_id)
        .collect();
    assert_eq!(ids.len(), 1, "the versions of a are one indicator's");
    // The same read with a bigger page gives the same list.
    assert_eq!(all_pages(&store, &q(vec![StixVersion::All]), 3).await, all);

    // Last (the default), first, a time, and several selections at once.
    let last = all_pages(&store, &base, 10).await;
    assert_eq!(modifieds(&last), [want_all[1].clone(), want_all[3].clone()]);
    let first = all_pages(&store, &q(vec![StixVersion::First]), 10).await;
    assert_eq!(
        modifieds(&first),
        [want_all[0].clone(), want_all[1].clone()]
    );
    let at2 = all_pages(&store, &q(vec![StixVersion::At(at(t2))]), 10).await;
    assert_eq!(modifieds(&at2), [want_all[1].clone(), want_all[2].clone()]);
    let at1 = all_pages(&store, &q(vec![StixVersion::At(at(t1))]), 10).await;
    assert_eq!(
        modifieds(&at1),
        [want_all[0].clone()],
        "millisecond times compare exactly"
    );
    let first_last = all_pages(&store, &q(vec![StixVersion::First, StixVersion::Last]), 10).await;
    assert_eq!(
        modifieds(&first_last),
        [
            want_all[0].clone(),
            want_all[1].clone(),
            want_all[3].clone()
        ]
    );

    // By STIX id, across sources; added_after.
    let by_id = all_pages(
        &store,
        &IndicatorVersionQuery {
            stix_ids: vec![a.clone()],
            versions: vec![StixVersion::All],
            ..IndicatorVersionQuery::default()
        },
        10,
    )
    .await;
    assert_eq!(by_id.len(), 4, "three of src, one of the other source");
    let after = all_pages(
        &store,
        &IndicatorVersionQuery {
            added_after: Some(all[1].date_added),
            ..q(vec![StixVersion::All])
        },
        10,
    )
    .await;
    assert_eq!(after, all[2..].to_vec());

    // Revoked in Vigil: shown on the current version only.
    let current = all[3].indicator_id;
    store.revoke_indicator(current).await.expect("revoke");
    let after_revoke = all_pages(&store, &q(vec![StixVersion::All]), 10).await;
    assert!(
        after_revoke
            .iter()
            .filter(|v| v.indicator_id == current)
            .all(|v| v.revoked_at.is_some() == v.latest)
    );
    // Deleting the indicator takes its versions.
    assert!(store.delete_indicator(current).await.expect("delete"));
    let left = all_pages(&store, &q(vec![StixVersion::All]), 10).await;
    assert_eq!(modifieds(&left), [want_all[1].clone()]);
    assert!(
        store
            .list_indicator_versions(&IndicatorVersionQuery {
                cursor: Some("garbage".into()),
                ..base.clone()
            })
            .await
            .is_err()
    );
}
