//! AWS adapters of connect-wfm: the ports of `connect_wfm_core::ports` implemented on the
//! official AWS SDK for Rust, and the configuration read at a function's cold start.
//!
//! - [`DynamoStateStore`]: last-known agent states in a DynamoDB table (item layout in
//!   [`item`]), loaded with BatchGetItem and committed with a watermark condition.
//! - [`DynamoClaimStore`]: de-duplication claims with a lease and a TTL in a DynamoDB table.
//! - [`S3ObjectSource`] and [`S3FeedSink`]: report objects streamed from S3, feed objects
//!   written to S3.
//! - [`reload`]: listing report objects and re-queueing their notifications (`connect-wfm reload`).
//! - [`schema`]: the table definitions, in one place, for tests and local set-up.
//! - [`config`]: environment variables, SDK configuration and the mapping file.

#![forbid(unsafe_code)]

pub mod claim_store;
pub mod config;
mod error;
pub mod item;
pub mod reload;
pub mod s3;
pub mod schema;
pub mod state_store;

pub use claim_store::DynamoClaimStore;
pub use error::describe as describe_sdk_error;
pub use item::ItemError;
pub use s3::{S3FeedSink, S3ObjectSource};
pub use state_store::DynamoStateStore;
