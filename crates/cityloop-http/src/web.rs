//! The web UI: the public page at `/`, the staff console at `/staff`, and their static
//! files under `/assets/`, all compiled into the binary from the workspace's `web/`
//! folder (plain HTML, CSS and ES modules; vendored Leaflet and ECharts), so the product
//! serves its UI with no build step, no CDN and no map tiles.
//!
//! The maps draw the territory stored in the database through the layer API
//! (`crate::maps`); nothing geographic is embedded here.
//!
//! Responses carry an `ETag` and `Cache-Control: no-cache` (revalidate, cheap 304s), text
//! is gzip-compressed once on first request when the client accepts it, and pages get a
//! Content-Security-Policy that allows only this origin — plus, for images only, the hosts
//! of the tile source an admin configured (`PUT /api/v1/admin/map/tiles`). This module knows nothing about
//! the APIs the pages call; it never shadows `/api`, `/open311` or `/healthz`.

use std::io::Write;
use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// The page policy: scripts, styles, data and images from this origin only. Styles allow
/// inline attributes because Leaflet and ECharts position their elements with them.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
     font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// The page policy with the configured tile hosts added to `img-src` (the origins are
/// validated by `cityloop_geo::tiles::TileSource::validate`: scheme, host and port only).
pub fn content_security_policy(tile_origins: &[String]) -> String {
    if tile_origins.is_empty() {
        return CONTENT_SECURITY_POLICY.to_owned();
    }
    CONTENT_SECURITY_POLICY.replacen(
        "img-src 'self' data: blob:;",
        &format!("img-src 'self' data: blob: {};", tile_origins.join(" ")),
        1,
    )
}

/// The web routes (merged into the application router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(public_page))
        .route("/staff", get(staff_page))
        .route("/staff/", get(|| async { Redirect::permanent("/staff") }))
        .route("/leaders", get(leaders_page))
        .route("/assets/{*path}", get(asset))
}

/// One embedded file, served at `/assets/{path}`.
struct Asset {
    path: &'static str,
    body: &'static [u8],
}

macro_rules! web {
    ($path:literal) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path)),
        }
    };
}

/// Every file of `web/` (a test checks that none is missing).
const ASSETS: &[Asset] = &[
    web!("index.html"),
    web!("staff.html"),
    web!("leaders.html"),
    web!("js/leaders.js"),
    web!("css/leaders.css"),
    web!("icon.svg"),
    web!("css/app.css"),
    web!("css/console.css"),
    web!("js/i18n.js"),
    web!("js/common.js"),
    web!("js/map.js"),
    web!("js/geocode.js"),
    web!("js/public.js"),
    web!("js/staff.js"),
    web!("js/photos.js"),
    web!("js/admin.js"),
    web!("js/roadgaps.js"),
    web!("js/rankings.js"),
    web!("js/integrity.js"),
    web!("js/apikeys.js"),
    web!("js/messages.js"),
    web!("js/icons.js"),
    web!("js/console/sensors.js"),
    web!("js/console/ctx.js"),
    web!("js/console/strings.js"),
    web!("js/console/keys.js"),
    web!("js/console/actions.js"),
    web!("js/console/category.js"),
    web!("js/console/case.js"),
    web!("js/console/queue.js"),
    web!("js/console/intake.js"),
    web!("js/console/field.js"),
    web!("js/console/roads.js"),
    web!("js/console/enforce.js"),
    web!("js/console/hotline.js"),
    web!("js/console/inbox.js"),
    web!("js/console/export.js"),
    web!("js/console/print.js"),
    web!("js/search.js"),
    web!("css/search.css"),
    web!("vendor/VERSIONS.md"),
    web!("vendor/leaflet/leaflet.js"),
    web!("vendor/leaflet/leaflet.css"),
    web!("vendor/leaflet/LICENSE"),
    web!("vendor/leaflet/images/layers.png"),
    web!("vendor/leaflet/images/layers-2x.png"),
    web!("vendor/leaflet/images/marker-icon.png"),
    web!("vendor/leaflet/images/marker-icon-2x.png"),
    web!("vendor/leaflet/images/marker-shadow.png"),
    web!("vendor/echarts/echarts.common.min.js"),
    web!("vendor/echarts/LICENSE"),
    web!("vendor/echarts/NOTICE"),
    web!("vendor/echarts/LICENSE-d3"),
];

const N: usize = ASSETS.len();
/// Each asset's gzip body (`None` when compressing does not pay), made on first request.
static GZIP: [OnceLock<Option<Vec<u8>>>; N] = [const { OnceLock::new() }; N];
/// Each asset's entity tag, made on first request.
static ETAGS: [OnceLock<String>; N] = [const { OnceLock::new() }; N];

async fn public_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    with_policy(serve("index.html", &headers), &st)
}

async fn staff_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    with_policy(serve("staff.html", &headers), &st)
}

async fn leaders_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    with_policy(serve("leaders.html", &headers), &st)
}

/// Replaces a page's policy with one that allows the configured tile hosts.
fn with_policy(mut resp: Response, st: &AppState) -> Response {
    let origins = st.svc.tile_origins();
    if !origins.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&content_security_policy(&origins)) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return ApiError::not_found(format!("no asset {path:?}")).into_response();
    };
    let asset = &ASSETS[i];
    let mime = content_type(asset.path);
    let gzip = accepts_gzip(headers)
        .then(|| {
            GZIP[i]
                .get_or_init(|| compress(mime, asset.body))
                .as_deref()
        })
        .flatten();
    let tag = ETAGS[i].get_or_init(|| format!("{:016x}", fnv1a(asset.body)));
    let etag = if gzip.is_some() {
        format!("\"{tag}-gz\"")
    } else {
        format!("\"{tag}\"")
    };

    let mut resp = if if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        gzip.unwrap_or(asset.body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if is_compressible(mime) {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if mime.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    resp
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    let name = path.rsplit('/').next().unwrap_or(path);
    match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "geojson" => "application/geo+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "md" => "text/markdown; charset=utf-8",
        _ if name.starts_with("LICENSE") || name == "NOTICE" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_compressible(mime: &str) -> bool {
    mime.starts_with("text/") || mime.ends_with("json") || mime == "image/svg+xml"
}

fn compress(mime: &str, body: &[u8]) -> Option<Vec<u8>> {
    if !is_compressible(mime) || body.len() < 1024 {
        return None;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < body.len()).then_some(out)
}

/// Whether `Accept-Encoding` allows gzip (present and not `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

/// FNV-1a, 64 bits: a stable content tag, not a security measure.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
    }

    fn files(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else {
                let rel = p.strip_prefix(web_dir()).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_the_web_folder_is_embedded() {
        let mut found = Vec::new();
        files(&web_dir(), &mut found);
        for f in &found {
            assert!(
                ASSETS.iter().any(|a| a.path == f),
                "web/{f} is not listed in ASSETS (crates/cityloop-http/src/web.rs)"
            );
        }
    }

    #[test]
    fn every_asset_a_page_or_script_names_is_served() {
        for a in ASSETS {
            let mime = content_type(a.path);
            if !(mime.starts_with("text/html")
                || mime.starts_with("text/javascript") && !a.path.starts_with("vendor/")
                || mime.starts_with("text/css") && !a.path.starts_with("vendor/"))
            {
                continue;
            }
            let text = std::str::from_utf8(a.body).unwrap();
            for (at, _) in text.match_indices("/assets/") {
                let rest = &text[at + "/assets/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
                    .unwrap_or(rest.len());
                let path = &rest[..end];
                if path.is_empty() || path.ends_with('/') {
                    continue;
                }
                assert!(
                    ASSETS.iter().any(|x| x.path == path),
                    "{} names /assets/{path}, which is not served",
                    a.path
                );
            }
        }
    }

    /// A module a script imports (`from './x.js'`, `import '../y.js'`) must be served too:
    /// one missing file stops the whole page that imports it.
    #[test]
    fn every_module_a_script_imports_is_served() {
        for a in ASSETS.iter().filter(|a| a.path.starts_with("js/")) {
            let text = std::str::from_utf8(a.body).unwrap();
            let dir = a.path.rsplit_once('/').map_or("", |(d, _)| d);
            for quote in ['\'', '"'] {
                for (at, _) in text
                    .match_indices(&format!("{quote}./"))
                    .chain(text.match_indices(&format!("{quote}../")))
                {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find(quote) else {
                        continue;
                    };
                    let spec = &rest[..end];
                    if !spec.ends_with(".js") {
                        continue;
                    }
                    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                    for seg in spec.split('/') {
                        match seg {
                            "." => {}
                            ".." => {
                                parts.pop();
                            }
                            s => parts.push(s),
                        }
                    }
                    let path = parts.join("/");
                    assert!(
                        ASSETS.iter().any(|x| x.path == path),
                        "{} imports {spec} ({path}), which is not served",
                        a.path
                    );
                }
            }
        }
    }

    #[test]
    fn types_gzip_and_tags() {
        assert_eq!(content_type("js/map.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("vendor/echarts/LICENSE-d3"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type("geo/x.geojson"), "application/geo+json");
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br".parse().unwrap(),
        );
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0".parse().unwrap());
        assert!(!accepts_gzip(&h));
        h.insert(header::IF_NONE_MATCH, "W/\"abc\", \"def\"".parse().unwrap());
        assert!(if_none_match(&h, "\"abc\""));
        assert!(!if_none_match(&h, "\"xyz\""));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        let text = vec![b'x'; 4096];
        let gz = compress("text/css; charset=utf-8", &text).unwrap();
        assert!(gz.len() < 200);
        assert!(compress("image/png", &text).is_none());
    }
}
