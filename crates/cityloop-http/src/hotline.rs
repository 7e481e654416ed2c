//! The 12345 bridge over HTTP: the platform's signed calls (`/api/v1/hotline/orders`:
//! push a work order, 催办, 撤单, 补充材料), the admin's bridge settings
//! (`/api/v1/admin/hotline`), and staff's view of a hotline case with its interim reply
//! (`/api/v1/cases/{id}/hotline`). The platform signs like webhooks do (see
//! docs/API-DESIGN.md, "12345 bridge"); a call is refused before its body is read as JSON
//! unless the signature over the raw body holds.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_domain::hotline::{HotlineSettings, MAX_BODY_BYTES};
use cityloop_service::hotline::{FollowUp, OrderOutcome};
use cityloop_service::webhooks::headers;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_json, ApiJson, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hotline/orders", post(hotline_receive))
        .route("/api/v1/hotline/orders/{ticket}/urge", post(hotline_urge))
        .route(
            "/api/v1/hotline/orders/{ticket}/withdraw",
            post(hotline_withdraw),
        )
        .route(
            "/api/v1/hotline/orders/{ticket}/supplement",
            post(hotline_supplement),
        )
        .route(
            "/api/v1/admin/hotline",
            get(hotline_read_settings).put(hotline_put_settings),
        )
        .route("/api/v1/cases/{id}/hotline", get(hotline_case_view))
        .route(
            "/api/v1/cases/{id}/hotline/progress",
            post(hotline_progress),
        )
}

/// The answer to a pushed work order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderAnswer {
    pub ticket_no: String,
    /// `created` (201), `repeated` or `updated` (200).
    pub outcome: OrderOutcome,
    pub case_id: String,
    pub case_number: String,
    pub state: String,
    /// False: the 诉求类型 is not in the district's table; the operator categorises.
    pub category_mapped: bool,
    /// False: placed at the district's intake point (no coordinates, no address match).
    pub placed: bool,
    /// The platform's own deadline (natural days, end of the local day).
    pub platform_deadline: Option<DateTime<Utc>>,
    /// The fields a changed copy changed.
    pub changed: Vec<String>,
}

/// The answer to a follow-up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpAnswer {
    pub ticket_no: String,
    pub case_id: String,
    pub state: String,
    /// 撤单: whether the case was voided (false once it is past the states a void starts from).
    pub voided: bool,
}

/// One line of the bridge's log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogDto {
    /// `received`, `updated`, `urged`, `withdrawn`, `supplemented`, `progress`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub body: Value,
    pub at: DateTime<Utc>,
}

/// One outbound call to the platform and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboundDto {
    pub id: String,
    /// `hotline.signed`, `hotline.returned`, `hotline.progress`, `hotline.closed`.
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signed body, as sent.
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// A hotline case as the bridge sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HotlineCaseDto {
    pub ticket_no: String,
    pub platform_deadline: Option<DateTime<Utc>>,
    pub category_mapped: bool,
    pub placed: bool,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The latest copy of the work order.
    #[schema(value_type = Object)]
    pub order: Value,
    pub log: Vec<LogDto>,
    pub outbound: Vec<OutboundDto>,
}

/// An interim reply (阶段答复).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressRequest {
    /// 1 to 4000 characters.
    pub text: String,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the signature, then reads the body as JSON.
async fn signed(
    st: &AppState,
    h: &HeaderMap,
    body: &Bytes,
) -> Result<(HotlineSettings, Value), ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("a 12345 call's body is at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let settings = st
        .svc
        .hotline_authenticate(
            header(h, headers::TIMESTAMP),
            header(h, headers::SIGNATURE),
            body,
        )
        .await?;
    let value: Value = parse_json(body)?;
    Ok((settings, value))
}

#[utoipa::path(post, path = "/api/v1/hotline/orders", tag = "hotline",
    params(("X-Cityloop-Timestamp" = String, Header, description = "Unix seconds, within 300 s of the server's clock"),
           ("X-Cityloop-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of `<timestamp>.<raw body>` with the bridge's shared secret>")),
    request_body(content = Object, description = "A work order: ticket_no, call_time and content required; caller, callback_phone, kind, address, lon+lat, deadline_days, urgency"),
    responses((status = 201, description = "A new case", body = OrderAnswer),
              (status = 200, description = "The same order again (`repeated`) or a changed copy (`updated`): the same case", body = OrderAnswer),
              (status = 400, description = "Malformed JSON", body = ErrorBody),
              (status = 401, description = "Unsigned, badly signed, out of the clock window, or the bridge has no inbound secret yet", body = ErrorBody),
              (status = 413, description = "Body over 64 KiB", body = ErrorBody),
              (status = 422, description = "A field is missing or invalid, named in `field`; nothing was written", body = ErrorBody),
              (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub(crate) async fn hotline_receive(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<OrderAnswer>), ApiError> {
    let (settings, value) = signed(&st, &h, &body).await?;
    let r = st.svc.hotline_receive(&settings, &value).await?;
    let status = if r.outcome == OrderOutcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(OrderAnswer {
            ticket_no: r.order.ticket_no,
            outcome: r.outcome,
            case_id: r.case.id.to_string(),
            case_number: r.case.number.as_str().to_owned(),
            state: r.case.state.as_str().to_owned(),
            category_mapped: r.order.category_mapped,
            placed: r.order.placed,
            platform_deadline: r.order.platform_deadline,
            changed: r.changed.into_iter().map(str::to_owned).collect(),
        }),
    ))
}

async fn follow_up(
    st: AppState,
    h: HeaderMap,
    ticket: String,
    body: Bytes,
    kind: FollowUp,
) -> Result<Json<FollowUpAnswer>, ApiError> {
    let (_, value) = signed(&st, &h, &body).await?;
    let done = st.svc.hotline_follow_up(&ticket, kind, &value).await?;
    Ok(Json(FollowUpAnswer {
        ticket_no: ticket,
        case_id: done.case.id.to_string(),
        state: done.case.state.as_str().to_owned(),
        voided: done.voided,
    }))
}

#[utoipa::path(post, path = "/api/v1/hotline/orders/{ticket}/urge", tag = "hotline",
    params(("ticket" = String, Path, description = "工单号"),
           ("X-Cityloop-Timestamp" = String, Header, description = "Unix seconds"),
           ("X-Cityloop-Signature" = String, Header, description = "sha256=<hex>")),
    request_body(content = Object, description = "催办: `{\"text\": …}` (optional)"),
    responses((status = 200, body = FollowUpAnswer), (status = 401, body = ErrorBody), (status = 404, description = "Unknown 工单号", body = ErrorBody),
              (status = 422, description = "A bad field, named in `field`", body = ErrorBody)))]
pub(crate) async fn hotline_urge(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(ticket): Path<String>,
    body: Bytes,
) -> Result<Json<FollowUpAnswer>, ApiError> {
    follow_up(st, h, ticket, body, FollowUp::Urge).await
}

#[utoipa::path(post, path = "/api/v1/hotline/orders/{ticket}/withdraw", tag = "hotline",
    params(("ticket" = String, Path, description = "工单号"),
           ("X-Cityloop-Timestamp" = String, Header, description = "Unix seconds"),
           ("X-Cityloop-Signature" = String, Header, description = "sha256=<hex>")),
    request_body(content = Object, description = "撤单: `{\"reason\": …}` (optional). Voids the case where the workflow allows a void; a repeat changes nothing"),
    responses((status = 200, body = FollowUpAnswer), (status = 401, body = ErrorBody), (status = 404, description = "Unknown 工单号", body = ErrorBody),
              (status = 422, description = "A bad field, named in `field`", body = ErrorBody)))]
pub(crate) async fn hotline_withdraw(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(ticket): Path<String>,
    body: Bytes,
) -> Result<Json<FollowUpAnswer>, ApiError> {
    follow_up(st, h, ticket, body, FollowUp::Withdraw).await
}

#[utoipa::path(post, path = "/api/v1/hotline/orders/{ticket}/supplement", tag = "hotline",
    params(("ticket" = String, Path, description = "工单号"),
           ("X-Cityloop-Timestamp" = String, Header, description = "Unix seconds"),
           ("X-Cityloop-Signature" = String, Header, description = "sha256=<hex>")),
    request_body(content = Object, description = "补充材料: `{\"text\": …}` (required)"),
    responses((status = 200, body = FollowUpAnswer), (status = 401, body = ErrorBody), (status = 404, description = "Unknown 工单号", body = ErrorBody),
              (status = 422, description = "A bad field, named in `field`", body = ErrorBody)))]
pub(crate) async fn hotline_supplement(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(ticket): Path<String>,
    body: Bytes,
) -> Result<Json<FollowUpAnswer>, ApiError> {
    follow_up(st, h, ticket, body, FollowUp::Supplement).await
}

#[utoipa::path(get, path = "/api/v1/admin/hotline", security(("bearer" = [])), tag = "hotline",
    responses((status = 200, description = "The bridge's settings (the secret blank), or null before they are set", body = Option<HotlineSettings>),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn hotline_read_settings(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Option<HotlineSettings>>, ApiError> {
    Ok(Json(st.svc.admin_hotline_settings(&staff.person).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/hotline", security(("bearer" = [])), tag = "hotline", request_body = HotlineSettings,
    responses((status = 204, description = "Stored (audited)"), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A bad field, named in `field` (a category not in the district's list, a shape naming an unknown field)", body = ErrorBody)))]
pub(crate) async fn hotline_put_settings(
    State(st): State<AppState>,
    staff: Staff,
    ApiJson(s): ApiJson<HotlineSettings>,
) -> Result<StatusCode, ApiError> {
    st.svc.put_hotline_settings(&staff.person, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn case_id(s: &str) -> Result<cityloop_domain::ids::CaseId, ApiError> {
    cityloop_domain::ids::CaseId::parse(s)
        .map_err(|_| ApiError::not_found(format!("case {s:?} not found")))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/hotline", security(("bearer" = [])), tag = "hotline",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The work order, the bridge's log and every call to the platform with its delivery status", body = HotlineCaseDto),
              (status = 401, body = ErrorBody), (status = 403, description = "Outside the reader's scope", body = ErrorBody), (status = 404, description = "No such case, or not a 12345 case", body = ErrorBody)))]
pub(crate) async fn hotline_case_view(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<HotlineCaseDto>, ApiError> {
    let v = st.svc.hotline_case(&staff.actor, case_id(&id)?).await?;
    Ok(Json(HotlineCaseDto {
        ticket_no: v.order.ticket_no,
        platform_deadline: v.order.platform_deadline,
        category_mapped: v.order.category_mapped,
        placed: v.order.placed,
        withdrawn_at: v.order.withdrawn_at,
        received_at: v.order.received_at,
        order: v.order.body,
        log: v
            .log
            .into_iter()
            .map(|l| LogDto {
                kind: l.kind,
                body: l.body,
                at: l.at,
            })
            .collect(),
        outbound: v
            .deliveries
            .into_iter()
            .map(|d| OutboundDto {
                payload: serde_json::from_str(&d.payload).unwrap_or(Value::String(d.payload)),
                id: d.id.to_string(),
                event_type: d.event_type,
                status: d.status,
                attempts: d.attempts,
                last_error: d.last_error,
                created_at: d.created_at,
                updated_at: d.updated_at,
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/hotline/progress", security(("bearer" = [])), tag = "hotline", request_body = ProgressRequest,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 202, description = "Logged and queued to the platform (hotline.progress)", body = LogDto),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "The case is closed or voided", body = ErrorBody), (status = 422, description = "`text` empty or too long", body = ErrorBody)))]
pub(crate) async fn hotline_progress(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ProgressRequest>,
) -> Result<(StatusCode, Json<LogDto>), ApiError> {
    let l = st
        .svc
        .hotline_progress(&staff.actor, case_id(&id)?, &req.text)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(LogDto {
            kind: l.kind,
            body: l.body,
            at: l.at,
        }),
    ))
}
