//! The agent-state mapping table: a Connect status name, contact state or event name → the WFM
//! state (event id) it emits, with its reason and activity code.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::state::Activity;
use crate::mapping::{Text, parse_section};

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
/// - `event_id` (string, optional, default = `name`, but `LOGIN` / `LOGOUT` for the `Login` /
///   `Logout` entries): the WFM state emitted.
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
    /// Entry of the state of a silent agent (feed.md rule 5): `UNKNOWN`, `No signal`, `Closed`.
    pub const UNKNOWN: &'static str = "Unknown";
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
            AgentStateEntry::new("Unknown", "UNKNOWN", "No signal", Closed),
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
    /// names the entry (`[index]`, 0-based) and the problem.
    pub fn merge_json(&mut self, section: Value) -> Result<(), String> {
        self.apply(parse_section(section)?);
        Ok(())
    }

    /// Applies a validated `agent_states` section.
    pub(crate) fn apply(&mut self, section: AgentStatesSection) {
        for entry in section.0 {
            let event_id = match entry.event_id {
                Some(event_id) => event_id.0,
                None => default_event_id(&entry.name.0).to_owned(),
            };
            self.insert(AgentStateEntry {
                name: entry.name.0,
                event_id,
                reason: entry.reason.0,
                activity: entry.activity,
            });
        }
    }
}

/// The state an entry emits when it does not set `event_id`: its name, except for the entries
/// of the LOGIN and LOGOUT event types, whose state stays `LOGIN` / `LOGOUT` (feed.md: such
/// entries change `reason` and `activity` only).
fn default_event_id(name: &str) -> &str {
    match name {
        AgentStateMapping::LOGIN => "LOGIN",
        AgentStateMapping::LOGOUT => "LOGOUT",
        other => other,
    }
}

/// The `agent_states` section as written: entries with distinct names.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<EntryFile>")]
pub(crate) struct AgentStatesSection(Vec<EntryFile>);

/// One entry as written; `event_id` defaults to `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object with `name`, `reason` and `activity`")]
struct EntryFile {
    name: Text,
    event_id: Option<Text>,
    reason: Text,
    activity: Activity,
}

impl TryFrom<Vec<EntryFile>> for AgentStatesSection {
    type Error = String;

    fn try_from(entries: Vec<EntryFile>) -> Result<Self, Self::Error> {
        for (index, entry) in entries.iter().enumerate() {
            if let Some(first) = entries[..index].iter().position(|e| e.name == entry.name) {
                return Err(format!(
                    "entry [{index}] (`{}`): duplicate name, already given by entry [{first}]",
                    entry.name.0
                ));
            }
        }
        Ok(Self(entries))
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
        assert_eq!(entry(&m, "Unknown"), row("UNKNOWN", "No signal", Closed));
        for state in VOICE_STATES.iter().chain(CHAT_STATES.iter()) {
            assert_eq!(entry(&m, state), row(state, "Open", Open));
        }
        assert_eq!(m.entries().count(), 6 + 11 + 9);
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
        assert_eq!(m.entries().count(), 26 + 2);
        m.merge_json(json!([])).unwrap();
        assert_eq!(m.entries().count(), 28);
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
            (json!({"Lunch": {}}), "invalid type: map, expected a sequence"),
            (
                json!([1]),
                "[0]: invalid type: integer `1`, expected an object with `name`, `reason` and `activity`",
            ),
            (
                json!([{"reason": "x", "activity": "Open"}]),
                "[0]: missing field `name`",
            ),
            (
                json!([{"name": "", "reason": "x", "activity": "Open"}]),
                "[0].name: expected a non-empty string, found an empty one",
            ),
            (
                json!([{"name": 3, "reason": "x", "activity": "Open"}]),
                "[0].name: invalid type: integer `3`, expected a string",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "Open"}, {"name": "Nap", "activity": "Closed"}]),
                "[1]: missing field `reason`",
            ),
            (
                json!([{"name": "Lunch", "reason": "x"}]),
                "[0]: missing field `activity`",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "open"}]),
                "[0].activity: unknown variant `open`, expected `Open` or `Closed`",
            ),
            (
                json!([{"name": "Lunch", "reason": "x", "activity": "Open", "event": "Break"}]),
                "[0].event: unknown field `event`, expected one of `name`, `event_id`, `reason`, `activity`",
            ),
            (
                json!([{"name": "Lunch", "event_id": "", "reason": "x", "activity": "Open"}]),
                "[0].event_id: expected a non-empty string, found an empty one",
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
            "mapping file m.json: agent_states[0]: missing field `reason` at line 1 column 35"
        );
    }

    #[test]
    fn login_and_logout_entries_keep_their_states_unless_event_id_is_set() {
        let mut m = AgentStateMapping::default();
        m.merge_json(json!([
            { "name": "Login", "reason": "Shift start", "activity": "Closed" },
            { "name": "Logout", "reason": "Gone", "activity": "Closed" },
            { "name": "Lunch", "reason": "Lunch", "activity": "Closed" }
        ]))
        .unwrap();
        assert_eq!(entry(&m, "Login"), row("LOGIN", "Shift start", Activity::Closed));
        assert_eq!(entry(&m, "Logout"), row("LOGOUT", "Gone", Activity::Closed));
        assert_eq!(entry(&m, "Lunch"), row("Lunch", "Lunch", Activity::Closed));
        m.merge_json(json!([{ "name": "Login", "event_id": "SIGNON", "reason": "Open", "activity": "Open" }]))
            .unwrap();
        assert_eq!(
            entry(&m, "Login"),
            row("SIGNON", "Open", Activity::Open),
            "an explicit event_id wins"
        );
    }
}
