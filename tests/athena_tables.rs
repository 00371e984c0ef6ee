//! The Athena tables of template.yaml against the records the code writes, so the two cannot
//! drift apart: one sample of each record type, serialised by the feed's own code, is checked
//! against the Glue table of its kind, column by column (nested struct fields and types too).
//! Every field the code writes must be a column of the right type, every column must be
//! written by some record of its kind, every record kind the code declares
//! (`const KIND: &str = "..."` anywhere in crates/ or functions/) must have a table, and every
//! record type (a struct with a `pub kind: &'static str` field) a sample here: a new kind, a new
//! record type or a new field fails this test until both sides agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use connect_wfm_core::agent::{
    Activity, AgentActivityRecord, AgentProfileRecord, AgentStreamSource, ContactRef, HierarchyLevel, IdName,
    ProficiencyRecord, ProfileQueue, QueueIdName, QueueProfileRecord, STREAM_BASIS, StateTime, StreamAgentInterval,
};
use connect_wfm_core::contact::StreamQueueInterval;
use connect_wfm_core::feed::{
    AgentSnapshotRecord, AgentStateRecord, FeedHealthRecord, HealthStatus, RejectRecord, SCHEMA,
};
use connect_wfm_core::report::{
    AgentInterval, AgentQueueInterval, IntervalSource, QueueInterval, REPORT_BASIS, RecordSource, ServiceLevel,
};
use serde_json::Value;
use serde_norway::Value as Yaml;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn source() -> RecordSource {
    RecordSource {
        bucket: Arc::from("reports"),
        key: Arc::from("connect/acme/Reports/QR.csv"),
        line: 2,
    }
}

/// One record of each type the code writes, every optional field set (so nested fields and
/// value types show), with its type name. A kind may have several types (the table holds the
/// union of their fields).
fn samples() -> Vec<(String, Value)> {
    let agent_state = AgentStateRecord {
        kind: AgentStateRecord::KIND,
        schema: SCHEMA,
        instance_id: "i".into(),
        agent_id: "a".into(),
        agent_login: Some("jdoe".into()),
        state: "VOICE-INBOUND-CONNECTED".into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: at("2026-11-20T08:03:12.250Z"),
        previous_state: Some("Available".into()),
        contact: Some(ContactRef {
            contact_id: "c".into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            queue: Some("Support".into()),
        }),
        event_id: "e".into(),
        event_type: "STATE_CHANGE".into(),
        event_time: at("2026-11-20T08:03:12.250Z"),
    };
    let snapshot = AgentSnapshotRecord {
        kind: AgentSnapshotRecord::KIND,
        schema: SCHEMA,
        instance_id: "i".into(),
        agent_id: "a".into(),
        agent_login: Some("jdoe".into()),
        state: "Available".into(),
        reason: "Open".into(),
        activity: Activity::Open,
        since: at("2026-11-21T09:55:00.000Z"),
        contact: agent_state.contact.clone(),
        last_seen: at("2026-11-21T09:59:00.000Z"),
        as_of: at("2026-11-21T10:00:00.000Z"),
    };
    let health = FeedHealthRecord {
        kind: FeedHealthRecord::KIND,
        schema: SCHEMA,
        instance_id: "i".into(),
        source: "agent_events",
        status: HealthStatus::Silent,
        since: at("2026-11-21T10:05:00.000Z"),
        last_event_time: at("2026-11-21T10:00:00.000Z"),
        agents: 3,
        event_id: "health-i-agent_events-silent-1".into(),
    };
    let queue = QueueInterval {
        kind: QueueInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: Arc::from("acme"),
        instance_id: None,
        queue: Some("Support".into()),
        queue_id: None,
        interval_start: at("2026-11-20T10:15:00Z"),
        interval_minutes: 15,
        contacts_received: Some(1),
        handled: Some(1),
        handled_short: Some(1),
        handled_long: Some(0),
        abandoned: Some(0),
        abandoned_short: Some(0),
        abandoned_long: Some(0),
        transferred_out: None,
        talk_time_s: Some(1),
        hold_time_s: Some(1),
        acw_time_s: Some(1),
        handle_time_s: Some(3),
        queue_delay_s: Some(1),
        service_level_seconds: Some(20),
        service_level_pct: Some(85.71),
        service_levels: vec![ServiceLevel {
            seconds: 20,
            answered: Some(1),
            abandoned: Some(0),
            pct: Some(85.71),
        }],
        backlog: Some(0),
        backlog_expired: Some(0),
        backlog_not_expired: Some(0),
        right_party_contacts: Some(0),
        right_party_handle_time_s: Some(0),
        wrong_party_contacts: Some(0),
        wrong_party_handle_time_s: Some(0),
        active: true,
        as_of: None,
        ctr_pending: None,
        source: IntervalSource::Row(source()),
    };
    let stream = StreamQueueInterval {
        kind: QueueInterval::KIND,
        schema: SCHEMA,
        basis: StreamQueueInterval::BASIS,
        instance: "acme".into(),
        instance_id: Some("i".into()),
        queue: Some("Support".into()),
        queue_id: Some("q".into()),
        interval_start: at("2026-11-20T10:15:00Z"),
        interval_minutes: 15,
        contacts_received: Some(1),
        handled: Some(1),
        handled_short: Some(1),
        handled_long: Some(0),
        abandoned: Some(0),
        abandoned_short: Some(0),
        abandoned_long: Some(0),
        transferred_out: Some(0),
        talk_time_s: Some(1),
        hold_time_s: Some(1),
        acw_time_s: Some(1),
        handle_time_s: Some(3),
        queue_delay_s: Some(1),
        service_level_seconds: Some(20),
        service_level_pct: Some(100.0),
        service_levels: vec![ServiceLevel {
            seconds: 20,
            answered: Some(1),
            abandoned: Some(0),
            pct: Some(100.0),
        }],
        backlog: Some(0),
        backlog_expired: Some(0),
        backlog_not_expired: Some(0),
        right_party_contacts: None,
        right_party_handle_time_s: None,
        wrong_party_contacts: None,
        wrong_party_handle_time_s: None,
        active: true,
        as_of: Some(Some(at("2026-11-20T10:31:02.000Z"))),
        ctr_pending: Some(0),
        source: IntervalSource::CONTACT_EVENTS,
    };
    let agent_queue = AgentQueueInterval {
        kind: AgentQueueInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: Arc::from("acme"),
        agent_login: "jdoe".into(),
        agent_id: Some("a".into()),
        queue: "Support".into(),
        interval_start: at("2026-11-20T10:15:00Z"),
        interval_minutes: 15,
        handled: Some(1),
        talk_time_s: Some(1),
        hold_time_s: Some(1),
        acw_time_s: Some(1),
        handle_time_s: Some(3),
        right_party_contacts: Some(0),
        right_party_handle_time_s: Some(0),
        wrong_party_contacts: Some(0),
        wrong_party_handle_time_s: Some(0),
        active: true,
        source: source(),
    };
    let agent = AgentInterval {
        kind: AgentInterval::KIND,
        schema: SCHEMA,
        basis: REPORT_BASIS,
        instance: Arc::from("acme"),
        agent_login: "jdoe".into(),
        agent_id: Some("a".into()),
        interval_start: at("2026-11-20T10:15:00Z"),
        interval_minutes: 15,
        login_time_s: Some(900),
        not_ready_time_s: Some(60),
        ready_time_s: Some(840),
        idle_time_s: Some(100),
        on_contact_time_s: Some(700),
        active: true,
        source: source(),
    };
    let piece = AgentActivityRecord {
        kind: AgentActivityRecord::KIND.into(),
        schema: SCHEMA,
        instance_id: "i".into(),
        agent_id: "a".into(),
        agent_login: Some("jdoe".into()),
        state: "VOICE-INBOUND-CONNECTED".into(),
        reason: "Open".into(),
        activity: Activity::Open,
        contact: agent_state.contact.clone(),
        interval_start: at("2026-11-20T08:00:00Z"),
        start: at("2026-11-20T08:03:12.250Z"),
        end: at("2026-11-20T08:09:00.000Z"),
        duration_ms: 347_750,
        segment_id: "e".into(),
        closed_by: "f".into(),
    };
    let profile = AgentProfileRecord {
        kind: AgentProfileRecord::KIND.into(),
        schema: SCHEMA,
        instance_id: "i".into(),
        agent_id: "a".into(),
        agent_login: Some("jdoe".into()),
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        routing_profile: Some(IdName {
            id: "rp".into(),
            name: Some("Sales".into()),
        }),
        queues: vec![ProfileQueue {
            queue_id: "q".into(),
            name: Some("Sales".into()),
            channel: Some("VOICE".into()),
        }],
        default_outbound_queue: Some(QueueIdName {
            queue_id: "q9".into(),
            name: Some("Outbound".into()),
        }),
        hierarchy: vec![HierarchyLevel {
            level: 1,
            id: "g".into(),
            name: Some("Lisbon".into()),
        }],
        proficiencies: vec![ProficiencyRecord {
            name: Some("Technology".into()),
            value: Some("Kinesis".into()),
            level: serde_json::Number::from_f64(3.5),
        }],
        as_of: at("2026-11-20T08:03:12.250Z"),
        event_id: "e".into(),
        outbound_channels: vec!["VOICE".into()],
    };
    let queue_profile = QueueProfileRecord {
        kind: QueueProfileRecord::KIND.into(),
        schema: SCHEMA,
        instance_id: "i".into(),
        queue_id: "q".into(),
        name: Some("Sales".into()),
        channels: vec!["VOICE".into()],
        as_of: at("2026-11-20T08:03:12.250Z"),
        event_id: "e".into(),
    };
    let stream_agent = StreamAgentInterval {
        kind: StreamAgentInterval::KIND,
        schema: SCHEMA,
        basis: STREAM_BASIS,
        instance: "acme".into(),
        instance_id: "i".into(),
        agent_login: Some("jdoe".into()),
        agent_id: "a".into(),
        interval_start: at("2026-11-20T10:15:00Z"),
        interval_minutes: 15,
        login_time_s: 900,
        not_ready_time_s: 60,
        ready_time_s: 840,
        idle_time_s: 100,
        on_contact_time_s: 740,
        unknown_time_s: 0,
        acw_time_s: 40,
        open_time_s: 840,
        closed_time_s: 60,
        states: vec![StateTime {
            state: "Break".into(),
            reason: "Break".into(),
            activity: Activity::Closed,
            seconds: 60,
        }],
        active: true,
        as_of: at("2026-11-20T10:30:02.000Z"),
        source: AgentStreamSource { stream: "agent_events" },
    };
    let reject = RejectRecord::new(
        "agent-events",
        "kinesis s seq 1",
        "bad JSON",
        at("2026-11-20T10:15:00Z"),
        b"{",
    );
    [
        sample(&agent_state),
        sample(&snapshot),
        sample(&health),
        sample(&queue),
        sample(&stream),
        sample(&agent_queue),
        sample(&agent),
        sample(&piece),
        sample(&profile),
        sample(&queue_profile),
        sample(&stream_agent),
        sample(&reject),
    ]
    .into()
}

/// A record's type name (last path segment) and its feed line as JSON.
fn sample<T: serde::Serialize>(record: &T) -> (String, Value) {
    let name = std::any::type_name::<T>().rsplit("::").next().unwrap_or_default();
    (name.to_owned(), serde_json::to_value(record).unwrap())
}

/// The samples by `kind`.
fn samples_by_kind() -> BTreeMap<String, Vec<Value>> {
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (_, line) in samples() {
        by_kind
            .entry(line["kind"].as_str().unwrap().to_owned())
            .or_default()
            .push(line);
    }
    by_kind
}

/// The feed folder (and Glue table name) of a kind: the kind itself, `rejects` for `reject`.
fn folder(kind: &str) -> String {
    if kind == "reject" {
        "rejects".to_owned()
    } else {
        kind.to_owned()
    }
}

/// A Hive column type, as Glue takes it.
#[derive(Debug, Clone, PartialEq)]
enum HiveType {
    Scalar(String),
    Array(Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
}

/// Parses `struct<a:string,b:array<int>>` and the like; returns the type and the rest.
fn parse_type(text: &str) -> (HiveType, &str) {
    if let Some(rest) = text.strip_prefix("array<") {
        let (inner, rest) = parse_type(rest);
        let rest = rest
            .strip_prefix('>')
            .unwrap_or_else(|| panic!("unclosed array<: {text}"));
        (HiveType::Array(Box::new(inner)), rest)
    } else if let Some(mut rest) = text.strip_prefix("struct<") {
        let mut fields = Vec::new();
        loop {
            let (name, after) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("a struct field without a type: {text}"));
            let (ty, after) = parse_type(after);
            fields.push((name.to_owned(), ty));
            if let Some(after) = after.strip_prefix(',') {
                rest = after;
            } else {
                let after = after
                    .strip_prefix('>')
                    .unwrap_or_else(|| panic!("unclosed struct<: {text}"));
                return (HiveType::Struct(fields), after);
            }
        }
    } else {
        let end = text.find([',', '>']).unwrap_or(text.len());
        (HiveType::Scalar(text[..end].to_owned()), &text[end..])
    }
}

/// Checks one value against a column type, collecting problems and the paths it covered.
fn check(path: &str, ty: &HiveType, value: &Value, seen: &mut BTreeSet<String>, problems: &mut Vec<String>) {
    seen.insert(path.to_owned());
    let ok = match (ty, value) {
        // Null fits every type (a metric the source does not provide).
        (_, Value::Null) => true,
        (HiveType::Scalar(s), Value::String(_)) => s == "string",
        (HiveType::Scalar(s), Value::Number(n)) => match s.as_str() {
            "int" | "bigint" => n.is_i64() || n.is_u64(),
            "double" => true,
            _ => false,
        },
        (HiveType::Scalar(s), Value::Bool(_)) => s == "boolean",
        (HiveType::Array(inner), Value::Array(items)) => {
            for item in items {
                check(&format!("{path}[]"), inner, item, seen, problems);
            }
            true
        }
        (HiveType::Struct(fields), Value::Object(map)) => {
            for (key, item) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, field)) => check(&child, field, item, seen, problems),
                    None => problems.push(format!("`{child}` is written by the code but is not a column")),
                }
            }
            true
        }
        _ => false,
    };
    if !ok {
        problems.push(format!("`{path}`: the column is {ty:?} but the code writes {value}"));
    }
}

/// Every path of a column type: `source`, `source.bucket`, `service_levels[].pct`...
fn paths(path: &str, ty: &HiveType, out: &mut BTreeSet<String>) {
    out.insert(path.to_owned());
    match ty {
        HiveType::Scalar(_) => {}
        HiveType::Array(inner) => paths(&format!("{path}[]"), inner, out),
        HiveType::Struct(fields) => {
            for (name, field) in fields {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                paths(&child, field, out);
            }
        }
    }
}

/// What is wrong between one table's columns and the samples of its kind.
fn compare(columns: &[(String, String)], samples: &[Value]) -> Vec<String> {
    let row = HiveType::Struct(
        columns
            .iter()
            .map(|(name, ty)| {
                let (parsed, rest) = parse_type(ty);
                assert!(rest.is_empty(), "column {name}: cannot read type {ty}");
                (name.clone(), parsed)
            })
            .collect(),
    );
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for sample in samples {
        check("", &row, sample, &mut seen, &mut problems);
    }
    let mut declared = BTreeSet::new();
    paths("", &row, &mut declared);
    for missing in declared.difference(&seen) {
        problems.push(format!("column `{missing}` is written by no record of this kind"));
    }
    problems
}

/// The first string inside a value (the text of a `!Sub`, with or without its variable map).
fn first_string(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::String(s) => Some(s),
        Yaml::Sequence(items) => items.iter().find_map(first_string),
        Yaml::Tagged(tagged) => first_string(&tagged.value),
        _ => None,
    }
}

/// A Glue table of the template: its location template and columns.
#[derive(Debug)]
struct GlueTable {
    location: String,
    location_template: String,
    columns: Vec<(String, String)>,
}

fn glue_tables() -> BTreeMap<String, GlueTable> {
    let path = root().join("template.yaml");
    let template: Yaml = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tables = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources").iter() {
        if resource["Type"].as_str() != Some("AWS::Glue::Table") {
            continue;
        }
        let input = &resource["Properties"]["TableInput"];
        let name = input["Name"].as_str().expect("a literal table name").to_owned();
        let columns = input["StorageDescriptor"]["Columns"]
            .as_sequence()
            .expect("Columns")
            .iter()
            .map(|c| {
                (
                    c["Name"].as_str().unwrap().to_owned(),
                    c["Type"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let location = first_string(&input["StorageDescriptor"]["Location"])
            .expect("a Location")
            .to_owned();
        let location_template = first_string(&input["Parameters"]["storage.location.template"])
            .expect("a storage.location.template")
            .to_owned();
        tables.insert(
            name,
            GlueTable {
                location,
                location_template,
                columns,
            },
        );
    }
    tables
}

/// What the workspace's sources declare: every `const KIND: &str = "..."` (a record kind) and
/// every struct with a `pub kind: &'static str` field (a record type), each with its file.
#[derive(Debug, Default)]
struct Declared {
    kinds: BTreeMap<String, PathBuf>,
    record_types: BTreeMap<String, PathBuf>,
}

fn declared() -> Declared {
    fn walk(dir: &Path, out: &mut Declared) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut current_struct = None;
                for line in text.lines() {
                    let line = line.trim();
                    if let Some(rest) = line.strip_prefix("pub struct ") {
                        current_struct = rest
                            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .map(str::to_owned);
                    }
                    if line == "pub kind: &'static str," {
                        if let Some(name) = &current_struct {
                            out.record_types.insert(name.clone(), path.clone());
                        }
                    }
                    let Some(rest) = line
                        .strip_prefix("pub const KIND: &'static str = \"")
                        .or_else(|| line.strip_prefix("pub const KIND: &str = \""))
                    else {
                        continue;
                    };
                    if let Some((kind, _)) = rest.split_once('"') {
                        out.kinds.insert(kind.to_owned(), path.clone());
                    }
                }
            }
        }
    }
    let mut declared = Declared::default();
    walk(&root().join("crates"), &mut declared);
    walk(&root().join("functions"), &mut declared);
    declared
}

#[test]
fn every_record_kind_and_type_has_a_sample_and_a_table() {
    let declared = declared();
    let sampled_types: BTreeSet<String> = samples().into_iter().map(|(name, _)| name).collect();
    let samples = samples_by_kind();
    let tables = glue_tables();
    assert!(
        declared.kinds.contains_key("agent_state") && declared.record_types.contains_key("AgentStateRecord"),
        "the scan finds the record kinds and types: {declared:?}"
    );
    let mut problems = Vec::new();
    for (kind, file) in &declared.kinds {
        if !samples.contains_key(kind) {
            problems.push(format!(
                "kind `{kind}` ({}) has no sample in tests/athena_tables.rs",
                file.display()
            ));
        }
        if !tables.contains_key(&folder(kind)) {
            problems.push(format!(
                "kind `{kind}` has no Glue table `{}` in template.yaml",
                folder(kind)
            ));
        }
    }
    for (name, file) in &declared.record_types {
        if !sampled_types.contains(name) {
            problems.push(format!(
                "record type `{name}` ({}) has no sample in tests/athena_tables.rs",
                file.display()
            ));
        }
    }
    for name in tables.keys() {
        if !declared.kinds.keys().any(|k| folder(k) == *name) {
            problems.push(format!("Glue table `{name}` matches no record kind of the code"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_table_has_the_columns_the_code_writes() {
    let tables = glue_tables();
    let mut problems = Vec::new();
    for (kind, samples) in samples_by_kind() {
        let name = folder(&kind);
        let Some(table) = tables.get(&name) else {
            problems.push(format!("no Glue table `{name}` for kind `{kind}`"));
            continue;
        };
        for problem in compare(&table.columns, &samples) {
            problems.push(format!("table `{name}`: {problem}"));
        }
        if !table.location.ends_with(&format!("}}{name}/")) {
            problems.push(format!(
                "table `{name}`: Location {} is not the feed's {name}/ folder",
                table.location
            ));
        }
        if !table.location_template.ends_with(&format!("}}{name}/${{!day}}/")) {
            problems.push(format!(
                "table `{name}`: storage.location.template {} is not the {name}/<day>/ folders",
                table.location_template
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_comparison_finds_a_missing_column_an_extra_column_and_a_wrong_type() {
    let columns = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    };
    let sample = serde_json::json!({
        "kind": "x", "n": 1, "src": { "bucket": "b", "line": 2 }, "levels": [{ "pct": 1.5 }], "new": "field"
    });
    let problems = compare(
        &columns(&[
            ("kind", "string"),
            ("n", "string"),
            ("src", "struct<bucket:string,line:bigint,key:string>"),
            ("levels", "array<struct<pct:double>>"),
            ("gone", "bigint"),
        ]),
        std::slice::from_ref(&sample),
    );
    assert_eq!(
        problems,
        [
            "`n`: the column is Scalar(\"string\") but the code writes 1",
            "`new` is written by the code but is not a column",
            "column `gone` is written by no record of this kind",
            "column `src.key` is written by no record of this kind",
        ]
    );
    let exact = compare(
        &columns(&[
            ("kind", "string"),
            ("n", "int"),
            ("src", "struct<bucket:string,line:bigint>"),
            ("levels", "array<struct<pct:double>>"),
            ("new", "string"),
        ]),
        &[sample],
    );
    assert_eq!(exact, Vec::<String>::new());
}
