//! Inbound webhooks: receiving (verify, store durably, answer) and processing (parse, route,
//! store contacts, conversations, messages and statuses exactly once).

pub mod inbox;
pub mod process;
pub mod receive;
