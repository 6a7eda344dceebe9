//! Measures the STIX object store behind the intelligence API and the TAXII server (numbers for
//! BENCHMARKS.md):
//!
//! 1. the ATT&CK Enterprise bundle POSTed to `/api/v1/intel/import` (parse, indicators, every
//!    STIX object into the object store), timed end to end, twice (the second import finds
//!    every version stored);
//! 2. TAXII paging: `objects/?limit=1000` followed by `next` through the whole collection
//!    after 100,000 more objects are stored, in objects per second.
//!
//! ```text
//! cargo run --release -p vigil-web --example stix_bench -- <bundle.json> [postgres-url]
//! ```
//!
//! Without a PostgreSQL URL the store is SQLite in a temporary directory.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;
use vigil_model::{ApiToken, Role, Timestamp, TokenId};
use vigil_store::{NewStixObject, Store};
use vigil_web::taxii::{INDICATORS_COLLECTION, TAXII_MEDIA};
use vigil_web::{AppState, WebConfig};

const EXTRA_OBJECTS: usize = 100_000;

async fn body_json(resp: axum::response::Response) -> (StatusCode, serde_json::Value) {
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bundle_path = args
        .next()
        .ok_or("usage: stix_bench <bundle.json> [postgres-url]")?;
    let pg = args.next();
    let dir = tempfile::tempdir()?;
    let (store, backend): (Arc<dyn Store>, &str) = match &pg {
        Some(url) => {
            let schema = format!("bench_{}", uuid::Uuid::now_v7().simple());
            (
                Arc::new(
                    vigil_store::postgres::PgStore::connect_with_schema(url, &schema)
                        .await?
                        .drop_schema_when_dropped(),
                ),
                "postgres",
            )
        }
        None => (
            Arc::new(vigil_store::sqlite::SqliteStore::open(dir.path())?),
            "sqlite",
        ),
    };
    let secret = vigil_crypto::new_secret("vgl_");
    store
        .create_token(
            ApiToken {
                id: TokenId::new(),
                name: "bench".into(),
                role: Role::Analyst,
                org_id: None,
                created_by: "bench".into(),
                created_at: Timestamp::now(),
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            vigil_crypto::secret_hash(&secret),
        )
        .await?;
    let config = WebConfig {
        max_body_bytes: 64 << 20,
        ..WebConfig::default()
    };
    let app = vigil_web::router(AppState::new(store.clone(), config, None));
    let bundle = std::fs::read(&bundle_path)?;
    println!(
        "backend {backend}; bundle {} ({} bytes)",
        bundle_path,
        bundle.len()
    );

    for round in ["first import", "re-import"] {
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/intel/import?source=mitre-attack&format=stix")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bundle.clone()))?;
        let started = Instant::now();
        let (status, report) = body_json(app.clone().oneshot(req).await?).await;
        let took = started.elapsed();
        if status != StatusCode::OK {
            return Err(format!("import failed: {status} {report}").into());
        }
        println!(
            "{round}: {:.3} s; objects read {}, STIX objects inserted {} / new versions {} / unchanged {}, indicators inserted {}, problems {}",
            took.as_secs_f64(),
            report["summary"]["objects"],
            report["objects"]["inserted"],
            report["objects"]["new_versions"],
            report["objects"]["unchanged"],
            report["stored"]["inserted"],
            report["problems_total"],
        );
    }

    // 100,000 more objects, ATT&CK-sized (about 1 KB of JSON each).
    let started = Instant::now();
    let filler =
        "Adversaries may abuse command and script interpreters to execute commands. ".repeat(10);
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..EXTRA_OBJECTS {
        let id = format!("malware--{}", uuid::Uuid::new_v4());
        batch.push(NewStixObject::from_json(
            serde_json::json!({
                "type": "malware", "spec_version": "2.1", "id": id, "is_family": true,
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": format!("Bench family {i}"), "description": filler,
                "malware_types": ["remote-access-trojan"],
            }),
            "2.1",
            None,
        )?);
        if batch.len() == 5_000 {
            store.put_stix_objects(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.put_stix_objects(batch).await?;
    }
    println!(
        "stored {EXTRA_OBJECTS} more objects directly in {:.3} s",
        started.elapsed().as_secs_f64()
    );

    for limit in [1_000, 100] {
        let started = Instant::now();
        let (mut objects, mut pages, mut bytes) = (0usize, 0usize, 0usize);
        let mut next: Option<String> = None;
        loop {
            let uri = match &next {
                Some(n) => format!(
                    "/taxii2/vigil/collections/{INDICATORS_COLLECTION}/objects/?limit={limit}&next={n}"
                ),
                None => {
                    format!(
                        "/taxii2/vigil/collections/{INDICATORS_COLLECTION}/objects/?limit={limit}"
                    )
                }
            };
            let req = Request::builder()
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .header(header::ACCEPT, TAXII_MEDIA)
                .body(Body::empty())?;
            let resp = app.clone().oneshot(req).await?;
            if resp.status() != StatusCode::OK {
                return Err(format!("page failed: {}", resp.status()).into());
            }
            let raw = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            bytes += raw.len();
            let env: serde_json::Value = serde_json::from_slice(&raw)?;
            objects += env["objects"].as_array().map_or(0, Vec::len);
            pages += 1;
            match env["next"].as_str() {
                Some(n) => next = Some(n.to_string()),
                None => break,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "TAXII paging limit={limit}: {objects} objects in {pages} pages, {:.1} MB, {secs:.3} s = {:.0} objects/s",
            bytes as f64 / 1e6,
            objects as f64 / secs
        );
    }
    Ok(())
}
