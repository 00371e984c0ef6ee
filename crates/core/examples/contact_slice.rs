//! Writes the replayable stream-basis scenario of events/ from the simulator: a slice of a
//! contact center (answered, abandoned, callbacks, queue and agent transfers, contacts waiting
//! at interval ends, repeated events, stale CTR copies) as
//! - `events/contact-events-slice.jsonl` (EventBridge contact events, JSON Lines, as emitted),
//! - `events/contact-records-slice.jsonl` (the CTRs, JSON Lines),
//! - `events/contact-events-sqs.json` (the first ten events as the SQS Lambda event the
//!   function gets) and `events/contact-records-kinesis.json` (the first five CTRs as a Kinesis
//!   Lambda event),
//! - the same CTRs as the two objects Firehose would write for them in a bucket
//!   (`events/reports/<bucket>/ctr/2026/11/20/10/...`: records back to back, the second object
//!   gzip-compressed) and `events/sqs-ctr-files.json`, the SQS Lambda event of their S3
//!   notifications.
//!
//! Run from the repository root: `cargo run -p connect-wfm-core --features sim --example contact_slice`.

use std::io::Write as _;

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
    // Firehose's objects: records back to back, the default `YYYY/MM/DD/HH/` layout under the
    // destination's prefix, the second one compressed.
    let bucket = "connect-wfm-ctr-123456789012";
    let half = slice.records.len() / 2;
    let mut notifications = Vec::new();
    for (i, (records, name)) in [
        (&slice.records[..half], "connect-ctr-1-2026-11-20-10-31-00-4f1c2a7e"),
        (&slice.records[half..], "connect-ctr-1-2026-11-20-10-46-00-9b3d5e10.gz"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("ctr/2026/11/20/10/{name}");
        let mut body = records.concat().into_bytes();
        if name.ends_with(".gz") {
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(&body)?;
            body = gzip.finish()?;
        }
        let path = std::path::Path::new("events/reports").join(bucket).join(&key);
        std::fs::create_dir_all(path.parent().expect("a key has a folder"))?;
        std::fs::write(&path, &body)?;
        let etag = format!("{:032x}", u128::from(fnv(&body)) * 0x1_0000_0001);
        let notification = json!({ "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": format!("2026-11-20T10:{}:02.118Z", 31 + 15 * i), "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0", "configurationId": "connect-wfm-contact-records",
                "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") },
                "object": { "key": key, "size": body.len(), "eTag": etag }
            }
        }]});
        notifications.push(json!({
            "messageId": format!("7c2d9e4b-0000-4000-8000-{i:012}"),
            "receiptHandle": "AQEB-replay",
            "body": notification.to_string(),
            "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1795170660000" },
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:connect-wfm-contact-record-files",
            "awsRegion": "us-east-1"
        }));
    }
    let sqs = serde_json::to_string_pretty(&json!({ "Records": notifications }))?;
    std::fs::write("events/sqs-ctr-files.json", sqs + "\n")?;
    eprintln!(
        "{} events, {} contact records, {} contacts",
        slice.events.len(),
        slice.records.len(),
        slice.contacts.len()
    );
    Ok(())
}

/// FNV-1a of the bytes: a stable stand-in for an object's ETag.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
