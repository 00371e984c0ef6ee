//! `connect-wfm sweep` over the events/ silence scenarios: a silent (zombie Available) agent, a
//! whole instance silent and back, two instances in one state folder, heartbeats after LOGOUT,
//! snapshot slots and a mapping that renames Unknown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const I1: &str = "8f2c3e41-6a7b-4c1d-9e0f-2a3b4c5d6e7f";
const I2: &str = "3b9d7e52-1c4a-4e8f-b7d6-5a2c9e0f1b3d";
const JDOE: &str = "62f746b4-84e6-4ceb-95bd-447e7184d454";
const PWONG: &str = "0a6e2f1c-7b3d-4c59-8e21-9d4f6a7b8c01";
const RKIM: &str = "5c8d1e2f-3a4b-4c6d-9e7f-0a1b2c3d4e02";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], state: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(repo())
        .args(args)
        .arg("--state")
        .arg(state)
        .output()
        .expect("connect-wfm runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The records printed, but the agent's day (`agent_activity` pieces and stream-basis
/// `agent_interval` records, tested in agent_day.rs).
fn records(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] != "agent_activity" && !(r["kind"] == "agent_interval" && r["basis"] == "stream"))
        .collect()
}

fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-wfm-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// (kind, instance, agent or "-", state or status, since)
fn summary(records: &[Value]) -> Vec<(String, String, String, String, String)> {
    records
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            let state = if r["kind"] == "feed_health" {
                s("status")
            } else {
                s("state")
            };
            (s("kind"), s("instance_id"), s("agent_id"), state, s("since"))
        })
        .collect()
}

fn line(kind: &str, instance: &str, agent: &str, state: &str, since: &str) -> (String, String, String, String, String) {
    (kind.into(), instance.into(), agent.into(), state.into(), since.into())
}

#[test]
fn silent_agent_and_silent_instance_in_one_state_then_the_instance_comes_back() {
    let state = temp_state("scenarios");
    run(
        &[
            "replay",
            "events/kinesis-silent-agent.json",
            "events/kinesis-silent-instance.json",
        ],
        &state,
    );
    // i-1 streams until 09:08:30: its zombie Available is judged by that progress at once; i-2
    // stopped at 09:01:00 and is not silent by the clock yet.
    // Snapshots are another test's subject.
    let early = run(
        &["sweep", "--now", "2026-11-20T09:05:59.999Z", "--snapshot-minutes", "0"],
        &state,
    );
    assert_eq!(
        summary(&records(&early)),
        [line("agent_state", I1, JDOE, "UNKNOWN", "2026-11-20T09:05:02.500Z")]
    );

    let sweep = run(
        &["sweep", "--now", "2026-11-20T09:08:40Z", "--snapshot-minutes", "0"],
        &state,
    );
    assert_eq!(
        summary(&records(&sweep)),
        [
            line("feed_health", I2, "-", "silent", "2026-11-20T09:06:00.000Z"),
            line("agent_state", I2, PWONG, "UNKNOWN", "2026-11-20T09:05:00.000Z"),
            line("agent_state", I2, RKIM, "UNKNOWN", "2026-11-20T09:06:00.000Z"),
        ]
    );
    let health = &records(&sweep)[0];
    assert_eq!(
        (health["agents"].as_u64(), health["last_event_time"].as_str()),
        (Some(2), Some("2026-11-20T09:01:00.000Z"))
    );

    // `states` shows them UNKNOWN.
    let states = run(&["states"], &state);
    let table = String::from_utf8(states.stdout).unwrap();
    assert_eq!(table.matches(" UNKNOWN ").count(), 3, "{table}");
    assert!(
        String::from_utf8(states.stderr)
            .unwrap()
            .contains("4 agents, 3 UNKNOWN")
    );

    // The next sweep repeats the health record and, within two minutes of their commit, the
    // UNKNOWN records (same ids, same objects): no new transition. The one after, only health.
    let again = run(
        &["sweep", "--now", "2026-11-20T09:09:40Z", "--snapshot-minutes", "0"],
        &state,
    );
    let ids = |output: &Output| {
        let mut ids: Vec<String> = records(output)
            .iter()
            .map(|r| r["event_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&sweep));
    let later = run(
        &["sweep", "--now", "2026-11-20T09:11:40Z", "--snapshot-minutes", "0"],
        &state,
    );
    assert_eq!(records(&later), records(&sweep)[..1]);

    // The instance sends again: ok, then pwong's recovery.
    let back = run(&["replay", "events/kinesis-silent-instance-back.json"], &state);
    assert_eq!(
        summary(&records(&back)),
        [
            line("agent_state", I2, PWONG, "Available", "2026-11-20T09:00:00.000Z"),
            line("feed_health", I2, "-", "ok", "2026-11-20T09:20:00.000Z"),
        ]
    );
    assert_eq!(records(&back)[0]["previous_state"], "UNKNOWN");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn heartbeats_after_logout_never_go_unknown() {
    let state = temp_state("logout");
    run(&["replay", "events/kinesis-logout.json"], &state);
    for now in ["2026-11-20T10:05:00Z", "2026-11-20T12:01:00Z"] {
        let sweep = run(&["sweep", "--now", now, "--snapshot-minutes", "0"], &state);
        assert_eq!(records(&sweep), Vec::<Value>::new(), "at {now}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn snapshots_once_per_slot_and_a_mapping_that_renames_unknown() {
    let state = temp_state("snapshot");
    let feed = state.join("feed");
    let mapping = state.join("mapping.json");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        &mapping,
        r#"{"agent_states": [{"name": "Unknown", "event_id": "NO-SIGNAL", "reason": "Stale", "activity": "Closed"}]}"#,
    )
    .unwrap();
    let mapping = mapping.to_str().unwrap();
    run(&["replay", "events/kinesis-silent-instance.json"], &state);
    let off_slot = run(
        &["--mapping", mapping, "sweep", "--now", "2026-11-20T09:14:30Z"],
        &state,
    );
    let silenced: Vec<Value> = records(&off_slot)
        .into_iter()
        .filter(|r| r["kind"] != "agent_snapshot")
        .collect();
    assert_eq!(silenced.len(), 3, "health + 2 transitions");
    // Late in the 09:00 slot, whose snapshot no sweep wrote: this one writes it.
    assert!(
        records(&off_slot)
            .iter()
            .any(|r| r["kind"] == "agent_snapshot" && r["as_of"] == "2026-11-20T09:00:00.000Z")
    );
    assert_eq!(
        (silenced[1]["state"].as_str(), silenced[1]["reason"].as_str()),
        (Some("NO-SIGNAL"), Some("Stale"))
    );
    run(
        &[
            "--mapping",
            mapping,
            "sweep",
            "--now",
            "2026-11-20T09:15:20Z",
            "--feed",
            feed.to_str().unwrap(),
        ],
        &state,
    );
    let object = feed.join(format!("agent_snapshot/2026-11-20/{I2}-0915.jsonl"));
    let snapshot: Vec<Value> = std::fs::read_to_string(&object)
        .unwrap_or_else(|e| panic!("{}: {e}", object.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<_> = snapshot
        .iter()
        .map(|r| {
            (
                r["agent_id"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["as_of"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (PWONG, "NO-SIGNAL", "2026-11-20T09:15:00.000Z"),
            (RKIM, "NO-SIGNAL", "2026-11-20T09:15:00.000Z")
        ]
    );
    // --snapshot-minutes 0: never.
    let none = run(
        &["sweep", "--now", "2026-11-20T09:30:00Z", "--snapshot-minutes", "0"],
        &state,
    );
    assert!(records(&none).iter().all(|r| r["kind"] != "agent_snapshot"));
    let _ = std::fs::remove_dir_all(&state);
}

/// The sweep closes the stream-basis intervals of the state folder's contact legs: a queue
/// whose only contact is waiting gets its backlog record from the first sweep after the end.
#[test]
fn the_sweep_writes_the_backlog_record_of_a_queue_with_only_waiting_contacts() {
    let state = temp_state("backlog");
    std::fs::create_dir_all(&state).unwrap();
    let event = state.join("queued.json");
    let instance = "arn:aws:connect:us-east-1:123456789012:instance/i-1";
    let body = serde_json::json!({
        "id": "c1-QUEUED", "time": "2026-11-21T10:05:00.000Z", "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "detail": {
            "eventType": "QUEUED", "contactId": "c1", "channel": "VOICE", "initiationMethod": "INBOUND",
            "initiationTimestamp": "2026-11-21T10:04:50.000Z", "instanceArn": instance,
            "queueInfo": { "queueArn": format!("{instance}/queue/q1"), "enqueueTimestamp": "2026-11-21T10:05:00.000Z" }
        }
    });
    std::fs::write(&event, body.to_string()).unwrap();
    let replayed = run(&["replay", event.to_str().unwrap()], &state);
    assert!(records(&replayed).is_empty(), "nothing before the interval's end");
    let before = run(&["sweep", "--now", "2026-11-21T10:14:59Z"], &state);
    assert!(records(&before).is_empty());
    let swept = records(&run(&["sweep", "--now", "2026-11-21T10:15:20Z"], &state));
    assert_eq!(swept.len(), 1, "{swept:?}");
    let r = &swept[0];
    assert_eq!(
        (
            &r["kind"],
            &r["basis"],
            &r["queue_id"],
            &r["interval_start"],
            &r["backlog"]
        ),
        (
            &Value::from("queue_interval"),
            &Value::from("stream"),
            &Value::from("q1"),
            &Value::from("2026-11-21T10:00:00Z"),
            &Value::from(1)
        )
    );
    let later = run(&["sweep", "--now", "2026-11-21T10:18:00Z"], &state);
    assert!(records(&later).is_empty(), "closed once the window has passed");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn the_00_00_slot_prints_the_roster_and_names_only_with_agent_names() {
    for (flag, named) in [(None, false), (Some("--agent-names"), true)] {
        let state = temp_state(&format!("roster-{named}"));
        let mut replay = vec!["replay"];
        replay.extend(flag);
        replay.push("events/kinesis-all-stories.json");
        let replayed = records(&run(&replay, &state));
        let profiles: Vec<&Value> = replayed.iter().filter(|r| r["kind"] == "agent_profile").collect();
        assert_eq!(profiles.len(), 4);
        assert!(
            profiles.iter().all(|p| p["first_name"].is_string() == named),
            "{profiles:?}"
        );

        // Not at 00:00: no roster.
        let later = records(&run(&["sweep", "--now", "2026-11-20T23:45:30Z"], &state));
        assert!(
            later
                .iter()
                .all(|r| r["kind"] != "agent_profile" && r["kind"] != "queue_profile")
        );
        let midnight = records(&run(&["sweep", "--now", "2026-11-21T00:00:30Z"], &state));
        let roster: Vec<&Value> = midnight.iter().filter(|r| r["kind"] == "agent_profile").collect();
        let queues = midnight.iter().filter(|r| r["kind"] == "queue_profile").count();
        assert_eq!((roster.len(), queues), (4, 4));
        // The roster holds each agent's latest profile, as written.
        for profile in &profiles {
            assert!(roster.contains(profile), "{profile}");
        }
        let _ = std::fs::remove_dir_all(&state);
    }
}
