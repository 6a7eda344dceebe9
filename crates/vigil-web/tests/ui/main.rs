//! Tests of the server-rendered web UI, through the whole router over a temporary SQLite
//! store: login and logout, every page for several roles, tenant isolation in the HTML,
//! CSRF and origin checks on every POST, role checks on the incident form, the language
//! switch, static assets, escaping.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;
use vigil_model::*;
use vigil_store::Store;
use vigil_store::sqlite::SqliteStore;
use vigil_web::{AppState, WebConfig};

mod attack;
mod evidence;
mod filed_reports;
mod impact;
mod incident_report;
mod intel;
mod notifications;
mod pipeline;
mod portal;
mod warnings;

const PASSWORD: &str = "correct horse battery 9";

struct Org {
    id: OrgId,
    name: String,
    asset: String,
    asset_id: vigil_model::AssetId,
    alert: AlertId,
    alert_title: String,
    incident: IncidentId,
    incident_title: String,
    event: EventId,
    event_marker: String,
}

struct App {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    state: AppState,
    a: Org,
    b: Org,
}

impl App {
    fn router(&self) -> Router {
        vigil_web::router(self.state.clone())
    }
}

fn org_spec(name: &str, sector: &str, region: &str) -> NewOrganization {
    NewOrganization {
        name: name.into(),
        uscc: Some("91350100M000100Y43".into()),
        sector: sector.into(),
        region_code: region.into(),
        mlps_level: 3,
        cii: true,
        miit_type: Some(MiitEnterpriseType::NetworkedIndustrial),
        miit_grade: Some(2),
        responsible: Contact {
            name: format!("{name} Security Chief"),
            title: Some("CISO".into()),
            phone: Some("+86 571 0000 0000".into()),
            email: Some("ciso@example.cn".into()),
        },
        contacts: vec![Contact {
            name: format!("{name} Duty Officer"),
            ..Contact::default()
        }],
    }
}

async fn seed_org(store: &dyn Store, name: &str, sector: &str, region: &str) -> Org {
    let org = store
        .create_org(org_spec(name, sector, region))
        .await
        .expect("org");
    let asset_name = format!("{name} Line PLC");
    let asset = store
        .create_assets(
            Scope::All,
            vec![NewAsset {
                org_id: org.id,
                name: asset_name.clone(),
                kind: AssetKind::Plc,
                importance: Importance::Critical,
                ips: vec!["10.20.3.15".parse().expect("ip")],
                cidrs: vec![],
                hostnames: vec!["plc-3.plant.local".into()],
                domains: vec![],
                urls: vec![],
                macs: vec![],
                vendor: Some("Siemens".into()),
                model: Some("S7-1500".into()),
                firmware: None,
                software: vec![],
                responsible: None,
                tags: vec![],
            }],
        )
        .await
        .expect("asset")
        .remove(0);
    let now = Timestamp::now();
    let marker = format!("sshd failed password for root from {name}");
    let mut fields = BTreeMap::new();
    fields.insert("message".to_string(), json!(marker));
    fields.insert("source.ip".to_string(), json!("203.0.113.9"));
    fields.insert("host.name".to_string(), json!("jump-host-1"));
    fields.insert("event.action".to_string(), json!("logon-failed"));
    let mut native = BTreeMap::new();
    native.insert("PROGRAM".to_string(), json!("sshd"));
    let event = store
        .append_events(vec![NewEvent {
            org_id: org.id,
            asset_id: Some(asset.id),
            timestamp: now,
            received_at: now,
            provenance: Provenance {
                input: "syslog-tcp".into(),
                sender: Some("192.0.2.1".into()),
            },
            fields,
            native,
            raw: format!("<34>Oct 11 22:14:15 jump-host-1 sshd: {marker}").into_bytes(),
        }])
        .await
        .expect("event")[0];
    let alert_title = format!("{name} brute force alert");
    let alert = store
        .create_alerts(vec![NewAlert {
            org_id: org.id,
            asset_id: Some(asset.id),
            source: AlertSource::Sigma,
            rule_id: "sigma-ssh-bruteforce".into(),
            title: alert_title.clone(),
            severity: Severity::High,
            category: Some("NACRED".into()),
            detected_at: now,
            event_ids: vec![event],
            details: json!({"count": 42}),
        }])
        .await
        .expect("alert")
        .remove(0);
    let incident_title = format!("{name} credential attack incident");
    let incident = store
        .create_incident(
            NewIncident {
                org_id: org.id,
                title: incident_title.clone(),
                description: "Repeated SSH logins against the jump host.".into(),
                category: "NA".into(),
                subcategory: Some("NACRED".into()),
                grade: Grade::Major,
                asset_ids: vec![asset.id],
                alert_ids: vec![alert.id],
                occurred_at: now,
            },
            "user:admin",
        )
        .await
        .expect("incident");
    // Triaged, so the analyst's next step is to notify the organization.
    store
        .update_incident(
            vigil_model::Scope::All,
            incident.id,
            vigil_store::IncidentUpdate {
                status: Some(vigil_model::IncidentStatus::Triaged),
                ..Default::default()
            },
            "user:admin",
        )
        .await
        .expect("triage");
    Org {
        id: org.id,
        name: name.into(),
        asset: asset_name,
        asset_id: asset.id,
        alert: alert.id,
        alert_title,
        incident: incident.id,
        incident_title,
        event,
        event_marker: marker,
    }
}

async fn user(store: &dyn Store, name: &str, role: Role, org: Option<OrgId>, locale: Locale) {
    store
        .create_user(
            NewUser {
                username: name.into(),
                display_name: format!("{name} display"),
                role,
                org_id: org,
                locale,
            },
            vigil_crypto::hash_password(PASSWORD).expect("hash"),
        )
        .await
        .expect("user");
}

async fn app_with(config: WebConfig) -> App {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db")).expect("open store"));
    let a = seed_org(&*store, "Alpha Grid Power Co", "power", "330100").await;
    let b = seed_org(&*store, "Bravo Chemical Works", "chemical", "440300").await;
    user(&*store, "admin", Role::PlatformAdmin, None, Locale::ZhCn).await;
    user(&*store, "analyst", Role::Analyst, None, Locale::En).await;
    user(&*store, "auditor", Role::Auditor, None, Locale::En).await;
    user(&*store, "officer", Role::OrgUser, Some(a.id), Locale::En).await;
    let state = AppState::new(store.clone(), config, None);
    App {
        _dir: dir,
        store,
        state,
        a,
        b,
    }
}

async fn app() -> App {
    app_with(WebConfig::default()).await
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(app: &App, req: Request<Body>) -> Resp {
    let resp = app.router().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn form_body(pairs: &[(&str, &str)]) -> Body {
    Body::from(serde_urlencoded::to_string(pairs).expect("form"))
}

async fn post_form(app: &App, path: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Resp {
    post_form_with(app, path, cookie, pairs, &[]).await
}

async fn post_form_with(
    app: &App,
    path: &str,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "vigil.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    send(app, b.body(form_body(pairs)).expect("request")).await
}

async fn get(app: &App, path: &str, cookie: Option<&str>) -> Resp {
    let mut b = Request::builder()
        .uri(path)
        .header(header::HOST, "vigil.test");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    send(app, b.body(Body::empty()).expect("request")).await
}

/// Logs in through the form and returns the `Cookie` header value.
async fn login(app: &App, username: &str) -> String {
    let r = post_form(
        app,
        "/login",
        None,
        &[
            ("username", username),
            ("password", PASSWORD),
            ("next", "/"),
        ],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "login {username}: {}",
        r.body
    );
    let set = r
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie");
    set.split(';').next().expect("cookie pair").to_string()
}

/// The CSRF token from a page's hidden field.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("csrf value")
        .to_string()
}

async fn csrf(app: &App, cookie: &str) -> String {
    csrf_of(&get(app, "/", Some(cookie)).await.body)
}

#[tokio::test]
async fn login_sets_the_session_cookie_and_redirects_to_next() {
    let app = app().await;
    let page = get(&app, "/login?next=%2Forgs", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"next\" value=\"/orgs\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("用户名"), "Chinese by default");

    let r = post_form(
        &app,
        "/login",
        None,
        &[
            ("username", "admin"),
            ("password", PASSWORD),
            ("next", "/orgs"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/orgs");
    let cookie = r
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("cookie");
    assert!(cookie.starts_with("vigil_session=vgs_"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let pair = cookie.split(';').next().expect("pair");
    let orgs = get(&app, "/orgs", Some(pair)).await;
    assert_eq!(orgs.status, StatusCode::OK);
    assert!(orgs.body.contains(&app.a.name));

    // Logged in already: the login page goes straight on.
    let again = get(&app, "/login?next=%2Falerts", Some(pair)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/alerts");
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let app = app().await;
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = post_form(
            &app,
            "/login",
            None,
            &[
                ("username", "admin"),
                ("password", PASSWORD),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), "/", "{next}");
    }
}

#[tokio::test]
async fn bad_credentials_and_throttling_show_clear_errors() {
    let app = app_with(WebConfig {
        login_max_failures: 2,
        ..WebConfig::default()
    })
    .await;
    let r = post_form(
        &app,
        "/login",
        None,
        &[("username", "admin"), ("password", "wrong"), ("lang", "en")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body.contains("Wrong user name or password."),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"admin\""), "user name is kept");
    assert!(r.headers.get(header::SET_COOKIE).is_none());

    let r = post_form(
        &app,
        "/login",
        None,
        &[("username", "admin"), ("password", "wrong")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("用户名或密码错误"), "{}", r.body);

    // Now throttled, even with the right password.
    let r = post_form(
        &app,
        "/login",
        None,
        &[("username", "admin"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("登录失败次数过多"), "{}", r.body);
    assert!(r.headers.get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn cross_site_login_is_refused() {
    let app = app().await;
    let r = post_form_with(
        &app,
        "/login",
        None,
        &[("username", "admin"), ("password", PASSWORD)],
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn pages_need_a_session_and_ignore_bearer_tokens() {
    let app = app().await;
    let r = get(&app, "/incidents?open=true", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fincidents%3Fopen%3Dtrue");
    for path in ["/", "/orgs", "/assets", "/events", "/alerts", "/incidents"] {
        let r = get(&app, path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().starts_with("/login"), "{path}");
    }
    // A valid API token does not open pages.
    let secret = vigil_crypto::new_secret("vgl_");
    app.store
        .create_token(
            ApiToken {
                id: TokenId::new(),
                name: "t".into(),
                role: Role::PlatformAdmin,
                org_id: None,
                created_by: "test".into(),
                created_at: Timestamp::now(),
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            vigil_crypto::secret_hash(&secret),
        )
        .await
        .expect("token");
    let req = Request::builder()
        .uri("/")
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .expect("request");
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A stale cookie also goes to the login page.
    let r = get(&app, "/", Some("vigil_session=vgs_nonsense")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_page_renders_its_data_for_an_admin() {
    let app = app().await;
    let c = login(&app, "admin").await;
    let a = &app.a;
    let checks: Vec<(String, Vec<String>)> = vec![
        (
            "/".into(),
            vec![
                "<svg class=\"chart\"".into(),
                "态势总览".into(),
                "未关闭事件".into(),
                "grade-orange".into(),
                a.name.clone(),
                app.b.name.clone(),
                a.alert_title.clone(),
                "网络攻击事件".into(),
            ],
        ),
        (
            "/?days=7&wall=1".into(),
            vec!["class=\"wall\"".into(), "http-equiv=\"refresh\"".into()],
        ),
        (
            "/orgs".into(),
            vec![
                a.name.clone(),
                app.b.name.clone(),
                "电力".into(),
                "杭州".into(),
            ],
        ),
        ("/orgs?sector=chemical".into(), vec![app.b.name.clone()]),
        ("/orgs?region=440000".into(), vec![app.b.name.clone()]),
        (
            format!("/orgs/{}", a.id),
            vec![
                a.name.clone(),
                "91350100M000100Y43".into(),
                format!("{} Security Chief", a.name),
                format!("{} Duty Officer", a.name),
                "第三级 监督保护级".into(),
                "联网工业企业".into(),
                "二级".into(),
                a.asset.clone(),
                a.incident_title.clone(),
                a.alert_title.clone(),
            ],
        ),
        (
            "/assets".into(),
            vec![a.asset.clone(), app.b.asset.clone(), "10.20.3.15".into()],
        ),
        (
            format!(
                "/assets?industrial=1&kind=plc&importance=critical&org_id={}",
                a.id
            ),
            vec![a.asset.clone()],
        ),
        (
            "/events".into(),
            vec![
                a.event_marker.clone(),
                "jump-host-1".into(),
                "203.0.113.9".into(),
            ],
        ),
        (
            format!("/events?q={}", "Alpha%20Grid"),
            vec![a.event_marker.clone()],
        ),
        (
            "/events?filter=event.action%3Alogon-failed&filter=&from=2020-01-01T00%3A00".into(),
            vec![a.event_marker.clone(), app.b.event_marker.clone()],
        ),
        (
            format!("/events/{}", a.event),
            vec![
                "&#60;34&#62;Oct 11".into(),
                "PROGRAM".into(),
                "syslog-tcp".into(),
                a.asset.clone(),
            ],
        ),
        (
            "/alerts".into(),
            vec![
                a.alert_title.clone(),
                app.b.alert_title.clone(),
                "Sigma规则".into(),
            ],
        ),
        (
            "/alerts?severity=high&status=escalated".into(),
            vec![a.alert_title.clone()],
        ),
        (
            format!("/alerts/{}", a.alert),
            vec![
                a.alert_title.clone(),
                "sigma-ssh-bruteforce".into(),
                format!("/events/{}", a.event),
            ],
        ),
        (
            "/incidents".into(),
            vec![
                a.incident_title.clone(),
                app.b.incident_title.clone(),
                "重大".into(),
            ],
        ),
        (
            "/incidents?open=true&grade=major&category=NA".into(),
            vec![a.incident_title.clone()],
        ),
        (
            format!("/incidents/{}", a.incident),
            vec![
                a.incident_title.clone(),
                "网络攻击事件".into(),
                "grade grade-orange".into(),
                "橙色".into(),
                "登记事件".into(),
                a.alert_title.clone(),
                "name=\"csrf\"".into(),
                "name=\"comment\"".into(),
                "value=\"closed\"".into(),
            ],
        ),
    ];
    for (path, wants) in checks {
        let r = get(&app, &path, Some(&c)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(
            r.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8")
        );
        for w in wants {
            assert!(r.body.contains(&w), "{path} lacks {w}\n{}", r.body);
        }
        assert!(!r.body.contains("style="), "{path} has an inline style");
        assert!(!r.body.contains("<script"), "{path} has a script");
    }
    // Filters exclude.
    let r = get(&app, "/orgs?sector=chemical", Some(&c)).await;
    assert!(!r.body.contains(&a.name));
    let r = get(&app, "/events?q=Bravo", Some(&c)).await;
    assert!(!r.body.contains(&a.event_marker));
    assert!(r.body.contains(&app.b.event_marker));
    // Bad search input is reported on the page.
    let r = get(&app, "/events?from=yesterday&filter=nocolon", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("yesterday") && r.body.contains("nocolon"));
    // Unknown and malformed ids look absent.
    for path in [
        format!("/orgs/{}", OrgId::new()),
        "/orgs/not-a-uuid".into(),
        format!("/incidents/{}", IncidentId::new()),
        "/events/999999".into(),
        format!("/alerts/{}", AlertId::new()),
    ] {
        assert_eq!(
            get(&app, &path, Some(&c)).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn list_pages_link_to_the_next_page() {
    let app = app().await;
    // 60 more events for A: more than one page of 50.
    let now = Timestamp::now();
    let events = (0..60)
        .map(|i| NewEvent {
            org_id: app.a.id,
            asset_id: None,
            timestamp: now,
            received_at: now,
            provenance: Provenance {
                input: "test".into(),
                sender: None,
            },
            fields: BTreeMap::from([("message".to_string(), json!(format!("paging event {i}")))]),
            native: BTreeMap::new(),
            raw: vec![],
        })
        .collect();
    app.store.append_events(events).await.expect("events");
    let c = login(&app, "admin").await;
    let r = get(&app, "/events?q=paging", Some(&c)).await;
    let marker = "id=\"next-page\"";
    assert!(r.body.contains(marker), "{}", r.body);
    let href_start = r
        .body
        .find("href=\"/events?q=paging&#38;cursor=")
        .expect("next link");
    let href = r.body[href_start + 6..]
        .split('"')
        .next()
        .expect("href")
        .replace("&#38;", "&");
    let page2 = get(&app, &href, Some(&c)).await;
    assert_eq!(page2.status, StatusCode::OK);
    assert_eq!(page2.body.matches("class=\"event-link\"").count(), 10);
    assert!(!page2.body.contains(marker));
    assert!(page2.body.contains("回到第一页"));
    // A forged cursor is reported, not a server error.
    let r = get(&app, "/events?cursor=garbage", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("分页标记无效"), "{}", r.body);
}

#[tokio::test]
async fn an_organization_user_never_sees_another_organization() {
    let app = app().await;
    let c = login(&app, "officer").await;
    let (a, b) = (&app.a, &app.b);
    let pages = [
        "/".to_string(),
        "/orgs".into(),
        format!("/orgs/{}", a.id),
        "/assets".into(),
        "/events".into(),
        "/events?q=sshd".into(),
        format!("/events/{}", a.event),
        format!("/assets/{}", a.asset_id),
        "/alerts".into(),
        format!("/alerts/{}", a.alert),
        "/incidents".into(),
        format!("/incidents/{}", a.incident),
        format!("/assets?org_id={}", b.id),
        format!("/alerts?org_id={}", b.id),
        format!("/incidents?org_id={}", b.id),
        format!("/events?org_id={}", b.id),
    ];
    for path in &pages {
        let r = get(&app, path, Some(&c)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        for secret in [
            &b.name,
            &b.asset,
            &b.alert_title,
            &b.incident_title,
            &b.event_marker,
        ] {
            assert!(!r.body.contains(secret.as_str()), "{path} shows {secret}");
        }
    }
    // Its own organization is there.
    let r = get(&app, "/orgs", Some(&c)).await;
    assert!(r.body.contains(&a.name));
    let r = get(&app, "/", Some(&c)).await;
    assert!(r.body.contains(&a.alert_title));
    // Direct links to the other organization's records look absent.
    for path in [
        format!("/orgs/{}", b.id),
        format!("/assets/{}", b.asset_id),
        format!("/events/{}", b.event),
        format!("/alerts/{}", b.alert),
        format!("/incidents/{}", b.incident),
    ] {
        let r = get(&app, &path, Some(&c)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.body.contains(&b.name));
    }
    // And it cannot change them.
    let token = csrf(&app, &c).await;
    let r = post_form(
        &app,
        &format!("/incidents/{}", b.incident),
        Some(&c),
        &[("csrf", &token), ("comment", "not mine")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn posts_without_the_right_csrf_token_or_from_another_site_are_refused() {
    let app = app().await;
    let c = login(&app, "analyst").await;
    let token = csrf(&app, &c).await;
    assert!(token.len() >= 20, "{token}");
    let inc = format!("/incidents/{}", app.a.incident);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (inc.as_str(), vec![("comment", "x")]),
        (inc.as_str(), vec![("csrf", ""), ("comment", "x")]),
        (
            inc.as_str(),
            vec![("csrf", "wrong-token-wrong-token"), ("comment", "x")],
        ),
        ("/settings/locale", vec![("locale", "zh-CN")]),
        (
            "/settings/locale",
            vec![("csrf", "nope"), ("locale", "zh-CN")],
        ),
        ("/logout", vec![]),
        ("/logout", vec![("csrf", "nope")]),
    ];
    for (path, form) in &cases {
        let r = post_form(&app, path, Some(&c), form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {form:?}");
    }
    // The right token from another origin is refused too.
    for extra in [
        [("origin", "https://evil.example")],
        [("sec-fetch-site", "cross-site")],
    ] {
        let r = post_form_with(
            &app,
            &inc,
            Some(&c),
            &[("csrf", &token), ("comment", "x")],
            &extra,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{extra:?}");
    }
    // Nothing was written.
    let i = app
        .store
        .get_incident(Scope::All, app.a.incident)
        .await
        .expect("get")
        .expect("incident");
    assert_eq!(i.timeline.len(), 2, "created and triaged only");
    // With the token and the same origin it works.
    let r = post_form_with(
        &app,
        &inc,
        Some(&c),
        &[
            ("csrf", &token),
            ("status", "notified"),
            ("comment", "Notice sent to the operator"),
        ],
        &[("origin", "http://vigil.test")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{inc}?saved=1"));
    let page = get(&app, r.location(), Some(&c)).await;
    assert!(page.body.contains("Notice sent to the operator"));
    assert!(
        page.body.contains("Status set to Notified"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Saved."));
}

/// The analyst's notice, straight through the store.
async fn notify(app: &App) {
    app.store
        .update_incident(
            Scope::All,
            app.a.incident,
            vigil_store::IncidentUpdate {
                status: Some(IncidentStatus::Notified),
                ..Default::default()
            },
            "user:analyst",
        )
        .await
        .expect("notify");
}

#[tokio::test]
async fn incident_form_follows_the_role() {
    let app = app().await;
    let inc = format!("/incidents/{}", app.a.incident);

    // Auditor: no form, and a forged post is refused.
    let c = login(&app, "auditor").await;
    let page = get(&app, &inc, Some(&c)).await;
    assert!(!page.body.contains("id=\"incident-form\""));
    assert!(page.body.contains("Your role can only view this incident."));
    let token = csrf_of(&page.body);
    let r = post_form(&app, &inc, Some(&c), &[("csrf", &token), ("comment", "x")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[("csrf", &token), ("status", "acknowledged")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Organization user: before the notice there is nothing for it to do but comment.
    let c = login(&app, "officer").await;
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("id=\"incident-form\""));
    assert!(!page.body.contains("value=\"acknowledged\""));
    assert!(!page.body.contains("id=\"notice-link\""));
    notify(&app).await;
    // Notified: acknowledging is its one next step, and the signed notice is offered.
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("id=\"notice-link\""), "{}", page.body);
    assert!(page.body.contains("id=\"deadlines\""), "{}", page.body);
    assert!(
        page.body.contains("Acknowledge the notice"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"acknowledged\""));
    assert!(!page.body.contains("value=\"remediated\""));
    assert!(!page.body.contains("value=\"closed\""));
    assert!(!page.body.contains("value=\"verified\""));
    let token = csrf_of(&page.body);
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[("csrf", &token), ("status", "closed")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(&app, &inc, Some(&c), &[("csrf", &token)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[
            ("csrf", &token),
            ("status", "acknowledged"),
            ("comment", "On it"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let i = app
        .store
        .get_incident(Scope::All, app.a.incident)
        .await
        .expect("get")
        .expect("incident");
    assert_eq!(i.status, IncidentStatus::Acknowledged);
    assert_eq!(i.timeline.last().map(|e| e.note.as_str()), Some("On it"));
    assert!(i.timeline.iter().any(|e| e.actor == "user:officer"));

    // The analyst cannot skip the organization's remediation and feedback...
    let c = login(&app, "analyst").await;
    let token = csrf(&app, &c).await;
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[("csrf", &token), ("status", "closed")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body
            .contains("illegal transition from &#39;acknowledged&#39; to &#39;closed&#39;"),
        "{}",
        r.body
    );
    // ...but closes once the fix is verified.
    for s in [
        IncidentStatus::Remediating,
        IncidentStatus::Remediated,
        IncidentStatus::Verified,
    ] {
        app.store
            .update_incident(
                Scope::All,
                app.a.incident,
                vigil_store::IncidentUpdate {
                    status: Some(s),
                    ..Default::default()
                },
                "user:test",
            )
            .await
            .expect("step");
    }
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("value=\"closed\""));
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[("csrf", &token), ("status", "closed")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("Status set to Closed"));
}

#[tokio::test]
async fn the_language_switch_changes_the_rendered_language() {
    let app = app().await;
    let c = login(&app, "admin").await;
    let zh = get(&app, "/incidents", Some(&c)).await;
    assert!(zh.body.contains("<html lang=\"zh-CN\">"));
    assert!(zh.body.contains("退出登录"));
    let token = csrf_of(&zh.body);
    assert!(zh.body.contains("name=\"back\" value=\"/incidents\""));

    let r = post_form(
        &app,
        "/settings/locale",
        Some(&c),
        &[
            ("csrf", &token),
            ("locale", "en"),
            ("back", "/incidents?open=true"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/incidents?open=true");
    let en = get(&app, "/incidents?open=true", Some(&c)).await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Log out"));
    assert!(en.body.contains("Major (II)"));
    assert!(!en.body.contains("退出登录"));
    let overview = get(&app, "/", Some(&c)).await;
    assert!(overview.body.contains("Situation overview"));
    assert!(overview.body.contains("Network attack"));

    // Back to Chinese; a foreign `back` goes home instead.
    let r = post_form(
        &app,
        "/settings/locale",
        Some(&c),
        &[
            ("csrf", &token),
            ("locale", "zh-CN"),
            ("back", "//evil.example"),
        ],
    )
    .await;
    assert_eq!(r.location(), "/");
    assert!(get(&app, "/", Some(&c)).await.body.contains("态势总览"));
    let r = post_form(
        &app,
        "/settings/locale",
        Some(&c),
        &[("csrf", &token), ("locale", "fr")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The login page has its own switch.
    let login_en = get(&app, "/login?lang=en", None).await;
    assert!(login_en.body.contains("User name"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = app().await;
    let c = login(&app, "admin").await;
    let token = csrf(&app, &c).await;
    let r = post_form(&app, "/logout", Some(&c), &[("csrf", &token)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login");
    let clear = r
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(clear.contains("Max-Age=0"), "{clear}");
    let r = get(&app, "/", Some(&c)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn user_text_is_escaped() {
    let app = app().await;
    let evil = "<img src=x onerror=alert(1)>";
    app.store
        .create_alerts(vec![NewAlert {
            org_id: app.a.id,
            asset_id: None,
            source: AlertSource::Manual,
            rule_id: evil.into(),
            title: format!("XSS {evil}"),
            severity: Severity::Critical,
            category: None,
            detected_at: Timestamp::now(),
            event_ids: vec![],
            details: json!({"html": evil}),
        }])
        .await
        .expect("alert");
    let c = login(&app, "admin").await;
    for path in ["/", "/alerts"] {
        let r = get(&app, path, Some(&c)).await;
        assert!(!r.body.contains(evil), "{path}");
        assert!(
            r.body.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn static_assets_are_served_with_type_and_cache_headers() {
    let app = app().await;
    let r = get(&app, "/static/vigil.css", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
    assert!(r.headers.get(header::CACHE_CONTROL).is_some());
    let etag = r
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_string();
    assert!(r.body.contains(".grade-red"));
    let req = Request::builder()
        .uri("/static/vigil.css")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&app, req).await.status, StatusCode::NOT_MODIFIED);
    let svg = get(&app, "/static/favicon.svg", None).await;
    assert_eq!(
        svg.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("image/svg+xml")
    );
    assert_eq!(
        get(&app, "/static/nope.css", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/static/../Cargo.toml", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_asset_page_shows_identifiers_and_latest_events() {
    let app = app().await;
    let c = login(&app, "admin").await;
    let r = get(&app, &format!("/assets/{}", app.a.asset_id), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(&app.a.asset), "asset name shown");
    assert!(
        r.body.contains(&app.a.event_marker),
        "its events are listed"
    );
    assert!(
        !r.body.contains(&app.b.event_marker),
        "not another asset's events"
    );
    let r = get(&app, "/assets/not-an-id", Some(&c)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = get(&app, "/assets", Some(&c)).await;
    assert!(
        list.body.contains(&format!("/assets/{}", app.a.asset_id)),
        "the list links to it"
    );
}

#[tokio::test]
async fn users_change_their_own_password_and_log_in_again() {
    let app = app().await;
    let c = login(&app, "analyst").await;
    let page = get(&app, "/settings/password", Some(&c)).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = csrf_of(&page.body);
    let new = "a brand new password 7";
    // Wrong current password, mismatch, too short: the form comes back with the reason.
    for (current, a, b, expect) in [
        ("not my password", new, new, "current password is wrong"),
        (PASSWORD, new, "something else entirely", "differ"),
        (PASSWORD, "short", "short", "at least 12"),
    ] {
        let r = post_form(
            &app,
            "/settings/password",
            Some(&c),
            &[
                ("csrf", &token),
                ("current", current),
                ("new", a),
                ("confirm", b),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains(expect), "{expect}: {}", r.body);
    }
    // Without the CSRF token nothing changes.
    let r = post_form(
        &app,
        "/settings/password",
        Some(&c),
        &[
            ("csrf", "wrong"),
            ("current", PASSWORD),
            ("new", new),
            ("confirm", new),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &app,
        "/settings/password",
        Some(&c),
        &[
            ("csrf", &token),
            ("current", PASSWORD),
            ("new", new),
            ("confirm", new),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The old session is gone, the old password no longer works, the new one does.
    assert_eq!(get(&app, "/", Some(&c)).await.status, StatusCode::SEE_OTHER);
    let old = post_form(
        &app,
        "/login",
        None,
        &[
            ("username", "analyst"),
            ("password", PASSWORD),
            ("next", "/"),
        ],
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let fresh = post_form(
        &app,
        "/login",
        None,
        &[("username", "analyst"), ("password", new), ("next", "/")],
    )
    .await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_monthly_report_counts_the_month_and_prints() {
    let app = app().await;
    let c = login(&app, "analyst").await;
    let month = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)))
        .strftime("%Y-%m")
        .to_string();
    let r = get(&app, "/reports/monthly", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("Monthly situation report · {month}")),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"report-headline\""), "{}", r.body);
    assert!(
        r.body.contains("incidents were tracked this month"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"by-category\""), "{}", r.body);
    assert!(r.body.contains("window.print()"), "{}", r.body);
    // A month without incidents, and a month that is not one.
    let r = get(&app, "/reports/monthly?month=2001-01", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("0 incidents were tracked this month."),
        "{}",
        r.body
    );
    let r = get(&app, "/reports/monthly?month=2001-13", Some(&c)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
