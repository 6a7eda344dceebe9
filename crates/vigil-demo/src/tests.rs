use super::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;
use vigil_model::{AssetKind, taxonomy};

fn fixed_now() -> Timestamp {
    "2025-11-01T04:00:00Z".parse().expect("fixed time")
}

fn default_opts() -> DemoOptions {
    DemoOptions {
        now: fixed_now(),
        ..DemoOptions::default()
    }
}

/// The default plan, built once for all tests (it is the expensive part).
fn default_plan() -> &'static DemoPlan {
    static PLAN: OnceLock<DemoPlan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let started = Instant::now();
        let p = plan(&default_opts());
        println!(
            "planned {} orgs, {} assets, {} events, {} alerts, {} incidents in {:?}",
            p.orgs.len(),
            p.assets.len(),
            p.events.len(),
            p.alerts.len(),
            p.incidents.len(),
            started.elapsed()
        );
        p
    })
}

fn text<'a>(e: &'a NewEvent, k: &str) -> Option<&'a str> {
    e.fields.get(k).and_then(|v| v.as_str())
}

fn small_opts(seed: u64) -> DemoOptions {
    DemoOptions {
        seed,
        orgs: 8,
        assets_min: 250,
        events: 12_000,
        days: 10,
        now: fixed_now(),
    }
}

#[test]
fn plan_is_deterministic_for_a_seed() {
    let a = plan(&small_opts(7));
    let b = plan(&small_opts(7));
    assert_eq!(a, b);
    let c = plan(&small_opts(8));
    assert_ne!(a.events, c.events);
    assert_ne!(a.orgs, c.orgs);
}

#[test]
fn default_counts_meet_the_minimums() {
    let p = default_plan();
    assert_eq!(p.orgs.len(), 36);
    assert!(p.assets.len() >= 1_200, "{} assets", p.assets.len());
    assert_eq!(p.events.len(), 120_000);
    assert!(
        (200..=700).contains(&p.alerts.len()),
        "{} alerts",
        p.alerts.len()
    );
    assert!(
        (25..=60).contains(&p.incidents.len()),
        "{} incidents",
        p.incidents.len()
    );
}

#[test]
fn organizations_cover_sectors_regions_and_levels() {
    let p = default_plan();
    let sectors: BTreeSet<&str> = p.orgs.iter().map(|o| o.sector.as_str()).collect();
    assert!(sectors.len() >= 12, "{sectors:?}");
    let provinces: BTreeSet<&str> = p
        .orgs
        .iter()
        .map(|o| o.region_code.get(..2).unwrap_or_default())
        .collect();
    assert!(provinces.len() >= 10, "{provinces:?}");
    let level = |l: u8| p.orgs.iter().filter(|o| o.mlps_level == l).count();
    assert_eq!(level(1), 1);
    assert!((2..=3).contains(&level(4)), "{} at level 4", level(4));
    assert!(level(2) + level(3) >= 30);
    for o in &p.orgs {
        let sector = taxonomy::sector(&o.sector).expect("known sector");
        if o.cii {
            assert!(sector.cii_sector, "{} is CII outside a CII sector", o.name);
        }
        if o.miit_type.is_some() {
            assert!(matches!(o.miit_grade, Some(1..=3)), "{}", o.name);
        }
        assert!(!o.contacts.is_empty() && o.contacts.len() <= 2);
        let phone = o.responsible.phone.as_deref().unwrap_or_default();
        assert!(phone.starts_with('1') && phone.len() == 13, "{phone}");
        assert!(
            o.responsible
                .email
                .as_deref()
                .is_some_and(|e| e.ends_with(".example.cn"))
        );
    }
    assert!(p.orgs.iter().filter(|o| o.cii).count() >= 15);
    assert!(p.orgs.iter().filter(|o| o.uscc.is_some()).count() >= 20);
    assert!(p.orgs.iter().filter(|o| o.miit_type.is_some()).count() >= 8);
    let names: BTreeSet<&str> = p.orgs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), p.orgs.len(), "organization names are unique");
}

#[test]
fn every_spec_validates() {
    let p = default_plan();
    for o in &p.orgs {
        assert_eq!(o.validate(), Ok(()), "{}", o.name);
    }
    for a in &p.assets {
        assert_eq!(a.validate(), Ok(()), "{}", a.name);
        assert!(planned_org_index(a.org_id).is_some_and(|i| i < p.orgs.len()));
    }
    for a in &p.alerts {
        assert_eq!(a.alert.validate(), Ok(()), "{}", a.alert.title);
    }
    for i in &p.incidents {
        assert_eq!(i.incident.validate(), Ok(()), "{}", i.incident.title);
        if let Some(impact) = &i.impact {
            assert_eq!(impact.validate(), Ok(()), "{}", i.incident.title);
        }
    }
    // The ransomware cases report their impact with the ransom, so their reports show it.
    let ransomware: Vec<_> = p
        .incidents
        .iter()
        .filter(|i| i.incident.subcategory.as_deref() == Some("MPRANS"))
        .collect();
    assert!(!ransomware.is_empty());
    for i in ransomware {
        let impact = i.impact.as_ref().expect("ransomware impact");
        assert!(impact.ransom.is_some() && impact.support_requested.is_some());
        assert!(impact.outage_minutes.is_some_and(|m| m > 0));
    }
}

#[test]
fn assets_are_varied_and_unique_per_organization() {
    let p = default_plan();
    let kinds: BTreeSet<&str> = p.assets.iter().map(|a| a.kind.as_str()).collect();
    for k in AssetKind::ALL {
        assert!(kinds.contains(k.as_str()), "no {k:?} asset");
    }
    let mut names = BTreeSet::new();
    for a in &p.assets {
        assert!(
            names.insert((a.org_id, a.name.clone())),
            "duplicate {}",
            a.name
        );
    }
    let with_purl = p
        .assets
        .iter()
        .filter(|a| a.software.iter().any(|s| s.purl.is_some()))
        .count();
    let with_cpe = p
        .assets
        .iter()
        .filter(|a| a.software.iter().any(|s| s.cpe.is_some()))
        .count();
    assert!(
        with_purl >= 100 && with_cpe >= 500,
        "{with_purl} {with_cpe}"
    );
    let vendors: BTreeSet<&str> = p
        .assets
        .iter()
        .filter(|a| a.kind.is_industrial())
        .filter_map(|a| a.vendor.as_deref())
        .collect();
    for v in ["Siemens", "Schneider Electric", "Rockwell Automation"] {
        assert!(vendors.contains(v), "{vendors:?}");
    }
    assert!(vendors.iter().any(|v| v.contains("SUPCON")));
    assert!(vendors.iter().any(|v| v.contains("HollySys")));
    // Internet-facing addresses come from the documentation ranges only.
    for a in &p.assets {
        for ip in &a.ips {
            let s = ip.to_string();
            assert!(
                s.starts_with("10.")
                    || s.starts_with("192.168.")
                    || s.starts_with("203.0.113.")
                    || s.starts_with("198.51.100."),
                "{s} on {}",
                a.name
            );
        }
    }
}

#[test]
fn events_span_the_window_and_none_is_in_the_future() {
    let p = default_plan();
    let first = p.events.first().expect("events").timestamp;
    let last = p.events.last().expect("events").timestamp;
    assert!(first >= p.start);
    assert!(last < p.now);
    let day = jiff::SignedDuration::from_hours(24);
    assert!(first < p.start + day, "first event {first}");
    assert!(last > p.now - day, "last event {last}");
    assert!(
        p.events
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp),
        "sorted"
    );
    let mut per_day = BTreeMap::new();
    for e in &p.events {
        assert!(e.received_at <= p.now && e.received_at >= e.timestamp);
        assert_eq!(e.provenance.input, "demo");
        assert!(!e.raw.is_empty());
        for k in ["event.category", "event.action", "event.dataset", "message"] {
            assert!(e.fields.contains_key(k), "{k} missing: {:?}", e.fields);
        }
        *per_day
            .entry(e.timestamp.as_second().div_euclid(86_400))
            .or_insert(0usize) += 1;
    }
    assert!(per_day.len() >= 30, "{} days", per_day.len());
    let with_asset = p.events.iter().filter(|e| e.asset_id.is_some()).count();
    assert!(with_asset * 10 >= p.events.len() * 9, "{with_asset}");
}

#[test]
fn background_has_the_expected_mix() {
    let p = default_plan();
    let mut actions: HashMap<&str, usize> = HashMap::new();
    for e in &p.events {
        *actions
            .entry(text(e, "event.action").unwrap_or(""))
            .or_default() += 1;
    }
    for a in [
        "connection-allowed",
        "connection-denied",
        "dns-query",
        "http-request",
        "ssh-login",
        "logged-in",
        "logon-failed",
        "process-started",
        "vpn-login",
        "modbus-read",
        "s7-read",
        "iec104-measurement",
        "page-check",
        "cron-job",
    ] {
        assert!(
            actions.get(a).copied().unwrap_or(0) >= 100,
            "{a}: {actions:?}"
        );
    }
    // Raw lines in the forms the sources really send.
    let raw_of = |action: &str| {
        p.events
            .iter()
            .find(|e| text(e, "event.action") == Some(action))
            .map(|e| String::from_utf8_lossy(&e.raw).into_owned())
            .unwrap_or_default()
    };
    assert!(raw_of("ssh-login").starts_with("<86>1 "));
    assert!(raw_of("logon-failed").contains("4625"));
    assert!(raw_of("dns-query").contains("\"event_type\":\"dns\""));
    let dns: serde_json::Value = serde_json::from_str(&raw_of("dns-query")).expect("EVE JSON");
    assert_eq!(dns["event_type"], "dns");
    let modbus: serde_json::Value = serde_json::from_str(&raw_of("modbus-read")).expect("EVE JSON");
    assert_eq!(modbus["dest_port"], 502);
}

#[test]
fn stories_of_every_kind_are_told() {
    let p = default_plan();
    for kind in [
        StoryKind::BruteForceSsh,
        StoryKind::BruteForceRdp,
        StoryKind::Beaconing,
        StoryKind::Webshell,
        StoryKind::Ransomware,
        StoryKind::Defacement,
        StoryKind::IcsUnauthorized,
        StoryKind::Cryptominer,
        StoryKind::Log4jProbe,
        StoryKind::Scan,
        StoryKind::Vulnerability,
    ] {
        assert!(p.stories.iter().any(|s| s.kind == kind), "no {kind:?}");
    }
    let story_orgs: BTreeSet<usize> = p
        .stories
        .iter()
        .filter(|s| !matches!(s.kind, StoryKind::Scan | StoryKind::Vulnerability))
        .map(|s| s.org)
        .collect();
    assert!(story_orgs.len() >= 12, "{story_orgs:?}");
}

#[test]
fn brute_force_has_a_hundred_failures_then_a_success_from_the_same_source() {
    let p = default_plan();
    // failures and the time of the first success after them, per (source, host).
    let mut failures: HashMap<(&str, &str), (usize, Option<Timestamp>)> = HashMap::new();
    let mut found = 0;
    for e in &p.events {
        if text(e, "event.category") != Some("authentication") {
            continue;
        }
        let (Some(src), Some(host)) = (text(e, "source.ip"), text(e, "host.name")) else {
            continue;
        };
        let entry = failures.entry((src, host)).or_default();
        match text(e, "event.outcome") {
            Some("failure") => entry.0 += 1,
            Some("success") if entry.0 >= 100 && entry.1.is_none() => {
                entry.1 = Some(e.timestamp);
                found += 1;
                assert!(src.starts_with("192.0.2."), "attacker {src}");
            }
            _ => {}
        }
    }
    assert!(found >= 1, "no brute force ending in a success");
    let ssh = p
        .stories
        .iter()
        .find(|s| s.kind == StoryKind::BruteForceSsh && s.context["success"] == "true")
        .expect("a successful SSH brute force");
    let key = (
        ssh.context["source_ip"].as_str(),
        ssh.context["host"].as_str(),
    );
    let (n, success) = failures.get(&key).copied().unwrap_or_default();
    assert!(n >= 100 && success.is_some(), "{key:?}: {n} failures");
    // Its alerts are NACRED and point at its events.
    for &a in &ssh.alerts {
        let alert = &p.alerts[a].alert;
        assert_eq!(alert.category.as_deref(), Some("NACRED"));
        for &id in &alert.event_ids {
            let e = &p.events[id as usize];
            assert_eq!(text(e, "source.ip"), Some(key.0));
        }
    }
}

#[test]
fn beacons_are_roughly_periodic() {
    let p = default_plan();
    let beacons: Vec<&StoryRecord> = p
        .stories
        .iter()
        .filter(|s| s.kind == StoryKind::Beaconing)
        .collect();
    assert!(!beacons.is_empty());
    for s in beacons {
        let c2 = s.context["c2_domain"].as_str();
        let src = s.context["source_ip"].as_str();
        let times: Vec<i64> = p
            .events
            .iter()
            .filter(|e| {
                text(e, "url.domain") == Some(c2)
                    && text(e, "source.ip") == Some(src)
                    && text(e, "event.action") == Some("http-request")
            })
            .map(|e| e.timestamp.as_millisecond())
            .collect();
        assert!(times.len() >= 100, "{} beacons to {c2}", times.len());
        let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2];
        assert!(
            (55_000..=65_000).contains(&median),
            "median gap {median} ms"
        );
        let regular = gaps
            .iter()
            .filter(|g| (50_000..=70_000).contains(*g))
            .count();
        assert!(regular * 100 >= gaps.len() * 95, "{regular}/{}", gaps.len());
        let ioc = s
            .alerts
            .iter()
            .map(|&a| &p.alerts[a].alert)
            .find(|a| a.source == vigil_model::AlertSource::Ioc)
            .expect("an IOC alert");
        assert!(ioc.rule_id.starts_with("ioc:domain:"), "{}", ioc.rule_id);
        assert_eq!(ioc.category.as_deref(), Some("MPZOMB"));
    }
}

#[test]
fn ransomware_webshell_defacement_and_ics_leave_their_traces() {
    let p = default_plan();
    let actions_of = |s: &StoryRecord| -> BTreeSet<String> {
        s.alerts
            .iter()
            .flat_map(|&a| p.alerts[a].alert.event_ids.clone())
            .filter_map(|i| text(&p.events[i as usize], "event.action").map(str::to_string))
            .collect()
    };
    let cmdlines = |s: &StoryRecord| -> Vec<String> {
        s.alerts
            .iter()
            .flat_map(|&a| p.alerts[a].alert.event_ids.clone())
            .filter_map(|i| text(&p.events[i as usize], "process.command_line").map(str::to_string))
            .collect()
    };
    let cats = |s: &StoryRecord| -> BTreeSet<String> {
        s.alerts
            .iter()
            .filter_map(|&a| p.alerts[a].alert.category.clone())
            .collect()
    };
    for s in &p.stories {
        match s.kind {
            StoryKind::Ransomware => {
                assert!(
                    cmdlines(s)
                        .iter()
                        .any(|c| c.contains("vssadmin.exe delete shadows"))
                );
                assert!(actions_of(s).contains("smb-write"));
                assert!(cats(s).contains("MPRANS"));
                assert!(
                    s.alerts
                        .iter()
                        .any(|&a| { p.alerts[a].alert.rule_id.starts_with("ioc:sha256:") })
                );
            }
            StoryKind::Webshell => {
                assert!(actions_of(s).contains("file-created"));
                assert!(cats(s).contains("NABACKIMPL"));
            }
            StoryKind::Defacement => {
                assert!(actions_of(s).contains("page-changed"));
                assert!(cats(s).contains("NAWEBMOD"));
            }
            StoryKind::IcsUnauthorized => {
                let acts = actions_of(s);
                assert!(
                    acts.contains("s7-plc-stop") || acts.contains("modbus-write"),
                    "{acts:?}"
                );
                let c = cats(s);
                assert!(
                    c.contains("NAEXPLOIT") || c.contains("ROPNOUNAUTH"),
                    "{c:?}"
                );
                // The engineering station is not a known asset.
                let rogue: std::net::IpAddr = s.context["source_ip"].parse().expect("ip");
                assert!(p.assets.iter().all(|a| !a.ips.contains(&rogue)));
            }
            _ => {}
        }
    }
}

#[test]
fn alerts_reference_their_own_organizations_events_and_spread_over_the_month() {
    let p = default_plan();
    let mut days = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for pa in &p.alerts {
        let a = &pa.alert;
        assert!(a.detected_at >= p.start && a.detected_at < p.now);
        days.insert(a.detected_at.as_second().div_euclid(86_400));
        sources.insert(a.source.as_str());
        for &i in &a.event_ids {
            let e = p.events.get(i as usize).expect("event index in range");
            assert_eq!(e.org_id, a.org_id, "{}", a.title);
        }
        if a.source != vigil_model::AlertSource::Vuln {
            assert!(!a.event_ids.is_empty(), "{}", a.title);
        }
    }
    assert!(days.len() >= 25, "alerts on {} days", days.len());
    assert_eq!(sources.len(), 5, "{sources:?}");
    let noise = p
        .alerts
        .iter()
        .filter(|a| a.alert.category.as_deref() == Some("NASCAN"))
        .count();
    assert!(noise >= 100, "{noise} scan alerts");
}

#[test]
fn incidents_are_graded_and_spread_over_the_workflow() {
    let p = default_plan();
    let grade = |g: Grade| p.incidents.iter().filter(|i| i.incident.grade == g).count();
    let general = grade(Grade::General);
    assert!(grade(Grade::EspeciallyMajor) <= 1);
    assert!(grade(Grade::Major) >= 1 && grade(Grade::Large) >= 2);
    assert!(general * 2 > p.incidents.len(), "{general} general");
    let mut last_status = BTreeMap::new();
    let mut escalated = BTreeSet::new();
    for i in &p.incidents {
        let status = i
            .steps
            .iter()
            .filter_map(|s| s.status)
            .next_back()
            .unwrap_or(IncidentStatus::Open);
        *last_status.entry(status.as_str()).or_insert(0) += 1;
        assert!(!i.incident.alert_ids.is_empty(), "{}", i.incident.title);
        for id in &i.incident.alert_ids {
            let k = planned_alert_index(*id).expect("planned alert");
            assert_eq!(p.alerts[k].alert.org_id, i.incident.org_id);
            assert!(escalated.insert(k), "alert in two incidents");
            assert_eq!(p.alerts[k].triage, None);
        }
        assert!(i.incident.description.chars().count() > 30);
        assert!(i.actor.starts_with("user:"));
    }
    assert!(last_status.len() >= 4, "{last_status:?}");
    assert!(last_status.contains_key("open"), "{last_status:?}");
    assert!(last_status.get("closed").copied().unwrap_or(0) >= 5);
    let open_ones = p.incidents.len() - last_status.get("closed").copied().unwrap_or(0);
    assert!(open_ones >= 5, "{last_status:?}");
    // Some alerts were triaged without an incident.
    assert!(
        p.alerts
            .iter()
            .any(|a| a.triage == Some(AlertStatus::FalsePositive))
    );
    assert!(p.alerts.iter().any(|a| a.triage.is_none()));
}

#[test]
fn tiny_and_empty_options_still_work() {
    let p = plan(&DemoOptions {
        seed: 1,
        orgs: 3,
        assets_min: 10,
        events: 500,
        days: 1,
        now: fixed_now(),
    });
    assert_eq!(p.orgs.len(), 3);
    assert!(p.events.len() >= 500);
    assert!(
        p.events
            .iter()
            .all(|e| e.timestamp >= p.start && e.timestamp < p.now)
    );
    for a in &p.assets {
        assert_eq!(a.validate(), Ok(()));
    }
    let empty = plan(&DemoOptions {
        orgs: 0,
        ..small_opts(1)
    });
    assert!(empty.events.is_empty() && empty.assets.is_empty());
    // More organizations than the catalog has: branches with unique names.
    let many = plan(&DemoOptions {
        orgs: 45,
        assets_min: 100,
        events: 2_000,
        ..small_opts(3)
    });
    let names: BTreeSet<&str> = many.orgs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), 45);
    for o in &many.orgs {
        assert_eq!(o.validate(), Ok(()));
    }
}

#[test]
fn placeholder_ids_round_trip() {
    assert_eq!(planned_org_index(planned_org_id(17)), Some(17));
    assert_eq!(planned_asset_index(planned_asset_id(1234)), Some(1234));
    assert_eq!(planned_alert_index(planned_alert_id(0)), Some(0));
    assert_eq!(planned_org_index(OrgId::new()), None);
    assert_eq!(planned_asset_index(AssetId(planned_org_id(1).0)), None);
}

#[allow(dead_code)]
fn generate_future_is_send(store: &dyn Store, opts: &DemoOptions) {
    fn send<T: Send>(_: &T) {}
    let f = generate(store, opts);
    send(&f);
}
