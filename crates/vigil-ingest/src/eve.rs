//! Suricata EVE JSON, every event type.
//!
//! Common keys map to ECS (`source.*`, `destination.*`, `network.*`, `observer.*`); the
//! per-type sub-object is mapped for alert, http, dns (v1/v2 per-record and v3 `queries` /
//! grouped `answers` shapes, detected by shape), tls, fileinfo, flow/netflow, ssh, smtp;
//! everything, mapped or not, is kept under `suricata.eve.*`. `flow_id` stays an exact u64
//! (serde_json keeps integers as integers; nothing goes through f64). Timestamps carry offsets
//! without a colon (`-0400`) or none at all (naive: the sensor's zone is assumed).

use crate::error::{ErrorKind, ParseError};
use crate::json::{flatten_into, json_error, parse_object};
use crate::parsed::{Format, LogSource, ParseContext, Parsed};
use crate::time::{parse_iso, resolve_iso};
use crate::{MAX_REJECT_RAW, Reject, check_line};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Parses one EVE record (one NDJSON line).
pub fn parse_eve(line: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let map = parse_object(line, "EVE record")?;
    eve_from_map(map, line, ctx)
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

fn get<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k)
}

fn get_str<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn obj<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a Map<String, Value>> {
    m.get(k).and_then(Value::as_object)
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
    check_line(raw)?;
    let Some(event_type) = get_str(&map, "event_type").map(str::to_owned) else {
        return Err(ParseError::new(
            ErrorKind::Syntax,
            "EVE record has no string 'event_type'",
        ));
    };
    let mut p = Parsed::new(Format::SuricataEve, raw);
    match get_str(&map, "timestamp") {
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
    f.set("event.type", event_type.as_str());
    for (k, ecs) in [("src_ip", "source.ip"), ("dest_ip", "destination.ip")] {
        if let Some(ip) = get_str(&map, k) {
            f.set(ecs, canonical_ip(ip).into_owned());
        }
    }
    for (k, ecs) in [
        ("src_port", "source.port"),
        ("dest_port", "destination.port"),
    ] {
        if let Some(n) = get(&map, k).filter(|v| v.is_u64()) {
            f.set(ecs, n.clone());
        }
    }
    if let Some(proto) = get_str(&map, "proto") {
        f.set("network.transport", proto.to_ascii_lowercase());
    }
    if let Some(app) = get_str(&map, "app_proto") {
        f.set("network.protocol", app);
    }
    if let Some(c) = get_str(&map, "community_id") {
        f.set("network.community_id", c);
    }
    if let Some(i) = get_str(&map, "in_iface") {
        f.set("observer.ingress.interface.name", i);
    }
    if let Some(h) = get_str(&map, "host") {
        f.set("observer.hostname", h);
    }
    let mut service: Cow<'static, str> = Cow::Owned(event_type.clone());
    let mut category: Option<&'static str> = None;
    match event_type.as_str() {
        "alert" => {
            f.set("event.kind", "alert");
            f.set("event.category", "intrusion_detection");
            if let Some(a) = obj(&map, "alert") {
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
    if let Some(h) = obj(&map, "http") {
        map_http(f, h);
        if event_type == "http" {
            category = Some("proxy");
        }
    }
    if let Some(d) = obj(&map, "dns") {
        map_dns(f, d);
        if event_type == "dns" {
            category = Some("dns");
        }
    }
    if let Some(t) = obj(&map, "tls") {
        map_tls(f, t);
    }
    if let Some(fi) = obj(&map, "fileinfo") {
        map_fileinfo(f, fi);
    }
    for k in ["flow", "netflow"] {
        if let Some(fl) = obj(&map, k) {
            map_flow(f, fl);
        }
    }
    if let Some(c) = obj(&map, "ssh")
        .and_then(|ssh| obj(ssh, "client"))
        .and_then(|c| get_str(c, "software_version"))
    {
        f.set("source.user_agent", c);
    }
    if let Some(smtp) = obj(&map, "smtp") {
        if let Some(m) = get_str(smtp, "mail_from") {
            f.set("email.from.address", m.trim_matches(['<', '>']));
        }
        if let Some(h) = get_str(smtp, "helo") {
            f.set("source.domain", h);
        }
    }
    if event_type == "stats" {
        service = Cow::Borrowed("stats");
    }
    let mut prefix = String::from("suricata.eve.");
    flatten_into(&mut p.native, &mut prefix, map, 0)?;
    p.logsource = LogSource {
        product: Some(Cow::Borrowed("suricata")),
        category: category.map(Cow::Borrowed),
        service: Some(service),
    };
    Ok(p)
}

fn map_alert(f: &mut crate::Fields, a: &Map<String, Value>) {
    if let Some(v) = get(a, "signature_id") {
        f.set("rule.id", v.clone());
    }
    if let Some(v) = get_str(a, "signature") {
        f.set("rule.name", v);
        f.set("message", v);
    }
    if let Some(v) = get_str(a, "category") {
        f.set("rule.category", v);
    }
    if let Some(v) = get(a, "rev") {
        f.set("rule.version", v.clone());
    }
    if let Some(v) = get(a, "severity").filter(|v| v.is_u64()) {
        f.set("event.severity", v.clone());
    }
    if let Some(v) = get_str(a, "action") {
        f.set("event.action", v);
        f.set(
            "event.outcome",
            if v == "blocked" { "failure" } else { "success" },
        );
    }
    if let (Some(gid), Some(sid), Some(rev)) = (
        get(a, "gid").and_then(Value::as_u64),
        get(a, "signature_id").and_then(Value::as_u64),
        get(a, "rev").and_then(Value::as_u64),
    ) {
        f.set("rule.uuid", format!("{gid}:{sid}:{rev}"));
    }
}

fn map_http(f: &mut crate::Fields, h: &Map<String, Value>) {
    if let Some(v) = get_str(h, "hostname") {
        f.set("url.domain", v);
    }
    if let Some(v) = get_str(h, "url") {
        f.set("url.original", v);
        let (path, query) = v.split_once('?').unwrap_or((v, ""));
        f.set("url.path", path);
        if !query.is_empty() {
            f.set("url.query", query);
        }
    }
    if let Some(v) = get_str(h, "http_method") {
        f.set("http.request.method", v);
    }
    if let Some(v) = get(h, "status").filter(|v| v.is_u64()) {
        f.set("http.response.status_code", v.clone());
    }
    if let Some(v) = get_str(h, "http_user_agent") {
        f.set("user_agent.original", v);
    }
    if let Some(v) = get_str(h, "http_refer") {
        f.set("http.request.referrer", v);
    }
    if let Some(v) = get_str(h, "protocol") {
        f.set("http.version", v.trim_start_matches("HTTP/"));
    }
    if let Some(v) = get(h, "length").filter(|v| v.is_u64()) {
        f.set("http.response.body.bytes", v.clone());
    }
    if let Some(v) = get_str(h, "http_content_type") {
        f.set("http.response.mime_type", v);
    }
}

/// DNS records changed shape across Suricata versions: v1 one record per query/answer with
/// `rrname`; v2 adds `answers`/`grouped`; v3 (Suricata 8) puts questions in `queries[]`.
fn map_dns(f: &mut crate::Fields, d: &Map<String, Value>) {
    let question = get_str(d, "rrname").or_else(|| {
        d.get("queries")
            .and_then(Value::as_array)
            .and_then(|q| q.first())
            .and_then(Value::as_object)
            .and_then(|q| get_str(q, "rrname"))
    });
    if let Some(q) = question {
        f.set("dns.question.name", q.trim_end_matches('.'));
    }
    let qtype = get_str(d, "rrtype").or_else(|| {
        d.get("queries")
            .and_then(Value::as_array)
            .and_then(|q| q.first())
            .and_then(Value::as_object)
            .and_then(|q| get_str(q, "rrtype"))
    });
    if let Some(t) = qtype {
        f.set("dns.question.type", t);
    }
    if let Some(v) = get_str(d, "type") {
        f.set("dns.type", v);
    }
    if let Some(v) = get(d, "id").filter(|v| v.is_u64()) {
        f.set("dns.id", v.clone());
    }
    if let Some(v) = get_str(d, "rcode") {
        f.set("dns.response_code", v);
    }
    let mut resolved: Vec<Value> = Vec::new();
    if let Some(r) = get_str(d, "rdata")
        && r.parse::<std::net::IpAddr>().is_ok()
    {
        resolved.push(Value::String(canonical_ip(r).into_owned()));
    }
    if let Some(answers) = d.get("answers").and_then(Value::as_array) {
        for a in answers.iter().filter_map(Value::as_object) {
            if let Some(r) = get_str(a, "rdata")
                && r.parse::<std::net::IpAddr>().is_ok()
            {
                resolved.push(Value::String(canonical_ip(r).into_owned()));
            }
        }
    }
    if let Some(grouped) = obj(d, "grouped") {
        for k in ["A", "AAAA"] {
            for r in grouped
                .get(k)
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

fn map_tls(f: &mut crate::Fields, t: &Map<String, Value>) {
    if let Some(v) = get_str(t, "sni") {
        f.set("tls.client.server_name", v);
    }
    if let Some(v) = get_str(t, "subject") {
        f.set("tls.server.subject", v);
    }
    if let Some(v) = get_str(t, "issuerdn") {
        f.set("tls.server.issuer", v);
    }
    if let Some(v) = get_str(t, "fingerprint") {
        f.set(
            "tls.server.hash.sha1",
            v.replace(':', "").to_ascii_uppercase(),
        );
    }
    if let Some(v) = get_str(t, "version") {
        match v.split_once(' ') {
            Some((proto, ver)) => {
                f.set("tls.version_protocol", proto.to_ascii_lowercase());
                f.set("tls.version", ver);
            }
            None => f.set("tls.version", v),
        }
    }
    if let Some(v) = get_str(t, "notbefore") {
        f.set("tls.server.not_before", v);
    }
    if let Some(v) = get_str(t, "notafter") {
        f.set("tls.server.not_after", v);
    }
    if let Some(v) = obj(t, "ja3").and_then(|j| get_str(j, "hash")) {
        f.set("tls.client.ja3", v);
    }
    if let Some(v) = obj(t, "ja3s").and_then(|j| get_str(j, "hash")) {
        f.set("tls.server.ja3s", v);
    }
}

fn map_fileinfo(f: &mut crate::Fields, fi: &Map<String, Value>) {
    if let Some(v) = get_str(fi, "filename") {
        f.set("file.path", v);
        f.set("file.name", v.rsplit('/').next().unwrap_or(v));
    }
    if let Some(v) = get(fi, "size").filter(|v| v.is_u64()) {
        f.set("file.size", v.clone());
    }
    for (k, ecs) in [
        ("md5", "file.hash.md5"),
        ("sha1", "file.hash.sha1"),
        ("sha256", "file.hash.sha256"),
    ] {
        if let Some(v) = get_str(fi, k) {
            f.set(ecs, v);
        }
    }
    if let Some(v) = get_str(fi, "magic") {
        f.set("file.type", v);
    }
}

fn map_flow(f: &mut crate::Fields, fl: &Map<String, Value>) {
    for (k, ecs) in [
        ("pkts_toserver", "source.packets"),
        ("pkts_toclient", "destination.packets"),
        ("bytes_toserver", "source.bytes"),
        ("bytes_toclient", "destination.bytes"),
        ("pkts", "network.packets"),
        ("bytes", "network.bytes"),
    ] {
        if let Some(v) = get(fl, k).filter(|v| v.is_u64()) {
            f.set(ecs, v.clone());
        }
    }
    for (k, ecs) in [("start", "event.start"), ("end", "event.end")] {
        if let Some(v) = get_str(fl, k) {
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
}
