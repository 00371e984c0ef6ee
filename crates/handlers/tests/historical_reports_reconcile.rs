//! Reconciliation with in-memory ports: the simulator's contact events and CTRs fill a contact
//! store, then its queue report (QR) goes through the historical-reports handler, which
//! compares every queue interval with the stream basis after writing the records. The same
//! contacts agree; a report that says otherwise is drift, counted per field; a failing contact
//! store never fails the report.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_core::contact::sim::{Slice, SliceSpec, simulate};
use connect_wfm_core::contact::store::{ContactStore, MemoryContactStore};
use connect_wfm_core::contact::{Reconciliation, StreamSettings};
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource, MemoryStateStore};
use connect_wfm_core::ports::PortError;
use connect_wfm_core::report::QueueInterval;
use connect_wfm_handlers::contacts::SqsBatch as ContactEvents;
use connect_wfm_handlers::contacts::{Clock, KinesisBatch, handle_kinesis, handle_sqs};
use connect_wfm_handlers::reports::{
    BatchOutcome, ObjectOutcome, Ports, Reconciler, Settings, SqsBatch, StreamReconciler, handle_messages,
};
use serde_json::json;

const BUCKET: &str = "amazon-connect-reports";

fn spec() -> SliceSpec {
    SliceSpec {
        seed: 2,
        intervals: 4,
        contacts: 80,
        ..SliceSpec::default()
    }
}

/// The slice's contact events and CTRs in a contact store; returns the store and the newest
/// input time (the clock the stream basis is computed at).
async fn stream_basis(
    slice: &Slice,
    settings: &connect_wfm_handlers::contacts::Settings,
) -> (MemoryContactStore, DateTime<Utc>) {
    let store = MemoryContactStore::default();
    let sink = MemoryFeedSink::default();
    for (i, batch) in slice.events.chunks(10).enumerate() {
        let records = batch
            .iter()
            .enumerate()
            .map(|(j, body)| json!({ "messageId": format!("m{i}-{j}"), "body": body }))
            .collect::<Vec<_>>();
        handle_sqs(
            &ContactEvents::from_records(records),
            &store,
            &sink,
            settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    for (i, batch) in slice.records.chunks(10).enumerate() {
        let records = batch
            .iter()
            .enumerate()
            .map(|(j, data)| {
                let seq = format!("{:05}", i * 10 + j);
                json!({
                    "eventID": format!("shardId-000000000000:{seq}"),
                    "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(data) }
                })
            })
            .collect::<Vec<_>>();
        handle_kinesis(
            &KinesisBatch::from_records(records),
            &store,
            &sink,
            settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    let clock = store.progress().await.unwrap().unwrap();
    (store, clock)
}

fn contact_settings(spec: &SliceSpec) -> connect_wfm_handlers::contacts::Settings {
    connect_wfm_handlers::contacts::Settings {
        stream: StreamSettings {
            service_level_thresholds: spec.thresholds.clone(),
            instances: [(spec.instance_alias.clone(), spec.instance_id.clone())].into(),
            ..Default::default()
        },
    }
}

/// Runs the report `csv` under the slice's key through the handler with `reconciler`.
async fn run_report(
    slice: &Slice,
    csv: &str,
    reconciler: Arc<dyn Reconciler>,
    now: DateTime<Utc>,
) -> (BatchOutcome, MemoryFeedSink) {
    let objects = MemoryObjectSource::default();
    objects.insert(BUCKET, &slice.report_key, csv.as_bytes().to_vec());
    let (claims, states, sink) = (
        MemoryClaimStore::default(),
        MemoryStateStore::default(),
        MemoryFeedSink::default(),
    );
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let settings = Settings {
        reconciler: Some(reconciler),
        ..Settings::default()
    };
    let body = json!({ "Records": [{ "eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": slice.report_key, "eTag": "etag-1" } } }] });
    let batch = SqsBatch::from_records(vec![
        json!({ "messageId": "m1", "body": body.to_string(), "eventSource": "aws:sqs" }),
    ]);
    let outcome = handle_messages(&batch, &ports, &settings, now).await;
    (outcome, sink)
}

fn converted(outcome: &BatchOutcome) -> usize {
    assert!(outcome.response.batch_item_failures.is_empty(), "{outcome:?}");
    match &outcome.messages[0].objects[..] {
        [(_, ObjectOutcome::Converted { records })] => *records,
        other => panic!("not converted: {other:?}"),
    }
}

#[tokio::test]
async fn a_report_equal_to_the_stream_basis_is_reconciled_without_drift() {
    let spec = spec();
    let slice = simulate(&spec);
    let settings = contact_settings(&spec);
    let (store, clock) = stream_basis(&slice, &settings).await;
    let reconciler = Arc::new(StreamReconciler { store, settings });
    let (outcome, sink) = run_report(&slice, &slice.report_csv, reconciler, clock).await;
    let records = converted(&outcome);
    assert!(records >= 5, "{records}");
    assert!(!sink.keys().is_empty());
    let stats = &outcome.reconciliation;
    assert!(stats.reconciled >= 5, "{stats:?}");
    assert_eq!((stats.drifting, stats.failures), (0, 0), "{stats:?}");
    assert!(stats.field_drift.is_empty(), "{stats:?}");
}

/// The slice's QR with `Contacts handled` one higher in the first row that handled any.
fn one_more_handled(csv: &str) -> String {
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let column = header.iter().position(|h| *h == "Contacts handled").unwrap();
    let width = header.len();
    let row = lines
        .iter()
        .position(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            cells.len() == width && cells[column].parse::<i64>().is_ok_and(|n| n > 0)
        })
        .expect("a row that handled contacts");
    let mut cells: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
    cells[column] = (cells[column].parse::<i64>().unwrap() + 1).to_string();
    lines[row] = cells.join(",");
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn a_report_that_differs_from_the_stream_basis_is_drift_per_field() {
    let spec = spec();
    let slice = simulate(&spec);
    let settings = contact_settings(&spec);
    let (store, clock) = stream_basis(&slice, &settings).await;
    let reconciler = Arc::new(StreamReconciler { store, settings });
    let csv = one_more_handled(&slice.report_csv);
    let (outcome, _) = run_report(&slice, &csv, reconciler, clock).await;
    converted(&outcome);
    let stats = &outcome.reconciliation;
    assert!(stats.reconciled >= 5, "{stats:?}");
    assert_eq!((stats.drifting, stats.failures), (1, 0), "{stats:?}");
    assert!(stats.field_drift.contains(&("handled".to_owned(), 1.0)), "{stats:?}");
}

/// A contact store that cannot be read.
struct Unreachable;

impl Reconciler for Unreachable {
    fn reconcile<'a>(
        &'a self,
        _reports: &'a [QueueInterval],
        _now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Reconciliation>, PortError>> + Send + 'a>> {
        Box::pin(async { Err(PortError::new("query contact table", "throttled", true)) })
    }
}

#[tokio::test]
async fn a_failing_reconciliation_never_fails_the_report() {
    let spec = spec();
    let slice = simulate(&spec);
    let (outcome, sink) = run_report(&slice, &slice.report_csv, Arc::new(Unreachable), Utc::now()).await;
    assert!(converted(&outcome) >= 5);
    assert!(!sink.keys().is_empty());
    assert_eq!(
        (outcome.reconciliation.failures, outcome.reconciliation.reconciled),
        (1, 0)
    );
}
