//! Attribution codes carried in a prefilled message, so an inbound chat can be traced to its invoice or campaign.
//!
//! Format: the message, a newline, then `[ref:CODE]`, e.g.
//!
//! ```text
//! ¡Hola! Te escribo por la factura A-0042 de $ 12.500.
//! [ref:INV-0042]
//! ```
//!
//! `CODE` is 1 to 24 characters of `A-Z`, `0-9` and inner `-`: no `_`, `*` or `~`, which
//! WhatsApp would take as formatting, and nothing a keyboard's autocorrect likes to change. The
//! marker reads as a reference to a person who sees it, and survives them typing more text
//! before or after it. Reading is lenient: any case, spaces around the code and the colon
//! (`[REF: inv-0042 ]`), and the last marker wins, so a customer quoting an older message
//! still counts for the newest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LinkError;

/// Longest code: short enough to read aloud, long enough for `CAMPAIGN-2026-03-A`.
pub const MAX_REF_LEN: usize = 24;

/// A validated attribution code, upper-cased (`INV-0042`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefCode(String);

impl RefCode {
    /// Parses a code; lower case is accepted and upper-cased.
    pub fn parse(code: &str) -> Result<Self, LinkError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(LinkError::RefEmpty);
        }
        if let Some(found) = code
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(LinkError::RefInvalidChar { found });
        }
        if code.starts_with('-') || code.ends_with('-') {
            return Err(LinkError::RefInvalidChar { found: '-' });
        }
        if code.len() > MAX_REF_LEN {
            return Err(LinkError::RefTooLong { max: MAX_REF_LEN });
        }
        Ok(Self(code.to_ascii_uppercase()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Adds the `[ref:CODE]` marker on its own line after the message (or alone, for no message).
pub fn append_ref(text: &str, code: &RefCode) -> String {
    if text.trim().is_empty() {
        format!("[ref:{}]", code.0)
    } else {
        format!("{text}\n[ref:{}]", code.0)
    }
}

/// Finds the last valid `[ref:CODE]` marker in a received message.
pub fn extract_ref(message: &str) -> Option<RefCode> {
    message
        .match_indices('[')
        .rev()
        .find_map(|(i, _)| marker_at(&message[i + 1..]))
}

/// Reads `ref : CODE ]` right after a `[`.
fn marker_at(after_bracket: &str) -> Option<RefCode> {
    let head = after_bracket.get(..3)?;
    if !head.eq_ignore_ascii_case("ref") {
        return None;
    }
    let rest = after_bracket[3..].trim_start().strip_prefix(':')?;
    let close = rest.find(']')?;
    RefCode::parse(&rest[..close]).ok()
}

impl fmt::Display for RefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefCode({})", self.0)
    }
}

impl FromStr for RefCode {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for RefCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RefCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> RefCode {
        RefCode::parse(s).unwrap()
    }

    #[test]
    fn codes_are_short_plain_and_upper_case() {
        assert_eq!(code(" inv-0042 ").as_str(), "INV-0042");
        assert_eq!(RefCode::parse("").unwrap_err().code(), "ref_empty");
        assert_eq!(
            RefCode::parse("INV_42").unwrap_err().code(),
            "ref_invalid_char"
        );
        assert_eq!(
            RefCode::parse("-42").unwrap_err().code(),
            "ref_invalid_char"
        );
        assert_eq!(RefCode::parse("Ñ1").unwrap_err().code(), "ref_invalid_char");
        assert_eq!(
            RefCode::parse(&"A".repeat(MAX_REF_LEN + 1))
                .unwrap_err()
                .code(),
            "ref_too_long"
        );
        assert_eq!(RefCode::parse("A A").unwrap_err().field(), "ref");
    }

    #[test]
    fn the_marker_goes_on_its_own_line() {
        assert_eq!(
            append_ref("Hola!", &code("INV-0042")),
            "Hola!\n[ref:INV-0042]"
        );
        assert_eq!(append_ref("", &code("INV-0042")), "[ref:INV-0042]");
    }

    #[test]
    fn reading_is_lenient_and_the_last_marker_wins() {
        assert_eq!(
            extract_ref("Hola [REF: inv-0042 ] gracias"),
            Some(code("INV-0042"))
        );
        assert_eq!(
            extract_ref("[ref:OLD-1]\n> quoted\n[ref:NEW-2]"),
            Some(code("NEW-2"))
        );
        assert_eq!(
            extract_ref("[ref:NEW-2] and [ref:broken_"),
            Some(code("NEW-2"))
        );
        assert_eq!(extract_ref("no marker [reference] [ref:] [ref:A_B]"), None);
        assert_eq!(extract_ref("[ñ[ref:X1]"), Some(code("X1")));
    }

    proptest! {
        #[test]
        fn extract_of_append_is_the_code(text in any::<String>(), raw in "[A-Za-z0-9]([A-Za-z0-9-]{0,22}[A-Za-z0-9])?") {
            let code = code(&raw);
            prop_assert_eq!(extract_ref(&append_ref(&text, &code)), Some(code));
        }

        #[test]
        fn extracting_never_panics(text in any::<String>()) {
            let _ = extract_ref(&text);
        }
    }
}
