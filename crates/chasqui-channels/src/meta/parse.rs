//! Meta message and status objects → Chasqui's model.

use chasqui_core::message::{
    Context, IdentityChange, InboundMessage, InteractiveReply, Media, MessageContent, ProductItem,
    Referral, ReferredProduct, Sender, SharedContact, SharedPhone,
};
use chasqui_core::status::{ConversationInfo, Pricing, Status, StatusUpdate};
use serde_json::Value;

use crate::json::{self, boolean, float, int, items, nonempty, object, string};

/// How deep an `edit` may nest another message (an edit of an edit is kept raw).
const MAX_EDIT_DEPTH: u8 = 1;

/// One `value.messages[]` item; the error is the problem, the caller adds the path.
pub(super) fn message(m: &Value, contacts: &[Value]) -> Result<InboundMessage, String> {
    if !m.is_object() {
        return Err("a message must be an object".to_owned());
    }
    let id = nonempty(m, "id").ok_or("missing `id`")?;
    let mut msg = InboundMessage::new(id, content(m, 0));
    msg.timestamp = int(m, "timestamp");
    msg.sender = sender(m, contacts);
    msg.context = object(m, "context").and_then(context);
    msg.referral = object(m, "referral").map(referral);
    msg.errors = json::provider_errors(m, "errors");
    Ok(msg)
}

/// The content of a message object, by its `type`; anything unreadable becomes `Unknown`.
fn content(m: &Value, depth: u8) -> MessageContent {
    let ty = string(m, "type").unwrap_or_default();
    let unknown = || MessageContent::Unknown {
        message_type: ty.clone(),
        raw: m.clone(),
    };
    let part = |key: &str| object(m, key);
    let read = match ty.as_str() {
        "text" => part("text")
            .and_then(|t| string(t, "body"))
            .map(|body| MessageContent::Text { body }),
        "image" => part("image").map(|o| MessageContent::Image { media: media(o) }),
        "video" => part("video").map(|o| MessageContent::Video { media: media(o) }),
        "document" => part("document").map(|o| MessageContent::Document { media: media(o) }),
        "audio" => part("audio").map(|o| MessageContent::Audio {
            media: media(o),
            voice: boolean(o, "voice").unwrap_or(false),
        }),
        "sticker" => part("sticker").map(|o| MessageContent::Sticker {
            media: media(o),
            animated: boolean(o, "animated").unwrap_or(false),
        }),
        "location" => part("location").map(|o| MessageContent::Location {
            latitude: float(o, "latitude"),
            longitude: float(o, "longitude"),
            name: string(o, "name"),
            address: string(o, "address"),
            url: string(o, "url"),
        }),
        "contacts" => {
            m.get("contacts")
                .and_then(Value::as_array)
                .map(|cards| MessageContent::Contacts {
                    contacts: cards
                        .iter()
                        .filter(|c| c.is_object())
                        .map(shared_contact)
                        .collect(),
                })
        }
        "interactive" => part("interactive").map(|o| MessageContent::Interactive {
            reply: interactive(o),
        }),
        "button" => part("button").map(|o| MessageContent::Button {
            payload: string(o, "payload"),
            text: string(o, "text"),
        }),
        "reaction" => part("reaction").map(|o| MessageContent::Reaction {
            message_id: string(o, "message_id"),
            // An empty or absent emoji is how Meta says the reaction was removed.
            emoji: nonempty(o, "emoji"),
        }),
        "order" => part("order").map(|o| MessageContent::Order {
            catalog_id: string(o, "catalog_id"),
            text: nonempty(o, "text"),
            product_items: items(o, "product_items")
                .iter()
                .filter(|p| p.is_object())
                .map(|p| ProductItem {
                    product_retailer_id: string(p, "product_retailer_id"),
                    quantity: int(p, "quantity"),
                    item_price: float(p, "item_price"),
                    currency: string(p, "currency"),
                })
                .collect(),
        }),
        "system" => part("system").map(|o| MessageContent::System {
            system_type: string(o, "type"),
            body: string(o, "body"),
            new_wa_id: string(o, "wa_id"),
            new_user_id: string(o, "user_id"),
            new_parent_user_id: string(o, "parent_user_id"),
            previous_id: string(o, "customer"),
            identity: object(m, "identity").map(|i| IdentityChange {
                acknowledged: boolean(i, "acknowledged"),
                created_timestamp: int(i, "created_timestamp"),
                hash: string(i, "hash"),
            }),
        }),
        "edit" if depth < MAX_EDIT_DEPTH => part("edit").and_then(|o| {
            let inner = object(o, "message")?;
            Some(MessageContent::Edit {
                original_message_id: string(o, "original_message_id"),
                content: Box::new(content(inner, depth + 1)),
            })
        }),
        "revoke" => Some(MessageContent::Revoke {
            original_message_id: part("revoke").and_then(|o| string(o, "original_message_id")),
        }),
        "request_welcome" => Some(MessageContent::RequestWelcome),
        "unsupported" | "unknown" => Some(MessageContent::Unsupported {
            message_type: ty.clone(),
            unsupported_type: part("unsupported").and_then(|o| string(o, "type")),
        }),
        _ => None,
    };
    read.unwrap_or_else(unknown)
}

fn media(o: &Value) -> Media {
    Media {
        id: string(o, "id"),
        mime_type: string(o, "mime_type"),
        sha256: string(o, "sha256"),
        caption: string(o, "caption"),
        url: string(o, "url"),
        filename: string(o, "filename"),
    }
}

fn interactive(o: &Value) -> InteractiveReply {
    let ty = string(o, "type").unwrap_or_default();
    let part = |key: &str| object(o, key);
    let read = match ty.as_str() {
        "button_reply" => part("button_reply").map(|r| InteractiveReply::ButtonReply {
            id: string(r, "id"),
            title: string(r, "title"),
        }),
        "list_reply" => part("list_reply").map(|r| InteractiveReply::ListReply {
            id: string(r, "id"),
            title: string(r, "title"),
            description: string(r, "description"),
        }),
        "nfm_reply" => part("nfm_reply").map(|r| {
            // Meta sends the flow's answers as a JSON document inside a string.
            let response_json = match r.get("response_json") {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                Some(other) => other.clone(),
                None => Value::Null,
            };
            let flow_token = string(&response_json, "flow_token");
            InteractiveReply::FlowReply {
                name: string(r, "name"),
                body: string(r, "body"),
                response_json,
                flow_token,
            }
        }),
        "call_permission_reply" => {
            part("call_permission_reply").map(|r| InteractiveReply::CallPermissionReply {
                response: string(r, "response"),
                expiration_timestamp: int(r, "expiration_timestamp"),
                response_source: string(r, "response_source"),
            })
        }
        _ => None,
    };
    read.unwrap_or_else(|| InteractiveReply::Unknown {
        interactive_type: ty,
        raw: o.clone(),
    })
}

fn shared_contact(c: &Value) -> SharedContact {
    let name = object(c, "name");
    SharedContact {
        formatted_name: name.and_then(|n| string(n, "formatted_name")),
        first_name: name.and_then(|n| string(n, "first_name")),
        last_name: name.and_then(|n| string(n, "last_name")),
        phones: items(c, "phones")
            .iter()
            .filter(|p| p.is_object())
            .map(|p| SharedPhone {
                phone: string(p, "phone"),
                wa_id: string(p, "wa_id"),
                label: string(p, "type"),
            })
            .collect(),
        emails: items(c, "emails")
            .iter()
            .filter_map(|e| string(e, "email"))
            .collect(),
        organization: object(c, "org").and_then(|o| string(o, "company")),
        vcard: string(c, "vcard"),
        raw: c.clone(),
    }
}

fn context(c: &Value) -> Option<Context> {
    let ctx = Context {
        replied_to_id: string(c, "id"),
        replied_to_from: string(c, "from"),
        forwarded: boolean(c, "forwarded").unwrap_or(false),
        frequently_forwarded: boolean(c, "frequently_forwarded").unwrap_or(false),
        referred_product: object(c, "referred_product").map(|p| ReferredProduct {
            catalog_id: string(p, "catalog_id"),
            product_retailer_id: string(p, "product_retailer_id"),
        }),
    };
    (ctx != Context::default()).then_some(ctx)
}

fn referral(r: &Value) -> Referral {
    Referral {
        source_url: string(r, "source_url"),
        source_id: string(r, "source_id"),
        source_type: string(r, "source_type"),
        headline: string(r, "headline"),
        body: string(r, "body"),
        media_type: string(r, "media_type"),
        image_url: string(r, "image_url"),
        video_url: string(r, "video_url"),
        thumbnail_url: string(r, "thumbnail_url"),
        ctwa_clid: string(r, "ctwa_clid"),
        welcome_message: object(r, "welcome_message").and_then(|w| string(w, "text")),
    }
}

/// The sender: the message's own `from` / `from_user_id` first, then the matching
/// `contacts[]` entry for the rest (BSUID, username, profile name).
fn sender(m: &Value, contacts: &[Value]) -> Sender {
    let from = nonempty(m, "from");
    let from_user_id = nonempty(m, "from_user_id");
    let contact = match_contact(contacts, from.as_deref(), from_user_id.as_deref());
    let profile = contact.and_then(|c| object(c, "profile"));
    Sender {
        wa_id: from.or_else(|| contact.and_then(|c| nonempty(c, "wa_id"))),
        user_id: from_user_id.or_else(|| contact.and_then(|c| nonempty(c, "user_id"))),
        parent_user_id: nonempty(m, "from_parent_user_id")
            .or_else(|| contact.and_then(|c| nonempty(c, "parent_user_id"))),
        username: profile.and_then(|p| nonempty(p, "username")),
        profile_name: profile.and_then(|p| nonempty(p, "name")),
        ..Sender::default()
    }
}

/// The `contacts[]` entry for a user: by BSUID, then by `wa_id`, then the only entry if there is
/// exactly one and it does not contradict what the message says (Meta sends one contact per
/// user; BSUID-only messages carry no `from`). A contact whose `wa_id` or `user_id` differs from
/// the message's is never attached: a BSUID must not be glued to someone else's number.
fn match_contact<'a>(
    contacts: &'a [Value],
    wa_id: Option<&str>,
    user_id: Option<&str>,
) -> Option<&'a Value> {
    let objects = || contacts.iter().filter(|c| c.is_object());
    let by = |key: &str, wanted: Option<&str>| {
        let wanted = wanted?;
        objects().find(|c| string(c, key).as_deref() == Some(wanted))
    };
    let agrees = |c: &Value, key: &str, ours: Option<&str>| match (nonempty(c, key), ours) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => true,
    };
    by("user_id", user_id)
        .or_else(|| by("wa_id", wa_id))
        .or_else(|| {
            let mut it = objects();
            let only = it.next()?;
            let alone = it.next().is_none();
            (alone && agrees(only, "wa_id", wa_id) && agrees(only, "user_id", user_id))
                .then_some(only)
        })
}

/// One `value.statuses[]` item; the error is the problem, the caller adds the path.
pub(super) fn status(s: &Value, contacts: &[Value]) -> Result<StatusUpdate, String> {
    if !s.is_object() {
        return Err("a status must be an object".to_owned());
    }
    let id = nonempty(s, "id").ok_or("missing `id`")?;
    let provider_status = string(s, "status").unwrap_or_default();
    let recipient_type = string(s, "recipient_type");
    let is_group = recipient_type.as_deref() == Some("group");
    let recipient_id = nonempty(s, "recipient_id");

    let mut update = StatusUpdate {
        provider_message_id: id,
        status: Status::parse(&provider_status).ok(),
        provider_status,
        timestamp: int(s, "timestamp"),
        recipient_wa_id: None,
        recipient_user_id: nonempty(s, "recipient_user_id"),
        recipient_parent_user_id: nonempty(s, "recipient_parent_user_id"),
        recipient_type,
        group_id: None,
        participant_wa_id: None,
        participant_user_id: None,
        errors: json::provider_errors(s, "errors"),
        pricing: object(s, "pricing").map(|p| Pricing {
            billable: boolean(p, "billable"),
            pricing_model: string(p, "pricing_model"),
            category: string(p, "category"),
            pricing_type: string(p, "type"),
        }),
        conversation: object(s, "conversation").map(|c| ConversationInfo {
            id: string(c, "id"),
            expiration_timestamp: int(c, "expiration_timestamp"),
            origin_type: object(c, "origin").and_then(|o| string(o, "type")),
        }),
        biz_opaque_callback_data: string(s, "biz_opaque_callback_data"),
    };
    if is_group {
        update.group_id = recipient_id;
        update.participant_wa_id = nonempty(s, "recipient_participant_id");
        update.participant_user_id = nonempty(s, "recipient_participant_user_id");
    } else {
        update.recipient_wa_id = recipient_id;
        let contact = match_contact(
            contacts,
            update.recipient_wa_id.as_deref(),
            update.recipient_user_id.as_deref(),
        );
        if let Some(c) = contact {
            update.recipient_wa_id = update.recipient_wa_id.or_else(|| nonempty(c, "wa_id"));
            update.recipient_user_id = update.recipient_user_id.or_else(|| nonempty(c, "user_id"));
            update.recipient_parent_user_id = update
                .recipient_parent_user_id
                .or_else(|| nonempty(c, "parent_user_id"));
        }
    }
    Ok(update)
}
