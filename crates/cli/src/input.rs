//! What kind of input a replayed file is.

use std::path::Path;

use base64::Engine as _;
use connect_wfm_agent_events::KinesisBatch;
use connect_wfm_historical_reports::SqsBatch;
use serde_json::{Value, json};

/// A file given to `connect-wfm replay`.
#[derive(Debug)]
pub enum InputFile {
    /// A Kinesis Lambda event, or agent events wrapped into one.
    Kinesis(KinesisBatch),
    /// An SQS Lambda event (S3 notifications of reports).
    Sqs(SqsBatch),
    /// A CloudFormation custom-resource request (bucket-notifications).
    CustomResource(Value),
    /// Not an input we know, with the reason.
    Unknown(String),
}

/// Tells a Kinesis Lambda event, an SQS Lambda event, a CloudFormation custom-resource request
/// (an object with `RequestType`), a single agent event and JSON Lines of agent events apart.
/// Agent events are wrapped into a Kinesis batch (shard = the file name, sequence number = the
/// line number) so they run through the same handler; a line that is not an agent event is
/// rejected by the handler like any bad record.
pub fn classify(path: &Path, bytes: &[u8]) -> InputFile {
    let shard = format!(
        "file-{}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
    );
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => match object.get("Records") {
            Some(Value::Array(records)) if records.first().is_some_and(|r| r.get("kinesis").is_some()) => {
                match serde_json::from_value(Value::Object(object)) {
                    Ok(batch) => InputFile::Kinesis(batch),
                    Err(e) => InputFile::Unknown(format!("not a Kinesis event: {e}")),
                }
            }
            Some(Value::Array(records)) if records.first().is_some_and(|r| r.get("body").is_some()) => {
                match serde_json::from_value(Value::Object(object)) {
                    Ok(batch) => InputFile::Sqs(batch),
                    Err(e) => InputFile::Unknown(format!("not an SQS event: {e}")),
                }
            }
            Some(Value::Array(records)) if records.is_empty() => InputFile::Kinesis(KinesisBatch::default()),
            Some(_) => InputFile::Unknown("a Lambda event with `Records` of a kind this command does not run".into()),
            None if object.contains_key("RequestType") => InputFile::CustomResource(Value::Object(object)),
            None => InputFile::Kinesis(wrap_lines(&shard, [(1, bytes)])),
        },
        Ok(_) => InputFile::Unknown("a JSON value that is neither a Lambda event nor an agent event".into()),
        Err(_) => {
            let lines = bytes
                .split(|b| *b == b'\n')
                .enumerate()
                .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
                .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace));
            InputFile::Kinesis(wrap_lines(&shard, lines))
        }
    }
}

fn wrap_lines<'a>(shard: &str, lines: impl IntoIterator<Item = (usize, &'a [u8])>) -> KinesisBatch {
    let records = lines
        .into_iter()
        .map(|(line, data)| {
            let seq = format!("{line:010}");
            json!({
                "eventID": format!("{shard}:{seq}"),
                "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(data) }
            })
        })
        .collect();
    KinesisBatch { records }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_become_one_record_per_line_bad_lines_included() {
        let InputFile::Kinesis(batch) = classify(Path::new("x.jsonl"), b"{\"a\":1}\n\n{oops\r\n{\"b\":2}\n") else {
            panic!("expected a batch")
        };
        let seqs: Vec<_> = batch
            .records
            .iter()
            .map(|r| r["kinesis"]["sequenceNumber"].clone())
            .collect();
        assert_eq!(
            seqs,
            vec![json!("0000000001"), json!("0000000003"), json!("0000000004")]
        );
        assert_eq!(batch.records[1]["eventID"], json!("file-x.jsonl:0000000003"));
    }

    #[test]
    fn a_kinesis_event_is_taken_as_it_is_and_other_json_is_refused() {
        let event = br#"{"Records":[{"eventID":"s:1","kinesis":{"sequenceNumber":"1","data":"e30="}}]}"#;
        assert!(matches!(classify(Path::new("k.json"), event), InputFile::Kinesis(b) if b.records.len() == 1));
        assert!(matches!(classify(Path::new("a.json"), b"[1,2]"), InputFile::Unknown(_)));
        let sqs = br#"{"Records":[{"messageId":"m","body":"{}","eventSource":"aws:sqs"}]}"#;
        assert!(matches!(classify(Path::new("q.json"), sqs), InputFile::Sqs(b) if b.records.len() == 1));
        let cfn = br#"{"RequestType":"Create","ResponseURL":"http://127.0.0.1/x"}"#;
        assert!(matches!(
            classify(Path::new("c.json"), cfn),
            InputFile::CustomResource(_)
        ));
        let single = br#"{"EventType":"LOGIN"}"#;
        assert!(matches!(classify(Path::new("e.json"), single), InputFile::Kinesis(b) if b.records.len() == 1));
    }
}
