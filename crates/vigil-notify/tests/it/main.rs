//! Notifications end to end against local receivers: a tiny SMTP server, and axum webhooks
//! that check signatures and answer as scripted.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vigil_model::{Contact, NewOrganization, OrgId, Organization, Scope};
use vigil_notify::{
    Notification, Notifier, NotifyConfig, RetryPolicy, Secret, SmtpConfig, TlsMode, WebhookChannel,
    WebhookKind, sign,
};
use vigil_store::{DeliveryQuery, DeliveryStatus, SqliteStore, Store};

// ---------------------------------------------------------------------------------------
// A tiny SMTP server: enough of RFC 5321 for one client without TLS or AUTH.

#[derive(Debug, Clone, Default)]
struct Mail {
    from: String,
    rcpt: Vec<String>,
    data: String,
}

async fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test ESMTP\r\n").await;
                let mut mail = Mail::default();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = line[10..].trim().to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.rcpt.push(line[8..].trim().to_string());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        mail.data = data;
                        store.lock().expect("lock").push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

/// The value of a header, unfolded, with RFC 2047 `B` words decoded.
fn header(data: &str, name: &str) -> String {
    let head = data.split("\n\n").next().unwrap_or("");
    let mut value = String::new();
    let mut inside = false;
    for line in head.lines() {
        if inside && line.starts_with([' ', '\t']) {
            value.push_str(line.trim());
            continue;
        }
        inside = false;
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value.push_str(v.trim());
            inside = true;
        }
    }
    decode_words(&value)
}

fn decode_words(s: &str) -> String {
    // Encoded words may follow each other with or without folding whitespace between them;
    // whitespace between two encoded words is not part of the text (RFC 2047, 6.2).
    let mut out = Vec::new();
    let mut rest = s;
    let mut last_was_word = false;
    while !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?")
            && let Some(end) = rest[10..].find("?=")
        {
            let b64 = &rest[10..10 + end];
            out.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64 word"),
            );
            rest = &rest[10 + end + 2..];
            last_was_word = true;
            continue;
        }
        let trimmed = rest.trim_start();
        if last_was_word
            && trimmed.len() < rest.len()
            && trimmed.to_ascii_lowercase().starts_with("=?utf-8?b?")
        {
            rest = trimmed;
            continue;
        }
        let c = rest.chars().next().expect("char");
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        rest = &rest[c.len_utf8()..];
        last_was_word = false;
    }
    String::from_utf8(out).expect("utf8")
}

fn body(data: &str) -> String {
    let b64: String = data
        .split_once("\n\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64 body"),
    )
    .expect("utf8 body")
}

// ---------------------------------------------------------------------------------------
// A webhook receiver answering with scripted statuses.

#[derive(Debug, Clone)]
struct Hit {
    headers: HeaderMap,
    query: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Hook {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Statuses and bodies to answer with, in order; the last repeats.
    script: Arc<Mutex<Vec<(u16, String)>>>,
}

async fn receive(
    State(h): State<Hook>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    h.hits.lock().expect("lock").push(Hit {
        headers,
        query,
        body: body.to_vec(),
    });
    let mut s = h.script.lock().expect("lock");
    let (code, text) = if s.len() > 1 {
        s.remove(0)
    } else {
        s[0].clone()
    };
    (StatusCode::from_u16(code).expect("status"), text)
}

async fn webhook(script: Vec<(u16, &str)>) -> (String, Hook) {
    let hook = Hook {
        hits: Arc::new(Mutex::new(Vec::new())),
        script: Arc::new(Mutex::new(
            script
                .into_iter()
                .map(|(c, b)| (c, b.to_string()))
                .collect(),
        )),
    };
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), hook)
}

impl Hook {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }
}

// ---------------------------------------------------------------------------------------

fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        name: name.to_string(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: None,
        miit_grade: None,
        responsible: Contact {
            name: "李伟".into(),
            email: Some("li.wei@example.cn".into()),
            ..Contact::default()
        },
        contacts: vec![
            Contact {
                name: "王芳".into(),
                email: Some("wang.fang@example.cn".into()),
                ..Contact::default()
            },
            Contact {
                name: "Duplicate".into(),
                email: Some("LI.WEI@example.cn".into()),
                ..Contact::default()
            },
            Contact {
                name: "No mail".into(),
                ..Contact::default()
            },
        ],
    }
}

async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir).expect("store"))
}

async fn org(store: &Arc<dyn Store>, name: &str) -> Organization {
    store.create_org(org_spec(name)).await.expect("org")
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        delays: vec![Duration::from_millis(50)],
        max_attempts,
        jitter: 0.0,
    }
}

fn channel(name: &str, kind: WebhookKind, url: &str, secret: Option<&str>) -> WebhookChannel {
    WebhookChannel {
        name: name.into(),
        kind,
        url: url.parse().expect("url"),
        secret: secret.map(Secret::new),
        orgs: None,
    }
}

fn notice(org: OrgId, reference: &str) -> Notification {
    Notification {
        org_id: org,
        reference_kind: "incident".into(),
        reference_id: reference.into(),
        subject: "【事件通报】勒索软件攻击 — 重大".into(),
        markdown:
            "**事件**: 勒索软件攻击\n\n- 分级: 重大\n- 链接: https://vigil.example.cn/incidents/1"
                .into(),
    }
}

/// Runs the worker until nothing is pending or sending for the reference (or 20 s pass).
async fn drain(store: &Arc<dyn Store>, worker: &vigil_notify::Worker, reference: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        worker.run_once().await.expect("run");
        let open = store
            .list_deliveries(
                Scope::All,
                &DeliveryQuery {
                    reference_id: Some(reference.into()),
                    ..DeliveryQuery::default()
                },
            )
            .await
            .expect("list")
            .items
            .iter()
            .filter(|d| matches!(d.status, DeliveryStatus::Pending | DeliveryStatus::Sending))
            .count();
        if open == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deliveries(
    store: &Arc<dyn Store>,
    scope: Scope,
    reference: &str,
) -> Vec<vigil_store::Delivery> {
    store
        .list_deliveries(
            scope,
            &DeliveryQuery {
                reference_id: Some(reference.into()),
                ..DeliveryQuery::default()
            },
        )
        .await
        .expect("list")
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_reach_every_contact_with_utf8_subject_and_body() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store(dir.path()).await;
    let o = org(&store, "邮件单位").await;
    let (port, mails) = smtp_server().await;
    let notifier = Notifier::new(
        store.clone(),
        NotifyConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port,
                tls: TlsMode::Plain,
                username: None,
                password: None,
                from: "Vigil 平台 <vigil@cert.example.cn>".into(),
                timeout: Duration::from_secs(10),
            }),
            retry: fast_retry(3),
            ..NotifyConfig::default()
        },
    );
    let made = notifier
        .enqueue(notice(o.id, "mail-1"))
        .await
        .expect("enqueue");
    // The responsible person and one contact; the duplicate and the contact without an
    // address add nobody.
    let mut to: Vec<&str> = made.iter().map(|d| d.spec.recipient.as_str()).collect();
    to.sort();
    assert_eq!(to, ["li.wei@example.cn", "wang.fang@example.cn"]);
    let worker = notifier.worker().expect("worker");
    drain(&store, &worker, "mail-1").await;

    let got = mails.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "{got:?}");
    let mut rcpts: Vec<String> = got.iter().flat_map(|m| m.rcpt.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["<li.wei@example.cn>", "<wang.fang@example.cn>"]);
    for m in &got {
        assert_eq!(m.from, "<vigil@cert.example.cn>");
        assert_eq!(
            header(&m.data, "Subject"),
            "【事件通报】勒索软件攻击 — 重大"
        );
        assert!(
            body(&m.data).contains("**事件**: 勒索软件攻击"),
            "{}",
            m.data
        );
        assert!(header(&m.data, "Content-Type").contains("charset=utf-8"));
    }
    for d in deliveries(&store, Scope::All, "mail-1").await {
        assert_eq!(d.status, DeliveryStatus::Sent, "{d:?}");
        assert_eq!(d.attempts, 1);
        assert_eq!(d.spec.channel, "email");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_and_shaped_per_kind() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store(dir.path()).await;
    let o = org(&store, "Webhook org").await;
    let robot_ok = r#"{"errcode":0,"errmsg":"ok"}"#;
    let (generic_url, generic) = webhook(vec![(200, "")]).await;
    let (ding_url, ding) = webhook(vec![(200, robot_ok)]).await;
    let (wecom_url, wecom) = webhook(vec![(200, robot_ok)]).await;
    let notifier = Notifier::new(
        store.clone(),
        NotifyConfig {
            webhooks: vec![
                channel("soc", WebhookKind::Generic, &generic_url, Some("s3cret")),
                channel(
                    "ding",
                    WebhookKind::DingTalk,
                    &format!("{ding_url}?access_token=tok"),
                    Some("SECdemo"),
                ),
                channel(
                    "wx",
                    WebhookKind::WeCom,
                    &format!("{wecom_url}?key=wxkey"),
                    None,
                ),
            ],
            retry: fast_retry(3),
            ..NotifyConfig::default()
        },
    );
    let made = notifier
        .enqueue(notice(o.id, "hook-1"))
        .await
        .expect("enqueue");
    assert_eq!(made.len(), 3);
    // Robot keys are not stored with the deliveries.
    assert!(
        made.iter()
            .all(|d| !d.spec.recipient.contains("tok") && !d.spec.recipient.contains("wxkey"))
    );
    let worker = notifier.worker().expect("worker");
    drain(&store, &worker, "hook-1").await;

    // Generic: the signature verifies over "timestamp.body" with the shared secret.
    let g = generic.hits();
    assert_eq!(g.len(), 1);
    let ts = g[0].headers[sign::TIMESTAMP_HEADER].to_str().expect("ts");
    let sig = g[0].headers[sign::SIGNATURE_HEADER].to_str().expect("sig");
    let now = jiff::Timestamp::now().as_second();
    assert_eq!(
        sign::verify_generic(b"s3cret", ts, sig, &g[0].body, now, 300),
        Ok(())
    );
    assert!(sign::verify_generic(b"wrong", ts, sig, &g[0].body, now, 300).is_err());
    let v: serde_json::Value = serde_json::from_slice(&g[0].body).expect("json");
    assert_eq!(v["type"], "vigil.notification");
    assert_eq!(v["subject"], "【事件通报】勒索软件攻击 — 重大");
    assert_eq!(v["reference"]["id"], "hook-1");
    assert_eq!(v["organization_id"], o.id.to_string());

    // DingTalk: markdown, with timestamp and sign computed from the secret.
    let d = ding.hits();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].query["access_token"], "tok");
    let ms: i64 = d[0].query["timestamp"].parse().expect("ms");
    assert!((jiff::Timestamp::now().as_millisecond() - ms).abs() < 60_000);
    assert_eq!(d[0].query["sign"], sign::dingtalk_sign("SECdemo", ms));
    let v: serde_json::Value = serde_json::from_slice(&d[0].body).expect("json");
    assert_eq!(v["msgtype"], "markdown");
    assert_eq!(v["markdown"]["title"], "【事件通报】勒索软件攻击 — 重大");
    assert!(
        v["markdown"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("分级: 重大"))
    );

    // WeCom: markdown content, key kept in the URL.
    let w = wecom.hits();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].query["key"], "wxkey");
    let v: serde_json::Value = serde_json::from_slice(&w[0].body).expect("json");
    assert_eq!(v["msgtype"], "markdown");
    assert!(
        v["markdown"]["content"]
            .as_str()
            .is_some_and(|t| t.starts_with("### 【事件通报】"))
    );
    assert_eq!(v.as_object().map(|o| o.len()), Some(2));

    for d in deliveries(&store, Scope::All, "hook-1").await {
        assert_eq!(d.status, DeliveryStatus::Sent, "{d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store(dir.path()).await;
    let o = org(&store, "Retry org").await;
    let (flaky_url, flaky) = webhook(vec![(500, "down"), (500, "down"), (200, "")]).await;
    let (bad_url, bad) = webhook(vec![(400, "bad payload")]).await;
    let (robot_url, robot) = webhook(vec![(
        200,
        r#"{"errcode":310000,"errmsg":"sign not match"}"#,
    )])
    .await;
    let notifier = Notifier::new(
        store.clone(),
        NotifyConfig {
            webhooks: vec![
                channel("flaky", WebhookKind::Generic, &flaky_url, Some("k")),
                channel("bad", WebhookKind::Generic, &bad_url, Some("k")),
                channel("robot", WebhookKind::DingTalk, &robot_url, None),
            ],
            retry: fast_retry(5),
            ..NotifyConfig::default()
        },
    );
    notifier
        .enqueue(notice(o.id, "retry-1"))
        .await
        .expect("enqueue");
    let worker = notifier.worker().expect("worker");
    drain(&store, &worker, "retry-1").await;

    let all = deliveries(&store, Scope::All, "retry-1").await;
    let by = |c: &str| {
        all.iter()
            .find(|d| d.spec.channel == c)
            .expect("delivery")
            .clone()
    };
    let f = by("flaky");
    assert_eq!(f.status, DeliveryStatus::Sent);
    assert_eq!(f.attempts, 3);
    assert_eq!(f.last_error.as_deref(), Some("HTTP 500: down"));
    assert_eq!(flaky.hits().len(), 3);
    let b = by("bad");
    assert_eq!(b.status, DeliveryStatus::Failed);
    assert_eq!(b.attempts, 1);
    assert_eq!(b.last_error.as_deref(), Some("HTTP 400: bad payload"));
    assert_eq!(bad.hits().len(), 1);
    let r = by("robot");
    assert_eq!(r.status, DeliveryStatus::Failed);
    assert_eq!(r.attempts, 1);
    assert!(
        r.last_error
            .as_deref()
            .is_some_and(|e| e.contains("310000"))
    );
    assert_eq!(robot.hits().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_stop_at_the_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store(dir.path()).await;
    let o = org(&store, "Limit org").await;
    let (url, hook) = webhook(vec![(503, "busy")]).await;
    let notifier = Notifier::new(
        store.clone(),
        NotifyConfig {
            webhooks: vec![channel("down", WebhookKind::Generic, &url, Some("k"))],
            retry: fast_retry(2),
            ..NotifyConfig::default()
        },
    );
    notifier
        .enqueue(notice(o.id, "limit-1"))
        .await
        .expect("enqueue");
    drain(&store, &notifier.worker().expect("worker"), "limit-1").await;
    let d = &deliveries(&store, Scope::All, "limit-1").await[0];
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.attempts, 2);
    assert_eq!(
        d.last_error.as_deref(),
        Some("gave up after 2 attempts: HTTP 503: busy")
    );
    assert_eq!(hook.hits().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let (url, hook) = webhook(vec![(200, "")]).await;
    let config = NotifyConfig {
        webhooks: vec![channel("soc", WebhookKind::Generic, &url, Some("k"))],
        retry: fast_retry(3),
        ..NotifyConfig::default()
    };
    let org_id = {
        let store = store(dir.path()).await;
        let o = org(&store, "Restart org").await;
        let notifier = Notifier::new(store.clone(), config.clone());
        // Enqueued, and the process stops before any worker ran.
        notifier
            .enqueue(notice(o.id, "restart-1"))
            .await
            .expect("enqueue");
        o.id
    };
    assert!(hook.hits().is_empty());
    let store = store(dir.path()).await;
    let pending = deliveries(&store, Scope::All, "restart-1").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, DeliveryStatus::Pending);
    let notifier = Notifier::new(store.clone(), config);
    let worker = notifier.worker().expect("worker");
    // The worker task as `serve` runs it, stopped once the delivery is sent.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hook.hits().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not sent after restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    task.await.expect("worker stops");
    let d = &deliveries(&store, Scope::Org(org_id), "restart-1").await[0];
    assert_eq!(d.status, DeliveryStatus::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_serve_their_organizations_and_lists_are_scoped() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = store(dir.path()).await;
    let a = org(&store, "Scoped A").await;
    let b = org(&store, "Scoped B").await;
    let (url, _hook) = webhook(vec![(200, "")]).await;
    let mut only_a = channel("a-only", WebhookKind::Generic, &url, Some("k"));
    only_a.orgs = Some(vec![a.id]);
    let notifier = Notifier::new(
        store.clone(),
        NotifyConfig {
            webhooks: vec![
                only_a,
                channel("all", WebhookKind::Generic, &url, Some("k")),
            ],
            ..NotifyConfig::default()
        },
    );
    let to_a = notifier.enqueue(notice(a.id, "scope-1")).await.expect("a");
    let to_b = notifier.enqueue(notice(b.id, "scope-1")).await.expect("b");
    assert_eq!(to_a.len(), 2);
    assert_eq!(to_b.len(), 1);
    assert_eq!(to_b[0].spec.channel, "all");
    let seen_by_a = deliveries(&store, Scope::Org(a.id), "scope-1").await;
    assert_eq!(seen_by_a.len(), 2);
    assert!(seen_by_a.iter().all(|d| d.spec.org_id == a.id));
    let seen_by_b = deliveries(&store, Scope::Org(b.id), "scope-1").await;
    assert_eq!(seen_by_b.len(), 1);
    assert_eq!(deliveries(&store, Scope::All, "scope-1").await.len(), 3);
    // An unknown organization is an error, not silence.
    assert!(matches!(
        notifier.enqueue(notice(OrgId::new(), "scope-1")).await,
        Err(vigil_notify::NotifyError::UnknownOrg(_))
    ));
}
