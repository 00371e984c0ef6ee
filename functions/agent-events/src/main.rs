//! Lambda entry point of the agent-events function: build the clients once, then serve.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{DynamoStateStore, WarmUp};
use connect_wfm_core::agent::{FoldPolicy, RosterPolicy};
use connect_wfm_handlers::agent_events::{FUNCTION, KinesisBatch, Settings, handle_batch};
use lambda_runtime::{Error, LambdaEvent};

use crate::config::Config;

/// mimalloc: a batch allocates and frees many small JSON strings and maps (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: Lambda gives a function under 1,769 MB less than one vCPU, the concurrency here is
// waiting on AWS, and one allocator heap keeps memory flat over invocations (README, Performance).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let start = Start::new(FUNCTION).await?;
    let config = Config::from_env(&start.env)?;
    let (mapping, sink) = start.feed(&config.feed).await?;
    let mut states = DynamoStateStore::new(start.dynamodb(), config.state_table);
    if let Some(roster) = config.roster_table {
        states = states.with_roster(roster);
    }
    let (last_seen_write_after, agent_names) = (config.last_seen_write_after, config.agent_names);
    let settings = mapping.settings(move |mapping| Settings {
        mapping: mapping.agent_states.clone(),
        policy: FoldPolicy {
            last_seen_write_after,
            roster: RosterPolicy {
                agent_names,
                filter: mapping.agents.clone(),
            },
        },
    });
    WarmUp::default().state_table(&states).feed(&sink).run().await;
    let (states, sink, settings) = (&states, &sink, &settings);
    start
        .serve(move |event: LambdaEvent<KinesisBatch>| async move {
            let now = Utc::now();
            let settings = settings.current(now).await;
            let outcome = handle_batch(&event.payload, states, sink, &settings, now).await;
            outcome.stats.record_metrics(now);
            Ok::<_, Error>(outcome.response)
        })
        .await
}
