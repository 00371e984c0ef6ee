//! Configuration of the contact-events function, read and validated once at cold start.

use chrono::Duration;
use connect_wfm_aws::config::{ConfigError, Env, FeedConfig};

/// Environment variables of the function.
pub mod vars {
    /// DynamoDB table of contact legs, their filing under intervals and queue names (required).
    pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
    /// DynamoDB table of claims (optional): set when contact-record files of Firehose come as S3
    /// notifications; each object is claimed once by bucket, key and ETag, like a report.
    pub const CLAIM_TABLE: &str = "CLAIM_TABLE";
    /// Only keys under this prefix are contact-record files (optional; Firehose's default
    /// layout is `YYYY/MM/DD/HH/` under the prefix of its S3 destination).
    pub const CONTACT_RECORDS_PREFIX: &str = "CONTACT_RECORDS_PREFIX";
    /// Seconds a claim stays IN_PROGRESS before another run may take it (default 900; keep it
    /// above the function timeout).
    pub const CLAIM_LEASE_SECONDS: &str = "CLAIM_LEASE_SECONDS";
    /// Seconds a COMPLETED claim is kept, i.e. the de-duplication window (default 35 days).
    pub const CLAIM_RETENTION_SECONDS: &str = "CLAIM_RETENTION_SECONDS";
}

/// Reading contact-record files: where claims go and which keys are files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesConfig {
    /// [`vars::CLAIM_TABLE`].
    pub claim_table: String,
    /// [`vars::CONTACT_RECORDS_PREFIX`].
    pub prefix: Option<String>,
    pub claim_lease: Duration,
    pub claim_retention: Duration,
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The feed, the mapping and the outputs (shared by every function).
    pub feed: FeedConfig,
    /// [`vars::CONTACT_TABLE`].
    pub contact_table: String,
    /// Contact-record files on (a claim table is set), else none.
    pub files: Option<FilesConfig>,
}

impl Config {
    /// Reads every variable; the first missing one is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let files = match env.optional(vars::CLAIM_TABLE) {
            Some(claim_table) => Some(FilesConfig {
                claim_table,
                prefix: env.optional(vars::CONTACT_RECORDS_PREFIX),
                claim_lease: env.duration_secs(vars::CLAIM_LEASE_SECONDS, Duration::minutes(15))?,
                claim_retention: env.duration_secs(vars::CLAIM_RETENTION_SECONDS, Duration::days(35))?,
            }),
            None => None,
        };
        Ok(Self {
            contact_table: env.required(vars::CONTACT_TABLE)?,
            feed: FeedConfig::from_env(env)?,
            files,
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
        assert_eq!(config.files, None);
    }

    #[test]
    fn a_claim_table_turns_contact_record_files_on() {
        let env = Env::from_pairs([
            ("CONTACT_TABLE", "t"),
            ("FEED_BUCKET", "f"),
            ("CLAIM_TABLE", "c"),
            ("CONTACT_RECORDS_PREFIX", "ctr/"),
        ]);
        let files = Config::from_env(&env).unwrap().files.unwrap();
        assert_eq!(
            (files.claim_table.as_str(), files.prefix.as_deref()),
            ("c", Some("ctr/"))
        );
        assert_eq!(
            (files.claim_lease, files.claim_retention),
            (Duration::minutes(15), Duration::days(35))
        );
    }
}
