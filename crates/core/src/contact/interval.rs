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

use super::key::{INTERVAL_MINUTES, IntervalKey};
use super::leg::{Leg, LegBook, LegOutcome, QueueNames};
use super::summary::LegSummary;
use crate::feed::SCHEMA;
use crate::report::{IntervalSource, QueueInterval, ServiceLevel};

/// The default of `reports.service_level_thresholds`.
pub const DEFAULT_THRESHOLDS: [u32; 1] = [20];

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
    /// The settings a mapping file gives: its `instances`, and the `reports` section's
    /// `service_level_thresholds` (default `[20]`), per-queue SLA (`sla_seconds`) and
    /// `default_sla_seconds`.
    pub fn from_mapping(mapping: &crate::Mapping) -> Self {
        Self {
            service_level_thresholds: mapping.reports.service_level_thresholds().to_vec(),
            sla_seconds: mapping.reports.queue_sla_seconds().clone(),
            default_sla_seconds: mapping.reports.default_sla_seconds(),
            instances: mapping
                .instances
                .iter()
                .map(|(alias, id)| (alias.to_owned(), id.to_owned()))
                .collect(),
        }
    }

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

/// The stream-basis `queue_interval` record: the one [`QueueInterval`] type of both bases, with
/// the stream's own fields set (`instance_id`, `queue_id`, `transferred_out`, `as_of`,
/// `ctr_pending`).
pub type StreamQueueInterval = QueueInterval;

impl QueueInterval {
    /// `basis` of a stream-basis record.
    pub const BASIS: &'static str = "stream";

    /// A stream-basis record's identity (empty ids for a report record, which has none).
    pub fn key(&self) -> IntervalKey {
        IntervalKey {
            instance_id: self.instance_id.clone().unwrap_or_default(),
            queue_id: self.queue_id.clone().unwrap_or_default(),
            interval_start: self.interval_start,
        }
    }

    /// A stream-basis record's object key in the feed location:
    /// `queue_interval/<YYYY-MM-DD>/stream/<instance>/<queue_id>/<HHMM>.json`.
    pub fn feed_key(&self) -> String {
        stream_feed_key(
            &self.instance,
            self.queue_id.as_deref().unwrap_or_default(),
            self.interval_start,
        )
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
    let summaries: Vec<LegSummary> = legs.into_iter().filter_map(Leg::summary).collect();
    compute(key, &summaries, names, settings, clock, false)
}

/// [`stream_queue_interval`] from the legs' summaries (what the store files under intervals).
pub fn stream_queue_interval_of<'a>(
    key: &IntervalKey,
    legs: impl IntoIterator<Item = &'a LegSummary>,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
) -> Option<StreamQueueInterval> {
    let summaries: Vec<&LegSummary> = legs.into_iter().collect();
    compute(key, summaries.iter().copied(), names, settings, clock, false)
}

/// What overwrites the object of a queue and interval that had a record and has none any more
/// (its only legs moved to another interval, or a contact seen waiting at the interval's end
/// turned out to have left before it): the record of no legs, every count 0, `active` false,
/// `as_of` null. Feed objects are overwritten, never removed, so without it the last record
/// written would stand. A stream-basis record with `active` false is always such a retraction.
pub fn retracted_stream_queue_interval(
    key: &IntervalKey,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
) -> StreamQueueInterval {
    compute(key, std::iter::empty(), names, settings, clock, true).expect("an empty record is always made")
}

fn compute<'a>(
    key: &IntervalKey,
    legs: impl IntoIterator<Item = &'a LegSummary>,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
    empty_too: bool,
) -> Option<StreamQueueInterval> {
    let end = key.end();
    let ended = end <= clock;
    let mut pegged = Vec::new();
    let mut waiting = Vec::new();
    for leg in legs {
        if leg.instance_id != key.instance_id || leg.queue_id != key.queue_id {
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
    if pegged.is_empty() && waiting.is_empty() && !empty_too {
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
        let (enqueued, Some(disconnected)) = (leg.enqueued, leg.disconnected) else {
            continue;
        };
        received += 1;
        match leg.outcome() {
            LegOutcome::Handled => {
                handled += 1;
                let connected = leg.connected.unwrap_or(disconnected);
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
        let expired = sla.map(|x| waiting.iter().filter(|leg| !within(leg.enqueued, end, x)).count() as i64);
        (Some(total), expired, expired.map(|e| total - e))
    } else {
        (None, None, None)
    };

    let as_of = pegged.iter().chain(&waiting).filter_map(|leg| leg.newest).max();
    let active = received > 0 || backlog.is_some_and(|b| b > 0);

    Some(StreamQueueInterval {
        kind: "queue_interval",
        schema: SCHEMA,
        basis: StreamQueueInterval::BASIS,
        instance: settings.instance_alias(&key.instance_id).into(),
        instance_id: Some(key.instance_id.clone()),
        queue,
        queue_id: Some(key.queue_id.clone()),
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
        as_of: Some(as_of),
        ctr_pending: Some(ctr_pending),
        source: IntervalSource::CONTACT_EVENTS,
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

/// The records of `keys` at `clock`, from `legs` (a superset of each key's legs, as for
/// [`stream_queue_interval`]), in the order of `keys`. `None`: the queue has no record for that
/// interval any more (its only leg moved to another interval, say): a handler leaves the last
/// written object or removes it, as its storage design says.
pub fn stream_queue_intervals_for<'a>(
    keys: impl IntoIterator<Item = &'a IntervalKey>,
    legs: impl IntoIterator<Item = &'a Leg> + Clone,
    names: &QueueNames,
    settings: &StreamSettings,
    clock: DateTime<Utc>,
) -> Vec<(IntervalKey, Option<StreamQueueInterval>)> {
    keys.into_iter()
        .map(|key| {
            let record = stream_queue_interval(key, legs.clone(), names, settings, clock);
            (key.clone(), record)
        })
        .collect()
}

impl LegBook {
    /// The record of one key at `clock` (see [`stream_queue_interval`]).
    pub fn record(
        &self,
        key: &IntervalKey,
        settings: &StreamSettings,
        clock: DateTime<Utc>,
    ) -> Option<StreamQueueInterval> {
        stream_queue_interval(key, self.legs.values(), &self.names, settings, clock)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ctr::{ContactRecord, CtrAgent, CtrQueue};
    use crate::contact::event::{ContactEvent, ContactEventType};
    use crate::contact::leg::ContactInput;

    const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/inst-1";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// `10:00:00` → that time on 2026-11-20.
    fn t(hms: &str) -> DateTime<Utc> {
        at(&format!("2026-11-20T{hms}Z"))
    }

    /// One contact, described by what happened to it.
    #[derive(Clone)]
    struct C {
        id: &'static str,
        queue: &'static str,
        method: &'static str,
        previous: Option<&'static str>,
        enqueued: Option<DateTime<Utc>>,
        connected: Option<DateTime<Utc>>,
        disconnected: Option<DateTime<Utc>>,
        /// talk, hold, acw of its CTR; `None`: no CTR arrived.
        ctr: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    }

    fn c(id: &'static str) -> C {
        C {
            id,
            queue: "q1",
            method: "INBOUND",
            previous: None,
            enqueued: Some(t("10:00:00")),
            connected: None,
            disconnected: None,
            ctr: None,
        }
    }

    impl C {
        fn queued(mut self, at: &str) -> Self {
            self.enqueued = Some(t(at));
            self
        }
        fn answered(mut self, at: &str) -> Self {
            self.connected = Some(t(at));
            self
        }
        fn gone(mut self, at: &str) -> Self {
            self.disconnected = Some(t(at));
            self
        }
        fn ctr(mut self, talk: Option<i64>, hold: Option<i64>, acw: Option<i64>) -> Self {
            self.ctr = Some((talk, hold, acw));
            self
        }
        fn successor_of(mut self, previous: &'static str, method: &'static str) -> Self {
            self.previous = Some(previous);
            self.method = method;
            self
        }

        /// Its latest contact event, and its CTR when it has one.
        fn inputs(&self) -> Vec<ContactInput> {
            let time = [self.disconnected, self.connected, self.enqueued]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(t("10:00:00"));
            let queue_arn = format!("{INSTANCE}/queue/{}", self.queue);
            let mut inputs = vec![ContactInput::Event(ContactEvent {
                id: format!("ev-{}", self.id),
                time,
                event_type: ContactEventType::Disconnected,
                contact_id: self.id.into(),
                initial_contact_id: None,
                previous_contact_id: self.previous.map(str::to_owned),
                channel: Some("VOICE".into()),
                instance_arn: INSTANCE.into(),
                initiation_method: Some(self.method.into()),
                initiation_timestamp: self.enqueued,
                disconnect_timestamp: self.disconnected,
                queue_arn: Some(queue_arn.clone()),
                enqueue_timestamp: self.enqueued,
                agent_arn: None,
                connected_to_agent_timestamp: self.connected,
            })];
            if let Some((talk, hold, acw)) = self.ctr {
                inputs.push(ContactInput::Record(ContactRecord {
                    contact_id: self.id.into(),
                    instance_arn: INSTANCE.into(),
                    channel: Some("VOICE".into()),
                    initiation_method: Some(self.method.into()),
                    initiation_timestamp: self.enqueued,
                    disconnect_timestamp: self.disconnected,
                    last_update_timestamp: self.disconnected.unwrap_or(time) + TimeDelta::seconds(90),
                    previous_contact_id: self.previous.map(str::to_owned),
                    queue: Some(CtrQueue {
                        arn: Some(queue_arn),
                        name: Some(format!("Queue {}", self.queue)),
                        enqueue_timestamp: self.enqueued,
                        dequeue_timestamp: None,
                    }),
                    agent: self.connected.map(|connected| CtrAgent {
                        arn: None,
                        connected_to_agent_timestamp: Some(connected),
                        agent_interaction_duration: talk,
                        customer_hold_duration: hold,
                        after_contact_work_duration: acw,
                    }),
                }));
            }
            inputs
        }
    }

    fn book(contacts: &[C]) -> LegBook {
        let mut book = LegBook::default();
        for contact in contacts {
            for input in contact.inputs() {
                book.apply(&input);
            }
        }
        book
    }

    fn key(queue: &str, start: &str) -> IntervalKey {
        IntervalKey {
            instance_id: "inst-1".into(),
            queue_id: queue.into(),
            interval_start: t(start),
        }
    }

    fn record_with(contacts: &[C], settings: &StreamSettings, start: &str, clock: &str) -> Option<StreamQueueInterval> {
        let book = book(contacts);
        stream_queue_interval(&key("q1", start), book.legs.values(), &book.names, settings, t(clock))
    }

    /// The q1 record of the 10:00 interval at 11:00, default settings.
    fn record(contacts: &[C]) -> StreamQueueInterval {
        record_with(contacts, &StreamSettings::default(), "10:00:00", "11:00:00").expect("a record")
    }

    #[test]
    fn contacts_received_counts_enqueued_legs_pegged_by_their_disconnect() {
        let mut never_queued = c("n").gone("10:05:00");
        never_queued.enqueued = None;
        let r = record(&[
            c("a").answered("10:00:10").gone("10:05:00"),
            c("b").gone("10:14:59"),
            // Enqueued in this interval, disconnected in the next: pegged there.
            c("later").gone("10:15:00"),
            // Enqueued in an earlier interval, pegged here.
            c("early").queued("09:50:00").answered("09:59:00").gone("10:01:00"),
            never_queued,
            {
                let mut other = c("other").gone("10:05:00");
                other.queue = "q2";
                other
            },
        ]);
        assert_eq!(r.contacts_received, Some(3));
        let next = record_with(
            &[c("later").gone("10:15:00")],
            &StreamSettings::default(),
            "10:15:00",
            "11:00:00",
        )
        .unwrap();
        assert_eq!(next.contacts_received, Some(1));
    }

    #[test]
    fn a_leg_not_yet_disconnected_is_not_counted_yet() {
        let r = record(&[c("a").gone("10:01:00"), c("talking").answered("10:00:05")]);
        assert_eq!((r.contacts_received, r.handled), (Some(1), Some(0)));
    }

    #[test]
    fn handled_and_handled_short_at_each_threshold() {
        let settings = StreamSettings {
            service_level_thresholds: vec![60, 20],
            ..StreamSettings::default()
        };
        let contacts = [
            c("at20").answered("10:00:20").gone("10:05:00"),
            c("over20").answered("10:00:21").gone("10:05:00"),
            c("at60").answered("10:01:00").gone("10:05:00"),
            c("over60").answered("10:01:01").gone("10:05:00"),
        ];
        let r = record_with(&contacts, &settings, "10:00:00", "11:00:00").unwrap();
        assert_eq!(r.handled, Some(4));
        assert_eq!(r.service_level_seconds, Some(20), "the smallest threshold");
        assert_eq!((r.handled_short, r.handled_long), (Some(1), Some(3)));
        let seconds: Vec<u32> = r.service_levels.iter().map(|sl| sl.seconds).collect();
        assert_eq!(seconds, [20, 60]);
        assert_eq!(r.service_levels[0].answered, Some(1));
        assert_eq!(r.service_levels[1].answered, Some(3));
        // Milliseconds count: 20.001 s is over 20.
        let mut ms = c("ms").answered("10:00:20").gone("10:05:00");
        ms.connected = Some(at("2026-11-20T10:00:20.001Z"));
        let r = record(&[ms]);
        assert_eq!((r.handled_short, r.handled_long), (Some(0), Some(1)));
    }

    #[test]
    fn the_queues_configured_sla_is_a_threshold_and_sets_service_level_seconds() {
        let contacts = [
            c("a")
                .answered("10:00:25")
                .gone("10:05:00")
                .ctr(Some(1), Some(0), Some(0)),
            c("b").gone("10:00:31"),
        ];
        // By name (learned from the CTR).
        let by_name = StreamSettings {
            sla_seconds: HashMap::from([("Queue q1".to_owned(), 30)]),
            ..StreamSettings::default()
        };
        let r = record_with(&contacts, &by_name, "10:00:00", "11:00:00").unwrap();
        assert_eq!(r.service_level_seconds, Some(30));
        assert_eq!(
            r.service_levels.iter().map(|sl| sl.seconds).collect::<Vec<_>>(),
            [20, 30]
        );
        assert_eq!(
            (r.handled_short, r.abandoned_short, r.abandoned_long),
            (Some(1), Some(0), Some(1))
        );
        assert_eq!(r.service_level_pct, Some(50.0));
        // By queue id, and the default.
        let by_id = StreamSettings {
            sla_seconds: HashMap::from([("q1".to_owned(), 40)]),
            ..StreamSettings::default()
        };
        let r = record_with(&contacts, &by_id, "10:00:00", "11:00:00").unwrap();
        assert_eq!((r.service_level_seconds, r.abandoned_short), (Some(40), Some(1)));
        let default = StreamSettings {
            default_sla_seconds: Some(10),
            ..StreamSettings::default()
        };
        let r = record_with(&contacts, &default, "10:00:00", "11:00:00").unwrap();
        assert_eq!((r.service_level_seconds, r.handled_short), (Some(10), Some(0)));
    }

    #[test]
    fn abandoned_and_abandoned_short() {
        let r = record(&[
            c("a20").gone("10:00:20"),
            c("a21").gone("10:00:21"),
            c("answered").answered("10:00:05").gone("10:03:00"),
        ]);
        assert_eq!(r.abandoned, Some(2));
        assert_eq!((r.abandoned_short, r.abandoned_long), (Some(1), Some(1)));
        assert_eq!(r.service_levels[0].abandoned, Some(1));
        assert_eq!(r.transferred_out, Some(0));
    }

    #[test]
    fn callbacks_and_queue_transfers_count_as_transferred_out_not_abandoned() {
        let contacts = [
            c("cb-origin").gone("10:02:00"),
            c("cb").queued("10:02:01").successor_of("cb-origin", "CALLBACK"),
            c("qt-origin").gone("10:03:00"),
            {
                let mut qt = c("qt").queued("10:03:01").successor_of("qt-origin", "QUEUE_TRANSFER");
                qt.queue = "q2";
                qt
            },
            // An agent transfer of an unanswered leg is no successor by the definition.
            c("tr-origin").gone("10:04:00"),
            c("tr").queued("10:04:01").successor_of("tr-origin", "TRANSFER"),
            // An answered leg that the agent transferred stays handled.
            c("handled-origin").answered("10:00:10").gone("10:06:00"),
            c("handled-next")
                .queued("10:06:01")
                .successor_of("handled-origin", "QUEUE_TRANSFER"),
        ];
        let r = record(&contacts);
        assert_eq!(r.transferred_out, Some(2));
        assert_eq!(r.abandoned, Some(1), "only the TRANSFER's origin");
        assert_eq!(r.handled, Some(1));
        assert_eq!(r.contacts_received, Some(4), "successors still wait: not pegged");
        // Without the successors, the origins are abandoned.
        let r = record(&contacts[..1]);
        assert_eq!((r.abandoned, r.transferred_out), (Some(1), Some(0)));
    }

    #[test]
    fn queue_delay_sums_waits_and_rounds_at_the_end() {
        let mut legs = Vec::new();
        for id in ["a", "b", "c"] {
            let mut leg = c(id).gone("10:05:00");
            leg.connected = Some(at("2026-11-20T10:00:00.500Z"));
            legs.push(leg);
        }
        legs.push(c("d").answered("10:00:30").gone("10:05:00"));
        legs.push(c("abandoned").gone("10:04:00"));
        // 3 × 0.5 s + 30 s = 31.5 s → 32 (rounding each leg gives 33, truncating 30 or 31).
        assert_eq!(record(&legs).queue_delay_s, Some(32));
        assert_eq!(record(&[c("abandoned").gone("10:04:00")]).queue_delay_s, Some(0));
    }

    #[test]
    fn durations_sum_arrived_ctrs_of_handled_legs_with_null_and_zero_rules() {
        // Nothing handled: 0, even with a CTR of an abandoned leg.
        let r = record(&[c("a").gone("10:04:00").ctr(None, None, None)]);
        assert_eq!(
            (r.talk_time_s, r.hold_time_s, r.acw_time_s, r.handle_time_s),
            (Some(0), Some(0), Some(0), Some(0))
        );
        assert_eq!(r.ctr_pending, Some(0));
        // Handled, no CTR yet: null, and pending.
        let r = record(&[c("h").answered("10:00:05").gone("10:04:00")]);
        assert_eq!((r.talk_time_s, r.handle_time_s, r.ctr_pending), (None, None, Some(1)));
        // Some arrived: their sum; a null duration in an arrived CTR adds nothing.
        let r = record(&[
            c("h1")
                .answered("10:00:05")
                .gone("10:04:00")
                .ctr(Some(100), Some(10), Some(30)),
            c("h2")
                .answered("10:00:05")
                .gone("10:04:00")
                .ctr(Some(50), None, Some(5)),
            c("h3").answered("10:00:05").gone("10:04:00"),
        ]);
        assert_eq!(
            (r.talk_time_s, r.hold_time_s, r.acw_time_s, r.handle_time_s),
            (Some(150), Some(10), Some(35), Some(195))
        );
        assert_eq!(r.ctr_pending, Some(1));
    }

    #[test]
    fn service_level_pct_counts_every_leg_that_left_within_x() {
        let r = record(&[
            c("answered").answered("10:00:20").gone("10:03:00"),
            c("abandoned").gone("10:00:10"),
            c("late").answered("10:00:40").gone("10:03:00"),
        ]);
        // 2 of 3 left within 20 s: 66.67.
        assert_eq!(r.service_level_pct, Some(66.67));
        assert_eq!(r.service_levels[0].pct, Some(66.67));
        let r = record(&[
            c("cb-origin").gone("10:00:15"),
            c("cb").queued("10:00:16").successor_of("cb-origin", "CALLBACK"),
            c("slow").gone("10:01:00"),
        ]);
        assert_eq!(r.service_level_pct, Some(50.0), "a transfer within X counts");
        assert_eq!(super::percent(1, 8), Some(12.5));
        assert_eq!(super::percent(1, 160), Some(0.63), "half up");
    }

    #[test]
    fn backlog_at_the_intervals_end() {
        let contacts = [
            c("waiting-long").queued("10:00:00"),
            // Exactly X (20 s) before the end: not expired.
            c("waiting-x").queued("10:14:40"),
            c("waiting-over-x").queued("10:14:39"),
            // Connected at the end itself: still waiting at this interval's end.
            c("at-end").queued("10:10:00").answered("10:15:00").gone("10:20:00"),
            // Left before the end.
            c("left").queued("10:10:00").gone("10:14:59"),
            // Enqueued at the end: not yet.
            c("next").queued("10:15:00"),
        ];
        let r = record(&contacts);
        assert_eq!(r.backlog, Some(4));
        assert_eq!((r.backlog_expired, r.backlog_not_expired), (Some(3), Some(1)));
        assert_eq!(r.contacts_received, Some(1));
        assert!(r.active);
    }

    #[test]
    fn a_waiting_only_record_appears_once_the_interval_has_ended_by_the_clock() {
        let contacts = [c("w").queued("10:05:00")];
        let settings = StreamSettings::default();
        assert!(record_with(&contacts, &settings, "10:00:00", "10:14:59").is_none());
        let r = record_with(&contacts, &settings, "10:00:00", "10:15:00").unwrap();
        assert_eq!((r.backlog, r.contacts_received, r.handled), (Some(1), Some(0), Some(0)));
        assert_eq!(r.service_level_pct, None, "nothing received");
        assert_eq!(r.service_levels[0].pct, None);
        assert!(r.active);
        // Before its end, a record with pegged legs has no backlog yet.
        let r = record_with(
            &[c("a").gone("10:05:00"), c("w").queued("10:05:00")],
            &settings,
            "10:00:00",
            "10:10:00",
        )
        .unwrap();
        assert_eq!(
            (r.backlog, r.backlog_expired, r.backlog_not_expired),
            (None, None, None)
        );
        // No leg at all: no record.
        assert!(record_with(&[], &settings, "10:00:00", "11:00:00").is_none());
    }

    #[test]
    fn identity_fields_alias_queue_name_as_of_and_source() {
        let settings = StreamSettings {
            instances: BTreeMap::from([("acme".to_owned(), "inst-1".to_owned())]),
            ..StreamSettings::default()
        };
        let contacts = [c("a").answered("10:00:05").gone("10:05:00"), c("w").queued("10:06:00")];
        let r = record_with(&contacts, &settings, "10:00:00", "11:00:00").unwrap();
        assert_eq!((&*r.instance, r.instance_id.as_deref()), ("acme", Some("inst-1")));
        assert_eq!((r.queue.as_deref(), r.queue_id.as_deref()), (None, Some("q1")));
        assert_eq!(
            r.as_of,
            Some(Some(t("10:06:00"))),
            "the waiting leg's event is an input"
        );
        assert_eq!(r.interval_minutes, 15);
        assert_eq!(r.feed_key(), "queue_interval/2026-11-20/stream/acme/q1/1000.json");
        let named = record(&[c("a")
            .answered("10:00:05")
            .gone("10:05:00")
            .ctr(Some(1), Some(0), Some(0))]);
        assert_eq!(named.queue.as_deref(), Some("Queue q1"));
        assert_eq!(&*named.instance, "inst-1", "no alias: the id");
        assert_eq!(named.as_of, Some(Some(t("10:06:30"))), "the CTR's LastUpdateTimestamp");

        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["basis"], "stream");
        assert_eq!(json["kind"], "queue_interval");
        assert_eq!(json["source"], serde_json::json!({"stream": "contact_events"}));
        assert_eq!(json["interval_start"], "2026-11-20T10:00:00Z");
        assert_eq!(json["queue"], serde_json::Value::Null);
        for field in [
            "right_party_contacts",
            "right_party_handle_time_s",
            "wrong_party_contacts",
            "wrong_party_handle_time_s",
        ] {
            assert_eq!(json[field], serde_json::Value::Null, "{field}");
        }
    }

    #[test]
    fn a_retraction_has_every_count_zero_and_is_inactive() {
        let key = IntervalKey {
            instance_id: "inst-1".into(),
            queue_id: "q1".into(),
            interval_start: t("10:00:00"),
        };
        let record =
            retracted_stream_queue_interval(&key, &QueueNames::default(), &StreamSettings::default(), t("10:20:00"));
        assert!(!record.active);
        assert_eq!(
            (
                record.contacts_received,
                record.handled,
                record.abandoned,
                record.backlog,
                record.talk_time_s
            ),
            (Some(0), Some(0), Some(0), Some(0), Some(0))
        );
        assert_eq!((record.as_of, record.service_level_pct), (Some(None), None));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            (&json["as_of"], &json["ctr_pending"]),
            (&serde_json::Value::Null, &serde_json::json!(0))
        );
        assert_eq!(
            record.feed_key(),
            "queue_interval/2026-11-20/stream/inst-1/q1/1000.json"
        );
    }

    #[test]
    fn settings_from_a_mapping_file() {
        let mapping = crate::Mapping::from_json(
            br#"{"instances": {"acme": "inst-1"}, "reports": {"sla_seconds": {"Support": 30}, "default_sla_seconds": 25}}"#,
            "m.json",
        )
        .unwrap();
        let settings = StreamSettings::from_mapping(&mapping);
        assert_eq!(settings.instance_alias("inst-1"), "acme");
        assert_eq!(settings.instance_alias("inst-2"), "inst-2");
        assert_eq!(settings.configured_sla(Some("Support"), "q1"), Some(30));
        assert_eq!(settings.configured_sla(None, "q1"), Some(25));
        assert_eq!(settings.service_level_thresholds, [20]);
        assert_eq!(settings.thresholds(Some(30)), [20, 30]);

        let mapping = crate::Mapping::from_json(
            br#"{"reports": {"service_level_thresholds": [60, 15], "sla_seconds": {"Support": 30}}}"#,
            "m.json",
        )
        .unwrap();
        let settings = StreamSettings::from_mapping(&mapping);
        assert_eq!(settings.thresholds(Some(30)), [15, 30, 60]);
        for bad in [r#"[0]"#, r#"[-5]"#, r#""20""#] {
            let json = format!(r#"{{"reports": {{"service_level_thresholds": {bad}}}}}"#);
            let err = crate::Mapping::from_json(json.as_bytes(), "m.json")
                .unwrap_err()
                .to_string();
            assert!(err.contains("service_level_thresholds"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_record_of_a_book_sorted_by_interval_then_queue() {
        let mut q0 = c("z").queued("10:20:00").gone("10:21:00");
        q0.queue = "q0";
        let book = book(&[c("a").gone("10:05:00"), c("w").queued("10:10:00"), q0]);
        let records = book.records(&StreamSettings::default(), t("10:45:00"));
        let keys: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r.interval_start.format("%H%M").to_string(),
                    r.queue_id.clone().unwrap_or_default(),
                )
            })
            .collect();
        let expect = [("1000", "q1"), ("1015", "q0"), ("1015", "q1"), ("1030", "q1")];
        assert_eq!(keys, expect.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec());
        assert_eq!(records[3].backlog, Some(1));
        // By key: the same records, and none where the queue has nothing.
        let keys = [key("q1", "10:15:00"), key("q1", "11:00:00")];
        let by_key = stream_queue_intervals_for(
            &keys,
            book.legs.values(),
            &book.names,
            &StreamSettings::default(),
            t("10:45:00"),
        );
        assert_eq!(by_key[0].1.as_ref(), Some(&records[2]));
        assert_eq!(by_key[1], (keys[1].clone(), None));
        assert_eq!(
            book.record(&keys[0], &StreamSettings::default(), t("10:45:00"))
                .as_ref(),
            Some(&records[2])
        );
    }
}
