//! Report mapping: the `reports` section of the JSON mapping file, merged over built-in defaults.
//!
//! ```json
//! {
//!   "reports": {
//!     "columns": {
//!       "contacts_handled": "Handled contacts",
//!       "queue": ["Queue", "Queue name"],
//!       "contacts_answered_in": "Contacts answered in {X} seconds"
//!     },
//!     "kind_patterns": { "QR": ["QR", "queue-report"], "AQR": ["AQR"], "ASPR": ["ASPR"] },
//!     "sla_seconds": { "Sales": 30, "Support": 60 },
//!     "default_sla_seconds": 20,
//!     "service_level_thresholds": [20, 60],
//!     "instance": "acme-prod"
//!   }
//! }
//! ```
//!
//! - `columns`: logical column → the header name, or a list of accepted header names (the first
//!   found in the header wins). A name given here **replaces** the built-in name(s) for that
//!   column; list the default too to accept both. Names are matched like headers (case, spaces,
//!   BOM and parentheses do not matter, see feed.md). A built-in column may have several names
//!   (`Non-Productive Time`, and `Nonproductive time` of older exports). The three threshold columns
//!   (`contacts_answered_in`, `contacts_abandoned_in`, `service_level`) are templates with `{X}`
//!   where the number of seconds stands. Keys and defaults: see [`Column`] and [`Template`].
//! - `kind_patterns`: tag (`QR`, `AQR`, `ASPR`) → the name pattern(s) that tag a file of that kind
//!   (matched as separate tokens of the key, case-insensitive; see
//!   [`super::kind_from_name`]). Given patterns replace the defaults of that kind.
//! - `sla_seconds`: queue name (exact) → its service-level threshold X in seconds. Merged entry by
//!   entry over earlier files.
//! - `default_sla_seconds`: X for queues not in `sla_seconds` (`null`: the smallest threshold
//!   found in the report's headers, the built-in behaviour).
//! - `service_level_thresholds`: the thresholds X (seconds) of the stream-basis records'
//!   `service_levels`, besides each queue's SLA (feed.md "Stream basis"); default `[20]`. A list
//!   given replaces the earlier one.
//! - `instance`: the instance name used when the report key is not `connect/<alias>/Reports/...`.
//!
//! Unknown keys, unknown columns and bad values are errors naming them, so a typo is caught.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

use serde::Deserialize;
use serde_json::Value;

use super::kind::{KindPatterns, ReportKind};
use crate::mapping::{OneOrMany, Text, parse_section};

/// A report column with a fixed name, by its key in the mapping's `columns` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// `start_interval`: `StartInterval` (required).
    StartInterval,
    /// `end_interval`: `EndInterval` (required: `interval_minutes` is never null).
    EndInterval,
    /// `queue`: `Queue` (grouping column of QR and AQR).
    Queue,
    /// `agent`: `Agent` (grouping column of AQR and ASPR).
    Agent,
    /// `contacts_queued`: `Contacts queued` → `contacts_received`.
    ContactsQueued,
    /// `contacts_handled`: `Contacts handled` → `handled`.
    ContactsHandled,
    /// `contacts_abandoned`: `Contacts abandoned` → `abandoned`.
    ContactsAbandoned,
    /// `agent_interaction_time`: `Agent interaction time` → `talk_time_s`.
    AgentInteractionTime,
    /// `customer_hold_time`: `Customer hold time` → `hold_time_s`.
    CustomerHoldTime,
    /// `after_contact_work_time`: `After contact work time` → `acw_time_s`.
    AfterContactWorkTime,
    /// `average_queue_answer_time`: `Average queue answer time` (× handled → `queue_delay_s`).
    AverageQueueAnswerTime,
    /// `online_time`: `Online time` → `login_time_s`.
    OnlineTime,
    /// `non_productive_time`: `Non-Productive Time`, or `Nonproductive time` as older exports
    /// name it → `not_ready_time_s`.
    NonProductiveTime,
    /// `agent_idle_time`: `Agent idle time` → `idle_time_s`.
    AgentIdleTime,
    /// `agent_on_contact_time`: `Agent on contact time` → `on_contact_time_s`.
    AgentOnContactTime,
}

impl Column {
    /// Every column, in the order of the mapping docs.
    pub const ALL: [Column; 15] = [
        Column::StartInterval,
        Column::EndInterval,
        Column::Queue,
        Column::Agent,
        Column::ContactsQueued,
        Column::ContactsHandled,
        Column::ContactsAbandoned,
        Column::AgentInteractionTime,
        Column::CustomerHoldTime,
        Column::AfterContactWorkTime,
        Column::AverageQueueAnswerTime,
        Column::OnlineTime,
        Column::NonProductiveTime,
        Column::AgentIdleTime,
        Column::AgentOnContactTime,
    ];

    /// The key of this column in the mapping's `columns` object.
    pub fn key(self) -> &'static str {
        match self {
            Column::StartInterval => "start_interval",
            Column::EndInterval => "end_interval",
            Column::Queue => "queue",
            Column::Agent => "agent",
            Column::ContactsQueued => "contacts_queued",
            Column::ContactsHandled => "contacts_handled",
            Column::ContactsAbandoned => "contacts_abandoned",
            Column::AgentInteractionTime => "agent_interaction_time",
            Column::CustomerHoldTime => "customer_hold_time",
            Column::AfterContactWorkTime => "after_contact_work_time",
            Column::AverageQueueAnswerTime => "average_queue_answer_time",
            Column::OnlineTime => "online_time",
            Column::NonProductiveTime => "non_productive_time",
            Column::AgentIdleTime => "agent_idle_time",
            Column::AgentOnContactTime => "agent_on_contact_time",
        }
    }

    /// The built-in header name (as Connect's console names the metric).
    pub fn default_name(self) -> &'static str {
        self.default_names()[0]
    }

    /// Every built-in header name, the console's first: older exports name some metrics
    /// differently, and a report from either must read the same.
    pub fn default_names(self) -> &'static [&'static str] {
        match self {
            Column::StartInterval => &["StartInterval"],
            Column::EndInterval => &["EndInterval"],
            Column::Queue => &["Queue"],
            Column::Agent => &["Agent"],
            Column::ContactsQueued => &["Contacts queued"],
            Column::ContactsHandled => &["Contacts handled"],
            Column::ContactsAbandoned => &["Contacts abandoned"],
            Column::AgentInteractionTime => &["Agent interaction time"],
            Column::CustomerHoldTime => &["Customer hold time"],
            Column::AfterContactWorkTime => &["After contact work time"],
            Column::AverageQueueAnswerTime => &["Average queue answer time"],
            Column::OnlineTime => &["Online time"],
            Column::NonProductiveTime => &["Non-Productive Time", "Nonproductive time"],
            Column::AgentIdleTime => &["Agent idle time"],
            Column::AgentOnContactTime => &["Agent on contact time"],
        }
    }

    /// What the column measures; `None` for the interval and grouping columns, which are not
    /// metrics.
    pub fn measure(self) -> Option<Measure> {
        match self {
            Column::StartInterval | Column::EndInterval | Column::Queue | Column::Agent => None,
            Column::ContactsQueued | Column::ContactsHandled | Column::ContactsAbandoned => Some(Measure::Count),
            Column::AgentInteractionTime
            | Column::CustomerHoldTime
            | Column::AfterContactWorkTime
            | Column::OnlineTime
            | Column::NonProductiveTime
            | Column::AgentIdleTime
            | Column::AgentOnContactTime => Some(Measure::Duration),
            Column::AverageQueueAnswerTime => Some(Measure::Average),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A column family with one column per service-level threshold: the name holds `{X}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Template {
    /// `contacts_answered_in`: `Contacts answered in {X} seconds` → `handled_short`.
    ContactsAnsweredIn,
    /// `contacts_abandoned_in`: `Contacts abandoned in {X} seconds` → `abandoned_short`.
    ContactsAbandonedIn,
    /// `service_level`: `Service level {X} seconds` → `service_level_pct`.
    ServiceLevel,
}

impl Template {
    /// Every template: answered, abandoned, service level.
    pub const ALL: [Template; 3] = [
        Template::ContactsAnsweredIn,
        Template::ContactsAbandonedIn,
        Template::ServiceLevel,
    ];

    /// The key of this template in the mapping's `columns` object.
    pub fn key(self) -> &'static str {
        match self {
            Template::ContactsAnsweredIn => "contacts_answered_in",
            Template::ContactsAbandonedIn => "contacts_abandoned_in",
            Template::ServiceLevel => "service_level",
        }
    }

    /// The built-in header template.
    pub fn default_name(self) -> &'static str {
        match self {
            Template::ContactsAnsweredIn => "Contacts answered in {X} seconds",
            Template::ContactsAbandonedIn => "Contacts abandoned in {X} seconds",
            Template::ServiceLevel => "Service level {X} seconds",
        }
    }

    /// What the columns of this family measure.
    pub fn measure(self) -> Measure {
        match self {
            Template::ContactsAnsweredIn | Template::ContactsAbandonedIn => Measure::Count,
            Template::ServiceLevel => Measure::Percentage,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a metric column holds. It decides what an empty cell (or `-`) means, since Connect's
/// exports leave a cell empty both where a count or a total time is zero and where an average
/// or a percentage is undefined because nothing happened (feed.md "Header matching").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// A number of contacts (`Contacts handled`, `Contacts answered in X seconds`).
    Count,
    /// A total time in seconds (`Agent interaction time`, `Online time`, `Non-Productive Time`).
    Duration,
    /// An average time in seconds (`Average queue answer time`).
    Average,
    /// A percentage (`Service level X seconds`).
    Percentage,
}

impl Measure {
    /// What an empty cell of a column the report has stands for: 0 for counts and durations,
    /// `None` (null in the feed) for averages and percentages.
    pub fn empty_value(self) -> Option<f64> {
        match self {
            Measure::Count | Measure::Duration => Some(0.0),
            Measure::Average | Measure::Percentage => None,
        }
    }
}

/// The placeholder for the threshold in a template column name.
pub const THRESHOLD_PLACEHOLDER: &str = "{X}";

/// Report mapping: column names, report-kind patterns, per-queue SLA thresholds, instance.
/// `Default` is the built-in mapping; [`ReportMapping::merge_json`] applies a mapping file.
#[derive(Debug, Clone)]
pub struct ReportMapping {
    columns: [Vec<String>; Column::ALL.len()],
    templates: [Vec<String>; Template::ALL.len()],
    /// Lowercase, indexed like [`ReportKind::ALL`].
    kind_patterns: [Vec<String>; ReportKind::ALL.len()],
    sla_seconds: HashMap<String, u32>,
    default_sla_seconds: Option<u32>,
    service_level_thresholds: Vec<u32>,
    instance: Option<String>,
}

impl Default for ReportMapping {
    fn default() -> Self {
        Self {
            columns: Column::ALL.map(|c| c.default_names().iter().map(|&n| n.to_owned()).collect()),
            templates: Template::ALL.map(|t| vec![t.default_name().to_owned()]),
            kind_patterns: ReportKind::ALL.map(|k| vec![k.tag().to_ascii_lowercase()]),
            sla_seconds: HashMap::new(),
            default_sla_seconds: None,
            service_level_thresholds: crate::contact::DEFAULT_THRESHOLDS.to_vec(),
            instance: None,
        }
    }
}

fn kind_index(kind: ReportKind) -> usize {
    match kind {
        ReportKind::Queue => 0,
        ReportKind::AgentQueue => 1,
        ReportKind::AgentSystem => 2,
    }
}

impl KindPatterns for ReportMapping {
    fn kind_patterns(&self, kind: ReportKind) -> &[String] {
        &self.kind_patterns[kind_index(kind)]
    }
}

impl ReportMapping {
    /// Accepted header names of a column, in order of preference.
    pub fn column_names(&self, column: Column) -> &[String] {
        &self.columns[column.index()]
    }

    /// Accepted header templates (with `{X}`) of a threshold column family.
    pub fn template_names(&self, template: Template) -> &[String] {
        &self.templates[template.index()]
    }

    /// The configured SLA threshold of a queue: its own, else `default_sla_seconds`.
    pub fn sla_seconds(&self, queue: &str) -> Option<u32> {
        self.sla_seconds.get(queue).copied().or(self.default_sla_seconds)
    }

    /// Per-queue thresholds only (without the default).
    pub(crate) fn queue_sla_seconds(&self) -> &HashMap<String, u32> {
        &self.sla_seconds
    }

    /// `default_sla_seconds`, if configured.
    pub fn default_sla_seconds(&self) -> Option<u32> {
        self.default_sla_seconds
    }

    /// `service_level_thresholds`: the stream basis's thresholds (default `[20]`).
    pub fn service_level_thresholds(&self) -> &[u32] {
        &self.service_level_thresholds
    }

    /// The configured instance name, if any.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// Merges the `reports` section of a mapping file over this mapping (format: module docs).
    /// All or nothing: on error the mapping is unchanged and the message names the offending
    /// key.
    pub fn merge_json(&mut self, section: Value) -> Result<(), String> {
        self.apply(parse_section(section)?);
        Ok(())
    }

    /// Applies a validated `reports` section.
    pub(crate) fn apply(&mut self, section: ReportsSection) {
        let trimmed = |names: OneOrMany<Text>| names.0.into_iter().map(|Text(n)| n.trim().to_owned()).collect();
        for (key, names) in section.columns.map(|c| c.0).unwrap_or_default() {
            match key {
                ColumnKey::Column(column) => self.columns[column.index()] = trimmed(names),
                ColumnKey::Template(template) => self.templates[template.index()] = trimmed(names),
            }
        }
        for (KindKey(kind), patterns) in section.kind_patterns.unwrap_or_default() {
            self.kind_patterns[kind_index(kind)] = patterns
                .0
                .into_iter()
                .map(|Text(p)| p.trim().to_ascii_lowercase())
                .collect();
        }
        self.sla_seconds.extend(
            section
                .sla_seconds
                .unwrap_or_default()
                .into_iter()
                .map(|(queue, s)| (queue, s.get())),
        );
        if let Some(seconds) = section.default_sla_seconds {
            self.default_sla_seconds = seconds.map(NonZeroU32::get);
        }
        if let Some(thresholds) = section.service_level_thresholds {
            self.service_level_thresholds = thresholds.into_iter().map(NonZeroU32::get).collect();
        }
        if let Some(instance) = section.instance {
            self.instance = instance.map(|Text(i)| i.trim().to_owned());
        }
    }
}

/// The `reports` section as written.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object of `columns`, `kind_patterns`, `sla_seconds`, `default_sla_seconds`, `service_level_thresholds` and/or `instance`"
)]
pub(crate) struct ReportsSection {
    columns: Option<Columns>,
    kind_patterns: Option<BTreeMap<KindKey, OneOrMany<Text>>>,
    sla_seconds: Option<BTreeMap<String, NonZeroU32>>,
    /// Outer `None`: absent (keep); `Some(None)`: `null` (back to the built-in behaviour).
    #[serde(default, deserialize_with = "present")]
    default_sla_seconds: Option<Option<NonZeroU32>>,
    service_level_thresholds: Option<Vec<NonZeroU32>>,
    #[serde(default, deserialize_with = "present")]
    instance: Option<Option<Text>>,
}

/// A key that is present, `null` included (serde maps both absent and `null` to `None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A key of the `columns` object: a fixed column or a threshold template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
enum ColumnKey {
    Column(Column),
    Template(Template),
}

impl TryFrom<String> for ColumnKey {
    type Error = String;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        let column = Column::ALL.into_iter().find(|c| c.key() == key).map(ColumnKey::Column);
        let template = || {
            Template::ALL
                .into_iter()
                .find(|t| t.key() == key)
                .map(ColumnKey::Template)
        };
        column.or_else(template).ok_or_else(|| {
            let known: Vec<&str> = Column::ALL
                .iter()
                .map(|c| c.key())
                .chain(Template::ALL.iter().map(|t| t.key()))
                .collect();
            format!("unknown column `{key}` (expected one of {})", known.join(", "))
        })
    }
}

/// The `columns` object, checked: a template name holds `{X}` once, a fixed column's none.
#[derive(Debug, Deserialize)]
#[serde(try_from = "BTreeMap<ColumnKey, OneOrMany<Text>>")]
struct Columns(BTreeMap<ColumnKey, OneOrMany<Text>>);

impl TryFrom<BTreeMap<ColumnKey, OneOrMany<Text>>> for Columns {
    type Error = String;

    fn try_from(columns: BTreeMap<ColumnKey, OneOrMany<Text>>) -> Result<Self, Self::Error> {
        for (key, names) in &columns {
            for Text(name) in &names.0 {
                let placeholders = name.matches(THRESHOLD_PLACEHOLDER).count();
                match key {
                    ColumnKey::Template(t) if placeholders != 1 => {
                        return Err(format!(
                            "{}: `{name}` must hold {THRESHOLD_PLACEHOLDER} exactly once, where the seconds stand",
                            t.key()
                        ));
                    }
                    ColumnKey::Column(c) if placeholders != 0 => {
                        return Err(format!(
                            "{}: `{name}` is not a template column; remove {THRESHOLD_PLACEHOLDER}",
                            c.key()
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(Self(columns))
    }
}

/// A key of `kind_patterns`: a report kind tag, case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
struct KindKey(ReportKind);

impl TryFrom<String> for KindKey {
    type Error = String;

    fn try_from(tag: String) -> Result<Self, Self::Error> {
        ReportKind::from_tag(&tag)
            .map(KindKey)
            .ok_or_else(|| format!("unknown report kind `{tag}` (expected QR, AQR or ASPR)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_connects_console_names() {
        let m = ReportMapping::default();
        assert_eq!(m.column_names(Column::StartInterval), ["StartInterval"]);
        assert_eq!(
            m.column_names(Column::NonProductiveTime),
            ["Non-Productive Time", "Nonproductive time"]
        );
        assert_eq!(m.template_names(Template::ServiceLevel), ["Service level {X} seconds"]);
        assert_eq!(m.kind_patterns(ReportKind::AgentSystem), ["aspr"]);
        assert_eq!(m.sla_seconds("Sales"), None);
        assert_eq!(m.instance(), None);
    }

    #[test]
    fn every_metric_says_what_an_empty_cell_means() {
        let zero = [
            Column::ContactsQueued,
            Column::ContactsHandled,
            Column::ContactsAbandoned,
            Column::AgentInteractionTime,
            Column::CustomerHoldTime,
            Column::AfterContactWorkTime,
            Column::OnlineTime,
            Column::NonProductiveTime,
            Column::AgentIdleTime,
            Column::AgentOnContactTime,
        ];
        for column in zero {
            assert_eq!(column.measure().and_then(Measure::empty_value), Some(0.0), "{column:?}");
        }
        assert_eq!(Column::AverageQueueAnswerTime.measure(), Some(Measure::Average));
        assert_eq!(Measure::Average.empty_value(), None);
        for column in [Column::StartInterval, Column::EndInterval, Column::Queue, Column::Agent] {
            assert_eq!(column.measure(), None, "{column:?}");
        }
        assert_eq!(Template::ContactsAnsweredIn.measure().empty_value(), Some(0.0));
        assert_eq!(Template::ContactsAbandonedIn.measure().empty_value(), Some(0.0));
        assert_eq!(Template::ServiceLevel.measure(), Measure::Percentage);
        assert_eq!(Measure::Percentage.empty_value(), None);
    }

    #[test]
    fn merges_every_key_over_the_defaults() {
        let mut m = ReportMapping::default();
        m.merge_json(json!({
            "columns": {
                "contacts_handled": "Handled contacts",
                "queue": ["Queue", "Queue name"],
                "contacts_answered_in": ["Answered within {X}s"]
            },
            "kind_patterns": { "qr": ["QR", "Queue-Report"] },
            "sla_seconds": { "Sales": 30 },
            "default_sla_seconds": 20,
            "instance": " acme "
        }))
        .unwrap();
        assert_eq!(m.column_names(Column::ContactsHandled), ["Handled contacts"]);
        assert_eq!(m.column_names(Column::Queue), ["Queue", "Queue name"]);
        assert_eq!(m.column_names(Column::ContactsAbandoned), ["Contacts abandoned"]);
        assert_eq!(m.template_names(Template::ContactsAnsweredIn), ["Answered within {X}s"]);
        assert_eq!(m.kind_patterns(ReportKind::Queue), ["qr", "queue-report"]);
        assert_eq!(m.kind_patterns(ReportKind::AgentQueue), ["aqr"]);
        assert_eq!(m.sla_seconds("Sales"), Some(30));
        assert_eq!(m.sla_seconds("Support"), Some(20));
        assert_eq!(m.instance(), Some("acme"));

        m.merge_json(json!({ "sla_seconds": { "Support": 60 }, "default_sla_seconds": null, "instance": null }))
            .unwrap();
        assert_eq!((m.sla_seconds("Sales"), m.sla_seconds("Support")), (Some(30), Some(60)));
        assert_eq!((m.sla_seconds("Other"), m.instance()), (None, None));
    }

    #[test]
    fn errors_name_the_bad_key_and_change_nothing() {
        let cases = [
            (json!({"colums": {}}), "colums: unknown field `colums`, expected one of"),
            (
                json!({"columns": {"handled": "x"}}),
                "columns.handled: unknown column `handled` (expected one of start_interval",
            ),
            (
                json!({"columns": {"contacts_handled": 3}}),
                "columns.contacts_handled: expected a non-empty string or",
            ),
            (
                json!({"columns": {"contacts_handled": []}}),
                "columns.contacts_handled: expected a non-empty string or",
            ),
            (
                json!({"columns": {"contacts_handled": ["x", ""]}}),
                "columns.contacts_handled: expected a non-empty string or",
            ),
            (
                json!({"columns": {"service_level": "Service level"}}),
                "columns: service_level: `Service level` must hold {X} exactly once",
            ),
            (
                json!({"columns": {"queue": "Queue {X}"}}),
                "columns: queue: `Queue {X}` is not a template column",
            ),
            (
                json!({"kind_patterns": {"XR": "x"}}),
                "kind_patterns.XR: unknown report kind `XR` (expected QR, AQR or ASPR)",
            ),
            (
                json!({"sla_seconds": {"Sales": "30"}}),
                "sla_seconds.Sales: invalid type: string \"30\", expected a nonzero u32",
            ),
            (json!({"sla_seconds": {"Sales": 0}}), "sla_seconds.Sales: "),
            (json!({"default_sla_seconds": -1}), "default_sla_seconds: "),
            (json!({"instance": ""}), "instance: expected a non-empty string"),
            (
                json!([]),
                "invalid length 0, expected a JSON object of `columns`, `kind_patterns`",
            ),
            // A good key does not get applied when another one is bad.
            (
                json!({"columns": {"queue": "Q"}, "sla_seconds": {"Sales": 0}}),
                "sla_seconds.Sales: ",
            ),
        ];
        for (section, expected) in cases {
            let mut m = ReportMapping::default();
            let err = m.merge_json(section.clone()).unwrap_err();
            assert!(err.starts_with(expected), "{section}: got {err}");
            assert_eq!(
                m.column_names(Column::Queue),
                ["Queue"],
                "{section}: a failed merge must change nothing"
            );
        }
    }
}
