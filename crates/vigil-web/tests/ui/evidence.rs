//! The incident page's evidence section: the organization's user uploads a file through the
//! multipart form with the CSRF token and sees it listed with its SM3 digest and a download
//! link; a wrong token stores nothing; the auditor sees the list but no form; the Chinese
//! page says 证据材料.

use super::*;

const BOUNDARY: &str = "vigil-test-boundary-7MA4YWxkTrZu0gW";

fn multipart_body(csrf: &str, note: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in [("csrf", csrf), ("note", note)] {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn post_multipart(app: &App, path: &str, cookie: &str, body: Vec<u8>) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "vigil.test")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request");
    send(app, req).await
}

#[tokio::test]
async fn the_organization_uploads_evidence_through_the_form_and_sees_it_listed() {
    let app = app().await;
    let page_path = format!("/incidents/{}", app.a.incident);
    let upload_path = format!("/incidents/{}/evidence", app.a.incident);
    let c = login(&app, "officer").await;
    let page = get(&app, &page_path, Some(&c)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"evidence\""));
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    let token = csrf_of(&page.body);

    // A wrong token is refused and stores nothing.
    let r = post_multipart(
        &app,
        &upload_path,
        &c,
        multipart_body("forged", "", "x.txt", b"x"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let stored = app
        .store
        .list_evidence(Scope::All, app.a.incident)
        .await
        .expect("store")
        .expect("incident");
    assert!(stored.is_empty());

    // The real token: stored, redirected back, listed with digest and download link.
    let bytes = b"firewall log <script>excerpt</script>\n";
    let r = post_multipart(
        &app,
        &upload_path,
        &c,
        multipart_body(&token, "from the <edge> firewall", "../fw.log", bytes),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/incidents/{}?evidence=1#evidence", app.a.incident)
    );
    let stored = app
        .store
        .list_evidence(Scope::All, app.a.incident)
        .await
        .expect("store")
        .expect("incident");
    assert_eq!(stored.len(), 1);
    let ev = &stored[0];
    assert_eq!(ev.file_name, "fw.log");
    assert_eq!(ev.sm3, vigil_crypto::sm3_hex(bytes));
    assert_eq!(ev.uploaded_by, "user:officer");

    let page = get(&app, &format!("{page_path}?evidence=1"), Some(&c)).await;
    assert!(page.body.contains("Evidence file stored."), "{}", page.body);
    assert!(page.body.contains(&format!(
        "href=\"/api/v1/incidents/{}/evidence/{}\"",
        app.a.incident, ev.id
    )));
    assert!(page.body.contains(">fw.log</a>"));
    assert!(page.body.contains(&ev.sm3));
    assert!(
        page.body.contains("Evidence file attached"),
        "timeline entry"
    );
    assert!(!page.body.contains("<edge>"), "the note is escaped");

    // The download link serves the same bytes to the session.
    let d = get(
        &app,
        &format!("/api/v1/incidents/{}/evidence/{}", app.a.incident, ev.id),
        Some(&c),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body.as_bytes(), bytes);
    assert_eq!(d.headers["x-content-sm3"], ev.sm3.as_str());

    // The auditor sees the list, not the form; the other organization's user sees nothing.
    let auditor = login(&app, "auditor").await;
    let page = get(&app, &page_path, Some(&auditor)).await;
    assert!(page.body.contains(">fw.log</a>"));
    assert!(!page.body.contains("id=\"evidence-form\""));
    let r = post_multipart(
        &app,
        &upload_path,
        &auditor,
        multipart_body(&csrf_of(&page.body), "", "a.txt", b"a"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // In Chinese the section is 证据材料.
    let admin = login(&app, "admin").await;
    let page = get(&app, &page_path, Some(&admin)).await;
    assert!(page.body.contains("证据材料"));
    assert!(page.body.contains("SM3 摘要"));
}
