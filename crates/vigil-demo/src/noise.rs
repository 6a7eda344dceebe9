//! Background traffic: what a month of an ordinary organization looks like to the platform.
//! Firewall sessions, DNS, web access, logons, process starts, VPN logins, website integrity
//! checks and, in plants, the steady polling of controllers by SCADA.

use crate::catalog;
use crate::clock::{self, HOUR, MIN, SEC};
use crate::state::{F, Gen};
use crate::world::{OrgWorld, Stack, World};
use std::net::Ipv4Addr;

#[derive(Clone, Copy)]
enum Kind {
    FwPermit,
    FwDeny,
    Dns,
    Web,
    Ssh,
    WinLogon,
    WinFail,
    Proc,
    Vpn,
    Cron,
    Modbus,
    S7,
    Iec104,
}

const KINDS: [(Kind, u32); 13] = [
    (Kind::FwPermit, 22),
    (Kind::FwDeny, 9),
    (Kind::Dns, 18),
    (Kind::Web, 17),
    (Kind::Ssh, 3),
    (Kind::WinLogon, 9),
    (Kind::WinFail, 2),
    (Kind::Proc, 6),
    (Kind::Vpn, 2),
    (Kind::Cron, 2),
    (Kind::Modbus, 7),
    (Kind::S7, 4),
    (Kind::Iec104, 3),
];

fn applicable(k: Kind, o: &OrgWorld) -> bool {
    match k {
        Kind::Vpn => o.vpn.is_some(),
        Kind::Modbus | Kind::S7 => o.ics.as_ref().is_some_and(|i| !i.plcs.is_empty()),
        Kind::Iec104 => o.ics.as_ref().is_some_and(|i| !i.rtus.is_empty()),
        _ => true,
    }
}

/// Adds `count` background events spread over the window.
pub fn background(g: &mut Gen, w: &World, count: usize) {
    if w.orgs.is_empty() || count == 0 {
        return;
    }
    let checks = web_monitor(g, w, count / 25);
    let remaining = count.saturating_sub(checks);

    // Cumulative organization weights and per-organization kind tables.
    let mut cum = Vec::with_capacity(w.orgs.len());
    let mut total = 0.0;
    for o in &w.orgs {
        total += o.weight;
        cum.push(total);
    }
    let tables: Vec<(Vec<(Kind, u32)>, u32)> = w
        .orgs
        .iter()
        .map(|o| {
            let mut acc = 0;
            let v: Vec<(Kind, u32)> = KINDS
                .iter()
                .filter(|(k, _)| applicable(*k, o))
                .map(|&(k, wt)| {
                    acc += wt;
                    (k, acc)
                })
                .collect();
            (v, acc)
        })
        .collect();

    for _ in 0..remaining {
        let u = g.rng_f64() * total;
        let org = cum.partition_point(|&c| c <= u).min(w.orgs.len() - 1);
        let (table, sum) = &tables[org];
        let r = g.range(0, i64::from(*sum)) as u32;
        let kind = table
            .iter()
            .find(|(_, c)| r < *c)
            .map_or(Kind::FwPermit, |(k, _)| *k);
        let t = g.office_time();
        let o = &w.orgs[org];
        match kind {
            Kind::FwPermit => fw_permit(g, o, org, t),
            Kind::FwDeny => fw_deny(g, o, org, t),
            Kind::Dns => {
                let host = *g.pick(&o.workstations);
                let name = if g.chance(0.85) {
                    g.pick(catalog::POPULAR_DOMAINS).to_string()
                } else {
                    let sub = *g.pick(&["oa", "mail", "www", "vpn"]);
                    format!("{sub}.{}", o.domain)
                };
                dns_query(g, o, org, t, host, &name);
            }
            Kind::Web => web_access(g, o, org, t),
            Kind::Ssh => ssh_login(g, o, org, t),
            Kind::WinLogon => win_logon(g, o, org, t),
            Kind::WinFail => win_fail(g, o, org, t),
            Kind::Proc => process(g, o, org, t),
            Kind::Vpn => vpn_login(g, o, org, t),
            Kind::Cron => cron(g, o, org, t),
            Kind::Modbus => modbus_read(g, o, org, t),
            Kind::S7 => s7_read(g, o, org, t),
            Kind::Iec104 => iec104(g, o, org, t),
        }
    }
}

impl Gen {
    pub fn rng_f64(&mut self) -> f64 {
        use rand::Rng;
        self.rng.random::<f64>()
    }
}

/// Periodic integrity checks of every organization's main website, up to `budget` events.
/// Returns how many it made.
fn web_monitor(g: &mut Gen, w: &World, budget: usize) -> usize {
    let sites: Vec<(usize, usize)> = w
        .orgs
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.sites.is_empty())
        .map(|(i, _)| (i, 0))
        .collect();
    if sites.is_empty() || budget == 0 {
        return 0;
    }
    let span = g.now - g.start;
    let per_site = (budget / sites.len()).max(1) as i64;
    let interval = (span / per_site).max(HOUR);
    let mut made = 0;
    for (org, s) in sites {
        let offset = g.range(0, interval);
        let mut t = g.start + offset;
        while t < g.now - MIN && made < budget {
            web_check(g, w, org, s, t);
            made += 1;
            t += interval + g.range(-30 * SEC, 30 * SEC);
        }
    }
    made
}

/// One integrity check of a site's home page; reports the defaced hash while a defacement
/// story has it changed.
pub fn web_check(g: &mut Gen, w: &World, org: usize, s: usize, t: i64) -> usize {
    let o = &w.orgs[org];
    let site = &o.sites[s];
    let defaced = g
        .defaced
        .iter()
        .find(|(k, from, to, _)| *k == (org, s) && t >= *from && t < *to)
        .map(|(_, _, _, h)| h.clone());
    let (hash, changed, similarity) = match &defaced {
        Some(h) => (h.clone(), true, 0.08),
        None => (site.page_hash.clone(), false, 1.0),
    };
    let elapsed = g.range(60, 900);
    let url = format!("https://{}/", site.domain);
    let raw = format!(
        "{{\"ts\":\"{}\",\"monitor\":\"vigil-webmon\",\"url\":\"{url}\",\"status\":200,\"elapsed_ms\":{elapsed},\"sha256\":\"{hash}\",\"changed\":{changed},\"similarity\":{similarity}}}",
        clock::rfc3339(t)
    );
    let f = F::new(
        "web",
        if changed {
            "page-changed"
        } else {
            "page-check"
        },
        "webmon.check",
    )
    .outcome(!changed)
    .severity(if changed { 4 } else { 1 })
    .st("observer.type", "web_monitor")
    .st("observer.name", "vigil-webmon")
    .s("url.full", url.clone())
    .s("url.domain", site.domain.clone())
    .n("http.response.status_code", 200)
    .s("file.hash.sha256", hash)
    .n("event.duration", elapsed * 1_000_000)
    .message(if changed {
        format!(
            "首页内容与基线不一致（相似度 {:.0}%）：{url}",
            similarity * 100.0
        )
    } else {
        format!("首页内容与基线一致：{url}")
    });
    g.push(org, Some(site.asset), t, f, raw)
}

pub fn fw_line(
    g: &mut Gen,
    o: &OrgWorld,
    t: i64,
    permit: bool,
    src: Ipv4Addr,
    sport: i64,
    dst: Ipv4Addr,
    dport: i64,
    inbound: bool,
) -> (String, String) {
    let (szone, dzone) = if inbound {
        ("untrust", "dmz")
    } else {
        ("trust", "untrust")
    };
    let rule = match (permit, inbound) {
        (true, true) => "dmz_web_in",
        (true, false) => "trust_to_internet",
        (false, true) => "default_deny_in",
        (false, false) => "block_high_risk_out",
    };
    let app = match dport {
        443 => "HTTPS",
        80 | 8080 => "HTTP",
        53 => "DNS",
        22 => "SSH",
        3389 => "RDP",
        445 => "SMB",
        _ => "TCP",
    };
    let raw = if o.fw_vendor.contains("Huawei") {
        format!(
            "<190>1 {} {} POLICY - - - %%01POLICY/6/{}(l):vsys=public, protocol=6, source-ip={src}, source-port={sport}, destination-ip={dst}, destination-port={dport}, time={}, source-zone={szone}, destination-zone={dzone}, application-name={app}, rule-name={rule}.",
            clock::rfc3339(t),
            o.fw_host,
            if permit { "POLICYPERMIT" } else { "POLICYDENY" },
            clock::huawei(t)
        )
    } else if o.fw_vendor.contains("H3C") {
        format!(
            "<190>1 {} {} FILTER - - - %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: SrcZoneName(1025)={szone};DstZoneName(1035)={dzone};Type(1067)=ACL;SecurityPolicy(1072)={rule};RuleID(1078)={};Protocol(1001)=TCP;Application(1002)={app};SrcIPAddr(1003)={src};SrcPort(1004)={sport};DstIPAddr(1007)={dst};DstPort(1008)={dport};MatchCount(1069)=1;Event(1048)={};",
            clock::rfc3339(t),
            o.fw_host,
            g.range(1, 40),
            if permit { "Permit" } else { "Deny" }
        )
    } else {
        format!(
            "<190>1 {} {} fw - - - devid=0 date=\"{}\" dname={} logtype=1 pri=6 mod=pf rule_name={rule} proto=tcp sip={src} sport={sport} dip={dst} dport={dport} app={app} act={}",
            clock::rfc3339(t),
            o.fw_host,
            clock::huawei(t),
            o.fw_host,
            if permit { "accept" } else { "deny" }
        )
    };
    (raw, rule.to_string())
}

pub fn fw_event(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    asset: Option<usize>,
    t: i64,
    permit: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dport: i64,
    inbound: bool,
) -> usize {
    let sport = g.port();
    let (raw, rule) = fw_line(g, o, t, permit, src, sport, dst, dport, inbound);
    let dataset = if o.fw_vendor.contains("Huawei") {
        "huawei.usg"
    } else if o.fw_vendor.contains("H3C") {
        "h3c.secpath"
    } else {
        "firewall.syslog"
    };
    let f = F::new(
        "network",
        if permit {
            "connection-allowed"
        } else {
            "connection-denied"
        },
        dataset,
    )
    .outcome(permit)
    .severity(if permit { 1 } else { 2 })
    .observer("firewall", o.fw_vendor, o.fw_model, &o.fw_host)
    .ip("source.ip", src)
    .n("source.port", sport)
    .ip("destination.ip", dst)
    .n("destination.port", dport)
    .st("network.transport", "tcp")
    .s("rule.name", rule)
    .message(format!(
        "{} {src}:{sport} -> {dst}:{dport}",
        if permit { "permit" } else { "deny" }
    ));
    g.push(org, asset, t, f, raw)
}

fn fw_permit(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    if g.chance(0.7) || o.sites.is_empty() {
        let n = *g.pick(&o.workstations);
        let src = o.node(n).ip;
        let asset = o.node(n).asset;
        let dst = g.internet_ip();
        let dport = if g.chance(0.85) { 443 } else { 80 };
        fw_event(g, o, org, Some(asset), t, true, src, dst, dport, false);
    } else {
        let s = g.range(0, o.sites.len() as i64) as usize;
        let (asset, ip) = (o.sites[s].asset, o.sites[s].ip);
        let src = g.internet_ip();
        fw_event(g, o, org, Some(asset), t, true, src, ip, 443, true);
    }
}

fn fw_deny(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let src = g.internet_ip();
    let dst = *g.pick(&o.public_ips);
    let dport = *g.pick(&[
        23, 445, 3389, 1433, 6379, 22, 8080, 5900, 135, 139, 9200, 2375,
    ]);
    fw_event(g, o, org, Some(o.fw_asset), t, false, src, dst, dport, true);
}

pub fn dns_query(g: &mut Gen, o: &OrgWorld, org: usize, t: i64, node: usize, name: &str) -> usize {
    let src = o.node(node).ip;
    let asset = o.node(node).asset;
    let dst = o.node(o.dns).ip;
    let sport = g.port();
    let id = g.range(1, 65_535);
    let flow = g.flow_id();
    let raw = format!(
        "{{\"timestamp\":\"{}\",\"flow_id\":{flow},\"in_iface\":\"ens192\",\"event_type\":\"dns\",\"src_ip\":\"{src}\",\"src_port\":{sport},\"dest_ip\":\"{dst}\",\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{{\"type\":\"query\",\"id\":{id},\"rrname\":\"{name}\",\"rrtype\":\"A\",\"tx_id\":0}}}}",
        clock::eve(t)
    );
    let f = F::new("network", "dns-query", "suricata.eve")
        .outcome(true)
        .severity(1)
        .observer("ids", "OISF", "Suricata", format!("{}-ids01", o.slug))
        .ip("source.ip", src)
        .n("source.port", sport)
        .ip("destination.ip", dst)
        .n("destination.port", 53)
        .st("network.transport", "udp")
        .st("network.protocol", "dns")
        .s("dns.question.name", name)
        .st("dns.question.type", "A")
        .s("host.name", o.node(node).host.clone())
        .message(format!("DNS query {name} A from {src}"));
    g.push(org, Some(asset), t, f, raw)
}

pub fn access_log(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    site: usize,
    t: i64,
    client: Ipv4Addr,
    method: &str,
    path: &str,
    status: i64,
    ua: &str,
) -> usize {
    let s = &o.sites[site];
    let bytes = if status == 304 {
        0
    } else {
        g.range(180, 48_000)
    };
    let server = o.node(s.server).host.clone();
    let (raw, dataset) = if s.stack == Stack::AspNet {
        // IIS W3C logs are in UTC.
        let utc = clock::ts(t).to_string();
        let utc = utc.get(..19).unwrap_or(&utc).replace('T', " ");
        let (stem, query) = path.split_once('?').unwrap_or((path, "-"));
        (
            format!(
                "{utc} {} {method} {stem} {query} 443 - {client} {} - {status} 0 0 {}",
                s.ip,
                ua.replace(' ', "+"),
                g.range(15, 900)
            ),
            "iis.access",
        )
    } else {
        (
            format!(
                "{client} - - [{}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{ua}\"",
                clock::clf(t)
            ),
            "nginx.access",
        )
    };
    let f = F::new("web", "http-request", dataset)
        .outcome(status < 400)
        .severity(1)
        .ip("source.ip", client)
        .ip("destination.ip", s.ip)
        .n("destination.port", 443)
        .s("url.domain", s.domain.clone())
        .s("url.path", path.split('?').next().unwrap_or(path))
        .s("url.original", path)
        .s("http.request.method", method)
        .n("http.response.status_code", status)
        .n("http.response.body.bytes", bytes)
        .s("user_agent.original", ua)
        .s("host.name", server)
        .message(format!("{method} {path} {status} from {client}"));
    g.push(org, Some(s.asset), t, f, raw)
}

fn web_access(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    if o.sites.is_empty() {
        return fw_permit(g, o, org, t);
    }
    let s = g.range(0, o.sites.len() as i64) as usize;
    let client = g.internet_ip();
    let (path, status) = *g.pick(catalog::WEB_PATHS);
    let ua = *g.pick(catalog::BROWSER_UAS);
    let method = if path == "/login" && g.chance(0.4) {
        "POST"
    } else {
        "GET"
    };
    access_log(g, o, org, s, t, client, method, path, i64::from(status), ua);
}

pub fn sshd(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    ok: bool,
    user: &str,
    src: Ipv4Addr,
    how: &str,
    dst: Ipv4Addr,
) -> usize {
    let n = o.node(node);
    let sport = g.port();
    let pid = g.range(1000, 65_000);
    let text = if ok {
        format!("Accepted {how} for {user} from {src} port {sport} ssh2")
    } else if user == "root" || o.accounts.iter().any(|a| a == user) {
        format!("Failed password for {user} from {src} port {sport} ssh2")
    } else {
        format!("Failed password for invalid user {user} from {src} port {sport} ssh2")
    };
    let raw = format!(
        "<86>1 {} {} sshd {pid} - - {text}",
        clock::rfc3339(t),
        n.host
    );
    let f = F::new("authentication", "ssh-login", "system.auth")
        .outcome(ok)
        .severity(if ok { 1 } else { 3 })
        .s("host.name", n.host.clone())
        .s("user.name", user)
        .ip("source.ip", src)
        .n("source.port", sport)
        .ip("destination.ip", dst)
        .n("destination.port", 22)
        .st("process.name", "sshd")
        .n("process.pid", pid)
        .st("observer.type", "host")
        .message(text);
    g.push(org, Some(n.asset), t, f, raw)
}

fn ssh_login(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some(&node) = o.linux.get(g.range(0, o.linux.len() as i64) as usize) else {
        return;
    };
    let jump = o.node(o.jump).ip;
    let user = *g.pick(&["ops", "root", "deploy", "appuser", "ops"]);
    let how = if g.chance(0.7) {
        "publickey"
    } else {
        "password"
    };
    let dst = o.node(node).ip;
    sshd(g, o, org, node, t, true, user, jump, how, dst);
}

/// A Windows Security log line as forwarded by NXLog: 4624, 4625 or 4688.
pub fn win_auth(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    ok: bool,
    user: &str,
    logon_type: i64,
    src: Ipv4Addr,
    workstation: &str,
    unknown_user: bool,
) -> usize {
    let n = o.node(node);
    let fqdn = format!("{}.{}.local", n.host, o.slug);
    let sport = if logon_type == 3 || logon_type == 10 {
        g.port()
    } else {
        0
    };
    let (code, text) = if ok {
        (
            4624,
            format!(
                "Audit Success: An account was successfully logged on. Logon Type: {logon_type} New Logon: Account Name: {user} Account Domain: {} Logon ID: 0x{:X} Network Information: Workstation Name: {workstation} Source Network Address: {src} Source Port: {sport} Detailed Authentication Information: Logon Process: {} Authentication Package: {}",
                o.netbios,
                g.range(0x10000, 0xFFFFFF),
                if logon_type == 10 {
                    "User32"
                } else {
                    "NtLmSsp"
                },
                if logon_type == 3 { "NTLM" } else { "Negotiate" }
            ),
        )
    } else {
        (
            4625,
            format!(
                "Audit Failure: An account failed to log on. Logon Type: {logon_type} Account For Which Logon Failed: Account Name: {user} Account Domain: {} Failure Information: Failure Reason: Unknown user name or bad password. Status: 0xC000006D Sub Status: {} Network Information: Workstation Name: {workstation} Source Network Address: {src} Source Port: {sport} Detailed Authentication Information: Logon Process: NtLmSsp Authentication Package: NTLM",
                o.netbios,
                if unknown_user {
                    "0xC0000064"
                } else {
                    "0xC000006A"
                }
            ),
        )
    };
    let raw = format!(
        "<{}>1 {} {fqdn} Microsoft-Windows-Security-Auditing {code} - - {text}",
        if ok { 14 } else { 12 },
        clock::rfc3339(t)
    );
    let f = F::new(
        "authentication",
        if ok { "logged-in" } else { "logon-failed" },
        "windows.security",
    )
    .outcome(ok)
    .severity(if ok { 1 } else { 3 })
    .s("event.code", code.to_string())
    .st("winlog.channel", "Security")
    .n("winlog.event_id", code)
    .n("winlog.logon.type", logon_type)
    .s("host.name", n.host.clone())
    .s("user.name", user)
    .s("user.domain", o.netbios.clone())
    .ip("source.ip", src)
    .s("source.domain", workstation)
    .st("observer.type", "host");
    let f = if logon_type == 3 || logon_type == 10 {
        f.n("source.port", sport).ip("destination.ip", n.ip).n(
            "destination.port",
            if logon_type == 10 { 3389 } else { 445 },
        )
    } else {
        f
    };
    let f = f.message(if ok {
        format!("An account was successfully logged on: {user} from {src} (type {logon_type})")
    } else {
        format!("An account failed to log on: {user} from {src} (type {logon_type})")
    });
    g.push(org, Some(n.asset), t, f, raw)
}

fn win_logon(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let pc = *g.pick(&o.workstations);
    let user = g.pick(&o.accounts).clone();
    let pc_ip = o.node(pc).ip;
    let pc_name = o.node(pc).host.to_uppercase();
    if g.chance(0.5) {
        win_auth(g, o, org, o.dc, t, true, &user, 3, pc_ip, &pc_name, false);
    } else {
        let lt = *g.pick(&[2, 7, 11]);
        win_auth(
            g,
            o,
            org,
            pc,
            t,
            true,
            &user,
            lt,
            Ipv4Addr::LOCALHOST,
            &pc_name,
            false,
        );
    }
}

fn win_fail(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let pc = *g.pick(&o.workstations);
    let user = g.pick(&o.accounts).clone();
    let pc_ip = o.node(pc).ip;
    let pc_name = o.node(pc).host.to_uppercase();
    win_auth(g, o, org, o.dc, t, false, &user, 3, pc_ip, &pc_name, false);
}

/// A 4688 process creation on a Windows node.
pub fn win_process(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    user: &str,
    exe: &str,
    cmdline: &str,
    parent: &str,
) -> usize {
    let n = o.node(node);
    let name = exe.rsplit('\\').next().unwrap_or(exe).to_string();
    let parent_name = parent.rsplit('\\').next().unwrap_or(parent).to_string();
    let pid = g.range(0x200, 0x3000);
    let raw = format!(
        "<14>1 {} {}.{}.local Microsoft-Windows-Security-Auditing 4688 - - Audit Success: A new process has been created. Creator Subject: Account Name: {user} Account Domain: {} New Process Information: New Process ID: 0x{pid:x} New Process Name: {exe} Token Elevation Type: %%1936 Creator Process Name: {parent} Process Command Line: {cmdline}",
        clock::rfc3339(t),
        n.host,
        o.slug,
        o.netbios
    );
    let f = F::new("process", "process-started", "windows.security")
        .outcome(true)
        .severity(1)
        .st("event.code", "4688")
        .n("winlog.event_id", 4688)
        .s("host.name", n.host.clone())
        .s("user.name", user)
        .s("process.name", name.clone())
        .s("process.executable", exe)
        .s("process.command_line", cmdline)
        .n("process.pid", pid)
        .s("process.parent.name", parent_name)
        .s("process.parent.executable", parent)
        .st("observer.type", "host")
        .message(format!("A new process has been created: {cmdline}"));
    g.push(org, Some(n.asset), t, f, raw)
}

/// A process execution on a Linux node, as auditd EXECVE/SYSCALL reports it.
pub fn linux_exec(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    user: &str,
    exe: &str,
    cmdline: &str,
    parent: &str,
) -> usize {
    let n = o.node(node);
    let name = exe.rsplit('/').next().unwrap_or(exe).to_string();
    let pid = g.range(2000, 60_000);
    let serial = g.range(10_000, 9_999_999);
    let secs = t.div_euclid(SEC);
    let ms = t.rem_euclid(SEC) / 1000;
    let uid = if user == "root" { 0 } else { 1000 };
    let raw = format!(
        "type=SYSCALL msg=audit({secs}.{ms:03}:{serial}): arch=c000003e syscall=59 success=yes exit=0 ppid={} pid={pid} auid={uid} uid={uid} comm=\"{name}\" exe=\"{exe}\" key=\"exec\" type=EXECVE msg=audit({secs}.{ms:03}:{serial}): argc={} cmd=\"{cmdline}\" hostname={}",
        pid - g.range(1, 400),
        cmdline.split(' ').count(),
        n.host
    );
    let f = F::new("process", "executed", "auditd.log")
        .outcome(true)
        .severity(1)
        .s("host.name", n.host.clone())
        .s("user.name", user)
        .s("process.name", name)
        .s("process.executable", exe)
        .s("process.command_line", cmdline)
        .n("process.pid", pid)
        .s("process.parent.name", parent)
        .st("observer.type", "host")
        .message(format!("{user} executed {cmdline}"));
    g.push(org, Some(n.asset), t, f, raw)
}

const BENIGN_PROCS: &[(&str, &str)] = &[
    (
        "C:\\Program Files (x86)\\Tencent\\WeChat\\WeChat.exe",
        "\"C:\\Program Files (x86)\\Tencent\\WeChat\\WeChat.exe\"",
    ),
    (
        "C:\\Program Files (x86)\\DingDing\\DingtalkLauncher.exe",
        "\"C:\\Program Files (x86)\\DingDing\\DingtalkLauncher.exe\" --autorun",
    ),
    (
        "C:\\Users\\Public\\Kingsoft\\WPS Office\\ksolaunch.exe",
        "\"ksolaunch.exe\" /et \"D:\\工作\\2024年度预算表.xlsx\"",
    ),
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer",
    ),
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
        "\"WINWORD.EXE\" /n \"D:\\文件\\关于开展网络安全自查工作的通知.docx\"",
    ),
    (
        "C:\\Program Files (x86)\\360\\360Safe\\safemon\\360tray.exe",
        "\"360tray.exe\" /start",
    ),
    (
        "C:\\Windows\\System32\\taskhostw.exe",
        "taskhostw.exe Install $(Arg0)",
    ),
    (
        "C:\\Windows\\System32\\svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    ),
];

fn process(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let pc = *g.pick(&o.workstations);
    let user = g.pick(&o.accounts).clone();
    let (exe, cmd) = *g.pick(BENIGN_PROCS);
    win_process(
        g,
        o,
        org,
        pc,
        t,
        &user,
        exe,
        cmd,
        "C:\\Windows\\explorer.exe",
    );
}

fn vpn_login(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some((asset, ip)) = o.vpn else {
        return;
    };
    let user = g.pick(&o.accounts).clone();
    let src = g.internet_ip();
    let ok = g.chance(0.93);
    let vip = Ipv4Addr::new(10, o.office_net[1], 250, g.range(10, 250) as u8);
    let text = if ok {
        format!("用户 {user} 从 {src} 登录成功，分配虚拟IP {vip}")
    } else {
        format!("用户 {user} 从 {src} 登录失败，原因：密码错误")
    };
    let raw = format!(
        "<134>1 {} {}-vpn01 sslvpn - - - {text}",
        clock::rfc3339(t),
        o.slug
    );
    let f = F::new("authentication", "vpn-login", "sangfor.sslvpn")
        .outcome(ok)
        .severity(if ok { 1 } else { 2 })
        .observer(
            "vpn",
            "Sangfor",
            "SSL VPN M5400",
            format!("{}-vpn01", o.slug),
        )
        .s("user.name", user)
        .ip("source.ip", src)
        .ip("destination.ip", ip)
        .n("destination.port", 443)
        .message(text);
    g.push(org, Some(asset), t, f, raw);
}

fn cron(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some(&node) = o.linux.get(g.range(0, o.linux.len() as i64) as usize) else {
        return;
    };
    let n = o.node(node);
    let job = *g.pick(&[
        "/usr/local/bin/backup.sh",
        "/usr/sbin/logrotate /etc/logrotate.conf",
        "run-parts /etc/cron.hourly",
        "/opt/monitor/agent_check.sh >/dev/null 2>&1",
        "/usr/sbin/ntpdate ntp.aliyun.com",
    ]);
    let pid = g.range(2000, 60_000);
    let text = format!("(root) CMD ({job})");
    let raw = format!(
        "<78>1 {} {} CROND {pid} - - {text}",
        clock::rfc3339(t),
        n.host
    );
    let f = F::new("process", "cron-job", "system.syslog")
        .outcome(true)
        .severity(1)
        .s("host.name", n.host.clone())
        .st("user.name", "root")
        .st("process.name", "crond")
        .n("process.pid", pid)
        .st("observer.type", "host")
        .message(text);
    g.push(org, Some(n.asset), t, f, raw);
}

/// A Modbus/TCP request as Suricata's EVE `modbus` record reports it.
pub fn modbus(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    t: i64,
    src: Ipv4Addr,
    plc_node: usize,
    function: i64,
    address: i64,
    value: i64,
) -> usize {
    let plc = o.node(plc_node);
    let sport = g.port();
    let tid = g.range(1, 65_535);
    let flow = g.flow_id();
    let (fname, access, action) = match function {
        3 => ("RdHoldRegs", "READ | HOLDING", "modbus-read"),
        1 => ("RdCoils", "READ | COILS", "modbus-read"),
        6 => ("WrSingleReg", "WRITE | SINGLE | HOLDING", "modbus-write"),
        16 => ("WrMultRegs", "WRITE | HOLDING", "modbus-write"),
        15 => ("WrMultCoils", "WRITE | COILS", "modbus-write"),
        _ => ("Unknown", "UNKNOWN", "modbus-request"),
    };
    let body = if action == "modbus-write" {
        format!("\"write\":{{\"address\":{address},\"data\":{value}}}")
    } else {
        format!("\"read\":{{\"address\":{address},\"quantity\":{value}}}")
    };
    let raw = format!(
        "{{\"timestamp\":\"{}\",\"flow_id\":{flow},\"in_iface\":\"ens224\",\"event_type\":\"modbus\",\"src_ip\":\"{src}\",\"src_port\":{sport},\"dest_ip\":\"{}\",\"dest_port\":502,\"proto\":\"TCP\",\"modbus\":{{\"id\":{tid},\"request\":{{\"transaction_id\":{tid},\"protocol_id\":0,\"unit_id\":1,\"function_raw\":{function},\"function_code\":\"{fname}\",\"access_type\":\"{access}\",\"category\":\"PUBLIC_ASSIGNED\",{body}}}}}}}",
        clock::eve(t),
        plc.ip
    );
    let f = F::new("network", action, "suricata.eve")
        .outcome(true)
        .severity(if action == "modbus-write" { 3 } else { 1 })
        .observer("ids", "OISF", "Suricata", format!("{}-ids-ot01", o.slug))
        .ip("source.ip", src)
        .n("source.port", sport)
        .ip("destination.ip", plc.ip)
        .n("destination.port", 502)
        .st("network.transport", "tcp")
        .st("network.protocol", "modbus")
        .n("modbus.function_code", function)
        .s("modbus.function_name", fname)
        .n("modbus.address", address)
        .s("host.name", plc.host.clone())
        .message(format!(
            "Modbus {fname} {src} -> {} unit 1 addr {address}",
            plc.ip
        ));
    g.push(org, Some(plc.asset), t, f, raw)
}

fn modbus_read(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some(ics) = &o.ics else { return };
    let Some(scada) = ics.scada.first() else {
        return;
    };
    let plc = &ics.plcs[g.range(0, ics.plcs.len() as i64) as usize];
    if plc.proto == "s7" {
        return s7_read(g, o, org, t);
    }
    let src = o.node(*scada).ip;
    let f = if g.chance(0.8) { 3 } else { 1 };
    let addr = g.range(0, 200) * 10;
    let qty = *g.pick(&[2, 4, 10, 16, 32]);
    modbus(g, o, org, t, src, plc.node, f, addr, qty);
}

/// An S7comm/IEC 104 record from the plant's industrial audit appliance.
pub fn ics_audit(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    t: i64,
    asset_node: Option<usize>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: &str,
    port: i64,
    action: &'static str,
    detail: &str,
    severity: i64,
) -> usize {
    let Some(ics) = &o.ics else { return 0 };
    let sport = g.port();
    let text = format!("proto={proto} src={src}:{sport} dst={dst}:{port} {detail}");
    let raw = format!(
        "<{}>1 {} {} icsaudit - - - {text}",
        if severity >= 4 { 130 } else { 134 },
        clock::rfc3339(t),
        ics.audit
    );
    let f = F::new("network", action, "winicssec.audit")
        .outcome(true)
        .severity(severity)
        .observer("ics_audit", "Winicssec", "IAS-2000", &ics.audit)
        .ip("source.ip", src)
        .n("source.port", sport)
        .ip("destination.ip", dst)
        .n("destination.port", port)
        .st("network.transport", "tcp")
        .s("network.protocol", proto.to_lowercase());
    let (f, asset) = match asset_node {
        Some(i) => (
            f.s("host.name", o.node(i).host.clone()),
            Some(o.node(i).asset),
        ),
        None => (f, None),
    };
    g.push(org, asset, t, f.message(text), raw)
}

fn s7_read(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some(ics) = &o.ics else { return };
    let Some(plc) = ics
        .plcs
        .iter()
        .find(|p| p.proto == "s7")
        .or(ics.plcs.first())
    else {
        return;
    };
    let src_node = if !ics.hmis.is_empty() && g.chance(0.5) {
        ics.hmis[0]
    } else {
        ics.scada.first().copied().unwrap_or(ics.ews)
    };
    let src = o.node(src_node).ip;
    let dst = o.node(plc.node).ip;
    let items = g.range(1, 12);
    let db = g.range(1, 40);
    let detail = format!("rosctr=Job func=0x04(ReadVar) items={items} area=DB{db} result=OK");
    ics_audit(
        g,
        o,
        org,
        t,
        Some(plc.node),
        src,
        dst,
        "S7COMM",
        102,
        "s7-read",
        &detail,
        1,
    );
}

fn iec104(g: &mut Gen, o: &OrgWorld, org: usize, t: i64) {
    let Some(ics) = &o.ics else { return };
    let Some(&rtu) = ics.rtus.get(g.range(0, ics.rtus.len() as i64) as usize) else {
        return;
    };
    let scada = ics.scada.first().copied().unwrap_or(ics.ews);
    let (src, dst) = (o.node(rtu).ip, o.node(scada).ip);
    let ioa = 16_385 + g.range(0, 300);
    let value = g.range(500, 2300) as f64 / 10.0;
    let detail = format!(
        "apdu=I typeid=13(M_ME_NC_1) cot=3(spont) ca=1 ioa={ioa} value={value:.1} quality=good"
    );
    ics_audit(
        g,
        o,
        org,
        t,
        Some(rtu),
        src,
        dst,
        "IEC104",
        2404,
        "iec104-measurement",
        &detail,
        1,
    );
}
