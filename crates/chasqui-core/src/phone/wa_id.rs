//! WhatsApp ids: the digits WhatsApp uses for a person, which can differ from their E.164 number.
//!
//! Three countries matter (see `shared/reference/cloud-api.md` §9):
//! - Argentina: mobile ids are `549` + area + number; CRMs and Meta's development allow-list
//!   often hold the same mobile as `54` + area + number. A `54…` id *without* the 9 is a landline
//!   WhatsApp Business account, a different subscriber.
//! - Mexico: mobile ids keep the `1` dropped in 2019 (`521` + 10 digits) while numbers are stored
//!   as `52` + 10 digits.
//! - Brazil: accounts registered before the 9th digit keep a 12-digit id (`55` + DDD + 8 digits).
//!   Only subscriber numbers starting 6–9 were mobiles then; 2–5 are landlines and never match.
//!
//! The rules never attach a landline account to a mobile contact: a landline's key never equals
//! a mobile's key, and the one asymmetric rule (Argentina) only lets a `549…` mobile find a contact
//! stored in the `54…` form, never the reverse.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{PhoneE164, PhoneType};

/// Longest id accepted: E.164 numbers have at most 15 digits.
const MAX_DIGITS: usize = 15;

/// The digits WhatsApp identifies a person by (`5491123456789`), as received in `wa_id` / `from`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaId(String);

/// A canonical key for finding a contact: two ids with equal keys are the same WhatsApp account.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactKey(String);

/// Why a string is not a WhatsApp id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaIdError {
    /// Nothing was given.
    #[error("the WhatsApp id is empty")]
    Empty,
    /// Something other than digits, after an optional `whatsapp:` and `+`.
    #[error("a WhatsApp id is digits only (optionally `+` or `whatsapp:+` before them)")]
    NotDigits,
    /// More digits than any phone number has.
    #[error("a WhatsApp id has at most {MAX_DIGITS} digits")]
    TooLong,
}

impl WaIdError {
    /// A stable snake_case code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "wa_id_empty",
            Self::NotDigits => "wa_id_not_digits",
            Self::TooLong => "wa_id_too_long",
        }
    }

    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        "wa_id"
    }
}

impl WaId {
    /// Reads an id as providers send it: `5491123456789`, `+5491123456789` or Twilio's `whatsapp:+5491123456789`.
    pub fn parse(input: &str) -> Result<Self, WaIdError> {
        let s = input.trim();
        let s = s.strip_prefix("whatsapp:").unwrap_or(s);
        let s = s.strip_prefix('+').unwrap_or(s);
        if s.is_empty() {
            return Err(WaIdError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WaIdError::NotDigits);
        }
        if s.len() > MAX_DIGITS {
            return Err(WaIdError::TooLong);
        }
        Ok(Self(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Twilio's address form (`whatsapp:+5491123456789`).
    pub fn to_twilio_address(&self) -> String {
        format!("whatsapp:+{}", self.0)
    }

    /// The canonical key to store and index contacts by.
    ///
    /// Mexico `521`+10 becomes `52`+10 (unless the 10 digits are a known landline); a Brazilian
    /// 12-digit mobile id gains its 9th digit (unless the 12 digits are a known landline);
    /// everything else, Argentina included, is its own key.
    pub fn contact_key(&self) -> ContactKey {
        let d = self.0.as_str();
        if let Some(rest) = d.strip_prefix("521").filter(|r| r.len() == 10) {
            let without_one = format!("52{rest}");
            if metadata_type(&without_one) != Some(PhoneType::FixedLine) {
                return ContactKey(without_one);
            }
        }
        if let Some(rest) = d.strip_prefix("55").filter(|r| r.len() == 10) {
            let twelve_is_landline = metadata_type(d).is_some_and(|t| !t.may_be_mobile());
            let with_nine = format!("55{}9{}", &rest[..2], &rest[2..]);
            if !twelve_is_landline && metadata_type(&with_nine) == Some(PhoneType::Mobile) {
                return ContactKey(with_nine);
            }
        }
        ContactKey(self.0.clone())
    }

    /// Keys under which an existing contact for this incoming id may be stored, best first.
    ///
    /// Its own [`contact_key`](Self::contact_key), then for an Argentine mobile (`549`+10) the
    /// `54`+10 form CRMs and Meta's allow-list use. An Argentine `54…` landline id gets only its
    /// own key, so it is never routed to a `549…` mobile contact.
    pub fn lookup_keys(&self) -> Vec<ContactKey> {
        let mut keys = vec![self.contact_key()];
        if let Some(rest) = self.0.strip_prefix("549").filter(|r| r.len() == 10) {
            keys.push(ContactKey(format!("54{rest}")));
        }
        keys
    }

    /// The `54`+10 form of an Argentine mobile id, to retry a send Meta refused with 131030.
    ///
    /// In development mode Meta's allow-list compares the literal number stored without the 9,
    /// so `549…` fails and `54…` is delivered; in production both work.
    pub fn allow_list_form(&self) -> Option<WaId> {
        self.0
            .strip_prefix("549")
            .filter(|r| r.len() == 10)
            .map(|rest| WaId(format!("54{rest}")))
    }
}

/// Whether a message from `incoming` belongs to the contact stored as `stored`.
pub fn same_person(incoming: &WaId, stored: &WaId) -> bool {
    let key = stored.contact_key();
    incoming.lookup_keys().contains(&key)
}

/// The id to send to for a stored number: the last id WhatsApp gave for this person if it is
/// theirs (Meta's canonical form, e.g. Mexico's `521…`), else the number's own digits.
pub fn send_to(phone: &PhoneE164, last_seen: Option<&WaId>) -> WaId {
    let own = WaId::from(phone);
    match last_seen {
        Some(seen) if same_person(seen, &own) => seen.clone(),
        _ => own,
    }
}

/// The kind of line `digits` are by the metadata, `None` when they are no valid number.
fn metadata_type(digits: &str) -> Option<PhoneType> {
    crate::phone::parse(&format!("+{digits}"), None)
        .ok()
        .map(|p| p.number_type)
}

impl From<&PhoneE164> for WaId {
    fn from(phone: &PhoneE164) -> Self {
        Self(phone.digits().to_owned())
    }
}

impl ContactKey {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WaId")
            .field(&super::mask_digits(&self.0))
            .finish()
    }
}

impl fmt::Display for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContactKey")
            .field(&super::mask_digits(&self.0))
            .finish()
    }
}

impl Serialize for WaId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> WaId {
        WaId::parse(s).unwrap()
    }

    #[test]
    fn provider_forms_parse_to_digits() {
        assert_eq!(id("5491123456789").as_str(), "5491123456789");
        assert_eq!(id("+5491123456789").as_str(), "5491123456789");
        assert_eq!(id("whatsapp:+5491123456789").as_str(), "5491123456789");
        assert_eq!(
            id("5491123456789").to_twilio_address(),
            "whatsapp:+5491123456789"
        );
        assert_eq!(WaId::parse("").unwrap_err().code(), "wa_id_empty");
        assert_eq!(
            WaId::parse("54 911").unwrap_err().code(),
            "wa_id_not_digits"
        );
        assert_eq!(
            WaId::parse("1234567890123456").unwrap_err().code(),
            "wa_id_too_long"
        );
    }

    #[test]
    fn argentina_mobile_finds_a_contact_stored_without_the_nine_but_not_the_reverse() {
        assert!(same_person(&id("5491112345678"), &id("541112345678")));
        assert!(!same_person(&id("541112345678"), &id("5491112345678")));
        assert_eq!(
            id("5491112345678").allow_list_form(),
            Some(id("541112345678"))
        );
        assert_eq!(id("541112345678").allow_list_form(), None);
    }

    #[test]
    fn mexico_legacy_one_matches_both_ways() {
        assert!(same_person(&id("5215512345678"), &id("525512345678")));
        assert!(same_person(&id("525512345678"), &id("5215512345678")));
        assert_eq!(id("5215512345678").contact_key().as_str(), "525512345678");
    }

    #[test]
    fn mexico_one_is_never_added_to_a_landline() {
        // 200 123 4567 is a fixed line in the metadata: a `1` in front is not the same line.
        assert_eq!(id("5212001234567").contact_key().as_str(), "5212001234567");
        assert!(!same_person(&id("522001234567"), &id("5212001234567")));
    }

    #[test]
    fn brazil_ninth_digit_matches_only_for_mobiles() {
        assert!(same_person(&id("554188887777"), &id("5541988887777")));
        assert!(same_person(&id("5541988887777"), &id("554188887777")));
        assert!(!same_person(&id("5541932345678"), &id("554132345678")));
        assert!(!same_person(&id("554132345678"), &id("5541932345678")));
    }

    #[test]
    fn send_to_prefers_the_id_whatsapp_gave() {
        let phone = PhoneE164::parse("+52 55 1234 5678", None).unwrap();
        assert_eq!(send_to(&phone, None).as_str(), "525512345678");
        assert_eq!(
            send_to(&phone, Some(&id("5215512345678"))).as_str(),
            "5215512345678"
        );
        assert_eq!(
            send_to(&phone, Some(&id("5215599999999"))).as_str(),
            "525512345678"
        );
    }

    #[test]
    fn debug_is_masked() {
        assert_eq!(
            format!("{:?}", id("5491123456789")),
            "WaId(\"*********6789\")"
        );
    }
}
