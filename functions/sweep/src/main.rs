//! Lambda entry point of the sweep function: build the clients once, then serve the schedule.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{DynamoContactStore, DynamoStateStore, WarmUp};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::contacts;
use connect_wfm_handlers::sweep::{FUNCTION, SweepSettings, handle_sweep, scheduled_time};
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
    let dynamodb = start.dynamodb();
    let contacts = config
        .contact_table
        .map(|table| DynamoContactStore::new(dynamodb.clone(), table));
    let mut states = DynamoStateStore::new(dynamodb, config.state_table);
    if let Some(roster) = config.roster_table {
        states = states.with_roster(roster);
    }
    let policy = config.policy;
    let settings = mapping.settings(move |mapping| SweepSettings {
        stream: contacts::Settings {
            stream: StreamSettings::from_mapping(mapping),
        },
        mapping: mapping.agent_states.clone(),
        policy: policy.clone(),
    });
    let mut warm_up = WarmUp::default().state_table(&states).feed(&sink);
    if let Some(contacts) = &contacts {
        warm_up = warm_up.contact_table(contacts);
    }
    warm_up.run().await;
    let (states, contacts, sink, settings) = (&states, contacts.as_ref(), &sink, &settings);
    start
        .serve(move |event: LambdaEvent<serde_json::Value>| async move {
            let settings = settings.current(Utc::now()).await;
            let now = scheduled_time(&event.payload).unwrap_or_else(Utc::now);
            // The pieces are read back from the S3 feed, where the functions write them.
            let stats = handle_sweep(states, contacts, sink, &sink.feed, &settings, now).await;
            stats.record_metrics();
            if stats.failures > 0 {
                // A failed invocation shows in the function's Errors metric; EventBridge retries
                // it at the same clock, which writes the same objects.
                return Err(Error::from(format!(
                    "sweep at {now}: {} failure(s), see the log",
                    stats.failures
                )));
            }
            Ok::<_, Error>(stats)
        })
        .await
}
