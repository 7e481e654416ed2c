//! The maps over HTTP: territory layers by view (`GET /api/v1/map/layers`, GeoJSON with
//! entity tags), address search and reverse geocoding (`/api/v1/map/search`,
//! `/api/v1/map/reverse`), and clusters of open cases (`/api/v1/map/clusters`, staff).
//!
//! Layers, search and reverse are public (the citizens' page uses them); a staff token,
//! when sent, adds the road chiefs to road features. A bad query parameter is a 422 naming
//! it (docs/API-DESIGN.md, "Maps").

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cityloop_geo::geocode::Place;
use cityloop_geo::mapview::{MapLayer, ViewBox, ViewError};
use cityloop_service::maps::{ClustersAnswer, MapConfig, ReverseAnswer};
use serde::Deserialize;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/map/layers", get(layers))
        .route("/api/v1/map/search", get(search))
        .route("/api/v1/map/reverse", get(reverse))
        .route("/api/v1/map/clusters", get(clusters))
        .route("/api/v1/map/config", get(config))
        .route("/api/v1/admin/map/tiles", axum::routing::put(put_tiles))
}

#[utoipa::path(get, path = "/api/v1/map/config", tag = "maps",
    responses((status = 200, description = "The tile source (null: the territory is the base map, offline), the territory's extent and whether it is schematic", body = MapConfig)))]
pub(crate) async fn config(State(st): State<AppState>) -> Json<MapConfig> {
    Json(st.svc.map_config())
}

/// `PUT /api/v1/admin/map/tiles` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TilesBody {
    /// The tile source; null removes it (the territory becomes the base map again).
    pub tiles: Option<cityloop_geo::tiles::TileSource>,
}

#[utoipa::path(put, path = "/api/v1/admin/map/tiles", tag = "admin", security(("bearer" = [])),
    request_body = TilesBody,
    responses((status = 200, description = "The maps' settings after the change", body = MapConfig),
              (status = 401, body = ErrorBody),
              (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A bad field, named in `field`: url (https only, or http on a private LAN address with allow_http_lan), subdomains, key, attribution, max_zoom, coord", body = ErrorBody)))]
pub(crate) async fn put_tiles(
    State(st): State<AppState>,
    crate::admin::Admin(me): crate::admin::Admin,
    crate::extract::ApiJson(body): crate::extract::ApiJson<TilesBody>,
) -> Result<Json<MapConfig>, ApiError> {
    Ok(Json(st.svc.admin_put_tiles(&me, body.tiles).await?))
}

fn view_error(e: ViewError) -> ApiError {
    ApiError::field(e.field(), e.to_string())
}

/// Parses `bbox` and `zoom` into a checked view.
fn view(bbox: Option<&str>, zoom: Option<&str>) -> Result<ViewBox, ApiError> {
    let bbox =
        bbox.ok_or_else(|| ApiError::field("bbox", "is required (west,south,east,north)"))?;
    let zoom = zoom.ok_or_else(|| ApiError::field("zoom", "is required"))?;
    let z: i64 = zoom
        .trim()
        .parse()
        .map_err(|_| ApiError::field("zoom", format!("{zoom:?} is not a whole number")))?;
    ViewBox::new(ViewBox::parse_bbox(bbox).map_err(view_error)?, z).map_err(view_error)
}

/// Query of `GET /api/v1/map/layers`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LayersQuery {
    /// `west,south,east,north`, WGS84 degrees; each side at most 4096 screen pixels at the zoom.
    pub bbox: Option<String>,
    /// Web-map zoom level, 0–22.
    pub zoom: Option<String>,
    /// Comma-separated layers: district, streets, communities, grids, roads (default all).
    pub layers: Option<String>,
}

/// The caller, when a bearer token is sent (a bad token is a 401, never ignored).
async fn optional_staff(st: &AppState, headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(false);
    };
    let token = v
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer <token> (POST /api/v1/auth/login)",
            )
        })?;
    st.svc.authenticate(token).await?;
    Ok(true)
}

#[utoipa::path(get, path = "/api/v1/map/layers", tag = "maps",
    params(LayersQuery),
    responses((status = 200, description = "The territory's features in the view as a GeoJSON FeatureCollection (`application/geo+json`): district, streets and, from their zooms, roads (11; below 14 only segments of at least 3 px), communities (12) and unit grids (15); simplified below zoom 16; road features carry `chiefs` for staff callers; `truncated` after 20,000 features. `ETag`/`If-None-Match` (304) supported", content_type = "application/geo+json", body = Object),
              (status = 304, description = "Not modified"),
              (status = 422, description = "Bad bbox (malformed, out of range, inverted, too large for the zoom), zoom or layers, named in `field`", body = ErrorBody)))]
pub(crate) async fn layers(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LayersQuery>,
) -> Result<Response, ApiError> {
    let v = view(q.bbox.as_deref(), q.zoom.as_deref())?;
    let layers: Vec<MapLayer> = match q.layers.as_deref() {
        None | Some("") => MapLayer::ALL.to_vec(),
        Some(s) => s
            .split(',')
            .map(|l| {
                MapLayer::parse(l.trim()).ok_or_else(|| {
                    ApiError::field(
                        "layers",
                        format!(
                            "unknown layer {l:?} (district, streets, communities, grids, roads)"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let staff = optional_staff(&st, &headers).await?;
    let answer = st.svc.map_layers(&v, &layers, staff).await?;
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == answer.etag || t.trim() == "*");
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        answer.body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    // Staff answers carry names of people: never in a shared cache.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if staff {
            "private, no-cache"
        } else {
            "no-cache"
        }),
    );
    h.insert(header::VARY, HeaderValue::from_static("authorization"));
    if let Ok(v) = HeaderValue::from_str(&answer.etag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Query of `GET /api/v1/map/search`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A road, an intersection (`大学路与陇海路交叉口`, `大学路/陇海路`), a street office or a
    /// community; partial names match. At most 64 characters.
    pub q: Option<String>,
    /// Most answers, 1–20 (default 8).
    pub limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/map/search", tag = "maps", operation_id = "map_search",
    params(SearchQuery),
    responses((status = 200, description = "Matching places, best first", body = Vec<Place>),
              (status = 422, description = "`q` missing or over 64 characters, or a bad `limit`", body = ErrorBody)))]
pub(crate) async fn search(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<Place>>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => None,
        Some(l) => Some(
            l.trim()
                .parse::<u32>()
                .map_err(|_| ApiError::field("limit", format!("{l:?} is not a whole number")))?,
        ),
    };
    Ok(Json(
        st.svc.search_places(q.q.as_deref().unwrap_or(""), limit)?,
    ))
}

/// Query of `GET /api/v1/map/reverse`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReverseQuery {
    /// Latitude, −90..90.
    pub lat: Option<String>,
    /// Longitude, −180..180.
    pub lon: Option<String>,
    /// The coordinates' system: wgs84 (default), gcj02 or bd09.
    pub coord: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/map/reverse", tag = "maps",
    params(ReverseQuery),
    responses((status = 200, description = "Where the point is: district, street, community, the nearest named road within 150 m and its crossing roads, and the Chinese label", body = ReverseAnswer),
              (status = 422, description = "Bad or missing coordinate or coord, named in `field`", body = ErrorBody)))]
pub(crate) async fn reverse(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ReverseQuery>,
) -> Result<Json<ReverseAnswer>, ApiError> {
    let (lon, lat) = point(q.lat.as_deref(), q.lon.as_deref(), q.coord.as_deref())?;
    Ok(Json(st.svc.reverse_geocode(lon, lat)))
}

/// A coordinate pair in a named system, converted to WGS84 (422 naming the field).
fn point(
    lat: Option<&str>,
    lon: Option<&str>,
    coord: Option<&str>,
) -> Result<(f64, f64), ApiError> {
    let num = |field: &str, v: Option<&str>, max: f64| -> Result<f64, ApiError> {
        let v = v.ok_or_else(|| ApiError::field(field, "is required"))?;
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::field(field, "must be a decimal number"))?;
        if !x.is_finite() || x.abs() > max {
            return Err(ApiError::field(
                field,
                format!("must be from -{max} to {max}"),
            ));
        }
        Ok(x)
    };
    let lat = num("lat", lat, 90.0)?;
    let lon = num("lon", lon, 180.0)?;
    let sys = match coord {
        None | Some("") => cityloop_geo::CoordSystem::Wgs84,
        Some(c) => cityloop_geo::CoordSystem::parse(c)
            .map_err(|_| ApiError::field("coord", "one of wgs84, gcj02, bd09"))?,
    };
    Ok(cityloop_geo::to_wgs84(sys, lon, lat))
}

/// Query of `GET /api/v1/map/clusters`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClustersQuery {
    /// `west,south,east,north`, as for layers.
    pub bbox: Option<String>,
    /// Zoom level, 0–22; cells are 64 screen pixels at it.
    pub zoom: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/map/clusters", tag = "maps", security(("bearer" = [])),
    params(ClustersQuery),
    responses((status = 200, description = "Open cases the caller may read, counted per 64-pixel cell; the counts sum to `total`", body = ClustersAnswer),
              (status = 401, body = ErrorBody),
              (status = 422, description = "Bad bbox or zoom, named in `field`", body = ErrorBody)))]
pub(crate) async fn clusters(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ClustersQuery>,
) -> Result<Json<ClustersAnswer>, ApiError> {
    let v = view(q.bbox.as_deref(), q.zoom.as_deref())?;
    Ok(Json(st.svc.case_clusters(&staff.actor, &v).await?))
}
