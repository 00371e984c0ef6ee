//! The CloudFormation custom-resource request, read leniently from JSON (a request we cannot
//! fully read must still be answered), the resource's properties, and the response.
//!
//! The response is our own type rather than `aws_lambda_events`' one, which serialises
//! `"Reason": null`: CloudFormation wants a Reason, and the whole body under 4 KB.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{DEFAULT_SUFFIX, ReportsNotification, notification_id};

/// Largest response body CloudFormation accepts is 4096 bytes; stay under it.
pub const MAX_RESPONSE_BYTES: usize = 4000;

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
}

/// Reads `BucketName`, `QueueArn`, `Prefix` (optional) and `Suffix` (optional, default
/// `.csv`) from `section` (`ResourceProperties` or `OldResourceProperties`); `id` is our
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
    Ok(Properties {
        bucket,
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

    #[test]
    fn response_always_has_a_reason_and_fits_in_4_kb() {
        let request = parse(&create()).unwrap();
        let blank = CustomResourceResponse::new(&request.envelope, "id", Status::Failed, " ");
        let body: Value = serde_json::from_slice(&blank.to_body()).unwrap();
        assert_eq!(body["Reason"], "no reason given");
        assert_eq!(body["PhysicalResourceId"], "id");
        assert_eq!(body["Status"], "FAILED");
        let long = CustomResourceResponse::new(&request.envelope, "id", Status::Failed, "é\"\n".repeat(5000));
        let bytes = long.to_body();
        assert!(bytes.len() <= MAX_RESPONSE_BYTES, "{}", bytes.len());
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["Reason"].as_str().unwrap().ends_with('…'));
        let mut huge_data = CustomResourceResponse::new(&request.envelope, "id", Status::Success, "ok");
        huge_data.data.insert("X".into(), json!("y".repeat(10_000)));
        assert!(huge_data.to_body().len() <= MAX_RESPONSE_BYTES);
        let mut escapes = CustomResourceResponse::new(&request.envelope, "id", Status::Failed, "\u{1}".repeat(3000));
        escapes.stack_id = "s".repeat(100_000);
        let body: Value = serde_json::from_slice(&escapes.to_body()).unwrap();
        assert!(serde_json::to_vec(&body).unwrap().len() <= MAX_RESPONSE_BYTES);
        assert_eq!(body["StackId"].as_str().unwrap().len(), MAX_ID_BYTES);
    }
}
