//! The agent-events handler end to end against the AWS emulator: real DynamoDB and S3 calls
//! through the SDK, real conditional-write failures.

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_aws::{DynamoStateStore, S3FeedSink};
use connect_wfm_core::ports::{AgentStateStore, CommitOutcome};
use connect_wfm_e2e as support;
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use serde_json::{Value, json};

fn events_file(name: &str) -> KinesisBatch {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

fn states(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["agent_id"].as_str().unwrap().to_owned(),
                l["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
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
async fn a_batch_lands_in_dynamodb_and_s3_and_its_replay_adds_nothing() {
    let stack = stack().await;
    let batch = events_file("kinesis-all-stories.json");
    let outcome = handle_batch(&batch, &stack.states, &stack.sink, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), None);

    let lines = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/agent_state/2026-11-20/").await;
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/expected/kinesis-all-stories.states.txt"),
    )
    .unwrap();
    let expected: Vec<(String, String)> = expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(' ')
                .map(|(a, s)| (a.to_owned(), s.trim().to_owned()))
                .unwrap()
        })
        .collect();
    assert_eq!(states(&lines), expected);
    assert_eq!(lines[0]["kind"], "agent_state");
    assert_eq!(lines[0]["schema"], 1);

    let arns: Vec<String> = {
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
    };
    let rows = stack.states.load_many(&arns).await.unwrap();
    assert_eq!(rows.states.len(), 4, "one row per agent");
    let jdoe = rows
        .states
        .values()
        .find(|s| s.agent_id == "62f746b4-84e6-4ceb-95bd-447e7184d454")
        .unwrap();
    assert_eq!(jdoe.state, "LOGOUT");
    assert_eq!(jdoe.agent_login.as_deref(), Some("jdoe"));

    let objects = support::read_objects(&stack.s3, &stack.bucket, "wfm/").await.len();
    let again = handle_batch(&batch, &stack.states, &stack.sink, &Settings::default(), now()).await;
    assert_eq!(again.failed_from(), None);
    assert_eq!(again.stats.transitions, 0);
    assert_eq!(
        support::read_objects(&stack.s3, &stack.bucket, "wfm/").await.len(),
        objects
    );
}

#[tokio::test]
async fn rejects_are_kept_in_the_feed_bucket_with_their_reason() {
    let stack = stack().await;
    let outcome = handle_batch(
        &events_file("kinesis-malformed-record.json"),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    let rejects = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/rejects/").await;
    assert_eq!(rejects.len(), 2);
    assert!(
        rejects
            .iter()
            .all(|r| r["reason"].as_str().unwrap().starts_with("not JSON")),
        "{rejects:?}"
    );
    assert!(
        rejects
            .iter()
            .all(|r| r["input"].as_str().unwrap().starts_with("kinesis shardId-")),
        "{rejects:?}"
    );
}

fn event(agent: &str, id: &str, at: &str, status: &str) -> Value {
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/e2e";
    json!({
        "AgentARN": format!("{instance}/agent/{agent}"), "InstanceARN": instance, "EventId": id,
        "EventTimestamp": at, "EventType": "STATE_CHANGE", "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": status, "Type": if status == "Available" { "ROUTABLE" } else { "CUSTOM" }, "StartTimestamp": at },
            "Configuration": { "Username": format!("user-{agent}") }, "Contacts": []
        }
    })
}

fn batch(first_seq: u64, events: &[Value]) -> KinesisBatch {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = format!("{:056}", first_seq + i as u64);
            json!({ "eventID": format!("shardId-000000000001:{seq}"), "kinesis": {
                "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap()) } })
        })
        .collect();
    KinesisBatch::from_records(records)
}

/// 100 records spread over `agents` agents, each agent's status alternating, so every record
/// is a transition.
fn hundred_records(agents: usize) -> Vec<Value> {
    (0..100)
        .map(|n| {
            let (agent, round) = (n % agents, n / agents);
            let status = if round % 2 == 0 { "Available" } else { "Break" };
            event(
                &format!("a{agent}"),
                &format!("e{agent}-{round}"),
                &format!("2026-11-20T08:{:02}:{:02}.000Z", n / 60, n % 60),
                status,
            )
        })
        .collect()
}

/// 100 HEART_BEAT records of the agents of [`hundred_records`], each agent staying in the
/// state it ended in there, from `minute` past 08:00 on.
fn hundred_heartbeats(agents: usize, minute: usize) -> Vec<Value> {
    let last_round = (100 - 1) / agents;
    (0..100)
        .map(|n| {
            let (agent, round) = (n % agents, n / agents);
            let status = if last_round % 2 == 0 { "Available" } else { "Break" };
            let mut heartbeat = event(
                &format!("a{agent}"),
                &format!("hb{agent}-{minute}-{round}"),
                &format!("2026-11-20T08:{:02}:{:02}.000Z", minute + n / 60, n % 60),
                status,
            );
            heartbeat["EventType"] = json!("HEART_BEAT");
            heartbeat
        })
        .collect()
}

/// The DynamoDB requests of a 100-record batch for 10 and 100 agents, counted on the wire:
/// the agents' rows and the instances' progress item in one BatchGetItem (up to 100 keys), one
/// PutItem per agent whose state changed, and one UpdateItem per instance whose progress moved
/// unless a row the batch wrote carries it (a known instance with a listed row committed); no
/// PutItem on a replay (no agent changed, progress already there) nor on heartbeats within the
/// 150 s last-seen window; one last-seen PutItem per agent once the window has passed. (Printed
/// for the benchmark report too: scripts/bench.)
#[tokio::test]
async fn a_hundred_records_of_ten_agents_cost_one_batch_get_and_ten_puts() {
    for agents in [10, 100] {
        let stack = stack().await;
        let mut seq = 1;
        // `writers`: the agents allowed a write (state changed, or last-seen window passed).
        let mut run = async |what: &str, events: &[Value], writers: usize, transitions: usize| {
            stack.requests.clear();
            // Delivered a second after its newest event, as a live stream delivers: no piece is
            // late (see the sweep's agent_interval records).
            let newest = events
                .iter()
                .map(|e| e["EventTimestamp"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap())
                .max()
                .unwrap();
            let outcome = handle_batch(
                &batch(seq, events),
                &stack.states,
                &stack.sink,
                &Settings::default(),
                newest + chrono::Duration::seconds(1),
            )
            .await;
            seq += events.len() as u64;
            assert_eq!(outcome.failed_from(), None);
            assert_eq!(outcome.stats.transitions, transitions, "{what}");
            assert_eq!(outcome.stats.changed_intervals, 0, "{what}");
            let (gets, puts, progress, total) = (
                stack.requests.count("BatchGetItem"),
                stack.requests.count("PutItem"),
                stack.requests.count("GetItem") + stack.requests.count("UpdateItem"),
                stack.requests.total(),
            );
            eprintln!(
                "DynamoDB requests for 100 records of {agents} agents, {what}: {total} \
                 (BatchGetItem {gets}, PutItem {puts}, progress GetItem + UpdateItem {progress}; \
                 target <= 2 + {writers} for up to 99 agents)"
            );
            (gets, puts, total)
        };
        // The agents' rows and the progress item in one BatchGetItem (100 keys a request: two
        // for 100 agents).
        let gets = (agents + 1_usize).div_ceil(100);
        let changes = hundred_records(agents);
        assert_eq!(
            run("every record a change", &changes, agents, 100).await,
            (gets, agents, gets + agents + 1)
        );
        // The same events again (a retry, or Connect sending them twice): all at or before the
        // watermarks, and the progress is already there.
        assert_eq!(run("replayed, no agent changed", &changes, 0, 0).await, (gets, 0, gets));
        // 08:02, within the 150 s last-seen window of the states written at 08:00-08:01 (each
        // agent's heartbeat is 120 s after its last write); the progress moves.
        let heartbeats = hundred_heartbeats(agents, 2);
        assert_eq!(run("heartbeats only", &heartbeats, 0, 0).await, (gets, 0, gets + 1));
        // 08:15: the window has passed, so each agent's last-seen is written once; those rows
        // carry the instance's progress (no UpdateItem).
        let heartbeats = hundred_heartbeats(agents, 15);
        let last_seen = "heartbeats only, 150 s last-seen window passed (a last-seen write per agent)";
        assert_eq!(
            run(last_seen, &heartbeats, agents, 0).await,
            (gets, agents, gets + agents)
        );
    }
}

#[tokio::test]
async fn a_newer_row_written_meanwhile_wins_the_conditional_write() {
    let stack = stack().await;
    let first = [event("x", "x1", "2026-11-20T08:00:00.000Z", "Available")];
    handle_batch(
        &batch(1, &first),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        now(),
    )
    .await;

    // A racing writer (a retried invocation further ahead) commits a newer state between this
    // batch's load and its commit: simulated by loading, committing the newer state, then
    // letting the handler run with the stale view.
    let arn = first[0]["AgentARN"].as_str().unwrap().to_owned();
    let mut newer = stack
        .states
        .load_many(std::slice::from_ref(&arn))
        .await
        .unwrap()
        .states
        .remove(&arn)
        .unwrap();
    newer.state = "Lunch".into();
    newer.watermark = connect_wfm_core::agent::Watermark::new("2026-11-20T09:00:00Z".parse().unwrap(), "x9");
    assert_eq!(stack.states.commit(&newer).await.unwrap(), CommitOutcome::Committed);

    let older = [event("x", "x2", "2026-11-20T08:30:00.000Z", "Break")];
    let outcome = handle_batch(
        &batch(2, &older),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None, "a lost condition is not a failure");
    let row = stack
        .states
        .load_many(std::slice::from_ref(&arn))
        .await
        .unwrap()
        .states
        .remove(&arn)
        .unwrap();
    assert_eq!(row.state, "Lunch", "the newer row stays");
    assert_eq!(row.watermark.event_ids, vec!["x9".to_owned()]);

    // The store itself refuses the stale write.
    let mut stale = row.clone();
    stale.watermark = connect_wfm_core::agent::Watermark::new("2026-11-20T08:45:00Z".parse().unwrap(), "x3");
    stale.state = "Break".into();
    assert_eq!(stack.states.commit(&stale).await.unwrap(), CommitOutcome::Superseded);
}

#[tokio::test]
async fn a_replay_from_the_middle_of_a_batch_re_emits_only_uncommitted_agents() {
    let stack = stack().await;
    let events = [
        event("p", "p1", "2026-11-20T08:00:00.000Z", "Available"),
        event("q", "q1", "2026-11-20T08:00:01.000Z", "Available"),
        event("p", "p2", "2026-11-20T08:01:00.000Z", "Break"),
        event("q", "q2", "2026-11-20T08:01:01.000Z", "Break"),
    ];
    // Agent p's records alone went through first (as if q had failed).
    handle_batch(
        &batch(1, &[events[0].clone(), events[2].clone()]),
        &stack.states,
        &stack.sink,
        &Settings::default(),
        now(),
    )
    .await;
    // Lambda re-delivers from q's first record: q1, p2, q2.
    let replay = batch(2, &events[1..]);
    let outcome = handle_batch(&replay, &stack.states, &stack.sink, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), None);
    let lines = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/agent_state/").await;
    let mut ids: Vec<&str> = lines.iter().map(|l| l["event_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["p1", "p2", "q1", "q2"], "each transition once");
}

/// A stored row that cannot be read (here: an activity no mapping knows) is permanent: it is
/// kept under the feed's rejects with its raw attributes, the agent continues as first sight,
/// and the commit replaces the row. Nothing is retried, nothing blocks the shard.
#[tokio::test]
async fn an_unreadable_stored_row_is_kept_under_rejects_and_replaced_by_the_next_commit() {
    let stack = stack().await;
    let first = batch(1, &[event("u1", "u1-1", "2026-11-20T08:00:00.000Z", "Available")]);
    assert_eq!(
        handle_batch(&first, &stack.states, &stack.sink, &Settings::default(), now())
            .await
            .failed_from(),
        None
    );
    let arn = "arn:aws:connect:us-east-1:123456789012:instance/e2e/agent/u1";
    stack
        .states
        .client
        .update_item()
        .table_name(&stack.states.table)
        .key("agent_arn", aws_sdk_dynamodb::types::AttributeValue::S(arn.into()))
        .update_expression("SET activity = :a REMOVE wm_ms")
        .expression_attribute_values(":a", aws_sdk_dynamodb::types::AttributeValue::S("Lunch".into()))
        .send()
        .await
        .unwrap();

    let next = batch(2, &[event("u1", "u1-2", "2026-11-20T08:05:00.000Z", "Break")]);
    let outcome = handle_batch(&next, &stack.states, &stack.sink, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), None, "not retried");
    assert_eq!(outcome.stats.unreadable_states, 1);
    assert_eq!(outcome.stats.committed, 1);

    let rejects = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/rejects/").await;
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0]["input"].as_str().unwrap().contains(arn));
    assert!(rejects[0]["reason"].as_str().unwrap().contains("cannot be read"));
    let raw: Value = serde_json::from_str(rejects[0]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["activity"], json!({ "S": "Lunch" }), "raw attributes as stored");

    // First sight: the transition has no previous state; the row is readable again.
    let lines = support::read_json_lines(&stack.s3, &stack.bucket, "wfm/agent_state/").await;
    let last = lines.iter().find(|l| l["event_id"] == "u1-2").unwrap();
    assert_eq!(
        (last["state"].as_str(), &last["previous_state"]),
        (Some("Break"), &Value::Null)
    );
    let row = stack.states.load_many(&[arn.to_owned()]).await.unwrap();
    assert!(row.unreadable.is_empty());
    assert_eq!(row.states[arn].state, "Break");
}

#[tokio::test]
async fn a_hung_table_fails_the_batch_as_transient_within_the_call_timeout() {
    // The functions' timeouts, shortened so the test waits seconds: a table that accepts the
    // connection and never answers.
    let config = support::sdk_config().await;
    let hung = support::silent_endpoint().await;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_millis(300))
        .operation_timeout(std::time::Duration::from_secs(1))
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .endpoint_url(&hung)
            .timeout_config(timeouts)
            .build(),
    );
    let states = DynamoStateStore::new(dynamodb, "states");
    let s3 = support::s3(&config);
    let bucket = support::create_bucket(&s3, "feed").await;
    let sink = S3FeedSink::new(s3.clone(), &bucket, "wfm");
    let batch = batch(1, &[event("a", "e1", "2026-11-20T10:00:00.000Z", "Available")]);
    // Without the call timeouts the batch would hang until Lambda's own timeout kills it.
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        handle_batch(&batch, &states, &sink, &Settings::default(), now()),
    )
    .await
    .expect("the batch ends on the call timeout, not Lambda's");
    let first = format!("{:056}", 1);
    assert_eq!(
        outcome.failed_from(),
        Some(first.as_str()),
        "the agent's records are retried, not rejected"
    );
    assert_eq!((outcome.stats.failed_agents, outcome.stats.rejected_agents), (1, 0));
    assert!(
        support::read_json_lines(&s3, &bucket, "wfm/").await.is_empty(),
        "nothing written for a batch that could not read its agents"
    );
}
