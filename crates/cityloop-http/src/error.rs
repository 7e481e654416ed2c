//! The one mapping from errors to HTTP responses. Body shape (docs/API-DESIGN.md):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` with `field` present
//! when one input field is at fault. 4xx are not logged; 5xx are logged once here with
//! the cause chain and answered without internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cityloop_service::ServiceError;
use serde_json::json;

/// `Retry-After` of a 503 answered because the database is unavailable (a failover takes
/// seconds).
pub const UNAVAILABLE_RETRY_AFTER_S: u64 = 1;

/// An error on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_s: None,
        }
    }

    /// A 422 naming the field at fault.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            message: format!("{field}: {message}"),
            field: Some(field),
            retry_after_s: None,
        }
    }

    /// The inside of the envelope this error is answered with (a bulk action's per-case
    /// error).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid { field, message } => ApiError::field(field, message),
            ServiceError::Unauthorized(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
            }
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            ServiceError::NotFound(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{m} not found"))
            }
            ServiceError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Duplicate { field, message }
            | ServiceError::OutOfOrder { field, message } => Self {
                field: Some(field.clone()),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("{field}: {message}"),
                )
            },
            ServiceError::RateLimited { retry_after_s } => Self {
                retry_after_s: Some(retry_after_s),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many attempts; try again in {retry_after_s} s"),
                )
            },
            ServiceError::Busy { retry_after_s } => Self {
                retry_after_s: Some(retry_after_s),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!("the server is busy; try again in {retry_after_s} s"),
                )
            },
            ServiceError::NotConfigured(m) => {
                tracing::error!(error = %m, "installation not configured");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", m)
            }
            ServiceError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                Self {
                    retry_after_s: Some(UNAVAILABLE_RETRY_AFTER_S),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the database is unavailable; retry (a request with an Idempotency-Key is never applied twice)",
                    )
                }
            }
            ServiceError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some(f) = &self.field {
            body["field"] = json!(f);
        }
        let mut resp = (self.status, Json(json!({ "error": body }))).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = s.to_string().parse() {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// The error envelope as the OpenAPI document describes it (what
/// [`ApiError::into_response`] writes).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `invalid_field`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `rate_limited`, `body_too_large`, `busy`, `internal`, ...
    pub code: String,
    /// A sentence for people; starts with the field name when `field` is set.
    pub message: String,
    /// The input field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
