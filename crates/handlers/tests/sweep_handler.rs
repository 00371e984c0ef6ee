//! Sweep handler tests with the in-memory ports, fed by the agent-events handler: silence,
//! recovery, instance health, snapshots, and the sweep-versus-batch race in both orders.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::agent::{AgentState, AgentStateMapping, InstanceProgress, InstanceSilence, SweepPolicy};
use connect_wfm_core::faults::{Fault, FaultPlan, FaultyFeedSink};
use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_core::ports::{
    AgentDirectory, AgentStateStore, CommitOutcome, KnownAgent, LoadedStates, PortError, ProgressStore, UnreadableState,
};
use connect_wfm_handlers::agent_events::{BatchStats, KinesisBatch, Settings, handle_batch};
use connect_wfm_handlers::sweep::{SweepSettings, SweepStats, sweep_agents};
use serde_json::{Value, json};

fn instance_arn(instance: &str) -> String {
    format!("arn:aws:connect:us-east-1:123456789012:instance/{instance}")
}

fn agent_arn(instance: &str, agent: &str) -> String {
    format!("{}/agent/{agent}", instance_arn(instance))
}

fn t(clock: &str) -> DateTime<Utc> {
    format!("2026-11-21T{clock}Z").parse().unwrap()
}

/// An agent event of instance `i-1` unless the agent is written `instance/agent`.
fn event(agent: &str, id: &str, clock: &str, event_type: &str, status: &str) -> Value {
    let (instance, agent) = agent.split_once('/').unwrap_or(("i-1", agent));
    let status_type = match status {
        "Available" => "ROUTABLE",
        "Offline" => "OFFLINE",
        _ => "CUSTOM",
    };
    json!({
        "AWSAccountId": "123456789012",
        "AgentARN": agent_arn(instance, agent),
        "InstanceARN": instance_arn(instance),
        "EventId": id,
        "EventTimestamp": format!("2026-11-21T{clock}Z"),
        "EventType": event_type,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": {
            "AgentStatus": { "Name": status, "Type": status_type, "StartTimestamp": format!("2026-11-21T{clock}Z") },
            "Configuration": { "Username": format!("login-{agent}") },
            "Contacts": []
        }
    })
}

static SEQ: AtomicU64 = AtomicU64::new(1);

fn batch(events: &[Value]) -> KinesisBatch {
    let records: Vec<Value> = events
        .iter()
        .map(|e| {
            let seq = format!("{:056}", SEQ.fetch_add(1, Ordering::Relaxed));
            json!({
                "eventID": format!("shardId-000000000000:{seq}"),
                "kinesis": { "sequenceNumber": seq, "partitionKey": "pk",
                             "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap()),
                             "approximateArrivalTimestamp": 1795165200.5 }
            })
        })
        .collect();
    KinesisBatch::from_records(records)
}

async fn feed<S>(store: &S, sink: &MemoryFeedSink, events: &[Value]) -> BatchStats
where
    S: connect_wfm_core::ports::AgentBatchStore,
{
    handle_batch(&batch(events), store, sink, &Settings::default(), t("12:00:00"))
        .await
        .stats
}

async fn sweep<S>(store: &S, sink: &MemoryFeedSink, clock: &str) -> SweepStats
where
    S: AgentStateStore + ProgressStore + AgentDirectory,
{
    sweep_agents(store, sink, sink, &SweepSettings::default(), t(clock))
        .await
        .unwrap()
}

/// (agent_id, state, previous_state, event_type) of every agent_state record, in feed order.
fn transitions(sink: &MemoryFeedSink) -> Vec<(String, String, String, String)> {
    let mut lines = sink.lines("agent_state/");
    lines.sort_by(|a, b| a["event_time"].as_str().cmp(&b["event_time"].as_str()));
    lines
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
                r["previous_state"].as_str().unwrap_or("null").to_owned(),
                r["event_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(agent: &str, state: &str, previous: &str, event_type: &str) -> (String, String, String, String) {
    (agent.into(), state.into(), previous.into(), event_type.into())
}

fn unknowns(sink: &MemoryFeedSink) -> Vec<Value> {
    sink.lines("agent_state/")
        .into_iter()
        .filter(|r| r["event_type"] == "SILENCE")
        .collect()
}

#[tokio::test]
async fn a_silent_agent_goes_unknown_once_and_a_heartbeat_brings_it_back() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(&store, &sink, &[event("a", "a1", "10:00:00", "LOGIN", "Offline")]).await;
    feed(
        &store,
        &sink,
        &[event("a", "a2", "10:00:01.500", "STATE_CHANGE", "Available")],
    )
    .await;
    // b keeps the instance's stream moving; a says nothing more.
    for (i, clock) in ["10:02:00", "10:04:00", "10:05:01.499", "10:05:01.500"]
        .iter()
        .enumerate()
    {
        feed(
            &store,
            &sink,
            &[event("b", &format!("b{i}"), clock, "HEART_BEAT", "Available")],
        )
        .await;
        // The sweep runs a little after the batch: the instance is not silent.
        let after = t(clock) + Duration::milliseconds(900);
        let stats = sweep_agents(&store, &sink, &sink, &SweepSettings::default(), after)
            .await
            .unwrap();
        assert_eq!(stats.failures, 0);
        if *clock != "10:05:01.500" {
            assert!(
                unknowns(&sink).is_empty(),
                "progress {clock}: a is not silent for 300 s yet"
            );
        }
    }
    let records = unknowns(&sink);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0],
        json!({
            "kind": "agent_state", "schema": 1, "instance_id": "i-1", "agent_id": "a",
            "agent_login": "login-a", "state": "UNKNOWN", "reason": "No signal", "activity": "Closed",
            "since": "2026-11-21T10:05:01.500Z", "previous_state": "Available", "contact": null,
            "event_id": "silence-a-1795255201500", "event_type": "SILENCE",
            "event_time": "2026-11-21T10:05:01.500Z"
        })
    );
    let keys = sink.keys();
    assert!(
        keys.iter().any(|k| k.starts_with("agent_state/2026-11-21/sweep-i-1-")),
        "{keys:?}"
    );
    // Sweeping again emits nothing new.
    let puts = sink.puts.load(Ordering::Relaxed);
    let stats = sweep(&store, &sink, "10:05:02").await;
    assert_eq!((stats.silent_agents, stats.superseded), (0, 0));
    assert_eq!(sink.puts.load(Ordering::Relaxed), puts);
    // A heartbeat, even a late one older than the silence's end, recovers the agent.
    feed(
        &store,
        &sink,
        &[event("a", "a3", "10:05:30", "HEART_BEAT", "Available")],
    )
    .await;
    assert_eq!(
        transitions(&sink),
        [
            row("a", "LOGIN", "null", "LOGIN"),
            row("a", "Available", "LOGIN", "STATE_CHANGE"),
            row("b", "Available", "null", "HEART_BEAT"),
            row("a", "UNKNOWN", "Available", "SILENCE"),
            row("a", "Available", "UNKNOWN", "HEART_BEAT"),
        ]
    );
    let stored = store.get(&agent_arn("i-1", "a")).unwrap();
    assert_eq!(
        (stored.silent_since, stored.last_silence),
        (None, Some(t("10:05:01.500")))
    );
}

#[tokio::test]
async fn a_zombie_available_stays_unknown_until_it_sends_again() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    // The zombie closed its browser at 10:00 without logging out; b works on.
    feed(
        &store,
        &sink,
        &[event("z", "z1", "10:00:00", "STATE_CHANGE", "Available")],
    )
    .await;
    for minute in 1..=20 {
        let clock = format!("10:{minute:02}:00");
        feed(
            &store,
            &sink,
            &[event("b", &format!("b{minute}"), &clock, "HEART_BEAT", "Available")],
        )
        .await;
        sweep(&store, &sink, &format!("10:{minute:02}:10")).await;
    }
    assert_eq!(
        transitions(&sink),
        [
            row("z", "Available", "null", "STATE_CHANGE"),
            row("b", "Available", "null", "HEART_BEAT"),
            row("z", "UNKNOWN", "Available", "SILENCE"),
        ]
    );
    assert_eq!(store.get(&agent_arn("i-1", "z")).unwrap().state, "UNKNOWN");
}

#[tokio::test]
async fn heartbeats_after_logout_never_make_an_agent_unknown() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[event("a", "a1", "10:00:00", "STATE_CHANGE", "Available")],
    )
    .await;
    feed(&store, &sink, &[event("a", "a2", "10:01:00", "LOGOUT", "Offline")]).await;
    // Connect goes on sending heartbeats for up to an hour after logout, then stops.
    for minute in (3..=59).step_by(2) {
        let clock = format!("10:{minute:02}:00");
        feed(
            &store,
            &sink,
            &[event("a", &format!("h{minute}"), &clock, "HEART_BEAT", "Offline")],
        )
        .await;
        feed(
            &store,
            &sink,
            &[event("b", &format!("b{minute}"), &clock, "HEART_BEAT", "Available")],
        )
        .await;
        sweep(&store, &sink, &format!("10:{minute:02}:30")).await;
    }
    feed(
        &store,
        &sink,
        &[event("b", "b-late", "12:00:00", "HEART_BEAT", "Available")],
    )
    .await;
    sweep(&store, &sink, "12:00:10").await;
    assert!(unknowns(&sink).is_empty(), "{:?}", unknowns(&sink));
    assert_eq!(store.get(&agent_arn("i-1", "a")).unwrap().state, "LOGOUT");
}

#[tokio::test]
async fn a_whole_instance_silent_and_back_with_a_second_instance_unaffected() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[
            event("a", "a1", "10:00:00", "STATE_CHANGE", "Available"),
            event("b", "b1", "10:00:30", "STATE_CHANGE", "Break"),
            event("c", "c1", "09:59:00", "LOGOUT", "Offline"),
            event("i-2/x", "x1", "10:00:00", "STATE_CHANGE", "Available"),
        ],
    )
    .await;
    // i-2 goes on; i-1's events stop arriving at all.
    for (i, clock) in ["10:02:00", "10:04:00", "10:06:00"].iter().enumerate() {
        feed(
            &store,
            &sink,
            &[event("i-2/x", &format!("x-hb{i}"), clock, "HEART_BEAT", "Available")],
        )
        .await;
    }
    let early = sweep(&store, &sink, "10:05:29.999").await;
    assert_eq!((early.silent_instances, early.silent_agents), (0, 0));
    let stats = sweep(&store, &sink, "10:05:30").await;
    assert_eq!(
        (
            stats.instances,
            stats.newly_silent_instances,
            stats.silent_instances,
            stats.silent_agents
        ),
        (2, 1, 1, 2)
    );
    let health = sink.lines("feed_health/");
    assert_eq!(
        health,
        [json!({
            "kind": "feed_health", "schema": 1, "instance_id": "i-1", "source": "agent_events",
            "status": "silent", "since": "2026-11-21T10:05:30.000Z",
            "last_event_time": "2026-11-21T10:00:30.000Z", "agents": 2,
            "event_id": "health-i-1-agent_events-silent-1795255530000"
        })]
    );
    // Judged against the clock for this case: a (last seen 10:00:00) and b, not c (logged out).
    let silenced: Vec<_> = unknowns(&sink)
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap().to_owned(),
                r["since"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        silenced,
        [
            ("a".to_owned(), "2026-11-21T10:05:00.000Z".to_owned()),
            ("b".to_owned(), "2026-11-21T10:05:30.000Z".to_owned())
        ]
    );
    // The next sweeps write the same health object again, and nothing else.
    let keys = sink.keys();
    let again = sweep(&store, &sink, "10:06:30").await;
    assert_eq!(
        (
            again.newly_silent_instances,
            again.silent_instances,
            again.silent_agents
        ),
        (0, 1, 0)
    );
    assert_eq!(sink.keys(), keys);
    // i-1 comes back at 10:20: ok, then a's recovery.
    let stats = feed(
        &store,
        &sink,
        &[event("a", "a2", "10:20:00.250", "HEART_BEAT", "Available")],
    )
    .await;
    assert_eq!(stats.recovered_instances, 1);
    let health = sink.lines("feed_health/");
    assert_eq!(health.len(), 2);
    assert_eq!(
        health[0],
        json!({
            "kind": "feed_health", "schema": 1, "instance_id": "i-1", "source": "agent_events",
            "status": "ok", "since": "2026-11-21T10:20:00.250Z",
            "last_event_time": "2026-11-21T10:00:30.000Z", "agents": 2,
            "event_id": "health-i-1-agent_events-ok-1795256400250"
        })
    );
    assert_eq!(store.progress_of("i-1").unwrap().silence, None);
    // The progress rides on a's row (the batch commits it, listed): no write of the progress
    // item; the next sweep writes it there.
    let carrier = store.all().into_iter().find(|s| s.agent_id == "a").unwrap();
    assert_eq!(carrier.stream_newest, Some(t("10:20:00.250")));
    assert_eq!(store.progress_of("i-1").unwrap().newest_event, t("10:00:30"));
    let last = transitions(&sink).pop().unwrap();
    assert_eq!(last, row("a", "Available", "UNKNOWN", "HEART_BEAT"));
    // i-2 was never touched.
    assert!(unknowns(&sink).iter().all(|r| r["instance_id"] == "i-1"));
    // b is still UNKNOWN; the instance is healthy, so b is judged by progress again: nothing new.
    feed(
        &store,
        &sink,
        &[event("i-2/x", "x-back", "10:20:00", "HEART_BEAT", "Available")],
    )
    .await;
    let after = sweep(&store, &sink, "10:20:30").await;
    assert_eq!((after.silent_instances, after.silent_agents), (0, 0));
    assert_eq!(store.progress_of("i-1").unwrap().newest_event, t("10:20:00.250"));
}

#[tokio::test]
async fn the_progress_the_rows_carry_keeps_a_busy_instance_from_looking_silent() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let first = feed(
        &store,
        &sink,
        &[
            event("a", "a0", "10:00:00", "STATE_CHANGE", "Available"),
            event("b", "b0", "10:00:00", "STATE_CHANGE", "Available"),
        ],
    )
    .await;
    assert_eq!(
        (first.progressed, first.progress_carried),
        (1, 0),
        "a new instance: the item"
    );
    // a changes state every two minutes; b falls silent. Each batch commits a's row, which
    // carries the instance's progress: the progress item is not written again.
    for (i, (clock, status)) in [
        ("10:02:00", "Break"),
        ("10:04:00", "Available"),
        ("10:06:00", "Break"),
        ("10:08:00", "Available"),
        ("10:10:00", "Break"),
    ]
    .iter()
    .enumerate()
    {
        let stats = feed(
            &store,
            &sink,
            &[event("a", &format!("a{}", i + 1), clock, "STATE_CHANGE", status)],
        )
        .await;
        assert_eq!((stats.progressed, stats.progress_carried), (0, 1), "batch at {clock}");
    }
    assert_eq!(store.progress_of("i-1").unwrap().newest_event, t("10:00:00"));
    // At 10:10:30 the item says 10:00:00, the rows 10:10:00: the instance is not silent (a
    // sweep reading only the item would report it so), b is (judged against 10:10:00).
    let stats = sweep(&store, &sink, "10:10:30").await;
    assert_eq!((stats.silent_instances, stats.silent_agents), (0, 1));
    assert!(sink.lines("feed_health/").is_empty());
    let silenced: Vec<_> = unknowns(&sink).iter().map(|r| r["agent_id"].clone()).collect();
    assert_eq!(silenced, [json!("b")]);
    assert_eq!(store.progress_of("i-1").unwrap().newest_event, t("10:10:00"));
}

#[tokio::test]
async fn snapshots_are_written_once_per_slot_after_the_transitions() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[
            event("a", "a1", "09:40:00", "STATE_CHANGE", "Available"),
            event("b", "b1", "09:59:00", "STATE_CHANGE", "Break"),
            event("i-2/x", "x1", "09:58:00", "LOGOUT", "Offline"),
        ],
    )
    .await;
    // No snapshot of the 09:45 slot was written (the state is new): this sweep, late in the
    // slot, writes it for each instance with progress.
    let late = sweep(&store, &sink, "09:59:30").await;
    assert_eq!(late.snapshots, 2);
    assert!(
        sink.keys()
            .contains(&"agent_snapshot/2026-11-21/i-1-0945.jsonl".to_owned())
    );
    let stats = sweep(&store, &sink, "10:00:20").await;
    assert_eq!((stats.snapshots, stats.snapshot_agents), (2, 3));
    let keys = sink.keys();
    assert!(
        keys.contains(&"agent_snapshot/2026-11-21/i-1-1000.jsonl".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"agent_snapshot/2026-11-21/i-2-1000.jsonl".to_owned()),
        "{keys:?}"
    );
    let snapshot = sink.lines("agent_snapshot/2026-11-21/i-1-1000");
    // a was silent since 09:45 by i-1's progress (09:59): the snapshot shows it UNKNOWN.
    let states: Vec<_> = snapshot
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["as_of"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("a", "UNKNOWN", "2026-11-21T10:00:00.000Z"),
            ("b", "Break", "2026-11-21T10:00:00.000Z")
        ]
    );
    assert_eq!(
        snapshot[1],
        json!({
            "kind": "agent_snapshot", "schema": 1, "instance_id": "i-1", "agent_id": "b",
            "agent_login": "login-b", "state": "Break", "reason": "Break", "activity": "Closed",
            "since": "2026-11-21T09:59:00.000Z", "contact": null,
            "last_seen": "2026-11-21T09:59:00.000Z", "as_of": "2026-11-21T10:00:00.000Z"
        })
    );
    // The slot's snapshots are recorded as written: no later sweep of the slot writes them.
    assert_eq!(sweep(&store, &sink, "10:01:00").await.snapshots, 0);
    assert_eq!(sweep(&store, &sink, "10:00:50").await.snapshots, 0);
    assert_eq!(sink.keys(), keys);
    assert_eq!(store.progress_of("i-1").unwrap().snapshot_slot, Some(t("10:00:00")));
    let policy = SweepPolicy {
        snapshot_minutes: 0,
        ..SweepPolicy::default()
    };
    let settings = SweepSettings {
        policy,
        ..SweepSettings::default()
    };
    let never = sweep_agents(&store, &sink, &sink, &settings, t("10:15:00"))
        .await
        .unwrap();
    assert_eq!(never.snapshots, 0);
}

#[tokio::test]
async fn a_mapping_renames_unknown_in_transitions_recoveries_and_snapshots() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let mut mapping = AgentStateMapping::default();
    mapping
        .merge_json(json!([{"name": "Unknown", "event_id": "STALE", "reason": "No heartbeat", "activity": "Closed"}]))
        .unwrap();
    let settings = SweepSettings {
        mapping: mapping.clone(),
        ..SweepSettings::default()
    };
    let batch_settings = Settings {
        mapping,
        ..Settings::default()
    };
    let run = |events: Vec<Value>| {
        let (store, sink, batch_settings) = (&store, &sink, &batch_settings);
        async move { handle_batch(&batch(&events), store, sink, batch_settings, t("12:00:00")).await }
    };
    run(vec![event("a", "a1", "10:00:00", "STATE_CHANGE", "Available")]).await;
    run(vec![event("b", "b1", "10:06:00", "STATE_CHANGE", "Available")]).await;
    sweep_agents(&store, &sink, &sink, &settings, t("10:06:10"))
        .await
        .unwrap();
    run(vec![event("a", "a2", "10:07:00", "HEART_BEAT", "Available")]).await;
    let a: Vec<_> = transitions(&sink).into_iter().filter(|r| r.0 == "a").collect();
    assert_eq!(
        a,
        [
            row("a", "Available", "null", "STATE_CHANGE"),
            row("a", "STALE", "Available", "SILENCE"),
            row("a", "Available", "STALE", "HEART_BEAT"),
        ]
    );
    assert_eq!(unknowns(&sink)[0]["reason"], "No heartbeat");
}

/// A store whose `active_agents` answers from a copy taken before (an index that lags, or a
/// sweep that read just before a batch committed), and whose `load_many` can do the same (a
/// batch that loaded just before a sweep committed).
#[derive(Default)]
struct StaleStore {
    inner: MemoryStateStore,
    stale_active: Mutex<Option<Vec<AgentState>>>,
    stale_load: Mutex<Option<LoadedStates>>,
    stale_progress: Mutex<Option<Vec<InstanceProgress>>>,
}

impl AgentStateStore for StaleStore {
    async fn load_many(&self, arns: &[String]) -> Result<LoadedStates, PortError> {
        if let Some(stale) = self.stale_load.lock().unwrap().take() {
            return Ok(stale);
        }
        self.inner.load_many(arns).await
    }
    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
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

impl connect_wfm_core::ports::AgentBatchStore for StaleStore {}

impl connect_wfm_core::ports::RosterStore for StaleStore {}

impl ProgressStore for StaleStore {
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        if let Some(stale) = self.stale_progress.lock().unwrap().take() {
            return Ok(stale);
        }
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

impl AgentDirectory for StaleStore {
    async fn active_agents(&self, instance_id: &str) -> Result<Vec<AgentState>, PortError> {
        if let Some(stale) = self.stale_active.lock().unwrap().take() {
            return Ok(stale);
        }
        self.inner.active_agents(instance_id).await
    }
    async fn agents_seen_since(&self, seen_since: DateTime<Utc>) -> Result<Vec<AgentState>, PortError> {
        self.inner.agents_seen_since(seen_since).await
    }
}

/// a Available since 10:00, b keeps i-1's stream at 10:06: a is silent by what is stored.
async fn silent_agent_setup() -> (StaleStore, MemoryFeedSink) {
    let (store, sink) = (StaleStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[event("a", "a1", "10:00:00", "STATE_CHANGE", "Available")],
    )
    .await;
    feed(
        &store,
        &sink,
        &[event("b", "b1", "10:06:00", "STATE_CHANGE", "Available")],
    )
    .await;
    (store, sink)
}

#[tokio::test]
async fn race_a_batch_that_commits_first_wins_and_the_sweep_writes_nothing() {
    let (store, sink) = silent_agent_setup().await;
    // The sweep read the agents, then a batch with a's heartbeat committed (the throttle
    // writes it: 6 minutes since a's last write), then the sweep commits.
    *store.stale_active.lock().unwrap() = Some(store.inner.active_agents("i-1").await.unwrap());
    let stats = feed(
        &store,
        &sink,
        &[event("a", "a2", "10:06:30", "HEART_BEAT", "Available")],
    )
    .await;
    assert_eq!(stats.committed, 1);
    let swept = sweep(&store, &sink, "10:06:40").await;
    assert_eq!((swept.silent_agents, swept.superseded), (0, 1));
    assert!(unknowns(&sink).is_empty(), "no UNKNOWN for a state the batch replaced");
    let stored = store.inner.get(&agent_arn("i-1", "a")).unwrap();
    assert_eq!((stored.state.as_str(), stored.last_seen), ("Available", t("10:06:30")));
}

#[tokio::test]
async fn race_a_sweep_that_commits_first_is_recovered_by_the_batch_that_loaded_before_it() {
    let (store, sink) = silent_agent_setup().await;
    // The batch loaded a (Available), then the sweep committed UNKNOWN, then the batch commits.
    *store.stale_load.lock().unwrap() = Some(store.inner.load_many(&[agent_arn("i-1", "a")]).await.unwrap());
    let swept = sweep(&store, &sink, "10:06:10").await;
    assert_eq!(swept.silent_agents, 1);
    let input = batch(&[event("a", "a2", "10:06:30", "STATE_CHANGE", "Break")]);
    let first = handle_batch(&input, &store, &sink, &Settings::default(), t("12:00:00")).await;
    // Its commit would erase the UNKNOWN mark it never saw: refused, and the records retried.
    assert_eq!((first.stats.superseded, first.stats.failed_agents), (1, 1));
    assert_eq!(store.inner.get(&agent_arn("i-1", "a")).unwrap().state, "UNKNOWN");
    // Lambda re-delivers: the batch's newer event wins, as a recovery from UNKNOWN.
    let retry = handle_batch(&input, &store, &sink, &Settings::default(), t("12:00:00")).await;
    assert_eq!((retry.stats.committed, retry.stats.failed_agents), (1, 0));
    let stored = store.inner.get(&agent_arn("i-1", "a")).unwrap();
    assert_eq!((stored.state.as_str(), stored.silent_since), ("Break", None));
    let a: Vec<_> = transitions(&sink).into_iter().filter(|r| r.0 == "a").collect();
    assert_eq!(a.last().unwrap(), &row("a", "Break", "UNKNOWN", "STATE_CHANGE"));
    // The sweep that runs next emits nothing.
    let again = sweep(&store, &sink, "10:07:00").await;
    assert_eq!((again.silent_agents, again.superseded), (0, 0));
}

#[tokio::test]
async fn two_overlapping_sweeps_write_the_same_objects_and_one_transition() {
    let (store, sink) = silent_agent_setup().await;
    feed(
        &store,
        &sink,
        &[event("b", "b2", "10:15:00", "HEART_BEAT", "Available")],
    )
    .await;
    // The second sweep read the progress and the agents before the first committed.
    *store.stale_active.lock().unwrap() = Some(store.inner.active_agents("i-1").await.unwrap());
    *store.stale_progress.lock().unwrap() = Some(store.inner.load_progress().await.unwrap());
    let first = sweep_agents(&store.inner, &sink, &sink, &SweepSettings::default(), t("10:15:10"))
        .await
        .unwrap();
    let keys = sink.keys();
    let second = sweep(&store, &sink, "10:15:10").await;
    assert_eq!(
        (first.silent_agents, second.silent_agents, second.superseded),
        (1, 0, 1)
    );
    assert_eq!(sink.keys(), keys, "the snapshot object is the same, no other object");
    assert_eq!(unknowns(&sink).len(), 1);
    assert_eq!(
        (first.snapshots, second.snapshots),
        (1, 1),
        "both write the slot's one object"
    );
    // Recorded once for the slot: a third sweep writes no snapshot.
    assert_eq!(sweep(&store, &sink, "10:16:10").await.snapshots, 0);
}

#[tokio::test]
async fn a_snapshot_the_slots_first_sweep_could_not_write_is_written_by_a_later_sweep_of_the_slot() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[event("a", "a1", "10:14:00", "STATE_CHANGE", "Available")],
    )
    .await;
    sweep(&store, &sink, "10:14:30").await;
    // S3 refuses the sweep's writes during the slot's first minute: the agent_interval object
    // of the interval that ended, then the snapshot.
    let plan = FaultPlan::new(std::iter::repeat_n(Some(Fault::Throttle), 2));
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    let first = sweep_agents(&store, &failing, &sink, &SweepSettings::default(), t("10:15:10"))
        .await
        .unwrap();
    assert_eq!((first.snapshots, first.agent_intervals, first.failures), (0, 0, 2));
    assert!(!sink.keys().iter().any(|k| k.ends_with("i-1-1015.jsonl")));
    assert_eq!(store.progress_of("i-1").unwrap().snapshot_slot, Some(t("10:00:00")));
    // The next sweep, in the slot's second minute, writes it.
    let next = sweep(&store, &sink, "10:16:10").await;
    assert_eq!((next.snapshots, next.snapshot_agents, next.failures), (1, 1, 0));
    assert_eq!(next.agent_intervals, 1, "the interval the first sweep could not write");
    assert_eq!(sink.lines("agent_interval/2026-11-21/stream/i-1/1000").len(), 1);
    let snapshot = sink.lines("agent_snapshot/2026-11-21/i-1-1015");
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0]["as_of"], "2026-11-21T10:15:00.000Z");
    assert_eq!(store.progress_of("i-1").unwrap().snapshot_slot, Some(t("10:15:00")));
    assert_eq!(sweep(&store, &sink, "10:17:10").await.snapshots, 0);
}

#[tokio::test]
async fn a_throttled_idle_agent_is_never_judged_silent() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    feed(
        &store,
        &sink,
        &[event("a", "a0", "10:00:00", "STATE_CHANGE", "Available")],
    )
    .await;
    let start = t("10:00:00");
    // An hour of heartbeats every 120 s, a sweep after each batch at the batch's clock.
    for i in 1..=30 {
        let at = start + Duration::seconds(120 * i);
        let clock = at.format("%H:%M:%S").to_string();
        feed(
            &store,
            &sink,
            &[event("a", &format!("h{i}"), &clock, "HEART_BEAT", "Available")],
        )
        .await;
        sweep(&store, &sink, &format!("{clock}.900")).await;
    }
    assert!(unknowns(&sink).is_empty());
    // What an idle agent costs: one commit every other heartbeat, 15 per hour.
    assert_eq!(store.commits.load(Ordering::Relaxed), 1 + 15);
}

/// a Available since 10:00, b keeps i-1's stream at 10:06: a is silent by 10:06:10.
async fn a_is_silent(store: &MemoryStateStore, sink: &MemoryFeedSink) {
    feed(
        store,
        sink,
        &[
            event("a", "a1", "10:00:00", "STATE_CHANGE", "Available"),
            event("b", "b1", "10:06:00", "STATE_CHANGE", "Available"),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_unknown_record_whose_write_failed_is_written_by_the_next_sweep_with_its_id_and_object() {
    // What a fault-free sweep writes.
    let (clean_store, clean_sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&clean_store, &clean_sink).await;
    sweep(&clean_store, &clean_sink, "10:06:10").await;
    let clean: Vec<String> = clean_sink
        .keys()
        .into_iter()
        .filter(|k| k.contains("/sweep-"))
        .collect();
    // The UNKNOWN record's object and the object of the pieces its silence closed.
    assert_eq!(clean.len(), 2, "{clean:?}");
    assert!(clean[0].starts_with("agent_activity/") && clean[1].starts_with("agent_state/"));

    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&store, &sink).await;
    // S3 refuses the sweep's one put: the UNKNOWN is committed, its record is not written.
    let plan = FaultPlan::new([Some(Fault::Throttle)]);
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    let first = sweep_agents(&store, &failing, &sink, &SweepSettings::default(), t("10:06:10"))
        .await
        .unwrap();
    assert_eq!((first.silent_agents, first.failures), (0, 1));
    assert!(unknowns(&sink).is_empty());
    assert_eq!(store.get(&agent_arn("i-1", "a")).unwrap().state, "UNKNOWN");
    let commits = store.commits.load(Ordering::Relaxed);

    // The next sweep writes it: the same object and record as the fault-free run, no new
    // commit (the state already says UNKNOWN: nothing is judged twice).
    let next = sweep(&store, &sink, "10:07:10").await;
    assert_eq!((next.rewritten, next.silent_agents, next.failures), (1, 0, 0));
    assert_eq!(store.commits.load(Ordering::Relaxed), commits);
    let keys: Vec<String> = sink.keys().into_iter().filter(|k| k.contains("/sweep-")).collect();
    assert_eq!(keys, clean);
    assert_eq!(sink.get(&clean[0]), clean_sink.get(&clean[0]), "the same pieces");
    assert_eq!(unknowns(&sink), unknowns(&clean_sink));
    assert_eq!(unknowns(&sink)[0]["previous_state"], "Available");
    assert_eq!(unknowns(&sink)[0]["event_id"], "silence-a-1795255200000");

    // Two minutes after the commit, no sweep writes it again.
    let later = sweep(&store, &sink, "10:08:20").await;
    assert_eq!(later.rewritten, 0);
}

#[tokio::test]
async fn a_rewrite_never_writes_a_record_for_a_state_a_batch_replaced() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&store, &sink).await;
    let plan = FaultPlan::new([Some(Fault::Throttle)]);
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    sweep_agents(&store, &failing, &sink, &SweepSettings::default(), t("10:06:10"))
        .await
        .unwrap();
    // a sends again before the next sweep: recovered, its state is no longer UNKNOWN.
    feed(
        &store,
        &sink,
        &[event("a", "a2", "10:06:30", "HEART_BEAT", "Available")],
    )
    .await;
    let a = store.get(&agent_arn("i-1", "a")).unwrap();
    assert_eq!((a.silenced_at, a.silenced_from.as_deref()), (None, None));
    let next = sweep(&store, &sink, "10:07:10").await;
    assert_eq!(
        next.rewritten, 0,
        "the sweep writes nothing for a state a batch replaced"
    );
    // The record the sweep owed was written by the batch that recovered a, before its recovery.
    let unknown = unknowns(&sink);
    let ids: Vec<&str> = unknown.iter().map(|r| r["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["silence-a-1795255200000"]);
}

#[tokio::test]
async fn a_recovery_right_after_a_failed_unknown_write_writes_the_unknown_record_first() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&store, &sink).await;
    let plan = FaultPlan::new([Some(Fault::Throttle)]);
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    sweep_agents(&store, &failing, &sink, &SweepSettings::default(), t("10:06:10"))
        .await
        .unwrap();
    assert!(unknowns(&sink).is_empty());
    // a's heartbeat reaches agent-events 30 s later, before any sweep could write the record.
    let outcome = handle_batch(
        &batch(&[event("a", "a2", "10:06:30", "HEART_BEAT", "Available")]),
        &store,
        &sink,
        &Settings::default(),
        t("10:06:40"),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    let a: Vec<_> = transitions(&sink).into_iter().filter(|r| r.0 == "a").collect();
    assert_eq!(
        a,
        [
            row("a", "Available", "null", "STATE_CHANGE"),
            row("a", "UNKNOWN", "Available", "SILENCE"),
            row("a", "Available", "UNKNOWN", "HEART_BEAT"),
        ]
    );
    assert_eq!(unknowns(&sink)[0]["event_id"], "silence-a-1795255200000");
    // The next sweep has nothing to write again: a is no longer UNKNOWN.
    assert_eq!(sweep(&store, &sink, "10:07:10").await.rewritten, 0);
}

#[tokio::test]
async fn an_unknown_record_is_owed_however_long_the_feed_refuses_it_and_written_once_it_can() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&store, &sink).await;
    // S3 refuses every write for ten sweeps (longer than the two-minute rewrite window).
    let plan = FaultPlan::new(vec![Some(Fault::Throttle); 1_000]);
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    for minute in 6..16 {
        let stats = sweep_agents(
            &store,
            &failing,
            &sink,
            &SweepSettings::default(),
            t(&format!("10:{minute:02}:10")),
        )
        .await
        .unwrap();
        assert!(stats.failures > 0, "the sweep that cannot write says so");
        // a's record; from 10:11 on also b's (the whole instance falls silent by the clock).
        let owed = if minute < 11 { 1 } else { 2 };
        assert_eq!(stats.owed_records, owed, "at 10:{minute:02}:10");
        assert_eq!(
            store.progress_of("i-1").unwrap().owed_since,
            Some(t("10:06:10")),
            "the debt is kept on the instance's progress"
        );
    }
    assert!(unknowns(&sink).is_empty());

    // The feed is back: the first sweep writes the record, with its id, and clears the debt.
    let back = sweep(&store, &sink, "10:16:10").await;
    assert_eq!((back.rewritten, back.owed_records, back.failures), (2, 0, 0));
    let ids: Vec<String> = unknowns(&sink)
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&"silence-a-1795255200000".to_owned()), "{ids:?}");
    assert_eq!(ids.len(), 2, "a's and b's, each once: {ids:?}");
    assert_eq!(store.progress_of("i-1").unwrap().owed_since, None);
    // Nothing owed any more: the next sweep writes nothing again.
    assert_eq!(sweep(&store, &sink, "10:17:10").await.rewritten, 0);
}

#[tokio::test]
async fn a_recovery_long_after_a_failed_unknown_write_still_writes_the_unknown_record_first() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    a_is_silent(&store, &sink).await;
    let plan = FaultPlan::new(vec![Some(Fault::Throttle); 1_000]);
    let failing = FaultyFeedSink {
        inner: &sink,
        plan: &plan,
    };
    for minute in 6..12 {
        sweep_agents(
            &store,
            &failing,
            &sink,
            &SweepSettings::default(),
            t(&format!("10:{minute:02}:10")),
        )
        .await
        .unwrap();
    }
    // a comes back ten minutes after its silence, while no sweep could write the record yet.
    let outcome = handle_batch(
        &batch(&[event("a", "a2", "10:16:00", "HEART_BEAT", "Available")]),
        &store,
        &sink,
        &Settings::default(),
        t("10:16:05"),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    let a: Vec<_> = transitions(&sink).into_iter().filter(|r| r.0 == "a").collect();
    assert_eq!(
        a,
        [
            row("a", "Available", "null", "STATE_CHANGE"),
            row("a", "UNKNOWN", "Available", "SILENCE"),
            row("a", "Available", "UNKNOWN", "HEART_BEAT"),
        ]
    );
}

/// `(agent_id, login_time_s, idle_time_s, not_ready_time_s, states)` of the stream-basis
/// `agent_interval` object of the interval starting at `hhmm`.
type AgentIntervalView = (String, i64, i64, i64, Vec<(String, i64)>);

fn agent_interval(sink: &MemoryFeedSink, hhmm: &str) -> Vec<AgentIntervalView> {
    sink.lines(&format!("agent_interval/2026-11-21/stream/i-1/{hhmm}"))
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap().to_owned(),
                r["login_time_s"].as_i64().unwrap(),
                r["idle_time_s"].as_i64().unwrap(),
                r["not_ready_time_s"].as_i64().unwrap(),
                r["states"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| (s["state"].as_str().unwrap().to_owned(), s["seconds"].as_i64().unwrap()))
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_first_sweep_after_an_interval_writes_its_agent_intervals_and_late_input_rewrites_them() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let on_time = |events: Vec<Value>, now: &'static str| {
        let (store, sink) = (&store, &sink);
        async move { handle_batch(&batch(&events), store, sink, &Settings::default(), t(now)).await }
    };
    on_time(
        vec![
            event("a", "a1", "10:01:00", "LOGIN", "Offline"),
            event("a", "a2", "10:02:00", "STATE_CHANGE", "Available"),
            event("a", "a3", "10:05:00", "STATE_CHANGE", "Break"),
            // Alive (heartbeats the throttle writes), so never UNKNOWN.
            event("a", "h1", "10:08:00", "HEART_BEAT", "Break"),
            event("a", "h2", "10:11:30", "HEART_BEAT", "Break"),
            event("b", "b1", "10:14:00", "STATE_CHANGE", "Available"),
        ],
        "10:14:01",
    )
    .await;
    // Before the interval's end nothing is written; the first sweep after it writes it, the
    // open states counting up to 10:15.
    assert_eq!(sweep(&store, &sink, "10:14:30").await.agent_intervals, 0);
    let first = sweep(&store, &sink, "10:15:10").await;
    assert_eq!((first.agent_intervals, first.agent_interval_records), (1, 2));
    let want_a = |break_s: i64, idle_s: i64| {
        let mut states = vec![("Available".to_owned(), idle_s), ("Break".to_owned(), break_s)];
        states.push(("LOGIN".to_owned(), 60));
        ("a".to_owned(), 840, idle_s, 840 - idle_s, states)
    };
    assert_eq!(
        agent_interval(&sink, "1000"),
        vec![
            want_a(600, 180),
            ("b".into(), 60, 60, 0, vec![("Available".into(), 60)])
        ]
    );
    // Written once: the next sweeps leave it.
    assert_eq!(sweep(&store, &sink, "10:16:10").await.agent_intervals, 0);

    // An event stamped before the end arrives after the sweep: agent-events marks the interval,
    // the next sweep writes it again.
    let late = on_time(
        vec![event("a", "a4", "10:12:00", "STATE_CHANGE", "Available")],
        "10:16:20",
    )
    .await;
    assert_eq!(late.stats.changed_intervals, 1);
    assert_eq!(store.progress_of("i-1").unwrap().changed_intervals, [t("10:00:00")]);
    let again = sweep(&store, &sink, "10:17:10").await;
    assert_eq!(again.agent_intervals, 1);
    assert_eq!(agent_interval(&sink, "1000")[0], want_a(420, 360));
    assert!(store.progress_of("i-1").unwrap().changed_intervals.is_empty());
    assert_eq!(sweep(&store, &sink, "10:18:10").await.agent_intervals, 0);

    // The pieces that make it up: a's Break closed by the late event, in stream order.
    let pieces = sink.lines("agent_activity/2026-11-21/i-1/1000/");
    let closed: Vec<(&str, &str, &str)> = pieces
        .iter()
        .filter(|p| p["agent_id"] == "a")
        .map(|p| {
            (
                p["state"].as_str().unwrap(),
                p["start"].as_str().unwrap(),
                p["end"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        closed,
        [
            ("LOGIN", "2026-11-21T10:01:00.000Z", "2026-11-21T10:02:00.000Z"),
            ("Available", "2026-11-21T10:02:00.000Z", "2026-11-21T10:05:00.000Z"),
            ("Break", "2026-11-21T10:05:00.000Z", "2026-11-21T10:12:00.000Z"),
        ]
    );
}

#[tokio::test]
async fn an_unknown_closes_the_open_segment_and_counts_as_unknown_time() {
    let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    handle_batch(
        &batch(&[event("a", "a1", "10:00:00", "STATE_CHANGE", "Available")]),
        &store,
        &sink,
        &Settings::default(),
        t("10:00:01"),
    )
    .await;
    // Silent from 10:05 (last seen 10:00 + 300 s).
    let stats = sweep(&store, &sink, "10:06:10").await;
    assert_eq!((stats.silent_agents, stats.pieces), (1, 1));
    let piece = &sink.lines("agent_activity/2026-11-21/i-1/1000/")[0];
    assert_eq!(
        (piece["state"].as_str(), piece["end"].as_str()),
        (Some("Available"), Some("2026-11-21T10:05:00.000Z"))
    );
    assert_eq!(piece["closed_by"], "silence-a-1795255200000");
    sweep(&store, &sink, "10:15:10").await;
    let record = &sink.lines("agent_interval/2026-11-21/stream/i-1/1000")[0];
    assert_eq!(
        (
            record["login_time_s"].as_i64(),
            record["unknown_time_s"].as_i64(),
            record["idle_time_s"].as_i64()
        ),
        (Some(300), Some(600), Some(300))
    );
}
