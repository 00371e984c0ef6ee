//! What `connect-wfm reload` needs from AWS: the report objects (or contact-record files) of a
//! period still in S3, and a way to put their notifications on their queue again. The notification bodies are the
//! historical-reports function's own format; this module only lists and sends.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Utc};
use connect_wfm_core::ports::PortError;
use connect_wfm_core::report::is_csv_key;

use crate::error::port_error;

/// A report object found by [`list_reports`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub etag: String,
    pub size: i64,
    pub last_modified: DateTime<Utc>,
}

/// Every `.csv` object (any case, as the function takes them) under `prefix` in `bucket` last modified in `[since, until)` (either
/// bound optional), in key order. Pages through ListObjectsV2.
pub async fn list_reports(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<ListedObject>, PortError> {
    list_objects(s3, bucket, prefix, since, until, is_csv_key).await
}

/// Every object under `prefix` in `bucket` last modified in `[since, until)` whose key `keep`
/// takes, in key order: [`list_reports`], or every key for the contact-record files of
/// Firehose (which have no suffix of their own). Pages through ListObjectsV2.
pub async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<ListedObject>, PortError> {
    let operation = || format!("list s3://{bucket}/{prefix}");
    let mut found = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(operation(), &e))?;
        for object in page.contents() {
            let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                continue;
            };
            let Some(last_modified) = DateTime::<Utc>::from_timestamp(modified.secs(), modified.subsec_nanos()) else {
                continue;
            };
            let in_period = since.is_none_or(|s| last_modified >= s) && until.is_none_or(|u| last_modified < u);
            if keep(key) && in_period {
                found.push(ListedObject {
                    key: key.to_owned(),
                    etag: object.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
                    size: object.size().unwrap_or_default(),
                    last_modified,
                });
            }
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

/// Sends `bodies` to the queue, ten per SendMessageBatch call; returns how many were sent.
/// Entries the queue refuses are reported in the error (the ones before were sent: sending
/// again is harmless, the function's claims skip what it already converted).
pub async fn send_messages(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[String]) -> Result<usize, PortError> {
    let mut sent = 0;
    for (chunk_index, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{}", chunk_index * 10 + i))
                    .message_body(body)
                    .build()
                    .expect("id and body are set")
            })
            .collect::<Vec<_>>();
        let output = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| port_error(format!("send to {queue_url}"), &e))?;
        if let Some(failed) = output.failed().first() {
            return Err(PortError::new(
                format!("send to {queue_url}"),
                format!(
                    "{} of {} messages refused after {sent} sent, e.g. {}: {}",
                    output.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or_default()
                ),
                !failed.sender_fault(),
            ));
        }
        sent += output.successful().len();
    }
    Ok(sent)
}
