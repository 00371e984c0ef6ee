//! Lambda entry point of the agent-events function: build the clients once, then serve.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_handlers::agent_events::{FUNCTION, Settings, handle_batch};
use connect_wfm_handlers::kinesis::KinesisBatch;

use crate::config::Config;
use connect_wfm_aws::config::{Env, dynamodb_client, load_mapping, load_sdk_config, s3_client};
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_aws::{DynamoStateStore, S3FeedSink, WarmUp, feed_outputs};
use connect_wfm_core::agent::FoldPolicy;
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// mimalloc: a batch allocates and frees many small JSON strings and maps (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: Lambda gives a function under 1,769 MB less than one vCPU, the concurrency here is
// waiting on AWS, and one allocator heap keeps memory flat over invocations (README, Performance).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let metrics = Metrics::init(&env, FUNCTION)?;
    let sdk = load_sdk_config().await;
    let s3 = s3_client(&sdk);
    let mapping = load_mapping(config.mapping_location.as_deref(), &s3).await?;
    let states = DynamoStateStore::new(dynamodb_client(&sdk), config.state_table);
    let sink = feed_outputs(
        &sdk,
        S3FeedSink::new(s3, config.feed_bucket, config.feed_prefix),
        config.event_bus_name.as_deref(),
    )?;
    let settings = Settings {
        mapping: mapping.agent_states,
        policy: FoldPolicy {
            last_seen_write_after: config.last_seen_write_after,
        },
    };
    WarmUp::default().state_table(&states).feed(&sink).run().await;
    let (states, sink, settings) = (&states, &sink, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisBatch>| async move {
        let now = Utc::now();
        let outcome = handle_batch(&event.payload, states, sink, settings, now).await;
        outcome.stats.record_metrics(now);
        metrics.flush_stdout();
        Ok::<_, Error>(outcome.response)
    }))
    .await
}
