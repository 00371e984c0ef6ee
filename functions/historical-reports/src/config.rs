//! Configuration of the historical-reports function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of claims (de-duplication keys) (required).
    pub const CLAIM_TABLE: &str = "CLAIM_TABLE";
    /// DynamoDB table of agent states, for login → agent id (required).
    pub const STATE_TABLE: &str = "STATE_TABLE";
    /// Only keys under this prefix are reports, e.g. `connect/acme/Reports/` (optional).
    pub const REPORTS_PREFIX: &str = "REPORTS_PREFIX";
    /// Instance name for every record, instead of the alias in the key (optional).
    pub const INSTANCE_NAME: &str = "INSTANCE_NAME";
    /// Seconds a claim stays IN_PROGRESS before another run may take it (default 900; keep it
    /// above the function timeout).
    pub const CLAIM_LEASE_SECONDS: &str = "CLAIM_LEASE_SECONDS";
    /// Seconds a COMPLETED claim is kept, i.e. the de-duplication window (default 35 days).
    pub const CLAIM_RETENTION_SECONDS: &str = "CLAIM_RETENTION_SECONDS";
    /// DynamoDB table of the contact-events function (optional): when set, each report's
    /// queue intervals are reconciled with the stream basis; absent when contact events are off.
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The feed, the mapping and the outputs (shared by every function).
    pub feed: FeedConfig,
    pub claim_table: String,
    pub state_table: String,
    pub reports_prefix: Option<String>,
    pub instance: Option<String>,
    pub claim_lease: Duration,
    pub claim_retention: Duration,
    /// [`vars::CONTACT_TABLE`]; none when contact events are off (no reconciliation).
    pub contact_table: Option<String>,
}

impl Config {
    /// Reads every variable; the first missing or bad one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            claim_table: env.required(vars::CLAIM_TABLE)?,
            state_table: env.required(vars::STATE_TABLE)?,
            feed: FeedConfig::from_env(env)?,
            reports_prefix: env.optional(vars::REPORTS_PREFIX),
            instance: env.optional(vars::INSTANCE_NAME),
            claim_lease: env.duration_secs(vars::CLAIM_LEASE_SECONDS, Duration::minutes(15))?,
            claim_retention: env.duration_secs(vars::CLAIM_RETENTION_SECONDS, Duration::days(35))?,
            contact_table: env.optional(vars::CONTACT_TABLE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_and_defaults_and_names_what_is_missing() {
        let env = Env::from_pairs([("CLAIM_TABLE", "c"), ("STATE_TABLE", "s"), ("FEED_BUCKET", "f")]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.claim_lease, Duration::minutes(15));
        assert_eq!(config.claim_retention, Duration::days(35));
        assert_eq!(config.reports_prefix, None);
        assert_eq!(config.contact_table, None);
        let env = Env::from_pairs([
            ("CLAIM_TABLE", "c"),
            ("STATE_TABLE", "s"),
            ("FEED_BUCKET", "f"),
            ("CONTACT_TABLE", "contacts"),
        ]);
        assert_eq!(
            Config::from_env(&env).unwrap().contact_table.as_deref(),
            Some("contacts")
        );
        let err = Config::from_env(&Env::from_pairs([("STATE_TABLE", "s")])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable CLAIM_TABLE is missing");
    }
}
