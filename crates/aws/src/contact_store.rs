//! [`DynamoContactStore`]: the stream basis's [`ContactStore`] on one DynamoDB table (design in
//! [`connect_wfm_core::contact::store`]; the items' compact forms in `contact_item`).
//!
//! Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expires_at` (N, epoch
//! seconds; every item expires [`DEFAULT_RETENTION`] after its last write, so a leg is kept at
//! least 48 h and an interval can be rewritten up to 24 h after its end). No index. Items:
//!
//! | pk | sk | attributes |
//! |---|---|---|
//! | `leg#<instance id>#<contact id>` | `leg` | `v` (N, version), `leg` (S, the leg), `f` (S, its filing; absent when empty) |
//! | `iv#<instance id>#<queue id>#<interval start, epoch s>` | `c#<contact id>#<version>` | `s` (S, the leg's summary; absent: a tombstone) |
//! | the same | `#closing`, `#unnamed` | (the interval is in the closing, the unnamed set: read with its filings) |
//! | `waiting` | `g#<hint id>` | `legs` (L of S, `<instance id>#<contact id>`: the legs of one batch that wait in their queue, at most [`HINT_LEGS`]) |
//! | `waiting` | `<instance id>#<contact id>` | (a hint of one leg, as earlier versions wrote it: read, and taken out by the sweep) |
//! | `closing` | `<instance id>#<queue id>#<interval start, epoch s>` | `instance_id`, `queue_id`, `interval_start` (N) |
//! | `unnamed#<instance id>#<queue id>` | `<interval start, epoch s>` | intervals written while the queue's name was unknown |
//! | `queue#<instance id>#<queue id>` | `name` | `name` (S), `stamp_ms` (N), `stamp_id` (S) |
//! | `qname#<instance id>#<queue name>` | `id` | `queue_id` (S), `stamp_ms`, `stamp_id`: the reverse, for reconciling report rows |
//! | `progress` | `progress` | `t_ms` (N): the newest input time processed (replays only) |
//!
//! Requests of a batch: one BatchGetItem (legs, queue names), one conditional PutItem per leg
//! the batch changes, one BatchWriteItem (per 25 writes: filings, the batch's waiting legs in one
//! hint per [`HINT_LEGS`]; a batch never deletes a hint, the sweep does once none of its legs
//! waits), and per
//! interval written a Query of its filings and a Query counting them after the record is
//! written; the first batch to write an interval before its end (or while its queue's name is
//! unknown) adds it to the closing (unnamed) set: two more BatchWriteItems, once. Conditions: a leg is written only over the version it was read
//! at; a queue name only over an older stamp; the progress only forward. Filings are never
//! overwritten by another version (their key holds it), so they need no condition.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, Select, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use connect_wfm_core::contact::store::{
    ContactStore, Filing, IntervalLegs, LegFiling, LegWrite, Loaded, StoredLeg, WaitingHint, counted_legs, hint_id,
};
use connect_wfm_core::contact::{Fact, IntervalKey, Leg, LegKey, LegSummary, QueueNames, Stamp};
use connect_wfm_core::ports::PortError;

use crate::contact_item::{decode_filing, decode_leg, decode_summary, encode_filing, encode_leg, encode_summary};
use crate::error::port_error;
use crate::item::Item;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// How long an item is kept after its last write: 72 h (feed.md rewrites records up to 24 h
/// after their end; contacts may wait for hours before that).
pub const DEFAULT_RETENTION: TimeDelta = TimeDelta::hours(72);

/// Attribute of a leg item: the leg.
const LEG: &str = "leg";
/// Attribute of a leg item: its filing.
const FILING: &str = "f";
/// Attribute of a filing: the leg's summary (absent: a tombstone).
const SUMMARY: &str = "s";
/// Legs hinted in one item of the waiting set: a batch's waiting legs cost one write unit per
/// item, not one each (73 bytes a leg: 12 keep the item under 1 KB).
pub const HINT_LEGS: usize = 12;
/// Attribute of a waiting hint: its legs.
const HINT_LEGS_ATTRIBUTE: &str = "legs";
/// Sort key of the marker in an interval's partition: the interval is in the closing set.
const CLOSING_MARKER: &str = "#closing";
/// Sort key of the marker in an interval's partition: the interval is in the unnamed set.
const UNNAMED_MARKER: &str = "#unnamed";

/// The stream basis's storage on a DynamoDB table keyed `pk`/`sk` (see the module docs and
/// [`crate::schema::create_contact_table`]). Reads are strongly consistent: a batch must see
/// the legs the batch before it stored.
#[derive(Debug, Clone)]
pub struct DynamoContactStore {
    /// The client.
    pub client: Client,
    /// The table.
    pub table: String,
    /// How long items are kept after their last write.
    pub retention: TimeDelta,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn leg_pk(key: &LegKey) -> String {
    format!("leg#{}#{}", key.instance_id, key.contact_id)
}

fn interval_pk(key: &IntervalKey) -> String {
    format!(
        "iv#{}#{}#{}",
        key.instance_id,
        key.queue_id,
        key.interval_start.timestamp()
    )
}

fn interval_sk(key: &IntervalKey) -> String {
    format!(
        "{}#{}#{}",
        key.instance_id,
        key.queue_id,
        key.interval_start.timestamp()
    )
}

fn filing_sk(contact_id: &str, version: u64) -> String {
    format!("c#{contact_id}#{version}")
}

fn waiting_sk(key: &LegKey) -> String {
    format!("{}#{}", key.instance_id, key.contact_id)
}

fn names_pk(instance_id: &str, queue_id: &str) -> String {
    format!("queue#{instance_id}#{queue_id}")
}

fn unnamed_pk(instance_id: &str, queue_id: &str) -> String {
    format!("unnamed#{instance_id}#{queue_id}")
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => Some(v.as_str()),
        _ => None,
    }
}

fn is_conditional_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl DynamoContactStore {
    /// A store on `table`, reached through `client`, keeping items [`DEFAULT_RETENTION`].
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: DEFAULT_RETENTION,
        }
    }

    fn expires_at(&self) -> AttributeValue {
        n((Utc::now() + self.retention).timestamp())
    }

    fn key(pk: String, sk: impl Into<String>) -> Item {
        Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
    }

    fn unreadable(&self, item: &Item, what: &str, e: impl std::fmt::Display) -> PortError {
        PortError::new(
            format!("read {what} from table {}", self.table),
            format!(
                "item {}/{}: {e}",
                text(item, PK).unwrap_or("?"),
                text(item, SK).unwrap_or("?")
            ),
            false,
        )
    }

    fn put(item: Item) -> WriteRequest {
        let put = PutRequest::builder().set_item(Some(item)).build().expect("item is set");
        WriteRequest::builder().put_request(put).build()
    }

    fn delete(key: Item) -> WriteRequest {
        let delete = DeleteRequest::builder().set_key(Some(key)).build().expect("key is set");
        WriteRequest::builder().delete_request(delete).build()
    }

    /// BatchGetItem of any number of keys (chunks of 100, unprocessed keys asked again).
    async fn batch_get(&self, keys: Vec<Item>, what: &str) -> Result<Vec<Item>, PortError> {
        crate::batch::batch_get(&self.client, &self.table, keys, what).await
    }

    /// BatchWriteItem of any number of requests (chunks of 25, unprocessed ones sent again).
    async fn batch_write(&self, requests: Vec<WriteRequest>, what: &str) -> Result<(), PortError> {
        crate::batch::batch_write(&self.client, &self.table, requests, what).await
    }

    /// Every item of a partition (strongly consistent, all pages); with `count_only`, only how
    /// many (as that many empty items).
    async fn query_partition(&self, pk: &str, count_only: bool) -> Result<(Vec<Item>, usize), PortError> {
        let operation = || format!("query {pk} in table {}", self.table);
        let mut items = Vec::new();
        let mut count = 0;
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if count_only {
                // Filings only: a marker added meanwhile is no change of the record.
                request = request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :filing)")
                    .expression_attribute_values(":filing", s("c#"))
                    .select(Select::Count);
            }
            let output = request.send().await.map_err(|e| port_error(operation(), &e))?;
            count += output.count as usize;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok((items, count));
            }
        }
    }

    /// A stored leg from its item (a leg that cannot be read starts again from the batch's
    /// inputs, its version kept so the write replaces it, rather than failing every input of
    /// the batch).
    fn stored_leg(&self, item: &Item) -> Result<StoredLeg, PortError> {
        let pk = text(item, PK).unwrap_or_default();
        let Some((instance_id, contact_id)) = pk.strip_prefix("leg#").and_then(|rest| rest.split_once('#')) else {
            return Err(self.unreadable(item, "leg", "key is not leg#<instance>#<contact>"));
        };
        let key = LegKey {
            instance_id: instance_id.to_owned(),
            contact_id: contact_id.to_owned(),
        };
        let version: u64 = match text(item, "v").map(str::parse) {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(self.unreadable(item, "version", e)),
            None => return Err(self.unreadable(item, "version", "attribute `v` missing")),
        };
        let leg = match text(item, LEG).map(|json| decode_leg(&key, json)) {
            Some(Ok(leg)) => leg,
            result => {
                let reason = match result {
                    Some(Err(e)) => e,
                    _ => "attribute `leg` missing".to_owned(),
                };
                tracing::error!(table = %self.table, contact_id = %key.contact_id, %reason, "stored leg cannot be read; it starts again from the new inputs");
                Leg::new(key.clone())
            }
        };
        let filing = match text(item, FILING).map(|json| decode_filing(&key.instance_id, json)) {
            Some(Ok(filing)) => filing,
            Some(Err(e)) => {
                // Only tombstones depend on it: log, and file as if none.
                tracing::warn!(table = %self.table, contact_id = %key.contact_id, error = %e, "a stored leg's filing cannot be read");
                Filing::default()
            }
            None => Filing::default(),
        };
        Ok(StoredLeg { leg, version, filing })
    }

    /// Names from `queue#` items.
    fn learn_name(names: &mut QueueNames, item: &Item) {
        let (Some(pk), Some(name), Some(ms), Some(id)) = (
            text(item, PK),
            text(item, "name"),
            text(item, "stamp_ms"),
            text(item, "stamp_id"),
        ) else {
            return;
        };
        let mut parts = pk.splitn(3, '#').skip(1);
        let (Some(instance), Some(queue)) = (parts.next(), parts.next()) else {
            return;
        };
        let Some(time) = ms.parse().ok().and_then(DateTime::from_timestamp_millis) else {
            return;
        };
        names.learn_by_id(
            instance,
            queue,
            Fact {
                stamp: Stamp {
                    time,
                    id: id.to_owned(),
                },
                value: name.to_owned(),
            },
        );
    }
}

impl ContactStore for DynamoContactStore {
    async fn load(&self, legs: &[LegKey], queues: &[(String, String)], progress: bool) -> Result<Loaded, PortError> {
        let mut keys: Vec<Item> = legs.iter().map(|k| Self::key(leg_pk(k), "leg")).collect();
        keys.extend(queues.iter().map(|(i, q)| Self::key(names_pk(i, q), "name")));
        if progress {
            keys.push(Self::key("progress".into(), "progress"));
        }
        let mut loaded = Loaded::default();
        if keys.is_empty() {
            return Ok(loaded);
        }
        for item in self.batch_get(keys, "legs and queue names").await? {
            match text(&item, PK) {
                Some(pk) if pk.starts_with("leg#") => loaded.legs.push(self.stored_leg(&item)?),
                Some(pk) if pk.starts_with("queue#") => Self::learn_name(&mut loaded.names, &item),
                Some("progress") => {
                    loaded.progress = text(&item, "t_ms")
                        .and_then(|ms| ms.parse().ok())
                        .and_then(DateTime::from_timestamp_millis);
                }
                _ => {}
            }
        }
        Ok(loaded)
    }

    async fn store_leg(&self, stored: &StoredLeg, expected: Option<u64>) -> Result<LegWrite, PortError> {
        let key = stored.leg.key();
        let mut item = Self::key(leg_pk(&key), "leg");
        item.insert("v".into(), n(stored.version));
        item.insert(LEG.into(), s(encode_leg(&stored.leg)));
        // In the same write as the leg: a retry after a failed filing needs it.
        if let Some(filing) = encode_filing(&stored.filing) {
            item.insert(FILING.into(), s(filing));
        }
        item.insert(EXPIRES_AT.into(), self.expires_at());
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("v = :expected")
                .expression_attribute_values(":expected", n(v)),
        };
        match request.send().await {
            Ok(_) => Ok(LegWrite::Stored),
            Err(e) if is_conditional_failure(&e) => Ok(LegWrite::Conflict),
            Err(e) => Err(port_error(
                format!("store leg {} in table {}", leg_pk(&key), self.table),
                &e,
            )),
        }
    }

    async fn file(&self, filings: &[LegFiling]) -> Result<(), PortError> {
        // Keyed by the item's key: a batch never names one item twice (DynamoDB refuses it).
        let mut requests: BTreeMap<(String, String), WriteRequest> = BTreeMap::new();
        let mut add = |pk: String, sk: String, request: WriteRequest| {
            requests.insert((pk, sk), request);
        };
        for filing in filings {
            let sk = filing_sk(&filing.key.contact_id, filing.version);
            if let Some(summary) = &filing.summary {
                let encoded = encode_summary(summary);
                for key in &filing.intervals {
                    let mut item = Self::key(interval_pk(key), sk.clone());
                    item.insert(SUMMARY.into(), s(encoded.clone()));
                    item.insert(EXPIRES_AT.into(), self.expires_at());
                    add(interval_pk(key), sk.clone(), Self::put(item));
                }
            }
            for key in &filing.left {
                let mut item = Self::key(interval_pk(key), sk.clone());
                item.insert(EXPIRES_AT.into(), self.expires_at());
                add(interval_pk(key), sk.clone(), Self::put(item));
            }
        }
        // The batch's waiting legs, a few per item: sorted, so the same legs make the same
        // items (and ids) when the batch is written again.
        let mut hinted: Vec<LegKey> = filings.iter().filter(|f| f.hint).map(|f| f.key.clone()).collect();
        hinted.sort();
        hinted.dedup();
        for legs in hinted.chunks(HINT_LEGS) {
            let sk = format!("g#{}", hint_id(legs));
            let mut item = Self::key("waiting".into(), sk.clone());
            let legs = legs.iter().map(|k| s(waiting_sk(k))).collect();
            item.insert(HINT_LEGS_ATTRIBUTE.into(), AttributeValue::L(legs));
            item.insert(EXPIRES_AT.into(), self.expires_at());
            add("waiting".into(), sk, Self::put(item));
        }
        if requests.is_empty() {
            return Ok(());
        }
        self.batch_write(requests.into_values().collect(), "filings").await
    }

    async fn mark(&self, closing: &[IntervalKey], unnamed: &[IntervalKey]) -> Result<(), PortError> {
        // The sets' items first, then the markers in the intervals' partitions, which tell a
        // writer the interval is in the set already: a marker never stands without its item.
        let mut items = Vec::new();
        let mut markers = Vec::new();
        for key in closing {
            let mut item = Self::key("closing".into(), interval_sk(key));
            item.insert("instance_id".into(), s(&key.instance_id));
            item.insert("queue_id".into(), s(&key.queue_id));
            item.insert("interval_start".into(), n(key.interval_start.timestamp()));
            item.insert(EXPIRES_AT.into(), self.expires_at());
            items.push(Self::put(item));
            let mut marker = Self::key(interval_pk(key), CLOSING_MARKER);
            marker.insert(EXPIRES_AT.into(), self.expires_at());
            markers.push(Self::put(marker));
        }
        for key in unnamed {
            let mut item = Self::key(
                unnamed_pk(&key.instance_id, &key.queue_id),
                key.interval_start.timestamp().to_string(),
            );
            item.insert(EXPIRES_AT.into(), self.expires_at());
            items.push(Self::put(item));
            let mut marker = Self::key(interval_pk(key), UNNAMED_MARKER);
            marker.insert(EXPIRES_AT.into(), self.expires_at());
            markers.push(Self::put(marker));
        }
        self.batch_write(items, "closing and unnamed intervals").await?;
        self.batch_write(markers, "interval markers").await
    }

    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let (items, _) = self.query_partition(&interval_pk(key), false).await?;
        let mut filings: Vec<(String, u64, Option<LegSummary>)> = Vec::new();
        let (mut closing, mut unnamed) = (false, false);
        for item in &items {
            match text(item, SK) {
                Some(CLOSING_MARKER) => closing = true,
                Some(UNNAMED_MARKER) => unnamed = true,
                _ => {}
            }
            let Some(rest) = text(item, SK).and_then(|sk| sk.strip_prefix("c#")) else {
                // A marker, or `#rev` of an earlier version.
                continue;
            };
            // `c#<contact>#<version>`; an earlier version wrote `c#<contact>` with `v` and the
            // whole leg.
            let (contact_id, version) = match rest.rsplit_once('#').map(|(c, v)| (c, v.parse::<u64>())) {
                Some((contact_id, Ok(version))) => (contact_id.to_owned(), version),
                _ => match text(item, "v").map(str::parse::<u64>) {
                    Some(Ok(version)) => (rest.to_owned(), version),
                    _ => return Err(self.unreadable(item, "filing", "no version")),
                },
            };
            let leg_key = LegKey {
                instance_id: key.instance_id.clone(),
                contact_id: contact_id.clone(),
            };
            let summary = if let Some(encoded) = text(item, SUMMARY) {
                Some(decode_summary(&leg_key, &key.queue_id, encoded).map_err(|e| self.unreadable(item, "filing", e))?)
            } else if let Some(json) = text(item, LEG) {
                decode_leg(&leg_key, json)
                    .map_err(|e| self.unreadable(item, "filing", e))?
                    .summary()
            } else {
                None
            };
            filings.push((contact_id, version, summary));
        }
        let (legs, counted) = counted_legs(filings.iter().map(|(c, v, s)| (c.as_str(), *v, s.as_ref())));
        Ok(IntervalLegs {
            legs,
            counted,
            filings: filings.len(),
            closing,
            unnamed,
        })
    }

    async fn interval_filings(&self, key: &IntervalKey) -> Result<usize, PortError> {
        Ok(self.query_partition(&interval_pk(key), true).await?.1)
    }

    async fn waiting(&self) -> Result<Vec<WaitingHint>, PortError> {
        let (items, _) = self.query_partition("waiting", false).await?;
        let leg = |text: &str| {
            let (instance_id, contact_id) = text.split_once('#')?;
            Some(LegKey {
                instance_id: instance_id.to_owned(),
                contact_id: contact_id.to_owned(),
            })
        };
        let mut hints = Vec::new();
        for item in &items {
            let Some(sk) = text(item, SK) else { continue };
            let legs = match item.get(HINT_LEGS_ATTRIBUTE) {
                Some(AttributeValue::L(legs)) => {
                    legs.iter().filter_map(|v| v.as_s().ok().and_then(|t| leg(t))).collect()
                }
                // A hint of one leg, as earlier versions wrote it.
                _ => leg(sk).into_iter().collect(),
            };
            hints.push(WaitingHint {
                id: sk.to_owned(),
                legs,
            });
        }
        Ok(hints)
    }

    async fn forget_waiting(&self, ids: &[String]) -> Result<(), PortError> {
        let requests = ids
            .iter()
            .map(|id| Self::delete(Self::key("waiting".into(), id.clone())))
            .collect();
        self.batch_write(requests, "stale waiting hints").await
    }

    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        Ok(self.load(&[], queues, false).await?.names)
    }

    async fn queue_ids_by_name(&self, instance_id: &str, names: &[String]) -> Result<Vec<(String, String)>, PortError> {
        let keys = names
            .iter()
            .map(|name| Self::key(format!("qname#{instance_id}#{name}"), "id"))
            .collect();
        let mut ids = Vec::new();
        for item in self.batch_get(keys, "queue ids").await? {
            if let (Some(pk), Some(queue_id)) = (text(&item, PK), text(&item, "queue_id")) {
                if let Some(name) = pk.strip_prefix(&format!("qname#{instance_id}#")) {
                    ids.push((name.to_owned(), queue_id.to_owned()));
                }
            }
        }
        Ok(ids)
    }

    async fn learn_queue_names(&self, names: &QueueNames) -> Result<(), PortError> {
        let named = names.entries().flat_map(|(instance, queue, fact)| {
            let by_id = (names_pk(instance, queue), "name", "name", fact.value.clone());
            let by_name = (
                format!("qname#{instance}#{}", fact.value),
                "id",
                "queue_id",
                queue.to_owned(),
            );
            [(by_id, fact), (by_name, fact)]
        });
        for ((pk, sk, attribute, value), fact) in named {
            let mut item = Self::key(pk.clone(), sk);
            item.insert(attribute.into(), s(value));
            item.insert("stamp_ms".into(), n(fact.stamp.time.timestamp_millis()));
            item.insert("stamp_id".into(), s(&fact.stamp.id));
            item.insert(EXPIRES_AT.into(), self.expires_at());
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(
                    "attribute_not_exists(pk) OR stamp_ms < :ms OR (stamp_ms = :ms AND stamp_id <= :id)",
                )
                .expression_attribute_values(":ms", n(fact.stamp.time.timestamp_millis()))
                .expression_attribute_values(":id", s(&fact.stamp.id))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(port_error(format!("store queue name {pk} in table {}", self.table), &e)),
            }
        }
        Ok(())
    }

    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        let mut keys = Vec::new();
        for item in self.query_partition("closing", false).await?.0 {
            let start = text(&item, "interval_start")
                .and_then(|t| t.parse().ok())
                .and_then(|t| DateTime::from_timestamp(t, 0));
            match (text(&item, "instance_id"), text(&item, "queue_id"), start) {
                (Some(instance_id), Some(queue_id), Some(interval_start)) => keys.push(IntervalKey {
                    instance_id: instance_id.to_owned(),
                    queue_id: queue_id.to_owned(),
                    interval_start,
                }),
                _ => {
                    tracing::warn!(table = %self.table, sk = ?text(&item, SK), "closing item without its interval; skipped")
                }
            }
        }
        Ok(keys)
    }

    async fn closed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        // The markers first (see `mark`).
        let markers = keys
            .iter()
            .map(|key| Self::delete(Self::key(interval_pk(key), CLOSING_MARKER)))
            .collect();
        self.batch_write(markers, "interval markers").await?;
        let requests = keys
            .iter()
            .map(|key| Self::delete(Self::key("closing".into(), interval_sk(key))))
            .collect();
        self.batch_write(requests, "closed intervals").await
    }

    async fn unnamed(&self, instance_id: &str, queue_id: &str) -> Result<Vec<IntervalKey>, PortError> {
        let mut keys = Vec::new();
        for item in self.query_partition(&unnamed_pk(instance_id, queue_id), false).await?.0 {
            match text(&item, SK)
                .and_then(|sk| sk.parse().ok())
                .and_then(|t| DateTime::from_timestamp(t, 0))
            {
                Some(interval_start) => keys.push(IntervalKey {
                    instance_id: instance_id.to_owned(),
                    queue_id: queue_id.to_owned(),
                    interval_start,
                }),
                None => tracing::warn!(table = %self.table, "unnamed item without its interval start; skipped"),
            }
        }
        Ok(keys)
    }

    async fn named(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let markers = keys
            .iter()
            .map(|key| Self::delete(Self::key(interval_pk(key), UNNAMED_MARKER)))
            .collect();
        self.batch_write(markers, "interval markers").await?;
        let requests = keys
            .iter()
            .map(|key| {
                Self::delete(Self::key(
                    unnamed_pk(&key.instance_id, &key.queue_id),
                    key.interval_start.timestamp().to_string(),
                ))
            })
            .collect();
        self.batch_write(requests, "named intervals").await
    }

    async fn advance_progress(&self, time: DateTime<Utc>) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key("progress".into(), "progress")))
            .update_expression("SET t_ms = :t")
            .condition_expression("attribute_not_exists(t_ms) OR t_ms < :t")
            .expression_attribute_values(":t", n(time.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(port_error(format!("advance progress in table {}", self.table), &e)),
        }
    }

    async fn progress(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(self.load(&[], &[], true).await?.progress)
    }
}
