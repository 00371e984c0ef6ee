//! `connect-wfm doctor` end to end: the stack read by name from the emulator's CloudFormation
//! (`--stack NAME`: a small template with the stack's outputs, a Kinesis stream, a function and
//! its event source mapping), then the real checks (`connect_wfm_aws::doctor::examine`) with the
//! real SDK against the emulator's S3, SQS, Kinesis, KMS, Lambda and DynamoDB, on a healthy
//! install and a broken one (no notification of ours, stale reports and feed, a report in the
//! dead-letter queue, a contact-record stream that does not exist, a disabled mapping, a
//! customer managed key whose policy lacks Connect, a silent instance). The emulator does not
//! serve Connect: its storage configs come from the in-memory port. The lines are the ones the
//! CLI prints; a problem makes it exit 1.

use chrono::{Duration, Utc};
use connect_wfm_aws::doctor::{DoctorClients, describe_stack, examine};
use connect_wfm_aws::{DynamoStateStore, S3NotificationStore};
use connect_wfm_core::agent::InstanceSilence;
use connect_wfm_core::custom_resource::{OurEntry, ReportsNotification};
use connect_wfm_core::doctor::{Ages, Finding, StackFacts, any_problem};
use connect_wfm_core::memory::MemoryStorageConfigs;
use connect_wfm_core::ports::{CommitOutcome, Fetched, NotificationStore, ProgressStore};
use connect_wfm_core::report::ReportMapping;
use connect_wfm_e2e as support;

const PREFIX: &str = "connect/acme-support/Reports/";

const QR: &str = "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts answered in 20 seconds,Service level 20 seconds\n\
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,4,4,3,75.00%\n";
const AQR: &str =
    "StartInterval,EndInterval,Agent,Queue,Contacts handled\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,Sales,2\n";
const ASPR: &str = "StartInterval,EndInterval,Agent,Online time\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,900\n";

const INSTANCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/0d7a1a3c-doctor";
const INSTANCE_ID: &str = "0d7a1a3c-doctor";

struct Install {
    clients: DoctorClients,
    connect: MemoryStorageConfigs,
    stack: StackFacts,
    dead_letter_url: String,
}

/// A key policy: the account administers the key through IAM and, with `connect`, the
/// statement of template.yaml's `StreamKey` that lets Connect's service-linked role write.
fn key_policy(connect: bool) -> String {
    let mut statements = vec![serde_json::json!({
        "Sid": "AccountAdministersTheKeyThroughIam", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"
    })];
    if connect {
        statements.push(serde_json::json!({
            "Sid": "AmazonConnectWritesToTheStreams", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn":
                "arn:aws:iam::123456789012:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect*"}}
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The part of the stack the doctor reads beyond buckets and queues: the agent-event stream,
/// the function reading it (its role, its mapping, enabled or not) and the outputs naming them,
/// with the buckets, queues and table made outside as parameters. With `missing_ctr_stream`, a
/// contact-record stream output naming a stream that does not exist.
fn template(mapping_enabled: bool, missing_ctr_stream: Option<&str>) -> String {
    let reference = |name: &str| serde_json::json!({"Ref": name});
    let mut outputs = serde_json::json!({
        "FeedBucketName": {"Value": reference("FeedBucketName")},
        "ReportsQueueUrl": {"Value": reference("ReportsQueueUrl")},
        "ReportsDeadLetterQueueUrl": {"Value": reference("ReportsDeadLetterQueueUrl")},
        "AgentEventsFailureQueueUrl": {"Value": reference("AgentEventsFailureQueueUrl")},
        "AgentStateTableName": {"Value": reference("AgentStateTableName")},
        "ConnectInstance": {"Value": reference("ConnectInstanceArn")},
        "AgentEventsSourceStreamArn": {"Value": {"Fn::GetAtt": ["AgentEventStream", "Arn"]}},
        "AgentEventsFunctionName": {"Value": reference("AgentEventsFunction")},
    });
    if let Some(arn) = missing_ctr_stream {
        outputs["ContactRecordsSourceStreamArn"] = serde_json::json!({"Value": arn});
    }
    let parameter = serde_json::json!({"Type": "String"});
    serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "ReportsBucketName": parameter, "ReportsPrefix": parameter, "ReportsNotification": parameter,
            "FeedPrefix": parameter, "FeedBucketName": parameter, "ReportsQueueUrl": parameter,
            "ReportsDeadLetterQueueUrl": parameter, "AgentEventsFailureQueueUrl": parameter,
            "AgentStateTableName": parameter, "ConnectInstanceArn": parameter, "StreamName": parameter,
        },
        "Resources": {
            "AgentEventStream": {"Type": "AWS::Kinesis::Stream",
                "Properties": {"Name": reference("StreamName"), "ShardCount": 1}},
            "AgentEventsRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
            "AgentEventsFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["AgentEventsRole", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"}}},
            "AgentEventsFunctionAgentEventStream": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "FunctionName": reference("AgentEventsFunction"),
                "EventSourceArn": {"Fn::GetAtt": ["AgentEventStream", "Arn"]},
                "StartingPosition": "LATEST", "BatchSize": 100, "Enabled": mapping_enabled}},
        },
        "Outputs": outputs,
    })
    .to_string()
}

/// A bucket with a foreign entry (the emulator cannot answer for a bucket that never had one),
/// the reports of each kind, a feed with today's objects, and the stack's queues.
async fn install(ours: bool) -> Install {
    let config = support::sdk_config().await;
    let s3 = support::s3(&config);
    let sqs = support::sqs(&config);
    let reports = support::create_bucket(&s3, "doctor-reports").await;
    let feed = support::create_bucket(&s3, "doctor-feed").await;
    let queue_url = support::create_queue(&sqs, "doctor-reports").await;
    let queue_arn = support::queue_arn(&sqs, &queue_url).await;
    let dead_letter_url = support::create_queue(&sqs, "doctor-reports-dlq").await;
    let failure_url = support::create_queue(&sqs, "doctor-agent-failures").await;

    let store = S3NotificationStore::new(s3.clone());
    let foreign: connect_wfm_aws::notifications::NotificationConfiguration =
        serde_json::from_value(serde_json::json!({
            "QueueConfigurations": [{"Id": "audit-deletions", "QueueArn": queue_arn.replace("doctor-reports", "audit"),
                "Events": ["s3:ObjectRemoved:*"]}]
        }))
        .unwrap();
    let mut configuration = foreign;
    if ours {
        configuration.upsert(&ReportsNotification {
            id: "connect-wfm-doctor-ReportsBucketNotification-0".into(),
            queue_arn: queue_arn.clone(),
            prefix: PREFIX.into(),
            suffix: ".csv".into(),
        });
    }
    store
        .put(&reports, &configuration, false)
        .await
        .expect("seed the notification");
    assert!(matches!(store.get(&reports).await, Ok(Fetched::Found(_))));

    for (name, body) in [("QR", QR), ("AQR", AQR), ("ASPR", ASPR)] {
        let key = format!("{PREFIX}wfm/{name}-2026-11-20T10:30:00Z.csv");
        support::put_object(&s3, &reports, &key, body).await;
    }
    let today = Utc::now().format("%Y-%m-%d");
    for kind in ["queue_interval", "agent_queue_interval", "agent_interval"] {
        let key = format!("wfm/{kind}/{today}/report-1.jsonl");
        support::put_object(&s3, &feed, &key, "{}\n").await;
    }

    // The instance's progress: fresh, or silent since a minute ago (the sweep recorded it).
    let dynamodb = support::dynamodb(&config);
    let table = support::create_state_table(&dynamodb).await;
    let states = DynamoStateStore::new(dynamodb.clone(), &table);
    let newest = Utc::now() - Duration::minutes(3);
    states.advance_progress(INSTANCE_ID, newest).await.expect("progress");
    if !ours {
        let silence = InstanceSilence {
            since: newest + Duration::minutes(2),
            last_event_time: newest,
            agents: 4,
        };
        let marked = states.mark_silent(INSTANCE_ID, &silence).await.expect("silence");
        assert_eq!(marked, CommitOutcome::Committed);
    }

    // The stack, created through the emulator's CloudFormation and read back by name.
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let stack_name = support::unique("connect-wfm-doctor");
    let stream_name = support::unique("agent-events");
    let missing_ctr = format!(
        "arn:aws:kinesis:us-east-1:123456789012:stream/{}",
        support::unique("ctr-gone")
    );
    let parameters = [
        ("ReportsBucketName", reports.as_str()),
        ("ReportsPrefix", PREFIX),
        ("ReportsNotification", "queue"),
        ("FeedPrefix", "wfm/"),
        ("FeedBucketName", feed.as_str()),
        ("ReportsQueueUrl", queue_url.as_str()),
        ("ReportsDeadLetterQueueUrl", dead_letter_url.as_str()),
        ("AgentEventsFailureQueueUrl", failure_url.as_str()),
        ("AgentStateTableName", table.as_str()),
        ("ConnectInstanceArn", INSTANCE),
        ("StreamName", stream_name.as_str()),
    ];
    let mut create = (cloudformation.create_stack())
        .stack_name(&stack_name)
        .template_body(template(ours, (!ours).then_some(missing_ctr.as_str())));
    for (key, value) in parameters {
        create = create.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build(),
        );
    }
    create
        .send()
        .await
        .unwrap_or_else(|e| panic!("create stack {stack_name}: {}", connect_wfm_aws::describe_sdk_error(&e)));
    let stack = describe_stack(&cloudformation, &stack_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stack.output("AgentEventsFunctionName").is_some(), "{stack:?}");
    let stream_arn = stack
        .output("AgentEventsSourceStreamArn")
        .expect("stream output")
        .to_owned();

    // The stream encrypted with a customer managed key; healthy, its policy lets Connect in.
    let kms = aws_sdk_kms::Client::new(&config);
    let key = (kms.create_key().policy(key_policy(ours)).send().await)
        .expect("create key")
        .key_metadata
        .expect("key metadata");
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    kinesis
        .start_stream_encryption()
        .stream_arn(&stream_arn)
        .encryption_type(aws_sdk_kinesis::types::EncryptionType::Kms)
        .key_id(key.arn().expect("key arn"))
        .send()
        .await
        .expect("encrypt the stream");

    // The function's IteratorAge as Lambda publishes it: healthy 1.2 s behind the stream, broken
    // 754 s (a backlog).
    let function = stack.output("AgentEventsFunctionName").expect("function output");
    let age = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name("IteratorAge")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .value(if ours { 1_200.0 } else { 754_000.0 })
        .unit(aws_sdk_cloudwatch::types::StandardUnit::Milliseconds)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            Utc::now().timestamp() - 120,
        ))
        .build();
    aws_sdk_cloudwatch::Client::new(&config)
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(age)
        .send()
        .await
        .expect("put IteratorAge");

    // Connect's storage configs (the emulator does not serve Connect): healthy, the instance
    // streams its agent events to the stack's stream; broken, nowhere.
    let connect = MemoryStorageConfigs::default();
    if ours {
        connect.insert(INSTANCE, "AGENT_EVENTS", &stream_arn);
    }
    Install {
        clients: DoctorClients {
            s3,
            sqs,
            dynamodb,
            kinesis,
            kms,
            lambda: aws_sdk_lambda::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
        },
        connect,
        stack,
        dead_letter_url,
    }
}

fn print(label: &str, findings: &[Finding]) -> Vec<String> {
    let lines: Vec<String> = findings.iter().map(ToString::to_string).collect();
    println!("--- {label} (exit status {})", u8::from(any_problem(findings)));
    for line in &lines {
        println!("{line}");
    }
    lines
}

fn line<'a>(lines: &'a [String], start: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting `{start}` in {lines:#?}"))
}

#[tokio::test]
async fn a_healthy_install_is_all_ok() {
    let install = install(true).await;
    let findings = examine(
        &install.clients,
        &install.connect,
        &install.stack,
        &ReportMapping::default(),
        Ages::default(),
        Utc::now(),
    )
    .await;
    let lines = print("healthy", &findings);
    assert!(!any_problem(&findings), "{lines:#?}");
    assert!(line(&lines, "ok   reports notification: ").contains("has ours"));
    for kind in ["QR", "AQR", "ASPR"] {
        assert!(line(&lines, &format!("ok   newest {kind} report: ")).contains(&format!("wfm/{kind}-")));
    }
    assert!(line(&lines, "ok   header of the newest QR report: ").contains("service-level thresholds 20 s"));
    line(&lines, "ok   newest agent_interval feed object: ");
    assert!(line(&lines, "ok   ReportsDeadLetterQueue: ").ends_with("empty"));
    line(&lines, "ok   AgentEventsFailureQueue: ");
    assert!(line(&lines, "ok   agent-event stream: ").ends_with("is ACTIVE"));
    assert!(line(&lines, "ok   agent-event stream key, Connect writes: ").contains("lets Connect generate data keys"));
    let function = install.stack.output("AgentEventsFunctionName").unwrap();
    let reads = line(&lines, &format!("ok   agent-event stream key, {function} reads: "));
    assert!(reads.contains("kms:Decrypt"), "{reads}");
    assert!(line(&lines, "ok   agent-event stream mapping to ").contains(": Enabled"));
    assert!(line(&lines, "ok   agent-event stream iterator age: ").contains("1.2 s behind the stream"));
    assert!(line(&lines, "ok   Connect AGENT_EVENTS storage: ").contains("streams to arn:aws:kinesis:"));
    assert!(line(&lines, "ok   instance 0d7a1a3c-doctor: ").contains("newest agent event"));
    assert_eq!(lines.len(), 19, "{lines:#?}");
}

#[tokio::test]
async fn a_broken_install_names_each_problem_and_its_fix() {
    let install = install(false).await;
    install
        .clients
        .sqs
        .send_message()
        .queue_url(&install.dead_letter_url)
        .message_body("{}")
        .send()
        .await
        .expect("a message in the DLQ");
    // Two days on: nothing new was written since.
    let later = Utc::now() + Duration::days(2);
    let findings = examine(
        &install.clients,
        &install.connect,
        &install.stack,
        &ReportMapping::default(),
        Ages::default(),
        later,
    )
    .await;
    let lines = print("broken", &findings);
    assert!(any_problem(&findings));
    let notification = line(&lines, "PROBLEM reports notification: ");
    assert!(
        notification.contains("has no entry") && notification.contains("— fix: update the stack"),
        "{notification}"
    );
    for kind in ["QR", "AQR", "ASPR"] {
        let stale = line(&lines, &format!("PROBLEM newest {kind} report: "));
        assert!(
            stale.contains("(older than 45 min)") && stale.contains("— fix: check the scheduled"),
            "{stale}"
        );
    }
    assert!(line(&lines, "PROBLEM newest queue_interval feed object: ").contains("none found"));
    assert!(line(&lines, "PROBLEM ReportsDeadLetterQueue: ").contains("1 message(s) waiting"));
    line(&lines, "ok   AgentEventsFailureQueue: ");
    line(&lines, "ok   header of the newest AQR report: ");
    line(&lines, "ok   agent-event stream: ");
    let key = line(&lines, "PROBLEM agent-event stream key, Connect writes: ");
    assert!(
        key.contains("does not let Connect generate data keys") && key.contains("aws kms create-grant"),
        "{key}"
    );
    // The account's statement delegates to IAM: the function's role may still decrypt.
    let function = install.stack.output("AgentEventsFunctionName").unwrap();
    let reads = line(&lines, &format!("ok   agent-event stream key, {function} reads: "));
    assert!(reads.contains("IAM policies of the account"), "{reads}");
    let mapping = line(&lines, "PROBLEM agent-event stream mapping to ");
    assert!(
        mapping.contains(": Disabled") && mapping.contains("--enabled"),
        "{mapping}"
    );
    let behind = line(&lines, "PROBLEM agent-event stream iterator age: ");
    assert!(
        behind.contains("754 s behind") && behind.contains("ParallelizationFactor"),
        "{behind}"
    );
    assert!(line(&lines, "PROBLEM Connect AGENT_EVENTS storage: ").contains("streams AGENT_EVENTS nowhere"));
    let gone = line(&lines, "PROBLEM contact-record stream: ");
    assert!(gone.contains("does not exist") && gone.contains("ctr-gone"), "{gone}");
    assert!(line(&lines, "PROBLEM Connect CONTACT_TRACE_RECORDS storage: ").contains("nowhere"));
    let silent = line(&lines, "PROBLEM instance 0d7a1a3c-doctor: ");
    assert!(
        silent.contains("silent since ") && silent.contains("4 agent(s)"),
        "{silent}"
    );
}

#[tokio::test]
async fn a_stack_that_does_not_exist_is_named() {
    let config = support::sdk_config().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let err = describe_stack(&cloudformation, "connect-wfm-never-created")
        .await
        .expect_err("no such stack");
    assert!(err.contains("connect-wfm-never-created"), "{err}");
}
