//! The access matrix: every endpoint × every role × own/other organization.
//!
//! For each cell a fresh application is built, the request is sent, and the outcome is
//! compared with what the role may do: success, 403 for a missing permission, and for an
//! organization user acting on another organization's data, exactly what a missing record
//! gives (404, or a rejected row), never the data itself. Lists are checked for leaks by
//! looking for the other organization's identifiers anywhere in the response.

use crate::harness::{Fixture, TestApp, asset_spec, org_spec};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vigil_model::{Action, Role};
use vigil_web::api::ROUTES;

#[derive(Debug, Clone, Copy)]
enum Need {
    Public,
    AnyAuth,
    One(Action),
    /// Any of these.
    Either(Action, Action),
    /// Both of these.
    Both(Action, Action),
    /// One of these roles (intelligence, whose permissions are not in the model's table yet).
    Roles(&'static [Role]),
}

fn need(method: &str, path: &str) -> Need {
    use Action::*;
    match (method, path) {
        ("GET", "/openapi.json") | ("POST", "/auth/login") => Need::Public,
        ("GET", "/users/me")
        | ("GET", "/taxonomies")
        | ("GET", "/notice-key")
        | ("POST", "/auth/logout") => Need::AnyAuth,
        ("GET", "/organizations" | "/organizations/{id}" | "/assets" | "/assets/{id}") => {
            Need::One(ReadDirectory)
        }
        ("POST" | "PUT" | "DELETE", p) if p.starts_with("/organizations") => {
            Need::One(WriteOrganizations)
        }
        (_, p) if p.starts_with("/assets") => Need::One(WriteAssets),
        ("GET", _) if path.starts_with("/events") => Need::One(ReadEvents),
        ("POST", "/events") => Need::One(IngestEvents),
        ("GET", _) if path.starts_with("/alerts") => Need::One(ReadAlerts),
        ("POST", "/alerts") => Need::One(CreateAlerts),
        ("PATCH", "/alerts/{id}") => Need::One(TriageAlerts),
        // The regulatory report reads the incident, its organization, assets and alerts.
        ("GET", "/incidents/{id}/report") => Need::One(ReadIncidents),
        ("GET", _) if path.starts_with("/incidents") || path.starts_with("/stats") => {
            Need::One(ReadIncidents)
        }
        ("POST", "/incidents") => Need::One(ManageIncidents),
        // Evidence is part of responding: the organization attaches it, staff too; the
        // auditor only reads (the GET rule above).
        ("POST", "/incidents/{id}/evidence") => Need::One(RespondIncidents),
        // Filing a regulatory report is the platform's (analysts, administrators).
        ("POST", "/incidents/{id}/reports") => Need::One(ManageIncidents),
        // So is the impact: the organization reports it with its feedback, staff too.
        ("PUT", "/incidents/{id}/impact") => Need::One(RespondIncidents),
        ("PATCH", "/incidents/{id}") => Need::One(RespondIncidents),
        ("GET", "/users") => Need::Either(ManageUsers, ReadAudit),
        (_, p) if p.starts_with("/users") => Need::One(ManageUsers),
        (_, p) if p.starts_with("/tokens") => Need::One(ManageTokens),
        (_, p) if p.starts_with("/audit") => Need::One(ReadAudit),
        ("POST", "/intel/import" | "/intel/indicators/{id}/revoke")
        | ("DELETE", "/intel/indicators/{id}") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst])
        }
        ("GET", "/intel/sources" | "/intel/feeds") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst, Role::Auditor])
        }
        ("PATCH", "/intel/sources/{id}") | ("PUT" | "DELETE", "/intel/edl/{id}") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst])
        }
        ("GET", "/intel/sources/{id}/imports" | "/intel/imports/{id}" | "/intel/edl") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst, Role::Auditor])
        }
        ("GET", p) if p.starts_with("/intel/") => Need::AnyAuth,
        ("POST" | "PUT" | "PATCH" | "DELETE", p) if p.starts_with("/pipeline/sources") => {
            Need::Roles(&[Role::PlatformAdmin])
        }
        // Organization users see the dead letters attributed to their organization.
        ("GET", "/pipeline/dead-letters") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst, Role::OrgUser])
        }
        ("GET", p) if p.starts_with("/pipeline") => {
            Need::Roles(&[Role::PlatformAdmin, Role::Analyst])
        }
        ("POST", "/warnings") => Need::One(IssueWarnings),
        ("POST", "/warnings/{id}/ack") => Need::One(AcknowledgeWarnings),
        ("GET", p) if p.starts_with("/warnings") => Need::One(ReadWarnings),
        // Deliveries are about incidents and warnings.
        ("GET", "/notifications") => Need::Both(ReadIncidents, ReadWarnings),
        other => panic!("no access rule for {other:?}: add it to the matrix"),
    }
}

fn principal(role: Role, org: vigil_model::OrgId) -> vigil_model::Principal {
    vigil_model::Principal {
        kind: vigil_model::PrincipalKind::System,
        name: "t".into(),
        role,
        org_id: (role == Role::OrgUser).then_some(org),
        locale: vigil_model::Locale::En,
    }
}

fn allowed(role: Role, n: Need, org: vigil_model::OrgId) -> bool {
    let p = principal(role, org);
    match n {
        Need::Public | Need::AnyAuth => true,
        Need::One(a) => p.allows(a),
        Need::Either(a, b) => p.allows(a) || p.allows(b),
        Need::Both(a, b) => p.allows(a) && p.allows(b),
        Need::Roles(roles) => roles.contains(&role),
    }
}

fn success(method: &str, path: &str) -> StatusCode {
    match (method, path) {
        (
            "POST",
            "/organizations"
            | "/assets"
            | "/alerts"
            | "/incidents"
            | "/users"
            | "/tokens"
            | "/warnings"
            | "/incidents/{id}/evidence"
            | "/incidents/{id}/reports"
            | "/pipeline/sources",
        ) => StatusCode::CREATED,
        ("DELETE", _) | ("POST", "/users/{id}/password") | ("POST", "/auth/logout") => {
            StatusCode::NO_CONTENT
        }
        _ => StatusCode::OK,
    }
}

/// Is the result of this route bound to the target organization?
fn org_bound(method: &str, path: &str) -> bool {
    !(matches!(
        path,
        "/openapi.json"
            | "/taxonomies"
            | "/users/me"
            | "/notice-key"
            | "/auth/login"
            | "/auth/logout"
            | "/audit"
            | "/audit/verify"
            | "/pipeline"
            | "/pipeline/dead-letters"
            | "/pipeline/sources"
            | "/pipeline/sources/{id}"
    ) || (method == "POST" && path == "/organizations")
        // Indicators and sources are platform-wide; sightings are organization data.
        || (path.starts_with("/intel/") && path != "/intel/sightings"))
}

/// The concrete request for a route against a target organization's fixture.
async fn request(
    app: &TestApp,
    method: &str,
    path: &str,
    t: &Fixture,
) -> (String, Option<(&'static str, Vec<u8>)>) {
    let id = match path {
        p if p.starts_with("/organizations/") => {
            if method == "DELETE" {
                // An organization without assets or users, so deleting it can succeed.
                let mut spec = org_spec(&format!("Empty {}", uuid::Uuid::now_v7()));
                spec.region_code = "110000".into();
                app.store
                    .create_org(spec)
                    .await
                    .expect("org")
                    .id
                    .to_string()
            } else {
                t.id.to_string()
            }
        }
        p if p.starts_with("/assets/") => t.asset.to_string(),
        p if p.starts_with("/events/") => t.event.to_string(),
        p if p.starts_with("/alerts/") => t.alert.to_string(),
        p if p.starts_with("/incidents/") => t.incident.to_string(),
        p if p.starts_with("/users/") => t.user.to_string(),
        p if p.starts_with("/tokens/") => t.token.to_string(),
        p if p.starts_with("/intel/indicators/") => seed_indicator(app, t).await.to_string(),
        p if p.starts_with("/intel/objects/") => seed_stix_object(app).await,
        p if p.starts_with("/intel/sources/") => seed_source(app).await.to_string(),
        p if p.starts_with("/intel/imports/") => {
            let src = seed_source(app).await;
            crate::intel_admin::seed_import(app, src).await.to_string()
        }
        p if p.starts_with("/intel/edl/") => {
            let name = format!("matrix-{}", uuid::Uuid::now_v7().simple());
            if method == "DELETE" {
                crate::intel_admin::seed_edl(app, &name).await;
            }
            name
        }
        p if p.starts_with("/warnings/") => {
            crate::warnings::seed_warning(app, t.id).await.to_string()
        }
        p if p.starts_with("/pipeline/sources/") => seed_pipeline_source(app).await,
        "/warnings" if method == "GET" => {
            // A warning for each organization, so the own list is not empty and the other
            // one's must stay out of it.
            crate::warnings::seed_warning(app, app.a.id).await;
            crate::warnings::seed_warning(app, app.b.id).await;
            String::new()
        }
        "/notifications" => {
            // Deliveries in both organizations, so the own list is not empty and the other
            // one's must stay out of it.
            crate::notifications::seed_delivery(app, app.a.id).await;
            crate::notifications::seed_delivery(app, app.b.id).await;
            String::new()
        }
        "/intel/sightings" => {
            // Sightings in both organizations, so the own list is not empty and the other
            // one's must stay out of it.
            let a = seed_indicator(app, &app.a).await;
            let b = seed_indicator(app, &app.b).await;
            seed_sighting(app, a, app.a.id).await;
            seed_sighting(app, b, app.b.id).await;
            String::new()
        }
        _ => String::new(),
    };
    let mut uri = format!("/api/v1{}", path.replace("{id}", &id));
    if method == "GET" && path.starts_with("/incidents/{id}/evidence") {
        // An evidence file of the target's incident, so the own list is not empty and the
        // download has something to serve.
        let ev = app
            .store
            .add_evidence(
                vigil_model::Scope::All,
                vigil_store::NewEvidence {
                    incident_id: t.incident,
                    file_name: "capture.txt".into(),
                    content_type: "text/plain".into(),
                    note: None,
                    bytes: b"matrix evidence".to_vec(),
                },
                "user:seed",
            )
            .await
            .expect("evidence");
        uri = uri.replace("{evidence_id}", &ev.id.to_string());
    }
    if path.starts_with("/incidents/{id}/reports") {
        uri = seed_filed_report(app, t, method, &uri).await;
    }
    if path == "/incidents/{id}/evidence" && method == "POST" {
        uri.push_str("?filename=matrix.txt&note=from%20the%20matrix");
    }
    let is_list = method == "GET"
        && !path.contains("{id}")
        && org_bound(method, path)
        && !matches!(path, "/users" | "/tokens" | "/organizations");
    if is_list {
        uri.push_str(&format!("?org_id={}", t.id));
    }
    if path == "/intel/import" {
        uri.push_str("?source=matrix&format=list");
    }
    let js = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    let body = match (method, path) {
        ("POST", "/organizations") => js(json!(org_spec(&format!("New {}", uuid::Uuid::now_v7())))),
        ("PUT", "/organizations/{id}") => js(json!(org_spec(&format!("{} renamed", t.name)))),
        ("POST", "/assets") | ("PUT", "/assets/{id}") => js(json!(asset_spec(t.id, "New PLC"))),
        ("POST", "/assets/import") => Some((
            "text/csv",
            format!("org_id,name,kind,ips\n{},HMI 1,hmi,10.9.9.9\n", t.id).into_bytes(),
        )),
        ("POST", "/events") => Some((
            "application/x-ndjson",
            format!("{{\"vigil.org_id\":\"{}\",\"message\":\"hello\"}}\n", t.id).into_bytes(),
        )),
        ("POST", "/alerts") => js(json!({
            "org_id": t.id, "source": "manual", "rule_id": "m-1", "title": "manual alert",
            "severity": "low", "detected_at": "2026-11-01T00:00:00Z",
        })),
        ("PATCH", "/alerts/{id}") => js(json!({ "status": "acknowledged" })),
        ("POST", "/incidents") => js(json!({
            "org_id": t.id, "title": "new incident", "category": "MP", "subcategory": "MPRANS",
            "grade": "large", "occurred_at": "2026-11-01T00:00:00Z",
        })),
        // A comment: every role that may respond can add one whatever the workflow stage
        // (status steps per role are tested in api.rs).
        ("PATCH", "/incidents/{id}") => js(json!({ "comment": "on it" })),
        ("PUT", "/incidents/{id}/impact") => js(json!({ "outage_minutes": 30 })),
        ("POST", "/incidents/{id}/evidence") => {
            Some(("text/plain", b"evidence from the matrix".to_vec()))
        }
        ("POST", "/incidents/{id}/reports") => js(json!({ "kind": "supplement" })),
        ("POST", "/users") => js(json!({
            "username": format!("u{}", uuid::Uuid::now_v7().simple()), "role": "org_user", "org_id": t.id,
        })),
        ("PATCH", "/users/{id}") => js(json!({ "disabled": true })),
        ("POST", "/users/{id}/password") => js(json!({ "new_password": "a long new password" })),
        ("POST", "/tokens") => js(
            json!({ "name": "sensor", "role": "org_user", "org_id": t.id, "expires_in_days": 30 }),
        ),
        ("PATCH", "/intel/sources/{id}") => js(json!({ "trust": 60, "enabled": false })),
        ("PUT", "/intel/edl/{id}") => js(json!({ "filter": { "types": ["ipv4"] } })),
        ("POST", "/pipeline/sources") => js(json!({
            "name": format!("matrix-{}", uuid::Uuid::now_v7().simple()),
            "kind": "syslog_udp", "listen": "127.0.0.1:0", "enabled": false,
        })),
        ("PUT", "/pipeline/sources/{id}") => {
            js(json!({ "kind": "syslog_udp", "listen": "127.0.0.1:0", "enabled": false }))
        }
        ("PATCH", "/pipeline/sources/{id}") => js(json!({ "max_frame_bytes": 4096 })),
        ("POST", "/intel/import") => Some((
            "text/plain",
            b"evil.example\n198.51.100.1\nnot a value at all\n".to_vec(),
        )),
        ("POST", "/warnings") => js(crate::warnings::warning_body(json!({ "org_ids": [t.id] }))),
        // Staff acknowledge on the organization's behalf with a note; an organization user
        // names its own organization (or, for the other one, must get a 404).
        ("POST", "/warnings/{id}/ack") => js(json!({ "org_id": t.id, "response": "on it" })),
        ("POST", "/auth/login") => {
            js(json!({ "username": "nobody", "password": "wrong password here" }))
        }
        _ => None,
    };
    (uri, body)
}

/// A fresh pipeline source defined through the API (disabled), by name.
async fn seed_pipeline_source(app: &TestApp) -> String {
    let now = vigil_model::Timestamp::now();
    let name = format!("matrix-{}", uuid::Uuid::now_v7().simple());
    app.store
        .put_pipeline_source(vigil_store::PipelineSource {
            name: name.clone(),
            kind: "syslog_tcp".into(),
            settings: json!({ "listen": "127.0.0.1:0" }),
            enabled: false,
            origin: vigil_store::SourceOrigin::Api,
            created_by: "user:seed".into(),
            created_at: now,
            updated_by: "user:seed".into(),
            updated_at: now,
        })
        .await
        .expect("pipeline source");
    name
}

/// A fresh intelligence source.
async fn seed_source(app: &TestApp) -> vigil_store::IntelSourceId {
    app.store
        .upsert_intel_source(vigil_store::NewIntelSource {
            name: format!("feed {}", uuid::Uuid::now_v7().simple()),
            kind: "list".into(),
            url: None,
            enabled: true,
            trust: 50,
        })
        .await
        .expect("source")
        .id
}

/// Filed reports of the target's incident: the incident notified (once) and, for a filing,
/// something new on its timeline so that every permitted role's supplement has news to
/// report; for a read, a filed report (so the own list is not empty, and `{report_id}` names
/// it).
async fn seed_filed_report(app: &TestApp, t: &Fixture, method: &str, uri: &str) -> String {
    use vigil_model::{IncidentStatus, Scope};
    let inc = app
        .store
        .get_incident(Scope::All, t.incident)
        .await
        .expect("incident")
        .expect("incident exists");
    if !inc.timeline.iter().any(|e| e.action == "status:notified") {
        for status in [IncidentStatus::Triaged, IncidentStatus::Notified] {
            app.store
                .update_incident(
                    Scope::All,
                    t.incident,
                    vigil_store::IncidentUpdate {
                        status: Some(status),
                        ..Default::default()
                    },
                    "user:seed",
                )
                .await
                .expect("workflow step");
        }
    }
    app.store
        .update_incident(
            Scope::All,
            t.incident,
            vigil_store::IncidentUpdate {
                comment: Some("news for the matrix".into()),
                ..Default::default()
            },
            "user:seed",
        )
        .await
        .expect("comment");
    if method != "GET" {
        return uri.to_string();
    }
    let latest = app
        .store
        .list_filed_reports(Scope::All, t.incident)
        .await
        .expect("list")
        .unwrap_or_default()
        .iter()
        .map(|r| r.seq)
        .max()
        .unwrap_or(0);
    let timeline = app
        .store
        .get_incident(Scope::All, t.incident)
        .await
        .expect("incident")
        .map_or(0, |i| i.timeline.len());
    let rec = app
        .store
        .add_filed_report(
            Scope::All,
            vigil_store::NewFiledReport {
                incident_id: t.incident,
                kind: "supplement".into(),
                timeline_upto: u32::try_from(timeline).unwrap_or(0),
                previous_seq: latest,
                snapshot: br#"{"matrix":true}"#.to_vec(),
            },
            "user:seed",
        )
        .await
        .expect("filed report");
    uri.replace("{report_id}", &rec.id.to_string())
}

/// A stored STIX object (platform-wide intelligence) and its id.
async fn seed_stix_object(app: &TestApp) -> String {
    let id = format!("malware--{}", uuid::Uuid::new_v4());
    let obj = vigil_store::NewStixObject::from_json(
        json!({"type": "malware", "spec_version": "2.1", "id": id, "name": "Seeded",
               "is_family": true, "created": "2026-01-01T00:00:00Z",
               "modified": "2026-01-01T00:00:00Z"}),
        "2.1",
        None,
    )
    .expect("object");
    app.store
        .put_stix_objects(vec![obj])
        .await
        .expect("stix object");
    id
}

/// An indicator of a source named after the organization's fixture (so nothing in it names
/// the organization).
async fn seed_indicator(app: &TestApp, t: &Fixture) -> vigil_store::IndicatorId {
    let src = app
        .store
        .upsert_intel_source(vigil_store::NewIntelSource {
            name: format!("feed {}", uuid::Uuid::now_v7().simple()),
            kind: "list".into(),
            url: None,
            enabled: true,
            trust: 50,
        })
        .await
        .expect("source");
    let stix_id = format!("indicator--{}", uuid::Uuid::now_v7());
    let value = format!("{}.evil.example", t.asset.0.simple());
    app.store
        .upsert_indicators(vec![vigil_store::NewIndicator {
            source_id: src.id,
            stix_id: stix_id.clone(),
            kind: "domain".into(),
            value: Some(value.clone()),
            values: vec![format!("domain:{value}")],
            pattern: None,
            name: None,
            description: None,
            confidence: 50,
            tlp: None,
            valid_from: None,
            valid_until: None,
            labels: vec![],
            kill_chain: vec![],
            attack_ids: vec![],
            modified: vigil_model::Timestamp::UNIX_EPOCH,
            revoked: false,
            object: json!({"type": "indicator", "id": stix_id}),
        }])
        .await
        .expect("indicator");
    app.store
        .list_indicators(&vigil_store::IndicatorQuery {
            source_id: Some(src.id),
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .id
}

async fn seed_sighting(app: &TestApp, ind: vigil_store::IndicatorId, org: vigil_model::OrgId) {
    app.store
        .record_sightings(
            vigil_model::Scope::All,
            vec![vigil_store::NewSighting {
                indicator_id: ind,
                org_id: org,
                event_id: None,
                alert_id: None,
                seen_at: vigil_model::Timestamp::now(),
                count: 1,
            }],
        )
        .await
        .expect("sighting");
}

fn mentions(v: &Value, needle: &str) -> bool {
    v.to_string().contains(needle)
}

async fn matrix(role: Role) {
    let mut checked = 0;
    for r in ROUTES {
        for own in [true, false] {
            let app = TestApp::new().await;
            let target = if own { &app.a } else { &app.b };
            // The organization user belongs to A, so B is the one that must never show.
            let other = &app.b;
            let (uri, body) = request(&app, r.method, r.path, target).await;
            let secret = app.secret(role).to_string();
            let (status, value) = app.call(r.method, &uri, Some(&secret), body).await;
            let n = need(r.method, r.path);
            let cell = format!(
                "{} {} as {} on {} org: {status} {value}",
                r.method,
                uri,
                role.as_str(),
                if own { "own" } else { "other" }
            );
            checked += 1;

            if r.path == "/auth/login" {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{cell}");
                continue;
            }
            if !allowed(role, n, app.a.id) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{cell}");
                assert_eq!(value["code"], "forbidden", "{cell}");
                continue;
            }
            let foreign = role == Role::OrgUser && !own && org_bound(r.method, r.path);
            if !foreign {
                assert_eq!(status, success(r.method, r.path), "{cell}");
                if role == Role::OrgUser && r.method == "GET" {
                    // An organization user's answers never mention the other organization.
                    assert!(
                        !mentions(&value, &other.id.to_string()),
                        "leak of the other org: {cell}"
                    );
                    assert!(
                        !mentions(&value, &other.name),
                        "leak of the other org's name: {cell}"
                    );
                }
                if r.method == "GET"
                    && value.get("items").is_some()
                    && org_bound(r.method, r.path)
                    && !r.path.starts_with("/users")
                    && !r.path.starts_with("/tokens")
                {
                    let items = value["items"].as_array().map(Vec::len).unwrap_or(0);
                    assert!(items > 0, "own list should not be empty: {cell}");
                }
                match (r.method, r.path) {
                    ("POST", "/assets/import") => assert_eq!(value["created"], 1, "{cell}"),
                    ("POST", "/events") => assert_eq!(value["stored"], 1, "{cell}"),
                    ("POST", "/intel/import") => {
                        assert_eq!(value["stored"]["inserted"], 2, "{cell}");
                        assert_eq!(value["problems_total"], 1, "{cell}");
                    }
                    ("POST", "/intel/indicators/{id}/revoke") => {
                        assert!(value["revoked_at"].is_string(), "{cell}")
                    }
                    _ => {}
                }
                continue;
            }
            // An organization user reaching for the other organization.
            match (r.method, r.path) {
                ("GET", "/organizations") => {
                    assert_eq!(status, StatusCode::OK, "{cell}");
                    assert!(!mentions(&value, &target.id.to_string()), "{cell}");
                }
                ("GET", "/stats/incidents") => {
                    assert_eq!(status, StatusCode::OK, "{cell}");
                    assert_eq!(value["total"], 0, "{cell}");
                }
                ("GET", p) if !p.contains("{id}") => {
                    assert_eq!(status, StatusCode::OK, "{cell}");
                    assert_eq!(value["items"].as_array().map(Vec::len), Some(0), "{cell}");
                    assert!(!mentions(&value, &target.id.to_string()), "{cell}");
                }
                ("POST", "/assets/import") => {
                    assert_eq!(status, StatusCode::OK, "{cell}");
                    assert_eq!(value["created"], 0, "{cell}");
                    assert_eq!(value["rows"][0]["status"], "rejected", "{cell}");
                }
                ("POST", "/events") => {
                    assert_eq!(status, StatusCode::OK, "{cell}");
                    assert_eq!(value["stored"], 0, "{cell}");
                    assert_eq!(value["results"][0]["status"], "rejected", "{cell}");
                }
                _ => {
                    assert_eq!(status, StatusCode::NOT_FOUND, "{cell}");
                    assert!(!mentions(&value, &target.name), "{cell}");
                }
            }
            // And nothing of the other organization changed.
            let scope = vigil_model::Scope::All;
            let org = app
                .store
                .get_org(scope, target.id)
                .await
                .expect("store")
                .expect("org still there");
            assert_eq!(org.spec.name, target.name, "{cell}");
            let asset = app
                .store
                .get_asset(scope, target.asset)
                .await
                .expect("store");
            assert!(
                asset.is_some_and(|a| a.spec.name.ends_with("PLC") && a.spec.name != "New PLC"),
                "{cell}"
            );
            let alert = app
                .store
                .get_alert(scope, target.alert)
                .await
                .expect("store")
                .expect("alert");
            assert_eq!(alert.status, vigil_model::AlertStatus::New, "{cell}");
            let inc = app
                .store
                .get_incident(scope, target.incident)
                .await
                .expect("store")
                .expect("incident");
            assert_eq!(inc.status, vigil_model::IncidentStatus::Notified, "{cell}");
            assert!(
                !inc.timeline.iter().any(|e| e.note == "on it"),
                "{cell}: a refused PATCH left a comment"
            );
            let evidence = app
                .store
                .list_evidence(scope, target.incident)
                .await
                .expect("store")
                .expect("incident");
            assert!(
                !evidence.iter().any(|e| e.file_name == "matrix.txt"),
                "{cell}: a refused upload stored a file"
            );
        }
    }
    assert_eq!(checked, ROUTES.len() * 2);
}

#[tokio::test]
async fn matrix_platform_admin() {
    matrix(Role::PlatformAdmin).await;
}

#[tokio::test]
async fn matrix_analyst() {
    matrix(Role::Analyst).await;
}

#[tokio::test]
async fn matrix_auditor() {
    matrix(Role::Auditor).await;
}

#[tokio::test]
async fn matrix_org_user() {
    matrix(Role::OrgUser).await;
}

#[tokio::test]
async fn every_endpoint_needs_credentials_except_the_public_ones() {
    let app = TestApp::new().await;
    for r in ROUTES {
        let (uri, body) = request(&app, r.method, r.path, &app.a).await;
        let (status, value) = app.call(r.method, &uri, None, body).await;
        match need(r.method, r.path) {
            Need::Public => assert_ne!(status, StatusCode::FORBIDDEN, "{} {uri}", r.method),
            _ => {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {uri}: {value}",
                    r.method
                );
                assert_eq!(value["code"], "unauthorized");
            }
        }
        let (status, _) = app.call(r.method, &uri, Some("vgl_forged"), None).await;
        if !matches!(need(r.method, r.path), Need::Public) {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "forged token on {} {uri}",
                r.method
            );
        }
    }
}

#[tokio::test]
async fn every_documented_route_is_served_and_in_the_openapi_document() {
    let app = TestApp::new().await;
    let (status, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for r in ROUTES {
        let path = format!("/api/v1{}", r.path);
        assert!(
            doc["paths"][&path][r.method.to_lowercase()].is_object(),
            "{} {path} missing from OpenAPI",
            r.method
        );
        let (uri, body) = request(&app, r.method, r.path, &app.a).await;
        let (status, value) = app.call(r.method, &uri, Some(&app.admin), body).await;
        assert!(
            !(status == StatusCode::NOT_FOUND && value["message"] == "endpoint not found")
                && status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {uri} is documented but not routed: {status}",
            r.method
        );
    }
}
