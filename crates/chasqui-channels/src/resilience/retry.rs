//! When to try a failed send again.
//!
//! | class | decision |
//! |---|---|
//! | [`ErrorClass::Retryable`], [`ErrorClass::RateLimited`] | retry, up to `retries` times (`WHATSAPP_RETRY_ATTEMPTS`, default 3: at most 4 calls) |
//! | [`ErrorClass::AuthExpired`] | hold: the channel needs re-authorisation; the message waits for it |
//! | [`ErrorClass::WindowClosed`], [`ErrorClass::Permanent`] | fail now, with the error's sentence |
//!
//! The pause before a retry is the provider's when it gave one (`Retry-After`, Meta's
//! `estimated_time_to_regain_access`), otherwise exponential backoff with equal jitter
//! ([`chasqui_core::backoff::Backoff`]: 1 s, 2 s, 4 s… ± half, capped at 5 minutes). For Meta's
//! pair-rate error 131056 the pause is at least 4^n seconds (1, 4, 16, 64…), as Meta suggests.

use std::time::Duration;

use chasqui_core::backoff::Backoff;

use crate::send::errors::MAX_RETRY_AFTER;
use crate::send::{ErrorClass, SendError};

/// Meta's pair-rate error.
const PAIR_RATE: i64 = 131056;

/// What to do after a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Call again after this long.
    RetryAfter(Duration),
    /// Keep the message until the channel is re-authorised (do not fail it, do not count it).
    Hold,
    /// Fail the message with the error's sentence.
    Fail,
}

/// How many retries, and how far apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first call (so `retries + 1` calls at most).
    pub retries: u32,
    /// Spacing when the provider gives no pause.
    pub backoff: Backoff,
    /// The longest pause honoured from a provider.
    pub max_pause: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, backoff from 1 s doubling up to 5 minutes.
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(300),
                factor: 2.0,
            },
            max_pause: MAX_RETRY_AFTER,
        }
    }
}

impl RetryPolicy {
    /// The default policy with `retries` retries (the configuration's `whatsapp.retry_attempts`,
    /// i.e. `WHATSAPP_RETRY_ATTEMPTS`).
    pub fn with_retries(retries: u32) -> Self {
        Self {
            retries,
            ..Self::default()
        }
    }

    /// The most calls one message gets.
    pub fn max_calls(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// What to do after the `failures`-th failed call (1-based) ended with `err`; `unit` is a
    /// random number in `[0, 1)` for the jitter.
    pub fn decide(&self, failures: u32, err: &SendError, unit: f64) -> RetryDecision {
        match err.class {
            ErrorClass::AuthExpired => return RetryDecision::Hold,
            ErrorClass::WindowClosed | ErrorClass::Permanent => return RetryDecision::Fail,
            ErrorClass::Retryable | ErrorClass::RateLimited => {}
        }
        let failures = failures.max(1);
        if failures > self.retries {
            return RetryDecision::Fail;
        }
        if let Some(pause) = err.retry_after {
            return RetryDecision::RetryAfter(pause.min(self.max_pause));
        }
        let mut delay = self.backoff.delay(failures, unit);
        if err.code == Some(PAIR_RATE) {
            let meta = Duration::from_secs(4u64.saturating_pow(failures - 1));
            delay = delay.max(meta);
        }
        RetryDecision::RetryAfter(delay.min(self.max_pause))
    }

    /// [`Self::decide`] with a random jitter.
    pub fn decide_random(&self, failures: u32, err: &SendError) -> RetryDecision {
        self.decide(failures, err, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::SenderKind;

    fn err(class: ErrorClass) -> SendError {
        SendError::new(SenderKind::CloudApi, class, "x")
    }

    #[test]
    fn only_retryable_classes_are_retried() {
        let p = RetryPolicy::default();
        assert!(matches!(
            p.decide(1, &err(ErrorClass::Retryable), 0.5),
            RetryDecision::RetryAfter(_)
        ));
        assert!(matches!(
            p.decide(1, &err(ErrorClass::RateLimited), 0.5),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            p.decide(1, &err(ErrorClass::AuthExpired), 0.5),
            RetryDecision::Hold
        );
        assert_eq!(
            p.decide(1, &err(ErrorClass::WindowClosed), 0.5),
            RetryDecision::Fail
        );
        assert_eq!(
            p.decide(1, &err(ErrorClass::Permanent), 0.5),
            RetryDecision::Fail
        );
    }

    #[test]
    fn three_retries_mean_four_calls() {
        let p = RetryPolicy::with_retries(3);
        assert_eq!(p.max_calls(), 4);
        let e = err(ErrorClass::Retryable);
        for failures in 1..=3 {
            assert!(matches!(
                p.decide(failures, &e, 0.0),
                RetryDecision::RetryAfter(_)
            ));
        }
        assert_eq!(p.decide(4, &e, 0.0), RetryDecision::Fail);
        assert_eq!(
            RetryPolicy::with_retries(0).decide(1, &e, 0.0),
            RetryDecision::Fail
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let e = err(ErrorClass::Retryable);
        let s = Duration::from_secs;
        assert_eq!(p.decide(1, &e, 0.0), RetryDecision::RetryAfter(s(1) / 2));
        assert_eq!(p.decide(3, &e, 0.0), RetryDecision::RetryAfter(s(2)));
        assert_eq!(
            p.decide(3, &e, 0.999_999),
            RetryDecision::RetryAfter(p.backoff.delay(3, 0.999_999))
        );
        let e = err(ErrorClass::RateLimited).with_retry_after(Some(s(30)));
        assert_eq!(p.decide(1, &e, 0.0), RetryDecision::RetryAfter(s(30)));
        let short = RetryPolicy {
            max_pause: s(10),
            ..p
        };
        assert_eq!(short.decide(1, &e, 0.0), RetryDecision::RetryAfter(s(10)));
    }

    #[test]
    fn pair_rate_waits_four_to_the_n_seconds() {
        let p = RetryPolicy {
            retries: 5,
            ..RetryPolicy::default()
        };
        let mut e = err(ErrorClass::RateLimited);
        e.code = Some(131056);
        let got: Vec<_> = (1..=4).map(|n| p.decide(n, &e, 0.0)).collect();
        let s = Duration::from_secs;
        assert_eq!(got, [1, 4, 16, 64].map(|n| RetryDecision::RetryAfter(s(n))));
    }
}
