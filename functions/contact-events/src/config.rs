//! Configuration of the contact-events function, read and validated once at cold start.

use connect_wfm_aws::config::{ConfigError, Env};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of contact legs, their filing under intervals and queue names (required).
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
    /// S3 bucket of the feed (required).
    pub const FEED_BUCKET: &str = "FEED_BUCKET";
    /// Key prefix of the feed inside the bucket (optional, default none).
    pub const FEED_PREFIX: &str = "FEED_PREFIX";
    /// JSON mapping file (thresholds, SLAs, instance aliases): `s3://bucket/key` or a path in
    /// the deployment package (optional).
    pub const MAPPING_LOCATION: &str = "MAPPING_LOCATION";
    /// EventBridge bus (name or ARN) every feed record is also put on (optional, default none).
    pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// [`vars::CONTACT_TABLE`].
    pub contact_table: String,
    /// [`vars::FEED_BUCKET`].
    pub feed_bucket: String,
    /// [`vars::FEED_PREFIX`].
    pub feed_prefix: String,
    /// [`vars::MAPPING_LOCATION`].
    pub mapping_location: Option<String>,
    /// [`vars::EVENT_BUS_NAME`].
    pub event_bus_name: Option<String>,
}

impl Config {
    /// Reads every variable; the first missing one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            contact_table: env.required(vars::CONTACT_TABLE)?,
            feed_bucket: env.required(vars::FEED_BUCKET)?,
            feed_prefix: env.optional(vars::FEED_PREFIX).unwrap_or_default(),
            mapping_location: env.optional(vars::MAPPING_LOCATION),
            event_bus_name: env.optional(vars::EVENT_BUS_NAME),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_variable() {
        let err = Config::from_env(&Env::from_pairs([("FEED_BUCKET", "feed")])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable CONTACT_TABLE is missing");
        let config = Config::from_env(&Env::from_pairs([("CONTACT_TABLE", "t"), ("FEED_BUCKET", "f")])).unwrap();
        assert_eq!((config.feed_prefix.as_str(), config.mapping_location), ("", None));
    }
}
