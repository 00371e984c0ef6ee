//! The agent's day as data (feed.md `agent_activity`): the segments of an agent's timeline and
//! their pieces, cut at the 15-minute UTC boundaries.
//!
//! A segment is the time an agent spent in one WFM state. It opens with a transition, at the
//! state's *effective* start (its `since`, or the start of the previous segment when that is
//! later, so segments never overlap), and closes at the effective start of the next transition.
//! The open segment lives on the agent's stored row ([`OpenSegment`]); the function that writes
//! the closing transition writes the closed segment's pieces, so no extra write is needed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::mapping::AgentStateMapping;
use super::silence::is_logged_out_state;
use super::state::{Activity, AgentState, ContactRef};
use crate::contact::{INTERVAL_MINUTES, interval_start};
use crate::feed::{FeedRecord, SCHEMA};
use crate::timefmt::{serde_feed_time, serde_interval_start};

/// The open segment of an agent: when its current state effectively began and which transition
/// opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSegment {
    /// The effective start: the state's `since`, or the previous segment's start when later.
    pub start: DateTime<Utc>,
    /// `event_id` of the transition that opened it (the pieces' `segment_id`).
    pub id: String,
}

impl OpenSegment {
    /// The segment a transition with `since` and `event_id` opens after `previous` (None at
    /// first sight, or for a row stored before segments were kept).
    pub fn after(previous: Option<&OpenSegment>, since: DateTime<Utc>, event_id: impl Into<String>) -> Self {
        Self {
            start: previous.map_or(since, |p| p.start.max(since)),
            id: event_id.into(),
        }
    }
}

/// The segment an `UNKNOWN` closed, kept on the row while the agent is `UNKNOWN` (its state is
/// the row's `silenced_from`), so a sweep that writes the silence's records again writes the
/// same pieces too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilencedSegment {
    pub reason: String,
    pub activity: Activity,
    pub contact: Option<ContactRef>,
    pub segment: OpenSegment,
}

/// One piece of a segment: the `agent_activity` record of feed.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentActivityRecord {
    pub kind: String,
    pub schema: u32,
    pub instance_id: String,
    pub agent_id: String,
    pub agent_login: Option<String>,
    pub state: String,
    pub reason: String,
    pub activity: Activity,
    pub contact: Option<ContactRef>,
    /// The 15-minute interval the piece lies in.
    #[serde(with = "serde_interval_start")]
    pub interval_start: DateTime<Utc>,
    #[serde(with = "serde_feed_time")]
    pub start: DateTime<Utc>,
    #[serde(with = "serde_feed_time")]
    pub end: DateTime<Utc>,
    /// `end − start` in milliseconds.
    pub duration_ms: i64,
    /// `event_id` of the transition that opened the segment.
    pub segment_id: String,
    /// `event_id` of the transition that closed it.
    pub closed_by: String,
}

impl AgentActivityRecord {
    pub const KIND: &'static str = "agent_activity";
}

impl FeedRecord for AgentActivityRecord {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        Some(self.interval_start)
    }
}

/// The folder of the feed that holds the pieces of one instance and interval:
/// `agent_activity/<YYYY-MM-DD>/<instance id>/<HHMM>/`. Pieces are filed by interval so the
/// sweep reads an interval's pieces back by listing one prefix.
pub fn activity_prefix(instance_id: &str, interval_start: DateTime<Utc>) -> String {
    format!(
        "{}/{}/{}/{}/",
        AgentActivityRecord::KIND,
        interval_start.format("%Y-%m-%d"),
        crate::feed::sanitize_name(instance_id),
        interval_start.format("%H%M")
    )
}

/// The key of a feed object of pieces: [`activity_prefix`] + `<name>.jsonl`, `name` derived
/// from the input like every feed object's.
pub fn activity_key(instance_id: &str, interval_start: DateTime<Utc>, name: &str) -> String {
    format!(
        "{}{}.jsonl",
        activity_prefix(instance_id, interval_start),
        crate::feed::sanitize_name(name)
    )
}

/// Pieces grouped into their feed objects' folders: by (instance id, interval start), each group
/// in the given order.
pub fn pieces_by_interval<'a, I>(
    pieces: I,
) -> std::collections::BTreeMap<(String, DateTime<Utc>), Vec<&'a AgentActivityRecord>>
where
    I: IntoIterator<Item = &'a AgentActivityRecord>,
{
    let mut groups: std::collections::BTreeMap<(String, DateTime<Utc>), Vec<&'a AgentActivityRecord>> =
        Default::default();
    for piece in pieces {
        groups
            .entry((piece.instance_id.clone(), piece.interval_start))
            .or_default()
            .push(piece);
    }
    groups
}

/// A segment of one agent's timeline: who, in which state, from when.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub instance_id: &'a str,
    pub agent_id: &'a str,
    pub agent_login: Option<&'a str>,
    pub state: &'a str,
    pub reason: &'a str,
    pub activity: Activity,
    pub contact: Option<&'a ContactRef>,
    pub open: &'a OpenSegment,
}

impl<'a> Segment<'a> {
    /// The agent's current segment; None when the row does not know when it began.
    pub fn current(agent: &'a AgentState) -> Option<Self> {
        Some(Self {
            instance_id: &agent.instance_id,
            agent_id: &agent.agent_id,
            agent_login: agent.agent_login.as_deref(),
            state: &agent.state,
            reason: &agent.reason,
            activity: agent.activity,
            contact: agent.contact.as_ref(),
            open: agent.segment.as_ref()?,
        })
    }

    /// The segment that the agent's `UNKNOWN` closed; None when the agent is not `UNKNOWN` or
    /// the row does not know it.
    pub fn silenced(agent: &'a AgentState) -> Option<Self> {
        let silenced = agent.silenced_segment.as_ref()?;
        Some(Self {
            instance_id: &agent.instance_id,
            agent_id: &agent.agent_id,
            agent_login: agent.agent_login.as_deref(),
            state: agent.silenced_from.as_deref()?,
            reason: &silenced.reason,
            activity: silenced.activity,
            contact: silenced.contact.as_ref(),
            open: &silenced.segment,
        })
    }

    /// The pieces of this segment closed at `end` by the transition `closed_by`: one per
    /// 15-minute interval it touches, none for a `LOGOUT` segment or one of no length.
    pub fn close(&self, end: DateTime<Utc>, closed_by: &str, mapping: &AgentStateMapping) -> Vec<AgentActivityRecord> {
        if is_logged_out_state(self.state, mapping) {
            return Vec::new();
        }
        cut(self.open.start, end)
            .map(|(interval, start, end)| AgentActivityRecord {
                kind: AgentActivityRecord::KIND.to_owned(),
                schema: SCHEMA,
                instance_id: self.instance_id.to_owned(),
                agent_id: self.agent_id.to_owned(),
                agent_login: self.agent_login.map(str::to_owned),
                state: self.state.to_owned(),
                reason: self.reason.to_owned(),
                activity: self.activity,
                contact: self.contact.cloned(),
                interval_start: interval,
                start,
                end,
                duration_ms: (end - start).num_milliseconds(),
                segment_id: self.open.id.clone(),
                closed_by: closed_by.to_owned(),
            })
            .collect()
    }
}

/// [start, end) cut at the 15-minute UTC boundaries: (interval start, piece start, piece end).
pub fn cut(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> {
    let step = TimeDelta::minutes(INTERVAL_MINUTES.into());
    let mut from = start;
    std::iter::from_fn(move || {
        if from >= end {
            return None;
        }
        let interval = interval_start(from);
        let to = (interval + step).min(end);
        let piece = (interval, from, to);
        from = to;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(clock: &str) -> DateTime<Utc> {
        format!("2026-11-20T{clock}Z").parse().unwrap()
    }

    fn agent(state: &str, start: &str) -> AgentState {
        AgentState {
            stream_newest: None,
            agent_arn: "arn:aws:connect:eu-west-1:1:instance/i-1/agent/a-1".into(),
            agent_id: "a-1".into(),
            instance_id: "i-1".into(),
            agent_login: Some("jdoe".into()),
            state: state.into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: t(start),
            contact: None,
            watermark: super::super::Watermark::new(t(start), "e-0"),
            last_seen: t(start),
            silent_since: None,
            last_silence: None,
            silenced_at: None,
            silenced_from: None,
            segment: Some(OpenSegment {
                start: t(start),
                id: "e-0".into(),
            }),
            silenced_segment: None,
            profile: None,
            excluded: false,
        }
    }

    #[test]
    fn effective_start_never_goes_back() {
        let previous = OpenSegment {
            start: t("10:05:00"),
            id: "e-1".into(),
        };
        assert_eq!(
            OpenSegment::after(Some(&previous), t("10:07:00"), "e-2").start,
            t("10:07:00")
        );
        // A state that says it began before the previous one did starts where that one starts:
        // the previous segment is then empty, and the two never overlap.
        assert_eq!(
            OpenSegment::after(Some(&previous), t("10:01:00"), "e-2").start,
            t("10:05:00")
        );
        assert_eq!(OpenSegment::after(None, t("10:01:00"), "e-2").start, t("10:01:00"));
    }

    #[test]
    fn a_segment_is_cut_at_every_boundary_it_crosses() {
        let a = agent("Available", "10:10:00.250");
        let pieces = Segment::current(&a)
            .unwrap()
            .close(t("10:47:30"), "e-9", &AgentStateMapping::default());
        let bounds: Vec<_> = pieces
            .iter()
            .map(|p| (p.interval_start, p.start, p.end, p.duration_ms))
            .collect();
        assert_eq!(
            bounds,
            vec![
                (t("10:00:00"), t("10:10:00.250"), t("10:15:00"), 299_750),
                (t("10:15:00"), t("10:15:00"), t("10:30:00"), 900_000),
                (t("10:30:00"), t("10:30:00"), t("10:45:00"), 900_000),
                (t("10:45:00"), t("10:45:00"), t("10:47:30"), 150_000),
            ]
        );
        assert!(pieces.iter().all(|p| p.segment_id == "e-0" && p.closed_by == "e-9"));
        assert!(
            pieces
                .iter()
                .all(|p| p.state == "Available" && p.agent_login.as_deref() == Some("jdoe"))
        );
    }

    #[test]
    fn a_segment_ending_on_a_boundary_has_no_empty_piece_after_it() {
        let a = agent("Break", "10:14:00");
        let pieces = Segment::current(&a)
            .unwrap()
            .close(t("10:15:00"), "e-9", &AgentStateMapping::default());
        assert_eq!(pieces.len(), 1);
        assert_eq!((pieces[0].start, pieces[0].end), (t("10:14:00"), t("10:15:00")));
    }

    #[test]
    fn logout_and_empty_segments_have_no_pieces() {
        let mapping = AgentStateMapping::default();
        let a = agent("LOGOUT", "10:00:00");
        assert!(
            Segment::current(&a)
                .unwrap()
                .close(t("11:00:00"), "e-9", &mapping)
                .is_empty()
        );
        let b = agent("Available", "10:00:00");
        assert!(
            Segment::current(&b)
                .unwrap()
                .close(t("10:00:00"), "e-9", &mapping)
                .is_empty()
        );
        assert!(
            Segment::current(&b)
                .unwrap()
                .close(t("09:00:00"), "e-9", &mapping)
                .is_empty()
        );
    }

    #[test]
    fn a_row_without_a_segment_has_no_current_segment() {
        let mut a = agent("Available", "10:00:00");
        a.segment = None;
        assert!(Segment::current(&a).is_none());
        assert!(Segment::silenced(&a).is_none());
    }

    #[test]
    fn pieces_are_filed_by_instance_and_interval() {
        assert_eq!(
            activity_key("i-1", t("10:15:00"), "shardId-1/42"),
            "agent_activity/2026-11-20/i-1/1015/shardId-1_42.jsonl"
        );
    }

    #[test]
    fn pieces_serialise_as_feed_md_says() {
        let a = agent("Available", "10:14:59.500");
        let piece = &Segment::current(&a)
            .unwrap()
            .close(t("10:15:00.250"), "e-9", &AgentStateMapping::default())[1];
        let json = serde_json::to_value(piece).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "agent_activity", "schema": 1, "instance_id": "i-1", "agent_id": "a-1",
                "agent_login": "jdoe", "state": "Available", "reason": "Open", "activity": "Open",
                "contact": null, "interval_start": "2026-11-20T10:15:00Z",
                "start": "2026-11-20T10:15:00.000Z", "end": "2026-11-20T10:15:00.250Z",
                "duration_ms": 250, "segment_id": "e-0", "closed_by": "e-9"
            })
        );
    }
}
