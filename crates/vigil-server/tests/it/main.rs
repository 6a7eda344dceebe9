//! `serve` with the ingestion pipeline configured: a syslog datagram sent to the configured
//! listener ends up stored in the organization that owns the sender's address, and the
//! pipeline's sources, counters and dead letters are shown by the API.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_model::{ApiToken, AssetKind, Importance, NewAsset, Organization, Role, Scope, TokenId};
use vigil_server::config::{Config, RawConfig};
use vigil_store::{EventQuery, Store};
use vigil_testkit::fixtures::{asset_spec, org_spec};

/// A running `serve` with one UDP syslog listener and an organization owning 127.0.0.0/8.
struct Served {
    store: Arc<dyn Store>,
    org: Organization,
    /// The UDP listener's port.
    port: u16,
    /// The HTTP address.
    http: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start(listener_extra: &str) -> Served {
        let dir = tempfile::tempdir().expect("tmp");
        // A free UDP port for the listener (the pipeline reports bound addresses only to its
        // owner, and `serve` owns it here).
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("free port")
            .port();
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[store]\ndata_dir = \"{}\"\n[pipeline]\nenabled = true\n\
             [[pipeline.listeners]]\nname = \"udp\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:{port}\"\n{listener_extra}",
            dir.path().display()
        );
        let raw = RawConfig::from_toml(&toml).expect("toml");
        let cfg = Config::resolve(raw, &|_| None).expect("config");
        let store = vigil_server::open_store(&cfg.store, &cfg.field_key_file)
            .await
            .expect("store");
        let org = store.create_org(org_spec("Org")).await.expect("org");
        store
            .create_assets(
                Scope::All,
                vec![NewAsset {
                    kind: AssetKind::IpRange,
                    importance: Importance::Low,
                    cidrs: vec!["127.0.0.0/8".parse().expect("cidr")],
                    ..asset_spec(org.id, "loopback")
                }],
            )
            .await
            .expect("asset");

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (up, is_up) = tokio::sync::oneshot::channel();
        let server = {
            let store: Arc<dyn Store> = store.clone();
            tokio::spawn(async move {
                vigil_server::serve_until(
                    &cfg,
                    store,
                    None,
                    move |addr| {
                        let _ = up.send(addr);
                    },
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await
            })
        };
        let http = is_up.await.expect("listening");
        Served {
            store,
            org,
            port,
            http,
            stop,
            server,
            _dir: dir,
        }
    }

    /// Sends `line` until an event with `message` is stored in the organization.
    async fn send_until_stored(&self, line: &[u8], message: &str) {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            udp.send_to(line, ("127.0.0.1", self.port))
                .await
                .expect("send");
            let found = self
                .store
                .search_events(
                    Scope::Org(self.org.id),
                    &EventQuery {
                        limit: 10,
                        ..EventQuery::default()
                    },
                )
                .await
                .expect("search")
                .items;
            if let Some(e) = found.iter().find(|e| e.event.message() == message) {
                assert_eq!(e.event.provenance.input, "udp");
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no event stored");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A bearer token of `role` (organization users belong to the test organization).
    async fn token(&self, role: Role) -> String {
        let secret = vigil_crypto::new_secret("vgl_");
        let token = ApiToken {
            id: TokenId::new(),
            name: format!("test-{}", role.as_str()),
            role,
            org_id: (role == Role::OrgUser).then_some(self.org.id),
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        self.store
            .create_token(token, vigil_crypto::secret_hash(&secret))
            .await
            .expect("token");
        secret
    }

    /// GET over a raw HTTP/1.1 connection: (status, body).
    async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let mut s = tokio::net::TcpStream::connect(self.http)
            .await
            .expect("connect");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        let text = String::from_utf8_lossy(&buf);
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status line");
        let (_, body) = text.split_once("\r\n\r\n").expect("head and body");
        // Bodies of these endpoints are small JSON documents, sent whole or chunked once.
        let json = body
            .find('{')
            .and_then(|a| body.rfind('}').map(|b| &body[a..=b]))
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.expect("join").expect("serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_configured_pipeline() {
    let s = Served::start("").await;
    s.send_until_stored(
        b"<13>1 2026-11-21T10:00:00Z somehost app - - - through serve",
        "through serve",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_sources_counters_and_searchable_dead_letters() {
    let s = Served::start("max_frame_bytes = 256\n").await;
    s.send_until_stored(
        b"<13>1 2026-11-21T10:00:00Z somehost app - - - counted",
        "counted",
    )
    .await;
    // Longer than the listener's 256-byte frames: a dead letter with its head kept.
    let big = format!(
        "<13>1 2026-11-21T10:00:01Z somehost app - - - oversized {}",
        "x".repeat(400)
    );
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    udp.send_to(big.as_bytes(), ("127.0.0.1", s.port))
        .await
        .expect("send");

    let analyst = s.token(Role::Analyst).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let (code, body) = s
            .get(
                "/api/v1/pipeline/dead-letters?reason=oversized&q=OVERSIZED",
                &analyst,
            )
            .await;
        assert_eq!(code, 200, "{body}");
        if body["matched"].as_u64() == Some(1) {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let d = &letters["items"][0];
    assert_eq!(d["input"], "udp");
    assert_eq!(d["reason"], "oversized");
    assert!(
        d["raw_text"]
            .as_str()
            .is_some_and(|r| r.contains("oversized xxx")),
        "{d}"
    );
    assert!(
        d["sender"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:"))
    );
    // Filters that exclude it.
    let (_, none) = s
        .get("/api/v1/pipeline/dead-letters?reason=parse", &analyst)
        .await;
    assert_eq!(none["matched"], 0, "{none}");
    let (code, bad) = s
        .get("/api/v1/pipeline/dead-letters?reason=nonsense", &analyst)
        .await;
    assert_eq!(code, 422, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .is_some_and(|m| m.contains("nonsense")),
        "{bad}"
    );

    let (code, st) = s.get("/api/v1/pipeline", &analyst).await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["enabled"], true);
    let src = &st["inputs"][0];
    assert_eq!(src["name"], "udp");
    assert_eq!(src["kind"], "syslog_udp");
    assert_eq!(src["state"], "listening");
    assert_eq!(src["endpoint"], format!("udp://127.0.0.1:{}", s.port));
    assert!(src["stored"].as_u64().is_some_and(|n| n >= 1), "{src}");
    assert!(src["received"].as_u64() >= src["stored"].as_u64(), "{src}");
    assert_eq!(src["frame_errors"], 1, "{src}");
    assert_eq!(src["dead_letters"], 1, "{src}");
    assert!(src["last_received_at"].is_string(), "{src}");
    assert_eq!(st["totals"]["dead_letters"], 1);
    assert!(st["spool"]["max_bytes"].as_u64().is_some_and(|m| m > 0));

    // Organization users and auditors do not see the platform's intake.
    for role in [Role::OrgUser, Role::Auditor] {
        let t = s.token(role).await;
        let (code, _) = s.get("/api/v1/pipeline", &t).await;
        assert_eq!(code, 403, "{role:?}");
        let (code, _) = s.get("/api/v1/pipeline/dead-letters", &t).await;
        assert_eq!(code, 403, "{role:?}");
    }
    s.stop().await;
}
