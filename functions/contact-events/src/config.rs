//! Configuration of the contact-events function, read and validated once at cold start.

use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of contact legs, their filing under intervals and queue names (required).
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The feed, the mapping and the outputs (shared by every function).
    pub feed: FeedConfig,
    /// [`vars::CONTACT_TABLE`].
    pub contact_table: String,
}

impl Config {
    /// Reads every variable; the first missing one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            contact_table: env.required(vars::CONTACT_TABLE)?,
            feed: FeedConfig::from_env(env)?,
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
        assert_eq!(
            (config.feed.feed_prefix.as_str(), config.feed.mapping_location),
            ("", None)
        );
    }
}
