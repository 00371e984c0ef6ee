//! The historical-reports function: Amazon Connect's scheduled CSV reports (S3 → SQS) to WFM
//! interval records. The handler is a plain async fn over the ports, so the Lambda binary, the
//! CLI and the tests run the same code.

#![forbid(unsafe_code)]

mod config;
mod handler;
mod notification;

pub use config::{Config, vars};
pub use handler::{
    BatchOutcome, FUNCTION, MessageReport, ObjectOutcome, PART_RECORDS, Ports, ReconcileStats, Reconciler, Settings,
    StreamReconciler, convert, handle_messages,
};
pub use notification::{
    CreatedObject, Notification, RELOAD_FIELD, SqsBatch, SqsMessage, created_notification, parse_notification,
};
