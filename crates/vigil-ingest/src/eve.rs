//! Suricata EVE JSON, every event type.
//!
//! Common keys map to ECS (`source.*`, `destination.*`, `network.*`, `observer.*`); the
//! per-type sub-object is mapped for alert, http, dns (v1/v2 per-record and v3 `queries` /
//! grouped `answers` shapes, detected by shape), tls, fileinfo, flow/netflow, ssh, smtp;
//! everything, mapped or not, is kept under `suricata.eve.*`. `flow_id` stays an exact u64
//! (serde_json keeps integers as integers; nothing goes through f64). Timestamps carry offsets
//! without a colon (`-0400`) or none at all (naive: the sensor's zone is assumed).

use crate::error::{ErrorKind, ParseError};
use crate::eve_walk::{Ctx, K, Walk, k, walk};
use crate::json::{flatten_into, json_error, parse_object};
use crate::parsed::{Format, LogSource, ParseContext, Parsed};
use crate::time::{parse_iso, resolve_iso};
use crate::{MAX_REJECT_RAW, Reject, check_line};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Parses one EVE record (one NDJSON line).
pub fn parse_eve(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(line)?;
    match walk(line) {
        Some(w) => {
            let mut p = map_eve(Obj::Walk(&w), line, ctx)?;
            p.native = w.native;
            Ok(p)
        }
        None => {
            let map = parse_object(line, "EVE record")?;
            eve_from_map(map, line, ctx)
        }
    }
}

/// Parses an EVE document: NDJSON, or a JSON array of records (as `jq` writes them). Returns
/// the events and the records that failed.
pub fn parse_eve_document(doc: &[u8], ctx: &ParseContext) -> (Vec<Parsed>, Vec<Reject>) {
    let start = doc
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(doc.len());
    if doc.get(start) != Some(&b'[') {
        return crate::parse_lines(doc, |l| parse_eve(l, ctx));
    }
    if doc.len() > crate::MAX_DOCUMENT_BYTES {
        let e = ParseError::new(
            ErrorKind::TooLong,
            format!("JSON array longer than {} bytes", crate::MAX_DOCUMENT_BYTES),
        );
        return (
            Vec::new(),
            vec![Reject::new(1, 0, e, &doc[..doc.len().min(MAX_REJECT_RAW)])],
        );
    }
    match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(doc) {
        Ok(items) => {
            let mut events = Vec::with_capacity(items.len());
            let mut rejects = Vec::new();
            for (n, item) in items.into_iter().enumerate() {
                let raw = item.get().as_bytes();
                let offset = raw.as_ptr() as usize - doc.as_ptr() as usize;
                match parse_eve(raw, ctx) {
                    Ok(p) => events.push(p),
                    Err(e) => rejects.push(Reject::new(n + 1, offset, e, raw)),
                }
            }
            (events, rejects)
        }
        Err(e) => {
            let err = json_error(&e, "EVE array");
            (Vec::new(), vec![Reject::new(1, start, err, doc)])
        }
    }
}

/// A record object: a parsed tree, or the slots of a single-pass walk.
#[derive(Clone, Copy)]
enum Obj<'a> {
    Map(&'a Map<String, Value>),
    Walk(&'a Walk<'a>),
}

impl<'a> Obj<'a> {
    fn get(self, k: K) -> Option<&'a Value> {
        match self {
            Obj::Map(m) => m.get(k.key),
            Obj::Walk(w) => w.value(k.slot),
        }
    }

    fn get_str(self, k: K) -> Option<&'a str> {
        self.get(k).and_then(Value::as_str)
    }

    fn obj(self, k: K) -> Option<Obj<'a>> {
        match self {
            Obj::Map(m) => m.get(k.key).and_then(Value::as_object).map(Obj::Map),
            Obj::Walk(w) => w.is_object(k.slot).then_some(self),
        }
    }
}

/// IPv6 in long form (`fe80:0000:...`) in canonical form; anything else as given.
pub(crate) fn canonical_ip(s: &str) -> Cow<'_, str> {
    if s.contains(':')
        && let Ok(ip) = s.parse::<std::net::IpAddr>()
    {
        return Cow::Owned(ip.to_string());
    }
    Cow::Borrowed(s)
}

pub(crate) fn eve_from_map(
    map: Map<String, Value>,
    raw: &[u8],
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let mut p = map_eve(Obj::Map(&map), raw, ctx)?;
    let mut prefix = String::from("suricata.eve.");
    flatten_into(&mut p.native, &mut prefix, map, 0)?;
    Ok(p)
}

/// Everything but the native fields.
fn map_eve(m: Obj<'_>, raw: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    check_line(raw)?;
    let Some(event_type) = m.get_str(const { k(Ctx::Top, "event_type") }) else {
        return Err(ParseError::new(
            ErrorKind::Syntax,
            "EVE record has no string 'event_type'",
        ));
    };
    let mut p = Parsed::with_field_capacity(Format::SuricataEve, raw, 32);
    match m.get_str(const { k(Ctx::Top, "timestamp") }) {
        Some(ts) => {
            let (t, q) = parse_iso(ts.as_bytes())
                .and_then(|iso| resolve_iso(&iso, &ctx.tz))
                .ok_or_else(|| {
                    ParseError::new(
                        ErrorKind::Timestamp,
                        format!("timestamp '{ts}' is not ISO 8601"),
                    )
                })?;
            p.set_time(t, q, ts);
        }
        None => p.note("no timestamp: receive time used"),
    }
    let f = &mut p.fields;
    f.set("event.module", "suricata");
    f.set("event.dataset", "suricata.eve");
    f.set("event.type", event_type);
    for (key, ecs) in [
        (const { k(Ctx::Top, "src_ip") }, "source.ip"),
        (const { k(Ctx::Top, "dest_ip") }, "destination.ip"),
    ] {
        if let Some(ip) = m.get_str(key) {
            f.set(ecs, canonical_ip(ip).into_owned());
        }
    }
    for (key, ecs) in [
        (const { k(Ctx::Top, "src_port") }, "source.port"),
        (const { k(Ctx::Top, "dest_port") }, "destination.port"),
    ] {
        if let Some(n) = m.get(key).filter(|v| v.is_u64()) {
            f.set(ecs, n.clone());
        }
    }
    if let Some(proto) = m.get_str(const { k(Ctx::Top, "proto") }) {
        f.set("network.transport", proto.to_ascii_lowercase());
    }
    if let Some(app) = m.get_str(const { k(Ctx::Top, "app_proto") }) {
        f.set("network.protocol", app);
    }
    if let Some(c) = m.get_str(const { k(Ctx::Top, "community_id") }) {
        f.set("network.community_id", c);
    }
    if let Some(i) = m.get_str(const { k(Ctx::Top, "in_iface") }) {
        f.set("observer.ingress.interface.name", i);
    }
    if let Some(h) = m.get_str(const { k(Ctx::Top, "host") }) {
        f.set("observer.hostname", h);
    }
    let mut category: Option<&'static str> = None;
    match event_type {
        "alert" => {
            f.set("event.kind", "alert");
            f.set("event.category", "intrusion_detection");
            if let Some(a) = m.obj(const { k(Ctx::Top, "alert") }) {
                map_alert(f, a);
            }
        }
        "stats" => f.set("event.kind", "metric"),
        "anomaly" => f.set("event.kind", "event"),
        "drop" => {
            f.set("event.kind", "event");
            f.set("event.action", "dropped");
        }
        _ => {
            f.set("event.kind", "event");
            f.set("event.category", "network");
        }
    }
    if let Some(h) = m.obj(const { k(Ctx::Top, "http") }) {
        map_http(f, h);
        if event_type == "http" {
            category = Some("proxy");
        }
    }
    if let Some(d) = m.obj(const { k(Ctx::Top, "dns") }) {
        map_dns(f, d);
        if event_type == "dns" {
            category = Some("dns");
        }
    }
    if let Some(t) = m.obj(const { k(Ctx::Top, "tls") }) {
        map_tls(f, t);
    }
    if let Some(fi) = m.obj(const { k(Ctx::Top, "fileinfo") }) {
        map_fileinfo(f, fi);
    }
    if let Some(fl) = m.obj(const { k(Ctx::Top, "flow") }) {
        map_flow(f, fl, &const { flow_keys(Ctx::Flow) });
    }
    if let Some(fl) = m.obj(const { k(Ctx::Top, "netflow") }) {
        map_flow(f, fl, &const { flow_keys(Ctx::Netflow) });
    }
    if let Some(c) = m
        .obj(const { k(Ctx::Top, "ssh") })
        .and_then(|ssh| ssh.obj(const { k(Ctx::Ssh, "client") }))
        .and_then(|c| c.get_str(const { k(Ctx::SshClient, "software_version") }))
    {
        f.set("source.user_agent", c);
    }
    if let Some(smtp) = m.obj(const { k(Ctx::Top, "smtp") }) {
        if let Some(v) = smtp.get_str(const { k(Ctx::Smtp, "mail_from") }) {
            f.set("email.from.address", v.trim_matches(['<', '>']));
        }
        if let Some(h) = smtp.get_str(const { k(Ctx::Smtp, "helo") }) {
            f.set("source.domain", h);
        }
    }
    let service: Cow<'static, str> = if event_type == "stats" {
        Cow::Borrowed("stats")
    } else {
        Cow::Owned(event_type.to_owned())
    };
    p.logsource = LogSource {
        product: Some(Cow::Borrowed("suricata")),
        category: category.map(Cow::Borrowed),
        service: Some(service),
    };
    Ok(p)
}

fn map_alert(f: &mut crate::Fields, a: Obj<'_>) {
    const SID: K = k(Ctx::Alert, "signature_id");
    const REV: K = k(Ctx::Alert, "rev");
    if let Some(v) = a.get(SID) {
        f.set("rule.id", v.clone());
    }
    if let Some(v) = a.get_str(const { k(Ctx::Alert, "signature") }) {
        f.set("rule.name", v);
        f.set("message", v);
    }
    if let Some(v) = a.get_str(const { k(Ctx::Alert, "category") }) {
        f.set("rule.category", v);
    }
    if let Some(v) = a.get(REV) {
        f.set("rule.version", v.clone());
    }
    if let Some(v) = a
        .get(const { k(Ctx::Alert, "severity") })
        .filter(|v| v.is_u64())
    {
        f.set("event.severity", v.clone());
    }
    if let Some(v) = a.get_str(const { k(Ctx::Alert, "action") }) {
        f.set("event.action", v);
        f.set(
            "event.outcome",
            if v == "blocked" { "failure" } else { "success" },
        );
    }
    if let (Some(gid), Some(sid), Some(rev)) = (
        a.get(const { k(Ctx::Alert, "gid") })
            .and_then(Value::as_u64),
        a.get(SID).and_then(Value::as_u64),
        a.get(REV).and_then(Value::as_u64),
    ) {
        f.set("rule.uuid", format!("{gid}:{sid}:{rev}"));
    }
}

fn map_http(f: &mut crate::Fields, h: Obj<'_>) {
    if let Some(v) = h.get_str(const { k(Ctx::Http, "hostname") }) {
        f.set("url.domain", v);
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "url") }) {
        f.set("url.original", v);
        let (path, query) = v.split_once('?').unwrap_or((v, ""));
        f.set("url.path", path);
        if !query.is_empty() {
            f.set("url.query", query);
        }
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "http_method") }) {
        f.set("http.request.method", v);
    }
    if let Some(v) = h
        .get(const { k(Ctx::Http, "status") })
        .filter(|v| v.is_u64())
    {
        f.set("http.response.status_code", v.clone());
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "http_user_agent") }) {
        f.set("user_agent.original", v);
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "http_refer") }) {
        f.set("http.request.referrer", v);
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "protocol") }) {
        f.set("http.version", v.trim_start_matches("HTTP/"));
    }
    if let Some(v) = h
        .get(const { k(Ctx::Http, "length") })
        .filter(|v| v.is_u64())
    {
        f.set("http.response.body.bytes", v.clone());
    }
    if let Some(v) = h.get_str(const { k(Ctx::Http, "http_content_type") }) {
        f.set("http.response.mime_type", v);
    }
}

/// The first entry of DNS v3 `queries`, as an object.
fn first_query<'a>(d: Obj<'a>) -> Option<&'a Map<String, Value>> {
    d.get(const { k(Ctx::Dns, "queries") })
        .and_then(Value::as_array)
        .and_then(|q| q.first())
        .and_then(Value::as_object)
}

/// DNS records changed shape across Suricata versions: v1 one record per query/answer with
/// `rrname`; v2 adds `answers`/`grouped`; v3 (Suricata 8) puts questions in `queries[]`.
fn map_dns(f: &mut crate::Fields, d: Obj<'_>) {
    let question = d
        .get_str(const { k(Ctx::Dns, "rrname") })
        .or_else(|| first_query(d).and_then(|q| q.get("rrname")?.as_str()));
    if let Some(q) = question {
        f.set("dns.question.name", q.trim_end_matches('.'));
    }
    let qtype = d
        .get_str(const { k(Ctx::Dns, "rrtype") })
        .or_else(|| first_query(d).and_then(|q| q.get("rrtype")?.as_str()));
    if let Some(t) = qtype {
        f.set("dns.question.type", t);
    }
    if let Some(v) = d.get_str(const { k(Ctx::Dns, "type") }) {
        f.set("dns.type", v);
    }
    if let Some(v) = d.get(const { k(Ctx::Dns, "id") }).filter(|v| v.is_u64()) {
        f.set("dns.id", v.clone());
    }
    if let Some(v) = d.get_str(const { k(Ctx::Dns, "rcode") }) {
        f.set("dns.response_code", v);
    }
    let mut resolved: Vec<Value> = Vec::new();
    if let Some(r) = d.get_str(const { k(Ctx::Dns, "rdata") })
        && r.parse::<std::net::IpAddr>().is_ok()
    {
        resolved.push(Value::String(canonical_ip(r).into_owned()));
    }
    if let Some(answers) = d
        .get(const { k(Ctx::Dns, "answers") })
        .and_then(Value::as_array)
    {
        for a in answers.iter().filter_map(Value::as_object) {
            if let Some(r) = a.get("rdata").and_then(Value::as_str)
                && r.parse::<std::net::IpAddr>().is_ok()
            {
                resolved.push(Value::String(canonical_ip(r).into_owned()));
            }
        }
    }
    if let Some(grouped) = d.obj(const { k(Ctx::Dns, "grouped") }) {
        for key in [
            const { k(Ctx::Grouped, "A") },
            const { k(Ctx::Grouped, "AAAA") },
        ] {
            for r in grouped
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = r.as_str() {
                    resolved.push(Value::String(canonical_ip(r).into_owned()));
                }
            }
        }
    }
    if !resolved.is_empty() {
        f.set("dns.resolved_ip", resolved);
    }
}

fn map_tls(f: &mut crate::Fields, t: Obj<'_>) {
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "sni") }) {
        f.set("tls.client.server_name", v);
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "subject") }) {
        f.set("tls.server.subject", v);
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "issuerdn") }) {
        f.set("tls.server.issuer", v);
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "fingerprint") }) {
        f.set(
            "tls.server.hash.sha1",
            v.replace(':', "").to_ascii_uppercase(),
        );
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "version") }) {
        match v.split_once(' ') {
            Some((proto, ver)) => {
                f.set("tls.version_protocol", proto.to_ascii_lowercase());
                f.set("tls.version", ver);
            }
            None => f.set("tls.version", v),
        }
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "notbefore") }) {
        f.set("tls.server.not_before", v);
    }
    if let Some(v) = t.get_str(const { k(Ctx::Tls, "notafter") }) {
        f.set("tls.server.not_after", v);
    }
    if let Some(v) = t
        .obj(const { k(Ctx::Tls, "ja3") })
        .and_then(|j| j.get_str(const { k(Ctx::Ja3, "hash") }))
    {
        f.set("tls.client.ja3", v);
    }
    if let Some(v) = t
        .obj(const { k(Ctx::Tls, "ja3s") })
        .and_then(|j| j.get_str(const { k(Ctx::Ja3s, "hash") }))
    {
        f.set("tls.server.ja3s", v);
    }
}

fn map_fileinfo(f: &mut crate::Fields, fi: Obj<'_>) {
    if let Some(v) = fi.get_str(const { k(Ctx::Fileinfo, "filename") }) {
        f.set("file.path", v);
        f.set("file.name", v.rsplit('/').next().unwrap_or(v));
    }
    if let Some(v) = fi
        .get(const { k(Ctx::Fileinfo, "size") })
        .filter(|v| v.is_u64())
    {
        f.set("file.size", v.clone());
    }
    for (key, ecs) in [
        (const { k(Ctx::Fileinfo, "md5") }, "file.hash.md5"),
        (const { k(Ctx::Fileinfo, "sha1") }, "file.hash.sha1"),
        (const { k(Ctx::Fileinfo, "sha256") }, "file.hash.sha256"),
    ] {
        if let Some(v) = fi.get_str(key) {
            f.set(ecs, v);
        }
    }
    if let Some(v) = fi.get_str(const { k(Ctx::Fileinfo, "magic") }) {
        f.set("file.type", v);
    }
}

/// The keys `map_flow` reads in `flow` or `netflow` (`c`): counters, then times.
const fn flow_keys(c: Ctx) -> [K; 8] {
    [
        k(c, "pkts_toserver"),
        k(c, "pkts_toclient"),
        k(c, "bytes_toserver"),
        k(c, "bytes_toclient"),
        k(c, "pkts"),
        k(c, "bytes"),
        k(c, "start"),
        k(c, "end"),
    ]
}

fn map_flow(f: &mut crate::Fields, fl: Obj<'_>, keys: &[K; 8]) {
    for (key, ecs) in keys[..6].iter().zip([
        "source.packets",
        "destination.packets",
        "source.bytes",
        "destination.bytes",
        "network.packets",
        "network.bytes",
    ]) {
        if let Some(v) = fl.get(*key).filter(|v| v.is_u64()) {
            f.set(ecs, v.clone());
        }
    }
    for (key, ecs) in keys[6..].iter().zip(["event.start", "event.end"]) {
        if let Some(v) = fl.get_str(*key) {
            f.set(ecs, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parsed::TimeQuality;

    fn ctx() -> ParseContext {
        ParseContext::new("2026-11-01T09:00:00Z".parse().expect("ts"))
    }

    #[test]
    fn flow_id_stays_exact_above_2_pow_53() {
        let line = br#"{"timestamp":"2018-07-05T15:01:09.820360-0400","flow_id":9223372036854775809,"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"UDP"}"#;
        let p = parse_eve(line, &ctx()).expect("parses");
        let id = p.native.get("suricata.eve.flow_id").and_then(Value::as_u64);
        assert_eq!(id, Some(9_223_372_036_854_775_809));
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2018-07-05T19:01:09.82036Z")
        );
        assert_eq!(p.time_quality, TimeQuality::Exact);
        // And through the stored event's JSON.
        let e = p.into_event(
            vigil_model::OrgId::new(),
            vigil_model::Provenance {
                input: "t".into(),
                sender: None,
            },
            ctx().received_at,
        );
        let json = serde_json::to_string(&e).expect("serializes");
        assert!(json.contains("9223372036854775809"), "{json}");
    }

    #[test]
    fn alert_maps_rule_and_naive_time_assumes_zone() {
        let line = br#"{"timestamp":"2019-01-02T03:50:11.315110","flow_id":52710912,"in_iface":"eth0","event_type":"alert","src_ip":"8.42.77.171","src_port":49678,"dest_ip":"138.68.3.71","dest_port":22,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2001219,"rev":19,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2,"metadata":{"tag":["a","b"]}}}"#;
        let p = parse_eve(line, &ctx()).expect("parses");
        assert_eq!(p.time_quality, TimeQuality::InferredZone);
        assert_eq!(p.fields.get("rule.id"), Some(&Value::from(2001219)));
        assert_eq!(p.fields.get_str("rule.uuid"), Some("1:2001219:19"));
        assert_eq!(p.fields.get_str("event.kind"), Some("alert"));
        assert_eq!(p.fields.get("destination.port"), Some(&Value::from(22)));
        assert_eq!(p.fields.get_str("network.transport"), Some("tcp"));
        assert_eq!(
            p.native.get("suricata.eve.alert.metadata.tag"),
            Some(&serde_json::json!(["a", "b"]))
        );
        assert_eq!(p.logsource.service.as_deref(), Some("alert"));
    }

    #[test]
    fn escaped_slashes_ipv6_dns_and_files() {
        let p = parse_eve(br#"{"timestamp":"2018-07-05T15:51:54.001329-0400","flow_id":1,"event_type":"flow","src_ip":"fe80:0000:0000:0000:fada:0cff:fedc:87f1","dest_ip":"ff02:0000:0000:0000:0000:0000:0001:0002","proto":"UDP","flow":{"pkts_toserver":1,"bytes_toserver":110}}"#, &ctx()).expect("flow");
        assert_eq!(
            p.fields.get_str("source.ip"),
            Some("fe80::fada:cff:fedc:87f1")
        );
        assert_eq!(p.fields.get_str("destination.ip"), Some("ff02::1:2"));
        assert_eq!(
            p.native.get_str("suricata.eve.src_ip"),
            Some("fe80:0000:0000:0000:fada:0cff:fedc:87f1")
        );
        let p = parse_eve(br#"{"timestamp":"2016-06-08T20:01:52.875791+0000","event_type":"fileinfo","http":{"url":"\/download\/eicar.com?x=1"},"fileinfo":{"filename":"\/download\/eicar.com","sha256":"275a","size":68}}"#, &ctx()).expect("fileinfo");
        assert_eq!(p.fields.get_str("url.path"), Some("/download/eicar.com"));
        assert_eq!(p.fields.get_str("file.name"), Some("eicar.com"));
        assert_eq!(p.fields.get_str("file.hash.sha256"), Some("275a"));
        let v3 = parse_eve(br#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"dns","dns":{"version":3,"type":"response","queries":[{"rrname":"example.com","rrtype":"A"}],"answers":[{"rrname":"example.com","rdata":"93.184.216.34"}]}}"#, &ctx()).expect("v3");
        assert_eq!(v3.fields.get_str("dns.question.name"), Some("example.com"));
        assert_eq!(
            v3.fields.get("dns.resolved_ip"),
            Some(&serde_json::json!(["93.184.216.34"]))
        );
        assert_eq!(v3.logsource.category.as_deref(), Some("dns"));
        let v2 = parse_eve(br#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"dns","dns":{"version":2,"type":"answer","rrname":"a.example","grouped":{"A":["1.2.3.4"]}}}"#, &ctx()).expect("v2");
        assert_eq!(
            v2.fields.get("dns.resolved_ip"),
            Some(&serde_json::json!(["1.2.3.4"]))
        );
    }

    #[test]
    fn stats_are_metrics_and_errors_are_typed() {
        let p = parse_eve(
            br#"{"timestamp":"2024-01-01T00:00:00Z","event_type":"stats","stats":{"uptime":5}}"#,
            &ctx(),
        )
        .expect("stats");
        assert_eq!(p.fields.get_str("event.kind"), Some("metric"));
        assert_eq!(
            parse_eve(br#"{"timestamp":"x","event_type":"dns"}"#, &ctx())
                .expect_err("ts")
                .kind,
            ErrorKind::Timestamp
        );
        assert_eq!(
            parse_eve(br#"{"timestamp":"2024-01-01T00:00:00Z"}"#, &ctx())
                .expect_err("type")
                .kind,
            ErrorKind::Syntax
        );
        assert_eq!(
            parse_eve(br#"{"event_type":"#, &ctx())
                .expect_err("json")
                .kind,
            ErrorKind::Json
        );
    }

    #[test]
    fn arrays_and_ndjson_documents() {
        let doc = b"[\n {\"timestamp\":\"2019-01-02T03:50:11.315110\",\"event_type\":\"alert\"},\n {\"event_type\":1}\n]";
        let (ok, bad) = parse_eve_document(doc, &ctx());
        assert_eq!((ok.len(), bad.len()), (1, 1));
        assert_eq!(bad[0].line, 2);
        let doc = b"{\"event_type\":\"flow\"}\n\nnot json\n{\"event_type\":\"dns\"}\n";
        let (ok, bad) = parse_eve_document(doc, &ctx());
        assert_eq!((ok.len(), bad.len()), (2, 1));
        assert_eq!((bad[0].line, bad[0].offset), (3, 23));
    }

    /// The tree-based path, which defines the output.
    fn reference(line: &[u8]) -> Result<Parsed, ParseError> {
        let map = parse_object(line, "EVE record")?;
        eve_from_map(map, line, &ctx())
    }

    fn same_as_reference(line: &[u8]) {
        let got = parse_eve(line, &ctx());
        let want = reference(line);
        let text = String::from_utf8_lossy(line);
        match (got, want) {
            (Ok(g), Ok(w)) => {
                assert_eq!(g.fields, w.fields, "{text}");
                assert_eq!(g.to_json(), w.to_json(), "{text}");
                assert_eq!(g.native.len(), w.native.len(), "{text}");
                assert_eq!(g.native.into_map(), w.native.into_map(), "{text}");
                assert_eq!(
                    (
                        g.timestamp,
                        g.time_original,
                        g.time_quality,
                        g.logsource,
                        g.notes
                    ),
                    (
                        w.timestamp,
                        w.time_original,
                        w.time_quality,
                        w.logsource,
                        w.notes
                    ),
                    "{text}"
                );
            }
            (Err(g), Err(w)) => assert_eq!(
                (g.kind, g.message, g.offset),
                (w.kind, w.message, w.offset),
                "{text}"
            ),
            (g, w) => panic!("{text}: {g:?} vs {w:?}"),
        }
    }

    fn corpus_lines() -> Vec<Vec<u8>> {
        let Some(base) = vigil_testkit::shared_data("suricata-eve", "eve_single_pass") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for rel in [
            "elastic-beats/eve-small.log",
            "suricata-verify/output-eve-fileinfo.eve.json",
        ] {
            let text = std::fs::read(base.join(rel)).expect("readable");
            out.extend(
                text.split(|c| *c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        for rel in [
            "suricata-sample-data/samples/honeypot-2018/alerts-only.json",
            "suricata-sample-data/samples/first-org-conf-2015/alerts-only.json",
        ] {
            let text = std::fs::read(base.join(rel)).expect("readable");
            let items: Vec<&serde_json::value::RawValue> =
                serde_json::from_slice(&text).expect("array");
            out.extend(items.iter().map(|r| r.get().as_bytes().to_vec()));
            let items: Vec<Value> = serde_json::from_slice(&text).expect("array");
            out.extend(items.iter().map(|v| serde_json::to_vec(v).expect("json")));
        }
        out
    }

    #[test]
    fn single_pass_equals_the_tree_on_the_corpus() {
        let lines = corpus_lines();
        let mut walked = 0;
        for l in &lines {
            same_as_reference(l);
            walked += usize::from(walk(l).is_some());
        }
        // The corpus takes the fast path (a regression here is a performance bug).
        assert_eq!(walked, lines.len());
    }

    #[test]
    fn single_pass_equals_the_tree_on_odd_records() {
        let cases: &[&str] = &[
            r#"{"event_type":"dns","dns":{"a":1},"dns":{"b":2}}"#,
            r#"{"event_type":"http","http":{},"http":1}"#,
            r#"{"event_type":"http","http":1,"http":{}}"#,
            r#"{"event_type":"x","x":1,"x":{}}"#,
            r#"{"event_type":"x","x":{"a":1},"x":{"b":2}}"#,
            r#"{"event_type":"x","x":{"a":1},"x":2}"#,
            r#"{"event_type":"x","a.b":1,"a":{"b":2}}"#,
            r#"{"event_type":"x","a":{"b":2},"a.b":1}"#,
            r#"{"event_type":"x","a.b":{"c":1},"a":{"b.c":2}}"#,
            r#"{"event_type":"x","a.b":1,"a":{"c":2}}"#,
            r#"{"event_type":"alert","alert":{"signature_id":{"x":1},"rev":2,"gid":1}}"#,
            r#"{"event_type":"alert","alert":{"signature_id":5,"rev":{"x":1},"gid":1}}"#,
            r#"{"event_type":"alert","alert":{"signature_id":-5,"rev":1.5,"gid":1,"severity":-1}}"#,
            r#"{"event_type":"alert","alert":"x","alert":{"gid":1}}"#,
            r#"{"event_type":"alert","event_type":"dns","dns":{"rrname":"a."}}"#,
            r#"{"event_type":"x","timestamp":{"a":1}}"#,
            r#"{"event_type":{"a":1}}"#,
            r#"{"event_typ\u0065":"dns"}"#,
            r#"{"event_type":"d\u006es","src_ip":"fe80:0000:0000:0000:fada:0cff:fedc:87f1"}"#,
            r#"{"event_type":"dns","dns":{"queries":[{"rrname":"q.","rrtype":"A"}],"answers":[{"rdata":"1.2.3.4"},{"rdata":"x"},5],"grouped":{"A":["5.6.7.8",1],"AAAA":["::1"]}}}"#,
            r#"{"event_type":"dns","dns":{"grouped":[1],"queries":{"a":1},"answers":"x"}}"#,
            r#"{"event_type":"tls","tls":{"ja3":{"hash":"h"},"ja3s":{"hash":"s"},"version":"TLS 1.3","fingerprint":"aa:bb"}}"#,
            r#"{"event_type":"tls","tls":{"ja3":"h","ja3s":[1]}}"#,
            r#"{"event_type":"ssh","ssh":{"client":{"software_version":"x"}}}"#,
            r#"{"event_type":"ssh","ssh":{"client":"x"}}"#,
            r#"{"event_type":"smtp","smtp":{"mail_from":"<a@b>","helo":"h"}}"#,
            r#"{"event_type":"netflow","netflow":{"pkts":1,"bytes":2,"start":"s","end":"e"},"flow":{"pkts":3}}"#,
            r#"{"event_type":"x","":1,"e":{"":{"":2}}}"#,
            r#"{"event_type":"x","n":null,"b":true,"f":1e3,"i":-9223372036854775808,"u":18446744073709551615}"#,
            r#"{"event_type":"x","big":1e400}"#,
            r#"{"event_type":"x"} x"#,
            r#"[{"event_type":"x"}]"#,
            r#""event_type""#,
            r#"{"event_type":"x","a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            r#"{"event_type":"x","a":[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            r#"{"event_type":"stats","stats":{"uptime":5}}"#,
            r#"{"event_type":"drop","timestamp":"2024-01-01T00:00:00"}"#,
            r#"{"event_type":"x","timestamp":"nope"}"#,
            "{\"event_type\":\"x\",\"s\":\"caf\u{e9} \\ud83d\\ude00\"}",
        ];
        for c in cases {
            same_as_reference(c.as_bytes());
        }
        let deep = format!(
            "{{\"event_type\":\"x\",{}1{}}}",
            r#""a":{"#.repeat(40),
            "}".repeat(40)
        );
        same_as_reference(deep.as_bytes());
        for n in 25..40 {
            let deep = format!(
                "{{\"event_type\":\"x\",{}1{}}}",
                r#""a":{"#.repeat(n),
                "}".repeat(n)
            );
            same_as_reference(deep.as_bytes());
        }
        let many: String = (0..2100).map(|i| format!(",\"k{i}\":1")).collect();
        same_as_reference(format!("{{\"event_type\":\"x\"{many}}}").as_bytes());
    }

    #[test]
    fn single_pass_equals_the_tree_on_mutations() {
        let lines = corpus_lines();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let bytes = b"{}[]\":,.\\ 0-1e9aZ";
        for l in lines.iter().take(40) {
            for _ in 0..200 {
                let mut m = l.clone();
                for _ in 0..(next() % 3 + 1) {
                    let at = (next() as usize) % m.len();
                    match next() % 3 {
                        0 => m[at] = bytes[(next() as usize) % bytes.len()],
                        1 => m.insert(at, bytes[(next() as usize) % bytes.len()]),
                        _ => {
                            m.remove(at);
                        }
                    }
                }
                same_as_reference(&m);
            }
        }
    }
}
