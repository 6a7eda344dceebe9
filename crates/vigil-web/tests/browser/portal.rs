//! The organization portal and the asset inventory form in a real headless Chromium: an
//! organization user logs in and lands on its portal (the other organization nowhere), opens
//! the new-asset form, types a software component, adds a row with the no-script "add a
//! row" button (the typed value survives), saves, edits the asset removing a row by its tick
//! box, and sees the inventory on the asset page. Real form POSTs with the browser's Origin
//! header and the CSRF field.

use super::*;

const OFFICER: &str = "officer";

async fn click(c: &Client, css: &str) -> Result<(), String> {
    wait_for(c, css)
        .await
        .click()
        .await
        .map_err(|e| format!("click {css}: {e}"))
}

async fn type_into(c: &Client, css: &str, text: &str) -> Result<(), String> {
    wait_for(c, css)
        .await
        .send_keys(text)
        .await
        .map_err(|e| format!("type into {css}: {e}"))
}

async fn source(c: &Client) -> Result<String, String> {
    c.source().await.map_err(|e| e.to_string())
}

/// Waits until the path of the current URL satisfies `ok`.
async fn wait_path(c: &Client, what: &str, ok: impl Fn(&str) -> bool) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.map_err(|e| e.to_string())?;
        if ok(url.path()) {
            return Ok(url.path().to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("URL {url} never became {what}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_portal_and_asset_form() {
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
    let (org, _) = seed(&*store).await;
    store
        .create_user(
            NewUser {
                username: OFFICER.into(),
                display_name: "单位安全员".into(),
                role: Role::OrgUser,
                org_id: Some(org),
                locale: Locale::En,
            },
            vigil_crypto::hash_password(PASSWORD).expect("hash"),
        )
        .await
        .expect("officer");
    let state = AppState::new(store.clone(), WebConfig::default(), None);
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
    let result = portal_scenario(&c, &base).await;
    let _ = c.close().await;
    drop(driver);
    server.abort();
    if let Err(e) = result {
        let log = std::fs::read_to_string(dir.path().join("chromedriver.log")).unwrap_or_default();
        let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
        panic!("{e}\nchromedriver log (last lines, newest first):\n{tail}");
    }
    // What the browser saved is in the store, in the officer's organization.
    let assets = store
        .list_assets(
            Scope::All,
            &vigil_store::AssetQuery {
                text: Some("Line 9 RTU".into()),
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .items;
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].spec.org_id, org);
    let names: Vec<&str> = assets[0]
        .spec
        .software
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["codesys-runtime"]);
}

async fn portal_scenario(c: &Client, base: &str) -> Result<(), String> {
    c.goto(&format!("{base}/login"))
        .await
        .map_err(|e| e.to_string())?;
    type_into(c, "#username", OFFICER).await?;
    type_into(c, "#password", PASSWORD).await?;
    click(c, "#login-submit").await?;

    // The landing page is the organization's portal.
    wait_for(c, "#portal-org").await;
    let org = text_of(c, "#portal-org").await;
    if org != "浙江电网测试公司" {
        return Err(format!("portal of {org:?}"));
    }
    let page = source(c).await?;
    if page.contains("Guangdong Water Works") {
        return Err("the portal shows the other organization".into());
    }
    if !page.contains("id=\"notices\"") || !page.contains("id=\"portal-assets\"") {
        return Err("portal sections missing".into());
    }

    // New asset: one component typed, a row added (the typed value survives), a second one.
    click(c, "#asset-new-link, a[href=\"/assets/new\"]").await?;
    wait_for(c, "#asset-form").await;
    type_into(c, "input[name=name]", "Line 9 RTU").await?;
    c.find(Locator::Css("select[name=kind] option[value=rtu]"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    type_into(c, "textarea[name=ips]", "10.9.9.9").await?;
    type_into(c, "input[name=sw_name_0]", "codesys-runtime").await?;
    type_into(c, "input[name=sw_version_0]", "3.5.17").await?;
    type_into(
        c,
        "input[name=sw_purl_0]",
        "pkg:generic/codesys-runtime@3.5.17",
    )
    .await?;
    click(c, "#add-software-row").await?;
    wait_for(c, "input[name=sw_name_3]").await;
    let kept = wait_for(c, "input[name=sw_name_0]")
        .await
        .prop("value")
        .await
        .map_err(|e| e.to_string())?;
    if kept.as_deref() != Some("codesys-runtime") {
        return Err(format!("typed component lost after adding a row: {kept:?}"));
    }
    type_into(c, "input[name=sw_name_1]", "openssl").await?;
    type_into(c, "input[name=sw_version_1]", "1.0.2u").await?;
    click(c, "#asset-save").await?;
    wait_query(c, "saved=1").await?;
    let table = text_of(c, "#software-table").await;
    if !table.contains("codesys-runtime") || !table.contains("openssl") {
        return Err(format!("software table after save: {table:?}"));
    }

    // Edit: remove openssl by its tick box.
    click(c, "#asset-edit-link").await?;
    wait_path(c, "the edit form", |p| p.ends_with("/edit")).await?;
    click(c, "input[name=sw_remove_1]").await?;
    click(c, "#asset-save").await?;
    wait_query(c, "saved=1").await?;
    let table = text_of(c, "#software-table").await;
    if table.contains("openssl") || !table.contains("codesys-runtime") {
        return Err(format!("software table after removing a row: {table:?}"));
    }
    Ok(())
}
