//! Why a link, its text or its QR code could not be made; each reason names its request field.

use crate::phone::PhoneError;

/// Why a wa.me link, its prefilled text or its QR code was refused.
///
/// [`code`](Self::code) is stable and [`field`](Self::field) names the request field at fault
/// (`phone`, `region`, `text`, `context`, `locale`, `data`, `template`, `ref`, `size`,
/// `ec_level`), so an HTTP layer can answer 422 without looking inside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The phone number (or its region) was refused.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// Neither a number nor a text: such a link opens WhatsApp and does nothing.
    #[error("a link needs a phone number, a text, or both")]
    EmptyLink,
    /// The link would be longer than browsers, QR codes and chat apps handle reliably.
    #[error(
        "the text is too long for a link: the link would be {url_len} characters, at most {max} are allowed"
    )]
    TextTooLong {
        /// Length of the link that would have been made.
        url_len: usize,
        /// The limit, [`super::MAX_URL_LEN`].
        max: usize,
    },
    /// A free text and a template context at once (only `generic` takes a free text).
    #[error(
        "give either a text or a context, not both (a free text only goes with the `generic` context)"
    )]
    TextWithContext,
    /// A `%`-escape in a link's text that is not valid UTF-8 or not hex.
    #[error("the link text is not valid percent-encoded UTF-8")]
    BadEncoding,
    /// A context that has no templates.
    #[error("unknown context `{given}`: expected one of {}", .known.join(", "))]
    UnknownContext {
        /// What was given (truncated).
        given: String,
        /// Every known context.
        known: &'static [&'static str],
    },
    /// A locale tag that is not a language tag at all (`es-AR`, `pt_BR`, `fr` are fine).
    #[error("`{given}` is not a locale: expected a language tag such as es, es-AR, pt-BR or fr")]
    InvalidLocale {
        /// What was given (truncated).
        given: String,
    },
    /// The template needs a value the request did not give.
    #[error("missing value for `{placeholder}`: the `{context}` text needs it")]
    MissingValue {
        /// The placeholder name.
        placeholder: String,
        /// The context whose text was rendered.
        context: &'static str,
    },
    /// A value that cannot go into a customer's message as given.
    #[error("the value of `{placeholder}` {reason}")]
    InvalidValue {
        /// The placeholder name.
        placeholder: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tenant template uses a placeholder its context never fills.
    #[error("unknown placeholder `{{{{{placeholder}}}}}` for `{context}`: use one of {}", .allowed.join(", "))]
    UnknownPlaceholder {
        /// The placeholder name as written.
        placeholder: String,
        /// The template's context.
        context: &'static str,
        /// The placeholders this context fills.
        allowed: &'static [&'static str],
    },
    /// A tenant template with broken braces.
    #[error("malformed template: {reason}")]
    MalformedTemplate {
        /// What is broken, with the offending snippet.
        reason: String,
    },
    /// A tenant template that is empty.
    #[error("the template is empty")]
    EmptyTemplate,
    /// A tenant template longer than any practical prefilled message.
    #[error("the template is too long: at most {max} characters")]
    TemplateTooLong {
        /// The limit in characters.
        max: usize,
    },
    /// A ref code that is empty.
    #[error("the ref code is empty")]
    RefEmpty,
    /// A ref code that is too long to stay short and readable.
    #[error("the ref code is too long: at most {max} characters")]
    RefTooLong {
        /// The limit in characters.
        max: usize,
    },
    /// A ref code with characters that could be mangled by chat formatting or typing.
    #[error("the ref code may only hold letters A-Z, digits and inner dashes (found `{found}`)")]
    RefInvalidChar {
        /// The first character refused.
        found: char,
    },
    /// An error-correction level other than L, M, Q or H.
    #[error("unknown error-correction level `{given}`: expected L, M, Q or H")]
    InvalidEcLevel {
        /// What was given (truncated).
        given: String,
    },
    /// A QR size outside what prints and scans well.
    #[error("QR size {given} {unit} is out of range: expected {min} to {max} {unit}")]
    SizeOutOfRange {
        /// What was asked.
        given: u32,
        /// The smallest size allowed (for a total size: the smallest that fits this link).
        min: u32,
        /// The largest size allowed.
        max: u32,
        /// `px per module` or `px`.
        unit: &'static str,
    },
    /// The link does not fit in a QR code at the chosen error-correction level.
    #[error(
        "the link is too long for a QR code at error-correction level {ec_level}: shorten the text or use a lower level"
    )]
    QrDataTooLong {
        /// The level asked for.
        ec_level: char,
    },
    /// The PNG encoder failed (should not happen for sizes within range).
    #[error("could not encode the QR code as PNG: {reason}")]
    PngEncoding {
        /// The encoder's message.
        reason: String,
    },
}

impl LinkError {
    /// A stable snake_case code for API clients and tests; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Phone(e) => e.code(),
            Self::EmptyLink => "empty_link",
            Self::TextTooLong { .. } => "text_too_long",
            Self::TextWithContext => "text_with_context",
            Self::BadEncoding => "bad_encoding",
            Self::UnknownContext { .. } => "unknown_context",
            Self::InvalidLocale { .. } => "invalid_locale",
            Self::MissingValue { .. } => "missing_value",
            Self::InvalidValue { .. } => "invalid_value",
            Self::UnknownPlaceholder { .. } => "unknown_placeholder",
            Self::MalformedTemplate { .. } => "malformed_template",
            Self::EmptyTemplate => "empty_template",
            Self::TemplateTooLong { .. } => "template_too_long",
            Self::RefEmpty => "ref_empty",
            Self::RefTooLong { .. } => "ref_too_long",
            Self::RefInvalidChar { .. } => "ref_invalid_char",
            Self::InvalidEcLevel { .. } => "invalid_ec_level",
            Self::SizeOutOfRange { .. } => "size_out_of_range",
            Self::QrDataTooLong { .. } => "qr_data_too_long",
            Self::PngEncoding { .. } => "png_encoding_failed",
        }
    }

    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Phone(e) => e.field(),
            Self::EmptyLink => "phone",
            Self::TextTooLong { .. }
            | Self::TextWithContext
            | Self::BadEncoding
            | Self::QrDataTooLong { .. } => "text",
            Self::UnknownContext { .. } => "context",
            Self::InvalidLocale { .. } => "locale",
            Self::MissingValue { .. } | Self::InvalidValue { .. } => "data",
            Self::UnknownPlaceholder { .. }
            | Self::MalformedTemplate { .. }
            | Self::EmptyTemplate
            | Self::TemplateTooLong { .. } => "template",
            Self::RefEmpty | Self::RefTooLong { .. } | Self::RefInvalidChar { .. } => "ref",
            Self::InvalidEcLevel { .. } => "ec_level",
            Self::SizeOutOfRange { .. } | Self::PngEncoding { .. } => "size",
        }
    }
}

/// Keeps echoed input short in messages, whatever a client sends.
pub(crate) fn echo(given: &str) -> String {
    given.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_errors_keep_their_code_and_field() {
        let err = LinkError::from(PhoneError::UnknownRegion {
            region: "XX".into(),
        });
        assert_eq!((err.code(), err.field()), ("unknown_region", "region"));
    }

    #[test]
    fn placeholders_are_shown_with_their_braces() {
        let err = LinkError::UnknownPlaceholder {
            placeholder: "nombre".into(),
            context: "invoice",
            allowed: &["number"],
        };
        assert_eq!(
            err.to_string(),
            "unknown placeholder `{{nombre}}` for `invoice`: use one of number"
        );
    }
}
