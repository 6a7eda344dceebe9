//! The ATT&CK technique browser: tactics with their techniques and sub-techniques, the filter,
//! a technique's page with its related groups, software, mitigations and sub-techniques, both
//! languages, 404 for an unknown id, sign-in required.

use super::*;

fn object(v: serde_json::Value) -> vigil_store::NewStixObject {
    vigil_store::NewStixObject::from_json(v, "2.1", None).expect("valid object")
}

fn refs(id: &str) -> serde_json::Value {
    json!([{"source_name": "mitre-attack", "external_id": id,
            "url": format!("https://attack.mitre.org/techniques/{id}")}])
}

async fn seed_attack(store: &dyn Store) {
    let t = "2025-04-01T00:00:00.000Z";
    let base = |ty: &str, id: &str, name: &str| {
        json!({"type": ty, "spec_version": "2.1", "id": id, "created": t, "modified": t,
               "name": name})
    };
    let merge = |mut a: serde_json::Value, b: serde_json::Value| {
        if let (Some(m), Some(n)) = (a.as_object_mut(), b.as_object()) {
            m.extend(n.clone());
        }
        a
    };
    let exec = "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5";
    let initial = "x-mitre-tactic--ffd5bcee-6e16-4dd2-8eca-7b3beedf33ca";
    let t1059 = "attack-pattern--7385dfaf-6886-4229-9ecd-6fd678040830";
    let t1059_001 = "attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736";
    let t1566 = "attack-pattern--a62a8db3-f23a-4d8f-afd6-9dbc77e7813b";
    let group = "intrusion-set--899ce53f-13a0-479b-a0e4-67d46e241542";
    let malware = "malware--31b9ac7b-1a14-4a39-9d0b-2d6c9f0c4a11";
    let mitigation = "course-of-action--2c3ce852-06a2-40ee-8fe6-086f6402a739";
    let rel = |n: u32, ty: &str, src: &str, dst: &str| {
        json!({"type": "relationship", "spec_version": "2.1",
               "id": format!("relationship--0a1b2c3d-0000-4000-8000-{n:012}"),
               "created": t, "modified": t, "relationship_type": ty,
               "source_ref": src, "target_ref": dst})
    };
    let phase = |p: &str| json!([{"kill_chain_name": "mitre-attack", "phase_name": p}]);
    store
        .put_stix_objects(vec![
            object(merge(
                base("x-mitre-matrix", "x-mitre-matrix--eafc1b4c-5e56-4965-bd4e-66a6a89c88cc", "Enterprise ATT&CK"),
                json!({"tactic_refs": [initial, exec], "external_references": refs("enterprise-attack")}),
            )),
            object(merge(
                base("x-mitre-tactic", exec, "Execution"),
                json!({"x_mitre_shortname": "execution", "external_references": refs("TA0002")}),
            )),
            object(merge(
                base("x-mitre-tactic", initial, "Initial Access"),
                json!({"x_mitre_shortname": "initial-access", "external_references": refs("TA0001")}),
            )),
            object(merge(
                base("attack-pattern", t1059, "Command and Scripting Interpreter"),
                json!({"kill_chain_phases": phase("execution"), "external_references": refs("T1059"),
                       "description": "Adversaries may abuse command and script interpreters <b>to execute</b> commands.",
                       "x_mitre_platforms": ["Windows", "Linux", "macOS"],
                       "x_mitre_data_sources": ["Process: Process Creation"]}),
            )),
            object(merge(
                base("attack-pattern", t1059_001, "PowerShell"),
                json!({"kill_chain_phases": phase("execution"), "external_references": refs("T1059.001"),
                       "x_mitre_is_subtechnique": true, "x_mitre_platforms": ["Windows"]}),
            )),
            object(merge(
                base("attack-pattern", t1566, "Phishing"),
                json!({"kill_chain_phases": phase("initial-access"), "external_references": refs("T1566")}),
            )),
            object(merge(
                base("intrusion-set", group, "APT Example"),
                json!({"external_references": refs("G9001")}),
            )),
            object(merge(
                base("malware", malware, "EvilRAT"),
                json!({"is_family": true, "external_references": refs("S9001")}),
            )),
            object(merge(
                base("course-of-action", mitigation, "Execution Prevention"),
                json!({"external_references": refs("M1038")}),
            )),
            object(rel(1, "subtechnique-of", t1059_001, t1059)),
            object(rel(2, "uses", group, t1059)),
            object(rel(3, "uses", malware, t1059)),
            object(rel(4, "mitigates", mitigation, t1059)),
        ])
        .await
        .expect("ATT&CK objects");
}

#[tokio::test]
async fn attack_browser_shows_tactics_techniques_and_relations() {
    let app = app().await;
    let analyst = login(&app, "analyst").await;
    let empty = get(&app, "/intel/attack", Some(&analyst)).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        empty.body.contains("id=\"attack-empty\""),
        "hint before any import"
    );

    seed_attack(&*app.store).await;
    let page = get(&app, "/intel/attack", Some(&analyst)).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert!(b.contains("href=\"/intel/attack\""), "navigation entry");
    assert!(b.contains("data-tactic=\"initial-access\""));
    let (initial, exec) = (
        b.find("data-tactic=\"initial-access\"")
            .expect("initial access"),
        b.find("data-tactic=\"execution\"").expect("execution"),
    );
    assert!(initial < exec, "tactics in the matrix's order");
    assert!(b.contains("href=\"/intel/attack/T1059\""));
    assert!(
        b.contains("href=\"/intel/attack/T1059.001\""),
        "sub-technique listed"
    );
    assert!(b.contains("Phishing"));

    let filtered = get(&app, "/intel/attack?q=powershell", Some(&analyst)).await;
    assert!(
        filtered.body.contains("href=\"/intel/attack/T1059\""),
        "parent of a match"
    );
    assert!(!filtered.body.contains("Phishing"), "{}", filtered.body);

    let tech = get(&app, "/intel/attack/T1059", Some(&analyst)).await;
    assert_eq!(tech.status, StatusCode::OK);
    let b = &tech.body;
    assert!(b.contains("Command and Scripting Interpreter"));
    assert!(
        b.contains("&#60;b&#62;to execute&#60;/b&#62;"),
        "description escaped"
    );
    assert!(b.contains("macOS") && b.contains("Process: Process Creation"));
    assert!(b.contains("id=\"related-groups\"") && b.contains("APT Example"));
    assert!(b.contains("id=\"related-software\"") && b.contains("EvilRAT"));
    assert!(b.contains("id=\"related-mitigations\"") && b.contains("Execution Prevention"));
    assert!(b.contains("id=\"subtechniques\"") && b.contains("PowerShell"));
    assert!(b.contains("attack.t1059"), "Sigma tag");
    let sub = get(&app, "/intel/attack/t1059.001", Some(&analyst)).await;
    assert_eq!(sub.status, StatusCode::OK);
    assert!(
        sub.body.contains("href=\"/intel/attack/T1059\""),
        "parent link"
    );

    // Every signed-in role reads it, in its language; unknown ids and strangers are refused.
    let officer = login(&app, "officer").await;
    assert_eq!(
        get(&app, "/intel/attack", Some(&officer)).await.status,
        StatusCode::OK
    );
    let admin = login(&app, "admin").await;
    let zh = get(&app, "/intel/attack/T1059", Some(&admin)).await;
    assert!(zh.body.contains("使用该技术的组织"), "zh-CN catalog");
    assert_eq!(
        get(&app, "/intel/attack/T9999", Some(&analyst))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let anon = get(&app, "/intel/attack", None).await;
    assert!(anon.status.is_redirection(), "{}", anon.status);
}
