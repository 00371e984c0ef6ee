//! Configuration of the agent-events function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_aws::config::{ConfigError, Env};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of last-known agent states (required).
    pub const STATE_TABLE: &str = "STATE_TABLE";
    /// S3 bucket of the feed (required).
    pub const FEED_BUCKET: &str = "FEED_BUCKET";
    /// Key prefix of the feed inside the bucket (optional, default none).
    pub const FEED_PREFIX: &str = "FEED_PREFIX";
    /// JSON mapping file overriding the built-in mapping: `s3://bucket/key` or a path in the
    /// deployment package (optional).
    pub const MAPPING_LOCATION: &str = "MAPPING_LOCATION";
    /// Seconds between last-seen-only writes of an idle agent (optional, default 600).
    pub const LAST_SEEN_WRITE_SECONDS: &str = "LAST_SEEN_WRITE_SECONDS";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub state_table: String,
    pub feed_bucket: String,
    pub feed_prefix: String,
    pub mapping_location: Option<String>,
    pub last_seen_write_after: Duration,
}

impl Config {
    /// Reads every variable; the first missing or bad one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            state_table: env.required(vars::STATE_TABLE)?,
            feed_bucket: env.required(vars::FEED_BUCKET)?,
            feed_prefix: env.optional(vars::FEED_PREFIX).unwrap_or_default(),
            mapping_location: env.optional(vars::MAPPING_LOCATION),
            last_seen_write_after: env.duration_secs(vars::LAST_SEEN_WRITE_SECONDS, Duration::minutes(10))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_and_defaults() {
        let env = Env::from_pairs([("STATE_TABLE", "states"), ("FEED_BUCKET", "feed")]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(
            (config.state_table.as_str(), config.feed_bucket.as_str()),
            ("states", "feed")
        );
        assert_eq!((config.feed_prefix.as_str(), config.mapping_location), ("", None));
        assert_eq!(config.last_seen_write_after, Duration::minutes(10));
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let err = Config::from_env(&Env::from_pairs([("FEED_BUCKET", "feed")])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable STATE_TABLE is missing");
        let env = Env::from_pairs([
            ("STATE_TABLE", "s"),
            ("FEED_BUCKET", "f"),
            ("LAST_SEEN_WRITE_SECONDS", "ten minutes"),
        ]);
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LAST_SEEN_WRITE_SECONDS=`ten minutes` is not a number of seconds"
        );
    }
}
