//! The `connect-wfm` binary over events/: the expected transitions on the first run, nothing on
//! a second run with the same state folder, rejects on stderr without stopping the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn connect_wfm(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(repo())
        .arg(args[0])
        .arg("--state")
        .arg(state)
        .args(&args[1..])
        .output()
        .expect("connect-wfm runs")
}

fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-wfm-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn expected(file: &str) -> Vec<String> {
    std::fs::read_to_string(repo().join("events/expected").join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn a_second_replay_with_the_same_state_prints_nothing() {
    let state = temp_state("twice");
    let files = [
        "replay",
        "events/kinesis-all-stories.json",
        "events/kinesis-malformed-record.json",
    ];
    let first = connect_wfm(&files, &state);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(first.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<String> = lines
        .iter()
        .filter(|l| l["kind"] == "agent_state")
        .map(|l| format!("{} {}", l["agent_id"].as_str().unwrap(), l["state"].as_str().unwrap()))
        .collect();
    // The malformed file's valid events are story events the first file already delivered.
    assert_eq!(got, expected("kinesis-all-stories.states.txt"));
    // With the transitions, the pieces of the segments they closed: each closed by a printed
    // transition and opened by one, the agent's previous state.
    let ids: std::collections::HashSet<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "agent_state")
        .map(|l| l["event_id"].as_str().unwrap())
        .collect();
    let pieces: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "agent_activity").collect();
    assert!(pieces.len() >= got.len() - 4, "a piece per closed segment: {pieces:?}");
    for piece in &pieces {
        assert!(ids.contains(piece["closed_by"].as_str().unwrap()), "{piece}");
        assert!(ids.contains(piece["segment_id"].as_str().unwrap()), "{piece}");
        assert_ne!(piece["state"], "LOGOUT");
    }
    // And every agent's profile when first seen, with the queues its routing profile names.
    let profiles: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "agent_profile")
        .map(|l| l["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(profiles.len(), 4, "one profile per agent: {profiles:?}");
    let queues = lines.iter().filter(|l| l["kind"] == "queue_profile").count();
    assert_eq!(queues, 4, "each queue once");
    assert_eq!(
        lines.len(),
        got.len() + pieces.len() + profiles.len() + queues,
        "transitions, pieces and profiles only"
    );
    let stderr = String::from_utf8(first.stderr).unwrap();
    assert_eq!(stderr.matches("rejected: kinesis shardId-").count(), 2, "{stderr}");

    let second = connect_wfm(&files, &state);
    assert!(second.status.success());
    assert!(
        second.stdout.is_empty(),
        "second run printed: {}",
        String::from_utf8_lossy(&second.stdout)
    );

    let states = connect_wfm(&["states", "--json"], &state);
    let rows = String::from_utf8(states.stdout).unwrap();
    assert_eq!(rows.lines().count(), 4, "{rows}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_broken_report_exits_non_zero_naming_the_file_and_column() {
    let state = temp_state("report");
    let file = "events/reports/amazon-connect-reports-123456789012/connect/acme-support/Reports/wfm/QR-broken-2026-11-20T10:15:00Z.csv";
    let out = connect_wfm(&["report", file], &state);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(file) && stderr.contains("`StartInterval`"), "{stderr}");

    let good = file.replace("QR-broken-", "QR-");
    let out = connect_wfm(&["report", &good], &state);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 5);
}

#[cfg(feature = "aws")]
#[test]
fn custom_resource_requests_configure_a_local_bucket_and_keep_foreign_entries() {
    let state = temp_state("cfn-state");
    let objects = temp_state("cfn-objects");
    let bucket = "amazon-connect-reports-123456789012";
    std::fs::create_dir_all(objects.join(bucket)).unwrap();
    let config = objects.join(format!("{bucket}.notification.json"));
    let foreign = serde_json::json!({ "LambdaFunctionConfigurations": [{
        "Id": "someone-elses",
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:theirs",
        "Events": ["s3:ObjectRemoved:*"]
    }]});
    std::fs::write(&config, foreign.to_string()).unwrap();
    let objects_arg = objects.to_str().unwrap();
    let read_config = || -> serde_json::Value { serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap() };
    let ours_prefixes = |c: &serde_json::Value| -> Vec<String> {
        c["QueueConfigurations"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        e["Filter"]["Key"]["FilterRules"][0]["Value"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    let mut physical_ids = Vec::new();
    for (file, want_prefixes) in [
        ("events/cfn-create.json", vec!["connect/acme-support/Reports/"]),
        ("events/cfn-update.json", vec!["connect/acme-support/Reports/wfm/"]),
        ("events/cfn-update.json", vec!["connect/acme-support/Reports/wfm/"]),
        ("events/cfn-delete.json", vec![]),
    ] {
        let out = connect_wfm(&["replay", "--objects", objects_arg, file], &state);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: {stderr}");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON answer on stdout");
        assert_eq!(answer["Status"], "SUCCESS", "{file}: {answer}");
        assert!(!answer["Reason"].as_str().unwrap().is_empty());
        physical_ids.push(answer["PhysicalResourceId"].as_str().unwrap().to_owned());
        let now = read_config();
        assert_eq!(ours_prefixes(&now), want_prefixes, "{file}");
        assert_eq!(
            now["LambdaFunctionConfigurations"], foreign["LambdaFunctionConfigurations"],
            "{file}"
        );
    }
    physical_ids.dedup();
    assert_eq!(physical_ids.len(), 1, "one PhysicalResourceId for the resource's life");

    // Without the bucket, Create is a FAILED answer naming it and Delete a success.
    std::fs::remove_dir_all(objects.join(bucket)).unwrap();
    let create = connect_wfm(&["replay", "--objects", objects_arg, "events/cfn-create.json"], &state);
    assert!(!create.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&create.stdout).unwrap();
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap().contains(bucket), "{answer}");
    let delete = connect_wfm(&["replay", "--objects", objects_arg, "events/cfn-delete.json"], &state);
    assert!(delete.status.success(), "{}", String::from_utf8_lossy(&delete.stderr));
}

fn replay_contacts(state: &Path, files: &[&str]) -> Output {
    let mut args = vec!["replay"];
    args.extend_from_slice(files);
    let out = connect_wfm(&args, state);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn intervals(state: &Path) -> Vec<serde_json::Value> {
    let out = connect_wfm(&["intervals"], state);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes `lines` as a JSON Lines file in `dir`.
fn write_lines(dir: &Path, name: &str, lines: &[&str]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn intervals_after_replay_are_the_same_whatever_the_input_order() {
    let events = std::fs::read_to_string(repo().join("events/contact-events-slice.jsonl")).unwrap();
    let ctrs = std::fs::read_to_string(repo().join("events/contact-records-slice.jsonl")).unwrap();
    let events: Vec<&str> = events.lines().collect();
    let ctrs: Vec<&str> = ctrs.lines().collect();

    // In order, in one run.
    let ordered = temp_state("contacts-ordered");
    replay_contacts(
        &ordered,
        &[
            "events/contact-events-slice.jsonl",
            "events/contact-records-slice.jsonl",
        ],
    );
    let expected = intervals(&ordered);
    assert!(expected.len() >= 8, "{expected:?}");
    let keys: Vec<(String, String)> = expected
        .iter()
        .map(|r| (r["interval_start"].to_string(), r["queue_id"].to_string()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "sorted by interval_start, then queue_id");
    assert!(
        expected
            .iter()
            .all(|r| r["basis"] == "stream" && r["kind"] == "queue_interval")
    );
    assert!(expected.iter().any(|r| r["transferred_out"].as_i64() > Some(0)));

    // CTRs first, events backwards, some repeated, split over three runs with the SQS and
    // Kinesis Lambda events (which repeat inputs of the slice) in between.
    let shuffled = temp_state("contacts-shuffled");
    let dir = shuffled.join("inputs");
    let mut backwards: Vec<&str> = events.iter().rev().copied().collect();
    backwards.extend(events.iter().step_by(7).copied());
    let (first, second) = backwards.split_at(backwards.len() / 2);
    let ctr_file = write_lines(&dir, "ctrs.jsonl", &ctrs.iter().rev().copied().collect::<Vec<_>>());
    let first = write_lines(&dir, "first.jsonl", first);
    let second = write_lines(&dir, "second.jsonl", second);
    replay_contacts(&shuffled, &[&ctr_file, "events/contact-records-kinesis.json"]);
    replay_contacts(&shuffled, &[&second, "events/contact-events-sqs.json"]);
    replay_contacts(&shuffled, &[&first]);
    assert_eq!(intervals(&shuffled), expected);

    // The feed objects the handler wrote hold the same records.
    let feed = shuffled.join("feed");
    let out = connect_wfm(&["replay", "--feed", feed.to_str().unwrap(), &first], &shuffled);
    assert!(out.status.success());
    let mut written = Vec::new();
    for record in &expected {
        let path = feed.join(format!(
            "queue_interval/{}/stream/{}/{}/{}.json",
            &record["interval_start"].as_str().unwrap()[..10],
            record["instance"].as_str().unwrap(),
            record["queue_id"].as_str().unwrap(),
            record["interval_start"].as_str().unwrap()[11..16].replace(':', "")
        ));
        if let Ok(body) = std::fs::read_to_string(&path) {
            written.push((serde_json::from_str::<serde_json::Value>(body.trim()).unwrap(), record));
        }
    }
    assert!(!written.is_empty());
    for (object, record) in written {
        assert_eq!(&object, record);
    }
    let _ = std::fs::remove_dir_all(&ordered);
    let _ = std::fs::remove_dir_all(&shuffled);
}

#[test]
fn ctr_files_named_by_sqs_notifications_give_the_intervals_of_the_stream() {
    // The CTRs on the stream (bare records, as the Kinesis stream's function gets them).
    let stream = temp_state("ctr-stream");
    replay_contacts(
        &stream,
        &[
            "events/contact-events-slice.jsonl",
            "events/contact-records-slice.jsonl",
        ],
    );
    let expected = intervals(&stream);
    assert!(expected.len() >= 8, "{expected:?}");

    // The same CTRs as Firehose's objects in the bucket (one plain, one gzip), named by the
    // S3 notifications of an SQS event and read from --objects (events/reports by default).
    let files = temp_state("ctr-files");
    let out = replay_contacts(
        &files,
        &["events/contact-events-slice.jsonl", "events/sqs-ctr-files.json"],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches(" 25 records").count(), 2, "{stderr}");
    assert_eq!(intervals(&files), expected);

    // Each object is read once.
    let again = replay_contacts(&files, &["events/sqs-ctr-files.json"]);
    let stderr = String::from_utf8(again.stderr).unwrap();
    assert_eq!(stderr.matches("already read, skipped").count(), 2, "{stderr}");
    assert_eq!(intervals(&files), expected);
    let _ = std::fs::remove_dir_all(&stream);
    let _ = std::fs::remove_dir_all(&files);
}

#[test]
fn a_bad_record_of_a_ctr_file_is_a_reject_naming_object_and_offset_and_the_rest_flows() {
    let state = temp_state("ctr-bad");
    let objects = state.join("objects");
    let ctrs = std::fs::read_to_string(repo().join("events/contact-records-slice.jsonl")).unwrap();
    let ctrs: Vec<&str> = ctrs.lines().take(3).collect();
    let cut = &ctrs[2][..ctrs[2].len() / 2];
    let key = "ctr/2026/11/20/10/cut";
    std::fs::create_dir_all(objects.join("b/ctr/2026/11/20/10")).unwrap();
    std::fs::write(objects.join("b").join(key), format!("{}{}{cut}", ctrs[0], ctrs[1])).unwrap();
    let body = serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": key, "eTag": "e1"}}}]});
    let event =
        serde_json::json!({"Records": [{"messageId": "m1", "body": body.to_string(), "eventSource": "aws:sqs"}]});
    let event_file = write_lines(&state, "sqs.json", &[&event.to_string()]);
    let out = connect_wfm(&["replay", "--objects", objects.to_str().unwrap(), &event_file], &state);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("s3://b/ctr/2026/11/20/10/cut 2 records"), "{stderr}");
    let offset = ctrs[0].len() + ctrs[1].len();
    assert!(
        stderr.contains(&format!("rejected: s3://b/{key} offset {offset}: truncated")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&state);
}
