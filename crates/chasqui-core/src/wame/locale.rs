//! Locale tags for prefilled texts and the fallback chain `es-AR → es → en`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LinkError;
use super::error::echo;

/// The last resort of every fallback chain: every context has an English text.
const LAST_RESORT: &str = "en";

/// A normalised language tag (`es`, `es-AR`, `pt-BR`, `es-419`, `zh-Hant-TW`).
///
/// Parsing accepts `_` for `-` and any case; the language is lower-cased, a script title-cased
/// and a region upper-cased, so `PT_br` and `pt-BR` are the same locale.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Locale(String);

impl Locale {
    /// Parses a tag `language[-Script][-REGION]`; anything else (`12`, `es-`, `english`) is refused.
    pub fn parse(tag: &str) -> Result<Self, LinkError> {
        let invalid = || LinkError::InvalidLocale { given: echo(tag) };
        let mut parts = tag.trim().split(['-', '_']);
        let language = parts
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && is_alpha(l))
            .ok_or_else(invalid)?;
        let mut normalised = language.to_ascii_lowercase();
        let mut rest: Vec<&str> = parts.collect();
        if let Some(script) = rest.first().filter(|s| s.len() == 4 && is_alpha(s)) {
            normalised.push('-');
            normalised.push_str(&script[..1].to_ascii_uppercase());
            normalised.push_str(&script[1..].to_ascii_lowercase());
            rest.remove(0);
        }
        match rest.as_slice() {
            [] => {}
            [region] if region.len() == 2 && is_alpha(region) => {
                normalised.push('-');
                normalised.push_str(&region.to_ascii_uppercase());
            }
            [region] if region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()) => {
                normalised.push('-');
                normalised.push_str(region);
            }
            _ => return Err(invalid()),
        }
        Ok(Self(normalised))
    }

    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// English, the locale every chain ends in.
    pub fn english() -> Self {
        Self(LAST_RESORT.to_owned())
    }

    /// The locales to try, most specific first, always ending in `en`: `es-AR → es → en`.
    pub fn fallback_chain(&self) -> Vec<Locale> {
        let mut chain = vec![self.clone()];
        let mut tag = self.0.as_str();
        while let Some((shorter, _)) = tag.rsplit_once('-') {
            chain.push(Self(shorter.to_owned()));
            tag = shorter;
        }
        if tag != LAST_RESORT {
            chain.push(Self::english());
        }
        chain
    }
}

fn is_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locale({})", self.0)
    }
}

impl FromStr for Locale {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chain(tag: &str) -> Vec<String> {
        Locale::parse(tag)
            .unwrap()
            .fallback_chain()
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(Locale::parse("PT_br").unwrap().as_str(), "pt-BR");
        assert_eq!(Locale::parse("es-419").unwrap().as_str(), "es-419");
        assert_eq!(Locale::parse("zh_hant_tw").unwrap().as_str(), "zh-Hant-TW");
        for bad in ["", "e", "english", "es-", "es-ARG", "12", "es-AR-x", "és"] {
            assert_eq!(
                Locale::parse(bad).unwrap_err().code(),
                "invalid_locale",
                "{bad}"
            );
        }
    }

    #[test]
    fn chains_end_in_english() {
        assert_eq!(chain("es-AR"), ["es-AR", "es", "en"]);
        assert_eq!(chain("pt-BR"), ["pt-BR", "pt", "en"]);
        assert_eq!(chain("fr-FR"), ["fr-FR", "fr", "en"]);
        assert_eq!(chain("en-GB"), ["en-GB", "en"]);
        assert_eq!(chain("en"), ["en"]);
        assert_eq!(chain("zh-Hant-TW"), ["zh-Hant-TW", "zh-Hant", "zh", "en"]);
    }
}
