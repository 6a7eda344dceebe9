//! Vigil's persistence: one [`Store`] contract, two implementations.
//!
//! - `sqlite` (module [`sqlite`]): the embedded default. rusqlite with the bundled SQLite, WAL
//!   journal, one writer thread that batches concurrent writes into one transaction (group
//!   commit), and a small pool of read connections used from blocking threads.
//! - `postgres` (module [`postgres`]): tokio-postgres with a deadpool pool; event batches go in
//!   with binary `COPY ... FROM STDIN`.
//!
//! Both run versioned migrations at open, and both pass the same conformance suite
//! ([`testsuite`], behind the `testsuite` feature and in this crate's tests), which is how the
//! contract is kept: the SQL is not shared, the tests are.
//!
//! **Tenant isolation lives here.** Every read or change of organization-owned data takes a
//! [`Scope`]; the implementations put the scope into the query's `WHERE` clause. A record of
//! another organization is reported exactly like one that does not exist (`None` or `false`),
//! so callers cannot even learn that it exists.
//!
//! Only this crate contains SQL.

use async_trait::async_trait;
use vigil_model::{
    Alert, AlertId, AlertSource, AlertStatus, ApiToken, Asset, AssetId, AssetKind, AuditOutcome,
    AuditRecord, Event, EventId, Grade, Importance, Incident, IncidentId, IncidentStatus, Locale,
    NewAlert, NewAsset, NewAuditRecord, NewEvent, NewIncident, NewOrganization, NewUser, OrgId,
    Organization, Page, Scope, Severity, Timestamp, TokenId, User, UserId, ValidationError,
};

mod cursor;
pub use cursor::Cursor;

pub mod intel;
pub use intel::{
    EdlList, ImportRejection, IndicatorId, IndicatorQuery, IndicatorState, IndicatorVersion,
    IndicatorVersionQuery, IntelImport, IntelImportId, IntelSource, IntelSourceCounts,
    IntelSourceId, IntelSourcePatch, NewEdlList, NewIndicator, NewIntelImport, NewIntelSource,
    NewSighting, Sighting, SightingId, SightingQuery, StoredIndicator, UpsertCounts,
};

pub mod notify;
pub use notify::{
    Delivery, DeliveryId, DeliveryOutcome, DeliveryQuery, DeliveryStatus, NewDelivery,
};

pub mod aggregation;
pub use aggregation::{AlertAttachment, AttachOutcome};

pub mod warnings;
pub use warnings::{Acknowledgement, WarningQuery};

pub mod evidence;
pub use evidence::{Evidence, EvidenceId, NewEvidence};

pub mod impact;
pub use impact::{ImpactOutcome, ImpactUpdate};

pub mod taxii;
pub use taxii::{TaxiiFeedPoll, TaxiiFeedState, TaxiiStatus};

pub mod pipeline_sources;
pub use pipeline_sources::{PipelineSource, SourceOrigin};

pub mod dead_letters;
pub use dead_letters::{
    DeadLetter, DeadLetterQuery, DeadLetterReason, DeadLetterRetention, NewDeadLetter,
};

pub mod filed_reports;
pub use filed_reports::{FiledReport, FiledReportId, NewFiledReport};

pub mod stix;
pub use stix::{NewStixObject, StixObjectQuery, StixPutCounts, StixVersion, StoredStixObject};

pub mod sealed;

pub mod sqlite;
pub use sqlite::{SqliteOptions, SqliteStore};

pub mod postgres;
pub use postgres::PgStore;

#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

/// Largest page a list query returns, whatever the caller asks for.
pub const MAX_PAGE: usize = 1_000;
/// Page size when the caller does not say.
pub const DEFAULT_PAGE: usize = 50;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The input breaks a model rule; names the field.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// A referenced record (organization, asset, alert) does not exist within the scope.
    #[error("{0} not found")]
    MissingReference(String),
    /// The change conflicts with what is stored (duplicate name, dependent records).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A cursor that this store did not hand out.
    #[error("bad cursor: {0}")]
    BadCursor(String),
    /// The database failed; the message is for logs, not for clients.
    #[error("database error: {0}")]
    Backend(String),
    /// Opening or migrating the store failed.
    #[error("cannot open store: {0}")]
    Open(String),
    /// A personal field encrypted at rest ([`sealed`]) does not decrypt: the field key is not
    /// the one it was written with, the stored value was altered, or the store has no key.
    #[error("cannot decrypt {field} of {record}: {reason}")]
    Sealed {
        /// `org/<id>` or `asset/<id>`.
        record: String,
        /// `responsible/phone`, `contacts/2/name`, ...
        field: String,
        reason: String,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Filters for listing organizations.
#[derive(Debug, Clone, Default)]
pub struct OrgQuery {
    /// Substring of the name, case-insensitive.
    pub text: Option<String>,
    pub sector: Option<String>,
    /// Region code prefix: `33` for the province, `3301` for the city.
    pub region_prefix: Option<String>,
    pub mlps_level: Option<u8>,
    pub cii: Option<bool>,
}

/// Filters for listing assets.
#[derive(Debug, Clone, Default)]
pub struct AssetQuery {
    pub org_id: Option<OrgId>,
    pub kind: Option<AssetKind>,
    /// Only industrial control devices (PLC, SCADA, HMI, DCS, RTU, other).
    pub industrial: Option<bool>,
    pub importance: Option<Importance>,
    /// Substring of name, hostnames, domains, IPs, vendor or model, case-insensitive.
    pub text: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// One field condition of an event search: `field` equals `value` (compared as text).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub field: String,
    pub value: String,
}

/// An event search. Results come newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub org_id: Option<OrgId>,
    pub asset_id: Option<AssetId>,
    /// Inclusive lower bound on event time.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound on event time.
    pub to: Option<Timestamp>,
    /// All must match.
    pub filters: Vec<FieldFilter>,
    /// Case-insensitive substring of the message (or raw text).
    pub text: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Filters for listing alerts. Results come newest first (by creation).
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub org_id: Option<OrgId>,
    pub status: Option<AlertStatus>,
    pub severity: Option<Severity>,
    pub source: Option<AlertSource>,
    pub incident_id: Option<IncidentId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Filters for listing incidents. Results come newest first (by creation).
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    pub org_id: Option<OrgId>,
    pub status: Option<IncidentStatus>,
    /// Only incidents that are not closed.
    pub open: Option<bool>,
    pub grade: Option<Grade>,
    pub category: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// A change to an incident. `None` leaves a field as it is. Every applied change is added to
/// the timeline with the actor.
#[derive(Debug, Clone, Default)]
pub struct IncidentUpdate {
    /// When set, the update applies only if the incident is in this status now; otherwise it
    /// fails with [`StoreError::Conflict`] (so a workflow step checked against the status the
    /// caller read cannot race another step).
    pub expect_status: Option<IncidentStatus>,
    pub status: Option<IncidentStatus>,
    pub grade: Option<Grade>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<Option<String>>,
    /// Added to the timeline as a `comment` entry.
    pub comment: Option<String>,
}

/// Refuses an update whose `expect_status` no longer holds.
pub(crate) fn check_expected_status(inc: &Incident, change: &IncidentUpdate) -> Result<()> {
    match change.expect_status {
        Some(want) if want != inc.status => Err(StoreError::Conflict(format!(
            "the incident is now '{}', not '{}'; reload it and try again",
            inc.status.as_str(),
            want.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Filters for reading the audit log, oldest first from `after_seq`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub after_seq: Option<i64>,
    pub actor: Option<String>,
    pub action_prefix: Option<String>,
    pub org_id: Option<OrgId>,
    pub limit: usize,
}

/// A browser session. The session id itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Counts for the situation overview within a scope. Alerts and events count from a time on
/// (alerts by when they were detected); incident figures are the currently open incidents.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Overview {
    /// Open incidents per (category code, grade).
    pub incidents_by_category_grade: Vec<(String, Grade, u64)>,
    /// Alerts per UTC day (`YYYY-MM-DD`), oldest first, days with none left out.
    pub alerts_per_day: Vec<(String, u64)>,
    /// Organizations with the most open incidents: (id, name, count), most first, at most 10.
    pub top_orgs_open_incidents: Vec<(OrgId, String, u64)>,
    pub open_incidents: u64,
    pub new_alerts: u64,
    pub organizations: u64,
    pub assets: u64,
    pub events: u64,
}

/// Reference counts that make an organization impossible to delete.
pub fn org_in_use(assets: u64, users: u64) -> Option<StoreError> {
    (assets + users > 0).then(|| {
        StoreError::Conflict(format!(
            "organization still has {assets} assets and {users} users"
        ))
    })
}

/// The persistence contract. Everything organization-owned is scoped; see the crate docs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<()>;

    // Organizations. Creating or deleting one needs Scope::All (callers check the role);
    // reads and updates are scoped.
    async fn create_org(&self, spec: NewOrganization) -> Result<Organization>;
    async fn get_org(&self, scope: Scope, id: OrgId) -> Result<Option<Organization>>;
    async fn list_orgs(&self, scope: Scope, q: &OrgQuery) -> Result<Vec<Organization>>;
    async fn update_org(
        &self,
        scope: Scope,
        id: OrgId,
        spec: NewOrganization,
    ) -> Result<Option<Organization>>;
    /// Refuses with `Conflict` while assets or users still belong to it; events, alerts and
    /// incidents go with it.
    async fn delete_org(&self, scope: Scope, id: OrgId) -> Result<bool>;

    // Assets.
    /// Creates all or none: every spec's organization must exist within the scope.
    async fn create_assets(&self, scope: Scope, specs: Vec<NewAsset>) -> Result<Vec<Asset>>;
    async fn get_asset(&self, scope: Scope, id: AssetId) -> Result<Option<Asset>>;
    async fn list_assets(&self, scope: Scope, q: &AssetQuery) -> Result<Page<Asset>>;
    /// The new spec's organization must be within the scope too (no moving assets out).
    async fn update_asset(
        &self,
        scope: Scope,
        id: AssetId,
        spec: NewAsset,
    ) -> Result<Option<Asset>>;
    async fn delete_asset(&self, scope: Scope, id: AssetId) -> Result<bool>;
    /// Every asset, for attribution of events to assets (IP and hostname lookup tables).
    async fn all_assets(&self) -> Result<Vec<Asset>>;

    // Events.
    /// Appends a batch; when this returns `Ok` every event is durable. Ids come back in input
    /// order. The caller has already checked the principal may write to each event's
    /// organization.
    async fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>>;
    async fn get_event(&self, scope: Scope, id: EventId) -> Result<Option<Event>>;
    async fn search_events(&self, scope: Scope, q: &EventQuery) -> Result<Page<Event>>;
    /// Deletes events older than `cutoff` (retention); returns how many went.
    async fn delete_events_before(&self, cutoff: Timestamp) -> Result<u64>;

    // Alerts.
    async fn create_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>>;
    async fn get_alert(&self, scope: Scope, id: AlertId) -> Result<Option<Alert>>;
    async fn list_alerts(&self, scope: Scope, q: &AlertQuery) -> Result<Page<Alert>>;
    async fn set_alert_status(
        &self,
        scope: Scope,
        id: AlertId,
        status: AlertStatus,
        incident: Option<IncidentId>,
    ) -> Result<Option<Alert>>;

    // Incidents.
    /// Opens an incident; linked alerts (same organization) are marked escalated.
    async fn create_incident(&self, spec: NewIncident, actor: &str) -> Result<Incident>;
    async fn get_incident(&self, scope: Scope, id: IncidentId) -> Result<Option<Incident>>;
    async fn list_incidents(&self, scope: Scope, q: &IncidentQuery) -> Result<Page<Incident>>;
    async fn update_incident(
        &self,
        scope: Scope,
        id: IncidentId,
        change: IncidentUpdate,
        actor: &str,
    ) -> Result<Option<Incident>>;

    /// Appends a timeline entry `action` (with `note`, by `actor`, at the store's clock) to
    /// the incident unless it already has an entry with that action: `Some(true)` when this
    /// call appended it, `Some(false)` when one was there, `None` when the incident does not
    /// exist. Check and append are one transaction under the incident's lock, so concurrent
    /// calls append at most one. The platform's own action (no scope); used by the deadline
    /// watcher for its `overdue:<kind>` and `reminder:<kind>` marks.
    async fn add_incident_entry_once(
        &self,
        id: IncidentId,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<Option<bool>>;

    // Evidence files (see the `evidence` module): written once, never changed or deleted.
    /// Stores an evidence file of an incident visible in the scope with the SM3 digest of its
    /// bytes, and adds an `evidence` entry by `actor` to the incident's timeline, in one
    /// transaction. `MissingReference` when the incident is not in the scope; `Invalid` for an
    /// empty file, one larger than [`evidence::MAX_EVIDENCE_BYTES`] or a too long note.
    async fn add_evidence(&self, scope: Scope, spec: NewEvidence, actor: &str) -> Result<Evidence>;
    /// The incident's evidence records, oldest first, without their bytes (at most
    /// [`evidence::MAX_EVIDENCE_LISTED`]); `None` when the incident is not in the scope.
    async fn list_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<Evidence>>>;
    /// One evidence file of the incident with its bytes as stored, not yet checked against
    /// the digest ([`Evidence::matches`]); `None` when it is not in the scope.
    async fn get_evidence(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: EvidenceId,
    ) -> Result<Option<(Evidence, Vec<u8>)>>;

    // Impact records (see the `impact` module): one per incident, replaced as a whole.
    /// The impact recorded for an incident in the scope; `None` when none was recorded or
    /// the incident is not in the scope.
    async fn get_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<vigil_model::RecordedImpact>>;
    /// Records (replaces) the impact of an incident in the scope, adds an `impact` timeline
    /// entry by `actor` and, when `update.grade` is more severe than the incident's, raises
    /// the grade with a `grade:raised` entry, in one transaction under the incident's lock.
    /// `None` when the incident is not in the scope; `Invalid` for an impact that fails
    /// validation; `Conflict` for an archived incident.
    async fn set_incident_impact(
        &self,
        scope: Scope,
        incident: IncidentId,
        update: ImpactUpdate,
        actor: &str,
    ) -> Result<Option<ImpactOutcome>>;

    // Filed incident reports (see the `filed_reports` module): written once, never changed.
    /// Files a report of an incident visible in the scope: stores the snapshot with the next
    /// sequence number and its SM3 digest, and adds a `report:<kind>` entry by `actor` to the
    /// incident's timeline, in one transaction under the incident's lock. `MissingReference`
    /// when the incident is not in the scope; `Invalid` for an unknown kind, a snapshot that is
    /// empty, too large or not JSON, or a `timeline_upto` beyond the timeline; `Conflict` for a
    /// second initial or final report, or when a report was filed since `previous_seq`.
    async fn add_filed_report(
        &self,
        scope: Scope,
        spec: NewFiledReport,
        actor: &str,
    ) -> Result<FiledReport>;
    /// The incident's filed reports by sequence number, without their snapshots (at most
    /// [`filed_reports::MAX_REPORTS_LISTED`]); `None` when the incident is not in the scope.
    async fn list_filed_reports(
        &self,
        scope: Scope,
        incident: IncidentId,
    ) -> Result<Option<Vec<FiledReport>>>;
    /// One filed report of the incident with its snapshot as stored, not yet checked against
    /// the digest ([`FiledReport::matches`]); `None` when it is not in the scope.
    async fn get_filed_report(
        &self,
        scope: Scope,
        incident: IncidentId,
        id: FiledReportId,
    ) -> Result<Option<(FiledReport, Vec<u8>)>>;

    // TAXII state (see the `taxii` module): platform-wide, callers check the role.
    /// Records one poll of the TAXII feed `name` at `at` and returns the feed's new state
    /// (created on its first poll; a changed `collection_url` starts the state over).
    async fn record_taxii_feed_poll(
        &self,
        name: &str,
        collection_url: &str,
        poll: TaxiiFeedPoll,
        at: Timestamp,
    ) -> Result<TaxiiFeedState>;
    async fn get_taxii_feed(&self, name: &str) -> Result<Option<TaxiiFeedState>>;
    /// Every feed polled so far, by name.
    async fn list_taxii_feeds(&self) -> Result<Vec<TaxiiFeedState>>;
    /// Stores (or replaces) a status resource of the TAXII server; those older than
    /// [`taxii::STATUS_KEPT_DAYS`] go.
    async fn put_taxii_status(&self, status: TaxiiStatus) -> Result<()>;
    async fn get_taxii_status(&self, id: &str) -> Result<Option<TaxiiStatus>>;

    // Pipeline sources defined at runtime (see the `pipeline_sources` module): platform-wide,
    // callers check the role.
    /// Inserts or replaces the source by name (a replaced one keeps its creator and creation
    /// time) and returns it as stored.
    async fn put_pipeline_source(&self, source: PipelineSource) -> Result<PipelineSource>;
    async fn get_pipeline_source(&self, name: &str) -> Result<Option<PipelineSource>>;
    /// Every stored source, by name.
    async fn list_pipeline_sources(&self) -> Result<Vec<PipelineSource>>;
    /// `false` when there was none.
    async fn delete_pipeline_source(&self, name: &str) -> Result<bool>;

    // Dead letters (see the `dead_letters` module): written by the pipeline; callers check
    // the role, and an organization scope sees only the dead letters attributed to it.
    /// Stores a batch (raw bytes cut to 64 KiB, the original length kept); all or none.
    /// `Invalid` for more than `MAX_DEAD_LETTER_BATCH` or an empty source name.
    async fn append_dead_letters(&self, batch: Vec<NewDeadLetter>) -> Result<usize>;
    /// Newest first by `received_at`, then id, with cursors like the other lists.
    async fn search_dead_letters(
        &self,
        scope: Scope,
        q: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>>;
    /// How many match the query's filters (cursor and limit ignored), per reason present.
    async fn count_dead_letters_by_reason(
        &self,
        scope: Scope,
        q: &DeadLetterQuery,
    ) -> Result<Vec<(DeadLetterReason, u64)>>;
    /// Deletes those older than `keep.older_than` and all but the newest `keep.keep_newest`;
    /// returns how many went.
    async fn prune_dead_letters(&self, keep: DeadLetterRetention) -> Result<u64>;

    // Incident aggregation (see the `aggregation` module).
    /// The open (not closed or archived) incident of `org` opened under `key`, within the
    /// scope.
    async fn find_open_incident_by_key(
        &self,
        scope: Scope,
        org: OrgId,
        key: &str,
    ) -> Result<Option<Incident>>;
    /// Opens an incident under an aggregation key, like `create_incident` (its alerts are
    /// escalated to it). `Conflict` when the organization has an open incident with the key.
    async fn create_aggregated_incident(
        &self,
        spec: NewIncident,
        key: &str,
        actor: &str,
    ) -> Result<Incident>;
    /// Attaches alerts (and affected assets) to an open incident within the scope, raising
    /// its grade if `attach.grade` is more severe, with timeline entries. `None` when the
    /// incident is not in the scope; `Conflict` when it is closed or archived;
    /// `MissingReference` for an alert not of the incident's organization.
    async fn attach_alerts(
        &self,
        scope: Scope,
        id: IncidentId,
        attach: AlertAttachment,
        actor: &str,
    ) -> Result<Option<AttachOutcome>>;

    /// Counts for the overview page.
    async fn overview(&self, scope: Scope, since: Timestamp) -> Result<Overview>;

    // Users.
    async fn create_user(&self, spec: NewUser, password_hash: String) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// The user and its password hash, for login.
    async fn find_user_for_login(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn list_users(&self, scope: Scope) -> Result<Vec<User>>;
    async fn set_password(&self, id: UserId, password_hash: String) -> Result<bool>;
    async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool>;
    async fn set_user_locale(&self, id: UserId, locale: Locale) -> Result<bool>;
    async fn count_users(&self) -> Result<u64>;

    // API tokens.
    async fn create_token(&self, token: ApiToken, secret_hash: String) -> Result<()>;
    /// The token whose secret hashes to `secret_hash`, active or not.
    async fn find_token(&self, secret_hash: &str) -> Result<Option<ApiToken>>;
    async fn list_tokens(&self, scope: Scope) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, scope: Scope, id: TokenId, at: Timestamp) -> Result<bool>;
    async fn touch_token(&self, id: TokenId, at: Timestamp) -> Result<()>;

    // Browser sessions.
    async fn create_session(&self, session: Session) -> Result<()>;
    async fn get_session(&self, id_hash: &str) -> Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    async fn delete_user_sessions(&self, user: UserId) -> Result<()>;
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64>;

    // Audit log: append-only, SM3 hash-chained (see vigil_crypto::audit_hash).
    async fn append_audit(&self, record: NewAuditRecord) -> Result<AuditRecord>;
    async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>>;

    // Threat intelligence. Sources and indicators are platform-wide (callers check the role);
    // sightings belong to organizations and are scoped.
    /// Creates the source, or updates kind, url, enabled and trust of the one with its name.
    async fn upsert_intel_source(&self, spec: NewIntelSource) -> Result<IntelSource>;
    async fn get_intel_source(&self, id: IntelSourceId) -> Result<Option<IntelSource>>;
    /// Sources by name.
    async fn list_intel_sources(&self) -> Result<Vec<IntelSource>>;
    /// Stores a batch in one transaction, idempotent by `(source_id, stix_id)`: a version with
    /// a newer `modified` replaces the stored one (and moves its `date_added`), an older or
    /// equal one only moves `last_seen`. Every source must exist (`MissingReference`).
    async fn upsert_indicators(&self, items: Vec<NewIndicator>) -> Result<UpsertCounts>;
    async fn get_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>>;
    /// Newest first by `date_added` (or oldest first when asked), then id.
    async fn list_indicators(&self, q: &IndicatorQuery) -> Result<Page<StoredIndicator>>;
    /// Versions of stored indicators, current and replaced ones (see
    /// [`intel::IndicatorVersion`]), oldest `date_added` first, then indicator id.
    async fn list_indicator_versions(
        &self,
        q: &IndicatorVersionQuery,
    ) -> Result<Page<IndicatorVersion>>;
    /// The lean read the live matcher loads from: indicators neither revoked nor expired at
    /// `now`, of enabled sources, in id order strictly after `after`, at most `limit` (capped
    /// at [`intel::MAX_MATCH_PAGE`]); fewer than asked means the end. Keyset-paged, so a whole
    /// store reads in linear time without decoding STIX objects.
    async fn indicators_for_matching(
        &self,
        after: Option<IndicatorId>,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<intel::MatchIndicator>>;
    /// Marks the indicator revoked in Vigil (kept, no longer active); `None` when missing.
    async fn revoke_indicator(&self, id: IndicatorId) -> Result<Option<StoredIndicator>>;
    /// Deletes the indicator and its sightings.
    async fn delete_indicator(&self, id: IndicatorId) -> Result<bool>;
    /// Records sightings, all or none: each indicator must exist and each organization be
    /// within the scope (`MissingReference` otherwise).
    async fn record_sightings(
        &self,
        scope: Scope,
        items: Vec<NewSighting>,
    ) -> Result<Vec<Sighting>>;
    /// Newest first by `seen_at`, then id.
    async fn list_sightings(&self, scope: Scope, q: &SightingQuery) -> Result<Page<Sighting>>;
    /// Changes a source's settings; `None` when it does not exist.
    async fn update_intel_source(
        &self,
        id: IntelSourceId,
        patch: IntelSourcePatch,
    ) -> Result<Option<IntelSource>>;
    /// Indicator counts of every source that has any.
    async fn intel_source_counts(&self) -> Result<Vec<IntelSourceCounts>>;
    /// Records a finished import (rejections beyond [`intel::MAX_IMPORT_REJECTIONS`] are
    /// dropped, the count stays); the source must exist (`MissingReference`).
    async fn record_intel_import(&self, spec: NewIntelImport) -> Result<IntelImport>;
    /// Imports newest first by `finished_at`, then id; of one source or all.
    async fn list_intel_imports(
        &self,
        source_id: Option<IntelSourceId>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<IntelImport>>;
    async fn get_intel_import(&self, id: IntelImportId) -> Result<Option<IntelImport>>;
    /// Creates or replaces the external dynamic list of that name.
    async fn put_edl_list(&self, spec: NewEdlList, actor: &str) -> Result<EdlList>;
    /// Lists by name.
    async fn list_edl_lists(&self) -> Result<Vec<EdlList>>;
    async fn get_edl_list(&self, name: &str) -> Result<Option<EdlList>>;
    async fn delete_edl_list(&self, name: &str) -> Result<bool>;

    // STIX objects (see the `stix` module): platform-wide like indicators, every version kept.
    /// Stores the versions not stored yet in one transaction, each with the next `date_added`
    /// (strictly increasing); a version stored before (same id and `modified`) is left as it
    /// is and counted unchanged. Every source must exist (`MissingReference`).
    async fn put_stix_objects(&self, items: Vec<NewStixObject>) -> Result<StixPutCounts>;
    /// Stored versions matching the query, oldest `date_added` first.
    async fn list_stix_objects(&self, q: &StixObjectQuery) -> Result<Page<StoredStixObject>>;

    // Notification outbox (see the `notify` module). Enqueuing and claiming are the
    // platform's own actions; listing is scoped.
    /// Stores the deliveries, all or none, due at their `not_before`; every organization
    /// must exist (`MissingReference`).
    async fn enqueue_deliveries(&self, items: Vec<NewDelivery>) -> Result<Vec<Delivery>>;
    /// Takes up to `limit` due deliveries (pending and due by `now`, or sending with a lease
    /// that ran out by `now`), oldest due first: each becomes `sending` until
    /// `now + lease`, with one more attempt counted. No delivery is handed to two claims
    /// while its lease holds.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    /// Records the outcome of attempt `attempt` (as claimed). `None` when the delivery is
    /// missing or no longer in that attempt (its lease ran out and it was claimed again).
    async fn finish_delivery(
        &self,
        id: DeliveryId,
        attempt: u32,
        outcome: DeliveryOutcome,
    ) -> Result<Option<Delivery>>;
    /// Newest first by creation, then id.
    async fn list_deliveries(&self, scope: Scope, q: &DeliveryQuery) -> Result<Page<Delivery>>;

    // Early warnings (see the `warnings` module). Issuing is the platform's action (callers
    // check the role); reads and acknowledgements are scoped by recipient.
    /// Stores the warning and its recipients, resolved from its targets now and frozen.
    async fn create_warning(
        &self,
        spec: vigil_model::NewWarning,
        issued_by: &str,
    ) -> Result<vigil_model::Warning>;
    async fn get_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
    ) -> Result<Option<vigil_model::Warning>>;
    /// Newest first by issue time, then id.
    async fn list_warnings(
        &self,
        scope: Scope,
        q: &WarningQuery,
    ) -> Result<Page<vigil_model::Warning>>;
    /// Acknowledges for `org` (which the scope must allow). Idempotent: a second call keeps
    /// the first time, actor and response. `None` when the warning is not addressed to `org`
    /// within the scope.
    async fn acknowledge_warning(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        org: OrgId,
        actor: &str,
        response: Option<String>,
    ) -> Result<Option<Acknowledgement>>;
    /// Records, once, that the warning's overdue reminder goes to `org`: `true` when this
    /// call recorded it, `false` when it had been recorded before, the organization has
    /// acknowledged meanwhile, or is not a recipient. Concurrent calls: at most one `true`.
    /// The platform's own action (no scope).
    async fn mark_warning_reminded(
        &self,
        id: vigil_model::WarningId,
        org: OrgId,
        at: Timestamp,
    ) -> Result<bool>;
    /// The recipients within the scope by organization name (only those that have not
    /// acknowledged, with `pending_only`); `None` when the warning is not visible.
    async fn list_warning_recipients(
        &self,
        scope: Scope,
        id: vigil_model::WarningId,
        pending_only: bool,
    ) -> Result<Option<Vec<vigil_model::WarningRecipient>>>;
}

/// Clamps a requested page size into `1..=MAX_PAGE`, `0` meaning the default.
pub fn page_size(limit: usize) -> usize {
    match limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// Helper for implementations: the outcome string stored for an audit outcome.
pub fn outcome_str(o: AuditOutcome) -> &'static str {
    o.as_str()
}
