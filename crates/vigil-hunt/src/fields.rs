//! Reading what a hit reports from an event: time, host, channel, event id and key fields,
//! for the two event shapes hunting sees (EVTX JSON as the `evtx` crate renders it, and flat
//! events whose keys are Sigma field names).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

/// Where an event keeps its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `Event.System.*`, `Event.EventData.*` (or `Event.UserData.<element>.*`).
    Evtx,
    /// Sigma field names at the top level (or dotted paths into nested objects).
    Flat,
}

/// Fields shown with every hit when present, after the fields that matched: what an analyst
/// reads first in Windows events (process, user, logon, service, file, registry, network).
const KEY_FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "ParentImage",
    "ParentCommandLine",
    "User",
    "SubjectUserName",
    "TargetUserName",
    "TargetDomainName",
    "LogonType",
    "IpAddress",
    "WorkstationName",
    "ServiceName",
    "ImagePath",
    "TargetFilename",
    "TargetObject",
    "TargetImage",
    "SourceImage",
    "GrantedAccess",
    "DestinationIp",
    "DestinationPort",
    "QueryName",
    "ShareName",
    "RelativeTargetName",
    "ObjectName",
    "ProcessName",
    "ScriptBlockText",
];

/// At most this many fields per hit, and this many characters per value: hits are read by
/// people and written to terminals.
const MAX_FIELDS: usize = 12;
const MAX_VALUE_CHARS: usize = 400;

fn path<'a>(mut v: &'a Value, segs: &[&str]) -> Option<&'a Value> {
    for s in segs {
        v = v.as_object()?.get(*s)?;
    }
    Some(v)
}

/// The element text of an EVTX value that may carry attributes (`{"#attributes":…,
/// "#text": x}`).
fn text_of(v: &Value) -> &Value {
    match v {
        Value::Object(m) => m.get("#text").unwrap_or(v),
        _ => v,
    }
}

/// A field by its Sigma name.
pub(crate) fn get<'a>(event: &'a Value, shape: Shape, name: &str) -> Option<&'a Value> {
    let v = match shape {
        Shape::Evtx => path(event, &["Event", "EventData", name])
            .or_else(|| {
                path(event, &["Event", "UserData"])?
                    .as_object()?
                    .values()
                    .find_map(|u| u.as_object()?.get(name))
            })
            .or_else(|| path(event, &["Event", "System", name])),
        Shape::Flat => event.as_object().and_then(|m| m.get(name)).or_else(|| {
            let segs: Vec<&str> = name.split('.').collect();
            if segs.len() > 1 {
                path(event, &segs)
            } else {
                None
            }
        }),
    }?;
    Some(text_of(v))
}

pub(crate) fn render(v: &Value) -> Option<String> {
    let s = match v {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| render(text_of(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(m) if m.is_empty() => return None,
        other => other.to_string(),
    };
    if s.chars().count() > MAX_VALUE_CHARS {
        let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        Some(format!("{cut}…"))
    } else {
        Some(s)
    }
}

pub(crate) fn string(event: &Value, shape: Shape, name: &str) -> Option<String> {
    get(event, shape, name).and_then(render)
}

pub(crate) fn host(event: &Value, shape: Shape) -> Option<String> {
    match shape {
        Shape::Evtx => string(event, shape, "Computer"),
        Shape::Flat => ["Computer", "host.name", "hostname", "host", "ComputerName"]
            .iter()
            .find_map(|n| string(event, shape, n)),
    }
}

pub(crate) fn event_id(event: &Value, shape: Shape) -> Option<i64> {
    let v = match shape {
        Shape::Evtx => path(event, &["Event", "System", "EventID"]).map(text_of),
        Shape::Flat => get(event, shape, "EventID"),
    }?;
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn channel(event: &Value, shape: Shape) -> Option<String> {
    match shape {
        Shape::Evtx => path(event, &["Event", "System", "Channel"]).and_then(render),
        Shape::Flat => string(event, shape, "Channel"),
    }
}

/// The matched fields' values, then the key fields present, at most [`MAX_FIELDS`].
pub(crate) fn key_fields(
    event: &Value,
    shape: Shape,
    matched: &[&str],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in matched.iter().copied().chain(KEY_FIELDS.iter().copied()) {
        if out.len() >= MAX_FIELDS {
            break;
        }
        if out.contains_key(name) {
            continue;
        }
        if let Some(v) = string(event, shape, name) {
            out.insert(name.to_owned(), v);
        }
    }
    out
}

/// Parses a time as hunting meets it: RFC 3339 (`2019-03-19T23:01:02.123Z`), a civil time
/// taken as UTC (`2019-03-19 23:01:02.123`, as Sysmon's `UtcTime`), or Unix seconds or
/// milliseconds.
pub fn parse_time(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            s.parse::<Timestamp>().ok().or_else(|| {
                let dt = s.parse::<jiff::civil::DateTime>().ok()?;
                dt.to_zoned(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|z| z.timestamp())
            })
        }
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Past 10^11 seconds (year 5138) a number is taken as milliseconds.
            let ms = if f.abs() >= 1e11 { f } else { f * 1000.0 };
            if !ms.is_finite() || ms.abs() > 9e15 {
                return None;
            }
            Timestamp::from_millisecond(ms as i64).ok()
        }
        Value::Object(m) => m.get("#text").and_then(parse_time),
        _ => None,
    }
}

pub(crate) fn time(event: &Value, shape: Shape) -> Option<Timestamp> {
    match shape {
        Shape::Evtx => path(
            event,
            &[
                "Event",
                "System",
                "TimeCreated",
                "#attributes",
                "SystemTime",
            ],
        )
        .and_then(parse_time),
        Shape::Flat => {
            let m = event.as_object()?;
            for k in [
                "@timestamp",
                "timestamp",
                "time",
                "UtcTime",
                "EventTime",
                "ts",
            ] {
                if let Some(t) = m.get(k).and_then(parse_time) {
                    return Some(t);
                }
            }
            let tc = m.get("TimeCreated")?;
            parse_time(tc).or_else(|| {
                path(tc, &["#attributes", "SystemTime"])
                    .or_else(|| tc.get("SystemTime"))
                    .and_then(parse_time)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evtx_shape_fields() {
        let e = json!({"Event": {"System": {
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
            "Channel": "System", "Computer": "DC01",
            "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:01:02.123456Z"}}},
            "EventData": {"ServiceName": "mimikatz", "ImagePath": "C:\\m.exe"},
            "UserData": {"X": {"Other": 1}}}});
        assert_eq!(event_id(&e, Shape::Evtx), Some(7045));
        assert_eq!(host(&e, Shape::Evtx).as_deref(), Some("DC01"));
        assert_eq!(channel(&e, Shape::Evtx).as_deref(), Some("System"));
        assert_eq!(string(&e, Shape::Evtx, "Other").as_deref(), Some("1"));
        let f = key_fields(&e, Shape::Evtx, &["ImagePath"]);
        assert_eq!(f.get("ServiceName").map(String::as_str), Some("mimikatz"));
        assert_eq!(f.get("ImagePath").map(String::as_str), Some("C:\\m.exe"));
        assert_eq!(
            time(&e, Shape::Evtx).map(|t| t.as_millisecond()),
            Some(1_553_036_462_123)
        );
    }

    #[test]
    fn flat_shape_and_times() {
        let e = json!({"UtcTime": "2019-03-19 23:01:02.123", "host": {"name": "web1"},
            "EventID": "4688", "CommandLine": "x".repeat(500)});
        assert_eq!(host(&e, Shape::Flat).as_deref(), Some("web1"));
        assert_eq!(event_id(&e, Shape::Flat), Some(4688));
        assert_eq!(
            time(&e, Shape::Flat).map(|t| t.as_millisecond()),
            Some(1_553_036_462_123)
        );
        let cl = string(&e, Shape::Flat, "CommandLine").expect("command line");
        assert_eq!(cl.chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(
            parse_time(&json!(1_553_036_462)).map(|t| t.as_second()),
            Some(1_553_036_462)
        );
        assert_eq!(
            parse_time(&json!(1_553_036_462_123u64)).map(|t| t.as_millisecond()),
            Some(1_553_036_462_123)
        );
        assert_eq!(parse_time(&json!("yesterday")), None);
        assert_eq!(parse_time(&json!(f64::MAX)), None);
    }
}
