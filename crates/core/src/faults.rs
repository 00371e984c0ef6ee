//! Fault injection for the ports (feature `faults`, for tests): wrappers that fail chosen calls
//! the way the AWS services do, so handlers can be driven through Lambda's retries under a
//! schedule of faults and checked against a fault-free run.
//!
//! Every wrapped call of one [`FaultPlan`] takes the next number of a shared counter; the plan
//! says which numbers fail and how. Calls past the end of the schedule succeed, so a driver
//! that keeps re-delivering always finishes.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};

use crate::agent::{AgentState, InstanceProgress, InstanceSilence};
use crate::contact::store::{ContactStore, IntervalLegs, LegFiling, LegWrite, Loaded, StoredLeg, WaitingHint};
use crate::contact::{IntervalKey, LegKey, QueueNames};
use crate::ports::{
    AgentDirectory, AgentStateStore, ClaimOutcome, ClaimStore, CommitOutcome, FeedSink, KnownAgent, LoadedStates,
    ObjectReader, ObjectSource, PortError, ProgressStore, UnreadableState,
};

/// How an injected fault fails a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A non-retryable error before anything happened (access denied, validation).
    Error,
    /// Throttling before anything happened (ProvisionedThroughputExceeded, SlowDown).
    Throttle,
    /// The call went through but its answer was lost: the write is done, the caller sees a
    /// retryable error. For [`ObjectSource::open`], the stream breaks after some bytes.
    Timeout,
}

impl Fault {
    /// Every fault, for strategies.
    pub const ALL: [Fault; 3] = [Fault::Error, Fault::Throttle, Fault::Timeout];

    fn error(self, operation: String) -> PortError {
        match self {
            Fault::Error => PortError::new(operation, "injected fault: AccessDenied", false),
            Fault::Throttle => PortError::new(operation, "injected fault: throttled", true),
            Fault::Timeout => PortError::new(operation, "injected fault: timed out after the call went through", true),
        }
    }
}

/// One fault that was injected: the call number, what was called and how it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    pub call: usize,
    pub operation: String,
    pub fault: Fault,
}

/// A schedule of faults shared by the wrappers of one test world.
#[derive(Debug, Default)]
pub struct FaultPlan {
    schedule: Mutex<HashMap<usize, Fault>>,
    calls: AtomicUsize,
    injected: Mutex<Vec<InjectedFault>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FaultPlan {
    /// A plan that fails call `i` with `schedule[i]` where it is `Some`.
    pub fn new(schedule: impl IntoIterator<Item = Option<Fault>>) -> Self {
        let schedule = schedule
            .into_iter()
            .enumerate()
            .filter_map(|(call, fault)| fault.map(|f| (call, f)))
            .collect();
        Self {
            schedule: Mutex::new(schedule),
            ..Self::default()
        }
    }

    /// A plan that never fails (a fault-free run through the same wrappers).
    pub fn none() -> Self {
        Self::default()
    }

    /// Stops injecting: every later call succeeds (e.g. before a DLQ redrive).
    pub fn heal(&self) {
        lock(&self.schedule).clear();
    }

    /// Calls seen so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The faults injected so far, in call order.
    pub fn injected(&self) -> Vec<InjectedFault> {
        lock(&self.injected).clone()
    }

    /// Numbers the call and says whether it fails.
    fn next(&self, operation: impl FnOnce() -> String) -> Option<(Fault, String)> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let fault = lock(&self.schedule).get(&call).copied()?;
        let operation = operation();
        lock(&self.injected).push(InjectedFault {
            call,
            operation: operation.clone(),
            fault,
        });
        Some((fault, operation))
    }
}

/// Runs `call` under the plan: an Error or Throttle fails before it, a Timeout after it.
async fn faulty<T>(
    plan: &FaultPlan,
    operation: impl FnOnce() -> String,
    call: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    match plan.next(operation) {
        None => call.await,
        Some((Fault::Timeout, operation)) => {
            // The call's effect stands; only its answer is lost.
            let _ = call.await;
            Err(Fault::Timeout.error(operation))
        }
        Some((fault, operation)) => Err(fault.error(operation)),
    }
}

/// An [`AgentStateStore`] whose calls fail by the plan.
pub struct FaultyStateStore<'a, S> {
    pub inner: &'a S,
    pub plan: &'a FaultPlan,
}

impl<S: AgentStateStore> AgentStateStore for FaultyStateStore<'_, S> {
    async fn load_many(&self, agent_arns: &[String]) -> Result<LoadedStates, PortError> {
        let operation = || format!("load {} agent states", agent_arns.len());
        faulty(self.plan, operation, self.inner.load_many(agent_arns)).await
    }

    async fn commit(&self, state: &AgentState) -> Result<CommitOutcome, PortError> {
        let operation = || format!("commit agent-state {}", state.agent_id);
        faulty(self.plan, operation, self.inner.commit(state)).await
    }

    async fn replace_unreadable(
        &self,
        state: &AgentState,
        unreadable: &UnreadableState,
    ) -> Result<CommitOutcome, PortError> {
        let operation = || format!("replace unreadable agent-state {}", state.agent_id);
        faulty(self.plan, operation, self.inner.replace_unreadable(state, unreadable)).await
    }

    async fn agents_by_login(&self, logins: &[String]) -> Result<Vec<KnownAgent>, PortError> {
        let operation = || format!("look up {} agent logins", logins.len());
        faulty(self.plan, operation, self.inner.agents_by_login(logins)).await
    }
}

impl<S: crate::ports::AgentBatchStore> crate::ports::AgentBatchStore for FaultyStateStore<'_, S> {}

/// The roster passes through without faults: its writes follow the feed writes and commits
/// whose faults the plan already covers.
impl<S: crate::ports::RosterStore> crate::ports::RosterStore for FaultyStateStore<'_, S> {
    async fn known_queues(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<crate::agent::QueueProfileRecord>, PortError> {
        self.inner.known_queues(instance_id, queue_ids).await
    }

    async fn keep_profiles(
        &self,
        agents: &[crate::agent::AgentProfileRecord],
        queues: &[crate::agent::QueueProfileRecord],
    ) -> Result<(), PortError> {
        self.inner.keep_profiles(agents, queues).await
    }

    async fn forget_agents(&self, instance_id: &str, agent_ids: &[String]) -> Result<(), PortError> {
        self.inner.forget_agents(instance_id, agent_ids).await
    }

    async fn roster(&self, instance_id: &str) -> Result<crate::ports::Roster, PortError> {
        self.inner.roster(instance_id).await
    }
}

impl<S: ProgressStore> ProgressStore for FaultyStateStore<'_, S> {
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        faulty(
            self.plan,
            || "load instance progress".to_owned(),
            self.inner.load_progress(),
        )
        .await
    }

    async fn advance_progress(&self, instance_id: &str, newest: DateTime<Utc>) -> Result<(), PortError> {
        let operation = || format!("advance progress of instance {instance_id}");
        faulty(self.plan, operation, self.inner.advance_progress(instance_id, newest)).await
    }

    async fn mark_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<CommitOutcome, PortError> {
        let operation = || format!("mark instance {instance_id} silent");
        faulty(self.plan, operation, self.inner.mark_silent(instance_id, silence)).await
    }

    async fn clear_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<(), PortError> {
        let operation = || format!("clear the silence of instance {instance_id}");
        faulty(self.plan, operation, self.inner.clear_silent(instance_id, silence)).await
    }

    async fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        let operation = || format!("record the records owed of instance {instance_id}");
        faulty(self.plan, operation, self.inner.owe_records(instance_id, owed, read)).await
    }

    async fn snapshot_written(&self, instance_id: &str, slot: DateTime<Utc>) -> Result<(), PortError> {
        let operation = || format!("record the snapshot of instance {instance_id}");
        faulty(self.plan, operation, self.inner.snapshot_written(instance_id, slot)).await
    }

    async fn mark_intervals_changed(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        let operation = || format!("mark changed intervals of instance {instance_id}");
        faulty(
            self.plan,
            operation,
            self.inner.mark_intervals_changed(instance_id, intervals),
        )
        .await
    }

    async fn clear_changed_intervals(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        let operation = || format!("clear changed intervals of instance {instance_id}");
        faulty(
            self.plan,
            operation,
            self.inner.clear_changed_intervals(instance_id, intervals),
        )
        .await
    }

    async fn agent_intervals_written(&self, instance_id: &str, interval_start: DateTime<Utc>) -> Result<(), PortError> {
        let operation = || format!("record the agent intervals written of instance {instance_id}");
        faulty(
            self.plan,
            operation,
            self.inner.agent_intervals_written(instance_id, interval_start),
        )
        .await
    }
}

impl<S: AgentDirectory> AgentDirectory for FaultyStateStore<'_, S> {
    async fn active_agents(&self, instance_id: &str) -> Result<Vec<AgentState>, PortError> {
        let operation = || format!("list active agents of instance {instance_id}");
        faulty(self.plan, operation, self.inner.active_agents(instance_id)).await
    }

    async fn agents_seen_since(&self, seen_since: DateTime<Utc>) -> Result<Vec<AgentState>, PortError> {
        faulty(
            self.plan,
            || "list agents seen".to_owned(),
            self.inner.agents_seen_since(seen_since),
        )
        .await
    }
}

/// A [`ClaimStore`] whose calls fail by the plan.
pub struct FaultyClaimStore<'a, C> {
    pub inner: &'a C,
    pub plan: &'a FaultPlan,
}

impl<C: ClaimStore> ClaimStore for FaultyClaimStore<'_, C> {
    async fn claim(&self, claim_id: &str, owner: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, PortError> {
        faulty(
            self.plan,
            || format!("claim {claim_id}"),
            self.inner.claim(claim_id, owner, now),
        )
        .await
    }

    async fn complete(&self, claim_id: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        faulty(
            self.plan,
            || format!("complete {claim_id}"),
            self.inner.complete(claim_id, now),
        )
        .await
    }

    async fn release(&self, claim_id: &str) -> Result<(), PortError> {
        faulty(
            self.plan,
            || format!("release {claim_id}"),
            self.inner.release(claim_id),
        )
        .await
    }
}

/// An [`ObjectSource`] whose opens fail by the plan; a [`Fault::Timeout`] opens the object and
/// breaks the stream part-way, like a GetObject body that stops arriving.
pub struct FaultyObjectSource<'a, O> {
    pub inner: &'a O,
    pub plan: &'a FaultPlan,
}

impl<O: ObjectSource> ObjectSource for FaultyObjectSource<'_, O> {
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
        let operation = || format!("read s3://{bucket}/{key}");
        match self.plan.next(operation) {
            None => self.inner.open(bucket, key).await,
            Some((Fault::Timeout, _)) => {
                let inner = self.inner.open(bucket, key).await?;
                Ok(Box::new(BrokenReader { inner, left: 100 }))
            }
            Some((fault, operation)) => Err(fault.error(operation)),
        }
    }
}

/// Gives `left` bytes of the inner reader, then fails as a timed-out read.
struct BrokenReader {
    inner: ObjectReader,
    left: usize,
}

impl Read for BrokenReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "injected fault: the object stream stopped",
            ));
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        if n == 0 {
            // The object ended before the break: the read is complete.
            self.left = usize::MAX;
            return Ok(0);
        }
        self.left -= n;
        Ok(n)
    }
}

/// A [`FeedSink`] whose puts fail by the plan (a Timeout's object is written).
pub struct FaultyFeedSink<'a, F> {
    pub inner: &'a F,
    pub plan: &'a FaultPlan,
}

impl<F: FeedSink> FeedSink for FaultyFeedSink<'_, F> {
    async fn put(&self, key: &str, body: crate::feed::FeedBody) -> Result<(), PortError> {
        faulty(self.plan, || format!("put {key}"), self.inner.put(key, body)).await
    }
}

impl<F: crate::ports::ActivityLog> crate::ports::ActivityLog for FaultyFeedSink<'_, F> {
    async fn pieces(
        &self,
        instance_id: &str,
        interval_start: DateTime<Utc>,
    ) -> Result<Vec<crate::agent::AgentActivityRecord>, PortError> {
        let operation = || format!("read the pieces of instance {instance_id} at {interval_start}");
        faulty(self.plan, operation, self.inner.pieces(instance_id, interval_start)).await
    }

    async fn intervals(
        &self,
        instance_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, PortError> {
        let operation = || format!("list the intervals with pieces of instance {instance_id}");
        faulty(self.plan, operation, self.inner.intervals(instance_id, from, to)).await
    }
}

/// A [`ContactStore`] whose calls fail by the plan.
pub struct FaultyContactStore<'a, C> {
    pub inner: &'a C,
    pub plan: &'a FaultPlan,
}

impl<C: ContactStore> ContactStore for FaultyContactStore<'_, C> {
    async fn load(&self, legs: &[LegKey], queues: &[(String, String)], progress: bool) -> Result<Loaded, PortError> {
        let operation = || format!("load {} legs and {} queue names", legs.len(), queues.len());
        faulty(self.plan, operation, self.inner.load(legs, queues, progress)).await
    }

    async fn store_leg(&self, stored: &StoredLeg, expected: Option<u64>) -> Result<LegWrite, PortError> {
        let operation = || format!("store leg {}", stored.leg.contact_id);
        faulty(self.plan, operation, self.inner.store_leg(stored, expected)).await
    }

    async fn file(&self, filings: &[LegFiling]) -> Result<(), PortError> {
        let operation = || format!("file {} legs", filings.len());
        faulty(self.plan, operation, self.inner.file(filings)).await
    }

    async fn mark(&self, closing: &[IntervalKey], unnamed: &[IntervalKey]) -> Result<(), PortError> {
        let operation = || format!("mark {} intervals closing and {} unnamed", closing.len(), unnamed.len());
        faulty(self.plan, operation, self.inner.mark(closing, unnamed)).await
    }

    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let operation = || format!("read interval {} {}", key.queue_id, key.interval_start);
        faulty(self.plan, operation, self.inner.interval_legs(key)).await
    }

    async fn interval_filings(&self, key: &IntervalKey) -> Result<usize, PortError> {
        let operation = || format!("count the filings of {} {}", key.queue_id, key.interval_start);
        faulty(self.plan, operation, self.inner.interval_filings(key)).await
    }

    async fn waiting(&self) -> Result<Vec<WaitingHint>, PortError> {
        faulty(self.plan, || "read the waiting legs".to_owned(), self.inner.waiting()).await
    }

    async fn forget_waiting(&self, ids: &[String]) -> Result<(), PortError> {
        let operation = || format!("forget {} waiting hints", ids.len());
        faulty(self.plan, operation, self.inner.forget_waiting(ids)).await
    }

    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        let operation = || format!("read {} queue names", queues.len());
        faulty(self.plan, operation, self.inner.queue_names(queues)).await
    }

    async fn queue_ids_by_name(&self, instance_id: &str, names: &[String]) -> Result<Vec<(String, String)>, PortError> {
        let operation = || format!("find {} queues of {instance_id} by name", names.len());
        faulty(self.plan, operation, self.inner.queue_ids_by_name(instance_id, names)).await
    }

    async fn learn_queue_names(&self, names: &QueueNames) -> Result<(), PortError> {
        faulty(
            self.plan,
            || "store queue names".to_owned(),
            self.inner.learn_queue_names(names),
        )
        .await
    }

    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        faulty(self.plan, || "read the closing set".to_owned(), self.inner.closing()).await
    }

    async fn closed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let operation = || format!("close {} intervals", keys.len());
        faulty(self.plan, operation, self.inner.closed(keys)).await
    }

    async fn unnamed(&self, instance_id: &str, queue_id: &str) -> Result<Vec<IntervalKey>, PortError> {
        let operation = || format!("read the unnamed intervals of {queue_id}");
        faulty(self.plan, operation, self.inner.unnamed(instance_id, queue_id)).await
    }

    async fn named(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let operation = || format!("mark {} intervals named", keys.len());
        faulty(self.plan, operation, self.inner.named(keys)).await
    }

    async fn advance_progress(&self, time: DateTime<Utc>) -> Result<(), PortError> {
        faulty(
            self.plan,
            || "advance the progress".to_owned(),
            self.inner.advance_progress(time),
        )
        .await
    }

    async fn progress(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        faulty(self.plan, || "read the progress".to_owned(), self.inner.progress()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryFeedSink, MemoryObjectSource};

    /// A body of one record numbered `n`.
    fn body(n: u32) -> crate::feed::FeedBody {
        crate::feed::FeedBody::parse(format!("{{\"kind\":\"k\",\"n\":{n}}}\n").into_bytes()).unwrap()
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        // The memory ports never wait: one poll finishes them.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("memory ports do not wait"),
        }
    }

    #[test]
    fn faults_hit_the_scheduled_calls_and_a_timeout_still_writes() {
        let plan = FaultPlan::new([None, Some(Fault::Throttle), Some(Fault::Timeout), Some(Fault::Error)]);
        let inner = MemoryFeedSink::default();
        let sink = FaultyFeedSink {
            inner: &inner,
            plan: &plan,
        };
        assert!(block_on(sink.put("a", body(1))).is_ok());
        let throttled = block_on(sink.put("b", body(2))).unwrap_err();
        assert!(throttled.retryable && throttled.operation == "put b");
        assert!(block_on(sink.put("c", body(3))).unwrap_err().retryable);
        assert!(!block_on(sink.put("d", body(4))).unwrap_err().retryable);
        assert!(block_on(sink.put("e", body(5))).is_ok());
        assert_eq!(inner.keys(), ["a", "c", "e"], "only the timed-out write went through");
        assert_eq!(plan.injected().len(), 3);
        assert_eq!(plan.calls(), 5);
    }

    #[test]
    fn a_timed_out_read_breaks_the_stream_part_way() {
        let plan = FaultPlan::new([Some(Fault::Timeout)]);
        let inner = MemoryObjectSource::default();
        inner.insert("b", "k", vec![b'x'; 1000]);
        let source = FaultyObjectSource {
            inner: &inner,
            plan: &plan,
        };
        let mut reader = block_on(source.open("b", "k")).unwrap();
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!((out.len(), err.kind()), (100, io::ErrorKind::TimedOut));
        let mut whole = Vec::new();
        block_on(source.open("b", "k"))
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        assert_eq!(whole.len(), 1000);
    }
}
