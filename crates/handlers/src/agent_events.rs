//! The agent-events handler: one Kinesis batch in, transitions to the feed, states committed.
//!
//! Order of effects per batch (architecture.md): rejects kept, states loaded in one round
//! trip, each agent folded, transitions written to the feed, then each changed agent committed
//! with a watermark condition. Errors follow architecture.md's error policy:
//! - transient (throttling, timeouts, 5xx after the SDK's retries): only the agents it touches
//!   fail; the response names the earliest record of those agents, from which Lambda
//!   re-delivers. The replay is harmless: committed agents skip what their watermark covers.
//! - permanent (a request that can never succeed as sent): the agent's records are kept under
//!   rejects with the reason and the shard moves on; retrying would only stall it.
//! - a stored state that cannot be read is kept under rejects (its raw attributes and the
//!   reason), the agent continues as first sight, and its commit replaces the row.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, NaiveDate, Utc};
use connect_wfm_core::agent::{
    AgentActivityRecord, AgentEvent, AgentFold, AgentProfileRecord, AgentState, AgentStateMapping, FoldPolicy,
    InstanceProgress, InstanceSilence, QueueProfileRecord, SILENCE_REWRITE, activity_key, decode_agent_event,
    fold_agent, silence_pieces, silence_record,
};
use connect_wfm_core::feed::{self, AgentStateRecord, RejectRecord};
use connect_wfm_core::ports::{
    AgentBatchStore, AgentStateStore, CommitOutcome, FeedSink, LoadedStates, PortError, ProgressStore, RosterStore,
    UnreadableState,
};
use futures_util::StreamExt as _;
use tracing::Instrument as _;

use crate::counts::{counts, record_lag};
pub use crate::input::kinesis::{KinesisBatch, StreamRecord, read_records};
use crate::input::{BatchInput as _, keep_rejects, kinesis_response, name_hash, object_name};

/// How many agent commits run at once.
const COMMIT_CONCURRENCY: usize = 16;

/// Name of this function in rejects and logs.
pub const FUNCTION: &str = "agent-events";

/// What the handler needs besides its ports; built once at cold start.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub mapping: AgentStateMapping,
    pub policy: FoldPolicy,
}

counts! {
    /// Counts of what one batch did (logged once per batch; the metrics are what an operator
    /// acts on: input volume, rejects, retries, races).
    pub struct BatchStats {
        records => counter "Records",
        rejected => counter "Rejects",
        agents,
        transitions => counter "Transitions",
        /// `agent_activity` pieces written (the closed segments of the transitions).
        pieces,
        /// `agent_profile` records written (agents first seen, or whose configuration changed).
        profiles => counter "AgentProfiles",
        /// `queue_profile` records written (queues first seen, renamed, or with a new channel).
        queue_profiles => counter "QueueProfiles",
        /// Events of agents outside the mapping's `agents` filter: no records for them.
        filtered => counter "FilteredAgentEvents",
        /// Ended intervals marked for the sweep to write again (late pieces).
        changed_intervals,
        committed,
        superseded,
        /// Agents whose fold changed nothing worth a write (duplicates, throttled heartbeats).
        unwritten,
        /// Events skipped as duplicates: an EventId repeated in the batch, or covered by the
        /// agent's watermark (a replay after a retry, a late event).
        duplicates => counter "Duplicates",
        /// Agents whose stored state could not be read (kept under rejects, continued as first sight).
        unreadable_states => counter "UnreadableStates",
        /// Agents whose records failed transiently: re-delivered by Lambda.
        failed_agents => counter "FailedAgents",
        /// Agents whose records failed permanently: kept under rejects, not retried.
        rejected_agents => counter "RejectedAgents",
        /// Instances whose progress (newest event time processed) was written.
        progressed,
        /// Instances whose progress rode on the rows the batch committed (no write of its own).
        progress_carried,
        /// `feed_health` `ok` records written (instances reported silent that sent again).
        recovered_instances,
        ;
        /// The newest EventTimestamp of the agents that did not fail.
        newest_event: Option<DateTime<Utc>>,
    }
}

impl BatchStats {
    /// Counts this batch in the process's metrics recorder (CloudWatch EMF in Lambda, nothing
    /// elsewhere): the counts above, and the histogram `EventLagSeconds` (`now` − the batch's
    /// newest event time).
    pub fn record_metrics(&self, now: DateTime<Utc>) {
        self.record_counts();
        record_lag(now, self.newest_event);
    }
}

/// The Lambda response and the batch's counts.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub response: KinesisEventResponse,
    pub stats: BatchStats,
}

impl BatchOutcome {
    /// The sequence number Lambda re-delivers from, if any record failed.
    pub fn failed_from(&self) -> Option<&str> {
        self.response
            .batch_item_failures
            .first()
            .and_then(|f| f.item_identifier.as_deref())
    }
}

/// One agent's events of this batch, in stream order.
struct AgentGroup {
    arn: String,
    agent_id: String,
    /// (record position in the batch, event)
    events: Vec<(usize, AgentEvent)>,
    /// Why the agent's records could not be stored, if they could not.
    failure: Option<AgentFailure>,
}

/// Why an agent's records could not be stored, and whether trying again can help.
#[derive(Debug, Clone)]
struct AgentFailure {
    reason: String,
    permanent: bool,
}

impl From<&PortError> for AgentFailure {
    fn from(e: &PortError) -> Self {
        Self {
            reason: e.to_string(),
            permanent: !e.retryable,
        }
    }
}

impl AgentGroup {
    fn fail(&mut self, failure: AgentFailure) {
        // A transient failure wins: the records must come again rather than be set aside.
        if self.failure.as_ref().is_none_or(|f| f.permanent) {
            self.failure = Some(failure);
        }
    }
}

/// Processes one Kinesis batch. Never fails as a whole: every problem is either a reject
/// (kept in the feed's rejects) or a batch item failure (re-delivered by Lambda).
///
/// After the agents, each instance's progress (newest event time of its agents that did not
/// fail) is moved forward with one write per instance, and an instance the sweep reported
/// silent gets its `feed_health` `ok` record.
pub async fn handle_batch<S, F>(
    batch: &KinesisBatch,
    states: &S,
    sink: &F,
    settings: &Settings,
    now: DateTime<Utc>,
) -> BatchOutcome
where
    S: AgentBatchStore,
    F: FeedSink,
{
    process_batch(read_records(batch), states, sink, settings, now)
        .instrument(batch.span())
        .await
}

async fn process_batch<S, F>(
    records: &[StreamRecord],
    states: &S,
    sink: &F,
    settings: &Settings,
    now: DateTime<Utc>,
) -> BatchOutcome
where
    S: AgentBatchStore,
    F: FeedSink,
{
    let mut stats = BatchStats {
        records: records.len(),
        ..BatchStats::default()
    };
    // Records whose outcome could not be stored: Lambda must deliver them again.
    let mut failed_records: Vec<usize> = Vec::new();

    let (mut groups, rejects) = decode_and_group(records);
    stats.rejected = rejects.len();
    failed_records.extend(keep_rejects(FUNCTION, records, rejects, sink, now).await);

    stats.agents = groups.len();
    if !groups.is_empty() {
        let arns: Vec<String> = groups.iter().map(|g| g.arn.clone()).collect();
        let (loaded, progress) = states.load_batch(&arns).await;
        let progress = progress_by_instance(progress);
        let carried = process_agents(
            &mut groups,
            loaded,
            &progress,
            states,
            sink,
            settings,
            records,
            now,
            &mut stats,
        )
        .await;
        record_progress(&groups, &progress, &carried, states, sink, &mut stats).await;
        let mut set_aside = Vec::new();
        for group in &groups {
            match &group.failure {
                None => {}
                Some(failure) if failure.permanent => {
                    stats.rejected_agents += 1;
                    tracing::error!(agent_id = %group.agent_id, reason = %failure.reason, "agent's records cannot be stored; kept under rejects, not retried");
                    let reason = format!("could not be stored (permanent): {}", failure.reason);
                    set_aside.extend(group.events.iter().map(|(index, _)| (*index, reason.clone())));
                }
                Some(_) => {
                    stats.failed_agents += 1;
                    failed_records.push(group.events[0].0);
                }
            }
        }
        stats.rejected += set_aside.len();
        failed_records.extend(keep_rejects(FUNCTION, records, set_aside, sink, now).await);
    }

    let response = kinesis_response(records, failed_records);
    stats.log_counts("agent-event batch processed");
    if let Some(retry_from) = response.batch_item_failures.first() {
        tracing::warn!(retry_from = ?retry_from.item_identifier, "the batch is delivered again from this record");
    }
    BatchOutcome { response, stats }
}

/// Each instance's stored progress, read once per batch with its agents. A failed read only
/// delays the `ok` records to a later batch and costs a progress write that might have been
/// skipped: it is logged, not retried.
fn progress_by_instance(progress: Result<Vec<InstanceProgress>, PortError>) -> HashMap<String, InstanceProgress> {
    match progress {
        Ok(progress) => progress.into_iter().map(|p| (p.instance_id.clone(), p)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read instance progress; feed_health ok records wait for a later batch");
            HashMap::new()
        }
    }
}

/// Moves each instance's progress to the newest event of its agents that did not fail (one
/// write per instance, none when the stored progress is already there, e.g. on a replay, or
/// when a row the batch committed carries it: an instance in `carried`, known to the progress
/// item, whose listed rows the sweep reads every minute), and
/// writes the `ok` record of each instance reported silent that sent a new event, clearing its
/// silence once the record is written. Failures here are logged, not retried: the next batch
/// writes progress again, and a silence stays recorded until an `ok` is written.
async fn record_progress<S: ProgressStore, F: FeedSink>(
    groups: &[AgentGroup],
    stored: &HashMap<String, InstanceProgress>,
    carried: &BTreeSet<String>,
    states: &S,
    sink: &F,
    stats: &mut BatchStats,
) {
    let mut newest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut first_after_silence: BTreeMap<&str, (DateTime<Utc>, &InstanceSilence)> = BTreeMap::new();
    for (_, event) in groups.iter().filter(|g| g.failure.is_none()).flat_map(|g| &g.events) {
        let (instance, at) = (event.instance_id(), event.event_timestamp);
        newest.entry(instance).and_modify(|t| *t = (*t).max(at)).or_insert(at);
        if let Some(silence) = stored.get(instance).and_then(|p| p.silence.as_ref())
            && at > silence.last_event_time
        {
            first_after_silence
                .entry(instance)
                .and_modify(|(t, _)| *t = (*t).min(at))
                .or_insert((at, silence));
        }
    }
    stats.newest_event = newest.values().max().copied();
    for (instance, at) in newest {
        match stored.get(instance) {
            Some(p) if p.newest_event >= at => continue,
            Some(_) if carried.contains(instance) => {
                stats.progress_carried += 1;
                continue;
            }
            _ => {}
        }
        match states.advance_progress(instance, at).await {
            Ok(()) => stats.progressed += 1,
            Err(e) => tracing::warn!(instance, error = %e, "could not record instance progress"),
        }
    }
    for (instance, (first, silence)) in first_after_silence {
        let record = silence.ok_record(instance, first);
        if let Err(e) = sink.put(&record.object_key(), feed::to_json_lines(&[&record])).await {
            tracing::error!(instance, error = %e, "could not write feed_health ok; a later batch writes it");
            continue;
        }
        stats.recovered_instances += 1;
        tracing::info!(instance, silent_since = %silence.since, "instance sends agent events again");
        if let Err(e) = states.clear_silent(instance, silence).await {
            tracing::warn!(instance, error = %e, "could not clear the instance's silence");
        }
    }
}

/// Decodes every record; groups agent events by agent in stream order, collects rejects.
fn decode_and_group(records: &[StreamRecord]) -> (Vec<AgentGroup>, Vec<(usize, String)>) {
    let mut groups: Vec<AgentGroup> = Vec::new();
    let mut by_arn: foldhash::HashMap<String, usize> = foldhash::HashMapExt::with_capacity(records.len());
    let mut rejects = Vec::new();
    // Positions in this batch (what the rest of the handler indexes `records` with).
    for (position, record) in records.iter().enumerate() {
        // DEBUG, so the hot path pays only tracing's disabled-callsite check at the deployed
        // INFO level; at DEBUG every line of the record's decoding names it.
        let _record = tracing::debug_span!(
            "record",
            seq = record.sequence_number.as_deref().unwrap_or("-"),
            index = position
        )
        .entered();
        let decoded = match &record.data {
            Ok(bytes) => decode_agent_event(bytes).map_err(|e| e.to_string()),
            Err((reason, _)) => Err(reason.clone()),
        };
        match decoded {
            Ok(event) => {
                // The ARN is copied for an agent's first event only.
                let slot = match by_arn.get(event.agent_arn.as_str()) {
                    Some(&slot) => slot,
                    None => {
                        by_arn.insert(event.agent_arn.clone(), groups.len());
                        groups.push(AgentGroup {
                            arn: event.agent_arn.clone(),
                            agent_id: event.agent_id().to_owned(),
                            // Most agents have one event in a batch.
                            events: Vec::with_capacity(1),
                            failure: None,
                        });
                        groups.len() - 1
                    }
                };
                groups[slot].events.push((position, event));
            }
            Err(reason) => {
                tracing::warn!(input = %record.describe(), %reason, "agent event rejected");
                rejects.push((position, reason));
            }
        }
    }
    (groups, rejects)
}

#[allow(clippy::too_many_arguments)]
async fn process_agents<S: AgentStateStore + ProgressStore + RosterStore, F: FeedSink>(
    groups: &mut [AgentGroup],
    loaded: Result<LoadedStates, PortError>,
    progress: &HashMap<String, InstanceProgress>,
    states: &S,
    sink: &F,
    settings: &Settings,
    records: &[StreamRecord],
    now: DateTime<Utc>,
    stats: &mut BatchStats,
) -> BTreeSet<String> {
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(agents = groups.len(), error = %e, retryable = e.retryable, "could not load agent states");
            groups.iter_mut().for_each(|g| g.fail(AgentFailure::from(&e)));
            return BTreeSet::new();
        }
    };
    stats.unreadable_states = loaded.unreadable.len();
    for group in groups.iter_mut() {
        if let Some(unreadable) = loaded.unreadable.get(&group.arn) {
            let arrival = records[group.events[0].0].received_or(now);
            if let Err(e) = keep_unreadable(unreadable, arrival, sink).await {
                // Not kept yet: the agent waits, so the row is not replaced before it is kept.
                group.fail(AgentFailure {
                    reason: e.to_string(),
                    permanent: false,
                });
            }
        }
    }

    // Each agent's last-known state (an unreadable row is absent from `states`: the agent
    // folds as first sight) and its fold.
    let mut folds: Vec<(Option<&AgentState>, AgentFold)> = groups
        .iter()
        .map(|group| {
            let last = loaded.states.get(&group.arn);
            let events: Vec<&AgentEvent> = group.events.iter().map(|(_, e)| e).collect();
            (last, fold_agent(last, &events, &settings.mapping, &settings.policy))
        })
        .collect();
    // Transitions by UTC date of their event, each with the group and the record it came from;
    // the folds' records are borrowed, not copied, until they are encoded.
    let mut transitions: BTreeMap<NaiveDate, Vec<(usize, usize, Cow<'_, AgentStateRecord>)>> = BTreeMap::new();
    // The pieces of the segments those transitions close, the same way, by their feed folder.
    let mut pieces: Vec<(usize, usize, Cow<'_, AgentActivityRecord>)> = Vec::new();
    for (slot, (group, (last, fold))) in groups.iter().zip(&folds).enumerate() {
        if group.failure.is_none() {
            // The sweep's UNKNOWN record may not be written yet: within two minutes of its
            // commit (the sweep's first write may have failed), or later while the instance's
            // progress says records are owed (the feed refused the sweep's writes for longer).
            // Once the agent recovers no sweep can rebuild it: the recovering batch writes it
            // first, the same record and id (consumers drop the repeat when it was written).
            if let (Some(last), Some((first, _))) = (last, fold.transitions.first())
                && last.is_silent()
                && last.silenced_at.is_some_and(|at| {
                    now - at <= SILENCE_REWRITE
                        || progress
                            .get(last.instance_id.as_str())
                            .and_then(|p| p.owed_since)
                            .is_some_and(|owed| at >= owed)
                })
                && let Some(record) = silence_record(last)
            {
                let record_index = group.events[*first].0;
                transitions.entry(record.event_time.date_naive()).or_default().push((
                    record_index,
                    slot,
                    Cow::Owned(record),
                ));
                pieces.extend(
                    silence_pieces(last, &settings.mapping)
                        .into_iter()
                        .map(|piece| (record_index, slot, Cow::Owned(piece))),
                );
            }
            for (event_index, piece) in &fold.pieces {
                pieces.push((group.events[*event_index].0, slot, Cow::Borrowed(piece)));
            }
            for (event_index, record) in &fold.transitions {
                let record_index = group.events[*event_index].0;
                transitions.entry(record.event_time.date_naive()).or_default().push((
                    record_index,
                    slot,
                    Cow::Borrowed(record),
                ));
            }
        }
        stats.duplicates += fold.skipped;
        stats.filtered += fold.filtered;
    }

    for (date, mut day) in transitions {
        day.sort_by_key(|(record_index, _, _)| *record_index);
        stats.transitions += day.len();
        let indices: Vec<usize> = day.iter().map(|(i, _, _)| *i).collect();
        let key = feed::object_key(AgentStateRecord::KIND, date, &object_name(records, &indices));
        let lines: Vec<&AgentStateRecord> = day.iter().map(|(_, _, r)| r.as_ref()).collect();
        if let Err(e) = sink.put(&key, feed::to_json_lines(&lines)).await {
            tracing::error!(key, error = %e, retryable = e.retryable, "could not write transitions");
            for (_, slot, _) in &day {
                groups[*slot].fail(AgentFailure::from(&e));
            }
        }
    }

    write_pieces(groups, pieces, states, sink, records, now, stats).await;
    write_profiles(groups, &folds, states, sink, records, stats).await;
    forget_excluded(groups, &folds, states).await;

    // Each row written carries its instance's newest event time of the batch (of the agents
    // not failed so far): the instance's progress, read by the sweep from the listed rows.
    let mut newest: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for (_, event) in groups.iter().filter(|g| g.failure.is_none()).flat_map(|g| &g.events) {
        let at = newest.entry(event.instance_id()).or_insert(event.event_timestamp);
        *at = (*at).max(event.event_timestamp);
    }
    for (_, fold) in &mut folds {
        if let Some(next) = fold.next.as_mut() {
            next.stream_newest = newest.get(next.instance_id.as_str()).copied();
        }
    }

    let to_commit: Vec<(usize, &AgentState, Option<&UnreadableState>)> = folds
        .iter()
        .map(|(_, fold)| fold)
        .enumerate()
        .filter(|(slot, fold)| fold.write && groups[*slot].failure.is_none())
        .filter_map(|(slot, fold)| {
            let unreadable = loaded.unreadable.get(&groups[slot].arn);
            fold.next.as_ref().map(|next| (slot, next, unreadable))
        })
        .collect();
    stats.unwritten = groups.iter().filter(|g| g.failure.is_none()).count() - to_commit.len();
    let results: Vec<_> = futures_util::stream::iter(to_commit)
        .map(|(slot, next, unreadable)| {
            // The store's own log lines (retries, conditions) name the agent they concern.
            let span = tracing::info_span!("commit", agent_id = %next.agent_id);
            async move {
                let outcome = match unreadable {
                    Some(unreadable) => states.replace_unreadable(next, unreadable).await,
                    None => states.commit(next).await,
                };
                (slot, outcome)
            }
            .instrument(span)
        })
        .buffer_unordered(COMMIT_CONCURRENCY)
        .collect()
        .await;
    let mut superseded = Vec::new();
    let mut carried = BTreeSet::new();
    for (slot, result) in results {
        match result {
            Ok(CommitOutcome::Committed) => {
                stats.committed += 1;
                if let Some(next) = folds[slot].1.next.as_ref().filter(|next| next.is_listed()) {
                    carried.insert(next.instance_id.clone());
                }
            }
            Ok(CommitOutcome::Superseded) => {
                stats.superseded += 1;
                superseded.push(slot);
            }
            Err(e) => {
                tracing::error!(agent_id = %groups[slot].agent_id, error = %e, retryable = e.retryable, "could not commit agent state");
                groups[slot].fail(AgentFailure::from(&e));
            }
        }
    }
    retry_if_marked_unknown(groups, &superseded, states).await;
    carried
}

/// Writes the pieces (record index, group slot, piece) before the commits, one object per
/// instance and interval named after the records, then marks the ended intervals that got a
/// piece ending inside them: the sweep may have summed them with the segment still open, so it
/// writes their `agent_interval` records again. A failure fails the agents concerned, whose
/// replay writes the same objects and marks.
async fn write_pieces<S: ProgressStore, F: FeedSink>(
    groups: &mut [AgentGroup],
    mut pieces: Vec<(usize, usize, Cow<'_, AgentActivityRecord>)>,
    states: &S,
    sink: &F,
    records: &[StreamRecord],
    now: DateTime<Utc>,
    stats: &mut BatchStats,
) {
    pieces.retain(|(_, slot, _)| groups[*slot].failure.is_none());
    pieces.sort_by_key(|(record_index, _, _)| *record_index);
    // (instance, interval) → (record index, group slot, piece)
    type Folder<'a> = Vec<(usize, usize, &'a AgentActivityRecord)>;
    let mut folders: BTreeMap<(&str, DateTime<Utc>), Folder<'_>> = BTreeMap::new();
    for (record_index, slot, piece) in &pieces {
        folders
            .entry((piece.instance_id.as_str(), piece.interval_start))
            .or_default()
            .push((*record_index, *slot, piece.as_ref()));
    }
    let mut changed: BTreeMap<&str, (Vec<DateTime<Utc>>, Vec<usize>)> = BTreeMap::new();
    for ((instance, interval), folder) in &folders {
        let indices: Vec<usize> = folder.iter().map(|(i, _, _)| *i).collect();
        let key = activity_key(instance, *interval, &object_name(records, &indices));
        let lines: Vec<&AgentActivityRecord> = folder.iter().map(|(_, _, p)| *p).collect();
        match sink.put(&key, feed::to_json_lines(&lines)).await {
            Ok(()) => stats.pieces += lines.len(),
            Err(e) => {
                tracing::error!(key, error = %e, retryable = e.retryable, "could not write agent_activity pieces");
                for (_, slot, _) in folder {
                    groups[*slot].fail(AgentFailure::from(&e));
                }
                continue;
            }
        }
        let end = *interval + chrono::Duration::minutes(15);
        let late: Vec<usize> = folder
            .iter()
            .filter(|(_, _, p)| p.end < end)
            .map(|(_, slot, _)| *slot)
            .collect();
        if !late.is_empty() && end <= now && now - end <= chrono::Duration::hours(24) {
            let entry = changed.entry(instance).or_default();
            entry.0.push(*interval);
            entry.1.extend(late);
        }
    }
    for (instance, (intervals, slots)) in changed {
        match states.mark_intervals_changed(instance, &intervals).await {
            Ok(()) => stats.changed_intervals += intervals.len(),
            Err(e) => {
                tracing::error!(instance, error = %e, "could not mark ended intervals for the sweep to write again");
                for slot in slots {
                    groups[slot].fail(AgentFailure::from(&e));
                }
            }
        }
    }
}

/// Writes the agents' new profiles (first sight or a changed configuration) and the profiles of
/// the queues they show that are new, renamed or have a new channel (judged against the roster
/// the store keeps), one object per kind and date named after the records; then keeps them as
/// the latest in the roster. Before the commits, which keep the profiles' fingerprints: a
/// failure fails the agents concerned, whose replay writes the same records again.
async fn write_profiles<S: RosterStore, F: FeedSink>(
    groups: &mut [AgentGroup],
    folds: &[(Option<&AgentState>, AgentFold)],
    states: &S,
    sink: &F,
    records: &[StreamRecord],
    stats: &mut BatchStats,
) {
    // (record index, group slot, profile), in stream order.
    let mut profiles: Vec<(usize, usize, &AgentProfileRecord)> = Vec::new();
    for (slot, (group, (_, fold))) in groups.iter().zip(folds).enumerate() {
        if group.failure.is_none() {
            profiles.extend(fold.profiles.iter().map(|(i, p)| (group.events[*i].0, slot, p)));
        }
    }
    if profiles.is_empty() {
        return;
    }
    profiles.sort_by_key(|(record_index, _, _)| *record_index);

    // Queues, per instance: one read of those the new profiles name, then judged in stream order.
    let mut by_instance: BTreeMap<&str, Vec<(usize, usize, &AgentProfileRecord)>> = BTreeMap::new();
    for entry in &profiles {
        by_instance
            .entry(entry.2.instance_id.as_str())
            .or_default()
            .push(*entry);
    }
    let mut queue_profiles: Vec<(usize, Vec<usize>, QueueProfileRecord)> = Vec::new();
    for (instance, entries) in &by_instance {
        let ids: BTreeSet<String> = entries
            .iter()
            .flat_map(|(_, _, p)| p.queue_sightings())
            .map(|s| s.queue_id)
            .collect();
        let ids: Vec<String> = ids.into_iter().collect();
        let mut known: HashMap<String, QueueProfileRecord> = match states.known_queues(instance, &ids).await {
            Ok(known) => known.into_iter().map(|q| (q.queue_id.clone(), q)).collect(),
            Err(e) => {
                tracing::error!(instance, error = %e, "could not read the known queues");
                for (_, slot, _) in entries {
                    groups[*slot].fail(AgentFailure::from(&e));
                }
                continue;
            }
        };
        for (record_index, slot, profile) in entries {
            for sighting in profile.queue_sightings() {
                if let Some(next) = QueueProfileRecord::after(known.get(&sighting.queue_id), &sighting, profile) {
                    queue_profiles.push((*record_index, vec![*slot], next.clone()));
                    known.insert(next.queue_id.clone(), next);
                } else if let Some(entry) = queue_profiles
                    .iter_mut()
                    .rev()
                    .find(|(_, _, q)| q.instance_id == **instance && q.queue_id == sighting.queue_id)
                {
                    // Shown again by another agent of this batch: that agent's replay must
                    // write it too, should it fail.
                    entry.1.push(*slot);
                }
            }
        }
    }
    profiles.retain(|(_, slot, _)| groups[*slot].failure.is_none());
    queue_profiles.retain(|(_, slots, _)| slots.iter().all(|slot| groups[*slot].failure.is_none()));

    let agent_lines: Vec<(usize, Vec<usize>, &AgentProfileRecord)> =
        profiles.iter().map(|(i, slot, p)| (*i, vec![*slot], *p)).collect();
    let queue_lines: Vec<(usize, Vec<usize>, &QueueProfileRecord)> = queue_profiles
        .iter()
        .map(|(i, slots, q)| (*i, slots.clone(), q))
        .collect();
    let written_agents = write_records(groups, AgentProfileRecord::KIND, &agent_lines, sink, records).await;
    let written_queues = write_records(groups, QueueProfileRecord::KIND, &queue_lines, sink, records).await;
    stats.profiles += written_agents;
    stats.queue_profiles += written_queues;

    let kept_agents: Vec<AgentProfileRecord> = agent_lines
        .iter()
        .filter(|(_, slots, _)| slots.iter().all(|slot| groups[*slot].failure.is_none()))
        .map(|(_, _, p)| (*p).clone())
        .collect();
    let kept_queues: Vec<(Vec<usize>, QueueProfileRecord)> = queue_lines
        .iter()
        .filter(|(_, slots, _)| slots.iter().all(|slot| groups[*slot].failure.is_none()))
        .map(|(_, slots, q)| (slots.clone(), (*q).clone()))
        .collect();
    let queues: Vec<QueueProfileRecord> = kept_queues.iter().map(|(_, q)| q.clone()).collect();
    if let Err(e) = states.keep_profiles(&kept_agents, &queues).await {
        tracing::error!(agents = kept_agents.len(), queues = queues.len(), error = %e, "could not keep the profiles in the roster");
        let failed: BTreeSet<usize> = profiles
            .iter()
            .map(|(_, slot, _)| *slot)
            .chain(kept_queues.iter().flat_map(|(slots, _)| slots.iter().copied()))
            .collect();
        for slot in failed {
            groups[slot].fail(AgentFailure::from(&e));
        }
    }
}

/// Writes `lines` (record index, group slots, record) as one object per UTC date of their time,
/// named after the records; fails the groups of an object that could not be written. Returns
/// how many records were written.
async fn write_records<R: feed::FeedRecord, F: FeedSink>(
    groups: &mut [AgentGroup],
    kind: &str,
    lines: &[(usize, Vec<usize>, &R)],
    sink: &F,
    records: &[StreamRecord],
) -> usize {
    type Line<'a, R> = &'a (usize, Vec<usize>, &'a R);
    let mut by_date: BTreeMap<NaiveDate, Vec<Line<'_, R>>> = BTreeMap::new();
    for line in lines {
        let date = line.2.time().map_or(NaiveDate::MIN, |t| t.date_naive());
        by_date.entry(date).or_default().push(line);
    }
    let mut written = 0;
    for (date, day) in by_date {
        let indices: Vec<usize> = day.iter().map(|(i, _, _)| *i).collect();
        let key = feed::object_key(kind, date, &object_name(records, &indices));
        let body: Vec<&R> = day.iter().map(|(_, _, r)| *r).collect();
        match sink.put(&key, feed::to_json_lines(&body)).await {
            Ok(()) => written += body.len(),
            Err(e) => {
                tracing::error!(key, error = %e, retryable = e.retryable, "could not write profiles");
                for (_, slots, _) in &day {
                    for slot in slots {
                        groups[*slot].fail(AgentFailure::from(&e));
                    }
                }
            }
        }
    }
    written
}

/// Forgets the roster profiles of agents this batch moved out of the mapping's `agents` filter,
/// so the daily roster no longer lists them. Logged, not retried: a later roster still naming
/// such an agent is the only harm.
async fn forget_excluded<S: RosterStore>(
    groups: &[AgentGroup],
    folds: &[(Option<&AgentState>, AgentFold)],
    states: &S,
) {
    let mut left: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (group, (last, fold)) in groups.iter().zip(folds) {
        if group.failure.is_none()
            && let (Some(last), Some(next)) = (last, &fold.next)
            && next.excluded
            && !last.excluded
        {
            left.entry(next.instance_id.as_str())
                .or_default()
                .push(next.agent_id.clone());
        }
    }
    for (instance, agent_ids) in left {
        tracing::info!(
            instance,
            agents = agent_ids.len(),
            "agents left the mapping's agents filter"
        );
        if let Err(e) = states.forget_agents(instance, &agent_ids).await {
            tracing::warn!(instance, error = %e, "could not forget the profiles of agents outside the filter");
        }
    }
}

/// Agents whose commit lost its condition. Usually a writer with newer events got there first:
/// the stored state wins and nothing is retried. But when the sweep marked the agent `UNKNOWN`
/// after this batch loaded it, this batch's newer events must still win, as a recovery from
/// `UNKNOWN`: such an agent is failed (transient) so the replay folds over the stored mark.
/// One extra load, for the superseded agents only (a rare race); if it fails, they are retried.
async fn retry_if_marked_unknown<S: AgentStateStore>(groups: &mut [AgentGroup], superseded: &[usize], states: &S) {
    if superseded.is_empty() {
        return;
    }
    let arns: Vec<String> = superseded.iter().map(|&slot| groups[slot].arn.clone()).collect();
    let stored = match states.load_many(&arns).await {
        Ok(loaded) => loaded.states,
        Err(e) => {
            tracing::warn!(agents = arns.len(), error = %e, "could not re-read superseded agents; their records will be retried");
            for &slot in superseded {
                groups[slot].fail(AgentFailure::from(&e));
            }
            return;
        }
    };
    for &slot in superseded {
        let group = &mut groups[slot];
        if stored.get(&group.arn).is_some_and(AgentState::is_silent) {
            tracing::info!(agent_id = %group.agent_id, "the sweep marked the agent UNKNOWN meanwhile; its records will be retried to recover it");
            group.fail(AgentFailure {
                reason: "marked UNKNOWN by the sweep after this batch loaded the agent".to_owned(),
                permanent: false,
            });
        } else {
            tracing::info!(agent_id = %group.agent_id, "agent state already past this batch; kept the stored one");
        }
    }
}

/// Keeps a stored state that cannot be read under rejects: where it is, why, and its raw
/// content. The object's name derives from the row and its version, so a retry overwrites.
async fn keep_unreadable<F: FeedSink>(
    unreadable: &UnreadableState,
    arrival: DateTime<Utc>,
    sink: &F,
) -> Result<(), PortError> {
    let agent_id = unreadable.agent_arn.rsplit('/').next().unwrap_or_default();
    tracing::warn!(agent_id, location = %unreadable.location, reason = %unreadable.reason, "stored agent state cannot be read; kept under rejects, agent continues as first sight");
    let reason = format!(
        "stored agent state cannot be read: {}; the agent continues as first sight and its next commit replaces the row",
        unreadable.reason
    );
    let reject = RejectRecord::new(FUNCTION, &unreadable.location, reason, arrival, &unreadable.raw);
    let hash = name_hash([unreadable.agent_arn.as_bytes(), unreadable.version.as_bytes()]);
    let key = feed::object_key(
        feed::REJECTS,
        arrival.date_naive(),
        &format!("{FUNCTION}-state-{agent_id}-{hash:016x}"),
    );
    sink.put(&key, feed::to_json_lines(&[reject])).await
}
