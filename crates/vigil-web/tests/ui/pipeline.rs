//! The /pipeline page's source administration: an administrator defines a source with the
//! form (it starts at once), edits it, disables and deletes it with the row buttons; invalid
//! settings come back naming the field; the configuration's sources are read-only; the MQTT
//! password is never rendered; analysts see the sources but neither the form nor the buttons
//! and may not post.

use super::*;
use std::time::Duration;
use vigil_pipeline::{ListenerConfig, ListenerKind, Pipeline, PipelineConfig};

async fn running(app: &App, data: &std::path::Path) -> Pipeline {
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
    let p = Pipeline::start(c, app.store.clone())
        .await
        .expect("pipeline");
    app.state.set_pipeline(p.monitor());
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_sources_with_the_pipeline_form() {
    let app = app().await;
    let data = tempfile::tempdir().expect("tmp");
    let p = running(&app, data.path()).await;
    let admin = login(&app, "admin").await;

    let page = get(&app, "/pipeline", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"source-form\""), "form shown");
    assert!(
        page.body.contains("配置文件"),
        "config origin shown (zh-CN)"
    );
    assert!(page.body.contains("只读"), "config source read-only");
    let token = csrf_of(&page.body);

    // Created with the form: stored and listening at once.
    let r = post_form(
        &app,
        "/pipeline/sources",
        Some(&admin),
        &[
            ("csrf", &token),
            ("name", "ui-tcp"),
            ("kind", "syslog_tcp"),
            ("listen", "127.0.0.1:0"),
            ("max_connections", "16"),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app
        .store
        .get_pipeline_source("ui-tcp")
        .await
        .expect("get")
        .expect("stored");
    assert!(stored.enabled);
    assert_eq!(stored.created_by, "user:admin");
    assert_eq!(stored.settings["max_connections"], 16);
    let addr = p.local_addr("ui-tcp").expect("listening");
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("accepting");
    let page = get(&app, "/pipeline", Some(&admin)).await;
    assert!(page.body.contains("data-source=\"ui-tcp\""));
    assert!(page.body.contains("/pipeline/sources/ui-tcp/delete"));

    // Invalid settings come back naming the field; nothing is stored.
    let r = post_form(
        &app,
        "/pipeline/sources",
        Some(&admin),
        &[
            ("csrf", &token),
            ("name", "ui-bad"),
            ("kind", "syslog_udp"),
            ("listen", "nowhere"),
            ("max_frame_bytes", "lots"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("max_frame_bytes"), "{}", r.body);
    assert!(
        app.store
            .get_pipeline_source("ui-bad")
            .await
            .expect("get")
            .is_none()
    );
    // A source of the configuration file cannot be taken over by the form.
    let r = post_form(
        &app,
        "/pipeline/sources",
        Some(&admin),
        &[
            ("csrf", &token),
            ("name", "cfg"),
            ("kind", "syslog_udp"),
            ("listen", "127.0.0.1:0"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // Edit: the form is filled in; saving under the same name changes the source.
    let page = get(&app, "/pipeline?edit=ui-tcp", Some(&admin)).await;
    assert!(page.body.contains("value=\"ui-tcp\""));
    assert!(page.body.contains("value=\"16\""));
    let port = addr.to_string();
    let r = post_form(
        &app,
        "/pipeline/sources",
        Some(&admin),
        &[
            ("csrf", &token),
            ("name", "ui-tcp"),
            ("kind", "syslog_tcp"),
            ("listen", &port),
            ("max_connections", ""),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app
        .store
        .get_pipeline_source("ui-tcp")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.settings.get("max_connections"), None, "cleared");
    assert_eq!(p.local_addr("ui-tcp"), Some(addr));

    // Disabled with the row button: port closed, shown disabled.
    let r = post_form(
        &app,
        "/pipeline/sources/ui-tcp/state",
        Some(&admin),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed"
    );
    let page = get(&app, "/pipeline", Some(&admin)).await;
    assert!(page.body.contains("已禁用"), "disabled state shown");
    assert!(page.body.contains("source-enable"));
    let r = post_form(
        &app,
        "/pipeline/sources/ui-tcp/state",
        Some(&admin),
        &[("csrf", &token), ("enabled", "on")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("listening again");

    // The MQTT password typed in the form is kept but never rendered.
    let r = post_form(
        &app,
        "/pipeline/sources",
        Some(&admin),
        &[
            ("csrf", &token),
            ("name", "ui-mqtt"),
            ("kind", "mqtt"),
            ("url", "mqtt://vigil@127.0.0.1:1"),
            ("password", "form-s3cret"),
            ("topics", "site/#, plant/+/alarm"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app
        .store
        .get_pipeline_source("ui-mqtt")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.settings["password"], "form-s3cret");
    assert!(!stored.enabled, "unchecked box: disabled");
    for path in ["/pipeline", "/pipeline?edit=ui-mqtt"] {
        let page = get(&app, path, Some(&admin)).await;
        assert!(!page.body.contains("form-s3cret"), "{path}");
    }

    // Analysts see the sources, not the form, and may not post.
    let analyst = login(&app, "analyst").await;
    let page = get(&app, "/pipeline", Some(&analyst)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-source=\"ui-tcp\""));
    assert!(!page.body.contains("id=\"source-form\""));
    assert!(!page.body.contains("source-delete"));
    let their = csrf_of(&page.body);
    let r = post_form(
        &app,
        "/pipeline/sources/ui-tcp/delete",
        Some(&analyst),
        &[("csrf", &their)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .get_pipeline_source("ui-tcp")
            .await
            .expect("get")
            .is_some()
    );

    // Deleted with the row button.
    let r = post_form(
        &app,
        "/pipeline/sources/ui-tcp/delete",
        Some(&admin),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        app.store
            .get_pipeline_source("ui-tcp")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed"
    );
    let page = get(&app, "/pipeline", Some(&admin)).await;
    assert!(!page.body.contains("data-source=\"ui-tcp\""));
    p.shutdown().await;
}

/// The dead-letter section reads the store: reason, source, sender, time and the raw bytes
/// (escaped text, or hex when they are not UTF-8), the filter form and a next-page link; the
/// HTTP bulk API is a read-only source row of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_from_the_store_escaped_filtered_and_paged() {
    let app = app().await;
    let data = tempfile::tempdir().expect("tmp");
    let p = running(&app, data.path()).await;
    // Recent times: the running pipeline's writer prunes dead letters older than 30 days.
    let base = vigil_model::Timestamp::now().as_second() - 3_600;
    let letter = |i: i64, reason, raw: &[u8]| vigil_store::NewDeadLetter {
        received_at: vigil_model::Timestamp::from_second(base + i).expect("t"),
        source: "ui-dl".into(),
        sender: Some(format!("192.0.2.{i}:514")),
        reason,
        detail: format!("problem {i}"),
        raw: raw.to_vec(),
        org_id: None,
    };
    let mut batch = vec![
        letter(
            1,
            vigil_store::DeadLetterReason::Parse,
            b"<script>alert(1)</script>",
        ),
        letter(
            2,
            vigil_store::DeadLetterReason::Oversized,
            b"\xff\x00\x01bin",
        ),
    ];
    batch.extend((3..60).map(|i| letter(i, vigil_store::DeadLetterReason::Parse, b"filler")));
    app.store.append_dead_letters(batch).await.expect("append");
    let admin = login(&app, "admin").await;

    let page = get(&app, "/pipeline?reason=oversized", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"dead-letter-search\""));
    assert!(page.body.contains("name=\"since\""), "time filter");
    assert!(page.body.contains("ff000162696e"), "hex of non-UTF-8 bytes");
    assert!(page.body.contains("192.0.2.2:514"));
    assert!(!page.body.contains("problem 1<"), "filtered by reason");
    // The HTTP bulk API's row, without buttons.
    assert!(page.body.contains("data-source=\"api\""));
    assert!(page.body.contains("POST /api/v1/events"));
    assert!(!page.body.contains("/pipeline/sources/api/delete"));

    let page = get(&app, "/pipeline?q=script", Some(&admin)).await;
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || page
                .body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "raw text escaped: {}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));

    // 59 letters, 50 a page: a link to the older ones, which carries the filters.
    let page = get(&app, "/pipeline?input=ui-dl", Some(&admin)).await;
    assert!(
        page.body.contains("id=\"dead-letter-next\""),
        "next page link"
    );
    let href = page
        .body
        .split("href=\"/pipeline?")
        .find(|s| s.contains("cursor="))
        .and_then(|s| s.split('"').next())
        .expect("next href")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#61;", "=")
        .replace("&#43;", "+")
        .replace("&#47;", "/");
    assert!(href.contains("input=ui-dl"), "{href}");
    let next = get(&app, &format!("/pipeline?{href}"), Some(&admin)).await;
    assert_eq!(next.status, StatusCode::OK);
    assert!(
        next.body.contains("problem 1<"),
        "the oldest on the second page ({href}): {}",
        next.body
    );
    assert!(!next.body.contains("id=\"dead-letter-next\""));
    p.shutdown().await;
}
