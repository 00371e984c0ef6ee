//! S3 event notifications in the body of an SQS message, read leniently.
//!
//! `aws_lambda_events`' `S3Event` rejects the `s3:TestEvent` message and notifications without
//! `userIdentity` (as emulators send them), so the few fields we need are read here. Keys arrive
//! URL-encoded (`+` for a space, `%3A` for `:`, and some emulators `%2F` for `/`).

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::Value;

/// A created object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// URL-decoded.
    pub key: String,
    pub etag: Option<String>,
    /// Set by `connect-wfm reload --force` ([`RELOAD_FIELD`]): convert the object again even if
    /// it was converted before (its feed objects are overwritten, not duplicated).
    pub reload: Option<String>,
}

/// Top-level field of a notification body sent by `connect-wfm reload --force`: its value (the
/// reload's id) makes a fresh claim, so an object already converted is converted again.
pub const RELOAD_FIELD: &str = "connectWfmReload";

/// An S3 `ObjectCreated` notification body for `bucket/key` (the key URL-encoded as S3 does), as
/// `connect-wfm reload` sends it to the reports queue; `reload` forces a new conversion.
pub fn created_notification(bucket: &str, key: &str, etag: &str, size: i64, reload: Option<&str>) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    let encoded = percent_encoding::utf8_percent_encode(key, KEEP)
        .to_string()
        .replace(' ', "+");
    let mut body = serde_json::json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "connect-wfm-reload",
            "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") },
            "object": { "key": encoded, "size": size, "eTag": etag }
        }
    }]});
    if let Some(id) = reload {
        body[RELOAD_FIELD] = Value::String(id.to_owned());
    }
    body.to_string()
}

/// What a notification body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when a notification is configured.
    Test,
    /// Created objects; events of other types (removals, ...) are left out.
    Created(Vec<CreatedObject>),
}

/// Reads a notification body: an S3 event, the same wrapped in an SNS envelope, or an
/// EventBridge event of S3 (`source` `aws.s3`, detail-type `Object Created`: a bucket's
/// notifications sent to EventBridge, routed to the queue by a rule).
pub fn parse_notification(body: &str) -> Result<Notification, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("message body is not JSON: {e}"))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if value.get("source").and_then(Value::as_str) == Some("aws.s3") {
        return eventbridge_notification(value);
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
    let reload = value.get(RELOAD_FIELD).and_then(Value::as_str).map(str::to_owned);
    let mut created = Vec::new();
    for (i, record) in records.iter().enumerate() {
        // A record without an eventName is not an S3 event record: fail rather than drop it.
        let event_name = record
            .get("eventName")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("record {i}: not an S3 event record (no eventName)"))?;
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
            reload: reload.clone(),
        });
    }
    Ok(Notification::Created(created))
}

/// An EventBridge event of S3, as S3 sends it to the default bus (S3 user guide, "EventBridge
/// event message structure"): only the fields we read.
#[derive(Debug, Deserialize)]
struct EventBridgeS3Event {
    #[serde(rename = "detail-type")]
    detail_type: String,
    /// Read as [`ObjectCreatedDetail`] in `Object Created`; other detail-types have their own.
    detail: Option<Value>,
    /// Set by `connect-wfm reload --force` on a copy of the event.
    #[serde(rename = "connectWfmReload")]
    reload: Option<String>,
}

/// `detail` of an `Object Created` event.
#[derive(Debug, Deserialize)]
struct ObjectCreatedDetail {
    bucket: EventBridgeBucket,
    object: EventBridgeObject,
}

#[derive(Debug, Deserialize)]
struct EventBridgeBucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct EventBridgeObject {
    /// Not URL-encoded, unlike a notification's.
    key: String,
    etag: Option<String>,
}

/// An EventBridge event of S3: `Object Created` names one object (its key not URL-encoded);
/// other detail-types (deletions, ...) name none of ours.
fn eventbridge_notification(value: Value) -> Result<Notification, String> {
    let event: EventBridgeS3Event = serde_json::from_value(value).map_err(|e| format!("EventBridge S3 event: {e}"))?;
    if event.detail_type != "Object Created" {
        return Ok(Notification::Created(Vec::new()));
    }
    let detail = (event.detail).ok_or("EventBridge S3 event `Object Created`: no detail")?;
    let detail: ObjectCreatedDetail =
        serde_json::from_value(detail).map_err(|e| format!("EventBridge S3 event `Object Created`: detail: {e}"))?;
    Ok(Notification::Created(vec![CreatedObject {
        bucket: detail.bucket.name,
        key: detail.object.key,
        etag: (detail.object.etag)
            .map(|e| e.trim_matches('"').to_owned())
            .filter(|e| !e.is_empty()),
        reload: event.reload,
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_notification_reads_back_as_the_object_with_its_reload_id() {
        let key = "connect/acme/Reports/wfm/Queue report QR-2026-11-20T10:30:00Z+1.csv";
        let body = created_notification("b", key, "abc", 42, Some("r-1"));
        assert!(
            body.contains("Queue+report+QR-2026-11-20T10%3A30%3A00Z%2B1.csv"),
            "{body}"
        );
        let want = CreatedObject {
            bucket: "b".into(),
            key: key.into(),
            etag: Some("abc".into()),
            reload: Some("r-1".into()),
        };
        assert_eq!(
            parse_notification(&body).unwrap(),
            Notification::Created(vec![want.clone()])
        );
        let plain = created_notification("b", key, "abc", 42, None);
        let want = CreatedObject { reload: None, ..want };
        assert_eq!(parse_notification(&plain).unwrap(), Notification::Created(vec![want]));
    }

    #[test]
    fn decodes_spaces_colons_slashes_and_plus() {
        let key_of = |raw: &str| {
            let body = format!(
                r#"{{"Records":[{{"eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"{raw}"}}}}}}]}}"#
            );
            match parse_notification(&body).unwrap() {
                Notification::Created(objects) => objects[0].key.clone(),
                Notification::Test => panic!("not a test event"),
            }
        };
        assert_eq!(
            key_of("connect%2Facme%2FReports%2FQueue+report+QR-2026-11-20T10%3A30%3A00Z.csv"),
            "connect/acme/Reports/Queue report QR-2026-11-20T10:30:00Z.csv"
        );
        assert_eq!(key_of("a%2Bb+c"), "a+b c");
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
                etag: Some("abc".into()),
                reload: None,
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

    #[test]
    fn reads_eventbridge_events_of_s3() {
        let event = serde_json::json!({
            "version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
            "time": "2026-11-20T10:20:00Z",
            "detail": {"version": "0", "bucket": {"name": "ctr"},
                       "object": {"key": "2026/11/20/10/ctr-1 a.gz", "size": 10, "etag": "abc"}}
        });
        assert_eq!(
            parse_notification(&event.to_string()).unwrap(),
            Notification::Created(vec![CreatedObject {
                bucket: "ctr".into(),
                key: "2026/11/20/10/ctr-1 a.gz".into(),
                etag: Some("abc".into()),
                reload: None,
            }])
        );
        let deleted = serde_json::json!({"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}});
        assert_eq!(
            parse_notification(&deleted.to_string()).unwrap(),
            Notification::Created(Vec::new())
        );
        let broken = serde_json::json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}});
        assert!(parse_notification(&broken.to_string()).unwrap_err().contains("bucket"));
        let no_detail = serde_json::json!({"detail-type": "Object Created", "source": "aws.s3"});
        assert!(
            parse_notification(&no_detail.to_string())
                .unwrap_err()
                .contains("no detail")
        );
    }

    /// The `Object Created` example of the S3 user guide ("EventBridge event message structure"),
    /// as the stack's rule delivers it to the reports queue (the event itself is the body).
    #[test]
    fn reads_the_object_created_example_of_the_s3_user_guide() {
        let example = r#"{
          "version": "0",
          "id": "17793124-05d4-b198-2fde-7ededc63b103",
          "detail-type": "Object Created",
          "source": "aws.s3",
          "account": "111122223333",
          "time": "2021-11-12T00:00:00Z",
          "region": "ca-central-1",
          "resources": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET1"],
          "detail": {
            "version": "0",
            "bucket": {"name": "DOC-EXAMPLE-BUCKET1"},
            "object": {
              "key": "example-key",
              "size": 5,
              "etag": "b1946ac92492d2347c6235b4d2611184",
              "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
              "sequencer": "617f08299329d189"
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
          }
        }"#;
        assert_eq!(
            parse_notification(example).unwrap(),
            Notification::Created(vec![CreatedObject {
                bucket: "DOC-EXAMPLE-BUCKET1".into(),
                key: "example-key".into(),
                etag: Some("b1946ac92492d2347c6235b4d2611184".into()),
                reload: None,
            }])
        );
    }
}
