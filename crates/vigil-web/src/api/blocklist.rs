//! Blocklists for enforcement points: `GET /api/v1/intel/blocklist` in three formats and
//! external dynamic lists (`GET /edl/{name}.txt`) that firewalls poll.
//!
//! Only active indicators go out: not revoked, not past `valid_until`, of an enabled
//! source. TLP:RED is never exported; TLP:AMBER (and AMBER+STRICT) only when the caller
//! asks with `tlp=amber`, which organization users may not; the default is up to
//! TLP:GREEN (unmarked counts as CLEAR).
//!
//! Formats:
//! - `plain`: one value per line, deduplicated, sorted (IPv4, IPv6, domains, URLs); when
//!   CIDRs are wanted, addresses inside a listed network are dropped and sibling networks
//!   merged (two /25 into a /24), which is the trivial aggregation.
//! - `nftables`: a script for `nft -f`: `table inet vigil` with the interval sets
//!   `blocklist4` and `blocklist6`, flushed and refilled with `add element` (domains and
//!   URLs cannot be nftables elements and are counted in a comment).
//! - `suricata`: one rule per indicator value with a stable sid derived from the value in a
//!   fixed range per rule kind (IP 1,100,000–1,199,999; dns.query 1,200,000–; tls.sni
//!   1,300,000–; http.host 1,400,000–; URL 1,500,000–1,599,999); `msg` names the indicator
//!   id and its sources.
//!
//! Answers carry an `ETag` (SM3 of the body); `If-None-Match` with it answers 304.

use super::audit_change;
use super::intel::{may_read_sources, require_manage};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use vigil_intel::{IndicatorKind, IndicatorValue};
use vigil_model::{Principal, Role};
use vigil_store::{IndicatorId, IndicatorQuery, IndicatorState, IntelSourceId, NewEdlList};

/// What a blocklist can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockType {
    /// Single IPv4 addresses.
    Ipv4,
    /// Single IPv6 addresses.
    Ipv6,
    /// Networks of either family.
    Cidr,
    Domain,
    Url,
}

impl BlockType {
    pub const ALL: [BlockType; 5] = [Self::Ipv4, Self::Ipv6, Self::Cidr, Self::Domain, Self::Url];

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ipv4" | "ip" => Some(Self::Ipv4),
            "ipv6" => Some(Self::Ipv6),
            "cidr" => Some(Self::Cidr),
            "domain" => Some(Self::Domain),
            "url" => Some(Self::Url),
            _ => None,
        }
    }
}

/// The highest TLP a blocklist may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxTlp {
    Clear,
    Green,
    Amber,
}

impl MaxTlp {
    fn parse(s: &str) -> Result<Self, ApiError> {
        match s.trim().to_ascii_lowercase().trim_start_matches("tlp:") {
            "clear" | "white" => Ok(Self::Clear),
            "green" => Ok(Self::Green),
            "amber" | "amber+strict" => Ok(Self::Amber),
            "red" => Err(ApiError::invalid(
                "tlp",
                "TLP:RED indicators are never exported",
            )),
            _ => Err(ApiError::invalid("tlp", "must be clear, green or amber")),
        }
    }

    /// The markings left out.
    fn exclude(self) -> Vec<String> {
        let mut out = vec!["red".to_string()];
        if self < Self::Amber {
            out.push("amber".into());
            out.push("amber+strict".into());
        }
        if self < Self::Green {
            out.push("green".into());
        }
        out
    }
}

/// Which indicators a blocklist holds; also the stored filter of an external dynamic list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistFilter {
    /// Empty: every type.
    #[serde(default)]
    pub types: Vec<BlockType>,
    #[serde(default)]
    pub min_confidence: Option<u8>,
    /// Highest marking included (default green; `amber` is the explicit opt-in).
    #[serde(default)]
    pub tlp: Option<MaxTlp>,
    /// Source names or ids; empty: every enabled source.
    #[serde(default)]
    pub sources: Vec<String>,
}

impl BlocklistFilter {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.min_confidence.is_some_and(|c| c > 100) {
            return Err(ApiError::invalid("min_confidence", "must be 0 to 100"));
        }
        Ok(())
    }

    /// A filter from configuration values; an error names the field (`types`, `tlp`,
    /// `min_confidence`) and what is wrong.
    pub fn from_parts(
        types: &[String],
        min_confidence: Option<u8>,
        tlp: Option<&str>,
        sources: Vec<String>,
    ) -> Result<Self, (&'static str, String)> {
        let mut parsed = Vec::new();
        for t in types {
            parsed.push(BlockType::parse(t).ok_or_else(|| {
                (
                    "types",
                    format!("'{t}' is not one of ipv4, ipv6, cidr, domain, url"),
                )
            })?);
        }
        let tlp = match tlp.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(MaxTlp::parse(t).map_err(|e| ("tlp", e.message))?),
        };
        let f = Self {
            types: parsed,
            min_confidence,
            tlp,
            sources,
        };
        f.validate().map_err(|e| ("min_confidence", e.message))?;
        Ok(f)
    }

    /// The filter as stored with an external dynamic list.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn wants(&self, t: BlockType) -> bool {
        self.types.is_empty() || self.types.contains(&t)
    }

    fn max_tlp(&self) -> MaxTlp {
        self.tlp.unwrap_or(MaxTlp::Green)
    }

    /// Refuses what the principal may not export: organization users stay at TLP:GREEN.
    fn check_principal(&self, p: &Principal) -> Result<(), ApiError> {
        if p.role == Role::OrgUser && self.max_tlp() > MaxTlp::Green {
            metrics::counter!("vigil_access_denied_total").increment(1);
            return Err(ApiError::forbidden(
                "organization users may export up to TLP:GREEN",
            ));
        }
        Ok(())
    }
}

/// A network or address: `(address, prefix)` with the family's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Net {
    v6: bool,
    addr: u128,
    prefix: u8,
}

impl Net {
    fn bits(self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    fn host_bits(self) -> u32 {
        u32::from(self.bits() - self.prefix)
    }

    fn size(self) -> u128 {
        1u128.checked_shl(self.host_bits()).unwrap_or(0)
    }

    /// The last address inside.
    fn last(self) -> u128 {
        match self.size() {
            0 => u128::MAX,
            n => self.addr.saturating_add(n - 1),
        }
    }

    fn contains(self, other: Net) -> bool {
        self.v6 == other.v6
            && self.prefix <= other.prefix
            && other.addr >= self.addr
            && other.last() <= self.last()
    }

    fn is_host(self) -> bool {
        self.prefix == self.bits()
    }

    /// The parent network when `self` and `next` are the two halves of it.
    fn merge(self, next: Net) -> Option<Net> {
        if self.v6 != next.v6 || self.prefix != next.prefix || self.prefix == 0 {
            return None;
        }
        let size = self.size();
        let parent_size = size.checked_mul(2)?;
        if !self.addr.is_multiple_of(parent_size) || next.addr != self.addr.checked_add(size)? {
            return None;
        }
        Some(Net {
            v6: self.v6,
            addr: self.addr,
            prefix: self.prefix - 1,
        })
    }

    fn text(self) -> String {
        let a = if self.v6 {
            Ipv6Addr::from(self.addr).to_string()
        } else {
            Ipv4Addr::from(u32::try_from(self.addr).unwrap_or(u32::MAX)).to_string()
        };
        if self.is_host() {
            a
        } else {
            format!("{a}/{}", self.prefix)
        }
    }
}

/// Drops networks inside another listed one and merges sibling halves, repeatedly.
fn aggregate(mut nets: Vec<Net>) -> Vec<Net> {
    nets.sort_by_key(|n| (n.v6, n.addr, n.prefix));
    nets.dedup();
    let mut kept: Vec<Net> = Vec::with_capacity(nets.len());
    for n in nets {
        if kept.last().is_some_and(|k| k.contains(n)) {
            continue;
        }
        kept.push(n);
        while kept.len() >= 2 {
            let (a, b) = (kept[kept.len() - 2], kept[kept.len() - 1]);
            match a.merge(b) {
                Some(parent) => {
                    kept.truncate(kept.len() - 2);
                    // The parent may now cover or merge with what came before.
                    if kept.last().is_some_and(|k| k.contains(parent)) {
                        continue;
                    }
                    kept.push(parent);
                }
                None => break,
            }
        }
    }
    kept
}

/// One value to block, with where it came from.
#[derive(Debug, Clone)]
struct Entry {
    indicator: IndicatorId,
    sources: BTreeSet<String>,
}

/// The active indicator values a filter selects, deduplicated.
#[derive(Debug, Default)]
pub struct Blocklist {
    nets: BTreeMap<Net, Entry>,
    domains: BTreeMap<String, Entry>,
    urls: BTreeMap<String, Entry>,
    aggregate_cidrs: bool,
}

/// Most indicators a blocklist reads (the whole store at 10 M would not fit a response).
const MAX_INDICATORS: usize = 2_000_000;

impl Blocklist {
    /// Reads the active indicators of enabled sources that pass the filter.
    pub async fn collect(st: &AppState, f: &BlocklistFilter) -> ApiResult<Blocklist> {
        f.validate()?;
        let all_sources = st.store.list_intel_sources().await?;
        let names: HashMap<IntelSourceId, String> = all_sources
            .iter()
            .map(|s| (s.id, s.spec.name.clone()))
            .collect();
        let mut source_ids: Vec<Option<IntelSourceId>> = Vec::new();
        for want in &f.sources {
            let want = want.trim();
            let found = all_sources
                .iter()
                .find(|s| s.spec.name == want || s.id.to_string() == want)
                .ok_or_else(|| {
                    ApiError::invalid("source", format!("no intelligence source '{want}'"))
                })?;
            source_ids.push(Some(found.id));
        }
        if source_ids.is_empty() {
            source_ids.push(None);
        }
        let mut kinds: Vec<String> = Vec::new();
        if f.wants(BlockType::Ipv4) || f.wants(BlockType::Cidr) {
            kinds.push("ipv4".into());
        }
        if f.wants(BlockType::Ipv6) || f.wants(BlockType::Cidr) {
            kinds.push("ipv6".into());
        }
        if f.wants(BlockType::Domain) {
            kinds.push("domain".into());
        }
        if f.wants(BlockType::Url) {
            kinds.push("url".into());
        }
        let mut out = Blocklist {
            aggregate_cidrs: f.wants(BlockType::Cidr),
            ..Blocklist::default()
        };
        let now = vigil_model::Timestamp::now();
        let mut read = 0usize;
        for source_id in source_ids {
            let mut cursor = None;
            loop {
                let q = IndicatorQuery {
                    source_id,
                    kinds: kinds.clone(),
                    min_confidence: f.min_confidence,
                    tlp_exclude: f.max_tlp().exclude(),
                    state: Some(IndicatorState::Active),
                    now: Some(now),
                    enabled_sources_only: true,
                    oldest_first: true,
                    limit: vigil_store::MAX_PAGE,
                    cursor: cursor.take(),
                    ..IndicatorQuery::default()
                };
                let page = st.store.list_indicators(&q).await?;
                for ind in &page.items {
                    let source = names
                        .get(&ind.spec.source_id)
                        .cloned()
                        .unwrap_or_else(|| ind.spec.source_id.to_string());
                    out.add(f, ind, &source);
                }
                read += page.items.len();
                if read >= MAX_INDICATORS {
                    tracing::warn!(read, "blocklist cut at its indicator bound");
                    metrics::counter!("vigil_intel_blocklist_truncated_total").increment(1);
                    break;
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    fn add(&mut self, f: &BlocklistFilter, ind: &vigil_store::StoredIndicator, source: &str) {
        let spec = &ind.spec;
        let pairs: Vec<(&str, &str)> = if spec.values.is_empty() {
            spec.value
                .as_deref()
                .map(|v| (spec.kind.as_str(), v))
                .into_iter()
                .collect()
        } else {
            spec.values
                .iter()
                .filter_map(|kv| kv.split_once(':'))
                .collect()
        };
        for (kind, text) in pairs {
            let Some(Ok(v)) = IndicatorKind::parse(kind).map(|k| IndicatorValue::parse(k, text))
            else {
                continue;
            };
            let entry = || Entry {
                indicator: ind.id,
                sources: BTreeSet::new(),
            };
            let slot = match v {
                IndicatorValue::Ipv4 { addr, prefix } => {
                    let net = Net {
                        v6: false,
                        addr: u128::from(addr),
                        prefix,
                    };
                    let t = if net.is_host() {
                        BlockType::Ipv4
                    } else {
                        BlockType::Cidr
                    };
                    if !f.wants(t) {
                        continue;
                    }
                    self.nets.entry(net).or_insert_with(entry)
                }
                IndicatorValue::Ipv6 { addr, prefix } => {
                    let net = Net {
                        v6: true,
                        addr,
                        prefix,
                    };
                    let t = if net.is_host() {
                        BlockType::Ipv6
                    } else {
                        BlockType::Cidr
                    };
                    if !f.wants(t) {
                        continue;
                    }
                    self.nets.entry(net).or_insert_with(entry)
                }
                IndicatorValue::Domain(d) if f.wants(BlockType::Domain) => {
                    self.domains.entry(d.to_string()).or_insert_with(entry)
                }
                IndicatorValue::Url(u) if f.wants(BlockType::Url) => {
                    self.urls.entry(u.to_string()).or_insert_with(entry)
                }
                _ => continue,
            };
            slot.sources.insert(source.to_string());
        }
    }

    /// The networks to list: aggregated when CIDRs are wanted, else as stored.
    fn nets(&self) -> Vec<Net> {
        let nets: Vec<Net> = self.nets.keys().copied().collect();
        if self.aggregate_cidrs {
            aggregate(nets)
        } else {
            nets
        }
    }

    /// `plain`: one value per line.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        for n in self.nets() {
            out.push_str(&n.text());
            out.push('\n');
        }
        for d in self.domains.keys().chain(self.urls.keys()) {
            out.push_str(d);
            out.push('\n');
        }
        out
    }

    /// `nftables`: a script `nft -f` loads: the table and sets, flushed and refilled.
    pub fn nftables(&self) -> String {
        let nets = self.nets();
        let v4: Vec<String> = nets.iter().filter(|n| !n.v6).map(|n| n.text()).collect();
        let v6: Vec<String> = nets.iter().filter(|n| n.v6).map(|n| n.text()).collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Vigil blocklist: {} IPv4 and {} IPv6 elements",
            v4.len(),
            v6.len()
        );
        let skipped = self.domains.len() + self.urls.len();
        if skipped > 0 {
            let _ = writeln!(
                out,
                "# {skipped} domain and URL indicators cannot be nftables elements and are left out"
            );
        }
        out.push_str(
            "table inet vigil {\n\
             \tset blocklist4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n\
             \tset blocklist6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n\
             }\n\
             flush set inet vigil blocklist4\n\
             flush set inet vigil blocklist6\n",
        );
        for (set, items) in [("blocklist4", &v4), ("blocklist6", &v6)] {
            for chunk in items.chunks(1_000) {
                let _ = writeln!(
                    out,
                    "add element inet vigil {set} {{ {} }}",
                    chunk.join(", ")
                );
            }
        }
        out
    }

    /// `suricata`: one rule per value, stable sids.
    pub fn suricata(&self) -> String {
        let mut sids = SidAllocator::default();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Vigil blocklist: {} addresses and networks, {} domains, {} URLs",
            self.nets.len(),
            self.domains.len(),
            self.urls.len()
        );
        for (net, e) in &self.nets {
            let value = net.text();
            let sid = sids.sid(SID_IP, &value);
            let kind = if net.is_host() {
                if net.v6 { "ipv6" } else { "ipv4" }
            } else {
                "cidr"
            };
            let _ = writeln!(
                out,
                "alert ip any any <> {value} any (msg:\"{}\"; classtype:bad-unknown; sid:{sid}; rev:1;)",
                rule_msg(kind, &value, e)
            );
        }
        for (d, e) in &self.domains {
            let content = rule_content(&format!(".{d}"));
            let msg = rule_msg("domain", d, e);
            for (base, proto, buffer) in [
                (SID_DNS, "dns", "dns.query"),
                (SID_TLS, "tls", "tls.sni"),
                (SID_HTTP, "http", "http.host"),
            ] {
                let sid = sids.sid(base, d);
                let _ = writeln!(
                    out,
                    "alert {proto} any any -> any any (msg:\"{msg}\"; {buffer}; dotprefix; content:\"{content}\"; nocase; endswith; classtype:bad-unknown; sid:{sid}; rev:1;)"
                );
            }
        }
        for (u, e) in &self.urls {
            let sid = sids.sid(SID_URL, u);
            let msg = rule_msg("url", u, e);
            let (host, rest) = split_url(u);
            let mut rule = format!("alert http any any -> any any (msg:\"{msg}\";");
            if !host.is_empty() {
                let _ = write!(
                    rule,
                    " http.host; content:\"{}\"; nocase; bsize:{};",
                    rule_content(host),
                    host.len()
                );
            }
            let _ = write!(
                rule,
                " http.uri; content:\"{}\"; startswith; classtype:bad-unknown; sid:{sid}; rev:1;)",
                rule_content(rest)
            );
            out.push_str(&rule);
            out.push('\n');
        }
        out
    }
}

const SID_IP: u32 = 1_100_000;
const SID_DNS: u32 = 1_200_000;
const SID_TLS: u32 = 1_300_000;
const SID_HTTP: u32 = 1_400_000;
const SID_URL: u32 = 1_500_000;
const SID_SPAN: u32 = 100_000;

/// Sids from the value's FNV-1a hash within a range, the next free one on a collision, so a
/// value keeps its sid across regenerations unless it collides.
#[derive(Default)]
struct SidAllocator {
    used: HashSet<u32>,
}

impl SidAllocator {
    fn sid(&mut self, base: u32, value: &str) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in value.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        let mut off = h % SID_SPAN;
        for _ in 0..SID_SPAN {
            let sid = base + off;
            if self.used.insert(sid) {
                return sid;
            }
            off = (off + 1) % SID_SPAN;
        }
        // The range is full (more than 100,000 values of one kind): past its end.
        let sid = base + SID_SPAN + self.used.len() as u32;
        self.used.insert(sid);
        sid
    }
}

/// A `msg` text without the characters a rule option cannot hold.
fn rule_msg(kind: &str, value: &str, e: &Entry) -> String {
    let sources: Vec<&str> = e.sources.iter().map(String::as_str).collect();
    let raw = format!(
        "VIGIL intel {kind} {value} indicator {} source {}",
        e.indicator,
        sources.join(",")
    );
    raw.chars()
        .map(|c| match c {
            '"' | ';' | '\\' | '|' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A `content` value: printable ASCII as is, the rest and `"` `;` `\` `|` as `|hex|`.
fn rule_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b'|') || b == b' ' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "|{b:02X}|");
        }
    }
    out
}

/// `(host, path-and-query)` of a normalized URL.
fn split_url(u: &str) -> (&str, &str) {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    match rest.find('/') {
        Some(i) => {
            let host = &rest[..i];
            (host.rsplit_once('@').map_or(host, |(_, h)| h), &rest[i..])
        }
        None => (rest, "/"),
    }
}

/// `"` + the first 32 hex digits of the SM3 of the body + `"`.
fn etag(body: &str) -> String {
    let h = vigil_crypto::sm3_hex(body.as_bytes());
    format!("\"{}\"", &h[..32.min(h.len())])
}

/// The body with its ETag, or 304 when the client holds it already.
fn text_response(headers: &HeaderMap, body: String) -> Response {
    let tag = etag(&body);
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*");
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, tag_value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::ETAG, tag_value),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The blocklist formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFormat {
    Plain,
    Nftables,
    Suricata,
}

impl BlockFormat {
    fn parse(s: &str) -> Result<Self, ApiError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "txt" | "text" => Ok(Self::Plain),
            "nftables" | "nft" => Ok(Self::Nftables),
            "suricata" => Ok(Self::Suricata),
            _ => Err(ApiError::invalid(
                "format",
                "must be plain, nftables or suricata",
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistParams {
    pub format: Option<String>,
    /// Comma-separated: ipv4, ipv6, cidr, domain, url.
    #[serde(rename = "type")]
    pub types: Option<String>,
    pub min_confidence: Option<u8>,
    /// clear, green (default) or amber.
    pub tlp: Option<String>,
    /// Comma-separated source names or ids.
    pub source: Option<String>,
}

impl BlocklistParams {
    fn filter(&self) -> Result<BlocklistFilter, ApiError> {
        let mut types = Vec::new();
        for t in self
            .types
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|t| !t.trim().is_empty())
        {
            types.push(BlockType::parse(t).ok_or_else(|| {
                ApiError::invalid("type", "must be ipv4, ipv6, cidr, domain or url")
            })?);
        }
        let tlp = match self.tlp.as_deref().filter(|t| !t.trim().is_empty()) {
            None => None,
            Some(t) => Some(MaxTlp::parse(t)?),
        };
        let f = BlocklistFilter {
            types,
            min_confidence: self.min_confidence,
            tlp,
            sources: self
                .source
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        f.validate()?;
        Ok(f)
    }
}

/// `GET /api/v1/intel/blocklist`
pub async fn blocklist(
    State(st): State<AppState>,
    auth: Auth,
    params: Result<Query<BlocklistParams>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(p) = params?;
    let format = BlockFormat::parse(p.format.as_deref().unwrap_or("plain"))?;
    let f = p.filter()?;
    f.check_principal(&auth.principal)?;
    let list = Blocklist::collect(&st, &f).await?;
    let body = match format {
        BlockFormat::Plain => list.plain(),
        BlockFormat::Nftables => list.nftables(),
        BlockFormat::Suricata => list.suricata(),
    };
    metrics::counter!("vigil_intel_blocklist_requests_total").increment(1);
    Ok(text_response(&headers, body))
}

/// An external dynamic list as the API shows it.
#[derive(Debug, Serialize)]
pub struct EdlView {
    pub name: String,
    pub description: Option<String>,
    pub filter: BlocklistFilter,
    /// `config` (read-only, from the configuration file) or `api`.
    pub origin: &'static str,
    /// Where firewalls poll it.
    pub path: String,
    pub created_by: Option<String>,
    pub updated_at: Option<vigil_model::Timestamp>,
}

fn parse_filter(v: &serde_json::Value, name: &str) -> ApiResult<BlocklistFilter> {
    serde_json::from_value(v.clone()).map_err(|e| {
        tracing::error!(list = name, error = %e, "stored external dynamic list filter is invalid");
        metrics::counter!("vigil_intel_edl_failures_total").increment(1);
        ApiError::internal()
    })
}

/// Every list: the configured ones first (they win over a stored one of the same name).
pub async fn all_lists(st: &AppState) -> ApiResult<Vec<EdlView>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for l in &st.config.edl_lists {
        seen.insert(l.name.clone());
        out.push(EdlView {
            name: l.name.clone(),
            description: l.description.clone(),
            filter: parse_filter(&l.filter, &l.name)?,
            origin: "config",
            path: format!("/edl/{}.txt", l.name),
            created_by: None,
            updated_at: None,
        });
    }
    for l in st.store.list_edl_lists().await? {
        if seen.contains(&l.spec.name) {
            continue;
        }
        out.push(EdlView {
            filter: parse_filter(&l.spec.filter, &l.spec.name)?,
            path: format!("/edl/{}.txt", l.spec.name),
            name: l.spec.name,
            description: l.spec.description,
            origin: "api",
            created_by: Some(l.created_by),
            updated_at: Some(l.updated_at),
        });
    }
    Ok(out)
}

fn require_read(auth: &Auth) -> Result<(), ApiError> {
    if may_read_sources(&auth.principal) {
        Ok(())
    } else {
        metrics::counter!("vigil_access_denied_total").increment(1);
        Err(ApiError::forbidden(
            "role org_user may not read external dynamic lists",
        ))
    }
}

/// `GET /api/v1/intel/edl`
pub async fn list_edl(
    State(st): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<serde_json::Value>> {
    require_read(&auth)?;
    Ok(super::page_json(all_lists(&st).await?, None))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdlBody {
    pub description: Option<String>,
    #[serde(default)]
    pub filter: BlocklistFilter,
}

/// `PUT /api/v1/intel/edl/{name}`
pub async fn put_edl(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<EdlBody>, JsonRejection>,
) -> ApiResult<Json<EdlView>> {
    require_manage(&auth)?;
    let Json(body) = body?;
    body.filter.validate()?;
    if st.config.edl_lists.iter().any(|l| l.name == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this list is defined in the configuration file",
        ));
    }
    let filter = serde_json::to_value(&body.filter).map_err(|_| ApiError::internal())?;
    let l = st
        .store
        .put_edl_list(
            NewEdlList {
                name: name.clone(),
                description: body.description.filter(|d| !d.trim().is_empty()),
                filter,
            },
            &auth.principal.actor(),
        )
        .await?;
    audit_change(
        &st,
        &auth,
        "intel.edl.put",
        format!("edl/{name}"),
        None,
        &serde_json::to_string(&body.filter).unwrap_or_default(),
    )
    .await;
    Ok(Json(EdlView {
        filter: body.filter,
        path: format!("/edl/{}.txt", l.spec.name),
        name: l.spec.name,
        description: l.spec.description,
        origin: "api",
        created_by: Some(l.created_by),
        updated_at: Some(l.updated_at),
    }))
}

/// `DELETE /api/v1/intel/edl/{name}`
pub async fn delete_edl(
    State(st): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    require_manage(&auth)?;
    if st.config.edl_lists.iter().any(|l| l.name == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this list is defined in the configuration file",
        ));
    }
    if !st.store.delete_edl_list(&name).await? {
        return Err(ApiError::not_found("external dynamic list"));
    }
    audit_change(
        &st,
        &auth,
        "intel.edl.delete",
        format!("edl/{name}"),
        None,
        &name,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The user name HTTP Basic credentials of an external dynamic list may carry besides the
/// list's own name.
pub const EDL_BASIC_USER: &str = "edl";

/// Turns `Authorization: Basic base64(user:token)` into `Authorization: Bearer token` when
/// `user` is the list's name or [`EDL_BASIC_USER`] (compared in constant time); any other
/// user name or a malformed header is refused. Nothing of the credentials is logged or put in
/// an error message.
fn basic_to_bearer(headers: &mut HeaderMap, list: &str) -> Result<(), ApiError> {
    use base64::Engine as _;
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Ok(());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(());
    }
    let refused = || {
        metrics::counter!("vigil_auth_failures_total", "kind" => "edl_basic").increment(1);
        ApiError::unauthorized(
            "Basic credentials must be the list's name (or 'edl') and an API token",
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused())?;
    let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
    let (user, token) = decoded.split_once(':').ok_or_else(refused)?;
    // `|` rather than `||`: both comparisons run whatever the first says.
    let user_ok =
        crate::auth::secrets_equal(user, list) | crate::auth::secrets_equal(user, EDL_BASIC_USER);
    if !user_ok || token.is_empty() {
        return Err(refused());
    }
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| refused())?;
    headers.insert(header::AUTHORIZATION, bearer);
    Ok(())
}

/// A 401 of an external dynamic list, with the Basic challenge firewalls answer.
fn edl_unauthorized(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"vigil-edl\", charset=\"UTF-8\""),
    );
    r
}

/// `GET /edl/{name}.txt`: the list as plain text for firewalls, authenticated with an API
/// token, sent as `Authorization: Bearer <token>` or as HTTP Basic credentials with the
/// list's name or `edl` as user name and the token as password (PAN-OS, FortiGate and
/// others poll with Basic); with `ETag` and 304.
pub async fn edl_text(
    State(st): State<AppState>,
    Path(file): Path<String>,
    mut parts: axum::http::request::Parts,
) -> Result<Response, Response> {
    use axum::extract::FromRequestParts as _;
    let Some(name) = file.strip_suffix(".txt").map(str::to_string) else {
        return Err(ApiError::not_found("external dynamic list").into_response());
    };
    basic_to_bearer(&mut parts.headers, &name).map_err(edl_unauthorized)?;
    let auth = match Auth::from_request_parts(&mut parts, &st).await {
        Ok(a) => a,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(edl_unauthorized(e)),
        Err(e) => return Err(e.into_response()),
    };
    edl_body(&st, &auth, &name, &parts.headers)
        .await
        .map_err(IntoResponse::into_response)
}

async fn edl_body(
    st: &AppState,
    auth: &Auth,
    name: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let list = all_lists(st)
        .await?
        .into_iter()
        .find(|l| l.name == name)
        .ok_or_else(|| ApiError::not_found("external dynamic list"))?;
    list.filter.check_principal(&auth.principal)?;
    let body = Blocklist::collect(st, &list.filter).await?.plain();
    metrics::counter!("vigil_intel_edl_requests_total").increment(1);
    Ok(text_response(headers, body))
}

/// The routes outside `/api/v1`.
pub fn edl_router() -> axum::Router<AppState> {
    axum::Router::new().route("/edl/{file}", axum::routing::get(edl_text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Net {
        let (a, p) = s.split_once('/').unwrap_or((s, "32"));
        Net {
            v6: false,
            addr: u128::from(u32::from(a.parse::<Ipv4Addr>().unwrap())),
            prefix: p.parse().unwrap(),
        }
    }

    fn texts(nets: Vec<Net>) -> Vec<String> {
        nets.into_iter().map(Net::text).collect()
    }

    #[test]
    fn aggregation_drops_covered_and_merges_siblings() {
        let nets = vec![
            v4("10.0.0.0/25"),
            v4("10.0.0.128/25"),
            v4("10.0.0.7"),
            v4("192.0.2.1"),
            v4("192.0.2.0"),
            v4("192.0.2.3"),
            v4("198.51.100.0/24"),
            v4("198.51.100.9"),
        ];
        assert_eq!(
            texts(aggregate(nets)),
            [
                "10.0.0.0/24",
                "192.0.2.0/31",
                "192.0.2.3",
                "198.51.100.0/24"
            ]
        );
        // Four quarters become one network; unaligned neighbours stay apart.
        let nets = vec![
            v4("10.1.0.0/26"),
            v4("10.1.0.64/26"),
            v4("10.1.0.128/26"),
            v4("10.1.0.192/26"),
            v4("10.2.0.1"),
            v4("10.2.0.2"),
        ];
        assert_eq!(
            texts(aggregate(nets)),
            ["10.1.0.0/24", "10.2.0.1", "10.2.0.2"]
        );
    }

    #[test]
    fn sids_are_stable_and_distinct() {
        let mut a = SidAllocator::default();
        let s1 = a.sid(SID_DNS, "evil.example");
        let s2 = a.sid(SID_DNS, "other.example");
        assert!((SID_DNS..SID_DNS + SID_SPAN).contains(&s1));
        assert_ne!(s1, s2);
        let mut b = SidAllocator::default();
        assert_eq!(b.sid(SID_DNS, "evil.example"), s1);
    }

    #[test]
    fn rule_text_is_escaped() {
        assert_eq!(rule_content("/a;b\"c|d"), "/a|3B|b|22|c|7C|d");
        let e = Entry {
            indicator: IndicatorId(uuid::Uuid::nil()),
            sources: ["bad;\"feed".to_string()].into(),
        };
        let m = rule_msg("domain", "x.example", &e);
        assert!(!m.contains(';') && !m.contains('"'), "{m}");
        assert_eq!(
            split_url("http://user@evil.example/p?q=1"),
            ("evil.example", "/p?q=1")
        );
    }

    #[test]
    fn tlp_caps() {
        assert!(MaxTlp::parse("red").is_err());
        assert_eq!(MaxTlp::Green.exclude(), ["red", "amber", "amber+strict"]);
        assert_eq!(MaxTlp::Amber.exclude(), ["red"]);
        assert!(MaxTlp::Clear.exclude().contains(&"green".to_string()));
    }
}
