//! wa.me click-to-chat links, their prefilled texts (templates per context and locale, tenant
//! overrides, attribution codes) and their QR codes. No Meta account is needed for any of it.
//!
//! [`LinkRequest::build`] does a whole `POST /v1/links` in one call; the pieces are public for
//! the CLI and for other callers. Every error is a [`LinkError`] with a stable code and the
//! request field it concerns.

mod context;
mod error;
mod link;
mod locale;
mod qr;
mod ref_code;
mod request;
mod template;
mod texts;

pub use context::LinkContext;
pub use error::LinkError;
pub use link::{MAX_URL_LEN, WaMeLink, decode_text, encode_text};
pub use locale::Locale;
pub use qr::{
    DEFAULT_MODULE_PX, EcLevel, MODULE_PX, QrMatrix, QrOptions, QrSize, TOTAL_PX,
    TerminalBackground, qr_matrix,
};
pub use ref_code::{MAX_REF_LEN, RefCode, append_ref, extract_ref};
pub use request::{BuiltLink, LinkDefaults, LinkRequest};
pub use template::{
    MAX_TEMPLATE_CHARS, RenderedText, TemplateOverrides, TemplateSource, render, resolve,
    validate_template,
};
pub use texts::BUILTIN_LOCALES;
