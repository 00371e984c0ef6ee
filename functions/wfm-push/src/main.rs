//! Lambda entry point of the wfm-push function: read the target's secret, the memory of
//! delivered states the last process kept, and build the clients once; then on every scheduled
//! invocation deliver from the push queue for `RUN_SECONDS`, and keep the memory again when the
//! run delivered something.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::push_memory::S3DeliveredStore;
use connect_wfm_aws::push_queue::SqsPushQueue;
use connect_wfm_aws::secrets::read_secret;
use connect_wfm_core::push::Target;
use connect_wfm_core::push::calabrio::Calabrio;
use connect_wfm_core::push::webhook::Webhook;
use connect_wfm_handlers::push::{RunSettings, Settings, keep_delivered, run_queue};
use connect_wfm_http::HttpWfmApi;
use lambda_runtime::{Error, LambdaEvent};

use crate::config::{Config, TargetConfig};

/// mimalloc, as in every function (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long one receive waits for a first message (long polling).
const RECEIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One call to the WFM, connection included.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// After the run's last receive, how long retries may still start: the run's last call ends
/// within this plus one call, well before the function's timeout (90 s for RUN_SECONDS 45).
const RETRY_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The metrics' Function dimension names the target (the stack may run one function per
    // target); the variable is read again, and checked, with the rest of the configuration.
    let function = match std::env::var(config::vars::WFM_TARGET).as_deref() {
        Ok("webhook") => "wfm-push-webhook",
        _ => "wfm-push-calabrio",
    };
    let start = Start::new(function).await?;
    let config = Config::from_env(&start.env)?;
    let (mapping, rejects) = start.feed(&config.feed).await?;
    let secrets = aws_sdk_secretsmanager::Client::new(&start.sdk);
    let secret = read_secret(&secrets, &config.secret_id).await?;
    // The target is made again when the mapping changes (Calabrio's state names come from it).
    let (url, kinds, target_config) = (config.url.clone(), config.kinds.clone(), config.target.clone());
    let targets = mapping.settings(move |mapping| match &target_config {
        TargetConfig::Calabrio {
            source_id,
            user_code,
            state_names,
        } => {
            let mut calabrio = Calabrio::new(url.clone(), secret.clone(), source_id.clone(), *user_code);
            calabrio.kinds = kinds.clone();
            if *state_names {
                calabrio = calabrio.with_mapping_names(&mapping.agent_states);
            }
            Target::Calabrio(calabrio)
        }
        TargetConfig::Webhook => {
            let mut webhook = Webhook::new(url.clone(), secret.clone());
            webhook.kinds = kinds.clone();
            Target::Webhook(webhook)
        }
    });
    let api = HttpWfmApi::new(CALL_TIMEOUT)?;
    let queue = SqsPushQueue::new(
        connect_wfm_aws::config::sqs_client(&start.sdk),
        config.queue_url.clone(),
    );
    let target_name = match config.target {
        TargetConfig::Calabrio { .. } => "calabrio",
        TargetConfig::Webhook => "webhook",
    };
    let memory = S3DeliveredStore::new(
        start.s3(),
        config.feed.feed_bucket.clone(),
        &config.feed.feed_prefix,
        target_name,
    );
    let settings = Settings::default().with_rate(config.rate).recalling(&memory).await;
    let (targets, api, queue, rejects, memory, settings, run) =
        (&targets, &api, &queue, &rejects, &memory, &settings, config.run);
    start
        .serve(move |_event: LambdaEvent<serde_json::Value>| async move {
            let target = targets.current(Utc::now()).await;
            let until = tokio::time::Instant::now() + run;
            let run = RunSettings {
                until,
                wait: RECEIVE_WAIT,
            };
            let settings = Settings {
                deadline: Some(until + RETRY_GRACE),
                ..settings.clone()
            };
            let stats = run_queue(queue, &target, api, rejects, &settings, &run, Utc::now).await;
            let kept = keep_delivered(memory, &settings, &stats, Utc::now()).await;
            stats.record_counts();
            stats.log_counts("push run");
            Ok::<_, Error>(serde_json::json!({
                "messages": stats.messages,
                "records_pushed": stats.records_pushed,
                "calls": stats.calls,
                "retries": stats.retries,
                "refused": stats.refused,
                "pending": stats.pending,
                "failures": stats.failures,
                "unavailable": stats.unavailable,
                "memory_kept": kept,
            }))
        })
        .await
}
