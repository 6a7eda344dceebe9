//! MISP core format: events (attributes and objects' attributes) and feeds (`manifest.json`,
//! one `<uuid>.json` per event, `hashes.csv`).
//!
//! Only attributes with `to_ids` set become indicators (unless the source asks for all);
//! the others are context. Numbers arrive as strings or numbers and are accepted as both.
//! Event tags give TLP, galaxy clusters give malware, threat actors and ATT&CK techniques.

use crate::import::{ImportProblem, ImportSummary, Intel, Source};
use crate::indicator::{
    Indicator, IndicatorContext, IndicatorKind, IndicatorValue, SourceRef, Tlp, parse_ip,
};
use md5::Digest;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How a MISP attribute type maps to indicators: the kinds of the `|`-separated parts
/// (`None` for a part that is not an indicator, such as the file name of `filename|md5`).
fn type_parts(ty: &str) -> Option<&'static [Option<IndicatorKind>]> {
    use IndicatorKind as K;
    const IP: Option<K> = Some(K::Ipv4);
    Some(match ty {
        "ip-src" | "ip-dst" => &[IP],
        "ip-src|port" | "ip-dst|port" => &[IP, None],
        "domain" | "hostname" => &[Some(K::Domain)],
        "domain|ip" => &[Some(K::Domain), IP],
        "hostname|port" => &[Some(K::Domain), None],
        "url" => &[Some(K::Url)],
        "md5" => &[Some(K::Md5)],
        "sha1" => &[Some(K::Sha1)],
        "sha256" => &[Some(K::Sha256)],
        "sm3" => &[Some(K::Sm3)],
        "filename|md5" => &[None, Some(K::Md5)],
        "filename|sha1" => &[None, Some(K::Sha1)],
        "filename|sha256" => &[None, Some(K::Sha256)],
        "email" | "email-src" | "email-dst" | "email-reply-to" | "whois-registrant-email" => {
            &[Some(K::Email)]
        }
        "ja3-fingerprint-md5" => &[Some(K::Ja3)],
        "ja4-fingerprint" => &[Some(K::Ja4)],
        _ => return None,
    })
}

fn as_bool(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

fn as_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn tag_names(v: &Value) -> Vec<String> {
    v.get("Tag")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| as_str(t, "name"))
        .map(str::to_string)
        .collect()
}

/// ATT&CK technique ids in a text (`Spearphishing Attachment - T1193`, `T1059.001`).
fn technique_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len()).find_map(|i| {
        let start_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !start_ok || b[i] != b'T' {
            return None;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits != 4 {
            return None;
        }
        let mut end = i + 5;
        if b.get(end) == Some(&b'.')
            && b[end + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
                == 3
        {
            end += 4;
        }
        if b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        Some(text[i..end].to_string())
    })
}

/// Galaxies whose clusters name malware families or tools.
const MALWARE_GALAXIES: &[&str] = &[
    "malpedia",
    "mitre-malware",
    "mitre-tool",
    "tool",
    "ransomware",
    "banker",
    "rat",
    "botnet",
    "backdoor",
    "stealer",
    "android",
    "exploit-kit",
    "malware",
];

/// Applies machine tags to a context: TLP, galaxy clusters (threat actors, malware,
/// techniques); every tag is kept as a tag.
fn apply_tags(ctx: &mut IndicatorContext, tags: &[String]) {
    for t in tags {
        if let Some(tlp) = Tlp::parse(t) {
            ctx.tlp = Some(ctx.tlp.map_or(tlp, |c| c.max(tlp)));
        }
        if let Some(rest) = t.strip_prefix("misp-galaxy:")
            && let Some((galaxy, value)) = rest.split_once('=')
        {
            let value = value.trim_matches('"').to_string();
            if galaxy.contains("attack-pattern") {
                if let Some(tid) = technique_in(&value)
                    && !ctx.techniques.contains(&tid)
                {
                    ctx.techniques.push(tid);
                }
            } else if galaxy.contains("threat-actor") || galaxy.contains("intrusion-set") {
                if !ctx.threat_actors.contains(&value) {
                    ctx.threat_actors.push(value);
                }
            } else if MALWARE_GALAXIES.iter().any(|g| galaxy.ends_with(g))
                && !ctx.malware.contains(&value)
            {
                ctx.malware.push(value);
            }
        }
        if !ctx.tags.contains(t) {
            ctx.tags.push(t.clone());
        }
    }
}

impl Intel {
    /// Imports one MISP event (`{"Event": {...}}` or the bare event object).
    pub fn import_misp_event(
        &mut self,
        bytes: &[u8],
        source: &Source,
    ) -> (ImportSummary, Vec<ImportProblem>) {
        let mut summary = ImportSummary::default();
        let mut problems = Vec::new();
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => self.misp_event_value(&v, source, &mut summary, &mut problems),
            Err(e) => problems.push(ImportProblem::new("event", format!("not JSON: {e}"))),
        }
        summary.skipped = problems.len();
        (summary, problems)
    }

    fn misp_event_value(
        &mut self,
        v: &Value,
        source: &Source,
        summary: &mut ImportSummary,
        problems: &mut Vec<ImportProblem>,
    ) {
        let event = v.get("Event").unwrap_or(v);
        let Some(uuid) = as_str(event, "uuid") else {
            problems.push(ImportProblem::new("event", "MISP event without uuid"));
            return;
        };
        summary.objects += 1;
        summary.count_type("misp-event");
        let org = event
            .get("Orgc")
            .and_then(|o| as_str(o, "name"))
            .map_or_else(|| source.name.clone(), |o| format!("{}/{o}", source.name));
        let mut base = IndicatorContext {
            sources: vec![SourceRef {
                source: org,
                reference: Some(uuid.to_string()),
                confidence: source.default_confidence,
            }],
            tlp: None,
            description: as_str(event, "info").map(str::to_string),
            ..Default::default()
        };
        apply_tags(&mut base, &tag_names(event));
        for g in event
            .get("Galaxy")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let gtype = as_str(g, "type").unwrap_or("");
            for c in g
                .get("GalaxyCluster")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(value) = as_str(c, "value") {
                    let tag = format!("misp-galaxy:{gtype}=\"{value}\"");
                    apply_tags(&mut base, &[tag]);
                }
            }
        }
        if base.tlp.is_none() {
            base.tlp = source.default_tlp;
        }
        base.suggest_category();
        let base = Arc::new(base);
        let attrs = event
            .get("Attribute")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let object_attrs = event
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|o| !as_bool(o.get("deleted")))
            .flat_map(|o| {
                o.get("Attribute")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            });
        for a in attrs.chain(object_attrs) {
            summary.count_type("misp-attribute");
            self.misp_attribute(a, &base, source, summary, problems);
        }
    }

    fn misp_attribute(
        &mut self,
        a: &Value,
        base: &Arc<IndicatorContext>,
        source: &Source,
        summary: &mut ImportSummary,
        problems: &mut Vec<ImportProblem>,
    ) {
        let id = as_str(a, "uuid")
            .unwrap_or("attribute without uuid")
            .to_string();
        if as_bool(a.get("deleted")) || !(as_bool(a.get("to_ids")) || source.include_non_ids) {
            summary.context_only += 1;
            return;
        }
        let (Some(ty), Some(value)) = (as_str(a, "type"), as_str(a, "value")) else {
            problems.push(ImportProblem::new(id, "attribute without type or value"));
            return;
        };
        let Some(parts) = type_parts(ty) else {
            problems.push(ImportProblem::new(
                id,
                format!("MISP type {ty} has no indicator type"),
            ));
            return;
        };
        let values: Vec<&str> = if parts.len() == 1 {
            vec![value]
        } else {
            value.splitn(parts.len(), '|').collect()
        };
        if values.len() != parts.len() {
            problems.push(ImportProblem::new(
                id,
                format!("{ty} value {value:?} has not {} parts", parts.len()),
            ));
            return;
        }
        let tags = tag_names(a);
        let ctx = if tags.is_empty() && as_str(a, "comment").is_none_or(str::is_empty) {
            base.clone()
        } else {
            let mut c = (**base).clone();
            apply_tags(&mut c, &tags);
            if let Some(comment) = as_str(a, "comment").filter(|c| !c.is_empty()) {
                c.tags.push(comment.to_string());
            }
            if let Some(s) = c.sources.first_mut() {
                s.reference = Some(id.clone());
            }
            c.category = None;
            c.suggest_category();
            if c.category.is_none() {
                c.category.clone_from(&base.category);
            }
            Arc::new(c)
        };
        for (kind, text) in parts.iter().zip(values) {
            let Some(kind) = kind else { continue };
            let parsed = if *kind == IndicatorKind::Ipv4 {
                parse_ip(text.trim())
            } else {
                IndicatorValue::parse(*kind, text)
            };
            match parsed {
                Ok(v) => {
                    summary.count_indicator(v.kind());
                    self.indicators
                        .push(Indicator::new(v, source.default_confidence, ctx.clone()));
                }
                Err(e) => problems.push(ImportProblem::new(id.clone(), format!("{ty}: {e}"))),
            }
        }
    }

    /// Imports a MISP feed: `manifest.json`, then every event it lists, then `hashes.csv`
    /// when present. Missing or broken files are reported; the rest imports.
    pub fn import_misp_feed(
        &mut self,
        feed: &dyn FeedSource,
        source: &Source,
    ) -> (ImportSummary, Vec<ImportProblem>) {
        let mut summary = ImportSummary::default();
        let mut problems = Vec::new();
        let manifest: BTreeMap<String, Value> = match feed
            .read("manifest.json")
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                problems.push(ImportProblem::new("manifest.json", e));
                summary.skipped = 1;
                return (summary, problems);
            }
        };
        for uuid in manifest.keys() {
            let ok = uuid.len() <= 64 && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
            if !ok {
                problems.push(ImportProblem::new(
                    uuid,
                    "manifest key is not an event uuid",
                ));
                continue;
            }
            let name = format!("{uuid}.json");
            match feed.read(&name).map_err(|e| e.to_string()).and_then(|b| {
                serde_json::from_slice::<Value>(&b).map_err(|e| format!("{name}: {e}"))
            }) {
                Ok(v) => self.misp_event_value(&v, source, &mut summary, &mut problems),
                Err(e) => problems.push(ImportProblem::new(uuid, e)),
            }
        }
        match feed.read("hashes.csv") {
            Ok(b) => {
                let (n, bad) = self.feed_hashes.load(&b);
                summary.by_type.insert("feed-hash".into(), n);
                problems.extend(bad);
            }
            Err(FeedError::NotFound(_)) => {}
            Err(e) => problems.push(ImportProblem::new("hashes.csv", e.to_string())),
        }
        summary.skipped = problems.len();
        (summary, problems)
    }
}

/// Why a feed file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// Where a MISP feed's files come from: a directory ([`crate::fs::DirFeed`]), an HTTP
/// client, a test map.
pub trait FeedSource {
    /// The bytes of a file of the feed by its name (`manifest.json`, `<uuid>.json`).
    fn read(&self, name: &str) -> Result<Vec<u8>, FeedError>;
}

impl FeedSource for BTreeMap<String, Vec<u8>> {
    fn read(&self, name: &str) -> Result<Vec<u8>, FeedError> {
        self.get(name)
            .cloned()
            .ok_or_else(|| FeedError::NotFound(name.to_string()))
    }
}

/// A feed's `hashes.csv`: MD5 of attribute values → event uuids, for a cheap "is this value
/// in the feed" before fetching events.
#[derive(Debug, Clone, Default)]
pub struct FeedHashes {
    by_md5: HashMap<[u8; 16], Vec<Box<str>>>,
}

impl FeedHashes {
    /// Adds the lines of a `hashes.csv` (`<md5>,<event uuid>`); returns how many loaded and
    /// the lines that did not.
    pub fn load(&mut self, bytes: &[u8]) -> (usize, Vec<ImportProblem>) {
        let text = String::from_utf8_lossy(bytes);
        let mut n = 0;
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut md5 = [0u8; 16];
            match line.split_once(',') {
                Some((h, ev))
                    if hex::decode_to_slice(h.trim(), &mut md5).is_ok()
                        && !ev.trim().is_empty() =>
                {
                    self.by_md5.entry(md5).or_default().push(ev.trim().into());
                    n += 1;
                }
                _ => bad.push(ImportProblem::new(
                    format!("hashes.csv line {}", i + 1),
                    "not <md5>,<event uuid>",
                )),
            }
        }
        (n, bad)
    }

    /// The events whose attributes have this exact value.
    pub fn lookup(&self, value: &str) -> &[Box<str>] {
        let digest: [u8; 16] = md5::Md5::digest(value.as_bytes()).into();
        self.by_md5.get(&digest).map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_md5.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_md5.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"Event": {
            "uuid": "5d0092c5-5f74-4287-9642-33f4c354e56d",
            "info": "Botnet C2 servers",
            "Orgc": {"name": "CIRCL"},
            "Tag": [{"name": "tlp:amber"}, {"name": "misp-galaxy:threat-actor=\"Sofacy\""},
                    {"name": "misp-galaxy:mitre-attack-pattern=\"Spearphishing Attachment - T1566.001\""}],
            "Attribute": [
                {"uuid": "a1", "type": "ip-dst", "value": "1.2.3.4", "to_ids": true},
                {"uuid": "a2", "type": "ip-dst|port", "value": "5.6.7.8|443", "to_ids": "1"},
                {"uuid": "a3", "type": "domain|ip", "value": "evil.com|9.9.9.9", "to_ids": true},
                {"uuid": "a4", "type": "filename|sha256", "value": "x.exe|E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "to_ids": true},
                {"uuid": "a5", "type": "link", "value": "https://blog", "to_ids": false},
                {"uuid": "a6", "type": "mutex", "value": "m", "to_ids": true},
                {"uuid": "a7", "type": "md5", "value": "xyz", "to_ids": true},
                {"uuid": "a8", "type": "url", "value": "http://evil.com/gate.php", "to_ids": true,
                 "Tag": [{"name": "tlp:red"}, {"name": "phishing"}]},
                {"uuid": "a9", "type": "ja3-fingerprint-md5", "value": "e7d705a3286e19ea42f587b344ee6865", "to_ids": 1},
                {"uuid": "a10", "type": "ip-src", "value": "1.2.3.5", "to_ids": true, "deleted": true}
            ],
            "Object": [{"name": "email", "Attribute": [
                {"uuid": "o1", "type": "email-src", "value": "Bad@Evil.com", "to_ids": true, "object_relation": "from"},
                {"uuid": "o2", "type": "email-subject", "value": "hi", "to_ids": false}
            ]}]
        }})
    }

    #[test]
    fn imports_to_ids_attributes_with_event_context() {
        let mut intel = Intel::new();
        let bytes = serde_json::to_vec(&event()).expect("json");
        let (s, problems) = intel.import_misp_event(&bytes, &Source::new("feed"));
        let texts: Vec<String> = intel
            .indicators
            .iter()
            .map(|i| i.value.to_string())
            .collect();
        assert_eq!(
            texts,
            [
                "ipv4:1.2.3.4",
                "ipv4:5.6.7.8",
                "domain:evil.com",
                "ipv4:9.9.9.9",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "url:http://evil.com/gate.php",
                "ja3:e7d705a3286e19ea42f587b344ee6865",
                "email:bad@evil.com",
            ]
        );
        assert_eq!(s.indicators, 8);
        assert_eq!(s.context_only, 3);
        let reasons: Vec<&str> = problems.iter().map(|p| p.object_id.as_str()).collect();
        assert_eq!(reasons, ["a6", "a7"]);
        let ip = &intel.indicators[0];
        assert_eq!(ip.context.tlp, Some(Tlp::Amber));
        assert_eq!(ip.context.threat_actors, ["Sofacy"]);
        assert_eq!(ip.context.techniques, ["T1566.001"]);
        assert_eq!(ip.context.category.as_deref(), Some("MPZOMB"));
        assert_eq!(ip.context.sources[0].source, "feed/CIRCL");
        let url = &intel.indicators[5];
        assert_eq!(url.context.tlp, Some(Tlp::Red));
        assert_eq!(url.context.category.as_deref(), Some("NAPHISH"));
    }

    #[test]
    fn feeds_read_manifest_events_and_hashes() {
        let ev = event();
        let mut feed: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        feed.insert(
            "manifest.json".into(),
            serde_json::to_vec(&json!({
                "5d0092c5-5f74-4287-9642-33f4c354e56d": {"info": "x", "timestamp": "1"},
                "6d0092c5-5f74-4287-9642-33f4c354e56d": {"info": "missing"}
            }))
            .expect("json"),
        );
        feed.insert(
            "5d0092c5-5f74-4287-9642-33f4c354e56d.json".into(),
            serde_json::to_vec(&ev).expect("json"),
        );
        let md5 = hex::encode(md5::Md5::digest(b"1.2.3.4"));
        feed.insert(
            "hashes.csv".into(),
            format!("{md5},5d0092c5-5f74-4287-9642-33f4c354e56d\nbroken\n").into_bytes(),
        );
        let mut intel = Intel::new();
        let (s, problems) = intel.import_misp_feed(&feed, &Source::new("feed"));
        assert_eq!(s.indicators, 8);
        assert_eq!(s.by_type.get("feed-hash"), Some(&1));
        let ids: Vec<&str> = problems.iter().map(|p| p.object_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "a6",
                "a7",
                "6d0092c5-5f74-4287-9642-33f4c354e56d",
                "hashes.csv line 2"
            ]
        );
        assert_eq!(
            intel.feed_hashes.lookup("1.2.3.4"),
            [Box::<str>::from("5d0092c5-5f74-4287-9642-33f4c354e56d")]
        );
        assert!(intel.feed_hashes.lookup("1.2.3.5").is_empty());
        let (_, problems) = Intel::new().import_misp_feed(&BTreeMap::new(), &Source::new("f"));
        assert_eq!(problems[0].object_id, "manifest.json");
    }

    #[test]
    fn technique_ids_are_found_in_galaxy_values() {
        assert_eq!(
            technique_in("Spearphishing - T1193").as_deref(),
            Some("T1193")
        );
        assert_eq!(technique_in("X T1059.001 y").as_deref(), Some("T1059.001"));
        assert_eq!(technique_in("T12345"), None);
        assert_eq!(technique_in("AT1234"), None);
    }
}
