//! The Lambda events this function takes, read leniently: one broken message or record is a
//! reject, never the whole batch's failure.
//!
//! - SQS (the EventBridge rule's target queue): each message body is one EventBridge contact
//!   event (or a contact record: inputs are told apart by content).
//! - Kinesis (the contact-record stream): each record's data is one contact record.

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

/// An SQS Lambda event: `{"Records": [...]}`, each record read on its own.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SqsBatch {
    /// The messages, as JSON.
    #[serde(rename = "Records")]
    pub records: Vec<Value>,
}

/// A Kinesis Lambda event: `{"Records": [...]}`, each record read on its own.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct KinesisBatch {
    /// The records, as JSON.
    #[serde(rename = "Records")]
    pub records: Vec<Value>,
}

/// One input of a batch, as far as its envelope could be read.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Position in the batch.
    pub index: usize,
    /// What names it in logs and rejects: `sqs message <id>` or `kinesis <shard> seq <n>`.
    pub origin: String,
    /// The SQS message id or the Kinesis sequence number: what the batch response names.
    pub item_identifier: Option<String>,
    /// When it reached the queue or stream (else now).
    pub received: DateTime<Utc>,
    /// The payload, or why the envelope gives none (with the raw bytes to keep).
    pub data: Result<Vec<u8>, (String, Vec<u8>)>,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

/// Reads each message of an SQS batch.
pub fn read_sqs(batch: &SqsBatch, now: DateTime<Utc>) -> Vec<Envelope> {
    batch
        .records
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let message_id = text(raw, &["messageId"]).map(str::to_owned);
            let origin = match &message_id {
                Some(id) => format!("sqs message {id}"),
                None => format!("sqs message #{index}"),
            };
            let received = text(raw, &["attributes", "SentTimestamp"])
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .unwrap_or(now);
            let data = match (&message_id, text(raw, &["body"])) {
                (None, _) => Err(("SQS message without messageId".to_owned(), raw.to_string().into_bytes())),
                (_, None) => Err(("SQS message without a body".to_owned(), raw.to_string().into_bytes())),
                (Some(_), Some(body)) => Ok(body.as_bytes().to_vec()),
            };
            Envelope {
                index,
                origin,
                item_identifier: message_id,
                received,
                data,
            }
        })
        .collect()
}

/// Reads each record of a Kinesis batch.
pub fn read_kinesis(batch: &KinesisBatch, now: DateTime<Utc>) -> Vec<Envelope> {
    batch
        .records
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let shard = text(raw, &["eventID"])
                .and_then(|id| id.split_once(':').map(|(shard, _)| shard))
                .unwrap_or("unknown-shard");
            let sequence = text(raw, &["kinesis", "sequenceNumber"]).map(str::to_owned);
            let origin = match &sequence {
                Some(seq) => format!("kinesis {shard} seq {seq}"),
                None => format!("kinesis {shard} record #{index}"),
            };
            let received = raw
                .get("kinesis")
                .and_then(|k| k.get("approximateArrivalTimestamp"))
                .and_then(Value::as_f64)
                .and_then(|secs| Utc.timestamp_millis_opt((secs * 1000.0).round() as i64).single())
                .unwrap_or(now);
            let data = match (&sequence, text(raw, &["kinesis", "data"])) {
                (None, _) => Err((
                    "Kinesis record without kinesis.sequenceNumber".to_owned(),
                    raw.to_string().into_bytes(),
                )),
                (_, None) => Err((
                    "Kinesis record without kinesis.data".to_owned(),
                    raw.to_string().into_bytes(),
                )),
                (Some(_), Some(data)) => base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| (format!("kinesis.data is not base64: {e}"), data.as_bytes().to_vec())),
            };
            Envelope {
                index,
                origin,
                item_identifier: sequence,
                received,
                data,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sqs_messages_and_kinesis_records_are_read_one_by_one() {
        let sqs: SqsBatch = serde_json::from_value(json!({"Records": [
            {"messageId": "m1", "body": "{}", "attributes": {"SentTimestamp": "1763633700123"}},
            {"body": "{}"},
            {"messageId": "m3"}
        ]}))
        .unwrap();
        let read = read_sqs(&sqs, Utc::now());
        assert_eq!(read[0].data.as_deref().unwrap(), b"{}");
        assert_eq!(read[0].received.timestamp_millis(), 1_763_633_700_123);
        assert_eq!(read[1].origin, "sqs message #1");
        assert!(read[1].data.as_ref().unwrap_err().0.contains("messageId"));
        assert!(read[2].data.as_ref().unwrap_err().0.contains("body"));

        let kinesis: KinesisBatch = serde_json::from_value(json!({"Records": [
            {"eventID": "shardId-000000000001:5", "kinesis": {"sequenceNumber": "5", "data": "e30="}},
            {"eventID": "shardId-000000000001:6", "kinesis": {"sequenceNumber": "6", "data": "%%"}},
            42
        ]}))
        .unwrap();
        let read = read_kinesis(&kinesis, Utc::now());
        assert_eq!(read[0].origin, "kinesis shardId-000000000001 seq 5");
        assert_eq!(read[0].data.as_deref().unwrap(), b"{}");
        assert!(read[1].data.as_ref().unwrap_err().0.contains("not base64"));
        assert_eq!(read[2].origin, "kinesis unknown-shard record #2");
    }
}
