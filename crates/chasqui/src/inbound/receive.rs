//! Receiving webhooks: check the signature over the exact bytes, commit the raw delivery (and its
//! processing job) to the database, and only then answer 200. Nothing is parsed here.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chasqui_channels::signature;
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::ChannelId;
use chasqui_core::secrets::Secret;
use chasqui_store::channels::Channel;
use chasqui_store::receipts::NewReceipt;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::error::ApiError;

/// Meta's verification handshake parameters.
#[derive(Debug, Deserialize)]
pub struct Hub {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Query parameters some providers use to authenticate (`?token=`).
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn rejected(provider: &'static str, reason: &'static str, message: &str) -> ApiError {
    metrics::counter!("chasqui_webhook_rejected_total", "provider" => provider, "reason" => reason)
        .increment(1);
    tracing::warn!(provider, reason, "webhook rejected");
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
}

fn unknown_channel(kind: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_channel",
        format!(
            "No {kind} channel has this id; check the webhook URL shown by GET /v1/channels/{{id}}."
        ),
    )
}

async fn load_channel(
    state: &AppState,
    id: &str,
    kinds: &[ChannelKind],
    label: &str,
) -> Result<Channel, ApiError> {
    let id: ChannelId = id.parse().map_err(|_| unknown_channel(label))?;
    match state.store.channel_for_webhook(id).await {
        Ok(c) if kinds.contains(&c.kind) => Ok(c),
        Ok(_) | Err(chasqui_store::StoreError::NotFound(_)) => Err(unknown_channel(label)),
        Err(e) => Err(e.into()),
    }
}

async fn secret_of(
    state: &AppState,
    channel: &Channel,
    name: &str,
) -> Result<Option<Secret>, ApiError> {
    state
        .store
        .channel_secret(&state.keys.current(), channel, name)
        .await
        .map_err(|e| ApiError::internal(&e))
}

fn challenge(hub: &Hub, expected: Option<&Secret>) -> Response {
    let Some(expected) = expected else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "verify_token_not_configured",
            "No verify token is configured for this endpoint: set CHASQUI_META_VERIFY_TOKEN, or the channel's verify_token.",
        )
        .into_response();
    };
    match signature::verify_challenge(
        hub.mode.as_deref(),
        hub.verify_token.as_deref(),
        hub.challenge.as_deref(),
        expected.expose(),
    ) {
        Ok(ch) => ([(header::CONTENT_TYPE, "text/plain")], ch.to_owned()).into_response(),
        Err(_) => {
            metrics::counter!("chasqui_webhook_rejected_total", "provider" => "whatsapp", "reason" => "verify_token").increment(1);
            ApiError::new(
                StatusCode::FORBIDDEN,
                "verification_failed",
                "hub.verify_token does not match the configured verify token.",
            )
            .into_response()
        }
    }
}

/// `GET /webhooks/whatsapp`: the handshake for the platform's own Meta app.
pub async fn meta_verify_app(State(state): State<AppState>, Query(hub): Query<Hub>) -> Response {
    challenge(&hub, state.config.meta.verify_token.as_ref())
}

/// `GET /webhooks/whatsapp/{channel_id}`: the handshake for a tenant's own Meta app.
pub async fn meta_verify_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(hub): Query<Hub>,
) -> Result<Response, ApiError> {
    let channel = load_channel(
        &state,
        &id,
        &[ChannelKind::WhatsappCloud, ChannelKind::Sandbox],
        "WhatsApp",
    )
    .await?;
    let own = secret_of(&state, &channel, "verify_token").await?;
    Ok(challenge(
        &hub,
        own.as_ref().or(state.config.meta.verify_token.as_ref()),
    ))
}

fn kept_headers(headers: &HeaderMap, extra: &[(&str, String)]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for name in [
        "content-type",
        "user-agent",
        "x-hub-signature-256",
        "x-twilio-signature",
        "x-request-id",
    ] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            map.insert(name.to_owned(), v.into());
        }
    }
    for (k, v) in extra {
        map.insert((*k).to_owned(), v.clone().into());
    }
    serde_json::Value::Object(map)
}

async fn accept(
    state: &AppState,
    provider: &str,
    channel: Option<&Channel>,
    headers: &HeaderMap,
    extra: &[(&str, String)],
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = state
        .inbox
        .store(NewReceipt {
            provider: provider.to_owned(),
            channel_id: channel.map(|c| c.id),
            tenant_id: channel.map(|c| c.tenant_id),
            body: body.to_vec(),
            headers: kept_headers(headers, extra),
        })
        .await?;
    metrics::counter!("chasqui_webhooks_received_total", "provider" => provider.to_owned())
        .increment(1);
    tracing::debug!(receipt_id = %id, provider, "webhook stored");
    Ok((StatusCode::OK, "ok").into_response())
}

fn check_meta_signature(
    secret: Option<&Secret>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(secret) = secret else {
        tracing::error!(
            "a Meta webhook arrived but no app secret is configured (CHASQUI_META_APP_SECRET or the channel's app_secret)"
        );
        return Err(rejected(
            "whatsapp",
            "not_configured",
            "This endpoint has no app secret configured, so no delivery can be verified.",
        ));
    };
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    signature::verify_meta(secret.expose().as_bytes(), body, header).map_err(|e| {
        let reason = if header.is_none() {
            "missing"
        } else {
            "mismatch"
        };
        rejected(
            "whatsapp",
            reason,
            &format!("X-Hub-Signature-256 check failed: {e}."),
        )
    })
}

/// `POST /webhooks/whatsapp`: deliveries for every tenant of the platform's Meta app, routed
/// later by `phone_number_id`.
pub async fn meta_receive_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_meta_signature(state.config.meta.app_secret.as_ref(), &headers, &body)?;
    accept(&state, "whatsapp", None, &headers, &[], body).await
}

/// `POST /webhooks/whatsapp/{channel_id}`: deliveries for a tenant that brings its own Meta app.
pub async fn meta_receive_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = load_channel(
        &state,
        &id,
        &[ChannelKind::WhatsappCloud, ChannelKind::Sandbox],
        "WhatsApp",
    )
    .await?;
    let own = secret_of(&state, &channel, "app_secret").await?;
    check_meta_signature(
        own.as_ref().or(state.config.meta.app_secret.as_ref()),
        &headers,
        &body,
    )?;
    let provider = if channel.kind == ChannelKind::Sandbox {
        "sandbox"
    } else {
        "whatsapp"
    };
    accept(&state, provider, Some(&channel), &headers, &[], body).await
}

/// `POST /webhooks/360dialog/{channel_id}`: Meta's payload, authenticated by the channel's webhook
/// secret, sent as the `Authorization` header configured at 360dialog
/// (`POST /v1/configs/webhook {"url", "headers": {"Authorization": …}}`) or as `?token=`.
pub async fn dialog360_receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = load_channel(&state, &id, &[ChannelKind::Dialog360], "360dialog").await?;
    let secret = secret_of(&state, &channel, "webhook_secret")
        .await?
        .ok_or_else(|| {
            rejected(
                "360dialog",
                "not_configured",
                "This channel has no webhook_secret; set one with PATCH /v1/channels/{id}.",
            )
        })?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned())
        .or(q.token);
    if signature::verify_shared_secret(secret.expose(), presented.as_deref()).is_err() {
        return Err(rejected(
            "360dialog",
            "mismatch",
            "The webhook secret is missing or wrong.",
        ));
    }
    accept(&state, "360dialog", Some(&channel), &headers, &[], body).await
}

/// The URL Twilio signed: `server.public_url` when set (behind a proxy), else what the request says.
fn public_request_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Some(base) = &state.config.server.public_url {
        return format!("{}{}", base.as_str().trim_end_matches('/'), path_and_query);
    }
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{proto}://{host}{path_and_query}")
}

/// `POST /webhooks/twilio/{channel_id}`: inbound messages and status callbacks, form-encoded,
/// signed with the account's auth token over the public URL and the parameters.
pub async fn twilio_receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = load_channel(&state, &id, &[ChannelKind::Twilio], "Twilio").await?;
    let token = secret_of(&state, &channel, "auth_token")
        .await?
        .ok_or_else(|| {
            rejected(
                "twilio",
                "not_configured",
                "This channel has no auth_token.",
            )
        })?;
    let url = public_request_url(&state, &headers, &uri);
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let header = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    signature::verify_twilio(token.expose(), &url, &params, header).map_err(|e| {
        rejected(
            "twilio",
            if header.is_none() { "missing" } else { "mismatch" },
            &format!("X-Twilio-Signature check failed for {url}: {e}. Behind a proxy, set CHASQUI_PUBLIC_URL to the URL Twilio calls."),
        )
    })?;
    accept(
        &state,
        "twilio",
        Some(&channel),
        &headers,
        &[("signed_url", url)],
        body,
    )
    .await
}

/// `POST /webhooks/chatwoot/{channel_id}`: Chatwoot events, authenticated by the channel's
/// webhook secret as `?token=` in the URL configured in Chatwoot (or an `Authorization` header).
pub async fn chatwoot_receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = load_channel(&state, &id, &[ChannelKind::Chatwoot], "Chatwoot").await?;
    let secret = secret_of(&state, &channel, "webhook_secret")
        .await?
        .ok_or_else(|| {
            rejected(
                "chatwoot",
                "not_configured",
                "This channel has no webhook_secret; set one with PATCH /v1/channels/{id}.",
            )
        })?;
    let presented = q.token.or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_owned())
    });
    match presented {
        Some(p) if signature::verify_shared_secret(secret.expose(), Some(&p)).is_ok() => {}
        Some(_) => {
            return Err(rejected(
                "chatwoot",
                "mismatch",
                "The webhook token is wrong.",
            ));
        }
        None => {
            return Err(rejected(
                "chatwoot",
                "missing",
                "Add ?token=<webhook_secret> to the webhook URL configured in Chatwoot.",
            ));
        }
    }
    accept(&state, "chatwoot", Some(&channel), &headers, &[], body).await
}
