//! Contact records from files: S3 `ObjectCreated` notifications (on SQS) of the objects that
//! Firehose writes for Connect, each object's CTRs run through the same batch flow as the CTR
//! stream's records.
//!
//! Per object: skip it when it lies outside the configured prefix; claim it once by (bucket,
//! key, ETag) like a report ([`crate::objects::once`]); read it whole and split it
//! ([`read_ctr_file`]: back to back, one per line, gzip or not); a record that cannot be read is
//! kept under rejects with the object, its offset and the reason, and the rest flows in chunks
//! of [`FILE_CHUNK`] records through the batch flow of the stream. A transient failure of any
//! record releases the claim and fails the message, so SQS delivers it again (the merge of legs
//! is idempotent: records already stored change nothing); an object that can never be read (not
//! gzip after all, access denied) is kept under rejects and fails its message until the queue's
//! DLQ holds it, from where `connect-wfm reload` brings it back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connect_wfm_core::contact::read_ctr_file;
use connect_wfm_core::contact::store::ContactStore;
use connect_wfm_core::ports::{ClaimStore, FeedSink, ObjectSource};
use tracing::Instrument as _;

use super::{BatchStats, Clock, FUNCTION, Settings, process};
use crate::input::s3::{CreatedObject, Notification, parse_notification};
use crate::input::sqs::{SqsBatch, SqsMessage};
use crate::input::{BatchInput, keep_rejects, sqs_response};
use crate::objects::{MessageReport, ObjectOutcome, once, read_all};

/// Records of a file run through the batch flow at once (a Firehose object may hold thousands;
/// a Kinesis batch is about this size).
pub const FILE_CHUNK: usize = 500;

/// What reading contact-record files needs besides the contact ports.
#[derive(Debug, Clone, Copy)]
pub struct CtrFiles<'a, C, O> {
    /// Claims of the objects read (the reports' claim table).
    pub claims: &'a C,
    /// Where the objects are read.
    pub objects: &'a O,
    /// Only keys under this prefix are contact-record files (None: every key).
    pub prefix: Option<&'a str>,
}

/// The Lambda response to a batch of notifications and what it did.
#[derive(Debug, Clone)]
pub struct FilesOutcome {
    /// Partial batch response: the messages to deliver again.
    pub response: aws_lambda_events::event::sqs::SqsBatchResponse,
    /// Counts, the records of every file together.
    pub stats: BatchStats,
    /// What each message did, object by object.
    pub messages: Vec<MessageReport>,
}

/// One record of a contact-record file, as an input of the batch flow: named by its object and
/// offset, its bytes as the file has them, or why they are not a contact record.
#[derive(Debug, Clone)]
pub struct FileRecord {
    /// `s3://bucket/key offset N` (N in the content, after decompression).
    described: String,
    /// The offset, the record's identifier in object names.
    offset: String,
    /// `bucket/key#etag`: the group of object names.
    object: Arc<str>,
    received: Option<DateTime<Utc>>,
    data: Result<Vec<u8>, (String, Vec<u8>)>,
}

impl BatchInput for FileRecord {
    fn describe(&self) -> String {
        self.described.clone()
    }

    fn item_identifier(&self) -> Option<&str> {
        Some(&self.offset)
    }

    fn group(&self) -> &str {
        &self.object
    }

    fn received(&self) -> Option<DateTime<Utc>> {
        self.received
    }

    fn data(&self) -> &Result<Vec<u8>, (String, Vec<u8>)> {
        &self.data
    }
}

/// Whether an SQS message body is an S3 notification (or the `s3:TestEvent`) rather than a
/// contact event: how one queue's batch is told apart from the other's.
pub fn is_s3_notification(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "Event")]
        event: Option<String>,
        #[serde(rename = "Records")]
        records: Option<Vec<serde::de::IgnoredAny>>,
        #[serde(rename = "Type")]
        kind: Option<String>,
        source: Option<String>,
    }
    serde_json::from_str::<Probe>(body).is_ok_and(|p| {
        p.event.as_deref() == Some("s3:TestEvent")
            || p.records.is_some()
            || p.kind.as_deref() == Some("Notification")
            || p.source.as_deref() == Some("aws.s3")
    })
}

/// Processes one SQS batch of S3 notifications of contact-record files. Never fails as a whole.
pub async fn handle_ctr_files<S, F, C, O>(
    batch: &SqsBatch,
    store: &S,
    sink: &F,
    files: &CtrFiles<'_, C, O>,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> FilesOutcome
where
    S: ContactStore,
    F: FeedSink,
    C: ClaimStore,
    O: ObjectSource,
{
    let mut stats = BatchStats::default();
    let mut messages = Vec::with_capacity(batch.records.len());
    let mut failed = Vec::new();
    for (position, message) in batch.records.iter().enumerate() {
        let span = tracing::info_span!(
            "message",
            message_id = message.message_id.as_deref().unwrap_or("(no messageId)")
        );
        let report = handle_message(
            &batch.records,
            position,
            store,
            sink,
            files,
            settings,
            clock,
            now,
            &mut stats,
        )
        .instrument(span)
        .await;
        if report.failed() {
            failed.push(position);
        }
        messages.push(report);
    }
    let response = sqs_response(&batch.records, failed);
    tracing::info!(
        messages = messages.len(),
        failed = response.batch_item_failures.len(),
        "contact-record file batch processed"
    );
    FilesOutcome {
        response,
        stats,
        messages,
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle_message<S, F, C, O>(
    batch: &[SqsMessage],
    position: usize,
    store: &S,
    sink: &F,
    files: &CtrFiles<'_, C, O>,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
    stats: &mut BatchStats,
) -> MessageReport
where
    S: ContactStore,
    F: FeedSink,
    C: ClaimStore,
    O: ObjectSource,
{
    let message = &batch[position];
    let message_id = message.message_id.clone();
    let id = message_id.as_deref().unwrap_or("(no messageId)");
    let notification = match message.body() {
        Ok(body) => parse_notification(body),
        Err(e) => Err(e.to_owned()),
    };
    let created = match notification {
        Ok(Notification::Test) => {
            tracing::info!(message_id = id, "s3:TestEvent acknowledged");
            return MessageReport {
                message_id,
                test_event: true,
                objects: Vec::new(),
            };
        }
        Ok(Notification::Created(created)) => created,
        Err(reason) => {
            let reason = format!("SQS message {id}: {reason}");
            tracing::error!(message_id = id, %reason, "message is not an S3 notification; it will rest in the DLQ");
            keep_message(sink, batch, position, &reason, now).await;
            stats.rejected += 1;
            return MessageReport {
                message_id,
                test_event: false,
                objects: vec![(
                    None,
                    ObjectOutcome::Failed {
                        reason,
                        permanent: true,
                    },
                )],
            };
        }
    };
    let mut objects = Vec::with_capacity(created.len());
    for object in created {
        let file = format!("s3://{}/{}", object.bucket, object.key);
        let outcome = match files.prefix.filter(|p| !object.key.starts_with(p)) {
            Some(prefix) => ObjectOutcome::Skipped {
                reason: format!("outside the contact-records prefix `{prefix}`"),
            },
            None => {
                let read = once(files.claims, &object, id, now, || {
                    read_file(&object, message, store, sink, files, settings, clock, now, stats)
                })
                .await;
                match read {
                    Ok(records) => ObjectOutcome::Converted { records },
                    Err(outcome) => outcome,
                }
            }
        };
        match &outcome {
            ObjectOutcome::Converted { records } => {
                stats.ctr_files += 1;
                tracing::info!(message_id = id, file, records, "contact-record file read");
            }
            ObjectOutcome::Duplicate => {
                tracing::info!(message_id = id, file, "contact-record file already read; skipped")
            }
            ObjectOutcome::Skipped { reason } => tracing::info!(message_id = id, file, reason, "object skipped"),
            ObjectOutcome::Failed {
                reason,
                permanent: true,
            } => {
                stats.ctr_file_errors += 1;
                tracing::error!(
                    message_id = id,
                    file,
                    reason,
                    "contact-record file cannot be read; it will rest in the DLQ"
                );
                let reason = if reason.contains(&file) {
                    reason.clone()
                } else {
                    format!("{file}: {reason}")
                };
                keep_message(sink, batch, position, &reason, now).await;
            }
            ObjectOutcome::Failed {
                reason,
                permanent: false,
            } => {
                stats.ctr_file_errors += 1;
                tracing::warn!(
                    message_id = id,
                    file,
                    reason,
                    "contact-record file failed; it will be retried"
                )
            }
        }
        objects.push((Some(object), outcome));
    }
    MessageReport {
        message_id,
        test_event: false,
        objects,
    }
}

/// Keeps a message whose object can never be read under rejects (the message still fails and
/// rests in the DLQ after the receive limit); its name derives from the message, so a
/// redelivery overwrites it.
async fn keep_message<F: FeedSink>(sink: &F, batch: &[SqsMessage], index: usize, reason: &str, now: DateTime<Utc>) {
    let rejects = vec![(index, reason.to_owned())];
    if !keep_rejects(FUNCTION, batch, rejects, sink, now).await.is_empty() {
        tracing::warn!(input = %batch[index].describe(), "could not keep the reject; the message still rests in the DLQ");
    }
}

/// Reads one claimed object and runs its records through the batch flow; the records written
/// (its rejects left out), or the failure that releases the claim.
#[allow(clippy::too_many_arguments)]
async fn read_file<S, F, C, O>(
    object: &CreatedObject,
    message: &SqsMessage,
    store: &S,
    sink: &F,
    files: &CtrFiles<'_, C, O>,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
    stats: &mut BatchStats,
) -> Result<usize, ObjectOutcome>
where
    S: ContactStore,
    F: FeedSink,
    O: ObjectSource,
{
    let bytes = read_all(files.objects, object).await?;
    let file = format!("s3://{}/{}", object.bucket, object.key);
    let split = read_ctr_file(&bytes).map_err(|e| ObjectOutcome::Failed {
        reason: format!("{file}: {e}"),
        permanent: true,
    })?;
    let group: Arc<str> = format!(
        "{}/{}#{}",
        object.bucket,
        object.key,
        object.etag.as_deref().unwrap_or("-")
    )
    .into();
    let records: Vec<FileRecord> = split
        .entries
        .iter()
        .map(|entry| {
            let raw = split.raw(entry).to_vec();
            FileRecord {
                described: format!("{file} offset {}", entry.offset),
                offset: entry.offset.to_string(),
                object: Arc::clone(&group),
                received: message.received(),
                data: match &entry.record {
                    Ok(_) => Ok(raw),
                    Err(reason) => Err((reason.clone(), raw)),
                },
            }
        })
        .collect();
    let mut failed = 0;
    let mut good = 0;
    for chunk in records.chunks(FILE_CHUNK) {
        let (chunk_failed, chunk_stats) = process(chunk, store, sink, settings, clock, now).await;
        failed += chunk_failed.len();
        good += chunk.len() - chunk_stats.rejected - chunk_failed.len();
        stats.add(&chunk_stats);
    }
    if failed > 0 {
        return Err(ObjectOutcome::Failed {
            reason: format!(
                "{file}: {failed} of its {} records failed; it is read again",
                records.len()
            ),
            permanent: false,
        });
    }
    Ok(good)
}
