//! The mapping: agent states and report columns as data. A default is built in; a JSON file
//! overrides parts of it (no redeploy to change a mapping).
//!
//! ```json
//! { "agent_states": [ ... ], "reports": { ... }, "instances": { "<alias>": "<instance id>" } }
//! ```
//! Each section is merged over the built-in default by its own rules (see
//! [`crate::agent::AgentStateMapping`], [`crate::report::ReportMapping`] and [`Instances`]).

use std::collections::BTreeMap;

use crate::agent::AgentStateMapping;
use crate::report::ReportMapping;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instances {
    by_alias: BTreeMap<String, String>,
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

    /// Merges the `instances` section over this table: given aliases are added or replaced.
    /// All or nothing: on error the table is unchanged and the message names the alias.
    fn merge_json(&mut self, section: serde_json::Value) -> Result<(), String> {
        let serde_json::Value::Object(entries) = section else {
            return Err("expected an object of instance alias → instance id".into());
        };
        let mut merged = self.by_alias.clone();
        for (alias, id) in entries {
            if alias.trim().is_empty() {
                return Err("an alias is empty".into());
            }
            let Some(id) = id.as_str().map(instance_id_of).filter(|id| !id.is_empty()) else {
                return Err(format!(
                    "instances.{alias}: expected a non-empty instance id (or instance ARN), got {id}"
                ));
            };
            merged.insert(alias, id.to_owned());
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (alias, id) in &merged {
            if let Some(first) = seen.insert(id, alias) {
                return Err(format!(
                    "instances.{alias}: instance id {id} is already given to alias `{first}`"
                ));
            }
        }
        self.by_alias = merged;
        Ok(())
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

impl Mapping {
    /// The built-in defaults overridden by a JSON mapping file. `source_name` (a path or URL)
    /// names the file in errors. Unknown top-level sections are an error, so a typo is caught.
    pub fn from_json(bytes: &[u8], source_name: &str) -> Result<Self, MappingError> {
        let error = |message: String| MappingError {
            source_name: source_name.to_owned(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| error(format!("not valid JSON: {e}")))?;
        let serde_json::Value::Object(sections) = value else {
            return Err(error(
                "expected a JSON object with `agent_states`, `reports` and/or `instances`".into(),
            ));
        };
        let mut mapping = Mapping::default();
        for (name, section) in sections {
            match name.as_str() {
                "agent_states" => mapping
                    .agent_states
                    .merge_json(section)
                    .map_err(|m| error(format!("agent_states: {m}")))?,
                "reports" => mapping
                    .reports
                    .merge_json(section)
                    .map_err(|m| error(format!("reports: {m}")))?,
                "instances" => mapping
                    .instances
                    .merge_json(section)
                    .map_err(|m| error(format!("instances: {m}")))?,
                other => {
                    return Err(error(format!(
                        "unknown section `{other}` (expected `agent_states`, `reports` or `instances`)"
                    )));
                }
            }
        }
        Ok(mapping)
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
                "mapping file m.json: instances: expected an object",
            ),
            (
                r#"{"instances": {"acme": 3}}"#,
                "mapping file m.json: instances: instances.acme: expected a non-empty instance id",
            ),
            (
                r#"{"instances": {"acme": " "}}"#,
                "mapping file m.json: instances: instances.acme: expected a non-empty instance id",
            ),
            (
                r#"{"instances": {"": "i-1"}}"#,
                "mapping file m.json: instances: an alias is empty",
            ),
            (
                r#"{"instances": {"a": "i-1", "b": "i-1"}}"#,
                "mapping file m.json: instances: instances.b: instance id i-1 is already given to alias `a`",
            ),
        ];
        for (file, expected) in cases {
            let err = Mapping::from_json(file.as_bytes(), "m.json").unwrap_err().to_string();
            assert!(err.starts_with(expected), "{file}: got {err}");
        }
    }
}
