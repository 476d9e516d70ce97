//! What keeps a sender within WhatsApp's rules and polite to a failing provider, as pure logic:
//!
//! - [`rate`]: the throughput of each sending number (80 messages/s by default: an evenly paced
//!   token bucket under a hard cap of that many sends in any second) and a pair limiter per
//!   (sending number, recipient) (about one message every 6 s);
//! - [`breaker`]: a circuit breaker per channel;
//! - [`retry`]: which failures to retry, and when.
//!
//! Nothing here sleeps or spawns. Every decision takes the time as an argument (an [`Instant`]),
//! and the keyed registries read it from a [`Clock`] they are given, so tests drive time by hand
//! and the binary uses [`SystemClock`]. The answer is always "wait this long" (or "until then"):
//! queued messages wait for their turn, they are never failed for it.
//!
//! The limits hold within one process. With several instances sending for one number, give each
//! a share of the number's throughput.

pub mod breaker;
pub mod rate;
pub mod retry;

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock moved by hand, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A clock at the current instant.
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// A clock at `start`.
    pub fn starting_at(start: Instant) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}
