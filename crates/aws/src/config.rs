//! Configuration read once at a function's cold start: environment variables (validated, with
//! one error naming the variable), the AWS SDK configuration and the mapping file.

use aws_config::{BehaviorVersion, SdkConfig};
use connect_wfm_core::Mapping;
pub use connect_wfm_core::config::{ConfigError, Env};

use crate::error::describe;

/// Environment variables every data function reads: the feed, the mapping and the outputs.
pub mod vars {
    /// S3 bucket of the feed (required).
    pub const FEED_BUCKET: &str = "FEED_BUCKET";
    /// Key prefix of the feed inside the bucket (optional, default none).
    pub const FEED_PREFIX: &str = "FEED_PREFIX";
    /// JSON mapping file overriding the built-in mapping: `s3://bucket/key` (checked again by
    /// its ETag while a function is warm: [`crate::live_mapping`]) or a path in the deployment
    /// package, read once (optional).
    pub const MAPPING_LOCATION: &str = "MAPPING_LOCATION";
    /// Seconds between two checks of an `s3://` mapping file's ETag (optional, default 60).
    pub const MAPPING_CHECK_SECONDS: &str = "MAPPING_CHECK_SECONDS";
    /// EventBridge bus (name or ARN) every feed record is also put on (optional, default none).
    pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
    /// The push output's SQS FIFO queues, one per WFM target, each `URL` or
    /// `URL=kind,kind` (space-separated; optional, default none).
    pub const WFM_PUSH_QUEUES: &str = "WFM_PUSH_QUEUES";
}

/// Where the feed goes and what maps it: the S3 feed (always), the outputs after it (each one
/// optional, by its variable) and the mapping file. One definition for every function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedConfig {
    /// [`vars::FEED_BUCKET`].
    pub feed_bucket: String,
    /// [`vars::FEED_PREFIX`].
    pub feed_prefix: String,
    /// [`vars::MAPPING_LOCATION`].
    pub mapping_location: Option<String>,
    /// [`vars::MAPPING_CHECK_SECONDS`]; None for the default (once a minute).
    pub mapping_check: Option<chrono::TimeDelta>,
    /// [`vars::EVENT_BUS_NAME`].
    pub event_bus_name: Option<String>,
    /// [`vars::WFM_PUSH_QUEUES`].
    pub push_queues: Vec<connect_wfm_core::push::queue::QueueRoute>,
}

impl FeedConfig {
    /// Reads the variables; a missing [`vars::FEED_BUCKET`] is the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            feed_bucket: env.required(vars::FEED_BUCKET)?,
            feed_prefix: env.optional(vars::FEED_PREFIX).unwrap_or_default(),
            mapping_location: env.optional(vars::MAPPING_LOCATION),
            mapping_check: match env.optional(vars::MAPPING_CHECK_SECONDS) {
                Some(_) => Some(env.duration_secs(vars::MAPPING_CHECK_SECONDS, chrono::TimeDelta::minutes(1))?),
                None => None,
            },
            event_bus_name: env.optional(vars::EVENT_BUS_NAME),
            push_queues: env
                .optional(vars::WFM_PUSH_QUEUES)
                .map(|v| connect_wfm_core::push::queue::parse_routes(&v))
                .unwrap_or_default(),
        })
    }
}

/// Environment variable that makes the S3 client use path-style URLs
/// (`http://host/bucket/key`), which emulators need. `true` or `1` turns it on.
pub const S3_FORCE_PATH_STYLE: &str = "CONNECT_WFM_S3_FORCE_PATH_STYLE";

/// Longest one attempt of an AWS call may take (connect, send, answer), and the whole call with
/// the SDK's retries. Fitted to the functions' timeouts (60 s; historical-reports 120 s): a
/// batch makes a handful of calls one after the other, so two hung calls (2 × 25 s) still end
/// before Lambda's own timeout would fail the whole batch; a healthy call in the region takes
/// milliseconds, a 10 MB report part well under 10 s. A call that hangs fails as transient
/// (that agent or message is retried), never the invocation.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// See [`ATTEMPT_TIMEOUT`].
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(25);
/// The SDK's own connect timeout, kept.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(3_100);

/// The timeouts of every AWS call ([`ATTEMPT_TIMEOUT`], [`OPERATION_TIMEOUT`],
/// [`CONNECT_TIMEOUT`]).
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK configuration from the usual sources (environment, profile, Lambda role), with
/// [`timeouts`]. It honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, which point it
/// at an emulator.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

/// [`load_sdk_config`] in `region` when one is given (`connect-wfm doctor --region`), else in
/// the usual sources' region.
pub async fn load_sdk_config_in(region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
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
    fn feed_config_reads_the_feed_the_mapping_and_the_outputs() {
        let err = FeedConfig::from_env(&Env::from_pairs([("FEED_PREFIX", "p/")])).unwrap_err();
        assert_eq!(err.to_string(), "environment variable FEED_BUCKET is missing");
        let config = FeedConfig::from_env(&Env::from_pairs([
            ("FEED_BUCKET", "feed"),
            ("MAPPING_LOCATION", "s3://b/m.json"),
            ("MAPPING_CHECK_SECONDS", "5"),
            ("EVENT_BUS_NAME", "wfm"),
            (
                "WFM_PUSH_QUEUES",
                "https://sqs/calabrio.fifo https://sqs/hook.fifo=agent_state",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config,
            FeedConfig {
                feed_bucket: "feed".into(),
                feed_prefix: String::new(),
                mapping_location: Some("s3://b/m.json".into()),
                mapping_check: Some(chrono::TimeDelta::seconds(5)),
                event_bus_name: Some("wfm".into()),
                push_queues: connect_wfm_core::push::queue::parse_routes(
                    "https://sqs/calabrio.fifo https://sqs/hook.fifo=agent_state"
                ),
            }
        );
        assert_eq!(config.push_queues.len(), 2);
    }

    #[tokio::test]
    async fn every_call_has_an_attempt_and_an_operation_timeout() {
        let config = load_sdk_config().await;
        let timeouts = config.timeout_config().expect("timeouts are set");
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(
            OPERATION_TIMEOUT * 2 < std::time::Duration::from_secs(60),
            "two hung calls fit a 60 s function"
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
