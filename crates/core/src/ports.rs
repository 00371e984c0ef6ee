//! Ports: the small traits through which handlers reach storage.
//!
//! Each has an in-memory implementation ([`crate::memory`]) for tests, a local-file one for
//! the CLI and an AWS one in the adapters crate. Methods return `Send` futures so handlers can
//! run on any executor without naming one here.

use std::future::Future;
use std::io::Read;

use chrono::{DateTime, Utc};

use crate::agent::{
    AgentActivityRecord, AgentProfileRecord, AgentState, InstanceProgress, InstanceSilence, QueueProfileRecord,
};
use crate::custom_resource::{CustomResourceResponse, OurEntry};
use crate::feed::FeedBody;

/// A failure of a storage backend. `retryable` is true for throttling, timeouts and other
/// transient faults: the caller reports the work as failed so it is delivered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct PortError {
    /// What was attempted, with the input it concerned, e.g. `commit agent-state abc`.
    pub operation: String,
    pub message: String,
    pub retryable: bool,
}

impl PortError {
    pub fn new(operation: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            operation: operation.into(),
            message: message.into(),
            retryable,
        }
    }
}

/// What a conditional commit of an agent's state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The state was written.
    Committed,
    /// The store already holds a state at or past this watermark (a replay or a racing
    /// writer got there first). Not an error.
    Superseded,
}

/// A stored agent state that cannot be read back (a malformed item or file). It is a
/// permanent problem, not a reason to retry: the handler keeps it under rejects, continues the
/// agent as first sight, and its next commit replaces the row
/// ([`AgentStateStore::replace_unreadable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableState {
    pub agent_arn: String,
    /// Where it is stored, e.g. `table agent-states, item agent_arn=arn:...` or a file path.
    pub location: String,
    /// What is wrong with it.
    pub reason: String,
    /// The stored content as read: the item's attributes as JSON, the file's bytes.
    pub raw: Vec<u8>,
    /// The store's token of this exact version of the row: a replacement overwrites the row
    /// only while it is still this version.
    pub version: String,
}

/// What [`AgentStateStore::load_many`] found: readable states and unreadable rows, by agent ARN.
/// Agents with no row are in neither. The maps hash with foldhash: a batch looks every agent
/// up in them, and the keys are the batch's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedStates {
    pub states: foldhash::HashMap<String, AgentState>,
    pub unreadable: foldhash::HashMap<String, UnreadableState>,
}

/// An agent the state store knows by login name: what the agent id of a report row (which
/// names agents by login only) is chosen from, see [`crate::report::agent_id_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAgent {
    pub login: String,
    pub agent_id: String,
    pub instance_id: String,
    /// When the agent was last seen; None when the stored row does not say.
    pub last_seen: Option<DateTime<Utc>>,
}

/// Last-known WFM state of each agent, keyed by agent ARN.
pub trait AgentStateStore: Send + Sync {
    /// Loads the states of these agents, in one round trip where the backend allows it. A row
    /// that cannot be read is returned in `unreadable`, never as an error: an error means the
    /// store could not be asked (and is worth a retry when `retryable`).
    fn load_many(&self, agent_arns: &[String]) -> impl Future<Output = Result<LoadedStates, PortError>> + Send;

    /// Writes `state` only if it may replace the stored one (see
    /// [`crate::agent::AgentState::may_replace`]: it advances the stored watermark, or is the
    /// sweep's `UNKNOWN` of that very state, and erases no `UNKNOWN` mark it has not seen);
    /// otherwise reports [`CommitOutcome::Superseded`].
    fn commit(&self, state: &AgentState) -> impl Future<Output = Result<CommitOutcome, PortError>> + Send;

    /// Commits each of `states` (distinct agents) as [`AgentStateStore::commit`] does, in as
    /// few round trips as the backend allows (the sweep's `UNKNOWN` commits of a silent
    /// instance): one outcome per state, in order. By default one commit after the other.
    fn commit_many(&self, states: &[AgentState]) -> impl Future<Output = Vec<Result<CommitOutcome, PortError>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(states.len());
            for state in states {
                outcomes.push(self.commit(state).await);
            }
            outcomes
        }
    }

    /// Writes `state` over the unreadable row `unreadable` while that row is unchanged; if
    /// another writer replaced it meanwhile, commits like [`AgentStateStore::commit`] against
    /// what is there now.
    fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> impl Future<Output = Result<CommitOutcome, PortError>> + Send;

    /// Every stored agent with one of these login names, whatever its instance. Rows that
    /// cannot be read are left out (and logged): a report row then gets no agent id, never a
    /// wrong one.
    fn agents_by_login(&self, logins: &[String]) -> impl Future<Output = Result<Vec<KnownAgent>, PortError>> + Send;
}

/// The two reads an agent-event batch starts with: its agents' states and every instance's
/// progress, in one round trip where the backend allows it (DynamoDB: the progress item rides in
/// the agents' BatchGetItem). By default the two reads one after the other.
pub trait AgentBatchStore: AgentStateStore + ProgressStore + RosterStore {
    #[allow(clippy::type_complexity)]
    fn load_batch(
        &self,
        agent_arns: &[String],
    ) -> impl Future<
        Output = (
            Result<LoadedStates, PortError>,
            Result<Vec<InstanceProgress>, PortError>,
        ),
    > + Send {
        async move { (self.load_many(agent_arns).await, self.load_progress().await) }
    }
}

/// Per-instance progress of the agent event stream (the newest event time processed) and the
/// silence the sweep reported for it (feed.md `feed_health`). The agent-events function moves
/// progress forward at most once per instance per batch; the sweep reads it every minute.
pub trait ProgressStore: Send + Sync {
    /// Every instance's progress, in one round trip where the backend allows it.
    fn load_progress(&self) -> impl Future<Output = Result<Vec<InstanceProgress>, PortError>> + Send;

    /// Moves an instance's newest event time forward to `newest`; a stored value at or past it
    /// is kept (a racing batch got further), which is not an error.
    fn advance_progress(
        &self,
        instance_id: &str,
        newest: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Records the instance's silence, only if its newest event time is still
    /// `silence.last_event_time` and no silence is recorded; otherwise
    /// [`CommitOutcome::Superseded`] (a batch moved it on, or another sweep recorded it).
    fn mark_silent(
        &self,
        instance_id: &str,
        silence: &InstanceSilence,
    ) -> impl Future<Output = Result<CommitOutcome, PortError>> + Send;

    /// Clears the instance's silence once its `ok` record is written, only if the recorded
    /// silence is still `silence`.
    fn clear_silent(
        &self,
        instance_id: &str,
        silence: &InstanceSilence,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Records which `UNKNOWN` records of the instance are owed to the feed: with `Some(since)`,
    /// those of the silences committed at or after `since` (a stored earlier debt is kept);
    /// with `None`, none any more, only if the stored debt is still `read` (what the sweep
    /// read and has now written), so an overlapping sweep's newer debt is never cleared.
    fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Records that the instance's snapshot of `slot` is written; a stored slot at or past it
    /// is kept (an overlapping sweep got there), which is not an error.
    /// Records that pieces of these ended intervals were written after a sweep may have
    /// summed them, so the next sweep writes their `agent_interval` records again.
    fn mark_intervals_changed(
        &self,
        instance_id: &str,
        intervals: &[DateTime<Utc>],
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Clears these changed marks; the sweep clears them before it reads the intervals' pieces,
    /// so a mark set after the clear stays for the next sweep.
    fn clear_changed_intervals(
        &self,
        instance_id: &str,
        intervals: &[DateTime<Utc>],
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Moves the newest interval whose `agent_interval` object was written forward to
    /// `interval_start`; a stored one at or past it is kept.
    fn agent_intervals_written(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    fn snapshot_written(
        &self,
        instance_id: &str,
        slot: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The sweep's reads of the agent states: only the agents it must judge, and every minute no
/// more than the agents that are not logged out.
pub trait AgentDirectory: RosterStore {
    /// The states of an instance's agents that are not logged out (`UNKNOWN` ones included).
    /// May lag a commit slightly (an index): every decision taken on it is committed with the
    /// watermark condition.
    fn active_agents(&self, instance_id: &str) -> impl Future<Output = Result<Vec<AgentState>, PortError>> + Send;

    /// Every agent seen at or after `seen_since`, of all instances (for snapshots, every
    /// `SNAPSHOT_MINUTES`).
    fn agents_seen_since(
        &self,
        seen_since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AgentState>, PortError>> + Send;
}

/// The roster of one instance: every known agent's latest profile and every known queue's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// By agent id.
    pub agents: Vec<AgentProfileRecord>,
    /// By queue id.
    pub queues: Vec<QueueProfileRecord>,
}

/// The latest profile of every agent and queue (feed.md `agent_profile`, `queue_profile`):
/// written by agent-events with each profile it writes, read by the sweep for the daily roster
/// and by agent-events to judge whether a queue is new or changed.
///
/// The defaults keep nothing (a store without a roster): every queue a new agent profile names
/// is then written as new, and the roster is empty.
pub trait RosterStore: Send + Sync {
    /// The latest profiles of those of `queue_ids` that are known, of one instance.
    fn known_queues(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> impl Future<Output = Result<Vec<QueueProfileRecord>, PortError>> + Send {
        let _ = (instance_id, queue_ids);
        async { Ok(Vec::new()) }
    }

    /// Keeps these profiles as the latest of their agents and queues (keeping them again is
    /// harmless: a retried batch does).
    fn keep_profiles(
        &self,
        agents: &[AgentProfileRecord],
        queues: &[QueueProfileRecord],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        let _ = (agents, queues);
        async { Ok(()) }
    }

    /// Forgets the profiles of agents that left the mapping's `agents` filter.
    fn forget_agents(
        &self,
        instance_id: &str,
        agent_ids: &[String],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        let _ = (instance_id, agent_ids);
        async { Ok(()) }
    }

    /// The roster of one instance.
    fn roster(&self, instance_id: &str) -> impl Future<Output = Result<Roster, PortError>> + Send {
        let _ = instance_id;
        async { Ok(Roster::default()) }
    }
}

/// What a claim attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The caller now holds the claim and must `complete` or `release` it.
    Claimed,
    /// The work was done before: skip it.
    AlreadyCompleted,
    /// Another run holds an unexpired IN_PROGRESS claim: try again later.
    HeldElsewhere,
}

/// De-duplication keys with expiry (one per report object: `bucket/key#etag`).
pub trait ClaimStore: Send + Sync {
    /// Takes the claim for `owner` (what re-delivers the same work: the SQS message id) unless
    /// it is COMPLETED, or IN_PROGRESS for another owner and not yet expired. The same owner
    /// re-enters its own claim at once: a claim whose write succeeded but whose answer was lost
    /// never blocks its own retry for a lease.
    fn claim(
        &self,
        claim_id: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ClaimOutcome, PortError>> + Send;
    /// Marks a claim COMPLETED (kept until its TTL expires).
    fn complete(&self, claim_id: &str, now: DateTime<Utc>) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Gives a claim up so the next delivery can take it at once.
    fn release(&self, claim_id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A readable report object. The reader may block on the network: read it off the async
/// executor (e.g. in `tokio::task::spawn_blocking`).
pub type ObjectReader = Box<dyn Read + Send>;

/// Where report objects are read from.
pub trait ObjectSource: Send + Sync {
    /// Opens an object for streaming; the whole object is never loaded at once.
    fn open(&self, bucket: &str, key: &str) -> impl Future<Output = Result<ObjectReader, PortError>> + Send;
}

/// Where feed objects go. `key` is the relative feed key of [`crate::feed::object_key`]; the
/// same key written twice overwrites, so retries never duplicate objects.
pub trait FeedSink: Send + Sync {
    /// Writes the records of `body` as the object `key` (and to every output after the feed).
    fn put(&self, key: &str, body: FeedBody) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The `agent_activity` pieces the feed holds, read back per instance and interval (filed under
/// [`crate::agent::activity_prefix`]): what the sweep sums into stream-basis `agent_interval`
/// records.
pub trait ActivityLog: Send + Sync {
    /// Every piece filed for the instance and interval, repeats included.
    fn pieces(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AgentActivityRecord>, PortError>> + Send;

    /// The starts of the intervals in [`from`, `to`) that have pieces filed for the instance,
    /// ascending.
    fn intervals(
        &self,
        instance_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DateTime<Utc>>, PortError>> + Send;
}

/// The pieces of a feed object's JSON Lines body, added to `into`; returns the 1-based numbers
/// of the lines that are not pieces (never expected: the feed holds only our own lines), for
/// the caller to log.
pub fn read_pieces(body: &[u8], into: &mut Vec<AgentActivityRecord>) -> Vec<usize> {
    let mut unreadable = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(piece) => into.push(piece),
            Err(_) => unreadable.push(n + 1),
        }
    }
    unreadable
}

/// The interval start that a folder name `HHMM` of `date` (`YYYY-MM-DD`) names, if it does.
pub fn interval_of_folder(date: &str, hhmm: &str) -> Option<DateTime<Utc>> {
    let text = format!("{date}T{}:{}:00Z", hhmm.get(0..2)?, hhmm.get(2..4)?);
    (hhmm.len() == 4).then_some(())?;
    DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&Utc))
}

/// The UTC dates (`YYYY-MM-DD`) that [`from`, `to`) touches.
pub fn dates_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut dates = Vec::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() && from < to {
        dates.push(day.format("%Y-%m-%d").to_string());
        day = day.succ_opt().unwrap_or(day);
        if dates.len() > 400 {
            break;
        }
    }
    dates
}

/// What reading a bucket's notification configuration found.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<C> {
    /// The bucket's configuration (empty when it has none).
    Found(C),
    /// The bucket does not exist (NoSuchBucket).
    BucketGone,
}

/// What writing a bucket's notification configuration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Written,
    /// The bucket does not exist (NoSuchBucket).
    BucketGone,
}

/// A bucket's whole notification configuration, read and written in one call each. The
/// configuration is the adapter's own type; the custom resource edits it through [`OurEntry`].
pub trait NotificationStore: Send + Sync {
    /// The configuration as the backend holds it.
    type Configuration: OurEntry + Send + Sync;

    /// Reads the configuration of `bucket`.
    fn get(&self, bucket: &str) -> impl Future<Output = Result<Fetched<Self::Configuration>, PortError>> + Send;

    /// Replaces the configuration of `bucket` with `configuration`. With
    /// `validate_destinations` false the backend does not check that the targets exist and
    /// accept the bucket's events (used when we only take our entry out, so a broken foreign
    /// target does not stop us).
    fn put(
        &self,
        bucket: &str,
        configuration: &Self::Configuration,
        validate_destinations: bool,
    ) -> impl Future<Output = Result<Stored, PortError>> + Send;
}

/// Delivers the answer to a CloudFormation custom-resource request.
pub trait ResponseSender: Send + Sync {
    /// Sends `response` (its [`CustomResourceResponse::to_body`]) to the request's
    /// ResponseURL.
    fn send(
        &self,
        response_url: &str,
        response: &CustomResourceResponse,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
