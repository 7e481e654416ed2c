//! Messages over HTTP (issue 16, items 3 and 6).
//!
//! Admin (`/api/v1/admin/messages`, admin role only, 403 otherwise): the channels and
//! templates (secrets write-only: a response says only whether one is set), the outbox
//! with each message's status, and sending a dead message again.
//!
//! Public ("我的反映", `/api/v1/public/my`): ask for a one-time code for a phone, then
//! list that phone's reports with it. Both answer in the page's language (`lang`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::admin::Admin;
use crate::client::ClientIp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;
use cityloop_service::messages::{CodeSent, MessageHealth, MyCase, OutboxEntry, SettingsInput};
use cityloop_service::open311::Lang;

/// Default and largest page of the outbox.
pub const DEFAULT_OUTBOX: u32 = 100;
pub const MAX_OUTBOX: u32 = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/messages/settings",
            get(get_settings).put(put_settings),
        )
        .route("/api/v1/admin/messages/outbox", get(outbox))
        .route("/api/v1/admin/messages/health", get(health))
        .route("/api/v1/admin/messages/outbox/{id}/resend", post(resend))
        .route("/api/v1/public/my/code", post(request_code))
        .route("/api/v1/public/my/cases", post(my_cases))
}

#[utoipa::path(get, path = "/api/v1/admin/messages/settings", security(("bearer" = [])), tag = "messages",
    responses((status = 200, description = "The SMS and e-mail channels (`provider`: log, off, http / smtp, with their fields; `auth_value_set` / `password_set` instead of the secrets), every template, and each purpose's placeholders", body = Object),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn get_settings(
    State(st): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(st.svc.admin_message_settings(&admin).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/messages/settings", security(("bearer" = [])), tag = "messages",
    request_body(content = Object, description = "`sms`: {provider: log|off|http, url, auth_header, auth_value, body (a JSON object whose strings may hold {phone} {text} {purpose} {id})}; `email`: {provider: log|off|smtp, host, port, security: none|starttls|tls, username, password, from}; `templates`: {receipt|callback|code: text}. A secret left out keeps the stored one."),
    responses((status = 200, description = "The settings as saved (no secret)", body = Object),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A field is invalid, named in `field` (e.g. `templates.receipt` with the unknown placeholder, `sms.body`, `sms.url`, `email.from`)", body = ErrorBody)))]
pub(crate) async fn put_settings(
    State(st): State<AppState>,
    Admin(admin): Admin,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(st.svc.put_message_settings(&admin, input).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `delivered` or `dead`.
    pub status: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/admin/messages/outbox", security(("bearer" = [])), tag = "messages",
    params(OutboxQuery),
    responses((status = 200, description = "Messages newest first with status, attempts, the last error and the text as sent (a code masked); recipients masked", body = Vec<OutboxEntry>),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "`status` or `limit` is invalid, named in `field`", body = ErrorBody)))]
pub(crate) async fn outbox(
    State(st): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<Vec<OutboxEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_OUTBOX);
    if !(1..=MAX_OUTBOX).contains(&limit) {
        return Err(ApiError::field("limit", format!("1 to {MAX_OUTBOX}")));
    }
    Ok(Json(
        st.svc
            .message_outbox(&admin, q.status.as_deref(), limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/messages/health", security(("bearer" = [])), tag = "messages",
    responses((status = 200, description = "`degraded` while a message has failed its last attempt or died in the last 24 hours", body = MessageHealth),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn health(
    State(st): State<AppState>,
    Admin(_admin): Admin,
) -> Result<Json<MessageHealth>, ApiError> {
    Ok(Json(st.svc.message_health().await?))
}

#[utoipa::path(post, path = "/api/v1/admin/messages/outbox/{id}/resend", security(("bearer" = [])), tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 204, description = "Queued again with a fresh retry schedule"),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "The message is not dead, or it carried a one-time code (never kept)", body = ErrorBody)))]
pub(crate) async fn resend(
    State(st): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::not_found(format!("message {id:?} not found")))?;
    st.svc.resend_message(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/public/my/code`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The phone number the reports were made with.
    pub phone: String,
    /// `zh` (default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// `POST /api/v1/public/my/cases`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyCasesRequest {
    pub phone: String,
    /// The 6-digit code sent to the phone.
    pub code: String,
    #[serde(default)]
    pub lang: Option<String>,
}

fn lang(l: Option<&str>) -> Result<Lang, ApiError> {
    match l {
        None | Some("zh") => Ok(Lang::Zh),
        Some("en") => Ok(Lang::En),
        Some(other) => Err(ApiError::field(
            "lang",
            format!("{other:?} is not zh or en"),
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/public/my/code", tag = "system", request_body = CodeRequest,
    responses((status = 202, description = "A code is on its way by SMS (the same answer whether or not the phone has reports); valid 10 minutes", body = CodeSent),
              (status = 422, description = "`phone` is not a phone number, or `lang` is unknown", body = ErrorBody),
              (status = 429, description = "Too many codes for this phone or from this address, or the phone is locked after 5 wrong codes; see Retry-After", body = ErrorBody)))]
pub(crate) async fn request_code(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = lang(req.lang.as_deref())?;
    let sent = st.svc.request_my_code(&req.phone, ip, lang).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[utoipa::path(post, path = "/api/v1/public/my/cases", tag = "system", request_body = MyCasesRequest,
    responses((status = 200, description = "The phone's public and hotline reports, newest first, in citizen words with their query codes; the code is used up. Not cached.", body = Vec<MyCase>),
              (status = 422, description = "`phone`, `code` (wrong: the tries left are in the message; expired or used) or `lang`, named in `field`", body = ErrorBody),
              (status = 429, description = "The phone is locked for 15 minutes after 5 wrong codes; see Retry-After", body = ErrorBody)))]
pub(crate) async fn my_cases(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<MyCasesRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = lang(req.lang.as_deref())?;
    st.svc.admit_public_lookup(ip)?;
    let cases = st.svc.my_cases(&req.phone, &req.code, lang).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(cases),
    ))
}
