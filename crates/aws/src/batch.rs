//! BatchGetItem with DynamoDB's limits and its unprocessed keys, shared by the stores.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use connect_wfm_core::ports::PortError;

use crate::error::port_error;
use crate::item::Item;

/// Keys per BatchGetItem request: the DynamoDB limit.
pub(crate) const BATCH_GET_LIMIT: usize = 100;
/// Requests per chunk before keys left unprocessed (throttled reads) become a retryable error.
const BATCH_GET_ATTEMPTS: u32 = 6;
/// First pause before asking for unprocessed keys again; doubled each time (25 ms .. 400 ms).
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(25);

/// Strongly consistent reads of `keys` from `table`, in chunks of 100, keys left unprocessed
/// asked again with exponential backoff. `what` names the items in errors (`agent states`).
/// Items come back in no particular order; absent keys are simply missing.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    what: &str,
) -> Result<Vec<Item>, PortError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH_GET_LIMIT) {
        let operation = || format!("load {} {what} from table {table}", chunk.len());
        let mut pending = chunk.to_vec();
        let mut pause = BATCH_GET_BACKOFF;
        for attempt in 1..=BATCH_GET_ATTEMPTS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
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
            if attempt == BATCH_GET_ATTEMPTS {
                return Err(PortError::new(
                    operation(),
                    format!(
                        "{} keys still unprocessed after {BATCH_GET_ATTEMPTS} BatchGetItem requests (throttled)",
                        pending.len()
                    ),
                    true,
                ));
            }
            tracing::debug!(
                table,
                unprocessed = pending.len(),
                attempt,
                "BatchGetItem left keys unprocessed, retrying"
            );
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Ok(found)
}
