//! What goes over the wire: webhook JSON bodies per kind, and e-mails.

use crate::config::WebhookKind;
use serde_json::json;
use vigil_store::Delivery;

/// WeCom refuses markdown content over 4,096 bytes.
pub const WECOM_MAX: usize = 4_096;
/// DingTalk's limit is about 20,000 bytes; stay well below.
pub const DINGTALK_MAX: usize = 18_000;

/// `s` cut to at most `max` bytes on a character boundary, marked when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mark = "\n\n…";
    let mut end = max.saturating_sub(mark.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &s[..end])
}

/// The JSON body a webhook of `kind` receives for the delivery.
pub fn webhook_body(kind: WebhookKind, d: &Delivery) -> serde_json::Value {
    match kind {
        WebhookKind::Generic => json!({
            "type": "vigil.notification",
            "version": 1,
            "delivery_id": d.id,
            "attempt": d.attempts,
            "organization_id": d.spec.org_id,
            "reference": {"kind": d.spec.reference_kind, "id": d.spec.reference_id},
            "subject": d.spec.subject,
            "markdown": d.spec.body,
            "created_at": d.created_at,
        }),
        WebhookKind::DingTalk => json!({
            "msgtype": "markdown",
            "markdown": {
                "title": d.spec.subject,
                "text": clip(&format!("### {}\n\n{}", d.spec.subject, d.spec.body), DINGTALK_MAX),
            },
        }),
        WebhookKind::WeCom => json!({
            "msgtype": "markdown",
            "markdown": {
                "content": clip(&format!("### {}\n{}", d.spec.subject, d.spec.body), WECOM_MAX),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_utf8_whole() {
        let s = "通报".repeat(2_000);
        let c = clip(&s, 100);
        assert!(c.len() <= 100);
        assert!(c.ends_with('…'));
        assert_eq!(clip("short", 100), "short");
    }
}
