//! Fault injection with Lambda's Kinesis retry semantics.
//!
//! A generated stream (hundreds of agents, thousands of records, duplicates, late re-deliveries
//! and bad records mixed in) is fed through `handle_batch` in batches, with the state store and
//! the feed sink failing calls by a random schedule (errors, throttling, timeouts after the
//! write went through). Like Lambda with `ReportBatchItemFailures`, the driver re-delivers
//! from the reported sequence number until the stream is done. The properties: the feed holds
//! exactly the transitions and rejects of a fault-free run (by event_id / sequence number, and
//! every copy of a record is the same record), no agent's stored watermark ever moves back,
//! and the final states are the fault-free ones.
//!
//! Cases: 100 over 1,500 records of 150 agents by default; `PROPTEST_CASES=n` sets the number, `CONNECT_WFM_LONG=1` runs 2,000
//! cases over 6,000 records of 500 agents.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use connect_wfm_core::agent::AgentState;
use connect_wfm_core::faults::{Fault, FaultPlan, FaultyFeedSink, FaultyStateStore};
use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_core::ports::{FeedSink, PortError};
use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use proptest::prelude::*;
use serde_json::Value;

fn long_mode() -> bool {
    std::env::var("CONNECT_WFM_LONG").is_ok_and(|v| v == "1")
}

fn cases(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if long_mode() => 2000,
        None => default,
    }
}

fn spec() -> StreamSpec {
    if long_mode() {
        StreamSpec {
            agents: 500,
            records: 6000,
            ..StreamSpec::default()
        }
    } else {
        StreamSpec {
            agents: 150,
            records: 1500,
            ..StreamSpec::default()
        }
    }
}

fn stream() -> &'static [Value] {
    static STREAM: OnceLock<Vec<Value>> = OnceLock::new();
    STREAM.get_or_init(|| kinesis_records(&agent_event_stream(&spec()), "shardId-000000000000", 1))
}

fn now() -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

/// A feed sink that refuses to overwrite an object with different content: a retry may
/// rewrite an object, never replace records already in it.
#[derive(Default)]
struct AuditedSink {
    inner: MemoryFeedSink,
    overwrites: Mutex<Vec<String>>,
}

impl FeedSink for AuditedSink {
    async fn put(&self, key: &str, body: connect_wfm_core::feed::FeedBody) -> Result<(), PortError> {
        if let Some(old) = self.inner.get(key) {
            if old.as_slice() != body.bytes() {
                self.overwrites.lock().unwrap().push(key.to_owned());
            }
        }
        self.inner.put(key, body).await
    }
}

/// What a run through the stream left.
#[derive(Debug)]
struct RunResult {
    /// event_id → every copy of its agent_state record in the feed.
    transitions: BTreeMap<String, Vec<Value>>,
    /// Reject inputs (`kinesis <shard> seq <n>`) → how many copies.
    rejects: BTreeMap<String, usize>,
    /// Final states without the progress fields (watermark, last-seen, the instance progress
    /// the row carries), which depend on where
    /// batches were cut.
    states: Vec<AgentState>,
    invocations: usize,
    overwrites: Vec<String>,
    regressions: Vec<String>,
}

fn without_progress(mut state: AgentState) -> AgentState {
    state.watermark.event_ids.clear();
    state.watermark.at = DateTime::<Utc>::UNIX_EPOCH;
    state.last_seen = DateTime::<Utc>::UNIX_EPOCH;
    // The instance's progress the row carries: the newest event of the batch that wrote it.
    state.stream_newest = None;
    state
}

/// Feeds `stream` through the handler like Lambda does: batches of `batch_size`; on a batch
/// item failure, the next batch starts at the reported record — either the rest of the failed
/// batch (`extend_retries` false) or a full batch from there.
async fn drive(stream: &[Value], batch_size: usize, extend_retries: bool, plan: &FaultPlan) -> RunResult {
    let store = MemoryStateStore::default();
    let sink = AuditedSink::default();
    let faulty_store = FaultyStateStore { inner: &store, plan };
    let faulty_sink = FaultyFeedSink { inner: &sink, plan };
    let settings = Settings::default();
    let mut watermarks: HashMap<String, (i64, usize)> = HashMap::new();
    let mut regressions = Vec::new();
    let (mut pos, mut retry_end) = (0, None);
    let mut invocations = 0;
    while pos < stream.len() {
        let end = match retry_end.take() {
            Some(end) if !extend_retries => end,
            _ => (pos + batch_size).min(stream.len()),
        };
        let batch = KinesisBatch::from_records(stream[pos..end].to_vec());
        let outcome = handle_batch(&batch, &faulty_store, &faulty_sink, &settings, now()).await;
        invocations += 1;
        assert!(
            invocations < 20 * stream.len(),
            "the stream does not finish: {invocations} invocations"
        );
        for state in store.all() {
            let key = state.watermark.order_key();
            let before = watermarks.insert(state.agent_arn.clone(), key);
            if before.is_some_and(|b| b > key) {
                regressions.push(format!("{} went back from {before:?} to {key:?}", state.agent_id));
            }
        }
        match outcome.failed_from() {
            None => pos = end,
            Some(seq) => {
                let at = batch
                    .records
                    .iter()
                    .position(|r| r.sequence_number.as_deref() == Some(seq))
                    .unwrap_or_else(|| panic!("reported sequence number {seq} is not in the batch"));
                pos += at;
                retry_end = Some(end);
            }
        }
    }

    let mut transitions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in sink.inner.lines("agent_state/") {
        transitions
            .entry(line["event_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(line);
    }
    let mut rejects: BTreeMap<String, usize> = BTreeMap::new();
    for line in sink.inner.lines("rejects/") {
        assert!(!line["reason"].as_str().unwrap().is_empty());
        *rejects.entry(line["input"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    RunResult {
        transitions,
        rejects,
        states: store.all().into_iter().map(without_progress).collect(),
        invocations,
        overwrites: sink.overwrites.into_inner().unwrap(),
        regressions,
    }
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn fault_free() -> &'static RunResult {
    static RUN: OnceLock<RunResult> = OnceLock::new();
    RUN.get_or_init(|| block_on(drive(stream(), 100, false, &FaultPlan::none())))
}

/// Compares a run with the fault-free one; the error names the first difference.
fn check_against_fault_free(run: &RunResult, plan: &FaultPlan) -> Result<(), String> {
    let want = fault_free();
    let faults = plan.injected().len();
    if !run.regressions.is_empty() {
        return Err(format!("state regressed ({faults} faults): {:?}", run.regressions));
    }
    if !run.overwrites.is_empty() {
        return Err(format!(
            "feed objects overwritten with other content: {:?}",
            run.overwrites
        ));
    }
    let got_ids: BTreeSet<&String> = run.transitions.keys().collect();
    let want_ids: BTreeSet<&String> = want.transitions.keys().collect();
    if got_ids != want_ids {
        let lost: Vec<_> = want_ids.difference(&got_ids).take(5).collect();
        let extra: Vec<_> = got_ids.difference(&want_ids).take(5).collect();
        return Err(format!(
            "transitions differ ({faults} faults): lost {lost:?}, extra {extra:?}"
        ));
    }
    for (id, copies) in &run.transitions {
        let expected = &want.transitions[id][0];
        if let Some(other) = copies.iter().find(|c| *c != expected) {
            return Err(format!("transition {id} re-emitted differently: {other} vs {expected}"));
        }
    }
    let got_rejects: BTreeSet<&String> = run.rejects.keys().collect();
    let want_rejects: BTreeSet<&String> = want.rejects.keys().collect();
    if got_rejects != want_rejects {
        return Err(format!("rejects differ: {got_rejects:?} vs {want_rejects:?}"));
    }
    if run.states != want.states {
        let diff = run.states.iter().zip(&want.states).find(|(a, b)| a != b);
        return Err(format!("final states differ: {diff:?}"));
    }
    Ok(())
}

/// Transient faults only: the property is "the same feed and states as a fault-free run", and a
/// permanent error (Fault::Error) sets the agent's records aside under rejects by design instead
/// (handler test `a_permanent_commit_failure_keeps_that_agents_records_under_rejects_...`).
fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Throttle), Just(Fault::Timeout)]
}

/// A schedule over the first calls: a fault density of 1..=30 %, over up to 1,500 calls.
fn schedule() -> impl Strategy<Value = Vec<Option<Fault>>> {
    (1u32..=30).prop_flat_map(|percent| {
        prop::collection::vec(prop::option::weighted(f64::from(percent) / 100.0, fault()), 0..1500)
    })
}

fn batch_size() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(100usize), 2 => 10usize..=100, 1 => 1usize..10]
}

#[test]
fn the_fault_free_run_is_sane_and_independent_of_batch_size() {
    let base = fault_free();
    let spec = spec();
    assert!(base.transitions.len() > spec.records / 2, "{}", base.transitions.len());
    assert!(
        base.transitions.values().all(|copies| copies.len() == 1),
        "no copies without faults"
    );
    assert!(!base.rejects.is_empty() && base.rejects.values().all(|n| *n == 1));
    assert!(base.states.len() > spec.agents * 9 / 10);
    assert!(base.regressions.is_empty() && base.overwrites.is_empty());
    for size in [1, 7, 64] {
        let run = block_on(drive(stream(), size, true, &FaultPlan::none()));
        assert_eq!(
            check_against_fault_free(&run, &FaultPlan::none()),
            Ok(()),
            "batch size {size}"
        );
        assert_eq!(run.invocations, stream().len().div_ceil(size));
    }
}

#[test]
fn a_throttled_store_and_a_lossy_sink_lose_nothing_on_a_known_schedule() {
    // Every 7th call throttled, every 11th timed out after the write: many replays.
    let schedule = (0..3000).map(|call| match call {
        c if c % 11 == 5 => Some(Fault::Timeout),
        c if c % 7 == 3 => Some(Fault::Throttle),
        _ => None,
    });
    let plan = FaultPlan::new(schedule);
    let run = block_on(drive(stream(), 100, false, &plan));
    assert!(plan.injected().len() > 100, "{} faults", plan.injected().len());
    assert!(run.invocations > fault_free().invocations);
    assert_eq!(check_against_fault_free(&run, &plan), Ok(()));
    let repeated = run.transitions.values().filter(|c| c.len() > 1).count();
    assert!(
        repeated > 0,
        "timeouts after a feed write re-deliver transitions (at least once)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(100),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_fault_schedule_gives_the_fault_free_feed_and_states(
        schedule in schedule(),
        batch_size in batch_size(),
        extend_retries in any::<bool>(),
    ) {
        let plan = FaultPlan::new(schedule);
        let run = block_on(drive(stream(), batch_size, extend_retries, &plan));
        prop_assert_eq!(check_against_fault_free(&run, &plan), Ok(()));
    }
}
