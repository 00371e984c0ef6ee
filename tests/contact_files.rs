//! Contact records as the files Firehose writes to S3, end to end against the AWS emulator: the
//! objects put in a bucket whose notifications go to a real SQS queue, the messages through the
//! contact-events handler (claims and legs in DynamoDB, interval objects in S3) and through the
//! real contact-events binary; the same CTRs on the Kinesis stream's path give the same interval
//! objects.

use std::io::Write as _;
use std::time::Duration;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use chrono::Utc;
use connect_wfm_aws::{DynamoClaimStore, DynamoContactStore, S3FeedSink, S3ObjectSource};
use connect_wfm_core::contact::sim::{SliceSpec, simulate};
use connect_wfm_core::contact::store::ContactStore as _;
use connect_wfm_e2e as support;
use connect_wfm_handlers::contacts::{
    Clock, ContactBatch, CtrFiles, KinesisBatch, Settings, SqsBatch, close_intervals_since, handle_batch,
    handle_kinesis, handle_sqs,
};
use connect_wfm_handlers::objects::ObjectOutcome;
use serde_json::{Value, json};

const PREFIX: &str = "ctr/";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn sqs(bodies: &[&str], first: usize) -> SqsBatch {
    SqsBatch::from_records(
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| json!({ "messageId": format!("e{}", first + i), "body": body, "eventSource": "aws:sqs" })),
    )
}

fn kinesis(data: &[&str], first: usize) -> KinesisBatch {
    use base64::Engine as _;
    KinesisBatch::from_records(data.iter().enumerate().map(|(i, d)| {
        let seq = format!("{:08}", first + i);
        json!({
            "eventID": format!("shardId-000000000000:{seq}"),
            "eventSource": "aws:kinesis",
            "kinesis": { "sequenceNumber": seq, "data": base64::engine::general_purpose::STANDARD.encode(d) }
        })
    }))
}

/// A bucket whose ObjectCreated notifications under [`PREFIX`] go to a new queue, as the
/// bucket-notifications custom resource sets it up (no suffix: Firehose's names have none).
async fn notified_bucket(s3: &aws_sdk_s3::Client, sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let bucket = support::create_bucket(s3, "ctr").await;
    let queue_url = support::create_queue(sqs, "ctr-files").await;
    let queue_arn = support::queue_arn(sqs, &queue_url).await;
    let filter = S3KeyFilter::builder()
        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(PREFIX).build())
        .build();
    let notification = QueueConfiguration::builder()
        .id("connect-wfm-contact-records")
        .queue_arn(&queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(NotificationConfigurationFilter::builder().key(filter).build())
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(notification)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("notification: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    (bucket, queue_url)
}

/// Receives messages until `want` have arrived (or 20 empty polls).
async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str, want: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    for _ in 0..20 {
        if messages.len() >= want {
            break;
        }
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
        for m in output.messages() {
            messages.push(json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "eventSource": "aws:sqs"
            }));
        }
    }
    messages
}

async fn stream_objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, Value)> {
    support::read_objects(s3, bucket, "wfm/queue_interval/")
        .await
        .into_iter()
        .map(|(key, body)| (key, serde_json::from_slice(&body).unwrap()))
        .collect()
}

/// The slice's CTRs as Firehose objects (back to back, gzip, one per line) notified through
/// SQS, and the same CTRs on the Kinesis stream, each beside the slice's contact events: the
/// same interval objects. A redelivery of the notifications reads nothing again.
#[tokio::test]
async fn firehose_files_notified_through_sqs_give_the_interval_objects_of_the_stream() {
    let config = support::sdk_config().await;
    let (s3, dynamodb, sqs_client) = (support::s3(&config), support::dynamodb(&config), support::sqs(&config));
    let slice = simulate(&SliceSpec {
        seed: 21,
        intervals: 4,
        contacts: 50,
        ..SliceSpec::default()
    });
    let settings = Settings::default();
    let events: Vec<&str> = slice.events.iter().map(String::as_str).collect();
    let ctrs: Vec<&str> = slice.records.iter().map(String::as_str).collect();

    // The stream.
    let stream_feed = support::create_bucket(&s3, "feed-stream").await;
    let stream_store = DynamoContactStore::new(dynamodb.clone(), support::create_contact_table(&dynamodb).await);
    let stream_sink = S3FeedSink::new(s3.clone(), &stream_feed, "wfm");
    for (i, batch) in events.chunks(10).enumerate() {
        let outcome = handle_sqs(
            &sqs(batch, i * 10),
            &stream_store,
            &stream_sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
        assert!(outcome.response.batch_item_failures.is_empty());
    }
    for (i, batch) in ctrs.chunks(10).enumerate() {
        let outcome = handle_kinesis(
            &kinesis(batch, i * 10),
            &stream_store,
            &stream_sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
        assert_eq!(outcome.failed_from(), None);
    }

    // Firehose: the objects in a notified bucket, the messages from the queue.
    let (ctr_bucket, queue_url) = notified_bucket(&s3, &sqs_client).await;
    let files_feed = support::create_bucket(&s3, "feed-files").await;
    let files_store = DynamoContactStore::new(dynamodb.clone(), support::create_contact_table(&dynamodb).await);
    let files_sink = S3FeedSink::new(s3.clone(), &files_feed, "wfm");
    let claims = DynamoClaimStore::new(dynamodb.clone(), support::create_claim_table(&dynamodb).await);
    let objects = S3ObjectSource::new(s3.clone());
    let files = CtrFiles {
        claims: &claims,
        objects: &objects,
        prefix: Some(PREFIX),
    };
    let chunks: Vec<&[&str]> = ctrs.chunks(12).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let key = format!(
            "{PREFIX}2026/11/20/10/connect-ctr-1-2026-11-20-10-{:02}-00-{i:04x}",
            15 + i
        );
        let body = match i % 3 {
            0 => chunk.concat().into_bytes(),
            1 => gzip(chunk.concat().as_bytes()),
            _ => chunk.iter().map(|c| format!("{c}\n")).collect::<String>().into_bytes(),
        };
        support::put_object(&s3, &ctr_bucket, &key, body).await;
    }
    // Outside the prefix: no notification.
    support::put_object(&s3, &ctr_bucket, "errors/x", ctrs[0].to_owned()).await;
    for (i, batch) in events.chunks(10).enumerate() {
        handle_sqs(
            &sqs(batch, i * 10),
            &files_store,
            &files_sink,
            &settings,
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
    }
    // The queue also holds the s3:TestEvent of the notification's configuration.
    let messages = receive(&sqs_client, &queue_url, chunks.len() + 1).await;
    let created = messages
        .iter()
        .filter(|m| !m["body"].as_str().unwrap().contains("s3:TestEvent"))
        .count();
    assert_eq!(created, chunks.len());
    let batch: ContactBatch = serde_json::from_value(json!({ "Records": messages })).unwrap();
    let outcome = handle_batch(
        &batch,
        &files_store,
        &files_sink,
        Some(&files),
        &settings,
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    let response = serde_json::to_value(&outcome.response).unwrap();
    assert_eq!(response["batchItemFailures"], json!([]), "{:?}", outcome.stats);
    assert_eq!(outcome.stats.ctr_files, chunks.len());
    assert_eq!(outcome.stats.contact_records, ctrs.len());
    assert_eq!(outcome.stats.rejected, 0);

    for (store, sink) in [(&stream_store, &stream_sink), (&files_store, &files_sink)] {
        let clock = store.progress().await.unwrap().unwrap();
        close_intervals_since(store, sink, &settings, None, clock)
            .await
            .unwrap();
    }
    let expected = stream_objects(&s3, &stream_feed).await;
    assert!(expected.len() >= 10, "{}", expected.len());
    assert_eq!(stream_objects(&s3, &files_feed).await, expected);

    // SQS delivers the notifications again: every object is a duplicate, nothing is written.
    let again = handle_batch(
        &batch,
        &files_store,
        &files_sink,
        Some(&files),
        &settings,
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    assert_eq!(again.stats.ctr_files, 0);
    assert_eq!(again.stats.contact_records, 0);
    assert_eq!(stream_objects(&s3, &files_feed).await, expected);
    let ContactBatch::Sqs(messages) = &batch else {
        panic!("an SQS batch")
    };
    let outcome = connect_wfm_handlers::contacts::handle_ctr_files(
        messages,
        &files_store,
        &files_sink,
        &files,
        &settings,
        Clock::NewestInput,
        Utc::now(),
    )
    .await;
    let outcomes: Vec<&ObjectOutcome> = outcome
        .messages
        .iter()
        .flat_map(|m| &m.objects)
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outcomes.len(), chunks.len());
    assert!(outcomes.iter().all(|o| **o == ObjectOutcome::Duplicate), "{outcomes:?}");
}

/// The contact-events binary, as Lambda runs it with `CLAIM_TABLE` set: an SQS event naming a
/// gzip CTR file in S3 becomes the interval object of its contacts; a bad record is kept under
/// rejects with the object and offset; the redelivery reads nothing again.
#[tokio::test]
async fn contact_events_binary_turns_a_ctr_file_into_its_interval_object() {
    let config = support::sdk_config().await;
    let (s3, dynamodb) = (support::s3(&config), support::dynamodb(&config));
    let contact_table = support::create_contact_table(&dynamodb).await;
    let claim_table = support::create_claim_table(&dynamodb).await;
    let (feed_bucket, ctr_bucket) = (
        support::create_bucket(&s3, "feed").await,
        support::create_bucket(&s3, "ctr").await,
    );
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    let ctr = |id: &str, talk: i64| {
        json!({
            "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": id, "InstanceARN": instance,
            "Channel": "VOICE", "InitiationMethod": "INBOUND", "InitiationTimestamp": "2026-11-20T10:01:00Z",
            "DisconnectTimestamp": "2026-11-20T10:08:00Z", "LastUpdateTimestamp": "2026-11-20T10:09:00Z",
            "Queue": {"ARN": format!("{instance}/queue/0db317d9-4c8e-4fa3-969a-73bf4c83cf3b"), "Name": "Support",
                      "EnqueueTimestamp": "2026-11-20T10:01:05Z", "DequeueTimestamp": "2026-11-20T10:01:15Z"},
            "Agent": {"ARN": format!("{instance}/agent/a-1"), "ConnectedToAgentTimestamp": "2026-11-20T10:01:15Z",
                      "AgentInteractionDuration": talk, "CustomerHoldDuration": 0, "AfterContactWorkDuration": 20}
        })
        .to_string()
    };
    let (first, second) = (ctr("c-1", 300), ctr("c-2", 100));
    let truncated = &ctr("c-3", 50)[..60];
    let key = format!("{PREFIX}2026/11/20/10/connect-ctr-1-2026-11-20-10-10-00-abcd.gz");
    let body = gzip(format!("{first}{second}{truncated}").as_bytes());
    let size = body.len() as i64;
    support::put_object(&s3, &ctr_bucket, &key, body).await;
    let head = s3.head_object().bucket(&ctr_bucket).key(&key).send().await.unwrap();
    let etag = head.e_tag().unwrap().trim_matches('"').to_owned();
    let batch = json!({ "Records": [{
        "messageId": "m0", "receiptHandle": "r0", "eventSource": "aws:sqs",
        "body": connect_wfm_handlers::reports::created_notification(&ctr_bucket, &key, &etag, size, None),
    }]});

    let runtime = support::RuntimeApi::start().await;
    let mut function = support::lambda_command("contact-events", &runtime)
        .env("CONTACT_TABLE", &contact_table)
        .env("CLAIM_TABLE", &claim_table)
        .env("CONTACT_RECORDS_PREFIX", PREFIX)
        .env("FEED_BUCKET", &feed_bucket)
        .env("FEED_PREFIX", "wfm")
        .spawn()
        .expect("spawn contact-events");
    let (outcome, response) = runtime.invoke(batch.clone(), Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    let records = stream_objects(&s3, &feed_bucket).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let (object, record) = &records[0];
    assert!(
        object.starts_with("wfm/queue_interval/2026-11-20/stream/") && object.ends_with("/1000.json"),
        "{object}"
    );
    assert_eq!(
        (
            &record["handled"],
            &record["talk_time_s"],
            &record["acw_time_s"],
            &record["queue"]
        ),
        (&json!(2), &json!(400), &json!(40), &json!("Support"))
    );
    let rejects: Vec<Value> = support::read_json_lines(&s3, &feed_bucket, "wfm/rejects/").await;
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let offset = first.len() + second.len();
    assert_eq!(rejects[0]["input"], format!("s3://{ctr_bucket}/{key} offset {offset}"));
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("truncated: "));

    // The redelivery: the claim says read, nothing is written again.
    let objects_before = support::read_objects(&s3, &feed_bucket, "wfm/").await;
    let (outcome, response) = runtime.invoke(batch, Duration::from_secs(60)).await;
    assert_eq!(outcome, "response", "{response}");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(support::read_objects(&s3, &feed_bucket, "wfm/").await, objects_before);
    function.kill().await.expect("stop contact-events");
}

/// `connect-wfm reload --contact-records`: every object under the prefix (Firehose's keys have
/// no suffix), put back on the queue as notifications the handler reads; already read ones are
/// skipped, a forced reload reads them again.
#[tokio::test]
async fn reload_puts_the_ctr_files_of_a_period_back_on_their_queue() {
    let config = support::sdk_config().await;
    let (s3, dynamodb, sqs_client) = (support::s3(&config), support::dynamodb(&config), support::sqs(&config));
    let bucket = support::create_bucket(&s3, "ctr").await;
    let queue_url = support::create_queue(&sqs_client, "ctr-reload").await;
    let slice = simulate(&SliceSpec {
        seed: 4,
        intervals: 2,
        contacts: 10,
        ..SliceSpec::default()
    });
    let keys = [
        format!("{PREFIX}2026/11/20/10/connect-ctr-1-2026-11-20-10-15-00-a"),
        format!("{PREFIX}2026/11/20/10/connect-ctr-1-2026-11-20-10-30-00-b.gz"),
    ];
    let half = slice.records.len() / 2;
    support::put_object(&s3, &bucket, &keys[0], slice.records[..half].concat()).await;
    support::put_object(&s3, &bucket, &keys[1], gzip(slice.records[half..].concat().as_bytes())).await;
    support::put_object(&s3, &bucket, "elsewhere/x", slice.records[0].clone()).await;

    let listed = connect_wfm_aws::reload::list_objects(&s3, &bucket, PREFIX, None, None, |_| true)
        .await
        .unwrap();
    let listed_keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(listed_keys, [keys[0].as_str(), keys[1].as_str()]);

    let store = DynamoContactStore::new(dynamodb.clone(), support::create_contact_table(&dynamodb).await);
    let feed = support::create_bucket(&s3, "feed").await;
    let sink = S3FeedSink::new(s3.clone(), &feed, "wfm");
    let claims = DynamoClaimStore::new(dynamodb.clone(), support::create_claim_table(&dynamodb).await);
    let objects = S3ObjectSource::new(s3.clone());
    let files = CtrFiles {
        claims: &claims,
        objects: &objects,
        prefix: Some(PREFIX),
    };
    for (reload_id, want) in [
        (None, ObjectOutcome::Converted { records: 0 }),
        (None, ObjectOutcome::Duplicate),
        (Some("r1"), ObjectOutcome::Converted { records: 0 }),
    ] {
        let bodies: Vec<String> = listed
            .iter()
            .map(|o| connect_wfm_handlers::reports::created_notification(&bucket, &o.key, &o.etag, o.size, reload_id))
            .collect();
        let sent = connect_wfm_aws::reload::send_messages(&sqs_client, &queue_url, &bodies)
            .await
            .unwrap();
        assert_eq!(sent, 2);
        let messages = receive(&sqs_client, &queue_url, 2).await;
        assert_eq!(messages.len(), 2);
        let batch = SqsBatch::from_records(messages.clone());
        let outcome = connect_wfm_handlers::contacts::handle_ctr_files(
            &batch,
            &store,
            &sink,
            &files,
            &Settings::default(),
            Clock::NewestInput,
            Utc::now(),
        )
        .await;
        assert!(outcome.response.batch_item_failures.is_empty());
        for (_, got) in outcome.messages.iter().flat_map(|m| &m.objects) {
            match (&want, got) {
                (ObjectOutcome::Converted { .. }, ObjectOutcome::Converted { records }) => assert!(*records > 0),
                _ => assert_eq!(got, &want),
            }
        }
        // Lambda deletes the messages of a batch that succeeded.
        for message in &messages {
            sqs_client
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message["receiptHandle"].as_str().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}
