//! Every Kinesis sample in events/ through the handler with fresh in-memory ports: the
//! transitions must be those listed in events/expected/<file>.states.txt (per agent, in
//! order), and a second pass over the same file must emit nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use connect_wfm_core::memory::{MemoryFeedSink, MemoryStateStore};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn per_agent(lines: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (agent, state) in lines {
        map.entry(agent).or_default().push(state);
    }
    map
}

#[tokio::test]
async fn every_kinesis_sample_gives_its_expected_transitions_once() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("kinesis-"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "samples missing: {files:?}");

    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let batch: KinesisBatch = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let expected_path = events_dir().join("expected").join(name.replace(".json", ".states.txt"));
        let expected_text = std::fs::read_to_string(&expected_path).unwrap();
        let expected = per_agent(expected_text.lines().filter(|l| !l.trim().is_empty()).map(|l| {
            let (agent, state) = l.split_once(' ').unwrap();
            (agent.to_owned(), state.trim().to_owned())
        }));

        let (store, sink) = (MemoryStateStore::default(), MemoryFeedSink::default());
        let now = "2026-11-20T12:00:00Z".parse().unwrap();
        let outcome = handle_batch(&batch, &store, &sink, &Settings::default(), now).await;
        assert_eq!(outcome.failed_from(), None, "{name}");
        let got = per_agent(sink.lines("agent_state/").iter().map(|l| {
            (
                l["agent_id"].as_str().unwrap().to_owned(),
                l["state"].as_str().unwrap().to_owned(),
            )
        }));
        assert_eq!(got, expected, "{name}");

        let puts = sink.keys().len();
        let again = handle_batch(&batch, &store, &sink, &Settings::default(), now).await;
        assert_eq!(again.stats.transitions, 0, "{name}: second pass emitted");
        assert_eq!(
            again.stats.rejected, outcome.stats.rejected,
            "{name}: rejects are kept every time"
        );
        assert_eq!(sink.keys().len(), puts, "{name}: second pass wrote a new object");
    }
}
