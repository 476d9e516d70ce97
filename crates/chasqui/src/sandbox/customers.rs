//! The customer simulator: a phone for any number. Writing as a customer posts a signed inbound
//! webhook to the gateway exactly as Meta would; the customer's view of the conversation shows
//! what the business sent and its statuses; reading a message sends the read receipt.
//!
//! These endpoints act as a phone on one of the tenant's sandbox channels, so they need the
//! tenant's API key (`Authorization: Bearer chq_…`): one tenant cannot write into another's.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::{ChannelId, TenantId};
use chasqui_store::channels::Channel;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::webhooks::{envelope, unix};
use super::{Entry, Sandbox, StatusAt, numbers};
use crate::http::AppState;
use crate::http::auth::TenantAuth;
use crate::http::error::ApiError;
use crate::http::extract::Json;

/// The simulator routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list_customers))
        .route(
            "/customers/{phone}/messages",
            get(list_messages).post(write),
        )
        .route("/customers/{phone}/messages/{wamid}/read", post(read))
        .route("/channels", post(create_channel))
        .route("/channels/{id}/calls", get(calls))
}

/// `?channel_id=` on the simulator's GETs.
#[derive(Debug, Deserialize)]
pub struct ChannelQuery {
    channel_id: Option<String>,
}

/// The tenant's sandbox channel named by `channel_id`, or its only one.
async fn pick_channel(
    sb: &Sandbox,
    tenant: TenantId,
    channel_id: Option<&str>,
) -> Result<Channel, ApiError> {
    if let Some(raw) = channel_id.filter(|s| !s.trim().is_empty()) {
        let id: ChannelId = raw.trim().parse().map_err(|_| {
            ApiError::invalid(
                "invalid_value",
                "channel_id",
                "channel_id must be a channel id (chn_…).",
            )
        })?;
        let channel = sb.app().store.channel(tenant, id).await?;
        if channel.kind != ChannelKind::Sandbox {
            return Err(ApiError::invalid(
                "not_a_sandbox_channel",
                "channel_id",
                format!(
                    "Channel {id} is a `{}` channel; the simulator only writes to sandbox channels.",
                    channel.kind
                ),
            ));
        }
        return Ok(channel);
    }
    let mut sandboxes = Vec::new();
    let mut after = None;
    loop {
        let page = sb.app().store.list_channels(tenant, 100, after).await?;
        after = page.items.last().map(|c| c.id);
        sandboxes.extend(
            page.items
                .into_iter()
                .filter(|c| c.kind == ChannelKind::Sandbox),
        );
        if page.next_cursor.is_none() || after.is_none() {
            break;
        }
    }
    match sandboxes.len() {
        0 => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_sandbox_channel",
            "This tenant has no sandbox channel; create one with POST /sandbox/channels.",
        )),
        1 => Ok(sandboxes.remove(0)),
        n => Err(ApiError::invalid(
            "channel_id_required",
            "channel_id",
            format!("This tenant has {n} sandbox channels; say which one with channel_id."),
        )),
    }
}

fn customer_key(phone: &str) -> Result<String, ApiError> {
    numbers::wa_id_of(phone).ok_or_else(|| {
        ApiError::invalid(
            "invalid_phone",
            "phone",
            format!("`{phone}` is not a phone number: write it in international format, e.g. +5491155550123."),
        )
    })
}

/// A name for a customer who did not give one, stable per number.
fn default_name(key: &str) -> String {
    const NAMES: [&str; 10] = [
        "Lucía Fernández",
        "Martín Gómez",
        "Sofía Herrera",
        "Carlos Méndez",
        "Ana Torres",
        "Priya Sharma",
        "Marie Dubois",
        "Sam Carter",
        "Joana Silva",
        "Diego Ramírez",
    ];
    let n: usize = key.bytes().map(usize::from).sum();
    NAMES[n % NAMES.len()].to_owned()
}

/// A 1×1 PNG, the image a customer sends when the request carries none.
const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn default_media(kind: &str) -> (&'static str, Vec<u8>) {
    match kind {
        "image" => ("image/png", base64::engine::general_purpose::STANDARD.decode(TINY_PNG).unwrap_or_default()),
        "sticker" => ("image/webp", b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00".to_vec()),
        "audio" => ("audio/ogg; codecs=opus", b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00sandbox-voice-note".to_vec()),
        "video" => ("video/mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec()),
        _ => (
            "application/pdf",
            b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec(),
        ),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The object of a typed message: `body[type]` when it is an object, else the body itself.
fn part<'a>(body: &'a Value, kind: &str) -> &'a Value {
    match body.get(kind) {
        Some(v @ Value::Object(_)) => v,
        _ => body,
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_value", field, message)
}

/// The last business message to this customer that offers buttons of this reply type.
fn last_with_buttons(
    sb: &Sandbox,
    channel: ChannelId,
    key: &str,
    reply_type: &str,
) -> Option<Entry> {
    sb.customer(channel, key)?
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == "out" && m.buttons.iter().any(|b| b.reply_type == reply_type))
        .cloned()
}

/// A customer's message before it gets its id: its type, the `messages[]` fields, and the text
/// the conversation shows for it.
struct Built {
    kind: String,
    fields: Map<String, Value>,
    preview: Option<String>,
}

/// Builds the `messages[]` item (without `from`, `id`, `timestamp`) and the text the
/// conversation shows for it.
fn message_of(sb: &Sandbox, channel: &Channel, key: &str, body: &Value) -> Result<Built, ApiError> {
    let kind = match (s(body, "type"), body.get("text")) {
        (Some(t), _) => t.to_owned(),
        (None, Some(Value::String(_))) => "text".to_owned(),
        (None, _) => {
            return Err(ApiError::invalid(
                "missing_field",
                "text",
                "Send {\"text\": \"…\"}, or {\"type\": \"image\" | \"location\" | \"button_reply\" | …} (see docs/sandbox.md).",
            ));
        }
    };
    let business: String = channel
        .display_phone_number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut m = Map::new();
    let mut context: Option<String> = match body.get("context") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Object(o)) => o
            .get("id")
            .or_else(|| o.get("message_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let preview;
    match kind.as_str() {
        "text" => {
            let text = match body.get("text") {
                Some(Value::String(t)) => t.clone(),
                Some(o @ Value::Object(_)) => s(o, "body").unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            if text.trim().is_empty() {
                return Err(ApiError::invalid(
                    "missing_field",
                    "text",
                    "A text message needs a non-empty `text`.",
                ));
            }
            if text.chars().count() > 65_536 {
                return Err(invalid(
                    "text",
                    "WhatsApp messages are at most 65,536 characters.",
                ));
            }
            preview = Some(text.clone());
            m.insert("text".into(), json!({ "body": text }));
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let p = part(body, &kind);
            let (default_mime, default_bytes) = default_media(&kind);
            let bytes = match s(p, "data_base64") {
                Some(b64) => base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| {
                        invalid(
                            &format!("{kind}.data_base64"),
                            "data_base64 must be standard base64.",
                        )
                    })?,
                None => default_bytes,
            };
            if bytes.len() > 5 * 1024 * 1024 {
                return Err(invalid(
                    &format!("{kind}.data_base64"),
                    "The sandbox keeps media up to 5 MB.",
                ));
            }
            let mime = s(p, "mime_type").unwrap_or(default_mime).to_owned();
            let digest =
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
            let (id, _) = sb.put_media(channel.id, &mime, bytes);
            let mut obj = json!({ "id": id, "mime_type": mime, "sha256": digest });
            let caption = s(p, "caption").map(str::to_owned);
            if matches!(kind.as_str(), "image" | "video" | "document")
                && let Some(c) = &caption
            {
                obj["caption"] = json!(c);
            }
            match kind.as_str() {
                "document" => obj["filename"] = json!(s(p, "filename").unwrap_or("document.pdf")),
                "audio" => {
                    obj["voice"] = json!(p.get("voice").and_then(Value::as_bool).unwrap_or(true))
                }
                "sticker" => {
                    obj["animated"] =
                        json!(p.get("animated").and_then(Value::as_bool).unwrap_or(false))
                }
                _ => {}
            }
            preview = Some(
                match caption.or_else(|| s(p, "filename").map(str::to_owned)) {
                    Some(c) => format!("[{kind}] {c}"),
                    None => format!("[{kind}]"),
                },
            );
            m.insert(kind.clone(), obj);
        }
        "location" => {
            let p = part(body, "location");
            let num = |k: &str, d: f64| match p.get(k) {
                Some(Value::Number(n)) => n
                    .as_f64()
                    .ok_or_else(|| invalid(&format!("location.{k}"), "must be a number")),
                Some(Value::String(x)) => x
                    .trim()
                    .parse()
                    .map_err(|_| invalid(&format!("location.{k}"), "must be a number")),
                _ => Ok(d),
            };
            let (lat, lon) = (
                num("latitude", -34.603_722)?,
                num("longitude", -58.381_592)?,
            );
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(invalid(
                    "location",
                    "latitude must be within ±90 and longitude within ±180.",
                ));
            }
            let mut obj = json!({ "latitude": lat, "longitude": lon });
            for k in ["name", "address", "url"] {
                if let Some(v) = s(p, k) {
                    obj[k] = json!(v);
                }
            }
            preview = Some(format!(
                "[location] {}",
                s(p, "name")
                    .or(s(p, "address"))
                    .map_or_else(|| format!("{lat}, {lon}"), str::to_owned)
            ));
            m.insert("location".into(), obj);
        }
        "button_reply" | "list_reply" => {
            let p = part(body, &kind);
            let offered = last_with_buttons(sb, channel.id, key, &kind);
            let (mut id, mut title) = (
                s(p, "id").map(str::to_owned),
                s(p, "title").map(str::to_owned),
            );
            if let Some(o) = &offered {
                let pick = o.buttons.iter().filter(|b| b.reply_type == kind).find(|b| {
                    id.as_deref().is_some_and(|i| i == b.id)
                        || title.as_deref().is_some_and(|t| t == b.title)
                });
                if let Some(b) = pick {
                    id.get_or_insert_with(|| b.id.clone());
                    title.get_or_insert_with(|| b.title.clone());
                }
                if context.is_none() {
                    context = Some(o.id.clone());
                }
            }
            let (Some(id), Some(title)) = (id, title) else {
                return Err(ApiError::invalid(
                    "missing_field",
                    "id",
                    format!(
                        "A {kind} needs the `id` and `title` of the option tapped (or one of them matching an option the business sent)."
                    ),
                ));
            };
            let mut reply = json!({ "id": id, "title": title });
            preview = Some(title);
            if let Some(d) = s(p, "description") {
                reply["description"] = json!(d);
            }
            m.insert("type".into(), json!("interactive"));
            let mut interactive = Map::new();
            interactive.insert("type".into(), json!(kind));
            interactive.insert(kind.clone(), reply);
            m.insert("interactive".into(), Value::Object(interactive));
        }
        "button" => {
            let p = part(body, "button");
            let offered = last_with_buttons(sb, channel.id, key, "button");
            let (mut payload, mut text) = (
                s(p, "payload").map(str::to_owned),
                s(p, "text").or(s(p, "title")).map(str::to_owned),
            );
            if let Some(o) = &offered {
                let pick = o
                    .buttons
                    .iter()
                    .filter(|b| b.reply_type == "button")
                    .find(|b| {
                        payload.as_deref().is_some_and(|i| i == b.id)
                            || text.as_deref().is_some_and(|t| t == b.title)
                    });
                if let Some(b) = pick {
                    payload.get_or_insert_with(|| b.id.clone());
                    text.get_or_insert_with(|| b.title.clone());
                }
                if context.is_none() {
                    context = Some(o.id.clone());
                }
            }
            let Some(text) = text else {
                return Err(ApiError::invalid(
                    "missing_field",
                    "text",
                    "A template button tap needs the button's `text` (and optionally its `payload`).",
                ));
            };
            let payload = payload.unwrap_or_else(|| text.clone());
            preview = Some(text.clone());
            m.insert("button".into(), json!({ "payload": payload, "text": text }));
        }
        "reaction" => {
            let p = part(body, "reaction");
            let target = match s(p, "message_id") {
                Some(id) => id.to_owned(),
                None => sb
                    .customer(channel.id, key)
                    .and_then(|c| {
                        c.messages
                            .iter()
                            .rev()
                            .find(|m| m.direction == "out")
                            .map(|m| m.id.clone())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "missing_field",
                            "message_id",
                            "A reaction needs the `message_id` it reacts to.",
                        )
                    })?,
            };
            let emoji = s(p, "emoji").unwrap_or("👍");
            preview = Some(format!("[reaction] {emoji}"));
            m.insert(
                "reaction".into(),
                json!({ "message_id": target, "emoji": emoji }),
            );
        }
        "contacts" => {
            let list = match body.get("contacts") {
                Some(Value::Array(a)) if !a.is_empty() => a.clone(),
                _ => vec![json!({
                    "name": { "formatted_name": "Taller Norte", "first_name": "Taller", "last_name": "Norte" },
                    "phones": [{ "phone": "+54 9 11 5555-0199", "wa_id": "5491155550199", "type": "WORK" }],
                })],
            };
            preview = Some(format!(
                "[contact] {}",
                list[0]["name"]["formatted_name"]
                    .as_str()
                    .unwrap_or("contact")
            ));
            m.insert("contacts".into(), Value::Array(list));
        }
        other => {
            return Err(ApiError::invalid(
                "invalid_value",
                "type",
                format!(
                    "The simulator cannot send `{other}`: use text, image, video, audio, document, sticker, location, contacts, reaction, button_reply, list_reply or button."
                ),
            ));
        }
    }
    m.entry("type").or_insert_with(|| json!(kind));
    if let Some(id) = context {
        m.insert("context".into(), json!({ "from": business, "id": id }));
    }
    if body.get("forwarded").and_then(Value::as_bool) == Some(true) {
        let ctx = m.entry("context").or_insert_with(|| json!({}));
        ctx["forwarded"] = json!(true);
    }
    let kind = m
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_owned();
    Ok(Built {
        kind,
        fields: m,
        preview,
    })
}

/// `POST /sandbox/customers/{phone}/messages`: the customer writes. Answers once the gateway
/// accepted the signed webhook (201), or 502 when it did not.
async fn write(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    Path(phone): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    if !body.is_object() {
        return Err(invalid(
            "body",
            "The body must be a JSON object such as {\"text\": \"Hola\"}.",
        ));
    }
    let key = customer_key(&phone)?;
    let channel = pick_channel(&sb, auth.tenant_id, s(&body, "channel_id")).await?;
    let Built {
        kind,
        fields: mut message,
        preview,
    } = message_of(&sb, &channel, &key, &body)?;
    let name = match s(&body, "name") {
        Some(n) => n.chars().take(100).collect(),
        None => sb
            .customer(channel.id, &key)
            .and_then(|c| c.name)
            .unwrap_or_else(|| default_name(&key)),
    };
    let wamid = numbers::wamid(&key, false);
    let now = Utc::now();
    message.insert("from".into(), json!(key));
    message.insert("id".into(), json!(wamid));
    message.insert("timestamp".into(), json!(unix(now)));
    let message = Value::Object(message);
    let payload = envelope(
        &channel,
        json!({ "contacts": [{ "profile": { "name": name }, "wa_id": key }], "messages": [message.clone()] }),
    );
    sb.with_customer(channel.id, &key, |c| {
        c.name = Some(name.clone());
        c.last_inbound = Some(now);
        c.push(Entry {
            id: wamid.clone(),
            direction: "in",
            kind: kind.clone(),
            text: preview,
            content: message,
            status: "received".into(),
            statuses: vec![StatusAt {
                status: "received".into(),
                timestamp: now,
            }],
            error: None,
            timestamp: now,
            buttons: Vec::new(),
            delivery: None,
        });
    });
    match sb.post_webhook(&channel, &payload).await {
        Ok(status) => Ok((
            StatusCode::CREATED,
            axum::Json(json!({
                "id": wamid,
                "channel_id": channel.id,
                "wa_id": key,
                "profile_name": name,
                "type": kind,
                "timestamp": now,
                "webhook": { "delivered": true, "status": status },
            })),
        )),
        Err(e) => {
            sb.with_customer(channel.id, &key, |c| {
                if let Some(m) = c.messages.iter_mut().find(|m| m.id == wamid) {
                    m.error = Some(json!({ "message": e.0 }));
                }
            });
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "webhook_not_delivered",
                format!(
                    "The sandbox could not deliver the customer's message to the gateway: {}",
                    e.0
                ),
            ))
        }
    }
}

/// `GET /sandbox/customers/{phone}/messages`: the conversation as the customer's phone shows
/// it, oldest first: what the business sent (with statuses) and what the customer wrote.
async fn list_messages(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    Path(phone): Path<String>,
    Query(q): Query<ChannelQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let key = customer_key(&phone)?;
    let channel = pick_channel(&sb, auth.tenant_id, q.channel_id.as_deref()).await?;
    let now = Utc::now();
    let customer = sb.customer(channel.id, &key).unwrap_or_default();
    let closes = customer
        .last_inbound
        .map(|t| t + chrono::Duration::hours(24));
    Ok(axum::Json(json!({
        "wa_id": key,
        "channel_id": channel.id,
        "business_display_phone_number": channel.display_phone_number,
        "profile_name": customer.name,
        "window_open": customer.window_open(now),
        "window_closes_at": closes,
        "business_typing": customer.typing_until.is_some_and(|t| t > now),
        "data": customer.messages,
    })))
}

/// `POST /sandbox/customers/{phone}/messages/{wamid}/read`: the customer opens the chat and reads
/// this message (and, as WhatsApp does, every earlier one); each gets its `read` webhook.
async fn read(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    Path((phone, wamid)): Path<(String, String)>,
    Query(q): Query<ChannelQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let key = customer_key(&phone)?;
    let channel = pick_channel(&sb, auth.tenant_id, q.channel_id.as_deref()).await?;
    let customer = sb
        .customer(channel.id, &key)
        .ok_or_else(|| ApiError::not_found("message"))?;
    let pos = customer
        .messages
        .iter()
        .position(|m| m.id == wamid && m.direction == "out")
        .ok_or_else(|| ApiError::not_found("message"))?;
    if customer.messages[pos].status == "failed" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "message_failed",
            "This message failed, so it never reached the customer's phone and cannot be read.",
        ));
    }
    let ids: Vec<String> = customer
        .messages
        .iter()
        .take(pos + 1)
        .filter(|m| {
            m.direction == "out" && !matches!(m.status.as_str(), "failed" | "read" | "played")
        })
        .map(|m| m.id.clone())
        .collect();
    let mut read = Vec::new();
    let mut undelivered = Vec::new();
    for id in ids {
        if let Some(status) = sb.advance(channel.id, &key, &id, "read", None) {
            match sb.post_status(channel.id, status).await {
                Ok(_) => read.push(id),
                Err(e) => undelivered.push(json!({ "id": id, "error": e.0 })),
            }
        }
    }
    Ok(axum::Json(
        json!({ "read": read, "webhooks_not_delivered": undelivered }),
    ))
}

/// `GET /sandbox/customers`: the customers a sandbox channel has talked to, most recent first.
async fn list_customers(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    Query(q): Query<ChannelQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let channel = pick_channel(&sb, auth.tenant_id, q.channel_id.as_deref()).await?;
    let now = Utc::now();
    let data: Vec<Value> = sb
        .customers(channel.id)
        .into_iter()
        .map(|c| {
            let last = c.messages.back();
            json!({
                "wa_id": c.key,
                "profile_name": c.name,
                "window_open": c.window_open(now),
                "messages": c.messages.len(),
                "last_message": last.and_then(|m| m.text.clone()),
                "last_message_at": last.map(|m| m.timestamp),
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "channel_id": channel.id, "data": data }),
    ))
}

/// `POST /sandbox/channels` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSandboxChannel {
    name: Option<String>,
    display_phone_number: Option<String>,
    base_url: Option<String>,
}

/// `POST /sandbox/channels`: another sandbox number for the tenant, ready to send (its
/// `base_url` points at this server, as the request reached it, or at `server.public_url`).
async fn create_channel(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<crate::http::channels::ChannelView>), ApiError> {
    let body: NewSandboxChannel = if raw.iter().all(u8::is_ascii_whitespace) {
        NewSandboxChannel {
            name: None,
            display_phone_number: None,
            base_url: None,
        }
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!(
                    "The body must be {{\"name\"?, \"display_phone_number\"?, \"base_url\"?}}: {e}"
                ),
            )
        })?
    };
    let base_url = match body.base_url {
        Some(b) => {
            let ok = url::Url::parse(&b).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(invalid(
                    "base_url",
                    "base_url must be an absolute http(s) URL ending in /sandbox/graph.",
                ));
            }
            b.trim_end_matches('/').to_owned()
        }
        None => super::graph_base_url_for_request(&sb.app().config, &headers).ok_or_else(|| {
            invalid(
                "base_url",
                "Cannot tell this server's address from the request; send base_url.",
            )
        })?,
    };
    let display = match body.display_phone_number {
        Some(d) if numbers::digits_of(&d).is_some() => Some(d),
        Some(_) => {
            return Err(invalid(
                "display_phone_number",
                "display_phone_number must be a phone number.",
            ));
        }
        None => None,
    };
    let name = body
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Sandbox".into());
    let mut new = chasqui_store::channels::NewChannel {
        kind: ChannelKind::Sandbox,
        name,
        phone_number_id: None,
        waba_id: None,
        display_phone_number: display,
        settings: json!({}),
        secrets: Vec::new(),
    };
    super::complete_channel(&mut new, &base_url);
    let channel = sb
        .app()
        .store
        .create_channel(auth.tenant_id, &sb.app().keys.current(), new, &auth.actor())
        .await?;
    super::seed_templates(&sb.app().store, auth.tenant_id, channel.id)
        .await
        .map_err(|e| ApiError::internal(e.as_ref()))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(crate::http::channels::ChannelView::new(channel, sb.app())),
    ))
}

/// `GET /sandbox/channels/{id}/calls`: every Graph call the channel's sandbox received (time,
/// operation, recipient, answer), oldest first — for checking retries and spacing.
async fn calls(
    Extension(sb): Extension<Sandbox>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let channel = pick_channel(&sb, auth.tenant_id, Some(&id)).await?;
    Ok(axum::Json(
        json!({ "channel_id": channel.id, "data": sb.calls(channel.id) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_media_and_names() {
        let (mime, png) = default_media("image");
        assert_eq!(mime, "image/png");
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(default_name("5491155550123"), default_name("5491155550123"));
    }
}
