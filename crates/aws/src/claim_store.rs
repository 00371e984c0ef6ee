//! [`DynamoClaimStore`]: the claim port on a DynamoDB table with a lease and a TTL (layout in
//! [`crate::item`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::ports::{ClaimOutcome, ClaimStore, PortError};

use crate::error::port_error;
use crate::item::{CLAIM_ID, COMPLETED, EXPIRES_AT, IN_PROGRESS, ItemReader, LEASE_UNTIL, STATUS};

/// Taken when there is no claim, or an IN_PROGRESS one whose lease has run out or that the same
/// owner holds (its own retry). The lease comparison is `<=` so that, as in the in-memory
/// store, a lease ending at `now` is over.
const CLAIM_CONDITION: &str =
    "attribute_not_exists(claim_id) OR (#status = :in_progress AND (lease_until <= :now OR #owner = :owner))";

/// The attribute naming who holds an IN_PROGRESS claim.
const OWNER: &str = "owner";

/// How long an IN_PROGRESS claim locks its key by default (a crashed run frees it after this).
pub const DEFAULT_IN_PROGRESS_FOR: Duration = Duration::minutes(15);
/// How long a COMPLETED claim is kept by default: the longest an SQS message can live, so
/// any redelivery of a done object finds it.
pub const DEFAULT_KEEP_COMPLETED_FOR: Duration = Duration::days(14);

/// De-duplication claims in a DynamoDB table keyed by `claim_id`, with the same semantics as
/// `connect_wfm_core::memory::MemoryClaimStore`. DynamoDB's TTL on `expires_at` removes old
/// items; the lease (`lease_until`) is what frees a crashed run's claim, since TTL deletion can
/// lag by a day or more.
#[derive(Debug, Clone)]
pub struct DynamoClaimStore {
    pub client: Client,
    pub table: String,
    /// Lease of an IN_PROGRESS claim.
    pub in_progress_for: Duration,
    /// Time to live of a COMPLETED claim.
    pub keep_completed_for: Duration,
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

impl DynamoClaimStore {
    /// A store on `table` with [`DEFAULT_IN_PROGRESS_FOR`] and [`DEFAULT_KEEP_COMPLETED_FOR`].
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            in_progress_for: DEFAULT_IN_PROGRESS_FOR,
            keep_completed_for: DEFAULT_KEEP_COMPLETED_FOR,
        }
    }

    /// The same store with other durations.
    pub fn with_durations(mut self, in_progress_for: Duration, keep_completed_for: Duration) -> Self {
        self.in_progress_for = in_progress_for;
        self.keep_completed_for = keep_completed_for;
        self
    }

    fn operation(&self, verb: &str, claim_id: &str) -> String {
        format!("{verb} claim {claim_id} in table {}", self.table)
    }

    /// Tries the conditional put; `Ok(false)` when the condition failed.
    async fn try_take(&self, claim_id: &str, owner: &str, now: DateTime<Utc>) -> Result<bool, PortError> {
        let lease_until = (now + self.in_progress_for).timestamp();
        let expires_at = (now + self.in_progress_for.max(self.keep_completed_for)).timestamp();
        let item = HashMap::from([
            (CLAIM_ID.to_owned(), s(claim_id)),
            (STATUS.to_owned(), s(IN_PROGRESS)),
            (OWNER.to_owned(), s(owner)),
            (LEASE_UNTIL.to_owned(), n(lease_until)),
            (EXPIRES_AT.to_owned(), n(expires_at)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error(self.operation("take", claim_id), &e)),
        }
    }

    /// The stored status of a claim (consistent read), `None` when there is no item.
    async fn status(&self, claim_id: &str) -> Result<Option<String>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CLAIM_ID, s(claim_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(self.operation("read", claim_id), &e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let status = ItemReader::new(&self.table, CLAIM_ID, item)
            .string(STATUS)
            .map_err(|e| e.into_port_error(self.operation("read", claim_id)))?;
        Ok(Some(status.to_owned()))
    }
}

impl ClaimStore for DynamoClaimStore {
    /// A conditional PutItem; when it is refused, a consistent GetItem tells a COMPLETED claim
    /// from one held elsewhere. If the claim vanished in between (released or expired by
    /// TTL), the put is tried once more; a second loss to a racing run is HeldElsewhere.
    async fn claim(&self, claim_id: &str, owner: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, PortError> {
        for _ in 0..2 {
            if self.try_take(claim_id, owner, now).await? {
                return Ok(ClaimOutcome::Claimed);
            }
            match self.status(claim_id).await?.as_deref() {
                Some(COMPLETED) => return Ok(ClaimOutcome::AlreadyCompleted),
                Some(_) => return Ok(ClaimOutcome::HeldElsewhere),
                None => continue,
            }
        }
        Ok(ClaimOutcome::HeldElsewhere)
    }

    /// An unconditional PutItem of a COMPLETED claim that expires `keep_completed_for` after
    /// `now`.
    async fn complete(&self, claim_id: &str, now: DateTime<Utc>) -> Result<(), PortError> {
        let item = HashMap::from([
            (CLAIM_ID.to_owned(), s(claim_id)),
            (STATUS.to_owned(), s(COMPLETED)),
            (EXPIRES_AT.to_owned(), n((now + self.keep_completed_for).timestamp())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| port_error(self.operation("complete", claim_id), &e))?;
        Ok(())
    }

    /// A DeleteItem on condition the claim is IN_PROGRESS: a COMPLETED or missing claim is
    /// left as it is, and that is not an error.
    async fn release(&self, claim_id: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(CLAIM_ID, s(claim_id))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error(self.operation("release", claim_id), &e)),
        }
    }
}
