//! What an interval's record needs of one enqueued leg ([`LegSummary`]): its queue, its
//! instants, its outcome, its CTR durations and its newest input time. A record is computed from
//! summaries alone, so the store files small summaries under intervals, not whole legs.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::key::{INTERVAL_MINUTES, IntervalKey, interval_start};
use super::leg::{Leg, LegKey, LegOutcome};

/// The durations of a leg's contact record (`None` where the CTR has null).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrDurations {
    /// `Agent.AgentInteractionDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk_s: Option<i64>,
    /// `Agent.CustomerHoldDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_s: Option<i64>,
    /// `Agent.AfterContactWorkDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acw_s: Option<i64>,
}

/// An enqueued leg as its records see it: every accessor gives what [`Leg`]'s of the same name
/// gives (the CTR's value, else the events').
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegSummary {
    /// Connect instance id.
    pub instance_id: String,
    /// ContactId.
    pub contact_id: String,
    /// Queue id.
    pub queue_id: String,
    /// When it entered its queue.
    pub enqueued: DateTime<Utc>,
    /// When it was connected to an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<DateTime<Utc>>,
    /// When it was disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected: Option<DateTime<Utc>>,
    /// A callback or queue-transfer contact continues it out of its queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
    /// Its contact record's durations, once the record arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctr: Option<CtrDurations>,
    /// The newest input time it holds ([`Leg::newest_input`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
}

impl Leg {
    /// The summary of an enqueued leg; `None` for a leg never queued (or not known to be yet),
    /// which no record counts.
    pub fn summary(&self) -> Option<LegSummary> {
        let (queue_id, enqueued) = self.queued()?;
        Some(LegSummary {
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
            queue_id,
            enqueued,
            connected: self.connected_at(),
            disconnected: self.disconnected_at(),
            continued: !self.successors.is_empty(),
            ctr: self.ctr.as_ref().map(|c| CtrDurations {
                talk_s: c.talk_s,
                hold_s: c.hold_s,
                acw_s: c.acw_s,
            }),
            newest: self.newest_input(),
        })
    }
}

impl LegSummary {
    /// Its leg's key.
    pub fn key(&self) -> LegKey {
        LegKey {
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
        }
    }

    /// Where the leg stands ([`Leg::outcome`]).
    pub fn outcome(&self) -> LegOutcome {
        if self.connected.is_some() {
            LegOutcome::Handled
        } else if self.disconnected.is_none() {
            LegOutcome::Waiting
        } else if self.continued {
            LegOutcome::TransferredOut
        } else {
            LegOutcome::Abandoned
        }
    }

    /// When it left the queue: connected to an agent, else disconnected.
    pub fn left_queue_at(&self) -> Option<DateTime<Utc>> {
        self.connected.or(self.disconnected)
    }

    /// In its queue now, as far as the inputs tell: neither connected nor disconnected.
    pub fn is_waiting(&self) -> bool {
        self.left_queue_at().is_none()
    }

    /// The interval holding its disconnect ([`Leg::pegged_interval`]).
    pub fn pegged_interval(&self) -> Option<IntervalKey> {
        Some(IntervalKey {
            instance_id: self.instance_id.clone(),
            queue_id: self.queue_id.clone(),
            interval_start: interval_start(self.disconnected?),
        })
    }

    /// Whether it was waiting at `end` ([`Leg::waiting_at`]).
    pub fn waiting_at(&self, end: DateTime<Utc>) -> bool {
        self.enqueued < end && self.connected.is_none_or(|t| t >= end) && self.disconnected.is_none_or(|t| t >= end)
    }

    /// Every interval whose record it contributes to at `clock` ([`Leg::intervals`]).
    pub fn intervals(&self, clock: DateTime<Utc>) -> Vec<IntervalKey> {
        let mut keys = Vec::new();
        let step = TimeDelta::minutes(INTERVAL_MINUTES.into());
        let last_end = self.left_queue_at().map_or(clock, |left| left.min(clock));
        let mut end = interval_start(self.enqueued) + step;
        while end <= last_end {
            if self.waiting_at(end) {
                keys.push(IntervalKey {
                    instance_id: self.instance_id.clone(),
                    queue_id: self.queue_id.clone(),
                    interval_start: end - step,
                });
            }
            end += step;
        }
        if let Some(pegged) = self.pegged_interval() {
            if !keys.contains(&pegged) {
                keys.push(pegged);
            }
        }
        keys
    }
}
