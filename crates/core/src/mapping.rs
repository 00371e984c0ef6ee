//! The mapping: agent states and report columns as data. A default is built in; a JSON file
//! overrides parts of it (no redeploy to change a mapping).
//!
//! ```json
//! { "agent_states": [ ... ], "reports": { ... }, "instances": { "<alias>": "<instance id>" },
//!   "agents": { "hierarchy_groups": [ { "level": 2, "name": "Team Blue" } ], "routing_profiles": [ "Sales" ] } }
//! ```
//! Each section is merged over the built-in default by its own rules (see
//! [`crate::agent::AgentStateMapping`], [`crate::report::ReportMapping`] and [`Instances`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::agent::{AgentFilter, AgentStateMapping, AgentStatesSection};
use crate::report::{ReportMapping, ReportsSection};

pub mod changes;
pub mod reload;

/// A mapping file that cannot be used, naming the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("mapping file {source_name}: {message}")]
pub struct MappingError {
    pub source_name: String,
    pub message: String,
}

/// Everything configurable about how inputs become feed records.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub agent_states: AgentStateMapping,
    pub reports: ReportMapping,
    /// Connect instance alias → instance id (the `instances` section).
    pub instances: Instances,
    /// Which agents get records (the `agents` section; every agent by default).
    pub agents: AgentFilter,
}

/// A mapping file as written: every section optional, unknown keys rejected (a typo is caught
/// rather than silently ignored).
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with `agent_states`, `reports`, `instances` and/or `agents`"
)]
struct MappingFile {
    agent_states: Option<AgentStatesSection>,
    reports: Option<ReportsSection>,
    instances: Option<Instances>,
    agents: Option<AgentFilter>,
}

impl Mapping {
    /// The built-in defaults overridden by a JSON mapping file. `source_name` (a path or URL)
    /// names the file in errors, which also name the key (`agent_states[2]`,
    /// `reports.columns`). All or nothing: the whole file is validated before any of it is
    /// applied.
    pub fn from_json(bytes: &[u8], source_name: &str) -> Result<Self, MappingError> {
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let file: MappingFile = parse(&mut json)
            .and_then(|file| json.end().map(|()| file).map_err(|e| format!("not valid JSON: {e}")))
            .map_err(|message| MappingError {
                source_name: source_name.to_owned(),
                message,
            })?;
        if let Some(problem) = file
            .agents
            .as_ref()
            .and_then(|agents| agents.problems().into_iter().next())
        {
            return Err(MappingError {
                source_name: source_name.to_owned(),
                message: problem,
            });
        }
        let mut mapping = Mapping::default();
        if let Some(section) = file.agent_states {
            mapping.agent_states.apply(section);
        }
        if let Some(section) = file.reports {
            mapping.reports.apply(section);
        }
        if let Some(instances) = file.instances {
            mapping.instances = instances;
        }
        if let Some(agents) = file.agents {
            mapping.agents = agents;
        }
        Ok(mapping)
    }
}

/// Deserializes `T`, the error naming the path of the offending key (serde's own messages name
/// the key only for unknown or missing fields, not where in the file it sits).
pub(crate) fn parse<'de, T, D>(deserializer: D) -> Result<T, String>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            format!("not valid JSON: {inner}")
        } else if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// Parses one section given as a JSON value (the sections' `merge_json`).
pub(crate) fn parse_section<T: serde::de::DeserializeOwned>(section: serde_json::Value) -> Result<T, String> {
    parse(section)
}

/// A string, or a non-empty array of strings: the mapping file's "name or names".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        // Used verbatim as the message when neither form matches.
        #[serde(
            untagged,
            expecting = "expected a non-empty string or a non-empty array of non-empty strings"
        )]
        enum Raw<T> {
            One(T),
            Many(Vec<T>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::One(one) => Ok(Self(vec![one])),
            Raw::Many(many) if many.is_empty() => Err(serde::de::Error::custom(
                "expected a non-empty string or a non-empty array of non-empty strings, found an empty array",
            )),
            Raw::Many(many) => Ok(Self(many)),
        }
    }
}

/// A string that is not blank.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Text(pub(crate) String);

impl TryFrom<String> for Text {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.trim().is_empty() {
            Err("expected a non-empty string, found an empty one")
        } else {
            Ok(Self(text))
        }
    }
}

/// The `instances` section: Connect instance alias → instance id.
///
/// A report names its instance by alias (`connect/<alias>/Reports/...`), an agent event by
/// instance ARN; this table joins the two. Built-in default: empty.
///
/// ```json
/// { "instances": { "acme-prod": "aaaaaaaa-bbbb-cccc-dddd-111111111111" } }
/// ```
/// Keys are aliases, matched exactly; values are instance ids, or instance ARNs
/// (`arn:aws:connect:<region>:<account>:instance/<id>`, reduced to the id). Aliases and ids are
/// non-empty, and no id is given to two aliases (the reverse lookup, [`Instances::alias`], must
/// be unambiguous).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "BTreeMap<Text, Text>")]
pub struct Instances {
    by_alias: BTreeMap<String, String>,
}

impl TryFrom<BTreeMap<Text, Text>> for Instances {
    type Error = String;

    fn try_from(entries: BTreeMap<Text, Text>) -> Result<Self, Self::Error> {
        let mut by_alias = BTreeMap::new();
        let mut by_id: BTreeMap<String, String> = BTreeMap::new();
        for (Text(alias), Text(id)) in entries {
            let id = instance_id_of(&id).to_owned();
            if let Some(first) = by_id.insert(id.clone(), alias.clone()) {
                return Err(format!("instance id {id} is given to both `{first}` and `{alias}`"));
            }
            by_alias.insert(alias, id);
        }
        Ok(Self { by_alias })
    }
}

impl Instances {
    /// The instance id of an alias, if the mapping names it.
    pub fn instance_id(&self, alias: &str) -> Option<&str> {
        self.by_alias.get(alias).map(String::as_str)
    }

    /// The alias the mapping gives an instance id, if any.
    pub fn alias(&self, instance_id: &str) -> Option<&str> {
        self.by_alias
            .iter()
            .find(|(_, id)| *id == instance_id)
            .map(|(alias, _)| alias.as_str())
    }

    /// Every (alias, instance id) pair, by alias.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_alias.iter().map(|(a, i)| (a.as_str(), i.as_str()))
    }

    /// Whether no instance is named.
    pub fn is_empty(&self) -> bool {
        self.by_alias.is_empty()
    }
}

/// The instance id of an instance id or instance ARN (`...:instance/<id>`), trimmed.
fn instance_id_of(text: &str) -> &str {
    let text = text.trim();
    match text.rsplit_once(":instance/") {
        Some((_, id)) if text.starts_with("arn:") => id,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_sections_and_bad_json_naming_the_file() {
        let err = Mapping::from_json(br#"{"agent_state": {}}"#, "m.json").unwrap_err();
        assert!(
            err.to_string().contains("m.json") && err.to_string().contains("agent_state"),
            "{err}"
        );
        let err = Mapping::from_json(b"{", "s3://b/m.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mapping file s3://b/m.json: not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn the_agents_section_sets_the_filter_and_names_a_bad_rule() {
        let mapping = Mapping::from_json(
            br#"{"agents": {"hierarchy_groups": [{"level": 2, "name": "Team Blue"}], "routing_profiles": ["Sales"]}}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(mapping.agents.routing_profiles, ["Sales"]);
        assert!(Mapping::default().agents.is_everyone());
        let err = Mapping::from_json(
            br#"{"agents": {"hierarchy_groups": [{"level": 9, "id": "g"}]}}"#,
            "m.json",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "mapping file m.json: agents.hierarchy_groups[0]: `level` must be 1 to 5"
        );
        let err = Mapping::from_json(br#"{"agents": {"teams": []}}"#, "m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.json") && err.contains("teams"), "{err}");
    }

    #[test]
    fn instances_map_aliases_to_ids_both_ways() {
        let file = br#"{"instances": {
            "acme-prod": "aaaaaaaa-bbbb-cccc-dddd-111111111111",
            "acme-test": "arn:aws:connect:eu-west-1:123456789012:instance/aaaaaaaa-bbbb-cccc-dddd-222222222222"
        }}"#;
        let mapping = Mapping::from_json(file, "m.json").unwrap();
        let instances = &mapping.instances;
        assert_eq!(
            instances.instance_id("acme-prod"),
            Some("aaaaaaaa-bbbb-cccc-dddd-111111111111")
        );
        assert_eq!(
            instances.instance_id("acme-test"),
            Some("aaaaaaaa-bbbb-cccc-dddd-222222222222"),
            "an ARN is reduced to its id"
        );
        assert_eq!(instances.instance_id("ACME-PROD"), None, "aliases match exactly");
        assert_eq!(instances.instance_id("other"), None);
        assert_eq!(
            instances.alias("aaaaaaaa-bbbb-cccc-dddd-222222222222"),
            Some("acme-test")
        );
        assert_eq!(instances.alias("unknown"), None);
        assert_eq!(instances.iter().count(), 2);
        assert!(Mapping::default().instances.is_empty());
    }

    #[test]
    fn bad_instances_name_the_file_and_alias() {
        let cases = [
            (
                r#"{"instances": ["a"]}"#,
                "mapping file m.json: instances: invalid type: sequence, expected a map",
            ),
            (
                r#"{"instances": {"acme": 3}}"#,
                "mapping file m.json: instances.acme: invalid type: integer `3`, expected a string",
            ),
            (
                r#"{"instances": {"acme": " "}}"#,
                "mapping file m.json: instances.acme: expected a non-empty string",
            ),
            (
                r#"{"instances": {"": "i-1"}}"#,
                "mapping file m.json: instances.: expected a non-empty string",
            ),
            (
                r#"{"instances": {"a": "i-1", "b": "i-1"}}"#,
                "mapping file m.json: instances: instance id i-1 is given to both `a` and `b`",
            ),
        ];
        for (file, expected) in cases {
            let err = Mapping::from_json(file.as_bytes(), "m.json").unwrap_err().to_string();
            assert!(err.starts_with(expected), "{file}: got {err}");
        }
    }
}
