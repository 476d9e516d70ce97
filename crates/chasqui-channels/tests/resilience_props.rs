//! Property tests for the resilience pieces: the token bucket never admits more than
//! `rate × t + burst` over any window, and the circuit breaker follows its state machine
//! (checked against a small independent model). Time is driven by hand; nothing sleeps.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions panic on purpose

use std::sync::Arc;
use std::time::{Duration, Instant};

use chasqui_channels::resilience::ManualClock;
use chasqui_channels::resilience::breaker::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, FailureRate,
};
use chasqui_channels::resilience::rate::{Rate, ThroughputLimiter, TokenBucket};
use proptest::prelude::*;

/// Whether admissions at `times` (sorted) respect `rate` over every window.
fn respects(times: &[Duration], rate: Rate) -> Result<(), String> {
    let interval = rate.interval().as_nanos();
    let burst = u128::from(rate.burst());
    for i in 0..times.len() {
        for j in i..times.len() {
            let count = (j - i + 1) as u128;
            let span = (times[j] - times[i]).as_nanos();
            // count ≤ span / interval + burst  ⇔  (count − burst) × interval ≤ span
            if count > burst && (count - burst) * interval > span {
                return Err(format!(
                    "{count} admissions in {span} ns (interval {interval} ns, burst {burst})"
                ));
            }
        }
    }
    Ok(())
}

fn rate_strategy() -> impl Strategy<Value = Rate> {
    prop_oneof![
        (1u32..=1000).prop_map(|n| Rate::per_second(n).unwrap()),
        (1u64..10_000, 1u32..50)
            .prop_map(|(ms, burst)| { Rate::every(Duration::from_millis(ms)).with_burst(burst) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Reserving callers: each is admitted at `now + wait`.
    #[test]
    fn acquire_never_exceeds_rate_times_t_plus_burst(
        rate in rate_strategy(),
        gaps in prop::collection::vec(0u64..3_000_000_000, 1..120),
    ) {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(rate);
        let mut now = Duration::ZERO;
        let mut admitted = Vec::new();
        for gap in gaps {
            now += Duration::from_nanos(gap % (rate.interval().as_nanos() as u64 * 3 + 1));
            let wait = bucket.acquire(t0 + now);
            admitted.push(now + wait);
        }
        prop_assert!(admitted.windows(2).all(|w| w[0] <= w[1]), "turns are handed out in order");
        prop_assert_eq!(respects(&admitted, rate), Ok(()));
    }

    /// Non-reserving callers: admitted only when `try_acquire` says so, at that instant.
    #[test]
    fn try_acquire_never_exceeds_rate_times_t_plus_burst(
        rate in rate_strategy(),
        gaps in prop::collection::vec(0u64..1_000_000_000, 1..200),
    ) {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(rate);
        let mut now = Duration::ZERO;
        let mut admitted = Vec::new();
        for gap in gaps {
            now += Duration::from_nanos(gap % (rate.interval().as_nanos() as u64 + 1));
            match bucket.try_acquire(t0 + now) {
                Ok(()) => admitted.push(now),
                Err(wait) => {
                    prop_assert!(!wait.is_zero());
                    prop_assert_eq!(bucket.next_allowed_at(t0 + now), t0 + now + wait);
                }
            }
        }
        prop_assert_eq!(respects(&admitted, rate), Ok(()));
    }

    /// A rested bucket admits exactly `burst` at once, and nobody waits longer than needed.
    #[test]
    fn a_rested_bucket_admits_its_burst_then_paces(rate in rate_strategy(), extra in 1u32..20) {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(rate);
        for k in 0..rate.burst() + extra {
            let wait = bucket.acquire(t0);
            let expected = rate.interval() * k.saturating_sub(rate.burst() - 1);
            prop_assert_eq!(wait, expected, "caller {}", k);
        }
    }
}

#[test]
fn two_hundred_messages_at_80_per_second_are_paced_evenly_under_the_cap() {
    let limiter = ThroughputLimiter::new(Arc::new(ManualClock::new()));
    let rate = Rate::per_second(80).unwrap();
    let far = Duration::from_secs(10);
    let waits: Vec<Duration> = (0..200)
        .map(|_| limiter.reserve_within("pn1", rate, far).unwrap().wait())
        .collect();
    // One turn every (1 s + 6 ms) / 80; the first four are the 50 ms a stall may make up.
    let pace = Duration::from_micros(12_575);
    assert_eq!(waits[..4], [Duration::ZERO; 4]);
    assert_eq!(waits[4], pace);
    assert_eq!(waits[199], pace * 196);
    // Another number is not slowed down by the first.
    assert_eq!(
        limiter.reserve_within("pn2", rate, far).unwrap().wait(),
        Duration::ZERO
    );
}

/// The breaker as the documentation describes it, written independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Closed { streak: u32 },
    Open { until: Duration },
    Probing { since: Duration },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Wait(u64),
    Allow,
    Success,
    Failure,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..40_000).prop_map(Op::Wait),
        // Exact boundaries: the probe poll, the probe timeout, the open period.
        prop::sample::select(vec![1_000u64, 30_000, 60_000]).prop_map(Op::Wait),
        Just(Op::Allow),
        Just(Op::Success),
        Just(Op::Failure),
    ]
}

const THRESHOLD: u32 = 3;
const OPEN_FOR: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const PROBE_POLL: Duration = Duration::from_secs(1);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_follows_its_state_machine(ops in prop::collection::vec(op(), 1..200)) {
        let t0 = Instant::now();
        let mut breaker = CircuitBreaker::new(BreakerConfig {
            failure_threshold: THRESHOLD,
            failure_rate: None,
            open_for: OPEN_FOR,
            probe_timeout: PROBE_TIMEOUT,
            probe_poll: PROBE_POLL,
        });
        let mut model = Model::Closed { streak: 0 };
        let mut now = Duration::ZERO;
        let mut opened = 0u64;
        for op in ops {
            match op {
                Op::Wait(ms) => now += Duration::from_millis(ms),
                Op::Allow => {
                    let (expected, next) = match model {
                        Model::Closed { .. } => (Ok(()), model),
                        Model::Open { until } if now >= until => (Ok(()), Model::Probing { since: now }),
                        Model::Open { until } => (Err(until), model),
                        Model::Probing { since } if now >= since + PROBE_TIMEOUT => {
                            (Ok(()), Model::Probing { since: now })
                        }
                        Model::Probing { since } => {
                            (Err((since + PROBE_TIMEOUT).min(now + PROBE_POLL)), model)
                        }
                    };
                    let got = breaker.allow(t0 + now);
                    prop_assert_eq!(got, expected.map_err(|u| BreakerOpen { until: t0 + u }));
                    model = next;
                }
                Op::Success => {
                    breaker.record_success(t0 + now);
                    model = match model {
                        Model::Closed { .. } | Model::Probing { .. } => Model::Closed { streak: 0 },
                        open => open,
                    };
                }
                Op::Failure => {
                    breaker.record_failure(t0 + now);
                    model = match model {
                        Model::Closed { streak } if streak + 1 >= THRESHOLD => {
                            opened += 1;
                            Model::Open { until: now + OPEN_FOR }
                        }
                        Model::Closed { streak } => Model::Closed { streak: streak + 1 },
                        Model::Probing { .. } => {
                            opened += 1;
                            Model::Open { until: now + OPEN_FOR }
                        }
                        open => open,
                    };
                }
            }
            let snap = breaker.snapshot(t0 + now);
            let expected_state = match model {
                Model::Closed { .. } => BreakerState::Closed,
                Model::Open { until } if now < until => BreakerState::Open,
                _ => BreakerState::HalfOpen,
            };
            prop_assert_eq!(snap.state, expected_state);
            prop_assert_eq!(snap.times_opened, opened);
            if let Model::Open { until } = model
                && now < until
            {
                prop_assert_eq!(snap.open_until, Some(t0 + until));
            }
        }
    }

    /// With a failure-rate rule, the breaker never opens while failures stay under the rate and
    /// the streak under the threshold.
    #[test]
    fn breaker_rate_rule_needs_enough_failures(outcomes in prop::collection::vec(any::<bool>(), 1..60)) {
        let t0 = Instant::now();
        let rate = FailureRate { threshold: 0.5, window: 20, min_calls: 10 };
        let mut breaker = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 5,
            failure_rate: Some(rate),
            ..BreakerConfig::default()
        });
        let mut history: Vec<bool> = Vec::new();
        let mut streak = 0;
        for failed in outcomes {
            if breaker.state(t0) != BreakerState::Closed {
                break;
            }
            history.push(failed);
            if failed {
                streak += 1;
                breaker.record_failure(t0);
            } else {
                streak = 0;
                breaker.record_success(t0);
            }
            let recent = &history[history.len().saturating_sub(rate.window)..];
            let failures = recent.iter().filter(|f| **f).count();
            let should_open = failed
                && (streak >= 5
                    || (recent.len() >= rate.min_calls
                        && failures as f64 / recent.len() as f64 >= rate.threshold));
            let state = breaker.state(t0);
            prop_assert_eq!(state == BreakerState::Open, should_open, "history {:?}", history);
        }
    }
}
