//! The single-pass EVE reader: one walk over the JSON text writes the flattened
//! `suricata.eve.*` fields directly (no `serde_json::Value` tree for objects, no second
//! flattening pass) and remembers where the values the ECS mapping needs are.
//!
//! Known keys get `'static` field names (no allocation per field) and a slot; the mapping in
//! [`crate::eve`] reads slots instead of map lookups. The walk gives up (and the caller falls
//! back to the tree-based path, which defines the behaviour) on anything unusual: invalid
//! JSON, a top level that is not an object, escaped or duplicate keys, dotted keys whose
//! flattened names collide, nesting or field counts near the limits, an object where the
//! mapping expects a plain value. The output for records it does accept equals the tree-based
//! path's (fields in the same order; native fields in document order instead of key order,
//! the same set).

use crate::parsed::{FieldName, Fields};
use crate::{MAX_DEPTH, MAX_FIELDS};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A key of a known object: its name there and its slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct K {
    pub key: &'static str,
    pub slot: usize,
}

macro_rules! table {
    ($keys:ident, $names:ident, $prefix:literal, [$($k:literal),* $(,)?]) => {
        const $keys: &[&str] = &[$($k),*];
        const $names: &[&str] = &[$(concat!($prefix, $k)),*];
    };
}

/// Length, first and last byte: most keys of a table differ there, so the lookup compares
/// whole keys only on a likely hit.
const fn sig(key: &str) -> u32 {
    let b = key.as_bytes();
    match b.len() {
        0 => 0,
        n => ((n as u32) << 16) | ((b[0] as u32) << 8) | b[n - 1] as u32,
    }
}

// Keys in the order Suricata writes them, so the lookup usually hits at the hint.
table!(
    TOP_KEYS,
    TOP_NAMES,
    "suricata.eve.",
    [
        "timestamp",
        "flow_id",
        "in_iface",
        "event_type",
        "vlan",
        "src_ip",
        "src_port",
        "dest_ip",
        "dest_port",
        "proto",
        "tx_id",
        "alert",
        "http",
        "dns",
        "tls",
        "fileinfo",
        "app_proto",
        "flow",
        "netflow",
        "ssh",
        "smtp",
        "community_id",
        "host",
        "pcap_cnt",
        "app_proto_ts",
        "payload",
        "payload_printable",
        "stream",
        "packet",
        "icmp_type",
        "icmp_code",
        "parent_id",
        "direction",
        "pkt_src",
        "stats",
        "anomaly",
        "vars",
        "metadata",
        "packet_info",
    ]
);
table!(
    ALERT_KEYS,
    ALERT_NAMES,
    "suricata.eve.alert.",
    [
        "action",
        "gid",
        "signature_id",
        "rev",
        "signature",
        "category",
        "severity",
        "tx_id",
        "metadata",
        "rule",
    ]
);
table!(
    HTTP_KEYS,
    HTTP_NAMES,
    "suricata.eve.http.",
    [
        "hostname",
        "http_port",
        "url",
        "http_user_agent",
        "http_content_type",
        "http_refer",
        "http_method",
        "protocol",
        "status",
        "redirect",
        "length",
        "xff",
    ]
);
table!(
    DNS_KEYS,
    DNS_NAMES,
    "suricata.eve.dns.",
    [
        "version",
        "type",
        "id",
        "flags",
        "qr",
        "aa",
        "tc",
        "rd",
        "ra",
        "rrname",
        "rrtype",
        "rcode",
        "ttl",
        "rdata",
        "tx_id",
        "opcode",
        "queries",
        "answers",
        "grouped",
        "authorities",
    ]
);
table!(
    GROUPED_KEYS,
    GROUPED_NAMES,
    "suricata.eve.dns.grouped.",
    ["A", "AAAA", "CNAME"]
);
table!(
    TLS_KEYS,
    TLS_NAMES,
    "suricata.eve.tls.",
    [
        "subject",
        "issuerdn",
        "serial",
        "fingerprint",
        "session_resumed",
        "sni",
        "version",
        "notbefore",
        "notafter",
        "ja3",
        "ja3s",
    ]
);
table!(
    JA3_KEYS,
    JA3_NAMES,
    "suricata.eve.tls.ja3.",
    ["hash", "string"]
);
table!(
    JA3S_KEYS,
    JA3S_NAMES,
    "suricata.eve.tls.ja3s.",
    ["hash", "string"]
);
table!(
    FILEINFO_KEYS,
    FILEINFO_NAMES,
    "suricata.eve.fileinfo.",
    [
        "filename", "gaps", "state", "md5", "sha1", "sha256", "stored", "file_id", "size", "tx_id",
        "magic", "sid",
    ]
);
table!(
    FLOW_KEYS,
    FLOW_NAMES,
    "suricata.eve.flow.",
    [
        "pkts_toserver",
        "pkts_toclient",
        "bytes_toserver",
        "bytes_toclient",
        "pkts",
        "bytes",
        "start",
        "end",
        "age",
        "state",
        "reason",
        "alerted",
    ]
);
table!(
    NETFLOW_KEYS,
    NETFLOW_NAMES,
    "suricata.eve.netflow.",
    [
        "pkts_toserver",
        "pkts_toclient",
        "bytes_toserver",
        "bytes_toclient",
        "pkts",
        "bytes",
        "start",
        "end",
        "age",
        "state",
        "reason",
        "alerted",
    ]
);
table!(
    SSH_KEYS,
    SSH_NAMES,
    "suricata.eve.ssh.",
    ["client", "server"]
);
table!(
    SSH_CLIENT_KEYS,
    SSH_CLIENT_NAMES,
    "suricata.eve.ssh.client.",
    ["proto_version", "software_version",]
);
table!(
    SMTP_KEYS,
    SMTP_NAMES,
    "suricata.eve.smtp.",
    ["helo", "mail_from", "rcpt_to"]
);

/// A known object (or an unknown one: every name built from the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Top,
    Alert,
    Http,
    Dns,
    Grouped,
    Tls,
    Ja3,
    Ja3s,
    Fileinfo,
    Flow,
    Netflow,
    Ssh,
    SshClient,
    Smtp,
    Unknown,
}

const ALL: [Ctx; 14] = [
    Ctx::Top,
    Ctx::Alert,
    Ctx::Http,
    Ctx::Dns,
    Ctx::Grouped,
    Ctx::Tls,
    Ctx::Ja3,
    Ctx::Ja3s,
    Ctx::Fileinfo,
    Ctx::Flow,
    Ctx::Netflow,
    Ctx::Ssh,
    Ctx::SshClient,
    Ctx::Smtp,
];

impl Ctx {
    const fn keys(self) -> &'static [&'static str] {
        match self {
            Ctx::Top => TOP_KEYS,
            Ctx::Alert => ALERT_KEYS,
            Ctx::Http => HTTP_KEYS,
            Ctx::Dns => DNS_KEYS,
            Ctx::Grouped => GROUPED_KEYS,
            Ctx::Tls => TLS_KEYS,
            Ctx::Ja3 => JA3_KEYS,
            Ctx::Ja3s => JA3S_KEYS,
            Ctx::Fileinfo => FILEINFO_KEYS,
            Ctx::Flow => FLOW_KEYS,
            Ctx::Netflow => NETFLOW_KEYS,
            Ctx::Ssh => SSH_KEYS,
            Ctx::SshClient => SSH_CLIENT_KEYS,
            Ctx::Smtp => SMTP_KEYS,
            Ctx::Unknown => &[],
        }
    }

    const fn names(self) -> &'static [&'static str] {
        match self {
            Ctx::Top => TOP_NAMES,
            Ctx::Alert => ALERT_NAMES,
            Ctx::Http => HTTP_NAMES,
            Ctx::Dns => DNS_NAMES,
            Ctx::Grouped => GROUPED_NAMES,
            Ctx::Tls => TLS_NAMES,
            Ctx::Ja3 => JA3_NAMES,
            Ctx::Ja3s => JA3S_NAMES,
            Ctx::Fileinfo => FILEINFO_NAMES,
            Ctx::Flow => FLOW_NAMES,
            Ctx::Netflow => NETFLOW_NAMES,
            Ctx::Ssh => SSH_NAMES,
            Ctx::SshClient => SSH_CLIENT_NAMES,
            Ctx::Smtp => SMTP_NAMES,
            Ctx::Unknown => &[],
        }
    }

    /// The first slot of this object's keys.
    #[inline]
    fn base(self) -> usize {
        BASES[self as usize]
    }

    const fn const_base(self) -> usize {
        let mut base = 0;
        let mut i = 0;
        while i < ALL.len() {
            if ALL[i] as usize == self as usize {
                return base;
            }
            base += ALL[i].keys().len();
            i += 1;
        }
        base
    }

    /// The object a known key holds, if the mapping reads inside it.
    fn child(self, key: &str) -> Ctx {
        match (self, key) {
            (Ctx::Top, "alert") => Ctx::Alert,
            (Ctx::Top, "http") => Ctx::Http,
            (Ctx::Top, "dns") => Ctx::Dns,
            (Ctx::Top, "tls") => Ctx::Tls,
            (Ctx::Top, "fileinfo") => Ctx::Fileinfo,
            (Ctx::Top, "flow") => Ctx::Flow,
            (Ctx::Top, "netflow") => Ctx::Netflow,
            (Ctx::Top, "ssh") => Ctx::Ssh,
            (Ctx::Top, "smtp") => Ctx::Smtp,
            (Ctx::Dns, "grouped") => Ctx::Grouped,
            (Ctx::Tls, "ja3") => Ctx::Ja3,
            (Ctx::Tls, "ja3s") => Ctx::Ja3s,
            (Ctx::Ssh, "client") => Ctx::SshClient,
            _ => Ctx::Unknown,
        }
    }

    /// Whether the mapping clones this key's value whole (an object there must go through
    /// the tree-based path, which has it).
    fn read_whole(self, key: &str) -> bool {
        matches!((self, key), (Ctx::Alert, "signature_id" | "rev"))
    }

    fn lookup(self, key: &str, hint: usize) -> Option<usize> {
        let keys = self.keys();
        let base = self.base();
        let sigs = &SIGS[base..base + keys.len()];
        let s = sig(key);
        if sigs.get(hint) == Some(&s) && keys[hint] == key {
            return Some(hint);
        }
        sigs.iter()
            .zip(keys)
            .position(|(x, k)| *x == s && *k == key)
    }
}

const fn index(keys: &[&str], key: &str) -> usize {
    let mut i = 0;
    while i < keys.len() {
        let (a, b) = (keys[i].as_bytes(), key.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("key not in its table")
}

/// The key `key` of the object `ctx` (checked at compile time).
pub(crate) const fn k(ctx: Ctx, key: &'static str) -> K {
    K {
        key,
        slot: ctx.const_base() + index(ctx.keys(), key),
    }
}

const NSLOTS: usize = Ctx::Unknown.const_base();
const BASES: [usize; 15] = {
    let mut out = [0; 15];
    let mut i = 0;
    while i < ALL.len() {
        out[ALL[i] as usize] = ALL[i].const_base();
        i += 1;
    }
    out[Ctx::Unknown as usize] = NSLOTS;
    out
};
/// The key signatures of every table, by slot.
static SIGS: [u32; NSLOTS] = {
    let mut out = [0; NSLOTS];
    let mut i = 0;
    while i < ALL.len() {
        let keys = ALL[i].keys();
        let base = ALL[i].const_base();
        let mut j = 0;
        while j < keys.len() {
            out[base + j] = sig(keys[j]);
            j += 1;
        }
        i += 1;
    }
    out
};
const _: () = {
    let mut i = 0;
    while i < ALL.len() {
        assert!(ALL[i].keys().len() <= 64 && ALL[i].keys().len() == ALL[i].names().len());
        i += 1;
    }
};

/// The slot holds an object (its fields are flattened).
const OBJECT: u32 = u32::MAX;

/// The result of a walk: the `suricata.eve.*` fields and where the known values are.
pub(crate) struct Walk<'de> {
    pub native: Fields,
    /// 0: absent; [`OBJECT`]: an object; else index + 1 into `native`.
    slots: [u32; NSLOTS],
    prefix: String,
    /// Keys of the open objects that are not in the tables (for the duplicate check).
    unknown: Vec<&'de str>,
    /// Ranges of `native` written under a key containing a dot.
    dotted: Vec<(usize, usize)>,
}

impl<'de> Walk<'de> {
    pub fn value(&self, slot: usize) -> Option<&Value> {
        match self.slots[slot] {
            0 | OBJECT => None,
            i => self.native.entry(i as usize - 1).map(|(_, v)| v),
        }
    }

    pub fn is_object(&self, slot: usize) -> bool {
        self.slots[slot] == OBJECT
    }

    /// Some flattened name under a dotted key equals another name (the tree-based path's
    /// key order decides which value wins there).
    fn names_collide(&self) -> bool {
        self.dotted.iter().any(|&(from, to)| {
            (from..to).any(|i| {
                let name = self.native.entry(i).map(|(k, _)| k);
                (0..self.native.len())
                    .any(|j| j != i && self.native.entry(j).map(|(k, _)| k) == name)
            })
        })
    }
}

/// Walks one EVE record. `None`: the record needs the tree-based path.
pub(crate) fn walk(line: &[u8]) -> Option<Walk<'_>> {
    let mut w = Walk {
        native: Fields::with_capacity(48),
        slots: [0; NSLOTS],
        prefix: String::with_capacity(64),
        unknown: Vec::new(),
        dotted: Vec::new(),
    };
    w.prefix.push_str("suricata.eve.");
    // One UTF-8 check for the line instead of one per string.
    let text = std::str::from_utf8(line).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let ok = (&mut de)
        .deserialize_map(ObjVisitor {
            w: &mut w,
            ctx: Ctx::Top,
            depth: 0,
        })
        .is_ok()
        && de.end().is_ok();
    (ok && !w.names_collide()).then_some(w)
}

fn give_up<E: de::Error>() -> E {
    E::custom("fallback")
}

/// Objects deeper than this (or arrays reaching this far) go the tree-based way, which
/// reports the depth limit.
const DEPTH_MARGIN: usize = MAX_DEPTH - 4;

struct ObjVisitor<'w, 'de> {
    w: &'w mut Walk<'de>,
    ctx: Ctx,
    depth: usize,
}

impl<'de> Visitor<'de> for ObjVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ObjVisitor { w, ctx, depth } = self;
        if depth > DEPTH_MARGIN {
            return Err(give_up());
        }
        let mut seen = 0u64;
        let mut hint = 0;
        let unknown_from = w.unknown.len();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let known = ctx.lookup(key, hint);
            if let Some(i) = known {
                let bit = 1u64 << i;
                if seen & bit != 0 {
                    return Err(give_up());
                }
                seen |= bit;
                hint = i + 1;
            } else {
                if w.unknown[unknown_from..].contains(&key) {
                    return Err(give_up());
                }
                w.unknown.push(key);
            }
            let dotted = known.is_none() && memchr::memchr(b'.', key.as_bytes()).is_some();
            let from = w.native.len();
            map.next_value_seed(ValSeed {
                w: &mut *w,
                ctx,
                key,
                known,
                depth,
            })?;
            if dotted {
                w.dotted.push((from, w.native.len()));
            }
        }
        w.unknown.truncate(unknown_from);
        Ok(())
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'de str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'de str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = &'de str;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<&'de str, E> {
        Ok(v)
    }

    /// An escaped key: rare enough for the tree-based path.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<&'de str, E> {
        Err(give_up())
    }
}

/// The value of `key` in the object `ctx` at `depth`.
struct ValSeed<'w, 'de> {
    w: &'w mut Walk<'de>,
    ctx: Ctx,
    key: &'de str,
    known: Option<usize>,
    depth: usize,
}

impl<'de> ValSeed<'_, 'de> {
    fn leaf<E: de::Error>(self, v: Value) -> Result<(), E> {
        let w = self.w;
        if w.native.len() + 1 >= MAX_FIELDS {
            return Err(give_up());
        }
        let name: FieldName = match self.known {
            Some(i) => {
                w.slots[self.ctx.base() + i] = w.native.len() as u32 + 1;
                Cow::Borrowed(self.ctx.names()[i])
            }
            None => {
                let mut s = String::with_capacity(w.prefix.len() + self.key.len());
                s.push_str(&w.prefix);
                s.push_str(self.key);
                Cow::Owned(s)
            }
        };
        w.native.set(name, v);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.leaf(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.leaf(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.leaf(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.leaf(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.leaf(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.leaf(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            if self.depth + 2 + nesting(&v) > DEPTH_MARGIN {
                return Err(give_up());
            }
            items.push(v);
        }
        self.leaf(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let ValSeed {
            w,
            ctx,
            key,
            known,
            depth,
        } = self;
        let child = match known {
            Some(i) => {
                if ctx.read_whole(key) {
                    return Err(give_up());
                }
                w.slots[ctx.base() + i] = OBJECT;
                ctx.child(key)
            }
            None => Ctx::Unknown,
        };
        let len = w.prefix.len();
        w.prefix.push_str(key);
        w.prefix.push('.');
        ObjVisitor {
            w: &mut *w,
            ctx: child,
            depth: depth + 1,
        }
        .visit_map(map)?;
        w.prefix.truncate(len);
        Ok(())
    }
}

/// How deep arrays and objects nest inside a value (0 for a scalar).
fn nesting(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(nesting).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}
