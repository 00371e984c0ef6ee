//! The Kinesis Lambda event, read leniently and without a JSON tree.
//!
//! `aws_lambda_events`' `KinesisEvent` fails the whole batch when one record's `data` is not
//! base64, which would block the shard. Here each record is read on its own as the event is
//! deserialised, so a broken record becomes a reject and its neighbours are processed. A
//! record's fields are borrowed from the invocation's bytes and its data base64-decoded from
//! where it lies: nothing of the envelope is copied, no `serde_json::Value` is built.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::BatchInput;

/// A Kinesis Lambda event, `{"Records": [...]}`, its records read one by one
/// ([`StreamRecord`]). Deserialise it from bytes or text (`serde_json::from_slice`, as the Lambda
/// runtime does): each record is borrowed from them while it is read, which a
/// `serde_json::Value` cannot lend.
#[derive(Debug, Default)]
pub struct KinesisBatch {
    pub records: Vec<StreamRecord>,
}

impl KinesisBatch {
    /// A batch of these records (JSON values of Kinesis Lambda records), as the Lambda runtime
    /// would deliver them; for tests and tools that build events.
    pub fn from_records(records: impl IntoIterator<Item = serde_json::Value>) -> Self {
        let records: Vec<serde_json::Value> = records.into_iter().collect();
        let text = serde_json::json!({ "Records": records }).to_string();
        serde_json::from_str(&text).expect("a Kinesis event of JSON values reads")
    }
}

impl<'de> Deserialize<'de> for KinesisBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BatchVisitor;
        impl<'de> Visitor<'de> for BatchVisitor {
            type Value = KinesisBatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kinesis Lambda event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KinesisBatch, A::Error> {
                let mut records = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "Records" {
                        records = Some(map.next_value::<Records>()?.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                let records = records.ok_or_else(|| serde::de::Error::missing_field("Records"))?;
                Ok(KinesisBatch { records })
            }
        }
        deserializer.deserialize_map(BatchVisitor)
    }
}

/// `Records`: each element taken as its raw JSON text and read there.
struct Records(Vec<StreamRecord>);

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordsVisitor;
        impl<'de> Visitor<'de> for RecordsVisitor {
            type Value = Records;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of Kinesis records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
                let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    records.push(read_record(records.len(), raw));
                }
                Ok(Records(records))
            }
        }
        deserializer.deserialize_seq(RecordsVisitor)
    }
}

/// The parts of a record the connector uses, borrowed from the event's bytes: the checked
/// reading, whose errors are what a reject says.
#[derive(Debug, Default, Deserialize)]
struct RecordEnvelope<'a> {
    #[serde(rename = "eventID", default, borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kinesis: Option<Payload<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    sequence_number: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    approximate_arrival_timestamp: Option<f64>,
}

/// The same fields with `data` read as bytes, the quick reading of a well-formed record. Its
/// text was checked as JSON when it was borrowed; serde_json reads a string as bytes with a
/// `memchr` for its end, as text with a scan that checks it again byte by byte, and the base64
/// data is most of a record.
#[derive(Debug, Deserialize)]
struct LeanEnvelope<'a> {
    #[serde(rename = "eventID", default, borrow)]
    event_id: Option<Str<'a>>,
    #[serde(borrow)]
    kinesis: Option<LeanPayload<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanPayload<'a> {
    #[serde(borrow)]
    sequence_number: Option<Str<'a>>,
    #[serde(borrow)]
    data: Option<Bytes<'a>>,
    approximate_arrival_timestamp: Option<f64>,
}

/// A string, borrowed from the input when it holds no escapes (serde borrows a `Cow` only
/// when it is a field's whole type, not inside an `Option`).
#[derive(Debug)]
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(StrVisitor(PhantomData))
    }
}

/// A string's bytes, unescaped, borrowed from the input when it holds no escapes; not
/// checked as UTF-8.
#[derive(Debug)]
struct Bytes<'a>(Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for BytesVisitor<'a> {
            type Value = Bytes<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Bytes(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Bytes(Cow::Owned(v.to_vec())))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor(PhantomData))
    }
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
    /// `approximateArrivalTimestamp`, when the record has a usable one.
    pub arrival: Option<DateTime<Utc>>,
    /// The decoded data, or why the envelope could not give it (with the raw bytes to keep).
    pub data: Result<Vec<u8>, (String, Vec<u8>)>,
}

impl BatchInput for StreamRecord {
    /// Shard and sequence number, or the batch position.
    fn describe(&self) -> String {
        match &self.sequence_number {
            Some(seq) => format!("kinesis {} seq {seq}", self.shard),
            None => format!("kinesis {} record #{}", self.shard, self.index),
        }
    }

    fn item_identifier(&self) -> Option<&str> {
        self.sequence_number.as_deref()
    }

    fn group(&self) -> &str {
        &self.shard
    }

    fn received(&self) -> Option<DateTime<Utc>> {
        self.arrival
    }

    fn data(&self) -> &Result<Vec<u8>, (String, Vec<u8>)> {
        &self.data
    }
}

impl KinesisBatch {
    /// The span every log line of the batch runs in (the stores' included): its shard and
    /// sequence range; the runtime's invocation span around it carries the request id.
    pub fn span(&self) -> tracing::Span {
        let sequence = |record: Option<&StreamRecord>| {
            record
                .and_then(|r| r.sequence_number.clone())
                .unwrap_or_else(|| "-".to_owned())
        };
        tracing::info_span!(
            "batch",
            shard = self.records.first().map_or("-", |r| r.shard.as_str()),
            first_seq = %sequence(self.records.first()),
            last_seq = %sequence(self.records.last()),
            records = self.records.len(),
        )
    }
}

/// The records of a batch, each read as the batch was deserialised; never fails as a whole.
pub fn read_records(batch: &KinesisBatch) -> &[StreamRecord] {
    &batch.records
}

fn read_record(index: usize, raw: &RawValue) -> StreamRecord {
    if let Ok(envelope) = serde_json::from_str::<LeanEnvelope<'_>>(raw.get())
        && let Some(record) = read_lean(index, envelope)
    {
        return record;
    }
    read_checked(index, raw)
}

/// A record whose quick reading gives what the checked one would, or None: a record with a
/// problem to name, data whose escapes hold a lone surrogate (which the checked reading
/// refuses), data that starts or ends with something else than base64 (trimmed by the
/// checked reading).
fn read_lean(index: usize, envelope: LeanEnvelope<'_>) -> Option<StreamRecord> {
    let payload = envelope.kinesis?;
    let (Str(sequence_number), Bytes(data)) = (payload.sequence_number?, payload.data?);
    if matches!(data, Cow::Owned(_)) && std::str::from_utf8(&data).is_err() {
        return None;
    }
    let is_base64 = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=');
    if !(data.first().is_some_and(is_base64) && data.last().is_some_and(is_base64)) {
        return None;
    }
    let data = base64_simd::STANDARD.decode_to_vec(&data).ok()?;
    Some(StreamRecord {
        index,
        shard: shard_of(envelope.event_id.as_ref().map(|Str(id)| id.as_ref())),
        sequence_number: Some(sequence_number.into_owned()),
        arrival: arrival(payload.approximate_arrival_timestamp),
        data: Ok(data),
    })
}

fn read_checked(index: usize, raw: &RawValue) -> StreamRecord {
    let raw_bytes = || raw.get().as_bytes().to_vec();
    let envelope = match serde_json::from_str::<RecordEnvelope<'_>>(raw.get()) {
        Ok(envelope) => envelope,
        Err(e) => {
            // Still name the record by whatever ids it has, so the reject points at it (a
            // broken record is rare: a JSON tree is fine here).
            let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
            let text = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_str).map(str::to_owned);
            return StreamRecord {
                index,
                shard: shard_of(text(value.get("eventID")).as_deref()),
                sequence_number: text(value.get("kinesis").and_then(|k| k.get("sequenceNumber"))),
                arrival: None,
                data: Err((format!("not a Kinesis record: {e}"), raw_bytes())),
            };
        }
    };
    let shard = shard_of(envelope.event_id.as_deref());
    let payload = envelope.kinesis.unwrap_or_default();
    let arrival = arrival(payload.approximate_arrival_timestamp);
    let data = match (&payload.sequence_number, &payload.data) {
        (None, _) => Err(("Kinesis record without kinesis.sequenceNumber".to_owned(), raw_bytes())),
        (_, None) => Err(("Kinesis record without kinesis.data".to_owned(), raw_bytes())),
        (Some(_), Some(data)) => base64_simd::STANDARD.decode_to_vec(data.trim()).map_err(|_| {
            (
                format!("kinesis.data is not base64: {}", base64_error(data.trim())),
                data.as_bytes().to_vec(),
            )
        }),
    };
    StreamRecord {
        index,
        shard,
        sequence_number: payload.sequence_number.map(Cow::into_owned),
        arrival,
        data,
    }
}

/// `approximateArrivalTimestamp` (seconds) as a time, when it is one.
fn arrival(seconds: Option<f64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|secs| Utc.timestamp_millis_opt((secs * 1000.0).round() as i64).single())
}

/// What is wrong with data that is not base64: the SIMD decoder only says that it is not, the
/// scalar one says which symbol at which offset.
fn base64_error(data: &str) -> String {
    match base64::engine::general_purpose::STANDARD.decode(data) {
        Err(e) => e.to_string(),
        Ok(_) => "not canonical base64".to_owned(),
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
        serde_json::from_slice(&serde_json::to_vec(&json!({ "Records": records })).unwrap()).unwrap()
    }

    #[test]
    fn reads_shard_sequence_arrival_and_data() {
        let b = batch(json!([{
            "eventID": "shardId-000000000003:49590338271490256608559692538361571095921575989136588898",
            "kinesis": { "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                         "data": "eyJhIjoxfQ==", "approximateArrivalTimestamp": 1763633700.123 }
        }]));
        let r = &read_records(&b)[0];
        assert_eq!(r.shard, "shardId-000000000003");
        assert_eq!(r.data.as_deref().unwrap(), br#"{"a":1}"#);
        assert_eq!(r.arrival.unwrap().timestamp_millis(), 1_763_633_700_123);
        assert!(r.describe().starts_with("kinesis shardId-000000000003 seq 4959"));
    }

    #[test]
    fn reads_through_the_lambda_runtimes_deserializer() {
        // lambda_runtime 1.x: serde_path_to_error over serde_json::Deserializer::from_slice.
        let body = br#"{"Records": [{"eventID": "shardId-000000000001:7",
            "kinesis": {"sequenceNumber": "7", "data": "eyJhIjoxfQ\u003d\u003d"}}, 42]}"#;
        let json = &mut serde_json::Deserializer::from_slice(body);
        let batch: KinesisBatch = serde_path_to_error::deserialize(json).unwrap();
        assert_eq!(batch.records.len(), 2);
        assert_eq!(batch.records[0].shard, "shardId-000000000001");
        assert_eq!(batch.records[0].data.as_deref().unwrap(), br#"{"a":1}"#);
        assert_eq!(batch.records[1].data.as_ref().unwrap_err().1, b"42");
        let no_records = &mut serde_json::Deserializer::from_slice(br#"{"records": []}"#);
        let error = serde_path_to_error::deserialize::<_, KinesisBatch>(no_records).unwrap_err();
        assert!(error.to_string().contains("missing field `Records`"), "{error}");
    }

    #[test]
    fn data_the_quick_reading_leaves_is_read_as_before() {
        let b = batch(json!([
            { "eventID": "s:1", "kinesis": { "sequenceNumber": "1", "data": " eyJhIjoxfQ==\n" } },
            { "eventID": "s:2", "kinesis": { "sequenceNumber": "2", "data": "eyJhIjoxfQ==\u{2003}" } },
            { "eventID": "s:3", "kinesis": { "sequenceNumber": 3, "data": "eyJhIjoxfQ==" } },
        ]));
        let rs = read_records(&b);
        assert_eq!(rs[0].data.as_deref().unwrap(), br#"{"a":1}"#, "trimmed");
        assert_eq!(rs[1].data.as_deref().unwrap(), br#"{"a":1}"#, "trimmed");
        assert!(rs[2].data.as_ref().unwrap_err().0.starts_with("not a Kinesis record"));
        // A repeated field, a lone surrogate in an escape: refused as the checked reading
        // refuses them.
        let body = br#"{"Records": [
            {"eventID": "s:4", "kinesis": {"sequenceNumber": "4", "data": "eyJhIjoxfQ==", "data": "x"}},
            {"eventID": "s:5", "kinesis": {"sequenceNumber": "5", "data": "eyJhIjoxfQ\ud800"}}]}"#;
        let b: KinesisBatch = serde_json::from_slice(body).unwrap();
        let (repeated, _) = b.records[0].data.as_ref().unwrap_err();
        assert!(repeated.contains("duplicate field `data`"), "{repeated}");
        let (surrogate, raw) = b.records[1].data.as_ref().unwrap_err();
        assert!(surrogate.contains("hex escape"), "{surrogate}");
        assert!(raw.starts_with(b"{\"eventID\""));
    }

    #[test]
    fn broken_records_are_reported_one_by_one() {
        let b = batch(json!([
            { "eventID": "s:1", "kinesis": { "sequenceNumber": "1", "data": "%%%not base64" } },
            { "eventID": "s:2", "kinesis": { "data": "eyJhIjoxfQ==" } },
            42,
            { "eventID": "s:4", "kinesis": { "sequenceNumber": "4", "data": "eyJhIjoxfQ==" } }
        ]));
        let rs = read_records(&b);
        assert!(rs[0].data.as_ref().unwrap_err().0.contains("not base64"));
        assert!(rs[1].data.as_ref().unwrap_err().0.contains("sequenceNumber"));
        assert!(rs[2].data.as_ref().unwrap_err().0.starts_with("not a Kinesis record"));
        assert_eq!(rs[2].describe(), "kinesis unknown-shard record #2");
        assert!(rs[3].data.is_ok());
    }

    mod quick_reading {
        use super::*;
        use proptest::prelude::*;

        /// A JSON value's text for a field: absent (None), or one of the kinds a producer might
        /// send, escapes and odd whitespace included.
        fn field(strings: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
            prop_oneof![
                1 => Just(None),
                6 => strings.prop_map(|text| Some(format!("\"{text}\""))),
                1 => any::<u32>().prop_map(|n| Some(n.to_string())),
                1 => Just(Some("null".to_owned())),
            ]
        }

        fn data() -> impl Strategy<Value = String> {
            // Mostly nothing, so that most records are ones the quick reading answers.
            let edge = prop_oneof![
                12 => Just(""),
                1 => Just(" "),
                1 => Just("\\n"),
                1 => Just("\\u2003"),
                1 => Just("\\ud800"),
                1 => Just("!"),
                1 => Just("é")
            ];
            (
                edge.clone(),
                proptest::collection::vec(any::<u8>(), 0..40),
                any::<bool>(),
                edge,
            )
                .prop_map(|(head, bytes, escape_slashes, tail)| {
                    let mut base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                    if escape_slashes {
                        base64 = base64.replace('/', "\\/");
                    }
                    format!("{head}{base64}{tail}")
                })
        }

        proptest! {
            /// Wherever the quick reading answers, it answers what the checked reading does.
            #[test]
            fn the_quick_reading_agrees_with_the_checked_one(
                event_id in field("s(hard)?Id-0{0,3}:?[0-9]{0,3}(\\\\u0041)?"),
                sequence in field("[0-9]{0,5}(\\\\u0031)?"),
                data in field(data()),
                arrival in prop_oneof![Just(None), (0.0..2e9f64).prop_map(|t| Some(t.to_string())), Just(Some("\"x\"".to_owned()))],
            ) {
                let mut members = Vec::new();
                if let Some(id) = event_id {
                    members.push(format!("\"eventID\":{id}"));
                }
                let mut kinesis = Vec::new();
                for (name, value) in [("sequenceNumber", sequence), ("data", data), ("approximateArrivalTimestamp", arrival)] {
                    if let Some(value) = value {
                        kinesis.push(format!("\"{name}\":{value}"));
                    }
                }
                members.push(format!("\"kinesis\":{{{}}}", kinesis.join(",")));
                let text = format!("{{{}}}", members.join(","));
                let Ok(raw) = serde_json::from_str::<&RawValue>(&text) else {
                    return Err(TestCaseError::reject("not JSON"));
                };
                if let Ok(envelope) = serde_json::from_str::<LeanEnvelope<'_>>(raw.get())
                    && let Some(quick) = read_lean(7, envelope)
                {
                    prop_assert_eq!(format!("{quick:?}"), format!("{:?}", read_checked(7, raw)), "{}", text);
                }
            }
        }
    }
}
