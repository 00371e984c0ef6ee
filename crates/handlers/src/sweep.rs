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
//! Every `UNKNOWN` also writes the `agent_activity` pieces of the segment it closes, and the
//! first sweep after each interval's end writes the instance's stream-basis `agent_interval`
//! object of that interval (feed.md), from the pieces the feed holds (read back through the
//! [`ActivityLog`]) and each agent's open segment counted up to the interval's end; an ended
//! interval that got late pieces (marked by agent-events on the progress) is written again.
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
    AgentActivityRecord, AgentProfileRecord, AgentState, AgentStateMapping, InstanceProgress, IntervalInputs,
    QueueProfileRecord, SNAPSHOT_LOOKBACK, StreamAgentInterval, SweepPolicy, activity_key, agent_interval_key,
    agent_intervals, current_snapshot_slot, is_logged_out, silence_pieces, silence_rewrites, snapshot_records,
    snapshot_slot, sweep_instance,
};
use connect_wfm_core::contact::store::ContactStore;
use connect_wfm_core::contact::{INTERVAL_MINUTES, interval_start};
use connect_wfm_core::feed::{self, AgentSnapshotRecord, AgentStateRecord};
use connect_wfm_core::ports::{
    ActivityLog, AgentDirectory, AgentStateStore, CommitOutcome, FeedSink, PortError, ProgressStore,
};
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
        /// `agent_activity` pieces written with the `UNKNOWN` transitions (rewrites included).
        pieces,
        /// Stream-basis `agent_interval` objects written (one per instance and interval).
        agent_intervals,
        /// The records those objects hold.
        agent_interval_records,
        /// Snapshot objects written.
        snapshots,
        /// The agents the snapshots hold.
        snapshot_agents,
        /// Roster objects written (at the 00:00 UTC slot: one per instance and profile kind).
        rosters,
        /// The profiles those objects hold.
        roster_profiles,
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
pub async fn handle_sweep<S, C, F, L>(
    states: &S,
    contacts: Option<&C>,
    sink: &F,
    activity: &L,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> SweepStats
where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    C: ContactStore,
    F: FeedSink,
    L: ActivityLog,
{
    let agents = sweep_agents(states, sink, activity, settings, now);
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
pub async fn sweep_agents<S, F, L>(
    states: &S,
    sink: &F,
    activity: &L,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> Result<SweepStats, SweepError>
where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    F: FeedSink,
    L: ActivityLog,
{
    let progress = states.load_progress().await.map_err(SweepError::Progress)?;
    let mut stats = SweepStats {
        instances: progress.len(),
        ..SweepStats::default()
    };
    for instance in &progress {
        // Every log line of an instance's sweep carries its id, without repeating it by hand.
        let span = tracing::info_span!("instance", instance_id = %instance.instance_id);
        sweep_one(instance, states, sink, activity, settings, now, &mut stats)
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

async fn sweep_one<S, F, L>(
    progress: &InstanceProgress,
    states: &S,
    sink: &F,
    activity: &L,
    settings: &SweepSettings,
    now: DateTime<Utc>,
    stats: &mut SweepStats,
) where
    S: AgentStateStore + ProgressStore + AgentDirectory,
    F: FeedSink,
    L: ActivityLog,
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

    // The instance's progress: the progress item, or the newest event time a listed row
    // carries when that is newer (agent-events writes the item only when no listed row of a
    // batch carries it). Written back to the item, so it never goes back when the carrying rows
    // leave the list (logged out) or the sweep's own UNKNOWN rows replace them.
    let newest = progress.newest_with(&agents);
    let effective;
    let progress = match newest {
        newest if newest > progress.newest_event => {
            if let Err(e) = states.advance_progress(instance, newest).await {
                tracing::warn!(instance, error = %e, "could not record the progress the rows carry; the next sweep tries");
            }
            effective = InstanceProgress {
                newest_event: newest,
                ..progress.clone()
            };
            &effective
        }
        _ => progress,
    };

    // The records of silences committed in the last two minutes, and of those still owed to
    // the feed, written again: the UNKNOWN commit comes before its record (never a record for a
    // state a batch replaced), so a record write that fails after its commit is made good here,
    // by the same object with the same ids, however long the feed refuses it. (An agent that
    // recovered meanwhile had its record written by the batch that recovered it.)
    let mut owed = Owed::default();
    let by_id: std::collections::HashMap<&str, &AgentState> = agents.iter().map(|a| (a.agent_id.as_str(), a)).collect();
    for (at, group) in silence_rewrites(&agents, now, progress.owed_since) {
        let silenced: Vec<&AgentState> = group
            .iter()
            .filter_map(|r| by_id.get(r.agent_id.as_str()).copied())
            .collect();
        let pieces = silenced_pieces(&silenced, &settings.mapping);
        for (key, records) in transition_objects(instance, group) {
            let written = match sink.put(&key, feed::to_json_lines(&records)).await {
                Ok(()) => write_silence_pieces(instance, &records, &pieces, sink, stats).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => stats.rewritten += records.len(),
                Err(e) => {
                    stats.failures += 1;
                    owed.add(at, records.len());
                    tracing::error!(instance, key, agents = records.len(), error = %e, "could not write UNKNOWN transitions again; owed, the next sweep tries");
                }
            }
        }
    }
    let committed = judge_instance(progress, &agents, states, sink, settings, now, stats, &mut owed).await;
    stats.owed_records += owed.records;
    if owed.since != progress.owed_since {
        // Kept on the instance's progress: later sweeps write what is owed, however many
        // minutes the feed refuses writes; cleared once they are all written.
        if let Err(e) = states.owe_records(instance, owed.since, progress.owed_since).await {
            stats.failures += 1;
            tracing::error!(instance, error = %e, "could not record the UNKNOWN records owed to the feed");
        }
    }

    // The agents as this sweep leaves them: its own UNKNOWN commits replace what it read.
    let sweep_pieces = silenced_pieces(&committed.iter().collect::<Vec<_>>(), &settings.mapping);
    let mut current: Vec<AgentState> = agents;
    for next in committed {
        if let Some(agent) = current.iter_mut().find(|a| a.agent_arn == next.agent_arn) {
            *agent = next;
        }
    }
    write_agent_intervals(
        progress,
        &current,
        &sweep_pieces,
        activity,
        states,
        sink,
        settings,
        now,
        stats,
    )
    .await;
}

/// The alias the mapping's `instances` gives an instance, else its id.
pub fn instance_alias<'a>(settings: &'a SweepSettings, instance: &'a str) -> &'a str {
    settings
        .stream
        .stream
        .instances
        .iter()
        .find(|(_, id)| id.as_str() == instance)
        .map_or(instance, |(alias, _)| alias.as_str())
}

/// The intervals in [`first`, `last`] (starts) of an instance with an `agent_activity` piece
/// filed, or with an agent's open segment (`agents`: the instance's agents not logged out).
pub async fn intervals_with_activity<L: ActivityLog>(
    instance: &str,
    agents: &[AgentState],
    activity: &L,
    mapping: &AgentStateMapping,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<BTreeSet<DateTime<Utc>>, PortError> {
    let step = chrono::Duration::minutes(INTERVAL_MINUTES.into());
    let mut due: BTreeSet<DateTime<Utc>> = activity
        .intervals(instance, first, last + step)
        .await?
        .into_iter()
        .collect();
    for agent in agents.iter().filter(|a| !is_logged_out(a, mapping)) {
        if let Some(segment) = &agent.segment {
            let mut interval = interval_start(segment.start).max(first);
            while interval <= last {
                due.insert(interval);
                interval += step;
            }
        }
    }
    Ok(due)
}

/// The stream-basis `agent_interval` records of one instance and interval: its pieces read
/// back, and the open segments of `agents` counted up to the interval's end.
pub async fn interval_records<L: ActivityLog>(
    instance: &str,
    alias: &str,
    interval: DateTime<Utc>,
    agents: &[AgentState],
    activity: &L,
    mapping: &AgentStateMapping,
    as_of: DateTime<Utc>,
) -> Result<Vec<StreamAgentInterval>, PortError> {
    let pieces = activity.pieces(instance, interval).await?;
    Ok(agent_intervals(
        &IntervalInputs {
            instance_id: instance,
            instance: alias,
            interval_start: interval,
            pieces: &pieces,
            agents,
            as_of,
        },
        mapping,
    ))
}

/// The pieces the `UNKNOWN` of each of these silenced agents closed.
fn silenced_pieces(silenced: &[&AgentState], mapping: &AgentStateMapping) -> Vec<AgentActivityRecord> {
    silenced
        .iter()
        .flat_map(|agent| silence_pieces(agent, mapping))
        .collect()
}

/// Writes the pieces of the agents of `records` (one sweep's `UNKNOWN` records of one date),
/// one object per interval, named like the transitions' object.
async fn write_silence_pieces<F: FeedSink>(
    instance: &str,
    records: &[AgentStateRecord],
    pieces: &[AgentActivityRecord],
    sink: &F,
    stats: &mut SweepStats,
) -> Result<(), PortError> {
    let ids: BTreeSet<&str> = records.iter().map(|r| r.agent_id.as_str()).collect();
    let name = transitions_name(instance, records);
    let mine = pieces.iter().filter(|p| ids.contains(p.agent_id.as_str()));
    for ((instance_id, interval), group) in connect_wfm_core::agent::pieces_by_interval(mine) {
        sink.put(
            &activity_key(&instance_id, interval, &name),
            feed::to_json_lines(&group),
        )
        .await?;
        stats.pieces += group.len();
    }
    Ok(())
}

/// Writes the instance's stream-basis `agent_interval` objects that are due: every interval
/// that ended since the last one written (all ended in the last 24 h the first time) and has a
/// piece or an agent's open segment in it, and every ended interval of the last 24 h that got
/// late pieces (marked on the progress by agent-events, or written by this sweep). The marks
/// are cleared before the pieces are read, so a mark set meanwhile stays for the next sweep; an
/// interval that fails is marked again, and the newest interval written only moves past what
/// was written.
#[allow(clippy::too_many_arguments)]
async fn write_agent_intervals<S, F, L>(
    progress: &InstanceProgress,
    agents: &[AgentState],
    sweep_pieces: &[AgentActivityRecord],
    activity: &L,
    states: &S,
    sink: &F,
    settings: &SweepSettings,
    now: DateTime<Utc>,
    stats: &mut SweepStats,
) where
    S: ProgressStore,
    F: FeedSink,
    L: ActivityLog,
{
    let instance = progress.instance_id.as_str();
    let step = chrono::Duration::minutes(INTERVAL_MINUTES.into());
    let last_ended = interval_start(now) - step;
    let oldest = interval_start(now - chrono::Duration::hours(24));
    let first_new = progress
        .agent_intervals_done
        .map_or(oldest, |done| (done + step).max(oldest));
    let mut due: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    if first_new <= last_ended {
        match intervals_with_activity(instance, agents, activity, &settings.mapping, first_new, last_ended).await {
            Ok(found) => due = found,
            Err(e) => {
                stats.failures += 1;
                tracing::error!(instance, error = %e, "could not list the intervals with agent_activity pieces; the next sweep tries");
                return;
            }
        }
    }
    let mut changed: BTreeSet<DateTime<Utc>> = sweep_pieces
        .iter()
        .filter(|p| p.end < p.interval_start + step && p.interval_start <= last_ended && p.interval_start >= oldest)
        .map(|p| p.interval_start)
        .collect();
    if !progress.changed_intervals.is_empty() {
        match states
            .clear_changed_intervals(instance, &progress.changed_intervals)
            .await
        {
            Ok(()) => changed.extend(
                progress
                    .changed_intervals
                    .iter()
                    .filter(|i| **i >= oldest && **i <= last_ended),
            ),
            Err(e) => {
                stats.failures += 1;
                tracing::error!(instance, error = %e, "could not clear the changed intervals; written by a later sweep");
            }
        }
    }
    due.extend(changed.iter().copied());

    let alias = instance_alias(settings, instance);
    let mut first_failed: Option<DateTime<Utc>> = None;
    for interval in due {
        let written = async {
            let records = interval_records(
                instance,
                alias,
                interval,
                agents,
                activity,
                &settings.mapping,
                progress.newest_event,
            )
            .await?;
            if !records.is_empty() {
                sink.put(&agent_interval_key(alias, interval), feed::to_json_lines(&records))
                    .await?;
            }
            Ok::<usize, PortError>(records.len())
        }
        .await;
        match written {
            Ok(0) => {}
            Ok(records) => {
                stats.agent_intervals += 1;
                stats.agent_interval_records += records;
            }
            Err(e) => {
                stats.failures += 1;
                tracing::error!(instance, interval = %interval, error = %e, "could not write the interval's agent_interval records; the next sweep tries");
                if interval >= first_new {
                    first_failed = Some(first_failed.map_or(interval, |f| f.min(interval)));
                }
                if changed.contains(&interval)
                    && let Err(e) = states.mark_intervals_changed(instance, &[interval]).await
                {
                    tracing::error!(instance, interval = %interval, error = %e, "could not mark the interval for the next sweep");
                }
            }
        }
    }
    let done = first_failed.map_or(last_ended, |failed| failed - step);
    if first_new <= last_ended && done >= first_new {
        if let Err(e) = states.agent_intervals_written(instance, done).await {
            stats.failures += 1;
            tracing::error!(instance, error = %e, "could not record the agent intervals written; written again by the next sweep");
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
) -> Vec<AgentState>
where
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
                return Vec::new();
            }
            Err(e) => {
                tracing::error!(instance, error = %e, "could not record the instance's silence; the next sweep retries");
                stats.failures += 1;
                return Vec::new();
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
    let mut committed_states = Vec::new();
    for ((record, next), result) in records.into_iter().zip(nexts).zip(results) {
        match result {
            Ok(CommitOutcome::Committed) => {
                committed.push(record);
                committed_states.push(next);
            }
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
    let pieces = silenced_pieces(&committed_states.iter().collect::<Vec<_>>(), &settings.mapping);
    for (key, records) in transition_objects(instance, committed) {
        let written = match sink.put(&key, feed::to_json_lines(&records)).await {
            Ok(()) => write_silence_pieces(instance, &records, &pieces, sink, stats).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => stats.silent_agents += records.len(),
            Err(e) => {
                // The states are committed: owed, the next sweeps write these records again.
                stats.failures += 1;
                owed.add(now, records.len());
                tracing::error!(instance, key, agents = records.len(), error = %e, "could not write UNKNOWN transitions; owed, the next sweep writes them");
            }
        }
    }
    committed_states
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

/// True for the snapshot slot that also writes the roster: 00:00 UTC (feed.md).
pub fn is_roster_slot(as_of: DateTime<Utc>) -> bool {
    as_of.time() == chrono::NaiveTime::MIN
}

/// The daily roster of one instance: every known agent's latest `agent_profile` and every known
/// queue's `queue_profile`, one object per kind, `<kind>/<date>/<instance>-roster-<HHMM>.jsonl`
/// (the same name for every sweep of the slot).
async fn write_roster<S, F>(
    instance: &str,
    as_of: DateTime<Utc>,
    states: &S,
    sink: &F,
    stats: &mut SweepStats,
) -> Result<(), PortError>
where
    S: AgentDirectory,
    F: FeedSink,
{
    let roster = states.roster(instance).await?;
    let name = format!("{instance}-roster-{}", as_of.format("%H%M"));
    let date = as_of.date_naive();
    sink.put(
        &feed::object_key(AgentProfileRecord::KIND, date, &name),
        feed::to_json_lines(&roster.agents),
    )
    .await?;
    sink.put(
        &feed::object_key(QueueProfileRecord::KIND, date, &name),
        feed::to_json_lines(&roster.queues),
    )
    .await?;
    stats.rosters += 2;
    stats.roster_profiles += roster.agents.len() + roster.queues.len();
    tracing::info!(
        instance,
        agents = roster.agents.len(),
        queues = roster.queues.len(),
        "daily roster written"
    );
    Ok(())
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
                if is_roster_slot(as_of)
                    && let Err(e) = write_roster(instance, as_of, states, sink, stats).await
                {
                    // Not recorded as written: the next sweep of the slot writes both again.
                    tracing::error!(instance, error = %e, "could not write the daily roster; the next sweep of the slot writes it");
                    stats.failures += 1;
                    continue;
                }
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
