//! Stored STIX objects: every domain and relationship object an import brings (malware,
//! intrusion sets, attack patterns, relationships, reports, `x-mitre-*`, ...), every version.
//!
//! A version is identified by `(stix_id, modified)`; storing the same version again changes
//! nothing (the first copy is kept). Each stored version gets a `date_added` from the store,
//! strictly increasing over all versions, which is what TAXII's `added_after` pages by and
//! what the cursor of [`StixObjectQuery`] holds. Indicators stay in the indicator store
//! ([`crate::intel`]); this store holds the objects around them.
//!
//! The properties the store indexes (type, name, ATT&CK id, relationship ends) are taken from
//! the object itself by [`NewStixObject::from_json`], so callers hand over the JSON and the
//! source only.

use crate::intel::IntelSourceId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use vigil_model::{Timestamp, ValidationError};

/// Largest object stored, as serialized JSON.
pub const MAX_OBJECT_BYTES: usize = 4 * 1024 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// One version of a STIX object to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewStixObject {
    /// `type--uuid`.
    pub stix_id: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// `2.1` or `2.0`.
    pub spec_version: String,
    pub created: Option<Timestamp>,
    /// The version: `modified`, else `created`, else the Unix epoch (objects without either,
    /// such as cyber-observables, have one version).
    pub modified: Timestamp,
    pub revoked: bool,
    /// The source that first brought this version.
    pub source_id: Option<IntelSourceId>,
    /// The object as received.
    pub object: Value,
}

fn time_of(obj: &Value, key: &str) -> Result<Option<Timestamp>, ValidationError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|e| invalid(key, format!("{s:?} is not a timestamp: {e}"))),
        Some(_) => Err(invalid(key, "is not a string")),
    }
}

impl NewStixObject {
    /// The version of `object` to store, its indexed properties read from it. Objects
    /// without `spec_version` (STIX 2.0) get `default_spec`.
    pub fn from_json(
        object: Value,
        default_spec: &str,
        source_id: Option<IntelSourceId>,
    ) -> Result<Self, ValidationError> {
        let ty = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("type", "missing"))?
            .to_string();
        let stix_id = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("id", "missing"))?
            .to_string();
        let spec_version = object
            .get("spec_version")
            .and_then(Value::as_str)
            .unwrap_or(default_spec)
            .to_string();
        let created = time_of(&object, "created")?;
        let modified = time_of(&object, "modified")?
            .or(created)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let revoked = object.get("revoked").and_then(Value::as_bool) == Some(true);
        let spec = Self {
            stix_id,
            ty,
            spec_version,
            created,
            modified,
            revoked,
            source_id,
            object,
        };
        spec.validate()?;
        let size = json_size(&spec.object);
        if size > MAX_OBJECT_BYTES {
            return Err(invalid(
                "object",
                format!("is {size} bytes as JSON, more than {MAX_OBJECT_BYTES}"),
            ));
        }
        Ok(spec)
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        let Some((prefix, uuid)) = self.stix_id.split_once("--") else {
            return Err(invalid(
                "id",
                format!("{:?} is not type--uuid", self.stix_id),
            ));
        };
        if prefix != self.ty {
            return Err(invalid(
                "id",
                format!(
                    "{:?} does not start with its type {}",
                    self.stix_id, self.ty
                ),
            ));
        }
        if uuid::Uuid::parse_str(uuid).is_err() {
            return Err(invalid("id", format!("{:?}: not a UUID", self.stix_id)));
        }
        if self.ty.is_empty() || self.ty.len() > 250 {
            return Err(invalid("type", "must be 1 to 250 characters"));
        }
        if !matches!(self.spec_version.as_str(), "2.0" | "2.1") {
            return Err(invalid("spec_version", "must be 2.0 or 2.1"));
        }
        if !self.object.is_object() {
            return Err(invalid("object", "is not a JSON object"));
        }
        Ok(())
    }

    /// The `name` property.
    pub fn name(&self) -> Option<&str> {
        self.object.get("name").and_then(Value::as_str)
    }

    /// The ATT&CK id (`T1059.001`, `TA0002`, `G0007`, `S0154`, `M1036`, ...) from the
    /// object's `external_references` (source `mitre-attack`, `mitre-mobile-attack`, ...).
    pub fn attack_id(&self) -> Option<&str> {
        attack_id(&self.object)
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }

    pub fn source_ref(&self) -> Option<&str> {
        self.str("source_ref")
            .or_else(|| self.str("sighting_of_ref"))
    }

    pub fn target_ref(&self) -> Option<&str> {
        self.str("target_ref")
    }

    pub fn relationship_type(&self) -> Option<&str> {
        self.str("relationship_type")
    }
}

/// The length of a value serialized as JSON, without building the text.
fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing into a counter cannot fail; a map with non-string keys cannot occur in a Value.
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// The ATT&CK id of an object, from its `external_references`.
pub fn attack_id(object: &Value) -> Option<&str> {
    object
        .get("external_references")?
        .as_array()?
        .iter()
        .filter(|r| {
            r.get("source_name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("mitre-") && s.ends_with("attack"))
        })
        .find_map(|r| r.get("external_id").and_then(Value::as_str))
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStixObject {
    #[serde(flatten)]
    pub spec: NewStixObject,
    /// When the store received this version (strictly increasing over all versions).
    pub date_added: Timestamp,
    /// Is this the newest version of the object?
    pub latest: bool,
}

/// Outcome of [`crate::Store::put_stix_objects`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StixPutCounts {
    /// Objects not stored before.
    pub inserted: u64,
    /// New versions of objects stored before.
    pub new_versions: u64,
    /// Versions stored before (identical `(id, modified)`): nothing changed.
    pub unchanged: u64,
    /// Stored versions (inserted and new) by type.
    pub by_type: BTreeMap<String, u64>,
}

impl StixPutCounts {
    pub fn add(&mut self, other: &StixPutCounts) {
        self.inserted += other.inserted;
        self.new_versions += other.new_versions;
        self.unchanged += other.unchanged;
        for (k, v) in &other.by_type {
            *self.by_type.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// Which versions of each object a query returns (TAXII `match[version]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StixVersion {
    /// The newest version of each object.
    #[default]
    Last,
    /// The oldest version of each object.
    First,
    /// Every version.
    All,
    /// The version whose `modified` is this time.
    At(Timestamp),
}

/// Filters for listing stored versions. Results come in `date_added` order, oldest first;
/// the cursor is the position after the last one.
#[derive(Debug, Clone, Default)]
pub struct StixObjectQuery {
    /// Any of these ids (empty: all).
    pub ids: Vec<String>,
    /// Any of these types (empty: all).
    pub types: Vec<String>,
    /// Only versions first brought by this source.
    pub source_id: Option<IntelSourceId>,
    /// Case-insensitive substring of the name, or the ATT&CK id or STIX id exactly.
    pub text: Option<String>,
    /// Exact ATT&CK id (`T1059.001`).
    pub attack_id: Option<String>,
    /// Relationships (and sightings) from this object.
    pub source_ref: Option<String>,
    /// Relationships to this object.
    pub target_ref: Option<String>,
    /// Relationships from or to this object.
    pub touching: Option<String>,
    pub relationship_type: Option<String>,
    /// Any of these spec versions (empty: all).
    pub spec_versions: Vec<String>,
    pub version: StixVersion,
    /// Leave out revoked versions.
    pub exclude_revoked: bool,
    /// Only versions added strictly after this time.
    pub added_after: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}
