//! The WFM feed (schema 1, see feed.md): records, JSON Lines encoding and the object layout.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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

/// One agent's current state in a periodic snapshot: the `agent_snapshot` record of feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSnapshotRecord {
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
    pub contact: Option<ContactRef>,
    #[serde(with = "serde_feed_time")]
    pub last_seen: DateTime<Utc>,
    /// Start of the snapshot's slot (a whole minute).
    #[serde(with = "serde_feed_time")]
    pub as_of: DateTime<Utc>,
}

impl AgentSnapshotRecord {
    pub const KIND: &'static str = "agent_snapshot";
}

/// Status of a source in a `feed_health` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// The instance's events stopped arriving while agents were logged in.
    Silent,
    /// The first event after a silence arrived.
    Ok,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Silent => "silent",
            HealthStatus::Ok => "ok",
        }
    }
}

/// A source of an instance that went silent, or its recovery: the `feed_health` record of
/// feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedHealthRecord {
    pub kind: &'static str,
    pub schema: u32,
    pub instance_id: String,
    /// `agent_events` (later also `contact_events`).
    pub source: &'static str,
    pub status: HealthStatus,
    /// For `silent`: the newest event time processed + the silence threshold; for `ok`: the
    /// first new event's time.
    #[serde(with = "serde_feed_time")]
    pub since: DateTime<Utc>,
    /// The newest event time processed for the instance before the silence.
    #[serde(with = "serde_feed_time")]
    pub last_event_time: DateTime<Utc>,
    /// How many agents the silence affects (the same number in the `ok` record).
    pub agents: u32,
    /// `health-<instance_id>-<source>-<status>-<since epoch ms>`.
    pub event_id: String,
}

impl FeedHealthRecord {
    pub const KIND: &'static str = "feed_health";
    /// `source` of the agent event stream.
    pub const AGENT_EVENTS: &'static str = "agent_events";

    /// A record of the agent event stream of `instance_id`, its id derived from its fields.
    pub fn agent_events(
        instance_id: &str,
        status: HealthStatus,
        since: DateTime<Utc>,
        last_event_time: DateTime<Utc>,
        agents: u32,
    ) -> Self {
        let source = Self::AGENT_EVENTS;
        Self {
            kind: Self::KIND,
            schema: SCHEMA,
            instance_id: instance_id.to_owned(),
            source,
            status,
            since,
            last_event_time,
            agents,
            event_id: format!(
                "health-{instance_id}-{source}-{}-{}",
                status.as_str(),
                since.timestamp_millis()
            ),
        }
    }
}

impl FeedHealthRecord {
    /// Its feed object: `feed_health/<date of since>/<event_id>.jsonl`, one record per object, so
    /// a repeated write of the same record overwrites.
    pub fn object_key(&self) -> String {
        object_key(Self::KIND, self.since.date_naive(), &self.event_id)
    }
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

impl FeedRecord for AgentStateRecord {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.event_time)
    }
}

impl FeedRecord for AgentSnapshotRecord {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.as_of)
    }
}

impl FeedRecord for FeedHealthRecord {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.since)
    }
}

/// Rejects stay in the feed (no output after it takes them): they carry no record time.
impl FeedRecord for RejectRecord {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        None
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

/// A record of the feed: its `kind` and its time (what dates it on an event bus, see
/// [`TIME_FIELDS`]) are known without serialising it.
pub trait FeedRecord: Serialize {
    /// The record's `kind`.
    fn kind(&self) -> &'static str;

    /// The record's time, if it has one.
    fn time(&self) -> Option<DateTime<Utc>>;
}

impl<T: FeedRecord + ?Sized> FeedRecord for &T {
    fn kind(&self) -> &'static str {
        (**self).kind()
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        (**self).time()
    }
}

impl<T: FeedRecord + Clone> FeedRecord for std::borrow::Cow<'_, T> {
    fn kind(&self) -> &'static str {
        self.as_ref().kind()
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        self.as_ref().time()
    }
}

/// One record of a [`FeedBody`]: what an output needs besides the line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// The record's `kind`.
    pub kind: std::borrow::Cow<'static, str>,
    /// The record's time.
    pub time: Option<DateTime<Utc>>,
    /// Where its line lies in the body (without the line break).
    span: std::ops::Range<usize>,
}

/// The records of one feed object, encoded once: the JSON Lines body the S3 feed stores (one
/// object per line, each line ending in `\n`) and, per record, its kind, time and line, which
/// the outputs after the feed (the event bus, ...) take as they are instead of parsing the body
/// again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedBody {
    bytes: Vec<u8>,
    records: Vec<EncodedRecord>,
}

impl FeedBody {
    /// The JSON Lines bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The JSON Lines bytes, taken.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Each record and its line (JSON text, no line break), in order.
    pub fn records(&self) -> impl Iterator<Item = (&EncodedRecord, &str)> {
        self.records.iter().map(|r| {
            // Lines are our own JSON text: UTF-8 by construction (or checked by `parse`).
            let line = std::str::from_utf8(&self.bytes[r.span.clone()]).unwrap_or_default();
            (r, line)
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A body of JSON Lines written elsewhere (tests, tools), each line read for its kind and
    /// time; the first line that is not a feed record is the error, with its 1-based number.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, (usize, LineHeadError)> {
        let mut records = Vec::new();
        let mut start = 0;
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let span = start..start + line.len();
            start = span.end + 1;
            if line.is_empty() {
                continue;
            }
            std::str::from_utf8(line).map_err(|e| (n + 1, LineHeadError::NotJson(e.to_string())))?;
            let head = read_line_head(line).map_err(|e| (n + 1, e))?;
            records.push(EncodedRecord {
                kind: head.kind.into(),
                time: head.time,
                span,
            });
        }
        Ok(Self { bytes, records })
    }
}

/// Encodes records as JSON Lines, each record's kind and time kept beside its line.
pub fn to_json_lines<T: FeedRecord>(records: &[T]) -> FeedBody {
    let mut bytes = Vec::with_capacity(records.len() * 256);
    let mut encoded = Vec::with_capacity(records.len());
    for record in records {
        let start = bytes.len();
        // Serialising our own plain structs cannot fail.
        serde_json::to_writer(&mut bytes, record).expect("feed records serialise");
        encoded.push(EncodedRecord {
            kind: record.kind().into(),
            time: record.time(),
            span: start..bytes.len(),
        });
        bytes.push(b'\n');
    }
    FeedBody {
        bytes,
        records: encoded,
    }
}

/// The fields that date a record on an event bus, in order of preference: the first one a record
/// has is its time. `agent_state` → `event_time`; `queue_interval`, `agent_queue_interval`,
/// `agent_interval` (both bases) → `interval_start`; `agent_snapshot` → `as_of`; `feed_health` →
/// `since`. A kind added later gets the first of these it carries, without a change here.
pub const TIME_FIELDS: [&str; 4] = ["event_time", "interval_start", "as_of", "since"];

/// What an output needs to know of one feed line besides the line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineHead {
    /// The record's `kind`.
    pub kind: String,
    /// The record's time: the first of [`TIME_FIELDS`] it has; `None` when it has none.
    pub time: Option<DateTime<Utc>>,
}

/// A feed line that is not a record (never expected of our own output; kept, not dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineHeadError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("field `{field}` is not an RFC 3339 timestamp: `{value}`")]
    BadTime { field: &'static str, value: String },
}

/// Reads the kind and the time of one feed line (a JSON object; other fields are skipped).
pub fn read_line_head(line: &[u8]) -> Result<LineHead, LineHeadError> {
    #[derive(Deserialize)]
    struct Head {
        kind: String,
        event_time: Option<String>,
        interval_start: Option<String>,
        as_of: Option<String>,
        since: Option<String>,
    }
    let head: Head = serde_json::from_slice(line).map_err(|e| LineHeadError::NotJson(e.to_string()))?;
    let found = [head.event_time, head.interval_start, head.as_of, head.since]
        .into_iter()
        .zip(TIME_FIELDS)
        .find_map(|(value, field)| value.map(|v| (field, v)));
    let time = match found {
        None => None,
        Some((field, value)) => Some(
            DateTime::parse_from_rfc3339(&value)
                .map_err(|_| LineHeadError::BadTime {
                    field,
                    value: value.clone(),
                })?
                .with_timezone(&Utc),
        ),
    };
    Ok(LineHead { kind: head.kind, time })
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
    fn feed_health_has_the_fields_and_id_of_feed_md() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let record = FeedHealthRecord::agent_events(
            "i-1",
            HealthStatus::Silent,
            at("2026-11-21T10:05:00.250Z"),
            at("2026-11-21T10:00:00.250Z"),
            12,
        );
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::json!({
                "kind": "feed_health", "schema": 1, "instance_id": "i-1", "source": "agent_events",
                "status": "silent", "since": "2026-11-21T10:05:00.250Z",
                "last_event_time": "2026-11-21T10:00:00.250Z", "agents": 12,
                "event_id": "health-i-1-agent_events-silent-1795255500250"
            })
        );
    }

    #[test]
    fn a_body_knows_each_records_kind_and_time_as_its_line_says_them() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let health = FeedHealthRecord::agent_events(
            "i-1",
            HealthStatus::Silent,
            at("2026-11-21T10:05:00.250Z"),
            at("2026-11-21T10:00:00.250Z"),
            3,
        );
        let reject = RejectRecord::new("agent-events", "seq 1", "bad", at("2026-11-20T10:15:00Z"), b"x");
        let bodies = [to_json_lines(&[&health, &health]), to_json_lines(&[reject])];
        for body in bodies {
            assert_eq!(body.records().count(), body.len());
            for (record, line) in body.records() {
                let head = read_line_head(line.as_bytes()).unwrap();
                assert_eq!(
                    (record.kind.as_ref(), record.time),
                    (head.kind.as_str(), head.time),
                    "{line}"
                );
            }
            let parsed = FeedBody::parse(body.bytes().to_vec()).unwrap();
            assert_eq!(parsed, body, "parsing the bytes gives the same records");
        }
        assert_eq!(
            FeedBody::parse(b"{\"kind\":\"a\"}\nnot json\n".to_vec()).unwrap_err().0,
            2,
            "the first line that is not a record is named"
        );
    }

    #[test]
    fn reject_keeps_text_as_text_and_bytes_as_base64() {
        let at: DateTime<Utc> = "2026-11-20T10:15:00Z".parse().unwrap();
        let text = RejectRecord::new("agent-events", "seq 1", "bad", at, b"{oops");
        assert_eq!((text.raw.as_str(), text.raw_encoding), ("{oops", "utf-8"));
        let bin = RejectRecord::new("agent-events", "seq 2", "bad", at, &[0xff, 0x00]);
        assert_eq!((bin.raw.as_str(), bin.raw_encoding), ("/wA=", "base64"));
        let line = String::from_utf8(to_json_lines(&[text]).into_bytes()).unwrap();
        assert!(line.starts_with(r#"{"kind":"reject","schema":1,"#) && line.ends_with("}\n"));
    }

    #[test]
    fn a_line_is_dated_by_the_first_time_field_it_has() {
        let head = |line: &str| read_line_head(line.as_bytes()).unwrap();
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let state = head(
            r#"{"kind":"agent_state","since":"2026-11-20T08:00:00.000Z","event_time":"2026-11-20T08:03:12.250Z"}"#,
        );
        assert_eq!(state.kind, "agent_state");
        assert_eq!(state.time, at("2026-11-20T08:03:12.250Z"));
        let interval = head(
            r#"{"kind":"queue_interval","basis":"stream","interval_start":"2026-11-20T10:15:00Z","as_of":"2026-11-20T10:31:02.000Z"}"#,
        );
        assert_eq!(interval.time, at("2026-11-20T10:15:00Z"));
        let snapshot =
            head(r#"{"kind":"agent_snapshot","since":"2026-11-20T08:00:00.000Z","as_of":"2026-11-21T10:00:00.000Z"}"#);
        assert_eq!(snapshot.time, at("2026-11-21T10:00:00.000Z"));
        let health = head(
            r#"{"kind":"feed_health","since":"2026-11-21T10:05:00.000Z","last_event_time":"2026-11-21T10:00:00.000Z"}"#,
        );
        assert_eq!(health.time, at("2026-11-21T10:05:00.000Z"));
        assert_eq!(head(r#"{"kind":"other","x":1}"#).time, None);
    }

    #[test]
    fn a_line_that_is_not_a_record_says_why() {
        assert!(matches!(read_line_head(b"{oops"), Err(LineHeadError::NotJson(_))));
        assert!(matches!(
            read_line_head(br#"{"schema":1}"#),
            Err(LineHeadError::NotJson(_))
        ));
        let err = read_line_head(br#"{"kind":"agent_state","event_time":"yesterday"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `event_time` is not an RFC 3339 timestamp: `yesterday`"
        );
    }
}
