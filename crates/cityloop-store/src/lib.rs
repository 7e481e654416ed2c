//! Storage for cityloop: the [`Store`] trait and its two implementations,
//! [`SqliteStore`] (the embedded default) and [`PgStore`] (production).
//!
//! This is the only crate that contains SQL. Both implementations are generated from one
//! body of code by the `sql_store!` macro in [`common`]: every statement is written once
//! with `$n` placeholders that both dialects accept, so the two stores cannot drift apart
//! silently. Where the dialects genuinely differ (connection setup, the schema's column
//! types and triggers), the difference lives in [`sqlite`] and [`postgres`] and in the two
//! migration trees `migrations/sqlite` and `migrations/postgres`.
//!
//! Invariants:
//! - every case write is a [`pipeline::Command`]; its projections (case view, events and
//!   chain links, webhook outbox, evaluation buckets) are written in its transaction, in
//!   the fixed order of [`pipeline::PROJECTIONS`];
//! - a case transition is one transaction: the event row is inserted and the case view
//!   updated together, guarded by the optimistic `version` check;
//! - `case_events` is append-only (database triggers refuse UPDATE and DELETE);
//! - every time is stored in UTC;
//! - webhook deliveries are queued in the transaction of the event that triggers them
//!   ([`webhooks`]), and so are messages to citizens ([`messages`]);
//! - every case event is hash-linked to the previous event of its case in its own
//!   transaction, and roots seal the links across cases ([`chain`]).

pub mod admin;
pub mod chain;
pub mod chainbench;
mod common;
pub mod dashboard;
pub mod evalbench;
pub mod hotline;
pub mod listbench;
pub mod messages;
pub mod patrols;
pub mod pipeline;
pub mod postgres;
pub mod search;
pub mod sensors;
pub mod sqlite;
pub mod testing;
pub mod webhooks;

pub mod enforce;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use cityloop_domain::calendar::WorkCalendar;
use cityloop_domain::case::{Case, Event};
use cityloop_domain::evaluation::{Counter, ObjectKind, Patrol};
use cityloop_domain::ids::{CaseId, PersonId, UnitId};
use cityloop_domain::model::{Category, Person, Unit};
use serde::{Deserialize, Serialize};

pub use admin::{AdminOp, AuditCursor, AuditEntry, AuditFilter};
pub use chain::{ChainStatus, Checkpoint, IntegrityStore, VerifyRun};
pub use dashboard::{DashboardEvent, DashboardQuery, DashboardRows, DashboardStore, OverdueRow};
pub use enforce::{CasePartyLink, EnforceStore, EnforcementStepRow, PartyRow};
pub use hotline::{HotlineLogEntry, HotlineOrderRow, HotlineStore};
pub use messages::{MessageAttempt, MessageRow, MessageStore, NewMessage, OutboxHealth};
pub use patrols::{BatchOutcome, PatrolRefusal, PatrolRun, PatrolStore};
pub use postgres::PgStore;
pub use search::SearchStore;
pub use sensors::{
    DeviceRow, ReadingValue, RuleStateRow, SensorLogRow, SensorRecord, SensorStore, SeriesOf,
    SeriesPoint, SeriesQuery,
};
pub use sqlite::SqliteStore;
pub use webhooks::{
    AttemptOutcome, DueDelivery, WebhookAttempt, WebhookDelivery, WebhookStore, WebhookSubscription,
};

/// Largest page any list returns.
pub const MAX_PAGE: u32 = 500;

/// What can go wrong in the store, as callers need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// The case changed since it was read (optimistic version check), or a unique key
    /// already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database file or server cannot be used (missing, corrupt, unreachable).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode (a bug or tampering, never user input).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Text the database cannot store: PostgreSQL refuses a NUL character in `text`
    /// (SQLSTATE 22021, "invalid byte sequence"; 22P05 in JSON). The HTTP edge refuses
    /// such input first, naming the field; this is the safety net behind it.
    #[error("text the database cannot store: {0}")]
    InvalidText(String),
    #[error(transparent)]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(d.message().to_owned())
            }
            sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("22021" | "22P05")) => {
                StoreError::InvalidText(d.message().to_owned())
            }
            sqlx::Error::Database(d) if d.code().is_some_and(|c| connection_lost(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Db(e),
        }
    }
}

/// True for the PostgreSQL SQLSTATEs a failover produces: the connection is gone or the
/// server is not (or no longer) the read-write leader. The statement did not commit, or
/// its commit's fate is unknown; either way only an idempotent write may be retried.
/// (08xxx connection exception, 57P01–57P03 server shutting down / starting up, 25006 a
/// write sent to a standby, 53300 too many connections while clients move over.)
fn connection_lost(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "25006" | "53300")
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The first use of an idempotency key: the case it wrote and when (for an action, the
/// time of the event it appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    pub case_id: CaseId,
    pub at: DateTime<Utc>,
}

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Filters for listing cases. Every field narrows the result; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub states: Vec<String>,
    pub unit_id: Option<UnitId>,
    pub street_code: Option<String>,
    pub segment_id: Option<String>,
    pub category_code: Option<String>,
    pub source: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// Deadline strictly before this instant (overdue lists).
    pub deadline_before: Option<DateTime<Utc>>,
    /// [min_lon, min_lat, max_lon, max_lat]
    pub bbox: Option<[f64; 4]>,
    pub ids: Vec<CaseId>,
    /// With `unit_id`: also the cases on which that unit's assisting part (协办) is open
    /// (`case_assists`, migration 0028).
    pub assisting: bool,
}

/// What [`Store::case_clusters`] counts: cases in `states` inside `bbox` (inclusive, as
/// [`CaseFilter::bbox`]), optionally one unit's or one street's, in cells of `cell`
/// degrees (longitude, latitude) on a grid anchored at (−180°, −90°).
#[derive(Debug, Clone, Default)]
pub struct ClusterFilter {
    pub states: Vec<String>,
    pub unit_id: Option<UnitId>,
    pub street_code: Option<String>,
    /// [min_lon, min_lat, max_lon, max_lat]
    pub bbox: [f64; 4],
    /// Cell size in degrees: [longitude, latitude]; both must be positive.
    pub cell: [f64; 2],
}

/// One cell of [`Store::case_clusters`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaseCluster {
    /// Cell column: `floor((lon + 180) / cell_lon)`.
    pub gx: i64,
    /// Cell row: `floor((lat + 90) / cell_lat)`.
    pub gy: i64,
    pub count: u64,
    /// Cases whose deadline is before the given instant.
    pub overdue: u64,
    /// Mean position of the cell's cases.
    pub lon: f64,
    pub lat: f64,
    /// The lowest case id in the cell (the case itself when `count` is 1).
    pub min_id: String,
}

/// Filters of the public Open311 list (`GET /open311/v2/requests`): only published
/// cases whose category a `service_code` can name (the `open311_code` column, migration
/// 0010). Empty lists and `None` mean any.
#[derive(Debug, Clone, Default)]
pub struct PublicCaseFilter {
    /// `service_code`s (any of them).
    pub service_codes: Vec<String>,
    pub states: Vec<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
}

/// Where a page of the public list starts: after skipping rows (the standard's
/// `page`/`page_size` clients) or after a keyset cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicStart {
    Offset(u64),
    After(Cursor),
}

/// The largest page of the public list (the Open311 spec's cap of 1000 requests).
pub const MAX_PUBLIC_PAGE: u32 = 1000;

/// Keyset paging: newest first by (created_at, id).
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// The position after the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: CaseId,
}

impl Cursor {
    /// The opaque token APIs hand out (`next_cursor`): `<created_at µs>_<id>`.
    pub fn to_token(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.id)
    }

    /// Reads a token written by [`Cursor::to_token`]; anything else is `None`.
    pub fn from_token(s: &str) -> Option<Cursor> {
        let (t, id) = s.split_once('_')?;
        let micros: i64 = t.parse().ok()?;
        Some(Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(micros)?,
            id: CaseId::parse(id).ok()?,
        })
    }
}

/// A session row joined with its person.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub person: Person,
    pub expires_at: DateTime<Utc>,
}

/// Everything but cases, as `cityloop copy` moves it between stores. Sessions are not
/// copied (people log in again after a move).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReferenceSnapshot {
    pub settings: Vec<(String, serde_json::Value)>,
    pub categories: Vec<Category>,
    pub units: Vec<Unit>,
    /// People with their password hashes.
    pub people: Vec<(Person, String)>,
    pub layers: Vec<(String, String)>,
    pub api_keys: Vec<ApiKeyRow>,
    pub sequences: Vec<(String, i64)>,
    pub idempotency: Vec<IdempotencyRow>,
    /// (case, clock key, level, fired at)
    pub escalations: Vec<(CaseId, String, String, DateTime<Utc>)>,
    pub notifications: Vec<Notification>,
    pub road_chiefs: Vec<RoadChiefAssignment>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The admin audit log, oldest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub key_hash: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRow {
    pub scope: String,
    pub key: String,
    pub case_id: CaseId,
    pub created_at: DateTime<Utc>,
}

/// One case with its stored deadline and full history.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub case: Case,
    pub deadline: Option<DateTime<Utc>>,
    pub events: Vec<Event>,
}

/// A message for one person (escalations, later other events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: uuid::Uuid,
    pub person_id: PersonId,
    pub case_id: Option<CaseId>,
    pub kind: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// The case event that raised it (the notifications projection, migration 0023);
    /// `None` for an escalation's notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_seq: Option<i64>,
}

/// Largest page of [`Store::inbox`].
pub const MAX_INBOX_PAGE: u32 = 100;

/// One road chief's assignment to a segment at a level, current when `valid_to` is None.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoadChiefAssignment {
    pub segment_id: String,
    pub level: String,
    pub person_id: PersonId,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// The metadata of one uploaded photo. The bytes are files in the media folder named by
/// `sha256` (the original, staff only, and a public copy without EXIF/XMP metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: uuid::Uuid,
    /// SHA-256 of the original bytes, lowercase hex; unique (uploads are deduplicated).
    pub sha256: String,
    /// `image/jpeg`, `image/png` or `image/webp`, from the content.
    pub mime: String,
    pub size: i64,
    pub public_size: i64,
    pub width: i64,
    pub height: i64,
    /// The EXIF GPS position of the original (WGS84), never in the public copy.
    pub gps_lat: Option<f64>,
    pub gps_lon: Option<f64>,
    /// The staff member who uploaded it first; None for a public (citizen) upload.
    pub uploaded_by: Option<PersonId>,
    /// `staff` or `public`.
    pub channel: String,
    pub uploaded_at: DateTime<Utc>,
}

/// The storage interface. Handlers and services hold an `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    WebhookStore
    + MessageStore
    + HotlineStore
    + IntegrityStore
    + SearchStore
    + SensorStore
    + EnforceStore
    + PatrolStore
    + DashboardStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Row counts per table and a checksum per case event chain are built on this.
    async fn ping(&self) -> Result<()>;

    // ---- settings (calendar, limit table, district profile) as JSON documents ----
    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> Result<()>;
    /// Writes several settings in one transaction (one commit; `cityloop bench intake`'s
    /// batched floor).
    async fn put_settings(&self, items: &[(String, serde_json::Value)]) -> Result<()>;
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>>;

    // ---- reference data ----
    async fn upsert_category(&self, c: &Category) -> Result<()>;
    async fn list_categories(&self) -> Result<Vec<Category>>;
    async fn upsert_unit(&self, u: &Unit) -> Result<()>;
    async fn list_units(&self) -> Result<Vec<Unit>>;
    async fn get_unit(&self, id: UnitId) -> Result<Unit>;

    // ---- people and sessions ----
    async fn create_person(&self, p: &Person, password_hash: &str) -> Result<()>;
    async fn set_password(&self, id: PersonId, password_hash: &str) -> Result<()>;
    /// The person and their password hash.
    async fn person_by_username(&self, username: &str) -> Result<(Person, String)>;
    async fn list_people(&self) -> Result<Vec<Person>>;
    async fn create_session(
        &self,
        token_hash: &str,
        person: PersonId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    async fn session(&self, token_hash: &str) -> Result<SessionInfo>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // ---- territory layers (GeoJSON documents) ----
    async fn put_layer(&self, name: &str, geojson: &str) -> Result<()>;
    async fn get_layer(&self, name: &str) -> Result<Option<String>>;

    // ---- cases ----
    /// The next number in a sequence scope (e.g. `410103-20261126`), committed at once.
    /// Numbers are never reused; a failed intake leaves a gap.
    async fn next_seq(&self, scope: &str) -> Result<i64>;
    /// Inserts a new case view and its first event in one transaction.
    async fn create_case(
        &self,
        case: &Case,
        deadline: Option<DateTime<Utc>>,
        event: &Event,
    ) -> Result<()>;
    /// Appends `event` and replaces the view with `case` in one transaction, provided the
    /// stored version is still `case.version - 1`; otherwise [`StoreError::Conflict`].
    async fn append_event(
        &self,
        case: &Case,
        deadline: Option<DateTime<Utc>>,
        event: &Event,
    ) -> Result<()>;
    /// [`Store::append_event`] that records the client's idempotency key `(scope, key)` in
    /// the same transaction. If the key was already used, nothing is written and its first
    /// use is returned (a retry after a lost answer, or a concurrent duplicate).
    async fn append_event_once(
        &self,
        case: &Case,
        deadline: Option<DateTime<Utc>>,
        event: &Event,
        scope: &str,
        key: &str,
    ) -> Result<Option<KeyUse>>;
    /// The first use of an idempotency key, read on the writer (the leader).
    async fn idempotency_key(&self, scope: &str, key: &str) -> Result<Option<KeyUse>>;
    async fn get_case(&self, id: CaseId) -> Result<Case>;
    async fn get_case_by_number(&self, number: &str) -> Result<Case>;
    /// The cases merged (合并) directly into one of `masters`, oldest first, at most
    /// `limit` (migration 0022's `merged_into` column).
    async fn cases_merged_into(&self, masters: &[CaseId], limit: i64) -> Result<Vec<Case>>;
    async fn events(&self, id: CaseId) -> Result<Vec<Event>>;
    async fn list_cases(&self, filter: &CaseFilter, page: &Page) -> Result<Vec<Case>>;
    /// Counts cases per grid cell (map clusters, issue 17): one aggregate query over the
    /// covering index `cases_map` (migration 0015). The counts sum to the cases the filter
    /// selects; cells are ordered by (gx, gy).
    async fn case_clusters(
        &self,
        filter: &ClusterFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseCluster>>;
    /// One page of the public Open311 list, newest first by (created_at, id); at most
    /// [`MAX_PUBLIC_PAGE`] rows. One indexed query (`cases_open311*`, migration 0010).
    async fn list_public_cases(
        &self,
        filter: &PublicCaseFilter,
        start: &PublicStart,
        limit: u32,
    ) -> Result<Vec<Case>>;
    async fn count_cases(&self) -> Result<i64>;
    /// Rewrites the stored `deadline` (what `CaseFilter::deadline_before` reads) of each
    /// `(case, version, deadline)` whose case is still at that version, in one
    /// transaction: after a calendar change moved running deadlines. A case that changed
    /// meanwhile is skipped (its new event stored its own deadline). Returns the number of
    /// rows rewritten.
    async fn refresh_deadlines(&self, rows: &[(CaseId, i64, Option<DateTime<Utc>>)])
        -> Result<u64>;

    // ---- API keys (Open311 client applications), stored as SHA-256 hashes ----
    async fn add_api_key(&self, key_hash: &str, name: &str, now: DateTime<Utc>) -> Result<()>;
    /// The client name of a live (not revoked) key.
    async fn api_key(&self, key_hash: &str) -> Result<Option<String>>;
    async fn revoke_api_key(&self, key_hash: &str, now: DateTime<Utc>) -> Result<()>;

    // ---- escalations and notifications ----
    /// Records that `level` fired for this case's clock and stores its notifications, in
    /// one transaction. Returns false (and writes nothing) if it had already fired.
    async fn fire_escalation(
        &self,
        case_id: CaseId,
        clock_key: &str,
        level: &str,
        now: DateTime<Utc>,
        notifications: &[Notification],
    ) -> Result<bool>;
    /// A person's newest notifications.
    async fn notifications(&self, person: PersonId, limit: u32) -> Result<Vec<Notification>>;
    /// A person's inbox page: unread first, then newest first (`offset` rows skipped, at
    /// most [`MAX_INBOX_PAGE`]).
    async fn inbox(&self, person: PersonId, offset: u32, limit: u32) -> Result<Vec<Notification>>;
    /// How many of a person's notifications are unread.
    async fn unread_count(&self, person: PersonId) -> Result<i64>;
    /// Marks one of the person's notifications (or, with `None`, all of them) read at
    /// `now`; already read ones keep their time. Returns how many changed.
    async fn mark_read(
        &self,
        person: PersonId,
        id: Option<uuid::Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Whether the person has a notification with this id (read or not).
    async fn has_notification(&self, person: PersonId, id: uuid::Uuid) -> Result<bool>;
    /// The notifications one case event raised (the notifications projection), for the
    /// live push after its commit.
    async fn event_notifications(&self, case_id: CaseId, seq: i64) -> Result<Vec<Notification>>;

    // ---- road chiefs (路长) ----
    /// Makes each (segment, level) → person the current assignment, closing the previous
    /// one at `now`; all in one transaction.
    async fn assign_road_chiefs(
        &self,
        assignments: &[(String, String, PersonId)],
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Current assignments (all segments when `segment` is None).
    async fn road_chiefs(&self, segment: Option<&str>) -> Result<Vec<RoadChiefAssignment>>;
    /// Every assignment of a segment, current and past, oldest first.
    async fn road_chief_history(&self, segment: &str) -> Result<Vec<RoadChiefAssignment>>;

    /// Numbers and creates a case in ONE transaction: takes the next number of the
    /// sequence `case:<prefix>`, writes it into the case and its report event, inserts
    /// both, and (with `idempotency = Some((scope, key))`) records the key. If the key was
    /// already used, nothing is written, no number is used, and the earlier case's id is
    /// returned.
    async fn create_numbered_case(
        &self,
        prefix: &str,
        case: &mut Case,
        deadline: Option<DateTime<Utc>>,
        event: &mut Event,
        idempotency: Option<(&str, &str)>,
    ) -> Result<Option<CaseId>>;

    // ---- attachments (photo metadata; the bytes are files named by content hash) ----
    /// Stores an upload's metadata unless a row with the same `sha256` exists. Returns the
    /// stored row (the earlier one for the same content) and whether it is new.
    async fn put_attachment(&self, a: &Attachment) -> Result<(Attachment, bool)>;
    async fn get_attachment(&self, id: uuid::Uuid) -> Result<Attachment>;
    /// Those of `ids` that exist, in no particular order.
    async fn attachments(&self, ids: &[uuid::Uuid]) -> Result<Vec<Attachment>>;
    /// Whether a case currently dispatched to `unit` names attachment `id` in its report's
    /// media or an event's attachments (a handler's scope for photo originals).
    async fn unit_has_attachment(&self, unit: UnitId, id: uuid::Uuid) -> Result<bool>;

    // ---- admin (see `admin`) ----
    /// Applies an admin change and appends its audit row, in ONE transaction.
    async fn admin_apply(&self, ops: &[AdminOp], audit: &AuditEntry) -> Result<()>;
    /// The audit log, newest first, after `after`.
    async fn audit_log(
        &self,
        filter: &AuditFilter,
        after: Option<&AuditCursor>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    async fn person(&self, id: PersonId) -> Result<Person>;
    /// How many cases handled by `unit` are not closed or voided.
    async fn open_cases_of_unit(&self, unit: UnitId) -> Result<i64>;
    /// Every API key, live and revoked, newest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>>;

    // ---- bulk copy between stores (`cityloop copy`) ----
    async fn export_reference(&self) -> Result<ReferenceSnapshot>;
    /// Writes reference data (not the rows that refer to cases) in one
    /// transaction into an empty store.
    async fn import_reference(&self, snap: &ReferenceSnapshot) -> Result<()>;
    /// Cases ordered by id, after `after`, with their deadlines and events.
    async fn export_cases(&self, after: Option<CaseId>, limit: u32) -> Result<Vec<CaseRecord>>;
    /// Inserts a batch of cases with their histories in one transaction.
    async fn import_cases(&self, batch: &[CaseRecord]) -> Result<()>;
    /// Those of `refs` that already are the external reference of a case from `source`
    /// (unique per source, migration 0016): what `cityloop import` skips on a re-run.
    async fn known_external_refs(
        &self,
        source: cityloop_domain::model::Source,
        refs: &[String],
    ) -> Result<Vec<String>>;
    /// Writes the rows that refer to cases (idempotency, escalations, notifications),
    /// after the cases are in.
    async fn import_case_links(&self, snap: &ReferenceSnapshot) -> Result<()>;
    /// Row counts of the main tables, for verifying a copy.
    async fn counts(&self) -> Result<Vec<(String, i64)>>;

    // ---- evaluation (综合评价): day buckets kept with every event ----
    /// The district calendar the evaluation counters are derived with (the default is the
    /// embedded 2026 calendar). Set once at start-up by the services.
    fn set_eval_calendar(&self, cal: std::sync::Arc<WorkCalendar>);
    /// Sums of the day buckets of one object kind over local days `from..=to`
    /// (`yyyymmdd`), as (object id, metric, sum).
    async fn eval_sums(
        &self,
        kind: ObjectKind,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<(String, String, i64)>>;
    /// The cases behind one figure: cases whose counter `metric` of one of `object_ids`
    /// falls in `from..=to`, as (case, day, value), newest day first, at most `limit`.
    async fn eval_cases(
        &self,
        kind: ObjectKind,
        object_ids: &[String],
        metric: &str,
        from_day: i32,
        to_day: i32,
        limit: u32,
    ) -> Result<Vec<(CaseId, i32, i64)>>;
    /// Open cases behind a figure, per object: cases still open (not closed or voided)
    /// whose counter `metric` of an object of `kind` falls in `from..=to` and that have no
    /// counter `done_metric` for the same object, as (object id, the case's current
    /// deadline). Rankings tell from these which cases are not yet due
    /// (`cityloop_domain::evaluation::is_due`); "due" changes with the clock, so it is
    /// read at ranking time, never stored.
    async fn eval_open_cases(
        &self,
        kind: ObjectKind,
        metric: &str,
        done_metric: &str,
        from_day: i32,
        to_day: i32,
    ) -> Result<Vec<(String, Option<DateTime<Utc>>)>>;
    /// Every non-zero bucket (for checks against a recompute).
    async fn eval_buckets(&self) -> Result<Vec<Counter>>;
    /// Recomputes every bucket from the event history (after the migration that added
    /// them, or after a calendar change). Returns the number of cases folded.
    async fn eval_rebuild(&self) -> Result<u64>;
    /// Records a road chief's patrol.
    async fn add_patrol(&self, patrol: &Patrol) -> Result<()>;
    /// Patrols that started in `from..to`.
    async fn patrols(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Patrol>>;
}

/// Splits local days `from..=to` (`yyyymmdd`) for the evaluation sums into the days
/// before the first whole month (`from..=head_to`), the whole months (`yyyymm` range,
/// empty when first > last) and the days after the last whole month (`tail_from..=to`).
/// With no whole month inside, every day is in the head and the tail is empty.
pub fn month_split(from: i32, to: i32) -> (i32, (i32, i32), i32) {
    use chrono::{Datelike, NaiveDate};
    let date =
        |d: i32| NaiveDate::from_ymd_opt(d / 10_000, (d / 100 % 100) as u32, (d % 100) as u32);
    let key = |d: NaiveDate| d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32;
    let everything_by_day = (to, (1, 0), to + 1);
    let (Some(f), Some(t)) = (date(from), date(to)) else {
        return everything_by_day;
    };
    // The first day of the first month that starts on or after `from`.
    let first = if f.day() == 1 {
        Some(f)
    } else {
        f.with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
    };
    // The last day of the last month that ends on or before `to`.
    let next = t.succ_opt();
    let last = match next {
        Some(n) if n.day() == 1 => Some(t),
        _ => t.with_day(1).and_then(|d| d.pred_opt()),
    };
    match (first, last) {
        (Some(a), Some(b)) if a <= b => (
            key(a) - 1,
            (
                a.year() * 100 + a.month() as i32,
                b.year() * 100 + b.month() as i32,
            ),
            key(b) + 1,
        ),
        _ => everything_by_day,
    }
}

/// The sequence scope for case numbers of one district and local day.
pub fn case_seq_scope(district_code: &str, local_date: NaiveDate) -> String {
    format!("case:{}-{}", district_code, local_date.format("%Y%m%d"))
}

/// Opens the store a URL names: `sqlite://PATH` (or a bare file path) or `postgres://…`.
/// Runs pending migrations. `create` allows creating a missing SQLite file.
pub async fn open(url: &str, create: bool) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PgStore::connect(url).await?))
    } else if let Some((scheme, _)) = url.split_once("://").filter(|(s, _)| *s != "sqlite") {
        Err(StoreError::Unavailable(format!(
            "unknown database scheme {scheme:?}: use sqlite://PATH, a file path, or postgres://"
        )))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(std::sync::Arc::new(
            SqliteStore::open(std::path::Path::new(path), create).await?,
        ))
    }
}

/// Opens a read-only PostgreSQL replica for lagging reads (`--read-db`); see
/// [`PgStore::connect_replica`]. Only PostgreSQL replicates.
pub async fn open_replica(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PgStore::connect_replica(url).await?))
    } else {
        Err(StoreError::Unavailable(
            "a read replica must be a postgres:// URL (SQLite has no replicas)".into(),
        ))
    }
}

#[cfg(test)]
mod month_split_tests {
    use super::month_split;

    #[test]
    fn a_calendar_month_is_one_whole_month_and_no_days() {
        let (head_to, months, tail_from) = month_split(20_261_101, 20_261_130);
        assert_eq!(months, (202_611, 202_611));
        assert!(head_to < 20_261_101, "no head days");
        assert!(tail_from > 20_261_130, "no tail days");
    }

    #[test]
    fn partial_months_at_both_ends_are_read_by_day() {
        // 15 Oct .. 10 Jan: Oct 15-31 by day, Nov and Dec whole, Jan 1-10 by day.
        let (head_to, months, tail_from) = month_split(20_261_015, 20_270_110);
        assert_eq!(months, (202_611, 202_612));
        assert!((20_261_031..20_261_101).contains(&head_to));
        assert!((20_261_231..20_270_101).contains(&(tail_from - 1)));
        assert!(tail_from <= 20_270_101);
    }

    #[test]
    fn a_range_inside_one_month_is_all_days() {
        let (head_to, months, tail_from) = month_split(20_261_103, 20_261_120);
        assert!(months.0 > months.1, "no whole month");
        assert_eq!(head_to, 20_261_120);
        assert!(tail_from > 20_261_120);
    }

    #[test]
    fn the_end_of_february_and_of_the_year_close_their_months() {
        assert_eq!(month_split(20_280_201, 20_280_229).1, (202_802, 202_802));
        assert_eq!(month_split(20_261_201, 20_261_231).1, (202_612, 202_612));
        assert!(
            month_split(20_270_201, 20_270_227).1 .0 > month_split(20_270_201, 20_270_227).1 .1
        );
    }

    #[test]
    fn malformed_days_fall_back_to_days() {
        let (head_to, months, _) = month_split(20_261_100, 20_261_199);
        assert!(months.0 > months.1);
        assert_eq!(head_to, 20_261_199);
    }
}
