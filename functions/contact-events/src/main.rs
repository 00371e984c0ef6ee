//! Lambda entry point of the contact-events function: build the clients once, then serve both
//! of its event sources (the contact-event queue and the CTR stream), told apart by the
//! records' `eventSource`.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::config::{Env, dynamodb_client, load_mapping, load_sdk_config, s3_client};
use connect_wfm_aws::{DynamoContactStore, S3FeedSink, WarmUp, feed_outputs};
use connect_wfm_handlers::contacts::{Clock, KinesisBatch, Settings, SqsBatch, handle_kinesis, handle_sqs};

use crate::config::Config;
use connect_wfm_core::contact::StreamSettings;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// mimalloc, as the other functions (see the workspace Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: Lambda gives a function under 1,769 MB less than one vCPU, the concurrency here is
// waiting on AWS, and one allocator heap keeps memory flat over invocations (README, Performance).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(&Env::process())?;
    let sdk = load_sdk_config().await;
    let s3 = s3_client(&sdk);
    let mapping = load_mapping(config.mapping_location.as_deref(), &s3).await?;
    let store = DynamoContactStore::new(dynamodb_client(&sdk), config.contact_table);
    let sink = feed_outputs(
        &sdk,
        S3FeedSink::new(s3, config.feed_bucket, config.feed_prefix),
        config.event_bus_name.as_deref(),
    )?;
    let settings = Settings {
        stream: StreamSettings::from_mapping(&mapping),
    };
    WarmUp::default().contact_table(&store).feed(&sink).run().await;
    let (store, sink, settings) = (&store, &sink, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = Utc::now();
        let source = event.payload["Records"][0]["eventSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let response = if source == "aws:kinesis" {
            let batch: KinesisBatch = serde_json::from_value(event.payload)?;
            serde_json::to_value(
                handle_kinesis(&batch, store, sink, settings, Clock::At(now), now)
                    .await
                    .response,
            )?
        } else {
            let batch: SqsBatch = serde_json::from_value(event.payload)?;
            serde_json::to_value(
                handle_sqs(&batch, store, sink, settings, Clock::At(now), now)
                    .await
                    .response,
            )?
        };
        Ok::<_, Error>(response)
    }))
    .await
}
