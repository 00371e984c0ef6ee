//! The two ports of the custom resource: where a bucket's notification configuration is read
//! and written, and where the answer to CloudFormation goes. Each has an in-memory
//! implementation ([`crate::memory`]), an AWS one ([`crate::s3`], [`crate::http`]) and a local
//! one in the CLI.

use std::future::Future;

use connect_wfm_core::ports::PortError;

use crate::model::NotificationConfiguration;
use crate::request::CustomResourceResponse;

/// What reading a bucket's configuration found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The bucket's configuration (empty when it has none).
    Found(NotificationConfiguration),
    /// The bucket does not exist (NoSuchBucket).
    BucketGone,
}

/// What writing a bucket's configuration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Written,
    /// The bucket does not exist (NoSuchBucket).
    BucketGone,
}

/// A bucket's whole notification configuration, read and written in one call each.
pub trait NotificationStore: Send + Sync {
    /// Reads the configuration of `bucket`.
    fn get(&self, bucket: &str) -> impl Future<Output = Result<Fetched, PortError>> + Send;

    /// Replaces the configuration of `bucket` with `configuration`. With
    /// `validate_destinations` false the backend does not check that the targets exist and
    /// accept the bucket's events (used when we only take our entry out, so a broken foreign
    /// target does not stop us).
    fn put(
        &self,
        bucket: &str,
        configuration: &NotificationConfiguration,
        validate_destinations: bool,
    ) -> impl Future<Output = Result<Stored, PortError>> + Send;
}

/// Delivers the answer to CloudFormation.
pub trait ResponseSender: Send + Sync {
    /// Sends `response` (its [`CustomResourceResponse::to_body`]) to the request's
    /// ResponseURL.
    fn send(
        &self,
        response_url: &str,
        response: &CustomResourceResponse,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
