//! The incident page's Notifications section: notifying the organization through the form
//! enqueues the notice, and the page lists each delivery with its channel, recipient,
//! status, attempts, last error, next retry and sent time, within the viewer's scope and
//! without robot keys.

use super::*;
use std::time::Duration;
use vigil_notify::{
    Notifier, NotifyConfig, Secret, SmtpConfig, TlsMode, WebhookChannel, WebhookKind,
};

fn notifier(app: &App) -> Notifier {
    let hook = |name: &str, kind, url: &str, orgs: Vec<OrgId>| WebhookChannel {
        name: name.into(),
        kind,
        url: url.parse().expect("url"),
        secret: Some(Secret::new("SECdemo")),
        orgs: Some(orgs),
    };
    Notifier::new(
        app.store.clone(),
        NotifyConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: 2525,
                tls: TlsMode::Plain,
                username: None,
                password: None,
                from: "vigil@cert.example.cn".into(),
                timeout: Duration::from_secs(5),
            }),
            webhooks: vec![
                hook(
                    "ding-alpha",
                    WebhookKind::DingTalk,
                    "https://oapi.dingtalk.com/robot/send?access_token=ROBOT-TOKEN-123",
                    vec![app.a.id],
                ),
                hook(
                    "wx-bravo",
                    WebhookKind::WeCom,
                    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WX-KEY-456",
                    vec![app.b.id],
                ),
            ],
            ..NotifyConfig::default()
        },
    )
}

#[tokio::test]
async fn the_incident_page_lists_the_notice_deliveries() {
    let app = app().await;
    app.state.set_notifier(notifier(&app));
    let inc = format!("/incidents/{}", app.a.incident);

    // Before the notice: the section is there, empty.
    let c = login(&app, "analyst").await;
    let page = get(&app, &inc, Some(&c)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"notifications\""), "{}", page.body);
    assert!(
        page.body
            .contains("No e-mails or webhook messages for this incident yet."),
        "{}",
        page.body
    );

    // The analyst notifies the organization through the form.
    let token = csrf_of(&page.body);
    let r = post_form(
        &app,
        &inc,
        Some(&c),
        &[("csrf", &token), ("status", "notified")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // One e-mail to the responsible person (the contact has no address) and the robot
    // serving Alpha; not Bravo's robot.
    let page = get(&app, &inc, Some(&c)).await;
    let section = page
        .body
        .split("id=\"notifications\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("notifications section")
        .to_string();
    assert_eq!(
        section.matches("<tr class=\"delivery\">").count(),
        2,
        "{section}"
    );
    for needle in [
        "Notifications",
        "Channel",
        "Recipient",
        "Attempts",
        "Last error",
        "Next retry",
        "Sent",
        "email",
        "ciso@example.cn",
        "ding-alpha",
        "https://oapi.dingtalk.com/robot/send",
        "Pending",
        "0 / 8",
    ] {
        assert!(section.contains(needle), "{needle:?} missing: {section}");
    }
    assert!(!section.contains("wx-bravo"), "{section}");
    assert!(!page.body.contains("ROBOT-TOKEN-123"), "robot key shown");
    assert!(!page.body.contains("access_token"), "robot key shown");

    // A failed attempt shows its error; a sent one its time.
    let claimed = app
        .store
        .claim_deliveries(Timestamp::now(), Duration::from_secs(60), 10)
        .await
        .expect("claim");
    for d in claimed {
        let outcome = if d.spec.channel == "email" {
            vigil_store::DeliveryOutcome::Failed {
                error: "SMTP: 550 mailbox <unavailable>".into(),
            }
        } else {
            vigil_store::DeliveryOutcome::Sent
        };
        app.store
            .finish_delivery(d.id, d.attempts, outcome)
            .await
            .expect("finish")
            .expect("current attempt");
    }
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("delivery-failed"), "{}", page.body);
    assert!(
        page.body
            .contains("SMTP: 550 mailbox &#60;unavailable&#62;"),
        "error shown, escaped: {}",
        page.body
    );
    assert!(page.body.contains("delivery-sent"), "{}", page.body);
    assert!(page.body.contains("1 / 8"), "{}", page.body);

    // The organization sees its own incident's deliveries; in Chinese for the admin.
    let c = login(&app, "officer").await;
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("ding-alpha"), "{}", page.body);
    let c = login(&app, "admin").await;
    let page = get(&app, &inc, Some(&c)).await;
    assert!(page.body.contains("通知投递"), "{}", page.body);
    assert!(page.body.contains("发送失败"), "{}", page.body);
    // Bravo's incident has not been notified: nothing listed.
    let page = get(&app, &format!("/incidents/{}", app.b.incident), Some(&c)).await;
    assert!(page.body.contains("id=\"notifications\""));
    assert!(
        !page.body.contains("<tr class=\"delivery\">"),
        "{}",
        page.body
    );
}
