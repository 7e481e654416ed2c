//! The citizen's case page over HTTP: `GET /api/v1/public/cases/{ref}` with a query code
//! (查询码) or a full case number (see `cityloop_service::track` for what each opens).
//! Anyone may ask; each client address is limited (`--lookup-rate-per-address`, 429 with
//! `Retry-After`), so codes cannot be guessed at speed. The page's language is the
//! page's own (`lang=zh|en`), never the browser's, so a Chinese page reads Chinese.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::client::ClientIp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::AppState;
use cityloop_service::open311::Lang;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/public/cases/{reference}", get(public_case))
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
    let lang = match q.lang.as_deref() {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::field(
                "lang",
                format!("{other:?} is not zh or en"),
            ))
        }
    };
    st.svc.admit_public_lookup(ip)?;
    let page = st.svc.public_case(&reference, lang).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(page),
    ))
}
