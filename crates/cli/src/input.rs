//! What kind of input a replayed file is, and the records it holds.

use std::borrow::Cow;
use std::path::Path;

use base64::Engine as _;
use connect_wfm_core::contact::looks_like_ctr_file;
use connect_wfm_handlers::agent_events::KinesisBatch;
use connect_wfm_handlers::input::s3::Notification;
use connect_wfm_handlers::reports::SqsBatch;
use serde_json::{Map, Value, json};

/// The shapes of file `replay` reads, for the message of a file that is none of them.
pub const ACCEPTED_SHAPES: &str = "a Lambda event (Kinesis or SQS), a CloudFormation custom-resource request, \
     one JSON record (pretty-printed or not), JSON records back to back (as Firehose writes them), JSON Lines, \
     or a JSON array of records";

/// A batch of a file given to `connect-wfm replay`.
#[derive(Debug)]
pub enum InputFile {
    /// A Kinesis Lambda event, or agent events wrapped into one.
    Kinesis(KinesisBatch),
    /// An SQS Lambda event (S3 notifications of reports or of contact-record files).
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

/// The messages of an SQS event that name contact-record files, and the others (reports, or
/// messages that are no notification, which historical-reports fails as it does in AWS). A
/// message names contact-record files when every object it names is one by content
/// ([`looks_like_ctr_file`]: JSON contact records, gzip or not), read from
/// `objects/<bucket>/<key>`; a missing object is left to historical-reports, which names it.
pub fn split_ctr_file_messages(batch: SqsBatch, objects: &Path) -> (SqsBatch, SqsBatch) {
    let (files, others) = batch.records.into_iter().partition(|message| {
        let Ok(Notification::Created(created)) = message.body().map_or_else(
            |e| Err(e.to_owned()),
            connect_wfm_handlers::input::s3::parse_notification,
        ) else {
            return false;
        };
        !created.is_empty()
            && created.iter().all(|object| {
                std::fs::read(objects.join(&object.bucket).join(&object.key)).is_ok_and(|b| looks_like_ctr_file(&b))
            })
    });
    (SqsBatch { records: files }, SqsBatch { records: others })
}

/// What one JSON record is, by content.
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

/// Tells Lambda events and files of records apart, by content.
///
/// A file holding one JSON object with `Records` is a Lambda event: Kinesis (of agent events,
/// or of contact records when its first record is one) or SQS (of S3 notifications, or of
/// contact events when its first message is one); one with `RequestType` is a CloudFormation
/// custom-resource request. Any other file is read as records — agent events, contact events
/// (`detail-type`) and contact records (`ContactId`) — in one of the [`ACCEPTED_SHAPES`]: one
/// record, records back to back with or without white space between them (Firehose's archives,
/// JSON Lines), or a JSON array of records. The records are wrapped into the Lambda events of
/// their functions (shard `file-<name>`, sequence number = the record's position, see
/// [`Record`]) so they run through the same handlers. One file may give several batches, in
/// that order: agent events, contact events, CTRs.
///
/// A bad record inside a readable file is kept and goes to agent-events, which rejects it by
/// file and position: a line of JSON Lines that does not read, a value that is not an object,
/// the unreadable rest of records back to back. A file none of whose records is a JSON object
/// (text, binary data, a bare number) is [`InputFile::Unknown`], naming the shapes accepted.
pub fn classify(path: &Path, bytes: &[u8]) -> Vec<InputFile> {
    let file = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let shard = format!("file-{file}");
    // Some editors and exports prepend a UTF-8 BOM; it is not part of the JSON text.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match read_file(bytes) {
        Ok(FileContent::Event(object)) => vec![lambda_event(object, bytes)],
        Ok(FileContent::Records(records)) => wrap_records(&shard, records),
        Err(why) => vec![InputFile::Unknown(format!(
            "not a file of JSON records ({why}); accepted: {ACCEPTED_SHAPES}"
        ))],
    }
}

/// A Lambda event or custom-resource request (an object with `Records` or `RequestType`), read
/// again from the bytes: a batch borrows each record from them while reading it.
fn lambda_event(object: Map<String, Value>, bytes: &[u8]) -> InputFile {
    match object.get("Records") {
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
        None => InputFile::CustomResource(Value::Object(object)),
    }
}

/// What a file holds as a whole.
enum FileContent<'a> {
    /// A Lambda event or a custom-resource request.
    Event(Map<String, Value>),
    /// Bare records.
    Records(Vec<Record<'a>>),
}

/// One bare record of a file.
struct Record<'a> {
    /// Where it is in the file: the line it starts on when every record starts on a line after
    /// the one before (JSON Lines, pretty-printed records), else its number (records back to
    /// back on one line, an array's elements).
    position: usize,
    /// Its bytes as written (an array's elements written again from the values read).
    data: Cow<'a, [u8]>,
    content: Content,
    /// Whether it is a JSON object (what every record must be).
    is_object: bool,
}

/// A JSON value read from the file, with where it starts and the bytes it was read from.
struct Parsed<'a> {
    start: usize,
    raw: &'a [u8],
    value: Value,
}

/// Reads the file as JSON values back to back (one, several with or without white space between
/// them, JSON Lines); falls back to lines, then to the values read before a break, when that
/// fails. An error when the file holds records none of which is a JSON object.
fn read_file(bytes: &[u8]) -> Result<FileContent<'_>, String> {
    let (values, broken) = values_back_to_back(bytes);
    let records = match broken {
        Some((rest, error)) => salvage(bytes, values, rest).ok_or_else(|| error.to_string())?,
        None => match <[Parsed<'_>; 1]>::try_from(values) {
            Ok([only]) => match only.value {
                Value::Object(object) if object.contains_key("Records") || object.contains_key("RequestType") => {
                    return Ok(FileContent::Event(object));
                }
                Value::Array(elements) => array_records(elements),
                value => stream_records(bytes, vec![Parsed { value, ..only }]),
            },
            Err(values) => stream_records(bytes, values),
        },
    };
    if !records.is_empty() && !records.iter().any(|r| r.is_object) {
        let n = records.len();
        let plural = if n == 1 { "" } else { "s" };
        return Err(format!("none of its {n} record{plural} is a JSON object"));
    }
    Ok(FileContent::Records(records))
}

/// The JSON values at the start of the file, back to back, with the offset where reading
/// stopped and why when it did not reach the end.
fn values_back_to_back(bytes: &[u8]) -> (Vec<Parsed<'_>>, Option<(usize, serde_json::Error)>) {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let mut values = Vec::new();
    let mut end = 0;
    while let Some(next) = stream.next() {
        match next {
            Ok(value) => {
                let after = stream.byte_offset();
                // Only JSON white space comes before a value, after the previous one.
                let raw = bytes[end..after].trim_ascii_start();
                values.push(Parsed {
                    start: after - raw.len(),
                    raw,
                    value,
                });
                end = after;
            }
            Err(error) => return (values, Some((end, error))),
        }
    }
    (values, None)
}

/// Records of values read from the file, with their bytes as written.
fn stream_records<'a>(bytes: &'a [u8], values: Vec<Parsed<'a>>) -> Vec<Record<'a>> {
    let starts: Vec<usize> = values.iter().map(|p| p.start).collect();
    records_at(values, positions(bytes, &starts))
}

fn records_at(values: Vec<Parsed<'_>>, positions: Vec<usize>) -> Vec<Record<'_>> {
    values
        .into_iter()
        .zip(positions)
        .map(|(parsed, position)| Record {
            position,
            data: Cow::Borrowed(parsed.raw),
            content: content(&parsed.value),
            is_object: parsed.value.is_object(),
        })
        .collect()
}

/// The elements of a JSON array of records, numbered from 1.
fn array_records(elements: Vec<Value>) -> Vec<Record<'static>> {
    elements
        .into_iter()
        .enumerate()
        .map(|(i, value)| Record {
            position: i + 1,
            data: Cow::Owned(serde_json::to_vec(&value).expect("a JSON value serialises")),
            content: content(&value),
            is_object: value.is_object(),
        })
        .collect()
}

/// The records of a file that does not read to its end as JSON values: its lines, when one of
/// them is a JSON object (JSON Lines with bad lines: each bad line is a bad record); else the
/// values read before the break and the unread rest as one bad record (records back to back,
/// one of them broken); `None` when neither holds a JSON object.
fn salvage<'a>(bytes: &'a [u8], read: Vec<Parsed<'a>>, rest: usize) -> Option<Vec<Record<'a>>> {
    let lines = json_lines(bytes);
    if lines.iter().any(|r| r.is_object) {
        return Some(lines);
    }
    if !read.iter().any(|p| p.value.is_object()) {
        return None;
    }
    let tail = bytes[rest..].trim_ascii();
    let tail_start = bytes.len() - bytes[rest..].trim_ascii_start().len();
    let mut starts: Vec<usize> = read.iter().map(|p| p.start).collect();
    starts.push(tail_start);
    let mut positions = positions(bytes, &starts);
    let tail_position = positions.pop().unwrap_or_default();
    let mut records = records_at(read, positions);
    records.push(Record {
        position: tail_position,
        data: Cow::Borrowed(tail),
        content: Content::Other,
        is_object: false,
    });
    Some(records)
}

/// Every line that is not blank, numbered by its line in the file.
fn json_lines(bytes: &[u8]) -> Vec<Record<'_>> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(position, line)| {
            let value = serde_json::from_slice::<Value>(line).ok();
            Record {
                position,
                data: Cow::Borrowed(line),
                content: value.as_ref().map_or(Content::Other, content),
                is_object: value.as_ref().is_some_and(Value::is_object),
            }
        })
        .collect()
}

/// The position of each record starting at these offsets: its line when every record starts on
/// a line after the one before, else its number from 1.
fn positions(bytes: &[u8], starts: &[usize]) -> Vec<usize> {
    let mut lines = Vec::with_capacity(starts.len());
    let (mut line, mut counted) = (1, 0);
    for &start in starts {
        line += bytes[counted..start].iter().filter(|&&b| b == b'\n').count();
        counted = start;
        lines.push(line);
    }
    if lines.windows(2).all(|pair| pair[0] < pair[1]) {
        lines
    } else {
        (1..=starts.len()).collect()
    }
}

/// Wraps bare records, by content, into the Lambda events of their functions.
fn wrap_records(shard: &str, records: Vec<Record<'_>>) -> Vec<InputFile> {
    let (mut agent, mut events, mut ctrs) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        let seq = format!("{:010}", record.position);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&record.data);
        match record.content {
            Content::ContactEvent => events.push(json!({
                "messageId": format!("{shard}:{seq}"),
                "body": String::from_utf8_lossy(&record.data),
                "eventSource": "aws:sqs"
            })),
            Content::ContactRecord => ctrs.push(json!({
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
    if !agent.is_empty() || (events.is_empty() && ctrs.is_empty()) {
        batches.push(InputFile::Kinesis(KinesisBatch::from_records(agent)));
    }
    if !events.is_empty() {
        batches.push(InputFile::ContactEvents(
            connect_wfm_handlers::contacts::SqsBatch::from_records(events),
        ));
    }
    if !ctrs.is_empty() {
        batches.push(InputFile::ContactRecords(
            connect_wfm_handlers::contacts::KinesisBatch::from_records(ctrs),
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

    /// The data of each record of the one Kinesis batch of a file, as JSON, with its sequence.
    fn agent_records(path: &str, bytes: &[u8]) -> Vec<(String, Value)> {
        let Some(InputFile::Kinesis(batch)) = classify(Path::new(path), bytes).pop() else {
            panic!("expected a Kinesis batch")
        };
        batch
            .records
            .iter()
            .map(|r| {
                let data = r.data.as_deref().unwrap();
                let value = serde_json::from_slice(data).unwrap_or(Value::Null);
                (r.sequence_number.clone().unwrap(), value)
            })
            .collect()
    }

    fn values(records: &[(String, Value)]) -> Vec<Value> {
        records.iter().map(|(_, v)| v.clone()).collect()
    }

    fn sequences(records: &[(String, Value)]) -> Vec<usize> {
        records.iter().map(|(s, _)| s.parse().unwrap()).collect()
    }

    fn three_events() -> Vec<Value> {
        (1..=3)
            .map(|i| json!({"EventId": format!("e-{i}"), "EventType": "HEART_BEAT", "Nested": {"a": [i]}}))
            .collect()
    }

    #[test]
    fn back_to_back_json_lines_an_array_and_pretty_records_read_the_same() {
        let events = three_events();
        let compact: Vec<String> = events.iter().map(Value::to_string).collect();
        let pretty: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string_pretty(e).unwrap())
            .collect();
        let shapes = [
            ("back to back", compact.concat()),
            ("JSON Lines", compact.iter().map(|c| format!("{c}\r\n")).collect()),
            ("spaced", format!("  {}  ", compact.join(" \n\n "))),
            ("array", serde_json::to_string_pretty(&events).unwrap()),
            ("compact array", Value::from(events.clone()).to_string()),
            ("pretty records", pretty.join("\n")),
        ];
        for (shape, text) in shapes {
            let records = agent_records("f.json", text.as_bytes());
            assert_eq!(values(&records), events, "{shape}");
        }
        for (i, one) in pretty.iter().enumerate() {
            assert_eq!(values(&agent_records("p.json", one.as_bytes())), [events[i].clone()]);
        }
    }

    #[test]
    fn positions_are_lines_when_records_start_on_lines_of_their_own_else_numbers() {
        let compact: Vec<String> = three_events().iter().map(Value::to_string).collect();
        let position = |text: String| sequences(&agent_records("f.json", text.as_bytes()));
        assert_eq!(position(compact.concat()), [1, 2, 3]);
        assert_eq!(
            position(format!("{}\n\n{}\n{}\n", compact[0], compact[1], compact[2])),
            [1, 3, 4]
        );
        assert_eq!(
            position(format!("{}{}\n{}", compact[0], compact[1], compact[2])),
            [1, 2, 3]
        );
        let pretty: Vec<String> = three_events()
            .iter()
            .map(|e| serde_json::to_string_pretty(e).unwrap())
            .collect();
        assert_eq!(position(pretty.join("\n")), [1, 10, 19]);
        assert_eq!(
            position(serde_json::to_string_pretty(&three_events()).unwrap()),
            [1, 2, 3]
        );
    }

    #[test]
    fn the_unreadable_rest_of_records_back_to_back_is_one_bad_record() {
        let compact: Vec<String> = three_events().iter().map(Value::to_string).collect();
        let cut = format!("{}{} {{\"EventId\": \"e-4\", \"Ev", compact[0], compact[1]);
        let Some(InputFile::Kinesis(batch)) = classify(Path::new("cut.json"), cut.as_bytes()).pop() else {
            panic!("expected a batch")
        };
        let data: Vec<&[u8]> = batch.records.iter().map(|r| r.data.as_deref().unwrap()).collect();
        assert_eq!(
            data,
            [
                compact[0].as_bytes(),
                compact[1].as_bytes(),
                b"{\"EventId\": \"e-4\", \"Ev"
            ]
        );
        assert_eq!(batch.records[2].sequence_number.as_deref(), Some("0000000003"));
        assert_eq!(batch.records[2].shard, "file-cut.json");
    }

    #[test]
    fn a_file_without_any_json_object_is_refused_naming_the_accepted_shapes() {
        for (what, bytes) in [
            ("text", &b"hello, agent stream\nsecond line\n"[..]),
            ("binary", b"\x00\x01\xff\xfe garbage"),
            ("numbers", b"[1, 2]"),
            ("a string", b"\"hi\""),
            ("numbers back to back", b"1 2 3"),
            ("a broken object", b"{\"EventId\": "),
        ] {
            let batches = classify(Path::new("g.json"), bytes);
            let [InputFile::Unknown(reason)] = batches.as_slice() else {
                panic!("{what}: {batches:?}")
            };
            assert!(reason.starts_with("not a file of JSON records ("), "{what}: {reason}");
            assert!(
                reason.ends_with(&format!("; accepted: {ACCEPTED_SHAPES}")),
                "{what}: {reason}"
            );
        }
        // Nothing at all is zero records, not a bad file.
        for empty in [&b""[..], b" \n", b"[]"] {
            assert!(matches!(one("e.json", empty), InputFile::Kinesis(b) if b.records.is_empty()));
        }
    }

    #[test]
    fn a_bom_is_not_part_of_the_json() {
        let event =
            "\u{feff}{\"Records\":[{\"eventID\":\"s:1\",\"kinesis\":{\"sequenceNumber\":\"1\",\"data\":\"e30=\"}}]}";
        assert!(matches!(one("k.json", event.as_bytes()), InputFile::Kinesis(b) if b.records.len() == 1));
        let lines = "\u{feff}{\"EventId\":\"e-1\"}\n{\"EventId\":\"e-2\"}\n";
        assert_eq!(agent_records("l.jsonl", lines.as_bytes()).len(), 2);
    }

    #[test]
    fn a_firehose_archive_of_contact_records_is_one_batch_of_them() {
        let ctr = |i: u32| json!({"ContactId": format!("c-{i}"), "LastUpdateTimestamp": "2026-11-20T10:00:00Z"});
        let archive: String = (1..=3).map(|i| ctr(i).to_string()).collect();
        assert!(matches!(
            one("firehose-archive", archive.as_bytes()),
            InputFile::ContactRecords(b) if b.records.len() == 3
        ));
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
