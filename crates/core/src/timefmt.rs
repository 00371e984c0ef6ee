//! Timestamp formatting of the feed: RFC 3339, UTC, `Z` suffix, milliseconds where present.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

/// Formats a timestamp the way feed.md wants it: `2019-05-25T18:55:27.017Z`, or
/// `2026-11-20T10:15:00Z` when there is no sub-second part. A finer source fraction
/// (microseconds, nanoseconds) is truncated to milliseconds: the feed never has more than 3
/// fractional digits.
pub fn feed_timestamp(at: &DateTime<Utc>) -> String {
    let format = if at.nanosecond() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    at.to_rfc3339_opts(format, true)
}

/// Serde helper: serialise a `DateTime<Utc>` with [`feed_timestamp`].
pub mod serde_feed_time {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::feed_timestamp(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_milliseconds_and_drops_empty_fraction() {
        let with_ms: DateTime<Utc> = "2019-05-25T18:55:27.017Z".parse().unwrap();
        assert_eq!(feed_timestamp(&with_ms), "2019-05-25T18:55:27.017Z");
        let whole: DateTime<Utc> = "2026-11-20T11:15:00+01:00".parse().unwrap();
        assert_eq!(feed_timestamp(&whole), "2026-11-20T10:15:00Z");
    }

    #[test]
    fn a_finer_fraction_is_truncated_to_milliseconds() {
        let micros: DateTime<Utc> = "2019-05-25T18:55:27.017999Z".parse().unwrap();
        assert_eq!(feed_timestamp(&micros), "2019-05-25T18:55:27.017Z");
        let nanos: DateTime<Utc> = "2019-05-25T18:55:27.000000500Z".parse().unwrap();
        assert_eq!(feed_timestamp(&nanos), "2019-05-25T18:55:27.000Z");
        let tenths: DateTime<Utc> = "2019-05-25T18:55:27.5Z".parse().unwrap();
        assert_eq!(feed_timestamp(&tenths), "2019-05-25T18:55:27.500Z");
    }
}
