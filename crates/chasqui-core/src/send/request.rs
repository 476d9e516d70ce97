//! The body of `POST /v1/messages`, read at the top level: who to, through which channel, what
//! type. The type's own object is checked by [`validate`](super::validate), which needs context.

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::content::{MessageRef, message_ref};
use super::error::{
    Result, SendErrorKind, SendValidationError, conflict, empty, invalid_value, missing, name,
    quoted_list, shorten, too_long, wrong_type,
};
use super::json::{Obj, chars};
use super::media::MediaKind;
use crate::ids::{ChannelId, ContactId};
use crate::phone::{PhoneE164, RegionCode};

/// Longest `biz_opaque_callback_data` (echoed in status webhooks).
pub const MAX_CALLBACK_DATA_CHARS: usize = 512;

/// A message type we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendKind {
    /// Text.
    Text,
    /// Image with optional caption.
    Image,
    /// Audio or voice note.
    Audio,
    /// Video with optional caption.
    Video,
    /// Document with optional caption and file name.
    Document,
    /// Sticker.
    Sticker,
    /// A location pin.
    Location,
    /// Contact cards.
    Contacts,
    /// Buttons, lists, CTA URL, flows, products.
    Interactive,
    /// An approved template (the only type allowed outside the 24-hour window).
    Template,
    /// A reaction to an earlier message.
    Reaction,
}

impl SendKind {
    /// Every type, in documentation order.
    pub const ALL: [SendKind; 11] = [
        Self::Text,
        Self::Image,
        Self::Audio,
        Self::Video,
        Self::Document,
        Self::Sticker,
        Self::Location,
        Self::Contacts,
        Self::Interactive,
        Self::Template,
        Self::Reaction,
    ];

    /// The type name, which is also the key of its object in the body (`text`, `image`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Interactive => "interactive",
            Self::Template => "template",
            Self::Reaction => "reaction",
        }
    }

    /// Reads a type name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Free-form types may only be sent inside the 24-hour window; only templates may not.
    pub fn is_free_form(self) -> bool {
        self != Self::Template
    }

    /// The media kind, for media messages.
    pub fn media_kind(self) -> Option<MediaKind> {
        Some(match self {
            Self::Image => MediaKind::Image,
            Self::Audio => MediaKind::Audio,
            Self::Video => MediaKind::Video,
            Self::Document => MediaKind::Document,
            Self::Sticker => MediaKind::Sticker,
            _ => return None,
        })
    }
}

/// Who the message is for, as the request said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientInput {
    /// `to`: a phone number as typed (international, or national in the tenant's region).
    Phone(String),
    /// `contact_id`: one of the tenant's contacts.
    Contact(ContactId),
    /// `recipient`: a business-scoped user id (BSUID, `US.13491208655302741918`).
    Bsuid(String),
}

/// The body of `POST /v1/messages`, checked at the top level.
///
/// Read it with [`SendRequest::from_value`] to keep the error's code and field; the `Deserialize`
/// impl does the same checks but can only carry the message.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    /// `channel_id`, when given (optional when the tenant has one WhatsApp channel).
    pub channel_id: Option<ChannelId>,
    /// Exactly one of `to`, `contact_id`, `recipient`.
    pub recipient: RecipientInput,
    /// `type` (inferred from the one message object present when absent, as Meta defaults).
    pub kind: SendKind,
    /// The object under the type's key (an array for `contacts`), not yet checked.
    pub content: Value,
    /// `context.message_id`: the message this one replies to.
    pub reply_to: Option<MessageRef>,
    /// `biz_opaque_callback_data`, echoed back in status webhooks.
    pub biz_opaque_callback_data: Option<String>,
}

const TOP_LEVEL: &[&str] = &[
    "channel_id",
    "to",
    "contact_id",
    "recipient",
    "type",
    "context",
    "biz_opaque_callback_data",
    "messaging_product",
    "recipient_type",
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];

impl SendRequest {
    /// Reads the JSON body: known fields only, one recipient, a known type with its object
    /// (and no other type's), a well-formed `context` and `channel_id`.
    pub fn from_value(value: &Value) -> Result<Self> {
        let root = Obj::of(value, "")?;
        root.allow(TOP_LEVEL)?;
        if let Some(p) = root.str("messaging_product")?
            && p != "whatsapp"
        {
            return Err(invalid_value("messaging_product", p, &["whatsapp"]));
        }
        if let Some(t) = root.str("recipient_type")?
            && t != "individual"
        {
            return Err(invalid_value("recipient_type", t, &["individual"])
                .with_hint("Group messages are not supported."));
        }
        let channel_id = match root.str("channel_id")? {
            None => None,
            Some(s) => Some(ChannelId::from_str(s.trim()).map_err(|_| {
                SendValidationError::new(
                    SendErrorKind::InvalidChannelId,
                    "channel_id",
                    format!(
                        "`channel_id` (`{}`) is not a channel id: use the `id` of a channel from \
                         GET /v1/channels (`chn_…`), or leave it out when the tenant has one \
                         WhatsApp channel.",
                        shorten(s, 60)
                    ),
                )
            })?),
        };
        let recipient = recipient(&root)?;
        let kind = kind(&root)?;
        let content = root
            .get(kind.as_str())
            .cloned()
            .ok_or_else(|| missing(kind.as_str(), &content_hint(kind)))?;
        let reply_to = match root.obj("context")? {
            None => None,
            Some(ctx) => {
                ctx.allow(&["message_id"])?;
                let path = ctx.field("message_id");
                let id = ctx.req_str("message_id", "the id of the message this one replies to")?;
                Some(message_ref(&path, id)?)
            }
        };
        let biz_opaque_callback_data = match root.str("biz_opaque_callback_data")? {
            Some(data) if chars(data) > MAX_CALLBACK_DATA_CHARS => {
                return Err(too_long(
                    "biz_opaque_callback_data",
                    MAX_CALLBACK_DATA_CHARS,
                    chars(data),
                    "",
                ));
            }
            other => other.map(str::to_owned),
        };
        Ok(Self {
            channel_id,
            recipient,
            kind,
            content,
            reply_to,
            biz_opaque_callback_data,
        })
    }

    /// The template's name, for a template send (so the caller can load it before validating).
    pub fn template_name(&self) -> Option<&str> {
        if self.kind != SendKind::Template {
            return None;
        }
        self.content
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
    }

    /// The `to` number parsed as [`validate`](super::validate) will parse it, so the caller can
    /// find the contact (its window and last WhatsApp id) first. `None` for other recipients.
    pub fn parse_to(&self, default_region: Option<RegionCode>) -> Option<Result<PhoneE164>> {
        match &self.recipient {
            RecipientInput::Phone(to) => Some(parse_phone(to, default_region)),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for SendRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_value(&value).map_err(|e| {
            serde::de::Error::custom(format!("{} (field `{}`, code {})", e, e.field(), e.code()))
        })
    }
}

fn recipient(root: &Obj<'_>) -> Result<RecipientInput> {
    let present: Vec<String> = ["to", "contact_id", "recipient"]
        .into_iter()
        .filter(|k| root.has(k))
        .map(str::to_owned)
        .collect();
    if present.len() > 1 {
        return Err(conflict(
            &present,
            format!(
                "Give one recipient, not {}: `to` (a phone number), `contact_id` or `recipient` (a BSUID).",
                quoted_list(&present)
            ),
        ));
    }
    if let Some(to) = root.get("to") {
        let to = match to {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            other => {
                return Err(wrong_type(
                    "to",
                    "a string such as \"+5491123456789\"",
                    other,
                ));
            }
        };
        if to.trim().is_empty() {
            return Err(empty(
                "to",
                "give the customer's phone number, e.g. +5491123456789",
            ));
        }
        return Ok(RecipientInput::Phone(to));
    }
    if let Some(id) = root.str("contact_id")? {
        return ContactId::from_str(id.trim())
            .map(RecipientInput::Contact)
            .map_err(|_| {
                SendValidationError::new(
                    SendErrorKind::InvalidContactId,
                    "contact_id",
                    format!(
                        "`contact_id` (`{}`) is not a contact id: use the `id` of a contact from \
                         GET /v1/contacts (`con_…`).",
                        shorten(id, 60)
                    ),
                )
            });
    }
    if let Some(bsuid) = root.str("recipient")? {
        let bsuid = bsuid.trim();
        if !is_bsuid(bsuid) {
            return Err(SendValidationError::new(
                SendErrorKind::InvalidRecipient,
                "recipient",
                format!(
                    "`recipient` (`{}`) is not a business-scoped user id: it looks like \
                     `US.13491208655302741918` (from the `user_id` of an inbound webhook). For a \
                     phone number use `to`.",
                    shorten(bsuid, 60)
                ),
            ));
        }
        return Ok(RecipientInput::Bsuid(bsuid.to_owned()));
    }
    Err(SendValidationError::new(
        SendErrorKind::RecipientRequired,
        "to",
        "Say who the message is for: `to` (a phone number such as +5491123456789), `contact_id` \
         (`con_…`) or `recipient` (a BSUID such as US.13491208655302741918).",
    ))
}

/// `US.13491208655302741918` or a parent id `US.ENT.…`.
pub(crate) fn is_bsuid(s: &str) -> bool {
    let mut parts = s.split('.');
    let country = parts.next().unwrap_or_default();
    let mut rest: Vec<&str> = parts.collect();
    if rest.first() == Some(&"ENT") {
        rest.remove(0);
    }
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && rest.len() == 1
        && (1..=64).contains(&rest[0].len())
        && rest[0].bytes().all(|b| b.is_ascii_alphanumeric())
}

fn kind(root: &Obj<'_>) -> Result<SendKind> {
    let objects: Vec<SendKind> = SendKind::ALL
        .into_iter()
        .filter(|k| root.has(k.as_str()))
        .collect();
    let allowed: Vec<&str> = SendKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match root.get("type") {
        Some(Value::String(t)) => SendKind::parse(t).ok_or_else(|| {
            SendValidationError::new(
                SendErrorKind::UnsupportedType {
                    allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
                },
                "type",
                format!(
                    "`type` is `{}`, which we do not send; use one of: {}.",
                    shorten(t, 40),
                    quoted_list(&allowed)
                ),
            )
        })?,
        Some(other) => return Err(wrong_type("type", "a string such as \"text\"", other)),
        None => match objects.as_slice() {
            [only] => *only,
            [] => {
                return Err(missing(
                    "type",
                    "the message type (`text`, `image`, `template`…) with its object, e.g. \
                     {\"type\": \"text\", \"text\": {\"body\": \"Hola\"}}",
                ));
            }
            _ => {
                return Err(missing(
                    "type",
                    "the body has several message objects; say which one to send",
                ));
            }
        },
    };
    if let Some(other) = objects.iter().find(|k| **k != kind) {
        return Err(SendValidationError::new(
            SendErrorKind::TypeMismatch,
            other.as_str(),
            format!(
                "`{o}` is present but `type` is `{k}`: remove `{o}`, or set `type` to `{o}`.",
                o = other.as_str(),
                k = kind.as_str()
            ),
        ));
    }
    Ok(kind)
}

fn content_hint(kind: SendKind) -> String {
    let example = match kind {
        SendKind::Text => "{\"body\": \"Hola\"}",
        SendKind::Image | SendKind::Video | SendKind::Audio | SendKind::Sticker => {
            "{\"link\": \"https://…\"} or {\"id\": \"med_…\"}"
        }
        SendKind::Document => {
            "{\"link\": \"https://…/factura.pdf\", \"filename\": \"factura.pdf\"}"
        }
        SendKind::Location => "{\"latitude\": -34.6, \"longitude\": -58.38}",
        SendKind::Contacts => "[{\"name\": {\"formatted_name\": \"…\"}, \"phones\": […]}]",
        SendKind::Interactive => "{\"type\": \"button\", \"body\": {…}, \"action\": {…}}",
        SendKind::Template => "{\"name\": \"…\", \"language\": {\"code\": \"es_AR\"}}",
        SendKind::Reaction => "{\"message_id\": \"wamid.…\", \"emoji\": \"👍\"}",
    };
    format!(
        "a `{}` message needs its `{}` object: {example}",
        kind.as_str(),
        kind.as_str()
    )
}

/// Parses `to`: with the tenant's region first; digits that fail there are read as
/// international without the `+` (the Cloud API's own `to` form, `5491123456789`).
pub(crate) fn parse_phone(input: &str, region: Option<RegionCode>) -> Result<PhoneE164> {
    let trimmed = input.trim();
    let err = match PhoneE164::parse(trimmed, region) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let plain = trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if plain
        && !trimmed.starts_with('0')
        && digits.len() >= 10
        && let Ok(p) = PhoneE164::parse(&format!("+{digits}"), None)
    {
        return Ok(p);
    }
    let hint = match err.suggestion() {
        Some(s) => format!(" Did you mean {s}?"),
        None => " Write it with + and the country code, e.g. +54 9 11 2345-6789.".to_owned(),
    };
    let text = err.to_string();
    let text = text
        .split(" (did you mean")
        .next()
        .unwrap_or(&text)
        .to_owned();
    Err(SendValidationError::new(
        SendErrorKind::Phone(err),
        "to",
        format!("{} (`{}`): {text}.{hint}", name("to"), shorten(trimmed, 40)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
    fn err(v: Value) -> (String, String) {
        let e = SendRequest::from_value(&v).unwrap_err();
        (e.code().to_owned(), e.field().to_owned())
    }

    #[test]
    fn reads_the_top_level() {
        let chn = ChannelId::new();
        let req = SendRequest::from_value(&json!({
            "channel_id": chn.to_string(), "to": "+5491123456789", "type": "text",
            "text": {"body": "Hola"}, "context": {"message_id": "wamid.ABC="},
            "biz_opaque_callback_data": "booking-42", "messaging_product": "whatsapp",
            "recipient_type": "individual"
        }))
        .unwrap();
        assert_eq!(req.channel_id, Some(chn));
        assert_eq!(
            req.recipient,
            RecipientInput::Phone("+5491123456789".into())
        );
        assert_eq!(req.kind, SendKind::Text);
        assert_eq!(req.content, json!({"body": "Hola"}));
        assert_eq!(
            req.reply_to,
            Some(MessageRef::Provider("wamid.ABC=".into()))
        );
        assert_eq!(req.biz_opaque_callback_data.as_deref(), Some("booking-42"));
        let by_contact = ContactId::new();
        let req = SendRequest::from_value(
            &json!({"contact_id": by_contact.to_string(), "text": {"body": "x"}}),
        )
        .unwrap();
        assert_eq!(req.recipient, RecipientInput::Contact(by_contact));
        assert_eq!(
            req.kind,
            SendKind::Text,
            "type inferred from the one object"
        );
        let req = SendRequest::from_value(
            &json!({"recipient": "US.ENT.1349120865530274", "type": "text", "text": {"body": "x"}}),
        )
        .unwrap();
        assert_eq!(
            req.recipient,
            RecipientInput::Bsuid("US.ENT.1349120865530274".into())
        );
        let req = SendRequest::from_value(
            &json!({"to": 5491123456789u64, "type": "template", "template": {"name": " promo "}}),
        )
        .unwrap();
        assert_eq!(req.template_name(), Some("promo"));
    }

    #[test]
    fn top_level_errors_name_their_field() {
        let text = json!({"body": "x"});
        assert_eq!(err(json!([])), ("wrong_type".into(), "".into()));
        assert_eq!(
            err(json!({"to": "+1", "type": "text", "text": text, "colour": 1})),
            ("unknown_field".into(), "colour".into())
        );
        assert_eq!(
            err(json!({"type": "text", "text": text})),
            ("recipient_required".into(), "to".into())
        );
        assert_eq!(
            err(json!({"to": "+1", "contact_id": "con_x", "type": "text", "text": text})),
            ("conflicting_fields".into(), "contact_id".into())
        );
        assert_eq!(
            err(json!({"to": " ", "text": text})),
            ("empty_value".into(), "to".into())
        );
        assert_eq!(
            err(json!({"to": true, "text": text})),
            ("wrong_type".into(), "to".into())
        );
        assert_eq!(
            err(json!({"contact_id": "ten_0", "text": text})),
            ("invalid_contact_id".into(), "contact_id".into())
        );
        assert_eq!(
            err(json!({"recipient": "+5491123456789", "text": text})),
            ("invalid_recipient".into(), "recipient".into())
        );
        assert_eq!(
            err(json!({"channel_id": "whatsapp", "to": "1", "text": text})),
            ("invalid_channel_id".into(), "channel_id".into())
        );
        assert_eq!(
            err(json!({"to": "1", "type": "poll", "poll": {}})),
            ("unknown_field".into(), "poll".into())
        );
        assert_eq!(
            err(json!({"to": "1", "type": "poll"})),
            ("unsupported_type".into(), "type".into())
        );
        assert_eq!(
            err(json!({"to": "1", "type": "text"})),
            ("missing_field".into(), "text".into())
        );
        assert_eq!(
            err(json!({"to": "1"})),
            ("missing_field".into(), "type".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "image": {"link": "https://x.example/a.jpg"}})),
            ("missing_field".into(), "type".into())
        );
        assert_eq!(
            err(json!({"to": "1", "type": "text", "text": text, "image": {}})),
            ("type_mismatch".into(), "image".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "messaging_product": "sms"})),
            ("invalid_value".into(), "messaging_product".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "recipient_type": "group"})),
            ("invalid_value".into(), "recipient_type".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "context": {"message_id": "abc"}})),
            ("invalid_message_id".into(), "context.message_id".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "context": {"id": "wamid.x"}})),
            ("unknown_field".into(), "context.id".into())
        );
        assert_eq!(
            err(json!({"to": "1", "text": text, "biz_opaque_callback_data": "x".repeat(513)})),
            ("too_long".into(), "biz_opaque_callback_data".into())
        );
    }

    #[test]
    fn serde_keeps_the_field_in_the_message() {
        let e =
            serde_json::from_value::<SendRequest>(json!({"to": "1", "type": "text"})).unwrap_err();
        assert!(e.to_string().contains("field `text`"), "{e}");
        let ok: SendRequest =
            serde_json::from_value(json!({"to": "1", "type": "text", "text": {"body": "x"}}))
                .unwrap();
        assert_eq!(ok.kind, SendKind::Text);
    }

    #[test]
    fn phone_numbers() {
        let ar = RegionCode::parse("AR").ok();
        let us = RegionCode::parse("US").ok();
        let p = |s: &str, r| parse_phone(s, r).map(|p| p.as_str().to_owned());
        assert_eq!(p("011 15-2345-6789", ar).unwrap(), "+5491123456789");
        assert_eq!(p("+54 9 11 2345-6789", None).unwrap(), "+5491123456789");
        assert_eq!(p("5491123456789", None).unwrap(), "+5491123456789");
        assert_eq!(
            p("16505551234", ar).unwrap(),
            "+16505551234",
            "Cloud-API style digits"
        );
        assert_eq!(p("(650) 555-1234", us).unwrap(), "+16505551234");
        let e = parse_phone("12345", ar).unwrap_err();
        assert_eq!(e.field(), "to");
        assert!(
            e.message().starts_with("`to` (`12345`):"),
            "{}",
            e.message()
        );
        let e = parse_phone("1123456789", None).unwrap_err();
        assert_eq!(e.code(), "missing_country_code");
        let e = parse_phone("hola", ar).unwrap_err();
        assert_eq!(e.code(), "no_digits");
    }

    #[test]
    fn bsuids() {
        assert!(is_bsuid("US.13491208655302741918"));
        assert!(is_bsuid("AR.ENT.99"));
        for bad in [
            "", "US", "US.", "us.123", "USA.1", "US.1.2", "US.ENT.", "US.12 3",
        ] {
            assert!(!is_bsuid(bad), "{bad}");
        }
    }
}
