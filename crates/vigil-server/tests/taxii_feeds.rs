//! The TAXII feed scheduler against a real peer (a Vigil TAXII server on a local port) and
//! real SQLite stores: a restarted node continues from the stored watermark, a failing feed
//! is retried before its interval and its error is visible to analysts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use std::sync::Arc;
use std::time::Duration;
use vigil_model::{ApiToken, Role, Timestamp, TokenId};
use vigil_server::taxii_feeds::{TaxiiFeed, poll_once, run};
use vigil_store::{SqliteStore, Store, TaxiiFeedState};
use vigil_web::api::intel::{Format, run_import, source_named};
use vigil_web::taxii::INDICATORS_COLLECTION;
use vigil_web::taxii_client::Peer;
use vigil_web::{AppState, WebConfig};

async fn token(store: &dyn Store, role: Role) -> String {
    let secret = vigil_crypto::new_secret("vgl_");
    store
        .create_token(
            ApiToken {
                id: TokenId::new(),
                name: format!("{}-feed-test", role.as_str()),
                role,
                org_id: None,
                created_by: "test".into(),
                created_at: Timestamp::now(),
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            vigil_crypto::secret_hash(&secret),
        )
        .await
        .unwrap();
    secret
}

/// A Vigil node serving TAXII on a local port.
struct PeerNode {
    _dir: tempfile::TempDir,
    state: AppState,
    addr: std::net::SocketAddr,
    reader: String,
    serving: tokio::task::JoinHandle<()>,
}

impl PeerNode {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let reader = token(store.as_ref(), Role::Auditor).await;
        let state = AppState::new(store, WebConfig::default(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = vigil_web::router(state.clone());
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            _dir: dir,
            state,
            addr,
            reader,
            serving,
        }
    }

    /// Adds domain indicators (one per line) to the peer.
    async fn add(&self, lines: &str) {
        let source = source_named(&self.state, "upstream", "list").await.unwrap();
        let report = run_import(
            &self.state,
            Bytes::from(lines.to_string()),
            Format::List,
            &source,
            None,
            None,
        )
        .await
        .unwrap();
        assert_eq!(report.problems_total, 0);
    }

    fn feed(&self, name: &str) -> TaxiiFeed {
        TaxiiFeed {
            name: name.into(),
            source: format!("taxii:{name}"),
            peer: Peer {
                collection_url: format!(
                    "http://{}/taxii2/vigil/collections/{INDICATORS_COLLECTION}/",
                    self.addr
                ),
                bearer: Some(self.reader.clone()),
                page_size: 2,
                ..Peer::default()
            },
            interval: Duration::from_secs(3_600),
            retry_min: Duration::from_millis(50),
            trust: Some(80),
            tlp: None,
        }
    }
}

fn local_node(dir: &std::path::Path) -> AppState {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).unwrap());
    AppState::new(store, WebConfig::default(), None)
}

async fn wait_for(
    st: &AppState,
    name: &str,
    what: &str,
    ok: impl Fn(&TaxiiFeedState) -> bool,
) -> TaxiiFeedState {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = st.store.get_taxii_feed(name).await.unwrap()
            && ok(&s)
        {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn domains_of(st: &AppState, source: &str) -> usize {
    let src = st
        .store
        .list_intel_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.spec.name == source)
        .expect("source");
    st.store
        .list_indicators(&vigil_store::IndicatorQuery {
            source_id: Some(src.id),
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_continues_from_the_stored_watermark() {
    let peer = PeerNode::start().await;
    peer.add("a.feed.example\nb.feed.example\nc.feed.example\nd.feed.example\ne.feed.example\n")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let feed = peer.feed("partner");

    // First life: the scheduler polls at once (no state yet), pages through all five.
    let st = local_node(dir.path());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(st.clone(), vec![feed.clone()], async move {
        let _ = stopped.await;
    }));
    let s = wait_for(&st, "partner", "the first poll", |s| s.polls >= 1).await;
    assert_eq!(s.objects_imported, 5, "{s:?}");
    assert_eq!(s.last_error, None);
    let watermark = s.watermark.expect("watermark after a poll");
    stop.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(domains_of(&st, "taxii:partner").await, 5);
    // The configured trust went to the source.
    let src = st
        .store
        .list_intel_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.spec.name == "taxii:partner")
        .unwrap();
    assert_eq!(src.spec.trust, 80);
    drop(st);

    // The peer gets one more; the node restarts on the same data directory.
    peer.add("late.feed.example\n").await;
    let st = local_node(dir.path());
    let before = st.store.get_taxii_feed("partner").await.unwrap().unwrap();
    assert_eq!(before.watermark, Some(watermark));
    // A poll from the stored watermark fetches only the new object.
    let o = poll_once(&st, &feed).await.unwrap();
    assert!(o.ok);
    assert_eq!(o.objects, 1, "{o:?}");
    assert_eq!(o.state.objects_imported, 6);
    assert!(o.state.watermark > Some(watermark));
    assert_eq!(domains_of(&st, "taxii:partner").await, 6);
    // Nothing new: nothing fetched, the watermark stays.
    let again = poll_once(&st, &feed).await.unwrap();
    assert_eq!(again.objects, 0);
    assert_eq!(again.state.watermark, o.state.watermark);

    // A restarted scheduler waits out the rest of the interval instead of polling at once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(st.clone(), vec![feed.clone()], async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = st.store.get_taxii_feed("partner").await.unwrap().unwrap();
    assert_eq!(s.polls, again.state.polls, "polled before its interval");
    stop.send(()).unwrap();
    task.await.unwrap();
    peer.serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_feed_is_retried_and_its_error_is_visible() {
    let peer = PeerNode::start().await;
    peer.add("x.feed.example\n").await;
    let dir = tempfile::tempdir().unwrap();
    let st = local_node(dir.path());

    // A forged token: the peer answers 401, every retry too.
    let mut forged = peer.feed("forged");
    forged.peer.bearer = Some("vgl_forged".into());
    // Nobody listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut down = peer.feed("down");
    down.peer.collection_url = format!("http://{closed}/taxii2/vigil/collections/c/");
    // The interval is an hour: a second attempt within seconds is the retry.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(st.clone(), vec![forged, down], async move {
        let _ = stopped.await;
    }));
    let s = wait_for(&st, "forged", "retries of the forged feed", |s| {
        s.failures >= 3
    })
    .await;
    assert!(
        s.last_error.as_deref().is_some_and(|e| e.contains("401")),
        "{s:?}"
    );
    assert_eq!(s.watermark, None);
    assert!(s.consecutive_failures >= 3);
    assert_eq!(s.last_success_at, None);
    let d = wait_for(&st, "down", "retries of the unreachable feed", |s| {
        s.failures >= 2
    })
    .await;
    assert!(d.last_error.is_some(), "{d:?}");
    stop.send(()).unwrap();
    task.await.unwrap();

    // Analysts see it at GET /api/v1/intel/feeds; organization users may not.
    let analyst = token(st.store.as_ref(), Role::Analyst).await;
    let app = vigil_web::router(st.clone());
    let (status, body) = get(app.clone(), "/api/v1/intel/feeds", &analyst).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().expect("items");
    let forged = items
        .iter()
        .find(|f| f["name"] == "forged")
        .expect("forged feed listed");
    assert!(
        forged["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("401")),
        "{forged}"
    );
    assert!(forged["failures"].as_u64().is_some_and(|n| n >= 3));
    // The token is not in what analysts see.
    assert!(!body.to_string().contains(&peer.reader));

    // Once the peer accepts the feed's credentials, the next poll succeeds and clears the
    // error, keeping the failure count as history.
    let fixed = peer.feed("forged");
    let o = poll_once(&st, &fixed).await.unwrap();
    assert!(o.ok);
    assert_eq!(o.objects, 1);
    assert_eq!(o.state.last_error, None);
    assert_eq!(o.state.consecutive_failures, 0);
    assert!(o.state.failures >= 3);
    peer.serving.abort();
}

async fn get(app: axum::Router, path: &str, secret: &str) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {secret}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// TLS in front of a listener, for a peer served over HTTPS.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses the certificate ends its handshake; keep accepting.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A feed over HTTPS: verified against the configured CA file, and refused against the
/// public roots (a private CA is not one of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_feeds_are_verified_against_the_configured_ca() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let peer = PeerNode::start().await;
    peer.add("tls.feed.example\n").await;
    // A private CA and a certificate for 127.0.0.1 it signed.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Vigil test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca).unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from_pem_slice(leaf_cert.pem().as_bytes()).unwrap()],
        PrivateKeyDer::from_pem_slice(leaf_key.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    let listener = TlsListener {
        tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server_config)),
    };
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let app = vigil_web::router(peer.state.clone());
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let st = local_node(&dir.path().join("node"));

    let mut feed = peer.feed("tls");
    feed.peer.collection_url =
        format!("https://{addr}/taxii2/vigil/collections/{INDICATORS_COLLECTION}/");
    // The webpki roots do not know the private CA: refused, and the error says why.
    let refused = poll_once(&st, &feed).await.unwrap();
    assert!(!refused.ok);
    let why = refused.state.last_error.clone().unwrap_or_default();
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    // With the CA file the same feed polls and imports.
    feed.peer.ca_file = Some(ca_file);
    let o = poll_once(&st, &feed).await.unwrap();
    assert!(o.ok, "{:?}", o.state.last_error);
    assert_eq!(o.objects, 1);
    assert_eq!(domains_of(&st, "taxii:tls").await, 1);
    serving.abort();
    peer.serving.abort();
}
