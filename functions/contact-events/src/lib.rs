//! The contact-events function: Amazon Connect contact events (EventBridge → SQS) and contact
//! records (the CTR Kinesis stream) to stream-basis `queue_interval` records (feed.md "Stream
//! basis"). The handlers are plain async fns over the ports, SDK-free, so the Lambda binary,
//! the CLI and the tests all run the same code; [`close_intervals`] is the scheduled sweep's
//! call that writes intervals once they have ended.

#![forbid(unsafe_code)]

#[cfg(feature = "aws")]
mod config;
mod handler;
mod input;

#[cfg(feature = "aws")]
pub use config::{Config, vars};
pub use handler::{
    BatchStats, CLOSE_WINDOW, Clock, CloseOutcome, FUNCTION, KinesisOutcome, Settings, SqsOutcome, close_intervals,
    close_intervals_since, handle_kinesis, handle_sqs, reconcile_reports,
};
pub use input::{Envelope, KinesisBatch, SqsBatch, read_kinesis, read_sqs};
