//! Agent events: the Connect agent event model, WFM state derivation and the per-agent fold.
//!
//! [`decode_agent_event`] turns one Kinesis record into an [`AgentEvent`]; [`derive_state`]
//! gives the WFM state one event puts the agent in, by the [`AgentStateMapping`];
//! [`fold_agent`] folds one agent's events of a batch over its last-known [`AgentState`] into
//! the feed's transitions and the state to commit.

mod activity;
mod config;
mod derive;
mod event;
mod fold;
mod interval;
mod mapping;
mod profile;
mod silence;
mod state;

pub use activity::{
    AgentActivityRecord, OpenSegment, Segment, SilencedSegment, activity_key, activity_prefix, cut, pieces_by_interval,
};
pub use config::{
    HierarchyGroup, HierarchyGroups, Lenient, LenientList, LenientNumber, LenientText, Proficiency, QueueInfo,
    RoutingProfile, arn_id,
};
pub use derive::{DerivedState, contact_state, derive_state, primary_contact};
pub use event::{
    AgentConfiguration, AgentEvent, AgentSnapshot, AgentStatus, Contact, DecodeError, EventType, NextAgentStatus,
    QueueRef, SUPPORTED_VERSIONS, decode_agent_event, parse_timestamp,
};
pub use fold::{AgentFold, FoldPolicy, fold_agent};
pub use interval::{
    AGENT_DRIFT_TOLERANCE_S, AgentReconciliation, AgentStreamSource, IntervalInputs, STREAM_BASIS, StateTime,
    StreamAgentInterval, agent_interval_key, agent_intervals, reconcile_agent,
};
pub(crate) use mapping::AgentStatesSection;
pub use mapping::{AgentStateEntry, AgentStateMapping};
pub use profile::{
    AgentFilter, AgentProfileRecord, GroupRule, HierarchyLevel, IdName, ProficiencyRecord, ProfileQueue, ProfileView,
    QueueIdName, QueueProfileRecord, QueueSighting, RosterPolicy,
};
pub use silence::{
    DEFAULT_SILENCE_SECONDS, DEFAULT_SNAPSHOT_MINUTES, HEARTBEAT_PERIOD, InstanceProgress, InstanceSilence,
    InstanceSweep, SILENCE_EVENT_TYPE, SILENCE_REWRITE, SNAPSHOT_LOOKBACK, SweepPolicy, current_snapshot_slot,
    is_logged_out, is_logged_out_state, is_silent_at, silence_agent, silence_pieces, silence_record, silence_rewrites,
    snapshot_records, snapshot_slot, sweep_instance, throttle_fits_silence,
};
pub use state::{Activity, AgentState, ContactRef, LOGGED_OUT, Watermark, instance_id_of_agent_arn};
