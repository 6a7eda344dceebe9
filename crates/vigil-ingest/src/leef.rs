//! IBM QRadar LEEF 1.0 and 2.0.
//!
//! `LEEF:1.0|Vendor|Product|Version|EventID|attrs` with TAB-separated `key=value` attributes;
//! `LEEF:2.0|Vendor|Product|Version|EventID|Delim|attrs` names the delimiter (one character or
//! hex such as `x09`, `0x5E`). Real senders break the spec (PAN-OS writes LEEF 1.0 with `|`
//! between attributes), so for 1.0, and for 2.0 without a usable delimiter field, the delimiter
//! is sniffed: the candidate (TAB, `|`, `^`) after which most pieces look like `key=`.

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{FieldName, Format, ParseContext, Parsed};
use crate::time::parse_device_time;
use crate::{check_line, lossy};

/// Parses a LEEF record, bare or behind a syslog header.
pub fn parse_leef(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let text = lossy(crate::syslog::trim_eol(line));
    if text.starts_with("LEEF:") {
        let mut p = Parsed::new(Format::Leef, line);
        apply_leef(&mut p, &text, ctx)?;
        return Ok(p);
    }
    let Some(pos) = text.find("LEEF:") else {
        return Err(ParseError::new(ErrorKind::Syntax, "no 'LEEF:' in the line"));
    };
    let mut p = crate::syslog::parse_syslog(line, ctx)?;
    if p.format != Format::Leef {
        apply_leef(&mut p, &text[pos..], ctx).map_err(|e| e.shifted(pos))?;
    }
    Ok(p)
}

fn delimiter_from_field(f: &str) -> Option<char> {
    let f = f.trim();
    let hex = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .or_else(|| f.strip_prefix('x'))
        .or_else(|| f.strip_prefix('X'));
    if let Some(h) = hex
        && !h.is_empty()
        && h.len() <= 4
        && let Ok(n) = u32::from_str_radix(h, 16)
    {
        return char::from_u32(n);
    }
    if f == "\\t" {
        return Some('\t');
    }
    let mut chars = f.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

fn looks_like_pair(piece: &str) -> bool {
    match piece.find('=') {
        Some(0) | None => false,
        Some(n) => piece[..n]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')),
    }
}

fn sniff_delimiter(attrs: &str) -> char {
    let mut best = ('\t', 0usize);
    for cand in ['\t', '|', '^'] {
        let score = attrs.split(cand).filter(|p| looks_like_pair(p)).count();
        if score > best.1 {
            best = (cand, score);
        }
    }
    best.0
}

/// The key=value attributes split by `delim`. A piece without `=` belongs to the previous
/// value (the spec has no escaping, so values may contain the delimiter).
fn split_attrs(attrs: &str, delim: char) -> Result<Vec<(String, String)>, ParseError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for piece in attrs.split(delim) {
        if looks_like_pair(piece) {
            if out.len() >= crate::MAX_FIELDS {
                return Err(ParseError::new(
                    ErrorKind::TooManyFields,
                    "too many LEEF attributes",
                ));
            }
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            out.push((k.to_owned(), v.to_owned()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(delim);
            last.1.push_str(piece);
        } else if !piece.trim().is_empty() {
            return Err(ParseError::new(
                ErrorKind::Syntax,
                format!(
                    "LEEF attributes do not start with key=value: '{}'",
                    truncate(piece)
                ),
            ));
        }
    }
    if let Some(last) = out.last_mut() {
        let trimmed = last.1.trim_end().len();
        last.1.truncate(trimmed);
    }
    Ok(out)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn ecs_name(k: &str) -> Option<(&'static str, bool)> {
    Some(match k {
        "src" => ("source.ip", false),
        "dst" => ("destination.ip", false),
        "srcPort" => ("source.port", true),
        "dstPort" => ("destination.port", true),
        "srcPreNAT" => ("source.ip", false),
        "srcPostNAT" => ("source.nat.ip", false),
        "dstPostNAT" => ("destination.nat.ip", false),
        "srcPostNATPort" => ("source.nat.port", true),
        "dstPostNATPort" => ("destination.nat.port", true),
        "srcMAC" => ("source.mac", false),
        "dstMAC" => ("destination.mac", false),
        "srcBytes" => ("source.bytes", true),
        "dstBytes" => ("destination.bytes", true),
        "totalBytes" => ("network.bytes", true),
        "srcPackets" => ("source.packets", true),
        "dstPackets" => ("destination.packets", true),
        "proto" => ("network.transport", false),
        "usrName" => ("user.name", false),
        "accountName" => ("user.name", false),
        "domain" => ("user.domain", false),
        "identHostName" => ("host.name", false),
        "url" => ("url.original", false),
        "action" => ("event.action", false),
        "policy" => ("rule.name", false),
        "RuleName" => ("rule.name", false),
        "Application" => ("network.application", false),
        "SessionID" => ("network.session_id", false),
        _ => return None,
    })
}

/// Parses `text` (starting at `LEEF:`) over `p`: header into `leef.*`, attributes into
/// `leef.attributes.<key>`, ECS fields for the predefined keys, `devTime` as the event time.
pub(crate) fn apply_leef(p: &mut Parsed, text: &str, ctx: &ParseContext) -> Result<(), ParseError> {
    let Some(body) = text.strip_prefix("LEEF:") else {
        return Err(ParseError::at(ErrorKind::Syntax, 0, "expected 'LEEF:'"));
    };
    let mut parts = body.splitn(6, '|');
    let version = parts.next().unwrap_or_default().trim();
    let vendor = parts.next();
    let product = parts.next();
    let dev_version = parts.next();
    let event_id = parts.next();
    let (Some(vendor), Some(product), Some(dev_version), Some(event_id)) =
        (vendor, product, dev_version, event_id)
    else {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            5,
            "LEEF header needs Version|Vendor|Product|Version|EventID|",
        ));
    };
    if !matches!(version, "1.0" | "2.0" | "1" | "2") {
        return Err(ParseError::at(
            ErrorKind::InvalidValue,
            5,
            format!("LEEF version '{version}' is not 1.0 or 2.0"),
        ));
    }
    let mut rest = parts.next().unwrap_or_default();
    let mut delim = None;
    if version.starts_with('2') {
        // The delimiter field: short and not itself an attribute.
        if let Some((field, after)) = rest.split_once('|')
            && field.len() <= 6
            && !field.contains('=')
        {
            delim = delimiter_from_field(field);
            rest = after;
        }
    }
    let delim = match delim {
        Some(d) => d,
        None => sniff_delimiter(rest),
    };
    let attrs = split_attrs(rest, delim).map_err(|e| e.shifted(text.len() - rest.len()))?;
    p.format = Format::Leef;
    p.native.set("leef.version", version);
    p.native.set("leef.vendor", vendor);
    p.native.set("leef.product", product);
    p.native.set("leef.product_version", dev_version);
    p.native.set("leef.event_id", event_id);
    p.native.set("leef.delimiter", delim.to_string());
    p.fields.set_str("observer.vendor", vendor);
    p.fields.set_str("observer.product", product);
    p.fields.set_str("observer.version", dev_version);
    p.fields.set_str("event.code", event_id);
    p.fields.set_str("event.action", event_id);
    p.fields.set("event.module", "leef");
    p.fields.set("event.kind", "event");
    let mut dev_time = None;
    let mut dev_time_format = None;
    for (k, v) in &attrs {
        p.native
            .set(FieldName::Owned(format!("leef.attributes.{k}")), v.as_str());
        match k.as_str() {
            "devTime" => dev_time = Some(v.clone()),
            "devTimeFormat" => dev_time_format = Some(v.clone()),
            "sev" => {
                if let Ok(n) = v.parse::<u64>() {
                    p.fields.set("event.severity", n);
                }
            }
            "cat" => p.fields.set_str("event.category_name", v),
            _ => {}
        }
        if v.is_empty() {
            continue;
        }
        if let Some((ecs, numeric)) = ecs_name(k) {
            match (numeric, v.parse::<u64>()) {
                (true, Ok(n)) => p.fields.set(ecs, n),
                _ => p.fields.set(ecs, v.as_str()),
            }
        }
    }
    if let Some(t) = dev_time {
        match parse_device_time(&t, &ctx.tz, ctx.received_at) {
            Some((ts, q)) => p.set_time(ts, q, &t),
            None => p.note(format!(
                "LEEF devTime '{t}' not understood (devTimeFormat {})",
                dev_time_format.as_deref().unwrap_or("absent")
            )),
        }
    }
    p.logsource = crate::cef::device_logsource(vendor, product);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsed::TimeQuality;
    use serde_json::Value;

    fn ctx() -> ParseContext {
        ParseContext::new("2025-09-18T00:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn pan_os_pipe_delimited_leef1_behind_syslog() {
        let p = parse_leef(
            b"<14>Sep 17 13:45:35 firewall.domain.local LEEF:1.0|Palo Alto Networks|PAN-OS Syslog Integration|11.1.6-h14|allow|cat=TRAFFIC|devTime=Sep 17 2025 11:45:34 GMT|src=172.19.50.39|dst=172.19.5.50|usrName=|srcPort=62126|dstPort=443|proto=tcp|totalBytes=460",
            &ctx(),
        )
        .expect("parses");
        assert_eq!(p.format, Format::Leef);
        assert_eq!(p.native.get_str("leef.delimiter"), Some("|"));
        assert_eq!(p.fields.get_str("source.ip"), Some("172.19.50.39"));
        assert_eq!(p.fields.get("destination.port"), Some(&Value::from(443)));
        assert_eq!(p.native.get_str("leef.attributes.usrName"), Some(""));
        assert_eq!(p.fields.get("user.name"), None);
        assert_eq!(p.fields.get_str("host.name"), Some("firewall.domain.local"));
        assert_eq!(p.time_quality, TimeQuality::Exact);
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2025-09-17T11:45:34Z")
        );
        assert_eq!(p.logsource.category.as_deref(), Some("firewall"));
    }

    #[test]
    fn leef1_tab_and_leef2_declared_delimiters() {
        let p = parse_leef(
            b"LEEF:1.0|IBM|QRadar|7.5|login|src=10.0.0.1\tusrName=alice smith\tsev=5",
            &ctx(),
        )
        .expect("tab");
        assert_eq!(p.fields.get_str("user.name"), Some("alice smith"));
        assert_eq!(p.fields.get("event.severity"), Some(&Value::from(5)));
        let p = parse_leef(
            b"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.6.1^dst=10.0.6.2^msg=a|b",
            &ctx(),
        )
        .expect("caret");
        assert_eq!(p.native.get_str("leef.delimiter"), Some("^"));
        assert_eq!(p.fields.get_str("destination.ip"), Some("10.0.6.2"));
        assert_eq!(p.native.get_str("leef.attributes.msg"), Some("a|b"));
        let p = parse_leef(b"LEEF:2.0|V|P|1|E|x09|src=1.1.1.1\tdst=2.2.2.2", &ctx()).expect("hex");
        assert_eq!(p.native.get_str("leef.delimiter"), Some("\t"));
        assert_eq!(p.fields.get_str("destination.ip"), Some("2.2.2.2"));
    }

    #[test]
    fn errors() {
        let e = parse_leef(b"LEEF:1.0|V|P", &ctx()).expect_err("short");
        assert_eq!(e.kind, ErrorKind::Syntax);
        let e = parse_leef(b"LEEF:3.0|V|P|1|E|a=b", &ctx()).expect_err("version");
        assert_eq!(e.kind, ErrorKind::InvalidValue);
        let e = parse_leef(b"LEEF:1.0|V|P|1|E|junk\ta=b", &ctx()).expect_err("junk");
        assert!(e.message.contains("key=value"), "{e}");
    }
}
