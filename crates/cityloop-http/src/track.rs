//! The citizen's case page over HTTP: `GET /api/v1/public/cases/{ref}` with a query code
//! (查询码) or a full case number (see `cityloop_service::track` for what each opens).
//! Anyone may ask; each client address is limited (`--lookup-rate-per-address`, 429 with
//! `Retry-After`), so codes cannot be guessed at speed. The page's language is the
//! page's own (`lang=zh|en`), never the browser's, so a Chinese page reads Chinese.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::client::ClientIp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;
use cityloop_domain::workflow::Satisfaction;
use cityloop_service::open311::Lang;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/public/cases/{reference}", get(public_case))
        .route("/api/v1/public/cases/{reference}/rating", post(rate_case))
        .route(
            "/api/v1/public/cases/{reference}/still-not-fixed",
            post(still_not_fixed),
        )
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicCaseQuery {
    /// `zh` (default) or `en`.
    pub lang: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/public/cases/{reference}", tag = "system",
    params(("reference" = String, Path, description = "A query code (12 characters, hyphens optional) or a full case number"), PublicCaseQuery),
    responses((status = 200, description = "The case in citizen words: state, steps, photos, replies; never a staff note. Not cached.", body = cityloop_service::track::PublicCase),
              (status = 404, description = "No case has this code, or the number is not of a published case", body = ErrorBody),
              (status = 422, description = "`lang` or `reference` is malformed, named in `field`", body = ErrorBody),
              (status = 429, description = "Too many lookups from this address; see Retry-After", body = ErrorBody)))]
pub(crate) async fn public_case(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(reference): Path<String>,
    ApiQuery(q): ApiQuery<PublicCaseQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = page_lang(&q)?;
    st.svc.admit_public_lookup(ip)?;
    let page = st.svc.public_case(&reference, lang).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(page),
    ))
}

fn page_lang(q: &PublicCaseQuery) -> Result<Lang, ApiError> {
    match q.lang.as_deref() {
        None | Some("zh") => Ok(Lang::Zh),
        Some("en") => Ok(Lang::En),
        Some(other) => Err(ApiError::field(
            "lang",
            format!("{other:?} is not zh or en"),
        )),
    }
}

/// `POST /api/v1/public/cases/{code}/rating`: the reporter's answer to the call-back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// `satisfied` (满意), `basically_satisfied` (基本满意) or `unsatisfied` (不满意).
    pub satisfaction: Satisfaction,
    /// What the reporter adds (required with `unsatisfied`: what is still wrong); at most
    /// 500 characters; kept for staff, never published.
    #[serde(default)]
    pub comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/public/cases/{reference}/rating", tag = "system",
    params(("reference" = String, Path, description = "The query code from the receipt (a case number is refused)"), PublicCaseQuery),
    request_body = RatingRequest,
    responses((status = 200, description = "Rated: the case page after it (back in handling as 重办 when unsatisfied)", body = cityloop_service::track::PublicCase),
              (status = 404, description = "No case has this code", body = ErrorBody),
              (status = 409, description = "The case is not waiting for its call-back (not yet checked, or already rated this round)", body = ErrorBody),
              (status = 422, description = "A missing comment with `unsatisfied`, an unknown satisfaction, or not a query code, named in `field`", body = ErrorBody),
              (status = 429, description = "Too many lookups from this address; see Retry-After", body = ErrorBody)))]
pub(crate) async fn rate_case(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(reference): Path<String>,
    ApiQuery(q): ApiQuery<PublicCaseQuery>,
    ApiJson(req): ApiJson<RatingRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = page_lang(&q)?;
    st.svc.admit_public_lookup(ip)?;
    let page = st
        .svc
        .rate_case(&reference, req.satisfaction, req.comment.as_deref(), lang)
        .await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(page),
    ))
}

/// `POST /api/v1/public/cases/{code}/still-not-fixed`: the reporter says a closed case is
/// still not fixed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StillNotFixedRequest {
    /// What the problem looks like now (required, at most 500 characters); it becomes the
    /// new case's description after a line naming the closed case.
    pub comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/public/cases/{reference}/still-not-fixed", tag = "system",
    params(("reference" = String, Path, description = "The query code from the receipt of the closed case (a case number is refused)"), PublicCaseQuery),
    request_body = StillNotFixedRequest,
    responses((status = 200, description = "The new case opened for it (linked to the closed one, suggested to the unit that closed it), as its case page with its own query code; pressing again answers the same new case", body = cityloop_service::track::PublicCase),
              (status = 404, description = "No case has this code", body = ErrorBody),
              (status = 409, description = "The case is not closed, or was closed more than 30 days ago", body = ErrorBody),
              (status = 422, description = "A missing or overlong comment, or not a query code, named in `field`", body = ErrorBody),
              (status = 429, description = "Too many lookups from this address; see Retry-After", body = ErrorBody)))]
pub(crate) async fn still_not_fixed(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(reference): Path<String>,
    ApiQuery(q): ApiQuery<PublicCaseQuery>,
    ApiJson(req): ApiJson<StillNotFixedRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let lang = page_lang(&q)?;
    st.svc.admit_public_lookup(ip)?;
    let page = st
        .svc
        .still_not_fixed(&reference, req.comment.as_deref(), lang)
        .await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(page),
    ))
}
