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
//!   caller passes, so an expired indicator stops matching without a rebuild;
//! - the indicators themselves are kept compact (issue 5, item 7: 10 M within 2 GiB): 16 bytes
//!   each, pointing at the value where its table already keeps it (a string's arena bytes, an
//!   address) or into a dense vector of its type (digests, IPv6), with the context by index
//!   into the set's distinct contexts and validity bounds in a side table for the few that have
//!   them. [`IndicatorSet::indicator`] and [`IndicatorSet::indicators`] rebuild an
//!   [`Indicator`] on demand (hits are rare; lookups never need one).

use crate::indicator::IndicatorContext;
use crate::indicator::{Indicator, IndicatorKind, IndicatorValue};
use crate::interval::IntervalMap;
use crate::pattern::{Observation, PatternIndicator};
use hashbrown::HashTable;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// One value seen in an event, with the ECS field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observable {
    pub field: &'static str,
    pub value: IndicatorValue,
}

/// An observable that matched an active indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index into the observables passed to [`IndicatorSet::match_event`].
    pub observable: usize,
    /// Index of the indicator in the set (stable for the set's lifetime).
    pub indicator_id: u32,
    /// The indicator, rebuilt from the set's compact form.
    pub indicator: Indicator,
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

/// Set in a table entry's id when the indicator has a `valid_from` or `valid_until`: only then
/// is the indicator itself read to check validity, so an unbounded hit costs no extra fetch.
const BOUNDED: u32 = 1 << 31;
const ID_MASK: u32 = !BOUNDED;

/// Most indicators a set holds: ids keep their top bit for [`BOUNDED`].
pub const MAX_INDICATORS: usize = ID_MASK as usize;

const SEED_A: u64 = 0x243F_6A88_85A3_08D3;
const SEED_B: u64 = 0x1319_8A2E_0370_7344;

/// Folded multiply: the 128-bit product's halves XORed (foldhash's and wyhash's mixer).
#[inline(always)]
fn mix(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Hash of a digest (16 bytes or more): its first and last eight bytes mixed with the seeds.
/// Digests are uniformly distributed already, so two words carry all the entropy a table of
/// any size can use.
#[inline(always)]
fn digest_hash(k: &[u8]) -> u64 {
    mix(word(k, 0) ^ SEED_A, word(k, k.len() - 8) ^ SEED_B)
}

#[inline(always)]
fn v4_hash(a: u32) -> u64 {
    mix(u64::from(a) ^ SEED_A, SEED_B)
}

#[inline(always)]
fn v6_hash(a: u128) -> u64 {
    mix(((a >> 64) as u64) ^ SEED_A, (a as u64) ^ SEED_B)
}

/// A table's 64-bit hash from the 32 bits a string entry keeps: the low bits pick the bucket,
/// the top seven are hashbrown's control byte, both from the same 32 bits.
#[inline(always)]
fn widen(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

/// One string key: its hash, where its bytes are in the arena, and the entry id.
#[derive(Debug, Clone, Copy)]
struct StrSlot {
    hash: u32,
    off: u32,
    len: u32,
    id: u32,
}

/// Exact string values of one type (domains, URLs, e-mail addresses, JA4): the bytes in one
/// arena, a table of 16-byte slots. A probe compares the stored hash and length before the
/// bytes, so a hit reads one slot and one arena line (not an indicator and its heap string).
#[derive(Debug, Clone, Default)]
struct StrTable {
    arena: Vec<u8>,
    table: HashTable<StrSlot>,
}

impl StrTable {
    #[inline(always)]
    fn hash(hasher: &foldhash::fast::FixedState, key: &[u8]) -> u32 {
        (hasher.hash_one(key) >> 32) as u32
    }

    #[inline(always)]
    fn find(&self, h: u32, key: &[u8]) -> Option<u32> {
        let arena = &self.arena;
        self.table
            .find(widen(h), |s| {
                s.hash == h
                    && s.len as usize == key.len()
                    && arena.get(s.off as usize..s.off as usize + key.len()) == Some(key)
            })
            .map(|s| s.id)
    }

    /// The id already stored for `key`, or `None` after storing it under `id`.
    fn find_or_insert(&mut self, h: u32, key: &[u8], id: u32) -> Option<u32> {
        let Self { arena, table } = self;
        match table.entry(
            widen(h),
            |s| {
                s.hash == h
                    && s.len as usize == key.len()
                    && arena.get(s.off as usize..s.off as usize + key.len()) == Some(key)
            },
            |s| widen(s.hash),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Some(e.get().id),
            hashbrown::hash_table::Entry::Vacant(e) => {
                // The caller checked that the arena stays addressable by `u32`.
                let off = arena.len() as u32;
                arena.extend_from_slice(key);
                e.insert(StrSlot {
                    hash: h,
                    off,
                    len: key.len() as u32,
                    id,
                });
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// True when `len` more bytes keep every offset and end within `u32`.
    fn has_room(&self, len: usize) -> bool {
        self.arena.len() + len <= u32::MAX as usize
    }

    /// The bytes of a stored key as text (they came from a `&str`).
    fn text(&self, off: u32, len: u32) -> Box<str> {
        let (off, len) = (off as usize, len as usize);
        self.arena
            .get(off..off + len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
            .into()
    }

    fn shrink(&mut self) {
        self.arena.shrink_to_fit();
        self.table.shrink_to(0, |s| widen(s.hash));
    }

    fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<StrSlot>() + 1)
    }

    fn ids_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.table.iter_mut().map(|s| &mut s.id)
    }
}

/// Keys stored inline with their id: digests (`[u8; N]`), host addresses (`u32`, `u128`).
trait InlineKey: Copy + Eq {
    fn hash(&self) -> u64;
}

impl<const N: usize> InlineKey for [u8; N] {
    #[inline(always)]
    fn hash(&self) -> u64 {
        digest_hash(self)
    }
}

impl InlineKey for u32 {
    #[inline(always)]
    fn hash(&self) -> u64 {
        v4_hash(*self)
    }
}

impl InlineKey for u128 {
    #[inline(always)]
    fn hash(&self) -> u64 {
        v6_hash(*self)
    }
}

/// A table of `(key, id)` pairs: a probe reads one slot, hit or miss.
#[derive(Debug, Clone)]
struct InlineTable<K> {
    table: HashTable<(K, u32)>,
}

impl<K> Default for InlineTable<K> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
        }
    }
}

impl<K: InlineKey> InlineTable<K> {
    #[inline(always)]
    fn find(&self, k: &K) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        self.table
            .find(k.hash(), |(s, _)| s == k)
            .map(|&(_, id)| id)
    }

    fn find_or_insert(&mut self, k: K, id: u32) -> Option<u32> {
        match self
            .table
            .entry(k.hash(), |(s, _)| *s == k, |(s, _)| s.hash())
        {
            hashbrown::hash_table::Entry::Occupied(e) => Some(e.get().1),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((k, id));
                None
            }
        }
    }

    fn shrink(&mut self) {
        self.table.shrink_to(0, |(s, _)| s.hash());
    }

    fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
    }

    fn ids_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.table.iter_mut().map(|(_, id)| id)
    }
}

/// Label count of a domain (dots plus one), capped at 63 for the label mask.
#[inline(always)]
fn label_bit(labels: usize) -> u64 {
    1u64 << labels.min(63)
}

/// Indicators indexed for matching. Built once; rebuilt when the indicator set changes.
///
/// Each type has its own table, keyed by the normalized value: digests and host addresses
/// inline, strings in an arena ([`StrTable`]); networks in [`IntervalMap`]s. Table entries
/// carry the indicator's id with a flag saying whether it has validity bounds at all.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    entries: Vec<Entry>,
    /// The distinct contexts, by [`Entry::ctx`].
    contexts: Vec<Arc<IndicatorContext>>,
    /// Validity of the indicators that have bounds (`valid_from`, `valid_until`), by id.
    bounds: hashbrown::HashMap<u32, Bounds, foldhash::fast::FixedState>,
    /// IPv6 addresses and digests, by [`Entry::a`].
    v6_vals: Vec<u128>,
    md5_vals: Vec<[u8; 16]>,
    sha1_vals: Vec<[u8; 20]>,
    sha256_vals: Vec<[u8; 32]>,
    sm3_vals: Vec<[u8; 32]>,
    ja3_vals: Vec<[u8; 16]>,
    hasher: foldhash::fast::FixedState,
    v4_hosts: InlineTable<u32>,
    v6_hosts: InlineTable<u128>,
    /// Networks (prefix shorter than the address).
    v4: IntervalMap<u32>,
    v6: IntervalMap<u128>,
    /// One bit per indicator: has validity bounds (read for network hits).
    bounded: Vec<u64>,
    domain: StrTable,
    /// Bit `n`: some domain indicator has `n` labels (63: 63 or more).
    domain_labels: u64,
    /// Longest domain indicator, in bytes.
    domain_max_len: usize,
    url: StrTable,
    email: StrTable,
    ja4: StrTable,
    md5: InlineTable<[u8; 16]>,
    sha1: InlineTable<[u8; 20]>,
    sha256: InlineTable<[u8; 32]>,
    sm3: InlineTable<[u8; 32]>,
    ja3: InlineTable<[u8; 16]>,
    patterns: Vec<PatternIndicator>,
    duplicates: usize,
}

type Bounds = (Option<Timestamp>, Option<Timestamp>);

/// One indicator of a set, in 16 bytes: its value where the set keeps it, its context by index.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// IPv4: the address; strings: the offset in the type's arena; IPv6 and digests: the
    /// index in the type's value vector.
    a: u32,
    /// IPv4 and IPv6: the prefix; strings: the length.
    b: u32,
    /// Index into [`IndicatorSet::contexts`].
    ctx: u32,
    kind: IndicatorKind,
    confidence: u8,
}

/// Pushes `v` and returns its index.
fn push_val<K>(vals: &mut Vec<K>, v: K) -> u32 {
    vals.push(v);
    (vals.len() - 1) as u32
}

/// Counts of a built set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetStats {
    pub indicators: usize,
    /// Reports merged into an indicator already present.
    pub duplicates_merged: usize,
    pub by_kind: BTreeMap<IndicatorKind, usize>,
    /// Segments of the IPv4 and IPv6 network maps (host addresses are in hash tables).
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
    /// Indicators beyond [`MAX_INDICATORS`] distinct values are left out.
    pub fn build(
        indicators: impl IntoIterator<Item = Indicator>,
        patterns: Vec<PatternIndicator>,
    ) -> Self {
        Self::build_tracked(
            indicators.into_iter().map(|i| (i, ())),
            patterns,
            |(), _| {},
        )
    }

    /// Like [`Self::build`], for indicators that each carry a tag of the caller's (the stored
    /// indicator they came from): `placed(tag, id)` is called for every indicator taken, in
    /// order, with the id of the set's indicator it became or was merged into. Those beyond
    /// [`MAX_INDICATORS`] are not taken (and not reported). The indicators are consumed as
    /// they come, so a caller can stream them from a store without holding them all.
    pub fn build_tracked<T>(
        indicators: impl IntoIterator<Item = (Indicator, T)>,
        patterns: Vec<PatternIndicator>,
        mut placed: impl FnMut(T, u32),
    ) -> Self {
        let iter = indicators.into_iter();
        let hasher = foldhash::fast::FixedState::with_seed(0x5649_4749_4c00_0001);
        let mut set = Self {
            entries: Vec::with_capacity(iter.size_hint().0.min(MAX_INDICATORS)),
            contexts: Vec::new(),
            bounds: hashbrown::HashMap::with_hasher(hasher.clone()),
            v6_vals: Vec::new(),
            md5_vals: Vec::new(),
            sha1_vals: Vec::new(),
            sha256_vals: Vec::new(),
            sm3_vals: Vec::new(),
            ja3_vals: Vec::new(),
            hasher,
            v4_hosts: InlineTable::default(),
            v6_hosts: InlineTable::default(),
            v4: IntervalMap::default(),
            v6: IntervalMap::default(),
            bounded: Vec::new(),
            domain: StrTable::default(),
            domain_labels: 0,
            domain_max_len: 0,
            url: StrTable::default(),
            email: StrTable::default(),
            ja4: StrTable::default(),
            md5: InlineTable::default(),
            sha1: InlineTable::default(),
            sha256: InlineTable::default(),
            sm3: InlineTable::default(),
            ja3: InlineTable::default(),
            patterns,
            duplicates: 0,
        };
        let mut networks: hashbrown::HashMap<(u128, u8, bool), u32, foldhash::fast::FixedState> =
            hashbrown::HashMap::with_hasher(set.hasher.clone());
        // Contexts by address (each one interned is held in `set.contexts`, so an address is
        // never reused for another while building), and merged contexts by the pair merged.
        let mut ctx_ids: hashbrown::HashMap<usize, u32, foldhash::fast::FixedState> =
            hashbrown::HashMap::with_hasher(set.hasher.clone());
        let mut merged: hashbrown::HashMap<(u32, u32), u32, foldhash::fast::FixedState> =
            hashbrown::HashMap::with_hasher(set.hasher.clone());
        for (ind, tag) in iter {
            let next = set.entries.len() as u32;
            let Indicator {
                value,
                confidence,
                valid_from,
                valid_until,
                context,
            } = ind;
            // (the id already holding the value, or None once stored; the entry's a and b)
            let (existing, a, b) = match &value {
                IndicatorValue::Ipv4 { addr, prefix: 32 } => {
                    (set.v4_hosts.find_or_insert(*addr, next), *addr, 32)
                }
                IndicatorValue::Ipv4 { addr, prefix } => (
                    Some(
                        *networks
                            .entry((u128::from(*addr), *prefix, false))
                            .or_insert(next),
                    )
                    .filter(|&i| i != next),
                    *addr,
                    u32::from(*prefix),
                ),
                IndicatorValue::Ipv6 { addr, prefix } => {
                    let e = if *prefix == 128 {
                        set.v6_hosts.find_or_insert(*addr, next)
                    } else {
                        Some(*networks.entry((*addr, *prefix, true)).or_insert(next))
                            .filter(|&i| i != next)
                    };
                    let at = if e.is_none() {
                        push_val(&mut set.v6_vals, *addr)
                    } else {
                        0
                    };
                    (e, at, u32::from(*prefix))
                }
                IndicatorValue::Domain(s)
                | IndicatorValue::Url(s)
                | IndicatorValue::Email(s)
                | IndicatorValue::Ja4(s) => {
                    let t = match &value {
                        IndicatorValue::Domain(_) => &mut set.domain,
                        IndicatorValue::Url(_) => &mut set.url,
                        IndicatorValue::Email(_) => &mut set.email,
                        _ => &mut set.ja4,
                    };
                    if !t.has_room(s.len()) {
                        continue;
                    }
                    let off = t.arena.len() as u32;
                    let h = StrTable::hash(&set.hasher, s.as_bytes());
                    let e = t.find_or_insert(h, s.as_bytes(), next);
                    if e.is_none() && matches!(value, IndicatorValue::Domain(_)) {
                        let labels = s.bytes().filter(|&b| b == b'.').count() + 1;
                        set.domain_labels |= label_bit(labels);
                        set.domain_max_len = set.domain_max_len.max(s.len());
                    }
                    (e, off, s.len() as u32)
                }
                IndicatorValue::Md5(k) => {
                    let e = set.md5.find_or_insert(*k, next);
                    let at = if e.is_none() {
                        push_val(&mut set.md5_vals, *k)
                    } else {
                        0
                    };
                    (e, at, 0)
                }
                IndicatorValue::Sha1(k) => {
                    let e = set.sha1.find_or_insert(*k, next);
                    let at = if e.is_none() {
                        push_val(&mut set.sha1_vals, *k)
                    } else {
                        0
                    };
                    (e, at, 0)
                }
                IndicatorValue::Sha256(k) => {
                    let e = set.sha256.find_or_insert(*k, next);
                    let at = if e.is_none() {
                        push_val(&mut set.sha256_vals, *k)
                    } else {
                        0
                    };
                    (e, at, 0)
                }
                IndicatorValue::Sm3(k) => {
                    let e = set.sm3.find_or_insert(*k, next);
                    let at = if e.is_none() {
                        push_val(&mut set.sm3_vals, *k)
                    } else {
                        0
                    };
                    (e, at, 0)
                }
                IndicatorValue::Ja3(k) => {
                    let e = set.ja3.find_or_insert(*k, next);
                    let at = if e.is_none() {
                        push_val(&mut set.ja3_vals, *k)
                    } else {
                        0
                    };
                    (e, at, 0)
                }
            };
            let ctx = match ctx_ids.entry(Arc::as_ptr(&context) as usize) {
                hashbrown::hash_map::Entry::Occupied(e) => *e.get(),
                hashbrown::hash_map::Entry::Vacant(e) => {
                    let c = push_val(&mut set.contexts, context);
                    e.insert(c);
                    c
                }
            };
            match existing {
                Some(i) => {
                    set.duplicates += 1;
                    // As `Indicator::merge`: the highest confidence, the earliest start and
                    // latest end (open-ended wins), the contexts merged (once per pair).
                    let e = &mut set.entries[i as usize];
                    e.confidence = e.confidence.max(confidence);
                    let cur = e.ctx;
                    if cur != ctx {
                        let contexts = &mut set.contexts;
                        let m = *merged.entry((cur, ctx)).or_insert_with(|| {
                            let mut c = IndicatorContext::clone(&contexts[cur as usize]);
                            c.merge(&contexts[ctx as usize]);
                            push_val(contexts, Arc::new(c))
                        });
                        set.entries[i as usize].ctx = m;
                    }
                    if let Some((from, until)) = set.bounds.get(&i).copied() {
                        let from = match (from, valid_from) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            _ => None,
                        };
                        let until = match (until, valid_until) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                        if from.is_none() && until.is_none() {
                            set.bounds.remove(&i);
                        } else {
                            set.bounds.insert(i, (from, until));
                        }
                    }
                    placed(tag, i);
                }
                None => {
                    set.entries.push(Entry {
                        a,
                        b,
                        ctx,
                        kind: value.kind(),
                        confidence,
                    });
                    if valid_from.is_some() || valid_until.is_some() {
                        set.bounds.insert(next, (valid_from, valid_until));
                    }
                    placed(tag, next);
                    if set.entries.len() >= MAX_INDICATORS {
                        break;
                    }
                }
            }
        }
        drop((networks, ctx_ids, merged));
        set.keep_used_contexts();
        let mut r4 = Vec::new();
        let mut r6 = Vec::new();
        set.bounded = vec![0u64; set.entries.len().div_ceil(64)];
        for &i in set.bounds.keys() {
            let i = i as usize;
            set.bounded[i / 64] |= 1 << (i % 64);
        }
        for (i, e) in set.entries.iter().enumerate() {
            match e.kind {
                IndicatorKind::Ipv4 if e.b < 32 => {
                    let v = IndicatorValue::Ipv4 {
                        addr: e.a,
                        prefix: e.b as u8,
                    };
                    if let Some((lo, hi)) = v.ipv4_range() {
                        r4.push((lo, hi, i as u32));
                    }
                }
                IndicatorKind::Ipv6 if e.b < 128 => {
                    let v = IndicatorValue::Ipv6 {
                        addr: set.v6_vals[e.a as usize],
                        prefix: e.b as u8,
                    };
                    if let Some((lo, hi)) = v.ipv6_range() {
                        r6.push((lo, hi, i as u32));
                    }
                }
                _ => {}
            }
        }
        set.v4 = IntervalMap::build(&r4);
        set.v6 = IntervalMap::build(&r6);
        drop((r4, r6));
        // Merging only ever removes bounds, so the flags are set once everything is merged.
        let bounded = std::mem::take(&mut set.bounded);
        let flag = |id: &mut u32| {
            let i = *id as usize;
            if bounded[i / 64] & (1 << (i % 64)) != 0 {
                *id |= BOUNDED;
            }
        };
        set.v4_hosts.ids_mut().for_each(flag);
        set.v6_hosts.ids_mut().for_each(flag);
        for t in [&mut set.domain, &mut set.url, &mut set.email, &mut set.ja4] {
            t.ids_mut().for_each(flag);
            t.shrink();
        }
        set.md5.ids_mut().for_each(flag);
        set.sha1.ids_mut().for_each(flag);
        set.sha256.ids_mut().for_each(flag);
        set.sm3.ids_mut().for_each(flag);
        set.ja3.ids_mut().for_each(flag);
        set.v4_hosts.shrink();
        set.v6_hosts.shrink();
        set.md5.shrink();
        set.sha1.shrink();
        set.sha256.shrink();
        set.sm3.shrink();
        set.ja3.shrink();
        set.bounded = bounded;
        set.entries.shrink_to_fit();
        set.contexts.shrink_to_fit();
        set.bounds.shrink_to_fit();
        set.v6_vals.shrink_to_fit();
        set.md5_vals.shrink_to_fit();
        set.sha1_vals.shrink_to_fit();
        set.sha256_vals.shrink_to_fit();
        set.sm3_vals.shrink_to_fit();
        set.ja3_vals.shrink_to_fit();
        set
    }

    /// Drops the contexts no entry refers to any more (those replaced by a merge).
    fn keep_used_contexts(&mut self) {
        let mut map = vec![u32::MAX; self.contexts.len()];
        for e in &self.entries {
            map[e.ctx as usize] = 0;
        }
        let mut kept = 0u32;
        let old = std::mem::take(&mut self.contexts);
        for (m, c) in map.iter_mut().zip(old) {
            if *m == 0 {
                *m = kept;
                kept += 1;
                self.contexts.push(c);
            }
        }
        for e in &mut self.entries {
            e.ctx = map[e.ctx as usize];
        }
    }

    /// The value of an entry, rebuilt.
    fn value_of(&self, e: &Entry) -> IndicatorValue {
        let i = e.a as usize;
        match e.kind {
            IndicatorKind::Ipv4 => IndicatorValue::Ipv4 {
                addr: e.a,
                prefix: e.b as u8,
            },
            IndicatorKind::Ipv6 => IndicatorValue::Ipv6 {
                addr: self.v6_vals[i],
                prefix: e.b as u8,
            },
            IndicatorKind::Domain => IndicatorValue::Domain(self.domain.text(e.a, e.b)),
            IndicatorKind::Url => IndicatorValue::Url(self.url.text(e.a, e.b)),
            IndicatorKind::Email => IndicatorValue::Email(self.email.text(e.a, e.b)),
            IndicatorKind::Ja4 => IndicatorValue::Ja4(self.ja4.text(e.a, e.b)),
            IndicatorKind::Md5 => IndicatorValue::Md5(self.md5_vals[i]),
            IndicatorKind::Sha1 => IndicatorValue::Sha1(self.sha1_vals[i]),
            IndicatorKind::Sha256 => IndicatorValue::Sha256(self.sha256_vals[i]),
            IndicatorKind::Sm3 => IndicatorValue::Sm3(self.sm3_vals[i]),
            IndicatorKind::Ja3 => IndicatorValue::Ja3(self.ja3_vals[i]),
        }
    }

    /// Indicator `id` rebuilt from its entry.
    fn make(&self, id: u32, e: &Entry) -> Indicator {
        let (valid_from, valid_until) = self.bounds.get(&id).copied().unwrap_or((None, None));
        Indicator {
            value: self.value_of(e),
            confidence: e.confidence,
            valid_from,
            valid_until,
            context: self.contexts[e.ctx as usize].clone(),
        }
    }

    /// Whether indicator `id` is within its validity at `now`.
    #[inline]
    fn is_active(&self, id: u32, now: Timestamp) -> bool {
        self.bounds.get(&id).is_none_or(|&(from, until)| {
            from.is_none_or(|f| f <= now) && until.is_none_or(|u| now < u)
        })
    }

    /// Distinct atomic indicators (values) in the set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.patterns.is_empty()
    }

    /// True when the set holds no atomic indicator (it may hold general patterns).
    pub fn atomic_is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every atomic indicator, in id order, each rebuilt from the set's compact form.
    pub fn indicators(&self) -> impl ExactSizeIterator<Item = Indicator> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| self.make(i as u32, e))
    }

    /// Indicator `id` (as [`Hit::indicator_id`] names it), rebuilt from the set's compact form.
    pub fn indicator(&self, id: u32) -> Option<Indicator> {
        let e = self.entries.get(id as usize)?;
        Some(self.make(id, e))
    }

    /// The general (not line-rate) patterns.
    /// Replaces the general patterns (for a caller that learns them while streaming the
    /// atomic indicators into [`Self::build_tracked`]).
    pub fn set_patterns(&mut self, patterns: Vec<PatternIndicator>) {
        self.patterns = patterns;
    }

    pub fn patterns(&self) -> &[PatternIndicator] {
        &self.patterns
    }

    pub fn stats(&self) -> SetStats {
        let mut by_kind = BTreeMap::new();
        for e in &self.entries {
            *by_kind.entry(e.kind).or_insert(0) += 1;
        }
        SetStats {
            indicators: self.entries.len(),
            duplicates_merged: self.duplicates,
            by_kind,
            ipv4_segments: self.v4.segments(),
            ipv6_segments: self.v6.segments(),
            general_patterns: self.patterns.len(),
        }
    }

    /// Calls `hit` with the id of the entry's indicator when it is active at `now`.
    #[inline(always)]
    fn emit(&self, entry: u32, now: Timestamp, hit: &mut impl FnMut(u32)) {
        let i = entry & ID_MASK;
        if entry & BOUNDED == 0 || self.is_active(i, now) {
            hit(i);
        }
    }

    #[inline(always)]
    fn emit_network(&self, i: u32, now: Timestamp, hit: &mut impl FnMut(u32)) {
        let n = i as usize;
        let bounded = self
            .bounded
            .get(n / 64)
            .is_some_and(|w| w & (1 << (n % 64)) != 0);
        if !bounded || self.is_active(i, now) {
            hit(i);
        }
    }

    /// Host entry and network ids, in id order (as one interval map would give them).
    #[inline(always)]
    fn emit_address(
        &self,
        host: Option<u32>,
        networks: &[u32],
        now: Timestamp,
        hit: &mut impl FnMut(u32),
    ) {
        let mut host = host;
        for &n in networks {
            if let Some(h) = host
                && (h & ID_MASK) < n
            {
                self.emit(h, now, hit);
                host = None;
            }
            self.emit_network(n, now, hit);
        }
        if let Some(h) = host {
            self.emit(h, now, hit);
        }
    }

    #[inline]
    fn lookup_v4(&self, addr: u32, now: Timestamp, hit: &mut impl FnMut(u32)) {
        let host = self.v4_hosts.find(&addr);
        let networks = if self.v4.segments() == 0 {
            &[][..]
        } else {
            self.v4.lookup(addr)
        };
        self.emit_address(host, networks, now, hit);
    }

    #[inline]
    fn lookup_v6(&self, addr: u128, now: Timestamp, hit: &mut impl FnMut(u32)) {
        let host = self.v6_hosts.find(&addr);
        let networks = if self.v6.segments() == 0 {
            &[][..]
        } else {
            self.v6.lookup(addr)
        };
        self.emit_address(host, networks, now, hit);
    }

    /// Every suffix of `d` that still has a dot, longest first (domain indicators always have
    /// one, so the bare top-level label is never probed), skipping suffixes whose label count
    /// or length no domain indicator has.
    #[inline]
    fn lookup_domain(&self, d: &[u8], now: Timestamp, hit: &mut impl FnMut(u32)) {
        if self.domain.len() == 0 {
            return;
        }
        let mut labels = d.iter().filter(|&&b| b == b'.').count() + 1;
        let mut rest = d;
        while labels >= 2 {
            if rest.len() <= self.domain_max_len && self.domain_labels & label_bit(labels) != 0 {
                let h = StrTable::hash(&self.hasher, rest);
                if let Some(e) = self.domain.find(h, rest) {
                    self.emit(e, now, hit);
                }
            }
            match rest.iter().position(|&b| b == b'.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => break,
            }
            labels -= 1;
        }
    }

    #[inline(always)]
    fn lookup_str(&self, t: &StrTable, s: &str, now: Timestamp, hit: &mut impl FnMut(u32)) {
        self.lookup_bytes(t, s.as_bytes(), now, hit);
    }

    #[inline]
    fn lookup_bytes(&self, t: &StrTable, s: &[u8], now: Timestamp, hit: &mut impl FnMut(u32)) {
        if t.len() == 0 {
            return;
        }
        let h = StrTable::hash(&self.hasher, s);
        if let Some(e) = t.find(h, s) {
            self.emit(e, now, hit);
        }
    }

    #[inline(always)]
    fn lookup_inline<K: InlineKey>(
        &self,
        t: &InlineTable<K>,
        k: &K,
        now: Timestamp,
        hit: &mut impl FnMut(u32),
    ) {
        if let Some(e) = t.find(k) {
            self.emit(e, now, hit);
        }
    }

    /// Calls `hit` with the id of every active indicator matching `value`: for an address,
    /// the host and every network containing it, in id order; for a domain, the domain and
    /// every parent domain indicator, longest first; otherwise the equal value.
    #[inline]
    pub fn lookup(&self, value: &IndicatorValue, now: Timestamp, mut hit: impl FnMut(u32)) {
        let hit = &mut hit;
        match value {
            IndicatorValue::Ipv4 { addr, .. } => self.lookup_v4(*addr, now, hit),
            IndicatorValue::Ipv6 { addr, .. } => self.lookup_v6(*addr, now, hit),
            IndicatorValue::Domain(d) => self.lookup_domain(d.as_bytes(), now, hit),
            IndicatorValue::Url(s) => self.lookup_str(&self.url, s, now, hit),
            IndicatorValue::Email(s) => self.lookup_str(&self.email, s, now, hit),
            IndicatorValue::Ja4(s) => self.lookup_str(&self.ja4, s, now, hit),
            IndicatorValue::Md5(k) => self.lookup_inline(&self.md5, k, now, hit),
            IndicatorValue::Sha1(k) => self.lookup_inline(&self.sha1, k, now, hit),
            IndicatorValue::Sha256(k) => self.lookup_inline(&self.sha256, k, now, hit),
            IndicatorValue::Sm3(k) => self.lookup_inline(&self.sm3, k, now, hit),
            IndicatorValue::Ja3(k) => self.lookup_inline(&self.ja3, k, now, hit),
        }
    }

    /// Looks up an observable given as text, as [`observables_from_fields`] reads a field of
    /// that type: for the address kinds any IP address (an IPv4-mapped IPv6 address as IPv4),
    /// for the others [`IndicatorValue::parse`]. Addresses, ASCII domains and hex digests are
    /// normalized on the stack, without allocating; URLs, e-mail addresses, JA4 and
    /// internationalized domains go through the parser. Returns false when the text is not a
    /// value of that type (nothing is looked up).
    pub fn lookup_text(
        &self,
        kind: IndicatorKind,
        text: &str,
        now: Timestamp,
        mut hit: impl FnMut(u32),
    ) -> bool {
        let hit = &mut hit;
        match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                let t = text.trim();
                if let Some(addr) = dotted_quad(t.as_bytes()) {
                    self.lookup_v4(addr, now, hit);
                    return true;
                }
                if let Some(addr) = ipv6_groups(t.as_bytes()) {
                    let ip = std::net::IpAddr::V6(std::net::Ipv6Addr::from(addr));
                    match IndicatorValue::from_ip(ip) {
                        IndicatorValue::Ipv4 { addr, .. } => self.lookup_v4(addr, now, hit),
                        IndicatorValue::Ipv6 { addr, .. } => self.lookup_v6(addr, now, hit),
                        _ => {}
                    }
                    return true;
                }
                match t.parse::<std::net::IpAddr>() {
                    Ok(ip) => match IndicatorValue::from_ip(ip) {
                        IndicatorValue::Ipv4 { addr, .. } => self.lookup_v4(addr, now, hit),
                        IndicatorValue::Ipv6 { addr, .. } => self.lookup_v6(addr, now, hit),
                        _ => {}
                    },
                    Err(_) => return false,
                }
            }
            IndicatorKind::Domain => {
                let mut buf = [0u8; 253];
                match ascii_domain(text, &mut buf) {
                    Some(Some(d)) => self.lookup_domain(d, now, hit),
                    Some(None) => return false,
                    None => match IndicatorValue::parse(kind, text) {
                        Ok(v) => self.lookup(&v, now, hit),
                        Err(_) => return false,
                    },
                }
            }
            IndicatorKind::Md5 => return self.lookup_hex(&self.md5, text, now, hit),
            IndicatorKind::Sha1 => return self.lookup_hex(&self.sha1, text, now, hit),
            IndicatorKind::Sha256 => return self.lookup_hex(&self.sha256, text, now, hit),
            IndicatorKind::Sm3 => return self.lookup_hex(&self.sm3, text, now, hit),
            IndicatorKind::Ja3 => return self.lookup_hex(&self.ja3, text, now, hit),
            IndicatorKind::Url if canonical_url(text.trim()) => {
                self.lookup_str(&self.url, text.trim(), now, hit)
            }
            IndicatorKind::Email => {
                let mut buf = [0u8; EMAIL_MAX];
                match ascii_email(text, &mut buf) {
                    Some(Some(e)) => self.lookup_bytes(&self.email, e, now, hit),
                    Some(None) => return false,
                    None => match IndicatorValue::parse(kind, text) {
                        Ok(v) => self.lookup(&v, now, hit),
                        Err(_) => return false,
                    },
                }
            }
            IndicatorKind::Url | IndicatorKind::Ja4 => match IndicatorValue::parse(kind, text) {
                Ok(v) => self.lookup(&v, now, hit),
                Err(_) => return false,
            },
        }
        true
    }

    #[inline]
    fn lookup_hex<const N: usize>(
        &self,
        t: &InlineTable<[u8; N]>,
        text: &str,
        now: Timestamp,
        hit: &mut impl FnMut(u32),
    ) -> bool {
        let text = text.trim().as_bytes();
        let mut k = [0u8; N];
        if text.len() != 2 * N {
            return false;
        }
        let mut bad = 0u8;
        for (o, pair) in k.iter_mut().zip(text.chunks_exact(2)) {
            let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            bad |= hi | lo;
            *o = (hi << 4) | (lo & 0x0F);
        }
        if bad & 0xF0 != 0 {
            return false;
        }
        self.lookup_inline(t, &k, now, hit);
        true
    }

    /// Matches an event's observables against the active indicators.
    pub fn match_event(&self, observables: &[Observable], now: Timestamp) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (n, o) in observables.iter().enumerate() {
            self.lookup(&o.value, now, |i| {
                if let Some(indicator) = self.indicator(i) {
                    hits.push(Hit {
                        observable: n,
                        indicator_id: i,
                        indicator,
                    });
                }
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

    /// Approximate heap bytes of the set (entries, value vectors, index tables and arenas,
    /// validity bounds, interval maps; the contexts' own contents are left out).
    pub fn approx_heap_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        let entries = cap(&self.entries) + cap(&self.contexts);
        let values = cap(&self.v6_vals)
            + cap(&self.md5_vals)
            + cap(&self.sha1_vals)
            + cap(&self.sha256_vals)
            + cap(&self.sm3_vals)
            + cap(&self.ja3_vals)
            + self.bounds.capacity() * (std::mem::size_of::<(u32, Bounds)>() + 1);
        let tables = self.v4_hosts.heap_bytes()
            + self.v6_hosts.heap_bytes()
            + self.domain.heap_bytes()
            + self.url.heap_bytes()
            + self.email.heap_bytes()
            + self.ja4.heap_bytes()
            + self.md5.heap_bytes()
            + self.sha1.heap_bytes()
            + self.sha256.heap_bytes()
            + self.sm3.heap_bytes()
            + self.ja3.heap_bytes()
            + self.bounded.capacity() * 8;
        entries + values + tables + self.v4.heap_bytes() + self.v6.heap_bytes()
    }
}

/// True for a URL text that [`crate::indicator::normalize_url`] returns unchanged, judged
/// conservatively without parsing: `http` or `https`, a lower-case host name of letters,
/// digits, `-` and `.` whose last label starts with a letter (so it is no IPv4 address) and
/// none is punycode, no user or port, a path of letters, digits and `/_.-~?=&` with no
/// percent sign, empty or dot segment. Anything else goes through the parser.
fn canonical_url(t: &str) -> bool {
    let b = t.as_bytes();
    let rest = if b.starts_with(b"http://") {
        &b[7..]
    } else if b.starts_with(b"https://") {
        &b[8..]
    } else {
        return false;
    };
    let Some(slash) = rest.iter().position(|&c| c == b'/') else {
        return false;
    };
    let (host, path) = rest.split_at(slash);
    // Host: labels of [a-z0-9-], none empty, none `xn--`, the last starting with a letter.
    let mut label_start = 0usize;
    for i in 0..=host.len() {
        let c = host.get(i).copied().unwrap_or(b'.');
        if c == b'.' {
            let label = &host[label_start..i];
            if label.is_empty() || label.starts_with(b"xn--") {
                return false;
            }
            if i == host.len() && !label[0].is_ascii_lowercase() {
                return false;
            }
            label_start = i + 1;
        } else if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
            return false;
        }
    }
    // Path: safe bytes only, no `//` and no segment starting with a dot.
    let mut prev = 0u8;
    for &c in path {
        let ok = c.is_ascii_alphanumeric()
            || matches!(c, b'/' | b'_' | b'.' | b'-' | b'~' | b'?' | b'=' | b'&');
        if !ok || (prev == b'/' && (c == b'/' || c == b'.')) {
            return false;
        }
        prev = c;
    }
    true
}

/// Hex digit values; 0xFF for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A dotted-quad IPv4 address as `Ipv4Addr::from_str` reads it (four decimal octets up to
/// 255, no leading zeros); `None` for anything else, which then goes through the parser.
fn dotted_quad(b: &[u8]) -> Option<u32> {
    let mut addr = 0u32;
    let mut octets = 0;
    let mut i = 0;
    while octets < 4 {
        if octets > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        addr = (addr << 8) | v;
        octets += 1;
    }
    (i == b.len()).then_some(addr)
}

/// An IPv6 address of hex groups (with at most one `::`) read without the standard parser:
/// `None` for anything else (an embedded IPv4 part, a zone, a bad text), which the caller
/// gives to the parser. What it reads is what the parser reads (property-tested).
fn ipv6_groups(b: &[u8]) -> Option<u128> {
    if b.len() < 2 || b.len() > 39 {
        return None;
    }
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (mut nh, mut nt) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap = true;
        i = 2;
        if i == b.len() {
            return Some(0);
        }
    }
    loop {
        let start = i;
        let mut v = 0u16;
        while i < b.len() && i - start < 4 {
            let h = HEX[b[i] as usize];
            if h > 15 {
                break;
            }
            v = (v << 4) | u16::from(h);
            i += 1;
        }
        if i == start {
            return None;
        }
        let (groups, n) = if gap {
            (&mut tail, &mut nt)
        } else {
            (&mut head, &mut nh)
        };
        *groups.get_mut(*n)? = v;
        *n += 1;
        if i == b.len() {
            break;
        }
        if b[i] != b':' {
            return None;
        }
        i += 1;
        if b.get(i) == Some(&b':') {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
            if i == b.len() {
                break;
            }
        } else if i == b.len() {
            return None;
        }
    }
    if (gap && nh + nt > 7) || (!gap && nh != 8) {
        return None;
    }
    let mut g = [0u16; 8];
    g[..nh].copy_from_slice(&head[..nh]);
    g[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(g.iter().fold(0u128, |a, &x| (a << 16) | u128::from(x)))
}

/// Longest e-mail address [`ascii_email`] normalizes: a 64-byte local part, `@`, a domain.
const EMAIL_MAX: usize = 64 + 1 + 253;

/// An e-mail observable normalized on the stack like [`crate::indicator::normalize_email`]:
/// `None` when the text is not ASCII (the caller parses it), `Some(None)` when it is no
/// e-mail address, `Some(Some(bytes))` otherwise: the local part lower-cased, `@`, the
/// domain as [`ascii_domain`] gives it.
fn ascii_email<'b>(text: &str, buf: &'b mut [u8; EMAIL_MAX]) -> Option<Option<&'b [u8]>> {
    if !text.is_ascii() {
        return None;
    }
    let t = text.trim().trim_start_matches('<').trim_end_matches('>');
    let Some((local, domain)) = t.rsplit_once('@') else {
        return Some(None);
    };
    let l = local.as_bytes();
    if l.is_empty() || l.len() > 64 || l.iter().any(|&c| (c as char).is_whitespace()) {
        return Some(None);
    }
    let mut d = [0u8; 253];
    let Some(domain) = ascii_domain(domain, &mut d)? else {
        return Some(None);
    };
    let n = l.len() + 1 + domain.len();
    for (o, &c) in buf.iter_mut().zip(l) {
        *o = c.to_ascii_lowercase();
    }
    buf[l.len()] = b'@';
    buf[l.len() + 1..n].copy_from_slice(domain);
    Some(Some(&buf[..n]))
}

/// A domain observable normalized on the stack like [`crate::indicator::normalize_domain`]:
/// `None` when the text is not ASCII (the caller parses it), `Some(None)` when it is not a
/// valid domain, `Some(Some(bytes))` otherwise. One pass lower-cases and checks the rules of
/// `normalize_domain`: a dot, at most 253 bytes, labels of 1 to 63 letters, digits, `-` and
/// `_`, and not an IPv4 address.
fn ascii_domain<'b>(text: &str, buf: &'b mut [u8; 253]) -> Option<Option<&'b [u8]>> {
    let t = text.trim();
    let t = t.strip_prefix("*.").unwrap_or(t);
    let t = t.strip_suffix('.').unwrap_or(t);
    let b = t.as_bytes();
    if b.len() > buf.len() {
        return if t.is_ascii() { Some(None) } else { None };
    }
    let mut label = 0usize;
    let mut dots = 0usize;
    let mut valid = true;
    let mut numeric = true;
    for (o, &c) in buf.iter_mut().zip(b) {
        if !c.is_ascii() {
            return None;
        }
        *o = c.to_ascii_lowercase();
        if c == b'.' {
            valid &= label > 0;
            label = 0;
            dots += 1;
        } else {
            label += 1;
            valid &= label <= 63 && (c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
            numeric &= c.is_ascii_digit();
        }
    }
    let out: &[u8] = &buf[..b.len()];
    valid &= label > 0 && dots > 0;
    // Only digits and dots can be an IPv4 address, which is no domain.
    if valid && numeric {
        valid = std::str::from_utf8(out).is_ok_and(|s| s.parse::<std::net::Ipv4Addr>().is_err());
    }
    Some(valid.then_some(out))
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
        let i = set.indicator(0).expect("merged");
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

    /// The reference: every indicator of the set compared with the observable one by one.
    fn naive(set: &IndicatorSet, v: &IndicatorValue, now: Timestamp) -> Vec<u32> {
        let inds: Vec<Indicator> = set.indicators().collect();
        let active = |i: usize| inds[i].is_active(now);
        match v {
            IndicatorValue::Ipv4 { addr, .. } => (0..inds.len())
                .filter(|&i| {
                    inds[i]
                        .value
                        .ipv4_range()
                        .is_some_and(|(lo, hi)| lo <= *addr && *addr <= hi)
                        && active(i)
                })
                .map(|i| i as u32)
                .collect(),
            IndicatorValue::Ipv6 { addr, .. } => (0..inds.len())
                .filter(|&i| {
                    inds[i]
                        .value
                        .ipv6_range()
                        .is_some_and(|(lo, hi)| lo <= *addr && *addr <= hi)
                        && active(i)
                })
                .map(|i| i as u32)
                .collect(),
            IndicatorValue::Domain(d) => {
                let mut out = Vec::new();
                let mut rest: &str = d;
                while let Some(dot) = rest.find('.') {
                    let want = IndicatorValue::Domain(rest.into());
                    out.extend(
                        (0..inds.len())
                            .filter(|&i| inds[i].value == want && active(i))
                            .map(|i| i as u32),
                    );
                    rest = &rest[dot + 1..];
                }
                out
            }
            other => (0..inds.len())
                .filter(|&i| inds[i].value == *other && active(i))
                .map(|i| i as u32)
                .collect(),
        }
    }

    mod against_naive {
        use super::*;
        use proptest::prelude::*;

        /// Values from small alphabets, so that indicator sets and observables collide often:
        /// nested networks, parent domains, equal digests of different types.
        fn value() -> impl Strategy<Value = IndicatorValue> {
            let label = prop::sample::select(vec!["a", "b", "evil", "com", "x-1", "c2", "cn"]);
            prop_oneof![
                (
                    0u32..64,
                    prop::sample::select(vec![8u8, 16, 24, 28, 30, 31, 32, 32, 32])
                )
                    .prop_map(|(low, prefix)| {
                        let addr = 0x0A00_0000 | low;
                        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                        IndicatorValue::Ipv4 {
                            addr: addr & mask,
                            prefix,
                        }
                    }),
                (
                    0u128..16,
                    prop::sample::select(vec![16u8, 64, 124, 128, 128])
                )
                    .prop_map(|(low, prefix)| {
                        let addr = (0x2001_0db8u128 << 96) | low;
                        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                        IndicatorValue::Ipv6 {
                            addr: addr & mask,
                            prefix,
                        }
                    }),
                prop::collection::vec(label, 2..5)
                    .prop_map(|ls| IndicatorValue::Domain(ls.join(".").into())),
                (0u8..4).prop_map(|n| IndicatorValue::Url(format!("http://x.cn/{n}").into())),
                (0u8..4).prop_map(|n| IndicatorValue::Email(format!("u{n}@x.cn").into())),
                (0u8..3).prop_map(|n| IndicatorValue::Md5([n; 16])),
                (0u8..3).prop_map(|n| IndicatorValue::Ja3([n; 16])),
                (0u8..3).prop_map(|n| IndicatorValue::Sha1([n; 20])),
                (0u8..3).prop_map(|n| IndicatorValue::Sha256([n; 32])),
                (0u8..3).prop_map(|n| IndicatorValue::Sm3([n; 32])),
                (0u8..3).prop_map(|n| IndicatorValue::Ja4(
                    format!("t13d1516h2_8daaf615277{n}_02713d6af862").into()
                )),
            ]
        }

        fn bound() -> impl Strategy<Value = Option<Timestamp>> {
            prop::option::weighted(
                0.3,
                (1_699_999_000i64..1_700_001_000)
                    .prop_map(|s| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)),
            )
        }

        fn indicator() -> impl Strategy<Value = Indicator> {
            (value(), bound(), bound(), 0u8..=100).prop_map(|(v, from, until, c)| {
                let mut i = Indicator::new(v, c, Arc::new(IndicatorContext::default()));
                i.valid_from = from;
                i.valid_until = until;
                i
            })
        }

        /// The text of a value as an event might carry it: mixed case, a trailing dot.
        fn text_of(v: &IndicatorValue, upper: bool, dot: bool) -> String {
            let mut t = v.text();
            if upper {
                t = t.to_ascii_uppercase();
            }
            if dot && matches!(v, IndicatorValue::Domain(_)) {
                t.push('.');
            }
            t
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn the_fast_matcher_agrees_with_the_naive_one(
                inds in prop::collection::vec(indicator(), 0..80),
                probes in prop::collection::vec((value(), prop::collection::vec(prop::sample::select(vec!["www", "a", "evil"]), 0..3)), 1..60),
                at in 1_699_998_900i64..1_700_001_100,
            ) {
                let now = Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH);
                let distinct: std::collections::BTreeSet<IndicatorValue> =
                    inds.iter().map(|i| i.value.clone()).collect();
                let set = IndicatorSet::build(inds.clone(), Vec::new());
                prop_assert_eq!(set.len(), distinct.len());
                prop_assert_eq!(set.stats().duplicates_merged, inds.len() - distinct.len());
                for (v, sub) in probes {
                    // Subdomains of generated domains, to exercise the suffix walk.
                    let v = match v {
                        IndicatorValue::Domain(d) if !sub.is_empty() => {
                            IndicatorValue::Domain(format!("{}.{d}", sub.join(".")).into())
                        }
                        v => v,
                    };
                    let mut fast = Vec::new();
                    set.lookup(&v, now, |i| fast.push(i));
                    prop_assert_eq!(&fast, &naive(&set, &v, now), "lookup of {}", v);
                    // The text path gives the same as parsing the text and looking it up.
                    for (upper, dot) in [(false, false), (true, true)] {
                        let t = text_of(&v, upper, dot);
                        let mut by_text = Vec::new();
                        let parsed = set.lookup_text(v.kind(), &t, now, |i| by_text.push(i));
                        let mut want = Vec::new();
                        let reference = match v.kind() {
                            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => t
                                .trim()
                                .parse::<std::net::IpAddr>()
                                .ok()
                                .map(IndicatorValue::from_ip),
                            k => IndicatorValue::parse(k, &t).ok(),
                        };
                        if let Some(r) = &reference {
                            set.lookup(r, now, |i| want.push(i));
                        }
                        prop_assert_eq!(parsed, reference.is_some(), "text {:?}", t);
                        prop_assert_eq!(&by_text, &want, "text {:?}", t);
                    }
                }
            }

            #[test]
            fn dotted_quads_are_what_the_parser_reads(t in "[0-9.]{0,18}|[0-9]{1,3}(\\.[0-9]{1,3}){3}") {
                let std = t.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
                let fast = dotted_quad(t.as_bytes());
                // The fast path never accepts what the parser refuses or reads another value;
                // what it leaves out goes through the parser.
                if let Some(a) = fast {
                    prop_assert_eq!(Some(a), std, "{:?}", t);
                }
                if std.is_some() {
                    prop_assert_eq!(fast, std, "{:?}", t);
                }
            }

            #[test]
            fn ipv6_groups_are_what_the_parser_reads(
                t in "[0-9a-fA-F:]{0,41}|([0-9a-f]{1,4}:){0,7}(:[0-9a-f]{1,4}){0,7}|([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}",
                a in any::<u128>(),
            ) {
                for t in [t, std::net::Ipv6Addr::from(a).to_string()] {
                    let std = t.parse::<std::net::Ipv6Addr>().ok().map(u128::from);
                    let fast = ipv6_groups(t.as_bytes());
                    // Never another value nor one the parser refuses; everything of hex groups
                    // the parser reads is read here too.
                    if fast.is_some() {
                        prop_assert_eq!(fast, std, "{:?}", t);
                    }
                    if std.is_some() && !t.contains('.') {
                        prop_assert_eq!(fast, std, "{:?}", t);
                    }
                }
            }

            #[test]
            fn emails_normalized_on_the_stack_are_what_the_parser_gives(
                t in "[ <]{0,2}[a-zA-Z0-9._%+@ \t-]{0,20}@[*.]{0,2}[a-zA-Z0-9_.-]{0,30}[.> ]{0,2}",
            ) {
                let mut buf = [0u8; EMAIL_MAX];
                let fast = ascii_email(&t, &mut buf);
                let parsed = crate::indicator::normalize_email(&t).ok();
                let fast = fast.expect("ASCII text is never left to the parser");
                prop_assert_eq!(
                    fast.map(|b| String::from_utf8_lossy(b).into_owned()),
                    parsed,
                    "{:?}", t
                );
            }

            #[test]
            fn urls_taken_as_canonical_are_what_the_parser_gives(
                t in "https?://[a-zA-Z0-9.-]{1,12}(:[0-9]{1,3})?/[a-zA-Z0-9/_.~?=&%-]{0,24}",
            ) {
                if canonical_url(&t) {
                    let normalized = crate::indicator::normalize_url(&t);
                    prop_assert_eq!(normalized.as_deref(), Ok(t.as_str()));
                }
            }

            #[test]
            fn text_lookups_accept_exactly_what_the_parser_accepts(
                t in "[ *.]{0,2}[a-zA-Z0-9_.:/@-]{0,40}[. ]{0,2}",
                k in prop::sample::select(IndicatorKind::ALL.to_vec()),
            ) {
                let set = IndicatorSet::build(
                    [
                        Indicator::new(
                            IndicatorValue::parse(IndicatorKind::Domain, "a.b").expect("domain"),
                            50,
                            Arc::new(IndicatorContext::default()),
                        ),
                    ],
                    Vec::new(),
                );
                let reference = match k {
                    IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => t
                        .trim()
                        .parse::<std::net::IpAddr>()
                        .ok()
                        .map(IndicatorValue::from_ip),
                    k => IndicatorValue::parse(k, &t).ok(),
                };
                let mut got = Vec::new();
                let parsed = set.lookup_text(k, &t, now(), |i| got.push(i));
                prop_assert_eq!(parsed, reference.is_some(), "{:?} as {}", t, k);
                let mut want = Vec::new();
                if let Some(r) = &reference {
                    set.lookup(r, now(), |i| want.push(i));
                }
                prop_assert_eq!(got, want);
            }
        }
    }
}
