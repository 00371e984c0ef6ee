//! Writes the replayable stream-basis scenario of events/ from the simulator: a slice of a
//! contact center (answered, abandoned, callbacks, queue and agent transfers, contacts waiting
//! at interval ends, repeated events, stale CTR copies) as
//! - `events/contact-events-slice.jsonl` (EventBridge contact events, JSON Lines, as emitted),
//! - `events/contact-records-slice.jsonl` (the CTRs, JSON Lines),
//! - `events/contact-events-sqs.json` (the first ten events as the SQS Lambda event the
//!   function gets) and `events/contact-records-kinesis.json` (the first five CTRs as a Kinesis
//!   Lambda event).
//!
//! Run from the repository root: `cargo run -p connect-wfm-core --features sim --example contact_slice`.

use base64::Engine as _;
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use serde_json::json;

fn main() -> std::io::Result<()> {
    let spec = SliceSpec {
        seed: 12,
        intervals: 4,
        contacts: 40,
        ..SliceSpec::default()
    };
    let slice = simulate(&spec);
    let lines = |items: &[String]| items.iter().map(|s| format!("{s}\n")).collect::<String>();
    std::fs::write("events/contact-events-slice.jsonl", lines(&slice.events))?;
    std::fs::write("events/contact-records-slice.jsonl", lines(&slice.records))?;
    let messages: Vec<_> = slice
        .events
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("0e6f5a1c-0000-4000-8000-{i:012}"),
                "receiptHandle": "AQEB-replay",
                "body": body,
                "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1795168800000" },
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:connect-wfm-contact-events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    let sqs = serde_json::to_string_pretty(&json!({ "Records": messages }))?;
    std::fs::write("events/contact-events-sqs.json", sqs + "\n")?;
    let records: Vec<_> = slice
        .records
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, ctr)| {
            let seq = format!("4959033827149025660855969253836157109592157598913658{i:04}");
            json!({
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "partitionKey": "ctr",
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(ctr),
                    "approximateArrivalTimestamp": 1795168800.0
                }
            })
        })
        .collect();
    let kinesis = serde_json::to_string_pretty(&json!({ "Records": records }))?;
    std::fs::write("events/contact-records-kinesis.json", kinesis + "\n")?;
    eprintln!(
        "{} events, {} contact records, {} contacts",
        slice.events.len(),
        slice.records.len(),
        slice.contacts.len()
    );
    Ok(())
}
