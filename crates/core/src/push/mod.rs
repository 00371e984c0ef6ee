//! The push output: feed records into a WFM's own real-time API, per agent in the order they
//! were written, batched up to what the target takes.
//!
//! Everything here is pure: reading a feed line into a [`PushRecord`], cutting records into
//! [`Batch`]es that keep their order ([`batch`]), each target's request ([`calabrio`],
//! [`webhook`]) and the reading of its answer ([`answer`]). The sending (retries, the split of
//! a refused batch, the rate) is `connect_wfm_handlers::push`, over the [`WfmApi`] port.

pub mod answer;
pub mod batch;
pub mod calabrio;
pub mod queue;
pub mod recent;
pub mod webhook;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use answer::{Answer, Verdict};
pub use batch::{Batch, SnapshotSlot};

/// The kinds a target takes unless configured otherwise.
pub const DEFAULT_KINDS: [&str; 3] = ["agent_state", "agent_snapshot", "feed_health"];

/// A feed record on its way to a WFM: what routing, batching and encoding read of it, and its
/// line as written (the webhook sends it unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    pub kind: String,
    pub instance_id: Option<String>,
    pub agent_id: Option<String>,
    pub agent_login: Option<String>,
    /// `agent_state` and `agent_snapshot`: the WFM state.
    pub state: Option<String>,
    /// `feed_health`: `silent` or `ok`.
    pub status: Option<String>,
    pub event_id: Option<String>,
    /// `agent_snapshot`: the slot.
    pub as_of: Option<DateTime<Utc>>,
    /// `agent_state`: when the event happened (the delivery lag is measured from it).
    pub event_time: Option<DateTime<Utc>>,
    /// `agent_state` and `agent_snapshot`: when the state began.
    pub since: Option<DateTime<Utc>>,
    /// The feed line (one JSON object, no line break).
    pub line: String,
}

/// A feed line that cannot be pushed (not a JSON object with a `kind`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a feed record: {0}")]
pub struct NotARecord(pub String);

impl PushRecord {
    /// Reads one feed line (a JSON object); unknown fields are kept in the line only.
    pub fn parse(line: &str) -> Result<Self, NotARecord> {
        #[derive(Deserialize)]
        struct Head {
            kind: String,
            instance_id: Option<String>,
            agent_id: Option<String>,
            agent_login: Option<String>,
            state: Option<String>,
            status: Option<String>,
            event_id: Option<String>,
            as_of: Option<DateTime<Utc>>,
            event_time: Option<DateTime<Utc>>,
            since: Option<DateTime<Utc>>,
        }
        let line = line.trim();
        let head: Head = serde_json::from_str(line).map_err(|e| NotARecord(e.to_string()))?;
        Ok(Self {
            kind: head.kind,
            instance_id: head.instance_id,
            agent_id: head.agent_id,
            agent_login: head.agent_login,
            state: head.state,
            status: head.status,
            event_id: head.event_id,
            as_of: head.as_of,
            event_time: head.event_time,
            since: head.since,
            line: line.to_owned(),
        })
    }

    /// True for an `agent_snapshot` record.
    pub fn is_snapshot(&self) -> bool {
        self.kind == "agent_snapshot"
    }

    /// What identifies the record among repeats: the `event_id` of an `agent_state` or
    /// `feed_health` record, `snapshot-<instance_id>-<agent_id>-<as_of epoch ms>` for a
    /// snapshot record (which has none), else a hash of the line (a profile shares its
    /// `event_id` with the transition of the same event, and several queue profiles share one:
    /// the event id alone would make them repeats of each other; a repeat of any record is the
    /// same line).
    pub fn key(&self) -> String {
        let identified_by_event = matches!(self.kind.as_str(), "agent_state" | "feed_health");
        match (&self.event_id, self.is_snapshot()) {
            (Some(id), _) if identified_by_event => id.clone(),
            (_, true) => format!(
                "snapshot-{}-{}-{}",
                self.instance_id.as_deref().unwrap_or(""),
                self.agent_id.as_deref().unwrap_or(""),
                self.as_of.map(|t| t.timestamp_millis()).unwrap_or_default()
            ),
            (_, false) => format!("line-{:016x}", fnv_hash(self.line.as_bytes())),
        }
    }
}

fn fnv_hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// Which kinds a target takes (a parameter; [`DEFAULT_KINDS`] by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kinds(Vec<String>);

impl Default for Kinds {
    fn default() -> Self {
        Self(DEFAULT_KINDS.iter().map(|k| (*k).to_owned()).collect())
    }
}

impl Kinds {
    /// A comma-separated list (`agent_state,feed_health`); blank gives the default.
    pub fn parse(list: &str) -> Self {
        let kinds: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if kinds.is_empty() { Self::default() } else { Self(kinds) }
    }

    /// True when the target takes records of `kind`.
    pub fn takes(&self, kind: &str) -> bool {
        self.0.iter().any(|k| k == kind)
    }
}

/// A secret (the WFM's key, the webhook's signing secret): kept out of `Debug` output, so it
/// reaches no log and no error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret as read (a trailing line break of a key file removed).
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        Self(value.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// The value, for the one place that puts it into a request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One HTTP call to a WFM: always a POST of a JSON body.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    /// Besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The body may hold a key (Teleopti's `AuthenticationKey`): never printed.
impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("url", &self.url)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The WFM's HTTP API: one POST, its answer, or the transport's failure (no connection, no
/// answer in time) as text.
pub trait WfmApi: Send + Sync {
    /// Sends `request` once (no retries: the caller retries).
    fn post(&self, request: &HttpRequest) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// A target: which records it takes, how they are batched and how a batch becomes a request.
#[derive(Debug, Clone)]
pub enum Target {
    Calabrio(calabrio::Calabrio),
    Webhook(webhook::Webhook),
}

impl Target {
    /// The target's name: `calabrio` or `webhook`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Calabrio(_) => "calabrio",
            Target::Webhook(_) => "webhook",
        }
    }

    /// True when the target takes `record`: its kind is configured (and for Calabrio, it is an
    /// agent's state).
    pub fn takes(&self, record: &PushRecord) -> bool {
        match self {
            Target::Calabrio(c) => c.kinds.takes(&record.kind) && calabrio::Calabrio::has_states(record),
            Target::Webhook(w) => w.kinds.takes(&record.kind),
        }
    }

    /// Why a record the target takes cannot be sent at all (for Calabrio: no `UserCode`); such
    /// a record is refused without a call.
    pub fn check(&self, record: &PushRecord) -> Result<(), String> {
        match self {
            Target::Calabrio(c) => c.state_of(record).map(drop),
            Target::Webhook(_) => Ok(()),
        }
    }

    /// The most records one call carries.
    pub fn max_batch(&self) -> usize {
        match self {
            Target::Calabrio(c) => c.max_batch,
            Target::Webhook(w) => w.max_batch,
        }
    }

    /// The batches of `records` (all taken by the target), in order: see [`batch::plan`].
    pub fn plan<R: std::borrow::Borrow<PushRecord>>(&self, records: &[R]) -> Vec<Batch> {
        batch::plan(records, self.max_batch(), matches!(self, Target::Calabrio(_)))
    }

    /// The request of `records` (one batch, or part of one after a refusal), signed at
    /// `now` where the target signs.
    pub fn request(&self, records: &[&PushRecord], snapshot: bool, now: DateTime<Utc>) -> HttpRequest {
        match self {
            Target::Calabrio(c) => c.request(records, snapshot),
            Target::Webhook(w) => w.request(records, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_read_for_what_routing_and_encoding_need_and_kept_whole() {
        let line = r#"{"kind":"agent_state","schema":1,"instance_id":"i-1","agent_id":"a-1","agent_login":"jdoe","state":"Break","reason":"Break","activity":"Closed","since":"2026-11-20T08:00:00.000Z","previous_state":"Available","contact":null,"event_id":"e-1","event_type":"STATE_CHANGE","event_time":"2026-11-20T08:00:00.250Z"}"#;
        let record = PushRecord::parse(&format!("  {line}\n")).unwrap();
        assert_eq!(record.kind, "agent_state");
        assert_eq!(record.agent_id.as_deref(), Some("a-1"));
        assert_eq!(record.agent_login.as_deref(), Some("jdoe"));
        assert_eq!(record.state.as_deref(), Some("Break"));
        assert_eq!(record.key(), "e-1");
        assert_eq!(record.event_time, Some("2026-11-20T08:00:00.250Z".parse().unwrap()));
        assert_eq!(record.line, line);
        assert!(PushRecord::parse("{oops").is_err());
        assert!(PushRecord::parse(r#"{"schema":1}"#).is_err());
    }

    #[test]
    fn a_profile_is_not_a_repeat_of_the_transition_or_the_queue_profiles_of_its_event() {
        let state = PushRecord::parse(r#"{"kind":"agent_state","agent_id":"a-1","event_id":"e-1"}"#).unwrap();
        let profile = PushRecord::parse(r#"{"kind":"agent_profile","agent_id":"a-1","event_id":"e-1"}"#).unwrap();
        let queue = |id: &str| {
            PushRecord::parse(&format!(
                r#"{{"kind":"queue_profile","queue_id":"{id}","event_id":"e-1"}}"#
            ))
            .unwrap()
        };
        let keys = [state.key(), profile.key(), queue("q-1").key(), queue("q-2").key()];
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), 4, "{keys:?}");
        // A repeat of a profile is the same line: the same key.
        assert_eq!(queue("q-1").key(), keys[2]);
    }

    #[test]
    fn a_snapshot_record_is_known_by_instance_agent_and_slot() {
        let record = PushRecord::parse(
            r#"{"kind":"agent_snapshot","instance_id":"i-1","agent_id":"a-1","state":"Available","as_of":"2026-11-21T10:00:00.000Z"}"#,
        )
        .unwrap();
        assert_eq!(record.key(), "snapshot-i-1-a-1-1795255200000");
    }

    #[test]
    fn kinds_default_to_states_snapshots_and_health() {
        let kinds = Kinds::parse(" ");
        assert!(kinds.takes("agent_state") && kinds.takes("agent_snapshot") && kinds.takes("feed_health"));
        assert!(!kinds.takes("queue_interval"));
        let kinds = Kinds::parse("agent_state, queue_interval");
        assert!(kinds.takes("queue_interval") && !kinds.takes("feed_health"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let secret = Secret::new("s3cr3t\n");
        assert_eq!(secret.expose(), "s3cr3t");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let request = HttpRequest {
            url: "http://wfm/Rta/State/Batch".into(),
            headers: vec![],
            body: br#"{"AuthenticationKey":"s3cr3t"}"#.to_vec(),
        };
        assert!(!format!("{request:?}").contains("s3cr3t"));
    }
}
