//! The first and last thing every request meets, around routing: limits on the request
//! line and headers, path normalisation, and error bodies in the shape of the API the
//! request was sent to.
//!
//! Before routing: a URI over [`MAX_URI_BYTES`] is a 414, headers over
//! [`MAX_HEADER_BYTES`] a 431; repeated slashes in the path are merged (`/open311//v2/`
//! is `/open311/v2/`, a common client base-URL mistake); a path whose percent-decoding
//! holds a NUL or is not UTF-8 is a 400 naming `path`.
//!
//! After: any error a lower layer answered with a bare or plain-text body (the body-limit
//! 413, the timeout's 408, axum's own rejections) gets the Open311 `errors` document
//! under `/open311` and the staff API's envelope under `/api` and `/healthz`; other
//! answers (the web UI's files) pass unchanged.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::BadText;

/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) one request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How much of a plain-text error body is kept as the message of its shaped answer.
const MAX_MESSAGE_BYTES: usize = 1024;

/// The middleware (`axum::middleware::from_fn`) wrapped around the whole router.
pub async fn guard(req: Request, next: Next) -> Response {
    let (uri, headers) = (req.uri().clone(), req.headers().clone());
    let req = match check(req) {
        Ok(r) => r,
        Err(refused) => return refused.respond(&uri, &headers),
    };
    let resp = next.run(req).await;
    reshape(&uri, &headers, resp).await
}

/// A refusal made before routing.
struct Refused {
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
    zh: String,
    en: String,
}

impl Refused {
    fn respond(self, uri: &Uri, headers: &axum::http::HeaderMap) -> Response {
        if uri.path().starts_with("/open311") {
            return crate::open311::refusal(uri, headers, self.status, &self.zh, &self.en);
        }
        let mut e = ApiError::new(self.status, self.code, self.en);
        if let Some(f) = self.field {
            e.message = format!("{f}: {}", e.message);
            e.field = Some(f.to_owned());
        }
        e.into_response()
    }
}

fn check(mut req: Request) -> Result<Request, Refused> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(Refused {
            status: StatusCode::URI_TOO_LONG,
            code: "uri_too_long",
            field: None,
            zh: format!("请求地址超过 {MAX_URI_BYTES} 字节"),
            en: format!("the request URI is longer than {MAX_URI_BYTES} bytes"),
        });
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(Refused {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code: "headers_too_large",
            field: None,
            zh: format!("请求头超过 {MAX_HEADER_BYTES} 字节"),
            en: format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        });
    }
    let path = req.uri().path();
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let bad = if decoded.contains(&0) {
        Some(BadText::Nul)
    } else if std::str::from_utf8(&decoded).is_err() {
        Some(BadText::InvalidUtf8)
    } else {
        None
    };
    if let Some(problem) = bad {
        let zh = match problem {
            BadText::Nul => "不能含 NUL（%00）字符",
            BadText::InvalidUtf8 => "不是有效的 UTF-8",
        };
        return Err(Refused {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            field: Some("path"),
            zh: format!("path: {zh}"),
            en: problem.message().to_owned(),
        });
    }
    if path.contains("//") {
        let mut merged = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && merged.ends_with('/')) {
                merged.push(c);
            }
        }
        let target = match req.uri().query() {
            Some(q) => format!("{merged}?{q}"),
            None => merged,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = target.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    Ok(req)
}

/// The staff API's `code` for a status a lower layer answered without a body.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "body_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid_field",
        429 => "rate_limited",
        431 => "headers_too_large",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// Gives a bare or plain-text error of an API path the shape of that API.
async fn reshape(uri: &Uri, headers: &axum::http::HeaderMap, resp: Response) -> Response {
    let status = resp.status();
    let path = uri.path();
    let is_api = path.starts_with("/open311") || path.starts_with("/api/") || path == "/healthz";
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_api || !plain {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error").to_owned();
    let message = if text.is_empty() { reason } else { text };
    let shaped = if path.starts_with("/open311") {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            crate::open311::too_large_response(uri, headers)
        } else {
            crate::open311::refusal(uri, headers, status, &message, &message)
        }
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "body_too_large",
            format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
        )
        .into_response()
    } else {
        ApiError::new(status, code_of(status), message).into_response()
    };
    // Keep what the lower layer said besides the body (Allow, Retry-After, …).
    let (shaped_parts, shaped_body) = shaped.into_parts();
    for (k, v) in &shaped_parts.headers {
        parts.headers.insert(k.clone(), v.clone());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::new(shaped_body))
}
