//! In-memory implementations of the ports, for unit and handler tests and benchmarks. They
//! count their calls so tests can assert on round trips.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::agent::{AgentProfileRecord, AgentState, InstanceProgress, InstanceSilence, QueueProfileRecord};
use crate::custom_resource::CustomResourceResponse;
use crate::feed::FeedBody;
use crate::ports::{
    AgentDirectory, AgentStateStore, ClaimOutcome, ClaimStore, CommitOutcome, FeedSink, KnownAgent, LoadedStates,
    ObjectReader, ObjectSource, PortError, ProgressStore, ResponseSender, Roster, RosterStore, UnreadableState,
};
use crate::push::recent::{DeliveredStates, DeliveredStore};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the data from the assertions that follow.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Agent states and instance progress in maps; counts `load_many`, `commit` and progress
/// writes. A row can also be made unreadable ([`MemoryStateStore::insert_unreadable`]), as a
/// malformed item is in a real table.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    rows: Mutex<HashMap<String, AgentState>>,
    unreadable: Mutex<HashMap<String, UnreadableState>>,
    progress: Mutex<BTreeMap<String, InstanceProgress>>,
    /// The roster: (instance, agent id) → latest profile, (instance, queue id) → latest profile.
    agent_profiles: Mutex<BTreeMap<(String, String), AgentProfileRecord>>,
    queue_profiles: Mutex<BTreeMap<(String, String), QueueProfileRecord>>,
    pub loads: AtomicUsize,
    pub commits: AtomicUsize,
    pub progress_writes: AtomicUsize,
}

impl MemoryStateStore {
    pub fn get(&self, agent_arn: &str) -> Option<AgentState> {
        lock(&self.rows).get(agent_arn).cloned()
    }

    pub fn all(&self) -> Vec<AgentState> {
        let mut rows: Vec<_> = lock(&self.rows).values().cloned().collect();
        rows.sort_by(|a, b| a.agent_arn.cmp(&b.agent_arn));
        rows
    }

    /// Puts a row unconditionally (test set-up, or a racing writer); it replaces an unreadable one.
    pub fn insert(&self, state: AgentState) {
        lock(&self.unreadable).remove(&state.agent_arn);
        lock(&self.rows).insert(state.agent_arn.clone(), state);
    }

    /// Replaces the row of `agent_arn` with one that cannot be read (`raw`, failing with `reason`).
    pub fn insert_unreadable(&self, agent_arn: &str, raw: &[u8], reason: &str) {
        lock(&self.rows).remove(agent_arn);
        let version = format!("{:x}", raw.iter().fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b)));
        lock(&self.unreadable).insert(
            agent_arn.to_owned(),
            UnreadableState {
                agent_arn: agent_arn.to_owned(),
                location: format!("memory row {agent_arn}"),
                reason: reason.to_owned(),
                raw: raw.to_vec(),
                version,
            },
        );
    }

    /// True while the row of `agent_arn` is unreadable.
    pub fn is_unreadable(&self, agent_arn: &str) -> bool {
        lock(&self.unreadable).contains_key(agent_arn)
    }

    /// The progress of one instance.
    pub fn progress_of(&self, instance_id: &str) -> Option<InstanceProgress> {
        lock(&self.progress).get(instance_id).cloned()
    }
}

impl crate::ports::AgentBatchStore for MemoryStateStore {}

impl RosterStore for MemoryStateStore {
    async fn known_queues(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueProfileRecord>, PortError> {
        let queues = lock(&self.queue_profiles);
        Ok(queue_ids
            .iter()
            .filter_map(|id| queues.get(&(instance_id.to_owned(), id.clone())).cloned())
            .collect())
    }

    async fn keep_profiles(
        &self,
        agents: &[AgentProfileRecord],
        queues: &[QueueProfileRecord],
    ) -> Result<(), PortError> {
        let mut kept = lock(&self.agent_profiles);
        for profile in agents {
            kept.insert((profile.instance_id.clone(), profile.agent_id.clone()), profile.clone());
        }
        let mut kept = lock(&self.queue_profiles);
        for profile in queues {
            kept.insert((profile.instance_id.clone(), profile.queue_id.clone()), profile.clone());
        }
        Ok(())
    }

    async fn forget_agents(&self, instance_id: &str, agent_ids: &[String]) -> Result<(), PortError> {
        let mut kept = lock(&self.agent_profiles);
        for id in agent_ids {
            kept.remove(&(instance_id.to_owned(), id.clone()));
        }
        Ok(())
    }

    async fn roster(&self, instance_id: &str) -> Result<Roster, PortError> {
        let mine = |(instance, _): &(String, String)| instance == instance_id;
        Ok(Roster {
            agents: lock(&self.agent_profiles)
                .iter()
                .filter(|(key, _)| mine(key))
                .map(|(_, p)| p.clone())
                .collect(),
            queues: lock(&self.queue_profiles)
                .iter()
                .filter(|(key, _)| mine(key))
                .map(|(_, p)| p.clone())
                .collect(),
        })
    }
}

impl ProgressStore for MemoryStateStore {
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        Ok(lock(&self.progress).values().cloned().collect())
    }

    async fn advance_progress(&self, instance_id: &str, newest: DateTime<Utc>) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        let mut progress = lock(&self.progress);
        let entry = progress
            .entry(instance_id.to_owned())
            .or_insert_with(|| InstanceProgress {
                instance_id: instance_id.to_owned(),
                newest_event: newest,
                silence: None,
                snapshot_slot: None,
                owed_since: None,
                agent_intervals_done: None,
                changed_intervals: Vec::new(),
            });
        entry.newest_event = entry.newest_event.max(newest);
        Ok(())
    }

    async fn mark_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<CommitOutcome, PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        match lock(&self.progress).get_mut(instance_id) {
            Some(p) if p.silence.is_none() && p.newest_event == silence.last_event_time => {
                p.silence = Some(*silence);
                Ok(CommitOutcome::Committed)
            }
            _ => Ok(CommitOutcome::Superseded),
        }
    }

    async fn clear_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id)
            && p.silence.as_ref() == Some(silence)
        {
            p.silence = None;
        }
        Ok(())
    }

    async fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id) {
            match owed {
                Some(since) => p.owed_since = Some(p.owed_since.map_or(since, |stored| stored.min(since))),
                None if p.owed_since == read => p.owed_since = None,
                None => {}
            }
        }
        Ok(())
    }

    async fn snapshot_written(&self, instance_id: &str, slot: DateTime<Utc>) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id) {
            p.snapshot_slot = p.snapshot_slot.max(Some(slot));
        }
        Ok(())
    }

    async fn mark_intervals_changed(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id) {
            p.changed_intervals.extend_from_slice(intervals);
            p.changed_intervals.sort_unstable();
            p.changed_intervals.dedup();
        }
        Ok(())
    }

    async fn clear_changed_intervals(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id) {
            p.changed_intervals.retain(|i| !intervals.contains(i));
        }
        Ok(())
    }

    async fn agent_intervals_written(&self, instance_id: &str, interval_start: DateTime<Utc>) -> Result<(), PortError> {
        self.progress_writes.fetch_add(1, Ordering::Relaxed);
        if let Some(p) = lock(&self.progress).get_mut(instance_id) {
            p.agent_intervals_done = p.agent_intervals_done.max(Some(interval_start));
        }
        Ok(())
    }
}

impl AgentDirectory for MemoryStateStore {
    async fn active_agents(&self, instance_id: &str) -> Result<Vec<AgentState>, PortError> {
        Ok(self
            .all()
            .into_iter()
            .filter(|s| s.instance_id == instance_id && s.is_listed())
            .collect())
    }

    async fn agents_seen_since(&self, seen_since: DateTime<Utc>) -> Result<Vec<AgentState>, PortError> {
        Ok(self.all().into_iter().filter(|s| s.last_seen >= seen_since).collect())
    }
}

impl AgentStateStore for MemoryStateStore {
    async fn load_many(&self, agent_arns: &[String]) -> Result<LoadedStates, PortError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let (rows, unreadable) = (lock(&self.rows), lock(&self.unreadable));
        Ok(LoadedStates {
            states: agent_arns
                .iter()
                .filter_map(|arn| rows.get(arn).map(|s| (arn.clone(), s.clone())))
                .collect(),
            unreadable: agent_arns
                .iter()
                .filter_map(|arn| unreadable.get(arn).map(|u| (arn.clone(), u.clone())))
                .collect(),
        })
    }

    /// An unreadable row has no watermark to compare with: like the real store's condition on
    /// a missing attribute, it refuses the write.
    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if lock(&self.unreadable).contains_key(&state.agent_arn) {
            return Ok(CommitOutcome::Superseded);
        }
        let mut rows = lock(&self.rows);
        match rows.get(&state.agent_arn) {
            Some(stored) if !state.may_replace(stored) => Ok(CommitOutcome::Superseded),
            _ => {
                rows.insert(state.agent_arn.clone(), state.clone());
                Ok(CommitOutcome::Committed)
            }
        }
    }

    async fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> Result<CommitOutcome, PortError> {
        {
            let mut bad = lock(&self.unreadable);
            if bad
                .get(&state.agent_arn)
                .is_some_and(|u| u.version == unreadable.version)
            {
                self.commits.fetch_add(1, Ordering::Relaxed);
                bad.remove(&state.agent_arn);
                lock(&self.rows).insert(state.agent_arn.clone(), state.clone());
                return Ok(CommitOutcome::Committed);
            }
        }
        self.commit(state).await
    }

    async fn agents_by_login(&self, logins: &[String]) -> Result<Vec<KnownAgent>, PortError> {
        let rows = lock(&self.rows);
        Ok(rows
            .values()
            .filter_map(|s| {
                let login = s.agent_login.as_ref().filter(|l| logins.contains(l))?;
                Some(KnownAgent {
                    login: login.clone(),
                    agent_id: s.agent_id.clone(),
                    instance_id: s.instance_id.clone(),
                    last_seen: Some(s.last_seen),
                })
            })
            .collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimStatus {
    InProgress { until: DateTime<Utc>, owner: String },
    Completed,
}

/// Claims in a map, with the in-progress expiry of the real store.
#[derive(Debug)]
pub struct MemoryClaimStore {
    claims: Mutex<HashMap<String, ClaimStatus>>,
    in_progress_for: Duration,
}

impl MemoryClaimStore {
    pub fn new(in_progress_for: Duration) -> Self {
        Self {
            claims: Mutex::new(HashMap::new()),
            in_progress_for,
        }
    }

    /// True when the claim is COMPLETED.
    pub fn is_completed(&self, claim_id: &str) -> bool {
        lock(&self.claims).get(claim_id) == Some(&ClaimStatus::Completed)
    }

    /// True when the claim exists in any status.
    pub fn is_held(&self, claim_id: &str) -> bool {
        lock(&self.claims).contains_key(claim_id)
    }
}

impl Default for MemoryClaimStore {
    fn default() -> Self {
        Self::new(Duration::minutes(15))
    }
}

impl ClaimStore for MemoryClaimStore {
    async fn claim(&self, claim_id: &str, owner: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, PortError> {
        let mut claims = lock(&self.claims);
        match claims.get(claim_id) {
            Some(ClaimStatus::Completed) => Ok(ClaimOutcome::AlreadyCompleted),
            Some(ClaimStatus::InProgress { until, owner: holder }) if *until > now && holder != owner => {
                Ok(ClaimOutcome::HeldElsewhere)
            }
            _ => {
                claims.insert(
                    claim_id.to_owned(),
                    ClaimStatus::InProgress {
                        until: now + self.in_progress_for,
                        owner: owner.to_owned(),
                    },
                );
                Ok(ClaimOutcome::Claimed)
            }
        }
    }

    async fn complete(&self, claim_id: &str, _now: DateTime<Utc>) -> Result<(), PortError> {
        lock(&self.claims).insert(claim_id.to_owned(), ClaimStatus::Completed);
        Ok(())
    }

    async fn release(&self, claim_id: &str) -> Result<(), PortError> {
        let mut claims = lock(&self.claims);
        if matches!(claims.get(claim_id), Some(ClaimStatus::InProgress { .. })) {
            claims.remove(claim_id);
        }
        Ok(())
    }
}

/// Objects in a map keyed by (bucket, key); counts `open` calls.
#[derive(Debug, Default)]
pub struct MemoryObjectSource {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    pub opens: AtomicUsize,
}

impl MemoryObjectSource {
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        lock(&self.objects).insert((bucket.to_owned(), key.to_owned()), body.into());
    }
}

impl ObjectSource for MemoryObjectSource {
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
        self.opens.fetch_add(1, Ordering::Relaxed);
        match lock(&self.objects).get(&(bucket.to_owned(), key.to_owned())) {
            Some(body) => Ok(Box::new(Cursor::new(body.clone()))),
            None => Err(PortError::new(
                format!("read s3://{bucket}/{key}"),
                "no such object",
                false,
            )),
        }
    }
}

/// A kept memory of delivered states, in its stored form ([`DeliveredStates::to_json`]), so a
/// test's "next process" reads what a real one would; counts loads and saves, and fails every
/// call while `failing` is set.
#[derive(Debug, Default)]
pub struct MemoryDeliveredStore {
    stored: Mutex<Option<Vec<u8>>>,
    pub loads: AtomicUsize,
    pub saves: AtomicUsize,
    pub failing: std::sync::atomic::AtomicBool,
}

impl MemoryDeliveredStore {
    /// The stored form, if anything was saved.
    pub fn stored(&self) -> Option<Vec<u8>> {
        lock(&self.stored).clone()
    }

    fn check(&self, operation: &str) -> Result<(), PortError> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(PortError::new(operation, "the store is failing (test)", true));
        }
        Ok(())
    }
}

impl DeliveredStore for MemoryDeliveredStore {
    async fn load(&self) -> Result<DeliveredStates, PortError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.check("load the delivered states")?;
        match lock(&self.stored).as_deref() {
            Some(bytes) => DeliveredStates::from_json(bytes)
                .map_err(|e| PortError::new("load the delivered states", e.to_string(), false)),
            None => Ok(DeliveredStates::default()),
        }
    }

    async fn save(&self, delivered: &DeliveredStates, now: DateTime<Utc>) -> Result<(), PortError> {
        self.saves.fetch_add(1, Ordering::Relaxed);
        self.check("save the delivered states")?;
        *lock(&self.stored) = Some(delivered.to_json(now));
        Ok(())
    }
}

/// Feed objects in an ordered map; counts puts (an overwrite counts again).
#[derive(Debug, Default)]
pub struct MemoryFeedSink {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub puts: AtomicUsize,
}

impl MemoryFeedSink {
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects).get(key).cloned()
    }

    /// Every JSON line of every object whose key starts with `prefix`, in key order.
    pub fn lines(&self, prefix: &str) -> Vec<serde_json::Value> {
        lock(&self.objects)
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .flat_map(|(_, body)| {
                body.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).expect("feed lines are JSON"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl FeedSink for MemoryFeedSink {
    async fn put(&self, key: &str, body: FeedBody) -> Result<(), PortError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        lock(&self.objects).insert(key.to_owned(), body.into_bytes());
        Ok(())
    }
}

impl crate::ports::ActivityLog for MemoryFeedSink {
    async fn pieces(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> Result<Vec<crate::agent::AgentActivityRecord>, PortError> {
        let prefix = crate::agent::activity_prefix(instance_id, interval_start);
        let mut pieces = Vec::new();
        for (key, body) in lock(&self.objects).range(prefix.clone()..) {
            if !key.starts_with(&prefix) {
                break;
            }
            let unreadable = crate::ports::read_pieces(body, &mut pieces);
            debug_assert!(unreadable.is_empty(), "{key}: lines {unreadable:?} are not pieces");
        }
        Ok(pieces)
    }

    async fn intervals(
        &self,
        instance_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, PortError> {
        let kind = crate::agent::AgentActivityRecord::KIND;
        let folder = crate::feed::sanitize_name(instance_id);
        let mut found: Vec<DateTime<Utc>> = lock(&self.objects)
            .keys()
            .filter_map(|key| {
                let mut parts = key.strip_prefix(kind)?.strip_prefix('/')?.split('/');
                let (date, instance, hhmm) = (parts.next()?, parts.next()?, parts.next()?);
                (instance == folder).then_some(())?;
                crate::ports::interval_of_folder(date, hhmm)
            })
            .filter(|start| *start >= from && *start < to)
            .collect();
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}

/// Keeps every custom-resource answer sent, with its URL; fails the first `fail_times` sends.
#[derive(Debug, Default)]
pub struct MemoryResponseSender {
    pub sent: Mutex<Vec<(String, CustomResourceResponse)>>,
    pub fail_times: AtomicUsize,
}

impl MemoryResponseSender {
    /// The responses sent so far.
    pub fn responses(&self) -> Vec<CustomResourceResponse> {
        lock(&self.sent).iter().map(|(_, r)| r.clone()).collect()
    }
}

impl ResponseSender for MemoryResponseSender {
    async fn send(&self, response_url: &str, response: &CustomResourceResponse) -> Result<(), PortError> {
        let failing = self
            .fail_times
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(PortError::new(format!("PUT {response_url}"), "connection reset", true));
        }
        lock(&self.sent).push((response_url.to_owned(), response.clone()));
        Ok(())
    }
}

/// Connect instances' storage configs in a map, for the doctor's tests (the emulator does not
/// serve Connect). An instance ARN containing `missing` answers ResourceNotFoundException.
#[derive(Debug, Default)]
pub struct MemoryStorageConfigs {
    configs: Mutex<HashMap<(String, String), Vec<crate::doctor::StorageConfig>>>,
}

impl MemoryStorageConfigs {
    /// Points the instance's `resource_type` (AGENT_EVENTS, CONTACT_TRACE_RECORDS) at a stream.
    pub fn insert(&self, instance_arn: &str, resource_type: &str, stream_arn: &str) {
        lock(&self.configs)
            .entry((instance_arn.to_owned(), resource_type.to_owned()))
            .or_default()
            .push(crate::doctor::StorageConfig {
                resource_type: resource_type.to_owned(),
                stream_arn: Some(stream_arn.to_owned()),
            });
    }
}

impl crate::doctor::InstanceStorageConfigs for MemoryStorageConfigs {
    async fn list(
        &self,
        instance_arn: &str,
        resource_type: &str,
    ) -> Result<Vec<crate::doctor::StorageConfig>, PortError> {
        let key = (instance_arn.to_owned(), resource_type.to_owned());
        match lock(&self.configs).get(&key) {
            Some(configs) => Ok(configs.clone()),
            None if instance_arn.contains("missing") => Err(PortError::new(
                format!("list the storage configs of {instance_arn}"),
                "ResourceNotFoundException",
                false,
            )),
            None => Ok(Vec::new()),
        }
    }
}
