//! The warning pages: issue form (staff), list with progress, detail with recipients and the
//! pending list, acknowledgement by the organization, isolation, CSRF.

use super::*;

/// Issues a warning through the form as the analyst; returns the detail page path.
async fn issue(app: &App, cookie: &str, title: &str, org: OrgId) -> String {
    let page = get(app, "/warnings", Some(cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"issue-warning\""),
        "issue form shown"
    );
    let token = csrf_of(&page.body);
    let org = org.to_string();
    let r = post_form(
        app,
        "/warnings",
        Some(cookie),
        &[
            ("csrf", &token),
            ("title", title),
            ("level", "red"),
            ("summary", "Patch the PLCs <now>."),
            ("cves", "CVE-2024-38876"),
            ("org_id", &org),
            ("response_deadline", "2026-12-01T08:00"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location();
    assert!(
        loc.starts_with("/warnings/") && loc.ends_with("?issued=1"),
        "{loc}"
    );
    loc.trim_end_matches("?issued=1").to_string()
}

#[tokio::test]
async fn warnings_are_issued_listed_and_acknowledged_through_the_pages() {
    let app = app().await;
    let analyst = login(&app, "analyst").await;
    let path = issue(&app, &analyst, "S7-1200 exploitation", app.a.id).await;
    let other = issue(&app, &analyst, "Bravo only bulletin", app.b.id).await;

    let d = get(&app, &path, Some(&analyst)).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.body.contains("Red warning"), "level badge");
    assert!(
        d.body.contains("Patch the PLCs &#60;now&#62;."),
        "escaped body"
    );
    assert!(d.body.contains(&app.a.name), "recipient row");
    assert!(d.body.contains("id=\"pending\""), "pending list for staff");
    assert!(d.body.contains("0 of 1 acknowledged"));

    // The organization user: its warning with progress, not the other one.
    let officer = login(&app, "officer").await;
    let list = get(&app, "/warnings", Some(&officer)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("S7-1200 exploitation"));
    assert!(list.body.contains("0 / 1"));
    assert!(!list.body.contains("Bravo only bulletin"));
    assert!(!list.body.contains("id=\"issue-warning\""), "no issue form");
    assert_eq!(
        get(&app, &other, Some(&officer)).await.status,
        StatusCode::NOT_FOUND
    );
    let page = get(&app, &path, Some(&officer)).await;
    assert!(page.body.contains("id=\"ack-form\""));
    assert!(!page.body.contains("id=\"pending\""));
    assert!(!page.body.contains(&app.b.name));

    // Without the CSRF token: refused, nothing acknowledged.
    let ack = format!("{path}/ack");
    let r = post_form(
        &app,
        &ack,
        Some(&officer),
        &[("csrf", "nope"), ("response", "x")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let token = csrf_of(&page.body);
    let r = post_form(
        &app,
        &ack,
        Some(&officer),
        &[("csrf", &token), ("response", "Firmware updated")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&app, &path, Some(&officer)).await;
    assert!(page.body.contains("1 of 1 acknowledged"), "{}", page.body);
    assert!(page.body.contains("Firmware updated"));
    assert!(
        !page.body.contains("id=\"ack-form\""),
        "nothing left to acknowledge"
    );
    // Staff see who acknowledged.
    let d = get(&app, &path, Some(&analyst)).await;
    assert!(d.body.contains("user:officer"));

    // The auditor reads, cannot issue.
    let auditor = login(&app, "auditor").await;
    let list = get(&app, "/warnings", Some(&auditor)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("id=\"issue-warning\""));
    let token = csrf_of(&list.body);
    let r = post_form(
        &app,
        "/warnings",
        Some(&auditor),
        &[
            ("csrf", &token),
            ("title", "x"),
            ("level", "red"),
            ("summary", "x"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
