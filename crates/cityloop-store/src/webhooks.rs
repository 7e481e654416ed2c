//! Storage of outgoing webhooks: subscriptions, the delivery outbox and its attempts.
//!
//! The outbox is filled inside the transactions that write case events and escalations
//! (`enqueue_webhooks`, called from the `sql_store!` body), so a committed event always
//! has its deliveries and a rolled-back one never does — nothing is lost to a crash
//! between "event written" and "webhook queued". Event ids are deterministic
//! (`case:<id>:<seq>`, `escalation:<id>:<clock>:<level>`) and unique per subscription.
//!
//! [`WebhookStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_webhooks!` from one body of portable SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::ids::CaseId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

/// A subscription: where to POST which events, signed with which secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscription {
    pub id: Uuid,
    pub url: String,
    /// Kept in clear: the server needs it to sign. Never shown by the API.
    pub secret: String,
    /// Wire names of `cityloop_domain::webhook::EventType`.
    pub event_types: Vec<String>,
    pub active: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery stands.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DELIVERED: &str = "delivered";
    /// The retry schedule is exhausted: the dead letter.
    pub const DEAD: &str = "dead";
    pub const ALL: &[&str] = &[PENDING, DELIVERED, DEAD];
}

/// One event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Sent as `X-Cityloop-Delivery`; the same on every attempt (receivers dedupe on it).
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub case_id: Option<CaseId>,
    /// The exact JSON body that is signed and sent.
    pub payload: String,
    pub status: String,
    /// Failed attempts since the delivery was queued or last redelivered.
    pub failures: i64,
    /// All attempts ever made.
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// A delivery claimed for sending, with where and how to sign it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: String,
}

/// One POST and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    pub delivery_id: Uuid,
    /// 1, 2, … over the delivery's whole life.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i64>,
    /// Why it failed (connection refused, timeout, a non-2xx status).
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What an attempt does to its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; try again at this instant.
    Retry(DateTime<Utc>),
    /// Failed, and the schedule is exhausted: a dead letter.
    Dead,
}

/// Webhook storage. Every `Store` is one.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    // Creating, changing and deleting a subscription are admin changes with an audit row:
    // `AdminOp::{CreateWebhook, UpdateWebhook, DeleteWebhook}` through `Store::admin_apply`.
    async fn get_webhook(&self, id: Uuid) -> Result<WebhookSubscription>;
    async fn list_webhooks(&self) -> Result<Vec<WebhookSubscription>>;
    /// Claims up to `limit` pending deliveries due at `now` (of live, active
    /// subscriptions) until `lease_until`, so that a second worker skips them.
    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>>;
    /// Records an attempt and applies its outcome, in one transaction.
    async fn finish_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        outcome: AttemptOutcome,
    ) -> Result<()>;
    /// A subscription's deliveries, newest first, optionally of one status.
    async fn webhook_deliveries(
        &self,
        subscription: Uuid,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
    /// A delivery's attempts, oldest first.
    async fn webhook_attempts(&self, delivery: Uuid) -> Result<Vec<WebhookAttempt>>;
    /// Puts a dead letter back in the queue, due at `now`, with a fresh retry schedule.
    /// [`StoreError::Conflict`](crate::StoreError) when it is not dead.
    async fn redeliver_webhook(
        &self,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery>;
}

macro_rules! sql_webhooks {
    ($store:ty, $db:ty) => {
        mod webhook_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use cityloop_domain::ids::CaseId;
            use cityloop_domain::webhook::OutboxEvent;
            use sqlx::Row;
            use uuid::Uuid;

            use crate::webhooks::{
                status, AttemptOutcome, DueDelivery, WebhookAttempt, WebhookDelivery,
                WebhookStore, WebhookSubscription,
            };
            use crate::{Result, StoreError, MAX_PAGE};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            fn uuid_of(row: &<$db as sqlx::Database>::Row, col: &str) -> Result<Uuid> {
                let s: String = row.try_get(col)?;
                Uuid::parse_str(&s).map_err(corrupt)
            }

            fn decode_sub(row: &<$db as sqlx::Database>::Row) -> Result<WebhookSubscription> {
                let types: String = row.try_get("event_types")?;
                Ok(WebhookSubscription {
                    id: uuid_of(row, "id")?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                    event_types: serde_json::from_str(&types)?,
                    active: row.try_get("active")?,
                    description: row.try_get("description")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            pub(crate) const DELIVERY_COLS: &str = "d.id, d.subscription_id, d.event_id, d.event_type, d.case_id,
                d.payload, d.status, d.failures, d.attempts, d.next_attempt_at, d.created_at,
                d.updated_at, d.last_error";

            pub(crate) fn decode_delivery(row: &<$db as sqlx::Database>::Row) -> Result<WebhookDelivery> {
                let case_id: Option<String> = row.try_get("case_id")?;
                Ok(WebhookDelivery {
                    id: uuid_of(row, "id")?,
                    subscription_id: uuid_of(row, "subscription_id")?,
                    event_id: row.try_get("event_id")?,
                    event_type: row.try_get("event_type")?,
                    case_id: case_id.map(|c| CaseId::parse(&c)).transpose().map_err(corrupt)?,
                    payload: row.try_get("payload")?,
                    status: row.try_get("status")?,
                    failures: row.try_get("failures")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    last_error: row.try_get("last_error")?,
                })
            }

            /// Queues `event` for every live, active subscription that asked for its type,
            /// inside the caller's transaction. Returns how many deliveries it queued.
            pub(crate) async fn enqueue_webhooks(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: Option<CaseId>,
                event_id: &str,
                event: &OutboxEvent,
                now: DateTime<Utc>,
            ) -> Result<usize> {
                let subs = sqlx::query(
                    "SELECT id, event_types FROM webhook_subscriptions
                     WHERE active = $1 AND deleted_at IS NULL",
                )
                .bind(true)
                .fetch_all(&mut **tx)
                .await?;
                if subs.is_empty() {
                    return Ok(0);
                }
                let payload = event.payload.to_string();
                let mut queued = 0;
                for s in &subs {
                    let types: String = s.try_get("event_types")?;
                    let types: Vec<String> = serde_json::from_str(&types)?;
                    if !types.iter().any(|t| t == event.event_type.as_str()) {
                        continue;
                    }
                    let sub: String = s.try_get("id")?;
                    let done = sqlx::query(
                        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type,
                           case_id, payload, status, failures, attempts, next_attempt_at,
                           lease_until, created_at, updated_at, last_error)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, NULL, $8, $8, NULL)
                         ON CONFLICT (subscription_id, event_id) DO NOTHING",
                    )
                    .bind(Uuid::now_v7().to_string())
                    .bind(sub)
                    .bind(event_id)
                    .bind(event.event_type.as_str())
                    .bind(case_id.map(|c| c.to_string()))
                    .bind(&payload)
                    .bind(status::PENDING)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    queued += usize::try_from(done.rows_affected()).unwrap_or(0);
                }
                Ok(queued)
            }

            /// Queues the webhook of a case event (`case` is the view after it).
            pub(crate) async fn enqueue_case_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                case: &cityloop_domain::case::Case,
                event: &cityloop_domain::case::Event,
            ) -> Result<usize> {
                let event_id = format!("case:{}:{}", case.id, event.seq);
                let out = cityloop_domain::webhook::case_event(case, event, &event_id);
                let general = enqueue_webhooks(tx, Some(case.id), &event_id, &out, event.at).await?;
                // The 12345 platform's call of the same event (签收, 退回, 办结), if any.
                Ok(general + super::enqueue_hotline_event(tx, case, event).await?)
            }

            /// Queues the webhook of an escalation, reading the case inside the transaction.
            pub(crate) async fn enqueue_escalation(
                tx: &mut sqlx::Transaction<'_, $db>,
                case_id: CaseId,
                clock_key: &str,
                level: &str,
                now: DateTime<Utc>,
            ) -> Result<usize> {
                use cityloop_domain::escalation::Level;
                let level = match level {
                    "yellow" => Level::Yellow,
                    "red" => Level::Red,
                    _ => return Ok(0),
                };
                let row = sqlx::query("SELECT view, deadline FROM cases WHERE id = $1")
                    .bind(case_id.to_string())
                    .fetch_one(&mut **tx)
                    .await?;
                let view: String = row.try_get("view")?;
                let case: cityloop_domain::case::Case = serde_json::from_str(&view)?;
                let deadline: Option<DateTime<Utc>> = row.try_get("deadline")?;
                let event_id = format!("escalation:{case_id}:{clock_key}:{}", level.as_str());
                let out = cityloop_domain::webhook::escalation_event(
                    &case, level, clock_key, deadline, now, &event_id,
                );
                enqueue_webhooks(tx, Some(case_id), &event_id, &out, now).await
            }

            #[async_trait]
            impl WebhookStore for $store {
                async fn get_webhook(&self, id: Uuid) -> Result<WebhookSubscription> {
                    let row = sqlx::query(
                        "SELECT * FROM webhook_subscriptions WHERE id = $1 AND deleted_at IS NULL",
                    )
                    .bind(id.to_string())
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
                    decode_sub(&row)
                }

                async fn list_webhooks(&self) -> Result<Vec<WebhookSubscription>> {
                    let rows = sqlx::query(
                        "SELECT * FROM webhook_subscriptions WHERE deleted_at IS NULL
                         ORDER BY created_at, id",
                    )
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode_sub).collect()
                }

                async fn claim_webhook_deliveries(
                    &self,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<DueDelivery>> {
                    let mut tx = self.writer.begin().await?;
                    let rows = sqlx::query(&format!(
                        "SELECT {DELIVERY_COLS}, s.url AS url, s.secret AS secret
                         FROM webhook_deliveries d
                         JOIN webhook_subscriptions s ON s.id = d.subscription_id
                         WHERE d.status = $1 AND d.next_attempt_at <= $2
                           AND (d.lease_until IS NULL OR d.lease_until < $2)
                           AND s.active = $3 AND s.deleted_at IS NULL
                         ORDER BY d.next_attempt_at, d.id LIMIT $4"
                    ))
                    .bind(status::PENDING)
                    .bind(now)
                    .bind(true)
                    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let delivery = decode_delivery(r)?;
                        let claimed = sqlx::query(
                            "UPDATE webhook_deliveries SET lease_until = $1
                             WHERE id = $2 AND status = $3
                               AND (lease_until IS NULL OR lease_until < $4)",
                        )
                        .bind(lease_until)
                        .bind(delivery.id.to_string())
                        .bind(status::PENDING)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        if claimed.rows_affected() == 1 {
                            out.push(DueDelivery {
                                delivery,
                                url: r.try_get("url")?,
                                secret: r.try_get("secret")?,
                            });
                        }
                    }
                    tx.commit().await?;
                    Ok(out)
                }

                async fn finish_webhook_attempt(
                    &self,
                    a: &WebhookAttempt,
                    outcome: AttemptOutcome,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    sqlx::query(
                        "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(a.delivery_id.to_string())
                    .bind(a.attempt)
                    .bind(a.at)
                    .bind(a.status_code)
                    .bind(a.error.as_deref())
                    .bind(a.duration_ms)
                    .execute(&mut *tx)
                    .await?;
                    let (st, failed, next) = match outcome {
                        AttemptOutcome::Delivered => (status::DELIVERED, 0_i64, None),
                        AttemptOutcome::Retry(at) => (status::PENDING, 1, Some(at)),
                        AttemptOutcome::Dead => (status::DEAD, 1, None),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, failures = failures + $2,
                           attempts = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                           lease_until = NULL, updated_at = $5, last_error = $6
                         WHERE id = $7",
                    )
                    .bind(st)
                    .bind(failed)
                    .bind(a.attempt)
                    .bind(next)
                    .bind(a.at)
                    .bind(a.error.as_deref())
                    .bind(a.delivery_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn webhook_deliveries(
                    &self,
                    subscription: Uuid,
                    st: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<WebhookDelivery>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries d
                         WHERE d.subscription_id = $1 AND ($2 = '' OR d.status = $2)
                         ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
                    ))
                    .bind(subscription.to_string())
                    .bind(st.unwrap_or(""))
                    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode_delivery).collect()
                }

                async fn webhook_attempts(&self, delivery: Uuid) -> Result<Vec<WebhookAttempt>> {
                    let rows = sqlx::query(
                        "SELECT delivery_id, attempt, at, status_code, error, duration_ms
                         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
                    )
                    .bind(delivery.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(WebhookAttempt {
                                delivery_id: uuid_of(r, "delivery_id")?,
                                attempt: r.try_get("attempt")?,
                                at: r.try_get("at")?,
                                status_code: r.try_get("status_code")?,
                                error: r.try_get("error")?,
                                duration_ms: r.try_get("duration_ms")?,
                            })
                        })
                        .collect()
                }

                async fn redeliver_webhook(
                    &self,
                    subscription: Uuid,
                    delivery: Uuid,
                    now: DateTime<Utc>,
                ) -> Result<WebhookDelivery> {
                    let mut tx = self.writer.begin().await?;
                    let row = sqlx::query(&format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries d
                         WHERE d.id = $1 AND d.subscription_id = $2"
                    ))
                    .bind(delivery.to_string())
                    .bind(subscription.to_string())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("delivery {delivery}")))?;
                    let d = decode_delivery(&row)?;
                    if d.status != status::DEAD {
                        return Err(StoreError::Conflict(format!(
                            "delivery {delivery} is {}; only a dead letter can be redelivered",
                            d.status
                        )));
                    }
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, failures = 0, next_attempt_at = $2,
                           lease_until = NULL, updated_at = $2
                         WHERE id = $3",
                    )
                    .bind(status::PENDING)
                    .bind(now)
                    .bind(delivery.to_string())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(WebhookDelivery {
                        status: status::PENDING.into(),
                        failures: 0,
                        next_attempt_at: now,
                        updated_at: now,
                        ..d
                    })
                }
            }
        }
        use webhook_sql::{enqueue_case_event, enqueue_escalation};
    };
}

pub(crate) use sql_webhooks;
