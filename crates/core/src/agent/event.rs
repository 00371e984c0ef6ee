//! The Amazon Connect agent event: its typed model and the decoding of one Kinesis record.
//!
//! Decoding is strict about what identifies and orders an event (AgentARN, InstanceARN,
//! EventId, EventTimestamp, EventType, Version) and lenient about the snapshots: unknown fields
//! are ignored, `null` and absent mean the same, and a nested timestamp that does not parse is
//! treated as absent, so one odd field in a snapshot never costs the agent its state.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The largest data of a Kinesis record (1 MiB); larger input is not an agent event.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The agent event stream versions this decoder understands.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["2017-10-01", "2019-05-25"];

/// EventType of an agent event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    StateChange,
    HeartBeat,
    Login,
    Logout,
}

impl EventType {
    /// Every event type, in the order of the Connect documentation.
    pub const ALL: [EventType; 4] = [
        EventType::StateChange,
        EventType::HeartBeat,
        EventType::Login,
        EventType::Logout,
    ];

    /// The name Connect uses: `STATE_CHANGE`, `HEART_BEAT`, `LOGIN`, `LOGOUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::StateChange => "STATE_CHANGE",
            EventType::HeartBeat => "HEART_BEAT",
            EventType::Login => "LOGIN",
            EventType::Logout => "LOGOUT",
        }
    }

    /// The event type Connect names `name` (exact, upper case), if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Amazon Connect agent event (either Version). Field names serialise as Connect spells
/// them, so a serialised event decodes again with [`decode_agent_event`], the checked entry
/// point for untrusted bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    #[serde(rename = "AWSAccountId", default, skip_serializing_if = "Option::is_none")]
    pub aws_account_id: Option<String>,
    #[serde(rename = "AgentARN")]
    pub agent_arn: String,
    #[serde(rename = "InstanceARN")]
    pub instance_arn: String,
    #[serde(rename = "EventId")]
    pub event_id: String,
    #[serde(
        rename = "EventTimestamp",
        serialize_with = "crate::timefmt::serde_feed_time::serialize"
    )]
    pub event_timestamp: DateTime<Utc>,
    #[serde(rename = "EventType")]
    pub event_type: EventType,
    #[serde(rename = "Version")]
    pub version: String,
    /// CurrentAgentSnapshot: absent or `null` on some events (e.g. LOGOUT).
    #[serde(rename = "CurrentAgentSnapshot", default)]
    pub current: Option<AgentSnapshot>,
    /// PreviousAgentSnapshot.
    #[serde(rename = "PreviousAgentSnapshot", default)]
    pub previous: Option<AgentSnapshot>,
}

impl AgentEvent {
    /// The agent id: last segment of AgentARN.
    pub fn agent_id(&self) -> &str {
        last_segment(&self.agent_arn)
    }

    /// The Connect instance id: last segment of InstanceARN.
    pub fn instance_id(&self) -> &str {
        last_segment(&self.instance_arn)
    }

    /// The agent's login name: Configuration.Username of the current snapshot, else of the
    /// previous one (a LOGOUT may carry only the previous).
    pub fn login(&self) -> Option<&str> {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find_map(|snapshot| snapshot.username())
    }
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, last)| last)
}

/// CurrentAgentSnapshot or PreviousAgentSnapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentSnapshot {
    #[serde(default)]
    pub agent_status: Option<AgentStatus>,
    /// The status the agent chose while on a contact, entered when the contact leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_agent_status: Option<NextAgentStatus>,
    #[serde(default)]
    pub configuration: Option<AgentConfiguration>,
    /// Contacts the agent holds; `null` or absent decode as empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub contacts: Vec<Contact>,
}

impl AgentSnapshot {
    /// Configuration.Username, when present and not empty.
    pub fn username(&self) -> Option<&str> {
        self.configuration
            .as_ref()
            .and_then(|c| c.username.as_deref())
            .filter(|name| !name.is_empty())
    }
}

/// AgentStatus of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentStatus {
    #[serde(rename = "ARN", default)]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// ROUTABLE, CUSTOM or OFFLINE; absent in older events.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, with = "lenient_time")]
    pub start_timestamp: Option<DateTime<Utc>>,
}

/// NextAgentStatus of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NextAgentStatus {
    #[serde(rename = "ARN", default)]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, with = "lenient_time")]
    pub enqueued_timestamp: Option<DateTime<Utc>>,
}

/// The part of Configuration the connector uses (names and routing profile are personal or
/// irrelevant to WFM and are not kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentConfiguration {
    #[serde(default)]
    pub username: Option<String>,
}

/// One contact of a snapshot. Channel, InitiationMethod and State stay strings: Connect adds
/// values (EMAIL, WEBRTC_API, ...) and a new one must not make an event undecodable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    #[serde(default, deserialize_with = "null_as_default")]
    pub contact_id: String,
    #[serde(default)]
    pub initial_contact_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub channel: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub initiation_method: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: String,
    #[serde(default, with = "lenient_time")]
    pub state_start_timestamp: Option<DateTime<Utc>>,
    #[serde(default, with = "lenient_time")]
    pub connected_to_agent_timestamp: Option<DateTime<Utc>>,
    #[serde(default, with = "lenient_time")]
    pub queue_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub queue: Option<QueueRef>,
}

/// The Queue of a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueRef {
    #[serde(rename = "ARN", default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Why a record is not a usable agent event. The Display names the problem; it is logged and
/// written to the rejects location beside the raw record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes: larger than a Kinesis record can be ({MAX_EVENT_BYTES} bytes)")]
    TooLarge(usize),
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("not an agent event: a JSON {0}, expected an object")]
    NotAnObject(&'static str),
    #[error("a contact trace record (CTR), not an agent event")]
    ContactTraceRecord,
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` is a JSON {found}, expected a string")]
    NotAString { field: &'static str, found: &'static str },
    #[error("field `{0}` is empty")]
    EmptyField(&'static str),
    #[error("unknown EventType `{0}` (expected STATE_CHANGE, HEART_BEAT, LOGIN or LOGOUT)")]
    UnknownEventType(String),
    #[error("unknown Version `{0}` (supported: 2017-10-01, 2019-05-25)")]
    UnknownVersion(String),
    #[error("{field} `{value}` is not an ISO 8601 timestamp")]
    BadTimestamp { field: &'static str, value: String },
    #[error("{field}: {error}")]
    BadSnapshot {
        field: &'static str,
        error: serde_json::Error,
    },
}

/// Decodes one record's bytes into an agent event, or says why it is not one.
///
/// A contact trace record (CTR) shared on the stream is recognised and reported as such: it
/// has `AWSContactTraceRecordFormatVersion`, or `ContactId` and `Channel` at the top level and
/// no `EventType`.
pub fn decode_agent_event(bytes: &[u8]) -> Result<AgentEvent, DecodeError> {
    // Nothing larger comes off a Kinesis stream: such data was put there another way, and
    // parsing it would only cost memory.
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    // Some producers prepend a UTF-8 BOM; it is not part of the JSON text.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match decode_well_formed(bytes) {
        Some(event) => Ok(event),
        None => decode_checked(bytes),
    }
}

/// The full path of [`decode_agent_event`]: the record as a JSON value, every field checked,
/// the first problem named.
fn decode_checked(bytes: &[u8]) -> Result<AgentEvent, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(DecodeError::NotJson)?;
    let mut fields = match value {
        Value::Object(fields) => fields,
        other => return Err(DecodeError::NotAnObject(json_kind(&other))),
    };
    if is_contact_trace_record(&fields) {
        return Err(DecodeError::ContactTraceRecord);
    }

    let event_type = required_str(&fields, "EventType")?;
    let event_type =
        EventType::parse(event_type).ok_or_else(|| DecodeError::UnknownEventType(event_type.to_owned()))?;
    let version = required_str(&fields, "Version")?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(DecodeError::UnknownVersion(version.to_owned()));
    }
    let version = version.to_owned();
    let agent_arn = required_str(&fields, "AgentARN")?.to_owned();
    let instance_arn = required_str(&fields, "InstanceARN")?.to_owned();
    let event_id = required_str(&fields, "EventId")?.to_owned();
    let timestamp = required_str(&fields, "EventTimestamp")?;
    let event_timestamp = parse_timestamp(timestamp).ok_or_else(|| DecodeError::BadTimestamp {
        field: "EventTimestamp",
        value: timestamp.to_owned(),
    })?;
    // The account id is informational: keep it when it is text or a number, never reject for it.
    let aws_account_id = match fields.get("AWSAccountId") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let current = snapshot(&mut fields, "CurrentAgentSnapshot")?;
    let previous = snapshot(&mut fields, "PreviousAgentSnapshot")?;

    Ok(AgentEvent {
        aws_account_id,
        agent_arn,
        instance_arn,
        event_id,
        event_timestamp,
        event_type,
        version,
        current,
        previous,
    })
}

/// The fast path of [`decode_agent_event`] for what the stream nearly always carries, a
/// well-formed agent event: the top level is read as raw JSON slices and the snapshots are
/// deserialised straight into their types, so no `Value` tree is built. Anything unusual
/// (a missing or mistyped field, an unknown EventType or Version, a CTR, bad JSON) gives
/// `None`, and the full path then decodes the record again and says exactly what is wrong,
/// so both paths accept the same events and the errors come from one place.
fn decode_well_formed(bytes: &[u8]) -> Option<AgentEvent> {
    use std::borrow::Cow;

    use serde_json::value::RawValue;

    /// The fields the connector reads, as raw JSON; every other field is skipped unparsed.
    /// (A duplicated field fails here and goes the full way, where the last one wins.)
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Fields<'a> {
        #[serde(borrow, rename = "AWSAccountId")]
        aws_account_id: Option<&'a RawValue>,
        #[serde(borrow, rename = "AgentARN")]
        agent_arn: Option<&'a RawValue>,
        #[serde(borrow, rename = "InstanceARN")]
        instance_arn: Option<&'a RawValue>,
        #[serde(borrow)]
        event_id: Option<&'a RawValue>,
        #[serde(borrow)]
        event_timestamp: Option<&'a RawValue>,
        #[serde(borrow)]
        event_type: Option<&'a RawValue>,
        #[serde(borrow)]
        version: Option<&'a RawValue>,
        #[serde(borrow)]
        current_agent_snapshot: Option<&'a RawValue>,
        #[serde(borrow)]
        previous_agent_snapshot: Option<&'a RawValue>,
        #[serde(borrow, rename = "AWSContactTraceRecordFormatVersion")]
        ctr_version: Option<&'a RawValue>,
    }

    let fields: Fields<'_> = serde_json::from_slice(bytes).ok()?;
    if fields.ctr_version.is_some() {
        return None;
    }
    let text = |raw: Option<&'_ RawValue>| -> Option<Cow<'_, str>> {
        serde_json::from_str::<Cow<'_, str>>(raw?.get())
            .ok()
            .filter(|t| !t.is_empty())
    };
    let event_type = EventType::parse(&text(fields.event_type)?)?;
    let version = text(fields.version)?;
    if !SUPPORTED_VERSIONS.contains(&version.as_ref()) {
        return None;
    }
    let event_timestamp = parse_timestamp(&text(fields.event_timestamp)?)?;
    let aws_account_id = match fields.aws_account_id {
        None => None,
        Some(raw) => match serde_json::from_str::<Value>(raw.get()).ok()? {
            Value::String(id) => Some(id),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        },
    };
    let snapshot = |raw: Option<&RawValue>| -> Option<Option<AgentSnapshot>> {
        match raw {
            None => Some(None),
            Some(raw) if raw.get() == "null" => Some(None),
            Some(raw) => serde_json::from_str::<AgentSnapshot>(raw.get()).ok().map(Some),
        }
    };
    Some(AgentEvent {
        aws_account_id,
        agent_arn: text(fields.agent_arn)?.into_owned(),
        instance_arn: text(fields.instance_arn)?.into_owned(),
        event_id: text(fields.event_id)?.into_owned(),
        event_timestamp,
        event_type,
        version: version.into_owned(),
        current: snapshot(fields.current_agent_snapshot)?,
        previous: snapshot(fields.previous_agent_snapshot)?,
    })
}

fn is_contact_trace_record(fields: &Map<String, Value>) -> bool {
    fields.contains_key("AWSContactTraceRecordFormatVersion")
        || (!fields.contains_key("EventType") && fields.contains_key("ContactId") && fields.contains_key("Channel"))
}

fn required_str<'a>(fields: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, DecodeError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(DecodeError::MissingField(field)),
        Some(Value::String(text)) if text.is_empty() => Err(DecodeError::EmptyField(field)),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(DecodeError::NotAString {
            field,
            found: json_kind(other),
        }),
    }
}

fn snapshot(fields: &mut Map<String, Value>, field: &'static str) -> Result<Option<AgentSnapshot>, DecodeError> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => AgentSnapshot::deserialize(value)
            .map(Some)
            .map_err(|error| DecodeError::BadSnapshot { field, error }),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses an ISO 8601 timestamp with an offset (`Z`, `+00:00` or `+0000`), as Connect writes
/// them, into UTC. A timestamp without an offset is ambiguous and refused.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// `null` decodes as the type's default (Connect writes `null` for empty strings and lists).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Optional snapshot timestamps: written like the feed's, read leniently (absent, `null`, a
/// non-string or an unparseable string all mean "not known").
mod lenient_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&crate::timefmt::feed_timestamp(at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(text) => super::parse_timestamp(&text),
            _ => None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const HEARTBEAT: &str = include_str!("../../tests/fixtures/agent-event-01-heartbeat.json");
    pub(crate) const ENTER_ACW: &str = include_str!("../../tests/fixtures/agent-event-02-state-change-enter-acw.json");
    pub(crate) const LEAVE_ACW: &str = include_str!("../../tests/fixtures/agent-event-03-state-change-leave-acw.json");

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn error_of(json: &str) -> String {
        decode_agent_event(json.as_bytes()).unwrap_err().to_string()
    }

    /// A minimal valid event as a JSON object, to break one field at a time.
    fn minimal() -> Value {
        serde_json::json!({
            "AgentARN": "arn:aws:connect:eu-west-1:1:instance/i-1/agent/a-1",
            "InstanceARN": "arn:aws:connect:eu-west-1:1:instance/i-1",
            "EventId": "e-1",
            "EventTimestamp": "2026-11-20T10:15:00.123Z",
            "EventType": "LOGIN",
            "Version": "2019-05-25"
        })
    }

    fn error_with(field: &str, value: Option<Value>) -> String {
        let mut event = minimal();
        let object = event.as_object_mut().unwrap();
        match value {
            Some(value) => object.insert(field.to_owned(), value),
            None => object.remove(field),
        };
        error_of(&event.to_string())
    }

    #[test]
    fn the_fast_path_decodes_exactly_what_the_checked_path_decodes() {
        use crate::synthetic::{StreamSpec, agent_event_stream};
        let mut inputs: Vec<Vec<u8>> = [HEARTBEAT, ENTER_ACW, LEAVE_ACW]
            .map(|s| s.as_bytes().to_vec())
            .to_vec();
        for verbose in [false, true] {
            let spec = StreamSpec {
                records: 400,
                verbose,
                bad_permille: 100,
                ..StreamSpec::default()
            };
            inputs.extend(agent_event_stream(&spec));
        }
        let (mut fast, mut checked_only) = (0, 0);
        for input in &inputs {
            let checked = decode_checked(input);
            match decode_well_formed(input) {
                Some(event) => {
                    fast += 1;
                    assert_eq!(
                        Some(&event),
                        checked.as_ref().ok(),
                        "{}",
                        String::from_utf8_lossy(input)
                    );
                }
                None => checked_only += 1,
            }
        }
        assert!(
            fast > 700 && checked_only > 30,
            "fast {fast}, checked only {checked_only}"
        );
        // The records the fast path leaves all fail the checked path too: no event is lost.
        let lost = inputs
            .iter()
            .filter(|i| decode_well_formed(i).is_none() && decode_checked(i).is_ok())
            .count();
        assert_eq!(lost, 0);
    }

    #[test]
    fn data_larger_than_a_kinesis_record_is_refused_before_parsing() {
        let mut event = minimal();
        let padding = "x".repeat(MAX_EVENT_BYTES);
        event.as_object_mut().unwrap().insert("Padding".into(), padding.into());
        let error = error_of(&event.to_string());
        assert!(
            error.ends_with("larger than a Kinesis record can be (1048576 bytes)"),
            "{error}"
        );
        let mut fits = minimal().to_string().into_bytes();
        fits.resize(MAX_EVENT_BYTES, b' ');
        assert!(decode_agent_event(&fits).is_ok(), "exactly the limit is still an event");
    }

    #[test]
    fn decodes_the_heartbeat_sample_of_version_2017_10_01() {
        let event = decode_agent_event(HEARTBEAT.as_bytes()).unwrap();
        assert_eq!(event.event_type, EventType::HeartBeat);
        assert_eq!(event.version, "2017-10-01");
        assert_eq!(event.event_id, "EventId-1");
        assert_eq!(event.event_timestamp, at("2019-08-13T20:58:44.031Z"));
        assert_eq!(event.aws_account_id.as_deref(), Some("012345678901"));
        assert_eq!(event.agent_id(), "agent-ARN");
        assert_eq!(event.instance_id(), "aaaaaaaa-bbbb-cccc-dddd-111111111111");
        assert_eq!(event.login(), Some("aestest"));
        let current = event.current.as_ref().unwrap();
        let status = current.agent_status.as_ref().unwrap();
        assert_eq!(status.name, "Available");
        assert_eq!(status.type_, None);
        assert_eq!(status.arn.as_deref(), Some("example-ARN"));
        assert_eq!(status.start_timestamp, Some(at("2019-08-13T20:52:30.704Z")));
        let next = current.next_agent_status.as_ref().unwrap();
        assert_eq!(
            (next.name.as_str(), next.enqueued_timestamp),
            ("Lunch", Some(at("2019-08-13T20:58:00.004Z")))
        );
        assert!(current.contacts.is_empty());
        let previous = event.previous.as_ref().unwrap();
        assert_eq!(previous.agent_status.as_ref().unwrap().name, "Offline");
    }

    #[test]
    fn decodes_the_enter_acw_sample_with_its_contact() {
        let event = decode_agent_event(ENTER_ACW.as_bytes()).unwrap();
        assert_eq!(event.event_type, EventType::StateChange);
        assert_eq!(event.version, "2019-05-25");
        assert_eq!(event.event_timestamp, at("2019-05-25T18:55:27.017Z"));
        assert_eq!(event.login(), Some("(Removed)"));
        let contacts = &event.current.as_ref().unwrap().contacts;
        assert_eq!(contacts.len(), 1);
        let contact = &contacts[0];
        assert_eq!(contact.contact_id, "ContactId-1");
        assert_eq!(contact.initial_contact_id, None);
        assert_eq!(contact.channel, "VOICE");
        assert_eq!(contact.initiation_method, "OUTBOUND");
        assert_eq!(contact.state, "ENDED");
        assert_eq!(contact.state_start_timestamp, Some(at("2019-05-25T18:55:27.017Z")));
        assert_eq!(
            contact.connected_to_agent_timestamp,
            Some(at("2019-05-25T18:55:21.011Z"))
        );
        assert_eq!(contact.queue_timestamp, None);
        let queue = contact.queue.as_ref().unwrap();
        assert_eq!(queue.name.as_deref(), Some("BasicQueue"));
        assert!(
            queue
                .arn
                .as_deref()
                .unwrap()
                .ends_with("/queue/queue-ARN-for-BasicQueue")
        );
        assert_eq!(event.previous.as_ref().unwrap().contacts[0].state, "CONNECTED");
    }

    #[test]
    fn decodes_the_leave_acw_sample_with_no_current_contacts() {
        let event = decode_agent_event(LEAVE_ACW.as_bytes()).unwrap();
        assert_eq!(event.event_id, "477f2c4f-cd1a-4785-b1a8-97023dc1229d");
        assert_eq!(event.event_timestamp, at("2019-05-25T18:55:32.022Z"));
        assert!(event.current.as_ref().unwrap().contacts.is_empty());
        assert_eq!(event.previous.as_ref().unwrap().contacts[0].state, "ENDED");
    }

    #[test]
    fn a_serialised_event_decodes_to_itself() {
        for sample in [HEARTBEAT, ENTER_ACW, LEAVE_ACW] {
            let event = decode_agent_event(sample.as_bytes()).unwrap();
            let again = decode_agent_event(&serde_json::to_vec(&event).unwrap()).unwrap();
            assert_eq!(again, event);
        }
    }

    #[test]
    fn snapshots_may_be_null_or_absent_and_contacts_null() {
        let mut event = minimal();
        event["EventType"] = "LOGOUT".into();
        event["CurrentAgentSnapshot"] = Value::Null;
        event["PreviousAgentSnapshot"] = serde_json::json!({
            "Configuration": {"Username": "jdoe"},
            "Contacts": null,
            "AgentStatus": {"Name": "Available", "Type": "ROUTABLE", "StartTimestamp": null}
        });
        let event = decode_agent_event(event.to_string().as_bytes()).unwrap();
        assert_eq!(event.event_type, EventType::Logout);
        assert!(event.current.is_none());
        let previous = event.previous.as_ref().unwrap();
        assert!(previous.contacts.is_empty());
        assert_eq!(
            previous.agent_status.as_ref().unwrap().type_.as_deref(),
            Some("ROUTABLE")
        );
        assert_eq!(event.login(), Some("jdoe"), "login falls back to the previous snapshot");
        assert_eq!(event.aws_account_id, None);
        assert_eq!(event.agent_id(), "a-1");
        assert_eq!(event.instance_id(), "i-1");
    }

    #[test]
    fn login_prefers_the_current_snapshot_and_ignores_empty_names() {
        let mut event = minimal();
        event["CurrentAgentSnapshot"] = serde_json::json!({"Configuration": {"Username": "now"}});
        event["PreviousAgentSnapshot"] = serde_json::json!({"Configuration": {"Username": "before"}});
        assert_eq!(
            decode_agent_event(event.to_string().as_bytes()).unwrap().login(),
            Some("now")
        );
        event["CurrentAgentSnapshot"] = serde_json::json!({"Configuration": {"Username": ""}});
        assert_eq!(
            decode_agent_event(event.to_string().as_bytes()).unwrap().login(),
            Some("before")
        );
        event["PreviousAgentSnapshot"] = Value::Null;
        assert_eq!(decode_agent_event(event.to_string().as_bytes()).unwrap().login(), None);
    }

    #[test]
    fn a_bad_nested_timestamp_is_unknown_not_fatal() {
        let mut event = minimal();
        event["CurrentAgentSnapshot"] = serde_json::json!({
            "AgentStatus": {"Name": "Break", "StartTimestamp": "yesterday"},
            "Contacts": [{"ContactId": "c", "StateStartTimestamp": 17}]
        });
        let event = decode_agent_event(event.to_string().as_bytes()).unwrap();
        let current = event.current.unwrap();
        assert_eq!(current.agent_status.unwrap().start_timestamp, None);
        assert_eq!(current.contacts[0].state_start_timestamp, None);
    }

    #[test]
    fn accepts_offsets_and_a_bom_and_ignores_unknown_fields() {
        let mut event = minimal();
        event["EventTimestamp"] = "2026-11-20T11:15:00.123+0100".into();
        event["SomethingNew"] = serde_json::json!({"x": [1, 2]});
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(event.to_string().as_bytes());
        let event = decode_agent_event(&bytes).unwrap();
        assert_eq!(event.event_timestamp, at("2026-11-20T10:15:00.123Z"));
    }

    #[test]
    fn every_event_type_has_its_connect_name() {
        for (t, name) in EventType::ALL
            .into_iter()
            .zip(["STATE_CHANGE", "HEART_BEAT", "LOGIN", "LOGOUT"])
        {
            assert_eq!(t.as_str(), name);
            assert_eq!(EventType::parse(name), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), Value::from(name));
            let mut event = minimal();
            event["EventType"] = name.into();
            let decoded = decode_agent_event(event.to_string().as_bytes()).unwrap();
            assert_eq!(decoded.event_type, t);
        }
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(error_of("{oops"), "not JSON: key must be a string at line 1 column 2");
        assert_eq!(error_of(""), "not JSON: EOF while parsing a value at line 1 column 0");
        assert_eq!(error_of("x"), "not JSON: expected value at line 1 column 1");
        assert_eq!(
            error_of("[1, 2]"),
            "not an agent event: a JSON array, expected an object"
        );
        assert_eq!(
            error_of("\"hi\""),
            "not an agent event: a JSON string, expected an object"
        );
        assert_eq!(
            error_with("EventType", Some("FOO".into())),
            "unknown EventType `FOO` (expected STATE_CHANGE, HEART_BEAT, LOGIN or LOGOUT)"
        );
        assert_eq!(
            error_with("Version", Some("2030-01-01".into())),
            "unknown Version `2030-01-01` (supported: 2017-10-01, 2019-05-25)"
        );
        assert_eq!(error_with("EventId", None), "missing field `EventId`");
        assert_eq!(error_with("EventId", Some(Value::Null)), "missing field `EventId`");
        assert_eq!(error_with("EventId", Some("".into())), "field `EventId` is empty");
        assert_eq!(
            error_with("EventId", Some(7.into())),
            "field `EventId` is a JSON number, expected a string"
        );
        assert_eq!(error_with("EventType", None), "missing field `EventType`");
        assert_eq!(error_with("Version", None), "missing field `Version`");
        assert_eq!(error_with("AgentARN", None), "missing field `AgentARN`");
        assert_eq!(error_with("InstanceARN", None), "missing field `InstanceARN`");
        assert_eq!(
            error_with("EventTimestamp", Some("x".into())),
            "EventTimestamp `x` is not an ISO 8601 timestamp"
        );
        assert_eq!(
            error_with("EventTimestamp", Some("2026-11-20T10:15:00".into())),
            "EventTimestamp `2026-11-20T10:15:00` is not an ISO 8601 timestamp"
        );
        let bad_snapshot = error_with("CurrentAgentSnapshot", Some("x".into()));
        assert!(
            bad_snapshot.starts_with("CurrentAgentSnapshot: invalid type: string"),
            "{bad_snapshot}"
        );
        let bad_contacts = error_with("PreviousAgentSnapshot", Some(serde_json::json!({"Contacts": 3})));
        assert!(
            bad_contacts.starts_with("PreviousAgentSnapshot: invalid type: integer"),
            "{bad_contacts}"
        );
    }

    #[test]
    fn recognises_contact_trace_records() {
        let ctr = r#"{"AWSAccountId": "1", "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "Agent": null, "Channel": "VOICE", "ContactId": "c-1", "InitiationMethod": "INBOUND"}"#;
        assert_eq!(error_of(ctr), "a contact trace record (CTR), not an agent event");
        // A CTR without its format version is still recognised by its shape.
        let bare = r#"{"ContactId": "c-1", "Channel": "CHAT", "InitiationTimestamp": "2026-11-20T10:15:00Z"}"#;
        assert_eq!(error_of(bare), "a contact trace record (CTR), not an agent event");
        // An agent event is never mistaken for one.
        let mut event = minimal();
        event["ContactId"] = "c-1".into();
        event["Channel"] = "VOICE".into();
        assert!(decode_agent_event(event.to_string().as_bytes()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_agent_event(&bytes);
        }

        #[test]
        fn never_panics_on_json_shaped_input(
            event_type in "(STATE_CHANGE|HEART_BEAT|LOGIN|LOGOUT|[A-Z_]{0,6})",
            version in "(2017-10-01|2019-05-25|[0-9-]{0,10})",
            ts in "(2019-05-25T18:55:27.017Z|[0-9TZ:.+-]{0,24})",
            name in proptest::option::of("[A-Za-z]{0,8}"),
        ) {
            let event = serde_json::json!({
                "AgentARN": "a/b", "InstanceARN": "i", "EventId": "e", "EventTimestamp": ts,
                "EventType": event_type, "Version": version,
                "CurrentAgentSnapshot": {"AgentStatus": {"Name": name}, "Contacts": [{"State": name}]}
            });
            let _ = decode_agent_event(event.to_string().as_bytes());
        }
    }
}
