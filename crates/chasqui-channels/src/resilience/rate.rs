//! Rate limits: the throughput of each sending number, and the pair rate per recipient.
//!
//! Both rest on one bucket, written as the generic cell rate algorithm (GCRA): one emission
//! every `interval`, and up to `burst` at once when the bucket is full. It keeps one instant per
//! key (the "theoretical arrival time"), does integer arithmetic on durations, and guarantees
//! that over any window of length `t` at most `t / interval + burst` calls are admitted.
//!
//! A sending number's throughput adds a hard cap to its bucket, a [`SendWindow`]: the instants
//! of its last `n` sends, checked and recorded under the limiter's lock at the moment each send
//! is let go ([`ThroughputLimiter::admit`], right before the provider call). A send goes only
//! when the `n`-th previous one went at least [`WINDOW`] (1 s and a 4 ms guard) earlier, so no
//! 1-second window holds more than `n` sends, whatever the timer, the scheduler or the database
//! did between the turn and the call, and the guard leaves room for the trip to the provider,
//! whose duration varies. The bucket paces the number evenly, a little under the cap (`n` turns
//! per [`PACE`], 1 s and 6 ms), and makes up for short stalls ([`CATCH_UP`]) up to the cap.
//!
//! # The numbers (`cloud-api.md` §5)
//!
//! | limit | Meta | here |
//! |---|---|---|
//! | throughput per sending number | 80 messages/s by default, up to 1,000 (130429 beyond) | [`Rate::per_second`]`(n)`, 80 by default, configurable 1..=1,000. **Never more than `n` in any 1 s**: a send goes only when the `n`-th previous send of its number went at least 1 s + 4 ms earlier, counted at the moment it is let go. Paced evenly, one every (1 s + 6 ms) / `n` (99.4 % of `n` sustained), with up to 50 ms of turns made up at once after a stall, within the cap. A caller that would wait longer than it is willing to reserves nothing |
//! | pair rate (number → one recipient) | about 1 message / 6 s (~10/min); bursts of up to 45 in 6 s tolerated but "borrowed" from later (a burst of 20 costs ~2 min); 131056 beyond | [`PairLimits::default`]: one every 6 s with a burst of 5 — a conversation's quick replies go out at once, a flood waits, and we never borrow deep enough to trip 131056 |

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Clock, SystemClock};

/// Meta's default throughput per sending number, messages per second.
pub const DEFAULT_THROUGHPUT: u32 = 80;
/// The highest throughput Meta grants a number, messages per second.
pub const MAX_THROUGHPUT: u32 = 1000;

/// The span of a number's hard cap: at most `n` sends in any `WINDOW`, counted when they are let
/// go. One second plus a guard for the trip to the provider, whose duration varies by a few
/// milliseconds on a busy machine.
pub const WINDOW: Duration = Duration::from_millis(1004);
/// The pacing span: a number at `n`/s gets one turn every `PACE / n` (99.4 % of `n`). A little
/// over the cap's span, so that in steady sending a send let go a little late (a timer tick, the
/// scheduler) does not meet the cap and hold back the next second's turns, which would add up.
pub const PACE: Duration = Duration::from_millis(1006);
/// Turns a number may make up at once after a stall (every worker busy writing, the process
/// descheduled), as time: its bucket's burst is `1 + CATCH_UP / interval`. The cap still holds.
pub const CATCH_UP: Duration = Duration::from_millis(50);

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

    /// Calls per second at the sustained pace, rounded up (at least 1): `n` for
    /// [`Rate::per_second`]`(n)`.
    pub fn calls_per_second(&self) -> u32 {
        let per = 1_000_000_000u128.div_ceil(self.interval.as_nanos().max(1));
        u32::try_from(per).unwrap_or(u32::MAX).max(1)
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

/// A turn reserved from a bucket: wait [`Turn::wait`], then go. While no later turn has been
/// taken it can be given back ([`TokenBucket::give_back`], [`ThroughputLimiter::give_back`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "wait the turn's time, then go; or give it back"]
pub struct Turn {
    wait: Duration,
    before: Option<Instant>,
    after: Instant,
}

impl Turn {
    /// How long to wait before going (zero: now).
    pub fn wait(&self) -> Duration {
        self.wait
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

    /// Reserves the next turn, like [`Self::acquire`], as a [`Turn`] that can be given back.
    pub fn take(&mut self, now: Instant) -> Turn {
        let before = self.tat;
        let wait = self.acquire(now);
        Turn {
            wait,
            before,
            after: self.tat.unwrap_or(now),
        }
    }

    /// Undoes `turn` when no turn was taken after it, as if it had never been taken; otherwise
    /// changes nothing (the turn is lost), so giving back never lets the pace run ahead.
    pub fn give_back(&mut self, turn: Turn) {
        if self.tat == Some(turn.after) {
            self.tat = turn.before;
        }
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

/// A hard cap: at most `limit` sends in any `span`, counted at the instants they were let go.
/// It keeps the instants of the last `limit` sends, oldest first; a send fits when the
/// `limit`-th previous one is at least `span` old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    limit: usize,
    span: Duration,
    sent: VecDeque<Instant>,
}

impl SendWindow {
    /// An empty window for at most `limit` (at least 1) sends in any `span`.
    pub fn new(limit: u32, span: Duration) -> Self {
        Self {
            limit: usize::try_from(limit.max(1)).unwrap_or(usize::MAX),
            span,
            sent: VecDeque::new(),
        }
    }

    /// Sends allowed in any span.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit, keeping the most recent sends.
    pub fn set_limit(&mut self, limit: u32) {
        self.limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        while self.sent.len() > self.limit {
            self.sent.pop_front();
        }
    }

    /// How long until one more send fits (zero: now), recording nothing.
    pub fn wait_at(&self, now: Instant) -> Duration {
        if self.sent.len() < self.limit {
            return Duration::ZERO;
        }
        let oldest = self.sent[self.sent.len() - self.limit];
        (oldest + self.span).saturating_duration_since(now)
    }

    /// Lets one send go now if it fits, recording the instant; otherwise says how long until it
    /// fits, recording nothing.
    pub fn try_admit(&mut self, now: Instant) -> Result<(), Duration> {
        let wait = self.wait_at(now);
        if !wait.is_zero() {
            return Err(wait);
        }
        let at = self.sent.back().map_or(now, |last| now.max(*last));
        self.sent.push_back(at);
        while self.sent.len() > self.limit {
            self.sent.pop_front();
        }
        Ok(())
    }

    /// Whether no recorded send counts any more (the window can then be forgotten).
    pub fn is_rested(&self, now: Instant) -> bool {
        self.sent.back().is_none_or(|last| *last + self.span <= now)
    }
}

/// What a keyed registry keeps per key.
trait KeyState {
    fn for_rate(rate: Rate) -> Self;
    fn key_rate(&self) -> Rate;
    fn change_rate(&mut self, rate: Rate);
    fn rested(&self, now: Instant) -> bool;
    fn free_at(&self, now: Instant) -> Instant;
}

impl KeyState for TokenBucket {
    fn for_rate(rate: Rate) -> Self {
        Self::new(rate)
    }
    fn key_rate(&self) -> Rate {
        self.rate
    }
    fn change_rate(&mut self, rate: Rate) {
        self.set_rate(rate);
    }
    fn rested(&self, now: Instant) -> bool {
        self.is_rested(now)
    }
    fn free_at(&self, now: Instant) -> Instant {
        self.next_allowed_at(now)
    }
}

/// One sending number: a bucket for even pacing and catch-up, under a hard cap.
#[derive(Debug, Clone)]
struct NumberPace {
    /// The rate asked for.
    rate: Rate,
    bucket: TokenBucket,
    cap: SendWindow,
}

impl NumberPace {
    /// The bucket's pace and the cap's limit for `rate`: `n` per [`WINDOW`] (`n` its calls per
    /// second, at most [`MAX_THROUGHPUT`]), paced one every `PACE / n`, with [`CATCH_UP`].
    fn plan(rate: Rate) -> (Rate, u32) {
        let n = rate.calls_per_second().min(MAX_THROUGHPUT);
        let nanos = u64::try_from(PACE.as_nanos().div_ceil(u128::from(n))).unwrap_or(u64::MAX);
        let interval = rate.interval().max(Duration::from_nanos(nanos));
        let catch_up = u32::try_from(CATCH_UP.as_nanos() / interval.as_nanos()).unwrap_or(0);
        let pace = Rate::every(interval).with_burst(rate.burst().max(catch_up.saturating_add(1)));
        (pace, n)
    }

    /// How long until the bucket has a turn and the cap has room, reserving nothing.
    fn wait_at(&self, now: Instant) -> Duration {
        self.bucket.wait_at(now).max(self.cap.wait_at(now))
    }
}

impl KeyState for NumberPace {
    fn for_rate(rate: Rate) -> Self {
        let (pace, n) = Self::plan(rate);
        Self {
            rate,
            bucket: TokenBucket::new(pace),
            cap: SendWindow::new(n, WINDOW),
        }
    }
    fn key_rate(&self) -> Rate {
        self.rate
    }
    fn change_rate(&mut self, rate: Rate) {
        let (pace, n) = Self::plan(rate);
        self.rate = rate;
        self.bucket.set_rate(pace);
        self.cap.set_limit(n);
    }
    fn rested(&self, now: Instant) -> bool {
        self.bucket.is_rested(now) && self.cap.is_rested(now)
    }
    fn free_at(&self, now: Instant) -> Instant {
        now + self.wait_at(now)
    }
}

/// State by key, behind one lock, reading time from a clock; rested keys are swept now and then
/// so memory follows the active keys only.
#[derive(Debug)]
struct Keyed<K, S> {
    clock: Arc<dyn Clock>,
    inner: Mutex<KeyedInner<K, S>>,
}

#[derive(Debug)]
struct KeyedInner<K, S> {
    states: HashMap<K, S>,
    calls: u64,
}

impl<K: Eq + Hash + Clone, S: KeyState> Keyed<K, S> {
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            inner: Mutex::new(KeyedInner {
                states: HashMap::new(),
                calls: 0,
            }),
        }
    }

    fn with<R>(&self, key: &K, rate: Rate, f: impl FnOnce(&mut S, Instant) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Read under the lock: the instants a key records are then in call order.
        let now = self.clock.now();
        inner.calls += 1;
        if inner.calls.is_multiple_of(SWEEP_EVERY) {
            inner.states.retain(|_, s| !s.rested(now));
        }
        let state = inner
            .states
            .entry(key.clone())
            .or_insert_with(|| S::for_rate(rate));
        if state.key_rate() != rate {
            state.change_rate(rate);
        }
        f(state, now)
    }

    /// Runs `f` on the key's state if it is tracked.
    fn with_existing(&self, key: &K, f: impl FnOnce(&mut S, Instant)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        if let Some(state) = inner.states.get_mut(key) {
            f(state, now);
        }
    }

    fn peek(&self, key: &K) -> Instant {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        inner.states.get(key).map_or(now, |s| s.free_at(now))
    }

    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .states
            .len()
    }
}

/// The throughput limit, per sending number (phone number id): an evenly paced bucket and a hard
/// cap of `n` sends in any [`WINDOW`], shared with nothing else.
///
/// A send takes two steps: [`Self::reserve_within`] (a paced turn, or "defer" with nothing
/// reserved), then, after waiting the turn's time and right before the provider call,
/// [`Self::admit`], which checks the cap and records the send at that instant (or says how much
/// longer to wait). [`Self::try_acquire`] does both at once for callers that go now or not at all.
#[derive(Debug)]
pub struct ThroughputLimiter {
    keyed: Keyed<String, NumberPace>,
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

    /// Reserves the number's next paced turn at `rate` if it, and room under the cap as it
    /// stands, come within `max`: `Ok(turn)`, wait [`Turn::wait`], then [`Self::admit`] and send.
    /// Otherwise reserves nothing and says how long until a turn is free; a caller that gives up
    /// must not keep a turn it will never use, or the schedule runs ahead of the sends made.
    pub fn reserve_within(
        &self,
        number: &str,
        rate: Rate,
        max: Duration,
    ) -> Result<Turn, Duration> {
        self.keyed.with(&number.to_owned(), rate, |p, now| {
            let wait = p.wait_at(now);
            if wait > max {
                return Err(wait);
            }
            let mut turn = p.bucket.take(now);
            turn.wait = turn.wait.max(wait);
            Ok(turn)
        })
    }

    /// Gives back a turn from [`Self::reserve_within`] that will not be used (another limit
    /// refused the send): undone if no later turn was taken, otherwise simply lost.
    pub fn give_back(&self, number: &str, turn: Turn) {
        self.keyed
            .with_existing(&number.to_owned(), |p, _| p.bucket.give_back(turn));
    }

    /// The hard cap, checked at the moment of sending: `Ok(())` records this instant as a send
    /// of the number (go now); `Err(wait)` records nothing (wait, then ask again).
    pub fn admit(&self, number: &str, rate: Rate) -> Result<(), Duration> {
        self.keyed
            .with(&number.to_owned(), rate, |p, now| p.cap.try_admit(now))
    }

    /// Takes a turn and records a send now if both the pace and the cap allow it; otherwise how
    /// long until they do (nothing reserved or recorded).
    pub fn try_acquire(&self, number: &str, rate: Rate) -> Result<(), Duration> {
        self.keyed.with(&number.to_owned(), rate, |p, now| {
            let wait = p.wait_at(now);
            if !wait.is_zero() {
                return Err(wait);
            }
            p.bucket.acquire(now);
            p.cap.try_admit(now)
        })
    }

    /// When the number's next turn is free and its cap has room.
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
    keyed: Keyed<(String, String), TokenBucket>,
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

    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use proptest::prelude::*;

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
        // The cap of a number is its configured rate, exactly, despite the rounded interval.
        for n in 1..=MAX_THROUGHPUT {
            assert_eq!(Rate::per_second(n).unwrap().calls_per_second(), n);
        }
        assert_eq!(Rate::every(Duration::from_secs(6)).calls_per_second(), 1);
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
    fn a_turn_given_back_is_undone_only_while_it_is_the_latest() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Rate::per_second(10).unwrap());
        let first = b.take(t0);
        assert_eq!(first.wait(), Duration::ZERO);
        let second = b.take(t0);
        assert_eq!(second.wait(), 100 * MS);
        b.give_back(second);
        assert_eq!(
            b.next_allowed_at(t0),
            t0 + 100 * MS,
            "the second turn is free again"
        );
        // A turn with a later one after it cannot be undone: it is lost, never handed out twice.
        let again = b.take(t0);
        let third = b.take(t0);
        b.give_back(again);
        assert_eq!(b.next_allowed_at(t0), t0 + 300 * MS);
        b.give_back(third);
        assert_eq!(b.next_allowed_at(t0), t0 + 200 * MS);
        // Every turn given back from a rested bucket leaves it rested.
        let mut rested = TokenBucket::new(Rate::per_second(10).unwrap());
        let turn = rested.take(t0);
        rested.give_back(turn);
        assert_eq!(rested, TokenBucket::new(Rate::per_second(10).unwrap()));
    }

    #[test]
    fn the_window_admits_n_per_span_counted_when_they_go() {
        let t0 = Instant::now();
        let mut w = SendWindow::new(3, Duration::from_secs(1));
        for ms in [0, 10, 20] {
            assert_eq!(w.try_admit(t0 + ms * MS), Ok(()));
        }
        // The 4th must wait until the 1st is a second old, and a refusal records nothing.
        assert_eq!(w.try_admit(t0 + 500 * MS), Err(500 * MS));
        assert_eq!(w.try_admit(t0 + 999 * MS), Err(MS));
        assert_eq!(w.try_admit(t0 + 1000 * MS), Ok(()));
        assert_eq!(w.wait_at(t0 + 1000 * MS), 10 * MS);
        assert!(!w.is_rested(t0 + 1999 * MS));
        assert!(w.is_rested(t0 + 2000 * MS));
        // Lowering the limit keeps the latest sends.
        w.set_limit(1);
        assert_eq!(w.limit(), 1);
        assert_eq!(w.wait_at(t0 + 1500 * MS), 500 * MS);
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
        let t0 = clock.now();
        let limiter = ThroughputLimiter::new(clock.clone());
        let slow = Rate::per_second(2).unwrap();
        let max = Duration::from_secs(1);
        // 2/s: paced one every 503 ms, and never a third send within 1.004 s.
        let turn = limiter.reserve_within("a", slow, max).unwrap();
        assert_eq!(turn.wait(), Duration::ZERO);
        assert_eq!(limiter.admit("a", slow), Ok(()));
        let turn = limiter.reserve_within("a", slow, max).unwrap();
        assert_eq!(turn.wait(), 503 * MS);
        assert_eq!(limiter.try_acquire("b", slow), Ok(()));
        assert_eq!(limiter.try_acquire("a", slow), Err(1006 * MS));
        clock.advance(503 * MS);
        assert_eq!(limiter.admit("a", slow), Ok(()));
        // A third send in the same 1.004 s is held by the cap, whatever the caller reserved.
        clock.advance(MS);
        assert_eq!(limiter.admit("a", slow), Err(500 * MS));
        assert_eq!(limiter.next_allowed_at("a"), t0 + 1006 * MS);
        // At 1,000/s the cap holds the last 1,000 sends and the pace is one every 1.006 ms, with
        // 50 ms of turns to catch up with.
        clock.advance(Duration::from_secs(2));
        let fast = Rate::per_second(1000).unwrap();
        for _ in 0..50 {
            assert_eq!(limiter.try_acquire("a", fast), Ok(()));
        }
        assert_eq!(
            limiter.try_acquire("a", fast),
            Err(Duration::from_nanos(1_006_000))
        );
    }

    #[test]
    fn a_turn_given_back_by_a_throughput_caller_is_free_again() {
        let clock = Arc::new(ManualClock::new());
        let limiter = ThroughputLimiter::new(clock);
        let rate = Rate::per_second(1).unwrap();
        let max = Duration::from_secs(5);
        let first = limiter.reserve_within("a", rate, max).unwrap();
        let second = limiter.reserve_within("a", rate, max).unwrap();
        assert_eq!(second.wait(), 1006 * MS);
        limiter.give_back("a", second);
        limiter.give_back("a", first);
        assert_eq!(limiter.try_acquire("a", rate), Ok(()));
    }

    #[test]
    fn throughput_callers_that_give_up_reserve_nothing() {
        // The same stall as above, through the limiter: eight workers at 10/s claiming every
        // 10 ms, deferring beyond 500 ms. Sends keep flowing at the rate, never ahead of it.
        let clock = Arc::new(ManualClock::new());
        let limiter = ThroughputLimiter::new(clock.clone());
        let rate = Rate::per_second(10).unwrap();
        let max = Duration::from_millis(500);
        let mut due: Vec<Instant> = Vec::new();
        let mut sent = 0;
        for _ in 0..1000 {
            let now = clock.now();
            // Reserved turns come due and go.
            due.retain(|at| {
                if *at <= now && limiter.admit("pn", rate).is_ok() {
                    sent += 1;
                    false
                } else {
                    true
                }
            });
            for _ in 0..8usize.saturating_sub(due.len()) {
                if let Ok(turn) = limiter.reserve_within("pn", rate, max) {
                    due.push(now + turn.wait());
                }
            }
            clock.advance(10 * MS);
        }
        // Ten seconds: 10/s paced at 1.006 s per ten turns.
        assert!((98..=100).contains(&sent), "{sent}");
        // The schedule is never more than the inline wait and one turn ahead of the clock.
        assert!(limiter.next_allowed_at("pn") <= clock.now() + max + 101 * MS);
    }

    #[test]
    fn idle_keys_are_swept() {
        let clock = Arc::new(ManualClock::new());
        let limiter = ThroughputLimiter::new(clock.clone());
        let rate = Rate::per_second(10).unwrap();
        for i in 0..500 {
            assert_eq!(limiter.try_acquire(&format!("n{i}"), rate), Ok(()));
        }
        clock.advance(Duration::from_secs(2));
        for _ in 0..SWEEP_EVERY {
            let _ = limiter.try_acquire("busy", rate);
        }
        assert!(limiter.tracked() < 10, "tracked {}", limiter.tracked());
    }

    /// A send job as the simulation runs it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Step {
        /// Claimed, sender built: ask for a turn.
        Reserve,
        /// Its turn is due: ask the cap, then send.
        Admit,
    }

    /// How the simulated workers behave.
    #[derive(Debug, Clone)]
    struct Sim {
        rate: u32,
        workers: usize,
        /// Work between two sends of a worker (claim, database), µs: `min..=max`.
        work_us: (u64, u64),
        /// Wake-up lateness after a sleep, µs: `0..=late_us` (on top of the 1 ms timer tick).
        late_us: u64,
        /// Longest inline wait; longer waits defer the job.
        max_wait: Duration,
        secs: u64,
        seed: u64,
    }

    /// Runs `sim` against a [`ThroughputLimiter`] on a manual clock, the way `send_job` drives
    /// it (reserve within `max_wait` or defer ≥ 10 ms, sleep on a millisecond timer, admit, send);
    /// returns the send instants, from the start.
    fn simulate(sim: &Sim) -> Vec<Duration> {
        let clock = Arc::new(ManualClock::new());
        let t0 = clock.now();
        let limiter = ThroughputLimiter::new(clock.clone());
        let rate = Rate::per_second(sim.rate).unwrap();
        let mut seed = sim.seed | 1;
        let mut random = move |lo: u64, hi: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            lo + seed % (hi - lo + 1)
        };
        // tokio's timer: a sleep ends on the first millisecond tick at or after its deadline,
        // then the task runs a little later.
        let wake = |at: Duration, random: &mut dyn FnMut(u64, u64) -> u64| {
            let tick = at.as_nanos().div_ceil(1_000_000);
            Duration::from_millis(u64::try_from(tick).unwrap())
                + Duration::from_micros(random(0, sim.late_us))
        };
        let end = Duration::from_secs(sim.secs);
        let mut events = BinaryHeap::new();
        for w in 0..sim.workers {
            events.push(Reverse((
                Duration::from_micros(random(0, sim.work_us.1)),
                w,
                Step::Reserve,
            )));
        }
        let mut sent = Vec::new();
        while let Some(Reverse((at, w, step))) = events.pop() {
            if at >= end {
                break;
            }
            let now = clock.now() - t0;
            clock.advance(at.saturating_sub(now));
            let next = match step {
                Step::Reserve => match limiter.reserve_within("pn", rate, sim.max_wait) {
                    Ok(turn) if turn.wait().is_zero() => (at, Step::Admit),
                    Ok(turn) => (wake(at + turn.wait(), &mut random), Step::Admit),
                    Err(wait) => {
                        let again = at + wait.max(10 * MS);
                        (wake(again, &mut random), Step::Reserve)
                    }
                },
                Step::Admit => match limiter.admit("pn", rate) {
                    Ok(()) => {
                        sent.push(at);
                        let work = random(sim.work_us.0, sim.work_us.1);
                        (at + Duration::from_micros(work), Step::Reserve)
                    }
                    Err(wait) => (wake(at + wait, &mut random), Step::Admit),
                },
            };
            events.push(Reverse((next.0, w, next.1)));
        }
        sent
    }

    /// The most sends in any window `[t, t + width]` (closed).
    fn most_in(sent: &[Duration], width: Duration) -> usize {
        let mut most = 0;
        let mut j = 0;
        for i in 0..sent.len() {
            while j < sent.len() && sent[j] <= sent[i] + width {
                j += 1;
            }
            most = most.max(j - i);
        }
        most
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the callers do, no second ever holds more sends than the rate (and no
        /// [`WINDOW`] either).
        #[test]
        fn no_second_ever_holds_more_than_the_rate(
            rate in prop_oneof![1u32..=20, Just(80u32), 81u32..=1000],
            workers in 1usize..=64,
            work in (0u64..=20_000, 0u64..=60_000),
            late_us in 0u64..=5_000,
            max_ms in prop::sample::select(vec![0u64, 20, 500, 2_000]),
            seed in any::<u64>(),
        ) {
            let sim = Sim {
                rate, workers, work_us: (work.0.min(work.1), work.0.max(work.1)), late_us,
                max_wait: Duration::from_millis(max_ms), secs: 4, seed,
            };
            let sent = simulate(&sim);
            prop_assert!(sent.windows(2).all(|w| w[0] <= w[1]));
            let n = usize::try_from(rate).unwrap();
            prop_assert!(most_in(&sent, Duration::from_secs(1)) <= n, "{:?}", sim);
            for (a, b) in sent.iter().zip(sent.iter().skip(n)) {
                prop_assert!(*b - *a >= WINDOW, "{:?}", sim);
            }
        }
    }

    #[test]
    fn a_saturated_number_sends_at_99_percent_of_its_rate_or_more() {
        for (rate, workers, late_us) in [
            (80, 8, 500),
            (80, 8, 3_000),
            (80, 64, 1_000),
            (10, 8, 1_000),
            (1, 8, 1_000),
            (1000, 8, 500),
            (1000, 32, 2_000),
        ] {
            let sim = Sim {
                rate,
                workers,
                work_us: (500, 4_000),
                late_us,
                max_wait: Duration::from_millis(500),
                secs: 30,
                seed: 0x5eed_0000 + u64::from(rate),
            };
            let sent = simulate(&sim);
            let expected = f64::from(rate) * 30.0;
            let got = sent.len() as f64;
            assert!(got >= 0.99 * expected, "{got} of {expected}: {sim:?}");
            let n = usize::try_from(rate).unwrap();
            assert!(most_in(&sent, Duration::from_secs(1)) <= n, "{sim:?}");
        }
    }
}
