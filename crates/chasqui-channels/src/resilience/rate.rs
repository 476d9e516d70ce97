//! Rate limits: a token bucket per sending number and a pair limiter per recipient.
//!
//! Both are the same bucket, written as the generic cell rate algorithm (GCRA): one emission
//! every `interval`, and up to `burst` at once when the bucket is full. It keeps one instant per
//! key (the "theoretical arrival time"), does integer arithmetic on durations, and guarantees
//! that over any window of length `t` at most `t / interval + burst` calls are admitted.
//!
//! # The numbers (`cloud-api.md` §5)
//!
//! | limit | Meta | here |
//! |---|---|---|
//! | throughput per sending number | 80 messages/s by default, up to 1,000 (130429 beyond) | [`Rate::per_second`]`(80)` by default, configurable 1..=1,000; burst 1 (evenly paced), so no second ever carries more than the rate |
//! | pair rate (number → one recipient) | about 1 message / 6 s (~10/min); bursts of up to 45 in 6 s tolerated but "borrowed" from later (a burst of 20 costs ~2 min); 131056 beyond | [`PairLimits::default`]: one every 6 s with a burst of 5 — a conversation's quick replies go out at once, a flood waits, and we never borrow deep enough to trip 131056 |

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Clock, SystemClock};

/// Meta's default throughput per sending number, messages per second.
pub const DEFAULT_THROUGHPUT: u32 = 80;
/// The highest throughput Meta grants a number, messages per second.
pub const MAX_THROUGHPUT: u32 = 1000;

/// How often registries sweep idle keys (every this many calls).
const SWEEP_EVERY: u64 = 1024;

/// Why a rate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Outside 1..=1,000 messages per second.
    #[error("throughput must be between 1 and {MAX_THROUGHPUT} messages per second, got {0}")]
    OutOfRange(u32),
}

/// A pace: one call every `interval`, `burst` at once when rested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    interval: Duration,
    burst: u32,
}

impl Rate {
    /// `n` calls per second (1..=1,000), evenly paced (burst 1). The interval is rounded up to
    /// the nanosecond, so the pace never exceeds `n`.
    pub fn per_second(n: u32) -> Result<Self, RateError> {
        if !(1..=MAX_THROUGHPUT).contains(&n) {
            return Err(RateError::OutOfRange(n));
        }
        let nanos = 1_000_000_000u64.div_ceil(u64::from(n));
        Ok(Self {
            interval: Duration::from_nanos(nanos),
            burst: 1,
        })
    }

    /// One call every `interval` (at least a nanosecond), burst 1.
    pub fn every(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_nanos(1)),
            burst: 1,
        }
    }

    /// Allows `burst` calls at once when rested (at least 1).
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// Time between calls at the sustained pace.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Calls allowed at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// How far ahead of its pace a key may run: `(burst - 1) × interval`.
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst - 1)
    }
}

impl Default for Rate {
    /// Meta's default throughput, 80 messages per second.
    fn default() -> Self {
        Self {
            interval: Duration::from_nanos(12_500_000),
            burst: 1,
        }
    }
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    rate: Rate,
    /// When the next call would be admitted at the sustained pace (GCRA's TAT); `None`: rested.
    tat: Option<Instant>,
}

impl TokenBucket {
    /// A rested bucket.
    pub fn new(rate: Rate) -> Self {
        Self { rate, tat: None }
    }

    /// The pace.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Changes the pace, keeping what was already admitted.
    pub fn set_rate(&mut self, rate: Rate) {
        self.rate = rate;
    }

    /// Reserves the next turn and says how long to wait for it (zero: go now). Turns are handed
    /// out in call order, so concurrent callers queue behind each other.
    pub fn acquire(&mut self, now: Instant) -> Duration {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let wait = tat
            .saturating_duration_since(now)
            .saturating_sub(self.rate.tolerance());
        self.tat = Some(tat + self.rate.interval);
        wait
    }

    /// Reserves the next turn only if it comes within `max` (`Ok(wait)`); otherwise reserves
    /// nothing and says how long until a turn is free. A caller that gives up (a deferred job)
    /// must not keep a turn it will never use, or the schedule runs ahead of the sends made.
    pub fn acquire_within(&mut self, now: Instant, max: Duration) -> Result<Duration, Duration> {
        let wait = self.wait_at(now);
        if wait > max {
            return Err(wait);
        }
        Ok(self.acquire(now))
    }

    /// Takes a turn if one is free now; otherwise says how long until one is, reserving nothing.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        let wait = self.wait_at(now);
        if wait.is_zero() {
            self.acquire(now);
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// How long until a turn is free, reserving nothing.
    pub fn wait_at(&self, now: Instant) -> Duration {
        let tat = self.tat.map_or(now, |t| t.max(now));
        tat.saturating_duration_since(now)
            .saturating_sub(self.rate.tolerance())
    }

    /// When the next turn is free.
    pub fn next_allowed_at(&self, now: Instant) -> Instant {
        now + self.wait_at(now)
    }

    /// Whether the bucket is full again (it can then be forgotten).
    pub fn is_rested(&self, now: Instant) -> bool {
        self.tat.is_none_or(|t| t <= now)
    }
}

/// Buckets by key, behind one lock, reading time from a clock; rested buckets are swept now and
/// then so memory follows the active keys only.
#[derive(Debug)]
struct Keyed<K> {
    clock: Arc<dyn Clock>,
    inner: Mutex<KeyedInner<K>>,
}

#[derive(Debug)]
struct KeyedInner<K> {
    buckets: HashMap<K, TokenBucket>,
    calls: u64,
}

impl<K: Eq + Hash + Clone> Keyed<K> {
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(KeyedInner {
                buckets: HashMap::new(),
                calls: 0,
            }),
        }
    }

    fn with<R>(&self, key: &K, rate: Rate, f: impl FnOnce(&mut TokenBucket, Instant) -> R) -> R {
        let now = self.clock.now();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.calls += 1;
        if inner.calls.is_multiple_of(SWEEP_EVERY) {
            inner.buckets.retain(|_, b| !b.is_rested(now));
        }
        let bucket = inner
            .buckets
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(rate));
        if bucket.rate() != rate {
            bucket.set_rate(rate);
        }
        f(bucket, now)
    }

    fn peek(&self, key: &K) -> Instant {
        let now = self.clock.now();
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .buckets
            .get(key)
            .map_or(now, |b| b.next_allowed_at(now))
    }

    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .buckets
            .len()
    }
}

/// The throughput limit: one bucket per sending number (phone number id), shared with nothing
/// else.
#[derive(Debug)]
pub struct ThroughputLimiter {
    keyed: Keyed<String>,
}

impl Default for ThroughputLimiter {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl ThroughputLimiter {
    /// A limiter reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            keyed: Keyed::new(clock),
        }
    }

    /// Reserves the number's next turn at `rate`; wait the returned time, then send.
    pub fn acquire(&self, number: &str, rate: Rate) -> Duration {
        self.keyed
            .with(&number.to_owned(), rate, |b, now| b.acquire(now))
    }

    /// Reserves the number's next turn if it comes within `max` (`Ok(wait)`: wait, then send);
    /// otherwise reserves nothing and says how long until a turn is free.
    pub fn acquire_within(
        &self,
        number: &str,
        rate: Rate,
        max: Duration,
    ) -> Result<Duration, Duration> {
        self.keyed.with(&number.to_owned(), rate, |b, now| {
            b.acquire_within(now, max)
        })
    }

    /// Takes a turn if one is free now; otherwise how long until one is (nothing reserved).
    pub fn try_acquire(&self, number: &str, rate: Rate) -> Result<(), Duration> {
        self.keyed
            .with(&number.to_owned(), rate, |b, now| b.try_acquire(now))
    }

    /// When the number's next turn is free.
    pub fn next_allowed_at(&self, number: &str) -> Instant {
        self.keyed.peek(&number.to_owned())
    }

    /// Numbers currently tracked.
    pub fn tracked(&self) -> usize {
        self.keyed.len()
    }
}

/// The pair rate: how often one number may message one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLimits {
    /// One message per this interval, sustained.
    pub interval: Duration,
    /// Messages allowed at once to a recipient who has not been messaged lately.
    pub burst: u32,
}

impl Default for PairLimits {
    /// One message every 6 s, bursts of 5.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(6),
            burst: 5,
        }
    }
}

impl PairLimits {
    fn rate(&self) -> Rate {
        Rate::every(self.interval).with_burst(self.burst)
    }
}

/// The pair-rate limit, per (sending number, recipient).
#[derive(Debug)]
pub struct PairLimiter {
    keyed: Keyed<(String, String)>,
    limits: PairLimits,
}

impl Default for PairLimiter {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock), PairLimits::default())
    }
}

impl PairLimiter {
    /// A limiter with `limits`, reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>, limits: PairLimits) -> Self {
        Self {
            keyed: Keyed::new(clock),
            limits,
        }
    }

    fn key(number: &str, recipient: &str) -> (String, String) {
        (number.to_owned(), recipient.to_owned())
    }

    /// Reserves the pair's next turn; wait the returned time, then send.
    pub fn acquire(&self, number: &str, recipient: &str) -> Duration {
        self.keyed.with(
            &Self::key(number, recipient),
            self.limits.rate(),
            |b, now| b.acquire(now),
        )
    }

    /// Takes the pair's turn if free now; otherwise when it will be (nothing reserved), so a
    /// queued job can be put back until then.
    pub fn try_acquire(&self, number: &str, recipient: &str) -> Result<(), Instant> {
        self.keyed.with(
            &Self::key(number, recipient),
            self.limits.rate(),
            |b, now| b.try_acquire(now).map_err(|wait| now + wait),
        )
    }

    /// When the pair's next turn is free.
    pub fn next_allowed_at(&self, number: &str, recipient: &str) -> Instant {
        self.keyed.peek(&Self::key(number, recipient))
    }

    /// Pairs currently tracked.
    pub fn tracked(&self) -> usize {
        self.keyed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::ManualClock;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn per_second_paces_evenly_and_validates() {
        let r = Rate::per_second(80).unwrap();
        assert_eq!(r.interval(), Duration::from_micros(12_500));
        assert_eq!(Rate::default(), r);
        assert_eq!(Rate::per_second(1000).unwrap().interval(), MS);
        assert_eq!(
            Rate::per_second(3).unwrap().interval(),
            Duration::from_nanos(333_333_334)
        );
        assert_eq!(Rate::per_second(0), Err(RateError::OutOfRange(0)));
        assert_eq!(Rate::per_second(1001), Err(RateError::OutOfRange(1001)));
    }

    #[test]
    fn acquire_queues_callers_in_order() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::per_second(80).unwrap());
        let waits: Vec<Duration> = (0..4).map(|_| b.acquire(t0)).collect();
        assert_eq!(
            waits,
            [
                Duration::ZERO,
                12_500 * MS / 1000,
                25 * MS,
                37_500 * MS / 1000
            ]
        );
        // After resting, the bucket is full again.
        assert!(b.is_rested(t0 + Duration::from_secs(1)));
        assert_eq!(b.acquire(t0 + Duration::from_secs(1)), Duration::ZERO);
    }

    #[test]
    fn try_acquire_reserves_nothing_on_refusal() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::every(Duration::from_secs(6)).with_burst(2));
        assert_eq!(b.try_acquire(t0), Ok(()));
        assert_eq!(b.try_acquire(t0), Ok(()));
        assert_eq!(b.try_acquire(t0), Err(Duration::from_secs(6)));
        assert_eq!(
            b.try_acquire(t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(5))
        );
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(6)), Ok(()));
        assert_eq!(
            b.next_allowed_at(t0 + Duration::from_secs(6)),
            t0 + Duration::from_secs(12)
        );
    }

    #[test]
    fn callers_that_give_up_reserve_nothing_so_the_pace_never_runs_ahead() {
        // 10/s with eight workers that each defer when the wait is over 500 ms: only the turns
        // actually used are reserved, so after a second the next turn is due, not minutes away.
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::per_second(10).unwrap());
        let max = Duration::from_millis(500);
        let mut admitted = 0;
        for round in 0..100 {
            let now = t0 + Duration::from_millis(10 * round);
            for _ in 0..8 {
                if b.acquire_within(now, max).is_ok() {
                    admitted += 1;
                }
            }
        }
        // One second of claims: the turns within reach (≤ 500 ms ahead) plus the ten of that
        // second, never the 800 claims made.
        assert!((10..=17).contains(&admitted), "{admitted}");
        let later = t0 + Duration::from_secs(2);
        assert_eq!(b.acquire_within(later, max), Ok(Duration::ZERO));
        // A refusal says how long until a turn is free and changes nothing.
        let mut full = TokenBucket::new(Rate::per_second(10).unwrap());
        for _ in 0..6 {
            assert!(full.acquire_within(t0, max).is_ok());
        }
        let before = full.next_allowed_at(t0);
        assert_eq!(
            full.acquire_within(t0, max),
            Err(Duration::from_millis(600))
        );
        assert_eq!(full.next_allowed_at(t0), before);
    }

    #[test]
    fn pair_limiter_allows_a_small_burst_then_one_every_six_seconds() {
        let clock = Arc::new(ManualClock::new());
        let t0 = clock.now();
        let pairs = PairLimiter::new(clock.clone(), PairLimits::default());
        for _ in 0..5 {
            assert_eq!(pairs.try_acquire("pn1", "5491155551234"), Ok(()));
        }
        assert_eq!(
            pairs.try_acquire("pn1", "5491155551234"),
            Err(t0 + Duration::from_secs(6))
        );
        // Another recipient, or another sending number, is not affected.
        assert_eq!(pairs.try_acquire("pn1", "5215512345678"), Ok(()));
        assert_eq!(pairs.try_acquire("pn2", "5491155551234"), Ok(()));
        clock.advance(Duration::from_secs(6));
        assert_eq!(pairs.try_acquire("pn1", "5491155551234"), Ok(()));
        assert_eq!(
            pairs.acquire("pn1", "5491155551234"),
            Duration::from_secs(6)
        );
        assert_eq!(pairs.tracked(), 3);
    }

    #[test]
    fn throughput_limiter_is_per_number_and_follows_rate_changes() {
        let clock = Arc::new(ManualClock::new());
        let limiter = ThroughputLimiter::new(clock.clone());
        let slow = Rate::per_second(2).unwrap();
        assert_eq!(limiter.acquire("a", slow), Duration::ZERO);
        assert_eq!(limiter.acquire("a", slow), 500 * MS);
        assert_eq!(limiter.acquire("b", slow), Duration::ZERO);
        assert_eq!(limiter.try_acquire("a", slow), Err(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        let fast = Rate::per_second(1000).unwrap();
        assert_eq!(limiter.try_acquire("a", fast), Ok(()));
        assert_eq!(limiter.acquire("a", fast), MS);
    }

    #[test]
    fn idle_keys_are_swept() {
        let clock = Arc::new(ManualClock::new());
        let limiter = ThroughputLimiter::new(clock.clone());
        let rate = Rate::per_second(10).unwrap();
        for i in 0..500 {
            limiter.acquire(&format!("n{i}"), rate);
        }
        clock.advance(Duration::from_secs(1));
        for _ in 0..SWEEP_EVERY {
            limiter.acquire("busy", rate);
        }
        assert!(limiter.tracked() < 10, "tracked {}", limiter.tracked());
    }
}
