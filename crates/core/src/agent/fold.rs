//! The per-agent fold: one agent's events of a batch, in stream order, over its last-known
//! state, giving the transitions to publish and the state to commit.
//!
//! The fold keeps, after each event, exactly the state the store would keep had that event
//! been a batch of its own: an event is *held* (applied, its watermark and last-seen taken, the
//! state written) or leaves the state untouched, in memory too. So the outcome does not depend
//! on how records are cut into batches, and a batch delivered again after its commit emits and
//! writes nothing. Every event a state is derived from is held, whether or not the state
//! changes: it says what the agent is doing then, and an older event arriving after it must not
//! undo that. An event that only shows the agent is alive (a heartbeat over a known state, rule
//! 4, or an event without a snapshot) is held when it changes the login or when the stored
//! last-seen is at least [`FoldPolicy::last_seen_write_after`] old; otherwise it is dropped,
//! and a late event older than it but newer than the watermark is still applied.

use chrono::Duration;

use super::activity::{AgentActivityRecord, OpenSegment, Segment};
use super::derive::{DerivedState, derive_state};
use super::event::{AgentEvent, EventType};
use super::mapping::AgentStateMapping;
use super::profile::{AgentProfileRecord, ProfileView, RosterPolicy};
use super::state::{AgentState, Watermark};
use crate::feed::{AgentStateRecord, SCHEMA};

/// When an agent's state is worth a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldPolicy {
    /// An event that only shows the agent is alive is held (written, and its watermark taken)
    /// once the stored last-seen is at least this old, so an idle agent does not cost a write
    /// every two minutes while the sweep still sees it alive: the stored last-seen lags by
    /// less than this + one heartbeat period, which must stay below the silence threshold
    /// (see [`super::throttle_fits_silence`]).
    pub last_seen_write_after: Duration,
    /// Names in profiles, and which agents get records at all.
    pub roster: RosterPolicy,
}

impl Default for FoldPolicy {
    /// 150 s: with heartbeats every 120 s an idle agent is written every other heartbeat
    /// (every 240 s), and its stored last-seen is never 270 s old, below the 300 s silence.
    fn default() -> Self {
        Self {
            last_seen_write_after: Duration::seconds(150),
            roster: RosterPolicy::default(),
        }
    }
}

/// What folding one agent's events gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFold {
    /// (index into `events`, record) in stream order.
    pub transitions: Vec<(usize, AgentStateRecord)>,
    /// (index into `events`, piece): the `agent_activity` pieces of the segments the
    /// transitions closed, in stream order.
    pub pieces: Vec<(usize, AgentActivityRecord)>,
    /// The state to commit: the last-known state with every event the fold held; None when it
    /// held none (all covered by the watermark, underivable first sight, or only showing the
    /// agent alive within the throttle).
    pub next: Option<AgentState>,
    /// Whether `next` must be committed: exactly when an event was held, so `next` is Some.
    pub write: bool,
    /// Events covered by the watermark: a replay, a repeat of a held event, or a late event at
    /// or before it.
    pub skipped: usize,
    /// (index into `events`, record): the agent's `agent_profile` when first seen and whenever
    /// its configuration changes (feed.md).
    pub profiles: Vec<(usize, AgentProfileRecord)>,
    /// Events of the agent while it is outside the mapping's `agents` filter: they give no
    /// records at all (the one write they may cost marks the row as outside).
    pub filtered: usize,
}

/// An event the state took (a dropped one leaves the state as the store has it).
struct Held {
    /// The transition it emits, if any.
    transition: Option<AgentStateRecord>,
    /// The pieces of the segment that transition closed.
    pieces: Vec<AgentActivityRecord>,
}

/// Folds one agent's events (all with the same AgentARN, in stream order) over its last-known
/// state.
pub fn fold_agent(
    last: Option<&AgentState>,
    events: &[&AgentEvent],
    mapping: &AgentStateMapping,
    policy: &FoldPolicy,
) -> AgentFold {
    // What the store holds after each event: never ahead of what a commit would keep.
    let mut held: Option<AgentState> = last.cloned();
    let mut write = false;
    let mut transitions = Vec::new();
    let mut pieces = Vec::new();
    let mut profiles = Vec::new();
    let mut skipped = 0;
    let mut filtered = 0;

    for (index, event) in events.iter().copied().enumerate() {
        // Covered also means late: earlier than the watermark, whatever its id.
        if held
            .as_ref()
            .is_some_and(|state| state.watermark.covers(event.event_timestamp, &event.event_id))
        {
            skipped += 1;
            continue;
        }
        let config = event.configuration();
        let excluded = match policy.roster.filter.judge(config) {
            Some(included) => !included,
            // Nothing to judge by: the agent's last judgement stands.
            None => held.as_ref().is_some_and(|state| state.excluded),
        };
        if excluded {
            filtered += 1;
            // The one write: the row is marked outside, and the sweep passes it by.
            if let Some(state) = held.as_mut().filter(|state| !state.excluded) {
                exclude(state, event);
                write = true;
            }
            continue;
        }
        let view = config.map(|config| ProfileView::of(event.login(), config, policy.roster.agent_names));
        let fingerprint = view.as_ref().map(ProfileView::fingerprint);
        let known = held.as_ref().filter(|state| !state.excluded);
        let profile_changed = fingerprint.is_some() && fingerprint != known.and_then(|state| state.profile);
        let folded = match held.as_mut().filter(|state| !state.excluded) {
            Some(state) => fold_known(state, event, mapping, policy, profile_changed),
            // Nothing known (or only that the agent was outside the filter, which the WFM was
            // never told about): first sight, if a state can be derived from the event.
            None => first_sight(event, mapping).map(|(record, mut state)| {
                if let Some(returning) = held.as_ref() {
                    // Back in the filter: the commit must order past the row that says "outside".
                    if event.event_timestamp == returning.watermark.at {
                        state.watermark = returning.watermark.clone();
                        state.watermark.event_ids.push(event.event_id.clone());
                    }
                    state.last_silence = returning.last_silence;
                }
                held = Some(state);
                Held {
                    transition: Some(record),
                    pieces: Vec::new(),
                }
            }),
        };
        if let Some(Held {
            transition,
            pieces: closed,
        }) = folded
        {
            write = true;
            transitions.extend(transition.map(|record| (index, record)));
            pieces.extend(closed.into_iter().map(|piece| (index, piece)));
            if profile_changed && let (Some(view), Some(state)) = (&view, held.as_mut()) {
                profiles.push((index, view.record(event)));
                state.profile = fingerprint;
            }
        }
    }

    AgentFold {
        transitions,
        pieces,
        next: held.filter(|_| write),
        write,
        skipped,
        profiles,
        filtered,
    }
}

/// Marks a known agent as outside the filter with the event that showed it: no record, the
/// silence and the open segment forgotten (nothing more is written of them), the profile
/// forgotten so that a return into the filter writes it again.
fn exclude(state: &mut AgentState, event: &AgentEvent) {
    state.excluded = true;
    state.profile = None;
    state.segment = None;
    if let Some(since) = state.silent_since.take() {
        state.last_silence = Some(since);
    }
    state.silenced_at = None;
    state.silenced_from = None;
    state.silenced_segment = None;
    touch(state, event);
}

/// Folds one event that the watermark does not cover over a known state: the state takes it
/// when it is held, and is left as it is when it is dropped (None).
fn fold_known(
    state: &mut AgentState,
    event: &AgentEvent,
    mapping: &AgentStateMapping,
    policy: &FoldPolicy,
    profile_changed: bool,
) -> Option<Held> {
    // Once the state is known a heartbeat only says the agent is alive, unless the agent is
    // UNKNOWN: then any event, a heartbeat included, recovers it (rule 4).
    let derived = match event.event_type {
        EventType::HeartBeat if !state.is_silent() => None,
        _ => derive_state(event, Some(state), mapping),
    };
    let Some(derived) = derived else {
        // A new profile is written with the event that shows it, and its fingerprint kept.
        if !profile_changed && !alive_worth_a_write(state, event, policy) {
            return None;
        }
        touch(state, event);
        return Some(Held {
            transition: None,
            pieces: Vec::new(),
        });
    };
    // A recovery is a transition even when the mapping names Unknown like the derived state:
    // the WFM must learn the agent is back.
    let mut pieces = Vec::new();
    let transition = if derived.state != state.state || state.is_silent() {
        // The transition closes the current segment where the new one effectively starts.
        let open = OpenSegment::after(state.segment.as_ref(), derived.since, event.event_id.clone());
        if let Some(mut closed) = Segment::current(state) {
            closed.agent_login = event.login().or(closed.agent_login);
            pieces = closed.close(open.start, &event.event_id, mapping);
        }
        let previous = Some(std::mem::take(&mut state.state));
        let record = record(event, state.agent_login.as_deref(), &derived, previous);
        apply(state, derived, open);
        Some(record)
    } else {
        if contact_id(&derived) != state.contact.as_ref().map(|c| c.contact_id.as_str()) {
            state.contact = derived.contact;
        }
        None
    };
    touch(state, event);
    Some(Held { transition, pieces })
}

/// Whether an event that only shows the agent is alive must be held: it changes the login, or
/// the stored last-seen is at least `policy.last_seen_write_after` old (the sweep judges
/// silence by it).
fn alive_worth_a_write(state: &AgentState, event: &AgentEvent, policy: &FoldPolicy) -> bool {
    let renamed = event
        .login()
        .is_some_and(|login| state.agent_login.as_deref() != Some(login));
    renamed || event.event_timestamp - state.last_seen >= policy.last_seen_write_after
}

/// The state of an agent first seen in `event`, and its transition; None when no state can be
/// derived from the event.
fn first_sight(event: &AgentEvent, mapping: &AgentStateMapping) -> Option<(AgentStateRecord, AgentState)> {
    let derived = derive_state(event, None, mapping)?;
    let derived_since = derived.since;
    let record = record(event, None, &derived, None);
    let at = event.event_timestamp;
    let state = AgentState {
        stream_newest: None,
        agent_arn: event.agent_arn.clone(),
        agent_id: event.agent_id().to_owned(),
        instance_id: event.instance_id().to_owned(),
        agent_login: event.login().map(str::to_owned),
        state: derived.state,
        reason: derived.reason,
        activity: derived.activity,
        since: derived.since,
        contact: derived.contact,
        watermark: Watermark::new(at, event.event_id.clone()),
        last_seen: at,
        silent_since: None,
        last_silence: None,
        silenced_at: None,
        silenced_from: None,
        segment: Some(OpenSegment::after(None, derived_since, event.event_id.clone())),
        silenced_segment: None,
        profile: None,
        excluded: false,
    };
    Some((record, state))
}

fn contact_id(derived: &DerivedState) -> Option<&str> {
    derived.contact.as_ref().map(|c| c.contact_id.as_str())
}

/// The feed record of a transition caused by `event`.
fn record(
    event: &AgentEvent,
    known_login: Option<&str>,
    derived: &DerivedState,
    previous_state: Option<String>,
) -> AgentStateRecord {
    AgentStateRecord {
        kind: AgentStateRecord::KIND,
        schema: SCHEMA,
        instance_id: event.instance_id().to_owned(),
        agent_id: event.agent_id().to_owned(),
        agent_login: event.login().or(known_login).map(str::to_owned),
        state: derived.state.clone(),
        reason: derived.reason.clone(),
        activity: derived.activity,
        since: derived.since,
        previous_state,
        contact: derived.contact.clone(),
        event_id: event.event_id.clone(),
        event_type: event.event_type.as_str().to_owned(),
        event_time: event.event_timestamp,
    }
}

fn apply(state: &mut AgentState, derived: DerivedState, segment: OpenSegment) {
    if let Some(since) = state.silent_since.take() {
        state.last_silence = Some(since);
        state.silenced_at = None;
        state.silenced_from = None;
        state.silenced_segment = None;
    }
    state.segment = Some(segment);
    state.state = derived.state;
    state.reason = derived.reason;
    state.activity = derived.activity;
    state.since = derived.since;
    state.contact = derived.contact;
}

/// Records that a held event was applied: login, watermark, last-seen.
fn touch(state: &mut AgentState, event: &AgentEvent) {
    let at = event.event_timestamp;
    if let Some(login) = event.login() {
        if state.agent_login.as_deref() != Some(login) {
            state.agent_login = Some(login.to_owned());
        }
    }
    if at > state.watermark.at {
        state.watermark = Watermark::new(at, event.event_id.clone());
    } else {
        // Not covered and not later: same timestamp, new id (two events in one millisecond).
        state.watermark.event_ids.push(event.event_id.clone());
    }
    state.last_seen = state.last_seen.max(at);
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::super::event::tests::{ENTER_ACW, HEARTBEAT, LEAVE_ACW};
    use super::super::event::{AgentSnapshot, AgentStatus, Contact, decode_agent_event};
    use super::super::state::{Activity, ContactRef};
    use super::*;

    const AGENT: &str = "arn:aws:connect:eu-west-1:1:instance/i-1/agent/a-1";

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// 10:MM:SS.mmm on 2026-11-20.
    fn t(clock: &str) -> DateTime<Utc> {
        at(&format!("2026-11-20T{clock}Z"))
    }

    fn status_event(id: &str, clock: &str, status: &str) -> AgentEvent {
        AgentEvent {
            aws_account_id: None,
            agent_arn: AGENT.into(),
            instance_arn: "arn:aws:connect:eu-west-1:1:instance/i-1".into(),
            event_id: id.into(),
            event_timestamp: t(clock),
            event_type: EventType::StateChange,
            version: "2019-05-25".into(),
            current: Some(AgentSnapshot {
                agent_status: Some(AgentStatus {
                    arn: None,
                    name: status.into(),
                    type_: None,
                    start_timestamp: Some(t(clock)),
                }),
                configuration: Some(super::super::event::AgentConfiguration {
                    username: Some("jdoe".into()),
                    ..Default::default()
                }),
                ..AgentSnapshot::default()
            }),
            previous: None,
        }
    }

    fn heartbeat(id: &str, clock: &str, status: &str) -> AgentEvent {
        AgentEvent {
            event_type: EventType::HeartBeat,
            ..status_event(id, clock, status)
        }
    }

    fn on_contact(id: &str, clock: &str, contact_id: &str) -> AgentEvent {
        let mut event = status_event(id, clock, "Available");
        if let Some(current) = event.current.as_mut() {
            current.contacts = vec![Contact {
                contact_id: contact_id.into(),
                channel: "CHAT".into(),
                initiation_method: "API".into(),
                state: "CONNECTED".into(),
                state_start_timestamp: Some(t(clock)),
                ..Contact::default()
            }];
        }
        event
    }

    /// The fingerprint of the test events' configuration (login `jdoe`, nothing else), as the
    /// row of an agent whose profile was written keeps it.
    fn test_profile() -> u64 {
        let config = super::super::event::AgentConfiguration {
            username: Some("jdoe".into()),
            ..Default::default()
        };
        ProfileView::of(Some("jdoe"), &config, false).fingerprint()
    }

    fn known(state: &str, clock: &str) -> AgentState {
        AgentState {
            stream_newest: None,
            agent_arn: AGENT.into(),
            agent_id: "a-1".into(),
            instance_id: "i-1".into(),
            agent_login: Some("jdoe".into()),
            state: state.into(),
            reason: if state == "Available" { "Open" } else { state }.into(),
            activity: if state == "Available" {
                Activity::Open
            } else {
                Activity::Closed
            },
            since: t(clock),
            contact: None,
            watermark: Watermark::new(t(clock), "e-0"),
            last_seen: t(clock),
            silent_since: None,
            last_silence: None,
            silenced_at: None,
            silenced_from: None,
            segment: Some(OpenSegment {
                start: t(clock),
                id: "e-0".into(),
            }),
            silenced_segment: None,
            profile: Some(test_profile()),
            excluded: false,
        }
    }

    fn fold(last: Option<&AgentState>, events: &[AgentEvent]) -> AgentFold {
        let refs: Vec<&AgentEvent> = events.iter().collect();
        fold_agent(last, &refs, &AgentStateMapping::default(), &FoldPolicy::default())
    }

    fn states(fold: &AgentFold) -> Vec<(usize, &str)> {
        fold.transitions.iter().map(|(i, r)| (*i, r.state.as_str())).collect()
    }

    /// A status event whose configuration puts the agent in routing profile `profile`.
    fn in_profile(id: &str, clock: &str, status: &str, profile: &str) -> AgentEvent {
        let mut event = status_event(id, clock, status);
        if let Some(config) = event.current.as_mut().and_then(|c| c.configuration.as_mut()) {
            config.routing_profile = serde_json::from_value(json!({
                "ARN": format!("arn:aws:connect:eu-west-1:1:instance/i-1/routing-profile/{profile}"),
                "Name": profile,
                "InboundQueues": [{"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/queue/q-1", "Name": "Sales", "Channels": ["VOICE"]}]
            }))
            .unwrap();
        }
        event
    }

    fn fold_with(last: Option<&AgentState>, events: &[AgentEvent], policy: &FoldPolicy) -> AgentFold {
        let refs: Vec<&AgentEvent> = events.iter().collect();
        fold_agent(last, &refs, &AgentStateMapping::default(), policy)
    }

    fn profile_ids(fold: &AgentFold) -> Vec<(usize, &str)> {
        fold.profiles.iter().map(|(i, p)| (*i, p.event_id.as_str())).collect()
    }

    #[test]
    fn a_profile_is_written_at_first_sight_and_on_change_only_and_a_change_is_held() {
        let first = fold(None, &[in_profile("e1", "10:00:00", "Available", "Sales")]);
        assert_eq!(profile_ids(&first), [(0, "e1")]);
        let stored = first.next.unwrap();
        assert!(stored.profile.is_some());
        // The same configuration again, in a heartbeat the throttle drops: nothing at all.
        let mut same = in_profile("h1", "10:01:00", "Available", "Sales");
        same.event_type = EventType::HeartBeat;
        let again = fold(Some(&stored), &[same]);
        assert!(again.profiles.is_empty() && !again.write);
        // A new routing profile in such a heartbeat: the profile, and the heartbeat held.
        let mut moved = in_profile("h2", "10:01:00", "Available", "Support");
        moved.event_type = EventType::HeartBeat;
        let changed = fold(Some(&stored), &[moved]);
        assert_eq!(profile_ids(&changed), [(0, "h2")]);
        assert!(changed.transitions.is_empty() && changed.write);
        assert_eq!(changed.profiles[0].1.routing_profile.as_ref().unwrap().id, "Support");
        assert_ne!(changed.next.unwrap().profile, stored.profile);
    }

    #[test]
    fn an_agent_outside_the_filter_gets_no_records_and_costs_one_write_when_it_leaves() {
        let policy = FoldPolicy {
            roster: RosterPolicy {
                agent_names: false,
                filter: serde_json::from_value(json!({"routing_profiles": ["Sales"]})).unwrap(),
            },
            ..FoldPolicy::default()
        };
        // Never in the filter: nothing, not even a row.
        let outside = fold_with(None, &[in_profile("e1", "10:00:00", "Available", "Support")], &policy);
        assert!(outside.transitions.is_empty() && outside.profiles.is_empty() && !outside.write);
        assert_eq!(outside.filtered, 1);
        // In the filter, then moved out of it: its records stop, the row is marked once.
        let inside = fold_with(None, &[in_profile("e1", "10:00:00", "Available", "Sales")], &policy);
        let stored = inside.next.unwrap();
        let left = fold_with(
            Some(&stored),
            &[
                in_profile("e2", "10:05:00", "Break", "Support"),
                in_profile("e3", "10:06:00", "Available", "Support"),
            ],
            &policy,
        );
        assert!(left.transitions.is_empty() && left.pieces.is_empty() && left.profiles.is_empty());
        assert_eq!(left.filtered, 2);
        let marked = left.next.unwrap();
        assert!(marked.excluded && marked.profile.is_none() && marked.segment.is_none());
        assert_eq!(marked.watermark, Watermark::new(t("10:05:00"), "e2"));
        // Marked: later events outside cost nothing.
        let quiet = fold_with(
            Some(&marked),
            &[in_profile("e4", "10:07:00", "Break", "Support")],
            &policy,
        );
        assert!(!quiet.write && quiet.transitions.is_empty());
        // Back in the filter: as first sight, with its profile.
        let back = fold_with(
            Some(&marked),
            &[in_profile("e5", "10:08:00", "Break", "Sales")],
            &policy,
        );
        assert_eq!(states(&back), [(0, "Break")]);
        assert_eq!(back.transitions[0].1.previous_state, None);
        assert_eq!(profile_ids(&back), [(0, "e5")]);
        let next = back.next.unwrap();
        assert!(!next.excluded && next.may_replace(&marked));
    }

    #[test]
    fn default_policy_is_150_seconds() {
        assert_eq!(FoldPolicy::default().last_seen_write_after, Duration::seconds(150));
    }

    #[test]
    fn serialises_the_leave_acw_transition_exactly_as_feed_md() {
        let enter = decode_agent_event(ENTER_ACW.as_bytes()).unwrap();
        let leave = decode_agent_event(LEAVE_ACW.as_bytes()).unwrap();
        let result = fold(None, &[enter, leave]);
        assert_eq!(states(&result), [(0, "VOICE-OUTBOUND-ENDED"), (1, "Available")]);
        let acw = serde_json::to_value(&result.transitions[0].1).unwrap();
        assert_eq!(
            acw,
            json!({
                "kind": "agent_state",
                "schema": 1,
                "instance_id": "aaaaaaaa-bbbb-cccc-dddd-111111111111",
                "agent_id": "agent-ARN",
                "agent_login": "(Removed)",
                "state": "VOICE-OUTBOUND-ENDED",
                "reason": "Open",
                "activity": "Open",
                "since": "2019-05-25T18:55:27.017Z",
                "previous_state": null,
                "contact": {
                    "contact_id": "ContactId-1",
                    "channel": "VOICE",
                    "initiation_method": "OUTBOUND",
                    "queue": "BasicQueue"
                },
                "event_id": "EventId-1",
                "event_type": "STATE_CHANGE",
                "event_time": "2019-05-25T18:55:27.017Z"
            })
        );
        let available = serde_json::to_value(&result.transitions[1].1).unwrap();
        assert_eq!(
            available,
            json!({
                "kind": "agent_state",
                "schema": 1,
                "instance_id": "aaaaaaaa-bbbb-cccc-dddd-111111111111",
                "agent_id": "agent-ARN",
                "agent_login": "(Removed)",
                "state": "Available",
                "reason": "Open",
                "activity": "Open",
                "since": "2019-05-25T18:55:32.022Z",
                "previous_state": "VOICE-OUTBOUND-ENDED",
                "contact": null,
                "event_id": "477f2c4f-cd1a-4785-b1a8-97023dc1229d",
                "event_type": "STATE_CHANGE",
                "event_time": "2019-05-25T18:55:32.022Z"
            })
        );
        let next = result.next.unwrap();
        assert_eq!(
            (next.state.as_str(), next.since),
            ("Available", at("2019-05-25T18:55:32.022Z"))
        );
        assert_eq!(next.contact, None, "the contact left with the state");
        assert_eq!(
            next.watermark,
            Watermark::new(at("2019-05-25T18:55:32.022Z"), "477f2c4f-cd1a-4785-b1a8-97023dc1229d")
        );
        assert!(result.write);
    }

    #[test]
    fn leave_acw_alone_over_a_known_acw_state_uses_the_event_time() {
        let enter = decode_agent_event(ENTER_ACW.as_bytes()).unwrap();
        let after_enter = fold(None, &[enter]).next.unwrap();
        let leave = decode_agent_event(LEAVE_ACW.as_bytes()).unwrap();
        let result = fold(Some(&after_enter), &[leave]);
        assert_eq!(states(&result), [(0, "Available")]);
        assert_eq!(result.transitions[0].1.since, at("2019-05-25T18:55:32.022Z"));
        assert_eq!(
            result.transitions[0].1.previous_state.as_deref(),
            Some("VOICE-OUTBOUND-ENDED")
        );
    }

    #[test]
    fn first_sight_heartbeat_emits_then_only_refreshes() {
        let sample = decode_agent_event(HEARTBEAT.as_bytes()).unwrap();
        let result = fold(None, &[sample]);
        assert_eq!(states(&result), [(0, "Available")]);
        let record = &result.transitions[0].1;
        assert_eq!(
            (record.event_type.as_str(), record.previous_state.as_deref()),
            ("HEART_BEAT", None)
        );
        assert_eq!(record.agent_login.as_deref(), Some("aestest"));
        assert!(result.write);

        // Within one batch: the first heartbeat teaches the state, the next ones only refresh
        // it, even when their status differs.
        let result = fold(
            None,
            &[
                heartbeat("h1", "10:00:00", "Available"),
                heartbeat("h2", "10:02:00", "Break"),
            ],
        );
        assert_eq!(states(&result), [(0, "Available")]);
        let next = result.next.unwrap();
        // h2 is 120 s after the first sight's write: not held, exactly as if it came in a batch
        // of its own after h1's commit.
        assert_eq!((next.state.as_str(), next.last_seen), ("Available", t("10:00:00")));
        assert_eq!(next.watermark, Watermark::new(t("10:00:00"), "h1"));

        // Over a known state.
        let last = known("Available", "10:00:00");
        let result = fold(Some(&last), &[heartbeat("h3", "10:02:00", "Break")]);
        assert!(result.transitions.is_empty());
        assert_eq!(
            (result.next, result.write),
            (None, false),
            "a heartbeat 2 minutes after the last write is not held"
        );
        // Once the stored last-seen is 150 s old the heartbeat is held: last-seen and watermark.
        let result = fold(Some(&last), &[heartbeat("h3", "10:02:30", "Break")]);
        assert!(result.transitions.is_empty() && result.write);
        let next = result.next.unwrap();
        assert_eq!((next.state.as_str(), next.last_seen), ("Available", t("10:02:30")));
        assert_eq!(next.watermark, Watermark::new(t("10:02:30"), "h3"));
    }

    /// The case: a late event older than an unwritten heartbeat but newer than the
    /// stored watermark is applied whether the heartbeat came in its batch or in one before.
    #[test]
    fn a_heartbeat_the_throttle_does_not_write_does_not_hide_a_late_event() {
        let logout = {
            let mut logout = status_event("e1", "10:00:00", "Offline");
            logout.event_type = EventType::Logout;
            logout
        };
        let stored = fold(None, &[logout]).next.unwrap();
        let after_logout = heartbeat("h1", "10:02:00", "Offline");
        let late = status_event("e2", "10:01:00", "Offline");

        let one_batch = fold(Some(&stored), &[after_logout.clone(), late.clone()]);
        let alone = fold(Some(&stored), &[after_logout]);
        assert_eq!((alone.next.as_ref(), alone.write), (None, false));
        let next_batch = fold(Some(&stored), &[late]);
        assert_eq!(states(&one_batch), [(1, "Offline")]);
        assert_eq!(states(&next_batch), [(0, "Offline")]);
        assert_eq!(one_batch.next, next_batch.next);
        assert_eq!(one_batch.next.unwrap().watermark, Watermark::new(t("10:01:00"), "e2"));
    }

    /// An event that changes nothing is still held when a state is derived from it: an older
    /// event delivered after it, in its batch or later, must not undo what it showed.
    #[test]
    fn a_no_op_state_change_is_held_and_hides_older_events() {
        let last = known("Break", "10:00:00");
        let noop = status_event("e1", "10:02:00", "Break");
        let older = status_event("e2", "10:01:00", "Available");
        let result = fold(Some(&last), &[noop.clone(), older.clone()]);
        assert!(result.transitions.is_empty() && result.write);
        assert_eq!(result.skipped, 1, "the older event is late");
        let stored = result.next.unwrap();
        assert_eq!(stored.watermark, Watermark::new(t("10:02:00"), "e1"));
        assert_eq!(stored.since, t("10:00:00"), "the state did not begin again");
        // Delivered again, the batch emits and writes nothing.
        let again = fold(Some(&stored), &[noop, older]);
        assert_eq!((again.transitions.len(), again.write, again.skipped), (0, false, 2));
    }

    #[test]
    fn an_underivable_first_event_is_not_accepted() {
        let mut bare = status_event("e1", "10:00:00", "Available");
        bare.current = None;
        let result = fold(None, &[bare.clone()]);
        assert_eq!((result.transitions.len(), result.next, result.write), (0, None, false));
        // Over a known state it shows the agent alive: held here, the stored last-seen being an
        // hour old.
        let last = known("Available", "09:00:00");
        let result = fold(Some(&last), &[bare]);
        assert!(result.transitions.is_empty());
        assert_eq!(result.next.unwrap().last_seen, t("10:00:00"));
    }

    #[test]
    fn emits_only_when_the_state_changes() {
        let last = known("Available", "09:00:00");
        let result = fold(
            Some(&last),
            &[
                status_event("e1", "10:00:00", "Available"),
                status_event("e2", "10:01:00", "Break"),
                status_event("e3", "10:02:00", "Break"),
                {
                    let mut login = status_event("e4", "10:03:00", "Break");
                    login.event_type = EventType::Login;
                    login
                },
                {
                    let mut logout = status_event("e5", "10:04:00", "Break");
                    logout.event_type = EventType::Logout;
                    logout
                },
            ],
        );
        assert_eq!(states(&result), [(1, "Break"), (3, "LOGIN"), (4, "LOGOUT")]);
        let previous: Vec<_> = result
            .transitions
            .iter()
            .map(|(_, r)| r.previous_state.as_deref())
            .collect();
        assert_eq!(previous, [Some("Available"), Some("Break"), Some("LOGIN")]);
        let break_record = &result.transitions[0].1;
        assert_eq!(
            (break_record.reason.as_str(), break_record.activity, break_record.since),
            ("Break", Activity::Closed, t("10:01:00"))
        );
        assert_eq!(break_record.event_id, "e2");
        assert_eq!(break_record.event_time, t("10:01:00"));
        let next = result.next.unwrap();
        assert_eq!(
            (next.state.as_str(), next.reason.as_str(), next.activity, next.since),
            ("LOGOUT", "Logout", Activity::Closed, t("10:04:00"))
        );
        assert_eq!(next.watermark, Watermark::new(t("10:04:00"), "e5"));
        assert!(result.write);
    }

    #[test]
    fn duplicates_in_a_batch_emit_once() {
        let e = status_event("e1", "10:00:00", "Break");
        let result = fold(None, &[e.clone(), e.clone(), e]);
        assert_eq!(states(&result), [(0, "Break")]);
        assert_eq!(result.skipped, 2, "the repeats are counted as duplicates");
        assert_eq!(result.next.unwrap().watermark, Watermark::new(t("10:00:00"), "e1"));
    }

    #[test]
    fn a_replayed_batch_emits_nothing_and_writes_nothing() {
        let batch = [
            status_event("e1", "10:00:00", "Break"),
            status_event("e2", "10:00:00", "Available"),
            status_event("e3", "10:05:00", "Lunch"),
        ];
        let first = fold(None, &batch);
        assert_eq!(states(&first), [(0, "Break"), (1, "Available"), (2, "Lunch")]);
        let stored = first.next.unwrap();
        let replay = fold(Some(&stored), &batch);
        assert_eq!(
            replay,
            AgentFold {
                transitions: vec![],
                pieces: vec![],
                next: None,
                write: false,
                skipped: batch.len(),
                profiles: vec![],
                filtered: 0,
            }
        );
    }

    #[test]
    fn events_at_or_before_the_stored_watermark_are_skipped() {
        let last = known("Available", "10:00:00");
        // Same timestamp and id as the watermark, then an earlier one with a new id.
        let result = fold(
            Some(&last),
            &[
                status_event("e-0", "10:00:00", "Break"),
                status_event("old", "09:59:59.999", "Break"),
            ],
        );
        assert_eq!((result.transitions.len(), result.next, result.write), (0, None, false));
    }

    #[test]
    fn a_late_event_in_the_batch_never_regresses_the_state() {
        let result = fold(
            None,
            &[
                status_event("e2", "10:05:00", "Break"),
                status_event("e1", "10:00:00", "Available"),
            ],
        );
        assert_eq!(states(&result), [(0, "Break")]);
        let next = result.next.unwrap();
        assert_eq!(
            (next.state.as_str(), next.watermark.clone()),
            ("Break", Watermark::new(t("10:05:00"), "e2"))
        );
    }

    #[test]
    fn equal_timestamps_with_different_ids_are_both_applied() {
        let last = known("Available", "10:00:00");
        let result = fold(
            Some(&last),
            &[
                status_event("e1", "10:00:00", "Break"),
                status_event("e2", "10:00:00", "Lunch"),
            ],
        );
        assert_eq!(states(&result), [(0, "Break"), (1, "Lunch")]);
        let next = result.next.unwrap();
        assert_eq!(next.watermark.at, t("10:00:00"));
        assert_eq!(next.watermark.event_ids, ["e-0", "e1", "e2"]);
        assert!(next.watermark.advances(&last.watermark));
    }

    #[test]
    fn write_is_throttled_for_last_seen_only_changes() {
        let last = known("Available", "10:00:00");
        // 149.999 s after the stored last-seen: not yet.
        let young = fold(Some(&last), &[heartbeat("h1", "10:02:29.999", "Available")]);
        assert!(young.next.is_none() && !young.write);
        // Nor is an event without a snapshot: it only shows the agent is alive.
        let mut bare = status_event("b1", "10:02:00", "Available");
        bare.current = None;
        let bare = fold(Some(&last), &[bare]);
        assert!(bare.next.is_none() && !bare.write);
        // A no-op state change is not throttled: it says what the agent is doing (see
        // a_no_op_state_change_is_held_and_hides_older_events).
        let noop = fold(Some(&last), &[status_event("s1", "10:02:00", "Available")]);
        assert!(noop.transitions.is_empty() && noop.write);
        // 150 s after: write.
        let old = fold(Some(&last), &[heartbeat("h1", "10:02:30", "Available")]);
        assert!(old.write);
        // Any other field moving: write at once.
        let mut renamed = heartbeat("h1", "10:01:00", "Available");
        if let Some(config) = renamed.current.as_mut().and_then(|c| c.configuration.as_mut()) {
            config.username = Some("jdoe2".into());
        }
        let result = fold(Some(&last), &[renamed]);
        assert!(result.write);
        assert_eq!(result.next.unwrap().agent_login.as_deref(), Some("jdoe2"));
        // A custom policy.
        let refs = [&heartbeat("h1", "10:01:00", "Available")];
        let eager = FoldPolicy {
            last_seen_write_after: Duration::seconds(30),
            ..FoldPolicy::default()
        };
        assert!(fold_agent(Some(&last), &refs, &AgentStateMapping::default(), &eager).write);
    }

    #[test]
    fn a_state_that_returns_within_the_batch_is_still_written() {
        let last = known("Available", "10:00:00");
        let mut back = status_event("e2", "10:02:00", "Available");
        if let Some(status) = back.current.as_mut().and_then(|c| c.agent_status.as_mut()) {
            status.start_timestamp = Some(t("10:00:00"));
        }
        let result = fold(Some(&last), &[status_event("e1", "10:01:00", "Break"), back]);
        assert_eq!(states(&result), [(0, "Break"), (1, "Available")]);
        assert!(result.write, "transitions were published: the watermark must follow");
    }

    #[test]
    fn a_new_contact_in_the_same_state_updates_the_contact_only() {
        let first = fold(None, &[on_contact("e1", "10:00:00", "chat-1")]);
        let stored = first.next.unwrap();
        assert_eq!(stored.contact.as_ref().unwrap().contact_id, "chat-1");
        let result = fold(Some(&stored), &[on_contact("e2", "10:01:00", "chat-2")]);
        assert!(result.transitions.is_empty());
        let next = result.next.unwrap();
        assert_eq!(next.state, "CHAT-API-CONNECTED");
        assert_eq!(next.since, t("10:00:00"), "the state did not begin again");
        assert_eq!(
            next.contact,
            Some(ContactRef {
                contact_id: "chat-2".into(),
                channel: "CHAT".into(),
                initiation_method: "API".into(),
                queue: None
            })
        );
        assert!(result.write);
    }

    #[test]
    fn login_comes_from_the_event_else_the_known_state() {
        let last = known("Available", "10:00:00");
        let mut anonymous = status_event("e1", "10:01:00", "Break");
        if let Some(current) = anonymous.current.as_mut() {
            current.configuration = None;
        }
        let result = fold(Some(&last), &[anonymous.clone()]);
        assert_eq!(result.transitions[0].1.agent_login.as_deref(), Some("jdoe"));
        assert_eq!(result.next.unwrap().agent_login.as_deref(), Some("jdoe"));
        let result = fold(None, &[anonymous]);
        assert_eq!(result.transitions[0].1.agent_login, None);
        // The event's own login wins over the known one (a renamed user).
        let mut renamed = status_event("e2", "10:01:00", "Break");
        if let Some(config) = renamed.current.as_mut().and_then(|c| c.configuration.as_mut()) {
            config.username = Some("jdoe2".into());
        }
        let result = fold(Some(&last), &[renamed]);
        assert_eq!(result.transitions[0].1.agent_login.as_deref(), Some("jdoe2"));
    }

    #[test]
    fn the_first_state_is_built_from_the_event() {
        let result = fold(None, &[status_event("e1", "10:00:00", "Break")]);
        let next = result.next.unwrap();
        assert_eq!(
            next,
            AgentState {
                stream_newest: None,
                agent_arn: AGENT.into(),
                agent_id: "a-1".into(),
                instance_id: "i-1".into(),
                agent_login: Some("jdoe".into()),
                state: "Break".into(),
                reason: "Break".into(),
                activity: Activity::Closed,
                since: t("10:00:00"),
                contact: None,
                watermark: Watermark::new(t("10:00:00"), "e1"),
                last_seen: t("10:00:00"),
                silent_since: None,
                last_silence: None,
                silenced_at: None,
                silenced_from: None,
                segment: Some(OpenSegment {
                    start: t("10:00:00"),
                    id: "e1".into(),
                }),
                silenced_segment: None,
                profile: Some(test_profile()),
                excluded: false,
            }
        );
        let record = &result.transitions[0].1;
        assert_eq!((record.agent_id.as_str(), record.instance_id.as_str()), ("a-1", "i-1"));
    }

    /// `known(state)` after the sweep moved it to UNKNOWN (last seen at `clock`, 300 s).
    fn silenced(state: &str, clock: &str) -> AgentState {
        crate::agent::silence_agent(
            &known(state, clock),
            Duration::seconds(300),
            &AgentStateMapping::default(),
        )
        .1
    }

    #[test]
    fn a_heartbeat_recovers_an_unknown_agent() {
        let last = silenced("Available", "10:00:00");
        let result = fold(Some(&last), &[heartbeat("h1", "10:20:00", "Available")]);
        assert_eq!(states(&result), [(0, "Available")]);
        let record = &result.transitions[0].1;
        assert_eq!(
            (
                record.previous_state.as_deref(),
                record.event_type.as_str(),
                record.event_id.as_str()
            ),
            (Some("UNKNOWN"), "HEART_BEAT", "h1")
        );
        let next = result.next.unwrap();
        assert_eq!((next.silent_since, next.last_silence), (None, Some(t("10:05:00"))));
        assert!(result.write);
        assert!(next.may_replace(&last), "the recovery replaces the UNKNOWN mark");
        // Only the first event recovers; the next heartbeats refresh again.
        let again = fold(Some(&next), &[heartbeat("h2", "10:22:00", "Available")]);
        assert!(again.transitions.is_empty());
    }

    #[test]
    fn a_late_event_older_than_the_silence_still_recovers_if_past_the_watermark() {
        let last = silenced("Available", "10:00:00");
        let result = fold(Some(&last), &[status_event("e1", "10:03:00", "Break")]);
        assert_eq!(states(&result), [(0, "Break")]);
        assert_eq!(result.transitions[0].1.previous_state.as_deref(), Some("UNKNOWN"));
        // At or before the watermark it is still a replay.
        let result = fold(Some(&last), &[status_event("e-0", "10:00:00", "Break")]);
        assert_eq!((result.transitions.len(), result.next), (0, None));
    }

    #[test]
    fn recovery_emits_even_when_the_mapping_names_unknown_like_the_new_state() {
        let mut mapping = AgentStateMapping::default();
        mapping
            .merge_json(
                json!([{"name": "Unknown", "event_id": "Offline", "reason": "No signal", "activity": "Closed"}]),
            )
            .unwrap();
        let (_, last) = crate::agent::silence_agent(&known("Break", "10:00:00"), Duration::seconds(300), &mapping);
        let events = [status_event("e1", "10:20:00", "Offline")];
        let refs: Vec<_> = events.iter().collect();
        let result = fold_agent(Some(&last), &refs, &mapping, &FoldPolicy::default());
        assert_eq!(states(&result), [(0, "Offline")]);
        assert_eq!(result.transitions[0].1.previous_state.as_deref(), Some("Offline"));
        assert_eq!(result.next.unwrap().silent_since, None);
    }

    #[test]
    fn a_batch_that_loaded_the_agent_before_the_sweep_cannot_erase_unknown() {
        let loaded = known("Available", "10:00:00");
        let swept = silenced("Available", "10:00:00");
        // The batch folded over the state it loaded before the sweep committed UNKNOWN.
        let result = fold(Some(&loaded), &[status_event("e1", "10:06:00", "Break")]);
        let next = result.next.unwrap();
        assert!(next.watermark.advances(&swept.watermark));
        assert!(!next.may_replace(&swept));
        // Folded again over what is stored now, it recovers and may replace.
        let retried = fold(Some(&swept), &[status_event("e1", "10:06:00", "Break")]);
        assert_eq!(retried.transitions[0].1.previous_state.as_deref(), Some("UNKNOWN"));
        assert!(retried.next.unwrap().may_replace(&swept));
        // And the sweep loses against a batch that committed first.
        assert!(!swept.may_replace(&next));
    }

    #[test]
    fn mapping_overrides_reach_the_records() {
        let mut mapping = AgentStateMapping::default();
        mapping
            .merge_json(json!([{"name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed"}]))
            .unwrap();
        let events = [status_event("e1", "10:00:00", "Lunch")];
        let refs: Vec<_> = events.iter().collect();
        let result = fold_agent(None, &refs, &mapping, &FoldPolicy::default());
        let record = &result.transitions[0].1;
        assert_eq!((record.state.as_str(), record.reason.as_str()), ("Break", "Lunch"));
    }

    /// (event index, state, start, end, segment id, closed by) of each piece.
    type PieceView<'a> = (usize, &'a str, DateTime<Utc>, DateTime<Utc>, &'a str, &'a str);

    fn pieces(fold: &AgentFold) -> Vec<PieceView<'_>> {
        fold.pieces
            .iter()
            .map(|(i, p)| {
                (
                    *i,
                    p.state.as_str(),
                    p.start,
                    p.end,
                    p.segment_id.as_str(),
                    p.closed_by.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn each_transition_writes_the_pieces_of_the_segment_it_closes() {
        let last = known("Available", "10:10:00");
        let result = fold(
            Some(&last),
            &[
                status_event("e1", "10:20:00", "Break"),
                // The same state again: no transition, the segment goes on.
                status_event("e2", "10:25:00", "Break"),
                status_event("e3", "10:31:00", "Available"),
            ],
        );
        assert_eq!(
            pieces(&result),
            vec![
                (0, "Available", t("10:10:00"), t("10:15:00"), "e-0", "e1"),
                (0, "Available", t("10:15:00"), t("10:20:00"), "e-0", "e1"),
                (2, "Break", t("10:20:00"), t("10:30:00"), "e1", "e3"),
                (2, "Break", t("10:30:00"), t("10:31:00"), "e1", "e3"),
            ]
        );
        let next = result.next.unwrap();
        assert_eq!(
            next.segment,
            Some(OpenSegment {
                start: t("10:31:00"),
                id: "e3".into()
            })
        );
    }

    #[test]
    fn a_state_that_began_before_the_open_segment_starts_where_it_starts() {
        // The status says it began at 10:05 (before the contact that ended at 10:08 left).
        let last = known("Break", "10:08:00");
        let mut event = status_event("e1", "10:09:00", "Available");
        if let Some(status) = event.current.as_mut().and_then(|c| c.agent_status.as_mut()) {
            status.start_timestamp = Some(t("10:05:00"));
        }
        let result = fold(Some(&last), &[event, status_event("e2", "10:12:00", "Lunch")]);
        assert_eq!(
            pieces(&result),
            vec![(1, "Available", t("10:08:00"), t("10:12:00"), "e1", "e2")],
            "the Available segment starts where the Break's did (which is left empty), never before"
        );
    }

    #[test]
    fn logout_segments_are_not_written_and_login_opens_a_new_one() {
        let last = known("Available", "10:00:00");
        let mut logout = status_event("e1", "10:05:00", "Offline");
        logout.event_type = EventType::Logout;
        let mut login = status_event("e2", "11:00:00", "Available");
        login.event_type = EventType::Login;
        let result = fold(Some(&last), &[logout, login, status_event("e3", "11:02:00", "Break")]);
        assert_eq!(
            pieces(&result),
            vec![
                (0, "Available", t("10:00:00"), t("10:05:00"), "e-0", "e1"),
                (2, "LOGIN", t("11:00:00"), t("11:02:00"), "e2", "e3"),
            ]
        );
    }

    #[test]
    fn a_recovery_closes_the_unknown_segment() {
        let mapping = AgentStateMapping::default();
        let (_, swept) = crate::agent::silence_agent(&known("Available", "10:00:00"), Duration::seconds(300), &mapping);
        assert_eq!(
            crate::agent::silence_pieces(&swept, &mapping)
                .iter()
                .map(|p| (p.state.as_str(), p.start, p.end, p.closed_by.as_str()))
                .collect::<Vec<_>>(),
            vec![("Available", t("10:00:00"), t("10:05:00"), "silence-a-1-1795168800000")]
        );
        let result = fold(Some(&swept), &[heartbeat("e1", "10:07:00", "Available")]);
        assert_eq!(
            pieces(&result),
            vec![(
                0,
                "UNKNOWN",
                t("10:05:00"),
                t("10:07:00"),
                "silence-a-1-1795168800000",
                "e1"
            )]
        );
        let next = result.next.unwrap();
        assert_eq!(
            (next.silenced_segment, next.segment.unwrap().start),
            (None, t("10:07:00"))
        );
    }

    proptest::proptest! {
        /// Folding any sequence then replaying it (whole, or any suffix) emits nothing more,
        /// and the state never goes back in time.
        #[test]
        fn replay_is_harmless(
            steps in proptest::collection::vec((0u8..4, 0u32..6, 0usize..4), 0..12),
            cut in 0usize..14,
            repeat in proptest::option::of(0usize..12),
        ) {
            let statuses = ["Available", "Break", "Lunch", "Offline"];
            let events: Vec<AgentEvent> = steps
                .iter()
                .enumerate()
                .map(|(i, (kind, second, status))| {
                    let clock = format!("10:00:0{second}");
                    let mut e = status_event(&format!("e{i}"), &clock, statuses[*status]);
                    e.event_type = [EventType::StateChange, EventType::HeartBeat, EventType::Login, EventType::Logout][*kind as usize];
                    e
                })
                .collect();
            // Kinesis redelivers records: repeat one of them later in the batch.
            let mut events = events;
            if let Some(copy) = repeat.and_then(|i| events.get(i).cloned()) {
                events.push(copy);
            }
            let first = fold(None, &events);
            if let Some(state) = &first.next {
                let replay = fold(Some(state), &events[cut.min(events.len())..]);
                proptest::prop_assert!(replay.transitions.is_empty());
                proptest::prop_assert!(replay.next.is_none());
                for (_, r) in &first.transitions {
                    proptest::prop_assert!(r.event_time <= state.watermark.at);
                }
            }
            let mut times = first.transitions.iter().map(|(_, r)| r.event_time);
            if let Some(mut previous) = times.next() {
                for time in times {
                    proptest::prop_assert!(time >= previous);
                    previous = time;
                }
            }
        }
    }
}
