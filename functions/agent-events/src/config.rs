//! Configuration of the agent-events function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};
use connect_wfm_core::agent::{DEFAULT_SILENCE_SECONDS, FoldPolicy, HEARTBEAT_PERIOD, throttle_fits_silence};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of last-known agent states (required).
    pub const STATE_TABLE: &str = "STATE_TABLE";
    /// Seconds between last-seen-only writes of an idle agent (optional, default 150). With the
    /// 120 s heartbeat period it must stay below `SILENCE_SECONDS`.
    pub const LAST_SEEN_WRITE_SECONDS: &str = "LAST_SEEN_WRITE_SECONDS";
    /// The sweep's silence threshold, in seconds (optional, default 300): read here only to
    /// check that the last-seen throttle fits it.
    pub const SILENCE_SECONDS: &str = "SILENCE_SECONDS";
    /// DynamoDB table of the roster, the agents' and queues' latest profiles (optional; without
    /// it every queue a new profile names is written as new, and the daily roster is empty).
    pub const ROSTER_TABLE: &str = "ROSTER_TABLE";
    /// `include` to write agents' first and last names in `agent_profile` (personal data);
    /// `exclude` (the default) writes null.
    pub const AGENT_NAMES: &str = "AGENT_NAMES";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The feed, the mapping and the outputs (shared by every function).
    pub feed: FeedConfig,
    pub state_table: String,
    pub last_seen_write_after: Duration,
    pub roster_table: Option<String>,
    pub agent_names: bool,
}

impl Config {
    /// Reads every variable; the first missing or bad one is the error. A last-seen throttle
    /// that would let the sweep judge an agent silent while it sends heartbeats is refused.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let last_seen_write_after = env.duration_secs(
            vars::LAST_SEEN_WRITE_SECONDS,
            FoldPolicy::default().last_seen_write_after,
        )?;
        let silence = env.duration_secs(vars::SILENCE_SECONDS, Duration::seconds(DEFAULT_SILENCE_SECONDS))?;
        if !throttle_fits_silence(last_seen_write_after, silence) {
            return Err(ConfigError::Inconsistent {
                message: format!(
                    "{}={} plus the {} s heartbeat period must stay below {}={}: an agent that keeps \
                     sending heartbeats would be judged silent",
                    vars::LAST_SEEN_WRITE_SECONDS,
                    last_seen_write_after.num_seconds(),
                    HEARTBEAT_PERIOD.num_seconds(),
                    vars::SILENCE_SECONDS,
                    silence.num_seconds()
                ),
            });
        }
        Ok(Self {
            state_table: env.required(vars::STATE_TABLE)?,
            feed: FeedConfig::from_env(env)?,
            last_seen_write_after,
            roster_table: env.optional(vars::ROSTER_TABLE),
            agent_names: env.choice(vars::AGENT_NAMES, &["include", "exclude"], "exclude")? == "include",
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
            (config.state_table.as_str(), config.feed.feed_bucket.as_str()),
            ("states", "feed")
        );
        assert_eq!(
            (config.feed.feed_prefix.as_str(), config.feed.mapping_location),
            ("", None)
        );
        assert_eq!(config.last_seen_write_after, Duration::seconds(150));
        assert_eq!((config.roster_table, config.agent_names), (None, false));
        let env = Env::from_pairs([
            ("STATE_TABLE", "states"),
            ("FEED_BUCKET", "feed"),
            ("ROSTER_TABLE", "roster"),
            ("AGENT_NAMES", "include"),
        ]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(
            (config.roster_table.as_deref(), config.agent_names),
            (Some("roster"), true)
        );
    }

    #[test]
    fn refuses_a_throttle_that_does_not_fit_the_silence() {
        let env = Env::from_pairs([
            ("STATE_TABLE", "s"),
            ("FEED_BUCKET", "f"),
            ("LAST_SEEN_WRITE_SECONDS", "600"),
        ]);
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LAST_SEEN_WRITE_SECONDS=600 plus the 120 s heartbeat period must stay below SILENCE_SECONDS=300: \
             an agent that keeps sending heartbeats would be judged silent"
        );
        let env = Env::from_pairs([
            ("STATE_TABLE", "s"),
            ("FEED_BUCKET", "f"),
            ("LAST_SEEN_WRITE_SECONDS", "600"),
            ("SILENCE_SECONDS", "900"),
        ]);
        assert_eq!(
            Config::from_env(&env).unwrap().last_seen_write_after,
            Duration::seconds(600)
        );
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
