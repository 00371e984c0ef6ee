//! What DynamoDB bills, measured: the release binaries run as Lambda runs them, against the
//! emulator through the pricing proxy (`support::pricing`), which prices every request from the
//! items it reads before and after each write (DynamoDB's rules for item sizes and index writes).
//! Measurements for `scripts/bench units`, not checks of figures: each test checks only that
//! its workload was handled in full, and prints one `units ...` line (the format `scripts/bench
//! units` promises) with the breakdown by table and index beside it.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use connect_wfm_aws::item::agent_state_to_item;
use connect_wfm_core::agent::{Activity, AgentState, Watermark};
use connect_wfm_core::contact::decode_contact_input;
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::ports::ProgressStore as _;
use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
use connect_wfm_e2e as support;
use serde_json::{Value, json};
use support::pricing::{Bill, PricingProxy};

const INVOKE_LIMIT: Duration = Duration::from_secs(600);

/// A function binary started against the pricing proxy, ready for invocations.
struct Function {
    runtime: support::RuntimeApi,
    _process: tokio::process::Child,
}

impl Function {
    /// Starts `binary` against `proxy` (the emulator itself when None).
    async fn start(binary: &str, proxy: Option<&PricingProxy>, env: &[(&str, &str)]) -> Self {
        let runtime = support::RuntimeApi::start().await;
        let mut command = support::lambda_command(binary, &runtime);
        if let Some(proxy) = proxy {
            command.env("AWS_ENDPOINT_URL", &proxy.url);
        }
        // The memory template.yaml gives most functions (the sweep's own env sets its 512).
        command.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        for (name, value) in env {
            command.env(name, value);
        }
        let process = command.spawn().expect("spawn the function");
        runtime.wait_ready(binary).await;
        // Only the invocations are billed, not the warm-up of the connections at init.
        if let Some(proxy) = proxy {
            proxy.reset();
        }
        Self {
            runtime,
            _process: process,
        }
    }

    async fn invoke(&self, event: Value) -> Value {
        let (outcome, response) = self.runtime.invoke(event, INVOKE_LIMIT).await;
        assert_eq!(outcome, "response", "{response}");
        response
    }
}

fn print_breakdown(bill: &Bill, per: f64, unit: &str) {
    for line in bill.breakdown(per, unit) {
        println!("  {line}");
    }
}

/// The agent-events binary with the roster, as the stack deploys it, on fresh tables: fed
/// `records` events of 50 agents (full Connect records, Kinesis's duplicates and late copies) in
/// batches of 100, billed from batch `billed_from` on.
async fn bill_agent_events(records: usize, billed_from: usize, prefix: &str) -> Bill {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_state_table(&support::dynamodb(&config)).await;
    let roster = support::create_roster_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let proxy = PricingProxy::start(&support::endpoint()).await;
    let function = Function::start(
        "agent-events",
        Some(&proxy),
        &[
            ("STATE_TABLE", &table),
            ("ROSTER_TABLE", &roster),
            ("FEED_BUCKET", &bucket),
            ("FEED_PREFIX", prefix),
        ],
    )
    .await;
    let stream = agent_event_stream(&StreamSpec {
        seed: 25,
        agents: 50,
        records,
        bad_permille: 0,
        verbose: true,
        ..StreamSpec::default()
    });
    for (n, chunk) in stream.chunks(100).enumerate() {
        if n == billed_from {
            proxy.reset();
        }
        let event = json!({ "Records": kinesis_records(chunk, "shardId-000000000000", 1 + (n * 100) as u64) });
        let response = function.invoke(event).await;
        assert_eq!(response["batchItemFailures"], json!([]), "batch {n}");
    }
    proxy.bill()
}

/// 1,000 agent events of 50 agents in 10 Kinesis batches (full Connect records, about 2 KB each,
/// with Kinesis's duplicates and late re-deliveries), a workload like the peer comparison's.
#[tokio::test]
#[ignore = "a measurement for scripts/bench units (release binary)"]
async fn units_of_agent_events() {
    const EVENTS: usize = 1_000;
    let per = EVENTS as f64;
    // From empty tables, with the roster: every agent's first profile is in the bill (50 agents
    // first seen in 1,000 events: the worst case; a known agent whose configuration stays the
    // same costs nothing more).
    let bill = bill_agent_events(EVENTS, 0, "wfm").await;
    println!(
        "units agent-events: {:.3} requests/event, {:.3} write units/event, {:.3} read units/event",
        bill.dynamodb_requests() as f64 / per,
        bill.total_write_units() / per,
        bill.total_read_units() / per
    );
    print_breakdown(&bill, per, "event");

    // The same workload in a stream already running: the next 1,000 events of the same agents
    // (known rows, profiles written, indexes holding them), billed alone.
    let bill = bill_agent_events(2 * EVENTS, EVENTS / 100, "steady").await;
    println!(
        "  steady state (the next {EVENTS} events of the same agents, billed alone): {:.3} requests/event, {:.3} write units/event, {:.3} read units/event",
        bill.dynamodb_requests() as f64 / per,
        bill.total_write_units() / per,
        bill.total_read_units() / per
    );
    print_breakdown(&bill, per, "event");
}

/// The contacts of a simulated hour (contact events from the EventBridge queue, CTRs from their
/// stream), each source in time order: in full batches (SQS 10 events, Kinesis 100 CTRs, each
/// delivered when its last input has arrived) and in trickle batches (one input per invocation). Billed: the contact-events binary's requests
/// (the sweep's closing of intervals is measured with the sweep).
#[tokio::test]
#[ignore = "a measurement for scripts/bench units (release binary)"]
async fn units_of_contacts() {
    for (label, contacts, sqs_batch, kinesis_batch) in [("full", 150, 10, 100), ("trickle", 40, 1, 1)] {
        bill_contacts(label, contacts, 4, sqs_batch, kinesis_batch).await;
    }
}

/// The same in full batches at a busy center's density: about 625 contacts per 15 minutes (the
/// issue's 60,000 a day), two intervals. Not in `scripts/bench units` (about five minutes more);
/// `scripts/bench` runs it.
#[tokio::test]
#[ignore = "a measurement for scripts/bench (release binary, about five minutes)"]
async fn units_of_contacts_at_a_busy_centers_density() {
    bill_contacts("busy", 1000, 2, 10, 100).await;
}

/// Runs `contacts` simulated contacts over `intervals` intervals through the contact-events
/// binary behind the pricing proxy, in batches of `sqs_batch` events and `kinesis_batch` CTRs,
/// and prints the `units contacts <label>` line and its breakdown.
async fn bill_contacts(label: &str, contacts: usize, intervals: u32, sqs_batch: usize, kinesis_batch: usize) {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let table = support::create_contact_table(&support::dynamodb(&config)).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let proxy = PricingProxy::start(&support::endpoint()).await;
    let function = Function::start(
        "contact-events",
        Some(&proxy),
        &[
            ("CONTACT_TABLE", &table),
            ("FEED_BUCKET", &bucket),
            ("FEED_PREFIX", "wfm"),
        ],
    )
    .await;
    // From the next interval on: the binary's clock is the wall clock, and inputs older
    // than it by more than two minutes are late (their interval already written), which a
    // stream delivering in real time does not make. Here every input is on time.
    let start = Utc::now().duration_trunc(TimeDelta::minutes(15)).expect("a time") + TimeDelta::minutes(15);
    let slice = simulate(&SliceSpec {
        seed: 8,
        start,
        intervals,
        contacts,
        ..SliceSpec::default()
    });
    let time = |input: &str| -> DateTime<Utc> { decode_contact_input(input.as_bytes()).expect("an input").time() };
    // Each source fills its own batches, in time order (the queue's events in batches of
    // `sqs_batch`, the stream's CTRs in batches of `kinesis_batch`), and a batch is delivered
    // when its last input has arrived: the two sources interleave by those times. (Cutting
    // one merged timeline into runs by source would make most batches far from full.)
    let batches = |inputs: &[String], size: usize, is_event: bool| -> Vec<(DateTime<Utc>, bool, Vec<String>)> {
        let mut inputs: Vec<(DateTime<Utc>, &String)> = inputs.iter().map(|i| (time(i), i)).collect();
        inputs.sort_by_key(|(t, _)| *t);
        inputs
            .chunks(size)
            .map(|chunk| {
                (
                    chunk[chunk.len() - 1].0,
                    is_event,
                    chunk.iter().map(|(_, i)| (*i).clone()).collect(),
                )
            })
            .collect()
    };
    let mut deliveries = batches(&slice.events, sqs_batch, true);
    deliveries.extend(batches(&slice.records, kinesis_batch, false));
    deliveries.sort_by_key(|(t, is_event, _)| (*t, !*is_event));
    let mut seq = 0usize;
    for (_, is_event, batch) in &deliveries {
        let records: Vec<Value> = batch
                .iter()
                .map(|body| {
                    seq += 1;
                    if *is_event {
                        json!({ "messageId": format!("m{seq}"), "receiptHandle": format!("r{seq}"), "body": body, "eventSource": "aws:sqs" })
                    } else {
                        use base64::Engine as _;
                        let number = format!("{seq:056}");
                        json!({
                            "eventID": format!("shardId-000000000000:{number}"), "eventSource": "aws:kinesis",
                            "kinesis": { "sequenceNumber": number, "partitionKey": "c",
                                "data": base64::engine::general_purpose::STANDARD.encode(body) }
                        })
                    }
                })
                .collect();
        let response = function.invoke(json!({ "Records": records })).await;
        assert_eq!(response["batchItemFailures"], json!([]), "{label}: {response}");
    }
    let bill = proxy.bill();
    let per = slice.contacts.len() as f64;
    // A batch never takes a waiting hint out; the sweep deletes each hint item once none of
    // its legs waits, at the units of its put (items under 1 KB): billed to the contacts
    // here. (Its deletes are batched, 25 a request, in a run that happens anyway.)
    let hints = bill.write_units_by_kind.get("waiting").copied().unwrap_or_default();
    println!(
        "units contacts {label}: {:.3} requests/contact, {:.3} write units/contact",
        bill.dynamodb_requests() as f64 / per,
        (bill.total_write_units() + hints) / per
    );
    println!(
        "  of which {:.3} write units/contact the sweep spends taking the waiting hints out",
        hints / per
    );
    println!(
        "  {} contacts, {} events, {} CTRs in {} invocations (SQS batches of {sqs_batch}, Kinesis batches of {kinesis_batch}); {:.3} read units/contact",
        slice.contacts.len(),
        slice.events.len(),
        slice.records.len(),
        deliveries.len(),
        bill.total_read_units() / per
    );
    print_breakdown(&bill, per, "contact");
}

const INSTANCE: &str = "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

fn at(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().expect("a time")
}

/// An agent last seen at `clock`, `Available` (or logged out).
fn agent(n: usize, logged_out: bool, clock: &str) -> AgentState {
    let id = format!("agent-{n:05}");
    AgentState {
        stream_newest: None,
        agent_arn: format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}/agent/{id}"),
        agent_id: id.clone(),
        instance_id: INSTANCE.into(),
        agent_login: Some(format!("login-{id}")),
        state: if logged_out { "LOGOUT" } else { "Available" }.into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: at(clock),
        contact: None,
        watermark: Watermark::new(at(clock), format!("{id}-{clock}")),
        last_seen: at(clock),
        silent_since: None,
        last_silence: None,
        silenced_at: None,
        silenced_from: None,
        segment: None,
        silenced_segment: None,
        profile: None,
        excluded: false,
    }
}

/// The sweep's heaviest minute: an instance of 10,000 agents (one in ten logged out) falls
/// silent, and every agent not logged out goes `UNKNOWN`. The agents are written straight to
/// the table (not billed); the sweep binary then runs once through the proxy.
#[tokio::test]
#[ignore = "a measurement for scripts/bench units (release binary)"]
async fn units_of_the_sweep_when_10000_agents_fall_silent() {
    const AGENTS: usize = 10_000;
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let bucket = support::create_bucket(&s3, "feed").await;
    let populate = |table: String| {
        let dynamodb = dynamodb.clone();
        async move {
            let requests: Vec<WriteRequest> = (0..AGENTS)
                .map(|n| {
                    let item = agent_state_to_item(&agent(n, n % 10 == 9, "10:00:00"));
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().expect("an item"))
                        .build()
                })
                .collect();
            for chunk in requests.chunks(25) {
                let mut pending = std::collections::HashMap::from([(table.clone(), chunk.to_vec())]);
                while !pending.is_empty() {
                    let output = dynamodb
                        .batch_write_item()
                        .set_request_items(Some(pending))
                        .send()
                        .await
                        .expect("the agents are written");
                    pending = output.unprocessed_items.unwrap_or_default();
                    pending.retain(|_, v| !v.is_empty());
                }
            }
            connect_wfm_aws::DynamoStateStore::new(dynamodb, &table)
                .advance_progress(INSTANCE, at("10:00:30"))
                .await
                .expect("progress");
        }
    };
    // Twice: straight to the emulator for the time it takes, through the proxy for the bill
    // (the proxy prices one write at a time, which slows the sweep down).
    let proxy = PricingProxy::start(&support::endpoint()).await;
    let mut took = Duration::ZERO;
    for priced in [false, true] {
        let table = support::create_state_table(&dynamodb).await;
        populate(table.clone()).await;
        let function = Function::start(
            "sweep",
            priced.then_some(&proxy),
            &[
                ("STATE_TABLE", &table),
                ("FEED_BUCKET", &bucket),
                ("FEED_PREFIX", "wfm"),
                ("SNAPSHOT_MINUTES", "0"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ],
        )
        .await;
        let started = Instant::now();
        let response = function
            .invoke(json!({ "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-21T10:05:30Z" }))
            .await;
        if !priced {
            took = started.elapsed();
        }
        // Every agent not logged out committed UNKNOWN. On a loaded machine a transaction can
        // outlast the SDK's attempt timeout in the emulator and its retry then finds its own
        // writes (superseded: DynamoDB's ClientRequestToken would make the retry succeed, the
        // emulator ignores it); the next sweep writes those records again.
        assert_eq!(response["failures"].as_u64(), Some(0), "{response}");
        assert_eq!(
            response["silent_agents"].as_u64().unwrap_or_default()
                + response["superseded"].as_u64().unwrap_or_default(),
            (AGENTS - AGENTS / 10) as u64,
            "{response}"
        );
    }
    let bill = proxy.bill();
    println!(
        "units sweep silent {AGENTS}: {} requests, {:.0} write units, {:.1} s",
        bill.dynamodb_requests(),
        bill.total_write_units(),
        took.as_secs_f64()
    );
    println!(
        "  {} requests to S3 and other services; {:.0} read units; the seconds of the sweep straight on the emulator, 512 MB as template.yaml gives the sweep",
        bill.other_requests,
        bill.total_read_units()
    );
    print_breakdown(&bill, 1.0, "sweep");
}

/// List prices (us-east-1, USD) of what an idle stack pays for.
mod price {
    pub const ALARM_MONTH: f64 = 0.10;
    pub const DASHBOARD_MONTH: f64 = 3.00;
    pub const METRIC_MONTH: f64 = 0.30;
    pub const LAMBDA_REQUEST: f64 = 0.20e-6;
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    pub const READ_UNIT: f64 = 0.125e-6;
    pub const WRITE_UNIT: f64 = 0.625e-6;
    pub const S3_REQUEST: f64 = 0.005e-3;
    pub const SQS_REQUEST: f64 = 0.40e-6;
    pub const LOG_GB: f64 = 0.50;
}

/// Sweeps a month: one a minute.
const SWEEPS_A_MONTH: f64 = 43_200.0;
/// Lambda's long polling of one SQS queue with no messages: 5 pollers, a 20 s poll each.
const SQS_POLLS_A_MONTH: f64 = 5.0 * 3.0 * 60.0 * 24.0 * 30.0;
/// The START, END and REPORT lines Lambda writes per invocation.
const PLATFORM_LOG_BYTES: f64 = 350.0;

/// The resources of template.yaml that exist with its default parameters: (logical id, type).
fn default_resources() -> Vec<(String, String)> {
    use serde_norway::Value as Yaml;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template: Yaml = serde_norway::from_str(&std::fs::read_to_string(&path).expect("template.yaml")).expect("YAML");
    let defaults: std::collections::HashMap<String, String> = template["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .iter()
        .map(|(name, p)| {
            let value = match &p["Default"] {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                Yaml::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            (name.as_str().expect("a name").to_owned(), value)
        })
        .collect();
    let conditions = template["Conditions"].clone();
    fn scalar(v: &Yaml, defaults: &std::collections::HashMap<String, String>) -> String {
        match v {
            Yaml::Tagged(t) if t.tag == "Ref" => defaults
                .get(t.value.as_str().unwrap_or_default())
                .cloned()
                .unwrap_or_default(),
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            other => panic!("a condition compares {other:?}"),
        }
    }
    fn holds(v: &Yaml, conditions: &Yaml, defaults: &std::collections::HashMap<String, String>) -> bool {
        let Yaml::Tagged(t) = v else {
            panic!("a condition is {v:?}")
        };
        let args = || t.value.as_sequence().cloned().unwrap_or_default();
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => {
                let args = args();
                scalar(&args[0], defaults) == scalar(&args[1], defaults)
            }
            "Not" => !holds(&args()[0], conditions, defaults),
            "And" => args().iter().all(|a| holds(a, conditions, defaults)),
            "Or" => args().iter().any(|a| holds(a, conditions, defaults)),
            "Condition" => holds(&conditions[t.value.as_str().expect("a name")], conditions, defaults),
            other => panic!("condition function {other}"),
        }
    }
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| match r["Condition"].as_str() {
            None => true,
            Some(name) => holds(&conditions[name], &conditions, &defaults),
        })
        .map(|(id, r)| {
            (
                id.as_str().expect("an id").to_owned(),
                r["Type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The stack's monthly cost when nothing arrives, with its default parameters (streams given,
/// not created): its alarms and dashboard as template.yaml creates them, Lambda's polling of
/// its SQS event sources, and the sweep's minute as measured here: the sweep binary once on
/// empty tables through the pricing proxy, its DynamoDB and S3 requests, its time, its log and
/// EMF output (each metric it publishes billed for the month).
#[tokio::test]
#[ignore = "a measurement for scripts/bench units (release binary)"]
async fn units_of_the_idle_stack() {
    use tokio::io::AsyncReadExt as _;
    let resources = default_resources();
    let count = |kind: &str| resources.iter().filter(|(_, t)| t == kind).count() as f64;
    let (alarms, dashboards) = (count("AWS::CloudWatch::Alarm"), count("AWS::CloudWatch::Dashboard"));
    // SQS event sources of the functions (SAM `Events` of type SQS): the queues Lambda polls.
    let template = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
        .expect("template.yaml");
    let polled_queues = ["ReportsQueue", "ContactEventsQueue"]
        .iter()
        .filter(|q| resources.iter().any(|(id, _)| id == *q))
        .count() as f64;
    assert!(template.contains("Type: SQS"), "the functions poll SQS queues");

    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let state_table = support::create_state_table(&dynamodb).await;
    let contact_table = support::create_contact_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let proxy = PricingProxy::start(&support::endpoint()).await;
    let runtime = support::RuntimeApi::start().await;
    let mut command = support::lambda_command("sweep", &runtime);
    command
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("STATE_TABLE", &state_table)
        .env("CONTACT_TABLE", &contact_table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut process = command.spawn().expect("spawn the sweep");
    runtime.wait_ready("sweep").await;
    const RUNS: usize = 5;
    proxy.reset();
    let mut took = Duration::ZERO;
    for minute in 0..RUNS {
        let started = Instant::now();
        let (outcome, response) = runtime
            .invoke(
                json!({ "source": "aws.events", "detail-type": "Scheduled Event", "time": format!("2026-11-21T10:0{minute}:00Z") }),
                INVOKE_LIMIT,
            )
            .await;
        took += started.elapsed();
        assert_eq!(outcome, "response", "{response}");
    }
    process.kill().await.expect("stop the sweep");
    let (mut out, mut err) = (String::new(), String::new());
    process
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .await
        .expect("stdout");
    process
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .await
        .expect("stderr");
    // The EMF documents on standard output: the metrics an idle sweep publishes.
    let mut metrics = std::collections::BTreeSet::new();
    for line in out.lines().filter(|l| l.contains("CloudWatchMetrics")) {
        let doc: Value = serde_json::from_str(line).expect("an EMF document");
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            metrics.insert(m["Name"].as_str().unwrap_or_default().to_owned());
        }
    }
    let bill = proxy.bill();
    let per_run = |n: f64| n / RUNS as f64;
    let seconds = took.as_secs_f64() / RUNS as f64;
    let log_bytes = per_run((out.len() + err.len()) as f64) + PLATFORM_LOG_BYTES;
    let lines = [
        (
            "CloudWatch alarms",
            alarms * price::ALARM_MONTH,
            format!("{alarms} with the defaults"),
        ),
        (
            "the dashboard",
            dashboards * price::DASHBOARD_MONTH,
            format!("{dashboards} (CreateDashboard)"),
        ),
        (
            "custom metrics of the idle sweep",
            metrics.len() as f64 * price::METRIC_MONTH,
            format!("{metrics:?}"),
        ),
        (
            "the sweep's Lambda",
            SWEEPS_A_MONTH * (price::LAMBDA_REQUEST + seconds.max(0.001) * 0.5 * price::LAMBDA_ARM_GB_SECOND),
            format!("{:.1} ms a run at 512 MB", seconds * 1e3),
        ),
        (
            "the sweep's DynamoDB",
            SWEEPS_A_MONTH
                * per_run(bill.total_read_units() * price::READ_UNIT + bill.total_write_units() * price::WRITE_UNIT),
            format!(
                "{:.1} requests, {:.1} read units, {:.1} write units a run",
                per_run(bill.dynamodb_requests() as f64),
                per_run(bill.total_read_units()),
                per_run(bill.total_write_units())
            ),
        ),
        (
            "the sweep's S3 requests",
            SWEEPS_A_MONTH * per_run(bill.other_requests as f64) * price::S3_REQUEST,
            format!("{:.1} a run", per_run(bill.other_requests as f64)),
        ),
        (
            "the sweep's logs",
            SWEEPS_A_MONTH * log_bytes / 1e9 * price::LOG_GB,
            format!("{log_bytes:.0} bytes a run"),
        ),
        (
            "Lambda's polling of the SQS queues",
            polled_queues * SQS_POLLS_A_MONTH * price::SQS_REQUEST,
            format!("{polled_queues} queues (the account's first million requests a month are free)"),
        ),
    ];
    let total: f64 = lines.iter().map(|(_, dollars, _)| dollars).sum();
    println!("units idle: {total:.2} dollars/month");
    for (what, dollars, note) in lines {
        println!("  {what}: ${dollars:.2} ({note})");
    }
}
