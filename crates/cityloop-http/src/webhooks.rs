//! Admin endpoints for outgoing webhooks (`/api/v1/admin/webhooks`): subscriptions CRUD,
//! the delivery log with every attempt and dead letter, and manual redelivery. Admin role
//! only (403 otherwise). The secret is write-only: no response ever contains it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_service::webhooks::{DeliveryRecord, WebhookInput};
use cityloop_store::{WebhookAttempt, WebhookSubscription};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

/// Default and largest page of the delivery log.
pub const DEFAULT_DELIVERIES: u32 = 50;
pub const MAX_DELIVERIES: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/webhooks", get(list).post(create))
        .route(
            "/api/v1/admin/webhooks/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/api/v1/admin/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/api/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(redeliver),
        )
}

/// `POST` and `PATCH` body. On `PATCH` every field is optional.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub active: Option<bool>,
    pub description: Option<String>,
}

impl From<WebhookRequest> for WebhookInput {
    fn from(r: WebhookRequest) -> Self {
        WebhookInput {
            url: r.url,
            secret: r.secret,
            event_types: r.event_types,
            active: r.active,
            description: r.description,
        }
    }
}

/// A subscription as the API shows it (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub active: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookSubscription> for WebhookDto {
    fn from(s: WebhookSubscription) -> Self {
        WebhookDto {
            id: s.id,
            url: s.url,
            event_types: s.event_types,
            active: s.active,
            description: s.description,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// One delivery with its attempts; `status` is `pending`, `delivered` or `dead`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDto {
    pub id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub case_id: Option<String>,
    pub status: String,
    #[schema(value_type = Vec<AttemptDto>)]
    pub attempts: Vec<WebhookAttempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signed body, as sent.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<DeliveryRecord> for DeliveryDto {
    fn from(r: DeliveryRecord) -> Self {
        let d = r.delivery;
        let pending = d.status == cityloop_store::webhooks::status::PENDING;
        DeliveryDto {
            payload: serde_json::from_str(&d.payload).unwrap_or(Value::String(d.payload)),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            case_id: d.case_id.map(|c| c.to_string()),
            status: d.status,
            attempts: r.attempts,
            next_attempt_at: pending.then_some(d.next_attempt_at),
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One delivery attempt (schema of [`WebhookAttempt`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptDto {
    pub delivery_id: Uuid,
    /// 1, 2, … over the delivery's life.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<i64>,
    /// Why it failed: connection refused, timeout, a non-2xx status.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The answer to a redelivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedeliveryDto {
    pub id: Uuid,
    pub status: String,
    pub next_attempt_at: DateTime<Utc>,
}

fn webhook_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("webhook {s:?} not found")))
}

#[utoipa::path(get, path = "/api/v1/admin/webhooks", security(("bearer" = [])), tag = "webhooks",
    responses((status = 200, body = Vec<WebhookDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<WebhookDto>>, ApiError> {
    let subs = st.svc.list_webhooks(&staff.actor).await?;
    Ok(Json(subs.into_iter().map(WebhookDto::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/admin/webhooks", security(("bearer" = [])), tag = "webhooks", request_body = WebhookRequest,
    responses((status = 201, body = WebhookDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A field is missing or invalid (url, secret, event_types, description), named in `field`", body = ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    staff: Staff,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookDto>), ApiError> {
    let sub = st.svc.create_webhook(&staff.actor, req.into()).await?;
    Ok((StatusCode::CREATED, Json(sub.into())))
}

#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}", security(("bearer" = [])), tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = WebhookDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn read(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<WebhookDto>, ApiError> {
    let sub = st.svc.get_webhook(&staff.actor, webhook_id(&id)?).await?;
    Ok(Json(sub.into()))
}

#[utoipa::path(patch, path = "/api/v1/admin/webhooks/{id}", security(("bearer" = [])), tag = "webhooks", request_body = WebhookRequest,
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = WebhookDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "A field is invalid, named in `field`", body = ErrorBody)))]
pub(crate) async fn update(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> Result<Json<WebhookDto>, ApiError> {
    let sub = st
        .svc
        .update_webhook(&staff.actor, webhook_id(&id)?, req.into())
        .await?;
    Ok(Json(sub.into()))
}

#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", security(("bearer" = [])), tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted; pending deliveries are not sent, history is kept"), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.svc
        .delete_webhook(&staff.actor, webhook_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", security(("bearer" = [])), tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id"), DeliveriesQuery),
    responses((status = 200, description = "Deliveries, newest first, with every attempt; `status=dead` lists the dead letters", body = Vec<DeliveryDto>),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, description = "Bad `status` or `limit`", body = ErrorBody)))]
pub(crate) async fn deliveries(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryDto>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_DELIVERIES);
    if limit == 0 || limit > MAX_DELIVERIES {
        return Err(ApiError::field("limit", format!("1 to {MAX_DELIVERIES}")));
    }
    let records = st
        .svc
        .webhook_deliveries(&staff.actor, webhook_id(&id)?, q.status.as_deref(), limit)
        .await?;
    Ok(Json(records.into_iter().map(DeliveryDto::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver", security(("bearer" = [])), tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id"), ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued again with the same delivery id and a fresh retry schedule", body = RedeliveryDto),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Not a dead letter", body = ErrorBody)))]
pub(crate) async fn redeliver(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<RedeliveryDto>), ApiError> {
    let delivery = Uuid::parse_str(&delivery)
        .map_err(|_| ApiError::not_found(format!("delivery {delivery:?} not found")))?;
    let d = st
        .svc
        .redeliver_webhook(&staff.actor, webhook_id(&id)?, delivery)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RedeliveryDto {
            id: d.id,
            status: d.status,
            next_attempt_at: d.next_attempt_at,
        }),
    ))
}
