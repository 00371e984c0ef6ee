//! The DynamoDB items of the agent-state and claim tables, and their conversion to and from
//! the domain types. This is the only place that knows the attribute names.
//!
//! Agent-state table, one item per agent (key `agent_arn`):
//!
//! | attribute | type | content |
//! |---|---|---|
//! | `agent_arn` | S | partition key: the agent ARN |
//! | `agent_id` | S | last segment of the agent ARN |
//! | `instance_id` | S | last segment of the instance ARN |
//! | `agent_login` | S | login name; absent when unknown (or empty), so the `by_login` index stays sparse |
//! | `state` | S | WFM event id of the current state |
//! | `reason` | S | WFM reason |
//! | `activity` | S | `Open` or `Closed` |
//! | `since` | S | when the state began, RFC 3339 UTC |
//! | `contact` | M | `contact_id`, `channel`, `initiation_method`, `queue` (absent when none); absent without a contact |
//! | `wm_ms` | N | watermark: EventTimestamp in epoch milliseconds (the commit condition compares it) |
//! | `wm_at` | S | the same instant, RFC 3339 UTC with milliseconds (exact value, readable) |
//! | `wm_ids` | L of S | watermark: the EventIds seen at that instant |
//! | `wm_n` | N | number of `wm_ids` (the commit condition compares it) |
//! | `last_seen` | S | latest EventTimestamp of any event, RFC 3339 UTC |
//! | `silent_since` | S | while the agent is `UNKNOWN`: when the silence began (absent otherwise) |
//! | `last_silence` | S | `silent_since` of the last silence the agent recovered from (absent if none) |
//! | `silenced_at` | S | while `UNKNOWN`: the clock of the sweep that committed it |
//! | `silenced_from` | S | while `UNKNOWN`: the state it replaced (the record's `previous_state`) |
//! | `seg_start`, `seg_id` | S, S | the open segment of the current state (feed.md `agent_activity`): its effective start and the `event_id` of the transition that opened it (absent in rows written before segments were kept) |
//! | `silenced_seg` | M | while `UNKNOWN`: the segment the silence closed: `reason`, `activity`, `contact` (as above, absent without one), `seg_start`, `seg_id` |
//! | `active_instance` | S | the instance id while the state is not `LOGOUT` (and the agent is inside the `agents` filter), absent otherwise: partition key of the sparse `active_by_instance` index the sweep queries |
//! | `profile` | S | fingerprint of the last `agent_profile` written, 16 hex digits (absent before the first) |
//! | `excluded` | BOOL | true while the agent is outside the mapping's `agents` filter (absent otherwise) |
//! | `stream_newest` | S | the newest event time of the agent's instance in the batch that wrote the row: the instance's progress, which the sweep reads from the listed rows (absent in rows the sweep wrote before it was kept) |
//!
//! The same table holds one more item, key [`PROGRESS_KEY`]: per Connect instance, the newest
//! event time processed (`progress_<instance id>`, N, epoch ms) and, while the sweep reports
//! the instance silent, its silence (`silence_<instance id>`, M: `since_ms`, `last_ms`,
//! `agents`). It has no `agent_id`: readers of agent items skip it by key.
//!
//! Timestamps are written with exactly three fractional digits (more only when the instant
//! carries sub-millisecond precision), so they read back to the same instant.
//!
//! Claim table, one item per claim (key `claim_id`): `status` (S, `IN_PROGRESS` or
//! `COMPLETED`), `lease_until` (N, epoch seconds, IN_PROGRESS only) and `expires_at` (N, epoch
//! seconds, the DynamoDB TTL attribute).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use connect_wfm_core::agent::{Activity, AgentState, ContactRef, OpenSegment, SilencedSegment, Watermark};
use connect_wfm_core::ports::PortError;

/// A DynamoDB item: attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

/// Key attribute of the agent-state table.
pub const AGENT_ARN: &str = "agent_arn";
/// Attribute of the agent id (the last segment of the agent ARN).
pub const AGENT_ID: &str = "agent_id";
/// Attribute of the login name: partition key of the `by_login` index.
pub const AGENT_LOGIN: &str = "agent_login";
const INSTANCE_ID: &str = "instance_id";
const STATE: &str = "state";
const REASON: &str = "reason";
const ACTIVITY: &str = "activity";
const SINCE: &str = "since";
const CONTACT: &str = "contact";
const CONTACT_ID: &str = "contact_id";
const CHANNEL: &str = "channel";
const INITIATION_METHOD: &str = "initiation_method";
const QUEUE: &str = "queue";
/// Watermark instant in epoch milliseconds (compared by the commit condition).
pub const WM_MS: &str = "wm_ms";
const WM_AT: &str = "wm_at";
const WM_IDS: &str = "wm_ids";
/// Number of watermark event ids (compared by the commit condition).
pub const WM_N: &str = "wm_n";
/// Latest EventTimestamp of any event (no index projects it: it changes with most commits).
pub const LAST_SEEN: &str = "last_seen";
/// While the agent is `UNKNOWN`: when the silence began (compared by the commit condition).
pub const SILENT_SINCE: &str = "silent_since";
/// While `UNKNOWN`: the clock of the sweep that committed it.
pub const SILENCED_AT: &str = "silenced_at";
/// While `UNKNOWN`: the state it replaced.
pub const SILENCED_FROM: &str = "silenced_from";
const LAST_SILENCE: &str = "last_silence";
const SEG_START: &str = "seg_start";
const SEG_ID: &str = "seg_id";
const SILENCED_SEG: &str = "silenced_seg";
/// Fingerprint of the last `agent_profile` written: 16 hex digits.
const PROFILE: &str = "profile";
const STREAM_NEWEST: &str = "stream_newest";
/// True while the agent is outside the mapping's `agents` filter (absent otherwise).
const EXCLUDED: &str = "excluded";
/// The instance id of an agent that is not logged out: partition key of the sparse
/// `active_by_instance` index.
pub const ACTIVE_INSTANCE: &str = "active_instance";
/// The WFM state whose agents leave the `active_by_instance` index.
pub const LOGGED_OUT_STATE: &str = connect_wfm_core::agent::LOGGED_OUT;
/// Key (`agent_arn`) of the item holding every instance's progress and silence.
pub const PROGRESS_KEY: &str = "#progress";

/// Key attribute of the claim table.
pub const CLAIM_ID: &str = "claim_id";
/// Claim status attribute (`status` is a DynamoDB reserved word: use `#status` in expressions).
pub const STATUS: &str = "status";
/// End of an IN_PROGRESS claim's lease, epoch seconds.
pub const LEASE_UNTIL: &str = "lease_until";
/// The TTL attribute of the claim table, epoch seconds.
pub const EXPIRES_AT: &str = "expires_at";
/// `status` of a claim being worked on.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
/// `status` of a claim whose work is done.
pub const COMPLETED: &str = "COMPLETED";

/// A stored item that cannot be read back, naming the table, the item's key and the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table {table}, item {key}: attribute `{attribute}` {problem}")]
pub struct ItemError {
    pub table: String,
    /// `name=value` of the item's key.
    pub key: String,
    pub attribute: String,
    pub problem: String,
}

impl ItemError {
    /// As a port error: not retryable, reading the same item again gives the same answer.
    pub fn into_port_error(self, operation: impl Into<String>) -> PortError {
        PortError::new(operation, self.to_string(), false)
    }
}

/// Formats an instant as stored: RFC 3339, UTC, `Z`, milliseconds (finer only when present).
pub fn stored_time(at: &DateTime<Utc>) -> String {
    let format = if at.timestamp_subsec_nanos() % 1_000_000 == 0 {
        SecondsFormat::Millis
    } else {
        SecondsFormat::AutoSi
    };
    at.to_rfc3339_opts(format, true)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The key of an agent's item.
pub fn agent_key(agent_arn: &str) -> Item {
    HashMap::from([(AGENT_ARN.to_owned(), s(agent_arn))])
}

/// The item of an agent state.
pub fn agent_state_to_item(state: &AgentState) -> Item {
    let (wm_ms, wm_n) = state.watermark.order_key();
    let mut item = HashMap::from([
        (AGENT_ARN.to_owned(), s(&state.agent_arn)),
        (AGENT_ID.to_owned(), s(&state.agent_id)),
        (INSTANCE_ID.to_owned(), s(&state.instance_id)),
        (STATE.to_owned(), s(&state.state)),
        (REASON.to_owned(), s(&state.reason)),
        (ACTIVITY.to_owned(), s(state.activity.as_str())),
        (SINCE.to_owned(), s(stored_time(&state.since))),
        (WM_MS.to_owned(), n(wm_ms)),
        (WM_AT.to_owned(), s(stored_time(&state.watermark.at))),
        (
            WM_IDS.to_owned(),
            AttributeValue::L(state.watermark.event_ids.iter().map(s).collect()),
        ),
        (WM_N.to_owned(), n(wm_n)),
        (LAST_SEEN.to_owned(), s(stored_time(&state.last_seen))),
    ]);
    // An empty string cannot be a key of the `by_login` index: treat it as unknown.
    if let Some(login) = state.agent_login.as_deref().filter(|l| !l.is_empty()) {
        item.insert(AGENT_LOGIN.to_owned(), s(login));
    }
    // An agent outside the filter is passed by like one logged out.
    if state.is_listed() {
        item.insert(ACTIVE_INSTANCE.to_owned(), s(&state.instance_id));
    }
    if let Some(profile) = state.profile {
        item.insert(PROFILE.to_owned(), s(format!("{profile:016x}")));
    }
    if state.excluded {
        item.insert(EXCLUDED.to_owned(), AttributeValue::Bool(true));
    }
    if let Some(newest) = &state.stream_newest {
        item.insert(STREAM_NEWEST.to_owned(), s(stored_time(newest)));
    }
    if let Some(since) = &state.silent_since {
        item.insert(SILENT_SINCE.to_owned(), s(stored_time(since)));
    }
    if let Some(since) = &state.last_silence {
        item.insert(LAST_SILENCE.to_owned(), s(stored_time(since)));
    }
    if let Some(at) = &state.silenced_at {
        item.insert(SILENCED_AT.to_owned(), s(stored_time(at)));
    }
    if let Some(from) = &state.silenced_from {
        item.insert(SILENCED_FROM.to_owned(), s(from));
    }
    if let Some(contact) = &state.contact {
        item.insert(CONTACT.to_owned(), contact_value(contact));
    }
    if let Some(segment) = &state.segment {
        insert_segment(&mut item, segment);
    }
    if let Some(silenced) = &state.silenced_segment {
        let mut map = HashMap::from([
            (REASON.to_owned(), s(&silenced.reason)),
            (ACTIVITY.to_owned(), s(silenced.activity.as_str())),
        ]);
        if let Some(contact) = &silenced.contact {
            map.insert(CONTACT.to_owned(), contact_value(contact));
        }
        insert_segment(&mut map, &silenced.segment);
        item.insert(SILENCED_SEG.to_owned(), AttributeValue::M(map));
    }
    item
}

fn insert_segment(item: &mut Item, segment: &OpenSegment) {
    item.insert(SEG_START.to_owned(), s(stored_time(&segment.start)));
    item.insert(SEG_ID.to_owned(), s(&segment.id));
}

fn contact_value(contact: &ContactRef) -> AttributeValue {
    let mut map = HashMap::from([
        (CONTACT_ID.to_owned(), s(&contact.contact_id)),
        (CHANNEL.to_owned(), s(&contact.channel)),
        (INITIATION_METHOD.to_owned(), s(&contact.initiation_method)),
    ]);
    if let Some(queue) = &contact.queue {
        map.insert(QUEUE.to_owned(), s(queue));
    }
    AttributeValue::M(map)
}

/// Reads one item's attributes, naming the table, key and attribute in every error.
pub(crate) struct ItemReader<'a> {
    table: &'a str,
    key: String,
    item: &'a Item,
    /// Prefix of attribute names inside a nested map (`contact.`).
    path: &'static str,
}

impl<'a> ItemReader<'a> {
    pub(crate) fn new(table: &'a str, key_name: &str, item: &'a Item) -> Self {
        let key = match item.get(key_name) {
            Some(AttributeValue::S(value)) => format!("{key_name}={value}"),
            _ => format!("{key_name}=?"),
        };
        Self {
            table,
            key,
            item,
            path: "",
        }
    }

    fn nested(&self, path: &'static str, item: &'a Item) -> Self {
        Self {
            table: self.table,
            key: self.key.clone(),
            item,
            path,
        }
    }

    pub(crate) fn error(&self, attribute: &str, problem: impl Into<String>) -> ItemError {
        ItemError {
            table: self.table.to_owned(),
            key: self.key.clone(),
            attribute: format!("{}{attribute}", self.path),
            problem: problem.into(),
        }
    }

    fn get(&self, name: &str) -> Result<&'a AttributeValue, ItemError> {
        self.item.get(name).ok_or_else(|| self.error(name, "is missing"))
    }

    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ItemError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(other) => Err(self.error(name, format!("is not a string: {other:?}"))),
        }
    }

    pub(crate) fn string(&self, name: &str) -> Result<&'a str, ItemError> {
        self.opt_string(name)?.ok_or_else(|| self.error(name, "is missing"))
    }

    pub(crate) fn opt_number(&self, name: &str) -> Result<Option<i64>, ItemError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| self.error(name, format!("is not an integer: {value}"))),
            Some(other) => Err(self.error(name, format!("is not a number: {other:?}"))),
        }
    }

    pub(crate) fn number(&self, name: &str) -> Result<i64, ItemError> {
        self.opt_number(name)?.ok_or_else(|| self.error(name, "is missing"))
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, ItemError> {
        self.opt_time(name)?.ok_or_else(|| self.error(name, "is missing"))
    }

    fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ItemError> {
        let Some(text) = self.opt_string(name)? else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| self.error(name, format!("is not an RFC 3339 timestamp ({e}): {text}")))
    }

    fn string_list(&self, name: &str) -> Result<Vec<String>, ItemError> {
        match self.get(name)? {
            AttributeValue::L(values) => values
                .iter()
                .map(|v| match v {
                    AttributeValue::S(id) => Ok(id.clone()),
                    other => Err(self.error(name, format!("holds a non-string: {other:?}"))),
                })
                .collect(),
            other => Err(self.error(name, format!("is not a list: {other:?}"))),
        }
    }
}

/// The agent state stored in `item` of `table`.
pub fn agent_state_from_item(table: &str, item: &Item) -> Result<AgentState, ItemError> {
    let r = ItemReader::new(table, AGENT_ARN, item);
    let activity = read_activity(&r)?;
    let contact = read_contact(&r, "contact.")?;
    let silenced_segment = match item.get(SILENCED_SEG) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::M(map)) => {
            let m = r.nested("silenced_seg.", map);
            Some(SilencedSegment {
                reason: m.string(REASON)?.to_owned(),
                activity: read_activity(&m)?,
                contact: read_contact(&m, "silenced_seg.contact.")?,
                segment: read_segment(&m)?.ok_or_else(|| m.error(SEG_START, "is missing"))?,
            })
        }
        Some(other) => return Err(r.error(SILENCED_SEG, format!("is not a map: {other:?}"))),
    };
    let watermark = Watermark {
        at: r.time(WM_AT)?,
        event_ids: r.string_list(WM_IDS)?,
    };
    // The condition of the next commit compares wm_ms and wm_n: they must agree with the rest.
    let (ms, count) = watermark.order_key();
    if r.number(WM_MS)? != ms {
        return Err(r.error(WM_MS, format!("disagrees with {WM_AT} ({ms})")));
    }
    if r.number(WM_N)? != count as i64 {
        return Err(r.error(WM_N, format!("disagrees with {WM_IDS} ({count} ids)")));
    }
    Ok(AgentState {
        stream_newest: r.opt_time(STREAM_NEWEST)?,
        agent_arn: r.string(AGENT_ARN)?.to_owned(),
        agent_id: r.string(AGENT_ID)?.to_owned(),
        instance_id: r.string(INSTANCE_ID)?.to_owned(),
        agent_login: r.opt_string(AGENT_LOGIN)?.map(str::to_owned),
        state: r.string(STATE)?.to_owned(),
        reason: r.string(REASON)?.to_owned(),
        activity,
        since: r.time(SINCE)?,
        contact,
        watermark,
        last_seen: r.time(LAST_SEEN)?,
        silent_since: r.opt_time(SILENT_SINCE)?,
        last_silence: r.opt_time(LAST_SILENCE)?,
        silenced_at: r.opt_time(SILENCED_AT)?,
        silenced_from: r.opt_string(SILENCED_FROM)?.map(str::to_owned),
        segment: read_segment(&r)?,
        silenced_segment,
        profile: match r.opt_string(PROFILE)? {
            Some(hex) => Some(
                u64::from_str_radix(hex, 16).map_err(|_| r.error(PROFILE, format!("is not 16 hex digits: {hex}")))?,
            ),
            None => None,
        },
        excluded: match item.get(EXCLUDED) {
            None | Some(AttributeValue::Null(_)) => false,
            Some(AttributeValue::Bool(excluded)) => *excluded,
            Some(other) => return Err(r.error(EXCLUDED, format!("is not a boolean: {other:?}"))),
        },
    })
}

fn read_activity(r: &ItemReader<'_>) -> Result<Activity, ItemError> {
    match r.string(ACTIVITY)? {
        "Open" => Ok(Activity::Open),
        "Closed" => Ok(Activity::Closed),
        other => Err(r.error(ACTIVITY, format!("is neither Open nor Closed: {other}"))),
    }
}

/// The `contact` map of `r`'s item; `path` names it in errors.
fn read_contact(r: &ItemReader<'_>, path: &'static str) -> Result<Option<ContactRef>, ItemError> {
    match r.item.get(CONTACT) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::M(map)) => {
            let c = r.nested(path, map);
            Ok(Some(ContactRef {
                contact_id: c.string(CONTACT_ID)?.to_owned(),
                channel: c.string(CHANNEL)?.to_owned(),
                initiation_method: c.string(INITIATION_METHOD)?.to_owned(),
                queue: c.opt_string(QUEUE)?.map(str::to_owned),
            }))
        }
        Some(other) => Err(r.error(CONTACT, format!("is not a map: {other:?}"))),
    }
}

/// `seg_start` and `seg_id`, both or neither.
fn read_segment(r: &ItemReader<'_>) -> Result<Option<OpenSegment>, ItemError> {
    match (r.opt_time(SEG_START)?, r.opt_string(SEG_ID)?) {
        (Some(start), Some(id)) => Ok(Some(OpenSegment {
            start,
            id: id.to_owned(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(r.error(SEG_ID, "is missing while seg_start is set")),
        (None, Some(_)) => Err(r.error(SEG_START, "is missing while seg_id is set")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sample() -> AgentState {
        AgentState {
            stream_newest: Some(at("2026-01-02T03:05:00Z")),
            agent_arn: "arn:aws:connect:us-east-1:1:instance/i-1/agent/a-1".into(),
            agent_id: "a-1".into(),
            instance_id: "i-1".into(),
            agent_login: Some("jdoe".into()),
            state: "VOICE-INBOUND-CONNECTED".into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: at("2026-01-02T03:04:05Z"),
            contact: Some(ContactRef {
                contact_id: "c-1".into(),
                channel: "VOICE".into(),
                initiation_method: "INBOUND".into(),
                queue: None,
            }),
            watermark: Watermark {
                at: at("2026-01-02T03:04:05.017Z"),
                event_ids: vec!["e1".into(), "e2".into()],
            },
            last_seen: at("2026-01-02T03:04:05.123456Z"),
            silent_since: None,
            last_silence: None,
            silenced_at: None,
            silenced_from: None,
            segment: Some(OpenSegment {
                start: at("2026-01-02T03:04:05.678Z"),
                id: "e-1".into(),
            }),
            silenced_segment: None,
            profile: None,
            excluded: false,
        }
    }

    #[test]
    fn round_trips_every_field() {
        let state = sample();
        let item = agent_state_to_item(&state);
        assert_eq!(item[WM_MS], AttributeValue::N("1767323045017".into()));
        assert_eq!(item[WM_N], AttributeValue::N("2".into()));
        assert_eq!(item[WM_AT], AttributeValue::S("2026-01-02T03:04:05.017Z".into()));
        assert_eq!(item[SINCE], AttributeValue::S("2026-01-02T03:04:05.000Z".into()));
        assert!(!matches!(&item[CONTACT], AttributeValue::M(m) if m.contains_key(QUEUE)));
        assert_eq!(agent_state_from_item("t", &item).unwrap(), state);

        let bare = AgentState {
            agent_login: None,
            contact: None,
            ..sample()
        };
        let item = agent_state_to_item(&bare);
        assert!(!item.contains_key(AGENT_LOGIN) && !item.contains_key(CONTACT));
        assert_eq!(agent_state_from_item("t", &item).unwrap(), bare);
    }

    #[test]
    fn silence_round_trips_and_only_logged_in_agents_are_active() {
        let silent = AgentState {
            state: "UNKNOWN".into(),
            silent_since: Some(at("2026-01-02T03:09:05.123Z")),
            last_silence: Some(at("2026-01-01T00:05:00Z")),
            silenced_at: Some(at("2026-01-02T03:09:10Z")),
            silenced_from: Some("Available".into()),
            segment: Some(OpenSegment {
                start: at("2026-01-02T03:09:05.123Z"),
                id: "silence-a-1-1".into(),
            }),
            silenced_segment: Some(SilencedSegment {
                reason: "Open".into(),
                activity: Activity::Open,
                contact: Some(ContactRef {
                    contact_id: "c-1".into(),
                    channel: "VOICE".into(),
                    initiation_method: "INBOUND".into(),
                    queue: None,
                }),
                segment: OpenSegment {
                    start: at("2026-01-02T03:00:00Z"),
                    id: "e-7".into(),
                },
            }),
            ..sample()
        };
        let item = agent_state_to_item(&silent);
        assert_eq!(item[SILENT_SINCE], AttributeValue::S("2026-01-02T03:09:05.123Z".into()));
        assert_eq!(item[ACTIVE_INSTANCE], AttributeValue::S("i-1".into()));
        assert_eq!(agent_state_from_item("t", &item).unwrap(), silent);
        let out = AgentState {
            state: LOGGED_OUT_STATE.into(),
            ..sample()
        };
        let item = agent_state_to_item(&out);
        assert!(!item.contains_key(ACTIVE_INSTANCE) && !item.contains_key(SILENT_SINCE));
    }

    #[test]
    fn an_empty_login_is_not_stored() {
        let state = AgentState {
            agent_login: Some(String::new()),
            ..sample()
        };
        assert!(!agent_state_to_item(&state).contains_key(AGENT_LOGIN));
    }

    #[test]
    fn malformed_items_name_table_key_and_attribute() {
        let mut item = agent_state_to_item(&sample());
        item.insert(WM_MS.into(), AttributeValue::S("soon".into()));
        let err = agent_state_from_item("states", &item).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table states, item agent_arn=arn:aws:connect:us-east-1:1:instance/i-1/agent/a-1: \
             attribute `wm_ms` is not a number: S(\"soon\")"
        );

        let mut item = agent_state_to_item(&sample());
        item.remove(STATE);
        assert_eq!(agent_state_from_item("t", &item).unwrap_err().attribute, "state");

        let mut item = agent_state_to_item(&sample());
        item.insert(CONTACT.into(), AttributeValue::M(HashMap::new()));
        assert_eq!(
            agent_state_from_item("t", &item).unwrap_err().attribute,
            "contact.contact_id"
        );

        let mut item = agent_state_to_item(&sample());
        item.insert(WM_N.into(), AttributeValue::N("3".into()));
        assert_eq!(agent_state_from_item("t", &item).unwrap_err().attribute, "wm_n");

        let mut item = agent_state_to_item(&sample());
        item.insert(SINCE.into(), AttributeValue::S("yesterday".into()));
        assert_eq!(agent_state_from_item("t", &item).unwrap_err().attribute, "since");
    }
}

/// An item as DynamoDB JSON (`{"attr": {"S": "..."}}`): how an item that cannot be read is kept
/// under rejects, exactly as stored.
pub fn item_to_json(item: &Item) -> serde_json::Value {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    serde_json::Value::Object(
        names
            .into_iter()
            .map(|name| (name.clone(), attribute_to_json(&item[name])))
            .collect(),
    )
}

fn attribute_to_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::json;
    let b64 = |b: &aws_smithy_types::Blob| aws_smithy_types::base64::encode(b.as_ref());
    match value {
        AttributeValue::S(v) => json!({ "S": v }),
        AttributeValue::N(v) => json!({ "N": v }),
        AttributeValue::Bool(v) => json!({ "BOOL": v }),
        AttributeValue::Null(v) => json!({ "NULL": v }),
        AttributeValue::B(v) => json!({ "B": b64(v) }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_to_json).collect::<Vec<_>>() }),
        AttributeValue::M(v) => json!({ "M": item_to_json(v) }),
        _ => json!({ "UNKNOWN": format!("{value:?}") }),
    }
}

/// How an unreadable item's watermark attributes looked when it was read: the version token
/// that lets a replacement overwrite exactly that item (see
/// [`crate::DynamoStateStore`]'s `replace_unreadable`). Per attribute: absent, a string or
/// number value, or only its type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoredAttribute {
    Absent,
    S(String),
    N(String),
    Type(String),
}

impl StoredAttribute {
    fn of(item: &Item, name: &str) -> Self {
        match item.get(name) {
            None => Self::Absent,
            Some(AttributeValue::S(v)) => Self::S(v.clone()),
            Some(AttributeValue::N(v)) => Self::N(v.clone()),
            Some(other) => Self::Type(attribute_type(other).to_owned()),
        }
    }

    /// A condition true while attribute `#name` still looks like this; `placeholder` names the
    /// value in the expression.
    pub fn condition(&self, name: &str, placeholder: &str) -> (String, Option<AttributeValue>) {
        match self {
            Self::Absent => (format!("attribute_not_exists({name})"), None),
            Self::S(v) => (format!("{name} = {placeholder}"), Some(AttributeValue::S(v.clone()))),
            Self::N(v) => (format!("{name} = {placeholder}"), Some(AttributeValue::N(v.clone()))),
            Self::Type(t) => (
                format!("attribute_type({name}, {placeholder})"),
                Some(AttributeValue::S(t.clone())),
            ),
        }
    }
}

fn attribute_type(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
        _ => "M",
    }
}

/// The version token of an unreadable agent-state item: its watermark attributes as read.
pub fn unreadable_version(item: &Item) -> String {
    let version = (StoredAttribute::of(item, WM_MS), StoredAttribute::of(item, WM_N));
    serde_json::to_string(&version).expect("a version token serialises")
}

/// The watermark attributes of a version token made by [`unreadable_version`].
pub fn parse_unreadable_version(token: &str) -> Option<(StoredAttribute, StoredAttribute)> {
    serde_json::from_str(token).ok()
}
