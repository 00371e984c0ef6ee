//! Configuration read once at a function's cold start: environment variables, validated, with
//! one error naming the variable. Pure: the lookup is the process environment or a fixed set of
//! pairs (tests), so function crates read their settings without the AWS SDK.

use std::sync::Arc;

use chrono::Duration;

use crate::mapping::MappingError;

/// A configuration value that is missing or unusable, naming the variable or the location.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is missing")]
    Missing { name: String },
    #[error("environment variable {name}=`{value}` is not a number of seconds")]
    NotSeconds { name: String, value: String },
    #[error("environment variable {name}=`{value}` is not a whole number")]
    NotNumber { name: String, value: String },
    #[error("environment variable {name}=`{value}` is not one of: {allowed}")]
    NotAChoice {
        name: String,
        value: String,
        allowed: String,
    },
    /// Variables that are each valid but do not fit together; the message names them.
    #[error("{message}")]
    Inconsistent { message: String },
    /// The mapping file could not be read (not found, no access, not an `s3://bucket/key`).
    #[error("mapping file {location}: {message}")]
    MappingUnreadable { location: String, message: String },
    /// The mapping file was read but is not a valid mapping (the error names the file).
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where configuration variables come from: the process environment, or a fixed set of pairs
/// in tests (so they never have to mutate the process environment).
#[derive(Clone)]
pub struct Env {
    lookup: Arc<Lookup>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self {
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// Exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let vars: std::collections::HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self {
            lookup: Arc::new(move |name| vars.get(name).cloned()),
        }
    }

    /// The value of `name`, trimmed; `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, trimmed; an error when unset or blank.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::Missing { name: name.to_owned() })
    }

    /// A whole number of seconds in `name`, or `default` when unset or blank.
    pub fn duration_secs(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        value
            .parse::<u32>()
            .map(|secs| Duration::seconds(secs.into()))
            .map_err(|_| ConfigError::NotSeconds {
                name: name.to_owned(),
                value,
            })
    }

    /// A whole number in `name`, or `default` when unset or blank.
    pub fn number(&self, name: &str, default: u32) -> Result<u32, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        value.parse::<u32>().map_err(|_| ConfigError::NotNumber {
            name: name.to_owned(),
            value,
        })
    }

    /// The value of `name` among `allowed` (any case), else `default` when unset or empty.
    pub fn choice(
        &self,
        name: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value.trim()))
            .copied()
            .ok_or_else(|| ConfigError::NotAChoice {
                name: name.to_owned(),
                value,
                allowed: allowed.join(", "),
            })
    }

    /// True when `name` is `true` or `1` (any case); false otherwise.
    pub fn flag(&self, name: &str) -> bool {
        self.optional(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_is_one_of_its_values_or_the_default() {
        let env = Env::from_pairs([("AGENT_NAMES", "Include"), ("BAD", "maybe")]);
        assert_eq!(
            env.choice("AGENT_NAMES", &["include", "exclude"], "exclude").unwrap(),
            "include"
        );
        assert_eq!(
            env.choice("UNSET", &["include", "exclude"], "exclude").unwrap(),
            "exclude"
        );
        assert_eq!(
            env.choice("BAD", &["include", "exclude"], "exclude")
                .unwrap_err()
                .to_string(),
            "environment variable BAD=`maybe` is not one of: include, exclude"
        );
    }

    #[test]
    fn reads_validates_and_names_variables() {
        let env = Env::from_pairs([
            ("STATE_TABLE", " states "),
            ("BLANK", "  "),
            ("LEASE", "abc"),
            ("TTL", "90"),
        ]);
        assert_eq!(env.required("STATE_TABLE").unwrap(), "states");
        assert_eq!(
            env.required("BLANK").unwrap_err().to_string(),
            "environment variable BLANK is missing"
        );
        assert_eq!(
            env.required("CLAIM_TABLE").unwrap_err().to_string(),
            "environment variable CLAIM_TABLE is missing"
        );
        assert_eq!(env.optional("BLANK"), None);
        assert_eq!(
            env.duration_secs("LEASE", Duration::minutes(1))
                .unwrap_err()
                .to_string(),
            "environment variable LEASE=`abc` is not a number of seconds"
        );
        assert_eq!(
            env.duration_secs("TTL", Duration::zero()).unwrap(),
            Duration::seconds(90)
        );
        assert_eq!(
            env.duration_secs("UNSET", Duration::minutes(1)).unwrap(),
            Duration::minutes(1)
        );
        assert!(env.duration_secs("NEG", Duration::zero()).is_ok());
        assert!(
            Env::from_pairs([("N", "-5")])
                .duration_secs("N", Duration::zero())
                .is_err()
        );
    }
}
