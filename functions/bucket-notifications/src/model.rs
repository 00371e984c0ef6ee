//! The one entry of a bucket's notification configuration that is ours: found by its
//! deterministic Id, added, replaced or removed while every other entry is kept as it was. The
//! configuration and its entries are the SDK's types (see
//! [`connect_wfm_aws::notifications::NotificationConfiguration`]).

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use connect_wfm_aws::notifications::NotificationConfiguration;

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
    /// The queue entry S3 is given: `s3:ObjectCreated:*` for keys with our prefix and suffix
    /// (an empty prefix or suffix is left out: S3 refuses empty rule values).
    pub fn entry(&self) -> QueueConfiguration {
        let filter_rules: Vec<FilterRule> = [
            (FilterRuleName::Prefix, &self.prefix),
            (FilterRuleName::Suffix, &self.suffix),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| FilterRule::builder().name(name).value(value).build())
        .collect();
        QueueConfiguration::builder()
            .id(&self.id)
            .queue_arn(&self.queue_arn)
            .events(Event::from(OBJECT_CREATED))
            .set_filter((!filter_rules.is_empty()).then(|| {
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(filter_rules)).build())
                    .build()
            }))
            .build()
            .expect("queue ARN and events are set")
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

/// Our entry's edits of a configuration.
pub trait OurEntry {
    /// Number of entries with this Id, of any kind.
    fn count_id(&self, id: &str) -> usize;

    /// Adds our entry, or replaces the entry that carries its Id (in place, so the order of
    /// the other entries is kept). Entries with other Ids, of every kind, are untouched.
    fn upsert(&mut self, ours: &ReportsNotification) -> Change;

    /// Removes every entry that carries our Id; the others are untouched.
    fn remove(&mut self, id: &str) -> Change;
}

impl OurEntry for NotificationConfiguration {
    fn count_id(&self, id: &str) -> usize {
        let is = |other: Option<&str>| other == Some(id);
        self.queue_configurations.iter().filter(|e| is(e.id())).count()
            + self.topic_configurations.iter().filter(|e| is(e.id())).count()
            + self
                .lambda_function_configurations
                .iter()
                .filter(|e| is(e.id()))
                .count()
    }

    fn upsert(&mut self, ours: &ReportsNotification) -> Change {
        let entry = ours.entry();
        let is_ours = |id: Option<&str>| id == Some(ours.id.as_str());
        let existing: Vec<&QueueConfiguration> = self.queue_configurations.iter().filter(|e| is_ours(e.id())).collect();
        if self.count_id(&ours.id) == 1 && existing.len() == 1 && same_entry(existing[0], &entry) {
            return Change::Unchanged;
        }
        self.topic_configurations.retain(|e| !is_ours(e.id()));
        self.lambda_function_configurations.retain(|e| !is_ours(e.id()));
        let mut placed = false;
        self.queue_configurations.retain_mut(|e| {
            if !is_ours(e.id()) {
                true
            } else if placed {
                false
            } else {
                *e = entry.clone();
                placed = true;
                true
            }
        });
        if !placed {
            self.queue_configurations.push(entry);
        }
        Change::Changed
    }

    fn remove(&mut self, id: &str) -> Change {
        if self.count_id(id) == 0 {
            return Change::Unchanged;
        }
        let not_ours = |other: Option<&str>| other != Some(id);
        self.queue_configurations.retain(|e| not_ours(e.id()));
        self.topic_configurations.retain(|e| not_ours(e.id()));
        self.lambda_function_configurations.retain(|e| not_ours(e.id()));
        Change::Changed
    }
}

/// Equal as S3 sees them: rule names compared without case (S3 stores `prefix` and answers
/// `Prefix`), rule and event order ignored.
fn same_entry(stored: &QueueConfiguration, wanted: &QueueConfiguration) -> bool {
    let rules = |e: &QueueConfiguration| {
        let mut rules: Vec<(String, String)> = e
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let name = r.name().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
                (name, r.value().unwrap_or_default().to_owned())
            })
            .collect();
        rules.sort();
        rules
    };
    fn events(e: &QueueConfiguration) -> Vec<&str> {
        let mut events: Vec<&str> = e.events().iter().map(Event::as_str).collect();
        events.sort();
        events
    }
    stored.queue_arn == wanted.queue_arn && events(stored) == events(wanted) && rules(stored) == rules(wanted)
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
    let hash = fnv1a64(format!("{stack_id}\n{logical_resource_id}").as_bytes());
    format!(
        "connect-wfm-{}-{}-{hash:016x}",
        clean(stack_name),
        clean(logical_resource_id)
    )
}

/// FNV-1a, 64 bits: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(prefix: &str) -> ReportsNotification {
        ReportsNotification {
            id: "connect-wfm-x".into(),
            queue_arn: "arn:aws:sqs:us-east-1:1:reports".into(),
            prefix: prefix.into(),
            suffix: ".csv".into(),
        }
    }

    fn foreign() -> NotificationConfiguration {
        serde_json::from_value(serde_json::json!({
            "QueueConfigurations": [{"Id": "theirs", "QueueArn": "arn:aws:sqs:us-east-1:1:other", "Events": ["s3:ObjectRemoved:*"]}],
            "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectCreated:Put"]}],
            "LambdaFunctionConfigurations": [{"Id": "fn", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
                "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "img/"}]}}}],
            "EventBridgeConfiguration": {}
        }))
        .unwrap()
    }

    #[test]
    fn upsert_keeps_every_foreign_entry_and_replaces_ours_in_place() {
        let mut config = foreign();
        assert_eq!(config.upsert(&ours("a/")), Change::Changed);
        assert_eq!(config.upsert(&ours("a/")), Change::Unchanged);
        assert_eq!(config.queue_configurations.len(), 2);
        assert_eq!(config.upsert(&ours("b/")), Change::Changed);
        assert_eq!(config.count_id("connect-wfm-x"), 1);
        assert_eq!(config.queue_configurations[1], ours("b/").entry());
        let mut expected = foreign();
        expected.queue_configurations.push(ours("b/").entry());
        assert_eq!(config, expected);
        assert_eq!(config.remove("connect-wfm-x"), Change::Changed);
        assert_eq!(config, foreign());
        assert_eq!(config.remove("connect-wfm-x"), Change::Unchanged);
    }

    #[test]
    fn stored_rules_answered_capitalised_are_the_same_entry() {
        let mut config = NotificationConfiguration::default();
        let mut stored = ours("p/").entry();
        let key = stored.filter.as_mut().and_then(|f| f.key.as_mut()).unwrap();
        let rules = key.filter_rules.as_mut().unwrap();
        for rule in rules.iter_mut() {
            rule.name = rule
                .name
                .take()
                .map(|n| FilterRuleName::from(n.as_str().to_uppercase().as_str()));
        }
        rules.reverse();
        config.queue_configurations.push(stored);
        assert_eq!(config.upsert(&ours("p/")), Change::Unchanged);
    }

    #[test]
    fn empty_prefix_is_left_out_of_the_filter() {
        let entry = ours("").entry();
        let rules = entry.filter().and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap();
        assert_eq!(
            rules,
            [FilterRule::builder().name(FilterRuleName::Suffix).value(".csv").build()]
        );
        let none = ReportsNotification {
            suffix: String::new(),
            ..ours("")
        }
        .entry();
        assert_eq!(none.filter, None);
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
}
