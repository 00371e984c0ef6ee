//! Stream-basis `agent_interval` records (feed.md "agent_interval, stream basis"): an agent's
//! time per state in one 15-minute interval, from its `agent_activity` pieces and, for the state
//! it is still in, its open segment counted up to the interval's end.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::activity::{AgentActivityRecord, Segment};
use super::mapping::AgentStateMapping;
use super::silence::is_logged_out_state;
use super::state::{Activity, AgentState};
use crate::contact::{FieldComparison, INTERVAL_MINUTES};
use crate::feed::{FeedRecord, SCHEMA};
use crate::report::AgentInterval;
use crate::timefmt::{serde_feed_time, serde_interval_start};

/// `basis` of a record built from the agent event stream.
pub const STREAM_BASIS: &str = "stream";

/// Time in one WFM state within the interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateTime {
    pub state: String,
    pub reason: String,
    pub activity: Activity,
    pub seconds: i64,
}

/// `{ "stream": "agent_events" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStreamSource {
    pub stream: &'static str,
}

/// One agent's stream-basis `agent_interval` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamAgentInterval {
    pub kind: &'static str,
    pub schema: u32,
    pub basis: &'static str,
    /// The mapping's alias of the instance, else its id.
    pub instance: String,
    pub instance_id: String,
    pub agent_login: Option<String>,
    pub agent_id: String,
    #[serde(with = "serde_interval_start")]
    pub interval_start: DateTime<Utc>,
    pub interval_minutes: u32,
    pub login_time_s: i64,
    pub not_ready_time_s: i64,
    pub ready_time_s: i64,
    pub idle_time_s: i64,
    pub on_contact_time_s: i64,
    pub unknown_time_s: i64,
    pub acw_time_s: i64,
    pub open_time_s: i64,
    pub closed_time_s: i64,
    /// One entry per WFM state the agent was in, sorted by state.
    pub states: Vec<StateTime>,
    pub active: bool,
    /// The newest input time included: the instance's newest event time processed.
    #[serde(with = "serde_feed_time")]
    pub as_of: DateTime<Utc>,
    pub source: AgentStreamSource,
}

impl StreamAgentInterval {
    pub const KIND: &'static str = "agent_interval";
}

impl FeedRecord for StreamAgentInterval {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.interval_start)
    }
}

/// The key of an instance's stream-basis `agent_interval` object (feed.md layout):
/// `agent_interval/<YYYY-MM-DD>/stream/<instance>/<HHMM>.jsonl`, one per instance and interval,
/// overwritten by each revision.
pub fn agent_interval_key(instance: &str, interval_start: DateTime<Utc>) -> String {
    format!(
        "{}/{}/stream/{}/{}.jsonl",
        StreamAgentInterval::KIND,
        interval_start.format("%Y-%m-%d"),
        crate::feed::sanitize_name(instance),
        interval_start.format("%H%M")
    )
}

/// What an interval's records are built from.
#[derive(Debug, Clone, Copy)]
pub struct IntervalInputs<'a> {
    pub instance_id: &'a str,
    /// The alias the mapping gives the instance, else its id.
    pub instance: &'a str,
    pub interval_start: DateTime<Utc>,
    /// The pieces the feed holds for the instance and interval, repeats included.
    pub pieces: &'a [AgentActivityRecord],
    /// The instance's agents as stored now: the open segment of each counts up to the
    /// interval's end unless its pieces are among `pieces` already (it closed meanwhile).
    pub agents: &'a [AgentState],
    pub as_of: DateTime<Utc>,
}

/// The stream-basis `agent_interval` records of one instance and interval: one per agent with a
/// piece there, sorted by agent id.
pub fn agent_intervals(inputs: &IntervalInputs<'_>, mapping: &AgentStateMapping) -> Vec<StreamAgentInterval> {
    let end = inputs.interval_start + TimeDelta::minutes(INTERVAL_MINUTES.into());
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut by_agent: BTreeMap<&str, Vec<&AgentActivityRecord>> = BTreeMap::new();
    for piece in inputs.pieces {
        if piece.interval_start == inputs.interval_start && seen.insert((&piece.agent_id, &piece.segment_id)) {
            by_agent.entry(&piece.agent_id).or_default().push(piece);
        }
    }
    let open: Vec<AgentActivityRecord> = inputs
        .agents
        .iter()
        .filter(|agent| agent.instance_id == inputs.instance_id)
        .filter_map(Segment::current)
        .filter(|segment| !seen.contains(&(segment.agent_id, segment.open.id.as_str())))
        .flat_map(|segment| segment.close(end, "", mapping))
        .filter(|piece| piece.interval_start == inputs.interval_start)
        .collect();
    for piece in &open {
        by_agent.entry(&piece.agent_id).or_default().push(piece);
    }
    by_agent
        .into_values()
        .map(|pieces| record(inputs, &pieces, mapping))
        .collect()
}

/// Milliseconds to whole seconds, half up.
fn seconds(ms: i64) -> i64 {
    (ms + 500).div_euclid(1000)
}

fn record(
    inputs: &IntervalInputs<'_>,
    pieces: &[&AgentActivityRecord],
    mapping: &AgentStateMapping,
) -> StreamAgentInterval {
    let offline = mapping.resolve_status(AgentStateMapping::OFFLINE).event_id;
    let unknown = mapping.resolve_status(AgentStateMapping::UNKNOWN).event_id;
    let available = mapping.resolve_status(AgentStateMapping::AVAILABLE).event_id;
    let (mut login, mut unknown_ms, mut on_contact, mut acw, mut idle, mut open, mut closed) = (0, 0, 0, 0, 0, 0, 0);
    let mut states: BTreeMap<&str, (&AgentActivityRecord, i64)> = BTreeMap::new();
    for piece in pieces.iter().copied() {
        let ms = piece.duration_ms;
        if is_logged_out_state(&piece.state, mapping) {
            continue;
        }
        states.entry(&piece.state).or_insert((piece, 0)).1 += ms;
        match piece.activity {
            Activity::Open => open += ms,
            Activity::Closed => closed += ms,
        }
        if piece.state == unknown {
            unknown_ms += ms;
            continue;
        }
        if piece.state == offline {
            continue;
        }
        login += ms;
        if piece.contact.is_some() {
            on_contact += ms;
            if piece.state.ends_with("-ENDED") {
                acw += ms;
            }
        } else if piece.state == available {
            idle += ms;
        }
    }
    let not_ready = login - on_contact - idle;
    let latest = pieces
        .iter()
        .max_by_key(|p| p.end)
        .expect("an agent with a record has a piece");
    StreamAgentInterval {
        kind: StreamAgentInterval::KIND,
        schema: SCHEMA,
        basis: STREAM_BASIS,
        instance: inputs.instance.to_owned(),
        instance_id: inputs.instance_id.to_owned(),
        agent_login: latest.agent_login.clone(),
        agent_id: latest.agent_id.clone(),
        interval_start: inputs.interval_start,
        interval_minutes: INTERVAL_MINUTES,
        login_time_s: seconds(login),
        not_ready_time_s: seconds(not_ready),
        ready_time_s: seconds((login - not_ready).max(0)),
        idle_time_s: seconds(idle),
        on_contact_time_s: seconds(on_contact),
        unknown_time_s: seconds(unknown_ms),
        acw_time_s: seconds(acw),
        open_time_s: seconds(open),
        closed_time_s: seconds(closed),
        states: states
            .into_iter()
            .map(|(state, (piece, ms))| StateTime {
                state: state.to_owned(),
                reason: piece.reason.clone(),
                activity: piece.activity,
                seconds: seconds(ms),
            })
            .collect(),
        active: open + closed > 0,
        as_of: inputs.as_of,
        source: AgentStreamSource { stream: "agent_events" },
    }
}

/// Two agent times this close (seconds) agree: each basis rounds its own sums, and Connect's
/// report and the event stream stamp a state change a moment apart.
pub const AGENT_DRIFT_TOLERANCE_S: f64 = 2.0;

/// When Connect's ASPR row of an agent and interval arrives: how far the stream basis of the
/// same agent and interval was from it, field by field (a log line and a metric).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReconciliation {
    /// The instance (alias).
    pub instance: String,
    pub agent_id: String,
    pub interval_start: DateTime<Utc>,
    /// login, not ready, on contact and idle time: the fields both bases define.
    pub fields: Vec<FieldComparison>,
}

impl AgentReconciliation {
    /// The fields on which the bases differ by more than [`AGENT_DRIFT_TOLERANCE_S`].
    pub fn differences(&self) -> impl Iterator<Item = &FieldComparison> {
        self.fields.iter().filter(|f| match (f.report, f.stream) {
            (Some(r), Some(s)) => (r - s).abs() > AGENT_DRIFT_TOLERANCE_S,
            (None, None) => false,
            _ => true,
        })
    }
}

/// `agent_interval reconciliation instance=… agent_id=… interval_start=…: login_time_s
/// report=900 stream=840; …` (or `agrees`). Ids only: no login names in logs.
impl std::fmt::Display for AgentReconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agent_interval reconciliation instance={} agent_id={} interval_start={}:",
            self.instance,
            self.agent_id,
            crate::timefmt::feed_timestamp(&self.interval_start)
        )?;
        crate::contact::write_differences(f, self.differences())
    }
}

/// Compares an ASPR record with the stream-basis record of the same agent and interval.
pub fn reconcile_agent(report: &AgentInterval, stream: &StreamAgentInterval) -> AgentReconciliation {
    let field = |name: &str, report: Option<i64>, stream: i64| FieldComparison {
        field: name.to_owned(),
        report: report.map(|v| v as f64),
        stream: Some(stream as f64),
    };
    AgentReconciliation {
        instance: report.instance.to_string(),
        agent_id: stream.agent_id.clone(),
        interval_start: report.interval_start,
        fields: vec![
            field("login_time_s", report.login_time_s, stream.login_time_s),
            field("not_ready_time_s", report.not_ready_time_s, stream.not_ready_time_s),
            field("on_contact_time_s", report.on_contact_time_s, stream.on_contact_time_s),
            field("idle_time_s", report.idle_time_s, stream.idle_time_s),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{ContactRef, OpenSegment, Watermark};

    fn t(clock: &str) -> DateTime<Utc> {
        format!("2026-11-20T{clock}Z").parse().unwrap()
    }

    fn piece(agent: &str, state: &str, start: &str, end: &str, segment: &str) -> AgentActivityRecord {
        let (start, end) = (t(start), t(end));
        let contact = state.starts_with("VOICE").then(|| ContactRef {
            contact_id: "c-1".into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            queue: None,
        });
        let entry = AgentStateMapping::default();
        let entry = if contact.is_some() {
            entry.resolve_contact_state(state)
        } else {
            entry.resolve_status(if state == "LOGIN" {
                AgentStateMapping::LOGIN
            } else {
                state
            })
        };
        AgentActivityRecord {
            kind: AgentActivityRecord::KIND.into(),
            schema: SCHEMA,
            instance_id: "i-1".into(),
            agent_id: agent.into(),
            agent_login: Some(format!("{agent}-login")),
            state: state.into(),
            reason: entry.reason,
            activity: entry.activity,
            contact,
            interval_start: crate::contact::interval_start(start),
            start,
            end,
            duration_ms: (end - start).num_milliseconds(),
            segment_id: segment.into(),
            closed_by: "x".into(),
        }
    }

    fn open_agent(agent: &str, state: &str, start: &str, segment: &str) -> AgentState {
        AgentState {
            stream_newest: None,
            agent_arn: format!("arn:aws:connect:eu-west-1:1:instance/i-1/agent/{agent}"),
            agent_id: agent.into(),
            instance_id: "i-1".into(),
            agent_login: Some(format!("{agent}-login")),
            state: state.into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: t(start),
            contact: None,
            watermark: Watermark::new(t(start), segment),
            last_seen: t(start),
            silent_since: None,
            last_silence: None,
            silenced_at: None,
            silenced_from: None,
            segment: Some(OpenSegment {
                start: t(start),
                id: segment.into(),
            }),
            silenced_segment: None,
            profile: None,
            excluded: false,
        }
    }

    fn build(pieces: &[AgentActivityRecord], agents: &[AgentState]) -> Vec<StreamAgentInterval> {
        agent_intervals(
            &IntervalInputs {
                instance_id: "i-1",
                instance: "acme",
                interval_start: t("10:00:00"),
                pieces,
                agents,
                as_of: t("10:15:30"),
            },
            &AgentStateMapping::default(),
        )
    }

    #[test]
    fn every_sum_follows_feed_md() {
        let pieces = [
            piece("a-1", "LOGIN", "10:00:00", "10:00:10.400", "s1"),
            piece("a-1", "Available", "10:00:10.400", "10:02:00", "s2"),
            piece("a-1", "VOICE-INBOUND-CONNECTED", "10:02:00", "10:06:00", "s3"),
            piece("a-1", "VOICE-INBOUND-ENDED", "10:06:00", "10:07:00.300", "s4"),
            piece("a-1", "Break", "10:07:00.300", "10:10:00", "s5"),
            piece("a-1", "UNKNOWN", "10:10:00", "10:12:00", "s6"),
            piece("a-1", "Offline", "10:12:00", "10:15:00", "s7"),
        ];
        let records = build(&pieces, &[]);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        // login = every state but Offline and UNKNOWN: 10:00:00 → 10:10:00.
        assert_eq!(r.login_time_s, 600);
        assert_eq!(r.unknown_time_s, 120);
        assert_eq!(r.on_contact_time_s, 300, "connected and ACW: 4 min + 60.3 s");
        assert_eq!(r.acw_time_s, 60);
        assert_eq!(r.idle_time_s, 110, "Available 109.6 s, rounded at the end");
        // not ready = login − on contact − idle, in milliseconds first:
        // 600 000 − 300 300 − 109 600 = 190 100 (LOGIN 10.4 s + Break 179.7 s).
        assert_eq!(r.not_ready_time_s, 190);
        assert_eq!(r.ready_time_s, 410);
        // Open: LOGIN, Available, contact states; Closed: Break, UNKNOWN, Offline.
        assert_eq!((r.open_time_s, r.closed_time_s), (420, 480));
        let states: Vec<(&str, i64)> = r.states.iter().map(|s| (s.state.as_str(), s.seconds)).collect();
        assert_eq!(
            states,
            vec![
                ("Available", 110),
                ("Break", 180),
                ("LOGIN", 10),
                ("Offline", 180),
                ("UNKNOWN", 120),
                ("VOICE-INBOUND-CONNECTED", 240),
                ("VOICE-INBOUND-ENDED", 60),
            ]
        );
        assert!(r.active);
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["kind"], "agent_interval");
        assert_eq!(json["basis"], "stream");
        assert_eq!(json["instance"], "acme");
        assert_eq!(json["interval_start"], "2026-11-20T10:00:00Z");
        assert_eq!(json["interval_minutes"], 15);
        assert_eq!(json["as_of"], "2026-11-20T10:15:30.000Z");
        assert_eq!(json["source"], serde_json::json!({"stream": "agent_events"}));
        assert_eq!(
            json["states"][1],
            serde_json::json!({"state": "Break", "reason": "Break", "activity": "Closed", "seconds": 180})
        );
    }

    #[test]
    fn the_open_state_counts_up_to_the_interval_end() {
        let agents = [open_agent("a-2", "Available", "10:05:00", "s9")];
        let pieces = [piece("a-2", "Break", "10:01:00", "10:05:00", "s8")];
        let r = &build(&pieces, &agents)[0];
        assert_eq!((r.login_time_s, r.idle_time_s, r.not_ready_time_s), (840, 600, 240));
        // An agent whose open state began before the interval has the whole interval.
        let agents = [open_agent("a-3", "Available", "09:00:00", "s1")];
        assert_eq!(build(&[], &agents)[0].idle_time_s, 900);
        // One that began after it has no record.
        let agents = [open_agent("a-4", "Available", "10:15:00", "s1")];
        assert!(build(&[], &agents).is_empty());
    }

    #[test]
    fn an_open_segment_already_closed_in_the_pieces_counts_once_and_repeats_too() {
        // A batch wrote the pieces of s9 (closed at 10:09) before its commit reached the row.
        let agents = [open_agent("a-2", "Available", "10:05:00", "s9")];
        let pieces = [
            piece("a-2", "Available", "10:05:00", "10:09:00", "s9"),
            piece("a-2", "Available", "10:05:00", "10:09:00", "s9"),
        ];
        assert_eq!(build(&pieces, &agents)[0].idle_time_s, 240);
    }

    #[test]
    fn agents_are_sorted_and_other_intervals_ignored() {
        let pieces = [
            piece("b", "Break", "10:01:00", "10:02:00", "s1"),
            piece("a", "Break", "10:01:00", "10:02:00", "s2"),
            piece("c", "Break", "10:16:00", "10:17:00", "s3"),
        ];
        let ids: Vec<String> = build(&pieces, &[]).into_iter().map(|r| r.agent_id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn an_aspr_row_is_compared_field_by_field_within_two_seconds() {
        let pieces = [
            piece("a-1", "Available", "10:00:00", "10:05:00", "s1"),
            piece("a-1", "Break", "10:05:00", "10:15:00", "s2"),
        ];
        let stream = &build(&pieces, &[])[0];
        let report = AgentInterval {
            kind: AgentInterval::KIND,
            schema: SCHEMA,
            basis: crate::report::REPORT_BASIS,
            instance: "acme".into(),
            agent_login: "a-1-login".into(),
            agent_id: Some("a-1".into()),
            interval_start: t("10:00:00"),
            interval_minutes: 15,
            login_time_s: Some(899),
            not_ready_time_s: Some(540),
            ready_time_s: Some(359),
            idle_time_s: Some(300),
            on_contact_time_s: None,
            active: true,
            source: crate::report::RecordSource {
                bucket: "b".into(),
                key: "k".into(),
                line: 2,
            },
        };
        let r = reconcile_agent(&report, stream);
        let differing: Vec<&str> = r.differences().map(|f| f.field.as_str()).collect();
        // Login 899 against 900 agrees; not ready 540 against 600 and a missing on-contact
        // column do not.
        assert_eq!(differing, ["not_ready_time_s", "on_contact_time_s"]);
        assert_eq!(
            r.to_string(),
            "agent_interval reconciliation instance=acme agent_id=a-1 interval_start=2026-11-20T10:00:00.000Z: \
             not_ready_time_s report=540 stream=600; on_contact_time_s report=null stream=0;"
        );
    }

    #[test]
    fn objects_are_filed_per_instance_and_interval() {
        assert_eq!(
            agent_interval_key("acme", t("10:15:00")),
            "agent_interval/2026-11-20/stream/acme/1015.jsonl"
        );
    }
}
