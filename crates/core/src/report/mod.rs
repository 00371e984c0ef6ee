//! Connect scheduled historical reports (CSV) to interval records.
//!
//! [`ReportReader`] streams one report: it reads the header, detects the report kind (QR, AQR,
//! ASPR), resolves every column by name once, then turns each CSV row into one
//! [`IntervalRecord`] (`queue_interval`, `agent_queue_interval`, `agent_interval` of feed.md).
//! [`ReportMapping`] holds the configurable column names, kind patterns and SLA thresholds.

mod agent_ids;
mod header;
mod kind;
mod mapping;
mod reader;
mod record;
mod value;

pub use agent_ids::{AgentIdCache, agent_id_for};
pub use kind::{KindPatterns, ReportKind, ReportSource, instance_from_key, is_csv_key, kind_from_name};
pub(crate) use mapping::ReportsSection;
pub use mapping::{Column, Measure, ReportMapping, THRESHOLD_PLACEHOLDER, Template};
pub use reader::{MAX_RECORD_BYTES, ReportError, ReportProblem, ReportReader};
pub use record::{
    AgentInterval, AgentQueueInterval, IntervalRecord, IntervalSource, QueueInterval, REPORT_BASIS, RecordSource,
    ServiceLevel,
};
