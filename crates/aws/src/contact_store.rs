//! [`DynamoContactStore`]: the stream basis's [`ContactStore`] on one DynamoDB table (design in
//! [`connect_wfm_core::contact::store`]).
//!
//! Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expires_at` (N, epoch
//! seconds; every item expires [`DEFAULT_RETENTION`] after its last write, so a leg is kept at
//! least 48 h and an interval can be rewritten up to 24 h after its end). Items:
//!
//! | pk | sk | attributes |
//! |---|---|---|
//! | `leg#<instance id>#<contact id>` | `leg` | `v` (N, version), `leg` (S, the leg as JSON) |
//! | `iv#<instance id>#<queue id>#<interval start, epoch s>` | `c#<contact id>` | `v`, `leg` (absent: a tombstone), `counted` (the leg was counted here) |
//! | the same | `#rev` | `rev` (N): bumped by every filing that changes the interval |
//! | `waiting` | `<instance id>#<contact id>` | `v`, `leg` (absent: a tombstone) |
//! | `closing` | `<instance id>#<queue id>#<interval start, epoch s>` | `instance_id`, `queue_id`, `interval_start` (N) |
//! | `queue#<instance id>#<queue id>` | `name` | `name` (S), `stamp_ms` (N), `stamp_id` (S) |
//! | `qname#<instance id>#<queue name>` | `id` | `queue_id` (S), `stamp_ms`, `stamp_id`: the reverse, for reconciling report rows |
//! | `unnamed#<instance id>#<queue id>` | `<interval start, epoch s>` | intervals written while the queue's name was unknown |
//! | `progress` | `progress` | `t_ms` (N): the newest input time processed |
//!
//! Conditions: a leg is written only over the version it was read at; a filed copy only over an
//! older version (or none); a queue name only over an older stamp; the progress only forward.
//! `waiting` and `closing` are single partitions: they hold only contacts waiting now and
//! intervals not yet closed, and are read once a minute by the sweep.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use connect_wfm_core::contact::store::{ContactStore, Filing, IntervalLegs, LegWrite, PriorFiling, StoredLeg};
use connect_wfm_core::contact::{Fact, IntervalKey, Leg, LegKey, QueueNames, Stamp};
use connect_wfm_core::ports::PortError;

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

/// Requests per BatchWriteItem (the DynamoDB limit).
const BATCH_WRITE_LIMIT: usize = 25;
/// Attribute of a leg item: where the versions before it were filed (JSON of `PriorFiling`).
const PRIOR: &str = "prior";

const NEWER_VERSION: &str = "attribute_not_exists(v) OR v < :v";
/// Attribute of a filed copy: the leg was counted in this interval (a live copy, or a tombstone
/// that replaced one), so filing it away must rewrite the interval's record.
const COUNTED: &str = "counted";

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

fn unnamed_pk(instance_id: &str, queue_id: &str) -> String {
    format!("unnamed#{instance_id}#{queue_id}")
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
        let pk = match item.get(PK) {
            Some(AttributeValue::S(pk)) => pk.as_str(),
            _ => "?",
        };
        PortError::new(
            format!("read {what} from table {}", self.table),
            format!("item {pk}: {e}"),
            false,
        )
    }

    fn version_of(&self, item: &Item) -> Result<u64, PortError> {
        match item.get("v") {
            Some(AttributeValue::N(v)) => v.parse().map_err(|e| self.unreadable(item, "version", e)),
            _ => Err(self.unreadable(item, "version", "attribute `v` missing")),
        }
    }

    fn leg_of(&self, item: &Item) -> Result<Option<Leg>, PortError> {
        match item.get("leg") {
            Some(AttributeValue::S(json)) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| self.unreadable(item, "leg", e)),
            None => Ok(None),
            Some(_) => Err(self.unreadable(item, "leg", "attribute `leg` is not a string")),
        }
    }

    /// BatchGetItem of any number of keys (chunks of 100, unprocessed keys asked again).
    async fn batch_get(&self, keys: Vec<Item>, what: &str) -> Result<Vec<Item>, PortError> {
        crate::batch::batch_get(&self.client, &self.table, keys, what).await
    }

    /// BatchWriteItem of any number of requests (chunks of 25, unprocessed ones sent again).
    async fn batch_write(&self, requests: Vec<WriteRequest>, what: &str) -> Result<(), PortError> {
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let operation = || format!("write {} {what} to table {}", chunk.len(), self.table);
            let mut pending = chunk.to_vec();
            let mut pauses = crate::batch::UNPROCESSED_RETRY.delays();
            loop {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| port_error(operation(), &e))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                let Some(pause) = pauses.next() else {
                    return Err(PortError::new(
                        operation(),
                        "requests still unprocessed (throttled)",
                        true,
                    ));
                };
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    /// Every item of a partition (strongly consistent, all pages).
    async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, PortError> {
        let operation = || format!("query {pk} in table {}", self.table);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| port_error(operation(), &e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Files one copy (or tombstone) unless a newer or equal version is there; whether it was
    /// written, and whether a tombstone of this version that vacated a live copy is there now
    /// (written by this call, or by an earlier filing of the same version: see
    /// [`ContactStore::file_leg`]).
    async fn put_copy(
        &self,
        pk: String,
        sk: String,
        stored: &StoredLeg,
        leg_json: Option<&str>,
    ) -> Result<(bool, bool), PortError> {
        use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
        let operation = || format!("file leg under {pk} in table {}", self.table);
        let Some(json) = leg_json else {
            // A tombstone keeps `counted` of what it replaces: a live copy (always `counted`)
            // or a tombstone that had vacated one.
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk.clone(), sk)))
                .update_expression(format!(
                    "SET v = :v, {EXPIRES_AT} = :exp, {COUNTED} = if_not_exists({COUNTED}, :no) REMOVE leg"
                ))
                .condition_expression(NEWER_VERSION)
                .expression_attribute_values(":v", n(stored.version))
                .expression_attribute_values(":exp", self.expires_at())
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let counted = |item: &Item| matches!(item.get(COUNTED), Some(AttributeValue::Bool(true)));
            return match result {
                Ok(output) => Ok((true, output.attributes.as_ref().is_some_and(counted))),
                Err(e) if is_conditional_failure(&e) => {
                    // The same or a newer version is there: a tombstone of this very version
                    // that vacated a live copy still makes the caller recompute the record.
                    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
                    let same_vacated = match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(failure)) => {
                            failure.item.as_ref().is_some_and(|old| {
                                !old.contains_key("leg")
                                    && counted(old)
                                    && matches!(old.get("v"), Some(AttributeValue::N(v)) if *v == stored.version.to_string())
                            })
                        }
                        _ => false,
                    };
                    Ok((false, same_vacated))
                }
                Err(e) => Err(port_error(operation(), &e)),
            };
        };
        let mut item = Self::key(pk.clone(), sk);
        item.insert("v".into(), n(stored.version));
        item.insert(EXPIRES_AT.into(), self.expires_at());
        item.insert("leg".into(), s(json));
        item.insert(COUNTED.into(), AttributeValue::Bool(true));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(NEWER_VERSION)
            .expression_attribute_values(":v", n(stored.version))
            .send()
            .await
        {
            Ok(_) => Ok((true, false)),
            Err(e) if is_conditional_failure(&e) => Ok((false, false)),
            Err(e) => Err(port_error(operation(), &e)),
        }
    }

    async fn bump_revision(&self, key: &IntervalKey) -> Result<(), PortError> {
        let pk = interval_pk(key);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk.clone(), "#rev")))
            .update_expression("ADD rev :one SET expires_at = :exp")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", self.expires_at())
            .send()
            .await
            .map_err(|e| port_error(format!("bump revision of {pk} in table {}", self.table), &e))?;
        Ok(())
    }
}

impl ContactStore for DynamoContactStore {
    async fn load_legs(&self, keys: &[LegKey]) -> Result<Vec<StoredLeg>, PortError> {
        let keys = keys.iter().map(|k| Self::key(leg_pk(k), "leg")).collect();
        let items = self.batch_get(keys, "legs").await?;
        items
            .iter()
            .map(|item| {
                let version = self.version_of(item)?;
                let leg = match self.leg_of(item) {
                    Ok(Some(leg)) => leg,
                    // A leg that cannot be read starts again from this batch's inputs (its
                    // version kept, so the write replaces it) rather than failing every
                    // input of the batch.
                    result => {
                        let key = match item.get(PK) {
                            Some(AttributeValue::S(pk)) => pk
                                .strip_prefix("leg#")
                                .and_then(|rest| rest.split_once('#'))
                                .map(|(instance_id, contact_id)| LegKey {
                                    instance_id: instance_id.to_owned(),
                                    contact_id: contact_id.to_owned(),
                                }),
                            _ => None,
                        };
                        let Some(key) = key else {
                            return Err(self.unreadable(item, "leg", "key is not leg#<instance>#<contact>"));
                        };
                        let reason = result.err().map_or_else(|| "attribute `leg` missing".to_owned(), |e| e.to_string());
                        tracing::error!(table = %self.table, contact_id = %key.contact_id, %reason, "stored leg cannot be read; it starts again from the new inputs");
                        Leg::new(key)
                    }
                };
                let prior = match item.get(PRIOR) {
                    Some(AttributeValue::S(json)) => serde_json::from_str(json).unwrap_or_else(|e| {
                        // Only a retry's tombstones depend on it: log, and file as if none.
                        tracing::warn!(table = %self.table, error = %e, "a stored leg's prior filing cannot be read");
                        PriorFiling::default()
                    }),
                    _ => PriorFiling::default(),
                };
                Ok(StoredLeg { leg, version, prior })
            })
            .collect()
    }

    async fn store_leg(&self, leg: &Leg, expected: Option<u64>, prior: &PriorFiling) -> Result<LegWrite, PortError> {
        let version = expected.unwrap_or(0) + 1;
        let json = serde_json::to_string(leg).map_err(|e| PortError::new("encode leg", e.to_string(), false))?;
        let mut item = Self::key(leg_pk(&leg.key()), "leg");
        item.insert("v".into(), n(version));
        item.insert("leg".into(), s(json));
        // In the same write as the leg: a retry after a failed filing needs it.
        if !prior.is_empty() {
            let prior = serde_json::to_string(prior).map_err(|e| PortError::new("encode leg", e.to_string(), false))?;
            item.insert(PRIOR.into(), s(prior));
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
            Ok(_) => Ok(LegWrite::Stored { version }),
            Err(e) if is_conditional_failure(&e) => Ok(LegWrite::Conflict),
            Err(e) => Err(port_error(
                format!("store leg {} in table {}", leg_pk(&leg.key()), self.table),
                &e,
            )),
        }
    }

    async fn file_leg(&self, stored: &StoredLeg, filing: &Filing) -> Result<Vec<IntervalKey>, PortError> {
        let json =
            serde_json::to_string(&stored.leg).map_err(|e| PortError::new("encode leg", e.to_string(), false))?;
        let sk = format!("c#{}", stored.leg.contact_id);
        let mut vacated = Vec::new();
        for (keys, leg) in [(&filing.intervals, Some(json.as_str())), (&filing.left, None)] {
            for key in keys {
                let (written, tombstone_vacated) = self.put_copy(interval_pk(key), sk.clone(), stored, leg).await?;
                if written {
                    self.bump_revision(key).await?;
                }
                if tombstone_vacated {
                    vacated.push(key.clone());
                }
            }
        }
        if filing.waiting || filing.was_waiting {
            let leg = filing.waiting.then_some(json.as_str());
            let id = format!("{}#{}", stored.leg.instance_id, stored.leg.contact_id);
            self.put_copy("waiting".into(), id, stored, leg).await?;
        }
        Ok(vacated)
    }

    async fn interval_legs(&self, key: &IntervalKey) -> Result<IntervalLegs, PortError> {
        let mut filed = IntervalLegs::default();
        for item in self.query_partition(&interval_pk(key)).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == "#rev" => {
                    if let Some(AttributeValue::N(rev)) = item.get("rev") {
                        filed.revision = rev.parse().map_err(|e| self.unreadable(&item, "revision", e))?;
                    }
                }
                _ => filed.legs.extend(self.leg_of(&item)?),
            }
        }
        Ok(filed)
    }

    async fn interval_revision(&self, key: &IntervalKey) -> Result<u64, PortError> {
        let pk = interval_pk(key);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk.clone(), "#rev")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("read revision of {pk} in table {}", self.table), &e))?;
        match output.item.as_ref().and_then(|i| i.get("rev")) {
            Some(AttributeValue::N(rev)) => rev
                .parse()
                .map_err(|e| PortError::new(format!("read revision of {pk}"), format!("{e}"), false)),
            _ => Ok(0),
        }
    }

    async fn waiting_legs(&self) -> Result<Vec<StoredLeg>, PortError> {
        let mut legs = Vec::new();
        for item in self.query_partition("waiting").await? {
            if let Some(leg) = self.leg_of(&item)? {
                legs.push(StoredLeg {
                    leg,
                    version: self.version_of(&item)?,
                    prior: PriorFiling::default(),
                });
            }
        }
        Ok(legs)
    }

    async fn queue_names(&self, queues: &[(String, String)]) -> Result<QueueNames, PortError> {
        let keys = queues
            .iter()
            .map(|(instance, queue)| Self::key(format!("queue#{instance}#{queue}"), "name"))
            .collect();
        let mut names = QueueNames::default();
        for item in self.batch_get(keys, "queue names").await? {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(v)) => Some(v.clone()),
                Some(AttributeValue::N(v)) => Some(v.clone()),
                _ => None,
            };
            let (Some(pk), Some(name), Some(ms), Some(id)) =
                (text(PK), text("name"), text("stamp_ms"), text("stamp_id"))
            else {
                continue;
            };
            let mut parts = pk.splitn(3, '#').skip(1);
            let (Some(instance), Some(queue)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(time) = ms.parse().ok().and_then(DateTime::from_timestamp_millis) else {
                continue;
            };
            names.learn_by_id(
                instance,
                queue,
                Fact {
                    stamp: Stamp { time, id },
                    value: name,
                },
            );
        }
        Ok(names)
    }

    async fn queue_ids_by_name(&self, instance_id: &str, names: &[String]) -> Result<Vec<(String, String)>, PortError> {
        let keys = names
            .iter()
            .map(|name| Self::key(format!("qname#{instance_id}#{name}"), "id"))
            .collect();
        let mut ids = Vec::new();
        for item in self.batch_get(keys, "queue ids").await? {
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(queue_id))) =
                (item.get(PK), item.get("queue_id"))
            {
                if let Some(name) = pk.strip_prefix(&format!("qname#{instance_id}#")) {
                    ids.push((name.to_owned(), queue_id.clone()));
                }
            }
        }
        Ok(ids)
    }

    async fn learn_queue_names(&self, names: &QueueNames) -> Result<(), PortError> {
        let named = names.entries().flat_map(|(instance, queue, fact)| {
            let by_id = (format!("queue#{instance}#{queue}"), "name", "name", fact.value.clone());
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

    async fn mark_closing(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let requests = keys
            .iter()
            .map(|key| {
                let mut item = Self::key("closing".into(), interval_sk(key));
                item.insert("instance_id".into(), s(&key.instance_id));
                item.insert("queue_id".into(), s(&key.queue_id));
                item.insert("interval_start".into(), n(key.interval_start.timestamp()));
                item.insert(EXPIRES_AT.into(), self.expires_at());
                let put = PutRequest::builder().set_item(Some(item)).build().expect("item is set");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        self.batch_write(requests, "closing intervals").await
    }

    async fn closing(&self) -> Result<Vec<IntervalKey>, PortError> {
        let mut keys = Vec::new();
        for item in self.query_partition("closing").await? {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => Some(v.clone()),
                _ => None,
            };
            let start = text("interval_start")
                .and_then(|t| t.parse().ok())
                .and_then(|t| DateTime::from_timestamp(t, 0));
            match (text("instance_id"), text("queue_id"), start) {
                (Some(instance_id), Some(queue_id), Some(interval_start)) => keys.push(IntervalKey {
                    instance_id,
                    queue_id,
                    interval_start,
                }),
                _ => tracing::warn!(table = %self.table, sk = ?text(SK), "closing item without its interval; skipped"),
            }
        }
        Ok(keys)
    }

    async fn closed(&self, key: &IntervalKey) -> Result<(), PortError> {
        let delete = DeleteRequest::builder()
            .set_key(Some(Self::key("closing".into(), interval_sk(key))))
            .build()
            .expect("key is set");
        self.batch_write(
            vec![WriteRequest::builder().delete_request(delete).build()],
            "closed interval",
        )
        .await
    }

    async fn mark_unnamed(&self, keys: &[IntervalKey]) -> Result<(), PortError> {
        let requests = keys
            .iter()
            .map(|key| {
                let mut item = Self::key(
                    unnamed_pk(&key.instance_id, &key.queue_id),
                    key.interval_start.timestamp().to_string(),
                );
                item.insert(EXPIRES_AT.into(), self.expires_at());
                let put = PutRequest::builder().set_item(Some(item)).build().expect("item is set");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        self.batch_write(requests, "unnamed intervals").await
    }

    async fn unnamed(&self, instance_id: &str, queue_id: &str) -> Result<Vec<IntervalKey>, PortError> {
        let mut keys = Vec::new();
        for item in self.query_partition(&unnamed_pk(instance_id, queue_id)).await? {
            let start = match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk.parse().ok().and_then(|t| DateTime::from_timestamp(t, 0)),
                _ => None,
            };
            match start {
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
        let requests = keys
            .iter()
            .map(|key| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(Self::key(
                        unnamed_pk(&key.instance_id, &key.queue_id),
                        key.interval_start.timestamp().to_string(),
                    )))
                    .build()
                    .expect("key is set");
                WriteRequest::builder().delete_request(delete).build()
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key("progress".into(), "progress")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("read progress in table {}", self.table), &e))?;
        Ok(match output.item.as_ref().and_then(|i| i.get("t_ms")) {
            Some(AttributeValue::N(ms)) => ms.parse().ok().and_then(DateTime::from_timestamp_millis),
            _ => None,
        })
    }
}
