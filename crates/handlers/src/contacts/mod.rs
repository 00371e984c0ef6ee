//! The contact-events handler: contact events (SQS) and contact records (Kinesis) in, legs
//! stored, the stream-basis records they touch recomputed and written to their feed objects.
//!
//! Per batch (architecture.md, "Contact events and contact records"):
//! 1. every input is decoded; one that is not a contact event or contact record is kept under
//!    rejects with the reason, and its message or record succeeds;
//! 2. the legs the inputs patch are loaded in one round trip, merged (order-free), and stored
//!    with a version condition (a racing batch makes this one reload and merge again);
//! 3. each leg is filed under the intervals it contributes to (store design:
//!    [`connect_wfm_core::contact::store`]), and every interval it enters or leaves is recomputed
//!    from the legs filed there and written over its feed object;
//! 4. intervals written before their end go to the closing set: [`close_intervals`] (the
//!    scheduled sweep's call) writes them again once they have ended, with their backlog, and
//!    writes the records of queues where contacts are only waiting.
//!
//! Errors follow architecture.md's policy: a transient failure fails the inputs of the legs or
//! intervals it touches (SQS re-delivers the message, Kinesis replays from the earliest failed
//! record; the replay is harmless, the merge being idempotent); a permanent one keeps those
//! inputs under rejects with the reason.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use connect_wfm_core::contact::store::{ContactStore, Filing, LegWrite, PriorFiling, StoredLeg};
use connect_wfm_core::contact::{
    ContactInput, INTERVAL_MINUTES, IntervalKey, Leg, LegKey, QueueNames, Reconciliation, StreamSettings,
    decode_contact_input, reconcile, retracted_stream_queue_interval, stream_queue_interval,
};
use connect_wfm_core::feed;
use connect_wfm_core::ports::{FeedSink, PortError};
use connect_wfm_core::report::QueueInterval;
use futures_util::StreamExt as _;
use tracing::Instrument as _;

use crate::counts::{counts, record_lag};
pub use crate::input::kinesis::KinesisBatch;
pub use crate::input::sqs::SqsBatch;
use crate::input::{BatchInput, keep_rejects, kinesis_response, sqs_response};

/// Name of this function in rejects and logs.
pub const FUNCTION: &str = "contact-events";

/// Tries of a versioned leg write before its inputs are failed for a later retry.
const LEG_WRITE_ATTEMPTS: usize = 5;
/// Computations of one interval's record while other writers keep filing legs under it; the
/// last of them writes the record again anyway.
const RECORD_ATTEMPTS: usize = 3;
/// Legs and intervals worked on at once.
const CONCURRENCY: usize = 16;
/// How long after an interval's end [`close_intervals`] still writes the records of its waiting
/// legs: two sweeps, so one failed sweep is made good by the next.
pub const CLOSE_WINDOW: TimeDelta = TimeDelta::seconds(120);

/// The clock an interval is judged ended by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock (the Lambda functions).
    At(DateTime<Utc>),
    /// The newest input time processed, this batch included (`connect-wfm replay`, so a replay
    /// gives the same records whenever it runs).
    NewestInput,
}

/// What the handler needs besides its ports; built once at cold start.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Thresholds, SLAs and instance aliases from the mapping file.
    pub stream: StreamSettings,
}

counts! {
    /// Counts of what one batch did (logged once per batch; the metrics are what an operator
    /// acts on: input volume by kind, rejects, retries, late data).
    pub struct BatchStats {
        /// Messages or records in the batch.
        inputs,
        /// Contact events among them (EventBridge, through the queue).
        contact_events => counter "ContactEvents",
        /// Contact records among them (the CTR stream, or a CTR on the queue).
        contact_records => counter "ContactRecords",
        /// Inputs kept under rejects (bad input, or a permanent storage failure).
        rejected => counter "Rejects",
        /// Inputs that carry nothing the stream basis reads (an unknown event type).
        ignored,
        /// Inputs more than [`CLOSE_WINDOW`] older than the batch's clock: they arrive after
        /// the sweep wrote their interval, whose record they now rewrite.
        late => counter "LateInputs",
        /// Legs the batch changed (merged into their stored copy).
        legs_changed => counter "LegsMerged",
        /// Versioned leg writes that lost a race and were merged again.
        conflicts,
        /// Interval records written.
        records_written => counter "IntervalRecords",
        /// Inputs failed for a retry.
        failed => counter "FailedInputs",
        ;
        /// The newest input time of the batch (EventBridge `time`, CTR LastUpdateTimestamp).
        newest_input: Option<DateTime<Utc>>,
    }
}

impl BatchStats {
    /// Counts this batch in the process's metrics recorder (CloudWatch EMF in Lambda, nothing
    /// elsewhere): the counts above and the histogram `EventLagSeconds` (`now` − the batch's
    /// newest input time).
    pub fn record_metrics(&self, now: DateTime<Utc>) {
        self.record_counts();
        record_lag(now, self.newest_input);
    }
}

/// The function's event: the contact-event queue's SQS batch or the CTR stream's Kinesis batch,
/// told apart by the records' `eventSource` (`aws:kinesis` for the stream). Each is read as
/// leniently as the other functions' inputs.
#[derive(Debug)]
pub enum ContactBatch {
    Sqs(SqsBatch),
    Kinesis(KinesisBatch),
}

impl<'de> serde::Deserialize<'de> for ContactBatch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        /// Only the sources of the records: every other field is skipped.
        #[derive(serde::Deserialize)]
        struct Probe {
            #[serde(rename = "Records", default)]
            records: Vec<Source>,
        }
        #[derive(serde::Deserialize)]
        struct Source {
            #[serde(rename = "eventSource")]
            event_source: Option<String>,
        }
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let probe: Probe = serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
        let kinesis = probe
            .records
            .iter()
            .any(|r| r.event_source.as_deref() == Some("aws:kinesis"));
        if kinesis {
            serde_json::from_str(raw.get()).map(ContactBatch::Kinesis)
        } else {
            serde_json::from_str(raw.get()).map(ContactBatch::Sqs)
        }
        .map_err(D::Error::custom)
    }
}

/// The Lambda response to either batch: `{"batchItemFailures": [...]}`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum ContactResponse {
    Sqs(aws_lambda_events::event::sqs::SqsBatchResponse),
    Kinesis(aws_lambda_events::event::streams::KinesisEventResponse),
}

/// The response to a [`ContactBatch`] and what it did.
#[derive(Debug, Clone)]
pub struct ContactOutcome {
    pub response: ContactResponse,
    pub stats: BatchStats,
}

/// Processes one batch of either source (the Lambda function's entry).
pub async fn handle_batch<S: ContactStore, F: FeedSink>(
    batch: &ContactBatch,
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> ContactOutcome {
    match batch {
        ContactBatch::Sqs(batch) => {
            let outcome = handle_sqs(batch, store, sink, settings, clock, now).await;
            ContactOutcome {
                response: ContactResponse::Sqs(outcome.response),
                stats: outcome.stats,
            }
        }
        ContactBatch::Kinesis(batch) => {
            let outcome = handle_kinesis(batch, store, sink, settings, clock, now).await;
            ContactOutcome {
                response: ContactResponse::Kinesis(outcome.response),
                stats: outcome.stats,
            }
        }
    }
}

/// The Lambda response to an SQS batch and what the batch did.
#[derive(Debug, Clone)]
pub struct SqsOutcome {
    /// Partial batch response: the messages to deliver again.
    pub response: aws_lambda_events::event::sqs::SqsBatchResponse,
    /// Counts.
    pub stats: BatchStats,
}

/// The Lambda response to a Kinesis batch and what the batch did.
#[derive(Debug, Clone)]
pub struct KinesisOutcome {
    /// The earliest failed record, from which Lambda replays.
    pub response: aws_lambda_events::event::streams::KinesisEventResponse,
    /// Counts.
    pub stats: BatchStats,
}

impl KinesisOutcome {
    /// The sequence number Lambda replays from, if a record failed.
    pub fn failed_from(&self) -> Option<&str> {
        self.response
            .batch_item_failures
            .first()
            .and_then(|f| f.item_identifier.as_deref())
    }
}

/// Processes one SQS batch of contact events (and contact records, told apart by content).
/// Never fails as a whole.
pub async fn handle_sqs<S: ContactStore, F: FeedSink>(
    batch: &SqsBatch,
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> SqsOutcome {
    let messages = &batch.records;
    let (failed, stats) = process(messages, store, sink, settings, clock, now)
        .instrument(batch.span())
        .await;
    SqsOutcome {
        response: sqs_response(messages, failed),
        stats,
    }
}

/// Processes one Kinesis batch of contact records. Never fails as a whole.
pub async fn handle_kinesis<S: ContactStore, F: FeedSink>(
    batch: &KinesisBatch,
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> KinesisOutcome {
    let records = &batch.records;
    let (failed, stats) = process(records, store, sink, settings, clock, now)
        .instrument(batch.span())
        .await;
    KinesisOutcome {
        response: kinesis_response(records, failed),
        stats,
    }
}

/// What [`close_intervals`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseOutcome {
    /// Records written.
    pub written: usize,
    /// Intervals closed (left the closing set).
    pub closed: usize,
    /// Intervals that could not be closed now (they stay in the closing set), with the reason.
    pub failed: Vec<(IntervalKey, String)>,
}

/// Closes the intervals that have ended by `clock`: files every waiting leg under the
/// intervals whose end it waited through within the last [`CLOSE_WINDOW`] (so a queue with only
/// waiting contacts gets its backlog record), then writes every interval of the closing set that
/// has ended, with its backlog, and takes it out of the set. The scheduled sweep calls this
/// every minute; idempotent (a repeated run writes the same objects again, nothing else).
pub async fn close_intervals<S: ContactStore, F: FeedSink>(
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: DateTime<Utc>,
) -> Result<CloseOutcome, PortError> {
    close_intervals_since(store, sink, settings, Some(clock - CLOSE_WINDOW), clock).await
}

/// [`close_intervals`] for the interval ends after `since` (`None`: every end a waiting leg
/// waited through): what a run that jumps over many interval ends at once needs, such as
/// `connect-wfm replay` at the newest event time.
pub async fn close_intervals_since<S: ContactStore, F: FeedSink>(
    store: &S,
    sink: &F,
    settings: &Settings,
    since: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
) -> Result<CloseOutcome, PortError> {
    let mut outcome = CloseOutcome::default();
    let mut due = BTreeSet::new();
    for stored in store.waiting_legs().await? {
        // Only the interval ends of the window: earlier ones were filed by earlier sweeps, or
        // by the handler, which files every interval a leg waited through when its next input
        // comes (so a sweep outage longer than the window is made good by the contact's next
        // event, not by scanning every end a long wait went through, every minute).
        let intervals: Vec<IntervalKey> = stored
            .leg
            .intervals(clock)
            .into_iter()
            .filter(|k| k.end() <= clock && since.is_none_or(|since| k.end() > since))
            .collect();
        if intervals.is_empty() {
            continue;
        }
        let filing = Filing {
            intervals: intervals.clone(),
            left: Vec::new(),
            waiting: is_waiting(&stored.leg),
            was_waiting: true,
        };
        store.file_leg(&stored, &filing).await?;
        due.extend(intervals);
    }
    let due: Vec<IntervalKey> = due.into_iter().collect();
    if !due.is_empty() {
        store.mark_closing(&due).await?;
    }
    let closing: Vec<IntervalKey> = store
        .closing()
        .await?
        .into_iter()
        .filter(|k| k.end() <= clock)
        .collect();
    let names = load_names(store, &closing, &QueueNames::default()).await?;
    let results: Vec<_> = futures_util::stream::iter(closing.iter())
        .map(|key| {
            let names = &names;
            async move { (key, write_record(key, store, sink, names, settings, clock).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let unnamed: Vec<IntervalKey> = closing
        .iter()
        .filter(|k| names.name(&k.instance_id, &k.queue_id).is_none())
        .cloned()
        .collect();
    for (key, result) in results {
        let closed = match result {
            Ok(written) => {
                outcome.written += usize::from(written);
                if unnamed.contains(key) {
                    // Remembered before it leaves the closing set: learning the name rewrites it.
                    match store.mark_unnamed(std::slice::from_ref(key)).await {
                        Ok(()) => store.closed(key).await,
                        Err(e) => Err(e),
                    }
                } else {
                    store.closed(key).await
                }
            }
            Err(e) => Err(e),
        };
        match closed {
            Ok(()) => outcome.closed += 1,
            Err(e) => {
                tracing::error!(instance_id = %key.instance_id, queue_id = %key.queue_id, interval_start = %key.interval_start, error = %e, "could not close interval; the next sweep tries again");
                outcome.failed.push((key.clone(), e.to_string()));
            }
        }
    }
    tracing::info!(
        written = outcome.written,
        closed = outcome.closed,
        failed = outcome.failed.len(),
        "stream-basis intervals closed"
    );
    Ok(outcome)
}

fn is_waiting(leg: &Leg) -> bool {
    leg.queued().is_some() && leg.left_queue_at().is_none()
}

/// One decoded input and what it patches.
struct Decoded {
    index: usize,
    input: ContactInput,
}

/// Why inputs failed: transient ones come again, permanent ones go to rejects.
#[derive(Default)]
struct Failures {
    transient: BTreeSet<usize>,
    permanent: BTreeMap<usize, String>,
}

impl Failures {
    fn fail(&mut self, inputs: impl IntoIterator<Item = usize>, error: &PortError) {
        for index in inputs {
            if error.retryable {
                self.permanent.remove(&index);
                self.transient.insert(index);
            } else if !self.transient.contains(&index) {
                self.permanent.entry(index).or_insert_with(|| error.to_string());
            }
        }
    }
}

/// The batch's work; returns the inputs to fail (ascending) and the counts.
async fn process<I: BatchInput, S: ContactStore, F: FeedSink>(
    inputs: &[I],
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> (Vec<usize>, BatchStats) {
    let mut stats = BatchStats {
        inputs: inputs.len(),
        ..BatchStats::default()
    };
    let mut rejects = Vec::new();
    let mut decoded = Vec::new();
    // Positions in this batch (not the inputs' own `index`, which a batch built of another's
    // inputs would not match).
    for (position, input) in inputs.iter().enumerate() {
        let result = match input.data() {
            Ok(bytes) => decode_contact_input(bytes).map_err(|e| e.to_string()),
            Err((reason, _)) => Err(reason.clone()),
        };
        match result {
            Ok(decoded_input) => {
                match &decoded_input {
                    ContactInput::Event(_) => stats.contact_events += 1,
                    ContactInput::Record(_) => stats.contact_records += 1,
                }
                decoded.push(Decoded {
                    index: position,
                    input: decoded_input,
                });
            }
            Err(reason) => {
                tracing::warn!(input = %input.describe(), %reason, "contact input rejected");
                rejects.push((position, reason));
            }
        }
    }
    let mut failures = Failures::default();
    stats.rejected = rejects.len();
    failures
        .transient
        .extend(keep_rejects(FUNCTION, inputs, rejects, sink, now).await);

    if !decoded.is_empty() {
        process_inputs(&decoded, store, sink, settings, clock, &mut failures, &mut stats).await;
    }

    let set_aside: Vec<(usize, String)> = failures
        .permanent
        .iter()
        .map(|(i, reason)| (*i, format!("could not be stored (permanent): {reason}")))
        .collect();
    stats.rejected += set_aside.len();
    failures
        .transient
        .extend(keep_rejects(FUNCTION, inputs, set_aside, sink, now).await);
    stats.failed = failures.transient.len();
    stats.log_counts("contact input batch processed");
    (failures.transient.into_iter().collect(), stats)
}

/// One leg's patch of this batch and the inputs it came from.
struct LegWork {
    patch: Leg,
    inputs: Vec<usize>,
}

async fn process_inputs<S: ContactStore, F: FeedSink>(
    decoded: &[Decoded],
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: Clock,
    failures: &mut Failures,
    stats: &mut BatchStats,
) {
    let mut work: BTreeMap<LegKey, LegWork> = BTreeMap::new();
    let mut learned = QueueNames::default();
    let mut newest: Option<DateTime<Utc>> = None;
    let mut with_names = Vec::new();
    for d in decoded {
        let patches = d.input.leg_patches();
        if patches.is_empty() {
            stats.ignored += 1;
            continue;
        }
        newest = newest.max(Some(d.input.time()));
        for patch in patches {
            let slot = work.entry(patch.key()).or_insert_with(|| LegWork {
                patch: Leg::new(patch.key()),
                inputs: Vec::new(),
            });
            slot.patch.merge(&patch);
            slot.inputs.push(d.index);
        }
        for (arn, name) in d.input.queue_names() {
            learned.learn(&arn, name);
            with_names.push(d.index);
        }
    }
    if work.is_empty() {
        return;
    }
    // Queues whose name this batch stored: their records written while it was unknown are
    // written again below.
    let mut named_now = Vec::new();
    if learned.entries().next().is_some() {
        match learn_names(store, &learned).await {
            Ok(queues) => named_now = queues,
            Err(e) => {
                tracing::error!(error = %e, "could not store queue names");
                failures.fail(with_names.iter().copied(), &e);
            }
        }
    }
    let clock = match clock {
        Clock::At(at) => at,
        Clock::NewestInput => match store.progress().await {
            Ok(progress) => progress.max(newest).unwrap_or_else(Utc::now),
            Err(e) => {
                tracing::error!(error = %e, "could not read the progress");
                failures.fail(work.values().flat_map(|w| w.inputs.clone()), &e);
                return;
            }
        },
    };

    stats.newest_input = newest;
    stats.late = decoded
        .iter()
        .filter(|d| !d.input.leg_patches().is_empty() && d.input.time() < clock - CLOSE_WINDOW)
        .count();

    let keys: Vec<LegKey> = work.keys().cloned().collect();
    let loaded: BTreeMap<LegKey, StoredLeg> = match store.load_legs(&keys).await {
        Ok(legs) => legs.into_iter().map(|s| (s.leg.key(), s)).collect(),
        Err(e) => {
            tracing::error!(legs = keys.len(), error = %e, "could not load legs");
            failures.fail(work.values().flat_map(|w| w.inputs.clone()), &e);
            return;
        }
    };

    let results: Vec<_> = futures_util::stream::iter(work.iter())
        .map(|(key, w)| {
            let stored = loaded.get(key).cloned();
            async move { (key, store_and_file(key, &w.patch, stored, store, clock).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    // Interval → the inputs whose legs touch it.
    let mut touched: BTreeMap<IntervalKey, BTreeSet<usize>> = BTreeMap::new();
    for (key, result) in results {
        let inputs = &work[key].inputs;
        match result {
            Ok(filed) => {
                stats.legs_changed += usize::from(filed.changed);
                stats.conflicts += filed.conflicts;
                for interval in filed.intervals {
                    touched.entry(interval).or_default().extend(inputs.iter().copied());
                }
            }
            Err(e) => {
                tracing::error!(instance_id = %key.instance_id, contact_id = %key.contact_id, error = %e, retryable = e.retryable, "could not store leg");
                failures.fail(inputs.iter().copied(), &e);
            }
        }
    }

    let interval_keys: Vec<IntervalKey> = touched.keys().cloned().collect();
    let names = match load_names(store, &interval_keys, &learned).await {
        Ok(names) => names,
        Err(e) => {
            tracing::error!(error = %e, "could not load queue names");
            failures.fail(touched.values().flatten().copied(), &e);
            return;
        }
    };
    let results: Vec<_> = futures_util::stream::iter(interval_keys.iter())
        .map(|key| {
            let names = &names;
            async move { (key, write_record(key, store, sink, names, settings, clock).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut closing = Vec::new();
    let mut unnamed = Vec::new();
    for (key, result) in results {
        match result {
            Ok(written) => {
                stats.records_written += usize::from(written);
                if written && key.end() > clock {
                    closing.push(key.clone());
                }
                if names.name(&key.instance_id, &key.queue_id).is_none() {
                    unnamed.push(key.clone());
                }
            }
            Err(e) => {
                tracing::error!(queue_id = %key.queue_id, interval_start = %key.interval_start, error = %e, retryable = e.retryable, "could not write interval record");
                failures.fail(touched[key].iter().copied(), &e);
            }
        }
    }
    if !closing.is_empty() {
        if let Err(e) = store.mark_closing(&closing).await {
            tracing::error!(error = %e, "could not mark intervals for closing");
            failures.fail(closing.iter().flat_map(|k| touched[k].iter().copied()), &e);
        }
    }
    if let Err(e) = name_unnamed(store, sink, settings, clock, &unnamed, &named_now).await {
        tracing::error!(error = %e, "could not write the records of queues whose name was learned");
        let inputs: BTreeSet<usize> = unnamed
            .iter()
            .flat_map(|k| touched[k].iter().copied())
            .chain(if named_now.is_empty() { Vec::new() } else { with_names })
            .collect();
        failures.fail(inputs, &e);
    }
    if let Some(newest) = newest {
        if let Err(e) = store.advance_progress(newest).await {
            // The records are written; only the CLI's clock and the health check read this.
            tracing::warn!(error = %e, "could not store the newest input time");
        }
    }
}

/// What storing one leg did.
struct Filed {
    changed: bool,
    conflicts: usize,
    /// Intervals to recompute: those it contributes to and those it left.
    intervals: Vec<IntervalKey>,
}

/// Merges `patch` into the stored leg, stores it (reloading and merging again after a lost
/// race) and files it. A leg the patch does not change is filed again all the same: a retry
/// after a failure between storing and filing must still file it (filing is idempotent).
async fn store_and_file<S: ContactStore>(
    key: &LegKey,
    patch: &Leg,
    mut stored: Option<StoredLeg>,
    store: &S,
    clock: DateTime<Utc>,
) -> Result<Filed, PortError> {
    let mut conflicts = 0;
    for _ in 0..LEG_WRITE_ATTEMPTS {
        let (mut leg, expected) = match &stored {
            Some(s) => (s.leg.clone(), Some(s.version)),
            None => (Leg::new(key.clone()), None),
        };
        // Where the stored leg was filed: judged a little ahead of the clock, so that a racing
        // writer whose clock runs ahead never leaves a copy of this older version behind.
        let ahead = clock + TimeDelta::minutes(INTERVAL_MINUTES.into());
        // Where the stored version was filed, and the versions before it when their filing may
        // not have finished (a retry after a failure between storing and filing finds the new
        // version stored: only its prior filing says where the old copies lie).
        let prior = match &stored {
            Some(s) => {
                let mut intervals = s.leg.intervals(ahead);
                intervals.extend(
                    s.prior
                        .intervals
                        .iter()
                        .filter(|k| !intervals.contains(k))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                PriorFiling {
                    intervals,
                    waiting: is_waiting(&s.leg) || s.prior.waiting,
                }
            }
            None => PriorFiling::default(),
        };
        let changed = leg.merge(patch);
        let now_stored = match (changed, &stored) {
            (false, Some(s)) => s.clone(),
            _ => match store.store_leg(&leg, expected, &prior).await? {
                LegWrite::Stored { version } => StoredLeg {
                    leg,
                    version,
                    prior: prior.clone(),
                },
                LegWrite::Conflict => {
                    conflicts += 1;
                    stored = store.load_legs(std::slice::from_ref(key)).await?.into_iter().next();
                    continue;
                }
            },
        };
        let after = now_stored.leg.intervals(clock);
        // Left: where the stored version counted and this one does not, both judged at the
        // same clock ahead. (Judging this version at the clock only would tombstone the
        // intervals it will wait through as they end, and a tombstone of this version there
        // would keep its copy out when the sweep files it.)
        let after_ahead = now_stored.leg.intervals(ahead);
        let left: Vec<IntervalKey> = prior
            .intervals
            .iter()
            .filter(|k| !after_ahead.contains(k))
            .cloned()
            .collect();
        let filing = Filing {
            intervals: after.clone(),
            left: left.clone(),
            waiting: is_waiting(&now_stored.leg),
            was_waiting: prior.waiting,
        };
        // The intervals the leg left where it had been filed: their records change too.
        let vacated = store.file_leg(&now_stored, &filing).await?;
        let mut intervals = after;
        intervals.extend(vacated);
        return Ok(Filed {
            changed,
            conflicts,
            intervals,
        });
    }
    Err(PortError::new(
        format!("store leg {}/{}", key.instance_id, key.contact_id),
        format!("{LEG_WRITE_ATTEMPTS} versioned writes lost to concurrent writers"),
        true,
    ))
}

/// Stores the names learned that differ from the stored ones (names rarely change: one read
/// instead of a write per queue and batch); returns those queues (instance id, queue id).
async fn learn_names<S: ContactStore>(store: &S, learned: &QueueNames) -> Result<Vec<(String, String)>, PortError> {
    let queues: Vec<(String, String)> = learned
        .entries()
        .map(|(instance, queue, _)| (instance.to_owned(), queue.to_owned()))
        .collect();
    let stored = store.queue_names(&queues).await?;
    let mut changed = QueueNames::default();
    for (instance, queue, fact) in learned.entries() {
        if stored.name(instance, queue) != Some(fact.value.as_str()) {
            changed.learn_by_id(instance, queue, fact.clone());
        }
    }
    if changed.entries().next().is_some() {
        store.learn_queue_names(&changed).await?;
    }
    Ok(changed
        .entries()
        .map(|(instance, queue, _)| (instance.to_owned(), queue.to_owned()))
        .collect())
}

/// Makes the queue name of a record independent of when the name was learned: remembers
/// `unnamed` (intervals just written while their queue's name was unknown), then writes again
/// every remembered interval of the queues of `unnamed` and of `named_now` (queues whose name
/// was just stored) whose name is stored now, and forgets them. Marking before reading the
/// names again means a name stored meanwhile by a concurrent batch is seen by one of the two.
async fn name_unnamed<S: ContactStore, F: FeedSink>(
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: DateTime<Utc>,
    unnamed: &[IntervalKey],
    named_now: &[(String, String)],
) -> Result<usize, PortError> {
    if !unnamed.is_empty() {
        store.mark_unnamed(unnamed).await?;
    }
    let queues: BTreeSet<(String, String)> = unnamed
        .iter()
        .map(|k| (k.instance_id.clone(), k.queue_id.clone()))
        .chain(named_now.iter().cloned())
        .collect();
    if queues.is_empty() {
        return Ok(0);
    }
    let queues: Vec<(String, String)> = queues.into_iter().collect();
    let names = store.queue_names(&queues).await?;
    let mut written = 0;
    for (instance_id, queue_id) in &queues {
        if names.name(instance_id, queue_id).is_none() {
            continue;
        }
        let keys = store.unnamed(instance_id, queue_id).await?;
        for key in &keys {
            write_record(key, store, sink, &names, settings, clock).await?;
            written += 1;
        }
        if !keys.is_empty() {
            tracing::info!(%queue_id, records = keys.len(), "queue name learned; records written while it was unknown written again");
            store.named(&keys).await?;
        }
    }
    Ok(written)
}

/// The queue names of these intervals' queues: stored ones, and those learned in this batch.
async fn load_names<S: ContactStore>(
    store: &S,
    keys: &[IntervalKey],
    learned: &QueueNames,
) -> Result<QueueNames, PortError> {
    let queues: BTreeSet<(String, String)> = keys
        .iter()
        .map(|k| (k.instance_id.clone(), k.queue_id.clone()))
        .collect();
    if queues.is_empty() {
        return Ok(learned.clone());
    }
    let queues: Vec<(String, String)> = queues.into_iter().collect();
    let mut names = store.queue_names(&queues).await?;
    names.merge(learned);
    Ok(names)
}

/// Computes the record of `key` from the legs filed there and writes it over its feed object;
/// again while other writers file legs there meanwhile (so the last object written holds every
/// leg filed before it). Every key given here had, or has, a leg filed there: when none is left
/// the retraction ([`retracted_stream_queue_interval`]) overwrites the object written before,
/// which would otherwise stand (the sink cannot remove objects). True when an active record was
/// written.
async fn write_record<S: ContactStore, F: FeedSink>(
    key: &IntervalKey,
    store: &S,
    sink: &F,
    names: &QueueNames,
    settings: &Settings,
    clock: DateTime<Utc>,
) -> Result<bool, PortError> {
    let mut written = false;
    for _ in 0..RECORD_ATTEMPTS {
        let filed = store.interval_legs(key).await?;
        let record = match stream_queue_interval(key, &filed.legs, names, &settings.stream, clock) {
            Some(record) => {
                written = true;
                record
            }
            None => {
                tracing::info!(queue_id = %key.queue_id, interval_start = %key.interval_start, "interval has no contacts any more; its record is retracted");
                written = false;
                retracted_stream_queue_interval(key, names, &settings.stream, clock)
            }
        };
        sink.put(&record.feed_key(), feed::to_json_lines(&[record])).await?;
        if store.interval_revision(key).await? == filed.revision {
            break;
        }
    }
    Ok(written)
}

/// Compares report-basis `queue_interval` records (Connect's queue report, as the
/// historical-reports function makes them) with the stream-basis records of the same instance,
/// queue and interval, computed now from the stored legs; logs one line per record that has a
/// stream record (`queue_interval reconciliation ... field report=.. stream=..;` or `agrees`,
/// WARN when they differ) and returns the comparisons. A row whose queue name was never learned
/// from a CTR, or that has no stream record, is skipped. The instance of a row is its alias,
/// mapped to an id by the mapping's `instances` (else taken as the id).
pub async fn reconcile_reports<S: ContactStore>(
    reports: &[QueueInterval],
    store: &S,
    settings: &Settings,
    clock: DateTime<Utc>,
) -> Result<Vec<Reconciliation>, PortError> {
    let mut by_instance: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let instance_id = |alias: &str| {
        settings
            .stream
            .instances
            .get(alias)
            .cloned()
            .unwrap_or_else(|| alias.to_owned())
    };
    for row in reports {
        by_instance
            .entry(instance_id(&row.instance))
            .or_default()
            .insert(row.queue.clone().unwrap_or_default());
    }
    let mut ids: BTreeMap<(String, String), String> = BTreeMap::new();
    for (instance, names) in by_instance {
        let names: Vec<String> = names.into_iter().collect();
        for (name, queue_id) in store.queue_ids_by_name(&instance, &names).await? {
            ids.insert((instance.clone(), name), queue_id);
        }
    }
    let keys: Vec<IntervalKey> = reports
        .iter()
        .filter_map(|row| {
            let instance_id = instance_id(&row.instance);
            let queue_id = ids
                .get(&(instance_id.clone(), row.queue.clone().unwrap_or_default()))?
                .clone();
            Some(IntervalKey {
                instance_id,
                queue_id,
                interval_start: row.interval_start,
            })
        })
        .collect();
    let names = load_names(store, &keys, &QueueNames::default()).await?;
    let mut out = Vec::new();
    for row in reports {
        let instance_id = instance_id(&row.instance);
        let Some(queue_id) = ids.get(&(instance_id.clone(), row.queue.clone().unwrap_or_default())) else {
            continue;
        };
        let key = IntervalKey {
            instance_id,
            queue_id: queue_id.clone(),
            interval_start: row.interval_start,
        };
        let filed = store.interval_legs(&key).await?;
        let Some(stream) = stream_queue_interval(&key, &filed.legs, &names, &settings.stream, clock) else {
            continue;
        };
        match reconcile(row, &stream) {
            Ok(reconciliation) => {
                let differences = reconciliation.differences().count();
                if differences == 0 {
                    tracing::info!(line = %reconciliation, "queue_interval reconciliation");
                } else {
                    tracing::warn!(line = %reconciliation, differences, "queue_interval reconciliation");
                }
                out.push(reconciliation);
            }
            Err(e) => tracing::warn!(queue_id = %key.queue_id, error = %e, "report row and stream record do not match"),
        }
    }
    Ok(out)
}
