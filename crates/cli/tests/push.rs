//! `connect-wfm push` against a WFM on 127.0.0.1 that implements each target's documented
//! contract (connect-wfm-test-wfm): what `replay` prints goes in as it is, in order; a WFM that
//! throttles and is down for a while loses nothing; one state it refuses is found, kept out and
//! reported, the rest delivered; the webhook's calls verify with the receiver's three lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use connect_wfm_test_wfm::{Contract, KEY, SECRET, Wfm};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connect-wfm-cli-push-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn connect_wfm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("connect-wfm runs")
}

/// The feed `replay` prints for an events file, as a file.
fn replayed(dir: &Path, events: &str) -> PathBuf {
    let state = dir.join("state");
    let output = connect_wfm(&["replay", "--state", state.to_str().unwrap(), events]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let feed = dir.join("feed.jsonl");
    std::fs::write(&feed, &output.stdout).unwrap();
    feed
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn secret_file(dir: &Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    path
}

#[test]
fn calabrio_gets_what_replay_printed_in_order_through_a_throttle_and_an_outage() {
    let dir = temp("calabrio");
    let feed = replayed(&dir, "events/kinesis-all-stories.json");
    let key = secret_file(&dir, "key", KEY);
    let wfm = Wfm::start(Contract::Calabrio);
    wfm.throttle(1);
    wfm.down(2);
    let output = connect_wfm(&[
        "push",
        "--to",
        "calabrio",
        "--url",
        &wfm.url,
        "--key-file",
        key.to_str().unwrap(),
        "--source-id",
        "7",
        "--rate",
        "50",
        feed.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let expected: Vec<(String, String, bool)> = lines(&feed)
        .iter()
        .filter(|r| r["kind"] == "agent_state")
        .map(|r| {
            (
                r["agent_login"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
                false,
            )
        })
        .collect();
    assert!(expected.len() > 10);
    assert_eq!(wfm.states(), expected, "every state, in the order replay printed them");
    assert_eq!(wfm.taken().len(), 1, "one call carries them all");
    assert_eq!(wfm.taken()[0].body["SourceId"], "7");
    assert!(
        stderr.contains("push to calabrio: ")
            && stderr.contains(&format!("{} records sent, 3 retried, 0 refused", expected.len())),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY), "the key never reaches the output");
}

#[test]
fn one_refused_state_is_reported_and_the_others_delivered_with_snapshots_at_their_slot() {
    let dir = temp("refused");
    let state = |agent: &str, login: &str, s: &str, n: u32| {
        json!({"kind":"agent_state","schema":1,"instance_id":"i-1","agent_id":agent,"agent_login":login,"state":s,
            "event_id":format!("{agent}-{n}"),"event_time":"2026-11-20T10:00:00.000Z"})
    };
    let snap = |agent: &str, login: &str| {
        json!({"kind":"agent_snapshot","schema":1,"instance_id":"i-1","agent_id":agent,"agent_login":login,
            "state":"Available","as_of":"2026-11-20T10:15:00.000Z"})
    };
    let records = [
        state("a-1", "ann", "Available", 1),
        state("a-2", "bob", "Break", 1),
        state("a-1", "ann", "BAD", 2),
        state("a-2", "bob", "Available", 2),
        state("a-1", "ann", "Break", 3),
        snap("a-1", "ann"),
        snap("a-2", "bob"),
        state("a-1", "ann", "Break", 3),
    ];
    let feed = dir.join("feed.jsonl");
    std::fs::write(&feed, records.iter().map(|r| format!("{r}\n")).collect::<String>()).unwrap();
    let key = secret_file(&dir, "key", KEY);
    let wfm = Wfm::start(Contract::Calabrio);
    let output = connect_wfm(&[
        "push",
        "--to",
        "calabrio",
        "--url",
        &wfm.url,
        "--key-file",
        key.to_str().unwrap(),
        "--source-id",
        "7",
        "--user-code",
        "id",
        "--rate",
        "50",
        feed.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "a refusal exits 1: {stderr}");
    assert!(
        stderr.contains("refused: agent_state a-1-2 (agent a-1): HTTP 400: StateCode BAD of \"a-1\" is not configured"),
        "{stderr}"
    );
    assert!(
        stderr.contains("6 records sent") && stderr.contains("1 refused") && stderr.contains("1 skipped"),
        "{stderr}"
    );
    let s = |u: &str, c: &str, snapshot: bool| (u.to_owned(), c.to_owned(), snapshot);
    assert_eq!(
        wfm.states(),
        [
            s("a-1", "Available", false),
            s("a-2", "Break", false),
            s("a-2", "Available", false),
            s("a-1", "Break", false),
            s("a-1", "Available", true),
            s("a-2", "Available", true),
        ]
    );
    assert!(
        !stderr.contains("ann") && !stderr.contains("bob"),
        "logins stay out of the output"
    );
}

#[test]
fn the_webhook_gets_signed_arrays_a_receiver_verifies() {
    let dir = temp("webhook");
    let feed = replayed(&dir, "events/kinesis-break.json");
    let secret = secret_file(&dir, "secret", SECRET);
    let wfm = Wfm::start(Contract::Webhook);
    let output = connect_wfm(&[
        "push",
        "--to",
        "webhook",
        "--url",
        &wfm.url,
        "--secret-file",
        secret.to_str().unwrap(),
        "--kinds",
        "agent_state,agent_activity",
        feed.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let expected: Vec<Value> = lines(&feed)
        .into_iter()
        .filter(|r| r["kind"] == "agent_state" || r["kind"] == "agent_activity")
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(wfm.records(), expected, "the records as written, in order");
    let key = &wfm.taken()[0].headers["idempotency-key"];
    assert_eq!(key.len(), 64);

    // The same records again: the same Idempotency-Key, so the receiver can drop the repeat.
    let again = connect_wfm(&[
        "push",
        "--to",
        "webhook",
        "--url",
        &wfm.url,
        "--secret-file",
        secret.to_str().unwrap(),
        "--kinds",
        "agent_state,agent_activity",
        feed.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert_eq!(&wfm.taken()[1].headers["idempotency-key"], key);

    // A wrong secret: every call refused (401), exit 1.
    let wrong = secret_file(&dir, "wrong", "not-the-secret");
    let refused = connect_wfm(&[
        "push",
        "--to",
        "webhook",
        "--url",
        &wfm.url,
        "--secret-file",
        wrong.to_str().unwrap(),
        feed.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("HTTP 401: bad signature"));
}

#[test]
fn a_file_that_holds_no_records_fails_naming_the_line() {
    let dir = temp("bad-file");
    let feed = dir.join("feed.jsonl");
    std::fs::write(&feed, "{\"kind\":\"agent_state\"}\nnot json\n").unwrap();
    let secret = secret_file(&dir, "secret", SECRET);
    let output = connect_wfm(&[
        "push",
        "--to",
        "webhook",
        "--url",
        "http://127.0.0.1:9/",
        "--secret-file",
        secret.to_str().unwrap(),
        feed.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("feed.jsonl: line 2: not a feed record"), "{stderr}");
}
