//! The HTTP face of cityloop: an axum router over the service layer.
//!
//! Handlers are thin: extract (typed path/query/JSON and the caller's identity), call one
//! service function, map the result to a response DTO. DTOs live here and only here;
//! every error leaves through [`error::ApiError`], the one place that maps errors to
//! status codes and the JSON envelope documented in docs/API-DESIGN.md.

pub mod admin;
pub mod attachments;
pub mod calendar;
pub mod client;
pub mod dashboard;
pub mod dto;
pub mod edge;
pub mod error;
pub mod export;
pub mod extract;
pub mod hotline;
pub mod inbox;
pub mod integrity;
pub mod maps;
pub mod messages;
pub mod open311;
pub mod openapi;
pub mod patrols;
pub mod rankings;
mod routes;
pub mod search;
pub mod sensors;
pub mod server;
pub mod track;
pub mod web;
pub mod webhooks;

pub mod enforce;

use std::future::Future;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use cityloop_service::Services;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted (JSON); uploads have their own limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request that takes longer than this is answered 408 (default of
/// `--request-timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the HTTP layer itself is configured with (docs/API-DESIGN.md, "Limits").
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Peers whose `X-Forwarded-For` names the client ([`client`]).
    pub trusted_proxies: client::TrustedProxies,
    /// Time limit of one request, body reading included (408 after it).
    pub request_timeout: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: client::TrustedProxies::default(),
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

/// The state every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub svc: Services,
    pub net: std::sync::Arc<NetConfig>,
}

impl AppState {
    /// The state with the default network settings.
    pub fn new(svc: Services) -> Self {
        Self::with_net(svc, NetConfig::default())
    }

    pub fn with_net(svc: Services, net: NetConfig) -> Self {
        Self {
            svc,
            net: std::sync::Arc::new(net),
        }
    }
}

/// The whole application router, inside the [`edge`] guard (limits on the request line
/// and headers, path normalisation before routing; error bodies in the API's shape after).
pub fn router(state: AppState) -> Router {
    let timeout = state.net.request_timeout;
    let app = routes::routes()
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Photo uploads have their own, larger limits.
        .merge(attachments::routes())
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http());
    // A router of its own around the application, so the guard runs before routing
    // (a merged `//` must reach the route it means).
    Router::new()
        .fallback_service(app)
        .layer(axum::middleware::from_fn(edge::guard))
}

/// Serves the router on `listener` with the default connection limits until `shutdown`
/// resolves (see [`server::serve`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let live = state.svc.live.clone();
    let shutdown = async move {
        shutdown.await;
        // Open live streams end now rather than holding the shutdown grace period.
        live.close();
    };
    server::serve(
        listener,
        router(state),
        server::ConnLimits::default(),
        shutdown,
    )
    .await
}
