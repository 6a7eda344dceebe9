//! Apache / nginx access logs: NCSA common, combined, vhost_combined, and combined with extra
//! quoted fields (nginx's `"$http_x_forwarded_for"`).
//!
//! `[%v[:%p] ]%h %l %u [%t] "%r" %>s %b ["%{Referer}i" "%{User-agent}i" ...]`. Quoted fields
//! escape `"` and `\` with a backslash and non-printables as `\xHH` (kept as written: they are
//! evidence). The request may be `-` (408), TLS garbage, or an absolute URI (proxy); size `-`
//! is 0. Besides ECS, the W3C names Sigma's `webserver` rules use are kept under
//! `webserver.*` (`cs-method`, `c-uri`, `c-uri-query`, `sc-status`, `cs-user-agent`, `c-ip`,
//! `cs-referer`, ...).

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{Format, LogSource, ParseContext, Parsed, TimeQuality};
use crate::time::parse_clf;
use crate::{check_line, lossy};
use std::borrow::Cow;

fn quoted(b: &[u8], start: usize) -> Result<(String, usize), ParseError> {
    // b[start] == '"'
    let mut i = start + 1;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'\\' if matches!(b.get(i + 1), Some(b'"') | Some(b'\\')) => {
                out.push(b[i + 1]);
                i += 2;
            }
            b'"' => return Ok((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(ParseError::at(
        ErrorKind::Syntax,
        start,
        "quoted field not closed",
    ))
}

fn token(b: &[u8], start: usize) -> (&[u8], usize) {
    let end = memchr::memchr(b' ', &b[start..]).map_or(b.len(), |n| start + n);
    (&b[start..end], end)
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Parses one access-log line.
pub fn parse_access(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    let b = crate::syslog::trim_eol(line);
    let Some(open) = memchr::memchr(b'[', b) else {
        return Err(ParseError::new(
            ErrorKind::Syntax,
            "no '[' starting the time",
        ));
    };
    let head: Vec<&[u8]> = b[..open]
        .split(|c| *c == b' ')
        .filter(|t| !t.is_empty())
        .collect();
    let (vhost, host, ident, user) = match head.as_slice() {
        [h, l, u] => (None, *h, *l, *u),
        [v, h, l, u] => (Some(*v), *h, *l, *u),
        _ => {
            return Err(ParseError::at(
                ErrorKind::Syntax,
                0,
                format!(
                    "expected 3 or 4 fields before the time, found {}",
                    head.len()
                ),
            ));
        }
    };
    let Some(close) = memchr::memchr(b']', &b[open..]).map(|n| open + n) else {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            open,
            "time not closed by ']'",
        ));
    };
    let time = &b[open + 1..close];
    let Some(t) = parse_clf(time) else {
        return Err(ParseError::at(
            ErrorKind::Timestamp,
            open + 1,
            format!("'{}' is not dd/Mon/yyyy:HH:MM:SS +zzzz", lossy(time)),
        ));
    };
    let mut i = skip_spaces(b, close + 1);
    if b.get(i) != Some(&b'"') {
        return Err(ParseError::at(
            ErrorKind::Syntax,
            i,
            "expected the quoted request",
        ));
    }
    let (request, next) = quoted(b, i)?;
    i = skip_spaces(b, next);
    let (status, next) = token(b, i);
    let status_at = i;
    i = skip_spaces(b, next);
    let status: u16 = std::str::from_utf8(status)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| {
            ParseError::at(
                ErrorKind::InvalidValue,
                status_at,
                format!("status '{}' is not a number", lossy(status)),
            )
        })?;
    let (size, next) = token(b, i);
    let size_at = i;
    i = skip_spaces(b, next);
    let size: u64 = match size {
        b"-" | b"" => 0,
        s => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ParseError::at(
                    ErrorKind::InvalidValue,
                    size_at,
                    format!("size '{}' is not a number", lossy(s)),
                )
            })?,
    };
    let mut extra = Vec::new();
    while b.get(i) == Some(&b'"') {
        let (v, next) = quoted(b, i)?;
        extra.push(v);
        i = skip_spaces(b, next);
    }

    let mut p = Parsed::new(Format::AccessLog, line);
    p.set_time(t, TimeQuality::Exact, &lossy(time));
    let f = &mut p.fields;
    f.set("event.module", "web");
    f.set("event.dataset", "web.access");
    f.set("event.kind", "event");
    f.set("event.category", "web");
    let host = lossy(host);
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if is_ip {
        f.set("source.ip", crate::eve::canonical_ip(&host).into_owned());
    } else {
        f.set("source.domain", host.as_ref());
    }
    if ident != b"-" {
        p.native.set("webserver.ident", lossy(ident).into_owned());
    }
    if user != b"-" {
        p.fields.set("user.name", lossy(user).into_owned());
    }
    let f = &mut p.fields;
    f.set("http.response.status_code", status);
    f.set("http.response.body.bytes", size);
    f.set(
        "event.outcome",
        if status < 400 { "success" } else { "failure" },
    );
    if let Some(v) = vhost {
        let v = lossy(v);
        let (name, port) = match v.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|c| c.is_ascii_digit()) && !p.is_empty() => (n, Some(p)),
            _ => (v.as_ref(), None),
        };
        f.set("destination.domain", name);
        f.set("url.domain", name);
        if let Some(port) = port.and_then(|p| p.parse::<u16>().ok()) {
            f.set("destination.port", port);
        }
    }
    f.set("http.request.original", request.as_str());
    let parts: Vec<&str> = request.splitn(3, ' ').collect();
    let n = &mut p.native;
    n.set("webserver.c-ip", host.into_owned());
    n.set("webserver.sc-status", status);
    n.set("webserver.sc-bytes", size);
    if let [method, target, proto] = parts.as_slice()
        && proto.starts_with("HTTP/")
    {
        let f = &mut p.fields;
        f.set("http.request.method", *method);
        f.set("http.version", proto.trim_start_matches("HTTP/"));
        f.set("url.original", *target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = match path.split_once("://") {
            Some((scheme, rest)) => {
                f.set("url.scheme", scheme);
                let (dom, p) = rest
                    .split_once('/')
                    .map_or((rest, "/"), |(d, _)| (d, &rest[d.len()..]));
                f.set("url.domain", dom);
                p
            }
            None => path,
        };
        f.set("url.path", path);
        if !query.is_empty() {
            f.set("url.query", query);
        }
        let n = &mut p.native;
        n.set("webserver.cs-method", *method);
        n.set("webserver.c-uri", *target);
        n.set("webserver.cs-uri-stem", path);
        if !query.is_empty() {
            n.set("webserver.c-uri-query", query);
        }
        n.set("webserver.cs-version", *proto);
    } else if request != "-" {
        p.note("request line is not METHOD TARGET HTTP/x");
    }
    if let Some(r) = extra.first().filter(|r| r.as_str() != "-") {
        p.fields.set("http.request.referrer", r.as_str());
        p.native.set("webserver.cs-referer", r.as_str());
    }
    if let Some(ua) = extra.get(1).filter(|r| r.as_str() != "-") {
        p.fields.set("user_agent.original", ua.as_str());
        p.native.set("webserver.cs-user-agent", ua.as_str());
    }
    if let Some(xff) = extra.get(2).filter(|r| r.as_str() != "-") {
        p.native.set("webserver.x-forwarded-for", xff.as_str());
    }
    p.logsource = LogSource {
        product: ctx.web_product.clone().map(Cow::Owned),
        category: Some(Cow::Borrowed("webserver")),
        service: Some(Cow::Borrowed("access")),
    };
    Ok(p)
}

/// True when the line has the shape of an access log: fields, then `[dd/Mon/yyyy:`.
pub(crate) fn looks_like_access(b: &[u8]) -> bool {
    let Some(open) = memchr::memchr(b'[', b) else {
        return false;
    };
    open > 0
        && b[open - 1] == b' '
        && b.get(open + 3) == Some(&b'/')
        && b.get(open + 7) == Some(&b'/')
        && b.get(open + 12) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-01T09:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn combined_with_escapes() {
        let p = parse_access(br#"192.168.33.1 - bob [26/Dec/2016:16:22:13 +0200] "GET /hello?x=\"1\" HTTP/1.1" 404 499 "-" "Mozilla/5.0 \x16\x03" "10.0.0.1, 10.0.0.2""#, &ctx()).expect("parses");
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2016-12-26T14:22:13Z")
        );
        assert_eq!(p.fields.get_str("url.path"), Some("/hello"));
        assert_eq!(p.fields.get_str("url.query"), Some("x=\"1\""));
        assert_eq!(p.fields.get_str("user.name"), Some("bob"));
        assert_eq!(
            p.fields.get("http.response.status_code"),
            Some(&Value::from(404))
        );
        assert_eq!(
            p.fields.get_str("user_agent.original"),
            Some(r"Mozilla/5.0 \x16\x03")
        );
        assert_eq!(
            p.native.get_str("webserver.x-forwarded-for"),
            Some("10.0.0.1, 10.0.0.2")
        );
        assert_eq!(p.native.get_str("webserver.cs-method"), Some("GET"));
        assert_eq!(p.logsource.category.as_deref(), Some("webserver"));
    }

    #[test]
    fn timeouts_ipv6_hostnames_vhosts_and_proxies() {
        let p = parse_access(br#"::1 - - [26/Dec/2016:16:16:48 +0200] "-" 408 -"#, &ctx())
            .expect("408");
        assert_eq!(p.fields.get_str("source.ip"), Some("::1"));
        assert_eq!(
            p.fields.get("http.response.body.bytes"),
            Some(&Value::from(0))
        );
        assert_eq!(p.fields.get("http.request.method"), None);
        let p = parse_access(br#"monitoring-server - - [29/May/2017:19:02:48 +0000] "GET /status HTTP/1.1" 200 612 "-" "-" "-""#, &ctx()).expect("host");
        assert_eq!(p.fields.get_str("source.domain"), Some("monitoring-server"));
        let p = parse_access(br#"vhost1.example:8080 123.123.123.123 - - [04/Jul/2019:09:20:46 +0200] "GET http://proxy.example/a?b HTTP/1.1" 200 1"#, &ctx()).expect("vhost");
        assert_eq!(p.fields.get("destination.port"), Some(&Value::from(8080)));
        assert_eq!(p.fields.get_str("url.domain"), Some("proxy.example"));
        assert_eq!(p.fields.get_str("url.path"), Some("/a"));
        let p = parse_access(
            br#"1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] "\x16\x03\x01\x00" 400 0"#,
            &ctx(),
        )
        .expect("tls garbage");
        assert!(p.notes.iter().any(|n| n.contains("request line")));
    }

    #[test]
    fn errors() {
        for (line, kind) in [
            (
                &br#"1.2.3.4 - - [99/Foo/2019:09:20:46 +0200] "GET / HTTP/1.1" 200 1"#[..],
                ErrorKind::Timestamp,
            ),
            (
                br#"1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1 200 1"#,
                ErrorKind::Syntax,
            ),
            (
                br#"1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1" abc 1"#,
                ErrorKind::InvalidValue,
            ),
            (
                br#"1.2.3.4 [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1" 200 1"#,
                ErrorKind::Syntax,
            ),
        ] {
            assert_eq!(parse_access(line, &ctx()).expect_err("bad").kind, kind);
        }
    }
}
