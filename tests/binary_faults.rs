//! The agent-events binary run as Lambda runs it, every AWS call it makes going through a proxy
//! that injects faults by seeded schedules (503s, connections closed before the request is
//! forwarded, requests forwarded and their answers dropped), with Lambda's redelivery: a batch
//! whose response names a failed record is delivered again from that record, one whose
//! invocation failed is delivered again whole. Each schedule must end with exactly the feed
//! records and stored states of a fault-free run: nothing lost, nothing altered, nothing that
//! depends on how the faults cut the batches (repeats of a record, same id, are allowed: at
//! least once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
use connect_wfm_e2e as support;
use connect_wfm_e2e::proxy::{FaultProxy, ProxyFault, Schedule};
use serde_json::{Value, json};

/// What one run left, and what it took.
struct Run {
    /// Each distinct feed record (JSON text), rejects aside.
    records: BTreeSet<String>,
    /// Each agent's stored state, watermark and last-seen.
    states: BTreeMap<String, String>,
    invocations: usize,
    faults: BTreeMap<ProxyFault, usize>,
    requests: usize,
}

fn stream(seed: u64) -> Vec<Vec<Value>> {
    let data = agent_event_stream(&StreamSpec {
        seed,
        agents: 12,
        records: 240,
        ..StreamSpec::default()
    });
    kinesis_records(&data, "shardId-000000000000", 1)
        .chunks(40)
        .map(<[Value]>::to_vec)
        .collect()
}

async fn run(batches: &[Vec<Value>], schedule: Option<Schedule>) -> Run {
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let table = support::create_state_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let proxy = match schedule {
        Some(schedule) => Some(FaultProxy::start(&support::endpoint(), schedule).await),
        None => None,
    };
    let endpoint = proxy.as_ref().map_or_else(support::endpoint, |p| p.url.clone());
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("agent-events", &runtime)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("STATE_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .spawn()
        .expect("spawn agent-events");
    let mut invocations = 0;
    for batch in batches {
        let mut pending = batch.clone();
        loop {
            invocations += 1;
            assert!(invocations < 500, "the batches never go through");
            let (outcome, response) = runtime
                .invoke(json!({ "Records": pending }), Duration::from_secs(60))
                .await;
            if outcome != "response" {
                continue; // the invocation failed: Lambda delivers the whole batch again
            }
            let Some(failed) = response["batchItemFailures"][0]["itemIdentifier"].as_str() else {
                break;
            };
            let from = pending
                .iter()
                .position(|r| r["kinesis"]["sequenceNumber"] == failed)
                .expect("the failed record is in the batch");
            pending.drain(..from);
        }
    }
    function.kill().await.expect("stop agent-events");
    let records = support::read_json_lines(&s3, &bucket, "wfm/")
        .await
        .into_iter()
        .filter(|r| r["kind"] != "reject")
        .map(|r| r.to_string())
        .collect();
    let mut states = BTreeMap::new();
    let items = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    for item in items {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.clone(),
            Some(AttributeValue::N(n)) => n.clone(),
            _ => String::new(),
        };
        states.insert(
            text("agent_arn"),
            format!(
                "{} {} {} {}",
                text("state"),
                text("wm_ms"),
                text("wm_n"),
                text("last_seen")
            ),
        );
    }
    Run {
        records,
        states,
        invocations,
        faults: proxy.as_ref().map(FaultProxy::injected).unwrap_or_default(),
        requests: proxy.as_ref().map_or(0, FaultProxy::requests),
    }
}

#[tokio::test]
async fn the_binary_under_seeded_faults_ends_with_the_feed_and_states_of_a_fault_free_run() {
    let schedules: u64 = std::env::var("CONNECT_WFM_FAULT_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let mut totals: BTreeMap<ProxyFault, usize> = BTreeMap::new();
    let (mut lost, mut extra, mut state_diffs, mut requests) = (0, 0, 0, 0);
    for seed in 1..=schedules {
        let batches = stream(seed);
        let clean = run(&batches, None).await;
        assert!(!clean.records.is_empty());
        let faulted = run(
            &batches,
            Some(Schedule {
                seed,
                per_mille: 150,
                until: 400,
            }),
        )
        .await;
        lost += clean.records.difference(&faulted.records).count();
        extra += faulted.records.difference(&clean.records).count();
        state_diffs += clean
            .states
            .iter()
            .filter(|(k, v)| faulted.states.get(*k) != Some(v))
            .count();
        requests += faulted.requests;
        for (kind, n) in &faulted.faults {
            *totals.entry(*kind).or_default() += n;
        }
        println!(
            "fault schedule {seed}: {} requests, faults {:?}, {} invocations (fault-free: {})",
            faulted.requests, faulted.faults, faulted.invocations, clean.invocations
        );
    }
    println!(
        "fault run: {schedules} schedules, {requests} requests, faults injected {totals:?}, records lost {lost}, \
         records not in the fault-free feed {extra}, stored states differing {state_diffs}"
    );
    assert!(totals.values().sum::<usize>() > 0, "faults were injected");
    assert_eq!((lost, extra, state_diffs), (0, 0, 0));
}

/// The historical-reports binary under the same faults, with SQS's redelivery: a message the
/// response names comes again (up to 5 receives, then the DLQ), all of them when the
/// invocation failed. Every report ends converted exactly as in a fault-free run, none in the DLQ.
async fn run_reports(schedule: Option<Schedule>) -> (BTreeSet<String>, usize, BTreeMap<ProxyFault, usize>) {
    const PREFIX: &str = "connect/acme-support/Reports/";
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let (feed_bucket, reports_bucket) = (
        support::create_bucket(&s3, "feed").await,
        support::create_bucket(&s3, "reports").await,
    );
    let mut queue: Vec<(String, String, usize)> = Vec::new();
    for (n, name) in ["wfm/QR-2026-11-20T10:15:00Z.csv", "wfm/ASPR-2026-11-20T10:15:00Z.csv"]
        .into_iter()
        .enumerate()
    {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/reports/amazon-connect-reports-123456789012")
            .join(PREFIX)
            .join(name);
        let body = std::fs::read(&path).unwrap();
        let (key, size) = (format!("{PREFIX}{name}"), body.len() as i64);
        support::put_object(&s3, &reports_bucket, &key, body).await;
        let head = s3.head_object().bucket(&reports_bucket).key(&key).send().await.unwrap();
        let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
        let body = connect_wfm_handlers::reports::created_notification(&reports_bucket, &key, &etag, size, None);
        queue.push((format!("m{n}"), body, 0));
    }
    let proxy = match schedule {
        Some(schedule) => Some(FaultProxy::start(&support::endpoint(), schedule).await),
        None => None,
    };
    let endpoint = proxy.as_ref().map_or_else(support::endpoint, |p| p.url.clone());
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("historical-reports", &runtime)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("CLAIM_TABLE", &claim_table)
        .env("STATE_TABLE", &state_table)
        .env("FEED_BUCKET", &feed_bucket)
        .env("FEED_PREFIX", "wfm")
        .env("REPORTS_PREFIX", PREFIX)
        .spawn()
        .expect("spawn historical-reports");
    let mut dlq = 0;
    let mut invocations = 0;
    while !queue.is_empty() {
        invocations += 1;
        assert!(invocations < 200, "the queue never drains");
        for message in &mut queue {
            message.2 += 1;
        }
        let records: Vec<Value> = queue
            .iter()
            .map(|(id, body, receives)| {
                json!({ "messageId": id, "receiptHandle": id, "eventSource": "aws:sqs", "body": body,
                    "attributes": { "ApproximateReceiveCount": receives.to_string() } })
            })
            .collect();
        let (outcome, response) = runtime
            .invoke(json!({ "Records": records }), Duration::from_secs(60))
            .await;
        let failed: BTreeSet<String> = if outcome == "response" {
            response["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        } else {
            queue.iter().map(|(id, _, _)| id.clone()).collect()
        };
        queue.retain(|(id, _, _)| failed.contains(id));
        let before = queue.len();
        queue.retain(|(_, _, receives)| *receives < 5);
        dlq += before - queue.len();
    }
    function.kill().await.expect("stop historical-reports");
    let records = support::read_json_lines(&s3, &feed_bucket, "wfm/")
        .await
        .into_iter()
        .filter(|r| r["kind"] != "reject")
        .map(|mut r| {
            // Each run has its own bucket: the records are compared without its name.
            r["source"]["bucket"] = json!("reports");
            r.to_string()
        })
        .collect();
    let faults = proxy.as_ref().map(FaultProxy::injected).unwrap_or_default();
    (records, dlq, faults)
}

#[tokio::test]
async fn the_reports_binary_under_seeded_faults_converts_every_report_as_a_fault_free_run() {
    let (clean, clean_dlq, _) = run_reports(None).await;
    assert!(!clean.is_empty());
    assert_eq!(clean_dlq, 0);
    let mut totals: BTreeMap<ProxyFault, usize> = BTreeMap::new();
    for seed in 1..=6u64 {
        let (faulted, dlq, faults) = run_reports(Some(Schedule {
            seed,
            per_mille: 350,
            until: 60,
        }))
        .await;
        for (kind, n) in &faults {
            *totals.entry(*kind).or_default() += n;
        }
        println!("reports fault schedule {seed}: faults {faults:?}, DLQ {dlq}");
        assert_eq!(dlq, 0, "a good report went to the DLQ");
        assert_eq!(
            faulted, clean,
            "schedule {seed}: the feed differs from the fault-free run"
        );
    }
    println!("reports fault run: 6 schedules, faults injected {totals:?}, reports lost 0");
    assert!(totals.values().sum::<usize>() > 0, "faults were injected");
}

/// What one run of the contact-events binary left.
struct ContactRun {
    /// The stream-basis feed objects by key, a retraction (`active: false`) left out: it says
    /// "no record" as a missing object does (which intervals end with one depends on the order
    /// the inputs came in; `crates/handlers/tests/contact_events_faults.rs`).
    objects: BTreeMap<String, Value>,
    /// Records that reached the event bus (JSON text).
    bus: BTreeSet<String>,
    /// Inputs that ended in the DLQ (SQS, after 5 receives) or the stream's failure
    /// destination (Kinesis, after 10 retries).
    dead: usize,
    invocations: usize,
    faults: BTreeMap<ProxyFault, usize>,
    requests: usize,
}

/// A slice of simulated contacts that ended at least 15 minutes ago (the binary's clock is the
/// wall clock, so every interval it writes has ended for both runs), only contacts whose CTR
/// arrived (none left waiting for ever): its contact events in time order, its CTRs in time
/// order.
fn contact_slice(seed: u64) -> (Vec<String>, Vec<String>) {
    use connect_wfm_core::contact::sim::{SliceSpec, simulate};
    use connect_wfm_core::contact::{decode_contact_input, interval_start};
    let intervals = 2;
    let start = interval_start(chrono::Utc::now()) - chrono::TimeDelta::minutes(15 * (i64::from(intervals) + 1));
    let slice = simulate(&SliceSpec {
        seed,
        start,
        intervals,
        contacts: 16,
        ..SliceSpec::default()
    });
    let contact = |body: &str| {
        let value: Value = serde_json::from_str(body).unwrap();
        value["detail"]["contactId"]
            .as_str()
            .or(value["ContactId"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let completed: BTreeSet<String> = slice.records.iter().map(|r| contact(r)).collect();
    let by_time = |inputs: Vec<String>| {
        let mut timed: Vec<(chrono::DateTime<chrono::Utc>, String)> = inputs
            .into_iter()
            .map(|b| (decode_contact_input(b.as_bytes()).unwrap().time(), b))
            .collect();
        timed.sort_by_key(|(t, _)| *t);
        timed.into_iter().map(|(_, b)| b).collect::<Vec<String>>()
    };
    let events = slice
        .events
        .iter()
        .filter(|e| completed.contains(&contact(e)))
        .cloned()
        .collect();
    (by_time(events), by_time(slice.records.clone()))
}

/// Runs the contact-events binary as Lambda runs it on `events` (SQS batches of 10: a failed
/// message comes again after the others, up to 5 receives, then the DLQ; all of them when the
/// invocation failed) and `ctrs` (Kinesis batches of 25, replayed from the earliest failed
/// record, the whole batch when the invocation failed, up to 10 retries), the two sources
/// taking turns; every AWS call (DynamoDB, S3, EventBridge) through the fault proxy when a
/// schedule is given.
async fn run_contacts(events: &[String], ctrs: &[String], schedule: Option<Schedule>) -> ContactRun {
    use base64::Engine as _;
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let (eventbridge, sqs) = (support::eventbridge(&config), support::sqs(&config));
    let table = support::create_contact_table(&dynamodb).await;
    let bucket = support::create_bucket(&s3, "feed").await;
    let (bus, bus_queue) = support::bus_to_queue(&eventbridge, &sqs, "contacts").await;
    let proxy = match schedule {
        Some(schedule) => Some(FaultProxy::start(&support::endpoint(), schedule).await),
        None => None,
    };
    let endpoint = proxy.as_ref().map_or_else(support::endpoint, |p| p.url.clone());
    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("contact-events", &runtime)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("CONTACT_TABLE", &table)
        .env("FEED_BUCKET", &bucket)
        .env("FEED_PREFIX", "wfm")
        .env("EVENT_BUS_NAME", &bus)
        // One SDK retry instead of two: more of the faults reach the handler and Lambda's
        // redelivery (what this test is about), and fewer backoff pauses keep it short.
        .env("AWS_MAX_ATTEMPTS", "2")
        .spawn()
        .expect("spawn contact-events");
    let mut queue: Vec<(String, String, usize)> = events
        .iter()
        .enumerate()
        .map(|(n, body)| (format!("m{n}"), body.clone(), 0))
        .collect();
    let mut stream: Vec<(String, String)> = ctrs
        .iter()
        .enumerate()
        .map(|(n, body)| (format!("{n:08}"), body.clone()))
        .collect();
    let (mut dead, mut invocations, mut stream_retries) = (0, 0, 0);
    while !queue.is_empty() || !stream.is_empty() {
        if !queue.is_empty() {
            invocations += 1;
            let take: Vec<(String, String, usize)> = queue
                .drain(..queue.len().min(10))
                .map(|(id, body, receives)| (id, body, receives + 1))
                .collect();
            let records: Vec<Value> = take
                .iter()
                .map(|(id, body, receives)| {
                    json!({ "messageId": id, "receiptHandle": id, "eventSource": "aws:sqs", "body": body,
                        "attributes": { "ApproximateReceiveCount": receives.to_string() } })
                })
                .collect();
            let (outcome, response) = runtime
                .invoke(json!({ "Records": records }), Duration::from_secs(60))
                .await;
            let failed: BTreeSet<String> = if outcome == "response" {
                response["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                    .collect()
            } else {
                take.iter().map(|(id, _, _)| id.clone()).collect()
            };
            for message in take.into_iter().filter(|(id, _, _)| failed.contains(id)) {
                if message.2 >= 5 {
                    dead += 1;
                } else {
                    queue.push(message);
                }
            }
        }
        if !stream.is_empty() {
            invocations += 1;
            let take: Vec<(String, String)> = stream.iter().take(25).cloned().collect();
            let records: Vec<Value> = take
                .iter()
                .map(|(seq, body)| {
                    json!({ "eventID": format!("shardId-000000000000:{seq}"), "eventSource": "aws:kinesis",
                        "kinesis": { "sequenceNumber": seq, "partitionKey": "p",
                            "data": base64::engine::general_purpose::STANDARD.encode(body) } })
                })
                .collect();
            let (outcome, response) = runtime
                .invoke(json!({ "Records": records }), Duration::from_secs(60))
                .await;
            let done = if outcome != "response" {
                0
            } else {
                match response["batchItemFailures"][0]["itemIdentifier"].as_str() {
                    Some(failed) => take
                        .iter()
                        .position(|(seq, _)| seq == failed)
                        .expect("the failed record is in the batch"),
                    None => take.len(),
                }
            };
            if done == take.len() {
                stream_retries = 0;
            } else {
                stream_retries += 1;
            }
            stream.drain(..done);
            if stream_retries > 10 {
                // The failure destination takes the batch; the shard moves on.
                dead += take.len() - done;
                stream.drain(..take.len() - done);
                stream_retries = 0;
            }
        }
        assert!(invocations < 1_000, "the inputs never drain");
    }
    function.kill().await.expect("stop contact-events");
    let objects = support::read_objects(&s3, &bucket, "wfm/queue_interval/")
        .await
        .into_iter()
        .map(|(key, body)| (key, serde_json::from_slice::<Value>(&body).unwrap()))
        .filter(|(_, record)| record["active"] != json!(false))
        .collect();
    let bus = support::drain_through_marker(&eventbridge, &bus, &sqs, &bus_queue)
        .await
        .into_iter()
        .map(|event| event["detail"].to_string())
        .collect();
    ContactRun {
        objects,
        bus,
        dead,
        invocations,
        faults: proxy.as_ref().map(FaultProxy::injected).unwrap_or_default(),
        requests: proxy.as_ref().map_or(0, FaultProxy::requests),
    }
}

/// The contact-events binary under seeded faults on every call (DynamoDB, S3, EventBridge: 30%
/// of the first 120 requests, a burst no message outlasts its 5 receives in), with Lambda's
/// redelivery rules for the contact-event queue and the CTR stream: each schedule ends with the
/// stream-basis feed of a fault-free run, every record that stands on S3 also reached the bus,
/// and nothing in the DLQ.
#[tokio::test]
async fn the_contact_events_binary_under_seeded_faults_gives_the_feed_of_a_fault_free_run() {
    let schedules: u64 = std::env::var("CONNECT_WFM_FAULT_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let mut totals: BTreeMap<ProxyFault, usize> = BTreeMap::new();
    let (mut lost, mut extra, mut differing, mut requests, mut dead, mut missing_on_bus) = (0, 0, 0, 0, 0, 0);
    for seed in 1..=schedules {
        let (events, ctrs) = contact_slice(seed);
        let clean = run_contacts(&events, &ctrs, None).await;
        assert!(!clean.objects.is_empty());
        assert_eq!(clean.dead, 0);
        let faulted = run_contacts(
            &events,
            &ctrs,
            Some(Schedule {
                seed,
                per_mille: 300,
                until: 120,
            }),
        )
        .await;
        lost += clean
            .objects
            .keys()
            .filter(|k| !faulted.objects.contains_key(*k))
            .count();
        extra += faulted
            .objects
            .keys()
            .filter(|k| !clean.objects.contains_key(*k))
            .count();
        differing += clean
            .objects
            .iter()
            .filter(|(k, v)| faulted.objects.get(*k).is_some_and(|f| f != *v))
            .count();
        missing_on_bus += faulted
            .objects
            .values()
            .filter(|record| !faulted.bus.contains(&record.to_string()))
            .count();
        dead += faulted.dead;
        requests += faulted.requests;
        for (kind, n) in &faulted.faults {
            *totals.entry(*kind).or_default() += n;
        }
        println!(
            "contact-events fault schedule {seed}: {} events, {} CTRs, {} requests, faults {:?}, {} invocations (fault-free: {}), \
             {} records",
            events.len(),
            ctrs.len(),
            faulted.requests,
            faulted.faults,
            faulted.invocations,
            clean.invocations,
            faulted.objects.len()
        );
        if clean.objects != faulted.objects {
            for (key, record) in &clean.objects {
                if faulted.objects.get(key) != Some(record) {
                    println!("  {key}: fault-free {record}\n  faulted {:?}", faulted.objects.get(key));
                }
            }
        }
    }
    println!(
        "contact-events fault run: {schedules} schedules, {requests} requests, faults injected {totals:?}, records lost {lost}, \
         records not in the fault-free feed {extra}, records differing {differing}, inputs in the DLQ {dead}, \
         records written but not on the bus {missing_on_bus}"
    );
    assert!(totals.values().sum::<usize>() > 0, "faults were injected");
    assert_eq!((lost, extra, differing, dead, missing_on_bus), (0, 0, 0, 0, 0));
}

/// An S3 that refuses everything: every request is answered 503 SlowDown (after reading it),
/// as S3 does when it sheds load. Returns its URL.
async fn refusing_s3() -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    // The head, then as much body as it announces, then the answer.
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < end + 4 + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..end + 4 + length);
                    let body =
                        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                    let answer = format!(
                        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// The sweep binary when S3 refuses its writes for several sweeps: the agents' `UNKNOWN`
/// transitions are committed (DynamoDB answers) but their records cannot be written; each of
/// those sweeps says so (failures, records owed), and the first sweep after S3 is back (a new
/// process, as Lambda may start one) writes them: the feed then holds the `UNKNOWN` records of
/// a run where S3 never failed, same ids, none missing.
#[tokio::test]
async fn the_sweep_binary_writes_the_unknown_records_s3_refused_once_it_is_back() {
    use connect_wfm_aws::{DynamoStateStore, S3FeedSink};
    use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
    let stream = agent_event_stream(&StreamSpec {
        seed: 11,
        agents: 12,
        records: 240,
        bad_permille: 0,
        ..StreamSpec::default()
    });
    let newest = stream
        .iter()
        .filter_map(|r| connect_wfm_core::agent::decode_agent_event(r).ok())
        .map(|e| e.event_timestamp)
        .max()
        .expect("events");
    // Sweeps a minute apart from 10 minutes after the last event: the instance is silent.
    let clock = |minute: i64| newest + chrono::TimeDelta::minutes(10 + minute);
    let (refused, after) = (5, 3);

    // One run: the agents stored by the agent-events handler (in this process), then the
    // sweeps, the first `refusing` of them by a process whose S3 refuses everything.
    let run = |refusing: usize| {
        let stream = stream.clone();
        async move {
            let config = support::sdk_config().await;
            let s3 = support::s3(&config);
            let table = support::create_state_table(&support::dynamodb(&config)).await;
            let bucket = support::create_bucket(&s3, "feed").await;
            let (states, sink) = (
                DynamoStateStore::new(support::dynamodb(&config), &table),
                S3FeedSink::new(s3.clone(), &bucket, "wfm/"),
            );
            let batch = KinesisBatch::from_records(kinesis_records(&stream, "shardId-000000000000", 1));
            let outcome = handle_batch(&batch, &states, &sink, &Settings::default(), chrono::Utc::now()).await;
            assert!(outcome.failed_from().is_none(), "the agents are stored");
            let sweep = |s3_endpoint: Option<String>| {
                let (table, bucket) = (table.clone(), bucket.clone());
                async move {
                    let runtime = support::RuntimeApi::start().await;
                    let mut command = support::lambda_command("sweep", &runtime);
                    command
                        .env("STATE_TABLE", &table)
                        .env("FEED_BUCKET", &bucket)
                        .env("FEED_PREFIX", "wfm")
                        .env("SNAPSHOT_MINUTES", "0");
                    if let Some(endpoint) = &s3_endpoint {
                        command.env("AWS_ENDPOINT_URL_S3", endpoint);
                    }
                    (runtime, command.spawn().expect("spawn sweep"))
                }
            };
            let mut answers = Vec::new();
            let (runtime, mut process) = sweep(Some(refusing_s3().await)).await;
            for minute in 0..refusing {
                let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event",
                    "time": feed_timestamp(clock(minute as i64)) });
                let (outcome, answer) = runtime.invoke(event, Duration::from_secs(60)).await;
                answers.push((outcome, answer));
            }
            process.kill().await.expect("stop sweep");
            let (runtime, mut process) = sweep(None).await;
            for minute in refusing..refusing + after {
                let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event",
                    "time": feed_timestamp(clock(minute as i64)) });
                let (outcome, answer) = runtime.invoke(event, Duration::from_secs(60)).await;
                answers.push((outcome, answer));
            }
            process.kill().await.expect("stop sweep");
            let unknowns: BTreeSet<String> = support::read_json_lines(&s3, &bucket, "wfm/agent_state/")
                .await
                .into_iter()
                .filter(|r| r["state"] == "UNKNOWN")
                .map(|r| r.to_string())
                .collect();
            (unknowns, answers)
        }
    };
    fn feed_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
    let (clean, _) = run(0).await;
    assert!(!clean.is_empty(), "agents went UNKNOWN");
    let (faulted, answers) = run(refused).await;
    for (minute, (outcome, answer)) in answers.iter().enumerate() {
        println!(
            "sweep {minute} ({}): {outcome} {answer}",
            if minute < refused { "S3 refuses" } else { "S3 back" }
        );
        if minute < refused {
            // A sweep that cannot write fails its invocation (Lambda's retry, the Errors alarm).
            assert_eq!(outcome, "error", "a sweep that cannot write says so: {answer}");
            assert!(
                answer["errorMessage"].as_str().unwrap_or_default().contains("failure"),
                "{answer}"
            );
        } else {
            assert_eq!(outcome, "response", "{answer}");
        }
    }
    let first_back = &answers[refused].1;
    assert!(
        first_back["rewritten"].as_u64().unwrap_or_default() > 0,
        "the owed records are written: {first_back}"
    );
    let last = &answers.last().unwrap().1;
    assert_eq!(
        (&last["owed_records"], &last["failures"]),
        (&json!(0), &json!(0)),
        "nothing owed at the end: {last}"
    );
    let lost = clean.difference(&faulted).count();
    let extra = faulted.difference(&clean).count();
    println!(
        "sweep under S3 refusal: {} UNKNOWN records in the fault-free feed, {refused} sweeps refused, lost {lost}, \
         not in the fault-free feed {extra}",
        clean.len()
    );
    assert_eq!((lost, extra), (0, 0));
}
