//! The historical-reports handler end to end against the AWS emulator: report CSVs put in a
//! bucket, S3 notifications delivered through a real SQS queue, claims in DynamoDB, feed
//! objects read back from S3.

use std::path::Path;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use connect_wfm_aws::{DynamoClaimStore, DynamoStateStore, S3FeedSink, S3ObjectSource, reload};
use connect_wfm_core::ports::{ClaimOutcome, ClaimStore};
use connect_wfm_e2e as support;
use connect_wfm_handlers::reports::{ObjectOutcome, Ports, Settings, SqsBatch, created_notification, handle_messages};
use serde_json::json;

const PREFIX: &str = "connect/acme-support/Reports/";
const REPORTS: [&str; 5] = [
    "wfm/QR-2026-11-20T10:15:00Z.csv",
    "wfm/AQR-2026-11-20T10:15:00Z.csv",
    "wfm/ASPR-2026-11-20T10:15:00Z.csv",
    "wfm/Queue report QR-2026-11-20T10:30:00Z.csv",
    "wfm/QR-broken-2026-11-20T10:15:00Z.csv",
];

fn report_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/reports/amazon-connect-reports-123456789012")
        .join(PREFIX)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Receives messages until `want` have arrived or the queue stays empty for a while.
async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str, want: usize) -> Vec<serde_json::Value> {
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

#[tokio::test]
async fn reports_notified_through_sqs_become_feed_records_once() {
    let config = support::sdk_config().await;
    let (s3, dynamodb, sqs) = (support::s3(&config), support::dynamodb(&config), support::sqs(&config));
    let reports_bucket = support::create_bucket(&s3, "reports").await;
    let feed_bucket = support::create_bucket(&s3, "feed").await;
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let queue_url = support::create_queue(&sqs, "reports").await;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap();

    let filter = S3KeyFilter::builder()
        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(PREFIX).build())
        .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(".csv").build())
        .build();
    let notification = QueueConfiguration::builder()
        .id("connect-wfm-reports")
        .queue_arn(&queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(NotificationConfigurationFilter::builder().key(filter).build())
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(&reports_bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(notification)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("notification: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    for name in REPORTS {
        support::put_object(&s3, &reports_bucket, &format!("{PREFIX}{name}"), report_file(name)).await;
    }
    // Outside the notification's filter: never delivered.
    support::put_object(
        &s3,
        &reports_bucket,
        "connect/acme-support/CallRecordings/x.wav",
        b"RIFF".to_vec(),
    )
    .await;

    let claims = DynamoClaimStore::new(dynamodb.clone(), &claim_table);
    let states = DynamoStateStore::new(dynamodb.clone(), &state_table);
    let objects = S3ObjectSource::new(s3.clone());
    let sink = S3FeedSink::new(s3.clone(), &feed_bucket, "wfm");
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let settings = Settings {
        reports_prefix: Some(PREFIX.into()),
        ..Settings::default()
    };

    let messages = receive(&sqs, &queue_url, REPORTS.len()).await;
    let batch = SqsBatch::from_records(messages);
    let outcome = handle_messages(&batch, &ports, &settings, Utc::now()).await;

    let outcomes: Vec<(String, ObjectOutcome)> = outcome
        .messages
        .iter()
        .flat_map(|m| {
            m.objects
                .iter()
                .map(|(o, r)| (o.as_ref().unwrap().key.clone(), r.clone()))
        })
        .collect();
    let converted: Vec<&String> = outcomes
        .iter()
        .filter(|(_, r)| matches!(r, ObjectOutcome::Converted { .. }))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(converted.len(), 4, "{outcomes:?}");
    assert!(
        converted
            .iter()
            .any(|k| k.ends_with("wfm/Queue report QR-2026-11-20T10:30:00Z.csv")),
        "decoded key"
    );
    assert_eq!(
        outcome.response.batch_item_failures.len(),
        1,
        "only the broken report fails"
    );
    let (broken_key, broken) = outcomes.iter().find(|(k, _)| k.contains("QR-broken")).unwrap();
    let ObjectOutcome::Failed {
        reason,
        permanent: true,
    } = broken
    else {
        panic!("{broken:?}")
    };
    assert!(
        reason.contains(broken_key.as_str()) && reason.contains("StartInterval"),
        "{reason}"
    );

    let lines = support::read_json_lines(&s3, &feed_bucket, "wfm/").await;
    let count = |kind: &str| lines.iter().filter(|l| l["kind"] == kind).count();
    // Permanent: the broken report is also kept under the feed's rejects with its reason.
    let rejects: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "reject").collect();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["reason"], reason.as_str());
    assert_eq!(rejects[0]["function"], "historical-reports");
    assert_eq!(
        (
            count("queue_interval"),
            count("agent_queue_interval"),
            count("agent_interval")
        ),
        (7, 6, 4)
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["kind"] != "reject")
            .all(|l| l["source"]["bucket"] == reports_bucket.as_str())
    );

    // At-least-once delivery: the same messages again change nothing.
    let objects_before = support::read_objects(&s3, &feed_bucket, "wfm/").await.len();
    let again = handle_messages(&batch, &ports, &settings, Utc::now()).await;
    let duplicates = again
        .messages
        .iter()
        .flat_map(|m| &m.objects)
        .filter(|(_, r)| *r == ObjectOutcome::Duplicate);
    assert_eq!(duplicates.count(), 4);
    assert_eq!(again.response.batch_item_failures.len(), 1);
    assert_eq!(
        support::read_objects(&s3, &feed_bucket, "wfm/").await.len(),
        objects_before
    );

    // The broken report's claim is not left locked: a fixed mapping could convert it at once.
    let etag = outcome
        .messages
        .iter()
        .flat_map(|m| &m.objects)
        .find_map(|(o, _)| {
            o.as_ref()
                .filter(|o| o.key.contains("QR-broken"))
                .and_then(|o| o.etag.clone())
        })
        .unwrap();
    let claim_id = format!("{reports_bucket}/{broken_key}#{etag}");
    assert_eq!(
        claims.claim(&claim_id, "another-message", Utc::now()).await.unwrap(),
        ClaimOutcome::Claimed
    );

    // Transient: a report held by another run fails its message to be retried, and is not a
    // reject. (The claim just taken above holds the broken report.)
    let rejects_before = support::read_objects(&s3, &feed_bucket, "wfm/rejects/").await.len();
    let held = handle_messages(&batch, &ports, &settings, Utc::now()).await;
    let held_outcome = held
        .messages
        .iter()
        .flat_map(|m| &m.objects)
        .find(|(o, _)| o.as_ref().is_some_and(|o| o.key.contains("QR-broken")))
        .map(|(_, r)| r.clone())
        .unwrap();
    assert!(
        matches!(&held_outcome, ObjectOutcome::Failed { permanent: false, reason } if reason.contains("another run")),
        "{held_outcome:?}"
    );
    assert_eq!(held.response.batch_item_failures.len(), 1);
    assert_eq!(
        support::read_objects(&s3, &feed_bucket, "wfm/rejects/").await.len(),
        rejects_before,
        "a transient failure is retried, not kept as a reject"
    );
}

/// `connect-wfm reload`'s parts against the emulator: the period's reports listed from S3 and
/// their notifications queued; without force the converted ones are skipped, with force they
/// are converted again and overwrite their feed objects (no duplicate objects).
#[tokio::test]
async fn reload_requeues_a_period_and_force_converts_again_without_duplicating() {
    let config = support::sdk_config().await;
    let (s3, dynamodb, sqs) = (support::s3(&config), support::dynamodb(&config), support::sqs(&config));
    let reports_bucket = support::create_bucket(&s3, "reload").await;
    let feed_bucket = support::create_bucket(&s3, "reload-feed").await;
    let claim_table = support::create_claim_table(&dynamodb).await;
    let state_table = support::create_state_table(&dynamodb).await;
    let queue_url = support::create_queue(&sqs, "reload").await;
    let before = Utc::now() - chrono::Duration::seconds(5);
    for name in &REPORTS[..4] {
        support::put_object(&s3, &reports_bucket, &format!("{PREFIX}{name}"), report_file(name)).await;
    }
    support::put_object(
        &s3,
        &reports_bucket,
        &format!("{PREFIX}wfm/readme.txt"),
        b"not a report".to_vec(),
    )
    .await;
    support::put_object(
        &s3,
        &reports_bucket,
        "elsewhere/QR-2026-11-20T10:15:00Z.csv",
        report_file(REPORTS[0]),
    )
    .await;

    let listed = reload::list_reports(&s3, &reports_bucket, PREFIX, Some(before), None)
        .await
        .unwrap();
    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys.len(), 4, "only the .csv reports under the prefix: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(PREFIX) && k.ends_with(".csv")));
    let future = Utc::now() + chrono::Duration::hours(1);
    let none = reload::list_reports(&s3, &reports_bucket, PREFIX, Some(future), None)
        .await
        .unwrap();
    assert!(none.is_empty(), "the period bounds the listing");

    let claims = DynamoClaimStore::new(dynamodb.clone(), &claim_table);
    let states = DynamoStateStore::new(dynamodb.clone(), &state_table);
    let objects = S3ObjectSource::new(s3.clone());
    let sink = S3FeedSink::new(s3.clone(), &feed_bucket, "");
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let settings = Settings {
        reports_prefix: Some(PREFIX.into()),
        ..Settings::default()
    };
    let run = async |reload_id: Option<&str>| {
        let bodies: Vec<String> = listed
            .iter()
            .map(|o| created_notification(&reports_bucket, &o.key, &o.etag, o.size, reload_id))
            .collect();
        assert_eq!(reload::send_messages(&sqs, &queue_url, &bodies).await.unwrap(), 4);
        let received = receive(&sqs, &queue_url, 4).await;
        let batch = SqsBatch::from_records(received.clone());
        for message in &received {
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message["receiptHandle"].as_str().unwrap())
                .send()
                .await
                .unwrap();
        }
        let outcome = handle_messages(&batch, &ports, &settings, Utc::now()).await;
        assert!(
            outcome.response.batch_item_failures.is_empty(),
            "{:?}",
            outcome.messages
        );
        let results: Vec<ObjectOutcome> = outcome
            .messages
            .iter()
            .flat_map(|m| &m.objects)
            .map(|(_, r)| r.clone())
            .collect();
        results
    };

    let first = run(None).await;
    assert!(
        first.iter().all(|r| matches!(r, ObjectOutcome::Converted { .. })),
        "{first:?}"
    );
    let feed_objects = support::read_objects(&s3, &feed_bucket, "").await;
    let again = run(None).await;
    assert!(again.iter().all(|r| *r == ObjectOutcome::Duplicate), "{again:?}");
    let forced = run(Some("20261122T230000Z")).await;
    assert!(
        forced.iter().all(|r| matches!(r, ObjectOutcome::Converted { .. })),
        "{forced:?}"
    );
    assert_eq!(
        support::read_objects(&s3, &feed_bucket, "").await,
        feed_objects,
        "a forced reload overwrites the same feed objects with the same records"
    );
}
