//! Route table and handlers. Each handler: extract, convert, one service call, respond.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_domain::case::{Contact, MergeRef};
use cityloop_domain::ids::{CaseId, CaseNumber, UnitId};
use cityloop_domain::model::{AreaGrade, Priority, Source, UnknownValue};
use cityloop_domain::public::PublicReason;
use cityloop_domain::workflow::{Action, Command, Satisfaction};
use cityloop_service::cases::ReportInput;
use cityloop_store::{CaseFilter, Cursor, Page};
use serde_json::json;

use crate::client::ClientIp;
use crate::dto::*;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

/// Default and largest page of `GET /api/v1/cases`.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/public/config", get(public_config))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/notifications", get(my_notifications))
        .route("/api/v1/categories", get(categories))
        .route("/api/v1/route", get(route_point))
        .route("/api/v1/units", get(units))
        .route("/api/v1/cases", get(list_cases).post(create_case))
        .route("/api/v1/cases/{id}", get(get_case))
        .route("/api/v1/cases/{id}/actions", post(act))
        .route("/api/v1/cases/bulk-actions", post(bulk_act))
        .route("/api/v1/cases/{id}/reveal-phone", post(reveal_phone))
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .merge(crate::admin::routes())
        .merge(crate::calendar::routes())
        .merge(crate::integrity::routes())
        .merge(crate::open311::routes())
        .merge(crate::webhooks::routes())
        .merge(crate::messages::routes())
        .merge(crate::rankings::routes())
        .merge(crate::track::routes())
        .merge(crate::maps::routes())
        .merge(crate::dashboard::routes())
        .merge(crate::search::routes())
        .merge(crate::inbox::routes())
        .merge(crate::export::routes())
        .merge(crate::sensors::routes())
        .merge(crate::enforce::routes())
        .merge(crate::web::routes())
        .merge(crate::patrols::routes())
        .merge(crate::hotline::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "Store reachable: status, backend, district code, version, and `calendar`: the working calendar's coverage (`years`, `coverage_end`, `days_left`, `warning` from 60 days before coverage ends), `sensors`: the sensor intake (`status` ok, or degraded while the MQTT broker is away; `broker`, `accepted`, `dropped` by reason), and `messages`: the citizen message channels (`status` ok, or degraded while a message has failed its last attempt or died in the last 24 hours; `sms`, `email` providers; `pending`, `failing`, `dead_recent`)", body = Object),
              (status = 503, description = "Store unreachable", body = ErrorBody)))]
pub(crate) async fn healthz(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    st.svc
        .store
        .ping()
        .await
        .map_err(cityloop_service::ServiceError::from)?;
    Ok(Json(json!({
        "status": "ok",
        "backend": st.svc.store.backend(),
        "district": st.svc.district.code,
        "version": env!("CARGO_PKG_VERSION"),
        "calendar": calendar_health(&st.svc.calendar_coverage()),
        "sensors": st.svc.sensors.health(),
        "messages": st.svc.message_health().await?,
    })))
}

/// The calendar part of `/healthz`: the coverage and, when due, the warning in words.
fn calendar_health(c: &cityloop_domain::calendar::Coverage) -> serde_json::Value {
    json!({
        "years": c.years,
        "coverage_end": c.coverage_end,
        "days_left": c.days_left,
        "warning": c.warning.map(|w| w.to_string()),
        "warning_code": c.warning,
    })
}

/// What the public page needs to talk to Open311 (`GET /api/v1/public/config`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PublicConfigDto {
    /// The public page's own Open311 API key (rotated by admins; read it again when a
    /// POST answers that the key is not valid).
    pub open311_api_key: String,
    /// The district code (Open311 `jurisdiction_id`).
    pub jurisdiction_id: String,
    /// The problems the page offers first (Open311 service codes) with their icon names.
    pub top_services: Vec<TopServiceDto>,
    /// How many generated sample cases (演示数据, `cityloop demo`) the installation holds;
    /// null when it holds none. The pages label themselves while it is set.
    pub demo_cases: Option<u64>,
}

/// One of the problems the public page offers first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TopServiceDto {
    pub service_code: String,
    pub icon: &'static str,
}

#[utoipa::path(get, path = "/api/v1/public/config", tag = "system",
    responses((status = 200, description = "The public page's settings; not cached (Cache-Control: no-store)", body = PublicConfigDto)))]
pub(crate) async fn public_config(
    State(st): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let key = st.svc.public_page_key().await?;
    let demo_cases = st
        .svc
        .demo_history()
        .await?
        .and_then(|d| d.get("cases").and_then(|n| n.as_u64()));
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(PublicConfigDto {
            open311_api_key: key,
            jurisdiction_id: st.svc.district.code.clone(),
            top_services: st
                .svc
                .top_services()
                .into_iter()
                .map(|(service_code, icon)| TopServiceDto { service_code, icon })
                .collect(),
            demo_cases,
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, description = "Wrong username or password", body = ErrorBody),
              (status = 422, description = "Missing or malformed field", body = ErrorBody),
              (status = 429, description = "Too many failed attempts for this account from this address; see Retry-After", body = ErrorBody)))]
pub(crate) async fn login(
    State(st): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let l = st.svc.login(&req.username, &req.password, client).await?;
    Ok(Json(LoginResponse {
        token: l.token,
        token_type: "Bearer",
        expires_at: l.expires_at,
        user: PersonDto::from(&l.person),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Token revoked"), (status = 401, body = ErrorBody)))]
pub(crate) async fn logout(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<StatusCode, ApiError> {
    st.svc.logout(&staff.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = PersonDto), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(staff: Staff) -> Json<PersonDto> {
    Json(PersonDto::from(&staff.person))
}

#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller's latest 100 notifications, newest first", body = Vec<cityloop_store::Notification>),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn my_notifications(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<cityloop_store::Notification>>, ApiError> {
    let notes = st
        .svc
        .store
        .notifications(staff.person.id, 100)
        .await
        .map_err(cityloop_service::ServiceError::from)?;
    Ok(Json(notes))
}

/// `GET /api/v1/route` query. Coordinates are strings so that a bad value is reported
/// by name as a 400, like the standard's public API does.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteQuery {
    lat: Option<String>,
    lon: Option<String>,
    service_code: Option<String>,
    coord: Option<String>,
}

fn bad_request(field: &str, message: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_field",
        message: format!("{field}: {message}"),
        field: Some(field.to_owned()),
        retry_after_s: None,
    }
}

/// Parses a coordinate pair in a named system and converts it to WGS84.
pub(crate) fn wgs84_point(
    lat: Option<&str>,
    lon: Option<&str>,
    coord: Option<&str>,
) -> Result<(f64, f64), ApiError> {
    let num = |field: &str, v: Option<&str>, max: f64| -> Result<f64, ApiError> {
        let v = v.ok_or_else(|| bad_request(field, "is required"))?;
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| bad_request(field, "must be a decimal number"))?;
        if !x.is_finite() || x.abs() > max {
            return Err(bad_request(field, &format!("must be from -{max} to {max}")));
        }
        Ok(x)
    };
    let lat = num("lat", lat, 90.0)?;
    let lon = num("lon", lon, 180.0)?;
    let sys = match coord {
        None => cityloop_geo::CoordSystem::Wgs84,
        Some(c) => cityloop_geo::CoordSystem::parse(c)
            .map_err(|_| bad_request("coord", "one of wgs84, gcj02, bd09"))?,
    };
    Ok(cityloop_geo::to_wgs84(sys, lon, lat))
}

#[utoipa::path(get, path = "/api/v1/route", tag = "territory", security(("bearer" = [])),
    params(("lat" = f64, Query, description = "Latitude, -90..90"),
           ("lon" = f64, Query, description = "Longitude, -180..180"),
           ("service_code" = String, Query, description = "Category service code, e.g. 01010"),
           ("coord" = Option<String>, Query, description = "wgs84 (default), gcj02 or bd09")),
    responses((status = 200, body = cityloop_service::territory::RouteAnswer),
              (status = 400, description = "Bad or missing coordinate / service_code, named in `field`", body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn route_point(
    State(st): State<AppState>,
    _staff: Staff,
    ApiQuery(q): ApiQuery<RouteQuery>,
) -> Result<Json<cityloop_service::territory::RouteAnswer>, ApiError> {
    let (lon, lat) = wgs84_point(q.lat.as_deref(), q.lon.as_deref(), q.coord.as_deref())?;
    let code = q
        .service_code
        .as_deref()
        .ok_or_else(|| bad_request("service_code", "is required"))?;
    let category = cityloop_domain::model::CategoryCode::parse_service_code(code)
        .map_err(|e| bad_request("service_code", &e.to_string()))?;
    Ok(Json(st.svc.route_point(lon, lat, &category).await?))
}

#[utoipa::path(get, path = "/api/v1/categories", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = Vec<CategoryDto>), (status = 401, body = ErrorBody)))]
pub(crate) async fn categories(
    State(st): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<CategoryDto>>, ApiError> {
    let mut cats: Vec<_> = st.svc.categories().await?.into_values().collect();
    cats.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(cats.iter().map(CategoryDto::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/units", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = Vec<UnitDto>), (status = 401, body = ErrorBody)))]
pub(crate) async fn units(
    State(st): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<UnitDto>>, ApiError> {
    let units = st
        .svc
        .store
        .list_units()
        .await
        .map_err(cityloop_service::ServiceError::from)?;
    Ok(Json(units.iter().map(UnitDto::from).collect()))
}

pub(crate) async fn names(st: &AppState) -> Result<Names, ApiError> {
    let units = st
        .svc
        .store
        .list_units()
        .await
        .map_err(cityloop_service::ServiceError::from)?;
    let cats = st.svc.categories().await?;
    Ok(Names {
        units: units.into_iter().map(|u| (u.id, u.name)).collect(),
        categories: cats
            .into_iter()
            .map(|(k, c)| (k, c.name_zh))
            .collect::<HashMap<_, _>>(),
    })
}

fn parse_enum<T: std::str::FromStr<Err = UnknownValue>>(
    field: &str,
    v: &str,
) -> Result<T, ApiError> {
    v.parse()
        .map_err(|e: UnknownValue| ApiError::field(field, e.to_string()))
}

fn case_id(s: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(s).map_err(|_| ApiError::not_found(format!("case {s:?} not found")))
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), request_body = CreateCaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters, per person: a repeat answers the first case (`Idempotent-Replayed: true`) and a request whose database connection dropped is retried by the server")),
    responses((status = 201, body = CaseDto),
              (status = 503, description = "The database is unavailable (a failover); retry, with an Idempotency-Key to be safe", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 403, description = "The role may not take in cases", body = ErrorBody),
              (status = 409, description = "The `external_ref` (12345 ticket number) is already registered from the same source", body = ErrorBody),
              (status = 422, description = "Invalid field, named in `field`", body = ErrorBody)))]
pub(crate) async fn create_case(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateCaseRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let (lon, lat) = match req.coord.as_deref() {
        None | Some("wgs84") => (req.lon, req.lat),
        Some(c) => {
            let sys = cityloop_geo::CoordSystem::parse(c)
                .map_err(|_| ApiError::field("coord", "one of wgs84, gcj02, bd09"))?;
            cityloop_geo::to_wgs84(sys, req.lon, req.lat)
        }
    };
    let input = ReportInput {
        source: parse_enum::<Source>("source", &req.source)?,
        priority: req
            .priority
            .as_deref()
            .map(|p| parse_enum::<Priority>("priority", p))
            .transpose()?
            .unwrap_or(Priority::Normal),
        category: req.category.parse("category")?,
        area_grade: req
            .area_grade
            .as_deref()
            .map(|g| parse_enum::<AreaGrade>("area_grade", g))
            .transpose()?,
        description: req.description,
        lon,
        lat,
        address: req.address,
        reporter: req
            .reporter
            .map(|r| Contact {
                name: r.name,
                phone: r.phone,
                email: r.email,
                contacted_at: r.contacted_at,
                callback: r.callback,
                ..Contact::default()
            })
            .unwrap_or_default(),
        media: req.media,
        external_ref: req.external_ref,
    };
    let (case, replayed) = st.svc.report_case_once(&staff.actor, input, key).await?;
    let detail = st.svc.detail(&staff.actor, case, Vec::new());
    let names = names(&st).await?;
    let resp = (
        StatusCode::CREATED,
        Json(
            CaseDto::new(&detail.case, detail.deadline, detail.light, &names)
                .weekends_only(detail.deadline_weekends_only)
                .time_left(&detail.case, &st.svc.calendar(), st.svc.now()),
        ),
    )
        .into_response();
    Ok(mark_replayed(resp, replayed))
}

/// The client's `Idempotency-Key` header, if sent (checked by the service).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII characters"))
        })
        .transpose()
}

/// A repeat of an idempotent request says so (`Idempotent-Replayed: true`).
fn mark_replayed(mut resp: Response, replayed: bool) -> Response {
    if replayed {
        resp.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    resp
}

#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id (UUID)")),
    responses((status = 200, description = "The case with its timeline (`events`) and `allowed_actions`", body = CaseDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Outside the caller's scope", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub(crate) async fn get_case(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<CaseDto>, ApiError> {
    let d = st.svc.case_detail(&staff.actor, case_id(&id)?).await?;
    let mut dto = CaseDto::detail(&d, &names(&st).await?).time_left(
        &d.case,
        &st.svc.calendar(),
        st.svc.now(),
    );
    crate::attachments::add_photos(&st, &staff.actor, &mut dto).await?;
    dto.query_code = st.svc.staff_query_code(&d.case).await?;
    // Every case page shows its segment's road chiefs per level (issue 21 item 3).
    if let Some(seg) = &d.case.routing.segment_id {
        dto.road_chiefs = Some(st.svc.road_chiefs_of(seg).await?);
    }
    Ok(Json(dto))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id (UUID)"),
           ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters, per person: a repeat answers the first result (the case right after that action, `Idempotent-Replayed: true`); used on another case it is a 409")),
    request_body = ActionRequest,
    responses((status = 200, description = "The case after the action, with its timeline", body = CaseDto),
              (status = 503, description = "The database is unavailable (a failover); retry, with an Idempotency-Key to be safe", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Role or scope may not take this action", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "Action not allowed in the case's state, or `version` is stale", body = ErrorBody),
              (status = 422, description = "Missing or invalid field, named in `field`", body = ErrorBody)))]
pub(crate) async fn act(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ActionRequest>,
) -> Result<Response, ApiError> {
    let id = case_id(&id)?;
    let key = idempotency_key(&headers)?;
    let action = parse_enum::<Action>("action", &req.action)?;
    let cmd = Command {
        note: req.note.clone(),
        reason: req.reason.clone(),
        unit_id: req
            .unit_id
            .as_deref()
            .map(|u| UnitId::parse(u).map_err(|_| ApiError::field("unit_id", "not a unit id")))
            .transpose()?,
        extension: req.extension()?,
        attachments: req.attachments.clone(),
        category: req
            .category
            .as_ref()
            .map(|c| c.parse("category"))
            .transpose()?,
        public_reply: req.public_reply.clone(),
        public_reason: req
            .public_reason
            .as_deref()
            .map(|r| parse_enum::<PublicReason>("public_reason", r))
            .transpose()?,
        satisfaction: req
            .satisfaction
            .as_deref()
            .map(|r| parse_enum::<Satisfaction>("satisfaction", r))
            .transpose()?,
        priority: req
            .priority
            .as_deref()
            .map(|p| parse_enum::<Priority>("priority", p))
            .transpose()?,
        // The number and unit are the service's to fill in from the master it finds.
        merge_into: req
            .merge_into
            .as_deref()
            .map(|m| {
                CaseId::parse(m)
                    .map(|case_id| MergeRef {
                        case_id,
                        number: CaseNumber(String::new()),
                        unit_id: None,
                    })
                    .map_err(|_| ApiError::field("merge_into", "not a case id"))
            })
            .transpose()?,
        routed_unit: None,
    };
    let (d, replayed) = st
        .svc
        .act_once(&staff.actor, id, action, cmd, req.version, key)
        .await?;
    let mut dto = CaseDto::detail(&d, &names(&st).await?).time_left(
        &d.case,
        &st.svc.calendar(),
        st.svc.now(),
    );
    crate::attachments::add_photos(&st, &staff.actor, &mut dto).await?;
    Ok(mark_replayed(Json(dto).into_response(), replayed))
}

#[utoipa::path(post, path = "/api/v1/cases/bulk-actions", tag = "cases", security(("bearer" = [])),
    request_body = BulkActionRequest,
    responses((status = 200, description = "One result per case in the order asked: each case got its own action and event, or its own error (`status` and `error`, as it would have been answered alone)", body = BulkActionResponse),
              (status = 401, body = ErrorBody),
              (status = 422, description = "An action other than dispatch or supervise, no case or more than 100, a case listed twice, or a malformed id or unit, named in `field`", body = ErrorBody)))]
pub(crate) async fn bulk_act(
    State(st): State<AppState>,
    staff: Staff,
    ApiJson(req): ApiJson<BulkActionRequest>,
) -> Result<Json<BulkActionResponse>, ApiError> {
    let action = parse_enum::<Action>("action", &req.action)?;
    let ids = req
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, s)| {
            CaseId::parse(s).map_err(|_| ApiError::field(format!("case_ids[{i}]"), "not a case id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cmd = Command {
        unit_id: req
            .unit_id
            .as_deref()
            .map(|u| UnitId::parse(u).map_err(|_| ApiError::field("unit_id", "not a unit id")))
            .transpose()?,
        reason: req.reason.clone(),
        note: req.note.clone(),
        ..Command::default()
    };
    let results: Vec<BulkResultDto> = st
        .svc
        .bulk_act(&staff.actor, action, &ids, cmd)
        .await?
        .into_iter()
        .map(|(id, r)| match r {
            Ok(c) => BulkResultDto {
                case_id: id.to_string(),
                ok: true,
                number: Some(c.number.to_string()),
                state: Some(c.state.as_str().into()),
                version: Some(c.version),
                status: None,
                error: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                BulkResultDto {
                    case_id: id.to_string(),
                    ok: false,
                    number: None,
                    state: None,
                    version: None,
                    status: Some(e.status.as_u16()),
                    error: Some(e.detail()),
                }
            }
        })
        .collect();
    let succeeded = results.iter().filter(|r| r.ok).count();
    Ok(Json(BulkActionResponse {
        failed: results.len() - succeeded,
        succeeded,
        results,
    }))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/reveal-phone", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id (UUID)")),
    responses((status = 200, description = "The reporter's full phone number; this view is written to the audit log (entity `case_contact`, action `reveal_phone`)", body = RevealedPhoneDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "The role may not see full phone numbers, or the case is outside the caller's scope", body = ErrorBody),
              (status = 404, description = "No such case, or it has no phone number", body = ErrorBody)))]
pub(crate) async fn reveal_phone(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<RevealedPhoneDto>, ApiError> {
    let r = st.svc.reveal_phone(&staff.person, case_id(&id)?).await?;
    Ok(Json(RevealedPhoneDto {
        case_id: r.case_id.to_string(),
        number: r.number,
        phone: r.phone,
        audit_id: r.audit_id.to_string(),
    }))
}

fn parse_cursor(s: &str) -> Result<Cursor, ApiError> {
    Cursor::from_token(s)
        .ok_or_else(|| ApiError::field("cursor", "not a cursor from a previous page"))
}

fn parse_bbox(s: &str) -> Result<[f64; 4], ApiError> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::field("bbox", "four numbers: min_lon,min_lat,max_lon,max_lat"))?;
    match v.as_slice() {
        [a, b, c, d] if a <= c && b <= d && v.iter().all(|x| x.is_finite()) => Ok([*a, *b, *c, *d]),
        _ => Err(ApiError::field(
            "bbox",
            "four numbers: min_lon,min_lat,max_lon,max_lat",
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, description = "A page of cases in the caller's scope, newest first", body = CaseList),
              (status = 401, body = ErrorBody),
              (status = 422, description = "Invalid filter, named in `field`", body = ErrorBody)))]
pub(crate) async fn list_cases(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field("limit", format!("1 to {MAX_PAGE}")));
    }
    let with_context = q.context == Some(true);
    let max_context = cityloop_service::queue::MAX_CONTEXT_ROWS;
    if with_context && limit as usize > max_context {
        return Err(ApiError::field(
            "limit",
            format!("1 to {max_context} with context=true"),
        ));
    }
    let states = match &q.state {
        Some(s) => s
            .split(',')
            .map(|x| {
                parse_enum::<cityloop_domain::workflow::CaseState>("state", x.trim())
                    .map(|s| s.as_str().to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let filter = CaseFilter {
        states,
        unit_id: q
            .unit
            .as_deref()
            .map(|u| UnitId::parse(u).map_err(|_| ApiError::field("unit", "not a unit id")))
            .transpose()?,
        street_code: q.street.clone(),
        segment_id: q.segment.clone(),
        category_code: q.category.clone(),
        source: q
            .source
            .as_deref()
            .map(|s| parse_enum::<Source>("source", s).map(|s| s.as_str().to_owned()))
            .transpose()?,
        created_from: q.created_from,
        created_to: q.created_to,
        updated_from: q.updated_from,
        updated_to: q.updated_to,
        deadline_before: q.overdue.filter(|o| *o).map(|_| st.svc.now()),
        bbox: q.bbox.as_deref().map(parse_bbox).transpose()?,
        ids: Vec::new(),
        // Set by the service for a handler's own queue (协办); never by a client.
        assisting: false,
    };
    let page = Page {
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let cases = st.svc.list_cases(&staff.actor, filter, page).await?;
    let names = names(&st).await?;
    let next_cursor = (cases.len() == limit as usize)
        .then(|| {
            cases.last().map(|c| {
                Cursor {
                    created_at: c.created_at,
                    id: c.id,
                }
                .to_token()
            })
        })
        .flatten();
    let now = st.svc.now();
    let calendar = st.svc.calendar();
    let mut context = if with_context {
        st.svc.queue_context(&cases).await?
    } else {
        Vec::new()
    }
    .into_iter();
    let items = cases
        .iter()
        .map(|c| {
            let mut dto = CaseDto::new(c, c.deadline(&calendar), c.light(&calendar, now), &names)
                .weekends_only(c.deadline_weekends_only(&calendar))
                .time_left(c, &calendar, now);
            if let Some(ctx) = context.next() {
                dto.road_chiefs = Some(ctx.road_chiefs);
                dto.duplicates = Some(ctx.duplicates);
            }
            dto
        })
        .collect();
    Ok(Json(CaseList { items, next_cursor }))
}
