//! Normalized security events.
//!
//! An event carries ECS field names in dotted form (`source.ip`, `event.action`), the
//! source-native fields it was parsed from, the raw bytes it arrived as, and where it came from.
//! A dozen fields that searches and dashboards filter on most are listed in [`INDEXED_FIELDS`];
//! the stores keep them in indexed columns.

use crate::error::ValidationError;
use crate::{AssetId, EventId, OrgId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Fields stored in indexed columns, in this order. Everything else is searchable by free text
/// and filterable, but not indexed.
pub const INDEXED_FIELDS: [&str; 12] = [
    "event.category",
    "event.action",
    "event.outcome",
    "event.severity",
    "source.ip",
    "destination.ip",
    "destination.port",
    "host.name",
    "user.name",
    "process.name",
    "url.domain",
    "file.hash.sha256",
];

/// Largest accepted raw line or document, in bytes.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Largest number of fields in one event after flattening.
pub const MAX_FIELDS: usize = 2_000;
/// Deepest nesting of a JSON document accepted for flattening.
pub const MAX_DEPTH: usize = 32;

/// Where an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The input that received it: `api`, `cli`, `syslog-tcp`, `demo`...
    pub input: String,
    /// The sender: peer address, token name or file path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// An event ready to be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub org_id: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<AssetId>,
    /// When it happened (ECS `@timestamp`).
    pub timestamp: Timestamp,
    /// When Vigil received it.
    pub received_at: Timestamp,
    pub provenance: Provenance,
    /// Normalized fields with ECS dotted names.
    pub fields: BTreeMap<String, Value>,
    /// Source-native fields, as the source named them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub native: BTreeMap<String, Value>,
    /// The bytes the event arrived as.
    #[serde(default, with = "raw_bytes")]
    pub raw: Vec<u8>,
}

impl NewEvent {
    /// A field as text: strings as they are, numbers and booleans printed.
    pub fn field_text(&self, name: &str) -> Option<String> {
        value_text(self.fields.get(name)?)
    }

    /// The values of [`INDEXED_FIELDS`], in order.
    pub fn indexed_values(&self) -> [Option<String>; 12] {
        INDEXED_FIELDS.map(|f| self.field_text(f))
    }

    /// The text free-text search looks at: `message` if present, else the raw bytes.
    pub fn message(&self) -> String {
        match self.fields.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => String::from_utf8_lossy(&self.raw).into_owned(),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    #[serde(flatten)]
    pub event: NewEvent,
}

/// Prints a scalar JSON value as text; objects and arrays have no text form.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An ECS document as parsed from one NDJSON line, before it is attributed to an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsDocument {
    pub timestamp: Option<Timestamp>,
    /// `vigil.org_id`, when the sender named the organization.
    pub org_id: Option<OrgId>,
    /// `vigil.asset_id`, when the sender named the asset.
    pub asset_id: Option<AssetId>,
    pub fields: BTreeMap<String, Value>,
}

/// Parses one line of ECS NDJSON: a JSON object whose nested objects are flattened into dotted
/// names. `@timestamp` must be RFC 3339 when present; `vigil.org_id` and `vigil.asset_id` must
/// be UUIDs when present. Arrays of scalars are kept as arrays.
pub fn parse_ecs_line(line: &[u8]) -> Result<EcsDocument, ValidationError> {
    if line.len() > MAX_EVENT_BYTES {
        return Err(ValidationError::new(
            "line",
            format!("longer than {MAX_EVENT_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| ValidationError::new("line", format!("not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ValidationError::new("line", "must be a JSON object"));
    };
    let mut fields = BTreeMap::new();
    flatten_into(&mut fields, "", map, 0)?;

    let timestamp =
        match fields.remove("@timestamp") {
            None => None,
            Some(Value::String(s)) => Some(parse_timestamp(&s).ok_or_else(|| {
                ValidationError::new("@timestamp", format!("'{s}' is not an RFC 3339 time"))
            })?),
            Some(Value::Number(n)) => {
                // Epoch milliseconds, as many shippers send them.
                let ms = n.as_i64().ok_or_else(|| {
                    ValidationError::new("@timestamp", "a number must be whole epoch milliseconds")
                })?;
                Some(Timestamp::from_millisecond(ms).map_err(|e| {
                    ValidationError::new("@timestamp", format!("out of range: {e}"))
                })?)
            }
            Some(_) => {
                return Err(ValidationError::new(
                    "@timestamp",
                    "must be an RFC 3339 string or epoch milliseconds",
                ));
            }
        };
    let org_id = take_uuid(&mut fields, "vigil.org_id")?.map(OrgId);
    let asset_id = take_uuid(&mut fields, "vigil.asset_id")?.map(AssetId);
    Ok(EcsDocument {
        timestamp,
        org_id,
        asset_id,
        fields,
    })
}

fn take_uuid(
    fields: &mut BTreeMap<String, Value>,
    name: &str,
) -> Result<Option<uuid::Uuid>, ValidationError> {
    match fields.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => uuid::Uuid::parse_str(&s)
            .map(Some)
            .map_err(|_| ValidationError::new(name, format!("'{s}' is not a UUID"))),
        Some(_) => Err(ValidationError::new(name, "must be a UUID string")),
    }
}

/// Parses RFC 3339 / ISO 8601 times with an offset, and naive times taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let dt: jiff::civil::DateTime = s.parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn flatten_into(
    out: &mut BTreeMap<String, Value>,
    prefix: &str,
    map: Map<String, Value>,
    depth: usize,
) -> Result<(), ValidationError> {
    if depth > MAX_DEPTH {
        return Err(ValidationError::new(
            prefix,
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) => flatten_into(out, &key, inner, depth + 1)?,
            other => {
                if out.len() >= MAX_FIELDS {
                    return Err(ValidationError::new(
                        "line",
                        format!("more than {MAX_FIELDS} fields"),
                    ));
                }
                out.insert(key, other);
            }
        }
    }
    Ok(())
}

mod raw_bytes {
    //! Raw bytes travel as text in JSON: valid UTF-8 as it is, anything else lossily.
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(String::deserialize(d)?.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_dotted_fields_flatten_to_the_same_names() {
        let doc = parse_ecs_line(
            br#"{"@timestamp":"2026-11-01T08:00:00Z","source":{"ip":"203.0.113.9","port":4444},
                "event.action":"logon-failed","tags":["a","b"],"vigil":{"org_id":"0194d4a0-0000-7000-8000-000000000001"}}"#,
        )
        .expect("valid line");
        assert_eq!(doc.fields["source.ip"], "203.0.113.9");
        assert_eq!(doc.fields["source.port"], 4444);
        assert_eq!(doc.fields["event.action"], "logon-failed");
        assert_eq!(doc.fields["tags"], serde_json::json!(["a", "b"]));
        assert!(doc.org_id.is_some());
        assert!(!doc.fields.contains_key("vigil.org_id"));
        assert_eq!(
            doc.timestamp.map(|t| t.to_string()),
            Some("2026-11-01T08:00:00Z".into())
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let e = parse_ecs_line(b"{not json").expect_err("must fail");
        assert!(e.message.contains("not valid JSON"), "{e}");
        let e = parse_ecs_line(b"[1,2]").expect_err("must fail");
        assert!(e.message.contains("JSON object"), "{e}");
        let e = parse_ecs_line(br#"{"@timestamp":"yesterday"}"#).expect_err("must fail");
        assert_eq!(e.field, "@timestamp");
        let e = parse_ecs_line(br#"{"vigil.org_id":"nope"}"#).expect_err("must fail");
        assert_eq!(e.field, "vigil.org_id");
        let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        let e = parse_ecs_line(deep.as_bytes()).expect_err("must fail");
        assert!(e.message.contains("nested deeper"), "{e}");
    }

    #[test]
    fn epoch_millis_and_naive_times_are_accepted() {
        let d = parse_ecs_line(br#"{"@timestamp":1762000000000}"#).expect("ms");
        assert_eq!(
            d.timestamp.map(|t| t.as_millisecond()),
            Some(1_762_000_000_000)
        );
        assert!(parse_timestamp("2026-11-01T08:00:00").is_some());
        assert!(parse_timestamp("2026-11-01T08:00:00+08:00").is_some());
    }

    #[test]
    fn indexed_values_follow_the_declared_order() {
        let mut fields = BTreeMap::new();
        fields.insert("destination.port".to_string(), serde_json::json!(502));
        fields.insert("user.name".to_string(), serde_json::json!("root"));
        let e = NewEvent {
            org_id: OrgId::new(),
            asset_id: None,
            timestamp: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            provenance: Provenance {
                input: "test".into(),
                sender: None,
            },
            fields,
            native: BTreeMap::new(),
            raw: b"raw line".to_vec(),
        };
        let v = e.indexed_values();
        assert_eq!(v[6].as_deref(), Some("502"));
        assert_eq!(v[8].as_deref(), Some("root"));
        assert_eq!(v[0], None);
        assert_eq!(e.message(), "raw line");
    }
}
