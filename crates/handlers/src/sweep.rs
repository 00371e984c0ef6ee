//! The sweep handler: one run at the clock `now`.
//!
//! Per instance (from the progress the agent-events function keeps): read the agents that are
//! not logged out (the sparse index, never a table scan), judge them ([`sweep_instance`]),
//! record a new instance silence (conditional on the progress it judged), commit each `UNKNOWN`
//! with the watermark condition of agent-events, then write the `feed_health` record and the
//! transitions that committed. A batch that raced ahead wins the condition, so its newer state
//! is never regressed and the sweep writes nothing for that agent. A repeated or overlapping
//! sweep emits nothing new: its commits are superseded, its health and snapshot objects have
//! the same names. The records of silences committed in the last two minutes are written again
//! (rebuilt from the `UNKNOWN` rows: the same objects and ids), so a record whose write failed
//! after its commit is not lost. Every `SNAPSHOT_MINUTES` slot, the first sweep that finds an
//! instance's snapshot of the slot not written (kept on its progress) writes one
//! `agent_snapshot` object per instance, after its transitions.
//!
//! When contact events are on, the same run also closes the stream-basis intervals that have
//! ended (contact-events' [`close_intervals`] at the sweep's clock), so a queue with only waiting
//! contacts gets its backlog record within a minute of the interval's end (feed.md "Stream
//! basis"). The two parts run side by side and fail apart: a contact table that cannot be read
//! never delays an `UNKNOWN`, and an agent-state table that cannot be read never delays a
//! backlog record.

use std::collections::{BTreeMap, BTreeSet};

use crate::contacts::close_intervals;
use chrono::{DateTime, NaiveDate, Utc};
use connect_wfm_core::agent::{
    AgentState, AgentStateMapping, InstanceProgress, SNAPSHOT_LOOKBACK, SweepPolicy, current_snapshot_slot,
    silence_rewrites, snapshot_records, snapshot_slot, sweep_instance,
};
use connect_wfm_core::contact::store::ContactStore;
use connect_wfm_core::feed::{self, AgentSnapshotRecord, AgentStateRecord};
use connect_wfm_core::ports::{AgentDirectory, AgentStateStore, CommitOutcome, FeedSink, PortError, ProgressStore};
use serde::Serialize;
use tracing::Instrument as _;

use crate::counts::counts;

/// Name of this function in feed object names and logs.
pub const FUNCTION: &str = "sweep";

/// What the handler needs besides its ports; built once at cold start.
#[derive(Debug, Clone, Default)]
pub struct SweepSettings {
    /// Its `Unknown` entry names the state of a silent agent; its `Logout` entry the state
    /// that is never judged silent.
    pub mapping: AgentStateMapping,
    pub policy: SweepPolicy,
    /// Thresholds, SLAs and instance aliases of the stream-basis records it closes.
    pub stream: crate::contacts::Settings,
}

counts! {
    /// Counts of what one sweep did (logged once per sweep, returned to the caller). The
    /// metrics: `SilentInstances` is the silence alarm's, `SweepFailures` the failure alarm's.
    #[derive(Serialize)]
    pub struct SweepStats {
        /// Instances with progress.
        instances,
        /// Agents not logged out, read from the index.
        active_agents => gauge "ActiveAgents",
        /// Instances reported silent after this sweep (new or earlier).
        silent_instances => gauge "SilentInstances",
        /// Instances this sweep found silent for the first time.
        newly_silent_instances,
        /// `UNKNOWN` transitions committed and written by this sweep.
        silent_agents => counter "SilentAgents",
        /// `UNKNOWN` commits refused because a batch (or another sweep) got there first.
        superseded,
        /// `UNKNOWN` records of the last two minutes' silences written again (same ids, same
        /// objects), so a record whose first write failed after its commit is not lost.
        rewritten,
        /// Snapshot objects written.
        snapshots,
        /// The agents the snapshots hold.
        snapshot_agents,
        /// Stream-basis intervals closed (written with their backlog and out of the closing set).
        intervals_closed => counter "IntervalsClosed",
        /// Stream-basis records written by closing them.
        interval_records => counter "IntervalRecords",
        /// Reads, commits or writes that failed (logged; the next sweep tries again), closing
        /// intervals included.
        failures => counter "SweepFailures",
        /// `UNKNOWN` records committed but not yet written to the feed (the feed refused them):
        /// kept as owed on the instance's progress and written by the next sweep that can.
        owed_records => gauge "OwedRecords",
    }
}

impl SweepStats {
    /// Counts this sweep in the process's metrics recorder (CloudWatch EMF in Lambda, nothing
    /// elsewhere).
    pub fn record_metrics(&self) {
        self.record_counts();
    }
}

/// A sweep that could not start.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Without the instances' progress there is nothing to judge.
    #[error("sweep: could not read instance progress: {0}")]
    Progress(#[source] PortError),
}

/// The clock of a scheduled run: the `time` of the EventBridge event, so a retried invocation
/// judges at the same clock and writes the same objects.
pub fn scheduled_time(event: &serde_json::Value) -> Option<DateTime<Utc>> {
    let time = event.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(time).ok().map(|t| t.with_timezone(&Utc))
}

/// Runs one scheduled sweep at the clock `now`: the agents' part ([`sweep_agents`]) and, when
/// a contact store is given, the closing of stream-basis intervals ([`close_stream_intervals`]),
/// side by side. Never fails as a whole: a failure of either part (the progress that cannot be
/// read included) is logged and counted in [`SweepStats::failures`], and the other part goes
/// on; the next minute's sweep tries again.
pub async fn handle_sweep<S, C, F>(
    states: &S,
    contacts: Option<&C>,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> SweepStats
where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    C: ContactStore,
    F: FeedSink,
{
    let agents = sweep_agents(states, sink, settings, now);
    let intervals = async {
        match contacts {
            Some(contacts) => close_stream_intervals(contacts, sink, settings, now).await,
            None => SweepStats::default(),
        }
    };
    let (agents, intervals) = futures_util::join!(agents, intervals);
    let mut stats = agents.unwrap_or_else(|e| {
        tracing::error!(error = %e, "agents not swept; the next sweep tries again");
        SweepStats {
            failures: 1,
            ..SweepStats::default()
        }
    });
    stats.intervals_closed = intervals.intervals_closed;
    stats.interval_records = intervals.interval_records;
    stats.failures += intervals.failures;
    stats
}

/// Closes the stream-basis intervals that have ended by `now` (contact-events'
/// [`close_intervals`]); counts what it closed and wrote, and each interval it could not close
/// (or the one failure that stopped it) as a failure. Logged under a `close_intervals` span.
pub async fn close_stream_intervals<C, F>(
    contacts: &C,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> SweepStats
where
    C: ContactStore,
    F: FeedSink,
{
    let span = tracing::info_span!("close_intervals", clock = %now);
    async {
        match close_intervals(contacts, sink, &settings.stream, now).await {
            Ok(outcome) => SweepStats {
                intervals_closed: outcome.closed,
                interval_records: outcome.written,
                failures: outcome.failed.len(),
                ..SweepStats::default()
            },
            Err(e) => {
                tracing::error!(error = %e, "could not close stream-basis intervals; the next sweep tries again");
                SweepStats {
                    failures: 1,
                    ..SweepStats::default()
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// The agents' part of a sweep at the clock `now`: silence, instance health, snapshots. Fails
/// only when the progress cannot be read; any other failure is counted in
/// [`SweepStats::failures`] and logged, and the rest of the sweep goes on.
pub async fn sweep_agents<S, F>(
    states: &S,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> Result<SweepStats, SweepError>
where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    F: FeedSink,
{
    let progress = states.load_progress().await.map_err(SweepError::Progress)?;
    let mut stats = SweepStats {
        instances: progress.len(),
        ..SweepStats::default()
    };
    for instance in &progress {
        // Every log line of an instance's sweep carries its id, without repeating it by hand.
        let span = tracing::info_span!("instance", instance_id = %instance.instance_id);
        sweep_one(instance, states, sink, settings, now, &mut stats)
            .instrument(span)
            .await;
    }
    if let Some(slot) = current_snapshot_slot(now, settings.policy.snapshot_minutes) {
        let first_minute = snapshot_slot(now, settings.policy.snapshot_minutes).is_some();
        write_snapshots(&progress, slot, first_minute, states, sink, &mut stats).await;
    }
    stats.log_counts("sweep done");
    Ok(stats)
}

async fn sweep_one<S, F>(
    progress: &InstanceProgress,
    states: &S,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
    stats: &mut SweepStats,
) where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    F: FeedSink,
{
    let instance = progress.instance_id.as_str();
    let agents = match states.active_agents(instance).await {
        Ok(agents) => agents,
        Err(e) => {
            tracing::error!(instance, error = %e, "could not read the instance's agents; the next sweep retries");
            stats.failures += 1;
            return;
        }
    };
    stats.active_agents += agents.len();

    // The records of silences committed in the last two minutes, and of those still owed to
    // the feed, written again: the UNKNOWN commit comes before its record (never a record for a
    // state a batch replaced), so a record write that fails after its commit is made good here,
    // by the same object with the same ids, however long the feed refuses it. (An agent that
    // recovered meanwhile had its record written by the batch that recovered it.)
    let mut owed = Owed::default();
    for (at, group) in silence_rewrites(&agents, now, progress.owed_since) {
        for (key, records) in transition_objects(instance, group) {
            match sink.put(&key, feed::to_json_lines(&records)).await {
                Ok(()) => stats.rewritten += records.len(),
                Err(e) => {
                    stats.failures += 1;
                    owed.add(at, records.len());
                    tracing::error!(instance, key, agents = records.len(), error = %e, "could not write UNKNOWN transitions again; owed, the next sweep tries");
                }
            }
        }
    }
    judge_instance(progress, &agents, states, sink, settings, now, stats, &mut owed).await;
    stats.owed_records += owed.records;
    if owed.since != progress.owed_since {
        // Kept on the instance's progress: later sweeps write what is owed, however many
        // minutes the feed refuses writes; cleared once they are all written.
        if let Err(e) = states.owe_records(instance, owed.since, progress.owed_since).await {
            stats.failures += 1;
            tracing::error!(instance, error = %e, "could not record the UNKNOWN records owed to the feed");
        }
    }
}

/// The `UNKNOWN` records of an instance that one sweep could not write.
#[derive(Debug, Default)]
struct Owed {
    /// The commit clock of the oldest of them.
    since: Option<DateTime<Utc>>,
    records: usize,
}

impl Owed {
    fn add(&mut self, committed_at: DateTime<Utc>, records: usize) {
        self.since = Some(self.since.map_or(committed_at, |since| since.min(committed_at)));
        self.records += records;
    }
}

/// Judges the instance's agents and writes what that gives: its silence, its `feed_health`
/// record, the `UNKNOWN` commits and their records (those it cannot write go to `owed`).
#[allow(clippy::too_many_arguments)]
async fn judge_instance<S, F>(
    progress: &InstanceProgress,
    agents: &[AgentState],
    states: &S,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
    stats: &mut SweepStats,
    owed: &mut Owed,
) where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    F: FeedSink,
{
    let instance = progress.instance_id.as_str();
    let verdict = sweep_instance(progress, agents, now, &settings.policy, &settings.mapping);

    if let Some(mark) = &verdict.mark {
        match states.mark_silent(instance, mark).await {
            Ok(CommitOutcome::Committed) => {
                stats.newly_silent_instances += 1;
                tracing::warn!(instance, last_event_time = %mark.last_event_time, agents = mark.agents, "instance's agent events are silent");
            }
            Ok(CommitOutcome::Superseded) => {
                // A batch moved the instance on (or another sweep marked it): not silent by
                // what this sweep read, judged again next minute.
                tracing::info!(
                    instance,
                    "instance progress moved during the sweep; judged again next time"
                );
                return;
            }
            Err(e) => {
                tracing::error!(instance, error = %e, "could not record the instance's silence; the next sweep retries");
                stats.failures += 1;
                return;
            }
        }
    }
    if let Some(health) = &verdict.health {
        stats.silent_instances += 1;
        // Written by every sweep while the instance is silent: the same object, so a write
        // that failed once is made good by the next sweep.
        if let Err(e) = sink.put(&health.object_key(), feed::to_json_lines(&[health])).await {
            tracing::error!(instance, error = %e, "could not write the feed_health record; the next sweep writes it");
            stats.failures += 1;
        }
    }

    // The conditional commit first, then the records of what committed: a transition is never
    // published for a state a racing batch has already replaced.
    let (records, nexts): (Vec<_>, Vec<_>) = verdict.transitions.into_iter().unzip();
    let results = states.commit_many(&nexts).await;
    let mut committed = Vec::new();
    for (record, result) in records.into_iter().zip(results) {
        match result {
            Ok(CommitOutcome::Committed) => committed.push(record),
            Ok(CommitOutcome::Superseded) => {
                stats.superseded += 1;
                tracing::info!(instance, agent_id = %record.agent_id, "agent moved on during the sweep; not UNKNOWN");
            }
            Err(e) => {
                stats.failures += 1;
                tracing::error!(instance, agent_id = %record.agent_id, error = %e, "could not commit UNKNOWN; the next sweep retries");
            }
        }
    }
    for (key, records) in transition_objects(instance, committed) {
        match sink.put(&key, feed::to_json_lines(&records)).await {
            Ok(()) => stats.silent_agents += records.len(),
            Err(e) => {
                // The states are committed: owed, the next sweeps write these records again.
                stats.failures += 1;
                owed.add(now, records.len());
                tracing::error!(instance, key, agents = records.len(), error = %e, "could not write UNKNOWN transitions; owed, the next sweep writes them");
            }
        }
    }
}

/// The feed objects of one sweep's `UNKNOWN` records of an instance: one per UTC date of their
/// event time, records by agent id, named by their event ids ([`transitions_name`]).
fn transition_objects(instance: &str, records: Vec<AgentStateRecord>) -> Vec<(String, Vec<AgentStateRecord>)> {
    let mut by_date: BTreeMap<NaiveDate, Vec<AgentStateRecord>> = BTreeMap::new();
    for record in records {
        by_date.entry(record.event_time.date_naive()).or_default().push(record);
    }
    by_date
        .into_iter()
        .map(|(date, mut records)| {
            records.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
            let key = feed::object_key(AgentStateRecord::KIND, date, &transitions_name(instance, &records));
            (key, records)
        })
        .collect()
}

/// The object name of a sweep's transitions of one instance: derived from their event ids, so
/// a sweep that commits the same transitions writes the same object.
fn transitions_name(instance: &str, records: &[AgentStateRecord]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for record in records {
        for byte in record.event_id.bytes().chain(std::iter::once(b',')) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{FUNCTION}-{instance}-{hash:016x}")
}

/// One snapshot object per instance (with progress, or with agents seen within 24 h), named by
/// instance and slot: `agent_snapshot/<date>/<instance>-<HHMM>.jsonl`. Written for each
/// instance whose progress does not record the slot as written (the slot's first sweep, or a
/// later one when that sweep failed or did not run), then recorded on its progress; an
/// instance known only from its agents (no progress to record on) in the slot's first minute
/// only. Nothing is read when every instance has its snapshot: the Scan runs once per slot.
/// Overlapping sweeps write the same object (the later one with the states after its own
/// transitions) and record the same slot.
async fn write_snapshots<S, F>(
    progress: &[InstanceProgress],
    as_of: DateTime<Utc>,
    first_minute: bool,
    states: &S,
    sink: &F,
    stats: &mut SweepStats,
) where
    S: AgentDirectory + ProgressStore,
    F: FeedSink,
{
    let due: BTreeSet<&str> = progress
        .iter()
        .filter(|p| p.snapshot_slot.is_none_or(|written| written < as_of))
        .map(|p| p.instance_id.as_str())
        .collect();
    if due.is_empty() && !first_minute {
        return;
    }
    if !first_minute {
        tracing::info!(as_of = %as_of, instances = due.len(), "writing the slot's missed snapshots");
    }
    let agents = match states.agents_seen_since(as_of - SNAPSHOT_LOOKBACK).await {
        Ok(agents) => agents,
        Err(e) => {
            tracing::error!(as_of = %as_of, error = %e, "could not read agents for the snapshot");
            stats.failures += 1;
            return;
        }
    };
    let with_progress: BTreeSet<&str> = progress.iter().map(|p| p.instance_id.as_str()).collect();
    let agents_only: BTreeSet<&str> = agents
        .iter()
        .map(|a| a.instance_id.as_str())
        .filter(|i| first_minute && !with_progress.contains(i))
        .collect();
    for instance in due.iter().chain(agents_only.iter()).copied() {
        let records = snapshot_records(instance, &agents, as_of);
        let name = format!("{instance}-{}", as_of.format("%H%M"));
        let key = feed::object_key(AgentSnapshotRecord::KIND, as_of.date_naive(), &name);
        match sink.put(&key, feed::to_json_lines(&records)).await {
            Ok(()) => {
                stats.snapshots += 1;
                stats.snapshot_agents += records.len();
                if with_progress.contains(instance)
                    && let Err(e) = states.snapshot_written(instance, as_of).await
                {
                    // The next sweep of the slot writes the same object again.
                    tracing::error!(instance, key, error = %e, "could not record the snapshot as written");
                    stats.failures += 1;
                }
            }
            Err(e) => {
                tracing::error!(instance, key, error = %e, "could not write the snapshot; the next sweep of the slot writes it");
                stats.failures += 1;
            }
        }
    }
}
