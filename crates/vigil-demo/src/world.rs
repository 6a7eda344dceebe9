//! The demo world: organizations with their people, networks and assets. Everything the event
//! generators need to know about an organization (which hosts exist, their addresses, which
//! website runs on which server) is kept here beside the `NewAsset` values themselves.

use crate::catalog::{self, Device, OrgTemplate, Profile, Sw};
use crate::planned_org_id;
use crate::state::Gen;
use std::net::{IpAddr, Ipv4Addr};
use vigil_model::org::uscc_check_char;
use vigil_model::{AssetKind, Contact, Importance, NewAsset, NewOrganization, SoftwareComponent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Windows,
    Linux,
    Device,
}

/// Something with an address that events can be about.
#[derive(Debug, Clone)]
pub struct Node {
    pub asset: usize,
    pub ip: Ipv4Addr,
    pub host: String,
    pub os: Os,
    pub public: Option<Ipv4Addr>,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Java,
    Php,
    AspNet,
    Static,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub asset: usize,
    pub domain: String,
    pub ip: Ipv4Addr,
    pub stack: Stack,
    pub log4j: bool,
    /// Index into the organization's nodes: the server the site runs on.
    pub server: usize,
    pub page_hash: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Plc {
    pub node: usize,
    pub proto: &'static str,
    pub model: &'static str,
}

#[derive(Debug, Clone)]
pub struct Ics {
    pub net: [u8; 3],
    pub scada: Vec<usize>,
    pub hmis: Vec<usize>,
    pub plcs: Vec<Plc>,
    pub rtus: Vec<usize>,
    pub ews: usize,
    pub audit: String,
}

#[derive(Debug, Clone)]
pub struct OrgWorld {
    pub name: String,
    pub slug: String,
    pub domain: String,
    pub netbios: String,
    pub profile: Profile,
    pub cii: bool,
    pub weight: f64,
    pub nodes: Vec<Node>,
    pub linux: Vec<usize>,
    pub win_servers: Vec<usize>,
    pub workstations: Vec<usize>,
    pub dc: usize,
    pub dns: usize,
    pub file_server: usize,
    pub jump: usize,
    pub sites: Vec<Site>,
    pub fw_asset: usize,
    pub fw_host: String,
    pub fw_vendor: &'static str,
    pub fw_model: &'static str,
    pub vpn: Option<(usize, Ipv4Addr)>,
    pub ics: Option<Ics>,
    pub public_ips: Vec<Ipv4Addr>,
    pub office_net: [u8; 2],
    pub accounts: Vec<String>,
    pub responsible: Contact,
}

impl OrgWorld {
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i.min(self.nodes.len().saturating_sub(1))]
    }
}

pub struct World {
    pub orgs: Vec<OrgWorld>,
    pub org_specs: Vec<NewOrganization>,
    pub assets: Vec<NewAsset>,
}

/// Builds `n` organizations and at least `assets_min` assets.
pub fn build(g: &mut Gen, n: usize, assets_min: usize) -> World {
    let templates: Vec<(&OrgTemplate, usize)> = (0..n)
        .map(|i| {
            (
                &catalog::ORGS[i % catalog::ORGS.len()],
                i / catalog::ORGS.len(),
            )
        })
        .collect();
    let weights: Vec<f64> = templates
        .iter()
        .map(|(t, _)| match t.size {
            3 => 4.0,
            2 => 2.2,
            _ => 1.0,
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut world = World {
        orgs: Vec::with_capacity(n),
        org_specs: Vec::with_capacity(n),
        assets: Vec::with_capacity(assets_min + n * 8),
    };
    for (i, ((t, round), w)) in templates.iter().zip(&weights).enumerate() {
        let quota = ((assets_min as f64) * w / total).ceil() as usize;
        let (spec, responsible) = org_spec(g, t, *round);
        world.org_specs.push(spec);
        let ow = build_org(g, &mut world.assets, i, t, *round, *w, quota, responsible);
        world.orgs.push(ow);
    }
    world
}

fn person(g: &mut Gen, slug: &str, titles: &[&str]) -> Contact {
    let (s_zh, s_py) = *g.pick(catalog::SURNAMES);
    let (n_zh, n_py) = *g.pick(catalog::GIVEN);
    let title = *g.pick(titles);
    let prefix = *g.pick(&["13", "15", "18", "17", "19"]);
    let d = g.range(0, 10);
    let tail = g.range(0, 10_000);
    Contact {
        name: format!("{s_zh}{n_zh}"),
        title: Some(title.to_string()),
        phone: Some(format!("{prefix}{d}-0000-{tail:04}")),
        email: Some(format!("{s_py}.{n_py}@{slug}.example.cn")),
    }
}

const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc(g: &mut Gen, prefix: &str, region: &str) -> Option<String> {
    let mut body = format!("{prefix}{region}");
    if prefix == "91" {
        body.push_str("MA");
        for _ in 0..7 {
            body.push(*g.pick(USCC_CHARS) as char);
        }
    } else {
        for _ in 0..8 {
            body.push((b'0' + g.range(0, 10) as u8) as char);
        }
        body.push(*g.pick(USCC_CHARS) as char);
    }
    let check = uscc_check_char(&body)?;
    body.push(check);
    Some(body)
}

fn org_spec(g: &mut Gen, t: &OrgTemplate, round: usize) -> (NewOrganization, Contact) {
    let slug = slug_of(t, round);
    let responsible = person(g, &slug, catalog::RESPONSIBLE_TITLES);
    let n_contacts = g.range(1, 3) as usize;
    let contacts = (0..n_contacts)
        .map(|_| person(g, &slug, catalog::CONTACT_TITLES))
        .collect();
    let name = if round == 0 {
        t.name.to_string()
    } else {
        format!("{}（第{}分支机构）", t.name, round + 1)
    };
    let spec = NewOrganization {
        name,
        uscc: t.uscc.and_then(|p| uscc(g, p, t.region)),
        sector: t.sector.to_string(),
        region_code: t.region.to_string(),
        mlps_level: t.mlps,
        cii: t.cii,
        miit_type: t.miit.map(|(ty, _)| ty),
        miit_grade: t.miit.map(|(_, grade)| grade),
        responsible: responsible.clone(),
        contacts,
    };
    (spec, responsible)
}

fn slug_of(t: &OrgTemplate, round: usize) -> String {
    if round == 0 {
        t.slug.to_string()
    } else {
        format!("{}{}", t.slug, round + 1)
    }
}

fn sw(c: Sw) -> SoftwareComponent {
    SoftwareComponent {
        name: c.0.to_string(),
        version: Some(c.1.to_string()),
        purl: c.2.map(str::to_string),
        cpe: c.3.map(str::to_string),
    }
}

fn mac(g: &mut Gen, oui: &str) -> String {
    let a = g.range(0, 256);
    let b = g.range(0, 256);
    let c = g.range(0, 256);
    format!("{oui}:{a:02x}:{b:02x}:{c:02x}")
}

fn blank(org: usize, name: String, kind: AssetKind, importance: Importance) -> NewAsset {
    NewAsset {
        org_id: planned_org_id(org),
        name,
        kind,
        importance,
        ips: vec![],
        cidrs: vec![],
        hostnames: vec![],
        domains: vec![],
        urls: vec![],
        macs: vec![],
        vendor: None,
        model: None,
        firmware: None,
        software: vec![],
        responsible: None,
        tags: vec![],
    }
}

/// Adds `ip/prefix` to an asset's ranges.
fn add_cidr(a: &mut NewAsset, ip: Ipv4Addr, prefix: u8) {
    if let Ok(net) = format!("{ip}/{prefix}").parse() {
        a.cidrs.push(net);
    }
}

/// Adds assets for one organization to `assets`.
struct OrgBuilder<'a> {
    g: &'a mut Gen,
    assets: &'a mut Vec<NewAsset>,
    org: usize,
    w: OrgWorld,
    contacts: Vec<Contact>,
    pcs: usize,
    servers: usize,
    ics_seq: usize,
}

impl OrgBuilder<'_> {
    fn add(&mut self, a: NewAsset) -> usize {
        self.assets.push(a);
        self.assets.len() - 1
    }

    fn add_node(&mut self, a: NewAsset, os: Os, public: Option<Ipv4Addr>) -> usize {
        let ip = match a.ips.first() {
            Some(IpAddr::V4(ip)) => *ip,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let host = a.hostnames.first().cloned().unwrap_or_default();
        let label = a.name.clone();
        let asset = self.add(a);
        self.w.nodes.push(Node {
            asset,
            ip,
            host,
            os,
            public,
            label,
        });
        self.w.nodes.len() - 1
    }

    fn office_ip(&self, third: u8, fourth: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.w.office_net[1], third, fourth)
    }

    fn responsible(&mut self) -> Option<Contact> {
        if self.contacts.is_empty() {
            None
        } else {
            Some(self.g.pick(&self.contacts).clone())
        }
    }

    fn host(&self, suffix: &str) -> String {
        format!("{}-{}", self.w.slug, suffix)
    }

    /// A server: Linux or Windows, in the server zone (10.x.20.0/24) or DMZ (10.x.10.0/24).
    fn server(
        &mut self,
        label: &str,
        suffix: &str,
        os: Os,
        ip: Ipv4Addr,
        public: Option<Ipv4Addr>,
        importance: Importance,
        extra: &[Sw],
        tags: &[&str],
    ) -> usize {
        let mut a = blank(self.org, label.to_string(), AssetKind::Host, importance);
        a.ips.push(IpAddr::V4(ip));
        if let Some(p) = public {
            a.ips.push(IpAddr::V4(p));
        }
        a.hostnames.push(self.host(suffix));
        let (vendor, model, oui) = *self.g.pick(catalog::SERVER_HW);
        a.vendor = Some(vendor.to_string());
        a.model = Some(model.to_string());
        a.macs.push(mac(self.g, oui));
        let base: Vec<Sw> = match os {
            Os::Windows => vec![*self.g.pick(&[
                catalog::SW_WIN2012,
                catalog::SW_WIN2016,
                catalog::SW_WIN2019,
            ])],
            _ => {
                let distro = *self.g.pick(&[
                    catalog::SW_CENTOS,
                    catalog::SW_CENTOS,
                    catalog::SW_KYLIN,
                    catalog::SW_UBUNTU,
                ]);
                let ssl = if distro.0 == catalog::SW_CENTOS.0 {
                    catalog::SW_OPENSSL_OLD
                } else {
                    catalog::SW_OPENSSL
                };
                vec![distro, catalog::SW_OPENSSH, ssl]
            }
        };
        a.software = base
            .into_iter()
            .chain(extra.iter().copied())
            .map(sw)
            .collect();
        a.tags = tags.iter().map(|t| t.to_string()).collect();
        if importance >= Importance::High {
            a.responsible = self.responsible();
        }
        let n = self.add_node(a, os, public);
        match os {
            Os::Windows => self.w.win_servers.push(n),
            _ => self.w.linux.push(n),
        }
        self.servers += 1;
        n
    }

    fn workstation(&mut self) -> usize {
        let k = self.pcs;
        self.pcs += 1;
        let dept = *self.g.pick(catalog::DEPARTMENTS);
        let third = 100 + (k / 200) as u8;
        let fourth = 10 + (k % 200) as u8;
        let mut a = blank(
            self.org,
            format!("办公终端 PC-{k:04}（{dept}）"),
            AssetKind::Host,
            Importance::Low,
        );
        a.ips.push(IpAddr::V4(self.office_ip(third, fourth)));
        a.hostnames.push(self.host(&format!("pc-{k:04}")));
        let (vendor, model, oui) = *self.g.pick(catalog::PC_HW);
        a.vendor = Some(vendor.to_string());
        a.model = Some(model.to_string());
        a.macs.push(mac(self.g, oui));
        let os = if self.w.profile == Profile::Gov && self.g.chance(0.4) {
            catalog::SW_UOS
        } else if self.g.chance(0.08) {
            catalog::SW_WIN7
        } else {
            catalog::SW_WIN10
        };
        a.software.push(sw(os));
        a.tags = vec!["办公终端".to_string(), dept.to_string()];
        let n = self.add_node(a, Os::Windows, None);
        self.w.workstations.push(n);
        n
    }

    fn website(
        &mut self,
        label: &str,
        sub: &str,
        stack: Stack,
        server: usize,
        public: Ipv4Addr,
        importance: Importance,
    ) -> usize {
        let domain = format!("{sub}.{}", self.w.domain);
        let mut a = blank(
            self.org,
            format!("{label} {domain}"),
            AssetKind::Website,
            importance,
        );
        a.urls.push(format!("https://{domain}/"));
        a.domains.push(domain.clone());
        a.ips.push(IpAddr::V4(public));
        let log4j = stack == Stack::Java && self.g.chance(0.55);
        let stack_sw: Vec<Sw> = match stack {
            Stack::Java => {
                let mut v = vec![catalog::SW_NGINX, catalog::SW_TOMCAT, catalog::SW_SPRING];
                v.push(if log4j {
                    catalog::SW_LOG4J
                } else {
                    catalog::SW_LOG4J_FIXED
                });
                if self.g.chance(0.3) {
                    v.push(catalog::SW_FASTJSON);
                }
                if self.g.chance(0.2) {
                    v.push(catalog::SW_SHIRO);
                }
                v
            }
            Stack::Php => vec![catalog::SW_NGINX, catalog::SW_PHP, catalog::SW_THINKPHP],
            Stack::AspNet => vec![catalog::SW_IIS, catalog::SW_DOTNET],
            Stack::Static => vec![catalog::SW_NGINX],
        };
        a.software = stack_sw.into_iter().map(sw).collect();
        a.software.push(sw(catalog::SW_JQUERY));
        a.tags = vec!["互联网暴露面".to_string(), "网站".to_string()];
        if self.w.cii {
            a.tags.push("关键信息基础设施".to_string());
        }
        a.responsible = self.responsible();
        let asset = self.add(a);
        let page_hash = self.g.sha256();
        self.w.sites.push(Site {
            asset,
            domain,
            ip: public,
            stack,
            log4j,
            server,
            page_hash,
            label: label.to_string(),
        });
        asset
    }

    fn application(&mut self, label: &str, sub: &str, s: Sw, public: Option<Ipv4Addr>) -> usize {
        let domain = format!("{sub}.{}", self.w.domain);
        let mut a = blank(
            self.org,
            format!("{label}（{}）", s.0),
            AssetKind::Application,
            Importance::High,
        );
        a.urls.push(format!("https://{domain}/"));
        a.domains.push(domain);
        if let Some(p) = public {
            a.ips.push(IpAddr::V4(p));
        }
        a.vendor = Some(s.0.to_string());
        a.software.push(sw(s));
        a.tags = vec!["应用系统".to_string()];
        a.responsible = self.responsible();
        self.add(a)
    }

    fn mobile_app(&mut self, label: &str) -> usize {
        let mut a = blank(
            self.org,
            format!("{label}（Android/iOS）"),
            AssetKind::MobileApp,
            Importance::High,
        );
        a.domains.push(format!("api.{}", self.w.domain));
        a.urls
            .push(format!("https://api.{}/app/v3/", self.w.domain));
        a.vendor = Some(self.w.name.clone());
        a.firmware = Some(format!("{}.{}.0", self.g.range(3, 9), self.g.range(0, 12)));
        a.software.push(sw(catalog::SW_OKHTTP));
        a.tags = vec!["移动应用".to_string(), "互联网暴露面".to_string()];
        self.add(a)
    }

    fn ics_device(&mut self, kind: AssetKind, label: String, suffix: String, d: &Device) -> usize {
        let fourth = 30 + (self.ics_seq % 220) as u8;
        let Some(net) = self.w.ics.as_ref().map(|i| i.net) else {
            return 0;
        };
        let mut a = blank(self.org, label, kind, Importance::Critical);
        a.ips
            .push(IpAddr::V4(Ipv4Addr::new(net[0], net[1], net[2], fourth)));
        a.hostnames.push(self.host(&suffix));
        a.macs.push(mac(self.g, d.oui));
        a.vendor = Some(d.vendor.to_string());
        a.model = Some(d.model.to_string());
        a.firmware = Some(d.firmware.to_string());
        if let Some(cpe) = d.cpe {
            a.software.push(SoftwareComponent {
                name: format!("{} firmware", d.model),
                version: Some(d.firmware.trim_start_matches('V').to_string()),
                purl: None,
                cpe: Some(cpe.to_string()),
            });
        }
        a.tags = vec!["工控".to_string(), "生产控制大区".to_string()];
        if kind == AssetKind::Plc || kind == AssetKind::Dcs {
            a.responsible = self.responsible();
        }
        self.add_node(a, Os::Device, None)
    }

    fn plc(&mut self) {
        self.ics_seq += 1;
        let k = self.ics_seq;
        let area = match self.w.profile {
            Profile::Grid => "110kV变电站辅助控制",
            Profile::Water => "水厂泵站",
            Profile::Gas => "门站调压",
            Profile::Heat => "换热站",
            Profile::Rail => "车站环控BAS",
            Profile::Chemical => "装置区",
            Profile::Steel => "热轧产线",
            Profile::Pharma => "制剂车间",
            Profile::Port => "岸桥",
            _ => "机加工产线",
        };
        let idx = match self.w.profile {
            Profile::Water | Profile::Heat => *self.g.pick(&[2usize, 0, 4]),
            Profile::Gas | Profile::Steel => *self.g.pick(&[3usize, 1, 0]),
            Profile::Chemical => *self.g.pick(&[4usize, 2]),
            _ => *self.g.pick(&[1usize, 0, 2]),
        };
        let d: &Device = &catalog::PLCS[idx];
        let short = d.model.split_whitespace().nth(1).unwrap_or(d.model);
        let node = self.ics_device(
            AssetKind::Plc,
            format!("{area}PLC-{k:02}（{short}）"),
            format!("plc{k:02}"),
            d,
        );
        if let Some(ics) = self.w.ics.as_mut() {
            ics.plcs.push(Plc {
                node,
                proto: d.proto,
                model: d.model,
            });
        }
    }

    fn hmi(&mut self) {
        self.ics_seq += 1;
        let k = self.ics_seq;
        let d: &Device = self.g.pick(catalog::HMIS);
        let node = self.ics_device(
            AssetKind::Hmi,
            format!("现场操作面板HMI-{k:02}（{}）", d.model),
            format!("hmi{k:02}"),
            d,
        );
        if let Some(ics) = self.w.ics.as_mut() {
            ics.hmis.push(node);
        }
    }

    fn rtu(&mut self) {
        self.ics_seq += 1;
        let k = self.ics_seq;
        let d: &Device = match self.w.profile {
            Profile::Grid => self.g.pick(&catalog::RTUS[..2]),
            _ => &catalog::RTUS[2],
        };
        let label = match self.w.profile {
            Profile::Grid => format!("变电站远动装置RTU-{k:02}"),
            Profile::Water => format!("管网监测点RTU-{k:02}"),
            _ => format!("远程站RTU-{k:02}"),
        };
        let node = self.ics_device(AssetKind::Rtu, label, format!("rtu{k:02}"), d);
        if let Some(ics) = self.w.ics.as_mut() {
            ics.rtus.push(node);
        }
    }

    fn dcs(&mut self) {
        self.ics_seq += 1;
        let k = self.ics_seq;
        let d: &Device = self.g.pick(catalog::DCS);
        let label = match self.w.profile {
            Profile::Heat => format!("{}号机组DCS控制站", k % 4 + 1),
            _ => format!("DCS控制站-{k:02}"),
        };
        self.ics_device(
            AssetKind::Dcs,
            format!("{label}（{}）", d.model),
            format!("dcs{k:02}"),
            d,
        );
    }

    fn ied(&mut self) {
        self.ics_seq += 1;
        let k = self.ics_seq;
        let d: &Device = self.g.pick(catalog::IEDS);
        self.ics_device(
            AssetKind::IndustrialDevice,
            format!("{}-{k:02}", d.model),
            format!("ied{k:02}"),
            d,
        );
    }

    fn net_device(
        &mut self,
        label: &str,
        suffix: &str,
        hw: (&str, &str, &str),
        ip: Ipv4Addr,
        public: Option<Ipv4Addr>,
        tags: &[&str],
    ) -> usize {
        let mut a = blank(
            self.org,
            format!("{label}（{}）", hw.1),
            AssetKind::NetworkDevice,
            Importance::Critical,
        );
        a.ips.push(IpAddr::V4(ip));
        if let Some(p) = public {
            a.ips.push(IpAddr::V4(p));
        }
        a.hostnames.push(self.host(suffix));
        a.vendor = Some(hw.0.to_string());
        a.model = Some(hw.1.to_string());
        a.firmware = Some(hw.2.to_string());
        let oui = if hw.0.contains("Huawei") {
            "00:e0:fc"
        } else if hw.0.contains("H3C") {
            "3c:8c:40"
        } else {
            "00:1a:a9"
        };
        a.macs.push(mac(self.g, oui));
        a.tags = tags.iter().map(|t| t.to_string()).collect();
        a.responsible = self.responsible();
        self.add(a)
    }
}

fn build_org(
    g: &mut Gen,
    assets: &mut Vec<NewAsset>,
    org: usize,
    t: &OrgTemplate,
    round: usize,
    weight: f64,
    quota: usize,
    responsible: Contact,
) -> OrgWorld {
    let slug = slug_of(t, round);
    let domain = format!("{slug}-demo.cn");
    // 203.0.113.0/24 and 198.51.100.0/24, eight addresses per organization.
    let block = org % 64;
    let public_ips: Vec<Ipv4Addr> = (1..7)
        .map(|h| {
            let last = ((block % 32) * 8 + h) as u8;
            if block < 32 {
                Ipv4Addr::new(203, 0, 113, last)
            } else {
                Ipv4Addr::new(198, 51, 100, last)
            }
        })
        .collect();
    let office_net = [10, (16 + org % 200) as u8];
    let accounts: Vec<String> = (0..12)
        .map(|_| {
            let (_, s) = *g.pick(catalog::SURNAMES);
            let (_, n) = *g.pick(catalog::GIVEN);
            format!("{s}{n}")
        })
        .collect();
    let w = OrgWorld {
        name: t.name.to_string(),
        slug: slug.clone(),
        domain: domain.clone(),
        netbios: slug.to_uppercase(),
        profile: t.profile,
        cii: t.cii,
        weight,
        nodes: vec![],
        linux: vec![],
        win_servers: vec![],
        workstations: vec![],
        dc: 0,
        dns: 0,
        file_server: 0,
        jump: 0,
        sites: vec![],
        fw_asset: 0,
        fw_host: format!("{slug}-fw01"),
        fw_vendor: "",
        fw_model: "",
        vpn: None,
        ics: None,
        public_ips: public_ips.clone(),
        office_net,
        accounts,
        responsible: responsible.clone(),
    };
    let first = assets.len();
    let mut b = OrgBuilder {
        g,
        assets,
        org,
        w,
        contacts: vec![responsible],
        pcs: 0,
        servers: 0,
        ics_seq: 0,
    };
    let p = t.profile;
    let pub_ip = |i: usize| public_ips[i % public_ips.len()];

    // Address ranges and the domain.
    let mut r = blank(
        org,
        "互联网出口地址段".to_string(),
        AssetKind::IpRange,
        Importance::High,
    );
    add_cidr(&mut r, Ipv4Addr::from(u32::from(pub_ip(0)) & !7), 29);
    r.tags = vec!["互联网暴露面".to_string()];
    b.add(r);
    let mut r = blank(
        org,
        "办公网地址段".to_string(),
        AssetKind::IpRange,
        Importance::Medium,
    );
    add_cidr(&mut r, Ipv4Addr::new(10, office_net[1], 0, 0), 16);
    r.tags = vec!["内网".to_string()];
    b.add(r);
    let mut d = blank(
        org,
        format!("主域名 {domain}"),
        AssetKind::Domain,
        Importance::High,
    );
    d.domains.push(domain.clone());
    d.vendor = Some("阿里云万网（注册商）".to_string());
    b.add(d);

    // Perimeter and core network.
    let fw = *b.g.pick(catalog::NET_FIREWALLS);
    b.w.fw_vendor = fw.0;
    b.w.fw_model = fw.1;
    b.w.fw_asset = b.net_device(
        "互联网边界防火墙",
        "fw01",
        fw,
        b.office_ip(0, 1),
        Some(pub_ip(5)),
        &["边界", "安全设备"],
    );
    let sw_hw = *b.g.pick(catalog::NET_SWITCHES);
    b.net_device(
        "核心交换机",
        "core-sw01",
        sw_hw,
        b.office_ip(0, 2),
        None,
        &["核心网络"],
    );
    if p != Profile::Retail {
        let vpn = b.net_device(
            "SSL VPN网关",
            "vpn01",
            ("深信服 Sangfor", "SSL VPN M5400", "M7.6.8R2"),
            b.office_ip(10, 3),
            Some(pub_ip(2)),
            &["互联网暴露面", "远程接入"],
        );
        if let Some(a) = b.assets.get_mut(vpn) {
            a.urls.push(format!("https://vpn.{domain}/"));
        }
        b.w.vpn = Some((vpn, pub_ip(2)));
    }

    // Servers.
    let site_stack = |g: &mut Gen| match p {
        Profile::Gov | Profile::Telecom | Profile::Bank | Profile::Securities => Stack::Java,
        Profile::Hospital => *g.pick(&[Stack::AspNet, Stack::Php, Stack::Java]),
        Profile::Media | Profile::Retail => Stack::Php,
        Profile::University | Profile::Internet => *g.pick(&[Stack::Java, Stack::Php]),
        _ => *g.pick(&[Stack::Static, Stack::Php, Stack::Java, Stack::AspNet]),
    };
    let stack = site_stack(b.g);
    let web_os = if stack == Stack::AspNet {
        Os::Windows
    } else {
        Os::Linux
    };
    let web = b.server(
        "门户网站应用服务器",
        "web01",
        web_os,
        b.office_ip(10, 11),
        Some(pub_ip(0)),
        Importance::High,
        &[],
        &["DMZ", "互联网暴露面"],
    );
    b.website("门户网站", "www", stack, web, pub_ip(0), Importance::High);
    let db_sw = match p {
        Profile::Gov => catalog::SW_DM,
        Profile::Bank | Profile::Securities | Profile::Telecom => catalog::SW_ORACLE_DB,
        Profile::Hospital => catalog::SW_MSSQL,
        _ => catalog::SW_MYSQL,
    };
    let db_os = if db_sw.0 == catalog::SW_MSSQL.0 {
        Os::Windows
    } else {
        Os::Linux
    };
    b.server(
        "核心数据库服务器",
        "db01",
        db_os,
        b.office_ip(20, 11),
        None,
        Importance::Critical,
        &[db_sw],
        &["核心业务", "数据库"],
    );
    b.w.dc = b.server(
        "域控制器",
        "dc01",
        Os::Windows,
        b.office_ip(20, 5),
        None,
        Importance::Critical,
        &[],
        &["AD域"],
    );
    b.w.file_server = b.server(
        "文件共享服务器",
        "fs01",
        Os::Windows,
        b.office_ip(20, 6),
        None,
        Importance::High,
        &[],
        &["文件共享"],
    );
    b.w.dns = b.server(
        "内网DNS服务器",
        "dns01",
        Os::Linux,
        b.office_ip(20, 53),
        None,
        Importance::High,
        &[catalog::SW_BIND],
        &["基础服务"],
    );
    b.w.jump = b.server(
        "运维堡垒机",
        "bastion01",
        Os::Linux,
        b.office_ip(20, 8),
        None,
        Importance::High,
        &[],
        &["运维管理"],
    );
    let oa_sw =
        *b.g.pick(&[catalog::SW_SEEYON, catalog::SW_WEAVER, catalog::SW_TONGDA]);
    let oa_srv = b.server(
        "OA应用服务器",
        "oa01",
        Os::Linux,
        b.office_ip(10, 21),
        Some(pub_ip(1)),
        Importance::High,
        &[catalog::SW_TOMCAT],
        &["DMZ", "办公系统"],
    );
    let _ = oa_srv;
    b.application("协同办公OA系统", "oa", oa_sw, Some(pub_ip(1)));
    let mail_sw = if g_mail_exchange(p) {
        catalog::SW_EXCHANGE
    } else {
        catalog::SW_COREMAIL
    };
    b.application("电子邮件系统", "mail", mail_sw, Some(pub_ip(3)));

    // Sector-specific systems.
    match p {
        Profile::Bank | Profile::Securities => {
            let srv = b.server(
                "网上银行应用服务器",
                "ebank01",
                Os::Linux,
                b.office_ip(10, 31),
                Some(pub_ip(4)),
                Importance::Critical,
                &[catalog::SW_WEBLOGIC],
                &["DMZ", "核心业务"],
            );
            let label = if p == Profile::Bank {
                "个人网上银行"
            } else {
                "网上交易系统"
            };
            b.website(
                label,
                "ebank",
                Stack::Java,
                srv,
                pub_ip(4),
                Importance::Critical,
            );
            b.mobile_app(if p == Profile::Bank {
                "手机银行App"
            } else {
                "掌上证券App"
            });
            b.server(
                "核心业务系统服务器",
                "core01",
                Os::Linux,
                b.office_ip(20, 31),
                None,
                Importance::Critical,
                &[catalog::SW_ORACLE_DB],
                &["核心业务"],
            );
        }
        Profile::Hospital => {
            b.server(
                "HIS医院信息系统服务器",
                "his01",
                Os::Windows,
                b.office_ip(20, 41),
                None,
                Importance::Critical,
                &[catalog::SW_MSSQL],
                &["核心业务", "HIS"],
            );
            b.server(
                "PACS影像归档服务器",
                "pacs01",
                Os::Windows,
                b.office_ip(20, 42),
                None,
                Importance::High,
                &[],
                &["PACS"],
            );
            let srv = b.server(
                "互联网医院服务器",
                "ihos01",
                Os::Linux,
                b.office_ip(10, 41),
                Some(pub_ip(4)),
                Importance::High,
                &[],
                &["DMZ"],
            );
            b.website(
                "互联网医院",
                "ihos",
                Stack::Php,
                srv,
                pub_ip(4),
                Importance::High,
            );
            b.mobile_app("掌上医院App");
        }
        Profile::University => {
            let srv = b.server(
                "教务系统服务器",
                "jwxt01",
                Os::Linux,
                b.office_ip(10, 51),
                Some(pub_ip(4)),
                Importance::High,
                &[],
                &["DMZ"],
            );
            b.website(
                "教务管理系统",
                "jwxt",
                Stack::Java,
                srv,
                pub_ip(4),
                Importance::High,
            );
            let lib = b.server(
                "图书馆网站服务器",
                "lib01",
                Os::Linux,
                b.office_ip(10, 52),
                Some(pub_ip(1)),
                Importance::Medium,
                &[],
                &["DMZ"],
            );
            b.website(
                "图书馆网站",
                "lib",
                Stack::Php,
                lib,
                pub_ip(1),
                Importance::Medium,
            );
            b.application(
                "统一身份认证平台",
                "ids",
                catalog::SW_TOMCAT,
                Some(pub_ip(4)),
            );
        }
        Profile::Gov => {
            let srv = b.server(
                "政务服务网应用服务器",
                "zwfw01",
                Os::Linux,
                b.office_ip(10, 61),
                Some(pub_ip(4)),
                Importance::Critical,
                &[],
                &["DMZ", "政务外网"],
            );
            b.website(
                "政务服务网",
                "zwfw",
                Stack::Java,
                srv,
                pub_ip(4),
                Importance::Critical,
            );
            let xx = b.server(
                "政府信息公开网站服务器",
                "xxgk01",
                Os::Linux,
                b.office_ip(10, 62),
                Some(pub_ip(1)),
                Importance::High,
                &[],
                &["DMZ", "政务外网"],
            );
            b.website(
                "政府信息公开平台",
                "xxgk",
                Stack::Php,
                xx,
                pub_ip(1),
                Importance::High,
            );
            b.mobile_app("政务服务App");
        }
        Profile::Telecom => {
            b.net_device(
                "城域网核心路由器",
                "ne40e-01",
                ("华为 Huawei", "NetEngine NE40E-X8A", "V800R012C10"),
                b.office_ip(0, 9),
                Some(pub_ip(4)),
                &["核心网络"],
            );
            b.server(
                "DNS递归解析服务器",
                "rdns01",
                Os::Linux,
                b.office_ip(10, 71),
                Some(pub_ip(4)),
                Importance::Critical,
                &[catalog::SW_BIND],
                &["基础服务", "互联网暴露面"],
            );
            b.application("BOSS业务支撑系统", "boss", catalog::SW_WEBLOGIC, None);
            b.mobile_app("网上营业厅App");
        }
        Profile::Internet | Profile::Media | Profile::Retail => {
            let srv = b.server(
                "API网关服务器",
                "api01",
                Os::Linux,
                b.office_ip(10, 81),
                Some(pub_ip(4)),
                Importance::High,
                &[catalog::SW_REDIS],
                &["DMZ"],
            );
            let (label, sub) = match p {
                Profile::Media => ("新闻客户端接口", "news"),
                Profile::Retail => ("网上商城", "shop"),
                _ => ("开放平台", "open"),
            };
            let st = site_stack(b.g);
            b.website(label, sub, st, srv, pub_ip(4), Importance::High);
            b.mobile_app(match p {
                Profile::Media => "新闻客户端App",
                Profile::Retail => "会员App",
                _ => "平台App",
            });
            b.server(
                "持续集成服务器",
                "ci01",
                Os::Linux,
                b.office_ip(20, 81),
                None,
                Importance::Medium,
                &[catalog::SW_JENKINS],
                &["研发"],
            );
        }
        Profile::Port => {
            b.application("码头操作系统TOS", "tos", catalog::SW_WEBLOGIC, None);
        }
        Profile::Rail => {
            b.mobile_app("地铁乘车码App");
            b.application("自动售检票系统AFC", "afc", catalog::SW_ORACLE_DB, None);
        }
        _ => {}
    }

    // Industrial control network.
    if p.industrial() {
        let third = (org % 250 + 1) as u8;
        b.w.ics = Some(Ics {
            net: [192, 168, third],
            scada: vec![],
            hmis: vec![],
            plcs: vec![],
            rtus: vec![],
            ews: 0,
            audit: format!("{slug}-icsaudit01"),
        });
        let mut r = blank(
            org,
            "生产控制网地址段".to_string(),
            AssetKind::IpRange,
            Importance::Critical,
        );
        add_cidr(&mut r, Ipv4Addr::new(192, 168, third, 0), 24);
        r.tags = vec!["工控".to_string(), "生产控制大区".to_string()];
        b.add(r);
        b.net_device(
            "工业防火墙",
            "ics-fw01",
            ("威努特 Winicssec", "工业防火墙 IFW-3000", "V3.0.12"),
            Ipv4Addr::new(192, 168, third, 1),
            None,
            &["工控", "安全设备"],
        );
        b.net_device(
            "工控安全审计系统",
            "icsaudit01",
            ("威努特 Winicssec", "工控安全监测审计 IAS-2000", "V2.1.8"),
            Ipv4Addr::new(192, 168, third, 2),
            None,
            &["工控", "安全设备"],
        );
        let (scada_vendor, scada_model, scada_sw) = match p {
            Profile::Grid => (
                "国电南瑞 NARI",
                "OPEN-3200 调度自动化系统",
                catalog::SW_WIN2012,
            ),
            Profile::Water | Profile::Heat => (
                "亚控科技 WellinTech",
                "组态王 KingView",
                catalog::SW_KINGVIEW,
            ),
            Profile::Gas | Profile::Port => {
                ("三维力控", "ForceControl V7.2", catalog::SW_FORCECONTROL)
            }
            Profile::Rail => ("GE Digital", "iFIX 6.5 综合监控ISCS", catalog::SW_IFIX),
            _ => ("Siemens", "SIMATIC WinCC 7.5 SP2", catalog::SW_WINCC),
        };
        for k in 0..2u8 {
            let mut a = blank(
                org,
                format!("SCADA监控服务器-{}（{scada_model}）", k + 1),
                AssetKind::Scada,
                Importance::Critical,
            );
            a.ips
                .push(IpAddr::V4(Ipv4Addr::new(192, 168, third, 10 + k)));
            a.hostnames.push(format!("{slug}-scada0{}", k + 1));
            a.vendor = Some(scada_vendor.to_string());
            a.model = Some(scada_model.to_string());
            let mac_s = mac(b.g, "00:50:56");
            a.macs.push(mac_s);
            a.software = vec![sw(catalog::SW_WIN2012), sw(scada_sw)];
            a.tags = vec!["工控".to_string(), "生产控制大区".to_string()];
            a.responsible = b.responsible();
            let n = b.add_node(a, Os::Windows, None);
            if let Some(ics) = b.w.ics.as_mut() {
                ics.scada.push(n);
            }
        }
        let mut a = blank(
            org,
            "工程师站EWS-01".to_string(),
            AssetKind::Host,
            Importance::Critical,
        );
        a.ips.push(IpAddr::V4(Ipv4Addr::new(192, 168, third, 20)));
        a.hostnames.push(format!("{slug}-ews01"));
        let (v, m, oui) = *b.g.pick(catalog::PC_HW);
        a.vendor = Some(v.to_string());
        a.model = Some(m.to_string());
        a.macs.push(mac(b.g, oui));
        let tool = match p {
            Profile::Water | Profile::Chemical => catalog::SW_UNITY,
            _ => catalog::SW_TIA,
        };
        a.software = vec![sw(catalog::SW_WIN7), sw(tool), sw(catalog::SW_WINCC)];
        a.tags = vec!["工控".to_string(), "工程师站".to_string()];
        a.responsible = b.responsible();
        let ews = b.add_node(a, Os::Windows, None);
        if let Some(ics) = b.w.ics.as_mut() {
            ics.ews = ews;
        }
        b.hmi();
        b.plc();
        b.plc();
        if matches!(p, Profile::Grid | Profile::Water | Profile::Gas) {
            b.rtu();
        }
        if matches!(p, Profile::Chemical | Profile::Steel | Profile::Heat) {
            b.dcs();
        }
        if p == Profile::Grid {
            b.ied();
        }
    }

    // Fill up to the quota with office PCs, servers and (in plants) more field devices.
    let mut guard = 0;
    while b.assets.len() - first < quota && guard < 100_000 {
        guard += 1;
        let roll = b.g.range(0, 100);
        if p.industrial() && roll < 40 {
            let r2 = b.g.range(0, 100);
            match p {
                Profile::Grid if r2 < 30 => b.rtu(),
                Profile::Grid if r2 < 45 => b.ied(),
                Profile::Water | Profile::Gas if r2 < 25 => b.rtu(),
                Profile::Chemical | Profile::Steel | Profile::Heat if r2 < 20 => b.dcs(),
                _ if r2 < 75 => b.plc(),
                _ => b.hmi(),
            }
        } else if roll < 80 {
            b.workstation();
        } else {
            let k = b.servers;
            let linux = b.g.chance(0.65);
            let extra = *b.g.pick(&[
                catalog::SW_TOMCAT,
                catalog::SW_REDIS,
                catalog::SW_MYSQL,
                catalog::SW_NGINX,
                catalog::SW_FASTJSON,
            ]);
            let label = format!("业务应用服务器-{k:02}");
            let ip = b.office_ip(20, (100 + k % 150) as u8);
            if linux {
                b.server(
                    &label,
                    &format!("app{k:02}"),
                    Os::Linux,
                    ip,
                    None,
                    Importance::Medium,
                    &[extra],
                    &["业务系统"],
                );
            } else {
                b.server(
                    &label,
                    &format!("app{k:02}"),
                    Os::Windows,
                    ip,
                    None,
                    Importance::Medium,
                    &[],
                    &["业务系统"],
                );
            }
        }
    }
    // Every organization has at least a few office PCs for the stories to happen on.
    while b.w.workstations.len() < 3 {
        b.workstation();
    }
    b.w
}

fn g_mail_exchange(p: Profile) -> bool {
    matches!(p, Profile::Securities | Profile::Internet | Profile::Pharma)
}
