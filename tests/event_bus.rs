//! The EventBridge output end to end against the AWS emulator: the agent-events and
//! historical-reports handlers with a [`FeedOutputs`] sink (S3 feed, then the bus), a rule
//! routing the bus to an SQS queue, every feed line compared with the events that arrive.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connect_wfm_aws::eventbridge::{EventBusOutput, FeedOutputs, RetryPolicy, SdkEventBus};
use connect_wfm_aws::{DynamoClaimStore, DynamoStateStore, S3FeedSink, S3ObjectSource};
use connect_wfm_core::ports::{AgentStateStore, ClaimOutcome, ClaimStore};
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings as AgentSettings, handle_batch};
use connect_wfm_handlers::reports::{
    ObjectOutcome, Ports, Settings as ReportSettings, SqsBatch, created_notification, handle_messages,
};
use serde_json::{Value, json};

const PREFIX: &str = "connect/acme-support/Reports/";
const REPORTS: [&str; 3] = [
    "wfm/QR-2026-11-20T10:15:00Z.csv",
    "wfm/AQR-2026-11-20T10:15:00Z.csv",
    "wfm/ASPR-2026-11-20T10:15:00Z.csv",
];

fn events_file(name: &str) -> KinesisBatch {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

/// Quick retries: the tests check what is retried, not how long it waits.
fn quick(bus: SdkEventBus) -> EventBusOutput<SdkEventBus> {
    EventBusOutput {
        retry: RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
        ..EventBusOutput::new(bus)
    }
}

/// The emulator, a feed bucket, a bus routed to a queue.
struct Outputs {
    config: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    bus: String,
    queue_url: String,
}

impl Outputs {
    async fn new() -> Self {
        let config = support::sdk_config().await;
        let (s3, sqs) = (support::s3(&config), support::sqs(&config));
        let bucket = support::create_bucket(&s3, "feed").await;
        let (bus, queue_url) = support::bus_to_queue(&support::eventbridge(&config), &sqs, "wfm-bus").await;
        Self {
            config,
            s3,
            sqs,
            bucket,
            bus,
            queue_url,
        }
    }

    /// The sink the functions build when EVENT_BUS_NAME is set, on `eventbridge`.
    fn sink(&self, eventbridge: aws_sdk_eventbridge::Client) -> FeedOutputs<S3FeedSink> {
        FeedOutputs::feed_only(S3FeedSink::new(self.s3.clone(), &self.bucket, "wfm"))
            .with(quick(SdkEventBus::new(eventbridge, &self.bus)))
    }

    fn plain_sink(&self) -> FeedOutputs<S3FeedSink> {
        self.sink(support::eventbridge(&self.config))
    }

    /// Every record line of the feed (rejects aside).
    async fn feed_lines(&self) -> Vec<Value> {
        let mut lines = support::read_json_lines(&self.s3, &self.bucket, "wfm/").await;
        lines.retain(|l| l["kind"] != "reject");
        lines
    }

    async fn events(&self) -> Vec<Value> {
        support::drain_queue(&self.sqs, &self.queue_url).await
    }
}

/// The record's time as the event's `time` (EventBridge keeps whole seconds).
fn event_time_of(record: &Value) -> String {
    let field = ["event_time", "interval_start", "as_of", "since"]
        .into_iter()
        .find(|f| record.get(*f).is_some_and(Value::is_string))
        .unwrap_or_else(|| panic!("a record without a time: {record}"));
    let at: DateTime<Utc> = record[field].as_str().unwrap().parse().unwrap();
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every feed line arrived exactly once as an event whose detail is the line, with source
/// `connect-wfm`, detail-type = kind and time = the record's time.
fn assert_each_line_once(lines: &[Value], events: &[Value]) {
    assert!(!lines.is_empty(), "the feed has records");
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines {
        *want.entry(line.to_string()).or_default() += 1;
    }
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for event in events {
        let detail = &event["detail"];
        assert_eq!(event["source"], "connect-wfm", "{event}");
        assert_eq!(event["detail-type"], detail["kind"], "{event}");
        assert_eq!(event["time"].as_str(), Some(event_time_of(detail).as_str()), "{event}");
        *got.entry(detail.to_string()).or_default() += 1;
    }
    assert_eq!(got, want, "the details on the bus are the feed lines, each once");
}

async fn agent_states(config: &aws_config::SdkConfig) -> DynamoStateStore {
    let dynamodb = support::dynamodb(config);
    let table = support::create_state_table(&dynamodb).await;
    DynamoStateStore::new(dynamodb, table)
}

#[tokio::test]
async fn agent_events_put_every_feed_line_on_the_bus_once_and_a_replay_puts_none() {
    let outputs = Outputs::new().await;
    let states = agent_states(&outputs.config).await;
    // A plan that fails nothing: the client only counts its PutEvents calls.
    let (eventbridge, calls) = support::failing_put_events_eventbridge(&outputs.config, Arc::new(|_, _| vec![]));
    let sink = outputs.sink(eventbridge);
    let batch = events_file("kinesis-all-stories.json");

    let outcome = handle_batch(&batch, &states, &sink, &AgentSettings::default(), now()).await;
    assert_eq!(outcome.failed_from(), None);
    let lines = outputs.feed_lines().await;
    // The transitions, the agent_activity pieces they close and the agents' and queues' profiles.
    let stats = &outcome.stats;
    assert_eq!(
        lines.len(),
        stats.transitions + stats.pieces + stats.profiles + stats.queue_profiles
    );
    assert_each_line_once(&lines, &outputs.events().await);
    // Ten entries a call: one call per started ten lines of each feed object.
    let mut objects = support::read_objects(&outputs.s3, &outputs.bucket, "wfm/agent_state/").await;
    objects.extend(support::read_objects(&outputs.s3, &outputs.bucket, "wfm/agent_activity/").await);
    objects.extend(support::read_objects(&outputs.s3, &outputs.bucket, "wfm/agent_profile/").await);
    objects.extend(support::read_objects(&outputs.s3, &outputs.bucket, "wfm/queue_profile/").await);
    let needed: usize = objects
        .iter()
        .map(|(_, body)| {
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                .div_ceil(10)
        })
        .sum();
    assert_eq!(calls.load(Ordering::SeqCst) as usize, needed, "{} lines", lines.len());

    let again = handle_batch(&batch, &states, &sink, &AgentSettings::default(), now()).await;
    assert_eq!(again.failed_from(), None);
    assert_eq!(again.stats.transitions, 0);
    assert_eq!(outputs.events().await, Vec::<Value>::new(), "a replay puts nothing");
    assert_eq!(
        calls.load(Ordering::SeqCst) as usize,
        needed,
        "a replay calls PutEvents not at all"
    );
    assert_eq!(outputs.feed_lines().await, lines, "a replay writes nothing");
}

#[tokio::test]
async fn agent_events_entries_the_bus_fails_are_put_again_until_taken() {
    let outputs = Outputs::new().await;
    let states = agent_states(&outputs.config).await;
    // The first three calls fail every other entry.
    let plan: support::FailurePlan = Arc::new(|call, n| if call < 3 { (0..n).step_by(2).collect() } else { vec![] });
    let (eventbridge, calls) = support::failing_put_events_eventbridge(&outputs.config, plan);
    let sink = outputs.sink(eventbridge);

    let outcome = handle_batch(
        &events_file("kinesis-all-stories.json"),
        &states,
        &sink,
        &AgentSettings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    assert_eq!(outcome.stats.failed_agents, 0);
    let lines = outputs.feed_lines().await;
    assert_each_line_once(&lines, &outputs.events().await);
    let needed = lines.len().div_ceil(10);
    assert!(
        calls.load(Ordering::SeqCst) as usize > needed,
        "{} PutEvents calls for {} lines: failed entries were not put again",
        calls.load(Ordering::SeqCst),
        lines.len()
    );
}

#[tokio::test]
async fn agent_events_entries_still_failing_fail_the_batch_without_committing() {
    let outputs = Outputs::new().await;
    let states = agent_states(&outputs.config).await;
    let always: support::FailurePlan = Arc::new(|_, n| (0..n).collect());
    let (eventbridge, _) = support::failing_put_events_eventbridge(&outputs.config, always);
    let batch = events_file("kinesis-all-stories.json");

    let outcome = handle_batch(
        &batch,
        &states,
        &outputs.sink(eventbridge),
        &AgentSettings::default(),
        now(),
    )
    .await;
    assert_eq!(
        outcome.failed_from(),
        batch.records[0].sequence_number.as_deref(),
        "Lambda re-delivers the whole batch"
    );
    assert_eq!(outcome.stats.committed, 0);
    let arns: Vec<String> = agent_arns(&batch);
    let loaded = states.load_many(&arns).await.unwrap();
    assert!(
        loaded.states.is_empty() && loaded.unreadable.is_empty(),
        "no agent committed"
    );
    assert_eq!(outputs.events().await, Vec::<Value>::new());

    // Lambda's replay, with the bus healthy again: every line once on the bus, and the feed
    // objects overwritten rather than duplicated.
    let replay = handle_batch(&batch, &states, &outputs.plain_sink(), &AgentSettings::default(), now()).await;
    assert_eq!(replay.failed_from(), None);
    let lines = outputs.feed_lines().await;
    let stats = &replay.stats;
    assert_eq!(
        lines.len(),
        stats.transitions + stats.pieces + stats.profiles + stats.queue_profiles
    );
    assert_each_line_once(&lines, &outputs.events().await);
}

fn agent_arns(batch: &KinesisBatch) -> Vec<String> {
    let mut arns: Vec<String> = batch
        .records
        .iter()
        .filter_map(|r| {
            let event: Value = serde_json::from_slice(r.data.as_ref().ok()?).ok()?;
            Some(event["AgentARN"].as_str()?.to_owned())
        })
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// A reports bucket holding [`REPORTS`], the claim and state tables, and the SQS batch that
/// notifies the reports.
struct Reports {
    claims: DynamoClaimStore,
    states: DynamoStateStore,
    objects: S3ObjectSource,
    batch: SqsBatch,
    claim_ids: Vec<String>,
}

async fn reports(outputs: &Outputs) -> Reports {
    let dynamodb = support::dynamodb(&outputs.config);
    let reports_bucket = support::create_bucket(&outputs.s3, "reports").await;
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let mut records = Vec::new();
    let mut claim_ids = Vec::new();
    for (n, name) in REPORTS.iter().enumerate() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/reports/amazon-connect-reports-123456789012")
            .join(PREFIX)
            .join(name);
        let body = std::fs::read(&path).unwrap();
        let key = format!("{PREFIX}{name}");
        let size = body.len() as i64;
        support::put_object(&outputs.s3, &reports_bucket, &key, body).await;
        let head = outputs
            .s3
            .head_object()
            .bucket(&reports_bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
        claim_ids.push(format!("{reports_bucket}/{key}#{etag}"));
        records.push(json!({
            "messageId": format!("m{n}"),
            "receiptHandle": format!("r{n}"),
            "body": created_notification(&reports_bucket, &key, &etag, size, None),
            "eventSource": "aws:sqs",
        }));
    }
    Reports {
        claims: DynamoClaimStore::new(dynamodb.clone(), claim_table),
        states: DynamoStateStore::new(dynamodb, state_table),
        objects: S3ObjectSource::new(outputs.s3.clone()),
        batch: SqsBatch::from_records(records),
        claim_ids,
    }
}

fn settings() -> ReportSettings {
    ReportSettings {
        reports_prefix: Some(PREFIX.into()),
        ..ReportSettings::default()
    }
}

#[tokio::test]
async fn historical_reports_put_every_feed_line_on_the_bus_once_and_a_redelivery_puts_none() {
    let outputs = Outputs::new().await;
    let reports = reports(&outputs).await;
    let sink = outputs.plain_sink();
    let ports = Ports {
        claims: &reports.claims,
        objects: &reports.objects,
        states: &reports.states,
        sink: &sink,
    };

    let outcome = handle_messages(&reports.batch, &ports, &settings(), Utc::now()).await;
    assert!(
        outcome.response.batch_item_failures.is_empty(),
        "{:?}",
        outcome.messages
    );
    let lines = outputs.feed_lines().await;
    let kinds: std::collections::BTreeSet<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["agent_interval", "agent_queue_interval", "queue_interval"]
    );
    assert_each_line_once(&lines, &outputs.events().await);

    let again = handle_messages(&reports.batch, &ports, &settings(), Utc::now()).await;
    assert!(again.response.batch_item_failures.is_empty());
    assert!(
        again
            .messages
            .iter()
            .flat_map(|m| m.objects.iter())
            .all(|(_, outcome)| *outcome == ObjectOutcome::Duplicate)
    );
    assert_eq!(outputs.events().await, Vec::<Value>::new(), "a redelivery puts nothing");
}

#[tokio::test]
async fn historical_reports_retry_failed_entries_and_fail_the_message_when_they_still_fail() {
    let outputs = Outputs::new().await;
    let reports = reports(&outputs).await;

    // Failed entries are put again: every line arrives once.
    let plan: support::FailurePlan = Arc::new(|call, n| if call < 2 { vec![n - 1] } else { vec![] });
    let (eventbridge, calls) = support::failing_put_events_eventbridge(&outputs.config, plan);
    let flaky = outputs.sink(eventbridge);
    let first = SqsBatch {
        records: reports.batch.records[..1].to_vec(),
    };
    let ports = Ports {
        claims: &reports.claims,
        objects: &reports.objects,
        states: &reports.states,
        sink: &flaky,
    };
    let outcome = handle_messages(&first, &ports, &settings(), Utc::now()).await;
    assert!(
        outcome.response.batch_item_failures.is_empty(),
        "{:?}",
        outcome.messages
    );
    assert_each_line_once(&outputs.feed_lines().await, &outputs.events().await);
    assert!(calls.load(Ordering::SeqCst) >= 3);

    // Entries that keep failing fail the message; its claim is released, not completed.
    let always: support::FailurePlan = Arc::new(|_, n| (0..n).collect());
    let (eventbridge, _) = support::failing_put_events_eventbridge(&outputs.config, always);
    let broken = outputs.sink(eventbridge);
    let second = SqsBatch {
        records: reports.batch.records[1..2].to_vec(),
    };
    let ports = Ports { sink: &broken, ..ports };
    let outcome = handle_messages(&second, &ports, &settings(), Utc::now()).await;
    let failed: Vec<&str> = outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m1"], "{:?}", outcome.messages);
    let reason = match &outcome.messages[0].objects[0].1 {
        ObjectOutcome::Failed { reason, permanent } => {
            assert!(!permanent);
            reason.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(
        reason.contains("entries still failing after 4 attempts, last ThrottlingException"),
        "{reason}"
    );
    assert_eq!(outputs.events().await, Vec::<Value>::new());
    assert_eq!(
        reports
            .claims
            .claim(&reports.claim_ids[1], "another-message", Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::Claimed,
        "the claim was released for the redelivery"
    );
    reports.claims.release(&reports.claim_ids[1]).await.unwrap();

    // The redelivery, with the bus healthy: every line of both reports once on the bus.
    let healthy = outputs.plain_sink();
    let ports = Ports {
        sink: &healthy,
        ..ports
    };
    let outcome = handle_messages(&second, &ports, &settings(), Utc::now()).await;
    assert!(
        outcome.response.batch_item_failures.is_empty(),
        "{:?}",
        outcome.messages
    );
    let lines = outputs.feed_lines().await;
    let second_lines: Vec<Value> = lines
        .iter()
        .filter(|l| l["kind"] == "agent_queue_interval")
        .cloned()
        .collect();
    assert_each_line_once(&second_lines, &outputs.events().await);
}
