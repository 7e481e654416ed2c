//! Storage of patrols on the ground (migration 0021): a run started on a phone, its trail in
//! batches, and its end.
//!
//! A batch is stored once per (patrol, batch id): a retry of the same batch is answered
//! [`BatchOutcome::Replayed`] (and [`BatchOutcome::Differs`] when it carries other points),
//! so a phone that lost its connection resends its queue without doubling the trail. The
//! batch, the run's point counter (checked against the limit) and the "still running" check
//! commit together; ending sets `ended_at` only where it is NULL, so a patrol ends once, and
//! writes the result and the `patrols` row the rankings read in the same transaction.
//!
//! [`PatrolStore`] is a supertrait of [`Store`](crate::Store), implemented for both backends
//! by `sql_patrols!` from one body of portable SQL. What a trail covered is decided by the
//! caller (`cityloop_geo::patrol`); this module only keeps it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::evaluation::Patrol;
use cityloop_domain::ids::PersonId;
use uuid::Uuid;

use crate::Result;

/// A patrol run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PatrolRun {
    pub id: Uuid,
    pub person_id: PersonId,
    pub started_at: DateTime<Utc>,
    /// None while it runs.
    pub ended_at: Option<DateTime<Utc>>,
    /// Trail points stored.
    pub points: i64,
    /// The result written at the end (JSON, the service's shape).
    pub result: Option<String>,
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Stored now.
    Stored,
    /// Already stored with the same points (a retry): nothing written.
    Replayed,
    /// Already stored with other points: nothing written.
    Differs,
}

/// Why a batch or an end was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatrolRefusal {
    /// The patrol has ended.
    Ended,
    /// The trail would pass the point limit.
    TooManyPoints,
}

/// Patrol storage. Every `Store` is one.
#[async_trait]
pub trait PatrolStore: Send + Sync {
    /// Inserts a new run.
    async fn start_patrol_run(&self, run: &PatrolRun) -> Result<()>;
    /// One run; [`StoreError::NotFound`](crate::StoreError) when there is none.
    async fn patrol_run(&self, id: Uuid) -> Result<PatrolRun>;
    /// The person's runs that have not ended, oldest first.
    async fn open_patrol_runs(&self, person: PersonId) -> Result<Vec<PatrolRun>>;
    /// Stores a batch of `n_points` points (`points`, JSON) unless the same batch id is
    /// stored; refused when the run ended or the total would pass `max_points`.
    async fn add_patrol_batch(
        &self,
        patrol: Uuid,
        batch_id: &str,
        n_points: i64,
        points: &str,
        max_points: i64,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<BatchOutcome, PatrolRefusal>>;
    /// The run's batches' points (JSON), in the order received.
    async fn patrol_batches(&self, patrol: Uuid) -> Result<Vec<String>>;
    /// Ends a running patrol with its result and its record for the rankings, in one
    /// transaction; [`PatrolRefusal::Ended`] when it had ended.
    async fn end_patrol_run(
        &self,
        patrol: Uuid,
        ended_at: DateTime<Utc>,
        result: &str,
        record: &Patrol,
    ) -> Result<std::result::Result<(), PatrolRefusal>>;
    /// Patrols (the rankings' records) of one person that started in `from..to`.
    async fn patrols_of(
        &self,
        person: PersonId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Patrol>>;
}

macro_rules! sql_patrols {
    ($store:ty, $db:ty) => {
        mod patrol_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use cityloop_domain::evaluation::Patrol;
            use cityloop_domain::ids::PersonId;
            use sqlx::Row;
            use uuid::Uuid;

            use crate::patrols::{BatchOutcome, PatrolRefusal, PatrolRun, PatrolStore};
            use crate::{Result, StoreError};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            fn decode_run(row: &<$db as sqlx::Database>::Row) -> Result<PatrolRun> {
                let id: String = row.try_get("id")?;
                let person: String = row.try_get("person_id")?;
                Ok(PatrolRun {
                    id: Uuid::parse_str(&id).map_err(corrupt)?,
                    person_id: PersonId::parse(&person).map_err(corrupt)?,
                    started_at: row.try_get("started_at")?,
                    ended_at: row.try_get("ended_at")?,
                    points: row.try_get("points")?,
                    result: row.try_get("body")?,
                })
            }

            #[async_trait]
            impl PatrolStore for $store {
                async fn start_patrol_run(&self, run: &PatrolRun) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO patrol_runs (id, person_id, started_at, ended_at, points, body)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(run.id.to_string())
                    .bind(run.person_id.to_string())
                    .bind(run.started_at)
                    .bind(run.ended_at)
                    .bind(run.points)
                    .bind(run.result.as_deref())
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn patrol_run(&self, id: Uuid) -> Result<PatrolRun> {
                    let row = sqlx::query("SELECT * FROM patrol_runs WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_optional(&self.reader)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("patrol {id}")))?;
                    decode_run(&row)
                }

                async fn open_patrol_runs(&self, person: PersonId) -> Result<Vec<PatrolRun>> {
                    let rows = sqlx::query(
                        "SELECT * FROM patrol_runs WHERE person_id = $1 AND ended_at IS NULL
                         ORDER BY started_at, id",
                    )
                    .bind(person.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode_run).collect()
                }

                async fn add_patrol_batch(
                    &self,
                    patrol: Uuid,
                    batch_id: &str,
                    n_points: i64,
                    points: &str,
                    max_points: i64,
                    now: DateTime<Utc>,
                ) -> Result<std::result::Result<BatchOutcome, PatrolRefusal>> {
                    let mut tx = self.writer.begin().await?;
                    let id = patrol.to_string();
                    let inserted = sqlx::query(
                        "INSERT INTO patrol_batches (patrol_id, batch_id, received_at, n_points, points)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (patrol_id, batch_id) DO NOTHING",
                    )
                    .bind(&id)
                    .bind(batch_id)
                    .bind(now)
                    .bind(n_points)
                    .bind(points)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        let stored: String = sqlx::query(
                            "SELECT points FROM patrol_batches WHERE patrol_id = $1 AND batch_id = $2",
                        )
                        .bind(&id)
                        .bind(batch_id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("points")?;
                        tx.rollback().await?;
                        return Ok(Ok(if stored == points {
                            BatchOutcome::Replayed
                        } else {
                            BatchOutcome::Differs
                        }));
                    }
                    // Locks the run's row (PostgreSQL) until commit, so an end or another
                    // batch waits: the limit and "still running" hold at commit.
                    let counted = sqlx::query(
                        "UPDATE patrol_runs SET points = points + $2
                         WHERE id = $1 AND ended_at IS NULL AND points + $2 <= $3",
                    )
                    .bind(&id)
                    .bind(n_points)
                    .bind(max_points)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if counted == 0 {
                        let ended: Option<Option<DateTime<Utc>>> =
                            sqlx::query("SELECT ended_at FROM patrol_runs WHERE id = $1")
                                .bind(&id)
                                .fetch_optional(&mut *tx)
                                .await?
                                .map(|r| r.try_get("ended_at"))
                                .transpose()?;
                        tx.rollback().await?;
                        return match ended {
                            None => Err(StoreError::NotFound(format!("patrol {patrol}"))),
                            Some(Some(_)) => Ok(Err(PatrolRefusal::Ended)),
                            Some(None) => Ok(Err(PatrolRefusal::TooManyPoints)),
                        };
                    }
                    tx.commit().await?;
                    Ok(Ok(BatchOutcome::Stored))
                }

                async fn patrol_batches(&self, patrol: Uuid) -> Result<Vec<String>> {
                    let rows = sqlx::query(
                        "SELECT points FROM patrol_batches WHERE patrol_id = $1
                         ORDER BY received_at, batch_id",
                    )
                    .bind(patrol.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| r.try_get::<String, _>("points").map_err(StoreError::from))
                        .collect()
                }

                async fn end_patrol_run(
                    &self,
                    patrol: Uuid,
                    ended_at: DateTime<Utc>,
                    result: &str,
                    record: &Patrol,
                ) -> Result<std::result::Result<(), PatrolRefusal>> {
                    let mut tx = self.writer.begin().await?;
                    let n = sqlx::query(
                        "UPDATE patrol_runs SET ended_at = $2, body = $3
                         WHERE id = $1 AND ended_at IS NULL",
                    )
                    .bind(patrol.to_string())
                    .bind(ended_at)
                    .bind(result)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 0 {
                        tx.rollback().await?;
                        // Not found, or ended before.
                        self.patrol_run(patrol).await?;
                        return Ok(Err(PatrolRefusal::Ended));
                    }
                    sqlx::query(
                        "INSERT INTO patrols (id, person_id, started_at, ended_at, body)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(record.id.to_string())
                    .bind(record.person_id.to_string())
                    .bind(record.started_at)
                    .bind(record.ended_at)
                    .bind(serde_json::to_string(record)?)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Ok(()))
                }

                async fn patrols_of(
                    &self,
                    person: PersonId,
                    from: DateTime<Utc>,
                    to: DateTime<Utc>,
                ) -> Result<Vec<Patrol>> {
                    let rows = sqlx::query(
                        "SELECT body FROM patrols WHERE person_id = $1
                           AND started_at >= $2 AND started_at < $3
                         ORDER BY started_at, id",
                    )
                    .bind(person.to_string())
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let b: String = r.try_get("body")?;
                            Ok(serde_json::from_str(&b)?)
                        })
                        .collect()
                }
            }
        }
    };
}
pub(crate) use sql_patrols;
