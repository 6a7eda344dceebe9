//! Vigil's domain model.
//!
//! Everything in Vigil belongs to an [`Organization`]: its [`Asset`]s, the normalized [`Event`]s
//! its sensors send, the [`Alert`]s detection raises on them and the [`Incident`]s analysts
//! open. People act as [`User`]s with a [`Role`]; machines act through [`ApiToken`]s. Both are
//! resolved into a [`Principal`], whose [`Scope`] is what every store query is filtered by.
//!
//! The national taxonomies (GB/T 20986-2023 incident categories, incident grades, MLPS levels,
//! MIIT industrial-internet types and grades, industry sectors, GB/T 2260 region codes) are data
//! tables with Chinese and English names in [`taxonomy`], loaded from CSV files embedded at
//! build time.
//!
//! This crate does no IO, no async and no SQL: it defines values and validates them.

pub mod asset;
pub mod audit;
pub mod error;
pub mod event;
pub mod incident;
pub mod org;
pub mod taxonomy;
pub mod user;
pub mod warning;

pub use asset::{Asset, AssetKind, Importance, NewAsset, SoftwareComponent};
pub use audit::{AuditOutcome, AuditRecord, NewAuditRecord};
pub use error::ValidationError;
pub use event::{Event, INDEXED_FIELDS, NewEvent, Provenance};
pub use incident::{
    Alert, AlertSource, AlertStatus, Grade, Incident, IncidentImpact, IncidentStatus, NewAlert,
    NewIncident, PaymentMethod, Ransom, RansomStatus, RecordedImpact, Severity, TimelineEntry,
};
pub use org::{Contact, MiitEnterpriseType, NewOrganization, Organization};
pub use user::{Action, ApiToken, Locale, NewUser, Principal, PrincipalKind, Role, Scope, User};
pub use warning::{
    AssetCriterion, NewWarning, Warning, WarningLevel, WarningRecipient, WarningTargets,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[doc = concat!("Identifier of a ", stringify!($name), ".")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered identifier (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    OrgId, AssetId, AlertId, IncidentId, UserId, TokenId, WarningId
);

/// Event identifiers are assigned by the store in append order (a 64-bit sequence), because
/// the event table is the hot path and an integer key is the cheapest one in both backends.
pub type EventId = i64;

/// A point in time, UTC.
pub type Timestamp = jiff::Timestamp;

/// One page of a list, with the opaque cursor that continues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass this back to get the next page; `None` when this was the last one.
    pub next_cursor: Option<String>,
}
