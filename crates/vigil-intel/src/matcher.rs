//! The line-rate matcher: an [`IndicatorSet`] built once from indicators, then queried with
//! the observables of each event.
//!
//! Layout, chosen for lookups per core and bytes per indicator:
//! - every non-address value (hashes, domains, URLs, e-mail addresses, fingerprints) lives in
//!   one `hashbrown::HashTable<u32>` of indexes into the indicator vector, hashed by type tag
//!   and normalized bytes, so the key is stored once (in the indicator) and a probe of a
//!   missing value touches only the control bytes;
//! - domains match label-wise by suffix: `a.b.evil.com` probes `a.b.evil.com`, `b.evil.com`,
//!   `evil.com` and `com`, so `notevil.com` never matches `evil.com`;
//! - addresses and CIDRs live in two [`IntervalMap`]s (IPv4 over `u32`, IPv6 over `u128`);
//! - validity (`valid_from`/`valid_until`) is checked at match time against the `now` the
//!   caller passes, so an expired indicator stops matching without a rebuild.

use crate::indicator::{Indicator, IndicatorKind, IndicatorValue};
use crate::interval::IntervalMap;
use crate::pattern::{Observation, PatternIndicator};
use hashbrown::HashTable;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// One value seen in an event, with the ECS field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observable {
    pub field: &'static str,
    pub value: IndicatorValue,
}

/// An observable that matched an active indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<'a> {
    /// Index into the observables passed to [`IndicatorSet::match_event`].
    pub observable: usize,
    /// Index of the indicator in the set (stable for the set's lifetime).
    pub indicator_id: u32,
    pub indicator: &'a Indicator,
}

/// ECS fields holding observables, with the type their values are parsed as.
pub const OBSERVABLE_FIELDS: &[(&str, IndicatorKind)] = &[
    ("source.ip", IndicatorKind::Ipv4),
    ("destination.ip", IndicatorKind::Ipv4),
    ("client.ip", IndicatorKind::Ipv4),
    ("server.ip", IndicatorKind::Ipv4),
    ("dns.question.name", IndicatorKind::Domain),
    ("url.domain", IndicatorKind::Domain),
    ("destination.domain", IndicatorKind::Domain),
    ("tls.server.name", IndicatorKind::Domain),
    ("tls.client.server_name", IndicatorKind::Domain),
    ("url.full", IndicatorKind::Url),
    ("url.original", IndicatorKind::Url),
    ("file.hash.md5", IndicatorKind::Md5),
    ("file.hash.sha1", IndicatorKind::Sha1),
    ("file.hash.sha256", IndicatorKind::Sha256),
    ("file.hash.sm3", IndicatorKind::Sm3),
    ("process.hash.md5", IndicatorKind::Md5),
    ("process.hash.sha1", IndicatorKind::Sha1),
    ("process.hash.sha256", IndicatorKind::Sha256),
    ("email.from.address", IndicatorKind::Email),
    ("email.sender.address", IndicatorKind::Email),
    ("email.to.address", IndicatorKind::Email),
    ("email.cc.address", IndicatorKind::Email),
    ("email.reply_to.address", IndicatorKind::Email),
    ("tls.client.ja3", IndicatorKind::Ja3),
    ("tls.client.ja4", IndicatorKind::Ja4),
];

/// Extracts the observables of an event from its ECS fields (`NewEvent::fields`). Values may
/// be strings or arrays of strings; values that do not parse as their field's type are not
/// observables and are skipped. `url.full` and `url.original` yield one observable when equal.
pub fn observables_from_fields(fields: &BTreeMap<String, Value>) -> Vec<Observable> {
    let mut out = Vec::new();
    for &(field, kind) in OBSERVABLE_FIELDS {
        let Some(v) = fields.get(field) else {
            continue;
        };
        let mut push = |s: &str| {
            let parsed = match kind {
                // Addresses of either family.
                IndicatorKind::Ipv4 => s
                    .trim()
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .map(IndicatorValue::from_ip),
                _ => IndicatorValue::parse(kind, s).ok(),
            };
            if let Some(value) = parsed
                && !out.iter().any(|o: &Observable| o.value == value)
            {
                out.push(Observable { field, value });
            }
        };
        match v {
            Value::String(s) => push(s),
            Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(&mut push),
            _ => {}
        }
    }
    out
}

/// The hash of a value's exact key; the same function for insertion, rehashing and lookup.
fn key_hash(hasher: &foldhash::fast::FixedState, v: &IndicatorValue) -> u64 {
    match v.exact_key() {
        Some(k) => hasher.hash_one(k),
        None => 0,
    }
}

/// Indicators indexed for matching. Built once; rebuilt when the indicator set changes.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    indicators: Vec<Indicator>,
    exact: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    v4: IntervalMap<u32>,
    v6: IntervalMap<u128>,
    patterns: Vec<PatternIndicator>,
    duplicates: usize,
}

/// Counts of a built set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetStats {
    pub indicators: usize,
    /// Reports merged into an indicator already present.
    pub duplicates_merged: usize,
    pub by_kind: BTreeMap<IndicatorKind, usize>,
    pub ipv4_segments: usize,
    pub ipv6_segments: usize,
    pub general_patterns: usize,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        Self::build(Vec::new(), Vec::new())
    }
}

impl IndicatorSet {
    /// Builds the set, deduplicating equal values across sources: one indicator per value
    /// with every source kept, the highest confidence and the union of tags and links.
    pub fn build(
        indicators: impl IntoIterator<Item = Indicator>,
        patterns: Vec<PatternIndicator>,
    ) -> Self {
        let hasher = foldhash::fast::FixedState::with_seed(0x5649_4749_4c00_0001);
        let mut all: Vec<Indicator> = Vec::new();
        let mut exact: HashTable<u32> = HashTable::new();
        let mut ips: HashMap<(u128, u8, bool), u32> = HashMap::new();
        let mut duplicates = 0;
        for ind in indicators {
            let existing = if let Some(key) = ind.value.exact_key() {
                let h = hasher.hash_one(key);
                match exact.find(h, |&i| all[i as usize].value.exact_key() == Some(key)) {
                    Some(&i) => Some(i),
                    None => {
                        let i = all.len() as u32;
                        exact.insert_unique(h, i, |&j| key_hash(&hasher, &all[j as usize].value));
                        None
                    }
                }
            } else {
                let k = match ind.value {
                    IndicatorValue::Ipv4 { addr, prefix } => (u128::from(addr), prefix, false),
                    IndicatorValue::Ipv6 { addr, prefix } => (addr, prefix, true),
                    _ => (0, 0, false),
                };
                let next = all.len() as u32;
                match ips.entry(k) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(next);
                        None
                    }
                }
            };
            match existing {
                Some(i) => {
                    duplicates += 1;
                    all[i as usize].merge(&ind);
                }
                None => all.push(ind),
            }
        }
        let mut r4 = Vec::new();
        let mut r6 = Vec::new();
        for (i, ind) in all.iter().enumerate() {
            if let Some((lo, hi)) = ind.value.ipv4_range() {
                r4.push((lo, hi, i as u32));
            } else if let Some((lo, hi)) = ind.value.ipv6_range() {
                r6.push((lo, hi, i as u32));
            }
        }
        all.shrink_to_fit();
        exact.shrink_to(0, |&j| key_hash(&hasher, &all[j as usize].value));
        Self {
            v4: IntervalMap::build(&r4),
            v6: IntervalMap::build(&r6),
            indicators: all,
            exact,
            hasher,
            patterns,
            duplicates,
        }
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty() && self.patterns.is_empty()
    }

    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    pub fn indicator(&self, id: u32) -> Option<&Indicator> {
        self.indicators.get(id as usize)
    }

    /// The general (not line-rate) patterns.
    pub fn patterns(&self) -> &[PatternIndicator] {
        &self.patterns
    }

    pub fn stats(&self) -> SetStats {
        let mut by_kind = BTreeMap::new();
        for i in &self.indicators {
            *by_kind.entry(i.value.kind()).or_insert(0) += 1;
        }
        SetStats {
            indicators: self.indicators.len(),
            duplicates_merged: self.duplicates,
            by_kind,
            ipv4_segments: self.v4.segments(),
            ipv6_segments: self.v6.segments(),
            general_patterns: self.patterns.len(),
        }
    }

    /// Calls `hit` with the id of every active indicator matching `value`.
    #[inline]
    pub fn lookup(&self, value: &IndicatorValue, now: Timestamp, mut hit: impl FnMut(u32)) {
        let mut check = |i: u32| {
            if self.indicators[i as usize].is_active(now) {
                hit(i);
            }
        };
        match value {
            IndicatorValue::Ipv4 { addr, .. } => {
                self.v4.lookup(*addr).iter().for_each(|&i| check(i))
            }
            IndicatorValue::Ipv6 { addr, .. } => {
                self.v6.lookup(*addr).iter().for_each(|&i| check(i))
            }
            IndicatorValue::Domain(d) => {
                // Every suffix that still has a dot: domain indicators always have one, so
                // the bare top-level label is never probed.
                let tag = IndicatorKind::Domain as u8;
                let mut rest: &str = d;
                while let Some(dot) = rest.find('.') {
                    if let Some(i) = self.find_exact(tag, rest.as_bytes()) {
                        check(i);
                    }
                    rest = &rest[dot + 1..];
                }
            }
            other => {
                if let Some((tag, bytes)) = other.exact_key()
                    && let Some(i) = self.find_exact(tag, bytes)
                {
                    check(i);
                }
            }
        }
    }

    #[inline]
    fn find_exact(&self, tag: u8, bytes: &[u8]) -> Option<u32> {
        let key = (tag, bytes);
        let h = self.hasher.hash_one(key);
        self.exact
            .find(h, |&i| {
                self.indicators[i as usize].value.exact_key() == Some(key)
            })
            .copied()
    }

    /// Matches an event's observables against the active indicators.
    pub fn match_event(&self, observables: &[Observable], now: Timestamp) -> Vec<Hit<'_>> {
        let mut hits = Vec::new();
        for (n, o) in observables.iter().enumerate() {
            self.lookup(&o.value, now, |i| {
                hits.push(Hit {
                    observable: n,
                    indicator_id: i,
                    indicator: &self.indicators[i as usize],
                })
            });
        }
        hits
    }

    /// Evaluates the general patterns (those the line-rate matcher cannot hold) over a
    /// sequence of observations; returns the patterns that match and are active at `now`.
    /// Slow: every pattern is evaluated.
    pub fn match_patterns<'a>(
        &'a self,
        observations: &[Observation],
        now: Timestamp,
    ) -> Vec<&'a PatternIndicator> {
        self.patterns
            .iter()
            .filter(|p| p.is_active(now) && p.pattern.matches(observations))
            .collect()
    }

    /// Approximate heap bytes of the set (indicators with their inline values and string
    /// payloads, index tables, interval maps; shared contexts counted once per distinct
    /// pointer is beyond this estimate and left out).
    pub fn approx_heap_bytes(&self) -> usize {
        let inds = self.indicators.capacity() * std::mem::size_of::<Indicator>();
        let strings: usize = self
            .indicators
            .iter()
            .map(|i| match &i.value {
                IndicatorValue::Domain(s)
                | IndicatorValue::Url(s)
                | IndicatorValue::Email(s)
                | IndicatorValue::Ja4(s) => s.len(),
                _ => 0,
            })
            .sum();
        // hashbrown: one u32 slot and one control byte per bucket.
        let table = self.exact.capacity() * 5;
        inds + strings + table + self.v4.heap_bytes() + self.v6.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::IndicatorContext;
    use std::sync::Arc;

    fn ind(kind: IndicatorKind, v: &str) -> Indicator {
        Indicator::new(
            IndicatorValue::parse(kind, v).expect("value"),
            50,
            Arc::new(IndicatorContext::default()),
        )
    }

    fn obs(kind: IndicatorKind, v: &str) -> Observable {
        Observable {
            field: "test",
            value: IndicatorValue::parse(kind, v).expect("value"),
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).expect("ts")
    }

    fn hit_texts(set: &IndicatorSet, o: &[Observable]) -> Vec<String> {
        set.match_event(o, now())
            .iter()
            .map(|h| h.indicator.value.text())
            .collect()
    }

    #[test]
    fn domains_match_label_wise_suffixes() {
        let set = IndicatorSet::build([ind(IndicatorKind::Domain, "evil.com")], Vec::new());
        use IndicatorKind::Domain as D;
        assert_eq!(hit_texts(&set, &[obs(D, "evil.com")]), ["evil.com"]);
        assert_eq!(hit_texts(&set, &[obs(D, "a.b.EVIL.com.")]), ["evil.com"]);
        assert!(hit_texts(&set, &[obs(D, "notevil.com")]).is_empty());
        assert!(hit_texts(&set, &[obs(D, "evil.com.cn")]).is_empty());
        assert!(hit_texts(&set, &[obs(D, "com.evil")]).is_empty());
    }

    #[test]
    fn addresses_match_hosts_and_networks() {
        let set = IndicatorSet::build(
            [
                ind(IndicatorKind::Ipv4, "10.0.0.0/8"),
                ind(IndicatorKind::Ipv4, "10.1.2.3"),
                ind(IndicatorKind::Ipv6, "2001:db8::/32"),
            ],
            Vec::new(),
        );
        let o = |s: &str| Observable {
            field: "source.ip",
            value: IndicatorValue::from_ip(s.parse().expect("ip")),
        };
        assert_eq!(
            hit_texts(&set, &[o("10.1.2.3")]),
            ["10.0.0.0/8", "10.1.2.3"]
        );
        assert_eq!(hit_texts(&set, &[o("10.9.9.9")]), ["10.0.0.0/8"]);
        assert!(hit_texts(&set, &[o("11.0.0.0")]).is_empty());
        assert_eq!(hit_texts(&set, &[o("2001:db8:1::5")]), ["2001:db8::/32"]);
        assert!(hit_texts(&set, &[o("2001:db9::")]).is_empty());
    }

    #[test]
    fn exact_types_do_not_cross() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let set = IndicatorSet::build(
            [
                ind(IndicatorKind::Md5, md5),
                ind(IndicatorKind::Url, "http://evil.com/x"),
                ind(IndicatorKind::Email, "a@evil.com"),
            ],
            Vec::new(),
        );
        assert_eq!(hit_texts(&set, &[obs(IndicatorKind::Md5, md5)]).len(), 1);
        // The same bytes as a JA3 fingerprint are a different indicator type.
        assert!(hit_texts(&set, &[obs(IndicatorKind::Ja3, md5)]).is_empty());
        assert_eq!(
            hit_texts(&set, &[obs(IndicatorKind::Url, "HTTP://EVIL.com:80/x#f")]),
            ["http://evil.com/x"]
        );
        assert!(hit_texts(&set, &[obs(IndicatorKind::Url, "http://evil.com/X")]).is_empty());
        assert_eq!(
            hit_texts(&set, &[obs(IndicatorKind::Email, "A@Evil.com")]),
            ["a@evil.com"]
        );
    }

    #[test]
    fn lookups_survive_table_growth() {
        // Thousands of entries force the table to grow and rehash several times.
        let set = IndicatorSet::build(
            (0..5_000).map(|i| ind(IndicatorKind::Domain, &format!("d{i}.example"))),
            Vec::new(),
        );
        assert_eq!(set.len(), 5_000);
        for i in (0..5_000).step_by(7) {
            let o = [obs(IndicatorKind::Domain, &format!("www.d{i}.example"))];
            assert_eq!(hit_texts(&set, &o), [format!("d{i}.example")]);
        }
        assert!(hit_texts(&set, &[obs(IndicatorKind::Domain, "d5000.example")]).is_empty());
    }

    #[test]
    fn expiry_is_honoured_at_match_time() {
        let mut i = ind(IndicatorKind::Domain, "evil.com");
        i.valid_from = Some(Timestamp::from_second(1_000).expect("ts"));
        i.valid_until = Some(Timestamp::from_second(2_000).expect("ts"));
        let set = IndicatorSet::build([i], Vec::new());
        let o = [obs(IndicatorKind::Domain, "evil.com")];
        let at = |s| {
            set.match_event(&o, Timestamp::from_second(s).expect("ts"))
                .len()
        };
        assert_eq!(at(999), 0);
        assert_eq!(at(1_000), 1);
        assert_eq!(at(1_999), 1);
        assert_eq!(at(2_000), 0);
    }

    #[test]
    fn duplicates_merge_across_sources() {
        let mk = |src: &str, conf: u8, tag: &str| {
            let mut i = ind(IndicatorKind::Ipv4, "1.2.3.4");
            i.confidence = conf;
            i.context = Arc::new(IndicatorContext {
                sources: vec![crate::indicator::SourceRef {
                    source: src.into(),
                    reference: None,
                    confidence: conf,
                }],
                tags: vec![tag.into()],
                ..Default::default()
            });
            i
        };
        let set = IndicatorSet::build(
            [mk("a", 30, "x"), mk("b", 90, "y"), mk("a", 30, "x")],
            Vec::new(),
        );
        assert_eq!(set.len(), 1);
        assert_eq!(set.stats().duplicates_merged, 2);
        let i = &set.indicators()[0];
        assert_eq!(i.confidence, 90);
        assert_eq!(i.context.sources.len(), 2);
        assert_eq!(i.context.tags, ["x", "y"]);
    }

    #[test]
    fn observables_come_from_ecs_fields() {
        let fields: BTreeMap<String, Value> = serde_json::from_value(serde_json::json!({
            "source.ip": "10.0.0.1",
            "destination.ip": "::ffff:8.8.8.8",
            "dns.question.name": "WWW.Evil.com.",
            "url.domain": "www.evil.com",
            "url.full": "HTTP://www.evil.com:80/a#x",
            "file.hash.sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "email.to.address": ["a@x.org", "B@x.org"],
            "tls.client.ja3": "e7d705a3286e19ea42f587b344ee6865",
            "file.hash.md5": "not-a-hash",
            "host.name": "ignored"
        }))
        .expect("fields");
        let obs = observables_from_fields(&fields);
        let texts: Vec<String> = obs
            .iter()
            .map(|o| format!("{}={}", o.field, o.value))
            .collect();
        assert_eq!(
            texts,
            [
                "source.ip=ipv4:10.0.0.1",
                "destination.ip=ipv4:8.8.8.8",
                "dns.question.name=domain:www.evil.com",
                "url.full=url:http://www.evil.com/a",
                "file.hash.sha256=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "email.to.address=email:a@x.org",
                "email.to.address=email:b@x.org",
                "tls.client.ja3=ja3:e7d705a3286e19ea42f587b344ee6865",
            ]
        );
    }
}
