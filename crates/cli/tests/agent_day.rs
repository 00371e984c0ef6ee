//! The agent's day through the `connect-wfm` binary (feed.md `agent_activity` and stream-basis
//! `agent_interval`): the sample shift of events/agent-shift.jsonl replayed, its pieces printed
//! with the transitions, `agent-intervals` and the sweep's records of the ended intervals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], state: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(repo())
        .arg(args[0])
        .arg("--state")
        .arg(state)
        .args(&args[1..])
        .output()
        .expect("connect-wfm runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-wfm-day-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn ms(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn the_sample_shift_gives_pieces_that_tile_the_logged_in_time_and_its_interval_records() {
    let state = temp_state("shift");
    let replayed = lines(&run(&["replay", "events/agent-shift.jsonl"], &state));
    let transitions: Vec<&Value> = replayed.iter().filter(|r| r["kind"] == "agent_state").collect();
    let pieces: Vec<&Value> = replayed.iter().filter(|r| r["kind"] == "agent_activity").collect();
    assert_eq!(transitions.first().unwrap()["state"], "LOGIN");
    assert_eq!(transitions.last().unwrap()["state"], "LOGOUT");

    // From the login to the logout, every millisecond in exactly one piece, in order, each
    // inside its interval; the LOGOUT segment has none.
    let (login, logout) = (
        ms(&transitions[0]["event_time"]),
        ms(&transitions.last().unwrap()["since"]),
    );
    let mut at = login;
    for piece in &pieces {
        assert_eq!(ms(&piece["start"]), at, "no gap, no overlap: {piece}");
        let end = ms(&piece["end"]);
        assert_eq!(piece["duration_ms"].as_i64().unwrap(), end - at);
        let interval = ms(&piece["interval_start"]);
        assert!(interval <= at && end <= interval + 900_000, "{piece}");
        at = end;
    }
    assert_eq!(at, logout);
    // A segment over the 09:15 boundary is two pieces of one segment, closed by one transition.
    let before = pieces.iter().find(|p| p["end"] == "2026-11-20T09:15:00.000Z").unwrap();
    let after = pieces
        .iter()
        .find(|p| p["start"] == "2026-11-20T09:15:00.000Z")
        .unwrap();
    assert_eq!(before["state"], "VOICE-INBOUND-CONNECTED");
    assert_eq!(
        (&before["segment_id"], &before["closed_by"], &before["state"]),
        (&after["segment_id"], &after["closed_by"], &after["state"])
    );
    assert_ne!(before["interval_start"], after["interval_start"]);

    // The records of the ended intervals, by the newest event time processed (10:44:02.600):
    // 08:45 to 10:15.
    let intervals = lines(&run(&["agent-intervals"], &state));
    let starts: Vec<&str> = intervals
        .iter()
        .map(|r| r["interval_start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-11-20T08:45:00Z",
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:15:00Z",
            "2026-11-20T09:30:00Z",
            "2026-11-20T09:45:00Z",
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:15:00Z"
        ]
    );
    let nine = &intervals[1];
    assert_eq!(nine["basis"], "stream");
    assert_eq!(nine["agent_login"], "jlee");
    assert_eq!(
        [
            &nine["login_time_s"],
            &nine["idle_time_s"],
            &nine["on_contact_time_s"],
            &nine["not_ready_time_s"],
            &nine["open_time_s"],
        ],
        [900, 432, 468, 0, 900]
    );
    let lunch = &intervals[6];
    assert_eq!(
        (&lunch["not_ready_time_s"], &lunch["closed_time_s"]),
        (&Value::from(900), &Value::from(900))
    );
    // Each record's states add up to its interval's pieces.
    for record in &intervals {
        let total: i64 = pieces
            .iter()
            .filter(|p| p["interval_start"] == record["interval_start"])
            .map(|p| p["duration_ms"].as_i64().unwrap())
            .sum();
        assert_eq!(
            record["open_time_s"].as_i64().unwrap() + record["closed_time_s"].as_i64().unwrap(),
            (total + 500) / 1000
        );
    }

    // The sweep after the shift writes the records of every interval ended by its clock, the
    // one of the logout included, once.
    let swept = lines(&run(&["sweep", "--now", "2026-11-20T10:50:00Z"], &state));
    let records: Vec<&Value> = swept.iter().filter(|r| r["kind"] == "agent_interval").collect();
    assert_eq!(records.len(), 8);
    assert_eq!(records[7]["interval_start"], "2026-11-20T10:30:00Z");
    assert_eq!(
        records[7]["login_time_s"], 840,
        "Lunch 320 s, Available 520 s; Offline is not logged in"
    );
    let again = lines(&run(&["sweep", "--now", "2026-11-20T10:51:00Z"], &state));
    assert!(again.iter().all(|r| r["kind"] != "agent_interval"), "{again:?}");
    let _ = std::fs::remove_dir_all(&state);
}

/// The newest event time that `agent-intervals` judges ended intervals by is the instance's
/// progress as the sweep sees it: the progress item, or the newest a row carries (a replay that
/// commits an agent's state lets the row carry it instead of writing the item).
#[test]
fn agent_intervals_end_by_the_newest_event_the_rows_carry() {
    let state = temp_state("carried");
    std::fs::create_dir_all(&state).unwrap();
    let shift = std::fs::read_to_string(repo().join("events/agent-shift.jsonl")).unwrap();
    let shift: Vec<&str> = shift.lines().collect();
    // The login and the first minutes, then the shift up to 10:35:20 (a state change; no logout).
    let (first, second) = (state.join("first.jsonl"), state.join("second.jsonl"));
    std::fs::write(&first, shift[..10].join("\n")).unwrap();
    std::fs::write(&second, shift[10..56].join("\n")).unwrap();
    run(&["replay", first.to_str().unwrap()], &state);
    run(&["replay", second.to_str().unwrap()], &state);
    let intervals = lines(&run(&["agent-intervals"], &state));
    let last = intervals.last().unwrap()["interval_start"].as_str().unwrap().to_owned();
    assert_eq!(
        last, "2026-11-20T10:15:00Z",
        "ended by 10:35:20, not by the first replay's 09:12:30"
    );
    assert_eq!(intervals.len(), 7);
}
