//! `/v1/webhook-endpoints`: where the tenant's application receives signed events, with the
//! delivery log and replays. The signing secret is shown once, when the endpoint is created or
//! its secret rotated; it is stored encrypted and never returned again.
//!
//! URLs are checked with [`crate::delivery::check_url`]: http(s) only, and unless the operator
//! allows it (`CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true`), never a host that is or resolves to a
//! loopback, private, link-local or otherwise non-public address.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chasqui_core::ids::{DeliveryId, EventId, WebhookEndpointId};
use chasqui_store::events::{
    Delivery, DeliveryAttempt, DeliveryState, EVENT_TYPES, NewWebhookEndpoint, WebhookEndpoint,
    WebhookEndpointPatch, is_event_type,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::events::EventView;
use super::extract::{Json, Query};
use super::list::{DEFAULT_LIMIT, ListParams, ListResponse, MAX_LIMIT};
use crate::delivery::{DeliveryPolicy, check_url, generate_secret};

/// Most endpoints one tenant may register (each event is posted to every subscribed one).
pub const MAX_ENDPOINTS_PER_TENANT: usize = 50;
/// Longest description kept.
const MAX_DESCRIPTION: usize = 500;

/// The routes of this module, merged into `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook-endpoints", get(list).post(create))
        .route(
            "/webhook-endpoints/{id}",
            get(get_one).patch(patch).delete(delete),
        )
        .route("/webhook-endpoints/{id}/rotate-secret", post(rotate_secret))
        .route("/webhook-endpoints/{id}/deliveries", get(list_deliveries))
        .route(
            "/webhook-endpoints/{id}/deliveries/{delivery_id}",
            get(get_delivery),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
            post(replay),
        )
}

// ---------------------------------------------------------------------------------------------
// Views

/// An endpoint as the API shows it.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    id: WebhookEndpointId,
    url: String,
    description: Option<String>,
    /// The event types it receives; `["*"]` for all.
    events: Vec<String>,
    enabled: bool,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    /// The first failed attempt since the last success; `null` while healthy.
    failing_since: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Shown only when created and when rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// After a rotation: until when the old secret also signs deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_valid_until: Option<DateTime<Utc>>,
}

impl From<WebhookEndpoint> for EndpointView {
    fn from(e: WebhookEndpoint) -> Self {
        let enabled = e.enabled();
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            events: if e.event_types.is_empty() {
                vec!["*".to_owned()]
            } else {
                e.event_types
            },
            enabled,
            disabled_at: e.disabled_at,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            last_success_at: e.last_success_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
            previous_secret_valid_until: e.previous_secret_expires_at.filter(|t| *t > Utc::now()),
        }
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    id: DeliveryId,
    endpoint_id: WebhookEndpointId,
    event_id: EventId,
    event_type: String,
    state: DeliveryState,
    attempts: u32,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Every attempt (single-delivery view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt_log: Option<Vec<AttemptView>>,
    /// The event as posted (single-delivery view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventView>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: if d.state == DeliveryState::Pending {
                d.next_attempt_at
            } else {
                None
            },
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempt_log: None,
            event: None,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    attempt: u32,
    status_code: Option<u16>,
    error: Option<String>,
    duration_ms: i64,
    attempted_at: DateTime<Utc>,
}

impl From<DeliveryAttempt> for AttemptView {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            attempted_at: a.attempted_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input

/// `POST /v1/webhook-endpoints` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    url: String,
    events: Option<Vec<String>>,
    description: Option<String>,
}

/// `PATCH /v1/webhook-endpoints/{id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    events: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The event types to store: empty for all (`null`, `[]` or `"*"`), otherwise known types only.
fn event_types(given: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in given.unwrap_or_default().into_iter().enumerate() {
        let t = t.trim().to_owned();
        if t == "*" {
            return Ok(Vec::new());
        }
        if !is_event_type(&t) {
            return Err(ApiError::invalid(
                "unknown_event_type",
                format!("events[{i}]"),
                format!(
                    "`{t}` is not an event type; valid types are {}, or \"*\" for all of them.",
                    EVENT_TYPES.join(", ")
                ),
            )
            .with_extra(json!({ "valid_event_types": EVENT_TYPES })));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn description(given: Option<String>) -> Result<Option<String>, ApiError> {
    match given.map(|d| d.trim().to_owned()) {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(ApiError::invalid(
            "description_too_long",
            "description",
            format!("The description may have at most {MAX_DESCRIPTION} characters."),
        )),
        Some(d) if d.is_empty() => Ok(None),
        other => Ok(other),
    }
}

async fn checked_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    check_url(raw, state.config.security.allow_private_webhook_urls)
        .await
        .map(|u| u.to_string())
        .map_err(|p| ApiError::invalid(p.code(), "url", p.to_string()))
}

fn endpoint_id(s: &str) -> Result<WebhookEndpointId, ApiError> {
    s.parse()
        .map_err(|_| ApiError::not_found("webhook endpoint"))
}

fn delivery_id(s: &str) -> Result<DeliveryId, ApiError> {
    s.parse().map_err(|_| ApiError::not_found("delivery"))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// `POST /v1/webhook-endpoints`: 201 with the endpoint and its secret, shown this once.
#[tracing::instrument(skip_all, fields(tenant_id = %auth.tenant_id))]
pub async fn create(
    State(state): State<AppState>,
    auth: TenantAuth,
    Json(body): Json<CreateEndpoint>,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let url = checked_url(&state, &body.url).await?;
    let event_types = event_types(body.events)?;
    let description = description(body.description)?;
    let existing = state
        .store
        .list_webhook_endpoints(auth.tenant_id, MAX_ENDPOINTS_PER_TENANT, None)
        .await?;
    if existing.items.len() >= MAX_ENDPOINTS_PER_TENANT {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_endpoints",
            format!(
                "A tenant may register at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints; delete one first."
            ),
        ));
    }
    let secret = generate_secret();
    let endpoint = state
        .store
        .create_webhook_endpoint(
            auth.tenant_id,
            &state.keys.current(),
            NewWebhookEndpoint {
                url,
                description,
                event_types,
            },
            &secret,
            &auth.actor(),
        )
        .await?;
    let mut view = EndpointView::from(endpoint);
    view.secret = Some(secret.expose().to_owned());
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/webhook-endpoints`.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<EndpointView>>, ApiError> {
    let page = state
        .store
        .list_webhook_endpoints(auth.tenant_id, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, EndpointView::from)))
}

/// `GET /v1/webhook-endpoints/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    let e = state
        .store
        .webhook_endpoint(auth.tenant_id, endpoint_id(&id)?)
        .await?;
    Ok(Json(e.into()))
}

/// `PATCH /v1/webhook-endpoints/{id}`: `url`, `events`, `description`, `enabled`.
#[tracing::instrument(skip_all, fields(tenant_id = %auth.tenant_id))]
pub async fn patch(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    Json(body): Json<PatchEndpoint>,
) -> Result<Json<EndpointView>, ApiError> {
    let id = endpoint_id(&id)?;
    // 404 before validating, so another tenant's id reveals nothing.
    state.store.webhook_endpoint(auth.tenant_id, id).await?;
    let url = match body.url {
        Some(u) => Some(checked_url(&state, &u).await?),
        None => None,
    };
    let event_types = body.events.map(event_types).transpose()?;
    let description = body.description.map(description).transpose()?;
    let e = state
        .store
        .update_webhook_endpoint(
            auth.tenant_id,
            id,
            WebhookEndpointPatch {
                url,
                description,
                event_types,
                enabled: body.enabled,
            },
            &auth.actor(),
        )
        .await?;
    Ok(Json(e.into()))
}

/// `DELETE /v1/webhook-endpoints/{id}`: the endpoint, its secret and its delivery log.
pub async fn delete(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_webhook_endpoint(auth.tenant_id, endpoint_id(&id)?, &auth.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/webhook-endpoints/{id}/rotate-secret`: a new secret, shown this once; the old one
/// keeps signing beside it for a day so receivers can switch without losing events.
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    let id = endpoint_id(&id)?;
    let secret = generate_secret();
    let grace = DeliveryPolicy::from_config(&state.config).previous_secret_grace;
    let until = Utc::now() + chrono::Duration::from_std(grace).unwrap_or_default();
    let e = state
        .store
        .rotate_webhook_endpoint_secret(
            auth.tenant_id,
            id,
            &state.keys.current(),
            &secret,
            until,
            &auth.actor(),
        )
        .await?;
    let mut view = EndpointView::from(e);
    view.secret = Some(secret.expose().to_owned());
    Ok(Json(view))
}

/// `?limit=&cursor=&state=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    limit: Option<usize>,
    cursor: Option<String>,
    state: Option<String>,
}

/// `GET /v1/webhook-endpoints/{id}/deliveries`: the delivery log, oldest first.
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    Query(q): Query<DeliveryParams>,
) -> Result<Json<ListResponse<DeliveryView>>, ApiError> {
    let id = endpoint_id(&id)?;
    state.store.webhook_endpoint(auth.tenant_id, id).await?;
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(
                "invalid_limit",
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}; {n} was given."),
            ));
        }
    };
    let cursor = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<DeliveryId>().map_err(|_| {
                ApiError::invalid(
                    "invalid_cursor",
                    "cursor",
                    "This cursor is not one this list returned; pass `next_cursor` from the previous page unchanged.",
                )
            })
        })
        .transpose()?;
    let filter = q
        .state
        .as_deref()
        .map(|s| {
            DeliveryState::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_state",
                    "state",
                    format!("`{s}` is not a delivery state; use pending, succeeded or failed."),
                )
            })
        })
        .transpose()?;
    let page = state
        .store
        .list_deliveries(auth.tenant_id, id, filter, limit, cursor)
        .await?;
    Ok(Json(ListResponse::from_page(page, DeliveryView::from)))
}

/// `GET /v1/webhook-endpoints/{id}/deliveries/{delivery_id}`: one delivery with every attempt
/// and the event.
pub async fn get_delivery(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    let (id, delivery) = (endpoint_id(&id)?, delivery_id(&delivery)?);
    let d = state.store.delivery(auth.tenant_id, id, delivery).await?;
    let attempts = state
        .store
        .delivery_attempts(auth.tenant_id, delivery)
        .await?;
    let event = state.store.event(auth.tenant_id, d.event_id).await?;
    let mut view = DeliveryView::from(d);
    view.attempt_log = Some(attempts.into_iter().map(AttemptView::from).collect());
    view.event = Some(event.into());
    Ok(Json(view))
}

/// `POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay`: sends the event again,
/// with the same `webhook-id`, on a fresh retry schedule; 202 with the delivery.
#[tracing::instrument(skip_all, fields(tenant_id = %auth.tenant_id))]
pub async fn replay(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let (id, delivery) = (endpoint_id(&id)?, delivery_id(&delivery)?);
    let endpoint = state.store.webhook_endpoint(auth.tenant_id, id).await?;
    // Checked first, so another tenant's delivery id is a 404 whatever the endpoint's state.
    state.store.delivery(auth.tenant_id, id, delivery).await?;
    if !endpoint.enabled() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoint_disabled",
            "This endpoint is disabled; enable it with `PATCH {\"enabled\": true}`, then replay.",
        ));
    }
    let d = state
        .store
        .replay_delivery(auth.tenant_id, id, delivery, &auth.actor())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d.into())))
}
