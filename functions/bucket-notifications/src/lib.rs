//! The bucket-notifications function: a CloudFormation custom resource that makes the
//! customer's existing Connect reports bucket send `s3:ObjectCreated:*` events of the reports
//! (prefix, `.csv` suffix) to the historical-reports queue, keeping every notification that is
//! not ours.
//!
//! The handler ([`handle_request`]) is a plain async fn over two ports
//! ([`NotificationStore`], [`ResponseSender`]), so the Lambda binary, the CLI and the tests run
//! the same code.

#![forbid(unsafe_code)]

mod handler;
pub mod http;
pub mod memory;
pub mod model;
pub mod ports;
pub mod request;
pub mod s3;

pub use handler::{HandlerError, MAX_SEND_RESERVE, SEND_ATTEMPTS, handle_request};
pub use http::HttpResponseSender;
pub use model::{NotificationConfiguration, ReportsNotification, notification_id};
pub use ports::{Fetched, NotificationStore, ResponseSender, Stored};
pub use request::{CustomResourceResponse, Status};
pub use s3::S3NotificationStore;
