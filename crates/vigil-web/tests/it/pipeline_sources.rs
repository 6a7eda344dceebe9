//! `/api/v1/pipeline/sources` against a running pipeline: administrators define sources that
//! start at once and receive; analysts and organization users may not change them; settings
//! are validated with the field named; configuration sources are read-only (409); the MQTT
//! password never comes back; bind errors are in the answer and the state; changes are
//! audited; stored sources start again with the next pipeline.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use vigil_pipeline::{ListenerConfig, ListenerKind, Pipeline, PipelineConfig};

async fn pipeline(app: &TestApp, data: &std::path::Path) -> Pipeline {
    let mut c = PipelineConfig::new(data);
    c.default_org = Some(app.a.id);
    c.directory_refresh = Duration::from_secs(3600);
    c.spool_segment_bytes = 64 * 1024;
    c.spool_max_bytes = 16 << 20;
    c.listeners.push(ListenerConfig::new(
        "cfg",
        ListenerKind::SyslogTcp,
        "127.0.0.1:0".parse().expect("addr"),
    ));
    Pipeline::start(c, app.store.clone())
        .await
        .expect("pipeline")
}

fn item<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["items"].as_array()?.iter().find(|i| i["name"] == name)
}

async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_define_sources_that_run_at_once_and_survive_a_restart() {
    let app = TestApp::new().await;
    let data = tempfile::tempdir().expect("tmp");
    let p = pipeline(&app, data.path()).await;
    app.state.set_pipeline(p.monitor());
    let cfg_addr = p.local_addr("cfg").expect("cfg bound");
    let base = "/api/v1/pipeline/sources";

    // Created by an administrator: stored, listening, receiving.
    let (s, v) = app
        .json(
            "POST",
            base,
            &app.admin,
            json!({ "name": "rt", "kind": "syslog_tcp", "listen": "127.0.0.1:0", "max_connections": 8 }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["origin"], "api");
    assert_eq!(v["state"], "listening");
    assert_eq!(v["start_error"], Value::Null);
    assert_eq!(v["settings"]["max_connections"], 8);
    let addr = p.local_addr("rt").expect("bound");
    let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"<13>1 2026-11-21T10:00:00Z host app - - - from the api source\n")
        .await
        .expect("write");
    c.shutdown().await.expect("close");
    until("the event counted on the source", async || {
        let (_, v) = app.get(&format!("{base}/rt"), &app.analyst).await;
        v["received"] == 1 && v["stored"] == 1
    })
    .await;

    // Who may: analysts read but do not write, organization users do neither.
    let (s, list) = app.get(base, &app.analyst).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        item(&list, "cfg").expect("config listed")["origin"],
        "config"
    );
    assert_eq!(item(&list, "rt").expect("api listed")["origin"], "api");
    let body = json!({ "name": "nope", "kind": "syslog_udp", "listen": "127.0.0.1:0" });
    for secret in [&app.analyst, &app.auditor, &app.officer] {
        let (s, _) = app.json("POST", base, secret, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app
            .json(
                "PATCH",
                &format!("{base}/rt"),
                secret,
                json!({ "enabled": false }),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app
            .call("DELETE", &format!("{base}/rt"), Some(secret), None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = app.get(base, &app.officer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .get_pipeline_source("nope")
            .await
            .expect("get")
            .is_none()
    );

    // Validation names the field.
    for (body, field) in [
        (
            json!({ "name": "v", "kind": "syslog_tcp", "listen": "nowhere" }),
            "listen",
        ),
        (
            json!({ "name": "v", "kind": "syslog_tcp", "listen": "127.0.0.1:0", "max_connections": "many" }),
            "max_connections",
        ),
        (
            json!({ "name": "v", "kind": "syslog_tcp", "listen": "127.0.0.1:0", "colour": "red" }),
            "colour",
        ),
        (
            json!({ "name": "v", "kind": "syslog_tcp", "listen": "127.0.0.1:0", "topics": ["a"] }),
            "topics",
        ),
        (json!({ "name": "v", "kind": "carrier_pigeon" }), "kind"),
        (
            json!({ "kind": "syslog_udp", "listen": "127.0.0.1:0" }),
            "name",
        ),
        (
            json!({ "name": "v", "kind": "mqtt", "url": "mqtt://h", "topics": [] }),
            "topics",
        ),
        (
            json!({ "name": "v", "kind": "syslog_udp", "listen": "127.0.0.1:0", "enabled": "yes" }),
            "enabled",
        ),
    ] {
        let (s, v) = app.json("POST", base, &app.admin, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["details"]["field"], field, "{body}: {v}");
    }

    // The configuration's sources are read-only here.
    for (method, path, body) in [
        (
            "POST",
            base.to_string(),
            json!({ "name": "cfg", "kind": "syslog_udp", "listen": "127.0.0.1:0" }),
        ),
        (
            "PUT",
            format!("{base}/cfg"),
            json!({ "kind": "syslog_udp", "listen": "127.0.0.1:0" }),
        ),
        ("PATCH", format!("{base}/cfg"), json!({ "enabled": false })),
    ] {
        let (s, v) = app.json(method, &path, &app.admin, body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{method} {v}");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("configuration file")),
            "{v}"
        );
    }
    let (s, _) = app
        .call("DELETE", &format!("{base}/cfg"), Some(&app.admin), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .call("DELETE", &format!("{base}/none"), Some(&app.admin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Disabled: the port closes and the counters stay; enabled again: it listens.
    let (s, v) = app
        .json(
            "PATCH",
            &format!("{base}/rt"),
            &app.admin,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["enabled"].as_bool()),
        (Some("disabled"), Some(false))
    );
    assert_eq!(v["received"], 1);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed"
    );
    let (s, v) = app
        .json(
            "PATCH",
            &format!("{base}/rt"),
            &app.admin,
            json!({ "enabled": true, "listen": addr.to_string() }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "listening");
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("listening again");

    // A bind error: kept, shown failed, in the answer; the pipeline runs on.
    let (s, v) = app
        .json(
            "POST",
            base,
            &app.admin,
            json!({ "name": "clash", "kind": "syslog_tcp", "listen": cfg_addr.to_string() }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "failed");
    assert!(
        v["start_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot bind")),
        "{v}"
    );
    assert!(
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot bind")),
        "{v}"
    );

    // The MQTT password is write-only, kept across changes, never answered.
    let (s, v) = app
        .json(
            "POST",
            base,
            &app.admin,
            json!({ "name": "plant", "kind": "mqtt", "url": "mqtt://vigil:s3cret-pw@127.0.0.1:1",
                    "topics": ["site/#"], "enabled": false }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["password_set"], true);
    assert_eq!(v["settings"]["url"], "mqtt://vigil@127.0.0.1:1");
    let (_, v2) = app
        .json(
            "PATCH",
            &format!("{base}/plant"),
            &app.admin,
            json!({ "topics": ["site/a/#"] }),
        )
        .await;
    assert_eq!(v2["password_set"], true, "{v2}");
    let (_, all) = app.get(base, &app.admin).await;
    for text in [v.to_string(), v2.to_string(), all.to_string()] {
        assert!(!text.contains("s3cret-pw"), "{text}");
    }
    let (s, v3) = app
        .json(
            "PATCH",
            &format!("{base}/plant"),
            &app.admin,
            json!({ "url": "mqtt://vigil:n3w-pw@127.0.0.1:1" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v3}");
    assert!(!v3.to_string().contains("n3w-pw"), "{v3}");
    let stored = app
        .store
        .get_pipeline_source("plant")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        stored.settings["password"], "n3w-pw",
        "the URL's new password replaces it"
    );
    assert_eq!(stored.settings["url"], "mqtt://vigil@127.0.0.1:1");
    let (_, _) = app
        .json(
            "PATCH",
            &format!("{base}/plant"),
            &app.admin,
            json!({ "password": "s3cret-pw" }),
        )
        .await;
    let stored = app
        .store
        .get_pipeline_source("plant")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.settings["password"], "s3cret-pw");

    // Audited, without the secret.
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery {
            action_prefix: Some("pipeline.source.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.record.action.as_str()).collect();
    assert!(actions.contains(&"pipeline.source.create"), "{actions:?}");
    assert!(actions.contains(&"pipeline.source.update"), "{actions:?}");
    assert!(audit.iter().all(|a| !a.record.detail.contains("s3cret-pw")));

    // Restart: the stored sources start again with the next pipeline.
    p.shutdown().await;
    let p2 = pipeline(&app, data.path()).await;
    let st = p2.monitor().status();
    let rt = st
        .inputs
        .iter()
        .find(|i| i.name == "rt")
        .expect("rt started again");
    assert_eq!(
        (rt.origin, rt.state),
        ("api", vigil_pipeline::status::InputState::Listening)
    );
    let plant = st
        .inputs
        .iter()
        .find(|i| i.name == "plant")
        .expect("plant shown");
    assert_eq!(plant.state, vigil_pipeline::status::InputState::Disabled);
    assert!(p2.local_addr("rt").is_some());

    // Deleted: gone from the store (the application still holds the first pipeline's handle).
    let (s, _) = app
        .call("DELETE", &format!("{base}/clash"), Some(&app.admin), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("{base}/clash"), &app.admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery {
            action_prefix: Some("pipeline.source.delete".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].record.object, "pipeline-source/clash");
    p2.shutdown().await;
}
