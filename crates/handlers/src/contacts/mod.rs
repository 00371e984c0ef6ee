//! The contact-events handler: contact events (SQS) and contact records (Kinesis) in, legs
//! stored, the stream-basis records they touch recomputed and written to their feed objects.
//!
//! Contact-record files that Firehose writes to S3 come as S3 notifications on SQS
//! ([`handle_ctr_files`]): each object is claimed once and its records run through the same
//! flow, in chunks.
//!
//! Per batch (architecture.md, "Contact events and contact records"):
//! 1. every input is decoded; one that is not a contact event or contact record is kept under
//!    rejects with the reason, and its message or record succeeds;
//! 2. the legs the inputs patch are loaded in one round trip (with the stored names of the
//!    queues the inputs name), merged (order-free), and each changed leg stored with a version
//!    condition (a racing batch makes this one reload and merge again), with where it is filed;
//! 3. the batch's filings (store design: [`connect_wfm_core::contact::store`]) are written in
//!    one request, and every interval a leg enters, leaves or changes in is recomputed from
//!    what is filed there and written over its feed object;
//! 4. intervals written before their end go to the closing set (once): [`close_intervals`] (the
//!    scheduled sweep's call) writes them again once they have ended, with their backlog, and
//!    writes the records of queues where contacts are only waiting; intervals written while
//!    their queue's name is unknown go to the unnamed set (once), written again by the batch
//!    that stores the name.
//!
//! Errors follow architecture.md's policy: a transient failure fails the inputs of the legs or
//! intervals it touches (SQS re-delivers the message, Kinesis replays from the earliest failed
//! record; the replay is harmless, the merge being idempotent); a permanent one keeps those
//! inputs under rejects with the reason.

mod files;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use connect_wfm_core::contact::store::{ContactStore, Filing, LegFiling, LegWrite, StoredLeg};
use connect_wfm_core::contact::{
    ContactInput, IntervalKey, Leg, LegKey, LegSummary, QueueNames, Reconciliation, StreamSettings,
    decode_contact_input, reconcile, retracted_stream_queue_interval, stream_queue_interval_of,
};
use connect_wfm_core::feed;
use connect_wfm_core::ports::{ClaimStore, FeedSink, ObjectSource, PortError};
use connect_wfm_core::report::QueueInterval;
use futures_util::StreamExt as _;
use tracing::Instrument as _;

pub use crate::contacts::files::{
    CtrFiles, FILE_CHUNK, FileRecord, FilesOutcome, handle_ctr_files, is_s3_notification,
};
use crate::counts::{counts, record_lag};
pub use crate::input::kinesis::KinesisBatch;
pub use crate::input::sqs::{SqsBatch, SqsMessage};
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

/// What the handler needs besides its ports; built at cold start, and again when the mapping
/// file changes.
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
        /// Inputs that carry nothing the stream basis reads (an unknown event type, or the
        /// INITIATED event of a contact: [`ContactInput::stored_patches`]).
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
        /// Contact-record files (Firehose's objects in S3) read.
        ctr_files => counter "ContactRecordFiles",
        /// Contact-record files that failed (read again later, or kept in the DLQ).
        ctr_file_errors => counter "ContactRecordFileErrors",
        ;
        /// The newest input time of the batch (EventBridge `time`, CTR LastUpdateTimestamp).
        newest_input: Option<DateTime<Utc>>,
    }
}

impl BatchStats {
    /// Adds the counts of another batch (the chunks of a file, the files of a batch).
    pub fn add(&mut self, other: &BatchStats) {
        self.inputs += other.inputs;
        self.contact_events += other.contact_events;
        self.contact_records += other.contact_records;
        self.rejected += other.rejected;
        self.ignored += other.ignored;
        self.late += other.late;
        self.legs_changed += other.legs_changed;
        self.conflicts += other.conflicts;
        self.records_written += other.records_written;
        self.failed += other.failed;
        self.ctr_files += other.ctr_files;
        self.ctr_file_errors += other.ctr_file_errors;
        self.newest_input = self.newest_input.max(other.newest_input);
    }

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

/// Processes one batch of either source (the Lambda function's entry). With `files`, the
/// messages of an SQS batch that are S3 notifications ([`is_s3_notification`]: the queue of
/// the contact-record files) go to [`handle_ctr_files`], the others (contact events) to
/// [`handle_sqs`]; without, every message is a contact event or a reject.
pub async fn handle_batch<S: ContactStore, F: FeedSink, C: ClaimStore, O: ObjectSource>(
    batch: &ContactBatch,
    store: &S,
    sink: &F,
    files: Option<&CtrFiles<'_, C, O>>,
    settings: &Settings,
    clock: Clock,
    now: DateTime<Utc>,
) -> ContactOutcome {
    match batch {
        ContactBatch::Sqs(batch) => {
            let Some(files) = files else {
                let outcome = handle_sqs(batch, store, sink, settings, clock, now).await;
                return ContactOutcome {
                    response: ContactResponse::Sqs(outcome.response),
                    stats: outcome.stats,
                };
            };
            let (notifications, events): (Vec<SqsMessage>, Vec<SqsMessage>) = batch
                .records
                .iter()
                .cloned()
                .partition(|m| m.body().is_ok_and(is_s3_notification));
            let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
            let mut stats = BatchStats::default();
            if !notifications.is_empty() {
                let notifications = SqsBatch { records: notifications };
                let outcome = handle_ctr_files(&notifications, store, sink, files, settings, clock, now).await;
                response
                    .batch_item_failures
                    .extend(outcome.response.batch_item_failures);
                stats.add(&outcome.stats);
            }
            if !events.is_empty() {
                let events = SqsBatch { records: events };
                let outcome = handle_sqs(&events, store, sink, settings, clock, now).await;
                response
                    .batch_item_failures
                    .extend(outcome.response.batch_item_failures);
                stats.add(&outcome.stats);
            }
            ContactOutcome {
                response: ContactResponse::Sqs(response),
                stats,
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
    /// Intervals closed: written after their end (and out of the closing set).
    pub closed: usize,
    /// Intervals that could not be closed now (they stay in the closing set), with the reason.
    pub failed: Vec<(IntervalKey, String)>,
    /// Waiting hints taken out: none of their legs waits any more.
    pub hints_forgotten: usize,
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
    // The hinted legs themselves, not the hints, say who waits: a hint none of whose legs
    // waits is taken out (the batches never take hints out).
    let hints = store.waiting().await?;
    let hinted: Vec<LegKey> = hints
        .iter()
        .flat_map(|h| h.legs.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut filings = Vec::new();
    let mut due = BTreeSet::new();
    let mut stale = Vec::new();
    if !hinted.is_empty() {
        let loaded = store.load(&hinted, &[], false).await?;
        let legs: BTreeMap<LegKey, StoredLeg> = loaded.legs.into_iter().map(|s| (s.leg.key(), s)).collect();
        let waits = |key: &LegKey| legs.get(key).is_some_and(|s| is_waiting(&s.leg));
        stale = hints
            .iter()
            .filter(|h| !h.legs.iter().any(waits))
            .map(|h| h.id.clone())
            .collect();
        for key in hinted {
            let summary = legs.get(&key).and_then(|s| s.leg.summary());
            let Some(summary) = summary.filter(LegSummary::is_waiting) else {
                continue;
            };
            // Only the interval ends of the window: earlier ones were filed by earlier sweeps,
            // or by the handler, which files every interval a leg waited through when its next
            // input comes (so a sweep outage longer than the window is made good by the
            // contact's next event, not by scanning every end a long wait went through).
            let intervals: Vec<IntervalKey> = summary
                .intervals(clock)
                .into_iter()
                .filter(|k| k.end() <= clock && since.is_none_or(|since| k.end() > since))
                .collect();
            if intervals.is_empty() {
                continue;
            }
            due.extend(intervals.iter().cloned());
            filings.push(LegFiling {
                key,
                version: legs[&summary.key()].version,
                summary: Some(summary),
                intervals,
                left: Vec::new(),
                hint: false,
            });
        }
    }
    if !filings.is_empty() {
        store.file(&filings).await?;
    }
    if !stale.is_empty() {
        match store.forget_waiting(&stale).await {
            Ok(()) => outcome.hints_forgotten = stale.len(),
            // Read again by the next sweep, and taken out then.
            Err(e) => tracing::warn!(hints = stale.len(), error = %e, "could not take stale waiting hints out"),
        }
    }
    // The closing set's intervals that have ended, and those the waiting legs were just filed
    // under.
    let in_set: BTreeSet<IntervalKey> = store
        .closing()
        .await?
        .into_iter()
        .filter(|k| k.end() <= clock)
        .collect();
    let closing: Vec<IntervalKey> = in_set
        .iter()
        .chain(&due)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = load_names(store, &closing, &QueueNames::default()).await?;
    let results: Vec<_> = futures_util::stream::iter(closing.iter())
        .map(|key| {
            let names = &names;
            async move {
                (
                    key,
                    write_record(key, store, sink, names, settings, clock, Recount::Always).await,
                )
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let (mut closed, mut unnamed, mut retry) = (Vec::new(), Vec::new(), Vec::new());
    let mut due_closed = 0;
    for (key, result) in results {
        match result {
            Ok(written) => {
                outcome.written += usize::from(written.active);
                if in_set.contains(key) {
                    closed.push(key.clone());
                } else {
                    due_closed += 1;
                }
                if written.wrote && names.name(&key.instance_id, &key.queue_id).is_none() && !written.unnamed {
                    unnamed.push(key.clone());
                }
            }
            Err(e) => {
                tracing::error!(instance_id = %key.instance_id, queue_id = %key.queue_id, interval_start = %key.interval_start, error = %e, "could not close interval; the next sweep tries again");
                outcome.failed.push((key.clone(), e.to_string()));
                if !in_set.contains(key) {
                    // A waiting leg's interval: kept for the next sweep.
                    retry.push(key.clone());
                }
            }
        }
    }
    let count = closed.len();
    let result = async {
        // Remembered before they leave the closing set: learning the name rewrites them.
        if !retry.is_empty() || !unnamed.is_empty() {
            store.mark(&retry, &unnamed).await?;
        }
        if !closed.is_empty() {
            store.closed(&closed).await?;
        }
        Ok::<_, PortError>(())
    }
    .await;
    match result {
        Ok(()) => outcome.closed += count + due_closed,
        Err(e) => {
            tracing::error!(intervals = count, error = %e, "could not take closed intervals out of the closing set; the next sweep writes them again");
            outcome.failed.extend(closed.into_iter().map(|k| (k, e.to_string())));
        }
    }
    tracing::info!(
        written = outcome.written,
        closed = outcome.closed,
        failed = outcome.failed.len(),
        hints_forgotten = outcome.hints_forgotten,
        "stream-basis intervals closed"
    );
    Ok(outcome)
}

fn is_waiting(leg: &Leg) -> bool {
    leg.summary().is_some_and(|s| s.is_waiting())
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
    /// Each input's own patch of the leg (merged into `patch`).
    parts: Vec<Leg>,
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
        // An INITIATED event's own patch says nothing a record reads: not stored, a write per
        // contact saved. Its input is counted as ignored, like an unknown event type.
        let patches = d.input.stored_of(patches);
        if patches.is_empty() {
            stats.ignored += 1;
        }
        for patch in patches {
            let slot = work.entry(patch.key()).or_insert_with(|| LegWork {
                patch: Leg::new(patch.key()),
                parts: Vec::new(),
                inputs: Vec::new(),
            });
            slot.patch.merge(&patch);
            slot.parts.push(patch);
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
    let all_inputs = || work.values().flat_map(|w| w.inputs.clone());

    // One read: the legs, the stored names of the queues the inputs name (those of the records
    // they touch, mostly), and the progress when it is the clock.
    let keys: Vec<LegKey> = work.keys().cloned().collect();
    let queues: BTreeSet<(String, String)> = work
        .values()
        .filter_map(|w| Some((w.patch.instance_id.clone(), w.patch.queue_id()?)))
        .chain(learned.entries().map(|(i, q, _)| (i.to_owned(), q.to_owned())))
        .collect();
    let queues: Vec<(String, String)> = queues.into_iter().collect();
    // A replay's clock is the newest input time, kept for the next batch; the wall clock of the
    // Lambda functions needs no stored progress.
    let replay = clock == Clock::NewestInput;
    let loaded = match store.load(&keys, &queues, replay).await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(legs = keys.len(), error = %e, "could not load legs");
            failures.fail(all_inputs(), &e);
            return;
        }
    };
    let clock = match clock {
        Clock::At(at) => at,
        Clock::NewestInput => loaded.progress.max(newest).unwrap_or_else(Utc::now),
    };
    stats.newest_input = newest;
    stats.late = decoded
        .iter()
        .filter(|d| !d.input.leg_patches().is_empty() && d.input.time() < clock - CLOSE_WINDOW)
        .count();

    // Names learned that differ from the stored ones (names rarely change: no write per queue
    // and batch); the queues whose name this batch stores get their records written while it
    // was unknown written again below.
    let mut names = loaded.names;
    let mut named_now = Vec::new();
    let mut changed = QueueNames::default();
    for (instance, queue, fact) in learned.entries() {
        if names.name(instance, queue) != Some(fact.value.as_str()) {
            changed.learn_by_id(instance, queue, fact.clone());
        }
    }
    if changed.entries().next().is_some() {
        match store.learn_queue_names(&changed).await {
            Ok(()) => {
                named_now = changed
                    .entries()
                    .map(|(i, q, _)| (i.to_owned(), q.to_owned()))
                    .collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "could not store queue names");
                failures.fail(with_names.iter().copied(), &e);
            }
        }
    }
    names.merge(&learned);

    let mut loaded_legs: BTreeMap<LegKey, StoredLeg> = loaded.legs.into_iter().map(|s| (s.leg.key(), s)).collect();
    let results: Vec<_> = futures_util::stream::iter(work.iter())
        .map(|(key, w)| {
            let stored = loaded_legs.remove(key);
            async move { (key, store_leg(key, &w.patch, &w.parts, stored, store, clock).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    // Interval → the inputs whose legs touch it.
    let mut touched: BTreeMap<IntervalKey, BTreeSet<usize>> = BTreeMap::new();
    let mut filings = Vec::new();
    let mut filed_inputs = Vec::new();
    for (key, result) in results {
        let inputs = &work[key].inputs;
        match result {
            Ok(stored) => {
                stats.legs_changed += usize::from(stored.changed);
                stats.conflicts += stored.conflicts;
                for interval in stored.filing.intervals.iter().chain(&stored.filing.left) {
                    touched
                        .entry(interval.clone())
                        .or_default()
                        .extend(inputs.iter().copied());
                }
                filed_inputs.extend(inputs.iter().copied());
                filings.push(stored.filing);
            }
            Err(e) => {
                tracing::error!(instance_id = %key.instance_id, contact_id = %key.contact_id, error = %e, retryable = e.retryable, "could not store leg");
                failures.fail(inputs.iter().copied(), &e);
            }
        }
    }
    if filings.is_empty() {
        return;
    }

    let interval_keys: Vec<IntervalKey> = touched.keys().cloned().collect();
    let missing: BTreeSet<(String, String)> = interval_keys
        .iter()
        .filter(|k| names.name(&k.instance_id, &k.queue_id).is_none())
        .map(|k| (k.instance_id.clone(), k.queue_id.clone()))
        .collect();
    if !missing.is_empty() {
        // Legs whose queue no input of the batch named (a callback's predecessor, say).
        let missing: Vec<(String, String)> = missing.into_iter().filter(|q| !queues.contains(q)).collect();
        if !missing.is_empty() {
            match store.queue_names(&missing).await {
                Ok(stored) => {
                    names.merge(&stored);
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not load queue names");
                    failures.fail(filed_inputs, &e);
                    return;
                }
            }
        }
    }
    // One unconditional write request: the filings.
    if let Err(e) = store.file(&filings).await {
        tracing::error!(legs = filings.len(), error = %e, "could not file legs");
        failures.fail(filed_inputs, &e);
        return;
    }

    let results: Vec<_> = futures_util::stream::iter(interval_keys.iter())
        .map(|key| {
            let names = &names;
            async move {
                (
                    key,
                    write_record(key, store, sink, names, settings, clock, Recount::UnlessProvisional).await,
                )
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    // Intervals written before their end go to the closing set, those written while their
    // queue's name was unknown to the unnamed set: each once (the interval's read said where
    // it is).
    let (mut closing, mut unnamed) = (Vec::new(), Vec::new());
    for (key, result) in results {
        match result {
            Ok(written) => {
                stats.records_written += usize::from(written.active);
                if written.wrote && key.end() > clock && !written.closing {
                    closing.push(key.clone());
                }
                if written.wrote && names.name(&key.instance_id, &key.queue_id).is_none() && !written.unnamed {
                    unnamed.push(key.clone());
                }
            }
            Err(e) => {
                tracing::error!(queue_id = %key.queue_id, interval_start = %key.interval_start, error = %e, retryable = e.retryable, "could not write interval record");
                failures.fail(touched[key].iter().copied(), &e);
            }
        }
    }
    if !closing.is_empty() || !unnamed.is_empty() {
        if let Err(e) = store.mark(&closing, &unnamed).await {
            tracing::error!(error = %e, "could not mark intervals for closing or naming");
            failures.fail(
                closing.iter().chain(&unnamed).flat_map(|k| touched[k].iter().copied()),
                &e,
            );
            unnamed.clear();
        }
    }
    if !unnamed.is_empty() || !named_now.is_empty() {
        if let Err(e) = name_unnamed(store, sink, settings, clock, &unnamed, &named_now).await {
            tracing::error!(error = %e, "could not write the records of queues whose name was learned");
            let inputs: BTreeSet<usize> = unnamed
                .iter()
                .flat_map(|k| touched[k].iter().copied())
                .chain(if named_now.is_empty() { Vec::new() } else { with_names })
                .collect();
            failures.fail(inputs, &e);
        }
    }
    if replay {
        if let Some(newest) = newest {
            if let Err(e) = store.advance_progress(newest).await {
                // The records are written; only the clock of a replay reads this.
                tracing::warn!(error = %e, "could not store the newest input time");
            }
        }
    }
}

/// What storing one leg did.
struct Stored {
    changed: bool,
    conflicts: usize,
    /// Its writes; its intervals and left intervals are the records to recompute.
    filing: LegFiling,
}

/// Merges `patch` (the merge of `parts`, one per input) into the stored leg and stores it with
/// its filing (reloading and merging again after a lost race). A leg the patch does not change
/// is not written, but filed again all the same: a retry after a failure between storing and
/// filing must still file it (filing is idempotent).
///
/// A changed leg whose summary is the stored version's is filed only where it newly
/// contributes (no records recomputed, no waiting hint written), trusting the stored version to
/// be filed, hinted and its records written by the batch that stored it, or else by the next
/// delivery of that batch's inputs (a batch that fails after storing a leg fails them). So the
/// shortcut is taken only when no input of this batch is held by the stored leg already: a
/// batch that holds one may be that very delivery, its input merged with a new one (a queue
/// transfer's link to its predecessor retried beside the predecessor's late event, say), and
/// files the new version everywhere, as the delivery alone (leg unchanged) would.
async fn store_leg<S: ContactStore>(
    key: &LegKey,
    patch: &Leg,
    parts: &[Leg],
    mut stored: Option<StoredLeg>,
    store: &S,
    clock: DateTime<Utc>,
) -> Result<Stored, PortError> {
    let mut conflicts = 0;
    for _ in 0..LEG_WRITE_ATTEMPTS {
        let (mut leg, expected) = match &stored {
            Some(s) => (s.leg.clone(), Some(s.version)),
            None => (Leg::new(key.clone()), None),
        };
        let changed = leg.merge(patch);
        // Intervals whose filing of this leg changes: all of them, unless the leg's summary is
        // the one filed before (a fact no record reads changed): then only those it newly
        // contributes to (the earlier version's filing, the same summary, stands elsewhere).
        let mut refile: Option<Vec<IntervalKey>> = None;
        let (version, filing) = match &stored {
            Some(s) if !changed => {
                // Filed again where it contributes now (more interval ends may have passed
                // since it was written: its waiting ones) and tombstoned where it left.
                let mut filing = s.filing.clone();
                for interval in s.leg.intervals(clock) {
                    if !filing.intervals.contains(&interval) {
                        filing.intervals.push(interval);
                    }
                }
                (s.version, filing)
            }
            _ => {
                // Left: where the stored version was counted (as written, or as the sweep filed
                // it since: its waiting interval ends up to the clock) or earlier versions were,
                // and this one is not.
                let intervals = leg.intervals(clock);
                let mut left: Vec<IntervalKey> = Vec::new();
                if let Some(s) = &stored {
                    for interval in s
                        .filing
                        .intervals
                        .iter()
                        .chain(&s.filing.left)
                        .cloned()
                        .chain(s.leg.intervals(clock))
                    {
                        if !intervals.contains(&interval) && !left.contains(&interval) {
                            left.push(interval);
                        }
                    }
                }
                let filing = Filing {
                    intervals,
                    left,
                    waiting: is_waiting(&leg),
                };
                let version = expected.unwrap_or(0) + 1;
                let candidate = StoredLeg {
                    leg: leg.clone(),
                    version,
                    filing: filing.clone(),
                };
                match store.store_leg(&candidate, expected).await? {
                    LegWrite::Stored => {}
                    LegWrite::Conflict => {
                        conflicts += 1;
                        stored = store
                            .load(std::slice::from_ref(key), &[], false)
                            .await?
                            .legs
                            .into_iter()
                            .next();
                        continue;
                    }
                }
                if let Some(s) = &stored {
                    // A part held by the stored leg: this batch may be a retry (see above).
                    let settled = !parts.iter().any(|part| s.leg.holds(part));
                    if settled && s.leg.summary() == leg.summary() {
                        refile = Some(
                            filing
                                .intervals
                                .iter()
                                .filter(|k| !s.filing.intervals.contains(k))
                                .cloned()
                                .collect(),
                        );
                    }
                }
                (version, filing)
            }
        };
        // Not hinted again when the version with the same summary was (or its retry is): a
        // leg that stops waiting keeps its hint until the sweep takes it out.
        let hint = filing.waiting && refile.is_none();
        return Ok(Stored {
            changed,
            conflicts,
            filing: LegFiling {
                key: key.clone(),
                version,
                summary: leg.summary(),
                intervals: refile.unwrap_or(filing.intervals),
                left: filing.left,
                hint,
            },
        });
    }
    Err(PortError::new(
        format!("store leg {}/{}", key.instance_id, key.contact_id),
        format!("{LEG_WRITE_ATTEMPTS} versioned writes lost to concurrent writers"),
        true,
    ))
}

/// Makes the queue name of a record independent of when the name was learned: `unnamed`
/// (intervals just written while their queue's name was unknown) were remembered with the
/// batch's filings; this writes again every remembered interval of the queues of `unnamed` and
/// of `named_now` (queues whose name was just stored) whose name is stored now, and forgets
/// them. Remembering before reading the names again means a name stored meanwhile by a
/// concurrent batch is seen by one of the two.
async fn name_unnamed<S: ContactStore, F: FeedSink>(
    store: &S,
    sink: &F,
    settings: &Settings,
    clock: DateTime<Utc>,
    unnamed: &[IntervalKey],
    named_now: &[(String, String)],
) -> Result<usize, PortError> {
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
            write_record(key, store, sink, &names, settings, clock, Recount::Always).await?;
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

/// What [`write_record`] did, and the sets the interval was in when it was read.
#[derive(Debug, Clone, Copy, Default)]
struct Written {
    /// An object was written (a record or a retraction).
    wrote: bool,
    /// An active record was written.
    active: bool,
    /// The interval is in the closing set.
    closing: bool,
    /// The interval is in the unnamed set.
    unnamed: bool,
}

/// Whether [`write_record`] may leave the record of an interval that has not ended as computed
/// once, without counting its filings again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recount {
    /// Always count again (the close of an ended interval, a queue's records named again).
    Always,
    /// Not for an interval that ends more than [`PROVISIONAL_MARGIN`] after the clock: the
    /// caller puts every such interval it writes into the closing set.
    UnlessProvisional,
}

/// How long before its end an interval's record is provisional: more than the contact-events
/// function's timeout (60 s in template.yaml), so every write of a run whose clock is that far
/// before the end lands before the end, and so before the close that writes the record again
/// from every leg filed by then.
const PROVISIONAL_MARGIN: TimeDelta = TimeDelta::seconds(120);

/// Computes the record of `key` from the legs filed there and writes it over its feed object;
/// again while other writers file legs there meanwhile (the number of filings moved: the last
/// object written then holds every leg filed before it). When no leg is left but one was counted
/// there once, the retraction ([`retracted_stream_queue_interval`]) overwrites the object
/// written before, which would otherwise stand (the sink cannot remove objects); where no leg
/// was ever counted nothing is written.
///
/// A record written well before its interval ends ([`Recount::UnlessProvisional`]) is not
/// checked by counting the filings again (a Query saved per interval and batch): it is
/// provisional, and the interval is in the closing set, whose close writes it again after the
/// end, counting again. A racing writer's leg it misses shows until then at the latest.
async fn write_record<S: ContactStore, F: FeedSink>(
    key: &IntervalKey,
    store: &S,
    sink: &F,
    names: &QueueNames,
    settings: &Settings,
    clock: DateTime<Utc>,
    recount: Recount,
) -> Result<Written, PortError> {
    let mut written = Written::default();
    let provisional = key.end() - clock > PROVISIONAL_MARGIN;
    for _ in 0..RECORD_ATTEMPTS {
        let filed = store.interval_legs(key).await?;
        written.closing = filed.closing;
        written.unnamed = filed.unnamed;
        let record = match stream_queue_interval_of(key, &filed.legs, names, &settings.stream, clock) {
            Some(record) => {
                written.active = true;
                record
            }
            None if filed.counted => {
                tracing::info!(queue_id = %key.queue_id, interval_start = %key.interval_start, "interval has no contacts any more; its record is retracted");
                written.active = false;
                retracted_stream_queue_interval(key, names, &settings.stream, clock)
            }
            None => return Ok(written),
        };
        sink.put(&record.feed_key(), feed::to_json_lines(&[record])).await?;
        written.wrote = true;
        if provisional && (recount == Recount::UnlessProvisional || filed.closing) {
            break;
        }
        if store.interval_filings(key).await? == filed.filings {
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
        let Some(stream) = stream_queue_interval_of(&key, &filed.legs, &names, &settings.stream, clock) else {
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
