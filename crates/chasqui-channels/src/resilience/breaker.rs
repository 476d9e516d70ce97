//! A circuit breaker per channel: after repeated provider failures it opens, and messages wait
//! (they are not failed) until a probe shows the provider is back.
//!
//! ```text
//!            N consecutive failures, or the failure rate over the last calls
//!   closed ───────────────────────────────────────────────────────────────▶ open (until = now + 60 s)
//!     ▲                                                                      │
//!     │ the probe succeeds                                  `until` passes   │
//!     │                                                                      ▼
//!     └──────────────────────────────── half-open (one probe at a time) ◀────┘
//!                                          │ the probe fails: open again for 60 s
//! ```
//!
//! Only failures that say the provider is unwell count ([`ErrorClass::counts_against_breaker`]:
//! 5xx, timeouts, connection errors, Meta's transient codes). A refusal (bad number, closed
//! window, expired token) or a rate limit is an answer from a working provider and counts as a
//! success for the breaker.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Clock, SystemClock};
use crate::send::{ErrorClass, SendError};

/// When to open, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many failures in a row.
    pub failure_threshold: u32,
    /// Also open when the failure rate over recent calls is this high (`None`: consecutive only).
    pub failure_rate: Option<FailureRate>,
    /// Stay open this long before letting a probe through.
    pub open_for: Duration,
    /// A probe that never reports back is presumed lost after this long, and another goes.
    pub probe_timeout: Duration,
    /// While a probe is out, others are told to come back after this long (or when the probe
    /// would time out, if sooner).
    pub probe_poll: Duration,
}

impl Default for BreakerConfig {
    /// 5 failures in a row (or half of the last 20 calls, after at least 10), open for 60 s.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            failure_rate: Some(FailureRate::default()),
            open_for: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(30),
            probe_poll: Duration::from_secs(1),
        }
    }
}

/// "Open when at least `threshold` of the last `window` calls failed, once `min_calls` are known."
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureRate {
    /// Fraction of failures (0.0–1.0) that opens the breaker.
    pub threshold: f64,
    /// How many recent calls are remembered.
    pub window: usize,
    /// Fewest calls remembered before the rate counts.
    pub min_calls: usize,
}

impl Default for FailureRate {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            window: 20,
            min_calls: 10,
        }
    }
}

/// The breaker's state, as the channel API and metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls wait until the breaker half-opens.
    Open,
    /// One probe at a time goes through; its result closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// A number for gauges: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The breaker refused a call: wait until `until`, then try again. Not a failure of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the channel's circuit breaker is open: the provider failed repeatedly; messages wait and are retried"
)]
pub struct BreakerOpen {
    /// When to come back.
    pub until: Instant,
}

/// What the breaker looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreakerSnapshot {
    /// The state (an open breaker whose time is up shows as half-open).
    pub state: BreakerState,
    /// When an open breaker lets a probe through.
    #[serde(skip)]
    pub open_until: Option<Instant>,
    /// The same, as milliseconds from now.
    pub retry_in_ms: Option<u64>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// How many times it has opened.
    pub times_opened: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// One channel's breaker (pure: every call takes the time).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Inner,
    consecutive_failures: u32,
    recent: VecDeque<bool>,
    times_opened: u64,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Inner::Closed,
            consecutive_failures: 0,
            recent: VecDeque::new(),
            times_opened: 0,
        }
    }

    /// Asks to make a call. `Ok`: go (in half-open, this call is the probe and must report back).
    pub fn allow(&mut self, now: Instant) -> Result<(), BreakerOpen> {
        match self.inner {
            Inner::Closed => Ok(()),
            Inner::Open { until } if now >= until => {
                self.inner = Inner::HalfOpen { probe_started: now };
                Ok(())
            }
            Inner::Open { until } => Err(BreakerOpen { until }),
            Inner::HalfOpen { probe_started } => {
                let lost_at = probe_started + self.config.probe_timeout;
                if now >= lost_at {
                    self.inner = Inner::HalfOpen { probe_started: now };
                    Ok(())
                } else {
                    Err(BreakerOpen {
                        until: lost_at.min(now + self.config.probe_poll),
                    })
                }
            }
        }
    }

    /// The call succeeded (or the provider answered with a refusal).
    pub fn record_success(&mut self, _now: Instant) {
        self.consecutive_failures = 0;
        match self.inner {
            Inner::HalfOpen { .. } => {
                self.inner = Inner::Closed;
                self.recent.clear();
            }
            Inner::Closed => self.remember(false),
            // A late answer to a call made before the breaker opened changes nothing.
            Inner::Open { .. } => {}
        }
    }

    /// The call failed in a way that says the provider is unwell.
    pub fn record_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.inner {
            Inner::HalfOpen { .. } => self.open(now),
            Inner::Closed => {
                self.remember(true);
                if self.consecutive_failures >= self.config.failure_threshold.max(1)
                    || self.rate_exceeded()
                {
                    self.open(now);
                }
            }
            Inner::Open { .. } => {}
        }
    }

    /// Records a send's outcome: provider-unwell failures count, everything else is a success.
    pub fn record<T>(&mut self, outcome: &Result<T, SendError>, now: Instant) {
        match outcome {
            Err(e) if e.class.counts_against_breaker() => self.record_failure(now),
            _ => self.record_success(now),
        }
    }

    /// Records a failure's class (for callers that keep only the class).
    pub fn record_class(&mut self, class: Option<ErrorClass>, now: Instant) {
        match class {
            Some(c) if c.counts_against_breaker() => self.record_failure(now),
            _ => self.record_success(now),
        }
    }

    /// The state now.
    pub fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        let (state, open_until) = match self.inner {
            Inner::Closed => (BreakerState::Closed, None),
            Inner::Open { until } if now >= until => (BreakerState::HalfOpen, None),
            Inner::Open { until } => (BreakerState::Open, Some(until)),
            Inner::HalfOpen { .. } => (BreakerState::HalfOpen, None),
        };
        BreakerSnapshot {
            state,
            open_until,
            retry_in_ms: open_until.map(|u| {
                u.saturating_duration_since(now)
                    .as_millis()
                    .min(u128::from(u64::MAX)) as u64
            }),
            consecutive_failures: self.consecutive_failures,
            times_opened: self.times_opened,
        }
    }

    /// The state now (shorthand for [`Self::snapshot`]`.state`).
    pub fn state(&self, now: Instant) -> BreakerState {
        self.snapshot(now).state
    }

    fn open(&mut self, now: Instant) {
        self.inner = Inner::Open {
            until: now + self.config.open_for,
        };
        self.times_opened += 1;
        self.recent.clear();
    }

    fn remember(&mut self, failed: bool) {
        let Some(rate) = self.config.failure_rate else {
            return;
        };
        self.recent.push_back(failed);
        while self.recent.len() > rate.window.max(1) {
            self.recent.pop_front();
        }
    }

    fn rate_exceeded(&self) -> bool {
        let Some(rate) = self.config.failure_rate else {
            return false;
        };
        let calls = self.recent.len();
        if calls == 0 || calls < rate.min_calls {
            return false;
        }
        let failures = self.recent.iter().filter(|f| **f).count();
        failures as f64 / calls as f64 >= rate.threshold
    }
}

/// Breakers by channel id, behind one lock, reading time from a clock.
#[derive(Debug)]
pub struct Breakers {
    clock: Arc<dyn Clock>,
    config: BreakerConfig,
    inner: Mutex<HashMap<String, CircuitBreaker>>,
}

impl Default for Breakers {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock), BreakerConfig::default())
    }
}

impl Breakers {
    /// Breakers with `config`, reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>, config: BreakerConfig) -> Self {
        Self {
            clock,
            config,
            inner: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, channel: &str, f: impl FnOnce(&mut CircuitBreaker, Instant) -> R) -> R {
        let now = self.clock.now();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let b = map
            .entry(channel.to_owned())
            .or_insert_with(|| CircuitBreaker::new(self.config));
        f(b, now)
    }

    /// Asks to call the channel's provider.
    pub fn allow(&self, channel: &str) -> Result<(), BreakerOpen> {
        self.with(channel, |b, now| b.allow(now))
    }

    /// Records the outcome of a call that [`Self::allow`] let through.
    pub fn record<T>(&self, channel: &str, outcome: &Result<T, SendError>) {
        self.with(channel, |b, now| b.record(outcome, now));
    }

    /// The channel's breaker now (closed for a channel never seen).
    pub fn snapshot(&self, channel: &str) -> BreakerSnapshot {
        let now = self.clock.now();
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(channel).map_or_else(
            || CircuitBreaker::new(self.config).snapshot(now),
            |b| b.snapshot(now),
        )
    }

    /// Every channel's breaker, for metrics.
    pub fn snapshots(&self) -> Vec<(String, BreakerSnapshot)> {
        let now = self.clock.now();
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = map
            .iter()
            .map(|(k, b)| (k.clone(), b.snapshot(now)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Forgets a channel (deleted, or reconnected with new credentials).
    pub fn reset(&self, channel: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::ManualClock;
    use crate::send::SenderKind;

    const S: Duration = Duration::from_secs(1);

    fn consecutive_only() -> BreakerConfig {
        BreakerConfig {
            failure_rate: None,
            ..BreakerConfig::default()
        }
    }

    #[test]
    fn opens_half_opens_and_closes() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(consecutive_only());
        for _ in 0..4 {
            assert_eq!(b.allow(t0), Ok(()));
            b.record_failure(t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.record_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(
            b.allow(t0 + 59 * S),
            Err(BreakerOpen { until: t0 + 60 * S })
        );
        let snap = b.snapshot(t0 + 20 * S);
        assert_eq!(snap.retry_in_ms, Some(40_000));
        assert_eq!(snap.times_opened, 1);
        // Time is up: one probe goes, the others wait a second.
        assert_eq!(b.state(t0 + 60 * S), BreakerState::HalfOpen);
        assert_eq!(b.allow(t0 + 60 * S), Ok(()));
        assert_eq!(
            b.allow(t0 + 60 * S),
            Err(BreakerOpen { until: t0 + 61 * S })
        );
        b.record_success(t0 + 61 * S);
        assert_eq!(b.state(t0 + 61 * S), BreakerState::Closed);
        assert_eq!(b.snapshot(t0).consecutive_failures, 0);
    }

    #[test]
    fn a_failed_probe_reopens_and_a_lost_probe_is_replaced() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(consecutive_only());
        (0..5).for_each(|_| b.record_failure(t0));
        assert_eq!(b.allow(t0 + 60 * S), Ok(()));
        b.record_failure(t0 + 61 * S);
        assert_eq!(
            b.allow(t0 + 62 * S),
            Err(BreakerOpen {
                until: t0 + 121 * S
            })
        );
        // The next probe never reports; after the probe timeout another one goes.
        assert_eq!(b.allow(t0 + 121 * S), Ok(()));
        assert!(b.allow(t0 + 150 * S).is_err());
        assert_eq!(b.allow(t0 + 151 * S), Ok(()));
    }

    #[test]
    fn failure_rate_opens_without_a_streak() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::default();
        // ok, fail, ok, fail, … : never 5 in a row, but half of the calls.
        for i in 0..9 {
            if i % 2 == 1 {
                b.record_failure(t0);
            } else {
                b.record_success(t0);
            }
            assert_eq!(b.state(t0), BreakerState::Closed, "call {i}");
        }
        b.record_failure(t0); // 10 calls, 5 failures: 50 %
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.snapshot(t0).consecutive_failures, 1);
    }

    #[test]
    fn only_provider_unwell_failures_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(consecutive_only());
        let refused: Result<(), SendError> = Err(SendError::new(
            SenderKind::CloudApi,
            ErrorClass::Permanent,
            "bad number",
        ));
        let down: Result<(), SendError> = Err(SendError::timeout(
            SenderKind::CloudApi,
            Duration::from_secs(10),
        ));
        for _ in 0..4 {
            b.record(&down, t0);
        }
        b.record(&refused, t0);
        assert_eq!(b.snapshot(t0).consecutive_failures, 0);
        for _ in 0..5 {
            b.record(&down, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Open);
    }

    #[test]
    fn registry_by_channel() {
        let clock = Arc::new(ManualClock::new());
        let breakers = Breakers::new(clock.clone(), consecutive_only());
        let down: Result<(), SendError> = Err(SendError::connection(SenderKind::Twilio, "refused"));
        for _ in 0..5 {
            breakers.allow("ch1").unwrap();
            breakers.record("ch1", &down);
        }
        assert!(breakers.allow("ch1").is_err());
        assert_eq!(breakers.allow("ch2"), Ok(()));
        assert_eq!(breakers.snapshot("ch1").state, BreakerState::Open);
        assert_eq!(breakers.snapshot("never").state, BreakerState::Closed);
        let json = serde_json::to_value(breakers.snapshot("ch1")).unwrap();
        assert_eq!(json["state"], "open");
        assert_eq!(json["retry_in_ms"], 60_000);
        clock.advance(60 * S);
        assert_eq!(breakers.allow("ch1"), Ok(()));
        breakers.record::<()>("ch1", &Ok(()));
        assert_eq!(breakers.snapshot("ch1").state, BreakerState::Closed);
        assert_eq!(breakers.snapshots().len(), 2);
        breakers.reset("ch1");
        assert_eq!(breakers.snapshots().len(), 1);
    }
}
