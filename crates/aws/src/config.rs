//! Configuration read once at a function's cold start: environment variables (validated, with
//! one error naming the variable), the AWS SDK configuration and the mapping file.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use chrono::Duration;
use connect_wfm_core::Mapping;
use connect_wfm_core::mapping::MappingError;

use crate::error::describe;

/// Environment variable that makes the S3 client use path-style URLs
/// (`http://host/bucket/key`), which emulators need. `true` or `1` turns it on.
pub const S3_FORCE_PATH_STYLE: &str = "CONNECT_WFM_S3_FORCE_PATH_STYLE";

/// A configuration value that is missing or unusable, naming the variable or the location.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is missing")]
    Missing { name: String },
    #[error("environment variable {name}=`{value}` is not a number of seconds")]
    NotSeconds { name: String, value: String },
    #[error("environment variable {name}=`{value}` is not a whole number")]
    NotNumber { name: String, value: String },
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

    /// True when `name` is `true` or `1` (any case); false otherwise.
    pub fn flag(&self, name: &str) -> bool {
        self.optional(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

/// The SDK configuration from the usual sources (environment, profile, Lambda role). It
/// honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, which point it at an emulator.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client, path-style when [`S3_FORCE_PATH_STYLE`] is set.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(Env::process().flag(S3_FORCE_PATH_STYLE))
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// An SQS client.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// A DynamoDB client.
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// The mapping: the built-in default when `location` is `None`, else the default overridden
/// by the JSON file at `location`, an `s3://bucket/key` URL or a local path.
pub async fn load_mapping(location: Option<&str>, s3: &aws_sdk_s3::Client) -> Result<Mapping, ConfigError> {
    let Some(location) = location else {
        return Ok(Mapping::default());
    };
    let unreadable = |message: String| ConfigError::MappingUnreadable {
        location: location.to_owned(),
        message,
    };
    let bytes = if let Some(path) = location.strip_prefix("s3://") {
        let (bucket, key) = path
            .split_once('/')
            .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
            .ok_or_else(|| unreadable("expected s3://bucket/key".to_owned()))?;
        let output = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unreadable(describe(&e)))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| unreadable(format!("reading the body: {e}")))?;
        body.into_bytes().to_vec()
    } else {
        tokio::fs::read(location).await.map_err(|e| unreadable(e.to_string()))?
    };
    Ok(Mapping::from_json(&bytes, location)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn path_style_flag() {
        assert!(Env::from_pairs([(S3_FORCE_PATH_STYLE, "TRUE")]).flag(S3_FORCE_PATH_STYLE));
        assert!(Env::from_pairs([(S3_FORCE_PATH_STYLE, "1")]).flag(S3_FORCE_PATH_STYLE));
        assert!(!Env::from_pairs([(S3_FORCE_PATH_STYLE, "no")]).flag(S3_FORCE_PATH_STYLE));
        assert!(!Env::from_pairs::<&str, &str>([]).flag(S3_FORCE_PATH_STYLE));
    }

    #[tokio::test]
    async fn mapping_location_errors_name_the_location() {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(config);
        assert!(load_mapping(None, &s3).await.is_ok());
        let err = load_mapping(Some("s3://only-bucket"), &s3).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "mapping file s3://only-bucket: expected s3://bucket/key"
        );
        let err = load_mapping(Some("/nonexistent/mapping.json"), &s3).await.unwrap_err();
        assert!(
            err.to_string().starts_with("mapping file /nonexistent/mapping.json: "),
            "{err}"
        );
    }
}
