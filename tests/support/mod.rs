//! Support for the end-to-end tests: SDK clients pointed at the AWS API emulator that
//! `scripts/test` starts on 127.0.0.1, unique resource names, and set-up helpers.
//!
//! Every test creates its own bucket, tables and queues under [`unique`] names, so tests run
//! in parallel against one emulator without resetting it.

#![forbid(unsafe_code)]

pub mod pricing;
pub mod proxy;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_s3::config::Credentials;
use aws_smithy_types::body::SdkBody;

/// Environment variable holding the emulator's URL (set by `scripts/test`).
pub const ENDPOINT_VAR: &str = "CONNECT_WFM_TEST_ENDPOINT";

/// Region of every test client.
pub const REGION: &str = "us-east-1";

/// The emulator's URL. Panics with instructions when the tests run without it.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!("end-to-end tests need the AWS emulator: run scripts/test ({ENDPOINT_VAR} is not set)"),
    }
}

/// SDK configuration for the emulator: static test credentials, `us-east-1`, its endpoint.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "connect-wfm-e2e"))
        .load()
        .await
}

/// An S3 client using path-style URLs (the emulator has no per-bucket host names).
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// A DynamoDB client.
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// A DynamoDB client that records the operation name (`BatchGetItem`, `PutItem`, ...) of every
/// request it sends, retries included, so tests can assert on round trips.
pub fn recording_dynamodb(config: &SdkConfig) -> (aws_sdk_dynamodb::Client, RequestLog) {
    let log = RequestLog::default();
    let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(log.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(dynamodb_config), log)
}

/// The operations a [`recording_dynamodb`] client has sent, in order, and an estimate of the
/// write units they cost.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>, Arc<Mutex<WriteUnits>>);

/// Write units estimated from the items written, by DynamoDB's on-demand rules: a write costs
/// ceil(KB) of the larger of the item before and after it (the item before is known when this
/// client wrote it, by its `pk`/`sk`; an update's item after is taken as its item before, or 1
/// KB when unknown), TransactWriteItems twice that; a failed conditional write is counted like a
/// successful one (DynamoDB charges it too). Item size: attribute names plus values (a number
/// counted by its digits). Indexes are not counted (the contact table has none).
#[derive(Debug, Default)]
pub struct WriteUnits {
    /// Last size written, by `pk`/`sk`.
    sizes: std::collections::HashMap<(String, String), usize>,
    /// Units since the last [`RequestLog::clear`].
    units: u64,
    /// Items written since the last clear, and their total size (for the average).
    items: u64,
    bytes: u64,
    /// Units by the kind of item: its `pk` up to the first `#`.
    by_kind: std::collections::BTreeMap<String, u64>,
}

fn attribute_size(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    // One attribute value in DynamoDB JSON: {"S": "..."}, {"N": "12"}, {"BOOL": true}, ...
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S" | "N" | "B", Value::String(text)) => text.len(),
        ("BOOL" | "NULL", _) => 1,
        ("SS" | "NS" | "BS", Value::Array(items)) => items.iter().map(|i| i.as_str().map_or(0, str::len)).sum(),
        ("M", Value::Object(map)) => 3 + map.iter().map(|(k, v)| k.len() + 1 + attribute_size(v)).sum::<usize>(),
        ("L", Value::Array(items)) => 3 + items.iter().map(|v| 1 + attribute_size(v)).sum::<usize>(),
        _ => 0,
    }
}

fn item_size(item: &serde_json::Value) -> usize {
    item.as_object()
        .map(|o| o.iter().map(|(name, value)| name.len() + attribute_size(value)).sum())
        .unwrap_or(0)
}

fn item_key(item: &serde_json::Value) -> Option<(String, String)> {
    let text = |name: &str| item.get(name)?.get("S")?.as_str().map(str::to_owned);
    Some((text("pk")?, text("sk").unwrap_or_default()))
}

impl WriteUnits {
    /// One write of `item` (`None`: a delete or an update of the item at `key`).
    fn write(&mut self, key: Option<(String, String)>, item: Option<&serde_json::Value>, factor: u64) {
        let before = key.as_ref().and_then(|k| self.sizes.get(k).copied());
        let after = item.map(item_size);
        let size = before.into_iter().chain(after).max().unwrap_or(1024);
        let units = factor * (size.div_ceil(1024).max(1) as u64);
        self.units += units;
        let kind = key.as_ref().map_or("?", |(pk, _)| pk.split('#').next().unwrap_or("?"));
        *self.by_kind.entry(kind.to_owned()).or_default() += units;
        self.items += 1;
        self.bytes += size as u64;
        if let (Some(key), Some(after)) = (key, after) {
            self.sizes.insert(key, after);
        }
    }

    fn record(&mut self, operation: &str, body: &serde_json::Value) {
        match operation {
            "PutItem" => self.write(item_key(&body["Item"]), Some(&body["Item"]), 1),
            "UpdateItem" | "DeleteItem" => self.write(item_key(&body["Key"]), None, 1),
            "BatchWriteItem" => {
                for requests in body["RequestItems"].as_object().into_iter().flat_map(|t| t.values()) {
                    for request in requests.as_array().into_iter().flatten() {
                        if let Some(item) = request.pointer("/PutRequest/Item") {
                            self.write(item_key(item), Some(item), 1);
                        } else if let Some(key) = request.pointer("/DeleteRequest/Key") {
                            self.write(item_key(key), None, 1);
                        }
                    }
                }
            }
            "TransactWriteItems" => {
                for action in body["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(item) = action.pointer("/Put/Item") {
                        self.write(item_key(item), Some(item), 2);
                    } else if let Some(key) = ["/Update/Key", "/Delete/Key", "/ConditionCheck/Key"]
                        .iter()
                        .find_map(|p| action.pointer(p))
                    {
                        self.write(item_key(key), None, 2);
                    }
                }
            }
            _ => {}
        }
    }
}

impl RequestLog {
    /// How many requests of `operation` were sent.
    pub fn count(&self, operation: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|o| *o == operation).count()
    }

    /// How many requests were sent, of any operation.
    pub fn total(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Estimated write units of the requests sent (see [`WriteUnits`]).
    pub fn write_units(&self) -> u64 {
        self.1.lock().unwrap().units
    }

    /// Items written (puts, updates, deletes) and their average estimated size in bytes.
    pub fn items_written(&self) -> (u64, f64) {
        let units = self.1.lock().unwrap();
        (units.items, units.bytes as f64 / units.items.max(1) as f64)
    }

    /// Estimated write units by the kind of item (its `pk` up to the first `#`).
    pub fn write_units_by_kind(&self) -> std::collections::BTreeMap<String, u64> {
        self.1.lock().unwrap().by_kind.clone()
    }

    /// Requests by operation.
    pub fn by_operation(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for operation in self.0.lock().unwrap().iter() {
            *counts.entry(operation.clone()).or_default() += 1;
        }
        counts
    }

    /// Forgets the requests sent so far (the sizes of the items written are kept).
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
        let mut units = self.1.lock().unwrap();
        (units.units, units.items, units.bytes) = (0, 0, 0);
        units.by_kind.clear();
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB names the operation in `X-Amz-Target: DynamoDB_20120810.<Operation>`.
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        if let Some(body) = context.request().body().bytes() {
            if let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) {
                self.1.lock().unwrap().record(&operation, &body);
            }
        }
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A DynamoDB client whose first `throttled` BatchGetItem answers are rewritten to read
/// nothing and return every requested key as `UnprocessedKeys`, as DynamoDB does when reads
/// are throttled (the emulator never does). The real request goes out and the rewritten
/// answer goes through the SDK's real deserializer.
pub fn throttled_batch_get_dynamodb(config: &SdkConfig, throttled: usize) -> aws_sdk_dynamodb::Client {
    let interceptor = ThrottleBatchGet {
        remaining: Arc::new(Mutex::new(throttled)),
        request_items: Arc::new(Mutex::new(None)),
    };
    let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(interceptor)
        .build();
    aws_sdk_dynamodb::Client::from_conf(dynamodb_config)
}

#[derive(Debug, Clone)]
struct ThrottleBatchGet {
    remaining: Arc<Mutex<usize>>,
    /// `RequestItems` of the BatchGetItem in flight, when it is to be throttled.
    request_items: Arc<Mutex<Option<serde_json::Value>>>,
}

impl Intercept for ThrottleBatchGet {
    fn name(&self) -> &'static str {
        "ThrottleBatchGet"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let mut remaining = self.remaining.lock().unwrap();
        if target.ends_with(".BatchGetItem") && *remaining > 0 {
            *remaining -= 1;
            let body: serde_json::Value = serde_json::from_slice(request.body().bytes().unwrap_or_default())?;
            *self.request_items.lock().unwrap() = Some(body["RequestItems"].clone());
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(request_items) = self.request_items.lock().unwrap().take() {
            let body = serde_json::json!({ "Responses": {}, "UnprocessedKeys": request_items });
            let response = context.response_mut();
            response.headers_mut().remove("x-amz-crc32");
            response.headers_mut().remove("content-length");
            *response.body_mut() = SdkBody::from(body.to_string());
        }
        Ok(())
    }
}

/// An EventBridge client.
pub fn eventbridge(config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(config)
}

/// Creates an event bus named [`unique`]`(prefix)`, a queue, and a rule routing every event of
/// source `connect-wfm` on the bus to the queue. Returns the bus name and the queue URL.
pub async fn bus_to_queue(
    eventbridge: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> (String, String) {
    use aws_sdk_eventbridge::error::DisplayErrorContext;
    let bus = unique(prefix);
    eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create event bus {bus}: {}", DisplayErrorContext(e)));
    let queue_url = create_queue(sqs, prefix).await;
    let queue_arn = queue_arn(sqs, &queue_url).await;
    let rule = unique("to-queue");
    eventbridge
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["connect-wfm"]}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule {rule}: {}", DisplayErrorContext(e)));
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .expect("a target with an id and an ARN");
    eventbridge
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put targets {rule}: {}", DisplayErrorContext(e)));
    (bus, queue_url)
}

/// The ARN of a queue.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    sqs.get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "queue attributes {queue_url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("the queue has an ARN")
}

/// Receives and deletes every message in the queue (EventBridge envelopes, as JSON), until a
/// receive finds none. The emulator delivers an event to its targets within PutEvents, so
/// what a finished put sent is all there.
pub async fn drain_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<serde_json::Value> {
    let mut messages = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive {queue_url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
        if output.messages().is_empty() {
            return messages;
        }
        for message in output.messages() {
            let body = message.body().unwrap_or_default();
            messages.push(serde_json::from_str(body).unwrap_or_else(|e| panic!("a message is not JSON ({e}): {body}")));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
        }
    }
}

/// What reached the queue behind `bus` before a marker event put on the bus now: a drain that
/// cannot pass while delivery lags (an empty receive alone proves nothing when events are still
/// on their way), since the marker arrives after everything put before it.
pub async fn drain_through_marker(
    eventbridge: &aws_sdk_eventbridge::Client,
    bus: &str,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<serde_json::Value> {
    let marker = unique("marker");
    eventbridge
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source("connect-wfm")
                .detail_type("test-marker")
                .detail(serde_json::json!({ "marker": marker }).to_string())
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("put the marker: {}", aws_sdk_eventbridge::error::DisplayErrorContext(e)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut before = Vec::new();
    loop {
        for event in drain_queue(sqs, queue_url).await {
            if event["detail"]["marker"] == marker.as_str() {
                return before;
            }
            before.push(event);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the marker did not arrive within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Which entries of the n-th PutEvents call (0-based) to answer as failed, given its number of
/// entries.
pub type FailurePlan = Arc<dyn Fn(usize, usize) -> Vec<usize> + Send + Sync>;

/// An EventBridge client whose PutEvents answers say some entries failed, as EventBridge does
/// when it throttles or has an internal error (the emulator never does), without those entries
/// reaching any rule: before signing, each entry to fail gets the source `connect-wfm-dropped`
/// (which no test rule matches), and the answer says `ThrottlingException` at its position.
/// The real request goes out; the rewritten answer goes through the SDK's real deserializer. Returns the client and a counter of PutEvents calls.
pub fn failing_put_events_eventbridge(
    config: &SdkConfig,
    plan: FailurePlan,
) -> (aws_sdk_eventbridge::Client, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let interceptor = FailEntries {
        plan,
        calls: calls.clone(),
    };
    let eventbridge_config = aws_sdk_eventbridge::config::Builder::from(config)
        .interceptor(interceptor)
        .build();
    (aws_sdk_eventbridge::Client::from_conf(eventbridge_config), calls)
}

#[derive(Clone)]
struct FailEntries {
    plan: FailurePlan,
    calls: Arc<AtomicU32>,
}

impl std::fmt::Debug for FailEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailEntries").finish_non_exhaustive()
    }
}

/// How many entries one PutEvents request has, and which are to be answered as failed (kept in the
/// request's own config bag, so concurrent calls do not mix).
#[derive(Debug, Clone)]
struct FailedPositions(usize, Vec<usize>);

impl aws_smithy_types::config_bag::Storable for FailedPositions {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for FailEntries {
    fn name(&self) -> &'static str {
        "FailEntries"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_eventbridge::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        if !target.ends_with(".PutEvents") {
            return Ok(());
        }
        let mut body: serde_json::Value = serde_json::from_slice(request.body().bytes().unwrap_or_default())?;
        let entries = body["Entries"].as_array_mut().ok_or("PutEvents without Entries")?;
        let call = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
        let count = entries.len();
        let failed = (self.plan)(call, count);
        for &i in &failed {
            entries[i]["Source"] = "connect-wfm-dropped".into();
        }
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        cfg.interceptor_state().store_put(FailedPositions(count, failed));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(FailedPositions(entries, failed)) = cfg.load::<FailedPositions>().cloned() else {
            return Ok(());
        };
        if failed.is_empty() {
            return Ok(());
        }
        // The whole answer is written here (the emulator's body is still a stream at this
        // point); the entries it took get event ids of their own.
        let answered: Vec<serde_json::Value> = (0..entries)
            .map(|i| {
                if failed.contains(&i) {
                    serde_json::json!({ "ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded" })
                } else {
                    serde_json::json!({ "EventId": format!("intercepted-{i}") })
                }
            })
            .collect();
        let body = serde_json::json!({ "FailedEntryCount": failed.len(), "Entries": answered });
        let response = context.response_mut();
        response.headers_mut().remove("x-amz-crc32");
        response.headers_mut().remove("content-length");
        *response.body_mut() = SdkBody::from(body.to_string());
        Ok(())
    }
}

/// An SQS client.
pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// A name unique to this call and this process: lowercase letters, digits and `-`, at most 63
/// characters, so it is valid for a bucket, a table or a queue.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The time part keeps names unique across runs against a long-lived emulator too.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// Creates a bucket named [`unique`]`(prefix)` and returns its name.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, prefix: &str) -> String {
    let bucket = unique(prefix);
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    bucket
}

/// Creates an agent-state table (the shape of `connect_wfm_aws::schema`) and returns its name.
pub async fn create_state_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("agent-state");
    connect_wfm_aws::schema::create_agent_state_table(dynamodb, &table)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    table
}

/// Creates a claim table (the shape of `connect_wfm_aws::schema`) and returns its name.
pub async fn create_claim_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("claims");
    connect_wfm_aws::schema::create_claim_table(dynamodb, &table)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    table
}

/// Creates a contact table (the shape of `connect_wfm_aws::schema`) and returns its name.
pub async fn create_contact_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("contacts");
    connect_wfm_aws::schema::create_contact_table(dynamodb, &table)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    table
}

/// Creates a roster table (the shape of `connect_wfm_aws::schema`) and returns its name.
pub async fn create_roster_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("roster");
    connect_wfm_aws::schema::create_roster_table(dynamodb, &table)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    table
}

/// Creates a queue named [`unique`]`(prefix)` and returns its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> String {
    let name = unique(prefix);
    let output = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
    output
        .queue_url()
        .expect("CreateQueue returns the queue URL")
        .to_owned()
}

/// Writes an object.
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
}

/// Reads a whole object.
pub async fn get_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let output = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    let body = output
        .body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("read s3://{bucket}/{key}: {e}"));
    body.into_bytes().to_vec()
}

/// Every object under `prefix` of `bucket`, key and body, in key order.
pub async fn read_objects(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let output = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "list s3://{bucket}/{prefix}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            });
        keys.extend(output.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        match output.next_continuation_token() {
            Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    keys.sort();
    let mut objects = Vec::with_capacity(keys.len());
    for key in keys {
        let body = get_object(s3, bucket, &key).await;
        objects.push((key, body));
    }
    objects
}

/// Every JSON line of every object under `prefix`, in key order.
pub async fn read_json_lines(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<serde_json::Value> {
    read_objects(s3, bucket, prefix)
        .await
        .into_iter()
        .flat_map(|(key, body)| {
            body.split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| {
                    serde_json::from_slice(line)
                        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: a line is not JSON: {e}"))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One HTTP request received by a [`ResponseListener`].
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lowercase, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON. Panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 standing in for a presigned ResponseURL: it answers
/// every request `200 OK` and keeps what it received. It stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct ResponseListener {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
}

impl ResponseListener {
    /// Binds a free port and serves in the background.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, store.clone()));
            }
        });
        Self { base_url, received }
    }

    /// A URL on this listener with a path and a query, as a presigned URL has.
    pub fn url(&self, name: &str) -> String {
        format!("{}/responses/{name}?X-Amz-Signature=test", self.base_url)
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads the next HTTP/1.1 request from `stream` (`buffer` keeps what was read past it); None
/// when the connection closes.
async fn read_request(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Option<ReceivedRequest> {
    use tokio::io::AsyncReadExt as _;
    async fn fill(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Option<()> {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buffer.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }
    // Read up to the end of the head, then the body Content-Length says.
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        fill(stream, buffer).await?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        fill(stream, buffer).await?;
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(ReceivedRequest {
        method,
        target,
        headers,
        body,
    })
}

async fn serve_connection(mut stream: tokio::net::TcpStream, store: Arc<Mutex<Vec<ReceivedRequest>>>) {
    use tokio::io::AsyncWriteExt as _;
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        store.lock().unwrap().push(request);
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

/// An endpoint on 127.0.0.1 that accepts connections and never answers: a service that
/// hangs. Returns its URL; connections are held until the test's runtime stops.
pub async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// An S3 client (path-style) pointed at `endpoint` instead of the emulator.
pub fn s3_at(config: &SdkConfig, endpoint: &str) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// A stand-in for the Lambda Runtime API on 127.0.0.1, for running a real function binary as
/// Lambda runs it: the binary's `GET .../invocation/next` waits for the test to [`Self::invoke`]
/// an event, and its `POST .../response` (or `/error`) is handed back to the test.
#[derive(Debug)]
pub struct RuntimeApi {
    /// `127.0.0.1:<port>`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    events: tokio::sync::mpsc::UnboundedSender<serde_json::Value>,
    answers: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>>,
    ready: Arc<std::sync::OnceLock<std::time::Instant>>,
}

impl RuntimeApi {
    /// Binds a free port and serves in the background.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address").to_string();
        let (events, pending) = tokio::sync::mpsc::unbounded_channel();
        let (answer_tx, answers) = tokio::sync::mpsc::unbounded_channel();
        let pending = Arc::new(tokio::sync::Mutex::new(pending));
        let ready = Arc::new(std::sync::OnceLock::new());
        let first_next = ready.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_runtime(
                    stream,
                    pending.clone(),
                    answer_tx.clone(),
                    first_next.clone(),
                ));
            }
        });
        Self {
            address,
            events,
            answers: tokio::sync::Mutex::new(answers),
            ready,
        }
    }

    /// When the function first asked for an event (`GET .../invocation/next`): the end of its
    /// init phase.
    pub fn ready_at(&self) -> Option<std::time::Instant> {
        self.ready.get().copied()
    }

    /// Waits (at most a minute) until the function finished its init: its first `/next`.
    pub async fn wait_ready(&self, binary: &str) {
        let started = std::time::Instant::now();
        while self.ready_at().is_none() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{binary} finished its init"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Hands `event` to the function's next `/next` and waits (at most `timeout`) for its
    /// answer: `("response", body)` or `("error", body)`.
    pub async fn invoke(&self, event: serde_json::Value, timeout: std::time::Duration) -> (String, serde_json::Value) {
        self.events.send(event).expect("the runtime API is serving");
        tokio::time::timeout(timeout, self.answers.lock().await.recv())
            .await
            .expect("the function answered the invocation in time")
            .expect("the runtime API is serving")
    }
}

async fn serve_runtime(
    mut stream: tokio::net::TcpStream,
    pending: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>>>,
    answers: tokio::sync::mpsc::UnboundedSender<(String, serde_json::Value)>,
    ready: Arc<std::sync::OnceLock<std::time::Instant>>,
) {
    use tokio::io::AsyncWriteExt as _;
    static REQUESTS: AtomicU32 = AtomicU32::new(0);
    let mut buffer = Vec::new();
    while let Some(ReceivedRequest {
        method, target, body, ..
    }) = read_request(&mut stream, &mut buffer).await
    {
        let reply = if method == "GET" && target.ends_with("/runtime/invocation/next") {
            ready.get_or_init(std::time::Instant::now);
            let Some(event) = pending.lock().await.recv().await else {
                return;
            };
            let body = event.to_string();
            let id = format!("request-{}", REQUESTS.fetch_add(1, Ordering::Relaxed));
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or_default();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:e2e\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else {
            let outcome = if target.ends_with("/response") {
                "response"
            } else {
                "error"
            };
            let value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
            let _ = answers.send((outcome.to_owned(), value));
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
                .to_owned()
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A function binary of the workspace, beside this test's own executable (`target/<profile>/`),
/// or in `CONNECT_WFM_FUNCTION_DIR` when set (`scripts/bench` measures the release build so).
/// `cargo test --workspace` (scripts/test) builds it; run alone, build it first
/// (`cargo build -p connect-wfm-agent-events`).
pub fn function_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = match std::env::var_os("CONNECT_WFM_FUNCTION_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps")
            .to_path_buf(),
    };
    let binary = dir.join(name);
    assert!(
        binary.exists(),
        "{} is not built: cargo build -p connect-wfm-{name}",
        binary.display()
    );
    binary
}

/// The environment Lambda gives every function here, plus the emulator's endpoint.
pub fn lambda_command(binary: &str, runtime: &RuntimeApi) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(function_binary(binary));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("CONNECT_WFM_S3_FORCE_PATH_STYLE", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    command
}
