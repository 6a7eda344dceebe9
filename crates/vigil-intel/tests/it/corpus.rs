//! Imports of the real corpora in ../shared/data (skipped with a SKIP line when absent,
//! failing under VIGIL_TEST_REQUIRE=1).

use jiff::Timestamp;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use vigil_intel::misp::FeedSource;
use vigil_intel::{
    ImportProblem, IndicatorKind, Intel, Observation, Source, Tlp, observables_from_fields,
};
use vigil_testkit::shared_data;

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).expect("corpus file is readable")
}

fn now() -> Timestamp {
    Timestamp::from_second(1_763_000_000).expect("ts")
}

fn fields(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    serde_json::from_value(v).expect("field map")
}

#[test]
fn attack_enterprise_bundle_imports_every_object() {
    let Some(p) = shared_data(
        "stix-samples/enterprise-attack-v18-stix20-assembled.json",
        "attack_enterprise_bundle_imports_every_object",
    ) else {
        return;
    };
    let mut intel = Intel::new();
    let (s, problems) = intel.import_stix(&read(&p), &Source::new("mitre-attack"));
    assert_eq!(problems, Vec::<ImportProblem>::new());
    assert_eq!(s.objects, 24_771);
    let expected: BTreeMap<String, usize> = [
        ("attack-pattern", 835),
        ("campaign", 52),
        ("course-of-action", 268),
        ("identity", 1),
        ("intrusion-set", 187),
        ("malware", 696),
        ("marking-definition", 1),
        ("relationship", 20_048),
        ("tool", 91),
        ("x-mitre-analytic", 1_739),
        ("x-mitre-data-component", 109),
        ("x-mitre-data-source", 38),
        ("x-mitre-detection-strategy", 691),
        ("x-mitre-matrix", 1),
        ("x-mitre-tactic", 14),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(s.by_type, expected);
    assert_eq!(intel.objects.count_by_type(), expected);
    assert_eq!(intel.objects.len(), 24_771);
    // Every attack-pattern carries its technique id; sub-techniques included.
    assert_eq!(intel.objects.techniques().len(), 835);
    assert!(
        intel
            .objects
            .of_type("attack-pattern")
            .all(|o| !vigil_intel::stix::technique_ids(&o.json).is_empty())
    );
    let t = intel.objects.technique("T1055.011").expect("sub-technique");
    assert_eq!(t.name(), Some("Extra Window Memory Injection"));
    assert_eq!(t.spec_version, "2.0");
    assert_eq!(
        intel.objects.technique("T1566").and_then(|o| o.name()),
        Some("Phishing")
    );
    assert!(intel.indicators.is_empty());
}

#[test]
fn attack_ics_and_mobile_bundles_import() {
    for (file, objects, techniques) in [
        ("stix-samples/ics-attack-18.1-stix21.json", 1_826, 95),
        ("stix-samples/mobile-attack-17.1-stix21.json", 2_148, 188),
    ] {
        let Some(p) = shared_data(file, "attack_ics_and_mobile_bundles_import") else {
            return;
        };
        let mut intel = Intel::new();
        let (s, problems) = intel.import_stix(&read(&p), &Source::new("mitre-attack"));
        assert!(problems.is_empty(), "{file}: {problems:?}");
        assert_eq!(s.objects, objects, "{file}");
        assert_eq!(intel.objects.techniques().len(), techniques, "{file}");
    }
}

#[test]
fn oasis_examples_import_indicators_and_report_the_rest() {
    let Some(dir) = shared_data(
        "stix-samples/oasis-examples",
        "oasis_examples_import_indicators_and_report_the_rest",
    ) else {
        return;
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let mut intel = Intel::new();
    let mut total = 0;
    let mut general: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &names {
        let (s, p) = intel.import_stix(&read(f), &Source::new("oasis"));
        total += s.indicators;
        for (k, v) in s.general_reasons() {
            *general.entry(k.to_string()).or_insert(0) += v;
        }
        problems.extend(p);
    }
    assert_eq!(names.len(), 8);
    assert_eq!(total, 78);
    assert_eq!(
        general,
        BTreeMap::from([
            ("AND inside an observation".to_string(), 2),
            ("MATCHES".to_string(), 2),
            ("file:name is not indexed".to_string(), 2),
        ])
    );
    // The one value that is no domain name (a space inside) is reported, its indicator's
    // other value imports.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].object_id,
        "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a40"
    );
    assert!(problems[0].reason.contains("domain autuo.xicp.net"));

    let set = intel.build_set();
    // apt1.json: CIDR indicators match addresses inside them.
    let obs = observables_from_fields(&fields(json!({
        "source.ip": "223.167.1.2",
        "dns.question.name": "mail.hugesoft.org",
        "destination.ip": "113.10.246.30"
    })));
    let hits = set.match_event(&obs, now());
    let texts: Vec<String> = hits.iter().map(|h| h.indicator.value.to_string()).collect();
    assert_eq!(
        texts,
        [
            "ipv4:223.166.0.0/15",
            "ipv4:113.10.246.30",
            "domain:hugesoft.org"
        ]
    );
    // The Poison Ivy address was reported by several indicators: one entry, all sources.
    let ivy = &hits[1].indicator;
    assert!(ivy.context.sources.len() >= 2, "{:?}", ivy.context.sources);
    // The e-mail MATCHES pattern is evaluated by the general evaluator. As written in the
    // example, `^[IMPORTANT] Please` is a character class: one of I, M, P, O, R, T, A, N
    // followed by " Please" matches, the literal bracketed text does not.
    let subject = |s: &str| Observation::from_fields(None, &fields(json!({"email.subject": s})));
    assert_eq!(
        set.match_patterns(&[subject("A Please Review Before Monday")], now())
            .len(),
        1
    );
    assert!(
        set.match_patterns(&[subject("[IMPORTANT] Please Review Before")], now())
            .is_empty()
    );
}

#[test]
fn misp_sample_events_import_to_ids_attributes() {
    let Some(dir) = shared_data(
        "misp-samples/pymisp-tests",
        "misp_sample_events_import_to_ids_attributes",
    ) else {
        return;
    };
    // file, indicators, context-only attributes, problems (to_ids types with no indicator
    // type: filename, regkey|value, imphash, pehash, ssdeep, email-attachment).
    for (file, indicators, context_only, skipped) in [
        ("existing_event.json", 68, 39, 15),
        ("57c4445b-c548-4654-af0b-4be3950d210f.json", 3, 4, 2),
        ("reportlab/long_event.json", 250, 112, 8),
        ("reportlab/mainly_objects_1.json", 17, 53, 4),
        ("reportlab/mainly_objects_2.json", 14, 45, 4),
        ("reportlab/galaxy_1.json", 4, 6, 0),
        ("reportlab/sighting_1.json", 5, 0, 0),
    ] {
        let mut intel = Intel::new();
        let (s, problems) = intel.import_misp_event(&read(&dir.join(file)), &Source::new("circl"));
        assert_eq!(
            (s.indicators, s.context_only, s.skipped),
            (indicators, context_only, skipped),
            "{file}: {problems:?}"
        );
        assert_eq!(problems.len(), skipped);
        assert!(
            problems
                .iter()
                .all(|p| p.reason.contains("has no indicator type"))
        );
    }
    let mut intel = Intel::new();
    intel.import_misp_event(
        &read(&dir.join("existing_event.json")),
        &Source::new("circl"),
    );
    let first = &intel.indicators[0];
    assert_eq!(first.context.tlp, Some(Tlp::Clear));
    assert_eq!(first.context.threat_actors, ["Sofacy"]);
    assert!(first.context.malware.contains(&"X-Agent".to_string()));
    let mut intel = Intel::new();
    intel.import_misp_event(
        &read(&dir.join("57c4445b-c548-4654-af0b-4be3950d210f.json")),
        &Source::new("circl"),
    );
    assert_eq!(
        intel.indicators[0].context.category.as_deref(),
        Some("MPRANS")
    );
}

#[test]
fn misp_feed_from_a_directory() {
    let Some(dir) = shared_data("misp-samples/pymisp-tests", "misp_feed_from_a_directory") else {
        return;
    };
    // The corpus has a feed-style event file but no manifest: lay out a feed around it.
    let uuid = "57c4445b-c548-4654-af0b-4be3950d210f";
    let feed_dir = std::env::temp_dir().join(format!("vigil-intel-feed-{}", std::process::id()));
    std::fs::create_dir_all(&feed_dir).expect("mkdir");
    std::fs::copy(
        dir.join(format!("{uuid}.json")),
        feed_dir.join(format!("{uuid}.json")),
    )
    .expect("copy");
    std::fs::write(
        feed_dir.join("manifest.json"),
        serde_json::to_vec(
            &json!({uuid: {"info": "Ransomware - Xorist", "timestamp": "1472545931"}}),
        )
        .expect("json"),
    )
    .expect("write");
    let feed = vigil_intel::fs::DirFeed::new(&feed_dir);
    assert!(feed.read("manifest.json").is_ok());
    let mut intel = Intel::new();
    let (s, problems) = intel.import_misp_feed(&feed, &Source::new("circl-osint"));
    std::fs::remove_dir_all(&feed_dir).expect("cleanup");
    assert_eq!(s.indicators, 3);
    assert_eq!(problems.len(), 2);
}

#[test]
fn signature_base_ioc_lists_import() {
    let Some(dir) = shared_data(
        "yara-rules/signature-base/iocs",
        "signature_base_ioc_lists_import",
    ) else {
        return;
    };
    let mut intel = Intel::new();
    let (h, hp) = intel.import_list(
        &read(&dir.join("hash-iocs.txt")),
        &Source::new("signature-base"),
    );
    assert!(hp.is_empty(), "{hp:?}");
    assert_eq!(h.indicators, 3_224);
    assert_eq!(
        h.indicators_by_kind,
        BTreeMap::from([
            (IndicatorKind::Md5, 1_039),
            (IndicatorKind::Sha1, 926),
            (IndicatorKind::Sha256, 1_259)
        ])
    );
    let (c, cp) = intel.import_list(
        &read(&dir.join("c2-iocs.txt")),
        &Source::new("signature-base"),
    );
    assert!(cp.is_empty(), "{cp:?}");
    assert_eq!(c.indicators, 1_844);
    assert_eq!(
        c.indicators_by_kind,
        BTreeMap::from([(IndicatorKind::Ipv4, 135), (IndicatorKind::Domain, 1_709)])
    );
    let set = intel.build_set();
    let stats = set.stats();
    // Lines repeated across sections (the same hash or C2 in several reports) merge.
    assert_eq!(stats.indicators, 4_826);
    assert_eq!(stats.duplicates_merged, 3_224 + 1_844 - 4_826);
    // A C2 domain from the list matches its subdomains, and the section comment is kept.
    let obs = observables_from_fields(&fields(json!({"dns.question.name": "x.suroot.com"})));
    let hits = set.match_event(&obs, now());
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].indicator.context.description.as_deref(),
        Some("FireEye Operation Snowman https://goo.gl/x1v7mT")
    );
}
