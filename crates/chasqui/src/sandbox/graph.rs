//! The Cloud API imitation under `/sandbox/graph/{version}/…`: what a sandbox channel's sender,
//! health check, template sync and media downloader call. Authenticated like Meta: the Bearer
//! token must be the channel's `access_token` (else 401, code 190).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use chasqui_core::channel::ChannelKind;
use chasqui_store::channels::Channel;
use chrono::Utc;
use serde_json::{Value, json};

use super::failures::{AsyncFailure, GraphFailure, Injected, Pattern, injected_code};
use super::validate::{Request, SendRequest, Target};
use super::webhooks::{Plan, spawn_statuses};
use super::{Button, Call, Delivery, Entry, Sandbox, Settings, StatusAt, numbers, templates};
use crate::http::AppState;

/// The Graph routes (`/graph/…` and the media "lookaside" `/media/{id}`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graph/{version}/{id}", get(object))
        .route("/graph/{version}/{id}/messages", post(messages))
        .route(
            "/graph/{version}/{id}/message_templates",
            get(message_templates),
        )
        .route("/media/{id}", get(download))
}

/// Compares two secrets without an early exit.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .or_else(|| v.strip_prefix("OAuth "))
        .map(str::trim)
}

fn check_version(version: &str, path: &str) -> Result<(), GraphFailure> {
    let ok = version
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(GraphFailure::unknown_path(path))
    }
}

impl Sandbox {
    /// The live sandbox channel with this phone number id.
    async fn channel_by_pnid(&self, pnid: &str) -> Option<Channel> {
        match self.app().store.channel_by_phone_number_id(pnid).await {
            Ok(Some(c)) if c.kind == ChannelKind::Sandbox => Some(c),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "sandbox: cannot look up a channel");
                None
            }
        }
    }

    /// Whether the request carries this channel's access token.
    async fn authorised(&self, channel: &Channel, headers: &HeaderMap) -> Result<(), GraphFailure> {
        let presented = bearer(headers).ok_or_else(|| GraphFailure::token(false))?;
        let token = self
            .app()
            .store
            .channel_secret(&self.app().keys.current(), channel, "access_token")
            .await
            .ok()
            .flatten()
            .ok_or_else(|| GraphFailure::token(false))?;
        if same_secret(presented, token.expose()) {
            Ok(())
        } else {
            Err(GraphFailure::token(false))
        }
    }
}

/// What a send call comes to.
enum Reply {
    Answer(Value),
    Fail(GraphFailure),
    Hang(Duration),
}

impl From<GraphFailure> for Reply {
    fn from(f: GraphFailure) -> Self {
        Reply::Fail(f)
    }
}

/// `POST /graph/{version}/{phone-number-id}/messages`: sends and mark-as-read.
async fn messages(
    Extension(sb): Extension<Sandbox>,
    Path((version, pnid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(f) = check_version(&version, &format!("/{version}/{pnid}/messages")) {
        return f.into_response();
    }
    let Some(channel) = sb.channel_by_pnid(&pnid).await else {
        return GraphFailure::unknown_object("post", &pnid).into_response();
    };
    let mut call = Call {
        at: Utc::now(),
        operation: "send",
        to: None,
        http_status: 200,
        error_code: None,
        wamid: None,
    };
    let reply = match sb.authorised(&channel, &headers).await {
        Ok(()) => messages_inner(&sb, &channel, &body, &mut call).await,
        Err(f) => Reply::Fail(f),
    };
    match reply {
        Reply::Answer(v) => {
            sb.record_call(channel.id, call);
            (StatusCode::OK, Json(v)).into_response()
        }
        Reply::Fail(f) => {
            call.http_status = f.status.as_u16();
            call.error_code = Some(f.code);
            sb.record_call(channel.id, call);
            f.into_response()
        }
        Reply::Hang(d) => {
            call.http_status = 0;
            sb.record_call(channel.id, call);
            tokio::time::sleep(d).await;
            GraphFailure::hung().into_response()
        }
    }
}

async fn messages_inner(sb: &Sandbox, channel: &Channel, body: &[u8], call: &mut Call) -> Reply {
    let settings = Settings::of(channel);
    if settings.token_expired {
        return GraphFailure::token(true).into();
    }
    let request = match super::validate::request(body) {
        Ok(r) => r,
        Err(f) => return f.into(),
    };
    let send = match request {
        Request::MarkRead { message_id, typing } => {
            call.operation = "mark_read";
            return match sb.business_read(channel, &message_id, typing) {
                Ok(()) => Reply::Answer(json!({ "success": true })),
                Err(f) => f.into(),
            };
        }
        Request::Send(s) => *s,
    };
    let key = send.target.key().to_owned();
    call.to = Some(key.clone());
    let business: String = channel
        .display_phone_number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if matches!(&send.target, Target::Phone { wa_id, .. } if *wa_id == business) {
        return GraphFailure::for_code(131021).into();
    }
    let template = match &send.template {
        Some(t) => match template_definition(sb, channel, &t.name, &t.language).await {
            Some(def) => {
                let (header, body) = templates::expected_params(&def);
                if def.get("components").is_some()
                    && (header, body) != (t.header_params, t.body_params)
                {
                    return GraphFailure::for_code(132000)
                        .with_details(format!(
                            "The template {} ({}) expects {body} body and {header} header parameters; the request has {} and {}.",
                            t.name, t.language, t.body_params, t.header_params
                        ))
                        .into();
                }
                Some(def)
            }
            None => {
                return GraphFailure::for_code(132001)
                    .with_details(format!(
                        "template name ({}) does not exist in {} (or is not approved)",
                        t.name, t.language
                    ))
                    .into();
            }
        },
        None => None,
    };
    let injected = if sb.take_rearmed(
        channel,
        "fail_next_n_with_timeout",
        settings.fail_next_n_with_timeout,
    ) {
        Some(Injected::Hang)
    } else if sb.take_rearmed(
        channel,
        "fail_next_n_with_500",
        settings.fail_next_n_with_500,
    ) {
        Some(Injected::Sync(GraphFailure::internal()))
    } else if let Some(code) = settings.fail_with {
        Some(injected_code(code))
    } else if let Some(p) = Pattern::of(&key) {
        let n = sb.count_pattern(channel.id, p.name(), &key);
        p.effect(n, settings.http_500_count)
    } else {
        None
    };
    let mut failure: Option<AsyncFailure> = None;
    match injected {
        Some(Injected::Sync(f)) => return f.into(),
        Some(Injected::Hang) => {
            let d = settings
                .hang
                .unwrap_or_else(|| sb.app().config.whatsapp.timeout() + Duration::from_secs(1));
            return Reply::Hang(d);
        }
        Some(Injected::Async(a)) => failure = Some(a),
        None => {}
    }
    let now = Utc::now();
    let window_open = sb
        .customer(channel.id, &key)
        .is_some_and(|c| c.window_open(now));
    if failure.is_none() && send.template.is_none() && settings.window_check && !window_open {
        failure = AsyncFailure::for_code(131047);
    }
    let wamid = accept(sb, channel, &send, template.as_ref(), window_open);
    call.wamid = Some(wamid.clone());
    let plan = match failure {
        Some(failure) => Plan::Fail {
            after: settings.delays.sent,
            failure,
        },
        None => Plan::Deliver {
            delays: settings.delays,
            auto_read: settings.auto_read,
        },
    };
    spawn_statuses(sb.clone(), channel.id, key, wamid.clone(), plan);
    let contact = match &send.target {
        Target::Phone { input, wa_id } => json!({ "input": input, "wa_id": wa_id }),
        Target::User(u) => json!({ "input": u, "user_id": u }),
    };
    let mut message = json!({ "id": wamid });
    if send.template.is_some() {
        message["message_status"] = json!("accepted");
    }
    Reply::Answer(
        json!({ "messaging_product": "whatsapp", "contacts": [contact], "messages": [message] }),
    )
}

/// The approved template of this name and language: the sandbox catalog, or one registered in
/// the channel's tenant.
async fn template_definition(
    sb: &Sandbox,
    channel: &Channel,
    name: &str,
    language: &str,
) -> Option<Value> {
    let approved = |v: &Value| {
        v.get("status")
            .and_then(Value::as_str)
            .is_none_or(|s| s.eq_ignore_ascii_case("approved"))
    };
    if let Some(t) = templates::find(name, language) {
        return approved(&t).then_some(t);
    }
    let stored = sb
        .app()
        .store
        .template(channel.tenant_id, name, language)
        .await
        .ok()
        .flatten()?;
    if !stored.status.eq_ignore_ascii_case("approved") {
        return None;
    }
    let mut body = stored.body;
    if !body.is_object() {
        body = json!({});
    }
    body["status"] = json!("APPROVED");
    body["category"] = json!(stored.category.to_ascii_uppercase());
    Some(body)
}

/// Records an accepted send in the customer's conversation; returns its `wamid`.
fn accept(
    sb: &Sandbox,
    channel: &Channel,
    send: &SendRequest,
    template: Option<&Value>,
    window_open: bool,
) -> String {
    let key = send.target.key();
    let wamid = numbers::wamid(key, true);
    let now = Utc::now();
    let category = match template {
        Some(t) => t
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("UTILITY")
            .to_ascii_lowercase(),
        None => "service".to_owned(),
    };
    let pricing_type = match (template.is_some(), category.as_str()) {
        (false, _) => "free_customer_service",
        (true, "utility") if window_open => "free_customer_service",
        _ => "regular",
    };
    let (text, buttons) = preview(&send.kind, &send.body, template);
    sb.with_customer(channel.id, key, |c| {
        let expiration = match &c.conversation {
            Some((_, until)) if *until > now => None,
            _ => {
                let until = now + chrono::Duration::hours(24);
                c.conversation = Some((numbers::hex_id(32), until));
                Some(until.timestamp())
            }
        };
        let conversation_id = c
            .conversation
            .as_ref()
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        c.push(Entry {
            id: wamid.clone(),
            direction: "out",
            kind: send.kind.clone(),
            text,
            content: send.body.clone(),
            status: "accepted".into(),
            statuses: vec![StatusAt {
                status: "accepted".into(),
                timestamp: now,
            }],
            error: None,
            timestamp: now,
            buttons,
            delivery: Some(Delivery {
                recipient_is_user: matches!(send.target, Target::User(_)),
                callback_data: send.callback_data.clone(),
                category,
                pricing_type: pricing_type.to_owned(),
                conversation_id,
                expiration,
            }),
        });
    });
    wamid
}

/// What the customer's phone shows for a send, and the buttons they can tap.
fn preview(kind: &str, body: &Value, template: Option<&Value>) -> (Option<String>, Vec<Button>) {
    let s = |v: &Value, path: &[&str]| {
        let mut cur = v;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_owned)
    };
    let obj = body.get(kind).cloned().unwrap_or(Value::Null);
    let mut buttons = Vec::new();
    let text = match kind {
        "text" => s(&obj, &["body"]),
        "image" | "video" | "document" | "audio" | "sticker" => {
            let label = s(&obj, &["filename"]).or_else(|| s(&obj, &["caption"]));
            Some(match label {
                Some(l) => format!("[{kind}] {l}"),
                None => format!("[{kind}]"),
            })
        }
        "location" => Some(format!(
            "[location] {}",
            s(&obj, &["name"])
                .or_else(|| s(&obj, &["address"]))
                .unwrap_or_else(|| format!("{}, {}", obj["latitude"], obj["longitude"]))
        )),
        "contacts" => Some(format!(
            "[contact] {}",
            body["contacts"][0]["name"]["formatted_name"]
                .as_str()
                .unwrap_or_default()
        )),
        "reaction" => Some(format!(
            "[reaction] {}",
            s(&obj, &["emoji"]).unwrap_or_default()
        )),
        "interactive" => {
            let itype = s(&obj, &["type"]).unwrap_or_default();
            if let Some(list) = obj["action"]["buttons"].as_array() {
                for b in list {
                    if let (Some(id), Some(title)) =
                        (s(b, &["reply", "id"]), s(b, &["reply", "title"]))
                    {
                        buttons.push(Button {
                            reply_type: "button_reply",
                            id,
                            title,
                        });
                    }
                }
            }
            for section in obj["action"]["sections"].as_array().into_iter().flatten() {
                for row in section["rows"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(title)) = (s(row, &["id"]), s(row, &["title"])) {
                        buttons.push(Button {
                            reply_type: "list_reply",
                            id,
                            title,
                        });
                    }
                }
            }
            let parts: Vec<String> = [
                s(&obj, &["header", "text"]),
                s(&obj, &["body", "text"]),
                s(&obj, &["footer", "text"]),
            ]
            .into_iter()
            .flatten()
            .collect();
            let extra = match itype.as_str() {
                "cta_url" => {
                    s(&obj, &["action", "parameters", "display_text"]).map(|d| format!("[{d}]"))
                }
                "list" => s(&obj, &["action", "button"]).map(|d| format!("[{d}]")),
                _ => None,
            };
            Some(
                parts
                    .into_iter()
                    .chain(extra)
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            )
        }
        "template" => {
            let comps = obj.get("components");
            match template {
                Some(def) => {
                    for (id, title) in templates::quick_replies(def, comps) {
                        buttons.push(Button {
                            reply_type: "button",
                            id,
                            title,
                        });
                    }
                    Some(templates::render(def, comps))
                }
                None => s(&obj, &["name"]).map(|n| format!("[template {n}]")),
            }
        }
        _ => None,
    };
    (text, buttons)
}

impl Sandbox {
    /// The business marks a customer's message read (and, as WhatsApp does, every earlier one).
    fn business_read(
        &self,
        channel: &Channel,
        message_id: &str,
        typing: bool,
    ) -> Result<(), GraphFailure> {
        let now = Utc::now();
        let found = self.with_channel(channel.id, |c| {
            for customer in c.customers.values_mut() {
                let Some(pos) = customer
                    .messages
                    .iter()
                    .position(|m| m.id == message_id && m.direction == "in")
                else {
                    continue;
                };
                for m in customer
                    .messages
                    .iter_mut()
                    .take(pos + 1)
                    .filter(|m| m.direction == "in" && m.status != "read")
                {
                    m.status = "read".into();
                    m.statuses.push(StatusAt {
                        status: "read".into(),
                        timestamp: now,
                    });
                }
                if typing {
                    customer.typing_until = Some(now + chrono::Duration::seconds(25));
                }
                return true;
            }
            false
        });
        if found || message_id.starts_with("wamid.") {
            Ok(())
        } else {
            Err(GraphFailure::invalid_parameter(format!(
                "Invalid message_id: \"{message_id}\" is not a message this number received."
            )))
        }
    }
}

/// `GET /graph/{version}/{id}`: a phone number (health) or a media file's URL.
async fn object(
    Extension(sb): Extension<Sandbox>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(f) = check_version(&version, &format!("/{version}/{id}")) {
        return f.into_response();
    }
    if let Some(channel) = sb.channel_by_pnid(&id).await {
        let reply = sb
            .authorised(&channel, &headers)
            .await
            .map(|()| phone_number(&channel, q.get("fields")));
        sb.record_call(
            channel.id,
            Call {
                at: Utc::now(),
                operation: "health",
                to: None,
                http_status: reply.as_ref().map_or_else(|f| f.status.as_u16(), |_| 200),
                error_code: reply.as_ref().err().map(|f| f.code),
                wamid: None,
            },
        );
        return match reply {
            Ok(v) => Json(v).into_response(),
            Err(f) => f.into_response(),
        };
    }
    if let Some(media) = sb.media(&id) {
        let Ok(channel) = sb.app().store.channel_for_webhook(media.channel).await else {
            return GraphFailure::unknown_object("get", &id).into_response();
        };
        if let Err(f) = sb.authorised(&channel, &headers).await {
            return f.into_response();
        }
        if let Some(p) = q.get("phone_number_id")
            && Some(p) != channel.phone_number_id.as_ref()
        {
            return GraphFailure::invalid_parameter(
                "The media does not belong to this phone_number_id.",
            )
            .into_response();
        }
        let url = format!(
            "{}/sandbox/media/{id}?mid={id}&ext={}&hash={}",
            super::webhooks::origin(&sb, &channel),
            Utc::now().timestamp(),
            &media.sha256_hex[..16]
        );
        return Json(json!({
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": media.mime_type,
            "sha256": media.sha256_hex,
            "file_size": media.bytes.len(),
            "id": id,
        }))
        .into_response();
    }
    GraphFailure::unknown_object("get", &id).into_response()
}

/// The phone number object, limited to `fields` when given (the `id` always comes).
fn phone_number(channel: &Channel, fields: Option<&String>) -> Value {
    let all = json!({
        "verified_name": channel.name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": channel.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
        "name_status": "APPROVED",
        "is_official_business_account": false,
        "messaging_limit_tier": "TIER_2K",
        "id": channel.phone_number_id,
    });
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return all;
    };
    let mut out = serde_json::Map::new();
    for f in fields.split(',').map(str::trim).chain(["id"]) {
        if let Some(v) = all.get(f) {
            out.insert(f.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn cursor(position: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("position:{position}"))
}

fn position(cursor: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("position:")?
        .parse()
        .ok()
}

/// `GET /graph/{version}/{waba-id}/message_templates`: the sandbox catalog, paginated with
/// Meta's cursors (`limit`, `after`, `before`), filtered by `name`, `status`, `language`, `category`.
async fn message_templates(
    Extension(sb): Extension<Sandbox>,
    Path((version, waba)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(f) = check_version(&version, &format!("/{version}/{waba}/message_templates")) {
        return f.into_response();
    }
    let channels: Vec<Channel> = match sb.app().store.channels_by_waba(&waba).await {
        Ok(list) => list
            .into_iter()
            .filter(|c| c.kind == ChannelKind::Sandbox)
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut owner = None;
    for c in &channels {
        if sb.authorised(c, &headers).await.is_ok() {
            owner = Some(c.clone());
            break;
        }
    }
    let Some(channel) = owner else {
        return if channels.is_empty() {
            GraphFailure::unknown_object("get", &waba).into_response()
        } else {
            GraphFailure::token(false).into_response()
        };
    };
    let filter = |t: &Value, key: &str| {
        q.get(key).is_none_or(|want| {
            t.get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(want))
        })
    };
    let all: Vec<Value> = templates::catalog()
        .into_iter()
        .filter(|t| {
            ["name", "status", "language", "category"]
                .iter()
                .all(|k| filter(t, k))
        })
        .collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let end_of = |start: usize| (start + limit).min(all.len());
    let (start, end) = match (
        q.get("after").and_then(|c| position(c)),
        q.get("before").and_then(|c| position(c)),
    ) {
        (Some(after), _) => (after.min(all.len()), end_of(after.min(all.len()))),
        (None, Some(before)) => {
            let end = before.min(all.len());
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, end_of(0)),
    };
    sb.record_call(
        channel.id,
        Call {
            at: Utc::now(),
            operation: "templates",
            to: None,
            http_status: 200,
            error_code: None,
            wamid: None,
        },
    );
    let mut paging = json!({ "cursors": { "before": cursor(start), "after": cursor(end) } });
    if end < all.len() {
        paging["next"] = json!(format!(
            "{}/sandbox/graph/{version}/{waba}/message_templates?limit={limit}&after={}",
            super::webhooks::origin(&sb, &channel),
            cursor(end)
        ));
    }
    if start > 0 {
        paging["previous"] = json!(format!(
            "{}/sandbox/graph/{version}/{waba}/message_templates?limit={limit}&before={}",
            super::webhooks::origin(&sb, &channel),
            cursor(start)
        ));
    }
    Json(json!({ "data": all[start..end].to_vec(), "paging": paging })).into_response()
}

/// `GET /media/{id}`: the bytes of a customer's media, with the channel's token (as Meta's
/// lookaside URLs require).
async fn download(
    Extension(sb): Extension<Sandbox>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(media) = sb.media(&id) else {
        return (StatusCode::NOT_FOUND, "media not found").into_response();
    };
    let Ok(channel) = sb.app().store.channel_for_webhook(media.channel).await else {
        return (StatusCode::NOT_FOUND, "media not found").into_response();
    };
    if let Err(f) = sb.authorised(&channel, &headers).await {
        return f.into_response();
    }
    sb.record_call(
        channel.id,
        Call {
            at: Utc::now(),
            operation: "media",
            to: None,
            http_status: 200,
            error_code: None,
            wamid: None,
        },
    );
    let mime = media.mime_type.clone();
    ([(header::CONTENT_TYPE, mime)], media.bytes.to_vec()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_cursors() {
        assert!(check_version("v23.0", "/x").is_ok());
        assert!(check_version("v26.10", "/x").is_ok());
        assert!(check_version("23.0", "/x").is_err());
        assert!(check_version("v23", "/x").is_err());
        assert_eq!(position(&cursor(7)), Some(7));
        assert_eq!(position("garbage!"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn previews_show_what_the_phone_shows() {
        let (t, b) = preview(
            "interactive",
            &json!({"interactive": {"type": "button", "body": {"text": "¿Confirmás?"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Sí"}}]}}}),
            None,
        );
        assert_eq!(t.as_deref(), Some("¿Confirmás?"));
        assert_eq!(b[0].id, "yes");
        let def = templates::find("order_update", "en_US").unwrap();
        let (t, _) = preview(
            "template",
            &json!({"template": {"name": "order_update", "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Sam"}, {"type": "text", "text": "#1"}, {"type": "text", "text": "shipped"}]}]}}),
            Some(&def),
        );
        assert_eq!(
            t.as_deref(),
            Some(
                "Hi Sam, your order #1 is shipped. Reply to this message if you have any questions."
            )
        );
    }
}
