//! Linux auditd.
//!
//! A record is `[node=HOST ]type=TYPE msg=audit(EPOCH.mmm:SERIAL): key=value ...`. One event
//! is every record sharing `(EPOCH.mmm, SERIAL)`: SYSCALL, EXECVE, CWD, PATH..., PROCTITLE,
//! closed by EOE. Records of different events interleave, and EOE may never come, so
//! [`AuditAssembler`] groups by id, emits on EOE, and emits the rest on
//! [`AuditAssembler::flush`] (the caller's timeout) or when too many are pending. User-space
//! records (USER_*, CRED_*, SERVICE_*, ...) stand alone and are emitted at once.
//!
//! Values are bare, `"quoted"`, or hex-encoded when they contain spaces, quotes or control
//! bytes (proctitle with NUL-separated arguments, exe, comm, cmd, TTY `data`); hex is decoded.
//! A user-space `msg='op=... res=success'` is parsed again. `log_format=ENRICHED` appends
//! translated fields after a 0x1D byte (`AUID="root"`).

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{FieldName, Format, LogSource, ParseContext, Parsed, TimeQuality};
use crate::time::parse_epoch;
use crate::{MAX_FIELDS, Reject, check_line, lossy};
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// One parsed audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub node: Option<String>,
    pub record_type: String,
    /// `EPOCH.mmm` as written.
    pub time: String,
    pub serial: u64,
    /// Fields in order; hex values decoded.
    pub fields: Vec<(String, String)>,
    /// ENRICHED translations (`AUID` → `root`).
    pub enriched: Vec<(String, String)>,
    pub raw: Vec<u8>,
}

/// Fields that auditd hex-encodes when their value holds a space, quote or control byte.
/// EXECVE arguments `aN` (and `aN[i]` chunks) are quoted or hex; SYSCALL's `a0..a3` are
/// register values in plain hex and must stay as written.
fn maybe_hex(record_type: &str, key: &str) -> bool {
    matches!(
        key,
        "proctitle"
            | "comm"
            | "exe"
            | "cmd"
            | "data"
            | "name"
            | "cwd"
            | "path"
            | "key"
            | "acct"
            | "old-ctx"
            | "new-ctx"
            | "vm"
    ) || (record_type == "EXECVE"
        && key.starts_with('a')
        && key[1..]
            .split('[')
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())))
}

fn decode_hex(v: &str) -> Option<Vec<u8>> {
    if v.is_empty()
        || !v.len().is_multiple_of(2)
        || !v.bytes().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'))
    {
        return None;
    }
    (0..v.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v[i..i + 2], 16).ok())
        .collect()
}

/// Splits `key=value` pairs: values bare, "double-quoted" or 'single-quoted'.
fn split_pairs(s: &str) -> Vec<(String, String, bool)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_FIELDS {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            // A bare word (`user pid=...` in USER_CMD, `tty pid=...` in TTY): skip it.
            continue;
        }
        let key = s[key_start..i].to_owned();
        i += 1;
        let (value, quoted) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = memchr::memchr(q, &b[i + 1..]).map_or(b.len(), |n| i + 1 + n);
                let v = s[i + 1..end].to_owned();
                i = (end + 1).min(b.len());
                (v, true)
            }
            _ => {
                let end = memchr::memchr(b' ', &b[i..]).map_or(b.len(), |n| i + n);
                let v = s[i..end].to_owned();
                i = end;
                (v, false)
            }
        };
        if !key.is_empty() {
            out.push((key, value, quoted));
        }
    }
    out
}

/// Parses one audit record line.
pub fn parse_audit_record(line: &[u8]) -> Result<AuditRecord, ParseError> {
    check_line(line)?;
    let text = lossy(crate::syslog::trim_eol(line));
    let (main, enriched_part) = match text.split_once('\u{1d}') {
        Some((m, e)) => (m, Some(e)),
        None => (text.as_ref(), None),
    };
    let mut rest = main.trim_start();
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, after) = r.split_once(' ').unwrap_or((r, ""));
        node = Some(n.to_owned());
        rest = after.trim_start();
    }
    let Some(r) = rest.strip_prefix("type=") else {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            text.len() - rest.len(),
            "audit record must start with 'type='",
        ));
    };
    let (record_type, after) = r.split_once(' ').unwrap_or((r, ""));
    let after = after.trim_start();
    let Some(id_part) = after.strip_prefix("msg=audit(") else {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            text.len() - after.len(),
            "expected 'msg=audit(' after the type",
        ));
    };
    let Some(close) = id_part.find("):") else {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            text.len() - id_part.len(),
            "audit id not closed by '):'",
        ));
    };
    let id = &id_part[..close];
    let (time, serial) = id.split_once(':').ok_or_else(|| {
        ParseError::new(
            ErrorKind::Syntax,
            format!("audit id '{id}' is not EPOCH:SERIAL"),
        )
    })?;
    let serial: u64 = serial.parse().map_err(|_| {
        ParseError::new(
            ErrorKind::InvalidValue,
            format!("audit serial '{serial}' is not a number"),
        )
    })?;
    if parse_epoch(time).is_none() {
        return Err(ParseError::new(
            ErrorKind::Timestamp,
            format!("audit time '{time}' is not epoch seconds"),
        ));
    }
    let body = &id_part[close + 2..];
    let mut fields = Vec::new();
    for (k, v, quoted) in split_pairs(body) {
        if k == "msg" && quoted {
            // The nested user-space message: its pairs belong to the record.
            for (k2, v2, q2) in split_pairs(&v) {
                let v2 = decode_value(record_type, &k2, v2, q2);
                fields.push((k2, v2));
            }
            continue;
        }
        let v = decode_value(record_type, &k, v, quoted);
        fields.push((k, v));
    }
    let enriched = enriched_part
        .map(|e| split_pairs(e).into_iter().map(|(k, v, _)| (k, v)).collect())
        .unwrap_or_default();
    Ok(AuditRecord {
        node,
        record_type: record_type.to_owned(),
        time: time.to_owned(),
        serial,
        fields,
        enriched,
        raw: line.to_vec(),
    })
}

fn decode_value(record_type: &str, key: &str, v: String, quoted: bool) -> String {
    if !quoted
        && maybe_hex(record_type, key)
        && let Some(bytes) = decode_hex(&v)
    {
        let bytes: Vec<u8> = if key == "proctitle" {
            // Arguments are NUL-separated.
            bytes
                .into_iter()
                .map(|c| if c == 0 { b' ' } else { c })
                .collect()
        } else {
            bytes
        };
        return String::from_utf8_lossy(&bytes).trim_end().to_owned();
    }
    v
}

/// Record types that are complete events on their own (user-space and a few kernel ones).
fn standalone(t: &str) -> bool {
    t.starts_with("USER_")
        || t.starts_with("CRED_")
        || t.starts_with("SERVICE_")
        || t.starts_with("SYSTEM_")
        || t.starts_with("DAEMON_")
        || t.starts_with("CRYPTO_")
        || t.starts_with("VIRT_")
        || t.starts_with("ANOM_")
        || t.starts_with("ACCT_")
        || t.starts_with("ROLE_")
        || t.starts_with("MAC_")
        || matches!(
            t,
            "LOGIN"
                | "ADD_USER"
                | "DEL_USER"
                | "ADD_GROUP"
                | "DEL_GROUP"
                | "CHGRP_ID"
                | "CHUSER_ID"
                | "SOFTWARE_UPDATE"
                | "TTY"
                | "USER_TTY"
                | "CONFIG_CHANGE"
        )
}

/// Groups records into events by `(time, serial)`.
#[derive(Debug)]
pub struct AuditAssembler {
    pending: VecDeque<Vec<AuditRecord>>,
    max_pending: usize,
}

impl Default for AuditAssembler {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl AuditAssembler {
    /// At most `max_pending` events wait for their EOE; beyond that the oldest is emitted
    /// incomplete (bounded memory under a flood of events without EOE).
    pub fn new(max_pending: usize) -> Self {
        AuditAssembler {
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
        }
    }

    /// Adds a record; returns the events it completed.
    pub fn push(&mut self, rec: AuditRecord, ctx: &ParseContext) -> Vec<Parsed> {
        let mut out = Vec::new();
        if standalone(&rec.record_type) {
            out.push(build_event(vec![rec], ctx));
            return out;
        }
        let pos = self
            .pending
            .iter()
            .position(|g| g[0].serial == rec.serial && g[0].time == rec.time);
        let eoe = rec.record_type == "EOE";
        let group = match pos {
            Some(i) => {
                self.pending[i].push(rec);
                i
            }
            None => {
                self.pending.push_back(vec![rec]);
                self.pending.len() - 1
            }
        };
        if eoe && let Some(g) = self.pending.remove(group) {
            out.push(build_event(g, ctx));
        }
        while self.pending.len() > self.max_pending {
            if let Some(g) = self.pending.pop_front() {
                out.push(build_event(g, ctx));
            }
        }
        out
    }

    /// Emits every pending event (at end of input, or on the caller's timeout).
    pub fn flush(&mut self, ctx: &ParseContext) -> Vec<Parsed> {
        self.pending
            .drain(..)
            .map(|g| build_event(g, ctx))
            .collect()
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// Parses a document of audit lines: records grouped into events, failures as rejects.
pub fn parse_auditd_document(doc: &[u8], ctx: &ParseContext) -> (Vec<Parsed>, Vec<Reject>) {
    let mut asm = AuditAssembler::default();
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    for (n, offset, line) in crate::lines(doc) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_audit_record(line) {
            Ok(r) => events.extend(asm.push(r, ctx)),
            Err(e) => rejects.push(Reject::new(n, offset, e, line)),
        }
    }
    events.extend(asm.flush(ctx));
    (events, rejects)
}

/// One audit line as a one-record event (for [`crate::detect_and_parse`], which sees lines
/// one by one).
pub fn parse_auditd_line(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Ok(build_event(vec![parse_audit_record(line)?], ctx))
}

fn build_event(records: Vec<AuditRecord>, ctx: &ParseContext) -> Parsed {
    let raw: Vec<u8> = records
        .iter()
        .map(|r| r.raw.as_slice())
        .collect::<Vec<_>>()
        .join(&b'\n');
    let mut p = Parsed::new(Format::Auditd, &[]);
    p.raw = raw;
    let first = &records[0];
    if let Some(t) = parse_epoch(&first.time) {
        p.set_time(t, TimeQuality::Exact, &first.time);
    }
    let _ = ctx;
    let f = &mut p.fields;
    f.set("event.module", "auditd");
    f.set("event.dataset", "auditd.log");
    f.set("event.kind", "event");
    f.set("auditd.sequence", first.serial);
    if let Some(n) = &first.node {
        f.set("host.name", n.as_str());
    }
    let primary = records
        .iter()
        .find(|r| r.record_type != "EOE" && r.record_type != "PROCTITLE")
        .unwrap_or(first);
    f.set("event.action", primary.record_type.to_ascii_lowercase());
    let mut data: Map<String, Value> = Map::new();
    let mut recs = Vec::with_capacity(records.len());
    let mut args: Vec<(usize, String)> = Vec::new();
    let mut has_execve = false;
    for r in &records {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(r.record_type.clone()));
        if r.record_type == "EXECVE" {
            has_execve = true;
        }
        for (k, v) in &r.fields {
            obj.insert(k.clone(), Value::String(v.clone()));
            data.entry(k.clone())
                .or_insert_with(|| Value::String(v.clone()));
            if r.record_type == "EXECVE"
                && let Some(n) = k.strip_prefix('a').and_then(|n| n.parse::<usize>().ok())
            {
                args.push((n, v.clone()));
            }
        }
        for (k, v) in &r.enriched {
            obj.insert(k.clone(), Value::String(v.clone()));
        }
        recs.push(Value::Object(obj));
    }
    let get = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty() && *v != "?" && *v != "(null)" && *v != "(none)")
    };
    let f = &mut p.fields;
    for (k, ecs) in [("pid", "process.pid"), ("ppid", "process.parent.pid")] {
        if let Some(v) = get(k) {
            match v.parse::<u64>() {
                Ok(n) => f.set(ecs, n),
                Err(_) => f.set(ecs, v),
            }
        }
    }
    for (k, ecs) in [
        ("exe", "process.executable"),
        ("comm", "process.name"),
        ("proctitle", "process.title"),
        ("cwd", "process.working_directory"),
        ("uid", "user.id"),
        ("auid", "user.audit.id"),
        ("euid", "user.effective.id"),
        ("addr", "source.ip"),
        ("hostname", "source.domain"),
        ("terminal", "process.tty"),
        ("key", "tags"),
        ("acct", "user.name"),
        ("op", "event.type"),
        ("syscall", "auditd.syscall"),
    ] {
        if let Some(v) = get(k) {
            f.set(ecs, v);
        }
    }
    // Names: ENRICHED translations, or emitters that print names instead of ids.
    let enriched_user = records
        .iter()
        .flat_map(|r| r.enriched.iter())
        .find(|(k, _)| k == "UID" || k == "AUID")
        .map(|(_, v)| v.clone());
    let uid_name = get("uid")
        .filter(|v| !v.bytes().all(|c| c.is_ascii_digit()))
        .map(str::to_owned);
    if f.get("user.name").is_none()
        && let Some(u) = enriched_user.or(uid_name)
    {
        f.set("user.name", u);
    }
    if get("auid") == Some("4294967295") {
        f.set("user.audit.id", Value::Null);
    }
    match (get("success"), get("res")) {
        (Some("yes"), _) | (_, Some("success" | "1")) => f.set("event.outcome", "success"),
        (Some("no"), _) | (_, Some("failed" | "0")) => f.set("event.outcome", "failure"),
        _ => {}
    }
    if let Some(path) = records
        .iter()
        .filter(|r| r.record_type == "PATH")
        .find_map(|r| {
            r.fields
                .iter()
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.clone())
        })
    {
        f.set("file.path", path);
    }
    if !args.is_empty() {
        args.sort_by_key(|(n, _)| *n);
        let argv: Vec<Value> = args.iter().map(|(_, a)| Value::String(a.clone())).collect();
        let cmd = args
            .iter()
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        f.set("process.args", argv);
        f.set("process.command_line", cmd);
    }
    let types: Vec<Value> = records
        .iter()
        .map(|r| Value::String(r.record_type.clone()))
        .collect();
    p.native.set("auditd.types", types);
    p.native.set("auditd.records", recs);
    for (k, v) in data {
        if p.native.len() >= MAX_FIELDS {
            break;
        }
        p.native
            .set(FieldName::Owned(format!("auditd.data.{k}")), v);
    }
    p.native
        .set("auditd.data.type", primary.record_type.as_str());
    p.logsource = LogSource::new(
        Some("linux"),
        has_execve.then_some("process_creation"),
        Some("auditd"),
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-01T09:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn hex_fields_are_decoded_and_quoted_are_not() {
        let r = parse_audit_record(b"type=SYSCALL msg=audit(1485893834.891:18877199): arch=c000003e syscall=44 success=yes a0=9 a1=10 comm=\"charon\" exe=2F7573722F6C6962657865632F7374726F6E677377616E2F636861726F6E202864656C6574656429 key=(null)").expect("parses");
        let get = |k: &str| {
            r.fields
                .iter()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("exe"), Some("/usr/libexec/strongswan/charon (deleted)"));
        assert_eq!(get("comm"), Some("charon"));
        assert_eq!(get("a0"), Some("9"));
        assert_eq!(
            get("a1"),
            Some("10"),
            "SYSCALL registers are not hex-encoded strings"
        );
        assert_eq!(r.serial, 18877199);
        let r = parse_audit_record(b"type=PROCTITLE msg=audit(1451781471.394:194440): proctitle=737368643A206275726E205B707269765D").expect("ok");
        assert_eq!(r.fields[0].1, "sshd: burn [priv]");
        let r = parse_audit_record(
            b"type=PROCTITLE msg=audit(1.0:1): proctitle=2F62696E2F7368002D63006964",
        )
        .expect("ok");
        assert_eq!(r.fields[0].1, "/bin/sh -c id", "NUL separates arguments");
    }

    #[test]
    fn nested_user_msg_enriched_and_node() {
        let r = parse_audit_record(b"node=web01 type=USER_LOGIN msg=audit(1481077041.515:406): pid=1298 uid=0 auid=4294967295 msg='op=login acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=? addr=96.241.146.97 terminal=ssh res=failed'\x1dUID=\"root\" AUID=\"unset\"").expect("ok");
        assert_eq!(r.node.as_deref(), Some("web01"));
        assert!(r.fields.iter().any(|(k, v)| k == "acct" && v == "alice"));
        assert_eq!(
            r.enriched,
            vec![
                ("UID".into(), "root".into()),
                ("AUID".into(), "unset".into())
            ]
        );
        let p = parse_auditd_line(&r.raw, &ctx()).expect("ok");
        assert_eq!(p.fields.get_str("user.name"), Some("alice"));
        assert_eq!(p.fields.get_str("event.outcome"), Some("failure"));
        assert_eq!(p.fields.get_str("source.ip"), Some("96.241.146.97"));
        assert_eq!(p.fields.get_str("host.name"), Some("web01"));
        assert_eq!(p.fields.get("user.audit.id"), Some(&Value::Null));
    }

    #[test]
    fn interleaved_records_join_by_serial() {
        let doc = b"type=SYSCALL msg=audit(1581371984.206:10): arch=x86_64 syscall=execve success=yes exit=0 ppid=1 pid=2614 uid=vagrant comm=top exe=/usr/bin/top key=(null)\n\
type=SYSCALL msg=audit(1581371984.206:11): syscall=open success=no pid=5\n\
type=EXECVE msg=audit(1581371984.206:10): argc=3 a0=\"ls\" a1=2D6C61 a2=\"/tmp dir\"\n\
type=PATH msg=audit(1581371984.206:10): item=0 name=\"/usr/bin/ls\"\n\
type=PROCTITLE msg=audit(1581371984.206:10): proctitle=6C73002D6C61\n\
type=EOE msg=audit(1581371984.206:10): \n\
garbage line\n\
type=USER_CMD msg=audit(1489519256.192:12): user pid=4151 uid=497 auid=700 msg='cwd=\"/\" cmd=6C73202D6C terminal=? res=success'\n";
        let (ev, rej) = parse_auditd_document(doc, &ctx());
        assert_eq!(rej.len(), 1);
        assert_eq!(rej[0].line, 7);
        assert_eq!(ev.len(), 3);
        let exec = ev
            .iter()
            .find(|e| e.fields.get("auditd.sequence") == Some(&Value::from(10)))
            .expect("event 10");
        assert_eq!(
            exec.native.get("auditd.types"),
            Some(&serde_json::json!([
                "SYSCALL",
                "EXECVE",
                "PATH",
                "PROCTITLE",
                "EOE"
            ]))
        );
        assert_eq!(
            exec.fields.get_str("process.command_line"),
            Some("ls -la /tmp dir")
        );
        assert_eq!(exec.fields.get_str("process.title"), Some("ls -la"));
        assert_eq!(exec.fields.get_str("file.path"), Some("/usr/bin/ls"));
        assert_eq!(exec.fields.get_str("user.name"), Some("vagrant"));
        assert_eq!(exec.fields.get_str("event.outcome"), Some("success"));
        assert_eq!(exec.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(exec.native.get_str("auditd.data.syscall"), Some("execve"));
        assert_eq!(
            exec.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2020-02-10T21:59:44.206Z")
        );
        let cmd = ev
            .iter()
            .find(|e| e.fields.get_str("event.action") == Some("user_cmd"))
            .expect("user_cmd");
        assert_eq!(cmd.native.get_str("auditd.data.cmd"), Some("ls -l"));
    }

    #[test]
    fn bounded_pending_and_errors() {
        let mut a = AuditAssembler::new(2);
        let mut out = Vec::new();
        for s in 0..5 {
            let r =
                parse_audit_record(format!("type=SYSCALL msg=audit(1.0:{s}): pid=1").as_bytes())
                    .expect("ok");
            out.extend(a.push(r, &ctx()));
        }
        assert_eq!((out.len(), a.pending()), (3, 2));
        for (line, kind) in [
            (&b"msg=audit(1.0:1): x=1"[..], ErrorKind::Syntax),
            (b"type=X msg=audit(1.0:x): a=1", ErrorKind::InvalidValue),
            (b"type=X msg=audit(now:1): a=1", ErrorKind::Timestamp),
            (b"type=X msg=audit(1.0:1 a=1", ErrorKind::Syntax),
        ] {
            assert_eq!(parse_audit_record(line).expect_err("bad").kind, kind);
        }
    }
}
