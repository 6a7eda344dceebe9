//! The backend conformance suite: one set of tests every [`Store`] implementation must pass.
//!
//! Each test is a public async function taking an `Arc<dyn Store>`; [`store_conformance!`]
//! turns them into `#[tokio::test]`s for one backend:
//!
//! ```text
//! async fn open_store() -> Option<Arc<dyn Store>> { /* None skips */ }
//! vigil_store::store_conformance!(sqlite_conformance, open_store());
//! ```
//!
//! The factory expression is evaluated once per test and must yield
//! `Option<Arc<dyn Store>>`; `None` skips the test (PostgreSQL when `VIGIL_TEST_POSTGRES_URL`
//! is unset). Every test creates its own uniquely named organizations, users and secrets, so
//! tests may share one database; the counts a test asserts are always within its own
//! organizations' scope, except where a test says it needs a database of its own
//! (`events_*`, `audit_*`: retention deletes by time only, and the audit chain is global).
//!
//! Contract points the suite pins down beyond the trait docs:
//! - Times are stored to the microsecond; create calls return what a later read returns.
//! - Alert and incident lists, and their `from`/`to` filters, go by `created_at`.
//! - Assets list newest first by `created_at`, then id, with cursors like the other lists.
//! - `overview`: events (by event time), alerts and incidents (by creation) count from
//!   `since`; `organizations` and `assets` count the whole inventory in scope.
//! - `update_incident` records a change only when the value differs.

#![allow(clippy::unwrap_used)]

use crate::{
    AlertQuery, AssetQuery, AuditQuery, Cursor, EventQuery, FieldFilter, IncidentQuery,
    IncidentUpdate, IndicatorId, IndicatorQuery, IntelSource, IntelSourceId, NewIndicator,
    NewIntelSource, NewSighting, OrgQuery, Session, SightingQuery, Store, StoreError,
};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use vigil_model::{
    AlertSource, AlertStatus, ApiToken, AssetKind, AuditOutcome, Contact, Event, EventId, Grade,
    Importance, IncidentStatus, Locale, MiitEnterpriseType, NewAlert, NewAsset, NewAuditRecord,
    NewEvent, NewIncident, NewOrganization, NewUser, OrgId, Organization, Provenance, Role, Scope,
    Timestamp, TokenId, UserId,
};

/// Instantiates the conformance suite for one backend: a module `$name` with one
/// `#[tokio::test]` per suite function. `$factory` is an expression evaluating to a future of
/// `Option<Arc<dyn Store>>`, evaluated afresh for every test (`None` skips it). The calling
/// crate needs `tokio` (with `macros` and `rt-multi-thread`) as a (dev-)dependency.
#[macro_export]
macro_rules! store_conformance {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance!(@tests $factory;
                orgs_crud_unique_names_and_delete_rules,
                org_delete_takes_events_alerts_and_incidents,
                assets_crud_filters_and_pagination,
                isolation_between_organizations,
                events_append_search_and_paginate,
                events_retention,
                alerts_lifecycle,
                incidents_lifecycle,
                incident_updates_check_the_expected_status,
                overview_counts,
                users,
                tokens,
                sessions,
                audit_chain,
                bad_cursors_are_rejected,
                intel_sources_upsert_by_name,
                indicators_upsert_is_idempotent_and_newer_wins,
                indicators_filters_and_pagination,
                indicators_revoke_and_delete,
                sightings_are_scoped,
                warning_targets_resolve_from_directory_and_assets,
                warnings_are_scoped_and_acknowledged_once,
                incident_aggregation_by_key,
                aggregated_creates_race_to_one_incident,
                notifications_outbox_claims_and_outcomes,
                notifications_are_listed_by_scope,
                incident_entries_are_added_once,
                warning_reminders_are_marked_once,
                evidence_files_keep_their_digest_and_scope,
                filed_reports_are_numbered_hashed_and_scoped,
                incident_impact_is_recorded_and_raises_the_grade,
                taxii_feed_state_and_statuses_persist,
                indicator_batches_get_strictly_increasing_date_added,
                stix_objects_keep_versions_dedup_relations_and_page_by_date_added,
                intel_source_settings_and_counts,
                intel_indicator_search_filters,
                intel_imports_are_recorded,
                edl_lists_put_list_and_delete,
                pipeline_sources_put_list_and_delete,
                dead_letters_are_stored_searched_scoped_and_pruned,
                indicators_for_matching_pages_only_what_can_match,
                indicator_versions_keep_every_replaced_version,
            );
        }
    };
    (@tests $factory:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let store: ::std::option::Option<::std::sync::Arc<dyn $crate::Store>> =
                    $factory.await;
                let ::std::option::Option::Some(store) = store else {
                    return;
                };
                $crate::testsuite::$test(store).await;
            }
        )*
    };
}

type S = Arc<dyn Store>;

mod warnings;
pub use warnings::{
    warning_targets_resolve_from_directory_and_assets, warnings_are_scoped_and_acknowledged_once,
};

mod aggregation;
pub use aggregation::{aggregated_creates_race_to_one_incident, incident_aggregation_by_key};

mod notify;
pub use notify::{notifications_are_listed_by_scope, notifications_outbox_claims_and_outcomes};

mod sealed;
pub use sealed::{
    SealedHarness, contact_fields_are_encrypted_at_rest,
    pipeline_source_passwords_are_encrypted_at_rest,
};

mod evidence;
pub use evidence::evidence_files_keep_their_digest_and_scope;

mod filed_reports;
pub use filed_reports::filed_reports_are_numbered_hashed_and_scoped;

mod impact;
pub use impact::incident_impact_is_recorded_and_raises_the_grade;

mod pipeline_sources;
pub use pipeline_sources::pipeline_sources_put_list_and_delete;

mod dead_letters;
pub use dead_letters::dead_letters_are_stored_searched_scoped_and_pruned;

mod taxii;
pub use taxii::{
    indicator_batches_get_strictly_increasing_date_added, taxii_feed_state_and_statuses_persist,
};

mod stix;
pub use stix::stix_objects_keep_versions_dedup_relations_and_page_by_date_added;

mod intel_admin;
pub use intel_admin::{
    edl_lists_put_list_and_delete, intel_imports_are_recorded, intel_indicator_search_filters,
    intel_source_settings_and_counts,
};

mod intel_match;
pub use intel_match::indicators_for_matching_pages_only_what_can_match;

mod indicator_versions;
pub use indicator_versions::indicator_versions_keep_every_replaced_version;

mod reminders;
pub use reminders::{incident_entries_are_added_once, warning_reminders_are_marked_once};

/// A short string no other test (or run) uses.
fn uniq() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn secs(base: Timestamp, s: i64) -> Timestamp {
    base.checked_add(jiff::SignedDuration::from_secs(s))
        .expect("time in range")
}

/// Now, at storage precision.
fn now() -> Timestamp {
    Timestamp::from_microsecond(Timestamp::now().as_microsecond()).expect("now")
}

fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        name: name.to_string(),
        uscc: Some("91350100M000100Y43".into()),
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: Some(MiitEnterpriseType::NetworkedIndustrial),
        miit_grade: Some(2),
        responsible: Contact {
            name: "Li Wei".into(),
            title: Some("CISO".into()),
            phone: Some("+86 571 0000 0000".into()),
            email: Some("li.wei@example.cn".into()),
        },
        contacts: vec![Contact {
            name: "Wang Fang".into(),
            email: Some("wang.fang@example.cn".into()),
            ..Contact::default()
        }],
    }
}

async fn new_org(store: &S, label: &str) -> Organization {
    store
        .create_org(org_spec(&format!("{label} {}", uniq())))
        .await
        .expect("create org")
}

fn asset_spec(org: OrgId, name: &str, kind: AssetKind) -> NewAsset {
    NewAsset {
        org_id: org,
        name: name.to_string(),
        kind,
        importance: Importance::Medium,
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

fn plc(org: OrgId) -> NewAsset {
    NewAsset {
        importance: Importance::Critical,
        ips: vec!["10.20.3.15".parse().expect("ip")],
        hostnames: vec!["plc-3.plant.local".into()],
        macs: vec!["00:1d:9c:c7:b0:70".into()],
        vendor: Some("Siemens".into()),
        model: Some("S7-1500".into()),
        firmware: Some("V2.9.4".into()),
        software: vec![vigil_model::SoftwareComponent {
            name: "openssl".into(),
            version: Some("1.1.1k".into()),
            purl: Some("pkg:generic/openssl@1.1.1k".into()),
            cpe: Some("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*".into()),
        }],
        responsible: Some(Contact {
            name: "Zhao Lei".into(),
            ..Contact::default()
        }),
        tags: vec!["ics".into(), "line-3".into()],
        ..asset_spec(org, "Line 3 PLC", AssetKind::Plc)
    }
}

fn simple_event(org: OrgId, ts: Timestamp, msg: &str) -> NewEvent {
    let mut fields = BTreeMap::new();
    fields.insert("message".to_string(), json!(msg));
    fields.insert("event.action".to_string(), json!("test"));
    NewEvent {
        org_id: org,
        asset_id: None,
        timestamp: ts,
        received_at: ts,
        provenance: Provenance {
            input: "test".into(),
            sender: None,
        },
        fields,
        native: BTreeMap::new(),
        raw: msg.as_bytes().to_vec(),
    }
}

fn alert_spec(org: OrgId, title: &str, severity: vigil_model::Severity) -> NewAlert {
    NewAlert {
        org_id: org,
        asset_id: None,
        source: AlertSource::Sigma,
        rule_id: "5f1abf38-3f4c-4bba-8f5d-4c6a9e0d3c11".into(),
        title: title.to_string(),
        severity,
        category: Some("NACRED".into()),
        detected_at: at("2026-02-01T08:00:00.123456Z"),
        event_ids: vec![1, 2, 3],
        details: json!({"rule": "brute force", "count": 31}),
    }
}

fn incident_spec(org: OrgId, title: &str, category: &str, sub: Option<&str>) -> NewIncident {
    NewIncident {
        org_id: org,
        title: title.to_string(),
        description: "found by the night shift".into(),
        category: category.to_string(),
        subcategory: sub.map(str::to_string),
        grade: Grade::Large,
        asset_ids: vec![],
        alert_ids: vec![],
        occurred_at: at("2026-02-01T07:59:00.5Z"),
    }
}

fn by_org(org: OrgId) -> AssetQuery {
    AssetQuery {
        org_id: Some(org),
        limit: 1000,
        ..AssetQuery::default()
    }
}

/// Every item of a paged list, following cursors; fails on a page loop.
macro_rules! all_pages {
    ($fetch:expr) => {{
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0usize;
        loop {
            let page = $fetch(cursor.clone()).await.expect("page");
            pages += 1;
            assert!(pages < 10_000, "pagination does not end");
            items.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        (items, pages)
    }};
}

// ---------------------------------------------------------------------------------------------
// Organizations

pub async fn orgs_crud_unique_names_and_delete_rules(store: S) {
    let tag = uniq();
    let spec = org_spec(&format!("Zhejiang Grid {tag}"));
    let org = store.create_org(spec.clone()).await.expect("create");
    assert_eq!(org.spec, spec);
    assert_eq!(org.created_at, org.updated_at);
    assert_eq!(
        store.get_org(Scope::All, org.id).await.expect("get"),
        Some(org.clone())
    );
    assert_eq!(
        store
            .get_org(Scope::Org(org.id), org.id)
            .await
            .expect("get"),
        Some(org.clone())
    );
    assert_eq!(
        store.get_org(Scope::All, OrgId::new()).await.expect("get"),
        None
    );

    // Names are unique.
    let dup = store.create_org(spec.clone()).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // Invalid specs name their field.
    let mut bad = org_spec(&format!("Bad {tag}"));
    bad.region_code = "999999".into();
    match store.create_org(bad).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "region_code"),
        other => panic!("expected invalid, got {other:?}"),
    }

    // Filters.
    let mut water = org_spec(&format!("Hangzhou Water {tag}"));
    water.sector = "water".into();
    water.region_code = "330200".into();
    water.mlps_level = 2;
    water.cii = false;
    water.miit_type = None;
    water.miit_grade = None;
    let water = store.create_org(water).await.expect("water");
    let mut beijing = org_spec(&format!("Beijing Metro {tag}"));
    beijing.region_code = "110000".into();
    beijing.uscc = None;
    let beijing = store.create_org(beijing).await.expect("beijing");
    let names = |orgs: Vec<Organization>| {
        let mut v: Vec<OrgId> = orgs.into_iter().map(|o| o.id).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<OrgId>| {
        v.sort();
        v
    };
    let q = |f: &dyn Fn(&mut OrgQuery)| {
        let mut q = OrgQuery {
            text: Some(tag.to_uppercase()),
            ..OrgQuery::default()
        };
        f(&mut q);
        q
    };
    let all = store
        .list_orgs(Scope::All, &q(&|_| {}))
        .await
        .expect("list");
    assert_eq!(names(all), sorted(vec![org.id, water.id, beijing.id]));
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.text = Some(format!("water {tag}"))))
        .await
        .expect("list");
    assert_eq!(names(got), vec![water.id]);
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.sector = Some("power".into())))
        .await
        .expect("list");
    assert_eq!(names(got), sorted(vec![org.id, beijing.id]));
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.region_prefix = Some("33".into())))
        .await
        .expect("list");
    assert_eq!(names(got), sorted(vec![org.id, water.id]));
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.region_prefix = Some("3301".into())))
        .await
        .expect("list");
    assert_eq!(names(got), vec![org.id]);
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.mlps_level = Some(2)))
        .await
        .expect("list");
    assert_eq!(names(got), vec![water.id]);
    let got = store
        .list_orgs(Scope::All, &q(&|q| q.cii = Some(true)))
        .await
        .expect("list");
    assert_eq!(names(got), sorted(vec![org.id, beijing.id]));
    let got = store
        .list_orgs(Scope::Org(water.id), &q(&|_| {}))
        .await
        .expect("list");
    assert_eq!(names(got), vec![water.id]);

    // Update.
    let mut changed = spec.clone();
    changed.name = format!("State Grid Zhejiang {tag}");
    changed.mlps_level = 4;
    changed.contacts.clear();
    let updated = store
        .update_org(Scope::All, org.id, changed.clone())
        .await
        .expect("update")
        .expect("found");
    assert_eq!(updated.id, org.id);
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.created_at, org.created_at);
    assert!(updated.updated_at >= org.updated_at);
    assert_eq!(
        store.get_org(Scope::All, org.id).await.expect("get"),
        Some(updated.clone())
    );
    let mut clash = changed.clone();
    clash.name = water.spec.name.clone();
    let r = store.update_org(Scope::All, org.id, clash).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(
        store
            .update_org(Scope::All, OrgId::new(), changed.clone())
            .await
            .expect("update"),
        None
    );

    // Delete is refused while assets or users belong to the organization.
    let asset = store
        .create_assets(
            Scope::All,
            vec![asset_spec(org.id, "mail server", AssetKind::Host)],
        )
        .await
        .expect("asset")
        .remove(0);
    let r = store.delete_org(Scope::All, org.id).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert!(store.delete_asset(Scope::All, asset.id).await.expect("del"));
    let user = store
        .create_user(
            NewUser {
                username: format!("officer-{tag}"),
                display_name: "Officer".into(),
                role: Role::OrgUser,
                org_id: Some(water.id),
                locale: Locale::ZhCn,
            },
            "hash".into(),
        )
        .await
        .expect("user");
    let r = store.delete_org(Scope::All, water.id).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert!(
        store
            .get_org(Scope::All, water.id)
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(user.spec.org_id, Some(water.id));

    assert!(store.delete_org(Scope::All, org.id).await.expect("delete"));
    assert_eq!(store.get_org(Scope::All, org.id).await.expect("get"), None);
    assert!(
        !store
            .delete_org(Scope::All, org.id)
            .await
            .expect("delete again")
    );
    // The name is free again.
    store.create_org(changed).await.expect("name reusable");
}

pub async fn org_delete_takes_events_alerts_and_incidents(store: S) {
    let org = new_org(&store, "Short-lived").await;
    let keep = new_org(&store, "Survivor").await;
    let t = at("2026-02-02T00:00:00Z");
    let ids = store
        .append_events(vec![
            simple_event(org.id, t, "gone"),
            simple_event(keep.id, t, "kept"),
        ])
        .await
        .expect("events");
    let alert = store
        .create_alerts(vec![alert_spec(org.id, "gone", vigil_model::Severity::Low)])
        .await
        .expect("alert")
        .remove(0);
    let mut spec = incident_spec(org.id, "gone", "MP", None);
    spec.alert_ids = vec![alert.id];
    let inc = store
        .create_incident(spec, "user:t")
        .await
        .expect("incident");
    assert!(store.delete_org(Scope::All, org.id).await.expect("delete"));
    assert_eq!(
        store.get_event(Scope::All, ids[0]).await.expect("get"),
        None
    );
    assert!(
        store
            .get_event(Scope::All, ids[1])
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        store.get_alert(Scope::All, alert.id).await.expect("get"),
        None
    );
    assert_eq!(
        store.get_incident(Scope::All, inc.id).await.expect("get"),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Assets

pub async fn assets_crud_filters_and_pagination(store: S) {
    let org = new_org(&store, "Ningbo Port").await;
    let mut site = asset_spec(org.id, "Portal", AssetKind::Website);
    site.domains = vec!["portal.example.cn".into()];
    site.urls = vec!["https://portal.example.cn/login".into()];
    site.importance = Importance::High;
    let mut host = asset_spec(org.id, "Build box", AssetKind::Host);
    host.importance = Importance::Low;
    host.cidrs = vec!["192.168.10.0/24".parse().expect("cidr")];
    let specs = vec![plc(org.id), site.clone(), host.clone()];
    let created = store
        .create_assets(Scope::Org(org.id), specs.clone())
        .await
        .expect("create");
    assert_eq!(created.len(), 3);
    for (a, s) in created.iter().zip(&specs) {
        assert_eq!(&a.spec, s);
        assert_eq!(
            store.get_asset(Scope::All, a.id).await.expect("get"),
            Some(a.clone())
        );
    }
    let (plc_a, site_a, host_a) = (&created[0], &created[1], &created[2]);

    let ids = |q: AssetQuery| {
        let store = store.clone();
        async move {
            let mut v: Vec<_> = store
                .list_assets(Scope::All, &q)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|a| a.id)
                .collect();
            v.sort();
            v
        }
    };
    let sorted = |mut v: Vec<vigil_model::AssetId>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(by_org(org.id)).await,
        sorted(vec![plc_a.id, site_a.id, host_a.id])
    );
    assert_eq!(
        ids(AssetQuery {
            kind: Some(AssetKind::Plc),
            ..by_org(org.id)
        })
        .await,
        vec![plc_a.id]
    );
    assert_eq!(
        ids(AssetQuery {
            industrial: Some(true),
            ..by_org(org.id)
        })
        .await,
        vec![plc_a.id]
    );
    assert_eq!(
        ids(AssetQuery {
            industrial: Some(false),
            ..by_org(org.id)
        })
        .await,
        sorted(vec![site_a.id, host_a.id])
    );
    assert_eq!(
        ids(AssetQuery {
            importance: Some(Importance::Low),
            ..by_org(org.id)
        })
        .await,
        vec![host_a.id]
    );
    for (text, want) in [
        ("siemens", plc_a.id),
        ("PLANT.LOCAL", plc_a.id),
        ("10.20.3", plc_a.id),
        ("s7-1500", plc_a.id),
        ("portal.EXAMPLE", site_a.id),
        ("build BOX", host_a.id),
    ] {
        assert_eq!(
            ids(AssetQuery {
                text: Some(text.into()),
                ..by_org(org.id)
            })
            .await,
            vec![want],
            "text {text}"
        );
    }

    // Pagination, newest first, no duplicates or gaps.
    for i in 0..7 {
        store
            .create_assets(
                Scope::All,
                vec![asset_spec(org.id, &format!("host {i}"), AssetKind::Host)],
            )
            .await
            .expect("more");
    }
    let (items, pages) = all_pages!(|cursor| {
        let store = store.clone();
        async move {
            store
                .list_assets(
                    Scope::All,
                    &AssetQuery {
                        org_id: Some(org.id),
                        limit: 3,
                        cursor,
                        ..AssetQuery::default()
                    },
                )
                .await
        }
    });
    assert_eq!(pages, 4);
    assert_eq!(items.len(), 10);
    let unique: HashSet<_> = items.iter().map(|a| a.id).collect();
    assert_eq!(unique.len(), 10);
    for w in items.windows(2) {
        assert!(
            (w[0].created_at, w[0].id) > (w[1].created_at, w[1].id),
            "assets not newest first"
        );
    }

    // Update.
    let mut changed = host.clone();
    changed.name = "Build server".into();
    changed.importance = Importance::High;
    changed.vendor = Some("Inspur".into());
    let updated = store
        .update_asset(Scope::Org(org.id), host_a.id, changed.clone())
        .await
        .expect("update")
        .expect("found");
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.created_at, host_a.created_at);
    assert!(updated.updated_at >= host_a.updated_at);
    assert_eq!(
        store.get_asset(Scope::All, host_a.id).await.expect("get"),
        Some(updated)
    );
    assert_eq!(
        store
            .update_asset(Scope::All, vigil_model::AssetId::new(), changed.clone())
            .await
            .expect("update"),
        None
    );
    let mut to_nowhere = changed.clone();
    to_nowhere.org_id = OrgId::new();
    let r = store.update_asset(Scope::All, host_a.id, to_nowhere).await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    // Validation and references: all or nothing.
    let mut bad = plc(org.id);
    bad.macs = vec!["00:1d".into()];
    match store.create_assets(Scope::All, vec![bad]).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "macs[0]"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let r = store
        .create_assets(
            Scope::All,
            vec![
                asset_spec(org.id, "fine", AssetKind::Host),
                asset_spec(OrgId::new(), "orphan", AssetKind::Host),
            ],
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    assert_eq!(ids(by_org(org.id)).await.len(), 10);

    // all_assets sees them.
    let all: HashSet<_> = store
        .all_assets()
        .await
        .expect("all")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(all.contains(&plc_a.id) && all.contains(&host_a.id));

    // Delete.
    assert!(
        store
            .delete_asset(Scope::All, site_a.id)
            .await
            .expect("delete")
    );
    assert_eq!(
        store.get_asset(Scope::All, site_a.id).await.expect("get"),
        None
    );
    assert!(
        !store
            .delete_asset(Scope::All, site_a.id)
            .await
            .expect("again")
    );
}

// ---------------------------------------------------------------------------------------------
// Isolation

pub async fn isolation_between_organizations(store: S) {
    let a = new_org(&store, "Tenant A").await;
    let b = new_org(&store, "Tenant B").await;
    let sa = Scope::Org(a.id);

    // Organizations.
    assert!(store.get_org(sa, b.id).await.expect("get").is_none());
    let listed: Vec<_> = store
        .list_orgs(sa, &OrgQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, vec![a.id]);
    let mut renamed = b.spec.clone();
    renamed.name = format!("Hijacked {}", uniq());
    assert!(
        store
            .update_org(sa, b.id, renamed)
            .await
            .expect("update")
            .is_none()
    );
    assert!(!store.delete_org(sa, b.id).await.expect("delete"));
    assert_eq!(
        store.get_org(Scope::All, b.id).await.expect("get"),
        Some(b.clone())
    );

    // Assets.
    let asset_a = store
        .create_assets(sa, vec![asset_spec(a.id, "a host", AssetKind::Host)])
        .await
        .expect("a asset")
        .remove(0);
    let asset_b = store
        .create_assets(
            Scope::Org(b.id),
            vec![asset_spec(b.id, "b host", AssetKind::Host)],
        )
        .await
        .expect("b asset")
        .remove(0);
    let r = store
        .create_assets(sa, vec![asset_spec(b.id, "smuggled", AssetKind::Host)])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let r = store
        .create_assets(
            sa,
            vec![
                asset_spec(a.id, "fine", AssetKind::Host),
                asset_spec(b.id, "smuggled", AssetKind::Host),
            ],
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    assert!(
        store
            .get_asset(sa, asset_b.id)
            .await
            .expect("get")
            .is_none()
    );
    let page = store
        .list_assets(sa, &AssetQuery::default())
        .await
        .expect("list");
    assert_eq!(
        page.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![asset_a.id]
    );
    let page = store
        .list_assets(
            sa,
            &AssetQuery {
                org_id: Some(b.id),
                ..AssetQuery::default()
            },
        )
        .await
        .expect("list");
    assert!(page.items.is_empty());
    assert!(
        store
            .update_asset(sa, asset_b.id, asset_spec(b.id, "x", AssetKind::Host))
            .await
            .expect("update")
            .is_none()
    );
    // No moving an own asset out of the scope.
    let r = store
        .update_asset(sa, asset_a.id, asset_spec(b.id, "moved", AssetKind::Host))
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    assert!(!store.delete_asset(sa, asset_b.id).await.expect("delete"));
    assert_eq!(
        store.get_asset(Scope::All, asset_b.id).await.expect("get"),
        Some(asset_b.clone())
    );
    assert_eq!(
        store
            .get_asset(Scope::All, asset_a.id)
            .await
            .expect("get")
            .map(|x| x.spec.org_id),
        Some(a.id)
    );

    // Events.
    let t = at("2026-02-03T10:00:00Z");
    let ev = store
        .append_events(vec![
            simple_event(a.id, t, "a event"),
            simple_event(b.id, t, "b event"),
        ])
        .await
        .expect("events");
    assert!(store.get_event(sa, ev[0]).await.expect("get").is_some());
    assert!(store.get_event(sa, ev[1]).await.expect("get").is_none());
    let found = store
        .search_events(sa, &EventQuery::default())
        .await
        .expect("search");
    assert_eq!(
        found.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ev[0]]
    );
    let found = store
        .search_events(
            sa,
            &EventQuery {
                org_id: Some(b.id),
                ..EventQuery::default()
            },
        )
        .await
        .expect("search");
    assert!(found.items.is_empty());

    // Alerts.
    let alerts = store
        .create_alerts(vec![
            alert_spec(a.id, "a alert", vigil_model::Severity::High),
            alert_spec(b.id, "b alert", vigil_model::Severity::High),
        ])
        .await
        .expect("alerts");
    let (alert_a, alert_b) = (&alerts[0], &alerts[1]);
    assert!(
        store
            .get_alert(sa, alert_b.id)
            .await
            .expect("get")
            .is_none()
    );
    let page = store
        .list_alerts(sa, &AlertQuery::default())
        .await
        .expect("list");
    assert_eq!(
        page.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![alert_a.id]
    );
    assert!(
        store
            .set_alert_status(sa, alert_b.id, AlertStatus::Closed, None)
            .await
            .expect("status")
            .is_none()
    );
    assert_eq!(
        store
            .get_alert(Scope::All, alert_b.id)
            .await
            .expect("get")
            .map(|x| x.status),
        Some(AlertStatus::New)
    );

    // Incidents.
    let inc_b = store
        .create_incident(incident_spec(b.id, "b incident", "MP", None), "user:b")
        .await
        .expect("incident");
    let inc_a = store
        .create_incident(incident_spec(a.id, "a incident", "MP", None), "user:a")
        .await
        .expect("incident");
    assert!(
        store
            .get_incident(sa, inc_b.id)
            .await
            .expect("get")
            .is_none()
    );
    let page = store
        .list_incidents(sa, &IncidentQuery::default())
        .await
        .expect("list");
    assert_eq!(
        page.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![inc_a.id]
    );
    let change = IncidentUpdate {
        status: Some(IncidentStatus::Closed),
        comment: Some("not yours".into()),
        ..IncidentUpdate::default()
    };
    assert!(
        store
            .update_incident(sa, inc_b.id, change, "user:a")
            .await
            .expect("update")
            .is_none()
    );
    assert_eq!(
        store.get_incident(Scope::All, inc_b.id).await.expect("get"),
        Some(inc_b.clone())
    );
    // An incident of one organization cannot take another's alert.
    let mut spec = incident_spec(a.id, "grab", "MP", None);
    spec.alert_ids = vec![alert_b.id];
    let r = store.create_incident(spec, "user:a").await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    // Users and tokens.
    let tag = uniq();
    let officer = |org: OrgId, name: String| NewUser {
        username: name,
        display_name: String::new(),
        role: Role::OrgUser,
        org_id: Some(org),
        locale: Locale::En,
    };
    let ua = store
        .create_user(officer(a.id, format!("a-{tag}")), "h".into())
        .await
        .expect("user a");
    store
        .create_user(officer(b.id, format!("b-{tag}")), "h".into())
        .await
        .expect("user b");
    let users: Vec<_> = store
        .list_users(sa)
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(users, vec![ua.id]);
    let token = |org: OrgId| ApiToken {
        id: TokenId::new(),
        name: format!("sensor-{}", uniq()),
        role: Role::OrgUser,
        org_id: Some(org),
        created_by: "admin".into(),
        created_at: now(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    let (ta, tb) = (token(a.id), token(b.id));
    store
        .create_token(ta.clone(), format!("hash-{}", uniq()))
        .await
        .expect("token a");
    let tb_hash = format!("hash-{}", uniq());
    store
        .create_token(tb.clone(), tb_hash.clone())
        .await
        .expect("token b");
    let tokens: Vec<_> = store
        .list_tokens(sa)
        .await
        .expect("tokens")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(tokens, vec![ta.id]);
    assert!(!store.revoke_token(sa, tb.id, now()).await.expect("revoke"));
    assert_eq!(
        store
            .find_token(&tb_hash)
            .await
            .expect("find")
            .and_then(|t| t.revoked_at),
        None
    );

    // The overview of one tenant counts only its own records.
    let o = store
        .overview(sa, at("2000-01-01T00:00:00Z"))
        .await
        .expect("overview");
    assert_eq!(o.organizations, 1);
    assert_eq!(o.assets, 1);
    assert_eq!(o.events, 1);
    assert_eq!(o.new_alerts, 1);
    assert_eq!(o.open_incidents, 1);
    assert_eq!(
        o.top_orgs_open_incidents,
        vec![(a.id, a.spec.name.clone(), 1)]
    );
}

// ---------------------------------------------------------------------------------------------
// Events

/// The event the events test appends as number `i` (2,500 of them, three per second).
fn numbered_event(org: OrgId, asset: vigil_model::AssetId, base: Timestamp, i: i64) -> NewEvent {
    let ts = secs(base, i / 3);
    let mut fields = BTreeMap::new();
    let category = if i % 2 == 0 {
        "authentication"
    } else {
        "network"
    };
    fields.insert("event.category".to_string(), json!(category));
    let action = if i % 5 == 0 {
        "logon-failed"
    } else {
        "connection"
    };
    fields.insert("event.action".to_string(), json!(action));
    fields.insert(
        "source.ip".to_string(),
        json!(format!("203.0.113.{}", i % 250)),
    );
    let port = if i % 4 == 0 { 502 } else { 443 };
    fields.insert("destination.port".to_string(), json!(port));
    fields.insert("host.name".to_string(), json!(format!("plc-{}", i % 10)));
    fields.insert("source.port".to_string(), json!(40_000 + i % 7));
    fields.insert("labels.zone".to_string(), json!(format!("zone-{}", i % 3)));
    fields.insert("tls.established".to_string(), json!(i % 2 == 0));
    fields.insert("tags".to_string(), json!(["ics", "modbus"]));
    let raw = match i % 10 {
        0 => {
            let m = format!("User ADMIN NeEdLe login #{i} from 203.0.113.7");
            fields.insert("message".to_string(), json!(m));
            format!("<38>Mar  1 00:00:00 plc sshd: {m}")
        }
        // No message field: free text looks at the raw line.
        5 => format!("<38>Mar  1 00:00:00 plc kernel: needle-in-raw #{i}"),
        _ => {
            let m = format!("ordinary event {i}");
            fields.insert("message".to_string(), json!(m));
            format!("<38>Mar  1 00:00:00 plc app: {m}")
        }
    };
    let mut native = BTreeMap::new();
    if i % 2 == 0 {
        native.insert("EventID".to_string(), json!(4625));
        native.insert("Channel".to_string(), json!("Security"));
    }
    NewEvent {
        org_id: org,
        asset_id: (i % 2 == 0).then_some(asset),
        timestamp: ts,
        received_at: secs(ts, 1),
        provenance: Provenance {
            input: "syslog-tcp".into(),
            sender: (i % 3 == 0).then(|| "10.0.0.5:514".to_string()),
        },
        fields,
        native,
        raw: raw.into_bytes(),
    }
}

async fn search_all(store: &S, scope: Scope, q: EventQuery) -> Vec<Event> {
    let (items, _) = all_pages!(|cursor| {
        let store = store.clone();
        let q = EventQuery {
            cursor,
            limit: 1000,
            ..q.clone()
        };
        async move { store.search_events(scope, &q).await }
    });
    items
}

pub async fn events_append_search_and_paginate(store: S) {
    const N: i64 = 2_500;
    let org = new_org(&store, "Events").await;
    let other = new_org(&store, "Events other").await;
    let asset = store
        .create_assets(Scope::All, vec![plc(org.id)])
        .await
        .expect("asset")
        .remove(0);
    let base = at("2026-03-01T00:00:00.000001Z");
    let inputs: Vec<NewEvent> = (0..N)
        .map(|i| numbered_event(org.id, asset.id, base, i))
        .collect();
    let mut ids: Vec<EventId> = Vec::new();
    for chunk in inputs.chunks(500) {
        let got = store.append_events(chunk.to_vec()).await.expect("append");
        assert_eq!(got.len(), chunk.len());
        ids.extend(got);
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids must increase in input order"
    );
    let other_ids = store
        .append_events(
            (0..50)
                .map(|i| simple_event(other.id, secs(base, i), "other needle"))
                .collect(),
        )
        .await
        .expect("append other");
    assert_eq!(
        store.append_events(vec![]).await.expect("empty"),
        Vec::<EventId>::new()
    );
    let r = store
        .append_events(vec![simple_event(OrgId::new(), base, "orphan")])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    // Round trip.
    for i in [0usize, 5, 7, 2_499] {
        let got = store
            .get_event(Scope::Org(org.id), ids[i])
            .await
            .expect("get")
            .expect("found");
        assert_eq!(got.id, ids[i]);
        assert_eq!(got.event, inputs[i], "event {i}");
    }

    // Every page, newest first by (time, id), no duplicates, no gaps.
    let scope = Scope::Org(org.id);
    let (items, pages) = all_pages!(|cursor| {
        let store = store.clone();
        let q = EventQuery {
            limit: 100,
            cursor,
            ..EventQuery::default()
        };
        async move { store.search_events(scope, &q).await }
    });
    assert_eq!(pages, 25);
    assert_eq!(items.len(), N as usize);
    for w in items.windows(2) {
        let a = (w[0].event.timestamp, w[0].id);
        let b = (w[1].event.timestamp, w[1].id);
        assert!(a > b, "not newest first: {a:?} then {b:?}");
    }
    let seen: HashSet<EventId> = items.iter().map(|e| e.id).collect();
    assert_eq!(seen, ids.iter().copied().collect::<HashSet<_>>());
    // The cursor is the (time, id) of the page's last item.
    let first = store
        .search_events(
            scope,
            &EventQuery {
                limit: 7,
                ..EventQuery::default()
            },
        )
        .await
        .expect("first page");
    let last = first.items.last().expect("items");
    assert_eq!(
        first
            .next_cursor
            .as_deref()
            .map(Cursor::decode)
            .and_then(Result::ok),
        Some(Cursor {
            micros: last.event.timestamp.as_microsecond(),
            key: last.id.to_string()
        })
    );
    // Limits are clamped, not refused.
    let big = store
        .search_events(
            scope,
            &EventQuery {
                limit: 1_000_000,
                ..EventQuery::default()
            },
        )
        .await
        .expect("big");
    assert_eq!(big.items.len(), crate::MAX_PAGE);

    let count = |q: EventQuery| {
        let store = store.clone();
        async move { search_all(&store, scope, q).await.len() }
    };
    let filter = |f: &str, v: &str| FieldFilter {
        field: f.into(),
        value: v.into(),
    };
    // Time range: [base+100s, base+200s) holds i in 300..600.
    let ranged = search_all(
        &store,
        scope,
        EventQuery {
            from: Some(secs(base, 100)),
            to: Some(secs(base, 200)),
            ..EventQuery::default()
        },
    )
    .await;
    assert_eq!(ranged.len(), 300);
    assert!(
        ranged
            .iter()
            .all(|e| e.event.timestamp >= secs(base, 100) && e.event.timestamp < secs(base, 200))
    );
    // Indexed fields.
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("event.action", "logon-failed")],
            ..EventQuery::default()
        })
        .await,
        500
    );
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("destination.port", "502")],
            ..EventQuery::default()
        })
        .await,
        625
    );
    assert_eq!(
        count(EventQuery {
            filters: vec![
                filter("host.name", "plc-3"),
                filter("source.ip", "203.0.113.3")
            ],
            ..EventQuery::default()
        })
        .await,
        10
    );
    // Fields outside the indexed dozen: strings, numbers, booleans compared as text.
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("labels.zone", "zone-1")],
            ..EventQuery::default()
        })
        .await,
        833
    );
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("source.port", "40003")],
            ..EventQuery::default()
        })
        .await,
        357
    );
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("tls.established", "true")],
            ..EventQuery::default()
        })
        .await,
        1_250
    );
    assert_eq!(
        count(EventQuery {
            filters: vec![filter("no.such.field", "x")],
            ..EventQuery::default()
        })
        .await,
        0
    );
    // Indexed and non-indexed together: i % 15 == 0.
    assert_eq!(
        count(EventQuery {
            filters: vec![
                filter("event.action", "logon-failed"),
                filter("labels.zone", "zone-0")
            ],
            ..EventQuery::default()
        })
        .await,
        167
    );
    // Free text, case-insensitive, over the message or else the raw line.
    for needle in ["needle", "NEEDLE", "NeEdLe"] {
        assert_eq!(
            count(EventQuery {
                text: Some(needle.into()),
                ..EventQuery::default()
            })
            .await,
            500,
            "text {needle}"
        );
    }
    assert_eq!(
        count(EventQuery {
            text: Some("needle-in-raw".into()),
            ..EventQuery::default()
        })
        .await,
        250
    );
    assert_eq!(
        count(EventQuery {
            text: Some("100%".into()),
            ..EventQuery::default()
        })
        .await,
        0
    );
    // Everything at once: i in 300..600 with i % 10 == 0 and zone-0 (i % 30 == 0).
    let combo = search_all(
        &store,
        scope,
        EventQuery {
            org_id: Some(org.id),
            asset_id: Some(asset.id),
            from: Some(secs(base, 100)),
            to: Some(secs(base, 200)),
            filters: vec![filter("labels.zone", "zone-0")],
            text: Some("needle".into()),
            ..EventQuery::default()
        },
    )
    .await;
    let mut got: Vec<EventId> = combo.iter().map(|e| e.id).collect();
    got.sort();
    let want: Vec<EventId> = (300..600).filter(|i| i % 30 == 0).map(|i| ids[i]).collect();
    assert_eq!(got, want);
    assert_eq!(
        count(EventQuery {
            asset_id: Some(asset.id),
            ..EventQuery::default()
        })
        .await,
        1_250
    );
    // Scope::All with an organization filter, and the other tenant's view.
    assert_eq!(
        search_all(
            &store,
            Scope::All,
            EventQuery {
                org_id: Some(other.id),
                text: Some("needle".into()),
                ..EventQuery::default()
            }
        )
        .await
        .len(),
        50
    );
    assert!(
        store
            .get_event(Scope::Org(other.id), ids[0])
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_event(Scope::Org(other.id), other_ids[0])
            .await
            .expect("get")
            .is_some()
    );
}

pub async fn events_retention(store: S) {
    let org = new_org(&store, "Retention").await;
    // Far in the past, so no other test's events are older than the cutoff.
    let base = at("1999-06-01T00:00:00Z");
    let ids = store
        .append_events(
            (0..10)
                .map(|i| simple_event(org.id, secs(base, i * 3600), &format!("old {i}")))
                .collect(),
        )
        .await
        .expect("append");
    let deleted = store
        .delete_events_before(secs(base, 5 * 3600))
        .await
        .expect("delete");
    assert_eq!(deleted, 5);
    for (i, id) in ids.iter().enumerate() {
        let got = store.get_event(Scope::All, *id).await.expect("get");
        assert_eq!(got.is_some(), i >= 5, "event {i}");
    }
    let left = search_all(
        &store,
        Scope::Org(org.id),
        EventQuery {
            to: Some(secs(base, 24 * 3600)),
            ..EventQuery::default()
        },
    )
    .await;
    assert_eq!(left.len(), 5);
    assert_eq!(
        store
            .delete_events_before(secs(base, 5 * 3600))
            .await
            .expect("again"),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Alerts and incidents

pub async fn alerts_lifecycle(store: S) {
    use vigil_model::Severity::*;
    let org = new_org(&store, "Alerts").await;
    let before = now();
    let mut specs = vec![
        alert_spec(org.id, "brute force", High),
        alert_spec(org.id, "port scan", Low),
        alert_spec(org.id, "webshell", Critical),
        alert_spec(org.id, "ioc hit", High),
        alert_spec(org.id, "old openssl", Medium),
    ];
    specs[3].source = AlertSource::Ioc;
    specs[3].category = None;
    specs[4].source = AlertSource::Vuln;
    specs[4].details = serde_json::Value::Null;
    specs[4].event_ids = vec![];
    let created = store.create_alerts(specs.clone()).await.expect("create");
    assert_eq!(created.len(), 5);
    for (a, s) in created.iter().zip(&specs) {
        assert_eq!(&a.spec, s);
        assert_eq!(a.status, AlertStatus::New);
        assert_eq!(a.incident_id, None);
        assert!(a.created_at >= before);
        assert_eq!(
            store
                .get_alert(Scope::Org(org.id), a.id)
                .await
                .expect("get"),
            Some(a.clone())
        );
    }

    // All or nothing.
    let mut bad = alert_spec(org.id, " ", High);
    bad.title = "   ".into();
    match store
        .create_alerts(vec![alert_spec(org.id, "fine", Low), bad])
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "title"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let r = store
        .create_alerts(vec![
            alert_spec(org.id, "fine", Low),
            alert_spec(OrgId::new(), "orphan", Low),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    let q = AlertQuery {
        org_id: Some(org.id),
        limit: 100,
        ..AlertQuery::default()
    };
    let list = |q: AlertQuery| {
        let store = store.clone();
        async move {
            store
                .list_alerts(Scope::All, &q)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|a| a.spec.title)
                .collect::<Vec<_>>()
        }
    };
    let sorted = |mut v: Vec<&str>| {
        v.sort();
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut all = list(q.clone()).await;
    assert_eq!(all.len(), 5, "{all:?}");
    all.sort();
    assert_eq!(
        all,
        sorted(vec![
            "brute force",
            "ioc hit",
            "old openssl",
            "port scan",
            "webshell"
        ])
    );
    let mut high = list(AlertQuery {
        severity: Some(High),
        ..q.clone()
    })
    .await;
    high.sort();
    assert_eq!(high, sorted(vec!["brute force", "ioc hit"]));
    assert_eq!(
        list(AlertQuery {
            source: Some(AlertSource::Vuln),
            ..q.clone()
        })
        .await,
        vec!["old openssl".to_string()]
    );
    assert_eq!(
        list(AlertQuery {
            status: Some(AlertStatus::New),
            ..q.clone()
        })
        .await
        .len(),
        5
    );
    assert_eq!(
        list(AlertQuery {
            from: Some(before),
            ..q.clone()
        })
        .await
        .len(),
        5
    );
    assert!(
        list(AlertQuery {
            to: Some(before),
            ..q.clone()
        })
        .await
        .is_empty()
    );
    assert!(
        list(AlertQuery {
            from: Some(secs(now(), 3600)),
            ..q.clone()
        })
        .await
        .is_empty()
    );

    // Pagination.
    let (items, pages) = all_pages!(|cursor| {
        let store = store.clone();
        let q = AlertQuery {
            limit: 2,
            cursor,
            ..q.clone()
        };
        async move { store.list_alerts(Scope::All, &q).await }
    });
    assert_eq!(pages, 3);
    assert_eq!(items.iter().map(|a| a.id).collect::<HashSet<_>>().len(), 5);
    for w in items.windows(2) {
        assert!((w[0].created_at, w[0].id) > (w[1].created_at, w[1].id));
    }

    // Status changes.
    let target = &created[1];
    let acked = store
        .set_alert_status(
            Scope::Org(org.id),
            target.id,
            AlertStatus::Acknowledged,
            None,
        )
        .await
        .expect("status")
        .expect("found");
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    assert_eq!(acked.spec, target.spec);
    assert!(acked.updated_at >= target.updated_at);
    assert_eq!(
        store.get_alert(Scope::All, target.id).await.expect("get"),
        Some(acked.clone())
    );
    assert_eq!(
        list(AlertQuery {
            status: Some(AlertStatus::Acknowledged),
            ..q.clone()
        })
        .await,
        vec!["port scan".to_string()]
    );
    assert!(
        store
            .set_alert_status(
                Scope::All,
                vigil_model::AlertId::new(),
                AlertStatus::Closed,
                None
            )
            .await
            .expect("status")
            .is_none()
    );
    // Escalating by hand links the incident; it must be the same organization's.
    let inc = store
        .create_incident(incident_spec(org.id, "by hand", "NA", None), "user:t")
        .await
        .expect("incident");
    let esc = store
        .set_alert_status(Scope::All, target.id, AlertStatus::Escalated, Some(inc.id))
        .await
        .expect("escalate")
        .expect("found");
    assert_eq!(esc.incident_id, Some(inc.id));
    assert_eq!(esc.status, AlertStatus::Escalated);
    let elsewhere = new_org(&store, "Alerts other").await;
    let other_inc = store
        .create_incident(incident_spec(elsewhere.id, "theirs", "NA", None), "user:t")
        .await
        .expect("incident");
    let r = store
        .set_alert_status(
            Scope::All,
            created[0].id,
            AlertStatus::Escalated,
            Some(other_inc.id),
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
}

/// `expect_status` makes an update conditional (what a workflow step checked against);
/// closed and archived incidents both count as finished and keep their closing time.
pub async fn incident_updates_check_the_expected_status(store: S) {
    let org = new_org(&store, "Expected status").await;
    let scope = Scope::Org(org.id);
    let inc = store
        .create_incident(incident_spec(org.id, "Webshell", "MP", None), "user:a")
        .await
        .expect("create");
    let step = |expect: IncidentStatus, to: IncidentStatus| IncidentUpdate {
        expect_status: Some(expect),
        status: Some(to),
        ..IncidentUpdate::default()
    };
    // A stale expectation changes nothing and says what the status is.
    let r = store
        .update_incident(
            scope,
            inc.id,
            step(IncidentStatus::Triaged, IncidentStatus::Notified),
            "user:a",
        )
        .await;
    match r {
        Err(StoreError::Conflict(m)) => assert!(m.contains("'open'"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let same = store
        .get_incident(scope, inc.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(same.status, IncidentStatus::Open);
    assert_eq!(same.timeline.len(), inc.timeline.len());
    for (from, to) in [
        (IncidentStatus::Open, IncidentStatus::Triaged),
        (IncidentStatus::Triaged, IncidentStatus::Closed),
    ] {
        store
            .update_incident(scope, inc.id, step(from, to), "user:a")
            .await
            .expect("step")
            .expect("found");
    }
    let closed = store
        .get_incident(scope, inc.id)
        .await
        .expect("get")
        .expect("found");
    let closed_at = closed.closed_at.expect("closing time");
    let archived = store
        .update_incident(
            scope,
            inc.id,
            step(IncidentStatus::Closed, IncidentStatus::Archived),
            "user:a",
        )
        .await
        .expect("archive")
        .expect("found");
    assert_eq!(archived.status, IncidentStatus::Archived);
    assert_eq!(
        archived.closed_at,
        Some(closed_at),
        "archiving keeps the time"
    );
    let list = |open: bool| {
        let store = store.clone();
        async move {
            store
                .list_incidents(
                    scope,
                    &IncidentQuery {
                        open: Some(open),
                        ..IncidentQuery::default()
                    },
                )
                .await
                .expect("list")
                .items
                .len()
        }
    };
    assert_eq!(list(true).await, 0);
    assert_eq!(list(false).await, 1);
    let o = store
        .overview(scope, at("2000-01-01T00:00:00Z"))
        .await
        .expect("overview");
    assert_eq!(o.open_incidents, 0);
}

pub async fn incidents_lifecycle(store: S) {
    use vigil_model::Severity::*;
    let org = new_org(&store, "Incidents").await;
    let other = new_org(&store, "Incidents other").await;
    let alerts = store
        .create_alerts(vec![
            alert_spec(org.id, "a1", High),
            alert_spec(org.id, "a2", Medium),
            alert_spec(other.id, "foreign", Low),
        ])
        .await
        .expect("alerts");
    let scope = Scope::Org(org.id);

    // A foreign alert fails the whole creation.
    let mut spec = incident_spec(org.id, "Ransomware on HMI", "MP", Some("MPRANS"));
    spec.alert_ids = vec![alerts[0].id, alerts[2].id];
    let r = store.create_incident(spec.clone(), "user:alice").await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    assert_eq!(
        store
            .get_alert(Scope::All, alerts[0].id)
            .await
            .expect("get")
            .map(|a| (a.status, a.incident_id)),
        Some((AlertStatus::New, None))
    );
    let none = store
        .list_incidents(scope, &IncidentQuery::default())
        .await
        .expect("list");
    assert!(none.items.is_empty());

    let mut bad = spec.clone();
    bad.subcategory = Some("NADOS".into());
    match store.create_incident(bad, "user:alice").await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "subcategory"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let r = store
        .create_incident(incident_spec(OrgId::new(), "x", "MP", None), "user:alice")
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    // Creation escalates the linked alerts.
    spec.alert_ids = vec![alerts[0].id, alerts[1].id];
    let before = now();
    let inc = store
        .create_incident(spec.clone(), "user:alice")
        .await
        .expect("create");
    assert_eq!(inc.spec, spec);
    assert_eq!(inc.status, IncidentStatus::Open);
    assert_eq!(inc.closed_at, None);
    assert!(inc.created_at >= before);
    assert_eq!(inc.timeline.len(), 1);
    assert_eq!(inc.timeline[0].action, "created");
    assert_eq!(inc.timeline[0].actor, "user:alice");
    assert_eq!(
        store.get_incident(scope, inc.id).await.expect("get"),
        Some(inc.clone())
    );
    for a in &alerts[..2] {
        let a = store
            .get_alert(Scope::All, a.id)
            .await
            .expect("get")
            .expect("found");
        assert_eq!(a.status, AlertStatus::Escalated);
        assert_eq!(a.incident_id, Some(inc.id));
    }
    let linked = store
        .list_alerts(
            Scope::All,
            &AlertQuery {
                incident_id: Some(inc.id),
                ..AlertQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(linked.items.len(), 2);

    // Updates and the timeline.
    let updated = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                status: Some(IncidentStatus::Acknowledged),
                grade: Some(Grade::Major),
                comment: Some("called the plant".into()),
                ..IncidentUpdate::default()
            },
            "user:bob",
        )
        .await
        .expect("update")
        .expect("found");
    assert_eq!(updated.status, IncidentStatus::Acknowledged);
    assert_eq!(updated.spec.grade, Grade::Major);
    let actions: Vec<&str> = updated.timeline.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["created", "status:acknowledged", "grade:major", "comment"]
    );
    assert!(updated.timeline[1..].iter().all(|t| t.actor == "user:bob"));
    assert_eq!(updated.timeline[3].note, "called the plant");
    assert!(updated.updated_at >= inc.updated_at);
    assert_eq!(
        store.get_incident(scope, inc.id).await.expect("get"),
        Some(updated.clone())
    );

    let edited = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                title: Some("Ransomware on HMI 2".into()),
                description: Some("spread to the historian".into()),
                ..IncidentUpdate::default()
            },
            "user:bob",
        )
        .await
        .expect("update")
        .expect("found");
    assert_eq!(edited.spec.title, "Ransomware on HMI 2");
    assert_eq!(edited.spec.description, "spread to the historian");
    assert_eq!(
        edited.timeline.last().map(|t| t.action.as_str()),
        Some("edit")
    );
    assert_eq!(edited.timeline.len(), 5);

    // The merged category and sub-category must agree.
    let r = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                category: Some("NA".into()),
                ..IncidentUpdate::default()
            },
            "user:bob",
        )
        .await;
    match r {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "subcategory"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let recat = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                category: Some("NA".into()),
                subcategory: Some(Some("NACRED".into())),
                ..IncidentUpdate::default()
            },
            "user:bob",
        )
        .await
        .expect("update")
        .expect("found");
    assert_eq!(
        (
            recat.spec.category.as_str(),
            recat.spec.subcategory.as_deref()
        ),
        ("NA", Some("NACRED"))
    );
    assert_eq!(recat.timeline.len(), 6);

    // Closing sets closed_at; reopening clears it.
    let closed = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                status: Some(IncidentStatus::Closed),
                ..IncidentUpdate::default()
            },
            "user:carol",
        )
        .await
        .expect("close")
        .expect("found");
    assert_eq!(closed.status, IncidentStatus::Closed);
    let closed_at = closed.closed_at.expect("closed_at set");
    assert!(closed_at >= inc.created_at);
    assert_eq!(
        closed.timeline.last().map(|t| t.action.as_str()),
        Some("status:closed")
    );
    let q = IncidentQuery {
        org_id: Some(org.id),
        ..IncidentQuery::default()
    };
    let listed = |q: IncidentQuery| {
        let store = store.clone();
        async move {
            store
                .list_incidents(Scope::All, &q)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(
        listed(IncidentQuery {
            open: Some(true),
            ..q.clone()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        listed(IncidentQuery {
            open: Some(false),
            ..q.clone()
        })
        .await,
        vec![inc.id]
    );
    let reopened = store
        .update_incident(
            scope,
            inc.id,
            IncidentUpdate {
                status: Some(IncidentStatus::Remediating),
                ..IncidentUpdate::default()
            },
            "user:carol",
        )
        .await
        .expect("reopen")
        .expect("found");
    assert_eq!(reopened.closed_at, None);
    assert_eq!(reopened.status, IncidentStatus::Remediating);

    assert!(
        store
            .get_incident(scope, vigil_model::IncidentId::new())
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .update_incident(
                scope,
                vigil_model::IncidentId::new(),
                IncidentUpdate::default(),
                "user:bob"
            )
            .await
            .expect("update")
            .is_none()
    );

    // Filters and pagination over more incidents.
    let mut more = Vec::new();
    for (title, cat, grade) in [
        ("ddos", "NA", Grade::General),
        ("leak", "DS", Grade::Major),
        ("defacement", "IC", Grade::General),
        ("worm", "MP", Grade::EspeciallyMajor),
    ] {
        let mut s = incident_spec(org.id, title, cat, None);
        s.grade = grade;
        more.push(store.create_incident(s, "user:alice").await.expect("more"));
    }
    let sorted = |mut v: Vec<vigil_model::IncidentId>| {
        v.sort();
        v
    };
    let sorted_listed = |q: IncidentQuery| {
        let f = listed(q);
        async move { sorted(f.await) }
    };
    assert_eq!(
        sorted_listed(IncidentQuery {
            grade: Some(Grade::General),
            ..q.clone()
        })
        .await,
        sorted(vec![more[0].id, more[2].id])
    );
    assert_eq!(
        sorted_listed(IncidentQuery {
            category: Some("NA".into()),
            ..q.clone()
        })
        .await,
        sorted(vec![inc.id, more[0].id])
    );
    assert_eq!(
        listed(IncidentQuery {
            status: Some(IncidentStatus::Remediating),
            ..q.clone()
        })
        .await,
        vec![inc.id]
    );
    assert_eq!(
        listed(IncidentQuery {
            open: Some(true),
            ..q.clone()
        })
        .await
        .len(),
        5
    );
    assert!(
        listed(IncidentQuery {
            from: Some(secs(now(), 3600)),
            ..q.clone()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        listed(IncidentQuery {
            from: Some(before),
            ..q.clone()
        })
        .await
        .len(),
        5
    );
    let (items, pages) = all_pages!(|cursor| {
        let store = store.clone();
        let q = IncidentQuery {
            limit: 2,
            cursor,
            ..q.clone()
        };
        async move { store.list_incidents(Scope::All, &q).await }
    });
    assert_eq!(pages, 3);
    assert_eq!(items.iter().map(|i| i.id).collect::<HashSet<_>>().len(), 5);
    for w in items.windows(2) {
        assert!((w[0].created_at, w[0].id) > (w[1].created_at, w[1].id));
    }
}

pub async fn overview_counts(store: S) {
    use vigil_model::Severity::*;
    let org = new_org(&store, "Overview").await;
    let quiet = new_org(&store, "Overview quiet").await;
    let since = secs(now(), -24 * 3600);
    store
        .create_assets(
            Scope::All,
            vec![
                plc(org.id),
                asset_spec(org.id, "historian", AssetKind::Host),
            ],
        )
        .await
        .expect("assets");
    let mut events: Vec<NewEvent> = (0..30)
        .map(|i| simple_event(org.id, secs(now(), -60 * i), "recent"))
        .collect();
    events.extend((0..5).map(|i| simple_event(org.id, secs(since, -3600 - i), "old")));
    store.append_events(events).await.expect("events");
    // Alerts count by detection time: two today, one before the period.
    let mut specs = vec![
        alert_spec(org.id, "one", High),
        alert_spec(org.id, "two", Low),
        alert_spec(org.id, "three", Medium),
        alert_spec(org.id, "old", High),
    ];
    for s in &mut specs[..3] {
        s.detected_at = secs(now(), -60);
    }
    specs[3].detected_at = secs(since, -3600);
    let alerts = store.create_alerts(specs).await.expect("alerts");
    store
        .set_alert_status(Scope::All, alerts[2].id, AlertStatus::Acknowledged, None)
        .await
        .expect("ack");
    for (cat, grade, close) in [
        ("MP", Grade::Large, false),
        ("MP", Grade::Large, false),
        ("NA", Grade::General, false),
        ("DS", Grade::Major, true),
    ] {
        let mut s = incident_spec(org.id, "x", cat, None);
        s.grade = grade;
        let inc = store.create_incident(s, "user:t").await.expect("incident");
        if close {
            store
                .update_incident(
                    Scope::All,
                    inc.id,
                    IncidentUpdate {
                        status: Some(IncidentStatus::Closed),
                        ..IncidentUpdate::default()
                    },
                    "user:t",
                )
                .await
                .expect("close");
        }
    }

    let o = store
        .overview(Scope::Org(org.id), since)
        .await
        .expect("overview");
    assert_eq!(o.organizations, 1);
    assert_eq!(o.assets, 2);
    assert_eq!(o.events, 30);
    assert_eq!(o.new_alerts, 2);
    assert_eq!(o.open_incidents, 3);
    let mut by_cat = o.incidents_by_category_grade.clone();
    by_cat.sort();
    assert_eq!(
        by_cat,
        vec![
            ("MP".to_string(), Grade::Large, 2),
            ("NA".to_string(), Grade::General, 1)
        ]
    );
    assert_eq!(
        o.top_orgs_open_incidents,
        vec![(org.id, org.spec.name.clone(), 3)]
    );
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for a in &alerts[..3] {
        *days
            .entry(a.spec.detected_at.strftime("%Y-%m-%d").to_string())
            .or_default() += 1;
    }
    assert_eq!(o.alerts_per_day, days.into_iter().collect::<Vec<_>>());

    // Nothing happened since a time in the future; the inventory is still there.
    let later = store
        .overview(Scope::Org(org.id), secs(now(), 3600))
        .await
        .expect("overview");
    assert_eq!(later.events, 0);
    assert_eq!(later.new_alerts, 0);
    assert!(later.alerts_per_day.is_empty());
    assert_eq!(
        later.open_incidents, 3,
        "open incidents are counted whenever opened"
    );
    assert_eq!(later.organizations, 1);
    assert_eq!(later.assets, 2);

    // Another tenant sees none of it.
    let q = store
        .overview(Scope::Org(quiet.id), since)
        .await
        .expect("overview");
    assert_eq!(
        q,
        crate::Overview {
            organizations: 1,
            ..crate::Overview::default()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Users, tokens, sessions

pub async fn users(store: S) {
    let tag = uniq();
    let org = new_org(&store, "Users").await;
    let before = store.count_users().await.expect("count");
    let spec = NewUser {
        username: format!("alice-{tag}"),
        display_name: "Alice Analyst".into(),
        role: Role::Analyst,
        org_id: None,
        locale: Locale::ZhCn,
    };
    let alice = store
        .create_user(spec.clone(), "$argon2id$hash-1".into())
        .await
        .expect("create");
    assert_eq!(alice.spec, spec);
    assert!(!alice.disabled);
    assert_eq!(
        store.get_user(alice.id).await.expect("get"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .find_user_for_login(&spec.username)
            .await
            .expect("find"),
        Some((alice.clone(), "$argon2id$hash-1".to_string()))
    );
    assert_eq!(
        store
            .find_user_for_login(&format!("nobody-{tag}"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(store.get_user(UserId::new()).await.expect("get"), None);
    let r = store.create_user(spec.clone(), "x".into()).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let r = store
        .create_user(
            NewUser {
                username: format!("orphan-{tag}"),
                org_id: None,
                role: Role::OrgUser,
                ..spec.clone()
            },
            "x".into(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let r = store
        .create_user(
            NewUser {
                username: format!("ghost-{tag}"),
                org_id: Some(OrgId::new()),
                role: Role::OrgUser,
                ..spec.clone()
            },
            "x".into(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    let officer = store
        .create_user(
            NewUser {
                username: format!("officer-{tag}"),
                display_name: "Officer".into(),
                role: Role::OrgUser,
                org_id: Some(org.id),
                locale: Locale::En,
            },
            "$argon2id$hash-2".into(),
        )
        .await
        .expect("officer");
    assert_eq!(store.count_users().await.expect("count"), before + 2);
    assert_eq!(
        store.list_users(Scope::Org(org.id)).await.expect("list"),
        vec![officer.clone()]
    );
    let all: HashSet<UserId> = store
        .list_users(Scope::All)
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert!(all.contains(&alice.id) && all.contains(&officer.id));

    assert!(
        store
            .set_password(alice.id, "$argon2id$hash-3".into())
            .await
            .expect("set")
    );
    assert_eq!(
        store
            .find_user_for_login(&spec.username)
            .await
            .expect("find")
            .map(|(_, h)| h),
        Some("$argon2id$hash-3".to_string())
    );
    assert!(
        !store
            .set_password(UserId::new(), "x".into())
            .await
            .expect("set")
    );
    assert!(
        store
            .set_user_disabled(alice.id, true)
            .await
            .expect("disable")
    );
    assert_eq!(
        store
            .get_user(alice.id)
            .await
            .expect("get")
            .map(|u| u.disabled),
        Some(true)
    );
    assert!(
        store
            .set_user_disabled(alice.id, false)
            .await
            .expect("enable")
    );
    assert_eq!(
        store
            .get_user(alice.id)
            .await
            .expect("get")
            .map(|u| u.disabled),
        Some(false)
    );
    assert!(
        !store
            .set_user_disabled(UserId::new(), true)
            .await
            .expect("x")
    );
    assert!(
        store
            .set_user_locale(alice.id, Locale::En)
            .await
            .expect("locale")
    );
    assert_eq!(
        store
            .get_user(alice.id)
            .await
            .expect("get")
            .map(|u| u.spec.locale),
        Some(Locale::En)
    );
    assert!(
        !store
            .set_user_locale(UserId::new(), Locale::En)
            .await
            .expect("x")
    );
}

pub async fn tokens(store: S) {
    let a = new_org(&store, "Tokens A").await;
    let b = new_org(&store, "Tokens B").await;
    let created = now();
    let token = |role: Role, org: Option<OrgId>| ApiToken {
        id: TokenId::new(),
        name: format!("sensor-{}", uniq()),
        role,
        org_id: org,
        created_by: "user:admin".into(),
        created_at: created,
        expires_at: Some(secs(created, 90 * 86_400)),
        revoked_at: None,
        last_used_at: None,
    };
    let ta = token(Role::OrgUser, Some(a.id));
    let tb = token(Role::OrgUser, Some(b.id));
    let admin = ApiToken {
        expires_at: None,
        ..token(Role::PlatformAdmin, None)
    };
    let ha = format!("sm3-{}", uniq());
    let hb = format!("sm3-{}", uniq());
    let hadmin = format!("sm3-{}", uniq());
    store.create_token(ta.clone(), ha.clone()).await.expect("a");
    store.create_token(tb.clone(), hb.clone()).await.expect("b");
    store
        .create_token(admin.clone(), hadmin.clone())
        .await
        .expect("admin");
    let r = store
        .create_token(token(Role::Analyst, None), ha.clone())
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    assert_eq!(store.find_token(&ha).await.expect("find"), Some(ta.clone()));
    assert_eq!(
        store.find_token(&hadmin).await.expect("find"),
        Some(admin.clone())
    );
    assert_eq!(
        store
            .find_token(&format!("sm3-{}", uniq()))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        store.list_tokens(Scope::Org(a.id)).await.expect("list"),
        vec![ta.clone()]
    );
    let all: HashSet<TokenId> = store
        .list_tokens(Scope::All)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(all.contains(&ta.id) && all.contains(&tb.id) && all.contains(&admin.id));

    let revoked_at = secs(created, 60);
    assert!(
        !store
            .revoke_token(Scope::Org(a.id), tb.id, revoked_at)
            .await
            .expect("revoke")
    );
    assert!(
        store
            .revoke_token(Scope::Org(a.id), ta.id, revoked_at)
            .await
            .expect("revoke")
    );
    let got = store.find_token(&ha).await.expect("find").expect("found");
    assert_eq!(got.revoked_at, Some(revoked_at));
    assert!(!got.is_active(secs(created, 120)));
    assert_eq!(
        store
            .find_token(&hb)
            .await
            .expect("find")
            .and_then(|t| t.revoked_at),
        None
    );
    assert!(
        !store
            .revoke_token(Scope::All, TokenId::new(), revoked_at)
            .await
            .expect("revoke")
    );

    let used = secs(created, 30);
    store.touch_token(admin.id, used).await.expect("touch");
    assert_eq!(
        store
            .find_token(&hadmin)
            .await
            .expect("find")
            .and_then(|t| t.last_used_at),
        Some(used)
    );
    store
        .touch_token(TokenId::new(), used)
        .await
        .expect("touching an unknown token is not an error");
}

pub async fn sessions(store: S) {
    let user = store
        .create_user(
            NewUser {
                username: format!("sess-{}", uniq()),
                display_name: String::new(),
                role: Role::Auditor,
                org_id: None,
                locale: Locale::ZhCn,
            },
            "h".into(),
        )
        .await
        .expect("user");
    let t = now();
    let session = |hours: i64| Session {
        id_hash: format!("sid-{}", uniq()),
        user_id: user.id,
        csrf_token: format!("csrf-{}", uniq()),
        created_at: secs(t, -3600),
        expires_at: secs(t, hours * 3600),
    };
    let live = session(8);
    let expired = session(-1);
    store.create_session(live.clone()).await.expect("live");
    store
        .create_session(expired.clone())
        .await
        .expect("expired");
    assert_eq!(
        store.get_session(&live.id_hash).await.expect("get"),
        Some(live.clone())
    );
    assert_eq!(
        store
            .get_session(&format!("sid-{}", uniq()))
            .await
            .expect("get"),
        None
    );
    let r = store
        .create_session(Session {
            user_id: UserId::new(),
            ..session(1)
        })
        .await;
    assert!(r.is_err(), "a session needs an existing user");

    let n = store.delete_expired_sessions(t).await.expect("cleanup");
    assert!(n >= 1, "the expired session goes");
    assert_eq!(
        store.get_session(&expired.id_hash).await.expect("get"),
        None
    );
    assert!(
        store
            .get_session(&live.id_hash)
            .await
            .expect("get")
            .is_some()
    );

    store.delete_session(&live.id_hash).await.expect("delete");
    assert_eq!(store.get_session(&live.id_hash).await.expect("get"), None);
    store
        .delete_session(&live.id_hash)
        .await
        .expect("deleting twice is fine");

    let (s1, s2) = (session(1), session(2));
    store.create_session(s1.clone()).await.expect("s1");
    store.create_session(s2.clone()).await.expect("s2");
    store
        .delete_user_sessions(user.id)
        .await
        .expect("logout all");
    assert_eq!(store.get_session(&s1.id_hash).await.expect("get"), None);
    assert_eq!(store.get_session(&s2.id_hash).await.expect("get"), None);
}

// ---------------------------------------------------------------------------------------------
// Audit

pub async fn audit_chain(store: S) {
    let tag = uniq();
    let org = OrgId::new();
    let actor = format!("user:auditee-{tag}");
    let mut appended = Vec::new();
    for i in 0..10 {
        let rec = NewAuditRecord {
            actor: if i % 2 == 0 {
                actor.clone()
            } else {
                "system".into()
            },
            action: if i < 6 {
                format!("org.update.{i}")
            } else {
                "auth.login".into()
            },
            object: format!("organization/{org}"),
            outcome: if i == 9 {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Success
            },
            org_id: (i % 3 == 0).then_some(org),
            detail: format!("step {i} 中文"),
        };
        let got = store.append_audit(rec.clone()).await.expect("append");
        assert_eq!(got.record, rec);
        appended.push(got);
    }
    for w in appended.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert!(w[1].at >= w[0].at);
    }
    let first = &appended[0];
    if first.seq == 1 {
        assert_eq!(first.prev_hash, vigil_crypto::AUDIT_GENESIS);
    }

    // What is read back is what was appended, and the chain verifies.
    let read = store
        .list_audit(&AuditQuery {
            after_seq: Some(first.seq - 1),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(read, appended);
    assert_eq!(
        vigil_crypto::verify_audit_chain(&first.prev_hash, &read).ok(),
        Some(appended[9].hash.clone())
    );
    // The whole log verifies from the genesis hash.
    let whole = store
        .list_audit(&AuditQuery {
            limit: crate::MAX_PAGE,
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert!(
        whole.len() < crate::MAX_PAGE,
        "this test needs a database of its own"
    );
    assert!(vigil_crypto::verify_audit_chain(vigil_crypto::AUDIT_GENESIS, &whole).is_ok());
    let mut tampered = read.clone();
    tampered[4].record.detail = "nothing happened".into();
    assert!(vigil_crypto::verify_audit_chain(&first.prev_hash, &tampered).is_err());

    // Filters, oldest first.
    let by_actor = store
        .list_audit(&AuditQuery {
            actor: Some(actor.clone()),
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        by_actor.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..10)
            .filter(|i| i % 2 == 0)
            .map(|i| appended[i].seq)
            .collect::<Vec<_>>()
    );
    let logins = store
        .list_audit(&AuditQuery {
            after_seq: Some(first.seq - 1),
            action_prefix: Some("auth.".into()),
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(logins.len(), 4);
    assert!(logins.iter().all(|r| r.record.action == "auth.login"));
    let for_org = store
        .list_audit(&AuditQuery {
            org_id: Some(org),
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        for_org.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![
            appended[0].seq,
            appended[3].seq,
            appended[6].seq,
            appended[9].seq
        ]
    );
    let limited = store
        .list_audit(&AuditQuery {
            after_seq: Some(appended[2].seq),
            limit: 3,
            ..AuditQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(limited, appended[3..6].to_vec());
    let combined = store
        .list_audit(&AuditQuery {
            after_seq: Some(appended[5].seq),
            actor: Some(actor),
            action_prefix: Some("auth".into()),
            org_id: Some(org),
            limit: 0,
        })
        .await
        .expect("list");
    assert_eq!(combined, vec![appended[6].clone()]);
}

// ---------------------------------------------------------------------------------------------
// Cursors

pub async fn bad_cursors_are_rejected(store: S) {
    let garbage = Some("definitely not a cursor".to_string());
    let wrong_key = Some(
        Cursor {
            micros: 1,
            key: "not-a-key".into(),
        }
        .encode(),
    );
    for cursor in [garbage, wrong_key] {
        let r = store
            .search_events(
                Scope::All,
                &EventQuery {
                    cursor: cursor.clone(),
                    ..EventQuery::default()
                },
            )
            .await;
        assert!(matches!(r, Err(StoreError::BadCursor(_))), "{r:?}");
        let r = store
            .list_assets(
                Scope::All,
                &AssetQuery {
                    cursor: cursor.clone(),
                    ..AssetQuery::default()
                },
            )
            .await;
        assert!(matches!(r, Err(StoreError::BadCursor(_))), "{r:?}");
        let r = store
            .list_alerts(
                Scope::All,
                &AlertQuery {
                    cursor: cursor.clone(),
                    ..AlertQuery::default()
                },
            )
            .await;
        assert!(matches!(r, Err(StoreError::BadCursor(_))), "{r:?}");
        let r = store
            .list_incidents(
                Scope::All,
                &IncidentQuery {
                    cursor,
                    ..IncidentQuery::default()
                },
            )
            .await;
        assert!(matches!(r, Err(StoreError::BadCursor(_))), "{r:?}");
    }
    // The store still answers after refusing.
    assert!(store.ping().await.is_ok());
    assert!(!store.backend().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Threat intelligence. Indicators are platform-wide and tests share a database, so every
// query below is narrowed to the test's own (uniquely named) source.

async fn new_source(store: &S, label: &str) -> IntelSource {
    store
        .upsert_intel_source(NewIntelSource {
            name: format!("{label} {}", uniq()),
            kind: "stix".into(),
            url: None,
            enabled: true,
            trust: 70,
        })
        .await
        .expect("create source")
}

fn indicator(source: IntelSourceId, stix_id: &str, kind: &str, value: &str) -> NewIndicator {
    NewIndicator {
        source_id: source,
        stix_id: stix_id.to_string(),
        kind: kind.to_string(),
        value: Some(value.to_string()),
        values: vec![format!("{kind}:{value}")],
        pattern: Some(format!("[{kind}:value = '{value}']")),
        name: Some(format!("bad {value}")),
        description: None,
        confidence: 80,
        tlp: Some("amber".into()),
        valid_from: Some(at("2026-01-01T00:00:00Z")),
        valid_until: Some(at("2027-01-01T00:00:00Z")),
        labels: vec!["c2".into()],
        kill_chain: vec!["mitre-attack:command-and-control".into()],
        attack_ids: vec!["T1071.001".into()],
        modified: at("2026-02-01T00:00:00Z"),
        revoked: false,
        object: json!({"type": "indicator", "id": stix_id, "spec_version": "2.1"}),
    }
}

fn source_query(source: IntelSourceId) -> IndicatorQuery {
    IndicatorQuery {
        source_id: Some(source),
        ..IndicatorQuery::default()
    }
}

pub async fn intel_sources_upsert_by_name(store: S) {
    let a = new_source(&store, "feed").await;
    let again = store
        .upsert_intel_source(NewIntelSource {
            enabled: false,
            trust: 10,
            url: Some("https://taxii.example/api1/".into()),
            ..a.spec.clone()
        })
        .await
        .expect("upsert");
    assert_eq!(again.id, a.id);
    assert!(!again.spec.enabled);
    assert_eq!(again.spec.trust, 10);
    assert_eq!(again.created_at, a.created_at);
    assert_eq!(
        store.get_intel_source(a.id).await.expect("get"),
        Some(again.clone())
    );
    let all = store.list_intel_sources().await.expect("list");
    assert!(all.contains(&again));
    let bad = store
        .upsert_intel_source(NewIntelSource {
            trust: 101,
            ..a.spec
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    assert_eq!(
        store
            .get_intel_source(IntelSourceId::new())
            .await
            .expect("get"),
        None
    );
}

pub async fn indicators_upsert_is_idempotent_and_newer_wins(store: S) {
    let src = new_source(&store, "idem").await;
    let other = new_source(&store, "idem-other").await;
    let id = format!("indicator--{}", uuid::Uuid::new_v4());
    let first = indicator(src.id, &id, "ipv4", "198.51.100.7");
    let c = store
        .upsert_indicators(vec![first.clone()])
        .await
        .expect("insert");
    assert_eq!((c.inserted, c.updated, c.unchanged), (1, 0, 0));
    let stored = store
        .list_indicators(&source_query(src.id))
        .await
        .expect("list")
        .items;
    assert_eq!(stored.len(), 1);
    let s0 = stored[0].clone();
    assert_eq!(s0.spec, first);
    assert_eq!(s0.first_seen, s0.date_added);
    assert_eq!(
        store.get_indicator(s0.id).await.expect("get"),
        Some(s0.clone())
    );

    // The same version again changes nothing but last_seen.
    let c = store
        .upsert_indicators(vec![first.clone()])
        .await
        .expect("again");
    assert_eq!((c.inserted, c.updated, c.unchanged), (0, 0, 1));
    let s1 = store
        .get_indicator(s0.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(s1.spec, first);
    assert_eq!(s1.date_added, s0.date_added);
    assert!(s1.last_seen >= s0.last_seen);

    // An older version loses; a newer one wins and moves date_added.
    let older = NewIndicator {
        modified: at("2026-01-15T00:00:00Z"),
        confidence: 10,
        ..first.clone()
    };
    let newer = NewIndicator {
        modified: at("2026-03-01T00:00:00Z"),
        confidence: 95,
        value: Some("198.51.100.8".into()),
        values: vec!["ipv4:198.51.100.8".into(), "ipv4:198.51.100.9".into()],
        ..first.clone()
    };
    let c = store
        .upsert_indicators(vec![older, newer.clone()])
        .await
        .expect("versions");
    assert_eq!((c.inserted, c.updated, c.unchanged), (0, 1, 1));
    let s2 = store
        .get_indicator(s0.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(s2.spec, newer);
    assert_eq!(s2.first_seen, s0.first_seen);
    assert!(s2.date_added >= s0.date_added);
    // The old value is no longer found; both new ones are.
    for (v, n) in [
        ("198.51.100.7", 0),
        ("198.51.100.8", 1),
        ("198.51.100.9", 1),
    ] {
        let page = store
            .list_indicators(&IndicatorQuery {
                value: Some(v.into()),
                ..source_query(src.id)
            })
            .await
            .expect("by value");
        assert_eq!(page.items.len(), n, "{v}");
    }

    // The same STIX id from another source is another indicator.
    let c = store
        .upsert_indicators(vec![indicator(other.id, &id, "ipv4", "198.51.100.7")])
        .await
        .expect("other source");
    assert_eq!(c.inserted, 1);
    let by_id = store
        .list_indicators(&IndicatorQuery {
            stix_id: Some(id.clone()),
            ..IndicatorQuery::default()
        })
        .await
        .expect("by stix id");
    assert_eq!(by_id.items.len(), 2);

    // A missing source or an invalid indicator stores nothing of the batch.
    let r = store
        .upsert_indicators(vec![
            indicator(src.id, "indicator--x1", "domain", "a.example"),
            indicator(IntelSourceId::new(), "indicator--x2", "domain", "b.example"),
        ])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let r = store
        .upsert_indicators(vec![
            indicator(src.id, "indicator--x3", "domain", "c.example"),
            NewIndicator {
                confidence: 101,
                ..indicator(src.id, "indicator--x4", "domain", "d.example")
            },
        ])
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let all = store
        .list_indicators(&source_query(src.id))
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1);
}

pub async fn indicators_filters_and_pagination(store: S) {
    let src = new_source(&store, "pages").await;
    let mut batch = Vec::new();
    for i in 0..7 {
        batch.push(indicator(
            src.id,
            &format!("indicator--{}", uuid::Uuid::new_v4()),
            "domain",
            &format!("host{i}.evil.example"),
        ));
    }
    batch.push(indicator(
        src.id,
        &format!("indicator--{}", uuid::Uuid::new_v4()),
        "sha256",
        &"ab".repeat(32),
    ));
    let before = now();
    store.upsert_indicators(batch).await.expect("insert");

    for oldest_first in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_indicators(&IndicatorQuery {
                    limit: 3,
                    cursor,
                    oldest_first,
                    ..source_query(src.id)
                })
                .await
                .expect("page");
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|i| (i.date_added, i.id)));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 8);
        let mut sorted = seen.clone();
        sorted.sort();
        if !oldest_first {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "order oldest_first={oldest_first}");
    }

    let kind = store
        .list_indicators(&IndicatorQuery {
            kind: Some("sha256".into()),
            ..source_query(src.id)
        })
        .await
        .expect("kind");
    assert_eq!(kind.items.len(), 1);
    let text = store
        .list_indicators(&IndicatorQuery {
            text: Some("HOST3.EVIL".into()),
            ..source_query(src.id)
        })
        .await
        .expect("text");
    assert_eq!(text.items.len(), 1);
    assert_eq!(
        text.items[0].spec.value.as_deref(),
        Some("host3.evil.example")
    );
    // LIKE metacharacters are literal.
    let pct = store
        .list_indicators(&IndicatorQuery {
            text: Some("host%".into()),
            ..source_query(src.id)
        })
        .await
        .expect("text");
    assert!(pct.items.is_empty());
    let after = store
        .list_indicators(&IndicatorQuery {
            added_after: Some(secs(before, -3600)),
            ..source_query(src.id)
        })
        .await
        .expect("added after");
    assert_eq!(after.items.len(), 8);
    let latest = after.items[0].date_added;
    let none = store
        .list_indicators(&IndicatorQuery {
            added_after: Some(latest),
            ..source_query(src.id)
        })
        .await
        .expect("added after latest");
    assert!(none.items.is_empty());
}

pub async fn indicators_revoke_and_delete(store: S) {
    let src = new_source(&store, "revoke").await;
    store
        .upsert_indicators(vec![
            indicator(src.id, "indicator--r1", "domain", "r1.example"),
            indicator(src.id, "indicator--r2", "domain", "r2.example"),
            NewIndicator {
                revoked: true,
                ..indicator(src.id, "indicator--r3", "domain", "r3.example")
            },
        ])
        .await
        .expect("insert");
    let listed = store
        .list_indicators(&source_query(src.id))
        .await
        .expect("list")
        .items;
    // Revoked by the source: left out unless asked for.
    assert_eq!(listed.len(), 2);
    let with_revoked = store
        .list_indicators(&IndicatorQuery {
            include_revoked: true,
            ..source_query(src.id)
        })
        .await
        .expect("list")
        .items;
    assert_eq!(with_revoked.len(), 3);
    let r1 = listed
        .iter()
        .find(|i| i.spec.stix_id == "indicator--r1")
        .expect("r1")
        .clone();
    let revoked = store
        .revoke_indicator(r1.id)
        .await
        .expect("revoke")
        .expect("found");
    assert!(revoked.is_revoked());
    assert!(revoked.revoked_at.is_some());
    assert!(revoked.date_added >= r1.date_added);
    let listed = store
        .list_indicators(&source_query(src.id))
        .await
        .expect("list")
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        store
            .revoke_indicator(IndicatorId::new())
            .await
            .expect("revoke"),
        None
    );
    assert!(store.delete_indicator(r1.id).await.expect("delete"));
    assert!(!store.delete_indicator(r1.id).await.expect("delete again"));
    assert_eq!(store.get_indicator(r1.id).await.expect("get"), None);
}

pub async fn sightings_are_scoped(store: S) {
    let a = new_org(&store, "Sight A").await;
    let b = new_org(&store, "Sight B").await;
    let src = new_source(&store, "sight").await;
    store
        .upsert_indicators(vec![indicator(
            src.id,
            "indicator--s1",
            "ipv4",
            "203.0.113.9",
        )])
        .await
        .expect("insert");
    let ind = store
        .list_indicators(&source_query(src.id))
        .await
        .expect("list")
        .items
        .remove(0);
    let base = at("2026-05-01T08:00:00Z");
    let spec = |org: OrgId, s: i64| NewSighting {
        indicator_id: ind.id,
        org_id: org,
        event_id: Some(42),
        alert_id: None,
        seen_at: secs(base, s),
        count: 3,
    };
    let made = store
        .record_sightings(
            Scope::All,
            vec![spec(a.id, 0), spec(a.id, 10), spec(b.id, 20)],
        )
        .await
        .expect("record");
    assert_eq!(made.len(), 3);
    // An organization cannot record for another one, nor for a missing indicator.
    let r = store
        .record_sightings(Scope::Org(a.id), vec![spec(b.id, 30)])
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let r = store
        .record_sightings(
            Scope::All,
            vec![NewSighting {
                indicator_id: IndicatorId::new(),
                ..spec(a.id, 40)
            }],
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");

    let q = SightingQuery {
        indicator_id: Some(ind.id),
        ..SightingQuery::default()
    };
    let all = store.list_sightings(Scope::All, &q).await.expect("all");
    assert_eq!(all.items.len(), 3);
    assert_eq!(all.items[0].spec.org_id, b.id);
    assert_eq!(all.items[0].spec.seen_at, secs(base, 20));
    assert_eq!(all.items[0], made[2]);
    let only_a = store
        .list_sightings(Scope::Org(a.id), &q)
        .await
        .expect("scoped");
    assert_eq!(only_a.items.len(), 2);
    assert!(only_a.items.iter().all(|s| s.spec.org_id == a.id));
    // Asking for another organization inside a scope finds nothing.
    let cross = store
        .list_sightings(
            Scope::Org(a.id),
            &SightingQuery {
                org_id: Some(b.id),
                ..q.clone()
            },
        )
        .await
        .expect("cross");
    assert!(cross.items.is_empty());
    let page1 = store
        .list_sightings(
            Scope::All,
            &SightingQuery {
                limit: 2,
                ..q.clone()
            },
        )
        .await
        .expect("page 1");
    assert_eq!(page1.items.len(), 2);
    let page2 = store
        .list_sightings(
            Scope::All,
            &SightingQuery {
                limit: 2,
                cursor: page1.next_cursor.clone(),
                ..q.clone()
            },
        )
        .await
        .expect("page 2");
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].spec.seen_at, base);
    assert!(page2.next_cursor.is_none());
    // Deleting the indicator takes its sightings.
    assert!(store.delete_indicator(ind.id).await.expect("delete"));
    let gone = store.list_sightings(Scope::All, &q).await.expect("gone");
    assert!(gone.items.is_empty());
}
