//! Conformance: early warnings — target resolution over organizations and asset inventories,
//! recipients frozen at issue, scoped reads, idempotent acknowledgements.
//!
//! Target resolution looks at every organization, so these tests need a database of their
//! own (as every backend factory gives them): another test's Siemens PLC would be a
//! recipient too.

use super::{S, asset_spec, at, new_org, org_spec, uniq};
use crate::{StoreError, WarningQuery};
use std::collections::BTreeSet;
use vigil_model::{
    AssetCriterion, AssetKind, MiitEnterpriseType, NewAsset, NewWarning, OrgId, Organization,
    Scope, SoftwareComponent, WarningLevel, WarningTargets,
};

fn warning(title: &str, level: WarningLevel, targets: WarningTargets) -> NewWarning {
    NewWarning {
        title: title.to_string(),
        summary: "Exploitation observed in the wild; patch now.".into(),
        level,
        cves: vec!["CVE-2024-38876".into()],
        indicators: vec!["198.51.100.23".into()],
        affected_products: Some("SIMATIC S7-1200 CPU family, firmware before V4.7".into()),
        measures: Some("Restrict access to TCP 102; update firmware.".into()),
        response_deadline: Some(at("2026-06-01T00:00:00Z")),
        targets,
    }
}

fn device(org: OrgId, vendor: &str, model: &str, firmware: Option<&str>) -> NewAsset {
    NewAsset {
        vendor: Some(vendor.into()),
        model: Some(model.into()),
        firmware: firmware.map(str::to_string),
        ..asset_spec(org, &format!("{vendor} {model}"), AssetKind::Plc)
    }
}

fn software(org: OrgId, purl: &str, cpe: &str) -> NewAsset {
    NewAsset {
        software: vec![SoftwareComponent {
            name: "openssl".into(),
            version: None,
            purl: Some(purl.into()),
            cpe: Some(cpe.into()),
        }],
        ..asset_spec(org, "gateway", AssetKind::Host)
    }
}

struct World {
    /// Power, Hangzhou (330100), MLPS 3, CII, MIIT grade 2; a Siemens S7-1200 and OpenSSL 3.0.7.
    a: Organization,
    /// Water, Ningbo (330200), MLPS 2, not CII; a "siemens" S7-1200 with firmware V4.5.2.
    b: Organization,
    /// Power, Beijing (110100), MLPS 4, CII; a Schneider M340 and OpenSSL 1.1.1k.
    c: Organization,
}

async fn world(store: &S) -> World {
    let a = new_org(store, "Alpha").await;
    let mut spec = org_spec(&format!("Bravo {}", uniq()));
    spec.sector = "water".into();
    spec.region_code = "330200".into();
    spec.mlps_level = 2;
    spec.cii = false;
    spec.miit_type = None;
    spec.miit_grade = None;
    let b = store.create_org(spec).await.expect("org b");
    let mut spec = org_spec(&format!("Charlie {}", uniq()));
    spec.region_code = "110100".into();
    spec.mlps_level = 4;
    spec.miit_type = Some(MiitEnterpriseType::Platform);
    spec.miit_grade = Some(1);
    let c = store.create_org(spec).await.expect("org c");
    store
        .create_assets(
            Scope::All,
            vec![
                device(a.id, "Siemens", "S7-1200 CPU 1214C", Some("V4.6.0")),
                software(
                    a.id,
                    "pkg:generic/openssl@3.0.7",
                    "cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*",
                ),
                device(b.id, "siemens", "S7-1200", Some("V4.5.2")),
                device(c.id, "Schneider Electric", "Modicon M340", None),
                software(
                    c.id,
                    "pkg:generic/openssl@1.1.1k",
                    "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*",
                ),
            ],
        )
        .await
        .expect("assets");
    World { a, b, c }
}

async fn recipients_of(store: &S, targets: WarningTargets) -> BTreeSet<OrgId> {
    let w = store
        .create_warning(warning("t", WarningLevel::Yellow, targets), "user:analyst")
        .await
        .expect("create warning");
    let rows = store
        .list_warning_recipients(Scope::All, w.id, false)
        .await
        .expect("recipients")
        .expect("visible");
    assert_eq!(w.recipients, rows.len() as u64);
    rows.into_iter().map(|r| r.org_id).collect()
}

fn set(ids: &[OrgId]) -> BTreeSet<OrgId> {
    ids.iter().copied().collect()
}

fn assets(criteria: Vec<AssetCriterion>) -> WarningTargets {
    WarningTargets {
        assets: criteria,
        ..WarningTargets::default()
    }
}

/// Every kind of criterion selects the organizations it should, alone and combined; explicit
/// ids add to the filters; nobody matching and a missing explicit id are refused; the list
/// is frozen at issue.
pub async fn warning_targets_resolve_from_directory_and_assets(store: S) {
    let World { a, b, c } = world(&store).await;
    let siemens_s7 = AssetCriterion {
        vendor: Some("Siemens".into()),
        product: Some("S7-1200".into()),
        ..AssetCriterion::default()
    };
    // Vendor equal ignoring case, product a prefix of the model.
    assert_eq!(
        recipients_of(&store, assets(vec![siemens_s7.clone()])).await,
        set(&[a.id, b.id])
    );
    // All fields of one criterion on the same asset: C's Schneider is no S7-1200.
    let r = store
        .create_warning(
            warning(
                "none",
                WarningLevel::Blue,
                assets(vec![AssetCriterion {
                    vendor: Some("Schneider Electric".into()),
                    product: Some("S7-1200".into()),
                    ..AssetCriterion::default()
                }]),
            ),
            "user:analyst",
        )
        .await;
    match r {
        Err(StoreError::Invalid(v)) => assert_eq!(v.field, "targets"),
        other => panic!("a warning reaching nobody must be refused: {other:?}"),
    }
    // Firmware prefix.
    assert_eq!(
        recipients_of(
            &store,
            assets(vec![AssetCriterion {
                vendor: Some("SIEMENS".into()),
                firmware: Some("v4.5".into()),
                ..AssetCriterion::default()
            }])
        )
        .await,
        set(&[b.id])
    );
    // Software inventory by purl and by CPE prefix; criteria are alternatives.
    assert_eq!(
        recipients_of(
            &store,
            assets(vec![AssetCriterion {
                purl_prefix: Some("pkg:generic/openssl@3.0".into()),
                ..AssetCriterion::default()
            }])
        )
        .await,
        set(&[a.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            assets(vec![
                AssetCriterion {
                    cpe_prefix: Some("cpe:2.3:a:openssl:openssl:1.1.1".into()),
                    ..AssetCriterion::default()
                },
                AssetCriterion {
                    product: Some("s7-1200".into()),
                    ..AssetCriterion::default()
                },
            ])
        )
        .await,
        set(&[a.id, b.id, c.id])
    );
    // A LIKE metacharacter in a prefix is literal.
    let r = store
        .create_warning(
            warning(
                "literal",
                WarningLevel::Blue,
                assets(vec![AssetCriterion {
                    product: Some("S7_1200".into()),
                    ..AssetCriterion::default()
                }]),
            ),
            "user:analyst",
        )
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");

    // Directory criteria.
    let regions = |p: &[&str]| WarningTargets {
        region_prefixes: p.iter().map(|s| s.to_string()).collect(),
        ..WarningTargets::default()
    };
    assert_eq!(
        recipients_of(&store, regions(&["3301"])).await,
        set(&[a.id])
    );
    assert_eq!(
        recipients_of(&store, regions(&["33"])).await,
        set(&[a.id, b.id])
    );
    assert_eq!(
        recipients_of(&store, regions(&["330200", "11"])).await,
        set(&[b.id, c.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                sectors: vec!["power".into()],
                mlps_min: Some(4),
                ..WarningTargets::default()
            }
        )
        .await,
        set(&[c.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                cii_only: true,
                ..regions(&["33"])
            }
        )
        .await,
        set(&[a.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                miit_grade_min: Some(2),
                ..WarningTargets::default()
            }
        )
        .await,
        set(&[a.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                sectors: vec!["water".into(), "power".into()],
                ..WarningTargets::default()
            }
        )
        .await,
        set(&[a.id, b.id, c.id])
    );
    // Filters combine with AND, explicit ids with OR.
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                org_ids: vec![c.id],
                sectors: vec!["water".into()],
                ..assets(vec![siemens_s7.clone()])
            }
        )
        .await,
        set(&[b.id, c.id])
    );
    assert_eq!(
        recipients_of(
            &store,
            WarningTargets {
                all: true,
                ..WarningTargets::default()
            }
        )
        .await,
        set(&[a.id, b.id, c.id])
    );
    // A missing explicit organization is a missing reference, and nothing is stored.
    let before = store
        .list_warnings(Scope::All, &WarningQuery::default())
        .await
        .expect("list")
        .items
        .len();
    let r = store
        .create_warning(
            warning(
                "ghost",
                WarningLevel::Red,
                WarningTargets {
                    org_ids: vec![a.id, OrgId::new()],
                    ..WarningTargets::default()
                },
            ),
            "user:analyst",
        )
        .await;
    assert!(matches!(r, Err(StoreError::MissingReference(_))), "{r:?}");
    let after = store
        .list_warnings(Scope::All, &WarningQuery::default())
        .await
        .expect("list")
        .items
        .len();
    assert_eq!(before, after);

    // Frozen at issue: a new matching asset later does not add its organization.
    let w = store
        .create_warning(
            warning("frozen", WarningLevel::Orange, assets(vec![siemens_s7])),
            "user:analyst",
        )
        .await
        .expect("create");
    store
        .create_assets(Scope::All, vec![device(c.id, "Siemens", "S7-1200", None)])
        .await
        .expect("asset");
    let rows = store
        .list_warning_recipients(Scope::All, w.id, false)
        .await
        .expect("recipients")
        .expect("visible");
    let orgs: BTreeSet<OrgId> = rows.iter().map(|r| r.org_id).collect();
    assert_eq!(orgs, set(&[a.id, b.id]));
}

/// An organization sees a warning only when it is a recipient, and only its own row; the
/// first acknowledgement sticks; lists filter and page.
pub async fn warnings_are_scoped_and_acknowledged_once(store: S) {
    let World { a, b, c } = world(&store).await;
    let spec = warning(
        "S7-1200 remote code execution",
        WarningLevel::Red,
        WarningTargets {
            org_ids: vec![a.id, b.id],
            ..WarningTargets::default()
        },
    );
    let w = store
        .create_warning(spec.clone(), "user:analyst")
        .await
        .expect("create");
    assert_eq!((w.recipients, w.acknowledged), (2, 0));
    assert_eq!(w.issued_by, "user:analyst");
    assert_eq!(w.spec, spec);
    let got = store
        .get_warning(Scope::All, w.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(got, w, "what create returns is what get returns");

    // Another organization: nothing, exactly like a missing warning.
    let c_scope = Scope::Org(c.id);
    assert_eq!(store.get_warning(c_scope, w.id).await.expect("get"), None);
    assert_eq!(
        store
            .list_warning_recipients(c_scope, w.id, false)
            .await
            .expect("recipients"),
        None
    );
    let listed = store
        .list_warnings(c_scope, &WarningQuery::default())
        .await
        .expect("list");
    assert!(listed.items.is_empty());
    assert_eq!(
        store
            .acknowledge_warning(c_scope, w.id, c.id, "user:c", None)
            .await
            .expect("ack"),
        None
    );
    // A recipient cannot acknowledge for another one.
    let a_scope = Scope::Org(a.id);
    assert_eq!(
        store
            .acknowledge_warning(a_scope, w.id, b.id, "user:a", None)
            .await
            .expect("ack"),
        None
    );

    // A recipient sees the warning with its own row only, and no other organization's id.
    let seen = store
        .get_warning(a_scope, w.id)
        .await
        .expect("get")
        .expect("visible to a recipient");
    assert_eq!((seen.recipients, seen.acknowledged), (1, 0));
    assert_eq!(seen.spec.targets.org_ids, vec![a.id]);
    let own = store
        .list_warning_recipients(a_scope, w.id, false)
        .await
        .expect("recipients")
        .expect("visible");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].org_id, a.id);
    assert_eq!(own[0].org_name, a.spec.name);
    assert_eq!(own[0].delivered_at, w.issued_at);

    // The first acknowledgement sets time, actor and response; a second keeps them.
    let first = store
        .acknowledge_warning(a_scope, w.id, a.id, "user:a", Some("patched".into()))
        .await
        .expect("ack")
        .expect("recipient");
    assert!(first.newly);
    assert_eq!(first.recipient.acknowledged_by.as_deref(), Some("user:a"));
    assert_eq!(first.recipient.response.as_deref(), Some("patched"));
    let at_first = first.recipient.acknowledged_at.expect("acknowledged");
    let again = store
        .acknowledge_warning(Scope::All, w.id, a.id, "user:staff", Some("other".into()))
        .await
        .expect("ack")
        .expect("recipient");
    assert!(!again.newly);
    assert_eq!(again.recipient, first.recipient);
    assert_eq!(again.recipient.acknowledged_at, Some(at_first));
    // Too long a response is refused with its field.
    let r = store
        .acknowledge_warning(
            Scope::All,
            w.id,
            b.id,
            "user:staff",
            Some("x".repeat(vigil_model::warning::MAX_RESPONSE_CHARS + 1)),
        )
        .await;
    match r {
        Err(StoreError::Invalid(v)) => assert_eq!(v.field, "response"),
        other => panic!("{other:?}"),
    }

    // Staff see every row and the pending list.
    let all = store
        .list_warning_recipients(Scope::All, w.id, false)
        .await
        .expect("recipients")
        .expect("visible");
    assert_eq!(
        all.iter().map(|r| r.org_id).collect::<Vec<_>>(),
        vec![a.id, b.id],
        "ordered by organization name"
    );
    assert!(all[0].acknowledged_at.is_some() && all[1].acknowledged_at.is_none());
    let pending = store
        .list_warning_recipients(Scope::All, w.id, true)
        .await
        .expect("pending")
        .expect("visible");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].org_id, b.id);
    assert_eq!(
        store
            .list_warning_recipients(a_scope, w.id, true)
            .await
            .expect("pending")
            .expect("visible"),
        vec![]
    );
    let progress = store
        .get_warning(Scope::All, w.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!((progress.recipients, progress.acknowledged), (2, 1));
    assert_eq!(progress.pending(), 1);

    // Lists: level, since, recipient organization, (un)acknowledged, pages.
    let blue = store
        .create_warning(
            warning(
                "blue",
                WarningLevel::Blue,
                WarningTargets {
                    org_ids: vec![b.id, c.id],
                    ..WarningTargets::default()
                },
            ),
            "user:analyst",
        )
        .await
        .expect("create");
    let third = store
        .create_warning(
            warning(
                "third",
                WarningLevel::Red,
                WarningTargets {
                    org_ids: vec![c.id],
                    ..WarningTargets::default()
                },
            ),
            "user:analyst",
        )
        .await
        .expect("create");
    let ids = |p: crate::Page<vigil_model::Warning>| -> Vec<_> {
        p.items.into_iter().map(|w| w.id).collect()
    };
    let q = |f: fn(&mut WarningQuery)| {
        let mut q = WarningQuery::default();
        f(&mut q);
        q
    };
    let list = |scope: Scope, q: WarningQuery| {
        let store = store.clone();
        async move { store.list_warnings(scope, &q).await.expect("list") }
    };
    assert_eq!(
        ids(list(Scope::All, WarningQuery::default()).await),
        vec![third.id, blue.id, w.id]
    );
    assert_eq!(
        ids(list(Scope::All, q(|q| q.level = Some(WarningLevel::Red))).await),
        vec![third.id, w.id]
    );
    let since = blue.issued_at;
    assert_eq!(
        ids(list(
            Scope::All,
            WarningQuery {
                since: Some(since),
                ..WarningQuery::default()
            }
        )
        .await),
        vec![third.id, blue.id]
    );
    assert_eq!(
        ids(list(
            Scope::All,
            WarningQuery {
                org_id: Some(a.id),
                ..WarningQuery::default()
            }
        )
        .await),
        vec![w.id]
    );
    // Within A's scope its warning is fully acknowledged; across the platform it is not.
    assert_eq!(
        ids(list(a_scope, q(|q| q.unacknowledged = Some(true))).await),
        Vec::<vigil_model::WarningId>::new()
    );
    assert_eq!(
        ids(list(a_scope, q(|q| q.unacknowledged = Some(false))).await),
        vec![w.id]
    );
    assert_eq!(
        ids(list(Scope::All, q(|q| q.unacknowledged = Some(true))).await),
        vec![third.id, blue.id, w.id]
    );
    // Asking for another organization inside a scope finds nothing.
    assert!(
        list(
            a_scope,
            WarningQuery {
                org_id: Some(b.id),
                ..WarningQuery::default()
            }
        )
        .await
        .items
        .is_empty()
    );
    // B sees the two addressed to it, with its own counts only.
    let for_b = list(Scope::Org(b.id), WarningQuery::default()).await;
    assert_eq!(
        for_b.items.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![blue.id, w.id]
    );
    assert!(
        for_b
            .items
            .iter()
            .all(|w| w.recipients == 1 && w.acknowledged == 0)
    );
    assert!(
        for_b
            .items
            .iter()
            .all(|w| w.spec.targets.org_ids == vec![b.id])
    );
    let page1 = list(
        Scope::All,
        WarningQuery {
            limit: 2,
            ..WarningQuery::default()
        },
    )
    .await;
    assert_eq!(ids(page1.clone()), vec![third.id, blue.id]);
    let page2 = list(
        Scope::All,
        WarningQuery {
            limit: 2,
            cursor: page1.next_cursor,
            ..WarningQuery::default()
        },
    )
    .await;
    assert_eq!(ids(page2.clone()), vec![w.id]);
    assert!(page2.next_cursor.is_none());
    let bad = store
        .list_warnings(
            Scope::All,
            &WarningQuery {
                cursor: Some("garbage".into()),
                ..WarningQuery::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::BadCursor(_))), "{bad:?}");
}
