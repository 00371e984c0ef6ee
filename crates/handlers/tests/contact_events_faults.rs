//! Contact events under faults, driven as Lambda drives the function: the contact-event queue
//! re-delivers each failed message (SQS partial batch response), the CTR stream replays from the
//! earliest failed record (Kinesis), until every input is taken. Any schedule of transient
//! faults (throttling, and calls whose effect stands but whose answer is lost) on every store
//! call and every feed write ends with exactly the feed objects of a fault-free run; a permanent
//! fault keeps the inputs it hits under rejects, never loses them silently.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::Utc;
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::{ContactStore as _, MemoryContactStore};
use connect_wfm_core::contact::{Leg, decode_contact_input};
use connect_wfm_core::faults::{Fault, FaultPlan, FaultyContactStore, FaultyFeedSink};
use connect_wfm_core::memory::MemoryFeedSink;
use connect_wfm_handlers::contacts::{
    Clock, KinesisBatch, Settings, SqsBatch, close_intervals_since, handle_kinesis, handle_sqs,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The slice's inputs: (is a contact event, body), events first, as a queue and a stream deliver
/// them side by side.
fn inputs(seed: u64) -> Vec<(bool, String)> {
    let slice = simulate(&SliceSpec {
        seed,
        intervals: 2,
        contacts: 20,
        ..SliceSpec::default()
    });
    let mut inputs: Vec<(bool, String)> = Vec::new();
    let (mut events, mut records) = (slice.events.iter(), slice.records.iter());
    // Interleaved: a few events, then a CTR, as they would arrive.
    loop {
        let taken: Vec<_> = events.by_ref().take(4).map(|e| (true, e.clone())).collect();
        let record = records.next().map(|r| (false, r.clone()));
        if taken.is_empty() && record.is_none() {
            break;
        }
        inputs.extend(taken);
        inputs.extend(record);
    }
    inputs
}

/// The feed's stream-basis objects and rejects, by key.
type Feed = BTreeMap<String, Value>;

fn feed_of(sink: &MemoryFeedSink) -> (Feed, Vec<Value>) {
    let mut objects = Feed::new();
    let mut rejects = Vec::new();
    for key in sink.keys() {
        let body = sink.get(&key).unwrap();
        if key.starts_with("rejects/") {
            rejects.extend(sink.lines(&key));
        } else if key.contains("/stream/") {
            objects.insert(key, serde_json::from_slice(&body).unwrap());
        }
    }
    (objects, rejects)
}

/// Runs the inputs through the handlers with the faults of `store_plan` (every contact store
/// call) and `sink_plan` (every feed write): SQS batches of 10 events whose failed messages come
/// again in a later batch, Kinesis batches of 5 CTRs replayed from the earliest failure; then
/// the closing of every interval at the newest input time (the sweep's clock in a replay: the
/// stored progress is only a hint, and a failed progress write may leave it behind).
fn run(inputs: &[(bool, String)], store_plan: &FaultPlan, sink_plan: &FaultPlan) -> (Feed, Vec<Value>, Vec<Leg>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (store, sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
        let faulty_store = FaultyContactStore {
            inner: &store,
            plan: store_plan,
        };
        let faulty_sink = FaultyFeedSink {
            inner: &sink,
            plan: sink_plan,
        };
        let settings = Settings::default();
        let mut queue: Vec<(String, String)> = Vec::new();
        let mut stream: Vec<(String, String)> = Vec::new();
        for (n, (event, body)) in inputs.iter().enumerate() {
            if *event {
                queue.push((format!("m{n}"), body.clone()));
            } else {
                stream.push((format!("{n:08}"), body.clone()));
            }
        }
        let mut invocations = 0;
        while !queue.is_empty() || !stream.is_empty() {
            invocations += 1;
            assert!(invocations < 10_000, "the inputs never drain");
            if !queue.is_empty() {
                let take: Vec<(String, String)> = queue.drain(..queue.len().min(10)).collect();
                let records: Vec<Value> = take
                    .iter()
                    .map(|(id, body)| json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" }))
                    .collect();
                let outcome = handle_sqs(
                    &SqsBatch::from_records(records),
                    &faulty_store,
                    &faulty_sink,
                    &settings,
                    Clock::NewestInput,
                    Utc::now(),
                )
                .await;
                let failed: Vec<&str> = outcome
                    .response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                // The queue hands the failed messages out again, after the others.
                queue.extend(take.into_iter().filter(|(id, _)| failed.contains(&id.as_str())));
            }
            if !stream.is_empty() {
                let take: Vec<(String, String)> = stream.iter().take(5).cloned().collect();
                let records: Vec<Value> = take
                    .iter()
                    .map(|(seq, body)| {
                        json!({ "eventID": format!("shardId-1:{seq}"), "eventSource": "aws:kinesis",
                            "kinesis": { "sequenceNumber": seq,
                                "data": base64::engine::general_purpose::STANDARD.encode(body) } })
                    })
                    .collect();
                let outcome = handle_kinesis(
                    &KinesisBatch::from_records(records),
                    &faulty_store,
                    &faulty_sink,
                    &settings,
                    Clock::NewestInput,
                    Utc::now(),
                )
                .await;
                // Lambda replays the shard from the earliest failed record, the rest after it.
                let done = match outcome.failed_from() {
                    Some(seq) => take.iter().position(|(s, _)| s == seq).expect("a record of the batch"),
                    None => take.len(),
                };
                stream.drain(..done);
            }
        }
        // The sweep's closing, retried until it goes through (each failure leaves the interval
        // in the closing set for the next run).
        let clock = inputs
            .iter()
            .map(|(_, body)| decode_contact_input(body.as_bytes()).unwrap().time())
            .max()
            .unwrap();
        let closed = async {
            for _ in 0..1_000 {
                if let Ok(outcome) = close_intervals_since(&faulty_store, &faulty_sink, &settings, None, clock).await
                    && outcome.failed.is_empty()
                {
                    return true;
                }
            }
            false
        };
        // Transient faults end (the schedule is finite): the closing goes through. A store that
        // refuses everything for good never lets it; the inputs are kept all the same.
        let closed = closed.await;
        let permanent = store_plan.injected().iter().any(|f| f.fault == Fault::Error);
        assert!(closed || permanent, "the closing never goes through");
        let (objects, rejects) = feed_of(&sink);
        let mut legs = store.legs();
        legs.sort_by_key(|leg| leg.key());
        (objects, rejects, legs)
    })
}

/// A retraction (`active: false`, feed.md: the record of no legs) says "no record here", as a
/// missing object does. Which of the two a queue and interval ends with depends on the order
/// the inputs came in, faults or not (contact_events_props.rs): a contact judged waiting at an
/// interval's end because the clock (the newest input, a CTR's say) passed it before the event
/// that shows it answered arrived gets a waiting-only record, retracted when that event comes;
/// in another order the record is never written. Every other record must be the same.
fn is_retraction(record: Option<&Value>) -> bool {
    record.is_none_or(|r| r["active"] == json!(false))
}

/// What differs between two feeds, field by field (empty when they are equal; a retraction and
/// a missing object are the same, see [`is_retraction`]).
fn differences(got: &Feed, want: &Feed) -> Vec<String> {
    let mut out = Vec::new();
    for key in got.keys().chain(want.keys()).collect::<std::collections::BTreeSet<_>>() {
        if is_retraction(got.get(key)) && is_retraction(want.get(key)) {
            continue;
        }
        match (got.get(key), want.get(key)) {
            (Some(a), Some(b)) if a != b => {
                for (field, value) in a.as_object().unwrap() {
                    if b.get(field) != Some(value) {
                        out.push(format!("{key} {field}: {value} instead of {}", b[field]));
                    }
                }
            }
            (Some(_), None) => out.push(format!("{key} written, not in the fault-free feed")),
            (None, Some(_)) => out.push(format!("{key} missing")),
            _ => {}
        }
    }
    out
}

/// Cases of each property: 24 by default; `PROPTEST_CASES=n` sets the number,
/// `CONNECT_WFM_LONG=1` runs 1,000.
fn cases(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if std::env::var("CONNECT_WFM_LONG").is_ok_and(|v| v == "1") => 1000,
        None => default,
    }
}

fn transient() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::Throttle), Just(Fault::Timeout)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_schedule_of_transient_faults_loses_no_input(
        seed in 1u64..500,
        schedule in proptest::collection::vec(proptest::option::weighted(0.3, transient()), 0..300),
    ) {
        let inputs = inputs(seed);
        let (clean, clean_rejects, clean_legs) = run(&inputs, &FaultPlan::none(), &FaultPlan::none());
        prop_assert!(!clean.is_empty());
        prop_assert!(clean_rejects.is_empty());
        // One schedule for the store and the feed: the calls of both take its numbers in turn.
        let plan = FaultPlan::new(schedule);
        let (_, rejects, legs) = run(&inputs, &plan, &plan);
        prop_assert!(rejects.is_empty(), "a transient fault made a reject: {rejects:?}");
        prop_assert!(legs == clean_legs, "the stored legs differ after {:?}", plan.injected());
    }

    // Retractions aside (see `differences`): faults change the order in which the queue and the
    // stream hand the inputs out again, and so when a contact was judged waiting at an interval's
    // end before the event that shows it answered arrived.
    #[test]
    fn any_schedule_of_transient_faults_gives_the_feed_of_a_fault_free_run(
        seed in 1u64..500,
        schedule in proptest::collection::vec(proptest::option::weighted(0.3, transient()), 0..300),
    ) {
        let inputs = inputs(seed);
        let (clean, _, _) = run(&inputs, &FaultPlan::none(), &FaultPlan::none());
        let plan = FaultPlan::new(schedule);
        let (faulted, rejects, _) = run(&inputs, &plan, &plan);
        prop_assert!(rejects.is_empty(), "a transient fault made a reject: {rejects:?}");
        prop_assert_eq!(differences(&faulted, &clean), Vec::<String>::new(), "faults: {:?}", plan.injected());
    }
}

#[test]
fn a_permanent_fault_keeps_the_inputs_it_hits_under_rejects() {
    let inputs = inputs(7);
    // Every store call fails for good (access denied): nothing can be stored, every input is
    // kept under rejects (the feed takes them) and the queue and the stream move on.
    let plan = FaultPlan::new(vec![Some(Fault::Error); 100_000]);
    let (objects, rejects, _) = run(&inputs, &plan, &FaultPlan::none());
    assert!(objects.is_empty());
    // Each input with something to store; an INITIATED event's says nothing a record reads
    // (`ContactInput::stored_patches`) and is stored nowhere, with or without a store.
    let stored = inputs
        .iter()
        .filter(|i| {
            !decode_contact_input(i.1.as_bytes())
                .unwrap()
                .stored_patches()
                .is_empty()
        })
        .count();
    assert!(stored < inputs.len() && stored > inputs.len() / 2);
    assert_eq!(rejects.len(), stored, "each input kept once");
    for reject in &rejects {
        assert_eq!(reject["function"], "contact-events");
        assert!(reject["reason"].as_str().unwrap().contains("permanent"), "{reject}");
    }
}

/// A contact event of contact `c1` in queue q1 (EventBridge's shape).
fn c1_event(id: &str, event_type: &str, time: &str, connected: Option<&str>) -> String {
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/inst-1";
    let mut detail = json!({
        "eventType": event_type, "contactId": "c1", "channel": "VOICE", "initiationMethod": "INBOUND",
        "initiationTimestamp": "2026-11-21T10:04:50.000Z", "instanceArn": instance,
        "queueInfo": { "queueArn": format!("{instance}/queue/q1"), "enqueueTimestamp": "2026-11-21T10:05:00.000Z" }
    });
    if let Some(at) = connected {
        detail["agentInfo"] = json!({ "agentArn": format!("{instance}/agent/a1"), "connectedToAgentTimestamp": at });
    }
    json!({ "id": id, "time": time, "detail-type": "Amazon Connect Contact Event", "source": "aws.connect", "detail": detail })
        .to_string()
}

#[test]
fn a_leg_stored_but_not_filed_is_filed_right_by_its_retry() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (store, sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
        let settings = Settings::default();
        let clock = Clock::At("2026-11-21T10:30:00Z".parse().unwrap());
        let batch = |id: &str, body: String| {
            SqsBatch::from_records([json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" })])
        };
        // c1 waits in q1 from 10:05: it is hinted in the waiting set.
        let queued = c1_event("e1", "QUEUED", "2026-11-21T10:05:00.000Z", None);
        let outcome = handle_sqs(&batch("m1", queued), &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(store.waiting().await.unwrap().len(), 1);

        // It is answered at 10:20; the new version is stored, then filing it fails.
        let connected = c1_event(
            "e2",
            "CONNECTED_TO_AGENT",
            "2026-11-21T10:20:00.000Z",
            Some("2026-11-21T10:20:00.000Z"),
        );
        // The number of the store call that files the new version, found on a copy of the world.
        let mut faults_at = None;
        for call in 0..20 {
            let probe = FaultPlan::new((0..call).map(|_| None).chain([Some(Fault::Throttle)]));
            let (probe_store, probe_sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
            let faulty = FaultyContactStore {
                inner: &probe_store,
                plan: &probe,
            };
            let clean = FaultyFeedSink {
                inner: &probe_sink,
                plan: &probe,
            };
            let first = c1_event("e1", "QUEUED", "2026-11-21T10:05:00.000Z", None);
            handle_sqs(
                &batch("m1", first),
                &probe_store,
                &probe_sink,
                &settings,
                clock,
                Utc::now(),
            )
            .await;
            handle_sqs(
                &batch("m2", connected.clone()),
                &faulty,
                &clean,
                &settings,
                clock,
                Utc::now(),
            )
            .await;
            if probe
                .injected()
                .first()
                .is_some_and(|f| f.operation.starts_with("file "))
            {
                faults_at = Some(call);
                break;
            }
        }
        let call = faults_at.expect("the handler files the leg it stores");
        let plan = FaultPlan::new((0..call).map(|_| None).chain([Some(Fault::Throttle)]));
        let faulty = FaultyContactStore {
            inner: &store,
            plan: &plan,
        };
        let outcome = handle_sqs(
            &batch("m2", connected.clone()),
            &faulty,
            &sink,
            &settings,
            clock,
            Utc::now(),
        )
        .await;
        assert_eq!(
            outcome.response.batch_item_failures.len(),
            1,
            "the message fails for a retry"
        );
        assert!(store.legs()[0].connected_at().is_some(), "the new version is stored");
        assert_eq!(
            store.waiting().await.unwrap().len(),
            1,
            "its waiting hint is still there"
        );

        // The queue delivers it again; a batch never takes a hint out: the sweep, which reads
        // the hinted legs, takes it out now c1 no longer waits.
        let outcome = handle_sqs(&batch("m2", connected), &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(store.waiting().await.unwrap().len(), 1);
        let Clock::At(now) = clock else { unreachable!() };
        let closed = close_intervals_since(&store, &sink, &settings, None, now)
            .await
            .unwrap();
        assert_eq!(closed.hints_forgotten, 1);
        assert!(
            store.waiting().await.unwrap().is_empty(),
            "no stale waiting hint is left"
        );
    });
}

/// The number of the first store call of `second` (after `first`, fault-free) whose operation
/// `matches`, found on a copy of the world.
async fn call_of(first: &SqsBatch, second: &SqsBatch, clock: Clock, matches: impl Fn(&str) -> bool) -> Option<usize> {
    let settings = Settings::default();
    for call in 0..40 {
        let probe = FaultPlan::new((0..call).map(|_| None).chain([Some(Fault::Throttle)]));
        let (store, sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
        handle_sqs(first, &store, &sink, &settings, clock, Utc::now()).await;
        let faulty = FaultyContactStore {
            inner: &store,
            plan: &probe,
        };
        handle_sqs(second, &faulty, &sink, &settings, clock, Utc::now()).await;
        match probe.injected().first() {
            Some(fault) if matches(&fault.operation) => return Some(call),
            Some(_) => {}
            None => return None,
        }
    }
    None
}

#[test]
fn a_record_the_leg_left_is_rewritten_by_the_retry_of_a_batch_that_failed_before_writing_it() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (store, sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
        let settings = Settings::default();
        let clock = Clock::At("2026-11-21T10:16:00Z".parse().unwrap());
        let batch = |id: &str, body: String| {
            SqsBatch::from_records([json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" })])
        };
        let record = |sink: &MemoryFeedSink| -> Value {
            serde_json::from_slice(
                &sink
                    .get("queue_interval/2026-11-21/stream/inst-1/q1/1000.json")
                    .unwrap(),
            )
            .unwrap()
        };
        // c1, queued at 10:05 and seen at 10:16, was waiting at 10:15: the 10:00 record has it in
        // its backlog.
        let queued = batch("m1", c1_event("e1", "QUEUED", "2026-11-21T10:05:00.000Z", None));
        let outcome = handle_sqs(&queued, &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(
            (&record(&sink)["backlog"], &record(&sink)["active"]),
            (&json!(1), &json!(true))
        );

        // Its late CONNECTED_TO_AGENT event shows it answered at 10:14:50: it leaves the 10:00
        // interval. The leg is stored and filed away from 10:00, then the queue names (read
        // before any record is written) cannot be read: the message fails.
        let connected = batch(
            "m2",
            c1_event(
                "e2",
                "CONNECTED_TO_AGENT",
                "2026-11-21T10:14:50.000Z",
                Some("2026-11-21T10:14:50.000Z"),
            ),
        );
        let call = call_of(&queued, &connected, clock, |op| op.contains("queue names"))
            .await
            .expect("the handler reads the queue names of the records it writes");
        let plan = FaultPlan::new((0..call).map(|_| None).chain([Some(Fault::Throttle)]));
        let faulty = FaultyContactStore {
            inner: &store,
            plan: &plan,
        };
        let outcome = handle_sqs(&connected, &faulty, &sink, &settings, clock, Utc::now()).await;
        assert_eq!(
            outcome.response.batch_item_failures.len(),
            1,
            "the message fails for a retry"
        );
        assert_eq!(record(&sink)["backlog"], json!(1), "not rewritten yet");

        // The queue delivers it again: the leg is stored and filed already, and the 10:00 record
        // is rewritten all the same (retracted: no contact is left there).
        let outcome = handle_sqs(&connected, &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(
            (&record(&sink)["backlog"], &record(&sink)["active"]),
            (&json!(0), &json!(false)),
            "the record the leg left is not stale"
        );
    });
}

#[test]
fn a_successor_link_stored_but_not_filed_is_filed_by_its_retry_beside_a_new_input() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (store, sink) = (MemoryContactStore::default(), MemoryFeedSink::default());
        let settings = Settings::default();
        let clock = Clock::At("2026-11-21T10:30:00Z".parse().unwrap());
        let instance = "arn:aws:connect:us-east-1:123456789012:instance/inst-1";
        let message = |id: &str, body: &str| json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" });
        let record = |sink: &MemoryFeedSink| -> Value {
            serde_json::from_slice(
                &sink
                    .get("queue_interval/2026-11-21/stream/inst-1/q1/1000.json")
                    .unwrap(),
            )
            .unwrap()
        };
        let counts = |record: Value| (record["abandoned"].clone(), record["transferred_out"].clone());
        // c1 waits in q1 from 10:05 and leaves it unanswered at 10:08; its CTR (last updated
        // 10:12) comes with its QUEUED event. Nothing continues it yet: abandoned.
        let queued = c1_event("e1", "QUEUED", "2026-11-21T10:05:00.000Z", None);
        let c1_ctr = json!({
            "ContactId": "c1", "InstanceARN": instance, "Channel": "VOICE", "InitiationMethod": "INBOUND",
            "InitiationTimestamp": "2026-11-21T10:04:50Z", "DisconnectTimestamp": "2026-11-21T10:08:00Z",
            "LastUpdateTimestamp": "2026-11-21T10:12:00Z",
            "Queue": { "ARN": format!("{instance}/queue/q1"), "Name": "Support", "EnqueueTimestamp": "2026-11-21T10:05:00Z" }
        })
        .to_string();
        let first = SqsBatch::from_records([message("m1", &queued), message("m2", &c1_ctr)]);
        let outcome = handle_sqs(&first, &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(counts(record(&sink)), (json!(1), json!(0)));

        // c2 continues c1 by queue transfer: c1's leg, with c2 as its successor, is stored, then
        // filing it fails and the message fails.
        let transfer = json!({
            "id": "e3", "time": "2026-11-21T10:08:01.000Z", "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "detail": { "eventType": "INITIATED", "contactId": "c2", "channel": "VOICE",
                "initiationMethod": "QUEUE_TRANSFER", "previousContactId": "c1",
                "initiationTimestamp": "2026-11-21T10:08:00.500Z", "instanceArn": instance }
        })
        .to_string();
        let second = SqsBatch::from_records([message("m3", &transfer)]);
        let call = call_of(&first, &second, clock, |op| op.starts_with("file "))
            .await
            .expect("the handler files the legs it stores");
        let plan = FaultPlan::new((0..call).map(|_| None).chain([Some(Fault::Throttle)]));
        let faulty = FaultyContactStore {
            inner: &store,
            plan: &plan,
        };
        let outcome = handle_sqs(&second, &faulty, &sink, &settings, clock, Utc::now()).await;
        assert_eq!(outcome.response.batch_item_failures.len(), 1, "the message fails for a retry");
        let c1 = store.legs().into_iter().find(|leg| leg.contact_id == "c1").unwrap();
        assert!(c1.successors.contains_key("c2"), "the link is stored");
        assert_eq!(counts(record(&sink)), (json!(1), json!(0)), "not filed, not rewritten");

        // The queue delivers it again beside c1's late DISCONNECTED event, which changes c1's
        // leg (newer event facts) but not what its records read (the CTR's values win, and it
        // is newer): the new version has the summary of the stored one, which was never filed.
        let mut disconnected: Value =
            serde_json::from_str(&c1_event("e2", "DISCONNECTED", "2026-11-21T10:08:00.000Z", None)).unwrap();
        disconnected["detail"]["disconnectTimestamp"] = json!("2026-11-21T10:08:00.000Z");
        let retry = SqsBatch::from_records([message("m3", &transfer), message("m4", &disconnected.to_string())]);
        let outcome = handle_sqs(&retry, &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
        assert_eq!(
            counts(record(&sink)),
            (json!(0), json!(1)),
            "c1 left by queue transfer, not abandoned"
        );
    });
}
