//! Building `https://wa.me/<digits>?text=<percent-encoded UTF-8>` links.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::LinkError;
use crate::phone::PhoneE164;

/// The longest link we make, in bytes.
///
/// 2000 keeps clear of the ~2048-character URL limit of old browsers and mail clients, and fits
/// a QR code at error-correction level L or M (2953 / 2331 bytes at version 40); levels Q and H
/// hold less, which [`super::qr_matrix`] reports as its own error.
pub const MAX_URL_LEN: usize = 2000;

/// The origin WhatsApp documents for click-to-chat links.
const BASE: &str = "https://wa.me/";

/// Everything but RFC 3986 unreserved characters is escaped, so space is `%20` (never `+`) and
/// `&`, `#`, `+`, `=`, `?`, newlines and all non-ASCII survive any URL parser.
const TEXT_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A click-to-chat link that opens a chat (with a number, or the share sheet) with a prefilled message.
///
/// Without a number the link is `https://wa.me/?text=…`: WhatsApp then lets the person pick
/// whom to send the text to. That form needs a text; an HTTP layer that wants "the tenant's own
/// number" passes that number instead.
#[derive(Clone, PartialEq, Eq)]
pub struct WaMeLink {
    url: String,
    phone: Option<PhoneE164>,
    text: Option<String>,
}

impl WaMeLink {
    /// Builds the link; a blank text counts as none, and an over-long link is refused.
    pub fn new(phone: Option<&PhoneE164>, text: Option<&str>) -> Result<Self, LinkError> {
        let text = text.filter(|t| !t.trim().is_empty());
        if phone.is_none() && text.is_none() {
            return Err(LinkError::EmptyLink);
        }
        let mut url = String::from(BASE);
        if let Some(p) = phone {
            url.push_str(p.digits());
        }
        if let Some(t) = text {
            url.push_str("?text=");
            url.push_str(&encode_text(t));
        }
        if url.len() > MAX_URL_LEN {
            return Err(LinkError::TextTooLong {
                url_len: url.len(),
                max: MAX_URL_LEN,
            });
        }
        Ok(Self {
            url,
            phone: phone.cloned(),
            text: text.map(str::to_owned),
        })
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The number the chat opens with, if any.
    pub fn phone(&self) -> Option<&PhoneE164> {
        self.phone.as_ref()
    }

    /// The prefilled message, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

/// Percent-encodes a prefilled message as UTF-8 for the `text` query parameter.
pub fn encode_text(text: &str) -> String {
    utf8_percent_encode(text, TEXT_ESCAPES).to_string()
}

/// Decodes a `text` query value back to the message (`+` is a literal plus, as we never emit it for space).
pub fn decode_text(encoded: &str) -> Result<String, LinkError> {
    let malformed_escape = encoded.match_indices('%').any(|(i, _)| {
        !encoded
            .get(i + 1..i + 3)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if malformed_escape {
        return Err(LinkError::BadEncoding);
    }
    percent_decode_str(encoded)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| LinkError::BadEncoding)
}

impl fmt::Display for WaMeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for WaMeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaMeLink")
            .field("phone", &self.phone)
            .field("text_len", &self.text.as_ref().map(|t| t.chars().count()))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phone() -> PhoneE164 {
        PhoneE164::parse("+54 9 11 2345-6789", None).unwrap()
    }

    #[test]
    fn digits_only_and_percent_encoded_text() {
        let link = WaMeLink::new(
            Some(&phone()),
            Some("Hola! Factura #42 & más\n¿Pagás? 😀 1+1"),
        )
        .unwrap();
        assert_eq!(
            link.as_str(),
            "https://wa.me/5491123456789?text=Hola%21%20Factura%20%2342%20%26%20m%C3%A1s%0A%C2%BFPag%C3%A1s%3F%20%F0%9F%98%80%201%2B1"
        );
        assert_eq!(
            WaMeLink::new(Some(&phone()), None).unwrap().as_str(),
            "https://wa.me/5491123456789"
        );
        assert_eq!(
            WaMeLink::new(Some(&phone()), Some("  ")).unwrap().as_str(),
            "https://wa.me/5491123456789"
        );
    }

    #[test]
    fn without_a_number_the_link_shares_the_text() {
        assert_eq!(
            WaMeLink::new(None, Some("hi")).unwrap().as_str(),
            "https://wa.me/?text=hi"
        );
        assert_eq!(WaMeLink::new(None, None).unwrap_err().code(), "empty_link");
        assert_eq!(
            WaMeLink::new(None, Some(" ")).unwrap_err().code(),
            "empty_link"
        );
    }

    #[test]
    fn over_long_links_are_refused() {
        let err = WaMeLink::new(Some(&phone()), Some(&"ñ".repeat(400))).unwrap_err();
        assert_eq!(err.code(), "text_too_long");
        assert_eq!(err.field(), "text");
        let fits = "a".repeat(MAX_URL_LEN - "https://wa.me/5491123456789?text=".len());
        assert_eq!(
            WaMeLink::new(Some(&phone()), Some(&fits))
                .unwrap()
                .as_str()
                .len(),
            MAX_URL_LEN
        );
        let one_more = format!("{fits}a");
        assert!(WaMeLink::new(Some(&phone()), Some(&one_more)).is_err());
    }

    #[test]
    fn broken_encodings_are_refused() {
        assert_eq!(decode_text("%C3").unwrap_err().code(), "bad_encoding");
        assert_eq!(decode_text("100%").unwrap_err().code(), "bad_encoding");
        assert_eq!(decode_text("%zz").unwrap_err().code(), "bad_encoding");
        assert_eq!(decode_text("a+b").unwrap(), "a+b");
    }

    proptest! {
        #[test]
        fn decode_of_encode_is_identity(text in any::<String>()) {
            prop_assert_eq!(decode_text(&encode_text(&text)).unwrap(), text);
        }

        #[test]
        fn encoded_text_is_plain_ascii_without_separators(text in any::<String>()) {
            let encoded = encode_text(&text);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b)));
        }
    }
}
