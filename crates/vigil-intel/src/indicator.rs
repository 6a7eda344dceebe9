//! The indicator model: typed, normalized values with their context.
//!
//! Every value is normalized once, when it is parsed, so that matching is byte equality (or
//! interval containment for addresses): domains lower-case ASCII (IDNA to punycode), without a
//! trailing dot; URLs with lower-case scheme and host, no default port, canonical
//! percent-encoding and no fragment; hashes as raw bytes whose length fixes the algorithm.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Why a text could not become an indicator value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ValueError {
    pub kind: &'static str,
    pub message: String,
}

fn err(kind: &'static str, message: impl Into<String>) -> ValueError {
    ValueError {
        kind,
        message: message.into(),
    }
}

/// The type of an indicator, as named in CSV files, the API and exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    Ipv4,
    Ipv6,
    Domain,
    Url,
    Email,
    Md5,
    Sha1,
    Sha256,
    Sm3,
    Ja3,
    Ja4,
}

impl IndicatorKind {
    pub const ALL: [IndicatorKind; 11] = [
        Self::Ipv4,
        Self::Ipv6,
        Self::Domain,
        Self::Url,
        Self::Email,
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sm3,
        Self::Ja3,
        Self::Ja4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Email => "email",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sm3 => "sm3",
            Self::Ja3 => "ja3",
            Self::Ja4 => "ja4",
        }
    }

    /// Parses a type name; accepts common aliases (`ip`, `hostname`, `sha-256`, `e-mail`).
    pub fn parse(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Some(match n.as_str() {
            "ipv4" | "ipv4addr" | "ip" => Self::Ipv4,
            "ipv6" | "ipv6addr" => Self::Ipv6,
            "domain" | "domainname" | "hostname" | "fqdn" => Self::Domain,
            "url" | "uri" => Self::Url,
            "email" | "emailaddr" | "emailaddress" => Self::Email,
            "md5" => Self::Md5,
            "sha1" => Self::Sha1,
            "sha256" => Self::Sha256,
            "sm3" => Self::Sm3,
            "ja3" | "ja3fingerprintmd5" => Self::Ja3,
            "ja4" => Self::Ja4,
            _ => return None,
        })
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalized indicator value. Addresses carry a prefix length (32 or 128 for a single
/// address); host bits beyond the prefix are zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorValue {
    Ipv4 { addr: u32, prefix: u8 },
    Ipv6 { addr: u128, prefix: u8 },
    Domain(Box<str>),
    Url(Box<str>),
    Email(Box<str>),
    Md5([u8; 16]),
    Sha1([u8; 20]),
    Sha256([u8; 32]),
    Sm3([u8; 32]),
    Ja3([u8; 16]),
    Ja4(Box<str>),
}

impl IndicatorValue {
    pub fn kind(&self) -> IndicatorKind {
        match self {
            Self::Ipv4 { .. } => IndicatorKind::Ipv4,
            Self::Ipv6 { .. } => IndicatorKind::Ipv6,
            Self::Domain(_) => IndicatorKind::Domain,
            Self::Url(_) => IndicatorKind::Url,
            Self::Email(_) => IndicatorKind::Email,
            Self::Md5(_) => IndicatorKind::Md5,
            Self::Sha1(_) => IndicatorKind::Sha1,
            Self::Sha256(_) => IndicatorKind::Sha256,
            Self::Sm3(_) => IndicatorKind::Sm3,
            Self::Ja3(_) => IndicatorKind::Ja3,
            Self::Ja4(_) => IndicatorKind::Ja4,
        }
    }

    /// Parses `text` as a value of `kind`, normalizing it.
    pub fn parse(kind: IndicatorKind, text: &str) -> Result<Self, ValueError> {
        let t = text.trim();
        match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                let v = parse_ip(t)?;
                if v.kind() != kind {
                    return Err(err(kind.as_str(), format!("{t:?} is an {}", v.kind())));
                }
                Ok(v)
            }
            IndicatorKind::Domain => normalize_domain(t).map(|d| Self::Domain(d.into())),
            IndicatorKind::Url => normalize_url(t).map(|u| Self::Url(u.into())),
            IndicatorKind::Email => normalize_email(t).map(|e| Self::Email(e.into())),
            IndicatorKind::Md5 => hex_array(kind, t).map(Self::Md5),
            IndicatorKind::Sha1 => hex_array(kind, t).map(Self::Sha1),
            IndicatorKind::Sha256 => hex_array(kind, t).map(Self::Sha256),
            IndicatorKind::Sm3 => hex_array(kind, t).map(Self::Sm3),
            IndicatorKind::Ja3 => hex_array(kind, t).map(Self::Ja3),
            IndicatorKind::Ja4 => normalize_ja4(t).map(|j| Self::Ja4(j.into())),
        }
    }

    /// Guesses the type of a bare value, as found in plain lists: an address or CIDR, a hex
    /// digest by its length (32 MD5, 40 SHA-1, 64 SHA-256; SM3 and JA3 must be named), a URL
    /// (has `://`), an e-mail address (has `@`), a JA4 fingerprint, else a domain.
    pub fn sniff(text: &str) -> Result<Self, ValueError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(err("value", "empty"));
        }
        if let Ok(v) = parse_ip(t) {
            return Ok(v);
        }
        if t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match t.len() {
                32 => Self::parse(IndicatorKind::Md5, t),
                40 => Self::parse(IndicatorKind::Sha1, t),
                64 => Self::parse(IndicatorKind::Sha256, t),
                n if !t.bytes().all(|b| b.is_ascii_digit()) && n > 8 => Err(err(
                    "hash",
                    format!("{n} hex digits is no MD5, SHA-1 or SHA-256 length"),
                )),
                _ => Err(err("value", format!("{t:?} is no indicator"))),
            };
        }
        if t.contains("://") {
            return Self::parse(IndicatorKind::Url, t);
        }
        if t.contains('@') {
            return Self::parse(IndicatorKind::Email, t);
        }
        if looks_like_ja4(t) {
            return Self::parse(IndicatorKind::Ja4, t);
        }
        Self::parse(IndicatorKind::Domain, t)
    }

    /// The canonical text form: CIDR notation for networks (no `/32`, `/128` for hosts),
    /// lower-case hex for digests.
    pub fn text(&self) -> String {
        match self {
            Self::Ipv4 { addr, prefix } => {
                let a = Ipv4Addr::from(*addr);
                if *prefix == 32 {
                    a.to_string()
                } else {
                    format!("{a}/{prefix}")
                }
            }
            Self::Ipv6 { addr, prefix } => {
                let a = Ipv6Addr::from(*addr);
                if *prefix == 128 {
                    a.to_string()
                } else {
                    format!("{a}/{prefix}")
                }
            }
            Self::Domain(s) | Self::Url(s) | Self::Email(s) | Self::Ja4(s) => s.to_string(),
            Self::Md5(h) | Self::Ja3(h) => hex::encode(h),
            Self::Sha1(h) => hex::encode(h),
            Self::Sha256(h) | Self::Sm3(h) => hex::encode(h),
        }
    }

    /// The inclusive address range of an IPv4 value, or `None`.
    pub fn ipv4_range(&self) -> Option<(u32, u32)> {
        match *self {
            Self::Ipv4 { addr, prefix } => {
                let host = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
                Some((addr, addr | host))
            }
            _ => None,
        }
    }

    /// The inclusive address range of an IPv6 value, or `None`.
    pub fn ipv6_range(&self) -> Option<(u128, u128)> {
        match *self {
            Self::Ipv6 { addr, prefix } => {
                let host = if prefix >= 128 {
                    0
                } else {
                    u128::MAX >> prefix
                };
                Some((addr, addr | host))
            }
            _ => None,
        }
    }

    /// A single address (prefix 32 or 128) as a value.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::Ipv4 {
                addr: u32::from(a),
                prefix: 32,
            },
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Self::Ipv4 {
                    addr: u32::from(v4),
                    prefix: 32,
                },
                None => Self::Ipv6 {
                    addr: u128::from(a),
                    prefix: 128,
                },
            },
        }
    }
}

impl fmt::Display for IndicatorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.text())
    }
}

/// Parses an address or a network in CIDR notation; host bits beyond the prefix are cleared.
pub fn parse_ip(text: &str) -> Result<IndicatorValue, ValueError> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (
            a,
            Some(
                p.parse::<u8>()
                    .map_err(|_| err("ip", format!("bad prefix length {p:?}")))?,
            ),
        ),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| err("ip", format!("{addr:?} is no IP address")))?;
    match ip {
        IpAddr::V4(a) => {
            let prefix = prefix.unwrap_or(32);
            if prefix > 32 {
                return Err(err("ipv4", format!("prefix /{prefix} is longer than 32")));
            }
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            Ok(IndicatorValue::Ipv4 {
                addr: u32::from(a) & mask,
                prefix,
            })
        }
        IpAddr::V6(a) => {
            let prefix = prefix.unwrap_or(128);
            if prefix > 128 {
                return Err(err("ipv6", format!("prefix /{prefix} is longer than 128")));
            }
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            Ok(IndicatorValue::Ipv6 {
                addr: u128::from(a) & mask,
                prefix,
            })
        }
    }
}

fn hex_array<const N: usize>(kind: IndicatorKind, text: &str) -> Result<[u8; N], ValueError> {
    if text.len() != 2 * N {
        return Err(err(
            kind.as_str(),
            format!("{} hex digits, a {kind} has {}", text.len(), 2 * N),
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|e| err(kind.as_str(), format!("not hexadecimal: {e}")))?;
    Ok(out)
}

/// Normalizes a domain name: trimmed, a leading `*.` and a trailing dot removed, lower-case,
/// internationalized labels converted to punycode; every label 1–63 characters of letters,
/// digits, `-` and `_`, the whole at most 253.
pub fn normalize_domain(text: &str) -> Result<String, ValueError> {
    let t = text.trim();
    let t = t.strip_prefix("*.").unwrap_or(t);
    let t = t.strip_suffix('.').unwrap_or(t);
    let ascii = if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        match url::Host::parse(t) {
            Ok(url::Host::Domain(d)) => d,
            _ => return Err(err("domain", format!("{t:?} is no valid domain name"))),
        }
    };
    check_domain(&ascii)?;
    Ok(ascii)
}

fn check_domain(d: &str) -> Result<(), ValueError> {
    if !d.contains('.') {
        return Err(err("domain", format!("{d:?} has no dot")));
    }
    if d.len() > 253 {
        return Err(err("domain", format!("{d:?} has a bad length")));
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(err("domain", format!("{d:?} has an empty or long label")));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err("domain", format!("{d:?} has a bad character")));
        }
    }
    if d.parse::<Ipv4Addr>().is_ok() {
        return Err(err("domain", format!("{d:?} is an IP address")));
    }
    Ok(())
}

/// Normalizes a URL: scheme and host lower-case (the host in punycode), default port removed,
/// percent-encoding canonical (escapes of unreserved characters decoded, hex digits upper-case),
/// fragment dropped. A URL without a scheme is taken as `http://`.
pub fn normalize_url(text: &str) -> Result<String, ValueError> {
    let t = text.trim();
    let owned;
    let t = if t.contains("://") {
        t
    } else {
        owned = format!("http://{t}");
        &owned
    };
    let mut u = url::Url::parse(t).map_err(|e| err("url", format!("{t:?}: {e}")))?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err(err("url", format!("{t:?} has no host")));
    }
    u.set_fragment(None);
    let s = u.as_str();
    let split = u[..url::Position::BeforePath].len();
    let (head, tail) = s.split_at(split);
    let mut out = String::with_capacity(s.len());
    out.push_str(head);
    normalize_percent(tail, &mut out);
    Ok(out)
}

fn normalize_percent(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let v = (hex_val(b[i + 1]) << 4) | hex_val(b[i + 2]);
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                out.push('%');
                out.push(b[i + 1].to_ascii_uppercase() as char);
                out.push(b[i + 2].to_ascii_uppercase() as char);
            }
            i += 3;
        } else {
            // Push the whole UTF-8 character starting here (the url crate has already
            // percent-encoded non-ASCII, so this is one byte in practice).
            let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&s[i..i + ch_len]);
            i += ch_len;
        }
    }
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Normalizes an e-mail address: trimmed, angle brackets removed, lower-case, domain part a
/// valid domain.
pub fn normalize_email(text: &str) -> Result<String, ValueError> {
    let t = text.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = t
        .rsplit_once('@')
        .ok_or_else(|| err("email", format!("{t:?} has no @")))?;
    if local.is_empty() || local.len() > 64 || local.contains(char::is_whitespace) {
        return Err(err("email", format!("{t:?} has a bad local part")));
    }
    let domain = normalize_domain(domain).map_err(|e| err("email", e.message))?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

fn looks_like_ja4(t: &str) -> bool {
    let parts: Vec<&str> = t.split('_').collect();
    parts.len() == 3
        && parts[0].len() == 10
        && parts[0].starts_with(['t', 'q', 'd'])
        && parts[1].len() == 12
        && parts[2].len() == 12
        && parts[1..]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn normalize_ja4(t: &str) -> Result<String, ValueError> {
    let l = t.to_ascii_lowercase();
    if looks_like_ja4(&l) {
        Ok(l)
    } else {
        Err(err(
            "ja4",
            format!("{t:?} is not of the form t13d1516h2_8daaf6152771_02713d6af862"),
        ))
    }
}

/// Traffic Light Protocol marking, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    Red,
}

/// STIX marking-definition ids of TLP 1.0 (the OASIS fixed ids) and TLP 2.0.
const TLP_MARKINGS: [(&str, Tlp); 9] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
];

impl Tlp {
    /// Parses `clear`, `white` (TLP 1.0), `green`, `amber`, `amber+strict`, `red`, with or
    /// without a `tlp:` prefix, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.strip_prefix("tlp:").unwrap_or(&t).trim();
        Some(match t {
            "clear" | "white" => Self::Clear,
            "green" => Self::Green,
            "amber" => Self::Amber,
            "amber+strict" | "amber-strict" => Self::AmberStrict,
            "red" => Self::Red,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Green => "green",
            Self::Amber => "amber",
            Self::AmberStrict => "amber+strict",
            Self::Red => "red",
        }
    }

    /// The TLP of a STIX marking-definition id, TLP 1.0 or 2.0.
    pub fn from_marking_ref(id: &str) -> Option<Self> {
        TLP_MARKINGS.iter().find(|(m, _)| *m == id).map(|(_, t)| *t)
    }

    /// The marking-definition id for exports.
    pub fn marking_ref(self) -> &'static str {
        // TLP 1.0 ids where one exists (every STIX 2.1 consumer knows them); TLP 2.0 only for
        // amber+strict, which TLP 1.0 lacks.
        let i = match self {
            Self::Clear => 0,
            Self::Green => 1,
            Self::Amber => 2,
            Self::AmberStrict => 7,
            Self::Red => 3,
        };
        TLP_MARKINGS[i].0
    }
}

/// One report of an indicator by a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The feed or organization: `misp:CIRCL`, `stix:<identity name>`, a file name.
    pub source: String,
    /// The source's own id of the object: a STIX indicator id, a MISP attribute uuid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub confidence: u8,
}

/// What is known about an indicator besides its value. Shared (`Arc`) between all atomic
/// indicators that came from one object, so that a MISP event of a thousand attributes or a
/// STIX pattern of twenty values keeps its context once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorContext {
    /// Every source that reported the value (after deduplication, all of them).
    pub sources: Vec<SourceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    pub tags: Vec<String>,
    /// Kill-chain phases as `chain:phase`.
    pub kill_chain_phases: Vec<String>,
    /// ATT&CK technique ids (`T1071.001`).
    pub techniques: Vec<String>,
    pub malware: Vec<String>,
    pub threat_actors: Vec<String>,
    /// Suggested GB/T 20986-2023 sub-category code for alerts raised by this indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn union(into: &mut Vec<String>, from: &[String]) {
    for s in from {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

impl IndicatorContext {
    /// Merges another report of the same value: sources, tags, links unioned; the most
    /// restrictive TLP; the first category and description kept.
    pub fn merge(&mut self, other: &IndicatorContext) {
        for s in &other.sources {
            if !self.sources.contains(s) {
                self.sources.push(s.clone());
            }
        }
        self.tlp = match (self.tlp, other.tlp) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        union(&mut self.tags, &other.tags);
        union(&mut self.kill_chain_phases, &other.kill_chain_phases);
        union(&mut self.techniques, &other.techniques);
        union(&mut self.malware, &other.malware);
        union(&mut self.threat_actors, &other.threat_actors);
        if self.category.is_none() {
            self.category.clone_from(&other.category);
        }
        if self.description.is_none() {
            self.description.clone_from(&other.description);
        }
    }

    /// Fills [`Self::category`] from tags, malware and description when it is unset.
    pub fn suggest_category(&mut self) {
        if self.category.is_none() {
            let words = self
                .tags
                .iter()
                .chain(&self.malware)
                .chain(&self.kill_chain_phases)
                .chain(self.description.iter())
                .map(String::as_str);
            self.category = crate::category::suggest(words).map(str::to_string);
        }
    }
}

/// An atomic indicator: one normalized value with its confidence, validity and context.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub value: IndicatorValue,
    /// 0–100, the highest any source gave.
    pub confidence: u8,
    pub valid_from: Option<Timestamp>,
    /// Expiry: the indicator no longer matches at or after this instant.
    pub valid_until: Option<Timestamp>,
    pub context: Arc<IndicatorContext>,
}

impl Indicator {
    pub fn new(value: IndicatorValue, confidence: u8, context: Arc<IndicatorContext>) -> Self {
        Self {
            value,
            confidence: confidence.min(100),
            valid_from: None,
            valid_until: None,
            context,
        }
    }

    /// True when the indicator is valid at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }

    /// Merges another report of the same value into this one: the highest confidence, the
    /// earliest start, the latest end (open-ended wins), the contexts merged.
    pub fn merge(&mut self, other: &Indicator) {
        self.confidence = self.confidence.max(other.confidence);
        self.valid_from = match (self.valid_from, other.valid_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        self.valid_until = match (self.valid_until, other.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        if !Arc::ptr_eq(&self.context, &other.context) {
            Arc::make_mut(&mut self.context).merge(&other.context);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: IndicatorKind, t: &str) -> Result<String, ValueError> {
        IndicatorValue::parse(kind, t).map(|v| v.text())
    }

    #[test]
    fn addresses_and_networks_are_normalized() {
        assert_eq!(
            p(IndicatorKind::Ipv4, " 1.2.3.4 ").as_deref(),
            Ok("1.2.3.4")
        );
        assert_eq!(
            p(IndicatorKind::Ipv4, "10.1.2.3/8").as_deref(),
            Ok("10.0.0.0/8")
        );
        assert_eq!(
            p(IndicatorKind::Ipv4, "1.2.3.4/32").as_deref(),
            Ok("1.2.3.4")
        );
        assert!(p(IndicatorKind::Ipv4, "1.2.3.4/33").is_err());
        assert!(p(IndicatorKind::Ipv4, "::1").is_err());
        assert!(p(IndicatorKind::Ipv4, "1.2.3").is_err());
        assert_eq!(
            p(IndicatorKind::Ipv6, "2001:DB8::1/32").as_deref(),
            Ok("2001:db8::/32")
        );
        let v = IndicatorValue::parse(IndicatorKind::Ipv4, "192.168.0.0/16").expect("cidr");
        assert_eq!(v.ipv4_range(), Some((0xC0A8_0000, 0xC0A8_FFFF)));
        let all = IndicatorValue::parse(IndicatorKind::Ipv4, "0.0.0.0/0").expect("all");
        assert_eq!(all.ipv4_range(), Some((0, u32::MAX)));
        // An IPv4-mapped IPv6 address observed in an event is the IPv4 address.
        assert_eq!(
            IndicatorValue::from_ip("::ffff:1.2.3.4".parse().expect("ip")).text(),
            "1.2.3.4"
        );
    }

    #[test]
    fn domains_are_lower_case_ascii_without_trailing_dot() {
        assert_eq!(
            p(IndicatorKind::Domain, "WWW.Evil.COM.").as_deref(),
            Ok("www.evil.com")
        );
        assert_eq!(
            p(IndicatorKind::Domain, "*.evil.com").as_deref(),
            Ok("evil.com")
        );
        assert_eq!(
            p(IndicatorKind::Domain, "Bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert!(p(IndicatorKind::Domain, "domain autuo.xicp.net").is_err());
        assert!(p(IndicatorKind::Domain, "a..b").is_err());
        assert!(p(IndicatorKind::Domain, "1.2.3.4").is_err());
        assert!(p(IndicatorKind::Domain, &format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn urls_are_normalized() {
        assert_eq!(
            p(
                IndicatorKind::Url,
                "HTTP://Evil.COM:80/a%2fb/%7Euser/%41?q=%3d#frag"
            )
            .as_deref(),
            Ok("http://evil.com/a%2Fb/~user/A?q=%3D")
        );
        assert_eq!(
            p(IndicatorKind::Url, "https://evil.com:443").as_deref(),
            Ok("https://evil.com/")
        );
        assert_eq!(
            p(IndicatorKind::Url, "https://evil.com:8443/X").as_deref(),
            Ok("https://evil.com:8443/X")
        );
        assert_eq!(
            p(IndicatorKind::Url, "evil.com/gate.php").as_deref(),
            Ok("http://evil.com/gate.php")
        );
        assert!(p(IndicatorKind::Url, "http://").is_err());
    }

    #[test]
    fn hashes_are_checked_by_length() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        assert_eq!(
            p(IndicatorKind::Md5, md5).as_deref(),
            Ok("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert!(p(IndicatorKind::Sha1, md5).is_err());
        assert!(p(IndicatorKind::Sha256, &"z".repeat(64)).is_err());
        let sm3 = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b";
        assert_eq!(
            IndicatorValue::parse(IndicatorKind::Sm3, sm3).map(|v| v.kind()),
            Ok(IndicatorKind::Sm3)
        );
        // A bare 64-digit value is taken as SHA-256: SM3 must be named.
        assert_eq!(
            IndicatorValue::sniff(sm3).map(|v| v.kind()),
            Ok(IndicatorKind::Sha256)
        );
    }

    #[test]
    fn emails_and_fingerprints() {
        assert_eq!(
            p(IndicatorKind::Email, "<Bad.Guy@Evil.COM>").as_deref(),
            Ok("bad.guy@evil.com")
        );
        assert!(p(IndicatorKind::Email, "nobody").is_err());
        assert!(p(IndicatorKind::Email, "a b@x.com").is_err());
        assert_eq!(
            p(IndicatorKind::Ja3, "E7D705A3286E19EA42F587B344EE6865").as_deref(),
            Ok("e7d705a3286e19ea42f587b344ee6865")
        );
        assert_eq!(
            p(IndicatorKind::Ja4, "T13D1516H2_8daaf6152771_02713d6af862").as_deref(),
            Ok("t13d1516h2_8daaf6152771_02713d6af862")
        );
        assert!(p(IndicatorKind::Ja4, "t13d_x_y").is_err());
    }

    #[test]
    fn sniffing_guesses_the_type() {
        let k = |t: &str| IndicatorValue::sniff(t).map(|v| v.kind());
        assert_eq!(k("58.64.143.244"), Ok(IndicatorKind::Ipv4));
        assert_eq!(k("2001:db8::/48"), Ok(IndicatorKind::Ipv6));
        assert_eq!(k("suroot.com"), Ok(IndicatorKind::Domain));
        assert_eq!(k("http://x.org/a"), Ok(IndicatorKind::Url));
        assert_eq!(k("a@x.org"), Ok(IndicatorKind::Email));
        assert_eq!(k(&"a".repeat(32)), Ok(IndicatorKind::Md5));
        assert_eq!(k(&"b".repeat(40)), Ok(IndicatorKind::Sha1));
        assert_eq!(k(&"c".repeat(64)), Ok(IndicatorKind::Sha256));
        assert_eq!(
            k("t13d1516h2_8daaf6152771_02713d6af862"),
            Ok(IndicatorKind::Ja4)
        );
        assert!(k(&"d".repeat(50)).is_err());
        assert!(k("localhost").is_err());
        assert!(k("").is_err());
    }

    #[test]
    fn tlp_parses_names_and_marking_ids() {
        assert_eq!(Tlp::parse("tlp:white"), Some(Tlp::Clear));
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("tlp:ex:chr"), None);
        assert_eq!(
            Tlp::from_marking_ref("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
            Some(Tlp::Green)
        );
        for t in [
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
            Tlp::Red,
        ] {
            assert_eq!(Tlp::from_marking_ref(t.marking_ref()), Some(t));
            assert_eq!(Tlp::parse(t.as_str()), Some(t));
        }
        assert!(Tlp::Red > Tlp::AmberStrict && Tlp::AmberStrict > Tlp::Amber);
    }

    #[test]
    fn merging_keeps_provenance() {
        let ctx = |src: &str, tag: &str, tlp| {
            Arc::new(IndicatorContext {
                sources: vec![SourceRef {
                    source: src.into(),
                    reference: None,
                    confidence: 10,
                }],
                tags: vec![tag.into(), "shared".into()],
                tlp,
                ..Default::default()
            })
        };
        let v = IndicatorValue::parse(IndicatorKind::Domain, "evil.com").expect("domain");
        let mut a = Indicator::new(v.clone(), 40, ctx("a", "x", Some(Tlp::Green)));
        a.valid_until = Some(Timestamp::from_second(100).expect("ts"));
        let mut b = Indicator::new(v, 80, ctx("b", "y", Some(Tlp::Amber)));
        b.valid_until = Some(Timestamp::from_second(200).expect("ts"));
        a.merge(&b);
        assert_eq!(a.confidence, 80);
        assert_eq!(
            a.valid_until,
            Some(Timestamp::from_second(200).expect("ts"))
        );
        assert_eq!(a.context.sources.len(), 2);
        assert_eq!(a.context.tags, ["x", "shared", "y"]);
        assert_eq!(a.context.tlp, Some(Tlp::Amber));
    }
}
