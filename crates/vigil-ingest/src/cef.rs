//! ArcSight CEF: `CEF:Version|Vendor|Product|Version|Class ID|Name|Severity|Extension`.
//!
//! Header fields escape `\|` and `\\`; extension values escape `\=`, `\\`, `\n`, `\r`, may
//! hold spaces, and run to the next unescaped ` key=`. A `=` after a backslash (`frag\=0x4000`)
//! or inside a word (`?a=b`) is data, not a key boundary. The last value's trailing whitespace
//! is trimmed.

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{FieldName, Format, LogSource, ParseContext, Parsed};
use crate::time::parse_device_time;
use crate::{check_line, lossy};
use serde_json::Value;
use std::borrow::Cow;

/// Parses a CEF record, bare (`CEF:0|...`) or behind a syslog header.
pub fn parse_cef(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let text = lossy(crate::syslog::trim_eol(line));
    if text.starts_with("CEF:") {
        let mut p = Parsed::new(Format::Cef, line);
        apply_cef(&mut p, &text, ctx)?;
        return Ok(p);
    }
    let Some(pos) = text.find("CEF:") else {
        return Err(ParseError::new(ErrorKind::Syntax, "no 'CEF:' in the line"));
    };
    let mut p = crate::syslog::parse_syslog(line, ctx)?;
    if p.format != Format::Cef {
        // The syslog header hid the payload from the sniffer: parse it directly.
        apply_cef(&mut p, &text[pos..], ctx).map_err(|e| e.shifted(pos))?;
    }
    Ok(p)
}

/// Splits the seven header fields; returns them unescaped and the extension text.
fn split_header(text: &str) -> Result<(Vec<String>, &str), ParseError> {
    let b = text.as_bytes();
    let mut fields = Vec::with_capacity(7);
    let mut cur = Vec::new();
    let mut i = 0;
    while i < b.len() && fields.len() < 7 {
        match b[i] {
            b'\\' if matches!(b.get(i + 1), Some(b'|') | Some(b'\\')) => {
                cur.push(b[i + 1]);
                i += 2;
            }
            b'|' => {
                fields.push(String::from_utf8_lossy(&cur).into_owned());
                cur.clear();
                i += 1;
            }
            c => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if fields.len() < 7 {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            i,
            format!("CEF header has {} of 7 '|'-separated fields", fields.len()),
        ));
    }
    Ok((fields, &text[i..]))
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'[' | b']' | b'-')
}

/// Tokenizes a CEF extension into (key, unescaped value) pairs.
pub(crate) fn parse_extension(ext: &str) -> Result<Vec<(String, String)>, ParseError> {
    let b = ext.as_bytes();
    // Key starts: positions of keys whose `=` is unescaped and that begin the text or follow
    // a space.
    let mut keys: Vec<(usize, usize)> = Vec::new(); // (key start, index of '=')
    let mut i = 0;
    while let Some(n) = memchr::memchr(b'=', &b[i..]) {
        let eq = i + n;
        i = eq + 1;
        // An odd number of backslashes before '=' escapes it.
        let bs = b[..eq].iter().rev().take_while(|c| **c == b'\\').count();
        if bs % 2 == 1 {
            continue;
        }
        let mut k = eq;
        while k > 0 && is_key_byte(b[k - 1]) {
            k -= 1;
        }
        if k == eq || !(k == 0 || b[k - 1] == b' ') {
            continue;
        }
        if keys.len() >= crate::MAX_FIELDS {
            return Err(ParseError::at(
                ErrorKind::TooManyFields,
                eq,
                "too many CEF extension keys",
            ));
        }
        keys.push((k, eq));
    }
    let lead = keys.first().map_or(b.len(), |k| k.0);
    if !ext[..lead].trim().is_empty() {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            0,
            "CEF extension does not start with key=value",
        ));
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(k, eq)) in keys.iter().enumerate() {
        let end = match keys.get(n + 1) {
            // The value ends at the space before the next key.
            Some(&(next, _)) => next.saturating_sub(1).max(eq + 1),
            None => b.len(),
        };
        let raw = &ext[eq + 1..end];
        let raw = if n + 1 == keys.len() {
            raw.trim_end()
        } else {
            raw
        };
        out.push((ext[k..eq].to_owned(), unescape_ext(raw)));
    }
    Ok(out)
}

fn unescape_ext(v: &str) -> String {
    if !v.contains('\\') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('=') => out.push('='),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('|') => out.push('|'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Short CEF keys and their full names (the dictionary of "Implementing ArcSight CEF").
fn full_name(k: &str) -> &str {
    match k {
        "act" => "deviceAction",
        "app" => "applicationProtocol",
        "cat" => "deviceEventCategory",
        "cnt" => "baseEventCount",
        "dhost" => "destinationHostName",
        "dmac" => "destinationMacAddress",
        "dntdom" => "destinationNtDomain",
        "dpid" => "destinationProcessId",
        "dpriv" => "destinationUserPrivileges",
        "dproc" => "destinationProcessName",
        "dpt" => "destinationPort",
        "dst" => "destinationAddress",
        "duid" => "destinationUserId",
        "duser" => "destinationUserName",
        "dvc" => "deviceAddress",
        "dvchost" => "deviceHostName",
        "dvcpid" => "deviceProcessId",
        "end" => "endTime",
        "fname" => "fileName",
        "fsize" => "fileSize",
        "in" => "bytesIn",
        "msg" => "message",
        "out" => "bytesOut",
        "outcome" => "eventOutcome",
        "proto" => "transportProtocol",
        "request" => "requestUrl",
        "rt" => "receiptTime",
        "shost" => "sourceHostName",
        "smac" => "sourceMacAddress",
        "sntdom" => "sourceNtDomain",
        "spid" => "sourceProcessId",
        "spriv" => "sourceUserPrivileges",
        "sproc" => "sourceProcessName",
        "spt" => "sourcePort",
        "src" => "sourceAddress",
        "start" => "startTime",
        "suid" => "sourceUserId",
        "suser" => "sourceUserName",
        "externalId" => "externalId",
        other => other,
    }
}

/// The ECS name a (full-name) CEF key maps to, and whether its value is numeric.
fn ecs_name(full: &str) -> Option<(&'static str, bool)> {
    Some(match full {
        "sourceAddress" => ("source.ip", false),
        "sourcePort" => ("source.port", true),
        "sourceHostName" => ("source.domain", false),
        "sourceMacAddress" => ("source.mac", false),
        "sourceUserName" => ("source.user.name", false),
        "sourceUserId" => ("source.user.id", false),
        "sourceTranslatedAddress" => ("source.nat.ip", false),
        "sourceTranslatedPort" => ("source.nat.port", true),
        "destinationAddress" => ("destination.ip", false),
        "destinationPort" => ("destination.port", true),
        "destinationHostName" => ("destination.domain", false),
        "destinationMacAddress" => ("destination.mac", false),
        "destinationUserName" => ("destination.user.name", false),
        "destinationUserId" => ("destination.user.id", false),
        "destinationTranslatedAddress" => ("destination.nat.ip", false),
        "destinationTranslatedPort" => ("destination.nat.port", true),
        "destinationProcessName" => ("process.name", false),
        "destinationProcessId" => ("process.pid", true),
        "deviceAction" => ("event.action", false),
        "deviceAddress" => ("observer.ip", false),
        "deviceHostName" => ("observer.hostname", false),
        "deviceExternalId" => ("observer.name", false),
        "deviceOutboundInterface" => ("observer.egress.interface.name", false),
        "deviceInboundInterface" => ("observer.ingress.interface.name", false),
        "transportProtocol" => ("network.transport", false),
        "applicationProtocol" => ("network.protocol", false),
        "bytesIn" => ("source.bytes", true),
        "bytesOut" => ("destination.bytes", true),
        "message" => ("message", false),
        "requestUrl" => ("url.original", false),
        "requestMethod" => ("http.request.method", false),
        "requestClientApplication" => ("user_agent.original", false),
        "requestContext" => ("http.request.referrer", false),
        "fileName" => ("file.name", false),
        "filePath" => ("file.path", false),
        "fileSize" => ("file.size", true),
        "eventOutcome" => ("event.outcome", false),
        "deviceEventCategory" => ("event.category_name", false),
        "externalId" => ("event.id", false),
        "baseEventCount" => ("event.count", true),
        _ => return None,
    })
}

fn severity_number(s: &str) -> Option<u64> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Some(n.min(10));
    }
    match s.trim().to_ascii_lowercase().as_str() {
        "unknown" => Some(0),
        "low" => Some(3),
        "medium" => Some(6),
        "high" => Some(8),
        "very-high" | "very high" => Some(10),
        _ => None,
    }
}

fn hash_field(v: &str) -> Option<&'static str> {
    if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    match v.len() {
        32 => Some("file.hash.md5"),
        40 => Some("file.hash.sha1"),
        64 => Some("file.hash.sha256"),
        128 => Some("file.hash.sha512"),
        _ => None,
    }
}

/// The Sigma log source for a device, keyed by (vendor, product).
pub(crate) fn device_logsource(vendor: &str, product: &str) -> LogSource {
    let v = vendor.to_ascii_lowercase();
    let p = product.to_ascii_lowercase();
    let category: Option<&'static str> = if [
        "palo alto",
        "fortinet",
        "check point",
        "checkpoint",
        "forcepoint",
        "juniper",
        "sonicwall",
        "cisco",
        "sophos",
        "watchguard",
        "hillstone",
        "sangfor",
        "huawei",
        "h3c",
        "topsec",
        "venustech",
        "nsfocus",
    ]
    .iter()
    .any(|x| v.contains(x))
        && (p.contains("firewall")
            || p.contains("pan-os")
            || p.contains("fortigate")
            || p.contains("asa")
            || p.contains("ngfw")
            || p.contains("usg")
            || !p.contains("proxy"))
    {
        Some("firewall")
    } else if p.contains("proxy")
        || ["zscaler", "blue coat", "bluecoat", "squid"]
            .iter()
            .any(|x| v.contains(x))
    {
        Some("proxy")
    } else if [
        "symantec",
        "mcafee",
        "trend micro",
        "kaspersky",
        "eset",
        "sophos",
    ]
    .iter()
    .any(|x| v.contains(x))
    {
        Some("antivirus")
    } else if p.contains("dns") {
        Some("dns")
    } else {
        None
    };
    LogSource {
        product: Some(Cow::Owned(product.to_ascii_lowercase())),
        category: category.map(Cow::Borrowed),
        service: None,
    }
}

/// Parses `text` (starting at `CEF:`) over `p`: header into `cef.*`, extensions into
/// `cef.extensions.<key as written>`, ECS fields from the key dictionary, custom-slot labels
/// resolved into `cef.custom.<label>`. `rt` sets the time when it parses.
pub(crate) fn apply_cef(p: &mut Parsed, text: &str, ctx: &ParseContext) -> Result<(), ParseError> {
    let Some(body) = text.strip_prefix("CEF:") else {
        return Err(ParseError::at(ErrorKind::Syntax, 0, "expected 'CEF:'"));
    };
    let (h, ext) = split_header(body).map_err(|e| e.shifted(4))?;
    let version = h[0].trim();
    if version.is_empty() || !version.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            4,
            format!("CEF version '{version}' is not a number"),
        ));
    }
    let ext_offset = text.len() - ext.len();
    let pairs = parse_extension(ext).map_err(|e| e.shifted(ext_offset))?;
    p.format = Format::Cef;
    let n = &mut p.native;
    n.set("cef.version", version);
    n.set("cef.device.vendor", h[1].as_str());
    n.set("cef.device.product", h[2].as_str());
    n.set("cef.device.version", h[3].as_str());
    n.set("cef.device.event_class_id", h[4].as_str());
    n.set("cef.name", h[5].as_str());
    n.set("cef.severity", h[6].as_str());
    let f = &mut p.fields;
    f.set_str("observer.vendor", &h[1]);
    f.set_str("observer.product", &h[2]);
    f.set_str("observer.version", &h[3]);
    f.set_str("event.code", &h[4]);
    f.set_str("rule.name", &h[5]);
    f.set("event.module", "cef");
    f.set("event.dataset", "cef.log");
    if let Some(sev) = severity_number(&h[6]) {
        f.set("event.severity", sev);
    }
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut time_text: Option<String> = None;
    for (k, v) in &pairs {
        p.native
            .set(FieldName::Owned(format!("cef.extensions.{k}")), v.as_str());
        if k.ends_with("Label") {
            labels.push((k.trim_end_matches("Label").to_owned(), v.clone()));
            continue;
        }
        let full = full_name(k);
        if full == "receiptTime" {
            time_text = Some(v.clone());
        }
        if matches!(full, "fileHash" | "oldFileHash") {
            if let (Some(name), "fileHash") = (hash_field(v), full) {
                p.fields.set(name, v.as_str());
            }
            continue;
        }
        if let Some((ecs, numeric)) = ecs_name(full) {
            if v.is_empty() {
                continue;
            }
            if numeric {
                match v.trim().parse::<u64>() {
                    Ok(num) => p.fields.set(ecs, num),
                    Err(_) => p.fields.set(ecs, v.as_str()),
                }
            } else {
                p.fields.set(ecs, v.as_str());
            }
        }
    }
    for (slot, label) in labels {
        if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == slot)
            && !label.is_empty()
        {
            p.native
                .set(FieldName::Owned(format!("cef.custom.{label}")), v.as_str());
        }
    }
    // User: the acting user when named, else the target.
    let user = p
        .fields
        .get_str("source.user.name")
        .or_else(|| p.fields.get_str("destination.user.name"))
        .map(str::to_owned);
    if let Some(u) = user {
        p.fields.set("user.name", u);
    }
    if let Some(host) = p.fields.get_str("observer.hostname").map(str::to_owned) {
        p.fields.set_default("host.name", host);
    }
    if p.fields.get("message").is_none() || p.format == Format::Cef {
        let msg = pairs
            .iter()
            .find(|(k, _)| k == "msg" || k == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| h[5].clone());
        p.fields.set("message", msg);
    }
    if let Some(t) = time_text {
        match parse_device_time(&t, &ctx.tz, ctx.received_at) {
            Some((ts, q)) => p.set_time(ts, q, &t),
            None => p.note(format!("CEF rt '{t}' is not a known time form")),
        }
    }
    p.logsource = device_logsource(&h[1], &h[2]);
    if p.fields.get("event.kind").is_none() {
        p.fields.set("event.kind", Value::from("event"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsed::TimeQuality;

    fn ctx() -> ParseContext {
        ParseContext::new("2020-01-18T00:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn header_escapes() {
        let p = parse_cef(br"CEF:0|Vendor\|X|prod\\name|1.0|100|name|3|", &ctx()).expect("parses");
        assert_eq!(p.native.get_str("cef.device.vendor"), Some("Vendor|X"));
        assert_eq!(p.native.get_str("cef.device.product"), Some(r"prod\name"));
        // In the header only \| and \\ are escapes.
        let p = parse_cef(br"CEF:0|V|P|1.0|CVE\=2021\%1234\#x|vuln|8|", &ctx()).expect("parses");
        assert_eq!(
            p.native.get_str("cef.device.event_class_id"),
            Some(r"CVE\=2021\%1234\#x")
        );
        assert_eq!(p.fields.get("event.severity"), Some(&Value::from(8)));
    }

    #[test]
    fn extension_values_with_spaces_escapes_and_trailing_blanks() {
        let p = parse_cef(
            b"CEF:0|FORCEPOINT|Firewall|6.6.1|70018|Connection_Allowed|0|deviceExternalId=Master FW node 1 src=10.37.205.252 msg=Referred connection: 10.1.1.40 -> 10.37.133.35 frag\\=0x4000 TCP 47413->3020 rt=Jan 17 2020 08:52:09 cs1Label=RuleID cs1=605.0 request=https://x/?a=b&c=d filePath=C:\\\\dir\\\\file.txt note=line1\\nline2 last=padded     ",
            &ctx(),
        )
        .expect("parses");
        let ext = |k: &str| {
            p.native
                .get_str(&format!("cef.extensions.{k}"))
                .map(str::to_owned)
        };
        assert_eq!(ext("deviceExternalId").as_deref(), Some("Master FW node 1"));
        assert_eq!(
            ext("msg").as_deref(),
            Some("Referred connection: 10.1.1.40 -> 10.37.133.35 frag=0x4000 TCP 47413->3020")
        );
        assert_eq!(ext("request").as_deref(), Some("https://x/?a=b&c=d"));
        assert_eq!(ext("filePath").as_deref(), Some(r"C:\dir\file.txt"));
        assert_eq!(ext("note").as_deref(), Some("line1\nline2"));
        assert_eq!(ext("last").as_deref(), Some("padded"));
        assert_eq!(p.native.get_str("cef.custom.RuleID"), Some("605.0"));
        assert_eq!(p.fields.get_str("source.ip"), Some("10.37.205.252"));
        assert_eq!(p.fields.get_str("observer.name"), Some("Master FW node 1"));
        assert_eq!(p.time_quality, TimeQuality::InferredZone);
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2020-01-17T08:52:09Z")
        );
        assert_eq!(p.logsource.category.as_deref(), Some("firewall"));
    }

    #[test]
    fn behind_syslog_and_errors() {
        let p = parse_cef(
            b"<134>Jan 17 08:52:09 fw01 CEF:1|V|P|2.0|99|n|7|src=1.2.3.4 dst=5.6.7.8 spt=514 suser=bob",
            &ctx(),
        )
        .expect("parses");
        assert_eq!(p.format, Format::Cef);
        assert_eq!(p.fields.get_str("host.name"), Some("fw01"));
        assert_eq!(p.fields.get("source.port"), Some(&Value::from(514)));
        assert_eq!(p.fields.get_str("user.name"), Some("bob"));
        assert_eq!(p.native.get_str("cef.version"), Some("1"));
        let e = parse_cef(b"CEF:0|a|b|c", &ctx()).expect_err("short header");
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert!(e.message.contains("of 7"), "{e}");
        let e = parse_cef(b"CEF:x|a|b|c|d|e|f|", &ctx()).expect_err("bad version");
        assert_eq!(e.kind, ErrorKind::InvalidValue);
        let e = parse_cef(b"CEF:0|a|b|c|d|e|f|garbage k=v", &ctx()).expect_err("bad ext");
        assert!(e.message.contains("extension"), "{e}");
        assert!(parse_cef(b"no cef here", &ctx()).is_err());
    }

    #[test]
    fn severity_words() {
        let p = parse_cef(
            b"CEF:0|Elastic|Vaporware|1.0.0-alpha|18|Web request|low|eventId=3457",
            &ctx(),
        )
        .expect("ok");
        assert_eq!(p.fields.get("event.severity"), Some(&Value::from(3)));
        assert_eq!(p.fields.get_str("message"), Some("Web request"));
    }
}
