//! The one start-up path of the Lambda binaries: JSON logs, the environment, the metrics
//! recorder and the SDK configuration at cold start ([`Start::new`]); the mapping and the feed
//! outputs ([`Start::feed`]); then one invocation after the other, the metrics flushed after
//! each ([`Start::serve`]). A function's `main.rs` only adds its own stores and its handler.

use std::future::Future;

use aws_config::SdkConfig;
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Env, FeedConfig, dynamodb_client, load_sdk_config, s3_client};
use crate::eventbridge::{FeedOutputs, feed_outputs};
use crate::live_mapping::{LiveMapping, MAPPING_REJECTED};
use crate::metrics::Metrics;
use crate::s3::S3FeedSink;

/// What every function builds first, once per cold start.
pub struct Start {
    /// The process environment, read once.
    pub env: Env,
    /// The SDK configuration every client is built from (so they share one connection pool).
    pub sdk: SdkConfig,
    metrics: Metrics,
}

impl Start {
    /// Starts the logs (JSON, level from `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG`), the metrics of
    /// `function` and the SDK configuration.
    pub async fn new(function: &'static str) -> Result<Self, Error> {
        lambda_runtime::tracing::init_default_subscriber();
        let env = Env::process();
        let metrics = Metrics::init(&env, function)?;
        let sdk = load_sdk_config().await;
        Ok(Self { env, sdk, metrics })
    }

    /// An S3 client on the shared configuration.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.sdk)
    }

    /// A DynamoDB client on the shared configuration.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        dynamodb_client(&self.sdk)
    }

    /// The mapping (built in, or the file `config` names, checked again while the function
    /// stays warm: [`LiveMapping`]) and the feed sink: the S3 feed, then every output `config`
    /// turns on. A mapping file that cannot be used at cold start is the error, and sets the
    /// `MappingRejected` gauge, so the alarm of a refused file fires for it too.
    pub async fn feed(&self, config: &FeedConfig) -> Result<(LiveMapping, FeedOutputs<S3FeedSink>), Error> {
        let s3 = self.s3();
        let mapping = match LiveMapping::load(config.mapping_location.as_deref(), &s3, Utc::now()).await {
            Ok(mapping) => match config.mapping_check {
                Some(interval) => mapping.with_interval(interval),
                None => mapping,
            },
            Err(error) => {
                metrics::gauge!(MAPPING_REJECTED).set(1.0);
                self.metrics.flush_stdout();
                return Err(error.into());
            }
        };
        let feed = S3FeedSink::new(s3, config.feed_bucket.clone(), config.feed_prefix.clone());
        let mut sink = feed_outputs(&self.sdk, feed, config.event_bus_name.as_deref())?;
        if !config.push_queues.is_empty() {
            tracing::info!(
                queues = config.push_queues.len(),
                "feed records also go to the WFM push queues"
            );
            sink = sink.with(crate::push_queue::PushQueueOutput::new(
                crate::config::sqs_client(&self.sdk),
                config.push_queues.clone(),
            ));
        }
        Ok((mapping, sink))
    }

    /// Serves invocations with `handler` until the runtime stops; the metrics counted during
    /// an invocation are written after it, whatever its outcome.
    pub async fn serve<E, R, F, Fut>(&self, handler: F) -> Result<(), Error>
    where
        E: DeserializeOwned + Send,
        R: Serialize,
        F: Fn(LambdaEvent<E>) -> Fut,
        Fut: Future<Output = Result<R, Error>>,
    {
        let metrics = self.metrics;
        let handler = &handler;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| async move {
            let result = handler(event).await;
            metrics.flush_stdout();
            result
        }))
        .await
    }
}
