//! Agent events: the Connect agent event model, WFM state derivation and the per-agent fold.

mod mapping;
mod state;

pub use mapping::AgentStateMapping;
pub use state::{Activity, AgentState, ContactRef, Watermark};
