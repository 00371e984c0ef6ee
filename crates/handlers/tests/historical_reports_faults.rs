//! Fault injection with Lambda's SQS retry semantics.
//!
//! A queue of S3 notifications (good reports of every kind and size, duplicate deliveries of
//! one object, a report broken in its header, one broken on a late row, a body that is not a
//! notification, the test event, a file outside the prefix) is drained through
//! `handle_messages` while the claim store, object source, state store and feed sink fail calls
//! by a random schedule. The driver behaves like SQS with a Lambda event source: batches of up
//! to ten visible messages, a failed message comes back after the visibility timeout, and
//! after `max_receive` receives it moves to the DLQ with the reason of its last failure.
//!
//! Properties: every message ends deleted or in the DLQ with a reason; a deleted message's
//! report is COMPLETED and its records are exactly the fault-free ones; a good report in the
//! DLQ rests there for a transient reason; a broken one for a reason naming the file and the
//! column; and after a reload of the DLQ (the `connect-wfm reload` step) with the faults gone,
//! the feed is byte for byte the feed of a fault-free run and the DLQ holds only the broken
//! inputs, with the fault-free reasons.
//!
//! Cases: 200 by default; `PROPTEST_CASES=n` sets the number, `CONNECT_WFM_LONG=1` runs 3,000.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::agent::{Activity, AgentState, Watermark};
use connect_wfm_core::faults::{
    Fault, FaultPlan, FaultyClaimStore, FaultyFeedSink, FaultyObjectSource, FaultyStateStore,
};
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource, MemoryStateStore};
use connect_wfm_handlers::reports::{ObjectOutcome, Ports, Settings, SqsBatch, handle_messages};
use proptest::prelude::*;
use serde_json::{Value, json};

const BUCKET: &str = "amazon-connect-reports-123456789012";
const PREFIX: &str = "connect/acme-support/Reports/";
const VISIBILITY: i64 = 6 * 60;
const CLAIM_LEASE_MINUTES: i64 = 15;

fn cases(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if std::env::var("CONNECT_WFM_LONG").is_ok_and(|v| v == "1") => 3000,
        None => default,
    }
}

/// A report object of the test world and what it is.
struct Report {
    key: String,
    body: String,
    /// Some(substrings the DLQ reason must hold) for a report that can never convert.
    broken: Option<Vec<String>>,
}

fn interval(i: usize) -> (String, String) {
    let start = "2026-11-20T08:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(15 * i as i64);
    let end = start + Duration::minutes(15);
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (f(start), f(end))
}

fn reports() -> &'static [Report] {
    static REPORTS: OnceLock<Vec<Report>> = OnceLock::new();
    REPORTS.get_or_init(make_reports)
}

fn make_reports() -> Vec<Report> {
    let mut out = Vec::new();
    for i in 0..12 {
        let (start, end) = interval(i);
        let rows = 1 + (i * 7) % 23;
        let (kind, header, row): (&str, &str, Box<dyn Fn(usize) -> String>) = match i % 3 {
            0 => (
                "QR",
                "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,Contacts answered in 20 seconds,Service level 20 seconds,Agent interaction time",
                Box::new(|r| {
                    format!(
                        "\"Queue {r}\",{},{},{},{},{}.5%,{}",
                        r + 3,
                        r + 1,
                        r % 3,
                        r,
                        r % 100,
                        r * 60
                    )
                }),
            ),
            1 => (
                "AQR",
                "StartInterval,EndInterval,Agent,Queue,Contacts handled,Agent interaction time,Customer hold time,After contact work time",
                Box::new(|r| {
                    format!(
                        "agent{},Queue {},{},\"1,{:03}\",{},{}",
                        r % 9,
                        r % 4,
                        r,
                        r,
                        r * 2,
                        r * 3
                    )
                }),
            ),
            _ => (
                "ASPR",
                "StartInterval,EndInterval,Agent,Online time,Non-Productive Time,Agent idle time,Agent on contact time",
                Box::new(|r| format!("agent{r},900,{},{},-", r * 10, r * 5)),
            ),
        };
        let mut body = format!("{header}\n");
        for r in 0..rows {
            body.push_str(&format!("{start},{end},{}\n", row(r)));
        }
        out.push(Report {
            key: format!("{PREFIX}wfm/{kind}-{start}.csv"),
            body,
            broken: None,
        });
    }
    out.push(Report {
        key: format!("{PREFIX}wfm/Queue report QR-2026-11-20T12:00:00Z.csv"),
        body: "\u{feff}\"StartInterval\",\"EndInterval\",\"Queue\",\"Contacts handled\"\n\"2026-11-20T12:00:00+01:00\",\"2026-11-20T12:15:00+01:00\",\"Sales\",\"4\"\n".into(),
        broken: None,
    });
    out.push(Report {
        key: format!("{PREFIX}wfm/QR-broken-header.csv"),
        body: "EndInterval,Queue,Contacts handled\n2026-11-20T10:15:00Z,Sales,3\n".into(),
        broken: Some(vec!["QR-broken-header.csv".into(), "StartInterval".into()]),
    });
    let (start, end) = interval(3);
    let mut late = String::from("StartInterval,EndInterval,Agent,Online time\n");
    for r in 0..30 {
        let online = if r == 25 { "lots".to_owned() } else { "900".to_owned() };
        late.push_str(&format!("{start},{end},agent{r},{online}\n"));
    }
    out.push(Report {
        key: format!("{PREFIX}wfm/ASPR-broken-late.csv"),
        body: late,
        broken: Some(vec![
            "ASPR-broken-late.csv".into(),
            "line 27".into(),
            "Online time".into(),
        ]),
    });
    out
}

fn encode_key(key: &str) -> String {
    key.replace(' ', "+").replace(':', "%3A")
}

fn notification(key: &str, etag: &str) -> String {
    json!({ "Records": [{ "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": encode_key(key), "eTag": etag, "size": 1 } } }] })
    .to_string()
}

/// One message to send: id, body, and the report it names (index into `reports()`).
fn messages() -> &'static [(String, String, Option<usize>)] {
    static MESSAGES: OnceLock<Vec<(String, String, Option<usize>)>> = OnceLock::new();
    MESSAGES.get_or_init(make_messages)
}

fn make_messages() -> Vec<(String, String, Option<usize>)> {
    let reports = reports();
    let mut out: Vec<(String, String, Option<usize>)> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("m{i:02}"), notification(&r.key, &format!("etag{i}")), Some(i)))
        .collect();
    // The same object notified twice (S3 delivers at least once).
    out.push(("m-dup".into(), notification(&reports[4].key, "etag4"), Some(4)));
    out.push((
        "m-test".into(),
        json!({"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":BUCKET}).to_string(),
        None,
    ));
    out.push((
        "m-outside".into(),
        notification("elsewhere/QR-2026-11-20T10:15:00Z.csv", "x"),
        None,
    ));
    out.push(("m-garbage".into(), "hello, not JSON".into(), None));
    out
}

fn claim_id(report: usize) -> String {
    format!("{BUCKET}/{}#etag{report}", reports()[report].key)
}

/// The ports of one world, over memory ports wrapped in one fault plan.
struct World {
    claims: MemoryClaimStore,
    objects: MemoryObjectSource,
    states: MemoryStateStore,
    sink: MemoryFeedSink,
}

impl World {
    fn new() -> Self {
        let objects = MemoryObjectSource::default();
        for r in reports() {
            objects.insert(BUCKET, &r.key, r.body.as_str());
        }
        let states = MemoryStateStore::default();
        let at: DateTime<Utc> = "2026-11-20T07:00:00Z".parse().unwrap();
        for i in [1, 3, 5] {
            states.insert(AgentState {
                stream_newest: None,
                agent_arn: format!("arn:aws:connect:us-east-1:1:instance/i/agent/id-{i}"),
                agent_id: format!("id-{i}"),
                instance_id: "i".into(),
                agent_login: Some(format!("agent{i}")),
                state: "Available".into(),
                reason: "Open".into(),
                activity: Activity::Open,
                since: at,
                contact: None,
                watermark: Watermark::new(at, "e"),
                last_seen: at,
                silent_since: None,
                last_silence: None,
                silenced_at: None,
                silenced_from: None,
                segment: None,
                silenced_segment: None,
                profile: None,
                excluded: false,
            });
        }
        Self {
            claims: MemoryClaimStore::new(Duration::minutes(CLAIM_LEASE_MINUTES)),
            objects,
            states,
            sink: MemoryFeedSink::default(),
        }
    }
}

struct QueuedMessage {
    id: String,
    body: String,
    receives: u32,
    visible_at: DateTime<Utc>,
}

/// How the queue is drained.
#[derive(Debug, Clone)]
struct QueueSpec {
    batch_size: usize,
    max_receive: u32,
    spool_records: usize,
}

/// Where the messages ended.
#[derive(Debug, Default)]
struct Drained {
    deleted: BTreeSet<String>,
    /// Message id → reason of its last failure.
    dlq: BTreeMap<String, String>,
}

/// Drains `queue` like SQS + Lambda; returns the time at the end.
async fn drain(
    world: &World,
    plan: &FaultPlan,
    mut queue: Vec<QueuedMessage>,
    spec: &QueueSpec,
    mut now: DateTime<Utc>,
    drained: &mut Drained,
) -> DateTime<Utc> {
    let claims = FaultyClaimStore {
        inner: &world.claims,
        plan,
    };
    let objects = FaultyObjectSource {
        inner: &world.objects,
        plan,
    };
    let states = FaultyStateStore {
        inner: &world.states,
        plan,
    };
    let sink = FaultyFeedSink {
        inner: &world.sink,
        plan,
    };
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let settings = Settings {
        reports_prefix: Some(PREFIX.into()),
        spool_records: spec.spool_records,
        ..Settings::default()
    };
    let mut invocations = 0;
    while !queue.is_empty() {
        let visible: Vec<usize> = (0..queue.len())
            .filter(|&i| queue[i].visible_at <= now)
            .take(spec.batch_size)
            .collect();
        if visible.is_empty() {
            now = queue.iter().map(|m| m.visible_at).min().unwrap();
            continue;
        }
        let records: Vec<serde_json::Value> = visible
            .iter()
            .map(|&i| {
                let m = &mut queue[i];
                m.receives += 1;
                json!({ "messageId": m.id, "body": m.body, "eventSource": "aws:sqs",
                        "attributes": { "ApproximateReceiveCount": m.receives.to_string() } })
            })
            .collect();
        let outcome = handle_messages(&SqsBatch::from_records(records), &ports, &settings, now).await;
        invocations += 1;
        assert!(invocations < 10_000, "the queue does not drain");
        let failed: BTreeSet<String> = outcome
            .response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        let mut keep = Vec::new();
        for (slot, message) in queue.drain(..).enumerate() {
            let Some(pos) = visible.iter().position(|&i| i == slot) else {
                keep.push(message);
                continue;
            };
            if !failed.contains(&message.id) {
                drained.deleted.insert(message.id);
                continue;
            }
            let report = &outcome.messages[pos];
            assert_eq!(report.message_id.as_deref(), Some(message.id.as_str()));
            let reason = report
                .objects
                .iter()
                .filter_map(|(_, o)| match o {
                    ObjectOutcome::Failed { reason, .. } => Some(reason.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("; ");
            if message.receives >= spec.max_receive {
                drained.dlq.insert(message.id, reason);
            } else {
                keep.push(QueuedMessage {
                    visible_at: now + Duration::seconds(VISIBILITY),
                    ..message
                });
            }
        }
        queue = keep;
        // An invocation takes a few seconds.
        now += Duration::seconds(5);
    }
    now
}

fn initial_queue(start: DateTime<Utc>) -> Vec<QueuedMessage> {
    messages()
        .iter()
        .map(|(id, body, _)| QueuedMessage {
            id: id.clone(),
            body: body.clone(),
            receives: 0,
            visible_at: start,
        })
        .collect()
}

/// The DLQ re-queued (what `connect-wfm reload` does), drained again.
async fn reload(world: &World, plan: &FaultPlan, spec: &QueueSpec, now: DateTime<Utc>, drained: &mut Drained) {
    let bodies: BTreeMap<&str, &str> = messages()
        .iter()
        .map(|(id, body, _)| (id.as_str(), body.as_str()))
        .collect();
    let queue = std::mem::take(&mut drained.dlq)
        .into_keys()
        .map(|id| QueuedMessage {
            body: bodies[id.as_str()].to_owned(),
            id,
            receives: 0,
            visible_at: now,
        })
        .collect();
    drain(world, plan, queue, spec, now, drained).await;
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

fn start() -> DateTime<Utc> {
    "2026-11-20T13:00:00Z".parse().unwrap()
}

/// Feed objects (key → body) and DLQ of a fault-free run with reload.
struct Baseline {
    feed: BTreeMap<String, Vec<u8>>,
    dlq: BTreeMap<String, String>,
}

fn feed_of(sink: &MemoryFeedSink) -> BTreeMap<String, Vec<u8>> {
    sink.keys()
        .into_iter()
        .map(|k| (k.clone(), sink.get(&k).unwrap()))
        .collect()
}

/// Feed objects by key.
type Feed = BTreeMap<String, Vec<u8>>;

/// The feed without its rejects, and the (object name, reason) of each reject.
fn split_rejects(mut feed: Feed) -> (Feed, BTreeSet<(String, String)>) {
    let keys: Vec<String> = feed.keys().filter(|k| k.starts_with("rejects/")).cloned().collect();
    let mut rejects = BTreeSet::new();
    for key in keys {
        let body = feed.remove(&key).unwrap();
        for line in body.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            let reject: Value = serde_json::from_slice(line).unwrap();
            let reason = reject["reason"].as_str().unwrap().to_owned();
            // The date folder is the day it was kept: compare the object's name.
            rejects.insert((key.rsplit('/').next().unwrap().to_owned(), reason));
        }
    }
    (feed, rejects)
}

fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let world = World::new();
        let plan = FaultPlan::none();
        let spec = QueueSpec {
            batch_size: 10,
            max_receive: 5,
            spool_records: 50_000,
        };
        let mut drained = Drained::default();
        block_on(async {
            let now = drain(&world, &plan, initial_queue(start()), &spec, start(), &mut drained).await;
            reload(&world, &plan, &spec, now + Duration::hours(1), &mut drained).await;
        });
        Baseline {
            feed: feed_of(&world.sink),
            dlq: drained.dlq,
        }
    })
}

/// The feed's records by source key, then (kind, line).
type RecordsByKey = BTreeMap<String, BTreeMap<(String, u64), Value>>;

fn records_by_key(feed: &BTreeMap<String, Vec<u8>>) -> RecordsByKey {
    let mut out = RecordsByKey::new();
    // Rejects (reports that can never convert, kept with their reason) have no source row.
    for line in feed
        .iter()
        .filter(|(key, _)| !key.starts_with("rejects/"))
        .map(|(_, body)| body)
        .flat_map(|body| body.split(|b| *b == b'\n').filter(|l| !l.is_empty()))
    {
        let r: Value = serde_json::from_slice(line).unwrap();
        let at = (
            r["kind"].as_str().unwrap().to_owned(),
            r["source"]["line"].as_u64().unwrap(),
        );
        out.entry(r["source"]["key"].as_str().unwrap().to_owned())
            .or_default()
            .insert(at, r);
    }
    out
}

/// Records of the feed whose source is `key`, by (kind, line).
fn records_of(feed: &BTreeMap<String, Vec<u8>>, key: &str) -> BTreeMap<(String, u64), Value> {
    records_by_key(feed).remove(key).unwrap_or_default()
}

fn baseline_records() -> &'static RecordsByKey {
    static RECORDS: OnceLock<RecordsByKey> = OnceLock::new();
    RECORDS.get_or_init(|| records_by_key(&baseline().feed))
}

fn run_case(schedule: Vec<Option<Fault>>, spec: &QueueSpec) -> Result<(), String> {
    let base = baseline();
    let reports = reports();
    let msgs = messages();
    let world = World::new();
    let plan = FaultPlan::new(schedule);
    let mut drained = Drained::default();
    let now = block_on(drain(
        &world,
        &plan,
        initial_queue(start()),
        spec,
        start(),
        &mut drained,
    ));
    let faults = plan.injected().len();

    // Every message is deleted or in the DLQ with a reason.
    for (id, _, _) in msgs {
        let (deleted, dlq) = (drained.deleted.contains(id), drained.dlq.get(id));
        if deleted == dlq.is_some() {
            return Err(format!("message {id}: deleted {deleted}, dlq {dlq:?}"));
        }
        if dlq.is_some_and(|r| r.is_empty()) {
            return Err(format!("message {id} rests in the DLQ without a reason"));
        }
    }
    let got_records = records_by_key(&feed_of(&world.sink));
    let want_records = baseline_records();
    for (id, _, report) in msgs {
        let Some(i) = *report else { continue };
        let r = &reports[i];
        let dlq = drained.dlq.get(id);
        match (&r.broken, dlq) {
            (Some(_), None) => return Err(format!("broken report {} was acknowledged", r.key)),
            (Some(names), Some(reason)) => {
                let transient = reason.contains("injected fault") || reason.contains("another run");
                if !names.iter().all(|n| reason.contains(n.as_str())) && !transient {
                    return Err(format!("DLQ reason `{reason}` does not name {names:?}"));
                }
            }
            (None, Some(reason)) => {
                if !(reason.contains("injected fault") || reason.contains("another run")) {
                    return Err(format!("good report {} in the DLQ for `{reason}`", r.key));
                }
            }
            (None, None) => {
                if !world.claims.is_completed(&claim_id(i)) {
                    return Err(format!("{id} deleted but {} is not COMPLETED", r.key));
                }
                if got_records.get(&r.key) != want_records.get(&r.key) {
                    return Err(format!("{} converted with other records ({faults} faults)", r.key));
                }
            }
        }
    }

    // Reload the DLQ with the faults gone: the fault-free feed, only the broken inputs left.
    plan.heal();
    block_on(reload(&world, &plan, spec, now + Duration::hours(1), &mut drained));
    // Rejects carry the time they were kept, which depends on the schedule: compared by reason.
    // The fault-free run's rejects are all there; any other one is an injected permanent fault
    // that was kept when it happened (the reload converted the report afterwards).
    let (records, rejects) = split_rejects(feed_of(&world.sink));
    let (base_records, base_rejects) = split_rejects(base.feed.clone());
    if !rejects.is_superset(&base_rejects) {
        return Err(format!("rejects lost: {rejects:?}, want {base_rejects:?}"));
    }
    if let Some(extra) = rejects
        .difference(&base_rejects)
        .find(|(_, reason)| !reason.contains("injected fault"))
    {
        return Err(format!("reject {extra:?} was not caused by an injected fault"));
    }
    if records != base_records {
        let got: BTreeSet<String> = world.sink.keys().into_iter().collect();
        let want: BTreeSet<String> = base.feed.keys().cloned().collect();
        return Err(format!(
            "feed after reload differs ({faults} faults): missing {:?}, extra {:?}",
            want.difference(&got).collect::<Vec<_>>(),
            got.difference(&want).collect::<Vec<_>>()
        ));
    }
    if drained.dlq != base.dlq {
        return Err(format!("DLQ after reload {:?}, want {:?}", drained.dlq, base.dlq));
    }
    Ok(())
}

#[test]
fn the_fault_free_run_converts_the_good_and_keeps_the_broken_in_the_dlq() {
    let base = baseline();
    let reports = reports();
    let dlq: Vec<&str> = base.dlq.keys().map(String::as_str).collect();
    assert_eq!(dlq, ["m-garbage", "m13", "m14"]);
    assert!(base.dlq["m-garbage"].starts_with("SQS message m-garbage: message body is not JSON"));
    for (id, i) in [("m13", 13), ("m14", 14)] {
        let reason = &base.dlq[id];
        let names = reports[i].broken.as_ref().unwrap();
        assert!(names.iter().all(|n| reason.contains(n.as_str())), "{reason}");
    }
    let converted: usize = (0..13).map(|i| records_of(&base.feed, &reports[i].key).len()).sum();
    let rows: usize = reports[..13].iter().map(|r| r.body.lines().count() - 1).sum();
    assert_eq!(converted, rows, "every row of every good report once");
    assert!(records_of(&base.feed, &reports[13].key).is_empty());
    assert!(
        records_of(&base.feed, &reports[14].key).is_empty(),
        "held back until parsed"
    );
    let ids: usize = base
        .feed
        .values()
        .flat_map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()))
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|r| r["agent_id"].is_string())
        .count();
    assert!(ids > 0, "agent ids come from the state store");
    // What can never convert is also kept under the feed's rejects, with its reason.
    let rejected: BTreeSet<String> = base
        .feed
        .iter()
        .filter(|(key, _)| key.starts_with("rejects/"))
        .flat_map(|(_, b)| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()))
        .map(|l| {
            serde_json::from_slice::<Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for reason in base.dlq.values() {
        assert!(rejected.contains(reason), "{reason} is not under rejects: {rejected:?}");
    }
}

#[test]
fn a_claim_whose_answer_was_lost_is_re_entered_by_its_own_redelivery() {
    // Call 0 is the first message's claim: taken, but the answer is lost. With two receives
    // only, the redelivery (6 minutes later, inside the 15-minute lease) must convert the
    // report: the message owns the claim it took. (Before claims had owners, it found the report
    // "being converted by another run" and a good report went to the DLQ.)
    let plan = [Some(Fault::Timeout)];
    let spec = QueueSpec {
        batch_size: 10,
        max_receive: 2,
        spool_records: 50_000,
    };
    assert_eq!(run_case(plan.to_vec(), &spec), Ok(()));
    const {
        assert!(
            VISIBILITY < CLAIM_LEASE_MINUTES * 60,
            "the redelivery comes within the lease"
        )
    };
    // And no good report waited for its own claim: nothing rests in the DLQ for "another run".
    let world = World::new();
    let plan = FaultPlan::new(plan);
    let mut drained = Drained::default();
    block_on(drain(
        &world,
        &plan,
        initial_queue(start()),
        &spec,
        start(),
        &mut drained,
    ));
    assert_eq!(plan.injected().len(), 1);
    let held: Vec<&String> = drained.dlq.values().filter(|r| r.contains("another run")).collect();
    assert!(held.is_empty(), "{held:?}");
}

#[test]
fn a_large_report_that_breaks_late_leaves_the_parts_written_before_the_break() {
    // Reports up to the spool size are held back until they have parsed; a larger one is
    // written in parts as it goes, so one that breaks late leaves its early parts in the feed
    // while its message goes to the DLQ (documented in the Guarantees).
    let world = World::new();
    let key = format!("{PREFIX}wfm/ASPR-huge-broken.csv");
    let (from, to) = interval(0);
    let mut body = String::from("StartInterval,EndInterval,Agent,Online time\n");
    for r in 0..25_000 {
        let online = if r == 22_000 { "lots" } else { "900" };
        body.push_str(&format!("{from},{to},agent{r},{online}\n"));
    }
    world.objects.insert(BUCKET, &key, body);
    let plan = FaultPlan::none();
    let spec = QueueSpec {
        batch_size: 10,
        max_receive: 2,
        spool_records: 5,
    };
    let queue = vec![QueuedMessage {
        id: "huge".into(),
        body: notification(&key, "etag-huge"),
        receives: 0,
        visible_at: start(),
    }];
    let mut drained = Drained::default();
    block_on(drain(&world, &plan, queue, &spec, start(), &mut drained));
    let reason = &drained.dlq["huge"];
    assert!(
        reason.contains("ASPR-huge-broken.csv line 22002 column `Online time`"),
        "{reason}"
    );
    let early = records_of(&feed_of(&world.sink), &key);
    assert_eq!(
        early.len(),
        20_000,
        "two parts of 10,000 records written before the break"
    );
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Error), Just(Fault::Throttle), Just(Fault::Timeout)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(200),
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_fault_schedule_ends_completed_or_in_the_dlq_and_reload_gives_the_fault_free_feed(
        schedule in (1u32..=40).prop_flat_map(|percent| prop::collection::vec(
            prop::option::weighted(f64::from(percent) / 100.0, fault()), 0..400)),
        batch_size in 1usize..=10,
        max_receive in 2u32..=5,
        spool_records in prop_oneof![Just(50_000usize), 1usize..20],
    ) {
        let spec = QueueSpec { batch_size, max_receive, spool_records };
        prop_assert_eq!(run_case(schedule, &spec), Ok(()));
    }
}
