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
        describe_filter(&self.prefix, &self.suffix)
    }

    /// Our queue entry as the overlap rule sees it.
    pub fn entry(&self) -> NotificationEntry {
        NotificationEntry {
            id: Some(self.id.clone()),
            destination: self.queue_arn.clone(),
            events: vec![OBJECT_CREATED.to_owned()],
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
        }
    }
}

/// How the reports reach the queue: a queue entry of the bucket's own (S3 → SQS), or the
/// bucket's EventBridge notifications and a rule of the stack (S3 → EventBridge → SQS), which
/// never collide with other consumers' entries. The template parameter `ReportsNotification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    #[default]
    Queue,
    EventBridge,
}

impl Delivery {
    /// The value of the `Delivery` property: `queue` or `eventbridge`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queue" => Some(Delivery::Queue),
            "eventbridge" => Some(Delivery::EventBridge),
            _ => None,
        }
    }
}

/// One entry of a bucket's notification configuration, of any kind, as S3's overlap rule sees
/// it: its events and its key filter. Built by the adapter from its configuration type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationEntry {
    pub id: Option<String>,
    /// ARN of the queue, topic or function it sends to.
    pub destination: String,
    /// Event types as S3 spells them (`s3:ObjectCreated:*`, `s3:ObjectCreated:Put`, ...).
    pub events: Vec<String>,
    /// Empty: no prefix rule (every key).
    pub prefix: String,
    /// Empty: no suffix rule (every key).
    pub suffix: String,
}

impl NotificationEntry {
    /// The entry in words, for a Reason or a doctor's line: `` `theirs` (s3:ObjectCreated:* of
    /// keys under `a/` ending `.csv` to arn:...) ``.
    pub fn describe(&self) -> String {
        format!(
            "`{}` ({} of {} to {})",
            self.id.as_deref().unwrap_or("(no Id)"),
            self.events.join(", "),
            describe_filter(&self.prefix, &self.suffix),
            self.destination
        )
    }

    /// True when S3 would refuse `self` and `other` in one configuration: they share an event
    /// type (a wildcard such as `s3:ObjectCreated:*` covers every `s3:ObjectCreated:` event), and
    /// their prefixes are prefixes of one another, and their suffixes suffixes of one another
    /// (an empty filter selects every key, so it overlaps any).
    pub fn overlaps(&self, other: &NotificationEntry) -> bool {
        let events = self
            .events
            .iter()
            .any(|a| other.events.iter().any(|b| events_overlap(a, b)));
        let prefixes = self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix);
        let suffixes = self.suffix.ends_with(&other.suffix) || other.suffix.ends_with(&self.suffix);
        events && prefixes && suffixes
    }
}

/// Two S3 event types overlap when they are the same, or one is a wildcard (`s3:ObjectCreated:*`)
/// whose stem begins the other (`s3:ObjectCreated:Put`, or the same wildcard).
pub fn events_overlap(a: &str, b: &str) -> bool {
    let covers = |wild: &str, other: &str| wild.strip_suffix('*').is_some_and(|stem| other.starts_with(stem));
    a == b || covers(a, b) || covers(b, a)
}

/// The first entry of `entries` other than ours (by Id) that overlaps `ours`: S3 would refuse a
/// configuration holding both.
pub fn overlapping<'a>(entries: &'a [NotificationEntry], ours: &NotificationEntry) -> Option<&'a NotificationEntry> {
    entries
        .iter()
        .filter(|e| ours.id.is_none() || e.id != ours.id)
        .find(|e| e.overlaps(ours))
}

/// The Reason of a Create or Update refused before writing because `theirs` overlaps our entry
/// in `bucket`: who it is, and the ways out.
pub fn overlap_reason(bucket: &str, theirs: &NotificationEntry, ours: &NotificationEntry) -> String {
    format!(
        "s3://{bucket} already has notification {} that overlaps ours ({} of {}): S3 refuses two entries \
         for the same event whose prefixes and suffixes overlap. Nothing was changed. Way out: deploy with the \
         parameter ReportsNotification=eventbridge (S3 sends the bucket's events to EventBridge, which never \
         collides with other consumers, and a rule of the stack routes the reports to the same queue), or narrow \
         or remove that entry if it is yours (e.g. the vendor connector being migrated from)",
        theirs.describe(),
        ours.events.join(", "),
        describe_filter(&ours.prefix, &ours.suffix),
    )
}

/// A key filter in words: `keys under `p/` ending `.csv``, `any key`.
fn describe_filter(prefix: &str, suffix: &str) -> String {
    let prefix = if prefix.is_empty() {
        "any key".to_owned()
    } else {
        format!("keys under `{prefix}`")
    };
    if suffix.is_empty() {
        prefix
    } else {
        format!("{prefix} ending `{suffix}`")
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

    /// Every entry (queue, topic, function), ours included, for the overlap rule.
    fn entries(&self) -> Vec<NotificationEntry>;

    /// True when the bucket sends its events to EventBridge.
    fn event_bridge(&self) -> bool;

    /// Turns the bucket's EventBridge notifications on; every entry is kept.
    fn enable_event_bridge(&mut self) -> Change;
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

    fn entry(id: &str, events: &[&str], prefix: &str, suffix: &str) -> NotificationEntry {
        NotificationEntry {
            id: Some(id.into()),
            destination: format!("arn:aws:sqs:us-east-1:1:{id}"),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            prefix: prefix.into(),
            suffix: suffix.into(),
        }
    }

    fn ours(prefix: &str) -> NotificationEntry {
        entry("ours", &[OBJECT_CREATED], prefix, ".csv")
    }

    #[test]
    fn wildcard_events_cover_the_specific_ones_of_their_family() {
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:*"));
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:*"));
        assert!(events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:Put"));
        assert!(!events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"));
        assert!(!events_overlap("s3:ObjectCreated:*", "s3:ObjectRemoved:*"));
        assert!(!events_overlap("s3:ObjectRemoved:*", "s3:ObjectCreated:Put"));
        let put = entry("theirs", &["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"], "", "");
        assert!(put.overlaps(&ours("connect/")));
        let removed = entry("theirs", &["s3:ObjectRemoved:*"], "", "");
        assert!(!removed.overlaps(&ours("connect/")));
    }

    #[test]
    fn prefixes_overlap_when_one_begins_the_other_and_suffixes_when_one_ends_the_other() {
        let mine = ours("connect/acme/Reports/");
        for (prefix, suffix, overlap) in [
            ("connect/", "", true),
            ("connect/acme/Reports/wfm/", ".csv", true),
            ("connect/acme/Reports/", "", true),
            ("", "", true),
            ("", ".csv", true),
            ("connect/other/", ".csv", false),
            ("images/", "", false),
            ("connect/", ".gz", false),
            ("connect/", "report.csv", true),
            ("connect/", "csv", true),
            ("", ".json", false),
        ] {
            let theirs = entry("theirs", &["s3:ObjectCreated:*"], prefix, suffix);
            assert_eq!(theirs.overlaps(&mine), overlap, "prefix {prefix:?}, suffix {suffix:?}");
            assert_eq!(mine.overlaps(&theirs), overlap, "symmetric: {prefix:?}, {suffix:?}");
        }
        let unfiltered = entry("theirs", &["s3:ObjectCreated:*"], "", "");
        assert!(unfiltered.overlaps(&ours("")));
    }

    #[test]
    fn our_own_entry_is_replaced_not_flagged() {
        let stored = vec![
            entry("ours", &[OBJECT_CREATED], "old/", ".csv"),
            entry("audit", &["s3:ObjectRemoved:*"], "", ""),
            entry("thumbnails", &[OBJECT_CREATED], "images/", ""),
        ];
        assert_eq!(overlapping(&stored, &ours("old/")), None);
        assert_eq!(overlapping(&stored, &ours("")), Some(&stored[2]));
        let mut vendor = stored.clone();
        vendor.push(entry("vendor", &["s3:ObjectCreated:Put"], "connect/", ""));
        assert_eq!(overlapping(&vendor, &ours("connect/acme/")), Some(&vendor[3]));
    }

    #[test]
    fn the_overlap_reason_names_the_entry_its_target_its_filter_and_the_way_out() {
        let theirs = entry("vendor-reports", &["s3:ObjectCreated:*"], "connect/", "");
        let reason = overlap_reason("reports-bucket", &theirs, &ours("connect/acme/"));
        for part in [
            "s3://reports-bucket",
            "`vendor-reports`",
            "arn:aws:sqs:us-east-1:1:vendor-reports",
            "keys under `connect/`",
            "keys under `connect/acme/` ending `.csv`",
            "ReportsNotification=eventbridge",
            "Nothing was changed",
        ] {
            assert!(reason.contains(part), "{part} missing: {reason}");
        }
        assert_eq!(Delivery::parse("eventbridge"), Some(Delivery::EventBridge));
        assert_eq!(Delivery::parse("queue"), Some(Delivery::Queue));
        assert_eq!(Delivery::parse("sns"), None);
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
