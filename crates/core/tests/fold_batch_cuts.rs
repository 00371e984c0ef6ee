//! Property test: one agent's feed and stored state do not depend on how its records are cut
//! into batches, nor on a batch being delivered again (issue "Nothing left to luck", item 2).
//!
//! The agent-events handler is modelled exactly as far as the fold is concerned: each batch
//! folds over the stored state, its transitions go to the feed, and `next` is stored only when
//! `write` is true, through the stores' commit condition. The sweep's `UNKNOWN` runs at the
//! same place in every cut, and once more at the end, as a sweep after a replay does.

use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use connect_wfm_core::agent::{
    AgentActivityRecord, AgentConfiguration, AgentEvent, AgentFold, AgentSnapshot, AgentState, AgentStateMapping,
    AgentStatus, Contact, EventType, FoldPolicy, fold_agent, is_silent_at, silence_agent, silence_pieces,
};
use connect_wfm_core::feed::AgentStateRecord;
use proptest::prelude::*;
use proptest::sample::Index;

const AGENT_ARN: &str = "arn:aws:connect:eu-west-1:111122223333:instance/i-1/agent/a-1";
const INSTANCE_ARN: &str = "arn:aws:connect:eu-west-1:111122223333:instance/i-1";
const STATUSES: [&str; 3] = ["Available", "Break", "Offline"];
const CONTACT_STATES: [&str; 3] = ["CONNECTING", "CONNECTED", "ENDED"];
const SILENCE: Duration = Duration::seconds(300);

fn start() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

/// One record of the generated stream.
#[derive(Debug, Clone)]
enum Step {
    Login,
    Logout,
    /// STATE_CHANGE to `STATUSES[i]`, no contact.
    Status(usize),
    /// STATE_CHANGE of contact `c<n>` to `CONTACT_STATES[i]`, the status unchanged.
    Contact(u8, usize),
    /// HEART_BEAT showing what the agent is doing (after a LOGOUT: Offline).
    HeartBeat,
    /// An earlier record again, the same EventId and content (a Kinesis re-delivery).
    Repeat(Index),
}

/// When a record happened, relative to the stream's clock (the newest in-order record).
#[derive(Debug, Clone)]
enum When {
    /// In order, this many milliseconds after the clock.
    After(i64),
    /// Late: this many milliseconds before the clock, which stays where it is.
    Late(i64),
    /// The same millisecond as the record before it, with another EventId.
    SameMs,
}

/// What the agent is doing, as the in-order records show it (heartbeats repeat it).
#[derive(Debug, Clone)]
struct Doing {
    status: &'static str,
    status_since: DateTime<Utc>,
    contact: Option<(u8, &'static str, DateTime<Utc>)>,
}

impl Doing {
    /// What `step` at `at` makes of `self`.
    fn after(&self, step: &Step, at: DateTime<Utc>) -> Doing {
        match step {
            Step::Logout => Doing {
                status: "Offline",
                status_since: at,
                contact: None,
            },
            Step::Status(i) => Doing {
                status: STATUSES[*i],
                status_since: at,
                contact: None,
            },
            Step::Contact(c, i) => Doing {
                contact: Some((*c, CONTACT_STATES[*i], at)),
                ..self.clone()
            },
            Step::Login | Step::HeartBeat | Step::Repeat(_) => self.clone(),
        }
    }

    fn snapshot(&self) -> AgentSnapshot {
        AgentSnapshot {
            agent_status: Some(AgentStatus {
                arn: None,
                name: self.status.into(),
                type_: None,
                start_timestamp: Some(self.status_since),
            }),
            configuration: Some(AgentConfiguration {
                username: Some("jdoe".into()),
                ..AgentConfiguration::default()
            }),
            contacts: self
                .contact
                .iter()
                .map(|(c, state, since)| Contact {
                    contact_id: format!("c{c}"),
                    channel: "VOICE".into(),
                    initiation_method: "INBOUND".into(),
                    state: (*state).into(),
                    state_start_timestamp: Some(*since),
                    ..Contact::default()
                })
                .collect(),
            ..AgentSnapshot::default()
        }
    }
}

fn event_type(step: &Step) -> EventType {
    match step {
        Step::Login => EventType::Login,
        Step::Logout => EventType::Logout,
        Step::HeartBeat => EventType::HeartBeat,
        Step::Status(_) | Step::Contact(..) | Step::Repeat(_) => EventType::StateChange,
    }
}

/// The agent events of `steps`, in stream order; record `i` has EventId `e<i>` unless it
/// repeats an earlier one.
fn stream(steps: &[(Step, When)]) -> Vec<AgentEvent> {
    let mut events: Vec<AgentEvent> = Vec::with_capacity(steps.len());
    let mut clock = start();
    let mut doing = Doing {
        status: "Offline",
        status_since: start(),
        contact: None,
    };
    for (i, (step, when)) in steps.iter().enumerate() {
        if let Step::Repeat(which) = step
            && !events.is_empty()
        {
            events.push(events[which.index(events.len())].clone());
            continue;
        }
        let at = match when {
            When::After(ms) => {
                clock += Duration::milliseconds(*ms);
                clock
            }
            When::Late(ms) => clock - Duration::milliseconds(*ms),
            When::SameMs => events.last().map_or(clock, |e| e.event_timestamp),
        };
        let shown = doing.after(step, at);
        events.push(AgentEvent {
            aws_account_id: None,
            agent_arn: AGENT_ARN.into(),
            instance_arn: INSTANCE_ARN.into(),
            event_id: format!("e{i}"),
            event_timestamp: at,
            event_type: event_type(step),
            version: "2019-05-25".into(),
            current: Some(shown.snapshot()),
            previous: None,
        });
        // A late record happened before what the agent is doing now: it changes nothing of it.
        if !matches!(when, When::Late(_)) {
            doing = shown;
        }
    }
    events
}

/// How a batch is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Once,
    /// Committed, then delivered again (Lambda retried the batch for another agent's sake).
    AgainAfterCommit,
    /// Its transitions reached the feed but its commit failed: Lambda delivers it again, with
    /// the next batch's records after it.
    AgainAfterFailedCommit,
}

/// The agent's stored state and the feed, as the handler and the sweep leave them.
#[derive(Debug, Default)]
struct World {
    stored: Option<AgentState>,
    /// (stream index of the event, record); None for the sweep's records.
    feed: Vec<(Option<usize>, AgentStateRecord)>,
    /// The `agent_activity` pieces written, a repeat written again counted once (consumers drop
    /// repeats by (segment_id, interval_start)).
    pieces: std::collections::BTreeSet<String>,
}

impl World {
    fn fold(&self, events: &[AgentEvent], policy: &FoldPolicy) -> AgentFold {
        let refs: Vec<&AgentEvent> = events.iter().collect();
        fold_agent(self.stored.as_ref(), &refs, &AgentStateMapping::default(), policy)
    }

    /// The fold's transitions, written to the feed; `first` is the stream index of its event 0.
    fn publish(&mut self, first: usize, fold: &AgentFold) {
        self.feed
            .extend(fold.transitions.iter().map(|(i, r)| (Some(first + i), r.clone())));
        self.add_pieces(fold.pieces.iter().map(|(_, p)| p));
    }

    fn add_pieces<'a>(&mut self, pieces: impl Iterator<Item = &'a AgentActivityRecord>) {
        self.pieces
            .extend(pieces.map(|p| serde_json::to_string(p).expect("a piece serialises")));
    }

    /// The pieces, in time order.
    fn timeline(&self) -> Vec<AgentActivityRecord> {
        let mut pieces: Vec<AgentActivityRecord> = self
            .pieces
            .iter()
            .map(|p| serde_json::from_str(p).expect("a piece reads back"))
            .collect();
        pieces.sort_by_key(|p| (p.start, p.end));
        pieces
    }

    /// The handler's commit: `next` only when `write`, through the stores' commit condition,
    /// which a fold over the stored state must always meet.
    fn commit(&mut self, fold: AgentFold) {
        assert!(
            fold.write || fold.transitions.is_empty(),
            "transitions were published, their state must be written"
        );
        if !fold.write {
            return;
        }
        let next = fold.next.expect("a fold that writes has a state");
        if let Some(stored) = &self.stored {
            assert!(
                next.may_replace(stored),
                "the store would refuse the commit: {next:?} over {stored:?}"
            );
        }
        self.stored = Some(next);
    }

    /// One batch delivered once: fold, publish, commit.
    fn deliver(&mut self, events: &[AgentEvent], first: usize, policy: &FoldPolicy) -> usize {
        let fold = self.fold(events, policy);
        self.publish(first, &fold);
        self.commit(fold);
        events.len()
    }

    /// A committed batch delivered again emits nothing and writes nothing.
    fn deliver_twice(&mut self, events: &[AgentEvent], first: usize, policy: &FoldPolicy) -> usize {
        self.deliver(events, first, policy);
        let again = self.fold(events, policy);
        assert!(
            again.transitions.is_empty() && !again.write,
            "a committed batch delivered again: {again:?}"
        );
        events.len()
    }

    /// A batch whose commit failed, delivered again with `more` after it: the retry emits the
    /// first attempt's records again, the same ones (consumers drop them by event_id), then
    /// those of `more`. Returns how many records the retry covered.
    fn deliver_after_failed_commit(
        &mut self,
        events: &[AgentEvent],
        more: &[AgentEvent],
        first: usize,
        policy: &FoldPolicy,
    ) -> usize {
        let attempt = self.fold(events, policy);
        self.publish(first, &attempt);
        let retry_events: Vec<AgentEvent> = events.iter().chain(more).cloned().collect();
        let retry = self.fold(&retry_events, policy);
        let (repeated, new): (Vec<_>, Vec<_>) = retry.transitions.iter().cloned().partition(|(i, _)| *i < events.len());
        assert_eq!(repeated, attempt.transitions, "the retry repeats the attempt's records");
        self.feed.extend(new.into_iter().map(|(i, r)| (Some(first + i), r)));
        self.add_pieces(retry.pieces.iter().map(|(_, p)| p));
        self.commit(retry);
        retry_events.len()
    }

    /// The sweep, with a clock far enough ahead: an agent not logged out and not `UNKNOWN`
    /// goes `UNKNOWN`, its watermark kept.
    fn sweep(&mut self) {
        let mapping = AgentStateMapping::default();
        let far = start() + Duration::days(1);
        if let Some(state) = &self.stored
            && is_silent_at(state, far, SILENCE, &mapping)
        {
            let (record, next) = silence_agent(state, SILENCE, &mapping);
            assert!(next.may_replace(state));
            self.feed.push((None, record));
            self.add_pieces(silence_pieces(&next, &mapping).iter());
            self.stored = Some(next);
        }
    }
}

/// The batches of `n` records: cut after record i when `cut_after(i)`, and always at `sweep`.
fn batches(n: usize, cut_after: impl Fn(usize) -> bool, sweep: Option<usize>) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    for end in 1..=n {
        if end == n || cut_after(end - 1) || sweep == Some(end) {
            batches.push(start..end);
            start = end;
        }
    }
    batches
}

/// Replays `events` cut into `batches`, each delivered as `delivery` says, the sweep running
/// before record `sweep` and after the last one.
fn replay(
    events: &[AgentEvent],
    batches: &[Range<usize>],
    delivery: impl Fn(usize) -> Delivery,
    sweep: Option<usize>,
    policy: &FoldPolicy,
) -> World {
    let mut world = World::default();
    let mut next = 0;
    for (b, batch) in batches.iter().enumerate() {
        if batch.start < next {
            continue; // delivered with the batch before it
        }
        if sweep == Some(batch.start) {
            world.sweep();
        }
        let records = &events[batch.clone()];
        let covered = match delivery(b) {
            Delivery::Once => world.deliver(records, batch.start, policy),
            Delivery::AgainAfterCommit => world.deliver_twice(records, batch.start, policy),
            Delivery::AgainAfterFailedCommit => {
                // The retry starts at this batch and runs on up to the sweep, if any.
                let more = batches
                    .get(b + 1)
                    .filter(|after| sweep != Some(after.start))
                    .map_or(&events[0..0], |after| &events[after.clone()]);
                world.deliver_after_failed_commit(records, more, batch.start, policy)
            }
        };
        next = batch.start + covered;
    }
    world.sweep();
    world
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Login),
        1 => Just(Step::Logout),
        3 => (0..STATUSES.len()).prop_map(Step::Status),
        2 => (0u8..2, 0..CONTACT_STATES.len()).prop_map(|(c, s)| Step::Contact(c, s)),
        4 => Just(Step::HeartBeat),
        1 => any::<Index>().prop_map(Step::Repeat),
    ]
}

/// Seconds apart, about a heartbeat period apart (around the 150 s throttle), late by up to
/// 200 s, or in the same millisecond.
fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        3 => (0i64..5_000).prop_map(When::After),
        4 => (100_000i64..=200_000).prop_map(When::After),
        2 => (1i64..=200_000).prop_map(When::Late),
        1 => Just(When::SameMs),
    ]
}

/// Mostly the default 150 s throttle; sometimes any up to 300 s, none included.
fn policy() -> impl Strategy<Value = FoldPolicy> {
    prop_oneof![
        3 => Just(FoldPolicy::default()),
        1 => (0i64..=300_000).prop_map(|ms| FoldPolicy { last_seen_write_after: Duration::milliseconds(ms), ..FoldPolicy::default() }),
    ]
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        4 => Just(Delivery::Once),
        1 => Just(Delivery::AgainAfterCommit),
        1 => Just(Delivery::AgainAfterFailedCommit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// One batch (delivered twice), one record per batch, and random cuts with random
    /// re-deliveries give the same feed, record for record, and the same stored state.
    #[test]
    fn batch_cuts_and_retries_change_nothing(
        steps in prop::collection::vec((step(), when()), 1..40),
        policy in policy(),
        sweep in prop::option::of(any::<Index>()),
        cuts in prop::collection::vec(any::<bool>(), 40),
        retried in prop::collection::vec((any::<bool>(), delivery()), 40),
    ) {
        let events = stream(&steps);
        let n = events.len();
        let sweep = sweep.map(|i| i.index(n));
        let one = replay(&events, &batches(n, |_| false, sweep), |_| Delivery::AgainAfterCommit, sweep, &policy);

        // Each event emits at most once, a duplicate or a re-delivery included. (The sweep's
        // records are left out: two silences with the same last-seen share an id.)
        let mut ids: Vec<&str> = one.feed.iter().filter(|(i, _)| i.is_some()).map(|(_, r)| r.event_id.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        prop_assert_eq!(ids.len(), before, "an event emitted twice: {:?}", one.feed);

        let per_record = replay(&events, &batches(n, |_| true, sweep), |_| Delivery::Once, sweep, &policy);
        let cut = replay(&events, &batches(n, |i| cuts[i], sweep), |_| Delivery::Once, sweep, &policy);
        let retried_cuts = batches(n, |i| retried[i].0, sweep);
        let again = replay(&events, &retried_cuts, |b| retried[b].1, sweep, &policy);
        for (what, other) in [("one record per batch", &per_record), ("random cuts", &cut), ("random cuts, re-delivered", &again)] {
            prop_assert_eq!(&other.feed, &one.feed, "feed, {}", what);
            prop_assert_eq!(&other.stored, &one.stored, "stored state, {}", what);
            prop_assert_eq!(&other.pieces, &one.pieces, "agent_activity pieces, {}", what);
        }

        // The pieces never overlap, each lies in its interval, and they are exactly the
        // segments the transitions give (feed.md): each starts at its since or where the one
        // before it started, if later, and ends where the next starts; LOGOUT and empty
        // segments have no pieces, the open segment none yet.
        let timeline = one.timeline();
        for p in &timeline {
            prop_assert!(p.start < p.end && p.duration_ms == (p.end - p.start).num_milliseconds());
            prop_assert!(p.interval_start <= p.start && p.end <= p.interval_start + Duration::minutes(15));
        }
        for pair in timeline.windows(2) {
            prop_assert!(pair[1].start >= pair[0].end, "overlap: {:?} and {:?}", pair[0], pair[1]);
        }
        let mut expected = Vec::new();
        let mut open: Option<(DateTime<Utc>, &AgentStateRecord)> = None;
        for (_, r) in &one.feed {
            let start = open.map_or(r.since, |(s, _)| s.max(r.since));
            if let Some((from, previous)) = open
                && previous.state != "LOGOUT"
            {
                for (_, a, b) in connect_wfm_core::agent::cut(from, start) {
                    expected.push((previous.state.clone(), a, b, previous.event_id.clone(), r.event_id.clone()));
                }
            }
            open = Some((start, r));
        }
        let actual: Vec<_> = timeline
            .iter()
            .map(|p| (p.state.clone(), p.start, p.end, p.segment_id.clone(), p.closed_by.clone()))
            .collect();
        prop_assert_eq!(actual, expected, "the pieces of the transitions {:?}", one.feed);
    }
}
