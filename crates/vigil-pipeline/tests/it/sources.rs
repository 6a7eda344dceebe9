//! Sources changed while the pipeline runs: a TCP and a UDP source added at runtime receive
//! and store events, a disabled one closes its port (and its open connections) while keeping
//! its counters, a re-enabled one listens again, a removed one is gone; a bind error is the
//! source's state, not the pipeline's end; configuration sources are not changed at runtime.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_pipeline::source::SourceSpec;
use vigil_pipeline::status::{InputState, InputStatus};
use vigil_pipeline::{ListenerConfig, ListenerKind, Pipeline, PipelineError};

use super::{config, events_of, until, world};

fn spec(v: serde_json::Value) -> ListenerConfig {
    let s: SourceSpec = serde_json::from_value(v).expect("spec");
    s.resolve(&|k| k.to_string()).expect("valid source")
}

fn input(p: &Pipeline, name: &str) -> Option<InputStatus> {
    p.monitor()
        .status()
        .inputs
        .into_iter()
        .find(|i| i.name == name)
}

async fn send_tcp(addr: std::net::SocketAddr, line: &str) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{line}\n").as_bytes())
        .await
        .expect("write");
    s.shutdown().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_are_added_disabled_reenabled_and_removed_while_running() {
    let w = world(true).await;
    let p = Pipeline::start(
        config(&w, &[("cfg", ListenerKind::SyslogTcp)]),
        w.store.clone(),
    )
    .await
    .expect("start");
    let control = p.sources();
    let cfg_addr = p.local_addr("cfg").expect("cfg bound");

    // A TCP source added at runtime receives, and what it receives is stored.
    let tcp_cfg = spec(serde_json::json!({
        "name": "rt-tcp", "kind": "syslog_tcp", "listen": "127.0.0.1:0"
    }));
    let tcp_addr = control
        .apply(tcp_cfg.clone(), true)
        .await
        .expect("started")
        .expect("bound address");
    assert_eq!(p.local_addr("rt-tcp"), Some(tcp_addr));
    let i = input(&p, "rt-tcp").expect("listed");
    assert_eq!(
        (i.state, i.origin, i.kind),
        (InputState::Listening, "api", "syslog_tcp")
    );
    assert_eq!(i.endpoint, format!("tcp://{tcp_addr}"));
    send_tcp(
        tcp_addr,
        "<13>1 2026-11-21T10:00:00Z otherhost app - - - runtime tcp one",
    )
    .await;
    until("the runtime tcp event stored", async || {
        events_of(w.store.as_ref(), w.org_b)
            .await
            .iter()
            .any(|e| e.event.message().contains("runtime tcp one"))
    })
    .await;

    // And a UDP one.
    let udp_addr = control
        .apply(
            spec(serde_json::json!({
                "name": "rt-udp", "kind": "syslog_udp", "listen": "127.0.0.1:0"
            })),
            true,
        )
        .await
        .expect("udp started")
        .expect("udp bound");
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    sock.send_to(
        b"<13>1 2026-11-21T10:00:01Z otherhost app - - - runtime udp",
        udp_addr,
    )
    .await
    .expect("send");
    until("the runtime udp event stored", async || {
        input(&p, "rt-udp").is_some_and(|i| i.stored == 1)
    })
    .await;

    // Disabled: the port closes, an open connection is closed too, the counters stay.
    let mut open = tokio::net::TcpStream::connect(tcp_addr)
        .await
        .expect("connect");
    until("the open connection counted", async || {
        input(&p, "rt-tcp").is_some_and(|i| i.connections == 1)
    })
    .await;
    assert_eq!(
        control
            .apply(tcp_cfg.clone(), false)
            .await
            .expect("disabled"),
        None
    );
    let i = input(&p, "rt-tcp").expect("still listed");
    assert_eq!(i.state, InputState::Disabled);
    assert_eq!(i.received, 1, "counters kept");
    assert!(
        tokio::net::TcpStream::connect(tcp_addr).await.is_err(),
        "the port is closed"
    );
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), open.read(&mut buf))
        .await
        .expect("the connection is closed, not left hanging");
    assert!(matches!(n, Ok(0) | Err(_)), "closed: {n:?}");
    assert_eq!(p.local_addr("rt-tcp"), None);

    // Enabled again on the same port: it listens and counts on from where it was.
    let mut again = tcp_cfg.clone();
    again.listen = tcp_addr;
    assert_eq!(
        control.apply(again, true).await.expect("re-enabled"),
        Some(tcp_addr)
    );
    send_tcp(
        tcp_addr,
        "<13>1 2026-11-21T10:00:02Z otherhost app - - - runtime tcp two",
    )
    .await;
    until("the second tcp event counted", async || {
        input(&p, "rt-tcp").is_some_and(|i| i.received == 2 && i.stored == 2)
    })
    .await;
    assert_eq!(
        input(&p, "rt-udp").map(|i| i.received),
        Some(1),
        "others untouched"
    );

    // A bind error is the source's state and the answer; the pipeline runs on.
    let clash = spec(serde_json::json!({
        "name": "clash", "kind": "syslog_tcp", "listen": cfg_addr.to_string()
    }));
    let e = control
        .apply(clash, true)
        .await
        .expect_err("address in use");
    assert!(matches!(e, PipelineError::Bind { .. }), "{e}");
    let i = input(&p, "clash").expect("listed");
    assert_eq!(i.state, InputState::Failed);
    assert!(
        i.last_error
            .as_deref()
            .is_some_and(|m| m.contains("cannot bind"))
    );
    send_tcp(
        cfg_addr,
        "<13>1 2026-11-21T10:00:03Z otherhost app - - - config still runs",
    )
    .await;
    until("the config source still stores", async || {
        input(&p, "cfg").is_some_and(|i| i.stored == 1)
    })
    .await;

    // Sources of the configuration file are not changed at runtime.
    let mut cfg_change = spec(serde_json::json!({
        "name": "cfg", "kind": "syslog_udp", "listen": "127.0.0.1:0"
    }));
    cfg_change.max_frame = 1024;
    assert!(matches!(
        control.apply(cfg_change, false).await,
        Err(PipelineError::ConfigSource(_))
    ));
    assert!(matches!(
        control.remove("cfg").await,
        Err(PipelineError::ConfigSource(_))
    ));
    assert_eq!(
        input(&p, "cfg").map(|i| i.state),
        Some(InputState::Listening)
    );

    // Removed: closed and forgotten; what it received before is still stored.
    send_tcp(
        tcp_addr,
        "<13>1 2026-11-21T10:00:04Z otherhost app - - - received just before removal",
    )
    .await;
    until("the last tcp frame received", async || {
        input(&p, "rt-tcp").is_some_and(|i| i.received == 3)
    })
    .await;
    assert!(control.remove("rt-tcp").await.expect("removed"));
    assert!(control.remove("clash").await.expect("removed"));
    assert!(!control.remove("rt-tcp").await.expect("already gone"));
    assert!(input(&p, "rt-tcp").is_none());
    assert!(
        tokio::net::TcpStream::connect(tcp_addr).await.is_err(),
        "the port is closed"
    );
    until("the frame received before removal stored", async || {
        events_of(w.store.as_ref(), w.org_b)
            .await
            .iter()
            .any(|e| e.event.message().contains("just before removal"))
    })
    .await;
    let stored = events_of(w.store.as_ref(), w.org_b).await;
    assert_eq!(stored.len(), 5, "every event received was stored once");
    p.shutdown().await;
}
