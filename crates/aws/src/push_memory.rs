//! [`S3DeliveredStore`]: the wfm-push function's memory of delivered states
//! ([`connect_wfm_core::push::recent`]) as one small object per target in the feed bucket,
//! `<FEED_PREFIX>/_push/<target>/delivered.json`: outside every record kind's folder, so no
//! reader of the feed (Athena's tables, the CLI) takes it for records.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use connect_wfm_core::ports::PortError;
use connect_wfm_core::push::recent::{DeliveredStates, DeliveredStore};

use crate::error::port_error;

/// The memory's object key under the feed prefix (`prefix` may be empty, with or without its
/// trailing `/`).
pub fn object_key(prefix: &str, target: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let key = format!("_push/{target}/delivered.json");
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}/{key}")
    }
}

/// The delivered states of one target, in one S3 object (GetObject at a cold start, at most one
/// PutObject a run).
#[derive(Debug, Clone)]
pub struct S3DeliveredStore {
    pub client: Client,
    pub bucket: String,
    pub key: String,
}

impl S3DeliveredStore {
    /// The memory of `target` (`calabrio`, `webhook`) in the feed bucket, under its prefix.
    pub fn new(client: Client, bucket: impl Into<String>, feed_prefix: &str, target: &str) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            key: object_key(feed_prefix, target),
        }
    }
}

impl DeliveredStore for S3DeliveredStore {
    /// An absent object is an empty memory. So is an access denied: S3 answers a missing key
    /// with AccessDenied to a role that may not list the bucket, and the function's role may
    /// only read and write this object's folder; a role that may not read it shows when the
    /// next save is refused too.
    async fn load(&self) -> Result<DeliveredStates, PortError> {
        let operation = || format!("read s3://{}/{}", self.bucket, self.key);
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(DeliveredStates::default());
            }
            Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("AccessDenied") => {
                tracing::info!(
                    bucket = %self.bucket,
                    key = %self.key,
                    "no delivered states kept yet (or not readable: S3 answered AccessDenied)"
                );
                return Ok(DeliveredStates::default());
            }
            Err(e) => return Err(port_error(operation(), &e)),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| PortError::new(operation(), format!("the body broke off: {e}"), true))?
            .into_bytes();
        DeliveredStates::from_json(&bytes).map_err(|e| PortError::new(operation(), e.to_string(), false))
    }

    async fn save(&self, delivered: &DeliveredStates, now: DateTime<Utc>) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(delivered.to_json(now)))
            .send()
            .await
            .map_err(|e| port_error(format!("write s3://{}/{}", self.bucket, self.key), &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_sits_outside_every_record_kinds_folder() {
        assert_eq!(object_key("", "calabrio"), "_push/calabrio/delivered.json");
        assert_eq!(object_key("wfm/", "webhook"), "wfm/_push/webhook/delivered.json");
        assert_eq!(object_key("wfm", "calabrio"), "wfm/_push/calabrio/delivered.json");
    }
}
