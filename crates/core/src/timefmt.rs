//! Timestamp formatting of the feed (feed.md): RFC 3339 in UTC with a `Z` suffix. Instants
//! carry exactly three fractional digits, `.000` included, so every timestamp has one fixed
//! width; interval starts are whole minutes written without a fraction.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats an instant the way feed.md wants it: `2019-05-25T18:55:27.017Z`,
/// `2026-11-21T09:00:00.000Z`. A finer source fraction (microseconds, nanoseconds) is truncated
/// to milliseconds.
pub fn feed_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats an interval start: the whole minute, without a fraction (`2026-11-20T10:15:00Z`).
/// Seconds and fractions, which an interval start never has, are dropped.
pub fn interval_timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:00Z").to_string()
}

/// Serde helper: serialise a `DateTime<Utc>` with [`feed_timestamp`].
pub mod serde_feed_time {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::feed_timestamp(at))
    }

    pub use super::deserialize_rfc3339 as deserialize;
}

/// Serde helper: serialise an interval start with [`interval_timestamp`].
pub mod serde_interval_start {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::interval_timestamp(at))
    }

    pub use super::deserialize_rfc3339 as deserialize;
}

/// Serde helper: reads a feed timestamp back (any RFC 3339 instant, as UTC), for the tools and
/// functions that read feed records (the activity pieces a sweep sums).
pub fn deserialize_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_instant_has_exactly_three_fractional_digits() {
        assert_eq!(
            feed_timestamp(&at("2019-05-25T18:55:27.017Z")),
            "2019-05-25T18:55:27.017Z"
        );
        assert_eq!(
            feed_timestamp(&at("2026-11-20T11:15:00+01:00")),
            "2026-11-20T10:15:00.000Z"
        );
        assert_eq!(
            feed_timestamp(&at("2026-11-21T09:00:00.000Z")),
            "2026-11-21T09:00:00.000Z"
        );
        let widths: Vec<usize> = [
            "2026-11-21T09:00:00Z",
            "2019-05-25T18:55:27.5Z",
            "2019-05-25T18:55:27.017999Z",
        ]
        .iter()
        .map(|t| feed_timestamp(&at(t)).len())
        .collect();
        assert_eq!(widths, [24, 24, 24]);
    }

    #[test]
    fn a_finer_fraction_is_truncated_to_milliseconds() {
        assert_eq!(
            feed_timestamp(&at("2019-05-25T18:55:27.017999Z")),
            "2019-05-25T18:55:27.017Z"
        );
        assert_eq!(
            feed_timestamp(&at("2019-05-25T18:55:27.000000500Z")),
            "2019-05-25T18:55:27.000Z"
        );
        assert_eq!(
            feed_timestamp(&at("2019-05-25T18:55:27.5Z")),
            "2019-05-25T18:55:27.500Z"
        );
    }

    #[test]
    fn interval_starts_are_whole_minutes_without_a_fraction() {
        assert_eq!(
            interval_timestamp(&at("2026-11-20T11:15:00+01:00")),
            "2026-11-20T10:15:00Z"
        );
        assert_eq!(
            interval_timestamp(&at("2026-11-20T10:15:00.000Z")),
            "2026-11-20T10:15:00Z"
        );
    }
}
