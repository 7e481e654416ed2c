//! Storage of the sensor intake (migration 0019): sites, devices, each (device, rule)'s
//! persisted alarm state and the sensor log of a case.
//!
//! Sites and devices are written only by `admin_apply` ([`AdminOp::PutSensorSite`],
//! [`AdminOp::PutSensorDevice`](crate::AdminOp)), with their audit row. A reading's
//! effects — the device's last-seen time and status, its rule states, the lines it adds to
//! a case's sensor log — are written together by [`SensorStore::sensor_record`] in one
//! transaction, after any case it opened was created through the pipeline. The log is
//! append-only (triggers in both databases).
//!
//! Readings (migration 0027) are kept twice, in the same transaction: raw in
//! `sensor_readings` (pruned after the server's retention by [`SensorStore::sensor_prune_readings`])
//! and as per-minute aggregates in `sensor_minutes` (count, sum, min, max per device ×
//! metric × minute of device time, kept for good). A reading whose raw row already exists
//! (an MQTT redelivery) is not added to its minute again. [`SensorStore::sensor_series`]
//! groups the minutes into buckets in SQL (integer division of the minute's Unix seconds).
//!
//! [`SensorStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_sensors!` from one body of portable SQL.
//!
//! [`AdminOp::PutSensorSite`]: crate::AdminOp::PutSensorSite

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::ids::CaseId;
use cityloop_domain::sensor::{Device, RuleState, Site};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

/// A device with what the store keeps beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub device: Device,
    /// SHA-256 (hex) of the device's secret.
    pub secret_hash: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The last battery/signal figures the device reported.
    pub last_status: Option<serde_json::Value>,
    /// The open 设备离线 case, while there is one.
    pub offline_case_id: Option<CaseId>,
}

/// One rule's persisted state on a device, with its episode's case.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStateRow {
    pub rule_id: String,
    pub state: RuleState,
    pub case_id: Option<CaseId>,
}

/// One line of a case's sensor log: opened, reopened, cleared, offline, online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SensorLogRow {
    pub id: Uuid,
    pub case_id: CaseId,
    pub device_id: String,
    pub rule_id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    /// The episode's figures at that moment (peak, mean, duration …).
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

/// One accepted value of a reading, stored raw and added to its minute.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingValue {
    pub metric: String,
    /// Device time.
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Whose minutes a series sums: one device's, or every device's of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesOf {
    Device(String),
    Site(String),
}

/// A series request, already checked by the service (bounds, bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    pub of: SeriesOf,
    pub metric: String,
    /// Unix seconds, a multiple of 60; buckets start here.
    pub from: i64,
    /// Unix seconds, exclusive.
    pub to: i64,
    /// Seconds, a multiple of 60.
    pub bucket: i64,
}

/// One bucket of a series: the minutes in `[start, start + bucket)` summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    /// Unix seconds of the bucket's start.
    pub start: i64,
    /// Readings in the bucket.
    pub count: i64,
    pub min: f64,
    pub max: f64,
    /// Sum of the readings / count.
    pub mean: f64,
}

/// Everything one reading (or an offline check) changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SensorRecord {
    pub device_id: String,
    pub now: DateTime<Utc>,
    /// The reading was accepted: the device was seen at `now` with this status.
    pub seen: bool,
    pub status: Option<serde_json::Value>,
    pub states: Vec<RuleStateRow>,
    pub log: Vec<SensorLogRow>,
    /// Some(x): set the device's open offline case to x.
    pub offline_case: Option<Option<CaseId>>,
    /// The reading's values: raw rows and their minutes' aggregates.
    pub readings: Vec<ReadingValue>,
    /// Server time of receipt (raw rows' `received_at`).
    pub received_at: Option<DateTime<Utc>>,
}

/// The sensor intake's storage (both backends, `sql_sensors!`).
#[async_trait]
pub trait SensorStore: Send + Sync {
    async fn sensor_sites(&self) -> Result<Vec<Site>>;
    async fn sensor_site(&self, id: &str) -> Result<Option<Site>>;
    /// Every device, by id.
    async fn sensor_devices(&self) -> Result<Vec<DeviceRow>>;
    async fn sensor_device(&self, id: &str) -> Result<Option<DeviceRow>>;
    async fn sensor_rule_states(&self, device_id: &str) -> Result<Vec<RuleStateRow>>;
    /// Writes one reading's effects in one transaction.
    async fn sensor_record(&self, rec: &SensorRecord) -> Result<()>;
    /// A case's sensor log, oldest first.
    async fn sensor_case_log(&self, case_id: CaseId) -> Result<Vec<SensorLogRow>>;
    /// The sensor case with that external reference (an episode's key), if one exists.
    async fn sensor_case_by_ref(&self, external_ref: &str) -> Result<Option<CaseId>>;
    /// A series of per-minute aggregates summed into buckets, oldest first; empty
    /// buckets are left out.
    async fn sensor_series(&self, q: &SeriesQuery) -> Result<Vec<SeriesPoint>>;
    /// Raw readings of one device and metric in `[from, to)`, oldest first, at most `limit`.
    async fn sensor_raw_readings(
        &self,
        device_id: &str,
        metric: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(DateTime<Utc>, f64)>>;
    /// The cases sensors recorded on for a site's devices (episodes and 设备离线), the
    /// latest first by their first log line, at most `limit`.
    async fn sensor_site_cases(&self, site_id: &str, limit: u32) -> Result<Vec<CaseId>>;
    /// Deletes at most `batch` raw readings older than `before` (device time) in one short
    /// transaction; returns how many. The minutes are kept.
    async fn sensor_prune_readings(&self, before: DateTime<Utc>, batch: u32) -> Result<u64>;
}

macro_rules! sql_sensors {
    ($store:ty, $db:ty) => {
        mod sensor_sql {
            use async_trait::async_trait;
            use cityloop_domain::ids::CaseId;
            use cityloop_domain::sensor::{Device, Site};
            use sqlx::Row;

            use crate::sensors::{
                DeviceRow, RuleStateRow, SensorLogRow, SensorRecord, SensorStore, SeriesOf,
                SeriesPoint, SeriesQuery,
            };
            use crate::{Result, StoreError};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            fn case_of(row: &<$db as sqlx::Database>::Row, col: &str) -> Result<Option<CaseId>> {
                let s: Option<String> = row.try_get(col)?;
                s.map(|s| CaseId::parse(&s)).transpose().map_err(corrupt)
            }

            fn decode_device(row: &<$db as sqlx::Database>::Row) -> Result<DeviceRow> {
                let body: String = row.try_get("body")?;
                let status: Option<String> = row.try_get("last_status")?;
                Ok(DeviceRow {
                    device: serde_json::from_str::<Device>(&body)?,
                    secret_hash: row.try_get("secret_hash")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    last_status: status.map(|s| serde_json::from_str(&s)).transpose()?,
                    offline_case_id: case_of(row, "offline_case_id")?,
                })
            }

            const DEVICE_COLS: &str =
                "body, secret_hash, last_seen_at, last_status, offline_case_id";

            #[async_trait]
            impl SensorStore for $store {
                async fn sensor_sites(&self) -> Result<Vec<Site>> {
                    let rows = sqlx::query("SELECT body FROM sensor_sites ORDER BY id")
                        .fetch_all(&self.reader)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            let body: String = r.try_get("body")?;
                            Ok(serde_json::from_str(&body)?)
                        })
                        .collect()
                }

                async fn sensor_site(&self, id: &str) -> Result<Option<Site>> {
                    let row = sqlx::query("SELECT body FROM sensor_sites WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.reader)
                        .await?;
                    row.map(|r| {
                        let body: String = r.try_get("body")?;
                        Ok(serde_json::from_str(&body)?)
                    })
                    .transpose()
                }

                async fn sensor_devices(&self) -> Result<Vec<DeviceRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {DEVICE_COLS} FROM sensor_devices ORDER BY id"
                    ))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode_device).collect()
                }

                async fn sensor_device(&self, id: &str) -> Result<Option<DeviceRow>> {
                    // The writer: the intake reads its own last write (offline case).
                    let row = sqlx::query(&format!(
                        "SELECT {DEVICE_COLS} FROM sensor_devices WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.writer)
                    .await?;
                    row.as_ref().map(decode_device).transpose()
                }

                async fn sensor_rule_states(&self, device_id: &str) -> Result<Vec<RuleStateRow>> {
                    let rows = sqlx::query(
                        "SELECT rule_id, state, case_id FROM sensor_rule_states
                         WHERE device_id = $1 ORDER BY rule_id",
                    )
                    .bind(device_id)
                    .fetch_all(&self.writer)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let state: String = r.try_get("state")?;
                            Ok(RuleStateRow {
                                rule_id: r.try_get("rule_id")?,
                                state: serde_json::from_str(&state)?,
                                case_id: case_of(r, "case_id")?,
                            })
                        })
                        .collect()
                }

                async fn sensor_record(&self, rec: &SensorRecord) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    if rec.seen {
                        let done = sqlx::query(
                            "UPDATE sensor_devices SET last_seen_at = $1,
                               last_status = COALESCE($2, last_status)
                             WHERE id = $3",
                        )
                        .bind(rec.now)
                        .bind(rec.status.as_ref().map(|s| s.to_string()))
                        .bind(&rec.device_id)
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("device {}", rec.device_id)));
                        }
                    }
                    if let Some(case) = &rec.offline_case {
                        sqlx::query("UPDATE sensor_devices SET offline_case_id = $1 WHERE id = $2")
                            .bind(case.map(|c| c.to_string()))
                            .bind(&rec.device_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for s in &rec.states {
                        sqlx::query(
                            "INSERT INTO sensor_rule_states (device_id, rule_id, state, case_id, updated_at)
                             VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (device_id, rule_id) DO UPDATE SET state = excluded.state,
                               case_id = excluded.case_id, updated_at = excluded.updated_at",
                        )
                        .bind(&rec.device_id)
                        .bind(&s.rule_id)
                        .bind(serde_json::to_string(&s.state)?)
                        .bind(s.case_id.map(|c| c.to_string()))
                        .bind(rec.now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let received = rec.received_at.unwrap_or(rec.now);
                    for r in &rec.readings {
                        let fresh = sqlx::query(
                            "INSERT INTO sensor_readings (device_id, metric, at, value, received_at)
                             VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (device_id, metric, at) DO NOTHING",
                        )
                        .bind(&rec.device_id)
                        .bind(&r.metric)
                        .bind(r.at)
                        .bind(r.value)
                        .bind(received)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if fresh == 0 {
                            continue;
                        }
                        let minute = r.at.timestamp().div_euclid(60) * 60;
                        sqlx::query(
                            "INSERT INTO sensor_minutes (device_id, metric, minute, n, total, min_v, max_v)
                             VALUES ($1, $2, $3, 1, $4, $4, $4)
                             ON CONFLICT (device_id, metric, minute) DO UPDATE SET
                               n = sensor_minutes.n + 1,
                               total = sensor_minutes.total + excluded.total,
                               min_v = CASE WHEN excluded.min_v < sensor_minutes.min_v
                                       THEN excluded.min_v ELSE sensor_minutes.min_v END,
                               max_v = CASE WHEN excluded.max_v > sensor_minutes.max_v
                                       THEN excluded.max_v ELSE sensor_minutes.max_v END",
                        )
                        .bind(&rec.device_id)
                        .bind(&r.metric)
                        .bind(minute)
                        .bind(r.value)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for l in &rec.log {
                        sqlx::query(
                            "INSERT INTO sensor_case_log (id, case_id, device_id, rule_id, at, kind, summary)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(l.id.to_string())
                        .bind(l.case_id.to_string())
                        .bind(&l.device_id)
                        .bind(&l.rule_id)
                        .bind(l.at)
                        .bind(&l.kind)
                        .bind(l.summary.to_string())
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn sensor_case_by_ref(&self, external_ref: &str) -> Result<Option<CaseId>> {
                    let row = sqlx::query(
                        "SELECT id FROM cases WHERE source = $1 AND external_ref = $2",
                    )
                    .bind("sensor")
                    .bind(external_ref)
                    .fetch_optional(&self.writer)
                    .await?;
                    row.as_ref().map(|r| case_of(r, "id")).transpose().map(Option::flatten)
                }

                async fn sensor_series(&self, q: &SeriesQuery) -> Result<Vec<SeriesPoint>> {
                    // Buckets start at `from`: ((minute - from) / bucket) * bucket + from.
                    let (scope, id) = match &q.of {
                        SeriesOf::Device(id) => ("device_id = $1", id),
                        SeriesOf::Site(id) => (
                            "device_id IN (SELECT id FROM sensor_devices WHERE site_id = $1)",
                            id,
                        ),
                    };
                    let sql = format!(
                        "SELECT ((minute - $3) / $5) * $5 + $3 AS b,
                                CAST(SUM(n) AS BIGINT) AS n, SUM(total) AS total,
                                MIN(min_v) AS lo, MAX(max_v) AS hi
                         FROM sensor_minutes
                         WHERE {scope} AND metric = $2 AND minute >= $3 AND minute < $4
                         GROUP BY b ORDER BY b"
                    );
                    let rows = sqlx::query(&sql)
                        .bind(id)
                        .bind(&q.metric)
                        .bind(q.from)
                        .bind(q.to)
                        .bind(q.bucket)
                        .fetch_all(&self.reader)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            let n: i64 = r.try_get("n")?;
                            let total: f64 = r.try_get("total")?;
                            Ok(SeriesPoint {
                                start: r.try_get("b")?,
                                count: n,
                                min: r.try_get("lo")?,
                                max: r.try_get("hi")?,
                                mean: if n > 0 { total / n as f64 } else { 0.0 },
                            })
                        })
                        .collect()
                }

                async fn sensor_raw_readings(
                    &self,
                    device_id: &str,
                    metric: &str,
                    from: chrono::DateTime<chrono::Utc>,
                    to: chrono::DateTime<chrono::Utc>,
                    limit: u32,
                ) -> Result<Vec<(chrono::DateTime<chrono::Utc>, f64)>> {
                    let rows = sqlx::query(
                        "SELECT at, value FROM sensor_readings
                         WHERE device_id = $1 AND metric = $2 AND at >= $3 AND at < $4
                         ORDER BY at LIMIT $5",
                    )
                    .bind(device_id)
                    .bind(metric)
                    .bind(from)
                    .bind(to)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("at")?, r.try_get("value")?)))
                        .collect()
                }

                async fn sensor_site_cases(&self, site_id: &str, limit: u32) -> Result<Vec<CaseId>> {
                    let rows = sqlx::query(
                        "SELECT case_id, MIN(at) AS first FROM sensor_case_log
                         WHERE device_id IN (SELECT id FROM sensor_devices WHERE site_id = $1)
                         GROUP BY case_id ORDER BY first DESC, case_id LIMIT $2",
                    )
                    .bind(site_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .filter_map(|r| case_of(r, "case_id").transpose())
                        .collect()
                }

                async fn sensor_prune_readings(
                    &self,
                    before: chrono::DateTime<chrono::Utc>,
                    batch: u32,
                ) -> Result<u64> {
                    let done = sqlx::query(
                        "DELETE FROM sensor_readings WHERE (device_id, metric, at) IN
                           (SELECT device_id, metric, at FROM sensor_readings
                            WHERE at < $1 LIMIT $2)",
                    )
                    .bind(before)
                    .bind(i64::from(batch))
                    .execute(&self.writer)
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn sensor_case_log(&self, case_id: CaseId) -> Result<Vec<SensorLogRow>> {
                    let rows = sqlx::query(
                        "SELECT id, case_id, device_id, rule_id, at, kind, summary
                         FROM sensor_case_log WHERE case_id = $1 ORDER BY at, id",
                    )
                    .bind(case_id.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let id: String = r.try_get("id")?;
                            let summary: String = r.try_get("summary")?;
                            Ok(SensorLogRow {
                                id: uuid::Uuid::parse_str(&id).map_err(corrupt)?,
                                case_id,
                                device_id: r.try_get("device_id")?,
                                rule_id: r.try_get("rule_id")?,
                                at: r.try_get("at")?,
                                kind: r.try_get("kind")?,
                                summary: serde_json::from_str(&summary)?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use sql_sensors;
