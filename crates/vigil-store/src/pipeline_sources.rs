//! Pipeline sources defined at runtime (issue 4): listeners administrators add through the
//! API and UI, kept so that `vigil serve` starts them again after a restart.
//!
//! The store keeps them as data: `settings` is the listener's settings as JSON, validated by
//! the pipeline (`vigil_pipeline::source`) before it gets here. Platform-wide; callers check
//! the role.

use serde::{Deserialize, Serialize};
use vigil_model::{Timestamp, ValidationError};

/// Longest source name (as in the TOML configuration).
pub const MAX_SOURCE_NAME: usize = 64;
/// Largest settings document (JSON text).
pub const MAX_SOURCE_SETTINGS: usize = 64 << 10;

/// Where a source is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceOrigin {
    /// `[[pipeline.listeners]]` in the configuration file.
    Config,
    /// Created through the API or the UI.
    Api,
}

impl SourceOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceOrigin::Config => "config",
            SourceOrigin::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "config" => Some(SourceOrigin::Config),
            "api" => Some(SourceOrigin::Api),
            _ => None,
        }
    }
}

/// One stored source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSource {
    pub name: String,
    /// `syslog_udp`, `syslog_tcp`, `syslog_tls`, `mqtt` or `file`.
    pub kind: String,
    /// The listener's settings (an object; secrets included, never shown by the API).
    pub settings: serde_json::Value,
    pub enabled: bool,
    pub origin: SourceOrigin,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

impl PipelineSource {
    /// The store's own checks (the listener rules are the pipeline's).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.name.trim().is_empty() || self.name.len() > MAX_SOURCE_NAME {
            return Err(invalid("name", "must be 1 to 64 characters"));
        }
        if self.kind.is_empty() || self.kind.len() > 32 {
            return Err(invalid("kind", "must be 1 to 32 characters"));
        }
        if !self.settings.is_object() {
            return Err(invalid("settings", "must be a JSON object"));
        }
        if self.settings.to_string().len() > MAX_SOURCE_SETTINGS {
            return Err(invalid("settings", "is larger than 64 KiB"));
        }
        Ok(())
    }
}
