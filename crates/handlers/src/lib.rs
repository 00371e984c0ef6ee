//! The use cases of connect-wfm: one SDK-free handler per input, over the ports that
//! `connect_wfm_core::ports` defines. The Lambda binaries (`functions/*`), the CLI and the
//! tests all call these same functions, with the AWS adapters, the local-file ones or the
//! in-memory ones.
//!
//! - [`agent_events`]: a Kinesis batch of agent events → transitions, committed states.
//! - [`reports`]: SQS messages of S3 notifications → Connect's reports → interval records.
//! - [`contacts`]: contact events (SQS) and contact records (Kinesis) → stream-basis
//!   `queue_interval` records; closing and reconciling intervals.
//! - [`sweep`]: the scheduled sweep (silence, feed health, snapshots, closing intervals).
//! - [`push`]: feed records into a WFM's own API, in order, batched, with retries and refusals.
//! - [`custom_resource`]: the bucket-notifications CloudFormation custom resource.
//! - [`objects`]: S3 objects named by notifications, claimed once per (bucket, key, ETag).
//! - [`input`]: the inputs (Kinesis records, SQS messages, S3 notifications), read leniently
//!   and in one style, with what every batch does with them (rejects, object names, batch item
//!   failures).

#![forbid(unsafe_code)]

pub mod agent_events;
pub mod contacts;
mod counts;
pub mod custom_resource;
pub mod input;
pub mod objects;
pub mod push;
pub mod reports;
pub mod sweep;
