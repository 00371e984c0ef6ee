//! The agent-events function: the Amazon Connect agent event stream (Kinesis) to WFM
//! agent-state transitions. The handler is a plain async fn over the ports, so the Lambda
//! binary, the CLI and the tests all run the same code.

#![forbid(unsafe_code)]

mod config;
mod handler;
mod input;

pub use config::{Config, vars};
pub use handler::{BatchOutcome, BatchStats, FUNCTION, Settings, handle_batch};
pub use input::{KinesisBatch, StreamRecord, read_records};
