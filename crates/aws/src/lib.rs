//! AWS adapters of connect-wfm: the ports of `connect_wfm_core::ports` implemented on the
//! official AWS SDK for Rust, and the configuration read at a function's cold start.
//!
//! - [`DynamoStateStore`]: last-known agent states in a DynamoDB table (item layout in
//!   [`item`]), loaded with BatchGetItem and committed with a watermark condition.
//! - [`DynamoClaimStore`]: de-duplication claims with a lease and a TTL in a DynamoDB table.
//! - [`DynamoContactStore`]: the stream basis's contact legs, their filing under intervals and
//!   queue names in one DynamoDB table with a TTL.
//! - [`S3ObjectSource`] and [`S3FeedSink`]: report objects streamed from S3, feed objects
//!   written to S3.
//! - [`eventbridge`]: the optional EventBridge output ([`FeedOutputs`]: the S3 feed first, then
//!   every record on the event bus).
//! - [`push_queue`]: the push output's SQS FIFO queues (records in per agent, the wfm-push
//!   function's queue out).
//! - [`push_memory`]: the wfm-push function's memory of delivered states, one S3 object per
//!   target.
//! - [`reload`]: listing report objects and re-queueing their notifications (`connect-wfm reload`).
//! - [`schema`]: the table definitions, in one place, for tests and local set-up.
//! - [`config`]: environment variables, SDK configuration and the mapping file.
//! - [`live_mapping`]: the mapping file checked again by its ETag while a function stays warm.
//! - [`notifications`]: a bucket's S3 event notification configuration, its port and its S3
//!   adapter ([`S3NotificationStore`]); [`memory`] holds the port's in-memory double.
//! - [`HttpResponseSender`]: answers to CloudFormation custom-resource requests.
//! - [`warm`]: connections opened during a function's init ([`WarmUp`]).
//! - [`lambda`]: the start-up path every function binary takes ([`lambda::Start`]).

#![forbid(unsafe_code)]

mod batch;
pub mod cfn_response;
pub mod claim_store;
pub mod config;
mod contact_item;
pub mod contact_store;
#[cfg(feature = "doctor")]
pub mod doctor;
mod error;
pub mod eventbridge;
pub mod item;
pub mod lambda;
pub mod live_mapping;
pub mod memory;
pub mod metrics;
pub mod notifications;
pub mod push_memory;
pub mod push_queue;
pub mod reload;
pub mod roster_store;
pub mod s3;
pub mod schema;
pub mod secrets;
pub mod state_store;
mod sweep_store;
pub mod warm;

pub use cfn_response::HttpResponseSender;
pub use claim_store::DynamoClaimStore;
pub use contact_store::DynamoContactStore;
pub use error::describe as describe_sdk_error;
pub use eventbridge::{EventBusOutput, FeedOutputs, SdkEventBus, feed_outputs};
pub use item::ItemError;
pub use notifications::S3NotificationStore;
pub use s3::{S3FeedSink, S3ObjectSource};
pub use state_store::DynamoStateStore;
pub use warm::WarmUp;
