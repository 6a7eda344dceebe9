//! Syslog: RFC 5424 (strict), RFC 3164 and its vendor variants (lenient), and
//! [`parse_syslog`], which tries 5424, then 3164, then keeps the line as "unparsed syslog" so
//! that nothing is dropped. Payloads in CEF, LEEF or Snare form are recognized inside MSG.

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{Format, LogSource, ParseContext, Parsed, TimeQuality};
use crate::time::{parse_bsd, parse_iso, resolve_iso};
use crate::{check_line, lossy};
use serde_json::Value;
use std::borrow::Cow;

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// The PRI value, and whether it was written with a leading zero (`<01>`), which RFC 5424
/// forbids and RFC 3164 senders do.
fn parse_pri(b: &[u8]) -> Result<(u8, usize, bool), ParseError> {
    if b.first() != Some(&b'<') {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            0,
            "expected '<' starting PRI",
        ));
    }
    let mut v: u32 = 0;
    let mut i = 1;
    while i < b.len() && b[i].is_ascii_digit() {
        if i > 3 {
            return Err(ParseError::at(
                ErrorKind::InvalidValue,
                i,
                "PRI longer than 3 digits",
            ));
        }
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    if i == 1 {
        return Err(ParseError::at(ErrorKind::Syntax, 1, "PRI has no digits"));
    }
    if b.get(i) != Some(&b'>') {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            i,
            "PRI not closed by '>'",
        ));
    }
    if v > 191 {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            1,
            format!("PRI {v} is above 191"),
        ));
    }
    Ok((v as u8, i + 1, b[1] == b'0' && i > 2))
}

fn set_pri(p: &mut Parsed, pri: u8) {
    let fac = (pri >> 3) as usize;
    let sev = (pri & 7) as usize;
    let f = &mut p.fields;
    f.set("log.syslog.priority", pri);
    f.set("log.syslog.facility.code", fac);
    f.set("log.syslog.facility.name", FACILITIES[fac.min(23)]);
    f.set("log.syslog.severity.code", sev);
    f.set("log.syslog.severity.name", SEVERITIES[sev]);
    f.set("event.severity", sev);
}

/// The next SP-terminated token from `i`: (token, index after the SP).
fn header_token<'a>(b: &'a [u8], i: usize, what: &str) -> Result<(&'a [u8], usize), ParseError> {
    let rest = b.get(i..).unwrap_or_default();
    match memchr::memchr(b' ', rest) {
        Some(0) => Err(ParseError::at(
            ErrorKind::Syntax,
            i,
            format!("{what} is empty (two spaces)"),
        )),
        Some(n) => Ok((&rest[..n], i + n + 1)),
        None => Err(ParseError::at(
            ErrorKind::Syntax,
            b.len(),
            format!("header ends after {what} (expected SP and the next part)"),
        )),
    }
}

fn header_field<'a>(
    b: &'a [u8],
    i: usize,
    what: &str,
    max: usize,
) -> Result<(Option<&'a str>, usize), ParseError> {
    let (tok, next) = header_token(b, i, what)?;
    if tok == b"-" {
        return Ok((None, next));
    }
    if tok.len() > max {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            i,
            format!("{what} is {} bytes, more than {max}", tok.len()),
        ));
    }
    if let Some(pos) = tok.iter().position(|c| !(33..=126).contains(c)) {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            i + pos,
            format!("{what} holds a byte that is not printable US-ASCII"),
        ));
    }
    // Printable ASCII is valid UTF-8.
    Ok((std::str::from_utf8(tok).ok(), next))
}

/// Parses one RFC 5424 message strictly (apart from the real-world timestamp variants, which
/// are accepted and noted). Errors name the part that is wrong and its byte offset.
pub fn parse_rfc5424(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let b = line;
    let (pri, mut i, leading_zero) = parse_pri(b)?;
    if leading_zero {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            1,
            "PRI has a leading zero",
        ));
    }
    if b.get(i) != Some(&b'1') || b.get(i + 1) != Some(&b' ') {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            i,
            "expected VERSION 1 and SP",
        ));
    }
    i += 2;
    let mut p = Parsed::new(Format::Rfc5424, line);
    set_pri(&mut p, pri);
    p.fields.set("log.syslog.version", 1);

    let ts_at = i;
    let (ts, next) = header_token(b, i, "TIMESTAMP")?;
    i = next;
    if ts != b"-" {
        let iso = parse_iso(ts).ok_or_else(|| {
            ParseError::at(
                ErrorKind::Timestamp,
                ts_at,
                format!("TIMESTAMP '{}' is not an RFC 3339 time", lossy(ts)),
            )
        })?;
        if iso.lenient {
            p.note("timestamp bends the RFC 5424 profile");
        }
        if iso.offset.is_none() {
            p.note("timestamp has no offset");
        }
        let (t, q) = resolve_iso(&iso, &ctx.tz).ok_or_else(|| {
            ParseError::at(ErrorKind::Timestamp, ts_at, "TIMESTAMP is out of range")
        })?;
        p.timestamp = Some(t);
        p.time_quality = q;
        p.time_original = Some(lossy(ts).into_owned());
    }

    let (host, next) = header_field(b, i, "HOSTNAME", 255)?;
    i = next;
    let (app, next) = header_field(b, i, "APP-NAME", 48)?;
    i = next;
    let (procid, next) = header_field(b, i, "PROCID", 128)?;
    i = next;
    let (msgid, next) = header_field(b, i, "MSGID", 32)?;
    i = next;
    if let Some(h) = host {
        p.fields.set("log.syslog.hostname", h);
        p.fields.set("host.name", h);
    }
    if let Some(a) = app {
        p.fields.set("log.syslog.appname", a);
        p.fields.set("process.name", a);
    }
    if let Some(pid) = procid {
        p.fields.set("log.syslog.procid", pid);
        if let Ok(n) = pid.parse::<u32>() {
            p.fields.set("process.pid", n);
        }
    }
    if let Some(m) = msgid {
        p.fields.set("log.syslog.msgid", m);
    }

    i = parse_structured_data(b, i, &mut p)?;
    match b.get(i) {
        None => {}
        Some(b' ') => set_message(&mut p, &b[i + 1..]),
        Some(_) => {
            return Err(ParseError::at(
                ErrorKind::Syntax,
                i,
                "expected SP or end after STRUCTURED-DATA",
            ));
        }
    }
    p.logsource = linux_logsource(app, pri >> 3);
    Ok(p)
}

/// MSG: a UTF-8 BOM says UTF-8 and is removed; without it the encoding is unknown, so the
/// bytes are decoded lossily for display (the raw bytes keep the original).
fn set_message(p: &mut Parsed, msg: &[u8]) {
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    let msg = trim_eol(msg);
    if msg.is_empty() {
        return;
    }
    let text = match std::str::from_utf8(msg) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            p.note("message is not valid UTF-8; decoded lossily");
            String::from_utf8_lossy(msg).into_owned()
        }
    };
    p.fields.set("message", text);
}

pub(crate) fn trim_eol(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    &b[..end]
}

/// STRUCTURED-DATA: `-` or one or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`. Inside a
/// value only `\"`, `\\` and `\]` are escapes; a backslash before anything else is kept, as
/// RFC 5424 section 6.3.3 says. A `]` inside quotes does not end the element.
fn parse_structured_data(b: &[u8], mut i: usize, p: &mut Parsed) -> Result<usize, ParseError> {
    match b.get(i) {
        Some(b'-') => return Ok(i + 1),
        Some(b'[') => {}
        None => {
            return Err(ParseError::at(
                ErrorKind::Syntax,
                i,
                "missing STRUCTURED-DATA",
            ));
        }
        Some(_) => {
            return Err(ParseError::at(
                ErrorKind::Syntax,
                i,
                "STRUCTURED-DATA must be '-' or start with '['",
            ));
        }
    }
    let mut elements = 0;
    while b.get(i) == Some(&b'[') {
        elements += 1;
        if elements > crate::MAX_FIELDS {
            return Err(ParseError::at(
                ErrorKind::TooManyFields,
                i,
                "too many SD elements",
            ));
        }
        i += 1;
        let id_start = i;
        while i < b.len() && !matches!(b[i], b' ' | b']' | b'=' | b'"') {
            i += 1;
        }
        let id = sd_name(b, id_start, i, "SD-ID")?;
        loop {
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(b' ') => {
                    i += 1;
                    let name_start = i;
                    while i < b.len() && !matches!(b[i], b' ' | b']' | b'=' | b'"') {
                        i += 1;
                    }
                    let name = sd_name(b, name_start, i, "PARAM-NAME")?;
                    if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                        return Err(ParseError::at(
                            ErrorKind::Syntax,
                            i,
                            format!("expected '=\"' after PARAM-NAME '{name}'"),
                        ));
                    }
                    i += 2;
                    let (value, next) = sd_value(b, i)?;
                    i = next;
                    if p.fields.len() >= crate::MAX_FIELDS {
                        return Err(ParseError::at(
                            ErrorKind::TooManyFields,
                            i,
                            "too many SD params",
                        ));
                    }
                    const SD: &str = "log.syslog.structured_data.";
                    let mut key = String::with_capacity(SD.len() + id.len() + 1 + name.len());
                    key.push_str(SD);
                    key.push_str(id);
                    key.push('.');
                    key.push_str(name);
                    // Repeated names are allowed; keep every value.
                    match p.fields.remove(&key) {
                        None => p.fields.set(key, value),
                        Some(Value::Array(mut a)) => {
                            a.push(Value::String(value));
                            p.fields.set(key, a);
                        }
                        Some(prev) => p.fields.set(key, vec![prev, Value::String(value)]),
                    }
                }
                _ => {
                    return Err(ParseError::at(
                        ErrorKind::Syntax,
                        i,
                        format!("SD element '{id}' not closed by ']'"),
                    ));
                }
            }
        }
    }
    Ok(i)
}

fn sd_name<'a>(b: &'a [u8], start: usize, end: usize, what: &str) -> Result<&'a str, ParseError> {
    let name = &b[start..end];
    if name.is_empty() || name.len() > 32 {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            start,
            format!("{what} must be 1 to 32 characters"),
        ));
    }
    if let Some(pos) = name.iter().position(|c| !(33..=126).contains(c)) {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            start + pos,
            format!("{what} holds a byte that is not printable US-ASCII"),
        ));
    }
    std::str::from_utf8(name).map_err(|_| {
        ParseError::at(
            ErrorKind::InvalidValue,
            start,
            format!("{what} is not ASCII"),
        )
    })
}

fn sd_value(b: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = start;
    loop {
        let rest = &b[i..];
        match memchr::memchr2(b'"', b'\\', rest) {
            None => {
                return Err(ParseError::at(
                    ErrorKind::Syntax,
                    start,
                    "PARAM-VALUE not closed by '\"'",
                ));
            }
            Some(n) => {
                out.extend_from_slice(&rest[..n]);
                i += n;
                if b[i] == b'"' {
                    let s = match String::from_utf8(out) {
                        Ok(s) => s,
                        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    };
                    return Ok((s, i + 1));
                }
                match b.get(i + 1) {
                    Some(&c @ (b'"' | b'\\' | b']')) => {
                        out.push(c);
                        i += 2;
                    }
                    _ => {
                        out.push(b'\\');
                        i += 1;
                    }
                }
            }
        }
    }
}

/// The Sigma log source of a Linux syslog line, from APP-NAME/TAG and facility.
pub(crate) fn linux_logsource(app: Option<&str>, facility: u8) -> LogSource {
    let base = app
        .map(|a| a.split(['(', '[']).next().unwrap_or(a))
        .unwrap_or("");
    let service = match base {
        "sshd" => "sshd",
        "sudo" => "sudo",
        "cron" | "CRON" | "crond" | "anacron" => "cron",
        _ if facility == 4 || facility == 10 => "auth",
        "su" | "login" | "passwd" | "useradd" | "userdel" | "groupadd" | "usermod" => "auth",
        _ => "syslog",
    };
    LogSource::new(Some("linux"), None, Some(service))
}

/// Parses an RFC 3164 ("BSD") line the way real senders write it: optional leading spaces,
/// optional PRI (`<13>` assumed, the relay rule), a BSD stamp (with optional year, fraction,
/// Cisco `*`), an RFC 3339 stamp, or none; optional hostname; TAG up to the first `[`, `:`,
/// space or tab. Errors only for a malformed PRI.
pub fn parse_rfc3164(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let b = line;
    let mut p = Parsed::new(Format::Rfc3164, line);
    let mut i = b.iter().take_while(|c| **c == b' ').count();
    if i > 0 {
        p.note("leading spaces before PRI");
    }
    let pri = if b.get(i) == Some(&b'<') {
        let (pri, used, leading_zero) = parse_pri(&b[i..]).map_err(|e| e.shifted(i))?;
        if leading_zero {
            p.note("PRI has a leading zero");
        }
        i += used;
        pri
    } else {
        p.note("no PRI: <13> assumed");
        13
    };
    set_pri(&mut p, pri);

    // Timestamp recognizers, most common first.
    let mut have_time = false;
    let rest = &b[i..];
    if let Some((bsd, used)) = parse_bsd(rest) {
        let end = i + used;
        if matches!(b.get(end), None | Some(b' ') | Some(b':')) {
            have_time = true;
            let original = lossy(&b[i..end]).into_owned();
            match bsd.resolve(&ctx.tz, ctx.received_at) {
                Some((t, q)) => {
                    p.timestamp = Some(t);
                    p.time_quality = q;
                }
                None => p.note("BSD timestamp names no instant near the receive time"),
            }
            p.time_original = Some(original);
            i = end;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
        }
    }
    if !have_time {
        let tok_end = memchr::memchr(b' ', rest).map_or(b.len(), |n| i + n);
        if let Some(iso) = parse_iso(&b[i..tok_end]) {
            have_time = true;
            if let Some((t, q)) = resolve_iso(&iso, &ctx.tz) {
                p.timestamp = Some(t);
                p.time_quality = q;
            }
            p.time_original = Some(lossy(&b[i..tok_end]).into_owned());
            i = tok_end;
        }
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut app: Option<String> = None;
    if have_time && i < b.len() {
        // HOSTNAME, unless the first token is already the TAG (`su:` or `app[1]:`).
        let tok_end = b[i..]
            .iter()
            .position(|c| *c == b' ' || *c == b'\t')
            .map_or(b.len(), |n| i + n);
        let tok = &b[i..tok_end];
        let is_tag = tok.ends_with(b":") || (tok.contains(&b'[') && tok.ends_with(b"]:"));
        let is_payload = tok.starts_with(b"CEF:") || tok.starts_with(b"LEEF:");
        if !is_tag && !is_payload && tok_end < b.len() {
            let host = lossy(tok);
            p.fields.set("log.syslog.hostname", host.as_ref());
            p.fields.set("host.name", host.into_owned());
            i = tok_end + 1;
        }
        let rest = &b[i..];
        let payload = rest.starts_with(b"CEF:")
            || rest.starts_with(b"LEEF:")
            || rest.starts_with(b"MSWinEventLog");
        if !payload {
            i = parse_tag(b, i, &mut p, &mut app);
        }
    }
    set_message(&mut p, &b[i.min(b.len())..]);
    if !have_time {
        p.note("no timestamp recognized: receive time used");
    }
    p.logsource = linux_logsource(app.as_deref(), pri >> 3);
    Ok(p)
}

/// TAG[PID]: up to 48 bytes, ended by `[`, `:`, space or tab. Returns where MSG starts.
fn parse_tag(b: &[u8], start: usize, p: &mut Parsed, app: &mut Option<String>) -> usize {
    let mut i = start;
    while i < b.len() && i - start <= 48 && !matches!(b[i], b'[' | b':' | b' ' | b'\t') {
        i += 1;
    }
    if i == start || i - start > 48 || i == b.len() {
        return start;
    }
    let tag = lossy(&b[start..i]).into_owned();
    match b[i] {
        b'[' => {
            let Some(close) = memchr::memchr(b']', &b[i..]).map(|n| i + n) else {
                return start;
            };
            let pid = lossy(&b[i + 1..close]);
            p.fields.set("log.syslog.procid", pid.as_ref());
            if let Ok(n) = pid.parse::<u32>() {
                p.fields.set("process.pid", n);
            }
            i = close + 1;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
        }
        b':' => i += 1,
        _ => {}
    }
    if matches!(b.get(i), Some(b' ') | Some(b'\t')) {
        i += 1;
    }
    p.fields.set("log.syslog.appname", tag.as_str());
    p.fields.set("process.name", tag.as_str());
    *app = Some(tag);
    i
}

/// Parses any syslog line and never loses it: strict RFC 5424 when the line says `<PRI>1 `,
/// else lenient RFC 3164; a line neither can read becomes [`Format::SyslogUnparsed`] with the
/// reason in `notes`. CEF, LEEF and Snare payloads in MSG are parsed into their fields (a
/// payload that fails keeps the syslog event and notes why). Errors only for empty or
/// oversized input.
pub fn parse_syslog(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let start = line.iter().take_while(|c| **c == b' ').count();
    let b = &line[start..];
    let is_5424 = b.first() == Some(&b'<')
        && parse_pri(b)
            .is_ok_and(|(_, used, _)| b.get(used) == Some(&b'1') && b.get(used + 1) == Some(&b' '));
    let mut p = if is_5424 {
        match parse_rfc5424(b, ctx) {
            Ok(mut p) => {
                if start > 0 {
                    p.raw = line.to_vec();
                    p.note("leading spaces before PRI");
                }
                p
            }
            Err(e) => unparsed(line, ctx, format!("RFC 5424: {e}")),
        }
    } else {
        match parse_rfc3164(line, ctx) {
            Ok(p) => p,
            Err(e) => unparsed(line, ctx, format!("RFC 3164: {e}")),
        }
    };
    enrich_payload(&mut p, ctx);
    Ok(p)
}

/// Recognizes CEF, LEEF and Snare inside a syslog MSG and parses them over the syslog event.
pub(crate) fn enrich_payload(p: &mut Parsed, ctx: &ParseContext) {
    let Some(msg) = p.fields.get_str("message") else {
        return;
    };
    let kind = if msg.starts_with("CEF:") {
        1
    } else if msg.starts_with("LEEF:") {
        2
    } else if msg.starts_with("MSWinEventLog") {
        3
    } else {
        return;
    };
    let msg = msg.to_owned();
    let r = match kind {
        1 => crate::cef::apply_cef(p, &msg, ctx),
        2 => crate::leef::apply_leef(p, &msg, ctx),
        _ => crate::snare::apply_snare(p, &msg, ctx),
    };
    if let Err(e) = r {
        p.note(Cow::Owned(format!("payload not parsed: {e}")));
    }
}

fn unparsed(line: &[u8], _ctx: &ParseContext, why: String) -> Parsed {
    let mut p = Parsed::new(Format::SyslogUnparsed, line);
    let start = line.iter().take_while(|c| **c == b' ').count();
    let mut i = start;
    if let Ok((pri, used, _)) = parse_pri(&line[start..]) {
        set_pri(&mut p, pri);
        i += used;
    }
    set_message(&mut p, &line[i..]);
    p.time_quality = TimeQuality::ReceiveTime;
    p.logsource = LogSource::new(Some("linux"), None, Some("syslog"));
    p.note(why);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-21T12:00:00Z".parse().expect("ts"))
    }

    fn s<'a>(p: &'a Parsed, k: &str) -> &'a str {
        p.fields
            .get_str(k)
            .unwrap_or_else(|| panic!("no string field {k}: {:?}", p.fields))
    }

    #[test]
    fn rfc5424_example() {
        let p = parse_rfc5424(
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event log entry",
            &ctx(),
        )
        .expect("parses");
        assert_eq!(
            p.fields.get("log.syslog.facility.code"),
            Some(&Value::from(20))
        );
        assert_eq!(
            p.fields.get("log.syslog.severity.code"),
            Some(&Value::from(5))
        );
        assert_eq!(s(&p, "host.name"), "mymachine.example.com");
        assert_eq!(s(&p, "log.syslog.appname"), "evntslog");
        assert_eq!(p.fields.get("log.syslog.procid"), None);
        assert_eq!(s(&p, "log.syslog.msgid"), "ID47");
        assert_eq!(
            s(&p, "log.syslog.structured_data.exampleSDID@32473.iut"),
            "3"
        );
        assert_eq!(s(&p, "message"), "An application event log entry");
        assert_eq!(
            p.timestamp,
            Some("2003-10-11T22:14:15.003Z".parse::<Timestamp>().expect("ts"))
        );
        assert_eq!(p.time_quality, TimeQuality::Exact);
    }

    #[test]
    fn rfc5424_sd_escapes_only_quote_backslash_bracket() {
        let p = parse_rfc5424(
            br#"<34>1 2026-07-23T09:30:45+02:00 host app 123 msg [meta@32473 value="escaped\]bracket" quote="\"" other="a\nb\\c"][x y="]"] payload"#,
            &ctx(),
        )
        .expect("parses");
        assert_eq!(
            s(&p, "log.syslog.structured_data.meta@32473.value"),
            "escaped]bracket"
        );
        assert_eq!(s(&p, "log.syslog.structured_data.meta@32473.quote"), "\"");
        // `\n` is not an SD escape: the backslash stays.
        assert_eq!(
            s(&p, "log.syslog.structured_data.meta@32473.other"),
            "a\\nb\\c"
        );
        assert_eq!(s(&p, "log.syslog.structured_data.x.y"), "]");
        assert_eq!(s(&p, "message"), "payload");
        assert_eq!(p.fields.get("process.pid"), Some(&Value::from(123)));
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2026-07-23T07:30:45Z")
        );
    }

    #[test]
    fn rfc5424_nil_everywhere_and_bom() {
        let p = parse_rfc5424(b"<13>1 - - - - - - minimal", &ctx()).expect("nil");
        assert_eq!(p.timestamp, None);
        assert_eq!(p.time_quality, TimeQuality::ReceiveTime);
        assert_eq!(p.fields.get("host.name"), None);
        assert_eq!(s(&p, "message"), "minimal");
        let p = parse_rfc5424(b"<13>1 - - - - - -", &ctx()).expect("no msg");
        assert_eq!(p.fields.get("message"), None);
        let p = parse_rfc5424(b"<13>1 - h a - - - \xEF\xBB\xBFcaf\xC3\xA9", &ctx()).expect("bom");
        assert_eq!(s(&p, "message"), "café");
        let p = parse_rfc5424(b"<13>1 - h a - - - \xFF\xFEbinary", &ctx()).expect("not utf8");
        assert!(s(&p, "message").ends_with("binary"));
        assert!(p.notes.iter().any(|n| n.contains("UTF-8")));
    }

    #[test]
    fn rfc5424_timestamp_variants() {
        let p = parse_rfc5424(b"<13>1 2026-01-01T00:00:00.123456789Z h a - - -", &ctx())
            .expect("9 digits");
        assert_eq!(
            p.timestamp.map(|t| t.subsec_nanosecond()),
            Some(123_456_789)
        );
        assert!(p.notes.iter().any(|n| n.contains("profile")));
        let p = parse_rfc5424(b"<13>1 2026-01-01t00:00:00z h a - - -", &ctx()).expect("lower case");
        assert_eq!(p.time_quality, TimeQuality::Exact);
        let e =
            parse_rfc5424(b"<13>1 2026-02-30T00:00:00Z h a - - -", &ctx()).expect_err("impossible");
        assert_eq!((e.kind, e.offset), (ErrorKind::Timestamp, Some(6)));
    }

    #[test]
    fn rfc5424_errors_name_the_part() {
        let cases: &[(&[u8], ErrorKind, &str)] = &[
            (b"<192>1 - - - - - -", ErrorKind::InvalidValue, "above 191"),
            (
                b"<013>1 - - - - - -",
                ErrorKind::InvalidValue,
                "leading zero",
            ),
            (b"<13>2 - - - - - -", ErrorKind::Syntax, "VERSION"),
            (b"<13>1 - - - - -", ErrorKind::Syntax, "ends after MSGID"),
            (
                b"<13>1 - - - - - ",
                ErrorKind::Syntax,
                "missing STRUCTURED-DATA",
            ),
            (
                b"<13>1 - - - - - [x a=\"1\"",
                ErrorKind::Syntax,
                "not closed",
            ),
            (
                b"<13>1 - - - - - [x a=1]",
                ErrorKind::Syntax,
                "expected '=\"'",
            ),
            (
                b"<13>1 - - - - - [x a=\"1]",
                ErrorKind::Syntax,
                "PARAM-VALUE",
            ),
            (
                b"<13>1 - - - - - x",
                ErrorKind::Syntax,
                "STRUCTURED-DATA must be",
            ),
            (
                b"<13>1 - - - - - -x",
                ErrorKind::Syntax,
                "after STRUCTURED-DATA",
            ),
            (
                b"<13>1 - - 0123456789012345678901234567890123456789012345678 - - -",
                ErrorKind::InvalidValue,
                "APP-NAME",
            ),
            (
                b"<13>1 - - - - 012345678901234567890123456789012 -",
                ErrorKind::InvalidValue,
                "MSGID",
            ),
        ];
        for (line, kind, needle) in cases {
            let e = parse_rfc5424(line, &ctx()).expect_err(&lossy(line));
            assert_eq!(e.kind, *kind, "{e}");
            assert!(e.message.contains(needle), "{e} should mention {needle}");
            assert!(e.offset.is_some(), "{e}");
        }
    }

    #[test]
    fn rfc3164_basic_and_variants() {
        let c = ParseContext::new("2026-10-12T00:00:00Z".parse().expect("ts"));
        let p = parse_rfc3164(
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            &c,
        )
        .expect("basic");
        assert_eq!(s(&p, "host.name"), "mymachine");
        assert_eq!(s(&p, "log.syslog.appname"), "su");
        assert_eq!(
            s(&p, "message"),
            "'su root' failed for lonvick on /dev/pts/8"
        );
        assert_eq!(p.time_quality, TimeQuality::InferredYear);
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2026-10-11T22:14:15Z")
        );
        assert_eq!(p.logsource.service.as_deref(), Some("auth"));

        let p = parse_rfc3164(
            b"Oct 11 22:14:15 host.example app[123]: legacy message without PRI",
            &c,
        )
        .expect("no pri");
        assert_eq!(p.fields.get("log.syslog.priority"), Some(&Value::from(13)));
        assert_eq!(p.fields.get("process.pid"), Some(&Value::from(123)));
        assert!(p.notes.iter().any(|n| n.contains("no PRI")));

        let p = parse_rfc3164(
            b"<13>2026-07-23T09:30:45.123+02:00 host daemon: timestamp variant",
            &c,
        )
        .expect("3339");
        assert_eq!(p.time_quality, TimeQuality::Exact);
        assert_eq!(s(&p, "log.syslog.appname"), "daemon");

        let p = parse_rfc3164(b"<0>x", &c).expect("short");
        assert_eq!(s(&p, "message"), "x");
        assert_eq!(p.time_quality, TimeQuality::ReceiveTime);

        let p = parse_rfc3164(b"<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: at Thu Oct 30 13:20:18 IST 2014 random", &c).expect("pix");
        assert_eq!(s(&p, "log.syslog.appname"), "%PIX-7-710005");
        assert_eq!(s(&p, "message"), "at Thu Oct 30 13:20:18 IST 2014 random");

        let p = parse_rfc3164(
            b"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
            &c,
        )
        .expect("loghub");
        assert_eq!(s(&p, "log.syslog.appname"), "sshd(pam_unix)");
        assert_eq!(p.logsource.service.as_deref(), Some("sshd"));

        let p = parse_rfc3164(b"<13>Oct 11 22:14:15 su: no host here", &c).expect("no host");
        assert_eq!(p.fields.get("host.name"), None);
        assert_eq!(s(&p, "log.syslog.appname"), "su");

        let p =
            parse_rfc3164(b"<13>Jan 17 2020 08:52:10 fw01/ha x: year inside", &c).expect("year");
        assert_eq!(p.time_quality, TimeQuality::InferredZone);
        assert_eq!(s(&p, "host.name"), "fw01/ha");

        let p = parse_rfc3164(b" <181>03", &c).expect("leading space");
        assert!(p.notes.iter().any(|n| n.contains("leading spaces")));
        assert_eq!(s(&p, "message"), "03");

        let p = parse_rfc3164(
            b"2019-06-14T10:40:20.912134 localhost sudo: pam_unix(sudo-i:session): session opened",
            &c,
        )
        .expect("naive iso");
        assert_eq!(p.time_quality, TimeQuality::InferredZone);
        assert_eq!(p.logsource.service.as_deref(), Some("sudo"));
    }

    #[test]
    fn syslog_never_drops() {
        let c = ctx();
        for line in [
            &b"<13>1 2026-02-30T00:00:00Z h a - - - bad time"[..],
            b"<999>oops",
            b"<>",
            b"plain text",
        ] {
            let p = parse_syslog(line, &c).expect("kept");
            assert_eq!(p.raw, line);
        }
        let p = parse_syslog(b"<13>1 2026-02-30T00:00:00Z h a - - - bad time", &c).expect("kept");
        assert_eq!(p.format, Format::SyslogUnparsed);
        assert!(p.notes.iter().any(|n| n.contains("RFC 5424")));
        assert_eq!(
            parse_syslog(b"   ", &c).expect_err("empty").kind,
            ErrorKind::Empty
        );
    }
}
