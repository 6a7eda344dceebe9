//! Conformance: personal contact fields are encrypted at rest ([`crate::sealed`]).
//!
//! Unlike the rest of the suite this needs more than the [`Store`] API: the raw stored text
//! and stores over the same database with other keys. Each backend provides them through a
//! [`SealedHarness`] and calls [`contact_fields_are_encrypted_at_rest`] from its own tests.

use super::{S, asset_spec, org_spec, uniq};
use crate::{AssetQuery, OrgQuery, StoreError};
use async_trait::async_trait;
use serde_json::Value;
use vigil_crypto::FieldKey;
use vigil_model::{AssetId, AssetKind, Contact, OrgId, Scope};

/// What a backend gives the sealed-field test.
#[async_trait]
pub trait SealedHarness: Send + Sync {
    /// A store over the harness's one database, with `key` as its field key (or none).
    async fn open(&self, key: Option<FieldKey>) -> S;
    /// The stored JSON text of the organization's `responsible` and `contacts`.
    async fn raw_org_contacts(&self, id: OrgId) -> (String, String);
    /// Replaces the stored `responsible` and `contacts` JSON of the organization as they are
    /// (a row written before encryption was on, or an altered one).
    async fn write_raw_org_contacts(&self, id: OrgId, responsible: &str, contacts: &str);
    /// The stored text that holds the asset's `responsible` (its whole spec, or the column).
    async fn raw_asset(&self, id: AssetId) -> String;
    /// The stored settings JSON text of the pipeline source `name`.
    async fn raw_source_settings(&self, name: &str) -> String;
}

/// A pipeline source's MQTT password is stored sealed under its source's name and read back in
/// clear; another key is an error naming the source and field; other settings stay in clear.
pub async fn pipeline_source_passwords_are_encrypted_at_rest(h: &dyn SealedHarness) {
    let key = FieldKey::generate();
    let store = h.open(Some(key)).await;
    let name = format!("plant-mqtt-{}", uniq());
    let t = vigil_model::Timestamp::UNIX_EPOCH;
    let secret = format!("broker-secret-{}", uniq());
    let spec = crate::PipelineSource {
        name: name.clone(),
        kind: "mqtt".into(),
        settings: serde_json::json!({
            "url": "mqtt://127.0.0.1:1883",
            "username": "vigil",
            "password": secret,
            "topics": ["plant/#"],
        }),
        enabled: true,
        origin: crate::SourceOrigin::Api,
        created_by: "admin".into(),
        created_at: t,
        updated_by: "admin".into(),
        updated_at: t,
    };
    let stored = store.put_pipeline_source(spec.clone()).await.expect("put");
    assert_eq!(stored.settings, spec.settings);
    let got = store
        .get_pipeline_source(&name)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.settings["password"], secret.as_str());
    let listed = store.list_pipeline_sources().await.expect("list");
    assert!(
        listed
            .iter()
            .any(|s| s.name == name && s.settings == spec.settings)
    );
    let raw = h.raw_source_settings(&name).await;
    assert!(!raw.contains(&secret), "stored in clear: {raw}");
    assert!(raw.contains(crate::sealed::SEALED_PREFIX), "{raw}");
    assert!(raw.contains("plant/#") && raw.contains("vigil"), "{raw}");
    let other = h.open(Some(FieldKey::generate())).await;
    let e = other
        .get_pipeline_source(&name)
        .await
        .expect_err("wrong key");
    assert_sealed_error(e, &format!("pipeline_source/{name}"), "settings/password");
    assert!(store.delete_pipeline_source(&name).await.expect("delete"));
}

fn person(name: &str, tag: &str) -> Contact {
    Contact {
        name: format!("{name} {tag}"),
        title: Some("CISO".into()),
        phone: Some(format!("+86 138 {tag}")),
        email: Some(format!("{}.{tag}@example.cn", name.to_lowercase())),
    }
}

fn assert_hidden(raw: &str, contacts: &[&Contact]) {
    for c in contacts {
        for v in [Some(&c.name), c.phone.as_ref(), c.email.as_ref()]
            .into_iter()
            .flatten()
        {
            assert!(!raw.contains(v.as_str()), "{v:?} is stored in clear: {raw}");
        }
    }
    assert!(raw.contains(crate::sealed::SEALED_PREFIX), "{raw}");
}

fn assert_sealed_error(e: StoreError, record: &str, field: &str) {
    match &e {
        StoreError::Sealed {
            record: r,
            field: f,
            ..
        } => {
            assert_eq!((r.as_str(), f.as_str()), (record, field), "{e}");
            let msg = e.to_string();
            assert!(msg.contains(record) && msg.contains(field), "{msg}");
        }
        other => panic!("expected a sealed-field error for {record} {field}, got {other:?}"),
    }
}

/// Contacts written through the store are stored with name, phone and e-mail sealed (title in
/// clear) and read back in clear; the same holds for an asset's contact. Another key, or no
/// key, is an error naming the record and field; a sealed value moved to another field does
/// not open; values stored in clear before encryption read as they are and are sealed by the
/// next update.
pub async fn contact_fields_are_encrypted_at_rest(h: &dyn SealedHarness) {
    let key = FieldKey::generate();
    let store = h.open(Some(key.clone())).await;
    let tag = uniq();
    let mut spec = org_spec(&format!("Sealed {tag}"));
    spec.responsible = person("Zhang", &tag);
    spec.contacts = vec![person("Wang", &tag), person("Chen", &tag)];
    let org = store.create_org(spec.clone()).await.expect("create org");
    assert_eq!(org.spec, spec);

    // Read back in clear through every read path.
    let got = store
        .get_org(Scope::All, org.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.spec, spec);
    let listed = store
        .list_orgs(
            Scope::Org(org.id),
            &OrgQuery {
                text: Some(format!("sealed {tag}")),
                ..OrgQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].spec, spec);

    // Not in clear at rest; the title is.
    let (raw_r, raw_c) = h.raw_org_contacts(org.id).await;
    assert_hidden(&raw_r, &[&spec.responsible]);
    assert_hidden(&raw_c, &[&spec.contacts[0], &spec.contacts[1]]);
    assert!(raw_r.contains("CISO"), "{raw_r}");

    // An asset's contact too.
    let mut a = asset_spec(org.id, &format!("plc-{tag}"), AssetKind::Plc);
    a.responsible = Some(person("Liu", &tag));
    let asset = store
        .create_assets(Scope::All, vec![a.clone()])
        .await
        .expect("asset")
        .remove(0);
    assert_eq!(asset.spec, a);
    let got = store
        .get_asset(Scope::All, asset.id)
        .await
        .expect("get asset")
        .expect("asset exists");
    assert_eq!(got.spec.responsible, a.responsible);
    let page = store
        .list_assets(
            Scope::All,
            &AssetQuery {
                org_id: Some(org.id),
                ..AssetQuery::default()
            },
        )
        .await
        .expect("list assets");
    assert_eq!(page.items[0].spec.responsible, a.responsible);
    assert!(
        store
            .all_assets()
            .await
            .expect("all assets")
            .iter()
            .any(|x| x.id == asset.id && x.spec.responsible == a.responsible)
    );
    let raw_a = h.raw_asset(asset.id).await;
    assert_hidden(&raw_a, &[a.responsible.as_ref().expect("contact")]);
    let mut a2 = a.clone();
    a2.responsible = Some(person("Zhao", &tag));
    let updated = store
        .update_asset(Scope::All, asset.id, a2.clone())
        .await
        .expect("update asset")
        .expect("asset exists");
    assert_eq!(updated.spec.responsible, a2.responsible);
    assert_hidden(
        &h.raw_asset(asset.id).await,
        &[a2.responsible.as_ref().expect("contact")],
    );

    // Another key, or none: a clear error naming the record and field, never ciphertext.
    let record = format!("org/{}", org.id);
    for other in [h.open(Some(FieldKey::generate())).await, h.open(None).await] {
        let e = other
            .get_org(Scope::All, org.id)
            .await
            .expect_err("wrong key");
        assert_sealed_error(e, &record, "responsible/name");
        assert!(
            other
                .list_orgs(Scope::Org(org.id), &OrgQuery::default())
                .await
                .is_err()
        );
        let e = other
            .get_asset(Scope::All, asset.id)
            .await
            .expect_err("wrong key asset");
        assert_sealed_error(e, &format!("asset/{}", asset.id), "responsible/name");
    }

    // A sealed value moved to another field (or another record) does not open there.
    let mut moved: Value = serde_json::from_str(&raw_r).expect("responsible json");
    let contacts: Value = serde_json::from_str(&raw_c).expect("contacts json");
    moved["phone"] = contacts[0]["phone"].clone();
    h.write_raw_org_contacts(org.id, &moved.to_string(), &raw_c)
        .await;
    let e = store
        .get_org(Scope::All, org.id)
        .await
        .expect_err("moved value");
    assert_sealed_error(e, &record, "responsible/phone");
    let other_org = store
        .create_org(org_spec(&format!("Other {tag}")))
        .await
        .expect("other org");
    h.write_raw_org_contacts(other_org.id, &raw_r, "[]").await;
    let e = store
        .get_org(Scope::All, other_org.id)
        .await
        .expect_err("copied to another org");
    assert_sealed_error(e, &format!("org/{}", other_org.id), "responsible/name");

    // Written before encryption was on: read as it is, sealed by the next update.
    let legacy_r = format!(r#"{{"name":"Legacy Li {tag}","phone":"010-{tag}"}}"#);
    let legacy_c = format!(r#"[{{"name":"Old Wang {tag}","email":"old.{tag}@example.cn"}}]"#);
    h.write_raw_org_contacts(org.id, &legacy_r, &legacy_c).await;
    let legacy = store
        .get_org(Scope::All, org.id)
        .await
        .expect("legacy reads")
        .expect("exists");
    assert_eq!(legacy.spec.responsible.name, format!("Legacy Li {tag}"));
    assert_eq!(
        legacy.spec.responsible.phone.as_deref(),
        Some(format!("010-{tag}").as_str())
    );
    assert_eq!(
        legacy.spec.contacts[0].email.as_deref(),
        Some(format!("old.{tag}@example.cn").as_str())
    );
    let resealed = store
        .update_org(Scope::All, org.id, legacy.spec.clone())
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(resealed.spec, legacy.spec);
    let (raw_r, raw_c) = h.raw_org_contacts(org.id).await;
    assert_hidden(&raw_r, &[&legacy.spec.responsible]);
    assert_hidden(&raw_c, &[&legacy.spec.contacts[0]]);
    assert_eq!(
        store
            .get_org(Scope::All, org.id)
            .await
            .expect("get")
            .expect("exists")
            .spec,
        legacy.spec
    );
}
