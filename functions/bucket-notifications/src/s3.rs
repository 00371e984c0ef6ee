//! [`S3NotificationStore`]: a bucket's notification configuration read with
//! GetBucketNotificationConfiguration and written with PutBucketNotificationConfiguration,
//! converted to and from [`crate::model`] in this one place.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::types as s3;
use connect_wfm_aws::describe_sdk_error;
use connect_wfm_core::ports::PortError;

use crate::model::{
    EventBridgeConfiguration, FilterRule, KeyFilter, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationFilter, QueueConfiguration, TopicConfiguration,
};
use crate::ports::{Fetched, NotificationStore, Stored};

/// Notification configurations of S3 buckets.
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
    async fn get(&self, bucket: &str) -> Result<Fetched, PortError> {
        match self
            .client
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(output) => Ok(Fetched::Found(from_s3(&output))),
            Err(e) if no_such_bucket(&e) => Ok(Fetched::BucketGone),
            Err(e) => Err(PortError::new(
                format!("read the notification configuration of bucket {bucket}"),
                describe_sdk_error(&e),
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
        let operation = || format!("write the notification configuration of bucket {bucket}");
        let sdk_configuration = to_s3(configuration).map_err(|message| PortError::new(operation(), message, false))?;
        match self
            .client
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(sdk_configuration)
            .skip_destination_validation(!validate_destinations)
            .send()
            .await
        {
            Ok(_) => Ok(Stored::Written),
            Err(e) if no_such_bucket(&e) => Ok(Stored::BucketGone),
            Err(e) => Err(PortError::new(operation(), describe_sdk_error(&e), true)),
        }
    }
}

fn filter_from_s3(filter: Option<&s3::NotificationConfigurationFilter>) -> Option<NotificationFilter> {
    filter.map(|f| NotificationFilter {
        key: f.key().map(|k| KeyFilter {
            filter_rules: k
                .filter_rules()
                .iter()
                .map(|r| FilterRule {
                    name: r.name().map(|n| n.as_str().to_owned()).unwrap_or_default(),
                    value: r.value().unwrap_or_default().to_owned(),
                })
                .collect(),
        }),
    })
}

fn events_from_s3(events: &[s3::Event]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

/// Our model of the SDK's answer. A bucket without any notification has none of the lists:
/// that is the empty configuration.
pub fn from_s3(output: &GetBucketNotificationConfigurationOutput) -> NotificationConfiguration {
    NotificationConfiguration {
        queue_configurations: output
            .queue_configurations()
            .iter()
            .map(|c| QueueConfiguration {
                id: c.id().map(str::to_owned),
                queue_arn: c.queue_arn().to_owned(),
                events: events_from_s3(c.events()),
                filter: filter_from_s3(c.filter()),
            })
            .collect(),
        topic_configurations: output
            .topic_configurations()
            .iter()
            .map(|c| TopicConfiguration {
                id: c.id().map(str::to_owned),
                topic_arn: c.topic_arn().to_owned(),
                events: events_from_s3(c.events()),
                filter: filter_from_s3(c.filter()),
            })
            .collect(),
        lambda_function_configurations: output
            .lambda_function_configurations()
            .iter()
            .map(|c| LambdaFunctionConfiguration {
                id: c.id().map(str::to_owned),
                lambda_function_arn: c.lambda_function_arn().to_owned(),
                events: events_from_s3(c.events()),
                filter: filter_from_s3(c.filter()),
            })
            .collect(),
        event_bridge_configuration: output.event_bridge_configuration().map(|_| EventBridgeConfiguration {}),
    }
}

fn filter_to_s3(filter: &Option<NotificationFilter>) -> Option<s3::NotificationConfigurationFilter> {
    filter.as_ref().map(|f| {
        s3::NotificationConfigurationFilter::builder()
            .set_key(f.key.as_ref().map(|k| {
                s3::S3KeyFilter::builder()
                    .set_filter_rules(Some(
                        k.filter_rules
                            .iter()
                            .map(|r| {
                                s3::FilterRule::builder()
                                    .name(rule_name(&r.name))
                                    .value(&r.value)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            }))
            .build()
    })
}

/// S3 answers `Prefix` and `Suffix` but documents `prefix` and `suffix`: send those.
fn rule_name(name: &str) -> s3::FilterRuleName {
    match name.to_ascii_lowercase().as_str() {
        "prefix" => s3::FilterRuleName::Prefix,
        "suffix" => s3::FilterRuleName::Suffix,
        _ => s3::FilterRuleName::from(name),
    }
}

fn events_to_s3(events: &[String]) -> Vec<s3::Event> {
    events.iter().map(|e| s3::Event::from(e.as_str())).collect()
}

/// The SDK's form of our model; the error names the entry the SDK refused to build.
pub fn to_s3(configuration: &NotificationConfiguration) -> Result<s3::NotificationConfiguration, String> {
    let entry =
        |id: &Option<String>, e: &dyn std::fmt::Display| format!("entry {}: {e}", id.as_deref().unwrap_or("(no Id)"));
    let mut builder = s3::NotificationConfiguration::builder();
    for c in &configuration.queue_configurations {
        builder = builder.queue_configurations(
            s3::QueueConfiguration::builder()
                .set_id(c.id.clone())
                .queue_arn(&c.queue_arn)
                .set_events(Some(events_to_s3(&c.events)))
                .set_filter(filter_to_s3(&c.filter))
                .build()
                .map_err(|e| entry(&c.id, &e))?,
        );
    }
    for c in &configuration.topic_configurations {
        builder = builder.topic_configurations(
            s3::TopicConfiguration::builder()
                .set_id(c.id.clone())
                .topic_arn(&c.topic_arn)
                .set_events(Some(events_to_s3(&c.events)))
                .set_filter(filter_to_s3(&c.filter))
                .build()
                .map_err(|e| entry(&c.id, &e))?,
        );
    }
    for c in &configuration.lambda_function_configurations {
        builder = builder.lambda_function_configurations(
            s3::LambdaFunctionConfiguration::builder()
                .set_id(c.id.clone())
                .lambda_function_arn(&c.lambda_function_arn)
                .set_events(Some(events_to_s3(&c.events)))
                .set_filter(filter_to_s3(&c.filter))
                .build()
                .map_err(|e| entry(&c.id, &e))?,
        );
    }
    if configuration.event_bridge_configuration.is_some() {
        builder = builder.event_bridge_configuration(s3::EventBridgeConfiguration::builder().build());
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_lists_is_the_empty_configuration() {
        let output = GetBucketNotificationConfigurationOutput::builder().build();
        assert_eq!(from_s3(&output), NotificationConfiguration::default());
        let empty = to_s3(&NotificationConfiguration::default()).unwrap();
        assert!(empty.queue_configurations().is_empty() && empty.event_bridge_configuration().is_none());
    }

    #[test]
    fn converts_every_kind_both_ways() {
        let model: NotificationConfiguration = serde_json::from_value(serde_json::json!({
            "QueueConfigurations": [{"Id": "q", "QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}, {"Name": "suffix", "Value": ".csv"}]}}}],
            "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectRemoved:Delete"]}],
            "LambdaFunctionConfigurations": [{"Id": "l", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:1:function:f", "Events": ["s3:ObjectCreated:Put"]}],
            "EventBridgeConfiguration": {}
        }))
        .unwrap();
        let sdk = to_s3(&model).unwrap();
        let output = GetBucketNotificationConfigurationOutput::builder()
            .set_queue_configurations(Some(sdk.queue_configurations().to_vec()))
            .set_topic_configurations(Some(sdk.topic_configurations().to_vec()))
            .set_lambda_function_configurations(Some(sdk.lambda_function_configurations().to_vec()))
            .set_event_bridge_configuration(sdk.event_bridge_configuration().cloned())
            .build();
        assert_eq!(from_s3(&output), model);
    }
}
