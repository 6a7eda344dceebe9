//! Evidence files attached to incidents, kept with their SM3 digests (chain of custody).
//!
//! A record is written once and never changed: there is no update and no delete in the
//! contract (an evidence file goes only with its incident, when the incident's organization is
//! deleted), because a file that could be replaced or removed afterwards proves nothing. The
//! store computes the SM3 digest itself over the bytes it stores, so no caller can supply a
//! digest that does not match; readers re-hash the bytes ([`Evidence::matches`]) before they
//! hand them out, which detects bytes altered in the database.
//!
//! The bytes live in their own table, so listing an incident's evidence never reads them.

use serde::{Deserialize, Serialize};
use vigil_model::{IncidentId, OrgId, Timestamp, ValidationError};

/// Largest evidence file the store accepts (the web layer may set a lower limit).
pub const MAX_EVIDENCE_BYTES: usize = 20 << 20;
/// Longest stored file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 200;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Most evidence files listed for one incident.
pub const MAX_EVIDENCE_LISTED: usize = 1_000;
/// The content type stored when the uploader's is missing or malformed.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Identifier of an evidence file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EvidenceId(pub uuid::Uuid);

impl EvidenceId {
    /// A new time-ordered (v7) id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for EvidenceId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for EvidenceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for EvidenceId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// An evidence file to store. The store sanitizes the name and content type and computes the
/// digest and size itself.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub incident_id: IncidentId,
    pub file_name: String,
    pub content_type: String,
    pub note: Option<String>,
    pub bytes: Vec<u8>,
}

impl NewEvidence {
    /// Refuses an empty or too large file and a too long note; the file name and content type
    /// are made safe rather than refused ([`sanitize_file_name`], [`normalize_content_type`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.bytes.is_empty() {
            return Err(ValidationError::new("content", "the file is empty"));
        }
        if self.bytes.len() > MAX_EVIDENCE_BYTES {
            return Err(ValidationError::new(
                "content",
                format!(
                    "the file has {} bytes; evidence files may have at most {} bytes ({} MiB)",
                    self.bytes.len(),
                    MAX_EVIDENCE_BYTES,
                    MAX_EVIDENCE_BYTES >> 20
                ),
            ));
        }
        if let Some(n) = &self.note
            && n.chars().count() > MAX_NOTE_CHARS
        {
            return Err(ValidationError::new(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        Ok(())
    }

    /// The record as stored: sanitized name and type, size, SM3 digest of the bytes.
    pub(crate) fn record(
        &self,
        org_id: OrgId,
        uploaded_by: &str,
        uploaded_at: Timestamp,
    ) -> Evidence {
        Evidence {
            id: EvidenceId::new(),
            incident_id: self.incident_id,
            org_id,
            file_name: sanitize_file_name(&self.file_name),
            content_type: normalize_content_type(&self.content_type),
            size: self.bytes.len() as u64,
            sm3: vigil_crypto::sm3_hex(&self.bytes),
            uploaded_by: uploaded_by.to_string(),
            uploaded_at,
            note: self
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        }
    }
}

/// A stored evidence file's record (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: EvidenceId,
    pub incident_id: IncidentId,
    pub org_id: OrgId,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// SM3 of the bytes as received, lowercase hex (64 digits).
    pub sm3: String,
    /// The actor (`user:name`, `token:name`).
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
    pub note: Option<String>,
}

impl Evidence {
    /// Whether `bytes` are the ones this record was written with (size and SM3 digest).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && vigil_crypto::sm3_hex(bytes) == self.sm3
    }

    /// The incident timeline note of the upload.
    pub fn timeline_note(&self) -> String {
        format!("{} ({} bytes, SM3 {})", self.file_name, self.size, self.sm3)
    }
}

/// The last path component of an uploaded file name (either separator), without control
/// characters, trimmed, at most [`MAX_FILE_NAME_CHARS`] characters (the extension kept when
/// cut); `evidence` when nothing usable is left (`..`, empty).
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .trim()
        .to_string();
    if cleaned.is_empty() {
        return "evidence".to_string();
    }
    if cleaned.chars().count() <= MAX_FILE_NAME_CHARS {
        return cleaned;
    }
    // Keep a short extension so the downloaded file still opens with the right program.
    let ext: String = match cleaned.rsplit_once('.') {
        Some((_, e)) if !e.is_empty() && e.chars().count() <= 16 => format!(".{e}"),
        _ => String::new(),
    };
    let keep = MAX_FILE_NAME_CHARS - ext.chars().count();
    let mut out: String = cleaned.chars().take(keep).collect();
    out.push_str(&ext);
    out
}

/// `type/subtype` in lowercase, parameters dropped; [`OCTET_STREAM`] for anything that is
/// not a well-formed media type of at most 127 characters.
pub fn normalize_content_type(raw: &str) -> String {
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    };
    match essence.split_once('/') {
        Some((t, s)) if essence.len() <= 127 && token(t) && token(s) => {
            essence.to_ascii_lowercase()
        }
        _ => OCTET_STREAM.to_string(),
    }
}

/// Media types a browser does not execute or render as active content, which a download may
/// carry as stored; everything else is served as [`OCTET_STREAM`] (HTML, SVG, XML, scripts,
/// and anything unknown).
pub fn is_passive_content_type(ct: &str) -> bool {
    matches!(
        ct,
        "text/plain"
            | "text/csv"
            | "application/json"
            | "application/pdf"
            | "application/zip"
            | "application/gzip"
            | "application/x-gzip"
            | "application/x-7z-compressed"
            | "application/x-tar"
            | "application/vnd.tcpdump.pcap"
            | "application/octet-stream"
            | "message/rfc822"
            | "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/bmp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_paths_and_stay_bounded() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\x\\log.txt"), "log.txt");
        assert_eq!(sanitize_file_name(".."), "evidence");
        assert_eq!(sanitize_file_name(""), "evidence");
        assert_eq!(sanitize_file_name("a\u{0}b\nc.pcap"), "abc.pcap");
        assert_eq!(sanitize_file_name(".htaccess"), "htaccess");
        assert_eq!(sanitize_file_name("取证 报告.pdf"), "取证 报告.pdf");
        let long = format!("{}.pcap", "x".repeat(500));
        let s = sanitize_file_name(&long);
        assert_eq!(s.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(s.ends_with(".pcap"));
    }

    #[test]
    fn content_types_are_normalized_and_active_ones_recognized() {
        assert_eq!(
            normalize_content_type("Text/Plain; charset=utf-8"),
            "text/plain"
        );
        assert_eq!(normalize_content_type("nonsense"), OCTET_STREAM);
        assert_eq!(normalize_content_type("a/b c"), OCTET_STREAM);
        assert_eq!(normalize_content_type(""), OCTET_STREAM);
        assert!(is_passive_content_type("application/pdf"));
        assert!(!is_passive_content_type("text/html"));
        assert!(!is_passive_content_type("image/svg+xml"));
        assert!(!is_passive_content_type("application/xhtml+xml"));
    }
}
