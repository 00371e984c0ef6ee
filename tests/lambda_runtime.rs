//! The real function binaries run as Lambda runs them: a stand-in for the Runtime API hands
//! each an event (a Kinesis batch, an SQS batch of report notifications), the binary builds its
//! clients from the environment (the emulator's endpoint, EVENT_BUS_NAME set) and answers.
//! Exactly the records it writes to the feed reach the bus, and the replay puts none.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use connect_wfm_e2e as support;
use connect_wfm_historical_reports::created_notification;
use serde_json::{Value, json};

/// The environment Lambda gives every function here, plus the emulator's endpoint.
fn lambda_command(binary: &str, runtime: &support::RuntimeApi) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(support::function_binary(binary));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", support::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", support::endpoint())
        .env("CONNECT_WFM_S3_FORCE_PATH_STYLE", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// Every record line of the feed (rejects aside), counted.
async fn feed_records(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in support::read_json_lines(s3, bucket, "wfm/").await {
        if line["kind"] != "reject" {
            *counts.entry(line.to_string()).or_default() += 1;
        }
    }
    counts
}

fn details(events: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in events {
        assert_eq!(event["source"], "connect-wfm");
        assert_eq!(event["detail-type"], event["detail"]["kind"]);
        *counts.entry(event["detail"].to_string()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn agent_events_binary_puts_exactly_its_feed_records_on_the_bus_and_a_replay_puts_none() {
    let config = support::sdk_config().await;
    let (s3, sqs) = (support::s3(&config), support::sqs(&config));
    let table = support::create_state_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let (bus, queue_url) = support::bus_to_queue(&support::eventbridge(&config), &sqs, "lambda-bus").await;

    let runtime = support::RuntimeApi::start().await;
    let mut function = lambda_command("agent-events", &runtime)
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .env("EVENT_BUS_NAME", &bus)
        .spawn()
        .expect("spawn agent-events");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/kinesis-all-stories.json");
    let batch: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (outcome, response) = runtime.invoke(batch.clone(), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "{response}");

    let mut lines = support::read_json_lines(&s3, &bucket, "wfm/").await;
    lines.retain(|l| l["kind"] != "reject");
    assert!(!lines.is_empty());
    let mut feed: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        *feed.entry(line.to_string()).or_default() += 1;
    }
    let events = support::drain_queue(&sqs, &queue_url).await;
    assert_eq!(
        details(&events),
        feed,
        "the bus has exactly the feed's records, each once"
    );

    // Lambda's replay of the same batch: nothing new in the feed, nothing on the bus.
    let (outcome, response) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "{response}");
    assert_eq!(support::drain_queue(&sqs, &queue_url).await, Vec::<Value>::new());
    let mut again = support::read_json_lines(&s3, &bucket, "wfm/").await;
    again.retain(|l| l["kind"] != "reject");
    assert_eq!(again, lines);

    function.kill().await.expect("stop agent-events");
}

#[tokio::test]
async fn historical_reports_binary_puts_exactly_its_feed_records_on_the_bus_and_a_redelivery_puts_none() {
    const PREFIX: &str = "connect/acme-support/Reports/";
    let config = support::sdk_config().await;
    let (s3, sqs, dynamodb) = (support::s3(&config), support::sqs(&config), support::dynamodb(&config));
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let (feed_bucket, reports_bucket) = (
        support::create_bucket(&s3, "feed").await,
        support::create_bucket(&s3, "reports").await,
    );
    let (bus, queue_url) = support::bus_to_queue(&support::eventbridge(&config), &sqs, "lambda-bus").await;
    let mut records = Vec::new();
    for (n, name) in ["wfm/QR-2026-11-20T10:15:00Z.csv", "wfm/ASPR-2026-11-20T10:15:00Z.csv"]
        .into_iter()
        .enumerate()
    {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/reports/amazon-connect-reports-123456789012")
            .join(PREFIX)
            .join(name);
        let body = std::fs::read(&path).unwrap();
        let (key, size) = (format!("{PREFIX}{name}"), body.len() as i64);
        support::put_object(&s3, &reports_bucket, &key, body).await;
        let head = s3.head_object().bucket(&reports_bucket).key(&key).send().await.unwrap();
        let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
        records.push(json!({
            "messageId": format!("m{n}"), "receiptHandle": format!("r{n}"), "eventSource": "aws:sqs",
            "body": created_notification(&reports_bucket, &key, &etag, size, None),
        }));
    }
    let batch = json!({ "Records": records });

    let runtime = support::RuntimeApi::start().await;
    let mut function = lambda_command("historical-reports", &runtime)
        .env("CLAIM_TABLE", &claim_table)
        .env("STATE_TABLE", &state_table)
        .env("FEED_BUCKET", &feed_bucket)
        .env("FEED_PREFIX", "wfm")
        .env("REPORTS_PREFIX", PREFIX)
        .env("EVENT_BUS_NAME", &bus)
        .spawn()
        .expect("spawn historical-reports");

    let (outcome, response) = runtime.invoke(batch.clone(), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let feed = feed_records(&s3, &feed_bucket).await;
    assert!(!feed.is_empty());
    let events = support::drain_queue(&sqs, &queue_url).await;
    assert_eq!(
        details(&events),
        feed,
        "the bus has exactly the feed's records, each once"
    );

    // SQS delivers the same notifications again: the claims say done, nothing is put.
    let (outcome, response) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(support::drain_queue(&sqs, &queue_url).await, Vec::<Value>::new());
    assert_eq!(feed_records(&s3, &feed_bucket).await, feed);

    function.kill().await.expect("stop historical-reports");
}
