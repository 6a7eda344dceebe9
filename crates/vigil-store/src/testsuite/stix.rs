//! Conformance: stored STIX objects — every version kept and identical versions stored once,
//! `latest`/first/all/at-a-time version selection, the indexed properties (type, ATT&CK id,
//! name, relationship ends), paging by a strictly increasing `date_added` with `added_after`
//! and the cursor, the source filter, and bad input refused.

use super::{S, new_source};
use crate::StoreError;
use crate::stix::{NewStixObject, StixObjectQuery, StixVersion};
use serde_json::{Value, json};
use vigil_model::Timestamp;

fn id(ty: &str) -> String {
    format!("{ty}--{}", uuid::Uuid::new_v4())
}

fn obj(v: Value, source: Option<crate::IntelSourceId>) -> NewStixObject {
    NewStixObject::from_json(v, "2.1", source).expect("valid object")
}

pub async fn stix_objects_keep_versions_dedup_relations_and_page_by_date_added(store: S) {
    let src = new_source(&store, "stix-objects").await;
    let other = new_source(&store, "stix-other").await;
    let ap = id("attack-pattern");
    let mal = id("malware");
    let set = id("intrusion-set");
    let rel_uses = id("relationship");
    let rel_ap = id("relationship");
    let tag = crate::testsuite::uniq();
    let technique = format!("T9{}", &tag[..3].to_uppercase());
    let ap_v1 = json!({
        "type": "attack-pattern", "spec_version": "2.1", "id": ap,
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "name": format!("Command Interpreter {tag}"),
        "external_references": [{"source_name": "mitre-attack", "external_id": technique}],
    });
    let mut ap_v2 = ap_v1.clone();
    ap_v2["modified"] = json!("2021-06-01T12:30:00.123Z");
    ap_v2["description"] = json!("second version");
    let first = store
        .put_stix_objects(vec![
            obj(ap_v1.clone(), Some(src.id)),
            obj(
                json!({"type": "malware", "spec_version": "2.1", "id": mal, "is_family": true,
                       "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
                       "name": format!("Evil {tag}")}),
                Some(src.id),
            ),
            obj(
                json!({"type": "intrusion-set", "id": set, "created": "2020-01-01T00:00:00Z",
                       "modified": "2020-01-01T00:00:00Z", "name": format!("APT {tag}")}),
                Some(other.id),
            ),
            obj(
                json!({"type": "relationship", "spec_version": "2.1", "id": rel_uses,
                       "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
                       "relationship_type": "uses", "source_ref": set, "target_ref": mal}),
                Some(src.id),
            ),
            obj(
                json!({"type": "relationship", "spec_version": "2.1", "id": rel_ap,
                       "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
                       "relationship_type": "uses", "source_ref": mal, "target_ref": ap}),
                Some(src.id),
            ),
        ])
        .await
        .expect("put");
    assert_eq!(first.inserted, 5);
    assert_eq!(first.new_versions, 0);
    assert_eq!(first.unchanged, 0);
    assert_eq!(first.by_type.get("relationship"), Some(&2));

    // The same version again (even in the same batch twice) is stored once; a new one is added.
    let second = store
        .put_stix_objects(vec![
            obj(ap_v1.clone(), Some(other.id)),
            obj(ap_v2.clone(), Some(src.id)),
            obj(ap_v2.clone(), Some(src.id)),
        ])
        .await
        .expect("put again");
    assert_eq!(
        (second.inserted, second.new_versions, second.unchanged),
        (0, 1, 2)
    );

    let all = store
        .list_stix_objects(&StixObjectQuery {
            ids: vec![ap.clone()],
            version: StixVersion::All,
            ..Default::default()
        })
        .await
        .expect("versions");
    assert_eq!(all.items.len(), 2);
    assert!(all.items[0].date_added < all.items[1].date_added);
    assert!(!all.items[0].latest && all.items[1].latest);
    assert_eq!(all.items[0].spec.source_id, Some(src.id), "first copy kept");
    assert_eq!(all.items[1].spec.object["description"], "second version");
    let v2_time: Timestamp = "2021-06-01T12:30:00.123Z".parse().expect("time");
    assert_eq!(all.items[1].spec.modified, v2_time);

    let pick = |v: StixVersion| {
        let store = store.clone();
        let ap = ap.clone();
        async move {
            store
                .list_stix_objects(&StixObjectQuery {
                    ids: vec![ap],
                    version: v,
                    ..Default::default()
                })
                .await
                .expect("pick")
                .items
                .iter()
                .map(|o| o.spec.modified)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(pick(StixVersion::Last).await, vec![v2_time]);
    let v1_time: Timestamp = "2020-01-01T00:00:00Z".parse().expect("time");
    assert_eq!(pick(StixVersion::First).await, vec![v1_time]);
    assert_eq!(pick(StixVersion::At(v1_time)).await, vec![v1_time]);
    assert!(
        pick(StixVersion::At("2019-01-01T00:00:00Z".parse().expect("t")))
            .await
            .is_empty()
    );

    // Indexed lookups: ATT&CK id, name substring (case-insensitive), type.
    let by_attack = store
        .list_stix_objects(&StixObjectQuery {
            attack_id: Some(technique.clone()),
            ..Default::default()
        })
        .await
        .expect("attack id");
    assert_eq!(by_attack.items.len(), 1);
    assert_eq!(by_attack.items[0].spec.stix_id, ap);
    let by_text = store
        .list_stix_objects(&StixObjectQuery {
            text: Some(format!("EVIL {}", tag.to_uppercase())),
            ..Default::default()
        })
        .await
        .expect("text");
    assert_eq!(by_text.items.len(), 1);
    assert_eq!(by_text.items[0].spec.stix_id, mal);
    let by_text_id = store
        .list_stix_objects(&StixObjectQuery {
            text: Some(technique.to_lowercase()),
            ..Default::default()
        })
        .await
        .expect("text as attack id");
    assert_eq!(by_text_id.items.len(), 1);
    let sets = store
        .list_stix_objects(&StixObjectQuery {
            types: vec!["intrusion-set".into()],
            text: Some(tag.clone()),
            ..Default::default()
        })
        .await
        .expect("types");
    assert_eq!(sets.items.len(), 1);
    assert_eq!(sets.items[0].spec.spec_version, "2.1");

    // Relationships both ways.
    let rel_ids = |q: StixObjectQuery| {
        let store = store.clone();
        async move {
            let mut v: Vec<String> = store
                .list_stix_objects(&q)
                .await
                .expect("relations")
                .items
                .into_iter()
                .map(|o| o.spec.stix_id)
                .collect();
            v.sort();
            v
        }
    };
    let mut both = vec![rel_uses.clone(), rel_ap.clone()];
    both.sort();
    assert_eq!(
        rel_ids(StixObjectQuery {
            touching: Some(mal.clone()),
            ..Default::default()
        })
        .await,
        both
    );
    assert_eq!(
        rel_ids(StixObjectQuery {
            source_ref: Some(mal.clone()),
            ..Default::default()
        })
        .await,
        vec![rel_ap.clone()]
    );
    assert_eq!(
        rel_ids(StixObjectQuery {
            target_ref: Some(mal.clone()),
            relationship_type: Some("uses".into()),
            ..Default::default()
        })
        .await,
        vec![rel_uses.clone()]
    );

    // Paging by date_added: pages of 2 over the source's versions, then added_after.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let p = store
            .list_stix_objects(&StixObjectQuery {
                source_id: Some(src.id),
                version: StixVersion::All,
                limit: 2,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        assert!(p.items.len() <= 2);
        seen.extend(p.items);
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5, "4 first versions of src and ap v2");
    assert!(seen.windows(2).all(|w| w[0].date_added < w[1].date_added));
    let after = store
        .list_stix_objects(&StixObjectQuery {
            source_id: Some(src.id),
            version: StixVersion::All,
            added_after: Some(seen[2].date_added),
            ..Default::default()
        })
        .await
        .expect("added_after");
    assert_eq!(after.items.len(), 2);
    assert_eq!(after.items[0].date_added, seen[3].date_added);

    // Spec version filter: a 2.0 object.
    let old = id("campaign");
    store
        .put_stix_objects(vec![
            NewStixObject::from_json(
                json!({"type": "campaign", "id": old, "created": "2017-01-01T00:00:00Z",
                       "modified": "2017-01-01T00:00:00Z", "name": format!("C {tag}")}),
                "2.0",
                None,
            )
            .expect("2.0 object"),
        ])
        .await
        .expect("put 2.0");
    let twenty = store
        .list_stix_objects(&StixObjectQuery {
            text: Some(tag.clone()),
            spec_versions: vec!["2.0".into()],
            ..Default::default()
        })
        .await
        .expect("2.0");
    assert_eq!(twenty.items.len(), 1);
    assert_eq!(twenty.items[0].spec.stix_id, old);
    assert_eq!(twenty.items[0].spec.source_id, None);

    // Bad input: id of another type, missing source.
    assert!(NewStixObject::from_json(json!({"type": "malware", "id": ap}), "2.1", None).is_err());
    assert!(
        NewStixObject::from_json(json!({"type": "malware", "id": "malware--x"}), "2.1", None)
            .is_err()
    );
    let huge = "x".repeat(crate::stix::MAX_OBJECT_BYTES);
    assert!(
        NewStixObject::from_json(
            json!({"type": "note", "id": id("note"), "content": huge}),
            "2.1",
            None
        )
        .is_err(),
        "objects over the size limit are refused by id before the store"
    );
    let missing = store
        .put_stix_objects(vec![obj(
            json!({"type": "tool", "id": id("tool"), "name": "x",
                   "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z"}),
            Some(crate::IntelSourceId::new()),
        )])
        .await;
    assert!(matches!(missing, Err(StoreError::MissingReference(_))));
    assert!(matches!(
        store
            .list_stix_objects(&StixObjectQuery {
                cursor: Some("garbage!".into()),
                ..Default::default()
            })
            .await,
        Err(StoreError::BadCursor(_))
    ));
}
