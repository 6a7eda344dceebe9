//! Notifications through the API: the incident notice and early warnings enqueue deliveries
//! for the organization's e-mail addresses and the webhook channels serving it (never a
//! channel serving another organization); `GET /api/v1/notifications` shows them within the
//! caller's scope, filters and pages them, names bad parameters, and never shows a robot key
//! or a signing secret.

use crate::harness::TestApp;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use vigil_model::{Contact, OrgId, Scope, Timestamp};
use vigil_notify::{
    Notifier, NotifyConfig, Secret, SmtpConfig, TlsMode, WebhookChannel, WebhookKind,
};
use vigil_store::{DeliveryOutcome, NewDelivery};

/// Secrets that must never appear in an answer.
const SECRETS: [&str; 5] = [
    "ROBOT-TOKEN-123",
    "WX-KEY-456",
    "s3cret-hmac",
    "SECdemo",
    "access_token",
];

/// One pending delivery for `org`, stored directly (for the access matrix).
pub async fn seed_delivery(app: &TestApp, org: OrgId) {
    app.store
        .enqueue_deliveries(vec![NewDelivery {
            org_id: org,
            channel: "email".into(),
            kind: "email".into(),
            recipient: format!("duty-{}@example.cn", org.0.simple()),
            reference_kind: "incident".into(),
            reference_id: uuid::Uuid::now_v7().to_string(),
            subject: "Seeded notice".into(),
            body: "Seeded for the access matrix.".into(),
            max_attempts: 3,
            not_before: Timestamp::now(),
        }])
        .await
        .expect("seed delivery");
}

fn channel(
    name: &str,
    kind: WebhookKind,
    url: &str,
    secret: Option<&str>,
    orgs: Option<Vec<OrgId>>,
) -> WebhookChannel {
    WebhookChannel {
        name: name.into(),
        kind,
        url: url.parse().expect("url"),
        secret: secret.map(Secret::new),
        orgs,
    }
}

/// The test application with e-mail addresses on organization A and a notifier: SMTP (never
/// reached: no worker runs), a generic webhook serving A, a DingTalk robot serving everyone
/// and a WeCom robot serving B.
async fn notifying_app() -> TestApp {
    let app = TestApp::new().await;
    let mut a = app
        .store
        .get_org(Scope::All, app.a.id)
        .await
        .expect("store")
        .expect("org A");
    a.spec.responsible.email = Some("ciso@a.example.cn".into());
    a.spec.contacts = vec![
        Contact {
            name: "Duty officer".into(),
            email: Some("duty@a.example.cn".into()),
            ..Contact::default()
        },
        // The same address again (other case): one e-mail only.
        Contact {
            name: "CISO again".into(),
            email: Some("CISO@a.example.cn".into()),
            ..Contact::default()
        },
        Contact {
            name: "No e-mail".into(),
            ..Contact::default()
        },
    ];
    app.store
        .update_org(Scope::All, a.id, a.spec)
        .await
        .expect("store")
        .expect("org A updated");
    let config = NotifyConfig {
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: TlsMode::Plain,
            username: None,
            password: None,
            from: "Vigil <vigil@cert.example.cn>".into(),
            timeout: Duration::from_secs(5),
        }),
        webhooks: vec![
            channel(
                "soc-a",
                WebhookKind::Generic,
                "https://soc.a.example.cn/hooks/vigil",
                Some("s3cret-hmac"),
                Some(vec![app.a.id]),
            ),
            channel(
                "ding-all",
                WebhookKind::DingTalk,
                "https://oapi.dingtalk.com/robot/send?access_token=ROBOT-TOKEN-123",
                Some("SECdemo"),
                None,
            ),
            channel(
                "wx-b",
                WebhookKind::WeCom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WX-KEY-456",
                None,
                Some(vec![app.b.id]),
            ),
        ],
        base_url: Some("https://vigil.example.cn/".into()),
        ..NotifyConfig::default()
    };
    app.state
        .set_notifier(Notifier::new(app.store.clone(), config));
    app
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// `(channel, recipient)` of the items, sorted.
fn targets(items: &[Value]) -> Vec<(String, String)> {
    let mut t: Vec<_> = items
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap_or_default().to_string(),
                d["recipient"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    t.sort();
    t
}

fn no_secrets(v: &Value) {
    let text = v.to_string();
    for s in SECRETS {
        assert!(!text.contains(s), "{s} shown: {text}");
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// Opens an incident for `org` through the API and moves it to `notified`; returns its id.
async fn notify_incident(app: &TestApp, org: OrgId, title: &str) -> String {
    let (s, inc) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.analyst,
            json!({
                "org_id": org, "title": title, "category": "MP", "subcategory": "MPRANS",
                "grade": "large", "occurred_at": "2026-11-21T08:00:00Z",
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/incidents/{id}");
    let (s, v) = app
        .json("PATCH", &path, &app.analyst, json!({"status": "triaged"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Nothing is sent before the notice.
    let (_, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=incident&reference_id={id}"),
            &app.admin,
        )
        .await;
    assert_eq!(items(&v).len(), 0, "{v}");
    let (s, v) = app
        .json("PATCH", &path, &app.analyst, json!({"status": "notified"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
}

#[tokio::test]
async fn notifying_an_incident_enqueues_for_the_contacts_and_the_channels_serving_the_org() {
    let app = notifying_app().await;
    let id = notify_incident(&app, app.a.id, "Ransomware on the SCADA server").await;
    let (s, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=incident&reference_id={id}"),
            &app.admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = items(&v);
    // E-mails to the responsible person and each distinct contact address; the generic
    // webhook serving A and the robot serving all; not WeCom, which serves B only.
    assert_eq!(
        targets(&list),
        owned(&[
            ("ding-all", "https://oapi.dingtalk.com/robot/send"),
            ("email", "ciso@a.example.cn"),
            ("email", "duty@a.example.cn"),
            ("soc-a", "https://soc.a.example.cn/hooks/vigil"),
        ]),
        "{v}"
    );
    no_secrets(&v);
    for d in &list {
        assert_eq!(d["org_id"], app.a.id.to_string());
        assert_eq!(d["status"], "pending");
        assert_eq!(d["attempts"], 0);
        assert_eq!(d["reference_kind"], "incident");
        let subject = d["subject"].as_str().unwrap_or_default();
        assert!(
            subject.contains("Ransomware on the SCADA server"),
            "{subject}"
        );
        assert!(subject.contains("large"), "{subject}");
        let body = d["body"].as_str().unwrap_or_default();
        assert!(
            body.contains(&format!("https://vigil.example.cn/incidents/{id}")),
            "{body}"
        );
    }
    let kinds: Vec<_> = list.iter().map(|d| d["kind"].clone()).collect();
    assert!(kinds.contains(&json!("dingtalk")) && kinds.contains(&json!("generic")));

    // B's notice goes to the robot serving all and B's WeCom robot; B has no e-mail
    // addresses, and A's generic webhook does not serve it.
    let id_b = notify_incident(&app, app.b.id, "Water plant HMI defaced").await;
    let (_, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=incident&reference_id={id_b}"),
            &app.admin,
        )
        .await;
    assert_eq!(
        targets(&items(&v)),
        owned(&[
            ("ding-all", "https://oapi.dingtalk.com/robot/send"),
            ("wx-b", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        ]),
        "{v}"
    );
    no_secrets(&v);

    // A comment or a later step sends nothing more.
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.analyst,
            json!({"comment": "called the duty officer"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=incident&reference_id={id}"),
            &app.admin,
        )
        .await;
    assert_eq!(items(&v).len(), 4, "{v}");
}

#[tokio::test]
async fn without_a_notifier_nothing_is_enqueued() {
    let app = TestApp::new().await;
    let (s, v) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.analyst,
            crate::warnings::warning_body(json!({ "org_ids": [app.a.id] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app.get("/api/v1/notifications", &app.admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(items(&v).len(), 0, "{v}");
}

/// Issues the standard test warning to A and B; returns its id.
async fn warn_both(app: &TestApp) -> String {
    let (s, w) = app
        .json(
            "POST",
            "/api/v1/warnings",
            &app.analyst,
            crate::warnings::warning_body(json!({ "org_ids": [app.a.id, app.b.id] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["recipients"], 2, "{w}");
    w["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn issuing_a_warning_enqueues_for_every_recipient_organization() {
    let app = notifying_app().await;
    let w = warn_both(&app).await;
    let (s, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=warning&reference_id={w}"),
            &app.admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    no_secrets(&v);
    let list = items(&v);
    let of = |org: OrgId| {
        let mine: Vec<Value> = list
            .iter()
            .filter(|d| d["org_id"] == org.to_string())
            .cloned()
            .collect();
        targets(&mine)
    };
    assert_eq!(
        of(app.a.id),
        owned(&[
            ("ding-all", "https://oapi.dingtalk.com/robot/send"),
            ("email", "ciso@a.example.cn"),
            ("email", "duty@a.example.cn"),
            ("soc-a", "https://soc.a.example.cn/hooks/vigil"),
        ]),
        "{v}"
    );
    assert_eq!(
        of(app.b.id),
        owned(&[
            ("ding-all", "https://oapi.dingtalk.com/robot/send"),
            ("wx-b", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        ]),
        "{v}"
    );
    assert_eq!(list.len(), 6);
    for d in &list {
        assert_eq!(d["reference_kind"], "warning");
        let subject = d["subject"].as_str().unwrap_or_default();
        assert!(subject.contains("橙色预警"), "{subject}");
        assert!(
            subject.contains("Siemens S7-1200 remote code execution"),
            "{subject}"
        );
        let body = d["body"].as_str().unwrap_or_default();
        for needle in [
            "Exploitation of exposed S7-1200 PLCs has been observed.",
            "Block TCP 102 at the perimeter; update the firmware.",
            "CVE-2024-38876",
            &format!("https://vigil.example.cn/warnings/{w}"),
        ] {
            assert!(body.contains(needle), "{needle:?} missing: {body}");
        }
        // The bulletin addressed to one organization never names the others.
        let other = if d["org_id"] == app.a.id.to_string() {
            &app.b.name
        } else {
            &app.a.name
        };
        assert!(!d.to_string().contains(other.as_str()), "{d}");
    }
}

#[tokio::test]
async fn the_list_is_scoped_filtered_paged_and_names_bad_parameters() {
    let app = notifying_app().await;
    let w = warn_both(&app).await;
    let a = app.a.id.to_string();
    let b = app.b.id.to_string();

    // Staff see both organizations' deliveries.
    for secret in [&app.admin, &app.analyst, &app.auditor] {
        let (s, v) = app.get("/api/v1/notifications", secret).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(items(&v).len(), 6, "{v}");
    }
    // The organization user sees its own only, and nothing of B's even when asking.
    let (s, v) = app.get("/api/v1/notifications", &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(items(&v).len(), 4, "{v}");
    assert!(items(&v).iter().all(|d| d["org_id"] == a.as_str()), "{v}");
    assert!(!v.to_string().contains(&b), "{v}");
    assert!(!v.to_string().contains("wx-b"), "{v}");
    let (s, v) = app
        .get(&format!("/api/v1/notifications?org_id={b}"), &app.officer)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(items(&v).len(), 0, "{v}");
    let (_, v) = app
        .get(
            &format!("/api/v1/notifications?reference_kind=warning&reference_id={w}"),
            &app.officer,
        )
        .await;
    assert_eq!(items(&v).len(), 4, "{v}");

    // Outcomes, as the worker records them: one sent after a failed attempt, one failed
    // for good, the rest waiting for a retry.
    let claimed = app
        .store
        .claim_deliveries(Timestamp::now(), Duration::from_secs(60), 100)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 6);
    let wx = claimed
        .iter()
        .find(|d| d.spec.channel == "wx-b")
        .expect("wx-b delivery");
    let soc = claimed
        .iter()
        .find(|d| d.spec.channel == "soc-a")
        .expect("soc-a delivery");
    for d in &claimed {
        let outcome = if d.id == wx.id {
            DeliveryOutcome::Sent
        } else if d.id == soc.id {
            DeliveryOutcome::Failed {
                error: "HTTP 403: signature mismatch".into(),
            }
        } else {
            DeliveryOutcome::Retry {
                at: Timestamp::now(),
                error: "SMTP: connection refused".into(),
            }
        };
        app.store
            .finish_delivery(d.id, d.attempts, outcome)
            .await
            .expect("finish")
            .expect("current attempt");
    }
    let (_, v) = app
        .get("/api/v1/notifications?status=sent", &app.admin)
        .await;
    let sent = items(&v);
    assert_eq!(sent.len(), 1, "{v}");
    assert_eq!(sent[0]["channel"], "wx-b");
    assert!(sent[0]["sent_at"].is_string(), "{v}");
    let (_, v) = app
        .get("/api/v1/notifications?status=failed", &app.admin)
        .await;
    let failed = items(&v);
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["channel"], "soc-a");
    assert_eq!(failed[0]["last_error"], "HTTP 403: signature mismatch");
    assert_eq!(failed[0]["attempts"], 1);
    let (_, v) = app
        .get("/api/v1/notifications?status=pending", &app.admin)
        .await;
    assert_eq!(items(&v).len(), 4, "{v}");
    assert!(
        items(&v)
            .iter()
            .all(|d| d["next_attempt_at"].is_string()
                && d["last_error"] == "SMTP: connection refused"),
        "{v}"
    );
    // The organization user does not see B's sent delivery.
    let (_, v) = app
        .get("/api/v1/notifications?status=sent", &app.officer)
        .await;
    assert_eq!(items(&v).len(), 0, "{v}");
    let (_, v) = app
        .get("/api/v1/notifications?channel=ding-all", &app.admin)
        .await;
    assert_eq!(items(&v).len(), 2, "{v}");
    let (_, v) = app
        .get(
            &format!("/api/v1/notifications?channel=email&org_id={a}"),
            &app.admin,
        )
        .await;
    assert_eq!(items(&v).len(), 2, "{v}");
    let (_, v) = app
        .get("/api/v1/notifications?reference_kind=incident", &app.admin)
        .await;
    assert_eq!(items(&v).len(), 0, "{v}");

    // Pages of two, newest first, each delivery once.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/notifications?limit=2".to_string();
    loop {
        let (s, v) = app.get(&uri, &app.admin).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let page = items(&v);
        assert!(page.len() <= 2, "{v}");
        seen.extend(
            page.iter()
                .map(|d| d["id"].as_str().unwrap_or_default().to_string()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/notifications?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "{seen:?}");

    // Bad values: 422 naming the parameter.
    for (query, field) in [
        ("status=done", "status"),
        ("org_id=acme", "org_id"),
        ("reference_kind=alert", "reference_kind"),
        ("reference_id=abc", "reference_id"),
        ("limit=0", "limit"),
        ("limit=lots", "limit"),
    ] {
        let (s, v) = app
            .get(&format!("/api/v1/notifications?{query}"), &app.admin)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert_eq!(v["code"], "invalid", "{query}: {v}");
        assert_eq!(v["details"]["field"], field, "{query}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.starts_with(field)),
            "{query}: {v}"
        );
    }
    let (s, v) = app
        .get("/api/v1/notifications?colour=red", &app.admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "bad_query");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("colour")),
        "{v}"
    );
    let (s, v) = app
        .get("/api/v1/notifications?cursor=nonsense", &app.admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "bad_cursor");
}
