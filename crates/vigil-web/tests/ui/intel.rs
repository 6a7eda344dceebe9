//! The intelligence pages: search with filters and paging, the detail with provenance,
//! sightings and the revoke button, the sources page with settings, upload and import
//! history; CSRF on every form; organization users see no TLP:AMBER or TLP:RED indicator
//! and no sources page; the Chinese page says 威胁情报.

use super::*;
use vigil_store::{IntelSourceId, NewIndicator, NewIntelSource, NewSighting};

const BOUNDARY: &str = "vigil-intel-boundary-Zq81Lk0pWx";

async fn source(app: &App, name: &str) -> IntelSourceId {
    app.store
        .upsert_intel_source(NewIntelSource {
            name: name.into(),
            kind: "stix".into(),
            url: None,
            enabled: true,
            trust: 60,
        })
        .await
        .expect("source")
        .id
}

fn ind(src: IntelSourceId, n: &str, kind: &str, value: &str, tlp: Option<&str>) -> NewIndicator {
    NewIndicator {
        source_id: src,
        stix_id: format!("indicator--{n}"),
        kind: kind.into(),
        value: Some(value.into()),
        values: vec![format!("{kind}:{value}")],
        pattern: Some(format!("[domain-name:value = '{value}']")),
        name: Some(format!("C2 {value}")),
        description: None,
        confidence: 75,
        tlp: tlp.map(str::to_string),
        valid_from: None,
        valid_until: None,
        labels: vec!["botnet".into()],
        kill_chain: vec![],
        attack_ids: vec!["T1071.004".into()],
        modified: Timestamp::UNIX_EPOCH,
        revoked: false,
        object: json!({"type": "indicator", "id": format!("indicator--{n}")}),
    }
}

/// Two sources giving the same domain, an amber and a red one, a sighting in org A.
async fn seed(app: &App) -> (vigil_store::IndicatorId, vigil_store::IndicatorId) {
    let a = source(app, "national-feed").await;
    let b = source(app, "partner-cert").await;
    app.store
        .upsert_indicators(vec![
            ind(a, "a1", "domain", "c2.evil.example", Some("green")),
            ind(b, "b1", "domain", "c2.evil.example", Some("clear")),
            ind(a, "a2", "domain", "amber.evil.example", Some("amber")),
            ind(a, "a3", "domain", "red.evil.example", Some("red")),
        ])
        .await
        .expect("indicators");
    let find = |v: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .list_indicators(&vigil_store::IndicatorQuery {
                    value: Some(v.into()),
                    source_id: Some(a),
                    ..Default::default()
                })
                .await
                .expect("list")
                .items[0]
                .id
        }
    };
    let green = find("c2.evil.example").await;
    let red = find("red.evil.example").await;
    app.store
        .record_sightings(
            Scope::All,
            vec![NewSighting {
                indicator_id: green,
                org_id: app.a.id,
                event_id: Some(app.a.event),
                alert_id: Some(app.a.alert),
                seen_at: Timestamp::now(),
                count: 3,
            }],
        )
        .await
        .expect("sighting");
    (green, red)
}

#[tokio::test]
async fn the_search_filters_and_the_detail_shows_provenance_and_sightings() {
    let app = app().await;
    let (green, red) = seed(&app).await;
    let c = login(&app, "analyst").await;
    let r = get(&app, "/intel", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"nav-intel\""));
    for v in ["c2.evil.example", "amber.evil.example", "red.evil.example"] {
        assert!(r.body.contains(v), "{v}");
    }
    let r = get(&app, "/intel?q=amber&state=active", Some(&c)).await;
    assert!(r.body.contains("amber.evil.example"));
    assert!(!r.body.contains("red.evil.example"));
    let r = get(&app, "/intel?tlp=red", Some(&c)).await;
    assert!(r.body.contains("red.evil.example"));
    assert!(!r.body.contains("amber.evil.example"));
    let r = get(&app, "/intel?state=revoked", Some(&c)).await;
    assert!(!r.body.contains("evil.example</code>"), "{}", r.body);
    let r = get(&app, "/intel?min_confidence=abc&label=botnet", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&app, "/intel?cursor=garbage", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("flash-error"), "{}", r.body);

    let r = get(&app, &format!("/intel/indicators/{green}"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Both sources that gave the value, the sighting with its event and alert links, the
    // technique link.
    assert!(r.body.contains("national-feed") && r.body.contains("partner-cert"));
    assert!(r.body.contains(&format!("/events/{}", app.a.event)));
    assert!(r.body.contains(&format!("/alerts/{}", app.a.alert)));
    assert!(r.body.contains(&app.a.name));
    assert!(r.body.contains("/intel/attack/T1071.004"));
    assert!(r.body.contains("id=\"revoke\""));

    // Revoking needs the CSRF token.
    let path = format!("/intel/indicators/{red}/revoke");
    let r = post_form(&app, &path, Some(&c), &[("csrf", "wrong")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let token = csrf(&app, &c).await;
    let r = post_form(&app, &path, Some(&c), &[("csrf", &token)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ind = app
        .store
        .get_indicator(red)
        .await
        .expect("get")
        .expect("kept");
    assert!(ind.revoked_at.is_some());
    let r = get(&app, &format!("/intel/indicators/{red}"), Some(&c)).await;
    assert!(!r.body.contains("id=\"revoke\""));
    let r = get(&app, "/intel?state=revoked", Some(&c)).await;
    assert!(r.body.contains("red.evil.example"));

    // The auditor reads but may not revoke.
    let aud = login(&app, "auditor").await;
    let r = get(&app, &format!("/intel/indicators/{green}"), Some(&aud)).await;
    assert!(!r.body.contains("id=\"revoke\""));
    let token = csrf(&app, &aud).await;
    let path = format!("/intel/indicators/{green}/revoke");
    let r = post_form(&app, &path, Some(&aud), &[("csrf", &token)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // In Chinese.
    let admin = login(&app, "admin").await;
    let r = get(&app, "/intel", Some(&admin)).await;
    assert!(r.body.contains("威胁情报"));
}

#[tokio::test]
async fn organization_users_see_no_amber_or_red_and_no_sources() {
    let app = app().await;
    let (green, red) = seed(&app).await;
    let c = login(&app, "officer").await;
    let r = get(&app, "/intel", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("c2.evil.example"));
    assert!(!r.body.contains("amber.evil.example"), "{}", r.body);
    assert!(!r.body.contains("red.evil.example"));
    assert!(!r.body.contains("id=\"sources-link\""));
    let r = get(&app, "/intel?tlp=red", Some(&c)).await;
    assert!(!r.body.contains("red.evil.example"));
    let r = get(&app, &format!("/intel/indicators/{red}"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&app, &format!("/intel/indicators/{green}"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"revoke\""));
    // Its own sighting, never the other organization.
    assert!(r.body.contains(&app.a.name));
    assert!(!r.body.contains(&app.b.name));
    let r = get(&app, "/intel/sources", Some(&c)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn multipart(fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in fields {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"feed.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn upload(app: &App, cookie: &str, body: Vec<u8>) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/intel/sources/import")
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
async fn sources_are_managed_uploaded_to_and_show_their_history() {
    let app = app().await;
    let c = login(&app, "analyst").await;
    let r = get(&app, "/intel/sources", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"upload-form\""));
    let token = csrf_of(&r.body);
    let file = b"evil.example\n198.51.100.1\nnot a value at all\n";

    // A wrong token stores nothing.
    let r = upload(
        &app,
        &c,
        multipart(
            &[
                ("csrf", "nope"),
                ("new_source", "uploaded"),
                ("format", "list"),
            ],
            file,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .list_intel_sources()
            .await
            .expect("list")
            .is_empty()
    );

    let r = upload(
        &app,
        &c,
        multipart(
            &[
                ("csrf", &token),
                ("new_source", "uploaded"),
                ("format", "list"),
            ],
            file,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let target = r.location().to_string();
    assert!(target.starts_with("/intel/sources?source="), "{target}");
    let r = get(&app, &target, Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK);
    // The notice, the history row (by the user, through the UI) and the rejected line.
    assert!(r.body.contains("id=\"import-notice\""), "{}", r.body);
    assert!(r.body.contains("user:analyst"));
    assert!(r.body.contains(">ui<"));
    assert!(r.body.contains("line 3"), "{}", r.body);
    assert!(r.body.contains("2 / 2"), "counts: {}", r.body);

    // Disable the source and set its trust through the form.
    let src = app.store.list_intel_sources().await.expect("list")[0].clone();
    let path = format!("/intel/sources/{}", src.id);
    let r = post_form(
        &app,
        &path,
        Some(&c),
        &[("csrf", "x"), ("trust", "20"), ("default_tlp", "")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &app,
        &path,
        Some(&c),
        &[
            ("csrf", &token),
            ("trust", "20"),
            ("default_tlp", "amber"),
            ("description", "uploaded by hand"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = app
        .store
        .get_intel_source(src.id)
        .await
        .expect("get")
        .expect("source");
    assert!(!after.spec.enabled);
    assert_eq!(after.spec.trust, 20);
    assert_eq!(after.default_tlp.as_deref(), Some("amber"));
    let r = get(&app, "/intel/sources", Some(&c)).await;
    assert!(r.body.contains("uploaded by hand"));
    assert!(r.body.contains("TLP:AMBER"));
    let r = post_form(&app, &path, Some(&c), &[("csrf", &token), ("trust", "300")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The auditor sees the page without forms and may not upload.
    let aud = login(&app, "auditor").await;
    let r = get(&app, "/intel/sources", Some(&aud)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"upload-form\""));
    assert!(r.body.contains("uploaded"));
    let token = csrf_of(&r.body);
    let r = upload(
        &app,
        &aud,
        multipart(
            &[
                ("csrf", &token),
                ("source", &src.id.to_string()),
                ("format", "list"),
            ],
            file,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// The feeds page: every configured TAXII feed with its state (polled fine, failing, never
/// polled), a feed polled before and no longer configured; linked from /intel and
/// /intel/sources; staff only.
#[tokio::test]
async fn the_feeds_page_shows_configured_feeds_and_their_polling_state() {
    use std::time::Duration;
    use vigil_web::api::intel_share::TaxiiFeedSchedule;
    let feed = |name: &str, interval: u64| TaxiiFeedSchedule {
        name: name.into(),
        source: format!("taxii:{name}"),
        collection_url: format!("https://{name}.peer.example/taxii2/api1/collections/c1/"),
        interval: Duration::from_secs(interval),
        retry_min: Duration::from_secs(30),
    };
    let app = app_with(WebConfig {
        taxii_feeds: vec![
            feed("partner", 900),
            feed("national", 3600),
            feed("fresh", 3600),
        ],
        ..WebConfig::default()
    })
    .await;
    source(&app, "taxii:partner").await;
    let t0: Timestamp = "2026-05-01T02:00:00Z".parse().expect("t");
    let mark: Timestamp = "2026-05-01T01:59:58.123456Z".parse().expect("t");
    let url = |n: &str| format!("https://{n}.peer.example/taxii2/api1/collections/c1/");
    let poll = |name: &str, p: vigil_store::TaxiiFeedPoll| {
        let store = app.store.clone();
        let (name, u) = (name.to_string(), url(name));
        async move {
            store
                .record_taxii_feed_poll(&name, &u, p, t0)
                .await
                .expect("poll state")
        }
    };
    poll(
        "partner",
        vigil_store::TaxiiFeedPoll::Success {
            watermark: Some(mark),
            objects: 1234,
        },
    )
    .await;
    for _ in 0..2 {
        poll(
            "national",
            vigil_store::TaxiiFeedPoll::Failure {
                error: "peer answered 503 <Service Unavailable>".into(),
            },
        )
        .await;
    }
    poll(
        "retired",
        vigil_store::TaxiiFeedPoll::Success {
            watermark: None,
            objects: 7,
        },
    )
    .await;

    let c = login(&app, "analyst").await;
    for page in ["/intel", "/intel/sources"] {
        let r = get(&app, page, Some(&c)).await;
        assert!(r.body.contains("href=\"/intel/feeds\""), "{page}");
    }
    let r = get(&app, "/intel/feeds", Some(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let row = |name: &str| -> String {
        let start = r
            .body
            .find(&format!("data-feed=\"{name}\""))
            .unwrap_or_else(|| panic!("row {name}: {}", r.body));
        let end = r.body[start..]
            .find("</tr>")
            .map_or(r.body.len(), |e| start + e);
        r.body[start..end].to_string()
    };
    // Configuration order, then the feed no longer configured.
    let order: Vec<usize> = ["partner", "national", "fresh", "retired"]
        .iter()
        .map(|n| r.body.find(&format!("data-feed=\"{n}\"")).expect("row"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let partner = row("partner");
    assert!(partner.contains("data-state=\"ok\""), "{partner}");
    assert!(
        partner.contains("2026-05-01T01:59:58.123456Z"),
        "watermark: {partner}"
    );
    assert!(partner.contains(">1234<"), "objects: {partner}");
    assert!(partner.contains(">15m<"), "interval: {partner}");
    // Last poll 10:00 Beijing time; next 15 minutes later.
    assert!(partner.contains("2026-05-01 10:00:00"), "{partner}");
    assert!(
        partner.contains("2026-05-01 10:15:00"),
        "next attempt: {partner}"
    );
    assert!(
        partner.contains("href=\"/intel/sources?source="),
        "{partner}"
    );
    let national = row("national");
    assert!(national.contains("data-state=\"failing\""), "{national}");
    // The error is escaped; two failures: retry after 30 s doubled once.
    assert!(
        national.contains("peer answered 503 &#60;Service Unavailable&#62;"),
        "{national}"
    );
    assert!(
        national.contains("2026-05-01 10:01:00"),
        "next attempt: {national}"
    );
    assert!(national.contains(">2 / 2<"), "polls / failures: {national}");
    let fresh = row("fresh");
    assert!(fresh.contains("data-state=\"never_polled\""), "{fresh}");
    assert!(fresh.contains("at the next start"), "{fresh}");
    let retired = row("retired");
    assert!(retired.contains("data-state=\"removed\""), "{retired}");
    assert!(retired.contains(">7<"), "{retired}");

    // Staff only; the Chinese page.
    let officer = login(&app, "officer").await;
    let r = get(&app, "/intel/feeds", Some(&officer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let admin = login(&app, "admin").await;
    let r = get(&app, "/intel/feeds", Some(&admin)).await;
    assert!(r.body.contains("TAXII 订阅源"), "the Chinese page");
}
