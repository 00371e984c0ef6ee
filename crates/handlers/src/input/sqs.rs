//! The SQS Lambda event, read leniently: each message on its own, so a message without an id
//! or a body is one reject (or one failure), never the whole batch's.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::BatchInput;

/// An SQS Lambda event, `{"Records": [...]}`, its messages read one by one ([`SqsMessage`]).
#[derive(Debug, Default, Clone)]
pub struct SqsBatch {
    pub records: Vec<SqsMessage>,
}

impl SqsBatch {
    /// A batch of these messages (JSON values of SQS Lambda records), as the Lambda runtime
    /// would deliver them; for tests and tools that build events.
    pub fn from_records(records: impl IntoIterator<Item = serde_json::Value>) -> Self {
        let records: Vec<serde_json::Value> = records.into_iter().collect();
        let text = serde_json::json!({ "Records": records }).to_string();
        serde_json::from_str(&text).expect("an SQS event of JSON values reads")
    }
}

impl SqsBatch {
    /// The span every log line of the batch runs in: its first message id and its size.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "batch",
            source = "sqs",
            first_message = self
                .records
                .first()
                .and_then(|m| m.message_id.as_deref())
                .unwrap_or("-"),
            messages = self.records.len(),
        )
    }
}

impl<'de> Deserialize<'de> for SqsBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Event {
            #[serde(rename = "Records")]
            records: Messages,
        }
        Ok(SqsBatch {
            records: Event::deserialize(deserializer)?.records.0,
        })
    }
}

/// `Records`: each element taken as its raw JSON text and read there.
struct Messages(Vec<SqsMessage>);

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MessagesVisitor;
        impl<'de> Visitor<'de> for MessagesVisitor {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of SQS messages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
                let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                    messages.push(SqsMessage::read(messages.len(), &raw));
                }
                Ok(Messages(messages))
            }
        }
        deserializer.deserialize_seq(MessagesVisitor)
    }
}

/// One message of the batch, as far as it could be read.
#[derive(Debug, Clone)]
pub struct SqsMessage {
    /// Position in the batch.
    pub index: usize,
    /// `messageId`: what the batch response names. None only for a broken message.
    pub message_id: Option<String>,
    /// `attributes.SentTimestamp`, when the message has a usable one.
    pub sent: Option<DateTime<Utc>>,
    /// `attributes.ApproximateReceiveCount`: how often the queue has handed the message out.
    pub receive_count: Option<u32>,
    /// The body, or why the message gives none (with the raw message to keep).
    pub data: Result<Vec<u8>, (String, Vec<u8>)>,
}

/// The fields of a message the connector uses.
#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
    body: Option<String>,
    #[serde(default)]
    attributes: Attributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attributes {
    sent_timestamp: Option<String>,
    approximate_receive_count: Option<String>,
}

impl SqsMessage {
    fn read(index: usize, raw: &RawValue) -> Self {
        let raw_bytes = || raw.get().as_bytes().to_vec();
        let envelope = match serde_json::from_str::<Envelope>(raw.get()) {
            Ok(envelope) => envelope,
            Err(e) => {
                // Still name the message by its id when it has one, so the reject points at it.
                let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
                return Self {
                    index,
                    message_id: value.get("messageId").and_then(|v| v.as_str()).map(str::to_owned),
                    sent: None,
                    receive_count: None,
                    data: Err((format!("not an SQS message: {e}"), raw_bytes())),
                };
            }
        };
        let sent = envelope
            .attributes
            .sent_timestamp
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        let receive_count = envelope
            .attributes
            .approximate_receive_count
            .and_then(|n| n.parse().ok());
        let data = match (&envelope.message_id, envelope.body) {
            (None, _) => Err(("SQS message without messageId".to_owned(), raw_bytes())),
            (_, None) => Err(("SQS message without a body".to_owned(), raw_bytes())),
            (Some(_), Some(body)) => Ok(body.into_bytes()),
        };
        Self {
            index,
            message_id: envelope.message_id,
            sent,
            receive_count,
            data,
        }
    }

    /// The body as text (an SQS body always is), or why the message has none.
    pub fn body(&self) -> Result<&str, &str> {
        match &self.data {
            Ok(bytes) => std::str::from_utf8(bytes).map_err(|_| "the body is not UTF-8"),
            Err((reason, _)) => Err(reason),
        }
    }
}

impl BatchInput for SqsMessage {
    fn describe(&self) -> String {
        match &self.message_id {
            Some(id) => format!("sqs message {id}"),
            None => format!("sqs message #{}", self.index),
        }
    }

    fn item_identifier(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    fn group(&self) -> &str {
        "sqs"
    }

    fn received(&self) -> Option<DateTime<Utc>> {
        self.sent
    }

    fn data(&self) -> &Result<Vec<u8>, (String, Vec<u8>)> {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_are_read_one_by_one_and_name_what_is_missing() {
        let batch = SqsBatch::from_records([
            json!({"messageId": "m1", "body": "{}", "attributes": {"SentTimestamp": "1763633700123", "ApproximateReceiveCount": "2"}}),
            json!({"body": "{}"}),
            json!({"messageId": "m3"}),
            json!(42),
            json!({"messageId": "m5", "body": 7}),
        ]);
        let read = &batch.records;
        assert_eq!(read[0].body(), Ok("{}"));
        assert_eq!(
            read[0].received().map(|t| t.timestamp_millis()),
            Some(1_763_633_700_123)
        );
        assert_eq!(read[0].receive_count, Some(2));
        assert_eq!(read[1].describe(), "sqs message #1");
        assert_eq!(read[1].body(), Err("SQS message without messageId"));
        assert_eq!(read[2].body(), Err("SQS message without a body"));
        assert_eq!(read[2].item_identifier(), Some("m3"));
        assert!(
            read[3].body().unwrap_err().starts_with("not an SQS message"),
            "{:?}",
            read[3].body()
        );
        assert_eq!(read[3].raw(), b"42");
        assert_eq!(read[4].describe(), "sqs message m5", "a broken message keeps its id");
    }
}
