//! The inputs of the functions, read leniently and in one style: a Kinesis record
//! ([`kinesis::StreamRecord`]), an SQS message ([`sqs::SqsMessage`]), an S3 notification in a
//! message's body ([`s3`]). Each is read on its own as its batch is deserialised, so one broken
//! record or message becomes one reject that names it, never the batch's failure.
//!
//! What every batch does with its inputs is here once: the name of a feed object derived from
//! the inputs it holds ([`object_name`]), keeping rejected inputs with their raw bytes
//! ([`keep_rejects`]), and the batch item failures Lambda re-delivers ([`kinesis_response`],
//! [`sqs_response`]).

pub mod kinesis;
pub mod s3;
pub mod sqs;

use std::collections::BTreeMap;
use std::hash::Hasher as _;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use chrono::{DateTime, NaiveDate, Utc};
use connect_wfm_core::feed::{self, RejectRecord};
use connect_wfm_core::ports::FeedSink;

/// One input of a batch: a Kinesis record or an SQS message.
pub trait BatchInput {
    /// Names the input in logs and rejects (`kinesis <shard> seq <n>`, `sqs message <id>`).
    fn describe(&self) -> String;

    /// What the batch response names: the sequence number or the message id.
    fn item_identifier(&self) -> Option<&str>;

    /// The stream the input came from (a shard), or `sqs`: the first part of object names.
    fn group(&self) -> &str;

    /// When it reached the stream or the queue, when it says.
    fn received(&self) -> Option<DateTime<Utc>>;

    /// The payload, or why the envelope gives none (with the raw bytes to keep).
    fn data(&self) -> &Result<Vec<u8>, (String, Vec<u8>)>;

    /// When it reached the stream or the queue, or `now` when it does not say.
    fn received_or(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.received().unwrap_or(now)
    }

    /// The bytes a reject keeps: the payload, or the raw envelope when it gave none.
    fn raw(&self) -> &[u8] {
        match self.data() {
            Ok(bytes) => bytes,
            Err((_, raw)) => raw,
        }
    }
}

/// FNV-1a over byte strings, each followed by a comma: a short, stable name part.
pub fn name_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    for part in parts {
        hasher.write(part);
        hasher.write(b",");
    }
    hasher.finish()
}

/// A feed object name derived from the inputs it holds (`indices`, in batch order): the
/// group, the first and last identifiers and a hash of all of them. The same inputs always give
/// the same name (a retry overwrites), and a replay that holds fewer inputs gets another name
/// (it can never overwrite an object whose other records are already committed).
pub fn object_name<I: BatchInput>(inputs: &[I], indices: &[usize]) -> String {
    let id = |i: usize| {
        inputs[i]
            .item_identifier()
            .map_or_else(|| format!("record{i}"), str::to_owned)
    };
    let first = indices.first().map(|&i| id(i)).unwrap_or_default();
    let last = indices.last().map(|&i| id(i)).unwrap_or_default();
    let group = indices.first().map_or("unknown", |&i| inputs[i].group());
    let ids: Vec<String> = indices.iter().map(|&i| id(i)).collect();
    let hash = name_hash(ids.iter().map(String::as_bytes));
    format!("{group}-{first}-{last}-{hash:016x}")
}

/// Keeps rejected inputs (`(index, reason)`) with their raw bytes under the feed's rejects, one
/// object per arrival date named after the inputs; returns the inputs whose reject could not
/// be written (they must be delivered again, not lost).
pub async fn keep_rejects<I: BatchInput, F: FeedSink>(
    function: &str,
    inputs: &[I],
    rejects: Vec<(usize, String)>,
    sink: &F,
    now: DateTime<Utc>,
) -> Vec<usize> {
    let mut by_date: BTreeMap<NaiveDate, Vec<(usize, RejectRecord)>> = BTreeMap::new();
    for (index, reason) in rejects {
        let input = &inputs[index];
        let received = input.received_or(now);
        let reject = RejectRecord::new(function, input.describe(), reason, received, input.raw());
        by_date.entry(received.date_naive()).or_default().push((index, reject));
    }
    let mut failed = Vec::new();
    for (date, mut rejects) in by_date {
        rejects.sort_by_key(|(index, _)| *index);
        let indices: Vec<usize> = rejects.iter().map(|(i, _)| *i).collect();
        let key = feed::object_key(
            feed::REJECTS,
            date,
            &format!("{function}-{}", object_name(inputs, &indices)),
        );
        let lines: Vec<RejectRecord> = rejects.into_iter().map(|(_, r)| r).collect();
        if let Err(e) = sink.put(&key, feed::to_json_lines(&lines)).await {
            tracing::error!(key, error = %e, "could not keep rejected inputs; they will be retried");
            failed.extend(indices);
        }
    }
    failed
}

/// The Kinesis batch item failure: the earliest failed record. Lambda re-delivers from it, so
/// one identifier is enough; a failed record without a sequence number re-delivers the batch.
pub fn kinesis_response<I: BatchInput>(inputs: &[I], failed: impl IntoIterator<Item = usize>) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    if let Some(earliest) = failed.into_iter().min() {
        let identifier = inputs[earliest]
            .item_identifier()
            .or_else(|| inputs.iter().find_map(BatchInput::item_identifier));
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = identifier.map(str::to_owned);
        response.batch_item_failures.push(failure);
    }
    response
}

/// The SQS batch item failures: every failed message, once, in batch order. A message without
/// an id cannot be named: it is logged (the queue deletes it with the batch, so it must have
/// been kept under rejects before).
pub fn sqs_response<I: BatchInput>(inputs: &[I], failed: impl IntoIterator<Item = usize>) -> SqsBatchResponse {
    let mut failed: Vec<usize> = failed.into_iter().collect();
    failed.sort_unstable();
    failed.dedup();
    let mut response = SqsBatchResponse::default();
    for index in failed {
        match inputs[index].item_identifier() {
            Some(id) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.to_owned();
                response.batch_item_failures.push(failure);
            }
            None => {
                tracing::error!(input = %inputs[index].describe(), "a failed SQS message has no messageId; it cannot be reported for retry")
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use connect_wfm_core::memory::MemoryFeedSink;
    use serde_json::json;

    use super::kinesis::KinesisBatch;
    use super::sqs::SqsBatch;
    use super::*;

    fn kinesis() -> KinesisBatch {
        KinesisBatch::from_records([
            json!({"eventID": "shardId-1:5", "kinesis": {"sequenceNumber": "5", "data": "e30="}}),
            json!({"eventID": "shardId-1:6", "kinesis": {"sequenceNumber": "6", "data": "%%"}}),
            json!({"eventID": "shardId-1:7", "kinesis": {"sequenceNumber": "7", "data": "e30="}}),
        ])
    }

    #[test]
    fn the_name_hash_is_fnv1a_with_a_comma_after_each_part() {
        // The names objects had before the `fnv` crate computed them: a retry after an upgrade
        // must still overwrite the object it wrote before.
        let by_hand = "5,6,".bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        assert_eq!(name_hash([b"5".as_slice(), b"6".as_slice()]), by_hand);
        assert_ne!(
            name_hash([b"5".as_slice(), b"6".as_slice()]),
            name_hash([b"56".as_slice()])
        );
    }

    #[test]
    fn object_names_follow_the_inputs() {
        let batch = kinesis();
        let name = object_name(&batch.records, &[0, 2]);
        assert!(name.starts_with("shardId-1-5-7-"), "{name}");
        assert_eq!(name, object_name(&batch.records, &[0, 2]));
        assert_ne!(name, object_name(&batch.records, &[0, 1, 2]));
        let sqs = SqsBatch::from_records([json!({"messageId": "m1", "body": "x"}), json!({"body": "y"})]);
        assert!(object_name(&sqs.records, &[0, 1]).starts_with("sqs-m1-record1-"));
    }

    #[test]
    fn responses_name_the_earliest_record_or_every_message() {
        let batch = kinesis();
        let response = kinesis_response(&batch.records, [2, 1]);
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(response.batch_item_failures[0].item_identifier.as_deref(), Some("6"));
        assert!(kinesis_response(&batch.records, []).batch_item_failures.is_empty());
        let sqs = SqsBatch::from_records([
            json!({"messageId": "m1", "body": "x"}),
            json!({"body": "y"}),
            json!({"messageId": "m3", "body": "z"}),
        ]);
        let ids: Vec<String> = sqs_response(&sqs.records, [2, 0, 2, 1])
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(ids, ["m1", "m3"]);
    }

    #[tokio::test]
    async fn rejects_keep_the_raw_input_and_the_reason() {
        let batch = kinesis();
        let sink = MemoryFeedSink::default();
        let now = "2026-11-20T10:00:00Z".parse().unwrap();
        let failed = keep_rejects("agent-events", &batch.records, vec![(1, "bad".into())], &sink, now).await;
        assert!(failed.is_empty());
        let keys = sink.keys();
        assert_eq!(keys.len(), 1);
        assert!(
            keys[0].starts_with("rejects/2026-11-20/agent-events-shardId-1-6-6-"),
            "{keys:?}"
        );
        let line: serde_json::Value = serde_json::from_slice(&sink.get(&keys[0]).unwrap()).unwrap();
        assert_eq!(line["input"], "kinesis shardId-1 seq 6");
        assert!(line["reason"].as_str().unwrap().starts_with("bad"), "{line}");
    }
}
