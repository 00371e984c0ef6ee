//! The real function binaries run as Lambda runs them: a stand-in for the Runtime API hands
//! each an event (a Kinesis batch, an SQS batch of report notifications), the binary builds its
//! clients from the environment (the emulator's endpoint, EVENT_BUS_NAME set) and answers.
//! Exactly the records it writes to the feed reach the bus, and the replay puts none.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use connect_wfm_e2e as support;
use connect_wfm_handlers::reports::created_notification;
use serde_json::{Value, json};

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
    let mut function = support::lambda_command("agent-events", &runtime)
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
    let events = support::drain_through_marker(&support::eventbridge(&config), &bus, &sqs, &queue_url).await;
    assert_eq!(
        details(&events),
        feed,
        "the bus has exactly the feed's records, each once"
    );

    // Lambda's replay of the same batch: nothing new in the feed, nothing on the bus.
    let (outcome, response) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "{response}");
    assert_eq!(
        support::drain_through_marker(&support::eventbridge(&config), &bus, &sqs, &queue_url).await,
        Vec::<Value>::new(),
        "nothing was put before the marker"
    );
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
    let mut function = support::lambda_command("historical-reports", &runtime)
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
    let events = support::drain_through_marker(&support::eventbridge(&config), &bus, &sqs, &queue_url).await;
    assert_eq!(
        details(&events),
        feed,
        "the bus has exactly the feed's records, each once"
    );

    // SQS delivers the same notifications again: the claims say done, nothing is put.
    let (outcome, response) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(
        support::drain_through_marker(&support::eventbridge(&config), &bus, &sqs, &queue_url).await,
        Vec::<Value>::new(),
        "nothing was put before the marker"
    );
    assert_eq!(feed_records(&s3, &feed_bucket).await, feed);

    function.kill().await.expect("stop historical-reports");
}

/// Waits (at most `limit`) for the function to ask for its first event, the end of its init.
async fn ready(runtime: &support::RuntimeApi, limit: Duration) -> std::time::Instant {
    tokio::time::timeout(limit, async {
        loop {
            match runtime.ready_at() {
                Some(at) => break at,
                None => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    })
    .await
    .expect("the function finished its init")
}

#[tokio::test]
async fn agent_events_binary_opens_its_connections_to_the_table_the_bucket_and_the_bus_during_init() {
    // Every AWS request goes to a listener that answers 200 and keeps what it received.
    let aws = support::ResponseListener::start().await;
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("agent-events", &runtime)
        .env("AWS_ENDPOINT_URL", &aws.base_url)
        .env("STATE_TABLE", "states")
        .env("FEED_BUCKET", "feed")
        .env("FEED_PREFIX", "wfm")
        .env("EVENT_BUS_NAME", "bus")
        .spawn()
        .expect("spawn agent-events");
    ready(&runtime, Duration::from_secs(30)).await;
    let received = aws.received();
    let target = |name: &str| received.iter().find(|r| r.header("x-amz-target") == Some(name));
    let get_item = target("DynamoDB_20120810.GetItem").expect("a GetItem during init");
    assert_eq!(get_item.json()["TableName"], "states");
    assert!(
        target("AWSEvents.PutEvents").is_some(),
        "a request to the event bus during init: {received:?}"
    );
    assert!(
        received
            .iter()
            .any(|r| r.method == "HEAD" && r.target.starts_with("/feed/wfm/")),
        "a HEAD under the feed prefix during init: {received:?}"
    );
    function.kill().await.expect("stop agent-events");
}

#[tokio::test]
async fn agent_events_binary_finishes_its_init_when_aws_does_not_answer() {
    // Connections accepted, never answered: the warm-up gives up, init goes on.
    let silent = support::silent_endpoint().await;
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("agent-events", &runtime)
        .env("AWS_ENDPOINT_URL", &silent)
        .env("STATE_TABLE", "states")
        .env("FEED_BUCKET", "feed")
        .spawn()
        .expect("spawn agent-events");
    ready(&runtime, Duration::from_secs(30)).await;
    function.kill().await.expect("stop agent-events");
}

/// The `MIMALLOC_*` variables of template.yaml's `Globals.Function.Environment`.
fn template_allocator_settings() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let variables = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Globals.Function.Environment.Variables in template.yaml");
    variables
        .iter()
        .filter_map(|(name, value)| Some((name.as_str()?.to_owned(), value.as_str()?.to_owned())))
        .filter(|(name, _)| name.starts_with("MIMALLOC_"))
        .collect()
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the function's /proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a memory figure")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat` (clock ticks of
/// 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the function's /proc stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
        .split(' ')
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

/// One invocation of a measured run.
struct Invocation {
    took: Duration,
    /// CPU time the process used for it.
    cpu: Duration,
    /// Resident memory after it, KiB.
    rss: u64,
    /// The process's peak resident memory during it (VmHWM, reset after each), KiB.
    peak: u64,
}

/// Spawns `command` (a function binary as [`support::lambda_command`] builds it, with the allocator
/// settings of the template, then the caller's own `MIMALLOC_*` variables to compare settings),
/// waits for its init, then hands it `events` one by one; `answered` checks each answer.
/// Prints the function's init, each invocation's peak memory and time, and whether the peaks
/// grow (first tenth against last tenth).
async fn measure_invocations(
    label: &str,
    mut command: tokio::process::Command,
    runtime: &support::RuntimeApi,
    events: impl IntoIterator<Item = Value>,
    answered: impl Fn(usize, &Value),
) {
    let spawned = std::time::Instant::now();
    let mut function = command
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .envs(template_allocator_settings())
        .envs(std::env::vars().filter(|(name, _)| name.starts_with("MIMALLOC_")))
        .spawn()
        .expect("spawn the function");
    let pid = function.id().expect("a running process");
    let init = ready(runtime, Duration::from_secs(60)).await - spawned;
    let (rss_at_ready, _) = memory_kib(pid);
    let mut runs = Vec::new();
    for (n, event) in events.into_iter().enumerate() {
        let (started, cpu_before) = (std::time::Instant::now(), cpu_time(pid));
        let (outcome, response) = runtime.invoke(event, Duration::from_secs(300)).await;
        let (took, cpu) = (started.elapsed(), cpu_time(pid) - cpu_before);
        assert_eq!(outcome, "response", "invocation {}: {response}", n + 1);
        answered(n + 1, &response);
        let (rss, peak) = memory_kib(pid);
        runs.push(Invocation { took, cpu, rss, peak });
        // Each invocation's own peak: the kernel resets VmHWM to the current RSS.
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak RSS");
    }
    function.kill().await.expect("stop the function");

    let mb = |kib: u64| kib as f64 / 1024.0;
    let count = runs.len();
    println!("memory: {label}; emulator on loopback");
    println!(
        "memory: allocator settings from template.yaml: {:?}",
        template_allocator_settings()
    );
    println!(
        "memory: init (spawn to the first GET /next) {:.1} ms, RSS at ready {:.1} MB",
        init.as_secs_f64() * 1e3,
        mb(rss_at_ready)
    );
    for (n, run) in runs.iter().enumerate().map(|(n, run)| (n + 1, run)) {
        if n <= 3 || n % 10 == 0 || n == count {
            println!(
                "memory: invocation {n:>3}: peak {:>5.1} MB, RSS after it {:>5.1} MB, {:>6.1} ms",
                mb(run.peak),
                mb(run.rss),
                run.took.as_secs_f64() * 1e3
            );
        }
    }
    let peaks = |runs: &[Invocation]| {
        let mut peaks: Vec<u64> = runs.iter().map(|r| r.peak).collect();
        peaks.sort_unstable();
        (mb(peaks[peaks.len() / 2]), mb(peaks[peaks.len() - 1]))
    };
    let tenth = (count / 10).max(1);
    let ((first_median, first_max), (last_median, last_max)) = (peaks(&runs[..tenth]), peaks(&runs[count - tenth..]));
    println!(
        "memory: peak of each invocation, first {tenth}: median {first_median:.1} MB, max {first_max:.1} MB; last {tenth}: median {last_median:.1} MB, max {last_max:.1} MB; highest of all {:.1} MB",
        peaks(&runs).1
    );
    let mut later: Vec<f64> = runs[1..].iter().map(|r| r.took.as_secs_f64() * 1e3).collect();
    later.sort_by(f64::total_cmp);
    if let Some(median) = later.get(later.len() / 2) {
        println!(
            "memory: first invocation {:.1} ms, median of the later ones {median:.1} ms",
            runs[0].took.as_secs_f64() * 1e3
        );
    }
    // Lambda gives a function a share of a vCPU in proportion to its memory: a full one at
    // 1,769 MB, so 128 MB gets 1/13.8 of one.
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu.as_secs_f64() * 1e3).collect();
    cpu.sort_by(f64::total_cmp);
    let median = cpu[cpu.len() / 2];
    println!(
        "memory: CPU time per invocation (user + system, this machine) median {median:.0} ms, max {:.0} ms: at 128 MB's share of a vCPU about {:.1} s, at 512 MB's {:.1} s",
        cpu[cpu.len() - 1],
        median * 1769.0 / 128.0 / 1e3,
        median * 1769.0 / 512.0 / 1e3
    );
}

/// Invocations of a measured run: `CONNECT_WFM_INVOCATIONS` (default `default`).
fn invocations(default: usize) -> usize {
    std::env::var("CONNECT_WFM_INVOCATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn no_batch_item_failures(n: usize, response: &Value) {
    assert_eq!(response["batchItemFailures"], json!([]), "invocation {n}: {response}");
}

/// The agent-events binary over a run of the largest batches Lambda delivers (4,000 records,
/// about 6 MB), each new records of the same agents, as one warm Lambda sandbox sees them. A
/// measurement, not a check of figures: `scripts/bench` runs it against the release binary
/// (`CONNECT_WFM_FUNCTION_DIR`) with `CONNECT_WFM_INVOCATIONS` invocations (default 100). It
/// checks only that every batch was handled in full.
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary, about 2 minutes)"]
async fn agent_events_binary_memory_over_the_largest_batches() {
    use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
    const RECORDS: usize = 4_000;
    let invocations = invocations(100);
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_state_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let stream = agent_event_stream(&StreamSpec {
        seed: 11,
        agents: 250,
        records: RECORDS * invocations,
        ..StreamSpec::default()
    });
    let events: Vec<Value> = stream
        .chunks(RECORDS)
        .enumerate()
        .map(
            |(n, chunk)| json!({ "Records": kinesis_records(chunk, "shardId-000000000000", 1 + (n * RECORDS) as u64) }),
        )
        .collect();
    drop(stream);
    let largest = events.iter().map(|e| e.to_string().len()).max().unwrap_or_default();

    let runtime = support::RuntimeApi::start().await;
    let mut command = support::lambda_command("agent-events", &runtime);
    command
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm");
    let label = format!(
        "agent-events over {invocations} invocations of {RECORDS} records (Lambda payload up to {:.1} MB, 250 agents)",
        largest as f64 / 1e6
    );
    measure_invocations(&label, command, &runtime, events, no_batch_item_failures).await;
    assert!(
        !support::read_objects(&s3, &bucket, "wfm/").await.is_empty(),
        "the batches wrote the feed"
    );
}

/// The historical-reports binary over SQS batches of 10 large queue reports (10,000 rows, about
/// 0.9 MB each), as one warm sandbox sees them. A measurement like the one above
/// (`CONNECT_WFM_INVOCATIONS`, default 10).
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary, about a minute)"]
async fn historical_reports_binary_memory_over_batches_of_large_reports() {
    const PREFIX: &str = "connect/acme-support/Reports/";
    const ROWS: usize = 10_000;
    let invocations = invocations(10);
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let (feed_bucket, reports_bucket) = (
        support::create_bucket(&s3, "feed").await,
        support::create_bucket(&s3, "reports").await,
    );
    let header = "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,\
        Contacts answered in 20 seconds,Contacts answered in 60 seconds,Service level 20 seconds,\
        Agent interaction time,Customer hold time,After contact work time,Average queue answer time\n";
    let mut events = Vec::new();
    for invocation in 0..invocations {
        let mut records = Vec::new();
        for file in 0..10 {
            // Each report its own interval, so every row is a new record.
            let start = chrono::DateTime::from_timestamp(1_795_000_000 + ((invocation * 10 + file) * 900) as i64, 0)
                .expect("a time");
            let interval = format!(
                "{},{}",
                start.format("%Y-%m-%dT%H:%M:%SZ"),
                (start + chrono::Duration::minutes(15)).format("%Y-%m-%dT%H:%M:%SZ")
            );
            let mut body = header.to_owned();
            for row in 0..ROWS {
                let handled = 10 + row % 37;
                body.push_str(&format!(
                    "{interval},\"Queue {row:05}, EMEA\",{},{handled},3,{},{},{:.2}%,\"1,{:03}\",{},{},{}.5\n",
                    handled + 3,
                    handled * 2 / 3,
                    handled - 1,
                    (handled * 2 / 3) as f64 * 100.0 / handled as f64,
                    row % 1000,
                    row % 90,
                    handled * 30,
                    row % 40
                ));
            }
            let key = format!("{PREFIX}wfm/QR-{}.csv", start.format("%Y-%m-%dT%H:%M:%SZ"));
            let size = body.len() as i64;
            support::put_object(&s3, &reports_bucket, &key, body).await;
            let head = s3.head_object().bucket(&reports_bucket).key(&key).send().await.unwrap();
            let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
            records.push(json!({
                "messageId": format!("m{invocation}-{file}"), "receiptHandle": format!("r{invocation}-{file}"),
                "eventSource": "aws:sqs",
                "body": created_notification(&reports_bucket, &key, &etag, size, None),
            }));
        }
        events.push(json!({ "Records": records }));
    }

    let runtime = support::RuntimeApi::start().await;
    let mut command = support::lambda_command("historical-reports", &runtime);
    command
        .env("CLAIM_TABLE", &claim_table)
        .env("STATE_TABLE", &state_table)
        .env("FEED_BUCKET", &feed_bucket)
        .env("FEED_PREFIX", "wfm")
        .env("REPORTS_PREFIX", PREFIX);
    let label = format!("historical-reports over {invocations} invocations of 10 queue reports of {ROWS} rows");
    measure_invocations(&label, command, &runtime, events, no_batch_item_failures).await;
    let records = support::read_json_lines(&s3, &feed_bucket, "wfm/").await;
    assert_eq!(
        records.iter().filter(|r| r["kind"] == "queue_interval").count(),
        invocations * 10 * ROWS,
        "every row became a record"
    );
}

/// The sweep binary at the minute a whole instance falls silent, its heaviest minute: every
/// agent not logged out gets an `UNKNOWN` transition and a conditional write. The agents are
/// put in the table by the agent-events handler (in this process) from a synthetic stream of
/// `CONNECT_WFM_AGENTS` agents (default 2,000); the sweep then runs a day later. A measurement
/// like the ones above: it prints the sweep's memory and CPU time, and checks only that the
/// agents went `UNKNOWN`.
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary, about a minute)"]
async fn sweep_binary_when_an_instance_falls_silent() {
    use connect_wfm_aws::{DynamoStateStore, S3FeedSink};
    use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
    use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
    let agents: usize = std::env::var("CONNECT_WFM_AGENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_state_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let (states, sink) = (
        DynamoStateStore::new(support::dynamodb(&config), &table),
        S3FeedSink::new(s3.clone(), &bucket, "wfm/"),
    );
    let stream = agent_event_stream(&StreamSpec {
        seed: 5,
        agents,
        records: agents * 4,
        bad_permille: 0,
        ..StreamSpec::default()
    });
    for (n, chunk) in stream.chunks(1_000).enumerate() {
        let batch = KinesisBatch::from_records(kinesis_records(chunk, "shardId-000000000000", 1 + n as u64 * 1_000));
        let outcome = handle_batch(&batch, &states, &sink, &Settings::default(), chrono::Utc::now()).await;
        assert!(outcome.failed_from().is_none(), "the agents are stored");
    }

    let runtime = support::RuntimeApi::start().await;
    let mut command = support::lambda_command("sweep", &runtime);
    command
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm");
    let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-21T00:07:00Z" });
    let label = format!("sweep, {agents} agents of one instance, the minute the instance falls silent");
    measure_invocations(&label, command, &runtime, [event], |_, response| {
        println!(
            "memory: the sweep's answer: {} agents not logged out, {} UNKNOWN transitions",
            response["active_agents"], response["silent_agents"]
        );
        assert!(
            response["silent_agents"].as_u64().unwrap_or_default() > 0,
            "agents went UNKNOWN: {response}"
        );
    })
    .await;
}
