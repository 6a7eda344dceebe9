//! Pure parsers from received bytes to normalized events. No sockets, no files: callers
//! (listeners, file tailers, the HTTP bulk endpoint, the CLI) pass bytes and get [`Parsed`]
//! records back, which [`Parsed::into_event`] turns into a [`vigil_model::NewEvent`] once the
//! channel has told who the organization is.
//!
//! Data flow:
//!
//! ```text
//! TCP/TLS bytes ─► framing::Framer ─► frames ─┐
//! UDP datagrams, file lines, HTTP NDJSON ─────┼─► parse_* / detect_and_parse ─► Parsed
//! whole documents (EVE arrays, Zeek TSV,      │         │ (fields: ECS, native: source
//!   auditd files) ─► parse_batch ─────────────┘         │  namespace, raw, time + quality,
//!                                                       │  Sigma log source)
//!                                     rejects: Reject { line, offset, ParseError, raw }
//!                                                       ▼
//!                              Parsed::into_event(org, provenance, received_at) ─► NewEvent
//! ```
//!
//! Parsers: [`syslog::parse_rfc5424`], [`syslog::parse_rfc3164`], [`syslog::parse_syslog`]
//! (both, never drops, recognizes CEF/LEEF/Snare payloads), [`cef::parse_cef`],
//! [`leef::parse_leef`], [`eve::parse_eve`] (and [`eve::parse_eve_document`] for arrays),
//! [`zeek::ZeekTsvReader`] / [`zeek::parse_zeek_json`], [`auditd::AuditAssembler`] (records
//! joined into events by serial), [`access::parse_access`], [`json::parse_json`], and
//! [`detect_and_parse`] which sniffs the format of a line. Every parser returns
//! `Result<_, ParseError>` with a stable [`ErrorKind`]; batch helpers return
//! `(events, rejects)` so one bad line never stops a batch. Input size, field count and
//! nesting are capped ([`MAX_LINE_BYTES`], [`MAX_FIELDS`], [`MAX_DEPTH`]).
//!
//! Time: [`Parsed::timestamp`] is UTC; [`Parsed::time_original`] keeps the text and
//! [`TimeQuality`] says what was inferred (zone from [`ParseContext::tz`], RFC 3164 year from
//! [`ParseContext::received_at`] with the December→January rollover).

pub mod access;
pub mod auditd;
pub mod cef;
pub mod error;
pub mod eve;
mod eve_walk;
pub mod framing;
pub mod json;
pub mod leef;
pub mod parsed;
mod snare;
pub mod syslog;
mod time;
pub mod winevt;
pub mod zeek;

pub use error::{ErrorKind, ParseError, Reject};
pub use framing::{Frame, Framer, FramerConfig, Framing};
pub use parsed::{FieldName, Fields, Format, LogSource, ParseContext, Parsed, TimeQuality};

use std::borrow::Cow;

/// Largest accepted line or record, in bytes (the model's limit).
pub const MAX_LINE_BYTES: usize = vigil_model::event::MAX_EVENT_BYTES;
/// Most fields in one event.
pub const MAX_FIELDS: usize = vigil_model::event::MAX_FIELDS;
/// Deepest JSON nesting accepted.
pub const MAX_DEPTH: usize = vigil_model::event::MAX_DEPTH;
/// Bytes of a rejected line kept in its [`Reject`].
pub const MAX_REJECT_RAW: usize = 64 * 1024;
/// Largest whole document (a JSON array) parsed at once.
pub const MAX_DOCUMENT_BYTES: usize = 256 << 20;

pub(crate) fn check_line(line: &[u8]) -> Result<(), ParseError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(ParseError::at(
            ErrorKind::TooLong,
            MAX_LINE_BYTES,
            format!("{} bytes, more than {MAX_LINE_BYTES}", line.len()),
        ));
    }
    if line.iter().all(|c| c.is_ascii_whitespace() || *c == 0) {
        return Err(ParseError::new(ErrorKind::Empty, "nothing but whitespace"));
    }
    Ok(())
}

pub(crate) fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The lines of a document: (1-based number, byte offset, line without its LF or CRLF).
pub(crate) fn lines(doc: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> {
    let mut offset = 0;
    let mut n = 0;
    std::iter::from_fn(move || {
        if offset >= doc.len() {
            return None;
        }
        let rest = &doc[offset..];
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let mut line = &rest[..len];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let at = offset;
        offset += len + 1;
        n += 1;
        Some((n, at, line))
    })
}

/// Runs `parse` over each non-blank line of `doc`.
pub fn parse_lines(
    doc: &[u8],
    mut parse: impl FnMut(&[u8]) -> Result<Parsed, ParseError>,
) -> (Vec<Parsed>, Vec<Reject>) {
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    for (n, offset, line) in lines(doc) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(line) {
            Ok(p) => events.push(p),
            Err(e) => rejects.push(Reject::new(n, offset, e, line)),
        }
    }
    (events, rejects)
}

/// The format a source is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// Sniff per document and per line ([`detect_and_parse_document`]).
    Auto,
    /// RFC 5424 or 3164, whichever each line is.
    Syslog,
    Cef,
    Leef,
    SuricataEve,
    ZeekTsv,
    ZeekJson,
    Auditd,
    AccessLog,
    Json,
}

/// Parses a batch (a file, an HTTP body) in a known format.
pub fn parse_batch(
    doc: &[u8],
    format: SourceFormat,
    ctx: &ParseContext,
) -> (Vec<Parsed>, Vec<Reject>) {
    match format {
        SourceFormat::Auto => detect_and_parse_document(doc, ctx),
        SourceFormat::Syslog => parse_lines(doc, |l| syslog::parse_syslog(l, ctx)),
        SourceFormat::Cef => parse_lines(doc, |l| cef::parse_cef(l, ctx)),
        SourceFormat::Leef => parse_lines(doc, |l| leef::parse_leef(l, ctx)),
        SourceFormat::SuricataEve => eve::parse_eve_document(doc, ctx),
        SourceFormat::ZeekTsv => zeek::parse_zeek_tsv_document(doc, ctx),
        SourceFormat::ZeekJson => parse_lines(doc, |l| zeek::parse_zeek_json(l, ctx)),
        SourceFormat::Auditd => auditd::parse_auditd_document(doc, ctx),
        SourceFormat::AccessLog => parse_lines(doc, |l| access::parse_access(l, ctx)),
        SourceFormat::Json => parse_lines(doc, |l| json::parse_json(l, ctx)),
    }
}

/// `[` followed by `{` or `]`: a JSON array of records, not a line like Apache's error log
/// `[Sun Dec 04 04:47:44 2005] [notice] ...`.
fn looks_like_json_array(head: &[u8]) -> bool {
    let mut it = head.iter().filter(|c| !c.is_ascii_whitespace());
    it.next() == Some(&b'[') && matches!(it.next(), Some(b'{') | Some(b']') | None)
}

fn is_audit_line(b: &[u8]) -> bool {
    (b.starts_with(b"type=") || b.starts_with(b"node="))
        && memchr::memmem::find(b, b"msg=audit(").is_some()
}

/// Parses one line whose format is unknown: JSON objects by their keys (EVE `event_type`,
/// Zeek `_path`/`id.orig_h`, else generic), `CEF:`, `LEEF:`, auditd `type=... msg=audit(`,
/// `<PRI>` syslog, access logs by their `[dd/Mon/yyyy:` time, BSD or ISO stamps without PRI
/// as syslog; anything else is kept as [`Format::Plain`] text with the receive time.
pub fn detect_and_parse(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let start = line
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(line.len());
    let t = &line[start..];
    if t.first() == Some(&b'{') {
        let map = json::parse_object(line, "line")?;
        if map
            .get("event_type")
            .is_some_and(serde_json::Value::is_string)
        {
            return eve::eve_from_map(map, line, ctx);
        }
        if map.contains_key("_path")
            || map.contains_key("id.orig_h")
            || (map.contains_key("uid") && map.contains_key("ts"))
        {
            return zeek::zeek_json_from_map(map, line, ctx);
        }
        return json::json_from_map(map, line, ctx);
    }
    if t.starts_with(b"CEF:") {
        return cef::parse_cef(line, ctx);
    }
    if t.starts_with(b"LEEF:") {
        return leef::parse_leef(line, ctx);
    }
    if is_audit_line(t) {
        return auditd::parse_auditd_line(line, ctx);
    }
    if t.first() == Some(&b'<') {
        return syslog::parse_syslog(line, ctx);
    }
    if access::looks_like_access(t) {
        return access::parse_access(line, ctx);
    }
    if time::parse_bsd(t).is_some()
        || t.get(..memchr::memchr(b' ', t).unwrap_or(t.len()))
            .and_then(time::parse_iso)
            .is_some()
    {
        return syslog::parse_syslog(line, ctx);
    }
    let mut p = Parsed::new(Format::Plain, line);
    p.fields
        .set("message", lossy(syslog::trim_eol(line)).into_owned());
    p.logsource = LogSource::new(Some("unknown"), None, None);
    Ok(p)
}

/// Parses a whole document of unknown format: Zeek TSV (a `#separator`/`#fields` header),
/// a JSON array, a file of auditd records (grouped into events), or line by line with
/// [`detect_and_parse`].
pub fn detect_and_parse_document(doc: &[u8], ctx: &ParseContext) -> (Vec<Parsed>, Vec<Reject>) {
    let head = &doc[..doc.len().min(8192)];
    let first = lines(head)
        .map(|(_, _, l)| l)
        .find(|l| !l.iter().all(u8::is_ascii_whitespace) && !l.starts_with(b"### "))
        .unwrap_or_default();
    if first.starts_with(b"#separator") || first.starts_with(b"#fields") {
        return zeek::parse_zeek_tsv_document(doc, ctx);
    }
    if looks_like_json_array(head) {
        return eve::parse_eve_document(doc, ctx);
    }
    if is_audit_line(first) {
        return auditd::parse_auditd_document(doc, ctx);
    }
    parse_lines(doc, |l| detect_and_parse(l, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-21T12:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn detection_picks_the_parser() {
        let cases: &[(&[u8], Format)] = &[
            (
                br#"{"timestamp":"2018-07-05T15:01:09.820360-0400","event_type":"ssh"}"#,
                Format::SuricataEve,
            ),
            (br#"{"_path":"conn","ts":1.5}"#, Format::ZeekJson),
            (br#"{"message":"hi"}"#, Format::Json),
            (b"CEF:0|a|b|c|d|e|1|src=1.2.3.4", Format::Cef),
            (b"LEEF:1.0|a|b|c|d|src=1.2.3.4", Format::Leef),
            (
                b"type=PROCTITLE msg=audit(1451781471.394:194438): proctitle=\"bash\"",
                Format::Auditd,
            ),
            (b"<13>1 - - - - - - x", Format::Rfc5424),
            (b"<34>Oct 11 22:14:15 mymachine su: x", Format::Rfc3164),
            (
                b"::1 - - [26/Dec/2016:16:16:29 +0200] \"GET /favicon.ico HTTP/1.1\" 404 209",
                Format::AccessLog,
            ),
            (
                b"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: x",
                Format::Rfc3164,
            ),
            (
                b"2019-06-14T13:01:15.412+01:30 localhost pam: user nobody logged out.",
                Format::Rfc3164,
            ),
            (
                b"081109 203615 148 INFO dfs.DataNode$PacketResponder: x",
                Format::Plain,
            ),
        ];
        for (line, want) in cases {
            let p =
                detect_and_parse(line, &ctx()).unwrap_or_else(|e| panic!("{}: {e}", lossy(line)));
            assert_eq!(p.format, *want, "{}", lossy(line));
        }
        assert_eq!(
            detect_and_parse(b" \t", &ctx()).expect_err("empty").kind,
            ErrorKind::Empty
        );
    }

    #[test]
    fn oversized_lines_are_rejected_before_parsing() {
        let big = vec![b'a'; MAX_LINE_BYTES + 1];
        let e = detect_and_parse(&big, &ctx()).expect_err("too long");
        assert_eq!(e.kind, ErrorKind::TooLong);
    }

    #[test]
    fn into_event_carries_time_bookkeeping_and_logsource() {
        let p = syslog::parse_syslog(
            b"<34>Oct 11 22:14:15 mymachine sshd[1]: Failed password",
            &ctx(),
        )
        .expect("ok");
        let org = vigil_model::OrgId::new();
        let e = p.into_event(
            org,
            vigil_model::Provenance {
                input: "syslog-tcp".into(),
                sender: Some("10.0.0.1".into()),
            },
            ctx().received_at,
        );
        assert_eq!(e.org_id, org);
        assert_eq!(
            e.field_text("event.timestamp_quality").as_deref(),
            Some("inferred_year")
        );
        assert_eq!(
            e.field_text("event.original_time").as_deref(),
            Some("Oct 11 22:14:15")
        );
        assert_eq!(
            e.field_text("sigma.logsource.service").as_deref(),
            Some("sshd")
        );
        assert_eq!(e.field_text("host.name").as_deref(), Some("mymachine"));
        assert_eq!(e.timestamp.to_string(), "2026-10-11T22:14:15Z");
        assert_eq!(
            e.raw,
            b"<34>Oct 11 22:14:15 mymachine sshd[1]: Failed password"
        );
        assert!(e.native.contains_key("vigil.parse_notes") || e.native.is_empty());
    }
}
