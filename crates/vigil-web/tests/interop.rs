//! TAXII 2.1 and STIX 2.1 interoperability with third-party software from PyPI:
//!
//! - the OASIS reference TAXII server **medallion** as the peer Vigil's client polls,
//! - the OASIS **taxii2-client** library as a client of Vigil's TAXII server,
//! - the OASIS **stix2-validator** over everything `GET /api/v1/intel/export` gives out.
//!
//! The Python side is a virtual environment with the pinned versions of
//! `tests/fixtures/requirements.txt` (`.ci/run` makes it in /var/tmp/vigil-pyenv and exports
//! `VIGIL_TEST_PYTHON`). Without it these tests print a SKIP line, or fail under
//! `VIGIL_TEST_REQUIRE=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use vigil_model::{ApiToken, OrgId, Role, Scope, Timestamp, TokenId};
use vigil_store::{IndicatorQuery, NewSighting, SqliteStore, Store};
use vigil_web::api::intel::{Format, run_import, source_named};
use vigil_web::taxii_client::{Peer, poll_and_import};
use vigil_web::{AppState, WebConfig};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The Python interpreter of the interop virtual environment, or `None` after a SKIP line.
fn python(test: &str) -> Option<PathBuf> {
    let required = std::env::var("VIGIL_TEST_REQUIRE").is_ok_and(|v| v == "1");
    let found = std::env::var("VIGIL_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    match found {
        Some(p) if p.exists() => Some(p),
        other => {
            let why = match other {
                Some(p) => format!("VIGIL_TEST_PYTHON={} does not exist", p.display()),
                None => "VIGIL_TEST_PYTHON is not set".to_string(),
            };
            assert!(
                !required,
                "{test}: {why} (VIGIL_TEST_REQUIRE=1; .ci/run makes the venv from tests/fixtures/requirements.txt)"
            );
            println!("SKIP {test}: {why}");
            None
        }
    }
}

/// A process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_listening(port: u16, child: &mut Child, log: &Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "medallion exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "medallion did not listen on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const MEDALLION_USER: &str = "vigil";
const MEDALLION_PASSWORD: &str = "interop-pass";
const PEER_COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

/// medallion with the memory backend loaded from `fixtures/medallion_data.json`.
async fn medallion(py: &Path, dir: &Path) -> (Running, u16) {
    let port = free_port();
    let conf = dir.join("medallion.json");
    let config = serde_json::json!({
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": fixtures().join("medallion_data.json"),
        },
        "users": { MEDALLION_USER: MEDALLION_PASSWORD },
        "taxii": { "max_page_size": 100 },
    });
    std::fs::write(&conf, config.to_string()).unwrap();
    let log = dir.join("medallion.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(py)
        .args([
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("starting medallion");
    wait_listening(port, &mut child, &log).await;
    (Running(child), port)
}

async fn token(store: &dyn Store, role: Role, org: Option<OrgId>) -> String {
    let secret = vigil_crypto::new_secret("vgl_");
    store
        .create_token(
            ApiToken {
                id: TokenId::new(),
                name: format!("{}-interop", role.as_str()),
                role,
                org_id: org,
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

fn node(dir: &Path) -> AppState {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir).unwrap());
    AppState::new(store, WebConfig::default(), None)
}

async fn import(st: &AppState, source: &str, format: Format, bytes: Vec<u8>) {
    let src = source_named(st, source, format.as_str()).await.unwrap();
    let report = run_import(st, Bytes::from(bytes), format, &src, None, None)
        .await
        .unwrap();
    assert_eq!(report.problems_total, 0, "{source}: {:?}", report.problems);
}

/// Adds one object to medallion's collection the way a partner would (TAXII POST).
async fn post_to_medallion(port: u16, object: serde_json::Value) {
    use base64::Engine as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{MEDALLION_USER}:{MEDALLION_PASSWORD}"));
    let body = serde_json::json!({ "objects": [object] }).to_string();
    let req = axum::http::Request::post(format!(
        "http://127.0.0.1:{port}/trustgroup1/collections/{PEER_COLLECTION}/objects/"
    ))
    .header("authorization", format!("Basic {basic}"))
    .header("accept", vigil_web::taxii::TAXII_MEDIA)
    .header("content-type", vigil_web::taxii::TAXII_MEDIA)
    .body(http_body_util::Full::new(Bytes::from(body)))
    .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status.as_u16(), 202, "{}", String::from_utf8_lossy(&bytes));
    let s: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(s["success_count"], 1, "{s}");
}

/// (a) Vigil's client polls medallion incrementally: everything first (paged), nothing the
/// second time, then exactly what was added to medallion afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigil_polls_medallion_incrementally() {
    let Some(py) = python("vigil_polls_medallion_incrementally") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_medallion, port) = medallion(&py, dir.path()).await;
    let st = node(&dir.path().join("vigil"));
    let peer = Peer {
        collection_url: format!(
            "http://127.0.0.1:{port}/trustgroup1/collections/{PEER_COLLECTION}/"
        ),
        basic: Some((MEDALLION_USER.into(), MEDALLION_PASSWORD.into())),
        page_size: 2,
        ..Peer::default()
    };

    let (report, polled) = poll_and_import(&st, &peer, "taxii:medallion", None)
        .await
        .expect("first poll");
    // Three indicators and a malware object, two per page.
    assert_eq!(polled.objects.len(), 4, "{polled:?}");
    assert_eq!(polled.pages, 2);
    assert_eq!(report.problems_total, 0, "{:?}", report.problems);
    assert_eq!(report.stored.inserted, 3);
    let w1 = polled
        .watermark
        .expect("watermark from X-TAXII-Date-Added-Last");
    assert_eq!(w1, "2026-01-12T08:00:02Z".parse::<Timestamp>().unwrap());
    let c2 = st
        .store
        .list_indicators(&IndicatorQuery {
            value: Some("198.51.100.23".into()),
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(c2.items.len(), 1);
    assert_eq!(c2.items[0].spec.tlp.as_deref(), Some("green"));
    assert_eq!(c2.items[0].spec.confidence, 80);

    // Again from the watermark: nothing new.
    let (report, polled) = poll_and_import(&st, &peer, "taxii:medallion", Some(w1))
        .await
        .expect("second poll");
    assert_eq!(polled.objects.len(), 0);
    assert_eq!(report.stored.inserted + report.stored.updated, 0);
    assert_eq!(polled.watermark, Some(w1));

    // A partner adds an indicator to medallion: the next poll brings exactly that one.
    post_to_medallion(
        port,
        serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2910",
            "created": "2026-02-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z",
            "name": "New C2", "indicator_types": ["malicious-activity"],
            "pattern": "[domain-name:value = 'fresh-c2.example.com']",
            "pattern_type": "stix", "valid_from": "2026-02-01T00:00:00Z"
        }),
    )
    .await;
    let (report, polled) = poll_and_import(&st, &peer, "taxii:medallion", Some(w1))
        .await
        .expect("third poll");
    assert_eq!(polled.objects.len(), 1, "{polled:?}");
    assert_eq!(polled.objects[0]["name"], "New C2");
    assert_eq!(report.stored.inserted, 1);
    assert!(polled.watermark > Some(w1));
    let fresh = st
        .store
        .list_indicators(&IndicatorQuery {
            value: Some("fresh-c2.example.com".into()),
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(fresh.items.len(), 1);

    // Wrong credentials: medallion's 401 is reported, nothing imported.
    let bad = Peer {
        basic: Some((MEDALLION_USER.into(), "wrong".into())),
        ..peer.clone()
    };
    let err = poll_and_import(&st, &bad, "taxii:medallion", None).await;
    assert!(
        matches!(
            err,
            Err(vigil_web::taxii_client::TaxiiClientError::Status { status: 401, .. })
        ),
        "{err:?}"
    );
}

/// A Vigil node serving its API and TAXII on a local port.
struct Served {
    st: AppState,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(st: AppState) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = vigil_web::router(st.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served {
        st,
        base: format!("http://{addr}"),
        task,
    }
}

fn run_script(py: &Path, script: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(py)
        .arg(fixtures().join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running python");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (b) The OASIS taxii2-client library against Vigil's TAXII server with a bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii2_client_talks_to_vigil() {
    let Some(py) = python("taxii2_client_talks_to_vigil") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let st = node(dir.path());
    import(
        &st,
        "seed",
        Format::List,
        b"a.interop.example\nb.interop.example\n192.0.2.10\n".to_vec(),
    )
    .await;
    let analyst = token(st.store.as_ref(), Role::Analyst, None).await;
    let served = serve(st).await;
    let py2 = py.clone();
    let base = served.base.clone();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_script(&py2, "taxii_client_check.py", &[&base, &analyst])
    })
    .await
    .unwrap();
    assert!(ok, "taxii2-client failed:\n{stderr}\n{stdout}");
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("script output");
    assert_eq!(seen["title"], "Vigil TAXII server");
    assert_eq!(
        seen["versions"],
        serde_json::json!(["application/taxii+json;version=2.1"])
    );
    assert_eq!(seen["can_write"]["partners"], true);
    assert_eq!(seen["can_write"]["indicators"], false);
    assert_eq!(seen["status"]["status"], "complete", "{seen}");
    assert_eq!(seen["status"]["total_count"], 3);
    assert_eq!(seen["status"]["success_count"], 3);
    assert_eq!(seen["status"]["failure_count"], 0);
    assert_eq!(seen["status_refreshed"]["id"], seen["status"]["id"]);
    assert_eq!(seen["status_refreshed"]["success_count"], 3);
    // Three seeded values and the three posted ones, two per page, each once.
    let paged: Vec<&str> = seen["paged_ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(paged.len(), 6, "{seen}");
    let mut unique = paged.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    assert_eq!(seen["pages"], 3);
    let manifest = seen["manifest"].as_array().unwrap();
    assert_eq!(manifest.len(), 6);
    assert!(
        manifest
            .iter()
            .all(|m| m["media_type"] == "application/stix+json;version=2.1"
                && m["date_added"].is_string()
                && m["version"].is_string())
    );
    assert_eq!(
        seen["added_after_ids"].as_array().map(Vec::len),
        Some(5),
        "{seen}"
    );
    assert_eq!(seen["get_object"].as_array().map(Vec::len), Some(1));
    assert_eq!(seen["partners_ids"].as_array().map(Vec::len), Some(3));
    // Both versions of the indicator posted twice, the newer one served by default.
    let both = serde_json::json!(["2026-02-02T10:00:00.000Z", "2026-02-09T10:00:00.000Z"]);
    assert_eq!(seen["object_versions"], both, "{seen}");
    assert_eq!(seen["all_versions"], both, "{seen}");
    assert_eq!(seen["manifest_versions"], both, "{seen}");
    assert_eq!(
        seen["first_version"],
        serde_json::json!(["2026-02-02T10:00:00.000Z"])
    );
    assert_eq!(
        seen["current_name"],
        serde_json::json!(["partner value 2 v2"])
    );

    // The status answers after a restart of the node (kept in the store).
    served.task.abort();
    let st = node(dir.path());
    let sid = seen["status"]["id"].as_str().unwrap();
    let kept = st
        .store
        .get_taxii_status(sid)
        .await
        .unwrap()
        .expect("status kept");
    assert_eq!(kept.body["success_count"], 3);
    drop(served.st);
}

async fn get(st: &AppState, path: &str, secret: &str) -> (u16, Vec<u8>, String) {
    let req = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {secret}"))
        .body(Body::empty())
        .unwrap();
    let resp = vigil_web::router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec(), ct)
}

/// (c) Everything Vigil exports passes the OASIS stix2-validator, strictly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_bundles_pass_the_stix2_validator() {
    let Some(py) = python("exported_bundles_pass_the_stix2_validator") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let st = node(&dir.path().join("vigil"));
    // STIX 2.1 (with markings, kill chain, references, a MATCHES pattern), STIX 2.0, MISP-less
    // plain values (Vigil generates their objects), and an analyst's revocation.
    import(
        &st,
        "partner-stix",
        Format::Stix,
        std::fs::read(fixtures().join("export_seed_bundle.json")).unwrap(),
    )
    .await;
    import(
        &st,
        "old-feed",
        Format::Stix,
        std::fs::read(fixtures().join("export_seed_stix20.json")).unwrap(),
    )
    .await;
    import(
        &st,
        "blocklist",
        Format::List,
        b"bad.example.net\n198.51.100.99\nhttp://evil.example.com/payload\n".to_vec(),
    )
    .await;
    let all = st
        .store
        .list_indicators(&IndicatorQuery {
            limit: 100,
            ..IndicatorQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert!(all.len() >= 7, "{}", all.len());
    let revoked = all
        .iter()
        .find(|i| i.spec.value.as_deref() == Some("bad.example.net"))
        .unwrap();
    st.store.revoke_indicator(revoked.id).await.unwrap();
    // Sightings in two organizations.
    let org_a = st
        .store
        .create_org(vigil_testkit::fixtures::org_spec("Interop A"))
        .await
        .unwrap();
    let org_b = st
        .store
        .create_org(vigil_testkit::fixtures::org_spec("Interop B"))
        .await
        .unwrap();
    let now = Timestamp::now();
    st.store
        .record_sightings(
            Scope::All,
            vec![
                NewSighting {
                    indicator_id: all[0].id,
                    org_id: org_a.id,
                    event_id: None,
                    alert_id: None,
                    seen_at: now,
                    count: 3,
                },
                NewSighting {
                    indicator_id: all[1].id,
                    org_id: org_b.id,
                    event_id: None,
                    alert_id: None,
                    seen_at: now,
                    count: 1,
                },
            ],
        )
        .await
        .unwrap();
    let analyst = token(st.store.as_ref(), Role::Analyst, None).await;
    let officer = token(st.store.as_ref(), Role::OrgUser, Some(org_a.id)).await;

    let (status, body, ct) = get(
        &st,
        "/api/v1/intel/export?types=indicator,sighting&include_revoked=true",
        &analyst,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "application/stix+json;version=2.1");
    let bundle: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    let count = |t: &str| objects.iter().filter(|o| o["type"] == t).count();
    assert_eq!(count("indicator"), all.len());
    assert_eq!(count("sighting"), 2);
    assert!(
        objects
            .iter()
            .any(|o| o["type"] == "indicator" && o["revoked"] == true)
    );
    let file = dir.path().join("export.json");
    std::fs::write(&file, &body).unwrap();
    let f = file.to_string_lossy().into_owned();
    let py2 = py.clone();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || run_script(&py2, "stix_validate.py", &[&f]))
            .await
            .unwrap();
    assert!(
        ok,
        "stix2-validator rejected the export:\n{stdout}\n{stderr}"
    );
    let verdict: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(verdict["bundle_valid"], true);
    assert_eq!(
        verdict["objects"].as_array().map(Vec::len),
        Some(objects.len())
    );

    // An organization user's export: its own sighting only, and it validates too.
    let (status, body, _) = get(&st, "/api/v1/intel/export?types=sighting", &officer).await;
    assert_eq!(status, 200);
    let mine: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let sightings: Vec<&serde_json::Value> = mine["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "sighting")
        .collect();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0]["count"], 3);
    assert_eq!(
        sightings[0]["sighting_of_ref"],
        all[0].spec.stix_id.as_str()
    );
    let (status, _, _) = get(&st, "/api/v1/intel/export?types=malware", &analyst).await;
    assert_eq!(status, 422);
}
