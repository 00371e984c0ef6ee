//! Timestamp formatting of the feed: RFC 3339, UTC, `Z` suffix, milliseconds where present.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a timestamp the way feed.md wants it: `2019-05-25T18:55:27.017Z`, or
/// `2026-11-20T10:15:00Z` when there is no sub-second part.
pub fn feed_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
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
}
