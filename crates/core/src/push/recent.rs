//! The states a push process has delivered, per agent: what keeps a snapshot from showing a WFM
//! an older state than one it already took.
//!
//! A snapshot travels in its own message group, apart from the agents' groups, so an agent's
//! transition written just after the sweep read the agent's row can reach the WFM before the
//! snapshot that still shows the state before it; a WFM without timestamps (Calabrio's RTA) would
//! then show the older state until the agent's next change. So before a snapshot is sent, each of
//! its agents whose latest delivered state began after the snapshot's state (`event_time` later
//! than the snapshot record's `since`) and differs from it gets that delivered state instead:
//! what the WFM shows only ever moves along the delivered order.
//!
//! Kept in memory by the process, for [`KEPT_FOR`]; the function also keeps it in a
//! [`DeliveredStore`] (one small object per target), so a cold start begins with what the last
//! process delivered instead of nothing.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::PushRecord;
use crate::ports::PortError;

/// How long a delivered state is remembered: a snapshot is never older than a few minutes.
pub const KEPT_FOR: TimeDelta = TimeDelta::hours(2);

/// The version of the stored form ([`DeliveredStates::to_json`]).
const SCHEMA: u32 = 1;

/// The latest `agent_state` delivered per agent: (its `event_time`, its `state`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveredStates {
    latest: HashMap<String, (DateTime<Utc>, String)>,
}

/// The stored form: `{"schema":1,"agents":{"<agent_id>":{"state":…,"event_time":…}}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    schema: u32,
    agents: BTreeMap<String, StoredState>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredState {
    state: String,
    #[serde(with = "crate::timefmt::serde_feed_time")]
    event_time: DateTime<Utc>,
}

/// A stored memory that cannot be read (not the stored form, or another schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a memory of delivered states: {0}")]
pub struct NotAMemory(pub String);

impl DeliveredStates {
    /// How many agents are remembered.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// True when no agent is remembered.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The stored form of what was delivered within [`KEPT_FOR`] before `now` (older entries
    /// are dropped), agents in order.
    pub fn to_json(&self, now: DateTime<Utc>) -> Vec<u8> {
        let since = now - KEPT_FOR;
        let agents = self
            .latest
            .iter()
            .filter(|(_, (at, _))| *at >= since)
            .map(|(agent, (at, state))| {
                let stored = StoredState {
                    state: state.clone(),
                    event_time: *at,
                };
                (agent.clone(), stored)
            })
            .collect();
        serde_json::to_vec(&Stored { schema: SCHEMA, agents }).expect("a memory serialises")
    }

    /// Reads the stored form back.
    pub fn from_json(bytes: &[u8]) -> Result<Self, NotAMemory> {
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| NotAMemory(e.to_string()))?;
        if stored.schema != SCHEMA {
            return Err(NotAMemory(format!(
                "schema {} (this version reads {SCHEMA})",
                stored.schema
            )));
        }
        let latest = stored
            .agents
            .into_iter()
            .map(|(agent, s)| (agent, (s.event_time, s.state)))
            .collect();
        Ok(Self { latest })
    }

    /// Notes a record the WFM took (only `agent_state` records with a time count).
    pub fn delivered(&mut self, record: &PushRecord) {
        let (Some(agent), Some(state), Some(at)) = (&record.agent_id, &record.state, record.event_time) else {
            return;
        };
        if record.kind != "agent_state" {
            return;
        }
        match self.latest.get_mut(agent) {
            Some(latest) if latest.0 > at => {}
            Some(latest) => *latest = (at, state.clone()),
            None => {
                self.latest.insert(agent.clone(), (at, state.clone()));
            }
        }
    }

    /// The snapshot record as it must be sent: with the agent's latest delivered state when that
    /// began after the record's state and differs from it (None: send it as written).
    pub fn patched(&self, record: &PushRecord) -> Option<PushRecord> {
        if !record.is_snapshot() {
            return None;
        }
        let (agent, state, since) = (record.agent_id.as_ref()?, record.state.as_ref()?, record.since?);
        let (at, delivered) = self.latest.get(agent)?;
        if *at <= since || delivered == state {
            return None;
        }
        let mut line: serde_json::Value = serde_json::from_str(&record.line).ok()?;
        line["state"] = serde_json::Value::String(delivered.clone());
        line["since"] = serde_json::Value::String(crate::timefmt::feed_timestamp(at));
        Some(PushRecord {
            state: Some(delivered.clone()),
            since: Some(*at),
            line: line.to_string(),
            ..record.clone()
        })
    }

    /// Forgets what was delivered before `at` (a snapshot is never older than a few minutes).
    pub fn forget_before(&mut self, at: DateTime<Utc>) {
        self.latest.retain(|_, (delivered_at, _)| *delivered_at >= at);
    }
}

/// Where a push process keeps its [`DeliveredStates`] between processes: read once at a cold
/// start, written after a run that delivered something.
pub trait DeliveredStore: Send + Sync {
    /// What was kept; nothing kept yet is an empty memory, not an error.
    fn load(&self) -> impl Future<Output = Result<DeliveredStates, PortError>> + Send;
    /// Keeps `delivered` as of `now` (replacing what was kept), without what is older than
    /// [`KEPT_FOR`].
    fn save(
        &self,
        delivered: &DeliveredStates,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(value: serde_json::Value) -> PushRecord {
        PushRecord::parse(&value.to_string()).unwrap()
    }

    fn state(agent: &str, state: &str, at: &str) -> PushRecord {
        record(json!({"kind": "agent_state", "agent_id": agent, "state": state, "event_time": at, "since": at}))
    }

    fn snapshot(agent: &str, state: &str, since: &str) -> PushRecord {
        record(
            json!({"kind": "agent_snapshot", "agent_id": agent, "state": state, "since": since,
                      "as_of": "2026-11-20T10:15:00.000Z"}),
        )
    }

    #[test]
    fn a_snapshot_never_shows_a_state_older_than_one_delivered() {
        let mut delivered = DeliveredStates::default();
        delivered.delivered(&state("a", "Break", "2026-11-20T10:15:06.000Z"));
        delivered.delivered(&state("b", "Available", "2026-11-20T10:05:00.000Z"));
        // The sweep read a's row before its Break was committed: the snapshot says Available.
        let patched = delivered
            .patched(&snapshot("a", "Available", "2026-11-20T10:00:00.000Z"))
            .expect("the newer delivered state");
        assert_eq!(patched.state.as_deref(), Some("Break"));
        let line: serde_json::Value = serde_json::from_str(&patched.line).unwrap();
        assert_eq!(
            (line["state"].as_str(), line["kind"].as_str()),
            (Some("Break"), Some("agent_snapshot"))
        );
        // b's snapshot state began after b's last delivered state: newer, sent as written.
        assert_eq!(
            delivered.patched(&snapshot("b", "Lunch", "2026-11-20T10:10:00.000Z")),
            None
        );
        // The same state, or an agent never delivered: as written.
        assert_eq!(
            delivered.patched(&snapshot("b", "Available", "2026-11-20T10:00:00.000Z")),
            None
        );
        assert_eq!(
            delivered.patched(&snapshot("c", "Available", "2026-11-20T10:00:00.000Z")),
            None
        );
        // An older delivery never replaces a newer one.
        delivered.delivered(&state("a", "Available", "2026-11-20T10:15:01.000Z"));
        let patched = delivered
            .patched(&snapshot("a", "Available", "2026-11-20T10:00:00.000Z"))
            .unwrap();
        assert_eq!(patched.state.as_deref(), Some("Break"));
        delivered.forget_before("2026-11-20T11:00:00Z".parse().unwrap());
        assert_eq!(
            delivered.patched(&snapshot("a", "Available", "2026-11-20T10:00:00.000Z")),
            None
        );
    }

    #[test]
    fn the_stored_form_reads_back_the_same_and_drops_what_is_past_the_memory() {
        let mut delivered = DeliveredStates::default();
        delivered.delivered(&state("a", "Break", "2026-11-20T10:15:06.250Z"));
        delivered.delivered(&state("b", "Available", "2026-11-20T08:14:00.000Z"));
        delivered.delivered(&state("c", "Lunch", "2026-11-20T08:16:00.000Z"));
        let now: DateTime<Utc> = "2026-11-20T10:15:30Z".parse().unwrap();
        let bytes = delivered.to_json(now);
        let stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            stored,
            json!({"schema": 1, "agents": {
                "a": {"state": "Break", "event_time": "2026-11-20T10:15:06.250Z"},
                "c": {"state": "Lunch", "event_time": "2026-11-20T08:16:00.000Z"}
            }}),
            "b's state is older than two hours: dropped"
        );
        let read = DeliveredStates::from_json(&bytes).unwrap();
        assert_eq!(read.len(), 2);
        let mut expected = delivered.clone();
        expected.forget_before(now - KEPT_FOR);
        assert_eq!(read, expected);
        // What it was kept for: a snapshot still showing a's older state gets the delivered one.
        let patched = read
            .patched(&snapshot("a", "Available", "2026-11-20T10:00:00.000Z"))
            .unwrap();
        assert_eq!(patched.state.as_deref(), Some("Break"));
        assert_eq!(patched.since, Some("2026-11-20T10:15:06.250Z".parse().unwrap()));
    }

    #[test]
    fn a_stored_form_that_cannot_be_read_is_an_error_not_a_memory() {
        assert!(DeliveredStates::from_json(b"{oops").is_err());
        assert!(DeliveredStates::from_json(br#"{"schema":2,"agents":{}}"#).is_err());
        assert!(DeliveredStates::from_json(br#"{"schema":1,"agents":{"a":{"state":"X"}}}"#).is_err());
        let empty = DeliveredStates::from_json(br#"{"schema":1,"agents":{}}"#).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            DeliveredStates::default().to_json(Utc::now()),
            br#"{"schema":1,"agents":{}}"#
        );
    }
}
