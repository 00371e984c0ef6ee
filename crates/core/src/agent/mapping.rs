//! The agent-state mapping table: a Connect status name, contact state or event name → the WFM
//! state (event id) it emits, with its reason and activity code.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::state::Activity;

/// One row of the agent-state mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateEntry {
    /// What Connect calls it: an agent status name (`Break`), a contact state
    /// (`VOICE-INBOUND-CONNECTED`), or `Login` / `Logout` for those event types.
    pub name: String,
    /// The WFM state emitted (feed `state`).
    pub event_id: String,
    /// Feed `reason`.
    pub reason: String,
    /// Feed `activity`.
    pub activity: Activity,
}

impl AgentStateEntry {
    pub fn new(name: &str, event_id: &str, reason: &str, activity: Activity) -> Self {
        Self {
            name: name.to_owned(),
            event_id: event_id.to_owned(),
            reason: reason.to_owned(),
            activity,
        }
    }
}

/// Agent-state mapping: Connect state or status name → WFM event id, reason, activity.
///
/// The default is the table of mission.md. States it does not list still map: a contact state
/// to itself with reason `Open`, activity `Open`; a custom status to itself with reason = the
/// status name, activity `Closed` (see [`AgentStateMapping::resolve_status`] and
/// [`AgentStateMapping::resolve_contact_state`]).
///
/// The `agent_states` section of a mapping file overrides it ([`AgentStateMapping::merge_json`]):
/// a JSON array of entries, each replacing the entry of the same `name` (case-sensitive) or
/// adding one; entries are never removed.
///
/// ```json
/// { "agent_states": [
///     { "name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed" },
///     { "name": "VOICE-OUTBOUND-CONNECTED", "reason": "Outbound", "activity": "Open" }
/// ] }
/// ```
/// - `name` (string, required): a status name, a `{Channel}-{InitiationMethod}-{State}`
///   contact state, or `Login` / `Logout` / `Offline` / `Available`.
/// - `event_id` (string, optional, default = `name`): the WFM state emitted.
/// - `reason` (string, required) and `activity` (`"Open"` or `"Closed"`, required).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateMapping {
    entries: BTreeMap<String, AgentStateEntry>,
}

/// Entry names the derivation looks up itself.
impl AgentStateMapping {
    /// Entry of the LOGIN event type.
    pub const LOGIN: &'static str = "Login";
    /// Entry of the LOGOUT event type.
    pub const LOGOUT: &'static str = "Logout";
    /// Entry of every status of Type OFFLINE.
    pub const OFFLINE: &'static str = "Offline";
    /// Entry of a ROUTABLE status the table does not name.
    pub const AVAILABLE: &'static str = "Available";
}

const VOICE_STATES: [&str; 11] = [
    "VOICE-INBOUND-CONNECTING",
    "VOICE-INBOUND-CONNECTED",
    "VOICE-INBOUND-CONNECTED_ONHOLD",
    "VOICE-INBOUND-ENDED",
    "VOICE-INBOUND-MISSED",
    "VOICE-INBOUND-ERROR",
    "VOICE-INBOUND-ONHOLD",
    "VOICE-TRANSFER-CONNECTING",
    "VOICE-TRANSFER-CONNECTED",
    "VOICE-TRANSFER-CONNECTED_ONHOLD",
    "VOICE-TRANSFER-ENDED",
];

const CHAT_STATES: [&str; 9] = [
    "CHAT-API-CONNECTING",
    "CHAT-API-CONNECTED",
    "CHAT-API-ENDED",
    "CHAT-API-MISSED",
    "CHAT-API-ERROR",
    "CHAT-API-ONHOLD",
    "CHAT-QUEUE_TRANSFER-CONNECTING",
    "CHAT-QUEUE_TRANSFER-CONNECTED",
    "CHAT-QUEUE_TRANSFER-ENDED",
];

impl Default for AgentStateMapping {
    /// The default agent states of mission.md.
    fn default() -> Self {
        use Activity::{Closed, Open};
        let statuses = [
            AgentStateEntry::new("Break", "Break", "Break", Closed),
            AgentStateEntry::new("Available", "Available", "Open", Open),
            AgentStateEntry::new("Login", "LOGIN", "Open", Open),
            AgentStateEntry::new("Logout", "LOGOUT", "Logout", Closed),
            AgentStateEntry::new("Offline", "Offline", "Logout", Closed),
        ];
        let contacts = VOICE_STATES
            .iter()
            .chain(CHAT_STATES.iter())
            .map(|state| AgentStateEntry::new(state, state, "Open", Open));
        Self {
            entries: statuses
                .into_iter()
                .chain(contacts)
                .map(|entry| (entry.name.clone(), entry))
                .collect(),
        }
    }
}

impl AgentStateMapping {
    /// The entry named `name` (case-sensitive), if the table lists it.
    pub fn get(&self, name: &str) -> Option<&AgentStateEntry> {
        self.entries.get(name)
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = &AgentStateEntry> {
        self.entries.values()
    }

    /// Adds an entry, or replaces the one of the same name.
    pub fn insert(&mut self, entry: AgentStateEntry) {
        self.entries.insert(entry.name.clone(), entry);
    }

    /// The entry of an agent status name, else the custom-status default: the name itself,
    /// reason = the name, activity `Closed` (a status nobody mapped is not work on contacts).
    pub fn resolve_status(&self, name: &str) -> AgentStateEntry {
        self.get(name)
            .cloned()
            .unwrap_or_else(|| AgentStateEntry::new(name, name, name, Activity::Closed))
    }

    /// The entry of a contact state `{Channel}-{InitiationMethod}-{State}`, else the
    /// contact-state default: the state itself, reason `Open`, activity `Open`.
    pub fn resolve_contact_state(&self, state: &str) -> AgentStateEntry {
        self.get(state)
            .cloned()
            .unwrap_or_else(|| AgentStateEntry::new(state, state, "Open", Activity::Open))
    }

    /// Merges the `agent_states` section of a mapping file over this mapping (format in the
    /// type's documentation). All or nothing: on error the mapping is unchanged and the message
    /// names the entry (0-based index in the array) and the problem.
    pub fn merge_json(&mut self, section: Value) -> Result<(), String> {
        let Value::Array(items) = section else {
            return Err(format!(
                "expected a JSON array of entries like \
                 [{{\"name\": \"Lunch\", \"event_id\": \"Break\", \"reason\": \"Lunch\", \"activity\": \"Closed\"}}], \
                 found {}",
                describe(&section)
            ));
        };
        let mut parsed: Vec<AgentStateEntry> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let entry = parse_entry(item).map_err(|(name, problem)| match name {
                Some(name) => format!("entry [{index}] (`{name}`): {problem}"),
                None => format!("entry [{index}]: {problem}"),
            })?;
            if let Some(first) = parsed.iter().position(|e| e.name == entry.name) {
                return Err(format!(
                    "entry [{index}] (`{}`): duplicate name, already given by entry [{first}]",
                    entry.name
                ));
            }
            parsed.push(entry);
        }
        for entry in parsed {
            self.insert(entry);
        }
        Ok(())
    }
}

const ENTRY_FIELDS: [&str; 4] = ["name", "event_id", "reason", "activity"];

/// Parses one entry; on error returns the entry's name when it is known, and the problem.
fn parse_entry(item: &Value) -> Result<AgentStateEntry, (Option<String>, String)> {
    let Value::Object(fields) = item else {
        return Err((
            None,
            format!(
                "expected an object with `name`, `reason` and `activity`, found {}",
                describe(item)
            ),
        ));
    };
    let name = match text_field(fields, "name") {
        Ok(Some(name)) => name,
        Ok(None) => return Err((None, "missing `name`".into())),
        Err(problem) => return Err((None, problem)),
    };
    let named = |problem: String| (Some(name.to_owned()), problem);
    // A misspelt key would otherwise be silently ignored and the entry half applied.
    if let Some(unknown) = fields.keys().find(|k| !ENTRY_FIELDS.contains(&k.as_str())) {
        return Err(named(format!(
            "unknown field `{unknown}` (expected name, event_id, reason, activity)"
        )));
    }
    let event_id = text_field(fields, "event_id").map_err(named)?.unwrap_or(name);
    let reason = text_field(fields, "reason")
        .map_err(named)?
        .ok_or_else(|| named("missing `reason`".into()))?;
    let activity = match fields.get("activity") {
        None | Some(Value::Null) => return Err(named("missing `activity` (\"Open\" or \"Closed\")".into())),
        Some(Value::String(code)) if code == "Open" => Activity::Open,
        Some(Value::String(code)) if code == "Closed" => Activity::Closed,
        Some(other) => {
            return Err(named(format!(
                "`activity` must be \"Open\" or \"Closed\", found {}",
                describe(other)
            )));
        }
    };
    Ok(AgentStateEntry::new(name, event_id, reason, activity))
}

/// A non-empty string field: Ok(None) when absent or null.
fn text_field<'a>(fields: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Err(format!("`{key}` is empty")),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!("`{key}` must be a string, found {}", describe(other))),
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(mapping: &AgentStateMapping, name: &str) -> (String, String, Activity) {
        let e = mapping.get(name).unwrap_or_else(|| panic!("no entry {name}"));
        (e.event_id.clone(), e.reason.clone(), e.activity)
    }

    fn row(event_id: &str, reason: &str, activity: Activity) -> (String, String, Activity) {
        (event_id.into(), reason.into(), activity)
    }

    #[test]
    fn default_is_the_mission_table() {
        use Activity::{Closed, Open};
        let m = AgentStateMapping::default();
        assert_eq!(entry(&m, "Break"), row("Break", "Break", Closed));
        assert_eq!(entry(&m, "Available"), row("Available", "Open", Open));
        assert_eq!(entry(&m, "Login"), row("LOGIN", "Open", Open));
        assert_eq!(entry(&m, "Logout"), row("LOGOUT", "Logout", Closed));
        assert_eq!(entry(&m, "Offline"), row("Offline", "Logout", Closed));
        for state in VOICE_STATES.iter().chain(CHAT_STATES.iter()) {
            assert_eq!(entry(&m, state), row(state, "Open", Open));
        }
        assert_eq!(m.entries().count(), 5 + 11 + 9);
        assert!(m.get("VOICE-INBOUND-CONNECTED_ONHOLD").is_some());
        assert!(m.get("CHAT-QUEUE_TRANSFER-ENDED").is_some());
        assert!(m.get("break").is_none(), "names are case-sensitive");
    }

    #[test]
    fn unlisted_states_get_their_defaults() {
        let m = AgentStateMapping::default();
        assert_eq!(
            m.resolve_status("Training"),
            AgentStateEntry::new("Training", "Training", "Training", Activity::Closed)
        );
        assert_eq!(
            m.resolve_contact_state("TASK-API-CONNECTED"),
            AgentStateEntry::new("TASK-API-CONNECTED", "TASK-API-CONNECTED", "Open", Activity::Open)
        );
        assert_eq!(m.resolve_status("Break"), *m.get("Break").unwrap());
    }

    #[test]
    fn override_replaces_by_name_and_adds_new_entries() {
        let mut m = AgentStateMapping::default();
        m.merge_json(json!([
            {"name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed"},
            {"name": "Break", "event_id": "Pause", "reason": "Rest", "activity": "Closed"},
            {"name": "Training", "reason": "Coaching", "activity": "Open", "event_id": null},
        ]))
        .unwrap();
        assert_eq!(entry(&m, "Lunch"), row("Break", "Lunch", Activity::Closed));
        assert_eq!(entry(&m, "Break"), row("Pause", "Rest", Activity::Closed));
        assert_eq!(
            entry(&m, "Training"),
            row("Training", "Coaching", Activity::Open),
            "event_id defaults to name"
        );
        assert_eq!(
            entry(&m, "Available"),
            row("Available", "Open", Activity::Open),
            "others untouched"
        );
        assert_eq!(m.entries().count(), 25 + 2);
        m.merge_json(json!([])).unwrap();
        assert_eq!(m.entries().count(), 27);
    }

    #[test]
    fn override_name_match_is_case_sensitive() {
        let mut m = AgentStateMapping::default();
        m.merge_json(json!([{"name": "break", "reason": "x", "activity": "Open"}]))
            .unwrap();
        assert_eq!(entry(&m, "Break"), row("Break", "Break", Activity::Closed));
        assert_eq!(entry(&m, "break"), row("break", "x", Activity::Open));
    }

    #[test]
    fn bad_overrides_name_the_entry_and_change_nothing() {
        let cases = [
            (json!({"Lunch": {}}), "expected a JSON array of entries like"),
            (
                json!([1]),
                "entry [0]: expected an object with `name`, `reason` and `activity`, found number 1",
            ),
            (
                json!([{"reason": "x", "activity": "Open"}]),
                "entry [0]: missing `name`",
            ),
            (
                json!([{"name": "", "reason": "x", "activity": "Open"}]),
                "entry [0]: `name` is empty",
            ),
            (
                json!([{"name": 3, "reason": "x", "activity": "Open"}]),
                "entry [0]: `name` must be a string, found number 3",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "Open"}, {"name": "Nap", "activity": "Closed"}]),
                "entry [1] (`Nap`): missing `reason`",
            ),
            (
                json!([{"name": "Lunch", "reason": "x"}]),
                "entry [0] (`Lunch`): missing `activity` (\"Open\" or \"Closed\")",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "open"}]),
                "entry [0] (`Lunch`): `activity` must be \"Open\" or \"Closed\", found \"open\"",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "Open", "event": "Break"}]),
                "entry [0] (`Lunch`): unknown field `event` (expected name, event_id, reason, activity)",
            ),
            (
                json!([{"name": "Lunch", "event_id": "", "reason": "x", "activity": "Open"}]),
                "entry [0] (`Lunch`): `event_id` is empty",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "Open"}, {"name": "Lunch", "reason": "y", "activity": "Open"}]),
                "entry [1] (`Lunch`): duplicate name, already given by entry [0]",
            ),
        ];
        for (section, expected) in cases {
            let mut m = AgentStateMapping::default();
            let err = m.merge_json(section.clone()).unwrap_err();
            assert!(err.starts_with(expected), "{section}: got {err}");
            assert_eq!(
                m,
                AgentStateMapping::default(),
                "{section}: a failed merge must change nothing"
            );
        }
    }

    #[test]
    fn merges_through_the_mapping_file() {
        let file =
            br#"{"agent_states": [{"name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed"}]}"#;
        let mapping = crate::Mapping::from_json(file, "m.json").unwrap();
        assert_eq!(
            entry(&mapping.agent_states, "Lunch"),
            row("Break", "Lunch", Activity::Closed)
        );
        let err = crate::Mapping::from_json(br#"{"agent_states": [{"name": "Lunch"}]}"#, "m.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "mapping file m.json: agent_states: entry [0] (`Lunch`): missing `reason`"
        );
    }
}
