//! The port through which the contact-events handler stores legs and finds the legs of an
//! interval, and its in-memory implementation (tests, and the CLI's state file).
//!
//! Storage design (recompute from legs, never deltas; a batch's reads in one round trip, its
//! unconditional writes in another):
//!
//! - each leg is stored once under its [`LegKey`] with a version; a write names the version it
//!   read ([`ContactStore::store_leg`]), so two batches racing on one leg never lose a fact: the
//!   loser reloads, merges again (the merge is order-free) and writes again. The only
//!   conditional writes are these, one per leg a batch changes;
//! - with the leg, in the same write, its [`Filing`]: the intervals this version is counted in
//!   and those earlier versions were counted in and this one is not. A retry after a failure
//!   between storing a leg and filing it finds the new version stored, and only this says where
//!   to file it and where the old counts lie;
//! - a version's [`LegSummary`] (what a record needs of a leg, a small item) is filed under each
//!   interval it contributes to, and a tombstone of the version under each interval it left
//!   ([`ContactStore::file`], unconditional writes in one batch request). A filing is keyed by the leg's
//!   version and never overwritten by another version, so writes in any order, repeated or
//!   racing, leave the same filings: an interval counts each leg by its newest version filed
//!   there, none when that is a tombstone;
//! - an interval's record is computed from its filings ([`ContactStore::interval_legs`]). Filings
//!   only ever accumulate (they expire with the table's TTL, long after their interval is final),
//!   so their number tells whether the interval changed: a writer counts them again after
//!   writing the record and computes it again if another writer filed meanwhile, so the last
//!   object written holds every leg filed before it;
//! - legs waiting in a queue have a hint in the waiting set ([`WaitingHint`]: a store may hint
//!   the legs of one batch in one item). The sweep reads the hinted legs themselves each minute,
//!   and takes out a hint none of whose legs waits any more ([`ContactStore::forget_waiting`]):
//!   a batch never takes a hint out, so a leg that stops waiting costs no write there, and a
//!   stale hint costs one sweep's read of its legs and its removal;
//! - intervals written before their end wait in the closing set until a run at or after their
//!   end ([`crate::contact::IntervalKey::end`]) writes them with their backlog; intervals
//!   written while their queue's name was unknown wait in the unnamed set until the name is
//!   stored. Reading an interval's filings also says whether it is in either set, so it is
//!   added once, not by every batch that writes it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::IntervalKey;
use super::leg::{Leg, LegKey, QueueNames};
use super::summary::LegSummary;
use crate::ports::PortError;

/// A leg as stored: the merged leg, its version in the store (1 for the first write) and where
/// that version is filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLeg {
    /// The merged leg.
    pub leg: Leg,
    /// Its version in the store.
    pub version: u64,
    /// Where this version is filed, written with it.
    #[serde(default)]
    pub filing: Filing,
}

/// Where a version of a leg is filed, stored with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    /// Intervals this version contributes to (its summary is filed there), judged at the clock
    /// of the batch that wrote it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<IntervalKey>,
    /// Intervals earlier versions were counted in and this one is not (its tombstone is filed
    /// there). Kept from version to version: whether an earlier tombstone write went through is
    /// not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<IntervalKey>,
    /// This version waits in its queue (hinted in the waiting set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting: bool,
}

/// What a versioned leg write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegWrite {
    /// Written as the version asked for.
    Stored,
    /// Another writer stored the leg since it was read: reload, merge, write again.
    Conflict,
}

/// The unconditional writes filing one version of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegFiling {
    /// The leg.
    pub key: LegKey,
    /// The version filed.
    pub version: u64,
    /// Its summary, filed under `intervals` (`None` for a leg never queued, filed nowhere).
    pub summary: Option<LegSummary>,
    /// Intervals it contributes to.
    pub intervals: Vec<IntervalKey>,
    /// Intervals earlier versions were counted in: a tombstone of this version is filed there.
    pub left: Vec<IntervalKey>,
    /// Hint it in the waiting set (a leg that stops waiting is not un-hinted here: the sweep
    /// takes out hints whose legs no longer wait).
    pub hint: bool,
}

/// One hint of the waiting set: legs that waited in their queue when it was written. A store
/// may hint several legs in one hint (the DynamoDB store hints a batch's legs in one item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingHint {
    /// Names the hint to [`ContactStore::forget_waiting`].
    pub id: String,
    /// The legs it hints.
    pub legs: Vec<LegKey>,
}

/// A stable id of a hint of `legs` (in any order): the same legs give the same id in every
/// process and version, so a batch written again rewrites its hints instead of adding some.
pub fn hint_id(legs: &[LegKey]) -> String {
    use std::hash::Hasher as _;
    let mut keys: Vec<&LegKey> = legs.iter().collect();
    keys.sort();
    keys.dedup();
    let mut hasher = fnv::FnvHasher::default();
    for key in keys {
        hasher.write(key.instance_id.as_bytes());
        hasher.write(b"#");
        hasher.write(key.contact_id.as_bytes());
        hasher.write(b"\n");
    }
    format!("{:016x}", hasher.finish())
}

/// What [`ContactStore::load`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The stored legs of the keys asked for (absent keys are left out).
    pub legs: Vec<StoredLeg>,
    /// The stored names of the queues asked for.
    pub names: QueueNames,
    /// The newest input time processed, when asked for.
    pub progress: Option<DateTime<Utc>>,
}

/// The legs filed under one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalLegs {
    /// The summary of each leg whose newest version filed there is not a tombstone.
    pub legs: Vec<LegSummary>,
    /// A leg was counted there once (its record may have been written and must then be
    /// retracted when no leg is left).
    pub counted: bool,
    /// How many filings the interval has: it grows with every filing of a new version.
    pub filings: usize,
    /// The interval is in the closing set.
    pub closing: bool,
    /// The interval is in the unnamed set.
    pub unnamed: bool,
}

/// Storage of the stream basis: legs, their filing under intervals, queue names, the waiting,
/// closing and unnamed sets and the newest input time processed. Implemented in memory here,
/// on DynamoDB in the adapters crate.
pub trait ContactStore: Send + Sync {
    /// The stored legs of `legs`, the stored names of `queues` (instance id, queue id) and, if
    /// `progress`, the newest input time processed: one round trip where the backend allows it.
    fn load(
        &self,
        legs: &[LegKey],
        queues: &[(String, String)],
        progress: bool,
    ) -> impl Future<Output = Result<Loaded, PortError>> + Send;

    /// Writes `stored` (leg, version, filing) if the stored version is still `expected` (`None`:
    /// no leg stored yet); `stored.version` must be the next one.
    fn store_leg(
        &self,
        stored: &StoredLeg,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<LegWrite, PortError>> + Send;

    /// The unconditional writes filing a batch's legs. Idempotent.
    fn file(&self, filings: &[LegFiling]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Adds intervals to the closing set (written before their end) and to the unnamed set
    /// (written while their queue's name was unknown); [`ContactStore::interval_legs`] says
    /// which sets an interval is in, so each is added once. Idempotent.
    fn mark(
        &self,
        closing: &[IntervalKey],
        unnamed: &[IntervalKey],
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The legs filed under `key`.
    fn interval_legs(&self, key: &IntervalKey) -> impl Future<Output = Result<IntervalLegs, PortError>> + Send;

    /// How many filings `key` has now ([`IntervalLegs::filings`]).
    fn interval_filings(&self, key: &IntervalKey) -> impl Future<Output = Result<usize, PortError>> + Send;

    /// The hints of the waiting set.
    fn waiting(&self) -> impl Future<Output = Result<Vec<WaitingHint>, PortError>> + Send;

    /// Takes hints out of the waiting set (none of their legs waits any more). Idempotent.
    fn forget_waiting(&self, ids: &[String]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The stored names of these (instance id, queue id) pairs.
    fn queue_names(&self, queues: &[(String, String)]) -> impl Future<Output = Result<QueueNames, PortError>> + Send;

    /// The queue ids of these queue names of one instance (names never learned are left out):
    /// what a report row, which names its queue only, is reconciled by.
    fn queue_ids_by_name(
        &self,
        instance_id: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, PortError>> + Send;

    /// Stores names learned (each kept only if newer than the stored one).
    fn learn_queue_names(&self, names: &QueueNames) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The closing set.
    fn closing(&self) -> impl Future<Output = Result<Vec<IntervalKey>, PortError>> + Send;

    /// Removes intervals from the closing set (their records were written after their end).
    fn closed(&self, keys: &[IntervalKey]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The intervals of one queue in the unnamed set.
    fn unnamed(
        &self,
        instance_id: &str,
        queue_id: &str,
    ) -> impl Future<Output = Result<Vec<IntervalKey>, PortError>> + Send;

    /// Removes intervals from the unnamed set (their records were written with the name).
    fn named(&self, keys: &[IntervalKey]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Moves the newest input time processed forward to `time` (never back).
    fn advance_progress(&self, time: DateTime<Utc>) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The newest input time processed, if any.
    fn progress(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, PortError>> + Send;
}

/// One interval's filings: (contact id, version) → the summary, or `None` for a tombstone.
type Filings = BTreeMap<(String, u64), Option<LegSummary>>;

/// The legs an interval's filings count: each contact's newest version, unless a tombstone.
pub fn counted_legs<'a>(
    filings: impl IntoIterator<Item = (&'a str, u64, Option<&'a LegSummary>)>,
) -> (Vec<LegSummary>, bool) {
    let mut newest: BTreeMap<&str, (u64, Option<&LegSummary>)> = BTreeMap::new();
    let mut counted = false;
    for (contact, version, summary) in filings {
        counted |= summary.is_some();
        match newest.get(contact) {
            // Of one version's filings (a summary and a tombstone cannot both be written, but
            // hand-edited state can hold both) the tombstone wins, whatever the order.
            Some((v, s)) if *v > version || (*v == version && s.is_none()) => {}
            _ => {
                newest.insert(contact, (version, summary));
            }
        }
    }
    let legs = newest.into_values().filter_map(|(_, s)| s.cloned()).collect();
    (legs, counted)
}

/// Everything the memory store holds; serialisable, so the CLI keeps it in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactState {
    #[serde(default)]
    legs: Vec<StoredLeg>,
    #[serde(default)]
    intervals: Vec<(IntervalKey, Vec<FiledState>)>,
    #[serde(default)]
    waiting: BTreeSet<LegKey>,
    #[serde(default)]
    names: QueueNames,
    #[serde(default)]
    closing: BTreeSet<IntervalKey>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    unnamed: BTreeSet<IntervalKey>,
    #[serde(default)]
    progress: Option<DateTime<Utc>>,
}

/// One filing in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FiledState {
    contact_id: String,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<LegSummary>,
}

#[derive(Debug, Default)]
struct Inner {
    legs: BTreeMap<LegKey, StoredLeg>,
    intervals: BTreeMap<IntervalKey, Filings>,
    waiting: BTreeSet<LegKey>,
    names: QueueNames,
    closing: BTreeSet<IntervalKey>,
    unnamed: BTreeSet<IntervalKey>,
    progress: Option<DateTime<Utc>>,
}

/// [`ContactStore`] in memory; counts its calls so tests can assert on round trips.
#[derive(Debug, Default)]
pub struct MemoryContactStore {
    inner: Mutex<Inner>,
    /// `load` calls.
    pub loads: AtomicUsize,
    /// `store_leg` calls.
    pub stores: AtomicUsize,
}

impl MemoryContactStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the data from the assertions that follow.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A store holding `state` (read from the CLI's state file).
    pub fn from_state(state: ContactState) -> Self {
        let inner = Inner {
            legs: state.legs.into_iter().map(|s| (s.leg.key(), s)).collect(),
            intervals: state
                .intervals
                .into_iter()
                .map(|(key, filed)| {
                    let filings = filed
                        .into_iter()
                        .map(|f| ((f.contact_id, f.version), f.summary))
                        .collect();
                    (key, filings)
                })
                .collect(),
            waiting: state.waiting,
            names: state.names,
            closing: state.closing,
            unnamed: state.unnamed,
            progress: state.progress,
        };
        Self {
            inner: Mutex::new(inner),
            ..Self::default()
        }
    }

    /// What the store holds, to be written to the CLI's state file.
    pub fn state(&self) -> ContactState {
        let inner = self.lock();
        ContactState {
            legs: inner.legs.values().cloned().collect(),
            intervals: inner
                .intervals
                .iter()
                .map(|(key, filings)| {
                    let filed = filings
                        .iter()
                        .map(|((contact_id, version), summary)| FiledState {
                            contact_id: contact_id.clone(),
                            version: *version,
                            summary: summary.clone(),
                        })
                        .collect();
                    (key.clone(), filed)
                })
                .collect(),
            waiting: inner.waiting.clone(),
            names: inner.names.clone(),
            closing: inner.closing.clone(),
            unnamed: inner.unnamed.clone(),
            progress: inner.progress,
        }
    }

    /// Every stored leg.
    pub fn legs(&self) -> Vec<Leg> {
        self.lock().legs.values().map(|s| s.leg.clone()).collect()
    }

    /// Every learned queue name.
    pub fn names(&self) -> QueueNames {
        self.lock().names.clone()
    }

    /// Stores a leg unconditionally as the next version, filed nowhere (a racing writer, in
    /// tests).
    pub fn race(&self, leg: Leg) {
        let mut inner = self.lock();
        let slot = inner.legs.entry(leg.key()).or_insert(StoredLeg {
            leg: Leg::new(leg.key()),
            version: 0,
            filing: Filing::default(),
        });
        slot.leg.merge(&leg);
        slot.version += 1;
    }
}

impl ContactStore for MemoryContactStore {
    async fn load(&self, legs: &[LegKey], queues: &[(String, String)], progress: bool) -> Result<Loaded, PortError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let inner = self.lock();
        let mut names = QueueNames::default();
        for (instance_id, queue_id, fact) in inner.names.entries() {
            if queues.iter().any(|(i, q)| i == instance_id && q == queue_id) {
                names.learn_by_id(instance_id, queue_id, fact.clone());
            }
        }
        Ok(Loaded {
            legs: legs.iter().filter_map(|k| inner.legs.get(k).cloned()).collect(),
            names,
            progress: if progress { inner.progress } else { None },
        })
    }

    async fn store_leg(&self, stored: &StoredLeg, expected: Option<u64>) -> Result<LegWrite, PortError> {
        self.stores.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        let key = stored.leg.key();
        let current = inner.legs.get(&key).map(|s| s.version);
        if current != expected {
            return Ok(LegWrite::Conflict);
        }
        inner.legs.insert(key, stored.clone());
        Ok(LegWrite::Stored)
    }

    async fn file(&self, filings: &[LegFiling]) -> Result<(), PortError> {
        let mut inner = self.lock();
        for filing in filings {
            let id = &filing.key.contact_id;
            if let Some(summary) = &filing.summary {
                for key in &filing.intervals {
                    let filed = inner.intervals.entry(key.clone()).or_default();
                    filed.insert((id.clone(), filing.version), Some(summary.clone()));
                }
            }
            for key in &filing.left {
                let filed = inner.intervals.entry(key.clone()).or_default();
                filed.insert((id.clone(), filing.version), None);
            }
            if filing.hint {
                inner.waiting.insert(filing.key.clone());
            }
        }
        Ok(())
    }

    async fn mark(&self, closing: &[IntervalKey], unnamed: &[IntervalKey]) -> Result<(), PortError> {
        let mut inner = self.lock();
        inner.closing.extend(closing.iter().cloned());
        inner.unnamed.extend(unnamed.iter().cloned());
        Ok(())
    }

    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let inner = self.lock();
        let (closing, unnamed) = (inner.closing.contains(key), inner.unnamed.contains(key));
        let Some(filed) = inner.intervals.get(key) else {
            return Ok(IntervalLegs {
                closing,
                unnamed,
                ..IntervalLegs::default()
            });
        };
        let (legs, counted) = counted_legs(filed.iter().map(|((c, v), s)| (c.as_str(), *v, s.as_ref())));
        Ok(IntervalLegs {
            legs,
            counted,
            filings: filed.len(),
            closing,
            unnamed,
        })
    }

    async fn interval_filings(&self, key: &IntervalKey) -> Result<usize, PortError> {
        Ok(self.lock().intervals.get(key).map_or(0, BTreeMap::len))
    }

    /// One hint per leg, named by its [`hint_id`].
    async fn waiting(&self) -> Result<Vec<WaitingHint>, PortError> {
        Ok(self
            .lock()
            .waiting
            .iter()
            .map(|key| WaitingHint {
                id: hint_id(std::slice::from_ref(key)),
                legs: vec![key.clone()],
            })
            .collect())
    }

    async fn forget_waiting(&self, ids: &[String]) -> Result<(), PortError> {
        self.lock()
            .waiting
            .retain(|key| !ids.contains(&hint_id(std::slice::from_ref(key))));
        Ok(())
    }

    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        Ok(self.load(&[], queues, false).await?.names)
    }

    async fn queue_ids_by_name(&self, instance_id: &str, names: &[String]) -> Result<Vec<(String, String)>, PortError> {
        let inner = self.lock();
        Ok(inner
            .names
            .entries()
            .filter(|(instance, _, fact)| *instance == instance_id && names.contains(&fact.value))
            .map(|(_, queue, fact)| (fact.value.clone(), queue.to_owned()))
            .collect())
    }

    async fn learn_queue_names(&self, names: &QueueNames) -> Result<(), PortError> {
        self.lock().names.merge(names);
        Ok(())
    }

    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        Ok(self.lock().closing.iter().cloned().collect())
    }

    async fn closed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let mut inner = self.lock();
        for key in keys {
            inner.closing.remove(key);
        }
        Ok(())
    }

    async fn unnamed(&self, instance_id: &str, queue_id: &str) -> Result<Vec<IntervalKey>, PortError> {
        Ok(self
            .lock()
            .unnamed
            .iter()
            .filter(|k| k.instance_id == instance_id && k.queue_id == queue_id)
            .cloned()
            .collect())
    }

    async fn named(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let mut inner = self.lock();
        for key in keys {
            inner.unnamed.remove(key);
        }
        Ok(())
    }

    async fn advance_progress(&self, time: DateTime<Utc>) -> Result<(), PortError> {
        let mut inner = self.lock();
        inner.progress = inner.progress.max(Some(time));
        Ok(())
    }

    async fn progress(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(self.lock().progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(contact: &str) -> LegSummary {
        LegSummary {
            instance_id: "i".into(),
            contact_id: contact.into(),
            queue_id: "q".into(),
            enqueued: "2026-11-20T10:00:00Z".parse().unwrap(),
            connected: None,
            disconnected: None,
            continued: false,
            ctr: None,
            newest: None,
        }
    }

    #[test]
    fn an_interval_counts_each_leg_by_its_newest_version_filed_there() {
        let (a, b) = (summary("a"), summary("b"));
        let filings = [
            ("a", 1, Some(&a)),
            ("a", 3, Some(&a)),
            ("a", 2, None),
            ("b", 1, Some(&b)),
            ("b", 2, None),
            ("c", 4, None),
        ];
        let (legs, counted) = counted_legs(filings);
        assert_eq!(legs, vec![a.clone()]);
        assert!(counted);
        // Any order gives the same.
        let (legs, _) = counted_legs(filings.into_iter().rev());
        assert_eq!(legs, vec![a]);
        // Tombstones alone: nothing was ever counted there.
        assert_eq!(counted_legs([("c", 4, None)]), (Vec::new(), false));
    }

    fn leg(contact: &str) -> LegKey {
        LegKey {
            instance_id: "i".into(),
            contact_id: contact.into(),
        }
    }

    #[test]
    fn a_hint_id_names_its_legs_in_any_order_and_only_them() {
        let id = hint_id(&[leg("a"), leg("b")]);
        assert_eq!(id, hint_id(&[leg("b"), leg("a"), leg("b")]));
        assert_ne!(id, hint_id(&[leg("a")]));
        assert_ne!(id, hint_id(&[leg("a"), leg("c")]));
        // Stable across processes and versions: a batch written again rewrites its hint.
        assert_eq!(hint_id(&[leg("a")]).len(), 16);
        assert_eq!(hint_id(&[leg("a")]), hint_id(&[leg("a")]));
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        // The memory store never waits: one poll finishes it.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the memory store does not wait"),
        }
    }

    #[test]
    fn forgotten_hints_leave_the_waiting_set() {
        block_on(forget_hints());
    }

    async fn forget_hints() {
        let store = MemoryContactStore::default();
        let filing = |contact: &str| LegFiling {
            key: leg(contact),
            version: 1,
            summary: None,
            intervals: Vec::new(),
            left: Vec::new(),
            hint: true,
        };
        store.file(&[filing("a"), filing("b")]).await.unwrap();
        let hints = store.waiting().await.unwrap();
        assert_eq!(hints.len(), 2);
        let a = hints.iter().find(|h| h.legs == [leg("a")]).unwrap().id.clone();
        store.forget_waiting(&[a]).await.unwrap();
        let left: Vec<Vec<LegKey>> = store.waiting().await.unwrap().into_iter().map(|h| h.legs).collect();
        assert_eq!(left, [vec![leg("b")]]);
    }
}
