//! The embedded store: SQLite through rusqlite (bundled), in one directory.
//!
//! [`SqliteStore::open`] creates the directory and `vigil.db` in it, applies the pragmas,
//! runs the migrations (`migrations/sqlite/`, see `migrate.rs`), starts the writer thread and
//! the checkpoint thread, and opens the read pool (see `conn.rs`). Every write goes through the writer thread, batched
//! with whatever else is queued into one transaction; every read runs on a pooled read-only
//! connection on a blocking thread. Async callers never wait on SQLite inside the runtime.
//!
//! Durability: the journal is a write-ahead log. With the default
//! `synchronous = NORMAL`, a commit is in the WAL file when the writer answers; that survives
//! the process crashing or being killed, but the last transactions before a power loss or OS
//! crash may be lost (the WAL is synced at checkpoints, not at each commit). The database is
//! never corrupted either way. [`SqliteOptions::durable_fsync`] selects `synchronous = FULL`,
//! which syncs the WAL at every commit: `Ok` then survives power loss too, at the cost of one
//! fsync per group commit.

mod access;
mod aggregation;
mod cases;
mod chunk;
mod conn;
mod dead_letters;
mod directory;
mod events;
mod evidence;
mod filed_reports;
mod impact;
mod indicator_versions;
mod intel;
mod migrate;
mod notify;
mod pipeline_sources;
mod reminders;
mod sql;
mod stix;
mod taxii;
mod warnings;

use crate::sealed::Sealer;
use crate::{
    AlertQuery, AssetQuery, AuditQuery, EventQuery, IncidentQuery, IncidentUpdate, IndicatorId,
    IndicatorQuery, IntelSource, IntelSourceId, NewIndicator, NewIntelSource, NewSighting,
    OrgQuery, Overview, Result, Session, Sighting, SightingQuery, Store, StoreError,
    StoredIndicator, UpsertCounts,
};
use crate::{Delivery, DeliveryId, DeliveryOutcome, DeliveryQuery, NewDelivery};
use async_trait::async_trait;
use conn::{Checkpointer, ReadPool, Writer};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vigil_crypto::FieldKey;
use vigil_model::{
    Alert, AlertId, AlertStatus, ApiToken, Asset, AssetId, AuditRecord, Event, EventId, Incident,
    IncidentId, Locale, NewAlert, NewAsset, NewAuditRecord, NewEvent, NewIncident, NewOrganization,
    NewUser, OrgId, Organization, Page, Scope, Timestamp, TokenId, User, UserId,
};

/// File name of the database inside the store directory.
pub const DB_FILE: &str = "vigil.db";
/// Read connections in the pool.
pub const READERS: usize = 4;
/// How long a connection waits on a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the checkpoint thread moves the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// How to open the store.
#[derive(Debug, Clone, Default)]
pub struct SqliteOptions {
    /// `synchronous = FULL`: every commit is synced to disk before it is acknowledged, so it
    /// survives power loss, not only a process crash. Off by default (`NORMAL`).
    pub durable_fsync: bool,
}

/// The SQLite [`Store`].
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReadPool>,
    _checkpointer: Checkpointer,
    path: PathBuf,
    /// Seals and opens personal contact fields ([`crate::sealed`]).
    sealer: Sealer,
    /// Kept alive as long as the store (for example a test's temporary directory). Declared
    /// last, so it is dropped after the connections' handles.
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open(format!("{what}: {e}"))
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, with default options.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, &SqliteOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`.
    pub fn open_with(dir: &Path, opts: &SqliteOptions) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| open_err(&format!("creating {}", dir.display()), e))?;
        let path = dir.join(DB_FILE);
        let mut wconn = Connection::open(&path)
            .map_err(|e| open_err(&format!("opening {}", path.display()), e))?;
        configure_writer(&wconn, opts).map_err(|e| open_err("configuring sqlite", e))?;
        migrate::run(&mut wconn, sql::us(sql::now()))?;
        // Planner statistics for tables that need them, bounded (SQLite's advice for
        // long-lived connections); the checkpoint thread repeats it every ten minutes.
        wconn
            .execute_batch("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;")
            .map_err(|e| open_err("optimizing", e))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let c = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| open_err("opening a read connection", e))?;
            configure_reader(&c).map_err(|e| open_err("configuring a read connection", e))?;
            readers.push(c);
        }
        let cconn = Connection::open(&path)
            .map_err(|e| open_err("opening the checkpoint connection", e))?;
        cconn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_err("configuring the checkpoint connection", e))?;
        Ok(Self {
            writer: Writer::start(wconn)?,
            readers: ReadPool::new(readers),
            _checkpointer: Checkpointer::start(cconn, CHECKPOINT_EVERY)?,
            path,
            sealer: Sealer::default(),
            _guard: None,
        })
    }

    /// Encrypts the personal fields of contacts (name, phone, e-mail) with `key` when writing
    /// and decrypts them when reading ([`crate::sealed`]). Without it they are written in clear
    /// (tests), and encrypted values cannot be read.
    pub fn with_field_key(mut self, key: FieldKey) -> Self {
        self.sealer = Sealer::new(key);
        self
    }

    /// Keeps `guard` alive as long as the store, for example the temporary directory a test
    /// opened it in.
    pub fn hold<G: Send + Sync + 'static>(mut self, guard: G) -> Self {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer.run(f).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        conn::read(&self.readers, f).await
    }
}

fn configure_writer(c: &Connection, opts: &SqliteOptions) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode answers with the mode now in force; WAL persists in the file.
    let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}"
        )));
    }
    // NORMAL in WAL mode: a commit survives a process crash, not a power loss (see the module
    // docs); FULL when asked for power-loss durability.
    let sync = if opts.durable_fsync { "FULL" } else { "NORMAL" };
    c.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 32768;
         PRAGMA journal_size_limit = 67108864;"
    ))?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn configure_reader(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.execute_batch(
        "PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32768;
         PRAGMA mmap_size = 268435456;",
    )?;
    c.set_prepared_statement_cache_capacity(128);
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    async fn create_org(&self, spec: NewOrganization) -> Result<Organization> {
        spec.validate()?;
        let now = sql::now();
        let sealer = self.sealer.clone();
        self.write(move |c| directory::create_org(c, &sealer, spec, now))
            .await
    }

    async fn get_org(&self, scope: Scope, id: OrgId) -> Result<Option<Organization>> {
        let sealer = self.sealer.clone();
        self.read(move |c| directory::get_org(c, &sealer, scope, id))
            .await
    }

    async fn list_orgs(&self, scope: Scope, q: &OrgQuery) -> Result<Vec<Organization>> {
        let q = q.clone();
        let sealer = self.sealer.clone();
        self.read(move |c| directory::list_orgs(c, &sealer, scope, &q))
            .await
    }

    async fn update_org(
        &self,
        scope: Scope,
        id: OrgId,
        spec: NewOrganization,
    ) -> Result<Option<Organization>> {
        spec.validate()?;
        let now = sql::now();
        let sealer = self.sealer.clone();
        self.write(move |c| directory::update_org(c, &sealer, scope, id, spec, now))
            .await
    }

    async fn delete_org(&self, scope: Scope, id: OrgId) -> Result<bool> {
        self.write(move |c| directory::delete_org(c, scope, id))
            .await
    }

    async fn create_assets(&self, scope: Scope, specs: Vec<NewAsset>) -> Result<Vec<Asset>> {
        for s in &specs {
            s.validate()?;
        }
        let now = sql::now();
        let sealer = self.sealer.clone();
        self.write(move |c| directory::create_assets(c, &sealer, scope, specs, now))
            .await
    }

    async fn get_asset(&self, scope: Scope, id: AssetId) -> Result<Option<Asset>> {
        let sealer = self.sealer.clone();
        self.read(move |c| directory::get_asset(c, &sealer, scope, id))
            .await
    }

    async fn list_assets(&self, scope: Scope, q: &AssetQuery) -> Result<Page<Asset>> {
        let q = q.clone();
        let sealer = self.sealer.clone();
        self.read(move |c| directory::list_assets(c, &sealer, scope, &q))
            .await
    }

    async fn update_asset(
        &self,
        scope: Scope,
        id: AssetId,
        spec: NewAsset,
    ) -> Result<Option<Asset>> {
        spec.validate()?;
        let now = sql::now();
        let sealer = self.sealer.clone();
        self.write(move |c| directory::update_asset(c, &sealer, scope, id, spec, now))
            .await
    }

    async fn delete_asset(&self, scope: Scope, id: AssetId) -> Result<bool> {
        self.write(move |c| directory::delete_asset(c, scope, id))
            .await
    }

    async fn all_assets(&self) -> Result<Vec<Asset>> {
        let sealer = self.sealer.clone();
        self.read(move |c| directory::all_assets(c, &sealer)).await
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Encoding and compression run here, off the writer thread, which only inserts.
        let batch = tokio::task::spawn_blocking(move || chunk::encode_batch(&events))
            .await
            .map_err(|e| StoreError::Backend(format!("event encoder stopped: {e}")))??;
        self.write(move |c| events::append(c, &batch)).await
    }

    async fn get_event(&self, scope: Scope, id: EventId) -> Result<Option<Event>> {
        self.read(move |c| events::get(c, scope, id)).await
    }

    async fn search_events(&self, scope: Scope, q: &EventQuery) -> Result<Page<Event>> {
        let q = q.clone();
        self.read(move |c| events::search(c, scope, &q)).await
    }

    async fn delete_events_before(&self, cutoff: Timestamp) -> Result<u64> {
        // In chunks, each its own writer job, so appends interleave with a long purge.
        let mut total = 0u64;
        loop {
            let (n, more) = self
                .write(move |c| events::delete_chunk_before(c, cutoff))
                .await?;
            total += n;
            if !more {
                return Ok(total);
            }
        }
    }

    async fn create_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>> {
        for a in &alerts {
            a.validate()?;
        }
        let now = sql::now();
        self.write(move |c| cases::create_alerts(c, alerts, now))
            .await
    }

    async fn get_alert(&self, scope: Scope, id: AlertId) -> Result<Option<Alert>> {
        self.read(move |c| cases::get_alert(c, scope, id)).await
    }

    async fn list_alerts(&self, scope: Scope, q: &AlertQuery) -> Result<Page<Alert>> {
        let q = q.clone();
        self.read(move |c| cases::list_alerts(c, scope, &q)).await
    }

    async fn set_alert_status(
        &self,
        scope: Scope,
        id: AlertId,
        status: AlertStatus,
        incident: Option<IncidentId>,
    ) -> Result<Option<Alert>> {
        let now = sql::now();
        self.write(move |c| cases::set_alert_status(c, scope, id, status, incident, now))
            .await
    }

    async fn create_incident(&self, spec: NewIncident, actor: &str) -> Result<Incident> {
        spec.validate()?;
        let actor = actor.to_string();
        let now = sql::now();
        self.write(move |c| cases::create_incident(c, spec, &actor, now))
            .await
    }

    async fn get_incident(&self, scope: Scope, id: IncidentId) -> Result<Option<Incident>> {
        self.read(move |c| cases::get_incident(c, scope, id)).await
    }

    async fn list_incidents(&self, scope: Scope, q: &IncidentQuery) -> Result<Page<Incident>> {
        let q = q.clone();
        self.read(move |c| cases::list_incidents(c, scope, &q))
            .await
    }

    async fn update_incident(
        &self,
        scope: Scope,
        id: IncidentId,
        change: IncidentUpdate,
        actor: &str,
    ) -> Result<Option<Incident>> {
        let actor = actor.to_string();
        let now = sql::now();
        self.write(move |c| cases::update_incident(c, scope, id, change, &actor, now))
            .await
    }

    async fn find_open_incident_by_key(
        &self,
        scope: Scope,
        org: OrgId,
        key: &str,
    ) -> Result<Option<Incident>> {
        let key = key.to_string();
        self.read(move |c| aggregation::find_open_incident_by_key(c, scope, org, &key))
            .await
    }

    async fn create_aggregated_incident(
        &self,
        spec: NewIncident,
        key: &str,
        actor: &str,
    ) -> Result<Incident> {
        let (key, actor, now) = (key.to_string(), actor.to_string(), sql::now());
        self.write(move |c| aggregation::create_aggregated_incident(c, spec, &key, &actor, now))
            .await
    }

    async fn attach_alerts(
        &self,
        scope: Scope,
        id: IncidentId,
        attach: crate::AlertAttachment,
        actor: &str,
    ) -> Result<Option<crate::AttachOutcome>> {
        let (actor, now) = (actor.to_string(), sql::now());
        self.write(move |c| aggregation::attach_alerts(c, scope, id, attach, &actor, now))
            .await
    }

    async fn overview(&self, scope: Scope, since: Timestamp) -> Result<Overview> {
        self.read(move |c| cases::overview(c, scope, since)).await
    }

    async fn create_user(&self, spec: NewUser, password_hash: String) -> Result<User> {
        spec.validate()?;
        let now = sql::now();
        self.write(move |c| access::create_user(c, spec, password_hash, now))
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.read(move |c| access::get_user(c, id)).await
    }

    async fn find_user_for_login(&self, username: &str) -> Result<Option<(User, String)>> {
        let username = username.to_string();
        self.read(move |c| access::find_user_for_login(c, &username))
            .await
    }

    async fn list_users(&self, scope: Scope) -> Result<Vec<User>> {
        self.read(move |c| access::list_users(c, scope)).await
    }

    async fn set_password(&self, id: UserId, password_hash: String) -> Result<bool> {
        self.write(move |c| {
            access::update_user(
                c,
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                id,
                Value::Text(password_hash),
            )
        })
        .await
    }

    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool> {
        self.write(move |c| {
            access::update_user(
                c,
                "UPDATE users SET disabled = ?2 WHERE id = ?1",
                id,
                Value::Integer(i64::from(disabled)),
            )
        })
        .await
    }

    async fn set_user_locale(&self, id: UserId, locale: Locale) -> Result<bool> {
        self.write(move |c| {
            access::update_user(
                c,
                "UPDATE users SET locale = ?2 WHERE id = ?1",
                id,
                Value::Text(locale.as_str().into()),
            )
        })
        .await
    }

    async fn count_users(&self) -> Result<u64> {
        self.read(access::count_users).await
    }

    async fn create_token(&self, token: ApiToken, secret_hash: String) -> Result<()> {
        self.write(move |c| access::create_token(c, &token, &secret_hash))
            .await
    }

    async fn find_token(&self, secret_hash: &str) -> Result<Option<ApiToken>> {
        let h = secret_hash.to_string();
        self.read(move |c| access::find_token(c, &h)).await
    }

    async fn list_tokens(&self, scope: Scope) -> Result<Vec<ApiToken>> {
        self.read(move |c| access::list_tokens(c, scope)).await
    }

    async fn revoke_token(&self, scope: Scope, id: TokenId, at: Timestamp) -> Result<bool> {
        self.write(move |c| access::revoke_token(c, scope, id, at))
            .await
    }

    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<()> {
        self.write(move |c| access::touch_token(c, id, at)).await
    }

    async fn create_session(&self, session: Session) -> Result<()> {
        self.write(move |c| access::create_session(c, &session))
            .await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        let h = id_hash.to_string();
        self.read(move |c| access::get_session(c, &h)).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let h = id_hash.to_string();
        self.write(move |c| access::delete_session(c, &h)).await
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<()> {
        self.write(move |c| access::delete_user_sessions(c, user))
            .await
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        self.write(move |c| access::delete_expired_sessions(c, now))
            .await
    }

    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        // The time is taken on the writer thread, so it never goes backwards along the chain.
        self.write(move |c| access::append_audit(c, record, sql::now()))
            .await
    }

    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let q = q.clone();
        self.read(move |c| access::list_audit(c, &q)).await
    }

    async fn upsert_intel_source(&self, spec: NewIntelSource) -> Result<IntelSource> {
        spec.validate()?;
        let now = sql::now();
        self.write(move |c| intel::upsert_source(c, spec, now))
            .await
    }

    async fn get_intel_source(&self, id: IntelSourceId) -> Result<Option<IntelSource>> {
        self.read(move |c| intel::get_source(c, id)).await
    }

    async fn list_intel_sources(&self) -> Result<Vec<IntelSource>> {
        self.read(intel::list_sources).await
    }

    async fn upsert_indicators(&self, items: Vec<NewIndicator>) -> Result<UpsertCounts> {
        for i in &items {
            i.validate()?;
        }
        let now = sql::now();
        self.write(move |c| intel::upsert_indicators(c, items, now))
            .await
    }

    async fn get_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>> {
        self.read(move |c| intel::get_indicator(c, id)).await
    }

    async fn list_indicators(&self, q: &IndicatorQuery) -> Result<Page<StoredIndicator>> {
        let q = q.clone();
        self.read(move |c| intel::list_indicators(c, &q)).await
    }

    async fn indicators_for_matching(
        &self,
        after: Option<IndicatorId>,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<crate::intel::MatchIndicator>> {
        self.read(move |c| intel::indicators_for_matching(c, after, now, limit))
            .await
    }

    async fn revoke_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>> {
        let now = sql::now();
        self.write(move |c| intel::revoke_indicator(c, id, now))
            .await
    }

    async fn delete_indicator(&self, id: IndicatorId) -> Result<bool> {
        self.write(move |c| intel::delete_indicator(c, id)).await
    }

    async fn record_sightings(
        &self,
        scope: Scope,
        items: Vec<NewSighting>,
    ) -> Result<Vec<Sighting>> {
        let now = sql::now();
        self.write(move |c| intel::record_sightings(c, scope, items, now))
            .await
    }

    async fn list_sightings(&self, scope: Scope, q: &SightingQuery) -> Result<Page<Sighting>> {
        let q = q.clone();
        self.read(move |c| intel::list_sightings(c, scope, &q))
            .await
    }

    async fn list_indicator_versions(
        &self,
        q: &crate::IndicatorVersionQuery,
    ) -> Result<Page<crate::IndicatorVersion>> {
        let q = q.clone();
        self.read(move |c| indicator_versions::list(c, &q)).await
    }

    async fn put_stix_objects(
        &self,
        items: Vec<crate::NewStixObject>,
    ) -> Result<crate::StixPutCounts> {
        for i in &items {
            i.validate()?;
        }
        let now = sql::now();
        self.write(move |c| stix::put(c, items, now)).await
    }

    async fn list_stix_objects(
        &self,
        q: &crate::StixObjectQuery,
    ) -> Result<Page<crate::StoredStixObject>> {
        let q = q.clone();
        self.read(move |c| stix::list(c, &q)).await
    }

    async fn update_intel_source(
        &self,
        id: IntelSourceId,
        patch: crate::intel::IntelSourcePatch,
    ) -> Result<Option<IntelSource>> {
        let now = sql::now();
        self.write(move |c| intel::update_source(c, id, patch, now))
            .await
    }

    async fn intel_source_counts(&self) -> Result<Vec<crate::intel::IntelSourceCounts>> {
        let now = sql::now();
        self.read(move |c| intel::source_counts(c, now)).await
    }

    async fn record_intel_import(
        &self,
        spec: crate::intel::NewIntelImport,
    ) -> Result<crate::intel::IntelImport> {
        let now = sql::now();
        self.write(move |c| intel::record_import(c, spec, now))
            .await
    }

    async fn list_intel_imports(
        &self,
        source_id: Option<IntelSourceId>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<crate::intel::IntelImport>> {
        self.read(move |c| intel::list_imports(c, source_id, limit, cursor.as_deref()))
            .await
    }

    async fn get_intel_import(
        &self,
        id: crate::intel::IntelImportId,
    ) -> Result<Option<crate::intel::IntelImport>> {
        self.read(move |c| intel::get_import(c, id)).await
    }

    async fn put_edl_list(
        &self,
        spec: crate::intel::NewEdlList,
        actor: &str,
    ) -> Result<crate::intel::EdlList> {
        let now = sql::now();
        let actor = actor.to_string();
        self.write(move |c| intel::put_edl(c, spec, &actor, now))
            .await
    }

    async fn list_edl_lists(&self) -> Result<Vec<crate::intel::EdlList>> {
        self.read(intel::list_edl).await
    }

    async fn get_edl_list(&self, name: &str) -> Result<Option<crate::intel::EdlList>> {
        let name = name.to_string();
        self.read(move |c| intel::get_edl(c, &name)).await
    }

    async fn delete_edl_list(&self, name: &str) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c| intel::delete_edl(c, &name)).await
    }

    async fn record_taxii_feed_poll(
        &self,
        name: &str,
        collection_url: &str,
        poll: crate::TaxiiFeedPoll,
        at: Timestamp,
    ) -> Result<crate::TaxiiFeedState> {
        let (name, url) = (name.to_string(), collection_url.to_string());
        self.write(move |c| taxii::record_poll(c, &name, &url, poll, at))
            .await
    }

    async fn get_taxii_feed(&self, name: &str) -> Result<Option<crate::TaxiiFeedState>> {
        let name = name.to_string();
        self.read(move |c| taxii::get_feed(c, &name)).await
    }

    async fn list_taxii_feeds(&self) -> Result<Vec<crate::TaxiiFeedState>> {
        self.read(taxii::list_feeds).await
    }

    async fn put_taxii_status(&self, status: crate::TaxiiStatus) -> Result<()> {
        status.validate()?;
        self.write(move |c| taxii::put_status(c, &status)).await
    }

    async fn get_taxii_status(&self, id: &str) -> Result<Option<crate::TaxiiStatus>> {
        let id = id.to_string();
        self.read(move |c| taxii::get_status(c, &id)).await
    }

    async fn put_pipeline_source(
        &self,
        source: crate::PipelineSource,
    ) -> Result<crate::PipelineSource> {
        source.validate()?;
        let source = self.sealer.seal_source(source)?;
        let stored = self
            .write(move |c| pipeline_sources::put(c, &source))
            .await?;
        self.sealer.open_source(stored)
    }

    async fn get_pipeline_source(&self, name: &str) -> Result<Option<crate::PipelineSource>> {
        let name = name.to_string();
        self.read(move |c| pipeline_sources::get(c, &name))
            .await?
            .map(|s| self.sealer.open_source(s))
            .transpose()
    }

    async fn list_pipeline_sources(&self) -> Result<Vec<crate::PipelineSource>> {
        self.read(pipeline_sources::list)
            .await?
            .into_iter()
            .map(|s| self.sealer.open_source(s))
            .collect()
    }

    async fn delete_pipeline_source(&self, name: &str) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c| pipeline_sources::delete(c, &name))
            .await
    }

    async fn append_dead_letters(&self, batch: Vec<crate::NewDeadLetter>) -> Result<usize> {
        let rows = crate::dead_letters::prepare_batch(&batch)?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.write(move |c| dead_letters::append(c, &rows)).await
    }

    async fn search_dead_letters(
        &self,
        scope: Scope,
        q: &crate::DeadLetterQuery,
    ) -> Result<Page<crate::DeadLetter>> {
        let q = q.clone();
        self.read(move |c| dead_letters::search(c, scope, &q)).await
    }

    async fn count_dead_letters_by_reason(
        &self,
        scope: Scope,
        q: &crate::DeadLetterQuery,
    ) -> Result<Vec<(crate::DeadLetterReason, u64)>> {
        let q = q.clone();
        self.read(move |c| dead_letters::count_by_reason(c, scope, &q))
            .await
    }

    async fn prune_dead_letters(&self, keep: crate::DeadLetterRetention) -> Result<u64> {
        self.write(move |c| dead_letters::prune(c, keep)).await
    }

    async fn enqueue_deliveries(&self, items: Vec<NewDelivery>) -> Result<Vec<Delivery>> {
        for d in &items {
            d.validate()?;
        }
        let now = sql::now();
        self.write(move |c| notify::enqueue(c, items, now)).await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let now = sql::truncate(now);
        let until = sql::truncate(now.checked_add(lease).unwrap_or(now));
        self.write(move |c| notify::claim(c, now, until, limit))
            .await
    }

    async fn finish_delivery(
        &self,
        id: DeliveryId,
        attempt: u32,
        outcome: DeliveryOutcome,
    ) -> Result<Option<Delivery>> {
        let now = sql::now();
        self.write(move |c| notify::finish(c, id, attempt, outcome, now))
            .await
    }

    async fn list_deliveries(&self, scope: Scope, q: &DeliveryQuery) -> Result<Page<Delivery>> {
        let q = q.clone();
        self.read(move |c| notify::list(c, scope, &q)).await
    }

    async fn create_warning(
        &self,
        spec: vigil_model::NewWarning,
        issued_by: &str,
    ) -> Result<vigil_model::Warning> {
        spec.validate()?;
        let (issued_by, now) = (issued_by.to_string(), sql::now());
        self.write(move |c| warnings::create(c, spec, &issued_by, now))
            .await
    }

    async fn get_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
    ) -> Result<Option<vigil_model::Warning>> {
        self.read(move |c| warnings::get(c, scope, id)).await
    }

    async fn list_warnings(
        &self,
        scope: Scope,
        q: &crate::WarningQuery,
    ) -> Result<Page<vigil_model::Warning>> {
        let q = q.clone();
        self.read(move |c| warnings::list(c, scope, &q)).await
    }

    async fn acknowledge_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        org: OrgId,
        actor: &str,
        response: Option<String>,
    ) -> Result<Option<crate::Acknowledgement>> {
        vigil_model::warning::validate_response(response.as_deref())?;
        let (actor, now) = (actor.to_string(), sql::now());
        self.write(move |c| warnings::acknowledge(c, scope, id, org, &actor, response, now))
            .await
    }

    async fn list_warning_recipients(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        pending_only: bool,
    ) -> Result<Option<Vec<vigil_model::WarningRecipient>>> {
        self.read(move |c| warnings::recipients(c, scope, id, pending_only))
            .await
    }

    async fn mark_warning_reminded(
        &self,
        id: vigil_model::WarningId,
        org: OrgId,
        at: Timestamp,
    ) -> Result<bool> {
        self.write(move |c| reminders::mark_warning_reminded(c, id, org, at))
            .await
    }

    async fn add_evidence(
        &self,
        scope: Scope,
        spec: crate::NewEvidence,
        actor: &str,
    ) -> Result<crate::Evidence> {
        // Refused before the bytes are queued for the writer.
        spec.validate()?;
        let now = sql::now();
        let actor = actor.to_string();
        self.write(move |c| evidence::add(c, scope, spec, &actor, now))
            .await
    }

    async fn list_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<crate::Evidence>>> {
        self.read(move |c| evidence::list(c, scope, incident)).await
    }

    async fn get_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: crate::EvidenceId,
    ) -> Result<Option<(crate::Evidence, Vec<u8>)>> {
        self.read(move |c| evidence::get(c, scope, incident, id))
            .await
    }

    async fn get_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<vigil_model::RecordedImpact>> {
        self.read(move |c| impact::get(c, scope, incident)).await
    }

    async fn set_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
        update: crate::ImpactUpdate,
        actor: &str,
    ) -> Result<Option<crate::ImpactOutcome>> {
        update.impact.validate()?;
        let now = sql::now();
        let actor = actor.to_string();
        self.write(move |c| impact::set(c, scope, incident, update, &actor, now))
            .await
    }

    async fn add_filed_report(
        &self,
        scope: Scope,
        spec: crate::NewFiledReport,
        actor: &str,
    ) -> Result<crate::FiledReport> {
        // Refused before the snapshot is queued for the writer.
        spec.validate()?;
        let now = sql::now();
        let actor = actor.to_string();
        self.write(move |c| filed_reports::add(c, scope, spec, &actor, now))
            .await
    }

    async fn list_filed_reports(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<crate::FiledReport>>> {
        self.read(move |c| filed_reports::list(c, scope, incident))
            .await
    }

    async fn get_filed_report(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: crate::FiledReportId,
    ) -> Result<Option<(crate::FiledReport, Vec<u8>)>> {
        self.read(move |c| filed_reports::get(c, scope, incident, id))
            .await
    }

    async fn add_incident_entry_once(
        &self,
        id: IncidentId,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<Option<bool>> {
        let entry = vigil_model::TimelineEntry {
            at: sql::now(),
            actor: actor.to_string(),
            action: action.to_string(),
            note: note.to_string(),
        };
        self.write(move |c| reminders::add_incident_entry_once(c, id, entry))
            .await
    }
}
