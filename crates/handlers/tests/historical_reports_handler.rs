//! Handler tests with in-memory ports over the events/ corpus: every report's records checked
//! against events/expected/reports, claims, duplicates, the test event, skips and failures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use connect_wfm_core::agent::{Activity, AgentState, Watermark};
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource, MemoryStateStore};
use connect_wfm_core::ports::{ClaimStore, FeedSink, PortError};
use connect_wfm_handlers::reports::{
    BatchOutcome, Notification, ObjectOutcome, Ports, Settings, SqsBatch, handle_messages, parse_notification,
};
use serde_json::{Value, json};

const BUCKET: &str = "amazon-connect-reports-123456789012";

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path))
        } else {
            out.push(path)
        }
    }
    out.sort();
    out
}

/// The report objects of events/reports/<bucket>/<key>.
fn objects() -> MemoryObjectSource {
    let root = events_dir().join("reports");
    let source = MemoryObjectSource::default();
    for path in files_under(&root) {
        let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let (bucket, key) = relative.split_once('/').unwrap();
        source.insert(bucket, key, std::fs::read(&path).unwrap());
    }
    source
}

fn sqs_file(name: &str) -> SqsBatch {
    serde_json::from_slice(&std::fs::read(events_dir().join(name)).unwrap()).unwrap()
}

fn settings() -> Settings {
    Settings {
        reports_prefix: Some("connect/acme-support/Reports/".into()),
        ..Settings::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-20T10:40:00Z".parse().unwrap()
}

/// A notification message for one object of the corpus.
fn message_for(id: &str, key: &str) -> Value {
    let body = json!({ "Records": [{ "eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": key, "eTag": format!("etag-{}", key.len()) } } }] });
    json!({ "messageId": id, "body": body.to_string(), "eventSource": "aws:sqs" })
}

struct World {
    claims: MemoryClaimStore,
    objects: MemoryObjectSource,
    states: MemoryStateStore,
    sink: MemoryFeedSink,
}

impl World {
    fn new() -> Self {
        Self {
            claims: MemoryClaimStore::default(),
            objects: objects(),
            states: MemoryStateStore::default(),
            sink: MemoryFeedSink::default(),
        }
    }

    async fn run(&self, batch: &SqsBatch) -> BatchOutcome {
        let ports = Ports {
            claims: &self.claims,
            objects: &self.objects,
            states: &self.states,
            sink: &self.sink,
        };
        handle_messages(batch, &ports, &settings(), now()).await
    }
}

fn failed_ids(outcome: &BatchOutcome) -> Vec<String> {
    outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn same_value(want: &Value, got: &Value) -> bool {
    match (want.as_f64(), got.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => want == got,
    }
}

#[tokio::test]
async fn every_report_gives_the_expected_records() {
    let expected_root = events_dir().join("expected/reports");
    let expectations = files_under(&expected_root);
    assert!(expectations.len() >= 6, "{expectations:?}");
    for path in expectations {
        let relative = path
            .strip_prefix(expected_root.join(BUCKET))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let key = relative.strip_suffix(".records.txt").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut count = None;
        let mut error_column = None;
        let mut want = Vec::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(n) = line.strip_prefix("records ") {
                count = Some(n.parse::<usize>().unwrap());
            } else if let Some(column) = line.strip_prefix("error ") {
                error_column = Some(column.to_owned());
            } else {
                want.push(serde_json::from_str::<Value>(line).unwrap());
            }
        }

        let world = World::new();
        let outcome = world
            .run(&SqsBatch::from_records(vec![message_for("m1", &key.replace(' ', "+"))]))
            .await;
        let got: Vec<Value> = world
            .sink
            .lines("")
            .into_iter()
            .filter(|l| l["kind"] != "reject")
            .collect();
        assert_eq!(got.len(), count.unwrap(), "{key}: record count");
        match error_column {
            Some(column) => {
                assert_eq!(failed_ids(&outcome), ["m1"], "{key}");
                let (_, failure) = &outcome.messages[0].objects[0];
                let ObjectOutcome::Failed {
                    reason,
                    permanent: true,
                } = failure
                else {
                    panic!("{key}: {failure:?}")
                };
                assert!(
                    reason.contains(key) && reason.contains(&column),
                    "{key}: reason `{reason}`"
                );
            }
            None => assert!(failed_ids(&outcome).is_empty(), "{key}: {:?}", outcome.messages),
        }
        assert!(
            want.is_empty() || want.len() == got.len(),
            "{key}: expectations for every record"
        );
        for (i, (want, got)) in want.iter().zip(&got).enumerate() {
            for (field, value) in want.as_object().unwrap() {
                assert!(
                    same_value(value, &got[field]),
                    "{key} record {i} field {field}: want {value}, got {}",
                    got[field]
                );
            }
            assert_eq!(got["source"]["bucket"], BUCKET);
            assert_eq!(got["source"]["key"], key, "source.key is the decoded key");
        }
    }
}

#[tokio::test]
async fn a_mixed_batch_fails_only_the_broken_report() {
    let world = World::new();
    let batch = sqs_file("sqs-mixed-batch.json");
    let outcome = world.run(&batch).await;
    let broken_id = batch.records[4].message_id.as_deref().unwrap();
    assert_eq!(failed_ids(&outcome), [broken_id]);
    assert!(outcome.messages[3].test_event);
    let kinds: Vec<String> = world
        .sink
        .lines("")
        .iter()
        .map(|l| l["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "queue_interval").count(), 5);
    assert_eq!(kinds.iter().filter(|k| *k == "agent_queue_interval").count(), 6);
    assert_eq!(kinds.iter().filter(|k| *k == "agent_interval").count(), 4);
    let broken_claim = format!("{BUCKET}/connect/acme-support/Reports/wfm/QR-broken-2026-11-20T10:15:00Z.csv#");
    let (object, _) = &outcome.messages[4].objects[0];
    let etag = object.as_ref().unwrap().etag.clone().unwrap();
    assert!(
        !world.claims.is_held(&format!("{broken_claim}{etag}")),
        "the broken file's claim is released"
    );
}

#[tokio::test]
async fn a_duplicate_delivery_writes_nothing_twice() {
    let world = World::new();
    let outcome = world.run(&sqs_file("sqs-duplicate-delivery.json")).await;
    assert!(failed_ids(&outcome).is_empty());
    assert_eq!(
        outcome.messages[0].objects[0].1,
        ObjectOutcome::Converted { records: 5 }
    );
    assert_eq!(outcome.messages[1].objects[0].1, ObjectOutcome::Duplicate);
    assert_eq!(world.sink.lines("").len(), 5);
    assert_eq!(world.sink.puts.load(Ordering::Relaxed), 1);
    assert_eq!(
        world.objects.opens.load(Ordering::Relaxed),
        1,
        "the duplicate is not read"
    );
}

#[tokio::test]
async fn the_test_event_and_foreign_objects_are_acknowledged_without_reading() {
    let world = World::new();
    let test = world.run(&sqs_file("sqs-s3-test-event.json")).await;
    assert!(failed_ids(&test).is_empty() && test.messages[0].test_event);
    let outside = world.run(&sqs_file("sqs-outside-prefix.json")).await;
    assert!(failed_ids(&outside).is_empty(), "{:?}", outside.messages);
    let skipped = outside
        .messages
        .iter()
        .flat_map(|m| &m.objects)
        .filter(|(_, o)| matches!(o, ObjectOutcome::Skipped { .. }));
    assert_eq!(skipped.count(), 3);
    assert!(world.sink.keys().is_empty());
    assert_eq!(world.objects.opens.load(Ordering::Relaxed), 0, "no object was read");
}

#[tokio::test]
async fn a_body_that_is_not_a_notification_fails_its_message_naming_it() {
    let world = World::new();
    let batch = SqsBatch::from_records(vec![
        json!({ "messageId": "bad", "body": "hello" }),
        message_for("good", "connect/acme-support/Reports/wfm/ASPR-2026-11-20T10:15:00Z.csv"),
    ]);
    let outcome = world.run(&batch).await;
    assert_eq!(failed_ids(&outcome), ["bad"]);
    let ObjectOutcome::Failed { reason, .. } = &outcome.messages[0].objects[0].1 else {
        panic!()
    };
    assert!(
        reason.starts_with("SQS message bad: message body is not JSON"),
        "{reason}"
    );
    let rejects = world.sink.lines("rejects/");
    assert_eq!(rejects.len(), 1, "kept with its reason and body: {rejects:?}");
    assert_eq!(
        (&rejects[0]["reason"], &rejects[0]["raw"]),
        (&json!(reason), &json!("hello"))
    );
    assert_eq!(world.sink.lines("agent_interval/").len(), 4);
}

#[tokio::test]
async fn agent_ids_come_from_the_agent_state_store() {
    let world = World::new();
    let at: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
    world.states.insert(AgentState {
        stream_newest: None,
        agent_arn: "arn:aws:connect:us-east-1:1:instance/i/agent/id-jdoe".into(),
        agent_id: "id-jdoe".into(),
        instance_id: "i".into(),
        agent_login: Some("jdoe".into()),
        state: "Available".into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: at,
        contact: None,
        watermark: Watermark::new(at, "e1"),
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
    world.run(&sqs_file("sqs-report-aspr.json")).await;
    let lines = world.sink.lines("agent_interval/");
    let id_of = |login: &str| lines.iter().find(|l| l["agent_login"] == login).unwrap()["agent_id"].clone();
    assert_eq!(id_of("jdoe"), json!("id-jdoe"));
    assert_eq!(id_of("pwhite"), Value::Null);
}

/// Two Connect instances share the login `jdoe`: the report's instance (alias `acme-support`,
/// mapped to an instance id by the mapping file's `instances`) decides; without that mapping
/// the id is null, never a guess.
#[tokio::test]
async fn agent_ids_are_looked_up_by_instance_and_login() {
    let world = World::new();
    let at: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
    for (instance, id, seen) in [
        ("i-east", "id-east", at),
        ("i-west", "id-west", at + chrono::Duration::hours(1)),
    ] {
        world.states.insert(AgentState {
            stream_newest: None,
            agent_arn: format!("arn:aws:connect:us-east-1:1:instance/{instance}/agent/{id}"),
            agent_id: id.into(),
            instance_id: instance.into(),
            agent_login: Some("jdoe".into()),
            state: "Available".into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: seen,
            contact: None,
            watermark: Watermark::new(seen, "e1"),
            last_seen: seen,
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
    let id_of_jdoe = |sink: &MemoryFeedSink| {
        sink.lines("agent_interval/")
            .into_iter()
            .find(|l| l["agent_login"] == "jdoe")
            .unwrap()["agent_id"]
            .clone()
    };
    let ports = Ports {
        claims: &world.claims,
        objects: &world.objects,
        states: &world.states,
        sink: &world.sink,
    };
    let batch = sqs_file("sqs-report-aspr.json");
    handle_messages(&batch, &ports, &settings(), now()).await;
    assert_eq!(
        id_of_jdoe(&world.sink),
        Value::Null,
        "instance unknown, login in two instances"
    );

    let mapping =
        connect_wfm_core::Mapping::from_json(br#"{"instances": {"acme-support": "i-east"}}"#, "m.json").unwrap();
    let mapped = Settings {
        instances: Arc::new(mapping.instances),
        ..settings()
    };
    let (claims, sink) = (MemoryClaimStore::default(), MemoryFeedSink::default());
    let ports = Ports {
        claims: &claims,
        sink: &sink,
        ..ports
    };
    handle_messages(&batch, &ports, &mapped, now()).await;
    assert_eq!(
        id_of_jdoe(&sink),
        json!("id-east"),
        "the report's instance, not the one seen last"
    );
}

/// Fails every put until `healthy` is set.
struct FlakySink {
    inner: MemoryFeedSink,
    healthy: std::sync::atomic::AtomicBool,
}

impl FeedSink for FlakySink {
    async fn put(&self, key: &str, body: connect_wfm_core::feed::FeedBody) -> Result<(), PortError> {
        if !self.healthy.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PortError::new(format!("put {key}"), "SlowDown", true));
        }
        self.inner.put(key, body).await
    }
}

#[tokio::test]
async fn a_transient_failure_releases_the_claim_and_the_redelivery_converts() {
    let world = World::new();
    let sink = FlakySink {
        inner: MemoryFeedSink::default(),
        healthy: false.into(),
    };
    let ports = Ports {
        claims: &world.claims,
        objects: &world.objects,
        states: &world.states,
        sink: &sink,
    };
    let batch = sqs_file("sqs-report-qr.json");
    let first = handle_messages(&batch, &ports, &settings(), now()).await;
    assert_eq!(failed_ids(&first).len(), 1);
    assert!(matches!(
        &first.messages[0].objects[0].1,
        ObjectOutcome::Failed { permanent: false, .. }
    ));
    sink.healthy.store(true, std::sync::atomic::Ordering::Relaxed);
    let second = handle_messages(&batch, &ports, &settings(), now()).await;
    assert!(failed_ids(&second).is_empty());
    assert_eq!(sink.inner.lines("").len(), 5);
}

#[tokio::test]
async fn a_report_held_by_another_run_is_retried_later_and_a_crashed_claim_expires() {
    let world = World::new();
    let batch = sqs_file("sqs-report-aspr.json");
    let object = &world.run(&SqsBatch::from_records([])).await; // nothing to do
    assert!(object.messages.is_empty());
    let Ok(Notification::Created(objects)) = parse_notification(batch.records[0].body().unwrap()) else {
        panic!("the sample is a created-object notification");
    };
    let claim_id = format!(
        "{}/{}#{}",
        objects[0].bucket,
        objects[0].key,
        objects[0].etag.as_deref().unwrap()
    );
    // Another run took the claim a minute ago and is still within its lease.
    world
        .claims
        .claim(&claim_id, "another-run", now() - chrono::Duration::minutes(1))
        .await
        .unwrap();
    let held = world.run(&batch).await;
    assert_eq!(failed_ids(&held).len(), 1);
    assert!(
        matches!(&held.messages[0].objects[0].1, ObjectOutcome::Failed { permanent: false, reason } if reason.contains("another run")),
        "{:?}",
        held.messages
    );
    assert!(world.sink.keys().is_empty(), "nothing written, not even a reject");
    assert_eq!(
        world.objects.opens.load(Ordering::Relaxed),
        0,
        "the held report is not read"
    );
    // Much later the lease has expired: the run that crashed no longer blocks the file.
    let ports = Ports {
        claims: &world.claims,
        objects: &world.objects,
        states: &world.states,
        sink: &world.sink,
    };
    let later = handle_messages(&batch, &ports, &settings(), now() + chrono::Duration::hours(1)).await;
    assert!(failed_ids(&later).is_empty());
    assert_eq!(world.sink.lines("").len(), 4);
}

#[tokio::test]
async fn large_reports_are_written_in_parts_with_stable_names() {
    let world = World::new();
    let mut csv = String::from("StartInterval,EndInterval,Agent,Online time,Non-Productive Time\n");
    for i in 0..25_000 {
        csv.push_str(&format!("2026-11-20T10:00:00Z,2026-11-20T10:15:00Z,agent{i},900,100\n"));
    }
    world
        .objects
        .insert(BUCKET, "connect/acme-support/Reports/wfm/ASPR-big.csv", csv);
    let settings = Settings {
        spool_records: 10_000,
        ..settings()
    };
    let ports = Ports {
        claims: &world.claims,
        objects: &world.objects,
        states: &world.states,
        sink: &world.sink,
    };
    let batch = SqsBatch::from_records(vec![message_for(
        "big",
        "connect/acme-support/Reports/wfm/ASPR-big.csv",
    )]);
    let outcome = handle_messages(&batch, &ports, &settings, now()).await;
    assert!(failed_ids(&outcome).is_empty());
    assert_eq!(world.sink.lines("").len(), 25_000);
    let keys = world.sink.keys();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys[0].starts_with("agent_interval/2026-11-20/amazon-connect-reports-123456789012_connect_acme-support"));
    assert!(
        keys[0].ends_with("-part0000.jsonl") && keys[2].ends_with("-part0002.jsonl"),
        "{keys:?}"
    );
    let _ = Arc::clone(&settings.mapping);
}
