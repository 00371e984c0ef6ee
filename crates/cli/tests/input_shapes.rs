//! `connect-wfm replay` over every shape a file of records comes in — records back to back (as
//! Firehose writes them), JSON Lines, a JSON array, one pretty-printed record per file — gives
//! the same transitions; a file that is none of them fails the command naming the file and the
//! shapes accepted; a bad record inside a readable file is a reject named by file and position.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh folder for one test's state and input files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-wfm-shapes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn replay(state: &Path, files: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(repo())
        .arg("replay")
        .arg("--state")
        .arg(state)
        .args(files)
        .output()
        .expect("connect-wfm runs")
}

/// `agent_id state` of every transition printed.
fn transitions(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|t| t["kind"] == "agent_state")
        .map(|t| format!("{} {}", t["agent_id"].as_str().unwrap(), t["state"].as_str().unwrap()))
        .collect()
}

/// The six pretty-printed agent events of the voice story, in order.
fn story_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("events/agent-events"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("voice-inbound-hold-acw-")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    files
}

fn story_events() -> Vec<Value> {
    story_files()
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn expected_story() -> Vec<String> {
    std::fs::read_to_string(repo().join("events/expected/kinesis-voice-inbound-hold-acw.states.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn every_shape_of_a_file_of_records_gives_the_same_transitions() {
    let dir = scratch("same");
    let events = story_events();
    let compact: Vec<String> = events.iter().map(Value::to_string).collect();
    let shapes = [
        ("back-to-back", vec![write(&dir, "firehose-archive", compact.concat())]),
        (
            "json-lines",
            vec![write(
                &dir,
                "events.jsonl",
                compact.iter().map(|c| format!("{c}\n")).collect::<String>(),
            )],
        ),
        (
            "array",
            vec![write(
                &dir,
                "events.json",
                serde_json::to_string_pretty(&events).unwrap(),
            )],
        ),
        ("pretty", story_files()),
    ];
    for (shape, files) in shapes {
        let out = replay(&dir.join(format!("state-{shape}")), &files);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{shape}: {stderr}");
        assert!(!stderr.contains("rejected:"), "{shape}: {stderr}");
        assert_eq!(transitions(&out), expected_story(), "{shape}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_no_shape_of_records_fails_the_command_naming_it_and_the_shapes() {
    let dir = scratch("garbage");
    let garbage = write(&dir, "garbage.txt", "hello, this is not JSON\nnor is this\n");
    let binary = write(&dir, "binary.bin", [0u8, 159, 146, 150, 255, 10, 1]);
    let good = write(
        &dir,
        "good.jsonl",
        story_events().iter().map(|e| format!("{e}\n")).collect::<String>(),
    );
    let out = replay(&dir.join("state"), &[garbage.clone(), good, binary.clone()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for file in [&garbage, &binary] {
        let said = stderr
            .lines()
            .find(|l| l.contains(&*file.to_string_lossy()))
            .unwrap_or_else(|| panic!("{} not named: {stderr}", file.display()));
        assert!(said.starts_with("connect-wfm: "), "{said}");
        assert!(said.contains("not a file of JSON records"), "{said}");
        for shape in [
            "back to back (as Firehose writes them)",
            "JSON Lines",
            "a JSON array of records",
            "one JSON record (pretty-printed or not)",
        ] {
            assert!(said.contains(shape), "{shape}: {said}");
        }
    }
    // The readable file between them still ran.
    assert_eq!(transitions(&out), expected_story());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_record_inside_a_readable_file_is_a_reject_named_by_file_and_position() {
    let dir = scratch("bad-record");
    let compact: Vec<String> = story_events().iter().map(Value::to_string).collect();
    let cut = write(
        &dir,
        "cut-archive",
        format!("{}{{\"AgentARN\": \"arn:x\", \"Ev", compact.concat()),
    );
    let out = replay(&dir.join("state"), &[cut]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(transitions(&out), expected_story());
    assert!(
        stderr.contains("rejected: kinesis file-cut-archive seq 0000000007: not JSON"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_agent_event_missing_two_fields_is_rejected_naming_both() {
    let dir = scratch("missing");
    let mut event = story_events().remove(0);
    let object = event.as_object_mut().unwrap();
    object.remove("EventId");
    object.remove("EventTimestamp");
    let file = write(&dir, "missing.json", serde_json::to_string_pretty(&event).unwrap());
    let out = replay(&dir.join("state"), &[file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a bad record is a reject, not a failed command: {stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(
            "rejected: kinesis file-missing.json seq 0000000001: missing field `EventId`; missing field `EventTimestamp`"
        ),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
