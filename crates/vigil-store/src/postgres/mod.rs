//! The PostgreSQL store: tokio-postgres over a small deadpool pool.
//!
//! - [`PgStore::connect`] opens a pool of [`POOL_SIZE`] connections and runs the versioned
//!   migrations in `migrations/postgres` ([`migrate`]).
//! - [`PgStore::connect_with_schema`] does the same inside one schema, created when missing,
//!   by setting `search_path` for every pooled connection at startup. Tests use a fresh schema
//!   each, so they share one database without seeing each other's data.
//! - Events go in with binary `COPY ... FROM STDIN` ([`events`]); everything else is plain
//!   statements, prepared once per connection and cached.
//!
//! Scalars are columns, nested structures JSONB, times `timestamptz` (microseconds). Every
//! scoped query puts the scope into its `WHERE` clause: `($n::uuid IS NULL OR org_id = $n)`
//! for fixed statements, an `AND org_id = $n` for built ones.

mod access;
mod aggregation;
mod cases;
mod dead_letters;
mod directory;
mod events;
mod evidence;
mod filed_reports;
mod impact;
mod indicator_versions;
mod intel;
pub mod migrate;
mod notify;
mod pipeline_sources;
mod query;
mod reminders;
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
use bytes::{BufMut, BytesMut};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;
use vigil_crypto::FieldKey;
use vigil_model::{
    Alert, AlertId, AlertStatus, ApiToken, Asset, AssetId, AuditRecord, Event, EventId, Incident,
    IncidentId, Locale, NewAlert, NewAsset, NewAuditRecord, NewEvent, NewIncident, NewOrganization,
    NewUser, OrgId, Organization, Page, Scope, Timestamp, TokenId, User, UserId,
};

/// Connections in the pool. Enough for a server's concurrent requests and ingest batches on a
/// small machine; PostgreSQL's default `max_connections` (100) leaves room for several nodes.
pub const POOL_SIZE: usize = 8;

/// A [`Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The schema given to [`PgStore::connect_with_schema`] and the configuration without it.
    schema: Option<(String, tokio_postgres::Config)>,
    /// Drops the schema when the last clone of the store goes (tests).
    dropper: Option<Arc<SchemaDropper>>,
    /// Seals and opens personal contact fields ([`crate::sealed`]).
    sealer: Sealer,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`, or key=value form), migrates the
    /// database to the current schema version and returns the store.
    pub async fn connect(url: &str) -> Result<Self> {
        let config = parse_config(url)?;
        Self::open(config).await
    }

    /// Like [`connect`](Self::connect), but keeps every table in `schema`, which is created when
    /// missing. The name must be a plain lowercase identifier (`[a-z_][a-z0-9_]*`, at most 63
    /// characters), so it needs no quoting anywhere.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Self> {
        if !is_plain_identifier(schema) {
            return Err(StoreError::Open(format!(
                "schema name '{schema}' must match [a-z_][a-z0-9_]* and be at most 63 characters"
            )));
        }
        let mut config = parse_config(url)?;
        // Create the schema on a connection of its own: the pool's connections start with a
        // search_path that names it.
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Open(format!("cannot connect: {}", describe(&e))))?;
        let task = tokio::spawn(connection);
        // Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database
        // even when the schema exists, which a production role may rightly lack.
        let created = match client
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .await
        {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                client
                    .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .await
            }
            Err(e) => Err(e),
        };
        drop(client);
        let _ = task.await;
        match created {
            Ok(()) => {}
            // Two processes creating the schema at once: IF NOT EXISTS is not atomic, and the
            // loser sees a duplicate. The schema exists either way.
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    || e.code() == Some(&SqlState::DUPLICATE_SCHEMA) => {}
            Err(e) => {
                return Err(StoreError::Open(format!(
                    "cannot create schema: {}",
                    describe(&e)
                )));
            }
        }

        // `options` is sent in the startup packet, so every connection the pool ever makes
        // (including ones replacing broken connections) starts in the schema; no per-checkout
        // `SET` is needed and a recycled connection cannot have lost it.
        let base = config.clone();
        let options = match config.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c search_path={schema}"),
            _ => format!("-c search_path={schema}"),
        };
        config.options(&options);
        let mut store = Self::open(config).await?;
        store.schema = Some((schema.to_string(), base));
        Ok(store)
    }

    /// For tests: when the last clone of this store is dropped, its schema (see
    /// [`connect_with_schema`](Self::connect_with_schema)) is dropped with everything in it.
    /// Does nothing for a store without a schema of its own.
    pub fn drop_schema_when_dropped(mut self) -> Self {
        if let Some((schema, config)) = &self.schema {
            self.dropper = Some(Arc::new(SchemaDropper {
                schema: schema.clone(),
                config: config.clone(),
            }));
        }
        self
    }

    async fn open(config: tokio_postgres::Config) -> Result<Self> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast recycling only checks that the connection is open: the store never
                // leaves session state behind (no SET, no temp tables outlive a transaction),
                // and a dead connection is replaced on its next error.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Open(format!("cannot build pool: {e}")))?;
        let store = Self {
            pool,
            schema: None,
            dropper: None,
            sealer: Sealer::default(),
        };
        {
            let mut client =
                store.pool.get().await.map_err(|e| {
                    StoreError::Open(format!("cannot connect: {}", describe_pool(&e)))
                })?;
            migrate::run(&mut client).await?;
        }
        Ok(store)
    }

    /// Encrypts the personal fields of contacts (name, phone, e-mail) with `key` when writing
    /// and decrypts them when reading ([`crate::sealed`]). Without it they are written in clear
    /// (tests), and encrypted values cannot be read.
    pub fn with_field_key(mut self, key: FieldKey) -> Self {
        self.sealer = Sealer::new(key);
        self
    }

    /// The connection pool, for operator tooling and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(StoreError::from)
    }
}

struct SchemaDropper {
    schema: String,
    config: tokio_postgres::Config,
}

impl Drop for SchemaDropper {
    fn drop(&mut self) {
        // Drop cannot await, and the caller's runtime may be shutting down: run the statement
        // on a thread of its own with a runtime of its own, and wait for it.
        let (schema, config) = (self.schema.clone(), self.config.clone());
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok((client, connection)) = config.connect(NoTls).await else {
                    return;
                };
                let task = tokio::spawn(connection);
                if let Err(e) = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                {
                    tracing::warn!(schema, error = %describe(&e), "cannot drop schema");
                }
                drop(client);
                let _ = task.await;
            });
        });
        let _ = worker.join();
    }
}

fn parse_config(url: &str) -> Result<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| StoreError::Open(format!("bad PostgreSQL URL: {e}")))
}

fn is_plain_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

// Errors.

/// The driver's message with the server's code and detail, for logs.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({}): {d}", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

fn describe_pool(e: &PoolError) -> String {
    match e {
        PoolError::Backend(b) => describe(b),
        other => other.to_string(),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            return StoreError::Backend(describe(&e));
        };
        let constraint = db.constraint().unwrap_or("");
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let what = match constraint {
                "organizations_name_key" => "an organization with this name already exists",
                "users_username_key" => "a user with this username already exists",
                "api_tokens_secret_hash_key" => "a token with this secret already exists",
                _ => "a record with this key already exists",
            };
            StoreError::Conflict(what.to_string())
        } else if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            // Inserting a reference to a missing row, or deleting a row still referenced. The
            // store checks both itself first; this covers a concurrent change in between.
            if db.message().starts_with("update or delete") {
                StoreError::Conflict("the record is still referenced".into())
            } else if constraint.ends_with("org_id_fkey") {
                StoreError::MissingReference("organization".into())
            } else if constraint.ends_with("user_id_fkey") {
                StoreError::MissingReference("user".into())
            } else if constraint.ends_with("incident_id_fkey") {
                StoreError::MissingReference("incident".into())
            } else {
                StoreError::MissingReference("referenced record".into())
            }
        } else {
            StoreError::Backend(describe(&e))
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(b) => StoreError::from(b),
            other => StoreError::Backend(format!("connection pool: {other}")),
        }
    }
}

/// A stored value that does not decode (a bad enum string, a malformed JSON document).
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} '{value}' is not valid"))
}

// Values.

/// A [`Timestamp`] as `timestamptz`: microseconds since 2000-01-01 UTC, sub-microsecond
/// digits truncated (as [`Timestamp::as_microsecond`] does), so what is stored reads back
/// equal to what [`now`] returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ts(pub Timestamp);

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl ToSql for Ts {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.put_i64(self.0.as_microsecond() - PG_EPOCH_MICROS);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Ts {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let bytes: [u8; 8] = raw
            .try_into()
            .map_err(|_| "timestamptz value is not 8 bytes")?;
        let micros = i64::from_be_bytes(bytes)
            .checked_add(PG_EPOCH_MICROS)
            .ok_or("timestamptz out of range")?;
        Ok(Ts(Timestamp::from_microsecond(micros)?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// The current time at the precision the database keeps.
pub(crate) fn now() -> Timestamp {
    micros(Timestamp::now())
}

/// `t` truncated to microseconds.
pub(crate) fn micros(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// The organization a scope limits queries to, as the `$n::uuid` parameter of
/// `($n::uuid IS NULL OR org_id = $n)`.
pub(crate) fn scope_org(scope: Scope) -> Option<Uuid> {
    match scope {
        Scope::All => None,
        Scope::Org(o) => Some(o.0),
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn create_org(&self, spec: NewOrganization) -> Result<Organization> {
        self.create_org_impl(spec).await
    }
    async fn get_org(&self, scope: Scope, id: OrgId) -> Result<Option<Organization>> {
        self.get_org_impl(scope, id).await
    }
    async fn list_orgs(&self, scope: Scope, q: &OrgQuery) -> Result<Vec<Organization>> {
        self.list_orgs_impl(scope, q).await
    }
    async fn update_org(
        &self,
        scope: Scope,
        id: OrgId,
        spec: NewOrganization,
    ) -> Result<Option<Organization>> {
        self.update_org_impl(scope, id, spec).await
    }
    async fn delete_org(&self, scope: Scope, id: OrgId) -> Result<bool> {
        self.delete_org_impl(scope, id).await
    }

    async fn create_assets(&self, scope: Scope, specs: Vec<NewAsset>) -> Result<Vec<Asset>> {
        self.create_assets_impl(scope, specs).await
    }
    async fn get_asset(&self, scope: Scope, id: AssetId) -> Result<Option<Asset>> {
        self.get_asset_impl(scope, id).await
    }
    async fn list_assets(&self, scope: Scope, q: &AssetQuery) -> Result<Page<Asset>> {
        self.list_assets_impl(scope, q).await
    }
    async fn update_asset(
        &self,
        scope: Scope,
        id: AssetId,
        spec: NewAsset,
    ) -> Result<Option<Asset>> {
        self.update_asset_impl(scope, id, spec).await
    }
    async fn delete_asset(&self, scope: Scope, id: AssetId) -> Result<bool> {
        self.delete_asset_impl(scope, id).await
    }
    async fn all_assets(&self) -> Result<Vec<Asset>> {
        self.all_assets_impl().await
    }

    async fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>> {
        self.append_events_impl(events).await
    }
    async fn get_event(&self, scope: Scope, id: EventId) -> Result<Option<Event>> {
        self.get_event_impl(scope, id).await
    }
    async fn search_events(&self, scope: Scope, q: &EventQuery) -> Result<Page<Event>> {
        self.search_events_impl(scope, q).await
    }
    async fn delete_events_before(&self, cutoff: Timestamp) -> Result<u64> {
        self.delete_events_before_impl(cutoff).await
    }

    async fn create_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>> {
        self.create_alerts_impl(alerts).await
    }
    async fn get_alert(&self, scope: Scope, id: AlertId) -> Result<Option<Alert>> {
        self.get_alert_impl(scope, id).await
    }
    async fn list_alerts(&self, scope: Scope, q: &AlertQuery) -> Result<Page<Alert>> {
        self.list_alerts_impl(scope, q).await
    }
    async fn set_alert_status(
        &self,
        scope: Scope,
        id: AlertId,
        status: AlertStatus,
        incident: Option<IncidentId>,
    ) -> Result<Option<Alert>> {
        self.set_alert_status_impl(scope, id, status, incident)
            .await
    }

    async fn create_incident(&self, spec: NewIncident, actor: &str) -> Result<Incident> {
        self.create_incident_impl(spec, actor).await
    }
    async fn get_incident(&self, scope: Scope, id: IncidentId) -> Result<Option<Incident>> {
        self.get_incident_impl(scope, id).await
    }
    async fn list_incidents(&self, scope: Scope, q: &IncidentQuery) -> Result<Page<Incident>> {
        self.list_incidents_impl(scope, q).await
    }
    async fn update_incident(
        &self,
        scope: Scope,
        id: IncidentId,
        change: IncidentUpdate,
        actor: &str,
    ) -> Result<Option<Incident>> {
        self.update_incident_impl(scope, id, change, actor).await
    }

    async fn find_open_incident_by_key(
        &self,
        scope: Scope,
        org: OrgId,
        key: &str,
    ) -> Result<Option<Incident>> {
        self.find_open_incident_by_key_impl(scope, org, key).await
    }
    async fn create_aggregated_incident(
        &self,
        spec: NewIncident,
        key: &str,
        actor: &str,
    ) -> Result<Incident> {
        self.create_aggregated_incident_impl(spec, key, actor).await
    }
    async fn attach_alerts(
        &self,
        scope: Scope,
        id: IncidentId,
        attach: crate::AlertAttachment,
        actor: &str,
    ) -> Result<Option<crate::AttachOutcome>> {
        self.attach_alerts_impl(scope, id, attach, actor).await
    }

    async fn overview(&self, scope: Scope, since: Timestamp) -> Result<Overview> {
        self.overview_impl(scope, since).await
    }

    async fn create_user(&self, spec: NewUser, password_hash: String) -> Result<User> {
        self.create_user_impl(spec, password_hash).await
    }
    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.get_user_impl(id).await
    }
    async fn find_user_for_login(&self, username: &str) -> Result<Option<(User, String)>> {
        self.find_user_for_login_impl(username).await
    }
    async fn list_users(&self, scope: Scope) -> Result<Vec<User>> {
        self.list_users_impl(scope).await
    }
    async fn set_password(&self, id: UserId, password_hash: String) -> Result<bool> {
        self.set_password_impl(id, password_hash).await
    }
    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool> {
        self.set_user_disabled_impl(id, disabled).await
    }
    async fn set_user_locale(&self, id: UserId, locale: Locale) -> Result<bool> {
        self.set_user_locale_impl(id, locale).await
    }
    async fn count_users(&self) -> Result<u64> {
        self.count_users_impl().await
    }

    async fn create_token(&self, token: ApiToken, secret_hash: String) -> Result<()> {
        self.create_token_impl(token, secret_hash).await
    }
    async fn find_token(&self, secret_hash: &str) -> Result<Option<ApiToken>> {
        self.find_token_impl(secret_hash).await
    }
    async fn list_tokens(&self, scope: Scope) -> Result<Vec<ApiToken>> {
        self.list_tokens_impl(scope).await
    }
    async fn revoke_token(&self, scope: Scope, id: TokenId, at: Timestamp) -> Result<bool> {
        self.revoke_token_impl(scope, id, at).await
    }
    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<()> {
        self.touch_token_impl(id, at).await
    }

    async fn create_session(&self, session: Session) -> Result<()> {
        self.create_session_impl(session).await
    }
    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>> {
        self.get_session_impl(id_hash).await
    }
    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.delete_session_impl(id_hash).await
    }
    async fn delete_user_sessions(&self, user: UserId) -> Result<()> {
        self.delete_user_sessions_impl(user).await
    }
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        self.delete_expired_sessions_impl(now).await
    }

    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        self.append_audit_impl(record).await
    }
    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        self.list_audit_impl(q).await
    }
    async fn upsert_intel_source(&self, spec: NewIntelSource) -> Result<IntelSource> {
        self.upsert_intel_source_impl(spec).await
    }
    async fn get_intel_source(&self, id: IntelSourceId) -> Result<Option<IntelSource>> {
        self.get_intel_source_impl(id).await
    }
    async fn list_intel_sources(&self) -> Result<Vec<IntelSource>> {
        self.list_intel_sources_impl().await
    }
    async fn upsert_indicators(&self, items: Vec<NewIndicator>) -> Result<UpsertCounts> {
        self.upsert_indicators_impl(items).await
    }
    async fn get_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>> {
        self.get_indicator_impl(id).await
    }
    async fn list_indicators(&self, q: &IndicatorQuery) -> Result<Page<StoredIndicator>> {
        self.list_indicators_impl(q).await
    }
    async fn indicators_for_matching(
        &self,
        after: Option<IndicatorId>,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<crate::intel::MatchIndicator>> {
        self.indicators_for_matching_impl(after, now, limit).await
    }
    async fn revoke_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>> {
        self.revoke_indicator_impl(id).await
    }
    async fn delete_indicator(&self, id: IndicatorId) -> Result<bool> {
        self.delete_indicator_impl(id).await
    }
    async fn record_sightings(
        &self,
        scope: Scope,
        items: Vec<NewSighting>,
    ) -> Result<Vec<Sighting>> {
        self.record_sightings_impl(scope, items).await
    }
    async fn update_intel_source(
        &self,
        id: IntelSourceId,
        patch: crate::intel::IntelSourcePatch,
    ) -> Result<Option<IntelSource>> {
        self.update_intel_source_impl(id, patch).await
    }
    async fn intel_source_counts(&self) -> Result<Vec<crate::intel::IntelSourceCounts>> {
        self.intel_source_counts_impl().await
    }
    async fn record_intel_import(
        &self,
        spec: crate::intel::NewIntelImport,
    ) -> Result<crate::intel::IntelImport> {
        self.record_intel_import_impl(spec).await
    }
    async fn list_intel_imports(
        &self,
        source_id: Option<IntelSourceId>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<crate::intel::IntelImport>> {
        self.list_intel_imports_impl(source_id, limit, cursor).await
    }
    async fn get_intel_import(
        &self,
        id: crate::intel::IntelImportId,
    ) -> Result<Option<crate::intel::IntelImport>> {
        self.get_intel_import_impl(id).await
    }
    async fn put_edl_list(
        &self,
        spec: crate::intel::NewEdlList,
        actor: &str,
    ) -> Result<crate::intel::EdlList> {
        self.put_edl_list_impl(spec, actor).await
    }
    async fn list_edl_lists(&self) -> Result<Vec<crate::intel::EdlList>> {
        self.list_edl_lists_impl().await
    }
    async fn get_edl_list(&self, name: &str) -> Result<Option<crate::intel::EdlList>> {
        self.get_edl_list_impl(name).await
    }
    async fn delete_edl_list(&self, name: &str) -> Result<bool> {
        self.delete_edl_list_impl(name).await
    }
    async fn list_sightings(&self, scope: Scope, q: &SightingQuery) -> Result<Page<Sighting>> {
        self.list_sightings_impl(scope, q).await
    }
    async fn put_stix_objects(
        &self,
        items: Vec<crate::NewStixObject>,
    ) -> Result<crate::StixPutCounts> {
        self.put_stix_objects_impl(items).await
    }
    async fn list_stix_objects(
        &self,
        q: &crate::StixObjectQuery,
    ) -> Result<Page<crate::StoredStixObject>> {
        self.list_stix_objects_impl(q).await
    }
    async fn list_indicator_versions(
        &self,
        q: &crate::IndicatorVersionQuery,
    ) -> Result<Page<crate::IndicatorVersion>> {
        self.list_indicator_versions_impl(q).await
    }
    async fn record_taxii_feed_poll(
        &self,
        name: &str,
        collection_url: &str,
        poll: crate::TaxiiFeedPoll,
        at: Timestamp,
    ) -> Result<crate::TaxiiFeedState> {
        self.record_taxii_feed_poll_impl(name, collection_url, poll, at)
            .await
    }
    async fn get_taxii_feed(&self, name: &str) -> Result<Option<crate::TaxiiFeedState>> {
        self.get_taxii_feed_impl(name).await
    }
    async fn list_taxii_feeds(&self) -> Result<Vec<crate::TaxiiFeedState>> {
        self.list_taxii_feeds_impl().await
    }
    async fn put_taxii_status(&self, status: crate::TaxiiStatus) -> Result<()> {
        self.put_taxii_status_impl(status).await
    }
    async fn get_taxii_status(&self, id: &str) -> Result<Option<crate::TaxiiStatus>> {
        self.get_taxii_status_impl(id).await
    }
    async fn put_pipeline_source(
        &self,
        source: crate::PipelineSource,
    ) -> Result<crate::PipelineSource> {
        self.put_pipeline_source_impl(source).await
    }
    async fn get_pipeline_source(&self, name: &str) -> Result<Option<crate::PipelineSource>> {
        self.get_pipeline_source_impl(name).await
    }
    async fn list_pipeline_sources(&self) -> Result<Vec<crate::PipelineSource>> {
        self.list_pipeline_sources_impl().await
    }
    async fn delete_pipeline_source(&self, name: &str) -> Result<bool> {
        self.delete_pipeline_source_impl(name).await
    }
    async fn append_dead_letters(&self, batch: Vec<crate::NewDeadLetter>) -> Result<usize> {
        self.append_dead_letters_impl(batch).await
    }
    async fn search_dead_letters(
        &self,
        scope: Scope,
        q: &crate::DeadLetterQuery,
    ) -> Result<Page<crate::DeadLetter>> {
        self.search_dead_letters_impl(scope, q).await
    }
    async fn count_dead_letters_by_reason(
        &self,
        scope: Scope,
        q: &crate::DeadLetterQuery,
    ) -> Result<Vec<(crate::DeadLetterReason, u64)>> {
        self.count_dead_letters_impl(scope, q).await
    }
    async fn prune_dead_letters(&self, keep: crate::DeadLetterRetention) -> Result<u64> {
        self.prune_dead_letters_impl(keep).await
    }
    async fn enqueue_deliveries(&self, items: Vec<NewDelivery>) -> Result<Vec<Delivery>> {
        self.enqueue_deliveries_impl(items).await
    }
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let until = now.checked_add(lease).unwrap_or(now);
        self.claim_deliveries_impl(now, until, limit).await
    }
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        attempt: u32,
        outcome: DeliveryOutcome,
    ) -> Result<Option<Delivery>> {
        self.finish_delivery_impl(id, attempt, outcome).await
    }
    async fn list_deliveries(&self, scope: Scope, q: &DeliveryQuery) -> Result<Page<Delivery>> {
        self.list_deliveries_impl(scope, q).await
    }

    async fn create_warning(
        &self,
        spec: vigil_model::NewWarning,
        issued_by: &str,
    ) -> Result<vigil_model::Warning> {
        self.create_warning_impl(spec, issued_by).await
    }
    async fn get_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
    ) -> Result<Option<vigil_model::Warning>> {
        self.get_warning_impl(scope, id).await
    }
    async fn list_warnings(
        &self,
        scope: Scope,
        q: &crate::WarningQuery,
    ) -> Result<Page<vigil_model::Warning>> {
        self.list_warnings_impl(scope, q).await
    }
    async fn acknowledge_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        org: OrgId,
        actor: &str,
        response: Option<String>,
    ) -> Result<Option<crate::Acknowledgement>> {
        self.acknowledge_warning_impl(scope, id, org, actor, response)
            .await
    }
    async fn list_warning_recipients(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        pending_only: bool,
    ) -> Result<Option<Vec<vigil_model::WarningRecipient>>> {
        self.list_warning_recipients_impl(scope, id, pending_only)
            .await
    }

    async fn mark_warning_reminded(
        &self,
        id: vigil_model::WarningId,
        org: OrgId,
        at: Timestamp,
    ) -> Result<bool> {
        self.mark_warning_reminded_impl(id, org, at).await
    }

    async fn add_evidence(
        &self,
        scope: Scope,
        spec: crate::NewEvidence,
        actor: &str,
    ) -> Result<crate::Evidence> {
        self.add_evidence_impl(scope, spec, actor).await
    }

    async fn list_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<crate::Evidence>>> {
        self.list_evidence_impl(scope, incident).await
    }

    async fn get_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: crate::EvidenceId,
    ) -> Result<Option<(crate::Evidence, Vec<u8>)>> {
        self.get_evidence_impl(scope, incident, id).await
    }

    async fn get_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<vigil_model::RecordedImpact>> {
        self.get_incident_impact_impl(scope, incident).await
    }

    async fn set_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
        update: crate::ImpactUpdate,
        actor: &str,
    ) -> Result<Option<crate::ImpactOutcome>> {
        self.set_incident_impact_impl(scope, incident, update, actor)
            .await
    }

    async fn add_filed_report(
        &self,
        scope: Scope,
        spec: crate::NewFiledReport,
        actor: &str,
    ) -> Result<crate::FiledReport> {
        self.add_filed_report_impl(scope, spec, actor).await
    }

    async fn list_filed_reports(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<crate::FiledReport>>> {
        self.list_filed_reports_impl(scope, incident).await
    }

    async fn get_filed_report(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: crate::FiledReportId,
    ) -> Result<Option<(crate::FiledReport, Vec<u8>)>> {
        self.get_filed_report_impl(scope, incident, id).await
    }

    async fn add_incident_entry_once(
        &self,
        id: IncidentId,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<Option<bool>> {
        self.add_incident_entry_once_impl(id, action, note, actor)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_plain_identifier("t_0194d4a000007000"));
        assert!(is_plain_identifier("_x"));
        for bad in ["", "1abc", "Abc", "a-b", "a;drop", "a b", &"x".repeat(64)] {
            assert!(!is_plain_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn timestamps_encode_as_postgres_microseconds() {
        let t = Timestamp::from_microsecond(1_762_000_000_123_456).unwrap_or(Timestamp::MIN);
        let mut buf = BytesMut::new();
        assert!(matches!(
            Ts(t).to_sql(&Type::TIMESTAMPTZ, &mut buf),
            Ok(IsNull::No)
        ));
        let back = Ts::from_sql(&Type::TIMESTAMPTZ, &buf).map(|t| t.0).ok();
        assert_eq!(back, Some(t));
        let fine = Timestamp::new(1_762_000_000, 123_456_789).unwrap_or(Timestamp::MIN);
        assert_eq!(micros(fine).subsec_nanosecond(), 123_456_000);
    }
}
