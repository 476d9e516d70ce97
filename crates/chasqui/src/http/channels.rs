//! `/v1/channels`: a tenant's WhatsApp numbers, Twilio senders and Chatwoot inboxes.
//! Secrets are accepted, encrypted at rest, and never returned (only whether each is set).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::ChannelId;
use chasqui_core::secrets::Secret;
use chasqui_store::channels::{Channel, ChannelPatch, NewChannel, status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// The secrets a channel may hold, by kind.
const SECRET_NAMES: [&str; 6] = [
    "access_token",
    "app_secret",
    "verify_token",
    "webhook_secret",
    "api_key",
    "auth_token",
];

/// A channel as the API shows it.
#[derive(Debug, Serialize)]
pub struct ChannelView {
    id: ChannelId,
    kind: ChannelKind,
    name: String,
    status: String,
    phone_number_id: Option<String>,
    waba_id: Option<String>,
    display_phone_number: Option<String>,
    settings: Value,
    /// Which secrets are set; their values are never returned.
    secrets: serde_json::Map<String, Value>,
    /// Where to point the provider's webhooks.
    webhook_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Shown once, on creation, when Chasqui generated the webhook secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_webhook_secret: Option<String>,
}

impl ChannelView {
    /// The view of a stored channel, with webhook URLs based on the public URL.
    pub fn new(c: Channel, state: &AppState) -> Self {
        let base = state
            .config
            .server
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", state.config.server.listen));
        let path = match c.kind {
            ChannelKind::WhatsappCloud | ChannelKind::Sandbox => {
                format!("/webhooks/whatsapp/{}", c.id)
            }
            ChannelKind::Dialog360 => format!("/webhooks/360dialog/{}", c.id),
            ChannelKind::Twilio => format!("/webhooks/twilio/{}", c.id),
            ChannelKind::Chatwoot => format!("/webhooks/chatwoot/{}", c.id),
            // Zaptra has no webhooks of its own; statuses are not reported back.
            ChannelKind::Zaptra => String::new(),
        };
        let secrets = SECRET_NAMES
            .iter()
            .filter(|n| relevant_secret(c.kind, n))
            .map(|n| {
                (
                    (*n).to_owned(),
                    Value::Bool(c.secrets_set.iter().any(|s| s == n)),
                )
            })
            .collect();
        Self {
            id: c.id,
            kind: c.kind,
            name: c.name,
            status: c.status,
            phone_number_id: c.phone_number_id,
            waba_id: c.waba_id,
            display_phone_number: c.display_phone_number,
            settings: c.settings,
            secrets,
            webhook_url: if path.is_empty() {
                String::new()
            } else {
                format!("{base}{path}")
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
            generated_webhook_secret: None,
        }
    }
}

fn relevant_secret(kind: ChannelKind, name: &str) -> bool {
    match kind {
        ChannelKind::WhatsappCloud | ChannelKind::Sandbox => {
            matches!(name, "access_token" | "app_secret" | "verify_token")
        }
        ChannelKind::Dialog360 => matches!(name, "api_key" | "webhook_secret"),
        ChannelKind::Twilio => name == "auth_token",
        ChannelKind::Chatwoot => matches!(name, "webhook_secret" | "access_token"),
        ChannelKind::Zaptra => name == "access_token",
    }
}

/// `POST /v1/channels` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    kind: String,
    name: Option<String>,
    phone_number_id: Option<String>,
    waba_id: Option<String>,
    display_phone_number: Option<String>,
    #[serde(default)]
    settings: serde_json::Map<String, Value>,
    access_token: Option<String>,
    app_secret: Option<String>,
    verify_token: Option<String>,
    webhook_secret: Option<String>,
    api_key: Option<String>,
    auth_token: Option<String>,
}

fn non_empty(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if s.is_empty() => Err(ApiError::invalid(
            "invalid_value",
            field,
            format!("`{field}` must not be empty; omit it instead."),
        )),
        other => Ok(other),
    }
}

fn required(kind: ChannelKind, field: &str, v: &Option<String>) -> Result<(), ApiError> {
    if v.is_none() {
        return Err(ApiError::invalid(
            "missing_field",
            field,
            format!(
                "A `{kind}` channel needs `{field}`; see docs/webhooks.md for where to find it."
            ),
        ));
    }
    Ok(())
}

fn digits_only(field: &str, v: &Option<String>) -> Result<(), ApiError> {
    if let Some(s) = v
        && !s.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::invalid(
            "invalid_value",
            field,
            format!(
                "`{field}` is Meta's numeric id (digits only), not a phone number; copy it from WhatsApp Manager → API setup."
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/channels`.
pub async fn create(
    State(state): State<AppState>,
    auth: TenantAuth,
    headers: axum::http::HeaderMap,
    Json(body): Json<CreateChannel>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let kind: ChannelKind =
        body.kind
            .parse()
            .map_err(|e: chasqui_core::channel::UnknownChannelKind| {
                ApiError::invalid("invalid_kind", "kind", e.to_string())
            })?;
    let phone_number_id = non_empty("phone_number_id", body.phone_number_id)?;
    let waba_id = non_empty("waba_id", body.waba_id)?;
    digits_only("phone_number_id", &phone_number_id)?;
    digits_only("waba_id", &waba_id)?;
    let mut secrets: Vec<(String, Secret)> = Vec::new();
    let given = [
        (
            "access_token",
            non_empty("access_token", body.access_token)?,
        ),
        ("app_secret", non_empty("app_secret", body.app_secret)?),
        (
            "verify_token",
            non_empty("verify_token", body.verify_token)?,
        ),
        (
            "webhook_secret",
            non_empty("webhook_secret", body.webhook_secret)?,
        ),
        ("api_key", non_empty("api_key", body.api_key)?),
        ("auth_token", non_empty("auth_token", body.auth_token)?),
    ];
    for (name, value) in &given {
        if value.is_some() && !relevant_secret(kind, name) {
            return Err(ApiError::invalid(
                "unexpected_field",
                *name,
                format!("A `{kind}` channel does not use `{name}`."),
            ));
        }
    }
    let get = |n: &str| {
        given
            .iter()
            .find(|(k, _)| *k == n)
            .and_then(|(_, v)| v.clone())
    };
    let mut generated = None;
    match kind {
        ChannelKind::WhatsappCloud => {
            required(kind, "phone_number_id", &phone_number_id)?;
            required(kind, "access_token", &get("access_token"))?;
        }
        ChannelKind::Dialog360 => required(kind, "api_key", &get("api_key"))?,
        ChannelKind::Twilio => {
            required(kind, "auth_token", &get("auth_token"))?;
            if !body
                .settings
                .get("account_sid")
                .is_some_and(|v| v.as_str().is_some_and(|s| s.starts_with("AC")))
            {
                return Err(ApiError::invalid(
                    "missing_field",
                    "settings.account_sid",
                    "A `twilio` channel needs `settings.account_sid` (starts with `AC`, from the Twilio console).",
                ));
            }
        }
        ChannelKind::Zaptra => {
            required(kind, "access_token", &get("access_token"))?;
            if !body
                .settings
                .get("base_url")
                .is_some_and(|v| v.as_str().is_some_and(|s| s.starts_with("http")))
            {
                return Err(ApiError::invalid(
                    "missing_field",
                    "settings.base_url",
                    "A `zaptra` channel needs `settings.base_url`, the reseller's API base (e.g. https://zaptra.in/api/wpbox).",
                ));
            }
        }
        ChannelKind::Chatwoot | ChannelKind::Sandbox => {}
    }
    let needs_webhook_secret = matches!(kind, ChannelKind::Chatwoot | ChannelKind::Dialog360)
        && get("webhook_secret").is_none();
    for (name, value) in given {
        if let Some(v) = value {
            secrets.push((name.to_owned(), Secret::new(v)));
        }
    }
    if needs_webhook_secret {
        let token = random_token();
        secrets.push(("webhook_secret".into(), Secret::new(token.clone())));
        generated = Some(token);
    }
    let mut new = NewChannel {
        kind,
        name: body
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| kind.to_string()),
        phone_number_id,
        waba_id,
        display_phone_number: non_empty("display_phone_number", body.display_phone_number)?,
        settings: Value::Object(body.settings),
        secrets,
    };
    if kind == ChannelKind::Sandbox {
        // A sandbox number talks to this server's own Cloud API imitation.
        let base = crate::sandbox::graph_base_url_for_request(&state.config, &headers).ok_or_else(
            || {
                ApiError::invalid(
                    "no_public_url",
                    "kind",
                    "Set CHASQUI_PUBLIC_URL so the sandbox knows its own address.",
                )
            },
        )?;
        crate::sandbox::complete_channel(&mut new, &base);
    }
    let phone_number_id = new.phone_number_id.clone();
    let channel = state
        .store
        .create_channel(auth.tenant_id, &state.keys.current(), new, &auth.actor())
        .await
        .map_err(|e| match e {
            chasqui_store::StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                "phone_number_id_taken",
                "This phone_number_id already belongs to a channel; delete that channel first.",
            )
            .with_field("phone_number_id"),
            other => other.into(),
        })?;
    if let Some(pnid) = &phone_number_id {
        // Deliveries that arrived before the channel existed are processed now.
        let n = state
            .store
            .requeue_unrouted(&format!("phone_number_id:{pnid}"))
            .await?;
        if n > 0 {
            tracing::info!(channel_id = %channel.id, receipts = n, "requeued webhooks that were waiting for this channel");
        }
    }
    let mut view = ChannelView::new(channel, &state);
    view.generated_webhook_secret = generated;
    Ok((StatusCode::CREATED, Json(view)))
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

/// `GET /v1/channels`.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<ChannelView>>, ApiError> {
    let page = state
        .store
        .list_channels(auth.tenant_id, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, |c| {
        ChannelView::new(c, &state)
    })))
}

fn parse_channel_id(s: &str) -> Result<ChannelId, ApiError> {
    s.parse().map_err(|_| ApiError::not_found("channel"))
}

/// `GET /v1/channels/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let c = state
        .store
        .channel(auth.tenant_id, parse_channel_id(&id)?)
        .await?;
    Ok(Json(ChannelView::new(c, &state)))
}

/// `PATCH /v1/channels/{id}` body: secrets set to `null` are removed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchChannel {
    name: Option<String>,
    status: Option<String>,
    #[serde(default, with = "double_option")]
    display_phone_number: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    waba_id: Option<Option<String>>,
    settings: Option<serde_json::Map<String, Value>>,
    #[serde(default, with = "double_option")]
    access_token: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    app_secret: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    verify_token: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    webhook_secret: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    api_key: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    auth_token: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /v1/channels/{id}`.
pub async fn patch(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    Json(body): Json<PatchChannel>,
) -> Result<Json<ChannelView>, ApiError> {
    let id = parse_channel_id(&id)?;
    let current = state.store.channel(auth.tenant_id, id).await?;
    if let Some(s) = &body.status
        && s != status::ACTIVE
        && s != status::DISCONNECTED
    {
        return Err(ApiError::invalid(
            "invalid_status",
            "status",
            "status must be `active` or `disconnected`.",
        ));
    }
    let mut secrets = Vec::new();
    for (name, value) in [
        ("access_token", body.access_token),
        ("app_secret", body.app_secret),
        ("verify_token", body.verify_token),
        ("webhook_secret", body.webhook_secret),
        ("api_key", body.api_key),
        ("auth_token", body.auth_token),
    ] {
        let Some(value) = value else { continue };
        if !relevant_secret(current.kind, name) {
            return Err(ApiError::invalid(
                "unexpected_field",
                name,
                format!("A `{}` channel does not use `{name}`.", current.kind),
            ));
        }
        match value.map(|v| v.trim().to_owned()) {
            Some(v) if v.is_empty() => {
                return Err(ApiError::invalid(
                    "invalid_value",
                    name,
                    format!("`{name}` must not be empty; send null to remove it."),
                ));
            }
            v => secrets.push((name.to_owned(), v.map(Secret::new))),
        }
    }
    let patch = ChannelPatch {
        name: body
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        status: body.status,
        display_phone_number: body.display_phone_number,
        waba_id: body.waba_id,
        settings: body.settings.map(Value::Object),
        secrets,
    };
    let c = state
        .store
        .update_channel(
            auth.tenant_id,
            id,
            &state.keys.current(),
            patch,
            &auth.actor(),
        )
        .await?;
    Ok(Json(ChannelView::new(c, &state)))
}

/// `DELETE /v1/channels/{id}`: its messages stay; its phone_number_id is freed.
pub async fn delete(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_channel(auth.tenant_id, parse_channel_id(&id)?, &auth.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
