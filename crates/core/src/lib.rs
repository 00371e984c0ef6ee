//! The mapping core of connect-wfm: pure Rust, no AWS SDK, no network, no async runtime.
//!
//! It turns Amazon Connect agent events into WFM agent-state transitions, Connect's scheduled
//! CSV reports into interval records, and both into the JSON Lines feed of `feed.md`. The
//! ports (small traits in [`ports`]) are how the functions reach storage; [`memory`] holds
//! in-memory implementations for tests. [`custom_resource`] is the answer to a CloudFormation
//! custom-resource request.

#![forbid(unsafe_code)]

pub mod agent;
pub mod config;
pub mod contact;
pub mod custom_resource;
pub mod doctor;
#[cfg(feature = "faults")]
pub mod faults;
pub mod feed;
pub mod mapping;
pub mod memory;
pub mod ports;
pub mod push;
pub mod report;
pub mod retry;
#[cfg(any(test, feature = "faults", feature = "sim"))]
pub mod synthetic;
pub mod timefmt;

pub use mapping::Mapping;
