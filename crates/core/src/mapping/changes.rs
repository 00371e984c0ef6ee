//! What one mapping changes against another: `connect-wfm mapping check` (a file against the
//! built-in defaults) and the functions' log line when a reloaded file comes into force (the new
//! mapping against the one it replaces). One [`MappingChange`] per difference, section by
//! section, each printed on one line as `path: change`, the path spelled as in the file.

use std::collections::BTreeSet;
use std::fmt;

use super::{Instances, Mapping};
use crate::agent::{AgentFilter, AgentStateEntry, AgentStateMapping};
use crate::report::{Column, KindPatterns, ReportKind, ReportMapping, Template};

/// One difference between two mappings, at a key of the mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingChange {
    /// Where, as in the file: `agent_states.Lunch`, `reports.columns.queue`, `instances.acme`.
    pub path: String,
    pub change: Change,
}

/// What happened at a [`MappingChange::path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key the base does not have, with its value.
    Added(String),
    /// A key the base has and this mapping does not, with its old value.
    Removed(String),
    /// A value that differs.
    Changed { before: String, after: String },
    /// How many entries of the section are the same in both (agent states).
    Unchanged(usize),
}

impl fmt::Display for MappingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        match &self.change {
            Change::Added(value) => write!(f, "added {value}"),
            Change::Removed(value) => write!(f, "removed (was {value})"),
            Change::Changed { before, after } => write!(f, "{before} → {after}"),
            Change::Unchanged(count) => write!(f, "{count} unchanged"),
        }
    }
}

impl Mapping {
    /// Every difference of this mapping from `base`, section by section in the file's order
    /// (`agent_states`, `reports`, `instances`), keys in a stable order. Empty when they map
    /// everything alike.
    pub fn changes_from(&self, base: &Mapping) -> Vec<MappingChange> {
        // Destructured without `..`: a new section does not compile until it has its arm here.
        let Mapping {
            agent_states,
            reports,
            instances,
            agents,
        } = self;
        let mut changes = Changes::default();
        changes.agent_states(agent_states, &base.agent_states);
        changes.reports(reports, &base.reports);
        changes.instances(instances, &base.instances);
        changes.compare("agents".to_owned(), &base.agents, agents, describe_filter);
        changes.0
    }
}

/// The `agents` filter in words: `every agent`, or the groups and routing profiles it takes.
fn describe_filter(filter: &AgentFilter) -> String {
    if filter.is_everyone() {
        return "every agent".to_owned();
    }
    let groups: Vec<String> = filter
        .hierarchy_groups
        .iter()
        .map(|rule| {
            let who = match (&rule.id, &rule.name) {
                (Some(id), _) => format!("id {id}"),
                (None, Some(name)) => format!("`{name}`"),
                (None, None) => "?".to_owned(),
            };
            match rule.level {
                Some(level) => format!("group {who} at level {level}"),
                None => format!("group {who} at any level"),
            }
        })
        .collect();
    let profiles = filter.routing_profiles.iter().map(|p| format!("routing profile `{p}`"));
    format!(
        "agents in {}",
        groups.into_iter().chain(profiles).collect::<Vec<_>>().join(" or ")
    )
}

#[derive(Default)]
struct Changes(Vec<MappingChange>);

impl Changes {
    fn push(&mut self, path: String, change: Change) {
        self.0.push(MappingChange { path, change });
    }

    /// `before → after` at `path` when they differ.
    fn compare<T: PartialEq>(&mut self, path: String, before: &T, after: &T, show: impl Fn(&T) -> String) {
        if before != after {
            self.push(
                path,
                Change::Changed {
                    before: show(before),
                    after: show(after),
                },
            );
        }
    }

    /// Added, removed and changed keys of two keyed sections.
    fn keyed<V: PartialEq>(
        &mut self,
        section: &str,
        before: impl Fn(&str) -> Option<V>,
        after: impl Fn(&str) -> Option<V>,
        keys: BTreeSet<String>,
        show: impl Fn(&V) -> String,
    ) {
        for key in keys {
            let path = format!("{section}.{key}");
            match (before(&key), after(&key)) {
                (None, Some(new)) => self.push(path, Change::Added(show(&new))),
                (Some(old), None) => self.push(path, Change::Removed(show(&old))),
                (Some(old), Some(new)) => self.compare(path, &old, &new, &show),
                (None, None) => {}
            }
        }
    }

    /// Entries added or removed whole; a changed entry one line per field (`event_id`,
    /// `reason`, `activity`); then how many entries are the same.
    fn agent_states(&mut self, after: &AgentStateMapping, before: &AgentStateMapping) {
        let mut unchanged = 0;
        let names: BTreeSet<&str> = before
            .entries()
            .chain(after.entries())
            .map(|e| e.name.as_str())
            .collect();
        for name in names {
            let path = format!("agent_states.{name}");
            match (before.get(name), after.get(name)) {
                (None, Some(new)) => self.push(path, Change::Added(describe_state(new))),
                (Some(old), None) => self.push(path, Change::Removed(describe_state(old))),
                (Some(old), Some(new)) if old == new => unchanged += 1,
                (Some(old), Some(new)) => {
                    self.compare(format!("{path}.event_id"), &old.event_id, &new.event_id, String::clone);
                    self.compare(format!("{path}.reason"), &old.reason, &new.reason, String::clone);
                    self.compare(format!("{path}.activity"), &old.activity, &new.activity, |a| {
                        a.as_str().to_owned()
                    });
                }
                (None, None) => {}
            }
        }
        self.push("agent_states".to_owned(), Change::Unchanged(unchanged));
    }

    fn reports(&mut self, after: &ReportMapping, before: &ReportMapping) {
        for column in Column::ALL {
            self.compare(
                format!("reports.columns.{}", column.key()),
                &before.column_names(column),
                &after.column_names(column),
                |names| format!("{names:?}"),
            );
        }
        for template in Template::ALL {
            self.compare(
                format!("reports.columns.{}", template.key()),
                &before.template_names(template),
                &after.template_names(template),
                |names| format!("{names:?}"),
            );
        }
        for kind in ReportKind::ALL {
            self.compare(
                format!("reports.kind_patterns.{}", kind.tag()),
                &before.kind_patterns(kind),
                &after.kind_patterns(kind),
                |patterns| format!("{patterns:?}"),
            );
        }
        let queues = before
            .queue_sla_seconds()
            .keys()
            .chain(after.queue_sla_seconds().keys())
            .cloned()
            .collect();
        self.keyed(
            "reports.sla_seconds",
            |queue| before.queue_sla_seconds().get(queue).copied(),
            |queue| after.queue_sla_seconds().get(queue).copied(),
            queues,
            u32::to_string,
        );
        self.compare(
            "reports.default_sla_seconds".to_owned(),
            &before.default_sla_seconds(),
            &after.default_sla_seconds(),
            |seconds| optional(seconds.as_ref()),
        );
        self.compare(
            "reports.service_level_thresholds".to_owned(),
            &before.service_level_thresholds(),
            &after.service_level_thresholds(),
            |thresholds| format!("{thresholds:?}"),
        );
        self.compare(
            "reports.instance".to_owned(),
            &before.instance(),
            &after.instance(),
            |instance| optional(instance.as_ref()),
        );
    }

    fn instances(&mut self, after: &Instances, before: &Instances) {
        let aliases = before
            .iter()
            .chain(after.iter())
            .map(|(alias, _)| alias.to_owned())
            .collect();
        self.keyed(
            "instances",
            |alias| before.instance_id(alias),
            |alias| after.instance_id(alias),
            aliases,
            |id| (*id).to_owned(),
        );
    }
}

fn describe_state(entry: &AgentStateEntry) -> String {
    format!(
        "event_id {}, reason {}, activity {}",
        entry.event_id,
        entry.reason,
        entry.activity.as_str()
    )
}

fn optional(value: Option<&impl fmt::Display>) -> String {
    value.map_or_else(|| "none".to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(file: &str) -> Vec<String> {
        Mapping::from_json(file.as_bytes(), "m.json")
            .unwrap()
            .changes_from(&Mapping::default())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn default_state_count() -> usize {
        Mapping::default().agent_states.entries().count()
    }

    #[test]
    fn the_defaults_change_nothing_but_say_how_many_states_they_keep() {
        let n = default_state_count();
        assert!(n > 10, "{n}");
        assert_eq!(lines("{}"), [format!("agent_states: {n} unchanged")]);
        assert_eq!(
            lines(r#"{"agent_states": [{"name": "Break", "reason": "Break", "activity": "Closed"}]}"#),
            [format!("agent_states: {n} unchanged")],
            "an entry equal to the default is no change"
        );
    }

    #[test]
    fn the_agents_filter_is_said_in_words() {
        let n = default_state_count();
        let file = r#"{"agents": {"hierarchy_groups": [{"level": 2, "name": "Team Blue"}, {"id": "g-1"}], "routing_profiles": ["Sales"]}}"#;
        assert_eq!(
            lines(file),
            [
                format!("agent_states: {n} unchanged"),
                "agents: every agent → agents in group `Team Blue` at level 2 or group id g-1 at any level or routing profile `Sales`"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn agent_states_added_and_changed_field_by_field() {
        let n = default_state_count();
        let file = r#"{"agent_states": [
            {"name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed"},
            {"name": "Break", "reason": "Pause", "activity": "Open"},
            {"name": "Available", "event_id": "Ready", "reason": "Open", "activity": "Open"}
        ]}"#;
        assert_eq!(
            lines(file),
            [
                "agent_states.Available.event_id: Available → Ready".to_owned(),
                "agent_states.Break.reason: Break → Pause".to_owned(),
                "agent_states.Break.activity: Closed → Open".to_owned(),
                "agent_states.Lunch: added event_id Break, reason Lunch, activity Closed".to_owned(),
                format!("agent_states: {} unchanged", n - 2),
            ]
        );
    }

    #[test]
    fn report_columns_kinds_thresholds_and_instances() {
        let n = default_state_count();
        let file = r#"{
            "reports": {
                "columns": {"contacts_handled": ["Contacts handled", "Handled contacts"]},
                "kind_patterns": {"QR": ["QR", "queue-report"]},
                "sla_seconds": {"Sales": 30},
                "default_sla_seconds": 20,
                "service_level_thresholds": [20, 60],
                "instance": "acme-prod"
            },
            "instances": {"acme-prod": "aaaaaaaa-bbbb-cccc-dddd-111111111111"}
        }"#;
        assert_eq!(
            lines(file),
            [
                format!("agent_states: {n} unchanged"),
                r#"reports.columns.contacts_handled: ["Contacts handled"] → ["Contacts handled", "Handled contacts"]"#
                    .to_owned(),
                r#"reports.kind_patterns.QR: ["qr"] → ["qr", "queue-report"]"#.to_owned(),
                "reports.sla_seconds.Sales: added 30".to_owned(),
                "reports.default_sla_seconds: none → 20".to_owned(),
                "reports.service_level_thresholds: [20] → [20, 60]".to_owned(),
                "reports.instance: none → acme-prod".to_owned(),
                "instances.acme-prod: added aaaaaaaa-bbbb-cccc-dddd-111111111111".to_owned(),
            ]
        );
    }

    #[test]
    fn against_another_file_removals_show_too() {
        let old = Mapping::from_json(
            br#"{"agent_states": [{"name": "Lunch", "reason": "Lunch", "activity": "Closed"}],
                 "reports": {"sla_seconds": {"Sales": 30, "Support": 20}},
                 "instances": {"a": "i-1", "b": "i-2"}}"#,
            "old.json",
        )
        .unwrap();
        let new = Mapping::from_json(
            br#"{"reports": {"sla_seconds": {"Sales": 45}}, "instances": {"a": "i-3"}}"#,
            "new.json",
        )
        .unwrap();
        let lines: Vec<String> = new.changes_from(&old).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "agent_states.Lunch: removed (was event_id Lunch, reason Lunch, activity Closed)".to_owned(),
                format!("agent_states: {} unchanged", default_state_count()),
                "reports.sla_seconds.Sales: 30 → 45".to_owned(),
                "reports.sla_seconds.Support: removed (was 20)".to_owned(),
                "instances.a: i-1 → i-3".to_owned(),
                "instances.b: removed (was i-2)".to_owned(),
            ]
        );
        assert_eq!(new.changes_from(&new).len(), 1, "only the unchanged count");
    }
}
