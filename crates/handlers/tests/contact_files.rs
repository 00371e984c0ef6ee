//! Contact-record files of Firehose (S3 notifications on SQS) through the contact-events
//! handler, with in-memory ports: the simulator's CTRs as files give the records they give on
//! the Kinesis stream; each object is read once; bad records are rejects named by object and
//! offset while the rest flows; an unreadable object fails its message, a transient failure
//! releases its claim.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use chrono::Utc;
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::{ContactStore as _, MemoryContactStore};
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource};
use connect_wfm_core::ports::{ObjectReader, ObjectSource, PortError};
use connect_wfm_handlers::contacts::{
    Clock, ContactBatch, CtrFiles, KinesisBatch, Settings, SqsBatch, close_intervals_since, handle_batch,
    handle_ctr_files, handle_kinesis, handle_sqs,
};
use connect_wfm_handlers::objects::ObjectOutcome;
use serde_json::{Value, json};

const BUCKET: &str = "connect-ctr";

fn notification(key: &str, etag: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "eTag": etag, "size": 1}}
    }]})
    .to_string()
}

fn sqs(bodies: &[String]) -> SqsBatch {
    SqsBatch::from_records(
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| json!({ "messageId": format!("m{i}"), "body": body, "attributes": {"SentTimestamp": "1763633700000"} })),
    )
}

fn kinesis(data: &[&str]) -> KinesisBatch {
    KinesisBatch::from_records(data.iter().enumerate().map(|(i, d)| {
        let seq = format!("{i:05}");
        json!({
            "eventID": format!("shardId-000000000000:{seq}"),
            "eventSource": "aws:kinesis",
            "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(d) }
        })
    }))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
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

fn ctr(id: &str, extra: Value) -> String {
    let mut record = json!({
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": id,
        "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/inst-1",
        "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-11-20T10:01:00Z",
        "DisconnectTimestamp": "2026-11-20T10:06:00Z",
        "LastUpdateTimestamp": "2026-11-20T10:07:00Z",
        "Queue": {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/inst-1/queue/q-1", "Name": "Sales",
                  "EnqueueTimestamp": "2026-11-20T10:01:05Z", "DequeueTimestamp": "2026-11-20T10:01:25Z"},
        "Agent": {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/inst-1/agent/a-1",
                  "ConnectedToAgentTimestamp": "2026-11-20T10:01:25Z", "AgentInteractionDuration": 200,
                  "CustomerHoldDuration": 10, "AfterContactWorkDuration": 30}
    });
    record
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    record.to_string()
}

struct Ports {
    store: MemoryContactStore,
    sink: MemoryFeedSink,
    claims: MemoryClaimStore,
    objects: MemoryObjectSource,
}

impl Ports {
    fn new() -> Self {
        Self {
            store: MemoryContactStore::default(),
            sink: MemoryFeedSink::default(),
            claims: MemoryClaimStore::default(),
            objects: MemoryObjectSource::default(),
        }
    }

    fn files(&self) -> CtrFiles<'_, MemoryClaimStore, MemoryObjectSource> {
        CtrFiles {
            claims: &self.claims,
            objects: &self.objects,
            prefix: Some("ctr/"),
        }
    }

    async fn files_batch(&self, bodies: &[String]) -> connect_wfm_handlers::contacts::FilesOutcome {
        handle_ctr_files(
            &sqs(bodies),
            &self.store,
            &self.sink,
            &self.files(),
            &Settings::default(),
            Clock::NewestInput,
            Utc::now(),
        )
        .await
    }
}

/// The slice's events on the queue, its CTRs as Firehose objects of every shape (back to back,
/// one per line, gzip) give the stream objects that the same CTRs on the Kinesis stream give.
#[tokio::test]
async fn the_slices_ctrs_as_firehose_files_give_the_records_of_the_stream() {
    let slice = simulate(&SliceSpec {
        seed: 11,
        intervals: 4,
        contacts: 60,
        ..SliceSpec::default()
    });
    let events: Vec<String> = slice.events.clone();
    let ctrs: Vec<&str> = slice.records.iter().map(String::as_str).collect();
    let settings = Settings::default();

    // The stream: events through SQS, CTRs through Kinesis.
    let by_stream = Ports::new();
    for batch in events.chunks(10) {
        handle_sqs(
            &sqs(batch),
            &by_stream.store,
            &by_stream.sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    for batch in ctrs.chunks(7) {
        let outcome = handle_kinesis(
            &kinesis(batch),
            &by_stream.store,
            &by_stream.sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
        assert_eq!(outcome.failed_from(), None);
    }

    // Firehose: the same events, the CTRs in objects of 9, each object another shape.
    let by_files = Ports::new();
    for batch in events.chunks(10) {
        handle_sqs(
            &sqs(batch),
            &by_files.store,
            &by_files.sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    let mut bodies = Vec::new();
    for (i, chunk) in ctrs.chunks(9).enumerate() {
        let key = format!("ctr/2026/11/20/10/connect-ctr-1-2026-11-20-10-{i:02}-00-abc");
        let bytes = match i % 3 {
            0 => chunk.concat().into_bytes(),
            1 => chunk.iter().map(|c| format!("{c}\n")).collect::<String>().into_bytes(),
            _ => gzip(chunk.concat().as_bytes()),
        };
        by_files.objects.insert(BUCKET, &key, bytes);
        bodies.push(notification(&key, &format!("etag{i}")));
    }
    for batch in bodies.chunks(3) {
        let outcome = by_files.files_batch(batch).await;
        assert!(
            outcome.response.batch_item_failures.is_empty(),
            "{:?}",
            outcome.messages
        );
        assert_eq!(outcome.stats.rejected, 0);
    }

    for ports in [&by_stream, &by_files] {
        let clock = ports.store.progress().await.unwrap().unwrap();
        close_intervals_since(&ports.store, &ports.sink, &settings, None, clock)
            .await
            .unwrap();
    }
    let expected = stream_objects(&by_stream.sink);
    assert!(expected.len() >= 10, "{}", expected.len());
    assert_eq!(stream_objects(&by_files.sink), expected);
}

#[tokio::test]
async fn an_object_is_read_once_and_outside_the_prefix_is_skipped() {
    let ports = Ports::new();
    let key = "ctr/2026/11/20/10/one";
    ports.objects.insert(BUCKET, key, ctr("c-1", json!({})));
    ports.objects.insert(BUCKET, "errors/x", ctr("c-2", json!({})));
    let body = notification(key, "e1");
    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}).to_string();
    let outcome = ports
        .files_batch(&[body.clone(), notification("errors/x", "e2"), test])
        .await;
    assert!(outcome.response.batch_item_failures.is_empty());
    assert_eq!(
        outcome.messages[0].objects[0].1,
        ObjectOutcome::Converted { records: 1 }
    );
    assert!(matches!(
        &outcome.messages[1].objects[0].1,
        ObjectOutcome::Skipped { reason } if reason.contains("`ctr/`")
    ));
    assert!(outcome.messages[2].test_event);
    assert_eq!(outcome.stats.ctr_files, 1);
    assert_eq!(outcome.stats.contact_records, 1);
    let puts = ports.sink.puts.load(Ordering::Relaxed);
    assert!(puts > 0);

    let again = ports.files_batch(&[body]).await;
    assert_eq!(again.messages[0].objects[0].1, ObjectOutcome::Duplicate);
    assert_eq!(ports.sink.puts.load(Ordering::Relaxed), puts);
    assert_eq!(ports.objects.opens.load(Ordering::Relaxed), 1);
    // A new version of the object (another ETag) is read.
    let newer = ports.files_batch(&[notification(key, "e3")]).await;
    assert_eq!(newer.messages[0].objects[0].1, ObjectOutcome::Converted { records: 1 });
}

#[tokio::test]
async fn bad_records_are_rejects_named_by_object_and_offset_and_the_rest_flows() {
    let ports = Ports::new();
    let key = "ctr/2026/11/20/10/bad";
    let good = ctr("c-1", json!({}));
    let not_a_ctr = json!({"AgentARN": "a", "EventType": "HEART_BEAT"}).to_string();
    let other = ctr("c-2", json!({}));
    let truncated = &ctr("c-3", json!({}))[..80];
    let body = format!("{good}{not_a_ctr}{other}{truncated}");
    ports.objects.insert(BUCKET, key, gzip(body.as_bytes()));
    let outcome = ports.files_batch(&[notification(key, "e1")]).await;
    assert!(
        outcome.response.batch_item_failures.is_empty(),
        "{:?}",
        outcome.messages
    );
    assert_eq!(
        outcome.messages[0].objects[0].1,
        ObjectOutcome::Converted { records: 2 }
    );
    assert_eq!(outcome.stats.rejected, 2);
    assert_eq!(outcome.stats.contact_records, 2);
    let rejects = ports.sink.lines("rejects/");
    assert_eq!(rejects.len(), 2);
    let file = format!("s3://{BUCKET}/{key}");
    assert_eq!(rejects[0]["input"], format!("{file} offset {}", good.len()));
    assert_eq!(rejects[0]["reason"], "not a contact record: missing field `ContactId`");
    assert_eq!(rejects[0]["raw"], not_a_ctr);
    let offset = good.len() + not_a_ctr.len() + other.len();
    assert_eq!(rejects[1]["input"], format!("{file} offset {offset}"));
    assert!(
        rejects[1]["reason"].as_str().unwrap().starts_with("truncated: "),
        "{}",
        rejects[1]
    );
    assert_eq!(rejects[1]["raw"], truncated);
    assert_eq!(rejects[1]["function"], "contact-events");
    // The two good CTRs made one record of their queue and interval.
    let records = stream_objects(&ports.sink);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].1["handled"], 2);
    assert_eq!(records[0].1["talk_time_s"], 400);
}

#[tokio::test]
async fn an_unreadable_object_fails_its_message_and_is_kept_under_rejects() {
    let ports = Ports::new();
    let key = "ctr/2026/11/20/10/broken.gz";
    let mut broken = gzip(ctr("c-1", json!({})).as_bytes());
    broken.truncate(20);
    ports.objects.insert(BUCKET, key, broken);
    let outcome = ports
        .files_batch(&[notification(key, "e1"), "not a notification".to_owned()])
        .await;
    let failed: Vec<&str> = outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m0", "m1"]);
    assert!(matches!(
        &outcome.messages[0].objects[0].1,
        ObjectOutcome::Failed { reason, permanent: true } if reason.contains("gzip") && reason.contains(key)
    ));
    let rejects = ports.sink.lines("rejects/");
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["input"], "sqs message m0");
    // The claim was released: the object, once fixed, is read.
    ports
        .objects
        .insert(BUCKET, key, gzip(ctr("c-1", json!({})).as_bytes()));
    let retry = ports.files_batch(&[notification(key, "e1")]).await;
    assert_eq!(retry.messages[0].objects[0].1, ObjectOutcome::Converted { records: 1 });
}

/// Fails the first `fail` reads with a retryable error.
struct Flaky {
    inner: MemoryObjectSource,
    fail: AtomicUsize,
}

impl ObjectSource for Flaky {
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, PortError> {
        if self
            .fail
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PortError::new(
                format!("read s3://{bucket}/{key}"),
                "503 Slow Down",
                true,
            ));
        }
        self.inner.open(bucket, key).await
    }
}

#[tokio::test]
async fn a_transient_failure_releases_the_claim_for_the_redelivery() {
    let ports = Ports::new();
    let flaky = Flaky {
        inner: MemoryObjectSource::default(),
        fail: AtomicUsize::new(1),
    };
    let key = "ctr/2026/11/20/10/flaky";
    flaky.inner.insert(BUCKET, key, ctr("c-1", json!({})));
    let files = CtrFiles {
        claims: &ports.claims,
        objects: &flaky,
        prefix: None,
    };
    let batch = sqs(&[notification(key, "e1")]);
    let settings = Settings::default();
    let run = || {
        handle_ctr_files(
            &batch,
            &ports.store,
            &ports.sink,
            &files,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
    };
    let first = run().await;
    assert_eq!(first.response.batch_item_failures.len(), 1);
    assert!(matches!(
        &first.messages[0].objects[0].1,
        ObjectOutcome::Failed { permanent: false, .. }
    ));
    assert!(ports.sink.lines("rejects/").is_empty());
    let second = run().await;
    assert!(second.response.batch_item_failures.is_empty());
    assert_eq!(second.messages[0].objects[0].1, ObjectOutcome::Converted { records: 1 });
}

#[tokio::test]
async fn the_functions_sqs_batch_routes_notifications_to_files_and_events_to_events() {
    let ports = Ports::new();
    let key = "ctr/2026/11/20/10/one";
    ports.objects.insert(BUCKET, key, ctr("c-1", json!({})));
    let event = json!({
        "id": "e-1", "time": "2026-11-20T10:01:05.000Z", "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "detail": {"eventType": "QUEUED", "contactId": "c-9", "channel": "VOICE", "initiationMethod": "INBOUND",
                   "initiationTimestamp": "2026-11-20T10:01:00.000Z",
                   "instanceArn": "arn:aws:connect:us-east-1:123456789012:instance/inst-1",
                   "queueInfo": {"queueArn": "arn:aws:connect:us-east-1:123456789012:instance/inst-1/queue/q-1",
                                 "enqueueTimestamp": "2026-11-20T10:01:05.000Z"}}
    })
    .to_string();
    let batch: ContactBatch = serde_json::from_value(json!({"Records": [
        {"messageId": "m0", "body": notification(key, "e1"), "eventSource": "aws:sqs"},
        {"messageId": "m1", "body": event, "eventSource": "aws:sqs"},
    ]}))
    .unwrap();
    let files = ports.files();
    let outcome = handle_batch(
        &batch,
        &ports.store,
        &ports.sink,
        Some(&files),
        &Settings::default(),
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    let response = serde_json::to_value(&outcome.response).unwrap();
    assert_eq!(response["batchItemFailures"], json!([]));
    assert_eq!(
        (
            outcome.stats.contact_records,
            outcome.stats.contact_events,
            outcome.stats.ctr_files
        ),
        (1, 1, 1)
    );
    assert_eq!(outcome.stats.rejected, 0);
}
