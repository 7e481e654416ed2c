//! Photo upload and download over HTTP.
//!
//! - `POST /api/v1/attachments` (staff): the photo as the multipart field `file`, or as the
//!   raw body with its `Content-Type`; at most 10 MiB. 201 with the new attachment, 200
//!   when the same content was uploaded before (the same attachment answers).
//! - `GET /api/v1/attachments/{id}` (staff whose role may see photo GPS, within their
//!   read scope): the original, metadata included.
//! - `POST /api/v1/public/media` (anyone, rate-limited per client address before the body
//!   is read, `--upload-rate-per-address`; at most 5 MiB):
//!   a citizen's photo; answers the public URL to pass as Open311 `media_url`.
//! - `GET /media/{id}`: the public copy (EXIF/XMP/text removed) of any attachment, for
//!   whoever has its random id.
//!
//! These routes carry their own body limits; the rest of the API keeps 1 MiB. Content
//! that would cost too much to decode (pixels, decode memory, colour profile, metadata)
//! is a 422 naming `file`; when every decode slot is taken and the queue is full or its
//! wait runs out, the answer is 503 `busy` with `Retry-After`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_service::attachments::{
    Uploader, Variant, MAX_PUBLIC_UPLOAD_BYTES, MAX_STAFF_UPLOAD_BYTES,
};
use cityloop_store::Attachment;
use serde::Serialize;

use crate::client::ClientIp;
use crate::dto::CaseDto;
use crate::error::ApiError;
use crate::extract::Staff;
use crate::AppState;

/// Room for the multipart framing around the file itself.
const MULTIPART_SLACK: usize = 64 * 1024;

/// The attachment routes with their own body limits (merged beside the 1 MiB API).
pub fn routes() -> Router<AppState> {
    // Limits are enforced while reading (see `read_upload`), so that an oversized photo
    // gets the JSON 413 naming `file` like every other error.
    Router::new()
        .route("/api/v1/attachments", post(upload_staff))
        .route("/api/v1/public/media", post(upload_public))
        .route("/api/v1/attachments/{id}", get(original))
        .route("/media/{id}", get(public_copy))
        .layer(DefaultBodyLimit::disable())
}

/// An attachment as the staff API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentDto {
    pub id: String,
    pub sha256: String,
    pub mime: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    /// EXIF GPS position of the original (WGS84), when it had one.
    pub gps: Option<GpsDto>,
    pub channel: String,
    pub uploaded_by: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    /// The original (staff, bearer token).
    pub url: String,
    /// The copy without metadata (public).
    pub public_url: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GpsDto {
    pub lat: f64,
    pub lon: f64,
}

impl From<&Attachment> for AttachmentDto {
    fn from(a: &Attachment) -> Self {
        Self {
            id: a.id.to_string(),
            sha256: a.sha256.clone(),
            mime: a.mime.clone(),
            size: a.size,
            width: a.width,
            height: a.height,
            gps: a
                .gps_lat
                .zip(a.gps_lon)
                .map(|(lat, lon)| GpsDto { lat, lon }),
            channel: a.channel.clone(),
            uploaded_by: a.uploaded_by.map(|p| p.to_string()),
            uploaded_at: a.uploaded_at,
            url: format!("/api/v1/attachments/{}", a.id),
            public_url: public_path(a),
        }
    }
}

fn public_path(a: &Attachment) -> String {
    format!("/media/{}", a.id)
}

/// A citizen's upload, as the public page needs it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicMediaDto {
    pub id: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    /// Path of the public copy on this server.
    pub public_url: String,
    /// The same as an absolute URL (from the request's Host), for Open311 `media_url`.
    pub media_url: Option<String>,
}

/// A photo on the case timeline: an uploaded attachment, or an external `media_url`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoDto {
    /// What the event or report carried (an attachment id or a URL).
    pub reference: String,
    /// The attachment id, when the reference names an upload.
    pub id: Option<String>,
    /// The original for staff, or the external URL.
    pub url: String,
    /// The copy without metadata (for `<img>`; same as `url` for external photos).
    pub public_url: String,
    pub mime: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub gps: Option<GpsDto>,
}

fn photo(
    reference: &str,
    found: &HashMap<String, Attachment>,
    originals: bool,
) -> Option<PhotoDto> {
    if let Some(a) = found.get(reference) {
        let dto = AttachmentDto::from(a);
        return Some(PhotoDto {
            reference: reference.to_owned(),
            id: Some(dto.id),
            url: if originals {
                dto.url
            } else {
                dto.public_url.clone()
            },
            public_url: dto.public_url,
            mime: Some(dto.mime),
            width: Some(dto.width),
            height: Some(dto.height),
            gps: dto.gps,
        });
    }
    let lower = reference.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| PhotoDto {
        reference: reference.to_owned(),
        id: None,
        url: reference.to_owned(),
        public_url: reference.to_owned(),
        mime: None,
        width: None,
        height: None,
        gps: None,
    })
}

/// Fills the photos of a case detail: the report's media and each event's attachments,
/// with GPS and original links as the reader's role allows (`Services::shape_attachments`).
pub async fn add_photos(
    st: &AppState,
    actor: &cityloop_domain::model::Actor,
    dto: &mut CaseDto,
) -> Result<(), ApiError> {
    let mut refs: Vec<&str> = dto.media.iter().map(String::as_str).collect();
    for e in dto.events.iter().flatten() {
        refs.extend(e.attachments.iter().map(String::as_str));
    }
    let mut found = st.svc.resolve_attachments(refs).await?;
    let originals = st.svc.shape_attachments(actor, found.values_mut());
    dto.photos = Some(
        dto.media
            .iter()
            .filter_map(|r| photo(r, &found, originals))
            .collect(),
    );
    for e in dto.events.iter_mut().flatten() {
        e.photos = e
            .attachments
            .iter()
            .filter_map(|r| photo(r, &found, originals))
            .collect();
    }
    Ok(())
}

fn too_large(limit: usize) -> ApiError {
    ApiError {
        field: Some("file".into()),
        ..ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("file: the photo is larger than {limit} bytes"),
        )
    }
}

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

/// The photo's bytes and declared type, from a multipart field `file` or a raw body.
/// A Content-Length clearly over the limit is refused before reading; otherwise the
/// body is read up to the limit (the file) and `limit + MULTIPART_SLACK` (all parts).
async fn read_upload(req: Request, limit: usize) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let headers = req.headers();
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_owned();
    let lower = ctype.to_ascii_lowercase();
    if lower.starts_with("multipart/form-data") {
        if declared_len.is_some_and(|n| n > limit + MULTIPART_SLACK) {
            return Err(too_large(limit));
        }
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_body", e.body_text()))?;
        let mut file: Option<(Vec<u8>, Option<String>)> = None;
        let mut total = 0usize;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large(limit))
                }
                Err(e) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_body",
                        format!("multipart: {}", e.body_text()),
                    ))
                }
            };
            let is_file = field.name() == Some("file");
            let declared = field.content_type().map(str::to_owned);
            let mut field = field;
            let mut buf = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => {
                        total += c.len();
                        if total > limit + MULTIPART_SLACK {
                            return Err(too_large(limit));
                        }
                        if is_file {
                            if buf.len() + c.len() > limit {
                                return Err(too_large(limit));
                            }
                            buf.extend_from_slice(&c);
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large(limit))
                    }
                    Err(e) => {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "bad_body",
                            format!("multipart: {}", e.body_text()),
                        ))
                    }
                }
            }
            if is_file {
                if file.is_some() {
                    return Err(ApiError::field("file", "send one photo per request"));
                }
                file = Some((buf, declared));
            }
        }
        return file.ok_or_else(|| {
            ApiError::field(
                "file",
                "is required: send the photo as the multipart field `file`",
            )
        });
    }
    if lower.starts_with("application/json")
        || lower.starts_with("application/x-www-form-urlencoded")
    {
        return Err(ApiError {
            field: Some("file".into()),
            ..ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "file: send multipart/form-data with the field `file`, or the image bytes with their Content-Type",
            )
        });
    }
    if declared_len.is_some_and(|n| n > limit + MULTIPART_SLACK) {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                too_large(limit)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the body could not be read",
                )
            }
        })?;
    if bytes.is_empty() {
        return Err(ApiError::field("file", "is required: the body is empty"));
    }
    Ok((bytes.to_vec(), (!ctype.is_empty()).then_some(ctype)))
}

#[utoipa::path(post, path = "/api/v1/attachments", tag = "attachments", security(("bearer" = [])),
    request_body(content = String, content_type = "multipart/form-data",
        description = "The photo as the multipart field `file`, or the image bytes as the body with their Content-Type (image/jpeg, image/png, image/webp). At most 10 MiB; judged by content."),
    responses((status = 201, description = "A new attachment", body = AttachmentDto),
              (status = 200, description = "The same content was uploaded before: that attachment", body = AttachmentDto),
              (status = 401, body = crate::error::ErrorBody),
              (status = 413, description = "Over 10 MiB (field `file`)", body = crate::error::ErrorBody),
              (status = 415, description = "A JSON or form body", body = crate::error::ErrorBody),
              (status = 422, description = "Not a whole JPEG, PNG or WebP, the declared image type differs, or over a content limit: pixels, decode memory, colour profile, metadata (field `file`)", body = crate::error::ErrorBody),
              (status = 503, description = "Every photo-decode slot is busy (`busy`); see Retry-After", body = crate::error::ErrorBody)))]
pub(crate) async fn upload_staff(
    State(st): State<AppState>,
    staff: Staff,
    req: Request,
) -> Result<(StatusCode, Json<AttachmentDto>), ApiError> {
    let (bytes, declared) = read_upload(req, MAX_STAFF_UPLOAD_BYTES).await?;
    let (a, new) = st
        .svc
        .upload_attachment(Uploader::Staff(&staff.actor), bytes, declared.as_deref())
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(AttachmentDto::from(&a))))
}

/// `scheme://host` of the request, when the Host header is a plain host name.
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    ok.then(|| format!("{}://{host}", if https { "https" } else { "http" }))
}

#[utoipa::path(post, path = "/api/v1/public/media", tag = "attachments",
    request_body(content = String, content_type = "multipart/form-data",
        description = "A citizen's photo, as for POST /api/v1/attachments; at most 5 MiB. Pass the answered media_url to Open311."),
    responses((status = 201, description = "A new attachment", body = PublicMediaDto),
              (status = 200, description = "The same content was uploaded before", body = PublicMediaDto),
              (status = 413, body = crate::error::ErrorBody),
              (status = 415, body = crate::error::ErrorBody),
              (status = 422, description = "Not a whole JPEG, PNG or WebP, or over a content limit (field `file`)", body = crate::error::ErrorBody),
              (status = 429, description = "Over the per-address upload rate (`--upload-rate-per-address`, default 30 in 10 minutes); see Retry-After", body = crate::error::ErrorBody),
              (status = 503, description = "Every photo-decode slot is busy (`busy`); see Retry-After", body = crate::error::ErrorBody)))]
pub(crate) async fn upload_public(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> Result<(StatusCode, Json<PublicMediaDto>), ApiError> {
    // Counted before the body is read: a refused client costs nothing more.
    st.svc.admit_public_upload(ip)?;
    let origin = origin(req.headers());
    let (bytes, declared) = read_upload(req, MAX_PUBLIC_UPLOAD_BYTES).await?;
    let client = ip.to_string();
    let (a, new) = st
        .svc
        .upload_attachment(
            Uploader::Public { client: &client },
            bytes,
            declared.as_deref(),
        )
        .await?;
    let public_url = public_path(&a);
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PublicMediaDto {
            id: a.id.to_string(),
            mime: a.mime.clone(),
            width: a.width,
            height: a.height,
            media_url: origin.map(|o| format!("{o}{public_url}")),
            public_url,
        }),
    ))
}

fn image_response(a: &Attachment, bytes: Vec<u8>, cache: &'static str) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&a.mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    resp
}

#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", security(("bearer" = [])),
    params(("id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The original bytes, EXIF included", content_type = "image/*", body = String),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "The role sees photos without metadata only, or the photo belongs to no case in the caller's read scope", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn original(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = st.svc.attachment(&id).await?;
    st.svc.check_original_access(&staff.actor, &a).await?;
    let bytes = st.svc.attachment_bytes(&a, Variant::Original).await?;
    Ok(image_response(&a, bytes, "private, max-age=3600"))
}

#[utoipa::path(get, path = "/media/{id}", tag = "attachments",
    params(("id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "The copy without EXIF/XMP/text metadata (public to whoever has the id)", content_type = "image/*", body = String),
              (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn public_copy(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let a = st.svc.attachment(&id).await?;
    let bytes = st.svc.attachment_bytes(&a, Variant::Public).await?;
    // The content of an id never changes.
    Ok(image_response(
        &a,
        bytes,
        "public, max-age=31536000, immutable",
    ))
}
