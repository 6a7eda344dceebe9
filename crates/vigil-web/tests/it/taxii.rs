//! The TAXII 2.1 server (in process) and the client against it over a real socket.

use crate::harness::TestApp;
use crate::intel::bundle;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use vigil_web::taxii::{INDICATORS_COLLECTION, PARTNERS_COLLECTION, TAXII_MEDIA};

async fn taxii(
    app: &TestApp,
    method: &str,
    path: &str,
    secret: Option<&str>,
    accept: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value, HeaderMap) {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(s) = secret {
        b = b.header(header::AUTHORIZATION, format!("Bearer {s}"));
    }
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    let req = match body {
        Some((ct, bytes)) => b
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(bytes))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    };
    app.send(req).await
}

async fn get(app: &TestApp, path: &str, secret: &str) -> (StatusCode, Value, HeaderMap) {
    taxii(app, "GET", path, Some(secret), Some(TAXII_MEDIA), None).await
}

fn objects_path(collection: &str) -> String {
    format!("/taxii2/vigil/collections/{collection}/objects/")
}

/// Five list indicators, imported one by one so their date_added differ.
async fn seed(app: &TestApp) {
    for i in 0..5 {
        let (s, v) = app
            .call(
                "POST",
                "/api/v1/intel/import?source=seed",
                Some(&app.admin),
                Some(("text/plain", format!("host{i}.evil.example\n").into_bytes())),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn discovery_collections_and_media_types() {
    let app = TestApp::new().await;
    let (s, d, h) = get(&app, "/taxii2/", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(h[header::CONTENT_TYPE], TAXII_MEDIA);
    assert_eq!(d["api_roots"], json!(["/taxii2/vigil/"]));
    let (s, root, _) = get(&app, "/taxii2/vigil/", &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(root["versions"], json!([TAXII_MEDIA]));

    let (_, c, _) = get(&app, "/taxii2/vigil/collections/", &app.analyst).await;
    let cols = c["collections"].as_array().expect("collections");
    assert_eq!(cols.len(), 2);
    let writable: Vec<bool> = cols
        .iter()
        .map(|c| c["can_write"].as_bool().unwrap_or(true))
        .collect();
    assert_eq!(writable, [false, true]);
    let (_, c, _) = get(
        &app,
        &format!("/taxii2/vigil/collections/{PARTNERS_COLLECTION}/"),
        &app.officer,
    )
    .await;
    assert_eq!(c["can_write"], false, "{c}");
    let (s, _, _) = get(&app, "/taxii2/vigil/collections/nope/", &app.admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Media types and authentication.
    let (s, e, h) = taxii(
        &app,
        "GET",
        "/taxii2/",
        Some(&app.admin),
        Some("application/json"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE, "{e}");
    assert_eq!(h[header::CONTENT_TYPE], TAXII_MEDIA);
    assert_eq!(e["http_status"], "406");
    let (s, _, _) = taxii(
        &app,
        "GET",
        "/taxii2/",
        Some(&app.admin),
        Some("application/taxii+json;version=2.0"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE);
    let (s, e, _) = taxii(&app, "GET", "/taxii2/", None, Some(TAXII_MEDIA), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    let (s, _, _) = taxii(
        &app,
        "GET",
        &objects_path(INDICATORS_COLLECTION),
        Some("vgl_forged"),
        Some(TAXII_MEDIA),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn objects_page_with_next_and_filter() {
    paging(TestApp::new().await).await;
}

#[tokio::test]
async fn objects_page_with_next_and_filter_on_postgres() {
    if let Some(app) = TestApp::postgres("taxii paging").await {
        paging(app).await;
    }
}

async fn paging(app: TestApp) {
    seed(&app).await;
    let base = objects_path(INDICATORS_COLLECTION);
    let mut seen: Vec<String> = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            Some(n) => format!("{base}?limit=2&next={n}"),
            None => format!("{base}?limit=2"),
        };
        let (s, env, h) = get(&app, &path, &app.officer).await;
        assert_eq!(s, StatusCode::OK, "{env}");
        pages += 1;
        let objs = env["objects"].as_array().expect("objects");
        assert!(objs.len() <= 2);
        assert!(h.contains_key("x-taxii-date-added-first"));
        assert!(h.contains_key("x-taxii-date-added-last"));
        seen.extend(
            objs.iter()
                .map(|o| o["id"].as_str().expect("id").to_string()),
        );
        if env["more"] == true {
            next = env["next"].as_str().map(str::to_string);
            assert!(next.is_some());
        } else {
            assert!(env.get("next").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);

    // added_after: what came after the second object.
    let (_, m, _) = get(
        &app,
        &format!("/taxii2/vigil/collections/{INDICATORS_COLLECTION}/manifest/"),
        &app.auditor,
    )
    .await;
    let manifest = m["objects"].as_array().expect("manifest");
    assert_eq!(manifest.len(), 5);
    assert_eq!(
        manifest[0]["media_type"],
        "application/stix+json;version=2.1"
    );
    let second = manifest[1]["date_added"].as_str().expect("date_added");
    let (_, env, _) = get(&app, &format!("{base}?added_after={second}"), &app.admin).await;
    assert_eq!(env["objects"].as_array().map(Vec::len), Some(3), "{env}");

    // match[id], match[type], one object, its versions.
    let id = &seen[0];
    let (_, env, _) = get(&app, &format!("{base}?match%5Bid%5D={id}"), &app.admin).await;
    assert_eq!(env["objects"].as_array().map(Vec::len), Some(1));
    assert_eq!(env["objects"][0]["id"], id.as_str());
    let (_, env, _) = get(&app, &format!("{base}?match%5Btype%5D=malware"), &app.admin).await;
    assert_eq!(env["objects"].as_array().map(Vec::len), Some(0));
    let (s, env, _) = get(&app, &format!("{base}{id}/"), &app.officer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(env["objects"][0]["type"], "indicator");
    let (s, v, _) = get(&app, &format!("{base}{id}/versions/"), &app.officer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["versions"].as_array().map(Vec::len), Some(1));
    let (s, _, _) = get(&app, &format!("{base}indicator--missing/"), &app.officer).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = get(&app, &format!("{base}?limit=abc"), &app.officer).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn partners_post_envelopes_and_read_them_back() {
    let app = TestApp::new().await;
    let path = objects_path(PARTNERS_COLLECTION);
    let env = json!({ "objects": bundle("2026-01-02T00:00:00.000Z", 60)["objects"] });
    let body = || Some((TAXII_MEDIA, env.to_string().into_bytes()));

    // Wrong content type, read-only collection, roles without the permission.
    let (s, _, _) = taxii(
        &app,
        "POST",
        &path,
        Some(&app.analyst),
        Some(TAXII_MEDIA),
        Some(("application/json", env.to_string().into_bytes())),
    )
    .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _, _) = taxii(
        &app,
        "POST",
        &objects_path(INDICATORS_COLLECTION),
        Some(&app.admin),
        Some(TAXII_MEDIA),
        body(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for secret in [&app.officer, &app.auditor] {
        let (s, _, _) = taxii(&app, "POST", &path, Some(secret), Some(TAXII_MEDIA), body()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _, _) = taxii(&app, "POST", &path, None, Some(TAXII_MEDIA), body()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, status, h) = taxii(
        &app,
        "POST",
        &path,
        Some(&app.analyst),
        Some(TAXII_MEDIA),
        body(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    assert_eq!(h[header::CONTENT_TYPE], TAXII_MEDIA);
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 4);
    assert_eq!(status["success_count"], 2, "{status}");
    assert_eq!(status["failure_count"], 2, "{status}");
    let sid = status["id"].as_str().expect("status id");
    let (s, again, _) = get(&app, &format!("/taxii2/vigil/status/{sid}/"), &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, status);

    let (_, objs, _) = get(&app, &path, &app.officer).await;
    assert_eq!(objs["objects"].as_array().map(Vec::len), Some(2), "{objs}");
    // The read-only collection holds everything, partners' indicators included.
    let (_, all, _) = get(&app, &objects_path(INDICATORS_COLLECTION), &app.officer).await;
    assert_eq!(all["objects"].as_array().map(Vec::len), Some(2), "{all}");
}

/// Vigil's client polls Vigil's own server over TCP (interoperability with itself; third-party
/// peers are left to the CI interop job).
#[tokio::test]
async fn client_polls_incrementally_over_http() {
    let server = TestApp::new().await;
    seed(&server).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = server.app.clone();
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let client_side = TestApp::new().await;
    let st = vigil_web::AppState::new(
        client_side.store.clone(),
        vigil_web::WebConfig::default(),
        None,
    );
    let peer = vigil_web::taxii_client::Peer {
        collection_url: format!("http://{addr}/taxii2/vigil/collections/{INDICATORS_COLLECTION}/"),
        bearer: Some(server.auditor.clone()),
        page_size: 2,
        ..Default::default()
    };
    let (report, polled) = vigil_web::taxii_client::poll_and_import(&st, &peer, "peer", None)
        .await
        .expect("first poll");
    assert_eq!(polled.pages, 3);
    assert_eq!(polled.objects.len(), 5);
    assert_eq!(report.stored.inserted, 5);
    assert_eq!(report.problems_total, 0);
    let watermark = polled.watermark;
    assert!(watermark.is_some());

    // Nothing new: nothing fetched.
    let (report, polled) = vigil_web::taxii_client::poll_and_import(&st, &peer, "peer", watermark)
        .await
        .expect("second poll");
    assert_eq!(polled.objects.len(), 0);
    assert_eq!(report.stored.inserted, 0);
    assert_eq!(polled.watermark, watermark);

    // One more on the server: only it comes.
    let (s, _) = server
        .call(
            "POST",
            "/api/v1/intel/import?source=seed",
            Some(&server.admin),
            Some(("text/plain", b"late.evil.example\n".to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (report, polled) = vigil_web::taxii_client::poll_and_import(&st, &peer, "peer", watermark)
        .await
        .expect("third poll");
    assert_eq!(polled.objects.len(), 1);
    assert_eq!(report.stored.inserted, 1);
    let found = client_side
        .store
        .list_indicators(&vigil_store::IndicatorQuery {
            value: Some("late.evil.example".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(found.items.len(), 1);

    // A wrong token is reported with the server's status.
    let bad = vigil_web::taxii_client::Peer {
        bearer: Some("vgl_forged".into()),
        ..peer
    };
    let err = vigil_web::taxii_client::poll(&bad, None).await;
    assert!(
        matches!(
            err,
            Err(vigil_web::taxii_client::TaxiiClientError::Status { status: 401, .. })
        ),
        "{err:?}"
    );
    serving.abort();
}

/// One indicator posted in three versions (and an older one that changes nothing): the
/// current one is what objects/ serves by default, every version is served through
/// match[version], versions/ and the manifest.
#[tokio::test]
async fn every_indicator_version_is_served() {
    indicator_versions(TestApp::new().await).await;
}

#[tokio::test]
async fn every_indicator_version_is_served_on_postgres() {
    if let Some(app) = TestApp::postgres("taxii indicator versions").await {
        indicator_versions(app).await;
    }
}

async fn indicator_versions(app: TestApp) {
    let id = format!("indicator--{}", uuid::Uuid::new_v4());
    let version = |t: &str, value: &str| {
        json!({
            "type": "indicator", "spec_version": "2.1", "id": id,
            "created": "2026-03-01T00:00:00.000Z", "modified": t,
            "name": value, "pattern_type": "stix", "valid_from": "2026-03-01T00:00:00Z",
            "pattern": format!("[domain-name:value = '{value}']"),
        })
    };
    let (t1, t2, t3) = (
        "2026-03-01T00:00:00.000Z",
        "2026-03-02T00:00:00.000Z",
        "2026-03-03T00:00:00.000Z",
    );
    let path = objects_path(PARTNERS_COLLECTION);
    for (t, value) in [
        (t1, "v1.versions.example"),
        (t2, "v2.versions.example"),
        (t3, "v3.versions.example"),
        ("2026-02-01T00:00:00.000Z", "v0.versions.example"),
    ] {
        let env = json!({ "objects": [version(t, value)] });
        let (s, status, _) = taxii(
            &app,
            "POST",
            &path,
            Some(&app.analyst),
            Some(TAXII_MEDIA),
            Some((TAXII_MEDIA, env.to_string().into_bytes())),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    }
    let names = |env: &Value| -> Vec<String> {
        env["objects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| o["name"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let v = |n: u8| format!("v{n}.versions.example");
    for collection in [PARTNERS_COLLECTION, INDICATORS_COLLECTION] {
        let base = objects_path(collection);
        let q = |m: &str| format!("{base}?match%5Bid%5D={id}&match%5Bversion%5D={m}");
        let (_, env, _) = get(&app, &format!("{base}?match%5Bid%5D={id}"), &app.officer).await;
        assert_eq!(names(&env), [v(3)], "the current version by default");
        let (_, env, _) = get(&app, &q("last"), &app.officer).await;
        assert_eq!(names(&env), [v(3)]);
        let (_, env, _) = get(&app, &q("all"), &app.officer).await;
        assert_eq!(names(&env), [v(1), v(2), v(3)], "{env}");
        let (_, env, _) = get(&app, &q("first"), &app.officer).await;
        assert_eq!(names(&env), [v(1)]);
        let (_, env, _) = get(&app, &q(t2), &app.officer).await;
        assert_eq!(names(&env), [v(2)]);
        let (_, env, _) = get(&app, &q("first,last"), &app.officer).await;
        assert_eq!(names(&env), [v(1), v(3)]);
        // Paged one by one with next: each version once.
        let mut paged = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..10 {
            let url = match &next {
                Some(n) => format!("{}&limit=1&next={n}", q("all")),
                None => format!("{}&limit=1", q("all")),
            };
            let (s, env, _) = get(&app, &url, &app.officer).await;
            assert_eq!(s, StatusCode::OK, "{env}");
            paged.extend(names(&env));
            next = env["next"].as_str().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        assert_eq!(paged, [v(1), v(2), v(3)]);
        // One object, its versions, the manifest.
        let (_, env, _) = get(
            &app,
            &format!("{base}{id}/?match%5Bversion%5D=all"),
            &app.officer,
        )
        .await;
        assert_eq!(names(&env), [v(1), v(2), v(3)]);
        let (_, env, _) = get(&app, &format!("{base}{id}/"), &app.officer).await;
        assert_eq!(names(&env), [v(3)]);
        let (s, vs, _) = get(&app, &format!("{base}{id}/versions/"), &app.officer).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(vs["versions"], json!([t1, t2, t3]), "{vs}");
        let manifest_url = format!(
            "/taxii2/vigil/collections/{collection}/manifest/?match%5Bid%5D={id}&match%5Bversion%5D=all"
        );
        let (_, m, _) = get(&app, &manifest_url, &app.officer).await;
        let versions: Vec<&str> = m["objects"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["version"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(versions, [t1, t2, t3], "{m}");
    }
    // The matcher's view, the indicator API: one indicator, the current version.
    let (s, list) = app
        .call(
            "GET",
            &format!("/api/v1/intel/indicators?stix_id={id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert!(items.iter().all(|i| i["name"] == v(3).as_str()), "{list}");
}
