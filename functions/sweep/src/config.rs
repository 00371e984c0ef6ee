//! Configuration of the sweep function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_core::agent::{DEFAULT_SILENCE_SECONDS, DEFAULT_SNAPSHOT_MINUTES, SweepPolicy};
use connect_wfm_core::config::{ConfigError, Env};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of last-known agent states (required).
    pub const STATE_TABLE: &str = "STATE_TABLE";
    /// S3 bucket of the feed (required).
    pub const FEED_BUCKET: &str = "FEED_BUCKET";
    /// Key prefix of the feed inside the bucket (optional, default none).
    pub const FEED_PREFIX: &str = "FEED_PREFIX";
    /// JSON mapping file overriding the built-in mapping (optional): its `Unknown` entry names
    /// the state of a silent agent.
    pub const MAPPING_LOCATION: &str = "MAPPING_LOCATION";
    /// Seconds without any event after which an agent is `UNKNOWN` (optional, default 300).
    pub const SILENCE_SECONDS: &str = "SILENCE_SECONDS";
    /// Minutes between snapshots, 0 for none (optional, default 15).
    pub const SNAPSHOT_MINUTES: &str = "SNAPSHOT_MINUTES";
    /// EventBridge bus (name or ARN) every feed record is also put on (optional, default none).
    pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
    /// DynamoDB table of the contact-events function (optional): when set, every sweep closes
    /// the stream-basis intervals that have ended.
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub state_table: String,
    pub feed_bucket: String,
    pub feed_prefix: String,
    pub mapping_location: Option<String>,
    pub event_bus_name: Option<String>,
    pub policy: SweepPolicy,
    /// [`vars::CONTACT_TABLE`]; none when contact events are off.
    pub contact_table: Option<String>,
}

impl Config {
    /// Reads every variable; the first missing or bad one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let silence = env.duration_secs(vars::SILENCE_SECONDS, Duration::seconds(DEFAULT_SILENCE_SECONDS))?;
        if silence <= Duration::zero() {
            return Err(ConfigError::Inconsistent {
                message: format!("{} must be at least 1 second", vars::SILENCE_SECONDS),
            });
        }
        Ok(Self {
            state_table: env.required(vars::STATE_TABLE)?,
            feed_bucket: env.required(vars::FEED_BUCKET)?,
            feed_prefix: env.optional(vars::FEED_PREFIX).unwrap_or_default(),
            mapping_location: env.optional(vars::MAPPING_LOCATION),
            event_bus_name: env.optional(vars::EVENT_BUS_NAME),
            policy: SweepPolicy {
                silence,
                snapshot_minutes: env.number(vars::SNAPSHOT_MINUTES, DEFAULT_SNAPSHOT_MINUTES)?,
            },
            contact_table: env.optional(vars::CONTACT_TABLE),
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
        assert_eq!(config.policy, SweepPolicy::default());
        assert_eq!(
            (config.state_table.as_str(), config.feed_prefix.as_str()),
            ("states", "")
        );
        assert_eq!(config.contact_table, None);
        let env = Env::from_pairs([
            ("STATE_TABLE", "s"),
            ("FEED_BUCKET", "f"),
            ("SILENCE_SECONDS", "600"),
            ("SNAPSHOT_MINUTES", "0"),
            ("CONTACT_TABLE", "contacts"),
        ]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.contact_table.as_deref(), Some("contacts"));
        assert_eq!(
            config.policy,
            SweepPolicy {
                silence: Duration::seconds(600),
                snapshot_minutes: 0
            }
        );
    }

    #[test]
    fn names_the_bad_variable() {
        let env = Env::from_pairs([("STATE_TABLE", "s"), ("FEED_BUCKET", "f"), ("SNAPSHOT_MINUTES", "15m")]);
        assert_eq!(
            Config::from_env(&env).unwrap_err().to_string(),
            "environment variable SNAPSHOT_MINUTES=`15m` is not a whole number"
        );
        let env = Env::from_pairs([("STATE_TABLE", "s"), ("FEED_BUCKET", "f"), ("SILENCE_SECONDS", "0")]);
        assert_eq!(
            Config::from_env(&env).unwrap_err().to_string(),
            "SILENCE_SECONDS must be at least 1 second"
        );
        let env = Env::from_pairs([("FEED_BUCKET", "f")]);
        assert_eq!(
            Config::from_env(&env).unwrap_err().to_string(),
            "environment variable STATE_TABLE is missing"
        );
    }
}
