//! Why a phone number was refused, precise enough for a 422 on field `phone` with a useful message.

/// Why a phone number (or its region) was refused; each variant has a stable [`code`](Self::code).
///
/// `region` fields hold the region the number was judged in (`AR`), or `+<country code>` when the
/// calling code maps to no single region. `suggestion` fields hold an E.164 number when what the
/// user meant is obvious (an Argentine mobile missing its `9`, a number missing its leading `+`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was given.
    #[error("the phone number is empty")]
    Empty,
    /// Text with no digits at all.
    #[error("no digits found: this does not look like a phone number")]
    NoDigits,
    /// Digits, but not in any shape a phone number can have.
    #[error("this does not look like a phone number")]
    NotANumber,
    /// The default region is not a region code the metadata knows.
    #[error(
        "unknown region code `{region}`: expected a two-letter ISO 3166 code such as AR, MX or US"
    )]
    UnknownRegion {
        /// What was given (truncated).
        region: String,
    },
    /// A national number with no region to read it in.
    #[error(
        "the number has no country code: write it with + and the country code, or give a region{}",
        did_you_mean(.suggestion)
    )]
    MissingCountryCode {
        /// The number read as international, when that is valid.
        suggestion: Option<String>,
    },
    /// `+` followed by digits that start no country calling code.
    #[error("invalid country calling code{}", did_you_mean(.suggestion))]
    InvalidCountryCode {
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// Fewer digits than any number in the region.
    #[error("too short for a phone number in {region}{}", did_you_mean(.suggestion))]
    TooShort {
        /// Region the number was read in.
        region: String,
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// More digits than any number in the region.
    #[error("too long for a phone number in {region}{}", did_you_mean(.suggestion))]
    TooLong {
        /// Region the number was read in.
        region: String,
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// A length between the shortest and the longest, but matching no kind of number.
    #[error("wrong number of digits for a phone number in {region}{}", did_you_mean(.suggestion))]
    InvalidLength {
        /// Region the number was read in.
        region: String,
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// Long enough only for a local call: the area code is missing.
    #[error("this looks like a local number in {region}: add the area code{}", did_you_mean(.suggestion))]
    MissingAreaCode {
        /// Region the number was read in.
        region: String,
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// The right length, but no such number is allocated in the region.
    #[error("not a valid phone number in {region}{}", did_you_mean(.suggestion))]
    NotValid {
        /// Region the number was read in.
        region: String,
        /// A likely intended number.
        suggestion: Option<String>,
    },
    /// A valid number where only a mobile (a possible WhatsApp account) will do.
    #[error("this is {}, but a mobile number is needed{}", .number_type.describe(), did_you_mean(.suggestion))]
    NotMobile {
        /// What the number is.
        number_type: super::PhoneType,
        /// The mobile that was probably meant (Argentina: the same digits with the mobile `9`).
        suggestion: Option<String>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => String::new(),
    }
}

impl PhoneError {
    /// A stable snake_case code for API clients and tests; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NoDigits => "no_digits",
            Self::NotANumber => "not_a_number",
            Self::UnknownRegion { .. } => "unknown_region",
            Self::MissingCountryCode { .. } => "missing_country_code",
            Self::InvalidCountryCode { .. } => "invalid_country_code",
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::InvalidLength { .. } => "invalid_length",
            Self::MissingAreaCode { .. } => "missing_area_code",
            Self::NotValid { .. } => "not_valid",
            Self::NotMobile { .. } => "not_mobile",
        }
    }

    /// The request field at fault: `region` for a bad region code, `phone` for everything else.
    pub fn field(&self) -> &'static str {
        match self {
            Self::UnknownRegion { .. } => "region",
            _ => "phone",
        }
    }

    /// What the user probably meant, as E.164, when it is obvious.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            Self::MissingCountryCode { suggestion }
            | Self::InvalidCountryCode { suggestion }
            | Self::TooShort { suggestion, .. }
            | Self::TooLong { suggestion, .. }
            | Self::InvalidLength { suggestion, .. }
            | Self::MissingAreaCode { suggestion, .. }
            | Self::NotValid { suggestion, .. }
            | Self::NotMobile { suggestion, .. } => suggestion.as_deref(),
            Self::Empty | Self::NoDigits | Self::NotANumber | Self::UnknownRegion { .. } => None,
        }
    }

    pub(crate) fn with_suggestion(mut self, new: Option<String>) -> Self {
        match &mut self {
            Self::MissingCountryCode { suggestion }
            | Self::InvalidCountryCode { suggestion }
            | Self::TooShort { suggestion, .. }
            | Self::TooLong { suggestion, .. }
            | Self::InvalidLength { suggestion, .. }
            | Self::MissingAreaCode { suggestion, .. }
            | Self::NotValid { suggestion, .. }
            | Self::NotMobile { suggestion, .. } => *suggestion = new,
            Self::Empty | Self::NoDigits | Self::NotANumber | Self::UnknownRegion { .. } => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_why_and_what_was_meant() {
        let err = PhoneError::NotValid {
            region: "AR".into(),
            suggestion: Some("+5491123456789".into()),
        };
        assert_eq!(
            err.to_string(),
            "not a valid phone number in AR (did you mean +5491123456789?)"
        );
        assert_eq!(err.code(), "not_valid");
        assert_eq!(err.field(), "phone");
        let err = PhoneError::NotMobile {
            number_type: super::super::PhoneType::FixedLine,
            suggestion: None,
        };
        assert_eq!(
            err.to_string(),
            "this is a landline, but a mobile number is needed"
        );
    }
}
