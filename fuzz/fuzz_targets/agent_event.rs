//! Fuzz target: the agent-event decoder, and the fold and feed encoding of what it accepts.
//! Any input must give an event or a DecodeError with a reason, never a panic; an accepted
//! event must fold (first sight and over its own state) and serialise.
#![no_main]

use connect_wfm_core::agent::{AgentStateMapping, FoldPolicy, decode_agent_event, fold_agent};
use connect_wfm_core::feed::to_json_lines;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let event = match decode_agent_event(data) {
        Ok(event) => event,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let (mapping, policy) = (AgentStateMapping::default(), FoldPolicy::default());
    let first = fold_agent(None, &[&event, &event], &mapping, &policy);
    assert!(first.transitions.len() <= 1, "a duplicate never emits twice");
    let records: Vec<_> = first.transitions.iter().map(|(_, r)| r.clone()).collect();
    let lines = to_json_lines(&records);
    for line in lines.bytes().split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("feed lines are JSON");
    }
    if let Some(state) = &first.next {
        let again = fold_agent(Some(state), &[&event], &mapping, &policy);
        assert!(again.transitions.is_empty() && !again.write, "a replay is harmless");
    }
    // A serialised event decodes to the same event, its timestamp at the feed's precision
    // (milliseconds: a finer source fraction is truncated, as the watermark compares it).
    let text = serde_json::to_vec(&event).expect("events serialise");
    let back = decode_agent_event(&text).expect("a serialised event decodes");
    assert_eq!(back.event_id, event.event_id);
    assert_eq!(back.event_timestamp.timestamp_millis(), event.event_timestamp.timestamp_millis());
});
