//! The calendar's year notices in the admin API (`/api/v1/admin/calendar/years`): list the
//! loaded State Council notices with the coverage they give, load next year's notice as a
//! JSON document (validated; 422 naming the field), remove one loaded by mistake.
//!
//! Admin only, like the rest of `/api/v1/admin` ([`Admin`] answers 403 before the body is
//! read). The coverage itself is public in `/healthz` (field `calendar`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use cityloop_domain::calendar::YearNotice;
use cityloop_service::calendar::{CalendarYears, LoadedYear};

use crate::admin::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/admin/calendar/years",
            get(list_years).post(load_year),
        )
        .route("/api/v1/admin/calendar/years/{year}", delete(remove_year))
}

#[utoipa::path(get, path = "/api/v1/admin/calendar/years", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The loaded year notices and the coverage they give (warning from 60 days before it ends)", body = CalendarYears),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_years(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> Result<Json<CalendarYears>, ApiError> {
    Ok(Json(st.svc.admin_calendar_years(&me)?))
}

#[utoipa::path(post, path = "/api/v1/admin/calendar/years", tag = "admin", security(("bearer" = [])), request_body = YearNotice,
    responses((status = 200, description = "Loaded (or replaced the notice for the same year); audited", body = LoadedYear),
              (status = 400, description = "The body is not JSON", body = ErrorBody),
              (status = 415, description = "The body is not application/json", body = ErrorBody),
              (status = 422, description = "The notice breaks a rule; `field` names it (e.g. `holidays[2].end`, `makeup_workdays[0]`, `source`)", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn load_year(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(notice): ApiJson<YearNotice>,
) -> Result<Json<LoadedYear>, ApiError> {
    Ok(Json(st.svc.admin_load_calendar_year(&me, notice).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/calendar/years/{year}", tag = "admin", security(("bearer" = [])),
    params(("year" = i32, Path, description = "The notice's year")),
    responses((status = 204, description = "Removed (audited); the year runs on weekends only again"),
              (status = 404, description = "No notice loaded for that year", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn remove_year(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(year): Path<String>,
) -> Result<StatusCode, ApiError> {
    let year: i32 = year
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("calendar notice for {year:?}")))?;
    st.svc.admin_remove_calendar_year(&me, year).await?;
    Ok(StatusCode::NO_CONTENT)
}
