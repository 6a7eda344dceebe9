//! Conformance: pipeline sources defined at runtime — stored with their settings JSON,
//! replaced by name keeping their creator and creation time, listed by name, deleted, and
//! refused when the name or settings break the store's rules.

use super::{S, at, uniq};
use crate::{PipelineSource, SourceOrigin, StoreError};

fn source(name: &str, port: u16, enabled: bool, by: &str, t: &str) -> PipelineSource {
    PipelineSource {
        name: name.to_string(),
        kind: "syslog_tcp".into(),
        settings: serde_json::json!({ "listen": format!("127.0.0.1:{port}"), "max_connections": 10 }),
        enabled,
        origin: SourceOrigin::Api,
        created_by: by.to_string(),
        created_at: at(t),
        updated_by: by.to_string(),
        updated_at: at(t),
    }
}

pub async fn pipeline_sources_put_list_and_delete(store: S) {
    let u = uniq();
    let (a, b) = (format!("src-a-{u}"), format!("src-b-{u}"));
    assert_eq!(store.get_pipeline_source(&a).await.unwrap(), None);

    let s = store
        .put_pipeline_source(source(
            &a,
            6514,
            true,
            "alice",
            "2026-03-01T10:00:00.123456Z",
        ))
        .await
        .unwrap();
    assert_eq!(s.settings["listen"], "127.0.0.1:6514");
    assert!(s.enabled);
    assert_eq!(s.origin, SourceOrigin::Api);
    assert_eq!(s.created_at, at("2026-03-01T10:00:00.123456Z"));
    store
        .put_pipeline_source(source(&b, 6515, false, "bob", "2026-03-01T11:00:00Z"))
        .await
        .unwrap();

    // Replaced by name: new settings and state, the creator and creation time kept.
    let mut changed = source(&a, 7514, false, "carol", "2026-03-02T09:00:00Z");
    changed.kind = "syslog_udp".into();
    let s = store.put_pipeline_source(changed).await.unwrap();
    assert_eq!(s.kind, "syslog_udp");
    assert_eq!(s.settings["listen"], "127.0.0.1:7514");
    assert!(!s.enabled);
    assert_eq!(
        (s.created_by.as_str(), s.updated_by.as_str()),
        ("alice", "carol")
    );
    assert_eq!(s.created_at, at("2026-03-01T10:00:00.123456Z"));
    assert_eq!(s.updated_at, at("2026-03-02T09:00:00Z"));
    assert_eq!(store.get_pipeline_source(&a).await.unwrap(), Some(s));

    let names: Vec<String> = store
        .list_pipeline_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.ends_with(&u))
        .collect();
    assert_eq!(names, [a.clone(), b.clone()], "by name");

    assert!(store.delete_pipeline_source(&a).await.unwrap());
    assert!(
        !store.delete_pipeline_source(&a).await.unwrap(),
        "already gone"
    );
    assert_eq!(store.get_pipeline_source(&a).await.unwrap(), None);
    assert!(store.get_pipeline_source(&b).await.unwrap().is_some());

    for (bad, field) in [
        (source("", 1, true, "x", "2026-03-01T10:00:00Z"), "name"),
        (
            PipelineSource {
                settings: serde_json::json!(["not", "an", "object"]),
                ..source(&format!("src-c-{u}"), 1, true, "x", "2026-03-01T10:00:00Z")
            },
            "settings",
        ),
    ] {
        match store.put_pipeline_source(bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
}
