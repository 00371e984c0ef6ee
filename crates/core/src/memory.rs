//! In-memory implementations of the ports, for unit and handler tests and benchmarks. They
//! count their calls so tests can assert on round trips.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::agent::AgentState;
use crate::ports::{
    AgentStateStore, ClaimOutcome, ClaimStore, CommitOutcome, FeedSink, ObjectReader, ObjectSource, PortError,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the data from the assertions that follow.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Agent states in a map; counts `load_many` and `commit` calls.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    rows: Mutex<HashMap<String, AgentState>>,
    pub loads: AtomicUsize,
    pub commits: AtomicUsize,
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

    /// Puts a row unconditionally (test set-up, or a racing writer).
    pub fn insert(&self, state: AgentState) {
        lock(&self.rows).insert(state.agent_arn.clone(), state);
    }
}

impl AgentStateStore for MemoryStateStore {
    async fn load_many(&self, agent_arns: &[String]) -> Result<HashMap<String, AgentState>, PortError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let rows = lock(&self.rows);
        Ok(agent_arns
            .iter()
            .filter_map(|arn| rows.get(arn).map(|s| (arn.clone(), s.clone())))
            .collect())
    }

    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        let mut rows = lock(&self.rows);
        match rows.get(&state.agent_arn) {
            Some(stored) if !state.watermark.advances(&stored.watermark) => Ok(CommitOutcome::Superseded),
            _ => {
                rows.insert(state.agent_arn.clone(), state.clone());
                Ok(CommitOutcome::Committed)
            }
        }
    }

    async fn agent_ids_by_login(&self, logins: &[String]) -> Result<HashMap<String, String>, PortError> {
        let rows = lock(&self.rows);
        Ok(rows
            .values()
            .filter_map(|s| {
                s.agent_login
                    .as_ref()
                    .filter(|l| logins.contains(l))
                    .map(|l| (l.clone(), s.agent_id.clone()))
            })
            .collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimStatus {
    InProgress { until: DateTime<Utc> },
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
    async fn claim(&self, claim_id: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, PortError> {
        let mut claims = lock(&self.claims);
        match claims.get(claim_id) {
            Some(ClaimStatus::Completed) => Ok(ClaimOutcome::AlreadyCompleted),
            Some(ClaimStatus::InProgress { until }) if *until > now => Ok(ClaimOutcome::HeldElsewhere),
            _ => {
                claims.insert(
                    claim_id.to_owned(),
                    ClaimStatus::InProgress {
                        until: now + self.in_progress_for,
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

/// Objects in a map keyed by (bucket, key).
#[derive(Debug, Default)]
pub struct MemoryObjectSource {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl MemoryObjectSource {
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        lock(&self.objects).insert((bucket.to_owned(), key.to_owned()), body.into());
    }
}

impl ObjectSource for MemoryObjectSource {
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
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
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), PortError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        lock(&self.objects).insert(key.to_owned(), body);
        Ok(())
    }
}
