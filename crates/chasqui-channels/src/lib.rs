//! Provider adapters: one module per provider for parsing webhooks and checking signatures
//! (senders arrive with the outbound issue).
//!
//! Everything here is pure — no I/O, no async, no database — so the HTTP layer verifies with
//! [`signature`], stores the raw request, and parses later with [`meta`], [`twilio`] or
//! [`chatwoot`] into `chasqui_core`'s message and status model.

pub mod chatwoot;
pub mod graph_error;
mod json;
pub mod meta;
pub mod resilience;
pub mod send;
pub mod signature;
pub mod twilio;
