//! One internal model for every inbound message, whatever the provider (Meta, 360dialog, Twilio,
//! Chatwoot); the wire formats are mapped to it in `chasqui-channels`.
//!
//! The model is stored as JSON, so field names and the `kind` tags are part of the storage format:
//! add fields (with defaults), never rename them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message a customer sent to one of our channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The provider's id (`wamid.…`, Twilio `SM…`, Chatwoot message id): the deduplication key.
    pub provider_message_id: String,
    /// When the customer sent it (Unix seconds), if the provider says (Twilio does not).
    pub timestamp: Option<i64>,
    /// Who sent it.
    #[serde(default)]
    pub sender: Sender,
    /// Reply, forward and product-inquiry information.
    pub context: Option<Context>,
    /// Click-to-WhatsApp ad or post that started the conversation.
    pub referral: Option<Referral>,
    /// What was sent.
    pub content: MessageContent,
    /// Attachments beyond the first (Twilio MMS, Chatwoot); WhatsApp messages carry one at most.
    #[serde(default)]
    pub additional_media: Vec<Media>,
    /// Errors the provider attached to the message (e.g. 131051 for unsupported types).
    #[serde(default)]
    pub errors: Vec<ProviderError>,
}

impl InboundMessage {
    /// A message with only an id and content; the parsers fill in the rest.
    pub fn new(provider_message_id: impl Into<String>, content: MessageContent) -> Self {
        InboundMessage {
            provider_message_id: provider_message_id.into(),
            timestamp: None,
            sender: Sender::default(),
            context: None,
            referral: None,
            content,
            additional_media: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The stable snake_case type name stored in the database (`text`, `image`, …).
    pub fn kind(&self) -> &'static str {
        self.content.kind()
    }

    /// A short one-line text for inbox lists and notifications.
    pub fn preview_text(&self) -> String {
        self.content.preview_text()
    }

    /// Every human-readable text in the message, space-separated, for full-text search.
    pub fn searchable_text(&self) -> String {
        let mut parts = Vec::new();
        self.content.collect_text(&mut parts);
        for media in &self.additional_media {
            push_opt(&mut parts, &media.caption);
            push_opt(&mut parts, &media.filename);
        }
        join_parts(parts)
    }
}

/// Who sent a message: every identifier the provider gave, none of them guaranteed.
///
/// Since 2026 WhatsApp users with a username may come with a BSUID (`user_id`) and no phone number
/// at all, so nothing here is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sender {
    /// Phone-based WhatsApp id (digits, no `+`), when the provider exposes it.
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID, e.g. `US.13491208655302741918`).
    pub user_id: Option<String>,
    /// Parent BSUID (`US.ENT.…`), when enabled for the business.
    pub parent_user_id: Option<String>,
    /// WhatsApp username, when the user has one.
    pub username: Option<String>,
    /// The profile (display) name the user chose.
    pub profile_name: Option<String>,
    /// Phone number as the provider wrote it (Twilio `From` without `whatsapp:`, Chatwoot).
    pub phone: Option<String>,
    /// E-mail address (Chatwoot contacts).
    pub email: Option<String>,
    /// The provider's own contact id (Chatwoot contact id).
    pub provider_contact_id: Option<String>,
    /// An external identifier set on the contact by an integration (Chatwoot `identifier`).
    pub identifier: Option<String>,
}

/// Reply, forward and product-inquiry information attached to a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Context {
    /// The id of the message this one replies to (or the template a button belongs to).
    pub replied_to_id: Option<String>,
    /// Who sent the replied-to message (usually our business number).
    pub replied_to_from: Option<String>,
    /// The user forwarded this message.
    pub forwarded: bool,
    /// Forwarded more than five times (may come without `forwarded`).
    pub frequently_forwarded: bool,
    /// The catalog product the user asked about.
    pub referred_product: Option<ReferredProduct>,
}

/// A catalog product a message refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferredProduct {
    /// Meta catalog id.
    pub catalog_id: Option<String>,
    /// The business's own product id.
    pub product_retailer_id: Option<String>,
}

/// Click-to-WhatsApp ad or Facebook post that led the user here: the conversation's source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Referral {
    /// URL of the ad or post.
    pub source_url: Option<String>,
    /// Ad or post id.
    pub source_id: Option<String>,
    /// `ad` or `post`.
    pub source_type: Option<String>,
    /// Ad headline.
    pub headline: Option<String>,
    /// Ad body text.
    pub body: Option<String>,
    /// `image` or `video`.
    pub media_type: Option<String>,
    /// Ad image.
    pub image_url: Option<String>,
    /// Ad video.
    pub video_url: Option<String>,
    /// Ad video thumbnail.
    pub thumbnail_url: Option<String>,
    /// Click id for conversion tracking.
    pub ctwa_clid: Option<String>,
    /// The ad's prefilled welcome message.
    pub welcome_message: Option<String>,
}

/// A media attachment: by provider id (Meta, to download later) and/or by URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Media {
    /// Provider media id (Meta: valid for 7 days).
    pub id: Option<String>,
    /// MIME type as declared by the provider.
    pub mime_type: Option<String>,
    /// SHA-256 the provider declared (Meta: base64 or hex, as sent), to check the download.
    pub sha256: Option<String>,
    /// Caption the user typed.
    pub caption: Option<String>,
    /// Direct URL (Meta lookaside, Twilio media URL, Chatwoot `data_url`).
    pub url: Option<String>,
    /// File name (documents).
    pub filename: Option<String>,
}

/// A contact card shared in a `contacts` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedContact {
    /// The formatted full name.
    pub formatted_name: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone numbers.
    pub phones: Vec<SharedPhone>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Company name.
    pub organization: Option<String>,
    /// Raw vCard text, when the provider sends one.
    pub vcard: Option<String>,
    /// The whole card as received (addresses, urls, birthday, …).
    pub raw: Value,
}

/// One phone number on a shared contact card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SharedPhone {
    /// The number as formatted by the user.
    pub phone: Option<String>,
    /// The WhatsApp id, when the number is on WhatsApp.
    pub wa_id: Option<String>,
    /// `CELL`, `HOME`, `WORK`, `MOBILE`, …
    pub label: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductItem {
    /// The business's product id.
    pub product_retailer_id: Option<String>,
    /// How many.
    pub quantity: Option<i64>,
    /// Unit price as sent (a decimal number, not minor units).
    pub item_price: Option<f64>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
}

/// Meta's identity-change block on `customer_identity_changed` system messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityChange {
    /// Whether the change was acknowledged.
    pub acknowledged: Option<bool>,
    /// When the new identity was created (Unix seconds).
    pub created_timestamp: Option<i64>,
    /// The identity hash.
    pub hash: Option<String>,
}

/// What a customer answered to an interactive message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply_type", rename_all = "snake_case")]
pub enum InteractiveReply {
    /// Tap on a reply button.
    ButtonReply {
        /// The button id we set.
        id: Option<String>,
        /// The button label.
        title: Option<String>,
    },
    /// Choice from a list message.
    ListReply {
        /// The row id we set.
        id: Option<String>,
        /// The row title.
        title: Option<String>,
        /// The row description.
        description: Option<String>,
    },
    /// A completed WhatsApp Flow (or address message): Meta's `nfm_reply`.
    FlowReply {
        /// `flow` or `address_message`.
        name: Option<String>,
        /// The text shown in the chat (usually `Sent`).
        body: Option<String>,
        /// The response, parsed when it is JSON, otherwise the raw string.
        response_json: Value,
        /// The flow token, when present in the response.
        flow_token: Option<String>,
    },
    /// Answer to a call-permission request.
    CallPermissionReply {
        /// `accept` or `reject`.
        response: Option<String>,
        /// Until when the permission holds (Unix seconds).
        expiration_timestamp: Option<i64>,
        /// `user_action`, `automatic`, …
        response_source: Option<String>,
    },
    /// An interactive type we do not model yet, kept whole.
    Unknown {
        /// The provider's `interactive.type`.
        interactive_type: String,
        /// The `interactive` object as received.
        raw: Value,
    },
}

impl InteractiveReply {
    /// The stable name of the reply type (`button_reply`, `list_reply`, …).
    pub fn reply_type(&self) -> &str {
        match self {
            InteractiveReply::ButtonReply { .. } => "button_reply",
            InteractiveReply::ListReply { .. } => "list_reply",
            InteractiveReply::FlowReply { .. } => "nfm_reply",
            InteractiveReply::CallPermissionReply { .. } => "call_permission_reply",
            InteractiveReply::Unknown {
                interactive_type, ..
            } => interactive_type,
        }
    }
}

/// The content of a message, one variant per type; the `kind` tag is the stored type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageContent {
    /// Plain text.
    Text {
        /// The text.
        body: String,
    },
    /// A photo.
    Image {
        /// The image.
        media: Media,
    },
    /// An audio file or a recorded voice note.
    Audio {
        /// The audio.
        media: Media,
        /// A voice note recorded in WhatsApp (rather than a forwarded audio file).
        voice: bool,
    },
    /// A video.
    Video {
        /// The video.
        media: Media,
    },
    /// A document (PDF, …).
    Document {
        /// The document; `media.filename` carries its name.
        media: Media,
    },
    /// A sticker (WebP).
    Sticker {
        /// The sticker.
        media: Media,
        /// Animated sticker.
        animated: bool,
    },
    /// A shared or current location.
    Location {
        /// Latitude (degrees), when readable.
        latitude: Option<f64>,
        /// Longitude (degrees), when readable.
        longitude: Option<f64>,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
        /// URL of the place.
        url: Option<String>,
    },
    /// Shared contact cards.
    Contacts {
        /// The cards.
        contacts: Vec<SharedContact>,
    },
    /// A reply to an interactive message (buttons, list, flow, call permission).
    Interactive {
        /// The reply.
        reply: InteractiveReply,
    },
    /// A quick-reply button tap on a template message.
    Button {
        /// The payload we set on the template button.
        payload: Option<String>,
        /// The button label.
        text: Option<String>,
    },
    /// An emoji reaction to a message; `emoji: None` means the reaction was removed.
    Reaction {
        /// The message reacted to.
        message_id: Option<String>,
        /// The emoji, or `None` when the user removed the reaction.
        emoji: Option<String>,
    },
    /// A cart sent from the catalog.
    Order {
        /// Meta catalog id.
        catalog_id: Option<String>,
        /// Text sent with the order.
        text: Option<String>,
        /// The lines.
        product_items: Vec<ProductItem>,
    },
    /// A system notice (number change, identity change, BSUID change).
    System {
        /// `user_changed_number`, `customer_identity_changed`, `user_changed_user_id`, …
        system_type: Option<String>,
        /// The notice text.
        body: Option<String>,
        /// The user's new phone-based WhatsApp id, on number changes.
        new_wa_id: Option<String>,
        /// The user's new BSUID, on BSUID changes.
        new_user_id: Option<String>,
        /// The user's new parent BSUID.
        new_parent_user_id: Option<String>,
        /// The user's previous id, when the provider names it (`customer`).
        previous_id: Option<String>,
        /// Identity-change details.
        identity: Option<IdentityChange>,
    },
    /// The user edited an earlier message (coexistence).
    Edit {
        /// The id of the edited message.
        original_message_id: Option<String>,
        /// The new content.
        content: Box<MessageContent>,
    },
    /// The user deleted an earlier message (coexistence).
    Revoke {
        /// The id of the deleted message.
        original_message_id: Option<String>,
    },
    /// The user opened the chat for the first time (welcome-message trigger).
    RequestWelcome,
    /// The provider says it cannot show us the content (`unsupported`, older `unknown`).
    Unsupported {
        /// The provider's `type` (`unsupported` or `unknown`).
        message_type: String,
        /// What it was, when the provider says (e.g. `poll`).
        unsupported_type: Option<String>,
    },
    /// A type we do not model (yet): kept whole, never an error.
    Unknown {
        /// The provider's `type` string, verbatim.
        message_type: String,
        /// The message (or attachment) as received.
        raw: Value,
    },
}

impl MessageContent {
    /// Every stored type name, for database checks and API filters.
    pub const KINDS: [&'static str; 18] = [
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "button",
        "reaction",
        "order",
        "system",
        "edit",
        "revoke",
        "request_welcome",
        "unsupported",
        "unknown",
    ];

    /// The stable snake_case type name stored in the database.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageContent::Text { .. } => "text",
            MessageContent::Image { .. } => "image",
            MessageContent::Audio { .. } => "audio",
            MessageContent::Video { .. } => "video",
            MessageContent::Document { .. } => "document",
            MessageContent::Sticker { .. } => "sticker",
            MessageContent::Location { .. } => "location",
            MessageContent::Contacts { .. } => "contacts",
            MessageContent::Interactive { .. } => "interactive",
            MessageContent::Button { .. } => "button",
            MessageContent::Reaction { .. } => "reaction",
            MessageContent::Order { .. } => "order",
            MessageContent::System { .. } => "system",
            MessageContent::Edit { .. } => "edit",
            MessageContent::Revoke { .. } => "revoke",
            MessageContent::RequestWelcome => "request_welcome",
            MessageContent::Unsupported { .. } => "unsupported",
            MessageContent::Unknown { .. } => "unknown",
        }
    }

    /// The media this content carries, if it is a media type.
    pub fn media(&self) -> Option<&Media> {
        match self {
            MessageContent::Image { media }
            | MessageContent::Audio { media, .. }
            | MessageContent::Video { media }
            | MessageContent::Document { media }
            | MessageContent::Sticker { media, .. } => Some(media),
            _ => None,
        }
    }

    /// A short one-line text for inbox lists and notifications.
    pub fn preview_text(&self) -> String {
        let text = match self {
            MessageContent::Text { body } => body.clone(),
            MessageContent::Image { media } => labelled("[image]", &media.caption),
            MessageContent::Video { media } => labelled("[video]", &media.caption),
            MessageContent::Audio { voice: true, .. } => "[voice message]".to_owned(),
            MessageContent::Audio { .. } => "[audio]".to_owned(),
            MessageContent::Document { media } => {
                let name = media.caption.clone().or_else(|| media.filename.clone());
                labelled("[document]", &name)
            }
            MessageContent::Sticker { .. } => "[sticker]".to_owned(),
            MessageContent::Location { name, address, .. } => {
                let place = name.as_ref().or(address.as_ref()).cloned();
                labelled("[location]", &place)
            }
            MessageContent::Contacts { contacts } => {
                let names: Vec<&str> = contacts
                    .iter()
                    .filter_map(|c| c.formatted_name.as_deref())
                    .collect();
                if names.is_empty() {
                    "[contacts]".to_owned()
                } else {
                    format!("[contacts] {}", names.join(", "))
                }
            }
            MessageContent::Interactive { reply } => match reply {
                InteractiveReply::ButtonReply { title, id } => {
                    title.clone().or_else(|| id.clone()).unwrap_or_default()
                }
                InteractiveReply::ListReply { title, id, .. } => {
                    title.clone().or_else(|| id.clone()).unwrap_or_default()
                }
                InteractiveReply::FlowReply { body, .. } => labelled("[flow response]", body),
                InteractiveReply::CallPermissionReply { response, .. } => {
                    labelled("[call permission]", response)
                }
                InteractiveReply::Unknown {
                    interactive_type, ..
                } => format!("[{interactive_type}]"),
            },
            MessageContent::Button { text, payload } => {
                text.clone().or_else(|| payload.clone()).unwrap_or_default()
            }
            MessageContent::Reaction { emoji: Some(e), .. } => format!("[reaction] {e}"),
            MessageContent::Reaction { emoji: None, .. } => "[reaction removed]".to_owned(),
            MessageContent::Order {
                text,
                product_items,
                ..
            } => {
                let head = format!("[order: {} item(s)]", product_items.len());
                labelled(&head, text)
            }
            MessageContent::System { body, .. } => labelled("[system]", body),
            MessageContent::Edit { content, .. } => {
                format!("[edited] {}", content.preview_text())
            }
            MessageContent::Revoke { .. } => "[message deleted]".to_owned(),
            MessageContent::RequestWelcome => "[chat opened]".to_owned(),
            MessageContent::Unsupported {
                unsupported_type, ..
            } => match unsupported_type {
                Some(t) => format!("[unsupported: {t}]"),
                None => "[unsupported]".to_owned(),
            },
            MessageContent::Unknown { message_type, .. } => format!("[{message_type}]"),
        };
        one_line(&text, PREVIEW_CHARS)
    }

    /// Every human-readable text in the content, space-separated, for full-text search.
    pub fn searchable_text(&self) -> String {
        let mut parts = Vec::new();
        self.collect_text(&mut parts);
        join_parts(parts)
    }

    fn collect_text<'a>(&'a self, parts: &mut Vec<&'a str>) {
        match self {
            MessageContent::Text { body } => parts.push(body),
            MessageContent::Image { media }
            | MessageContent::Video { media }
            | MessageContent::Audio { media, .. }
            | MessageContent::Document { media }
            | MessageContent::Sticker { media, .. } => {
                push_opt(parts, &media.caption);
                push_opt(parts, &media.filename);
            }
            MessageContent::Location { name, address, .. } => {
                push_opt(parts, name);
                push_opt(parts, address);
            }
            MessageContent::Contacts { contacts } => {
                for c in contacts {
                    push_opt(parts, &c.formatted_name);
                    push_opt(parts, &c.organization);
                    for p in &c.phones {
                        push_opt(parts, &p.phone);
                    }
                    for e in &c.emails {
                        parts.push(e);
                    }
                }
            }
            MessageContent::Interactive { reply } => match reply {
                InteractiveReply::ButtonReply { title, .. } => push_opt(parts, title),
                InteractiveReply::ListReply {
                    title, description, ..
                } => {
                    push_opt(parts, title);
                    push_opt(parts, description);
                }
                InteractiveReply::FlowReply { body, .. } => push_opt(parts, body),
                InteractiveReply::CallPermissionReply { .. } | InteractiveReply::Unknown { .. } => {
                }
            },
            MessageContent::Button { text, .. } => push_opt(parts, text),
            MessageContent::Reaction { emoji, .. } => push_opt(parts, emoji),
            MessageContent::Order { text, .. } => push_opt(parts, text),
            MessageContent::System { body, .. } => push_opt(parts, body),
            MessageContent::Edit { content, .. } => content.collect_text(parts),
            MessageContent::Revoke { .. }
            | MessageContent::RequestWelcome
            | MessageContent::Unsupported { .. }
            | MessageContent::Unknown { .. } => {}
        }
    }
}

/// An error a provider reported about a message or a status (Meta's error object, Twilio's code).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderError {
    /// Numeric code (Meta 131047, Twilio 63016, …): what retry and fallback rules key on.
    pub code: Option<i64>,
    /// Short title (Meta is deprecating it).
    pub title: Option<String>,
    /// Message text.
    pub message: Option<String>,
    /// The human sentence that explains it (`error_data.details`).
    pub details: Option<String>,
    /// Link to the provider's documentation for the code.
    pub href: Option<String>,
}

/// Longest preview, in characters.
const PREVIEW_CHARS: usize = 160;

fn labelled(label: &str, text: &Option<String>) -> String {
    match text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => format!("{label} {t}"),
        _ => label.to_owned(),
    }
}

/// Collapses whitespace to single spaces and cuts to `max` characters (with an ellipsis).
fn one_line(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn push_opt<'a>(parts: &mut Vec<&'a str>, value: &'a Option<String>) {
    if let Some(v) = value {
        parts.push(v);
    }
}

fn join_parts(parts: Vec<&str>) -> String {
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn media(caption: Option<&str>) -> Media {
        Media {
            id: Some("123".into()),
            mime_type: Some("image/jpeg".into()),
            caption: caption.map(str::to_owned),
            ..Media::default()
        }
    }

    fn one_of_each() -> Vec<MessageContent> {
        vec![
            MessageContent::Text {
                body: "hola".into(),
            },
            MessageContent::Image {
                media: media(Some("la foto")),
            },
            MessageContent::Audio {
                media: media(None),
                voice: true,
            },
            MessageContent::Video { media: media(None) },
            MessageContent::Document {
                media: Media {
                    filename: Some("factura.pdf".into()),
                    ..Media::default()
                },
            },
            MessageContent::Sticker {
                media: media(None),
                animated: true,
            },
            MessageContent::Location {
                latitude: Some(-34.6),
                longitude: Some(-58.4),
                name: Some("Obelisco".into()),
                address: None,
                url: None,
            },
            MessageContent::Contacts {
                contacts: vec![SharedContact {
                    formatted_name: Some("Lucía Gómez".into()),
                    raw: json!({}),
                    ..SharedContact::default()
                }],
            },
            MessageContent::Interactive {
                reply: InteractiveReply::ListReply {
                    id: Some("row1".into()),
                    title: Some("Turno mañana".into()),
                    description: Some("9 a 12".into()),
                },
            },
            MessageContent::Button {
                payload: Some("YES".into()),
                text: Some("Sí".into()),
            },
            MessageContent::Reaction {
                message_id: Some("wamid.1".into()),
                emoji: None,
            },
            MessageContent::Order {
                catalog_id: Some("c".into()),
                text: None,
                product_items: vec![ProductItem::default()],
            },
            MessageContent::System {
                system_type: Some("user_changed_number".into()),
                body: Some("changed".into()),
                new_wa_id: Some("1".into()),
                new_user_id: None,
                new_parent_user_id: None,
                previous_id: None,
                identity: None,
            },
            MessageContent::Edit {
                original_message_id: Some("wamid.0".into()),
                content: Box::new(MessageContent::Text {
                    body: "corregido".into(),
                }),
            },
            MessageContent::Revoke {
                original_message_id: Some("wamid.0".into()),
            },
            MessageContent::RequestWelcome,
            MessageContent::Unsupported {
                message_type: "unsupported".into(),
                unsupported_type: Some("poll".into()),
            },
            MessageContent::Unknown {
                message_type: "hologram".into(),
                raw: json!({"type": "hologram"}),
            },
        ]
    }

    #[test]
    fn every_kind_is_listed_and_matches_the_serde_tag() {
        let all = one_of_each();
        assert_eq!(all.len(), MessageContent::KINDS.len());
        for (content, kind) in all.iter().zip(MessageContent::KINDS) {
            assert_eq!(content.kind(), kind);
            let json = serde_json::to_value(content).unwrap();
            assert_eq!(json["kind"], kind, "{json}");
        }
    }

    #[test]
    fn json_round_trips_for_every_kind() {
        for content in one_of_each() {
            let mut msg = InboundMessage::new("wamid.X", content);
            msg.timestamp = Some(1_700_000_000);
            msg.sender.wa_id = Some("5491122334455".into());
            msg.context = Some(Context {
                replied_to_id: Some("wamid.Y".into()),
                ..Context::default()
            });
            let json = serde_json::to_string(&msg).unwrap();
            let back: InboundMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(back, msg, "{json}");
        }
    }

    #[test]
    fn stored_json_has_stable_field_names() {
        let msg = InboundMessage::new(
            "wamid.X",
            MessageContent::Audio {
                media: media(None),
                voice: true,
            },
        );
        let v = serde_json::to_value(&msg).unwrap();
        assert_eq!(v["provider_message_id"], "wamid.X");
        assert_eq!(v["content"]["kind"], "audio");
        assert_eq!(v["content"]["voice"], true);
        assert_eq!(v["content"]["media"]["mime_type"], "image/jpeg");
        assert!(v["sender"].is_object());
    }

    #[test]
    fn older_rows_without_newer_fields_still_load() {
        let v = json!({
            "provider_message_id": "wamid.X",
            "timestamp": null,
            "content": {"kind": "text", "body": "hi"}
        });
        let msg: InboundMessage = serde_json::from_value(v).unwrap();
        assert_eq!(msg.kind(), "text");
        assert!(msg.errors.is_empty() && msg.additional_media.is_empty());
    }

    #[test]
    fn previews_are_short_single_lines() {
        let long = MessageContent::Text {
            body: format!("line one\n\nline   two {}", "x".repeat(500)),
        };
        let p = long.preview_text();
        assert!(p.starts_with("line one line two "));
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.ends_with('…'));
        for content in one_of_each() {
            let p = content.preview_text();
            assert!(!p.is_empty(), "{content:?}");
            assert!(!p.contains('\n'));
        }
    }

    #[test]
    fn previews_name_what_happened() {
        let all = one_of_each();
        assert_eq!(all[1].preview_text(), "[image] la foto");
        assert_eq!(all[2].preview_text(), "[voice message]");
        assert_eq!(all[4].preview_text(), "[document] factura.pdf");
        assert_eq!(all[6].preview_text(), "[location] Obelisco");
        assert_eq!(all[8].preview_text(), "Turno mañana");
        assert_eq!(all[10].preview_text(), "[reaction removed]");
        assert_eq!(all[13].preview_text(), "[edited] corregido");
        assert_eq!(all[16].preview_text(), "[unsupported: poll]");
    }

    #[test]
    fn searchable_text_collects_every_human_text() {
        let all = one_of_each();
        assert_eq!(all[0].searchable_text(), "hola");
        assert_eq!(all[8].searchable_text(), "Turno mañana 9 a 12");
        assert_eq!(all[7].searchable_text(), "Lucía Gómez");
        assert_eq!(all[13].searchable_text(), "corregido");
        assert_eq!(all[15].searchable_text(), "");
        let mut msg = InboundMessage::new("x", all[1].clone());
        msg.additional_media.push(Media {
            caption: Some("segunda".into()),
            ..Media::default()
        });
        assert_eq!(msg.searchable_text(), "la foto segunda");
    }
}
