//! The conformance suite on SQLite: a fresh store in its own temporary directory per test,
//! removed when the test's store is dropped.

use std::sync::Arc;
use vigil_store::Store;
use vigil_store::sqlite::SqliteStore;

async fn open_store() -> Option<Arc<dyn Store>> {
    let dir = tempfile::Builder::new()
        .prefix("vigil-store-it-")
        .tempdir()
        .expect("temporary directory");
    let store = SqliteStore::open(dir.path())
        .expect("open sqlite store")
        .hold(dir);
    Some(Arc::new(store))
}

vigil_store::store_conformance!(conformance, open_store());

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let spec = vigil_model::NewOrganization {
        name: "Reopened".into(),
        uscc: None,
        sector: "power".into(),
        region_code: "330100".into(),
        mlps_level: 2,
        cii: false,
        miit_type: None,
        miit_grade: None,
        responsible: vigil_model::Contact {
            name: "Li".into(),
            ..Default::default()
        },
        contacts: vec![],
    };
    let org = {
        let store = SqliteStore::open(dir.path()).expect("open");
        store.create_org(spec).await.expect("create")
    };
    let store = SqliteStore::open(dir.path()).expect("reopen");
    assert_eq!(
        store
            .get_org(vigil_model::Scope::All, org.id)
            .await
            .expect("get"),
        Some(org)
    );
    assert!(store.path().ends_with("vigil.db"));
}

#[tokio::test]
async fn concurrent_writers_are_group_committed_without_losing_any() {
    let Some(store) = open_store().await else {
        return;
    };
    let org = store
        .create_org(vigil_model::NewOrganization {
            name: "Concurrent".into(),
            uscc: None,
            sector: "water".into(),
            region_code: "110000".into(),
            mlps_level: 3,
            cii: true,
            miit_type: None,
            miit_grade: None,
            responsible: vigil_model::Contact {
                name: "Wang".into(),
                ..Default::default()
            },
            contacts: vec![],
        })
        .await
        .expect("org");
    let mut tasks = Vec::new();
    for t in 0..32i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..20i64 {
                let ts =
                    vigil_model::Timestamp::from_second(1_770_000_000 + t * 100 + i).expect("ts");
                let mut fields = std::collections::BTreeMap::new();
                fields.insert("message".to_string(), serde_json::json!(format!("{t}/{i}")));
                let e = vigil_model::NewEvent {
                    org_id: org.id,
                    asset_id: None,
                    timestamp: ts,
                    received_at: ts,
                    provenance: vigil_model::Provenance {
                        input: "test".into(),
                        sender: None,
                    },
                    fields,
                    native: Default::default(),
                    raw: vec![],
                };
                ids.extend(store.append_events(vec![e]).await.expect("append"));
            }
            ids
        }));
    }
    let mut all = std::collections::HashSet::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    assert_eq!(all.len(), 640);
    let o = store
        .overview(
            vigil_model::Scope::Org(org.id),
            vigil_model::Timestamp::UNIX_EPOCH,
        )
        .await
        .expect("overview");
    assert_eq!(o.events, 640);
}

/// One SQLite database, opened with whatever key the sealed-field test asks for, and read raw
/// through a connection of its own.
struct SqliteSealed {
    dir: tempfile::TempDir,
}

impl SqliteSealed {
    fn raw(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.dir.path().join(vigil_store::sqlite::DB_FILE))
            .expect("raw connection");
        c.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        c
    }
}

#[async_trait::async_trait]
impl vigil_store::testsuite::SealedHarness for SqliteSealed {
    async fn raw_source_settings(&self, name: &str) -> String {
        self.raw()
            .query_row(
                "SELECT settings FROM pipeline_sources WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("raw source")
    }

    async fn open(&self, key: Option<vigil_crypto::FieldKey>) -> Arc<dyn Store> {
        let store = SqliteStore::open(self.dir.path()).expect("open sqlite store");
        Arc::new(match key {
            Some(k) => store.with_field_key(k),
            None => store,
        })
    }

    async fn raw_org_contacts(&self, id: vigil_model::OrgId) -> (String, String) {
        self.raw()
            .query_row(
                "SELECT responsible, contacts FROM organizations WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("raw org")
    }

    async fn write_raw_org_contacts(
        &self,
        id: vigil_model::OrgId,
        responsible: &str,
        contacts: &str,
    ) {
        let n = self
            .raw()
            .execute(
                "UPDATE organizations SET responsible = ?2, contacts = ?3 WHERE id = ?1",
                rusqlite::params![id.to_string(), responsible, contacts],
            )
            .expect("raw update");
        assert_eq!(n, 1);
    }

    async fn raw_asset(&self, id: vigil_model::AssetId) -> String {
        self.raw()
            .query_row(
                "SELECT spec FROM assets WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .expect("raw asset")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_source_passwords_are_encrypted_at_rest() {
    let h = SqliteSealed {
        dir: tempfile::tempdir().expect("temporary directory"),
    };
    vigil_store::testsuite::pipeline_source_passwords_are_encrypted_at_rest(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_fields_are_encrypted_at_rest() {
    let h = SqliteSealed {
        dir: tempfile::tempdir().expect("temporary directory"),
    };
    vigil_store::testsuite::contact_fields_are_encrypted_at_rest(&h).await;
}
