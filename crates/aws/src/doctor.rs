//! `connect-wfm doctor`'s AWS side (the `doctor` feature): read-only calls that gather what the
//! pure judges of `connect_wfm_core::doctor` need: the stack (CloudFormation DescribeStacks), the
//! reports bucket's notification, the newest report of each kind and its header, the newest feed
//! object of each kind, the depths of the dead-letter and failure queues the stack outputs, the
//! streams (Kinesis) and their keys' policies (KMS), the functions' event source mappings and
//! roles (Lambda), the instance's storage configs (Connect, behind the
//! [`InstanceStorageConfigs`] port) and the instances' progress in the agent-state table.
//! Nothing is written.

use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use aws_sdk_s3::primitives::DateTime as SdkDateTime;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::custom_resource::{DEFAULT_SUFFIX, NotificationEntry, OBJECT_CREATED, OurEntry};
use connect_wfm_core::doctor::{
    Ages, Finding, InstanceStorageConfigs, MappingState, StackFacts, StorageConfig, check_storage_config, judge_depth,
    judge_iterator_age, judge_mapping, judge_newest, judge_progress, judge_reader_key, judge_report_header,
    judge_reports_notification, judge_stream, judge_stream_key,
};
use connect_wfm_core::ports::{Fetched, NotificationStore, PortError, ProgressStore};
use connect_wfm_core::report::{ReportKind, ReportMapping, is_csv_key, kind_from_name};

use crate::error::{describe, port_error};
use crate::{DynamoStateStore, S3NotificationStore};

/// Bytes of a report read for its header.
const HEAD_BYTES: i64 = 64 * 1024;

/// Feed kinds whose newest object is dated (report-driven: one every 15 minutes).
const FEED_KINDS: [&str; 3] = ["queue_interval", "agent_queue_interval", "agent_interval"];

/// The streams the stack reads: their output (and the parameter an older stack gives them by),
/// the function reading each (its name's output), and Connect's storage resource type for it.
struct StreamOfStack {
    label: &'static str,
    output: &'static str,
    parameter: &'static str,
    function_output: &'static str,
    resource_type: &'static str,
    required: bool,
}

const STREAMS: [StreamOfStack; 2] = [
    StreamOfStack {
        label: "agent-event stream",
        output: "AgentEventsSourceStreamArn",
        parameter: "AgentEventStreamArn",
        function_output: "AgentEventsFunctionName",
        resource_type: "AGENT_EVENTS",
        required: true,
    },
    StreamOfStack {
        label: "contact-record stream",
        output: "ContactRecordsSourceStreamArn",
        parameter: "ContactRecordStreamArn",
        function_output: "ContactEventsFunctionName",
        resource_type: "CONTACT_TRACE_RECORDS",
        required: false,
    },
];

/// The clients the doctor reads with.
#[derive(Debug, Clone)]
pub struct DoctorClients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub kms: aws_sdk_kms::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl DoctorClients {
    /// Every client from one SDK configuration (S3 path-style as [`crate::config::s3_client`]).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            s3: crate::config::s3_client(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            kinesis: aws_sdk_kinesis::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }
}

/// A CloudFormation client, for [`describe_stack`].
pub fn cloudformation_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(sdk)
}

/// The stack `name` as CloudFormation's DescribeStacks gives it: the facts `--stack-file` reads
/// from the CLI's JSON of the same call.
pub async fn describe_stack(cloudformation: &aws_sdk_cloudformation::Client, name: &str) -> Result<StackFacts, String> {
    let output = (cloudformation.describe_stacks().stack_name(name).send().await)
        .map_err(|e| format!("describe stack {name}: {}", describe(&e)))?;
    let stack = (output.stacks().first()).ok_or_else(|| format!("describe stack {name}: no such stack"))?;
    Ok(StackFacts {
        name: stack.stack_name().unwrap_or(name).to_owned(),
        parameters: (stack.parameters().iter())
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value().unwrap_or("").to_owned(),
                ))
            })
            .collect(),
        outputs: (stack.outputs().iter())
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or("").to_owned())))
            .collect(),
    })
}

/// Connect's ListInstanceStorageConfigs: the SDK side of the [`InstanceStorageConfigs`] port.
#[derive(Debug, Clone)]
pub struct ConnectStorageConfigs(pub aws_sdk_connect::Client);

impl ConnectStorageConfigs {
    /// The port on a Connect client of `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_connect::Client::new(sdk))
    }
}

impl InstanceStorageConfigs for ConnectStorageConfigs {
    async fn list(&self, instance_arn: &str, resource_type: &str) -> Result<Vec<StorageConfig>, PortError> {
        // The API takes the instance's id, the ARN's last part (it accepts the ARN too).
        let instance_id = instance_arn.rsplit('/').next().unwrap_or(instance_arn);
        let mut pages = (self.0.list_instance_storage_configs())
            .instance_id(instance_id)
            .resource_type(resource_type.into())
            .into_paginator()
            .send();
        let mut configs = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                port_error(
                    format!("list the {resource_type} storage configs of {instance_arn}"),
                    &e,
                )
            })?;
            configs.extend(page.storage_configs().iter().map(|c| StorageConfig {
                resource_type: resource_type.to_owned(),
                stream_arn: c.kinesis_stream_config().map(|k| k.stream_arn().to_owned()),
            }));
        }
        Ok(configs)
    }
}

fn utc(time: Option<&SdkDateTime>) -> Option<DateTime<Utc>> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// Every check of the stack described by `stack`, at `now`; Connect's storage configs through
/// `storage` (when the stack names its instance).
pub async fn examine(
    clients: &DoctorClients,
    storage: &impl InstanceStorageConfigs,
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
    let instance = (stack.output("ConnectInstance")).or_else(|| stack.parameter("ConnectInstanceArn"));
    for of_stack in &STREAMS {
        let arn = (stack.output(of_stack.output))
            .or_else(|| stack.parameter(of_stack.parameter).filter(|p| p.starts_with("arn:")));
        match arn {
            Some(arn) => findings.extend(stream_checks(clients, storage, stack, of_stack, arn, instance).await),
            None if of_stack.required => findings.push(Finding::problem(
                of_stack.label,
                format!("stack {} has no {} output", stack.name, of_stack.output),
                "give the describe-stacks output of a connect-wfm stack",
            )),
            None => {}
        }
    }
    match stack.output("AgentStateTableName") {
        None => findings.push(Finding::problem(
            "agent events",
            format!("stack {} has no AgentStateTableName output", stack.name),
            "give the describe-stacks output of a connect-wfm stack",
        )),
        Some(table) => match DynamoStateStore::new(clients.dynamodb.clone(), table)
            .load_progress()
            .await
        {
            Ok(progress) => findings.extend(judge_progress(&progress, now)),
            Err(e) => findings.push(Finding::problem(
                "agent events",
                e.to_string(),
                "allow dynamodb:GetItem on the agent-state table",
            )),
        },
    }
    findings
}

/// A stream of the stack: it exists and is active; its key lets Connect write and the function
/// read; the function's mapping from it is enabled; the instance streams to it.
async fn stream_checks(
    clients: &DoctorClients,
    storage: &impl InstanceStorageConfigs,
    stack: &StackFacts,
    of_stack: &StreamOfStack,
    arn: &str,
    instance: Option<&str>,
) -> Vec<Finding> {
    let label = of_stack.label;
    let mut findings = Vec::new();
    let function = stack.output(of_stack.function_output);
    match clients.kinesis.describe_stream_summary().stream_arn(arn).send().await {
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            findings.push(judge_stream(label, arn, None));
        }
        Err(e) => findings.push(Finding::problem(
            label,
            format!("{arn} cannot be described: {}", describe(&e)),
            "allow kinesis:DescribeStreamSummary on the stream",
        )),
        Ok(output) => {
            let summary = output.stream_description_summary();
            findings.push(judge_stream(label, arn, summary.map(|s| s.stream_status().as_str())));
            let key = summary
                .filter(|s| s.encryption_type() == Some(&aws_sdk_kinesis::types::EncryptionType::Kms))
                .and_then(|s| s.key_id());
            findings.extend(key_checks(clients, label, key, function).await);
        }
    }
    if let Some(function) = function {
        findings.push(event_source_mapping(&clients.lambda, label, arn, function).await);
        findings.push(iterator_age(&clients.cloudwatch, label, function).await);
    }
    if let Some(instance) = instance {
        findings.push(check_storage_config(storage, instance, of_stack.resource_type, arn).await);
    }
    findings
}

/// The stream's key: none or AWS managed is fine; a customer managed key's policy must let
/// Connect generate data keys and the function's role decrypt.
async fn key_checks(clients: &DoctorClients, label: &str, key: Option<&str>, function: Option<&str>) -> Vec<Finding> {
    let check = format!("{label} key, Connect writes");
    let Some(key) = key else {
        return vec![judge_stream_key(&check, None, None)];
    };
    if key.starts_with("alias/aws/") || key.contains(":alias/aws/") {
        return vec![Finding::ok(check, format!("{key} (AWS managed)"))];
    }
    let metadata = match clients.kms.describe_key().key_id(key).send().await {
        Ok(output) => output.key_metadata,
        Err(e) => {
            return vec![Finding::problem(
                check,
                format!("the key {key} cannot be described: {}", describe(&e)),
                "allow kms:DescribeKey on the stream's key, or check the key exists and is enabled",
            )];
        }
    };
    let Some(metadata) = metadata else {
        return vec![judge_stream_key(&check, Some(key), None)];
    };
    if metadata.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
        return vec![Finding::ok(check, format!("{key} (AWS managed)"))];
    }
    let key_arn = metadata.arn().unwrap_or(key).to_owned();
    let policy = match clients
        .kms
        .get_key_policy()
        .key_id(&key_arn)
        .policy_name("default")
        .send()
        .await
    {
        Ok(output) => output.policy,
        Err(e) => {
            tracing::debug!(key = %key_arn, error = %describe(&e), "GetKeyPolicy failed");
            None
        }
    };
    let mut findings = vec![judge_stream_key(&check, Some(&key_arn), policy.as_deref())];
    if let Some(function) = function {
        let check = format!("{label} key, {function} reads");
        match clients
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
        {
            Ok(configuration) => match configuration.role() {
                Some(role) => findings.push(judge_reader_key(&check, &key_arn, role, policy.as_deref())),
                None => findings.push(Finding::problem(
                    check,
                    format!("function {function} names no role"),
                    "check the function in the Lambda console",
                )),
            },
            Err(e) => findings.push(Finding::problem(
                check,
                format!("the role of function {function} cannot be read: {}", describe(&e)),
                "allow lambda:GetFunctionConfiguration on the stack's functions",
            )),
        }
    }
    findings
}

/// What Lambda said of a mapping, judged.
fn mapping_finding(check: &str, arn: &str, mapping: Option<&EventSourceMappingConfiguration>) -> Finding {
    judge_mapping(
        check,
        arn,
        mapping.map(|m| MappingState {
            uuid: m.uuid().unwrap_or("<uuid>"),
            state: m.state().unwrap_or("in an unknown state"),
            last_result: m.last_processing_result(),
        }),
    )
}

/// How far behind the stream the function reads: the greatest `AWS/Lambda` `IteratorAge` of the
/// function over the last 15 minutes (one-minute maxima).
async fn iterator_age(cloudwatch: &aws_sdk_cloudwatch::Client, label: &str, function: &str) -> Finding {
    use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let check = format!("{label} iterator age");
    let now = chrono::Utc::now();
    let dimension = Dimension::builder().name("FunctionName").value(function).build();
    let asked = cloudwatch
        .get_metric_statistics()
        .namespace("AWS/Lambda")
        .metric_name("IteratorAge")
        .dimensions(dimension)
        .start_time(AwsTime::from_secs((now - chrono::TimeDelta::minutes(15)).timestamp()))
        .end_time(AwsTime::from_secs(now.timestamp()))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await;
    match asked {
        Ok(output) => {
            let max = output
                .datapoints()
                .iter()
                .filter_map(|d| d.maximum())
                .fold(None, |max: Option<f64>, v| Some(max.map_or(v, |m| m.max(v))));
            judge_iterator_age(&check, function, max)
        }
        Err(e) => Finding::problem(
            check,
            format!("the IteratorAge of {function} cannot be read: {}", describe(&e)),
            "allow cloudwatch:GetMetricStatistics",
        ),
    }
}

/// The function's event source mapping from the stream: its state and last processing result.
async fn event_source_mapping(lambda: &aws_sdk_lambda::Client, label: &str, arn: &str, function: &str) -> Finding {
    let check = format!("{label} mapping to {function}");
    let listed = (lambda.list_event_source_mappings())
        .function_name(function)
        .event_source_arn(arn)
        .send()
        .await;
    match listed {
        Ok(output) => mapping_finding(&check, arn, output.event_source_mappings().first()),
        Err(e) => Finding::problem(
            check,
            format!("the mappings of {function} cannot be listed: {}", describe(&e)),
            "allow lambda:ListEventSourceMappings",
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The emulator never sets a mapping's last processing result: the judge on the SDK's shape
    /// of one that Lambda reports failing.
    #[test]
    fn a_mapping_whose_last_processing_result_is_a_problem() {
        let failing = EventSourceMappingConfiguration::builder()
            .uuid("91eaeb7e-c976-1234-9451-8709db01f137")
            .state("Enabled")
            .last_processing_result("PROBLEM: Function call failed")
            .build();
        let finding = mapping_finding("agent-event stream mapping to f", "arn:s", Some(&failing));
        assert!(finding.is_problem(), "{finding}");
        assert!(
            finding
                .found
                .ends_with("Enabled, last processing result `PROBLEM: Function call failed`"),
            "{finding}"
        );
        let disabled = EventSourceMappingConfiguration::builder()
            .uuid("91eaeb7e")
            .state("Disabled")
            .last_processing_result("No records processed")
            .build();
        let finding = mapping_finding("m", "arn:s", Some(&disabled));
        assert!(
            finding.fix.as_deref().unwrap().contains("--uuid 91eaeb7e --enabled"),
            "{finding}"
        );
        let ok = EventSourceMappingConfiguration::builder()
            .uuid("u")
            .state("Enabled")
            .last_processing_result("OK")
            .build();
        assert!(!mapping_finding("m", "arn:s", Some(&ok)).is_problem());
        assert!(mapping_finding("m", "arn:s", None).is_problem());
    }
}
