//! The production store on PostgreSQL (sqlx, a pooled async driver shared with the
//! SQLite store so both are written against one API).
//!
//! Reads and writes share one pool; PostgreSQL's MVCC handles concurrent writers and the
//! optimistic version check in `append_event` keeps concurrent transitions safe.
//!
//! No row is shared by all writers of a day: case numbers come from blocks reserved in
//! `case_seq` ([`NumberBlocks`]) and evaluation buckets are written as delta rows that a
//! background pass folds ([`PgStore::fold_eval_deltas`]); readers add the unfolded rows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use crate::pipeline::{Command, Outcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL-backed store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) writer: PgPool,
    pub(crate) reader: PgPool,
    /// The calendar evaluation counters are derived with (see `Store::set_eval_calendar`).
    pub(crate) eval_calendar: crate::common::EvalCalendar,
    /// Case numbers reserved in blocks (no hot `case_seq` row in a case's transaction).
    numbers: Arc<NumberBlocks>,
    /// Alive while a clone of the store is: the background fold stops after the last.
    _open: Arc<()>,
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
        let open = Arc::new(());
        tokio::spawn(fold_loop(pool.clone(), Arc::downgrade(&open)));
        let store = Self {
            writer: pool.clone(),
            reader: pool,
            eval_calendar: crate::common::EvalCalendar::default(),
            numbers: Arc::new(NumberBlocks::default()),
            _open: open,
        };
        crate::chain::after_migrate(&store).await?;
        crate::search::SearchStore::search_backfill(&store).await?;
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
        // No fold pass here: a standby cannot write. The primary folds; the replica's
        // readers add the unfolded delta rows like the primary's do.
        Ok(Self {
            writer: pool.clone(),
            reader: pool,
            eval_calendar: crate::common::EvalCalendar::default(),
            numbers: Arc::new(NumberBlocks::default()),
            _open: Arc::new(()),
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

/// How many case numbers a PostgreSQL store reserves from `case_seq` at a time.
pub const NUMBER_BLOCK: i64 = 32;

/// How often the background pass folds evaluation delta rows into the buckets.
pub const FOLD_EVERY: Duration = Duration::from_millis(500);

/// Case numbers handed out from blocks reserved in `case_seq`: a writer touches the
/// day's `case_seq` row once per [`NUMBER_BLOCK`] cases, in its own short committed
/// statement, instead of holding the row for the length of every case's transaction.
#[derive(Debug, Default)]
pub(crate) struct NumberBlocks {
    /// Per scope: the next free number and the last one of the reserved block.
    blocks: tokio::sync::Mutex<HashMap<String, (i64, i64)>>,
}

/// How many scopes (days) keep a reserved block in memory; older ones are forgotten.
const KEPT_SCOPES: usize = 8;

impl NumberBlocks {
    /// The next number of `case:{prefix}`. Numbers are unique; they are consecutive in
    /// the order handed out while no write fails and the server keeps running, and the
    /// rest of a block is skipped after a restart (docs/API-DESIGN.md, "Case numbers").
    pub(crate) async fn take(&self, pool: &PgPool, prefix: &str) -> crate::Result<i64> {
        let scope = format!("case:{prefix}");
        let mut blocks = self.blocks.lock().await;
        if let Some((next, last)) = blocks.get_mut(&scope) {
            if *next <= *last {
                let n = *next;
                *next += 1;
                return Ok(n);
            }
        }
        let row = sqlx::query(
            "INSERT INTO case_seq (scope, last) VALUES ($1, $2)
             ON CONFLICT (scope) DO UPDATE SET last = case_seq.last + $2
             RETURNING last",
        )
        .bind(&scope)
        .bind(NUMBER_BLOCK)
        .fetch_one(pool)
        .await?;
        let last: i64 = row.try_get("last")?;
        let first = last - NUMBER_BLOCK + 1;
        if blocks.len() >= KEPT_SCOPES && !blocks.contains_key(&scope) {
            blocks.clear();
        }
        blocks.insert(scope, (first + 1, last));
        Ok(first)
    }
}

impl PgStore {
    /// Runs one write-path command in its own transaction. A numbered case takes its
    /// number from a reserved block before the transaction (after checking its
    /// idempotency key, so a replay uses no number).
    pub(crate) async fn execute(&self, mut cmd: Command) -> crate::Result<Outcome> {
        if let Command::CreateNumberedCase {
            prefix,
            idempotency,
            number: number @ None,
            ..
        } = &mut cmd
        {
            if let Some((scope, key)) = idempotency {
                if let Some(id) = idempotent_case(&self.writer, scope, key).await? {
                    return Ok(Outcome::Replayed(id));
                }
            }
            *number = Some(self.numbers.take(&self.writer, prefix).await?);
        }
        let ctx = crate::common::WriteCtx {
            calendar: self.eval_calendar.get(),
            eval_deltas: true,
        };
        let mut tx = self.writer.begin().await?;
        let out = apply_command(&mut tx, &ctx, &cmd).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Folds every committed evaluation delta row into the day and month buckets, in one
    /// transaction (readers sum buckets and unfolded deltas in one statement, so they see
    /// the rows either before or after the fold: exact at all times). Returns the number
    /// of delta rows folded.
    pub async fn fold_eval_deltas(&self) -> crate::Result<u64> {
        fold(&self.writer).await
    }
}

async fn fold(pool: &PgPool) -> crate::Result<u64> {
    let row = sqlx::query(
        "WITH moved AS (
           DELETE FROM eval_bucket_deltas
           RETURNING object_kind, day, object_id, metric, value
         ), days AS (
           INSERT INTO eval_buckets (object_kind, day, object_id, metric, value)
           SELECT object_kind, day, object_id, metric, CAST(SUM(value) AS BIGINT) FROM moved
           GROUP BY object_kind, day, object_id, metric
           ORDER BY object_kind, day, object_id, metric
           ON CONFLICT (object_kind, day, object_id, metric)
             DO UPDATE SET value = eval_buckets.value + excluded.value
         ), months AS (
           INSERT INTO eval_buckets_month (object_kind, month, object_id, metric, value)
           SELECT object_kind, day / 100, object_id, metric, CAST(SUM(value) AS BIGINT) FROM moved
           GROUP BY object_kind, day / 100, object_id, metric
           ORDER BY object_kind, day / 100, object_id, metric
           ON CONFLICT (object_kind, month, object_id, metric)
             DO UPDATE SET value = eval_buckets_month.value + excluded.value
         )
         SELECT COUNT(*) AS n FROM moved",
    )
    .fetch_one(pool)
    .await?;
    let n: i64 = row.try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The background fold: every [`FOLD_EVERY`] while the store is open (it stops when the
/// last clone of the store is dropped). A failed pass is logged and tried again.
async fn fold_loop(pool: PgPool, open: std::sync::Weak<()>) {
    loop {
        tokio::time::sleep(FOLD_EVERY).await;
        if open.upgrade().is_none() {
            return;
        }
        if let Err(e) = fold(&pool).await {
            tracing::debug!(error = %e, "evaluation delta fold failed; next pass retries");
        }
    }
}

impl PgStore {
    /// The time limit of one search statement: `SET LOCAL statement_timeout` in the
    /// search's read transaction (it ends with the transaction).
    pub(crate) async fn arm_search_timeout(
        conn: &mut sqlx::PgConnection,
        limit: Duration,
    ) -> crate::Result<()> {
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {}",
            limit.as_millis()
        ))
        .execute(conn)
        .await?;
        Ok(())
    }
}

crate::common::sql_store!(PgStore, Postgres, Backend::Postgres);
crate::webhooks::sql_webhooks!(PgStore, Postgres);
crate::messages::sql_messages!(PgStore, Postgres);
crate::hotline::sql_hotline!(PgStore, Postgres);
crate::sensors::sql_sensors!(PgStore, Postgres);
crate::patrols::sql_patrols!(PgStore, Postgres);
crate::dashboard::sql_dashboard!(PgStore, Postgres);
crate::search::sql_search!(PgStore, Postgres, Backend::Postgres);
crate::enforce::sql_enforce!(PgStore, Postgres);
// A verification reads every table from one snapshot while the server goes on writing.
crate::chain::sql_chain!(
    PgStore,
    Postgres,
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
);
