//! A bucket's S3 event notification configuration: the S3 adapter ([`S3NotificationStore`]) of
//! the custom resource's port (`connect_wfm_core::ports::NotificationStore`), the configuration
//! type it reads and writes, our entry's edits of it ([`OurEntry`]) and its JSON form.
//!
//! The entries are the SDK's own types (`aws_sdk_s3::types::QueueConfiguration`, ...), read
//! from GetBucketNotificationConfiguration and written with PutBucketNotificationConfiguration
//! as they are, so a foreign entry is written back exactly as it was read. The handler sees
//! the configuration only through [`OurEntry`], and never names the SDK.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, TopicConfiguration,
};
use connect_wfm_core::custom_resource::{Change, NotificationEntry, OBJECT_CREATED, OurEntry, ReportsNotification};
use connect_wfm_core::ports::{Fetched, NotificationStore, PortError, Stored};
use serde::{Deserialize, Serialize};

use crate::error::describe;

/// A bucket's whole notification configuration, entry lists as S3 keeps them. An empty one (no
/// entry at all) is a valid configuration: writing it removes every notification of the bucket.
///
/// The SDK's `NotificationConfiguration` with `Vec`s where it has `Option<Vec>`: S3 answers a
/// bucket without entries of a kind with no list at all, and "no list" and "empty list" must
/// compare equal. Its JSON form is S3's API shape, as `aws s3api
/// get-bucket-notification-configuration` prints it (local buckets of the CLI, tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationConfiguration {
    pub queue_configurations: Vec<QueueConfiguration>,
    pub topic_configurations: Vec<TopicConfiguration>,
    pub lambda_function_configurations: Vec<LambdaFunctionConfiguration>,
    /// Present when the bucket also sends its events to EventBridge.
    pub event_bridge_configuration: Option<EventBridgeConfiguration>,
}

impl NotificationConfiguration {
    /// True when the configuration has no entry at all.
    pub fn is_empty(&self) -> bool {
        self.queue_configurations.is_empty()
            && self.topic_configurations.is_empty()
            && self.lambda_function_configurations.is_empty()
            && self.event_bridge_configuration.is_none()
    }

    /// The SDK's form, as PutBucketNotificationConfiguration takes it.
    pub fn to_sdk(&self) -> aws_sdk_s3::types::NotificationConfiguration {
        fn list<T: Clone>(entries: &[T]) -> Option<Vec<T>> {
            (!entries.is_empty()).then(|| entries.to_vec())
        }
        aws_sdk_s3::types::NotificationConfiguration::builder()
            .set_queue_configurations(list(&self.queue_configurations))
            .set_topic_configurations(list(&self.topic_configurations))
            .set_lambda_function_configurations(list(&self.lambda_function_configurations))
            .set_event_bridge_configuration(self.event_bridge_configuration.clone())
            .build()
    }

    /// Rule names as S3 documents them (`prefix`, `suffix`): S3 answers them capitalised,
    /// which the SDK reads as unknown names.
    fn with_canonical_rule_names(mut self) -> Self {
        let filters = (self.queue_configurations.iter_mut().map(|e| &mut e.filter))
            .chain(self.topic_configurations.iter_mut().map(|e| &mut e.filter))
            .chain(self.lambda_function_configurations.iter_mut().map(|e| &mut e.filter));
        for filter in filters.flatten() {
            for rule in filter.key.iter_mut().flat_map(|k| k.filter_rules.iter_mut().flatten()) {
                rule.name = rule.name.take().map(|name| rule_name(name.as_str()));
            }
        }
        self
    }
}

/// The rule name of `name`, case-insensitive for the two S3 knows.
fn rule_name(name: &str) -> FilterRuleName {
    match name.to_ascii_lowercase().as_str() {
        "prefix" => FilterRuleName::Prefix,
        "suffix" => FilterRuleName::Suffix,
        _ => FilterRuleName::from(name),
    }
}

/// The queue entry S3 is given for `ours`: `s3:ObjectCreated:*` for keys with our prefix and
/// suffix (an empty prefix or suffix is left out: S3 refuses empty rule values).
pub fn queue_entry(ours: &ReportsNotification) -> QueueConfiguration {
    let filter_rules: Vec<FilterRule> = [
        (FilterRuleName::Prefix, &ours.prefix),
        (FilterRuleName::Suffix, &ours.suffix),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| FilterRule::builder().name(name).value(value).build())
    .collect();
    QueueConfiguration::builder()
        .id(&ours.id)
        .queue_arn(&ours.queue_arn)
        .events(Event::from(OBJECT_CREATED))
        .set_filter((!filter_rules.is_empty()).then(|| {
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(filter_rules)).build())
                .build()
        }))
        .build()
        .expect("queue ARN and events are set")
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
        let entry = queue_entry(ours);
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

    fn entries(&self) -> Vec<NotificationEntry> {
        let queues =
            (self.queue_configurations.iter()).map(|e| entry_view(e.id(), &e.queue_arn, &e.events, e.filter()));
        let topics =
            (self.topic_configurations.iter()).map(|e| entry_view(e.id(), &e.topic_arn, &e.events, e.filter()));
        let functions = (self.lambda_function_configurations.iter())
            .map(|e| entry_view(e.id(), &e.lambda_function_arn, &e.events, e.filter()));
        queues.chain(topics).chain(functions).collect()
    }

    fn event_bridge(&self) -> bool {
        self.event_bridge_configuration.is_some()
    }

    fn enable_event_bridge(&mut self) -> Change {
        if self.event_bridge_configuration.is_some() {
            return Change::Unchanged;
        }
        self.event_bridge_configuration = Some(EventBridgeConfiguration::builder().build());
        Change::Changed
    }
}

/// An SDK entry of any kind as the overlap rule sees it.
fn entry_view(
    id: Option<&str>,
    destination: &str,
    events: &[Event],
    filter: Option<&NotificationConfigurationFilter>,
) -> NotificationEntry {
    let rule = |name: &str| {
        filter
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .find(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case(name)))
            .and_then(|r| r.value())
            .unwrap_or_default()
            .to_owned()
    };
    NotificationEntry {
        id: id.map(str::to_owned),
        destination: destination.to_owned(),
        events: events.iter().map(|e| e.as_str().to_owned()).collect(),
        prefix: rule("prefix"),
        suffix: rule("suffix"),
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

/// Notification configurations of S3 buckets, with GetBucketNotificationConfiguration and
/// PutBucketNotificationConfiguration.
#[derive(Debug, Clone)]
pub struct S3NotificationStore {
    pub client: Client,
}

impl S3NotificationStore {
    /// A store working through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn no_such_bucket<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("NoSuchBucket")
}

impl NotificationStore for S3NotificationStore {
    type Configuration = NotificationConfiguration;

    async fn get(&self, bucket: &str) -> Result<Fetched<NotificationConfiguration>, PortError> {
        match self
            .client
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            // A bucket without any notification has none of the lists: the empty configuration.
            Ok(output) => Ok(Fetched::Found(
                NotificationConfiguration {
                    queue_configurations: output.queue_configurations.unwrap_or_default(),
                    topic_configurations: output.topic_configurations.unwrap_or_default(),
                    lambda_function_configurations: output.lambda_function_configurations.unwrap_or_default(),
                    event_bridge_configuration: output.event_bridge_configuration,
                }
                .with_canonical_rule_names(),
            )),
            Err(e) if no_such_bucket(&e) => Ok(Fetched::BucketGone),
            Err(e) => Err(PortError::new(
                format!("read the notification configuration of bucket {bucket}"),
                describe(&e),
                true,
            )),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        configuration: &NotificationConfiguration,
        validate_destinations: bool,
    ) -> Result<Stored, PortError> {
        match self
            .client
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(configuration.to_sdk())
            .skip_destination_validation(!validate_destinations)
            .send()
            .await
        {
            Ok(_) => Ok(Stored::Written),
            Err(e) if no_such_bucket(&e) => Ok(Stored::BucketGone),
            Err(e) => Err(PortError::new(
                format!("write the notification configuration of bucket {bucket}"),
                describe(&e),
                true,
            )),
        }
    }
}

// The JSON form, S3's API shape. The SDK's types have no serde support (only behind an unstable
// cfg), so it goes through these shapes, one per JSON object of S3's document, converted to the
// SDK's types.

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigurationJson {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    queue_configurations: Vec<EntryJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    topic_configurations: Vec<EntryJson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lambda_function_configurations: Vec<EntryJson>,
    /// `{}` when present: S3 gives it no fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_bridge_configuration: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One entry of any kind: the kinds differ only in the name of their target.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EntryJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(flatten)]
    target: Target,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<FilterJson>,
}

/// The target of an entry. The container name is what serde's error names when none is given.
#[derive(Serialize, Deserialize)]
#[serde(rename = "target (QueueArn, TopicArn or LambdaFunctionArn)")]
enum Target {
    #[serde(rename = "QueueArn")]
    Queue(String),
    #[serde(rename = "TopicArn")]
    Topic(String),
    #[serde(rename = "LambdaFunctionArn")]
    LambdaFunction(String),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<KeyJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyJson {
    #[serde(default)]
    filter_rules: Vec<RuleJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleJson {
    name: String,
    value: String,
}

impl Target {
    /// The JSON name of the target and its ARN.
    fn name_and_arn(&self) -> (&'static str, &str) {
        match self {
            Target::Queue(arn) => ("QueueArn", arn),
            Target::Topic(arn) => ("TopicArn", arn),
            Target::LambdaFunction(arn) => ("LambdaFunctionArn", arn),
        }
    }
}

/// What the three kinds of SDK entry share: Id, events, filter.
type EntryParts = (
    Option<String>,
    Option<Vec<Event>>,
    Option<NotificationConfigurationFilter>,
);

impl EntryJson {
    fn new(
        id: Option<&str>,
        target: Target,
        events: &[Event],
        filter: Option<&NotificationConfigurationFilter>,
    ) -> Self {
        let rule = |r: &FilterRule| RuleJson {
            name: r.name.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default(),
            value: r.value.clone().unwrap_or_default(),
        };
        Self {
            id: id.map(str::to_owned),
            target,
            events: events.iter().map(|e| e.as_str().to_owned()).collect(),
            filter: filter.map(|f| FilterJson {
                key: f.key.as_ref().map(|k| KeyJson {
                    filter_rules: k.filter_rules.iter().flatten().map(rule).collect(),
                }),
            }),
        }
    }

    /// The Id, events and filter, as the SDK's builders take them.
    fn parts(&self) -> EntryParts {
        let events = self.events.iter().map(|e| Event::from(e.as_str())).collect();
        (self.id.clone(), Some(events), self.filter())
    }

    fn filter(&self) -> Option<NotificationConfigurationFilter> {
        self.filter.as_ref().map(|f| {
            NotificationConfigurationFilter::builder()
                .set_key(f.key.as_ref().map(|k| {
                    let rules = k
                        .filter_rules
                        .iter()
                        .map(|r| FilterRule::builder().name(rule_name(&r.name)).value(&r.value).build());
                    S3KeyFilter::builder().set_filter_rules(Some(rules.collect())).build()
                }))
                .build()
        })
    }
}

impl Serialize for NotificationConfiguration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = ConfigurationJson {
            queue_configurations: (self.queue_configurations.iter())
                .map(|e| EntryJson::new(e.id(), Target::Queue(e.queue_arn.clone()), &e.events, e.filter()))
                .collect(),
            topic_configurations: (self.topic_configurations.iter())
                .map(|e| EntryJson::new(e.id(), Target::Topic(e.topic_arn.clone()), &e.events, e.filter()))
                .collect(),
            lambda_function_configurations: (self.lambda_function_configurations.iter())
                .map(|e| {
                    let target = Target::LambdaFunction(e.lambda_function_arn.clone());
                    EntryJson::new(e.id(), target, &e.events, e.filter())
                })
                .collect(),
            event_bridge_configuration: self.event_bridge_configuration.as_ref().map(|_| serde_json::Map::new()),
        };
        json.serialize(serializer)
    }
}

/// The SDK entries of one list of the JSON form: the three kinds differ only in their type and
/// the setter of their target, which no trait of the SDK's builders shares.
macro_rules! sdk_entries {
    ($entries:expr, $kind:literal, $type:ident, $target:ident) => {
        sdk_entries($kind, $entries, |arn, e: &EntryJson| {
            let (id, events, filter) = e.parts();
            $type::builder()
                .set_id(id)
                .$target(arn)
                .set_events(events)
                .set_filter(filter)
                .build()
        })
    };
}

impl<'de> Deserialize<'de> for NotificationConfiguration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let json = ConfigurationJson::deserialize(deserializer)?;
        let queues = sdk_entries!(&json.queue_configurations, "Queue", QueueConfiguration, queue_arn);
        let topics = sdk_entries!(&json.topic_configurations, "Topic", TopicConfiguration, topic_arn);
        let lambdas = sdk_entries!(
            &json.lambda_function_configurations,
            "LambdaFunction",
            LambdaFunctionConfiguration,
            lambda_function_arn
        );
        Ok(NotificationConfiguration {
            queue_configurations: queues.map_err(D::Error::custom)?,
            topic_configurations: topics.map_err(D::Error::custom)?,
            lambda_function_configurations: lambdas.map_err(D::Error::custom)?,
            event_bridge_configuration: json
                .event_bridge_configuration
                .map(|_| EventBridgeConfiguration::builder().build()),
        })
    }
}

/// The SDK entries of the list `<kind>Configurations` of the JSON form, each built by `build`
/// from its target ARN, which must be a `<kind>Arn`. Errors name the list and the entry.
fn sdk_entries<T, E: std::fmt::Display>(
    kind: &str,
    entries: &[EntryJson],
    build: impl Fn(&str, &EntryJson) -> Result<T, E>,
) -> Result<Vec<T>, String> {
    let target = format!("{kind}Arn");
    entries
        .iter()
        .map(|e| {
            let entry = || format!("{kind}Configurations: entry {}", e.id.as_deref().unwrap_or("(no Id)"));
            match e.target.name_and_arn() {
                (name, arn) if name == target => build(arn, e).map_err(|error| format!("{}: {error}", entry())),
                (name, _) => Err(format!("{}: {name} where {target} belongs", entry())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        assert_eq!(config.queue_configurations[1], queue_entry(&ours("b/")));
        let mut expected = foreign();
        expected.queue_configurations.push(queue_entry(&ours("b/")));
        assert_eq!(config, expected);
        assert_eq!(config.remove("connect-wfm-x"), Change::Changed);
        assert_eq!(config, foreign());
        assert_eq!(config.remove("connect-wfm-x"), Change::Unchanged);
    }

    #[test]
    fn entries_show_every_kind_with_its_filter_and_event_bridge_is_turned_on_once() {
        let mut config = foreign();
        config.upsert(&ours("connect/"));
        let entries = config.entries();
        let summary: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.id.as_deref(),
                    e.events.join(","),
                    e.prefix.as_str(),
                    e.suffix.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Some("theirs"), "s3:ObjectRemoved:*".into(), "", ""),
                (Some("connect-wfm-x"), "s3:ObjectCreated:*".into(), "connect/", ".csv"),
                (None, "s3:ObjectCreated:Put".into(), "", ""),
                (Some("fn"), "s3:ObjectCreated:*".into(), "img/", ""),
            ]
        );
        assert_eq!(entries[3].destination, "arn:aws:lambda:us-east-1:1:function:f");
        assert!(config.event_bridge());
        assert_eq!(config.enable_event_bridge(), Change::Unchanged);
        let mut plain = NotificationConfiguration::default();
        assert!(!plain.event_bridge());
        assert_eq!(plain.enable_event_bridge(), Change::Changed);
        assert!(plain.event_bridge());
    }

    #[test]
    fn stored_rules_answered_capitalised_are_the_same_entry() {
        let mut config = NotificationConfiguration::default();
        let mut stored = queue_entry(&ours("p/"));
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
        let entry = queue_entry(&ours(""));
        let rules = entry.filter().and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap();
        assert_eq!(
            rules,
            [FilterRule::builder().name(FilterRuleName::Suffix).value(".csv").build()]
        );
        let none = queue_entry(&ReportsNotification {
            suffix: String::new(),
            ..ours("")
        });
        assert_eq!(none.filter, None);
    }

    fn document() -> serde_json::Value {
        json!({
            "QueueConfigurations": [{"Id": "q", "QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}, {"Name": "suffix", "Value": ".csv"}]}}}],
            "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectRemoved:Delete"]}],
            "LambdaFunctionConfigurations": [{"Id": "l", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
                "Events": ["s3:ObjectCreated:Put"]}],
            "EventBridgeConfiguration": {}
        })
    }

    #[test]
    fn json_reads_and_writes_s3s_shape() {
        let configuration: NotificationConfiguration = serde_json::from_value(document()).unwrap();
        assert_eq!(
            configuration.queue_configurations[0].queue_arn,
            "arn:aws:sqs:us-east-1:1:q"
        );
        assert_eq!(configuration.topic_configurations[0].id, None);
        assert!(configuration.event_bridge_configuration.is_some());
        assert_eq!(serde_json::to_value(&configuration).unwrap(), document());
        assert_eq!(
            serde_json::to_value(NotificationConfiguration::default()).unwrap(),
            json!({})
        );
        assert!(NotificationConfiguration::default().is_empty());
    }

    #[test]
    fn json_rule_names_are_read_without_case() {
        let mut doc = document();
        doc["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"][0]["Name"] = json!("Prefix");
        let configuration: NotificationConfiguration = serde_json::from_value(doc).unwrap();
        assert_eq!(serde_json::to_value(&configuration).unwrap(), document());
    }

    #[test]
    fn json_errors_name_the_entry() {
        let mut doc = document();
        doc["QueueConfigurations"][0] = json!({"Id": "x", "TopicArn": "arn:aws:sns:us-east-1:1:t"});
        let err = serde_json::from_value::<NotificationConfiguration>(doc).unwrap_err();
        assert!(
            err.to_string()
                .contains("QueueConfigurations: entry x: TopicArn where QueueArn belongs"),
            "{err}"
        );
        let err = serde_json::from_value::<NotificationConfiguration>(json!({"QueueConfigurations": [{"Id": "y"}]}))
            .unwrap_err();
        assert!(err.to_string().contains("QueueArn"), "{err}");
    }

    #[test]
    fn the_sdk_form_leaves_out_empty_lists_and_canonical_names_are_kept() {
        let configuration: NotificationConfiguration = serde_json::from_value(document()).unwrap();
        let sdk = configuration.to_sdk();
        assert_eq!(
            sdk.queue_configurations.as_deref(),
            Some(&configuration.queue_configurations[..])
        );
        assert!(
            NotificationConfiguration::default()
                .to_sdk()
                .queue_configurations
                .is_none()
        );
        let mut answered = configuration.clone();
        let rule = &mut answered.queue_configurations[0]
            .filter
            .as_mut()
            .unwrap()
            .key
            .as_mut()
            .unwrap()
            .filter_rules;
        rule.as_mut().unwrap()[0].name = Some(FilterRuleName::from("Prefix"));
        assert_ne!(answered, configuration);
        assert_eq!(answered.with_canonical_rule_names(), configuration);
    }
}
