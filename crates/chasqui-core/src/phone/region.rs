//! ISO 3166 region codes known to the phone-number metadata (`AR`, `MX`, `US`, …).

use std::fmt;
use std::str::FromStr;

use rlibphonenumber::PHONE_NUMBER_UTIL;
use rlibphonenumber::enums::Region;
use serde::{Deserialize, Serialize};

use super::PhoneError;

/// A region the phone metadata knows (shown upper-case, `AR`), so a tenant's default region is never a typo.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(Region);

impl RegionCode {
    /// Parses a two-letter region code, case-insensitively (`ar`, `AR`); `001` and unknown codes are refused.
    pub fn parse(code: &str) -> Result<Self, PhoneError> {
        let unknown = || PhoneError::UnknownRegion {
            region: truncate_for_message(code),
        };
        let trimmed = code.trim();
        let region = Region::from_code(trimmed).map_err(|_| unknown())?;
        if region == Region::World
            || PHONE_NUMBER_UTIL
                .get_country_code_for_region(region)
                .is_none()
        {
            return Err(unknown());
        }
        Ok(Self(region))
    }

    /// The country calling code dialled for this region (`54` for `AR`).
    pub fn calling_code(&self) -> u16 {
        PHONE_NUMBER_UTIL
            .get_country_code_for_region(self.0)
            .and_then(|cc| u16::try_from(cc).ok())
            .unwrap_or(0)
    }

    pub(crate) fn from_metadata(region: Region) -> Option<Self> {
        PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .map(|_| Self(region))
    }

    pub(crate) fn inner(self) -> Region {
        self.0
    }
}

/// Keeps error messages short even when a client sends a huge "region".
fn truncate_for_message(code: &str) -> String {
    code.chars().take(16).collect()
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.as_region_str())
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for RegionCode {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_parse_in_any_case() {
        assert_eq!(
            RegionCode::parse("ar").map(|r| r.to_string()),
            Ok("AR".to_owned())
        );
        assert_eq!(RegionCode::parse(" MX ").map(|r| r.calling_code()), Ok(52));
    }

    #[test]
    fn unknown_and_malformed_regions_are_refused() {
        for bad in ["ZZ", "XX", "ARG", "", "001", "1A", "ñu"] {
            let err = RegionCode::parse(bad).unwrap_err();
            assert_eq!(err.code(), "unknown_region", "{bad}");
            assert_eq!(err.field(), "region");
        }
    }
}
