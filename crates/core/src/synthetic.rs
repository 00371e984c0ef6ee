//! Synthetic Amazon Connect agent event streams (feature `faults`), for fault-injection tests
//! and benchmarks: many agents going through login, calls and chats, holds, after-contact
//! work, breaks, heartbeats and logout, with Kinesis duplicates, late re-deliveries of earlier
//! records and a few records that are not agent events mixed in.
//!
//! Deterministic for a seed. Each agent's own events have non-decreasing timestamps in stream
//! order (as Connect writes them, partition key = agent ARN); duplicates and late replays are
//! byte-identical copies of earlier records, as Kinesis producers' retries make them.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::timefmt::feed_timestamp;

/// What stream to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub seed: u64,
    pub agents: usize,
    /// Records in the stream, copies and bad records included.
    pub records: usize,
    /// Per mille of records followed at once by a copy of themselves.
    pub duplicate_permille: u32,
    /// Per mille of records copied again 1..=500 records later.
    pub late_replay_permille: u32,
    /// Per mille of records that are not agent events (broken JSON, a CTR, an unknown
    /// EventType or Version).
    pub bad_permille: u32,
    /// Full snapshots as Connect sends them (names, routing profile, hierarchy: about 2 KB a
    /// record) instead of the fields the connector reads.
    pub verbose: bool,
}

impl Default for StreamSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            agents: 300,
            records: 3000,
            duplicate_permille: 20,
            late_replay_permille: 20,
            bad_permille: 10,
            verbose: false,
        }
    }
}

/// The instance of every synthetic agent.
pub const INSTANCE_ARN: &str = "arn:aws:connect:us-east-1:123456789012:instance/5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

/// SplitMix64: small, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `permille`/1000.
    pub fn chance(&mut self, permille: u32) -> bool {
        self.below(1000) < u64::from(permille)
    }
}

#[derive(Debug, Clone)]
enum Phase {
    LoggedOut,
    /// Logged in, status set.
    Idle {
        status: &'static str,
    },
    /// On a contact in a Connect contact state.
    OnContact {
        contact: String,
        channel: &'static str,
        state: &'static str,
        state_start: DateTime<Utc>,
    },
}

struct Agent {
    id: String,
    phase: Phase,
    status_start: DateTime<Utc>,
    contacts: u32,
    events: u32,
}

/// The data of every record of the stream, in stream order.
pub fn agent_event_stream(spec: &StreamSpec) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(spec.seed);
    let start: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().expect("a valid start time");
    let mut clock = start;
    let mut agents: Vec<Agent> = (0..spec.agents.max(1))
        .map(|i| Agent {
            id: format!("{:08x}-4a1b-4c2d-8e3f-{:012x}", spec.seed as u32, i),
            phase: Phase::LoggedOut,
            status_start: start,
            contacts: 0,
            events: 0,
        })
        .collect();
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(spec.records);
    // (position to insert at, data): late copies waiting for their turn.
    let mut late: Vec<(usize, Vec<u8>)> = Vec::new();

    while out.len() < spec.records {
        if let Some(i) = late.iter().position(|(at, _)| *at <= out.len()) {
            let (_, data) = late.swap_remove(i);
            out.push(data);
            continue;
        }
        // About one event a second across the floor; some share a millisecond.
        clock += Duration::milliseconds(if rng.chance(30) { 0 } else { rng.below(2000) as i64 });
        let data = if rng.chance(spec.bad_permille) {
            bad_record(&mut rng, clock)
        } else {
            let slot = rng.below(agents.len() as u64) as usize;
            let event = next_event(&mut agents[slot], &mut rng, clock, spec.verbose);
            serde_json::to_vec(&event).expect("JSON values serialise")
        };
        if rng.chance(spec.late_replay_permille) {
            late.push((out.len() + 1 + rng.below(500) as usize, data.clone()));
        }
        let duplicate = rng.chance(spec.duplicate_permille);
        out.push(data);
        if duplicate && out.len() < spec.records {
            let copy = out[out.len() - 1].clone();
            out.push(copy);
        }
    }
    out
}

/// A Kinesis Lambda record for each data, on one shard, sequence numbers from `first_seq`.
pub fn kinesis_records(data: &[Vec<u8>], shard: &str, first_seq: u64) -> Vec<Value> {
    data.iter()
        .enumerate()
        .map(|(i, data)| {
            let seq = sequence_number(first_seq + i as u64);
            json!({
                "eventSource": "aws:kinesis",
                "eventID": format!("{shard}:{seq}"),
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "agent",
                    "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_795_161_600.0 + i as f64 * 0.01
                }
            })
        })
        .collect()
}

/// The sequence number text of record `n` (56 digits, as Kinesis writes them).
pub fn sequence_number(n: u64) -> String {
    format!("{n:056}")
}

fn bad_record(rng: &mut Rng, at: DateTime<Utc>) -> Vec<u8> {
    match rng.below(4) {
        0 => br#"{"AgentARN": "arn:aws:connect:us-east-1:1:instance/x/agent/trunc"#.to_vec(),
        1 => serde_json::to_vec(&json!({
            "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": format!("ctr-{}", rng.next_u64()),
            "Channel": "VOICE", "InitiationMethod": "INBOUND", "InstanceARN": INSTANCE_ARN
        }))
        .expect("JSON"),
        2 => serde_json::to_vec(&json!({
            "AgentARN": format!("{INSTANCE_ARN}/agent/odd"), "InstanceARN": INSTANCE_ARN,
            "EventId": format!("odd-{}", rng.next_u64()), "EventTimestamp": feed_timestamp(&at),
            "EventType": "AGENT_CREATED", "Version": "2019-05-25"
        }))
        .expect("JSON"),
        _ => serde_json::to_vec(&json!({
            "AgentARN": format!("{INSTANCE_ARN}/agent/odd"), "InstanceARN": INSTANCE_ARN,
            "EventId": format!("odd-{}", rng.next_u64()), "EventTimestamp": feed_timestamp(&at),
            "EventType": "STATE_CHANGE", "Version": "2030-01-01"
        }))
        .expect("JSON"),
    }
}

/// A contact as the event shows it: id, channel, state, state start.
type ContactSnapshot = (String, &'static str, &'static str, DateTime<Utc>);

const CHANNELS: [&str; 2] = ["VOICE", "CHAT"];

fn next_event(agent: &mut Agent, rng: &mut Rng, at: DateTime<Utc>, verbose: bool) -> Value {
    agent.events += 1;
    let event_id = format!("{}-{:05}", &agent.id[..8], agent.events) + &agent.id[23..];
    let (event_type, status, contact): (&str, &'static str, Option<ContactSnapshot>) = match agent.phase.clone() {
        Phase::LoggedOut => {
            if rng.chance(150) {
                // A heartbeat up to an hour after logout.
                ("HEART_BEAT", "Offline", None)
            } else {
                agent.phase = Phase::Idle { status: "Offline" };
                agent.status_start = at;
                ("LOGIN", "Offline", None)
            }
        }
        Phase::Idle { status } => match rng.below(100) {
            0..=29 => ("HEART_BEAT", status, None),
            30..=59 if status == "Available" => {
                agent.contacts += 1;
                let contact = format!("{}-c{}", &agent.id[..8], agent.contacts) + &agent.id[23..];
                let channel = CHANNELS[rng.below(2) as usize];
                agent.phase = Phase::OnContact {
                    contact: contact.clone(),
                    channel,
                    state: "CONNECTING",
                    state_start: at,
                };
                ("STATE_CHANGE", status, Some((contact, channel, "CONNECTING", at)))
            }
            60..=74 => {
                let next = if status == "Available" { "Break" } else { "Available" };
                agent.phase = Phase::Idle { status: next };
                agent.status_start = at;
                ("STATE_CHANGE", next, None)
            }
            75..=79 if status != "Offline" => {
                agent.phase = Phase::Idle { status: "Offline" };
                agent.status_start = at;
                ("STATE_CHANGE", "Offline", None)
            }
            80..=84 if status == "Offline" => {
                agent.phase = Phase::LoggedOut;
                ("LOGOUT", "Offline", None)
            }
            85..=89 => ("STATE_CHANGE", status, None),
            _ => {
                agent.phase = Phase::Idle { status: "Available" };
                if status != "Available" {
                    agent.status_start = at;
                }
                ("STATE_CHANGE", "Available", None)
            }
        },
        Phase::OnContact {
            contact,
            channel,
            state,
            state_start,
        } => {
            let next = match state {
                "CONNECTING" if rng.chance(100) => "MISSED",
                "CONNECTING" => "CONNECTED",
                "CONNECTED" if rng.chance(200) && channel == "VOICE" => "CONNECTED_ONHOLD",
                "CONNECTED_ONHOLD" => "CONNECTED",
                "CONNECTED" => "ENDED",
                _ => "",
            };
            if rng.chance(250) {
                // Nothing moved: a heartbeat while on the contact.
                ("HEART_BEAT", "Available", Some((contact, channel, state, state_start)))
            } else if next.is_empty() {
                // ACW (or a missed contact) cleared: back to the status.
                agent.phase = Phase::Idle { status: "Available" };
                ("STATE_CHANGE", "Available", None)
            } else {
                agent.phase = Phase::OnContact {
                    contact: contact.clone(),
                    channel,
                    state: next,
                    state_start: at,
                };
                ("STATE_CHANGE", "Available", Some((contact, channel, next, at)))
            }
        }
    };
    let status_type = match status {
        "Available" => "ROUTABLE",
        "Offline" => "OFFLINE",
        _ => "CUSTOM",
    };
    let contacts: Vec<Value> = contact
        .into_iter()
        .map(|(id, channel, state, since)| {
            json!({
                "ContactId": id, "InitialContactId": null, "Channel": channel,
                "InitiationMethod": if channel == "VOICE" { "INBOUND" } else { "API" },
                "State": state, "StateStartTimestamp": feed_timestamp(&since),
                "ConnectedToAgentTimestamp": if state == "CONNECTING" { Value::Null } else { json!(feed_timestamp(&since)) },
                "QueueTimestamp": feed_timestamp(&since),
                "Queue": { "ARN": format!("{INSTANCE_ARN}/queue/{channel}"), "Name": format!("{channel} support") }
            })
        })
        .collect();
    let mut configuration = json!({ "Username": format!("agent.{}", &agent.id[24..]) });
    if verbose {
        configuration = json!({
            "AgentHierarchyGroups": {
                "Level1": { "ARN": format!("{INSTANCE_ARN}/agent-group/3af9f30c-5a66-4477-bda9-d8c096d38ff5"), "Name": "North America" },
                "Level2": { "ARN": format!("{INSTANCE_ARN}/agent-group/baa2919c-0ded-47bb-bec0-c9226ed91f2e"), "Name": "Tier 1" }
            },
            "FirstName": "Jordan", "LastName": "Doe",
            "RoutingProfile": {
                "ARN": format!("{INSTANCE_ARN}/routing-profile/8c3f846c-c6a9-42d3-83f8-4c485e5c4176"),
                "Concurrency": [
                    { "AvailableSlots": 3, "Channel": "CHAT", "MaximumSlots": 3 },
                    { "AvailableSlots": 1, "Channel": "VOICE", "MaximumSlots": 1 }
                ],
                "DefaultOutboundQueue": { "ARN": format!("{INSTANCE_ARN}/queue/5df6f817-b099-4bcf-a0ec-6db25097c040"), "Channels": ["VOICE"], "Name": "Outbound" },
                "InboundQueues": [
                    { "ARN": format!("{INSTANCE_ARN}/queue/0db317d9-4c8e-4fa3-969a-73bf4c83cf3b"), "Channels": ["VOICE"], "Name": "Support" },
                    { "ARN": format!("{INSTANCE_ARN}/queue/agent/{}", agent.id), "Channels": ["VOICE", "CHAT"], "Name": null }
                ],
                "Name": "Support agents"
            },
            "Username": format!("agent.{}", &agent.id[24..])
        });
    }
    let snapshot = json!({
        "AgentStatus": {
            "ARN": format!("{INSTANCE_ARN}/agent-state/{status}"), "Name": status, "Type": status_type,
            "StartTimestamp": feed_timestamp(&agent.status_start)
        },
        "Configuration": configuration,
        "Contacts": contacts,
        "NextAgentStatus": null
    });
    let mut event = json!({
        "AWSAccountId": "123456789012",
        "AgentARN": format!("{INSTANCE_ARN}/agent/{}", agent.id),
        "InstanceARN": INSTANCE_ARN,
        "EventId": event_id,
        "EventTimestamp": feed_timestamp(&at),
        "EventType": event_type,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": snapshot,
    });
    if verbose {
        event["PreviousAgentSnapshot"] = event["CurrentAgentSnapshot"].clone();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::decode_agent_event;

    #[test]
    fn streams_are_deterministic_and_mostly_agent_events() {
        let spec = StreamSpec {
            records: 2000,
            ..StreamSpec::default()
        };
        let stream = agent_event_stream(&spec);
        assert_eq!(stream, agent_event_stream(&spec));
        assert_eq!(stream.len(), 2000);
        let decoded: Vec<_> = stream.iter().map(|d| decode_agent_event(d)).collect();
        let bad = decoded.iter().filter(|d| d.is_err()).count();
        assert!((5..60).contains(&bad), "{bad} bad records");
        let ids: std::collections::HashSet<_> = decoded.iter().flatten().map(|e| e.event_id.clone()).collect();
        let copies = decoded.iter().flatten().count() - ids.len();
        assert!(copies > 20, "{copies} copies");
    }

    #[test]
    fn verbose_records_are_the_size_of_connects() {
        let spec = StreamSpec {
            records: 200,
            verbose: true,
            bad_permille: 0,
            ..StreamSpec::default()
        };
        let stream = agent_event_stream(&spec);
        let mean = stream.iter().map(Vec::len).sum::<usize>() / stream.len();
        assert!((1500..4000).contains(&mean), "{mean} bytes");
        assert!(stream.iter().all(|d| decode_agent_event(d).is_ok()));
    }
}
