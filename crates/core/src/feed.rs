//! The WFM feed (schema 1, see feed.md): records, JSON Lines encoding and the object layout.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::agent::{Activity, ContactRef};
use crate::timefmt::serde_feed_time;

/// Feed schema version carried by every record.
pub const SCHEMA: u32 = 1;

/// Folder of rejected inputs inside the feed location.
pub const REJECTS: &str = "rejects";

/// One agent-state transition: the `agent_state` record of feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStateRecord {
    pub kind: &'static str,
    pub schema: u32,
    pub instance_id: String,
    pub agent_id: String,
    pub agent_login: Option<String>,
    pub state: String,
    pub reason: String,
    pub activity: Activity,
    #[serde(with = "serde_feed_time")]
    pub since: DateTime<Utc>,
    pub previous_state: Option<String>,
    pub contact: Option<ContactRef>,
    pub event_id: String,
    pub event_type: String,
    #[serde(with = "serde_feed_time")]
    pub event_time: DateTime<Utc>,
}

impl AgentStateRecord {
    pub const KIND: &'static str = "agent_state";
}

/// An input that could not be processed, kept with its raw bytes and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectRecord {
    pub kind: &'static str,
    pub schema: u32,
    /// Which entry point saw it: `agent-events`, `historical-reports`, ...
    pub function: String,
    /// Where it came from, e.g. `kinesis shardId-000000000000 seq 4954...` or `s3://b/k`.
    pub input: String,
    pub reason: String,
    #[serde(with = "serde_feed_time")]
    pub received_at: DateTime<Utc>,
    /// The raw input as text when it is UTF-8, else base64 (see `raw_encoding`).
    pub raw: String,
    /// `utf-8` or `base64`.
    pub raw_encoding: &'static str,
}

impl RejectRecord {
    pub const KIND: &'static str = "reject";

    pub fn new(
        function: impl Into<String>,
        input: impl Into<String>,
        reason: impl Into<String>,
        received_at: DateTime<Utc>,
        raw: &[u8],
    ) -> Self {
        let (raw, raw_encoding) = match std::str::from_utf8(raw) {
            Ok(text) => (text.to_owned(), "utf-8"),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(raw), "base64"),
        };
        Self {
            kind: Self::KIND,
            schema: SCHEMA,
            function: function.into(),
            input: input.into(),
            reason: reason.into(),
            received_at,
            raw,
            raw_encoding,
        }
    }
}

/// Relative key of a feed object: `<kind>/<YYYY-MM-DD>/<name>.jsonl`. `name` must be derived
/// from the input (shard and sequence numbers, report key and ETag) so a retry overwrites.
pub fn object_key(kind: &str, date: NaiveDate, name: &str) -> String {
    format!("{kind}/{}/{}.jsonl", date.format("%Y-%m-%d"), sanitize_name(name))
}

/// Keeps a derived object name safe as one path segment on S3 and on a local disk.
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Encodes records as JSON Lines (one object per line, each line ending in `\n`).
pub fn to_json_lines<T: Serialize>(records: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 256);
    for record in records {
        // Serialising our own plain structs cannot fail.
        serde_json::to_writer(&mut out, record).expect("feed records serialise");
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_key_follows_the_layout_and_stays_one_segment() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(
            object_key("agent_state", date, "shardId-000000000000-4954/x:y"),
            "agent_state/2026-11-20/shardId-000000000000-4954_x_y.jsonl"
        );
    }

    #[test]
    fn reject_keeps_text_as_text_and_bytes_as_base64() {
        let at: DateTime<Utc> = "2026-11-20T10:15:00Z".parse().unwrap();
        let text = RejectRecord::new("agent-events", "seq 1", "bad", at, b"{oops");
        assert_eq!((text.raw.as_str(), text.raw_encoding), ("{oops", "utf-8"));
        let bin = RejectRecord::new("agent-events", "seq 2", "bad", at, &[0xff, 0x00]);
        assert_eq!((bin.raw.as_str(), bin.raw_encoding), ("/wA=", "base64"));
        let line = String::from_utf8(to_json_lines(&[text])).unwrap();
        assert!(line.starts_with(r#"{"kind":"reject","schema":1,"#) && line.ends_with("}\n"));
    }
}
