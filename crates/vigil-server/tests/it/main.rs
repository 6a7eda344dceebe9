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
        Served::start_with("", listener_extra).await
    }

    /// `pipeline_extra` goes into `[pipeline]`, `listener_extra` into the UDP listener.
    async fn start_with(pipeline_extra: &str, listener_extra: &str) -> Served {
        let dir = tempfile::tempdir().expect("tmp");
        // A free UDP port for the listener (the pipeline reports bound addresses only to its
        // owner, and `serve` owns it here).
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("free port")
            .port();
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[store]\ndata_dir = \"{}\"\n[pipeline]\nenabled = true\n{pipeline_extra}\
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
        self.request("GET", path, token, "").await.0
    }

    /// POST over a raw HTTP/1.1 connection: (status, body).
    async fn post(&self, path: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
        self.request("POST", path, token, body).await.0
    }

    /// A request over a raw HTTP/1.1 connection: ((status, JSON body), raw head).
    async fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> ((u16, serde_json::Value), String) {
        let mut s = tokio::net::TcpStream::connect(self.http)
            .await
            .expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
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
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        // Bodies of these endpoints are small JSON documents, sent whole or chunked once.
        let json = body
            .find('{')
            .and_then(|a| body.rfind('}').map(|b| &body[a..=b]))
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or(serde_json::Value::Null);
        ((status, json), head.to_string())
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
    assert_eq!(d["raw_encoding"], "text", "{d}");
    assert!(
        d["raw"]
            .as_str()
            .is_some_and(|r| r.contains("oversized xxx")),
        "{d}"
    );
    assert!(d["raw_b64"].is_string(), "{d}");
    assert_eq!(letters["by_reason"]["oversized"], 1, "{letters}");
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
    // The HTTP bulk API is a source row of its own, first.
    let http = &st["inputs"][0];
    assert_eq!(http["name"], "api", "{st}");
    assert_eq!(http["kind"], "http", "{http}");
    assert_eq!(http["origin"], "builtin", "{http}");
    assert_eq!(http["state"], "listening", "{http}");
    let src = &st["inputs"][1];
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

    // Organization users and auditors do not see the platform's intake; organization users
    // see only the dead letters attributed to their organization (none here: UDP traffic
    // has no sending organization).
    for role in [Role::OrgUser, Role::Auditor] {
        let t = s.token(role).await;
        let (code, _) = s.get("/api/v1/pipeline", &t).await;
        assert_eq!(code, 403, "{role:?}");
    }
    let (code, _) = s
        .get(
            "/api/v1/pipeline/dead-letters",
            &s.token(Role::Auditor).await,
        )
        .await;
    assert_eq!(code, 403);
    let (code, own) = s
        .get(
            "/api/v1/pipeline/dead-letters",
            &s.token(Role::OrgUser).await,
        )
        .await;
    assert_eq!(code, 200, "{own}");
    assert_eq!(own["matched"], 0, "{own}");
    assert_eq!(own["items"].as_array().map(Vec::len), Some(0), "{own}");
    s.stop().await;
}

/// Issue 4: with the pipeline running, `POST /api/v1/events` appends to the spool (202 with
/// the spool position) and the events are detected live: three failed SSH logins sent over
/// HTTP raise the fixture rule's alert for each and the correlation rule's brute-force alert,
/// in the token's organization; a platform token's line without an organization is attributed
/// by its host address (127.0.0.0/8 is the organization's asset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_events_go_through_the_spool_and_live_sigma_detection() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigil-pipeline/tests/it/rules")
        .canonicalize()
        .expect("fixture rules");
    let s = Served::start_with(&format!("rules_dir = \"{}\"\n", rules.display()), "").await;
    let org_user = s.token(Role::OrgUser).await;
    let line = |n: u32| {
        format!(
            r#"{{"@timestamp":"2026-11-21T10:00:0{n}Z","event":{{"dataset":"linux.sshd"}},"host":{{"name":"web-01"}},"message":"Failed password for root from 203.0.113.9 port 4{n}022 ssh2"}}"#
        )
    };
    let body: String = (1..=3).map(|n| line(n) + "\n").collect();
    let (code, ack) = s.post("/api/v1/events", &org_user, &body).await;
    assert_eq!(code, 202, "{ack}");
    assert_eq!(ack["spooled"], 3, "{ack}");
    assert_eq!(ack["rejected"], 0, "{ack}");
    assert!(ack["position"].as_u64().is_some_and(|p| p > 0), "{ack}");
    assert_eq!(ack["results"][0]["status"], "spooled", "{ack}");

    // A JSON array from a platform token, no organization named: attributed by host.ip.
    let analyst = s.token(Role::Analyst).await;
    let (code, ack2) = s
        .post(
            "/api/v1/events",
            &analyst,
            r#"[{"@timestamp":"2026-11-21T10:00:09Z","host":{"ip":"127.0.0.7"},"message":"array element"}, 5]"#,
        )
        .await;
    assert_eq!(code, 202, "{ack2}");
    assert_eq!(ack2["spooled"], 1, "{ack2}");
    assert_eq!(ack2["rejected"], 1, "{ack2}");
    assert_eq!(ack2["results"][1]["line"], 2, "{ack2}");
    assert!(
        ack2["position"].as_u64() > ack["position"].as_u64(),
        "{ack2}"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (events, alerts) = loop {
        let events = s
            .store
            .search_events(
                Scope::Org(s.org.id),
                &EventQuery {
                    limit: 50,
                    ..EventQuery::default()
                },
            )
            .await
            .expect("search")
            .items;
        let alerts = s
            .store
            .list_alerts(
                Scope::Org(s.org.id),
                &vigil_store::AlertQuery {
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .expect("alerts")
            .items;
        if events.len() >= 4 && alerts.len() >= 2 {
            break (events, alerts);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events {} alerts {}",
            events.len(),
            alerts.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The HTTP bulk API's own source row counts what it received, refused and spooled.
    let (code, st) = s.get("/api/v1/pipeline", &analyst).await;
    assert_eq!(code, 200, "{st}");
    let http = st["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "api"))
        .expect("the HTTP source row");
    assert_eq!(http["kind"], "http", "{http}");
    assert_eq!(http["received"], 5, "{http}");
    assert_eq!(http["spooled"], 4, "{http}");
    assert_eq!(http["rejected"], 1, "{http}");
    assert!(http["last_received_at"].is_string(), "{http}");
    let sshd: Vec<_> = events
        .iter()
        .filter(|e| e.event.message().starts_with("Failed password"))
        .collect();
    assert_eq!(sshd.len(), 3);
    for e in &sshd {
        assert_eq!(e.event.provenance.input, "api");
        assert_eq!(e.event.org_id, s.org.id);
    }
    let arr = events
        .iter()
        .find(|e| e.event.message() == "array element")
        .expect("array element attributed to the organization owning 127.0.0.7");
    assert_eq!(arr.event.provenance.input, "api");
    let single: Vec<_> = alerts
        .iter()
        .filter(|a| a.spec.title.starts_with("SSH failed password"))
        .collect();
    // One alert per rule, organization and asset of a batch, linked to its events.
    assert_eq!(single.len(), 1, "{alerts:?}");
    let mut linked = single[0].spec.event_ids.clone();
    linked.sort();
    let mut want: Vec<_> = sshd.iter().map(|e| e.id).collect();
    want.sort();
    assert_eq!(linked, want);
    assert!(
        alerts
            .iter()
            .any(|a| a.spec.title.starts_with("SSH brute force")),
        "correlation over HTTP events: {alerts:?}"
    );

    let (code, st) = s.get("/api/v1/pipeline", &analyst).await;
    assert_eq!(code, 200, "{st}");
    assert!(
        st["totals"]["spooled"].as_u64().is_some_and(|n| n >= 4),
        "{st}"
    );
    s.stop().await;
}

/// A spool over its bound refuses HTTP bulk events with 503 and Retry-After, spooling none
/// of the request, and counts the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_http_ingest_with_503_and_retry_after() {
    let s = Served::start_with("spool_max_mb = 2\nspool_segment_mb = 1\n", "").await;
    let token = s.token(Role::OrgUser).await;
    // 3 MiB of lines: more than the whole spool may hold.
    let filler = "y".repeat(1000);
    let body: String = (0..3000)
        .map(|i| format!(r#"{{"message":"big {i} {filler}"}}"#) + "\n")
        .collect();
    let ((code, err), head) = s.request("POST", "/api/v1/events", &token, &body).await;
    assert_eq!(code, 503, "{err}");
    assert_eq!(err["code"], "spool_full", "{err}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 2"),
        "{head}"
    );
    // A small one still goes through.
    let (code, ok) = s
        .post("/api/v1/events", &token, "{\"message\":\"small\"}\n")
        .await;
    assert_eq!(code, 202, "{ok}");
    let analyst = s.token(Role::Analyst).await;
    let (_, st) = s.get("/api/v1/pipeline", &analyst).await;
    assert!(
        st["totals"]["spool_full"].as_u64().is_some_and(|n| n >= 1),
        "{st}"
    );
    s.stop().await;
}
