//! The HTTP surface: routes, shared state and the layers every request passes through
//! (request id, tracing, metrics, body limit, timeout, panic guard).

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod conversations;
pub mod dead_letters;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod links;
pub mod list;
pub mod metrics;
pub mod templates;
pub mod tenant;
pub mod webhook_endpoints;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chasqui_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::master_key::MasterKeys;
use error::ApiError;

/// What every handler can reach; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Keys for credentials at rest.
    pub keys: MasterKeys,
    /// Rate limits, breakers and the HTTP client of every send.
    pub outbound: crate::outbound::runtime::OutboundRuntime,
    /// Group commit of verified webhooks, so many deliveries share one fsync.
    pub inbox: crate::inbound::inbox::Inbox,
    /// Group commit of accepted sends.
    pub outbox: crate::outbound::outbox::Outbox,
}

impl AppState {
    /// The state of a running process.
    pub fn new(store: Store, config: Config, keys: MasterKeys) -> anyhow::Result<Self> {
        let outbound = crate::outbound::runtime::OutboundRuntime::new(&config)?;
        let inbox = crate::inbound::inbox::Inbox::start(&store);
        let outbox = crate::outbound::outbox::Outbox::start(&store);
        Ok(Self {
            inbox,
            outbox,
            store,
            config: Arc::new(config),
            keys,
            outbound,
        })
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the application's router.
pub fn router(state: AppState) -> Router {
    metrics::install();
    let body_limit = state.config.server.body_limit_bytes;
    let timeout = state.config.server.request_timeout();
    let api = Router::new()
        .route("/tenant", get(tenant::get).patch(tenant::patch))
        .route("/api-keys", get(api_keys::list))
        .route("/audit-log", get(audit::list))
        .route("/channels", get(channels::list).post(channels::create))
        .route("/dead-letters", get(dead_letters::list))
        .route(
            "/dead-letters/{id}/replay",
            axum::routing::post(dead_letters::replay),
        )
        .route("/conversations", get(conversations::list_conversations))
        .route("/conversations/{id}", get(conversations::get_conversation))
        .route(
            "/conversations/{id}/messages",
            get(conversations::conversation_messages),
        )
        .route(
            "/messages",
            get(conversations::list_messages).post(crate::outbound::api::send),
        )
        .route("/messages/{id}", get(conversations::get_message))
        .route(
            "/messages/{id}/read",
            axum::routing::post(crate::outbound::channel_ops::mark_read),
        )
        .route(
            "/channels/{id}/health",
            get(crate::outbound::channel_ops::health),
        )
        .route(
            "/channels/{id}/test",
            axum::routing::post(crate::outbound::channel_ops::test_send),
        )
        .route("/contacts", get(conversations::list_contacts))
        .route(
            "/contacts/{id}",
            get(conversations::get_contact).patch(conversations::patch_contact),
        )
        .route(
            "/channels/{id}",
            get(channels::get)
                .patch(channels::patch)
                .delete(channels::delete),
        )
        .merge(links::routes())
        .merge(webhook_endpoints::routes())
        .merge(templates::routes())
        .merge(crate::media::http::routes())
        .merge(events::routes());
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .nest("/v1", api)
        .nest("/sandbox", crate::sandbox::routes(&state))
        .route("/webhooks/whatsapp", get(crate::inbound::receive::meta_verify_app).post(crate::inbound::receive::meta_receive_app))
        .route(
            "/webhooks/whatsapp/{channel_id}",
            get(crate::inbound::receive::meta_verify_channel).post(crate::inbound::receive::meta_receive_channel),
        )
        .route("/media/shared/{tenant}/{id}", get(crate::media::shared_link::shared))
        .route("/webhooks/360dialog/{channel_id}", axum::routing::post(crate::inbound::receive::dialog360_receive))
        .route("/webhooks/twilio/{channel_id}", axum::routing::post(crate::inbound::receive::twilio_receive))
        .route("/webhooks/chatwoot/{channel_id}", axum::routing::post(crate::inbound::receive::chatwoot_receive))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |req, next| with_timeout(timeout, req, next)))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side; it has been logged.")
                .into_response()
        }))
        .route_layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id, tenant_id = tracing::field::Empty)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn with_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!(
                "The request took longer than {} s and was abandoned; retry it.",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!(
            "There is no endpoint {method} {}; see docs/api.md for the routes.",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}.", uri.path()),
    )
}
