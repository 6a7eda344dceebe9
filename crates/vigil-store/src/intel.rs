//! Stored threat intelligence: sources, indicators and sightings.
//!
//! Indicators are platform-wide (every organization is protected by the same intelligence), so
//! their queries take no [`Scope`](vigil_model::Scope). Sightings record where an indicator was
//! seen and belong to an organization, so they are scoped like other organization data.
//!
//! The values here are plain (strings for kinds and markings) because the store does not
//! depend on `vigil-intel`; callers normalize values with it before storing them.

use serde::{Deserialize, Serialize};
use vigil_model::{AlertId, EventId, OrgId, Timestamp, ValidationError};

/// Identifier of an intelligence source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntelSourceId(pub uuid::Uuid);

/// Identifier of a stored indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IndicatorId(pub uuid::Uuid);

/// Identifier of a sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SightingId(pub uuid::Uuid);

macro_rules! id_impls {
    ($($t:ident),*) => {$(
        impl $t {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }
        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
        impl std::str::FromStr for $t {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}
id_impls!(IntelSourceId, IndicatorId, SightingId, IntelImportId);

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// A feed, peer or file an operator imports intelligence from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIntelSource {
    /// Unique; shown in provenance (`circl-osint`, `taxii:partner-cert`).
    pub name: String,
    /// `stix`, `misp`, `csv`, `list`, `taxii`, `manual`.
    pub kind: String,
    /// Where it is polled from, if anywhere.
    pub url: Option<String>,
    /// Disabled sources keep their indicators stored but out of matching.
    pub enabled: bool,
    /// 0–100: how far the operator trusts the source.
    pub trust: u8,
}

impl NewIntelSource {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(invalid("name", "must be 1 to 200 characters"));
        }
        if self.kind.trim().is_empty() || self.kind.len() > 32 {
            return Err(invalid("kind", "must be 1 to 32 characters"));
        }
        if self.trust > 100 {
            return Err(invalid("trust", "must be 0 to 100"));
        }
        Ok(())
    }
}

/// A stored source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntelSource {
    pub id: IntelSourceId,
    #[serde(flatten)]
    pub spec: NewIntelSource,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The TLP given to the source's indicators that arrive without a marking.
    #[serde(default)]
    pub default_tlp: Option<String>,
    /// What the operator wrote about the source.
    #[serde(default)]
    pub description: Option<String>,
}

/// The TLP markings the store accepts, least to most restricted.
pub const TLP_MARKINGS: &[&str] = &["clear", "green", "amber", "amber+strict", "red"];

/// A change to a source's settings; `None` leaves a field as it is, `Some(None)` clears an
/// optional one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntelSourcePatch {
    pub enabled: Option<bool>,
    /// 0–100: how far the source is trusted (the default confidence of its indicators).
    pub trust: Option<u8>,
    pub default_tlp: Option<Option<String>>,
    pub description: Option<Option<String>>,
}

impl IntelSourcePatch {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.trust.is_some_and(|t| t > 100) {
            return Err(invalid("trust", "must be 0 to 100"));
        }
        if let Some(Some(t)) = &self.default_tlp
            && !TLP_MARKINGS.contains(&t.as_str())
        {
            return Err(invalid(
                "default_tlp",
                "must be clear, green, amber, amber+strict or red",
            ));
        }
        if let Some(Some(d)) = &self.description
            && d.len() > 2000
        {
            return Err(invalid("description", "must be at most 2000 characters"));
        }
        Ok(())
    }

    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.enabled.is_none()
            && self.trust.is_none()
            && self.default_tlp.is_none()
            && self.description.is_none()
    }
}

/// Identifier of a recorded import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntelImportId(pub uuid::Uuid);

/// Most rejected objects an import record keeps (the count is always complete).
pub const MAX_IMPORT_REJECTIONS: usize = 1_000;

/// One object an import could not take, by its id (when it had one) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRejection {
    pub id: Option<String>,
    pub reason: String,
}

/// What one import (API upload, UI upload, TAXII push or poll, CLI) did to a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIntelImport {
    pub source_id: IntelSourceId,
    /// Who ran it (`user:alice`, `token:feed-bot`, `taxii-poll:partner`).
    pub actor: String,
    /// The path it came by: `api`, `ui`, `taxii`, `taxii-poll`, `cli`.
    pub via: String,
    /// `stix`, `misp`, `csv`, `list`.
    pub format: String,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Objects refused (all of them, even when only the first ones are kept below).
    pub rejected: u64,
    /// The first [`MAX_IMPORT_REJECTIONS`] rejections.
    pub rejections: Vec<ImportRejection>,
    pub started_at: Timestamp,
}

impl NewIntelImport {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.actor.is_empty() || self.actor.len() > 200 {
            return Err(invalid("actor", "must be 1 to 200 characters"));
        }
        if self.via.is_empty() || self.via.len() > 32 {
            return Err(invalid("via", "must be 1 to 32 characters"));
        }
        if self.format.is_empty() || self.format.len() > 32 {
            return Err(invalid("format", "must be 1 to 32 characters"));
        }
        Ok(())
    }
}

/// A recorded import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntelImport {
    pub id: IntelImportId,
    #[serde(flatten)]
    pub spec: NewIntelImport,
    pub finished_at: Timestamp,
}

/// How many indicators a source holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelSourceCounts {
    pub source_id: IntelSourceId,
    pub total: u64,
    /// Neither revoked nor past `valid_until`.
    pub active: u64,
}

/// A named external dynamic list that firewalls poll (`/edl/{name}.txt`); the filter is
/// the web layer's blocklist filter as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEdlList {
    /// `[a-z0-9_-]`, 1 to 64 characters.
    pub name: String,
    pub description: Option<String>,
    pub filter: serde_json::Value,
}

impl NewEdlList {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "name",
                "must be 1 to 64 characters of a-z, 0-9, - and _",
            ));
        }
        if self.description.as_ref().is_some_and(|d| d.len() > 2000) {
            return Err(invalid("description", "must be at most 2000 characters"));
        }
        if !self.filter.is_object() {
            return Err(invalid("filter", "must be an object"));
        }
        Ok(())
    }
}

/// A stored external dynamic list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdlList {
    #[serde(flatten)]
    pub spec: NewEdlList,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An indicator as a source reported it: one STIX indicator (or MISP attribute, or list line)
/// with its normalized values. `(source_id, stix_id)` identifies it; storing it again with a
/// newer `modified` replaces the stored version, an older or equal one changes nothing but
/// the `last_seen` time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIndicator {
    pub source_id: IntelSourceId,
    /// The STIX id (`indicator--<uuid>`), or a stable id derived from the source's own key.
    pub stix_id: String,
    /// The kind of the first value (`ipv4`, `domain`, `sha256`, ...) or `pattern` when the
    /// indicator has no value the fast matcher can hold.
    pub kind: String,
    /// The first normalized value, if any.
    pub value: Option<String>,
    /// Every normalized value as `kind:value`, for patterns with several.
    pub values: Vec<String>,
    /// The STIX pattern, when the indicator came with one.
    pub pattern: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// 0–100.
    pub confidence: u8,
    /// `clear`, `green`, `amber`, `amber+strict`, `red`.
    pub tlp: Option<String>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub labels: Vec<String>,
    /// Kill-chain phases as `chain:phase`.
    pub kill_chain: Vec<String>,
    /// ATT&CK technique ids.
    pub attack_ids: Vec<String>,
    /// The source's `modified` time of this version.
    pub modified: Timestamp,
    /// Revoked by its source.
    pub revoked: bool,
    /// The STIX object as received or generated, served over TAXII.
    pub object: serde_json::Value,
}

/// Largest STIX id, value or pattern stored.
const MAX_TEXT: usize = 8 * 1024;

impl NewIndicator {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.stix_id.is_empty() || self.stix_id.len() > 200 {
            return Err(invalid("stix_id", "must be 1 to 200 characters"));
        }
        if self.kind.is_empty() || self.kind.len() > 32 {
            return Err(invalid("kind", "must be 1 to 32 characters"));
        }
        if self.value.as_ref().is_some_and(|v| v.len() > MAX_TEXT)
            || self.pattern.as_ref().is_some_and(|v| v.len() > MAX_TEXT)
        {
            return Err(invalid("value", "is too long"));
        }
        if self.value.is_none() && self.pattern.is_none() {
            return Err(invalid("value", "an indicator needs a value or a pattern"));
        }
        if self.confidence > 100 {
            return Err(invalid("confidence", "must be 0 to 100"));
        }
        if let (Some(f), Some(u)) = (self.valid_from, self.valid_until)
            && u < f
        {
            return Err(invalid("valid_until", "is before valid_from"));
        }
        Ok(())
    }
}

impl NewIndicator {
    /// The plain values (without their `kind:` prefix) of [`Self::value`] and
    /// [`Self::values`], sorted and without duplicates: what exact lookups compare.
    pub fn plain_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .values
            .iter()
            .map(|kv| {
                kv.split_once(':')
                    .map_or(kv.as_str(), |(_, v)| v)
                    .to_string()
            })
            .chain(self.value.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A stored indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredIndicator {
    pub id: IndicatorId,
    #[serde(flatten)]
    pub spec: NewIndicator,
    /// When the store first received it.
    pub first_seen: Timestamp,
    /// When a source last reported it (any version).
    pub last_seen: Timestamp,
    /// When the stored version last changed (TAXII's `date_added`).
    pub date_added: Timestamp,
    /// When an analyst revoked it in Vigil (distinct from the source's `revoked`).
    pub revoked_at: Option<Timestamp>,
}

impl StoredIndicator {
    /// Revoked by the source or by an analyst.
    pub fn is_revoked(&self) -> bool {
        self.spec.revoked || self.revoked_at.is_some()
    }
}

/// Most rows one [`Store::indicators_for_matching`](crate::Store::indicators_for_matching)
/// page returns.
pub const MAX_MATCH_PAGE: usize = 10_000;

/// What the live matcher loads of a stored indicator: no STIX object, no STIX id, no
/// provenance times (an alert fetches the whole indicator by `id` on a hit).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchIndicator {
    pub id: IndicatorId,
    pub source_id: IntelSourceId,
    pub kind: String,
    pub value: Option<String>,
    /// Every normalized value as `kind:value`.
    pub values: Vec<String>,
    pub pattern: Option<String>,
    /// Name and description feed only the category suggestion.
    pub name: Option<String>,
    pub description: Option<String>,
    pub confidence: u8,
    pub tlp: Option<String>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub labels: Vec<String>,
    pub kill_chain: Vec<String>,
    pub attack_ids: Vec<String>,
}

/// Outcome of a bulk upsert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    pub inserted: u64,
    /// A newer version replaced the stored one.
    pub updated: u64,
    /// The stored version was as new or newer.
    pub unchanged: u64,
}

/// Filters for listing indicators.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuery {
    pub source_id: Option<IntelSourceId>,
    pub kind: Option<String>,
    /// Exact normalized value (any of the indicator's values).
    pub value: Option<String>,
    pub stix_id: Option<String>,
    /// Case-insensitive substring of the value, name or pattern.
    pub text: Option<String>,
    /// Revoked indicators too (by default left out).
    pub include_revoked: bool,
    /// Only those whose stored version changed strictly after this time.
    pub added_after: Option<Timestamp>,
    /// Oldest first by `date_added` (TAXII order); the default is newest first.
    pub oldest_first: bool,
    pub limit: usize,
    pub cursor: Option<String>,
    /// Only this TLP marking (`clear`, `green`, ...).
    pub tlp: Option<String>,
    /// Leave out indicators with any of these markings (unmarked ones stay).
    pub tlp_exclude: Vec<String>,
    pub min_confidence: Option<u8>,
    pub max_confidence: Option<u8>,
    /// Only those with this label (tag).
    pub label: Option<String>,
    /// Only those with a value of one of these kinds (the first value's or any other's).
    pub kinds: Vec<String>,
    /// Only active, expired or revoked ones, as of `now` (the store's clock by default).
    /// `Revoked` lists revoked ones whatever `include_revoked` says.
    pub state: Option<IndicatorState>,
    pub now: Option<Timestamp>,
    /// Only indicators of enabled sources.
    pub enabled_sources_only: bool,
}

/// The life state of an indicator at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorState {
    /// Not revoked and not past `valid_until`.
    Active,
    /// Not revoked, past `valid_until`.
    Expired,
    /// Revoked by its source or in Vigil.
    Revoked,
}

impl IndicatorState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "expired" => Some(Self::Expired),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }

    /// The state of `ind` at `now`.
    pub fn of(ind: &StoredIndicator, now: Timestamp) -> Self {
        if ind.is_revoked() {
            Self::Revoked
        } else if ind.spec.valid_until.is_some_and(|u| u <= now) {
            Self::Expired
        } else {
            Self::Active
        }
    }
}

/// Where an indicator was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSighting {
    pub indicator_id: IndicatorId,
    pub org_id: OrgId,
    pub event_id: Option<EventId>,
    pub alert_id: Option<AlertId>,
    pub seen_at: Timestamp,
    pub count: u32,
}

/// A stored sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub id: SightingId,
    #[serde(flatten)]
    pub spec: NewSighting,
    pub created_at: Timestamp,
}

/// Filters for listing sightings; newest first by `seen_at`.
#[derive(Debug, Clone, Default)]
pub struct SightingQuery {
    pub indicator_id: Option<IndicatorId>,
    pub org_id: Option<OrgId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// One version of a stored indicator: the stored (current) one, or one a newer version
/// replaced. [`crate::Store::upsert_indicators`] keeps every version it replaces (its STIX
/// object, `modified` and the `date_added` it had), so TAXII's `versions/` and
/// `match[version]` see them all; the matcher reads only the current ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorVersion {
    pub indicator_id: IndicatorId,
    pub source_id: IntelSourceId,
    pub stix_id: String,
    pub modified: Timestamp,
    /// When this version was stored (a replaced version keeps its own).
    pub date_added: Timestamp,
    /// The STIX object of this version.
    pub object: serde_json::Value,
    /// The current version of the indicator.
    pub latest: bool,
    /// When an analyst revoked the indicator in Vigil (on the current version only).
    pub revoked_at: Option<Timestamp>,
}

/// Filters for [`crate::Store::list_indicator_versions`]. Results come oldest `date_added`
/// first, then indicator id; the cursor is the position after the last one.
#[derive(Debug, Clone, Default)]
pub struct IndicatorVersionQuery {
    pub source_id: Option<IntelSourceId>,
    /// Any of these STIX ids (empty: all).
    pub stix_ids: Vec<String>,
    /// Versions matching any of these (empty: the current ones). `First` is the oldest
    /// version stored of each indicator, `Last` the current one.
    pub versions: Vec<crate::stix::StixVersion>,
    /// Only versions stored strictly after this time.
    pub added_after: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl IndicatorVersionQuery {
    /// The selections asked for, `[Last]` when none.
    pub fn selections(&self) -> Vec<crate::stix::StixVersion> {
        if self.versions.is_empty() {
            vec![crate::stix::StixVersion::Last]
        } else {
            self.versions.clone()
        }
    }
}

/// The SQL conditions (to be OR-ed) that pick the versions `sels` asks for from one table:
/// `indicators i` (the current versions) when `current`, else `indicator_versions v`. Both
/// backends use them; `at` binds a `modified` time and returns its placeholder. Empty when
/// none of the selections can match in that table.
pub(crate) fn version_conditions(
    sels: &[crate::stix::StixVersion],
    current: bool,
    mut at: impl FnMut(Timestamp) -> String,
) -> Vec<String> {
    use crate::stix::StixVersion;
    let mut conds = Vec::new();
    for s in sels {
        match (s, current) {
            (StixVersion::All, _) | (StixVersion::Last, true) => conds.push("1 = 1".to_string()),
            (StixVersion::Last, false) => {}
            (StixVersion::First, true) => conds.push(
                "NOT EXISTS (SELECT 1 FROM indicator_versions w WHERE w.indicator_id = i.id)"
                    .to_string(),
            ),
            (StixVersion::First, false) => conds.push(
                "modified = (SELECT min(w.modified) FROM indicator_versions w \
                 WHERE w.indicator_id = v.indicator_id)"
                    .to_string(),
            ),
            (StixVersion::At(t), _) => conds.push(format!("modified = {}", at(*t))),
        }
    }
    conds
}

/// Merges the current versions and the replaced ones (each fetched in `(date_added,
/// indicator_id)` order, `limit + 1` at most) into one ordered list of at most `limit + 1`.
pub(crate) fn merge_versions(
    current: Vec<IndicatorVersion>,
    older: Vec<IndicatorVersion>,
    limit: usize,
) -> Vec<IndicatorVersion> {
    let mut out = Vec::with_capacity((current.len() + older.len()).min(limit + 1));
    let (mut a, mut b) = (current.into_iter().peekable(), older.into_iter().peekable());
    while out.len() <= limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (x.date_added, x.indicator_id) <= (y.date_added, y.indicator_id),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}
