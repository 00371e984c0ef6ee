//! Lambda entry point of the sweep function: build the clients once, then serve the schedule.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::config::{Env, dynamodb_client, load_mapping, load_sdk_config, s3_client};
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_aws::{DynamoContactStore, DynamoStateStore, S3FeedSink, WarmUp, feed_outputs};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::sweep::{FUNCTION, SweepSettings, handle_sweep, scheduled_time};

use crate::config::Config;
use lambda_runtime::{Error, LambdaEvent, service_fn};

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
    let dynamodb = dynamodb_client(&sdk);
    let contacts = config
        .contact_table
        .map(|table| DynamoContactStore::new(dynamodb.clone(), table));
    let states = DynamoStateStore::new(dynamodb, config.state_table);
    let sink = feed_outputs(
        &sdk,
        S3FeedSink::new(s3, config.feed_bucket, config.feed_prefix),
        config.event_bus_name.as_deref(),
    )?;
    let settings = SweepSettings {
        stream: connect_wfm_handlers::contacts::Settings {
            stream: StreamSettings::from_mapping(&mapping),
        },
        mapping: mapping.agent_states,
        policy: config.policy,
    };
    let mut warm_up = WarmUp::default().state_table(&states).feed(&sink);
    if let Some(contacts) = &contacts {
        warm_up = warm_up.contact_table(contacts);
    }
    warm_up.run().await;
    let (states, contacts, sink, settings) = (&states, contacts.as_ref(), &sink, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let now = scheduled_time(&event.payload).unwrap_or_else(Utc::now);
        let stats = handle_sweep(states, contacts, sink, settings, now).await;
        stats.record_metrics();
        metrics.flush_stdout();
        if stats.failures > 0 {
            // A failed invocation shows in the function's Errors metric; EventBridge retries it
            // at the same clock, which writes the same objects.
            return Err(Error::from(format!(
                "sweep at {now}: {} failure(s), see the log",
                stats.failures
            )));
        }
        Ok::<_, Error>(stats)
    }))
    .await
}
