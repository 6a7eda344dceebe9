//! Assets of monitored organizations: hosts, industrial devices, websites, domains, ranges.

use crate::error::{ValidationError, check_len, check_text};
use crate::org::Contact;
use crate::{AssetId, OrgId, Timestamp};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What an asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Host,
    Plc,
    Scada,
    Hmi,
    Dcs,
    Rtu,
    /// Another industrial control device (IED, safety controller, industrial gateway).
    IndustrialDevice,
    NetworkDevice,
    Website,
    Domain,
    IpRange,
    Application,
    MobileApp,
}

impl AssetKind {
    pub const ALL: [Self; 13] = [
        Self::Host,
        Self::Plc,
        Self::Scada,
        Self::Hmi,
        Self::Dcs,
        Self::Rtu,
        Self::IndustrialDevice,
        Self::NetworkDevice,
        Self::Website,
        Self::Domain,
        Self::IpRange,
        Self::Application,
        Self::MobileApp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Plc => "plc",
            Self::Scada => "scada",
            Self::Hmi => "hmi",
            Self::Dcs => "dcs",
            Self::Rtu => "rtu",
            Self::IndustrialDevice => "industrial_device",
            Self::NetworkDevice => "network_device",
            Self::Website => "website",
            Self::Domain => "domain",
            Self::IpRange => "ip_range",
            Self::Application => "application",
            Self::MobileApp => "mobile_app",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Industrial control system components (工业控制系统).
    pub fn is_industrial(self) -> bool {
        matches!(
            self,
            Self::Plc | Self::Scada | Self::Hmi | Self::Dcs | Self::Rtu | Self::IndustrialDevice
        )
    }

    pub fn name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match self {
            Self::Host => {
                if zh {
                    "主机"
                } else {
                    "Host"
                }
            }
            Self::Plc => {
                if zh {
                    "可编程逻辑控制器"
                } else {
                    "PLC"
                }
            }
            Self::Scada => {
                if zh {
                    "SCADA系统"
                } else {
                    "SCADA"
                }
            }
            Self::Hmi => {
                if zh {
                    "人机界面"
                } else {
                    "HMI"
                }
            }
            Self::Dcs => {
                if zh {
                    "分布式控制系统"
                } else {
                    "DCS"
                }
            }
            Self::Rtu => {
                if zh {
                    "远程终端单元"
                } else {
                    "RTU"
                }
            }
            Self::IndustrialDevice => {
                if zh {
                    "其他工控设备"
                } else {
                    "Industrial device"
                }
            }
            Self::NetworkDevice => {
                if zh {
                    "网络设备"
                } else {
                    "Network device"
                }
            }
            Self::Website => {
                if zh {
                    "网站"
                } else {
                    "Website"
                }
            }
            Self::Domain => {
                if zh {
                    "域名"
                } else {
                    "Domain"
                }
            }
            Self::IpRange => {
                if zh {
                    "IP地址段"
                } else {
                    "IP range"
                }
            }
            Self::Application => {
                if zh {
                    "应用系统"
                } else {
                    "Application"
                }
            }
            Self::MobileApp => {
                if zh {
                    "移动应用"
                } else {
                    "Mobile app"
                }
            }
        }
    }
}

/// How much the organization depends on the asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Importance {
    Low,
    Medium,
    High,
    Critical,
}

impl Importance {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One entry of a software inventory, identified by purl and/or CPE 2.3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareComponent {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub purl: Option<String>,
    #[serde(default)]
    pub cpe: Option<String>,
}

/// What a client sends to create or replace an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    pub org_id: OrgId,
    pub name: String,
    pub kind: AssetKind,
    #[serde(default = "default_importance")]
    pub importance: Importance,
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub macs: Vec<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub firmware: Option<String>,
    #[serde(default)]
    pub software: Vec<SoftwareComponent>,
    #[serde(default)]
    pub responsible: Option<Contact>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_importance() -> Importance {
    Importance::Medium
}

impl NewAsset {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("name", &self.name, 200)?;
        for (i, h) in self.hostnames.iter().enumerate() {
            validate_hostname(&format!("hostnames[{i}]"), h)?;
        }
        for (i, d) in self.domains.iter().enumerate() {
            validate_hostname(&format!("domains[{i}]"), d)?;
        }
        for (i, u) in self.urls.iter().enumerate() {
            let ok = (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() > 8
                && u.len() <= 2048
                && !u.contains(char::is_whitespace);
            if !ok {
                return Err(ValidationError::new(
                    format!("urls[{i}]"),
                    "must be an http:// or https:// URL without spaces",
                ));
            }
        }
        for (i, m) in self.macs.iter().enumerate() {
            if !is_mac(m) {
                return Err(ValidationError::new(
                    format!("macs[{i}]"),
                    "must be a MAC address like 00:1a:2b:3c:4d:5e",
                ));
            }
        }
        for (name, v) in [
            ("vendor", &self.vendor),
            ("model", &self.model),
            ("firmware", &self.firmware),
        ] {
            if let Some(v) = v {
                check_len(name, v, 200)?;
            }
        }
        for (i, s) in self.software.iter().enumerate() {
            check_text(&format!("software[{i}].name"), &s.name, 200)?;
            if let Some(p) = &s.purl
                && !p.starts_with("pkg:")
            {
                return Err(ValidationError::new(
                    format!("software[{i}].purl"),
                    "a package URL starts with 'pkg:'",
                ));
            }
            if let Some(c) = &s.cpe
                && !(c.starts_with("cpe:2.3:") && c.split(':').count() == 13)
            {
                return Err(ValidationError::new(
                    format!("software[{i}].cpe"),
                    "must be a CPE 2.3 formatted string (cpe:2.3: and 11 components)",
                ));
            }
        }
        if let Some(r) = &self.responsible {
            r.validate("responsible")?;
        }
        if self.kind == AssetKind::IpRange && self.cidrs.is_empty() {
            return Err(ValidationError::new(
                "cidrs",
                "an ip_range asset needs at least one CIDR",
            ));
        }
        if self.kind == AssetKind::Website && self.urls.is_empty() && self.domains.is_empty() {
            return Err(ValidationError::new(
                "urls",
                "a website asset needs a URL or a domain",
            ));
        }
        if self.tags.len() > 50 {
            return Err(ValidationError::new("tags", "at most 50 tags"));
        }
        Ok(())
    }
}

fn validate_hostname(field: &str, h: &str) -> Result<(), ValidationError> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("'{h}' is not a valid host or domain name"),
        ))
    }
}

fn is_mac(m: &str) -> bool {
    let parts: Vec<&str> = m.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An asset as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: AssetId,
    #[serde(flatten)]
    pub spec: NewAsset,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Asset {
    /// True when `ip` is one of the asset's addresses or inside one of its ranges.
    pub fn has_ip(&self, ip: IpAddr) -> bool {
        self.spec.ips.contains(&ip) || self.spec.cidrs.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plc() -> NewAsset {
        NewAsset {
            org_id: OrgId::new(),
            name: "Line 3 PLC".into(),
            kind: AssetKind::Plc,
            importance: Importance::Critical,
            ips: vec!["10.20.3.15".parse().expect("ip")],
            cidrs: vec![],
            hostnames: vec!["plc-3.plant.local".into()],
            domains: vec![],
            urls: vec![],
            macs: vec!["00:1d:9c:c7:b0:70".into()],
            vendor: Some("Siemens".into()),
            model: Some("S7-1500".into()),
            firmware: Some("V2.9.4".into()),
            software: vec![SoftwareComponent {
                name: "openssl".into(),
                version: Some("1.1.1k".into()),
                purl: Some("pkg:generic/openssl@1.1.1k".into()),
                cpe: Some("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*".into()),
            }],
            responsible: None,
            tags: vec!["ics".into()],
        }
    }

    #[test]
    fn industrial_asset_validates() {
        assert_eq!(plc().validate(), Ok(()));
        assert!(AssetKind::Plc.is_industrial());
        assert!(!AssetKind::Website.is_industrial());
    }

    #[test]
    fn bad_identifiers_name_their_field() {
        let mut a = plc();
        a.macs = vec!["00:1d:9c".into()];
        assert_eq!(a.validate().map_err(|e| e.field), Err("macs[0]".into()));
        let mut a = plc();
        a.hostnames.push("bad host".into());
        assert_eq!(
            a.validate().map_err(|e| e.field),
            Err("hostnames[1]".into())
        );
        let mut a = plc();
        a.software[0].cpe = Some("cpe:/a:openssl".into());
        assert_eq!(
            a.validate().map_err(|e| e.field),
            Err("software[0].cpe".into())
        );
        let mut a = plc();
        a.kind = AssetKind::IpRange;
        assert_eq!(a.validate().map_err(|e| e.field), Err("cidrs".into()));
    }

    #[test]
    fn ip_membership_covers_addresses_and_ranges() {
        let mut a = plc();
        a.cidrs = vec!["192.168.10.0/24".parse().expect("cidr")];
        let asset = Asset {
            id: AssetId::new(),
            spec: a,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        assert!(asset.has_ip("10.20.3.15".parse().expect("ip")));
        assert!(asset.has_ip("192.168.10.77".parse().expect("ip")));
        assert!(!asset.has_ip("192.168.11.1".parse().expect("ip")));
    }

    #[test]
    fn wrong_types_in_json_are_rejected_with_the_field() {
        let json = format!(
            r#"{{"org_id":"{}","name":"x","kind":"toaster"}}"#,
            OrgId::new()
        );
        let err = serde_json::from_str::<NewAsset>(&json).expect_err("must fail");
        assert!(err.to_string().contains("toaster"), "{err}");
        let json = format!(
            r#"{{"org_id":"{}","name":"x","kind":"host","ips":["999.1.1.1"]}}"#,
            OrgId::new()
        );
        assert!(serde_json::from_str::<NewAsset>(&json).is_err());
    }
}
