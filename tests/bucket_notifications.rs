//! The bucket-notifications custom resource end to end: the real handler with the S3 store
//! against the emulator's S3 (buckets and queues created there), and the real HTTP sender
//! answering a local listener that stands in for CloudFormation's presigned ResponseURL.
//!
//! Test buckets are seeded with foreign entries before the first request: the emulator
//! answers GetBucketNotificationConfiguration on a bucket with no configuration at all with a
//! document the SDK rejects (S3 itself does not).

use std::time::Duration;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use connect_wfm_aws::{HttpResponseSender, S3NotificationStore};
use connect_wfm_e2e as support;
use connect_wfm_handlers::custom_resource::{CustomResourceResponse, Status, handle_request, notification_id};
use connect_wfm_handlers::reports::{Notification, parse_notification};
use serde_json::{Value, json};
use support::ResponseListener;
use tokio::time::Instant;

const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/connect-wfm/7d1c0e30-a6f1-11ef-9b1d-0affd1e2c3b5";
const LOGICAL_ID: &str = "ReportsBucketNotification";
const FOREIGN_LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:thumbnails";
const REPORTS_PREFIX: &str = "connect/acme-support/Reports/";

struct World {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    store: S3NotificationStore,
    sender: HttpResponseSender,
    listener: ResponseListener,
    /// Our queue: URL and ARN.
    queue: (String, String),
    /// A queue of someone else's notification.
    foreign_queue_arn: String,
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue ARN of {url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
    output
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .expect("QueueArn attribute")
}

impl World {
    async fn new() -> Self {
        let config = support::sdk_config().await;
        let s3 = support::s3(&config);
        let sqs = support::sqs(&config);
        let url = support::create_queue(&sqs, "ours").await;
        let arn = queue_arn(&sqs, &url).await;
        let foreign_url = support::create_queue(&sqs, "theirs").await;
        let foreign_queue_arn = queue_arn(&sqs, &foreign_url).await;
        Self {
            store: S3NotificationStore::new(s3.clone()),
            s3,
            sqs,
            sender: HttpResponseSender::new().expect("system root certificates"),
            listener: ResponseListener::start().await,
            queue: (url, arn),
            foreign_queue_arn,
        }
    }

    /// A bucket with a foreign queue entry and a foreign Lambda entry.
    async fn seeded_bucket(&self) -> String {
        let bucket = support::create_bucket(&self.s3, "reports").await;
        let prefix_rule = |value: &str| {
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(value).build())
                        .build(),
                )
                .build()
        };
        let configuration = NotificationConfiguration::builder()
            .queue_configurations(
                QueueConfiguration::builder()
                    .id("audit-deletions")
                    .queue_arn(&self.foreign_queue_arn)
                    .events(Event::from("s3:ObjectRemoved:*"))
                    .filter(prefix_rule("audit/"))
                    .build()
                    .unwrap(),
            )
            .lambda_function_configurations(
                LambdaFunctionConfiguration::builder()
                    .id("thumbnails")
                    .lambda_function_arn(FOREIGN_LAMBDA)
                    .events(Event::from("s3:ObjectCreated:*"))
                    .filter(prefix_rule("images/"))
                    .build()
                    .unwrap(),
            )
            .build();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(configuration)
            .send()
            .await
            .unwrap_or_else(|e| panic!("seed {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        bucket
    }

    /// A CloudFormation request of `kind` for our resource.
    fn request(&self, kind: &str, request_id: &str, bucket: &str, prefix: &str, old: Option<(&str, &str)>) -> Value {
        let mut request = json!({
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connect-wfm-BucketNotifications",
            "ResponseURL": self.listener.url(request_id),
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": LOGICAL_ID,
            "ResourceType": "Custom::ReportsBucketNotification",
            "ResourceProperties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connect-wfm-BucketNotifications",
                "BucketName": bucket,
                "Prefix": prefix,
                "QueueArn": self.queue.1,
            }
        });
        if kind != "Create" {
            request["PhysicalResourceId"] = json!(our_id());
        }
        if let Some((old_bucket, old_prefix)) = old {
            request["OldResourceProperties"] = json!({
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connect-wfm-BucketNotifications",
                "BucketName": old_bucket,
                "Prefix": old_prefix,
                "QueueArn": self.queue.1,
            });
        }
        request
    }

    /// Runs the handler with `store` and returns the one answer the listener received for
    /// this request, checked against what the handler says it sent.
    async fn run_with(&self, store: &S3NotificationStore, request: &Value, within: Duration) -> Value {
        let request_id = request["RequestId"].as_str().unwrap();
        let before = self.answers_to(request_id).len();
        let sent: CustomResourceResponse = handle_request(request, store, &self.sender, Instant::now() + within)
            .await
            .expect("the answer is delivered");
        let answers = self.answers_to(request_id);
        assert_eq!(answers.len(), before + 1, "exactly one answer to {request_id}");
        let answer = answers.last().unwrap();
        assert_eq!(answer.method, "PUT");
        assert_eq!(
            answer.header("content-type"),
            Some(""),
            "CloudFormation wants an empty Content-Type"
        );
        let body = answer.json();
        assert!(answer.body.len() < 4096);
        assert_eq!(
            body["Status"],
            json!(if sent.status == Status::Success {
                "SUCCESS"
            } else {
                "FAILED"
            })
        );
        assert!(body["Reason"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
        assert_eq!(body["PhysicalResourceId"], json!(our_id()));
        assert_eq!(body["StackId"], json!(STACK_ID));
        assert_eq!(body["RequestId"], json!(request_id));
        assert_eq!(body["LogicalResourceId"], json!(LOGICAL_ID));
        body
    }

    async fn run(&self, request: &Value) -> Value {
        self.run_with(&self.store, request, Duration::from_secs(30)).await
    }

    fn answers_to(&self, request_id: &str) -> Vec<support::ReceivedRequest> {
        let path = format!("/responses/{request_id}?");
        self.listener
            .received()
            .into_iter()
            .filter(|r| r.target.starts_with(&path))
            .collect()
    }

    /// `(id, target ARN, prefix rule)` of every entry of `bucket`, sorted.
    async fn entries(&self, bucket: &str) -> Vec<(String, String, String)> {
        let output = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("read {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        let prefix = |f: Option<&NotificationConfigurationFilter>| {
            f.and_then(|f| f.key())
                .into_iter()
                .flat_map(|k| k.filter_rules())
                .filter(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case("prefix")))
                .filter_map(|r| r.value().map(str::to_owned))
                .next()
                .unwrap_or_default()
        };
        let mut entries: Vec<_> = output
            .queue_configurations()
            .iter()
            .map(|c| {
                (
                    c.id().unwrap_or_default().to_owned(),
                    c.queue_arn().to_owned(),
                    prefix(c.filter()),
                )
            })
            .chain(output.lambda_function_configurations().iter().map(|c| {
                (
                    c.id().unwrap_or_default().to_owned(),
                    c.lambda_function_arn().to_owned(),
                    prefix(c.filter()),
                )
            }))
            .collect();
        entries.sort();
        entries
    }

    fn foreign_entries(&self) -> Vec<(String, String, String)> {
        vec![
            (
                "audit-deletions".into(),
                self.foreign_queue_arn.clone(),
                "audit/".into(),
            ),
            ("thumbnails".into(), FOREIGN_LAMBDA.into(), "images/".into()),
        ]
    }

    fn with_ours(&self, prefix: &str) -> Vec<(String, String, String)> {
        let mut entries = self.foreign_entries();
        entries.push((our_id(), self.queue.1.clone(), prefix.to_owned()));
        entries.sort();
        entries
    }

    /// Bodies of the messages waiting in our queue (deleted as read).
    async fn drain_our_queue(&self) -> Vec<Value> {
        let mut bodies = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue.0)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive from our queue");
            let messages = output.messages();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                bodies.push(serde_json::from_str(message.body().unwrap_or("null")).unwrap_or(Value::Null));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue.0)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete message");
            }
        }
    }
}

fn our_id() -> String {
    notification_id(STACK_ID, LOGICAL_ID)
}

#[tokio::test]
async fn create_keeps_foreign_entries_and_reports_reach_the_queue() {
    let world = World::new().await;
    let bucket = world.seeded_bucket().await;
    let answer = world
        .run(&world.request("Create", "create-1", &bucket, REPORTS_PREFIX, None))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["NotificationId"], json!(our_id()));
    assert_eq!(answer["Data"]["BucketName"], json!(bucket));
    assert_eq!(world.entries(&bucket).await, world.with_ours(REPORTS_PREFIX));

    // The notification works: a report under the prefix reaches our queue, other objects do not.
    world.drain_our_queue().await; // the s3:TestEvent of the configuration
    let report = format!("{REPORTS_PREFIX}wfm/QR-2026-11-20T10:15:00Z.csv");
    support::put_object(&world.s3, &bucket, &report, "StartInterval\n").await;
    support::put_object(&world.s3, &bucket, &format!("{REPORTS_PREFIX}wfm/notes.txt"), "x").await;
    support::put_object(&world.s3, &bucket, "images/QR.csv", "x").await;
    let messages = world.drain_our_queue().await;
    let keys: Vec<String> = messages
        .iter()
        .flat_map(|m| match parse_notification(&m.to_string()) {
            Ok(Notification::Created(objects)) => objects.into_iter().map(|o| o.key).collect::<Vec<_>>(),
            other => panic!("not a created-object notification: {other:?}"),
        })
        .collect();
    assert_eq!(keys, vec![report], "{messages:?}");
}

#[tokio::test]
async fn update_with_a_new_prefix_replaces_ours_only() {
    let world = World::new().await;
    let bucket = world.seeded_bucket().await;
    let create = world.request("Create", "upd-create", &bucket, REPORTS_PREFIX, None);
    assert_eq!(world.run(&create).await["Status"], "SUCCESS");
    let new_prefix = "connect/acme-support/Reports/wfm/";
    let update = world.request("Update", "upd-1", &bucket, new_prefix, Some((&bucket, REPORTS_PREFIX)));
    let answer = world.run(&update).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(world.entries(&bucket).await, world.with_ours(new_prefix));
}

#[tokio::test]
async fn update_to_another_bucket_leaves_the_old_one() {
    let world = World::new().await;
    let old = world.seeded_bucket().await;
    let new = world.seeded_bucket().await;
    let create = world.request("Create", "move-create", &old, REPORTS_PREFIX, None);
    assert_eq!(world.run(&create).await["Status"], "SUCCESS");
    let update = world.request("Update", "move-1", &new, REPORTS_PREFIX, Some((&old, REPORTS_PREFIX)));
    let answer = world.run(&update).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["Reason"].as_str().unwrap().contains("removed"), "{answer}");
    assert_eq!(world.entries(&new).await, world.with_ours(REPORTS_PREFIX));
    assert_eq!(world.entries(&old).await, world.foreign_entries());
}

#[tokio::test]
async fn delete_removes_only_ours_and_a_gone_bucket_is_success() {
    let world = World::new().await;
    let bucket = world.seeded_bucket().await;
    let create = world.request("Create", "del-create", &bucket, REPORTS_PREFIX, None);
    assert_eq!(world.run(&create).await["Status"], "SUCCESS");
    let delete = world.request("Delete", "del-1", &bucket, REPORTS_PREFIX, None);
    let answer = world.run(&delete).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(world.entries(&bucket).await, world.foreign_entries());

    world
        .s3
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete the empty bucket");
    let again = world.request("Delete", "del-2", &bucket, REPORTS_PREFIX, None);
    let answer = world.run(&again).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(
        answer["Reason"].as_str().unwrap().contains("no longer exists"),
        "{answer}"
    );
}

#[tokio::test]
async fn create_on_a_missing_bucket_fails_with_a_reason_naming_it() {
    let world = World::new().await;
    let bucket = support::unique("never-created");
    let answer = world
        .run(&world.request("Create", "missing-1", &bucket, REPORTS_PREFIX, None))
        .await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap().contains(&bucket), "{answer}");
}

#[tokio::test]
async fn s3_refusing_the_configuration_is_a_failed_answer() {
    let world = World::new().await;
    let bucket = world.seeded_bucket().await;
    // An SQS ARN in a partition S3 does not know: the emulator refuses it as S3 would.
    let mut request = world.request("Create", "refused-1", &bucket, REPORTS_PREFIX, None);
    request["ResourceProperties"]["QueueArn"] = json!("arn:aws-nowhere:sqs:us-east-1:123456789012:reports");
    let answer = world.run(&request).await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains(&bucket) && reason.contains("write"), "{reason}");
    assert_eq!(world.entries(&bucket).await, world.foreign_entries());
}

#[tokio::test]
async fn s3_never_answering_is_a_failed_answer_before_the_deadline() {
    let world = World::new().await;
    let config = support::sdk_config().await;
    let hanging = S3NotificationStore::new(support::s3_at(&config, &support::silent_endpoint().await));
    let request = world.request("Create", "hang-1", "some-bucket", REPORTS_PREFIX, None);
    let start = Instant::now();
    let answer = world.run_with(&hanging, &request, Duration::from_secs(4)).await;
    assert!(start.elapsed() < Duration::from_secs(4), "answered after the deadline");
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(answer["Reason"].as_str().unwrap().contains("timed out"), "{answer}");
}

#[tokio::test]
async fn the_same_request_twice_does_no_harm() {
    let world = World::new().await;
    let bucket = world.seeded_bucket().await;
    let create = world.request("Create", "twice-1", &bucket, REPORTS_PREFIX, None);
    let first = world.run(&create).await;
    let second = world.run(&create).await;
    assert_eq!(
        (&first["Status"], &second["Status"]),
        (&json!("SUCCESS"), &json!("SUCCESS"))
    );
    assert_eq!(first["PhysicalResourceId"], second["PhysicalResourceId"]);
    assert_eq!(world.entries(&bucket).await, world.with_ours(REPORTS_PREFIX));

    let delete = world.request("Delete", "twice-2", &bucket, REPORTS_PREFIX, None);
    assert_eq!(world.run(&delete).await["Status"], "SUCCESS");
    assert_eq!(world.run(&delete).await["Status"], "SUCCESS");
    assert_eq!(world.entries(&bucket).await, world.foreign_entries());
}

/// The custom resource under seeded S3 faults (503s, connections closed before the request is
/// forwarded, answers dropped after it was) through the fault proxy, as CloudFormation drives
/// it: a FAILED Create is followed by its rollback Delete. Every request is answered once with a
/// reason; a SUCCESS leaves our entry beside the foreign ones, a rollback leaves the foreign ones
/// alone; no foreign entry is ever lost.
#[tokio::test]
async fn under_s3_faults_every_request_is_answered_and_foreign_entries_survive() {
    use connect_wfm_e2e::proxy::{FaultProxy, Schedule};
    let world = World::new().await;
    let config = support::sdk_config().await;
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    let mut faults = 0;
    for seed in 1..=6u64 {
        let bucket = world.seeded_bucket().await;
        let proxy = FaultProxy::start(
            &support::endpoint(),
            Schedule {
                seed,
                per_mille: 400,
                until: 30,
            },
        )
        .await;
        let store = S3NotificationStore::new(support::s3_at(&config, &proxy.url));
        let create = world.request("Create", &format!("create-{seed}"), &bucket, REPORTS_PREFIX, None);
        let answer = world.run_with(&store, &create, Duration::from_secs(30)).await;
        let status = answer["Status"].as_str().unwrap().to_owned();
        if status == "SUCCESS" {
            assert_eq!(
                world.entries(&bucket).await,
                world.with_ours(REPORTS_PREFIX),
                "seed {seed}"
            );
        } else {
            // CloudFormation rolls a failed Create back with a Delete of the same resource.
            let delete = world.request("Delete", &format!("delete-{seed}"), &bucket, REPORTS_PREFIX, None);
            let rollback = world.run_with(&store, &delete, Duration::from_secs(30)).await;
            *answers
                .entry(format!("rollback {}", rollback["Status"].as_str().unwrap()))
                .or_default() += 1;
            if rollback["Status"] == "SUCCESS" {
                assert_eq!(world.entries(&bucket).await, world.foreign_entries(), "seed {seed}");
            }
        }
        let entries = world.entries(&bucket).await;
        for foreign in world.foreign_entries() {
            assert!(entries.contains(&foreign), "seed {seed}: {foreign:?} lost");
        }
        *answers.entry(status).or_default() += 1;
        faults += proxy.injected().values().sum::<usize>();
    }
    println!("custom resource fault run: 6 schedules, {faults} S3 faults injected, answers {answers:?}");
    assert!(faults > 0);
}

/// A bucket whose foreign entries include the queue entry of the connector being migrated from:
/// `s3:ObjectCreated:Put` of every key under `connect/`, which overlaps ours.
async fn bucket_with_a_vendor_entry(world: &World) -> String {
    let bucket = world.seeded_bucket().await;
    let mut configuration = world
        .s3
        .get_bucket_notification_configuration()
        .bucket(&bucket)
        .send()
        .await
        .expect("read the seeded bucket");
    let vendor = QueueConfiguration::builder()
        .id("vendor-reports")
        .queue_arn(&world.foreign_queue_arn)
        .events(Event::from("s3:ObjectCreated:Put"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(
                            FilterRule::builder()
                                .name(FilterRuleName::Prefix)
                                .value("connect/")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let mut queues = configuration.queue_configurations.take().unwrap_or_default();
    queues.push(vendor);
    let all = NotificationConfiguration::builder()
        .set_queue_configurations(Some(queues))
        .set_lambda_function_configurations(configuration.lambda_function_configurations.take())
        .build();
    world
        .s3
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(all)
        .send()
        .await
        .unwrap_or_else(|e| panic!("seed the vendor entry: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    bucket
}

fn with_the_vendor(world: &World) -> Vec<(String, String, String)> {
    let mut entries = world.foreign_entries();
    entries.push((
        "vendor-reports".into(),
        world.foreign_queue_arn.clone(),
        "connect/".into(),
    ));
    entries.sort();
    entries
}

#[tokio::test]
async fn an_overlapping_foreign_entry_fails_the_create_naming_it_and_leaves_the_bucket_as_it_was() {
    let world = World::new().await;
    let bucket = bucket_with_a_vendor_entry(&world).await;
    assert_eq!(world.entries(&bucket).await, with_the_vendor(&world));
    let answer = world
        .run(&world.request("Create", "overlap-1", &bucket, REPORTS_PREFIX, None))
        .await;
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    let reason = answer["Reason"].as_str().unwrap();
    for part in [
        "`vendor-reports`",
        world.foreign_queue_arn.as_str(),
        "s3:ObjectCreated:Put of keys under `connect/`",
        "ReportsNotification=eventbridge",
    ] {
        assert!(reason.contains(part), "{part} missing: {reason}");
    }
    assert_eq!(world.entries(&bucket).await, with_the_vendor(&world));
    // CloudFormation's rollback Delete of the failed Create finds nothing of ours.
    let rollback = world
        .run(&world.request("Delete", "overlap-2", &bucket, REPORTS_PREFIX, None))
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(world.entries(&bucket).await, with_the_vendor(&world));
}

/// The rule of the template (ReportsObjectCreatedRule) on the default bus: the bucket's
/// `Object Created` events under the reports prefix to our queue.
async fn reports_rule(world: &World, bucket: &str) {
    use aws_sdk_eventbridge::error::DisplayErrorContext;
    let eventbridge = support::eventbridge(&support::sdk_config().await);
    let rule = support::unique("reports-created");
    let pattern = json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": REPORTS_PREFIX}]}}
    });
    eventbridge
        .put_rule()
        .name(&rule)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule {rule}: {}", DisplayErrorContext(e)));
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("reports-queue")
        .arn(&world.queue.1)
        .build()
        .unwrap();
    eventbridge
        .put_targets()
        .rule(&rule)
        .targets(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put targets {rule}: {}", DisplayErrorContext(e)));
}

/// Keys of the created objects named by the messages waiting in our queue, as the
/// historical-reports function reads them.
async fn created_keys(world: &World) -> Vec<String> {
    let messages = world.drain_our_queue().await;
    messages
        .iter()
        .flat_map(|m| match parse_notification(&m.to_string()) {
            Ok(Notification::Created(objects)) => objects.into_iter().map(|o| o.key).collect::<Vec<_>>(),
            other => panic!("not a created-object notification: {other:?}: {m}"),
        })
        .collect()
}

/// The emulator stores EventBridgeConfiguration but leaves it out of its answer to
/// GetBucketNotificationConfiguration; it does send the bucket's events to EventBridge only
/// when it is on. So "on" is shown by delivery: a report reaches our queue through the rule.
#[tokio::test]
async fn eventbridge_delivery_turns_event_bridge_on_and_keeps_the_foreign_entries() {
    let world = World::new().await;
    let bucket = bucket_with_a_vendor_entry(&world).await;
    reports_rule(&world, &bucket).await;
    let eventbridge = |kind: &str, id: &str| {
        let mut request = world.request(kind, id, &bucket, REPORTS_PREFIX, None);
        request["ResourceProperties"]["Delivery"] = json!("eventbridge");
        request
    };
    let report = |n: u32| format!("{REPORTS_PREFIX}wfm/QR-2026-11-20T10:{n:02}:00Z.csv");
    world.drain_our_queue().await;
    support::put_object(&world.s3, &bucket, &report(0), "StartInterval\n").await;
    assert_eq!(
        created_keys(&world).await,
        Vec::<String>::new(),
        "off before the Create"
    );

    let answer = world.run(&eventbridge("Create", "eb-1")).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap()
            .contains("EventBridge notifications turned on"),
        "{answer}"
    );
    assert_eq!(world.entries(&bucket).await, with_the_vendor(&world));
    support::put_object(&world.s3, &bucket, &report(15), "StartInterval\n").await;
    support::put_object(&world.s3, &bucket, "images/QR.csv", "x").await;
    assert_eq!(created_keys(&world).await, vec![report(15)]);

    let answer = world.run(&eventbridge("Delete", "eb-2")).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(answer["Reason"].as_str().unwrap().contains("left on"), "{answer}");
    assert_eq!(world.entries(&bucket).await, with_the_vendor(&world));
    support::put_object(&world.s3, &bucket, &report(30), "StartInterval\n").await;
    assert_eq!(created_keys(&world).await, vec![report(30)], "left on at Delete");
}
