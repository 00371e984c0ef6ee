//! The stream-basis `queue_interval` record (feed.md "Stream basis"), computed from the legs of
//! one queue at a clock.
//!
//! [`stream_queue_interval`] computes one (instance, queue, interval) record from any set of
//! legs that includes the queue's legs pegged there and those waiting at the interval's end
//! (others are ignored, so a caller may pass more); [`stream_queue_intervals`] computes every
//! record a set of legs makes. Both are pure functions of the legs, the queue names, the
//! settings and the clock: recomputing after every change gives the same record whatever the
//! order the inputs came in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::leg::{Leg, LegBook, LegOutcome, QueueNames};
use crate::feed::SCHEMA;
use crate::report::ServiceLevel;
use crate::timefmt::serde_feed_time;

/// Length of a stream-basis interval.
pub const INTERVAL_MINUTES: u32 = 15;

/// The default of `reports.service_level_thresholds`.
pub const DEFAULT_THRESHOLDS: [u32; 1] = [20];

/// The start of the 15-minute interval holding `at` (intervals are half-open: `10:15:00.000`
/// starts the 10:15 interval).
pub fn interval_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let step = i64::from(INTERVAL_MINUTES) * 60;
    let seconds = at.timestamp().div_euclid(step) * step;
    DateTime::from_timestamp(seconds, 0).unwrap_or(at)
}

/// One stream-basis record's identity: instance id, queue id, interval start.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IntervalKey {
    /// Connect instance id.
    pub instance_id: String,
    /// Queue id (last segment of the queue ARN).
    pub queue_id: String,
    /// Start of the 15-minute interval, UTC.
    pub interval_start: DateTime<Utc>,
}

impl IntervalKey {
    /// The interval's (exclusive) end.
    pub fn end(&self) -> DateTime<Utc> {
        self.interval_start + TimeDelta::minutes(INTERVAL_MINUTES.into())
    }
}

/// What the stream basis takes from the mapping file, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `reports.service_level_thresholds` (seconds), default `[20]`.
    pub service_level_thresholds: Vec<u32>,
    /// The queue's configured SLA threshold (`reports.sla_seconds`), by queue name, or by queue
    /// id (so a queue whose name is not known yet finds its SLA too).
    pub sla_seconds: HashMap<String, u32>,
    /// `reports.default_sla_seconds`: the SLA of queues without their own.
    pub default_sla_seconds: Option<u32>,
    /// The mapping's top-level `instances`: alias → instance id.
    pub instances: BTreeMap<String, String>,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            service_level_thresholds: DEFAULT_THRESHOLDS.to_vec(),
            sla_seconds: HashMap::new(),
            default_sla_seconds: None,
            instances: BTreeMap::new(),
        }
    }
}

impl StreamSettings {
    /// The alias the `instances` map gives an instance id (the first alias in name order when
    /// several name it), else the id.
    pub fn instance_alias(&self, instance_id: &str) -> String {
        self.instances
            .iter()
            .find(|(_, id)| id.as_str() == instance_id)
            .map_or_else(|| instance_id.to_owned(), |(alias, _)| alias.clone())
    }

    /// The queue's configured SLA: by name, else by id, else the default.
    pub fn configured_sla(&self, queue_name: Option<&str>, queue_id: &str) -> Option<u32> {
        queue_name
            .and_then(|name| self.sla_seconds.get(name))
            .or_else(|| self.sla_seconds.get(queue_id))
            .copied()
            .or(self.default_sla_seconds)
    }

    /// Every threshold X of a queue, ascending: its configured SLA and the mapping's
    /// thresholds.
    pub fn thresholds(&self, configured_sla: Option<u32>) -> Vec<u32> {
        let set: BTreeSet<u32> = self
            .service_level_thresholds
            .iter()
            .copied()
            .chain(configured_sla)
            .collect();
        set.into_iter().collect()
    }
}

/// `source` of a stream-basis record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamSource {
    /// `contact_events`.
    pub stream: &'static str,
}

impl StreamSource {
    /// The source of every stream-basis record.
    pub const CONTACT_EVENTS: StreamSource = StreamSource {
        stream: "contact_events",
    };
}

fn optional_feed_time<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serde_feed_time::serialize(at, s),
        None => s.serialize_none(),
    }
}

/// The stream-basis `queue_interval` record. Field names are the report basis's
/// ([`crate::report::QueueInterval`]) plus the stream's own (`instance_id`, `queue_id`,
/// `transferred_out`, `as_of`, `ctr_pending`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamQueueInterval {
    /// `queue_interval`.
    pub kind: &'static str,
    /// [`SCHEMA`].
    pub schema: u32,
    /// `stream`.
    pub basis: &'static str,
    /// The instance alias from the mapping's `instances`, else the instance id.
    pub instance: String,
    /// The instance id.
    pub instance_id: String,
    /// The queue name, when learned from CTRs or agent events; else null.
    pub queue: Option<String>,
    /// Last segment of the queue ARN.
    pub queue_id: String,
    /// Interval start, UTC.
    #[serde(with = "serde_feed_time")]
    pub interval_start: DateTime<Utc>,
    /// 15.
    pub interval_minutes: u32,
    /// Legs enqueued in the queue, pegged here.
    pub contacts_received: Option<i64>,
    /// Legs connected to an agent.
    pub handled: Option<i64>,
    /// Handled legs with connectedToAgent − enqueue ≤ X (X = `service_level_seconds`).
    pub handled_short: Option<i64>,
    /// handled − handled_short.
    pub handled_long: Option<i64>,
    /// Enqueued legs never connected, with no callback or queue-transfer successor.
    pub abandoned: Option<i64>,
    /// Abandoned legs with disconnect − enqueue ≤ X.
    pub abandoned_short: Option<i64>,
    /// abandoned − abandoned_short.
    pub abandoned_long: Option<i64>,
    /// Enqueued legs that left unanswered by callback or queue transfer.
    pub transferred_out: Option<i64>,
    /// Σ Agent.AgentInteractionDuration of handled legs whose CTR arrived.
    pub talk_time_s: Option<i64>,
    /// Σ Agent.CustomerHoldDuration.
    pub hold_time_s: Option<i64>,
    /// Σ Agent.AfterContactWorkDuration.
    pub acw_time_s: Option<i64>,
    /// talk + hold + acw.
    pub handle_time_s: Option<i64>,
    /// Σ (connectedToAgent − enqueue) over handled legs, rounded at the end.
    pub queue_delay_s: Option<i64>,
    /// The queue's SLA X: configured, else the smallest threshold.
    pub service_level_seconds: Option<u32>,
    /// `service_levels[X].pct` at X = `service_level_seconds`.
    pub service_level_pct: Option<f64>,
    /// Every threshold, ascending.
    pub service_levels: Vec<ServiceLevel>,
    /// Legs waiting at the interval's end (null until the interval has ended by the clock).
    pub backlog: Option<i64>,
    /// Of those, waiting longer than X.
    pub backlog_expired: Option<i64>,
    /// Of those, waiting at most X.
    pub backlog_not_expired: Option<i64>,
    /// Always null.
    pub right_party_contacts: Option<i64>,
    /// Always null.
    pub right_party_handle_time_s: Option<i64>,
    /// Always null.
    pub wrong_party_contacts: Option<i64>,
    /// Always null.
    pub wrong_party_handle_time_s: Option<i64>,
    /// Any count above zero (a waiting-only record is active).
    pub active: bool,
    /// The newest EventBridge `time` or CTR `LastUpdateTimestamp` among the record's legs.
    #[serde(serialize_with = "optional_feed_time")]
    pub as_of: Option<DateTime<Utc>>,
    /// Handled legs whose CTR has not arrived (their durations are missing from the sums).
    pub ctr_pending: i64,
    /// `{ "stream": "contact_events" }`.
    pub source: StreamSource,
}

impl StreamQueueInterval {
    /// `stream`.
    pub const BASIS: &'static str = "stream";

    /// The record's identity.
    pub fn key(&self) -> IntervalKey {
        IntervalKey {
            instance_id: self.instance_id.clone(),
            queue_id: self.queue_id.clone(),
            interval_start: self.interval_start,
        }
    }

    /// Its object key in the feed location:
    /// `queue_interval/<YYYY-MM-DD>/stream/<instance>/<queue_id>/<HHMM>.json`.
    pub fn feed_key(&self) -> String {
        stream_feed_key(&self.instance, &self.queue_id, self.interval_start)
    }
}

/// The feed object key of a stream-basis record (relative to the feed location); `instance`
/// is the alias the record carries. Each segment is kept to safe characters.
pub fn stream_feed_key(instance: &str, queue_id: &str, interval_start: DateTime<Utc>) -> String {
    use crate::feed::sanitize_name;
    format!(
        "queue_interval/{}/stream/{}/{}/{}.json",
        interval_start.format("%Y-%m-%d"),
        sanitize_name(instance),
        sanitize_name(queue_id),
        interval_start.format("%H%M")
    )
}

/// `100 × part / whole` rounded half up to two decimals, exactly (integer arithmetic).
fn percent(part: i64, whole: i64) -> Option<f64> {
    if whole <= 0 {
        return None;
    }
    let hundredths = (20_000 * part + whole) / (2 * whole);
    Some(hundredths as f64 / 100.0)
}

/// Whole seconds from milliseconds, half away from zero.
fn round_ms(ms: i64) -> i64 {
    (ms + 500).div_euclid(1000)
}

fn within(from: DateTime<Utc>, to: DateTime<Utc>, seconds: u32) -> bool {
    to - from <= TimeDelta::seconds(seconds.into())
}

/// The stream-basis record of `key` at `clock`, from `legs` (any superset of the queue's legs
/// pegged to the interval and waiting at its end). `None` when the queue has no record there:
/// no leg pegged, and no leg waiting at its end or the interval has not ended by the clock.
///
/// Before the interval has ended by the clock, the backlog fields are null (the interval's end
/// has not come).
pub fn stream_queue_interval<'a>(
    key: &IntervalKey,
    legs: impl IntoIterator<Item = &'a Leg>,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
) -> Option<StreamQueueInterval> {
    let end = key.end();
    let ended = end <= clock;
    let mut pegged = Vec::new();
    let mut waiting = Vec::new();
    for leg in legs {
        if leg.instance_id != key.instance_id {
            continue;
        }
        let Some((queue_id, _)) = leg.queued() else {
            continue;
        };
        if queue_id != key.queue_id {
            continue;
        }
        if leg
            .pegged_interval()
            .is_some_and(|k| k.interval_start == key.interval_start)
        {
            pegged.push(leg);
        }
        if ended && leg.waiting_at(end) {
            waiting.push(leg);
        }
    }
    if pegged.is_empty() && waiting.is_empty() {
        return None;
    }

    let queue = names.name(&key.instance_id, &key.queue_id).map(str::to_owned);
    let configured = settings.configured_sla(queue.as_deref(), &key.queue_id);
    let thresholds = settings.thresholds(configured);
    let sla = configured.or_else(|| thresholds.first().copied());

    let (mut received, mut handled, mut abandoned, mut transferred) = (0i64, 0i64, 0i64, 0i64);
    let mut answered_in = vec![0i64; thresholds.len()];
    let mut abandoned_in = vec![0i64; thresholds.len()];
    let mut left_in = vec![0i64; thresholds.len()];
    let (mut talk, mut hold, mut acw, mut with_ctr, mut ctr_pending) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let mut delay_ms = 0i64;
    for leg in &pegged {
        let (Some(enqueued), Some(disconnected)) = (leg.enqueued_at(), leg.disconnected_at()) else {
            continue;
        };
        received += 1;
        match leg.outcome() {
            LegOutcome::Handled => {
                handled += 1;
                let connected = leg.connected_at().unwrap_or(disconnected);
                // A connect stamped before the enqueue (clock skew) waited nothing.
                delay_ms += (connected - enqueued).num_milliseconds().max(0);
                for (i, &x) in thresholds.iter().enumerate() {
                    if within(enqueued, connected, x) {
                        answered_in[i] += 1;
                        left_in[i] += 1;
                    }
                }
                match &leg.ctr {
                    Some(ctr) => {
                        with_ctr += 1;
                        // A null duration in an arrived CTR adds nothing: the record is final.
                        talk += ctr.talk_s.unwrap_or(0);
                        hold += ctr.hold_s.unwrap_or(0);
                        acw += ctr.acw_s.unwrap_or(0);
                    }
                    None => ctr_pending += 1,
                }
            }
            LegOutcome::Abandoned | LegOutcome::TransferredOut => {
                let is_abandoned = leg.outcome() == LegOutcome::Abandoned;
                if is_abandoned {
                    abandoned += 1;
                } else {
                    transferred += 1;
                }
                for (i, &x) in thresholds.iter().enumerate() {
                    if within(enqueued, disconnected, x) {
                        left_in[i] += 1;
                        if is_abandoned {
                            abandoned_in[i] += 1;
                        }
                    }
                }
            }
            // A pegged leg has a disconnect, so it is never waiting.
            LegOutcome::Waiting => {}
        }
    }

    let durations = |sum: i64| match (handled, with_ctr) {
        (0, _) => Some(0),
        (_, 0) => None,
        _ => Some(sum),
    };
    let (talk_time_s, hold_time_s, acw_time_s) = (durations(talk), durations(hold), durations(acw));
    let handle_time_s = match (talk_time_s, hold_time_s, acw_time_s) {
        (Some(t), Some(h), Some(a)) => Some(t + h + a),
        _ => None,
    };

    let service_levels: Vec<ServiceLevel> = thresholds
        .iter()
        .enumerate()
        .map(|(i, &seconds)| ServiceLevel {
            seconds,
            answered: Some(answered_in[i]),
            abandoned: Some(abandoned_in[i]),
            pct: percent(left_in[i], received),
        })
        .collect();
    let at_sla = sla.and_then(|x| service_levels.iter().find(|sl| sl.seconds == x));
    let handled_short = at_sla.and_then(|sl| sl.answered);
    let abandoned_short = at_sla.and_then(|sl| sl.abandoned);

    let (backlog, backlog_expired, backlog_not_expired) = if ended {
        let total = waiting.len() as i64;
        let expired = sla.map(|x| {
            waiting
                .iter()
                .filter(|leg| leg.enqueued_at().is_some_and(|enqueued| !within(enqueued, end, x)))
                .count() as i64
        });
        (Some(total), expired, expired.map(|e| total - e))
    } else {
        (None, None, None)
    };

    let as_of = pegged.iter().chain(&waiting).filter_map(|leg| leg.newest_input()).max();
    let active = received > 0 || backlog.is_some_and(|b| b > 0);

    Some(StreamQueueInterval {
        kind: "queue_interval",
        schema: SCHEMA,
        basis: StreamQueueInterval::BASIS,
        instance: settings.instance_alias(&key.instance_id),
        instance_id: key.instance_id.clone(),
        queue,
        queue_id: key.queue_id.clone(),
        interval_start: key.interval_start,
        interval_minutes: INTERVAL_MINUTES,
        contacts_received: Some(received),
        handled: Some(handled),
        handled_short,
        handled_long: handled_short.map(|short| (handled - short).max(0)),
        abandoned: Some(abandoned),
        abandoned_short,
        abandoned_long: abandoned_short.map(|short| (abandoned - short).max(0)),
        transferred_out: Some(transferred),
        talk_time_s,
        hold_time_s,
        acw_time_s,
        handle_time_s,
        queue_delay_s: Some(round_ms(delay_ms)),
        service_level_seconds: sla,
        service_level_pct: at_sla.and_then(|sl| sl.pct),
        service_levels,
        backlog,
        backlog_expired,
        backlog_not_expired,
        right_party_contacts: None,
        right_party_handle_time_s: None,
        wrong_party_contacts: None,
        wrong_party_handle_time_s: None,
        active,
        as_of,
        ctr_pending,
        source: StreamSource::CONTACT_EVENTS,
    })
}

/// Every stream-basis record `legs` make at `clock`, sorted by interval start, then queue id
/// (then instance id), as `connect-wfm intervals` prints them.
pub fn stream_queue_intervals<'a>(
    legs: impl IntoIterator<Item = &'a Leg> + Clone,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
) -> Vec<StreamQueueInterval> {
    let mut by_key: BTreeMap<(DateTime<Utc>, String, String), Vec<&Leg>> = BTreeMap::new();
    for leg in legs {
        for key in leg.intervals(clock) {
            by_key
                .entry((key.interval_start, key.queue_id, key.instance_id))
                .or_default()
                .push(leg);
        }
    }
    by_key
        .into_iter()
        .filter_map(|((interval_start, queue_id, instance_id), legs)| {
            let key = IntervalKey {
                instance_id,
                queue_id,
                interval_start,
            };
            stream_queue_interval(&key, legs, names, settings, clock)
        })
        .collect()
}

impl LegBook {
    /// Every stream-basis record of the book at `clock` (see [`stream_queue_intervals`]).
    pub fn records(&self, settings: &StreamSettings, clock: DateTime<Utc>) -> Vec<StreamQueueInterval> {
        stream_queue_intervals(self.legs.values(), &self.names, settings, clock)
    }

    /// Every record at the book's own clock: the newest input time processed (the rule of
    /// `connect-wfm intervals`).
    pub fn records_now(&self, settings: &StreamSettings) -> Vec<StreamQueueInterval> {
        match self.newest_input {
            Some(clock) => self.records(settings, clock),
            None => Vec::new(),
        }
    }
}
