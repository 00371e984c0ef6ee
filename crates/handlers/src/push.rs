//! The push output's delivery: records into a WFM's API ([`connect_wfm_core::push`]), the same
//! code for the `wfm-push` function and `connect-wfm push`.
//!
//! Records go in the order given, in the batches [`Target::plan`] cuts, one call at a time and
//! at most one call per [`Settings::min_interval`]. A call the WFM answers with a retryable
//! failure is tried again with backoff (honouring `Retry-After`); when the retries of this run
//! are spent, that batch and everything after it are left **pending**, in order (the function
//! leaves them in the queue, where they wait for the next run): nothing after them overtakes
//! them. A refused call (any other 4xx) of several records is split in halves, each sent again
//! in order, until the one record the WFM refuses is found: it is kept with the WFM's message,
//! and the others are delivered. Halves of a snapshot go as plain states: a half marked as a
//! snapshot would log off the agents of the other half.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use connect_wfm_core::feed::{self, RejectRecord};
use connect_wfm_core::ports::FeedSink;
use connect_wfm_core::push::queue::{PushQueue, Received, records_of};
use connect_wfm_core::push::recent::{DeliveredStates, DeliveredStore, KEPT_FOR};
use connect_wfm_core::push::{PushRecord, Target, Verdict, WfmApi};
use connect_wfm_core::retry::Backoff;

use crate::counts::counts;

/// The function's name (metrics, the `function` of its rejects).
pub const FUNCTION: &str = "wfm-push";
/// How a run delivers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The retries of one call within a run.
    pub backoff: Backoff,
    /// The least time between two calls (1 / the configured requests per second).
    pub min_interval: Duration,
    /// The longest a run waits for one retry (a longer `Retry-After` leaves the records pending).
    pub max_wait: Duration,
    /// No retry starts after this (the function's run must end before Lambda's timeout); the
    /// records are left pending instead.
    pub deadline: Option<tokio::time::Instant>,
    /// The states this process delivered, per agent (shared by the clones of these settings,
    /// so a warm function remembers them between runs; a cold one starts with what the last
    /// process kept: [`Settings::recalling`], [`keep_delivered`]): a snapshot never shows an
    /// agent's state older than one delivered ([`DeliveredStates`]).
    pub delivered: Arc<Mutex<DeliveredStates>>,
}

/// The default rate: 5 calls a second (the tightest cap documented among the WFMs' RTA APIs).
pub const DEFAULT_RATE: f64 = 5.0;

impl Default for Settings {
    fn default() -> Self {
        Self {
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(5), 4),
            min_interval: Duration::from_secs_f64(1.0 / DEFAULT_RATE),
            max_wait: Duration::from_secs(30),
            deadline: None,
            delivered: Arc::default(),
        }
    }
}

impl Settings {
    /// `rate` calls a second at most (at least one call every 100 s).
    pub fn with_rate(mut self, rate: f64) -> Self {
        self.min_interval = Duration::from_secs_f64(1.0 / rate.max(0.01));
        self
    }

    /// These settings with the memory of delivered states `store` kept (a cold start): an
    /// absent memory is an empty one, and one that cannot be read is logged and left empty (the
    /// snapshots of this process then go as written until it delivers states of its own).
    pub async fn recalling<D: DeliveredStore>(self, store: &D) -> Self {
        let delivered = match store.load().await {
            Ok(delivered) => {
                tracing::info!(agents = delivered.len(), "delivered states recalled");
                delivered
            }
            Err(e) => {
                tracing::warn!(error = %e, "the delivered states could not be recalled; starting without them");
                DeliveredStates::default()
            }
        };
        Self {
            delivered: Arc::new(Mutex::new(delivered)),
            ..self
        }
    }
}

/// After a run: keeps the memory of delivered states in `store` for the next cold start, when
/// the run delivered something (at most one write a run). A failure is logged, never the run's:
/// the next process then only misses this run's deliveries. True when it was kept.
pub async fn keep_delivered<D: DeliveredStore>(
    store: &D,
    settings: &Settings,
    stats: &RunStats,
    now: DateTime<Utc>,
) -> bool {
    if stats.records_pushed == 0 {
        return false;
    }
    // A copy, so no lock is held across the write.
    let delivered = settings
        .delivered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match store.save(&delivered, now).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, agents = delivered.len(), "the delivered states could not be kept for the next cold start");
            false
        }
    }
}

/// What became of each record of a run, by its index in the given slice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Taken by the WFM.
    pub delivered: Vec<usize>,
    /// Refused by the WFM (or unsendable, e.g. no `UserCode`), with the reason.
    pub refused: Vec<(usize, String)>,
    /// Not delivered in this run (the WFM was down or throttling past the retries), in order:
    /// to be sent again, before anything after them.
    pub pending: Vec<usize>,
    /// Repeats of an earlier record of the run, or records the target does not take.
    pub skipped: Vec<usize>,
    /// Calls made.
    pub calls: usize,
    /// Calls that were retries.
    pub retries: usize,
    /// Why the last retried call failed, when records are pending.
    pub pending_reason: Option<String>,
    /// Milliseconds from `event_time` to the WFM's answer, per delivered `agent_state` record.
    pub lags_ms: Vec<i64>,
}

/// Delivers `records` to `target` through `api`; `now` is the clock (a call is signed and
/// its lag measured with it).
pub async fn push<A: WfmApi>(
    records: &[PushRecord],
    target: &Target,
    api: &A,
    settings: &Settings,
    now: impl Fn() -> DateTime<Utc>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sendable: Vec<usize> = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        if !target.takes(record) {
            outcome.skipped.push(index);
        } else if let Err(reason) = target.check(record) {
            outcome.refused.push((index, reason));
        } else {
            sendable.push(index);
        }
    }
    let refs: Vec<&PushRecord> = sendable.iter().map(|i| &records[*i]).collect();
    let batches = target.plan(&refs);
    let planned: std::collections::HashSet<usize> = batches.iter().flat_map(|b| b.records.iter().copied()).collect();
    outcome.skipped.extend(
        (0..sendable.len())
            .filter(|i| !planned.contains(i))
            .map(|i| sendable[i]),
    );
    outcome.skipped.sort_unstable();

    let mut caller = Caller {
        api,
        target,
        settings,
        last_call: None,
    };
    // Parts still to send, in order: (indices into `records`, sent as a snapshot).
    let mut parts: std::collections::VecDeque<(Vec<usize>, bool)> = batches
        .into_iter()
        .map(|b| (b.records.iter().map(|i| sendable[*i]).collect(), b.snapshot.is_some()))
        .collect();
    let delivered = &settings.delivered;
    let memory = || delivered.lock().unwrap_or_else(PoisonError::into_inner);
    memory().forget_before(now() - KEPT_FOR);
    while let Some((part, snapshot)) = parts.pop_front() {
        // A snapshot's agents get the state delivered after the snapshot's, if any.
        let patched: Vec<Option<PushRecord>> = {
            let memory = memory();
            part.iter().map(|i| memory.patched(&records[*i])).collect()
        };
        let part_records: Vec<&PushRecord> = part
            .iter()
            .zip(&patched)
            .map(|(i, patched)| patched.as_ref().unwrap_or(&records[*i]))
            .collect();
        match caller.send(&part_records, snapshot, &now, &mut outcome).await {
            Verdict::Delivered => {
                let mut memory = memory();
                for record in &part_records {
                    memory.delivered(record);
                }
                drop(memory);
                let at = now();
                for index in &part {
                    if let Some(event_time) = records[*index].event_time {
                        outcome.lags_ms.push((at - event_time).num_milliseconds().max(0));
                    }
                }
                outcome.delivered.extend(part);
            }
            Verdict::Refused { message } if part.len() == 1 => outcome.refused.push((part[0], message)),
            Verdict::Refused { .. } => {
                let (first, second) = part.split_at(part.len() / 2);
                parts.push_front((second.to_vec(), false));
                parts.push_front((first.to_vec(), false));
            }
            Verdict::Retry { reason, .. } => {
                outcome.pending.extend(part);
                outcome.pending.extend(parts.drain(..).flat_map(|(p, _)| p));
                outcome.pending_reason = Some(reason);
            }
        }
    }
    outcome.refused.sort_unstable_by_key(|(i, _)| *i);
    outcome
}

counts! {
    /// What one run of the wfm-push function did.
    pub struct RunStats {
        /// Queue messages taken (delivered, refused or skipped) and deleted.
        messages,
        /// Records the WFM took.
        records_pushed => counter "PushRecords",
        calls => counter "PushCalls",
        retries => counter "PushRetries",
        /// Records the WFM refused (kept under rejects with its message).
        refused => counter "PushRefusals",
        /// Records left in the queue because the WFM did not answer (or throttled) past the
        /// retries: the next run sends them first.
        pending,
        /// Records of kinds the target does not take, and repeats.
        skipped,
        /// Queue or feed calls that failed (the messages stay in the queue).
        failures => counter "PushFailures",
        ;
        /// Why records were left pending, if they were.
        unavailable: Option<String>,
    }
}

/// How long one run of the function goes on.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The run takes no new messages after this.
    pub until: tokio::time::Instant,
    /// Long polling: how long one receive waits for a first message.
    pub wait: Duration,
}

/// One run of the wfm-push function: takes messages from the target's queue, delivers their
/// records ([`push`]), deletes what the WFM took or refused (refusals kept under the feed's
/// rejects with the WFM's message) and puts back what it could not deliver, in place, ending the
/// run (the WFM is down or throttling: the next run starts there). Until `run.until`.
pub async fn run_queue<Q: PushQueue, A: WfmApi, S: FeedSink>(
    queue: &Q,
    target: &Target,
    api: &A,
    rejects: &S,
    settings: &Settings,
    run: &RunSettings,
    now: impl Fn() -> DateTime<Utc>,
) -> RunStats {
    let mut stats = RunStats::default();
    loop {
        let remaining = run.until.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        let received = match queue.receive(target.max_batch(), run.wait.min(remaining)).await {
            Ok(received) => received,
            Err(e) => {
                tracing::error!(error = %e, "receiving from the push queue");
                stats.failures += 1;
                break;
            }
        };
        if received.is_empty() {
            continue;
        }
        if !deliver_messages(&received, queue, target, api, rejects, settings, &now, &mut stats).await {
            break;
        }
    }
    stats
}

/// Delivers the records of `received`; false when the run must end (the WFM is unavailable,
/// or the queue or the feed failed).
#[allow(clippy::too_many_arguments)]
async fn deliver_messages<Q: PushQueue, A: WfmApi, S: FeedSink>(
    received: &[Received],
    queue: &Q,
    target: &Target,
    api: &A,
    rejects: &S,
    settings: &Settings,
    now: &impl Fn() -> DateTime<Utc>,
    stats: &mut RunStats,
) -> bool {
    let at = now();
    let mut records: Vec<PushRecord> = Vec::new();
    // The message of each record, by index.
    let mut message_of: Vec<usize> = Vec::new();
    let mut kept: Vec<RejectRecord> = Vec::new();
    let mut has_reject = vec![false; received.len()];
    for (m, message) in received.iter().enumerate() {
        match records_of(&message.body) {
            Ok(parsed) => {
                message_of.extend(std::iter::repeat_n(m, parsed.len()));
                records.extend(parsed);
            }
            Err((line, e)) => {
                has_reject[m] = true;
                tracing::warn!(message_id = %message.message_id, line, error = %e, "a queue message that is not feed records");
                kept.push(RejectRecord::new(
                    FUNCTION,
                    format!(
                        "push queue message {} ({}) line {line}",
                        message.message_id,
                        target.name()
                    ),
                    e.to_string(),
                    at,
                    message.body.as_bytes(),
                ));
            }
        }
    }
    let outcome = push(&records, target, api, settings, now).await;
    for (index, reason) in &outcome.refused {
        let record = &records[*index];
        let message = &received[message_of[*index]];
        has_reject[message_of[*index]] = true;
        tracing::warn!(
            target = target.name(),
            record = %record.key(),
            agent_id = record.agent_id.as_deref().unwrap_or("-"),
            message_id = %message.message_id,
            %reason,
            "the WFM refused a record"
        );
        kept.push(RejectRecord::new(
            FUNCTION,
            format!(
                "push queue message {} ({}) record {}",
                message.message_id,
                target.name(),
                record.key()
            ),
            reason.clone(),
            at,
            record.line.as_bytes(),
        ));
    }
    for lag in &outcome.lags_ms {
        metrics::histogram!("PushLagSeconds").record(*lag as f64 / 1000.0);
    }
    stats.records_pushed += outcome.delivered.len();
    stats.calls += outcome.calls;
    stats.retries += outcome.retries;
    stats.refused += outcome.refused.len();
    stats.pending += outcome.pending.len();
    stats.skipped += outcome.skipped.len();

    let mut pending_messages = vec![false; received.len()];
    for index in &outcome.pending {
        pending_messages[message_of[*index]] = true;
    }
    let mut rejects_kept = true;
    if !kept.is_empty() {
        let first = &received[0].message_id;
        let key = feed::object_key(
            feed::REJECTS,
            at.date_naive(),
            &format!("{FUNCTION}-{}-{first}", target.name()),
        );
        if let Err(e) = rejects.put(&key, feed::to_json_lines(&kept)).await {
            tracing::error!(error = %e, "keeping refused records under rejects");
            stats.failures += 1;
            rejects_kept = false;
        }
    }
    // A message is done when none of its records is pending and what it had refused is kept.
    let mut done_receipts = Vec::new();
    let mut back_receipts = Vec::new();
    for (m, message) in received.iter().enumerate() {
        if !pending_messages[m] && (rejects_kept || !has_reject[m]) {
            done_receipts.push(message.receipt.clone());
        } else {
            back_receipts.push(message.receipt.clone());
        }
    }
    let mut go_on = outcome.pending.is_empty() && rejects_kept;
    if !done_receipts.is_empty() {
        match queue.delete(&done_receipts).await {
            Ok(()) => stats.messages += done_receipts.len(),
            Err(e) => {
                tracing::error!(error = %e, "deleting delivered messages (they come again: the WFM gets them twice)");
                stats.failures += 1;
                go_on = false;
            }
        }
    }
    if !back_receipts.is_empty() {
        if let Err(e) = queue.release(&back_receipts).await {
            // They come back when their visibility timeout ends.
            tracing::warn!(error = %e, "putting undelivered messages back");
        }
    }
    if let Some(reason) = &outcome.pending_reason {
        tracing::warn!(target = target.name(), pending = outcome.pending.len(), %reason, "the WFM is unavailable; the records wait in the queue");
        stats.unavailable = Some(reason.clone());
    }
    go_on
}

struct Caller<'a, A> {
    api: &'a A,
    target: &'a Target,
    settings: &'a Settings,
    last_call: Option<tokio::time::Instant>,
}

impl<A: WfmApi> Caller<'_, A> {
    /// One part, with the run's retries: `Retry` only once they are spent (or the WFM asks
    /// for a longer wait than a run takes).
    async fn send(
        &mut self,
        records: &[&PushRecord],
        snapshot: bool,
        now: &impl Fn() -> DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Verdict {
        let mut delays = self.settings.backoff.delays();
        loop {
            if let Some(last) = self.last_call {
                tokio::time::sleep_until(last + self.settings.min_interval).await;
            }
            self.last_call = Some(tokio::time::Instant::now());
            let request = self.target.request(records, snapshot, now());
            outcome.calls += 1;
            let verdict = match self.api.post(&request).await {
                Ok(answer) => Verdict::of(&answer, now()),
                Err(error) => Verdict::no_answer(&error),
            };
            let Verdict::Retry { after, reason } = verdict else {
                return verdict;
            };
            let Some(delay) = delays.next() else {
                return Verdict::Retry { after, reason };
            };
            let wait = after.map_or(delay, |after| after.max(delay));
            let too_late = self
                .settings
                .deadline
                .is_some_and(|deadline| tokio::time::Instant::now() + wait > deadline);
            if wait > self.settings.max_wait || too_late {
                return Verdict::Retry { after, reason };
            }
            tracing::warn!(
                target = self.target.name(),
                records = records.len(),
                retry_in_ms = wait.as_millis() as u64,
                "{reason}"
            );
            outcome.retries += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use connect_wfm_core::ports::PortError;
    use connect_wfm_core::push::calabrio::{Calabrio, UserCode};
    use connect_wfm_core::push::webhook::Webhook;
    use connect_wfm_core::push::{Answer, HttpRequest, Secret};
    use serde_json::json;

    use super::*;

    /// A Calabrio RTA in memory: refuses a batch holding a state code it does not know (HTTP
    /// 400, the whole batch, as such APIs do), is down for the first `down` calls (503), and
    /// keeps every state it took, in order.
    #[derive(Default)]
    struct FakeRta {
        down: Mutex<usize>,
        calls: Mutex<Vec<serde_json::Value>>,
        taken: Mutex<Vec<(String, String, bool)>>,
        throttle_once: Mutex<bool>,
    }

    impl WfmApi for FakeRta {
        async fn post(&self, request: &HttpRequest) -> Result<Answer, String> {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            self.calls.lock().unwrap().push(body.clone());
            let answer = |status: u16, body: &str| Answer {
                status,
                retry_after: (status == 429).then(|| "1".to_owned()),
                body: body.into(),
            };
            {
                let mut down = self.down.lock().unwrap();
                if *down > 0 {
                    *down -= 1;
                    return Err("connection refused".into());
                }
            }
            if std::mem::take(&mut *self.throttle_once.lock().unwrap()) {
                return Ok(answer(429, "slow down"));
            }
            let states = body["States"].as_array().unwrap();
            if let Some(bad) = states.iter().find(|s| s["StateCode"] == "BAD") {
                return Ok(answer(400, &format!("Unknown state code BAD for {}", bad["UserCode"])));
            }
            let snapshot = body["IsSnapshot"].as_bool().unwrap();
            let mut taken = self.taken.lock().unwrap();
            for state in states {
                taken.push((
                    state["UserCode"].as_str().unwrap().to_owned(),
                    state["StateCode"].as_str().unwrap().to_owned(),
                    snapshot,
                ));
            }
            Ok(answer(200, ""))
        }
    }

    fn calabrio(max_batch: usize) -> Target {
        let mut target = Calabrio::new("http://rta", Secret::new("k"), "1", UserCode::Id);
        target.max_batch = max_batch;
        Target::Calabrio(target)
    }

    fn state(agent: &str, state: &str, n: u32) -> PushRecord {
        PushRecord::parse(
            &json!({"kind":"agent_state","instance_id":"i","agent_id":agent,"state":state,"event_id":format!("{agent}-{n}"),
                "event_time":"2026-11-20T10:00:00.000Z"})
            .to_string(),
        )
        .unwrap()
    }

    fn fast() -> Settings {
        Settings {
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 3),
            min_interval: Duration::ZERO,
            max_wait: Duration::from_secs(30),
            deadline: None,
            delivered: Arc::default(),
        }
    }

    fn clock() -> DateTime<Utc> {
        "2026-11-20T10:00:01.500Z".parse().unwrap()
    }

    #[tokio::test]
    async fn one_refused_state_is_found_and_kept_and_the_rest_delivered_in_order() {
        let records: Vec<PushRecord> = (0..10)
            .map(|n| state(["a", "b"][n as usize % 2], if n == 6 { "BAD" } else { "Available" }, n))
            .collect();
        let rta = FakeRta::default();
        let outcome = push(&records, &calabrio(1000), &rta, &fast(), clock).await;
        assert_eq!(
            outcome.refused,
            [(6, "HTTP 400: Unknown state code BAD for \"a\"".to_owned())]
        );
        assert_eq!(outcome.delivered, [0, 1, 2, 3, 4, 5, 7, 8, 9]);
        assert!(outcome.pending.is_empty());
        let taken: Vec<String> = rta.taken.lock().unwrap().iter().map(|t| t.0.clone()).collect();
        assert_eq!(
            taken,
            ["a", "b", "a", "b", "a", "b", "b", "a", "b"],
            "the order given, 6 left out"
        );
        // 10 refused → 5 ok + 5 refused → 2 ok + 3 refused → 1 refused (6) + 2 ok... in log2 steps.
        assert!(outcome.calls <= 8, "{} calls", outcome.calls);
        assert_eq!(outcome.lags_ms.len(), 9);
        assert_eq!(outcome.lags_ms[0], 1500);
    }

    #[tokio::test]
    async fn a_wfm_down_past_the_retries_leaves_everything_from_there_pending_in_order() {
        let records: Vec<PushRecord> = (0..5).map(|n| state("a", "Available", n)).collect();
        let rta = FakeRta::default();
        // The first batch (2 records) goes through; then the WFM is down for good.
        let outcome = {
            let first = push(&records[..2], &calabrio(2), &rta, &fast(), clock).await;
            assert_eq!(first.delivered, [0, 1]);
            *rta.down.lock().unwrap() = 100;
            push(&records, &calabrio(2), &rta, &fast(), clock).await
        };
        assert_eq!(outcome.pending, [0, 1, 2, 3, 4]);
        assert_eq!(outcome.retries, 3);
        assert_eq!(outcome.pending_reason.as_deref(), Some("no answer: connection refused"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wfm_down_briefly_is_retried_and_nothing_is_lost_or_reordered() {
        let records: Vec<PushRecord> = (0..7)
            .map(|n| state(["a", "b", "c"][n as usize % 3], "Available", n))
            .collect();
        let rta = FakeRta::default();
        *rta.down.lock().unwrap() = 2;
        *rta.throttle_once.lock().unwrap() = true;
        let outcome = push(&records, &calabrio(3), &rta, &fast(), clock).await;
        assert_eq!(outcome.delivered, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(outcome.retries, 3);
        let taken: Vec<String> = rta.taken.lock().unwrap().iter().map(|t| t.0.clone()).collect();
        assert_eq!(taken, ["a", "b", "c", "a", "b", "c", "a"]);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_keep_to_the_rate_and_a_long_retry_after_ends_the_run() {
        let records: Vec<PushRecord> = (0..4).map(|n| state("a", "Available", n)).collect();
        let rta = FakeRta::default();
        let settings = Settings {
            min_interval: Duration::from_millis(500),
            ..fast()
        };
        let start = tokio::time::Instant::now();
        let outcome = push(&records, &calabrio(1), &rta, &settings, clock).await;
        assert_eq!(outcome.calls, 4);
        assert!(start.elapsed() >= Duration::from_millis(1500), "{:?}", start.elapsed());

        *rta.throttle_once.lock().unwrap() = true;
        let settings = Settings {
            max_wait: Duration::from_millis(100),
            ..fast()
        };
        let outcome = push(&records, &calabrio(4), &rta, &settings, clock).await;
        assert_eq!(
            outcome.pending,
            [0, 1, 2, 3],
            "Retry-After 1 s is more than this run waits"
        );
    }

    #[tokio::test]
    async fn snapshots_go_as_snapshot_batches_and_other_kinds_are_skipped() {
        let snap = |agent: &str| {
            PushRecord::parse(
                &json!({"kind":"agent_snapshot","instance_id":"i","agent_id":agent,"state":"Available","as_of":"2026-11-20T10:00:00.000Z"})
                    .to_string(),
            )
            .unwrap()
        };
        let health =
            PushRecord::parse(r#"{"kind":"feed_health","instance_id":"i","status":"silent","event_id":"h"}"#).unwrap();
        let records = vec![
            state("a", "Break", 1),
            snap("a"),
            snap("b"),
            health,
            state("a", "Break", 1),
        ];
        let rta = FakeRta::default();
        let outcome = push(&records, &calabrio(1000), &rta, &fast(), clock).await;
        assert_eq!(outcome.delivered, [0, 1, 2]);
        assert_eq!(outcome.skipped, [3, 4], "health has no agent; 4 repeats 0");
        let taken = rta.taken.lock().unwrap().clone();
        assert_eq!(
            taken,
            [
                ("a".to_owned(), "Break".to_owned(), false),
                ("a".to_owned(), "Available".to_owned(), true),
                ("b".to_owned(), "Available".to_owned(), true)
            ]
        );
    }

    #[tokio::test]
    async fn a_snapshot_never_takes_an_agent_back_to_a_state_older_than_one_delivered() {
        let settings = fast();
        let rta = FakeRta::default();
        // A run delivers a's Break (10:15:06), written after the sweep read a's row.
        let first = PushRecord::parse(
            &json!({"kind":"agent_state","instance_id":"i","agent_id":"a","state":"Break","event_id":"a-9",
                    "since":"2026-11-20T10:15:06.000Z","event_time":"2026-11-20T10:15:06.000Z"})
            .to_string(),
        )
        .unwrap();
        push(&[first], &calabrio(1000), &rta, &settings, clock).await;
        // The next run takes the 10:15 snapshot, which still shows a Available since 10:00;
        // b's state began after anything delivered of b (nothing): as written.
        let snap = |agent: &str, state: &str| {
            PushRecord::parse(
                &json!({"kind":"agent_snapshot","instance_id":"i","agent_id":agent,"state":state,
                        "since":"2026-11-20T10:00:00.000Z","as_of":"2026-11-20T10:15:00.000Z"})
                .to_string(),
            )
            .unwrap()
        };
        let outcome = push(
            &[snap("a", "Available"), snap("b", "Lunch")],
            &calabrio(1000),
            &rta,
            &settings,
            clock,
        )
        .await;
        assert_eq!(outcome.delivered, [0, 1]);
        let taken = rta.taken.lock().unwrap().clone();
        let own = |a: &str, s: &str, snapshot| (a.to_owned(), s.to_owned(), snapshot);
        assert_eq!(
            taken,
            [
                own("a", "Break", false),
                own("a", "Break", true),
                own("b", "Lunch", true)
            ]
        );
        // A process without that memory sends the snapshot as written.
        let fresh = FakeRta::default();
        push(&[snap("a", "Available")], &calabrio(1000), &fresh, &fast(), clock).await;
        assert_eq!(fresh.taken.lock().unwrap().clone(), [own("a", "Available", true)]);
    }

    /// A push queue in memory: one message per line given; a receive takes them all (or, when
    /// none is left, waits as long polling does).
    struct Queue(Mutex<Vec<Received>>);

    impl Queue {
        fn of(lines: &[String]) -> Self {
            let messages = lines
                .iter()
                .enumerate()
                .map(|(n, line)| Received {
                    message_id: format!("m-{n}"),
                    receipt: format!("r-{n}"),
                    body: line.clone(),
                    sent_at: None,
                })
                .collect();
            Self(Mutex::new(messages))
        }
    }

    impl PushQueue for Queue {
        async fn receive(&self, _max: usize, wait: Duration) -> Result<Vec<Received>, PortError> {
            let taken = std::mem::take(&mut *self.0.lock().unwrap());
            if taken.is_empty() {
                tokio::time::sleep(wait).await;
            }
            Ok(taken)
        }

        async fn delete(&self, _receipts: &[String]) -> Result<(), PortError> {
            Ok(())
        }

        async fn release(&self, _receipts: &[String]) -> Result<(), PortError> {
            Ok(())
        }
    }

    /// One run of the function over `lines`, with `settings` (its memory included).
    async fn run_over(lines: &[String], rta: &FakeRta, settings: &Settings) -> RunStats {
        let run = RunSettings {
            until: tokio::time::Instant::now() + Duration::from_secs(1),
            wait: Duration::from_millis(100),
        };
        let rejects = connect_wfm_core::memory::MemoryFeedSink::default();
        run_queue(&Queue::of(lines), &calabrio(1000), rta, &rejects, settings, &run, clock).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_process_recalls_what_the_last_one_delivered_and_its_snapshot_gets_the_newer_state() {
        use connect_wfm_core::memory::MemoryDeliveredStore;
        use std::sync::atomic::Ordering;

        let store = MemoryDeliveredStore::default();
        let snapshot = json!({"kind":"agent_snapshot","instance_id":"i","agent_id":"a","state":"Available",
                "since":"2026-11-20T10:00:00.000Z","as_of":"2026-11-20T10:15:00.000Z"})
        .to_string();
        let own = |s: &str| ("a".to_owned(), s.to_owned(), true);

        // The first process (cold: nothing kept yet) delivers a's Break, written after the
        // sweep read a's row, and keeps its memory.
        let first = fast().recalling(&store).await;
        let rta = FakeRta::default();
        let break_line = json!({"kind":"agent_state","instance_id":"i","agent_id":"a","state":"Break","event_id":"a-9",
                "since":"2026-11-20T10:15:06.000Z","event_time":"2026-11-20T10:15:06.000Z"})
        .to_string();
        let stats = run_over(&[break_line], &rta, &first).await;
        assert_eq!(stats.records_pushed, 1);
        assert!(keep_delivered(&store, &first, &stats, clock()).await);
        // A run that delivered nothing writes nothing.
        let idle = run_over(&[], &rta, &first).await;
        assert!(!keep_delivered(&store, &first, &idle, clock()).await);
        assert_eq!(store.saves.load(Ordering::Relaxed), 1);

        // The process ends; a fresh one (new settings, its memory from the store) takes the
        // 10:15 snapshot that still shows a Available since 10:00: the WFM gets Break.
        let fresh = fast().recalling(&store).await;
        let rta = FakeRta::default();
        run_over(std::slice::from_ref(&snapshot), &rta, &fresh).await;
        assert_eq!(rta.taken.lock().unwrap().clone(), [own("Break")]);

        // Without the store's memory the snapshot goes as written, as before.
        let forgetful = fast().recalling(&MemoryDeliveredStore::default()).await;
        let rta = FakeRta::default();
        run_over(std::slice::from_ref(&snapshot), &rta, &forgetful).await;
        assert_eq!(rta.taken.lock().unwrap().clone(), [own("Available")]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_fails_costs_the_memory_never_the_run() {
        use connect_wfm_core::memory::MemoryDeliveredStore;
        use std::sync::atomic::Ordering;

        let store = MemoryDeliveredStore::default();
        store.failing.store(true, Ordering::Relaxed);
        let settings = fast().recalling(&store).await;
        let rta = FakeRta::default();
        let stats = run_over(&[state("a", "Break", 1).line], &rta, &settings).await;
        assert_eq!((stats.records_pushed, stats.failures), (1, 0));
        assert!(!keep_delivered(&store, &settings, &stats, clock()).await);
        assert_eq!(
            (store.loads.load(Ordering::Relaxed), store.saves.load(Ordering::Relaxed)),
            (1, 1)
        );
        assert_eq!(store.stored(), None);
    }

    #[tokio::test]
    async fn a_record_without_its_user_code_is_refused_without_a_call() {
        let mut record = state("a", "Available", 1);
        record.agent_id = None;
        let rta = FakeRta::default();
        let outcome = push(&[record], &calabrio(1000), &rta, &fast(), clock).await;
        assert_eq!(
            outcome.refused,
            [(0, "the record has no agent_id to send as UserCode".to_owned())]
        );
        assert_eq!(outcome.calls, 0);
    }

    #[tokio::test]
    async fn the_webhook_takes_every_configured_kind_in_one_signed_call() {
        struct Keep(Mutex<Vec<HttpRequest>>);
        impl WfmApi for Keep {
            async fn post(&self, request: &HttpRequest) -> Result<Answer, String> {
                self.0.lock().unwrap().push(request.clone());
                Ok(Answer {
                    status: 204,
                    retry_after: None,
                    body: String::new(),
                })
            }
        }
        let health =
            PushRecord::parse(r#"{"kind":"feed_health","instance_id":"i","status":"silent","event_id":"h"}"#).unwrap();
        let records = vec![state("a", "Break", 1), health];
        let target = Target::Webhook(Webhook::new("http://wfm/hook", Secret::new("s")));
        let keep = Keep(Mutex::new(Vec::new()));
        let outcome = push(&records, &target, &keep, &fast(), clock).await;
        assert_eq!(outcome.delivered, [0, 1]);
        let calls = keep.0.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let body: serde_json::Value = serde_json::from_slice(&calls[0].body).unwrap();
        assert_eq!(body.as_array().unwrap().len(), 2);
        assert!(
            calls[0].headers[0]
                .1
                .starts_with(&format!("t={},v1=", clock().timestamp()))
        );
    }
}
