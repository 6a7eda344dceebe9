//! The aggregator against a real SQLite store in a temporary directory.

#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;
use vigil_model::{AlertSource, Importance, IncidentStatus, NewAlert, NewAsset, NewOrganization};
use vigil_store::{AuditQuery, IncidentQuery, IncidentUpdate, SqliteStore};

fn store() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().expect("tempdir");
    Arc::new(SqliteStore::open(dir.path()).expect("open").hold(dir))
}

fn org_spec(name: &str, cii: bool) -> NewOrganization {
    NewOrganization {
        cii,
        ..vigil_testkit::fixtures::org_spec(name)
    }
}

fn asset_spec(org: OrgId, name: &str) -> NewAsset {
    NewAsset {
        importance: Importance::High,
        ..vigil_testkit::fixtures::asset_spec(org, name)
    }
}

struct World {
    store: Arc<dyn Store>,
    org: Organization,
    web: Asset,
    db: Asset,
}

async fn world(cii: bool) -> World {
    let store = store();
    let org = store
        .create_org(org_spec("Hangzhou Power", cii))
        .await
        .unwrap();
    let assets = store
        .create_assets(
            Scope::All,
            vec![asset_spec(org.id, "web-01"), asset_spec(org.id, "db-01")],
        )
        .await
        .unwrap();
    World {
        store,
        org,
        web: assets[0].clone(),
        db: assets[1].clone(),
    }
}

impl World {
    /// An alert of the world's organization on web-01.
    fn on_web(&self, rule: &str, sev: Severity, at: &str) -> NewAlert {
        alert(self.org.id, Some(self.web.id), rule, sev, at)
    }

    /// An alert of the world's organization on db-01.
    fn on_db(&self, rule: &str, sev: Severity, at: &str) -> NewAlert {
        alert(self.org.id, Some(self.db.id), rule, sev, at)
    }

    /// Stores alerts as the pipeline would before aggregating them.
    async fn stored(&self, alerts: Vec<NewAlert>) -> Vec<Alert> {
        self.store.create_alerts(alerts).await.unwrap()
    }
}

fn alert(org: OrgId, asset: Option<AssetId>, rule: &str, sev: Severity, at: &str) -> NewAlert {
    NewAlert {
        org_id: org,
        asset_id: asset,
        source: AlertSource::Sigma,
        rule_id: rule.into(),
        title: format!("Rule {rule} fired"),
        severity: sev,
        category: None,
        detected_at: at.parse().unwrap(),
        event_ids: vec![],
        details: json!({}),
    }
}

fn aggregator(store: &Arc<dyn Store>) -> Aggregator {
    Aggregator::new(store.clone(), AggregatorConfig::defaults().unwrap()).unwrap()
}

async fn incidents(store: &Arc<dyn Store>, org: OrgId) -> Vec<Incident> {
    let mut items = store
        .list_incidents(
            Scope::Org(org),
            &IncidentQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    items.sort_by_key(|i| i.created_at);
    items
}

#[tokio::test]
async fn same_key_makes_one_incident_with_every_alert() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let first = w
        .stored(vec![
            w.on_web("r1", Severity::High, "2026-03-02T01:10:00Z"),
            w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z"),
        ])
        .await;
    let s = agg.aggregate(&first).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.created.len(), s.aggregated), (1, 2));
    let later = w
        .stored(vec![w.on_web(
            "r1",
            Severity::Critical,
            "2026-03-02T01:50:00Z",
        )])
        .await;
    let s = agg.aggregate(&later).await;
    assert!(s.created.is_empty());
    assert_eq!(s.attached_to.len(), 1);

    let all = incidents(&w.store, w.org.id).await;
    assert_eq!(all.len(), 1);
    let inc = &all[0];
    // Sorted by detection time: the earliest alert first, and the incident started then.
    assert_eq!(
        inc.spec.alert_ids,
        vec![first[1].id, first[0].id, later[0].id]
    );
    assert_eq!(inc.spec.asset_ids, vec![w.web.id]);
    assert_eq!(inc.spec.occurred_at, first[1].spec.detected_at);
    assert_eq!(inc.spec.title, "Rule r1 fired on web-01 (Hangzhou Power)");
    assert_eq!(inc.status, IncidentStatus::Open);
    let actions: Vec<&str> = inc.timeline.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(actions, ["created", "alerts_attached"]);
    assert_eq!(
        inc.timeline[1].note,
        format!("alert {} attached", later[0].id)
    );
    for a in first.iter().chain(&later) {
        let a = w.store.get_alert(Scope::All, a.id).await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.incident_id),
            (AlertStatus::Escalated, Some(inc.id))
        );
    }
    let audit = w
        .store
        .list_audit(&AuditQuery {
            actor: Some(ACTOR.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.record.action.as_str()).collect();
    assert_eq!(actions, ["incident.create", "incident.attach_alerts"]);
}

#[tokio::test]
async fn other_asset_family_or_window_make_separate_incidents() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let alerts = w
        .stored(vec![
            w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z"),
            w.on_db("r1", Severity::High, "2026-03-02T01:05:00Z"),
            w.on_web("r2", Severity::High, "2026-03-02T01:05:00Z"),
            w.on_web("r1", Severity::High, "2026-03-02T02:05:00Z"),
            alert(w.org.id, None, "r1", Severity::High, "2026-03-02T01:05:00Z"),
        ])
        .await;
    let s = agg.aggregate(&alerts).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.created.len(), 5);
    let all = incidents(&w.store, w.org.id).await;
    assert_eq!(all.len(), 5);
    for i in &all {
        assert_eq!(i.spec.alert_ids.len(), 1);
    }
    let unattributed = all.iter().find(|i| i.spec.asset_ids.is_empty()).unwrap();
    assert_eq!(unattributed.spec.title, "Rule r1 fired on Hangzhou Power");
}

#[tokio::test]
async fn a_closed_incident_is_not_reused() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let a = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z")])
        .await;
    let first = agg.aggregate(&a).await.created[0];
    w.store
        .update_incident(
            Scope::All,
            first,
            IncidentUpdate {
                status: Some(IncidentStatus::Closed),
                ..Default::default()
            },
            "user:alice",
        )
        .await
        .unwrap()
        .unwrap();
    let b = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:06:00Z")])
        .await;
    let s = agg.aggregate(&b).await;
    assert_eq!(s.created.len(), 1);
    assert_ne!(s.created[0], first);
    let closed = w
        .store
        .get_incident(Scope::All, first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.spec.alert_ids, vec![a[0].id]);
}

#[tokio::test]
async fn alerts_below_the_minimum_severity_are_left_alone() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let alerts = w
        .stored(vec![
            w.on_web("r1", Severity::Low, "2026-03-02T01:05:00Z"),
            w.on_web("r1", Severity::Info, "2026-03-02T01:06:00Z"),
        ])
        .await;
    let s = agg.aggregate(&alerts).await;
    assert_eq!((s.skipped, s.aggregated, s.created.len()), (2, 0, 0));
    assert!(incidents(&w.store, w.org.id).await.is_empty());
    let a = w
        .store
        .get_alert(Scope::All, alerts[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.status, a.incident_id), (AlertStatus::New, None));

    // A lower minimum takes them.
    let low = Aggregator::new(
        w.store.clone(),
        AggregatorConfig::new(DEFAULT_WINDOW, Severity::Low).unwrap(),
    )
    .unwrap();
    let s = low.aggregate(&alerts).await;
    assert_eq!((s.skipped, s.aggregated), (1, 1));
}

#[tokio::test]
async fn classification_comes_from_tags_then_the_suggestion_then_other() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let mut ransom = w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z");
    ransom.details = json!({"tags": ["attack.impact", "attack.t1486"]});
    let mut brute = w.on_web("r2", Severity::High, "2026-03-02T01:05:00Z");
    brute.category = Some("NACRED".into());
    let mut ioc = w.on_db("r3", Severity::High, "2026-03-02T01:05:00Z");
    ioc.details = json!({"indicator_type": "mining_pool"});
    let plain = w.on_db("r4", Severity::High, "2026-03-02T01:05:00Z");
    let alerts = w.stored(vec![ransom, brute, ioc, plain]).await;
    let s = agg.aggregate(&alerts).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let all = incidents(&w.store, w.org.id).await;
    let of = |id: AlertId| all.iter().find(|i| i.spec.alert_ids.contains(&id)).unwrap();
    let r = of(alerts[0].id);
    assert_eq!(
        (r.spec.category.as_str(), r.spec.subcategory.as_deref()),
        ("MP", Some("MPRANS"))
    );
    assert!(
        r.spec.description.contains("MPRANS from attack.t1486"),
        "{}",
        r.spec.description
    );
    let b = of(alerts[1].id);
    assert_eq!(
        (b.spec.category.as_str(), b.spec.subcategory.as_deref()),
        ("NA", Some("NACRED"))
    );
    let i = of(alerts[2].id);
    assert_eq!(i.spec.subcategory.as_deref(), Some("MPMINER"));
    let p = of(alerts[3].id);
    assert_eq!(
        (p.spec.category.as_str(), p.spec.subcategory.as_deref()),
        ("OTH", None)
    );
    assert!(p.spec.description.contains("an analyst should classify it"));
    // No threshold is reached without impact figures: 一般, and the description says why.
    assert_eq!(r.spec.grade, Grade::General);
    assert!(
        r.spec.description.contains("no threshold of"),
        "{}",
        r.spec.description
    );
}

/// Thresholds where any affected asset of a CII operator makes the incident 较大.
fn cii_thresholds() -> Thresholds {
    Thresholds::from_toml(
        r#"
version = "test-1"
[[rule]]
grade = "large"
factor = "affected_assets"
min = 1
cii = true
source = "test"
reason = "an asset of a CII operator affected"
"#,
    )
    .unwrap()
}

#[tokio::test]
async fn the_grade_is_raised_when_a_cii_asset_joins_and_never_lowered() {
    let w = world(false).await;
    let agg = aggregator(&w.store).with_thresholds(cii_thresholds());
    let a = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z")])
        .await;
    let id = agg.aggregate(&a).await.created[0];
    let inc = w.store.get_incident(Scope::All, id).await.unwrap().unwrap();
    assert_eq!(inc.spec.grade, Grade::General);

    // The organization is designated a CII operator: its assets now count as CII assets,
    // and the next alert re-grades the incident.
    let mut spec = w.org.spec.clone();
    spec.cii = true;
    w.store
        .update_org(Scope::All, w.org.id, spec.clone())
        .await
        .unwrap()
        .unwrap();
    let b = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:15:00Z")])
        .await;
    let s = agg.aggregate(&b).await;
    assert_eq!(s.raised, vec![id]);
    let inc = w.store.get_incident(Scope::All, id).await.unwrap().unwrap();
    assert_eq!(inc.spec.grade, Grade::Large);
    let last = inc.timeline.last().unwrap();
    assert_eq!(last.action, "grade:large");
    assert!(
        last.note
            .starts_with("general -> large: an asset of a CII operator affected"),
        "{}",
        last.note
    );
    let audit = w
        .store
        .list_audit(&AuditQuery {
            action_prefix: Some("incident.grade".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].record.object, format!("incident/{id}"));

    // The designation is withdrawn: a later alert does not lower the grade.
    spec.cii = false;
    w.store
        .update_org(Scope::All, w.org.id, spec)
        .await
        .unwrap()
        .unwrap();
    let c = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:25:00Z")])
        .await;
    let s = agg.aggregate(&c).await;
    assert!(s.raised.is_empty());
    let inc = w.store.get_incident(Scope::All, id).await.unwrap().unwrap();
    assert_eq!(inc.spec.grade, Grade::Large);
    assert_eq!(inc.spec.alert_ids.len(), 3);
}

#[tokio::test]
async fn the_recorded_impact_counts_when_alerts_join() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let a = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z")])
        .await;
    let id = agg.aggregate(&a).await.created[0];
    // Twelve million records leaked, recorded without re-grading (as an import would).
    w.store
        .set_incident_impact(
            Scope::All,
            id,
            vigil_store::ImpactUpdate {
                impact: vigil_model::IncidentImpact {
                    personal_records_leaked: Some(12_000_000),
                    ..Default::default()
                },
                ..Default::default()
            },
            "user:analyst",
        )
        .await
        .unwrap()
        .unwrap();
    let inc = w.store.get_incident(Scope::All, id).await.unwrap().unwrap();
    assert_eq!(inc.spec.grade, Grade::General);
    // The next alert re-grades with the impact: 重大.
    let b = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:15:00Z")])
        .await;
    let s = agg.aggregate(&b).await;
    assert_eq!(s.raised, vec![id]);
    let inc = w.store.get_incident(Scope::All, id).await.unwrap().unwrap();
    assert_eq!(inc.spec.grade, Grade::Major);
    let last = inc.timeline.last().unwrap();
    assert_eq!(last.action, "grade:major");
    assert!(last.note.contains("12000000"), "{}", last.note);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_of_one_key_make_one_incident() {
    let w = world(false).await;
    let agg = Arc::new(aggregator(&w.store));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (store, agg, org, web) = (w.store.clone(), agg.clone(), w.org.id, w.web.id);
        tasks.push(tokio::spawn(async move {
            let at = format!("2026-03-02T01:{:02}:00Z", i + 1);
            let alerts = store
                .create_alerts(vec![
                    alert(org, Some(web), "r1", Severity::High, &at),
                    alert(org, Some(web), "r1", Severity::High, &at),
                ])
                .await
                .unwrap();
            agg.aggregate(&alerts).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let s = t.await.unwrap();
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.aggregated, 2);
        created += s.created.len();
    }
    assert_eq!(created, 1);
    let all = incidents(&w.store, w.org.id).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].spec.alert_ids.len(), 24);
}

#[tokio::test]
async fn a_failing_group_does_not_stop_the_others() {
    let w = world(false).await;
    let agg = aggregator(&w.store);
    let good = w
        .stored(vec![w.on_web("r1", Severity::High, "2026-03-02T01:05:00Z")])
        .await;
    // An alert of an organization that no longer exists (as if deleted meanwhile).
    let mut ghost = good[0].clone();
    ghost.id = AlertId::new();
    ghost.spec.org_id = OrgId::new();
    let s = agg.aggregate(&[ghost, good[0].clone()]).await;
    assert_eq!(s.created.len(), 1);
    assert_eq!(s.errors.len(), 1);
    assert!(matches!(s.errors[0], AggregateError::MissingOrg(_)));
}

#[test]
fn keys_name_family_asset_and_window() {
    let org = OrgId::new();
    let asset = AssetId::new();
    let gk = GroupKey {
        org_id: org,
        asset_id: Some(asset),
        rule_family: "NACRED".into(),
        window_start: "2026-03-02T01:00:00Z".parse().unwrap(),
    };
    assert_eq!(
        key_string(&gk),
        format!("NACRED|{asset}|2026-03-02T01:00:00Z")
    );
    let long = GroupKey {
        rule_family: "x".repeat(1000),
        asset_id: None,
        ..gk
    };
    assert!(key_string(&long).chars().count() <= 500);
}
