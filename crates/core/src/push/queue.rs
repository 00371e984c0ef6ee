//! The push queue: where records wait for their WFM, per agent in order.
//!
//! One SQS FIFO queue per target. Every function that writes the feed also sends the records
//! of the kinds the target takes to its queue ([`messages_of`]): one message per record,
//! **message group = the agent** (`agent_id`; records without an agent by instance), and
//! **de-duplication id = the record's `event_id`**, so a feed write that is retried (a replayed
//! Kinesis batch, a repeated sweep) within SQS's 5-minute window adds nothing. An
//! `agent_snapshot` object goes as one message of its own group (`snapshot-<instance>`), so the
//! pusher gets a slot whole and sends it as `IsSnapshot` batches. A FIFO queue hands out no
//! later message of a group while an earlier one is in flight or back in the queue, so an
//! agent's states leave in the order they were written, whatever the retries; other agents'
//! groups flow meanwhile.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::{Kinds, NotARecord, PushRecord};
use crate::feed::FeedBody;
use crate::ports::PortError;

/// The largest message body sent (SQS takes 256 KiB; a larger snapshot is split).
pub const MAX_MESSAGE_BYTES: usize = 250 * 1024;

/// One message for a push queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub group_id: String,
    pub dedup_id: String,
    /// One feed line, or for a snapshot, its lines (JSON Lines).
    pub body: String,
}

/// A FIFO id (group or de-duplication): at most 128 of `[A-Za-z0-9!-/:-@[-`{-~]`; a longer or
/// other id becomes its SHA-256 (hex).
pub fn fifo_id(id: &str) -> String {
    let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        id.to_owned()
    } else {
        hex::encode(Sha256::digest(id.as_bytes()))
    }
}

/// The messages of one feed object for a queue taking `kinds`, in the object's order.
pub fn messages_of(body: &FeedBody, kinds: &Kinds) -> Vec<QueueMessage> {
    let mut messages = Vec::new();
    let mut snapshot: Vec<PushRecord> = Vec::new();
    for (encoded, line) in body.records() {
        if !kinds.takes(&encoded.kind) {
            continue;
        }
        let Ok(record) = PushRecord::parse(line) else {
            continue;
        };
        if record.is_snapshot() {
            snapshot.push(record);
            continue;
        }
        let group = record
            .agent_id
            .clone()
            .or_else(|| record.instance_id.clone())
            .unwrap_or_else(|| record.kind.clone());
        messages.push(QueueMessage {
            group_id: fifo_id(&group),
            dedup_id: fifo_id(&record.key()),
            body: record.line,
        });
    }
    // A snapshot object holds one slot of one instance; split by size if it must be.
    let mut part = String::new();
    let mut first: Option<String> = None;
    let mut flush = |part: &mut String, first: &mut Option<String>, last: &PushRecord| {
        if part.is_empty() {
            return;
        }
        let instance = last.instance_id.clone().unwrap_or_default();
        messages.push(QueueMessage {
            group_id: fifo_id(&format!("snapshot-{instance}")),
            dedup_id: fifo_id(first.as_deref().unwrap_or_default()),
            body: std::mem::take(part),
        });
        *first = None;
    };
    for (n, record) in snapshot.iter().enumerate() {
        if !part.is_empty() && part.len() + record.line.len() + 1 > MAX_MESSAGE_BYTES {
            flush(&mut part, &mut first, &snapshot[n - 1]);
        }
        first.get_or_insert_with(|| record.key());
        part.push_str(&record.line);
        part.push('\n');
    }
    if let Some(last) = snapshot.last() {
        flush(&mut part, &mut first, last);
    }
    messages
}

/// The records of a message body (one line, or a snapshot's lines); a line that is not a
/// record is the error, with its 1-based number.
pub fn records_of(body: &str) -> Result<Vec<PushRecord>, (usize, NotARecord)> {
    body.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| PushRecord::parse(l).map_err(|e| (n + 1, e)))
        .collect()
}

/// One message received from a push queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    /// What deletes or releases it.
    pub receipt: String,
    pub body: String,
    /// When it was sent to the queue.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A push queue, as the pusher sees it.
pub trait PushQueue: Send + Sync {
    /// Up to `max` messages, waiting up to `wait` for the first (long polling).
    fn receive(&self, max: usize, wait: Duration) -> impl Future<Output = Result<Vec<Received>, PortError>> + Send;
    /// Removes delivered (or refused, kept under rejects) messages.
    fn delete(&self, receipts: &[String]) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Puts messages back at once, in their place in their group (the next run takes them
    /// first).
    fn release(&self, receipts: &[String]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A push queue and the kinds it takes: one entry of `WFM_PUSH_QUEUES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRoute {
    pub url: String,
    pub kinds: Kinds,
}

/// `WFM_PUSH_QUEUES`: entries separated by spaces, each `URL` or `URL=kind,kind`.
pub fn parse_routes(value: &str) -> Vec<QueueRoute> {
    value
        .split_whitespace()
        .map(|entry| match entry.split_once('=') {
            Some((url, kinds)) => QueueRoute {
                url: url.to_owned(),
                kinds: Kinds::parse(kinds),
            },
            None => QueueRoute {
                url: entry.to_owned(),
                kinds: Kinds::default(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::FeedBody;

    fn body(lines: &[String]) -> FeedBody {
        FeedBody::parse(lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()).unwrap()
    }

    #[test]
    fn each_record_is_a_message_grouped_by_agent_and_deduplicated_by_event_id() {
        let lines = [
            r#"{"kind":"agent_state","instance_id":"i-1","agent_id":"a-1","state":"X","event_id":"e-1","event_time":"2026-11-20T10:00:00.000Z"}"#.to_owned(),
            r#"{"kind":"agent_activity","instance_id":"i-1","agent_id":"a-1","start":"2026-11-20T10:00:00.000Z"}"#.to_owned(),
            r#"{"kind":"feed_health","instance_id":"i-1","status":"silent","event_id":"health-i-1-agent_events-silent-1","since":"2026-11-20T10:00:00.000Z"}"#.to_owned(),
        ];
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert_eq!(
            messages,
            [
                QueueMessage {
                    group_id: "a-1".into(),
                    dedup_id: "e-1".into(),
                    body: lines[0].clone()
                },
                QueueMessage {
                    group_id: "i-1".into(),
                    dedup_id: "health-i-1-agent_events-silent-1".into(),
                    body: lines[2].clone()
                },
            ]
        );
    }

    #[test]
    fn a_snapshot_object_is_one_message_of_its_instances_group() {
        let lines: Vec<String> = (0..3)
            .map(|n| format!(r#"{{"kind":"agent_snapshot","instance_id":"i-1","agent_id":"a-{n}","state":"Available","as_of":"2026-11-20T10:15:00.000Z"}}"#))
            .collect();
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].group_id, "snapshot-i-1");
        assert_eq!(messages[0].dedup_id, "snapshot-i-1-a-0-1795169700000");
        assert_eq!(records_of(&messages[0].body).unwrap().len(), 3);
    }

    #[test]
    fn a_snapshot_too_large_for_one_message_is_split() {
        let pad = "x".repeat(1000);
        let lines: Vec<String> = (0..600)
            .map(|n| format!(r#"{{"kind":"agent_snapshot","instance_id":"i-1","agent_id":"a-{n}","state":"Available","as_of":"2026-11-20T10:15:00.000Z","pad":"{pad}"}}"#))
            .collect();
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().all(|m| m.body.len() <= MAX_MESSAGE_BYTES));
        let total: usize = messages.iter().map(|m| records_of(&m.body).unwrap().len()).sum();
        assert_eq!(total, 600);
        assert_ne!(messages[0].dedup_id, messages[1].dedup_id);
    }

    #[test]
    fn ids_fifo_refuses_are_hashed() {
        assert_eq!(fifo_id("e-1"), "e-1");
        assert_eq!(fifo_id(&"x".repeat(129)).len(), 64);
        assert_eq!(fifo_id("with space").len(), 64);
    }

    #[test]
    fn routes_name_a_queue_and_optionally_its_kinds() {
        let routes = parse_routes(" https://sqs/q1.fifo  https://sqs/q2.fifo=agent_state,queue_interval ");
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].kinds, Kinds::default());
        assert!(routes[1].kinds.takes("queue_interval") && !routes[1].kinds.takes("feed_health"));
        assert!(parse_routes("").is_empty());
    }
}
