//! Zeek logs, TSV (header-driven) and JSON.
//!
//! TSV: `#separator` (written with `\x` escapes), `#set_separator`, `#empty_field`,
//! `#unset_field`, `#path`, `#fields`, `#types` are read, never assumed; a field equal to the
//! unset marker is left out, one equal to the empty marker is an empty string or container;
//! `\xHH` and `\\` are unescaped after splitting (so an escaped separator is data); sets and
//! vectors split on the set separator. Values are typed by `#types` (`count` stays an exact
//! u64). A `ts` that is not a number (btest's `XXXXXXXXXX.XXXXXX`) is kept as text and the
//! receive time stands in.
//!
//! JSON: keys keep their dots (`id.orig_h` is a name, not a path); `ts` is epoch seconds or
//! ISO 8601; `_path` names the log when present.

use crate::error::{ErrorKind, ParseError};
use crate::json::{flatten_into, parse_object};
use crate::parsed::{FieldName, Fields, Format, LogSource, ParseContext, Parsed, TimeQuality};
use crate::time::{parse_epoch, parse_iso, resolve_iso};
use crate::{MAX_FIELDS, Reject, check_line, lossy};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
enum ZeekType {
    Time,
    Interval,
    Double,
    Count,
    Int,
    Port,
    Addr,
    Bool,
    Other,
    Container(Box<ZeekType>),
}

fn parse_type(t: &str) -> ZeekType {
    if let Some(inner) = t
        .strip_prefix("set[")
        .or_else(|| t.strip_prefix("vector["))
        .and_then(|r| r.strip_suffix(']'))
    {
        return ZeekType::Container(Box::new(parse_type(inner)));
    }
    match t {
        "time" => ZeekType::Time,
        "interval" => ZeekType::Interval,
        "double" => ZeekType::Double,
        "count" | "counter" => ZeekType::Count,
        "int" => ZeekType::Int,
        "port" => ZeekType::Port,
        "addr" => ZeekType::Addr,
        "bool" => ZeekType::Bool,
        _ => ZeekType::Other,
    }
}

/// Decodes `\xHH` and `\\`; anything else after a backslash is kept as written.
fn unescape(b: &[u8]) -> Vec<u8> {
    if memchr::memchr(b'\\', b).is_none() {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'x')
                && let Some(h) = b.get(i + 2..i + 4)
                && let Ok(s) = std::str::from_utf8(h)
                && let Ok(v) = u8::from_str_radix(s, 16)
            {
                out.push(v);
                i += 4;
                continue;
            }
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn split<'a>(b: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    if sep.is_empty() {
        return vec![b];
    }
    let mut out = Vec::new();
    let mut start = 0;
    if sep.len() == 1 {
        for i in memchr::memchr_iter(sep[0], b) {
            out.push(&b[start..i]);
            start = i + 1;
        }
    } else {
        for i in memchr::memmem::find_iter(b, sep) {
            if i < start {
                continue;
            }
            out.push(&b[start..i]);
            start = i + sep.len();
        }
    }
    out.push(&b[start..]);
    out
}

fn scalar(b: &[u8], ty: &ZeekType) -> Value {
    let raw = unescape(b);
    let s = match String::from_utf8(raw) {
        Ok(s) => s,
        Err(e) => return Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    };
    match ty {
        ZeekType::Count | ZeekType::Port => s
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(s)),
        ZeekType::Int => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(s)),
        ZeekType::Time | ZeekType::Interval | ZeekType::Double => s
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        ZeekType::Bool => match s.as_str() {
            "T" => Value::Bool(true),
            "F" => Value::Bool(false),
            _ => Value::String(s),
        },
        ZeekType::Addr => Value::String(crate::eve::canonical_ip(&s).into_owned()),
        _ => Value::String(s),
    }
}

/// A TSV reader: feed it the lines of one log file in order; header lines configure it.
#[derive(Debug, Clone)]
pub struct ZeekTsvReader {
    sep: Vec<u8>,
    set_sep: Vec<u8>,
    empty: Vec<u8>,
    unset: Vec<u8>,
    path: Option<String>,
    fields: Vec<String>,
    types: Vec<ZeekType>,
}

impl Default for ZeekTsvReader {
    fn default() -> Self {
        ZeekTsvReader {
            sep: b"\t".to_vec(),
            set_sep: b",".to_vec(),
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            path: None,
            fields: Vec::new(),
            types: Vec::new(),
        }
    }
}

impl ZeekTsvReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `#path` of the log, until the header names one.
    pub fn with_path(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// Reads one line: a header line updates the reader and yields `None`; a data line yields
    /// its event.
    pub fn parse_line(
        &mut self,
        line: &[u8],
        ctx: &ParseContext,
    ) -> Result<Option<Parsed>, ParseError> {
        check_line(line)?;
        let line = crate::syslog::trim_eol(line);
        if line.first() == Some(&b'#') {
            self.directive(line)?;
            return Ok(None);
        }
        if self.fields.is_empty() {
            // `zeek-cut -m` prints the column names as a plain first line instead of the
            // header: a line of field names naming `ts`, `uid` or `id.orig_h` is taken as one
            // (values then stay untyped).
            let names = split(line, &self.sep);
            let is_name = |n: &&[u8]| {
                !n.is_empty()
                    && (n[0].is_ascii_alphabetic() || n[0] == b'_')
                    && n.iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
            };
            if names.iter().all(is_name)
                && names
                    .iter()
                    .any(|n| matches!(*n, b"ts" | b"uid" | b"id.orig_h" | b"fuid"))
            {
                self.fields = names.into_iter().map(|n| lossy(n).into_owned()).collect();
                self.types.clear();
                return Ok(None);
            }
            return Err(ParseError::at(
                ErrorKind::Header,
                0,
                "data line before a #fields header",
            ));
        }
        let values = split(line, &self.sep);
        if values.len() != self.fields.len() {
            return Err(ParseError::new(
                ErrorKind::FieldCount,
                format!(
                    "{} fields where #fields names {}",
                    values.len(),
                    self.fields.len()
                ),
            ));
        }
        let path = self
            .path
            .clone()
            .or_else(|| ctx.zeek_path.clone())
            .unwrap_or_else(|| "unknown".into());
        let mut p = Parsed::new(Format::ZeekTsv, line);
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(values.len());
        for (i, raw) in values.into_iter().enumerate() {
            if raw == self.unset.as_slice() {
                continue;
            }
            let ty = self.types.get(i).unwrap_or(&ZeekType::Other);
            let name = &self.fields[i];
            let v = if let ZeekType::Container(inner) = ty {
                if raw == self.empty.as_slice() {
                    Value::Array(Vec::new())
                } else {
                    Value::Array(
                        split(raw, &self.set_sep)
                            .into_iter()
                            .map(|e| {
                                if e == self.unset.as_slice() {
                                    Value::Null
                                } else {
                                    scalar(e, inner)
                                }
                            })
                            .collect(),
                    )
                }
            } else if raw == self.empty.as_slice() {
                Value::String(String::new())
            } else {
                if name == "ts" {
                    match parse_epoch(&lossy(raw)) {
                        Some(t) => p.set_time(t, TimeQuality::Exact, &lossy(raw)),
                        None => p.note(format!(
                            "ts '{}' is not a time: receive time used",
                            lossy(raw)
                        )),
                    }
                }
                scalar(raw, ty)
            };
            entries.push((name.clone(), v));
        }
        finish(&mut p, &path, entries);
        Ok(Some(p))
    }

    fn directive(&mut self, line: &[u8]) -> Result<(), ParseError> {
        if let Some(v) = line.strip_prefix(b"#separator ") {
            let sep = unescape(v);
            if sep.is_empty() {
                return Err(ParseError::at(ErrorKind::Header, 11, "#separator is empty"));
            }
            self.sep = sep;
            return Ok(());
        }
        let body = &line[1..];
        let Some(pos) = memchr::memmem::find(body, &self.sep) else {
            return Ok(()); // A comment such as a btest banner, or #open/#close without value.
        };
        let name = &body[..pos];
        let rest = &body[pos + self.sep.len()..];
        match name {
            b"set_separator" => self.set_sep = unescape(rest),
            b"empty_field" => self.empty = unescape(rest),
            b"unset_field" => self.unset = unescape(rest),
            b"path" => self.path = Some(lossy(&unescape(rest)).into_owned()),
            b"fields" => {
                let names: Vec<String> = split(rest, &self.sep)
                    .into_iter()
                    .map(|f| lossy(f).into_owned())
                    .collect();
                if names.len() > MAX_FIELDS {
                    return Err(ParseError::new(
                        ErrorKind::TooManyFields,
                        format!("#fields names more than {MAX_FIELDS}"),
                    ));
                }
                self.fields = names;
                self.types.clear();
            }
            b"types" => {
                self.types = split(rest, &self.sep)
                    .into_iter()
                    .map(|t| parse_type(&lossy(t)))
                    .collect();
            }
            _ => {}
        }
        Ok(())
    }
}

/// Parses a whole Zeek TSV file (header and data).
pub fn parse_zeek_tsv_document(doc: &[u8], ctx: &ParseContext) -> (Vec<Parsed>, Vec<Reject>) {
    let mut reader = ZeekTsvReader::new();
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    for (n, offset, line) in crate::lines(doc) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match reader.parse_line(line, ctx) {
            Ok(Some(p)) => events.push(p),
            Ok(None) => {}
            Err(e) => rejects.push(Reject::new(n, offset, e, line)),
        }
    }
    (events, rejects)
}

/// Parses one Zeek JSON record.
pub fn parse_zeek_json(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let map = parse_object(line, "Zeek JSON record")?;
    zeek_json_from_map(map, line, ctx)
}

pub(crate) fn zeek_json_from_map(
    mut map: Map<String, Value>,
    raw: &[u8],
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let mut p = Parsed::new(Format::ZeekJson, raw);
    let path = match map.remove("_path") {
        Some(Value::String(s)) => s,
        _ => ctx.zeek_path.clone().unwrap_or_else(|| "unknown".into()),
    };
    match map.get("ts") {
        Some(Value::Number(n)) => match parse_epoch(&n.to_string()) {
            Some(t) => p.set_time(t, TimeQuality::Exact, &n.to_string()),
            None => p.note("ts is out of range"),
        },
        Some(Value::String(s)) => {
            match parse_iso(s.as_bytes()).and_then(|i| resolve_iso(&i, &ctx.tz)) {
                Some((t, q)) => p.set_time(t, q, s),
                None => p.note(format!("ts '{s}' is not a time: receive time used")),
            }
        }
        _ => p.note("no ts: receive time used"),
    }
    if let Some(w) = map.get("_write_ts").and_then(Value::as_str) {
        p.fields.set("event.created", w);
    }
    let mut flat = Fields::new();
    flatten_into(&mut flat, &mut String::new(), map, 0)?;
    let entries = flat.into_map().into_iter().collect();
    finish(&mut p, &path, entries);
    Ok(p)
}

fn ecs_for(path: &str, name: &str) -> Option<&'static str> {
    Some(match (path, name) {
        (_, "uid") => "event.id",
        (_, "id.orig_h") => "source.ip",
        (_, "id.orig_p") => "source.port",
        (_, "id.resp_h") => "destination.ip",
        (_, "id.resp_p") => "destination.port",
        (_, "proto") => "network.transport",
        (_, "service") => "network.protocol",
        ("conn", "orig_bytes") => "source.bytes",
        ("conn", "resp_bytes") => "destination.bytes",
        ("conn", "orig_pkts") => "source.packets",
        ("conn", "resp_pkts") => "destination.packets",
        ("dns", "query") => "dns.question.name",
        ("dns", "qtype_name") => "dns.question.type",
        ("dns", "rcode_name") => "dns.response_code",
        ("dns", "trans_id") => "dns.id",
        ("http", "host") => "url.domain",
        ("http", "uri") => "url.original",
        ("http", "method") => "http.request.method",
        ("http", "status_code") => "http.response.status_code",
        ("http", "user_agent") => "user_agent.original",
        ("http", "referrer") => "http.request.referrer",
        ("http", "version") => "http.version",
        ("http", "request_body_len") => "http.request.body.bytes",
        ("http", "response_body_len") => "http.response.body.bytes",
        ("http" | "ftp" | "socks" | "radius" | "mysql" | "rdp", "username" | "user") => "user.name",
        ("ssl", "server_name") => "tls.client.server_name",
        ("ssl", "version") => "tls.version",
        ("ssl", "cipher") => "tls.cipher",
        ("ssl", "subject") => "tls.server.subject",
        ("ssl", "issuer") => "tls.server.issuer",
        ("ssl", "ja3") => "tls.client.ja3",
        ("ssl", "ja3s") => "tls.server.ja3s",
        ("ssl", "established") => "tls.established",
        ("files", "md5") => "file.hash.md5",
        ("files", "sha1") => "file.hash.sha1",
        ("files", "sha256") => "file.hash.sha256",
        ("files", "filename") => "file.name",
        ("files", "mime_type") => "file.mime_type",
        ("files", "total_bytes") => "file.size",
        ("files", "fuid") => "file.uid",
        ("notice", "note") => "rule.name",
        ("notice" | "syslog" | "weird" | "reporter", "msg" | "message") => "message",
        ("weird", "name") => "rule.name",
        ("ftp", "command") => "event.action",
        ("kerberos", "client") => "user.name",
        ("kerberos", "request_type") => "event.action",
        ("smtp", "mailfrom") => "email.from.address",
        ("smtp", "subject") => "email.subject",
        ("ssh", "client") => "source.user_agent",
        ("x509", "certificate.subject") => "x509.subject.distinguished_name",
        ("x509", "certificate.issuer") => "x509.issuer.distinguished_name",
        ("x509", "certificate.serial") => "x509.serial_number",
        _ => return None,
    })
}

fn finish(p: &mut Parsed, path: &str, entries: Vec<(String, Value)>) {
    p.fields.set("event.module", "zeek");
    p.fields.set(
        FieldName::Owned("event.dataset".into()),
        format!("zeek.{path}"),
    );
    p.fields.set(
        "event.kind",
        if path == "notice" { "alert" } else { "event" },
    );
    for (name, v) in entries {
        if let Some(ecs) = ecs_for(path, &name) {
            match (ecs, &v) {
                ("network.transport", Value::String(s)) => {
                    p.fields.set(ecs, s.to_ascii_lowercase())
                }
                (_, Value::Null) => {}
                _ => p.fields.set(ecs, v.clone()),
            }
        }
        match (path, name.as_str()) {
            ("ssh", "auth_success") => match v {
                Value::Bool(true) => p.fields.set("event.outcome", "success"),
                Value::Bool(false) => p.fields.set("event.outcome", "failure"),
                _ => {}
            },
            ("conn", "duration") => {
                if let Some(s) = v.as_f64() {
                    p.fields.set("event.duration", (s * 1e9) as i64);
                }
            }
            ("dns", "answers") => {
                if let Some(a) = v.as_array() {
                    let ips: Vec<Value> = a
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
                        .map(|s| Value::String(s.to_owned()))
                        .collect();
                    if !ips.is_empty() {
                        p.fields.set("dns.resolved_ip", ips);
                    }
                }
            }
            _ => {}
        }
        p.native
            .set(FieldName::Owned(format!("zeek.{path}.{name}")), v);
    }
    p.logsource = LogSource {
        product: Some(Cow::Borrowed("zeek")),
        category: (path == "dns").then_some(Cow::Borrowed("dns")),
        service: Some(Cow::Owned(path.to_owned())),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-01T09:00:00Z".parse().expect("ts"))
    }

    const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n#open\t2019-01-01-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\turi\ttags\tresp_mime_types\tstatus_code\tuser_agent\n#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tset[enum]\tvector[string]\tcount\tstring\n";

    #[test]
    fn header_driven_tsv_with_unset_empty_and_escapes() {
        let doc = format!(
            "{HEADER}1300475168.783842\tCRJuHdVW0XPVINV8a\t141.142.220.118\t48649\t208.80.152.118\t80\tGET\t/a\\x09b\\x2dc\t(empty)\ttext/html,\\x2c\t200\t-\n1300475168.9\tC2\t::ffff:1.2.3.4\t1\t2001:0db8:0000:0000:0000:0000:0000:0001\t2\t\\x2d\t-\t-\t-\t-\t(empty)\n#close\t2019-01-01-00-00-01\n"
        );
        let (ev, rej) = parse_zeek_tsv_document(doc.as_bytes(), &ctx());
        assert!(rej.is_empty(), "{rej:?}");
        assert_eq!(ev.len(), 2);
        let p = &ev[0];
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2011-03-18T19:06:08.783842Z")
        );
        assert_eq!(p.native.get_str("zeek.http.uri"), Some("/a\tb-c"));
        assert_eq!(p.native.get("zeek.http.tags"), Some(&serde_json::json!([])));
        assert_eq!(
            p.native.get("zeek.http.resp_mime_types"),
            Some(&serde_json::json!(["text/html", ","]))
        );
        assert_eq!(
            p.native.get("zeek.http.status_code"),
            Some(&Value::from(200))
        );
        assert_eq!(
            p.native.get("zeek.http.user_agent"),
            None,
            "unset is left out"
        );
        assert_eq!(p.fields.get_str("source.ip"), Some("141.142.220.118"));
        assert_eq!(p.fields.get("destination.port"), Some(&Value::from(80)));
        assert_eq!(p.logsource.service.as_deref(), Some("http"));
        let q = &ev[1];
        assert_eq!(
            q.native.get_str("zeek.http.method"),
            Some("-"),
            "\\x2d is a literal dash"
        );
        assert_eq!(
            q.native.get_str("zeek.http.user_agent"),
            Some(""),
            "(empty) is an empty string"
        );
        assert_eq!(q.fields.get_str("destination.ip"), Some("2001:db8::1"));
    }

    #[test]
    fn custom_separator_and_canonicalized_time() {
        let doc = "### BTest baseline data\n#separator ||\n#set_separator||,\n#empty_field||(empty)\n#unset_field||-\n#path||ssh\n#fields||t||status\n#types||time||string\nXXXXXXXXXX.XXXXXX||fa\\x7c\\x7cure\n";
        let (ev, rej) = parse_zeek_tsv_document(doc.as_bytes(), &ctx());
        assert!(rej.is_empty(), "{rej:?}");
        assert_eq!(ev[0].native.get_str("zeek.ssh.status"), Some("fa||ure"));
        assert_eq!(
            ev[0].native.get_str("zeek.ssh.t"),
            Some("XXXXXXXXXX.XXXXXX")
        );
    }

    #[test]
    fn tsv_errors() {
        let mut r = ZeekTsvReader::new();
        let e = r.parse_line(b"1\t2", &ctx()).expect_err("no header");
        assert_eq!(e.kind, ErrorKind::Header);
        r.parse_line(b"#fields\ta\tb", &ctx()).expect("header");
        let e = r.parse_line(b"1\t2\t3", &ctx()).expect_err("count");
        assert_eq!(e.kind, ErrorKind::FieldCount);
        assert!(e.message.contains("3 fields"), "{e}");
        // A data line that starts with an escaped '#' is data.
        let p = r
            .parse_line(b"\\x23x\t2", &ctx())
            .expect("ok")
            .expect("data");
        assert_eq!(p.native.get_str("zeek.unknown.a"), Some("#x"));
    }

    #[test]
    fn json_keeps_dotted_keys_and_reads_both_time_forms() {
        let p = parse_zeek_json(br#"{"_path":"dns","ts":1300475167.096535,"uid":"C1","id.orig_h":"10.0.0.1","query":"example.com","answers":["1.2.3.4","x.example"],"_write_ts":"2011-03-18T19:06:07.096535Z"}"#, &ctx()).expect("json");
        assert_eq!(p.fields.get_str("source.ip"), Some("10.0.0.1"));
        assert_eq!(p.native.get_str("zeek.dns.id.orig_h"), Some("10.0.0.1"));
        assert_eq!(p.fields.get_str("dns.question.name"), Some("example.com"));
        assert_eq!(
            p.fields.get("dns.resolved_ip"),
            Some(&serde_json::json!(["1.2.3.4"]))
        );
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2011-03-18T19:06:07.096535Z")
        );
        assert_eq!(p.logsource.category.as_deref(), Some("dns"));
        let p = parse_zeek_json(
            br#"{"t":"2008-07-09T16:13:30.005432Z","ts":"2008-07-09T16:13:30.005432Z"}"#,
            &ctx(),
        )
        .expect("iso");
        assert_eq!(p.time_quality, TimeQuality::Exact);
        assert_eq!(
            parse_zeek_json(br#"{"t":XXXXXXXXXX.XXXXXX}"#, &ctx())
                .expect_err("btest")
                .kind,
            ErrorKind::Json
        );
    }
}
