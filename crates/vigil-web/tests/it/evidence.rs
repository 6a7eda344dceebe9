//! Evidence files on incidents: upload by the incident's organization, the SM3 digest as
//! chain of custody (stored, audited, sent with the download, re-checked before serving),
//! isolation from other organizations, the auditor's read-only access, tampering refused,
//! active content types neutralized, and file names sanitized.

use crate::harness::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

/// Uploads `bytes` as the given role's secret; returns status, body and headers.
async fn upload(
    app: &TestApp,
    secret: &str,
    incident: vigil_model::IncidentId,
    query: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    app.call(
        "POST",
        &format!("/api/v1/incidents/{incident}/evidence?{query}"),
        Some(secret),
        Some((content_type, bytes.to_vec())),
    )
    .await
}

async fn download(
    app: &TestApp,
    secret: &str,
    incident: vigil_model::IncidentId,
    id: &str,
) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::builder()
        .uri(format!("/api/v1/incidents/{incident}/evidence/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .expect("request");
    let resp = app.app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, bytes, headers)
}

#[tokio::test]
async fn an_organization_attaches_evidence_with_its_sm3_digest_as_chain_of_custody() {
    let app = TestApp::new().await;
    let bytes: Vec<u8> = b"%PDF-1.7 firewall export\n"
        .iter()
        .copied()
        .cycle()
        .take(50_000)
        .collect();
    let (s, ev) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=%E5%8F%96%E8%AF%81.pdf&note=exported%20at%2010%3A00",
        "application/pdf",
        &bytes,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    let digest = vigil_crypto::sm3_hex(&bytes);
    assert_eq!(ev["sm3"], digest.as_str());
    assert_eq!(ev["size"], 50_000);
    assert_eq!(ev["file_name"], "取证.pdf");
    assert_eq!(ev["content_type"], "application/pdf");
    assert_eq!(ev["note"], "exported at 10:00");
    assert_eq!(ev["org_id"], app.a.id.to_string().as_str());
    let id = ev["id"].as_str().expect("id").to_string();

    // The audit record carries id, name, size and digest (so the hash chain protects it).
    let (_, audit) = app
        .get("/api/v1/audit?action=incident.evidence", &app.auditor)
        .await;
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    let rec = items
        .iter()
        .find(|r| r["action"] == "incident.evidence")
        .unwrap_or_else(|| panic!("no incident.evidence record in {audit}"));
    assert_eq!(rec["outcome"], "success");
    assert_eq!(
        rec["object"],
        format!("incident/{}/evidence/{id}", app.a.incident).as_str()
    );
    let detail: Value =
        serde_json::from_str(rec["detail"].as_str().expect("detail")).expect("detail is JSON");
    assert_eq!(detail["evidence_id"], id.as_str());
    assert_eq!(detail["file_name"], "取证.pdf");
    assert_eq!(detail["size"], 50_000);
    assert_eq!(detail["sm3"], digest.as_str());
    let (_, verify) = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify["ok"], true, "{verify}");

    // The timeline has the upload.
    let (_, inc) = app
        .get(
            &format!("/api/v1/incidents/{}", app.a.incident),
            &app.officer,
        )
        .await;
    let entry = inc["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["action"] == "evidence"))
        .cloned()
        .unwrap_or_else(|| panic!("no evidence entry in {inc}"));
    assert_eq!(
        entry["note"],
        format!("取证.pdf (50000 bytes, SM3 {digest})").as_str()
    );

    // Listed, and downloaded byte for byte with the digest and safe headers.
    let (s, list) = app
        .get(
            &format!("/api/v1/incidents/{}/evidence", app.a.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["sm3"], digest.as_str());
    let (s, got, h) = download(&app, &app.officer, app.a.incident, &id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, bytes);
    assert_eq!(h["x-content-sm3"], digest.as_str());
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E5%8F%96%E8%AF%81.pdf"
    );

    // Analysts and the platform admin work on any incident.
    let (s, v) = upload(
        &app,
        &app.analyst,
        app.b.incident,
        "filename=a.txt",
        "text/plain",
        b"a",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _, _) = download(&app, &app.admin, app.a.incident, &id).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn other_organizations_get_404_and_the_auditor_only_reads() {
    let app = TestApp::new().await;
    let (s, ev) = upload(
        &app,
        &app.admin,
        app.b.incident,
        "filename=b.log",
        "text/plain",
        b"b's log",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    let id = ev["id"].as_str().expect("id").to_string();

    // A's officer: B's incident does not exist for it, whatever it tries.
    let (s, v) = upload(
        &app,
        &app.officer,
        app.b.incident,
        "filename=x.txt",
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], "not_found");
    let (s, v) = app
        .get(
            &format!("/api/v1/incidents/{}/evidence", app.b.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, body, _) = download(&app, &app.officer, app.b.incident, &id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&body).contains("b's log"));
    // Nor through its own incident's path.
    let (s, _, _) = download(&app, &app.officer, app.a.incident, &id).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let listed = app
        .store
        .list_evidence(vigil_model::Scope::All, app.b.incident)
        .await
        .expect("store")
        .expect("incident");
    assert_eq!(listed.len(), 1, "the refused upload stored nothing");

    // The auditor reads and downloads, and may not upload.
    let (s, v) = app
        .get(
            &format!("/api/v1/incidents/{}/evidence", app.b.incident),
            &app.auditor,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"][0]["file_name"], "b.log");
    let (s, body, _) = download(&app, &app.auditor, app.b.incident, &id).await;
    assert_eq!(
        (s, body.as_slice()),
        (StatusCode::OK, b"b's log".as_slice())
    );
    let (s, v) = upload(
        &app,
        &app.auditor,
        app.b.incident,
        "filename=x.txt",
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "forbidden");
}

#[tokio::test]
async fn tampered_bytes_are_refused_never_served() {
    let app = TestApp::new().await;
    let (s, ev) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=dump.bin",
        "application/octet-stream",
        b"original bytes",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    let id = ev["id"].as_str().expect("id").to_string();

    // Someone with access to the database file swaps the bytes.
    let db = app._dir.path().join("vigil.db");
    let conn = rusqlite::Connection::open(&db).expect("open the database file");
    let changed = conn
        .execute(
            "UPDATE evidence_content SET bytes = ?1 WHERE evidence_id = ?2",
            rusqlite::params![b"forged bytes!!".to_vec(), id],
        )
        .expect("tamper");
    assert_eq!(changed, 1);

    let (s, body, _) = download(&app, &app.officer, app.a.incident, &id).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("forged"), "tampered bytes served: {text}");
    let v: Value = serde_json::from_slice(&body).expect("JSON error");
    assert_eq!(v["code"], "evidence_integrity");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("SM3")),
        "{v}"
    );
    assert_eq!(
        v["details"]["sm3"],
        vigil_crypto::sm3_hex(b"original bytes").as_str()
    );

    // The refusal is audited as a failure.
    let (_, audit) = app
        .get(
            "/api/v1/audit?action=incident.evidence.download",
            &app.auditor,
        )
        .await;
    let failed = audit["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|r| r["outcome"] == "failure"));
    assert!(failed, "{audit}");
}

#[tokio::test]
async fn active_content_is_served_as_octet_stream_and_names_are_sanitized() {
    let app = TestApp::new().await;
    let html = b"<script>alert(document.cookie)</script>";
    let (s, ev) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=..%2F..%2Fetc%2Fpasswd",
        "text/html; charset=utf-8",
        html,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    assert_eq!(ev["file_name"], "passwd");
    assert_eq!(ev["content_type"], "text/html");
    let id = ev["id"].as_str().expect("id").to_string();
    let (s, body, h) = download(&app, &app.officer, app.a.incident, &id).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, html);
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .is_ok_and(|d| d.starts_with("attachment;")
                && d.contains("passwd")
                && !d.contains("..")),
        "{h:?}"
    );

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>";
    let (_, ev) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=x.svg",
        "image/svg+xml",
        svg,
    )
    .await;
    let (_, _, h) = download(
        &app,
        &app.officer,
        app.a.incident,
        ev["id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");

    // No file name, an empty file and an unknown parameter are refused by name.
    let (s, v) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "note=x",
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"]["field"], "filename", "{v}");
    let (s, v) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=e.txt",
        "text/plain",
        b"",
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["details"]["field"], "content", "{v}");
    let (s, _) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=e.txt&bogus=1",
        "text/plain",
        b"x",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_with_the_limit() {
    let app = TestApp::with_config(vigil_web::WebConfig {
        max_body_bytes: 1 << 20,
        ..Default::default()
    })
    .await;
    let big = vec![7u8; (1 << 20) + 1];
    let (s, v) = upload(
        &app,
        &app.officer,
        app.a.incident,
        "filename=big.bin",
        "application/octet-stream",
        &big,
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["code"], "payload_too_large");
    assert_eq!(v["details"]["max_bytes"], 1 << 20);
    let listed = app
        .store
        .list_evidence(vigil_model::Scope::All, app.a.incident)
        .await
        .expect("store")
        .expect("incident");
    assert!(listed.is_empty());
}
