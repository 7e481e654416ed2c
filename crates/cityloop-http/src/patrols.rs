//! Patrols on the ground over HTTP (路长巡查, issue 21): start, upload the trail in
//! batches (`PUT` per batch id, so a retry is harmless), end, read. The record-a-whole-patrol
//! endpoint `POST /api/v1/patrols` stays in `rankings.rs`. Also the road chief's own
//! segments (`GET /api/v1/me/roads`, 我的路段) and the admin's bulk assignment
//! (`POST /api/v1/admin/road-chiefs/bulk`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_geo::patrol::TrailPoint;
use cityloop_service::patrol::{PatrolResult, PatrolView, MAX_BATCH_POINTS};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/patrols/start", post(start_patrol))
        .route("/api/v1/patrols/{id}", get(get_patrol))
        .route("/api/v1/patrols/{id}/points/{batch}", put(upload_points))
        .route("/api/v1/patrols/{id}/end", post(end_patrol))
        .route("/api/v1/admin/road-chief-gaps", get(road_chief_gaps))
        .route("/api/v1/me/roads", get(my_roads))
        .route("/api/v1/admin/road-chiefs/bulk", post(bulk_assign))
}

/// A patrol run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatrolRunDto {
    pub id: String,
    pub person_id: String,
    pub started_at: DateTime<Utc>,
    /// Null while it runs.
    pub ended_at: Option<DateTime<Utc>>,
    /// Trail points stored so far.
    pub points: i64,
    /// True when "start" answered the patrol that was already running.
    pub resumed: bool,
    /// What its end recorded.
    pub result: Option<PatrolResult>,
}

impl From<PatrolView> for PatrolRunDto {
    fn from(v: PatrolView) -> Self {
        PatrolRunDto {
            id: v.run.id.to_string(),
            person_id: v.run.person_id.to_string(),
            started_at: v.run.started_at,
            ended_at: v.run.ended_at,
            points: v.run.points,
            resumed: v.resumed,
            result: v.result,
        }
    }
}

/// One trail position.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrailPointDto {
    /// When the phone sampled it.
    pub t: DateTime<Utc>,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// The phone's accuracy radius in metres.
    pub accuracy_m: Option<f64>,
}

/// `PUT /api/v1/patrols/{id}/points/{batch}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsRequest {
    /// At most 1,000 points.
    pub points: Vec<TrailPointDto>,
}

/// What a batch upload did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PointsDto {
    /// False when this batch id was stored before (a retry): nothing was added.
    pub stored: bool,
    /// Points stored for the patrol so far.
    pub points_total: i64,
}

/// `POST /api/v1/patrols/{id}/end` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// Why there is no trail (no GPS): records a no-GPS patrol, counted separately.
    pub no_gps_reason: Option<String>,
    pub note: Option<String>,
}

fn patrol_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("patrol {s:?} not found")))
}

/// `POST /api/v1/patrols/start`
#[utoipa::path(post, path = "/api/v1/patrols/start", tag = "evaluation", security(("bearer" = [])),
    responses((status = 201, description = "Started", body = PatrolRunDto),
              (status = 200, description = "A patrol was running: that one", body = PatrolRunDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not a road chief", body = ErrorBody)))]
pub(crate) async fn start_patrol(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<(StatusCode, Json<PatrolRunDto>), ApiError> {
    let v = st.svc.start_patrol(&staff.person).await?;
    let status = if v.resumed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(v.into())))
}

/// `GET /api/v1/patrols/{id}`
#[utoipa::path(get, path = "/api/v1/patrols/{id}", tag = "evaluation", security(("bearer" = [])),
    params(("id" = String, Path, description = "Patrol id")),
    responses((status = 200, body = PatrolRunDto),
              (status = 401, body = ErrorBody),
              (status = 404, description = "Not one of the caller's patrols", body = ErrorBody)))]
pub(crate) async fn get_patrol(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<PatrolRunDto>, ApiError> {
    let v = st.svc.patrol(&staff.person, patrol_id(&id)?).await?;
    Ok(Json(v.into()))
}

/// `PUT /api/v1/patrols/{id}/points/{batch}`: idempotent per batch id.
#[utoipa::path(put, path = "/api/v1/patrols/{id}/points/{batch}", tag = "evaluation", security(("bearer" = [])),
    params(("id" = String, Path, description = "Patrol id"),
           ("batch" = String, Path, description = "The phone's batch id (1–64 of A–Z a–z 0–9 - _)")),
    request_body = PointsRequest,
    responses((status = 200, body = PointsDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not a road chief", body = ErrorBody),
              (status = 404, description = "Not one of the caller's patrols", body = ErrorBody),
              (status = 409, description = "The patrol has ended, or this batch id was stored with other points", body = ErrorBody),
              (status = 422, description = "Invalid field (batch, points)", body = ErrorBody)))]
pub(crate) async fn upload_points(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, batch)): Path<(String, String)>,
    ApiJson(req): ApiJson<PointsRequest>,
) -> Result<Json<PointsDto>, ApiError> {
    let id = patrol_id(&id)?;
    if req.points.len() > MAX_BATCH_POINTS {
        return Err(cityloop_service::ServiceError::invalid(
            "points",
            format!("a batch holds at most {MAX_BATCH_POINTS} points"),
        )
        .into());
    }
    let points = req
        .points
        .into_iter()
        .map(|p| TrailPoint {
            t_ms: p.t.timestamp_millis(),
            lon: p.lon,
            lat: p.lat,
            accuracy_m: p.accuracy_m,
        })
        .collect();
    let a = st
        .svc
        .upload_patrol_points(&staff.person, id, &batch, points)
        .await?;
    Ok(Json(PointsDto {
        stored: a.stored,
        points_total: a.points_total,
    }))
}

/// `POST /api/v1/patrols/{id}/end`
#[utoipa::path(post, path = "/api/v1/patrols/{id}/end", tag = "evaluation", security(("bearer" = [])),
    params(("id" = String, Path, description = "Patrol id")),
    request_body = EndRequest,
    responses((status = 200, description = "Ended; the segments its trail covered", body = PatrolRunDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not a road chief", body = ErrorBody),
              (status = 404, description = "Not one of the caller's patrols", body = ErrorBody),
              (status = 409, description = "Already ended", body = ErrorBody),
              (status = 422, description = "No usable trail and no no_gps_reason, or a reason with a trail", body = ErrorBody)))]
pub(crate) async fn end_patrol(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EndRequest>,
) -> Result<Json<PatrolRunDto>, ApiError> {
    let v = st
        .svc
        .end_patrol(&staff.person, patrol_id(&id)?, req.no_gps_reason, req.note)
        .await?;
    Ok(Json(v.into()))
}

/// `GET /api/v1/admin/road-chief-gaps`
#[utoipa::path(get, path = "/api/v1/admin/road-chief-gaps", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Segments missing a chief at some level, deactivated people still holding segments, chiefs over the district limit", body = cityloop_service::chief_gaps::ChiefGaps),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn road_chief_gaps(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> Result<Json<cityloop_service::chief_gaps::ChiefGaps>, ApiError> {
    Ok(Json(st.svc.admin_road_chief_gaps(&me).await?))
}

/// `GET /api/v1/me/roads`
#[utoipa::path(get, path = "/api/v1/me/roads", tag = "evaluation", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in road chief's segments with open cases by light, patrol status and chiefs", body = cityloop_service::my_roads::MyRoads),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not a road chief", body = ErrorBody)))]
pub(crate) async fn my_roads(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<cityloop_service::my_roads::MyRoads>, ApiError> {
    Ok(Json(st.svc.my_roads(&staff.person, &staff.actor).await?))
}

/// `POST /api/v1/admin/road-chiefs/bulk` body: exactly one of `road_name`, `street`,
/// `segment_ids`, and the person at the level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAssignRequest {
    /// Every segment of the road with this exact name.
    pub road_name: Option<String>,
    /// Every segment of the street office with this 9-digit code.
    pub street: Option<String>,
    /// These segments (at most 2,000).
    pub segment_ids: Option<Vec<String>>,
    /// `district`, `first` or `second`.
    pub level: String,
    pub person_id: String,
}

/// `POST /api/v1/admin/road-chiefs/bulk`
#[utoipa::path(post, path = "/api/v1/admin/road-chiefs/bulk", tag = "admin", security(("bearer" = [])),
    request_body = BulkAssignRequest,
    responses((status = 200, description = "Assigned; previous holders' rows closed and kept as history", body = cityloop_service::chief_gaps::BulkAssigned),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "Invalid field, named in `field` (target, road_name, street, segment_ids[i], level, person_id)", body = ErrorBody)))]
pub(crate) async fn bulk_assign(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<BulkAssignRequest>,
) -> Result<Json<cityloop_service::chief_gaps::BulkAssigned>, ApiError> {
    let level: cityloop_domain::model::RoadChiefLevel =
        b.level
            .trim()
            .parse()
            .map_err(|e: cityloop_domain::model::UnknownValue| {
                ApiError::field("level", e.to_string())
            })?;
    let person = cityloop_domain::ids::PersonId::parse(b.person_id.trim())
        .map_err(|_| ApiError::field("person_id", "not a person id"))?;
    let target = cityloop_service::chief_gaps::BulkTarget {
        road_name: b.road_name,
        street: b.street,
        segment_ids: b.segment_ids,
    };
    Ok(Json(
        st.svc
            .admin_bulk_assign_road_chiefs(&me, &target, level, person)
            .await?,
    ))
}
