//! Message templates: the approved texts WhatsApp lets a business send at any time (and the only
//! messages allowed outside the 24-hour window).
//!
//! - [`Template`] reads and writes Meta's `message_templates` shape, so templates synced from
//!   `GET /{waba-id}/message_templates` are stored as they came.
//! - [`TemplateMessage::from_json`] reads a send's `template` object (name, language, component
//!   values) with every error naming its JSON path.
//! - [`find_template`] picks the template by name and exact language (or along the
//!   [`fallback_chain`] when the tenant opted in with [`LanguageFallback::Chain`]) and refuses one
//!   that is not approved; [`check_params`] checks the values against its components;
//!   [`prepare`] does both and renders.
//! - [`render`] fills the values in, as the customer will see the message.
//!
//! Errors are [`SendValidationError`](crate::send::SendValidationError)s: the same 422 shape
//! for a send and for a preview.

mod check;
mod model;
mod params;
mod placeholder;
mod render;

pub use check::{
    LanguageFallback, MAX_BODY_CHARS, MAX_CODE_CHARS, MAX_HEADER_CHARS, PreparedTemplate,
    check_params, fallback_chain, find_template, prepare,
};
pub use model::{
    Body, Button, ButtonKind, ButtonParam, Component, Footer, Header, HeaderFormat,
    ParameterFormat, Template, TemplateCategory, TemplateStatus,
};
pub use params::{
    ComponentParams, ComponentTarget, Param, ParamValue, TemplateMessage, TemplateParams,
    normalize_language,
};
pub use placeholder::{Placeholder, fill, placeholders, positional_count};
pub use render::{RenderedButton, RenderedHeader, RenderedTemplate, render};

#[cfg(test)]
mod tests;
