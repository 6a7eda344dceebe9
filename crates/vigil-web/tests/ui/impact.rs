//! The incident page's impact section: the organization's user records the impact through
//! the form with the CSRF token; the incident is re-graded (raised, with the notice saying
//! so); the values come back in the form, on the timeline and in the regulatory report; a
//! wrong token or a bad number stores nothing; the auditor sees the values but no form; the
//! Chinese page says 影响情况.

use super::*;

fn form<'a>(csrf: &'a str, records: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("outage_minutes", "45"),
        ("people_affected", "2,400"),
        ("personal_records_leaked", records),
        ("direct_loss_yuan", ""),
        ("ransom_status", "demanded"),
        ("ransom_amount", "1.5"),
        ("ransom_currency", "btc"),
        ("ransom_method", "btc"),
        ("ransom_date", ""),
        (
            "ransom_wallet",
            "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        ),
        ("affected_scope", "customer database <db1>"),
        ("preliminary_cause", "SQL injection in the portal"),
        (
            "support_requested",
            "Forensic analysis of the database server",
        ),
    ]
}

#[tokio::test]
async fn the_organization_records_the_impact_through_the_form_and_the_grade_is_raised() {
    let app = app().await;
    let id = app.a.incident;
    let page_path = format!("/incidents/{id}");
    let post_path = format!("/incidents/{id}/impact");
    let c = login(&app, "officer").await;
    let page = get(&app, &page_path, Some(&c)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"impact-form\""), "{}", page.body);
    assert!(page.body.contains("No impact recorded yet."));
    // Not ransomware and no ransom recorded: no ransom block.
    assert!(!page.body.contains("id=\"impact-ransom\""));
    let token = csrf_of(&page.body);

    // A wrong token is refused and stores nothing.
    let r = post_form(&app, &post_path, Some(&c), &form("forged", "150000000")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A figure that is not a number is refused, naming the field.
    let r = post_form(&app, &post_path, Some(&c), &form(&token, "lots")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("personal_records_leaked"), "{}", r.body);
    // The API's validation speaks through the form too.
    let mut bad = form(&token, "1");
    bad.retain(|(k, _)| *k != "ransom_amount");
    bad.push(("ransom_amount", "-2"));
    let r = post_form(&app, &post_path, Some(&c), &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("ransom.amount"), "{}", r.body);
    assert_eq!(
        app.store
            .get_incident_impact(Scope::All, id)
            .await
            .expect("store"),
        None
    );

    // 150 million records leaked: 特别重大 by the thresholds, raised from 重大.
    let r = post_form(&app, &post_path, Some(&c), &form(&token, "150000000")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/incidents/{id}?impact=1&raised=especially_major#impact")
    );
    let rec = app
        .store
        .get_incident_impact(Scope::All, id)
        .await
        .expect("store")
        .expect("recorded");
    assert_eq!(rec.impact.personal_records_leaked, Some(150_000_000));
    assert_eq!(rec.impact.people_affected, Some(2_400));
    assert_eq!(rec.impact.direct_loss_yuan, None);
    let ransom = rec.impact.ransom.as_ref().expect("ransom");
    assert_eq!(
        (ransom.amount.as_str(), ransom.currency.as_str()),
        ("1.5", "BTC")
    );
    assert_eq!(rec.recorded_by, "user:officer");
    let inc = app
        .store
        .get_incident(Scope::All, id)
        .await
        .expect("store")
        .expect("incident");
    assert_eq!(inc.spec.grade, Grade::EspeciallyMajor);
    assert_eq!(
        inc.timeline.last().map(|e| e.action.as_str()),
        Some("grade:raised")
    );

    // The page says so, shows the values in the form, the ransom block and the timeline.
    let page = get(&app, &r.location().replace("#impact", ""), Some(&c)).await;
    assert!(
        page.body.contains("raised to Especially major (I)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"150000000\""));
    assert!(page.body.contains("id=\"impact-ransom\""));
    assert!(page.body.contains("value=\"demanded\" selected"));
    assert!(page.body.contains("Impact recorded"));
    assert!(page.body.contains("Grade raised by the impact"));
    assert!(page.body.contains("Last recorded by user:officer"));
    assert!(!page.body.contains("<db1>"), "escaped");

    // The regulatory report shows the values instead of "not recorded".
    let report = get(&app, &format!("{page_path}/report"), Some(&c)).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains("150000000"), "{}", report.body);
    assert!(report.body.contains("1.5 BTC"));
    assert!(
        report
            .body
            .contains("Forensic analysis of the database server")
    );
    assert!(report.body.contains("SQL injection in the portal"));

    // The auditor sees the values, not the form, and may not post.
    let auditor = login(&app, "auditor").await;
    let page = get(&app, &page_path, Some(&auditor)).await;
    assert!(!page.body.contains("id=\"impact-form\""));
    assert!(page.body.contains("id=\"impact-values\""));
    assert!(
        page.body
            .contains("Forensic analysis of the database server")
    );
    let r = post_form(
        &app,
        &post_path,
        Some(&auditor),
        &form(&csrf_of(&page.body), "1"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // In Chinese the section is 影响情况.
    let admin = login(&app, "admin").await;
    let page = get(&app, &page_path, Some(&admin)).await;
    assert!(page.body.contains("影响情况"));
    assert!(page.body.contains("赎金（勒索软件）"));
}
