//! Ports: the small traits through which handlers reach storage.
//!
//! Each has an in-memory implementation ([`crate::memory`]) for tests, a local-file one for
//! the CLI and an AWS one in the adapters crate. Methods return `Send` futures so handlers can
//! run on any executor without naming one here.

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;

use chrono::{DateTime, Utc};

use crate::agent::AgentState;

/// A failure of a storage backend. `retryable` is true for throttling, timeouts and other
/// transient faults: the caller reports the work as failed so it is delivered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct PortError {
    /// What was attempted, with the input it concerned, e.g. `commit agent-state abc`.
    pub operation: String,
    pub message: String,
    pub retryable: bool,
}

impl PortError {
    pub fn new(operation: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            operation: operation.into(),
            message: message.into(),
            retryable,
        }
    }
}

/// What a conditional commit of an agent's state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The state was written.
    Committed,
    /// The store already holds a state at or past this watermark (a replay or a racing
    /// writer got there first). Not an error.
    Superseded,
}

/// Last-known WFM state of each agent, keyed by agent ARN.
pub trait AgentStateStore: Send + Sync {
    /// Loads the states of these agents (absent ones are simply missing from the map), in one
    /// round trip where the backend allows it.
    fn load_many(
        &self,
        agent_arns: &[String],
    ) -> impl Future<Output = Result<HashMap<String, AgentState>, PortError>> + Send;

    /// Writes `state` only if it advances the stored watermark (see
    /// [`crate::agent::Watermark::advances`]); otherwise reports [`CommitOutcome::Superseded`].
    fn commit(&self, state: &AgentState) -> impl Future<Output = Result<CommitOutcome, PortError>> + Send;

    /// Agent ids for these login names (reports name agents by login only). Unknown logins are
    /// missing from the map.
    fn agent_ids_by_login(
        &self,
        logins: &[String],
    ) -> impl Future<Output = Result<HashMap<String, String>, PortError>> + Send;
}

/// What a claim attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The caller now holds the claim and must `complete` or `release` it.
    Claimed,
    /// The work was done before: skip it.
    AlreadyCompleted,
    /// Another run holds an unexpired IN_PROGRESS claim: try again later.
    HeldElsewhere,
}

/// De-duplication keys with expiry (one per report object: `bucket/key#etag`).
pub trait ClaimStore: Send + Sync {
    /// Takes the claim unless it is COMPLETED or IN_PROGRESS and not yet expired.
    fn claim(&self, claim_id: &str, now: DateTime<Utc>)
    -> impl Future<Output = Result<ClaimOutcome, PortError>> + Send;
    /// Marks a claim COMPLETED (kept until its TTL expires).
    fn complete(&self, claim_id: &str, now: DateTime<Utc>) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Gives a claim up so the next delivery can take it at once.
    fn release(&self, claim_id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A readable report object. The reader may block on the network: read it off the async
/// executor (e.g. in `tokio::task::spawn_blocking`).
pub type ObjectReader = Box<dyn Read + Send>;

/// Where report objects are read from.
pub trait ObjectSource: Send + Sync {
    /// Opens an object for streaming; the whole object is never loaded at once.
    fn open(&self, bucket: &str, key: &str) -> impl Future<Output = Result<ObjectReader, PortError>> + Send;
}

/// Where feed objects go. `key` is the relative feed key of [`crate::feed::object_key`]; the
/// same key written twice overwrites, so retries never duplicate objects.
pub trait FeedSink: Send + Sync {
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), PortError>> + Send;
}
