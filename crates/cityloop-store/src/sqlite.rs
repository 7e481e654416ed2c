//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
//! is on disk before it is acknowledged.
//!
//! SQLite allows one writer at a time. Writes go through a pool of exactly one
//! connection, so transactions queue in the process instead of failing with
//! `SQLITE_BUSY`; reads use a separate pool and run concurrently (WAL).
//!
//! The case write path (`crate::pipeline`) goes through a group commit on that writer
//! ([`write_loop`]): the commands queued while a commit is on its way to disk are applied
//! together in one transaction, each in its own savepoint, and answered after the one
//! commit (one fsync) returns.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::pipeline::{Command, Outcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite-backed store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    /// The calendar evaluation counters are derived with (see `Store::set_eval_calendar`).
    pub(crate) eval_calendar: crate::common::EvalCalendar,
    /// The single writer's queue of write-path commands (group commit).
    committer: GroupCommit,
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
        let eval_calendar = crate::common::EvalCalendar::default();
        let committer = GroupCommit::start(writer.clone(), eval_calendar.clone());
        let store = Self {
            writer,
            reader,
            eval_calendar,
            committer,
        };
        crate::chain::after_migrate(&store).await?;
        crate::search::SearchStore::search_backfill(&store).await?;
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

/// The time limit of one search statement on a SQLite connection: a progress handler
/// that interrupts the statement (`SQLITE_INTERRUPT`) once `limit` has passed. The handler
/// stays on the pooled connection after the search but does nothing once the guard
/// (dropped at the end of the search, also when its future is cancelled) disarmed it; the
/// next search replaces it.
pub(crate) struct SearchLimit(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for SearchLimit {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Arms [`SearchLimit`] on `conn`.
    pub(crate) async fn arm_search_timeout(
        conn: &mut sqlx::SqliteConnection,
        limit: Duration,
    ) -> crate::Result<SearchLimit> {
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = armed.clone();
        let deadline = std::time::Instant::now() + limit;
        conn.lock_handle()
            .await?
            .set_progress_handler(10_000, move || {
                !(flag.load(std::sync::atomic::Ordering::Relaxed)
                    && std::time::Instant::now() > deadline)
            });
        Ok(SearchLimit(armed))
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

/// The most case rows one group commit carries (an import counts its cases).
pub const MAX_BATCH: usize = 256;

/// How many submissions may wait for the writer before a new one waits to be queued.
const QUEUE_DEPTH: usize = 4096;

/// One write waiting for the group commit, and where its answer goes.
struct Job {
    cmd: Command,
    reply: oneshot::Sender<crate::Result<Outcome>>,
}

/// The single writer's queue: every write-path command of a SQLite store goes through it
/// (see [`write_loop`]).
#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Vec<Job>>,
    stats: Arc<Counters>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
    largest: AtomicU64,
}

/// What the group commit has done since the store opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed (one fsync each).
    pub commits: u64,
    /// Writes those commits carried (each answered on its own).
    pub writes: u64,
    /// The largest batch so far.
    pub largest: u64,
}

impl GroupCommit {
    fn start(pool: SqlitePool, calendar: crate::common::EvalCalendar) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(Counters::default());
        tokio::spawn(write_loop(pool, calendar, rx, stats.clone()));
        GroupCommit { queue, stats }
    }
}

impl SqliteStore {
    /// Runs one write-path command through the group commit and answers after its
    /// transaction is committed (on disk: `synchronous=FULL`).
    pub(crate) async fn execute(&self, cmd: Command) -> crate::Result<Outcome> {
        match self.execute_all(vec![cmd]).await.pop() {
            Some(r) => r,
            None => Err(stopped()),
        }
    }

    /// Submits several commands at once: they are committed in one transaction, each in
    /// its own savepoint, and each answered on its own (an error rolls back only its
    /// command). The answers are in the order of `cmds`.
    pub async fn execute_all(&self, cmds: Vec<Command>) -> Vec<crate::Result<Outcome>> {
        let mut jobs = Vec::with_capacity(cmds.len());
        let mut answers = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let (reply, answer) = oneshot::channel();
            jobs.push(Job { cmd, reply });
            answers.push(answer);
        }
        if self.committer.queue.send(jobs).await.is_err() {
            return answers.iter().map(|_| Err(stopped())).collect();
        }
        let mut out = Vec::with_capacity(answers.len());
        for a in answers {
            out.push(a.await.unwrap_or_else(|_| Err(stopped())));
        }
        out
    }

    /// Commits and writes of the group commit so far.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        let s = &self.committer.stats;
        GroupCommitStats {
            commits: s.commits.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
            largest: s.largest.load(Ordering::Relaxed),
        }
    }
}

fn stopped() -> crate::StoreError {
    crate::StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// The single writer. It waits for a write; then it takes every write queued behind it
/// (up to [`MAX_BATCH`] case rows), so the batch grows with the queue and a lone write on
/// an idle system is committed at once, without waiting for company. The batch is one
/// transaction with one savepoint per write; one commit (one fsync); then every caller is
/// answered. Nothing is answered before the commit returns.
async fn write_loop(
    pool: SqlitePool,
    calendar: crate::common::EvalCalendar,
    mut rx: mpsc::Receiver<Vec<Job>>,
    stats: Arc<Counters>,
) {
    while let Some(mut batch) = rx.recv().await {
        let mut weight: usize = batch.iter().map(|j| j.cmd.weight()).sum();
        while weight < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => {
                    weight += more.iter().map(|j| j.cmd.weight()).sum::<usize>();
                    batch.extend(more);
                }
                Err(_) => break,
            }
        }
        let ctx = crate::common::WriteCtx {
            calendar: calendar.get(),
            eval_deltas: false,
        };
        let results = match commit_batch(&pool, &ctx, &batch).await {
            Ok(results) => {
                let n = batch.len() as u64;
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.writes.fetch_add(n, Ordering::Relaxed);
                stats.largest.fetch_max(n, Ordering::Relaxed);
                results
            }
            Err(e) => {
                // The transaction did not commit: no write of the batch is acknowledged.
                tracing::warn!(error = %e, writes = batch.len(), "SQLite group commit failed");
                let msg = e.to_string();
                batch
                    .iter()
                    .map(|_| {
                        Err(crate::StoreError::Unavailable(format!(
                            "the write was not committed: {msg}"
                        )))
                    })
                    .collect()
            }
        };
        for (job, result) in batch.into_iter().zip(results) {
            // A caller that went away is not waiting for its answer.
            let _ = job.reply.send(result);
        }
    }
}

/// One batch as one transaction. A lone write needs no savepoint; in a larger batch each
/// write runs in its own, released on success and rolled back on error. `Err` means the
/// transaction itself failed (nothing committed).
async fn commit_batch(
    pool: &SqlitePool,
    ctx: &crate::common::WriteCtx,
    batch: &[Job],
) -> crate::Result<Vec<crate::Result<Outcome>>> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    if let [job] = batch {
        let r = apply_command(&mut tx, ctx, &job.cmd).await;
        if r.is_ok() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        results.push(r);
        return Ok(results);
    }
    for job in batch {
        let mut sp = sqlx::Acquire::begin(&mut tx).await?;
        let r = apply_command(&mut sp, ctx, &job.cmd).await;
        if r.is_ok() {
            sp.commit().await?;
        } else {
            sp.rollback().await?;
        }
        results.push(r);
    }
    tx.commit().await?;
    Ok(results)
}

crate::common::sql_store!(SqliteStore, Sqlite, Backend::Sqlite);
crate::webhooks::sql_webhooks!(SqliteStore, Sqlite);
crate::messages::sql_messages!(SqliteStore, Sqlite);
crate::hotline::sql_hotline!(SqliteStore, Sqlite);
crate::sensors::sql_sensors!(SqliteStore, Sqlite);
crate::patrols::sql_patrols!(SqliteStore, Sqlite);
crate::dashboard::sql_dashboard!(SqliteStore, Sqlite);
crate::search::sql_search!(SqliteStore, Sqlite, Backend::Sqlite);
crate::enforce::sql_enforce!(SqliteStore, Sqlite);
// A SQLite read transaction is a snapshot from its first read on: nothing to set.
crate::chain::sql_chain!(SqliteStore, Sqlite, "");
