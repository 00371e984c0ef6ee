//! Writes a simulated day of agent events as JSON Lines on stdout (the synthetic stream of the
//! benchmarks: about one event a second across the floor, from 08:00 UTC), for
//! `connect-wfm replay` and `connect-wfm timeline`:
//!
//! ```sh
//! cargo run -q -p connect-wfm-core --features sim --example agent_day -- 100 28800 > /tmp/day.jsonl
//! ```

use std::io::Write as _;

use connect_wfm_core::synthetic::{StreamSpec, agent_event_stream};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let agents = args.next().unwrap_or(100);
    let records = args.next().unwrap_or(28_800);
    let stream = agent_event_stream(&StreamSpec {
        seed: 21,
        agents,
        records,
        bad_permille: 0,
        ..StreamSpec::default()
    });
    let mut out = std::io::stdout().lock();
    for record in stream {
        out.write_all(&record).expect("stdout");
        out.write_all(b"\n").expect("stdout");
    }
}
