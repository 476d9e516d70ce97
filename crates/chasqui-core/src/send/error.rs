//! Why a send (or a template preview) was refused: a stable code, the JSON path at fault and a
//! sentence that says what to fix, ready for a 422 `{"error":{"code","message","field"}}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::phone::PhoneError;
use crate::template::TemplateStatus;

/// What kind of problem a request has; [`code`](Self::code) is its stable snake_case name.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// Fields the object does not accept (all of them, at one level).
    UnknownField {
        /// The unknown fields, as paths.
        fields: Vec<String>,
        /// What the object accepts.
        allowed: Vec<String>,
    },
    /// A required field is absent (or `null`).
    MissingField,
    /// A field holds the wrong JSON type.
    WrongType {
        /// What it should be (`a string`, `an object`…).
        expected: &'static str,
    },
    /// A text that must say something is empty or blank.
    EmptyValue,
    /// A text longer than WhatsApp allows, in characters (Unicode scalar values).
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// An array with too few items.
    TooFew {
        /// The minimum.
        min: usize,
        /// What was given.
        actual: usize,
    },
    /// An array (or a total across arrays) with too many items.
    TooMany {
        /// The maximum.
        max: usize,
        /// What was given.
        actual: usize,
    },
    /// A number outside its range (latitude, longitude…).
    OutOfRange,
    /// A value that must be unique is repeated (button ids and titles, row ids, components…).
    DuplicateValue,
    /// A value outside a fixed set.
    InvalidValue {
        /// The accepted values.
        allowed: Vec<String>,
    },
    /// A value in the wrong format (a date, a currency code, an e-mail address, an index…).
    InvalidFormat,
    /// Fields that exclude each other are both present (`link` and `id`, `to` and `contact_id`…).
    ConflictingFields {
        /// The paths of the conflicting fields.
        fields: Vec<String>,
    },
    /// A field that exists elsewhere but is not allowed here (a caption on audio…).
    FieldNotAllowed,
    /// A URL that is not an absolute `https://` (or, where allowed, `http://`) URL.
    InvalidUrl,
    /// None of `to`, `contact_id`, `recipient`.
    RecipientRequired,
    /// `to` is not a phone number WhatsApp can reach; the code is the phone module's.
    Phone(PhoneError),
    /// `contact_id` is not a contact id (`con_…`).
    InvalidContactId,
    /// `contact_id` names no contact of this tenant.
    ContactNotFound,
    /// The contact has neither a phone number, a WhatsApp id nor a BSUID.
    ContactUnreachable,
    /// `recipient` is not a business-scoped user id (`US.1349…`).
    InvalidRecipient,
    /// Meta refuses this message for a BSUID recipient (authentication templates, 131062).
    BsuidNotSupported,
    /// `channel_id` is not a channel id (`chn_…`).
    InvalidChannelId,
    /// `type` is not a message type we send.
    UnsupportedType {
        /// The supported types.
        allowed: Vec<String>,
    },
    /// The object for another type than `type` is present.
    TypeMismatch,
    /// A message id that is neither a WhatsApp id (`wamid.…`) nor ours (`msg_…`).
    InvalidMessageId,
    /// A reaction that is not exactly one emoji (or empty, to remove a reaction).
    InvalidEmoji,
    /// A media `id` that is neither ours (`med_…`) nor a provider media id.
    InvalidMediaId,
    /// Our media id (`med_…`) names no uploaded media.
    MediaNotFound,
    /// The uploaded media's MIME type is not accepted for this message type.
    UnsupportedMediaType {
        /// The media's MIME type.
        mime_type: String,
        /// The accepted MIME types.
        allowed: Vec<String>,
    },
    /// The uploaded media is larger than WhatsApp accepts for this message type.
    MediaTooLarge {
        /// The media's size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// This place takes media by `link` only (interactive headers).
    MediaLinkRequired,
    /// A free-form message outside the 24-hour customer-service window.
    WindowClosed {
        /// The customer's last message, if they ever wrote.
        last_inbound_at: Option<DateTime<Utc>>,
        /// When the window closed, if it was ever open.
        closed_at: Option<DateTime<Utc>>,
    },
    /// No template with that name is known.
    TemplateNotFound {
        /// Known template names that look alike (other case, a typo…).
        similar: Vec<String>,
    },
    /// The template exists, but not in the requested language.
    TemplateLanguageUnavailable {
        /// The language asked for (normalised, `es_AR`).
        requested: String,
        /// The languages the template exists in.
        available: Vec<String>,
    },
    /// The template is not approved (pending, rejected, paused, disabled…).
    TemplateNotApproved {
        /// Its status.
        status: TemplateStatus,
    },
    /// A component the template does not have (a header on a template without one, button 5…).
    TemplateComponentUnknown,
    /// A component the template needs is missing (its header image, its body parameters…).
    TemplateComponentMissing,
    /// The wrong number of parameters for a component (Meta 132000).
    TemplateParameterCount {
        /// What the template needs.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// A parameter of the wrong kind (an image where the header is a video, Meta 132012).
    TemplateParameterType {
        /// The accepted parameter types.
        expected: Vec<String>,
        /// The type given.
        actual: String,
    },
    /// A named parameter that the template does not have, lacks, or repeats.
    TemplateParameterName,
    /// A parameter value WhatsApp refuses (empty, new lines in the body, too long…).
    TemplateParameterInvalid,
    /// A button component that does not match the template's button at that index.
    TemplateButtonMismatch,
    /// The text with its parameters filled in is longer than WhatsApp allows (Meta 132005).
    TemplateTextTooLong {
        /// The limit.
        max: usize,
        /// The filled-in length.
        actual: usize,
    },
}

impl SendErrorKind {
    /// The stable snake_case code for API clients; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownField { .. } => "unknown_field",
            Self::MissingField => "missing_field",
            Self::WrongType { .. } => "wrong_type",
            Self::EmptyValue => "empty_value",
            Self::TooLong { .. } => "too_long",
            Self::TooFew { .. } => "too_few",
            Self::TooMany { .. } => "too_many",
            Self::OutOfRange => "out_of_range",
            Self::DuplicateValue => "duplicate_value",
            Self::InvalidValue { .. } => "invalid_value",
            Self::InvalidFormat => "invalid_format",
            Self::ConflictingFields { .. } => "conflicting_fields",
            Self::FieldNotAllowed => "field_not_allowed",
            Self::InvalidUrl => "invalid_url",
            Self::RecipientRequired => "recipient_required",
            Self::Phone(e) => e.code(),
            Self::InvalidContactId => "invalid_contact_id",
            Self::ContactNotFound => "contact_not_found",
            Self::ContactUnreachable => "contact_unreachable",
            Self::InvalidRecipient => "invalid_recipient",
            Self::BsuidNotSupported => "bsuid_not_supported",
            Self::InvalidChannelId => "invalid_channel_id",
            Self::UnsupportedType { .. } => "unsupported_type",
            Self::TypeMismatch => "type_mismatch",
            Self::InvalidMessageId => "invalid_message_id",
            Self::InvalidEmoji => "invalid_emoji",
            Self::InvalidMediaId => "invalid_media_id",
            Self::MediaNotFound => "media_not_found",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::MediaTooLarge { .. } => "media_too_large",
            Self::MediaLinkRequired => "media_link_required",
            Self::WindowClosed { .. } => "window_closed",
            Self::TemplateNotFound { .. } => "template_not_found",
            Self::TemplateLanguageUnavailable { .. } => "template_language_unavailable",
            Self::TemplateNotApproved { .. } => "template_not_approved",
            Self::TemplateComponentUnknown => "template_component_unknown",
            Self::TemplateComponentMissing => "template_component_missing",
            Self::TemplateParameterCount { .. } => "template_parameter_count",
            Self::TemplateParameterType { .. } => "template_parameter_type",
            Self::TemplateParameterName => "template_parameter_name",
            Self::TemplateParameterInvalid => "template_parameter_invalid",
            Self::TemplateButtonMismatch => "template_button_mismatch",
            Self::TemplateTextTooLong { .. } => "template_text_too_long",
        }
    }
}

/// A refused send: a [`kind`](Self::kind) with a stable [`code`](Self::code), the JSON path at
/// fault ([`field`](Self::field), `interactive.action.buttons[2].reply.title`) and a message that
/// says what to fix. Answered as 422 `{"error":{"code","message","field"}}`, with
/// [`details`](Self::details) beside it when there is more a program can use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SendValidationError {
    kind: SendErrorKind,
    field: String,
    message: String,
}

impl SendValidationError {
    /// An error of `kind` on `field` with a sentence saying what to fix.
    pub fn new(kind: SendErrorKind, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable snake_case code (`too_long`, `window_closed`, `template_parameter_count`…).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The JSON path of the field at fault (`text.body`, `template.components[1].parameters[0].text`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What went wrong and how to fix it, as a sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind, with its data (limits, allowed values, the window's closing time…).
    pub fn kind(&self) -> &SendErrorKind {
        &self.kind
    }

    /// Appends a sentence to the message.
    pub(crate) fn with_hint(mut self, hint: &str) -> Self {
        if hint.is_empty() {
            return self;
        }
        self.message.push(' ');
        self.message.push_str(hint);
        self
    }

    /// Machine-readable extras for the API answer (next to `error`), when the kind has any:
    /// `suggestion` for phone numbers, `closed_at` for the window, `available_languages`…
    pub fn details(&self) -> Option<Value> {
        let time = |t: &Option<DateTime<Utc>>| {
            t.map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
                .unwrap_or(Value::Null)
        };
        Some(match &self.kind {
            SendErrorKind::UnknownField { fields, allowed } => {
                json!({ "unknown_fields": fields, "allowed_fields": allowed })
            }
            SendErrorKind::TooLong { max, actual }
            | SendErrorKind::TooMany { max, actual }
            | SendErrorKind::TemplateTextTooLong { max, actual } => {
                json!({ "max": max, "actual": actual })
            }
            SendErrorKind::TooFew { min, actual } => json!({ "min": min, "actual": actual }),
            SendErrorKind::InvalidValue { allowed }
            | SendErrorKind::UnsupportedType { allowed } => {
                json!({ "allowed_values": allowed })
            }
            SendErrorKind::ConflictingFields { fields } => json!({ "conflicting_fields": fields }),
            SendErrorKind::Phone(e) => json!({ "suggestion": e.suggestion()? }),
            SendErrorKind::UnsupportedMediaType { mime_type, allowed } => {
                json!({ "mime_type": mime_type, "allowed_mime_types": allowed })
            }
            SendErrorKind::MediaTooLarge { size, max } => {
                json!({ "size_bytes": size, "max_bytes": max })
            }
            SendErrorKind::WindowClosed {
                last_inbound_at,
                closed_at,
            } => json!({
                "last_inbound_at": time(last_inbound_at),
                "window_closed_at": time(closed_at),
            }),
            SendErrorKind::TemplateNotFound { similar } if !similar.is_empty() => {
                json!({ "similar_templates": similar })
            }
            SendErrorKind::TemplateLanguageUnavailable {
                requested,
                available,
            } => json!({ "requested_language": requested, "available_languages": available }),
            SendErrorKind::TemplateNotApproved { status } => {
                json!({ "template_status": status.as_str() })
            }
            SendErrorKind::TemplateParameterCount { expected, actual } => {
                json!({ "expected": expected, "actual": actual })
            }
            SendErrorKind::TemplateParameterType { expected, actual } => {
                json!({ "expected_types": expected, "actual_type": actual })
            }
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Constructors shared by the send and template validators. Messages are whole sentences.

pub(crate) type Result<T, E = SendValidationError> = std::result::Result<T, E>;

/// `` `path` `` for messages; the root object is "the message".
pub(crate) fn name(path: &str) -> String {
    if path.is_empty() {
        "the message".to_owned()
    } else {
        format!("`{path}`")
    }
}

pub(crate) fn missing(path: &str, what: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::MissingField,
        path,
        format!("{} is required: {what}.", name(path)),
    )
}

pub(crate) fn wrong_type(path: &str, expected: &'static str, got: &Value) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::WrongType { expected },
        path,
        format!(
            "{} must be {expected}, not {}.",
            name(path),
            json_type_name(got)
        ),
    )
}

pub(crate) fn empty(path: &str, what: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::EmptyValue,
        path,
        format!("{} is empty: {what}.", name(path)),
    )
}

pub(crate) fn too_long(path: &str, max: usize, actual: usize, hint: &str) -> SendValidationError {
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!(" {hint}")
    };
    SendValidationError::new(
        SendErrorKind::TooLong { max, actual },
        path,
        format!(
            "{} is {actual} characters long; WhatsApp allows at most {max}.{hint}",
            name(path)
        ),
    )
}

pub(crate) fn too_few(path: &str, min: usize, actual: usize, what: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::TooFew { min, actual },
        path,
        format!(
            "{} has {actual} {what}; at least {min} {} needed.",
            name(path),
            if min == 1 { "is" } else { "are" }
        ),
    )
}

pub(crate) fn too_many(path: &str, max: usize, actual: usize, what: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::TooMany { max, actual },
        path,
        format!(
            "{} has {actual} {what}; WhatsApp allows at most {max}.",
            name(path)
        ),
    )
}

pub(crate) fn invalid_value(path: &str, got: &str, allowed: &[&str]) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::InvalidValue {
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        },
        path,
        format!(
            "{} is `{}`; it must be one of: {}.",
            name(path),
            shorten(got, 40),
            quoted_list(allowed)
        ),
    )
}

pub(crate) fn invalid_format(path: &str, message: impl Into<String>) -> SendValidationError {
    SendValidationError::new(SendErrorKind::InvalidFormat, path, message)
}

pub(crate) fn not_allowed(path: &str, why: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::FieldNotAllowed,
        path,
        format!("{} is not allowed here: {why}.", name(path)),
    )
}

pub(crate) fn conflict(paths: &[String], message: impl Into<String>) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::ConflictingFields {
            fields: paths.to_vec(),
        },
        paths.get(1).or(paths.first()).cloned().unwrap_or_default(),
        message,
    )
}

pub(crate) fn duplicate(path: &str, what: &str, value: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::DuplicateValue,
        path,
        format!(
            "{} repeats the {what} `{}`; each {what} must be unique.",
            name(path),
            shorten(value, 40)
        ),
    )
}

/// "a string", "an object"… for messages.
pub(crate) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cuts user text quoted back in messages, so a 100 KB value doesn't come back whole.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_snake_case_code() {
        let kinds = vec![
            SendErrorKind::UnknownField {
                fields: vec![],
                allowed: vec![],
            },
            SendErrorKind::MissingField,
            SendErrorKind::WrongType { expected: "x" },
            SendErrorKind::EmptyValue,
            SendErrorKind::TooLong { max: 1, actual: 2 },
            SendErrorKind::TooFew { min: 1, actual: 0 },
            SendErrorKind::TooMany { max: 1, actual: 2 },
            SendErrorKind::OutOfRange,
            SendErrorKind::DuplicateValue,
            SendErrorKind::InvalidValue { allowed: vec![] },
            SendErrorKind::InvalidFormat,
            SendErrorKind::ConflictingFields { fields: vec![] },
            SendErrorKind::FieldNotAllowed,
            SendErrorKind::InvalidUrl,
            SendErrorKind::RecipientRequired,
            SendErrorKind::InvalidContactId,
            SendErrorKind::ContactNotFound,
            SendErrorKind::ContactUnreachable,
            SendErrorKind::InvalidRecipient,
            SendErrorKind::BsuidNotSupported,
            SendErrorKind::InvalidChannelId,
            SendErrorKind::UnsupportedType { allowed: vec![] },
            SendErrorKind::TypeMismatch,
            SendErrorKind::InvalidMessageId,
            SendErrorKind::InvalidEmoji,
            SendErrorKind::InvalidMediaId,
            SendErrorKind::MediaNotFound,
            SendErrorKind::UnsupportedMediaType {
                mime_type: String::new(),
                allowed: vec![],
            },
            SendErrorKind::MediaTooLarge { size: 2, max: 1 },
            SendErrorKind::MediaLinkRequired,
            SendErrorKind::WindowClosed {
                last_inbound_at: None,
                closed_at: None,
            },
            SendErrorKind::TemplateNotFound { similar: vec![] },
            SendErrorKind::TemplateLanguageUnavailable {
                requested: String::new(),
                available: vec![],
            },
            SendErrorKind::TemplateNotApproved {
                status: TemplateStatus::Paused,
            },
            SendErrorKind::TemplateComponentUnknown,
            SendErrorKind::TemplateComponentMissing,
            SendErrorKind::TemplateParameterCount {
                expected: 1,
                actual: 0,
            },
            SendErrorKind::TemplateParameterType {
                expected: vec![],
                actual: String::new(),
            },
            SendErrorKind::TemplateParameterName,
            SendErrorKind::TemplateParameterInvalid,
            SendErrorKind::TemplateButtonMismatch,
            SendErrorKind::TemplateTextTooLong { max: 1, actual: 2 },
        ];
        let mut codes: Vec<&str> = kinds.iter().map(SendErrorKind::code).collect();
        for code in &codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "codes must be distinct");
    }

    #[test]
    fn phone_errors_keep_their_code_and_suggestion() {
        let e = SendValidationError::new(
            SendErrorKind::Phone(PhoneError::NotValid {
                region: "AR".into(),
                suggestion: Some("+5491123456789".into()),
            }),
            "to",
            "x",
        );
        assert_eq!(e.code(), "not_valid");
        assert_eq!(e.details(), Some(json!({"suggestion": "+5491123456789"})));
        let e = SendValidationError::new(SendErrorKind::Phone(PhoneError::Empty), "to", "x");
        assert_eq!(e.details(), None);
    }

    #[test]
    fn messages_are_sentences_naming_the_field() {
        let e = too_long("text.body", 4096, 5000, "Split it into several messages.");
        assert_eq!(e.field(), "text.body");
        assert_eq!(
            e.message(),
            "`text.body` is 5000 characters long; WhatsApp allows at most 4096. Split it into several messages."
        );
        assert_eq!(e.to_string(), e.message());
        let e = wrong_type(
            "text.preview_url",
            "a boolean (true or false)",
            &json!("yes"),
        );
        assert_eq!(
            e.message(),
            "`text.preview_url` must be a boolean (true or false), not a string."
        );
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
