//! The sweep closes stream-basis intervals (contact-events' `close_intervals`) at its clock, and
//! its two parts fail apart: a contact store that is down never stops silence detection, an
//! agent-state store that is down never stops a backlog record.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_core::contact::store::MemoryContactStore;
use connect_wfm_core::contact::store::{
    ContactStore, IntervalLegs, LegFiling, LegWrite, Loaded, StoredLeg, WaitingHint,
};
use connect_wfm_core::contact::{IntervalKey, LegKey, QueueNames};
use connect_wfm_core::faults::{Fault, FaultPlan, FaultyStateStore};
use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_core::ports::PortError;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use connect_wfm_handlers::contacts::{Clock, SqsBatch, handle_sqs};
use connect_wfm_handlers::sweep::{SweepSettings, handle_sweep};
use serde_json::{Value, json};

const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/i-1";
const BACKLOG_KEY: &str = "queue_interval/2026-11-21/stream/i-1/q1/1000.json";

fn t(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().unwrap()
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// Agent `a` of instance i-1 Available at `clock`.
fn agent_batch(clock: &str) -> KinesisBatch {
    let event = json!({
        "AWSAccountId": "123456789012",
        "AgentARN": format!("{INSTANCE}/agent/a"),
        "InstanceARN": INSTANCE,
        "EventId": format!("a-{clock}"),
        "EventTimestamp": format!("2026-11-21T{clock}Z"),
        "EventType": "STATE_CHANGE",
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": "Available", "Type": "ROUTABLE", "StartTimestamp": format!("2026-11-21T{clock}Z") },
            "Configuration": { "Username": "login-a" },
            "Contacts": []
        }
    });
    let seq = format!("{:056}", SEQ.fetch_add(1, Ordering::Relaxed));
    KinesisBatch::from_records([json!({
        "eventID": format!("shardId-000000000000:{seq}"),
        "kinesis": { "sequenceNumber": seq, "partitionKey": "pk",
                     "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&event).unwrap()),
                     "approximateArrivalTimestamp": 1795165200.5 }
    })])
}

/// Contact `c1` enqueued in q1 at 10:05 and still waiting: the only activity of its queue.
fn waiting_contact() -> SqsBatch {
    let body = json!({
        "id": "c1-QUEUED", "time": "2026-11-21T10:05:00.000Z", "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "detail": {
            "eventType": "QUEUED", "contactId": "c1", "channel": "VOICE", "initiationMethod": "INBOUND",
            "initiationTimestamp": "2026-11-21T10:04:50.000Z", "instanceArn": INSTANCE,
            "queueInfo": { "queueArn": format!("{INSTANCE}/queue/q1"), "enqueueTimestamp": "2026-11-21T10:05:00.000Z" }
        }
    });
    SqsBatch::from_records(vec![
        json!({ "messageId": "m1", "body": body.to_string(), "eventSource": "aws:sqs" }),
    ])
}

/// An agent silent since 10:00 and a queue whose only contact waits since 10:05.
async fn world() -> (MemoryStateStore, MemoryContactStore, MemoryFeedSink) {
    let (states, contacts, sink) = (
        MemoryStateStore::default(),
        MemoryContactStore::default(),
        MemoryFeedSink::default(),
    );
    handle_batch(
        &agent_batch("10:00:00"),
        &states,
        &sink,
        &Settings::default(),
        t("10:00:01"),
    )
    .await;
    let queued = handle_sqs(
        &waiting_contact(),
        &contacts,
        &sink,
        &connect_wfm_handlers::contacts::Settings::default(),
        Clock::At(t("10:05:01")),
        t("10:05:01"),
    )
    .await;
    assert!(queued.response.batch_item_failures.is_empty());
    assert!(
        sink.lines("queue_interval/").is_empty(),
        "a waiting contact alone has no record before the end"
    );
    (states, contacts, sink)
}

fn unknowns(sink: &MemoryFeedSink) -> usize {
    sink.lines("agent_state/")
        .iter()
        .filter(|r| r["event_type"] == "SILENCE")
        .count()
}

fn backlog_record(sink: &MemoryFeedSink) -> Option<Value> {
    sink.lines("queue_interval/")
        .into_iter()
        .find(|r| r["interval_start"] == "2026-11-21T10:00:00Z")
}

#[tokio::test]
async fn the_sweep_writes_the_backlog_of_a_queue_with_only_waiting_contacts_within_a_minute() {
    let (states, contacts, sink) = world().await;
    // Before the interval's end: nothing to close; the same run judges the agents (a, silent
    // since 10:00, is UNKNOWN).
    let before = handle_sweep(
        &states,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:14:50"),
    )
    .await;
    assert_eq!(
        (before.interval_records, before.silent_agents, before.failures),
        (0, 1, 0)
    );
    assert!(backlog_record(&sink).is_none());
    assert_eq!(unknowns(&sink), 1);

    // The first sweep after 10:15 writes the 10:00 record with the waiting contact as backlog.
    let stats = handle_sweep(
        &states,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!(
        (stats.intervals_closed, stats.interval_records, stats.failures),
        (1, 1, 0)
    );
    let record = backlog_record(&sink).expect("the backlog record");
    assert_eq!(record["basis"], "stream");
    assert_eq!(record["queue_id"], "q1");
    assert_eq!(record["backlog"], 1);
    assert_eq!(
        record["backlog_not_expired"], 0,
        "waiting 600 s is more than the 20 s SLA"
    );
    assert_eq!(record["backlog_expired"], 1);
    assert_eq!(record["active"], true);
    assert!(
        sink.keys().iter().any(|k| k == BACKLOG_KEY),
        "{BACKLOG_KEY} in {:?}",
        sink.keys()
    );
    assert_eq!((stats.silent_agents, unknowns(&sink)), (0, 1), "a is UNKNOWN already");

    // The next sweep is still within the 2-minute window (a failed sweep is made good by the
    // next): it writes the same object with the same record; the one after closes nothing.
    let again = handle_sweep(
        &states,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:16:10"),
    )
    .await;
    assert_eq!((again.interval_records, again.silent_agents), (1, 0));
    assert_eq!(backlog_record(&sink), Some(record));
    let later = handle_sweep(
        &states,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:17:30"),
    )
    .await;
    assert_eq!((later.intervals_closed, later.interval_records), (0, 0));
}

#[tokio::test]
async fn without_a_contact_store_the_sweep_closes_nothing() {
    let (states, contacts, sink) = world().await;
    let stats = handle_sweep(
        &states,
        None::<&MemoryContactStore>,
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!((stats.intervals_closed, stats.silent_agents, stats.failures), (0, 1, 0));
    assert!(backlog_record(&sink).is_none());
    // The store had an interval to close: the same sweep given the store writes its record, so
    // the sweep above closed nothing because it had no store, not because nothing was due.
    let with_store = handle_sweep(
        &states,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!((with_store.intervals_closed, with_store.interval_records), (1, 1));
    assert!(backlog_record(&sink).is_some());
}

#[tokio::test]
async fn a_contact_store_that_is_down_does_not_stop_silence_detection() {
    let (states, _contacts, sink) = world().await;
    let stats = handle_sweep(
        &states,
        Some(&DownContactStore),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!(
        stats.silent_agents, 1,
        "UNKNOWN is written whatever the contact table does"
    );
    assert_eq!(unknowns(&sink), 1);
    assert_eq!(
        stats.failures, 1,
        "the failed closing is counted: the run fails and is retried"
    );
    assert!(backlog_record(&sink).is_none());
}

#[tokio::test]
async fn an_agent_state_store_that_is_down_does_not_stop_the_backlog_record() {
    let (states, contacts, sink) = world().await;
    // Every agent-state call fails, the progress read first.
    let plan = FaultPlan::new(std::iter::repeat_n(Some(Fault::Throttle), 100));
    let down = FaultyStateStore {
        inner: &states,
        plan: &plan,
    };
    let stats = handle_sweep(
        &down,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!((stats.intervals_closed, stats.interval_records), (1, 1));
    assert_eq!(stats.failures, 1, "the progress that could not be read");
    assert_eq!(backlog_record(&sink).unwrap()["backlog"], 1);
    assert_eq!(unknowns(&sink), 0);

    // Healed, the next sweep judges the agents.
    plan.heal();
    let next = handle_sweep(
        &down,
        Some(&contacts),
        &sink,
        &sink,
        &SweepSettings::default(),
        t("10:16:10"),
    )
    .await;
    assert_eq!((next.silent_agents, next.failures), (1, 0));
}

/// A contact table that answers nothing (throttled, or missing).
struct DownContactStore;

fn down() -> PortError {
    PortError::new("contact table", "injected: unavailable", true)
}

impl ContactStore for DownContactStore {
    async fn load(&self, _: &[LegKey], _: &[(String, String)], _: bool) -> Result<Loaded, PortError> {
        Err(down())
    }
    async fn store_leg(&self, _: &StoredLeg, _: Option<u64>) -> Result<LegWrite, PortError> {
        Err(down())
    }
    async fn file(&self, _: &[LegFiling]) -> Result<(), PortError> {
        Err(down())
    }
    async fn mark(&self, _: &[IntervalKey], _: &[IntervalKey]) -> Result<(), PortError> {
        Err(down())
    }
    async fn interval_legs(&self, _: &IntervalKey) -> Result<IntervalLegs, PortError> {
        Err(down())
    }
    async fn interval_filings(&self, _: &IntervalKey) -> Result<usize, PortError> {
        Err(down())
    }
    async fn waiting(&self) -> Result<Vec<WaitingHint>, PortError> {
        Err(down())
    }
    async fn forget_waiting(&self, _: &[String]) -> Result<(), PortError> {
        Err(down())
    }
    async fn queue_names(&self, _: &[(String, String)]) -> Result<QueueNames, PortError> {
        Err(down())
    }
    async fn queue_ids_by_name(&self, _: &str, _: &[String]) -> Result<Vec<(String, String)>, PortError> {
        Err(down())
    }
    async fn learn_queue_names(&self, _: &QueueNames) -> Result<(), PortError> {
        Err(down())
    }
    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        Err(down())
    }
    async fn closed(&self, _: &[IntervalKey]) -> Result<(), PortError> {
        Err(down())
    }
    async fn unnamed(&self, _: &str, _: &str) -> Result<Vec<IntervalKey>, PortError> {
        Err(down())
    }
    async fn named(&self, _: &[IntervalKey]) -> Result<(), PortError> {
        Err(down())
    }
    async fn advance_progress(&self, _: DateTime<Utc>) -> Result<(), PortError> {
        Err(down())
    }
    async fn progress(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Err(down())
    }
}
