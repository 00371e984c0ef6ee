//! The last-known state of an agent, as stored between batches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::activity::{OpenSegment, SilencedSegment};

/// WFM activity code of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activity {
    Open,
    Closed,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Open => "Open",
            Activity::Closed => "Closed",
        }
    }
}

/// The contact behind a contact state (`VOICE-INBOUND-CONNECTED`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    pub contact_id: String,
    pub channel: String,
    pub initiation_method: String,
    /// Queue name, else the queue ARN, when the event names one.
    pub queue: Option<String>,
}

/// How far an agent's events have been applied: the latest EventTimestamp and the EventIds
/// seen at exactly that timestamp (usually one) of the events held, i.e. stored (a heartbeat
/// the last-seen throttle does not write moves it neither in the store nor in a batch, see
/// [`crate::agent::fold_agent`]). An event is new when it is later than `at`, or at `at` with
/// an id not in `event_ids`; so two events sharing a millisecond are both applied, and a
/// replay of either is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub at: DateTime<Utc>,
    pub event_ids: Vec<String>,
}

impl Watermark {
    pub fn new(at: DateTime<Utc>, event_id: impl Into<String>) -> Self {
        Self {
            at,
            event_ids: vec![event_id.into()],
        }
    }

    /// True when an event (timestamp, id) has already been applied.
    pub fn covers(&self, at: DateTime<Utc>, event_id: &str) -> bool {
        at < self.at || (at == self.at && self.event_ids.iter().any(|id| id == event_id))
    }

    /// Ordering key used by stores for the conditional write: (milliseconds, ids at that ms).
    pub fn order_key(&self) -> (i64, usize) {
        (self.at.timestamp_millis(), self.event_ids.len())
    }

    /// True when `self` is strictly past `stored`: the commit condition of every store.
    pub fn advances(&self, stored: &Watermark) -> bool {
        self.order_key() > stored.order_key()
    }
}

/// The last-known state of one agent (one row of the agent-state table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Key of the row.
    pub agent_arn: String,
    /// Last segment of the agent ARN.
    pub agent_id: String,
    /// Last segment of the instance ARN.
    pub instance_id: String,
    /// Configuration.Username (personal data: log ids, not this).
    pub agent_login: Option<String>,
    /// WFM event id of the current state (`Available`, `VOICE-INBOUND-CONNECTED`, ...).
    pub state: String,
    pub reason: String,
    pub activity: Activity,
    /// When the current state began.
    pub since: DateTime<Utc>,
    /// The contact of a contact state.
    pub contact: Option<ContactRef>,
    pub watermark: Watermark,
    /// EventTimestamp of the latest event held, of any type: a heartbeat counts when the
    /// last-seen throttle writes it, so this lags the agent's newest event by less than
    /// [`crate::agent::FoldPolicy::last_seen_write_after`] + one heartbeat period.
    pub last_seen: DateTime<Utc>,
    /// Set while the agent is `UNKNOWN` (feed.md rule 5): when the silence began, i.e.
    /// `last_seen` + the silence threshold. `state`, `reason` and `activity` then hold the
    /// mapping's `Unknown` entry; the watermark is the one before the silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<DateTime<Utc>>,
    /// The `silent_since` of the last silence this agent recovered from. The commit condition
    /// compares it with the stored `silent_since`: a batch that loaded the agent before a sweep
    /// marked it `UNKNOWN` cannot overwrite that mark without emitting the recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_silence: Option<DateTime<Utc>>,
    /// While `UNKNOWN`: the clock of the sweep that committed the silence. A sweep re-writes
    /// the `UNKNOWN` records of silences committed in the last [`crate::agent::SILENCE_REWRITE`]
    /// (the same records, ids and objects), so a record whose write failed after its commit is
    /// not lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_at: Option<DateTime<Utc>>,
    /// While `UNKNOWN`: the state it replaced (the record's `previous_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_from: Option<String>,
    /// The open segment of the current state (feed.md `agent_activity`): its effective start and
    /// the transition that opened it; None for a row stored before segments were kept (its
    /// segment then closes without pieces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<OpenSegment>,
    /// While `UNKNOWN`: the segment the silence closed, so its pieces can be written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_segment: Option<SilencedSegment>,
    /// Fingerprint of the last `agent_profile` written ([`crate::agent::ProfileView::fingerprint`]);
    /// None before the first (or while the agent is outside the filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<u64>,
    /// True while the agent is outside the mapping's `agents` filter: it gets no records, the
    /// sweep passes it by, and its state here is only what it was when it left the filter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub excluded: bool,
    /// The newest event time of the agent's instance in the batch that wrote the row: the
    /// instance's progress, carried by the rows a batch writes anyway instead of a write of the
    /// progress item per batch. The sweep reads the listed rows ([`AgentState::is_listed`])
    /// every minute and takes the newest of these with the progress item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_newest: Option<DateTime<Utc>>,
}

impl AgentState {
    /// Ordering key of the commit condition: the watermark's (milliseconds, ids at that
    /// millisecond), then 1 when the state is `UNKNOWN`. The sweep's `UNKNOWN` keeps the
    /// watermark, so it orders just past the state it replaces and before any newer event.
    pub fn commit_key(&self) -> (i64, usize, u8) {
        let (ms, n) = self.watermark.order_key();
        (ms, n, u8::from(self.silent_since.is_some()))
    }

    /// The commit condition of every store: `self` may replace `stored` when it orders past it
    /// ([`AgentState::commit_key`]) and does not erase an `UNKNOWN` mark it has not seen (the
    /// stored silence is not set, or is `self`'s own, or is the one `self` recovered from).
    pub fn may_replace(&self, stored: &AgentState) -> bool {
        self.commit_key() > stored.commit_key()
            && match stored.silent_since {
                None => true,
                Some(since) => self.silent_since == Some(since) || self.last_silence == Some(since),
            }
    }

    /// True while the agent is `UNKNOWN`.
    pub fn is_silent(&self) -> bool {
        self.silent_since.is_some()
    }

    /// True while the row is among the instance's agents the sweep reads (every store's
    /// `active_agents`): not `LOGOUT` and inside the `agents` filter.
    pub fn is_listed(&self) -> bool {
        self.state != LOGGED_OUT && !self.excluded
    }
}

/// `LOGOUT`: the stores leave rows in this state out of the agents they list.
pub const LOGGED_OUT: &str = "LOGOUT";

/// The instance id inside an agent ARN
/// (`arn:aws:connect:<region>:<account>:instance/<instance id>/agent/<agent id>`); None when
/// the text is not shaped like one.
pub fn instance_id_of_agent_arn(agent_arn: &str) -> Option<&str> {
    let (_, path) = agent_arn.split_once(":instance/")?;
    let (instance_id, rest) = path.split_once('/')?;
    (rest.starts_with("agent/") && !instance_id.is_empty()).then_some(instance_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_comes_from_the_agent_arn() {
        let arn = "arn:aws:connect:us-west-2:123456789012:instance/8f2c3e41/agent/62f746b4";
        assert_eq!(instance_id_of_agent_arn(arn), Some("8f2c3e41"));
        assert_eq!(
            instance_id_of_agent_arn("arn:aws:connect:us-west-2:1:instance/8f2c3e41/queue/q"),
            None
        );
        assert_eq!(instance_id_of_agent_arn("agent-1"), None);
    }
}
