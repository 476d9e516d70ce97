//! Time as stored: Unix milliseconds, the one representation both engines index well.

use chrono::{DateTime, TimeZone, Utc};

/// The current time in Unix milliseconds.
pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored timestamp back as a `DateTime` (saturating on out-of-range values).
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
