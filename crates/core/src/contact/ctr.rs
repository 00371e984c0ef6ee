//! The Amazon Connect contact record (CTR), as the contact-record Kinesis stream or Firehose
//! delivers it: PascalCase keys, whole-second timestamps, `null` for what did not happen
//! (`Agent` of an unanswered contact, `Queue` of a contact never queued).
//!
//! Connect delivers a record at least once and again when it changes; the copy with the newest
//! `LastUpdateTimestamp` replaces older ones (see [`super::Leg`]). Only the fields the feed
//! needs are kept: no agent names, no customer endpoints, no attributes.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::event::{ContactEventError, last_segment, timestamp};

/// The largest contact record accepted (a Kinesis record's data is at most 1 MiB).
pub const MAX_CONTACT_RECORD_BYTES: usize = 1 << 20;

/// `Queue` of a contact record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtrQueue {
    /// `Queue.ARN`.
    pub arn: Option<String>,
    /// `Queue.Name`.
    pub name: Option<String>,
    /// `Queue.EnqueueTimestamp`.
    pub enqueue_timestamp: Option<DateTime<Utc>>,
    /// `Queue.DequeueTimestamp`.
    pub dequeue_timestamp: Option<DateTime<Utc>>,
}

/// `Agent` of a contact record (present when the contact reached an agent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtrAgent {
    /// `Agent.ARN`.
    pub arn: Option<String>,
    /// `Agent.ConnectedToAgentTimestamp`.
    pub connected_to_agent_timestamp: Option<DateTime<Utc>>,
    /// `Agent.AgentInteractionDuration`, whole seconds.
    pub agent_interaction_duration: Option<i64>,
    /// `Agent.CustomerHoldDuration`, whole seconds.
    pub customer_hold_duration: Option<i64>,
    /// `Agent.AfterContactWorkDuration`, whole seconds.
    pub after_contact_work_duration: Option<i64>,
}

/// One contact record, reduced to what the stream basis uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    /// `ContactId`.
    pub contact_id: String,
    /// `InstanceARN`.
    pub instance_arn: String,
    /// `Channel`, upper case.
    pub channel: Option<String>,
    /// `InitiationMethod`, upper case.
    pub initiation_method: Option<String>,
    /// `InitiationTimestamp`.
    pub initiation_timestamp: Option<DateTime<Utc>>,
    /// `DisconnectTimestamp`.
    pub disconnect_timestamp: Option<DateTime<Utc>>,
    /// `LastUpdateTimestamp`: orders re-deliveries (the newest copy wins).
    pub last_update_timestamp: DateTime<Utc>,
    /// `PreviousContactId`.
    pub previous_contact_id: Option<String>,
    /// `Queue`, when the contact was queued.
    pub queue: Option<CtrQueue>,
    /// `Agent`, when the contact reached an agent.
    pub agent: Option<CtrAgent>,
}

impl ContactRecord {
    /// The Connect instance id: last segment of `InstanceARN`.
    pub fn instance_id(&self) -> &str {
        last_segment(&self.instance_arn)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRecord {
    #[serde(default)]
    contact_id: Option<String>,
    #[serde(default, rename = "InstanceARN", alias = "InstanceArn")]
    instance_arn: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    initiation_method: Option<String>,
    #[serde(default)]
    initiation_timestamp: Option<String>,
    #[serde(default)]
    disconnect_timestamp: Option<String>,
    #[serde(default)]
    last_update_timestamp: Option<String>,
    #[serde(default)]
    previous_contact_id: Option<String>,
    #[serde(default)]
    queue: Option<RawQueue>,
    #[serde(default)]
    agent: Option<RawAgent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawQueue {
    #[serde(default, rename = "ARN", alias = "Arn")]
    arn: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enqueue_timestamp: Option<String>,
    #[serde(default)]
    dequeue_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAgent {
    #[serde(default, rename = "ARN", alias = "Arn")]
    arn: Option<String>,
    #[serde(default)]
    connected_to_agent_timestamp: Option<String>,
    #[serde(default)]
    agent_interaction_duration: Option<f64>,
    #[serde(default)]
    customer_hold_duration: Option<f64>,
    #[serde(default)]
    after_contact_work_duration: Option<f64>,
}

/// Why bytes are not a usable contact record.
#[derive(Debug, thiserror::Error)]
pub enum ContactRecordError {
    /// Larger than a Kinesis record can be.
    #[error("{0} bytes: larger than a contact record can be ({MAX_CONTACT_RECORD_BYTES} bytes)")]
    TooLarge(usize),
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    #[error("not a contact record: a JSON {0}, expected an object")]
    NotAnObject(&'static str),
    /// A field has the wrong JSON type.
    #[error("not a contact record: {0}")]
    BadShape(String),
    /// A required field is absent, null or empty.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A timestamp that does not parse.
    #[error("{field} `{value}` is not an ISO 8601 timestamp")]
    BadTimestamp {
        /// The field's path.
        field: &'static str,
        /// The text received.
        value: String,
    },
    /// A duration that is negative or not finite.
    #[error("{field} {value} is not a duration in whole seconds")]
    BadDuration {
        /// The field's path.
        field: &'static str,
        /// The value received.
        value: f64,
    },
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn time(field: &'static str, value: Option<String>) -> Result<Option<DateTime<Utc>>, ContactRecordError> {
    timestamp(field, value).map_err(|e| match e {
        ContactEventError::BadTimestamp { field, value } => ContactRecordError::BadTimestamp { field, value },
        other => ContactRecordError::BadShape(other.to_string()),
    })
}

fn seconds(field: &'static str, value: Option<f64>) -> Result<Option<i64>, ContactRecordError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && (0.0..9.0e15).contains(&v) => Ok(Some(v.round() as i64)),
        Some(value) => Err(ContactRecordError::BadDuration { field, value }),
    }
}

/// Decodes one contact record (a Kinesis record's data, one line of a Firehose object).
pub fn decode_contact_record(bytes: &[u8]) -> Result<ContactRecord, ContactRecordError> {
    if bytes.len() > MAX_CONTACT_RECORD_BYTES {
        return Err(ContactRecordError::TooLarge(bytes.len()));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(ContactRecordError::NotJson)?;
    contact_record_from_value(value)
}

/// [`decode_contact_record`] for JSON already parsed.
pub fn contact_record_from_value(value: Value) -> Result<ContactRecord, ContactRecordError> {
    let kind = match &value {
        Value::Object(_) => None,
        Value::Null => Some("null"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
    };
    if let Some(kind) = kind {
        return Err(ContactRecordError::NotAnObject(kind));
    }
    let raw: RawRecord = serde_json::from_value(value).map_err(|e| ContactRecordError::BadShape(e.to_string()))?;
    let contact_id = text(raw.contact_id).ok_or(ContactRecordError::MissingField("ContactId"))?;
    let instance_arn = text(raw.instance_arn).ok_or(ContactRecordError::MissingField("InstanceARN"))?;
    let last_update_timestamp = time("LastUpdateTimestamp", raw.last_update_timestamp)?
        .ok_or(ContactRecordError::MissingField("LastUpdateTimestamp"))?;
    let queue = match raw.queue {
        None => None,
        Some(q) => Some(CtrQueue {
            arn: text(q.arn),
            name: text(q.name),
            enqueue_timestamp: time("Queue.EnqueueTimestamp", q.enqueue_timestamp)?,
            dequeue_timestamp: time("Queue.DequeueTimestamp", q.dequeue_timestamp)?,
        }),
    };
    let agent = match raw.agent {
        None => None,
        Some(a) => Some(CtrAgent {
            arn: text(a.arn),
            connected_to_agent_timestamp: time("Agent.ConnectedToAgentTimestamp", a.connected_to_agent_timestamp)?,
            agent_interaction_duration: seconds("Agent.AgentInteractionDuration", a.agent_interaction_duration)?,
            customer_hold_duration: seconds("Agent.CustomerHoldDuration", a.customer_hold_duration)?,
            after_contact_work_duration: seconds("Agent.AfterContactWorkDuration", a.after_contact_work_duration)?,
        }),
    };
    Ok(ContactRecord {
        contact_id,
        instance_arn,
        channel: text(raw.channel).map(|s| s.to_ascii_uppercase()),
        initiation_method: text(raw.initiation_method).map(|s| s.to_ascii_uppercase()),
        initiation_timestamp: time("InitiationTimestamp", raw.initiation_timestamp)?,
        disconnect_timestamp: time("DisconnectTimestamp", raw.disconnect_timestamp)?,
        last_update_timestamp,
        previous_contact_id: text(raw.previous_contact_id),
        queue,
        agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        let text = include_str!("../../../../events/contact-records/ctr-jdoe-inbound-call.json");
        serde_json::from_str(text).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn decodes_the_sample_record() {
        let r = contact_record_from_value(sample()).unwrap();
        assert_eq!(r.contact_id, "50d00787-862a-43db-851b-ec1ede27387c");
        assert_eq!(r.instance_id(), "8f2c3e41-6a7b-4c1d-9e0f-2a3b4c5d6e7f");
        assert_eq!(r.initiation_method.as_deref(), Some("INBOUND"));
        assert_eq!(r.disconnect_timestamp, Some(at("2026-11-20T08:10:02Z")));
        assert_eq!(r.last_update_timestamp, at("2026-11-20T08:11:02Z"));
        assert_eq!(r.previous_contact_id, None);
        let agent = r.agent.unwrap();
        assert_eq!(agent.connected_to_agent_timestamp, Some(at("2026-11-20T08:05:06Z")));
        assert_eq!(
            (
                agent.agent_interaction_duration,
                agent.customer_hold_duration,
                agent.after_contact_work_duration
            ),
            (Some(251), Some(45), Some(58))
        );
        let queue = r.queue.unwrap();
        assert!(
            queue
                .arn
                .unwrap()
                .ends_with("/queue/0db317d9-4c8e-4fa3-969a-73bf4c83cf3b")
        );
        assert!(queue.name.is_some() && queue.enqueue_timestamp.is_some());
    }

    #[test]
    fn nulls_mean_absent_and_unknown_fields_are_ignored() {
        let mut v = sample();
        v["Agent"] = json!(null);
        v["Queue"]["EnqueueTimestamp"] = json!(null);
        v["SomethingNew"] = json!({"a": 1});
        let r = contact_record_from_value(v).unwrap();
        assert_eq!(r.agent, None);
        assert_eq!(r.queue.unwrap().enqueue_timestamp, None);
        let mut v = sample();
        v["Agent"]["AfterContactWorkDuration"] = json!(null);
        let r = contact_record_from_value(v).unwrap();
        assert_eq!(r.agent.unwrap().after_contact_work_duration, None);
    }

    #[test]
    fn errors_name_the_field() {
        let err = |v: Value| contact_record_from_value(v).unwrap_err().to_string();
        let mut v = sample();
        v["LastUpdateTimestamp"] = json!(null);
        assert_eq!(err(v), "missing field `LastUpdateTimestamp`");
        let mut v = sample();
        v["Queue"]["EnqueueTimestamp"] = json!("soon");
        assert_eq!(err(v), "Queue.EnqueueTimestamp `soon` is not an ISO 8601 timestamp");
        let mut v = sample();
        v["Agent"]["CustomerHoldDuration"] = json!(-3);
        assert!(err(v).contains("Agent.CustomerHoldDuration"));
        let mut v = sample();
        v["ContactId"] = json!("");
        assert_eq!(err(v), "missing field `ContactId`");
        assert!(err(json!("x")).contains("string"));
    }
}
