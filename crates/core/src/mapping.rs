//! The mapping: agent states and report columns as data. A default is built in; a JSON file
//! overrides parts of it (no redeploy to change a mapping).
//!
//! ```json
//! { "agent_states": { ... }, "reports": { ... } }
//! ```
//! Each section is merged over the built-in default by its own rules (see
//! [`crate::agent::AgentStateMapping`] and [`crate::report::ReportMapping`]).

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
                "expected a JSON object with `agent_states` and/or `reports`".into(),
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
                other => {
                    return Err(error(format!(
                        "unknown section `{other}` (expected `agent_states` or `reports`)"
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
}
