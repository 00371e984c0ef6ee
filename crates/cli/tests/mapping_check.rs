//! `connect-wfm mapping check FILE`: a good file prints what it changes against the built-in
//! defaults (exit 0); a bad one prints the error naming the file and the key (exit 1).

use std::path::PathBuf;
use std::process::{Command, Output};

fn file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("connect-wfm-mapping-{name}-{}.json", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

fn check(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connect-wfm"))
        .args(["mapping", "check"])
        .arg(path)
        .output()
        .expect("connect-wfm runs")
}

#[test]
fn a_good_file_prints_its_changes_line_by_line() {
    let path = file(
        "good",
        r#"{
  "agent_states": [
    { "name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed" },
    { "name": "Break", "reason": "Pause", "activity": "Closed" }
  ],
  "reports": { "sla_seconds": { "Sales": 30 } },
  "instances": { "acme-prod": "aaaaaaaa-bbbb-cccc-dddd-111111111111" }
}"#,
    );
    let out = check(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert_eq!(
        lines[0],
        format!("mapping file {}: valid; against the built-in defaults:", path.display())
    );
    assert_eq!(lines[1], "agent_states.Break.reason: Break → Pause");
    assert_eq!(
        lines[2],
        "agent_states.Lunch: added event_id Break, reason Lunch, activity Closed"
    );
    assert!(
        lines[3].starts_with("agent_states: ") && lines[3].ends_with(" unchanged"),
        "{stdout}"
    );
    assert_eq!(lines[4], "reports.sla_seconds.Sales: added 30");
    assert_eq!(
        lines[5],
        "instances.acme-prod: added aaaaaaaa-bbbb-cccc-dddd-111111111111"
    );
}

#[test]
fn a_bad_file_fails_naming_the_file_and_the_key() {
    let path = file(
        "bad",
        r#"{ "agent_states": [ { "name": "Lunch", "activity": "Closed" } ] }"#,
    );
    let out = check(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed as valid");
    assert!(
        stderr.contains(&format!(
            "mapping file {}: agent_states[0]: missing field `reason`",
            path.display()
        )),
        "{stderr}"
    );
    let missing = check(&std::env::temp_dir().join("connect-wfm-no-such-mapping.json"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("connect-wfm-no-such-mapping.json"),
        "the missing file is named"
    );
}
