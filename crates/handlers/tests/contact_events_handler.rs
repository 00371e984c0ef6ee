//! The contact-events handler with in-memory ports: the simulator's slice in any batching,
//! order and duplication gives the records of the whole slice; bad inputs are rejects; racing
//! writers and transient failures never lose or double count a leg; closing writes the backlog
//! of queues where contacts only wait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::{
    ContactStore, IntervalLegs, LegFiling, LegWrite, Loaded, MemoryContactStore, StoredLeg, WaitingHint,
};
use connect_wfm_core::contact::{
    ContactInput, IntervalKey, Leg, LegBook, LegKey, LegSummary, QueueNames, decode_contact_input,
};
use connect_wfm_core::memory::MemoryFeedSink;
use connect_wfm_core::ports::PortError;
use connect_wfm_handlers::contacts::{
    Clock, KinesisBatch, Settings, SqsBatch, close_intervals, handle_kinesis, handle_sqs,
};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn sqs(bodies: &[&str]) -> SqsBatch {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({ "messageId": format!("m{i}"), "body": body }))
        .collect::<Vec<_>>();
    SqsBatch::from_records(records)
}

fn kinesis(data: &[&str], first_seq: usize) -> KinesisBatch {
    let records = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let seq = format!("{:05}", first_seq + i);
            json!({
                "eventID": format!("shardId-000000000000:{seq}"),
                "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(d) }
            })
        })
        .collect::<Vec<_>>();
    KinesisBatch::from_records(records)
}

/// A deterministic shuffle (xorshift), so a failure replays.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn stream_objects(sink: &MemoryFeedSink) -> Vec<(String, Value)> {
    sink.keys()
        .into_iter()
        .filter(|k| k.contains("/stream/"))
        .map(|k| {
            let body = sink.get(&k).unwrap();
            (k, serde_json::from_slice(&body).unwrap())
        })
        .collect()
}

fn expected_records(inputs: &[&[u8]]) -> Vec<(String, Value)> {
    let mut book = LegBook::default();
    for input in inputs {
        book.apply(&decode_contact_input(input).unwrap());
    }
    let mut records: Vec<(String, Value)> = book
        .records_now(&Default::default())
        .into_iter()
        .map(|r| (r.feed_key(), serde_json::to_value(&r).unwrap()))
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

#[tokio::test]
async fn the_slice_in_any_batching_order_and_duplication_gives_the_records_of_the_whole_slice() {
    let slice = simulate(&SliceSpec {
        seed: 5,
        intervals: 4,
        contacts: 60,
        ..SliceSpec::default()
    });
    let expected = expected_records(&slice.inputs());
    assert!(expected.len() >= 10, "{}", expected.len());
    for seed in [1u64, 7, 42] {
        let store = MemoryContactStore::default();
        let sink = MemoryFeedSink::default();
        let settings = Settings::default();
        let mut events: Vec<&str> = slice.events.iter().map(String::as_str).collect();
        events.extend(slice.events.iter().step_by(5).map(String::as_str));
        shuffle(&mut events, seed);
        let mut ctrs: Vec<&str> = slice.records.iter().map(String::as_str).collect();
        shuffle(&mut ctrs, seed + 1);
        let mut ctr_batches = ctrs.chunks(7);
        let mut seq = 0;
        for batch in events.chunks(10) {
            let outcome = handle_sqs(&sqs(batch), &store, &sink, &settings, Clock::NewestInput, Utc::now()).await;
            assert!(outcome.response.batch_item_failures.is_empty());
            if let Some(ctrs) = ctr_batches.next() {
                let outcome = handle_kinesis(
                    &kinesis(ctrs, seq),
                    &store,
                    &sink,
                    &settings,
                    Clock::NewestInput,
                    Utc::now(),
                )
                .await;
                assert_eq!(outcome.failed_from(), None);
                seq += ctrs.len();
            }
        }
        for ctrs in ctr_batches {
            handle_kinesis(
                &kinesis(ctrs, seq),
                &store,
                &sink,
                &settings,
                Clock::NewestInput,
                Utc::now(),
            )
            .await;
            seq += ctrs.len();
        }
        let clock = store.progress().await.unwrap().unwrap();
        connect_wfm_handlers::contacts::close_intervals_since(&store, &sink, &settings, None, clock)
            .await
            .unwrap();
        assert_eq!(stream_objects(&sink), expected, "seed {seed}");
    }
}

#[tokio::test]
async fn bad_inputs_are_kept_as_rejects_and_their_messages_succeed() {
    let store = MemoryContactStore::default();
    let sink = MemoryFeedSink::default();
    let other =
        r#"{"id":"x","time":"2026-11-20T10:00:00Z","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#;
    let outcome = handle_sqs(
        &sqs(&["not json", other, r#"{"AgentARN":"a"}"#]),
        &store,
        &sink,
        &Settings::default(),
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.stats.rejected, 3);
    let rejects = sink.lines("rejects/");
    assert_eq!(rejects.len(), 3);
    assert_eq!(rejects[0]["function"], "contact-events");
    assert_eq!(rejects[0]["input"], "sqs message m0");
    assert!(
        rejects[1]["reason"].as_str().unwrap().contains("Scheduled Event"),
        "{}",
        rejects[1]
    );
    let outcome = handle_kinesis(
        &kinesis(&[r#"{"ContactId":"c"}"#], 0),
        &store,
        &sink,
        &Settings::default(),
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    assert_eq!(outcome.failed_from(), None);
    let rejects = sink.lines("rejects/");
    assert_eq!(rejects.len(), 4);
    assert_eq!(rejects[0]["input"], "kinesis shardId-000000000000 seq 00000");
    assert_eq!(rejects[0]["reason"], "contact record: missing field `InstanceARN`");
}

const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/inst-1";

fn event(id: &str, time: &str, kind: &str, contact: &str, extra: Value) -> String {
    let mut detail = json!({
        "eventType": kind, "contactId": contact, "channel": "VOICE", "initiationMethod": "INBOUND",
        "initiationTimestamp": "2026-11-20T10:05:00.000Z", "instanceArn": INSTANCE,
    });
    detail
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({ "id": id, "time": time, "detail-type": "Amazon Connect Contact Event", "source": "aws.connect", "detail": detail })
        .to_string()
}

fn queued(contact: &str, enqueued: &str) -> String {
    event(
        &format!("{contact}-q"),
        enqueued,
        "QUEUED",
        contact,
        json!({ "queueInfo": { "queueArn": format!("{INSTANCE}/queue/q1"), "enqueueTimestamp": enqueued } }),
    )
}

fn answered(contact: &str, enqueued: &str, connected: &str, disconnected: &str) -> String {
    event(
        &format!("{contact}-d"),
        disconnected,
        "DISCONNECTED",
        contact,
        json!({
            "queueInfo": { "queueArn": format!("{INSTANCE}/queue/q1"), "enqueueTimestamp": enqueued },
            "agentInfo": { "agentArn": format!("{INSTANCE}/agent/a1"), "connectedToAgentTimestamp": connected },
            "disconnectTimestamp": disconnected
        }),
    )
}

#[tokio::test]
async fn closing_writes_the_backlog_of_a_queue_where_contacts_only_wait() {
    let store = MemoryContactStore::default();
    let sink = MemoryFeedSink::default();
    let settings = Settings::default();
    let batch = sqs(&[&queued("c1", "2026-11-20T10:05:00.000Z")]);
    let outcome = handle_sqs(
        &batch,
        &store,
        &sink,
        &settings,
        Clock::At(at("2026-11-20T10:06:00Z")),
        Utc::now(),
    )
    .await;
    assert_eq!(outcome.stats.records_written, 0, "nothing pegged, nothing ended");

    let closed = close_intervals(&store, &sink, &settings, at("2026-11-20T10:15:30Z"))
        .await
        .unwrap();
    assert_eq!((closed.written, closed.closed), (1, 1));
    let records = stream_objects(&sink);
    assert_eq!(records.len(), 1);
    let (key, record) = &records[0];
    assert_eq!(key, "queue_interval/2026-11-20/stream/inst-1/q1/1000.json");
    assert_eq!(
        (
            &record["contacts_received"],
            &record["backlog"],
            &record["backlog_expired"],
            &record["active"]
        ),
        (&json!(0), &json!(1), &json!(1), &json!(true))
    );
    // Long after the end: nothing due any more.
    let closed = close_intervals(&store, &sink, &settings, at("2026-11-20T10:20:00Z"))
        .await
        .unwrap();
    assert_eq!(closed.written, 0);

    // The contact is answered in the next interval: the record written before that interval
    // ends has no backlog yet; closing it writes its backlog (0).
    let batch = sqs(&[&answered(
        "c1",
        "2026-11-20T10:05:00.000Z",
        "2026-11-20T10:20:00.000Z",
        "2026-11-20T10:25:00.000Z",
    )]);
    handle_sqs(
        &batch,
        &store,
        &sink,
        &settings,
        Clock::At(at("2026-11-20T10:25:01Z")),
        Utc::now(),
    )
    .await;
    let next = |sink: &MemoryFeedSink| {
        serde_json::from_slice::<Value>(
            &sink
                .get("queue_interval/2026-11-20/stream/inst-1/q1/1015.json")
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        (next(&sink)["handled"].clone(), next(&sink)["backlog"].clone()),
        (json!(1), Value::Null)
    );
    let closed = close_intervals(&store, &sink, &settings, at("2026-11-20T10:30:10Z"))
        .await
        .unwrap();
    assert_eq!(closed.closed, 1);
    assert_eq!(next(&sink)["backlog"], json!(0));
    assert!(store.closing().await.unwrap().is_empty());
}

/// A store whose first leg write loses a race (another writer stores the leg in between), whose
/// loads fail while `down` is set, and where another writer files `late` just after this writer
/// read an interval's filings, before it writes the record (a stale record in the making).
#[derive(Default)]
struct RacingStore {
    inner: MemoryContactStore,
    race_with: Mutex<Option<Leg>>,
    down: AtomicBool,
    late: Mutex<Option<LegFiling>>,
}

impl ContactStore for RacingStore {
    async fn load(&self, legs: &[LegKey], queues: &[(String, String)], progress: bool) -> Result<Loaded, PortError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(PortError::new("load legs", "throttled", true));
        }
        self.inner.load(legs, queues, progress).await
    }
    async fn store_leg(&self, stored: &StoredLeg, expected: Option<u64>) -> Result<LegWrite, PortError> {
        if let Some(racer) = self.race_with.lock().unwrap().take() {
            self.inner.race(racer);
        }
        self.inner.store_leg(stored, expected).await
    }
    async fn file(&self, filings: &[LegFiling]) -> Result<(), PortError> {
        self.inner.file(filings).await
    }
    async fn mark(&self, closing: &[IntervalKey], unnamed: &[IntervalKey]) -> Result<(), PortError> {
        self.inner.mark(closing, unnamed).await
    }
    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let read = self.inner.interval_legs(key).await;
        let late = self.late.lock().unwrap().take();
        if let Some(late) = late {
            self.inner.file(&[late]).await?;
        }
        read
    }
    async fn interval_filings(&self, key: &IntervalKey) -> Result<usize, PortError> {
        self.inner.interval_filings(key).await
    }
    async fn waiting(&self) -> Result<Vec<WaitingHint>, PortError> {
        self.inner.waiting().await
    }
    async fn forget_waiting(&self, ids: &[String]) -> Result<(), PortError> {
        self.inner.forget_waiting(ids).await
    }
    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        self.inner.queue_names(queues).await
    }
    async fn queue_ids_by_name(&self, instance_id: &str, names: &[String]) -> Result<Vec<(String, String)>, PortError> {
        self.inner.queue_ids_by_name(instance_id, names).await
    }
    async fn learn_queue_names(&self, names: &QueueNames) -> Result<(), PortError> {
        self.inner.learn_queue_names(names).await
    }
    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        self.inner.closing().await
    }
    async fn closed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        self.inner.closed(keys).await
    }
    async fn unnamed(&self, instance_id: &str, queue_id: &str) -> Result<Vec<IntervalKey>, PortError> {
        self.inner.unnamed(instance_id, queue_id).await
    }
    async fn named(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        self.inner.named(keys).await
    }
    async fn advance_progress(&self, time: DateTime<Utc>) -> Result<(), PortError> {
        self.inner.advance_progress(time).await
    }
    async fn progress(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        self.inner.progress().await
    }
}

#[tokio::test]
async fn a_racing_writer_and_a_transient_failure_lose_nothing_and_count_nothing_twice() {
    let store = RacingStore::default();
    let sink = MemoryFeedSink::default();
    let settings = Settings::default();
    let clock = Clock::At(at("2026-11-20T10:31:00Z"));
    let q = queued("c1", "2026-11-20T10:05:00.000Z");
    let d = answered(
        "c1",
        "2026-11-20T10:05:00.000Z",
        "2026-11-20T10:05:10.000Z",
        "2026-11-20T10:09:00.000Z",
    );
    // Another batch stores the QUEUED event of c1 while this one writes its DISCONNECTED.
    let ContactInput::Event(_) = decode_contact_input(q.as_bytes()).unwrap() else {
        unreachable!()
    };
    let racer = decode_contact_input(q.as_bytes()).unwrap().leg_patches().remove(0);
    *store.race_with.lock().unwrap() = Some(racer);
    let outcome = handle_sqs(&sqs(&[&d]), &store, &sink, &settings, clock, Utc::now()).await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(outcome.stats.conflicts, 1);
    let stored = store.inner.legs();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].events.newest.is_some() && stored[0].events.disconnected.is_some());

    // The store is down: every message fails, to come again; then it comes again, twice.
    store.down.store(true, Ordering::Relaxed);
    let outcome = handle_sqs(&sqs(&[&q, &d]), &store, &sink, &settings, clock, Utc::now()).await;
    assert_eq!(outcome.response.batch_item_failures.len(), 2);
    store.down.store(false, Ordering::Relaxed);
    for _ in 0..2 {
        let outcome = handle_sqs(&sqs(&[&q, &d]), &store, &sink, &settings, clock, Utc::now()).await;
        assert!(outcome.response.batch_item_failures.is_empty());
    }
    let records = stream_objects(&sink);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (&records[0].1["contacts_received"], &records[0].1["handled"]),
        (&json!(1), &json!(1))
    );
}

/// Another writer's leg c2, answered in the 10:00 interval of queue q1.
fn late_filing() -> LegFiling {
    let key = LegKey {
        instance_id: "inst-1".into(),
        contact_id: "c2".into(),
    };
    LegFiling {
        key,
        version: 1,
        summary: Some(LegSummary {
            instance_id: "inst-1".into(),
            contact_id: "c2".into(),
            queue_id: "q1".into(),
            enqueued: at("2026-11-20T10:05:00Z"),
            connected: Some(at("2026-11-20T10:05:10Z")),
            disconnected: Some(at("2026-11-20T10:08:00Z")),
            continued: false,
            ctr: None,
            newest: Some(at("2026-11-20T10:08:00Z")),
        }),
        intervals: vec![IntervalKey {
            instance_id: "inst-1".into(),
            queue_id: "q1".into(),
            interval_start: at("2026-11-20T10:00:00Z"),
        }],
        left: Vec::new(),
        hint: false,
    }
}

#[tokio::test]
async fn a_leg_filed_while_a_record_is_written_is_in_it_at_once_after_the_end_and_at_the_close_before() {
    const OBJECT: &str = "queue_interval/2026-11-20/stream/inst-1/q1/1000.json";
    let handled = |sink: &MemoryFeedSink| {
        serde_json::from_slice::<Value>(&sink.get(OBJECT).expect("the record")).unwrap()["handled"].clone()
    };
    let settings = Settings::default();
    let c1 = answered(
        "c1",
        "2026-11-20T10:05:00.000Z",
        "2026-11-20T10:05:20.000Z",
        "2026-11-20T10:07:00.000Z",
    );

    // c1 handled at `clock` while another writer files c2 in the same interval.
    let handle_at = async |clock: &str| {
        let (store, sink) = (RacingStore::default(), MemoryFeedSink::default());
        *store.late.lock().unwrap() = Some(late_filing());
        handle_sqs(&sqs(&[&c1]), &store, &sink, &settings, Clock::At(at(clock)), Utc::now()).await;
        (store, sink)
    };

    // After the interval's end: the writer counts the filings again and writes the record again.
    let (_, sink) = handle_at("2026-11-20T10:16:00Z").await;
    assert_eq!(handled(&sink), json!(2), "c1 and the racing writer's c2");

    // Well before the end the record is provisional (no second count), and the interval's close
    // writes it with every leg.
    let (store, sink) = handle_at("2026-11-20T10:07:30Z").await;
    assert_eq!(handled(&sink), json!(1), "provisional: c1 only");
    let closed = close_intervals(&store, &sink, &settings, at("2026-11-20T10:15:30Z"))
        .await
        .unwrap();
    assert_eq!(closed.closed, 1);
    assert_eq!(handled(&sink), json!(2), "closed: c1 and c2");
}

#[tokio::test]
async fn the_queue_report_reconciles_with_the_stored_stream_basis() {
    use connect_wfm_core::report::{IntervalRecord, ReportMapping, ReportReader, ReportSource};
    let spec = SliceSpec {
        seed: 2,
        intervals: 4,
        contacts: 80,
        ..SliceSpec::default()
    };
    let slice = simulate(&spec);
    let settings = Settings {
        stream: connect_wfm_core::contact::StreamSettings {
            service_level_thresholds: spec.thresholds.clone(),
            instances: [(spec.instance_alias.clone(), spec.instance_id.clone())].into(),
            ..Default::default()
        },
    };
    let store = MemoryContactStore::default();
    let sink = MemoryFeedSink::default();
    let events: Vec<&str> = slice.events.iter().map(String::as_str).collect();
    let ctrs: Vec<&str> = slice.records.iter().map(String::as_str).collect();
    for batch in events.chunks(10) {
        handle_sqs(&sqs(batch), &store, &sink, &settings, Clock::NewestInput, Utc::now()).await;
    }
    for (i, batch) in ctrs.chunks(10).enumerate() {
        handle_kinesis(
            &kinesis(batch, i * 10),
            &store,
            &sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    let source = ReportSource::new("amazon-connect-reports", slice.report_key.clone());
    let rows: Vec<_> = ReportReader::new(
        slice.report_csv.as_bytes(),
        source,
        None,
        None,
        &ReportMapping::default(),
    )
    .unwrap()
    .map(|r| match r.unwrap() {
        IntervalRecord::Queue(q) => q,
        other => panic!("not a queue record: {other:?}"),
    })
    .collect();
    let clock = store.progress().await.unwrap().unwrap();
    let reconciliations = connect_wfm_handlers::contacts::reconcile_reports(&rows, &store, &settings, clock)
        .await
        .unwrap();
    let active = rows.iter().filter(|r| r.active).count();
    assert!(
        reconciliations.len() >= active && active >= 5,
        "{} of {active}",
        reconciliations.len()
    );
    for r in &reconciliations {
        assert!(r.agrees(), "{r}");
    }

    // A report row that says otherwise is a difference, named by field.
    let mut wrong = rows.iter().find(|r| r.active).unwrap().clone();
    wrong.handled = wrong.handled.map(|h| h + 1);
    let drift = connect_wfm_handlers::contacts::reconcile_reports(&[wrong], &store, &settings, clock)
        .await
        .unwrap();
    assert_eq!(drift.len(), 1);
    assert!(drift[0].differences().any(|d| d.field == "handled"), "{}", drift[0]);
}

#[test]
fn the_functions_event_is_told_apart_by_its_records_source_as_lambda_reads_it() {
    use connect_wfm_handlers::contacts::ContactBatch;
    // lambda_runtime reads the invocation through serde_path_to_error over serde_json.
    let read = |text: &str| -> ContactBatch {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).unwrap()
    };
    let sqs = json!({"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]}).to_string();
    let kinesis = json!({"Records": [{"eventID": "s:1", "eventSource": "aws:kinesis",
        "kinesis": {"sequenceNumber": "1", "data": "e30="}}]})
    .to_string();
    assert!(matches!(read(&sqs), ContactBatch::Sqs(b) if b.records.len() == 1));
    assert!(matches!(read(&kinesis), ContactBatch::Kinesis(b) if b.records.len() == 1));
    assert!(matches!(read(r#"{"Records": []}"#), ContactBatch::Sqs(b) if b.records.is_empty()));
}

/// A minimal contact record of `contact` in q1 named `Support`, answered and disconnected.
fn ctr(contact: &str, enqueued: &str, connected: &str, disconnected: &str, last_update: &str) -> String {
    json!({
        "ContactId": contact, "InstanceARN": INSTANCE, "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "InitiationTimestamp": enqueued, "DisconnectTimestamp": disconnected, "LastUpdateTimestamp": last_update,
        "Queue": { "ARN": format!("{INSTANCE}/queue/q1"), "Name": "Support", "EnqueueTimestamp": enqueued },
        "Agent": { "ConnectedToAgentTimestamp": connected, "AgentInteractionDuration": 60,
                   "CustomerHoldDuration": 0, "AfterContactWorkDuration": 10 }
    })
    .to_string()
}

#[tokio::test]
async fn a_record_written_before_its_queue_name_is_known_is_written_again_with_it() {
    let (store, sink, settings) = (
        MemoryContactStore::default(),
        MemoryFeedSink::default(),
        Settings::default(),
    );
    let clock = Clock::NewestInput;
    // c1 is answered in the 10:00 interval; no CTR has named q1 yet.
    let c1 = answered(
        "c1",
        "2026-11-20T10:05:00.000Z",
        "2026-11-20T10:05:10.000Z",
        "2026-11-20T10:06:00.000Z",
    );
    handle_sqs(&sqs(&[&c1]), &store, &sink, &settings, clock, Utc::now()).await;
    let key = "queue_interval/2026-11-20/stream/inst-1/q1/1000.json";
    let record = |sink: &MemoryFeedSink| -> Value { serde_json::from_slice(&sink.get(key).unwrap()).unwrap() };
    assert_eq!(record(&sink)["queue"], Value::Null);

    // The CTR of another contact, in the 10:15 interval, names q1: the 10:00 record, which no
    // input touches again, is written again with the name (as if the CTR had come first).
    let c2 = ctr(
        "c2",
        "2026-11-20T10:20:00Z",
        "2026-11-20T10:20:10Z",
        "2026-11-20T10:21:00Z",
        "2026-11-20T10:22:00Z",
    );
    let outcome = handle_kinesis(&kinesis(&[&c2], 0), &store, &sink, &settings, clock, Utc::now()).await;
    assert_eq!(outcome.failed_from(), None);
    assert_eq!(record(&sink)["queue"], json!("Support"));
    assert_eq!(record(&sink)["handled"], json!(1));
    assert!(store.unnamed("inst-1", "q1").await.unwrap().is_empty());
    assert_eq!(
        stream_objects(&sink),
        expected_records(&[c1.as_bytes(), c2.as_bytes()]),
        "the same records as the other order"
    );
}
