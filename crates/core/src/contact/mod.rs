//! Contact events and contact records → stream-basis `queue_interval` records (feed.md
//! "Stream basis"), pure.
//!
//! - [`decode_contact_event`] / [`decode_contact_record`] (or [`decode_contact_input`], which
//!   routes by content) turn bytes into a [`ContactInput`]; [`read_ctr_file`] splits a file of
//!   contact records that Firehose wrote to S3 into its records.
//! - [`ContactInput::leg_patches`] gives the [`Leg`]s an input changes; [`Leg::merge`] merges a
//!   patch into the stored leg, order-free and idempotent. [`LegBook`] does both in memory.
//! - [`Leg::intervals`] names the records a leg contributes to at a clock;
//!   [`stream_queue_interval`] computes one record from the legs (or
//!   [`stream_queue_interval_of`] from their [`LegSummary`]s), the learned [`QueueNames`], the
//!   [`StreamSettings`] and the clock.
//! - [`store::ContactStore`] is the port through which a handler stores legs and reads the
//!   legs of an interval (the storage design is in its module docs), with an in-memory
//!   implementation.
//! - [`reconcile`] compares a report-basis record with the stream-basis one of the same queue
//!   and interval, field by field.

mod ctr;
mod event;
mod file;
mod interval;
mod key;
mod leg;
mod reconcile;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod store;
mod summary;

pub use ctr::{
    ContactRecord, ContactRecordError, CtrAgent, CtrQueue, MAX_CONTACT_RECORD_BYTES, contact_record_from_value,
    decode_contact_record,
};
pub use event::{
    ContactEvent, ContactEventError, ContactEventType, DETAIL_TYPE, MAX_CONTACT_EVENT_BYTES, SOURCE,
    contact_event_from_value, decode_contact_event, last_segment, parse_contact_time,
};
pub use file::{
    CtrFile, CtrFileEntry, CtrFileError, MAX_CTR_FILE_BYTES, decompress, is_gzip, looks_like_ctr_file, read_ctr_file,
};
pub use interval::{
    DEFAULT_THRESHOLDS, StreamQueueInterval, StreamSettings, retracted_stream_queue_interval, stream_feed_key,
    stream_queue_interval, stream_queue_interval_of, stream_queue_intervals, stream_queue_intervals_for,
};
pub use key::{INTERVAL_MINUTES, IntervalKey, interval_start};
pub use leg::{
    Changes, ContactInput, CtrFacts, EventFacts, Fact, Leg, LegBook, LegKey, LegOutcome, QueueNames, SUCCESSOR_METHODS,
    Stamp,
};
pub use reconcile::{FieldComparison, ReconcileError, Reconciliation, reconcile, write_differences};
pub use summary::{CtrDurations, LegSummary};

/// Why bytes are neither a contact event nor a contact record.
#[derive(Debug, thiserror::Error)]
pub enum ContactInputError {
    /// Looked like a contact event (has `detail-type`) but is not a usable one.
    #[error("contact event: {0}")]
    Event(#[from] ContactEventError),
    /// Looked like a contact record (has `ContactId`) but is not a usable one.
    #[error("contact record: {0}")]
    Record(#[from] ContactRecordError),
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// Neither shape.
    #[error("neither a contact event (no `detail-type`) nor a contact record (no `ContactId`)")]
    Unrecognised,
}

/// Decodes an EventBridge contact event or a contact record, told apart by content: an
/// EventBridge event has `detail-type`, a contact record a top-level `ContactId`.
pub fn decode_contact_input(bytes: &[u8]) -> Result<ContactInput, ContactInputError> {
    // The larger of the two limits, before parsing anything.
    if bytes.len() > MAX_CONTACT_RECORD_BYTES {
        return Err(ContactRecordError::TooLarge(bytes.len()).into());
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: serde_json::Value = serde_json::from_slice(text).map_err(ContactInputError::NotJson)?;
    if value.get("detail-type").is_some() {
        if bytes.len() > MAX_CONTACT_EVENT_BYTES {
            return Err(ContactEventError::TooLarge(bytes.len()).into());
        }
        Ok(ContactInput::Event(contact_event_from_value(value)?))
    } else if value.get("ContactId").is_some() {
        Ok(ContactInput::Record(contact_record_from_value(value)?))
    } else {
        Err(ContactInputError::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_routed_by_content() {
        let ctr = include_bytes!("../../../../events/contact-records/ctr-jdoe-inbound-call.json");
        assert!(matches!(decode_contact_input(ctr), Ok(ContactInput::Record(_))));
        let event = br#"{"id":"e","time":"2026-11-20T10:00:00Z","detail-type":"Amazon Connect Contact Event","source":"aws.connect","detail":{"eventType":"QUEUED","contactId":"c","instanceArn":"arn:aws:connect:us-east-1:1:instance/i"}}"#;
        assert!(matches!(decode_contact_input(event), Ok(ContactInput::Event(_))));
        let agent_event = br#"{"AgentARN":"a","EventType":"HEART_BEAT"}"#;
        assert!(matches!(
            decode_contact_input(agent_event),
            Err(ContactInputError::Unrecognised)
        ));
        assert!(matches!(
            decode_contact_input(b"nope"),
            Err(ContactInputError::NotJson(_))
        ));
        let other = br#"{"detail-type":"Scheduled Event","source":"aws.events","id":"x","time":"2026-11-20T10:00:00Z","detail":{}}"#;
        let err = decode_contact_input(other).unwrap_err().to_string();
        assert!(
            err.starts_with("contact event: not a contact event: detail-type `Scheduled Event`"),
            "{err}"
        );
        let bad_ctr = br#"{"ContactId":"c","InstanceARN":"arn:aws:connect:us-east-1:1:instance/i"}"#;
        assert_eq!(
            decode_contact_input(bad_ctr).unwrap_err().to_string(),
            "contact record: missing field `LastUpdateTimestamp`"
        );
    }
}
