//! The bucket-notifications function: a CloudFormation custom resource that makes the
//! customer's existing Connect reports bucket send `s3:ObjectCreated:*` events of the reports
//! (prefix, `.csv` suffix) to the historical-reports queue, keeping every notification that is
//! not ours.
//!
//! The handler ([`handle_request`]) is a plain async fn over two ports
//! ([`NotificationStore`], [`ResponseSender`]), so the Lambda binary, the CLI and the tests run
//! the same code. Their adapters and in-memory doubles live with the others: the S3 store and
//! the HTTP sender in `connect_wfm_aws`, the doubles in `connect_wfm_aws::memory` and
//! `connect_wfm_core::memory`.

#![forbid(unsafe_code)]

mod handler;
pub mod model;
pub mod request;

pub use connect_wfm_aws::notifications::{Fetched, NotificationConfiguration, NotificationStore, Stored};
pub use connect_wfm_core::ports::ResponseSender;
pub use handler::{HandlerError, MAX_SEND_RESERVE, SEND_ATTEMPTS, handle_request};
pub use model::{OurEntry, ReportsNotification, notification_id};
pub use request::{CustomResourceResponse, Status};
