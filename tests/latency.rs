//! The latency that matters, measured on the release binaries run as Lambda runs them, against
//! the emulator on loopback (read it as an order of magnitude: the emulator is slower than
//! DynamoDB and S3, and other programs share the machine): from an agent event's arrival (the
//! invocation that carries it) to its feed object written, and from a contact's DISCONNECTED
//! event's arrival to its interval record written. Measurements for `scripts/bench`: each test
//! checks only that the records were written, and prints p50 and p99.

use std::time::{Duration, Instant};

use chrono::{DurationRound as _, TimeDelta, Utc};
use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
use connect_wfm_e2e as support;
use serde_json::{Value, json};

async fn start(binary: &str, env: &[(&str, &str)]) -> (support::RuntimeApi, tokio::process::Child) {
    let runtime = support::RuntimeApi::start().await;
    let mut command = support::lambda_command(binary, &runtime);
    command.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    for (name, value) in env {
        command.env(name, value);
    }
    let process = command.spawn().expect("spawn the function");
    runtime.wait_ready(binary).await;
    (runtime, process)
}

fn percentiles(mut millis: Vec<f64>) -> (f64, f64) {
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// 200 Kinesis batches of 100 agent events (250 agents): from the invocation to its answer, by
/// which time the batch's feed object is written.
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary)"]
async fn latency_from_an_agent_event_to_its_feed_object() {
    const BATCHES: usize = 200;
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_state_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let (runtime, _process) = start(
        "agent-events",
        &[
            ("STATE_TABLE", &table),
            ("FEED_BUCKET", &bucket),
            ("FEED_PREFIX", "wfm"),
        ],
    )
    .await;
    let stream = agent_event_stream(&StreamSpec {
        seed: 6,
        agents: 250,
        records: BATCHES * 100,
        bad_permille: 0,
        ..StreamSpec::default()
    });
    let mut millis = Vec::with_capacity(BATCHES);
    for (n, chunk) in stream.chunks(100).enumerate() {
        let event = json!({ "Records": kinesis_records(chunk, "shardId-000000000000", 1 + (n * 100) as u64) });
        let started = Instant::now();
        let (outcome, response) = runtime.invoke(event, Duration::from_secs(60)).await;
        millis.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            (outcome.as_str(), &response["batchItemFailures"]),
            ("response", &json!([]))
        );
    }
    assert!(!support::read_objects(&s3, &bucket, "wfm/agent_state/").await.is_empty());
    let (p50, p99) = percentiles(millis);
    println!("latency agent event → feed object: p50 {p50:.1} ms, p99 {p99:.1} ms ({BATCHES} batches of 100 records)");
}

/// 100 contacts, each queued and answered in one invocation and disconnected in the next (SQS
/// events as EventBridge delivers them): from the DISCONNECTED event's invocation to its answer,
/// by which time the contact's interval record is written (checked).
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary)"]
async fn latency_from_a_disconnected_event_to_its_interval_record() {
    const CONTACTS: usize = 100;
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_contact_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let (runtime, _process) = start(
        "contact-events",
        &[
            ("CONTACT_TABLE", &table),
            ("FEED_BUCKET", &bucket),
            ("FEED_PREFIX", "wfm"),
        ],
    )
    .await;
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/latency";
    let interval = (Utc::now() - TimeDelta::minutes(20))
        .duration_trunc(TimeDelta::minutes(15))
        .expect("a time");
    let at = |seconds: i64| {
        (interval + TimeDelta::seconds(seconds))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let event = |contact: &str, kind: &str, seconds: i64| -> Value {
        let mut detail = json!({
            "eventType": kind, "contactId": contact, "channel": "VOICE", "initiationMethod": "INBOUND",
            "initiationTimestamp": at(seconds.min(5)), "instanceArn": instance,
            "queueInfo": { "queueArn": format!("{instance}/queue/q1"), "enqueueTimestamp": at(10) },
        });
        if kind != "QUEUED" {
            detail["agentInfo"] =
                json!({ "agentArn": format!("{instance}/agent/a"), "connectedToAgentTimestamp": at(30) });
        }
        if kind == "DISCONNECTED" {
            detail["disconnectTimestamp"] = json!(at(seconds));
        }
        json!({ "id": format!("{contact}-{kind}"), "time": at(seconds), "detail-type": "Amazon Connect Contact Event",
                "source": "aws.connect", "detail": detail })
    };
    let message = |n: usize, body: &Value| json!({ "messageId": format!("m{n}"), "receiptHandle": format!("r{n}"), "body": body.to_string(), "eventSource": "aws:sqs" });
    let mut millis = Vec::with_capacity(CONTACTS);
    for i in 0..CONTACTS {
        let contact = format!("latency-{i:03}");
        let before = json!({ "Records": [
            message(3 * i, &event(&contact, "QUEUED", 10)),
            message(3 * i + 1, &event(&contact, "CONNECTED_TO_AGENT", 30)),
        ] });
        let (outcome, response) = runtime.invoke(before, Duration::from_secs(60)).await;
        assert_eq!(
            (outcome.as_str(), &response["batchItemFailures"]),
            ("response", &json!([]))
        );
        let disconnected = json!({ "Records": [message(3 * i + 2, &event(&contact, "DISCONNECTED", 300))] });
        let started = Instant::now();
        let (outcome, response) = runtime.invoke(disconnected, Duration::from_secs(60)).await;
        millis.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            (outcome.as_str(), &response["batchItemFailures"]),
            ("response", &json!([]))
        );
    }
    let records = support::read_json_lines(&s3, &bucket, "wfm/queue_interval/").await;
    assert!(
        records.iter().any(|r| r["handled"] == json!(CONTACTS)),
        "the interval record counts every contact: {records:?}"
    );
    let (p50, p99) = percentiles(millis);
    println!(
        "latency DISCONNECTED → interval record: p50 {p50:.1} ms, p99 {p99:.1} ms ({CONTACTS} contacts, one event per invocation)"
    );
}
