//! A pricing proxy between a function binary and the AWS emulator: it forwards every request and
//! prices each DynamoDB request as an on-demand table bills it, from the items themselves. Before
//! and after every write it reads the items the write touches (straight from the emulator), and
//! applies DynamoDB's rules:
//!
//! - a write costs one write unit per KB (rounded up) of the larger of the item before and after,
//!   at least one; a write whose condition fails still costs the size of the item it found;
//!   writes in a transaction cost twice as much;
//! - a global secondary index is written when the write changes the index's key or one of its
//!   projected attributes: a new entry is a put, a gone entry a delete, a changed key a delete
//!   and a put, each one write unit per KB of the index entry (its projected attributes, the
//!   table and index keys, plus 100 bytes);
//! - a read costs one read unit per 4 KB (per item for GetItem and BatchGetItem, per page of
//!   items for Query and Scan), half for an eventually consistent read.
//!
//! Writes are priced one at a time (a write and its two reads hold a lock), so concurrent
//! writes of the binary cannot blur each other's before and after. The binaries reach the
//! proxy through `AWS_ENDPOINT_URL`, as they reach the emulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// What was billed, per table (by name) and per index (`table/index`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bill {
    /// DynamoDB requests by operation.
    pub requests: BTreeMap<String, usize>,
    /// Requests to other services (S3, EventBridge...).
    pub other_requests: usize,
    /// Write units by table or `table/index`.
    pub write_units: BTreeMap<String, f64>,
    /// Read units by table or `table/index`.
    pub read_units: BTreeMap<String, f64>,
    /// Writes that changed an index, by `table/index`.
    pub index_writes: BTreeMap<String, usize>,
    /// Size in bytes of every item written (after the write), for the average.
    pub item_bytes: Vec<usize>,
    /// Base-table write units by kind of item ([`item_kind`]): the profile of a bill.
    pub write_units_by_kind: BTreeMap<String, f64>,
}

impl Bill {
    /// Every DynamoDB request.
    pub fn dynamodb_requests(&self) -> usize {
        self.requests.values().sum()
    }

    /// Every write unit, tables and indexes.
    pub fn total_write_units(&self) -> f64 {
        self.write_units.values().sum::<f64>() + 0.0
    }

    /// Every read unit, tables and indexes.
    pub fn total_read_units(&self) -> f64 {
        self.read_units.values().sum::<f64>() + 0.0
    }

    /// One line per table and index with its units, and the requests by operation.
    pub fn breakdown(&self, per: f64, unit: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            self.write_units.keys().chain(self.read_units.keys()).collect();
        for name in names {
            lines.push(format!(
                "{name}: {:.3} write units/{unit}, {:.3} read units/{unit}, {} index writes",
                self.write_units.get(name).copied().unwrap_or_default() / per,
                self.read_units.get(name).copied().unwrap_or_default() / per,
                self.index_writes.get(name).copied().unwrap_or_default(),
            ));
        }
        let operations: Vec<String> = self.requests.iter().map(|(op, n)| format!("{op} {n}")).collect();
        lines.push(format!("requests: {}", operations.join(", ")));
        if !self.item_bytes.is_empty() {
            lines.push(format!(
                "items written: {} bytes on average",
                self.item_bytes.iter().sum::<usize>() / self.item_bytes.len()
            ));
        }
        if !self.write_units_by_kind.is_empty() {
            let kinds: Vec<String> = self
                .write_units_by_kind
                .iter()
                .map(|(kind, units)| format!("{kind} {:.3}", units / per))
                .collect();
            lines.push(format!("write units/{unit} by item: {}", kinds.join(", ")));
        }
        lines
    }
}

/// A global secondary index as DescribeTable gives it.
#[derive(Debug, Clone)]
struct Index {
    name: String,
    keys: Vec<String>,
    /// None: ALL; Some: the non-key attributes projected (empty for KEYS_ONLY).
    projected: Option<Vec<String>>,
}

/// A table's keys and indexes.
#[derive(Debug, Clone)]
struct Shape {
    keys: Vec<String>,
    indexes: Vec<Index>,
}

struct Shared {
    upstream: String,
    bill: Mutex<Bill>,
    shapes: Mutex<HashMap<String, Shape>>,
    writes: tokio::sync::Mutex<()>,
}

/// A running pricing proxy: its URL and the bill so far.
pub struct PricingProxy {
    pub url: String,
    shared: Arc<Shared>,
}

impl PricingProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            bill: Mutex::new(Bill::default()),
            shapes: Mutex::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
        });
        let accepting = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = Arc::clone(&accepting);
                tokio::spawn(async move { serve(client, &shared).await });
            }
        });
        Self { url, shared }
    }

    /// The bill so far.
    pub fn bill(&self) -> Bill {
        self.shared.bill.lock().unwrap().clone()
    }

    /// Starts a new bill.
    pub fn reset(&self) {
        *self.shared.bill.lock().unwrap() = Bill::default();
    }
}

async fn serve(mut client: TcpStream, shared: &Shared) {
    let mut buffer = Vec::new();
    while let Some(request) = super::read_request(&mut client, &mut buffer).await {
        let operation = request
            .header("x-amz-target")
            .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
            .map(str::to_owned);
        let answer = match operation {
            None => {
                shared.bill.lock().unwrap().other_requests += 1;
                super::proxy::forward(&shared.upstream, &request).await
            }
            Some(operation) => priced(shared, &operation, &request).await,
        };
        let Some(answer) = answer else { return };
        if client.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Forwards one DynamoDB request and adds its price to the bill.
async fn priced(shared: &Shared, operation: &str, request: &super::ReceivedRequest) -> Option<Vec<u8>> {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    *shared
        .bill
        .lock()
        .unwrap()
        .requests
        .entry(operation.to_owned())
        .or_default() += 1;
    let writes = written_items(shared, request, operation, &body).await;
    if writes.is_empty() {
        let answer = super::proxy::forward(&shared.upstream, request).await?;
        let (status, response) = parse_answer(&answer);
        if status == 200 {
            price_read(shared, request, operation, &body, &response).await;
        }
        return Some(answer);
    }
    let _one_at_a_time = shared.writes.lock().await;
    let before = get_items(shared, request, &writes).await;
    let answer = super::proxy::forward(&shared.upstream, request).await?;
    let (status, response) = parse_answer(&answer);
    let failed_conditions = failed_conditions(status, &response, writes.len());
    let after = if status == 200 {
        get_items(shared, request, &writes).await
    } else {
        Vec::new()
    };
    for (n, (table, _, transactional)) in writes.iter().enumerate() {
        let factor = if *transactional { 2.0 } else { 1.0 };
        let shape = shape(shared, request, table).await;
        let old = &before[n];
        if status != 200 {
            // A failed condition costs the size of the item found; other errors cost nothing.
            if failed_conditions.get(n).copied().unwrap_or(false) {
                let units = write_units(old.as_ref().map_or(0, item_size)) * factor;
                let mut bill = shared.bill.lock().unwrap();
                *bill.write_units.entry(table.clone()).or_default() += units;
                *bill.write_units_by_kind.entry(item_kind(&writes[n].1)).or_default() += units;
            }
            continue;
        }
        let new = after[n].clone();
        let size = old.as_ref().map_or(0, item_size).max(new.as_ref().map_or(0, item_size));
        let mut bill = shared.bill.lock().unwrap();
        *bill.write_units.entry(table.clone()).or_default() += write_units(size) * factor;
        *bill.write_units_by_kind.entry(item_kind(&writes[n].1)).or_default() += write_units(size) * factor;
        if let Some(item) = &new {
            bill.item_bytes.push(item_size(item));
        }
        for index in &shape.indexes {
            let (was, is) = (
                index_entry(&shape, index, old.as_ref()),
                index_entry(&shape, index, new.as_ref()),
            );
            let units = match (&was, &is) {
                (None, None) => 0.0,
                (Some(entry), None) | (None, Some(entry)) => write_units(entry_size(entry)),
                (Some(a), Some(b)) if a == b => 0.0,
                (Some(a), Some(b)) if index.keys.iter().any(|k| a.get(k) != b.get(k)) => {
                    write_units(entry_size(a)) + write_units(entry_size(b))
                }
                (Some(a), Some(b)) => write_units(entry_size(a).max(entry_size(b))),
            };
            if units > 0.0 {
                let name = format!("{table}/{}", index.name);
                *bill.write_units.entry(name.clone()).or_default() += units * factor;
                *bill.index_writes.entry(name).or_default() += 1;
            }
        }
    }
    Some(answer)
}

/// (table, key, transactional) of every item a write request touches; empty for a read.
async fn written_items(
    shared: &Shared,
    request: &super::ReceivedRequest,
    operation: &str,
    body: &Value,
) -> Vec<(String, Map<String, Value>, bool)> {
    let table_of = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    match operation {
        "PutItem" => {
            let table = table_of(body);
            let key = key_of(&shape(shared, request, &table).await, &body["Item"]);
            out.push((table, key, false));
        }
        "UpdateItem" | "DeleteItem" => out.push((table_of(body), object(&body["Key"]), false)),
        "BatchWriteItem" => {
            for (table, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                let shape = shape(shared, request, table).await;
                for write in requests.as_array().into_iter().flatten() {
                    let key = if let Some(item) = write.pointer("/PutRequest/Item") {
                        key_of(&shape, item)
                    } else {
                        object(&write["DeleteRequest"]["Key"])
                    };
                    out.push((table.clone(), key, false));
                }
            }
        }
        "TransactWriteItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, write) in item.as_object().into_iter().flatten() {
                    let table = table_of(write);
                    let key = if kind == "Put" {
                        key_of(&shape(shared, request, &table).await, &write["Item"])
                    } else {
                        object(&write["Key"])
                    };
                    out.push((table, key, true));
                }
            }
        }
        _ => {}
    }
    out
}

/// For a failed write: which of its items failed a condition.
fn failed_conditions(status: u16, response: &Value, items: usize) -> Vec<bool> {
    if status == 200 {
        return vec![false; items];
    }
    let kind = response["__type"].as_str().unwrap_or_default();
    if kind.ends_with("ConditionalCheckFailedException") {
        return vec![true; items];
    }
    if kind.ends_with("TransactionCanceledException") {
        return response["CancellationReasons"]
            .as_array()
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|r| r["Code"].as_str() == Some("ConditionalCheckFailed"))
                    .collect()
            })
            .unwrap_or_else(|| vec![false; items]);
    }
    vec![false; items]
}

async fn price_read(
    shared: &Shared,
    request: &super::ReceivedRequest,
    operation: &str,
    body: &Value,
    response: &Value,
) {
    let factor = |consistent: &Value| if consistent.as_bool() == Some(true) { 1.0 } else { 0.5 };
    let mut units: Vec<(String, f64)> = Vec::new();
    match operation {
        "GetItem" => {
            let size = response.get("Item").map_or(0, |i| item_size(&object(i)));
            units.push((
                body["TableName"].as_str().unwrap_or_default().to_owned(),
                read_units(size) * factor(&body["ConsistentRead"]),
            ));
        }
        "BatchGetItem" => {
            for (table, asked) in body["RequestItems"].as_object().into_iter().flatten() {
                let shape = shape(shared, request, table).await;
                let found: Vec<Map<String, Value>> = response["Responses"][table.as_str()]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(object)
                    .collect();
                let mut total = 0.0;
                for key in asked["Keys"].as_array().into_iter().flatten() {
                    let key = object(key);
                    let size = found
                        .iter()
                        .find(|item| shape.keys.iter().all(|k| item.get(k) == key.get(k)))
                        .map_or(0, item_size);
                    total += read_units(size) * factor(&asked["ConsistentRead"]);
                }
                units.push((table.clone(), total));
            }
        }
        "Query" | "Scan" => {
            let size: usize = response["Items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| item_size(&object(i)))
                .sum();
            let mut name = body["TableName"].as_str().unwrap_or_default().to_owned();
            if let Some(index) = body["IndexName"].as_str() {
                name = format!("{name}/{index}");
            }
            units.push((name, read_units(size) * factor(&body["ConsistentRead"])));
        }
        _ => {}
    }
    let mut bill = shared.bill.lock().unwrap();
    for (name, n) in units {
        *bill.read_units.entry(name).or_default() += n;
    }
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

/// What kind of item a key names, for the profile: the partition key's text up to its first
/// `#` (`leg`, `iv`, `waiting`...; `agent` for an agent ARN; the roster's member kind), and for an interval's partition
/// what the sort key holds (`iv/filing`, `iv/#closing`).
pub fn item_kind(key: &Map<String, Value>) -> String {
    let text = |name: &str| {
        key.get(name)
            .and_then(|v| v["S"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    // The key attribute that tells the kind: the contact table's `pk`, the roster's `member`.
    let pk = ["pk", "member", "agent_arn", "claim_id"]
        .iter()
        .find_map(|name| key.get(*name).and_then(|v| v["S"].as_str()))
        .unwrap_or_default();
    let kind = if pk.starts_with("arn:") {
        "agent".to_owned()
    } else {
        // `#progress` (the agent table's progress item) is `progress`.
        pk.split('#')
            .find(|part| !part.is_empty())
            .unwrap_or_default()
            .to_owned()
    };
    if kind == "iv" {
        let sk = text("sk");
        return if sk.starts_with("c#") {
            "iv/filing".into()
        } else {
            format!("iv/{sk}")
        };
    }
    kind
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn key_of(shape: &Shape, item: &Value) -> Map<String, Value> {
    shape
        .keys
        .iter()
        .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
        .collect()
}

/// The index entry of `item`, None when the item lacks a key attribute of the index (sparse).
fn index_entry(shape: &Shape, index: &Index, item: Option<&Map<String, Value>>) -> Option<Map<String, Value>> {
    let item = item?;
    if !index.keys.iter().all(|k| item.contains_key(k)) {
        return None;
    }
    Some(match &index.projected {
        None => item.clone(),
        Some(projected) => item
            .iter()
            .filter(|(name, _)| shape.keys.contains(name) || index.keys.contains(name) || projected.contains(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
    })
}

fn entry_size(entry: &Map<String, Value>) -> usize {
    item_size(entry) + 100
}

/// An item's size by DynamoDB's rules: names plus values.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => number_size(inner.as_str().unwrap_or_default()),
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "BOOL" | "NULL" => 1,
        "SS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().map_or(0, str::len))
            .sum(),
        "NS" => inner
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| number_size(s.as_str().unwrap_or_default()))
            .sum(),
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| 1 + value_size(v))
                .sum::<usize>()
        }
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(n, v)| 1 + n.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// One byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// The table's keys and indexes, asked once per table.
async fn shape(shared: &Shared, request: &super::ReceivedRequest, table: &str) -> Shape {
    if let Some(shape) = shared.shapes.lock().unwrap().get(table) {
        return shape.clone();
    }
    let described = call(shared, request, "DescribeTable", &json!({ "TableName": table })).await;
    let keys = |schema: &Value| -> Vec<String> {
        schema
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["AttributeName"].as_str().map(str::to_owned))
            .collect()
    };
    let t = &described["Table"];
    let indexes = t["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| Index {
            name: i["IndexName"].as_str().unwrap_or_default().to_owned(),
            keys: keys(&i["KeySchema"]),
            projected: match i["Projection"]["ProjectionType"].as_str() {
                Some("ALL") => None,
                _ => Some(
                    i["Projection"]["NonKeyAttributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                        .collect(),
                ),
            },
        })
        .collect();
    let shape = Shape {
        keys: keys(&t["KeySchema"]),
        indexes,
    };
    shared.shapes.lock().unwrap().insert(table.to_owned(), shape.clone());
    shape
}

/// The items at these keys, in order, read consistently from the emulator (not billed), 100
/// keys a BatchGetItem.
async fn get_items(
    shared: &Shared,
    request: &super::ReceivedRequest,
    writes: &[(String, Map<String, Value>, bool)],
) -> Vec<Option<Map<String, Value>>> {
    let mut found = vec![None; writes.len()];
    for chunk in (0..writes.len()).collect::<Vec<_>>().chunks(100) {
        let mut asked: BTreeMap<&str, Vec<&Map<String, Value>>> = BTreeMap::new();
        for &i in chunk {
            let keys = asked.entry(writes[i].0.as_str()).or_default();
            if !keys.contains(&&writes[i].1) {
                keys.push(&writes[i].1);
            }
        }
        let body: Map<String, Value> = asked
            .iter()
            .map(|(table, keys)| (table.to_string(), json!({ "Keys": keys, "ConsistentRead": true })))
            .collect();
        let answer = call(shared, request, "BatchGetItem", &json!({ "RequestItems": body })).await;
        assert!(
            answer["UnprocessedKeys"].as_object().is_none_or(|u| u.is_empty()),
            "the emulator read every key: {answer}"
        );
        for &i in chunk {
            let (table, key, _) = &writes[i];
            found[i] = answer["Responses"][table.as_str()]
                .as_array()
                .into_iter()
                .flatten()
                .map(object)
                .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)));
        }
    }
    found
}

/// A DynamoDB call of the proxy's own, with the headers (region, credentials) of `like`.
async fn call(shared: &Shared, like: &super::ReceivedRequest, operation: &str, body: &Value) -> Value {
    let headers = like
        .headers
        .iter()
        .filter(|(n, _)| n != "x-amz-target" && n != "content-length" && !n.starts_with("amz-sdk"))
        .cloned()
        .chain([("x-amz-target".to_owned(), format!("DynamoDB_20120810.{operation}"))])
        .collect();
    let request = super::ReceivedRequest {
        method: "POST".into(),
        target: "/".into(),
        headers,
        body: body.to_string().into_bytes(),
    };
    let answer = super::proxy::forward(&shared.upstream, &request)
        .await
        .expect("the emulator answers the pricing proxy");
    parse_answer(&answer).1
}

/// The status and JSON body of a raw HTTP answer (plain or chunked).
fn parse_answer(answer: &[u8]) -> (u16, Value) {
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = answer.get(split + 4..).unwrap_or_default().to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = body.get(start + size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = object(&json!({
            "agent_arn": { "S": "abc" },
            "wm_ms": { "N": "1795161600123" },
            "wm_ids": { "L": [{ "S": "e1" }, { "S": "e2" }] },
            "contact": { "M": { "q": { "S": "xy" } } },
        }));
        // 9+3, 5+(13 digits → 7+1), 6+(3+ (1+2)*2), 7+(3+1+1+2)
        assert_eq!(item_size(&item), 12 + 13 + 15 + 14);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097), 2.0);
    }

    #[test]
    fn item_kinds_name_the_item() {
        let key = |pairs: Value| object(&pairs);
        assert_eq!(
            item_kind(&key(json!({ "pk": { "S": "leg#i#c" }, "sk": { "S": "leg" } }))),
            "leg"
        );
        assert_eq!(
            item_kind(&key(json!({ "pk": { "S": "iv#i#q#1" }, "sk": { "S": "c#c1#2" } }))),
            "iv/filing"
        );
        assert_eq!(
            item_kind(&key(json!({ "pk": { "S": "iv#i#q#1" }, "sk": { "S": "#closing" } }))),
            "iv/#closing"
        );
        assert_eq!(
            item_kind(&key(json!({ "pk": { "S": "waiting" }, "sk": { "S": "i#c" } }))),
            "waiting"
        );
        assert_eq!(
            item_kind(&key(json!({ "agent_arn": { "S": "arn:aws:connect:x" } }))),
            "agent"
        );
    }
}
