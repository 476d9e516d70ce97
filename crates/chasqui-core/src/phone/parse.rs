//! Reading what people type into a validated E.164 number ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use rlibphonenumber::{
    NumberLengthType, PHONE_NUMBER_UTIL, ParseError, PhoneNumber, PhoneNumberFormat,
    ValidationError,
};
use serde::{Deserialize, Serialize};

use super::{PhoneError, PhoneType, RegionCode};

/// Longer input is refused before it reaches the metadata: no real number needs more.
const MAX_INPUT_CHARS: usize = 128;

/// E.164 allows at most 15 digits, country code included; the metadata allows national numbers
/// of up to 17 digits (some German ones pass its checks with 15 after `+49`), so it is checked here.
const MAX_E164_DIGITS: usize = 15;

/// A phone number that libphonenumber's current metadata calls valid, held as E.164 (`+5491123456789`).
///
/// The only way to get one is [`PhoneE164::parse`] (or [`parse`] for the details), so holding one
/// proves the number was checked. `Debug` prints it masked, so it can't leak into logs by accident.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneE164 {
    e164: String,
    country_code: u16,
}

/// A parsed number with what the metadata says about it, for API answers and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPhone {
    /// The number itself.
    pub phone: PhoneE164,
    /// What kind of line it is.
    pub number_type: PhoneType,
    /// The region it belongs to, when the calling code is geographic (`None` for `+800` numbers).
    pub region: Option<RegionCode>,
    /// An extension typed after the number (`x 123`); WhatsApp has none, so it is kept only to warn.
    pub extension: Option<String>,
}

/// Parses what a person typed (`011 15-2345-6789`, `+54 9 11 2345-6789`, `(650) 253-0000`, …).
///
/// `default_region` says how to read national numbers (no `+` / `00`); without it only
/// international numbers parse. Spaces, dots, dashes, brackets, `00`/`+`/`011` international
/// prefixes, national trunk prefixes (`0`, Argentina's `15`) and non-ASCII digits are understood.
/// Mexico's retired mobile forms (`+52 1 …`, `044`/`045`, the `01` long-distance prefix) are
/// rewritten to today's 10-digit numbers before validation, because the metadata rejects them.
pub fn parse(input: &str, default_region: Option<RegionCode>) -> Result<ParsedPhone, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let digit_count = trimmed.chars().filter(|c| c.is_numeric()).count();
    if digit_count == 0 {
        return Err(PhoneError::NoDigits);
    }
    let region_name = default_region.map_or_else(|| "any region".to_owned(), |r| r.to_string());
    if trimmed.chars().count() > MAX_INPUT_CHARS {
        return Err(PhoneError::TooLong {
            region: region_name,
            suggestion: None,
        });
    }
    let has_plus = trimmed.starts_with(['+', '\u{FF0B}']);
    match PHONE_NUMBER_UTIL.parse(trimmed, default_region.map(RegionCode::inner)) {
        Ok(number) => {
            if let Some(parsed) = valid(&number).or_else(|| mexico_legacy(&number)) {
                return Ok(parsed);
            }
            let suggestion = suggest(&number, trimmed, has_plus);
            Err(invalid_reason(&number).with_suggestion(suggestion))
        }
        Err(err) => Err(match err {
            ParseError::InvalidCountryCode if default_region.is_none() && !has_plus => {
                PhoneError::MissingCountryCode {
                    suggestion: with_plus(trimmed),
                }
            }
            ParseError::InvalidCountryCode => PhoneError::InvalidCountryCode { suggestion: None },
            ParseError::NotANumber(_) if digit_count <= 2 => PhoneError::TooShort {
                region: region_name,
                suggestion: None,
            },
            ParseError::NotANumber(_) => PhoneError::NotANumber,
            ParseError::TooShortAfterIdd | ParseError::TooShortNsn => PhoneError::TooShort {
                region: region_name,
                suggestion: None,
            },
            ParseError::TooLongNsn => PhoneError::TooLong {
                region: region_name,
                suggestion: None,
            },
        }),
    }
}

impl PhoneE164 {
    /// Parses and validates what a person typed; see [`parse`] for what is understood.
    pub fn parse(input: &str, default_region: Option<RegionCode>) -> Result<Self, PhoneError> {
        parse(input, default_region).map(|p| p.phone)
    }

    /// The E.164 form with its `+` (`+5491123456789`), as stored and sent to providers.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The digits without `+` (`5491123456789`), as wa.me links and WhatsApp ids write them.
    pub fn digits(&self) -> &str {
        &self.e164[1..]
    }

    /// The country calling code (`54`).
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The digits after the country calling code (`91123456789`).
    pub fn national_number(&self) -> &str {
        &self.digits()[country_code_len(self.country_code)..]
    }

    /// What kind of line this is, by the current metadata.
    pub fn number_type(&self) -> PhoneType {
        self.metadata().map_or(PhoneType::Unknown, |n| {
            PhoneType::from_metadata(n.get_type())
        })
    }

    /// The region the number belongs to (`None` for non-geographic codes such as `+800`).
    pub fn region(&self) -> Option<RegionCode> {
        self.metadata()
            .and_then(|n| n.get_region_code())
            .and_then(RegionCode::from_metadata)
    }

    /// Refuses numbers that cannot be a WhatsApp account's mobile (landlines, toll-free, …).
    ///
    /// Numbers the plan cannot classify (US, Mexico: "fixed line or mobile") pass. For an
    /// Argentine landline whose digits with the mobile `9` are a valid mobile, the error
    /// suggests that mobile: people often drop the `9`/`15`.
    pub fn require_mobile(&self) -> Result<(), PhoneError> {
        let number_type = self.number_type();
        if number_type.may_be_mobile() {
            return Ok(());
        }
        let suggestion = if self.country_code == 54 && !self.national_number().starts_with('9') {
            valid_mobile(&format!("+549{}", self.national_number()))
        } else {
            None
        };
        Err(PhoneError::NotMobile {
            number_type,
            suggestion,
        })
    }

    /// The international format people read (`+54 9 11 2345-6789`).
    pub fn format_international(&self) -> String {
        self.format(PhoneNumberFormat::International)
    }

    /// The national format people dial at home (`011 15-2345-6789`).
    pub fn format_national(&self) -> String {
        self.format(PhoneNumberFormat::National)
    }

    fn format(&self, format: PhoneNumberFormat) -> String {
        self.metadata().map_or_else(
            || self.e164.clone(),
            |n| PHONE_NUMBER_UTIL.format(&n, format).into_owned(),
        )
    }

    /// The metadata's view of this number; always `Some` since the number was valid when built.
    pub(crate) fn metadata(&self) -> Option<PhoneNumber> {
        PHONE_NUMBER_UTIL.parse(&self.e164, None).ok()
    }
}

/// `Some` when the metadata calls the number valid.
fn valid(number: &PhoneNumber) -> Option<ParsedPhone> {
    if !PHONE_NUMBER_UTIL.is_valid_number(number) {
        return None;
    }
    let e164 = PHONE_NUMBER_UTIL
        .format(number, PhoneNumberFormat::E164)
        .into_owned();
    if e164.len() > MAX_E164_DIGITS + 1 {
        return None;
    }
    let country_code = u16::try_from(number.country_code).ok()?;
    Some(ParsedPhone {
        phone: PhoneE164 { e164, country_code },
        number_type: PhoneType::from_metadata(PHONE_NUMBER_UTIL.get_number_type(number)),
        region: PHONE_NUMBER_UTIL
            .get_region_for_number(number)
            .and_then(RegionCode::from_metadata),
        extension: number.extension.clone().filter(|e| !e.is_empty()),
    })
}

/// Mexico dropped the mobile `1` (`+52 1 …`), `044`/`045` and the `01` prefix in 2019; people still type them.
fn mexico_legacy(number: &PhoneNumber) -> Option<ParsedPhone> {
    if number.country_code != 52 {
        return None;
    }
    let nsn = number.get_national_significant_number();
    let rest = match nsn.len() {
        11 => nsn.strip_prefix('1'),
        12 => nsn.strip_prefix("01"),
        13 => nsn.strip_prefix("044").or_else(|| nsn.strip_prefix("045")),
        _ => None,
    }?;
    let mut fixed = PHONE_NUMBER_UTIL.parse(format!("+52{rest}"), None).ok()?;
    fixed.extension = number.extension.clone();
    valid(&fixed)
}

/// Turns an invalid-but-parsed number into the most precise reason.
fn invalid_reason(number: &PhoneNumber) -> PhoneError {
    let region = region_label(number);
    let suggestion = None;
    if PHONE_NUMBER_UTIL
        .format(number, PhoneNumberFormat::E164)
        .len()
        > MAX_E164_DIGITS + 1
    {
        return PhoneError::TooLong { region, suggestion };
    }
    match PHONE_NUMBER_UTIL.is_possible_number_with_reason(number) {
        Err(ValidationError::InvalidCountryCode) => PhoneError::InvalidCountryCode { suggestion },
        Err(ValidationError::TooShort) => PhoneError::TooShort { region, suggestion },
        Err(ValidationError::TooLong) => PhoneError::TooLong { region, suggestion },
        Err(ValidationError::InvalidLength) => PhoneError::InvalidLength { region, suggestion },
        Ok(NumberLengthType::IsPossibleLocalOnly) => {
            PhoneError::MissingAreaCode { region, suggestion }
        }
        Ok(NumberLengthType::IsPossible) => PhoneError::NotValid { region, suggestion },
    }
}

/// `AR` for numbers of one region, `+<code>` when the code has none or several candidates.
fn region_label(number: &PhoneNumber) -> String {
    PHONE_NUMBER_UTIL
        .get_region_for_number(number)
        .or_else(|| PHONE_NUMBER_UTIL.get_region_for_country_code(number.country_code))
        .and_then(RegionCode::from_metadata)
        .map_or_else(|| format!("+{}", number.country_code), |r| r.to_string())
}

/// What the user obviously meant, if anything: a missing `+`, Argentina's mobile `9`, Brazil's 9th digit.
fn suggest(number: &PhoneNumber, input: &str, has_plus: bool) -> Option<String> {
    if !has_plus && let Some(s) = with_plus(input) {
        return Some(s);
    }
    let nsn = number.get_national_significant_number();
    match number.country_code {
        54 if !nsn.starts_with('9') => valid_mobile(&format!("+549{nsn}")),
        55 if nsn.len() == 10 => valid_mobile(&format!("+55{}9{}", &nsn[..2], &nsn[2..])),
        _ => None,
    }
}

/// The input's digits read as an international number, if that is valid.
fn with_plus(input: &str) -> Option<String> {
    let digits = PHONE_NUMBER_UTIL.normalize_digits_only(input);
    let candidate = PHONE_NUMBER_UTIL.parse(format!("+{digits}"), None).ok()?;
    valid(&candidate).map(|p| p.phone.e164)
}

fn valid_mobile(e164: &str) -> Option<String> {
    let number = PHONE_NUMBER_UTIL.parse(e164, None).ok()?;
    valid(&number)
        .filter(|p| p.number_type.may_be_mobile())
        .map(|p| p.phone.e164)
}

fn country_code_len(code: u16) -> usize {
    match code {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl fmt::Debug for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneE164").field(&self.masked()).finish()
    }
}

impl FromStr for PhoneE164 {
    type Err = PhoneError;

    /// Reads an international number (as stored); national numbers need [`PhoneE164::parse`] and a region.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, None)
    }
}

impl Serialize for PhoneE164 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.e164)
    }
}

impl<'de> Deserialize<'de> for PhoneE164 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::phone::WaId;
    use proptest::prelude::*;

    fn region(code: &str) -> Option<RegionCode> {
        Some(RegionCode::parse(code).unwrap())
    }

    fn e164(input: &str, code: &str) -> String {
        PhoneE164::parse(input, region(code)).unwrap().to_string()
    }

    #[test]
    fn what_people_type_in_each_country() {
        assert_eq!(e164("011 15-2345-6789", "AR"), "+5491123456789");
        assert_eq!(e164("0343 15 555 1212", "AR"), "+5493435551212");
        assert_eq!(e164("+54 9 11 2345-6789", "AR"), "+5491123456789");
        assert_eq!(e164("06 12 34 56 78", "FR"), "+33612345678");
        assert_eq!(e164("+91 98765 43210", "IN"), "+919876543210");
        assert_eq!(e164("(650) 253-0000", "US"), "+16502530000");
        assert_eq!(e164("55 1234 5678", "MX"), "+525512345678");
        assert_eq!(e164("(11) 91234-5678", "BR"), "+5511912345678");
        assert_eq!(e164("0054 9 11 2345.6789", "AR"), "+5491123456789");
        assert_eq!(e164("00 33 6 12 34 56 78", "AR"), "+33612345678");
    }

    #[test]
    fn the_number_says_what_it_is() {
        let parsed = parse("011 15-2345-6789", region("AR")).unwrap();
        assert_eq!(parsed.number_type, PhoneType::Mobile);
        assert_eq!(parsed.region, region("AR"));
        assert_eq!(parsed.phone.country_code(), 54);
        assert_eq!(parsed.phone.national_number(), "91123456789");
        assert_eq!(parsed.phone.digits(), "5491123456789");
        assert_eq!(parsed.phone.format_international(), "+54 9 11 2345-6789");
        assert_eq!(parsed.phone.number_type(), PhoneType::Mobile);
        assert_eq!(parsed.phone.region(), region("AR"));
        let toll_free = parse("0800-123-4567", region("AR")).unwrap();
        assert_eq!(toll_free.number_type, PhoneType::TollFree);
    }

    #[test]
    fn mexico_legacy_mobile_forms_become_todays_number() {
        for typed in [
            "+52 1 33 1234-5678",
            "044 (33) 1234-5678",
            "045 33 1234-5678",
            "+5213312345678",
        ] {
            assert_eq!(e164(typed, "MX"), "+523312345678", "{typed}");
        }
        assert_eq!(e164("01 (449)978-0001", "MX"), "+524499780001");
    }

    #[test]
    fn errors_say_why() {
        let code = |input: &str, r: Option<&str>| {
            PhoneE164::parse(input, r.and_then(region))
                .unwrap_err()
                .code()
        };
        assert_eq!(code("", Some("AR")), "empty");
        assert_eq!(code("   ", Some("AR")), "empty");
        assert_eq!(code("call me", Some("AR")), "no_digits");
        assert_eq!(code("1", Some("US")), "too_short");
        assert_eq!(code("(213) 37", Some("US")), "too_short");
        assert_eq!(code("222222222222222222", Some("US")), "too_long");
        assert_eq!(code("+999 1234 5678", None), "invalid_country_code");
        assert_eq!(code("011 2345 678", None), "missing_country_code");
        assert_eq!(code("+1 187 215 5230", None), "not_valid");
        assert_eq!(code("2345 6789", Some("AR")), "missing_area_code");
        assert_eq!(code(&"1".repeat(200), Some("US")), "too_long");
    }

    /// Found by fuzzing (`fuzz/`, target `phone`): the metadata calls this German number valid,
    /// but its 17 digits are no E.164 number and no WhatsApp id.
    #[test]
    fn more_than_fifteen_digits_is_too_long_even_when_the_metadata_allows_it() {
        for typed in [
            "+49 30 99493099 99212",
            "+)4 // /93//////// ( 0YY)4 // /93//////// ( 0YYYY212",
        ] {
            let err = PhoneE164::parse(typed, None).unwrap_err();
            assert_eq!(err.code(), "too_long", "{typed}");
            assert_eq!(err.to_string(), "too long for a phone number in DE");
        }
        let longest = PhoneE164::parse("+49 30 9949309999", None).unwrap();
        assert!(longest.digits().len() <= 15);
        assert!(WaId::parse(longest.digits()).is_ok());
    }

    #[test]
    fn errors_name_the_region() {
        let err = PhoneE164::parse("+54 23 1234 0000", None).unwrap_err();
        assert_eq!(err.to_string(), "not a valid phone number in AR");
    }

    #[test]
    fn a_missing_plus_is_suggested() {
        let err = PhoneE164::parse("5491123456789", region("US")).unwrap_err();
        assert_eq!(err.suggestion(), Some("+5491123456789"));
        let err = PhoneE164::parse("33 6 12 34 56 78", None).unwrap_err();
        assert_eq!(err.code(), "missing_country_code");
        assert_eq!(err.suggestion(), Some("+33612345678"));
    }

    #[test]
    fn brazil_missing_ninth_digit_is_suggested() {
        let err = PhoneE164::parse("(11) 8765-4321", region("BR")).unwrap_err();
        assert_eq!(err.suggestion(), Some("+5511987654321"), "{err}");
    }

    #[test]
    fn a_landline_is_refused_where_a_mobile_is_needed() {
        let landline = PhoneE164::parse("011 2345-6789", region("AR")).unwrap();
        let err = landline.require_mobile().unwrap_err();
        assert_eq!(err.code(), "not_mobile");
        assert_eq!(err.suggestion(), Some("+5491123456789"));
        assert!(
            err.to_string()
                .starts_with("this is a landline, but a mobile number is needed")
        );
        let toll_free = PhoneE164::parse("0800-123-4567", region("AR")).unwrap();
        assert_eq!(toll_free.require_mobile().unwrap_err().suggestion(), None);
        for mobile in [
            ("011 15-2345-6789", "AR"),
            ("(650) 253-0000", "US"),
            ("55 1234 5678", "MX"),
        ] {
            PhoneE164::parse(mobile.0, region(mobile.1))
                .unwrap()
                .require_mobile()
                .unwrap();
        }
    }

    #[test]
    fn extensions_are_kept_apart() {
        let parsed = parse("(800) 901-3355 x 7246433", region("US")).unwrap();
        assert_eq!(parsed.phone.as_str(), "+18009013355");
        assert_eq!(parsed.extension.as_deref(), Some("7246433"));
    }

    #[test]
    fn debug_is_masked_and_serde_round_trips() {
        let phone = PhoneE164::parse("+54 9 11 2345-6789", None).unwrap();
        assert_eq!(format!("{phone:?}"), "PhoneE164(\"+54 9 11 ****-6789\")");
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, "\"+5491123456789\"");
        assert_eq!(serde_json::from_str::<PhoneE164>(&json).unwrap(), phone);
        assert!(serde_json::from_str::<PhoneE164>("\"+5423\"").is_err());
    }

    /// Numbers built from real prefixes, with random subscriber digits.
    fn plausible_number() -> impl Strategy<Value = String> {
        let prefixes = prop::sample::select(vec![
            ("+54 9 11 ", 8),
            ("+54 11 ", 8),
            ("+54 9 343 ", 7),
            ("+1 650 ", 7),
            ("+1 212 ", 7),
            ("+33 6 ", 8),
            ("+33 1 ", 8),
            ("+55 11 9", 8),
            ("+55 21 ", 8),
            ("+52 55 ", 8),
            ("+52 33 ", 8),
            ("+91 98", 8),
            ("+34 6", 8),
            ("+44 7", 9),
            ("+39 06 ", 8),
            ("+49 151 ", 8),
        ]);
        prefixes.prop_flat_map(|(prefix, n)| {
            proptest::collection::vec(0u8..10, n).prop_map(move |d| {
                let digits: String = d.iter().map(|x| char::from(b'0' + x)).collect();
                format!("{prefix}{digits}")
            })
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics(input in any::<String>(), code in "[A-Z]{2}") {
            let _ = parse(&input, RegionCode::parse(&code).ok());
        }

        #[test]
        fn parsing_phone_like_text_never_panics(input in "[+＋0-9０-９ ()\\-.xX#*,;a-z]{0,40}") {
            let _ = parse(&input, region("AR"));
            let _ = parse(&input, None);
        }

        #[test]
        fn formatting_and_parsing_back_is_identity(typed in plausible_number()) {
            let parsed = PhoneE164::parse(&typed, None);
            // Random subscriber digits are not always allocated; proptest fails if too few are.
            prop_assume!(parsed.is_ok());
            let phone = parsed.unwrap();
            prop_assert_eq!(&PhoneE164::parse(phone.as_str(), None).unwrap(), &phone);
            prop_assert_eq!(&PhoneE164::parse(&phone.format_international(), None).unwrap(), &phone);
            let national = phone.format_national();
            // Argentina writes mobiles as `0AA 15 XXXX-XXXX`, so a national form whose local part
            // starts with 15 is ambiguous by design (`011 1500-0000`); the E.164 forms above are not.
            let ambiguous_15 = phone.country_code() == 54 && national.split(' ').nth(1).is_some_and(|l| l.starts_with("15"));
            if !ambiguous_15 {
                prop_assert_eq!(&PhoneE164::parse(&national, phone.region()).unwrap(), &phone);
            }
            prop_assert_eq!(&phone.as_str().parse::<PhoneE164>().unwrap(), &phone);
        }
    }
}
