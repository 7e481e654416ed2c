//! The production store on PostgreSQL (sqlx, a pooled async driver shared with the
//! SQLite store so both are written against one API).
//!
//! Reads and writes share one pool; PostgreSQL's MVCC handles concurrent writers and the
//! optimistic version check in `append_event` keeps concurrent transitions safe.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL-backed store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) writer: PgPool,
    pub(crate) reader: PgPool,
    /// The calendar evaluation counters are derived with (see `Store::set_eval_calendar`).
    pub(crate) eval_calendar: crate::common::EvalCalendar,
}

impl PgStore {
    /// Connects to `url` and runs pending migrations.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                crate::StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| crate::StoreError::Unavailable(format!("migration failed: {e}")))?;
        let store = Self {
            writer: pool.clone(),
            reader: pool,
            eval_calendar: crate::common::EvalCalendar::default(),
        };
        crate::chain::after_migrate(&store).await?;
        Ok(store)
    }

    /// Connects to a read-only replica (a hot standby) for reads that may lag the primary
    /// by the replication delay: rankings and the leaders' view. Runs no migrations (a
    /// standby refuses writes); refuses a replica whose schema is older than this build's.
    pub async fn connect_replica(url: &str) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                crate::StoreError::Unavailable(format!(
                    "cannot connect to the PostgreSQL replica: {e}"
                ))
            })?;
        let newest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .map_err(|e| {
                    crate::StoreError::Unavailable(format!(
                "the replica has no cityloop schema (run `cityloop migrate` on the primary): {e}"
            ))
                })?;
        if applied.unwrap_or(0) < newest {
            return Err(crate::StoreError::Unavailable(format!(
                "the replica's schema is at migration {} but this build needs {newest}; let the replica catch up with the primary",
                applied.unwrap_or(0)
            )));
        }
        Ok(Self {
            writer: pool.clone(),
            reader: pool,
            eval_calendar: crate::common::EvalCalendar::default(),
        })
    }

    /// PostgreSQL is backed up with its own tools (docs/OPERATIONS.md, "Backups").
    pub(crate) async fn snapshot_file(&self, _path: &std::path::Path) -> crate::Result<()> {
        Err(crate::StoreError::Unavailable(
            "cityloop backup copies SQLite databases only; back up PostgreSQL with `pg_dump -Fc` (or a base backup with WAL archiving) and copy the attachments folder after the dump (docs/OPERATIONS.md, \"Backups\")".into(),
        ))
    }

    /// PostgreSQL manages its own WAL: nothing to do.
    pub(crate) async fn checkpoint_wal(&self) -> crate::Result<Option<crate::chain::Checkpoint>> {
        Ok(None)
    }

    /// The underlying pool (for tests and tools that need raw SQL).
    pub fn pool(&self) -> &PgPool {
        &self.writer
    }
}

crate::common::sql_store!(PgStore, Postgres, Backend::Postgres);
crate::webhooks::sql_webhooks!(PgStore, Postgres);
// A verification reads every table from one snapshot while the server goes on writing.
crate::chain::sql_chain!(
    PgStore,
    Postgres,
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
);
