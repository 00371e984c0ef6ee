//! One contact leg (one ContactId, in the queue it was enqueued in), merged from whatever of
//! its contact events and contact record (CTR) have arrived.
//!
//! A [`Leg`] is a join-semilattice: [`Leg::merge`] is commutative, associative and idempotent,
//! so any permutation or duplication of the same inputs gives the same leg, and a leg stored
//! after one batch and merged with the next gives what one big batch would. Each fact is kept
//! with the [`Stamp`] of the input that said it, and the merge keeps, field by field, the fact of
//! the greatest stamp:
//!
//! - contact events: per field, the newest event that carries the field (EventBridge `time`,
//!   then event `id`), since Connect's events repeat every timestamp known so far;
//! - the CTR: the copy with the newest `LastUpdateTimestamp` replaces older copies whole;
//! - a CTR's value of a field wins over the events' (Connect's own metrics, and so the report
//!   basis, come from the CTR); the events' value stands in while the CTR has none.
//!
//! A contact that continues this one out of its queue (its `previousContactId` is this leg and
//! it was initiated as `CALLBACK` or `QUEUE_TRANSFER`) is recorded on this leg as a successor,
//! so the interval maths needs only the legs of one queue (see [`ContactInput::leg_patches`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ctr::ContactRecord;
use super::event::{ContactEvent, last_segment};
use super::key::IntervalKey;
use crate::agent::AgentEvent;

/// Initiation methods of a contact that takes its predecessor out of the queue unanswered.
pub const SUCCESSOR_METHODS: [&str; 2] = ["CALLBACK", "QUEUE_TRANSFER"];

/// Which input said a fact: its time (EventBridge `time`, CTR `LastUpdateTimestamp`, agent
/// event `EventTimestamp`) and its id (event id; contact id for a CTR). Orders facts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// When the input was emitted.
    pub time: DateTime<Utc>,
    /// Breaks ties between inputs of the same time.
    pub id: String,
}

/// A value and the stamp of the input it came from. Ordered by stamp, then value, so two
/// different values never tie.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fact<T> {
    /// Who said it.
    pub stamp: Stamp,
    /// What was said.
    pub value: T,
}

/// Keeps the greater of two optional facts; true when `into` changed.
fn join<T: Ord + Clone>(into: &mut Option<T>, other: &Option<T>) -> bool {
    match (into.as_ref(), other) {
        (_, None) => false,
        (Some(current), Some(new)) if current >= new => false,
        (_, Some(new)) => {
            *into = Some(new.clone());
            true
        }
    }
}

/// What the contact events of a leg said, each field from the newest event carrying it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFacts {
    /// `queueInfo.queueArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<Fact<String>>,
    /// `queueInfo.enqueueTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enqueued: Option<Fact<DateTime<Utc>>>,
    /// `agentInfo.connectedToAgentTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<Fact<DateTime<Utc>>>,
    /// `disconnectTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected: Option<Fact<DateTime<Utc>>>,
    /// `initiationMethod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation_method: Option<Fact<String>>,
    /// `initiationTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated: Option<Fact<DateTime<Utc>>>,
    /// `previousContactId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_contact_id: Option<Fact<String>>,
    /// `channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Fact<String>>,
    /// The newest EventBridge `time` among the leg's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
}

impl EventFacts {
    fn merge(&mut self, other: &EventFacts) -> bool {
        // Every join runs (no short-circuit): `|` on bools.
        join(&mut self.queue_arn, &other.queue_arn)
            | join(&mut self.enqueued, &other.enqueued)
            | join(&mut self.connected, &other.connected)
            | join(&mut self.disconnected, &other.disconnected)
            | join(&mut self.initiation_method, &other.initiation_method)
            | join(&mut self.initiated, &other.initiated)
            | join(&mut self.previous_contact_id, &other.previous_contact_id)
            | join(&mut self.channel, &other.channel)
            | join(&mut self.newest, &other.newest)
    }

    fn from_event(event: &ContactEvent) -> Self {
        let stamp = Stamp {
            time: event.time,
            id: event.id.clone(),
        };
        fn fact<T: Clone>(stamp: &Stamp, value: &Option<T>) -> Option<Fact<T>> {
            value.as_ref().map(|value| Fact {
                stamp: stamp.clone(),
                value: value.clone(),
            })
        }
        Self {
            queue_arn: fact(&stamp, &event.queue_arn),
            enqueued: fact(&stamp, &event.enqueue_timestamp),
            connected: fact(&stamp, &event.connected_to_agent_timestamp),
            disconnected: fact(&stamp, &event.disconnect_timestamp),
            initiation_method: fact(&stamp, &event.initiation_method),
            initiated: fact(&stamp, &event.initiation_timestamp),
            previous_contact_id: fact(&stamp, &event.previous_contact_id),
            channel: fact(&stamp, &event.channel),
            newest: Some(event.time),
        }
    }
}

/// What the newest copy of the leg's contact record said.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CtrFacts {
    /// `LastUpdateTimestamp`: first, so the derived order puts the newest copy last.
    pub last_update: DateTime<Utc>,
    /// `Queue.ARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
    /// `Queue.EnqueueTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enqueued: Option<DateTime<Utc>>,
    /// `Agent.ConnectedToAgentTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<DateTime<Utc>>,
    /// `DisconnectTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected: Option<DateTime<Utc>>,
    /// `InitiationMethod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation_method: Option<String>,
    /// `InitiationTimestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated: Option<DateTime<Utc>>,
    /// `PreviousContactId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_contact_id: Option<String>,
    /// `Channel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `Agent.AgentInteractionDuration` (null in the CTR → `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk_s: Option<i64>,
    /// `Agent.CustomerHoldDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_s: Option<i64>,
    /// `Agent.AfterContactWorkDuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acw_s: Option<i64>,
}

impl CtrFacts {
    fn from_record(record: &ContactRecord) -> Self {
        let queue = record.queue.as_ref();
        let agent = record.agent.as_ref();
        Self {
            last_update: record.last_update_timestamp,
            queue_arn: queue.and_then(|q| q.arn.clone()),
            enqueued: queue.and_then(|q| q.enqueue_timestamp),
            connected: agent.and_then(|a| a.connected_to_agent_timestamp),
            disconnected: record.disconnect_timestamp,
            initiation_method: record.initiation_method.clone(),
            initiated: record.initiation_timestamp,
            previous_contact_id: record.previous_contact_id.clone(),
            channel: record.channel.clone(),
            talk_s: agent.and_then(|a| a.agent_interaction_duration),
            hold_s: agent.and_then(|a| a.customer_hold_duration),
            acw_s: agent.and_then(|a| a.after_contact_work_duration),
        }
    }
}

/// Identifies a leg: the instance and the contact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LegKey {
    /// Connect instance id.
    pub instance_id: String,
    /// ContactId.
    pub contact_id: String,
}

/// Where an enqueued leg stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegOutcome {
    /// Neither connected to an agent nor disconnected (as far as the inputs tell).
    Waiting,
    /// Connected to an agent (whatever happened after: an agent transfer stays handled).
    Handled,
    /// Disconnected unanswered, continued by a callback or queue-transfer contact.
    TransferredOut,
    /// Disconnected unanswered, with no such successor (yet).
    Abandoned,
}

/// One contact leg: the merged facts of its inputs. Serialisable as is, for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// Connect instance id.
    pub instance_id: String,
    /// ContactId.
    pub contact_id: String,
    /// What the contact events said.
    #[serde(default)]
    pub events: EventFacts,
    /// The newest contact record copy, when one arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctr: Option<CtrFacts>,
    /// Contacts that continue this one out of its queue (callback, queue transfer): contact id
    /// → the successor's initiation time (else the time of the input that named it; the newest
    /// kept).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub successors: BTreeMap<String, DateTime<Utc>>,
}

impl Leg {
    /// A leg that knows nothing yet.
    pub fn new(key: LegKey) -> Self {
        Self {
            instance_id: key.instance_id,
            contact_id: key.contact_id,
            events: EventFacts::default(),
            ctr: None,
            successors: BTreeMap::new(),
        }
    }

    /// Its key.
    pub fn key(&self) -> LegKey {
        LegKey {
            instance_id: self.instance_id.clone(),
            contact_id: self.contact_id.clone(),
        }
    }

    /// Merges what `other` knows about the same contact into this leg; true when anything
    /// changed (then the leg must be stored and its intervals recomputed). Commutative,
    /// associative and idempotent. `other` must have the same key (a different one is a caller
    /// bug: nothing is merged and false returned).
    pub fn merge(&mut self, other: &Leg) -> bool {
        if self.instance_id != other.instance_id || self.contact_id != other.contact_id {
            return false;
        }
        let mut changed = self.events.merge(&other.events);
        changed |= join(&mut self.ctr, &other.ctr);
        for (successor, at) in &other.successors {
            match self.successors.get_mut(successor) {
                Some(current) if *current >= *at => {}
                Some(current) => {
                    *current = *at;
                    changed = true;
                }
                None => {
                    self.successors.insert(successor.clone(), *at);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Whether this leg says nothing a record reads: not queued, connected or disconnected as
    /// far as it tells, no contact record, no successor (a record reads a leg's
    /// [`LegSummary`] only). See [`ContactInput::stored_patches`].
    ///
    /// [`LegSummary`]: super::LegSummary
    pub fn is_bare(&self) -> bool {
        let e = &self.events;
        self.ctr.is_none()
            && self.successors.is_empty()
            && e.queue_arn.is_none()
            && e.enqueued.is_none()
            && e.connected.is_none()
            && e.disconnected.is_none()
    }

    /// Whether this leg already holds everything `other` says (merging it would change
    /// nothing): an input whose patch a stored leg holds was merged into it before, by this
    /// input's earlier delivery or by newer inputs that say the same and more.
    pub fn holds(&self, other: &Leg) -> bool {
        !self.clone().merge(other)
    }

    /// The CTR's value, else the events'.
    fn pick<T: Clone>(&self, from_ctr: impl Fn(&CtrFacts) -> Option<T>, from_events: &Option<Fact<T>>) -> Option<T> {
        self.ctr
            .as_ref()
            .and_then(from_ctr)
            .or_else(|| from_events.as_ref().map(|f| f.value.clone()))
    }

    /// The queue's ARN.
    pub fn queue_arn(&self) -> Option<String> {
        self.pick(|c| c.queue_arn.clone(), &self.events.queue_arn)
    }

    /// The queue id: last segment of the queue's ARN.
    pub fn queue_id(&self) -> Option<String> {
        self.queue_arn().map(|arn| last_segment(&arn).to_owned())
    }

    /// When the leg entered its queue.
    pub fn enqueued_at(&self) -> Option<DateTime<Utc>> {
        self.pick(|c| c.enqueued, &self.events.enqueued)
    }

    /// When it was connected to an agent.
    pub fn connected_at(&self) -> Option<DateTime<Utc>> {
        self.pick(|c| c.connected, &self.events.connected)
    }

    /// When it was disconnected.
    pub fn disconnected_at(&self) -> Option<DateTime<Utc>> {
        self.pick(|c| c.disconnected, &self.events.disconnected)
    }

    /// How it was initiated (`INBOUND`, `CALLBACK`, ...).
    pub fn initiation_method(&self) -> Option<String> {
        self.pick(|c| c.initiation_method.clone(), &self.events.initiation_method)
    }

    /// The contact it continues.
    pub fn previous_contact_id(&self) -> Option<String> {
        self.pick(|c| c.previous_contact_id.clone(), &self.events.previous_contact_id)
    }

    /// Whether its contact record has arrived.
    pub fn has_ctr(&self) -> bool {
        self.ctr.is_some()
    }

    /// The (queue id, enqueue time) of an enqueued leg; `None` for a leg never queued (an
    /// outbound call, a contact that left in the flow) or not known to be yet.
    pub fn queued(&self) -> Option<(String, DateTime<Utc>)> {
        Some((self.queue_id()?, self.enqueued_at()?))
    }

    /// Where the leg stands (for an enqueued leg).
    pub fn outcome(&self) -> LegOutcome {
        if self.connected_at().is_some() {
            LegOutcome::Handled
        } else if self.disconnected_at().is_none() {
            LegOutcome::Waiting
        } else if self.successors.is_empty() {
            LegOutcome::Abandoned
        } else {
            LegOutcome::TransferredOut
        }
    }

    /// When it left the queue: connected to an agent, else disconnected.
    pub fn left_queue_at(&self) -> Option<DateTime<Utc>> {
        self.connected_at().or_else(|| self.disconnected_at())
    }

    /// The interval the leg is pegged to: the one holding its disconnect, for an enqueued leg.
    pub fn pegged_interval(&self) -> Option<IntervalKey> {
        self.summary()?.pegged_interval()
    }

    /// Whether the leg was waiting in its queue at `end`: enqueued before it, neither connected
    /// nor disconnected before it (intervals are half-open, so what happens at `end` belongs to
    /// the next interval and the leg still counts as waiting at this one's end).
    pub fn waiting_at(&self, end: DateTime<Utc>) -> bool {
        self.summary().is_some_and(|s| s.waiting_at(end))
    }

    /// Every interval whose record this leg contributes to at `clock`: the one it is pegged
    /// to, and each one that has ended by the clock with the leg waiting at its end. A handler
    /// recomputes the union of these before and after a merge.
    pub fn intervals(&self, clock: DateTime<Utc>) -> Vec<IntervalKey> {
        self.summary().map(|s| s.intervals(clock)).unwrap_or_default()
    }

    /// The newest input time this leg holds: EventBridge `time`, CTR `LastUpdateTimestamp`,
    /// successors' times (they decide between abandoned and transferred out).
    pub fn newest_input(&self) -> Option<DateTime<Utc>> {
        [
            self.events.newest,
            self.ctr.as_ref().map(|c| c.last_update),
            self.successors.values().max().copied(),
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// One decoded input of the stream basis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactInput {
    /// A contact event (EventBridge).
    Event(ContactEvent),
    /// A contact record (CTR).
    Record(ContactRecord),
}

impl ContactInput {
    /// The leg patches this input makes: its own contact's leg (none for an event type that
    /// carries nothing the connector reads), and, when the contact was initiated as a callback
    /// or queue transfer of a previous contact, that contact's leg with this one as successor.
    /// Merge each into the stored leg of the same key ([`Leg::merge`]).
    pub fn leg_patches(&self) -> Vec<Leg> {
        let mut patches = Vec::with_capacity(2);
        let (instance_id, contact_id, method, previous, successor_at) = match self {
            ContactInput::Event(event) => {
                if !event.event_type.is_known() {
                    return patches;
                }
                let mut leg = Leg::new(LegKey {
                    instance_id: event.instance_id().to_owned(),
                    contact_id: event.contact_id.clone(),
                });
                leg.events = EventFacts::from_event(event);
                patches.push(leg);
                (
                    event.instance_id(),
                    &event.contact_id,
                    event.initiation_method.as_deref(),
                    event.previous_contact_id.as_deref(),
                    event.initiation_timestamp.unwrap_or(event.time),
                )
            }
            ContactInput::Record(record) => {
                let mut leg = Leg::new(LegKey {
                    instance_id: record.instance_id().to_owned(),
                    contact_id: record.contact_id.clone(),
                });
                leg.ctr = Some(CtrFacts::from_record(record));
                patches.push(leg);
                (
                    record.instance_id(),
                    &record.contact_id,
                    record.initiation_method.as_deref(),
                    record.previous_contact_id.as_deref(),
                    record.initiation_timestamp.unwrap_or(record.last_update_timestamp),
                )
            }
        };
        if let (Some(method), Some(previous)) = (method, previous) {
            if SUCCESSOR_METHODS.contains(&method) && previous != contact_id.as_str() {
                let mut predecessor = Leg::new(LegKey {
                    instance_id: instance_id.to_owned(),
                    contact_id: previous.to_owned(),
                });
                predecessor.successors.insert(contact_id.clone(), successor_at);
                patches.push(predecessor);
            }
        }
        patches
    }

    /// The patches a store keeps: [`ContactInput::leg_patches`] without the bare own patch of an
    /// `INITIATED` event ([`Leg::is_bare`]: the contact not yet queued). Nothing a record reads
    /// is lost — its initiation facts are repeated by every later event of the contact, which
    /// Connect sends with every timestamp known so far, and INITIATED is the contact's first
    /// event, so its time is never the newest a record's `as_of` takes — and a write per contact
    /// is saved. (Other events are kept whole: a CONTACT_DATA_UPDATED may be a contact's newest.)
    pub fn stored_patches(&self) -> Vec<Leg> {
        self.stored_of(self.leg_patches())
    }

    /// [`ContactInput::stored_patches`] of this input's `patches` ([`ContactInput::leg_patches`]),
    /// for a caller that has them already.
    pub fn stored_of(&self, mut patches: Vec<Leg>) -> Vec<Leg> {
        if matches!(self, ContactInput::Event(e) if e.event_type == super::ContactEventType::Initiated) {
            patches.retain(|p| !p.is_bare());
        }
        patches
    }

    /// Queue names this input teaches (a CTR's `Queue.ARN` → `Queue.Name`).
    pub fn queue_names(&self) -> Vec<(String, Fact<String>)> {
        match self {
            ContactInput::Record(record) => record
                .queue
                .as_ref()
                .and_then(|q| Some((q.arn.clone()?, q.name.clone()?)))
                .map(|(arn, name)| {
                    let stamp = Stamp {
                        time: record.last_update_timestamp,
                        id: record.contact_id.clone(),
                    };
                    (arn, Fact { stamp, value: name })
                })
                .into_iter()
                .collect(),
            ContactInput::Event(_) => Vec::new(),
        }
    }

    /// The input's own time: EventBridge `time` or CTR `LastUpdateTimestamp`.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            ContactInput::Event(e) => e.time,
            ContactInput::Record(r) => r.last_update_timestamp,
        }
    }
}

/// What a batch changed: the legs to store and the interval records to recompute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Legs that changed.
    pub legs: BTreeSet<LegKey>,
    /// Interval records those legs touch, before or after the change.
    pub intervals: BTreeSet<IntervalKey>,
}

/// Queue names learned from CTRs and agent events, by (instance id, queue id); a rename is
/// learned from the newest input. Merging is order-free like a leg's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueNames {
    /// `<instance id>/<queue id>` → name.
    names: BTreeMap<String, Fact<String>>,
}

fn queue_name_key(instance_id: &str, queue_id: &str) -> String {
    format!("{instance_id}/{queue_id}")
}

/// The instance id in a queue ARN (`...:instance/<id>/queue/<queue id>`).
fn instance_of_queue_arn(arn: &str) -> Option<&str> {
    let (before, _) = arn.rsplit_once("/queue/")?;
    Some(last_segment(before))
}

impl QueueNames {
    /// Learns `name` for the queue `queue_arn` from an input stamped `stamp`; true when the
    /// name of the queue changed. An ARN without `/queue/` is ignored.
    pub fn learn(&mut self, queue_arn: &str, name: Fact<String>) -> bool {
        let Some(instance_id) = instance_of_queue_arn(queue_arn) else {
            return false;
        };
        if name.value.trim().is_empty() {
            return false;
        }
        let key = queue_name_key(instance_id, last_segment(queue_arn));
        let mut slot = self.names.get(&key).cloned();
        let changed = join(&mut slot, &Some(name));
        if let Some(fact) = slot {
            self.names.insert(key, fact);
        }
        changed
    }

    /// Learns the queue names an agent event's current snapshot shows (Contacts[].Queue).
    pub fn learn_from_agent_event(&mut self, event: &AgentEvent) -> bool {
        let mut changed = false;
        for contact in event.current.iter().flat_map(|s| &s.contacts) {
            if let Some(queue) = &contact.queue {
                if let (Some(arn), Some(name)) = (&queue.arn, &queue.name) {
                    let stamp = Stamp {
                        time: event.event_timestamp,
                        id: event.event_id.clone(),
                    };
                    changed |= self.learn(
                        arn,
                        Fact {
                            stamp,
                            value: name.clone(),
                        },
                    );
                }
            }
        }
        changed
    }

    /// Merges names learned elsewhere (another batch, the store).
    pub fn merge(&mut self, other: &QueueNames) -> bool {
        let mut changed = false;
        for (key, fact) in &other.names {
            let mut slot = self.names.get(key).cloned();
            if join(&mut slot, &Some(fact.clone())) {
                self.names.insert(key.clone(), fact.clone());
                changed = true;
            }
        }
        changed
    }

    /// Learns `name` for the queue `queue_id` of instance `instance_id` (a stored name read
    /// back); true when the name changed.
    pub fn learn_by_id(&mut self, instance_id: &str, queue_id: &str, name: Fact<String>) -> bool {
        if name.value.trim().is_empty() {
            return false;
        }
        let key = queue_name_key(instance_id, queue_id);
        let mut slot = self.names.get(&key).cloned();
        let changed = join(&mut slot, &Some(name));
        if let Some(fact) = slot {
            self.names.insert(key, fact);
        }
        changed
    }

    /// Every learned name: (instance id, queue id, name with the stamp of its input).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &Fact<String>)> {
        self.names.iter().filter_map(|(key, fact)| {
            let (instance_id, queue_id) = key.split_once('/')?;
            Some((instance_id, queue_id, fact))
        })
    }

    /// The name of a queue, if learned.
    pub fn name(&self, instance_id: &str, queue_id: &str) -> Option<&str> {
        self.names
            .get(&queue_name_key(instance_id, queue_id))
            .map(|f| f.value.as_str())
    }
}

/// Legs and queue names held in memory (the CLI, tests, the simulator): the same merges a
/// handler does against its store, one input at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegBook {
    /// Every leg, by key (stored as a list: JSON keys are strings).
    #[serde(with = "legs_as_list")]
    pub legs: BTreeMap<LegKey, Leg>,
    /// Queue names learned.
    pub names: QueueNames,
    /// The newest input time processed (the clock of `connect-wfm intervals`).
    pub newest_input: Option<DateTime<Utc>>,
}

impl LegBook {
    /// Merges one input; returns the keys of the legs that changed.
    pub fn apply(&mut self, input: &ContactInput) -> Vec<LegKey> {
        let mut changed = Vec::new();
        let patches = input.leg_patches();
        // Only inputs that count move the clock (an unknown event type carries nothing).
        if !patches.is_empty() {
            self.newest_input = self.newest_input.max(Some(input.time()));
        }
        for patch in patches {
            let key = patch.key();
            let leg = self.legs.entry(key.clone()).or_insert_with(|| Leg::new(key.clone()));
            if leg.merge(&patch) {
                changed.push(key);
            }
        }
        for (arn, name) in input.queue_names() {
            self.names.learn(&arn, name);
        }
        changed
    }

    /// A book holding stored legs and names (a handler loads the legs of
    /// [`ContactInput::leg_patches`]' keys, merges, stores the changed ones).
    pub fn from_legs(legs: impl IntoIterator<Item = Leg>, names: QueueNames) -> Self {
        let mut book = Self {
            names,
            ..Self::default()
        };
        for leg in legs {
            book.legs
                .entry(leg.key())
                .or_insert_with(|| Leg::new(leg.key()))
                .merge(&leg);
        }
        book
    }

    /// Merges a batch of inputs: returns the legs that changed and every interval record they
    /// touch at `clock`, before or after the merge (a leg whose peg or waiting changed leaves
    /// one record and enters another: both must be recomputed).
    pub fn merge_inputs<'a>(
        &mut self,
        inputs: impl IntoIterator<Item = &'a ContactInput>,
        clock: DateTime<Utc>,
    ) -> Changes {
        let mut changes = Changes::default();
        let mut before: BTreeMap<LegKey, Vec<IntervalKey>> = BTreeMap::new();
        for input in inputs {
            for patch in input.leg_patches() {
                let key = patch.key();
                if !before.contains_key(&key) {
                    let touched = self.legs.get(&key).map(|leg| leg.intervals(clock)).unwrap_or_default();
                    before.insert(key.clone(), touched);
                }
            }
            changes.legs.extend(self.apply(input));
        }
        for key in &changes.legs {
            changes.intervals.extend(before.remove(key).unwrap_or_default());
            if let Some(leg) = self.legs.get(key) {
                changes.intervals.extend(leg.intervals(clock));
            }
        }
        changes
    }

    /// Merges another book (another run's state) into this one.
    pub fn merge(&mut self, other: &LegBook) {
        for (key, leg) in &other.legs {
            self.legs
                .entry(key.clone())
                .or_insert_with(|| Leg::new(key.clone()))
                .merge(leg);
        }
        self.names.merge(&other.names);
        self.newest_input = self.newest_input.max(other.newest_input);
    }
}

mod legs_as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Leg, LegKey};

    pub fn serialize<S: Serializer>(legs: &BTreeMap<LegKey, Leg>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(legs.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<LegKey, Leg>, D::Error> {
        let list = Vec::<Leg>::deserialize(d)?;
        let mut legs: BTreeMap<LegKey, Leg> = BTreeMap::new();
        for leg in list {
            // Two entries of one contact (hand-edited state) merge rather than overwrite.
            match legs.get_mut(&leg.key()) {
                Some(existing) => {
                    existing.merge(&leg);
                }
                None => {
                    legs.insert(leg.key(), leg);
                }
            }
        }
        Ok(legs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::event::ContactEventType;

    pub(crate) fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/inst-1";

    fn queue_arn(id: &str) -> String {
        format!("{INSTANCE}/queue/{id}")
    }

    fn event(id: &str, time: &str, kind: ContactEventType) -> ContactEvent {
        ContactEvent {
            id: id.into(),
            time: at(time),
            event_type: kind,
            contact_id: "c1".into(),
            initial_contact_id: None,
            previous_contact_id: None,
            channel: Some("VOICE".into()),
            instance_arn: INSTANCE.into(),
            initiation_method: Some("INBOUND".into()),
            initiation_timestamp: Some(at("2026-11-20T10:00:00Z")),
            disconnect_timestamp: None,
            queue_arn: None,
            enqueue_timestamp: None,
            agent_arn: None,
            connected_to_agent_timestamp: None,
        }
    }

    fn answered_events() -> Vec<ContactInput> {
        let initiated = event("e1", "2026-11-20T10:00:00Z", ContactEventType::Initiated);
        let mut queued = event("e2", "2026-11-20T10:00:05Z", ContactEventType::Queued);
        queued.queue_arn = Some(queue_arn("q1"));
        queued.enqueue_timestamp = Some(at("2026-11-20T10:00:05Z"));
        let mut connected = queued.clone();
        connected.id = "e3".into();
        connected.time = at("2026-11-20T10:00:30Z");
        connected.event_type = ContactEventType::ConnectedToAgent;
        connected.connected_to_agent_timestamp = Some(at("2026-11-20T10:00:30Z"));
        let mut disconnected = connected.clone();
        disconnected.id = "e4".into();
        disconnected.time = at("2026-11-20T10:14:59Z");
        disconnected.event_type = ContactEventType::Disconnected;
        disconnected.disconnect_timestamp = Some(at("2026-11-20T10:14:59Z"));
        vec![initiated, queued, connected, disconnected]
            .into_iter()
            .map(ContactInput::Event)
            .collect()
    }

    #[test]
    fn an_initiated_events_bare_patch_is_not_stored_and_leaving_it_out_changes_no_summary() {
        let inputs = answered_events();
        let bare: Vec<bool> = inputs
            .iter()
            .map(|i| i.leg_patches().iter().all(Leg::is_bare))
            .collect();
        assert_eq!(bare, [true, false, false, false]);
        let stored: Vec<usize> = inputs.iter().map(|i| i.stored_patches().len()).collect();
        assert_eq!(stored, [0, 1, 1, 1]);
        // Only an INITIATED event's bare patch is left out: a bare CONTACT_DATA_UPDATED is kept
        // (it may be the contact's newest input, which a record's as_of reads).
        let mut updated = event("e9", "2026-11-20T10:30:00Z", ContactEventType::ContactDataUpdated);
        updated.initiation_method = None;
        let updated = ContactInput::Event(updated);
        assert!(updated.leg_patches()[0].is_bare());
        assert_eq!(updated.stored_patches().len(), 1);
        let merged = |inputs: &[ContactInput]| {
            let mut leg = Leg::new(inputs[0].leg_patches()[0].key());
            for patch in inputs.iter().flat_map(ContactInput::leg_patches) {
                leg.merge(&patch);
            }
            leg
        };
        assert_eq!(merged(&inputs).summary(), merged(&inputs[1..]).summary());
        assert!(merged(&inputs).summary().is_some());
        // A callback's INITIATED event names its predecessor: that patch is not bare.
        let mut callback = event("e5", "2026-11-20T10:20:00Z", ContactEventType::Initiated);
        callback.contact_id = "c2".into();
        callback.initiation_method = Some("CALLBACK".into());
        callback.previous_contact_id = Some("c1".into());
        let callback = ContactInput::Event(callback);
        let patches = callback.leg_patches();
        assert_eq!(patches.iter().map(Leg::is_bare).collect::<Vec<_>>(), [true, false]);
        assert_eq!(callback.stored_patches(), patches[1..]);
    }

    fn ctr(last_update: &str, talk: i64) -> ContactRecord {
        use crate::contact::ctr::{CtrAgent, CtrQueue};
        ContactRecord {
            contact_id: "c1".into(),
            instance_arn: INSTANCE.into(),
            channel: Some("VOICE".into()),
            initiation_method: Some("INBOUND".into()),
            initiation_timestamp: Some(at("2026-11-20T10:00:00Z")),
            disconnect_timestamp: Some(at("2026-11-20T10:15:00Z")),
            last_update_timestamp: at(last_update),
            previous_contact_id: None,
            queue: Some(CtrQueue {
                arn: Some(queue_arn("q1")),
                name: Some("Support".into()),
                enqueue_timestamp: Some(at("2026-11-20T10:00:05Z")),
                dequeue_timestamp: Some(at("2026-11-20T10:00:30Z")),
            }),
            agent: Some(CtrAgent {
                arn: None,
                connected_to_agent_timestamp: Some(at("2026-11-20T10:00:30Z")),
                agent_interaction_duration: Some(talk),
                customer_hold_duration: Some(0),
                after_contact_work_duration: None,
            }),
        }
    }

    fn fold(inputs: &[ContactInput]) -> LegBook {
        let mut book = LegBook::default();
        for input in inputs {
            book.apply(input);
        }
        book
    }

    #[test]
    fn events_alone_make_a_handled_leg_pegged_to_its_disconnect() {
        let book = fold(&answered_events());
        let leg = &book.legs[&LegKey {
            instance_id: "inst-1".into(),
            contact_id: "c1".into(),
        }];
        assert_eq!(leg.outcome(), LegOutcome::Handled);
        assert_eq!(leg.queued(), Some(("q1".into(), at("2026-11-20T10:00:05Z"))));
        let pegged = leg.pegged_interval().unwrap();
        assert_eq!(pegged.interval_start, at("2026-11-20T10:00:00Z"));
        assert!(!leg.has_ctr());
        assert_eq!(book.newest_input, Some(at("2026-11-20T10:14:59Z")));
    }

    #[test]
    fn the_ctr_wins_over_events_and_the_newest_copy_wins() {
        let mut inputs = answered_events();
        inputs.push(ContactInput::Record(ctr("2026-11-20T10:17:00Z", 500)));
        inputs.push(ContactInput::Record(ctr("2026-11-20T10:16:00Z", 400)));
        let book = fold(&inputs);
        let leg = book.legs.values().next().unwrap();
        // The CTR's disconnect (10:15:00) moves the peg to the next interval.
        assert_eq!(
            leg.pegged_interval().unwrap().interval_start,
            at("2026-11-20T10:15:00Z")
        );
        assert_eq!(leg.ctr.as_ref().unwrap().talk_s, Some(500));
        assert_eq!(book.names.name("inst-1", "q1"), Some("Support"));
    }

    #[test]
    fn merge_is_order_free_and_idempotent() {
        let mut inputs = answered_events();
        inputs.push(ContactInput::Record(ctr("2026-11-20T10:17:00Z", 500)));
        let forward = fold(&inputs);
        let mut backward: Vec<ContactInput> = inputs.iter().rev().cloned().collect();
        backward.extend(inputs.iter().cloned());
        assert_eq!(fold(&backward).legs, forward.legs);
    }

    #[test]
    fn a_callback_makes_its_predecessor_transferred_out() {
        let mut abandoned = event("e9", "2026-11-20T10:02:00Z", ContactEventType::Disconnected);
        abandoned.queue_arn = Some(queue_arn("q1"));
        abandoned.enqueue_timestamp = Some(at("2026-11-20T10:00:05Z"));
        abandoned.disconnect_timestamp = Some(at("2026-11-20T10:02:00Z"));
        let mut callback = event("e10", "2026-11-20T10:02:01Z", ContactEventType::Initiated);
        callback.contact_id = "c2".into();
        callback.initiation_method = Some("CALLBACK".into());
        callback.previous_contact_id = Some("c1".into());
        let key = LegKey {
            instance_id: "inst-1".into(),
            contact_id: "c1".into(),
        };
        let only = fold(&[ContactInput::Event(abandoned.clone())]);
        assert_eq!(only.legs[&key].outcome(), LegOutcome::Abandoned);
        let both = fold(&[
            ContactInput::Event(callback.clone()),
            ContactInput::Event(abandoned.clone()),
        ]);
        assert_eq!(both.legs[&key].outcome(), LegOutcome::TransferredOut);
        // An agent transfer (TRANSFER) does not.
        callback.initiation_method = Some("TRANSFER".into());
        let transfer = fold(&[ContactInput::Event(callback), ContactInput::Event(abandoned)]);
        assert_eq!(transfer.legs[&key].outcome(), LegOutcome::Abandoned);
    }

    #[test]
    fn a_leg_holds_the_patches_merged_into_it_and_no_other() {
        let mut abandoned = event("e9", "2026-11-20T10:02:00Z", ContactEventType::Disconnected);
        abandoned.queue_arn = Some(queue_arn("q1"));
        abandoned.enqueue_timestamp = Some(at("2026-11-20T10:00:05Z"));
        abandoned.disconnect_timestamp = Some(at("2026-11-20T10:02:00Z"));
        let mut callback = event("e10", "2026-11-20T10:02:01Z", ContactEventType::Initiated);
        callback.contact_id = "c2".into();
        callback.initiation_method = Some("CALLBACK".into());
        callback.previous_contact_id = Some("c1".into());
        let own = ContactInput::Event(abandoned).leg_patches().remove(0);
        // The callback's patch of c1: c2 as its successor.
        let link = ContactInput::Event(callback).leg_patches().remove(1);
        let mut leg = own.clone();
        assert!(leg.holds(&own));
        assert!(!leg.holds(&link), "the link is not in the leg yet");
        leg.merge(&link);
        assert!(leg.holds(&link) && leg.holds(&own));
        assert!(!own.holds(&leg));
    }

    #[test]
    fn a_batch_names_the_records_it_touches_before_and_after() {
        let inputs = answered_events();
        let mut book = LegBook::default();
        // Waiting since 10:00:05, seen at 10:20: the 10:00 record has it in its backlog.
        let changes = book.merge_inputs(&inputs[..2], at("2026-11-20T10:20:00Z"));
        let starts = |c: &Changes| c.intervals.iter().map(|k| k.interval_start).collect::<Vec<_>>();
        assert_eq!(starts(&changes), [at("2026-11-20T10:00:00Z")]);
        assert_eq!(changes.legs.len(), 1);
        // The stored leg goes through storage and back; the rest of the batch arrives with a
        // CTR that pegs it to 10:15: both the old and the new record are touched.
        let stored: Vec<Leg> =
            serde_json::from_str(&serde_json::to_string(&book.legs.values().collect::<Vec<_>>()).unwrap()).unwrap();
        let mut book = LegBook::from_legs(stored, book.names.clone());
        let mut rest = inputs[2..].to_vec();
        rest.push(ContactInput::Record(ctr("2026-11-20T10:17:00Z", 500)));
        let changes = book.merge_inputs(&rest, at("2026-11-20T10:20:00Z"));
        assert_eq!(
            starts(&changes),
            [at("2026-11-20T10:00:00Z"), at("2026-11-20T10:15:00Z")]
        );
        // The same batch again changes nothing.
        let again = book.merge_inputs(&rest, at("2026-11-20T10:20:00Z"));
        assert_eq!(again, Changes::default());
    }

    #[test]
    fn unknown_event_types_change_nothing() {
        let mut book = fold(&answered_events());
        let before = book.clone();
        let mut other = event("e99", "2026-11-20T11:00:00Z", ContactEventType::Other("NEW".into()));
        other.disconnect_timestamp = Some(at("2026-11-20T11:00:00Z"));
        assert!(book.apply(&ContactInput::Event(other)).is_empty());
        assert_eq!(book, before);
    }

    #[test]
    fn waiting_and_the_intervals_a_leg_touches() {
        let mut queued = event("e2", "2026-11-20T10:10:00Z", ContactEventType::Queued);
        queued.queue_arn = Some(queue_arn("q1"));
        queued.enqueue_timestamp = Some(at("2026-11-20T10:10:00Z"));
        let book = fold(&[ContactInput::Event(queued.clone())]);
        let leg = book.legs.values().next().unwrap();
        assert_eq!(leg.outcome(), LegOutcome::Waiting);
        assert!(!leg.waiting_at(at("2026-11-20T10:10:00Z")));
        assert!(leg.waiting_at(at("2026-11-20T10:15:00Z")));
        let starts = |keys: Vec<IntervalKey>| keys.into_iter().map(|k| k.interval_start).collect::<Vec<_>>();
        assert_eq!(
            starts(leg.intervals(at("2026-11-20T10:14:59Z"))),
            Vec::<DateTime<Utc>>::new()
        );
        assert_eq!(
            starts(leg.intervals(at("2026-11-20T10:30:00Z"))),
            vec![at("2026-11-20T10:00:00Z"), at("2026-11-20T10:15:00Z")]
        );
        // Connected exactly at 10:30:00: still waiting at the 10:15 interval's end.
        let mut connected = queued;
        connected.id = "e3".into();
        connected.time = at("2026-11-20T10:30:00Z");
        connected.connected_to_agent_timestamp = Some(at("2026-11-20T10:30:00Z"));
        connected.disconnect_timestamp = Some(at("2026-11-20T10:31:00Z"));
        let book = fold(&[ContactInput::Event(connected)]);
        let leg = book.legs.values().next().unwrap();
        assert!(leg.waiting_at(at("2026-11-20T10:30:00Z")));
        assert!(!leg.waiting_at(at("2026-11-20T10:45:00Z")));
        assert_eq!(
            starts(leg.intervals(at("2026-11-20T12:00:00Z"))),
            vec![
                at("2026-11-20T10:00:00Z"),
                at("2026-11-20T10:15:00Z"),
                at("2026-11-20T10:30:00Z")
            ]
        );
    }

    #[test]
    fn queue_names_take_the_newest_and_learn_from_agent_events() {
        let mut names = QueueNames::default();
        let fact = |t: &str, n: &str| Fact {
            stamp: Stamp {
                time: at(t),
                id: "x".into(),
            },
            value: n.to_owned(),
        };
        assert!(names.learn(&queue_arn("q1"), fact("2026-11-20T10:00:00Z", "New")));
        assert!(!names.learn(&queue_arn("q1"), fact("2026-11-20T09:00:00Z", "Old")));
        assert_eq!(names.name("inst-1", "q1"), Some("New"));
        assert_eq!(names.name("inst-1", "q2"), None);
        assert!(!names.learn("not-a-queue-arn", fact("2026-11-20T11:00:00Z", "X")));

        let event = crate::agent::decode_agent_event(
            br#"{"AgentARN":"arn:aws:connect:us-east-1:1:instance/inst-1/agent/a1","InstanceARN":"arn:aws:connect:us-east-1:1:instance/inst-1","EventId":"ev","EventTimestamp":"2026-11-20T10:00:00.000Z","EventType":"STATE_CHANGE","Version":"2019-05-25","CurrentAgentSnapshot":{"Contacts":[{"ContactId":"c","Channel":"VOICE","InitiationMethod":"INBOUND","State":"CONNECTED","Queue":{"ARN":"arn:aws:connect:us-east-1:1:instance/inst-1/queue/q7","Name":"Sales"}}]}}"#,
        )
        .unwrap();
        assert!(names.learn_from_agent_event(&event));
        assert_eq!(names.name("inst-1", "q7"), Some("Sales"));
    }

    mod properties {
        use super::*;
        use crate::contact::ctr::{CtrAgent, CtrQueue};
        use chrono::TimeDelta;
        use proptest::prelude::*;

        /// One of a few instants, so that inputs collide on time.
        fn instant() -> impl Strategy<Value = Option<DateTime<Utc>>> {
            prop::option::of((0i64..4).prop_map(|s| at("2026-11-20T10:14:58Z") + TimeDelta::milliseconds(s * 700)))
        }

        fn word(words: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
            prop::option::of(prop::sample::select(words).prop_map(str::to_owned))
        }

        /// Contact events and CTRs of contacts c1 and c2 with clashing facts: the same event id
        /// with different content, equal times, CTR copies with equal LastUpdateTimestamps.
        fn input() -> impl Strategy<Value = ContactInput> {
            let event = (
                prop::sample::select(&["e1", "e2", "e3"][..]),
                (0i64..3).prop_map(|s| at("2026-11-20T10:15:00Z") + TimeDelta::seconds(s)),
                prop::sample::select(&["QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED", "NEW_TYPE"][..]),
                prop::sample::select(&["c1", "c2"][..]),
                word(&["CALLBACK", "QUEUE_TRANSFER", "INBOUND", "TRANSFER"]),
                word(&["c1", "c2", "c0"]),
                (instant(), instant(), instant()),
                word(&["q1", "q2"]),
            )
                .prop_map(
                    |(id, time, kind, contact, method, previous, (enq, conn, disc), queue)| {
                        ContactInput::Event(ContactEvent {
                            id: id.into(),
                            time,
                            event_type: ContactEventType::parse(kind),
                            contact_id: contact.into(),
                            initial_contact_id: None,
                            previous_contact_id: previous,
                            channel: Some("VOICE".into()),
                            instance_arn: INSTANCE.into(),
                            initiation_method: method,
                            initiation_timestamp: enq,
                            disconnect_timestamp: disc,
                            queue_arn: queue.map(|q| queue_arn(&q)),
                            enqueue_timestamp: enq,
                            agent_arn: None,
                            connected_to_agent_timestamp: conn,
                        })
                    },
                );
            let record = (
                prop::sample::select(&["c1", "c2"][..]),
                (0i64..2).prop_map(|s| at("2026-11-20T10:20:00Z") + TimeDelta::seconds(s)),
                (instant(), instant(), instant()),
                prop::option::of(0i64..3),
                word(&["CALLBACK", "INBOUND"]),
            )
                .prop_map(|(contact, last_update, (enq, conn, disc), talk, method)| {
                    ContactInput::Record(ContactRecord {
                        contact_id: contact.into(),
                        instance_arn: INSTANCE.into(),
                        channel: None,
                        initiation_method: method,
                        initiation_timestamp: None,
                        disconnect_timestamp: disc,
                        last_update_timestamp: last_update,
                        previous_contact_id: Some("c0".into()),
                        queue: Some(CtrQueue {
                            arn: Some(queue_arn("q1")),
                            name: Some("Support".into()),
                            enqueue_timestamp: enq,
                            dequeue_timestamp: None,
                        }),
                        agent: conn.map(|c| CtrAgent {
                            connected_to_agent_timestamp: Some(c),
                            agent_interaction_duration: talk,
                            ..CtrAgent::default()
                        }),
                    })
                });
            prop_oneof![event, record]
        }

        proptest! {
            #[test]
            fn any_permutation_or_duplication_gives_the_same_legs(
                inputs in prop::collection::vec(input(), 1..12),
                order in Just(()).prop_perturb(|_, mut rng| rng.next_u64()),
                repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            ) {
                let expected = fold(&inputs);
                let mut shuffled = inputs.clone();
                shuffled.extend(repeats.iter().map(|i| inputs[i.index(inputs.len())].clone()));
                let mut rng = crate::synthetic::Rng::new(order);
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let got = fold(&shuffled);
                prop_assert_eq!(&got.legs, &expected.legs);
                prop_assert_eq!(got.newest_input, expected.newest_input);
                // Merging two halves' books gives the same as one pass.
                let (a, b) = shuffled.split_at(shuffled.len() / 2);
                let mut halves = fold(a);
                halves.merge(&fold(b));
                prop_assert_eq!(&halves.legs, &expected.legs);
            }
        }
    }
}
