//! The Amazon Connect contact event: the EventBridge envelope (`detail-type`
//! `Amazon Connect Contact Event`, source `aws.connect`) and its `detail`.
//!
//! Connect adds fields and event types over time and asks consumers to ignore what they do not
//! know: unknown fields are skipped and an unknown `eventType` decodes as
//! [`ContactEventType::Other`], never an error. What identifies and places the contact
//! (`id`, `time`, `contactId`, the instance, every timestamp the connector reads) must be
//! well-formed: an event without them cannot be counted and is rejected with the reason.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// EventBridge `detail-type` of a contact event.
pub const DETAIL_TYPE: &str = "Amazon Connect Contact Event";

/// EventBridge `source` of Connect's events.
pub const SOURCE: &str = "aws.connect";

/// The largest event accepted: EventBridge events are at most 256 KB.
pub const MAX_CONTACT_EVENT_BYTES: usize = 256 * 1024;

/// `detail.eventType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactEventType {
    /// A contact is initiated or transferred.
    Initiated,
    /// Media established (outbound calls, chats, tasks).
    ConnectedToSystem,
    /// Contact properties updated.
    ContactDataUpdated,
    /// Queued to be assigned to an agent.
    Queued,
    /// Connected to an agent.
    ConnectedToAgent,
    /// Disconnected.
    Disconnected,
    /// Any other type (`AMD_DISABLED`, types Connect adds later): carries nothing the connector
    /// counts, so it is ignored.
    Other(String),
}

impl ContactEventType {
    /// The type named `name` (as Connect writes it, upper case; other cases accepted).
    pub fn parse(name: &str) -> Self {
        match name.trim().to_ascii_uppercase().as_str() {
            "INITIATED" => Self::Initiated,
            "CONNECTED_TO_SYSTEM" => Self::ConnectedToSystem,
            "CONTACT_DATA_UPDATED" => Self::ContactDataUpdated,
            "QUEUED" => Self::Queued,
            "CONNECTED_TO_AGENT" => Self::ConnectedToAgent,
            "DISCONNECTED" => Self::Disconnected,
            _ => Self::Other(name.to_owned()),
        }
    }

    /// The name Connect uses (`QUEUED`, ...), or the unknown name as received.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Initiated => "INITIATED",
            Self::ConnectedToSystem => "CONNECTED_TO_SYSTEM",
            Self::ContactDataUpdated => "CONTACT_DATA_UPDATED",
            Self::Queued => "QUEUED",
            Self::ConnectedToAgent => "CONNECTED_TO_AGENT",
            Self::Disconnected => "DISCONNECTED",
            Self::Other(name) => name,
        }
    }

    /// Whether events of this type carry contact facts the connector reads.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for ContactEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One contact event: the envelope's id and time, and the facts of its `detail` that the
/// connector reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEvent {
    /// EventBridge `id` (unique per event; a redelivery repeats it).
    pub id: String,
    /// EventBridge `time`: when Connect emitted the event (`as_of` of the records it feeds).
    pub time: DateTime<Utc>,
    /// `detail.eventType`.
    pub event_type: ContactEventType,
    /// `detail.contactId`.
    pub contact_id: String,
    /// `detail.initialContactId`.
    pub initial_contact_id: Option<String>,
    /// `detail.previousContactId`: the contact this one continues (transfer, callback).
    pub previous_contact_id: Option<String>,
    /// `detail.channel`, upper case (`VOICE`, `CHAT`, `TASK`, ...).
    pub channel: Option<String>,
    /// `detail.instanceArn` (else the instance ARN among `resources`).
    pub instance_arn: String,
    /// `detail.initiationMethod`, upper case (`INBOUND`, `CALLBACK`, `QUEUE_TRANSFER`, ...).
    pub initiation_method: Option<String>,
    /// `detail.initiationTimestamp`.
    pub initiation_timestamp: Option<DateTime<Utc>>,
    /// `detail.disconnectTimestamp`.
    pub disconnect_timestamp: Option<DateTime<Utc>>,
    /// `detail.queueInfo.queueArn`.
    pub queue_arn: Option<String>,
    /// `detail.queueInfo.enqueueTimestamp`.
    pub enqueue_timestamp: Option<DateTime<Utc>>,
    /// `detail.agentInfo.agentArn`.
    pub agent_arn: Option<String>,
    /// `detail.agentInfo.connectedToAgentTimestamp`.
    pub connected_to_agent_timestamp: Option<DateTime<Utc>>,
}

impl ContactEvent {
    /// The Connect instance id: last segment of the instance ARN.
    pub fn instance_id(&self) -> &str {
        last_segment(&self.instance_arn)
    }
}

/// The last `/`-separated segment of an ARN (an instance, queue or agent id).
pub fn last_segment(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, last)| last)
}

/// Why bytes are not a usable contact event. The Display names the field and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ContactEventError {
    /// Larger than EventBridge allows.
    #[error("{0} bytes: larger than an EventBridge event can be ({MAX_CONTACT_EVENT_BYTES} bytes)")]
    TooLarge(usize),
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    #[error("not a contact event: a JSON {0}, expected an object")]
    NotAnObject(&'static str),
    /// An EventBridge event of another kind.
    #[error("not a contact event: detail-type `{detail_type}`, source `{event_source}`")]
    OtherEvent {
        /// `detail-type` as received (empty when absent).
        detail_type: String,
        /// `source` as received (empty when absent).
        event_source: String,
    },
    /// A required field is absent, null or empty.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("field `{field}`: {error}")]
    BadField {
        /// Dotted path of the field.
        field: &'static str,
        /// What serde found.
        error: String,
    },
    /// A timestamp field that does not parse.
    #[error("{field} `{value}` is not an ISO 8601 timestamp")]
    BadTimestamp {
        /// Dotted path of the field.
        field: &'static str,
        /// The text received.
        value: String,
    },
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    time: Option<Value>,
    #[serde(default, rename = "detail-type")]
    detail_type: Option<Value>,
    #[serde(default)]
    source: Option<Value>,
    #[serde(default)]
    resources: Option<Value>,
    #[serde(default)]
    detail: Option<Value>,
}

// Connect's documented samples spell some keys in PascalCase (`AgentInfo`, `AgentArn`,
// `CustomerVoiceActivity`) while live events use camelCase: both are accepted.
#[derive(Deserialize)]
struct RawDetail {
    #[serde(default, alias = "EventType")]
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    #[serde(default, rename = "contactId", alias = "ContactId")]
    contact_id: Option<String>,
    #[serde(default, rename = "initialContactId", alias = "InitialContactId")]
    initial_contact_id: Option<String>,
    #[serde(default, rename = "previousContactId", alias = "PreviousContactId")]
    previous_contact_id: Option<String>,
    #[serde(default, alias = "Channel")]
    channel: Option<String>,
    #[serde(default, rename = "instanceArn", alias = "InstanceArn", alias = "InstanceARN")]
    instance_arn: Option<String>,
    #[serde(default, rename = "initiationMethod", alias = "InitiationMethod")]
    initiation_method: Option<String>,
    #[serde(default, rename = "initiationTimestamp", alias = "InitiationTimestamp")]
    initiation_timestamp: Option<String>,
    #[serde(default, rename = "disconnectTimestamp", alias = "DisconnectTimestamp")]
    disconnect_timestamp: Option<String>,
    #[serde(default, rename = "queueInfo", alias = "QueueInfo")]
    queue_info: Option<RawQueueInfo>,
    #[serde(default, rename = "agentInfo", alias = "AgentInfo")]
    agent_info: Option<RawAgentInfo>,
}

#[derive(Deserialize)]
struct RawQueueInfo {
    #[serde(default, rename = "queueArn", alias = "QueueArn", alias = "QueueARN")]
    queue_arn: Option<String>,
    #[serde(default, rename = "enqueueTimestamp", alias = "EnqueueTimestamp")]
    enqueue_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawAgentInfo {
    #[serde(default, rename = "agentArn", alias = "AgentArn", alias = "AgentARN")]
    agent_arn: Option<String>,
    #[serde(default, rename = "connectedToAgentTimestamp", alias = "ConnectedToAgentTimestamp")]
    connected_to_agent_timestamp: Option<String>,
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A non-empty string, else `None` (Connect writes `null` or `""` for "none").
fn text(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn upper(value: Option<String>) -> Option<String> {
    text(value).map(|s| s.to_ascii_uppercase())
}

/// Parses a timestamp as Connect writes them: RFC 3339 (`2021-08-04T17:17:53.000Z`,
/// `2021-08-04T17:17:53Z`, an offset); a missing offset means UTC.
pub fn parse_contact_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    crate::agent::parse_timestamp(text).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|naive| naive.and_utc())
    })
}

pub(crate) fn timestamp(
    field: &'static str,
    value: Option<String>,
) -> Result<Option<DateTime<Utc>>, ContactEventError> {
    match text(value) {
        None => Ok(None),
        Some(value) => parse_contact_time(&value)
            .map(Some)
            .ok_or(ContactEventError::BadTimestamp { field, value }),
    }
}

fn required_string(field: &'static str, value: Option<Value>) -> Result<String, ContactEventError> {
    match value {
        None | Some(Value::Null) => Err(ContactEventError::MissingField(field)),
        Some(Value::String(s)) => text(Some(s)).ok_or(ContactEventError::MissingField(field)),
        Some(other) => Err(ContactEventError::BadField {
            field,
            error: format!("a JSON {}, expected a string", json_type(&other)),
        }),
    }
}

/// Decodes one EventBridge event (the body of an SQS message from the rule, or one line of a
/// replay file) into a contact event, or says why it is not one.
pub fn decode_contact_event(bytes: &[u8]) -> Result<ContactEvent, ContactEventError> {
    if bytes.len() > MAX_CONTACT_EVENT_BYTES {
        return Err(ContactEventError::TooLarge(bytes.len()));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(ContactEventError::NotJson)?;
    contact_event_from_value(value)
}

/// [`decode_contact_event`] for JSON already parsed (an SQS batch, a JSON Lines replay).
pub fn contact_event_from_value(value: Value) -> Result<ContactEvent, ContactEventError> {
    if !value.is_object() {
        return Err(ContactEventError::NotAnObject(json_type(&value)));
    }
    let envelope: RawEnvelope = serde_json::from_value(value).map_err(|e| ContactEventError::BadField {
        field: "(envelope)",
        error: e.to_string(),
    })?;
    let as_text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).unwrap_or_default().to_owned();
    let detail_type = as_text(&envelope.detail_type);
    let source = as_text(&envelope.source);
    if detail_type != DETAIL_TYPE || source != SOURCE {
        return Err(ContactEventError::OtherEvent {
            detail_type,
            event_source: source,
        });
    }
    let id = required_string("id", envelope.id)?;
    let time_text = required_string("time", envelope.time)?;
    let time = parse_contact_time(&time_text).ok_or(ContactEventError::BadTimestamp {
        field: "time",
        value: time_text,
    })?;
    let detail = match envelope.detail {
        None | Some(Value::Null) => return Err(ContactEventError::MissingField("detail")),
        Some(detail @ Value::Object(_)) => detail,
        Some(other) => {
            return Err(ContactEventError::BadField {
                field: "detail",
                error: format!("a JSON {}, expected an object", json_type(&other)),
            });
        }
    };
    let detail: RawDetail = serde_json::from_value(detail).map_err(|e| ContactEventError::BadField {
        field: "detail",
        error: e.to_string(),
    })?;
    let event_type = text(detail.event_type)
        .map(|t| ContactEventType::parse(&t))
        .ok_or(ContactEventError::MissingField("detail.eventType"))?;
    let contact_id = text(detail.contact_id).ok_or(ContactEventError::MissingField("detail.contactId"))?;
    // The instance ARN is in the detail; the envelope's resources list it too.
    let instance_arn = text(detail.instance_arn)
        .or_else(|| {
            envelope
                .resources
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|resources| {
                    resources
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|arn| arn.contains("instance/") && !arn.contains("/contact/"))
                        .map(str::to_owned)
                })
        })
        .ok_or(ContactEventError::MissingField("detail.instanceArn"))?;
    let (queue_arn, enqueue_timestamp) = match detail.queue_info {
        Some(q) => (
            text(q.queue_arn),
            timestamp("detail.queueInfo.enqueueTimestamp", q.enqueue_timestamp)?,
        ),
        None => (None, None),
    };
    let (agent_arn, connected_to_agent_timestamp) = match detail.agent_info {
        Some(a) => (
            text(a.agent_arn),
            timestamp(
                "detail.agentInfo.connectedToAgentTimestamp",
                a.connected_to_agent_timestamp,
            )?,
        ),
        None => (None, None),
    };
    Ok(ContactEvent {
        id,
        time,
        event_type,
        contact_id,
        initial_contact_id: text(detail.initial_contact_id),
        previous_contact_id: text(detail.previous_contact_id),
        channel: upper(detail.channel),
        instance_arn,
        initiation_method: upper(detail.initiation_method),
        initiation_timestamp: timestamp("detail.initiationTimestamp", detail.initiation_timestamp)?,
        disconnect_timestamp: timestamp("detail.disconnectTimestamp", detail.disconnect_timestamp)?,
        queue_arn,
        enqueue_timestamp,
        agent_arn,
        connected_to_agent_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape of the "voice call is disconnected" sample of Connect's documentation, with
    /// its PascalCase `AgentInfo`/`AgentArn` and an extra `CustomerVoiceActivity` object.
    fn docs_sample() -> Value {
        json!({
            "version": "0",
            "id": "abcabcab-abca-abca-abca-abcabcabcabc",
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": "111122223333",
            "time": "2021-08-04T17:43:48Z",
            "region": "us-west-1",
            "resources": [
                "arn:aws:connect:us-west-2:111122223333:instance/12345678-1234-1234-1234-123456789012/contact/11111111-1111-1111-1111-111111111111",
                "arn:aws:connect:us-west-2:111122223333:instance/12345678-1234-1234-1234-123456789012"
            ],
            "detail": {
                "eventType": "DISCONNECTED",
                "contactId": "11111111-1111-1111-1111-111111111111",
                "initialContactId": "11111111-2222-3333-4444-555555555555",
                "previousContactId": "11111111-2222-3333-4444-555555555555",
                "channel": "Voice",
                "instanceArn": "arn:aws:connect:us-west-2:111122223333:instance/12345678-1234-1234-1234-123456789012",
                "initiationMethod": "OUTBOUND",
                "initiationTimestamp": "2021-08-04T17:17:53.000Z",
                "connectedToSystemTimestamp": "2021-08-04T17:17:55.000Z",
                "disconnectTimestamp": "2021-08-04T17:18:37.000Z",
                "queueInfo": {
                    "queueArn": "arn:aws:connect:us-west-2:111122223333:instance/12345678-1234-1234-1234-123456789012/queue/aaaa",
                    "queueType": "STANDARD",
                    "enqueueTimestamp": "2021-08-04T17:29:04.000Z"
                },
                "AgentInfo": {
                    "AgentArn": "arn:aws:connect:us-west-2:111122223333:instance/12345678-1234-1234-1234-123456789012/agent/bbbb",
                    "connectedToAgentTimestamp": "2021-08-04T17:29:09.000Z"
                },
                "CustomerVoiceActivity": {
                    "greetingStartTimestamp": "2021-08-04T17:29:20.000Z",
                    "greetingEndTimestamp": "2021-08-04T17:29:22.000Z"
                }
            }
        })
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn decodes_the_documented_sample_in_either_key_case() {
        let e = contact_event_from_value(docs_sample()).unwrap();
        assert_eq!(e.id, "abcabcab-abca-abca-abca-abcabcabcabc");
        assert_eq!(e.time, at("2021-08-04T17:43:48Z"));
        assert_eq!(e.event_type, ContactEventType::Disconnected);
        assert_eq!(e.contact_id, "11111111-1111-1111-1111-111111111111");
        assert_eq!(e.instance_id(), "12345678-1234-1234-1234-123456789012");
        assert_eq!(e.channel.as_deref(), Some("VOICE"));
        assert_eq!(e.initiation_method.as_deref(), Some("OUTBOUND"));
        assert_eq!(
            e.previous_contact_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(e.disconnect_timestamp, Some(at("2021-08-04T17:18:37Z")));
        assert_eq!(e.enqueue_timestamp, Some(at("2021-08-04T17:29:04Z")));
        assert_eq!(last_segment(e.queue_arn.as_deref().unwrap()), "aaaa");
        assert_eq!(last_segment(e.agent_arn.as_deref().unwrap()), "bbbb");
        assert_eq!(e.connected_to_agent_timestamp, Some(at("2021-08-04T17:29:09Z")));
    }

    #[test]
    fn unknown_event_types_and_fields_are_not_errors() {
        let mut v = docs_sample();
        v["detail"]["eventType"] = json!("SOMETHING_NEW");
        v["detail"]["brandNewField"] = json!({"nested": [1, 2]});
        v["detail"]["queueInfo"]["routingStep"] = json!("x");
        v["extra"] = json!(true);
        let e = contact_event_from_value(v).unwrap();
        assert_eq!(e.event_type, ContactEventType::Other("SOMETHING_NEW".into()));
        assert!(!e.event_type.is_known());
    }

    #[test]
    fn nulls_and_empty_strings_mean_absent() {
        let mut v = docs_sample();
        v["detail"]["previousContactId"] = json!(null);
        v["detail"]["initialContactId"] = json!("");
        v["detail"]["agentInfo"] = json!(null);
        v["detail"].as_object_mut().unwrap().remove("AgentInfo");
        v["detail"]["queueInfo"]["enqueueTimestamp"] = json!(null);
        v["detail"].as_object_mut().unwrap().remove("instanceArn");
        let e = contact_event_from_value(v).unwrap();
        assert_eq!((&e.previous_contact_id, &e.initial_contact_id), (&None, &None));
        assert_eq!((&e.agent_arn, e.connected_to_agent_timestamp), (&None, None));
        assert_eq!(e.enqueue_timestamp, None);
        // The instance comes from `resources` then, not from the contact's ARN.
        assert_eq!(e.instance_id(), "12345678-1234-1234-1234-123456789012");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let err = |v: Value| contact_event_from_value(v).unwrap_err().to_string();
        assert!(err(json!([1])).contains("array"));
        let mut other = docs_sample();
        other["detail-type"] = json!("Contact Lens Analysis State Change");
        assert!(err(other).contains("Contact Lens Analysis State Change"));
        let mut no_contact = docs_sample();
        no_contact["detail"]["contactId"] = json!(null);
        assert_eq!(err(no_contact), "missing field `detail.contactId`");
        let mut bad_time = docs_sample();
        bad_time["detail"]["disconnectTimestamp"] = json!("yesterday");
        assert_eq!(
            err(bad_time),
            "detail.disconnectTimestamp `yesterday` is not an ISO 8601 timestamp"
        );
        let mut bad_type = docs_sample();
        bad_type["detail"]["contactId"] = json!(12);
        assert!(err(bad_type).starts_with("field `detail`"));
        let mut no_id = docs_sample();
        no_id["id"] = json!("");
        assert_eq!(err(no_id), "missing field `id`");
        assert!(matches!(
            decode_contact_event(b"{oops"),
            Err(ContactEventError::NotJson(_))
        ));
    }
}
