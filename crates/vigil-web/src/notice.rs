//! Notices to responsible organizations, signed with the platform's SM2 key.
//!
//! When an incident has been notified, `GET /api/v1/incidents/{id}/notice` returns the
//! notice as a [`vigil_crypto::Envelope`]: a JSON payload (who is notified of what, what
//! they must do) signed with the platform key. Recipients check it with the published key
//! (`GET /api/v1/notice-key`, or the PEM file the CERT distributes) and `vigil
//! verify-notice`, or any SM2 implementation: SM3 with ZA over the default ID, DER
//! signature over the payload's UTF-8 bytes.

use std::path::Path;
use vigil_crypto::Sm2PrivateKey;
use vigil_model::{Incident, IncidentStatus, Organization, Timestamp};

/// Why the platform key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the platform key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the platform key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the platform key file {path} does not hold an SM2 private key: {source}")]
    Parse {
        path: String,
        source: vigil_crypto::CryptoError,
    },
    #[error("cannot generate the platform key: {0}")]
    Generate(vigil_crypto::CryptoError),
}

/// Reads the platform's SM2 private key (PEM, DER or hex) from `path`, or, when the file does
/// not exist, generates one and writes it there as PKCS#8 PEM readable by the owner only.
pub fn load_or_create_key(path: &Path) -> Result<Sm2PrivateKey, KeyFileError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Sm2PrivateKey::parse(&text).map_err(|source| KeyFileError::Parse {
            path: shown,
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Sm2PrivateKey::generate().map_err(KeyFileError::Generate)?;
            let pem = key.to_pem().map_err(KeyFileError::Generate)?;
            write_private(path, pem.as_bytes()).map_err(|source| KeyFileError::Write {
                path: shown.clone(),
                source,
            })?;
            tracing::info!(path = %shown, public_key = %key.public_key().to_hex(), "platform SM2 key created");
            Ok(key)
        }
        Err(source) => Err(KeyFileError::Read {
            path: shown,
            source,
        }),
    }
}

/// Creates `path` (and its directory) with owner-only permissions; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Whether the incident has reached the organization (a notice exists for it).
pub fn is_notified(status: IncidentStatus) -> bool {
    !matches!(status, IncidentStatus::Open | IncidentStatus::Triaged)
}

/// The notice document for an incident: what the platform tells the organization.
pub fn payload(inc: &Incident, org: &Organization, issued_at: Timestamp) -> serde_json::Value {
    let notified_at = inc
        .timeline
        .iter()
        .find(|e| e.action == "status:notified")
        .map(|e| e.at);
    let category = vigil_model::taxonomy::incident_category(&inc.spec.category);
    serde_json::json!({
        "type": "vigil.incident_notice",
        "version": 1,
        "issuer": "Vigil",
        "issued_at": issued_at,
        "notified_at": notified_at,
        "recipient": {
            "organization_id": org.id,
            "name": org.spec.name,
            "uscc": org.spec.uscc,
        },
        "incident": {
            "id": inc.id,
            "title": inc.spec.title,
            "description": inc.spec.description,
            "category": inc.spec.category,
            "category_name_zh": category.map(|c| c.term.name_zh.clone()),
            "category_name_en": category.map(|c| c.term.name_en.clone()),
            "subcategory": inc.spec.subcategory,
            "grade": inc.spec.grade.as_str(),
            "grade_name_zh": inc.spec.grade.name("zh-CN"),
            "occurred_at": inc.spec.occurred_at,
            "status": inc.status.as_str(),
            "asset_ids": inc.spec.asset_ids,
            "alert_ids": inc.spec.alert_ids,
        },
        "requested_action_zh": "请立即签收本通报，按要求开展处置，并在处置完成后反馈处置措施和证据。",
        "requested_action_en": "Acknowledge this notice now, remediate as required, and report the measures taken with evidence when done.",
    })
}
