//! The push output's queues on SQS FIFO ([`connect_wfm_core::push::queue`]).
//!
//! - [`PushQueueOutput`]: an output after the S3 feed ([`RecordOutput`]): the records of each
//!   feed object, of the kinds a queue takes, sent to that queue (SendMessageBatch, group = the
//!   agent, de-duplication id = the `event_id`; calls one after the other, no agent twice in a
//!   call: [`send_calls`]). Entries SQS does not take are sent again with backoff before the next
//!   call; entries still failing fail the feed write, retryable, so the input is delivered again
//!   (the de-duplication id drops what the queue already has).
//! - [`SqsPushQueue`]: the [`PushQueue`] the wfm-push function takes its records from.

use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};
use connect_wfm_core::feed::FeedBody;
use connect_wfm_core::ports::PortError;
use connect_wfm_core::push::queue::{PushQueue, QueueMessage, QueueRoute, Received, messages_of, send_calls};
use connect_wfm_core::retry::Backoff;
use futures_util::future::BoxFuture;

use crate::error::port_error;
use crate::eventbridge::{RecordOutput, Refused};

/// Entries per SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch.
pub const MAX_ENTRIES: usize = 10;

/// The bytes of one SendMessageBatch (SQS: 256 KiB for the whole batch).
const MAX_CALL_BYTES: usize = 256 * 1024;

/// The environment variable naming the push queues (see [`connect_wfm_core::push::queue::parse_routes`]).
pub use crate::config::vars::WFM_PUSH_QUEUES;

/// Sends feed records to the push queues.
#[derive(Debug, Clone)]
pub struct PushQueueOutput {
    pub client: aws_sdk_sqs::Client,
    pub routes: Vec<QueueRoute>,
    pub backoff: Backoff,
}

impl PushQueueOutput {
    pub fn new(client: aws_sdk_sqs::Client, routes: Vec<QueueRoute>) -> Self {
        Self {
            client,
            routes,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(2), 5),
        }
    }

    async fn send_all(&self, url: &str, messages: &[QueueMessage], what: &str) -> Result<(), PortError> {
        // No agent twice in one call (SQS may fail one entry and take a later one of the same
        // call), and the calls one after the other: a FIFO queue keeps a group's order across
        // calls only if they are made in order.
        let calls = send_calls(messages, MAX_ENTRIES, MAX_CALL_BYTES);
        for call in calls {
            let mut pending = call;
            let mut delays = self.backoff.delays();
            loop {
                let entries = pending
                    .iter()
                    .map(|n| {
                        let m = &messages[*n];
                        SendMessageBatchRequestEntry::builder()
                            .id(n.to_string())
                            .message_body(&m.body)
                            .message_group_id(&m.group_id)
                            .message_deduplication_id(&m.dedup_id)
                            .build()
                            .expect("id and body are set")
                    })
                    .collect::<Vec<_>>();
                let operation = || format!("send {} records of {what} to push queue {url}", pending.len());
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| port_error(operation(), &e))?;
                let failed: Vec<usize> = output.failed().iter().filter_map(|f| f.id().parse().ok()).collect();
                if failed.is_empty() {
                    break;
                }
                let reason = output
                    .failed()
                    .first()
                    .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or_default()))
                    .unwrap_or_default();
                let Some(delay) = delays.next() else {
                    return Err(PortError::new(operation(), reason, true));
                };
                tracing::warn!(push_queue = url, failed = failed.len(), %reason, "push queue entries sent again");
                pending = failed;
                tokio::time::sleep(delay).await;
            }
        }
        Ok(())
    }
}

impl RecordOutput for PushQueueOutput {
    fn name(&self) -> &'static str {
        "wfm-push-queue"
    }

    fn deliver<'a>(&'a self, key: &'a str, body: &'a FeedBody) -> BoxFuture<'a, Result<Refused, PortError>> {
        Box::pin(async move {
            for route in &self.routes {
                let messages = messages_of(body, &route.kinds);
                if !messages.is_empty() {
                    self.send_all(&route.url, &messages, key).await?;
                }
            }
            Ok(Vec::new())
        })
    }
}

/// A push queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsPushQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl SqsPushQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

impl PushQueue for SqsPushQueue {
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, PortError> {
        let mut received = Vec::new();
        let mut wait_seconds = wait.as_secs().min(20) as i32;
        while received.len() < max {
            let want = (max - received.len()).min(MAX_ENTRIES) as i32;
            let output = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(want)
                .wait_time_seconds(wait_seconds)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                .send()
                .await
                .map_err(|e| port_error(format!("receive from push queue {}", self.url), &e))?;
            let messages = output.messages();
            for message in messages {
                let sent_at = message
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(DateTime::<Utc>::from_timestamp_millis);
                received.push(Received {
                    message_id: message.message_id().unwrap_or_default().to_owned(),
                    receipt: message.receipt_handle().unwrap_or_default().to_owned(),
                    body: message.body().unwrap_or_default().to_owned(),
                    sent_at,
                });
            }
            if messages.is_empty() {
                break;
            }
            // The first call waits for a message; the next ones take what is there.
            wait_seconds = 0;
        }
        Ok(received)
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), PortError> {
        for chunk in receipts.chunks(MAX_ENTRIES) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(r)
                        .build()
                        .expect("id and receipt are set")
                })
                .collect::<Vec<_>>();
            let operation = || format!("delete {} messages of push queue {}", chunk.len(), self.url);
            let output = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| port_error(operation(), &e))?;
            if let Some(failed) = output.failed().first() {
                return Err(PortError::new(
                    operation(),
                    format!("{}: {}", failed.code(), failed.message().unwrap_or_default()),
                    true,
                ));
            }
        }
        Ok(())
    }

    async fn release(&self, receipts: &[String]) -> Result<(), PortError> {
        for chunk in receipts.chunks(MAX_ENTRIES) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(r)
                        .visibility_timeout(0)
                        .build()
                        .expect("id and receipt are set")
                })
                .collect::<Vec<_>>();
            self.client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| port_error(format!("release messages of push queue {}", self.url), &e))?;
        }
        Ok(())
    }
}
