//! The printable regulatory incident report: sections in English and Chinese, the link from
//! the incident page, the kinds, isolation, and the PDF where Chromium is installed.

use super::*;

fn report_path(app: &App, kind: &str) -> String {
    format!("/incidents/{}/report?kind={kind}", app.a.incident)
}

const SECTIONS: [&str; 7] = [
    "id=\"report-unit\"",
    "id=\"report-basics\"",
    "id=\"report-impact\"",
    "id=\"report-trend\"",
    "id=\"report-cause\"",
    "id=\"report-leads\"",
    "id=\"report-further\"",
];

#[tokio::test]
async fn the_incident_report_renders_its_sections_in_both_languages() {
    let app = app().await;
    notify(&app).await;
    // English (the analyst's language).
    let c = login(&app, "analyst").await;
    let incident = get(&app, &format!("/incidents/{}", app.a.incident), Some(&c)).await;
    assert!(
        incident.body.contains(&format!(
            "href=\"/incidents/{}/report?kind=initial\"",
            app.a.incident
        )),
        "the incident page links to the report"
    );
    let r = get(&app, &report_path(&app, "initial"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for s in SECTIONS {
        assert!(r.body.contains(s), "{s} missing");
    }
    assert!(
        r.body
            .contains("Cyber security incident report · Initial report")
    );
    assert!(r.body.contains("Alpha Grid Power Co Security Chief (CISO)"));
    assert!(r.body.contains("Alpha Grid Power Co Line PLC"));
    assert!(r.body.contains("NACRED"));
    assert!(r.body.contains("Major (II)") || r.body.contains("II · Major"));
    assert!(
        r.body.contains("not recorded"),
        "impact figures are not invented"
    );
    assert!(r.body.contains("id=\"report-no-measures\""));
    assert!(r.body.contains("sigma-ssh-bruteforce"), "tracing lead");
    assert!(!r.body.contains("id=\"report-ransom\""), "not ransomware");
    assert!(!r.body.contains("Bravo Chemical Works"));

    // A comment is a measure, listed in the supplement as a change.
    let token = csrf_of(&incident.body);
    let posted = post_form(
        &app,
        &format!("/incidents/{}", app.a.incident),
        Some(&c),
        &[("csrf", &token), ("comment", "jump host <isolated>")],
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let r = get(&app, &report_path(&app, "supplement"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"report-changes\""));
    assert!(
        r.body.contains("jump host &#60;isolated&#62;")
            || r.body.contains("jump host &lt;isolated&gt;"),
        "escaped"
    );
    assert!(!r.body.contains("<isolated>"));

    // The closing summary is refused while the incident is open.
    let r = get(&app, &report_path(&app, "final"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body
            .contains("The closing summary is made once the incident is closed or archived."),
        "{}",
        r.body
    );
    let r = get(&app, &report_path(&app, "weekly"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("kind"), "{}", r.body);

    // Chinese (the admin's language).
    let c = login(&app, "admin").await;
    let r = get(&app, &report_path(&app, "initial"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for s in SECTIONS {
        assert!(r.body.contains(s), "{s} missing");
    }
    for text in [
        "网络安全事件报告 · 初次报告",
        "一、事发单位及受影响设施、系统、平台",
        "二、事件发生时间、地点、类型、级别、影响及已采取的措施",
        "六、拟进一步采取的应对措施及请求支援事项",
        "重大",
        "未记录",
    ] {
        assert!(r.body.contains(text), "{text} missing");
    }

    // Another organization's user finds no such report.
    user(
        &*app.store,
        "bravo",
        Role::OrgUser,
        Some(app.b.id),
        Locale::En,
    )
    .await;
    let c = login(&app, "bravo").await;
    let r = get(&app, &report_path(&app, "initial"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Alpha Grid Power Co"));
}

#[tokio::test]
async fn ransomware_reports_show_the_ransom_fields() {
    let app = app().await;
    app.store
        .update_incident(
            Scope::All,
            app.a.incident,
            vigil_store::IncidentUpdate {
                category: Some("MP".into()),
                subcategory: Some(Some("MPRANS".into())),
                ..Default::default()
            },
            "user:analyst",
        )
        .await
        .expect("reclassify");
    let c = login(&app, "admin").await;
    let r = get(&app, &report_path(&app, "initial"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"report-ransom\""));
    for text in ["赎金金额", "支付方式", "支付日期", "勒索软件"] {
        assert!(r.body.contains(text), "{text} missing");
    }
}

#[tokio::test]
async fn the_incident_report_prints_to_pdf_where_chromium_is_installed() {
    const TEST: &str = "the_incident_report_prints_to_pdf_where_chromium_is_installed";
    let app = app().await;
    let c = login(&app, "analyst").await;
    let path = format!("{}&format=pdf", report_path(&app, "initial"));
    let r = {
        let req = Request::builder()
            .uri(&path)
            .header(header::HOST, "vigil.test")
            .header(header::COOKIE, &c)
            .body(Body::empty())
            .expect("request");
        let resp = app.router().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes)
    };
    if !vigil_web::pdf::available() {
        assert!(
            !vigil_testkit::require(),
            "{TEST}: {} is missing and VIGIL_TEST_REQUIRE=1 forbids skipping",
            vigil_web::pdf::CHROMIUM
        );
        // Without Chromium the answer says so.
        assert_eq!(r.0, StatusCode::SERVICE_UNAVAILABLE);
        println!("SKIP {TEST}: {} is not installed", vigil_web::pdf::CHROMIUM);
        return;
    }
    assert_eq!(r.0, StatusCode::OK, "{}", String::from_utf8_lossy(&r.2));
    assert_eq!(
        r.1.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert!(r.2.starts_with(b"%PDF-"), "not a PDF");
    assert!(r.2.len() > 1000, "a PDF with content");
}
