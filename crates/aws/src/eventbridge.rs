//! The optional EventBridge output: every feed record also put on an event bus.
//!
//! [`FeedOutputs`] is the feed sink the functions use: it writes each feed object to the S3 feed
//! first, then puts each of its lines on the bus (when one is configured) as one event: source
//! [`SOURCE`], detail-type = the record's `kind`, detail = the line, Time = the record's time
//! ([`connect_wfm_core::feed::TIME_FIELDS`]). Calls respect PutEvents' limits
//! ([`MAX_ENTRIES_PER_CALL`], [`MAX_CALL_BYTES`]); entries PutEvents answers as failed are put
//! again with backoff; entries still failing fail the whole `put`, retryable, exactly as a failed
//! S3 write does: the handler does not commit, and the input is delivered again (at least once,
//! never lost). An entry refused with a code no retry can change (access denied, a bus policy
//! that does not allow the source) fails the `put` as permanent, as an access-denied S3 write
//! does: the handler keeps the input under rejects instead of stalling on it. A record too large for one event is kept under `rejects/<date>/` with the reason
//! instead of failing the batch forever. Rejects themselves stay in the feed only (see the README).
//!
//! The PutEvents call sits behind [`PutEvents`], so tests can answer with failed entries.

use std::future::Future;
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, NaiveDate, Utc};
use connect_wfm_core::feed::{self, FeedBody, RejectRecord};
use connect_wfm_core::ports::{FeedSink, PortError};
use connect_wfm_core::retry::Backoff;
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;

use crate::error::port_error;

/// `source` of every event this project puts.
pub const SOURCE: &str = "connect-wfm";

/// PutEvents takes at most this many entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;

/// PutEvents takes entries whose sizes (as [`BusEvent::entry_size`] counts them) add up to less
/// than 256 KiB per call; one entry alone must be below it too.
pub const MAX_CALL_BYTES: usize = 256 * 1024;

/// PutEvents entry error codes that no retry can change (PutEventsResultEntry: "non-retryable
/// errors"); any other code (ThrottlingException, InternalFailure, one added later) is retried.
pub const PERMANENT_ENTRY_CODES: &[&str] = &[
    "AccessDeniedException",
    "InvalidAccountIdException",
    "InvalidArgument",
    "MalformedDetail",
    "RedactionFailure",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
];

/// `function` of the rejects this output keeps (records too large for an event).
pub const REJECT_FUNCTION: &str = "event-bus";

/// Environment variable naming the bus (name or ARN) every feed record is also put on; unset
/// or blank for the S3 feed alone.
pub use crate::config::vars::EVENT_BUS_NAME;

/// [`EVENT_BUS_NAME`] holds neither an event bus name nor an event bus ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {EVENT_BUS_NAME}=`{0}` is not an event bus name or ARN")]
pub struct BadBusName(pub String);

/// Checks an event bus name (letters, digits, `.`, `-`, `_`, `/`; at most 256) or ARN
/// (`arn:...:event-bus/<name>`), so a typo fails the cold start instead of every PutEvents.
pub fn check_bus_name(value: &str) -> Result<(), BadBusName> {
    let name = match value.split_once(":event-bus/") {
        Some((prefix, name)) if prefix.starts_with("arn:") => name,
        _ => value,
    };
    let valid = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if valid {
        Ok(())
    } else {
        Err(BadBusName(value.to_owned()))
    }
}

/// The functions' feed sink, built at cold start: `feed`, then the bus `bus_name` (the value of
/// [`EVENT_BUS_NAME`]) when there is one, through a client built from `config`.
pub fn feed_outputs<F: FeedSink>(
    config: &aws_config::SdkConfig,
    feed: F,
    bus_name: Option<&str>,
) -> Result<FeedOutputs<F>, BadBusName> {
    let mut outputs = FeedOutputs::feed_only(feed);
    if let Some(name) = bus_name.map(str::trim).filter(|n| !n.is_empty()) {
        check_bus_name(name)?;
        tracing::info!(event_bus = name, "feed records also go to the event bus");
        let client = aws_sdk_eventbridge::Client::new(config);
        outputs = outputs.with(EventBusOutput::new(SdkEventBus::new(client, name)));
    }
    Ok(outputs)
}

/// One event to put; the bus and the source belong to the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    /// The record's `kind`.
    pub detail_type: String,
    /// The feed line, without its line break.
    pub detail: String,
    /// The record's time; `None` lets EventBridge use the time of the call.
    pub time: Option<DateTime<Utc>>,
}

impl BusEvent {
    /// The entry's size as PutEvents counts it: 14 bytes for Time when set, plus the UTF-8
    /// bytes of Source, DetailType and Detail (EventBridge's "Calculating PutEvents event entry
    /// size").
    pub fn entry_size(&self, source: &str) -> usize {
        let time = if self.time.is_some() { 14 } else { 0 };
        time + source.len() + self.detail_type.len() + self.detail.len()
    }
}

/// Why PutEvents did not take one entry: its `ErrorCode` and `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub code: String,
    pub message: String,
}

/// One entry's outcome in a PutEvents answer.
pub type EntryOutcome = Result<(), EntryFailure>;

/// The PutEvents call. `events` respect the per-call limits; the answer has one outcome per
/// event, in order. An `Err` is a failure of the whole call (after the SDK's own retries).
pub trait PutEvents: Send + Sync {
    /// Puts `events` with `source` on the bus.
    fn put_events(
        &self,
        source: &str,
        events: &[BusEvent],
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, PortError>> + Send;

    /// The bus, for error messages.
    fn bus_name(&self) -> &str;

    /// A request that opens the connection to the bus during init ([`crate::WarmUp`]), if
    /// there is one to open.
    fn warm_up(&self) -> Option<WarmRequest<'_>> {
        None
    }
}

/// One warm-up request: what it reached, and its answer (only logged).
pub type WarmRequest<'a> = BoxFuture<'a, (String, Result<(), String>)>;

/// [`PutEvents`] on the AWS SDK: one PutEvents request per call, on the named bus.
#[derive(Debug, Clone)]
pub struct SdkEventBus {
    pub client: aws_sdk_eventbridge::Client,
    /// The bus name or ARN (`EventBusName` of every entry).
    pub bus_name: String,
}

impl SdkEventBus {
    /// Puts on `bus_name` (a name or an ARN) through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

impl PutEvents for SdkEventBus {
    /// A PutEvents of no entries (answered with a validation error; the connection stays).
    fn warm_up(&self) -> Option<WarmRequest<'_>> {
        Some(Box::pin(async move {
            let answer = self
                .client
                .put_events()
                .set_entries(Some(Vec::new()))
                .customize()
                .config_override(aws_sdk_eventbridge::config::Builder::new().retry_config(RetryConfig::disabled()))
                .send()
                .await;
            (
                format!("event bus {}", self.bus_name),
                answer.map(drop).map_err(|e| crate::error::describe(&e)),
            )
        }))
    }

    async fn put_events(&self, source: &str, events: &[BusEvent]) -> Result<Vec<EntryOutcome>, PortError> {
        let entries = events
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(source)
                    .detail_type(&event.detail_type)
                    .detail(&event.detail)
                    .set_time(
                        event
                            .time
                            .map(|t| aws_smithy_types::DateTime::from_millis(t.timestamp_millis())),
                    )
                    .build()
            })
            .collect();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                port_error(
                    format!("put {} events on event bus {}", events.len(), self.bus_name),
                    &e,
                )
            })?;
        let answered = output.entries();
        // PutEvents answers one entry per request entry, in order; a short answer would leave
        // some events unaccounted for, so those count as failed (and are put again).
        Ok((0..events.len())
            .map(|i| match answered.get(i) {
                Some(entry) if entry.error_code().is_none() && entry.event_id().is_some() => Ok(()),
                Some(entry) => Err(EntryFailure {
                    code: entry.error_code().unwrap_or("NoEventId").to_owned(),
                    message: entry.error_message().unwrap_or_default().to_owned(),
                }),
                None => Err(EntryFailure {
                    code: "NoResult".to_owned(),
                    message: "PutEvents answered fewer entries than it was sent".to_owned(),
                }),
            })
            .collect())
    }

    fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

/// How failed entries are put again: up to `attempts` calls in all, the retries after the
/// delays of [`connect_wfm_core::retry::Backoff`] from `base_delay`, capped at `max_delay`
/// (its jitter keeps concurrent invocations from retrying in step against a throttled bus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms doubling to at most 2 s: at most about 1.5 s of waiting per call,
    /// well inside the functions' timeouts.
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The schedule of the retries after the first call.
    fn backoff(&self) -> Backoff {
        Backoff::new(
            self.base_delay,
            self.max_delay,
            self.attempts.saturating_sub(1) as usize,
        )
    }
}

/// The event bus output: puts events in calls PutEvents allows, several calls at once,
/// retrying failed entries.
#[derive(Debug, Clone)]
pub struct EventBusOutput<B> {
    pub bus: B,
    pub source: String,
    pub retry: RetryPolicy,
    /// PutEvents calls in flight at once for one feed object (a report part holds up to
    /// 10,000 records: 1,000 calls).
    pub concurrency: usize,
}

impl<B: PutEvents> EventBusOutput<B> {
    /// Source [`SOURCE`], the default retry policy, 8 calls at once.
    pub fn new(bus: B) -> Self {
        Self {
            bus,
            source: SOURCE.to_owned(),
            retry: RetryPolicy::default(),
            concurrency: 8,
        }
    }

    /// Puts every event (each already known to fit in one call). `what` names the feed
    /// object in errors. Fails, retryable, when some events are still not taken after the
    /// retries, or when a call fails as a whole.
    pub async fn put_all(&self, events: &[BusEvent], what: &str) -> Result<(), PortError> {
        let calls = pack_calls(events, &self.source);
        let results: Vec<Result<(), PortError>> = futures_util::stream::iter(calls)
            .map(|call| self.put_call(call, events, what))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// One call's events, with retries of the failed ones. An entry refused with a code that
    /// no retry can change ([`PERMANENT_ENTRY_CODES`]) is not put again and fails the call
    /// permanently (the handlers keep such input under rejects instead of stalling on it); the
    /// others are put again until taken or out of attempts (then a retryable failure).
    async fn put_call(&self, mut pending: Vec<usize>, events: &[BusEvent], what: &str) -> Result<(), PortError> {
        let mut last_failure = None;
        let mut refused: Vec<(usize, EntryFailure)> = Vec::new();
        let mut pauses = self.retry.backoff().delays();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(pauses.next().unwrap_or(self.retry.max_delay)).await;
                tracing::warn!(
                    feed_object = what,
                    entries = pending.len(),
                    attempt = attempt + 1,
                    "putting failed event bus entries again"
                );
            }
            let batch: Vec<BusEvent> = pending.iter().map(|&i| events[i].clone()).collect();
            let outcomes = self.bus.put_events(&self.source, &batch).await.map_err(|mut e| {
                e.operation = format!("{} (events of {what})", e.operation);
                e
            })?;
            let mut still = Vec::new();
            for (&index, outcome) in pending.iter().zip(outcomes) {
                match outcome {
                    Ok(()) => {}
                    Err(failure) if PERMANENT_ENTRY_CODES.contains(&failure.code.as_str()) => {
                        refused.push((index, failure));
                    }
                    Err(failure) => {
                        still.push(index);
                        last_failure = Some(failure);
                    }
                }
            }
            pending = still;
            if pending.is_empty() || !refused.is_empty() {
                break;
            }
        }
        let operation = || format!("put the events of {what} on event bus {}", self.bus.bus_name());
        if let Some((index, failure)) = refused.first() {
            return Err(PortError::new(
                operation(),
                format!(
                    "{} entries refused, the first (record {} of the object) with {}: {}",
                    refused.len(),
                    index + 1,
                    failure.code,
                    failure.message
                ),
                false,
            ));
        }
        if pending.is_empty() {
            return Ok(());
        }
        let failure = last_failure.unwrap_or(EntryFailure {
            code: "Unknown".to_owned(),
            message: String::new(),
        });
        Err(PortError::new(
            operation(),
            format!(
                "{} entries still failing after {} attempts, last {}: {}",
                pending.len(),
                self.retry.attempts.max(1),
                failure.code,
                failure.message
            ),
            true,
        ))
    }
}

/// Splits `events` into calls: at most [`MAX_ENTRIES_PER_CALL`] entries whose sizes add up to
/// less than [`MAX_CALL_BYTES`], in order. Each event must fit alone (see [`events_of`]).
pub fn pack_calls(events: &[BusEvent], source: &str) -> Vec<Vec<usize>> {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (index, event) in events.iter().enumerate() {
        let size = event.entry_size(source);
        if !current.is_empty() && (current.len() == MAX_ENTRIES_PER_CALL || bytes + size >= MAX_CALL_BYTES) {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(index);
        bytes += size;
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

/// The events of one feed object, and the records that cannot be events (kept as rejects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectEvents {
    pub events: Vec<BusEvent>,
    /// (1-based line number, the line, the reason)
    pub rejected: Vec<(usize, String, String)>,
}

/// One event per record of a feed object, its kind and time as the record gives them (the
/// body is not parsed again); a record too large for an event is set aside with the reason.
pub fn events_of(body: &FeedBody, source: &str) -> ObjectEvents {
    let mut out = ObjectEvents::default();
    for (n, (record, line)) in body.records().enumerate() {
        let event = BusEvent {
            detail_type: record.kind.clone().into_owned(),
            detail: line.to_owned(),
            time: record.time,
        };
        let size = event.entry_size(source);
        if size >= MAX_CALL_BYTES {
            let reason = format!(
                "the record is {size} bytes as a PutEvents entry; EventBridge takes less than {MAX_CALL_BYTES}: \
                 it is in the S3 feed but not on the event bus"
            );
            out.rejected.push((n + 1, event.detail, reason));
            continue;
        }
        out.events.push(event);
    }
    out
}

/// The rejects key for the records of feed object `key` that output `output` could not take:
/// `rejects/<the object's date>/<output>-<kind>-<the rest of its key>.jsonl`, so a retry
/// overwrites. A key without a date folder is dated `today`.
pub fn reject_key(output: &str, key: &str, today: NaiveDate) -> String {
    let key = key.strip_suffix(".jsonl").unwrap_or(key);
    let mut parts = key.splitn(3, '/');
    let (kind, date, rest) = (parts.next(), parts.next(), parts.next());
    let (date, name) = match (kind, date.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")), rest) {
        (Some(kind), Some(Ok(date)), Some(rest)) => (date, format!("{output}-{kind}-{rest}")),
        _ => (today, format!("{output}-{key}")),
    };
    feed::object_key(feed::REJECTS, date, &name)
}

/// An output after the S3 feed: it takes the records of every feed object the feed stored.
/// Adding an output is one implementation of this and one configuration entry
/// ([`feed_outputs`]).
pub trait RecordOutput: Send + Sync {
    /// Its name in logs and in the `function` of the rejects it causes.
    fn name(&self) -> &'static str;

    /// Delivers the records of feed object `key`. `Ok` holds the records it refuses for good
    /// (1-based line, line, reason): they are kept under rejects, the rest is delivered. An
    /// error fails the write like a failed feed write (retryable or not, as it says).
    fn deliver<'a>(&'a self, key: &'a str, body: &'a FeedBody) -> BoxFuture<'a, Result<Refused, PortError>>;

    /// A request that opens its connection during init ([`crate::WarmUp`]), if it has one.
    fn warm_up(&self) -> Option<WarmRequest<'_>> {
        None
    }
}

/// Records an output refused for good: (1-based line, the line, the reason).
pub type Refused = Vec<(usize, String, String)>;

impl<B: PutEvents + 'static> RecordOutput for EventBusOutput<B> {
    fn name(&self) -> &'static str {
        REJECT_FUNCTION
    }

    fn deliver<'a>(&'a self, key: &'a str, body: &'a FeedBody) -> BoxFuture<'a, Result<Refused, PortError>> {
        Box::pin(async move {
            let ObjectEvents { events, rejected } = events_of(body, &self.source);
            self.put_all(&events, key).await?;
            tracing::debug!(
                feed_object = key,
                events = events.len(),
                "feed records put on the event bus"
            );
            Ok(rejected)
        })
    }

    fn warm_up(&self) -> Option<WarmRequest<'_>> {
        self.bus.warm_up()
    }
}

/// The functions' feed sink: the S3 feed (always, and first), then each output in turn.
/// Objects under `rejects/` go to the feed only.
pub struct FeedOutputs<F> {
    pub feed: F,
    pub outputs: Vec<Box<dyn RecordOutput>>,
}

impl<F: FeedSink> FeedOutputs<F> {
    /// The feed alone.
    pub fn feed_only(feed: F) -> Self {
        Self {
            feed,
            outputs: Vec::new(),
        }
    }

    /// These outputs, then `output`.
    pub fn with(mut self, output: impl RecordOutput + 'static) -> Self {
        self.outputs.push(Box::new(output));
        self
    }

    /// The names of the outputs after the feed, in order.
    pub fn output_names(&self) -> Vec<&'static str> {
        self.outputs.iter().map(|o| o.name()).collect()
    }
}

impl<F: FeedSink> FeedSink for FeedOutputs<F> {
    async fn put(&self, key: &str, body: FeedBody) -> Result<(), PortError> {
        if self.outputs.is_empty() || key.starts_with(&format!("{}/", feed::REJECTS)) {
            return self.feed.put(key, body).await;
        }
        self.feed.put(key, body.clone()).await?;
        for output in &self.outputs {
            let refused = output.deliver(key, &body).await?;
            if refused.is_empty() {
                continue;
            }
            let now = Utc::now();
            let rejects: Vec<RejectRecord> = refused
                .into_iter()
                .map(|(line, raw, reason)| {
                    tracing::warn!(feed_object = key, line, output = output.name(), %reason, "feed record kept out of an output");
                    RejectRecord::new(output.name(), format!("feed {key} line {line}"), reason, now, raw.as_bytes())
                })
                .collect();
            self.feed
                .put(
                    &reject_key(output.name(), key, now.date_naive()),
                    feed::to_json_lines(&rejects),
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use connect_wfm_core::memory::MemoryFeedSink;

    use super::*;

    /// A bus that records every call and answers from a script: each answer lists the
    /// positions (in that call) to fail; calls past the script succeed.
    #[derive(Default)]
    struct ScriptedBus {
        calls: Mutex<Vec<Vec<BusEvent>>>,
        failures: Mutex<VecDeque<Vec<usize>>>,
        /// The positions each call failed, in call order.
        answers: Mutex<Vec<Vec<usize>>>,
        fail_every_call: bool,
        /// The error code of failed entries; ThrottlingException when None.
        code: Option<&'static str>,
    }

    impl ScriptedBus {
        fn failing(script: Vec<Vec<usize>>) -> Self {
            Self {
                failures: Mutex::new(script.into()),
                ..Self::default()
            }
        }
        fn calls(&self) -> Vec<Vec<BusEvent>> {
            self.calls.lock().unwrap().clone()
        }
        /// The details the bus took, in order.
        fn delivered(&self) -> Vec<String> {
            let calls = self.calls();
            let script: Vec<Vec<usize>> = self.answers.lock().unwrap().clone();
            calls
                .iter()
                .zip(script)
                .flat_map(|(call, failed)| {
                    call.iter()
                        .enumerate()
                        .filter(move |(i, _)| !failed.contains(i))
                        .map(|(_, e)| e.detail.clone())
                        .collect::<Vec<_>>()
                })
                .collect()
        }
    }

    impl PutEvents for ScriptedBus {
        async fn put_events(&self, source: &str, events: &[BusEvent]) -> Result<Vec<EntryOutcome>, PortError> {
            assert_eq!(source, SOURCE);
            assert!(
                events.len() <= MAX_ENTRIES_PER_CALL,
                "{} entries in one call",
                events.len()
            );
            let bytes: usize = events.iter().map(|e| e.entry_size(source)).sum();
            assert!(bytes < MAX_CALL_BYTES, "{bytes} bytes in one call");
            self.calls.lock().unwrap().push(events.to_vec());
            let failed = if self.fail_every_call {
                (0..events.len()).collect()
            } else {
                self.failures.lock().unwrap().pop_front().unwrap_or_default()
            };
            self.answers.lock().unwrap().push(failed.clone());
            Ok((0..events.len())
                .map(|i| {
                    if failed.contains(&i) {
                        Err(EntryFailure {
                            code: self.code.unwrap_or("ThrottlingException").into(),
                            message: "Rate exceeded".into(),
                        })
                    } else {
                        Ok(())
                    }
                })
                .collect())
        }

        fn bus_name(&self) -> &str {
            "test-bus"
        }
    }

    impl PutEvents for Arc<ScriptedBus> {
        async fn put_events(&self, source: &str, events: &[BusEvent]) -> Result<Vec<EntryOutcome>, PortError> {
            self.as_ref().put_events(source, events).await
        }

        fn bus_name(&self) -> &str {
            self.as_ref().bus_name()
        }
    }

    /// The feed in memory, then `bus` (kept by the test to read its calls).
    fn outputs(bus: &Arc<ScriptedBus>) -> FeedOutputs<MemoryFeedSink> {
        FeedOutputs::feed_only(MemoryFeedSink::default()).with(quick(Arc::clone(bus)))
    }

    fn quick(bus: Arc<ScriptedBus>) -> EventBusOutput<Arc<ScriptedBus>> {
        EventBusOutput {
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
            },
            // One call at a time, so the scripted answers meet the calls in order.
            concurrency: 1,
            ..EventBusOutput::new(bus)
        }
    }

    fn line(n: usize) -> String {
        format!(
            r#"{{"kind":"agent_state","schema":1,"agent_id":"a{n}","since":"2026-11-20T08:00:00.000Z","event_time":"2026-11-20T08:00:{:02}.000Z"}}"#,
            n % 60
        )
    }

    fn bytes(lines: &[String]) -> Vec<u8> {
        lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect()
    }

    fn body(lines: &[String]) -> FeedBody {
        FeedBody::parse(bytes(lines)).unwrap()
    }

    const KEY: &str = "agent_state/2026-11-20/shard-1-9-abc.jsonl";

    #[tokio::test]
    async fn writes_the_feed_then_puts_every_line_once_ten_per_call() {
        let lines: Vec<String> = (0..23).map(line).collect();
        let bus = Arc::new(ScriptedBus::default());
        let sink = outputs(&bus);
        sink.put(KEY, body(&lines)).await.unwrap();
        assert_eq!(sink.feed.get(KEY).unwrap(), bytes(&lines));
        let sizes: Vec<usize> = bus.calls().iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert_eq!(bus.delivered(), lines);
        let first = &bus.calls()[0][0];
        assert_eq!(first.detail_type, "agent_state");
        assert_eq!(first.time, Some("2026-11-20T08:00:00Z".parse().unwrap()));
    }

    #[tokio::test]
    async fn packs_calls_under_the_byte_limit() {
        // Six records of ~100 KB: two fit in one call, a third would pass 256 KiB.
        let big = |n: usize| {
            format!(
                r#"{{"kind":"queue_interval","queue":"{}","n":{n}}}"#,
                "q".repeat(100_000)
            )
        };
        let lines: Vec<String> = (0..6).map(big).collect();
        let bus = Arc::new(ScriptedBus::default());
        let sink = outputs(&bus);
        sink.put("queue_interval/2026-11-20/r.jsonl", body(&lines))
            .await
            .unwrap();
        assert_eq!(bus.calls().iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2]);
        assert_eq!(bus.delivered(), lines);
    }

    #[tokio::test]
    async fn failed_entries_are_put_again_and_only_they() {
        let lines: Vec<String> = (0..12).map(line).collect();
        // One call at a time: lines 0-9 fail positions 2 and 7; their retry (lines 2, 7) fails
        // line 7 again; its retry passes. Then lines 10-11 fail line 11, whose retry passes.
        let bus = ScriptedBus::failing(vec![vec![2, 7], vec![1], vec![], vec![1]]);
        let bus = Arc::new(bus);
        let sink = outputs(&bus);
        sink.put(KEY, body(&lines)).await.unwrap();
        let calls: Vec<Vec<String>> = bus
            .calls()
            .iter()
            .map(|c| c.iter().map(|e| e.detail.clone()).collect())
            .collect();
        assert_eq!(calls[0], lines[0..10]);
        assert_eq!(calls[1], [lines[2].clone(), lines[7].clone()]);
        assert_eq!(calls[2], [lines[7].clone()]);
        assert_eq!(calls[3], lines[10..12]);
        assert_eq!(calls[4], [lines[11].clone()]);
        let mut delivered = bus.delivered();
        delivered.sort();
        let mut expected = lines.clone();
        expected.sort();
        assert_eq!(delivered, expected, "every line taken exactly once");
    }

    #[tokio::test]
    async fn entries_still_failing_fail_the_put_retryably_after_the_feed_write() {
        let lines: Vec<String> = (0..3).map(line).collect();
        let bus = ScriptedBus {
            fail_every_call: true,
            ..ScriptedBus::default()
        };
        let bus = Arc::new(bus);
        let sink = outputs(&bus);
        let err = sink.put(KEY, body(&lines)).await.unwrap_err();
        assert!(err.retryable);
        assert_eq!(
            err.to_string(),
            format!(
                "put the events of {KEY} on event bus test-bus failed: 3 entries still failing after 3 attempts, \
                 last ThrottlingException: Rate exceeded"
            )
        );
        assert_eq!(bus.calls().len(), 3);
        // The feed was written first: a replay overwrites the same object.
        assert!(sink.feed.get(KEY).is_some());
    }

    #[tokio::test]
    async fn a_record_too_large_for_an_event_is_kept_under_rejects_and_the_rest_flows() {
        let huge = format!(r#"{{"kind":"agent_state","state":"{}"}}"#, "x".repeat(MAX_CALL_BYTES));
        let lines = vec![line(1), huge.clone(), line(2)];
        let bus = Arc::new(ScriptedBus::default());
        let sink = outputs(&bus);
        sink.put(KEY, body(&lines)).await.unwrap();
        assert_eq!(bus.delivered(), [line(1), line(2)]);
        let reject_key = "rejects/2026-11-20/event-bus-agent_state-shard-1-9-abc.jsonl";
        let kept = sink.feed.get(reject_key).expect("the reject is kept");
        let reject: serde_json::Value = serde_json::from_slice(kept.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(reject["kind"], "reject");
        assert_eq!(reject["function"], "event-bus");
        assert_eq!(reject["input"], format!("feed {KEY} line 2"));
        assert_eq!(reject["raw"], huge);
        assert!(
            reject["reason"].as_str().unwrap().contains("not on the event bus"),
            "{reject}"
        );
    }

    #[tokio::test]
    async fn rejects_and_a_sink_without_a_bus_go_to_the_feed_only() {
        let bus = Arc::new(ScriptedBus::default());
        let sink = outputs(&bus);
        let reject = br#"{"kind":"reject","schema":1}
"#;
        sink.put(
            "rejects/2026-11-20/agent-events-x.jsonl",
            FeedBody::parse(reject.to_vec()).unwrap(),
        )
        .await
        .unwrap();
        assert!(bus.calls().is_empty());
        assert!(sink.feed.get("rejects/2026-11-20/agent-events-x.jsonl").is_some());

        let plain = FeedOutputs::feed_only(MemoryFeedSink::default());
        plain.put(KEY, body(&[line(1)])).await.unwrap();
        assert!(plain.feed.get(KEY).is_some());
    }

    #[tokio::test]
    async fn an_entry_refused_for_good_is_not_put_again_and_fails_the_put_permanently() {
        let lines: Vec<String> = (0..3).map(line).collect();
        let bus = ScriptedBus {
            code: Some("NotAuthorizedForSourceException"),
            ..ScriptedBus::failing(vec![vec![1]])
        };
        let bus = Arc::new(bus);
        let sink = outputs(&bus);
        let err = sink.put(KEY, body(&lines)).await.unwrap_err();
        assert!(!err.retryable, "{err}");
        assert_eq!(
            err.message,
            "1 entries refused, the first (record 2 of the object) with NotAuthorizedForSourceException: Rate exceeded"
        );
        assert_eq!(bus.calls().len(), 1, "no retry");
    }

    /// An output that keeps every record it is given and refuses the kinds it is told to.
    #[derive(Default)]
    struct Keeper {
        kept: Arc<Mutex<Vec<(String, String)>>>,
        refuse_kind: Option<&'static str>,
    }

    impl RecordOutput for Keeper {
        fn name(&self) -> &'static str {
            "keeper"
        }

        fn deliver<'a>(&'a self, _key: &'a str, body: &'a FeedBody) -> BoxFuture<'a, Result<Refused, PortError>> {
            Box::pin(async move {
                let mut refused = Vec::new();
                for (n, (record, line)) in body.records().enumerate() {
                    if Some(record.kind.as_ref()) == self.refuse_kind {
                        refused.push((n + 1, line.to_owned(), "not taken here".to_owned()));
                    } else {
                        self.kept
                            .lock()
                            .unwrap()
                            .push((record.kind.to_string(), line.to_owned()));
                    }
                }
                Ok(refused)
            })
        }
    }

    #[tokio::test]
    async fn every_output_of_the_list_takes_the_records_after_the_feed() {
        let bus = Arc::new(ScriptedBus::default());
        let keeper = Keeper {
            refuse_kind: Some("queue_interval"),
            ..Keeper::default()
        };
        let kept = Arc::clone(&keeper.kept);
        let sink = outputs(&bus).with(keeper);
        assert_eq!(sink.output_names(), ["event-bus", "keeper"]);
        let queue = r#"{"kind":"queue_interval","interval_start":"2026-11-20T08:00:00Z"}"#.to_owned();
        let lines = vec![line(1), queue.clone(), line(2)];
        sink.put(KEY, body(&lines)).await.unwrap();
        assert_eq!(bus.delivered(), lines, "the bus takes every record");
        let kept: Vec<String> = kept.lock().unwrap().iter().map(|(_, l)| l.clone()).collect();
        assert_eq!(
            kept,
            [line(1), line(2)],
            "the keeper takes what it does not refuse, in order"
        );
        let reject = sink
            .feed
            .get("rejects/2026-11-20/keeper-agent_state-shard-1-9-abc.jsonl")
            .expect("what an output refuses is kept under rejects in its name");
        let reject: serde_json::Value = serde_json::from_slice(reject.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(
            (reject["function"].as_str(), reject["raw"].as_str()),
            (Some("keeper"), Some(queue.as_str()))
        );
    }

    struct BrokenFeed;

    impl FeedSink for BrokenFeed {
        async fn put(&self, key: &str, _body: FeedBody) -> Result<(), PortError> {
            Err(PortError::new(format!("write {key}"), "SlowDown", true))
        }
    }

    #[tokio::test]
    async fn a_failed_feed_write_puts_nothing_on_the_bus() {
        let bus = Arc::new(ScriptedBus::default());
        let sink = FeedOutputs::feed_only(BrokenFeed).with(quick(Arc::clone(&bus)));
        assert!(sink.put(KEY, body(&[line(1)])).await.is_err());
        assert!(bus.calls().is_empty());
    }

    #[test]
    fn bus_names_and_arns_are_checked() {
        assert!(check_bus_name("connect-wfm").is_ok());
        assert!(check_bus_name("default").is_ok());
        assert!(check_bus_name("arn:aws:events:eu-west-1:123456789012:event-bus/wfm.bus_1").is_ok());
        assert_eq!(
            check_bus_name("my bus").unwrap_err().to_string(),
            "environment variable EVENT_BUS_NAME=`my bus` is not an event bus name or ARN"
        );
        assert!(check_bus_name("arn:aws:events:eu-west-1:123456789012:event-bus/").is_err());
        assert!(check_bus_name(&"b".repeat(257)).is_err());
    }

    #[tokio::test]
    async fn the_bus_is_on_only_when_named() {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let names = |bus: Option<&str>| {
            feed_outputs(&config, MemoryFeedSink::default(), bus)
                .unwrap()
                .output_names()
        };
        assert!(names(None).is_empty());
        assert!(names(Some(" ")).is_empty());
        assert_eq!(names(Some("wfm")), [REJECT_FUNCTION]);
        assert!(feed_outputs(&config, MemoryFeedSink::default(), Some("a b")).is_err());
    }

    #[test]
    fn reject_keys_follow_the_layout() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            reject_key("event-bus", "queue_interval/2026-11-20/stream/acme/q1/1015.json", today),
            "rejects/2026-11-20/event-bus-queue_interval-stream_acme_q1_1015.json.jsonl"
        );
        assert_eq!(
            reject_key("event-bus", "agent_state/2026-11-20/shard-1-9-abc.jsonl", today),
            "rejects/2026-11-20/event-bus-agent_state-shard-1-9-abc.jsonl"
        );
        // A key outside the layout is dated today, its name said once (it was doubled).
        assert_eq!(
            reject_key("event-bus", "odd.jsonl", today),
            "rejects/2026-11-25/event-bus-odd.jsonl"
        );
    }

    #[test]
    fn the_default_policy_retries_four_times_within_about_three_seconds() {
        let pauses: Vec<Duration> = RetryPolicy::default().backoff().delays().collect();
        assert_eq!(pauses.len(), 4, "5 attempts: the first call and 4 retries");
        let total: Duration = pauses.iter().sum();
        assert!(
            total <= Duration::from_secs(3),
            "well inside the functions' timeouts: {total:?}"
        );
    }
}
