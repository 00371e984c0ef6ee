//! Agent-state mapping table (stub: replaced by the agent-state work).

/// Agent-state mapping: Connect state or status name → WFM event id, reason, activity.
#[derive(Debug, Clone, Default)]
pub struct AgentStateMapping {}

impl AgentStateMapping {
    /// Merges the `agent_states` section of a mapping file over this mapping.
    pub fn merge_json(&mut self, _section: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}
