//! Meta WhatsApp Cloud API webhooks (360dialog forwards the same payload unchanged).
//!
//! [`parse_webhook`] turns one delivery into a flat list of [`MetaEvent`]s: every
//! `entry` × `change` × `messages` / `statuses` / `errors`, plus one event per other field
//! (template, account, phone-number and preference updates). Each event carries its routing keys.
//!
//! What fails and what does not:
//! - malformed JSON, a body that is not a `whatsapp_business_account` object, or an envelope of
//!   the wrong shape (no `entry` array, a change without `field`, a message or status without
//!   `id`) is a [`ParseError`] naming the exact place, for the dead-letter list;
//! - anything inside a well-formed envelope that we do not know — a message type, an interactive
//!   type, a field, a status value, a field of an unexpected type — becomes an `Unknown` or raw
//!   value and never fails the parse.

mod fields;
mod parse;

use chasqui_core::message::{InboundMessage, ProviderError};
use chasqui_core::status::StatusUpdate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json;

pub use fields::{
    AccountReview, AccountUpdate, KnownField, PhoneNumberName, PhoneNumberQuality,
    TemplateCategory, TemplateQuality, TemplateStatus, UserPreference,
};

/// The `object` value of every WhatsApp Business Account webhook.
pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

/// Why a Meta webhook body could not be read; the caller parks the receipt as a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// The body is JSON but not an object.
    #[error("body is JSON but not an object (found {found})")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// `object` is missing or not `whatsapp_business_account` (e.g. an Instagram or Page webhook).
    #[error("`object` is {found}, expected \"whatsapp_business_account\"")]
    WrongObject {
        /// What was there, JSON-encoded, or `missing`.
        found: String,
    },
    /// The envelope does not have the shape Meta documents.
    #[error("{path}: {problem}")]
    Shape {
        /// Where, e.g. `entry[0].changes[1].value.messages[2]`.
        path: String,
        /// What is wrong there.
        problem: String,
    },
}

/// One parsed delivery: its events in payload order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaWebhook {
    /// Every event of every entry and change.
    pub events: Vec<MetaEvent>,
}

impl MetaWebhook {
    /// The inbound messages, with their routing.
    pub fn messages(&self) -> impl Iterator<Item = (&Routing, &InboundMessage)> {
        self.events.iter().filter_map(|e| match &e.payload {
            MetaPayload::Message { message, .. } => Some((&e.routing, message.as_ref())),
            _ => None,
        })
    }

    /// The status updates, with their routing.
    pub fn statuses(&self) -> impl Iterator<Item = (&Routing, &StatusUpdate)> {
        self.events.iter().filter_map(|e| match &e.payload {
            MetaPayload::Status { status, .. } => Some((&e.routing, status.as_ref())),
            _ => None,
        })
    }
}

/// Where an event belongs: the keys a multi-tenant gateway routes on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    /// `entry[].id`: the WABA id (`"0"` for the App Dashboard's test button).
    pub waba_id: Option<String>,
    /// `entry[].time` (Unix seconds), sent on WABA-level fields.
    pub entry_time: Option<i64>,
    /// The change's `field` (`messages`, `account_update`, …).
    pub field: String,
    /// `metadata.phone_number_id`: the business number (absent on WABA-level fields).
    pub phone_number_id: Option<String>,
    /// `metadata.display_phone_number` (digits, no `+`).
    pub display_phone_number: Option<String>,
}

/// One thing that happened, with where it belongs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaEvent {
    /// Routing keys from the entry and the change.
    pub routing: Routing,
    /// What happened.
    pub payload: MetaPayload,
}

/// What a [`MetaEvent`] carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MetaPayload {
    /// A customer's message (`value.messages[]`).
    Message {
        /// The message in Chasqui's model.
        message: Box<InboundMessage>,
        /// The message object as received, for storage.
        raw: Value,
    },
    /// A delivery status of one of our messages (`value.statuses[]`).
    Status {
        /// The update in Chasqui's model.
        status: Box<StatusUpdate>,
        /// The status object as received, for storage.
        raw: Value,
    },
    /// An out-of-band error not tied to one message (`value.errors[]`).
    Error {
        /// The error.
        error: ProviderError,
        /// The error object as received.
        raw: Value,
    },
    /// Any other field (template, account, phone-number, preference updates, calls, groups, …).
    Field {
        /// The typed reading, for the fields Chasqui acts on; `Other` otherwise.
        known: KnownField,
        /// The change's `value` as received.
        value: Value,
    },
}

/// Parses a webhook body exactly as received.
pub fn parse_webhook(raw: &[u8]) -> Result<MetaWebhook, ParseError> {
    let root: Value = serde_json::from_slice(raw).map_err(|e| ParseError::Json(e.to_string()))?;
    parse_value(&root)
}

/// Parses an already-decoded webhook body.
pub fn parse_value(root: &Value) -> Result<MetaWebhook, ParseError> {
    let Value::Object(top) = root else {
        return Err(ParseError::NotAnObject {
            found: json_type(root),
        });
    };
    match top.get("object") {
        Some(Value::String(s)) if s == WHATSAPP_OBJECT => {}
        Some(other) => {
            return Err(ParseError::WrongObject {
                found: truncate(&other.to_string(), 80),
            });
        }
        None => {
            return Err(ParseError::WrongObject {
                found: "missing".to_owned(),
            });
        }
    }
    let entries = match top.get("entry") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(shape(
                "entry",
                format!("expected an array, found {}", json_type(other)),
            ));
        }
        None => return Err(shape("entry", "missing")),
    };

    let mut events = Vec::new();
    for (ei, entry) in entries.iter().enumerate() {
        let epath = format!("entry[{ei}]");
        if !entry.is_object() {
            return Err(shape(
                &epath,
                format!("expected an object, found {}", json_type(entry)),
            ));
        }
        let changes = match entry.get("changes") {
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(shape(
                    &format!("{epath}.changes"),
                    format!("expected an array, found {}", json_type(other)),
                ));
            }
            None => return Err(shape(&format!("{epath}.changes"), "missing")),
        };
        let waba_id = json::string(entry, "id");
        let entry_time = json::int(entry, "time");
        for (ci, change) in changes.iter().enumerate() {
            let cpath = format!("{epath}.changes[{ci}]");
            parse_change(change, &cpath, waba_id.clone(), entry_time, &mut events)?;
        }
    }
    Ok(MetaWebhook { events })
}

fn parse_change(
    change: &Value,
    path: &str,
    waba_id: Option<String>,
    entry_time: Option<i64>,
    events: &mut Vec<MetaEvent>,
) -> Result<(), ParseError> {
    if !change.is_object() {
        return Err(shape(
            path,
            format!("expected an object, found {}", json_type(change)),
        ));
    }
    let field = match change.get("field") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(shape(
                &format!("{path}.field"),
                format!("expected a string, found {}", json_type(other)),
            ));
        }
        None => return Err(shape(&format!("{path}.field"), "missing")),
    };
    let value = change.get("value").unwrap_or(&Value::Null);
    let metadata = json::object(value, "metadata");
    let routing = Routing {
        waba_id,
        entry_time,
        field: field.clone(),
        phone_number_id: metadata.and_then(|m| json::string(m, "phone_number_id")),
        display_phone_number: metadata.and_then(|m| json::string(m, "display_phone_number")),
    };

    if field != "messages" {
        events.push(MetaEvent {
            routing,
            payload: MetaPayload::Field {
                known: fields::known_field(&field, value),
                value: value.clone(),
            },
        });
        return Ok(());
    }

    let vpath = format!("{path}.value");
    if !value.is_object() {
        return Err(shape(
            &vpath,
            format!("expected an object, found {}", json_type(value)),
        ));
    }
    let contacts = json::items(value, "contacts");
    let before = events.len();

    for (i, m) in array(value, "messages", &vpath)?.iter().enumerate() {
        let message = parse::message(m, contacts)
            .map_err(|problem| shape(&format!("{vpath}.messages[{i}]"), problem))?;
        events.push(MetaEvent {
            routing: routing.clone(),
            payload: MetaPayload::Message {
                message: Box::new(message),
                raw: m.clone(),
            },
        });
    }
    for (i, s) in array(value, "statuses", &vpath)?.iter().enumerate() {
        let status = parse::status(s, contacts)
            .map_err(|problem| shape(&format!("{vpath}.statuses[{i}]"), problem))?;
        events.push(MetaEvent {
            routing: routing.clone(),
            payload: MetaPayload::Status {
                status: Box::new(status),
                raw: s.clone(),
            },
        });
    }
    for e in array(value, "errors", &vpath)? {
        events.push(MetaEvent {
            routing: routing.clone(),
            payload: MetaPayload::Error {
                error: json::provider_error(e),
                raw: e.clone(),
            },
        });
    }
    if events.len() == before {
        // Nothing we recognise in a `messages` change: keep it visible rather than drop it.
        events.push(MetaEvent {
            routing,
            payload: MetaPayload::Field {
                known: KnownField::Other,
                value: value.clone(),
            },
        });
    }
    Ok(())
}

/// An optional array member of `value`: absent or `null` is empty, anything else is an error.
fn array<'a>(value: &'a Value, key: &str, vpath: &str) -> Result<&'a [Value], ParseError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(shape(
            &format!("{vpath}.{key}"),
            format!("expected an array, found {}", json_type(other)),
        )),
    }
}

fn shape(path: &str, problem: impl Into<String>) -> ParseError {
    ParseError::Shape {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests;
