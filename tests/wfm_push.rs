//! The push output end to end on the AWS emulator: the agent-events and sweep handlers write
//! the feed through [`FeedOutputs`] with the push queue output (an SQS FIFO queue, grouped by
//! agent, de-duplicated by event_id); the wfm-push handler ([`run_queue`]) takes the queue to a
//! WFM on 127.0.0.1 that implements Calabrio's contract (connect-wfm-test-wfm). A WFM down for a
//! while then back (nothing lost, each agent's states in order), a refused state (kept under
//! rejects with the WFM's message, the others delivered), a redelivered batch and a crashed run
//! (nothing twice, nothing reordered), a snapshot slot (one IsSnapshot call), a snapshot of
//! 3,000 agents (one compressed message, one IsSnapshot call per 1,000 states). And the wfm-push
//! binary itself, run as Lambda runs it: a fresh process starts with the delivered states the
//! last one kept in the feed bucket.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connect_wfm_aws::eventbridge::FeedOutputs;
use connect_wfm_aws::push_queue::{PushQueueOutput, SqsPushQueue};
use connect_wfm_aws::{DynamoStateStore, S3FeedSink};
use connect_wfm_core::feed::FeedBody;
use connect_wfm_core::ports::FeedSink as _;
use connect_wfm_core::push::calabrio::{Calabrio, UserCode};
use connect_wfm_core::push::queue::{PushQueue as _, QueueRoute};
use connect_wfm_core::push::{Kinds, Secret, Target};
use connect_wfm_core::retry::Backoff;
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings as AgentSettings, handle_batch};
use connect_wfm_handlers::push::{RunSettings, RunStats, Settings, run_queue};
use connect_wfm_handlers::sweep::{SweepSettings, sweep_agents};
use connect_wfm_http::HttpWfmApi;
use connect_wfm_test_wfm::{Contract, KEY, Wfm};
use serde_json::{Value, json};

fn events_file(name: &str) -> KinesisBatch {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

struct Stack {
    config: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    queue_url: String,
    wfm: Wfm,
    target: Target,
}

impl Stack {
    async fn new(visibility_seconds: u32) -> Self {
        let config = support::sdk_config().await;
        let (s3, sqs) = (support::s3(&config), support::sqs(&config));
        let bucket = support::create_bucket(&s3, "feed").await;
        let name = format!("{}.fifo", support::unique("wfm-push"));
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                visibility_seconds.to_string(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))
            .queue_url()
            .unwrap()
            .to_owned();
        let wfm = Wfm::start(Contract::Calabrio);
        let target = Target::Calabrio(Calabrio::new(&wfm.url, Secret::new(KEY), "7", UserCode::Id));
        Self {
            config,
            s3,
            sqs,
            bucket,
            queue_url,
            wfm,
            target,
        }
    }

    fn feed(&self) -> S3FeedSink {
        S3FeedSink::new(self.s3.clone(), &self.bucket, "wfm")
    }

    /// The sink a function builds when WFM_PUSH_QUEUES names the queue.
    fn sink(&self) -> FeedOutputs<S3FeedSink> {
        let mut output = PushQueueOutput::new(
            self.sqs.clone(),
            vec![QueueRoute {
                url: self.queue_url.clone(),
                kinds: Kinds::default(),
            }],
        );
        output.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(20), 3);
        FeedOutputs::feed_only(self.feed()).with(output)
    }

    fn queue(&self) -> SqsPushQueue {
        SqsPushQueue::new(self.sqs.clone(), &self.queue_url)
    }

    /// One run of the wfm-push handler, `seconds` long, quick retries.
    async fn run(&self, seconds: u64) -> RunStats {
        let settings = Settings {
            backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20), 3),
            min_interval: Duration::ZERO,
            max_wait: Duration::from_secs(2),
            deadline: None,
            delivered: Default::default(),
        };
        let run = RunSettings {
            until: tokio::time::Instant::now() + Duration::from_secs(seconds),
            wait: Duration::from_secs(1),
        };
        let api = HttpWfmApi::new(Duration::from_secs(5)).unwrap();
        run_queue(
            &self.queue(),
            &self.target,
            &api,
            &self.feed(),
            &settings,
            &run,
            Utc::now,
        )
        .await
    }

    async fn agent_events(&self, file: &str) -> DynamoStateStore {
        let dynamodb = support::dynamodb(&self.config);
        let table = support::create_state_table(&dynamodb).await;
        let states = DynamoStateStore::new(dynamodb, table);
        let outcome = handle_batch(
            &events_file(file),
            &states,
            &self.sink(),
            &AgentSettings::default(),
            Utc::now(),
        )
        .await;
        assert_eq!(outcome.failed_from(), None);
        states
    }

    /// The feed's records of `kind`, in the order written.
    async fn feed_records(&self, kind: &str) -> Vec<Value> {
        let mut lines = support::read_json_lines(&self.s3, &self.bucket, &format!("wfm/{kind}/")).await;
        lines.retain(|l| l["kind"] == kind);
        lines
    }

    async fn rejects(&self) -> Vec<Value> {
        support::read_json_lines(&self.s3, &self.bucket, "wfm/rejects/").await
    }

    async fn messages_left(&self) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or_default()
        };
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }
}

/// Each agent's states as the feed wrote them, by agent id.
fn per_agent(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by_agent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        by_agent
            .entry(r["agent_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(r["state"].as_str().unwrap().to_owned());
    }
    by_agent
}

/// Each agent's states as the WFM took them (plain states, not snapshots), by UserCode.
fn taken_per_agent(wfm: &Wfm) -> BTreeMap<String, Vec<String>> {
    let mut by_agent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user, state, snapshot) in wfm.states() {
        if !snapshot {
            by_agent.entry(user).or_default().push(state);
        }
    }
    by_agent
}

#[tokio::test]
async fn a_wfm_down_for_a_while_then_back_gets_everything_each_agent_in_order() {
    let stack = Stack::new(30).await;
    stack.agent_events("kinesis-all-stories.json").await;
    let written = stack.feed_records("agent_state").await;
    assert!(written.len() > 10);

    stack.wfm.down(usize::MAX);
    let down = stack.run(2).await;
    assert_eq!(down.records_pushed, 0);
    assert!(
        down.pending > 0 && down.unavailable.as_deref().is_some_and(|r| r.contains("503")),
        "{down:?}"
    );
    assert_eq!(
        stack.messages_left().await,
        written.len(),
        "every record still waits in the queue"
    );

    stack.wfm.down(0);
    let back = stack.run(3).await;
    assert_eq!(back.records_pushed, written.len(), "{back:?}");
    assert_eq!(
        taken_per_agent(&stack.wfm),
        per_agent(&written),
        "nothing lost, each agent in order"
    );
    assert_eq!(stack.messages_left().await, 0);
    assert!(stack.rejects().await.is_empty());
}

#[tokio::test]
async fn a_refused_state_is_kept_with_the_wfms_message_and_the_others_are_delivered() {
    let stack = Stack::new(30).await;
    let state = |agent: &str, s: &str, n: u32| {
        json!({"kind":"agent_state","schema":1,"instance_id":"i-1","agent_id":agent,"agent_login":null,"state":s,
            "event_id":format!("{agent}-{n}"),"event_time":"2026-11-20T10:00:00.000Z"})
        .to_string()
    };
    let lines = [
        state("a-1", "Available", 1),
        state("a-2", "Break", 1),
        state("a-1", "BAD", 2),
        state("a-3", "Available", 1),
        state("a-1", "Break", 3),
        state("a-2", "Available", 2),
    ];
    let body = FeedBody::parse(lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()).unwrap();
    stack
        .sink()
        .put("agent_state/2026-11-20/object-1.jsonl", body)
        .await
        .unwrap();

    let stats = stack.run(2).await;
    assert_eq!(
        (stats.records_pushed, stats.refused, stats.pending),
        (5, 1, 0),
        "{stats:?}"
    );
    let taken = taken_per_agent(&stack.wfm);
    assert_eq!(taken["a-1"], ["Available", "Break"], "a-1's later state is not blocked");
    assert_eq!(taken["a-2"], ["Break", "Available"]);
    assert_eq!(taken["a-3"], ["Available"]);
    let rejects = stack.rejects().await;
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["function"], "wfm-push");
    assert_eq!(
        rejects[0]["reason"],
        "HTTP 400: StateCode BAD of \"a-1\" is not configured"
    );
    assert_eq!(rejects[0]["raw"], lines[2]);
    assert!(rejects[0]["input"].as_str().unwrap().contains("record a-1-2"));
    assert_eq!(
        stack.messages_left().await,
        0,
        "the refused record's message is not left to block"
    );
}

#[tokio::test]
async fn a_redelivered_batch_and_a_crashed_run_neither_repeat_nor_reorder() {
    let stack = Stack::new(2).await;
    let states = stack.agent_events("kinesis-all-stories.json").await;
    // The same Kinesis batch again (a replay after a failure): its records are written to the
    // feed again, and the queue's de-duplication by event_id drops them.
    let outcome = handle_batch(
        &events_file("kinesis-all-stories.json"),
        &states,
        &stack.sink(),
        &AgentSettings::default(),
        Utc::now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    let written = stack.feed_records("agent_state").await;
    assert_eq!(
        stack.messages_left().await,
        written.len(),
        "each record once in the queue"
    );

    // A run that took a message and died before delivering it: it comes back after the
    // visibility timeout, first in its group. (One message: when several messages of one group
    // time out together, moto hands out the last of them first, which SQS does not.)
    let taken = stack.queue().receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(taken.len(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let stats = stack.run(3).await;
    assert_eq!(stats.records_pushed, written.len(), "{stats:?}");
    assert_eq!(taken_per_agent(&stack.wfm), per_agent(&written));
}

#[tokio::test]
async fn a_snapshot_slot_goes_whole_as_one_snapshot_call() {
    let stack = Stack::new(30).await;
    let states = stack.agent_events("kinesis-all-stories.json").await;
    let clock: DateTime<Utc> = "2026-11-20T10:00:00Z".parse().unwrap();
    let settings = SweepSettings::default();
    let sink = stack.sink();
    let swept = sweep_agents(&states, &sink, &sink.feed, &settings, clock)
        .await
        .unwrap();
    assert_eq!(swept.failures, 0);
    let snapshot = stack.feed_records("agent_snapshot").await;
    assert!(snapshot.len() >= 2, "{snapshot:?}");

    let stats = stack.run(3).await;
    assert_eq!(stats.refused, 0);
    let calls: Vec<Value> = stack
        .wfm
        .taken()
        .into_iter()
        .map(|t| t.body)
        .filter(|b| b["IsSnapshot"] == true)
        .collect();
    assert_eq!(calls.len(), 1, "the slot in one call");
    let mut sent: Vec<(String, String)> = calls[0]["States"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["UserCode"].as_str().unwrap().to_owned(),
                s["StateCode"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = snapshot
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    sent.sort();
    expected.sort();
    assert_eq!(sent, expected);
    // The states before the slot (and the sweep's UNKNOWNs) arrived too, each agent in order.
    assert_eq!(
        taken_per_agent(&stack.wfm),
        per_agent(&stack.feed_records("agent_state").await)
    );
}

#[tokio::test]
async fn a_snapshot_of_thousands_of_agents_is_one_message_and_one_snapshot_call_per_thousand_states() {
    let stack = Stack::new(30).await;
    let lines: String = (0..3000)
        .map(|n| {
            json!({"kind":"agent_snapshot","schema":1,"instance_id":"i-1","agent_id":format!("a-{n:05}"),"agent_login":null,
                "state":"Available","reason":"Available","activity":"Idle","since":"2026-11-20T09:00:00.000Z","contact":null,
                "last_seen":"2026-11-20T10:14:00.000Z","as_of":"2026-11-20T10:15:00.000Z"})
            .to_string()
                + "\n"
        })
        .collect();
    assert!(lines.len() > 256 * 1024, "{} bytes as written", lines.len());
    stack
        .sink()
        .put(
            "agent_snapshot/2026-11-20/slot.jsonl",
            FeedBody::parse(lines.into_bytes()).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stack.messages_left().await, 1, "one message, compressed");

    let stats = stack.run(3).await;
    assert_eq!((stats.records_pushed, stats.refused), (3000, 0), "{stats:?}");
    let calls: Vec<usize> = stack
        .wfm
        .taken()
        .iter()
        .map(|t| {
            assert_eq!(t.body["IsSnapshot"], true);
            t.body["States"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(calls, [1000, 1000, 1000]);
    let agents: Vec<String> = stack.wfm.states().into_iter().map(|(user, _, _)| user).collect();
    let expected: Vec<String> = (0..3000).map(|n| format!("a-{n:05}")).collect();
    assert_eq!(agents, expected, "every agent once, in order");
    assert_eq!(stack.messages_left().await, 0);
}

/// The wfm-push binary as Lambda runs it (support::lambda_command), for the stack's target
/// (Calabrio, `UserCode` = agent id), runs of two seconds; its key from Secrets Manager.
async fn wfm_push_process(stack: &Stack, secret_id: &str) -> (support::RuntimeApi, tokio::process::Child) {
    let runtime = support::RuntimeApi::start().await;
    let function = support::lambda_command("wfm-push", &runtime)
        .env("FEED_BUCKET", &stack.bucket)
        .env("FEED_PREFIX", "wfm")
        .env("WFM_TARGET", "calabrio")
        .env("WFM_URL", &stack.wfm.url)
        .env("WFM_SECRET_ID", secret_id)
        .env("WFM_SOURCE_ID", "7")
        .env("WFM_USER_CODE", "id")
        .env("WFM_PUSH_QUEUE_URL", &stack.queue_url)
        .env("RUN_SECONDS", "2")
        .spawn()
        .expect("spawn wfm-push");
    (runtime, function)
}

/// One scheduled invocation of a wfm-push process: its answer.
async fn invoke_push(runtime: &support::RuntimeApi) -> Value {
    let (outcome, response) = runtime.invoke(json!({}), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    response
}

#[tokio::test]
async fn a_fresh_wfm_push_process_sends_a_snapshot_with_the_newer_state_the_last_one_delivered() {
    let stack = Stack::new(30).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.config);
    let secret_id = support::unique("calabrio-key");
    secrets
        .create_secret()
        .name(&secret_id)
        .secret_string(KEY)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        });
    let now = Utc::now();
    let at =
        |seconds_ago: i64| connect_wfm_core::timefmt::feed_timestamp(&(now - chrono::TimeDelta::seconds(seconds_ago)));
    let day = now.date_naive();
    let put = |key: String, lines: Vec<Value>| {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let sink = stack.sink();
        async move {
            sink.put(&key, FeedBody::parse(body.into_bytes()).unwrap())
                .await
                .unwrap()
        }
    };

    // The sweep read a-1's row (Available since ten minutes ago); a-1 went on Break just after,
    // and agent-events wrote that first: the first process delivers it and keeps its memory.
    put(
        format!("agent_state/{day}/break.jsonl"),
        vec![
            json!({"kind":"agent_state","schema":1,"instance_id":"i-1","agent_id":"a-1","agent_login":null,
            "state":"Break","since":at(60),"event_id":"a-1-9","event_time":at(60)}),
        ],
    )
    .await;
    let (runtime, mut first) = wfm_push_process(&stack, &secret_id).await;
    let response = invoke_push(&runtime).await;
    assert_eq!(
        (&response["records_pushed"], &response["memory_kept"]),
        (&json!(1), &json!(true)),
        "{response}"
    );
    first.kill().await.expect("stop the first wfm-push process");
    let kept: Value = serde_json::from_slice(
        &support::get_object(&stack.s3, &stack.bucket, "wfm/_push/calabrio/delivered.json").await,
    )
    .unwrap();
    assert_eq!(kept["agents"]["a-1"]["state"], "Break", "{kept}");

    // The snapshot of that sweep, which still shows a-1 Available, reaches a second process
    // (a cold start): the WFM gets a-1's Break in it, and a-2's state as written.
    put(
        format!("agent_snapshot/{day}/slot.jsonl"),
        ["a-1", "a-2"]
            .iter()
            .zip(["Available", "Lunch"])
            .map(|(agent, state)| {
                json!({"kind":"agent_snapshot","schema":1,"instance_id":"i-1","agent_id":agent,"agent_login":null,
                    "state":state,"since":at(600),"as_of":at(90)})
            })
            .collect(),
    )
    .await;
    let (runtime, mut second) = wfm_push_process(&stack, &secret_id).await;
    let response = invoke_push(&runtime).await;
    assert_eq!(response["records_pushed"], json!(2), "{response}");
    second.kill().await.expect("stop the second wfm-push process");
    let own = |agent: &str, state: &str, snapshot: bool| (agent.to_owned(), state.to_owned(), snapshot);
    assert_eq!(
        stack.wfm.states(),
        [
            own("a-1", "Break", false),
            own("a-1", "Break", true),
            own("a-2", "Lunch", true)
        ]
    );
    assert_eq!(stack.messages_left().await, 0);
}

/// Figures (printed, not asserted): `scripts/test -p connect-wfm-e2e --test wfm_push -- --ignored
/// --nocapture figures`. Delivery lag: agent states written at 200 a second (feed objects of 20,
/// as Kinesis batches come) while the pusher runs at the default rate; lag = the WFM's receipt
/// − `event_time` (the time of writing). Then a backlog (FIGURES_OBJECTS × 100 states, default 300) in one run at the
/// default rate (5 calls a second, up to 1,000 states each). moto's FIFO queue compares each new
/// message with every one it holds (de-duplication), so larger backlogs mostly time the emulator.
#[tokio::test]
#[ignore = "prints figures; slow"]
async fn figures() {
    let stack = Stack::new(30).await;
    let sink = stack.sink();
    let line = |agent: usize, n: usize, at: DateTime<Utc>| {
        json!({"kind":"agent_state","schema":1,"instance_id":"i-1","agent_id":format!("a-{agent}"),
            "agent_login":null,"state":format!("S{n}"),"event_id":format!("e-{agent}-{n}-{}", at.timestamp_micros()),
            "event_time":connect_wfm_core::timefmt::feed_timestamp(&at)})
        .to_string()
    };
    let api = HttpWfmApi::new(Duration::from_secs(5)).unwrap();
    let settings = Settings::default();

    // Lag while writing.
    let writer = async {
        for object in 0..50 {
            let now = Utc::now();
            let body: String = (0..20).map(|i| line(object * 20 + i, object, now) + "\n").collect();
            sink.put(
                &format!("agent_state/x/{object}.jsonl"),
                FeedBody::parse(body.into_bytes()).unwrap(),
            )
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let run = RunSettings {
        until: tokio::time::Instant::now() + Duration::from_secs(25),
        wait: Duration::from_secs(1),
    };
    let (queue, feed) = (stack.queue(), stack.feed());
    let (_, stats) = tokio::join!(
        writer,
        run_queue(&queue, &stack.target, &api, &feed, &settings, &run, Utc::now)
    );
    let mut lags: Vec<f64> = Vec::new();
    // Each delivered state's lag: the call's time minus the record's event_time (by agent and
    // state, which identify a record here).
    let written: BTreeMap<(String, String), DateTime<Utc>> = stack
        .feed_records("agent_state")
        .await
        .iter()
        .map(|r| {
            (
                (
                    r["agent_id"].as_str().unwrap().to_owned(),
                    r["state"].as_str().unwrap().to_owned(),
                ),
                r["event_time"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    for taken in stack.wfm.taken() {
        let at: DateTime<Utc> = taken.at.into();
        for s in taken.body["States"].as_array().unwrap() {
            let key = (
                s["UserCode"].as_str().unwrap().to_owned(),
                s["StateCode"].as_str().unwrap().to_owned(),
            );
            if let Some(event_time) = written.get(&key) {
                lags.push((at - *event_time).num_milliseconds() as f64 / 1000.0);
            }
        }
    }
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "lag: {} of {} states delivered while written at 200/s, {} calls; p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        lags.len(),
        written.len(),
        stats.calls,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // Throughput of a backlog.
    let before = stack.wfm.taken().len();
    let now = Utc::now();
    let objects: usize = std::env::var("FIGURES_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let written_at = std::time::Instant::now();
    for object in 0..objects {
        let body: String = (0..100)
            .map(|i| line(object * 100 + i, 1000 + object, now) + "\n")
            .collect();
        sink.put(
            &format!("agent_state/y/{object}.jsonl"),
            FeedBody::parse(body.into_bytes()).unwrap(),
        )
        .await
        .unwrap();
    }
    println!(
        "backlog: {} states written in {:.1} s",
        objects * 100,
        written_at.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let run = RunSettings {
        until: tokio::time::Instant::now() + Duration::from_secs(40),
        wait: Duration::from_secs(1),
    };
    let stats = run_queue(
        &stack.queue(),
        &stack.target,
        &api,
        &stack.feed(),
        &settings,
        &run,
        Utc::now,
    )
    .await;
    let (delivered, elapsed) = (stats.records_pushed, started.elapsed());
    let calls = stack.wfm.taken().len() - before;
    let last_call: DateTime<Utc> = stack.wfm.taken().last().unwrap().at.into();
    let first_call: DateTime<Utc> = stack.wfm.taken()[before].at.into();
    println!(
        "backlog: {delivered} states in {calls} calls; {:.0} states/s from the first call to the last ({:.1} s), {:.1} s in all",
        delivered as f64 / ((last_call - first_call).num_milliseconds().max(1) as f64 / 1000.0),
        (last_call - first_call).num_milliseconds() as f64 / 1000.0,
        elapsed.as_secs_f64()
    );
}
