//! Rankings (综合评价) and patrols over HTTP: league tables as JSON, CSV or Excel, the
//! cases behind a figure, and road chiefs' patrol records.
//!
//! Query parameters are parsed here; a bad one is a 400 `invalid_parameter` naming it.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cityloop_domain::evaluation::{IndicatorUnit, RankObject};
use cityloop_service::evaluation::{DrillCase, PatrolInput, Period, Ranking};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rankings", get(rankings))
        .route("/api/v1/rankings/cases", get(ranking_cases))
        .route("/api/v1/rankings/grid-heat", get(grid_heat))
        .route("/api/v1/patrols", post(record_patrol))
}

fn bad_param(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_parameter",
        message: format!("{field}: {message}"),
        field: Some(field.to_owned()),
        retry_after_s: None,
    }
}

/// Query of `GET /api/v1/rankings` and `GET /api/v1/rankings/cases`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// street, community, grid, department, road_chief, segment, inspector, operator,
    /// supervisor or dispatcher.
    pub object: Option<String>,
    /// First local day (YYYY-MM-DD); default the first day of the current month.
    pub from: Option<String>,
    /// Last local day, included (YYYY-MM-DD); default today.
    pub to: Option<String>,
    /// json (default), csv or xlsx.
    pub format: Option<String>,
    /// Drill-down: the object's id.
    pub id: Option<String>,
    /// Drill-down: the indicator key (e.g. `closure_rate`).
    pub indicator: Option<String>,
}

fn parse_object(q: &RankingQuery) -> Result<RankObject, ApiError> {
    let raw = q
        .object
        .as_deref()
        .ok_or_else(|| bad_param("object", "is required"))?;
    raw.parse::<RankObject>()
        .map_err(|e| bad_param("object", e.to_string()))
}

/// Today in the district's time zone (the default period is relative to it).
fn local_today(st: &AppState) -> NaiveDate {
    st.svc
        .now()
        .with_timezone(&st.svc.calendar().tz())
        .date_naive()
}

fn parse_period(q: &RankingQuery, today: NaiveDate) -> Result<Period, ApiError> {
    let day = |field: &str, v: &Option<String>, default: NaiveDate| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad_param(field, format!("{s:?} is not a date (YYYY-MM-DD)"))),
    };
    let first = today.with_day(1).unwrap_or(today);
    let from = day("from", &q.from, first)?;
    let to = day("to", &q.to, today)?;
    Period::new(from, to).map_err(|e| match e {
        cityloop_service::ServiceError::Invalid { field, message } => bad_param(&field, message),
        other => other.into(),
    })
}

/// One indicator in a row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndicatorDto {
    pub key: String,
    pub name_zh: String,
    /// count, percent (0–100) or hours.
    pub unit: String,
    pub value: Option<f64>,
}

/// One line of a league table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RankingRowDto {
    pub rank: Option<u32>,
    pub id: String,
    pub name: String,
    pub score: Option<f64>,
    pub grade: Option<String>,
    pub indicators: Vec<IndicatorDto>,
    pub previous_rank: Option<u32>,
    pub previous_score: Option<f64>,
    pub score_change: Option<f64>,
    pub rank_change: Option<i64>,
    /// red (红榜) or black (黑榜): ranked, at least the evaluation setting's
    /// `honour_min_cases` cases, and at least six such rows.
    pub honour: Option<String>,
    /// The object's cases in the period (what it is ranked on).
    pub cases: i64,
    /// No case in the period (无数据): no score, grade or rank.
    pub no_data: bool,
    /// No case in the previous period: `previous_*` and the changes are null.
    pub previous_no_data: bool,
}

/// A league table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RankingDto {
    pub object: String,
    pub object_zh: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    pub title_zh: String,
    pub weights: std::collections::BTreeMap<String, f64>,
    pub weights_verified: bool,
    /// Cases an object needs in the period for the 红黑榜 (evaluation setting
    /// `honour_min_cases`; invented default 5).
    pub honour_min_cases: i64,
    pub rows: Vec<RankingRowDto>,
}

fn unit_str(u: IndicatorUnit) -> &'static str {
    match u {
        IndicatorUnit::Count => "count",
        IndicatorUnit::Percent => "percent",
        IndicatorUnit::Hours => "hours",
    }
}

impl From<Ranking> for RankingDto {
    fn from(r: Ranking) -> Self {
        RankingDto {
            object: r.object.as_str().to_owned(),
            object_zh: r.object_zh.to_owned(),
            from: r.period.from,
            to: r.period.to,
            previous_from: r.previous.from,
            previous_to: r.previous.to,
            title_zh: r.title_zh,
            weights: r.weights,
            weights_verified: r.weights_verified,
            honour_min_cases: r.honour_min_cases,
            rows: r
                .rows
                .into_iter()
                .map(|row| RankingRowDto {
                    rank: row.rank,
                    id: row.id,
                    name: row.name,
                    score: row.score,
                    grade: row.grade.map(|g| g.as_str().to_owned()),
                    indicators: row
                        .indicators
                        .into_iter()
                        .map(|i| IndicatorDto {
                            key: i.key.to_owned(),
                            name_zh: i.name_zh.to_owned(),
                            unit: unit_str(i.unit).to_owned(),
                            value: i.value,
                        })
                        .collect(),
                    previous_rank: row.previous_rank,
                    previous_score: row.previous_score,
                    score_change: row.score_change,
                    rank_change: row.rank_change,
                    honour: row.honour.map(str::to_owned),
                    cases: row.cases,
                    no_data: row.no_data,
                    previous_no_data: row.previous_no_data,
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/rankings`
#[utoipa::path(get, path = "/api/v1/rankings", tag = "evaluation", security(("bearer" = [])),
    params(RankingQuery),
    responses((status = 200, description = "League table (JSON; text/csv or xlsx with format=)", body = RankingDto),
              (status = 400, description = "A bad query parameter, named in `field`", body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn rankings(
    State(st): State<AppState>,
    _staff: Staff,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> Result<Response, ApiError> {
    let object = parse_object(&q)?;
    let today = local_today(&st);
    let period = parse_period(&q, today)?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(bad_param("format", "must be json, csv or xlsx"));
    }
    let ranking = st.svc.ranking(object, period).await?;
    let dto = RankingDto::from(ranking);
    let stem = format!("rankings-{}-{}_{}", dto.object, dto.from, dto.to);
    match format {
        "csv" => Ok(download(
            csv_export(&dto, today)?,
            "text/csv; charset=utf-8",
            &stem,
            "csv",
        )),
        "xlsx" => Ok(download(
            xlsx_export(&dto, today)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &stem,
            "xlsx",
        )),
        _ => Ok(Json(dto).into_response()),
    }
}

fn download(body: Vec<u8>, content_type: &'static str, stem: &str, ext: &str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Column headers of an export, then one line per row. Numbers as in the JSON.
fn table(dto: &RankingDto) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut head: Vec<String> = ["排名", "名称", "综合得分", "等级"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if let Some(first) = dto.rows.first() {
        head.extend(first.indicators.iter().map(|i| match i.unit.as_str() {
            "percent" => format!("{}(%)", i.name_zh),
            _ => i.name_zh.clone(),
        }));
    }
    head.extend(
        ["上期排名", "名次变化", "得分变化", "红黑榜"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    let num = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Num);
    let rows = dto
        .rows
        .iter()
        .map(|r| {
            let mut line = vec![
                num(r.rank.map(f64::from)),
                Cell::Text(r.name.clone()),
                if r.no_data {
                    Cell::Text(NO_DATA_ZH.into())
                } else {
                    num(r.score)
                },
                r.grade.clone().map_or(Cell::Empty, Cell::Text),
            ];
            line.extend(r.indicators.iter().map(|i| num(i.value)));
            line.push(num(r.previous_rank.map(f64::from)));
            line.push(num(r.rank_change.map(|c| c as f64)));
            line.push(num(r.score_change));
            line.push(match r.honour.as_deref() {
                Some("red") => Cell::Text("红榜".into()),
                Some("black") => Cell::Text("黑榜".into()),
                _ => Cell::Empty,
            });
            line
        })
        .collect();
    (head, rows)
}

/// What an object without cases in the period shows instead of a score.
const NO_DATA_ZH: &str = "无数据";

enum Cell {
    Empty,
    Num(f64),
    Text(String),
}

fn dated_zh(d: NaiveDate) -> String {
    format!("制表日期：{}年{}月{}日", d.year(), d.month(), d.day())
}

fn export_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::from(cityloop_service::ServiceError::Internal(anyhow::anyhow!(
        "export: {e}"
    )))
}

fn csv_export(dto: &RankingDto, today: NaiveDate) -> Result<Vec<u8>, ApiError> {
    let (head, rows) = table(dto);
    // A byte-order mark so spreadsheet programs read the Chinese text as UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        w.write_record([dto.title_zh.as_str()])
            .map_err(export_error)?;
        w.write_record([dated_zh(today)]).map_err(export_error)?;
        w.write_record(&head).map_err(export_error)?;
        for r in rows {
            let line: Vec<String> = r
                .into_iter()
                .map(|c| match c {
                    Cell::Empty => String::new(),
                    Cell::Num(v) => v.to_string(),
                    Cell::Text(s) => s,
                })
                .collect();
            w.write_record(&line).map_err(export_error)?;
        }
        w.flush().map_err(export_error)?;
    }
    Ok(out)
}

fn xlsx_export(dto: &RankingDto, today: NaiveDate) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, FormatAlign, Workbook};
    let (head, rows) = table(dto);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(dto.object_zh.as_str()).map_err(export_error)?;
    let title = Format::new().set_bold().set_font_size(16);
    let bold = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_text_wrap()
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let cell = Format::new().set_border(rust_xlsxwriter::FormatBorder::Thin);
    let number = Format::new()
        .set_num_format("0.##")
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    ws.write_string_with_format(0, 0, &dto.title_zh, &title)
        .map_err(export_error)?;
    ws.write_string(1, 0, dated_zh(today))
        .map_err(export_error)?;
    for (c, h) in head.iter().enumerate() {
        let c = u16::try_from(c).map_err(export_error)?;
        ws.write_string_with_format(3, c, h, &bold)
            .map_err(export_error)?;
        ws.set_column_width(c, if c == 1 { 24 } else { 11 })
            .map_err(export_error)?;
    }
    for (r, line) in rows.into_iter().enumerate() {
        let r = u32::try_from(r + 4).map_err(export_error)?;
        for (c, v) in line.into_iter().enumerate() {
            let c = u16::try_from(c).map_err(export_error)?;
            match v {
                Cell::Empty => ws.write_blank(r, c, &cell),
                Cell::Num(n) => ws.write_number_with_format(r, c, n, &number),
                Cell::Text(s) => ws.write_string_with_format(r, c, s, &cell),
            }
            .map_err(export_error)?;
        }
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(3, 3).map_err(export_error)?;
    wb.save_to_buffer().map_err(export_error)
}

/// One case behind a figure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrillCaseDto {
    pub id: String,
    pub number: String,
    pub state: String,
    pub source: String,
    pub category: String,
    pub street_code: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The local day (YYYY-MM-DD) the figure is dated at.
    pub day: String,
    /// What the case adds to the figure (1, or e.g. 2 failed checks for rework).
    pub value: i64,
}

/// The cases behind one figure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrillDto {
    pub object: String,
    pub id: String,
    pub indicator: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cases: Vec<DrillCaseDto>,
}

fn day_text(d: i32) -> String {
    format!("{:04}-{:02}-{:02}", d / 10_000, d / 100 % 100, d % 100)
}

impl From<DrillCase> for DrillCaseDto {
    fn from(c: DrillCase) -> Self {
        DrillCaseDto {
            id: c.id.to_string(),
            number: c.number,
            state: c.state,
            source: c.source,
            category: c.category,
            street_code: c.street_code,
            created_at: c.created_at,
            day: day_text(c.day),
            value: c.value,
        }
    }
}

/// `GET /api/v1/rankings/cases`
#[utoipa::path(get, path = "/api/v1/rankings/cases", tag = "evaluation", security(("bearer" = [])),
    params(RankingQuery),
    responses((status = 200, description = "The cases behind the figure that are in the caller's read scope (a handler: their unit's; a road chief of a street: that street's)", body = DrillDto),
              (status = 400, description = "A bad query parameter, named in `field`", body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn ranking_cases(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> Result<Json<DrillDto>, ApiError> {
    let object = parse_object(&q)?;
    let period = parse_period(&q, local_today(&st))?;
    let id =
        q.id.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad_param("id", "is required"))?;
    let indicator = q
        .indicator
        .clone()
        .ok_or_else(|| bad_param("indicator", "is required"))?;
    if cityloop_service::evaluation::drill_metric(object, &indicator).is_none() {
        return Err(bad_param(
            "indicator",
            format!("{indicator:?} is not a case-backed indicator of {object}"),
        ));
    }
    let cases = st
        .svc
        .ranking_cases(&staff.actor, object, &id, &indicator, period)
        .await?;
    Ok(Json(DrillDto {
        object: object.as_str().to_owned(),
        id,
        indicator,
        from: period.from,
        to: period.to,
        cases: cases.into_iter().map(Into::into).collect(),
    }))
}

/// Cases registered per unit grid in a period, with the grids' geometry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GridHeatDto {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The largest count of any grid (0 when no case was registered).
    pub max: i64,
    /// GeoJSON features (WGS84) of the grids with at least one case, each with the
    /// properties `code`, `cases` (registered in the period) and `schematic`.
    #[schema(value_type = Vec<Object>)]
    pub features: Vec<serde_json::Value>,
}

/// `GET /api/v1/rankings/grid-heat`: the heat map of cases by unit grid (单元网格). Grids
/// without a case in the period are left out, so the answer stays small.
#[utoipa::path(get, path = "/api/v1/rankings/grid-heat", tag = "evaluation", security(("bearer" = [])),
    params(RankingQuery),
    responses((status = 200, description = "Grids with cases as a GeoJSON FeatureCollection", body = GridHeatDto),
              (status = 400, description = "A bad query parameter, named in `field`", body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn grid_heat(
    State(st): State<AppState>,
    _staff: Staff,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> Result<Json<GridHeatDto>, ApiError> {
    let period = parse_period(&q, local_today(&st))?;
    let heat = st.svc.grid_heat(period).await?;
    let features = heat
        .cells
        .into_iter()
        .map(|(g, n)| {
            serde_json::json!({
                "type": "Feature",
                "geometry": g.geometry,
                "properties": {"code": g.code, "cases": n, "schematic": g.schematic},
            })
        })
        .collect();
    Ok(Json(GridHeatDto {
        kind: "FeatureCollection".to_owned(),
        from: period.from,
        to: period.to,
        max: heat.max,
        features,
    }))
}

/// `POST /api/v1/patrols` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatrolRequest {
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Segment ids checked in on.
    #[serde(default)]
    pub segments: Vec<String>,
    /// GPS track points `[lon, lat]` (WGS84).
    #[serde(default)]
    pub points: Vec<[f64; 2]>,
    pub note: Option<String>,
}

/// A recorded patrol.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatrolDto {
    pub id: String,
    pub person_id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub segments: Vec<String>,
    pub points: usize,
}

/// `POST /api/v1/patrols`
#[utoipa::path(post, path = "/api/v1/patrols", tag = "evaluation", security(("bearer" = [])),
    request_body = PatrolRequest,
    responses((status = 201, body = PatrolDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not a road chief", body = ErrorBody),
              (status = 422, description = "Invalid field", body = ErrorBody)))]
pub(crate) async fn record_patrol(
    State(st): State<AppState>,
    staff: Staff,
    ApiJson(req): ApiJson<PatrolRequest>,
) -> Result<(StatusCode, Json<PatrolDto>), ApiError> {
    let p = st
        .svc
        .record_patrol(
            &staff.person,
            PatrolInput {
                started_at: req.started_at,
                ended_at: req.ended_at,
                segments: req.segments,
                points: req.points,
                note: req.note,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PatrolDto {
            id: p.id.to_string(),
            person_id: p.person_id.to_string(),
            started_at: p.started_at,
            ended_at: p.ended_at,
            segments: p.segments,
            points: p.points.len(),
        }),
    ))
}
