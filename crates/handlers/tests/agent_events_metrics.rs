//! The batch metrics as CloudWatch receives them: one EMF document per invocation with the
//! counts of the batch and its lag. (Its own test binary: the recorder is process-global.)

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_aws::config::Env;
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use serde_json::{Value, json};

fn record(seq: u64, data: &[u8]) -> Value {
    let seq = format!("{seq:056}");
    json!({ "eventID": format!("shardId-000000000000:{seq}"), "kinesis": {
        "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(data) } })
}

#[tokio::test]
async fn a_batch_writes_its_counts_and_lag_as_emf() {
    let metrics = Metrics::init(
        &Env::from_pairs([("METRICS_NAMESPACE", "connect-wfm/test")]),
        "agent-events",
    )
    .unwrap();
    let event = json!({
        "AgentARN": "arn:aws:connect:us-east-1:1:instance/i-1/agent/a", "InstanceARN": "arn:aws:connect:us-east-1:1:instance/i-1",
        "EventId": "e1", "EventTimestamp": "2026-11-20T10:00:00.000Z", "EventType": "STATE_CHANGE", "Version": "2019-05-25",
        "CurrentAgentSnapshot": { "AgentStatus": { "Name": "Break", "StartTimestamp": "2026-11-20T10:00:00.000Z" }, "Contacts": [] }
    });
    let data = serde_json::to_vec(&event).unwrap();
    let batch = KinesisBatch::from_records([record(1, &data), record(2, b"{not json"), record(3, &data)]);
    let now: DateTime<Utc> = "2026-11-20T10:00:02.500Z".parse().unwrap();
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let outcome = handle_batch(&batch, &store, &sink, &Settings::default(), now).await;
    outcome.stats.record_metrics(now);
    let mut out = Vec::new();
    metrics.flush(&mut out);
    let doc: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "connect-wfm/test");
    assert_eq!(doc["Function"], "agent-events");
    assert_eq!(
        (
            doc["Records"].as_u64(),
            doc["Transitions"].as_u64(),
            doc["Rejects"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
    assert_eq!(doc["Duplicates"].as_u64(), Some(1), "the repeated event");
    assert_eq!(doc["EventLagSeconds"], json!([2.5]));
}
