//! The normalized record every parser produces, and its conversion into a [`NewEvent`].

pub use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use vigil_model::{NewEvent, OrgId, Provenance};

/// A field name: static for the fixed ECS names (no allocation on the hot path), owned for
/// names built from the input.
pub type FieldName = Cow<'static, str>;

/// An ordered list of dotted field names and values. Parsers push; a later value for the same
/// name wins when the list is turned into a map. A `Vec` instead of a map keeps the hot path
/// free of tree inserts: most events have a dozen fields and are converted exactly once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(FieldName, Value)>);

impl Fields {
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }

    /// Sets `name` (a later value wins over an earlier one).
    pub fn set(&mut self, name: impl Into<FieldName>, value: impl Into<Value>) {
        self.0.push((name.into(), value.into()));
    }

    /// Sets `name` to a string, unless `value` is empty.
    pub fn set_str(&mut self, name: impl Into<FieldName>, value: &str) {
        if !value.is_empty() {
            self.0.push((name.into(), Value::String(value.to_owned())));
        }
    }

    /// Sets `name` only when it has no value yet.
    pub fn set_default(&mut self, name: impl Into<FieldName>, value: impl Into<Value>) {
        let name = name.into();
        if self.get(&name).is_none() {
            self.0.push((name, value.into()));
        }
    }

    /// The current value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The current value of `name` when it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Removes every value of `name`, returning the current one.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let mut out = None;
        self.0.retain_mut(|(k, v)| {
            if k == name {
                out = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        out
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `i`th name and value set, in order.
    pub(crate) fn entry(&self, i: usize) -> Option<(&FieldName, &Value)> {
        self.0.get(i).map(|(k, v)| (k, v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The fields as a map, later values winning.
    pub fn into_map(self) -> BTreeMap<String, Value> {
        self.0
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect()
    }

    /// The fields as a JSON object, later values winning.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.0 {
            m.insert(k.to_string(), v.clone());
        }
        Value::Object(m)
    }
}

/// How much of the event time was read from the input and how much was inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeQuality {
    /// The input named the instant: date, time and offset (or it is an epoch value).
    Exact,
    /// Date and time were given but no offset: the source's configured zone was assumed.
    InferredZone,
    /// No year (RFC 3164): year inferred from the receive time, zone from the source config.
    InferredYear,
    /// No usable time at all: the receive time stands in.
    ReceiveTime,
}

impl TimeQuality {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeQuality::Exact => "exact",
            TimeQuality::InferredZone => "inferred_zone",
            TimeQuality::InferredYear => "inferred_year",
            TimeQuality::ReceiveTime => "receive_time",
        }
    }
}

/// The Sigma log source of an event, so that rules can be pre-selected by it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<FieldName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<FieldName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<FieldName>,
}

impl LogSource {
    pub fn new(
        product: Option<&'static str>,
        category: Option<&'static str>,
        service: Option<&'static str>,
    ) -> Self {
        LogSource {
            product: product.map(Cow::Borrowed),
            category: category.map(Cow::Borrowed),
            service: service.map(Cow::Borrowed),
        }
    }
}

/// Which parser produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Rfc5424,
    Rfc3164,
    /// A syslog line whose header could not be read: PRI (if any) and the text are kept.
    SyslogUnparsed,
    Cef,
    Leef,
    SuricataEve,
    ZeekTsv,
    ZeekJson,
    Auditd,
    AccessLog,
    Snare,
    Json,
    /// A Windows event log record (EVTX).
    Evtx,
    /// A line in no known format, kept as text.
    Plain,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rfc5424 => "rfc5424",
            Format::Rfc3164 => "rfc3164",
            Format::SyslogUnparsed => "syslog_unparsed",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::SuricataEve => "suricata_eve",
            Format::ZeekTsv => "zeek_tsv",
            Format::ZeekJson => "zeek_json",
            Format::Auditd => "auditd",
            Format::AccessLog => "access_log",
            Format::Snare => "snare",
            Format::Json => "json",
            Format::Evtx => "evtx",
            Format::Plain => "plain",
        }
    }
}

/// One normalized event, before it is attributed to an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub format: Format,
    /// The event time in UTC; `None` when the input had none (the receive time is used).
    pub timestamp: Option<Timestamp>,
    /// The time as written in the input.
    pub time_original: Option<String>,
    pub time_quality: TimeQuality,
    /// ECS fields with dotted names.
    pub fields: Fields,
    /// Source-native fields under their namespace (`suricata.eve.*`, `zeek.conn.*`, ...).
    pub native: Fields,
    pub logsource: LogSource,
    /// The bytes the event arrived as (after framing).
    pub raw: Vec<u8>,
    /// What the parser had to tolerate (a missing PRI, nine fraction digits...).
    pub notes: Vec<Cow<'static, str>>,
}

impl Parsed {
    pub fn new(format: Format, raw: &[u8]) -> Self {
        Self::with_field_capacity(format, raw, 16)
    }

    /// [`Parsed::new`] with room for `n` ECS fields.
    pub(crate) fn with_field_capacity(format: Format, raw: &[u8], n: usize) -> Self {
        Parsed {
            format,
            timestamp: None,
            time_original: None,
            time_quality: TimeQuality::ReceiveTime,
            fields: Fields::with_capacity(n),
            native: Fields::new(),
            logsource: LogSource::default(),
            raw: raw.to_vec(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn set_time(&mut self, t: Timestamp, quality: TimeQuality, original: &str) {
        self.timestamp = Some(t);
        self.time_quality = quality;
        self.time_original = Some(original.to_owned());
    }

    pub(crate) fn note(&mut self, n: impl Into<Cow<'static, str>>) {
        self.notes.push(n.into());
    }

    /// A JSON view of everything but the raw bytes: fields, native fields, time, log source.
    /// Golden tests compare it; the dead-letter UI can show it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "format": self.format.as_str(),
            "timestamp": self.timestamp.map(|t| t.to_string()),
            "time_original": self.time_original,
            "time_quality": self.time_quality.as_str(),
            "fields": self.fields.to_json(),
            "native": self.native.to_json(),
            "logsource": self.logsource,
            "notes": self.notes,
        })
    }

    /// The event as Vigil stores it. The organization and provenance come from the channel the
    /// bytes arrived on, never from the payload. Time bookkeeping goes into
    /// `event.original_time`, `event.timestamp_quality`, `event.ingested`; the Sigma log source
    /// into `sigma.logsource.{product,category,service}`.
    pub fn into_event(
        self,
        org_id: OrgId,
        provenance: Provenance,
        received_at: Timestamp,
    ) -> NewEvent {
        let timestamp = self.timestamp.unwrap_or(received_at);
        let mut fields = self.fields.into_map();
        if let Some(o) = self.time_original {
            fields.insert("event.original_time".into(), Value::String(o));
        }
        fields.insert(
            "event.timestamp_quality".into(),
            Value::String(self.time_quality.as_str().into()),
        );
        fields.insert(
            "event.ingested".into(),
            Value::String(received_at.to_string()),
        );
        let ls = self.logsource;
        for (name, v) in [
            ("sigma.logsource.product", ls.product),
            ("sigma.logsource.category", ls.category),
            ("sigma.logsource.service", ls.service),
        ] {
            if let Some(v) = v {
                fields.insert(name.into(), Value::String(v.into_owned()));
            }
        }
        let mut native = self.native.into_map();
        if !self.notes.is_empty() {
            native.insert(
                "vigil.parse_notes".into(),
                Value::Array(
                    self.notes
                        .into_iter()
                        .map(|n| Value::String(n.into_owned()))
                        .collect(),
                ),
            );
        }
        NewEvent {
            org_id,
            asset_id: None,
            timestamp,
            received_at,
            provenance,
            fields,
            native,
            raw: self.raw,
        }
    }
}

/// Per-source settings and the receive time the parsers need to infer what inputs leave out.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// When the bytes were received: the reference for RFC 3164 year inference and the
    /// stand-in for missing times.
    pub received_at: Timestamp,
    /// The zone of the source, for local times without an offset (RFC 3164, CEF `rt` text,
    /// naive EVE times). Defaults to UTC; should be the organization's zone.
    pub tz: TimeZone,
    /// The Zeek log path (`conn`, `dns`...) when the caller knows it (from the file name) and
    /// the record does not carry `_path`.
    pub zeek_path: Option<String>,
    /// The web server product for access logs (`apache`, `nginx`), when configured.
    pub web_product: Option<String>,
}

impl ParseContext {
    pub fn new(received_at: Timestamp) -> Self {
        ParseContext {
            received_at,
            tz: TimeZone::UTC,
            zeek_path: None,
            web_product: None,
        }
    }

    pub fn with_tz(mut self, tz: TimeZone) -> Self {
        self.tz = tz;
        self
    }
}
