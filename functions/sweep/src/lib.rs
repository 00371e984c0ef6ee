//! The sweep function: every minute (EventBridge schedule) it moves silent agents to `UNKNOWN`,
//! reports silent instances (`feed_health`) and, every `SNAPSHOT_MINUTES`, writes one
//! `agent_snapshot` object per instance. The handler is a plain async fn over the ports, so the
//! Lambda binary, the CLI (`connect-wfm sweep`) and the tests all run the same code.

#![forbid(unsafe_code)]

mod config;
mod handler;

pub use config::{Config, vars};
pub use handler::{
    FUNCTION, SweepError, SweepSettings, SweepStats, close_stream_intervals, handle_sweep, scheduled_time, sweep_agents,
};
