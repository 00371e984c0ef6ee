//! The real agent-events binary run as Lambda runs it: a stand-in for the Runtime API hands it
//! a Kinesis batch, the binary builds its clients from the environment (the emulator's
//! endpoint, EVENT_BUS_NAME set) and answers. Exactly the records it writes to the feed reach
//! the bus, and the replay of the batch puts none.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use connect_wfm_e2e as support;
use serde_json::Value;

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
    let mut function = tokio::process::Command::new(support::function_binary("agent-events"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "agent-events")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", support::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", support::endpoint())
        .env("CONNECT_WFM_S3_FORCE_PATH_STYLE", "true")
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .env("EVENT_BUS_NAME", &bus)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
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
