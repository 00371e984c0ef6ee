//! What kind of input a replayed file is.

use std::path::Path;

use base64::Engine as _;
use connect_wfm_handlers::agent_events::KinesisBatch;
use connect_wfm_handlers::reports::SqsBatch;
use serde_json::{Value, json};

/// A batch of a file given to `connect-wfm replay`.
#[derive(Debug)]
pub enum InputFile {
    /// A Kinesis Lambda event, or agent events wrapped into one.
    Kinesis(KinesisBatch),
    /// An SQS Lambda event (S3 notifications of reports).
    Sqs(SqsBatch),
    /// An SQS Lambda event of contact events, or contact events wrapped into one.
    ContactEvents(connect_wfm_handlers::contacts::SqsBatch),
    /// A Kinesis Lambda event of contact records (CTRs), or CTRs wrapped into one.
    ContactRecords(connect_wfm_handlers::contacts::KinesisBatch),
    /// A CloudFormation custom-resource request (bucket-notifications).
    CustomResource(Value),
    /// Not an input we know, with the reason.
    Unknown(String),
}

/// What one JSON document is, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// An EventBridge event (`detail-type`): a contact event.
    ContactEvent,
    /// A contact record: a top-level `ContactId`, no `AgentARN`.
    ContactRecord,
    /// Anything else: an agent event, or a bad one that agent-events rejects.
    Other,
}

fn content(value: &Value) -> Content {
    if value.get("detail-type").is_some() {
        Content::ContactEvent
    } else if value.get("ContactId").is_some() && value.get("AgentARN").is_none() {
        Content::ContactRecord
    } else {
        Content::Other
    }
}

fn content_of_bytes(bytes: &[u8]) -> Content {
    serde_json::from_slice::<Value>(bytes).map_or(Content::Other, |v| content(&v))
}

/// Tells Lambda events and bare inputs apart, by content: a Kinesis Lambda event (of agent
/// events, or of contact records when its first record is one), an SQS Lambda event (of S3
/// notifications, or of contact events when its first message is one), a CloudFormation
/// custom-resource request (an object with `RequestType`), and single inputs or JSON Lines of
/// them: agent events, contact events (`detail-type`) and contact records (`ContactId`). Bare
/// inputs are wrapped into the Lambda event their function takes (shard or message id = the
/// file name and line number) so they run through the same handler; a line that is none of
/// these goes to agent-events, which rejects it like any bad record. One file may give several
/// batches (JSON Lines mixing kinds), in that order: agent events, contact events, CTRs.
pub fn classify(path: &Path, bytes: &[u8]) -> Vec<InputFile> {
    let file = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let shard = format!("file-{file}");
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => vec![match object.get("Records") {
            Some(Value::Array(records)) if records.first().is_some_and(|r| r.get("kinesis").is_some()) => {
                let first_data = records[0]["kinesis"]["data"]
                    .as_str()
                    .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d.trim()).ok())
                    .unwrap_or_default();
                if content_of_bytes(&first_data) == Content::ContactRecord {
                    match serde_json::from_slice(bytes) {
                        Ok(batch) => InputFile::ContactRecords(batch),
                        Err(e) => InputFile::Unknown(format!("not a Kinesis event: {e}")),
                    }
                } else {
                    // From the bytes: the batch borrows each record from them while reading it.
                    match serde_json::from_slice(bytes) {
                        Ok(batch) => InputFile::Kinesis(batch),
                        Err(e) => InputFile::Unknown(format!("not a Kinesis event: {e}")),
                    }
                }
            }
            Some(Value::Array(records)) if records.first().is_some_and(|r| r.get("body").is_some()) => {
                let body = records[0]["body"].as_str().unwrap_or_default();
                if content_of_bytes(body.as_bytes()) == Content::ContactEvent {
                    match serde_json::from_slice(bytes) {
                        Ok(batch) => InputFile::ContactEvents(batch),
                        Err(e) => InputFile::Unknown(format!("not an SQS event: {e}")),
                    }
                } else {
                    match serde_json::from_slice(bytes) {
                        Ok(batch) => InputFile::Sqs(batch),
                        Err(e) => InputFile::Unknown(format!("not an SQS event: {e}")),
                    }
                }
            }
            Some(Value::Array(records)) if records.is_empty() => InputFile::Kinesis(KinesisBatch::default()),
            Some(_) => InputFile::Unknown("a Lambda event with `Records` of a kind this command does not run".into()),
            None if object.contains_key("RequestType") => InputFile::CustomResource(Value::Object(object)),
            None => return wrap_lines(&shard, [(1, bytes)]),
        }],
        Ok(_) => vec![InputFile::Unknown(
            "a JSON value that is neither a Lambda event nor an agent or contact event".into(),
        )],
        Err(_) => {
            let lines = bytes
                .split(|b| *b == b'\n')
                .enumerate()
                .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
                .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace));
            wrap_lines(&shard, lines)
        }
    }
}

/// Wraps bare inputs, by content, into the Lambda events of their functions.
fn wrap_lines<'a>(shard: &str, lines: impl IntoIterator<Item = (usize, &'a [u8])>) -> Vec<InputFile> {
    let (mut agent, mut events, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for (line, data) in lines {
        let seq = format!("{line:010}");
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        match content_of_bytes(data) {
            Content::ContactEvent => events.push(json!({
                "messageId": format!("{shard}:{seq}"),
                "body": String::from_utf8_lossy(data),
                "eventSource": "aws:sqs"
            })),
            Content::ContactRecord => records.push(json!({
                "eventID": format!("{shard}:{seq}"),
                "kinesis": { "sequenceNumber": seq, "data": encoded }
            })),
            Content::Other => agent.push(json!({
                "eventID": format!("{shard}:{seq}"),
                "kinesis": { "sequenceNumber": seq, "data": encoded }
            })),
        }
    }
    let mut batches = Vec::new();
    if !agent.is_empty() || (events.is_empty() && records.is_empty()) {
        batches.push(InputFile::Kinesis(KinesisBatch::from_records(agent)));
    }
    if !events.is_empty() {
        batches.push(InputFile::ContactEvents(
            connect_wfm_handlers::contacts::SqsBatch::from_records(events),
        ));
    }
    if !records.is_empty() {
        batches.push(InputFile::ContactRecords(
            connect_wfm_handlers::contacts::KinesisBatch::from_records(records),
        ));
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_become_one_record_per_line_bad_lines_included() {
        let Some(InputFile::Kinesis(batch)) =
            classify(Path::new("x.jsonl"), b"{\"a\":1}\n\n{oops\r\n{\"b\":2}\n").pop()
        else {
            panic!("expected a batch")
        };
        let seqs: Vec<_> = batch
            .records
            .iter()
            .map(|r| r.sequence_number.as_deref().unwrap())
            .collect();
        assert_eq!(seqs, ["0000000001", "0000000003", "0000000004"]);
        assert_eq!(batch.records[1].shard, "file-x.jsonl");
        assert_eq!(batch.records[1].data.as_deref().unwrap(), b"{oops");
    }

    fn one(path: &str, bytes: &[u8]) -> InputFile {
        let mut batches = classify(Path::new(path), bytes);
        assert_eq!(batches.len(), 1, "{batches:?}");
        batches.remove(0)
    }

    #[test]
    fn a_kinesis_event_is_taken_as_it_is_and_other_json_is_refused() {
        let event = br#"{"Records":[{"eventID":"s:1","kinesis":{"sequenceNumber":"1","data":"e30="}}]}"#;
        assert!(matches!(one("k.json", event), InputFile::Kinesis(b) if b.records.len() == 1));
        assert!(matches!(one("a.json", b"[1,2]"), InputFile::Unknown(_)));
        let sqs = br#"{"Records":[{"messageId":"m","body":"{}","eventSource":"aws:sqs"}]}"#;
        assert!(matches!(one("q.json", sqs), InputFile::Sqs(b) if b.records.len() == 1));
        let cfn = br#"{"RequestType":"Create","ResponseURL":"http://127.0.0.1/x"}"#;
        assert!(matches!(one("c.json", cfn), InputFile::CustomResource(_)));
        let single = br#"{"EventType":"LOGIN"}"#;
        assert!(matches!(one("e.json", single), InputFile::Kinesis(b) if b.records.len() == 1));
    }

    #[test]
    fn contact_events_and_records_are_routed_by_content() {
        let event = r#"{"id":"e","detail-type":"Amazon Connect Contact Event","detail":{}}"#;
        assert!(matches!(one("ev.json", event.as_bytes()), InputFile::ContactEvents(b) if b.records.len() == 1));
        let sqs = json!({"Records": [{"messageId": "m", "body": event}]}).to_string();
        assert!(matches!(one("sqs.json", sqs.as_bytes()), InputFile::ContactEvents(b) if b.records.len() == 1));
        let ctr = r#"{"ContactId":"c","LastUpdateTimestamp":"2026-11-20T10:00:00Z"}"#;
        assert!(matches!(one("ctr.json", ctr.as_bytes()), InputFile::ContactRecords(b) if b.records.len() == 1));
        let data = base64::engine::general_purpose::STANDARD.encode(ctr);
        let kinesis = json!({"Records": [{"eventID": "s:1", "kinesis": {"sequenceNumber": "1", "data": data}}]});
        assert!(matches!(
            one("k.json", kinesis.to_string().as_bytes()),
            InputFile::ContactRecords(b) if b.records.len() == 1
        ));
        let mixed = format!("{event}\n{ctr}\n{{\"EventType\":\"LOGIN\"}}\n{event}\n");
        let batches = classify(Path::new("m.jsonl"), mixed.as_bytes());
        assert!(
            matches!(
                batches.as_slice(),
                [InputFile::Kinesis(a), InputFile::ContactEvents(e), InputFile::ContactRecords(r)]
                    if a.records.len() == 1 && e.records.len() == 2 && r.records.len() == 1
            ),
            "{batches:?}"
        );
    }
}
