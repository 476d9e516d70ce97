//! The 24-hour customer-service window: free-form messages only within 24 h of the customer's last
//! inbound message, approved templates otherwise (Meta fails a late free-form send with 131047).
//!
//! Boundary semantics, chosen to never send a free-form message Meta would refuse:
//! the window is the half-open interval `[last_inbound_at, last_inbound_at + 24 h)`.
//! At exactly `last_inbound_at + 24 h` it is **closed**. A `now` earlier than `last_inbound_at`
//! (clock skew between the provider's timestamp and ours) counts as open. A contact that has
//! never written has no window.

use chrono::{DateTime, TimeDelta, Utc};

/// How long an inbound message keeps the window open.
pub const WINDOW: TimeDelta = TimeDelta::hours(24);

/// The first instant at which the window opened by `last_inbound_at` is closed.
pub fn window_expires_at(last_inbound_at: DateTime<Utc>) -> DateTime<Utc> {
    // Saturates at the far end of chrono's range rather than overflowing.
    last_inbound_at
        .checked_add_signed(WINDOW)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether free-form messages may be sent at `now`, given the last inbound message (if any).
pub fn is_open(last_inbound_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_inbound_at.is_some_and(|last| now < window_expires_at(last))
}

/// Time left before the window closes, or `None` when it is closed (or never opened).
pub fn remaining(last_inbound_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<TimeDelta> {
    let last = last_inbound_at?;
    let expires = window_expires_at(last);
    (now < expires).then(|| expires - now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn expires_exactly_twenty_four_hours_later() {
        let last = at(1_750_000_000);
        assert_eq!(window_expires_at(last), at(1_750_000_000 + 86_400));
    }

    #[test]
    fn boundary_is_half_open() {
        let last = at(1_750_000_000);
        let expires = window_expires_at(last);
        assert!(is_open(Some(last), last), "open at the inbound instant");
        assert!(is_open(Some(last), expires - TimeDelta::nanoseconds(1)));
        assert!(is_open(Some(last), expires - TimeDelta::milliseconds(1)));
        assert!(!is_open(Some(last), expires), "closed exactly at +24 h");
        assert!(!is_open(Some(last), expires + TimeDelta::seconds(1)));
    }

    #[test]
    fn skewed_clock_and_no_inbound() {
        let last = at(1_750_000_000);
        assert!(
            is_open(Some(last), last - TimeDelta::minutes(5)),
            "provider clock ahead of ours"
        );
        assert!(!is_open(None, last));
        assert_eq!(remaining(None, last), None);
    }

    #[test]
    fn remaining_counts_down_to_the_boundary() {
        let last = at(1_750_000_000);
        assert_eq!(remaining(Some(last), last), Some(WINDOW));
        assert_eq!(
            remaining(Some(last), last + TimeDelta::hours(23)),
            Some(TimeDelta::hours(1))
        );
        assert_eq!(remaining(Some(last), window_expires_at(last)), None);
    }

    #[test]
    fn saturates_at_the_end_of_time() {
        let last = DateTime::<Utc>::MAX_UTC;
        assert_eq!(window_expires_at(last), DateTime::<Utc>::MAX_UTC);
        assert!(!is_open(Some(last), last));
    }

    proptest! {
        #[test]
        fn open_iff_within_24h(last in 0i64..4_000_000_000, offset in -200_000i64..200_000) {
            let last_at = at(last);
            let now = at(last + offset);
            prop_assert_eq!(is_open(Some(last_at), now), offset < 86_400);
            prop_assert_eq!(remaining(Some(last_at), now).is_some(), offset < 86_400);
        }

        #[test]
        fn a_newer_inbound_never_shortens_the_window(
            a in 0i64..4_000_000_000, b in 0i64..4_000_000_000
        ) {
            let (older, newer) = (at(a.min(b)), at(a.max(b)));
            prop_assert!(window_expires_at(newer) >= window_expires_at(older));
        }
    }
}
