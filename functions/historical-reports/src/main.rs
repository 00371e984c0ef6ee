//! Lambda entry point of the historical-reports function: build the clients once, then serve.

#![forbid(unsafe_code)]

mod config;

use std::sync::Arc;

use chrono::Utc;
use connect_wfm_aws::config::{Env, dynamodb_client, load_mapping, load_sdk_config, s3_client};
use connect_wfm_aws::metrics::Metrics;
use connect_wfm_aws::{
    DynamoClaimStore, DynamoContactStore, DynamoStateStore, S3FeedSink, S3ObjectSource, WarmUp, feed_outputs,
};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::reports::{FUNCTION, Ports, Reconciler, Settings, StreamReconciler, handle_messages};
use connect_wfm_handlers::s3::SqsBatch;

use crate::config::Config;
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
    let (s3, dynamodb) = (s3_client(&sdk), dynamodb_client(&sdk));
    let mapping = load_mapping(config.mapping_location.as_deref(), &s3).await?;
    // Contact events on: each report's queue intervals are compared with the stream basis.
    let reconciler = config.contact_table.map(|table| {
        Arc::new(StreamReconciler {
            store: DynamoContactStore::new(dynamodb.clone(), table),
            settings: connect_wfm_handlers::contacts::Settings {
                stream: StreamSettings::from_mapping(&mapping),
            },
        }) as Arc<dyn Reconciler>
    });
    let claims = DynamoClaimStore::new(dynamodb.clone(), config.claim_table)
        .with_durations(config.claim_lease, config.claim_retention);
    let states = DynamoStateStore::new(dynamodb, config.state_table);
    let objects = S3ObjectSource::new(s3.clone());
    let sink = feed_outputs(
        &sdk,
        S3FeedSink::new(s3, config.feed_bucket, config.feed_prefix),
        config.event_bus_name.as_deref(),
    )?;
    WarmUp::default().claim_table(&claims).feed(&sink).run().await;
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let settings = Settings {
        mapping: Arc::new(mapping.reports),
        reports_prefix: config.reports_prefix,
        instance: config.instance,
        instances: Arc::new(mapping.instances),
        reconciler,
        ..Settings::default()
    };
    let (ports, settings) = (&ports, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsBatch>| async move {
        let outcome = handle_messages(&event.payload, ports, settings, Utc::now()).await;
        outcome.record_metrics();
        metrics.flush_stdout();
        Ok::<_, Error>(outcome.response)
    }))
    .await
}
