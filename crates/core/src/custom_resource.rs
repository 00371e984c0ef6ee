//! The bucket-notifications custom resource, as far as it is pure: our entry of a bucket's
//! notification configuration ([`ReportsNotification`], its deterministic Id, the [`OurEntry`]
//! edits a configuration type offers), and the answer to a CloudFormation request: SUCCESS or
//! FAILED with a Reason, the ids that tie it to its request, and the JSON body PUT to the
//! request's ResponseURL.
//!
//! Our own answer type rather than `aws_lambda_events`' one, which serialises `"Reason": null`:
//! CloudFormation wants a Reason, and the whole body under 4 KB. Sent through the
//! [`crate::ports::ResponseSender`] port. The configuration itself is the adapter's type (the
//! S3 SDK's entries), edited through [`OurEntry`], so this crate never names the SDK.

use serde::Serialize;
use serde_json::{Map, Value};

/// Largest response body CloudFormation accepts is 4096 bytes; stay under it.
pub const MAX_RESPONSE_BYTES: usize = 4000;

/// The fields of a request needed to answer it, even when the rest is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent in a Create.
    pub physical_resource_id: Option<String>,
}

/// SUCCESS or FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

impl Status {
    /// As CloudFormation spells it: `SUCCESS` or `FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

/// The answer PUT to the ResponseURL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: Status,
    /// Never empty; shortened so the body stays under [`MAX_RESPONSE_BYTES`].
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    /// Values for `!GetAtt`: `NotificationId` and `BucketName` on success.
    pub data: Map<String, Value>,
}

impl CustomResourceResponse {
    /// An answer to `envelope`; the PhysicalResourceId is the request's when it has one
    /// (Update, Delete), else `id` (Create): one id for the resource's whole life.
    pub fn new(envelope: &Envelope, id: &str, status: Status, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            status,
            reason: if reason.trim().is_empty() {
                "no reason given".to_owned()
            } else {
                reason
            },
            physical_resource_id: envelope.physical_resource_id.clone().unwrap_or_else(|| id.to_owned()),
            stack_id: envelope.stack_id.clone(),
            request_id: envelope.request_id.clone(),
            logical_resource_id: envelope.logical_resource_id.clone(),
            no_echo: false,
            data: Map::new(),
        }
    }

    /// The JSON body, under [`MAX_RESPONSE_BYTES`]: ids are capped at [`MAX_ID_BYTES`], a
    /// long Reason is cut (at a character boundary, marked with `…`), then the Data dropped if
    /// it still does not fit.
    pub fn to_body(&self) -> Vec<u8> {
        let mut response = self.clone();
        for id in [
            &mut response.physical_resource_id,
            &mut response.stack_id,
            &mut response.request_id,
            &mut response.logical_resource_id,
        ] {
            cut(id, MAX_ID_BYTES);
        }
        for _ in 0..16 {
            let body = serde_json::to_vec(&response).unwrap_or_default();
            if body.len() <= MAX_RESPONSE_BYTES {
                return body;
            }
            let excess = body.len() - MAX_RESPONSE_BYTES;
            if response.reason.len() > MIN_REASON_BYTES {
                let keep = response.reason.len().saturating_sub(excess + 16).max(MIN_REASON_BYTES);
                cut(&mut response.reason, keep);
                response.reason.push('…');
            } else if !response.data.is_empty() {
                response.data.clear();
            } else {
                break;
            }
        }
        // Only text that escapes to many times its size gets here.
        response.reason = "the reason was too long to send".to_owned();
        response.data.clear();
        serde_json::to_vec(&response).unwrap_or_default()
    }
}

/// The S3 events our entry subscribes to.
pub const OBJECT_CREATED: &str = "s3:ObjectCreated:*";

/// Suffix of the objects our entry selects when the resource names none.
pub const DEFAULT_SUFFIX: &str = ".csv";

/// What our entry is: the reports of a bucket (prefix and suffix) sent to a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsNotification {
    /// Our entry's Id, see [`notification_id`].
    pub id: String,
    pub queue_arn: String,
    pub prefix: String,
    pub suffix: String,
}

impl ReportsNotification {
    /// Where our entry sends what, in words: `keys under `p/` ending `.csv``.
    pub fn describe_filter(&self) -> String {
        let prefix = if self.prefix.is_empty() {
            "any key".to_owned()
        } else {
            format!("keys under `{}`", self.prefix)
        };
        let suffix = if self.suffix.is_empty() {
            String::new()
        } else {
            format!(" ending `{}`", self.suffix)
        };
        format!("{prefix}{suffix}")
    }
}

/// What a change to the configuration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The configuration changed: it must be written back.
    Changed,
    /// It already was as wanted: nothing to write.
    Unchanged,
}

/// Our entry's edits of a bucket's notification configuration (implemented by the adapter's
/// configuration type).
pub trait OurEntry {
    /// Number of entries with this Id, of any kind.
    fn count_id(&self, id: &str) -> usize;

    /// Adds our entry, or replaces the entry that carries its Id (in place, so the order of
    /// the other entries is kept). Entries with other Ids, of every kind, are untouched.
    fn upsert(&mut self, ours: &ReportsNotification) -> Change;

    /// Removes every entry that carries our Id; the others are untouched.
    fn remove(&mut self, id: &str) -> Change;
}

/// Longest part of the stack name and of the logical id kept in a notification Id.
const ID_PART_MAX: usize = 64;

/// The Id of our entry, the same for every request about one resource of one stack:
/// `connect-wfm-<stack name>-<logical id>-<16 hex digits>`, the hex digits a stable hash
/// (FNV-1a) of the whole stack id and logical id, so two stacks of the same name in different
/// regions or accounts, or one stack re-created, never take each other's entry. Characters
/// other than ASCII letters, digits, `-` and `_` become `-`.
pub fn notification_id(stack_id: &str, logical_resource_id: &str) -> String {
    // A stack id is `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
    let stack_name = stack_id
        .split_once(":stack/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(stack_id);
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(ID_PART_MAX)
            .collect()
    };
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, format!("{stack_id}\n{logical_resource_id}").as_bytes());
    let hash = std::hash::Hasher::finish(&hasher);
    format!(
        "connect-wfm-{}-{}-{hash:016x}",
        clean(stack_name),
        clean(logical_resource_id)
    )
}

/// Longest id echoed in a response (real ones are far shorter).
pub const MAX_ID_BYTES: usize = 512;

/// A Reason is never cut below this many bytes.
const MIN_REASON_BYTES: usize = 64;

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            response_url: "https://example.invalid/response".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/1".into(),
            request_id: "r1".into(),
            logical_resource_id: "ReportsNotification".into(),
            physical_resource_id: None,
        }
    }

    #[test]
    fn response_always_has_a_reason_and_fits_in_4_kb() {
        let envelope = envelope();
        let blank = CustomResourceResponse::new(&envelope, "id", Status::Failed, " ");
        let body: Value = serde_json::from_slice(&blank.to_body()).unwrap();
        assert_eq!(body["Reason"], "no reason given");
        assert_eq!(body["PhysicalResourceId"], "id");
        assert_eq!(body["Status"], "FAILED");
        let long = CustomResourceResponse::new(&envelope, "id", Status::Failed, "é\"\n".repeat(5000));
        let bytes = long.to_body();
        assert!(bytes.len() <= MAX_RESPONSE_BYTES, "{}", bytes.len());
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["Reason"].as_str().unwrap().ends_with('…'));
        let mut huge_data = CustomResourceResponse::new(&envelope, "id", Status::Success, "ok");
        huge_data.data.insert("X".into(), json!("y".repeat(10_000)));
        assert!(huge_data.to_body().len() <= MAX_RESPONSE_BYTES);
        let mut escapes = CustomResourceResponse::new(&envelope, "id", Status::Failed, "\u{1}".repeat(3000));
        escapes.stack_id = "s".repeat(100_000);
        let body: Value = serde_json::from_slice(&escapes.to_body()).unwrap();
        assert!(serde_json::to_vec(&body).unwrap().len() <= MAX_RESPONSE_BYTES);
        assert_eq!(body["StackId"].as_str().unwrap().len(), MAX_ID_BYTES);
    }
    #[test]
    fn ids_are_deterministic_readable_and_distinct() {
        let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/connect-wfm/5b8e-11ef";
        let id = notification_id(stack, "ReportsNotification");
        assert_eq!(id, notification_id(stack, "ReportsNotification"));
        assert!(id.starts_with("connect-wfm-connect-wfm-ReportsNotification-"), "{id}");
        assert_ne!(
            id,
            notification_id(&stack.replace("us-east-1", "eu-west-1"), "ReportsNotification")
        );
        assert_ne!(id, notification_id(stack, "Other"));
        let odd = notification_id("not an arn/with spaces", &"x".repeat(300));
        assert!(odd.len() < 200 && odd.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn ids_keep_the_hash_they_always_had() {
        // Ids already stored in buckets must be found again: the hash is FNV-1a 64 of
        // `<stack id>\n<logical id>`, as before the `fnv` crate computed it.
        let reference = "a\nb".bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        assert_eq!(notification_id("a", "b"), format!("connect-wfm-a-b-{reference:016x}"));
    }
}
