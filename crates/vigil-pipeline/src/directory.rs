//! Attribution: which organization and asset an event belongs to, from the asset directory.
//!
//! Built from [`vigil_store::Store::all_assets`] and refreshed periodically by the processor.
//! Lookups, in order (the first hit wins):
//!
//! 1. the event's `host.name` / `host.hostname` against asset hostnames (case-insensitive,
//!    also the short name before the first dot) — the host that wrote the log;
//! 2. the event's `host.ip`;
//! 3. the sender's address (exact asset IP, then the narrowest CIDR containing it) — the
//!    device or collector that sent the bytes;
//! 4. `destination.ip`, then `source.ip` (exact, then CIDR): network sensors report traffic
//!    to and from the organization's assets.
//!
//! Exact IPs win over ranges because an `ip_range` asset covering a whole network should not
//! take events of a host asset inside it.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use vigil_model::{Asset, AssetId, NewEvent, OrgId};

/// An organization and, when known, the asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub org_id: OrgId,
    pub asset_id: Option<AssetId>,
}

/// The lookup tables.
#[derive(Debug, Default)]
pub struct Directory {
    by_ip: HashMap<IpAddr, Owner>,
    by_host: HashMap<String, Owner>,
    /// Ranges, narrowest first.
    ranges: Vec<(IpNet, Owner)>,
    assets: usize,
}

impl Directory {
    pub fn new(assets: &[Asset]) -> Directory {
        let mut d = Directory {
            assets: assets.len(),
            ..Directory::default()
        };
        for a in assets {
            let owner = Owner {
                org_id: a.spec.org_id,
                asset_id: Some(a.id),
            };
            for ip in &a.spec.ips {
                d.by_ip.entry(*ip).or_insert(owner);
            }
            for h in &a.spec.hostnames {
                let h = h.trim_end_matches('.').to_ascii_lowercase();
                if let Some((short, _)) = h.split_once('.') {
                    d.by_host.entry(short.to_string()).or_insert(owner);
                }
                // A full name wins over another asset's short name.
                d.by_host.insert(h, owner);
            }
            for n in &a.spec.cidrs {
                d.ranges.push((n.trunc(), owner));
            }
        }
        d.ranges
            .sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        d
    }

    /// Number of assets it was built from.
    pub fn assets(&self) -> usize {
        self.assets
    }

    fn ip(&self, ip: IpAddr) -> Option<Owner> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if let Some(o) = self.by_ip.get(&ip) {
            return Some(*o);
        }
        // Linear over ranges, narrowest first: directories hold few ranges next to hosts.
        self.ranges
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, o)| *o)
    }

    fn host(&self, name: &str) -> Option<Owner> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.by_host.get(&name).copied().or_else(|| {
            name.split_once('.')
                .and_then(|(short, _)| self.by_host.get(short).copied())
        })
    }

    /// The owner of an event (see the module docs for the order), given the sender's address.
    pub fn attribute(&self, event: &NewEvent, sender: Option<IpAddr>) -> Option<Owner> {
        let text = |f: &str| event.fields.get(f).and_then(serde_json::Value::as_str);
        let ip_of = |f: &str| text(f).and_then(|s| s.parse::<IpAddr>().ok());
        for f in ["host.name", "host.hostname"] {
            if let Some(o) = text(f).and_then(|h| self.host(h)) {
                return Some(o);
            }
        }
        if let Some(o) = ip_of("host.ip").and_then(|ip| self.ip(ip)) {
            return Some(o);
        }
        if let Some(o) = sender.and_then(|ip| self.ip(ip)) {
            return Some(o);
        }
        for f in ["destination.ip", "source.ip"] {
            if let Some(o) = ip_of(f).and_then(|ip| self.ip(ip)) {
                return Some(o);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AssetKind, Importance, NewAsset, Provenance};

    fn asset(org: OrgId, ips: &[&str], cidrs: &[&str], hosts: &[&str]) -> Asset {
        Asset {
            id: AssetId::new(),
            spec: NewAsset {
                org_id: org,
                name: "a".into(),
                kind: AssetKind::Host,
                importance: Importance::Low,
                ips: ips.iter().map(|s| s.parse().expect("ip")).collect(),
                cidrs: cidrs.iter().map(|s| s.parse().expect("net")).collect(),
                hostnames: hosts.iter().map(|s| s.to_string()).collect(),
                domains: vec![],
                urls: vec![],
                macs: vec![],
                vendor: None,
                model: None,
                firmware: None,
                software: vec![],
                responsible: None,
                tags: vec![],
            },
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn event(fields: &[(&str, &str)]) -> NewEvent {
        NewEvent {
            org_id: OrgId::new(),
            asset_id: None,
            timestamp: jiff::Timestamp::UNIX_EPOCH,
            received_at: jiff::Timestamp::UNIX_EPOCH,
            provenance: Provenance {
                input: "t".into(),
                sender: None,
            },
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect(),
            native: Default::default(),
            raw: vec![],
        }
    }

    #[test]
    fn lookup_order_and_precedence() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let host = asset(a, &["10.1.2.3"], &[], &["web-1.corp.example"]);
        let range = asset(b, &[], &["10.1.0.0/16"], &[]);
        let wide = asset(a, &[], &["10.0.0.0/8"], &[]);
        let d = Directory::new(&[host.clone(), range.clone(), wide.clone()]);
        let sender = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        // Exact IP beats the range containing it.
        let o = d.attribute(&event(&[]), sender("10.1.2.3")).expect("hit");
        assert_eq!(o.asset_id, Some(host.id));
        // Narrowest range wins.
        let o = d.attribute(&event(&[]), sender("10.1.9.9")).expect("hit");
        assert_eq!((o.org_id, o.asset_id), (b, Some(range.id)));
        let o = d.attribute(&event(&[]), sender("10.200.0.1")).expect("hit");
        assert_eq!(o.asset_id, Some(wide.id));
        // Hostname (full or short, any case) beats the sender.
        let o = d
            .attribute(&event(&[("host.name", "WEB-1")]), sender("10.1.9.9"))
            .expect("hit");
        assert_eq!(o.asset_id, Some(host.id));
        // Event addresses when the sender is unknown; IPv4-mapped IPv6 senders.
        let o = d
            .attribute(&event(&[("source.ip", "10.1.5.5")]), sender("192.0.2.1"))
            .expect("hit");
        assert_eq!(o.org_id, b);
        let o = d
            .attribute(&event(&[]), sender("::ffff:10.1.2.3"))
            .expect("hit");
        assert_eq!(o.asset_id, Some(host.id));
        assert_eq!(d.attribute(&event(&[]), sender("192.0.2.1")), None);
    }
}
