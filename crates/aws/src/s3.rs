//! [`S3ObjectSource`] and [`S3FeedSink`]: report objects read from S3, feed objects written
//! to S3.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use connect_wfm_core::agent::{AgentActivityRecord, activity_prefix};
use connect_wfm_core::feed::FeedBody;
use connect_wfm_core::ports::{
    ActivityLog, FeedSink, ObjectReader, ObjectSource, PortError, dates_between, interval_of_folder, read_pieces,
};
use futures_util::StreamExt as _;
use tokio_util::io::SyncIoBridge;

use crate::error::port_error;

/// Content type of feed objects (JSON Lines).
pub const FEED_CONTENT_TYPE: &str = "application/x-ndjson";

/// Report objects streamed from S3 with GetObject.
#[derive(Debug, Clone)]
pub struct S3ObjectSource {
    pub client: Client,
}

impl S3ObjectSource {
    /// A source reading through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl ObjectSource for S3ObjectSource {
    /// Starts a GetObject and returns a blocking reader over the streamed body. The reader
    /// blocks on the Tokio runtime that called `open`: read it from a blocking thread (e.g.
    /// `tokio::task::spawn_blocking`), never from an async task. A missing key is not
    /// retryable; any other failure is.
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
        let operation = || format!("read s3://{bucket}/{key}");
        let output = match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(PortError::new(operation(), "no such object (NoSuchKey)", false));
            }
            Err(e) => {
                let mut error = port_error(operation(), &e);
                error.retryable = true;
                return Err(error);
            }
        };
        let body = output.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new(Box::pin(body))))
    }
}

/// Feed objects written to S3 under `prefix` with PutObject.
#[derive(Debug, Clone)]
pub struct S3FeedSink {
    pub client: Client,
    pub bucket: String,
    /// Prepended to every feed key with one `/` between them; empty for the bucket's root.
    pub prefix: String,
}

impl S3FeedSink {
    /// A sink writing to `s3://bucket/prefix/...`.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The object key of a feed key: `prefix/key`, with exactly one `/` between them and none
    /// in front when the prefix is empty.
    pub fn object_key(&self, key: &str) -> String {
        let prefix = self.prefix.trim_end_matches('/');
        let key = key.trim_start_matches('/');
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}/{key}")
        }
    }
}

impl FeedSink for S3FeedSink {
    async fn put(&self, key: &str, body: FeedBody) -> Result<(), PortError> {
        let object_key = self.object_key(key);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .content_type(FEED_CONTENT_TYPE)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| port_error(format!("write s3://{}/{object_key}", self.bucket), &e))?;
        Ok(())
    }
}

/// How many feed objects of pieces the sweep reads at once.
const READ_CONCURRENCY: usize = 16;

impl ActivityLog for S3FeedSink {
    /// ListObjectsV2 of the interval's folder (1,000 keys a page), then a GetObject per object,
    /// 16 at a time: one object per agent-events batch that closed segments there.
    async fn pieces(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> Result<Vec<AgentActivityRecord>, PortError> {
        let prefix = self.object_key(&activity_prefix(instance_id, interval_start));
        let keys = self.list(&prefix, None).await?.0;
        let bodies: Vec<Result<(String, Vec<u8>), PortError>> = futures_util::stream::iter(keys)
            .map(|key| async move {
                let operation = || format!("read s3://{}/{key}", self.bucket);
                let output = self
                    .client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| port_error(operation(), &e))?;
                let body = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| PortError::new(operation(), format!("the body broke off: {e}"), true))?;
                Ok((key, body.into_bytes().to_vec()))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut pieces = Vec::new();
        for body in bodies {
            let (key, body) = body?;
            let unreadable = read_pieces(&body, &mut pieces);
            if !unreadable.is_empty() {
                tracing::warn!(key, lines = ?unreadable, "feed lines that are not agent_activity pieces; skipped");
            }
        }
        Ok(pieces)
    }

    /// One ListObjectsV2 with a delimiter per UTC date of the range: the interval folders.
    async fn intervals(
        &self,
        instance_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, PortError> {
        let mut found = Vec::new();
        for date in dates_between(from, to) {
            let folder = format!(
                "{}/{date}/{}/",
                AgentActivityRecord::KIND,
                connect_wfm_core::feed::sanitize_name(instance_id)
            );
            let prefix = self.object_key(&folder);
            for common in self.list(&prefix, Some("/")).await?.1 {
                let hhmm = common.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
                if let Some(start) = interval_of_folder(&date, hhmm)
                    && start >= from
                    && start < to
                {
                    found.push(start);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}

impl S3FeedSink {
    /// Every key under `prefix` and, with a delimiter, the common prefixes.
    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> Result<(Vec<String>, Vec<String>), PortError> {
        let (mut keys, mut folders) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| port_error(format!("list s3://{}/{prefix}", self.bucket), &e))?;
            keys.extend(output.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            folders.extend(
                output
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match output.next_continuation_token {
                Some(next) if output.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        Ok((keys, folders))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(prefix: &str) -> S3FeedSink {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        S3FeedSink::new(Client::from_conf(config), "b", prefix)
    }

    #[test]
    fn joins_prefix_and_key_with_one_slash() {
        assert_eq!(sink("").object_key("agent_state/x.jsonl"), "agent_state/x.jsonl");
        assert_eq!(
            sink("feed").object_key("agent_state/x.jsonl"),
            "feed/agent_state/x.jsonl"
        );
        assert_eq!(
            sink("feed/").object_key("agent_state/x.jsonl"),
            "feed/agent_state/x.jsonl"
        );
        assert_eq!(sink("a/b//").object_key("/k"), "a/b/k");
    }
}
