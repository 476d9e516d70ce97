//! Chasqui's domain: pure logic with no I/O, no async and no database, so it is cheap to test and fuzz.

pub mod api_key;
pub mod backoff;
pub mod ids;
pub mod phone;
pub mod plan;
pub mod secrets;
pub mod wame;
