//! DynamoDB reads shared by the stores: BatchGetItem with its limits and unprocessed keys, and
//! an index Query over all its pages.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};
use connect_wfm_core::ports::PortError;
use connect_wfm_core::retry::Backoff;

use crate::error::port_error;
use crate::item::Item;

/// Keys per BatchGetItem request: the DynamoDB limit.
pub(crate) const BATCH_GET_LIMIT: usize = 100;
/// Pauses before asking again for keys left unprocessed (throttled reads): 5 retries from
/// 25 ms, doubling (with jitter) to 400 ms; then a retryable error.
pub(crate) const UNPROCESSED_RETRY: Backoff = Backoff::new(Duration::from_millis(25), Duration::from_millis(400), 5);

/// How a read sees the latest writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consistency {
    /// Every write acknowledged before the read (billed in full).
    Strong,
    /// Possibly a moment behind (billed half): for reads whose decisions are committed under a
    /// condition anyway.
    Eventual,
}

/// Strongly consistent reads of `keys` from `table`: [`batch_get_as`].
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    what: &str,
) -> Result<Vec<Item>, PortError> {
    batch_get_as(client, table, keys, what, Consistency::Strong).await
}

/// Reads of `keys` from `table`, in chunks of 100, keys left unprocessed asked again with
/// exponential backoff. `what` names the items in errors (`agent states`). Items come back in
/// no particular order; absent keys are simply missing.
pub(crate) async fn batch_get_as(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    what: &str,
    consistency: Consistency,
) -> Result<Vec<Item>, PortError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_GET_LIMIT) {
        let operation = || format!("load {} {what} from table {table}", chunk.len());
        let mut pending = chunk.to_vec();
        let mut pauses = UNPROCESSED_RETRY.delays();
        for attempt in 1.. {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(consistency == Consistency::Strong)
                .build()
                .map_err(|e| PortError::new(operation(), e.to_string(), false))?;
            let mut output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| port_error(operation(), &e))?;
            found.extend(
                output
                    .responses
                    .take()
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            pending = output
                .unprocessed_keys
                .take()
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            let Some(pause) = pauses.next() else {
                return Err(PortError::new(
                    operation(),
                    format!(
                        "{} keys still unprocessed after {attempt} BatchGetItem requests (throttled)",
                        pending.len()
                    ),
                    true,
                ));
            };
            tracing::debug!(
                table,
                unprocessed = pending.len(),
                attempt,
                "BatchGetItem left keys unprocessed, retrying"
            );
            tokio::time::sleep(pause).await;
        }
    }
    Ok(found)
}

/// Every item of `index` of `table` whose partition key `key_attribute` is `key`, all pages
/// (DynamoDB pages a Query at 1 MB). `operation` names the query in errors.
pub(crate) async fn query_index(
    client: &Client,
    table: &str,
    index: Option<&str>,
    key_attribute: &str,
    key: &str,
    operation: impl Fn() -> String,
) -> Result<Vec<Item>, PortError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :k")
            .expression_attribute_names("#k", key_attribute)
            .expression_attribute_values(":k", AttributeValue::S(key.to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| port_error(operation(), &e))?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(last) if !last.is_empty() => start = Some(last),
            _ => return Ok(items),
        }
    }
}

/// Requests per BatchWriteItem.
pub(crate) const BATCH_WRITE_LIMIT: usize = 25;

/// BatchWriteItem of any number of requests to `table` (chunks of 25, unprocessed ones sent
/// again with a pause); `what` names them in errors.
pub(crate) async fn batch_write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    what: &str,
) -> Result<(), PortError> {
    for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
        let operation = || format!("write {} {what} to table {table}", chunk.len());
        let mut pending = chunk.to_vec();
        let mut pauses = UNPROCESSED_RETRY.delays();
        loop {
            let output = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| port_error(operation(), &e))?;
            pending = output
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
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
