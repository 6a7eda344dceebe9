//! Incidents opened from the stories' alerts, how far each has got in the notice-to-closure
//! workflow, and the triage state of the alerts nobody escalated.

use crate::catalog::Profile;
use crate::clock::{self, DAY, HOUR};
use crate::state::Gen;
use crate::world::World;
use crate::{
    IncidentStep, PlannedIncident, StoryKind, StoryRecord, planned_alert_id, planned_asset_id,
    planned_org_id,
};
use std::collections::BTreeSet;
use vigil_model::{
    AlertStatus, Grade, IncidentImpact, IncidentStatus, NewIncident, PaymentMethod, Ransom,
    RansomStatus,
};

const ANALYST: &str = "user:analyst";
const DUTY: &str = "user:duty-officer";

pub fn plan(g: &mut Gen, w: &World) -> Vec<PlannedIncident> {
    let mut stories: Vec<StoryRecord> = g.stories.clone();
    stories.sort_by_key(|s| s.start);
    let mut out = Vec::new();
    let mut especially_major_used = false;
    let mut upgraded = false;

    for s in &stories {
        let o = &w.orgs[s.org];
        let (cat, sub, grade, include) = match s.kind {
            StoryKind::BruteForceSsh | StoryKind::BruteForceRdp => (
                "NA",
                "NACRED",
                Grade::General,
                s.context.get("success").is_some_and(|v| v == "true"),
            ),
            StoryKind::Beaconing => (
                "MP",
                "MPZOMB",
                if o.cii { Grade::Large } else { Grade::General },
                true,
            ),
            StoryKind::Webshell => (
                "NA",
                "NABACKIMPL",
                if o.cii { Grade::Large } else { Grade::General },
                true,
            ),
            StoryKind::Ransomware => (
                "MP",
                "MPRANS",
                if o.cii || o.profile == Profile::Hospital {
                    Grade::Major
                } else {
                    Grade::Large
                },
                true,
            ),
            StoryKind::Defacement => (
                "NA",
                "NAWEBMOD",
                if o.profile == Profile::Gov {
                    Grade::Large
                } else {
                    Grade::General
                },
                true,
            ),
            StoryKind::IcsUnauthorized => {
                let stop = s.context.get("action").is_some_and(|a| a == "stop");
                let grade = if stop && o.cii && !especially_major_used {
                    especially_major_used = true;
                    Grade::EspeciallyMajor
                } else {
                    Grade::Major
                };
                if stop {
                    ("NA", "NAEXPLOIT", grade, true)
                } else {
                    ("RO", "ROPNOUNAUTH", grade, true)
                }
            }
            StoryKind::Cryptominer => ("MP", "MPMINER", Grade::General, true),
            _ => ("", "", Grade::General, false),
        };
        if !include {
            continue;
        }
        // The first major ransomware case is opened as 较大 and raised once the scale is known.
        let (initial, raise) =
            if s.kind == StoryKind::Ransomware && grade == Grade::Major && !upgraded {
                upgraded = true;
                (Grade::Large, Some(Grade::Major))
            } else {
                (grade, None)
            };
        out.push(incident(
            g, w, s, cat, sub, initial, raise, &s.alerts, &s.assets,
        ));
    }

    // Grouped incidents: the organizations most scanned, most probed for Log4j, and with the
    // most vulnerable assets each get one.
    for (kind, cat, sub, groups, max_alerts) in [
        (StoryKind::Scan, "NA", "NASCAN", 3usize, 6usize),
        (StoryKind::Log4jProbe, "NA", "NAEXPLOIT", 2, 5),
        (StoryKind::Vulnerability, "SHE", "SHEVULN", 3, 4),
    ] {
        let mut per_org: Vec<(usize, Vec<&StoryRecord>)> = Vec::new();
        for s in stories.iter().filter(|s| s.kind == kind) {
            match per_org.iter_mut().find(|(o, _)| *o == s.org) {
                Some((_, v)) => v.push(s),
                None => per_org.push((s.org, vec![s])),
            }
        }
        per_org.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        for (_, group) in per_org.into_iter().take(groups) {
            if group.len() < 2 && kind != StoryKind::Vulnerability {
                continue;
            }
            let recent: Vec<&StoryRecord> = group.iter().rev().take(max_alerts).copied().collect();
            let Some(head) = recent.last() else { continue };
            let alerts: Vec<usize> = recent.iter().flat_map(|s| s.alerts.clone()).collect();
            let assets: Vec<usize> = recent
                .iter()
                .flat_map(|s| s.assets.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut rep = (*head).clone();
            rep.end = recent.first().map_or(rep.end, |s| s.end);
            rep.title = match kind {
                StoryKind::Scan => format!("互联网出口遭持续扫描探测（{} 个来源）", recent.len()),
                StoryKind::Log4jProbe => {
                    format!(
                        "门户网站遭Log4j2漏洞（CVE-2021-44228）利用尝试 {} 次",
                        recent.len()
                    )
                }
                _ => format!("互联网资产存在高危漏洞（{} 项）", recent.len()),
            };
            out.push(incident(
                g,
                w,
                &rep,
                cat,
                sub,
                Grade::General,
                None,
                &alerts,
                &assets,
            ));
        }
    }
    out.sort_by_key(|i| i.incident.occurred_at);
    // The newest incident has just been opened: nobody has acted on it yet.
    if let Some(newest) = out.last_mut() {
        newest.steps.clear();
    }
    triage(g, &out);
    out
}

fn incident(
    g: &mut Gen,
    w: &World,
    s: &StoryRecord,
    category: &str,
    sub: &str,
    grade: Grade,
    raise: Option<Grade>,
    alerts: &[usize],
    assets: &[usize],
) -> PlannedIncident {
    let o = &w.orgs[s.org];
    let c = |k: &str| s.context.get(k).cloned().unwrap_or_default();
    let when = format!(
        "{}（北京时间）",
        clock::plain(clock::us(s.start))
            .get(..16)
            .unwrap_or_default()
    );
    let description = match s.kind {
        StoryKind::BruteForceSsh | StoryKind::BruteForceRdp => format!(
            "{when}起，境外IP {} 对{}（{}）发起口令暴力破解，累计登录失败 {} 次后以 {} 账号登录成功，并执行了信息收集、下载脚本等命令。",
            c("source_ip"),
            o.name,
            c("host"),
            c("failures"),
            c("user")
        ),
        StoryKind::Beaconing => format!(
            "{when}起，{}办公终端 {}（{}）在用户打开钓鱼邮件附件后，每约60秒向C2域名 {}（{}）发起一次HTTP外联，疑似感染Cobalt Strike远控木马，累计外联 {} 次。",
            o.name,
            c("host"),
            c("source_ip"),
            c("c2_domain"),
            c("c2_ip"),
            c("beacons")
        ),
        StoryKind::Webshell => format!(
            "{when}，攻击者 {} 对 {} 进行目录扫描后利用文件上传漏洞写入WebShell（{}），随后通过WebShell在服务器 {} 上执行系统命令。",
            c("source_ip"),
            c("domain"),
            c("file"),
            c("host")
        ),
        StoryKind::Ransomware => format!(
            "{when}，攻击者使用账号 {} 从 {} 经SSL VPN接入内网，远程登录服务器 {} 后删除卷影副本、篡改启动配置，投放 {} 勒索软件，并通过SMB加密文件服务器 {} 上约 {} 个文件。",
            c("account"),
            c("source_ip"),
            c("host"),
            c("family"),
            c("file_server"),
            c("files")
        ),
        StoryKind::Defacement => format!(
            "{when}，攻击者 {} 登录 {} 网站管理后台并修改首页模板，首页被篡改约 {} 分钟，页面出现“Hacked by”等篡改内容。",
            c("source_ip"),
            c("domain"),
            c("defaced_minutes")
        ),
        StoryKind::IcsUnauthorized => {
            if c("action") == "stop" {
                format!(
                    "{when}，{}生产控制网出现未登记设备 {}，该设备读取PLC信息后向 {} 下发STOP指令，导致控制器停止运行。",
                    o.name,
                    c("source_ip"),
                    c("target")
                )
            } else {
                format!(
                    "{when}，{}生产控制网出现未登记设备 {}，该设备通过Modbus协议多次改写 {} 的工艺设定值，触发SCADA超限报警。",
                    o.name,
                    c("source_ip"),
                    c("target")
                )
            }
        }
        StoryKind::Cryptominer => format!(
            "{when}，攻击者 {} 利用弱口令以 {} 账号登录服务器 {}，下载并运行XMRig挖矿程序，持续连接矿池 {}，并写入计划任务实现持久化。",
            c("source_ip"),
            c("user"),
            c("host"),
            c("pool")
        ),
        StoryKind::Scan => format!(
            "{when}起，多个境外IP对{}互联网出口地址段开展端口扫描和服务探测，涉及SSH、数据库、远程桌面等端口。",
            o.name
        ),
        StoryKind::Log4jProbe => format!(
            "{when}起，{}门户网站多次收到包含 ${{jndi:ldap://…}} 载荷的请求，系针对Apache Log4j2远程代码执行漏洞（CVE-2021-44228）的利用尝试；出口防火墙已阻断对外LDAP连接。",
            o.name
        ),
        StoryKind::Vulnerability => format!(
            "{when}周期性漏洞扫描发现{}互联网暴露资产存在可被远程利用的高危漏洞，需限期修复。",
            o.name
        ),
    };
    let title = format!("{}：{}", o.name, s.title);
    let spec = NewIncident {
        org_id: planned_org_id(s.org),
        title,
        description,
        category: category.to_string(),
        subcategory: Some(sub.to_string()),
        grade,
        asset_ids: assets.iter().map(|&a| planned_asset_id(a)).collect(),
        alert_ids: alerts.iter().map(|&a| planned_alert_id(a)).collect(),
        occurred_at: s.start,
    };
    let steps = steps(g, w, s, raise.map_or(grade, |r| r), raise);
    PlannedIncident {
        incident: spec,
        actor: DUTY.to_string(),
        steps,
        impact: impact(s),
    }
}

/// The impact the organization reports for ransomware and defacement stories, derived from
/// the story (no draw from the generator, so the rest of the plan stays as it was): what was
/// encrypted, for how long, the ransom (demanded, or paid in Monero for every other case),
/// the cause and the support requested.
fn impact(s: &StoryRecord) -> Option<IncidentImpact> {
    let c = |k: &str| s.context.get(k).cloned().unwrap_or_default();
    match s.kind {
        StoryKind::Ransomware => {
            let files: u64 = c("files").parse().unwrap_or(0);
            let start = u64::try_from(clock::us(s.start)).unwrap_or(0);
            let paid = files % 2 == 1;
            let ransom = Ransom {
                status: if paid {
                    RansomStatus::Paid
                } else {
                    RansomStatus::Demanded
                },
                amount: if paid {
                    format!("{}.5", 20 + files % 60)
                } else {
                    format!("{}.{}", 1 + files % 4, files % 10)
                },
                currency: if paid { "XMR" } else { "BTC" }.to_string(),
                payment_method: Some(if paid {
                    PaymentMethod::Xmr
                } else {
                    PaymentMethod::Btc
                }),
                payment_date: if paid {
                    Some(
                        s.end
                            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
                            .date(),
                    )
                } else {
                    None
                },
                wallet_address: Some(if paid {
                    format!("4{:0>94}", format!("{:x}{:x}", start, files))
                } else {
                    format!("bc1q{:0>38}", format!("{:x}", start ^ files))
                }),
            };
            Some(IncidentImpact {
                outage_minutes: Some(180 + files % 420),
                degraded_minutes: Some(720 + files % 1_440),
                people_affected: Some(300 + files % 5_000),
                direct_loss_yuan: Some(150_000 + (files % 90) * 10_000),
                ransom: Some(ransom),
                support_requested: Some(
                    "请求协助开展勒索软件样本分析、加密数据恢复可行性评估和攻击溯源。".into(),
                ),
                preliminary_cause: Some(format!(
                    "SSL VPN账号 {} 口令泄露且未启用多因素认证，攻击者由 {} 接入内网。",
                    c("account"),
                    c("source_ip")
                )),
                affected_scope: Some(format!(
                    "服务器 {} 失陷，文件服务器 {} 上约 {} 个文件被 {} 加密。",
                    c("host"),
                    c("file_server"),
                    c("files"),
                    c("family")
                )),
                ..IncidentImpact::default()
            })
        }
        StoryKind::Defacement => Some(IncidentImpact {
            defacement_homepage_minutes: c("defaced_minutes").parse().ok(),
            preliminary_cause: Some("网站管理后台弱口令，且后台对互联网开放。".into()),
            affected_scope: Some(format!("门户网站 {} 首页。", c("domain"))),
            ..IncidentImpact::default()
        }),
        _ => None,
    }
}

fn steps(
    g: &mut Gen,
    w: &World,
    s: &StoryRecord,
    grade: Grade,
    raise: Option<Grade>,
) -> Vec<IncidentStep> {
    let o = &w.orgs[s.org];
    let age = (g.now - clock::us(s.end)) as f64 / DAY as f64;
    let last = if age < 1.5 {
        g.range(0, 2)
    } else if age < 3.0 {
        g.range(1, 3)
    } else if age < 5.0 {
        g.range(2, 4)
    } else if age < 10.0 {
        g.range(3, 6)
    } else if age < 16.0 {
        *g.pick(&[4, 5, 6, 6])
    } else if g.chance(0.85) {
        6
    } else {
        5
    };
    let org_actor = format!("user:org-{}", o.slug);
    let c = |k: &str| s.context.get(k).cloned().unwrap_or_default();
    let deadline = clock::plain(clock::us(s.end) + 24 * HOUR)
        .get(..16)
        .unwrap_or_default()
        .to_string();
    let (confirm, remedy, result, verify) = match s.kind {
        StoryKind::BruteForceSsh | StoryKind::BruteForceRdp => (
            format!("{} 存在弱口令且远程管理端口对互联网开放", c("host")),
            format!(
                "已在边界防火墙封禁源IP {}，关闭远程管理端口的互联网映射，重置 {} 等账号口令，排查新增账号、计划任务和SSH公钥。",
                c("source_ip"),
                c("user")
            ),
            "已清除攻击者下载的脚本，未发现数据外传".to_string(),
            "远程管理端口已不可从互联网访问，口令符合复杂度要求".to_string(),
        ),
        StoryKind::Beaconing => (
            format!("终端 {} 感染远控木马", c("host")),
            format!(
                "已将终端 {} 断网隔离，使用终端安全软件全盘查杀并清除启动项，在出口防火墙和DNS封禁 {}，重置用户 {} 的域账号口令。",
                c("host"),
                c("c2_domain"),
                c("user")
            ),
            "终端已重装系统，全网排查未发现其他终端访问该C2域名".to_string(),
            "未再监测到对C2域名的访问".to_string(),
        ),
        StoryKind::Webshell => (
            format!("{} 上存在WebShell文件 {}", c("domain"), c("shell")),
            format!(
                "已临时下线网站，删除WebShell文件 {}，修复文件上传接口的校验缺陷，并对服务器开展全面后门排查。",
                c("file")
            ),
            "网站已完成安全加固并重新上线，日志留存已提交".to_string(),
            "WebShell路径已无法访问，上传接口已限制文件类型".to_string(),
        ),
        StoryKind::Ransomware => (
            format!("服务器 {} 及文件服务器 {} 遭勒索软件加密", c("host"), c("file_server")),
            "已断开受影响服务器网络，禁用被盗VPN账号并启用双因素认证，使用离线备份恢复业务数据，已协调公安机关网安部门介入调查。".to_string(),
            "业务系统已从备份恢复，被加密文件已恢复约95%".to_string(),
            "VPN已启用双因素认证，未再发现勒索软件活动".to_string(),
        ),
        StoryKind::Defacement => (
            format!("{} 首页遭篡改", c("domain")),
            "已恢复首页内容，修改网站管理后台全部账号口令，限制后台仅允许内网IP访问，并部署网页防篡改系统。".to_string(),
            "首页已恢复，后台访问控制已生效".to_string(),
            "首页内容与基线一致，后台已不可从互联网访问".to_string(),
        ),
        StoryKind::IcsUnauthorized => (
            format!("生产控制网存在未授权接入设备 {}", c("source_ip")),
            "已拆除未授权接入设备，恢复控制器运行及工艺参数，对工程师站实施准入控制，在工业防火墙上限制仅授权工程师站可访问PLC。".to_string(),
            "生产已恢复正常，现场核查确认为外包运维人员私接笔记本电脑".to_string(),
            "工控网络资产与台账一致，未再出现非授权访问".to_string(),
        ),
        StoryKind::Cryptominer => (
            format!("服务器 {} 运行挖矿程序", c("host")),
            format!(
                "已结束挖矿进程并删除 /tmp/.X11-unix/kworkerds，清除恶意计划任务，修改 {} 等账号弱口令，封禁矿池域名。",
                c("user")
            ),
            "服务器CPU占用已恢复正常".to_string(),
            "未再监测到矿池连接".to_string(),
        ),
        StoryKind::Scan => (
            "扫描未造成实际影响".to_string(),
            "已在边界防火墙封禁扫描源IP，并收敛互联网暴露端口。".to_string(),
            "暴露端口已由12个收敛为3个".to_string(),
            "互联网暴露面已收敛".to_string(),
        ),
        StoryKind::Log4jProbe => (
            "攻击未成功，出口防火墙已阻断LDAP外联".to_string(),
            "已将 log4j-core 升级至 2.17.1，并在WAF上增加 ${jndi: 特征拦截规则。".to_string(),
            "组件升级完成".to_string(),
            "复测未发现Log4j2漏洞".to_string(),
        ),
        StoryKind::Vulnerability => (
            "漏洞情况属实".to_string(),
            "已制定升级计划，升级前临时通过访问控制限制漏洞接口的访问来源。".to_string(),
            "相关组件已升级至安全版本".to_string(),
            "复测漏洞已修复".to_string(),
        ),
    };
    let mut out = Vec::new();
    for stage in 1..=last {
        let step = match stage {
            1 => {
                let mut note = format!(
                    "已通过平台通报并电话通知{}网络安全负责人{}（{}），要求立即开展排查处置，并于{}前反馈处置情况。",
                    o.name,
                    o.responsible.name,
                    o.responsible.phone.clone().unwrap_or_default(),
                    deadline
                );
                if grade.must_report() {
                    note.push_str(&format!(
                        "该事件为{}网络安全事件，已按规定报告上级网信部门和行业主管部门。",
                        grade.name("zh")
                    ));
                }
                IncidentStep {
                    actor: ANALYST.to_string(),
                    status: Some(IncidentStatus::Notified),
                    grade: None,
                    comment: note,
                }
            }
            2 => IncidentStep {
                actor: org_actor.clone(),
                status: Some(IncidentStatus::Acknowledged),
                grade: raise,
                comment: match raise {
                    Some(r) => format!(
                        "已签收通报并组织排查，初步确认{confirm}。经研判影响范围扩大，事件级别由{}调整为{}。",
                        Grade::Large.name("zh"),
                        r.name("zh")
                    ),
                    None => format!("已签收通报并组织技术人员排查，初步确认{confirm}。"),
                },
            },
            3 => IncidentStep {
                actor: org_actor.clone(),
                status: Some(IncidentStatus::Remediating),
                grade: None,
                comment: remedy.clone(),
            },
            4 => IncidentStep {
                actor: org_actor.clone(),
                status: Some(IncidentStatus::Remediated),
                grade: None,
                comment: format!("处置完成，已提交处置报告：{result}。"),
            },
            5 => IncidentStep {
                actor: ANALYST.to_string(),
                status: Some(IncidentStatus::Verified),
                grade: None,
                comment: format!("经远程复测核验，{verify}，处置措施有效。"),
            },
            _ => IncidentStep {
                actor: ANALYST.to_string(),
                status: Some(IncidentStatus::Closed),
                grade: None,
                comment: "事件处置闭环，报告已归档，关闭事件。".to_string(),
            },
        };
        out.push(step);
        if stage == 3 && s.kind == StoryKind::Ransomware {
            out.push(IncidentStep {
                actor: ANALYST.to_string(),
                status: None,
                grade: None,
                comment: "已将勒索样本哈希及攻击源IP推送至省内各重点单位开展排查，暂未发现其他单位受影响。".to_string(),
            });
        }
    }
    out
}

/// Gives the alerts that no incident escalates a triage state by age: old ones mostly
/// closed or dismissed as false positives, recent ones mostly new.
fn triage(g: &mut Gen, incidents: &[PlannedIncident]) {
    let escalated: BTreeSet<uuid::Uuid> = incidents
        .iter()
        .flat_map(|i| i.incident.alert_ids.iter().map(|a| a.0))
        .collect();
    let now = g.now;
    for i in 0..g.alerts.len() {
        if escalated.contains(&planned_alert_id(i).0) {
            continue;
        }
        let age = (now - clock::us(g.alerts[i].alert.detected_at)) / DAY;
        let roll = g.range(0, 100);
        let status = if age >= 3 {
            match roll {
                0..45 => Some(AlertStatus::Closed),
                45..60 => Some(AlertStatus::FalsePositive),
                60..75 => Some(AlertStatus::Acknowledged),
                _ => None,
            }
        } else if roll < 25 {
            Some(AlertStatus::Acknowledged)
        } else {
            None
        };
        g.alerts[i].triage = status;
    }
}
