//! The leaders' view over HTTP: `GET /api/v1/dashboard` (the figures, staff reading the
//! whole district) and the page itself at `/leaders` (served by `web.rs`). The figures are
//! computed by `cityloop_service::dashboard` from the store's indexed reads; the page adds
//! the league tables (`GET /api/v1/rankings`) and the map (`/api/v1/map/...`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cityloop_service::dashboard::Dashboard;

use crate::error::{ApiError, ErrorBody};
use crate::extract::Staff;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/dashboard", get(dashboard))
}

#[utoipa::path(get, path = "/api/v1/dashboard", tag = "rankings", security(("bearer" = [])),
    responses((status = 200, description = "The leaders' view (领导驾驶舱): today and this month (reported, registered, closed, on-time rate, rework) each with the same period before (yesterday up to the same time of day; last month up to the same elapsed time), open cases overdue now with the ten most overdue, the 30-day trend of reports and closures, this week's top 10 problems by category, this month's reports by source group, and the demo history's record (`demo`, null outside a demo). Times are UTC; days are the district's local days", body = Dashboard),
              (status = 401, body = ErrorBody),
              (status = 403, description = "The account reads only part of the district (a handler, a street's road chief)", body = ErrorBody)))]
pub(crate) async fn dashboard(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(st.svc.dashboard(&staff.actor).await?))
}
