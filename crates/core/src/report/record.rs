//! Interval records of the feed (feed.md): `queue_interval`, `agent_queue_interval`,
//! `agent_interval`. Field names and order are the contract; every field is always present
//! (`null` when the report lacks the column, for an empty average or percentage, and for a
//! derived field one of whose inputs is null; an empty count or time is 0).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::kind::ReportKind;
use crate::timefmt::serde_interval_start;

/// Serialises a shared string (the per-file `instance`, `bucket`, `key`) as a plain string.
fn shared_str<S: Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

/// Where a record came from: the report object and the 1-based line of its CSV row (the
/// header is line 1; a row with a quoted line break is numbered by its first line).
///
/// `bucket` and `key` are shared by every record of a file, so a million rows do not copy them
/// a million times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSource {
    /// Bucket of the report object (empty for a local file).
    #[serde(serialize_with = "shared_str")]
    pub bucket: Arc<str>,
    /// Key of the report object (the path of a local file).
    #[serde(serialize_with = "shared_str")]
    pub key: Arc<str>,
    /// 1-based line of the CSV row.
    pub line: u64,
}

/// One service-level threshold of a queue interval (all thresholds found in the headers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceLevel {
    /// X.
    pub seconds: u32,
    /// `Contacts answered in X seconds`.
    pub answered: Option<i64>,
    /// `Contacts abandoned in X seconds`.
    pub abandoned: Option<i64>,
    /// `Service level X seconds`, without `%`.
    pub pct: Option<f64>,
}

/// `basis` of every record read from a Connect report (feed.md: authoritative, ~15–25 minutes
/// after the interval).
pub const REPORT_BASIS: &str = "report";

/// `queue_interval`: one queue, one interval, from either basis (feed.md): Connect's queue
/// report (QR, `basis: "report"`) or the contact events and contact records (`basis:
/// "stream"`). One type for both: the fields only the stream basis has (`instance_id`,
/// `queue_id`, `transferred_out`, `as_of`, `ctr_pending`) are `None` in a report record, which
/// leaves them out of its JSON, and `Some` in a stream record (`as_of` itself may be null
/// there). Field order is the contract's, for both bases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueInterval {
    /// `queue_interval`.
    pub kind: &'static str,
    /// [`crate::feed::SCHEMA`].
    pub schema: u32,
    /// [`REPORT_BASIS`] or the stream basis.
    pub basis: &'static str,
    /// Instance alias (from the key `connect/<alias>/Reports/...`, the mapping's `instances`)
    /// or configured; the instance id when no alias is known (stream basis).
    #[serde(serialize_with = "shared_str")]
    pub instance: Arc<str>,
    /// The instance id (stream basis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `Queue`; on the stream basis the name when learned from CTRs or agent events, else null.
    pub queue: Option<String>,
    /// Last segment of the queue ARN (stream basis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// `StartInterval` in UTC.
    #[serde(with = "serde_interval_start")]
    pub interval_start: DateTime<Utc>,
    /// EndInterval − StartInterval, minutes.
    pub interval_minutes: u32,
    /// `Contacts queued`.
    pub contacts_received: Option<i64>,
    /// `Contacts handled`.
    pub handled: Option<i64>,
    /// `Contacts answered in X seconds`, X = `service_level_seconds`.
    pub handled_short: Option<i64>,
    /// `handled − handled_short`, never below 0.
    pub handled_long: Option<i64>,
    /// `Contacts abandoned`.
    pub abandoned: Option<i64>,
    /// `Contacts abandoned in X seconds`.
    pub abandoned_short: Option<i64>,
    /// `abandoned − abandoned_short`, never below 0.
    pub abandoned_long: Option<i64>,
    /// Enqueued legs that left unanswered by callback or queue transfer (stream basis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred_out: Option<i64>,
    /// `Agent interaction time`, whole seconds.
    pub talk_time_s: Option<i64>,
    /// `Customer hold time`, whole seconds.
    pub hold_time_s: Option<i64>,
    /// `After contact work time`, whole seconds.
    pub acw_time_s: Option<i64>,
    /// talk + hold + ACW, when all three are present.
    pub handle_time_s: Option<i64>,
    /// `Average queue answer time` × handled, rounded.
    pub queue_delay_s: Option<i64>,
    /// X: the threshold configured for the queue, else the smallest in the header.
    pub service_level_seconds: Option<u32>,
    /// `Service level X seconds` without `%`.
    pub service_level_pct: Option<f64>,
    /// Every threshold found in the header, ascending.
    pub service_levels: Vec<ServiceLevel>,
    /// Not provided by Connect reports: null; legs waiting at the interval's end (stream).
    pub backlog: Option<i64>,
    /// Of those, waiting longer than X.
    pub backlog_expired: Option<i64>,
    /// Of those, waiting at most X.
    pub backlog_not_expired: Option<i64>,
    /// Not provided by Connect: always null.
    pub right_party_contacts: Option<i64>,
    /// Always null.
    pub right_party_handle_time_s: Option<i64>,
    /// Always null.
    pub wrong_party_contacts: Option<i64>,
    /// Always null.
    pub wrong_party_handle_time_s: Option<i64>,
    /// Any count or duration of the row above zero (a waiting-only stream record is active).
    pub active: bool,
    /// The newest input time among the record's legs (stream basis; null when it has none).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "stream_time")]
    pub as_of: Option<Option<DateTime<Utc>>>,
    /// Handled legs whose CTR has not arrived (stream basis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctr_pending: Option<i64>,
    /// The CSV row, or `{ "stream": "contact_events" }`.
    pub source: IntervalSource,
}

/// Where a `queue_interval` came from: a report's CSV row, or the contact streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntervalSource {
    Row(RecordSource),
    Stream { stream: &'static str },
}

impl IntervalSource {
    /// The source of every stream-basis record.
    pub const CONTACT_EVENTS: IntervalSource = IntervalSource::Stream {
        stream: "contact_events",
    };

    /// The CSV row, for a report record.
    pub fn row(&self) -> Option<&RecordSource> {
        match self {
            IntervalSource::Row(row) => Some(row),
            IntervalSource::Stream { .. } => None,
        }
    }
}

/// `as_of` of a stream record, written like every feed time (`null` when it has none).
fn stream_time<S: Serializer>(at: &Option<Option<DateTime<Utc>>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(Some(at)) => crate::timefmt::serde_feed_time::serialize(at, s),
        _ => s.serialize_none(),
    }
}

impl QueueInterval {
    /// The `kind` of every queue interval record.
    pub const KIND: &'static str = "queue_interval";
}

/// `agent_queue_interval`: one agent, one queue, one interval (report kind AQR).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentQueueInterval {
    /// `agent_queue_interval`.
    pub kind: &'static str,
    /// [`crate::feed::SCHEMA`].
    pub schema: u32,
    /// [`REPORT_BASIS`]: the numbers come from Connect's report.
    pub basis: &'static str,
    /// Instance alias (from the key `connect/<alias>/Reports/...`) or configured.
    #[serde(serialize_with = "shared_str")]
    pub instance: Arc<str>,
    /// `Agent`: the login name.
    pub agent_login: String,
    /// From the agent-state store by login (set by the handler), else null.
    pub agent_id: Option<String>,
    /// `Queue`.
    pub queue: String,
    /// `StartInterval` in UTC.
    #[serde(with = "serde_interval_start")]
    pub interval_start: DateTime<Utc>,
    /// EndInterval − StartInterval, minutes.
    pub interval_minutes: u32,
    /// `Contacts handled`.
    pub handled: Option<i64>,
    /// `Agent interaction time`, whole seconds.
    pub talk_time_s: Option<i64>,
    /// `Customer hold time`, whole seconds.
    pub hold_time_s: Option<i64>,
    /// `After contact work time`, whole seconds.
    pub acw_time_s: Option<i64>,
    /// talk + hold + ACW, when all three are present.
    pub handle_time_s: Option<i64>,
    /// Not provided by Connect reports: always null.
    pub right_party_contacts: Option<i64>,
    /// Always null.
    pub right_party_handle_time_s: Option<i64>,
    /// Always null.
    pub wrong_party_contacts: Option<i64>,
    /// Always null.
    pub wrong_party_handle_time_s: Option<i64>,
    /// Handled, talk, hold or ACW time above zero.
    pub active: bool,
    /// The CSV row this record came from.
    pub source: RecordSource,
}

impl AgentQueueInterval {
    /// The `kind` of every agent queue interval record.
    pub const KIND: &'static str = "agent_queue_interval";
}

/// `agent_interval`: one agent, one interval (report kind ASPR).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentInterval {
    /// `agent_interval`.
    pub kind: &'static str,
    /// [`crate::feed::SCHEMA`].
    pub schema: u32,
    /// [`REPORT_BASIS`]: the numbers come from Connect's report.
    pub basis: &'static str,
    /// Instance alias (from the key `connect/<alias>/Reports/...`) or configured.
    #[serde(serialize_with = "shared_str")]
    pub instance: Arc<str>,
    /// `Agent`: the login name.
    pub agent_login: String,
    /// From the agent-state store by login (set by the handler), else null.
    pub agent_id: Option<String>,
    /// `StartInterval` in UTC.
    #[serde(with = "serde_interval_start")]
    pub interval_start: DateTime<Utc>,
    /// EndInterval − StartInterval, minutes.
    pub interval_minutes: u32,
    /// `Online time`, whole seconds.
    pub login_time_s: Option<i64>,
    /// `Non-Productive Time`, whole seconds.
    pub not_ready_time_s: Option<i64>,
    /// `login − not_ready`, never below 0.
    pub ready_time_s: Option<i64>,
    /// `Agent idle time`, whole seconds.
    pub idle_time_s: Option<i64>,
    /// `Agent on contact time`, whole seconds.
    pub on_contact_time_s: Option<i64>,
    /// Online, non-productive, idle or on-contact time above zero.
    pub active: bool,
    /// The CSV row this record came from.
    pub source: RecordSource,
}

impl AgentInterval {
    /// The `kind` of every agent interval record.
    pub const KIND: &'static str = "agent_interval";
}

/// One interval record of any kind; serialises as the record itself (no wrapper).
// The queue variant is the largest (it carries the stream basis's fields too): a report's rows
// are one kind each, so the space is not wasted on a mix, and boxing would cost an allocation
// per row on the million-rows-a-second path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum IntervalRecord {
    /// From a QR.
    Queue(QueueInterval),
    /// From an AQR.
    AgentQueue(AgentQueueInterval),
    /// From an ASPR.
    Agent(AgentInterval),
}

impl IntervalRecord {
    /// The report kind this record came from.
    pub fn kind(&self) -> ReportKind {
        match self {
            IntervalRecord::Queue(_) => ReportKind::Queue,
            IntervalRecord::AgentQueue(_) => ReportKind::AgentQueue,
            IntervalRecord::Agent(_) => ReportKind::AgentSystem,
        }
    }

    /// The feed kind (`queue_interval`, ...), also the record's `kind` field.
    pub fn feed_kind(&self) -> &'static str {
        self.kind().feed_kind()
    }

    /// Interval start in UTC (dates the record in the feed layout).
    pub fn interval_start(&self) -> DateTime<Utc> {
        match self {
            IntervalRecord::Queue(r) => r.interval_start,
            IntervalRecord::AgentQueue(r) => r.interval_start,
            IntervalRecord::Agent(r) => r.interval_start,
        }
    }

    /// The instance alias of the record (`instance`).
    pub fn instance(&self) -> &str {
        match self {
            IntervalRecord::Queue(r) => &r.instance,
            IntervalRecord::AgentQueue(r) => &r.instance,
            IntervalRecord::Agent(r) => &r.instance,
        }
    }

    /// The agent's login name; `None` for a queue record.
    pub fn agent_login(&self) -> Option<&str> {
        match self {
            IntervalRecord::Queue(_) => None,
            IntervalRecord::AgentQueue(r) => Some(&r.agent_login),
            IntervalRecord::Agent(r) => Some(&r.agent_login),
        }
    }

    /// Sets the agent id found for the login (the handler looks it up); no-op for a queue record.
    pub fn set_agent_id(&mut self, agent_id: Option<String>) {
        match self {
            IntervalRecord::Queue(_) => {}
            IntervalRecord::AgentQueue(r) => r.agent_id = agent_id,
            IntervalRecord::Agent(r) => r.agent_id = agent_id,
        }
    }

    /// The queue name; `None` for an agent record.
    pub fn queue(&self) -> Option<&str> {
        match self {
            IntervalRecord::Queue(r) => r.queue.as_deref(),
            IntervalRecord::AgentQueue(r) => Some(&r.queue),
            IntervalRecord::Agent(_) => None,
        }
    }

    /// Where the record came from (the CSV row: every record of a report has one).
    pub fn source(&self) -> Option<&RecordSource> {
        match self {
            IntervalRecord::Queue(r) => r.source.row(),
            IntervalRecord::AgentQueue(r) => Some(&r.source),
            IntervalRecord::Agent(r) => Some(&r.source),
        }
    }

    /// Whether the row had any activity (see [`super::ReportReader`] for the rule per kind).
    pub fn active(&self) -> bool {
        match self {
            IntervalRecord::Queue(r) => r.active,
            IntervalRecord::AgentQueue(r) => r.active,
            IntervalRecord::Agent(r) => r.active,
        }
    }
}
impl crate::feed::FeedRecord for IntervalRecord {
    fn kind(&self) -> &'static str {
        self.feed_kind()
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.interval_start())
    }
}

impl crate::feed::FeedRecord for QueueInterval {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.interval_start)
    }
}
