//! The custom-resource handler: one CloudFormation request in, exactly one answer out.
//!
//! Create and Update read the bucket's configuration, add or replace our entry (found by its
//! deterministic Id) and write the whole configuration back in one call; an Update that moves
//! to another bucket then takes our entry out of the old one. Another owner's entry that
//! overlaps ours (S3 would refuse the configuration with a generic error) fails the request
//! before anything is written, with a Reason naming that entry and the way out: `Delivery:
//! eventbridge`, which only turns the bucket's EventBridge notifications on (a rule of the stack
//! routes them to the queue). Delete takes only our entry out, and leaves EventBridge
//! notifications on; a bucket that is gone is a success. The work runs under a timeout that leaves time to
//! answer before the Lambda deadline, so CloudFormation always hears SUCCESS or FAILED (with a
//! Reason) instead of waiting an hour. Every step is idempotent: a request delivered twice
//! does the same thing twice.

use std::time::Duration;

use connect_wfm_core::custom_resource::{Change, Delivery, overlap_reason, overlapping};
use connect_wfm_core::ports::{Fetched, NotificationStore, PortError, ResponseSender, Stored};
use connect_wfm_core::retry::Backoff;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::counts::counts;

pub mod request;

pub use connect_wfm_core::custom_resource::{OurEntry, ReportsNotification, notification_id};
pub use request::{CustomResourceResponse, Status};
use request::{Properties, RequestType, bucket_name, envelope, id_of, parse, properties};

/// Time kept back from the work to send the answer: a quarter of what is left, at most this.
pub const MAX_SEND_RESERVE: Duration = Duration::from_secs(5);

/// Attempts at delivering the answer before giving up.
pub const SEND_ATTEMPTS: u32 = 3;

/// The pauses between them: from 200 ms, doubling (with jitter), at most 1 s.
const SEND_RETRY: Backoff = Backoff::new(
    Duration::from_millis(200),
    Duration::from_secs(1),
    SEND_ATTEMPTS as usize - 1,
);

/// A request that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Without a ResponseURL there is nowhere to answer.
    #[error("the request has no ResponseURL: it cannot be answered")]
    NoResponseUrl,
    /// Every attempt at sending the answer failed.
    #[error("answering request {request_id} ({status:?}: {reason}) failed: {error}")]
    NotDelivered {
        request_id: String,
        status: Status,
        reason: String,
        error: PortError,
    },
}

/// What the work did, for the Reason.
struct Done {
    reason: String,
    bucket: Option<String>,
}

/// Name of this function in logs and metrics.
pub const FUNCTION: &str = "bucket-notifications";

counts! {
    /// What one request came to (the metrics: a FAILED answer is a stack operation that failed,
    /// an unanswered request one that waits for CloudFormation's timeout).
    pub struct RequestCounts {
        requests,
        /// Answered FAILED.
        failed => counter "FailedRequests",
        /// Not answered: no ResponseURL, or every attempt at sending failed.
        unanswered => counter "UnansweredRequests",
    }
}

/// Handles one request and answers it through `sender` before `deadline` (the Lambda
/// deadline). Returns the answer sent; an error only when no answer could be sent. Every log
/// line of the request names it (a span with its id), and its outcome is counted.
pub async fn handle_request<S, R>(
    request: &Value,
    store: &S,
    sender: &R,
    deadline: Instant,
) -> Result<CustomResourceResponse, HandlerError>
where
    S: NotificationStore,
    R: ResponseSender,
{
    let text = |name: &str| request.get(name).and_then(Value::as_str).unwrap_or("-").to_owned();
    let span = tracing::info_span!(
        "request",
        request_type = %text("RequestType"),
        request_id = %text("RequestId"),
        logical_resource_id = %text("LogicalResourceId"),
    );
    let result = answer(request, store, sender, deadline).instrument(span).await;
    let counts = RequestCounts {
        requests: 1,
        failed: usize::from(matches!(&result, Ok(response) if response.status == Status::Failed)),
        unanswered: usize::from(result.is_err()),
    };
    counts.record_counts();
    result
}

async fn answer<S, R>(
    request: &Value,
    store: &S,
    sender: &R,
    deadline: Instant,
) -> Result<CustomResourceResponse, HandlerError>
where
    S: NotificationStore,
    R: ResponseSender,
{
    let Some(envelope) = envelope(request) else {
        tracing::error!("custom resource request without ResponseURL: not answered");
        return Err(HandlerError::NoResponseUrl);
    };
    let id = id_of(&envelope);
    let request_type = request.get("RequestType").and_then(Value::as_str).unwrap_or("?");
    let reserve = (deadline.saturating_duration_since(Instant::now()) / 4).min(MAX_SEND_RESERVE);
    let work_deadline = deadline.checked_sub(reserve).unwrap_or(deadline);
    let response = match tokio::time::timeout_at(work_deadline, apply(request, &id, store)).await {
        Ok(Ok(done)) => {
            let mut response = CustomResourceResponse::new(&envelope, &id, Status::Success, done.reason);
            response.data.insert("NotificationId".into(), id.clone().into());
            if let Some(bucket) = done.bucket {
                response.data.insert("BucketName".into(), bucket.into());
            }
            response
        }
        Ok(Err(reason)) => CustomResourceResponse::new(&envelope, &id, Status::Failed, reason),
        Err(_) => CustomResourceResponse::new(
            &envelope,
            &id,
            Status::Failed,
            format!(
                "{request_type} of {id} timed out: S3 did not answer in time (answered before the function's \
                 deadline instead); retry the stack operation"
            ),
        ),
    };
    match response.status {
        Status::Success => tracing::info!(
            request_type,
            request_id = %envelope.request_id,
            logical_resource_id = %envelope.logical_resource_id,
            reason = %response.reason,
            "custom resource request succeeded"
        ),
        Status::Failed => tracing::warn!(
            request_type,
            request_id = %envelope.request_id,
            logical_resource_id = %envelope.logical_resource_id,
            reason = %response.reason,
            "custom resource request failed"
        ),
    }
    deliver(sender, &envelope.response_url, &response, deadline).await?;
    Ok(response)
}

/// Sends the answer, trying again after a short pause, until it is delivered or the deadline
/// is near.
async fn deliver<R: ResponseSender>(
    sender: &R,
    url: &str,
    response: &CustomResourceResponse,
    deadline: Instant,
) -> Result<(), HandlerError> {
    let not_delivered = |error: PortError| HandlerError::NotDelivered {
        request_id: response.request_id.clone(),
        status: response.status,
        reason: response.reason.clone(),
        error,
    };
    let mut last = None;
    let mut pauses = SEND_RETRY.delays();
    for attempt in 1..=SEND_ATTEMPTS {
        match tokio::time::timeout_at(deadline, sender.send(url, response)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(attempt, %error, "sending the custom resource answer failed");
                last = Some(error);
            }
            Err(_) => {
                return Err(not_delivered(PortError::new(
                    "send the custom resource answer",
                    "the function's deadline came first",
                    true,
                )));
            }
        }
        if let Some(pause) = pauses.next() {
            if Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
    Err(not_delivered(last.unwrap_or_else(|| {
        PortError::new("send the custom resource answer", "no attempt made", true)
    })))
}

/// Does what the request asks; the error is the Reason of a FAILED answer.
async fn apply<S: NotificationStore>(request: &Value, id: &str, store: &S) -> Result<Done, String> {
    let request = parse(request).map_err(|e| format!("cannot handle this request: {e}"))?;
    match request.request_type {
        RequestType::Create => {
            let new = properties("ResourceProperties", &request.properties, id).map_err(|e| e.to_string())?;
            let reason = configure(store, &new).await?;
            Ok(Done {
                reason,
                bucket: Some(new.bucket),
            })
        }
        RequestType::Update => {
            let new = properties("ResourceProperties", &request.properties, id).map_err(|e| e.to_string())?;
            let mut reason = configure(store, &new).await?;
            // The old bucket is only needed to leave it; unreadable old properties mean there
            // was nothing of ours to leave.
            let old_bucket = request
                .old_properties
                .as_ref()
                .and_then(|old| bucket_name("OldResourceProperties", old).ok());
            if let Some(old_bucket) = old_bucket.filter(|old| *old != new.bucket) {
                reason.push_str("; ");
                reason.push_str(&remove(store, &old_bucket, id).await?);
            }
            Ok(Done {
                reason,
                bucket: Some(new.bucket),
            })
        }
        RequestType::Delete => match bucket_name("ResourceProperties", &request.properties) {
            Ok(bucket) => {
                let mut reason = remove(store, &bucket, id).await?;
                let eventbridge = properties("ResourceProperties", &request.properties, id)
                    .is_ok_and(|p| p.delivery == Delivery::EventBridge);
                if eventbridge {
                    // Never turned off: other consumers may have come to rely on it since, and
                    // S3's events on the default bus cost nothing (README, ReportsNotification).
                    reason.push_str("; the bucket's EventBridge notifications are left on");
                }
                Ok(Done {
                    reason,
                    bucket: Some(bucket),
                })
            }
            // A Create that failed on its properties is followed by a Delete with the same
            // properties: it created nothing, so there is nothing to remove.
            Err(e) => Ok(Done {
                reason: format!("nothing to remove: {e}"),
                bucket: None,
            }),
        },
    }
}

/// Adds or replaces our entry in the bucket's configuration, unless another entry overlaps it
/// (S3 would refuse the whole configuration: we refuse first, naming that entry, and write
/// nothing); or, delivering through EventBridge, turns the bucket's EventBridge notifications on
/// and takes out our entry of an earlier queue delivery.
async fn configure<S: NotificationStore>(store: &S, properties: &Properties) -> Result<String, String> {
    let (bucket, ours) = (properties.bucket.as_str(), &properties.notification);
    let gone = || {
        format!(
            "bucket {bucket} does not exist (NoSuchBucket): give the name of the existing bucket Connect writes its \
             reports to"
        )
    };
    let mut configuration = match store.get(bucket).await.map_err(|e| e.to_string())? {
        Fetched::Found(configuration) => configuration,
        Fetched::BucketGone => return Err(gone()),
    };
    let (what, change, validate) = match properties.delivery {
        Delivery::Queue => {
            let entry = ours.entry();
            if let Some(theirs) = overlapping(&configuration.entries(), &entry) {
                return Err(overlap_reason(bucket, theirs, &entry));
            }
            let what = format!(
                "s3://{bucket}: ObjectCreated events of {} go to {} (notification {})",
                ours.describe_filter(),
                ours.queue_arn,
                ours.id
            );
            (what, configuration.upsert(ours), true)
        }
        Delivery::EventBridge => {
            let was_on = configuration.event_bridge();
            let removed = configuration.remove(&ours.id);
            let enabled = configuration.enable_event_bridge();
            let what = format!(
                "s3://{bucket}: EventBridge notifications {} (the stack's rule routes Object Created events of {} to \
                 {}){}",
                if was_on { "were already on" } else { "turned on" },
                ours.describe_filter(),
                ours.queue_arn,
                if removed == Change::Changed {
                    format!("; queue notification {} removed", ours.id)
                } else {
                    String::new()
                }
            );
            let change = if removed == Change::Changed || enabled == Change::Changed {
                Change::Changed
            } else {
                Change::Unchanged
            };
            // No destination of ours to check; a foreign target S3 no longer accepts must not
            // stop us.
            (what, change, false)
        }
    };
    if change == Change::Unchanged {
        return Ok(format!("{what}; already so, nothing written"));
    }
    match store
        .put(bucket, &configuration, validate)
        .await
        .map_err(|e| e.to_string())?
    {
        Stored::Written => Ok(what),
        Stored::BucketGone => Err(gone()),
    }
}

/// Takes our entry out of `bucket`'s configuration; a bucket that is gone has none.
async fn remove<S: NotificationStore>(store: &S, bucket: &str, id: &str) -> Result<String, String> {
    let gone = format!("bucket {bucket} no longer exists: nothing to remove");
    let mut configuration = match store.get(bucket).await.map_err(|e| e.to_string())? {
        Fetched::Found(configuration) => configuration,
        Fetched::BucketGone => return Ok(gone),
    };
    if configuration.remove(id) == Change::Unchanged {
        return Ok(format!("s3://{bucket} has no notification {id}: nothing to remove"));
    }
    // Only our entry leaves: the others are written back as they were, without a check of
    // their targets, so someone else's broken target cannot block the removal.
    match store
        .put(bucket, &configuration, false)
        .await
        .map_err(|e| e.to_string())?
    {
        Stored::Written => Ok(format!("s3://{bucket}: notification {id} removed")),
        Stored::BucketGone => Ok(gone),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use aws_sdk_s3::types::{Event, QueueConfiguration};
    use connect_wfm_aws::memory::MemoryNotificationStore;
    use connect_wfm_aws::notifications::NotificationConfiguration;
    use connect_wfm_core::memory::MemoryResponseSender;

    use super::*;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/wfm/0c4f";
    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:reports";

    fn request(kind: &str, bucket: &str, prefix: &str, old: Option<(&str, &str)>) -> Value {
        let mut r = json!({
            "RequestType": kind,
            "ResponseURL": "https://responses.invalid/put-here",
            "StackId": STACK,
            "RequestId": format!("req-{kind}"),
            "LogicalResourceId": "ReportsNotification",
            "ResourceType": "Custom::ReportsBucketNotification",
            "ResourceProperties": {"ServiceToken": "arn:fn", "BucketName": bucket, "QueueArn": QUEUE, "Prefix": prefix}
        });
        if kind != "Create" {
            r["PhysicalResourceId"] = json!(id());
        }
        if let Some((b, p)) = old {
            r["OldResourceProperties"] =
                json!({"ServiceToken": "arn:fn", "BucketName": b, "QueueArn": QUEUE, "Prefix": p});
        }
        r
    }

    fn id() -> String {
        notification_id(STACK, "ReportsNotification")
    }

    fn foreign() -> NotificationConfiguration {
        let theirs = QueueConfiguration::builder()
            .id("theirs")
            .queue_arn("arn:aws:sqs:us-east-1:123456789012:other")
            .events(Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap();
        NotificationConfiguration {
            queue_configurations: vec![theirs],
            ..Default::default()
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    async fn run(store: &MemoryNotificationStore, r: &Value) -> CustomResourceResponse {
        let sender = MemoryResponseSender::default();
        let response = handle_request(r, store, &sender, soon()).await.unwrap();
        assert_eq!(sender.responses(), vec![response.clone()], "exactly one answer");
        assert!(!response.reason.is_empty());
        assert_eq!(response.physical_resource_id, id());
        response
    }

    fn ours_in(store: &MemoryNotificationStore, bucket: &str) -> Option<QueueConfiguration> {
        store
            .configuration(bucket)?
            .queue_configurations
            .into_iter()
            .find(|e| e.id() == Some(id().as_str()))
    }

    #[tokio::test]
    async fn create_update_move_and_delete_keep_foreign_entries() {
        let store = MemoryNotificationStore::default();
        store.insert("a", foreign());
        store.insert("b", foreign());
        let r = run(&store, &request("Create", "a", "connect/x/Reports/", None)).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        assert_eq!(r.data["NotificationId"], json!(id()));
        assert_eq!(store.configuration("a").unwrap().queue_configurations.len(), 2);
        let puts = store.puts.load(Ordering::Relaxed);
        let again = run(&store, &request("Create", "a", "connect/x/Reports/", None)).await;
        assert_eq!(again.status, Status::Success);
        assert_eq!(store.puts.load(Ordering::Relaxed), puts, "a repeat writes nothing");

        let r = run(
            &store,
            &request("Update", "a", "new/", Some(("a", "connect/x/Reports/"))),
        )
        .await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        let entry = ours_in(&store, "a").unwrap();
        let rules = entry.filter().and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap();
        assert_eq!(rules[0].value(), Some("new/"));

        let r = run(&store, &request("Update", "b", "new/", Some(("a", "new/")))).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        assert_eq!(store.configuration("a").unwrap(), foreign());
        assert!(ours_in(&store, "b").is_some());

        let r = run(&store, &request("Delete", "b", "new/", None)).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        assert_eq!(store.configuration("b").unwrap(), foreign());
        let r = run(&store, &request("Delete", "b", "new/", None)).await;
        assert!(r.reason.contains("nothing to remove"), "{}", r.reason);
        store.remove_bucket("b");
        let r = run(&store, &request("Delete", "b", "new/", None)).await;
        assert_eq!(r.status, Status::Success);
        assert!(r.reason.contains("no longer exists"), "{}", r.reason);
    }

    fn vendor_entry() -> QueueConfiguration {
        QueueConfiguration::builder()
            .id("vendor-reports")
            .queue_arn("arn:aws:sqs:us-east-1:123456789012:vendor")
            .events(Event::from("s3:ObjectCreated:Put"))
            .filter(
                aws_sdk_s3::types::NotificationConfigurationFilter::builder()
                    .key(
                        aws_sdk_s3::types::S3KeyFilter::builder()
                            .filter_rules(
                                aws_sdk_s3::types::FilterRule::builder()
                                    .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                                    .value("connect/")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn an_overlapping_foreign_entry_fails_the_create_naming_it_and_nothing_is_written() {
        let store = MemoryNotificationStore::default();
        let mut configuration = foreign();
        configuration.queue_configurations.push(vendor_entry());
        store.insert("a", configuration.clone());
        let r = run(&store, &request("Create", "a", "connect/x/Reports/", None)).await;
        assert_eq!(r.status, Status::Failed);
        for part in [
            "`vendor-reports`",
            "arn:aws:sqs:us-east-1:123456789012:vendor",
            "s3:ObjectCreated:Put of keys under `connect/`",
            "ReportsNotification=eventbridge",
        ] {
            assert!(r.reason.contains(part), "{part} missing: {}", r.reason);
        }
        assert_eq!(store.configuration("a").unwrap(), configuration);
        assert_eq!(store.puts.load(Ordering::Relaxed), 0, "nothing written");
        // A prefix beside the vendor's does not overlap.
        let r = run(&store, &request("Create", "a", "other/", None)).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
    }

    #[tokio::test]
    async fn eventbridge_delivery_turns_event_bridge_on_keeps_every_entry_and_drops_our_queue_entry() {
        let store = MemoryNotificationStore::default();
        let mut configuration = foreign();
        configuration.queue_configurations.push(vendor_entry());
        store.insert("a", configuration.clone());
        let eventbridge = |kind: &str| {
            let mut r = request(kind, "a", "connect/x/Reports/", None);
            r["ResourceProperties"]["Delivery"] = json!("eventbridge");
            r
        };
        let r = run(&store, &eventbridge("Create")).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        assert!(r.reason.contains("EventBridge notifications turned on"), "{}", r.reason);
        let stored = store.configuration("a").unwrap();
        assert!(stored.event_bridge_configuration.is_some());
        assert_eq!(stored.queue_configurations, configuration.queue_configurations);
        let puts = store.puts.load(Ordering::Relaxed);
        let again = run(&store, &eventbridge("Update")).await;
        assert!(again.reason.contains("were already on"), "{}", again.reason);
        assert_eq!(store.puts.load(Ordering::Relaxed), puts, "a repeat writes nothing");

        // From queue delivery to EventBridge: our queue entry goes.
        let store = MemoryNotificationStore::default();
        store.insert("a", foreign());
        assert_eq!(
            run(&store, &request("Create", "a", "p/", None)).await.status,
            Status::Success
        );
        assert!(ours_in(&store, "a").is_some());
        let r = run(&store, &eventbridge("Update")).await;
        assert!(r.reason.contains("removed"), "{}", r.reason);
        assert!(ours_in(&store, "a").is_none());
        let r = run(&store, &eventbridge("Delete")).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);
        assert!(r.reason.contains("left on"), "{}", r.reason);
        let after = store.configuration("a").unwrap();
        assert!(after.event_bridge_configuration.is_some(), "left on at Delete");
        assert_eq!(after.queue_configurations, foreign().queue_configurations);
    }

    #[tokio::test]
    async fn failures_answer_failed_with_a_reason() {
        let store = MemoryNotificationStore::default();
        let r = run(&store, &request("Create", "missing", "", None)).await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("bucket missing does not exist"), "{}", r.reason);

        store.insert("a", foreign());
        *store.fail_with.lock().unwrap() = Some("AccessDenied: Access Denied".into());
        let r = run(&store, &request("Create", "a", "", None)).await;
        assert_eq!(r.status, Status::Failed);
        assert!(
            r.reason.contains("AccessDenied") && r.reason.contains("bucket a"),
            "{}",
            r.reason
        );

        let mut bad = request("Create", "a", "", None);
        bad["ResourceProperties"].as_object_mut().unwrap().remove("QueueArn");
        let r = run(&store, &bad).await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("ResourceProperties.QueueArn"), "{}", r.reason);

        // The Delete that follows a Create refused for its properties succeeds.
        let mut bad_delete = request("Delete", "a", "", None);
        bad_delete["ResourceProperties"] = json!({"ServiceToken": "arn:fn"});
        let r = run(&store, &bad_delete).await;
        assert_eq!(r.status, Status::Success, "{}", r.reason);

        let mut unknown = request("Create", "a", "", None);
        unknown["RequestType"] = json!("Import");
        let r = run(&store, &unknown).await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("Import"), "{}", r.reason);
    }

    #[tokio::test]
    async fn a_hanging_store_is_answered_before_the_deadline() {
        let store = MemoryNotificationStore::default();
        store.hang.store(true, Ordering::Relaxed);
        let sender = MemoryResponseSender::default();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(2);
        let r = handle_request(&request("Create", "a", "", None), &store, &sender, deadline)
            .await
            .unwrap();
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("timed out"), "{}", r.reason);
        // A quarter of the time is kept for the answer.
        assert!(Instant::now() >= start + Duration::from_millis(1400));
        assert!(Instant::now() < deadline);
        assert_eq!(sender.responses().len(), 1);
    }

    #[tokio::test]
    async fn sending_is_tried_again_and_a_lost_answer_is_an_error() {
        let store = MemoryNotificationStore::default();
        store.insert("a", foreign());
        let sender = MemoryResponseSender::default();
        sender.fail_times.store(2, Ordering::Relaxed);
        let r = handle_request(&request("Create", "a", "", None), &store, &sender, soon()).await;
        assert_eq!(r.unwrap().status, Status::Success);
        assert_eq!(sender.responses().len(), 1);

        sender.fail_times.store(SEND_ATTEMPTS as usize, Ordering::Relaxed);
        let err = handle_request(&request("Delete", "a", "", None), &store, &sender, soon())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("connection reset"), "{err}");

        let mut no_url = request("Create", "a", "", None);
        no_url.as_object_mut().unwrap().remove("ResponseURL");
        let err = handle_request(&no_url, &store, &sender, soon()).await.unwrap_err();
        assert!(matches!(err, HandlerError::NoResponseUrl));
    }
}
