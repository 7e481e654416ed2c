//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
//! is on disk before it is acknowledged.
//!
//! SQLite allows one writer at a time. Writes go through a pool of exactly one
//! connection, so transactions queue in the process instead of failing with
//! `SQLITE_BUSY`; reads use a separate pool and run concurrently (WAL).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    /// The calendar evaluation counters are derived with (see `Store::set_eval_calendar`).
    pub(crate) eval_calendar: crate::common::EvalCalendar,
}

impl SqliteStore {
    /// Opens (and with `create`, creates) the database file and runs migrations.
    pub async fn open(path: &Path, create: bool) -> crate::Result<Self> {
        if !create && !path.exists() {
            return Err(crate::StoreError::Unavailable(format!(
                "no database file at {}",
                path.display()
            )));
        }
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| crate::StoreError::Unavailable(e.to_string()))?
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
            .map_err(|e| open_error(path, e))?;
        MIGRATOR.run(&writer).await.map_err(|e| {
            crate::StoreError::Unavailable(format!(
                "{} is not a usable cityloop database: {e}",
                path.display()
            ))
        })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            writer,
            reader,
            eval_calendar: crate::common::EvalCalendar::default(),
        })
    }
}

fn open_error(path: &Path, e: sqlx::Error) -> crate::StoreError {
    crate::StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
}

crate::common::sql_store!(SqliteStore, Sqlite, Backend::Sqlite);
crate::webhooks::sql_webhooks!(SqliteStore, Sqlite);
