//! Intelligence administration: source settings, import history, the TLP rule for
//! organization users, blocklists in their three formats and external dynamic lists.

use crate::harness::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use vigil_store::{IntelImportId, IntelSourceId, NewEdlList, NewIndicator, NewIntelImport};
use vigil_web::WebConfig;

/// A recorded import of the source (for the access matrix).
pub async fn seed_import(app: &TestApp, source: IntelSourceId) -> IntelImportId {
    app.store
        .record_intel_import(NewIntelImport {
            source_id: source,
            actor: "user:seed".into(),
            via: "api".into(),
            format: "list".into(),
            inserted: 1,
            updated: 0,
            unchanged: 0,
            rejected: 0,
            rejections: vec![],
            started_at: vigil_model::Timestamp::now(),
        })
        .await
        .expect("import")
        .id
}

/// An external dynamic list defined through the store (for the access matrix).
pub async fn seed_edl(app: &TestApp, name: &str) {
    app.store
        .put_edl_list(
            NewEdlList {
                name: name.into(),
                description: None,
                filter: json!({"types": ["ipv4"]}),
            },
            "user:seed",
        )
        .await
        .expect("edl");
}

async fn source(app: &TestApp, name: &str) -> IntelSourceId {
    app.store
        .upsert_intel_source(vigil_store::NewIntelSource {
            name: name.into(),
            kind: "list".into(),
            url: None,
            enabled: true,
            trust: 50,
        })
        .await
        .expect("source")
        .id
}

fn ind(source: IntelSourceId, n: &str, kind: &str, value: &str) -> NewIndicator {
    NewIndicator {
        source_id: source,
        stix_id: format!("indicator--{n}"),
        kind: kind.into(),
        value: Some(value.into()),
        values: vec![format!("{kind}:{value}")],
        pattern: None,
        name: Some(format!("bad {value}")),
        description: None,
        confidence: 80,
        tlp: Some("green".into()),
        valid_from: None,
        valid_until: None,
        labels: vec!["c2".into()],
        kill_chain: vec![],
        attack_ids: vec![],
        modified: vigil_model::Timestamp::UNIX_EPOCH,
        revoked: false,
        object: json!({"type": "indicator", "id": format!("indicator--{n}")}),
    }
}

fn at(s: &str) -> vigil_model::Timestamp {
    s.parse().expect("time")
}

/// A mixed set over two sources: hosts that aggregate, a covering network, a duplicate
/// value from the second source, markings, low confidence, expired, revoked.
async fn seed_mixed(app: &TestApp) -> (IntelSourceId, IntelSourceId) {
    let a = source(app, "feed-a").await;
    let b = source(app, "feed-b").await;
    let mut items = vec![
        ind(a, "01", "ipv4", "192.0.2.0"),
        ind(a, "02", "ipv4", "192.0.2.1"),
        ind(a, "03", "ipv4", "198.51.100.0/24"),
        ind(a, "04", "ipv4", "198.51.100.9"),
        ind(a, "05", "ipv6", "2001:db8::1"),
        ind(a, "06", "domain", "evil.example"),
        ind(a, "07", "url", "http://evil.example/dl;x.exe"),
        ind(a, "08", "sha256", &"ab".repeat(32)),
    ];
    let mut amber = ind(a, "09", "ipv4", "203.0.113.5");
    amber.tlp = Some("amber".into());
    let mut red = ind(a, "10", "domain", "red.example");
    red.tlp = Some("red".into());
    let mut low = ind(a, "11", "domain", "low.example");
    low.confidence = 20;
    let mut expired = ind(a, "12", "domain", "old.example");
    expired.valid_until = Some(at("2020-01-01T00:00:00Z"));
    let mut revoked = ind(a, "13", "domain", "gone.example");
    revoked.revoked = true;
    let mut unmarked = ind(a, "14", "domain", "unmarked.example");
    unmarked.tlp = None;
    items.extend([amber, red, low, expired, revoked, unmarked]);
    // The same domain from the second source: one line, both sources in the rule.
    items.push(ind(b, "20", "domain", "evil.example"));
    items.push(ind(b, "21", "domain", "only-b.example"));
    app.store
        .upsert_indicators(items)
        .await
        .expect("indicators");
    (a, b)
}

async fn text(app: &TestApp, path: &str, secret: Option<&str>) -> (StatusCode, String, String) {
    let mut b = Request::builder().uri(path);
    if let Some(s) = secret {
        b = b.header(header::AUTHORIZATION, format!("Bearer {s}"));
    }
    let (s, v, h) = app.send(b.body(Body::empty()).expect("request")).await;
    let etag = h
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    };
    (s, body, etag)
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[tokio::test]
async fn blocklist_plain_filters_and_aggregates() {
    let app = TestApp::new().await;
    seed_mixed(&app).await;
    let (s, body, etag) = text(&app, "/api/v1/intel/blocklist", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    // Hosts merged into /31, the host inside the listed /24 dropped, IPv6, domains (one
    // line for the value both sources gave), URLs; no hash, amber, red, low-confidence
    // domains stay (no confidence floor), expired and revoked ones do not.
    assert_eq!(
        lines(&body),
        [
            "192.0.2.0/31",
            "198.51.100.0/24",
            "2001:db8::1",
            "evil.example",
            "low.example",
            "only-b.example",
            "unmarked.example",
            "http://evil.example/dl;x.exe",
        ]
    );
    // Types without cidr: hosts as they are, networks out.
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=ipv4",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(lines(&body), ["192.0.2.0", "192.0.2.1", "198.51.100.9"]);
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=domain&min_confidence=50&source=feed-b",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(lines(&body), ["evil.example", "only-b.example"]);
    // TLP:AMBER only on request; TLP:RED never.
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=ipv4,domain&tlp=amber",
        Some(&app.analyst),
    )
    .await;
    assert!(body.contains("203.0.113.5"), "{body}");
    assert!(!body.contains("red.example"), "{body}");
    let (s, v, _) = text(&app, "/api/v1/intel/blocklist?tlp=red", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=domain&tlp=clear",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(lines(&body), ["unmarked.example"]);
    // Organization users export up to GREEN.
    let (s, _, _) = text(
        &app,
        "/api/v1/intel/blocklist?tlp=amber",
        Some(&app.officer),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = text(&app, "/api/v1/intel/blocklist", Some(&app.officer)).await;
    assert_eq!(s, StatusCode::OK);
    // Bad parameters by name; no credential, no list.
    let (s, v, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=hash",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v, _) = text(
        &app,
        "/api/v1/intel/blocklist?source=nope",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _, _) = text(&app, "/api/v1/intel/blocklist", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabled_source_leaves_the_blocklist() {
    let app = TestApp::new().await;
    let (_, b) = seed_mixed(&app).await;
    let (s, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/intel/sources/{b}"),
            &app.analyst,
            json!({"enabled": false, "trust": 30, "default_tlp": "amber", "description": "peer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], false);
    assert_eq!(v["trust"], 30);
    assert_eq!(v["default_tlp"], "amber");
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=domain",
        Some(&app.analyst),
    )
    .await;
    assert!(!body.contains("only-b.example"), "{body}");
    // evil.example stays: feed-a gives it too.
    assert!(body.contains("evil.example"), "{body}");
    // Audited; auditors may not change sources; unknown source 404; bad values by field.
    let audit = app
        .store
        .list_audit(&vigil_store::AuditQuery::default())
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.record.action == "intel.source.update"
                && r.record.detail.contains("disabled")),
        "{audit:?}"
    );
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/intel/sources/{b}"),
            &app.auditor,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/intel/sources/{}", IntelSourceId::new()),
            &app.analyst,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/intel/sources/{b}"),
            &app.analyst,
            json!({"trust": 120}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Null clears the default marking.
    let (_, v) = app
        .json(
            "PATCH",
            &format!("/api/v1/intel/sources/{b}"),
            &app.analyst,
            json!({"default_tlp": null}),
        )
        .await;
    assert_eq!(v["default_tlp"], Value::Null, "{v}");
    assert_eq!(v["description"], "peer", "{v}");
}

#[tokio::test]
async fn nftables_script_is_accepted_by_nft() {
    let app = TestApp::new().await;
    seed_mixed(&app).await;
    let (s, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?format=nftables",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("table inet vigil {"), "{body}");
    assert!(body.contains("set blocklist4 {"), "{body}");
    assert!(
        body.contains("add element inet vigil blocklist4 { 192.0.2.0/31, 198.51.100.0/24 }"),
        "{body}"
    );
    assert!(
        body.contains("add element inet vigil blocklist6 { 2001:db8::1 }"),
        "{body}"
    );
    assert!(!body.contains("evil.example"), "{body}");
    let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nft) = nft else {
        assert!(
            std::env::var("VIGIL_TEST_REQUIRE").as_deref() != Ok("1"),
            "nft is not installed (apt-get install nftables)"
        );
        eprintln!("SKIP nft -c check: nft is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blocklist.nft");
    std::fs::write(&file, &body).expect("write");
    let out = std::process::Command::new(nft)
        .arg("-c")
        .arg("-f")
        .arg(&file)
        .output()
        .expect("run nft");
    assert!(
        out.status.success(),
        "nft -c refused the script: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn suricata_rules_name_indicator_and_source_with_stable_sids() {
    let app = TestApp::new().await;
    seed_mixed(&app).await;
    let url = "/api/v1/intel/blocklist?format=suricata";
    let (s, body, _) = text(&app, url, Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rules: Vec<&str> = body.lines().filter(|l| l.starts_with("alert ")).collect();
    // 5 IP rules (not aggregated), 4 domains x 3 buffers, 1 URL.
    assert_eq!(rules.len(), 5 + 4 * 3 + 1, "{body}");
    let sids: std::collections::HashSet<&str> = rules
        .iter()
        .filter_map(|r| r.split("sid:").nth(1)?.split(';').next())
        .collect();
    assert_eq!(sids.len(), rules.len(), "sids are unique: {body}");
    let evil: Vec<&&str> = rules
        .iter()
        .filter(|r| r.contains("content:\".evil.example\""))
        .collect();
    assert_eq!(evil.len(), 3, "{body}");
    for (r, buffer) in evil.iter().zip(["dns.query;", "tls.sni;", "http.host;"]) {
        assert!(r.contains(buffer), "{r}");
        assert!(r.contains("dotprefix;") && r.contains("endswith;"), "{r}");
        assert!(r.contains("source feed-a,feed-b"), "{r}");
        assert!(r.contains("indicator "), "{r}");
    }
    let ip = rules
        .iter()
        .find(|r| r.contains("198.51.100.0/24"))
        .expect("network rule");
    assert!(
        ip.starts_with("alert ip any any <> 198.51.100.0/24 any"),
        "{ip}"
    );
    let id = app
        .store
        .list_indicators(&vigil_store::IndicatorQuery {
            value: Some("198.51.100.0/24".into()),
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .id;
    assert!(
        ip.contains(&format!("indicator {id} source feed-a")),
        "{ip}"
    );
    let url_rule = rules
        .iter()
        .find(|r| r.contains("http.uri"))
        .expect("url rule");
    assert!(
        url_rule.contains("content:\"/dl|3B|x.exe\"; startswith;"),
        "{url_rule}"
    );
    assert!(!body.contains("red.example") && !body.contains("gone.example"));
    // The same indicators give the same sids.
    let (_, again, _) = text(&app, url, Some(&app.analyst)).await;
    assert_eq!(again, body);
}

#[tokio::test]
async fn edl_lists_answer_firewalls_with_etags() {
    let config = WebConfig {
        edl_lists: vec![NewEdlList {
            name: "perimeter-ips".into(),
            description: Some("from the config".into()),
            filter: json!({"types": ["ipv4", "cidr"]}),
        }],
        ..WebConfig::default()
    };
    let app = TestApp::with_config(config).await;
    seed_mixed(&app).await;
    let (s, body, etag) = text(&app, "/edl/perimeter-ips.txt", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(lines(&body), ["192.0.2.0/31", "198.51.100.0/24"]);
    // The poller's If-None-Match answers 304 without a body.
    let req = Request::builder()
        .uri("/edl/perimeter-ips.txt")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.analyst))
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .expect("request");
    let (s, v, h) = app.send(req).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED, "{v}");
    assert_eq!(
        h.get(header::ETAG).and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    // A list defined through the API.
    let (s, v) = app
        .json(
            "PUT",
            "/api/v1/intel/edl/dns-block",
            &app.analyst,
            json!({"description": "domains", "filter": {"types": ["domain"], "sources": ["feed-b"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["path"], "/edl/dns-block.txt");
    let (s, body, etag2) = text(&app, "/edl/dns-block.txt", Some(&app.auditor)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(lines(&body), ["evil.example", "only-b.example"]);
    assert_ne!(etag2, etag);
    let (s, v) = app.get("/api/v1/intel/edl", &app.auditor).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["perimeter-ips", "dns-block"]);
    assert_eq!(v["items"][0]["origin"], "config");
    // Token required; unknown lists 404; a configured list is not changed through the API.
    let (s, _, _) = text(&app, "/edl/dns-block.txt", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = text(&app, "/edl/nope.txt", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = text(&app, "/edl/dns-block", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            "DELETE",
            "/api/v1/intel/edl/perimeter-ips",
            Some(&app.analyst),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .json(
            "PUT",
            "/api/v1/intel/edl/Bad%20Name",
            &app.analyst,
            json!({"filter": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .json(
            "PUT",
            "/api/v1/intel/edl/x",
            &app.analyst,
            json!({"filter": {"tlp": "red"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .call(
            "DELETE",
            "/api/v1/intel/edl/dns-block",
            Some(&app.analyst),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = text(&app, "/edl/dns-block.txt", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imports_are_recorded_with_their_rejections() {
    imports_recorded(TestApp::new().await).await;
}

#[tokio::test]
async fn imports_are_recorded_with_their_rejections_on_postgres() {
    if let Some(app) = TestApp::postgres("intel import history").await {
        imports_recorded(app).await;
    }
}

async fn imports_recorded(app: TestApp) {
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=history&format=list",
            Some(&app.analyst),
            Some((
                "text/plain",
                b"evil.example\n198.51.100.1\nnot a value at all\n".to_vec(),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let import_id = v["import_id"].as_str().expect("import id").to_string();
    let source_id = v["source_id"].as_str().expect("source").to_string();
    let (s, v) = app
        .get(
            &format!("/api/v1/intel/sources/{source_id}/imports"),
            &app.auditor,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rec = &v["items"][0];
    assert_eq!(rec["id"], import_id.as_str());
    assert_eq!(rec["via"], "api");
    assert_eq!(rec["format"], "list");
    assert!(
        rec["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("token:")),
        "{rec}"
    );
    assert_eq!(rec["inserted"], 2);
    assert_eq!(rec["rejected"], 1);
    assert_eq!(rec["rejections"][0]["id"], "line 3", "{rec}");
    assert!(
        rec["rejections"][0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    // Again: nothing new, all unchanged, a second record.
    let (_, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=history&format=list",
            Some(&app.analyst),
            Some(("text/plain", b"evil.example\n198.51.100.1\n".to_vec())),
        )
        .await;
    let second = v["import_id"].as_str().expect("id").to_string();
    let (_, v) = app
        .get(&format!("/api/v1/intel/imports/{second}"), &app.analyst)
        .await;
    assert_eq!(v["unchanged"], 2, "{v}");
    assert_eq!(v["inserted"], 0, "{v}");
    let (_, v) = app
        .get(
            &format!("/api/v1/intel/sources/{source_id}/imports?limit=1"),
            &app.analyst,
        )
        .await;
    assert_eq!(v["items"][0]["id"], second.as_str());
    assert!(v["next_cursor"].is_string(), "{v}");
    // Organization users see no history; unknown ids 404.
    let (s, _) = app
        .get(&format!("/api/v1/intel/imports/{import_id}"), &app.officer)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .get(
            &format!(
                "/api/v1/intel/imports/{}",
                IntelImportId(uuid::Uuid::now_v7())
            ),
            &app.analyst,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(
            &format!("/api/v1/intel/sources/{}/imports", IntelSourceId::new()),
            &app.analyst,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn org_users_do_not_see_amber_or_red_indicators() {
    let app = TestApp::new().await;
    seed_mixed(&app).await;
    let values = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["value"].as_str().map(str::to_string))
            .collect();
        out.sort();
        out
    };
    let (s, staff) = app
        .get("/api/v1/intel/indicators?limit=100", &app.analyst)
        .await;
    assert_eq!(s, StatusCode::OK);
    let staff = values(&staff);
    assert!(staff.contains(&"203.0.113.5".to_string()));
    assert!(staff.contains(&"red.example".to_string()));
    let (s, org) = app
        .get("/api/v1/intel/indicators?limit=100", &app.officer)
        .await;
    assert_eq!(s, StatusCode::OK);
    let org = values(&org);
    assert!(!org.contains(&"203.0.113.5".to_string()), "{org:?}");
    assert!(!org.contains(&"red.example".to_string()), "{org:?}");
    assert!(org.contains(&"unmarked.example".to_string()), "{org:?}");
    assert!(org.contains(&"evil.example".to_string()), "{org:?}");
    // Asking for the marking does not bring them back; the detail is 404.
    let (_, v) = app
        .get("/api/v1/intel/indicators?tlp=red", &app.officer)
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    let red = app
        .store
        .list_indicators(&vigil_store::IndicatorQuery {
            value: Some("red.example".into()),
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .id;
    let (s, _) = app
        .get(&format!("/api/v1/intel/indicators/{red}"), &app.officer)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(&format!("/api/v1/intel/indicators/{red}"), &app.analyst)
        .await;
    assert_eq!(s, StatusCode::OK);
    // The search filters of the page: state, confidence, label.
    let (_, v) = app
        .get(
            "/api/v1/intel/indicators?state=expired&limit=100",
            &app.analyst,
        )
        .await;
    assert_eq!(values(&v), ["old.example"]);
    let (_, v) = app
        .get(
            "/api/v1/intel/indicators?max_confidence=30&limit=100",
            &app.analyst,
        )
        .await;
    assert_eq!(values(&v), ["low.example"]);
    let (s, v) = app
        .get("/api/v1/intel/indicators?state=sleeping", &app.analyst)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

/// More indicators than one store page: every one is in the list, each format once. The size
/// is `VIGIL_BLOCKLIST_N` (default 5,000); the timings are printed (BENCHMARKS.md).
#[tokio::test]
async fn blocklist_pages_through_the_whole_store() {
    let n: u32 = std::env::var("VIGIL_BLOCKLIST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let app = TestApp::new().await;
    let src = source(&app, "bulk").await;
    let mut batch = Vec::new();
    for i in 0..n {
        // Every other one an address in 10.0.0.0/8 (odd ones never merge with a neighbour),
        // the rest domains.
        let item = if i % 2 == 0 {
            let a = 0x0a00_0000u32 + i * 4 + 1;
            ind(
                src,
                &format!("bulk-{i}"),
                "ipv4",
                &std::net::Ipv4Addr::from(a).to_string(),
            )
        } else {
            ind(
                src,
                &format!("bulk-{i}"),
                "domain",
                &format!("d{i}.bulk.example"),
            )
        };
        batch.push(item);
        if batch.len() == 5_000 {
            app.store
                .upsert_indicators(std::mem::take(&mut batch))
                .await
                .expect("indicators");
        }
    }
    app.store
        .upsert_indicators(batch)
        .await
        .expect("indicators");
    for format in ["plain", "nftables", "suricata"] {
        let started = std::time::Instant::now();
        let (s, body, _) = text(
            &app,
            &format!("/api/v1/intel/blocklist?format={format}"),
            Some(&app.analyst),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(s, StatusCode::OK);
        let expected = match format {
            "plain" => n as usize,
            "nftables" => n.div_ceil(2) as usize,
            _ => (n.div_ceil(2) + 3 * (n / 2)) as usize,
        };
        let got = match format {
            "plain" => body.lines().count(),
            "nftables" => body
                .lines()
                .filter(|l| l.starts_with("add element"))
                .map(|l| l.matches(',').count() + 1)
                .sum(),
            _ => body.lines().filter(|l| l.starts_with("alert ")).count(),
        };
        assert_eq!(got, expected, "{format}");
        eprintln!(
            "blocklist {format}: {n} indicators, {} bytes in {:.1} ms",
            body.len(),
            took.as_secs_f64() * 1e3
        );
    }
}

/// A STIX pattern of an address OR a domain is one stored indicator (its first value an
/// address): asking for domains still finds its domain.
#[tokio::test]
async fn blocklist_takes_every_value_of_a_pattern() {
    let app = TestApp::new().await;
    let bundle = crate::intel::bundle("2026-01-02T00:00:00.000Z", 70);
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=peer-cert",
            Some(&app.analyst),
            Some(("application/json", bundle.to_string().into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The indicator is TLP:AMBER: out by default, in on request.
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=domain",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(body, "");
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=domain&tlp=amber",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(lines(&body), ["c2.evil.example"]);
    let (_, body, _) = text(
        &app,
        "/api/v1/intel/blocklist?type=ipv4&tlp=amber",
        Some(&app.analyst),
    )
    .await;
    assert_eq!(lines(&body), ["198.51.100.1"]);
}

#[tokio::test]
async fn the_openapi_document_describes_sources_edl_and_blocklists() {
    let app = TestApp::new().await;
    let (s, doc) = app.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/edl/{file}"]["get"]["responses"]["304"].is_object());
    assert!(doc["paths"]["/api/v1/intel/blocklist"]["get"].is_object());
    let patch = &doc["paths"]["/api/v1/intel/sources/{id}"]["patch"];
    assert_eq!(
        patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IntelSourcePatch",
        "{patch}"
    );
    let schema = &doc["components"]["schemas"]["IntelSourcePatch"]["properties"];
    assert_eq!(schema["trust"]["maximum"], 100);
    let edl = &doc["components"]["schemas"]["EdlList"]["properties"]["filter"]["properties"];
    assert!(
        edl["types"]["items"]["enum"]
            .as_array()
            .is_some_and(|e| e.len() == 5)
    );
}

/// Firewalls that poll with HTTP Basic: the user name is the list's name or `edl`, the
/// password an API token; anything else is a 401 with the Basic challenge, and the secret
/// never shows in the answer.
#[tokio::test]
async fn edl_lists_accept_basic_credentials() {
    use base64::Engine as _;
    let app = TestApp::new().await;
    seed_mixed(&app).await;
    seed_edl(&app, "fw-basic").await;
    let basic = |user: &str, pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    let get = |authz: Option<String>| {
        let mut b = Request::builder().uri("/edl/fw-basic.txt");
        if let Some(a) = authz {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::empty()).expect("request")
    };
    let (s, bearer_body, _) = text(&app, "/edl/fw-basic.txt", Some(&app.analyst)).await;
    assert_eq!(s, StatusCode::OK);
    for user in ["fw-basic", "edl"] {
        let (s, v, h) = app.send(get(Some(basic(user, &app.analyst)))).await;
        assert_eq!(s, StatusCode::OK, "{user}: {v}");
        assert_eq!(
            v.as_str(),
            Some(bearer_body.as_str()),
            "same list as with Bearer"
        );
        assert!(h.get(header::ETAG).is_some());
    }
    // The scheme name is case-insensitive.
    let lower = basic("edl", &app.analyst).replacen("Basic", "basic", 1);
    let (s, _, _) = app.send(get(Some(lower))).await;
    assert_eq!(s, StatusCode::OK);
    let wrong_token = "vgl_not-a-real-token-secret";
    for authz in [
        basic("other-list", &app.analyst),
        basic("edl", wrong_token),
        basic("edl", ""),
        "Basic !!!not-base64".to_string(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("no-colon")
        ),
    ] {
        let (s, v, h) = app.send(get(Some(authz.clone()))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{authz}: {v}");
        assert!(
            h.get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("Basic realm=")),
            "{h:?}"
        );
        assert!(!v.to_string().contains(wrong_token));
        assert!(!v.to_string().contains(app.analyst.as_str()));
    }
    let (s, _, h) = app.send(get(None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.get(header::WWW_AUTHENTICATE).is_some());
    // The token's role decides as it does with Bearer.
    let (s, _, _) = app.send(get(Some(basic("edl", &app.officer)))).await;
    let (s2, _, _) = text(&app, "/edl/fw-basic.txt", Some(&app.officer)).await;
    assert_eq!(s, s2, "Basic and Bearer agree for the same token");
}
