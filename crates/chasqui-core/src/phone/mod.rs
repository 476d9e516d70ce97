//! Phone numbers: parsing what people type into E.164, WhatsApp id forms, and masking for logs.
//!
//! Metadata comes from `rlibphonenumber` (libphonenumber v9.0.42 metadata). Every entry point is
//! pure and never panics on user input.

mod error;
mod mask;
mod number_type;
mod parse;
mod region;
mod wa_id;

pub use error::PhoneError;
pub use mask::mask_digits;
pub use number_type::PhoneType;
pub use parse::{ParsedPhone, PhoneE164, parse};
pub use region::RegionCode;
pub use wa_id::{ContactKey, WaId, WaIdError, same_person, send_to};
