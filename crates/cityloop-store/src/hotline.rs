//! Storage of the 12345 bridge: one row per platform work order (工单号 → case, the latest
//! copy and its fingerprint, the platform's deadline, the operator's flags) and the
//! bridge's log (received, updated, urged, withdrawn, supplemented, progress).
//!
//! Outbound calls to the platform are webhook deliveries (`hotline.*` event types) in the
//! one webhook outbox: a case event's call is queued by the `WebhookOutbox` projection
//! (`enqueue_hotline_event`, called from `enqueue_case_event`), and a staff interim reply
//! (阶段答复) writes its log row and its delivery in one transaction
//! ([`HotlineStore::hotline_progress`]).
//!
//! [`HotlineStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_hotline!` from one body of portable SQL (migration 0018).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::ids::CaseId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::webhooks::WebhookDelivery;
use crate::Result;

/// The setting that holds the bridge's configuration (`cityloop_domain::hotline::HotlineSettings`).
pub const SETTING: &str = "hotline";

/// A work order as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotlineOrderRow {
    pub ticket_no: String,
    pub case_id: CaseId,
    pub fingerprint: String,
    /// The latest copy (`cityloop_domain::hotline::Order` as JSON).
    pub body: serde_json::Value,
    pub platform_deadline: Option<DateTime<Utc>>,
    /// False: the 诉求类型 was not in the district's table; the operator categorises.
    pub category_mapped: bool,
    /// False: no coordinates and no geocoder match; placed at the intake point.
    pub placed: bool,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of the bridge's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotlineLogEntry {
    pub id: Uuid,
    pub ticket_no: String,
    /// `received`, `updated`, `urged`, `withdrawn`, `supplemented`, `progress`.
    pub kind: String,
    pub body: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Bridge storage. Every `Store` is one.
#[async_trait]
pub trait HotlineStore: Send + Sync {
    async fn hotline_order(&self, ticket_no: &str) -> Result<Option<HotlineOrderRow>>;
    async fn hotline_order_of_case(&self, case: CaseId) -> Result<Option<HotlineOrderRow>>;
    /// The case of a 工单号 (source `hotline_12345`, the unique external ref).
    async fn hotline_case_by_ticket(&self, ticket_no: &str) -> Result<Option<CaseId>>;
    /// Links a new order to its case with its first log line, in one transaction.
    /// False (nothing written) when the order is already linked.
    async fn link_hotline_order(
        &self,
        row: &HotlineOrderRow,
        log: &HotlineLogEntry,
    ) -> Result<bool>;
    /// Stores a changed copy (or a withdrawal) with its log line, in one transaction.
    async fn update_hotline_order(
        &self,
        row: &HotlineOrderRow,
        log: &HotlineLogEntry,
    ) -> Result<()>;
    /// Appends a log line (urged, supplemented).
    async fn append_hotline_log(&self, log: &HotlineLogEntry) -> Result<()>;
    /// A staff interim reply: its log line and its `hotline.progress` delivery to every
    /// subscription that asked for it, in one transaction. Returns the deliveries queued.
    async fn hotline_progress(
        &self,
        log: &HotlineLogEntry,
        case: CaseId,
        payload: &serde_json::Value,
    ) -> Result<usize>;
    /// The order's log, oldest first.
    async fn hotline_log(&self, ticket_no: &str) -> Result<Vec<HotlineLogEntry>>;
    /// Every `hotline.*` delivery of a case, oldest first (the case timeline's outbound calls).
    async fn hotline_deliveries(&self, case: CaseId) -> Result<Vec<WebhookDelivery>>;
}

macro_rules! sql_hotline {
    ($store:ty, $db:ty) => {
        mod hotline_sql {
            use async_trait::async_trait;
            use cityloop_domain::ids::CaseId;
            use sqlx::Row;
            use uuid::Uuid;

            use crate::hotline::{HotlineLogEntry, HotlineOrderRow, HotlineStore};
            use crate::webhooks::WebhookDelivery;
            use crate::{Result, StoreError};
            #[allow(unused_imports)]
            use super::*;

            fn corrupt(e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(e.to_string())
            }

            fn decode_order(r: &<$db as sqlx::Database>::Row) -> Result<HotlineOrderRow> {
                let case: String = r.try_get("case_id")?;
                let body: String = r.try_get("body")?;
                Ok(HotlineOrderRow {
                    ticket_no: r.try_get("ticket_no")?,
                    case_id: CaseId::parse(&case).map_err(corrupt)?,
                    fingerprint: r.try_get("fingerprint")?,
                    body: serde_json::from_str(&body)?,
                    platform_deadline: r.try_get("platform_deadline")?,
                    category_mapped: r.try_get("category_mapped")?,
                    placed: r.try_get("placed")?,
                    withdrawn_at: r.try_get("withdrawn_at")?,
                    received_at: r.try_get("received_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            async fn insert_log(
                tx: &mut sqlx::Transaction<'_, $db>,
                l: &HotlineLogEntry,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO hotline_log (id, ticket_no, kind, body, at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(l.id.to_string())
                .bind(&l.ticket_no)
                .bind(&l.kind)
                .bind(l.body.to_string())
                .bind(l.at)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// The 12345 call a case event causes (签收, 退回, 办结), queued in the event's
            /// transaction, shaped by the district's setting. Returns the deliveries queued.
            pub(crate) async fn enqueue_hotline_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                case: &cityloop_domain::case::Case,
                event: &cityloop_domain::case::Event,
            ) -> Result<usize> {
                use cityloop_domain::case::EventKind;
                use cityloop_domain::workflow::Action;
                if case.source != cityloop_domain::model::Source::Hotline12345 {
                    return Ok(0);
                }
                // The close needs the photos of the last report-back, earlier in history.
                let mut history = Vec::new();
                if event.kind == EventKind::Act(Action::Close) {
                    let row = sqlx::query(
                        "SELECT body FROM case_events WHERE case_id = $1 AND kind = $2
                         ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(case.id.to_string())
                    .bind(Action::ReportBack.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let Some(r) = row {
                        let body: String = r.try_get("body")?;
                        history.push(serde_json::from_str(&body)?);
                    }
                }
                let Some((t, fields)) =
                    cityloop_domain::hotline::outbound(case, event, &history)
                else {
                    return Ok(0);
                };
                let shape = sqlx::query("SELECT value FROM settings WHERE key = $1")
                    .bind(crate::hotline::SETTING)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| r.try_get::<String, _>("value"))
                    .transpose()?
                    .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
                    .and_then(|v| v.get("shapes").and_then(|s| s.get(t.as_str())).cloned());
                let out = cityloop_domain::webhook::OutboxEvent {
                    event_type: t,
                    payload: cityloop_domain::hotline::body(shape.as_ref(), fields),
                };
                let event_id = format!("hotline:{}:{}", case.id, event.seq);
                super::webhook_sql::enqueue_webhooks(tx, Some(case.id), &event_id, &out, event.at)
                    .await
            }

            #[async_trait]
            impl HotlineStore for $store {
                async fn hotline_order(&self, ticket_no: &str) -> Result<Option<HotlineOrderRow>> {
                    sqlx::query("SELECT * FROM hotline_orders WHERE ticket_no = $1")
                        .bind(ticket_no)
                        .fetch_optional(&self.writer)
                        .await?
                        .as_ref()
                        .map(decode_order)
                        .transpose()
                }

                async fn hotline_order_of_case(
                    &self,
                    case: CaseId,
                ) -> Result<Option<HotlineOrderRow>> {
                    sqlx::query("SELECT * FROM hotline_orders WHERE case_id = $1")
                        .bind(case.to_string())
                        .fetch_optional(&self.reader)
                        .await?
                        .as_ref()
                        .map(decode_order)
                        .transpose()
                }

                async fn hotline_case_by_ticket(&self, ticket_no: &str) -> Result<Option<CaseId>> {
                    let row = sqlx::query(
                        "SELECT id FROM cases WHERE source = $1 AND external_ref = $2",
                    )
                    .bind(cityloop_domain::model::Source::Hotline12345.as_str())
                    .bind(ticket_no)
                    .fetch_optional(&self.writer)
                    .await?;
                    row.map(|r| {
                        let id: String = r.try_get("id")?;
                        CaseId::parse(&id).map_err(corrupt)
                    })
                    .transpose()
                }

                async fn link_hotline_order(
                    &self,
                    o: &HotlineOrderRow,
                    log: &HotlineLogEntry,
                ) -> Result<bool> {
                    let mut tx = self.writer.begin().await?;
                    let done = sqlx::query(
                        "INSERT INTO hotline_orders (ticket_no, case_id, fingerprint, body,
                           platform_deadline, category_mapped, placed, withdrawn_at, received_at,
                           updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&o.ticket_no)
                    .bind(o.case_id.to_string())
                    .bind(&o.fingerprint)
                    .bind(o.body.to_string())
                    .bind(o.platform_deadline)
                    .bind(o.category_mapped)
                    .bind(o.placed)
                    .bind(o.withdrawn_at)
                    .bind(o.received_at)
                    .bind(o.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_log(&mut tx, log).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn update_hotline_order(
                    &self,
                    o: &HotlineOrderRow,
                    log: &HotlineLogEntry,
                ) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    let done = sqlx::query(
                        "UPDATE hotline_orders SET fingerprint = $1, body = $2,
                           platform_deadline = $3, category_mapped = $4, placed = $5,
                           withdrawn_at = $6, updated_at = $7
                         WHERE ticket_no = $8",
                    )
                    .bind(&o.fingerprint)
                    .bind(o.body.to_string())
                    .bind(o.platform_deadline)
                    .bind(o.category_mapped)
                    .bind(o.placed)
                    .bind(o.withdrawn_at)
                    .bind(o.updated_at)
                    .bind(&o.ticket_no)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!("work order {}", o.ticket_no)));
                    }
                    insert_log(&mut tx, log).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn append_hotline_log(&self, log: &HotlineLogEntry) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    insert_log(&mut tx, log).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn hotline_progress(
                    &self,
                    log: &HotlineLogEntry,
                    case: CaseId,
                    payload: &serde_json::Value,
                ) -> Result<usize> {
                    let mut tx = self.writer.begin().await?;
                    insert_log(&mut tx, log).await?;
                    let out = cityloop_domain::webhook::OutboxEvent {
                        event_type: cityloop_domain::webhook::EventType::HotlineProgress,
                        payload: payload.clone(),
                    };
                    let event_id = format!("hotline:{case}:progress:{}", log.id);
                    let n = super::webhook_sql::enqueue_webhooks(
                        &mut tx,
                        Some(case),
                        &event_id,
                        &out,
                        log.at,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(n)
                }

                async fn hotline_log(&self, ticket_no: &str) -> Result<Vec<HotlineLogEntry>> {
                    let rows = sqlx::query(
                        "SELECT id, ticket_no, kind, body, at FROM hotline_log
                         WHERE ticket_no = $1 ORDER BY at, id",
                    )
                    .bind(ticket_no)
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let id: String = r.try_get("id")?;
                            let body: String = r.try_get("body")?;
                            Ok(HotlineLogEntry {
                                id: Uuid::parse_str(&id).map_err(corrupt)?,
                                ticket_no: r.try_get("ticket_no")?,
                                kind: r.try_get("kind")?,
                                body: serde_json::from_str(&body)?,
                                at: r.try_get("at")?,
                            })
                        })
                        .collect()
                }

                async fn hotline_deliveries(&self, case: CaseId) -> Result<Vec<WebhookDelivery>> {
                    use super::webhook_sql::{decode_delivery, DELIVERY_COLS};
                    let rows = sqlx::query(&format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries d
                         WHERE d.case_id = $1 AND d.event_type LIKE 'hotline.%'
                         ORDER BY d.created_at, d.id LIMIT $2"
                    ))
                    .bind(case.to_string())
                    .bind(i64::from(crate::MAX_PAGE))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(decode_delivery).collect()
                }
            }
        }
        use hotline_sql::enqueue_hotline_event;
    };
}

pub(crate) use sql_hotline;
