//! Derivation of the WFM state one agent event puts the agent in (feed.md, "Derivation of
//! state"): the event type for LOGIN and LOGOUT, else the primary contact, else the status.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::event::{AgentEvent, AgentStatus, Contact, EventType};
use super::mapping::{AgentStateEntry, AgentStateMapping};
use super::state::{Activity, AgentState, ContactRef};

/// The WFM state one event puts the agent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedState {
    /// WFM event id (feed `state`).
    pub state: String,
    pub reason: String,
    pub activity: Activity,
    /// When this state began.
    pub since: DateTime<Utc>,
    /// The primary contact, for contact states.
    pub contact: Option<ContactRef>,
}

impl DerivedState {
    fn from_entry(entry: AgentStateEntry, since: DateTime<Utc>, contact: Option<ContactRef>) -> Self {
        Self {
            state: entry.event_id,
            reason: entry.reason,
            activity: entry.activity,
            since,
            contact,
        }
    }
}

/// The WFM state `event` puts the agent in, given its last-known state `last` (used to tell
/// that a status was entered because the last contact left). None when the event carries
/// nothing to derive from: no CurrentAgentSnapshot, or no contact and no usable AgentStatus.
pub fn derive_state(
    event: &AgentEvent,
    last: Option<&AgentState>,
    mapping: &AgentStateMapping,
) -> Option<DerivedState> {
    let at = event.event_timestamp;
    match event.event_type {
        EventType::Login => {
            return Some(DerivedState::from_entry(
                mapping.resolve_status(AgentStateMapping::LOGIN),
                at,
                None,
            ));
        }
        EventType::Logout => {
            return Some(DerivedState::from_entry(
                mapping.resolve_status(AgentStateMapping::LOGOUT),
                at,
                None,
            ));
        }
        EventType::StateChange | EventType::HeartBeat => {}
    }
    let current = event.current.as_ref()?;
    if let Some(contact) = primary_contact(&current.contacts) {
        let entry = mapping.resolve_contact_state(&contact_state(contact));
        let since = contact.state_start_timestamp.unwrap_or(at);
        return Some(DerivedState::from_entry(entry, since, Some(contact_ref(contact))));
    }
    let status = current.agent_status.as_ref()?;
    let entry = status_entry(status, mapping)?;
    let left_contact =
        event.previous.as_ref().is_some_and(|p| !p.contacts.is_empty()) || last.is_some_and(|l| l.contact.is_some());
    let since = match status.start_timestamp {
        // The status may have started long before the contact (Available all along); the WFM
        // state only begins when the contact is gone.
        Some(start) if left_contact => start.max(at),
        Some(start) => start,
        None => at,
    };
    Some(DerivedState::from_entry(entry, since, None))
}

/// The mapping entry of an agent status: Type OFFLINE as `Offline` whatever its name, Type
/// ROUTABLE as `Available` unless the mapping names the status, otherwise by name.
fn status_entry(status: &AgentStatus, mapping: &AgentStateMapping) -> Option<AgentStateEntry> {
    let type_is = |t: &str| status.type_.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(t));
    if type_is("OFFLINE") {
        return Some(mapping.resolve_status(AgentStateMapping::OFFLINE));
    }
    if type_is("ROUTABLE") && mapping.get(&status.name).is_none() {
        return Some(mapping.resolve_status(AgentStateMapping::AVAILABLE));
    }
    // A status without a name and without a telling Type says nothing about the agent.
    (!status.name.is_empty()).then(|| mapping.resolve_status(&status.name))
}

/// `{Channel}-{InitiationMethod}-{State}` of a contact, e.g. `VOICE-INBOUND-CONNECTED`.
pub fn contact_state(contact: &Contact) -> String {
    format!("{}-{}-{}", contact.channel, contact.initiation_method, contact.state)
}

/// The contact that gives the agent's state: highest contact-state rank, then channel rank,
/// then the latest StateStartTimestamp (a known one beats an unknown one), then the highest
/// ContactId (byte order; feed.md's "highest by ..., then ContactId"), so the choice never
/// depends on the order Connect lists contacts in.
pub fn primary_contact(contacts: &[Contact]) -> Option<&Contact> {
    contacts.iter().max_by(|a, b| compare_priority(a, b))
}

fn compare_priority(a: &Contact, b: &Contact) -> Ordering {
    state_rank(&a.state)
        .cmp(&state_rank(&b.state))
        .then_with(|| channel_rank(&a.channel).cmp(&channel_rank(&b.channel)))
        .then_with(|| a.state_start_timestamp.cmp(&b.state_start_timestamp))
        .then_with(|| a.contact_id.cmp(&b.contact_id))
}

/// CONNECTED > CONNECTED_ONHOLD > CONNECTING, INCOMING, PENDING > ENDED > MISSED, ERROR,
/// REJECTED > anything else.
fn state_rank(state: &str) -> u8 {
    const RANKS: [(&[&str], u8); 5] = [
        (&["CONNECTED"], 5),
        (&["CONNECTED_ONHOLD"], 4),
        (&["CONNECTING", "INCOMING", "PENDING"], 3),
        (&["ENDED"], 2),
        (&["MISSED", "ERROR", "REJECTED"], 1),
    ];
    RANKS
        .iter()
        .find(|(states, _)| states.iter().any(|s| s.eq_ignore_ascii_case(state)))
        .map_or(0, |(_, rank)| *rank)
}

/// VOICE > CHAT > TASK > others.
fn channel_rank(channel: &str) -> u8 {
    ["TASK", "CHAT", "VOICE"]
        .iter()
        .position(|c| c.eq_ignore_ascii_case(channel))
        .map_or(0, |i| i as u8 + 1)
}

fn contact_ref(contact: &Contact) -> ContactRef {
    let queue = contact.queue.as_ref().and_then(|q| {
        let name = q.name.as_deref().filter(|n| !n.is_empty());
        name.or(q.arn.as_deref().filter(|a| !a.is_empty())).map(str::to_owned)
    });
    ContactRef {
        contact_id: contact.contact_id.clone(),
        channel: contact.channel.clone(),
        initiation_method: contact.initiation_method.clone(),
        queue,
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::tests::{ENTER_ACW, HEARTBEAT, LEAVE_ACW};
    use super::super::event::{AgentSnapshot, QueueRef, decode_agent_event};
    use super::super::state::Watermark;
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sample(json: &str) -> AgentEvent {
        decode_agent_event(json.as_bytes()).unwrap()
    }

    fn event(event_type: EventType, current: Option<AgentSnapshot>) -> AgentEvent {
        AgentEvent {
            aws_account_id: None,
            agent_arn: "arn:aws:connect:eu-west-1:1:instance/i-1/agent/a-1".into(),
            instance_arn: "arn:aws:connect:eu-west-1:1:instance/i-1".into(),
            event_id: "e-1".into(),
            event_timestamp: at("2026-11-20T10:00:00.500Z"),
            event_type,
            version: "2019-05-25".into(),
            current,
            previous: None,
        }
    }

    fn with_status(name: &str, type_: Option<&str>, start: Option<&str>) -> AgentSnapshot {
        AgentSnapshot {
            agent_status: Some(AgentStatus {
                arn: None,
                name: name.into(),
                type_: type_.map(Into::into),
                start_timestamp: start.map(at),
            }),
            ..AgentSnapshot::default()
        }
    }

    fn contact(id: &str, channel: &str, state: &str, start: Option<&str>) -> Contact {
        Contact {
            contact_id: id.into(),
            channel: channel.into(),
            initiation_method: "INBOUND".into(),
            state: state.into(),
            state_start_timestamp: start.map(at),
            ..Contact::default()
        }
    }

    fn derive(event: &AgentEvent) -> DerivedState {
        derive_state(event, None, &AgentStateMapping::default()).unwrap()
    }

    fn last_state(contact: Option<ContactRef>) -> AgentState {
        AgentState {
            stream_newest: None,
            agent_arn: "arn".into(),
            agent_id: "a-1".into(),
            instance_id: "i-1".into(),
            agent_login: None,
            state: "VOICE-INBOUND-ENDED".into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: at("2026-11-20T09:00:00Z"),
            contact,
            watermark: Watermark::new(at("2026-11-20T09:00:00Z"), "e-0"),
            last_seen: at("2026-11-20T09:00:00Z"),
            silent_since: None,
            last_silence: None,
            silenced_at: None,
            silenced_from: None,
            segment: None,
            silenced_segment: None,
            profile: None,
            excluded: false,
        }
    }

    #[test]
    fn login_and_logout_come_from_the_event_type_at_event_time() {
        // Even with a snapshot that would say otherwise.
        let snapshot = with_status("Available", Some("ROUTABLE"), Some("2026-11-20T09:00:00Z"));
        let login = derive(&event(EventType::Login, Some(snapshot.clone())));
        assert_eq!(
            login,
            DerivedState {
                state: "LOGIN".into(),
                reason: "Open".into(),
                activity: Activity::Open,
                since: at("2026-11-20T10:00:00.500Z"),
                contact: None
            }
        );
        let logout = derive(&event(EventType::Logout, None));
        assert_eq!(
            (
                logout.state.as_str(),
                logout.reason.as_str(),
                logout.activity,
                logout.since
            ),
            ("LOGOUT", "Logout", Activity::Closed, at("2026-11-20T10:00:00.500Z"))
        );
    }

    #[test]
    fn nothing_to_derive_without_snapshot_or_status() {
        let m = AgentStateMapping::default();
        assert_eq!(derive_state(&event(EventType::StateChange, None), None, &m), None);
        assert_eq!(derive_state(&event(EventType::HeartBeat, None), None, &m), None);
        let empty = AgentSnapshot::default();
        assert_eq!(
            derive_state(&event(EventType::StateChange, Some(empty)), None, &m),
            None
        );
        let nameless = with_status("", None, None);
        assert_eq!(
            derive_state(&event(EventType::StateChange, Some(nameless)), None, &m),
            None
        );
    }

    #[test]
    fn enter_acw_sample_gives_the_ended_contact_state() {
        let derived = derive(&sample(ENTER_ACW));
        assert_eq!(derived.state, "VOICE-OUTBOUND-ENDED");
        assert_eq!((derived.reason.as_str(), derived.activity), ("Open", Activity::Open));
        assert_eq!(derived.since, at("2019-05-25T18:55:27.017Z"));
        assert_eq!(
            derived.contact,
            Some(ContactRef {
                contact_id: "ContactId-1".into(),
                channel: "VOICE".into(),
                initiation_method: "OUTBOUND".into(),
                queue: Some("BasicQueue".into()),
            })
        );
    }

    #[test]
    fn leave_acw_sample_gives_available_since_the_event() {
        // Status start 18:43:59 is before the contact left at 18:55:32.022.
        let derived = derive(&sample(LEAVE_ACW));
        assert_eq!(derived.state, "Available");
        assert_eq!((derived.reason.as_str(), derived.activity), ("Open", Activity::Open));
        assert_eq!(derived.since, at("2019-05-25T18:55:32.022Z"));
        assert_eq!(derived.contact, None);
    }

    #[test]
    fn heartbeat_sample_gives_its_status_since_status_start() {
        let derived = derive(&sample(HEARTBEAT));
        assert_eq!(derived.state, "Available");
        assert_eq!(derived.since, at("2019-08-13T20:52:30.704Z"));
    }

    #[test]
    fn status_since_is_the_status_start_without_a_contact_leaving() {
        let ev = event(
            EventType::StateChange,
            Some(with_status("Break", Some("CUSTOM"), Some("2026-11-20T09:59:00Z"))),
        );
        assert_eq!(derive(&ev).since, at("2026-11-20T09:59:00Z"));
        // No StartTimestamp: the event time.
        let ev = event(EventType::StateChange, Some(with_status("Break", None, None)));
        assert_eq!(derive(&ev).since, at("2026-11-20T10:00:00.500Z"));
    }

    #[test]
    fn status_since_after_a_contact_left_is_the_later_of_start_and_event() {
        let m = AgentStateMapping::default();
        let early = "2026-11-20T09:00:00Z";
        // The last-known state had a contact, the event's previous snapshot says nothing.
        let ev = event(
            EventType::StateChange,
            Some(with_status("Available", None, Some(early))),
        );
        let held = ContactRef {
            contact_id: "c".into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            queue: None,
        };
        let last = last_state(Some(held));
        assert_eq!(derive_state(&ev, Some(&last), &m).unwrap().since, ev.event_timestamp);
        assert_eq!(derive_state(&ev, Some(&last_state(None)), &m).unwrap().since, at(early));
        // The previous snapshot had a contact.
        let mut ev2 = ev.clone();
        ev2.previous = Some(AgentSnapshot {
            contacts: vec![contact("c", "VOICE", "ENDED", None)],
            ..AgentSnapshot::default()
        });
        assert_eq!(derive_state(&ev2, None, &m).unwrap().since, ev.event_timestamp);
        // A status started after the event time (the agent's next status) keeps its start.
        let late = "2026-11-20T10:00:01Z";
        ev2.current = Some(with_status("Break", None, Some(late)));
        assert_eq!(derive_state(&ev2, None, &m).unwrap().since, at(late));
    }

    #[test]
    fn offline_type_maps_like_offline_whatever_its_name() {
        let ev = event(
            EventType::StateChange,
            Some(with_status("Gone home", Some("OFFLINE"), None)),
        );
        let derived = derive(&ev);
        assert_eq!(
            (derived.state.as_str(), derived.reason.as_str(), derived.activity),
            ("Offline", "Logout", Activity::Closed)
        );
        // Even when the mapping names that status.
        let mut m = AgentStateMapping::default();
        m.insert(AgentStateEntry::new("Gone home", "Home", "Home", Activity::Closed));
        assert_eq!(derive_state(&ev, None, &m).unwrap().state, "Offline");
    }

    #[test]
    fn routable_type_maps_like_available_unless_named() {
        let ev = event(
            EventType::StateChange,
            Some(with_status("Ready", Some("ROUTABLE"), None)),
        );
        let derived = derive(&ev);
        assert_eq!(
            (derived.state.as_str(), derived.reason.as_str(), derived.activity),
            ("Available", "Open", Activity::Open)
        );
        let mut m = AgentStateMapping::default();
        m.insert(AgentStateEntry::new("Ready", "Ready", "Waiting", Activity::Open));
        let named = derive_state(&ev, None, &m).unwrap();
        assert_eq!((named.state.as_str(), named.reason.as_str()), ("Ready", "Waiting"));
        // Without a Type the name alone decides: an unmapped name is a custom status.
        let untyped = event(EventType::StateChange, Some(with_status("Ready", None, None)));
        assert_eq!(derive(&untyped).activity, Activity::Closed);
    }

    #[test]
    fn custom_status_defaults_and_mapped_names() {
        let ev = event(
            EventType::StateChange,
            Some(with_status("Training", Some("CUSTOM"), None)),
        );
        let derived = derive(&ev);
        assert_eq!(
            (derived.state.as_str(), derived.reason.as_str(), derived.activity),
            ("Training", "Training", Activity::Closed)
        );
        let ev = event(EventType::StateChange, Some(with_status("Break", Some("CUSTOM"), None)));
        let derived = derive(&ev);
        assert_eq!(
            (derived.state.as_str(), derived.reason.as_str(), derived.activity),
            ("Break", "Break", Activity::Closed)
        );
        let mut m = AgentStateMapping::default();
        m.merge_json(
            serde_json::json!([{"name": "Lunch", "event_id": "Break", "reason": "Lunch", "activity": "Closed"}]),
        )
        .unwrap();
        let ev = event(EventType::StateChange, Some(with_status("Lunch", Some("CUSTOM"), None)));
        let derived = derive_state(&ev, None, &m).unwrap();
        assert_eq!((derived.state.as_str(), derived.reason.as_str()), ("Break", "Lunch"));
    }

    #[test]
    fn contact_states_use_the_mapping_or_default_open() {
        let snapshot = |c: Contact| AgentSnapshot {
            contacts: vec![c],
            ..with_status("Available", Some("ROUTABLE"), None)
        };
        let mut task = contact("t", "TASK", "PAUSED", Some("2026-11-20T09:58:00Z"));
        task.initiation_method = "API".into();
        let derived = derive(&event(EventType::StateChange, Some(snapshot(task))));
        assert_eq!(
            (
                derived.state.as_str(),
                derived.reason.as_str(),
                derived.activity,
                derived.since
            ),
            ("TASK-API-PAUSED", "Open", Activity::Open, at("2026-11-20T09:58:00Z"))
        );
        let mut m = AgentStateMapping::default();
        m.insert(AgentStateEntry::new(
            "VOICE-INBOUND-CONNECTED",
            "ONCALL",
            "Call",
            Activity::Open,
        ));
        let voice = contact("v", "VOICE", "CONNECTED", None);
        let ev = event(EventType::StateChange, Some(snapshot(voice)));
        let derived = derive_state(&ev, None, &m).unwrap();
        assert_eq!((derived.state.as_str(), derived.reason.as_str()), ("ONCALL", "Call"));
        assert_eq!(
            derived.since, ev.event_timestamp,
            "no StateStartTimestamp: the event time"
        );
    }

    #[test]
    fn contact_queue_is_the_name_else_the_arn() {
        let mut c = contact("c", "VOICE", "CONNECTED", None);
        c.queue = Some(QueueRef {
            arn: Some("arn:q".into()),
            name: None,
        });
        assert_eq!(contact_ref(&c).queue.as_deref(), Some("arn:q"));
        c.queue = Some(QueueRef {
            arn: Some("arn:q".into()),
            name: Some("Sales".into()),
        });
        assert_eq!(contact_ref(&c).queue.as_deref(), Some("Sales"));
        c.queue = None;
        assert_eq!(contact_ref(&c).queue, None);
    }

    fn primary_id(contacts: Vec<Contact>) -> String {
        // The result must not depend on the listing order.
        let mut reversed = contacts.clone();
        reversed.reverse();
        let forward = primary_contact(&contacts).unwrap().contact_id.clone();
        assert_eq!(primary_contact(&reversed).unwrap().contact_id, forward);
        forward
    }

    #[test]
    fn primary_contact_by_state_rank() {
        let ranked = [
            "CONNECTED",
            "CONNECTED_ONHOLD",
            "CONNECTING",
            "ENDED",
            "MISSED",
            "PAUSED",
        ];
        for pair in ranked.windows(2) {
            // The higher state wins even on a lower channel and with an older start.
            let high = contact("high", "TASK", pair[0], Some("2026-11-20T09:00:00Z"));
            let low = contact("low", "VOICE", pair[1], Some("2026-11-20T09:59:00Z"));
            assert_eq!(primary_id(vec![low, high]), "high", "{} > {}", pair[0], pair[1]);
        }
        for (same, other) in [
            ("INCOMING", "CONNECTING"),
            ("PENDING", "CONNECTING"),
            ("ERROR", "MISSED"),
            ("REJECTED", "MISSED"),
        ] {
            // Equal rank: the channel decides.
            let a = contact("a", "VOICE", same, None);
            let b = contact("b", "CHAT", other, None);
            assert_eq!(primary_id(vec![b.clone(), a.clone()]), "a", "{same} = {other}");
            let a = contact("a", "CHAT", same, None);
            let b = contact("b", "VOICE", other, None);
            assert_eq!(primary_id(vec![a, b]), "b", "{same} = {other}");
        }
        assert_eq!(
            primary_id(vec![
                contact("a", "VOICE", "ENDED", None),
                contact("b", "CHAT", "REJECTED", None)
            ]),
            "a"
        );
    }

    #[test]
    fn primary_contact_by_channel_then_latest_start_then_highest_id() {
        let start = Some("2026-11-20T09:00:00Z");
        let later = Some("2026-11-20T09:30:00Z");
        for pair in [["VOICE", "CHAT"], ["CHAT", "TASK"], ["TASK", "EMAIL"]] {
            let high = contact("high", pair[0], "CONNECTED", start);
            let low = contact("low", pair[1], "CONNECTED", later);
            assert_eq!(primary_id(vec![low, high]), "high", "{} > {}", pair[0], pair[1]);
        }
        let older = contact("a-older", "CHAT", "CONNECTED", start);
        let newer = contact("z-newer", "CHAT", "CONNECTED", later);
        assert_eq!(primary_id(vec![older.clone(), newer]), "z-newer");
        let unknown = contact("a-unknown", "CHAT", "CONNECTED", None);
        assert_eq!(
            primary_id(vec![unknown, older]),
            "a-older",
            "a known start beats an unknown one"
        );
    }

    #[test]
    fn primary_contact_tie_goes_to_the_highest_contact_id_in_any_order() {
        // feed.md: "highest by ... then ContactId" (events/generate.py: max(..., ContactId)).
        let start = Some("2026-11-20T09:00:00Z");
        let b = contact("b", "CHAT", "CONNECTED", start);
        let a = contact("a", "CHAT", "CONNECTED", start);
        assert_eq!(primary_id(vec![b.clone(), a.clone()]), "b");
        assert_eq!(primary_id(vec![a, b]), "b");
    }

    #[test]
    fn primary_contact_drives_the_state() {
        let mut chat = contact("chat-1", "CHAT", "CONNECTED", Some("2026-11-20T09:50:00Z"));
        chat.initiation_method = "API".into();
        let acw = contact("voice-1", "VOICE", "ENDED", Some("2026-11-20T09:55:00Z"));
        let snapshot = AgentSnapshot {
            contacts: vec![acw, chat],
            ..AgentSnapshot::default()
        };
        let derived = derive(&event(EventType::StateChange, Some(snapshot)));
        assert_eq!(derived.state, "CHAT-API-CONNECTED");
        assert_eq!(derived.since, at("2026-11-20T09:50:00Z"));
        assert_eq!(derived.contact.unwrap().contact_id, "chat-1");
    }
}
