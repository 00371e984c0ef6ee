//! Reconciliation of the ASPR with the stream basis of the agent events, in-memory ports: an
//! agent's events go through agent-events (pieces in the feed, the open segment on its row),
//! then an ASPR of the same interval through historical-reports, which compares each agent's
//! row with the stream-basis agent_interval record: the same time agrees (within the
//! tolerance), a report that says otherwise drifts, per field.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_core::Mapping;
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource, MemoryStateStore};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings as AgentSettings, handle_batch};
use connect_wfm_handlers::reports::{
    AgentReconciler, BatchOutcome, Ports, Settings, SqsBatch, StreamAgentReconciler, handle_messages,
};
use connect_wfm_handlers::sweep::SweepSettings;
use serde_json::{Value, json};

const BUCKET: &str = "amazon-connect-reports";
const KEY: &str = "connect/acme/Reports/wfm/ASPR-2026-11-21T10:15:00Z.csv";
const INSTANCE: &str = "i-1";

fn t(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().unwrap()
}

fn event(id: &str, clock: &str, event_type: &str, status: &str) -> Value {
    json!({
        "AWSAccountId": "123456789012",
        "AgentARN": format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}/agent/a"),
        "InstanceARN": format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}"),
        "EventId": id,
        "EventTimestamp": format!("2026-11-21T{clock}Z"),
        "EventType": event_type,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": status, "Type": if status == "Available" { "ROUTABLE" } else { "CUSTOM" },
                             "StartTimestamp": format!("2026-11-21T{clock}Z") },
            "Configuration": { "Username": "login-a" },
            "Contacts": []
        }
    })
}

/// Agent a: Available from 10:01, Break 10:05 to 10:12, Available again; the stream basis of
/// 10:00 is login 840 s, not ready 420 s, idle 420 s, on contact 0.
async fn agent_day(states: &MemoryStateStore, feed: &MemoryFeedSink) {
    let events = [
        event("e1", "10:01:00", "STATE_CHANGE", "Available"),
        event("e2", "10:05:00", "STATE_CHANGE", "Break"),
        event("e3", "10:08:00", "HEART_BEAT", "Break"),
        event("e4", "10:12:00", "STATE_CHANGE", "Available"),
    ];
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = format!("{:056}", i + 1);
            json!({ "eventID": format!("shardId-000000000000:{seq}"), "kinesis": { "sequenceNumber": seq,
                "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap()) } })
        })
        .collect();
    let outcome = handle_batch(
        &KinesisBatch::from_records(records),
        states,
        feed,
        &AgentSettings::default(),
        t("10:12:01"),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
}

async fn run_aspr(csv: &str, reconciler: Arc<dyn AgentReconciler>, states: &MemoryStateStore) -> BatchOutcome {
    let objects = MemoryObjectSource::default();
    objects.insert(BUCKET, KEY, csv.as_bytes().to_vec());
    let (claims, sink) = (MemoryClaimStore::default(), MemoryFeedSink::default());
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states,
        sink: &sink,
    };
    let mapping = Mapping::from_json(br#"{"instances": {"acme": "i-1"}}"#, "test").unwrap();
    let settings = Settings {
        instances: Arc::new(mapping.instances),
        agent_reconciler: Some(reconciler),
        ..Settings::default()
    };
    let body = json!({ "Records": [{ "eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": KEY, "eTag": "etag-1" } } }] });
    let batch = SqsBatch::from_records(vec![
        json!({ "messageId": "m1", "body": body.to_string(), "eventSource": "aws:sqs" }),
    ]);
    let outcome = handle_messages(&batch, &ports, &settings, t("10:31:00")).await;
    assert!(outcome.response.batch_item_failures.is_empty(), "{outcome:?}");
    outcome
}

fn reconciler(states: MemoryStateStore, feed: MemoryFeedSink) -> Arc<dyn AgentReconciler> {
    let mut settings = SweepSettings::default();
    settings.stream.stream = StreamSettings {
        instances: [("acme".to_owned(), INSTANCE.to_owned())].into(),
        ..StreamSettings::default()
    };
    Arc::new(StreamAgentReconciler {
        states,
        activity: feed,
        settings,
    })
}

const HEADER: &str =
    "StartInterval,EndInterval,Agent,Online time,Non-Productive Time,Agent idle time,Agent on contact time";

#[tokio::test]
async fn an_aspr_that_matches_the_stream_agrees_and_one_that_does_not_drifts_per_field() {
    // The agent-state store is shared: the report looks up agent ids in it, the reconciler
    // reads the open segments from it.
    let (states, feed) = (MemoryStateStore::default(), MemoryFeedSink::default());
    agent_day(&states, &feed).await;
    let states_copy = MemoryStateStore::default();
    for state in states.all() {
        use connect_wfm_core::ports::AgentStateStore as _;
        states_copy.commit(&state).await.unwrap();
    }
    let reconciler = reconciler(states_copy, feed);

    // Connect's numbers one second off (its own rounding): agrees.
    let same = format!("{HEADER}\n2026-11-21T10:00:00Z,2026-11-21T10:15:00Z,login-a,841,419,421,0\n");
    let outcome = run_aspr(&same, Arc::clone(&reconciler), &states).await;
    let r = &outcome.reconciliation;
    assert_eq!((r.agents_reconciled, r.agents_drifting), (1, 0), "{r:?}");

    // Not-ready 300 s where the stream has 420 s, idle 540 s where it has 420: drift.
    let other = format!("{HEADER}\n2026-11-21T10:00:00Z,2026-11-21T10:15:00Z,login-a,840,300,540,0\n");
    let outcome = run_aspr(&other, reconciler, &states).await;
    let r = &outcome.reconciliation;
    assert_eq!((r.agents_reconciled, r.agents_drifting), (1, 1), "{r:?}");
    assert_eq!(r.largest_agent_drift(), "idle_time_s=120,not_ready_time_s=120");
}
