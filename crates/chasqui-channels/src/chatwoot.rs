//! Chatwoot webhook events (`message_created`, `message_updated`, `conversation_*`,
//! `webwidget_triggered`), read leniently: Chatwoot versions differ in whether ids are numbers
//! or strings, whether `message_type` is `0` or `"incoming"`, and whether times are Unix seconds
//! or date strings. Unknown events are kept with their raw body.
//!
//! `message_type`: `0`/`incoming`, `1`/`outgoing`, `2`/`activity`, `3`/`template`; any other value
//! is kept as [`ChatwootMessageType::Other`]. Only `message_created` events for incoming, public
//! (non-private) messages become [`InboundMessage`]s (see [`ChatwootEvent::inbound_message`]);
//! outgoing agent replies, private notes and activity messages are events, not customer messages.

use chasqui_core::message::{InboundMessage, Media, MessageContent, Sender};
use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{self, boolean, float, int, items, nonempty, object, string};

/// Why a Chatwoot webhook body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatwootParseError {
    /// The body is not JSON.
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// The body is JSON but not an object.
    #[error("body is JSON but not an object")]
    NotAnObject,
    /// No `event` string: not a Chatwoot webhook.
    #[error("no `event` string in the body")]
    MissingEvent,
}

/// The Chatwoot event name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ChatwootEventKind {
    /// A message was created (incoming, outgoing, note or activity).
    MessageCreated,
    /// A message was updated.
    MessageUpdated,
    /// A conversation was opened.
    ConversationCreated,
    /// A conversation's status changed (open, resolved, pending, snoozed).
    ConversationStatusChanged,
    /// A conversation's attributes changed.
    ConversationUpdated,
    /// A website visitor opened the chat widget.
    WebwidgetTriggered,
    /// Any other event, by name.
    Other(String),
}

impl ChatwootEventKind {
    /// The event's name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ChatwootEventKind::MessageCreated => "message_created",
            ChatwootEventKind::MessageUpdated => "message_updated",
            ChatwootEventKind::ConversationCreated => "conversation_created",
            ChatwootEventKind::ConversationStatusChanged => "conversation_status_changed",
            ChatwootEventKind::ConversationUpdated => "conversation_updated",
            ChatwootEventKind::WebwidgetTriggered => "webwidget_triggered",
            ChatwootEventKind::Other(name) => name,
        }
    }

    fn is_message_event(&self) -> bool {
        matches!(
            self,
            ChatwootEventKind::MessageCreated | ChatwootEventKind::MessageUpdated
        )
    }
}

impl From<String> for ChatwootEventKind {
    fn from(name: String) -> Self {
        match name.as_str() {
            "message_created" => ChatwootEventKind::MessageCreated,
            "message_updated" => ChatwootEventKind::MessageUpdated,
            "conversation_created" => ChatwootEventKind::ConversationCreated,
            "conversation_status_changed" => ChatwootEventKind::ConversationStatusChanged,
            "conversation_updated" => ChatwootEventKind::ConversationUpdated,
            "webwidget_triggered" => ChatwootEventKind::WebwidgetTriggered,
            _ => ChatwootEventKind::Other(name),
        }
    }
}

impl From<ChatwootEventKind> for String {
    fn from(kind: ChatwootEventKind) -> Self {
        kind.as_str().to_owned()
    }
}

/// Who wrote a Chatwoot message; Chatwoot sends it as an integer or a string by version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ChatwootMessageType {
    /// From the customer (`0`, `incoming`).
    Incoming,
    /// From an agent or bot (`1`, `outgoing`).
    Outgoing,
    /// A system activity line (`2`, `activity`).
    Activity,
    /// A template message (`3`, `template`).
    Template,
    /// Any other value, as text.
    Other(String),
}

impl ChatwootMessageType {
    /// The stable name (`incoming`, `outgoing`, `activity`, `template`, or the raw value).
    pub fn as_str(&self) -> &str {
        match self {
            ChatwootMessageType::Incoming => "incoming",
            ChatwootMessageType::Outgoing => "outgoing",
            ChatwootMessageType::Activity => "activity",
            ChatwootMessageType::Template => "template",
            ChatwootMessageType::Other(v) => v,
        }
    }

    /// Reads the integer or string form.
    pub fn from_value(v: &Value) -> Option<Self> {
        json::as_string(v).map(Self::from)
    }
}

impl From<String> for ChatwootMessageType {
    fn from(v: String) -> Self {
        match v.trim().to_ascii_lowercase().as_str() {
            "0" | "incoming" => ChatwootMessageType::Incoming,
            "1" | "outgoing" => ChatwootMessageType::Outgoing,
            "2" | "activity" => ChatwootMessageType::Activity,
            "3" | "template" => ChatwootMessageType::Template,
            _ => ChatwootMessageType::Other(v),
        }
    }
}

impl From<ChatwootMessageType> for String {
    fn from(t: ChatwootMessageType) -> Self {
        t.as_str().to_owned()
    }
}

/// A Chatwoot contact or agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatwootSender {
    /// Chatwoot's id (contact id or user id).
    pub id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Phone number (E.164 with `+`, as Chatwoot stores it).
    pub phone_number: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// External identifier set by an integration.
    pub identifier: Option<String>,
    /// `contact` (customer) or `user` (agent), when sent.
    pub sender_type: Option<String>,
}

/// A file or location attached to a Chatwoot message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatwootAttachment {
    /// Chatwoot's attachment id.
    pub id: Option<String>,
    /// `image`, `audio`, `video`, `file`, `location`, `fallback`, `share`, `story_mention`, …
    pub file_type: Option<String>,
    /// Where to download it.
    pub data_url: Option<String>,
    /// A thumbnail.
    pub thumb_url: Option<String>,
    /// File extension, when sent.
    pub extension: Option<String>,
    /// Size in bytes, when sent.
    pub file_size: Option<i64>,
    /// Latitude, for location attachments.
    pub coordinates_lat: Option<f64>,
    /// Longitude, for location attachments.
    pub coordinates_long: Option<f64>,
    /// Title of a location or fallback attachment.
    pub fallback_title: Option<String>,
    /// The attachment as received.
    pub raw: Value,
}

/// A Chatwoot message, from a `message_*` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatwootMessage {
    /// Chatwoot's message id.
    pub id: Option<String>,
    /// The text.
    pub content: Option<String>,
    /// `text`, `input_select`, `cards`, `form`, `input_csat`, `incoming_email`, …
    pub content_type: Option<String>,
    /// Who wrote it.
    pub message_type: Option<ChatwootMessageType>,
    /// A private note (never shown to the customer).
    pub private: bool,
    /// The id on the underlying channel (e.g. the WhatsApp `wamid`), when sent.
    pub source_id: Option<String>,
    /// When it was created (Unix seconds).
    pub created_at: Option<i64>,
    /// The author.
    pub sender: Option<ChatwootSender>,
    /// Files and locations.
    pub attachments: Vec<ChatwootAttachment>,
}

/// One Chatwoot webhook, with the keys needed to route and store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatwootEvent {
    /// The event name.
    pub event: ChatwootEventKind,
    /// Chatwoot account id.
    pub account_id: Option<String>,
    /// Chatwoot inbox id.
    pub inbox_id: Option<String>,
    /// The conversation's display id (the number agents see), falling back to its `id`.
    pub conversation_id: Option<String>,
    /// `open`, `resolved`, `pending`, `snoozed`.
    pub conversation_status: Option<String>,
    /// The conversation's channel (`Channel::Whatsapp`, `Channel::WebWidget`, …).
    pub channel: Option<String>,
    /// The customer (conversation contact), when the payload names one.
    pub contact: Option<ChatwootSender>,
    /// The message, for `message_*` events.
    pub message: Option<ChatwootMessage>,
    /// The body as received.
    pub raw: Value,
}

/// Parses a Chatwoot webhook body exactly as received.
pub fn parse_event(raw: &[u8]) -> Result<ChatwootEvent, ChatwootParseError> {
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| ChatwootParseError::Json(e.to_string()))?;
    parse_event_value(&v)
}

/// Parses an already-decoded Chatwoot webhook body.
pub fn parse_event_value(v: &Value) -> Result<ChatwootEvent, ChatwootParseError> {
    if !v.is_object() {
        return Err(ChatwootParseError::NotAnObject);
    }
    let event = match v.get("event") {
        Some(Value::String(s)) if !s.trim().is_empty() => ChatwootEventKind::from(s.clone()),
        _ => return Err(ChatwootParseError::MissingEvent),
    };
    let conversation = if event.is_message_event() {
        object(v, "conversation")
    } else if event == ChatwootEventKind::WebwidgetTriggered {
        object(v, "current_conversation")
    } else {
        Some(v)
    };
    let id_of = |key: &str| object(v, key).and_then(|o| nonempty(o, "id"));
    let from_conv = |key: &str| conversation.and_then(|c| nonempty(c, key));

    let conversation_id = conversation
        .and_then(|c| nonempty(c, "display_id").or_else(|| nonempty(c, "id")))
        .or_else(|| {
            event
                .is_message_event()
                .then(|| nonempty(v, "conversation_id"))
                .flatten()
        });
    let contact = object(v, "contact")
        .or_else(|| {
            conversation
                .and_then(|c| object(c, "meta"))
                .and_then(|m| object(m, "sender"))
        })
        .map(sender)
        .filter(|s| *s != ChatwootSender::default());

    Ok(ChatwootEvent {
        account_id: id_of("account")
            .or_else(|| nonempty(v, "account_id"))
            .or_else(|| from_conv("account_id")),
        inbox_id: id_of("inbox")
            .or_else(|| nonempty(v, "inbox_id"))
            .or_else(|| from_conv("inbox_id")),
        conversation_id,
        conversation_status: from_conv("status"),
        channel: from_conv("channel"),
        contact,
        message: event.is_message_event().then(|| message(v)),
        raw: v.clone(),
        event,
    })
}

fn message(v: &Value) -> ChatwootMessage {
    ChatwootMessage {
        id: nonempty(v, "id"),
        content: string(v, "content"),
        content_type: string(v, "content_type"),
        message_type: v
            .get("message_type")
            .and_then(ChatwootMessageType::from_value),
        private: boolean(v, "private").unwrap_or(false),
        source_id: nonempty(v, "source_id"),
        created_at: v.get("created_at").and_then(time),
        sender: object(v, "sender").map(sender),
        attachments: items(v, "attachments")
            .iter()
            .filter(|a| a.is_object())
            .map(attachment)
            .collect(),
    }
}

fn sender(s: &Value) -> ChatwootSender {
    ChatwootSender {
        id: nonempty(s, "id"),
        name: nonempty(s, "name"),
        phone_number: nonempty(s, "phone_number"),
        email: nonempty(s, "email"),
        identifier: nonempty(s, "identifier"),
        sender_type: nonempty(s, "type"),
    }
}

fn attachment(a: &Value) -> ChatwootAttachment {
    ChatwootAttachment {
        id: nonempty(a, "id"),
        file_type: nonempty(a, "file_type"),
        data_url: nonempty(a, "data_url"),
        thumb_url: nonempty(a, "thumb_url"),
        extension: nonempty(a, "extension"),
        file_size: int(a, "file_size"),
        coordinates_lat: float(a, "coordinates_lat"),
        coordinates_long: float(a, "coordinates_long"),
        fallback_title: nonempty(a, "fallback_title"),
        raw: a.clone(),
    }
}

/// A Chatwoot time: Unix seconds (number or string), RFC 3339, or `2020-03-03 13:05:57 UTC`.
fn time(v: &Value) -> Option<i64> {
    if let Some(secs) = json::as_int(v) {
        return Some(secs);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Some(naive) = s.strip_suffix(" UTC") {
        return NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc().timestamp());
    }
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f %z")
        .ok()
        .map(|t| t.timestamp())
}

impl ChatwootEvent {
    /// The customer's message in Chasqui's model, for `message_created` events of incoming,
    /// public messages; `None` for everything else. The provider message id is Chatwoot's message
    /// id; the first attachment is the content (the text as its caption), the rest go to
    /// `additional_media`.
    pub fn inbound_message(&self) -> Option<InboundMessage> {
        if self.event != ChatwootEventKind::MessageCreated {
            return None;
        }
        let m = self.message.as_ref()?;
        if m.message_type != Some(ChatwootMessageType::Incoming) || m.private {
            return None;
        }
        let id = m.id.clone()?;
        let text = m.content.clone().filter(|c| !c.trim().is_empty());
        let mut attachments = m.attachments.iter();
        let content = match attachments.next() {
            Some(first) => attachment_content(first, text),
            None => match text {
                Some(body) => MessageContent::Text { body },
                None => MessageContent::Unknown {
                    message_type: m.content_type.clone().unwrap_or_else(|| "empty".to_owned()),
                    raw: self.raw.clone(),
                },
            },
        };
        let mut msg = InboundMessage::new(id, content);
        msg.timestamp = m.created_at;
        msg.additional_media = attachments.map(|a| attachment_media(a, None)).collect();
        msg.sender = self
            .customer(m)
            .map(|s| self.core_sender(s))
            .unwrap_or_default();
        Some(msg)
    }

    /// The customer who wrote `m`: its sender unless that is an agent, else the conversation's
    /// contact.
    fn customer<'a>(&'a self, m: &'a ChatwootMessage) -> Option<&'a ChatwootSender> {
        let sender = m.sender.as_ref();
        let is = |s: &ChatwootSender, t: &str| s.sender_type.as_deref() == Some(t);
        sender
            .filter(|s| is(s, "contact"))
            .or(self.contact.as_ref())
            .or_else(|| sender.filter(|s| !is(s, "user")))
    }

    fn core_sender(&self, s: &ChatwootSender) -> Sender {
        Sender {
            wa_id: self.whatsapp_source_id(),
            profile_name: s.name.clone(),
            phone: s.phone_number.clone(),
            email: s.email.clone(),
            provider_contact_id: s.id.clone(),
            identifier: s.identifier.clone(),
            ..Sender::default()
        }
    }

    /// On WhatsApp inboxes Chatwoot's `contact_inbox.source_id` is the customer's `wa_id`.
    fn whatsapp_source_id(&self) -> Option<String> {
        if self.channel.as_deref() != Some("Channel::Whatsapp") {
            return None;
        }
        let conversation = if self.event.is_message_event() {
            object(&self.raw, "conversation")?
        } else {
            &self.raw
        };
        let source =
            object(conversation, "contact_inbox").and_then(|ci| nonempty(ci, "source_id"))?;
        source.bytes().all(|b| b.is_ascii_digit()).then_some(source)
    }
}

fn attachment_media(a: &ChatwootAttachment, caption: Option<String>) -> Media {
    Media {
        id: a.id.clone(),
        url: a.data_url.clone(),
        caption,
        ..Media::default()
    }
}

fn attachment_content(a: &ChatwootAttachment, caption: Option<String>) -> MessageContent {
    match a.file_type.as_deref() {
        Some("image") => MessageContent::Image {
            media: attachment_media(a, caption),
        },
        Some("audio") => MessageContent::Audio {
            media: attachment_media(a, caption),
            voice: false,
        },
        Some("video") => MessageContent::Video {
            media: attachment_media(a, caption),
        },
        Some("file") => MessageContent::Document {
            media: attachment_media(a, caption),
        },
        Some("location") => MessageContent::Location {
            latitude: a.coordinates_lat,
            longitude: a.coordinates_long,
            name: a.fallback_title.clone(),
            address: None,
            url: a.data_url.clone(),
        },
        other => MessageContent::Unknown {
            message_type: format!("attachment:{}", other.unwrap_or("unknown")),
            raw: a.raw.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: &Value) -> ChatwootEvent {
        parse_event(v.to_string().as_bytes()).unwrap()
    }

    /// A `message_created` as recent Chatwoot versions send it (integers, ISO times).
    fn recent_message_created() -> Value {
        json!({
            "event": "message_created",
            "id": 77287,
            "content": "hola, ¿tienen turno?",
            "content_type": "text",
            "message_type": "incoming",
            "private": false,
            "source_id": "wamid.HBgN",
            "created_at": "2025-07-10T15:36:22.262Z",
            "account": {"id": 3, "name": "Taller"},
            "inbox": {"id": 58, "name": "WhatsApp"},
            "sender": {"id": 52870, "name": "Ana", "phone_number": "+5491122334455",
                       "email": null, "identifier": "user-9", "type": "contact"},
            "conversation": {
                "id": 13098, "display_id": 41, "inbox_id": 58, "status": "open",
                "channel": "Channel::Whatsapp",
                "contact_inbox": {"source_id": "5491122334455"}
            },
            "attachments": [
                {"id": 1, "file_type": "image", "data_url": "https://cw.example/a.jpg"},
                {"id": 2, "file_type": "file", "data_url": "https://cw.example/b.pdf"}
            ]
        })
    }

    #[test]
    fn message_created_maps_to_an_inbound_message() {
        let e = event(&recent_message_created());
        assert_eq!(e.event, ChatwootEventKind::MessageCreated);
        assert_eq!(e.account_id.as_deref(), Some("3"));
        assert_eq!(e.inbox_id.as_deref(), Some("58"));
        assert_eq!(e.conversation_id.as_deref(), Some("41"));
        assert_eq!(e.conversation_status.as_deref(), Some("open"));
        let m = e.message.as_ref().unwrap();
        assert_eq!(m.message_type, Some(ChatwootMessageType::Incoming));
        assert_eq!(m.created_at, Some(1_752_161_782));
        let inbound = e.inbound_message().unwrap();
        assert_eq!(inbound.provider_message_id, "77287");
        assert_eq!(inbound.kind(), "image");
        let media = inbound.content.media().unwrap();
        assert_eq!(media.caption.as_deref(), Some("hola, ¿tienen turno?"));
        assert_eq!(media.url.as_deref(), Some("https://cw.example/a.jpg"));
        assert_eq!(inbound.additional_media.len(), 1);
        assert_eq!(inbound.sender.wa_id.as_deref(), Some("5491122334455"));
        assert_eq!(inbound.sender.phone.as_deref(), Some("+5491122334455"));
        assert_eq!(inbound.sender.provider_contact_id.as_deref(), Some("52870"));
        assert_eq!(inbound.sender.identifier.as_deref(), Some("user-9"));
        assert_eq!(inbound.timestamp, Some(1_752_161_782));
    }

    #[test]
    fn message_type_integers_and_strings() {
        for (raw, expected) in [
            (json!(0), ChatwootMessageType::Incoming),
            (json!("incoming"), ChatwootMessageType::Incoming),
            (json!(1), ChatwootMessageType::Outgoing),
            (json!("outgoing"), ChatwootMessageType::Outgoing),
            (json!(2), ChatwootMessageType::Activity),
            (json!("3"), ChatwootMessageType::Template),
            (json!("template"), ChatwootMessageType::Template),
            (json!(7), ChatwootMessageType::Other("7".into())),
        ] {
            assert_eq!(ChatwootMessageType::from_value(&raw), Some(expected));
        }
        assert_eq!(ChatwootMessageType::from_value(&json!(null)), None);
    }

    #[test]
    fn only_incoming_public_created_messages_are_customer_messages() {
        let mut v = recent_message_created();
        v["message_type"] = json!(1);
        assert!(event(&v).inbound_message().is_none(), "outgoing");
        v["message_type"] = json!(0);
        assert!(event(&v).inbound_message().is_some(), "incoming as 0");
        v["private"] = json!(true);
        assert!(event(&v).inbound_message().is_none(), "private note");
        v["private"] = json!(false);
        v["event"] = json!("message_updated");
        assert!(event(&v).inbound_message().is_none(), "update");
    }

    #[test]
    fn text_location_and_empty_messages() {
        let mut v = recent_message_created();
        v["attachments"] = json!([]);
        let m = event(&v).inbound_message().unwrap();
        assert_eq!(
            m.content,
            MessageContent::Text {
                body: "hola, ¿tienen turno?".into()
            }
        );
        v["attachments"] = json!([{"file_type": "location", "coordinates_lat": -34.6,
                                    "coordinates_long": "-58.4", "fallback_title": "Taller"}]);
        let m = event(&v).inbound_message().unwrap();
        assert_eq!(m.kind(), "location");
        v["attachments"] = json!([]);
        v["content"] = json!(null);
        let m = event(&v).inbound_message().unwrap();
        assert_eq!(m.kind(), "unknown");
    }

    #[test]
    fn conversation_events_route_by_their_own_ids() {
        let e = event(&json!({
            "event": "conversation_status_changed",
            "id": 41, "inbox_id": 58, "account_id": 3, "status": "resolved",
            "meta": {"sender": {"id": 9, "name": "Ana", "type": "contact"}}
        }));
        assert_eq!(e.event, ChatwootEventKind::ConversationStatusChanged);
        assert_eq!(e.conversation_id.as_deref(), Some("41"));
        assert_eq!(e.inbox_id.as_deref(), Some("58"));
        assert_eq!(e.account_id.as_deref(), Some("3"));
        assert_eq!(e.conversation_status.as_deref(), Some("resolved"));
        assert_eq!(e.contact.as_ref().unwrap().name.as_deref(), Some("Ana"));
        assert!(e.message.is_none() && e.inbound_message().is_none());
    }

    #[test]
    fn unknown_events_are_kept_and_non_events_refused() {
        let e = event(&json!({"event": "contact_merged", "id": 1}));
        assert_eq!(e.event, ChatwootEventKind::Other("contact_merged".into()));
        assert_eq!(e.raw["id"], 1);
        let json = serde_json::to_value(&e.event).unwrap();
        assert_eq!(json, "contact_merged");
        assert_eq!(
            parse_event(b"[]").unwrap_err(),
            ChatwootParseError::NotAnObject
        );
        assert_eq!(
            parse_event(b"{\"id\":1}").unwrap_err(),
            ChatwootParseError::MissingEvent
        );
        assert!(matches!(
            parse_event(b"{"),
            Err(ChatwootParseError::Json(_))
        ));
    }

    #[test]
    fn times_in_every_known_form() {
        assert_eq!(time(&json!(1_700_000_000)), Some(1_700_000_000));
        assert_eq!(time(&json!("1700000000")), Some(1_700_000_000));
        assert_eq!(time(&json!("2020-03-03 13:05:57 UTC")), Some(1_583_240_757));
        assert_eq!(time(&json!("2020-03-03T13:05:57Z")), Some(1_583_240_757));
        assert_eq!(
            time(&json!("2020-03-03 10:05:57 -0300")),
            Some(1_583_240_757)
        );
        assert_eq!(time(&json!("unix-timestamp")), None);
    }
}
