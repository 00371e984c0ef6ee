//! Silence, feed health and snapshots: the pure part of the scheduled sweep (feed.md
//! `agent_state` rule 5, `feed_health`, `agent_snapshot`).
//!
//! An agent is judged silent against the newest event time processed for its instance (its
//! [`InstanceProgress`]), never against the wall clock, so a stream that is behind as a whole
//! does not turn every agent `UNKNOWN`; an instance whose newest event is itself at least the
//! silence threshold older than the clock is reported silent (`feed_health`), and only then are
//! its agents judged against the clock.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::activity::{AgentActivityRecord, OpenSegment, Segment, SilencedSegment};
use super::mapping::AgentStateMapping;
use super::state::AgentState;
use crate::feed::{AgentSnapshotRecord, AgentStateRecord, FeedHealthRecord, HealthStatus, SCHEMA};

/// Default silence threshold (`SILENCE_SECONDS`).
pub const DEFAULT_SILENCE_SECONDS: i64 = 300;
/// Default snapshot period (`SNAPSHOT_MINUTES`).
pub const DEFAULT_SNAPSHOT_MINUTES: u32 = 15;
/// Connect sends every logged-in agent's HEART_BEAT at least this often.
pub const HEARTBEAT_PERIOD: Duration = Duration::seconds(120);
/// `event_type` of an `UNKNOWN` transition.
pub const SILENCE_EVENT_TYPE: &str = "SILENCE";
/// A snapshot lists the agents seen within this long before its `as_of`.
pub const SNAPSHOT_LOOKBACK: Duration = Duration::hours(24);

/// The sweep's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepPolicy {
    /// An agent that has sent nothing for this long is `UNKNOWN` (`SILENCE_SECONDS`).
    pub silence: Duration,
    /// Minutes between snapshots, 0 for none (`SNAPSHOT_MINUTES`).
    pub snapshot_minutes: u32,
}

impl Default for SweepPolicy {
    /// 300 s of silence, a snapshot every 15 minutes.
    fn default() -> Self {
        Self {
            silence: Duration::seconds(DEFAULT_SILENCE_SECONDS),
            snapshot_minutes: DEFAULT_SNAPSHOT_MINUTES,
        }
    }
}

/// The silence of an instance's agent events, as the sweep reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSilence {
    /// The newest event time processed + the silence threshold.
    pub since: DateTime<Utc>,
    /// The newest event time processed before the silence.
    pub last_event_time: DateTime<Utc>,
    /// Agents the silence affects: those not logged out and not already `UNKNOWN`.
    pub agents: u32,
}

impl InstanceSilence {
    /// The `feed_health` record saying the instance is silent.
    pub fn silent_record(&self, instance_id: &str) -> FeedHealthRecord {
        FeedHealthRecord::agent_events(
            instance_id,
            HealthStatus::Silent,
            self.since,
            self.last_event_time,
            self.agents,
        )
    }

    /// The `feed_health` record of the recovery, `first_event` being the first new event's time.
    pub fn ok_record(&self, instance_id: &str, first_event: DateTime<Utc>) -> FeedHealthRecord {
        FeedHealthRecord::agent_events(
            instance_id,
            HealthStatus::Ok,
            first_event,
            self.last_event_time,
            self.agents,
        )
    }
}

/// One instance's progress: the newest event time processed, and its reported silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProgress {
    pub instance_id: String,
    pub newest_event: DateTime<Utc>,
    /// Set from the sweep that reported the instance silent until the first new event.
    pub silence: Option<InstanceSilence>,
    /// The newest snapshot slot whose object was written for the instance: a sweep later in a
    /// slot writes the snapshot the slot's first sweep missed.
    pub snapshot_slot: Option<DateTime<Utc>>,
    /// The commit clock of the oldest silence whose `UNKNOWN` records a sweep could not write
    /// (the feed refused them): every sweep writes the records of the instance's agents
    /// silenced since then again, however long the feed stays down, until one succeeds.
    pub owed_since: Option<DateTime<Utc>>,
    /// The start of the newest interval whose stream-basis `agent_interval` object a sweep
    /// wrote for the instance.
    pub agent_intervals_done: Option<DateTime<Utc>>,
    /// Ended intervals that got pieces after a sweep may have summed them (late input): the
    /// next sweep writes their `agent_interval` object again.
    pub changed_intervals: Vec<DateTime<Utc>>,
}

impl InstanceProgress {
    /// The instance's newest event time processed: the progress item's, or the newest a listed
    /// row carries when that is later (agent-events lets the rows a batch commits carry it
    /// instead of writing the item: [`AgentState::stream_newest`]).
    pub fn newest_with(&self, listed: &[AgentState]) -> DateTime<Utc> {
        listed
            .iter()
            .filter_map(|a| a.stream_newest)
            .fold(self.newest_event, DateTime::max)
    }
}

/// True when the agent's state is `LOGOUT` (as the mapping names it): such an agent is never
/// judged silent, whatever heartbeats follow its logout.
///
/// An agent outside the mapping's `agents` filter counts as logged out: never judged silent.
pub fn is_logged_out(state: &AgentState, mapping: &AgentStateMapping) -> bool {
    state.excluded || is_logged_out_state(&state.state, mapping)
}

/// True when `state` is `LOGOUT` (as the mapping names it).
pub fn is_logged_out_state(state: &str, mapping: &AgentStateMapping) -> bool {
    state == "LOGOUT" || state == mapping.resolve_status(AgentStateMapping::LOGOUT).event_id
}

/// True when the agent must move to `UNKNOWN` at `clock`: not logged out, not `UNKNOWN`
/// already, and nothing seen for at least `silence`.
pub fn is_silent_at(state: &AgentState, clock: DateTime<Utc>, silence: Duration, mapping: &AgentStateMapping) -> bool {
    !state.is_silent() && !is_logged_out(state, mapping) && state.last_seen + silence <= clock
}

/// The `UNKNOWN` transition of a silent agent and the state to commit. `since` and
/// `event_time` are last-seen + `silence`, the id `silence-<agent_id>-<last-seen epoch ms>`;
/// the watermark is kept, so any later event recovers the agent.
pub fn silence_agent(
    state: &AgentState,
    silence: Duration,
    mapping: &AgentStateMapping,
) -> (AgentStateRecord, AgentState) {
    let unknown = mapping.resolve_status(AgentStateMapping::UNKNOWN);
    let since = state.last_seen + silence;
    let next = AgentState {
        state: unknown.event_id,
        reason: unknown.reason,
        activity: unknown.activity,
        since,
        contact: None,
        silent_since: Some(since),
        silenced_from: Some(state.state.clone()),
        segment: Some(OpenSegment::after(
            state.segment.as_ref(),
            since,
            silence_event_id(state),
        )),
        silenced_segment: state.segment.clone().map(|segment| SilencedSegment {
            reason: state.reason.clone(),
            activity: state.activity,
            contact: state.contact.clone(),
            segment,
        }),
        ..state.clone()
    };
    let record = silence_record(&next).expect("the state is UNKNOWN");
    (record, next)
}

/// How long after its commit a sweep still re-writes a silence's `UNKNOWN` record: two
/// sweeps, so a record whose write failed after its commit is written by one of the next two.
pub const SILENCE_REWRITE: Duration = Duration::seconds(120);

/// The `UNKNOWN` record of a state the sweep silenced, rebuilt from the state alone (the same
/// record, id included, as when it was committed); None when the state is not `UNKNOWN`.
pub fn silence_record(state: &AgentState) -> Option<AgentStateRecord> {
    let since = state.silent_since?;
    Some(AgentStateRecord {
        kind: AgentStateRecord::KIND,
        schema: SCHEMA,
        instance_id: state.instance_id.clone(),
        agent_id: state.agent_id.clone(),
        agent_login: state.agent_login.clone(),
        state: state.state.clone(),
        reason: state.reason.clone(),
        activity: state.activity,
        since,
        previous_state: state.silenced_from.clone(),
        contact: None,
        event_id: silence_event_id(state),
        event_type: SILENCE_EVENT_TYPE.to_owned(),
        event_time: since,
    })
}

/// The id of the `UNKNOWN` transition of `state`'s silence (of a state before or after it).
fn silence_event_id(state: &AgentState) -> String {
    format!("silence-{}-{}", state.agent_id, state.last_seen.timestamp_millis())
}

/// The `agent_activity` pieces of the segment an `UNKNOWN` closed, rebuilt from the `UNKNOWN`
/// state alone (the same pieces as when it was committed); empty when the state is not
/// `UNKNOWN`, or the closed segment was `LOGOUT`, empty or not known.
pub fn silence_pieces(state: &AgentState, mapping: &AgentStateMapping) -> Vec<AgentActivityRecord> {
    match (Segment::silenced(state), &state.segment, state.is_silent()) {
        (Some(closed), Some(unknown), true) => closed.close(unknown.start, &unknown.id, mapping),
        _ => Vec::new(),
    }
}

/// The `UNKNOWN` records a sweep at `now` writes again: those of the agents (as the sweep read
/// them, before its own commits) that a sweep silenced within [`SILENCE_REWRITE`] before `now`
/// (its own clock included: a retried sweep), or at or after `owed_since` (records a sweep
/// could not write: [`InstanceProgress::owed_since`]), grouped by the clock that committed
/// them, so each group is the very set, and object, that sweep wrote.
pub fn silence_rewrites(
    agents: &[AgentState],
    now: DateTime<Utc>,
    owed_since: Option<DateTime<Utc>>,
) -> Vec<(DateTime<Utc>, Vec<AgentStateRecord>)> {
    let mut groups: std::collections::BTreeMap<DateTime<Utc>, Vec<AgentStateRecord>> = Default::default();
    for agent in agents {
        if let Some(at) = agent.silenced_at
            && at <= now
            && (now - at <= SILENCE_REWRITE || owed_since.is_some_and(|owed| at >= owed))
            && let Some(record) = silence_record(agent)
        {
            groups.entry(at).or_default().push(record);
        }
    }
    groups.into_iter().collect()
}

/// What one sweep does for one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceSweep {
    /// A silence to record for the instance (it was not reported silent before).
    pub mark: Option<InstanceSilence>,
    /// The instance's `silent` record, written by every sweep while the instance is silent (the
    /// same object each time, so a write that failed once is made good).
    pub health: Option<FeedHealthRecord>,
    /// `UNKNOWN` transitions and the states to commit, by agent id.
    pub transitions: Vec<(AgentStateRecord, AgentState)>,
}

/// Judges one instance at the sweep's clock `now`, over the states of its agents that are not
/// logged out (others are ignored).
pub fn sweep_instance(
    progress: &InstanceProgress,
    agents: &[AgentState],
    now: DateTime<Utc>,
    policy: &SweepPolicy,
    mapping: &AgentStateMapping,
) -> InstanceSweep {
    let watched = agents
        .iter()
        .filter(|a| a.instance_id == progress.instance_id && !a.is_silent() && !is_logged_out(a, mapping))
        .count();
    let newly_silent = progress.silence.is_none() && watched > 0 && progress.newest_event + policy.silence <= now;
    let mark = newly_silent.then(|| InstanceSilence {
        since: progress.newest_event + policy.silence,
        last_event_time: progress.newest_event,
        agents: u32::try_from(watched).unwrap_or(u32::MAX),
    });
    let silence = mark.or(progress.silence);
    // Only a silent instance is judged against the wall clock.
    let clock = if silence.is_some() { now } else { progress.newest_event };
    let mut transitions: Vec<_> = agents
        .iter()
        .filter(|a| a.instance_id == progress.instance_id && is_silent_at(a, clock, policy.silence, mapping))
        .map(|a| {
            let (record, mut next) = silence_agent(a, policy.silence, mapping);
            next.silenced_at = Some(now);
            (record, next)
        })
        .collect();
    transitions.sort_by(|(a, _), (b, _)| a.agent_id.cmp(&b.agent_id));
    InstanceSweep {
        mark,
        health: silence.map(|s| s.silent_record(&progress.instance_id)),
        transitions,
    }
}

/// The start of the snapshot slot a sweep at `now` writes, if any: a sweep in the first minute
/// of a slot of `minutes` (slots start at midnight UTC) writes that slot's snapshot.
pub fn snapshot_slot(now: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
    if minutes == 0 {
        return None;
    }
    let slot = now.duration_trunc(Duration::minutes(i64::from(minutes))).ok()?;
    (now - slot < Duration::minutes(1)).then_some(slot)
}

/// The start of the snapshot slot `now` is in, whatever its minute (None when `minutes` is 0):
/// the slot a sweep writes when the instance's snapshot of it is not written yet.
pub fn current_snapshot_slot(now: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
    if minutes == 0 {
        return None;
    }
    now.duration_trunc(Duration::minutes(i64::from(minutes))).ok()
}

/// The snapshot of one instance's agents as of `as_of`: one record per agent seen within 24 h
/// before it, by agent id.
pub fn snapshot_records(instance_id: &str, agents: &[AgentState], as_of: DateTime<Utc>) -> Vec<AgentSnapshotRecord> {
    let mut records: Vec<_> = agents
        .iter()
        .filter(|a| a.instance_id == instance_id && !a.excluded && a.last_seen >= as_of - SNAPSHOT_LOOKBACK)
        .map(|a| AgentSnapshotRecord {
            kind: AgentSnapshotRecord::KIND,
            schema: SCHEMA,
            instance_id: a.instance_id.clone(),
            agent_id: a.agent_id.clone(),
            agent_login: a.agent_login.clone(),
            state: a.state.clone(),
            reason: a.reason.clone(),
            activity: a.activity,
            since: a.since,
            contact: a.contact.clone(),
            last_seen: a.last_seen,
            as_of,
        })
        .collect();
    records.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    records
}

/// Whether a last-seen write throttle of `write_after` keeps every agent that sends its
/// heartbeats from being judged silent after `silence`: the stored last-seen lags the agent's
/// newest event by less than `write_after` + one heartbeat period, which must stay below the
/// silence threshold.
pub fn throttle_fits_silence(write_after: Duration, silence: Duration) -> bool {
    write_after + HEARTBEAT_PERIOD < silence
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::agent::{Activity, Watermark};

    fn t(clock: &str) -> DateTime<Utc> {
        format!("2026-11-21T{clock}Z").parse().unwrap()
    }

    fn agent(id: &str, state: &str, last_seen: &str) -> AgentState {
        AgentState {
            stream_newest: None,
            agent_arn: format!("arn:aws:connect:eu-west-1:1:instance/i-1/agent/{id}"),
            agent_id: id.into(),
            instance_id: "i-1".into(),
            agent_login: Some(format!("login-{id}")),
            state: state.into(),
            reason: "Open".into(),
            activity: Activity::Open,
            since: t("08:00:00"),
            contact: None,
            watermark: Watermark::new(t(last_seen), "e-1"),
            last_seen: t(last_seen),
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

    fn progress(newest: &str) -> InstanceProgress {
        InstanceProgress {
            instance_id: "i-1".into(),
            newest_event: t(newest),
            silence: None,
            snapshot_slot: None,
            owed_since: None,
            agent_intervals_done: None,
            changed_intervals: Vec::new(),
        }
    }

    fn ids(sweep: &InstanceSweep) -> Vec<&str> {
        sweep.transitions.iter().map(|(r, _)| r.agent_id.as_str()).collect()
    }

    #[test]
    fn a_silent_agent_becomes_unknown_exactly_as_feed_md_says() {
        let available = agent("a-1", "Available", "10:00:00.250");
        let (record, next) = silence_agent(&available, Duration::seconds(300), &AgentStateMapping::default());
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({
                "kind": "agent_state", "schema": 1, "instance_id": "i-1", "agent_id": "a-1",
                "agent_login": "login-a-1", "state": "UNKNOWN", "reason": "No signal",
                "activity": "Closed", "since": "2026-11-21T10:05:00.250Z",
                "previous_state": "Available", "contact": null,
                "event_id": "silence-a-1-1795255200250", "event_type": "SILENCE",
                "event_time": "2026-11-21T10:05:00.250Z"
            })
        );
        assert_eq!(next.silent_since, Some(t("10:05:00.250")));
        assert_eq!(
            next.watermark, available.watermark,
            "UNKNOWN does not move the watermark"
        );
        assert_eq!(next.last_seen, available.last_seen);
        assert!(
            next.may_replace(&available),
            "the sweep's commit orders past the state it read"
        );
        assert!(!next.may_replace(&next), "a second sweep commits nothing");
    }

    #[test]
    fn silence_is_judged_against_the_instance_progress_not_the_clock() {
        let agents = [
            agent("a-1", "Available", "10:00:00"),
            agent("a-2", "Break", "10:01:00"),
            agent("a-3", "LOGOUT", "09:00:00"),
        ];
        let policy = SweepPolicy::default();
        let mapping = AgentStateMapping::default();
        // The clock is far ahead but the stream is at 10:04:59.999: nobody is silent yet.
        let behind = sweep_instance(&progress("10:04:59.999"), &agents, t("10:04:00"), &policy, &mapping);
        assert_eq!(behind, InstanceSweep::default());
        // At 10:05 (progress) a-1 has sent nothing for 300 s; a-3 is logged out.
        let sweep = sweep_instance(&progress("10:05:00"), &agents, t("10:05:30"), &policy, &mapping);
        assert_eq!(ids(&sweep), ["a-1"]);
        assert_eq!((sweep.mark, sweep.health), (None, None));
        // An UNKNOWN agent is not emitted again.
        let mut again = agents.clone();
        again[0] = sweep.transitions[0].1.clone();
        let sweep = sweep_instance(&progress("10:05:00"), &again, t("10:05:30"), &policy, &mapping);
        assert!(sweep.transitions.is_empty());
    }

    #[test]
    fn heartbeats_after_logout_never_make_an_agent_unknown() {
        let out = agent("a-1", "LOGOUT", "10:00:00");
        let mapping = AgentStateMapping::default();
        assert!(!is_silent_at(&out, t("23:00:00"), Duration::seconds(300), &mapping));
        let mut renamed = AgentStateMapping::default();
        renamed
            .merge_json(json!([{"name": "Logout", "event_id": "SIGNED-OFF", "reason": "Logout", "activity": "Closed"}]))
            .unwrap();
        let out = agent("a-1", "SIGNED-OFF", "10:00:00");
        assert!(!is_silent_at(&out, t("23:00:00"), Duration::seconds(300), &renamed));
    }

    #[test]
    fn a_quiet_instance_is_reported_silent_once_and_its_agents_judged_by_the_clock() {
        let agents = [
            agent("a-2", "Available", "10:00:00"),
            agent("a-1", "Break", "09:58:00"),
            agent("a-3", "LOGOUT", "09:59:00"),
        ];
        let policy = SweepPolicy::default();
        let mapping = AgentStateMapping::default();
        let not_yet = sweep_instance(&progress("10:00:00"), &agents, t("10:04:59.999"), &policy, &mapping);
        assert_eq!(not_yet, InstanceSweep::default());
        let sweep = sweep_instance(&progress("10:00:00"), &agents, t("10:05:00"), &policy, &mapping);
        let silence = InstanceSilence {
            since: t("10:05:00"),
            last_event_time: t("10:00:00"),
            agents: 2,
        };
        assert_eq!(sweep.mark, Some(silence));
        assert_eq!(sweep.health, Some(silence.silent_record("i-1")));
        assert_eq!(
            sweep.health.as_ref().unwrap().event_id,
            "health-i-1-agent_events-silent-1795255500000"
        );
        assert_eq!(ids(&sweep), ["a-1", "a-2"], "every affected agent, by id");
        // Reported already: the same record again, no new mark, no agent twice.
        let marked = InstanceProgress {
            silence: Some(silence),
            ..progress("10:00:00")
        };
        let silenced: Vec<_> = sweep.transitions.iter().map(|(_, s)| s.clone()).collect();
        let next = sweep_instance(&marked, &silenced, t("10:06:00"), &policy, &mapping);
        assert_eq!((next.mark, next.health), (None, Some(silence.silent_record("i-1"))));
        assert!(next.transitions.is_empty());
    }

    #[test]
    fn an_instance_without_logged_in_agents_is_never_silent() {
        let agents = [agent("a-3", "LOGOUT", "09:59:00")];
        let sweep = sweep_instance(
            &progress("10:00:00"),
            &agents,
            t("23:00:00"),
            &SweepPolicy::default(),
            &AgentStateMapping::default(),
        );
        assert_eq!(sweep, InstanceSweep::default());
    }

    #[test]
    fn the_ok_record_carries_the_silence_and_the_first_new_event() {
        let silence = InstanceSilence {
            since: t("10:05:00"),
            last_event_time: t("10:00:00"),
            agents: 2,
        };
        let ok = silence.ok_record("i-1", t("10:30:00.125"));
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({
                "kind": "feed_health", "schema": 1, "instance_id": "i-1", "source": "agent_events",
                "status": "ok", "since": "2026-11-21T10:30:00.125Z",
                "last_event_time": "2026-11-21T10:00:00.000Z",
                "agents": 2, "event_id": "health-i-1-agent_events-ok-1795257000125"
            })
        );
    }

    #[test]
    fn a_mapping_renames_unknown() {
        let mut mapping = AgentStateMapping::default();
        mapping
            .merge_json(json!([{"name": "Unknown", "event_id": "STALE", "reason": "No heartbeat", "activity": "Open"}]))
            .unwrap();
        let (record, next) = silence_agent(&agent("a-1", "Available", "10:00:00"), Duration::seconds(60), &mapping);
        assert_eq!(
            (
                record.state.as_str(),
                record.reason.as_str(),
                record.activity,
                record.since
            ),
            ("STALE", "No heartbeat", Activity::Open, t("10:01:00"))
        );
        assert_eq!((next.state.as_str(), next.silent_since), ("STALE", Some(t("10:01:00"))));
    }

    #[test]
    fn snapshots_start_in_the_first_minute_of_each_slot() {
        assert_eq!(snapshot_slot(t("10:00:00"), 15), Some(t("10:00:00")));
        assert_eq!(snapshot_slot(t("10:15:59.999"), 15), Some(t("10:15:00")));
        assert_eq!(snapshot_slot(t("10:16:00"), 15), None);
        assert_eq!(snapshot_slot(t("10:14:30"), 15), None);
        assert_eq!(snapshot_slot(t("10:07:10"), 1), Some(t("10:07:00")));
        assert_eq!(snapshot_slot(t("10:00:00"), 0), None, "0 = never");
    }

    #[test]
    fn a_snapshot_lists_agents_seen_within_24_hours_with_every_field() {
        let mut on_call = agent("a-2", "VOICE-INBOUND-CONNECTED", "10:00:00.500");
        on_call.contact = Some(crate::agent::ContactRef {
            contact_id: "c-1".into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            queue: Some("Support".into()),
        });
        let mut yesterday = agent("a-1", "LOGOUT", "10:00:00");
        yesterday.last_seen = t("10:00:00") - Duration::hours(24);
        let mut older = agent("a-0", "LOGOUT", "10:00:00");
        older.last_seen = t("09:59:59.999") - Duration::hours(24);
        let mut other = agent("b-1", "Available", "10:00:00");
        other.instance_id = "i-2".into();
        let records = snapshot_records("i-1", &[on_call, older, yesterday, other], t("10:00:00"));
        let got: Vec<_> = records.iter().map(|r| r.agent_id.as_str()).collect();
        assert_eq!(got, ["a-1", "a-2"]);
        assert_eq!(
            serde_json::to_value(&records[1]).unwrap(),
            json!({
                "kind": "agent_snapshot", "schema": 1, "instance_id": "i-1", "agent_id": "a-2",
                "agent_login": "login-a-2", "state": "VOICE-INBOUND-CONNECTED", "reason": "Open",
                "activity": "Open", "since": "2026-11-21T08:00:00.000Z",
                "contact": {"contact_id": "c-1", "channel": "VOICE", "initiation_method": "INBOUND", "queue": "Support"},
                "last_seen": "2026-11-21T10:00:00.500Z",
                "as_of": "2026-11-21T10:00:00.000Z"
            })
        );
    }

    #[test]
    fn the_default_throttle_fits_the_default_silence() {
        let silence = Duration::seconds(DEFAULT_SILENCE_SECONDS);
        assert!(throttle_fits_silence(
            crate::agent::FoldPolicy::default().last_seen_write_after,
            silence
        ));
        assert!(
            !throttle_fits_silence(Duration::seconds(600), silence),
            "the old 600 s did not"
        );
        assert!(!throttle_fits_silence(Duration::seconds(180), silence));
    }
}
