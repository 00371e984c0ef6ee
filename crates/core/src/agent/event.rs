//! The Amazon Connect agent event: its typed model and the decoding of one Kinesis record.
//!
//! Decoding is strict about what identifies and orders an event (AgentARN, InstanceARN,
//! EventId, EventTimestamp, EventType, Version) and lenient about the snapshots: unknown fields
//! are ignored, `null` and absent mean the same, and a nested timestamp that does not parse is
//! treated as absent, so one odd field in a snapshot never costs the agent its state.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::config::{HierarchyGroups, Lenient, LenientList, LenientText, Proficiency, RoutingProfile};

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

impl AgentEvent {
    /// The agent's Configuration: the current snapshot's, else the previous one's (a LOGOUT may
    /// carry only the previous).
    pub fn configuration(&self) -> Option<&AgentConfiguration> {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find_map(|snapshot| snapshot.configuration.as_ref())
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

/// The part of Configuration the connector uses: the login, and who the agent is (feed.md
/// `agent_profile`; the names are personal data, written only when a deployment opts in). Every
/// part but the login is read leniently (see [`super::config`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentConfiguration {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "is_absent_text")]
    pub first_name: LenientText,
    #[serde(default, skip_serializing_if = "is_absent_text")]
    pub last_name: LenientText,
    #[serde(default, skip_serializing_if = "is_absent")]
    pub routing_profile: Lenient<RoutingProfile>,
    #[serde(default, skip_serializing_if = "is_absent")]
    pub agent_hierarchy_groups: Lenient<HierarchyGroups>,
    #[serde(default, skip_serializing_if = "is_empty_list")]
    pub proficiencies: LenientList<Lenient<Proficiency>>,
}

fn is_absent_text(text: &LenientText) -> bool {
    text.0.is_none()
}

fn is_absent<T>(value: &Lenient<T>) -> bool {
    value.0.is_none()
}

fn is_empty_list<T>(list: &LenientList<T>) -> bool {
    list.0.is_empty()
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
    /// Every required field that is absent or `null`, in the order of the checks: a producer
    /// that drops fields learns them all from one reject, not one per fix.
    #[error("{}", missing_fields_message(.0))]
    MissingFields(Vec<&'static str>),
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

/// `missing field `EventId``, one such clause per field: each reads as the message of a single
/// missing field does, so a search for one field's message finds every reject that lacks it.
fn missing_fields_message(fields: &[&str]) -> String {
    let clauses: Vec<String> = fields.iter().map(|field| format!("missing field `{field}`")).collect();
    clauses.join("; ")
}

/// Decodes one record's bytes into an agent event, or says why it is not one.
///
/// One pass over the bytes, borrowing: the top level is read field by field into what each
/// field turned out to be (a string borrowed from the input, `null`, another JSON kind), every
/// field the connector does not use is skipped unparsed, and the snapshots are deserialised
/// straight into their types. The checks then run on what was read: every required field that
/// is missing is named, all together; otherwise the first problem in a fixed order is, whatever
/// the field order of the record.
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
    let failed_snapshot = Cell::new(None);
    let seed = TopLevelSeed {
        failed_snapshot: &failed_snapshot,
    };
    // Text checked as UTF-8 once, in one pass, is read without checking each string it holds
    // again (most of a record's strings are short: the check's set-up is most of its cost).
    // Other bytes are read as before, so what is refused, and how it is named, stays the same:
    // serde_json does not check the strings it skips.
    let read = match std::str::from_utf8(bytes) {
        Ok(text) => read_top_level(seed, &mut serde_json::Deserializer::from_str(text)),
        Err(_) => read_top_level(seed, &mut serde_json::Deserializer::from_slice(bytes)),
    };
    let fields = match read {
        Ok(TopLevel::Object(fields)) => fields,
        Ok(TopLevel::Other(kind)) => return Err(DecodeError::NotAnObject(kind)),
        // A snapshot of the wrong shape is well-formed JSON: say which snapshot, not "not JSON".
        Err(error) => {
            return Err(match failed_snapshot.get() {
                Some(field) if error.classify() == serde_json::error::Category::Data => {
                    DecodeError::BadSnapshot { field, error }
                }
                _ => DecodeError::NotJson(error),
            });
        }
    };
    fields.into_event()
}

/// The top level of a record, and nothing after it but whitespace.
fn read_top_level<'de, R: serde_json::de::Read<'de>>(
    seed: TopLevelSeed<'_>,
    json: &mut serde_json::Deserializer<R>,
) -> Result<TopLevel<'de>, serde_json::Error> {
    seed.deserialize(&mut *json).and_then(|top| json.end().map(|()| top))
}

/// What the top level of a record is: an object (its fields as read), or another JSON kind.
// One short-lived value per record, on the stack: boxing the large variant would allocate.
#[allow(clippy::large_enum_variant)]
enum TopLevel<'a> {
    Object(Fields<'a>),
    Other(&'static str),
}

/// The top-level fields the decoder looks at, each as it was found. A repeated field: the
/// last one counts, as in any JSON object.
#[derive(Default)]
struct Fields<'a> {
    aws_account_id: Text<'a>,
    agent_arn: Text<'a>,
    instance_arn: Text<'a>,
    event_id: Text<'a>,
    event_timestamp: Text<'a>,
    event_type: Text<'a>,
    version: Text<'a>,
    current: Option<AgentSnapshot>,
    previous: Option<AgentSnapshot>,
    ctr_version: bool,
    contact_id: bool,
    channel: bool,
}

impl Fields<'_> {
    /// The required fields that are absent or `null`, in the order of the checks.
    fn missing(&self) -> Vec<&'static str> {
        [
            ("EventType", &self.event_type),
            ("Version", &self.version),
            ("AgentARN", &self.agent_arn),
            ("InstanceARN", &self.instance_arn),
            ("EventId", &self.event_id),
            ("EventTimestamp", &self.event_timestamp),
        ]
        .into_iter()
        .filter(|(_, text)| matches!(text, Text::Absent | Text::Null))
        .map(|(field, _)| field)
        .collect()
    }

    /// The checks, in the order they name problems.
    fn into_event(self) -> Result<AgentEvent, DecodeError> {
        let is_ctr = self.ctr_version || (matches!(self.event_type, Text::Absent) && self.contact_id && self.channel);
        if is_ctr {
            return Err(DecodeError::ContactTraceRecord);
        }
        let missing = self.missing();
        if !missing.is_empty() {
            return Err(DecodeError::MissingFields(missing));
        }
        let event_type = self.event_type.required("EventType")?;
        let event_type =
            EventType::parse(event_type).ok_or_else(|| DecodeError::UnknownEventType(event_type.to_owned()))?;
        let version = self.version.required("Version")?;
        let version = SUPPORTED_VERSIONS
            .into_iter()
            .find(|v| *v == version)
            .ok_or_else(|| DecodeError::UnknownVersion(version.to_owned()))?;
        let agent_arn = self.agent_arn.required("AgentARN")?.to_owned();
        let instance_arn = self.instance_arn.required("InstanceARN")?.to_owned();
        let event_id = self.event_id.required("EventId")?.to_owned();
        let timestamp = self.event_timestamp.required("EventTimestamp")?;
        let event_timestamp = parse_timestamp(timestamp).ok_or_else(|| DecodeError::BadTimestamp {
            field: "EventTimestamp",
            value: timestamp.to_owned(),
        })?;
        // The account id is informational: keep it when it is text or a number, never reject for it.
        let aws_account_id = match self.aws_account_id {
            Text::Str(id) => Some(id.into_owned()),
            Text::Number(id) => Some(id),
            _ => None,
        };
        Ok(AgentEvent {
            aws_account_id,
            agent_arn,
            instance_arn,
            event_id,
            event_timestamp,
            event_type,
            version: version.to_owned(),
            current: self.current,
            previous: self.previous,
        })
    }
}

/// A top-level field as found: borrowed from the input when it holds no escapes.
#[derive(Default)]
enum Text<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    /// A number, as JSON writes it (kept for AWSAccountId only).
    Number(String),
    /// Any other kind: `boolean`, `array`, `object`.
    Other(&'static str),
}

impl<'a> Text<'a> {
    /// The field's text: present, a string and not empty, or the error naming the field.
    fn required(&self, field: &'static str) -> Result<&str, DecodeError> {
        match self {
            Text::Absent | Text::Null => Err(DecodeError::MissingFields(vec![field])),
            Text::Str(text) if text.is_empty() => Err(DecodeError::EmptyField(field)),
            Text::Str(text) => Ok(text),
            Text::Number(_) => Err(DecodeError::NotAString { field, found: "number" }),
            Text::Other(found) => Err(DecodeError::NotAString { field, found }),
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Text::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text::Other("boolean"))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text::Number(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text::Number(
                    serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::Other("object"))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// The names of the top-level fields the decoder looks at; any other is skipped unparsed.
enum Key {
    AwsAccountId,
    AgentArn,
    InstanceArn,
    EventId,
    EventTimestamp,
    EventType,
    Version,
    Current,
    Previous,
    CtrVersion,
    ContactId,
    Channel,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "AWSAccountId" => Key::AwsAccountId,
                    "AgentARN" => Key::AgentArn,
                    "InstanceARN" => Key::InstanceArn,
                    "EventId" => Key::EventId,
                    "EventTimestamp" => Key::EventTimestamp,
                    "EventType" => Key::EventType,
                    "Version" => Key::Version,
                    "CurrentAgentSnapshot" => Key::Current,
                    "PreviousAgentSnapshot" => Key::Previous,
                    "AWSContactTraceRecordFormatVersion" => Key::CtrVersion,
                    "ContactId" => Key::ContactId,
                    "Channel" => Key::Channel,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Reads the top level; notes which snapshot failed, so its error is not taken for bad JSON.
struct TopLevelSeed<'c> {
    failed_snapshot: &'c Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for TopLevelSeed<'_> {
    type Value = TopLevel<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed<'_> {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an agent event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::AwsAccountId => fields.aws_account_id = map.next_value()?,
                Key::AgentArn => fields.agent_arn = map.next_value()?,
                Key::InstanceArn => fields.instance_arn = map.next_value()?,
                Key::EventId => fields.event_id = map.next_value()?,
                Key::EventTimestamp => fields.event_timestamp = map.next_value()?,
                Key::EventType => fields.event_type = map.next_value()?,
                Key::Version => fields.version = map.next_value()?,
                Key::Current | Key::Previous => {
                    let (field, slot) = match key {
                        Key::Current => ("CurrentAgentSnapshot", &mut fields.current),
                        _ => ("PreviousAgentSnapshot", &mut fields.previous),
                    };
                    *slot = map.next_value::<Option<AgentSnapshot>>().inspect_err(|_| {
                        self.failed_snapshot.set(Some(field));
                    })?;
                }
                Key::CtrVersion | Key::ContactId | Key::Channel | Key::Other => {
                    match key {
                        Key::CtrVersion => fields.ctr_version = true,
                        Key::ContactId => fields.contact_id = true,
                        Key::Channel => fields.channel = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(TopLevel::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other("array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("string"))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("null"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("boolean"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("number"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TopLevel::Other("number"))
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
    use std::fmt;

    use chrono::{DateTime, Utc};
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&crate::timefmt::feed_timestamp(at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        d.deserialize_any(LenientTime)
    }

    /// A timestamp string parses; anything else (null, a number, an object...) is skipped.
    struct LenientTime;

    impl<'de> Visitor<'de> for LenientTime {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp")
        }

        fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
            Ok(super::parse_timestamp(text))
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::Value;

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
    fn field_order_escapes_and_unknown_fields_do_not_change_the_event() {
        for sample in [HEARTBEAT, ENTER_ACW, LEAVE_ACW] {
            let event = decode_agent_event(sample.as_bytes()).unwrap();
            // serde_json writes keys sorted: another order than the sample's.
            let value: Value = serde_json::from_str(sample).unwrap();
            let sorted = value.to_string();
            assert_eq!(decode_agent_event(sorted.as_bytes()).unwrap(), event);
            // Escaped slashes: the strings are unescaped (owned), not borrowed.
            let escaped = sorted.replace('/', "\\/");
            assert_ne!(escaped, sorted);
            assert_eq!(decode_agent_event(escaped.as_bytes()).unwrap(), event);
            let mut more = value.clone();
            more["Extra"] = serde_json::json!({"EventType": 1, "CurrentAgentSnapshot": [null]});
            assert_eq!(decode_agent_event(more.to_string().as_bytes()).unwrap(), event);
        }
    }

    #[test]
    fn the_last_of_a_repeated_field_counts() {
        let text = minimal().to_string();
        let twice = text.replacen('{', r#"{"EventId": 7, "EventType": "NOPE", "#, 1);
        assert_eq!(decode_agent_event(twice.as_bytes()).unwrap().event_id, "e-1");
        let later = text.replacen('}', r#", "EventId": "e-2"}"#, 1);
        assert_eq!(decode_agent_event(later.as_bytes()).unwrap().event_id, "e-2");
    }

    #[test]
    fn the_first_problem_is_named_in_a_fixed_order_whatever_the_field_order() {
        // EventType is checked before Version, Version before the ids, the ids before the time.
        let ids = r#""AgentARN": "a/1", "InstanceARN": "i""#;
        let text =
            format!(r#"{{"EventTimestamp": "x", "EventId": "", "Version": "1999", "EventType": "NOPE", {ids}}}"#);
        assert!(error_of(&text).starts_with("unknown EventType `NOPE`"));
        let text =
            format!(r#"{{"EventTimestamp": "x", "EventId": "", "Version": "1999", "EventType": "LOGIN", {ids}}}"#);
        assert!(error_of(&text).starts_with("unknown Version `1999`"));
        let text = format!(
            r#"{{"EventTimestamp": "x", "EventId": "", "Version": "2019-05-25", "EventType": "LOGIN", {ids}}}"#
        );
        assert_eq!(error_of(&text), "field `EventId` is empty");
        // Bad JSON anywhere wins over every field check.
        assert!(error_of(r#"{"EventType": "NOPE", "Version": 1"#).starts_with("not JSON"));
        assert!(error_of(r#"{"EventType": "NOPE"} x"#).starts_with("not JSON: trailing characters"));
    }

    #[test]
    fn every_synthetic_record_decodes_or_is_named() {
        use crate::synthetic::{StreamSpec, agent_event_stream};
        let (mut good, mut bad) = (0, 0);
        for verbose in [false, true] {
            let spec = StreamSpec {
                records: 400,
                verbose,
                bad_permille: 100,
                ..StreamSpec::default()
            };
            for input in agent_event_stream(&spec) {
                match decode_agent_event(&input) {
                    Ok(event) => {
                        good += 1;
                        let again = decode_agent_event(&serde_json::to_vec(&event).unwrap()).unwrap();
                        assert_eq!(again, event);
                    }
                    Err(e) => {
                        bad += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        assert!(good > 700 && bad > 30, "good {good}, bad {bad}");
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
    fn every_missing_field_is_named_before_any_other_problem() {
        let mut event = minimal();
        let object = event.as_object_mut().unwrap();
        object.remove("EventTimestamp");
        object.insert("EventId".into(), Value::Null);
        object.insert("EventType".into(), "NOPE".into());
        assert_eq!(
            error_of(&event.to_string()),
            "missing field `EventId`; missing field `EventTimestamp`"
        );
        let error = decode_agent_event(event.to_string().as_bytes()).unwrap_err();
        assert!(matches!(&error, DecodeError::MissingFields(f) if f == &["EventId", "EventTimestamp"]));
        // Other JSON on the stream lacks them all, named in the order of the checks.
        assert_eq!(
            error_of(r#"{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}"#),
            "missing field `EventType`; missing field `Version`; missing field `AgentARN`; \
             missing field `InstanceARN`; missing field `EventId`; missing field `EventTimestamp`"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_read_as_before() {
        // In a field the decoder skips: not checked, the event decodes.
        let mut bytes = minimal().to_string().into_bytes();
        bytes.pop();
        bytes.extend_from_slice(b",\"Note\":\"caf\xE9\"}");
        assert_eq!(decode_agent_event(&bytes).unwrap().event_id, "e-1");
        // In a field it reads: not JSON, at the byte where the text breaks.
        let bytes = minimal().to_string().replace("e-1", "e-\u{FFFF}").into_bytes();
        let bytes: Vec<u8> = bytes.into_iter().map(|b| if b == 0xBF { 0xFF } else { b }).collect();
        let error = decode_agent_event(&bytes).unwrap_err().to_string();
        assert!(
            error.starts_with("not JSON: invalid unicode code point at line 1 column"),
            "{error}"
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
