//! Who the agents and queues are (feed.md `agent_profile` and `queue_profile`), and which agents
//! a WFM gets (the mapping's `agents` section, [`AgentFilter`]).
//!
//! Every agent event carries the agent's `Configuration`. Its profile is written when first
//! seen and whenever it changes: the agent's stored row keeps a 64-bit fingerprint of the last
//! profile written ([`ProfileView::fingerprint`]), so the same configuration again costs one
//! comparison, and no request. The fingerprint does not depend on the order of queues,
//! hierarchy levels or proficiencies.

use std::hash::Hasher as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::{Lenient, LenientText, QueueInfo, arn_id};
use super::event::{AgentConfiguration, AgentEvent};
use crate::feed::{FeedRecord, SCHEMA};
use crate::timefmt::serde_feed_time;

/// What a deployment decides about profiles and agents: whether names are written, and which
/// agents the WFM gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPolicy {
    /// First and last names in `agent_profile` (personal data): only when the deployment opts in
    /// (`AGENT_NAMES=include`, CLI `--agent-names`); null otherwise.
    pub agent_names: bool,
    /// The agents that get records at all.
    pub filter: AgentFilter,
}

/// `{ "id", "name" }` of a routing profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdName {
    pub id: String,
    pub name: Option<String>,
}

/// One inbound queue of the routing profile, per channel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileQueue {
    pub queue_id: String,
    pub name: Option<String>,
    pub channel: Option<String>,
}

/// `{ "queue_id", "name" }` of the default outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueIdName {
    pub queue_id: String,
    pub name: Option<String>,
}

/// The agent's group at one hierarchy level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HierarchyLevel {
    pub level: u8,
    pub id: String,
    pub name: Option<String>,
}

/// One proficiency, as the event gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProficiencyRecord {
    pub name: Option<String>,
    pub value: Option<String>,
    pub level: Option<serde_json::Number>,
}

/// The `agent_profile` record of feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfileRecord {
    pub kind: String,
    pub schema: u32,
    pub instance_id: String,
    pub agent_id: String,
    pub agent_login: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub routing_profile: Option<IdName>,
    /// Sorted by queue id, then channel.
    pub queues: Vec<ProfileQueue>,
    pub default_outbound_queue: Option<QueueIdName>,
    /// Levels 1 to 5 present, top level first.
    pub hierarchy: Vec<HierarchyLevel>,
    pub proficiencies: Vec<ProficiencyRecord>,
    /// EventTimestamp of the event that showed it.
    #[serde(with = "serde_feed_time")]
    pub as_of: DateTime<Utc>,
    /// EventId of that event.
    pub event_id: String,
    /// The channels of the default outbound queue: not in the record (feed.md), but what its
    /// `queue_profile` is judged by.
    #[serde(skip)]
    pub outbound_channels: Vec<String>,
}

impl AgentProfileRecord {
    pub const KIND: &'static str = "agent_profile";

    /// Every queue the profile names (inbound and default outbound), with the channels it shows
    /// for each: what `queue_profile` is judged by.
    pub fn queue_sightings(&self) -> Vec<QueueSighting> {
        let mut sightings: Vec<QueueSighting> = Vec::new();
        let mut see = |queue_id: &str, name: Option<&String>, channel: Option<&String>| {
            let index = match sightings.iter().position(|s| s.queue_id == queue_id) {
                Some(index) => index,
                None => {
                    sightings.push(QueueSighting {
                        queue_id: queue_id.to_owned(),
                        name: None,
                        channels: Vec::new(),
                    });
                    sightings.len() - 1
                }
            };
            let sighting = &mut sightings[index];
            if sighting.name.is_none() {
                sighting.name = name.cloned();
            }
            if let Some(channel) = channel
                && !sighting.channels.contains(channel)
            {
                sighting.channels.push(channel.clone());
            }
        };
        for queue in &self.queues {
            see(&queue.queue_id, queue.name.as_ref(), queue.channel.as_ref());
        }
        if let Some(outbound) = &self.default_outbound_queue {
            see(&outbound.queue_id, outbound.name.as_ref(), None);
            for channel in &self.outbound_channels {
                see(&outbound.queue_id, None, Some(channel));
            }
        }
        for sighting in &mut sightings {
            sighting.channels.sort();
        }
        sightings.sort_by(|a, b| a.queue_id.cmp(&b.queue_id));
        sightings
    }
}

impl FeedRecord for AgentProfileRecord {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.as_of)
    }
}

/// A queue as one agent profile shows it: its id, name and the channels routed to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSighting {
    pub queue_id: String,
    pub name: Option<String>,
    /// Sorted.
    pub channels: Vec<String>,
}

/// The `queue_profile` record of feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueProfileRecord {
    pub kind: String,
    pub schema: u32,
    pub instance_id: String,
    pub queue_id: String,
    pub name: Option<String>,
    /// Every channel the queue was seen with, sorted.
    pub channels: Vec<String>,
    #[serde(with = "serde_feed_time")]
    pub as_of: DateTime<Utc>,
    pub event_id: String,
}

impl QueueProfileRecord {
    pub const KIND: &'static str = "queue_profile";

    /// The queue's profile after `sighting` (shown by `profile`), given the one last written
    /// (`known`); None when nothing changed. A queue first seen, seen under a new name, or with
    /// a channel not seen before gets a new record; its channels are the union of all seen, and
    /// a sighting without a name keeps the known one.
    pub fn after(
        known: Option<&QueueProfileRecord>,
        sighting: &QueueSighting,
        profile: &AgentProfileRecord,
    ) -> Option<QueueProfileRecord> {
        let mut channels = known.map(|k| k.channels.clone()).unwrap_or_default();
        for channel in &sighting.channels {
            if !channels.contains(channel) {
                channels.push(channel.clone());
            }
        }
        channels.sort();
        let name = sighting.name.clone().or_else(|| known.and_then(|k| k.name.clone()));
        if let Some(known) = known
            && known.name == name
            && known.channels == channels
        {
            return None;
        }
        Some(QueueProfileRecord {
            kind: Self::KIND.to_owned(),
            schema: SCHEMA,
            instance_id: profile.instance_id.clone(),
            queue_id: sighting.queue_id.clone(),
            name,
            channels,
            as_of: profile.as_of,
            event_id: profile.event_id.clone(),
        })
    }
}

impl FeedRecord for QueueProfileRecord {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.as_of)
    }
}

/// An agent's profile as one event's configuration shows it, borrowed: what the fingerprint is
/// taken of and the record is built from, so the two never disagree.
#[derive(Debug)]
pub struct ProfileView<'a> {
    login: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    routing_profile: Option<(&'a str, Option<&'a str>)>,
    /// (queue id, name, channel), sorted and without repeats.
    queues: Vec<(&'a str, Option<&'a str>, Option<&'a str>)>,
    outbound: Option<(&'a str, Option<&'a str>)>,
    outbound_channels: Vec<&'a str>,
    /// (level, group id, name), top level first.
    hierarchy: Vec<(u8, &'a str, Option<&'a str>)>,
    /// As the event gives them.
    proficiencies: Vec<(Option<&'a str>, Option<&'a str>, Option<&'a serde_json::Number>)>,
}

impl<'a> ProfileView<'a> {
    /// The profile `config` shows; names only when `agent_names`.
    pub fn of(login: Option<&'a str>, config: &'a AgentConfiguration, agent_names: bool) -> Self {
        let routing = config.routing_profile.get();
        let mut queues = Vec::new();
        for queue in routing
            .into_iter()
            .flat_map(|r| &r.inbound_queues.0)
            .filter_map(Lenient::get)
        {
            let Some(id) = queue_id(queue) else { continue };
            let name = queue.name.get();
            let mut any = false;
            for channel in queue.channels.0.iter().filter_map(LenientText::get) {
                queues.push((id, name, Some(channel)));
                any = true;
            }
            if !any {
                queues.push((id, name, None));
            }
        }
        queues.sort_unstable();
        queues.dedup();
        let names = |text: &'a LenientText| if agent_names { text.get() } else { None };
        Self {
            login,
            first_name: names(&config.first_name),
            last_name: names(&config.last_name),
            routing_profile: routing.and_then(|r| r.arn.get().map(|arn| (arn_id(arn), r.name.get()))),
            queues,
            outbound: routing
                .and_then(|r| r.default_outbound_queue.get())
                .and_then(|q| queue_id(q).map(|id| (id, q.name.get()))),
            outbound_channels: {
                let mut channels: Vec<&str> = routing
                    .and_then(|r| r.default_outbound_queue.get())
                    .into_iter()
                    .flat_map(|q| q.channels.0.iter().filter_map(LenientText::get))
                    .collect();
                channels.sort_unstable();
                channels.dedup();
                channels
            },
            hierarchy: config
                .agent_hierarchy_groups
                .get()
                .into_iter()
                .flat_map(|groups| groups.levels())
                .filter_map(|(level, group)| group.arn.get().map(|arn| (level, arn_id(arn), group.name.get())))
                .collect(),
            proficiencies: config
                .proficiencies
                .0
                .iter()
                .filter_map(Lenient::get)
                .map(|p| (p.name.get(), p.value.get(), p.level.0.as_ref()))
                .collect(),
        }
    }

    /// A 64-bit FNV-1a fingerprint of the profile's content (everything but `as_of` and
    /// `event_id`); proficiencies are taken in sorted order, so a reordering changes nothing.
    /// Stable across builds: it hashes bytes written here, never `std`'s `Hash`.
    pub fn fingerprint(&self) -> u64 {
        let mut h = fnv::FnvHasher::default();
        let mut text = |part: Option<&str>| match part {
            Some(text) => {
                h.write(&[1]);
                h.write(text.as_bytes());
                h.write(&[0xff]);
            }
            None => h.write(&[0]),
        };
        text(self.login);
        text(self.first_name);
        text(self.last_name);
        text(self.routing_profile.map(|(id, _)| id));
        text(self.routing_profile.and_then(|(_, name)| name));
        text(Some("queues"));
        for (id, name, channel) in &self.queues {
            text(Some(id));
            text(*name);
            text(*channel);
        }
        text(Some("outbound"));
        text(self.outbound.map(|(id, _)| id));
        text(self.outbound.and_then(|(_, name)| name));
        for channel in &self.outbound_channels {
            text(Some(channel));
        }
        text(Some("hierarchy"));
        for (level, id, name) in &self.hierarchy {
            text(Some(&level.to_string()));
            text(Some(id));
            text(*name);
        }
        text(Some("proficiencies"));
        let mut proficiencies = self.proficiencies.clone();
        proficiencies
            .sort_by(|a, b| (a.0, a.1, a.2.map(|n| n.to_string())).cmp(&(b.0, b.1, b.2.map(|n| n.to_string()))));
        for (name, value, level) in proficiencies {
            text(name);
            text(value);
            text(level.map(|n| n.to_string()).as_deref());
        }
        h.finish()
    }

    /// The record of this profile, shown by `event`.
    pub fn record(&self, event: &AgentEvent) -> AgentProfileRecord {
        let owned = |text: Option<&str>| text.map(str::to_owned);
        AgentProfileRecord {
            kind: AgentProfileRecord::KIND.to_owned(),
            schema: SCHEMA,
            instance_id: event.instance_id().to_owned(),
            agent_id: event.agent_id().to_owned(),
            agent_login: owned(self.login),
            first_name: owned(self.first_name),
            last_name: owned(self.last_name),
            routing_profile: self.routing_profile.map(|(id, name)| IdName {
                id: id.to_owned(),
                name: owned(name),
            }),
            queues: self
                .queues
                .iter()
                .map(|(id, name, channel)| ProfileQueue {
                    queue_id: (*id).to_owned(),
                    name: owned(*name),
                    channel: owned(*channel),
                })
                .collect(),
            default_outbound_queue: self.outbound.map(|(id, name)| QueueIdName {
                queue_id: id.to_owned(),
                name: owned(name),
            }),
            hierarchy: self
                .hierarchy
                .iter()
                .map(|(level, id, name)| HierarchyLevel {
                    level: *level,
                    id: (*id).to_owned(),
                    name: owned(*name),
                })
                .collect(),
            proficiencies: self
                .proficiencies
                .iter()
                .map(|(name, value, level)| ProficiencyRecord {
                    name: owned(*name),
                    value: owned(*value),
                    level: level.cloned(),
                })
                .collect(),
            as_of: event.event_timestamp,
            event_id: event.event_id.clone(),
            outbound_channels: self.outbound_channels.iter().map(|c| (*c).to_owned()).collect(),
        }
    }
}

fn queue_id(queue: &QueueInfo) -> Option<&str> {
    queue.arn.get().map(arn_id)
}

/// Which agents a WFM gets (the mapping's `agents` section): agents in any of the hierarchy
/// groups or routing profiles named; every agent when both lists are empty (the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFilter {
    /// Groups by id or name, at a level (1 to 5) or at any level.
    #[serde(default)]
    pub hierarchy_groups: Vec<GroupRule>,
    /// Routing profiles by id or name.
    #[serde(default)]
    pub routing_profiles: Vec<String>,
}

/// One hierarchy group of the filter: `{ "level": 2, "name": "Team Blue" }` or `{ "id": "..." }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    #[serde(default)]
    pub level: Option<u8>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl AgentFilter {
    /// True when the filter takes every agent.
    pub fn is_everyone(&self) -> bool {
        self.hierarchy_groups.is_empty() && self.routing_profiles.is_empty()
    }

    /// The problems of a filter as written, each naming its place (`agents.hierarchy_groups[1]`).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, rule) in self.hierarchy_groups.iter().enumerate() {
            let place = format!("agents.hierarchy_groups[{i}]");
            match (&rule.id, &rule.name) {
                (Some(_), Some(_)) => problems.push(format!("{place}: give `id` or `name`, not both")),
                (None, None) => problems.push(format!("{place}: needs `id` or `name`")),
                (Some(text), None) | (None, Some(text)) if text.trim().is_empty() => {
                    problems.push(format!("{place}: empty `id` or `name`"))
                }
                _ => {}
            }
            if rule.level.is_some_and(|level| !(1..=5).contains(&level)) {
                problems.push(format!("{place}: `level` must be 1 to 5"));
            }
        }
        for (i, profile) in self.routing_profiles.iter().enumerate() {
            if profile.trim().is_empty() {
                problems.push(format!("agents.routing_profiles[{i}]: empty"));
            }
        }
        problems
    }

    /// Whether the agent `config` describes gets records: Some(true) or Some(false); None when
    /// the event carries no configuration to judge by (the agent's last judgement stands).
    pub fn judge(&self, config: Option<&AgentConfiguration>) -> Option<bool> {
        if self.is_everyone() {
            return Some(true);
        }
        let config = config?;
        let routing = config.routing_profile.get();
        let groups = config.agent_hierarchy_groups.get();
        if routing.is_none() && groups.is_none() {
            return None;
        }
        let same_name = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let by_profile = routing.is_some_and(|r| {
            let id = r.arn.get().map(arn_id);
            let name = r.name.get();
            self.routing_profiles
                .iter()
                .any(|wanted| id == Some(wanted.trim()) || name.is_some_and(|n| same_name(n, wanted)))
        });
        let by_group = groups.is_some_and(|g| {
            g.levels().any(|(level, group)| {
                let id = group.arn.get().map(arn_id);
                let name = group.name.get();
                self.hierarchy_groups.iter().any(|rule| {
                    rule.level.is_none_or(|l| l == level)
                        && (rule.id.as_deref().is_some_and(|want| id == Some(want.trim()))
                            || rule
                                .name
                                .as_deref()
                                .is_some_and(|want| name.is_some_and(|n| same_name(n, want))))
                })
            })
        });
        Some(by_profile || by_group)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::agent::decode_agent_event;

    fn configuration(value: serde_json::Value) -> AgentConfiguration {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({
            "Username": "jdoe",
            "FirstName": "Jane",
            "LastName": "Doe",
            "RoutingProfile": {
                "ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/routing-profile/rp-1",
                "Name": "Sales",
                "InboundQueues": [
                    {"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/queue/q-2", "Name": "Billing", "Channels": ["VOICE"]},
                    {"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/queue/q-1", "Name": "Sales", "Channels": ["VOICE", "CHAT"]}
                ],
                "DefaultOutboundQueue": {"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/queue/q-9", "Name": "Outbound", "Channels": ["VOICE"]}
            },
            "AgentHierarchyGroups": {
                "Level1": {"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/agent-group/g-1", "Name": "Lisbon"},
                "Level2": {"ARN": "arn:aws:connect:eu-west-1:1:instance/i-1/agent-group/g-2", "Name": "Team Blue"}
            },
            "Proficiencies": [{"Name": "Technology", "Value": "Kinesis", "Level": 3.0}, {"Name": "Location", "Value": "WA", "Level": 1.0}]
        })
    }

    fn fingerprint(value: serde_json::Value) -> u64 {
        let config = configuration(value);
        ProfileView::of(Some("jdoe"), &config, true).fingerprint()
    }

    #[test]
    fn the_order_of_queues_levels_and_proficiencies_does_not_matter() {
        let mut reordered = base();
        let queues = reordered["RoutingProfile"]["InboundQueues"].as_array_mut().unwrap();
        queues.reverse();
        queues[0]["Channels"] = json!(["CHAT", "VOICE"]);
        reordered["Proficiencies"].as_array_mut().unwrap().reverse();
        let groups = reordered["AgentHierarchyGroups"].take();
        // Levels in another key order: a JSON object's order is the writer's.
        reordered["AgentHierarchyGroups"] = json!({"Level2": groups["Level2"], "Level1": groups["Level1"]});
        assert_eq!(fingerprint(reordered), fingerprint(base()));
    }

    #[test]
    fn a_new_queue_a_renamed_queue_a_new_group_or_a_proficiency_change_each_change_the_fingerprint() {
        let original = fingerprint(base());
        let mut changes = Vec::new();
        let mut new_queue = base();
        new_queue["RoutingProfile"]["InboundQueues"]
            .as_array_mut()
            .unwrap()
            .push(json!({"ARN": "a/queue/q-3", "Name": "Support", "Channels": ["TASK"]}));
        changes.push(new_queue);
        let mut renamed = base();
        renamed["RoutingProfile"]["InboundQueues"][0]["Name"] = json!("Billing EU");
        changes.push(renamed);
        let mut new_channel = base();
        new_channel["RoutingProfile"]["InboundQueues"][0]["Channels"] = json!(["VOICE", "CHAT"]);
        changes.push(new_channel);
        let mut new_group = base();
        new_group["AgentHierarchyGroups"]["Level3"] = json!({"ARN": "a/agent-group/g-3", "Name": "Night"});
        changes.push(new_group);
        let mut moved = base();
        moved["AgentHierarchyGroups"]["Level2"] = json!({"ARN": "a/agent-group/g-7", "Name": "Team Red"});
        changes.push(moved);
        let mut proficiency = base();
        proficiency["Proficiencies"][0]["Level"] = json!(4.0);
        changes.push(proficiency);
        let mut routing = base();
        routing["RoutingProfile"]["ARN"] = json!("a/routing-profile/rp-2");
        changes.push(routing);
        for (i, changed) in changes.into_iter().enumerate() {
            assert_ne!(fingerprint(changed), original, "change {i}");
        }
    }

    #[test]
    fn names_count_only_when_written() {
        let config = configuration(base());
        let mut renamed = base();
        renamed["FirstName"] = json!("Janet");
        let renamed = configuration(renamed);
        let without = |c| ProfileView::of(Some("jdoe"), c, false).fingerprint();
        assert_eq!(without(&config), without(&renamed));
        let with = |c| ProfileView::of(Some("jdoe"), c, true).fingerprint();
        assert_ne!(with(&config), with(&renamed));
        let record = ProfileView::of(Some("jdoe"), &config, false).record(&sample_event());
        assert_eq!((record.first_name, record.last_name), (None, None));
    }

    fn sample_event() -> AgentEvent {
        decode_agent_event(crate::agent::event::tests::ENTER_ACW.as_bytes()).unwrap()
    }

    #[test]
    fn the_record_follows_feed_md() {
        let config = configuration(base());
        let event = sample_event();
        let record = ProfileView::of(event.login(), &config, true).record(&event);
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(
            value,
            json!({
                "kind": "agent_profile", "schema": 1,
                "instance_id": "aaaaaaaa-bbbb-cccc-dddd-111111111111", "agent_id": "agent-ARN",
                "agent_login": "(Removed)", "first_name": "Jane", "last_name": "Doe",
                "routing_profile": {"id": "rp-1", "name": "Sales"},
                "queues": [
                    {"queue_id": "q-1", "name": "Sales", "channel": "CHAT"},
                    {"queue_id": "q-1", "name": "Sales", "channel": "VOICE"},
                    {"queue_id": "q-2", "name": "Billing", "channel": "VOICE"}
                ],
                "default_outbound_queue": {"queue_id": "q-9", "name": "Outbound"},
                "hierarchy": [
                    {"level": 1, "id": "g-1", "name": "Lisbon"},
                    {"level": 2, "id": "g-2", "name": "Team Blue"}
                ],
                "proficiencies": [
                    {"name": "Technology", "value": "Kinesis", "level": 3.0},
                    {"name": "Location", "value": "WA", "level": 1.0}
                ],
                "as_of": "2019-05-25T18:55:27.017Z", "event_id": "EventId-1"
            })
        );
        let sightings = record.queue_sightings();
        let ids: Vec<(&str, Vec<String>)> = sightings
            .iter()
            .map(|s| (s.queue_id.as_str(), s.channels.clone()))
            .collect();
        assert_eq!(
            ids,
            [
                ("q-1", vec!["CHAT".to_owned(), "VOICE".to_owned()]),
                ("q-2", vec!["VOICE".to_owned()]),
                ("q-9", vec!["VOICE".to_owned()])
            ]
        );
    }

    #[test]
    fn a_queue_profile_is_new_on_first_sight_a_new_name_or_a_new_channel_only() {
        let config = configuration(base());
        let event = sample_event();
        let profile = ProfileView::of(event.login(), &config, false).record(&event);
        let sighting = &profile.queue_sightings()[0];
        let first = QueueProfileRecord::after(None, sighting, &profile).expect("first sight");
        assert_eq!(first.channels, ["CHAT", "VOICE"]);
        assert_eq!(QueueProfileRecord::after(Some(&first), sighting, &profile), None);
        // Another agent shows the queue with one channel only: nothing new.
        let fewer = QueueSighting {
            channels: vec!["VOICE".into()],
            ..sighting.clone()
        };
        assert_eq!(QueueProfileRecord::after(Some(&first), &fewer, &profile), None);
        let task = QueueSighting {
            channels: vec!["TASK".into()],
            ..sighting.clone()
        };
        let more = QueueProfileRecord::after(Some(&first), &task, &profile).expect("a new channel");
        assert_eq!(more.channels, ["CHAT", "TASK", "VOICE"]);
        let renamed = QueueSighting {
            name: Some("Sales EU".into()),
            ..sighting.clone()
        };
        assert_eq!(
            QueueProfileRecord::after(Some(&first), &renamed, &profile)
                .unwrap()
                .name
                .as_deref(),
            Some("Sales EU")
        );
    }

    #[test]
    fn the_filter_takes_agents_by_group_or_routing_profile() {
        let config = configuration(base());
        let filter = |value: serde_json::Value| serde_json::from_value::<AgentFilter>(value).unwrap();
        assert_eq!(AgentFilter::default().judge(None), Some(true));
        assert_eq!(
            filter(json!({"routing_profiles": ["sales"]})).judge(Some(&config)),
            Some(true)
        );
        assert_eq!(
            filter(json!({"routing_profiles": ["rp-1"]})).judge(Some(&config)),
            Some(true)
        );
        assert_eq!(
            filter(json!({"routing_profiles": ["Support"]})).judge(Some(&config)),
            Some(false)
        );
        let team = filter(json!({"hierarchy_groups": [{"level": 2, "name": "Team Blue"}]}));
        assert_eq!(team.judge(Some(&config)), Some(true));
        let wrong_level = filter(json!({"hierarchy_groups": [{"level": 1, "name": "Team Blue"}]}));
        assert_eq!(wrong_level.judge(Some(&config)), Some(false));
        let any_level = filter(json!({"hierarchy_groups": [{"id": "g-1"}], "routing_profiles": ["Support"]}));
        assert_eq!(any_level.judge(Some(&config)), Some(true));
        // Nothing to judge by: the last judgement stands.
        assert_eq!(team.judge(None), None);
        assert_eq!(team.judge(Some(&configuration(json!({"Username": "jdoe"})))), None);
    }

    #[test]
    fn a_filter_rule_names_its_problems() {
        let filter: AgentFilter = serde_json::from_value(json!({
            "hierarchy_groups": [{"id": "g", "name": "n"}, {"level": 7, "name": "x"}, {}],
            "routing_profiles": [" "]
        }))
        .unwrap();
        assert_eq!(
            filter.problems(),
            [
                "agents.hierarchy_groups[0]: give `id` or `name`, not both",
                "agents.hierarchy_groups[1]: `level` must be 1 to 5",
                "agents.hierarchy_groups[2]: needs `id` or `name`",
                "agents.routing_profiles[0]: empty"
            ]
        );
    }
}
