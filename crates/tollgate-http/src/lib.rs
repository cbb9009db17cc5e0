//! Tollgate's HTTP server: the REST API under `/api/v1` (JSON, OpenAPI 3 at
//! `/api/v1/openapi.json`, RFC 9457 errors), the web UI at `/` (`ui`), `/healthz`, `/readyz`
//! and `/metrics`.
//!
//! Handlers parse the request at the edge, call one use case in `tollgate-service`, and map the
//! result; they hold no business rules. Every `/api/v1` endpoint requires a bearer token; every
//! page requires a session cookie; neither is accepted in the other's place.
#![forbid(unsafe_code)]

pub mod api;
pub mod error;
mod extract;
mod metrics;
mod ui;
pub mod ui_graph;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use axum::Router;
use tollgate_service::Tollgate;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use crate::error::{error_codes_markdown, ApiError, ERROR_CODES};
pub use crate::metrics::Metrics;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub tollgate: Tollgate,
    pub metrics: Arc<Metrics>,
    pub web: Arc<WebSettings>,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Reverse proxies whose `X-Forwarded-Proto` and `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The whole HTTP application, with default settings.
pub fn router(tollgate: Tollgate) -> Router {
    router_with(tollgate, WebSettings::default())
}

/// The whole HTTP application. Serve it with `into_make_service_with_connect_info::<SocketAddr>`
/// so sign-in lockouts can count client addresses.
pub fn router_with(tollgate: Tollgate, web: WebSettings) -> Router {
    let state = AppState { tollgate, metrics: Metrics::new(), web: Arc::new(web) };
    let request_id = HeaderName::from_static("x-request-id");
    let (api, openapi) = api::split();
    let openapi = Arc::new(openapi);
    Router::new()
        .nest("/api/v1", api.route("/openapi.json", get(api::openapi_json)).layer(axum::Extension(openapi)))
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(ui::routes())
        .fallback(ui::fallback)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::map_response(ui::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The OpenAPI document, for tools that want it without a running server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::split().1
}
