//! The conformance suite on PostgreSQL, and PostgreSQL-specific behaviour (migrations, schemas,
//! COPY, the audit lock under concurrency).
//!
//! Every test works in a fresh schema (`t_<uuid>`) of the database named by
//! `VIGIL_TEST_POSTGRES_URL`, dropped when the test's store is, so tests run concurrently in
//! one database without seeing each other's data. Without the variable they print a SKIP line
//! and pass, unless `VIGIL_TEST_REQUIRE=1`, which makes the missing variable a failure.

use std::collections::BTreeMap;
use std::sync::Arc;
use vigil_model::{
    Contact, NewAuditRecord, NewEvent, NewOrganization, OrgId, Provenance, Scope, Timestamp,
};
use vigil_store::postgres::PgStore;
use vigil_store::{EventQuery, FieldFilter, Store, StoreError};

const VAR: &str = "VIGIL_TEST_POSTGRES_URL";

/// A unique schema name for one test.
fn schema_name() -> String {
    format!("t_{}", uuid::Uuid::now_v7().simple())
}

/// A store in a fresh schema that goes with the store, or `None` (after a SKIP line) when
/// PostgreSQL is not configured.
async fn pg_store(test: &str) -> Option<PgStore> {
    let url = vigil_testkit::service_url(VAR, test)?;
    match PgStore::connect_with_schema(&url, &schema_name()).await {
        Ok(s) => Some(s.drop_schema_when_dropped()),
        Err(e) => panic!("{test}: cannot open PostgreSQL store: {e}"),
    }
}

async fn open_store() -> Option<Arc<dyn Store>> {
    let store = pg_store("postgres conformance").await?;
    Some(Arc::new(store))
}

vigil_store::store_conformance!(conformance, open_store());

fn org_spec(name: &str) -> NewOrganization {
    NewOrganization {
        name: name.into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 3,
        cii: true,
        miit_type: None,
        miit_grade: None,
        responsible: Contact {
            name: "Li Wei".into(),
            ..Contact::default()
        },
        contacts: vec![],
    }
}

fn event(org: OrgId, second: i64, fields: &[(&str, serde_json::Value)], raw: &[u8]) -> NewEvent {
    let t = Timestamp::from_second(1_762_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH);
    NewEvent {
        org_id: org,
        asset_id: None,
        timestamp: t,
        received_at: t,
        provenance: Provenance {
            input: "test".into(),
            sender: Some("127.0.0.1".into()),
        },
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        native: BTreeMap::new(),
        raw: raw.to_vec(),
    }
}

#[tokio::test]
async fn pg_migrations_are_recorded_and_rerun_safely_in_parallel() {
    let Some(url) = vigil_testkit::service_url(VAR, "pg_migrations") else {
        return;
    };
    let schema = schema_name();
    // Several processes starting at once against a fresh schema: the advisory lock queues
    // them, and exactly one applies each migration.
    let opens = (0..4).map(|_| PgStore::connect_with_schema(&url, &schema));
    let stores = futures_util::future::join_all(opens).await;
    let mut ok = Vec::new();
    for s in stores {
        match s {
            // Each store drops the schema when it goes; the later ones find it gone.
            Ok(s) => ok.push(s.drop_schema_when_dropped()),
            Err(e) => panic!("parallel open failed: {e}"),
        }
    }
    // Opening again finds everything applied.
    let store = PgStore::connect_with_schema(&url, &schema)
        .await
        .expect("reopen");
    let client = store.pool().get().await.expect("connection");
    let rows = client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations");
    let applied: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i32, String)> = vigil_store::postgres::migrate::MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_string()))
        .collect();
    assert_eq!(applied, expected);
    drop(client);
}

#[tokio::test]
async fn pg_schemas_keep_stores_apart() {
    let Some(a) = pg_store("pg_schemas_keep_stores_apart").await else {
        return;
    };
    let Some(b) = pg_store("pg_schemas_keep_stores_apart").await else {
        return;
    };
    a.create_org(org_spec("Same Name Co."))
        .await
        .expect("org a");
    // The same unique name is free in the other schema.
    b.create_org(org_spec("Same Name Co."))
        .await
        .expect("org b");
    let all = vigil_store::OrgQuery::default();
    assert_eq!(
        a.list_orgs(Scope::All, &all).await.map(|v| v.len()).ok(),
        Some(1)
    );
    assert!(matches!(
        a.create_org(org_spec("Same Name Co.")).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn pg_copy_keeps_input_order_and_survives_nul_characters() {
    let Some(store) = pg_store("pg_copy_keeps_input_order").await else {
        return;
    };
    let org = store
        .create_org(org_spec("Copy Co."))
        .await
        .expect("org")
        .id;
    let batch: Vec<NewEvent> = (0..2_500)
        .map(|i| {
            event(
                org,
                i % 7,
                &[
                    ("event.action", serde_json::json!(format!("a{i}"))),
                    ("destination.port", serde_json::json!(502)),
                ],
                format!("line {i}").as_bytes(),
            )
        })
        .collect();
    let ids = store.append_events(batch).await.expect("append");
    assert_eq!(ids.len(), 2_500);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids ascend in input order"
    );
    let e = store
        .get_event(Scope::All, ids[1234])
        .await
        .expect("get")
        .expect("found");
    assert_eq!(e.event.fields["event.action"], "a1234");

    // NUL is not allowed in PostgreSQL text or jsonb; the event still goes in.
    let nul = event(
        org,
        100,
        &[
            ("message", serde_json::json!("bad\0byte")),
            ("x\0y", serde_json::json!(1)),
        ],
        b"raw\0bytes",
    );
    let id = store.append_events(vec![nul]).await.expect("append nul")[0];
    let back = store
        .get_event(Scope::All, id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(back.event.raw, b"raw\0bytes".to_vec());
    assert_eq!(back.event.fields["message"], "bad\u{fffd}byte");

    // Indexed (column) and other (jsonb) fields both filter.
    let q = EventQuery {
        filters: vec![
            FieldFilter {
                field: "destination.port".into(),
                value: "502".into(),
            },
            FieldFilter {
                field: "event.action".into(),
                value: "a7".into(),
            },
        ],
        ..EventQuery::default()
    };
    let page = store
        .search_events(Scope::Org(org), &q)
        .await
        .expect("search");
    assert_eq!(page.items.len(), 1);
    let q = EventQuery {
        filters: vec![FieldFilter {
            field: "x\u{fffd}y".into(),
            value: "1".into(),
        }],
        text: Some("BAD".into()),
        ..EventQuery::default()
    };
    let page = store.search_events(Scope::All, &q).await.expect("search");
    assert_eq!(
        page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id]
    );
}

#[tokio::test]
async fn pg_concurrent_audit_appends_form_one_chain() {
    let Some(store) = pg_store("pg_concurrent_audit_appends").await else {
        return;
    };
    let store = Arc::new(store);
    let tasks = (0..24).map(|i| {
        let s = store.clone();
        tokio::spawn(async move {
            s.append_audit(NewAuditRecord {
                actor: format!("user:u{i}"),
                action: "test.append".into(),
                object: format!("thing/{i}"),
                outcome: vigil_model::AuditOutcome::Success,
                org_id: None,
                detail: String::new(),
            })
            .await
        })
    });
    for t in futures_util::future::join_all(tasks).await {
        t.expect("task").expect("append");
    }
    let records = store
        .list_audit(&vigil_store::AuditQuery::default())
        .await
        .expect("list");
    assert_eq!(records.len(), 24);
    assert_eq!(records.first().map(|r| r.seq), Some(1));
    vigil_crypto::verify_audit_chain(vigil_crypto::AUDIT_GENESIS, &records).expect("chain");
}

#[tokio::test]
async fn pg_rejects_bad_schema_names_and_urls() {
    assert!(matches!(
        PgStore::connect_with_schema("postgres://x@127.0.0.1:1/db", "Robert'); DROP").await,
        Err(StoreError::Open(_))
    ));
    assert!(matches!(
        PgStore::connect("not a url at all ::").await,
        Err(StoreError::Open(_))
    ));
}

/// One schema: stores over it share the pool and differ only in their field key; raw reads
/// and writes go through the pool directly.
struct PgSealed {
    base: PgStore,
}

#[async_trait::async_trait]
impl vigil_store::testsuite::SealedHarness for PgSealed {
    async fn raw_source_settings(&self, name: &str) -> String {
        let client = self.base.pool().get().await.expect("connection");
        client
            .query_one(
                "SELECT settings::text FROM pipeline_sources WHERE name = $1",
                &[&name],
            )
            .await
            .expect("raw source")
            .get(0)
    }

    async fn open(&self, key: Option<vigil_crypto::FieldKey>) -> Arc<dyn Store> {
        let store = self.base.clone();
        Arc::new(match key {
            Some(k) => store.with_field_key(k),
            None => store,
        })
    }

    async fn raw_org_contacts(&self, id: OrgId) -> (String, String) {
        let client = self.base.pool().get().await.expect("connection");
        let row = client
            .query_one(
                "SELECT responsible::text, contacts::text FROM organizations WHERE id = $1",
                &[&id.0],
            )
            .await
            .expect("raw org");
        (row.get(0), row.get(1))
    }

    async fn write_raw_org_contacts(&self, id: OrgId, responsible: &str, contacts: &str) {
        let client = self.base.pool().get().await.expect("connection");
        let n = client
            .execute(
                "UPDATE organizations SET responsible = $2::text::jsonb, \
                 contacts = $3::text::jsonb WHERE id = $1",
                &[&id.0, &responsible, &contacts],
            )
            .await
            .expect("raw update");
        assert_eq!(n, 1);
    }

    async fn raw_asset(&self, id: vigil_model::AssetId) -> String {
        let client = self.base.pool().get().await.expect("connection");
        client
            .query_one(
                "SELECT coalesce(responsible::text, '') FROM assets WHERE id = $1",
                &[&id.0],
            )
            .await
            .expect("raw asset")
            .get(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_pipeline_source_passwords_are_encrypted_at_rest() {
    let Some(base) = pg_store("pg_pipeline_source_passwords_are_encrypted_at_rest").await else {
        return;
    };
    vigil_store::testsuite::pipeline_source_passwords_are_encrypted_at_rest(&PgSealed { base })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_contact_fields_are_encrypted_at_rest() {
    let Some(base) = pg_store("pg_contact_fields_are_encrypted_at_rest").await else {
        return;
    };
    vigil_store::testsuite::contact_fields_are_encrypted_at_rest(&PgSealed { base }).await;
}
