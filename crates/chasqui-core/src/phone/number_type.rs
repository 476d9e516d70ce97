//! What kind of line a number is, from the libphonenumber metadata.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of line behind a number; WhatsApp lives on mobiles, so callers check this before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneType {
    /// A landline.
    FixedLine,
    /// A mobile phone.
    Mobile,
    /// The numbering plan does not tell landlines from mobiles (US, Canada, Mexico, parts of India).
    FixedLineOrMobile,
    /// Free for the caller (`0800`, `1-800`).
    TollFree,
    /// Charged above normal rates.
    PremiumRate,
    /// Cost split between caller and receiver.
    SharedCost,
    /// Internet telephony.
    Voip,
    /// A personal number that forwards to another line.
    PersonalNumber,
    /// A pager.
    Pager,
    /// A company-wide universal access number.
    Uan,
    /// Direct voicemail access.
    Voicemail,
    /// Valid but of no known kind.
    Unknown,
}

impl PhoneType {
    /// The stable snake_case name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FixedLine => "fixed_line",
            Self::Mobile => "mobile",
            Self::FixedLineOrMobile => "fixed_line_or_mobile",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::Voip => "voip",
            Self::PersonalNumber => "personal_number",
            Self::Pager => "pager",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Unknown => "unknown",
        }
    }

    /// Whether a WhatsApp account may live on it: mobiles, and numbers the plan cannot classify.
    pub fn may_be_mobile(self) -> bool {
        matches!(self, Self::Mobile | Self::FixedLineOrMobile)
    }

    /// A short human phrase for error messages ("a landline", "a toll-free number").
    pub fn describe(self) -> &'static str {
        match self {
            Self::FixedLine => "a landline",
            Self::Mobile => "a mobile number",
            Self::FixedLineOrMobile => "a landline or mobile number",
            Self::TollFree => "a toll-free number",
            Self::PremiumRate => "a premium-rate number",
            Self::SharedCost => "a shared-cost number",
            Self::Voip => "an internet (VoIP) number",
            Self::PersonalNumber => "a personal forwarding number",
            Self::Pager => "a pager number",
            Self::Uan => "a company access number",
            Self::Voicemail => "a voicemail access number",
            Self::Unknown => "a number of unknown kind",
        }
    }

    pub(crate) fn from_metadata(t: rlibphonenumber::PhoneNumberType) -> Self {
        use rlibphonenumber::PhoneNumberType as T;
        match t {
            T::FixedLine => Self::FixedLine,
            T::Mobile => Self::Mobile,
            T::FixedLineOrMobile => Self::FixedLineOrMobile,
            T::TollFree => Self::TollFree,
            T::PremiumRate => Self::PremiumRate,
            T::SharedCost => Self::SharedCost,
            T::VoIP => Self::Voip,
            T::PersonalNumber => Self::PersonalNumber,
            T::Pager => Self::Pager,
            T::UAN => Self::Uan,
            T::VoiceMail => Self::Voicemail,
            T::Unknown => Self::Unknown,
        }
    }
}

impl fmt::Display for PhoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
