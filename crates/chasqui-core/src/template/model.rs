//! Templates in the shape of Meta's `message_templates` API (`GET /{waba-id}/message_templates`
//! → `data[]`), so synced templates can be stored as JSON and read back unchanged.
//!
//! Everything the validator and renderer need is typed; everything else (`quality_score`,
//! `rejected_reason`, `sub_category`, `header_handle` examples…) is kept in `extra` maps so a
//! template round-trips through our storage without losing fields.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::placeholder::{Placeholder, placeholders, positional_count};

macro_rules! open_enum {
    (
        $(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value Meta added after this code was written, kept as given (upper-case).
            Other(String),
        }

        impl $name {
            /// Reads Meta's value, case-insensitively (`APPROVED`, `approved`).
            pub fn parse(value: &str) -> Self {
                let upper = value.trim().to_ascii_uppercase();
                match upper.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(upper),
                }
            }

            /// Meta's spelling (`APPROVED`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

open_enum!(
    /// A template's review status (Meta's list, `cloud-api.md` §7).
    TemplateStatus {
        /// Approved: can be sent.
        Approved => "APPROVED",
        /// In review.
        Pending => "PENDING",
        /// Refused in review.
        Rejected => "REJECTED",
        /// Paused for low quality (Meta 132015).
        Paused => "PAUSED",
        /// Disabled for low quality (Meta 132016).
        Disabled => "DISABLED",
        /// The rejection is being appealed.
        InAppeal => "IN_APPEAL",
        /// Low quality, at risk of being paused; still sendable.
        Flagged => "FLAGGED",
        /// Back to approved after a pause or appeal.
        Reinstated => "REINSTATED",
        /// Being deleted.
        PendingDeletion => "PENDING_DELETION",
        /// Deleted.
        Deleted => "DELETED",
        /// Archived (inactive).
        Archived => "ARCHIVED",
        /// Taken out of the archive.
        Unarchived => "UNARCHIVED",
        /// Too many templates of this kind.
        LimitExceeded => "LIMIT_EXCEEDED",
        /// Locked (cannot be edited).
        Locked => "LOCKED",
    }
);

impl TemplateStatus {
    /// Whether Meta delivers this template: approved, reinstated, or flagged (a quality warning
    /// that does not stop sending).
    pub fn is_sendable(&self) -> bool {
        matches!(self, Self::Approved | Self::Reinstated | Self::Flagged)
    }

    /// What a person can do about a template in this status, for error messages.
    pub fn advice(&self) -> &'static str {
        match self {
            Self::Pending | Self::InAppeal => "wait for Meta's review, then sync templates again",
            Self::Rejected => {
                "edit it in WhatsApp Manager and submit it again, or send another template"
            }
            Self::Paused => {
                "Meta paused it for low quality; it resumes automatically, or send another template"
            }
            Self::Disabled => "Meta disabled it for low quality; send another template",
            Self::LimitExceeded => "delete unused templates in WhatsApp Manager, then sync again",
            _ => "send an approved template instead",
        }
    }
}

open_enum!(
    /// What a template is for; it sets the price and the rules (`cloud-api.md` §4.1, §7).
    TemplateCategory {
        /// Promotions, offers, re-engagement.
        Marketing => "MARKETING",
        /// Updates about something the customer did (bookings, orders, repairs).
        Utility => "UTILITY",
        /// One-time passwords.
        Authentication => "AUTHENTICATION",
    }
);

/// How a template's texts name their parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ParameterFormat {
    /// `{{1}}`, `{{2}}`… filled in order.
    Positional,
    /// `{{first_name}}`… each value carries its `parameter_name`.
    Named,
}

/// An approved (or pending, or rejected…) template as Meta describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Meta's template id (a string of digits).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub id: Option<String>,
    /// The name it is sent by (`confirmacion_turno`).
    pub name: String,
    /// The exact language code it was approved in (`es_AR`, `en_US`, `es`).
    pub language: String,
    /// Review status.
    pub status: TemplateStatus,
    /// Category.
    pub category: TemplateCategory,
    /// `POSITIONAL` or `NAMED`; when absent it is read from the texts' placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<ParameterFormat>,
    /// Header, body, footer, buttons (and kinds this code does not model, kept verbatim).
    #[serde(default)]
    pub components: Vec<Component>,
    /// Every other field Meta sent (`previous_category`, `quality_score`, `rejected_reason`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum Component {
    /// `HEADER`.
    Header(Header),
    /// `BODY`.
    Body(Body),
    /// `FOOTER`.
    Footer(Footer),
    /// `BUTTONS`.
    Buttons(Vec<Button>),
    /// `CAROUSEL`, `LIMITED_TIME_OFFER`… as Meta sent it (with its `type`).
    Other(Value),
}

/// The header: a short text (with at most one parameter) or a media or location placeholder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// What it shows.
    pub format: HeaderFormat,
    /// The text, for `TEXT` headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Meta's examples (`header_text`, `header_text_named_params`, `header_handle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum!(
    /// What a template header shows.
    HeaderFormat {
        /// Text, possibly with one parameter.
        Text => "TEXT",
        /// An image sent with each message.
        Image => "IMAGE",
        /// A video sent with each message.
        Video => "VIDEO",
        /// A document (PDF) sent with each message.
        Document => "DOCUMENT",
        /// A location sent with each message.
        Location => "LOCATION",
    }
);

/// The body text, with `{{1}}` or `{{name}}` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// The text. Authentication templates created with `add_security_recommendation` may have
    /// none: Meta writes it (see [`Template::body_text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Authentication templates: add "For your security, do not share this code."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_security_recommendation: Option<bool>,
    /// Meta's examples (`body_text`, `body_text_named_params`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The footer: a fixed text (no parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footer {
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Authentication templates: "This code expires in N minutes."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expiration_minutes: Option<u32>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    /// What it does.
    #[serde(rename = "type")]
    pub kind: ButtonKind,
    /// Its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `URL` buttons: the address, possibly ending in a `{{1}}` suffix filled per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `PHONE_NUMBER` buttons: the number called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `OTP` buttons: `COPY_CODE`, `ONE_TAP` or `ZERO_TAP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_type: Option<String>,
    /// Meta's example (a URL, a coupon code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// Other fields (`flow_id`, `navigate_screen`, `package_name`…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum!(
    /// What a template button does.
    ButtonKind {
        /// Sends a reply with a payload.
        QuickReply => "QUICK_REPLY",
        /// Opens a URL (with an optional dynamic suffix).
        Url => "URL",
        /// Calls a number.
        PhoneNumber => "PHONE_NUMBER",
        /// Copies a coupon code.
        CopyCode => "COPY_CODE",
        /// Opens a WhatsApp Flow.
        Flow => "FLOW",
        /// Authentication: copies or autofills the one-time password.
        Otp => "OTP",
        /// Opens the catalog.
        Catalog => "CATALOG",
        /// Multi-product message.
        Mpm => "MPM",
    }
);

/// What a button needs in each message, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonParam {
    /// Optional `payload` (quick replies).
    OptionalPayload,
    /// Required `text`: the URL suffix, or the one-time password for OTP buttons.
    RequiredText,
    /// Required `coupon_code`.
    RequiredCouponCode,
    /// Optional `action` (flow token and data, catalog thumbnail).
    OptionalAction,
    /// Required `action` (multi-product sections).
    RequiredAction,
    /// Takes nothing (phone numbers, fixed URLs).
    None,
}

impl Button {
    /// The `sub_type` a send uses for this button, when it takes parameters.
    pub fn sub_type(&self) -> Option<&'static str> {
        Some(match self.kind {
            ButtonKind::QuickReply => "quick_reply",
            ButtonKind::Url | ButtonKind::Otp => "url",
            ButtonKind::CopyCode => "copy_code",
            ButtonKind::Flow => "flow",
            ButtonKind::Catalog => "catalog",
            ButtonKind::Mpm => "mpm",
            ButtonKind::PhoneNumber | ButtonKind::Other(_) => return None,
        })
    }

    /// Whether this is a URL button whose address ends in a `{{1}}` suffix.
    pub fn has_dynamic_url(&self) -> bool {
        self.kind == ButtonKind::Url
            && self
                .url
                .as_deref()
                .is_some_and(|u| !placeholders(u).is_empty())
    }

    /// What this button needs in each message.
    pub fn param(&self) -> ButtonParam {
        match self.kind {
            ButtonKind::QuickReply => ButtonParam::OptionalPayload,
            ButtonKind::Url if self.has_dynamic_url() => ButtonParam::RequiredText,
            ButtonKind::Otp => ButtonParam::RequiredText,
            ButtonKind::CopyCode => ButtonParam::RequiredCouponCode,
            ButtonKind::Flow | ButtonKind::Catalog => ButtonParam::OptionalAction,
            ButtonKind::Mpm => ButtonParam::RequiredAction,
            ButtonKind::Url | ButtonKind::PhoneNumber | ButtonKind::Other(_) => ButtonParam::None,
        }
    }

    /// A short description for messages: `button 1 (URL "Ver turno")`.
    pub fn describe(&self, index: usize) -> String {
        match &self.text {
            Some(t) => format!("button {index} ({} \"{t}\")", self.kind),
            None => format!("button {index} ({})", self.kind),
        }
    }
}

impl Template {
    /// The header, if any.
    pub fn header(&self) -> Option<&Header> {
        self.components.iter().find_map(|c| match c {
            Component::Header(h) => Some(h),
            _ => None,
        })
    }

    /// The body, if any.
    pub fn body(&self) -> Option<&Body> {
        self.components.iter().find_map(|c| match c {
            Component::Body(b) => Some(b),
            _ => None,
        })
    }

    /// The footer, if any.
    pub fn footer(&self) -> Option<&Footer> {
        self.components.iter().find_map(|c| match c {
            Component::Footer(f) => Some(f),
            _ => None,
        })
    }

    /// The buttons, in order (their index is their position).
    pub fn buttons(&self) -> &[Button] {
        self.components
            .iter()
            .find_map(|c| match c {
                Component::Buttons(b) => Some(b.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    /// Components this code does not model (carousels, limited-time offers…).
    pub fn has_unmodelled_components(&self) -> bool {
        self.components
            .iter()
            .any(|c| matches!(c, Component::Other(_)))
    }

    /// The body text as the customer sees it before parameters are filled. Authentication
    /// templates created without a text get Meta's English wording (Meta localises it; sync the
    /// template from Meta to store the exact text).
    pub fn body_text(&self) -> Option<Cow<'_, str>> {
        let body = self.body()?;
        if let Some(text) = &body.text {
            return Some(Cow::Borrowed(text));
        }
        if self.category == TemplateCategory::Authentication {
            let mut text = "*{{1}}* is your verification code.".to_owned();
            if body.add_security_recommendation == Some(true) {
                text.push_str(" For your security, do not share this code.");
            }
            return Some(Cow::Owned(text));
        }
        None
    }

    /// The footer text, including the expiry sentence of authentication templates.
    pub fn footer_text(&self) -> Option<Cow<'_, str>> {
        let footer = self.footer()?;
        match (&footer.text, footer.code_expiration_minutes) {
            (Some(text), _) => Some(Cow::Borrowed(text)),
            (None, Some(1)) => Some(Cow::Borrowed("This code expires in 1 minute.")),
            (None, Some(n)) => Some(Cow::Owned(format!("This code expires in {n} minutes."))),
            (None, None) => None,
        }
    }

    /// `POSITIONAL` or `NAMED`: as declared, else named when a body or header placeholder has a name.
    pub fn parameter_format(&self) -> ParameterFormat {
        if let Some(f) = self.parameter_format {
            return f;
        }
        let texts = [
            self.body_text().map(Cow::into_owned),
            self.header().and_then(|h| h.text.clone()),
        ];
        let named = texts
            .iter()
            .flatten()
            .flat_map(|t| placeholders(t))
            .any(|p| matches!(p, Placeholder::Named(_)));
        if named {
            ParameterFormat::Named
        } else {
            ParameterFormat::Positional
        }
    }

    /// The parameters the body takes: `{{1}}…{{n}}` (every number up to the highest) or the
    /// distinct names in order of appearance.
    pub fn body_placeholders(&self) -> Vec<Placeholder> {
        self.body_text()
            .map(|t| self.expected(&t))
            .unwrap_or_default()
    }

    /// The parameters a text header takes (Meta allows one).
    pub fn header_placeholders(&self) -> Vec<Placeholder> {
        match self.header() {
            Some(h) if h.format == HeaderFormat::Text => h
                .text
                .as_deref()
                .map(|t| self.expected(t))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn expected(&self, text: &str) -> Vec<Placeholder> {
        match self.parameter_format() {
            ParameterFormat::Positional => (1..=positional_count(text))
                .map(Placeholder::Positional)
                .collect(),
            ParameterFormat::Named => placeholders(text)
                .into_iter()
                .filter(|p| matches!(p, Placeholder::Named(_)))
                .collect(),
        }
    }
}

impl TryFrom<Value> for Component {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        let Value::Object(mut map) = value else {
            return Err("a template component must be an object".to_owned());
        };
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.to_ascii_uppercase(),
            _ => return Err("a template component needs a string `type`".to_owned()),
        };
        let typed = |map: Map<String, Value>| Value::Object(map);
        let err = |e: serde_json::Error| format!("template {kind} component: {e}");
        match kind.as_str() {
            "HEADER" | "BODY" | "FOOTER" | "BUTTONS" => {
                map.remove("type");
            }
            _ => return Ok(Self::Other(Value::Object(map))),
        }
        Ok(match kind.as_str() {
            "HEADER" => Self::Header(serde_json::from_value(typed(map)).map_err(err)?),
            "BODY" => Self::Body(serde_json::from_value(typed(map)).map_err(err)?),
            "FOOTER" => Self::Footer(serde_json::from_value(typed(map)).map_err(err)?),
            _ => {
                let buttons = map.remove("buttons").unwrap_or(Value::Array(Vec::new()));
                Self::Buttons(serde_json::from_value(buttons).map_err(err)?)
            }
        })
    }
}

impl From<Component> for Value {
    fn from(component: Component) -> Self {
        let (kind, value) = match component {
            Component::Header(h) => ("HEADER", serde_json::to_value(h)),
            Component::Body(b) => ("BODY", serde_json::to_value(b)),
            Component::Footer(f) => ("FOOTER", serde_json::to_value(f)),
            Component::Buttons(b) => (
                "BUTTONS",
                serde_json::to_value(b).map(|b| serde_json::json!({ "buttons": b })),
            ),
            Component::Other(v) => return v,
        };
        let mut value = value.unwrap_or_else(|_| Value::Object(Map::new()));
        if let Value::Object(map) = &mut value {
            map.insert("type".to_owned(), Value::String(kind.to_owned()));
        }
        value
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}
