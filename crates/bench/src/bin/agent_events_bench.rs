//! Agent events through the agent-events handler with in-memory ports, on one thread: the
//! Lambda event JSON is parsed, every record base64-decoded and decoded, folded over the
//! agents' last-known states, and the transitions encoded as JSON Lines.
//!
//!   agent_events_bench [records] [agents] [compact]
//!                                            throughput (default 200,000 records, 1,000 agents;
//!                                            `compact`: only the fields the connector reads)
//!   agent_events_bench rss [records] [n]    peak RSS of one batch of `records` (default 10,000),
//!                                            and after `n` such invocations (default 1)
//!
//! Events are Connect's full snapshots (names, routing profile, hierarchy), about 4 KB each,
//! with 2 % duplicates, 2 % late copies and 1 % bad records mixed in.

#![forbid(unsafe_code)]

use std::time::Instant;

use chrono::Utc;
use connect_wfm_bench::{peak_rss_kib, rss_kib, thousands};
use connect_wfm_core::memory::MemoryStateStore;
use connect_wfm_core::ports::{FeedSink, PortError};
use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream, kinesis_records};
use connect_wfm_handlers::agent_events::{KinesisBatch, Settings, handle_batch};
use serde_json::json;

/// The functions' allocator, so the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A feed sink that keeps only the byte count: the feed's cost is its encoding, not storage.
#[derive(Default)]
struct CountingSink {
    bytes: std::sync::atomic::AtomicUsize,
}

impl FeedSink for CountingSink {
    async fn put(&self, _key: &str, body: connect_wfm_core::feed::FeedBody) -> Result<(), PortError> {
        self.bytes
            .fetch_add(body.bytes().len(), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

fn spec(records: usize, agents: usize, verbose: bool) -> StreamSpec {
    StreamSpec {
        seed: 7,
        agents,
        records,
        verbose,
        ..StreamSpec::default()
    }
}

/// Lambda events of up to `batch` records each, as the bytes the runtime would receive.
fn lambda_events(data: &[Vec<u8>], batch: usize) -> Vec<Vec<u8>> {
    data.chunks(batch)
        .enumerate()
        .map(|(i, chunk)| {
            let records = kinesis_records(chunk, "shardId-000000000000", 1 + (i * batch) as u64);
            serde_json::to_vec(&json!({ "Records": records })).expect("events serialise")
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn throughput(records: usize, agents: usize, verbose: bool) {
    let data = agent_event_stream(&spec(records, agents, verbose));
    let record_bytes: usize = data.iter().map(Vec::len).sum();
    let events = lambda_events(&data, 100);
    drop(data);
    let (states, sink, settings) = (
        MemoryStateStore::default(),
        CountingSink::default(),
        Settings::default(),
    );
    let rt = runtime();
    let started = Instant::now();
    let (transitions, rejected) = run_batches(&rt, &events, &states, &sink, &settings);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "agent events: {} records ({} agents, {} B average, batches of 100) in {:.3} s on one thread",
        thousands(records as u64),
        thousands(agents as u64),
        record_bytes / records.max(1),
        seconds
    );
    println!(
        "  {} events/s; {} transitions, {} rejected, {} feed bytes",
        thousands((records as f64 / seconds) as u64),
        thousands(transitions as u64),
        rejected,
        thousands(sink.bytes.load(std::sync::atomic::Ordering::Relaxed) as u64)
    );
}

/// The measured part: each Lambda event's bytes read and handled. Its own function, never
/// inlined, so an instruction count can be limited to it
/// (`valgrind --tool=callgrind --toggle-collect='*run_batches*'`).
#[inline(never)]
fn run_batches(
    rt: &tokio::runtime::Runtime,
    events: &[Vec<u8>],
    states: &MemoryStateStore,
    sink: &CountingSink,
    settings: &Settings,
) -> (usize, usize) {
    let now = Utc::now();
    let (mut transitions, mut rejected) = (0, 0);
    for event in events {
        let batch: KinesisBatch = serde_json::from_slice(event).expect("a Kinesis event");
        let outcome = rt.block_on(handle_batch(&batch, states, sink, settings, now));
        assert!(outcome.failed_from().is_none(), "in-memory ports never fail");
        transitions += outcome.stats.transitions;
        rejected += outcome.stats.rejected;
    }
    (transitions, rejected)
}

/// Peak RSS of the handler on one batch of `records` records, and after `invocations` such
/// batches: the Lambda event is generated here and written to a file, then a fresh process
/// (this program, `rss-of`) reads it like the runtime receives an invocation's body, parses
/// and handles it, `invocations` times; so the figures hold only what the function holds.
fn peak_rss(records: usize, invocations: usize) {
    // Compact events: a 10,000-record batch of full snapshots would not fit Lambda's 6 MB
    // invocation payload.
    let data = agent_event_stream(&spec(records, 1000, false));
    let event = lambda_events(&data, records).remove(0);
    drop(data);
    let path = std::env::temp_dir().join(format!("agent-events-bench-{}.json", std::process::id()));
    std::fs::write(&path, &event).expect("write the Lambda event");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .arg("rss-of")
        .arg(&path)
        .arg(invocations.to_string())
        .status()
        .expect("run rss-of");
    let _ = std::fs::remove_file(&path);
    assert!(status.success(), "rss-of failed");
}

/// `rss-of FILE N`: the measuring half of [`peak_rss`].
fn rss_of(path: &str, invocations: usize) {
    let at_start = rss_kib();
    let rt = runtime();
    let settings = Settings::default();
    let mut after_first = (0, 0);
    let mut stats = None;
    for invocation in 1..=invocations.max(1) {
        let event = std::fs::read(path).expect("read the Lambda event");
        let payload = event.len();
        // A fresh store each time: every invocation does the first batch's full work.
        let (states, sink) = (MemoryStateStore::default(), CountingSink::default());
        let batch: KinesisBatch = serde_json::from_slice(&event).expect("a Kinesis event");
        drop(event);
        let outcome = rt.block_on(handle_batch(&batch, &states, &sink, &settings, Utc::now()));
        drop(batch);
        if invocation == 1 {
            after_first = (peak_rss_kib(), rss_kib());
            stats = Some((outcome.stats.records, outcome.stats.transitions, payload));
        }
    }
    let (records, transitions, payload) = stats.expect("one invocation ran");
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!(
        "agent events: one batch of {} records ({} transitions), Lambda payload {:.1} MB",
        thousands(records as u64),
        thousands(transitions as u64),
        payload as f64 / 1e6
    );
    println!(
        "  peak RSS {:.1} MB after the first invocation, {:.1} MB after {invocations}; RSS between invocations {:.1} -> {:.1} MB (process at start {:.1} MB)",
        mb(after_first.0),
        mb(peak_rss_kib()),
        mb(after_first.1),
        mb(rss_kib()),
        mb(at_start)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("rss") => peak_rss(number(1, 10_000), number(2, 1)),
        Some("rss-of") => rss_of(&args[1], number(2, 1)),
        _ => throughput(
            number(0, 200_000),
            number(1, 1_000),
            args.get(2).map(String::as_str) != Some("compact"),
        ),
    }
}
