//! The live inbox over HTTP (issue 15 item 5): the caller's notices (unread first, paged),
//! the unread count, marking read, and the Server-Sent Events stream.
//!
//! `GET /api/v1/stream?ticket=…` is opened by the browser's `EventSource`, which cannot
//! send an `Authorization` header, and the console keeps its session token out of cookies
//! and URLs: it first asks `POST /api/v1/stream/ticket` (Bearer auth) for a single-use
//! ticket valid 60 s (`cityloop_service::live`). The stream sends
//! - `event: notice` — `{"notice": Notification, "unread": n}` for each new notice of the
//!   person;
//! - `event: case` — `{"id","number","state","light"}` for every change of a case within
//!   the person's read scope (or leaving it): the contract the wall screen reads too;
//! - `event: lagged` — `{"skipped": n}` when the stream fell behind (reload what you show);
//! - a `: keep-alive` comment every [`KEEP_ALIVE`].
//!
//! It ends when the server shuts down. At most `MAX_STREAMS_PER_PERSON` (4) streams per
//! person are open at once; the next answers 429.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_service::inbox::{CaseChange, InboxPage, StreamItem, StreamTicket};
use cityloop_service::live::{StreamRefused, Subscription};
use cityloop_service::ServiceError;
use cityloop_store::MAX_INBOX_PAGE;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Staff};
use crate::AppState;

/// How often an idle stream sends a comment (proxies and the idle timeout keep it open).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Default page of `GET /api/v1/me/inbox`.
pub const DEFAULT_INBOX_PAGE: u32 = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/inbox", get(inbox))
        .route("/api/v1/me/inbox/unread", get(unread))
        .route("/api/v1/me/inbox/read-all", post(read_all))
        .route("/api/v1/me/inbox/{id}/read", post(read_one))
        .route("/api/v1/stream/ticket", post(ticket))
        .route("/api/v1/stream", get(stream))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboxQuery {
    /// Rows to skip (default 0).
    offset: Option<u32>,
    /// Rows per page, 1 to 100 (default 20).
    limit: Option<u32>,
}

/// The unread count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread: i64,
}

#[utoipa::path(get, path = "/api/v1/me/inbox", tag = "auth", security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, description = "The caller's notices: unread first, then newest first", body = InboxPage),
              (status = 401, body = ErrorBody),
              (status = 422, description = "`limit` outside 1..=100, or an unknown parameter", body = ErrorBody)))]
pub(crate) async fn inbox(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_INBOX_PAGE);
    const { assert!(DEFAULT_INBOX_PAGE <= MAX_INBOX_PAGE) };
    Ok(Json(
        st.svc
            .inbox(&staff.person, q.offset.unwrap_or(0), limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/me/inbox/unread", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)))]
pub(crate) async fn unread(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Unread>, ApiError> {
    Ok(Json(Unread {
        unread: st.svc.unread_count(&staff.person).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/me/inbox/{id}/read", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification's id")),
    responses((status = 200, description = "Marked read (again: no change); the unread count after it", body = Unread),
              (status = 400, description = "`id` is not a UUID", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such notification of the caller", body = ErrorBody)))]
pub(crate) async fn read_one(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<Unread>, ApiError> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            "id: not a notification id (a UUID)",
        )
    })?;
    Ok(Json(Unread {
        unread: st.svc.mark_read(&staff.person, Some(id)).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/me/inbox/read-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Every notice of the caller read; the unread count after it (0)", body = Unread),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn read_all(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Unread>, ApiError> {
    Ok(Json(Unread {
        unread: st.svc.mark_read(&staff.person, None).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/stream/ticket", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "A single-use ticket for `GET /api/v1/stream`, valid 60 s", body = StreamTicket),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn ticket(State(st): State<AppState>, staff: Staff) -> Json<StreamTicket> {
    Json(st.svc.stream_ticket(&staff.person))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// The ticket from `POST /api/v1/stream/ticket` (single use).
    ticket: String,
}

#[utoipa::path(get, path = "/api/v1/stream", tag = "auth",
    params(StreamQuery),
    responses((status = 200, description = "`text/event-stream`: `event: notice` ({notice, unread}), `event: case` ({id, number, state, light}) for cases in the caller's read scope, `event: lagged` ({skipped}), a keep-alive comment every 15 s; ends when the server shuts down", content_type = "text/event-stream", body = CaseChange),
              (status = 401, description = "The ticket is unknown, used or expired", body = ErrorBody),
              (status = 422, description = "`ticket` is missing", body = ErrorBody),
              (status = 429, description = "The caller has 4 streams open already", body = ErrorBody),
              (status = 503, description = "The server is shutting down", body = ErrorBody)))]
pub(crate) async fn stream(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let sub = st
        .svc
        .live
        .subscribe(&q.ticket, Instant::now())
        .map_err(|e| match e {
            StreamRefused::BadTicket => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
            }
            StreamRefused::TooMany => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                e.to_string(),
            ),
            StreamRefused::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        })?;
    let person = st
        .svc
        .store
        .person(sub.person)
        .await
        .map_err(ServiceError::from)?;
    if !person.active {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the account is deactivated",
        ));
    }
    let scope = st.svc.stream_scope(&person)?;
    let events = events(st, person, scope, sub);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response())
}

/// The stream of one subscription: live messages filtered and shaped for its person,
/// until the server closes the hub.
fn events(
    st: AppState,
    person: cityloop_domain::model::Person,
    scope: cityloop_domain::workflow::ReadScope,
    sub: Subscription,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (st, person, scope, sub),
        |(st, person, scope, mut sub)| async move {
            loop {
                if *sub.closed.borrow() {
                    return None;
                }
                let msg = tokio::select! {
                    m = sub.rx.recv() => m,
                    _ = sub.closed.changed() => return None,
                };
                let ev = match msg {
                    Ok(msg) => match st.svc.stream_item(&person, &scope, &msg).await {
                        Ok(Some(StreamItem::Notice { notice, unread })) => Event::default()
                            .event("notice")
                            .json_data(serde_json::json!({ "notice": notice, "unread": unread })),
                        Ok(Some(StreamItem::Case(c))) => {
                            Event::default().event("case").json_data(c)
                        }
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::debug!(error = %e, "live stream: a message could not be shaped");
                            continue;
                        }
                    },
                    Err(RecvError::Lagged(n)) => Event::default()
                        .event("lagged")
                        .json_data(serde_json::json!({ "skipped": n })),
                    Err(RecvError::Closed) => return None,
                };
                match ev {
                    Ok(ev) => return Some((Ok(ev), (st, person, scope, sub))),
                    Err(e) => tracing::debug!(error = %e, "live stream: encoding failed"),
                }
            }
        },
    )
}
