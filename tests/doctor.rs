//! `connect-wfm doctor` end to end: the real checks (`connect_wfm_aws::doctor::examine`) with
//! the real SDK against the emulator's S3 and SQS, on a healthy install and a broken one (no
//! notification of ours, stale reports and feed, a report in the dead-letter queue). The lines
//! are the ones the CLI prints; a problem makes it exit 1.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use connect_wfm_aws::S3NotificationStore;
use connect_wfm_aws::doctor::{DoctorClients, examine};
use connect_wfm_core::custom_resource::{OurEntry, ReportsNotification};
use connect_wfm_core::doctor::{Ages, Finding, StackFacts, any_problem};
use connect_wfm_core::ports::{Fetched, NotificationStore};
use connect_wfm_core::report::ReportMapping;
use connect_wfm_e2e as support;

const PREFIX: &str = "connect/acme-support/Reports/";

const QR: &str = "StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts answered in 20 seconds,Service level 20 seconds\n\
2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,Sales,4,4,3,75.00%\n";
const AQR: &str =
    "StartInterval,EndInterval,Agent,Queue,Contacts handled\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,Sales,2\n";
const ASPR: &str = "StartInterval,EndInterval,Agent,Online time\n2026-11-20T10:15:00Z,2026-11-20T10:30:00Z,jdoe,900\n";

struct Install {
    clients: DoctorClients,
    stack: StackFacts,
    dead_letter_url: String,
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

    let stack = StackFacts {
        name: "connect-wfm".into(),
        parameters: BTreeMap::from([
            ("ReportsBucketName".into(), reports),
            ("ReportsPrefix".into(), PREFIX.into()),
            ("ReportsNotification".into(), "queue".into()),
            ("FeedPrefix".into(), "wfm/".into()),
        ]),
        outputs: BTreeMap::from([
            ("FeedBucketName".into(), feed),
            ("ReportsQueueUrl".into(), queue_url),
            ("ReportsDeadLetterQueueUrl".into(), dead_letter_url.clone()),
            ("AgentEventsFailureQueueUrl".into(), failure_url),
        ]),
    };
    Install {
        clients: DoctorClients { s3, sqs },
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
    assert_eq!(lines.len(), 12, "{lines:#?}");
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
}
