//! Incident impact (`PUT /api/v1/incidents/{id}/impact`): recorded by staff and by the
//! incident's own organization, validated field by field (422 naming the field), audited, on
//! the timeline, in the incident's JSON, re-graded by the thresholds (raised with the reasons,
//! never lowered), isolated from other organizations, refused to the auditor, and shown by
//! the regulatory report (and the filed one) instead of "not recorded".

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};

fn path(id: vigil_model::IncidentId) -> String {
    format!("/api/v1/incidents/{id}/impact")
}

fn ransomware_impact() -> Value {
    json!({
        "people_affected": 1200,
        "personal_records_leaked": 12_000_000,
        "direct_loss_yuan": 3_500_000,
        "ransom": {
            "status": "paid", "amount": "2.5", "currency": "btc", "payment_method": "btc",
            "payment_date": "2026-11-03",
            "wallet_address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        },
        "support_requested": "数据恢复与溯源技术支持",
        "preliminary_cause": "VPN 弱口令被暴力破解",
        "affected_scope": "生产网 40 台服务器",
    })
}

async fn incident(app: &TestApp, id: vigil_model::IncidentId) -> Value {
    let (s, inc) = app
        .get(&format!("/api/v1/incidents/{id}"), &app.analyst)
        .await;
    assert_eq!(s, StatusCode::OK, "{inc}");
    inc
}

#[tokio::test]
async fn the_organization_records_impact_and_the_grade_is_raised_with_reasons_never_lowered() {
    let app = TestApp::new().await;
    let id = app.a.incident;
    assert_eq!(incident(&app, id).await["impact"], Value::Null);
    assert_eq!(incident(&app, id).await["grade"], "general");

    // The incident's own organization reports it with its feedback: twelve million records
    // leaked is 重大 by the thresholds, so the grade goes up, with the reason.
    let (s, out) = app
        .json("PUT", &path(id), &app.officer, ransomware_impact())
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["raised"], true);
    assert_eq!(out["previous_grade"], "general");
    assert_eq!(out["grade"], "major");
    assert_eq!(out["computed_grade"], "major");
    let reasons = out["reasons"].as_array().cloned().unwrap_or_default();
    assert!(
        reasons
            .iter()
            .any(|r| r["factor"] == "personal_records_leaked" && r["value"] == 12_000_000),
        "{out}"
    );
    assert!(
        out["thresholds_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(
        out["impact"]["ransom"]["currency"], "BTC",
        "normalized: {out}"
    );
    assert_eq!(out["impact"]["recorded_by"], "token:org_user-token");

    // The incident's JSON carries it; the timeline has the record and the raise with reasons.
    let inc = incident(&app, id).await;
    assert_eq!(inc["grade"], "major");
    assert_eq!(inc["impact"]["personal_records_leaked"], 12_000_000);
    assert_eq!(inc["impact"]["ransom"]["payment_method"], "btc");
    assert_eq!(inc["impact"]["support_requested"], "数据恢复与溯源技术支持");
    let timeline = inc["timeline"].as_array().cloned().unwrap_or_default();
    let n = timeline.len();
    assert_eq!(timeline[n - 2]["action"], "impact");
    assert!(
        timeline[n - 2]["note"]
            .as_str()
            .is_some_and(|s| s.contains("personal records leaked 12000000")),
        "{inc}"
    );
    assert_eq!(timeline[n - 1]["action"], "grade:raised");
    let note = timeline[n - 1]["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("general -> major: "), "{note}");
    assert!(
        note.contains("personal_records_leaked 12000000 >= "),
        "{note}"
    );

    // Audited.
    let (_, audit) = app
        .get("/api/v1/audit?action=incident.impact", &app.auditor)
        .await;
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    let rec = items
        .iter()
        .find(|r| r["action"] == "incident.impact")
        .unwrap_or_else(|| panic!("no incident.impact record in {audit}"));
    assert_eq!(rec["object"], format!("incident/{id}").as_str());
    let detail: Value =
        serde_json::from_str(rec["detail"].as_str().unwrap_or("{}")).expect("detail is JSON");
    assert_eq!(detail["raised"], true);
    assert_eq!(detail["computed_grade"], "major");

    // A smaller impact computes a lower grade: recorded, but the grade is never lowered.
    let (s, out) = app
        .json(
            "PUT",
            &path(id),
            &app.analyst,
            json!({ "outage_minutes": 10 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["raised"], false);
    assert_eq!(out["computed_grade"], "general");
    assert_eq!(out["grade"], "major");
    let inc = incident(&app, id).await;
    assert_eq!(inc["grade"], "major");
    assert_eq!(inc["impact"]["outage_minutes"], 10);
    assert_eq!(inc["impact"]["personal_records_leaked"], Value::Null);
    assert_eq!(inc["timeline"].as_array().map(Vec::len), Some(n + 1));

    // Six hours down on a CII operator's system is 特别重大: raised again.
    let (s, out) = app
        .json(
            "PUT",
            &path(id),
            &app.admin,
            json!({ "outage_minutes": 360 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["raised"], true);
    assert_eq!(out["previous_grade"], "major");
    assert_eq!(out["grade"], "especially_major");
    assert!(
        out["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["factor"] == "outage_minutes")),
        "{out}"
    );
}

#[tokio::test]
async fn invalid_impact_is_refused_naming_the_field_and_nothing_changes() {
    let app = TestApp::new().await;
    let id = app.a.incident;
    let cases = [
        (json!({ "outage_minutes": 99_999_999 }), "outage_minutes"),
        (
            json!({ "direct_loss_yuan": 2_000_000_000_000_000u64 }),
            "direct_loss_yuan",
        ),
        (
            json!({ "ransom": { "status": "demanded", "amount": "-5", "currency": "BTC" } }),
            "ransom.amount",
        ),
        (
            json!({ "ransom": { "status": "paid", "amount": "5", "currency": "BTC",
                                "payment_date": "2026-11-03" } }),
            "ransom.payment_method",
        ),
        (
            json!({ "ransom": { "status": "demanded", "amount": "5", "currency": "BTC",
                                "wallet_address": "bc1 <script>" } }),
            "ransom.wallet_address",
        ),
        (
            json!({ "support_requested": "x".repeat(5_001) }),
            "support_requested",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = app.json("PUT", &path(id), &app.analyst, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
        assert_eq!(e["details"]["field"], field, "{e}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.starts_with(field)),
            "{e}"
        );
    }
    // Unknown fields and wrong types are data errors too.
    let (s, e) = app
        .json("PUT", &path(id), &app.analyst, json!({ "mood": "bad" }))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("mood")),
        "{e}"
    );
    let (s, _) = app
        .json(
            "PUT",
            &path(id),
            &app.analyst,
            json!({ "outage_minutes": -1 }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let inc = incident(&app, id).await;
    assert_eq!(inc["impact"], Value::Null);
    assert_eq!(inc["grade"], "general");
    assert!(
        !inc["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["action"] == "impact"))
    );
}

#[tokio::test]
async fn another_organizations_incident_is_not_found_and_the_auditor_may_not_record() {
    let app = TestApp::new().await;
    // The officer of A cannot see B's incident: 404, as if it did not exist.
    let (s, e) = app
        .json(
            "PUT",
            &path(app.b.incident),
            &app.officer,
            ransomware_impact(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    // The auditor only reads.
    let (s, e) = app
        .json(
            "PUT",
            &path(app.a.incident),
            &app.auditor,
            ransomware_impact(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    // No token at all.
    let (s, _) = app
        .call(
            "PUT",
            &path(app.a.incident),
            None,
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for id in [app.a.incident, app.b.incident] {
        let inc = incident(&app, id).await;
        assert_eq!(inc["impact"], Value::Null, "{inc}");
        assert_eq!(inc["grade"], "general");
    }
    // An unknown incident is not found either.
    let (s, _) = app
        .json(
            "PUT",
            &path(vigil_model::IncidentId::new()),
            &app.analyst,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_regulatory_report_shows_the_recorded_impact_ransom_cause_and_support() {
    let app = TestApp::new().await;
    let id = app.a.incident;
    let report = format!("/api/v1/incidents/{id}/report");
    let (s, before) = app.get(&report, &app.analyst).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    assert_eq!(before["impact"]["personal_records_leaked"], Value::Null);
    assert_eq!(before["support_requested"], Value::Null);
    // Not ransomware and no ransom recorded: no ransom block.
    assert_eq!(before["ransom"], Value::Null);

    let (s, out) = app
        .json("PUT", &path(id), &app.officer, ransomware_impact())
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    for kind in ["initial", "supplement"] {
        let (s, r) = app
            .get(&format!("{report}?kind={kind}"), &app.analyst)
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let i = &r["impact"];
        assert_eq!(i["personal_records_leaked"], 12_000_000, "{r}");
        assert_eq!(i["people_affected"], 1200);
        assert_eq!(i["direct_loss_yuan"], 3_500_000);
        assert_eq!(i["outage_minutes"], Value::Null);
        assert_eq!(i["affected_scope"], "生产网 40 台服务器");
        assert_eq!(i["recorded_by"], "token:org_user-token");
        let ransom = &r["ransom"];
        assert_eq!(ransom["amount"], "2.5", "{r}");
        assert_eq!(ransom["currency"], "BTC");
        assert_eq!(ransom["status"], "paid");
        assert_eq!(ransom["payment_method"], "btc");
        assert_eq!(ransom["paid_on"], "2026-11-03");
        assert_eq!(
            ransom["wallet_address"],
            "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
        );
        assert_eq!(r["support_requested"], "数据恢复与溯源技术支持");
        assert_eq!(r["preliminary_cause"], "VPN 弱口令被暴力破解");
    }
    // A filed report carries the values too.
    let (s, filed) = app
        .json(
            "POST",
            &format!("/api/v1/incidents/{id}/reports"),
            &app.analyst,
            json!({ "kind": "initial" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let rid = filed["id"].as_str().unwrap_or_default();
    let (s, stored) = app
        .get(
            &format!("/api/v1/incidents/{id}/reports/{rid}"),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!(
        stored["impact"]["personal_records_leaked"], 12_000_000,
        "{stored}"
    );
    assert_eq!(
        stored["ransom"]["wallet_address"],
        "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
    );
    assert_eq!(stored["support_requested"], "数据恢复与溯源技术支持");

    // The organization of the other incident sees none of it.
    let (s, _) = app
        .get(
            &format!("/api/v1/incidents/{}/report", app.b.incident),
            &app.officer,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_the_impact_body() {
    let app = TestApp::new().await;
    let (s, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/api/v1/incidents/{id}/impact"]["put"];
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IncidentImpact",
        "{op}"
    );
    let schema = &doc["components"]["schemas"]["IncidentImpact"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["outage_minutes"]["maximum"],
        vigil_model::incident::MAX_IMPACT_MINUTES
    );
    let methods = schema["properties"]["ransom"]["properties"]["payment_method"]["enum"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(methods.contains(&json!("xmr")) && methods.contains(&json!("bank")));
}
