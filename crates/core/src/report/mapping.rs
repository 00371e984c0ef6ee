//! Report mapping (stub: replaced by the historical-report work).

/// Report mapping: column names, report-kind patterns, per-queue SLA thresholds.
#[derive(Debug, Clone, Default)]
pub struct ReportMapping {}

impl ReportMapping {
    /// Merges the `reports` section of a mapping file over this mapping.
    pub fn merge_json(&mut self, _section: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}
