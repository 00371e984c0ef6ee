//! The sweep closes stream-basis intervals end to end against the AWS emulator: a queue with
//! only a waiting contact gets its backlog object from the first sweep after the interval's end,
//! with the agents judged in the same run; a contact table that cannot be reached fails the
//! closing only, never the silence detection. Prints the DynamoDB requests of the closing.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_aws::{DynamoContactStore, DynamoStateStore, S3FeedSink};
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use connect_wfm_handlers::contacts::{Clock, SqsBatch, handle_sqs};
use connect_wfm_handlers::sweep::{SweepSettings, handle_sweep};
use serde_json::{Value, json};

const INSTANCE_ID: &str = "5f0c1d2e-3a4b-4c5d-9e6f-7a8b9c0d1e2f";

fn t(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().unwrap()
}

fn instance_arn() -> String {
    format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE_ID}")
}

/// Agent `a` Available at 10:00: silent by 10:05.
fn agent_batch() -> KinesisBatch {
    let event = json!({
        "AWSAccountId": "123456789012",
        "AgentARN": format!("{}/agent/a", instance_arn()),
        "InstanceARN": instance_arn(),
        "EventId": "a1",
        "EventTimestamp": "2026-11-21T10:00:00Z",
        "EventType": "STATE_CHANGE",
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": "Available", "Type": "ROUTABLE", "StartTimestamp": "2026-11-21T10:00:00Z" },
            "Configuration": { "Username": "login-a" },
            "Contacts": []
        }
    });
    let seq = format!("{:056}", 1);
    KinesisBatch::from_records([json!({ "eventID": format!("shardId-000000000000:{seq}"), "kinesis": {
        "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&event).unwrap()) } })])
}

/// Contact `c1` enqueued in q1 at 10:05 and never answered: its queue's only activity.
fn waiting_contact() -> SqsBatch {
    let body = json!({
        "id": "c1-QUEUED", "time": "2026-11-21T10:05:00.000Z", "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "detail": {
            "eventType": "QUEUED", "contactId": "c1", "channel": "VOICE", "initiationMethod": "INBOUND",
            "initiationTimestamp": "2026-11-21T10:04:50.000Z", "instanceArn": instance_arn(),
            "queueInfo": { "queueArn": format!("{}/queue/q1", instance_arn()), "enqueueTimestamp": "2026-11-21T10:05:00.000Z" }
        }
    });
    SqsBatch::from_records(vec![
        json!({ "messageId": "m1", "body": body.to_string(), "eventSource": "aws:sqs" }),
    ])
}

struct Stack {
    s3: aws_sdk_s3::Client,
    bucket: String,
    states: DynamoStateStore,
    contacts: DynamoContactStore,
    sink: S3FeedSink,
    requests: support::RequestLog,
    dynamodb: aws_sdk_dynamodb::Client,
}

async fn stack() -> Stack {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let (dynamodb, requests) = support::recording_dynamodb(&config);
    let state_table = support::create_state_table(&dynamodb).await;
    let contact_table = support::create_contact_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let stack = Stack {
        states: DynamoStateStore::new(dynamodb.clone(), state_table),
        contacts: DynamoContactStore::new(dynamodb.clone(), contact_table),
        sink: S3FeedSink::new(s3.clone(), bucket.clone(), "wfm"),
        s3,
        bucket,
        requests,
        dynamodb,
    };
    let agents = handle_batch(
        &agent_batch(),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        t("10:00:01"),
    )
    .await;
    assert_eq!(agents.failed_from(), None);
    let contacts = handle_sqs(
        &waiting_contact(),
        &stack.contacts,
        &stack.sink,
        &connect_wfm_handlers::contacts::Settings::default(),
        Clock::At(t("10:05:01")),
        t("10:05:01"),
    )
    .await;
    assert!(contacts.response.batch_item_failures.is_empty());
    stack.requests.clear();
    stack
}

fn backlog_key() -> String {
    format!("wfm/queue_interval/2026-11-21/stream/{INSTANCE_ID}/q1/1000.json")
}

async fn unknowns(stack: &Stack) -> Vec<Value> {
    support::read_json_lines(&stack.s3, &stack.bucket, "wfm/agent_state/2026-11-21/sweep-").await
}

#[tokio::test]
async fn the_first_sweep_after_the_end_writes_the_backlog_object_and_judges_the_agents() {
    let stack = stack().await;
    let settings = SweepSettings::default();
    let stats = handle_sweep(
        &stack.states,
        Some(&stack.contacts),
        &stack.sink,
        &stack.sink,
        &settings,
        t("10:15:10"),
    )
    .await;
    assert_eq!(
        (
            stats.intervals_closed,
            stats.interval_records,
            stats.silent_agents,
            stats.failures
        ),
        (1, 1, 1, 0)
    );
    let record: Value =
        serde_json::from_slice(&support::get_object(&stack.s3, &stack.bucket, &backlog_key()).await).unwrap();
    assert_eq!(
        (
            &record["basis"],
            &record["backlog"],
            &record["backlog_expired"],
            &record["active"]
        ),
        (&json!("stream"), &json!(1), &json!(1), &json!(true))
    );
    assert_eq!(record["interval_start"], "2026-11-21T10:00:00Z");
    let unknown = unknowns(&stack).await;
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["agent_id"], "a");
    println!(
        "FIGURE sweep with closing: {} DynamoDB requests in the run that closes one interval ({:?})",
        stack.requests.total(),
        [
            "GetItem",
            "Query",
            "PutItem",
            "UpdateItem",
            "BatchGetItem",
            "BatchWriteItem"
        ]
        .map(|op| (op, stack.requests.count(op)))
    );

    // Two minutes later nothing is left to close, and the object stands.
    stack.requests.clear();
    let later = handle_sweep(
        &stack.states,
        Some(&stack.contacts),
        &stack.sink,
        &stack.sink,
        &settings,
        t("10:17:30"),
    )
    .await;
    assert_eq!(
        (later.intervals_closed, later.interval_records, later.failures),
        (0, 0, 0)
    );
    println!(
        "FIGURE sweep with closing: {} DynamoDB requests in a quiet run (contact part: 2 Queries)",
        stack.requests.total()
    );
}

#[tokio::test]
async fn a_contact_table_that_cannot_be_reached_fails_the_closing_only() {
    let stack = stack().await;
    let missing = DynamoContactStore::new(stack.dynamodb.clone(), "no-such-contact-table");
    let stats = handle_sweep(
        &stack.states,
        Some(&missing),
        &stack.sink,
        &stack.sink,
        &SweepSettings::default(),
        t("10:15:10"),
    )
    .await;
    assert_eq!((stats.silent_agents, stats.failures), (1, 1));
    assert_eq!(unknowns(&stack).await.len(), 1, "UNKNOWN is written");
    assert!(
        support::read_objects(&stack.s3, &stack.bucket, "wfm/queue_interval/")
            .await
            .is_empty()
    );

    // The next sweep with the table back writes the backlog record (within the 2-minute window).
    let next = handle_sweep(
        &stack.states,
        Some(&stack.contacts),
        &stack.sink,
        &stack.sink,
        &SweepSettings::default(),
        t("10:16:10"),
    )
    .await;
    assert_eq!((next.interval_records, next.failures), (1, 0));
    assert!(
        !support::get_object(&stack.s3, &stack.bucket, &backlog_key())
            .await
            .is_empty()
    );
}
