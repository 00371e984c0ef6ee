//! SQS messages carrying S3 event notifications, read leniently.
//!
//! `aws_lambda_events`' `S3Event` rejects the `s3:TestEvent` message and notifications without
//! `userIdentity` (as emulators send them), so the few fields we need are read here. Keys arrive
//! URL-encoded (`+` for a space, `%3A` for `:`, and some emulators `%2F` for `/`).

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::Value;

/// An SQS Lambda event: `{"Records": [...]}`; each message is read on its own.
#[derive(Debug, Default, Deserialize)]
pub struct SqsBatch {
    #[serde(rename = "Records")]
    pub records: Vec<Value>,
}

/// The parts of an SQS message the function uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessage {
    pub message_id: Option<String>,
    pub body: Option<String>,
}

impl SqsMessage {
    pub fn from_value(value: &Value) -> Self {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            message_id: text("messageId"),
            body: text("body"),
        }
    }
}

/// A created object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// URL-decoded.
    pub key: String,
    pub etag: Option<String>,
}

/// What a notification body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when a notification is configured.
    Test,
    /// Created objects; events of other types (removals, ...) are left out.
    Created(Vec<CreatedObject>),
}

/// Reads a notification body: an S3 event, or the same wrapped in an SNS envelope.
pub fn parse_notification(body: &str) -> Result<Notification, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("message body is not JSON: {e}"))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if let (Some("Notification"), Some(message)) = (
        value.get("Type").and_then(Value::as_str),
        value.get("Message").and_then(Value::as_str),
    ) {
        return parse_notification(message);
    }
    let Some(records) = value.get("Records").and_then(Value::as_array) else {
        return Err("message body is not an S3 event notification (no `Records`)".into());
    };
    let mut created = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let event_name = record.get("eventName").and_then(Value::as_str).unwrap_or_default();
        if !event_name.starts_with("ObjectCreated") {
            continue;
        }
        let s3 = record.get("s3");
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(s3?, |v, name| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let bucket = field(&["bucket", "name"]).ok_or_else(|| format!("record {i}: no s3.bucket.name"))?;
        let key = field(&["object", "key"]).ok_or_else(|| format!("record {i}: no s3.object.key"))?;
        let etag = field(&["object", "eTag"])
            .map(|e| e.trim_matches('"').to_owned())
            .filter(|e| !e.is_empty());
        // S3 keys are UTF-8: a key that is not, once decoded, was not written by S3.
        let decoded = percent_decode_str(&key.replace('+', " "))
            .decode_utf8()
            .map_err(|_| format!("record {i}: s3://{bucket}/{key}: the key is not UTF-8 once percent-decoded"))?
            .into_owned();
        created.push(CreatedObject {
            bucket,
            key: decoded,
            etag,
        });
    }
    Ok(Notification::Created(created))
}

/// Decodes an S3 event key: `+` is a space, then percent-decoding (invalid UTF-8 is replaced).
pub fn decode_key(raw: &str) -> String {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_spaces_colons_slashes_and_plus() {
        assert_eq!(
            decode_key("connect%2Facme%2FReports%2FQueue+report+QR-2026-11-20T10%3A30%3A00Z.csv"),
            "connect/acme/Reports/Queue report QR-2026-11-20T10:30:00Z.csv"
        );
        assert_eq!(decode_key("a%2Bb+c"), "a+b c");
    }

    #[test]
    fn reads_created_objects_and_skips_other_events() {
        let body = r#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k+1.csv","eTag":"abc"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"gone.csv"}}}]}"#;
        assert_eq!(
            parse_notification(body).unwrap(),
            Notification::Created(vec![CreatedObject {
                bucket: "b".into(),
                key: "k 1.csv".into(),
                etag: Some("abc".into())
            }])
        );
    }

    #[test]
    fn knows_the_test_event_and_sns_envelopes_and_names_what_is_wrong() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        assert_eq!(parse_notification(test).unwrap(), Notification::Test);
        let sns = serde_json::json!({ "Type": "Notification", "Message": test }).to_string();
        assert_eq!(parse_notification(&sns).unwrap(), Notification::Test);
        assert!(
            parse_notification("nope")
                .unwrap_err()
                .starts_with("message body is not JSON")
        );
        assert!(parse_notification(r#"{"a":1}"#).unwrap_err().contains("no `Records`"));
        let no_key = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}"#;
        assert_eq!(parse_notification(no_key).unwrap_err(), "record 0: no s3.object.key");
    }
}
