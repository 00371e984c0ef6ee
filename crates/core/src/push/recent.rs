//! The states a push process has delivered, per agent: what keeps a snapshot from showing a WFM
//! an older state than one it already took.
//!
//! A snapshot travels in its own message group, apart from the agents' groups, so an agent's
//! transition written just after the sweep read the agent's row can reach the WFM before the
//! snapshot that still shows the state before it; a WFM without timestamps (Calabrio's RTA) would
//! then show the older state until the agent's next change. So before a snapshot is sent, each of
//! its agents whose latest delivered state began after the snapshot's state (`event_time` later
//! than the snapshot record's `since`) and differs from it gets that delivered state instead:
//! what the WFM shows only ever moves along the delivered order. Kept in memory by the process
//! (a warm function remembers its recent deliveries; a cold one sends snapshots as written).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::PushRecord;

/// The latest `agent_state` delivered per agent: (its `event_time`, its `state`).
#[derive(Debug, Default)]
pub struct DeliveredStates {
    latest: HashMap<String, (DateTime<Utc>, String)>,
}

impl DeliveredStates {
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
}
