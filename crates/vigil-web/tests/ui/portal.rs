//! The organization portal (issue 6, item 5) in the rendered pages: the landing page of an
//! organization user (pending notices, incidents awaiting feedback, unacknowledged warnings
//! with overdue marks, sent-back items, the inventory by kind and importance, contacts) with
//! nothing of the other organization, notices and warnings acknowledged from it; the asset inventory forms (software rows added and
//! removed, importance floor, CSRF, another organization's asset absent, audited); the
//! feedback form (measures and evidence files in one submission).

use super::*;

/// `part` of the page between `id="{id}"` and the end of its section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("section {id} missing"));
    let rest = &html[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}

async fn set_status(
    app: &App,
    id: IncidentId,
    status: IncidentStatus,
    actor: &str,
    comment: Option<&str>,
) {
    app.store
        .update_incident(
            Scope::All,
            id,
            vigil_store::IncidentUpdate {
                status: Some(status),
                comment: comment.map(str::to_string),
                ..Default::default()
            },
            actor,
        )
        .await
        .expect("status")
        .expect("incident");
}

/// A second incident of `org`, walked to remediating after its feedback was sent back.
async fn sent_back_incident(app: &App, org: OrgId, title: &str) -> IncidentId {
    let inc = app
        .store
        .create_incident(
            NewIncident {
                org_id: org,
                title: title.into(),
                description: String::new(),
                category: "MP".into(),
                subcategory: Some("MPRANS".into()),
                grade: Grade::Large,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: Timestamp::now(),
            },
            "user:analyst",
        )
        .await
        .expect("incident");
    for s in [
        IncidentStatus::Triaged,
        IncidentStatus::Notified,
        IncidentStatus::Acknowledged,
        IncidentStatus::Remediating,
        IncidentStatus::Remediated,
    ] {
        set_status(app, inc.id, s, "user:someone", None).await;
    }
    set_status(
        app,
        inc.id,
        IncidentStatus::Remediating,
        "user:analyst",
        Some("Restore from the offline backup, not the shared one."),
    )
    .await;
    inc.id
}

/// Issues a warning to `org` through the analyst's form, its response deadline passed.
async fn issue_warning(app: &App, analyst: &str, title: &str, org: OrgId) {
    let token = csrf_of(&get(app, "/warnings", Some(analyst)).await.body);
    let org = org.to_string();
    let r = post_form(
        app,
        "/warnings",
        Some(analyst),
        &[
            ("csrf", &token),
            ("title", title),
            ("level", "orange"),
            ("summary", "Patch now."),
            ("org_id", &org),
            ("response_deadline", "2026-01-05T08:00"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn the_organization_user_lands_on_its_portal_and_sees_nothing_of_the_other() {
    let app = app().await;
    let (a, b) = (&app.a, &app.b);
    // Both organizations have a notice waiting and a sent-back incident and a warning.
    set_status(
        &app,
        a.incident,
        IncidentStatus::Notified,
        "user:analyst",
        None,
    )
    .await;
    set_status(
        &app,
        b.incident,
        IncidentStatus::Notified,
        "user:analyst",
        None,
    )
    .await;
    let a_back = "Alpha ransomware on the billing server";
    let b_back = "Bravo ransomware on the lab server";
    sent_back_incident(&app, a.id, a_back).await;
    sent_back_incident(&app, b.id, b_back).await;
    let analyst = login(&app, "analyst").await;
    issue_warning(&app, &analyst, "Alpha S7 firmware bulletin", a.id).await;
    issue_warning(&app, &analyst, "Bravo DCS bulletin", b.id).await;

    let c = login(&app, "officer").await;
    let r = get(&app, "/", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = &r.body;
    assert!(
        page.contains("Organization portal"),
        "the portal, not the overview"
    );
    assert!(!page.contains("id=\"heat\""), "no platform heat grid");
    assert!(page.contains(&format!("<span id=\"portal-org\">{}</span>", a.name)));

    let notices = section(page, "notices");
    assert!(notices.contains(&a.incident_title), "{notices}");
    assert!(
        notices.contains("deadline-pending") || notices.contains("deadline-overdue"),
        "the acknowledgement deadline with its state: {notices}"
    );
    let feedback = section(page, "feedback");
    assert!(feedback.contains(a_back), "{feedback}");
    assert!(feedback.contains("Sent back"), "{feedback}");
    let sent = section(page, "sent-back");
    assert!(
        sent.contains(a_back) && sent.contains("offline backup"),
        "{sent}"
    );
    let warnings = section(page, "portal-warnings");
    assert!(
        warnings.contains("Alpha S7 firmware bulletin"),
        "{warnings}"
    );
    assert!(
        warnings.contains("deadline-overdue"),
        "response deadline passed: {warnings}"
    );
    let assets = section(page, "portal-assets");
    assert!(assets.contains("PLC"), "{assets}");
    assert!(assets.contains("/assets?importance=critical"), "{assets}");
    let contacts = section(page, "portal-contacts");
    assert!(
        contacts.contains(&format!("{} Security Chief", a.name)),
        "{contacts}"
    );
    assert!(
        contacts.contains(&format!("{} Duty Officer", a.name)),
        "{contacts}"
    );

    for secret in [
        b.name.as_str(),
        b.incident_title.as_str(),
        b.asset.as_str(),
        b.alert_title.as_str(),
        b_back,
        "Bravo DCS bulletin",
    ] {
        assert!(!page.contains(secret), "the portal shows {secret}");
    }

    // Acknowledge from the portal: the notice (a workflow step) and the warning.
    assert!(notices.contains("class=\"inline ack-notice\""), "{notices}");
    let token = csrf_of(page);
    let r = post_form(
        &app,
        &format!("/incidents/{}", a.incident),
        Some(&c),
        &[("csrf", &token), ("status", "acknowledged")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let inc = app
        .store
        .get_incident(Scope::All, a.incident)
        .await
        .expect("store")
        .expect("incident");
    assert_eq!(inc.status, IncidentStatus::Acknowledged);
    let marker = "action=\"/warnings/";
    let start = warnings.find(marker).expect("ack form") + marker.len();
    let ack_path = format!(
        "/warnings/{}",
        &warnings[start..].split('"').next().expect("path")
    );
    let org = a.id.to_string();
    let r = post_form(
        &app,
        &ack_path,
        Some(&c),
        &[("csrf", &token), ("org_id", &org)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = get(&app, "/", Some(&c)).await;
    assert!(!section(&after.body, "notices").contains(&a.incident_title));
    assert!(section(&after.body, "feedback").contains(&a.incident_title));
    assert!(!section(&after.body, "portal-warnings").contains("Alpha S7 firmware bulletin"));

    // Staff still get the platform overview.
    let r = get(&app, "/", Some(&analyst)).await;
    assert!(r.body.contains("id=\"heat\""));
    assert!(!r.body.contains("Organization portal"));
}

#[tokio::test]
async fn the_portal_speaks_chinese_to_a_chinese_user() {
    let app = app().await;
    user(
        &*app.store,
        "officer_zh",
        Role::OrgUser,
        Some(app.a.id),
        Locale::ZhCn,
    )
    .await;
    let c = login(&app, "officer_zh").await;
    let r = get(&app, "/", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("单位门户"), "portal title");
    assert!(r.body.contains("待签收通报"));
    assert!(r.body.contains("资产台账"));
}

fn sw_pairs<'a>(rows: &'a [(&'a str, &'a str, &'a str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut v = Vec::new();
    for (i, (name, version, purl, cpe)) in rows.iter().enumerate() {
        v.push((format!("sw_name_{i}"), *name));
        v.push((format!("sw_version_{i}"), *version));
        v.push((format!("sw_purl_{i}"), *purl));
        v.push((format!("sw_cpe_{i}"), *cpe));
    }
    v
}

async fn post_pairs(app: &App, path: &str, cookie: &str, pairs: &[(String, &str)]) -> Resp {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    post_form(app, path, Some(cookie), &refs).await
}

#[tokio::test]
async fn the_organization_user_edits_its_inventory_through_the_forms() {
    let app = app().await;
    let (a, b) = (&app.a, &app.b);
    let c = login(&app, "officer").await;
    let list = get(&app, "/assets", Some(&c)).await;
    assert!(list.body.contains("id=\"asset-new-link\""));

    let form = get(&app, "/assets/new", Some(&c)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"sw_name_0\""));
    assert!(
        !form.body.contains("<option value=\"low\""),
        "an organization user cannot register below the default importance"
    );
    assert!(!form.body.contains(&b.name), "only its own organization");
    let token = csrf_of(&form.body);
    let org = a.id.to_string();
    let mut pairs: Vec<(String, &str)> = vec![
        ("csrf".into(), token.as_str()),
        ("org_id".into(), org.as_str()),
        ("name".into(), "Line 5 HMI"),
        ("kind".into(), "hmi"),
        ("importance".into(), "high"),
        ("ips".into(), "10.5.5.5\n10.5.5.6"),
        ("vendor".into(), "Siemens"),
        ("model".into(), "TP1500"),
        ("firmware".into(), "V17.0.1"),
        ("resp_name".into(), "Wang Fang"),
    ];
    pairs.extend(sw_pairs(&[
        ("openssl", "1.1.1k", "pkg:generic/openssl@1.1.1k", ""),
        (
            "wincc",
            "7.5",
            "",
            "cpe:2.3:a:siemens:wincc:7.5:*:*:*:*:*:*:*",
        ),
    ]));

    // "Add a row" renders the form again with what was typed and one more empty row.
    let mut add = pairs.clone();
    add.push(("add_row".into(), "1"));
    let r = post_pairs(&app, "/assets/new", &c, &add).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("value=\"wincc\""));
    assert!(
        r.body.contains("name=\"sw_name_4\""),
        "2 rows + 2 empty + 1 added"
    );
    assert!(
        app.store
            .list_assets(
                Scope::All,
                &vigil_store::AssetQuery {
                    text: Some("Line 5".into()),
                    ..Default::default()
                }
            )
            .await
            .expect("list")
            .items
            .is_empty(),
        "nothing stored yet"
    );

    // Save.
    let r = post_pairs(&app, "/assets/new", &c, &pairs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location().to_string();
    assert!(
        loc.starts_with("/assets/") && loc.ends_with("?saved=1"),
        "{loc}"
    );
    let id: AssetId = loc
        .trim_start_matches("/assets/")
        .trim_end_matches("?saved=1")
        .parse()
        .expect("asset id");
    let stored = app
        .store
        .get_asset(Scope::All, id)
        .await
        .expect("store")
        .expect("asset");
    assert_eq!(stored.spec.org_id, a.id);
    assert_eq!(stored.spec.importance, Importance::High);
    assert_eq!(stored.spec.ips.len(), 2);
    assert_eq!(stored.spec.software.len(), 2);
    assert_eq!(
        stored.spec.software[1].cpe.as_deref(),
        Some("cpe:2.3:a:siemens:wincc:7.5:*:*:*:*:*:*:*")
    );
    let page = get(&app, &loc, Some(&c)).await;
    assert!(page.body.contains("Asset saved."));
    assert!(page.body.contains("id=\"asset-edit-link\""));

    // Edit: openssl removed, log4j added, the rest as it was.
    let edit_path = format!("/assets/{id}/edit");
    let edit = get(&app, &edit_path, Some(&c)).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("value=\"Line 5 HMI\""));
    assert!(edit.body.contains("value=\"openssl\""));
    assert!(
        !edit.body.contains("<option value=\"medium\""),
        "no lower than stored high"
    );
    let mut pairs2 = pairs.clone();
    pairs2.retain(|(k, _)| !k.starts_with("sw_"));
    pairs2.extend(sw_pairs(&[
        ("openssl", "1.1.1k", "pkg:generic/openssl@1.1.1k", ""),
        ("wincc", "7.5", "", ""),
        (
            "log4j-core",
            "2.17.1",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
            "",
        ),
    ]));
    pairs2.push(("sw_remove_0".into(), "1"));
    let r = post_pairs(&app, &edit_path, &c, &pairs2).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app
        .store
        .get_asset(Scope::All, id)
        .await
        .expect("store")
        .expect("asset");
    let names: Vec<&str> = stored
        .spec
        .software
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["wincc", "log4j-core"]);

    // Lowering the importance is refused on the form, naming the field; nothing changes.
    let mut low = pairs2.clone();
    for (k, v) in low.iter_mut() {
        if k == "importance" {
            *v = "low";
        }
    }
    let r = post_pairs(&app, &edit_path, &c, &low).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("id=\"asset-form-error\""));
    assert!(r.body.contains("importance:"), "{}", r.body);
    let again = app
        .store
        .get_asset(Scope::All, id)
        .await
        .expect("s")
        .expect("a");
    assert_eq!(again.spec.importance, Importance::High);

    // An invalid CPE is shown on the form with the field.
    let mut bad = pairs2.clone();
    bad.push(("sw_cpe_1".into(), "cpe:/a:siemens:wincc"));
    bad.retain(|(k, v)| !(k == "sw_cpe_1" && v.is_empty()));
    let r = post_pairs(&app, &edit_path, &c, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("software[0].cpe"), "{}", r.body);

    // Without the CSRF token: refused.
    let mut forged = pairs2.clone();
    forged.retain(|(k, _)| k != "csrf");
    forged.push(("csrf".into(), "forged"));
    let r = post_pairs(&app, &edit_path, &c, &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The other organization's asset: absent for the form and the save, and moving there too.
    let other = format!("/assets/{}/edit", b.asset_id);
    assert_eq!(
        get(&app, &other, Some(&c)).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post_pairs(&app, &other, &c, &pairs2).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains(&b.name));
    let b_org = b.id.to_string();
    let mut moved = pairs2.clone();
    for (k, v) in moved.iter_mut() {
        if k == "org_id" {
            *v = b_org.as_str();
        }
    }
    let r = post_pairs(&app, &edit_path, &c, &moved).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post_form(
        &app,
        &format!("/assets/{}/delete", b.asset_id),
        Some(&c),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Delete its own.
    let r = post_form(
        &app,
        &format!("/assets/{id}/delete"),
        Some(&c),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/assets?deleted=1");
    assert!(
        app.store
            .get_asset(Scope::All, id)
            .await
            .expect("s")
            .is_none()
    );
    assert!(
        app.store
            .get_asset(Scope::All, b.asset_id)
            .await
            .expect("s")
            .is_some()
    );

    // Audited with the user as actor.
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery {
            actor: Some("user:officer".into()),
            action_prefix: Some("asset.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<(&str, AuditOutcome)> = audit
        .iter()
        .map(|r| (r.record.action.as_str(), r.record.outcome))
        .collect();
    assert!(
        actions.contains(&("asset.create", AuditOutcome::Success)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("asset.update", AuditOutcome::Success)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("asset.update", AuditOutcome::Denied)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("asset.delete", AuditOutcome::Success)),
        "{actions:?}"
    );
}

#[tokio::test]
async fn staff_grade_assets_and_the_auditor_only_reads() {
    let app = app().await;
    let analyst = login(&app, "analyst").await;
    let form = get(&app, "/assets/new", Some(&analyst)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<option value=\"low\""));
    assert!(form.body.contains(&app.a.name) && form.body.contains(&app.b.name));
    assert!(form.body.contains("Choose…"), "no organization preselected");
    // Without an organization: shown again on the form, naming the field.
    let token = csrf_of(&form.body);
    let r = post_form(
        &app,
        "/assets/new",
        Some(&analyst),
        &[
            ("csrf", &token),
            ("org_id", ""),
            ("name", "Orphan"),
            ("kind", "host"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("org_id:"), "{}", r.body);
    assert!(r.body.contains("value=\"Orphan\""), "typed values kept");

    let auditor = login(&app, "auditor").await;
    let list = get(&app, "/assets", Some(&auditor)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("id=\"asset-new-link\""));
    let detail = get(&app, &format!("/assets/{}", app.a.asset_id), Some(&auditor)).await;
    assert!(!detail.body.contains("id=\"asset-edit-link\""));
    assert_eq!(
        get(&app, "/assets/new", Some(&auditor)).await.status,
        StatusCode::FORBIDDEN
    );
    let token = csrf(&app, &auditor).await;
    let r = post_form(
        &app,
        &format!("/assets/{}/delete", app.a.asset_id),
        Some(&auditor),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

const BOUNDARY: &str = "vigil-portal-boundary-Qm9yZGVy";

fn feedback_body(csrf: &str, measures: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in [("csrf", csrf), ("measures", measures)] {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, bytes) in files {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn post_feedback(app: &App, incident: IncidentId, cookie: &str, body: Vec<u8>) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/incidents/{incident}/feedback"))
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
async fn feedback_carries_the_measures_and_evidence_files_in_one_submission() {
    let app = app().await;
    let id = app.a.incident;
    for s in [
        IncidentStatus::Notified,
        IncidentStatus::Acknowledged,
        IncidentStatus::Remediating,
    ] {
        set_status(&app, id, s, "user:someone", None).await;
    }
    let page_path = format!("/incidents/{id}");
    let c = login(&app, "officer").await;
    let page = get(&app, &page_path, Some(&c)).await;
    assert!(
        page.body.contains("id=\"feedback-form\""),
        "offered to the organization"
    );
    let token = csrf_of(&page.body);
    let analyst = login(&app, "analyst").await;
    let staff_page = get(&app, &page_path, Some(&analyst)).await;
    assert!(
        !staff_page.body.contains("id=\"feedback-form\""),
        "not the platform's step"
    );

    let evidence = |app: &App| {
        let store = app.store.clone();
        async move {
            store
                .list_evidence(Scope::All, id)
                .await
                .expect("store")
                .expect("incident")
        }
    };
    // Without measures, or with a forged token: refused, nothing stored.
    let r = post_feedback(
        &app,
        id,
        &c,
        feedback_body(&token, "  ", &[("a.txt", b"x")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = post_feedback(
        &app,
        id,
        &c,
        feedback_body("forged", "done", &[("a.txt", b"x")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(evidence(&app).await.is_empty());

    // The other organization's incident is absent.
    let r = post_feedback(&app, app.b.incident, &c, feedback_body(&token, "done", &[])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let measures = "Isolated the jump host, reset all SSH keys, blocked 203.0.113.9 at the edge.";
    let r = post_feedback(
        &app,
        id,
        &c,
        feedback_body(
            &token,
            measures,
            &[
                ("firewall.log", b"deny 203.0.113.9"),
                ("keys.txt", b"rotated"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let inc = app
        .store
        .get_incident(Scope::All, id)
        .await
        .expect("store")
        .expect("incident");
    assert_eq!(inc.status, IncidentStatus::Remediated);
    assert!(
        inc.timeline
            .iter()
            .any(|e| e.action == "comment" && e.note == measures && e.actor == "user:officer")
    );
    let files = evidence(&app).await;
    let names: Vec<&str> = files.iter().map(|e| e.file_name.as_str()).collect();
    assert_eq!(names, ["firewall.log", "keys.txt"]);
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery {
            action_prefix: Some("incident.submit_feedback".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].record.actor, "user:officer");

    // Submitted: the form is gone, a second submission is refused.
    let page = get(&app, &page_path, Some(&c)).await;
    assert!(!page.body.contains("id=\"feedback-form\""));
    let r = post_feedback(&app, id, &c, feedback_body(&token, "again", &[])).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}
