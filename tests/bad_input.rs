//! The bad-input corpus (`tests/bad-input/`, made by its `make_cases.py`): every case runs
//! through the real handler of its entry point with in-memory ports, between good neighbours,
//! and must end exactly as its manifest entry says: rejected and kept with a reason naming the
//! input, failed for the DLQ with a reason naming the file and column, acknowledged, or
//! answered to CloudFormation — never a panic, never a neighbour held back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use connect_wfm_aws::memory::MemoryNotificationStore;
use connect_wfm_aws::notifications::NotificationConfiguration;
use connect_wfm_core::memory::MemoryResponseSender;
use connect_wfm_core::memory::{MemoryClaimStore, MemoryFeedSink, MemoryObjectSource, MemoryStateStore};
use connect_wfm_core::ports::{ClaimOutcome, ClaimStore};
use connect_wfm_core::report::{IntervalRecord, ReportError, ReportMapping, ReportReader, ReportSource};
use connect_wfm_handlers::agent_events::KinesisBatch;
use connect_wfm_handlers::reports::{ObjectOutcome, Ports, Settings, SqsBatch};
use serde::Deserialize;
use serde_json::{Value, json};

const BUCKET: &str = "amazon-connect-reports-123456789012";
const PREFIX: &str = "connect/acme/Reports/wfm/";
const SEQ: &str = "49590338271490256608559692538361571095921575989136588802";

#[derive(Debug, Clone, Deserialize)]
struct Case {
    case: String,
    entry: String,
    file: String,
    expect: String,
    #[serde(default)]
    reason: Vec<String>,
    key: Option<String>,
    records: Option<usize>,
    status: Option<String>,
    /// sqs-body: a good report stored under this (decoded) key, which the message must reach.
    object: Option<String>,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bad-input")
}

fn cases() -> Vec<Case> {
    serde_json::from_slice(&std::fs::read(corpus().join("cases.json")).unwrap()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-20T10:40:00Z".parse().unwrap()
}

/// Fails with the case name and what went wrong.
fn check(ok: bool, case: &Case, what: impl std::fmt::Display) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{} ({}): {what}", case.case, case.file))
    }
}

fn contains_all(case: &Case, text: &str) -> Result<(), String> {
    for part in &case.reason {
        check(
            text.contains(part.as_str()),
            case,
            format_args!("reason `{text}` lacks `{part}`"),
        )?;
    }
    check(!text.trim().is_empty(), case, "empty reason")
}

// ---- agent events -------------------------------------------------------------------------------

fn good_event(agent: &str, id: &str) -> Vec<u8> {
    json!({
        "AgentARN": format!("arn:aws:connect:us-east-1:123456789012:instance/bad-input/agent/{agent}"),
        "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/bad-input",
        "EventId": id, "EventTimestamp": "2026-11-20T08:00:05.000Z", "EventType": "LOGIN", "Version": "2019-05-25",
        "CurrentAgentSnapshot": { "Configuration": { "Username": agent }, "Contacts": [] }
    })
    .to_string()
    .into_bytes()
}

fn kinesis_record(seq: &str, data: &[u8]) -> Value {
    json!({
        "eventID": format!("shardId-000000000000:{seq}"),
        "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(data),
                     "approximateArrivalTimestamp": 1_795_161_600.0 }
    })
}

async fn run_kinesis(case: &Case, bad: Value) -> Result<(), String> {
    let before = format!("{}1", &SEQ[..SEQ.len() - 1]);
    let after = format!("{}3", &SEQ[..SEQ.len() - 1]);
    let batch = KinesisBatch::from_records([
        kinesis_record(&before, &good_event("before", "good-1")),
        bad,
        kinesis_record(&after, &good_event("after", "good-2")),
    ]);
    let (states, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
    let outcome =
        connect_wfm_handlers::agent_events::handle_batch(&batch, &states, &sink, &Default::default(), now()).await;
    check(
        outcome.failed_from().is_none(),
        case,
        "a rejected record must not be retried",
    )?;
    check(
        outcome.stats.rejected == 1,
        case,
        format_args!("{} rejected, expected 1", outcome.stats.rejected),
    )?;
    let logins: Vec<String> = sink
        .lines("agent_state/")
        .iter()
        .map(|r| r["agent_login"].as_str().unwrap_or_default().to_owned())
        .collect();
    check(
        logins == ["before", "after"],
        case,
        format_args!("neighbours emitted {logins:?}"),
    )?;
    let rejects = sink.lines("rejects/");
    check(rejects.len() == 1, case, format_args!("{} rejects kept", rejects.len()))?;
    let reject = &rejects[0];
    if std::env::var_os("BAD_INPUT_SHOW").is_some() {
        eprintln!("{}: {} / {}", case.case, reject["input"], reject["reason"]);
    }
    let input = reject["input"].as_str().unwrap_or_default();
    check(
        input.contains("shardId-000000000000"),
        case,
        format_args!("input `{input}` does not name the shard"),
    )?;
    let named = input.contains(SEQ) || input.contains("record #1");
    check(named, case, format_args!("input `{input}` does not name the record"))?;
    contains_all(case, reject["reason"].as_str().unwrap_or_default())?;
    check(!reject["raw"].is_null(), case, "the raw record is not kept")
}

// ---- reports ----------------------------------------------------------------------------------

fn encode_key(key: &str) -> String {
    key.replace(':', "%3A").replace(' ', "+")
}

fn sqs_message(id: &str, body: &str) -> Value {
    json!({ "messageId": id, "body": body, "eventSource": "aws:sqs" })
}

fn notification_body(key: &str) -> String {
    json!({ "Records": [{ "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": encode_key(key), "eTag": "etag-1", "size": 100 } } }] })
    .to_string()
}

const GOOD_QR: &str = "StartInterval,EndInterval,Queue,Contacts handled\n\
2026-11-20T10:00:00Z,2026-11-20T10:15:00Z,Support,6\n";

async fn run_reports(case: &Case, bad_body: String, object: Option<(&str, Vec<u8>)>) -> Result<(), String> {
    let objects = MemoryObjectSource::default();
    let good_before = format!("{PREFIX}QR-good-before-2026-11-20T10:15:00Z.csv");
    let good_after = format!("{PREFIX}QR-good-after-2026-11-20T10:15:00Z.csv");
    objects.insert(BUCKET, &good_before, GOOD_QR);
    objects.insert(BUCKET, &good_after, GOOD_QR);
    if let Some((key, body)) = &object {
        objects.insert(BUCKET, key, body.clone());
    }
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
        mapping: Arc::default(),
        reports_prefix: Some(PREFIX.into()),
        ..Settings::default()
    };
    let batch = SqsBatch::from_records(vec![
        sqs_message("m-before", &notification_body(&good_before)),
        sqs_message("m-bad", &bad_body),
        sqs_message("m-after", &notification_body(&good_after)),
    ]);
    let outcome = connect_wfm_handlers::reports::handle_messages(&batch, &ports, &settings, now()).await;
    let failed: Vec<&str> = outcome
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let records = sink.lines("queue_interval/");
    let from = |key: &str| records.iter().filter(|r| r["source"]["key"] == key).count();
    check(
        from(&good_before) == 1 && from(&good_after) == 1,
        case,
        "a neighbour was not converted",
    )?;
    let bad = &outcome.messages[1];
    if std::env::var_os("BAD_INPUT_SHOW").is_some() {
        eprintln!("{}: {:?}", case.case, bad.objects);
    }
    let reasons: Vec<&str> = bad
        .objects
        .iter()
        .filter_map(|(_, o)| match o {
            ObjectOutcome::Failed { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    match case.expect.as_str() {
        "failed" => {
            check(
                failed == ["m-bad"],
                case,
                format_args!("batch item failures {failed:?}, expected [m-bad]"),
            )?;
            check(
                reasons.len() == 1,
                case,
                format_args!("failed objects {:?}", bad.objects),
            )?;
            contains_all(case, reasons[0])?;
            // Nothing of a file that failed reaches the feed but its reject (kept with the
            // reason, architecture.md), and its claim is not left locked.
            if let Some((key, _)) = &object {
                let rejected = sink.lines("rejects/");
                check(
                    rejected.len() == 1 && rejected[0]["reason"] == reasons[0],
                    case,
                    format_args!("rejects {rejected:?}, expected one with the reason"),
                )?;
                let written = sink
                    .keys()
                    .iter()
                    .filter(|k| !k.contains("good-") && !k.starts_with("rejects/"))
                    .count();
                check(
                    written == 0,
                    case,
                    format_args!("{written} feed objects written for a failed file"),
                )?;
                let claim = format!("{BUCKET}/{key}#etag-1");
                let again = claims
                    .claim(&claim, "another-message", now())
                    .await
                    .map_err(|e| e.to_string())?;
                check(
                    again == ClaimOutcome::Claimed,
                    case,
                    format_args!("claim after failure: {again:?}"),
                )?;
            }
            Ok(())
        }
        "acknowledged" => {
            check(
                failed.is_empty(),
                case,
                format_args!("batch item failures {failed:?}, expected none"),
            )?;
            let want = case.records.unwrap_or(0);
            let got = records.len() - 2;
            check(got == want, case, format_args!("{got} records, expected {want}"))?;
            if let Some(key) = &case.object {
                check(from(key) == 1, case, format_args!("no record from the object `{key}`"))?;
            }
            // What the handler says when it acknowledges: the test event, or why it skipped.
            let mut said: Vec<&str> = bad
                .objects
                .iter()
                .filter_map(|(_, o)| match o {
                    ObjectOutcome::Skipped { reason } => Some(reason.as_str()),
                    _ => None,
                })
                .collect();
            if bad.test_event {
                said.push("s3:TestEvent");
            }
            if case.reason.is_empty() {
                Ok(())
            } else {
                contains_all(case, &said.join("; "))
            }
        }
        other => Err(format!("{}: unknown expectation {other}", case.case)),
    }
}

/// The core CSV reader on its own (the parser the fuzzer drives): the same verdict and reason as
/// through the handler, and a permanent error for a file that can never parse.
fn run_reader(case: &Case, key: &str, bytes: &[u8]) -> Result<(), String> {
    let result = ReportReader::new(
        bytes,
        ReportSource::new(BUCKET, key),
        None,
        None,
        &ReportMapping::default(),
    )
    .and_then(|reader| reader.collect::<Result<Vec<IntervalRecord>, ReportError>>());
    match (case.expect.as_str(), result) {
        ("failed", Err(e)) => {
            check(
                e.is_permanent(),
                case,
                format_args!("reader error `{e}` is not permanent"),
            )?;
            contains_all(case, &e.to_string())
        }
        ("acknowledged", Ok(records)) => {
            let want = case.records.unwrap_or(0);
            check(
                records.len() == want,
                case,
                format_args!("reader gave {} records, expected {want}", records.len()),
            )
        }
        (expect, result) => Err(format!(
            "{} ({}): expected {expect}, the reader gave {:?}",
            case.case,
            case.file,
            result.map(|r| r.len())
        )),
    }
}

// ---- CloudFormation ----------------------------------------------------------------------------

async fn run_cfn(case: &Case, request: Value) -> Result<(), String> {
    let store = MemoryNotificationStore::default();
    let foreign: NotificationConfiguration = serde_json::from_value(json!({ "TopicConfigurations": [{
        "Id": "theirs", "TopicArn": "arn:aws:sns:us-east-1:123456789012:theirs", "Events": ["s3:ObjectCreated:*"] }] }))
    .unwrap();
    store.insert(BUCKET, foreign.clone());
    let sender = MemoryResponseSender::default();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let result = connect_wfm_handlers::custom_resource::handle_request(&request, &store, &sender, deadline).await;
    let answers = sender.responses();
    if std::env::var_os("BAD_INPUT_SHOW").is_some() {
        let reasons: Vec<&str> = answers.iter().map(|a| a.reason.as_str()).collect();
        eprintln!(
            "{}: {reasons:?} / {:?}",
            case.case,
            result.as_ref().err().map(|e| e.to_string())
        );
    }
    check(
        store.configuration(BUCKET) == Some(foreign),
        case,
        "the foreign configuration changed",
    )?;
    match case.expect.as_str() {
        "unanswerable" => {
            check(answers.is_empty(), case, "an answer was sent without a ResponseURL")?;
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            contains_all(case, &error)
        }
        "answered" => {
            check(
                answers.len() == 1,
                case,
                format_args!("{} answers, expected exactly 1", answers.len()),
            )?;
            let answer = &answers[0];
            let status = answer.status.as_str();
            let want = case.status.as_deref().unwrap_or("FAILED");
            check(
                status == want,
                case,
                format_args!("answered {status} ({}), expected {want}", answer.reason),
            )?;
            check(answer.to_body().len() <= 4096, case, "the answer is over 4 KB")?;
            contains_all(case, &answer.reason)
        }
        other => Err(format!("{}: unknown expectation {other}", case.case)),
    }
}

async fn run(case: Case) -> Result<(), String> {
    let case = &case;
    let bytes = std::fs::read(corpus().join(&case.file)).map_err(|e| format!("{}: {e}", case.file))?;
    match case.entry.as_str() {
        "kinesis-data" => run_kinesis(case, kinesis_record(SEQ, &bytes)).await,
        "kinesis-record" => {
            let record: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", case.file))?;
            run_kinesis(case, record).await
        }
        "sqs-body" => {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            let object = case.object.as_deref().map(|key| (key, GOOD_QR.as_bytes().to_vec()));
            run_reports(case, body, object).await
        }
        "report" => {
            let key = case.key.as_deref().ok_or_else(|| format!("{}: no key", case.case))?;
            run_reader(case, key, &bytes)?;
            run_reports(case, notification_body(key), Some((key, bytes))).await
        }
        "cfn" => {
            let request: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", case.file))?;
            run_cfn(case, request).await
        }
        other => Err(format!("{}: unknown entry point {other}", case.case)),
    }
}

#[test]
fn every_bad_input_ends_as_its_case_says_and_spares_its_neighbours() {
    let cases = cases();
    let mut failures = Vec::new();
    let mut by_entry = std::collections::BTreeMap::<&str, usize>::new();
    for case in &cases {
        *by_entry.entry(case.entry.as_str()).or_default() += 1;
        // Each case on its own runtime, so a panic is reported with the case's name.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(case.clone())))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push(format!("{} ({}): panicked", case.case, case.file)),
        }
    }
    eprintln!("bad-input corpus: {} cases {by_entry:?}", cases.len());
    assert!(cases.len() >= 50, "the corpus has {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
