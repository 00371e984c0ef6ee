//! Cutting records into calls without reordering them.
//!
//! Records are sent in the order given (the order they were written to the feed, which for one
//! agent is its event order: feed.md): a batch is a run of consecutive records, and batches are
//! sent one after the other. So no agent's state can overtake an older one, whatever the batch
//! size. Repeats (the same [`PushRecord::key`], e.g. a redelivered message) are dropped before
//! cutting, the first one kept. For a target with snapshots (Calabrio), the records of one
//! `agent_snapshot` slot of one instance form their own batches (`IsSnapshot`), at the place of
//! the slot's first record.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};

use super::PushRecord;

/// The snapshot a batch belongs to: an instance's `agent_snapshot` slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSlot {
    pub instance_id: String,
    pub as_of: DateTime<Utc>,
}

/// One call's records: indices into the planned slice, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub records: Vec<usize>,
    /// Some for the records of a snapshot slot (sent as `IsSnapshot: true`).
    pub snapshot: Option<SnapshotSlot>,
}

/// The batches of `records`, at most `max` records each, in order; repeats dropped. With
/// `snapshots`, each snapshot slot's records are gathered into batches of their own, placed where
/// the slot's first record is (a snapshot is one sweep's picture of every agent: its records
/// belong together, and a target that logs off agents missing from a snapshot must get it
/// whole, in as few calls as it takes), unless that would move an agent's snapshot state before
/// a record of that agent given earlier: then the slot continues in a run of its own.
pub fn plan<R: Borrow<PushRecord>>(records: &[R], max: usize, snapshots: bool) -> Vec<Batch> {
    let max = max.max(1);
    let mut seen = std::collections::HashSet::new();
    // Each run: a snapshot slot (all its records) or consecutive non-snapshot records.
    let mut runs: Vec<(Option<SnapshotSlot>, Vec<usize>)> = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let record = record.borrow();
        if !seen.insert(record.key()) {
            continue;
        }
        let slot = (snapshots && record.is_snapshot()).then(|| SnapshotSlot {
            instance_id: record.instance_id.clone().unwrap_or_default(),
            as_of: record.as_of.unwrap_or_default(),
        });
        match slot {
            Some(slot) => {
                // Gathered into the slot's latest run unless a record of the same agent lies
                // after that run: moving the snapshot state before it would reorder the agent.
                let at = runs.iter().rposition(|(s, _)| s.as_ref() == Some(&slot));
                let overtakes = |at: usize| {
                    runs[at + 1..]
                        .iter()
                        .flat_map(|(_, run)| run)
                        .any(|i| records[*i].borrow().agent_id == record.agent_id)
                };
                match at {
                    Some(at) if !overtakes(at) => runs[at].1.push(index),
                    _ => runs.push((Some(slot), vec![index])),
                }
            }
            None => match runs.last_mut() {
                Some((None, run)) => run.push(index),
                _ => runs.push((None, vec![index])),
            },
        }
    }
    runs.into_iter()
        .flat_map(|(snapshot, run)| {
            run.chunks(max)
                .map(|chunk| Batch {
                    records: chunk.to_vec(),
                    snapshot: snapshot.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(agent: &str, n: u32) -> PushRecord {
        PushRecord::parse(&format!(
            r#"{{"kind":"agent_state","instance_id":"i-1","agent_id":"{agent}","state":"S{n}","event_id":"{agent}-{n}"}}"#
        ))
        .unwrap()
    }

    fn snap(agent: &str, slot: &str) -> PushRecord {
        PushRecord::parse(&format!(
            r#"{{"kind":"agent_snapshot","instance_id":"i-1","agent_id":"{agent}","state":"Available","as_of":"{slot}"}}"#
        ))
        .unwrap()
    }

    fn flat(records: &[PushRecord], batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| b.records.iter().map(|i| records[*i].key()))
            .collect()
    }

    #[test]
    fn batches_keep_the_order_given_and_respect_the_size() {
        let records: Vec<PushRecord> = (0..25).map(|n| state(["a", "b", "c"][n as usize % 3], n)).collect();
        let batches = plan(&records, 10, true);
        assert_eq!(batches.iter().map(|b| b.records.len()).collect::<Vec<_>>(), [10, 10, 5]);
        let keys = flat(&records, &batches);
        let given: Vec<String> = records.iter().map(PushRecord::key).collect();
        assert_eq!(keys, given, "nothing reordered, per agent nor across agents");
    }

    #[test]
    fn repeats_are_dropped_the_first_kept() {
        let records = vec![
            state("a", 1),
            state("a", 2),
            state("a", 1),
            state("b", 1),
            state("a", 2),
        ];
        let batches = plan(&records, 1000, true);
        assert_eq!(flat(&records, &batches), ["a-1", "a-2", "b-1"]);
    }

    #[test]
    fn a_snapshot_slot_is_its_own_batches_where_it_begins() {
        let slot = "2026-11-21T10:00:00.000Z";
        let records = vec![
            state("a", 1),
            snap("a", slot),
            snap("b", slot),
            state("b", 2),
            snap("c", slot),
            snap("a", "2026-11-21T10:15:00.000Z"),
            state("d", 3),
            snap("d", slot),
        ];
        let batches = plan(&records, 2, true);
        let shape: Vec<(Vec<usize>, bool)> = batches
            .iter()
            .map(|b| (b.records.clone(), b.snapshot.is_some()))
            .collect();
        assert_eq!(
            shape,
            [
                (vec![0], false),
                (vec![1, 2], true),
                (vec![4], true),
                (vec![3], false),
                (vec![5], true),
                (vec![6], false),
                (vec![7], true)
            ]
        );
        assert_eq!(batches[1].snapshot, batches[2].snapshot);
        assert_ne!(batches[1].snapshot, batches[4].snapshot);
        assert_eq!(
            batches[6].snapshot, batches[1].snapshot,
            "d's snapshot state stays after d's state: the slot goes on in a run of its own"
        );
        let without = plan(&records, 1000, false);
        assert_eq!(without.len(), 1, "a target without snapshots takes them as any record");
    }
}
