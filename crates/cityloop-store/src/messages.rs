//! Storage of messages to citizens: the message outbox and the one-time codes.
//!
//! The outbox has the webhook outbox's shape and statuses (`pending` → `delivered` or
//! `dead`, a lease while an attempt runs, failures counted against the same kind of
//! backoff schedule; see [`crate::webhooks`]) but its own rows: a message has a
//! recipient and a channel instead of a subscription. Case messages (the receipt, the
//! 回访 invitation) are written by the `Messages` projection of the write pipeline
//! (`enqueue_case_messages`, called from `common.rs`), so a committed event always has
//! them and a rolled-back one never does; a one-time code's message is written in the
//! transaction that stores the code's hash ([`MessageStore::issue_otp`]).
//!
//! [`MessageStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_messages!` from one body of portable SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::case::Case;
use cityloop_domain::ids::CaseId;
use cityloop_domain::message::otp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::webhooks::{status, AttemptOutcome};
use crate::Result;

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: Uuid,
    /// Unique: `case:<id>:<seq>:<purpose>:<channel>` or `otp:<uuid>`.
    pub dedupe_key: String,
    /// `receipt`, `callback`, `code` (`cityloop_domain::message::Purpose`).
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    pub recipient: String,
    pub case_id: Option<CaseId>,
    /// What the template is filled with that is not read from the case (the code, until
    /// the message is sent or dead; then emptied).
    pub params: serde_json::Value,
    /// The text as last sent (a code masked).
    pub body: Option<String>,
    pub status: String,
    pub failures: i64,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The provider of the last attempt (`log`, `http`, `smtp`).
    pub provider: Option<String>,
}

/// A new message, before it is stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub dedupe_key: String,
    pub purpose: String,
    pub channel: String,
    pub recipient: String,
    pub case_id: Option<CaseId>,
    pub params: serde_json::Value,
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct MessageAttempt {
    pub id: Uuid,
    /// The message's attempts after this one.
    pub attempts: i64,
    pub at: DateTime<Utc>,
    pub provider: String,
    pub body: String,
    pub error: Option<String>,
}

/// The outbox at a glance, for the admin notice and `/healthz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxHealth {
    pub pending: i64,
    /// Pending messages whose last attempt failed.
    pub failing: i64,
    /// Dead letters updated since the instant asked about.
    pub dead_recent: i64,
}

/// Message storage. Every `Store` is one.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Claims up to `limit` pending messages due at `now` until `lease_until`.
    async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    /// Records an attempt's outcome (a delivered or dead message's params are emptied).
    async fn finish_message(&self, a: &MessageAttempt, outcome: AttemptOutcome) -> Result<()>;
    /// Messages newest first, optionally of one status and one case.
    async fn list_messages(
        &self,
        status: Option<&str>,
        case: Option<CaseId>,
        limit: u32,
    ) -> Result<Vec<MessageRow>>;
    async fn outbox_health(&self, dead_since: DateTime<Utc>) -> Result<OutboxHealth>;
    /// Puts a dead message back in the queue, due at `now`.
    async fn resend_message(&self, id: Uuid, now: DateTime<Utc>) -> Result<MessageRow>;
    /// A phone's code state (keyed by its digits).
    async fn otp_state(&self, phone: &str) -> Result<Option<otp::State>>;
    /// Stores a phone's new code state and queues its message, in one transaction.
    async fn issue_otp(
        &self,
        phone: &str,
        state: &otp::State,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Stores a phone's code state after a try.
    async fn save_otp(&self, phone: &str, state: &otp::State, now: DateTime<Utc>) -> Result<()>;
    /// Cases whose reporter phone's digits end with `reversed` read backwards (the
    /// search index's key), newest first; the caller checks the whole number.
    async fn cases_by_phone_key(&self, reversed: &str, limit: u32) -> Result<Vec<Case>>;
}

macro_rules! sql_messages {
    ($store:ty, $db:ty) => {
        mod message_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use cityloop_domain::case::Case;
            use cityloop_domain::ids::CaseId;
            use cityloop_domain::message::otp;
            use sqlx::Row;
            use uuid::Uuid;

            use crate::messages::{
                status, AttemptOutcome, MessageAttempt, MessageRow, MessageStore, NewMessage,
                OutboxHealth,
            };
            use crate::{Result, StoreError, MAX_PAGE};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            const COLS: &str = "id, dedupe_key, purpose, channel, recipient, case_id, params,
                body, status, failures, attempts, next_attempt_at, created_at, updated_at,
                last_error, provider";

            fn decode(row: &<$db as sqlx::Database>::Row) -> Result<MessageRow> {
                let id: String = row.try_get("id")?;
                let case_id: Option<String> = row.try_get("case_id")?;
                let params: String = row.try_get("params")?;
                Ok(MessageRow {
                    id: Uuid::parse_str(&id).map_err(corrupt)?,
                    dedupe_key: row.try_get("dedupe_key")?,
                    purpose: row.try_get("purpose")?,
                    channel: row.try_get("channel")?,
                    recipient: row.try_get("recipient")?,
                    case_id: case_id.map(|c| CaseId::parse(&c)).transpose().map_err(corrupt)?,
                    params: serde_json::from_str(&params)?,
                    body: row.try_get("body")?,
                    status: row.try_get("status")?,
                    failures: row.try_get("failures")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    last_error: row.try_get("last_error")?,
                    provider: row.try_get("provider")?,
                })
            }

            async fn insert_message(
                tx: &mut sqlx::Transaction<'_, $db>,
                m: &NewMessage,
                now: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO messages (id, dedupe_key, purpose, channel, recipient, case_id,
                       params, body, status, failures, attempts, next_attempt_at, lease_until,
                       created_at, updated_at, last_error, provider)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, 0, 0, $9, NULL, $9, $9, NULL, NULL)
                     ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(Uuid::now_v7().to_string())
                .bind(&m.dedupe_key)
                .bind(&m.purpose)
                .bind(&m.channel)
                .bind(&m.recipient)
                .bind(m.case_id.map(|c| c.to_string()))
                .bind(m.params.to_string())
                .bind(status::PENDING)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// The `Messages` projection: queues the messages `event` causes (`case` is the
            /// view after it), inside the caller's transaction.
            pub(crate) async fn enqueue_case_messages(
                tx: &mut sqlx::Transaction<'_, $db>,
                case: &Case,
                event: &cityloop_domain::case::Event,
            ) -> Result<()> {
                for intent in cityloop_domain::message::intents(case, event) {
                    let m = NewMessage {
                        dedupe_key: intent.key,
                        purpose: intent.purpose.as_str().to_owned(),
                        channel: intent.channel.as_str().to_owned(),
                        recipient: intent.recipient,
                        case_id: Some(case.id),
                        params: serde_json::json!({}),
                    };
                    insert_message(tx, &m, event.at).await?;
                }
                Ok(())
            }

            async fn put_otp(
                tx: &mut sqlx::Transaction<'_, $db>,
                phone: &str,
                s: &otp::State,
                now: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO otp_codes (phone, code_hash, expires_at, wrong, locked_until, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash,
                       expires_at = excluded.expires_at, wrong = excluded.wrong,
                       locked_until = excluded.locked_until, updated_at = excluded.updated_at",
                )
                .bind(phone)
                .bind(s.code_hash.as_deref())
                .bind(s.expires_at)
                .bind(s.wrong)
                .bind(s.locked_until)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            #[async_trait]
            impl MessageStore for $store {
                async fn claim_messages(
                    &self,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                    limit: u32,
                ) -> Result<Vec<MessageRow>> {
                    let mut tx = self.writer.begin().await?;
                    let rows = sqlx::query(&format!(
                        "SELECT {COLS} FROM messages
                         WHERE status = $1 AND next_attempt_at <= $2
                           AND (lease_until IS NULL OR lease_until < $2)
                         ORDER BY next_attempt_at, id LIMIT $3"
                    ))
                    .bind(status::PENDING)
                    .bind(now)
                    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let m = decode(r)?;
                        let claimed = sqlx::query(
                            "UPDATE messages SET lease_until = $1
                             WHERE id = $2 AND status = $3
                               AND (lease_until IS NULL OR lease_until < $4)",
                        )
                        .bind(lease_until)
                        .bind(m.id.to_string())
                        .bind(status::PENDING)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        if claimed.rows_affected() == 1 {
                            out.push(m);
                        }
                    }
                    tx.commit().await?;
                    Ok(out)
                }

                async fn finish_message(
                    &self,
                    a: &MessageAttempt,
                    outcome: AttemptOutcome,
                ) -> Result<()> {
                    let (st, failed, next) = match outcome {
                        AttemptOutcome::Delivered => (status::DELIVERED, 0_i64, None),
                        AttemptOutcome::Retry(at) => (status::PENDING, 1, Some(at)),
                        AttemptOutcome::Dead => (status::DEAD, 1, None),
                    };
                    // A code is kept only while it may still be sent.
                    let keep_params = matches!(outcome, AttemptOutcome::Retry(_));
                    sqlx::query(
                        "UPDATE messages SET status = $1, failures = failures + $2,
                           attempts = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                           lease_until = NULL, updated_at = $5, last_error = $6, body = $7,
                           provider = $8,
                           params = CASE WHEN $9 THEN params ELSE '{}' END
                         WHERE id = $10",
                    )
                    .bind(st)
                    .bind(failed)
                    .bind(a.attempts)
                    .bind(next)
                    .bind(a.at)
                    .bind(a.error.as_deref())
                    .bind(&a.body)
                    .bind(&a.provider)
                    .bind(keep_params)
                    .bind(a.id.to_string())
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn list_messages(
                    &self,
                    st: Option<&str>,
                    case: Option<CaseId>,
                    limit: u32,
                ) -> Result<Vec<MessageRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {COLS} FROM messages
                         WHERE ($1 = '' OR status = $1) AND ($2 = '' OR case_id = $2)
                         ORDER BY created_at DESC, id DESC LIMIT $3"
                    ))
                    .bind(st.unwrap_or(""))
                    .bind(case.map(|c| c.to_string()).unwrap_or_default())
                    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode).collect()
                }

                async fn outbox_health(&self, dead_since: DateTime<Utc>) -> Result<OutboxHealth> {
                    let r = sqlx::query(
                        "SELECT
                           COALESCE(SUM(CASE WHEN status = $1 THEN 1 ELSE 0 END), 0) AS pending,
                           COALESCE(SUM(CASE WHEN status = $1 AND failures > 0 THEN 1 ELSE 0 END), 0) AS failing,
                           COALESCE(SUM(CASE WHEN status = $2 AND updated_at >= $3 THEN 1 ELSE 0 END), 0) AS dead
                         FROM messages WHERE status IN ($1, $2)",
                    )
                    .bind(status::PENDING)
                    .bind(status::DEAD)
                    .bind(dead_since)
                    .fetch_one(&self.reader)
                    .await?;
                    Ok(OutboxHealth {
                        pending: r.try_get("pending")?,
                        failing: r.try_get("failing")?,
                        dead_recent: r.try_get("dead")?,
                    })
                }

                async fn resend_message(&self, id: Uuid, now: DateTime<Utc>) -> Result<MessageRow> {
                    let mut tx = self.writer.begin().await?;
                    let row = sqlx::query(&format!("SELECT {COLS} FROM messages WHERE id = $1"))
                        .bind(id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
                    let m = decode(&row)?;
                    if m.status != status::DEAD {
                        return Err(StoreError::Conflict(format!(
                            "message {id} is {}; only a dead message can be sent again",
                            m.status
                        )));
                    }
                    if m.purpose == "code" {
                        return Err(StoreError::Conflict(format!(
                            "message {id} carried a one-time code, which is not kept; the citizen asks for a new one"
                        )));
                    }
                    sqlx::query(
                        "UPDATE messages SET status = $1, failures = 0, next_attempt_at = $2,
                           lease_until = NULL, updated_at = $2 WHERE id = $3",
                    )
                    .bind(status::PENDING)
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(MessageRow {
                        status: status::PENDING.into(),
                        failures: 0,
                        next_attempt_at: now,
                        updated_at: now,
                        ..m
                    })
                }

                async fn otp_state(&self, phone: &str) -> Result<Option<otp::State>> {
                    let row = sqlx::query(
                        "SELECT code_hash, expires_at, wrong, locked_until FROM otp_codes WHERE phone = $1",
                    )
                    .bind(phone)
                    .fetch_optional(&self.writer)
                    .await?;
                    row.map(|r| {
                        Ok(otp::State {
                            code_hash: r.try_get("code_hash")?,
                            expires_at: r.try_get("expires_at")?,
                            wrong: r.try_get("wrong")?,
                            locked_until: r.try_get("locked_until")?,
                        })
                    })
                    .transpose()
                }

                async fn issue_otp(
                    &self,
                    phone: &str,
                    state: &otp::State,
                    message: &NewMessage,
                    now: DateTime<Utc>,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    put_otp(&mut tx, phone, state, now).await?;
                    insert_message(&mut tx, message, now).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn save_otp(
                    &self,
                    phone: &str,
                    state: &otp::State,
                    now: DateTime<Utc>,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    put_otp(&mut tx, phone, state, now).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn cases_by_phone_key(&self, reversed: &str, limit: u32) -> Result<Vec<Case>> {
                    let rows = sqlx::query(
                        "SELECT c.view FROM case_search s JOIN cases c ON c.id = s.case_id
                         WHERE s.phone_rev >= $1 AND s.phone_rev < $2
                         ORDER BY c.created_at DESC, c.id DESC LIMIT $3",
                    )
                    .bind(reversed)
                    .bind(cityloop_domain::search::prefix_upper(reversed))
                    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let v: String = r.try_get("view")?;
                            Ok(serde_json::from_str(&v)?)
                        })
                        .collect()
                }
            }
        }
        use message_sql::enqueue_case_messages;
    };
}

pub(crate) use sql_messages;
