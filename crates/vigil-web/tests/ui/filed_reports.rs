//! Filed reports on the incident page (buttons, list, the stored report printable and as PDF),
//! the monthly situation report as PDF with its Chinese text in a CJK font, and the overdue
//! filter of the incident list.

use super::*;

async fn raw(app: &App, path: &str, cookie: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .header(header::HOST, "vigil.test")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request");
    let resp = app.router().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, bytes.to_vec())
}

/// Chromium is there, or the test may say SKIP (never under `VIGIL_TEST_REQUIRE=1`).
fn chromium_or_skip(test: &str) -> bool {
    if vigil_web::pdf::available() {
        return true;
    }
    assert!(
        !vigil_testkit::require(),
        "{test}: {} is missing and VIGIL_TEST_REQUIRE=1 forbids skipping",
        vigil_web::pdf::CHROMIUM
    );
    println!("SKIP {test}: {} is not installed", vigil_web::pdf::CHROMIUM);
    false
}

/// Runs a poppler tool over a PDF; `None` (SKIP) when poppler-utils is missing, which
/// `VIGIL_TEST_REQUIRE=1` forbids.
fn poppler(test: &str, tool: &str, pdf: &[u8], extra: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).expect("write pdf");
    let mut cmd = std::process::Command::new(tool);
    cmd.arg(&file).args(extra);
    match cmd.output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{tool}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => {
            assert!(
                !vigil_testkit::require(),
                "{test}: {tool} (poppler-utils) cannot run ({e}) and VIGIL_TEST_REQUIRE=1 forbids skipping"
            );
            println!("SKIP {test}: {tool} is not installed");
            None
        }
    }
}

#[tokio::test]
async fn reports_are_filed_from_the_incident_page_and_printed_as_filed() {
    const TEST: &str = "reports_are_filed_from_the_incident_page_and_printed_as_filed";
    let app = app().await;
    let inc = format!("/incidents/{}", app.a.incident);

    // The organization's officer sees the section but no filing buttons, and cannot forge one.
    let officer = login(&app, "officer").await;
    let page = get(&app, &inc, Some(&officer)).await;
    assert!(page.body.contains("id=\"reports\""), "section missing");
    assert!(page.body.contains("No report has been filed"));
    assert!(!page.body.contains("id=\"file-initial\""));
    let token = csrf_of(&page.body);
    let r = post_form(
        &app,
        &format!("{inc}/reports"),
        Some(&officer),
        &[("csrf", &token), ("kind", "initial")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The analyst has the buttons; before the notice the filing is refused with the reason.
    let c = login(&app, "analyst").await;
    let page = get(&app, &inc, Some(&c)).await;
    for kind in ["initial", "supplement", "final"] {
        assert!(
            page.body.contains(&format!("id=\"file-{kind}\"")),
            "{kind} button"
        );
    }
    let token = csrf_of(&page.body);
    let r = post_form(
        &app,
        &format!("{inc}/reports"),
        Some(&c),
        &[("csrf", &token), ("kind", "initial")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("notified"), "{}", r.body);
    // Without the CSRF token nothing is filed.
    let r = post_form(
        &app,
        &format!("{inc}/reports"),
        Some(&c),
        &[("kind", "initial")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    notify(&app).await;
    let r = post_form(
        &app,
        &format!("{inc}/reports"),
        Some(&c),
        &[("csrf", &token), ("kind", "initial")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{inc}?filed=1#reports"));
    let page = get(&app, r.location(), Some(&c)).await;
    assert!(page.body.contains("Report #1 filed."));
    assert!(page.body.contains("id=\"filed-1\""));
    let filed = app
        .store
        .list_filed_reports(Scope::All, app.a.incident)
        .await
        .expect("list")
        .expect("incident");
    assert_eq!(filed.len(), 1);
    let rec = &filed[0];
    assert!(page.body.contains(&rec.sm3), "digest listed");
    let href = format!("{inc}/reports/{}", rec.id);
    assert!(page.body.contains(&format!("href=\"{href}\"")));
    assert!(page.body.contains(&format!("href=\"{href}?format=pdf\"")));

    // The stored report, printable, for the organization too; not for another one's view.
    let shown = get(&app, &href, Some(&officer)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("Initial report #1"));
    assert!(shown.body.contains("id=\"report-unit\""));
    assert!(shown.body.contains("Alpha Grid Power Co"));
    let other = format!("/incidents/{}/reports/{}", app.b.incident, rec.id);
    assert_eq!(
        get(&app, &other, Some(&c)).await.status,
        StatusCode::NOT_FOUND
    );

    if !chromium_or_skip(TEST) {
        return;
    }
    let (s, h, pdf) = raw(&app, &format!("{href}?format=pdf"), &officer).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    if let Some(text) = poppler(TEST, "pdftotext", &pdf, &["-"]) {
        assert!(text.contains("Alpha Grid Power Co"), "{text}");
    }
}

#[tokio::test]
async fn the_monthly_report_prints_to_pdf_with_chinese_in_a_cjk_font() {
    const TEST: &str = "the_monthly_report_prints_to_pdf_with_chinese_in_a_cjk_font";
    let app = app().await;
    // The administrator reads Chinese.
    let c = login(&app, "admin").await;
    let month = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .strftime("%Y-%m")
        .to_string();
    let page = get(&app, &format!("/reports/monthly?month={month}"), Some(&c)).await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = get(&app, "/reports/monthly?format=docx", Some(&c)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    if !chromium_or_skip(TEST) {
        assert!(!page.body.contains("id=\"report-pdf\""));
        return;
    }
    assert!(
        page.body.contains(&format!(
            "href=\"/reports/monthly?month={month}&amp;format=pdf\""
        )),
        "the page links to the PDF"
    );
    let (s, h, pdf) = raw(
        &app,
        &format!("/reports/monthly?month={month}&format=pdf"),
        &c,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(
        h.get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(&format!("situation-report-{month}.pdf")))
    );
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    // The Chinese title comes back as text, set in an embedded CJK font (without one,
    // Chromium prints empty boxes and pdftotext finds no Chinese).
    if let Some(text) = poppler(TEST, "pdftotext", &pdf, &["-"]) {
        assert!(text.contains("月度态势报告"), "no Chinese title in: {text}");
        assert!(text.contains("跟踪事件数"), "{text}");
    }
    // Chromium embeds the CJK glyphs as Type 3 fonts (pdffonts shows no name), with the
    // font they come from in the font descriptor.
    let raw_text = String::from_utf8_lossy(&pdf);
    let cjk_fonts: Vec<&str> = raw_text
        .split("/FontName /")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next())
        .filter(|name| name.contains("CJK"))
        .collect();
    assert!(
        !cjk_fonts.is_empty(),
        "no embedded Noto CJK font in the PDF's font descriptors"
    );
}

#[tokio::test]
async fn the_incident_list_filters_by_overdue_and_marks_overdue_rows() {
    let app = app().await;
    let c = login(&app, "analyst").await;
    // Alpha's incident: 较大, registered two hours ago (a CII organization reports within 1 h).
    let two_hours_ago = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .expect("time");
    let conn = rusqlite::Connection::open(app._dir.path().join("db").join("vigil.db")).expect("db");
    let n = conn
        .execute(
            "UPDATE incidents SET created_at = ?1, grade = 'large' WHERE id = ?2",
            rusqlite::params![two_hours_ago.as_microsecond(), app.a.incident.to_string()],
        )
        .expect("backdate");
    assert_eq!(n, 1);

    let all = get(&app, "/incidents", Some(&c)).await;
    assert!(all.body.contains("id=\"overdue-filter\""));
    assert!(all.body.contains(&app.a.incident_title));
    assert!(all.body.contains(&app.b.incident_title));
    assert_eq!(
        all.body.matches("class=\"badge-overdue").count(),
        1,
        "one overdue row"
    );

    let overdue = get(&app, "/incidents?overdue=true", Some(&c)).await;
    assert_eq!(overdue.status, StatusCode::OK);
    assert!(overdue.body.contains(&app.a.incident_title));
    assert!(!overdue.body.contains(&app.b.incident_title));
    let not = get(&app, "/incidents?overdue=false", Some(&c)).await;
    assert!(!not.body.contains(&app.a.incident_title));
    assert!(not.body.contains(&app.b.incident_title));
    // Alpha's officer sees its own overdue incident and never Bravo's.
    let officer = login(&app, "officer").await;
    let own = get(&app, "/incidents?overdue=true", Some(&officer)).await;
    assert!(own.body.contains(&app.a.incident_title));
    assert!(!own.body.contains(&app.b.incident_title));
}
