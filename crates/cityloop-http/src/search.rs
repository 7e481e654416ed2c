//! Case search for staff (issue 15): `GET /api/v1/cases/search` (keys, filters, sorting,
//! keyset pages) and `GET /api/v1/cases/by-number/{number}`. Thin: the query string
//! becomes a `SearchRequest`, the service checks every value (naming the field it
//! refuses), applies the reader's scope and shapes the rows.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use cityloop_service::search::SearchRequest;

use crate::dto::{CaseDto, CaseList};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases/search", get(search))
        .route("/api/v1/cases/by-number/{number}", get(by_number))
}

/// Declares a staff query-string struct: the case filters of the search (every given
/// value narrows the result, AND) followed by the struct's own fields, and
/// `take_request`, which moves the filters into a [`SearchRequest`]. The search and the
/// export both declare theirs with it, so a new filter is added once.
/// (`serde(flatten)` cannot be used: it does not combine with `deny_unknown_fields` and
/// loses typed values in query strings.)
macro_rules! case_filter_query {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The case number, whole (`410103-20261126-0042`) or its last digits (at least 3: `0042`).
            pub number: Option<String>,
            /// The 12345 工单号 (external reference), exactly.
            pub external_ref: Option<String>,
            /// The reporter's phone: its last 4 digits or the whole number. Rows still show the
            /// phone only as the reader's privacy policy allows (masked for most roles); roles
            /// that see no phone (road chiefs) may not search by it (403).
            pub phone: Option<String>,
            /// Free text in description, address, road name and notes, at most 50 characters; a
            /// two-character Chinese word (井盖, 占道) is the shortest Chinese query.
            pub q: Option<String>,
            /// Reported at or after.
            pub created_from: Option<chrono::DateTime<chrono::Utc>>,
            /// Reported before.
            pub created_to: Option<chrono::DateTime<chrono::Utc>>,
            /// Comma-separated states.
            pub state: Option<String>,
            /// Street office code (9 digits).
            pub street: Option<String>,
            /// Community code (12 digits).
            pub community: Option<String>,
            /// Unit grid code.
            pub grid: Option<String>,
            /// Handling unit id.
            pub unit: Option<String>,
            pub source: Option<String>,
            /// Category code (e.g. `0101`).
            pub category: Option<String>,
            /// Major class: `<kind>:<two digits>`, e.g. `component:01` (部件 · 公用设施).
            pub major: Option<String>,
            /// Deadline light of the running stage: `green`, `yellow`, `red`.
            pub light: Option<String>,
            /// true: only overdue cases; false: none of them.
            pub overdue: Option<bool>,
            /// Person id of a road chief (路长): cases on the road segments they hold now.
            pub road_chief: Option<String>,
            /// `reported` (newest first, default), `deadline` (soonest first, running stages only)
            /// or `overdue` (overdue cases only, longest overdue first).
            pub sort: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The filters as a search request (no cursor, no page size), leaving the
            /// struct's own fields in place.
            pub(crate) fn take_request(&mut self) -> cityloop_service::search::SearchRequest {
                cityloop_service::search::SearchRequest {
                    number: self.number.take(),
                    external_ref: self.external_ref.take(),
                    phone: self.phone.take(),
                    q: self.q.take(),
                    created_from: self.created_from.take(),
                    created_to: self.created_to.take(),
                    state: self.state.take(),
                    street: self.street.take(),
                    community: self.community.take(),
                    grid: self.grid.take(),
                    unit: self.unit.take(),
                    source: self.source.take(),
                    category: self.category.take(),
                    major: self.major.take(),
                    light: self.light.take(),
                    overdue: self.overdue.take(),
                    road_chief: self.road_chief.take(),
                    sort: self.sort.take(),
                    cursor: None,
                    limit: None,
                }
            }
        }
    };
}
pub(crate) use case_filter_query;

case_filter_query! {
    /// `GET /api/v1/cases/search` query. Every given value narrows the result; keys and
    /// filters combine (AND).
    pub struct SearchQuery {
        /// `next_cursor` of the previous page (of the same `sort`).
        pub cursor: Option<String>,
        /// Page size, 1 to 200 (default 50).
        #[param(minimum = 1, maximum = 200)]
        pub limit: Option<u32>,
    }
}

#[utoipa::path(get, path = "/api/v1/cases/search", tag = "cases", operation_id = "search_cases", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, description = "A page of matching cases in the caller's scope, in the requested order; keyset pages stay stable while cases are added", body = CaseList),
              (status = 401, body = ErrorBody),
              (status = 403, description = "A filter outside the caller's scope, or a phone search by a role that sees no phone numbers", body = ErrorBody),
              (status = 422, description = "Invalid or unknown value, named in `field`: an unknown filter value, text over 50 characters, a phone that is not a phone", body = ErrorBody),
              (status = 503, description = "The search ran past its 2 s limit (narrow it) or the database is unavailable", body = ErrorBody)))]
pub(crate) async fn search(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(mut q): ApiQuery<SearchQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let req = SearchRequest {
        cursor: q.cursor.take(),
        limit: q.limit,
        ..q.take_request()
    };
    let page = st.svc.search_cases(&staff.actor, &req).await?;
    let names = crate::routes::names(&st).await?;
    let now = st.svc.now();
    let calendar = st.svc.calendar();
    let items = page
        .cases
        .iter()
        .map(|c| {
            CaseDto::new(c, c.deadline(&calendar), c.light(&calendar, now), &names)
                .weekends_only(c.deadline_weekends_only(&calendar))
        })
        .collect();
    Ok(Json(CaseList {
        items,
        next_cursor: page.next.map(|c| c.to_token()),
    }))
}

#[utoipa::path(get, path = "/api/v1/cases/by-number/{number}", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "The case number as printed, e.g. 410103-20261126-0042")),
    responses((status = 200, description = "The case with its timeline (`events`) and `allowed_actions`", body = CaseDto),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Outside the caller's scope", body = ErrorBody),
              (status = 404, description = "No case has this number", body = ErrorBody),
              (status = 422, description = "Not a case number (`field`: `number`)", body = ErrorBody)))]
pub(crate) async fn by_number(
    State(st): State<AppState>,
    staff: Staff,
    Path(number): Path<String>,
) -> Result<Json<CaseDto>, ApiError> {
    let d = st.svc.case_by_number(&staff.actor, &number).await?;
    let mut dto = CaseDto::detail(&d, &crate::routes::names(&st).await?);
    crate::attachments::add_photos(&st, &staff.actor, &mut dto).await?;
    Ok(Json(dto))
}
