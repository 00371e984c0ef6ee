//! The push queue: where records wait for their WFM, per agent in order.
//!
//! One SQS FIFO queue per target. Every function that writes the feed also sends the records
//! of the kinds the target takes to its queue ([`messages_of`]): one message per record,
//! **message group = the agent** (`agent_id`; records without an agent by instance), and
//! **de-duplication id = the record's `event_id`**, so a feed write that is retried (a replayed
//! Kinesis batch, a repeated sweep) within SQS's 5-minute window adds nothing. An
//! `agent_snapshot` object goes as one message of its own group (`snapshot-<instance>`), so the
//! pusher gets a slot whole and sends it as `IsSnapshot` batches; a snapshot too large for one
//! message as it is goes compressed ([`COMPRESSED`]), and is split only when it is too large even
//! so. A FIFO queue hands out no
//! later message of a group while an earlier one is in flight or back in the queue, so an
//! agent's states leave in the order they were written, whatever the retries; other agents'
//! groups flow meanwhile.

use std::borrow::Cow;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use base64::Engine as _;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::{Kinds, NotARecord, PushRecord};
use crate::feed::FeedBody;
use crate::ports::PortError;

/// The largest message body sent (SQS takes 256 KiB; a larger snapshot is compressed, and split
/// if it must be).
pub const MAX_MESSAGE_BYTES: usize = 250 * 1024;

/// The mark of a compressed body: `gz:`, then the base64 of the gzip of its lines. A plain body
/// is feed lines, which begin with `{`.
pub const COMPRESSED: &str = "gz:";

/// The most bytes a compressed body may expand to (a snapshot of thousands of agents is a few
/// MB): more is not a body this project wrote.
const MAX_PLAIN_BYTES: u64 = 64 * 1024 * 1024;

/// One message for a push queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub group_id: String,
    pub dedup_id: String,
    /// One feed line, or for a snapshot, its lines (JSON Lines).
    pub body: String,
}

/// Cuts `messages` into send calls of at most `max_entries` entries and `max_bytes` of bodies,
/// sent one after the other, so that no message group has two entries in one call: SQS may fail
/// one entry of a call and take a later one, and a failed entry sent again after a later entry
/// of its agent would reach the WFM after it. Each message goes into the first call with room
/// after the call of its group's previous message, so the order within every group is the order
/// given (message indices).
pub fn send_calls(messages: &[QueueMessage], max_entries: usize, max_bytes: usize) -> Vec<Vec<usize>> {
    let mut calls: Vec<(Vec<usize>, usize)> = Vec::new();
    let mut group_call: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (n, message) in messages.iter().enumerate() {
        let earliest = group_call.get(message.group_id.as_str()).map_or(0, |c| c + 1);
        let fits = |(entries, bytes): &(Vec<usize>, usize)| {
            entries.len() < max_entries && (entries.is_empty() || bytes + message.body.len() <= max_bytes)
        };
        let slot = match (earliest..calls.len()).find(|c| fits(&calls[*c])) {
            Some(slot) => slot,
            None => {
                calls.push((Vec::new(), 0));
                calls.len() - 1
            }
        };
        calls[slot].0.push(n);
        calls[slot].1 += message.body.len();
        group_call.insert(message.group_id.as_str(), slot);
    }
    calls.into_iter().map(|(entries, _)| entries).collect()
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
    // A snapshot object holds one slot of one instance.
    if let Some(first) = snapshot.first() {
        let group = fifo_id(&format!(
            "snapshot-{}",
            first.instance_id.as_deref().unwrap_or_default()
        ));
        let mut parts = Vec::new();
        snapshot_parts(&snapshot, &mut parts);
        messages.extend(parts.into_iter().map(|(first, body)| QueueMessage {
            group_id: group.clone(),
            dedup_id: fifo_id(&snapshot[first].key()),
            body,
        }));
    }
    messages
}

/// The bodies of a snapshot's `records`, each with the index of its first record, in order:
/// the lines as they are when they fit in a message, else compressed when that fits (or when
/// there is only one record left), else the halves of `records`, each the same way.
fn snapshot_parts(records: &[PushRecord], parts: &mut Vec<(usize, String)>) {
    fn cut(records: &[PushRecord], offset: usize, parts: &mut Vec<(usize, String)>) {
        let plain: String = records.iter().flat_map(|r| [r.line.as_str(), "\n"]).collect();
        if plain.len() <= MAX_MESSAGE_BYTES {
            parts.push((offset, plain));
            return;
        }
        let compressed = compress(&plain);
        if compressed.len() <= MAX_MESSAGE_BYTES || records.len() == 1 {
            parts.push((offset, compressed));
            return;
        }
        let half = records.len() / 2;
        cut(&records[..half], offset, parts);
        cut(&records[half..], offset + half, parts);
    }
    cut(records, 0, parts);
}

/// `body` as a compressed body: [`COMPRESSED`], then the base64 of its gzip.
fn compress(body: &str) -> String {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(body.as_bytes()).expect("writing to memory");
    let bytes = gzip.finish().expect("writing to memory");
    let mut compressed = String::with_capacity(COMPRESSED.len() + bytes.len().div_ceil(3) * 4);
    compressed.push_str(COMPRESSED);
    base64::engine::general_purpose::STANDARD.encode_string(&bytes, &mut compressed);
    compressed
}

/// The lines of a message body: a plain body as it is, a compressed one ([`COMPRESSED`])
/// expanded.
fn body_lines(body: &str) -> Result<Cow<'_, str>, NotARecord> {
    let Some(encoded) = body.strip_prefix(COMPRESSED) else {
        return Ok(Cow::Borrowed(body));
    };
    let unreadable = |what: &str, e: &dyn std::fmt::Display| NotARecord(format!("a compressed body that {what}: {e}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_end())
        .map_err(|e| unreadable("is not base64", &e))?;
    let mut plain = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_PLAIN_BYTES + 1)
        .read_to_string(&mut plain)
        .map_err(|e| unreadable("does not expand to text", &e))?;
    if plain.len() as u64 > MAX_PLAIN_BYTES {
        return Err(NotARecord(format!(
            "a compressed body that expands to more than {MAX_PLAIN_BYTES} bytes"
        )));
    }
    Ok(Cow::Owned(plain))
}

/// The records of a message body (one line, or a snapshot's lines, plain or compressed); a line
/// that is not a record is the error, with its 1-based number (0: the body itself cannot be
/// read, e.g. a compressed body that does not expand).
pub fn records_of(body: &str) -> Result<Vec<PushRecord>, (usize, NotARecord)> {
    let body = body_lines(body).map_err(|e| (0, e))?;
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

    fn message(group: &str, bytes: usize) -> QueueMessage {
        QueueMessage {
            group_id: group.into(),
            dedup_id: format!("{group}-{bytes}"),
            body: "x".repeat(bytes),
        }
    }

    #[test]
    fn send_calls_never_put_one_group_twice_in_a_call_and_keep_each_groups_order() {
        // a has three records in a row, b and c one each: a's go into three calls, b and c
        // fill the first.
        let messages = [
            message("a", 1),
            message("a", 1),
            message("b", 1),
            message("a", 1),
            message("c", 1),
        ];
        let calls = send_calls(&messages, 10, 1000);
        assert_eq!(calls, vec![vec![0, 2, 4], vec![1], vec![3]]);
        // Every group: at most one entry a call, its entries in order across the calls.
        let messages: Vec<QueueMessage> = (0..200).map(|n| message(&format!("g{}", n % 7), 10 + n % 13)).collect();
        let calls = send_calls(&messages, 10, 100);
        let mut seen = vec![usize::MAX; messages.len()];
        for (c, call) in calls.iter().enumerate() {
            assert!(call.len() <= 10 && call.iter().map(|n| messages[*n].body.len()).sum::<usize>() <= 100);
            let groups: std::collections::BTreeSet<&str> =
                call.iter().map(|n| messages[*n].group_id.as_str()).collect();
            assert_eq!(groups.len(), call.len(), "call {c} holds a group twice");
            for n in call {
                seen[*n] = c;
            }
        }
        for g in 0..7 {
            let order: Vec<usize> = (0..messages.len()).filter(|n| n % 7 == g).map(|n| seen[n]).collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "group g{g} out of order: {order:?}"
            );
        }
        // A body larger than the call's bytes still goes, alone.
        assert_eq!(
            send_calls(&[message("a", 500), message("b", 1)], 10, 100),
            vec![vec![0], vec![1]]
        );
    }
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

    /// Hex digits that do not repeat (a generator's), for ids and pads that compress as real
    /// ones do.
    fn hex(seed: u64, len: usize) -> String {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).unwrap()
            })
            .collect()
    }

    /// A snapshot record as the sweep writes it (feed.md), with an agent id like Connect's.
    fn snapshot_line(n: u64) -> String {
        let agent = format!(
            "{}-{}-{}-{}-{}",
            hex(n, 8),
            hex(n + 1, 4),
            hex(n + 2, 4),
            hex(n + 3, 4),
            hex(n + 4, 12)
        );
        let (state, activity) = [
            ("Available", "Idle"),
            ("Break", "Closed"),
            ("VOICE-INBOUND-CONNECTED", "Handling"),
        ][n as usize % 3];
        format!(
            r#"{{"kind":"agent_snapshot","schema":1,"instance_id":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","agent_id":"{agent}","agent_login":"agent.{n:05}","state":"{state}","reason":"{state}","activity":"{activity}","since":"2026-11-20T09:{:02}:{:02}.{:03}Z","contact":null,"last_seen":"2026-11-20T10:14:{:02}.{:03}Z","as_of":"2026-11-20T10:15:00.000Z"}}"#,
            n % 60,
            (n * 7) % 60,
            (n * 13) % 1000,
            (n * 11) % 60,
            (n * 17) % 1000
        )
    }

    #[test]
    fn a_snapshot_of_thousands_of_agents_is_one_compressed_message_that_reads_back_the_same() {
        let lines: Vec<String> = (0..3000).map(snapshot_line).collect();
        let plain: usize = lines.iter().map(|l| l.len() + 1).sum();
        assert!(plain > 3 * MAX_MESSAGE_BYTES, "{plain} bytes as written");
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert_eq!(
            messages.len(),
            1,
            "one message, so one IsSnapshot call per 1,000 states"
        );
        let message = &messages[0];
        assert!(message.body.starts_with(COMPRESSED));
        assert!(message.body.len() <= MAX_MESSAGE_BYTES, "{} bytes", message.body.len());
        assert_eq!(message.group_id, "snapshot-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
        let records = records_of(&message.body).unwrap();
        let expected: Vec<PushRecord> = lines.iter().map(|l| PushRecord::parse(l).unwrap()).collect();
        assert_eq!(records, expected, "the same records, in order");
        assert_eq!(message.dedup_id, fifo_id(&expected[0].key()));
    }

    #[test]
    fn a_snapshot_that_fits_as_written_goes_as_written() {
        let lines: Vec<String> = (0..500).map(snapshot_line).collect();
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert_eq!(messages.len(), 1);
        let written: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert_eq!(messages[0].body, written, "plain: the lines as written");
        assert_eq!(records_of(&messages[0].body).unwrap().len(), 500);
    }

    #[test]
    fn a_snapshot_too_large_even_compressed_is_split_in_order() {
        // Pads of hex digits compress to about half: 600 KB of them is more than one message.
        let lines: Vec<String> = (0..600)
            .map(|n| format!(r#"{{"kind":"agent_snapshot","instance_id":"i-1","agent_id":"a-{n}","state":"Available","as_of":"2026-11-20T10:15:00.000Z","pad":"{}"}}"#, hex(n, 1000)))
            .collect();
        let messages = messages_of(&body(&lines), &Kinds::default());
        assert!(messages.len() >= 2, "{} messages", messages.len());
        assert!(messages.iter().all(|m| m.body.len() <= MAX_MESSAGE_BYTES));
        assert!(messages.iter().all(|m| m.group_id == "snapshot-i-1"));
        let agents: Vec<String> = messages
            .iter()
            .flat_map(|m| records_of(&m.body).unwrap())
            .map(|r| r.agent_id.unwrap())
            .collect();
        let expected: Vec<String> = (0..600).map(|n| format!("a-{n}")).collect();
        assert_eq!(agents, expected, "every record once, in order");
        let ids: std::collections::BTreeSet<&String> = messages.iter().map(|m| &m.dedup_id).collect();
        assert_eq!(ids.len(), messages.len(), "each part its own de-duplication id");
    }

    #[test]
    fn a_compressed_body_that_does_not_expand_is_refused_as_a_whole() {
        let (line, error) = records_of("gz:not base64!").unwrap_err();
        assert_eq!(line, 0);
        assert!(error.0.contains("not base64"), "{error}");
        let (line, _) = records_of("gz:aGVsbG8=").unwrap_err();
        assert_eq!(line, 0, "base64, but not gzip");
        let body = compress("{\"kind\":\"agent_snapshot\"}\n{oops\n");
        assert_eq!(
            records_of(&body).unwrap_err().0,
            2,
            "a bad line inside is named by its number"
        );
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
