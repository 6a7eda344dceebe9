//! STIX objects other than indicators: stored by imports (every version, identical versions
//! once), read through /api/v1/intel/objects and the indicator detail, and served by the
//! TAXII collections (versions, match filters, paging across indicators and objects).

use crate::harness::TestApp;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use vigil_web::taxii::{INDICATORS_COLLECTION, PARTNERS_COLLECTION, TAXII_MEDIA};

const AP: &str = "attack-pattern--7e33a43e-e34b-40ec-89da-36c9bb2cacd5";
const MAL: &str = "malware--31b9ac7b-1a14-4a39-9d0b-2d6c9f0c4a11";
const SET: &str = "intrusion-set--899ce53f-13a0-479b-a0e4-67d46e241542";
const IND: &str = "indicator--2f0a1c7e-0a4e-4d0c-9b55-3f3e1b1c0d01";
const TACTIC: &str = "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5";
const REL_USES: &str = "relationship--0a1b2c3d-0000-4000-8000-000000000001";
const REL_IND: &str = "relationship--0a1b2c3d-0000-4000-8000-000000000002";
const REL_SET: &str = "relationship--0a1b2c3d-0000-4000-8000-000000000003";
const BAD: &str = "campaign--0a1b2c3d-0000-4000-8000-0000000000ff";
const V1: &str = "2020-01-01T00:00:00.000Z";
const V2: &str = "2021-06-01T12:30:00.123Z";

/// A small ATT&CK-like bundle: the technique in version `ap_modified`, a tactic, malware and a
/// group that use it, an indicator that indicates the malware, and a campaign whose
/// `modified` is not a time.
pub fn attack_bundle(ap_modified: &str) -> Value {
    let t = V1;
    json!({
        "type": "bundle", "id": "bundle--6d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {"type": "attack-pattern", "spec_version": "2.1", "id": AP, "created": t,
             "modified": ap_modified, "name": "Command and Scripting Interpreter",
             "description": format!("Adversaries may abuse interpreters ({ap_modified})."),
             "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
             "x_mitre_platforms": ["Windows", "Linux"],
             "external_references": [{"source_name": "mitre-attack", "external_id": "T1059",
                                      "url": "https://attack.mitre.org/techniques/T1059"}]},
            {"type": "x-mitre-tactic", "spec_version": "2.1", "id": TACTIC, "created": t,
             "modified": t, "name": "Execution", "x_mitre_shortname": "execution",
             "external_references": [{"source_name": "mitre-attack", "external_id": "TA0002"}]},
            {"type": "malware", "spec_version": "2.1", "id": MAL, "created": t, "modified": t,
             "name": "EvilRAT", "is_family": true,
             "external_references": [{"source_name": "mitre-attack", "external_id": "S9001"}]},
            {"type": "intrusion-set", "spec_version": "2.1", "id": SET, "created": t,
             "modified": t, "name": "APT Example",
             "external_references": [{"source_name": "mitre-attack", "external_id": "G9001"}]},
            {"type": "indicator", "spec_version": "2.1", "id": IND, "created": t, "modified": t,
             "name": "EvilRAT C2", "pattern": "[domain-name:value = 'rat.evil.example']",
             "pattern_type": "stix", "valid_from": t},
            {"type": "relationship", "spec_version": "2.1", "id": REL_USES, "created": t,
             "modified": t, "relationship_type": "uses", "source_ref": MAL, "target_ref": AP},
            {"type": "relationship", "spec_version": "2.1", "id": REL_SET, "created": t,
             "modified": t, "relationship_type": "uses", "source_ref": SET, "target_ref": AP},
            {"type": "relationship", "spec_version": "2.1", "id": REL_IND, "created": t,
             "modified": t, "relationship_type": "indicates", "source_ref": IND,
             "target_ref": MAL},
            {"type": "campaign", "spec_version": "2.1", "id": BAD, "created": t,
             "modified": "yesterday", "name": "Broken"}
        ]
    })
}

pub async fn import_bundle(app: &TestApp, source: &str, body: &Value) -> Value {
    let (s, v) = app
        .call(
            "POST",
            &format!("/api/v1/intel/import?source={source}"),
            Some(&app.analyst),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn taxii_get(app: &TestApp, path: &str, secret: &str) -> (StatusCode, Value, HeaderMap) {
    let req = Request::builder()
        .method("GET")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::ACCEPT, TAXII_MEDIA)
        .body(Body::empty())
        .expect("request");
    app.send(req).await
}

fn ids(env: &Value, key: &str) -> Vec<String> {
    env[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|o| {
            o.get("id")
                .and_then(Value::as_str)
                .or_else(|| o.as_str())
                .expect("id")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn stix_objects_are_stored_listed_and_served() {
    objects(TestApp::new().await).await;
}

#[tokio::test]
async fn stix_objects_are_stored_listed_and_served_on_postgres() {
    if let Some(app) = TestApp::postgres("stix objects").await {
        objects(app).await;
    }
}

async fn objects(app: TestApp) {
    // Import: counts by type, the broken object reported by id, indicators as before.
    let r = import_bundle(&app, "attack-test", &attack_bundle(V1)).await;
    assert_eq!(r["objects"]["inserted"], 7, "{r}");
    assert_eq!(r["objects"]["by_type"]["relationship"], 3, "{r}");
    assert_eq!(r["objects"]["by_type"]["x-mitre-tactic"], 1, "{r}");
    assert!(r["objects"]["by_type"].get("indicator").is_none(), "{r}");
    assert_eq!(r["stored"]["inserted"], 1, "{r}");
    let problems = r["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["object_id"] == BAD),
        "campaign with a bad time reported: {r}"
    );
    // Again: nothing new; then a new version of the technique.
    let again = import_bundle(&app, "attack-test", &attack_bundle(V1)).await;
    assert_eq!(again["objects"]["inserted"], 0, "{again}");
    assert_eq!(again["objects"]["unchanged"], 7, "{again}");
    let newer = import_bundle(&app, "attack-test", &attack_bundle(V2)).await;
    assert_eq!(newer["objects"]["new_versions"], 1, "{newer}");
    assert_eq!(newer["objects"]["by_type"]["attack-pattern"], 1, "{newer}");

    // API: search by type and by ATT&CK id or name; detail with versions and relationships.
    let (s, l) = app
        .call(
            "GET",
            "/api/v1/intel/objects?type=attack-pattern",
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["items"].as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(l["items"][0]["object"]["modified"], V2);
    for q in ["t1059", "scripting", "G9001"] {
        let (_, l) = app
            .call(
                "GET",
                &format!("/api/v1/intel/objects?q={q}"),
                Some(&app.auditor),
                None,
            )
            .await;
        assert_eq!(l["items"].as_array().map(Vec::len), Some(1), "{q}: {l}");
    }
    let (s, d) = app
        .call(
            "GET",
            &format!("/api/v1/intel/objects/{AP}"),
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["object"]["modified"], "2021-06-01T12:30:00.123Z");
    let users: Vec<&str> = d["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .filter(|r| r["direction"] == "incoming" && r["relationship_type"] == "uses")
        .filter_map(|r| r["object"]["name"].as_str())
        .collect();
    assert_eq!(users, ["APT Example", "EvilRAT"], "{d}");
    let (s, d) = app
        .call(
            "GET",
            &format!("/api/v1/intel/objects/{MAL}"),
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ind = d["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .find(|r| r["relationship_type"] == "indicates")
        .cloned()
        .expect("indicates");
    assert_eq!(ind["object"]["type"], "indicator");
    assert!(ind["object"]["indicator_id"].is_string(), "{ind}");
    let (s, _) = app
        .call(
            "GET",
            "/api/v1/intel/objects/malware--00000000-0000-4000-8000-000000000000",
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call("GET", "/api/v1/intel/objects", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call(
            "GET",
            "/api/v1/intel/objects?bogus=1",
            Some(&app.officer),
            None,
        )
        .await;
    assert!(s.is_client_error());

    // The indicator detail names the malware it indicates.
    let indicator_id = ind["object"]["indicator_id"].as_str().expect("id");
    let (s, i) = app
        .call(
            "GET",
            &format!("/api/v1/intel/indicators/{indicator_id}"),
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{i}");
    assert_eq!(i["stix_id"], IND);
    let related = i["related"].as_array().expect("related");
    assert_eq!(related.len(), 1, "{i}");
    assert_eq!(related[0]["direction"], "outgoing");
    assert_eq!(related[0]["object"]["name"], "EvilRAT");

    // TAXII: versions, match[version], match[spec_version], match[type], manifests.
    let base = format!("/taxii2/vigil/collections/{INDICATORS_COLLECTION}/objects/");
    let (s, v, _) = taxii_get(&app, &format!("{base}{AP}/versions/"), &app.officer).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["versions"], json!([V1, "2021-06-01T12:30:00.123Z"]));
    let (_, one, _) = taxii_get(&app, &format!("{base}{AP}/"), &app.officer).await;
    assert_eq!(one["objects"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["objects"][0]["modified"], V2);
    let (_, all, _) = taxii_get(
        &app,
        &format!("{base}{AP}/?match%5Bversion%5D=all"),
        &app.officer,
    )
    .await;
    assert_eq!(all["objects"].as_array().map(Vec::len), Some(2));
    let (_, first, _) = taxii_get(
        &app,
        &format!("{base}?match%5Btype%5D=attack-pattern&match%5Bversion%5D=first"),
        &app.officer,
    )
    .await;
    assert_eq!(first["objects"][0]["modified"], V1, "{first}");
    let (_, at, _) = taxii_get(
        &app,
        &format!("{base}?match%5Bid%5D={AP}&match%5Bversion%5D=2021-06-01T12:30:00.123Z"),
        &app.officer,
    )
    .await;
    assert_eq!(at["objects"].as_array().map(Vec::len), Some(1), "{at}");
    let (_, both, _) = taxii_get(
        &app,
        &format!("{base}?match%5Bid%5D={AP}&match%5Bversion%5D=first,last"),
        &app.officer,
    )
    .await;
    assert_eq!(both["objects"].as_array().map(Vec::len), Some(2), "{both}");
    let (_, twenty, _) = taxii_get(
        &app,
        &format!("{base}?match%5Bspec_version%5D=2.0"),
        &app.officer,
    )
    .await;
    assert_eq!(
        twenty["objects"].as_array().map(Vec::len),
        Some(0),
        "{twenty}"
    );
    let (_, types, _) = taxii_get(
        &app,
        &format!("{base}?match%5Btype%5D=malware,indicator"),
        &app.officer,
    )
    .await;
    let mut got = ids(&types, "objects");
    got.sort();
    assert_eq!(got, [IND, MAL]);
    let (_, m, _) = taxii_get(
        &app,
        &format!(
            "/taxii2/vigil/collections/{INDICATORS_COLLECTION}/manifest/?match%5Bid%5D={AP}&match%5Bversion%5D=all"
        ),
        &app.officer,
    )
    .await;
    let versions: Vec<&str> = m["objects"]
        .as_array()
        .expect("manifest")
        .iter()
        .filter_map(|o| o["version"].as_str())
        .collect();
    assert_eq!(versions, [V1, "2021-06-01T12:30:00.123Z"]);

    // Paging across both stores: limit 2, every latest version once, in date_added order.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut last_added = String::new();
    loop {
        let path = match &next {
            Some(n) => format!("{base}?limit=2&next={n}"),
            None => format!("{base}?limit=2"),
        };
        let (s, env, h) = taxii_get(&app, &path, &app.officer).await;
        assert_eq!(s, StatusCode::OK, "{env}");
        assert!(env["objects"].as_array().map_or(0, Vec::len) <= 2);
        if let Some(first) = h.get("x-taxii-date-added-first") {
            let first = first.to_str().expect("header").to_string();
            assert!(first >= last_added, "pages in date_added order");
            last_added = h["x-taxii-date-added-last"]
                .to_str()
                .expect("header")
                .to_string();
        }
        seen.extend(ids(&env, "objects"));
        match env["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no object twice: {seen:?}");
    assert_eq!(seen.len(), 8, "7 objects and 1 indicator: {seen:?}");
    let (s, _, _) = taxii_get(&app, &format!("{base}?next=nonsense"), &app.officer).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = taxii_get(
        &app,
        &format!("{base}?match%5Bversion%5D=newest"),
        &app.officer,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Partners: every object POSTed is kept and read back from the partners collection.
    let obj = |id: &str, ty: &str, extra: Value| {
        let mut o = json!({"type": ty, "spec_version": "2.1", "id": id,
                           "created": "2026-02-01T00:00:00Z", "modified": "2026-02-01T00:00:00Z"});
        if let (Some(m), Some(e)) = (o.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        o
    };
    let pmal = "malware--5e6f7a8b-0000-4000-8000-000000000001";
    let ptool = "tool--5e6f7a8b-0000-4000-8000-000000000002";
    let prel = "relationship--5e6f7a8b-0000-4000-8000-000000000003";
    let env = json!({"objects": [
        obj(pmal, "malware", json!({"name": "PartnerRAT", "is_family": true})),
        obj(ptool, "tool", json!({"name": "PartnerTool"})),
        obj(prel, "relationship", json!({"relationship_type": "uses", "source_ref": pmal, "target_ref": ptool})),
    ]});
    let req = Request::builder()
        .method("POST")
        .uri(format!(
            "/taxii2/vigil/collections/{PARTNERS_COLLECTION}/objects/"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.analyst))
        .header(header::ACCEPT, TAXII_MEDIA)
        .header(header::CONTENT_TYPE, TAXII_MEDIA)
        .body(Body::from(env.to_string()))
        .expect("request");
    let (s, status, _) = app.send(req).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{status}");
    assert_eq!(status["success_count"], 3, "{status}");
    let (_, p, _) = taxii_get(
        &app,
        &format!("/taxii2/vigil/collections/{PARTNERS_COLLECTION}/objects/"),
        &app.officer,
    )
    .await;
    let mut got = ids(&p, "objects");
    got.sort();
    assert_eq!(got, [pmal, prel, ptool], "{p}");
}

/// The real ATT&CK Enterprise bundle through the import API: every object but the indicators
/// lands in the object store, and the techniques are found by their ATT&CK ids.
#[tokio::test]
async fn attack_enterprise_bundle_imports_through_the_api() {
    let Some(p) = vigil_testkit::shared_data(
        "stix-samples/enterprise-attack-v18-stix20-assembled.json",
        "attack_enterprise_bundle_imports_through_the_api",
    ) else {
        return;
    };
    let app = TestApp::new().await;
    let bytes = std::fs::read(&p).expect("bundle readable");
    let (s, r) = app
        .call(
            "POST",
            "/api/v1/intel/import?source=mitre-attack",
            Some(&app.analyst),
            Some(("application/json", bytes)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let read = r["summary"]["objects"].as_u64().expect("objects read");
    assert_eq!(read, 24_771, "the v18 Enterprise bundle");
    let stored = r["objects"]["inserted"].as_u64().expect("inserted")
        + r["objects"]["new_versions"].as_u64().expect("versions");
    let problems = r["problems_total"].as_u64().expect("problems");
    assert!(
        stored + problems >= read - 100,
        "nearly everything kept: {}",
        r["objects"]
    );
    assert!(
        r["objects"]["by_type"]["attack-pattern"].as_u64() > Some(600),
        "{}",
        r["objects"]["by_type"]
    );
    assert!(r["objects"]["by_type"]["relationship"].as_u64() > Some(10_000));
    assert!(r["objects"]["by_type"]["x-mitre-tactic"].as_u64() >= Some(14));
    let (_, l) = app
        .call(
            "GET",
            "/api/v1/intel/objects?q=T1059.001",
            Some(&app.officer),
            None,
        )
        .await;
    assert_eq!(l["items"][0]["object"]["name"], "PowerShell", "{l}");
    let id = l["items"][0]["stix_id"].as_str().expect("id").to_string();
    let (_, d) = app
        .call(
            "GET",
            &format!("/api/v1/intel/objects/{id}"),
            Some(&app.officer),
            None,
        )
        .await;
    let rels = d["relationships"].as_array().expect("relationships");
    assert!(
        rels.iter()
            .any(|r| r["relationship_type"] == "subtechnique-of"
                && r["object"]["attack_id"] == "T1059"),
        "PowerShell is a sub-technique of T1059"
    );
    assert!(
        rels.iter()
            .filter(|r| r["relationship_type"] == "uses" && r["object"]["type"] == "intrusion-set")
            .count()
            > 10
    );
}
