//! Chasqui's domain: pure logic with no I/O, no async and no database, so it is cheap to test and fuzz.

pub mod api_key;
pub mod backoff;
pub mod channel;
pub mod ids;
pub mod message;
pub mod phone;
pub mod plan;
pub mod secrets;
pub mod send;
pub mod status;
pub mod template;
pub mod wame;
pub mod window;
