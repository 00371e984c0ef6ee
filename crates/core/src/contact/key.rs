//! The 15-minute interval of the stream basis and one record's identity in it: what a leg is
//! filed under ([`super::leg`]) and what a record is computed for ([`super::interval`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Length of a stream-basis interval.
pub const INTERVAL_MINUTES: u32 = 15;

/// The start of the 15-minute interval holding `at` (intervals are half-open: `10:15:00.000`
/// starts the 10:15 interval).
pub fn interval_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let step = i64::from(INTERVAL_MINUTES) * 60;
    let seconds = at.timestamp().div_euclid(step) * step;
    DateTime::from_timestamp(seconds, 0).unwrap_or(at)
}

/// One stream-basis record's identity: instance id, queue id, interval start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IntervalKey {
    /// Connect instance id.
    pub instance_id: String,
    /// Queue id (last segment of the queue ARN).
    pub queue_id: String,
    /// Start of the 15-minute interval, UTC.
    pub interval_start: DateTime<Utc>,
}

impl IntervalKey {
    /// The interval's (exclusive) end.
    pub fn end(&self) -> DateTime<Utc> {
        self.interval_start + TimeDelta::minutes(INTERVAL_MINUTES.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn interval_start_is_half_open() {
        assert_eq!(
            interval_start(at("2026-11-20T10:14:59.999Z")),
            at("2026-11-20T10:00:00Z")
        );
        assert_eq!(interval_start(at("2026-11-20T10:15:00Z")), at("2026-11-20T10:15:00Z"));
        assert_eq!(interval_start(at("1969-12-31T23:59:59Z")), at("1969-12-31T23:45:00Z"));
    }

    #[test]
    fn an_interval_ends_fifteen_minutes_after_its_start() {
        let key = IntervalKey {
            instance_id: "i".into(),
            queue_id: "q".into(),
            interval_start: at("2026-11-20T10:00:00Z"),
        };
        assert_eq!(key.end(), at("2026-11-20T10:15:00Z"));
    }
}
