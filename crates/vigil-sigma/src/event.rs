//! What the evaluator needs from an event: a value per field path, and every string in it
//! (for keyword searches). Implemented for JSON values and maps and for Vigil's
//! [`vigil_model::NewEvent`].

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A field path, resolved once when the rules compile: the name as one key (`process.executable`
/// in a flat map) and split at dots (`Event` → `EventData` → `Image` in nested JSON).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    full: String,
    segments: Vec<String>,
}

impl FieldPath {
    pub fn new(name: &str) -> FieldPath {
        FieldPath {
            full: name.to_owned(),
            segments: if name.contains('.') {
                name.split('.').map(str::to_owned).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The name split at dots; empty when the name has no dot.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

/// A field's value as the evaluator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    /// A JSON array: a field matches when any element matches.
    List(&'a [Json]),
}

impl<'a> Value<'a> {
    /// Converts a JSON value (objects read as null: Sigma does not match whole objects).
    pub fn from_json(v: &'a Json) -> Value<'a> {
        match v {
            Json::Null | Json::Object(_) => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::Str(s),
            Json::Array(a) => Value::List(a),
        }
    }

    /// The value as a number, when it is one or a string that reads as one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) | Value::Null | Value::List(_) => None,
        }
    }

    /// Calls `f` with the value's text form (each element's for lists) until it returns
    /// true. Numbers are printed into a stack buffer, so this never allocates.
    pub fn any_text(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        match *self {
            Value::Null => false,
            Value::Str(s) => f(s.as_bytes()),
            Value::Bool(b) => f(if b { b"true" } else { b"false" }),
            Value::Int(i) => f(NumBuf::default().int(i)),
            Value::UInt(u) => f(NumBuf::default().uint(u)),
            Value::Float(x) => f(NumBuf::default().float(x)),
            Value::List(items) => items
                .iter()
                .any(|item| !matches!(item, Json::Array(_)) && Value::from_json(item).any_text(f)),
        }
    }
}

/// A stack buffer for printing numbers without allocating.
#[derive(Default)]
struct NumBuf {
    buf: [u8; 32],
    len: usize,
}

impl NumBuf {
    fn int(&mut self, i: i64) -> &[u8] {
        if i < 0 {
            self.uint_inner(i.unsigned_abs(), true)
        } else {
            self.uint_inner(i.unsigned_abs(), false)
        }
    }
    fn uint(&mut self, u: u64) -> &[u8] {
        self.uint_inner(u, false)
    }
    fn uint_inner(&mut self, mut u: u64, neg: bool) -> &[u8] {
        let mut pos = self.buf.len();
        loop {
            pos -= 1;
            self.buf[pos] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if neg {
            pos -= 1;
            self.buf[pos] = b'-';
        }
        &self.buf[pos..]
    }
    fn float(&mut self, x: f64) -> &[u8] {
        use std::io::Write as _;
        let mut cursor = std::io::Cursor::new(&mut self.buf[..]);
        if x.fract() == 0.0 && x.abs() < 1e15 {
            let _ = write!(cursor, "{}", x as i64);
        } else {
            let _ = write!(cursor, "{x}");
        }
        self.len = usize::try_from(cursor.position()).unwrap_or(0);
        &self.buf[..self.len]
    }
}

/// An event the rules can be evaluated on.
pub trait Event {
    /// The value at `path`, or `None` when the field is absent.
    fn field(&self, path: &FieldPath) -> Option<Value<'_>>;

    /// Calls `f` with every string value (and the text of every number) in the event until
    /// it returns true; used by keyword searches. Returns whether `f` returned true.
    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool;

    /// The event as a JSON map, when it is one whose [`Event::field`] is the JSON lookup
    /// (nested objects first, then a flat key holding the dots). The rule set then resolves
    /// all its field paths in one walk over the event instead of one lookup per path.
    fn json_map(&self) -> Option<&serde_json::Map<String, Json>> {
        None
    }

    /// The event as a B-tree map of JSON values, when it is one whose [`Event::field`] is
    /// the B-tree lookup (a flat key holding the dots first, then nested objects): resolved in
    /// one walk like [`Event::json_map`].
    fn json_tree(&self) -> Option<&BTreeMap<String, Json>> {
        None
    }
}

/// Follows `segs` down nested objects; a `*` segment stands for any one key (the first
/// that leads to a value).
fn walk<'a>(cur: &'a Json, segs: &[String]) -> Option<&'a Json> {
    let Some((seg, rest)) = segs.split_first() else {
        return Some(cur);
    };
    let Json::Object(m) = cur else {
        return None;
    };
    if seg == "*" {
        return m.values().find_map(|v| walk(v, rest));
    }
    walk(m.get(seg)?, rest)
}

fn lookup_json<'a>(root: &'a serde_json::Map<String, Json>, path: &FieldPath) -> Option<&'a Json> {
    // Nested objects first (EVTX JSON), then a flat key holding the dots (ECS maps).
    if let Some((first, rest)) = path.segments().split_first()
        && let Some(v) = root.get(first).and_then(|v| walk(v, rest))
    {
        return Some(v);
    }
    root.get(path.as_str())
}

fn any_string_json(v: &Json, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    match v {
        Json::Object(m) => m.values().any(|v| any_string_json(v, f)),
        Json::Array(a) => a.iter().any(|v| any_string_json(v, f)),
        Json::Null => false,
        other => Value::from_json(other).any_text(f),
    }
}

impl Event for serde_json::Map<String, Json> {
    fn field(&self, path: &FieldPath) -> Option<Value<'_>> {
        lookup_json(self, path).map(Value::from_json)
    }
    fn json_map(&self) -> Option<&serde_json::Map<String, Json>> {
        Some(self)
    }
    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.values().any(|v| any_string_json(v, f))
    }
}

impl Event for Json {
    fn field(&self, path: &FieldPath) -> Option<Value<'_>> {
        match self {
            Json::Object(m) => m.field(path),
            _ => None,
        }
    }
    fn json_map(&self) -> Option<&serde_json::Map<String, Json>> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }
    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        any_string_json(self, f)
    }
}

impl Event for BTreeMap<String, Json> {
    fn field(&self, path: &FieldPath) -> Option<Value<'_>> {
        if let Some(v) = self.get(path.as_str()) {
            return Some(Value::from_json(v));
        }
        let (first, rest) = path.segments().split_first()?;
        walk(self.get(first)?, rest).map(Value::from_json)
    }
    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.values().any(|v| any_string_json(v, f))
    }
    fn json_tree(&self) -> Option<&BTreeMap<String, Json>> {
        Some(self)
    }
}

/// Vigil's normalized events: the ECS `fields` (dotted names, as flat keys or nested).
impl Event for vigil_model::NewEvent {
    fn field(&self, path: &FieldPath) -> Option<Value<'_>> {
        self.fields.field(path)
    }
    fn any_string(&self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.fields.any_string(f)
    }
    fn json_tree(&self) -> Option<&BTreeMap<String, Json>> {
        Some(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_and_nested_lookup() {
        let v = json!({"process.executable": "a", "Event": {"EventData": {"Image": "b", "N": 5}}});
        assert_eq!(
            v.field(&FieldPath::new("process.executable")),
            Some(Value::Str("a"))
        );
        assert_eq!(
            v.field(&FieldPath::new("Event.EventData.Image")),
            Some(Value::Str("b"))
        );
        assert_eq!(
            v.field(&FieldPath::new("Event.EventData.N")),
            Some(Value::Int(5))
        );
        assert_eq!(v.field(&FieldPath::new("Event.Missing")), None);
        assert_eq!(v.field(&FieldPath::new("Event")), Some(Value::Null));
        assert_eq!(
            v.field(&FieldPath::new("Event.*.Image")),
            Some(Value::Str("b"))
        );
        assert_eq!(v.field(&FieldPath::new("Event.*.Nope")), None);
    }

    #[test]
    fn texts_of_values() {
        let mut seen = Vec::new();
        for v in [
            Value::Int(-42),
            Value::UInt(7),
            Value::Float(2.0),
            Value::Float(2.5),
            Value::Bool(true),
        ] {
            v.any_text(&mut |t| {
                seen.push(String::from_utf8_lossy(t).into_owned());
                false
            });
        }
        assert_eq!(seen, vec!["-42", "7", "2", "2.5", "true"]);
        let arr = json!(["x", 1, ["nested"]]);
        let mut seen = Vec::new();
        Value::from_json(&arr).any_text(&mut |t| {
            seen.push(String::from_utf8_lossy(t).into_owned());
            false
        });
        assert_eq!(seen, vec!["x", "1"]);
    }

    #[test]
    fn keyword_walk_visits_nested_strings() {
        let v = json!({"a": {"b": ["needle here"]}, "c": 3});
        assert!(v.any_string(&mut |t| t == b"needle here"));
        assert!(v.any_string(&mut |t| t == b"3"));
        assert!(!v.any_string(&mut |t| t == b"absent"));
    }
}
