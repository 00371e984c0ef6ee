//! The sweep's ports on the agent-state table: [`ProgressStore`] on the one progress item
//! ([`PROGRESS_KEY`]) and [`AgentDirectory`] on the sparse [`ACTIVE_INDEX`] (every minute) and a
//! filtered Scan (only for snapshots, every `SNAPSHOT_MINUTES`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use connect_wfm_core::agent::{AgentState, InstanceProgress, InstanceSilence};
use connect_wfm_core::ports::{AgentDirectory, CommitOutcome, PortError, ProgressStore};

use crate::DynamoStateStore;
use crate::batch::{Consistency, batch_get_as, query_index};
use crate::error::port_error;
use crate::item::{
    ACTIVE_INSTANCE, AGENT_ARN, Item, LAST_SEEN, PROGRESS_KEY, agent_key, agent_state_from_item, stored_time,
};
use crate::schema::ACTIVE_INDEX;

/// Attribute of an instance's newest event time (epoch ms) on the progress item.
fn progress_attribute(instance_id: &str) -> String {
    format!("progress_{instance_id}")
}

/// Attribute of an instance's recorded silence (a map) on the progress item.
fn silence_attribute(instance_id: &str) -> String {
    format!("silence_{instance_id}")
}

/// Attribute of the commit clock (epoch ms) of an instance's oldest silence whose `UNKNOWN`
/// records are owed to the feed, on the progress item.
fn owed_attribute(instance_id: &str) -> String {
    format!("owed_{instance_id}")
}

/// Attribute of an instance's newest snapshot slot written (epoch ms) on the progress item.
fn snapshot_attribute(instance_id: &str) -> String {
    format!("snapshot_{instance_id}")
}

/// The start of the newest interval whose stream-basis `agent_interval` object was written.
fn intervals_done_attribute(instance_id: &str) -> String {
    format!("intervals_{instance_id}")
}

/// Ended intervals with late pieces (a number set of interval starts, epoch ms).
fn changed_attribute(instance_id: &str) -> String {
    format!("changed_{instance_id}")
}

fn millis_set(intervals: &[DateTime<Utc>]) -> AttributeValue {
    let mut ms: Vec<String> = intervals.iter().map(|i| i.timestamp_millis().to_string()).collect();
    ms.sort_unstable();
    ms.dedup();
    AttributeValue::Ns(ms)
}

const SINCE_MS: &str = "since_ms";
const LAST_MS: &str = "last_ms";
const AGENTS: &str = "agents";

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp_millis())
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// Reads one number of the progress item, naming the attribute when it is not one.
fn number(table: &str, name: &str, value: &AttributeValue) -> Result<i64, PortError> {
    let bad = || {
        PortError::new(
            format!("read the progress item of table {table}"),
            format!("attribute `{name}` is not an integer: {value:?}"),
            false,
        )
    };
    value.as_n().ok().and_then(|v| v.parse().ok()).ok_or_else(bad)
}

fn instant(table: &str, name: &str, value: &AttributeValue) -> Result<DateTime<Utc>, PortError> {
    let ms = number(table, name, value)?;
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        PortError::new(
            format!("read the progress item of table {table}"),
            format!("attribute `{name}` is out of range: {ms}"),
            false,
        )
    })
}

/// Every instance's progress on the progress item.
pub(crate) fn progress_from_item(table: &str, item: &Item) -> Result<Vec<InstanceProgress>, PortError> {
    let mut progress = Vec::new();
    for (name, value) in item {
        let Some(instance_id) = name.strip_prefix("progress_") else {
            continue;
        };
        let silence = match item.get(&silence_attribute(instance_id)) {
            None => None,
            Some(AttributeValue::M(map)) => {
                let field = |key: &str| {
                    map.get(key).ok_or_else(|| {
                        PortError::new(
                            format!("read the progress item of table {table}"),
                            format!("attribute `{}.{key}` is missing", silence_attribute(instance_id)),
                            false,
                        )
                    })
                };
                Some(InstanceSilence {
                    since: instant(table, SINCE_MS, field(SINCE_MS)?)?,
                    last_event_time: instant(table, LAST_MS, field(LAST_MS)?)?,
                    agents: u32::try_from(number(table, AGENTS, field(AGENTS)?)?).unwrap_or(u32::MAX),
                })
            }
            Some(other) => {
                return Err(PortError::new(
                    format!("read the progress item of table {table}"),
                    format!("attribute `{}` is not a map: {other:?}", silence_attribute(instance_id)),
                    false,
                ));
            }
        };
        let snapshot_slot = match item.get(&snapshot_attribute(instance_id)) {
            Some(value) => Some(instant(table, &snapshot_attribute(instance_id), value)?),
            None => None,
        };
        let owed_since = match item.get(&owed_attribute(instance_id)) {
            Some(value) => Some(instant(table, &owed_attribute(instance_id), value)?),
            None => None,
        };
        let agent_intervals_done = match item.get(&intervals_done_attribute(instance_id)) {
            Some(value) => Some(instant(table, &intervals_done_attribute(instance_id), value)?),
            None => None,
        };
        let changed = changed_attribute(instance_id);
        let changed_intervals = match item.get(&changed) {
            None => Vec::new(),
            Some(AttributeValue::Ns(values)) => {
                let mut intervals = values
                    .iter()
                    .map(|v| instant(table, &changed, &AttributeValue::N(v.clone())))
                    .collect::<Result<Vec<_>, _>>()?;
                intervals.sort_unstable();
                intervals
            }
            Some(other) => {
                return Err(PortError::new(
                    format!("read the progress item of table {table}"),
                    format!("attribute `{changed}` is not a number set: {other:?}"),
                    false,
                ));
            }
        };
        progress.push(InstanceProgress {
            instance_id: instance_id.to_owned(),
            newest_event: instant(table, name, value)?,
            silence,
            snapshot_slot,
            owed_since,
            agent_intervals_done,
            changed_intervals,
        });
    }
    progress.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    Ok(progress)
}

impl ProgressStore for DynamoStateStore {
    /// One strongly consistent GetItem of the progress item.
    async fn load_progress(&self) -> Result<Vec<InstanceProgress>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(agent_key(PROGRESS_KEY)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("read the progress item of table {}", self.table), &e))?;
        match output.item {
            Some(item) => progress_from_item(&self.table, &item),
            None => Ok(Vec::new()),
        }
    }

    /// One conditional UpdateItem: `progress_<instance>` only moves forward.
    async fn advance_progress(&self, instance_id: &str, newest: DateTime<Utc>) -> Result<(), PortError> {
        self.update_progress(
            "SET #p = :ms",
            "attribute_not_exists(#p) OR #p < :ms",
            &[("#p", progress_attribute(instance_id))],
            vec![(":ms", millis(newest))],
            || format!("advance the progress of instance {instance_id}"),
        )
        .await
        .map(drop)
    }

    /// One conditional UpdateItem: set only while the progress is the one the sweep judged.
    async fn mark_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<CommitOutcome, PortError> {
        let value = AttributeValue::M(HashMap::from([
            (SINCE_MS.to_owned(), millis(silence.since)),
            (LAST_MS.to_owned(), millis(silence.last_event_time)),
            (AGENTS.to_owned(), n(silence.agents)),
        ]));
        let applied = self
            .update_progress(
                "SET #s = :silence",
                "#p = :last AND attribute_not_exists(#s)",
                &[
                    ("#p", progress_attribute(instance_id)),
                    ("#s", silence_attribute(instance_id)),
                ],
                vec![(":last", millis(silence.last_event_time)), (":silence", value)],
                || format!("mark instance {instance_id} silent"),
            )
            .await?;
        Ok(if applied {
            CommitOutcome::Committed
        } else {
            CommitOutcome::Superseded
        })
    }

    /// One conditional UpdateItem removing the silence it names.
    async fn clear_silent(&self, instance_id: &str, silence: &InstanceSilence) -> Result<(), PortError> {
        self.update_progress(
            "REMOVE #s",
            "#s.#since = :since",
            &[("#s", silence_attribute(instance_id)), ("#since", SINCE_MS.to_owned())],
            vec![(":since", millis(silence.since))],
            || format!("clear the silence of instance {instance_id}"),
        )
        .await
        .map(drop)
    }

    /// One conditional UpdateItem: a debt only moves back to an older silence; it is cleared
    /// only while it is the one the sweep read.
    async fn owe_records(
        &self,
        instance_id: &str,
        owed: Option<DateTime<Utc>>,
        read: Option<DateTime<Utc>>,
    ) -> Result<(), PortError> {
        let names = [("#o", owed_attribute(instance_id))];
        let what = || format!("record the UNKNOWN records owed of instance {instance_id}");
        match (owed, read) {
            (Some(since), _) => {
                self.update_progress(
                    "SET #o = :ms",
                    "attribute_not_exists(#o) OR #o > :ms",
                    &names,
                    vec![(":ms", millis(since))],
                    what,
                )
                .await
            }
            (None, Some(read)) => {
                self.update_progress("REMOVE #o", "#o = :ms", &names, vec![(":ms", millis(read))], what)
                    .await
            }
            (None, None) => Ok(true),
        }
        .map(drop)
    }

    /// One UpdateItem adding the intervals to the set `changed_<instance>`.
    async fn mark_intervals_changed(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        if intervals.is_empty() {
            return Ok(());
        }
        self.update_progress(
            "ADD #c :set",
            "attribute_exists(agent_arn)",
            &[("#c", changed_attribute(instance_id))],
            vec![(":set", millis_set(intervals))],
            || format!("mark changed intervals of instance {instance_id}"),
        )
        .await
        .map(drop)
    }

    /// One UpdateItem deleting the intervals from the set `changed_<instance>` (an emptied set
    /// goes with its last element).
    async fn clear_changed_intervals(&self, instance_id: &str, intervals: &[DateTime<Utc>]) -> Result<(), PortError> {
        if intervals.is_empty() {
            return Ok(());
        }
        self.update_progress(
            "DELETE #c :set",
            "attribute_exists(agent_arn)",
            &[("#c", changed_attribute(instance_id))],
            vec![(":set", millis_set(intervals))],
            || format!("clear changed intervals of instance {instance_id}"),
        )
        .await
        .map(drop)
    }

    /// One conditional UpdateItem: `intervals_<instance>` only moves forward.
    async fn agent_intervals_written(&self, instance_id: &str, interval_start: DateTime<Utc>) -> Result<(), PortError> {
        self.update_progress(
            "SET #d = :ms",
            "attribute_not_exists(#d) OR #d < :ms",
            &[("#d", intervals_done_attribute(instance_id))],
            vec![(":ms", millis(interval_start))],
            || format!("record the agent intervals written of instance {instance_id}"),
        )
        .await
        .map(drop)
    }

    /// One conditional UpdateItem: `snapshot_<instance>` only moves forward.
    async fn snapshot_written(&self, instance_id: &str, slot: DateTime<Utc>) -> Result<(), PortError> {
        self.update_progress(
            "SET #s = :ms",
            "attribute_not_exists(#s) OR #s < :ms",
            &[("#s", snapshot_attribute(instance_id))],
            vec![(":ms", millis(slot))],
            || format!("record the snapshot of instance {instance_id}"),
        )
        .await
        .map(drop)
    }
}

impl DynamoStateStore {
    /// One conditional UpdateItem of the progress item: true when it was applied, false when
    /// its condition did not hold (another sweep or batch got there first: not an error).
    async fn update_progress(
        &self,
        update: &str,
        condition: &str,
        names: &[(&str, String)],
        values: Vec<(&str, AttributeValue)>,
        what: impl FnOnce() -> String,
    ) -> Result<bool, PortError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(agent_key(PROGRESS_KEY)))
            .update_expression(update)
            .condition_expression(condition);
        for (name, attribute) in names {
            request = request.expression_attribute_names(*name, attribute);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(e) => Err(port_error(format!("{} in table {}", what(), self.table), &e)),
        }
    }
}

impl DynamoStateStore {
    /// Agent states of a page of items; an item that cannot be read is logged and skipped (the
    /// sweep cannot judge it; agent-events keeps such rows as rejects).
    fn readable_states(&self, items: &[Item], into: &mut Vec<AgentState>) -> usize {
        let mut unreadable = 0;
        for item in items {
            if matches!(item.get(AGENT_ARN), Some(AttributeValue::S(key)) if key == PROGRESS_KEY) {
                continue;
            }
            match agent_state_from_item(&self.table, item) {
                Ok(state) => into.push(state),
                Err(e) => {
                    unreadable += 1;
                    tracing::warn!(error = %e, "agent-state item skipped by the sweep");
                }
            }
        }
        unreadable
    }
}

impl AgentDirectory for DynamoStateStore {
    /// Query of the sparse `active_by_instance` index (keys only, 1 MB per page), then the
    /// rows it names by BatchGetItem. Both reads are eventually consistent (half the read
    /// units): every decision taken on them is committed with the watermark condition.
    async fn active_agents(&self, instance_id: &str) -> Result<Vec<AgentState>, PortError> {
        let operation = || {
            format!(
                "query index {ACTIVE_INDEX} of table {} for instance {instance_id}",
                self.table
            )
        };
        let keys = query_index(
            &self.client,
            &self.table,
            Some(ACTIVE_INDEX),
            ACTIVE_INSTANCE,
            instance_id,
            operation,
        )
        .await?
        .into_iter()
        .filter_map(|mut key| {
            key.remove(AGENT_ARN)
                .map(|arn| HashMap::from([(AGENT_ARN.to_owned(), arn)]))
        })
        .collect();
        let items = batch_get_as(&self.client, &self.table, keys, "agent states", Consistency::Eventual).await?;
        let mut states = Vec::with_capacity(items.len());
        self.readable_states(&items, &mut states);
        // A row the index named but that changed meanwhile: judge only agents still active.
        states.retain(AgentState::is_listed);
        states.sort_by(|a, b| a.agent_arn.cmp(&b.agent_arn));
        Ok(states)
    }

    /// A Scan filtered on `last_seen` (it reads, and is charged for, the whole table: only for
    /// snapshots, every `SNAPSHOT_MINUTES`).
    async fn agents_seen_since(&self, seen_since: DateTime<Utc>) -> Result<Vec<AgentState>, PortError> {
        let operation = || format!("scan table {} for agents seen since {seen_since}", self.table);
        let mut states = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#seen >= :since")
                .expression_attribute_names("#seen", LAST_SEEN)
                .expression_attribute_values(":since", AttributeValue::S(stored_time(&seen_since)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(operation(), &e))?;
            self.readable_states(output.items(), &mut states);
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        // The string filter is exact to the millisecond; sub-millisecond digits are compared here.
        states.retain(|s| s.last_seen >= seen_since);
        states.sort_by(|a, b| a.agent_arn.cmp(&b.agent_arn));
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_instance_and_its_silence() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let item: Item = HashMap::from([
            (AGENT_ARN.to_owned(), AttributeValue::S(PROGRESS_KEY.into())),
            ("progress_i-2".to_owned(), millis(at("2026-11-21T10:00:00.250Z"))),
            ("progress_i-1".to_owned(), millis(at("2026-11-21T09:00:00Z"))),
            (
                "silence_i-1".to_owned(),
                AttributeValue::M(HashMap::from([
                    (SINCE_MS.to_owned(), millis(at("2026-11-21T09:05:00Z"))),
                    (LAST_MS.to_owned(), millis(at("2026-11-21T09:00:00Z"))),
                    (AGENTS.to_owned(), n(3)),
                ])),
            ),
            ("snapshot_i-1".to_owned(), millis(at("2026-11-21T09:00:00Z"))),
            ("owed_i-1".to_owned(), millis(at("2026-11-21T08:30:00Z"))),
            ("intervals_i-1".to_owned(), millis(at("2026-11-21T08:45:00Z"))),
            (
                "changed_i-1".to_owned(),
                AttributeValue::Ns(vec!["1795248900000".into(), "1795248000000".into()]),
            ),
        ]);
        let progress = progress_from_item("t", &item).unwrap();
        assert_eq!(
            progress,
            [
                InstanceProgress {
                    instance_id: "i-1".into(),
                    newest_event: at("2026-11-21T09:00:00Z"),
                    silence: Some(InstanceSilence {
                        since: at("2026-11-21T09:05:00Z"),
                        last_event_time: at("2026-11-21T09:00:00Z"),
                        agents: 3
                    }),
                    snapshot_slot: Some(at("2026-11-21T09:00:00Z")),
                    owed_since: Some(at("2026-11-21T08:30:00Z")),
                    agent_intervals_done: Some(at("2026-11-21T08:45:00Z")),
                    changed_intervals: vec![at("2026-11-21T08:00:00Z"), at("2026-11-21T08:15:00Z")],
                },
                InstanceProgress {
                    instance_id: "i-2".into(),
                    newest_event: at("2026-11-21T10:00:00.250Z"),
                    silence: None,
                    snapshot_slot: None,
                    owed_since: None,
                    agent_intervals_done: None,
                    changed_intervals: Vec::new(),
                },
            ]
        );
        let mut bad = item.clone();
        bad.insert("progress_i-3".into(), AttributeValue::S("soon".into()));
        let err = progress_from_item("t", &bad).unwrap_err();
        assert!(err.message.contains("progress_i-3") && !err.retryable, "{err}");
    }
}
