//! Request and response shapes of the staff API (`/api/v1`). Separate from domain and
//! row types: renaming a field here is an API change and nothing else.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cityloop_domain::calendar::{Light, TimeLimit, WorkCalendar};
use cityloop_domain::case::{Case, Event, Routing};
use cityloop_domain::ids::UnitId;
use cityloop_domain::model::{Category, CategoryCode, CategoryKind, CodeStandard, Source, Unit};
use cityloop_domain::public::PublicReason;
use cityloop_domain::workflow::{Action, CaseState, Satisfaction};
use cityloop_service::cases::CaseDetail;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `POST /api/v1/auth/login`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub user: PersonDto,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub role_zh: &'static str,
    pub unit_id: Option<UnitId>,
}

impl From<&cityloop_domain::model::Person> for PersonDto {
    fn from(p: &cityloop_domain::model::Person) -> Self {
        Self {
            id: p.id.to_string(),
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role.as_str().into(),
            role_zh: p.role.zh(),
            unit_id: p.unit_id,
        }
    }
}

/// A category reference in requests: a service code (`"06010"`, GB/T 47678.5 matter) or
/// the full key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CategoryRef {
    ServiceCode(String),
    Full {
        standard: String,
        kind: String,
        code: String,
    },
}

impl CategoryRef {
    pub fn parse(&self, field: &str) -> Result<CategoryCode, ApiError> {
        match self {
            CategoryRef::ServiceCode(c) => CategoryCode::parse_service_code(c)
                .map_err(|e| ApiError::field(field, e.to_string())),
            CategoryRef::Full {
                standard,
                kind,
                code,
            } => {
                let s: CodeStandard =
                    standard
                        .parse()
                        .map_err(|e: cityloop_domain::model::UnknownValue| {
                            ApiError::field(format!("{field}.standard"), e.to_string())
                        })?;
                let k: CategoryKind =
                    kind.parse()
                        .map_err(|e: cityloop_domain::model::UnknownValue| {
                            ApiError::field(format!("{field}.kind"), e.to_string())
                        })?;
                CategoryCode::parse(s, k, code)
                    .map_err(|e| ApiError::field(format!("{field}.code"), e.to_string()))
            }
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactDto {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// When the reporter called or came in (来电时间), RFC 3339; at most 5 minutes
    /// ahead of the server's clock.
    #[serde(default)]
    pub contacted_at: Option<DateTime<Utc>>,
    /// The reporter asked to be called back (需要回访).
    #[serde(default)]
    pub callback: Option<bool>,
}

/// `POST /api/v1/cases` (staff intake).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseRequest {
    pub source: String,
    pub category: CategoryRef,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    /// Coordinate system of lat/lon: `wgs84` (default), `gcj02` or `bd09`.
    #[serde(default)]
    pub coord: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub area_grade: Option<String>,
    #[serde(default)]
    pub media: Vec<String>,
    /// A 12345 ticket number or another channel's reference: 1 to 64 characters, unique
    /// per source (a second case with the same one is a 409 naming `external_ref`).
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub reporter: Option<ContactDto>,
}

/// `POST /api/v1/cases/{id}/actions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub unit_id: Option<String>,
    /// A limit in the Chinese form tables use: `"1工作日"`, `"4工作时"`.
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub attachments: Vec<String>,
    #[serde(default)]
    pub category: Option<CategoryRef>,
    /// A reply for the citizen (答复市民), shown on the public page and in Open311.
    /// `note` and `reason` are internal and never published.
    #[serde(default)]
    pub public_reply: Option<String>,
    /// On `void`: what the citizen is told (`duplicate`, `not_found_on_site`,
    /// `not_urban_management`, `outside_district`, `insufficient_information`, `other`;
    /// default `other`).
    #[serde(default)]
    pub public_reason: Option<String>,
    /// On `callback` (回访), required: what the reporter said — `satisfied` (满意),
    /// `basically_satisfied` (基本满意), `unsatisfied` (不满意: back to handling as 重办,
    /// `reason` required) or `unreached` (未回访: only after the call-back limit ran out).
    #[serde(default)]
    pub satisfaction: Option<String>,
    /// On `register`: the urgency, `normal` (一般) or `urgent` (紧急); absent keeps it.
    #[serde(default)]
    pub priority: Option<String>,
    /// On `merge` (合并), required: the id of the open case this one duplicates (the
    /// master). The same case or a closed or voided one is a 409.
    #[serde(default)]
    pub merge_into: Option<String>,
    /// The case version the client saw; a mismatch is a 409.
    #[serde(default)]
    pub version: Option<i64>,
}

/// `POST /api/v1/cases/bulk-actions`: one action on many cases (批量派遣, 批量督办).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkActionRequest {
    /// `dispatch` or `supervise`.
    pub action: String,
    /// 1 to 100 distinct case ids; more is a 422.
    pub case_ids: Vec<String>,
    /// On `dispatch`, required: the unit every case goes to.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// On `supervise`, required: the 督办 note every case gets.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// The answer of one case of a bulk action.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkResultDto {
    pub case_id: String,
    /// The action was performed (one event on the case).
    pub ok: bool,
    /// After the action: the case's number, state and version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Why it was refused: the HTTP status it would have had alone and what its error
    /// envelope's `error` would have said (`code`, `message`, `field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkActionResponse {
    /// One per case, in the order asked.
    pub results: Vec<BulkResultDto>,
    pub succeeded: usize,
    pub failed: usize,
}

/// The master a merged case points to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MergeRefDto {
    pub id: String,
    pub number: String,
}

impl From<&cityloop_domain::case::MergeRef> for MergeRefDto {
    fn from(m: &cityloop_domain::case::MergeRef) -> Self {
        Self {
            id: m.case_id.to_string(),
            number: m.number.to_string(),
        }
    }
}

/// A case merged into the one shown (合并), with its reporter: every reporter of the
/// duplicates stays on the master.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MergedCaseDto {
    pub id: String,
    pub number: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub description: String,
    pub reporter: ReporterDto,
    /// The case it was merged into (the one shown, or a case merged into it).
    pub merged_into: String,
}

impl ActionRequest {
    pub fn extension(&self) -> Result<Option<TimeLimit>, ApiError> {
        self.extension
            .as_deref()
            .map(|s| {
                TimeLimit::parse_zh(s).map_err(|e| ApiError::field("extension", e.to_string()))
            })
            .transpose()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryDto {
    pub standard: String,
    pub standard_title: &'static str,
    pub kind: String,
    pub kind_zh: &'static str,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub major_code: String,
    pub major_name_zh: String,
    pub major_name_en: String,
    pub default_unit_type: String,
    pub active: bool,
}

impl From<&Category> for CategoryDto {
    fn from(c: &Category) -> Self {
        Self {
            standard: c.code.standard.as_str().into(),
            standard_title: c.code.standard.title(),
            kind: c.code.kind.as_str().into(),
            kind_zh: c.code.kind.zh(),
            code: c.code.code.clone(),
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
            major_code: c.code.major().into(),
            major_name_zh: c.major_name_zh.clone(),
            major_name_en: c.major_name_en.clone(),
            default_unit_type: c.default_unit_type.clone(),
            active: c.active,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnitDto {
    pub id: UnitId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub type_key: String,
    /// False for a deactivated unit (kept for history; not offered for dispatch).
    pub active: bool,
}

impl From<&Unit> for UnitDto {
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnitRef {
    pub id: UnitId,
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryRefDto {
    pub standard: String,
    pub kind: String,
    pub code: String,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventDto {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub actor_id: Option<String>,
    pub actor_role: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: Option<String>,
    pub reason: Option<String>,
    pub unit_id: Option<UnitId>,
    pub extension: Option<String>,
    pub attachments: Vec<String>,
    /// The attachments resolved to photos with URLs (filled on case detail).
    pub photos: Vec<crate::attachments::PhotoDto>,
    /// The reply written for the citizen with this step (答复市民); the only public text.
    pub public_reply: Option<String>,
    /// On a void: the reason category the citizen is told.
    pub public_reason: Option<PublicReason>,
    /// On a call-back: what the reporter said (回访结果).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// On a registration that reclassified: the new category code and the old one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    /// On a registration that set the urgency: the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// On a re-dispatch (改派): the unit the case was taken from (`unit_id` is the new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_unit: Option<UnitId>,
    /// On a merge (合并): the master case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_into: Option<MergeRefDto>,
}

impl From<&Event> for EventDto {
    fn from(e: &Event) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            kind: e.kind.as_str(),
            actor_id: e.actor.person_id.map(|p| p.to_string()),
            actor_role: match e.actor.role {
                cityloop_domain::model::ActorRole::Staff(r) => r.as_str().into(),
                cityloop_domain::model::ActorRole::System => "system".into(),
                cityloop_domain::model::ActorRole::Public => "public".into(),
            },
            from_state: e.from_state.map(|s| s.as_str().into()),
            to_state: e.to_state.as_str().into(),
            note: e.note.clone(),
            reason: e.reason.clone(),
            unit_id: e.unit_id,
            extension: e.extension.map(|x| x.to_string()),
            attachments: e.attachments.clone(),
            photos: Vec::new(),
            public_reply: e.public_reply.clone(),
            public_reason: e.public_reason,
            satisfaction: e.satisfaction,
            category: e.category.as_ref().map(|c| c.code.clone()),
            previous_category: e.previous_category.as_ref().map(|c| c.code.clone()),
            priority: e.priority.map(|p| p.as_str().into()),
            previous_unit: e.previous_unit,
            merge_into: e.merge_into.as_ref().map(MergeRefDto::from),
        }
    }
}

/// A case as the staff API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseDto {
    pub id: String,
    pub number: String,
    pub state: String,
    pub state_zh: &'static str,
    pub source: String,
    pub priority: String,
    pub category: CategoryRefDto,
    pub area_grade: String,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
    pub routing: Routing,
    pub unit: Option<UnitRef>,
    pub suggested_unit: Option<UnitRef>,
    pub stage: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    /// True when `deadline` was computed on weekends only: it reaches into a year the
    /// working calendar has no State Council holiday notice for (console:
    /// 期限按周末推算（日历未覆盖该年）). Clears once that year's notice is loaded.
    pub deadline_weekends_only: bool,
    pub light: Option<Light>,
    /// The remaining (or overdue) working time of the current stage on the district
    /// calendar; absent when no stage clock runs (closed, voided, suspended).
    pub time_left: Option<TimeLeftDto>,
    pub version: i64,
    pub rework_count: i64,
    /// How often an unsatisfied call-back sent the case back to handling (重办).
    pub redo_count: i64,
    /// The closed case this one follows up ("still not fixed" after closing), by number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// The latest call-back's result (回访结果), if any.
    pub satisfaction: Option<Satisfaction>,
    /// A merged case (合并): the master that now carries its report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<MergeRefDto>,
    /// Case detail only: the cases merged into this one, with their reporters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<Vec<MergedCaseDto>>,
    /// How often the case was urged on (督办/催办).
    pub supervise_count: i64,
    /// How often it was re-dispatched to another unit (改派).
    pub redispatch_count: i64,
    /// The assisting units (协办) beside the lead `unit` (主办), in the order added, each
    /// with its task, state and own clock.
    pub assists: Vec<AssistDto>,
    pub return_count: i64,
    pub extension_count: i64,
    pub pending_extension: Option<String>,
    /// The citizen's query code (查询码) of a public or hotline case, in the detail only, so
    /// that an operator can read it to a caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_code: Option<String>,
    /// The operator's reason for a void (internal).
    pub void_reason: Option<String>,
    /// The reason category the citizen is told for a void.
    pub public_reason: Option<PublicReason>,
    /// The replies written for the citizen (答复市民), oldest first.
    pub public_replies: Vec<PublicReplyDto>,
    pub media: Vec<String>,
    /// The report's media resolved to photos (case detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photos: Option<Vec<crate::attachments::PhotoDto>>,
    pub reporter: ReporterDto,
    /// The 12345 ticket number or other channel reference a staff report carries (never
    /// set on public reports).
    pub external_ref: Option<String>,
    /// With `context=true` on a list, and on the case detail: the road chiefs of the
    /// case's road segment, 总路长 first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub road_chiefs: Option<Vec<cityloop_service::territory::RoadChiefRef>>,
    /// With `context=true` on a list: other open cases of the same category nearby
    /// (possible duplicates, nearest first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Vec<cityloop_service::territory::DuplicateRef>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<Action>>,
}

/// The remaining or overdue working time of a case's stage, for words such as
/// 剩余 3工作时 or 超期 1工作日.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TimeLeftDto {
    /// The stage deadline has passed.
    pub overdue: bool,
    /// Working minutes until the deadline, or since it when overdue.
    pub working_minutes: i64,
    /// The length of one working day on the district calendar, in minutes.
    pub working_day_minutes: i64,
}

impl TimeLeftDto {
    /// The time left of `case` with `deadline`, at `now`; None without a running clock.
    pub fn of(
        case: &Case,
        deadline: Option<DateTime<Utc>>,
        calendar: &WorkCalendar,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let deadline = deadline?;
        if case.state.is_terminal() || case.state == CaseState::Suspended {
            return None;
        }
        let (overdue, span) = if now <= deadline {
            (false, calendar.working_between(now, deadline))
        } else {
            (true, calendar.working_between(deadline, now))
        };
        Some(Self {
            overdue,
            working_minutes: span.num_minutes(),
            working_day_minutes: calendar.working_day_length().num_minutes(),
        })
    }
}

/// One assisting unit's part of a case (协办).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssistDto {
    pub unit: UnitRef,
    /// The task it was given (协办任务).
    pub task: String,
    pub state: cityloop_domain::cohandle::AssistState,
    /// 协办中 / 已反馈 / 已退回 / 已解除.
    pub state_zh: &'static str,
    pub added_at: DateTime<Utc>,
    /// Its own deadline (its clock: the handling limit plus its own extensions).
    pub deadline: Option<DateTime<Utc>>,
    /// Its own light while its part is open.
    pub light: Option<Light>,
    /// Its own time left while its part is open and the case is not suspended.
    pub time_left: Option<TimeLeftDto>,
    /// When it reported back, returned its task or was released.
    pub ended_at: Option<DateTime<Utc>>,
    /// The report's note, or the reason of the return or release (internal).
    pub outcome: Option<String>,
    /// On a report back: within its own clock.
    pub on_time: Option<bool>,
    pub extension_count: i64,
}

/// A reply written for the citizen.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicReplyDto {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// Contact details as the reader's role may see them (docs/API-DESIGN.md "Privacy"):
/// full, masked (`138****0000`, `张*`, `z***@example.cn`, `****ab12`) or absent. The phone
/// is never full here: roles that may see it call `POST /api/v1/cases/{id}/reveal-phone`,
/// which is logged. The public API never shows any of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReporterDto {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Open311 `device_id` / `account_id`, when the reader's role may see them.
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    /// The case has a phone number and the reader may reveal it in full (case detail).
    pub phone_revealable: bool,
    /// When the reporter called or came in (来电时间), on staff reports.
    pub contacted_at: Option<DateTime<Utc>>,
    /// The reporter asked to be called back (需要回访), on staff reports.
    pub callback: Option<bool>,
}

impl From<&cityloop_domain::case::Contact> for ReporterDto {
    fn from(c: &cityloop_domain::case::Contact) -> Self {
        Self {
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            device_id: c.device_id.clone(),
            account_id: c.account_id.clone(),
            phone_revealable: false,
            contacted_at: c.contacted_at,
            callback: c.callback,
        }
    }
}

/// Lookup tables to name units and categories in case DTOs.
pub struct Names {
    pub units: HashMap<UnitId, String>,
    pub categories: HashMap<CategoryCode, String>,
}

impl CaseDto {
    pub fn new(
        case: &Case,
        deadline: Option<DateTime<Utc>>,
        light: Option<Light>,
        names: &Names,
    ) -> Self {
        let unit_ref = |id: Option<UnitId>| {
            id.map(|id| UnitRef {
                id,
                name: names.units.get(&id).cloned().unwrap_or_default(),
            })
        };
        Self {
            id: case.id.to_string(),
            number: case.number.to_string(),
            state: case.state.as_str().into(),
            state_zh: case.state.zh(),
            source: case.source.as_str().into(),
            priority: case.priority.as_str().into(),
            category: CategoryRefDto {
                standard: case.category.standard.as_str().into(),
                kind: case.category.kind.as_str().into(),
                code: case.category.code.clone(),
                name: names.categories.get(&case.category).cloned(),
            },
            area_grade: case.area_grade.as_str().into(),
            description: case.description.clone(),
            lat: case.location.lat,
            lon: case.location.lon,
            address: case.location.address.clone(),
            routing: case.routing.clone(),
            unit: unit_ref(case.unit_id),
            suggested_unit: unit_ref(case.routing.unit_id),
            stage: case.stage().map(|s| s.as_str().into()),
            deadline,
            deadline_weekends_only: false,
            light,
            version: case.version,
            rework_count: case.rework_count,
            redo_count: case.redo_count,
            follows: case.follows.as_ref().map(|f| f.number.0.clone()),
            satisfaction: case.satisfaction,
            merged_into: case.merged_into.as_ref().map(MergeRefDto::from),
            merged: None,
            supervise_count: case.supervise_count,
            redispatch_count: case.redispatch_count,
            assists: case
                .assists
                .iter()
                .map(|a| AssistDto {
                    unit: UnitRef {
                        id: a.unit_id,
                        name: names.units.get(&a.unit_id).cloned().unwrap_or_default(),
                    },
                    task: a.task.clone(),
                    state: a.state,
                    state_zh: a.state.zh(),
                    added_at: a.added_at,
                    deadline: None,
                    light: None,
                    time_left: None,
                    ended_at: a.ended_at,
                    outcome: a.outcome.clone(),
                    on_time: a.on_time,
                    extension_count: a.extension_count,
                })
                .collect(),
            return_count: case.return_count,
            extension_count: case.extension_count,
            pending_extension: case.pending_extension.map(|x| x.to_string()),
            query_code: None,
            void_reason: case.void_reason.clone(),
            public_reason: case.public_reason,
            public_replies: case
                .public_replies
                .iter()
                .map(|r| PublicReplyDto {
                    at: r.at,
                    text: r.text.clone(),
                })
                .collect(),
            media: case.media.clone(),
            photos: None,
            reporter: ReporterDto::from(&case.reporter),
            external_ref: case
                .external_ref
                .clone()
                .filter(|_| case.source != Source::Public),
            road_chiefs: None,
            duplicates: None,
            time_left: None,
            created_at: case.created_at,
            updated_at: case.updated_at,
            closed_at: case.closed_at,
            events: None,
            allowed_actions: None,
        }
    }

    /// Sets [`CaseDto::time_left`] from the case's deadline, and each assisting unit's
    /// deadline, light and time left from its own clock.
    pub fn time_left(mut self, case: &Case, calendar: &WorkCalendar, now: DateTime<Utc>) -> Self {
        self.time_left = TimeLeftDto::of(case, self.deadline, calendar, now);
        for (dto, a) in self.assists.iter_mut().zip(&case.assists) {
            let deadline = a.deadline(calendar);
            dto.deadline = Some(deadline);
            dto.light = a.light(calendar, now);
            if a.state.is_open() {
                dto.time_left = TimeLeftDto::of(case, Some(deadline), calendar, now);
            }
        }
        self
    }

    /// Sets [`CaseDto::deadline_weekends_only`].
    pub fn weekends_only(mut self, yes: bool) -> Self {
        self.deadline_weekends_only = yes;
        self
    }

    pub fn detail(d: &CaseDetail, names: &Names) -> Self {
        let mut dto =
            Self::new(&d.case, d.deadline, d.light, names).weekends_only(d.deadline_weekends_only);
        dto.events = Some(d.events.iter().map(EventDto::from).collect());
        dto.allowed_actions = Some(d.allowed_actions.clone());
        dto.reporter.phone_revealable = d.contact_access.phone_revealable;
        dto.merged = Some(
            d.merged
                .iter()
                .map(|m| MergedCaseDto {
                    id: m.id.to_string(),
                    number: m.number.to_string(),
                    source: m.source.as_str().into(),
                    created_at: m.created_at,
                    description: m.description.clone(),
                    reporter: ReporterDto::from(&m.reporter),
                    merged_into: m.merged_into.to_string(),
                })
                .collect(),
        );
        dto
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseList {
    pub items: Vec<CaseDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/cases` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    pub state: Option<String>,
    pub unit: Option<String>,
    pub street: Option<String>,
    pub segment: Option<String>,
    pub category: Option<String>,
    pub source: Option<String>,
    pub overdue: Option<bool>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// `min_lon,min_lat,max_lon,max_lat`
    pub bbox: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50); at most 50 with `context=true`.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Add each row's queue context: `road_chiefs` and `duplicates` (open cases of the
    /// same category nearby).
    pub context: Option<bool>,
}

/// A reporter's full phone number, revealed to one reader (and written to the audit log).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevealedPhoneDto {
    pub case_id: String,
    pub number: String,
    pub phone: String,
    /// The audit row of this view (`GET /api/v1/admin/audit?entity=case_contact`).
    pub audit_id: String,
}
