//! The Open311 GeoReport v2 API under `/open311/v2/` (shared/docs/open311-georeport-v2.md):
//! every endpoint in `.json` and `.xml`, the discovery document, and the standard's own
//! error format (a list of `{code, description}`; XML `<errors><error>…`), never the
//! staff API's envelope.
//!
//! One catch-all route reads the path itself: the format is the suffix after the last
//! dot (no suffix, no API: 404), ids are `[A-Za-z0-9_-]`, and unknown paths and wrong
//! methods answer in the Open311 format too. Each endpoint handler is thin: decode the
//! parameters ([`params`]), call one service function, build a [`render::Node`].
//! Every response carries `Access-Control-Allow-Origin: *`; `OPTIONS` answers a
//! preflight.
//!
//! Extensions beyond the core spec: `page`/`page_size` (from 1; size 1–1000, default
//! 1000, the spec's cap; `(page - 1) × page_size` at most 100,000), a keyset `cursor`
//! (a full page names the next one in `Link: <…&cursor=…>; rel="next"` and
//! `Next-Cursor`) and `updated_after`/`updated_before` on `GET requests`;
//! `locale=en` (or `Accept-Language: en`) for English names and messages; an
//! `Idempotency-Key` header on POST (a repeat answers with the first case and the header
//! `Idempotent-Replayed: true`).
//!
//! `POST requests` is rate-limited per client address (checked before the body is read)
//! and per API key (`--open311-rate-per-address`, `--open311-rate-per-key`), counting
//! accepted new reports: past either, a 429 with `Retry-After` in the standard's error
//! format.

mod params;
mod render;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use cityloop_service::open311::{
    is_id_shaped, Lang, PublicRequest, PublicStatus, RequestQuery, MAX_REQUESTS,
};
use cityloop_service::ServiceError;
use cityloop_store::Cursor;

pub use params::Params;
pub use render::{Format, Node};

use crate::AppState;

/// The spec page every endpoint declares in discovery.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// Fields a multipart POST may carry at most (file parts included).
const MAX_MULTIPART_FIELDS: usize = 200;

/// The Open311 routes (merged into the application router; no fallback of their own).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311", any(dispatch))
        .route("/open311/{*path}", any(dispatch))
        .layer(map_response(allow_any_origin))
}

async fn allow_any_origin(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    Discovery,
    Services,
    Service(String),
    Requests,
    Request(String),
    Token(String),
}

/// Splits `v2/requests/ID.json` into the resource and the format.
fn parse_path(rest: &str) -> Option<(Resource, Format)> {
    let (stem, suffix) = rest.rsplit_once('.')?;
    let fmt = Format::from_suffix(suffix)?;
    let id = |s: &str| is_id_shaped(s).then(|| s.to_owned());
    let res = match stem.split('/').collect::<Vec<_>>().as_slice() {
        ["discovery"] | ["v2", "discovery"] => Resource::Discovery,
        ["v2", "services"] => Resource::Services,
        ["v2", "requests"] => Resource::Requests,
        ["v2", "services", code] => Resource::Service(id(code)?),
        ["v2", "requests", rid] => Resource::Request(id(rid)?),
        ["v2", "tokens", token] => Resource::Token(id(token)?),
        _ => return None,
    };
    Some((res, fmt))
}

/// An error on its way out in the Open311 format.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    description: String,
    allow: Option<&'static str>,
    retry_after_s: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            allow: None,
            retry_after_s: None,
        }
    }

    fn bad(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn from_service(e: ServiceError, lang: Lang) -> Self {
        match e {
            ServiceError::Invalid { field, message } => Self::bad(format!("{field}: {message}")),
            ServiceError::Unauthorized(m) | ServiceError::Forbidden(m) => {
                Self::new(StatusCode::FORBIDDEN, m)
            }
            ServiceError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => Self::bad(m),
            ServiceError::Duplicate { field, message }
            | ServiceError::OutOfOrder { field, message } => {
                Self::bad(format!("{field}: {message}"))
            }
            ServiceError::RateLimited { retry_after_s } => Self {
                retry_after_s: Some(retry_after_s),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "{} {retry_after_s} s",
                        lang.pick("请求过多，请稍后再试：", "too many requests; retry in")
                    ),
                )
            },
            ServiceError::Busy { retry_after_s } => Self {
                retry_after_s: Some(retry_after_s),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{} {retry_after_s} s",
                        lang.pick("服务繁忙，请稍后再试：", "the server is busy; retry in")
                    ),
                )
            },
            ServiceError::NotConfigured(m) => {
                tracing::error!(error = %m, "installation not configured");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    lang.pick("服务尚未配置", "the service is not configured"),
                )
            }
            ServiceError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                Self {
                    retry_after_s: Some(crate::error::UNAVAILABLE_RETRY_AFTER_S),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        lang.pick(
                            "数据库暂时不可用，请稍后重试（带 Idempotency-Key 重试不会重复受理）",
                            "the database is unavailable; retry (with an Idempotency-Key a retry is never taken twice)",
                        ),
                    )
                }
            }
            ServiceError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang.pick("服务内部错误", "internal error"),
                )
            }
        }
    }

    fn render(self, fmt: Format) -> Response {
        let node = Node::List(
            "error",
            vec![Node::Obj(vec![
                ("code", Node::Int(i64::from(self.status.as_u16()))),
                ("description", Node::Str(self.description)),
            ])],
        );
        let mut resp = render::respond(fmt, self.status, "errors", &node);
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

type Answer = Result<Response, Failure>;

/// Everything a handler needs besides the state.
struct Call {
    fmt: Format,
    lang: Lang,
    query: Params,
    /// The request's path (for the `Link` to the next page).
    path: String,
}

impl Call {
    fn service(&self, lang: Lang) -> impl Fn(ServiceError) -> Failure {
        move |e| Failure::from_service(e, lang)
    }

    fn ok(&self, root: &str, node: &Node) -> Response {
        render::respond(self.fmt, StatusCode::OK, root, node)
    }
}

/// The standard's 413 for a body refused before it reached [`dispatch`] (its declared
/// length is over the limit): an `errors` document in the path's format and language.
pub(crate) fn too_large_response(
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Response {
    let query = Params::parse_lossy(uri.query().unwrap_or("").as_bytes());
    let lang = params::lang(&query, headers);
    too_large(lang).render(format_of(uri.path()))
}

/// Any other refusal made before [`dispatch`] (a URI or headers over their limits, a
/// path that does not decode, a bare error of a lower layer) in the standard's error
/// format: an `errors` document in the path's format and language.
pub(crate) fn refusal(
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    status: StatusCode,
    zh: &str,
    en: &str,
) -> Response {
    let query = Params::parse_lossy(uri.query().unwrap_or("").as_bytes());
    let lang = params::lang(&query, headers);
    Failure::new(status, lang.pick(zh, en)).render(format_of(uri.path()))
}

/// The format an error answer to this path is written in: XML for `.xml`, else JSON.
fn format_of(path: &str) -> Format {
    if path.to_ascii_lowercase().ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    }
}

async fn dispatch(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rest = parts
        .uri
        .path()
        .strip_prefix("/open311")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let query = match Params::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        Ok(q) => q,
        Err(b) => {
            let lang = params::lang(&Params::default(), &parts.headers);
            let b = params::bad_text(&b, lang);
            return Failure::bad(format!("{}: {}", b.name, b.problem)).render(format_of(&rest));
        }
    };
    let lang = params::lang(&query, &parts.headers);
    let Some((res, fmt)) = parse_path(&rest) else {
        let fmt = if rest.to_ascii_lowercase().ends_with(".json") {
            Format::Json
        } else {
            Format::Xml
        };
        return Failure::new(
            StatusCode::NOT_FOUND,
            lang.pick(
                "没有这个端点：路径须以 .json 或 .xml 结尾，例如 /open311/v2/services.json",
                "no such endpoint: paths end in .json or .xml, e.g. /open311/v2/services.json",
            ),
        )
        .render(fmt);
    };
    let allow = if res == Resource::Requests {
        "GET, HEAD, POST, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    if parts.method == Method::OPTIONS {
        return preflight(allow);
    }
    let call = Call {
        fmt,
        lang,
        query,
        path: parts.uri.path().to_owned(),
    };
    let is_get = parts.method == Method::GET || parts.method == Method::HEAD;
    let answer = if parts.method == Method::POST && res == Resource::Requests {
        post_request(&st, &call, parts, body).await
    } else if !is_get {
        Err(Failure {
            allow: Some(allow),
            ..Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                lang.pick("不支持此请求方法", "method not allowed on this endpoint"),
            )
        })
    } else {
        match check_jurisdiction(&st, &call.query, lang) {
            Err(f) => Err(f),
            Ok(()) => match res {
                Resource::Discovery => discovery(&st, &call, &parts.headers).await,
                Resource::Services => services(&st, &call).await,
                Resource::Service(code) => service_definition(&st, &call, &code).await,
                Resource::Requests => requests(&st, &call).await,
                Resource::Request(id) => request(&st, &call, &id).await,
                Resource::Token(token) => token_lookup(&st, &call, &token).await,
            },
        }
    };
    answer.unwrap_or_else(|f| f.render(fmt))
}

fn preflight(allow: &'static str) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allow));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(allow),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Accept-Language, Idempotency-Key"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// `jurisdiction_id` may be absent or empty; when given it must be the district's code.
fn check_jurisdiction(st: &AppState, p: &Params, lang: Lang) -> Result<(), Failure> {
    match p.get("jurisdiction_id") {
        Some(j) if !st.svc.is_jurisdiction(j) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!(
                "{}{}",
                lang.pick(
                    "jurisdiction_id 未知；本服务的 jurisdiction_id 为 ",
                    "unknown jurisdiction_id; this endpoint serves "
                ),
                st.svc.district.code
            ),
        )),
        _ => Ok(()),
    }
}

async fn discovery(st: &AppState, call: &Call, headers: &HeaderMap) -> Answer {
    let d = st
        .svc
        .open311_discovery(call.lang)
        .await
        .map_err(call.service(call.lang))?;
    let endpoint = Node::Obj(vec![
        ("specification", Node::str(SPECIFICATION)),
        (
            "url",
            Node::Str(format!("{}/open311/v2", base_url(headers))),
        ),
        ("changeset", Node::str(d.changeset.clone())),
        ("type", Node::str("production")),
        (
            "formats",
            Node::List(
                "format",
                vec![Node::str("text/xml"), Node::str("application/json")],
            ),
        ),
    ]);
    let node = Node::Obj(vec![
        ("changeset", Node::Str(d.changeset)),
        ("contact", Node::Str(d.contact)),
        ("key_service", Node::Str(d.key_service)),
        ("endpoints", Node::List("endpoint", vec![endpoint])),
    ]);
    Ok(call.ok("discovery", &node))
}

/// `scheme://host` of this request (the `Host` header, checked; `X-Forwarded-Proto`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

async fn services(st: &AppState, call: &Call) -> Answer {
    let list = st
        .svc
        .public_services(call.lang)
        .await
        .map_err(call.service(call.lang))?;
    let items = list
        .into_iter()
        .map(|s| {
            Node::Obj(vec![
                ("service_code", Node::Str(s.service_code)),
                ("service_name", Node::Str(s.service_name)),
                ("description", Node::Str(s.description)),
                ("metadata", Node::Bool(s.metadata)),
                ("type", Node::str(s.kind)),
                ("keywords", Node::Str(s.keywords)),
                ("group", Node::Str(s.group)),
            ])
        })
        .collect();
    Ok(call.ok("services", &Node::List("service", items)))
}

async fn service_definition(st: &AppState, call: &Call, code: &str) -> Answer {
    let def = st
        .svc
        .public_service_definition(code, call.lang)
        .await
        .map_err(call.service(call.lang))?;
    let attributes = def
        .attributes
        .into_iter()
        .map(|a| {
            let values = a
                .values
                .into_iter()
                .map(|(k, n)| Node::Obj(vec![("key", Node::Str(k)), ("name", Node::Str(n))]))
                .collect();
            Node::Obj(vec![
                ("variable", Node::Bool(a.variable)),
                ("code", Node::Str(a.code)),
                ("datatype", Node::str(a.datatype.as_str())),
                ("required", Node::Bool(a.required)),
                ("datatype_description", Node::Str(a.datatype_description)),
                ("order", Node::Int(i64::from(a.order))),
                ("description", Node::Str(a.description)),
                ("values", Node::List("value", values)),
            ])
        })
        .collect();
    let node = Node::Obj(vec![
        ("service_code", Node::Str(def.service_code)),
        ("attributes", Node::List("attribute", attributes)),
    ]);
    Ok(call.ok("service_definition", &node))
}

fn request_node(r: PublicRequest) -> Node {
    Node::Obj(vec![
        ("service_request_id", Node::Str(r.service_request_id)),
        ("status", Node::str(r.status.as_str())),
        ("status_notes", Node::opt(r.status_notes)),
        ("service_name", Node::Str(r.service_name)),
        ("service_code", Node::Str(r.service_code)),
        ("description", Node::opt(r.description)),
        ("agency_responsible", Node::opt(r.agency_responsible)),
        ("service_notice", Node::opt(r.service_notice)),
        ("requested_datetime", Node::time(r.requested_datetime)),
        ("updated_datetime", Node::time(r.updated_datetime)),
        ("expected_datetime", Node::opt_time(r.expected_datetime)),
        ("address", Node::opt(r.address)),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", Node::opt_f64(r.lat)),
        ("long", Node::opt_f64(r.long)),
        ("media_url", Node::opt(r.media_url)),
    ])
}

fn bad_param(name: &str, lang: Lang, zh: &str, en: &str) -> Failure {
    Failure::bad(format!("{name}: {}", lang.pick(zh, en)))
}

/// A list parameter: comma-separated values, and the key may repeat (`status=open&status=closed`
/// ≡ `status=open,closed`); every value of every repeat counts.
fn list(p: &Params, name: &str) -> Vec<String> {
    p.all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn positive(p: &Params, name: &'static str, max: u32, lang: Lang) -> Result<Option<u32>, Failure> {
    p.get(name)
        .map(|v| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    Failure::bad(format!(
                        "{name}: {} 1–{max}",
                        lang.pick("须为整数", "must be a whole number")
                    ))
                })
        })
        .transpose()
}

fn parse_query(st: &AppState, p: &Params, lang: Lang) -> Result<RequestQuery, Failure> {
    let ids = list(p, "service_request_id");
    if ids.len() > MAX_REQUESTS as usize {
        return Err(bad_param(
            "service_request_id",
            lang,
            "一次最多 1000 个编号",
            "at most 1000 ids at once",
        ));
    }
    let statuses = list(p, "status")
        .iter()
        .map(|s| match s.to_ascii_lowercase().as_str() {
            "open" => Ok(PublicStatus::Open),
            "closed" => Ok(PublicStatus::Closed),
            _ => Err(bad_param(
                "status",
                lang,
                "须为 open、closed 或 open,closed",
                "must be open, closed or open,closed",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let date = |name: &'static str| {
        p.get(name)
            .map(|v| {
                params::date(v, |d| st.svc.local_midnight(d)).ok_or_else(|| {
                    bad_param(
                        name,
                        lang,
                        "须为带时区的 W3C 日期时间，例如 2026-05-01T00:00:00+08:00",
                        "must be a W3C date-time with a zone, e.g. 2026-05-01T00:00:00+08:00",
                    )
                })
            })
            .transpose()
    };
    Ok(RequestQuery {
        ids,
        service_codes: list(p, "service_code"),
        statuses,
        start_date: date("start_date")?,
        end_date: date("end_date")?,
        updated_after: date("updated_after")?,
        updated_before: date("updated_before")?,
        page: positive(p, "page", u32::MAX, lang)?.unwrap_or(1),
        page_size: positive(p, "page_size", MAX_REQUESTS, lang)?.unwrap_or(MAX_REQUESTS),
        cursor: p
            .get("cursor")
            .map(|c| {
                Cursor::from_token(c.trim()).ok_or_else(|| {
                    bad_param(
                        "cursor",
                        lang,
                        "不是上一页给出的 cursor",
                        "not a cursor a previous page named",
                    )
                })
            })
            .transpose()?,
    })
}

async fn requests(st: &AppState, call: &Call) -> Answer {
    let q = parse_query(st, &call.query, call.lang)?;
    let found = st
        .svc
        .public_requests(q, call.lang)
        .await
        .map_err(call.service(call.lang))?;
    let next = found.next_cursor.map(|c| c.to_token());
    let items = found.requests.into_iter().map(request_node).collect();
    let mut resp = call.ok("service_requests", &Node::List("request", items));
    if let Some(token) = next {
        // The same query with `cursor` in place of `page`.
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in call
            .query
            .0
            .iter()
            .filter(|(k, _)| k != "page" && k != "cursor")
        {
            q.append_pair(k, v);
        }
        q.append_pair("cursor", &token);
        let link = format!("<{}?{}>; rel=\"next\"", call.path, q.finish());
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
        if let Ok(v) = HeaderValue::from_str(&token) {
            resp.headers_mut()
                .insert(HeaderName::from_static("next-cursor"), v);
        }
    }
    Ok(resp)
}

async fn request(st: &AppState, call: &Call, id: &str) -> Answer {
    let r = st
        .svc
        .public_request(id, call.lang)
        .await
        .map_err(call.service(call.lang))?;
    Ok(call.ok(
        "service_requests",
        &Node::List("request", vec![request_node(r)]),
    ))
}

async fn token_lookup(st: &AppState, call: &Call, token: &str) -> Answer {
    let number = st
        .svc
        .public_token(token, call.lang)
        .await
        .map_err(call.service(call.lang))?;
    let node = Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", Node::Str(number)),
            ("token", Node::str(token)),
        ])],
    );
    Ok(call.ok("service_requests", &node))
}

fn too_large(lang: Lang) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "{} {} {}",
            lang.pick("请求体超过", "the body is larger than"),
            crate::MAX_BODY_BYTES,
            lang.pick("字节", "bytes")
        ),
    )
}

/// Whether an error comes from a body over its length limit.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The POST body's parameters: form-encoded (any or no content type) or multipart; a
/// JSON body is refused (GeoReport v2 posts forms).
async fn body_params(parts: &Parts, body: Body, lang: Lang) -> Result<Params, Failure> {
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        let mut req = Request::new(body);
        *req.headers_mut() = parts.headers.clone();
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| Failure::bad(format!("multipart: {}", e.body_text())))?;
        let mut out = Params::default();
        let mut n = 0;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(lang))
                }
                Err(e) => return Err(Failure::bad(format!("multipart: {}", e.body_text()))),
            };
            n += 1;
            if n > MAX_MULTIPART_FIELDS {
                return Err(bad_param("multipart", lang, "字段过多", "too many fields"));
            }
            let name = field.name().unwrap_or("").to_owned();
            // Uploaded files have nowhere to go yet: read past them.
            let is_file = field.file_name().is_some();
            let value = match field.bytes().await {
                Ok(v) => v,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(lang))
                }
                Err(e) => return Err(Failure::bad(format!("multipart: {}", e.body_text()))),
            };
            if !is_file {
                let refuse = |problem| {
                    let b = params::bad_text(
                        &crate::extract::BadPair {
                            field: name.chars().take(64).collect(),
                            problem,
                        },
                        lang,
                    );
                    Failure::bad(format!("{}: {}", b.name, b.problem))
                };
                let text = String::from_utf8(value.to_vec())
                    .map_err(|_| refuse(crate::extract::BadText::InvalidUtf8))?;
                if text.contains('\0') || name.contains('\0') {
                    return Err(refuse(crate::extract::BadText::Nul));
                }
                out.push(name, text);
            }
        }
        return Ok(out);
    }
    if ctype.starts_with("application/json") {
        return Err(Failure::bad(lang.pick(
            "请以 application/x-www-form-urlencoded 或 multipart/form-data 提交表单",
            "send the request as application/x-www-form-urlencoded or multipart/form-data",
        )));
    }
    let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                too_large(lang)
            } else {
                Failure::bad(lang.pick("无法读取请求体", "the body could not be read"))
            }
        })?;
    Params::parse(&bytes).map_err(|b| {
        let b = params::bad_text(&b, lang);
        Failure::bad(format!("{}: {}", b.name, b.problem))
    })
}

async fn post_request(st: &AppState, call: &Call, parts: Parts, body: Body) -> Answer {
    // Per client address before the body is read; per client application once its key
    // is known to be valid (unknown keys cannot grow the limiter's table). What counts is
    // an accepted new report (below); a refused request costs no write.
    let client_ip = crate::client::client_ip(st, &parts);
    st.svc
        .check_open311_address(client_ip)
        .map_err(call.service(call.lang))?;
    let mut p = body_params(&parts, body, call.lang).await?;
    p.extend(call.query.clone());
    // `locale` may come in the form as well as in the query string.
    let lang = params::lang(&p, &parts.headers);
    check_jurisdiction(st, &p, lang)?;
    let client = st
        .svc
        .check_api_key(p.get("api_key"), lang)
        .await
        .map_err(call.service(lang))?;
    let api_key = p.get("api_key").unwrap_or("").to_owned();
    st.svc
        .check_open311_key(&api_key)
        .map_err(call.service(lang))?;
    let idempotency_key = match parts.headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            bad_param(
                "Idempotency-Key",
                lang,
                "须为可见 ASCII 字符",
                "must be visible ASCII characters",
            )
        })?),
    };
    let report =
        params::report(&p, lang).map_err(|b| Failure::bad(format!("{}: {}", b.name, b.problem)))?;
    let receipt = st
        .svc
        .report_public(&client, report, idempotency_key, lang)
        .await
        .map_err(call.service(lang))?;
    if !receipt.replayed {
        st.svc.count_open311_report(client_ip, &api_key);
    }
    let node = Node::List(
        "request",
        vec![Node::Obj(vec![
            ("service_request_id", Node::Str(receipt.service_request_id)),
            ("service_notice", Node::Str(receipt.service_notice)),
            (
                "expected_datetime",
                Node::opt_time(receipt.expected_datetime),
            ),
            ("account_id", Node::Null),
            // An extension of the standard's answer: the code that opens the citizen's
            // case page (`/#track/<code>`), printed on the receipt.
            ("query_code", Node::opt(receipt.query_code)),
        ])],
    );
    let mut resp = call.ok("service_requests", &node);
    if receipt.replayed {
        resp.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_the_last_dot_and_ids_have_a_fixed_shape() {
        assert_eq!(
            parse_path("v2/services.json"),
            Some((Resource::Services, Format::Json))
        );
        assert_eq!(
            parse_path("v2/requests/410103-20261126-0001.xml"),
            Some((
                Resource::Request("410103-20261126-0001".into()),
                Format::Xml
            ))
        );
        assert_eq!(
            parse_path("discovery.xml"),
            Some((Resource::Discovery, Format::Xml))
        );
        assert_eq!(parse_path("v2/services"), None);
        assert_eq!(parse_path("v2/services.html"), None);
        assert_eq!(parse_path("v2/requests/a.b.json"), None);
        assert_eq!(parse_path("v2/requests/%2e%2e.json"), None);
        assert_eq!(parse_path("v2/tokens/x/y.json"), None);
    }
}
