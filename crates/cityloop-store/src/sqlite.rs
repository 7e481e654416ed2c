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
            .busy_timeout(BUSY_TIMEOUT)
            // After a checkpoint resets the WAL, SQLite truncates the file to this size
            // (the periodic `wal_checkpoint(TRUNCATE)` of the server empties it).
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
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
        let store = Self {
            writer,
            reader,
            eval_calendar: crate::common::EvalCalendar::default(),
        };
        crate::chain::after_migrate(&store).await?;
        Ok(store)
    }

    /// `VACUUM INTO path` on a reader connection: a consistent snapshot of the database in
    /// a new file, while the writer goes on.
    pub(crate) async fn snapshot_file(&self, path: &Path) -> crate::Result<()> {
        let target = path.to_str().ok_or_else(|| {
            crate::StoreError::Unavailable(format!("{} is not a UTF-8 path", path.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)` on the writer: copies the WAL into the database
    /// and empties it. It holds the write lock while it waits for readers of older
    /// snapshots, so it waits at most [`CHECKPOINT_WAIT_MS`] (then it copies what it can and
    /// reports `busy`; the next pass tries again) instead of the writer's busy timeout:
    /// a long reader (a backup) never stalls writes for long.
    pub(crate) async fn checkpoint_wal(&self) -> crate::Result<Option<crate::chain::Checkpoint>> {
        use sqlx::Row;
        let mut conn = self.writer.acquire().await?;
        sqlx::query(&format!("PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}"))
            .execute(&mut *conn)
            .await?;
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await;
        sqlx::query(&format!(
            "PRAGMA busy_timeout = {}",
            BUSY_TIMEOUT.as_millis()
        ))
        .execute(&mut *conn)
        .await?;
        let row = row?;
        Ok(Some(crate::chain::Checkpoint {
            busy: row.try_get(0)?,
            log_frames: row.try_get(1)?,
            checkpointed_frames: row.try_get(2)?,
        }))
    }
}

/// How long a WAL checkpoint waits for readers while it holds the write lock.
pub const CHECKPOINT_WAIT_MS: u64 = 250;

/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA journal_size_limit`: the WAL file is cut back to this size after a checkpoint.
pub const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

fn open_error(path: &Path, e: sqlx::Error) -> crate::StoreError {
    crate::StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
}

crate::common::sql_store!(SqliteStore, Sqlite, Backend::Sqlite);
crate::webhooks::sql_webhooks!(SqliteStore, Sqlite);
// A SQLite read transaction is a snapshot from its first read on: nothing to set.
crate::chain::sql_chain!(SqliteStore, Sqlite, "");
