//! Extractors: JSON and query bodies whose errors name the offending field, and the
//! authenticated staff member from the `Authorization: Bearer` header.
//!
//! Text is checked here, once, at the edge: a NUL character (PostgreSQL cannot store
//! one in `text`) or invalid UTF-8 (never stored with replacement characters) in any
//! JSON string, object key, query or form value is refused naming the field
//! ([`decode_form`], [`nul_path`]), on both stores alike.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use cityloop_domain::model::{Actor, Person};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::AppState;

/// A JSON body; a malformed body is a 400, a field of the wrong shape a 422 naming it.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
        )
    } else {
        ApiError::new(e.status(), "bad_body", e.body_text())
    }
}

/// Why a text input is refused before it reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadText {
    /// A NUL (U+0000) character.
    Nul,
    /// Bytes that are not UTF-8 (after percent-decoding).
    InvalidUtf8,
}

impl BadText {
    /// The problem in English (the staff API's language).
    pub fn message(self) -> &'static str {
        match self {
            BadText::Nul => "must not contain NUL (U+0000) characters",
            BadText::InvalidUtf8 => "is not valid UTF-8",
        }
    }
}

/// A refused form or query pair: the field (its name as sent, at most 64 characters,
/// undecodable bytes replaced for the message only) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPair {
    pub field: String,
    pub problem: BadText,
}

/// Decodes `application/x-www-form-urlencoded` text (also a query string) strictly:
/// `+` is a space, `%XX` a byte, and every name and value must be UTF-8 without NUL.
/// Pairs are in order; empty pieces between `&`s are skipped (as `form_urlencoded`).
pub fn decode_form(bytes: &[u8]) -> Result<Vec<(String, String)>, BadPair> {
    let mut out = Vec::new();
    for piece in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match piece.iter().position(|b| *b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let decode = |raw: &[u8]| -> Vec<u8> {
            let plus: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            percent_encoding::percent_decode(&plus).collect()
        };
        let (k, v) = (decode(k), decode(v));
        let name = |k: &[u8]| {
            String::from_utf8_lossy(k)
                .chars()
                .take(64)
                .collect::<String>()
        };
        let bad = |problem| BadPair {
            field: name(&k),
            problem,
        };
        let key = String::from_utf8(k.clone()).map_err(|_| bad(BadText::InvalidUtf8))?;
        if key.contains('\0') {
            return Err(bad(BadText::Nul));
        }
        let value = String::from_utf8(v).map_err(|_| bad(BadText::InvalidUtf8))?;
        if value.contains('\0') {
            return Err(bad(BadText::Nul));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// The path (`a.b[2].c`) of the first JSON string or object key that holds a NUL, if
/// any. Only bodies that spell `\u0000` can hold one (a raw NUL is a syntax error), so
/// others are not walked.
pub fn nul_path(bytes: &[u8]) -> Option<String> {
    let spelled = bytes
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].eq_ignore_ascii_case(b"0000"));
    if !spelled {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        let here = |p: &str| {
            if p.is_empty() {
                "body".to_owned()
            } else {
                p.to_owned()
            }
        };
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(here(path)),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    return Some(p.replace('\0', "\\u0000"));
                }
                walk(x, &p)
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

/// Parses JSON, naming the path of the first field that does not fit (a NUL character
/// in any string is refused naming its path, before the shape is checked).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(path) = nul_path(bytes) {
        return Err(ApiError::field(path, BadText::Nul.message()));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!("malformed JSON: {inner}"),
            );
        }
        let msg = inner.to_string();
        // "missing field `x`" is reported at the parent path; name the field itself.
        let field = match (msg.strip_prefix("missing field `"), path.as_str()) {
            (Some(rest), p) => {
                let name = rest.split('`').next().unwrap_or("");
                if p == "." || p.is_empty() {
                    name.to_owned()
                } else {
                    format!("{p}.{name}")
                }
            }
            (None, p) => p.to_owned(),
        };
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        ApiError::field(field, msg)
    })
}

/// A query string; a bad parameter (also a NUL or invalid UTF-8 in it) is a 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        decode_form(q.as_bytes()).map_err(|b| ApiError::field(b.field, b.problem.message()))?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field = msg
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                    .map(str::to_owned)
                    .unwrap_or(path);
                ApiError::field(field, msg)
            })
    }
}

/// The authenticated staff member.
pub struct Staff {
    pub person: Person,
    pub actor: Actor,
    pub token: String,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send Authorization: Bearer <token> (POST /api/v1/auth/login)",
                )
            })?
            .to_owned();
        let person = state.svc.authenticate(&token).await?;
        Ok(Staff {
            actor: Actor::staff(&person),
            person,
            token,
        })
    }
}
