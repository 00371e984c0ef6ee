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
//!     "instance": "acme-prod"
//!   }
//! }
//! ```
//!
//! - `columns`: logical column → the header name, or a list of accepted header names (the first
//!   found in the header wins). A name given here **replaces** the built-in name(s) for that
//!   column; list the default too to accept both. Names are matched like headers (case, spaces,
//!   BOM and parentheses do not matter, see feed.md). The three threshold columns
//!   (`contacts_answered_in`, `contacts_abandoned_in`, `service_level`) are templates with `{X}`
//!   where the number of seconds stands. Keys and defaults: see [`Column`] and [`Template`].
//! - `kind_patterns`: tag (`QR`, `AQR`, `ASPR`) → the name pattern(s) that tag a file of that kind
//!   (matched as separate tokens of the key, case-insensitive; see
//!   [`super::kind_from_name`]). Given patterns replace the defaults of that kind.
//! - `sla_seconds`: queue name (exact) → its service-level threshold X in seconds. Merged entry by
//!   entry over earlier files.
//! - `default_sla_seconds`: X for queues not in `sla_seconds` (`null`: the smallest threshold
//!   found in the report's headers, the built-in behaviour).
//! - `instance`: the instance name used when the report key is not `connect/<alias>/Reports/...`.
//!
//! Unknown keys, unknown columns and bad values are errors naming them, so a typo is caught.

use std::collections::HashMap;

use serde_json::Value;

use super::kind::ReportKind;

/// A report column with a fixed name, by its key in the mapping's `columns` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// `non_productive_time`: `Non-Productive Time` → `not_ready_time_s`.
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
        match self {
            Column::StartInterval => "StartInterval",
            Column::EndInterval => "EndInterval",
            Column::Queue => "Queue",
            Column::Agent => "Agent",
            Column::ContactsQueued => "Contacts queued",
            Column::ContactsHandled => "Contacts handled",
            Column::ContactsAbandoned => "Contacts abandoned",
            Column::AgentInteractionTime => "Agent interaction time",
            Column::CustomerHoldTime => "Customer hold time",
            Column::AfterContactWorkTime => "After contact work time",
            Column::AverageQueueAnswerTime => "Average queue answer time",
            Column::OnlineTime => "Online time",
            Column::NonProductiveTime => "Non-Productive Time",
            Column::AgentIdleTime => "Agent idle time",
            Column::AgentOnContactTime => "Agent on contact time",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A column family with one column per service-level threshold: the name holds `{X}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    fn index(self) -> usize {
        self as usize
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
    instance: Option<String>,
}

impl Default for ReportMapping {
    fn default() -> Self {
        Self {
            columns: Column::ALL.map(|c| vec![c.default_name().to_owned()]),
            templates: Template::ALL.map(|t| vec![t.default_name().to_owned()]),
            kind_patterns: ReportKind::ALL.map(|k| vec![k.tag().to_ascii_lowercase()]),
            sla_seconds: HashMap::new(),
            default_sla_seconds: None,
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

impl ReportMapping {
    /// Accepted header names of a column, in order of preference.
    pub fn column_names(&self, column: Column) -> &[String] {
        &self.columns[column.index()]
    }

    /// Accepted header templates (with `{X}`) of a threshold column family.
    pub fn template_names(&self, template: Template) -> &[String] {
        &self.templates[template.index()]
    }

    /// Name patterns (lowercase) that tag a file of this kind.
    pub fn kind_patterns(&self, kind: ReportKind) -> &[String] {
        &self.kind_patterns[kind_index(kind)]
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

    /// The configured instance name, if any.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// Merges the `reports` section of a mapping file over this mapping (format: module docs).
    /// On error, names the offending key; the mapping may then be partly merged and should be
    /// dropped.
    pub fn merge_json(&mut self, section: Value) -> Result<(), String> {
        let Value::Object(section) = section else {
            return Err("expected a JSON object".into());
        };
        let unknown: Vec<&str> = section
            .keys()
            .map(String::as_str)
            .filter(|k| {
                !matches!(
                    *k,
                    "columns" | "kind_patterns" | "sla_seconds" | "default_sla_seconds" | "instance"
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown key(s) {} (expected columns, kind_patterns, sla_seconds, default_sla_seconds, instance)",
                quote_list(&unknown)
            ));
        }
        for (key, value) in section {
            match key.as_str() {
                "columns" => self.merge_columns(value)?,
                "kind_patterns" => self.merge_kind_patterns(value)?,
                "sla_seconds" => {
                    let Value::Object(queues) = value else {
                        return Err("sla_seconds: expected an object of queue name → seconds".into());
                    };
                    for (queue, seconds) in queues {
                        let seconds = seconds_value(&seconds).ok_or_else(|| {
                            format!("sla_seconds.{queue}: expected a whole number of seconds, got {seconds}")
                        })?;
                        self.sla_seconds.insert(queue, seconds);
                    }
                }
                "default_sla_seconds" => {
                    self.default_sla_seconds = match value {
                        Value::Null => None,
                        other => Some(seconds_value(&other).ok_or_else(|| {
                            format!("default_sla_seconds: expected a whole number of seconds or null, got {other}")
                        })?),
                    }
                }
                "instance" => {
                    self.instance = match value {
                        Value::Null => None,
                        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                        other => return Err(format!("instance: expected a non-empty string or null, got {other}")),
                    }
                }
                _ => unreachable!("unknown keys were rejected above"),
            }
        }
        Ok(())
    }

    fn merge_columns(&mut self, value: Value) -> Result<(), String> {
        let Value::Object(columns) = value else {
            return Err("columns: expected an object of column → header name(s)".into());
        };
        let unknown: Vec<&str> = columns
            .keys()
            .map(String::as_str)
            .filter(|k| !Column::ALL.iter().any(|c| c.key() == *k) && !Template::ALL.iter().any(|t| t.key() == *k))
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = Column::ALL
                .iter()
                .map(|c| c.key())
                .chain(Template::ALL.iter().map(|t| t.key()))
                .collect();
            return Err(format!(
                "columns: unknown column(s) {} (expected one of {})",
                quote_list(&unknown),
                known.join(", ")
            ));
        }
        for (key, value) in columns {
            let names = name_list(&value).ok_or_else(|| {
                format!("columns.{key}: expected a non-empty string or a non-empty array of non-empty strings")
            })?;
            if let Some(template) = Template::ALL.into_iter().find(|t| t.key() == key) {
                if let Some(bad) = names.iter().find(|n| n.matches(THRESHOLD_PLACEHOLDER).count() != 1) {
                    return Err(format!(
                        "columns.{key}: `{bad}` must hold {THRESHOLD_PLACEHOLDER} exactly once, where the seconds stand"
                    ));
                }
                self.templates[template.index()] = names;
            } else if let Some(column) = Column::ALL.into_iter().find(|c| c.key() == key) {
                if let Some(bad) = names.iter().find(|n| n.contains(THRESHOLD_PLACEHOLDER)) {
                    return Err(format!(
                        "columns.{key}: `{bad}` is not a template column; remove {THRESHOLD_PLACEHOLDER}"
                    ));
                }
                self.columns[column.index()] = names;
            }
        }
        Ok(())
    }

    fn merge_kind_patterns(&mut self, value: Value) -> Result<(), String> {
        let Value::Object(kinds) = value else {
            return Err("kind_patterns: expected an object of tag (QR, AQR, ASPR) → pattern(s)".into());
        };
        for (tag, patterns) in kinds {
            let kind = ReportKind::from_tag(&tag)
                .ok_or_else(|| format!("kind_patterns: unknown report kind `{tag}` (expected QR, AQR or ASPR)"))?;
            let patterns = name_list(&patterns).ok_or_else(|| {
                format!("kind_patterns.{tag}: expected a non-empty string or a non-empty array of non-empty strings")
            })?;
            self.kind_patterns[kind_index(kind)] = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        }
        Ok(())
    }
}

/// A string or a non-empty array of strings, each trimmed and non-empty.
fn name_list(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    match value {
        Value::String(_) => one(value).map(|s| vec![s]),
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        _ => None,
    }
}

/// A positive whole number of seconds that fits a `u32`.
fn seconds_value(value: &Value) -> Option<u32> {
    value.as_u64().filter(|s| *s > 0).and_then(|s| u32::try_from(s).ok())
}

fn quote_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_connects_console_names() {
        let m = ReportMapping::default();
        assert_eq!(m.column_names(Column::StartInterval), ["StartInterval"]);
        assert_eq!(m.column_names(Column::NonProductiveTime), ["Non-Productive Time"]);
        assert_eq!(m.template_names(Template::ServiceLevel), ["Service level {X} seconds"]);
        assert_eq!(m.kind_patterns(ReportKind::AgentSystem), ["aspr"]);
        assert_eq!(m.sla_seconds("Sales"), None);
        assert_eq!(m.instance(), None);
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
    fn errors_name_the_bad_key() {
        let err = |v: Value| ReportMapping::default().merge_json(v).unwrap_err();
        assert!(err(json!({"colums": {}, "sla": 1})).contains("`colums`, `sla`"));
        assert!(err(json!({"columns": {"handled": "x"}})).contains("`handled`"));
        assert!(err(json!({"columns": {"contacts_handled": 3}})).contains("columns.contacts_handled"));
        assert!(err(json!({"columns": {"contacts_handled": []}})).contains("columns.contacts_handled"));
        assert!(err(json!({"columns": {"service_level": "Service level"}})).contains("{X}"));
        assert!(err(json!({"columns": {"queue": "Queue {X}"}})).contains("columns.queue"));
        assert!(err(json!({"kind_patterns": {"XR": "x"}})).contains("`XR`"));
        assert!(err(json!({"sla_seconds": {"Sales": "30"}})).contains("sla_seconds.Sales"));
        assert!(err(json!({"sla_seconds": {"Sales": 0}})).contains("sla_seconds.Sales"));
        assert!(err(json!({"default_sla_seconds": -1})).contains("default_sla_seconds"));
        assert!(err(json!({"instance": ""})).contains("instance"));
        assert!(err(json!([])).contains("object"));
    }
}
