//! Operations on one channel or message that call the provider synchronously: mark read (with
//! the typing indicator), the channel health check, and a test send.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chasqui_channels::send::{MarkReadOutcome, Sender};
use chasqui_core::ids::{ChannelId, MessageId};
use chasqui_store::channels::Channel;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::TenantAuth;
use crate::http::error::ApiError;
use crate::http::extract::Json;

async fn sender_for(
    state: &AppState,
    channel: &Channel,
) -> Result<std::sync::Arc<dyn Sender>, ApiError> {
    crate::outbound::runtime::sender_for(state, channel)
        .await
        .map_err(|e| match e {
            crate::outbound::runtime::SenderError::Misconfigured(reason) => {
                ApiError::invalid("channel_cannot_send", "channel_id", reason)
            }
            other => ApiError::internal(&other),
        })
}

fn provider_error(e: &chasqui_channels::send::SendError) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.message.clone())
        .with_extra(json!({ "provider": { "code": e.code, "http_status": e.http_status, "class": format!("{:?}", e.class) } }))
}

/// `POST /v1/messages/{id}/read` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Also show "typing…" to the customer (up to 25 s or until the next message).
    #[serde(default)]
    typing: bool,
}

/// `POST /v1/messages/{id}/read`: marks a customer's message read (blue ticks), optionally with
/// the typing indicator.
pub async fn mark_read(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional: `{}` or nothing marks read; `{"typing": true}` adds the indicator.
    let typing = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<ReadBody>(&body)
            .map_err(|e| {
                ApiError::invalid(
                    "invalid_body",
                    "typing",
                    format!("The body must be {{\"typing\": true|false}}: {e}."),
                )
            })?
            .typing
    };
    let id: MessageId = id.parse().map_err(|_| ApiError::not_found("message"))?;
    let m = state.store.message(auth.tenant_id, id).await?;
    if m.direction != "in" {
        return Err(ApiError::invalid(
            "not_inbound",
            "id",
            "Only messages from a customer can be marked read.",
        ));
    }
    let wamid = m.provider_message_id.clone().ok_or_else(|| {
        ApiError::invalid("no_provider_id", "id", "This message has no provider id.")
    })?;
    let channel = state.store.channel(auth.tenant_id, m.channel_id).await?;
    let sender = sender_for(&state, &channel).await?;
    match sender.mark_read(&wamid, typing).await {
        Ok(MarkReadOutcome::Marked) => {
            Ok(Json(json!({ "id": id, "read": true, "typing": typing })))
        }
        Ok(MarkReadOutcome::Unsupported) => Err(ApiError::invalid(
            "not_supported_by_channel",
            "id",
            format!("A `{}` channel cannot send read receipts.", channel.kind),
        )),
        Err(e) => Err(provider_error(&e)),
    }
}

/// `GET /v1/channels/{id}/health`: is the token valid, is the provider reachable, the circuit
/// breaker's state and the rate budget.
pub async fn health(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: ChannelId = id.parse().map_err(|_| ApiError::not_found("channel"))?;
    let channel = state.store.channel(auth.tenant_id, id).await?;
    let key = channel.id.to_string();
    let breaker = state.outbound.breakers.snapshot(&key);
    let rate = crate::outbound::runtime::OutboundRuntime::rate_of(&channel);
    let number = channel
        .phone_number_id
        .clone()
        .or(channel.display_phone_number.clone())
        .unwrap_or(key);
    let wait = state
        .outbound
        .throughput
        .next_allowed_at(&number)
        .saturating_duration_since(Instant::now());
    let provider = match sender_for(&state, &channel).await {
        Ok(sender) => serde_json::to_value(sender.health().await).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    Ok(Json(json!({
        "channel_id": channel.id,
        "kind": channel.kind,
        "status": channel.status,
        "provider": provider,
        "breaker": breaker,
        "rate": { "per_second": 1.0 / rate.interval().as_secs_f64(), "next_send_in_ms": wait.as_millis() as u64 },
    })))
}

/// `POST /v1/channels/{id}/test` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    to: String,
    text: Option<String>,
    template: Option<Value>,
}

/// `POST /v1/channels/{id}/test`: sends a test message through this channel, by the normal path
/// (a text inside the 24-hour window, or the template given).
pub async fn test_send(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<TestBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id: ChannelId = id.parse().map_err(|_| ApiError::not_found("channel"))?;
    state.store.channel(auth.tenant_id, id).await?;
    let request = match body.template {
        Some(t) => json!({ "channel_id": id, "to": body.to, "type": "template", "template": t }),
        None => json!({ "channel_id": id, "to": body.to, "type": "text",
                        "text": { "body": body.text.unwrap_or_else(|| "Chasqui test message: this channel can send. ✔".into()) } }),
    };
    crate::outbound::api::send(State(state), auth, headers, Json(request)).await
}
