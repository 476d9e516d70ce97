//! Outbound: the send API, the sender job, and the per-process resilience state (rate limits
//! and circuit breakers) every send goes through.

pub mod api;
pub mod channel_ops;
pub mod outbox;
pub mod runtime;
pub mod send_job;
