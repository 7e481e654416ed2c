//! The admin API (`/api/v1/admin/...`): units, people, roles, road-chief assignments,
//! time limits, assignment rules, the working calendar, API keys and the audit log.
//!
//! Only the `admin` role may call it: the [`Admin`] extractor answers 403 before the body
//! is read, so a non-admin never learns anything from validation errors. Bodies are
//! checked field by field (422 naming the field); unknown ids are 404; duplicates and
//! changes that would break the district (deactivating a unit with open cases) are 409.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_domain::assign::AssignRule;
use cityloop_domain::calendar::{CalendarSpec, TimeLimit};
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::limits::{LimitRule, Stage};
use cityloop_domain::model::{
    AreaGrade, CategoryCode, CodeStandard, Person, Priority, RoadChiefLevel, Role, Unit, UnitKind,
    UnknownValue,
};
use cityloop_service::admin::{
    self as svc_admin, ApiKeyView, PersonInput, PersonPatch, RoadChiefView, RoleView, UnitInput,
    UnitPatch,
};
use cityloop_store::{AuditCursor, AuditEntry, AuditFilter};
use serde::{Deserialize, Deserializer, Serialize};

use crate::dto::CategoryRef;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

/// Default and largest page of the audit log.
pub const DEFAULT_AUDIT_PAGE: u32 = 50;
pub const MAX_AUDIT_PAGE: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/roles", get(roles))
        .route("/api/v1/admin/units", get(list_units).post(create_unit))
        .route(
            "/api/v1/admin/units/{id}",
            get(get_unit).patch(update_unit).delete(deactivate_unit),
        )
        .route("/api/v1/admin/people", get(list_people).post(create_person))
        .route(
            "/api/v1/admin/people/{id}",
            get(get_person)
                .patch(update_person)
                .delete(deactivate_person),
        )
        .route("/api/v1/admin/people/{id}/password", post(reset_password))
        .route(
            "/api/v1/admin/road-chiefs",
            get(list_road_chiefs).post(assign_road_chief),
        )
        .route(
            "/api/v1/admin/road-chiefs/{segment}/history",
            get(road_chief_history),
        )
        .route(
            "/api/v1/admin/road-chiefs/{segment}/{level}",
            delete(end_road_chief),
        )
        .route(
            "/api/v1/admin/time-limits",
            get(list_limits).post(put_limit),
        )
        .route("/api/v1/admin/time-limits/{key}", delete(delete_limit))
        .route(
            "/api/v1/admin/assign-rules",
            get(list_assign_rules).post(put_assign_rule),
        )
        .route(
            "/api/v1/admin/assign-rules/{key}",
            delete(delete_assign_rule),
        )
        .route(
            "/api/v1/admin/calendar",
            get(get_calendar).put(put_calendar),
        )
        .route(
            "/api/v1/admin/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route("/api/v1/admin/api-keys/{id}", delete(revoke_api_key))
        .route(
            "/api/v1/admin/public-page-key/rotate",
            post(rotate_public_page_key),
        )
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/admin/privacy", get(get_privacy).put(put_privacy))
}

/// An authenticated admin; anyone else gets 403 before the body is read.
pub struct Admin(pub Person);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let staff = Staff::from_request_parts(parts, state).await?;
        svc_admin::require_admin(&staff.person)?;
        Ok(Admin(staff.person))
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn parse_enum<T: std::str::FromStr<Err = UnknownValue>>(
    field: &str,
    v: &str,
) -> Result<T, ApiError> {
    v.trim()
        .parse()
        .map_err(|e: UnknownValue| ApiError::field(field, e.to_string()))
}

fn unit_id(field: &str, s: &str) -> Result<UnitId, ApiError> {
    UnitId::parse(s.trim()).map_err(|_| ApiError::field(field, "not a unit id"))
}

fn path_unit(s: &str) -> Result<UnitId, ApiError> {
    UnitId::parse(s).map_err(|_| ApiError::not_found(format!("unit {s:?} not found")))
}

fn path_person(s: &str) -> Result<PersonId, ApiError> {
    PersonId::parse(s).map_err(|_| ApiError::not_found(format!("person {s:?} not found")))
}

/// Deserializes a present field (even `null`) as `Some`, so a patch tells "absent" from
/// "set to null".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

// ---- roles ----

#[utoipa::path(get, path = "/api/v1/admin/roles", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn roles(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<RoleView>> {
    Ok(Json(st.svc.admin_roles(&me)?))
}

// ---- units ----

/// A unit as admins see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUnitDto {
    pub id: UnitId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub type_key: String,
    pub active: bool,
}

impl From<&Unit> for AdminUnitDto {
    fn from(u: &Unit) -> Self {
        Self {
            id: u.id,
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.as_str().into(),
            type_key: u.type_key.clone(),
            active: u.active,
        }
    }
}

/// `POST /api/v1/admin/units`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub type_key: String,
}

/// `PATCH /api/v1/admin/units/{id}`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitPatchBody {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub type_key: Option<String>,
    pub active: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/admin/units", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<AdminUnitDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_units(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<AdminUnitDto>> {
    let units = st.svc.admin_units(&me).await?;
    Ok(Json(units.iter().map(AdminUnitDto::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/admin/units/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Unit id")),
    responses((status = 200, body = AdminUnitDto), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn get_unit(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> ApiResult<AdminUnitDto> {
    let u = st.svc.admin_unit(&me, path_unit(&id)?).await?;
    Ok(Json(AdminUnitDto::from(&u)))
}

#[utoipa::path(post, path = "/api/v1/admin/units", tag = "admin", security(("bearer" = [])), request_body = UnitBody,
    responses((status = 201, body = AdminUnitDto), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn create_unit(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<UnitBody>,
) -> Result<(StatusCode, Json<AdminUnitDto>), ApiError> {
    let input = UnitInput {
        kind: parse_enum::<UnitKind>("kind", &b.kind)?,
        code: b.code,
        name: b.name,
        type_key: b.type_key,
    };
    let u = st.svc.admin_create_unit(&me, input).await?;
    Ok((StatusCode::CREATED, Json(AdminUnitDto::from(&u))))
}

#[utoipa::path(patch, path = "/api/v1/admin/units/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Unit id")), request_body = UnitPatchBody,
    responses((status = 200, body = AdminUnitDto), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn update_unit(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UnitPatchBody>,
) -> ApiResult<AdminUnitDto> {
    let id = path_unit(&id)?;
    let patch = UnitPatch {
        kind: b
            .kind
            .as_deref()
            .map(|k| parse_enum::<UnitKind>("kind", k))
            .transpose()?,
        code: b.code,
        name: b.name,
        type_key: b.type_key,
        active: b.active,
    };
    let u = st.svc.admin_update_unit(&me, id, patch).await?;
    Ok(Json(AdminUnitDto::from(&u)))
}

/// Units are deactivated, never deleted (their cases keep pointing at them).
#[utoipa::path(delete, path = "/api/v1/admin/units/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Unit id")),
    responses((status = 200, description = "Deactivated (units are never deleted)", body = AdminUnitDto), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn deactivate_unit(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> ApiResult<AdminUnitDto> {
    let patch = UnitPatch {
        active: Some(false),
        ..UnitPatch::default()
    };
    let u = st
        .svc
        .admin_update_unit(&me, path_unit(&id)?, patch)
        .await?;
    Ok(Json(AdminUnitDto::from(&u)))
}

// ---- people ----

/// A person as admins see it (never a password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminPersonDto {
    pub id: PersonId,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub role_zh: &'static str,
    pub unit_id: Option<UnitId>,
    pub active: bool,
}

impl From<&Person> for AdminPersonDto {
    fn from(p: &Person) -> Self {
        Self {
            id: p.id,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role.as_str().into(),
            role_zh: p.role.zh(),
            unit_id: p.unit_id,
            active: p.active,
        }
    }
}

/// `POST /api/v1/admin/people`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    pub username: String,
    pub display_name: String,
    pub role: String,
    #[serde(default)]
    pub unit_id: Option<String>,
    pub password: String,
}

/// `PATCH /api/v1/admin/people/{id}`; `"unit_id": null` removes the unit.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatchBody {
    pub display_name: Option<String>,
    pub role: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub unit_id: Option<Option<String>>,
    pub active: Option<bool>,
}

/// `POST /api/v1/admin/people/{id}/password`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

#[utoipa::path(get, path = "/api/v1/admin/people", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<AdminPersonDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_people(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<AdminPersonDto>> {
    let people = st.svc.admin_people(&me).await?;
    Ok(Json(people.iter().map(AdminPersonDto::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/admin/people/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Person id")),
    responses((status = 200, body = AdminPersonDto), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn get_person(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> ApiResult<AdminPersonDto> {
    let p = st.svc.admin_person(&me, path_person(&id)?).await?;
    Ok(Json(AdminPersonDto::from(&p)))
}

#[utoipa::path(post, path = "/api/v1/admin/people", tag = "admin", security(("bearer" = [])), request_body = PersonBody,
    responses((status = 201, body = AdminPersonDto), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn create_person(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<PersonBody>,
) -> Result<(StatusCode, Json<AdminPersonDto>), ApiError> {
    let input = PersonInput {
        role: parse_enum::<Role>("role", &b.role)?,
        unit_id: b
            .unit_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|u| unit_id("unit_id", u))
            .transpose()?,
        username: b.username,
        display_name: b.display_name,
        password: b.password,
    };
    let p = st.svc.admin_create_person(&me, input).await?;
    Ok((StatusCode::CREATED, Json(AdminPersonDto::from(&p))))
}

#[utoipa::path(patch, path = "/api/v1/admin/people/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Person id")), request_body = PersonPatchBody,
    responses((status = 200, body = AdminPersonDto), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn update_person(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PersonPatchBody>,
) -> ApiResult<AdminPersonDto> {
    let id = path_person(&id)?;
    let patch = PersonPatch {
        display_name: b.display_name,
        role: b
            .role
            .as_deref()
            .map(|r| parse_enum::<Role>("role", r))
            .transpose()?,
        unit_id: match b.unit_id {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) if s.trim().is_empty() => Some(None),
            Some(Some(s)) => Some(Some(unit_id("unit_id", &s)?)),
        },
        active: b.active,
    };
    let p = st.svc.admin_update_person(&me, id, patch).await?;
    Ok(Json(AdminPersonDto::from(&p)))
}

/// People are deactivated, never deleted (their events keep pointing at them).
#[utoipa::path(delete, path = "/api/v1/admin/people/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Person id")),
    responses((status = 200, description = "Deactivated (people are never deleted)", body = AdminPersonDto), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn deactivate_person(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> ApiResult<AdminPersonDto> {
    let patch = PersonPatch {
        active: Some(false),
        ..PersonPatch::default()
    };
    let p = st
        .svc
        .admin_update_person(&me, path_person(&id)?, patch)
        .await?;
    Ok(Json(AdminPersonDto::from(&p)))
}

#[utoipa::path(post, path = "/api/v1/admin/people/{id}/password", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Person id")), request_body = PasswordBody,
    responses((status = 204, description = "Password set; the person's sessions end"), (status = 404, body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn reset_password(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    st.svc
        .admin_reset_password(&me, path_person(&id)?, &b.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- road chiefs ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentQuery {
    pub segment: Option<String>,
}

/// `POST /api/v1/admin/road-chiefs`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoadChiefBody {
    pub segment_id: String,
    pub level: String,
    pub person_id: String,
}

#[utoipa::path(get, path = "/api/v1/admin/road-chiefs", tag = "admin", security(("bearer" = [])), params(("segment" = Option<String>, Query, description = "One segment only")),
    responses((status = 200, body = Vec<RoadChiefView>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_road_chiefs(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiQuery(q): ApiQuery<SegmentQuery>,
) -> ApiResult<Vec<RoadChiefView>> {
    Ok(Json(
        st.svc
            .admin_road_chiefs(&me, q.segment.as_deref().filter(|s| !s.is_empty()))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/road-chiefs/{segment}/history", tag = "admin", security(("bearer" = [])), params(("segment" = String, Path, description = "Road segment id")),
    responses((status = 200, description = "Every assignment, oldest first", body = Vec<RoadChiefView>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn road_chief_history(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(segment): Path<String>,
) -> ApiResult<Vec<RoadChiefView>> {
    Ok(Json(st.svc.admin_road_chief_history(&me, &segment).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/road-chiefs", tag = "admin", security(("bearer" = [])), request_body = RoadChiefBody,
    responses((status = 200, body = RoadChiefView), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn assign_road_chief(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<RoadChiefBody>,
) -> ApiResult<RoadChiefView> {
    let segment = b.segment_id.trim();
    if segment.is_empty() {
        return Err(ApiError::field("segment_id", "is required"));
    }
    let level = parse_enum::<RoadChiefLevel>("level", &b.level)?;
    let person = PersonId::parse(b.person_id.trim())
        .map_err(|_| ApiError::field("person_id", "not a person id"))?;
    Ok(Json(
        st.svc
            .admin_assign_road_chief(&me, segment, level, person)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/admin/road-chiefs/{segment}/{level}", tag = "admin", security(("bearer" = [])), params(("segment" = String, Path), ("level" = String, Path, description = "district, first or second")),
    responses((status = 204, description = "Assignment closed"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn end_road_chief(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path((segment, level)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let level: RoadChiefLevel = level
        .parse()
        .map_err(|_| ApiError::not_found(format!("level {level:?} not found")))?;
    st.svc.admin_end_road_chief(&me, &segment, level).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- time limits ----

/// A category as admin lists show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminCategoryDto {
    pub standard: String,
    pub kind: String,
    pub code: String,
    pub name: Option<String>,
}

fn category_dto(st: &AppState, c: &CategoryCode) -> AdminCategoryDto {
    AdminCategoryDto {
        standard: c.standard.as_str().into(),
        kind: c.kind.as_str().into(),
        code: c.code.clone(),
        name: st.svc.cached().categories.get(c).map(|c| c.name_zh.clone()),
    }
}

/// One rule of the time-limit table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LimitDto {
    /// `category|grade|priority|stage`, `*` for a wildcard: the rule's id.
    pub key: String,
    pub category: Option<AdminCategoryDto>,
    pub grade: Option<String>,
    pub priority: Option<String>,
    pub stage: String,
    pub stage_zh: &'static str,
    /// As tables write it: `4工作时`, `2工作日`, `24小时`, `3自然日`.
    pub limit: String,
    pub source: String,
}

fn limit_dto(st: &AppState, r: &LimitRule) -> LimitDto {
    LimitDto {
        key: svc_admin::limit_key(r),
        category: r.category.as_ref().map(|c| category_dto(st, c)),
        grade: r.grade.map(|g| g.as_str().into()),
        priority: r.priority.map(|p| p.as_str().into()),
        stage: r.stage.as_str().into(),
        stage_zh: r.stage.zh(),
        limit: r.limit.to_string(),
        source: r.source.clone(),
    }
}

/// `POST /api/v1/admin/time-limits`: adds a rule or changes the one with the same key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    #[serde(default)]
    pub category: Option<CategoryRef>,
    #[serde(default)]
    pub grade: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    pub stage: String,
    pub limit: String,
    #[serde(default)]
    pub source: Option<String>,
}

fn opt_enum<T: std::str::FromStr<Err = UnknownValue>>(
    field: &str,
    v: Option<&str>,
) -> Result<Option<T>, ApiError> {
    match v.map(str::trim) {
        None | Some("") | Some("*") => Ok(None),
        Some(s) => parse_enum(field, s).map(Some),
    }
}

#[utoipa::path(get, path = "/api/v1/admin/time-limits", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<LimitDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_limits(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<LimitDto>> {
    let rules = st.svc.admin_limits(&me)?;
    Ok(Json(rules.iter().map(|r| limit_dto(&st, r)).collect()))
}

#[utoipa::path(post, path = "/api/v1/admin/time-limits", tag = "admin", security(("bearer" = [])), request_body = LimitBody,
    responses((status = 200, description = "Added, or replaced the rule with the same key", body = LimitDto), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn put_limit(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<LimitBody>,
) -> ApiResult<LimitDto> {
    let category = match &b.category {
        Some(CategoryRef::ServiceCode(c)) if c.trim().is_empty() || c.trim() == "*" => None,
        Some(c) => Some(c.parse("category")?),
        None => None,
    };
    let limit =
        TimeLimit::parse_zh(&b.limit).map_err(|e| ApiError::field("limit", e.to_string()))?;
    let rule = LimitRule {
        category,
        grade: opt_enum::<AreaGrade>("grade", b.grade.as_deref())?,
        priority: opt_enum::<Priority>("priority", b.priority.as_deref())?,
        stage: parse_enum::<Stage>("stage", &b.stage)?,
        limit,
        source: b
            .source
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("set by admin {}", me.username)),
    };
    let r = st.svc.admin_put_limit(&me, rule).await?;
    Ok(Json(limit_dto(&st, &r)))
}

#[utoipa::path(delete, path = "/api/v1/admin/time-limits/{key}", tag = "admin", security(("bearer" = [])), params(("key" = String, Path, description = "category|grade|priority|stage")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody), (status = 409, description = "Conflicts with existing data", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn delete_limit(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.admin_delete_limit(&me, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- assignment rules ----

/// One routing override: cases of `category` in `street_code` go to `unit`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignRuleDto {
    /// `category|street` (`*` for the whole district): the rule's id.
    pub key: String,
    pub category: AdminCategoryDto,
    pub street_code: Option<String>,
    pub unit_id: UnitId,
    pub unit_name: Option<String>,
}

fn assign_dto(st: &AppState, r: &AssignRule) -> AssignRuleDto {
    AssignRuleDto {
        key: svc_admin::assign_key(r),
        category: category_dto(st, &r.category),
        street_code: r.street_code.clone(),
        unit_id: r.unit_id,
        unit_name: st
            .svc
            .cached()
            .units
            .iter()
            .find(|u| u.id == r.unit_id)
            .map(|u| u.name.clone()),
    }
}

/// `POST /api/v1/admin/assign-rules`: adds a rule or changes the one for the same
/// (category, street).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRuleBody {
    pub category: CategoryRef,
    #[serde(default)]
    pub street_code: Option<String>,
    pub unit_id: String,
}

#[utoipa::path(get, path = "/api/v1/admin/assign-rules", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<AssignRuleDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_assign_rules(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<AssignRuleDto>> {
    let rules = st.svc.admin_assign_rules(&me)?;
    Ok(Json(rules.iter().map(|r| assign_dto(&st, r)).collect()))
}

#[utoipa::path(post, path = "/api/v1/admin/assign-rules", tag = "admin", security(("bearer" = [])), request_body = AssignRuleBody,
    responses((status = 200, body = AssignRuleDto), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn put_assign_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<AssignRuleBody>,
) -> ApiResult<AssignRuleDto> {
    let rule = AssignRule {
        category: b.category.parse("category")?,
        street_code: b
            .street_code
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s != "*"),
        unit_id: unit_id("unit_id", &b.unit_id)?,
    };
    if rule.category.standard != CodeStandard::Gb47678 {
        return Err(ApiError::field(
            "category",
            "routing rules use the GB/T 47678.5 intake catalogue",
        ));
    }
    let r = st.svc.admin_put_assign_rule(&me, rule).await?;
    Ok(Json(assign_dto(&st, &r)))
}

#[utoipa::path(delete, path = "/api/v1/admin/assign-rules/{key}", tag = "admin", security(("bearer" = [])), params(("key" = String, Path, description = "category|street")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn delete_assign_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.admin_delete_assign_rule(&me, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- calendar ----

#[utoipa::path(get, path = "/api/v1/admin/calendar", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The working calendar document", body = Object), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn get_calendar(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<CalendarSpec> {
    Ok(Json(st.svc.admin_calendar(&me)?))
}

#[utoipa::path(put, path = "/api/v1/admin/calendar", tag = "admin", security(("bearer" = [])), request_body = Object,
    responses((status = 200, description = "The new working calendar", body = Object), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn put_calendar(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(spec): ApiJson<CalendarSpec>,
) -> ApiResult<CalendarSpec> {
    Ok(Json(st.svc.admin_put_calendar(&me, spec).await?))
}

// ---- privacy by role ----

/// The district's privacy overrides and the effective table (role → field → access).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrivacyDto {
    pub overrides: Vec<cityloop_domain::privacy::PolicyOverride>,
    /// Every role's access (`full`, `masked`, `hidden`) to `reporter_name`,
    /// `reporter_phone`, `reporter_email`, `reporter_ids` and `photo_gps`.
    pub table: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

impl From<cityloop_domain::privacy::PrivacySettings> for PrivacyDto {
    fn from(s: cityloop_domain::privacy::PrivacySettings) -> Self {
        let table = s
            .table()
            .into_iter()
            .map(|(r, row)| {
                let row = row
                    .into_iter()
                    .map(|(f, a)| (f.as_str().to_owned(), a.as_str().to_owned()))
                    .collect();
                (r.as_str().to_owned(), row)
            })
            .collect();
        PrivacyDto {
            overrides: s.overrides,
            table,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/privacy", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PrivacyDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn get_privacy(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<PrivacyDto> {
    Ok(Json(st.svc.admin_privacy(&me)?.into()))
}

#[utoipa::path(put, path = "/api/v1/admin/privacy", tag = "admin", security(("bearer" = [])),
    request_body = cityloop_domain::privacy::PrivacySettings,
    responses((status = 200, description = "The new overrides and the effective table", body = PrivacyDto), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn put_privacy(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(body): ApiJson<cityloop_domain::privacy::PrivacySettings>,
) -> ApiResult<PrivacyDto> {
    Ok(Json(st.svc.admin_put_privacy(&me, body).await?.into()))
}

// ---- API keys ----

/// `POST /api/v1/admin/api-keys`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    pub name: String,
}

/// A new key: `key` is shown this once and never again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewApiKeyDto {
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

#[utoipa::path(get, path = "/api/v1/admin/api-keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn list_api_keys(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<Vec<ApiKeyView>> {
    Ok(Json(st.svc.admin_api_keys(&me).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/api-keys", tag = "admin", security(("bearer" = [])), request_body = ApiKeyBody,
    responses((status = 201, description = "The key is shown in this answer only", body = NewApiKeyDto), (status = 422, description = "Invalid field, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn create_api_key(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<ApiKeyBody>,
) -> Result<(StatusCode, Json<NewApiKeyDto>), ApiError> {
    let (view, key) = st.svc.admin_create_api_key(&me, &b.name).await?;
    Ok((StatusCode::CREATED, Json(NewApiKeyDto { key, view })))
}

#[utoipa::path(delete, path = "/api/v1/admin/api-keys/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "Key id (its SHA-256 hash)")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn revoke_api_key(
    State(st): State<AppState>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.admin_revoke_api_key(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/public-page-key/rotate", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The public page's new key is live, the old one revoked (audited); the page reads the new key from GET /api/v1/public/config", body = cityloop_service::public_page::PublicPageKeyView),
              (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn rotate_public_page_key(
    State(st): State<AppState>,
    Admin(me): Admin,
) -> ApiResult<cityloop_service::public_page::PublicPageKeyView> {
    Ok(Json(st.svc.admin_rotate_public_page_key(&me).await?))
}

// ---- audit ----

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn bad_query(field: &str, message: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_field",
        message: format!("{field}: {message}"),
        field: Some(field.to_owned()),
        retry_after_s: None,
    }
}

fn parse_audit_cursor(s: &str) -> Result<AuditCursor, ApiError> {
    let bad = || bad_query("cursor", "not a cursor from a previous page");
    let (t, id) = s.split_once('_').ok_or_else(bad)?;
    let micros: i64 = t.parse().map_err(|_| bad())?;
    Ok(AuditCursor {
        at: DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?,
        id: uuid::Uuid::parse_str(id).map_err(|_| bad())?,
    })
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, description = "Bad query parameter, named in `field`", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn audit(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<AuditPage> {
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(bad_query("limit", &format!("1 to {MAX_AUDIT_PAGE}")));
    }
    let filter = AuditFilter {
        entity: q.entity.filter(|s| !s.is_empty()),
        entity_id: q.entity_id.filter(|s| !s.is_empty()),
        actor_id: q
            .actor
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|a| PersonId::parse(a).map_err(|_| bad_query("actor", "not a person id")))
            .transpose()?,
    };
    let after = q.cursor.as_deref().map(parse_audit_cursor).transpose()?;
    let items = st
        .svc
        .admin_audit(&me, &filter, after.as_ref(), limit)
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| {
            items
                .last()
                .map(|e| format!("{}_{}", e.at.timestamp_micros(), e.id))
        })
        .flatten();
    Ok(Json(AuditPage { items, next_cursor }))
}
