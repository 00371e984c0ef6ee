//! Configuration of the sweep function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};
use connect_wfm_core::agent::{DEFAULT_SILENCE_SECONDS, DEFAULT_SNAPSHOT_MINUTES, SweepPolicy};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of last-known agent states (required).
    pub const STATE_TABLE: &str = "STATE_TABLE";
    /// Seconds without any event after which an agent is `UNKNOWN` (optional, default 300).
    pub const SILENCE_SECONDS: &str = "SILENCE_SECONDS";
    /// Minutes between snapshots, 0 for none (optional, default 15).
    pub const SNAPSHOT_MINUTES: &str = "SNAPSHOT_MINUTES";
    /// DynamoDB table of the contact-events function (optional): when set, every sweep closes
    /// the stream-basis intervals that have ended.
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
    /// DynamoDB table of the roster (optional): the agents' and queues' latest profiles, written
    /// as the daily roster at the 00:00 UTC snapshot slot.
    pub const ROSTER_TABLE: &str = "ROSTER_TABLE";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The feed, the mapping and the outputs (shared by every function).
    pub feed: FeedConfig,
    pub state_table: String,
    pub policy: SweepPolicy,
    /// [`vars::CONTACT_TABLE`]; none when contact events are off.
    pub contact_table: Option<String>,
    /// [`vars::ROSTER_TABLE`]; none when the deployment keeps no roster.
    pub roster_table: Option<String>,
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
            feed: FeedConfig::from_env(env)?,
            policy: SweepPolicy {
                silence,
                snapshot_minutes: env.number(vars::SNAPSHOT_MINUTES, DEFAULT_SNAPSHOT_MINUTES)?,
            },
            contact_table: env.optional(vars::CONTACT_TABLE),
            roster_table: env.optional(vars::ROSTER_TABLE),
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
            (config.state_table.as_str(), config.feed.feed_prefix.as_str()),
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
