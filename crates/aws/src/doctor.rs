//! `connect-wfm doctor`'s AWS side: read-only calls that gather what the pure judges of
//! `connect_wfm_core::doctor` need, for the services this build has clients of (S3, SQS): the
//! reports bucket's notification, the newest report of each kind and its header, the newest feed
//! object of each kind, and the depths of the dead-letter and failure queues the stack outputs.
//! Nothing is written.

use aws_sdk_s3::primitives::DateTime as SdkDateTime;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::custom_resource::{DEFAULT_SUFFIX, NotificationEntry, OBJECT_CREATED, OurEntry};
use connect_wfm_core::doctor::{
    Ages, Finding, StackFacts, judge_depth, judge_newest, judge_report_header, judge_reports_notification,
};
use connect_wfm_core::ports::{Fetched, NotificationStore};
use connect_wfm_core::report::{ReportKind, ReportMapping, is_csv_key, kind_from_name};

use crate::S3NotificationStore;
use crate::error::describe;

/// Bytes of a report read for its header.
const HEAD_BYTES: i64 = 64 * 1024;

/// Feed kinds whose newest object is dated (report-driven: one every 15 minutes).
const FEED_KINDS: [&str; 3] = ["queue_interval", "agent_queue_interval", "agent_interval"];

/// The clients the doctor reads with.
#[derive(Debug, Clone)]
pub struct DoctorClients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

fn utc(time: Option<&SdkDateTime>) -> Option<DateTime<Utc>> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// Every check this build can make of the stack described by `stack`, at `now`.
pub async fn examine(
    clients: &DoctorClients,
    stack: &StackFacts,
    mapping: &ReportMapping,
    ages: Ages,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    match stack.parameter("ReportsBucketName") {
        None => findings.push(Finding::problem(
            "reports bucket",
            format!("stack {} has no ReportsBucketName parameter", stack.name),
            "give the describe-stacks output of a connect-wfm stack",
        )),
        Some(bucket) => {
            let prefix = stack.parameter("ReportsPrefix").unwrap_or("connect/");
            findings.push(reports_notification(clients, stack, bucket, prefix).await);
            findings.extend(newest_reports(clients, bucket, prefix, mapping, ages, now).await);
        }
    }
    match stack.output("FeedBucketName") {
        None => findings.push(Finding::problem(
            "feed bucket",
            format!("stack {} has no FeedBucketName output", stack.name),
            "give the describe-stacks output of a connect-wfm stack",
        )),
        Some(bucket) => {
            let prefix = stack.parameter("FeedPrefix").unwrap_or("");
            for kind in FEED_KINDS {
                findings.push(newest_feed(clients, bucket, prefix, kind, ages.feed, now).await);
            }
        }
    }
    for (key, url) in &stack.outputs {
        if key.ends_with("DeadLetterQueueUrl") || key.ends_with("FailureQueueUrl") {
            let check = key.trim_end_matches("Url");
            let depth = queue_depth(&clients.sqs, url).await;
            let fix = if key.ends_with("DeadLetterQueueUrl") {
                "read the reason under the feed's rejects/ or the function's log, fix it, then redrive the queue (or `connect-wfm reload`)"
            } else {
                "read the reasons in the messages, fix the cause, then replay the batches from the stream"
            };
            findings.push(judge_depth(check, depth, fix));
        }
    }
    findings
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<String> {
    let output = (sqs.get_queue_attributes().queue_url(url))
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()?;
    output.attributes()?.get(&QueueAttributeName::QueueArn).cloned()
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<u64> {
    let output = (sqs.get_queue_attributes().queue_url(url))
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .ok()?;
    output
        .attributes()?
        .get(&QueueAttributeName::ApproximateNumberOfMessages)?
        .parse()
        .ok()
}

async fn reports_notification(clients: &DoctorClients, stack: &StackFacts, bucket: &str, prefix: &str) -> Finding {
    let check = "reports notification";
    let Some(queue_url) = stack.output("ReportsQueueUrl") else {
        return Finding::problem(
            check,
            "the stack has no ReportsQueueUrl output",
            "give the describe-stacks output of a connect-wfm stack",
        );
    };
    let Some(queue_arn) = queue_arn(&clients.sqs, queue_url).await else {
        return Finding::problem(
            check,
            format!("the reports queue {queue_url} cannot be read"),
            "check the stack is deployed and you may read its queues",
        );
    };
    let store = S3NotificationStore::new(clients.s3.clone());
    let configuration = match store.get(bucket).await {
        Ok(Fetched::Found(configuration)) => configuration,
        Ok(Fetched::BucketGone) => {
            return Finding::problem(
                check,
                format!("bucket {bucket} does not exist"),
                "deploy with ReportsBucketName the bucket Connect writes its reports to",
            );
        }
        Err(e) => {
            return Finding::problem(
                check,
                e.to_string(),
                "allow s3:GetBucketNotification on the reports bucket",
            );
        }
    };
    let wanted = NotificationEntry {
        id: None,
        destination: queue_arn,
        events: vec![OBJECT_CREATED.to_owned()],
        prefix: prefix.to_owned(),
        suffix: DEFAULT_SUFFIX.to_owned(),
    };
    let eventbridge = stack.parameter("ReportsNotification") == Some("eventbridge");
    judge_reports_notification(
        bucket,
        &configuration.entries(),
        configuration.event_bridge(),
        &wanted,
        eventbridge,
    )
}

/// `(key, last modified)` of every object under `prefix` that `keep` accepts.
async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, DateTime<Utc>)>, String> {
    let mut objects = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("list s3://{bucket}/{prefix}: {}", describe(&e)))?;
        for object in page.contents() {
            if let (Some(key), Some(time)) = (object.key(), utc(object.last_modified())) {
                if keep(key) {
                    objects.push((key.to_owned(), time));
                }
            }
        }
    }
    Ok(objects)
}

async fn newest_reports(
    clients: &DoctorClients,
    bucket: &str,
    prefix: &str,
    mapping: &ReportMapping,
    ages: Ages,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let objects = match list(&clients.s3, bucket, prefix, is_csv_key).await {
        Ok(objects) => objects,
        Err(e) => {
            return vec![Finding::problem(
                "reports",
                e,
                "allow s3:ListBucket on the reports bucket",
            )];
        }
    };
    let mut findings = Vec::new();
    for kind in ReportKind::ALL {
        let newest = (objects.iter())
            .filter(|(key, _)| kind_from_name(key, mapping) == Some(kind))
            .max_by_key(|(key, time)| (*time, key.clone()));
        let check = format!("newest {} report", kind.tag());
        let fix = format!(
            "check the scheduled {} report in Connect (Analytics, Saved reports: every 15 minutes, to s3://{bucket}/{prefix})",
            kind.tag()
        );
        findings.push(judge_newest(
            &check,
            newest.map(|(k, t)| (k.as_str(), *t)),
            now,
            ages.report,
            &fix,
        ));
        if let Some((key, _)) = newest {
            findings.push(match head(&clients.s3, bucket, key).await {
                Ok(bytes) => judge_report_header(kind, bucket, key, &bytes, mapping),
                Err(e) => Finding::problem(
                    format!("header of the newest {} report", kind.tag()),
                    e,
                    "allow s3:GetObject (and kms:Decrypt with ReportsKmsKeyArn) on the reports",
                ),
            });
        }
    }
    findings
}

async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let output = (s3.get_object().bucket(bucket).key(key))
        .range(format!("bytes=0-{}", HEAD_BYTES - 1))
        .send()
        .await
        .map_err(|e| format!("read s3://{bucket}/{key}: {}", describe(&e)))?;
    let bytes = (output.body.collect().await)
        .map_err(|e| format!("read s3://{bucket}/{key}: {e}"))?
        .into_bytes();
    // The header alone: a row cut at the range's end must not read as a broken report.
    let end = bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| i + 1);
    Ok(bytes[..end].to_vec())
}

/// The newest feed object of `kind`, looked for under today's and yesterday's date folders
/// (`<prefix><kind>/<YYYY-MM-DD>/`), so a large feed is not listed whole.
async fn newest_feed(
    clients: &DoctorClients,
    bucket: &str,
    prefix: &str,
    kind: &str,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Finding {
    let check = format!("newest {kind} feed object");
    let mut newest: Option<(String, DateTime<Utc>)> = None;
    for day in [now.date_naive(), (now - Duration::days(1)).date_naive()] {
        let folder = format!("{prefix}{kind}/{}/", day.format("%Y-%m-%d"));
        match list(&clients.s3, bucket, &folder, |_| true).await {
            Ok(objects) => {
                if let Some(found) = objects.into_iter().max_by_key(|(k, t)| (*t, k.clone())) {
                    if newest.as_ref().is_none_or(|(_, t)| found.1 > *t) {
                        newest = Some(found);
                    }
                }
            }
            Err(e) => return Finding::problem(check, e, "allow s3:ListBucket on the feed bucket"),
        }
    }
    judge_newest(
        &check,
        newest.as_ref().map(|(k, t)| (k.as_str(), *t)),
        now,
        max_age,
        "see the newest report checks above and the historical-reports function's log",
    )
}
