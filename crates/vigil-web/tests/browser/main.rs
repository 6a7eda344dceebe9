//! The web UI in a real headless Chromium driven through chromedriver (WebDriver, fantoccini):
//! log in, read the overview (SVG chart, CSS applied under the CSP), search events, open an
//! incident and comment on it (a real browser's POST with its Origin header and the CSRF
//! field), switch the language both ways, log out.
//!
//! Needs `/usr/bin/chromedriver` and Chromium (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test prints a SKIP line, unless `VIGIL_TEST_REQUIRE=1`.
//! With `VIGIL_UI_SCREENSHOTS=<dir>` it saves `vigil-overview.png` and `vigil-incident.png`
//! there.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::*;
use vigil_store::Store;
use vigil_store::sqlite::SqliteStore;
use vigil_web::{AppState, WebConfig};

mod portal;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "browser test password 7";
const EVENT_MARKER: &str = "Accepted publickey for deploy from 198.51.100.23";
const INCIDENT_TITLE: &str = "Ransomware on the line 3 HMI";

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start_driver(log: &Path) -> Driver {
    let port = free_port();
    let log_file = std::fs::File::create(log).expect("driver log");
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

async fn connect(driver: &Driver, profile: &Path) -> Client {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1600,1000".into(),
        "--lang=zh-CN".into(),
    ];
    args.dedup();
    let mut options = json!({ "args": args });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("webdriver session")
}

async fn seed(store: &dyn Store) -> (OrgId, IncidentId) {
    let mut first = None;
    for (name, sector, region) in [
        ("浙江电网测试公司", "power", "330100"),
        ("Guangdong Water Works", "water", "440100"),
    ] {
        let org = store
            .create_org(NewOrganization {
                name: name.into(),
                uscc: None,
                sector: sector.into(),
                region_code: region.into(),
                mlps_level: 3,
                cii: true,
                miit_type: None,
                miit_grade: None,
                responsible: Contact {
                    name: "李伟".into(),
                    ..Contact::default()
                },
                contacts: vec![],
            })
            .await
            .expect("org");
        first.get_or_insert(org.id);
    }
    let org = first.expect("an org");
    store
        .create_assets(
            Scope::All,
            vec![NewAsset {
                org_id: org,
                name: "3号产线 HMI".into(),
                kind: AssetKind::Hmi,
                importance: Importance::Critical,
                ips: vec!["10.20.3.21".parse().expect("ip")],
                cidrs: vec![],
                hostnames: vec!["hmi-3.plant.local".into()],
                domains: vec![],
                urls: vec![],
                macs: vec![],
                vendor: Some("Siemens".into()),
                model: Some("WinCC".into()),
                firmware: None,
                software: vec![],
                responsible: None,
                tags: vec![],
            }],
        )
        .await
        .expect("asset");
    let now = Timestamp::now();
    let events: Vec<NewEvent> = (0..12)
        .map(|i| {
            let message = if i == 7 {
                EVENT_MARKER.to_string()
            } else {
                format!("Failed password for root from 203.0.113.{i} port 22")
            };
            NewEvent {
                org_id: org,
                asset_id: None,
                timestamp: now,
                received_at: now,
                provenance: Provenance {
                    input: "syslog-tcp".into(),
                    sender: Some("192.0.2.10".into()),
                },
                fields: BTreeMap::from([
                    ("message".to_string(), json!(message)),
                    ("host.name".to_string(), json!("jump-01")),
                    ("source.ip".to_string(), json!(format!("203.0.113.{i}"))),
                    ("event.action".to_string(), json!("ssh-login")),
                ]),
                native: BTreeMap::new(),
                raw: message.into_bytes(),
            }
        })
        .collect();
    store.append_events(events).await.expect("events");
    let alerts = store
        .create_alerts(
            [
                (Severity::Critical, "勒索软件加密行为"),
                (Severity::High, "SSH 暴力破解"),
                (Severity::Medium, "可疑 PowerShell 下载"),
            ]
            .into_iter()
            .map(|(severity, title)| NewAlert {
                org_id: org,
                asset_id: None,
                source: AlertSource::Sigma,
                rule_id: "sigma-1".into(),
                title: title.into(),
                severity,
                category: Some("MPRANS".into()),
                detected_at: now,
                event_ids: vec![],
                details: json!({}),
            })
            .collect(),
        )
        .await
        .expect("alerts");
    let incident = store
        .create_incident(
            NewIncident {
                org_id: org,
                title: INCIDENT_TITLE.into(),
                description: "HMI screens show a ransom note; production line 3 stopped.".into(),
                category: "MP".into(),
                subcategory: Some("MPRANS".into()),
                grade: Grade::Major,
                asset_ids: vec![],
                alert_ids: vec![alerts[0].id],
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
    store
        .create_incident(
            NewIncident {
                org_id: org,
                title: "DDoS against the customer portal".into(),
                description: String::new(),
                category: "NA".into(),
                subcategory: None,
                grade: Grade::General,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: now,
            },
            "user:admin",
        )
        .await
        .expect("incident");
    store
        .create_user(
            NewUser {
                username: "admin".into(),
                display_name: "值班管理员".into(),
                role: Role::PlatformAdmin,
                org_id: None,
                locale: Locale::ZhCn,
            },
            vigil_crypto::hash_password(PASSWORD).expect("hash"),
        )
        .await
        .expect("user");
    (org, incident.id)
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

/// Waits until the current URL's query contains `needle` (a new page has replaced the old).
async fn wait_query(c: &Client, needle: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.map_err(|e| e.to_string())?;
        if url.query().is_some_and(|q| q.contains(needle)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("URL {url} never got {needle}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let Some(dir) = std::env::var_os("VIGIL_UI_SCREENSHOTS").map(PathBuf::from) else {
        return;
    };
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(name), png).expect("write screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_walks_through_the_ui() {
    if !Path::new(CHROMEDRIVER).exists() {
        assert!(
            !vigil_testkit::require(),
            "browser: {CHROMEDRIVER} not found and VIGIL_TEST_REQUIRE=1 forbids skipping"
        );
        println!("SKIP browser: {CHROMEDRIVER} not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("db")).expect("open store"));
    let (org, incident) = seed(&*store).await;
    let state = AppState::new(store, WebConfig::default(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            vigil_web::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let profile = dir.path().join("chrome-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let driver = start_driver(&dir.path().join("chromedriver.log")).await;
    let c = connect(&driver, &profile).await;
    let mut result = scenario(&c, &base, incident).await;
    if result.is_ok() && std::env::var_os("VIGIL_UI_SCREENSHOTS").is_some() {
        result = gallery(&c, &base, org).await;
    }
    let _ = c.close().await;
    drop(driver);
    server.abort();
    if let Err(e) = result {
        let log = std::fs::read_to_string(dir.path().join("chromedriver.log")).unwrap_or_default();
        let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
        panic!("{e}\nchromedriver log (last lines, newest first):\n{tail}");
    }
}

async fn scenario(c: &Client, base: &str, incident: IncidentId) -> Result<(), String> {
    c.set_window_size(1600, 1000)
        .await
        .map_err(|e| e.to_string())?;

    // An unauthenticated visit lands on the login form, which remembers where to go.
    c.goto(&format!("{base}/incidents"))
        .await
        .map_err(|e| e.to_string())?;
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    if url.path() != "/login" || url.query() != Some("next=%2Fincidents") {
        return Err(format!("expected the login page, got {url}"));
    }
    // A wrong password first: the error is shown.
    wait_for(c, "#username")
        .await
        .send_keys("admin")
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#password")
        .await
        .send_keys("wrong password")
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#login-submit")
        .await
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let err = wait_for(c, "#login-error")
        .await
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !err.contains("用户名或密码错误") {
        return Err(format!("login error reads {err:?}"));
    }
    // The user name is kept; type the right password.
    wait_for(c, "#password")
        .await
        .send_keys(PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#login-submit")
        .await
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#incident-table").await;
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    if url.path() != "/incidents" {
        return Err(format!("after login: {url}"));
    }

    // Overview: counters, the SVG chart, the heat grid; the stylesheet is applied (CSP-safe).
    c.goto(&format!("{base}/"))
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "svg.chart").await;
    let bars = c
        .find_all(Locator::Css("svg.chart rect.bar"))
        .await
        .map_err(|e| e.to_string())?;
    if bars.len() != 30 {
        return Err(format!("{} bars in the chart", bars.len()));
    }
    let counters = text_of(c, ".counters").await;
    if !counters.contains("未关闭事件") {
        return Err(format!("counters read {counters:?}"));
    }
    let heat = text_of(c, "#heat").await;
    if !heat.contains("恶意程序事件") {
        return Err(format!("heat grid reads {heat:?}"));
    }
    let bg = c
        .execute(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if bg != json!("rgb(10, 16, 28)") {
        return Err(format!("stylesheet not applied: body background {bg}"));
    }
    let bar_fill = c
        .execute(
            "return getComputedStyle(document.querySelector('svg.chart rect.bar')).fill;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if bar_fill != json!("rgb(63, 167, 255)") {
        return Err(format!("chart bars are not styled: fill {bar_fill}"));
    }
    screenshot(c, "vigil-overview.png").await;

    // Event search by text.
    c.find(Locator::Css("nav.nav a[href='/events']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#event-q")
        .await
        .send_keys("publickey for deploy")
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#event-search-submit")
        .await
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_query(c, "q=publickey").await?;
    wait_for(c, "#event-table").await;
    let rows = c
        .find_all(Locator::Css("#event-table tbody tr"))
        .await
        .map_err(|e| e.to_string())?;
    let table = text_of(c, "#event-table").await;
    if rows.len() != 1 || !table.contains(EVENT_MARKER) || !table.contains("jump-01") {
        return Err(format!("{} rows: {table:?}", rows.len()));
    }
    // The row opens the event with its raw text.
    c.find(Locator::Css("#event-table a.event-link"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let raw = wait_for(c, "#event-raw")
        .await
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if raw != EVENT_MARKER {
        return Err(format!("raw text {raw:?}"));
    }

    // Incident from the list; its timeline; a comment through the form.
    c.find(Locator::Css("nav.nav a[href='/incidents']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#incident-table").await;
    c.find(Locator::LinkText(INCIDENT_TITLE))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#timeline").await;
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    if url.path() != format!("/incidents/{incident}") {
        return Err(format!("incident link went to {url}"));
    }
    let timeline = text_of(c, "#timeline ol.timeline").await;
    if !timeline.contains("登记事件") || !timeline.contains("user:admin") {
        return Err(format!("timeline reads {timeline:?}"));
    }
    let grade = text_of(c, ".page-head .grade").await;
    if !grade.contains("重大") {
        return Err(format!("grade badge reads {grade:?}"));
    }
    c.find(Locator::Css("#incident-form select[name='status']"))
        .await
        .map_err(|e| e.to_string())?
        .select_by_value("notified")
        .await
        .map_err(|e| e.to_string())?;
    c.find(Locator::Css("#incident-form textarea[name='comment']"))
        .await
        .map_err(|e| e.to_string())?
        .send_keys("已电话通知单位安全负责人，要求隔离 HMI。")
        .await
        .map_err(|e| e.to_string())?;
    c.find(Locator::Css("#incident-form button[type='submit']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, ".flash-ok").await;
    let timeline = text_of(c, "#timeline ol.timeline").await;
    if !timeline.contains("已电话通知单位安全负责人") || !timeline.contains("已通报")
    {
        return Err(format!("after the comment the timeline reads {timeline:?}"));
    }
    let status = text_of(c, "#incident-status").await;
    if status != "已通报" {
        return Err(format!("status reads {status:?}"));
    }
    screenshot(c, "vigil-incident.png").await;

    // Language switch to English and back, staying on the page.
    c.find(Locator::Css(".lang-switch button[value='en']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "html[lang='en']").await;
    let nav = text_of(c, "nav.nav").await;
    if !nav.contains("Incidents") || !nav.contains("Event search") || nav.contains("安全事件") {
        return Err(format!("English navigation reads {nav:?}"));
    }
    let timeline = text_of(c, "#timeline").await;
    if !timeline.contains("Timeline") || !timeline.contains("Incident registered") {
        return Err(format!("English timeline reads {timeline:?}"));
    }
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    if url.path() != format!("/incidents/{incident}") {
        return Err(format!("language switch went to {url}"));
    }
    if std::env::var_os("VIGIL_UI_SCREENSHOTS").is_some() {
        c.goto(&format!("{base}/?wall=1"))
            .await
            .map_err(|e| e.to_string())?;
        wait_for(c, "body.wall svg.chart").await;
        screenshot(c, "vigil-overview-en-wall.png").await;
        c.goto(&format!("{base}/incidents/{incident}"))
            .await
            .map_err(|e| e.to_string())?;
    }
    c.find(Locator::Css(".lang-switch button[value='zh-CN']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "html[lang='zh-CN']").await;
    let nav = text_of(c, "nav.nav").await;
    if !nav.contains("安全事件") {
        return Err(format!("Chinese navigation reads {nav:?}"));
    }

    // Log out: back to the login page, and pages are closed again.
    c.find(Locator::Css("#logout"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#login-submit").await;
    c.goto(&format!("{base}/alerts"))
        .await
        .map_err(|e| e.to_string())?;
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    if url.path() != "/login" {
        return Err(format!("after logout /alerts went to {url}"));
    }
    Ok(())
}

/// Screenshots of the other pages, for a person to look at (only with VIGIL_UI_SCREENSHOTS).
async fn gallery(c: &Client, base: &str, org: OrgId) -> Result<(), String> {
    c.goto(&format!("{base}/login"))
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#username")
        .await
        .send_keys("admin")
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#password")
        .await
        .send_keys(PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "#login-submit")
        .await
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, ".counters").await;
    for (path, name) in [
        ("/orgs".to_string(), "orgs"),
        (format!("/orgs/{org}"), "org"),
        ("/assets".into(), "assets"),
        ("/events".into(), "events"),
        ("/alerts".into(), "alerts"),
        ("/incidents".into(), "incidents"),
    ] {
        c.goto(&format!("{base}{path}"))
            .await
            .map_err(|e| e.to_string())?;
        wait_for(c, "main").await;
        screenshot(c, &format!("vigil-{name}.png")).await;
    }
    c.set_window_size(420, 900)
        .await
        .map_err(|e| e.to_string())?;
    c.goto(&format!("{base}/"))
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, ".counters").await;
    screenshot(c, "vigil-overview-narrow.png").await;
    Ok(())
}
