//! `POST /v1/messages`: check everything, then write the message and its send job in one
//! transaction and answer 202. Nothing is sent here; the sender job does that.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::{ChannelId, MessageId};
use chasqui_core::phone::{PhoneE164, RegionCode};
use chasqui_core::send::{
    ContactRecipient, LocalTarget, MediaInfo, RecipientInput, SendRequest, SendValidationError,
    ValidatedRecipient, ValidationContext, validate,
};
use chasqui_core::template::Template;
use chasqui_store::channels::{Channel, status as channel_status};
use chasqui_store::inbound::ContactIdentity;
use chasqui_store::outbound::{IdempotencyKey, NewOutbound, Queued};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::AppState;
use crate::http::auth::TenantAuth;
use crate::http::error::ApiError;
use crate::http::extract::Json;

/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

fn invalid(e: &SendValidationError) -> ApiError {
    let err = ApiError::invalid(e.code(), e.field().to_owned(), e.message().to_owned());
    match e.details() {
        Some(d) => err.with_extra(json!({ "details": d })),
        None => err,
    }
}

fn can_send(kind: ChannelKind) -> bool {
    !matches!(kind, ChannelKind::Chatwoot)
}

/// The channel to send from: the one named, or the tenant's only sending channel.
async fn pick_channel(
    state: &AppState,
    auth: &TenantAuth,
    named: Option<ChannelId>,
) -> Result<Channel, ApiError> {
    if let Some(id) = named {
        let c = state.store.channel(auth.tenant_id, id).await.map_err(|_| {
            ApiError::invalid(
                "channel_not_found",
                "channel_id",
                "No channel with this id belongs to this API key's tenant.",
            )
        })?;
        if !can_send(c.kind) {
            return Err(ApiError::invalid(
                "channel_cannot_send",
                "channel_id",
                format!("A `{}` channel only receives messages.", c.kind),
            ));
        }
        return Ok(c);
    }
    let page = state.store.list_channels(auth.tenant_id, 200, None).await?;
    let mut senders: Vec<Channel> = page
        .items
        .into_iter()
        .filter(|c| can_send(c.kind))
        .collect();
    match senders.len() {
        1 => Ok(senders.remove(0)),
        0 => Err(ApiError::invalid(
            "no_channel",
            "channel_id",
            "This tenant has no channel that can send; create one with POST /v1/channels.",
        )),
        n => Err(ApiError::invalid(
            "channel_required",
            "channel_id",
            format!("This tenant has {n} channels; say which one sends with `channel_id`."),
        )),
    }
}

fn wame_link(recipient: &ValidatedRecipient) -> Option<String> {
    match recipient {
        ValidatedRecipient::Phone { wa_id, .. } => {
            Some(format!("https://wa.me/{}", wa_id.as_str()))
        }
        ValidatedRecipient::Bsuid { .. } => None,
    }
}

fn request_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// `POST /v1/messages`.
pub async fn send(
    State(state): State<AppState>,
    auth: TenantAuth,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v.to_str().unwrap_or_default().trim().to_owned();
            if k.is_empty() || k.len() > MAX_KEY_LEN || !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    format!(
                        "Idempotency-Key must be 1-{MAX_KEY_LEN} printable ASCII characters, e.g. a UUID."
                    ),
                ));
            }
            Some(k)
        }
        None => None,
    };
    let req = SendRequest::from_value(&body).map_err(|e| invalid(&e))?;
    let channel = pick_channel(&state, &auth, req.channel_id).await?;

    let tenant = state.store.tenant(auth.tenant_id).await?;
    let region: Option<RegionCode> = tenant
        .whatsapp_number
        .as_deref()
        .and_then(|n| PhoneE164::parse(n, None).ok())
        .and_then(|p| p.region());

    // Who it goes to, and what we know about them: their WhatsApp id and the 24-hour window.
    let (user_id, keys, named_contact) = match &req.recipient {
        RecipientInput::Contact(id) => {
            let c = state
                .store
                .contact(auth.tenant_id, *id)
                .await
                .map_err(|_| {
                    ApiError::invalid(
                        "contact_not_found",
                        "contact_id",
                        "No contact with this id belongs to this API key's tenant.",
                    )
                })?;
            (c.user_id.clone(), Vec::new(), Some(c))
        }
        RecipientInput::Bsuid(b) => (Some(b.clone()), Vec::new(), None),
        RecipientInput::Phone(_) => {
            let keys = match req.parse_to(region) {
                Some(Ok(p)) => chasqui_core::phone::WaId::parse(p.digits())
                    .map(|w| w.lookup_keys().iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            (None, keys, None)
        }
    };
    let contact = match named_contact {
        Some(c) => Some(c),
        None => {
            state
                .store
                .find_contact(auth.tenant_id, user_id.as_deref(), &keys)
                .await?
        }
    };
    let open_conversation = match &contact {
        Some(c) => {
            state
                .store
                .open_conversation(auth.tenant_id, channel.id, c.id)
                .await?
        }
        None => None,
    };
    let last_inbound_at = open_conversation.as_ref().and_then(|cv| cv.last_inbound_at);
    let last_wa = contact
        .as_ref()
        .and_then(|c| c.wa_id.as_deref())
        .and_then(|w| chasqui_core::phone::WaId::parse(w).ok());
    let contact_recipient = contact.as_ref().map(|c| ContactRecipient {
        phone: c
            .wa_id
            .as_deref()
            .and_then(|w| PhoneE164::parse(&format!("+{w}"), None).ok()),
        wa_id: last_wa.clone(),
        bsuid: c.user_id.clone(),
    });

    let templates: Vec<Template> = match req.template_name() {
        Some(name) => state
            .store
            .templates_named(auth.tenant_id, name)
            .await?
            .into_iter()
            .filter_map(|t| serde_json::from_value(t.body).ok())
            .collect(),
        None => Vec::new(),
    };
    let media = media_infos(&state, &auth, &body).await?;
    // The context borrows non-`Send` lookups: keep it out of the awaits below.
    let validated = {
        let lookup = |id: &chasqui_core::ids::MediaId| media.get(id).cloned();
        let ctx = ValidationContext::new(chrono::Utc::now())
            .with_region(region)
            .with_last_inbound_at(last_inbound_at)
            .with_last_seen_wa_id(last_wa)
            .with_contact(contact_recipient)
            .with_templates(&templates)
            .with_media(&lookup);
        validate(&req, &ctx).map_err(|e| invalid(&e))?
    };
    drop(templates);

    // A customer who stopped marketing messages on WhatsApp gets no marketing template (Meta
    // would refuse it with 131050 anyway).
    if let (Some(t), Some(c)) = (&validated.template, &contact)
        && matches!(
            t.category,
            chasqui_core::template::TemplateCategory::Marketing
        )
        && let Some(at) = c.marketing_opt_out_at
    {
        return Err(ApiError::invalid(
            "marketing_opt_out",
            "template.name",
            format!(
                "This customer stopped marketing messages on WhatsApp on {}; send a utility template or wait until they resume.",
                at.format("%Y-%m-%d")
            ),
        ));
    }

    // Flags and channel state, after validation so the fallback link names the right number.
    let disabled = if !state.config.whatsapp.bsp_enabled
        || !state.config.whatsapp.notifications_enabled
    {
        Some(
            "sending through a provider is switched off on this server (WHATSAPP_BSP_ENABLED / WHATSAPP_NOTIFICATIONS_ENABLED)",
        )
    } else if channel.status == channel_status::DISCONNECTED {
        Some(
            "the channel is disconnected; reconnect it with PATCH /v1/channels/{id} {\"status\": \"active\"}",
        )
    } else {
        None
    };
    if let Some(reason) = disabled {
        let mut extra = json!({ "channel_id": channel.id });
        if let Some(link) = wame_link(&validated.recipient) {
            extra["fallback"] = json!({ "wame_url": link });
        }
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "channel_disabled",
            format!("Nothing was queued: {reason}."),
        )
        .with_extra(extra));
    }

    let mut request = validated.body.clone();
    for r in &validated.local_refs {
        let replacement = match &r.target {
            LocalTarget::Message(id) => {
                let m = state
                    .store
                    .message(auth.tenant_id, *id)
                    .await
                    .map_err(|_| {
                        ApiError::invalid(
                            "message_not_found",
                            "context.message_id",
                            "No message with this id belongs to this tenant.",
                        )
                    })?;
                m.provider_message_id.ok_or_else(|| {
                    ApiError::invalid(
                        "message_not_sent",
                        "context.message_id",
                        "That message has no provider id yet; wait until it is sent.",
                    )
                })?
            }
            LocalTarget::Media(media) => {
                // The provider fetches our file through a signed, expiring link.
                let m = state
                    .store
                    .media(auth.tenant_id, *media)
                    .await
                    .map_err(|_| {
                        ApiError::invalid(
                            "media_not_found",
                            r.pointer.trim_start_matches('/').replace('/', "."),
                            "No uploaded media with this id.",
                        )
                    })?;
                if m.state != chasqui_store::media::state::STORED {
                    return Err(ApiError::invalid(
                        "media_not_ready",
                        r.pointer.trim_start_matches('/').replace('/', "."),
                        "This media is not stored yet; wait until GET /v1/media/{id}/info says `stored`.",
                    ));
                }
                let base = crate::media::shared_link::public_base(&state);
                let link =
                    crate::media::shared_link::signed_url(&state, &base, auth.tenant_id, *media)
                        .await?;
                // `{"image": {"id": "med_…"}}` becomes `{"image": {"link": "…"}}`.
                let parent = r.pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                if let Some(Value::Object(obj)) = request.pointer_mut(parent) {
                    obj.remove("id");
                    obj.insert("link".into(), Value::String(link));
                }
                continue;
            }
        };
        if let Some(slot) = request.pointer_mut(&r.pointer) {
            *slot = Value::String(replacement);
        }
    }

    // Make sure the recipient is a contact, so the reply and the statuses find the same person.
    let contact_id = match (&contact, &validated.recipient) {
        (Some(c), _) => Some(c.id),
        (None, ValidatedRecipient::Phone { wa_id, .. }) => {
            let mut tx = state.store.begin().await?;
            let keys: Vec<String> = wa_id
                .lookup_keys()
                .iter()
                .map(ToString::to_string)
                .collect();
            let who = ContactIdentity {
                wa_id: Some(wa_id.as_str().to_owned()),
                contact_key: keys.first().cloned(),
                lookup_keys: keys,
                ..ContactIdentity::default()
            };
            let (id, _) = tx.upsert_contact(auth.tenant_id, &who).await?;
            tx.commit().await?;
            Some(id)
        }
        (None, ValidatedRecipient::Bsuid { bsuid }) => {
            let mut tx = state.store.begin().await?;
            let who = ContactIdentity {
                user_id: Some(bsuid.clone()),
                ..ContactIdentity::default()
            };
            let (id, _) = tx.upsert_contact(auth.tenant_id, &who).await?;
            tx.commit().await?;
            Some(id)
        }
    };
    // The conversation read for the window above; a contact made just now has none.
    let conversation = open_conversation.map(|cv| cv.id);
    let to = match &validated.recipient {
        ValidatedRecipient::Phone { wa_id, .. } => wa_id.as_str().to_owned(),
        ValidatedRecipient::Bsuid { bsuid } => bsuid.clone(),
    };
    let retries = state.config.whatsapp.retry_attempts;
    let new = NewOutbound {
        tenant: auth.tenant_id,
        channel: channel.id,
        contact: contact_id,
        conversation,
        to_address: to.clone(),
        kind: validated.kind.as_str().to_owned(),
        body_text: Some(validated.search_text.clone()).filter(|t| !t.is_empty()),
        request,
        context_message_id: None,
        max_attempts: retries + 1,
    };
    let hash = request_hash(&body);
    let idem = key.as_deref().map(|k| IdempotencyKey {
        key: k,
        request_hash: &hash,
    });
    let warnings = validated.warnings.clone();
    let respond = |id: MessageId| {
        let mut r = json!({ "id": id, "status": "queued", "to": to, "channel_id": channel.id });
        if !warnings.is_empty() {
            r["warnings"] = json!(warnings);
        }
        r
    };
    match state
        .outbox
        .queue(&state.store, &new, idem, respond)
        .await?
    {
        Queued::New { response, .. } => {
            metrics::counter!("chasqui_messages_queued_total").increment(1);
            Ok((StatusCode::ACCEPTED, Json(response)))
        }
        Queued::Replayed { status, response } => Ok((
            StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED),
            Json(response),
        )),
        Queued::KeyReused => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request; use a new key for a new message.",
        )),
    }
}

/// Our uploaded media referenced by `med_…` ids anywhere in the body, for the validator's checks.
async fn media_infos(
    state: &AppState,
    auth: &TenantAuth,
    body: &Value,
) -> Result<HashMap<chasqui_core::ids::MediaId, MediaInfo>, ApiError> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with("med_") => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            Value::Object(o) => o.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut ids = Vec::new();
    collect(body, &mut ids);
    let mut out = HashMap::new();
    for s in ids {
        let Ok(id) = s.parse::<chasqui_core::ids::MediaId>() else {
            continue;
        };
        if let Ok(m) = state.store.media(auth.tenant_id, id).await {
            out.insert(
                id,
                MediaInfo {
                    mime_type: m.mime_type.clone().unwrap_or_default(),
                    size_bytes: m.size_bytes.unwrap_or(0),
                    animated: None,
                    filename: m.filename.clone(),
                },
            );
        }
    }
    Ok(out)
}
