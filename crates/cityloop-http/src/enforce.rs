//! Parties and enforcement records over HTTP (issue 20): `/api/v1/parties` (create,
//! search, a party's page with its flag, cases and records), a case's party and its
//! enforcement (`/api/v1/cases/{id}/party`, `/api/v1/cases/{id}/enforcement`, steps
//! under `/steps`), the law-article table, and the admin's table and repeat-offender
//! rule. Thin: DTO → service call → DTO; the procedure's checks are the domain's.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::enforce::{
    LawArticle, LimitClock, LimitKind, PenaltyKind, ProcState, Procedure, Step, StepEvent, StepKind,
};
use cityloop_domain::ids::CaseId;
use cityloop_domain::party::{FlagHit, PartyKind, RepeatRule};
use cityloop_service::enforce::{
    CaseEnforcement, FlagView, NewParty, PartyPage, PartyView, RecordView,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/parties", get(search_parties).post(create_party))
        .route("/api/v1/parties/{id}", get(party_page))
        .route("/api/v1/cases/{id}/party", put(set_case_party))
        .route("/api/v1/cases/{id}/enforcement", get(case_enforcement))
        .route("/api/v1/cases/{id}/enforcement/steps", post(record_step))
        .route("/api/v1/law-articles", get(law_articles))
        .route("/api/v1/admin/law-articles", put(put_law_articles))
        .route("/api/v1/admin/repeat-offender", put(put_repeat_rule))
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `POST /api/v1/parties`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartyRequest {
    /// `person` or `organisation`.
    pub kind: Option<PartyKind>,
    /// 1–100 characters.
    pub name: Option<String>,
    /// Organisations: the 18-character 统一社会信用代码 (its GB 32100 check character is
    /// checked; lower case is accepted and stored upper case).
    pub credit_code: Option<String>,
    /// People: an id number (at most 32 characters); shown in full only to 城管执法.
    pub id_number: Option<String>,
    pub address: Option<String>,
}

/// A party as the caller may see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartyDto {
    pub id: Uuid,
    pub kind: PartyKind,
    /// 自然人 / 单位.
    pub kind_zh: String,
    pub name: String,
    pub credit_code: Option<String>,
    /// Full to enforcement officers (城管执法), masked (`****1234`) to every other role.
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PartyView> for PartyDto {
    fn from(p: PartyView) -> Self {
        PartyDto {
            id: p.id,
            kind: p.kind,
            kind_zh: p.kind.zh().to_owned(),
            name: p.name,
            credit_code: p.credit_code,
            id_number: p.id_number,
            address: p.address,
            created_at: p.created_at,
        }
    }
}

/// A party's repeat-offender status (黑名单).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlagDto {
    /// Whether the party is on the list now.
    pub flagged: bool,
    /// The counts that put it there (empty when not flagged).
    pub hits: Vec<FlagHit>,
    /// When it leaves the list unless something new happens.
    pub expires_at: Option<DateTime<Utc>>,
    /// The rule in force.
    pub rule: RepeatRule,
    /// true: the rule is the invented default (no district setting yet).
    pub rule_is_default: bool,
}

impl From<FlagView> for FlagDto {
    fn from(f: FlagView) -> Self {
        FlagDto {
            flagged: f.flag.is_some(),
            expires_at: f.flag.as_ref().map(|x| x.expires_at),
            hits: f.flag.map(|x| x.hits).unwrap_or_default(),
            rule: f.rule,
            rule_is_default: f.rule_is_default,
        }
    }
}

/// One stored step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepDto {
    pub seq: u32,
    pub kind: StepKind,
    pub at: DateTime<Utc>,
    pub doc_no: Option<String>,
    pub note: Option<String>,
    pub hearing_right: Option<bool>,
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    pub amount_yuan: Option<i64>,
    pub corrects: Option<u32>,
    pub attachments: Vec<String>,
}

impl From<StepEvent> for StepDto {
    fn from(s: StepEvent) -> Self {
        StepDto {
            seq: s.seq,
            kind: s.kind,
            at: s.at,
            doc_no: s.doc_no,
            note: s.note,
            hearing_right: s.hearing_right,
            article: s.article,
            penalty: s.penalty,
            amount_yuan: s.amount_yuan,
            corrects: s.corrects,
            attachments: s.attachments,
        }
    }
}

/// A statutory clock of a record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockDto {
    pub kind: LimitKind,
    /// `90自然日`, `7工作日`.
    pub limit: String,
    /// The article the limit comes from.
    pub basis: String,
    /// `verified` or `未核实`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub light: Light,
}

impl From<LimitClock> for ClockDto {
    fn from(c: LimitClock) -> Self {
        ClockDto {
            kind: c.kind,
            limit: c.limit,
            basis: c.basis,
            status: c.status,
            started_at: c.started_at,
            deadline: c.deadline,
            done_at: c.done_at,
            light: c.light,
        }
    }
}

/// An enforcement record (执法记录).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordDto {
    pub id: Uuid,
    pub case_id: CaseId,
    pub party_id: Uuid,
    pub procedure: Procedure,
    pub state: ProcState,
    /// 立案 … 结案.
    pub state_zh: String,
    /// The legal basis (a law-article code).
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    /// The fine after corrections.
    pub amount_yuan: Option<i64>,
    pub dropped: bool,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub served_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Every step in order, corrections included (append-only).
    pub steps: Vec<StepDto>,
    pub clocks: Vec<ClockDto>,
    /// The steps that may follow (besides `correct`).
    pub next: Vec<StepKind>,
}

impl From<RecordView> for RecordDto {
    fn from(v: RecordView) -> Self {
        let r = v.record;
        RecordDto {
            id: v.id,
            case_id: v.case_id,
            party_id: v.party_id,
            procedure: r.procedure,
            state: r.state,
            state_zh: r.state.zh().to_owned(),
            article: r.article,
            penalty: r.penalty,
            amount_yuan: r.amount_yuan,
            dropped: r.dropped,
            filed_at: r.filed_at,
            decided_at: r.decided_at,
            served_at: r.served_at,
            executed_at: r.executed_at,
            closed_at: r.closed_at,
            steps: r.steps.into_iter().map(Into::into).collect(),
            clocks: v.clocks.into_iter().map(Into::into).collect(),
            next: v.next,
        }
    }
}

/// A case's enforcement: its party, the party's flag (a flagged party marks the case for
/// the operator), its records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseEnforcementDto {
    pub party: Option<PartyDto>,
    pub flag: Option<FlagDto>,
    pub records: Vec<RecordDto>,
}

impl From<CaseEnforcement> for CaseEnforcementDto {
    fn from(e: CaseEnforcement) -> Self {
        CaseEnforcementDto {
            party: e.party.map(Into::into),
            flag: e.flag.map(Into::into),
            records: e.records.into_iter().map(Into::into).collect(),
        }
    }
}

/// A case naming the party.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartyCaseDto {
    pub id: CaseId,
    pub reported_at: DateTime<Utc>,
}

/// A party's page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartyPageDto {
    pub party: PartyDto,
    pub flag: FlagDto,
    /// Cases naming the party, oldest first (its episodes).
    pub cases: Vec<PartyCaseDto>,
    /// Its enforcement records, oldest first.
    pub records: Vec<RecordDto>,
}

impl From<PartyPage> for PartyPageDto {
    fn from(p: PartyPage) -> Self {
        PartyPageDto {
            party: p.party.into(),
            flag: p.flag.into(),
            cases: p
                .cases
                .into_iter()
                .map(|(id, reported_at)| PartyCaseDto { id, reported_at })
                .collect(),
            records: p.records.into_iter().map(Into::into).collect(),
        }
    }
}

/// A list of parties.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartyList {
    pub items: Vec<PartyDto>,
}

/// `GET /api/v1/parties` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PartyQuery {
    /// Part of the name, or the first characters of the credit code (1–64 characters).
    pub q: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `PUT /api/v1/cases/{id}/party`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPartyRequest {
    pub party_id: Option<String>,
}

/// `POST /api/v1/cases/{id}/enforcement/steps`: one step. `record_id` absent opens a
/// record (`file` or `on_the_spot`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    pub record_id: Option<String>,
    pub kind: Option<StepKind>,
    /// When the step happened (not in the future).
    pub at: Option<DateTime<Utc>>,
    /// The document number (文书编号), at most 64 characters; required except for
    /// `statement`, `request_hearing`, `drop` and `correct`.
    pub doc_no: Option<String>,
    /// At most 2000 characters; required for `statement`, `drop` and `correct`.
    pub note: Option<String>,
    /// `notify`: whether the party may ask for a hearing.
    pub hearing_right: Option<bool>,
    /// `decide`/`on_the_spot`: the legal basis, a code of `GET /api/v1/law-articles`.
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    /// The fine in whole yuan, within the article's range for the party's kind (and at
    /// most 200 for a person / 3000 for an organisation on the spot).
    pub amount_yuan: Option<i64>,
    /// `correct`: the seq of the corrected step.
    pub corrects: Option<u32>,
    /// Attachment ids (at most 20).
    pub attachments: Option<Vec<String>>,
}

/// The law-article table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LawArticleList {
    pub items: Vec<LawArticle>,
}

fn uuid_of(s: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s.trim()).map_err(|_| ApiError::not_found(format!("{what} {s:?} not found")))
}

fn case_id(s: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(s).map_err(|_| ApiError::not_found(format!("case {s:?} not found")))
}

#[utoipa::path(post, path = "/api/v1/parties", tag = "enforcement", security(("bearer" = [])), request_body = CreatePartyRequest,
    responses((status = 201, body = PartyDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not an enforcement officer, operator, dispatcher or supervisor", body = ErrorBody),
              (status = 409, description = "A party with this credit code exists (`field`: `credit_code`)", body = ErrorBody),
              (status = 422, description = "Invalid field, named in `field`: a credit code with a wrong check character, a person with a credit code", body = ErrorBody)))]
pub(crate) async fn create_party(
    State(st): State<AppState>,
    staff: Staff,
    ApiJson(b): ApiJson<CreatePartyRequest>,
) -> Result<(axum::http::StatusCode, Json<PartyDto>), ApiError> {
    let p = st
        .svc
        .create_party(
            &staff.actor,
            NewParty {
                kind: b.kind,
                name: b.name,
                credit_code: b.credit_code,
                id_number: b.id_number,
                address: b.address,
            },
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(p.into())))
}

#[utoipa::path(get, path = "/api/v1/parties", tag = "enforcement", security(("bearer" = [])), params(PartyQuery),
    responses((status = 200, body = PartyList), (status = 401, body = ErrorBody),
              (status = 422, description = "`q` missing or over 64 characters", body = ErrorBody)))]
pub(crate) async fn search_parties(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<PartyQuery>,
) -> ApiResult<PartyList> {
    let items = st
        .svc
        .search_parties(
            &staff.actor,
            q.q.as_deref().unwrap_or(""),
            q.limit.unwrap_or(20),
        )
        .await?;
    Ok(Json(PartyList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/parties/{id}", tag = "enforcement", security(("bearer" = [])),
    params(("id" = String, Path, description = "Party id")),
    responses((status = 200, description = "The party, its flag (黑名单), its cases and records", body = PartyPageDto),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn party_page(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<PartyPageDto> {
    let id = uuid_of(&id, "party")?;
    Ok(Json(st.svc.party_page(&staff.actor, id).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/cases/{id}/party", tag = "enforcement", security(("bearer" = [])), request_body = SetPartyRequest,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case's enforcement; `flag.flagged` marks a repeat offender for the operator", body = CaseEnforcementDto),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "`party_id` missing or unknown", body = ErrorBody)))]
pub(crate) async fn set_case_party(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SetPartyRequest>,
) -> ApiResult<CaseEnforcementDto> {
    let case = case_id(&id)?;
    let party = b
        .party_id
        .as_deref()
        .and_then(|p| Uuid::parse_str(p.trim()).ok())
        .ok_or_else(|| ApiError::field("party_id", "required: a party id"))?;
    Ok(Json(
        st.svc
            .set_case_party(&staff.actor, case, party)
            .await?
            .into(),
    ))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/enforcement", tag = "enforcement", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseEnforcementDto), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn case_enforcement(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<CaseEnforcementDto> {
    let case = case_id(&id)?;
    Ok(Json(
        st.svc.case_enforcement(&staff.actor, case).await?.into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/enforcement/steps", tag = "enforcement", security(("bearer" = [])), request_body = StepRequest,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "The record after the step, with its clocks", body = RecordDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not an enforcement officer of the case's unit", body = ErrorBody),
              (status = 404, description = "No such case or record", body = ErrorBody),
              (status = 409, description = "The step cannot follow where the record stands (`field`: `kind`), or another step took its place", body = ErrorBody),
              (status = 422, description = "Invalid field, named in `field`: a decision without `article`, an `amount_yuan` outside the article's range, a missing `doc_no`", body = ErrorBody)))]
pub(crate) async fn record_step(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StepRequest>,
) -> Result<(axum::http::StatusCode, Json<RecordDto>), ApiError> {
    let case = case_id(&id)?;
    let record = b
        .record_id
        .as_deref()
        .map(|r| {
            Uuid::parse_str(r.trim()).map_err(|_| ApiError::field("record_id", "not a record id"))
        })
        .transpose()?;
    let step = Step {
        kind: b.kind,
        at: b.at,
        doc_no: b.doc_no,
        note: b.note,
        hearing_right: b.hearing_right,
        article: b.article,
        penalty: b.penalty,
        amount_yuan: b.amount_yuan,
        corrects: b.corrects,
        attachments: b.attachments.unwrap_or_default(),
    };
    let r = st.svc.record_step(&staff.actor, case, record, step).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r.into())))
}

#[utoipa::path(get, path = "/api/v1/law-articles", tag = "enforcement", security(("bearer" = [])),
    responses((status = 200, description = "The district's law-article table (every row cites its source; `status` 未核实 marks rows not checked against the official text)", body = LawArticleList),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn law_articles(
    State(st): State<AppState>,
    _staff: Staff,
) -> ApiResult<LawArticleList> {
    Ok(Json(LawArticleList {
        items: st.svc.law_articles().await?,
    }))
}

#[utoipa::path(put, path = "/api/v1/admin/law-articles", tag = "admin", security(("bearer" = [])), request_body = LawArticlesBody,
    responses((status = 200, body = LawArticleList), (status = 401, body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "Invalid row, named in `field` (`articles[3].source`)", body = ErrorBody)))]
pub(crate) async fn put_law_articles(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<LawArticlesBody>,
) -> ApiResult<LawArticleList> {
    Ok(Json(LawArticleList {
        items: st.svc.admin_put_law_articles(&me, b.items).await?,
    }))
}

/// `PUT /api/v1/admin/law-articles`: the whole table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LawArticlesBody {
    pub items: Vec<LawArticle>,
}

#[utoipa::path(put, path = "/api/v1/admin/repeat-offender", tag = "admin", security(("bearer" = [])), request_body = RepeatRule,
    responses((status = 200, body = RepeatRule), (status = 401, body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "Invalid field (`period_days` 1–3660; not both thresholds 0)", body = ErrorBody)))]
pub(crate) async fn put_repeat_rule(
    State(st): State<AppState>,
    Admin(me): Admin,
    ApiJson(b): ApiJson<RepeatRule>,
) -> ApiResult<RepeatRule> {
    Ok(Json(st.svc.admin_put_repeat_rule(&me, b).await?))
}
