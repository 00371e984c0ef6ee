//! The port through which the contact-events handler stores legs and finds the legs of an
//! interval, and its in-memory implementation (tests, and the CLI's state file).
//!
//! Storage design (recompute from legs, never deltas):
//!
//! - each leg is stored once under its [`LegKey`] with a version; a write names the version it
//!   read ([`ContactStore::store_leg`]), so two batches racing on one leg never lose a fact: the
//!   loser reloads, merges again (the merge is order-free) and writes again;
//! - a copy of the leg is filed under every interval it contributes to (pegged there, or waiting
//!   at the interval's end), and under the waiting set while it waits; a copy only ever replaces
//!   an older version of the leg, and a leg that stops contributing leaves a tombstone of its
//!   newer version, so a late or repeated filing never brings an old copy back;
//! - an interval's record is computed from the copies filed under it
//!   ([`ContactStore::interval_legs`]): duplicates, retries and concurrent batches cannot double
//!   count, since every leg is one copy there. Each filing bumps the interval's revision; a writer
//!   that sees the revision move after writing the record computes it again, so the last object
//!   written holds every leg filed before it.
//! - intervals written before their end wait in the closing set until a run at or after their
//!   end ([`crate::contact::IntervalKey::end`]) writes them with their backlog.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::IntervalKey;
use super::leg::{Leg, LegKey, QueueNames};
use crate::ports::PortError;

/// A leg as stored, with the store's version of it (1 for the first write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLeg {
    /// The merged leg.
    pub leg: Leg,
    /// Its version in the store.
    pub version: u64,
    /// Where the versions before it were filed, stored with it.
    #[serde(default)]
    pub prior: PriorFiling,
}

/// Where the versions before a stored leg were filed: their intervals (judged ahead of the
/// clock) and whether one was in the waiting set. Written with the leg, in the same write: a
/// retry after a failure between storing a leg and filing it finds the new version stored,
/// and only this says where the old one's copies lie (to tombstone them and take it out of
/// the waiting set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorFiling {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<IntervalKey>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting: bool,
}

impl PriorFiling {
    /// True when there is nothing to say (no earlier version was filed anywhere).
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty() && !self.waiting
    }
}

/// What a versioned leg write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegWrite {
    /// Written as this version.
    Stored {
        /// The new version.
        version: u64,
    },
    /// Another writer stored the leg since it was read: reload, merge, write again.
    Conflict,
}

/// Where a stored leg is filed: every interval it contributes to, the intervals it stopped
/// contributing to, and whether it waits in its queue now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filing {
    /// Intervals the leg contributes to (a copy of this version is filed there).
    pub intervals: Vec<IntervalKey>,
    /// Intervals it contributed to before and no longer does (a tombstone is filed there).
    pub left: Vec<IntervalKey>,
    /// In its queue, neither connected nor disconnected: filed in the waiting set.
    pub waiting: bool,
    /// The stored version was waiting: a tombstone replaces it in the waiting set when the leg
    /// no longer waits (a leg that never waited costs no write there).
    pub was_waiting: bool,
}

/// The legs filed under one interval and the interval's revision when they were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalLegs {
    /// Current copies (tombstones left out).
    pub legs: Vec<Leg>,
    /// Changes whenever a leg is filed there or leaves.
    pub revision: u64,
}

/// Storage of the stream basis: legs, their filing under intervals, queue names, the closing
/// set and the newest input time processed. Implemented in memory here, on DynamoDB in the
/// adapters crate.
pub trait ContactStore: Send + Sync {
    /// The stored legs of these keys (absent keys are left out), in one round trip where the
    /// backend allows it.
    fn load_legs(&self, keys: &[LegKey]) -> impl Future<Output = Result<Vec<StoredLeg>, PortError>> + Send;

    /// Writes `leg` with `prior` (where the versions before it were filed) if the stored
    /// version is still `expected` (`None`: no leg stored yet).
    fn store_leg(
        &self,
        leg: &Leg,
        expected: Option<u64>,
        prior: &PriorFiling,
    ) -> impl Future<Output = Result<LegWrite, PortError>> + Send;

    /// Files a copy of `stored` under each of `filing.intervals` and in the waiting set (or a
    /// tombstone under `filing.left` and out of the waiting set), each only where no newer
    /// version is filed, and bumps the revision of every interval it changed. Returns the
    /// intervals of `filing.left` where a live copy of the leg was replaced by a tombstone, by
    /// this call or by an earlier one of the same version (their records change; elsewhere the
    /// leg had never been filed). The earlier call counts: a retry after a failure between
    /// filing and writing the records finds the tombstone in place, and must still recompute
    /// the record the failed attempt left counting the leg.
    fn file_leg(
        &self,
        stored: &StoredLeg,
        filing: &Filing,
    ) -> impl Future<Output = Result<Vec<IntervalKey>, PortError>> + Send;

    /// The legs filed under `key`, with its revision.
    fn interval_legs(&self, key: &IntervalKey) -> impl Future<Output = Result<IntervalLegs, PortError>> + Send;

    /// The revision of `key` now.
    fn interval_revision(&self, key: &IntervalKey) -> impl Future<Output = Result<u64, PortError>> + Send;

    /// Every leg in the waiting set.
    fn waiting_legs(&self) -> impl Future<Output = Result<Vec<StoredLeg>, PortError>> + Send;

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

    /// Adds intervals written before their end to the closing set.
    fn mark_closing(&self, keys: &[IntervalKey]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The closing set.
    fn closing(&self) -> impl Future<Output = Result<Vec<IntervalKey>, PortError>> + Send;

    /// Removes an interval from the closing set (its record was written after its end).
    fn closed(&self, key: &IntervalKey) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Remembers intervals whose record was written while their queue's name was unknown
    /// (`queue` null): learning the name later must write them again.
    fn mark_unnamed(&self, keys: &[IntervalKey]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The intervals of one queue marked by [`Self::mark_unnamed`].
    fn unnamed(
        &self,
        instance_id: &str,
        queue_id: &str,
    ) -> impl Future<Output = Result<Vec<IntervalKey>, PortError>> + Send;

    /// Forgets marks of [`Self::mark_unnamed`] (their records were written with the name).
    fn named(&self, keys: &[IntervalKey]) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Moves the newest input time processed forward to `time` (never back).
    fn advance_progress(&self, time: DateTime<Utc>) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The newest input time processed, if any.
    fn progress(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, PortError>> + Send;
}

/// A filed copy: the leg's version, and the leg unless it is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Copy {
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leg: Option<Leg>,
    /// A tombstone that replaced a live copy (or a tombstone that had): the leg was counted
    /// here once, so the interval's record must be written again whenever the leg is filed
    /// away from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    vacated: bool,
}

/// One interval's filed copies (by contact id) and its revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Filed {
    revision: u64,
    copies: BTreeMap<String, Copy>,
}

/// Everything the memory store holds; serialisable, so the CLI keeps it in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactState {
    #[serde(default)]
    legs: Vec<StoredLeg>,
    #[serde(default)]
    intervals: Vec<(IntervalKey, Filed)>,
    #[serde(default)]
    waiting: BTreeMap<String, Copy>,
    #[serde(default)]
    names: QueueNames,
    #[serde(default)]
    closing: BTreeSet<IntervalKey>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    unnamed: BTreeSet<IntervalKey>,
    #[serde(default)]
    progress: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Inner {
    legs: BTreeMap<LegKey, StoredLeg>,
    intervals: BTreeMap<IntervalKey, Filed>,
    waiting: BTreeMap<String, Copy>,
    names: QueueNames,
    closing: BTreeSet<IntervalKey>,
    unnamed: BTreeSet<IntervalKey>,
    progress: Option<DateTime<Utc>>,
}

/// Files `copy` under `slot` unless a copy of the same or a newer version is there; whether it
/// changed, and whether the slot now holds a tombstone of this version that vacated a live copy
/// (written now or by an earlier filing of the same version).
fn file(slot: &mut BTreeMap<String, Copy>, id: &str, mut copy: Copy) -> (bool, bool) {
    match slot.get(id) {
        Some(existing) if existing.version > copy.version => (false, false),
        Some(existing) if existing.version == copy.version => (false, existing.leg.is_none() && existing.vacated),
        existing => {
            if copy.leg.is_none() {
                copy.vacated = existing.is_some_and(|c| c.leg.is_some() || c.vacated);
            }
            let vacated = copy.vacated;
            slot.insert(id.to_owned(), copy);
            (true, vacated)
        }
    }
}

fn waiting_id(key: &LegKey) -> String {
    format!("{}/{}", key.instance_id, key.contact_id)
}

/// [`ContactStore`] in memory; counts its calls so tests can assert on round trips.
#[derive(Debug, Default)]
pub struct MemoryContactStore {
    inner: Mutex<Inner>,
    /// `load_legs` calls.
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
            intervals: state.intervals.into_iter().collect(),
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
            intervals: inner.intervals.iter().map(|(k, f)| (k.clone(), f.clone())).collect(),
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

    /// Stores a leg unconditionally as the next version (a racing writer, in tests).
    pub fn race(&self, leg: Leg) {
        let mut inner = self.lock();
        let slot = inner.legs.entry(leg.key()).or_insert(StoredLeg {
            leg: Leg::new(leg.key()),
            version: 0,
            prior: PriorFiling::default(),
        });
        slot.leg.merge(&leg);
        slot.version += 1;
    }
}

impl ContactStore for MemoryContactStore {
    async fn load_legs(&self, keys: &[LegKey]) -> Result<Vec<StoredLeg>, PortError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let inner = self.lock();
        Ok(keys.iter().filter_map(|k| inner.legs.get(k).cloned()).collect())
    }

    async fn store_leg(&self, leg: &Leg, expected: Option<u64>, prior: &PriorFiling) -> Result<LegWrite, PortError> {
        self.stores.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        let current = inner.legs.get(&leg.key()).map(|s| s.version);
        if current != expected {
            return Ok(LegWrite::Conflict);
        }
        let version = expected.unwrap_or(0) + 1;
        inner.legs.insert(
            leg.key(),
            StoredLeg {
                leg: leg.clone(),
                version,
                prior: prior.clone(),
            },
        );
        Ok(LegWrite::Stored { version })
    }

    async fn file_leg(&self, stored: &StoredLeg, filing: &Filing) -> Result<Vec<IntervalKey>, PortError> {
        let mut inner = self.lock();
        let id = &stored.leg.contact_id;
        let copy = |leg: Option<&Leg>| Copy {
            version: stored.version,
            leg: leg.cloned(),
            vacated: false,
        };
        let mut vacated = Vec::new();
        for (keys, leg) in [(&filing.intervals, Some(&stored.leg)), (&filing.left, None)] {
            for key in keys {
                let filed = inner.intervals.entry(key.clone()).or_default();
                let (changed, tombstone_vacated) = file(&mut filed.copies, id, copy(leg));
                if changed {
                    filed.revision += 1;
                }
                if tombstone_vacated {
                    vacated.push(key.clone());
                }
            }
        }
        if filing.waiting || filing.was_waiting {
            let waiting = filing.waiting.then_some(&stored.leg);
            file(&mut inner.waiting, &waiting_id(&stored.leg.key()), copy(waiting));
        }
        Ok(vacated)
    }

    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let inner = self.lock();
        Ok(inner
            .intervals
            .get(key)
            .map(|filed| IntervalLegs {
                legs: filed.copies.values().filter_map(|c| c.leg.clone()).collect(),
                revision: filed.revision,
            })
            .unwrap_or_default())
    }

    async fn interval_revision(&self, key: &IntervalKey) -> Result<u64, PortError> {
        Ok(self.lock().intervals.get(key).map_or(0, |f| f.revision))
    }

    async fn waiting_legs(&self) -> Result<Vec<StoredLeg>, PortError> {
        Ok(self
            .lock()
            .waiting
            .values()
            .filter_map(|c| {
                c.leg.clone().map(|leg| StoredLeg {
                    leg,
                    version: c.version,
                    prior: PriorFiling::default(),
                })
            })
            .collect())
    }

    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        let inner = self.lock();
        let mut names = QueueNames::default();
        for (instance_id, queue_id, fact) in inner.names.entries() {
            if queues.iter().any(|(i, q)| i == instance_id && q == queue_id) {
                names.learn_by_id(instance_id, queue_id, fact.clone());
            }
        }
        Ok(names)
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

    async fn mark_closing(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        self.lock().closing.extend(keys.iter().cloned());
        Ok(())
    }

    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        Ok(self.lock().closing.iter().cloned().collect())
    }

    async fn closed(&self, key: &IntervalKey) -> Result<(), PortError> {
        self.lock().closing.remove(key);
        Ok(())
    }

    async fn mark_unnamed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        self.lock().unnamed.extend(keys.iter().cloned());
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
