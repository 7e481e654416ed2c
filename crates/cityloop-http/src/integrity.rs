//! The admin console's view of the tamper-evident history: the last verification (from
//! `cityloop verify`, a restore, or this API) and the chain's state, and a button that runs
//! a verification now. Admins only (403 for everyone else, before anything is read).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_service::integrity::IntegrityView;
use cityloop_store::VerifyRun;

use crate::admin::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/integrity", get(status))
        .route("/api/v1/admin/integrity/verify", post(verify_now))
}

#[utoipa::path(get, path = "/api/v1/admin/integrity", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The last verification and the chain's state", body = IntegrityView),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn status(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> Result<Json<IntegrityView>, ApiError> {
    Ok(Json(st.svc.admin_integrity(&me).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/integrity/verify", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Recomputed every chain and root now; the result is stored (also when the report finds problems: see `report.ok`)", body = VerifyRun),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn verify_now(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> Result<Json<VerifyRun>, ApiError> {
    // Runs on its own task: a client that gives up does not cut the stored run short.
    let run = tokio::spawn(async move { st.svc.admin_verify(&me).await })
        .await
        .map_err(|e| {
            ApiError::from(cityloop_service::ServiceError::Internal(anyhow::anyhow!(
                "verification task failed: {e}"
            )))
        })??;
    Ok(Json(run))
}
