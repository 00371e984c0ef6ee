//! The Kinesis Lambda event, read leniently.
//!
//! `aws_lambda_events`' `KinesisEvent` fails the whole batch when one record's `data` is not
//! base64, which would block the shard. Here each record is read on its own, so a broken record
//! becomes a reject and its neighbours are processed.

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

/// A Kinesis Lambda event: `{"Records": [...]}`.
#[derive(Debug, Default, Deserialize)]
pub struct KinesisBatch {
    #[serde(rename = "Records")]
    pub records: Vec<serde_json::Value>,
}

/// Read straight from the batch's JSON value, borrowing its strings (the data of a record is
/// its largest part: it is base64-decoded from where it lies, never copied first).
#[derive(Debug, Default, Deserialize)]
struct RecordEnvelope<'a> {
    #[serde(rename = "eventID", default, borrow)]
    event_id: Option<&'a str>,
    #[serde(borrow)]
    kinesis: Option<Payload<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    sequence_number: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a str>,
    approximate_arrival_timestamp: Option<f64>,
}

/// One record of the batch, as far as it could be read.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// Position in the batch.
    pub index: usize,
    /// Shard id from `eventID` (`shardId-000000000000:<seq>`), `unknown-shard` when absent.
    pub shard: String,
    /// Sequence number; None only when the envelope itself is broken.
    pub sequence_number: Option<String>,
    pub arrival: DateTime<Utc>,
    /// The decoded data, or why the envelope could not give it (with the raw bytes to keep).
    pub data: Result<Vec<u8>, (String, Vec<u8>)>,
}

impl StreamRecord {
    /// Names the record in logs and rejects: shard and sequence number, or the batch position.
    pub fn describe(&self) -> String {
        match &self.sequence_number {
            Some(seq) => format!("kinesis {} seq {seq}", self.shard),
            None => format!("kinesis {} record #{}", self.shard, self.index),
        }
    }
}

/// Reads each record of a batch; never fails as a whole.
pub fn read_records(batch: &KinesisBatch, now: DateTime<Utc>) -> Vec<StreamRecord> {
    batch
        .records
        .iter()
        .enumerate()
        .map(|(index, raw)| read_record(index, raw, now))
        .collect()
}

fn read_record(index: usize, raw: &serde_json::Value, now: DateTime<Utc>) -> StreamRecord {
    let raw_bytes = || raw.to_string().into_bytes();
    let envelope = match RecordEnvelope::deserialize(raw) {
        Ok(envelope) => envelope,
        Err(e) => {
            // Still name the record by whatever ids it has, so the reject points at it.
            let text = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_str).map(str::to_owned);
            return StreamRecord {
                index,
                shard: shard_of(text(raw.get("eventID")).as_deref()),
                sequence_number: text(raw.get("kinesis").and_then(|k| k.get("sequenceNumber"))),
                arrival: now,
                data: Err((format!("not a Kinesis record: {e}"), raw_bytes())),
            };
        }
    };
    let shard = shard_of(envelope.event_id);
    let payload = envelope.kinesis.unwrap_or_default();
    let arrival = payload
        .approximate_arrival_timestamp
        .and_then(|secs| Utc.timestamp_millis_opt((secs * 1000.0).round() as i64).single())
        .unwrap_or(now);
    let data = match (&payload.sequence_number, &payload.data) {
        (None, _) => Err(("Kinesis record without kinesis.sequenceNumber".to_owned(), raw_bytes())),
        (_, None) => Err(("Kinesis record without kinesis.data".to_owned(), raw_bytes())),
        (Some(_), Some(data)) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| (format!("kinesis.data is not base64: {e}"), data.as_bytes().to_vec())),
    };
    StreamRecord {
        index,
        shard,
        sequence_number: payload.sequence_number.map(str::to_owned),
        arrival,
        data,
    }
}

/// The shard of an `eventID` (`shardId-000000000000:<seq>`), `unknown-shard` without one.
fn shard_of(event_id: Option<&str>) -> String {
    event_id
        .and_then(|id| id.split_once(':').map(|(shard, _)| shard.to_owned()))
        .unwrap_or_else(|| "unknown-shard".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(records: serde_json::Value) -> KinesisBatch {
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    #[test]
    fn reads_shard_sequence_arrival_and_data() {
        let b = batch(json!([{
            "eventID": "shardId-000000000003:49590338271490256608559692538361571095921575989136588898",
            "kinesis": { "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                         "data": "eyJhIjoxfQ==", "approximateArrivalTimestamp": 1763633700.123 }
        }]));
        let r = &read_records(&b, Utc::now())[0];
        assert_eq!(r.shard, "shardId-000000000003");
        assert_eq!(r.data.as_deref().unwrap(), br#"{"a":1}"#);
        assert_eq!(r.arrival.timestamp_millis(), 1_763_633_700_123);
        assert!(r.describe().starts_with("kinesis shardId-000000000003 seq 4959"));
    }

    #[test]
    fn broken_records_are_reported_one_by_one() {
        let b = batch(json!([
            { "eventID": "s:1", "kinesis": { "sequenceNumber": "1", "data": "%%%not base64" } },
            { "eventID": "s:2", "kinesis": { "data": "eyJhIjoxfQ==" } },
            42,
            { "eventID": "s:4", "kinesis": { "sequenceNumber": "4", "data": "eyJhIjoxfQ==" } }
        ]));
        let rs = read_records(&b, Utc::now());
        assert!(rs[0].data.as_ref().unwrap_err().0.contains("not base64"));
        assert!(rs[1].data.as_ref().unwrap_err().0.contains("sequenceNumber"));
        assert!(rs[2].data.as_ref().unwrap_err().0.starts_with("not a Kinesis record"));
        assert_eq!(rs[2].describe(), "kinesis unknown-shard record #2");
        assert!(rs[3].data.is_ok());
    }
}
