//! Outbound messages: the body of `POST /v1/messages` and everything checked before a message is
//! queued, so a send that is accepted is one WhatsApp will take.
//!
//! Two steps, because the caller needs to look things up in between:
//! 1. [`SendRequest::from_value`] reads the JSON body at the top level (recipient, channel, type
//!    and its object, reply context). The caller then finds the contact and its window
//!    ([`SendRequest::parse_to`] parses `to` the same way the validator will), the templates
//!    named by [`SendRequest::template_name`], and builds a [`ValidationContext`].
//! 2. [`validate`] checks everything — recipient, the 24-hour window, the type's content and
//!    WhatsApp's limits, uploaded media types and sizes, the template against the known one —
//!    and returns a [`ValidatedSend`] with the normalised Cloud API body.
//!
//! Every refusal is a [`SendValidationError`] with a stable `code()`, the JSON path at fault
//! (`interactive.action.buttons[2].reply.title`) and a sentence saying what to fix.
//!
//! Window rule (`cloud-api.md` §4.1): only templates may be sent outside the 24-hour window;
//! every other type — reactions included — is refused with `window_closed`. The check runs right
//! after the recipient, before the content, because no fix to the content would help.

mod content;
mod context;
pub(crate) mod error;
mod interactive;
pub(crate) mod json;
pub(crate) mod media;
mod request;
mod validate;

pub(crate) use content::location_fields;

pub use content::{MAX_CONTACTS, MAX_TEXT_CHARS, MessageRef, is_single_emoji};
pub use context::{ContactRecipient, ValidationContext};
pub use error::{SendErrorKind, SendValidationError};
pub use interactive::{
    INTERACTIVE_TYPES, MAX_BODY_CHARS, MAX_BUTTON_ID_CHARS, MAX_BUTTON_TITLE_CHARS,
    MAX_HEADER_FOOTER_CHARS, MAX_LIST_BUTTON_CHARS, MAX_LIST_ROWS, MAX_PRODUCT_ITEMS,
    MAX_REPLY_BUTTONS, MAX_ROW_DESCRIPTION_CHARS, MAX_ROW_ID_CHARS, MAX_ROW_TITLE_CHARS,
    MAX_SECTIONS,
};
pub use media::{MediaInfo, MediaKind, MediaLookup, MediaSource, OUR_MEDIA_PREFIX};
pub use request::{MAX_CALLBACK_DATA_CHARS, RecipientInput, SendKind, SendRequest};
pub use validate::{
    LocalRef, LocalTarget, MAX_CAPTION_CHARS, PREVIEW_CHARS, TemplateUse, ValidatedRecipient,
    ValidatedSend, validate,
};

#[cfg(test)]
mod examples;
#[cfg(test)]
mod tests;
