//! JSON helpers (flattening with limits, error offsets) and the generic JSON parser.

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{FieldName, Fields, Format, LogSource, ParseContext, Parsed, TimeQuality};
use crate::{MAX_DEPTH, MAX_FIELDS, check_line};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A serde_json error as a [`ParseError`] with the byte offset of a single-line input.
pub(crate) fn json_error(e: &serde_json::Error, what: &str) -> ParseError {
    let mut err = ParseError::new(ErrorKind::Json, format!("{what} is not valid JSON: {e}"));
    if e.line() == 1 && e.column() > 0 {
        err.offset = Some(e.column() - 1);
    }
    err
}

/// Parses one JSON object.
pub(crate) fn parse_object(line: &[u8], what: &str) -> Result<Map<String, Value>, ParseError> {
    check_line(line)?;
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ParseError::at(
            ErrorKind::Json,
            0,
            format!("{what} must be a JSON object"),
        )),
        Err(e) => Err(json_error(&e, what)),
    }
}

/// Flattens `map` into `out` with dotted names under `prefix` (which, if not empty, ends with
/// a dot). Keys that contain dots (Zeek's `id.orig_h`) stay as written. Arrays are kept as
/// arrays. Fails past [`MAX_DEPTH`] levels or [`MAX_FIELDS`] fields.
pub(crate) fn flatten_into(
    out: &mut Fields,
    prefix: &mut String,
    map: Map<String, Value>,
    depth: usize,
) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::new(
            ErrorKind::TooDeep,
            format!("'{prefix}' is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    for (k, v) in map {
        let len = prefix.len();
        prefix.push_str(&k);
        match v {
            Value::Object(inner) => {
                prefix.push('.');
                flatten_into(out, prefix, inner, depth + 1)?;
            }
            other => {
                if out.len() >= MAX_FIELDS {
                    return Err(ParseError::new(
                        ErrorKind::TooManyFields,
                        format!("more than {MAX_FIELDS} fields"),
                    ));
                }
                check_depth(&other, depth + 1)?;
                out.set(FieldName::Owned(prefix.clone()), other);
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Arrays are kept whole; their nesting still counts against the limit.
fn check_depth(v: &Value, depth: usize) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::new(
            ErrorKind::TooDeep,
            format!("a value is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_depth(x, depth + 1)),
        Value::Object(m) => m.values().try_for_each(|x| check_depth(x, depth + 1)),
        _ => Ok(()),
    }
}

/// Generic JSON: the object is flattened into ECS dotted names, as
/// `vigil_model::event::parse_ecs_line` does; `@timestamp` (RFC 3339 or epoch milliseconds)
/// becomes the event time. `vigil.*` keys are dropped: the organization comes from the
/// channel, never from the payload. The Sigma log source comes from `event.dataset` /
/// `event.module` when they name one we know.
pub fn parse_json(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let map = parse_object(line, "line")?;
    json_from_map(map, line, ctx)
}

pub(crate) fn json_from_map(
    map: Map<String, Value>,
    raw: &[u8],
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let mut p = Parsed::new(Format::Json, raw);
    let mut prefix = String::new();
    flatten_into(&mut p.fields, &mut prefix, map, 0)?;
    p.fields.remove("vigil.org_id");
    p.fields.remove("vigil.asset_id");
    match p.fields.remove("@timestamp") {
        Some(Value::String(s)) => match crate::time::parse_iso(s.as_bytes())
            .and_then(|iso| crate::time::resolve_iso(&iso, &ctx.tz))
        {
            Some((t, q)) => p.set_time(t, q, &s),
            None => {
                return Err(ParseError::new(
                    ErrorKind::Timestamp,
                    format!("@timestamp '{s}' is not an RFC 3339 time"),
                ));
            }
        },
        Some(Value::Number(n)) => {
            let t = n
                .as_i64()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .ok_or_else(|| {
                    ParseError::new(
                        ErrorKind::Timestamp,
                        "@timestamp number must be epoch milliseconds",
                    )
                })?;
            p.set_time(t, TimeQuality::Exact, &n.to_string());
        }
        Some(_) => {
            return Err(ParseError::new(
                ErrorKind::Timestamp,
                "@timestamp must be an RFC 3339 string or epoch milliseconds",
            ));
        }
        None => {}
    }
    let dataset = p
        .fields
        .get_str("event.dataset")
        .or_else(|| p.fields.get_str("event.module"))
        .unwrap_or("");
    let family = dataset.split('.').next().unwrap_or("");
    p.logsource = match family {
        "" => LogSource::new(Some("unknown"), None, None),
        "zeek" | "suricata" | "auditd" | "apache" | "nginx" | "windows" | "linux" => LogSource {
            product: Some(Cow::Owned(family.to_owned())),
            category: None,
            service: dataset
                .split_once('.')
                .map(|(_, s)| Cow::Owned(s.to_owned())),
        },
        other => LogSource {
            product: Some(Cow::Owned(other.to_owned())),
            category: None,
            service: None,
        },
    };
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-01T09:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn flattens_like_the_model_and_drops_org_claims() {
        let p = parse_json(
            br#"{"@timestamp":"2026-11-01T08:00:00Z","source":{"ip":"203.0.113.9","port":4444},"event.action":"x","tags":["a"],"vigil":{"org_id":"0194d4a0-0000-7000-8000-000000000001"},"event":{"dataset":"zeek.conn"}}"#,
            &ctx(),
        )
        .expect("parses");
        assert_eq!(p.fields.get_str("source.ip"), Some("203.0.113.9"));
        assert_eq!(p.fields.get("source.port"), Some(&Value::from(4444)));
        assert_eq!(p.fields.get("vigil.org_id"), None);
        assert_eq!(p.time_quality, TimeQuality::Exact);
        assert_eq!(p.logsource.product.as_deref(), Some("zeek"));
        assert_eq!(p.logsource.service.as_deref(), Some("conn"));
    }

    #[test]
    fn limits_and_errors() {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        assert_eq!(
            parse_json(deep.as_bytes(), &ctx()).expect_err("deep").kind,
            ErrorKind::TooDeep
        );
        let deep_array = format!("{{\"a\":{}1{}}}", "[".repeat(60), "]".repeat(60));
        assert_eq!(
            parse_json(deep_array.as_bytes(), &ctx())
                .expect_err("deep")
                .kind,
            ErrorKind::TooDeep
        );
        let e = parse_json(br#"{"a":1,}"#, &ctx()).expect_err("bad");
        assert_eq!((e.kind, e.offset), (ErrorKind::Json, Some(7)));
        let e = parse_json(b"[1]", &ctx()).expect_err("array");
        assert!(e.message.contains("object"));
        let many: String = (0..2100)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let e = parse_json(format!("{{{many}}}").as_bytes(), &ctx()).expect_err("many");
        assert_eq!(e.kind, ErrorKind::TooManyFields);
        let e = parse_json(br#"{"@timestamp":"soon"}"#, &ctx()).expect_err("ts");
        assert_eq!(e.kind, ErrorKind::Timestamp);
    }
}
