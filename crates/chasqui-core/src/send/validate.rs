//! Everything checked before a message is queued, and the Cloud API body that comes out.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::content::{self, MessageRef, labelled, one_line};
use super::context::ValidationContext;
use super::error::{Result, SendErrorKind, SendValidationError, not_allowed};
use super::interactive::interactive;
use super::json::{Obj, strip_nulls};
use super::media::{MediaKind, check_uploaded, parse_source};
use super::request::{RecipientInput, SendKind, SendRequest, parse_phone};
use crate::ids::{ChannelId, ContactId, MediaId, MessageId};
use crate::phone::{PhoneE164, WaId, send_to};
use crate::template::{
    ComponentTarget, ParamValue, RenderedTemplate, TemplateCategory, TemplateMessage, prepare,
};
use crate::window;

/// Longest preview text kept for inbox lists.
pub const PREVIEW_CHARS: usize = 160;
/// Longest caption.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// Who the message goes to, in the form WhatsApp expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValidatedRecipient {
    /// A phone-based WhatsApp id, sent as `to` (Argentina's `549…`, or the last id Meta gave).
    Phone {
        /// What goes in `to`.
        wa_id: WaId,
        /// The number, when known (always for `to` sends).
        phone: Option<PhoneE164>,
    },
    /// A business-scoped user id, sent as `recipient`.
    Bsuid {
        /// The BSUID.
        bsuid: String,
    },
}

/// One of our ids inside [`ValidatedSend::body`] that the sender must swap for the provider's
/// before sending: an uploaded media (`med_…` → the provider's media id) or a message
/// (`msg_…` → its `wamid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalRef {
    /// Where in the body, as a JSON pointer (`/image/id`, `/context/message_id`).
    pub pointer: String,
    /// What it names.
    pub target: LocalTarget,
}

/// What a [`LocalRef`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum LocalTarget {
    /// Our uploaded media (`med_…`).
    Media(MediaId),
    /// Our message (`msg_…`).
    Message(MessageId),
}

/// The template a send uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateUse {
    /// Its name.
    pub name: String,
    /// The language sent (the template's exact code).
    pub language: String,
    /// The language asked for (differs only with language fallback).
    pub requested_language: String,
    /// Its category (decides the price).
    pub category: TemplateCategory,
    /// Meta's template id, when known.
    pub template_id: Option<String>,
    /// The message as the customer will see it.
    pub rendered: RenderedTemplate,
}

/// A send that passed every check: the normalised Cloud API body and what to store about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidatedSend {
    /// The message type.
    pub kind: SendKind,
    /// For interactive messages, their type (`button`, `list`…).
    pub interactive_type: Option<&'static str>,
    /// The body for `POST /{phone-number-id}/messages` (`messaging_product`, `recipient_type`,
    /// `to` or `recipient`, `type`, the type's object, `context`, `biz_opaque_callback_data`).
    /// Our own ids in it are listed in [`local_refs`](Self::local_refs).
    pub body: Value,
    /// Who it goes to.
    pub recipient: ValidatedRecipient,
    /// `channel_id` from the request.
    pub channel_id: Option<ChannelId>,
    /// `contact_id` from the request.
    pub contact_id: Option<ContactId>,
    /// One line for inbox lists (≤ 160 characters): `Hola Ana`, `[image] la factura`.
    pub preview_text: String,
    /// Every human-readable text of the message, for full-text search.
    pub search_text: String,
    /// The template, for template sends.
    pub template: Option<TemplateUse>,
    /// Our ids in the body the sender must replace.
    pub local_refs: Vec<LocalRef>,
    /// Things worth telling the caller that do not stop the send (a number that is not a mobile).
    pub warnings: Vec<String>,
}

/// Checks a send completely before anything is queued: recipient, the 24-hour window, the
/// type's content and limits, uploaded media, and templates against the known ones.
pub fn validate(req: &SendRequest, ctx: &ValidationContext<'_>) -> Result<ValidatedSend> {
    let mut warnings = Vec::new();
    let (recipient, contact_id) = recipient(req, ctx, &mut warnings)?;
    if req.kind.is_free_form() && !window::is_open(ctx.last_inbound_at, ctx.now) {
        return Err(window_closed(req.kind, ctx.last_inbound_at));
    }
    let key = req.kind.as_str();
    let mut local_refs = Vec::new();
    let mut template = None;
    let mut interactive_type = None;
    let (content, preview, texts): (Value, String, Vec<String>) = match req.kind {
        SendKind::Text => {
            let (c, body) = content::text(&Obj::of(&req.content, key)?)?;
            (c, body.clone(), vec![body])
        }
        SendKind::Image
        | SendKind::Audio
        | SendKind::Video
        | SendKind::Document
        | SendKind::Sticker => media_message(req.kind, &req.content, ctx, &mut local_refs)?,
        SendKind::Location => {
            let (c, texts) = content::location(&Obj::of(&req.content, key)?)?;
            (
                c,
                labelled("[location]", texts.first().map(String::as_str)),
                texts,
            )
        }
        SendKind::Contacts => {
            let (c, names) = content::contacts(&req.content, key)?;
            (c, labelled("[contacts]", Some(&names.join(", "))), names)
        }
        SendKind::Interactive => {
            let i = interactive(&Obj::of(&req.content, key)?)?;
            interactive_type = Some(i.kind);
            let preview = i.body.clone().unwrap_or_else(|| format!("[{}]", i.kind));
            (i.content, preview, i.texts)
        }
        SendKind::Reaction => {
            let (c, target, preview) = content::reaction(&Obj::of(&req.content, key)?)?;
            if let MessageRef::Ours(id) = target {
                local_refs.push(LocalRef {
                    pointer: "/reaction/message_id".into(),
                    target: LocalTarget::Message(id),
                });
            }
            (c, preview, Vec::new())
        }
        SendKind::Template => {
            let message = TemplateMessage::from_json(&req.content, key)?;
            let prepared = prepare(ctx.templates, &message, ctx.language_fallback, ctx.media)?;
            let t = prepared.template;
            if t.category == TemplateCategory::Authentication
                && matches!(recipient, ValidatedRecipient::Bsuid { .. })
            {
                return Err(SendValidationError::new(
                    SendErrorKind::BsuidNotSupported,
                    if contact_id.is_some() {
                        "contact_id"
                    } else {
                        "recipient"
                    },
                    "WhatsApp does not deliver authentication templates to a business-scoped user id \
                     (Meta 131062): send the code to the customer's phone number with `to`.",
                ));
            }
            let c = template_content(&message, &t.language, &mut local_refs);
            let preview = prepared.rendered.body.clone();
            let texts = vec![prepared.rendered.text()];
            template = Some(TemplateUse {
                name: t.name.clone(),
                language: t.language.clone(),
                requested_language: prepared.requested_language,
                category: t.category.clone(),
                template_id: t.id.clone(),
                rendered: prepared.rendered,
            });
            (c, preview, texts)
        }
    };
    let mut body = Map::new();
    body.insert("messaging_product".into(), json!("whatsapp"));
    body.insert("recipient_type".into(), json!("individual"));
    match &recipient {
        ValidatedRecipient::Phone { wa_id, .. } => body.insert("to".into(), json!(wa_id.as_str())),
        ValidatedRecipient::Bsuid { bsuid } => body.insert("recipient".into(), json!(bsuid)),
    };
    body.insert("type".into(), json!(key));
    body.insert(key.into(), content);
    if let Some(reply) = &req.reply_to {
        let id = match reply {
            MessageRef::Provider(id) => id.clone(),
            MessageRef::Ours(id) => {
                local_refs.push(LocalRef {
                    pointer: "/context/message_id".into(),
                    target: LocalTarget::Message(*id),
                });
                id.to_string()
            }
        };
        body.insert("context".into(), json!({ "message_id": id }));
    }
    if let Some(data) = &req.biz_opaque_callback_data {
        body.insert("biz_opaque_callback_data".into(), json!(data));
    }
    let search_text = texts
        .iter()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(ValidatedSend {
        kind: req.kind,
        interactive_type,
        body: Value::Object(body),
        recipient,
        channel_id: req.channel_id,
        contact_id,
        preview_text: one_line(&preview, PREVIEW_CHARS),
        search_text,
        template,
        local_refs,
        warnings,
    })
}

fn recipient(
    req: &SendRequest,
    ctx: &ValidationContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<(ValidatedRecipient, Option<ContactId>)> {
    match &req.recipient {
        RecipientInput::Phone(to) => {
            let phone = parse_phone(to, ctx.default_region)?;
            if let Err(e) = phone.require_mobile() {
                let meant = e
                    .suggestion()
                    .map(|s| format!(" Did you mean {s}?"))
                    .unwrap_or_default();
                warnings.push(format!(
                    "{} is {}: the message is delivered only if that line runs WhatsApp Business.{meant}",
                    phone.format_international(),
                    phone.number_type().describe()
                ));
            }
            let wa_id = send_to(&phone, ctx.last_seen_wa_id.as_ref());
            Ok((
                ValidatedRecipient::Phone {
                    wa_id,
                    phone: Some(phone),
                },
                None,
            ))
        }
        RecipientInput::Contact(id) => {
            let Some(contact) = &ctx.contact else {
                return Err(SendValidationError::new(
                    SendErrorKind::ContactNotFound,
                    "contact_id",
                    format!(
                        "No contact `{id}` exists for this tenant: use an id from GET /v1/contacts, \
                         or send to a number with `to`."
                    ),
                ));
            };
            let recipient = if let Some(phone) = &contact.phone {
                ValidatedRecipient::Phone {
                    wa_id: send_to(phone, contact.wa_id.as_ref()),
                    phone: Some(phone.clone()),
                }
            } else if let Some(wa_id) = &contact.wa_id {
                ValidatedRecipient::Phone {
                    wa_id: wa_id.clone(),
                    phone: None,
                }
            } else if let Some(bsuid) = &contact.bsuid {
                ValidatedRecipient::Bsuid {
                    bsuid: bsuid.clone(),
                }
            } else {
                return Err(SendValidationError::new(
                    SendErrorKind::ContactUnreachable,
                    "contact_id",
                    format!(
                        "Contact `{id}` has no phone number, WhatsApp id or BSUID to send to: add \
                         a phone number to the contact, or send with `to`."
                    ),
                ));
            };
            Ok((recipient, Some(*id)))
        }
        RecipientInput::Bsuid(bsuid) => Ok((
            ValidatedRecipient::Bsuid {
                bsuid: bsuid.clone(),
            },
            None,
        )),
    }
}

fn window_closed(kind: SendKind, last_inbound_at: Option<DateTime<Utc>>) -> SendValidationError {
    let closed_at = last_inbound_at.map(window::window_expires_at);
    let when = match (last_inbound_at, closed_at) {
        (Some(last), Some(closed)) => format!(
            "The customer last wrote at {} and the 24-hour customer-service window closed at {}",
            last.to_rfc3339_opts(SecondsFormat::Secs, true),
            closed.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        _ => "The customer has never written to this number, so there is no 24-hour \
              customer-service window"
            .to_owned(),
    };
    SendValidationError::new(
        SendErrorKind::WindowClosed {
            last_inbound_at,
            closed_at,
        },
        "type",
        format!(
            "{when}: WhatsApp only delivers a `{}` message inside it (Meta 131047). Send an approved \
             template instead (`\"type\": \"template\"`, list them with GET /v1/templates); the \
             window opens again when the customer replies.",
            kind.as_str()
        ),
    )
}

fn media_message(
    kind: SendKind,
    value: &Value,
    ctx: &ValidationContext<'_>,
    local_refs: &mut Vec<LocalRef>,
) -> Result<(Value, String, Vec<String>)> {
    let key = kind.as_str();
    let media_kind = kind.media_kind().unwrap_or(MediaKind::Document);
    let obj = Obj::of(value, key)?;
    let allowed: &[&str] = match media_kind {
        MediaKind::Image | MediaKind::Video => &["link", "id", "caption"],
        MediaKind::Document => &["link", "id", "caption", "filename"],
        MediaKind::Audio | MediaKind::Sticker => &["link", "id"],
    };
    if obj.has("caption") && !allowed.contains(&"caption") {
        return Err(not_allowed(
            &obj.field("caption"),
            &format!("{key} messages have no caption; send the text in a separate message"),
        ));
    }
    obj.allow(allowed)?;
    let source = parse_source(&obj, key)?;
    let caption = obj
        .text("caption", MAX_CAPTION_CHARS, "")?
        .map(str::to_owned);
    let filename = obj.text("filename", 255, "")?.map(str::to_owned);
    let info = check_uploaded(&source, media_kind, false, ctx.media, &obj.field("id"))?;
    let mut content = strip_nulls(value);
    let mut filename = filename;
    if media_kind == MediaKind::Document
        && filename.is_none()
        && let Some(name) = info.and_then(|i| i.filename)
        && !name.trim().is_empty()
    {
        content["filename"] = json!(name);
        filename = Some(name);
    }
    if let Some(id) = source.our_id() {
        local_refs.push(LocalRef {
            pointer: format!("/{key}/id"),
            target: LocalTarget::Media(id),
        });
    }
    let label = format!("[{key}]");
    let preview = match media_kind {
        MediaKind::Document => labelled(&label, caption.as_deref().or(filename.as_deref())),
        _ => labelled(&label, caption.as_deref()),
    };
    let texts = [caption, filename].into_iter().flatten().collect();
    Ok((content, preview, texts))
}

/// The `template` object to send: the template's exact language code, and the components that
/// carry values (empty ones dropped), with our media ids recorded for the sender.
fn template_content(
    message: &TemplateMessage,
    language: &str,
    local_refs: &mut Vec<LocalRef>,
) -> Value {
    let mut language_obj = json!({ "code": language });
    if let Some(policy) = &message.policy {
        language_obj["policy"] = json!(policy);
    }
    let mut out = json!({ "name": message.name, "language": language_obj });
    let mut components = Vec::new();
    for c in &message.params.components {
        let keep = matches!(c.target, ComponentTarget::Other(_)) || !c.parameters.is_empty();
        if !keep {
            continue;
        }
        let index = components.len();
        for (j, p) in c.parameters.iter().enumerate() {
            let (key, source) = match &p.value {
                ParamValue::Image(s) => ("image", s),
                ParamValue::Video(s) => ("video", s),
                ParamValue::Document(s, _) => ("document", s),
                _ => continue,
            };
            if let Some(id) = source.our_id() {
                local_refs.push(LocalRef {
                    pointer: format!("/template/components/{index}/parameters/{j}/{key}/id"),
                    target: LocalTarget::Media(id),
                });
            }
        }
        components.push(c.raw.clone());
    }
    if !components.is_empty() {
        out["components"] = Value::Array(components);
    }
    out
}
