//! Storage of the tamper-evident history (issue 13, item 10) and of the operator's
//! integrity tools: hash links, roots, verification runs, online backups and WAL
//! checkpoints.
//!
//! - `case_event_chain` holds one link per case event: the event's hash over its canonical
//!   encoding and the previous event's hash (`cityloop_domain::chain`). The link is written
//!   by [`link`](IntegrityStore) — one call from the event insert, in the event's own
//!   transaction — from the columns the INSERT returned, so that the hash covers exactly
//!   what was stored (within one change the previous hash is carried, not read back).
//! - `chain_roots` seals, every N events or daily, the links recorded since the previous
//!   root into a root hash chained to the previous root ([`IntegrityStore::seal_root`]).
//!   Links are assigned to a root by setting their `root_seq`, which is the only change a
//!   trigger lets through; so on PostgreSQL a transaction still in flight when a root is
//!   sealed simply lands in the next root.
//! - `chain_state` records that the history written before this schema existed was sealed
//!   once ([`IntegrityStore::seal_history`], run when a store is opened): those events get
//!   links computed from their stored content; nothing in `case_events` is rewritten.
//! - `verify_runs` keeps every `cityloop verify` result; the admin console shows the last.
//!
//! [`IntegrityStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_chain!` from one body of portable SQL; what is not portable (the
//! snapshot isolation of a verification, `VACUUM INTO`, WAL checkpoints) is a method on
//! the backend struct.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::chain::{RootRow, VerifyReport};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Events read per query while verifying or sealing.
pub const SCAN_BATCH: i64 = 5000;

/// Where the chain stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainStatus {
    /// Links recorded after the newest root.
    pub unrooted: i64,
    /// When the last root was sealed.
    pub last_root: Option<RootRow>,
    /// When the history written before the chain existed was sealed, and how many events.
    pub history_sealed_at: Option<DateTime<Utc>>,
    pub history_sealed_events: i64,
}

/// One stored verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyRun {
    pub id: uuid::Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Who ran it: `cli` (`cityloop verify`), `restore`, or `admin`.
    pub ran_by: String,
    pub report: VerifyReport,
}

/// What a WAL checkpoint did (SQLite `PRAGMA wal_checkpoint(TRUNCATE)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// 1 when a reader kept it from finishing (it is retried on the next pass).
    pub busy: i64,
    /// WAL frames before the checkpoint and frames copied back into the database.
    pub log_frames: i64,
    pub checkpointed_frames: i64,
}

/// Integrity storage. Every `Store` is one.
#[async_trait]
pub trait IntegrityStore: Send + Sync {
    /// Links every event that has no link yet, once per database (when `chain_state` is
    /// empty), then records that it did. Returns how many events it sealed (0 on every
    /// later call). Run by `open`, i.e. by `cityloop migrate` and at every start.
    async fn seal_history(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Seals a root over every link not yet covered by one; None when there is none.
    async fn seal_root(&self, now: DateTime<Utc>) -> Result<Option<RootRow>>;
    async fn chain_status(&self) -> Result<ChainStatus>;
    /// Recomputes every chain and root from one consistent snapshot of the database.
    async fn verify_chains(&self) -> Result<VerifyReport>;
    async fn record_verify_run(&self, run: &VerifyRun) -> Result<()>;
    async fn last_verify_run(&self) -> Result<Option<VerifyRun>>;
    /// Writes a consistent copy of the whole database to the new file `path` while others
    /// keep writing (SQLite `VACUUM INTO`). PostgreSQL: [`StoreError::Unavailable`] naming
    /// pg_dump (docs/OPERATIONS.md).
    ///
    /// [`StoreError::Unavailable`]: crate::StoreError::Unavailable
    async fn snapshot_into(&self, path: &Path) -> Result<()>;
    /// Checkpoints and truncates the SQLite WAL; None on PostgreSQL.
    async fn wal_checkpoint(&self) -> Result<Option<Checkpoint>>;
}

macro_rules! sql_chain {
    ($store:ty, $db:ty, $snapshot_sql:expr) => {
        mod chain_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use cityloop_domain::chain::{
                event_hash, from_hex, to_hex, truncate_micros, CaseHead, EventRow, LinkRow,
                RootHasher, RootRow, Verifier, VerifyReport, GENESIS,
            };
            use sqlx::Row;

            use crate::chain::{ChainStatus, Checkpoint, IntegrityStore, VerifyRun, SCAN_BATCH};
            use crate::{Result, StoreError};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            const EVENT_COLS: &str =
                "e.case_id, e.seq, e.at, e.kind, e.actor_id, e.from_state, e.to_state, e.body";

            /// The owned columns of one `case_events` row.
            struct Stored {
                case_id: String,
                seq: i64,
                at: DateTime<Utc>,
                kind: String,
                actor_id: Option<String>,
                from_state: Option<String>,
                to_state: String,
                body: String,
            }

            impl Stored {
                fn of(r: &<$db as sqlx::Database>::Row) -> Result<Stored> {
                    Ok(Stored {
                        case_id: r.try_get("case_id")?,
                        seq: r.try_get("seq")?,
                        at: r.try_get("at")?,
                        kind: r.try_get("kind")?,
                        actor_id: r.try_get("actor_id")?,
                        from_state: r.try_get("from_state")?,
                        to_state: r.try_get("to_state")?,
                        body: r.try_get("body")?,
                    })
                }

                fn row(&self) -> EventRow<'_> {
                    EventRow {
                        case_id: &self.case_id,
                        seq: self.seq,
                        at: self.at,
                        kind: &self.kind,
                        actor_id: self.actor_id.as_deref(),
                        from_state: self.from_state.as_deref(),
                        to_state: &self.to_state,
                        body: &self.body,
                    }
                }
            }

            fn decode_root(r: &<$db as sqlx::Database>::Row) -> Result<RootRow> {
                Ok(RootRow {
                    seq: r.try_get("seq")?,
                    sealed_at: r.try_get("sealed_at")?,
                    period_from: r.try_get("period_from")?,
                    events: r.try_get("events")?,
                    root: r.try_get("root")?,
                    prev_root: r.try_get("prev_root")?,
                })
            }

            async fn insert_link(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: &str,
                seq: i64,
                prev: &cityloop_domain::chain::Hash,
                hash: &cityloop_domain::chain::Hash,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO case_event_chain (case_id, seq, prev_hash, hash) VALUES ($1, $2, $3, $4)",
                )
                .bind(case_id)
                .bind(seq)
                .bind(to_hex(prev))
                .bind(to_hex(hash))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Links an event just inserted to its case's previous event, inside the
            /// transaction that inserted it. `row` holds the columns the INSERT returned
            /// (`RETURNING case_id, seq, at, kind, actor_id, from_state, to_state, body`),
            /// so the hash covers exactly what was stored. `prev` is the previous event's
            /// hash when the caller has it (it linked that event in the same change);
            /// otherwise the previous link is read. Returns the new event's hash.
            pub(crate) async fn link(
                tx: &mut sqlx::Transaction<'_, $db>,
                row: &<$db as sqlx::Database>::Row,
                prev: Option<cityloop_domain::chain::Hash>,
            ) -> Result<cityloop_domain::chain::Hash> {
                let stored = Stored::of(row)?;
                let case_id = stored.case_id.clone();
                let prev = match (stored.seq, prev) {
                    (1, _) => GENESIS,
                    (_, Some(p)) => p,
                    (s, None) => {
                        let recorded = sqlx::query(
                            "SELECT hash FROM case_event_chain WHERE case_id = $1 AND seq = $2",
                        )
                        .bind(&case_id)
                        .bind(s - 1)
                        .fetch_optional(&mut **tx)
                        .await?;
                        match recorded {
                            Some(r) => {
                                let p: String = r.try_get("hash")?;
                                from_hex(&p).ok_or_else(|| {
                                    corrupt(format!("case {case_id} event {}: its recorded hash is not hex", s - 1))
                                })?
                            }
                            None => {
                                return Err(corrupt(format!(
                                    "case {case_id} event {}: the previous event has no recorded hash, so the history was changed; run `cityloop verify`",
                                    s
                                )))
                            }
                        }
                    }
                };
                let hash = event_hash(&prev, &stored.row());
                insert_link(tx, &case_id, stored.seq, &prev, &hash).await?;
                Ok(hash)
            }

            #[async_trait]
            impl IntegrityStore for $store {
                async fn seal_history(&self, now: DateTime<Utc>) -> Result<u64> {
                    let now = truncate_micros(now);
                    let mut tx = self.writer.begin().await?;
                    let done = sqlx::query("SELECT sealed_at FROM chain_state WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                    if done.is_some() {
                        return Ok(0);
                    }
                    // Every event without a link, in (case, seq) order, batch by batch.
                    let (mut after_case, mut after_seq) = (String::new(), 0i64);
                    let mut last: Option<(String, i64, cityloop_domain::chain::Hash)> = None;
                    let mut sealed = 0u64;
                    loop {
                        let rows = sqlx::query(&format!(
                            "SELECT {EVENT_COLS}, h.hash AS linked, p.hash AS prev FROM case_events e
                             LEFT JOIN case_event_chain h ON h.case_id = e.case_id AND h.seq = e.seq
                             LEFT JOIN case_event_chain p ON p.case_id = e.case_id AND p.seq = e.seq - 1
                             WHERE (e.case_id, e.seq) > ($1, $2)
                             ORDER BY e.case_id, e.seq LIMIT $3"
                        ))
                        .bind(&after_case)
                        .bind(after_seq)
                        .bind(SCAN_BATCH)
                        .fetch_all(&mut *tx)
                        .await?;
                        let Some(end) = rows.last() else { break };
                        after_case = end.try_get("case_id")?;
                        after_seq = end.try_get("seq")?;
                        for r in &rows {
                            let stored = Stored::of(r)?;
                            let linked: Option<String> = r.try_get("linked")?;
                            if let Some(h) = linked {
                                let h = from_hex(&h).unwrap_or(GENESIS);
                                last = Some((stored.case_id.clone(), stored.seq, h));
                                continue;
                            }
                            let prev_db: Option<String> = r.try_get("prev")?;
                            let prev = if stored.seq == 1 {
                                GENESIS
                            } else if let Some(p) = prev_db.as_deref().and_then(from_hex) {
                                p
                            } else {
                                // The previous event was linked in this pass (or there is a
                                // gap in the old history, which verify will name).
                                match &last {
                                    Some((c, _, h)) if *c == stored.case_id => *h,
                                    _ => GENESIS,
                                }
                            };
                            let hash = event_hash(&prev, &stored.row());
                            insert_link(&mut tx, &stored.case_id, stored.seq, &prev, &hash).await?;
                            last = Some((stored.case_id.clone(), stored.seq, hash));
                            sealed += 1;
                        }
                    }
                    sqlx::query("INSERT INTO chain_state (id, sealed_at, sealed_events) VALUES (1, $1, $2)")
                        .bind(now)
                        .bind(sealed as i64)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    if sealed > 0 {
                        tracing::info!(events = sealed, "sealed the history written before the hash chain existed");
                    }
                    Ok(sealed)
                }

                async fn seal_root(&self, now: DateTime<Utc>) -> Result<Option<RootRow>> {
                    let now = truncate_micros(now);
                    let mut tx = self.writer.begin().await?;
                    let prev = sqlx::query(
                        "SELECT seq, sealed_at, period_from, events, root, prev_root FROM chain_roots ORDER BY seq DESC LIMIT 1",
                    )
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| decode_root(&r))
                    .transpose()?;
                    let seq = prev.as_ref().map_or(1, |p| p.seq + 1);
                    let prev_root = prev.as_ref().and_then(|p| from_hex(&p.root)).unwrap_or(GENESIS);
                    let claimed = sqlx::query("UPDATE case_event_chain SET root_seq = $1 WHERE root_seq IS NULL")
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if claimed == 0 {
                        return Ok(None);
                    }
                    let mut h = RootHasher::new(&prev_root, seq, now);
                    let (mut after_case, mut after_seq) = (String::new(), 0i64);
                    loop {
                        let rows = sqlx::query(
                            "SELECT case_id, seq, hash FROM case_event_chain
                             WHERE root_seq = $1 AND (case_id, seq) > ($2, $3)
                             ORDER BY case_id, seq LIMIT $4",
                        )
                        .bind(seq)
                        .bind(&after_case)
                        .bind(after_seq)
                        .bind(SCAN_BATCH)
                        .fetch_all(&mut *tx)
                        .await?;
                        let Some(end) = rows.last() else { break };
                        after_case = end.try_get("case_id")?;
                        after_seq = end.try_get("seq")?;
                        for r in &rows {
                            let case_id: String = r.try_get("case_id")?;
                            let hash: String = r.try_get("hash")?;
                            let hash = from_hex(&hash).ok_or_else(|| corrupt(format!("case {case_id}: a recorded hash is not hex")))?;
                            h.push(&case_id, r.try_get("seq")?, &hash);
                        }
                    }
                    let (root, events) = h.finish();
                    let row = RootRow {
                        seq,
                        sealed_at: now,
                        period_from: prev.as_ref().map(|p| p.sealed_at),
                        events: events as i64,
                        root: to_hex(&root),
                        prev_root: to_hex(&prev_root),
                    };
                    sqlx::query(
                        "INSERT INTO chain_roots (seq, sealed_at, period_from, events, root, prev_root)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(row.seq)
                    .bind(row.sealed_at)
                    .bind(row.period_from)
                    .bind(row.events)
                    .bind(&row.root)
                    .bind(&row.prev_root)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Some(row))
                }

                async fn chain_status(&self) -> Result<ChainStatus> {
                    let unrooted: i64 = sqlx::query("SELECT COUNT(*) AS n FROM case_event_chain WHERE root_seq IS NULL")
                        .fetch_one(&self.reader)
                        .await?
                        .try_get("n")?;
                    let last_root = sqlx::query(
                        "SELECT seq, sealed_at, period_from, events, root, prev_root FROM chain_roots ORDER BY seq DESC LIMIT 1",
                    )
                    .fetch_optional(&self.reader)
                    .await?
                    .map(|r| decode_root(&r))
                    .transpose()?;
                    let state = sqlx::query("SELECT sealed_at, sealed_events FROM chain_state WHERE id = 1")
                        .fetch_optional(&self.reader)
                        .await?;
                    Ok(ChainStatus {
                        unrooted,
                        last_root,
                        history_sealed_at: state.as_ref().map(|r| r.try_get("sealed_at")).transpose()?,
                        history_sealed_events: state.as_ref().map(|r| r.try_get("sealed_events")).transpose()?.unwrap_or(0),
                    })
                }

                async fn verify_chains(&self) -> Result<VerifyReport> {
                    let mut tx = self.reader.begin().await?;
                    let snapshot: &str = $snapshot_sql;
                    if !snapshot.is_empty() {
                        sqlx::query(snapshot).execute(&mut *tx).await?;
                    }
                    let mut v = Verifier::new();
                    let (mut after_case, mut after_seq) = (String::new(), 0i64);
                    let (mut linked, mut cases_with_view, mut last_case) = (0i64, 0i64, String::new());
                    loop {
                        let rows = sqlx::query(&format!(
                            "SELECT {EVENT_COLS}, h.prev_hash, h.hash, h.root_seq, c.number, c.version
                             FROM case_events e
                             LEFT JOIN case_event_chain h ON h.case_id = e.case_id AND h.seq = e.seq
                             LEFT JOIN cases c ON c.id = e.case_id
                             WHERE (e.case_id, e.seq) > ($1, $2)
                             ORDER BY e.case_id, e.seq LIMIT $3"
                        ))
                        .bind(&after_case)
                        .bind(after_seq)
                        .bind(SCAN_BATCH)
                        .fetch_all(&mut *tx)
                        .await?;
                        let Some(end) = rows.last() else { break };
                        after_case = end.try_get("case_id")?;
                        after_seq = end.try_get("seq")?;
                        for r in &rows {
                            let stored = Stored::of(r)?;
                            let hash: Option<String> = r.try_get("hash")?;
                            let link = match hash {
                                Some(hash) => Some(LinkRow {
                                    prev_hash: r.try_get("prev_hash")?,
                                    hash,
                                    root_seq: r.try_get("root_seq")?,
                                }),
                                None => None,
                            };
                            linked += i64::from(link.is_some());
                            let number: Option<String> = r.try_get("number")?;
                            let version: Option<i64> = r.try_get("version")?;
                            if stored.case_id != last_case {
                                last_case.clone_from(&stored.case_id);
                                cases_with_view += i64::from(number.is_some());
                            }
                            let head = match (&number, version) {
                                (Some(n), Some(version)) => Some(CaseHead { number: n, version }),
                                _ => None,
                            };
                            v.event(&stored.row(), link.as_ref(), head);
                        }
                    }
                    let links: i64 = sqlx::query("SELECT COUNT(*) AS n FROM case_event_chain")
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                    if links > linked {
                        let orphans = sqlx::query(
                            "SELECT h.case_id, h.seq, c.number FROM case_event_chain h
                             LEFT JOIN cases c ON c.id = h.case_id
                             WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = h.case_id AND e.seq = h.seq)
                             ORDER BY h.case_id, h.seq LIMIT $1",
                        )
                        .bind(cityloop_domain::chain::MAX_PROBLEMS as i64)
                        .fetch_all(&mut *tx)
                        .await?;
                        for r in &orphans {
                            let id: String = r.try_get("case_id")?;
                            let number: Option<String> = r.try_get("number")?;
                            v.orphan_link(&id, number.as_deref(), r.try_get("seq")?);
                        }
                    }
                    let cases: i64 = sqlx::query("SELECT COUNT(*) AS n FROM cases")
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                    if cases > cases_with_view {
                        let empty = sqlx::query(
                            "SELECT c.id, c.number, c.version FROM cases c
                             WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id)
                             ORDER BY c.id LIMIT $1",
                        )
                        .bind(cityloop_domain::chain::MAX_PROBLEMS as i64)
                        .fetch_all(&mut *tx)
                        .await?;
                        for r in &empty {
                            let id: String = r.try_get("id")?;
                            let number: String = r.try_get("number")?;
                            v.case_without_events(&id, &number, r.try_get("version")?);
                        }
                    }
                    let roots = sqlx::query(
                        "SELECT seq, sealed_at, period_from, events, root, prev_root FROM chain_roots ORDER BY seq",
                    )
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(decode_root)
                    .collect::<Result<Vec<_>>>()?;
                    tx.rollback().await?;
                    Ok(v.finish(&roots))
                }

                async fn record_verify_run(&self, run: &VerifyRun) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO verify_runs (id, started_at, finished_at, ran_by, ok, events, problems, report)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(run.id.to_string())
                    .bind(run.started_at)
                    .bind(run.finished_at)
                    .bind(&run.ran_by)
                    .bind(run.report.ok)
                    .bind(run.report.events as i64)
                    .bind(run.report.problem_count as i64)
                    .bind(serde_json::to_string(&run.report)?)
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn last_verify_run(&self) -> Result<Option<VerifyRun>> {
                    let row = sqlx::query(
                        "SELECT id, started_at, finished_at, ran_by, report FROM verify_runs
                         ORDER BY finished_at DESC, id DESC LIMIT 1",
                    )
                    .fetch_optional(&self.reader)
                    .await?;
                    let Some(r) = row else { return Ok(None) };
                    let id: String = r.try_get("id")?;
                    let report: String = r.try_get("report")?;
                    Ok(Some(VerifyRun {
                        id: uuid::Uuid::parse_str(&id).map_err(corrupt)?,
                        started_at: r.try_get("started_at")?,
                        finished_at: r.try_get("finished_at")?,
                        ran_by: r.try_get("ran_by")?,
                        report: serde_json::from_str(&report)?,
                    }))
                }

                async fn snapshot_into(&self, path: &std::path::Path) -> Result<()> {
                    self.snapshot_file(path).await
                }

                async fn wal_checkpoint(&self) -> Result<Option<Checkpoint>> {
                    self.checkpoint_wal().await
                }
            }
        }
        use chain_sql::link;
    };
}

pub(crate) use sql_chain;

/// The start-up step after migrations: seals the history written before the chain existed
/// (once per database) and, when it sealed anything, records a root over it at once.
pub(crate) async fn after_migrate(store: &dyn IntegrityStore) -> Result<()> {
    let now = Utc::now();
    match store.seal_history(now).await {
        Ok(0) => Ok(()),
        Ok(_) => store.seal_root(now).await.map(|_| ()),
        // A second process opening the same database sealed it first.
        Err(crate::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
