//! Early-warning bulletins: the signed document and what happens when one is issued.
//!
//! `GET /api/v1/warnings/{id}/signed` returns the bulletin as a [`vigil_crypto::Envelope`]
//! signed with the platform's SM2 key, exactly as incident notices are (see `notice.rs`):
//! recipients verify it with the published key (`GET /api/v1/notice-key`) and `vigil
//! verify-notice`. The payload never lists the other recipients: a bulletin addressed to one
//! organization names that organization only.

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use vigil_model::{Organization, Timestamp, Warning};

/// The bulletin document. `recipient` is the organization it is addressed to, when it is
/// fetched for (or by) one.
pub fn payload(
    w: &Warning,
    recipient: Option<&Organization>,
    issued_at: Timestamp,
) -> serde_json::Value {
    let level = w.spec.level;
    serde_json::json!({
        "type": "vigil.early_warning",
        "version": 1,
        "issuer": "Vigil",
        "signed_at": issued_at,
        "recipient": recipient.map(|o| serde_json::json!({
            "organization_id": o.id,
            "name": o.spec.name,
            "uscc": o.spec.uscc,
        })),
        "warning": {
            "id": w.id,
            "title": w.spec.title,
            "summary": w.spec.summary,
            "level": level.as_str(),
            "level_name_zh": level.name("zh-CN"),
            "level_name_en": level.name("en"),
            "cves": w.spec.cves,
            "indicators": w.spec.indicators,
            "affected_products": w.spec.affected_products,
            "measures": w.spec.measures,
            "response_deadline": w.spec.response_deadline,
            "issued_by": w.issued_by,
            "issued_at": w.issued_at,
        },
        "requested_action_zh": "请立即签收本预警通报，排查受影响资产，按建议措施开展防范，并反馈处置情况。",
        "requested_action_en": "Acknowledge this warning now, check your affected assets, apply the recommended measures and report back.",
    })
}

/// Signs the bulletin with the platform key.
pub fn sign(
    st: &AppState,
    w: &Warning,
    recipient: Option<&Organization>,
) -> Result<vigil_crypto::Envelope, ApiError> {
    let key = st.notice_key.get().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_signing_key",
            "bulletin signing is not configured on this server (no platform SM2 key)",
        )
    })?;
    let text = payload(w, recipient, Timestamp::now()).to_string();
    vigil_crypto::seal_envelope(key, text).map_err(|e| {
        tracing::error!(error = %e, "signing a warning failed");
        ApiError::internal()
    })
}

/// Called once a warning is stored with its recipients: logs the issue and enqueues the
/// notification (e-mail, webhooks: the outbox) to every recipient organization through the
/// same notifier incident notices use ([`crate::notify::warning_issued`]). It never fails
/// the request: the warning is issued and visible in every recipient's portal either way.
pub async fn on_issued(st: &AppState, w: &Warning) {
    tracing::info!(
        warning = %w.id,
        level = w.spec.level.as_str(),
        recipients = w.recipients,
        "early warning issued"
    );
    crate::notify::warning_issued(st, w).await;
}
