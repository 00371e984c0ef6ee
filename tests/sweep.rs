//! The sweep end to end against the AWS emulator: the sparse `active_by_instance` index, the
//! progress item, the conditional commit of `UNKNOWN` (real ConditionalCheckFailed answers),
//! and the DynamoDB requests of one sweep at 1,000 and 10,000 agents, counted on the wire.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_aws::item::agent_state_to_item;
use connect_wfm_aws::{DynamoStateStore, S3FeedSink};
use connect_wfm_core::agent::{Activity, AgentState, AgentStateMapping, SweepPolicy, Watermark, silence_agent};
use connect_wfm_core::ports::{AgentDirectory, AgentStateStore, CommitOutcome, ProgressStore};
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use connect_wfm_handlers::sweep::{SweepSettings, sweep_agents};
use serde_json::{Value, json};

const INSTANCE: &str = "7d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f";

fn t(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().unwrap()
}

fn agent_arn(agent: &str) -> String {
    format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}/agent/{agent}")
}

fn event(agent: &str, id: &str, clock: &str, event_type: &str, status: &str) -> Value {
    json!({
        "AWSAccountId": "123456789012",
        "AgentARN": agent_arn(agent),
        "InstanceARN": format!("arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}"),
        "EventId": id,
        "EventTimestamp": format!("2026-11-21T{clock}Z"),
        "EventType": event_type,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": status, "Type": if status == "Available" { "ROUTABLE" } else { "CUSTOM" },
                             "StartTimestamp": format!("2026-11-21T{clock}Z") },
            "Configuration": { "Username": format!("login-{agent}") },
            "Contacts": []
        }
    })
}

fn batch(first_seq: u64, events: &[Value]) -> KinesisBatch {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = format!("{:056}", first_seq + i as u64);
            json!({ "eventID": format!("shardId-000000000000:{seq}"), "kinesis": {
                "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap()) } })
        })
        .collect();
    KinesisBatch::from_records(records)
}

struct Stack {
    s3: aws_sdk_s3::Client,
    bucket: String,
    states: DynamoStateStore,
    sink: S3FeedSink,
    requests: support::RequestLog,
}

async fn stack() -> Stack {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let (dynamodb, requests) = support::recording_dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    requests.clear();
    Stack {
        states: DynamoStateStore::new(dynamodb, table),
        sink: S3FeedSink::new(s3.clone(), bucket.clone(), "wfm"),
        s3,
        bucket,
        requests,
    }
}

#[tokio::test]
async fn the_index_holds_only_logged_in_agents_and_the_sweep_commits_unknown_once() {
    let stack = stack().await;
    let events = [
        event("a", "a1", "10:00:00", "STATE_CHANGE", "Available"),
        event("b", "b1", "10:00:10", "STATE_CHANGE", "Break"),
        event("c", "c1", "10:00:20", "LOGOUT", "Offline"),
        event("b", "b2", "10:06:00", "STATE_CHANGE", "Available"),
    ];
    let outcome = handle_batch(
        &batch(1, &events),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        t("12:00:00"),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    assert_eq!(outcome.stats.progressed, 1);

    let progress = stack.states.load_progress().await.unwrap();
    assert_eq!(progress.len(), 1);
    assert_eq!(
        (progress[0].instance_id.as_str(), progress[0].newest_event),
        (INSTANCE, t("10:06:00"))
    );
    let mut active: Vec<String> = stack
        .states
        .active_agents(INSTANCE)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.agent_id)
        .collect();
    active.sort();
    assert_eq!(active, ["a", "b"], "the logged-out agent is not in the sparse index");
    assert!(stack.states.active_agents("another-instance").await.unwrap().is_empty());

    stack.requests.clear();
    let stats = sweep_agents(
        &stack.states,
        &stack.sink,
        &stack.sink,
        &SweepSettings::default(),
        t("10:06:10"),
    )
    .await
    .unwrap();
    assert_eq!((stats.silent_agents, stats.superseded, stats.failures), (1, 0, 0));
    // GetItem (progress), Query (the index: keys only), BatchGetItem (the rows it names),
    // TransactWriteItems (a's UNKNOWN).
    assert_eq!(
        (
            stack.requests.count("GetItem"),
            stack.requests.count("Query"),
            stack.requests.count("BatchGetItem"),
            stack.requests.count("TransactWriteItems")
        ),
        (1, 1, 1, 1)
    );
    let a = stack
        .states
        .load_many(&[agent_arn("a")])
        .await
        .unwrap()
        .states
        .remove(&agent_arn("a"))
        .unwrap();
    assert_eq!((a.state.as_str(), a.silent_since), ("UNKNOWN", Some(t("10:05:00"))));
    let lines = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/agent_state/2026-11-21/sweep-").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["event_id"], "silence-a-1795255200000");

    // A second sweep: nothing new, no write.
    stack.requests.clear();
    let again = sweep_agents(
        &stack.states,
        &stack.sink,
        &stack.sink,
        &SweepSettings::default(),
        t("10:06:20"),
    )
    .await
    .unwrap();
    assert_eq!((again.silent_agents, again.superseded), (0, 0));
    assert_eq!(
        stack.requests.count("PutItem") + stack.requests.count("TransactWriteItems"),
        0
    );

    // a's heartbeat recovers it; the state leaves UNKNOWN and stays in the index.
    let hb = [event("a", "a2", "10:07:00", "HEART_BEAT", "Available")];
    let outcome = handle_batch(
        &batch(10, &hb),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        t("12:00:00"),
    )
    .await;
    assert_eq!(outcome.stats.transitions, 1);
    let a = stack
        .states
        .load_many(&[agent_arn("a")])
        .await
        .unwrap()
        .states
        .remove(&agent_arn("a"))
        .unwrap();
    assert_eq!(
        (a.state.as_str(), a.silent_since, a.last_silence),
        ("Available", None, Some(t("10:05:00")))
    );
}

fn state(agent: &str, state: &str, clock: &str) -> AgentState {
    AgentState {
        stream_newest: None,
        agent_arn: agent_arn(agent),
        agent_id: agent.into(),
        instance_id: INSTANCE.into(),
        agent_login: Some(format!("login-{agent}")),
        state: state.into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: t(clock),
        contact: None,
        watermark: Watermark::new(t(clock), format!("{agent}-{clock}")),
        last_seen: t(clock),
        silent_since: None,
        last_silence: None,
        silenced_at: None,
        silenced_from: None,
        segment: Some(connect_wfm_core::agent::OpenSegment {
            start: t(clock),
            id: format!("{agent}-{clock}"),
        }),
        silenced_segment: None,
        profile: None,
        excluded: false,
    }
}

#[tokio::test]
async fn the_conditional_commit_settles_the_race_in_both_orders() {
    let stack = stack().await;
    let mapping = AgentStateMapping::default();
    let silence = Duration::seconds(300);
    let loaded = state("a", "Available", "10:00:00");
    assert_eq!(stack.states.commit(&loaded).await.unwrap(), CommitOutcome::Committed);
    let (_, unknown) = silence_agent(&loaded, silence, &mapping);
    let newer = AgentState {
        watermark: Watermark::new(t("10:06:00"), "a-newer"),
        last_seen: t("10:06:00"),
        ..loaded.clone()
    };

    // A batch commits first: the sweep's UNKNOWN (same watermark) is refused by DynamoDB.
    assert_eq!(stack.states.commit(&newer).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(stack.states.commit(&unknown).await.unwrap(), CommitOutcome::Superseded);

    // The sweep commits first: a batch that loaded the agent before cannot erase UNKNOWN...
    let b = state("b", "Available", "10:00:00");
    stack.states.commit(&b).await.unwrap();
    let (_, b_unknown) = silence_agent(&b, silence, &mapping);
    assert_eq!(stack.states.commit(&b_unknown).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(
        stack.states.commit(&b_unknown).await.unwrap(),
        CommitOutcome::Superseded,
        "a second sweep"
    );
    let blind = AgentState {
        watermark: Watermark::new(t("10:06:00"), "b-newer"),
        last_seen: t("10:06:00"),
        ..b.clone()
    };
    assert_eq!(stack.states.commit(&blind).await.unwrap(), CommitOutcome::Superseded);
    // ...while the same batch folded over the stored UNKNOWN (its recovery) wins.
    let recovered = AgentState {
        last_silence: b_unknown.silent_since,
        silenced_at: None,
        silenced_from: None,
        segment: None,
        silenced_segment: None,
        profile: None,
        excluded: false,
        ..blind
    };
    assert_eq!(stack.states.commit(&recovered).await.unwrap(), CommitOutcome::Committed);
    let stored = stack
        .states
        .load_many(&[agent_arn("b")])
        .await
        .unwrap()
        .states
        .remove(&agent_arn("b"))
        .unwrap();
    assert_eq!(stored, recovered);

    // The instance silence is conditional on the progress the sweep judged.
    stack.states.advance_progress(INSTANCE, t("10:00:00")).await.unwrap();
    stack.states.advance_progress(INSTANCE, t("09:00:00")).await.unwrap();
    let judged = connect_wfm_core::agent::InstanceSilence {
        since: t("10:05:00"),
        last_event_time: t("10:00:00"),
        agents: 2,
    };
    stack.states.advance_progress(INSTANCE, t("10:05:30")).await.unwrap();
    assert_eq!(
        stack.states.mark_silent(INSTANCE, &judged).await.unwrap(),
        CommitOutcome::Superseded
    );
    let judged = connect_wfm_core::agent::InstanceSilence {
        since: t("10:10:30"),
        last_event_time: t("10:05:30"),
        agents: 2,
    };
    assert_eq!(
        stack.states.mark_silent(INSTANCE, &judged).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        stack.states.mark_silent(INSTANCE, &judged).await.unwrap(),
        CommitOutcome::Superseded
    );
    let progress = stack.states.load_progress().await.unwrap();
    assert_eq!(
        (progress[0].newest_event, progress[0].silence),
        (t("10:05:30"), Some(judged))
    );
    stack.states.clear_silent(INSTANCE, &judged).await.unwrap();
    assert_eq!(stack.states.load_progress().await.unwrap()[0].silence, None);
}

/// Writes `count` agent states straight into the table (25 per BatchWriteItem), all Available
/// and last seen at `clock`, except one in ten logged out.
async fn populate(stack: &Stack, count: usize, clock: &str) {
    let client = &stack.states.client;
    let items: Vec<WriteRequest> = (0..count)
        .map(|i| {
            let name = if i % 10 == 9 { "LOGOUT" } else { "Available" };
            let item = agent_state_to_item(&state(&format!("agent-{i:05}"), name, clock));
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in items.chunks(25) {
        let mut pending: HashMap<String, Vec<WriteRequest>> =
            HashMap::from([(stack.states.table.clone(), chunk.to_vec())]);
        while !pending.is_empty() {
            let output = client
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .unwrap();
            pending = output.unprocessed_items.unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
        }
    }
}

/// The DynamoDB requests of one sweep, by operation, and the sweep's counts.
async fn one_sweep(stack: &Stack, clock: &str, policy: &SweepPolicy) -> (Vec<(&'static str, usize)>, usize, usize) {
    stack.requests.clear();
    let settings = SweepSettings {
        policy: policy.clone(),
        ..SweepSettings::default()
    };
    let stats = sweep_agents(&stack.states, &stack.sink, &stack.sink, &settings, t(clock))
        .await
        .unwrap();
    assert_eq!(stats.failures, 0);
    let by_operation = [
        "GetItem",
        "Query",
        "BatchGetItem",
        "Scan",
        "UpdateItem",
        "PutItem",
        "TransactWriteItems",
    ]
    .into_iter()
    .map(|op| (op, stack.requests.count(op)))
    .filter(|(_, n)| *n > 0)
    .collect();
    (by_operation, stack.requests.total(), stats.silent_agents)
}

/// One sweep at 1,000 and 10,000 agents (one in ten logged out), counted on the wire: a quiet
/// minute, a snapshot minute, and the minute a whole instance falls silent. Printed for the
/// README's cost figures.
#[tokio::test]
async fn the_requests_of_one_sweep_at_1000_and_10000_agents() {
    for agents in [1_000usize, 10_000] {
        let stack = stack().await;
        populate(&stack, agents, "10:00:00").await;
        stack.states.advance_progress(INSTANCE, t("10:00:30")).await.unwrap();
        let active = agents - agents / 10;
        let policy = SweepPolicy::default();

        let (snapshot, total, silent) = one_sweep(&stack, "10:00:40", &policy).await;
        eprintln!("sweep requests, {agents} agents, a quiet snapshot minute: {total} {snapshot:?}");
        assert_eq!(silent, 0);
        assert!(snapshot.iter().any(|(op, _)| *op == "Scan"));
        assert!(
            snapshot.contains(&("UpdateItem", 2)),
            "the slot and the agent intervals (none yet) recorded as written on the progress item: {snapshot:?}"
        );

        let (quiet, total, silent) = one_sweep(&stack, "10:01:10", &policy).await;
        eprintln!("sweep requests, {agents} agents ({active} not logged out), a quiet minute: {total} {quiet:?}");
        assert_eq!(silent, 0);
        assert_eq!(quiet[0], ("GetItem", 1));
        let count = |op: &str| quiet.iter().find(|(o, _)| *o == op).map_or(0, |(_, n)| *n);
        assert_eq!(
            count("BatchGetItem"),
            active.div_ceil(100),
            "the rows of the agents the index names, 100 a request"
        );
        assert_eq!(
            total,
            1 + count("Query") + count("BatchGetItem"),
            "one GetItem, the index's pages and the rows, nothing else"
        );

        let (silence, total, silent) = one_sweep(&stack, "10:05:30", &policy).await;
        eprintln!("sweep requests, {agents} agents, the minute the instance falls silent: {total} {silence:?}");
        assert_eq!(silent, active);
        assert!(
            silence.contains(&("TransactWriteItems", active.div_ceil(100))) && silence.contains(&("UpdateItem", 1)),
            "the UNKNOWN commits 100 a transaction: {silence:?}"
        );

        let (after, total, silent) = one_sweep(&stack, "10:06:30", &policy).await;
        eprintln!("sweep requests, {agents} agents, a minute of the instance's silence: {total} {after:?}");
        assert_eq!(silent, 0);

        // The first minute after 10:15: every active agent's agent_interval record of 10:00
        // (Available until the silence at 10:05, then UNKNOWN), from the pieces the silence
        // wrote and the open UNKNOWN segments; one more UpdateItem (the interval written), beside
        // the snapshot of the 10:15 slot.
        let started = std::time::Instant::now();
        let (boundary, total, _) = one_sweep(&stack, "10:15:10", &policy).await;
        eprintln!(
            "sweep requests, {agents} agents, the first minute after an interval (agent_interval records): {total} {boundary:?}, {:.1} s on the emulator",
            started.elapsed().as_secs_f64()
        );
        assert!(boundary.contains(&("UpdateItem", 2)), "{boundary:?}");
        let key = format!("wfm/agent_interval/2026-11-21/stream/{INSTANCE}/1000.jsonl");
        let body = String::from_utf8(support::get_object(&stack.s3, &stack.bucket, &key).await).unwrap();
        assert_eq!(body.lines().count(), active);
        let first: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert_eq!(
            (&first["idle_time_s"], &first["unknown_time_s"]),
            (&json!(300), &json!(600))
        );
    }
}

/// `(agent_id, login_time_s, idle_time_s, not_ready_time_s)` of the stream-basis
/// `agent_interval` object of the 10:00 interval, read from the emulator's S3.
async fn agent_interval_1000(stack: &Stack) -> Vec<(String, i64, i64, i64)> {
    let key = format!("wfm/agent_interval/2026-11-21/stream/{INSTANCE}/1000.jsonl");
    let body = support::get_object(&stack.s3, &stack.bucket, &key).await;
    String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap().to_owned(),
                r["login_time_s"].as_i64().unwrap(),
                r["idle_time_s"].as_i64().unwrap(),
                r["not_ready_time_s"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The agent's day on the emulator: agent-events writes the pieces to S3 and keeps the open
/// segment on the DynamoDB row; the first sweep after 10:15 reads the pieces back (ListObjectsV2
/// and GetObject of the interval's folder) and writes the instance's agent_interval object; a
/// late event marks the interval (a number set on the progress item) and the next sweep
/// rewrites it.
#[tokio::test]
async fn agent_intervals_are_written_after_the_interval_and_rewritten_after_late_input() {
    let stack = stack().await;
    let deliver = async |first_seq: u64, events: &[Value], now: &str| {
        let outcome = handle_batch(
            &batch(first_seq, events),
            &stack.states,
            &stack.sink,
            &Settings::default(),
            t(now),
        )
        .await;
        assert_eq!(outcome.failed_from(), None);
        outcome.stats
    };
    deliver(
        1,
        &[
            event("a", "a1", "10:01:00", "STATE_CHANGE", "Available"),
            event("a", "a2", "10:05:00", "STATE_CHANGE", "Break"),
            event("a", "a3", "10:08:00", "HEART_BEAT", "Break"),
            event("a", "a4", "10:11:30", "HEART_BEAT", "Break"),
            event("b", "b1", "10:14:00", "STATE_CHANGE", "Available"),
        ],
        "10:14:01",
    )
    .await;
    let stored = stack.states.load_many(&[agent_arn("a")]).await.unwrap();
    assert_eq!(
        stored.states[&agent_arn("a")].segment.as_ref().unwrap().start,
        t("10:05:00")
    );

    let sweep = async |clock: &str| {
        sweep_agents(
            &stack.states,
            &stack.sink,
            &stack.sink,
            &SweepSettings::default(),
            t(clock),
        )
        .await
        .unwrap()
    };
    let first = sweep("10:15:10").await;
    assert_eq!(
        (first.agent_intervals, first.agent_interval_records, first.failures),
        (1, 2, 0)
    );
    assert_eq!(
        agent_interval_1000(&stack).await,
        [("a".to_owned(), 840, 240, 600), ("b".to_owned(), 60, 60, 0)]
    );
    assert_eq!(sweep("10:16:10").await.agent_intervals, 0);

    let late = deliver(
        10,
        &[event("a", "a5", "10:12:00", "STATE_CHANGE", "Available")],
        "10:16:20",
    )
    .await;
    assert_eq!((late.pieces, late.changed_intervals), (1, 1));
    let progress = stack.states.load_progress().await.unwrap();
    assert_eq!(progress[0].changed_intervals, [t("10:00:00")]);
    let again = sweep("10:17:10").await;
    assert_eq!((again.agent_intervals, again.failures), (1, 0));
    assert_eq!(
        agent_interval_1000(&stack).await,
        [("a".to_owned(), 840, 420, 420), ("b".to_owned(), 60, 60, 0)]
    );
    let progress = stack.states.load_progress().await.unwrap();
    assert!(progress[0].changed_intervals.is_empty());
    assert_eq!(progress[0].agent_intervals_done, Some(t("10:00:00")));
}
