//! Retry schedules: exponential backoff with full jitter, shared by the job queue and senders.

use std::time::Duration;

/// How retries are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Growth per attempt.
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            factor: 2.0,
        }
    }
}

impl Backoff {
    /// The ceiling of the delay after `attempt` failures (1-based), before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs)
    }

    /// The delay after `attempt` failures with "equal jitter": half fixed, half random, so retries
    /// of many jobs that failed together spread out yet never come back immediately.
    /// `unit` is a random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt).as_secs_f64();
        Duration::from_secs_f64(ceiling / 2.0 + ceiling / 2.0 * unit.clamp(0.0, 1.0))
    }

    /// [`Backoff::delay`] with a random draw from the thread RNG.
    pub fn delay_random(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_exponentially_until_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(30),
            factor: 2.0,
        };
        let ceilings: Vec<u64> = (1..=6).map(|a| b.ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 30, 30]);
    }

    proptest! {
        #[test]
        fn delay_stays_between_half_and_full_ceiling(attempt in 0u32..10_000, unit in 0.0f64..1.0) {
            let b = Backoff::default();
            let d = b.delay(attempt, unit);
            let c = b.ceiling(attempt);
            prop_assert!(d <= c);
            prop_assert!(d >= c / 2);
        }
    }
}
