//! The use cases of cityloop: report a case, act on it, read it, log in, load the demo.
//! Both the HTTP server and the CLI call these functions; neither touches the store
//! directly for anything with a rule attached.
//!
//! A service call loads what it needs, asks the pure domain to decide, and writes the
//! outcome through the [`Store`] trait in one transaction. It never sees HTTP types.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod calendar;
pub mod cases;
pub mod chief_gaps;
pub mod copy;
pub mod dashboard;
pub mod demo;
pub mod demo_history;
pub mod error;
pub mod escalate;
pub mod evaluation;
pub mod export;
pub mod hotline;
pub mod import;
pub mod inbox;
pub mod integrity;
pub mod keywords;
pub mod live;
pub mod maps;
pub mod media;
pub mod messages;
pub mod my_roads;
pub mod open311;
pub mod patrol;
pub mod privacy;
pub mod public_page;
pub mod queue;
pub mod ratelimit;
pub mod reference;
pub mod retry;
pub mod search;
pub mod sensors;
pub mod territory;
pub mod track;
pub mod webhooks;

pub mod enforce;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use cityloop_domain::calendar::WorkCalendar;
use cityloop_domain::limits::LimitTable;
use cityloop_store::Store;
use serde::{Deserialize, Serialize};

pub use error::ServiceError;

/// Settings keys in the store.
pub mod keys {
    pub const DISTRICT: &str = "district";
    pub const CALENDAR: &str = "calendar";
    pub const LIMITS: &str = "limits";
}

/// The district this installation serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct District {
    /// GB/T 2260 county-level code, e.g. `410103`.
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// IANA time zone used to show times and to date case numbers.
    pub timezone: String,
    /// The unit that receives cases nobody else owns (outside the territory, unknown type).
    pub default_unit_code: String,
}

/// Where "now" comes from; tests replace it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The shared state of every use case.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub district: Arc<District>,
    pub auth: Arc<auth::AuthState>,
    /// The public rate limits (Open311 intake, public upload); see [`ratelimit`].
    pub rate: Arc<ratelimit::RateLimits>,
    /// Operator setting: webhooks may target private/loopback addresses (default off).
    pub webhook_allow_private: bool,
    /// Categories, units, assignment rules, the working calendar and the limit table,
    /// cached; reloaded after admin changes (see [`Services::calendar`]).
    pub reference: Arc<std::sync::RwLock<Arc<reference::Cache>>>,
    /// The district's territory, when one is loaded (point → street, grid, segment).
    pub territory: Option<Arc<territory::GeoLocator>>,
    /// Where photo files are kept (see [`attachments`]); `./attachments` unless set.
    pub media: Arc<attachments::Media>,
    /// The unit grids' shapes for the heat map, parsed once from the stored layer.
    grid_shapes: Arc<tokio::sync::OnceCell<Arc<Vec<evaluation::GridShape>>>>,
    /// How long a write with an idempotency key is retried when the database connection
    /// drops (a failover); see [`retry`]. [`retry::DEFAULT_WRITE_RETRY`] unless set.
    pub write_retry: std::time::Duration,
    /// Where rankings read their sums: a PostgreSQL replica when one is set
    /// (`--read-db`), else the store itself. See [`Services::with_read_store`].
    reads: Option<Arc<dyn Store>>,
    clock: Clock,
    /// The sensor intake's rules, counters and broker health (see [`sensors`]).
    pub sensors: Arc<sensors::Intake>,
    /// The live push of committed case changes and notices (see [`live`]).
    pub live: Arc<live::Live>,
}

impl Services {
    /// Loads the district configuration from the store. A store without a district
    /// profile has not been set up (`cityloop demo` or an import does that).
    pub async fn load(store: Arc<dyn Store>) -> Result<Self, ServiceError> {
        let district: District = reference::get_setting(&*store, keys::DISTRICT)
            .await?
            .ok_or_else(|| {
                ServiceError::NotConfigured(
                    "the database has no district profile; run `cityloop demo` or load a district first".into(),
                )
            })?;
        let cache = reference::Cache::load(&*store).await?;
        let territory = territory::load(&*store).await?;
        store.set_eval_calendar(cache.calendar.clone());
        evaluation::ensure_buckets(&*store).await?;
        let sensors = Arc::new(sensors::Intake::load(&*store).await?);
        Ok(Self {
            sensors,
            live: Arc::default(),
            reference: Arc::new(std::sync::RwLock::new(Arc::new(cache))),
            store,
            district: Arc::new(district),
            auth: Arc::new(auth::AuthState::default()),
            rate: Arc::new(ratelimit::RateLimits::default()),
            webhook_allow_private: false,
            territory,
            media: Arc::new(attachments::Media::new(
                attachments::DEFAULT_DIR_NAME.into(),
            )),
            grid_shapes: Arc::default(),
            write_retry: retry::DEFAULT_WRITE_RETRY,
            reads: None,
            clock: Arc::new(|| Utc::now().trunc_subsecs(6)),
        })
    }

    /// Sends the rankings' reads (evaluation sums, open cases, drill-down) to a replica.
    /// They may lag the primary by the replication delay; every other read and every
    /// write stays on the primary, so a person always sees their own writes.
    pub fn with_read_store(mut self, reads: Arc<dyn Store>) -> Self {
        reads.set_eval_calendar(self.calendar());
        self.reads = Some(reads);
        self
    }

    /// The store the rankings read from.
    pub fn read_store(&self) -> &dyn Store {
        self.reads.as_deref().unwrap_or(&*self.store)
    }

    /// The clock in use.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Replaces the clock (tests drive time explicitly).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The cached reference data.
    pub fn cached(&self) -> Arc<reference::Cache> {
        self.reference
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads the cached reference data from the store (after an admin change).
    pub async fn reload_reference(&self) -> Result<(), ServiceError> {
        let cache = Arc::new(reference::Cache::load(&*self.store).await?);
        self.store.set_eval_calendar(cache.calendar.clone());
        if let Some(reads) = &self.reads {
            reads.set_eval_calendar(cache.calendar.clone());
        }
        *self.reference.write().unwrap_or_else(|p| p.into_inner()) = cache;
        Ok(())
    }

    /// The district's working calendar as it is now (admins may change it at run time).
    pub fn calendar(&self) -> Arc<WorkCalendar> {
        self.cached().calendar.clone()
    }

    /// The time-limit table as it is now (admins may change it at run time).
    pub fn limits(&self) -> Arc<LimitTable> {
        self.cached().limits.clone()
    }

    /// The current instant, truncated to microseconds (what both stores keep).
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}
