//! Handler tests with the in-memory ports: transitions, rejects, partial failure and replay.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_core::agent::{AgentState, InstanceProgress, InstanceSilence};
use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_core::ports::{
    AgentStateStore, CommitOutcome, FeedSink, KnownAgent, LoadedStates, PortError, ProgressStore, UnreadableState,
};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, StreamRecord, handle_batch};
use serde_json::{Value, json};

const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/11111111-2222-3333-4444-555555555555";

fn agent_arn(agent: &str) -> String {
    format!("{INSTANCE}/agent/{agent}")
}

/// A Connect agent event: `status` is the AgentStatus name (Type from the name for the usual
/// ones), `contacts` the CurrentAgentSnapshot.Contacts.
fn event(agent: &str, id: &str, at: &str, event_type: &str, status: &str, contacts: Value) -> Value {
    let status_type = match status {
        "Available" => "ROUTABLE",
        "Offline" => "OFFLINE",
        _ => "CUSTOM",
    };
    json!({
        "AWSAccountId": "123456789012",
        "AgentARN": agent_arn(agent),
        "InstanceARN": INSTANCE,
        "EventId": id,
        "EventTimestamp": at,
        "EventType": event_type,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "ARN": "arn:status", "Name": status, "Type": status_type, "StartTimestamp": at },
            "Configuration": { "Username": format!("login-{agent}"), "FirstName": "F", "LastName": "L" },
            "Contacts": contacts
        }
    })
}

fn voice(contact: &str, state: &str, at: &str) -> Value {
    json!([{ "ContactId": contact, "Channel": "VOICE", "InitiationMethod": "INBOUND", "State": state,
             "StateStartTimestamp": at, "Queue": { "ARN": "arn:queue/q1", "Name": "Sales" } }])
}

/// A Kinesis batch of raw payloads with sequence numbers `first_seq`, `first_seq + 1`, ...
fn batch(first_seq: u64, payloads: &[Vec<u8>]) -> KinesisBatch {
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let seq = format!("{:056}", first_seq + i as u64);
            json!({
                "eventID": format!("shardId-000000000000:{seq}"),
                "kinesis": { "sequenceNumber": seq, "partitionKey": "pk",
                             "data": base64::engine::general_purpose::STANDARD.encode(data),
                             "approximateArrivalTimestamp": 1795165200.5 }
            })
        })
        .collect();
    KinesisBatch::from_records(records)
}

fn payloads(events: &[Value]) -> Vec<Vec<u8>> {
    events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect()
}

fn seq(n: u64) -> String {
    format!("{n:056}")
}

fn now() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

/// A shift of two agents: login, available, a call, ACW, available again.
fn two_agent_shift() -> Vec<Value> {
    vec![
        event("a", "a1", "2026-11-20T08:00:00.100Z", "LOGIN", "Offline", json!([])),
        event("b", "b1", "2026-11-20T08:00:01.000Z", "LOGIN", "Offline", json!([])),
        event(
            "a",
            "a2",
            "2026-11-20T08:00:02.000Z",
            "STATE_CHANGE",
            "Available",
            json!([]),
        ),
        event(
            "b",
            "b2",
            "2026-11-20T08:00:03.000Z",
            "STATE_CHANGE",
            "Available",
            json!([]),
        ),
        event(
            "a",
            "a3",
            "2026-11-20T08:05:00.000Z",
            "STATE_CHANGE",
            "Available",
            voice("c1", "CONNECTED", "2026-11-20T08:05:00.000Z"),
        ),
        event(
            "b",
            "b3",
            "2026-11-20T08:06:00.000Z",
            "STATE_CHANGE",
            "Break",
            json!([]),
        ),
        event(
            "a",
            "a4",
            "2026-11-20T08:09:00.000Z",
            "STATE_CHANGE",
            "Available",
            voice("c1", "ENDED", "2026-11-20T08:09:00.000Z"),
        ),
        event(
            "a",
            "a5",
            "2026-11-20T08:10:00.000Z",
            "STATE_CHANGE",
            "Available",
            json!([]),
        ),
    ]
}

fn states_by_event(sink: &MemoryFeedSink) -> Vec<(String, String)> {
    sink.lines("agent_state/")
        .iter()
        .map(|l| {
            (
                l["event_id"].as_str().unwrap().to_owned(),
                l["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_batch_emits_transitions_in_stream_order_and_commits_each_agent_once() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let outcome = handle_batch(
        &batch(1, &payloads(&two_agent_shift())),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;

    assert_eq!(outcome.failed_from(), None);
    let got = states_by_event(&sink);
    let want: Vec<(String, String)> = [
        ("a1", "LOGIN"),
        ("b1", "LOGIN"),
        ("a2", "Available"),
        ("b2", "Available"),
        ("a3", "VOICE-INBOUND-CONNECTED"),
        ("b3", "Break"),
        ("a4", "VOICE-INBOUND-ENDED"),
        ("a5", "Available"),
    ]
    .iter()
    .map(|(e, s)| (e.to_string(), s.to_string()))
    .collect();
    assert_eq!(got, want);
    let keys: Vec<String> = sink
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("agent_state/"))
        .collect();
    assert_eq!(keys.len(), 1, "one feed object per date per batch: {:?}", sink.keys());
    // The pieces of the segments the transitions closed: one object per instance and interval.
    let pieces = sink.lines("agent_activity/");
    let closed: Vec<(&str, &str, &str)> = pieces
        .iter()
        .map(|p| {
            (
                p["state"].as_str().unwrap(),
                p["segment_id"].as_str().unwrap(),
                p["closed_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        closed,
        [
            ("LOGIN", "a1", "a2"),
            ("LOGIN", "b1", "b2"),
            ("Available", "a2", "a3"),
            ("Available", "b2", "b3"),
            ("VOICE-INBOUND-CONNECTED", "a3", "a4"),
            ("VOICE-INBOUND-ENDED", "a4", "a5"),
        ],
        "in stream order of the closing events"
    );
    assert!(sink.keys().iter().all(|k| {
        [
            "agent_state/",
            "agent_activity/2026-11-20/",
            "agent_profile/",
            "queue_profile/",
        ]
        .iter()
        .any(|p| k.starts_with(p))
    }));
    assert!(keys[0].starts_with(&format!(
        "agent_state/2026-11-20/shardId-000000000000-{}-{}-",
        seq(1),
        seq(8)
    )));
    assert_eq!(store.loads.load(Ordering::Relaxed), 1, "one load for the whole batch");
    assert_eq!(store.commits.load(Ordering::Relaxed), 2, "one commit per agent");
    assert_eq!(store.get(&agent_arn("a")).unwrap().state, "Available");
    assert_eq!(store.get(&agent_arn("b")).unwrap().state, "Break");
    assert_eq!(
        store.get(&agent_arn("b")).unwrap().agent_login.as_deref(),
        Some("login-b")
    );
    assert_eq!(outcome.stats.transitions, 8);
}

#[tokio::test]
async fn replaying_a_processed_batch_emits_and_writes_nothing() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let input = batch(1, &payloads(&two_agent_shift()));
    handle_batch(&input, &store, &sink, &Settings::default(), now()).await;
    let puts = sink.puts.load(Ordering::Relaxed);
    let commits = store.commits.load(Ordering::Relaxed);

    let again = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;
    assert_eq!(again.failed_from(), None);
    assert_eq!(again.stats.transitions, 0);
    assert_eq!(
        again.stats.duplicates, again.stats.records,
        "every replayed event is covered by its agent's watermark"
    );
    assert_eq!(sink.puts.load(Ordering::Relaxed), puts, "no feed object written");
    assert_eq!(store.commits.load(Ordering::Relaxed), commits, "no state written");
}

#[tokio::test]
async fn duplicate_records_in_one_batch_count_once() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let shift = two_agent_shift();
    let with_dupes = vec![
        shift[0].clone(),
        shift[0].clone(),
        shift[2].clone(),
        shift[0].clone(),
        shift[2].clone(),
    ];
    let outcome = handle_batch(
        &batch(1, &payloads(&with_dupes)),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    let events: Vec<String> = states_by_event(&sink).into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["a1", "a2"]);
    assert_eq!(outcome.stats.duplicates, 3, "the three repeats");
}

#[tokio::test]
async fn bad_records_are_kept_as_rejects_and_neighbours_go_through() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let ctr = json!({ "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": "c9", "Channel": "VOICE",
                      "InstanceARN": INSTANCE, "InitiationMethod": "INBOUND" });
    let mut data = payloads(&[event("a", "a1", "2026-11-20T08:00:00Z", "LOGIN", "Offline", json!([]))]);
    data.push(br#"{"AgentARN": "truncated"#.to_vec());
    data.push(serde_json::to_vec(&ctr).unwrap());
    data.push(vec![0xff, 0xfe, 0x00]);
    data.extend(payloads(&[event(
        "a",
        "a2",
        "2026-11-20T08:00:01Z",
        "STATE_CHANGE",
        "Available",
        json!([]),
    )]));
    let outcome = handle_batch(&batch(1, &data), &store, &sink, &Settings::default(), now()).await;

    assert_eq!(outcome.failed_from(), None, "rejects are not retried");
    assert_eq!(outcome.stats.rejected, 3);
    assert_eq!(states_by_event(&sink).len(), 2);
    let rejects = sink.lines("rejects/");
    assert_eq!(rejects.len(), 3);
    for (reject, n) in rejects.iter().zip([2u64, 3, 4]) {
        assert_eq!(reject["kind"], "reject");
        assert_eq!(
            reject["input"],
            json!(format!("kinesis shardId-000000000000 seq {}", seq(n)))
        );
        assert!(!reject["reason"].as_str().unwrap().is_empty());
    }
    assert_eq!(rejects[0]["raw"], json!(r#"{"AgentARN": "truncated"#));
    assert!(
        rejects[1]["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("contact"),
        "{}",
        rejects[1]["reason"]
    );
    assert_eq!(
        (rejects[2]["raw"].as_str(), rejects[2]["raw_encoding"].as_str()),
        (Some("//4A"), Some("base64"))
    );
    assert!(
        sink.keys()
            .iter()
            .any(|k| k.starts_with("rejects/2026-11-20/agent-events-shardId-000000000000-"))
    );
}

/// A state store that fails commits (or loads) for chosen agents, then behaves; or lets a
/// racing writer commit a row between this batch's load and its commit.
#[derive(Default)]
struct FailingStore {
    inner: MemoryStateStore,
    fail_commit_for: Vec<String>,
    /// Commits of these agents fail with a permanent error (a request that can never succeed).
    reject_commit_for: Vec<String>,
    fail_loads: AtomicUsize,
    /// Committed by "another writer" right before this store's next commit of that agent.
    race: Mutex<Vec<AgentState>>,
}

impl AgentStateStore for FailingStore {
    async fn load_many(&self, arns: &[String]) -> Result<LoadedStates, PortError> {
        if self.fail_loads.load(Ordering::Relaxed) > 0 {
            self.fail_loads.fetch_sub(1, Ordering::Relaxed);
            return Err(PortError::new("load agent states", "throttled", true));
        }
        self.inner.load_many(arns).await
    }
    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        if self.fail_commit_for.contains(&state.agent_arn) {
            return Err(PortError::new(format!("commit {}", state.agent_id), "throttled", true));
        }
        if self.reject_commit_for.contains(&state.agent_arn) {
            return Err(PortError::new(
                format!("commit {}", state.agent_id),
                "ValidationException: item too large",
                false,
            ));
        }
        let racing: Vec<AgentState> = {
            let mut race = self.race.lock().unwrap();
            let (now, later) = race.drain(..).partition(|r| r.agent_arn == state.agent_arn);
            *race = later;
            now
        };
        for row in racing {
            assert_eq!(self.inner.commit(&row).await.unwrap(), CommitOutcome::Committed);
        }
        self.inner.commit(state).await
    }
    async fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> Result<CommitOutcome, PortError> {
        self.inner.replace_unreadable(state, unreadable).await
    }
    async fn agents_by_login(&self, logins: &[String]) -> Result<Vec<KnownAgent>, PortError> {
        self.inner.agents_by_login(logins).await
    }
}

impl connect_wfm_core::ports::AgentBatchStore for FailingStore {}

impl connect_wfm_core::ports::RosterStore for FailingStore {}

impl ProgressStore for FailingStore {
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        self.inner.load_progress().await
    }
    async fn advance_progress(&self, instance_id: &str, newest: DateTime<Utc>) -> Result<(), PortError> {
        self.inner.advance_progress(instance_id, newest).await
    }
    async fn mark_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<CommitOutcome, PortError> {
        self.inner.mark_silent(instance_id, silence).await
    }
    async fn clear_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<(), PortError> {
        self.inner.clear_silent(instance_id, silence).await
    }
    async fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        self.inner.owe_records(instance_id, owed, read).await
    }

    async fn mark_intervals_changed(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        self.inner.mark_intervals_changed(instance_id, intervals).await
    }
    async fn clear_changed_intervals(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        self.inner.clear_changed_intervals(instance_id, intervals).await
    }
    async fn agent_intervals_written(&self, instance_id: &str, interval_start: DateTime<Utc>) -> Result<(), PortError> {
        self.inner.agent_intervals_written(instance_id, interval_start).await
    }

    async fn snapshot_written(&self, instance_id: &str, slot: DateTime<Utc>) -> Result<(), PortError> {
        self.inner.snapshot_written(instance_id, slot).await
    }
}

/// A feed sink that fails puts whose key starts with a prefix.
struct FailingSink<'a> {
    inner: &'a MemoryFeedSink,
    fail_prefix: &'static str,
}

impl FeedSink for FailingSink<'_> {
    async fn put(&self, key: &str, body: connect_wfm_core::feed::FeedBody) -> Result<(), PortError> {
        if key.starts_with(self.fail_prefix) {
            return Err(PortError::new(format!("put {key}"), "service unavailable", true));
        }
        self.inner.put(key, body).await
    }
}

/// Lambda's retry: re-deliver from the reported sequence number.
fn from_seq(input: &KinesisBatch, seq: &str) -> KinesisBatch {
    let at = input
        .records
        .iter()
        .position(|r| r.sequence_number.as_deref() == Some(seq))
        .expect("reported seq is in the batch");
    let records = input.records[at..].iter().cloned().enumerate();
    KinesisBatch {
        records: records
            .map(|(index, record)| StreamRecord { index, ..record })
            .collect(),
    }
}

#[tokio::test]
async fn a_failed_commit_stops_only_that_agent_and_the_replay_completes_it_without_loss() {
    let sink = MemoryFeedSink::default();
    let store = FailingStore {
        fail_commit_for: vec![agent_arn("b")],
        ..Default::default()
    };
    let input = batch(1, &payloads(&two_agent_shift()));
    let outcome = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;

    assert_eq!(outcome.failed_from(), Some(seq(2).as_str()), "b's first record");
    assert_eq!(outcome.stats.failed_agents, 1);
    assert_eq!(
        store.inner.get(&agent_arn("a")).unwrap().state,
        "Available",
        "a committed"
    );
    assert!(store.inner.get(&agent_arn("b")).is_none());

    // Lambda re-delivers from b's first record, including a's later records.
    let healthy = FailingStore {
        inner: MemoryStateStore::default(),
        ..Default::default()
    };
    for s in store.inner.all() {
        healthy.inner.insert(s);
    }
    let replay = handle_batch(
        &from_seq(&input, outcome.failed_from().unwrap()),
        &healthy,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(replay.failed_from(), None);

    let emitted = states_by_event(&sink);
    let unique: BTreeSet<&String> = emitted.iter().map(|(e, _)| e).collect();
    assert_eq!(unique.len(), 8, "every transition delivered: {emitted:?}");
    let a_count = emitted.iter().filter(|(e, _)| e.starts_with('a')).count();
    assert_eq!(a_count, 5, "a's transitions are not repeated: {emitted:?}");
    let b_count = emitted.iter().filter(|(e, _)| e.starts_with('b')).count();
    assert_eq!(
        b_count, 6,
        "b's transitions are delivered again (at least once): {emitted:?}"
    );
    assert_eq!(healthy.inner.get(&agent_arn("b")).unwrap().state, "Break");
    assert_eq!(
        sink.keys().iter().filter(|k| k.starts_with("agent_state/")).count(),
        2,
        "the replay wrote its own object, not over the first: {:?}",
        sink.keys()
    );
}

#[tokio::test]
async fn a_failed_load_retries_the_whole_batch_and_writes_nothing() {
    let sink = MemoryFeedSink::default();
    let store = FailingStore {
        fail_loads: AtomicUsize::new(1),
        ..Default::default()
    };
    let input = batch(7, &payloads(&two_agent_shift()));
    let outcome = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), Some(seq(7).as_str()));
    assert!(sink.keys().is_empty());
    let retry = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;
    assert_eq!(retry.failed_from(), None);
    assert_eq!(states_by_event(&sink).len(), 8);
}

#[tokio::test]
async fn a_failed_feed_write_commits_nothing_so_the_retry_emits_everything() {
    let memory = MemoryFeedSink::default();
    let store = MemoryStateStore::default();
    let input = batch(1, &payloads(&two_agent_shift()));
    let failing = FailingSink {
        inner: &memory,
        fail_prefix: "agent_state/",
    };
    let outcome = handle_batch(&input, &store, &failing, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), Some(seq(1).as_str()));
    assert!(
        store.all().is_empty(),
        "no state committed before its transitions are in the feed"
    );

    handle_batch(&input, &store, &memory, &Settings::default(), now()).await;
    assert_eq!(states_by_event(&memory).len(), 8);
}

#[tokio::test]
async fn a_reject_that_cannot_be_kept_is_retried_not_dropped() {
    let memory = MemoryFeedSink::default();
    let store = MemoryStateStore::default();
    let mut data = payloads(&[event("a", "a1", "2026-11-20T08:00:00Z", "LOGIN", "Offline", json!([]))]);
    data.push(b"not json".to_vec());
    let failing = FailingSink {
        inner: &memory,
        fail_prefix: "rejects/",
    };
    let outcome = handle_batch(&batch(1, &data), &store, &failing, &Settings::default(), now()).await;
    assert_eq!(outcome.failed_from(), Some(seq(2).as_str()));
    assert_eq!(states_by_event(&memory).len(), 1, "the good neighbour went through");
}

#[tokio::test]
async fn a_newer_stored_state_wins_over_a_late_batch() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let later = [event(
        "a",
        "a9",
        "2026-11-20T09:00:00Z",
        "STATE_CHANGE",
        "Break",
        json!([]),
    )];
    handle_batch(
        &batch(100, &payloads(&later)),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    let outcome = handle_batch(
        &batch(1, &payloads(&two_agent_shift()[..1])),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    assert_eq!(store.get(&agent_arn("a")).unwrap().state, "Break", "no regression");
    assert_eq!(states_by_event(&sink).len(), 1, "the late LOGIN emitted nothing");
}

#[tokio::test]
async fn heartbeats_of_a_known_idle_agent_do_not_write_every_time() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let start = [event(
        "a",
        "a1",
        "2026-11-20T08:00:00Z",
        "STATE_CHANGE",
        "Available",
        json!([]),
    )];
    handle_batch(&batch(1, &payloads(&start)), &store, &sink, &Settings::default(), now()).await;
    let commits = store.commits.load(Ordering::Relaxed);
    // Heartbeats every 120 s for 16 minutes: with the 150 s throttle one in two is written, so
    // the stored last-seen never lags 270 s and the sweep (300 s) never judges the agent silent.
    let mut written = Vec::new();
    for i in 1..=8u64 {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z").unwrap()
            + chrono::Duration::minutes(2 * i as i64);
        let hb = [event(
            "a",
            &format!("hb{i}"),
            &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "HEART_BEAT",
            "Available",
            json!([]),
        )];
        let before = store.commits.load(Ordering::Relaxed);
        let outcome = handle_batch(
            &batch(10 + i, &payloads(&hb)),
            &store,
            &sink,
            &Settings::default(),
            now(),
        )
        .await;
        assert_eq!(outcome.stats.transitions, 0);
        if store.commits.load(Ordering::Relaxed) > before {
            written.push(2 * i);
        }
        let stored = store.get(&agent_arn("a")).unwrap();
        assert!(
            at.with_timezone(&Utc) - stored.last_seen < chrono::Duration::seconds(300 - 120),
            "stored last-seen {} lags heartbeat {at} by a heartbeat period at most below the silence",
            stored.last_seen
        );
    }
    assert_eq!(written, [4, 8, 12, 16], "minutes whose heartbeat was written");
    assert_eq!(store.commits.load(Ordering::Relaxed), commits + 4);
}

#[tokio::test]
async fn a_hundred_records_of_ten_agents_cost_one_load_and_ten_commits() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let mut events = Vec::new();
    for i in 0..10 {
        for agent in 0..10 {
            let status = if i % 2 == 0 { "Available" } else { "Break" };
            events.push(event(
                &format!("agent{agent}"),
                &format!("e{agent}-{i}"),
                &format!("2026-11-20T08:{i:02}:{agent:02}Z"),
                "STATE_CHANGE",
                status,
                json!([]),
            ));
        }
    }
    let outcome = handle_batch(
        &batch(1, &payloads(&events)),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.stats.transitions, 100);
    assert_eq!(store.loads.load(Ordering::Relaxed), 1);
    assert_eq!(store.commits.load(Ordering::Relaxed), 10);
}

#[tokio::test]
async fn a_stored_row_that_cannot_be_read_is_kept_under_rejects_and_the_agent_continues_as_first_sight() {
    let sink = MemoryFeedSink::default();
    let store = MemoryStateStore::default();
    let raw = br#"{"agent_arn": "broken", "activity": "Lunch"}"#;
    store.insert_unreadable(
        &agent_arn("a"),
        raw,
        "attribute `activity` is neither Open nor Closed: Lunch",
    );
    let input = batch(1, &payloads(&two_agent_shift()));
    let outcome = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;

    assert_eq!(outcome.failed_from(), None, "nothing is retried: the shard moves on");
    assert_eq!(outcome.stats.unreadable_states, 1);
    let rejects = sink.lines("rejects/");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["raw"], std::str::from_utf8(raw).unwrap(), "kept as stored");
    assert!(rejects[0]["input"].as_str().unwrap().contains(&agent_arn("a")));
    assert!(rejects[0]["reason"].as_str().unwrap().contains("`activity`"));
    // First sight: a's first transition has no previous state, and the row is replaced.
    let a_first = sink
        .lines("agent_state/")
        .into_iter()
        .find(|r| r["event_id"] == "a1")
        .expect("a's LOGIN is emitted");
    assert_eq!(a_first["previous_state"], Value::Null);
    assert!(!store.is_unreadable(&agent_arn("a")));
    assert_eq!(store.get(&agent_arn("a")).unwrap().state, "Available");

    // The replay of the same batch finds a readable row and emits nothing new.
    let before = sink.lines("agent_state/").len();
    let replay = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;
    assert_eq!((replay.failed_from(), replay.stats.transitions), (None, 0));
    assert_eq!(sink.lines("agent_state/").len(), before);
}

#[tokio::test]
async fn a_permanent_commit_failure_keeps_that_agents_records_under_rejects_and_is_not_retried() {
    let sink = MemoryFeedSink::default();
    let store = FailingStore {
        reject_commit_for: vec![agent_arn("b")],
        ..Default::default()
    };
    let input = batch(1, &payloads(&two_agent_shift()));
    let outcome = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;

    assert_eq!(outcome.failed_from(), None, "a permanent error never stalls the shard");
    assert_eq!((outcome.stats.rejected_agents, outcome.stats.failed_agents), (1, 0));
    let rejects = sink.lines("rejects/");
    let b_records = two_agent_shift()
        .iter()
        .filter(|e| e["AgentARN"] == agent_arn("b"))
        .count();
    assert_eq!(rejects.len(), b_records, "every record of b is kept: {rejects:?}");
    for reject in &rejects {
        assert!(
            reject["reason"].as_str().unwrap().contains("ValidationException"),
            "{reject}"
        );
        let raw: Value = serde_json::from_str(reject["raw"].as_str().unwrap()).unwrap();
        assert_eq!(raw["AgentARN"], agent_arn("b"), "raw bytes of b's own records");
    }
    assert_eq!(
        store.inner.get(&agent_arn("a")).unwrap().state,
        "Available",
        "a committed"
    );
}

#[tokio::test]
async fn a_newer_row_committed_between_load_and_commit_wins_and_the_batch_is_not_retried() {
    let sink = MemoryFeedSink::default();
    let store = FailingStore::default();
    // The batch loads no row for a; before its commit another writer stores a's state from a
    // later event (a racing batch, or a sweep), with a watermark past every event of the batch.
    let newer = AgentState {
        stream_newest: None,
        agent_arn: agent_arn("a"),
        agent_id: "a".into(),
        instance_id: "11111111-2222-3333-4444-555555555555".into(),
        agent_login: Some("login-a".into()),
        state: "Break".into(),
        reason: "Break".into(),
        activity: connect_wfm_core::agent::Activity::Closed,
        since: "2026-11-20T09:00:00Z".parse().unwrap(),
        contact: None,
        watermark: connect_wfm_core::agent::Watermark::new("2026-11-20T09:00:00Z".parse().unwrap(), "a-later"),
        last_seen: "2026-11-20T09:00:00Z".parse().unwrap(),
        silent_since: None,
        last_silence: None,
        silenced_at: None,
        silenced_from: None,
        segment: None,
        silenced_segment: None,
        profile: None,
        excluded: false,
    };
    store.race.lock().unwrap().push(newer.clone());
    let input = batch(1, &payloads(&two_agent_shift()));
    let outcome = handle_batch(&input, &store, &sink, &Settings::default(), now()).await;

    assert!(store.race.lock().unwrap().is_empty(), "the race happened");
    assert_eq!(outcome.failed_from(), None, "a lost condition is not a failure");
    assert_eq!(outcome.stats.superseded, 1);
    assert_eq!(
        store.inner.get(&agent_arn("a")).unwrap(),
        newer,
        "the newer row is never regressed"
    );
    assert_eq!(
        store.inner.get(&agent_arn("b")).unwrap().state,
        "Break",
        "b committed as usual"
    );
}

#[tokio::test]
async fn the_stored_contact_follows_the_event_when_the_wfm_state_does_not_change() {
    let sink = MemoryFeedSink::default();
    let store = MemoryStateStore::default();
    let events = vec![
        event(
            "a",
            "a1",
            "2026-11-20T08:05:00.000Z",
            "STATE_CHANGE",
            "Available",
            voice("c1", "CONNECTED", "2026-11-20T08:05:00.000Z"),
        ),
        // Straight onto the next call: the WFM state stays VOICE-INBOUND-CONNECTED.
        event(
            "a",
            "a2",
            "2026-11-20T08:09:00.000Z",
            "STATE_CHANGE",
            "Available",
            voice("c2", "CONNECTED", "2026-11-20T08:09:00.000Z"),
        ),
    ];
    let outcome = handle_batch(
        &batch(1, &payloads(&events)),
        &store,
        &sink,
        &Settings::default(),
        now(),
    )
    .await;
    assert_eq!(outcome.stats.transitions, 1, "no transition for the same WFM state");
    let row = store.get(&agent_arn("a")).unwrap();
    assert_eq!(row.state, "VOICE-INBOUND-CONNECTED");
    assert_eq!(
        row.contact.unwrap().contact_id,
        "c2",
        "the stored contact is the current one"
    );

    // Across batches too: the next batch loads c2 and moves to c3 without a transition.
    let next = vec![event(
        "a",
        "a3",
        "2026-11-20T08:12:00.000Z",
        "STATE_CHANGE",
        "Available",
        voice("c3", "CONNECTED", "2026-11-20T08:12:00.000Z"),
    )];
    let outcome = handle_batch(&batch(3, &payloads(&next)), &store, &sink, &Settings::default(), now()).await;
    assert_eq!(outcome.stats.transitions, 0);
    assert_eq!(store.get(&agent_arn("a")).unwrap().contact.unwrap().contact_id, "c3");
}
