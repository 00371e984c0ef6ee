//! Local-file implementations of the ports: the CLI's embedded defaults. State and claims are
//! JSON files in a folder (so a second run continues where the first stopped); the feed is a
//! folder in the feed layout or standard output.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::agent::{
    AgentActivityRecord, AgentProfileRecord, AgentState, InstanceProgress, InstanceSilence, QueueProfileRecord,
    activity_prefix,
};
use connect_wfm_core::contact::store::{ContactState, MemoryContactStore};
use connect_wfm_core::feed::{self, sanitize_name};
use connect_wfm_core::ports::{
    ActivityLog, AgentDirectory, AgentStateStore, ClaimOutcome, ClaimStore, CommitOutcome, FeedSink, KnownAgent,
    LoadedStates, ObjectReader, ObjectSource, PortError, ProgressStore, Roster, RosterStore, UnreadableState,
    dates_between, interval_of_folder, read_pieces,
};
use serde::{Deserialize, Serialize};

fn io_error(operation: String, e: impl std::fmt::Display) -> PortError {
    PortError::new(operation, e.to_string(), false)
}

/// Writes a file atomically (temp file + rename), creating its folder.
fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, PortError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io_error(
                format!("read {}", path.display()),
                format!("not a valid state file: {e}"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(format!("read {}", path.display()), e)),
    }
}

/// Agent states as `<dir>/agents/<agent ARN, made file-safe>.json`, instance progress in
/// `<dir>/progress.json`.
#[derive(Debug, Clone)]
pub struct LocalStateStore {
    dir: PathBuf,
    progress: PathBuf,
    roster: PathBuf,
}

/// One instance in `roster.json`: the latest profiles by agent id and queue id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RosterFile {
    #[serde(default)]
    agents: std::collections::BTreeMap<String, AgentProfileRecord>,
    #[serde(default)]
    queues: std::collections::BTreeMap<String, QueueProfileRecord>,
}

/// One instance in `progress.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProgressFile {
    newest_event: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    silence: Option<InstanceSilence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot_slot: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owed_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent_intervals_done: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changed_intervals: Vec<DateTime<Utc>>,
}

impl LocalStateStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            progress: dir.join("progress.json"),
            roster: dir.join("roster.json"),
            dir: dir.join("agents"),
        }
    }

    fn read_roster(&self) -> Result<std::collections::BTreeMap<String, RosterFile>, PortError> {
        Ok(read_json(&self.roster)?.unwrap_or_default())
    }

    fn write_roster(&self, roster: &std::collections::BTreeMap<String, RosterFile>) -> Result<(), PortError> {
        let body = serde_json::to_vec_pretty(roster).expect("roster serialises");
        write_atomically(&self.roster, &body).map_err(|e| io_error(format!("write {}", self.roster.display()), e))
    }

    fn read_progress(&self) -> Result<std::collections::BTreeMap<String, ProgressFile>, PortError> {
        Ok(read_json(&self.progress)?.unwrap_or_default())
    }

    fn write_progress(&self, progress: &std::collections::BTreeMap<String, ProgressFile>) -> Result<(), PortError> {
        let body = serde_json::to_vec_pretty(progress).expect("progress serialises");
        write_atomically(&self.progress, &body).map_err(|e| io_error(format!("write {}", self.progress.display()), e))
    }

    fn path(&self, agent_arn: &str) -> PathBuf {
        self.dir.join(format!("{}.json", sanitize_name(agent_arn)))
    }

    /// Every stored state, ordered by agent ARN. A file that is not a state is skipped with a
    /// line on standard error naming it (agent-events keeps it under rejects and replaces it).
    pub fn all(&self) -> Result<Vec<AgentState>, PortError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(format!("list {}", self.dir.display()), e)),
        };
        let mut states = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| io_error(format!("list {}", self.dir.display()), e))?
                .path();
            if path.extension().is_some_and(|x| x == "json") {
                match read_json::<AgentState>(&path) {
                    Ok(state) => states.extend(state),
                    Err(e) if !e.retryable => eprintln!("connect-wfm: skipped {e}"),
                    Err(e) => return Err(e),
                }
            }
        }
        states.sort_by(|a, b| a.agent_arn.cmp(&b.agent_arn));
        Ok(states)
    }
}

/// A stored state file as read: a state, or bytes that are not one.
enum StoredFile {
    Missing,
    // Boxed: a state is three times the size of the other variants.
    State(Box<AgentState>),
    Unreadable(UnreadableState),
}

impl LocalStateStore {
    fn read(&self, agent_arn: &str) -> Result<StoredFile, PortError> {
        let path = self.path(agent_arn);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoredFile::Missing),
            Err(e) => return Err(io_error(format!("read {}", path.display()), e)),
        };
        Ok(match serde_json::from_slice::<AgentState>(&bytes) {
            Ok(state) => StoredFile::State(Box::new(state)),
            Err(e) => StoredFile::Unreadable(UnreadableState {
                agent_arn: agent_arn.to_owned(),
                location: format!("state file {}", path.display()),
                reason: format!("not a valid state file: {e}"),
                version: content_version(&bytes),
                raw: bytes,
            }),
        })
    }

    fn write(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        let path = self.path(&state.agent_arn);
        let body = serde_json::to_vec_pretty(state).expect("agent state serialises");
        write_atomically(&path, &body).map_err(|e| io_error(format!("write {}", path.display()), e))?;
        Ok(CommitOutcome::Committed)
    }
}

/// The version token of a file's content.
fn content_version(bytes: &[u8]) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl AgentStateStore for LocalStateStore {
    async fn load_many(&self, agent_arns: &[String]) -> Result<LoadedStates, PortError> {
        let mut loaded = LoadedStates::default();
        for arn in agent_arns {
            match self.read(arn)? {
                StoredFile::Missing => {}
                StoredFile::State(state) => {
                    loaded.states.insert(arn.clone(), *state);
                }
                StoredFile::Unreadable(unreadable) => {
                    loaded.unreadable.insert(arn.clone(), unreadable);
                }
            }
        }
        Ok(loaded)
    }

    /// A file that is not a state has no watermark to compare with: the write is refused.
    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        match self.read(&state.agent_arn)? {
            StoredFile::State(stored) if !state.may_replace(&stored) => Ok(CommitOutcome::Superseded),
            StoredFile::Unreadable(_) => Ok(CommitOutcome::Superseded),
            _ => self.write(state),
        }
    }

    async fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> Result<CommitOutcome, PortError> {
        match self.read(&state.agent_arn)? {
            StoredFile::Unreadable(now) if now.version == unreadable.version => self.write(state),
            _ => self.commit(state).await,
        }
    }

    async fn agents_by_login(&self, logins: &[String]) -> Result<Vec<KnownAgent>, PortError> {
        Ok(self
            .all()?
            .into_iter()
            .filter_map(|s| {
                let login = s.agent_login.filter(|l| logins.contains(l))?;
                Some(KnownAgent {
                    login,
                    agent_id: s.agent_id,
                    instance_id: s.instance_id,
                    last_seen: Some(s.last_seen),
                })
            })
            .collect())
    }
}

impl connect_wfm_core::ports::AgentBatchStore for LocalStateStore {}

/// The roster in `<dir>/roster.json`, per instance.
impl RosterStore for LocalStateStore {
    async fn known_queues(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueProfileRecord>, PortError> {
        let roster = self.read_roster()?;
        let Some(instance) = roster.get(instance_id) else {
            return Ok(Vec::new());
        };
        Ok(queue_ids
            .iter()
            .filter_map(|id| instance.queues.get(id).cloned())
            .collect())
    }

    async fn keep_profiles(
        &self,
        agents: &[AgentProfileRecord],
        queues: &[QueueProfileRecord],
    ) -> Result<(), PortError> {
        let mut roster = self.read_roster()?;
        for profile in agents {
            let instance = roster.entry(profile.instance_id.clone()).or_default();
            instance.agents.insert(profile.agent_id.clone(), profile.clone());
        }
        for profile in queues {
            let instance = roster.entry(profile.instance_id.clone()).or_default();
            instance.queues.insert(profile.queue_id.clone(), profile.clone());
        }
        self.write_roster(&roster)
    }

    async fn forget_agents(&self, instance_id: &str, agent_ids: &[String]) -> Result<(), PortError> {
        let mut roster = self.read_roster()?;
        if let Some(instance) = roster.get_mut(instance_id) {
            for id in agent_ids {
                instance.agents.remove(id);
            }
        }
        self.write_roster(&roster)
    }

    async fn roster(&self, instance_id: &str) -> Result<Roster, PortError> {
        let roster = self.read_roster()?;
        let instance = roster.get(instance_id).cloned().unwrap_or_default();
        Ok(Roster {
            agents: instance.agents.into_values().collect(),
            queues: instance.queues.into_values().collect(),
        })
    }
}

impl ProgressStore for LocalStateStore {
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        Ok(self
            .read_progress()?
            .into_iter()
            .map(|(instance_id, p)| InstanceProgress {
                instance_id,
                newest_event: p.newest_event,
                silence: p.silence,
                snapshot_slot: p.snapshot_slot,
                owed_since: p.owed_since,
                agent_intervals_done: p.agent_intervals_done,
                changed_intervals: p.changed_intervals,
            })
            .collect())
    }

    async fn advance_progress(&self, instance_id: &str, newest: DateTime<Utc>) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        let entry = progress.entry(instance_id.to_owned()).or_insert(ProgressFile {
            newest_event: newest,
            silence: None,
            snapshot_slot: None,
            owed_since: None,
            agent_intervals_done: None,
            changed_intervals: Vec::new(),
        });
        entry.newest_event = entry.newest_event.max(newest);
        self.write_progress(&progress)
    }

    async fn mark_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<CommitOutcome, PortError> {
        let mut progress = self.read_progress()?;
        match progress.get_mut(instance_id) {
            Some(p) if p.silence.is_none() && p.newest_event == silence.last_event_time => {
                p.silence = Some(*silence);
                self.write_progress(&progress)?;
                Ok(CommitOutcome::Committed)
            }
            _ => Ok(CommitOutcome::Superseded),
        }
    }

    async fn clear_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id)
            && p.silence.as_ref() == Some(silence)
        {
            p.silence = None;
            self.write_progress(&progress)?;
        }
        Ok(())
    }

    async fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id) {
            let next = match owed {
                Some(since) => Some(p.owed_since.map_or(since, |stored| stored.min(since))),
                None if p.owed_since == read => None,
                None => p.owed_since,
            };
            if next != p.owed_since {
                p.owed_since = next;
                self.write_progress(&progress)?;
            }
        }
        Ok(())
    }

    async fn mark_intervals_changed(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id) {
            p.changed_intervals.extend_from_slice(intervals);
            p.changed_intervals.sort_unstable();
            p.changed_intervals.dedup();
            self.write_progress(&progress)?;
        }
        Ok(())
    }

    async fn clear_changed_intervals(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id) {
            p.changed_intervals.retain(|i| !intervals.contains(i));
            self.write_progress(&progress)?;
        }
        Ok(())
    }

    async fn agent_intervals_written(&self, instance_id: &str, interval_start: DateTime<Utc>) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id)
            && p.agent_intervals_done.is_none_or(|done| done < interval_start)
        {
            p.agent_intervals_done = Some(interval_start);
            self.write_progress(&progress)?;
        }
        Ok(())
    }

    async fn snapshot_written(&self, instance_id: &str, slot: DateTime<Utc>) -> Result<(), PortError> {
        let mut progress = self.read_progress()?;
        if let Some(p) = progress.get_mut(instance_id)
            && p.snapshot_slot.is_none_or(|written| written < slot)
        {
            p.snapshot_slot = Some(slot);
            self.write_progress(&progress)?;
        }
        Ok(())
    }
}

impl AgentDirectory for LocalStateStore {
    async fn active_agents(&self, instance_id: &str) -> Result<Vec<AgentState>, PortError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|s| s.instance_id == instance_id && s.is_listed())
            .collect())
    }

    async fn agents_seen_since(&self, seen_since: DateTime<Utc>) -> Result<Vec<AgentState>, PortError> {
        Ok(self.all()?.into_iter().filter(|s| s.last_seen >= seen_since).collect())
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
enum ClaimFile {
    InProgress {
        lease_until: DateTime<Utc>,
        #[serde(default)]
        owner: String,
    },
    Completed {
        completed_at: DateTime<Utc>,
    },
}

/// Claims as `<dir>/claims/<claim id, made file-safe>.json`.
#[derive(Debug, Clone)]
pub struct LocalClaimStore {
    dir: PathBuf,
    in_progress_for: Duration,
}

impl LocalClaimStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into().join("claims"),
            in_progress_for: Duration::minutes(15),
        }
    }

    fn path(&self, claim_id: &str) -> PathBuf {
        self.dir.join(format!("{}.json", sanitize_name(claim_id)))
    }

    fn write(&self, claim_id: &str, claim: &ClaimFile) -> Result<(), PortError> {
        let path = self.path(claim_id);
        let body = serde_json::to_vec(claim).expect("claim serialises");
        write_atomically(&path, &body).map_err(|e| io_error(format!("write {}", path.display()), e))
    }
}

impl ClaimStore for LocalClaimStore {
    async fn claim(&self, claim_id: &str, owner: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, PortError> {
        match read_json::<ClaimFile>(&self.path(claim_id))? {
            Some(ClaimFile::Completed { .. }) => Ok(ClaimOutcome::AlreadyCompleted),
            Some(ClaimFile::InProgress {
                lease_until,
                owner: holder,
            }) if lease_until > now && holder != owner => Ok(ClaimOutcome::HeldElsewhere),
            _ => {
                self.write(
                    claim_id,
                    &ClaimFile::InProgress {
                        lease_until: now + self.in_progress_for,
                        owner: owner.to_owned(),
                    },
                )?;
                Ok(ClaimOutcome::Claimed)
            }
        }
    }

    async fn complete(&self, claim_id: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        self.write(claim_id, &ClaimFile::Completed { completed_at: now })
    }

    async fn release(&self, claim_id: &str) -> Result<(), PortError> {
        let path = self.path(claim_id);
        if let Some(ClaimFile::InProgress { .. }) = read_json::<ClaimFile>(&path)? {
            std::fs::remove_file(&path).map_err(|e| io_error(format!("remove {}", path.display()), e))?;
        }
        Ok(())
    }
}

/// Report objects as files `<dir>/<bucket>/<key>`.
#[derive(Debug, Clone)]
pub struct LocalObjectSource {
    dir: PathBuf,
}

impl LocalObjectSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl ObjectSource for LocalObjectSource {
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
        let path = self.dir.join(bucket).join(key);
        let file = std::fs::File::open(&path).map_err(|e| io_error(format!("open {}", path.display()), e))?;
        Ok(Box::new(std::io::BufReader::new(file)))
    }
}

/// Where the CLI puts feed objects.
#[derive(Debug, Clone)]
pub enum LocalFeedSink {
    /// The feed layout under a folder.
    Folder(PathBuf),
    /// Records as JSON Lines on standard output; rejects summarised on standard error.
    Stdout,
}

impl FeedSink for LocalFeedSink {
    async fn put(&self, key: &str, body: feed::FeedBody) -> Result<(), PortError> {
        let body = body.into_bytes();
        match self {
            LocalFeedSink::Folder(dir) => {
                let path = dir.join(key);
                write_atomically(&path, &body).map_err(|e| io_error(format!("write {}", path.display()), e))?;
                if key.starts_with(feed::REJECTS) {
                    print_rejects(&body);
                }
                Ok(())
            }
            LocalFeedSink::Stdout if key.starts_with(feed::REJECTS) => {
                print_rejects(&body);
                Ok(())
            }
            LocalFeedSink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&body)
                    .and_then(|_| out.flush())
                    .map_err(|e| io_error("write stdout".into(), e))
            }
        }
    }
}

/// The CLI's feed: records go where `--feed` says, and a copy of every `agent_activity` object
/// is kept in the state folder (`<state>/activity/agent_activity/...`, the feed's own layout),
/// from where the sweep and `agent-intervals` read the pieces back, as the functions read them
/// from the S3 feed.
#[derive(Debug, Clone)]
pub struct LocalFeed {
    pub sink: LocalFeedSink,
    activity: PathBuf,
}

impl LocalFeed {
    pub fn new(state: &Path, sink: LocalFeedSink) -> Self {
        Self {
            sink,
            activity: state.join("activity"),
        }
    }
}

impl FeedSink for LocalFeed {
    async fn put(&self, key: &str, body: feed::FeedBody) -> Result<(), PortError> {
        if key.starts_with(&format!("{}/", AgentActivityRecord::KIND)) {
            let path = self.activity.join(key);
            write_atomically(&path, body.bytes()).map_err(|e| io_error(format!("write {}", path.display()), e))?;
        }
        self.sink.put(key, body).await
    }
}

/// The names in a folder (none when it does not exist), sorted.
fn names_in(dir: &Path) -> Result<Vec<String>, PortError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(format!("list {}", dir.display()), e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(format!("list {}", dir.display()), e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

impl ActivityLog for LocalFeed {
    async fn pieces(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> Result<Vec<AgentActivityRecord>, PortError> {
        let dir = self.activity.join(activity_prefix(instance_id, interval_start));
        let mut pieces = Vec::new();
        for name in names_in(&dir)? {
            let path = dir.join(name);
            let body = std::fs::read(&path).map_err(|e| io_error(format!("read {}", path.display()), e))?;
            let unreadable = read_pieces(&body, &mut pieces);
            if !unreadable.is_empty() {
                eprintln!(
                    "connect-wfm: {}: lines {unreadable:?} are not agent_activity pieces; skipped",
                    path.display()
                );
            }
        }
        Ok(pieces)
    }

    async fn intervals(
        &self,
        instance_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, PortError> {
        let mut found = Vec::new();
        for date in dates_between(from, to) {
            let dir = self
                .activity
                .join(AgentActivityRecord::KIND)
                .join(&date)
                .join(sanitize_name(instance_id));
            for hhmm in names_in(&dir)? {
                if let Some(start) = interval_of_folder(&date, &hhmm)
                    && start >= from
                    && start < to
                {
                    found.push(start);
                }
            }
        }
        Ok(found)
    }
}

/// One line per rejected input on standard error: what it was and why.
fn print_rejects(body: &[u8]) {
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let reject: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        eprintln!(
            "rejected: {}: {}",
            reject["input"].as_str().unwrap_or("?"),
            reject["reason"].as_str().unwrap_or("?")
        );
    }
}

#[cfg(feature = "aws")]
pub use notifications::{LocalNotificationStore, StdoutResponseSender};

/// Local ports of bucket-notifications, whose model is on the AWS SDK's S3 types: with the
/// `aws` feature only.
#[cfg(feature = "aws")]
mod notifications {
    use std::io::Write as _;
    use std::path::PathBuf;

    use connect_wfm_aws::notifications::NotificationConfiguration;
    use connect_wfm_core::custom_resource::CustomResourceResponse;
    use connect_wfm_core::ports::{Fetched, NotificationStore, PortError, ResponseSender, Stored};

    use super::{io_error, read_json, write_atomically};

    /// The notification configuration of a local bucket: the bucket is the folder
    /// `<dir>/<bucket>` (absent folder: the bucket does not exist), its configuration the file
    /// `<dir>/<bucket>.notification.json` beside it (absent file: no configuration).
    #[derive(Debug, Clone)]
    pub struct LocalNotificationStore {
        dir: PathBuf,
    }

    impl LocalNotificationStore {
        pub fn new(dir: impl Into<PathBuf>) -> Self {
            Self { dir: dir.into() }
        }

        /// Where the configuration of `bucket` is kept.
        pub fn path(&self, bucket: &str) -> PathBuf {
            self.dir.join(format!("{bucket}.notification.json"))
        }

        fn exists(&self, bucket: &str) -> bool {
            self.dir.join(bucket).is_dir()
        }
    }

    impl NotificationStore for LocalNotificationStore {
        type Configuration = NotificationConfiguration;

        async fn get(&self, bucket: &str) -> Result<Fetched<NotificationConfiguration>, PortError> {
            if !self.exists(bucket) {
                return Ok(Fetched::BucketGone);
            }
            Ok(Fetched::Found(read_json(&self.path(bucket))?.unwrap_or_default()))
        }

        async fn put(
            &self,
            bucket: &str,
            configuration: &NotificationConfiguration,
            _validate_destinations: bool,
        ) -> Result<Stored, PortError> {
            if !self.exists(bucket) {
                return Ok(Stored::BucketGone);
            }
            let path = self.path(bucket);
            let body = serde_json::to_vec_pretty(configuration).expect("a notification configuration serialises");
            write_atomically(&path, &body).map_err(|e| io_error(format!("write {}", path.display()), e))?;
            Ok(Stored::Written)
        }
    }

    /// Answers CloudFormation on standard output: the body that would be PUT to the
    /// ResponseURL, one JSON line per request.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct StdoutResponseSender;

    impl ResponseSender for StdoutResponseSender {
        async fn send(&self, _response_url: &str, response: &CustomResourceResponse) -> Result<(), PortError> {
            let mut out = std::io::stdout().lock();
            out.write_all(&response.to_body())
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| out.flush())
                .map_err(|e| io_error("write stdout".into(), e))
        }
    }
}

/// The stream basis's legs, filing, queue names and progress as one JSON file,
/// `<dir>/contacts.json`: read at start, held in the in-memory store while the handler runs,
/// written back at the end (the CLI runs one handler at a time).
#[derive(Debug)]
pub struct LocalContactStore {
    path: PathBuf,
    /// The port the handler runs on.
    pub store: MemoryContactStore,
}

impl LocalContactStore {
    /// Reads `<dir>/contacts.json` (an empty store when it does not exist).
    pub fn open(dir: &Path) -> Result<Self, PortError> {
        let path = dir.join("contacts.json");
        let state: Option<ContactState> = read_json(&path)?;
        Ok(Self {
            store: MemoryContactStore::from_state(state.unwrap_or_default()),
            path,
        })
    }

    /// Writes the store back.
    pub fn save(&self) -> Result<(), PortError> {
        let body = serde_json::to_vec(&self.store.state())
            .map_err(|e| io_error(format!("write {}", self.path.display()), e))?;
        write_atomically(&self.path, &body).map_err(|e| io_error(format!("write {}", self.path.display()), e))
    }
}
