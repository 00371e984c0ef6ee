//! The contact-events handler end to end against the AWS emulator: legs and their filing in
//! DynamoDB (real conditional writes), interval objects in S3. Prints the figures asked for:
//! DynamoDB requests per 1,000 contacts and the latency from a DISCONNECTED event handed to the
//! handler to its interval object written (the emulator on loopback; other builds share the
//! machine, so read the latency as an order of magnitude).

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use connect_wfm_aws::{DynamoContactStore, S3FeedSink};
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::ContactStore as _;
use connect_wfm_core::contact::{LegBook, decode_contact_input};
use connect_wfm_core::report::{IntervalRecord, ReportMapping, ReportReader, ReportSource};
use connect_wfm_e2e as support;
use connect_wfm_handlers::contacts::{
    Clock, KinesisBatch, Settings, SqsBatch, close_intervals, handle_kinesis, handle_sqs, reconcile_reports,
};
use serde_json::{Value, json};

struct Stack {
    s3: aws_sdk_s3::Client,
    bucket: String,
    store: DynamoContactStore,
    sink: S3FeedSink,
    requests: support::RequestLog,
}

async fn stack() -> Stack {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let (dynamodb, requests) = support::recording_dynamodb(&config);
    let table = support::create_contact_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    requests.clear();
    Stack {
        store: DynamoContactStore::new(dynamodb, table),
        sink: S3FeedSink::new(s3.clone(), bucket.clone(), "wfm"),
        s3,
        bucket,
        requests,
    }
}

fn sqs(bodies: &[&str], first: usize) -> SqsBatch {
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({ "messageId": format!("m{}", first + i), "body": body, "eventSource": "aws:sqs" }))
        .collect::<Vec<_>>();
    SqsBatch::from_records(records)
}

fn kinesis(data: &[&str], first: usize) -> KinesisBatch {
    use base64::Engine as _;
    let records = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let seq = format!("{:08}", first + i);
            json!({
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventSource": "aws:kinesis",
                "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(d) }
            })
        })
        .collect::<Vec<_>>();
    KinesisBatch::from_records(records)
}

fn input_time(bytes: &str) -> DateTime<Utc> {
    decode_contact_input(bytes.as_bytes()).unwrap().time()
}

async fn stream_objects(stack: &Stack) -> Vec<(String, Value)> {
    support::read_objects(&stack.s3, &stack.bucket, "wfm/queue_interval/")
        .await
        .into_iter()
        .map(|(key, body)| {
            (
                key.trim_start_matches("wfm/").to_owned(),
                serde_json::from_slice(&body).unwrap(),
            )
        })
        .collect()
}

/// The slice as it would arrive: events and CTRs by their own time (a CTR a minute or two after
/// its contact), in SQS batches of 10 and Kinesis batches of up to 10, the sweep every minute.
#[tokio::test]
async fn a_slice_in_time_order_gives_the_records_of_the_whole_slice_with_request_counts() {
    let stack = stack().await;
    let spec = SliceSpec {
        seed: 3,
        intervals: 4,
        contacts: 100,
        ..SliceSpec::default()
    };
    let settings = Settings {
        stream: connect_wfm_core::contact::StreamSettings {
            service_level_thresholds: spec.thresholds.clone(),
            instances: [(spec.instance_alias.clone(), spec.instance_id.clone())].into(),
            ..Default::default()
        },
    };
    let slice = simulate(&spec);
    let mut timeline: Vec<(DateTime<Utc>, bool, &str)> = slice
        .events
        .iter()
        .map(|e| (input_time(e), true, e.as_str()))
        .chain(slice.records.iter().map(|r| (input_time(r), false, r.as_str())))
        .collect();
    timeline.sort_by_key(|(t, _, _)| *t);

    let (mut handler_requests, mut sweep_requests, mut sweeps) = (0, 0, 0);
    let mut by_operation: std::collections::BTreeMap<String, usize> = Default::default();
    const OPERATIONS: [&str; 8] = [
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "Query",
        "GetItem",
        "BatchWriteItem",
        "DeleteItem",
        "TransactWriteItems",
    ];
    let mut next_sweep = slice.spec.start + TimeDelta::minutes(1);
    let (mut seq, mut batches) = (0, 0);
    for chunk in timeline.chunk_by(|a, b| a.1 == b.1) {
        for batch in chunk.chunks(10) {
            let clock = batch.last().unwrap().0;
            while next_sweep <= clock {
                stack.requests.clear();
                close_intervals(&stack.store, &stack.sink, &settings, next_sweep)
                    .await
                    .unwrap();
                sweep_requests += stack.requests.total();
                sweeps += 1;
                next_sweep += TimeDelta::minutes(1);
            }
            let bodies: Vec<&str> = batch.iter().map(|(_, _, b)| *b).collect();
            stack.requests.clear();
            if batch[0].1 {
                let outcome = handle_sqs(
                    &sqs(&bodies, seq),
                    &stack.store,
                    &stack.sink,
                    &settings,
                    Clock::At(clock),
                    clock,
                )
                .await;
                assert!(outcome.response.batch_item_failures.is_empty(), "{:?}", outcome.stats);
            } else {
                let outcome = handle_kinesis(
                    &kinesis(&bodies, seq),
                    &stack.store,
                    &stack.sink,
                    &settings,
                    Clock::At(clock),
                    clock,
                )
                .await;
                assert_eq!(outcome.failed_from(), None, "{:?}", outcome.stats);
            }
            handler_requests += stack.requests.total();
            for operation in OPERATIONS {
                *by_operation.entry(operation.to_owned()).or_default() += stack.requests.count(operation);
            }
            seq += bodies.len();
            batches += 1;
        }
    }
    let end = timeline.last().unwrap().0;
    stack.requests.clear();
    close_intervals(&stack.store, &stack.sink, &settings, end)
        .await
        .unwrap();
    sweep_requests += stack.requests.total();
    sweeps += 1;

    let mut book = LegBook::default();
    for (_, _, input) in &timeline {
        book.apply(&decode_contact_input(input.as_bytes()).unwrap());
    }
    let mut expected: Vec<(String, Value)> = book
        .records(&settings.stream, end)
        .into_iter()
        .map(|r| (r.feed_key(), serde_json::to_value(&r).unwrap()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(expected.len() >= 10);
    assert_eq!(stream_objects(&stack).await, expected);

    let contacts = slice.contacts.len();
    println!(
        "FIGURE contact-events: {contacts} contacts, {} events, {} CTRs in {batches} batches with the sweep every minute: \
         {handler_requests} DynamoDB requests by the handler = {:.0} per 1,000 contacts; the sweep: {sweeps} runs, \
         {sweep_requests} requests ({:.1} per run)",
        slice.events.len(),
        slice.records.len(),
        handler_requests as f64 * 1000.0 / contacts as f64,
        sweep_requests as f64 / sweeps as f64
    );
    // Connect's queue report of the same contacts reconciles with what DynamoDB holds.
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
    let reconciliations = reconcile_reports(&rows, &stack.store, &settings, end).await.unwrap();
    assert!(reconciliations.len() >= rows.iter().filter(|r| r.active).count());
    for r in &reconciliations {
        assert!(r.agrees(), "{r}");
    }

    by_operation.retain(|_, n| *n > 0);
    println!("FIGURE contact-events handler requests by operation: {by_operation:?}");
}

const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/e2e-latency";

fn event(contact: &str, kind: &str, time: &str, extra: Value) -> String {
    let mut detail = json!({
        "eventType": kind, "contactId": contact, "channel": "VOICE", "initiationMethod": "INBOUND",
        "initiationTimestamp": "2026-11-20T10:01:00.000Z", "instanceArn": INSTANCE,
        "queueInfo": { "queueArn": format!("{INSTANCE}/queue/q1"), "enqueueTimestamp": "2026-11-20T10:01:05.000Z" },
    });
    detail
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({ "id": format!("{contact}-{kind}"), "time": time, "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect", "detail": detail })
    .to_string()
}

#[tokio::test]
async fn latency_from_a_disconnected_event_to_its_interval_object() {
    let stack = stack().await;
    let settings = Settings::default();
    let clock: DateTime<Utc> = "2026-11-20T10:05:00Z".parse().unwrap();
    let agent = json!({ "agentInfo": { "agentArn": format!("{INSTANCE}/agent/a"), "connectedToAgentTimestamp": "2026-11-20T10:01:20.000Z" } });
    let mut millis = Vec::new();
    for i in 0..20 {
        let contact = format!("c{i:02}");
        let before = [
            event(&contact, "QUEUED", "2026-11-20T10:01:05.000Z", json!({})),
            event(
                &contact,
                "CONNECTED_TO_AGENT",
                "2026-11-20T10:01:20.000Z",
                agent.clone(),
            ),
        ];
        let refs: Vec<&str> = before.iter().map(String::as_str).collect();
        handle_sqs(
            &sqs(&refs, 0),
            &stack.store,
            &stack.sink,
            &settings,
            Clock::At(clock),
            clock,
        )
        .await;
        let mut disconnected = agent.clone();
        disconnected["disconnectTimestamp"] = json!("2026-11-20T10:04:00.000Z");
        let body = event(&contact, "DISCONNECTED", "2026-11-20T10:04:00.000Z", disconnected);
        let started = Instant::now();
        let outcome = handle_sqs(
            &sqs(&[&body], 0),
            &stack.store,
            &stack.sink,
            &settings,
            Clock::At(clock),
            clock,
        )
        .await;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(outcome.stats.records_written, 1);
        let record: Value = serde_json::from_slice(
            &support::get_object(
                &stack.s3,
                &stack.bucket,
                "wfm/queue_interval/2026-11-20/stream/e2e-latency/q1/1000.json",
            )
            .await,
        )
        .unwrap();
        assert_eq!(
            record["handled"],
            json!(i + 1),
            "the object holds this contact once it is written"
        );
    }
    millis.sort_by(f64::total_cmp);
    println!(
        "FIGURE contact-events latency (DISCONNECTED handed to the handler → interval object written, moto on loopback, \
         shared machine): min {:.1} ms, median {:.1} ms, max {:.1} ms over {} contacts",
        millis[0],
        millis[millis.len() / 2],
        millis[millis.len() - 1],
        millis.len()
    );
}

#[tokio::test]
async fn concurrent_batches_and_redeliveries_of_one_contact_count_it_once() {
    let stack = stack().await;
    let settings = Settings::default();
    let clock: DateTime<Utc> = "2026-11-20T10:20:00Z".parse().unwrap();
    let agent = json!({ "agentInfo": { "agentArn": format!("{INSTANCE}/agent/a"), "connectedToAgentTimestamp": "2026-11-20T10:01:20.000Z" } });
    let mut disconnected = agent.clone();
    disconnected["disconnectTimestamp"] = json!("2026-11-20T10:04:00.000Z");
    let events = [
        event("x", "QUEUED", "2026-11-20T10:01:05.000Z", json!({})),
        event("x", "CONNECTED_TO_AGENT", "2026-11-20T10:01:20.000Z", agent),
        event("x", "DISCONNECTED", "2026-11-20T10:04:00.000Z", disconnected),
    ];
    // Each event in its own batch, all at once, twice over: the versioned writes race for real.
    let run = |body: &str| {
        let batch = sqs(&[body], 0);
        let (store, sink, settings) = (&stack.store, &stack.sink, &settings);
        async move { handle_sqs(&batch, store, sink, settings, Clock::At(clock), clock).await }
    };
    let outcomes = futures_util::future::join_all(events.iter().chain(events.iter()).map(|e| run(e))).await;
    assert!(outcomes.iter().all(|o| o.response.batch_item_failures.is_empty()));
    let legs = stack
        .store
        .load(
            &[connect_wfm_core::contact::LegKey {
                instance_id: "e2e-latency".into(),
                contact_id: "x".into(),
            }],
            &[],
            false,
        )
        .await
        .unwrap()
        .legs;
    assert_eq!(legs.len(), 1);
    assert!(legs[0].leg.disconnected_at().is_some() && legs[0].leg.connected_at().is_some());
    let objects = stream_objects(&stack).await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    let record = &objects[0].1;
    assert_eq!(
        (
            &record["contacts_received"],
            &record["handled"],
            &record["abandoned"],
            &record["backlog"]
        ),
        (&json!(1), &json!(1), &json!(0), &json!(0))
    );
}

/// One way of cutting the slice into batches, each handled at the time of its newest input.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// A busy contact center: SQS batches of 10 events, Kinesis batches of 100 CTRs.
    Full,
    /// The slice in time order, each run of events or CTRs in batches of up to 10 (187 batches of
    /// 1–10 inputs): the "trickle" figure of issue 25.
    TimeOrdered,
    /// One message (event or CTR) per batch: a quiet center.
    OnePerBatch,
}

/// DynamoDB requests and estimated write units (see `support::WriteUnits`) of the handler per
/// contact, the sweep left out, for one cut of the slice; checks the feed against the slice's
/// records.
async fn requests_per_contact(cut: Cut) -> (f64, f64, usize, f64) {
    let stack = stack().await;
    let settings = Settings::default();
    let slice = simulate(&SliceSpec {
        seed: 3,
        intervals: 4,
        contacts: 100,
        ..SliceSpec::default()
    });
    fn timed(inputs: &[String]) -> Vec<(DateTime<Utc>, &str)> {
        let mut timed: Vec<(DateTime<Utc>, &str)> = inputs.iter().map(|e| (input_time(e), e.as_str())).collect();
        timed.sort_by_key(|(t, _)| *t);
        timed
    }
    fn batch<'a>(c: &[(DateTime<Utc>, &'a str)], is_event: bool) -> (DateTime<Utc>, bool, Vec<&'a str>) {
        (c.last().unwrap().0, is_event, c.iter().map(|(_, b)| *b).collect())
    }
    let (events, records) = (timed(&slice.events), timed(&slice.records));
    let mut batches: Vec<(DateTime<Utc>, bool, Vec<&str>)> = match cut {
        Cut::Full => events
            .chunks(10)
            .map(|c| batch(c, true))
            .chain(records.chunks(100).map(|c| batch(c, false)))
            .collect(),
        Cut::OnePerBatch => events
            .chunks(1)
            .map(|c| batch(c, true))
            .chain(records.chunks(1).map(|c| batch(c, false)))
            .collect(),
        Cut::TimeOrdered => {
            let mut timeline: Vec<(DateTime<Utc>, bool, &str)> = events
                .iter()
                .map(|(t, b)| (*t, true, *b))
                .chain(records.iter().map(|(t, b)| (*t, false, *b)))
                .collect();
            timeline.sort_by_key(|(t, _, _)| *t);
            timeline
                .chunk_by(|a, b| a.1 == b.1)
                .flat_map(|run| run.chunks(10))
                .map(|c| (c.last().unwrap().0, c[0].1, c.iter().map(|(_, _, b)| *b).collect()))
                .collect()
        }
    };
    batches.sort_by_key(|(t, _, _)| *t);
    let mut seq = 0;
    // The sweep every minute, its requests left out of the handler's.
    let (mut sweep_requests, mut sweep_units) = (0, 0);
    let mut next_sweep = slice.spec.start + TimeDelta::minutes(1);
    for (clock, is_event, bodies) in &batches {
        while next_sweep <= *clock {
            let (requests, units) = (stack.requests.total(), stack.requests.write_units());
            close_intervals(&stack.store, &stack.sink, &settings, next_sweep)
                .await
                .unwrap();
            sweep_requests += stack.requests.total() - requests;
            sweep_units += stack.requests.write_units() - units;
            next_sweep += TimeDelta::minutes(1);
        }
        if *is_event {
            let outcome = handle_sqs(
                &sqs(bodies, seq),
                &stack.store,
                &stack.sink,
                &settings,
                Clock::At(*clock),
                *clock,
            )
            .await;
            assert!(outcome.response.batch_item_failures.is_empty());
        } else {
            let outcome = handle_kinesis(
                &kinesis(bodies, seq),
                &stack.store,
                &stack.sink,
                &settings,
                Clock::At(*clock),
                *clock,
            )
            .await;
            assert_eq!(outcome.failed_from(), None);
        }
        seq += bodies.len();
    }
    let (requests, units) = (
        stack.requests.total() - sweep_requests,
        stack.requests.write_units() - sweep_units,
    );
    // By operation and by item kind, the sweep's included (it is a small part).
    let (by_operation, by_kind) = (stack.requests.by_operation(), stack.requests.write_units_by_kind());
    let (items, average) = stack.requests.items_written();
    let contacts = slice.contacts.len() as f64;
    let end = batches.last().unwrap().0;
    close_intervals(&stack.store, &stack.sink, &settings, end)
        .await
        .unwrap();
    let mut book = LegBook::default();
    for input in slice.inputs() {
        book.apply(&decode_contact_input(input).unwrap());
    }
    let mut expected: Vec<(String, Value)> = book
        .records(&settings.stream, end)
        .into_iter()
        .map(|r| (r.feed_key(), serde_json::to_value(&r).unwrap()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let written: Vec<(String, Value)> = stream_objects(&stack)
        .await
        .into_iter()
        .filter(|(_, record)| record["active"] != json!(false))
        .collect();
    println!(
        "FIGURE contact-events {cut:?}: {} contacts in {} batches: {requests} DynamoDB requests by the handler, \
         {units} write units (estimated; {items} items written, {average:.0} bytes on average)",
        slice.contacts.len(),
        batches.len()
    );
    println!("FIGURE contact-events {cut:?}, handler and sweep: requests {by_operation:?}, write units {by_kind:?}");
    assert_eq!(written, expected, "{cut:?}");
    (
        requests as f64 / contacts,
        units as f64 / contacts,
        batches.len(),
        average,
    )
}

/// The figures of issue 25 for contacts: DynamoDB requests and write units per contact with
/// full batches, in the time-ordered trickle, and with one message per batch.
#[tokio::test]
async fn requests_and_write_units_per_contact() {
    let mut line = String::from("FIGURE contact-events per contact:");
    for cut in [Cut::Full, Cut::TimeOrdered, Cut::OnePerBatch] {
        let (requests, units, batches, _) = requests_per_contact(cut).await;
        line.push_str(&format!(
            " {cut:?} ({batches} batches) {requests:.2} requests, {units:.2} write units;"
        ));
    }
    println!("{line}");
}

#[tokio::test]
async fn a_stored_leg_that_cannot_be_read_starts_again_instead_of_failing_the_batch() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = stack().await;
    let settings = Settings::default();
    let clock: DateTime<Utc> = "2026-11-20T10:20:00Z".parse().unwrap();
    stack
        .store
        .client
        .put_item()
        .table_name(&stack.store.table)
        .item("pk", AttributeValue::S("leg#e2e-latency#broken".into()))
        .item("sk", AttributeValue::S("leg".into()))
        .item("v", AttributeValue::N("3".into()))
        .item("leg", AttributeValue::S("{not json".into()))
        .send()
        .await
        .unwrap();
    let body = event("broken", "QUEUED", "2026-11-20T10:01:05.000Z", json!({}));
    let other = event("fine", "QUEUED", "2026-11-20T10:01:05.000Z", json!({}));
    let outcome = handle_sqs(
        &sqs(&[&body, &other], 0),
        &stack.store,
        &stack.sink,
        &settings,
        Clock::At(clock),
        clock,
    )
    .await;
    assert!(outcome.response.batch_item_failures.is_empty(), "{:?}", outcome.stats);
    let key = |contact: &str| connect_wfm_core::contact::LegKey {
        instance_id: "e2e-latency".into(),
        contact_id: contact.into(),
    };
    let legs = stack
        .store
        .load(&[key("broken"), key("fine")], &[], false)
        .await
        .unwrap()
        .legs;
    assert_eq!(legs.len(), 2);
    let broken = legs.iter().find(|l| l.leg.contact_id == "broken").unwrap();
    assert_eq!(broken.version, 4);
    assert!(broken.leg.enqueued_at().is_some());
}

#[tokio::test]
async fn a_late_event_retracts_a_waiting_only_record_it_disproves() {
    let stack = stack().await;
    let settings = Settings::default();
    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    // Queued at 10:01:05; the sweep at 10:15:30 sees it waiting at 10:15.
    let queued = event("late", "QUEUED", "2026-11-20T10:01:05.000Z", json!({}));
    let clock = at("2026-11-20T10:02:00Z");
    handle_sqs(
        &sqs(&[&queued], 0),
        &stack.store,
        &stack.sink,
        &settings,
        Clock::At(clock),
        clock,
    )
    .await;
    let closed = close_intervals(&stack.store, &stack.sink, &settings, at("2026-11-20T10:15:30Z"))
        .await
        .unwrap();
    assert_eq!(closed.written, 1);
    let key = "wfm/queue_interval/2026-11-20/stream/e2e-latency/q1/1000.json";
    let record: Value = serde_json::from_slice(&support::get_object(&stack.s3, &stack.bucket, key).await).unwrap();
    assert_eq!((&record["backlog"], &record["active"]), (&json!(1), &json!(true)));

    // Its CONNECTED_TO_AGENT event of 10:14:50 arrives late: it was not waiting at 10:15 after
    // all, and the 10:00 interval has no contact left: the record is retracted.
    let agent = json!({ "agentInfo": { "agentArn": format!("{INSTANCE}/agent/a"), "connectedToAgentTimestamp": "2026-11-20T10:14:50.000Z" } });
    let connected = event("late", "CONNECTED_TO_AGENT", "2026-11-20T10:14:50.000Z", agent);
    let clock = at("2026-11-20T10:16:00Z");
    let outcome = handle_sqs(
        &sqs(&[&connected], 1),
        &stack.store,
        &stack.sink,
        &settings,
        Clock::At(clock),
        clock,
    )
    .await;
    assert!(outcome.response.batch_item_failures.is_empty());
    let record: Value = serde_json::from_slice(&support::get_object(&stack.s3, &stack.bucket, key).await).unwrap();
    assert_eq!(
        (
            &record["active"],
            &record["backlog"],
            &record["contacts_received"],
            &record["as_of"]
        ),
        (&json!(false), &json!(0), &json!(0), &Value::Null)
    );
}

#[tokio::test]
async fn a_batch_hints_its_waiting_legs_in_one_item_and_the_sweep_takes_out_hints_of_legs_that_stopped_waiting() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = stack().await;
    let settings = Settings::default();
    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    let clock = at("2026-11-20T10:02:00Z");
    // A hint of one leg as earlier versions wrote it, whose leg is gone.
    stack
        .store
        .client
        .put_item()
        .table_name(&stack.store.table)
        .item("pk", AttributeValue::S("waiting".into()))
        .item("sk", AttributeValue::S("e2e-latency#gone".into()))
        .send()
        .await
        .unwrap();
    let queued: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|c| event(c, "QUEUED", "2026-11-20T10:01:05.000Z", json!({})))
        .collect();
    let bodies: Vec<&str> = queued.iter().map(String::as_str).collect();
    let (stack, settings) = (&stack, &settings);
    let handle = |batch: SqsBatch| async move {
        let outcome = handle_sqs(&batch, &stack.store, &stack.sink, settings, Clock::At(clock), clock).await;
        assert!(outcome.response.batch_item_failures.is_empty(), "{:?}", outcome.stats);
    };
    handle(sqs(&bodies, 0)).await;
    let items = || async {
        let page = stack
            .store
            .client
            .query()
            .table_name(&stack.store.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S("waiting".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        page.items.unwrap_or_default()
    };
    assert_eq!(items().await.len(), 2, "the three waiting legs are hinted in one item");
    let mut hinted: Vec<String> = stack
        .store
        .waiting()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|h| h.legs)
        .map(|k| k.contact_id)
        .collect();
    hinted.sort();
    assert_eq!(hinted, ["gone", "h1", "h2", "h3"]);

    // h1 and h2 are answered: the batch writes no hint (nor takes one out).
    let agent = json!({ "agentInfo": { "agentArn": format!("{INSTANCE}/agent/a"), "connectedToAgentTimestamp": "2026-11-20T10:01:30.000Z" } });
    let connected: Vec<String> = ["h1", "h2"]
        .iter()
        .map(|c| event(c, "CONNECTED_TO_AGENT", "2026-11-20T10:01:30.000Z", agent.clone()))
        .collect();
    let bodies: Vec<&str> = connected.iter().map(String::as_str).collect();
    handle(sqs(&bodies, 3)).await;
    assert_eq!(items().await.len(), 2);

    // The sweep takes out the hint whose leg is gone, and keeps the batch's: h3 still waits.
    let closed = close_intervals(&stack.store, &stack.sink, settings, at("2026-11-20T10:03:00Z"))
        .await
        .unwrap();
    assert_eq!(closed.hints_forgotten, 1);
    assert_eq!(items().await.len(), 1);
    let h3 = event("h3", "CONNECTED_TO_AGENT", "2026-11-20T10:01:40.000Z", agent.clone());
    handle(sqs(&[&h3], 5)).await;
    let closed = close_intervals(&stack.store, &stack.sink, settings, at("2026-11-20T10:04:00Z"))
        .await
        .unwrap();
    assert_eq!(closed.hints_forgotten, 1);
    assert!(items().await.is_empty(), "no hint is left once no leg waits");
}
