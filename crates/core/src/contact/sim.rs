//! A contact-center simulator (feature `sim`): one consistent slice of an Amazon Connect
//! instance — the contact events (EventBridge JSON), the contact records (CTR JSON) and
//! Connect's queue report (QR CSV, Connect's column names) of the same contacts.
//!
//! Deterministic for a seed. The slice has answered and abandoned contacts, callbacks and queue
//! transfers (a successor contact continues the caller out of the queue), agent transfers (an
//! answered contact continues in another queue), outbound contacts that were never queued,
//! long waits that straddle intervals, and contacts still waiting or talking when the slice
//! ends. Events are emitted up to the slice's end; every contact disconnected by then has its
//! CTR (some also an older, stale copy with a smaller `LastUpdateTimestamp`), and a few inputs
//! are delivered twice, as EventBridge and Kinesis do.
//!
//! The QR is computed from the simulated contacts themselves (the ground truth), not from the
//! events, by Connect's definitions as feed.md states them: a test that parses it with the
//! report reader and compares it with the stream basis checks the event and CTR path end to
//! end. [`Slice::backlog`] is the ground truth of what the report cannot give.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};
use serde_json::{Value, json};

use super::key::{INTERVAL_MINUTES, interval_start};
use crate::synthetic::Rng;
use crate::timefmt::feed_timestamp;

/// What slice to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the slice (an interval start).
    pub start: DateTime<Utc>,
    /// Length of the slice in 15-minute intervals.
    pub intervals: u32,
    /// Contacts arriving from outside (successor contacts come on top).
    pub contacts: usize,
    /// The instance's alias (in the report key) and id.
    pub instance_alias: String,
    /// The instance id.
    pub instance_id: String,
    /// The QR's service-level threshold columns (seconds), ascending.
    pub thresholds: Vec<u32>,
}

impl Default for SliceSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            start: "2026-11-20T10:00:00Z".parse().expect("a valid start"),
            intervals: 8,
            contacts: 240,
            instance_alias: "acme".into(),
            instance_id: "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            thresholds: vec![20, 60],
        }
    }
}

/// The simulated queues: (id, name). A name with a comma tests the CSV quoting.
pub const QUEUES: [(&str, &str); 3] = [
    ("0db317d9-4c8e-4fa3-969a-73bf4c83cf3b", "Support"),
    ("5b0f3c55-2f46-4f0e-9a1e-1f2b3c4d5e6f", "Sales"),
    ("9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f", "Billing, Payments"),
];

/// One simulated contact: what really happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimContact {
    /// ContactId.
    pub id: String,
    /// Index into [`QUEUES`].
    pub queue: usize,
    /// InitiationMethod.
    pub method: &'static str,
    /// PreviousContactId.
    pub previous: Option<String>,
    /// InitiationTimestamp.
    pub initiated: DateTime<Utc>,
    /// Queue.EnqueueTimestamp (`None`: never queued).
    pub enqueued: Option<DateTime<Utc>>,
    /// Agent.ConnectedToAgentTimestamp.
    pub connected: Option<DateTime<Utc>>,
    /// DisconnectTimestamp.
    pub disconnected: Option<DateTime<Utc>>,
    /// Agent.AgentInteractionDuration.
    pub talk: i64,
    /// Agent.CustomerHoldDuration.
    pub hold: i64,
    /// Agent.AfterContactWorkDuration.
    pub acw: i64,
    /// A callback or queue-transfer contact continues this one.
    pub continued: bool,
}

/// One simulated slice.
#[derive(Debug, Clone)]
pub struct Slice {
    /// The spec it was made from.
    pub spec: SliceSpec,
    /// Every contact (ground truth).
    pub contacts: Vec<SimContact>,
    /// Contact events as EventBridge JSON, in emission order (repeats included).
    pub events: Vec<String>,
    /// Contact records as JSON, in delivery order (stale copies and repeats included).
    pub records: Vec<String>,
    /// The QR's object key: `connect/<alias>/Reports/wfm/QR-<start>.csv`.
    pub report_key: String,
    /// The QR: one row per queue per interval of the slice.
    pub report_csv: String,
}

fn instance_arn(spec: &SliceSpec) -> String {
    format!("arn:aws:connect:us-east-1:123456789012:instance/{}", spec.instance_id)
}

fn queue_arn(spec: &SliceSpec, queue: usize) -> String {
    format!("{}/queue/{}", instance_arn(spec), QUEUES[queue].0)
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn secs(n: u64) -> TimeDelta {
    TimeDelta::seconds(n as i64)
}

/// A sub-second offset: contact events carry milliseconds, CTRs whole seconds.
fn jitter(rng: &mut Rng) -> TimeDelta {
    TimeDelta::milliseconds(rng.below(1000) as i64)
}

/// A timestamp as a CTR (and so Connect's report) has it: whole seconds.
fn whole(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(0)
}

/// Uniform in `low..=high`.
fn between(rng: &mut Rng, low: u64, high: u64) -> u64 {
    low + rng.below(high - low + 1)
}

impl Slice {
    /// The slice's end (exclusive): no event after it was emitted.
    pub fn end(&self) -> DateTime<Utc> {
        self.spec.start + TimeDelta::minutes(i64::from(self.spec.intervals * INTERVAL_MINUTES))
    }

    /// Every input (events, then records) as bytes.
    pub fn inputs(&self) -> Vec<&[u8]> {
        self.events.iter().chain(&self.records).map(|s| s.as_bytes()).collect()
    }

    /// The ground-truth backlog at the end of each interval of the slice, per queue name:
    /// (waiting, waiting longer than `sla` seconds).
    pub fn backlog(&self, sla: u32) -> BTreeMap<(String, DateTime<Utc>), (i64, i64)> {
        let mut out = BTreeMap::new();
        for i in 0..self.spec.intervals {
            let start = self.spec.start + TimeDelta::minutes(i64::from(i * INTERVAL_MINUTES));
            let end = start + TimeDelta::minutes(INTERVAL_MINUTES.into());
            for (q, (_, name)) in QUEUES.iter().enumerate() {
                let waiting: Vec<&SimContact> = self
                    .contacts
                    .iter()
                    .filter(|c| c.queue == q)
                    .filter(|c| {
                        c.enqueued.is_some_and(|e| e < end)
                            && c.connected.is_none_or(|t| t >= end)
                            && c.disconnected.is_none_or(|t| t >= end)
                    })
                    .collect();
                let expired = waiting
                    .iter()
                    .filter(|c| c.enqueued.is_some_and(|e| end - e > TimeDelta::seconds(sla.into())))
                    .count();
                if !waiting.is_empty() {
                    out.insert(((*name).to_owned(), start), (waiting.len() as i64, expired as i64));
                }
            }
        }
        out
    }
}

/// Builds a slice.
pub fn simulate(spec: &SliceSpec) -> Slice {
    let mut rng = Rng::new(spec.seed);
    let span = u64::from(spec.intervals * INTERVAL_MINUTES) * 60;
    let end = spec.start + secs(span);
    let mut contacts: Vec<SimContact> = Vec::new();

    let mut arrivals: Vec<DateTime<Utc>> = (0..spec.contacts).map(|_| spec.start + secs(rng.below(span))).collect();
    arrivals.sort();
    for arrival in arrivals {
        let queue = rng.below(QUEUES.len() as u64) as usize;
        let inbound = |id: String, queue: usize, initiated: DateTime<Utc>| SimContact {
            id,
            queue,
            method: "INBOUND",
            previous: None,
            initiated,
            // The flow plays a greeting before queueing.
            enqueued: Some(initiated + secs(5)),
            connected: None,
            disconnected: None,
            talk: 0,
            hold: 0,
            acw: 0,
            continued: false,
        };
        let mut contact = inbound(uuid(&mut rng), queue, arrival);
        contact.enqueued = contact.enqueued.map(|at| at + jitter(&mut rng));
        let enqueued = contact.enqueued.unwrap_or(arrival);
        match rng.below(100) {
            // Answered.
            0..45 => {
                let at = enqueued + secs(between(&mut rng, 0, 90));
                answer(&mut rng, &mut contact, at)
            }
            // Abandoned.
            45..60 => contact.disconnected = Some(enqueued + secs(between(&mut rng, 1, 150)) + jitter(&mut rng)),
            // Callback, then queue transfer: the caller leaves the queue, a successor continues.
            roll @ 60..76 => {
                let left = enqueued + secs(between(&mut rng, 5, 120)) + jitter(&mut rng);
                contact.disconnected = Some(left);
                contact.continued = true;
                let (method, next_queue) = if roll < 68 {
                    ("CALLBACK", queue)
                } else {
                    ("QUEUE_TRANSFER", (queue + 1 + rng.below(2) as usize) % QUEUES.len())
                };
                let mut next = inbound(uuid(&mut rng), next_queue, left);
                next.method = method;
                next.previous = Some(contact.id.clone());
                next.enqueued = Some(left + secs(1));
                if method == "CALLBACK" || rng.chance(700) {
                    let wait = if method == "CALLBACK" {
                        between(&mut rng, 30, 900)
                    } else {
                        between(&mut rng, 0, 120)
                    };
                    answer(&mut rng, &mut next, left + secs(1 + wait));
                } else {
                    next.disconnected = Some(left + secs(between(&mut rng, 2, 100)) + jitter(&mut rng));
                }
                contacts.push(contact);
                contacts.push(next);
                continue;
            }
            // Agent transfer: answered, then continued in another queue.
            76..84 => {
                {
                    let at = enqueued + secs(between(&mut rng, 0, 60));
                    answer(&mut rng, &mut contact, at)
                };
                let transfer = contact.connected.unwrap_or(enqueued) + secs(contact.talk as u64 + contact.hold as u64);
                let mut next = inbound(uuid(&mut rng), (queue + 1) % QUEUES.len(), transfer);
                next.method = "TRANSFER";
                next.previous = Some(contact.id.clone());
                next.enqueued = Some(transfer + secs(1));
                {
                    let at = transfer + secs(between(&mut rng, 1, 45));
                    answer(&mut rng, &mut next, at)
                };
                contacts.push(contact);
                contacts.push(next);
                continue;
            }
            // Outbound: through the queue's outbound caller id, never enqueued.
            84..90 => {
                contact.method = "OUTBOUND";
                contact.enqueued = None;
                {
                    let at = arrival + secs(between(&mut rng, 3, 20));
                    answer(&mut rng, &mut contact, at)
                };
            }
            // A long wait straddling intervals, then answered or abandoned (or still waiting
            // when the slice ends).
            _ => {
                let wait = between(&mut rng, 300, 2400);
                if rng.chance(600) {
                    answer(&mut rng, &mut contact, enqueued + secs(wait));
                } else {
                    contact.disconnected = Some(enqueued + secs(wait) + jitter(&mut rng));
                }
            }
        }
        contacts.push(contact);
    }

    let mut events = Vec::new();
    let mut records = Vec::new();
    for contact in &contacts {
        contact_events(spec, &mut rng, contact, end, &mut events);
        contact_records(spec, &mut rng, contact, end, &mut records);
    }
    // Emission order is time order, as Connect emits them (tests shuffle it).
    events.sort_by_key(|(time, _)| *time);
    records.sort_by_key(|(time, _)| *time);
    let report_key = format!(
        "connect/{}/Reports/wfm/QR-{}.csv",
        spec.instance_alias,
        feed_timestamp(&spec.start)
    );
    let report_csv = queue_report(spec, &contacts);
    Slice {
        spec: spec.clone(),
        contacts,
        events: events.into_iter().map(|(_, e)| e).collect(),
        records: records.into_iter().map(|(_, r)| r).collect(),
        report_key,
        report_csv,
    }
}

/// Connects `contact` to an agent at `at`, with talk, hold and ACW.
fn answer(rng: &mut Rng, contact: &mut SimContact, at: DateTime<Utc>) {
    let at = at + jitter(rng);
    contact.connected = Some(at);
    contact.talk = between(rng, 20, 600) as i64;
    contact.hold = if rng.chance(300) { between(rng, 5, 90) as i64 } else { 0 };
    contact.acw = between(rng, 0, 120) as i64;
    contact.disconnected = Some(at + secs((contact.talk + contact.hold) as u64) + jitter(rng));
}

fn ts(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(feed_timestamp(&at)))
}

/// A CTR timestamp: whole seconds.
fn ctr_ts(at: Option<DateTime<Utc>>) -> Value {
    ts(at.map(whole))
}

/// The contact's events up to `end`, each carrying what is known at its time (as Connect's
/// do); a few repeated, a few of types the connector does not read.
fn contact_events(
    spec: &SliceSpec,
    rng: &mut Rng,
    contact: &SimContact,
    end: DateTime<Utc>,
    out: &mut Vec<(DateTime<Utc>, String)>,
) {
    let mut steps = vec![("INITIATED", contact.initiated)];
    if let Some(at) = contact.enqueued {
        steps.push(("QUEUED", at));
    }
    if let Some(at) = contact.connected {
        steps.push(("CONNECTED_TO_AGENT", at));
    }
    if let Some(at) = contact.disconnected {
        steps.push(("DISCONNECTED", at));
    }
    if rng.chance(100) {
        steps.push(("CONTACT_DATA_UPDATED", contact.initiated + secs(2)));
    }
    if rng.chance(50) {
        steps.push(("SOMETHING_CONNECT_ADDS_LATER", contact.initiated + secs(3)));
    }
    for (event_type, time) in steps {
        if time >= end {
            continue;
        }
        let known = |at: Option<DateTime<Utc>>| at.filter(|at| *at <= time);
        let mut detail = json!({
            "eventType": event_type,
            "contactId": contact.id,
            "initialContactId": contact.previous.as_deref().unwrap_or(&contact.id),
            "previousContactId": contact.previous,
            "channel": "VOICE",
            "instanceArn": instance_arn(spec),
            "initiationMethod": contact.method,
            "initiationTimestamp": ts(Some(contact.initiated)),
            "tags": {"aws:connect:instanceId": spec.instance_id},
        });
        // Outbound contacts name their queue without being enqueued.
        let enqueued = known(contact.enqueued);
        if enqueued.is_some() || contact.enqueued.is_none() {
            detail["queueInfo"] = json!({
                "queueArn": queue_arn(spec, contact.queue),
                "queueType": "STANDARD",
                "enqueueTimestamp": ts(enqueued),
            });
        }
        if let Some(connected) = known(contact.connected) {
            let agent = json!({
                "agentArn": format!("{}/agent/{}", instance_arn(spec), uuid(rng)),
                "connectedToAgentTimestamp": ts(Some(connected)),
            });
            // Connect's documented samples spell it `AgentInfo`; live events `agentInfo`.
            let key = if rng.chance(200) { "AgentInfo" } else { "agentInfo" };
            detail[key] = agent;
        }
        if let Some(disconnected) = known(contact.disconnected) {
            detail["disconnectTimestamp"] = ts(Some(disconnected));
        }
        let event = json!({
            "version": "0",
            "id": uuid(rng),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": "123456789012",
            "time": feed_timestamp(&whole(time)),
            "region": "us-east-1",
            "resources": [instance_arn(spec), format!("{}/contact/{}", instance_arn(spec), contact.id)],
            "detail": detail,
        })
        .to_string();
        if rng.chance(30) {
            out.push((time, event.clone()));
        }
        out.push((time, event));
    }
}

/// The contact's CTR once it has disconnected by `end` (delivered after its ACW), sometimes
/// preceded by a stale copy, sometimes repeated.
fn contact_records(
    spec: &SliceSpec,
    rng: &mut Rng,
    contact: &SimContact,
    end: DateTime<Utc>,
    out: &mut Vec<(DateTime<Utc>, String)>,
) {
    let Some(disconnected) = contact.disconnected.filter(|at| *at < end) else {
        return;
    };
    let last_update = disconnected + secs(contact.acw as u64 + between(rng, 2, 60));
    let record = |last_update: DateTime<Utc>, talk: i64, acw: Option<i64>| {
        let agent = contact.connected.map(|connected| {
            json!({
                "ARN": format!("{}/agent/a-{}", instance_arn(spec), &contact.id[..8]),
                "AfterContactWorkDuration": acw,
                "AgentInteractionDuration": talk,
                "ConnectedToAgentTimestamp": ctr_ts(Some(connected)),
                "CustomerHoldDuration": contact.hold,
                "NumberOfHolds": i64::from(contact.hold > 0),
                "Username": "agent",
            })
        });
        json!({
            "AWSAccountId": "123456789012",
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "Agent": agent,
            "Attributes": {},
            "Channel": "VOICE",
            "ContactId": contact.id,
            "DisconnectTimestamp": ctr_ts(Some(disconnected)),
            "InitialContactId": contact.previous,
            "InitiationMethod": contact.method,
            "InitiationTimestamp": ctr_ts(Some(contact.initiated)),
            "InstanceARN": instance_arn(spec),
            "LastUpdateTimestamp": ctr_ts(Some(last_update)),
            "NextContactId": null,
            "PreviousContactId": contact.previous,
            "Queue": {
                "ARN": queue_arn(spec, contact.queue),
                "Name": QUEUES[contact.queue].1,
                "EnqueueTimestamp": ctr_ts(contact.enqueued),
                "DequeueTimestamp": ctr_ts(contact.enqueued.and(contact.connected.or(contact.disconnected))),
                "Duration": contact.enqueued.map(|e| (whole(contact.connected.unwrap_or(disconnected)) - whole(e)).num_seconds()),
            },
        })
        .to_string()
    };
    if rng.chance(150) {
        // A copy written before the ACW ended: older, and wrong if it were kept.
        out.push((
            last_update - secs(30),
            record(last_update - secs(30), contact.talk / 2, None),
        ));
    }
    let final_copy = record(last_update, contact.talk, Some(contact.acw));
    if rng.chance(30) {
        out.push((last_update, final_copy.clone()));
    }
    out.push((last_update, final_copy));
}

/// `100 × part / whole` half up to two decimals, as Connect prints it (`66.67%`), or `-`.
fn percent_cell(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let hundredths = (20_000 * part + whole) / (2 * whole);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// Connect's QR for the slice, from the ground truth: one row per queue per interval, the
/// queue's contacts pegged to the interval holding their disconnect.
fn queue_report(spec: &SliceSpec, contacts: &[SimContact]) -> String {
    let mut header = vec![
        "StartInterval".to_owned(),
        "EndInterval".to_owned(),
        "Queue".to_owned(),
        "Contacts queued".to_owned(),
        "Contacts handled".to_owned(),
        "Contacts abandoned".to_owned(),
    ];
    for x in &spec.thresholds {
        header.push(format!("Contacts answered in {x} seconds"));
    }
    for x in &spec.thresholds {
        header.push(format!("Contacts abandoned in {x} seconds"));
    }
    for x in &spec.thresholds {
        header.push(format!("Service level {x} seconds"));
    }
    header.extend(
        [
            "Agent interaction time",
            "Customer hold time",
            "After contact work time",
            "Average queue answer time",
        ]
        .map(str::to_owned),
    );
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(&header).expect("writing to memory");
    for i in 0..spec.intervals {
        let start = spec.start + TimeDelta::minutes(i64::from(i * INTERVAL_MINUTES));
        let end = start + TimeDelta::minutes(INTERVAL_MINUTES.into());
        for (q, (_, name)) in QUEUES.iter().enumerate() {
            let pegged: Vec<&SimContact> = contacts
                .iter()
                .filter(|c| c.queue == q && c.enqueued.is_some())
                .filter(|c| c.disconnected.is_some_and(|d| interval_start(d) == start))
                .collect();
            let n = |f: &dyn Fn(&SimContact) -> bool| pegged.iter().filter(|c| f(c)).count() as i64;
            // Connect's report sees the CTR's whole-second timestamps.
            let wait = |c: &SimContact, until: DateTime<Utc>| {
                (whole(until) - whole(c.enqueued.unwrap_or(until))).num_seconds()
            };
            let received = pegged.len() as i64;
            let handled = n(&|c| c.connected.is_some());
            let abandoned = n(&|c| c.connected.is_none() && !c.continued);
            let mut row = vec![
                feed_timestamp(&start),
                feed_timestamp(&end),
                (*name).to_owned(),
                received.to_string(),
                handled.to_string(),
                abandoned.to_string(),
            ];
            for &x in &spec.thresholds {
                let x = i64::from(x);
                row.push(n(&|c| c.connected.is_some_and(|t| wait(c, t) <= x)).to_string());
            }
            for &x in &spec.thresholds {
                let x = i64::from(x);
                row.push(
                    n(&|c| c.connected.is_none() && !c.continued && c.disconnected.is_some_and(|t| wait(c, t) <= x))
                        .to_string(),
                );
            }
            for &x in &spec.thresholds {
                let x = i64::from(x);
                let left = n(&|c| c.connected.or(c.disconnected).is_some_and(|t| wait(c, t) <= x));
                row.push(percent_cell(left, received));
            }
            let sum = |f: &dyn Fn(&SimContact) -> i64| -> i64 {
                pegged.iter().filter(|c| c.connected.is_some()).map(|c| f(c)).sum()
            };
            if received == 0 {
                // Connect leaves the durations and the average empty on a row without contacts.
                row.extend(["", "", "", "-"].map(str::to_owned));
            } else {
                row.push(sum(&|c| c.talk).to_string());
                row.push(sum(&|c| c.hold).to_string());
                row.push(sum(&|c| c.acw).to_string());
                let waited = sum(&|c| wait(c, c.connected.unwrap_or_default()));
                row.push(if handled == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.2}", waited as f64 / handled as f64)
                });
            }
            csv.write_record(&row).expect("writing to memory");
        }
    }
    String::from_utf8(csv.into_inner().expect("writing to memory")).expect("UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{LegBook, StreamQueueInterval, StreamSettings, decode_contact_input, reconcile};
    use crate::report::{IntervalRecord, QueueInterval, ReportMapping, ReportReader, ReportSource};
    use proptest::prelude::*;

    fn settings(spec: &SliceSpec) -> StreamSettings {
        StreamSettings {
            service_level_thresholds: spec.thresholds.clone(),
            instances: BTreeMap::from([(spec.instance_alias.clone(), spec.instance_id.clone())]),
            ..StreamSettings::default()
        }
    }

    fn apply_all<'a>(book: &mut LegBook, inputs: impl IntoIterator<Item = &'a [u8]>) {
        for bytes in inputs {
            let input =
                decode_contact_input(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
            book.apply(&input);
        }
    }

    fn stream_records(slice: &Slice) -> Vec<StreamQueueInterval> {
        let mut book = LegBook::default();
        apply_all(&mut book, slice.inputs());
        book.records_now(&settings(&slice.spec))
    }

    fn report_records(slice: &Slice) -> Vec<QueueInterval> {
        let source = ReportSource::new("amazon-connect-reports", slice.report_key.clone());
        let reader = ReportReader::new(
            slice.report_csv.as_bytes(),
            source,
            None,
            None,
            &ReportMapping::default(),
        )
        .unwrap();
        reader
            .map(|r| match r.unwrap() {
                IntervalRecord::Queue(q) => q,
                other => panic!("not a queue record: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_slice_has_every_case() {
        let slice = simulate(&SliceSpec::default());
        let count = |f: &dyn Fn(&SimContact) -> bool| slice.contacts.iter().filter(|c| f(c)).count();
        assert!(count(&|c| c.method == "CALLBACK") >= 5);
        assert!(count(&|c| c.method == "QUEUE_TRANSFER") >= 5);
        assert!(count(&|c| c.method == "TRANSFER") >= 5);
        assert!(count(&|c| c.method == "OUTBOUND") >= 5);
        assert!(
            count(&|c| c.enqueued.is_some() && c.connected.is_none() && !c.continued && c.disconnected.is_some()) >= 10
        );
        let straddling = |c: &SimContact| {
            c.enqueued
                .zip(c.disconnected)
                .is_some_and(|(e, d)| interval_start(e) != interval_start(d))
        };
        assert!(count(&straddling) >= 10);
        assert!(count(&|c| c.enqueued.is_some() && c.disconnected.is_none_or(|d| d >= slice.end())) >= 1);
        assert!(slice.backlog(20).values().filter(|(n, _)| *n > 0).count() >= 5);
        // Deterministic for a seed.
        let again = simulate(&SliceSpec::default());
        assert_eq!(
            (again.events, again.records, again.report_csv),
            (slice.events, slice.records, slice.report_csv)
        );
    }

    #[test]
    fn stream_basis_equals_report_basis_once_all_inputs_are_in() {
        for seed in 1..=6 {
            let slice = simulate(&SliceSpec {
                seed,
                ..SliceSpec::default()
            });
            let stream = stream_records(&slice);
            let report = report_records(&slice);
            assert_eq!(report.len(), slice.spec.intervals as usize * QUEUES.len());
            let mut compared = 0;
            for row in &report {
                let found = stream
                    .iter()
                    .find(|s| s.queue == row.queue && s.interval_start == row.interval_start);
                match found {
                    Some(record) => {
                        let reconciliation = reconcile(row, record).unwrap();
                        assert!(reconciliation.agrees(), "seed {seed}: {reconciliation}");
                        assert!(reconciliation.fields.len() >= 14 + 3 * slice.spec.thresholds.len());
                        compared += usize::from(row.active);
                    }
                    None => assert!(!row.active, "seed {seed}: no stream record for {row:?}"),
                }
            }
            // Every stream record of the slice with contacts matches an active report row.
            let with_contacts = stream
                .iter()
                .filter(|s| s.interval_start < slice.end() && s.contacts_received > Some(0))
                .count();
            assert_eq!(compared, with_contacts, "seed {seed}");
            assert!(compared >= 15, "seed {seed}: only {compared} active rows");
            assert!(stream.iter().any(|s| s.transferred_out > Some(0)));
            assert!(
                stream
                    .iter()
                    .all(|s| s.ctr_pending == Some(0) || s.interval_start >= slice.end())
            );
        }
    }

    #[test]
    fn backlog_equals_the_simulated_truth() {
        for seed in 1..=4 {
            let slice = simulate(&SliceSpec {
                seed,
                ..SliceSpec::default()
            });
            let mut book = LegBook::default();
            apply_all(&mut book, slice.inputs());
            // The sweep's clock at the slice's end (the newest input may be older).
            let clock = book.newest_input.unwrap().max(slice.end());
            let stream = book.records(&settings(&slice.spec), clock);
            let truth = slice.backlog(20);
            for (i, (key, (waiting, expired))) in truth.iter().enumerate() {
                let record = stream
                    .iter()
                    .find(|s| s.queue.as_deref() == Some(key.0.as_str()) && s.interval_start == key.1)
                    .unwrap_or_else(|| panic!("seed {seed}: no record for the backlog of {key:?} ({i})"));
                assert_eq!(
                    (record.backlog, record.backlog_expired, record.backlog_not_expired),
                    (Some(*waiting), Some(*expired), Some(waiting - expired)),
                    "seed {seed} {key:?}"
                );
            }
            // Intervals of the slice with no one waiting say 0.
            for record in stream.iter().filter(|s| s.interval_start < slice.end()) {
                let key = (record.queue.clone().unwrap(), record.interval_start);
                if !truth.contains_key(&key) {
                    assert_eq!(record.backlog, Some(0), "seed {seed} {key:?}");
                }
            }
        }
    }

    /// Inputs in a shuffled order, some repeated, processed in several runs with the state
    /// stored (serialised) between runs.
    fn replay(inputs: &[&[u8]], order_seed: u64, repeats: &[prop::sample::Index], runs: usize) -> LegBook {
        let mut all: Vec<&[u8]> = inputs.to_vec();
        all.extend(repeats.iter().map(|i| inputs[i.index(inputs.len())]));
        let mut rng = crate::synthetic::Rng::new(order_seed);
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut stored = serde_json::to_string(&LegBook::default()).unwrap();
        for run in all.chunks(all.len().div_ceil(runs).max(1)) {
            let mut book: LegBook = serde_json::from_str(&stored).unwrap();
            apply_all(&mut book, run.iter().copied());
            stored = serde_json::to_string(&book).unwrap();
        }
        serde_json::from_str(&stored).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn any_order_duplication_or_split_gives_the_same_records(
            seed in 0u64..1_000,
            order_seed in any::<u64>(),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..60),
            runs in 1usize..6,
        ) {
            let slice = simulate(&SliceSpec { seed, intervals: 4, contacts: 60, ..SliceSpec::default() });
            let inputs = slice.inputs();
            let settings = settings(&slice.spec);
            let mut in_order = LegBook::default();
            apply_all(&mut in_order, inputs.iter().copied());
            let shuffled = replay(&inputs, order_seed, &repeats, runs);
            prop_assert_eq!(&shuffled.legs, &in_order.legs);
            prop_assert_eq!(shuffled.newest_input, in_order.newest_input);
            prop_assert_eq!(shuffled.records_now(&settings), in_order.records_now(&settings));
        }
    }
}
