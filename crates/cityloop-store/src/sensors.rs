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
}

macro_rules! sql_sensors {
    ($store:ty, $db:ty) => {
        mod sensor_sql {
            use async_trait::async_trait;
            use cityloop_domain::ids::CaseId;
            use cityloop_domain::sensor::{Device, Site};
            use sqlx::Row;

            use crate::sensors::{DeviceRow, RuleStateRow, SensorLogRow, SensorRecord, SensorStore};
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
