//! The CloudFormation custom-resource request, read leniently from JSON (a request we cannot
//! fully read must still be answered), and the resource's properties. The answer is
//! [`connect_wfm_core::custom_resource`]'s.

pub use connect_wfm_core::custom_resource::{CustomResourceResponse, Envelope, MAX_RESPONSE_BYTES, Status};
use serde_json::{Map, Value};

use connect_wfm_core::custom_resource::{DEFAULT_SUFFIX, Delivery, ReportsNotification, notification_id};

/// What CloudFormation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    /// The name as CloudFormation spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// A request that could be read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    pub envelope: Envelope,
    pub properties: Map<String, Value>,
    /// The properties before an Update.
    pub old_properties: Option<Map<String, Value>>,
}

/// A request that cannot be carried out, naming the field or property at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request is not a JSON object")]
    NotAnObject,
    #[error("the request has no {0}")]
    MissingField(&'static str),
    #[error("RequestType `{0}` is not Create, Update or Delete")]
    UnknownType(String),
    #[error("{field} is not an object")]
    NotAnObjectField { field: &'static str },
    #[error("{section}.{name} is missing or empty")]
    MissingProperty { section: &'static str, name: &'static str },
    #[error("{section}.{name} `{value}` {problem}")]
    BadProperty {
        section: &'static str,
        name: &'static str,
        value: String,
        problem: &'static str,
    },
}

fn text(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The ResponseURL and the ids of a request: what is needed to answer it. `None` when there
/// is no ResponseURL (nothing can be answered then).
pub fn envelope(request: &Value) -> Option<Envelope> {
    let object = request.as_object()?;
    Some(Envelope {
        response_url: text(object, "ResponseURL")?,
        stack_id: text(object, "StackId").unwrap_or_default(),
        request_id: text(object, "RequestId").unwrap_or_default(),
        logical_resource_id: text(object, "LogicalResourceId").unwrap_or_default(),
        physical_resource_id: text(object, "PhysicalResourceId"),
    })
}

/// Reads the whole request.
pub fn parse(request: &Value) -> Result<CustomResourceRequest, RequestError> {
    let object = request.as_object().ok_or(RequestError::NotAnObject)?;
    let envelope = envelope(request).ok_or(RequestError::MissingField("ResponseURL"))?;
    for (field, value) in [
        ("StackId", &envelope.stack_id),
        ("RequestId", &envelope.request_id),
        ("LogicalResourceId", &envelope.logical_resource_id),
    ] {
        if value.is_empty() {
            return Err(RequestError::MissingField(field));
        }
    }
    let request_type = match text(object, "RequestType").as_deref() {
        Some("Create") => RequestType::Create,
        Some("Update") => RequestType::Update,
        Some("Delete") => RequestType::Delete,
        Some(other) => return Err(RequestError::UnknownType(other.to_owned())),
        None => return Err(RequestError::MissingField("RequestType")),
    };
    let section = |field: &'static str| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(RequestError::NotAnObjectField { field }),
    };
    Ok(CustomResourceRequest {
        request_type,
        envelope,
        properties: section("ResourceProperties")?.unwrap_or_default(),
        old_properties: section("OldResourceProperties")?,
    })
}

/// The resource's properties: where our entry goes and what it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    /// The existing bucket Connect writes its reports to.
    pub bucket: String,
    pub notification: ReportsNotification,
    /// `Delivery`: `queue` (our queue entry, the default) or `eventbridge` (the bucket's
    /// EventBridge notifications, routed to the queue by the stack's rule).
    pub delivery: Delivery,
}

/// Reads `BucketName`, `QueueArn`, `Prefix` (optional), `Suffix` (optional, default
/// `.csv`) and `Delivery` (optional, default `queue`) from `section` (`ResourceProperties` or `OldResourceProperties`); `id` is our
/// entry's Id.
pub fn properties(section: &'static str, map: &Map<String, Value>, id: &str) -> Result<Properties, RequestError> {
    let bucket = bucket_name(section, map)?;
    let queue_arn = text(map, "QueueArn").ok_or(RequestError::MissingProperty {
        section,
        name: "QueueArn",
    })?;
    if !(queue_arn.starts_with("arn:") && queue_arn.split(':').nth(2) == Some("sqs")) {
        return Err(RequestError::BadProperty {
            section,
            name: "QueueArn",
            value: queue_arn,
            problem: "is not an SQS queue ARN",
        });
    }
    let optional = |name: &'static str| match map.get(name) {
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(RequestError::BadProperty {
            section,
            name,
            value: other.to_string(),
            problem: "is not a string",
        }),
    };
    let delivery = match optional("Delivery")? {
        None => Delivery::default(),
        Some(value) => Delivery::parse(&value).ok_or(RequestError::BadProperty {
            section,
            name: "Delivery",
            value,
            problem: "is not queue or eventbridge",
        })?,
    };
    Ok(Properties {
        bucket,
        delivery,
        notification: ReportsNotification {
            id: id.to_owned(),
            queue_arn,
            prefix: optional("Prefix")?.unwrap_or_default(),
            suffix: optional("Suffix")?.unwrap_or_else(|| DEFAULT_SUFFIX.to_owned()),
        },
    })
}

/// `BucketName` alone, from `section`: all a removal needs.
pub fn bucket_name(section: &'static str, map: &Map<String, Value>) -> Result<String, RequestError> {
    let bucket = text(map, "BucketName").ok_or(RequestError::MissingProperty {
        section,
        name: "BucketName",
    })?;
    if bucket.contains('/') || bucket.len() > 63 {
        return Err(RequestError::BadProperty {
            section,
            name: "BucketName",
            value: bucket,
            problem: "is not a bucket name",
        });
    }
    Ok(bucket)
}

/// Our entry's Id for this request (see [`notification_id`]).
pub fn id_of(envelope: &Envelope) -> String {
    notification_id(&envelope.stack_id, &envelope.logical_resource_id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn create() -> Value {
        json!({
            "RequestType": "Create",
            "ResponseURL": "https://example.invalid/response",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/1",
            "RequestId": "r1",
            "LogicalResourceId": "ReportsNotification",
            "ResourceType": "Custom::BucketNotification",
            "ResourceProperties": {"ServiceToken": "arn:x", "BucketName": "b", "QueueArn": "arn:aws:sqs:us-east-1:1:q", "Prefix": "connect/a/Reports/"}
        })
    }

    #[test]
    fn reads_a_create_and_its_properties() {
        let request = parse(&create()).unwrap();
        assert_eq!(request.request_type, RequestType::Create);
        assert_eq!(request.envelope.physical_resource_id, None);
        let props = properties("ResourceProperties", &request.properties, "id").unwrap();
        assert_eq!(props.bucket, "b");
        assert_eq!(props.notification.prefix, "connect/a/Reports/");
        assert_eq!(props.notification.suffix, ".csv");
        assert_eq!(props.delivery, Delivery::Queue);
        let mut map = request.properties.clone();
        map.insert("Delivery".into(), json!("eventbridge"));
        assert_eq!(
            properties("ResourceProperties", &map, "id").unwrap().delivery,
            Delivery::EventBridge
        );
        map.insert("Delivery".into(), json!("sns"));
        assert_eq!(
            properties("ResourceProperties", &map, "id").unwrap_err().to_string(),
            "ResourceProperties.Delivery `sns` is not queue or eventbridge"
        );
    }

    #[test]
    fn errors_name_the_field_or_property() {
        let mut r = create();
        r["RequestType"] = json!("Upgrade");
        assert_eq!(
            parse(&r).unwrap_err().to_string(),
            "RequestType `Upgrade` is not Create, Update or Delete"
        );
        let mut r = create();
        r.as_object_mut().unwrap().remove("RequestId");
        assert_eq!(parse(&r).unwrap_err().to_string(), "the request has no RequestId");
        assert!(envelope(&r).is_some());
        r.as_object_mut().unwrap().remove("ResponseURL");
        assert!(envelope(&r).is_none());
        let request = parse(&create()).unwrap();
        let mut props = request.properties.clone();
        props.remove("BucketName");
        assert_eq!(
            properties("ResourceProperties", &props, "id").unwrap_err().to_string(),
            "ResourceProperties.BucketName is missing or empty"
        );
        props.insert("BucketName".into(), json!("b"));
        props.insert("QueueArn".into(), json!("arn:aws:sns:us-east-1:1:t"));
        assert_eq!(
            properties("ResourceProperties", &props, "id").unwrap_err().to_string(),
            "ResourceProperties.QueueArn `arn:aws:sns:us-east-1:1:t` is not an SQS queue ARN"
        );
        let mut r = create();
        r["ResourceProperties"] = json!([1]);
        assert_eq!(
            parse(&r).unwrap_err().to_string(),
            "ResourceProperties is not an object"
        );
        assert_eq!(parse(&json!("x")).unwrap_err(), RequestError::NotAnObject);
    }
}
