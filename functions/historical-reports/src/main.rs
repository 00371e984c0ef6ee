//! Lambda entry point of the historical-reports function: build the clients once, then serve.

#![forbid(unsafe_code)]

mod config;

use std::sync::Arc;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{DynamoClaimStore, DynamoContactStore, DynamoStateStore, S3ObjectSource, WarmUp};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::contacts;
use connect_wfm_handlers::reports::{
    AgentReconciler, FUNCTION, Ports, Reconciler, Settings, SqsBatch, StreamAgentReconciler, StreamReconciler,
    handle_messages,
};
use connect_wfm_handlers::sweep::SweepSettings;
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
    let claims = DynamoClaimStore::new(dynamodb.clone(), config.claim_table)
        .with_durations(config.claim_lease, config.claim_retention);
    let states = DynamoStateStore::new(dynamodb.clone(), config.state_table.clone());
    let objects = S3ObjectSource::new(start.s3());
    WarmUp::default().claim_table(&claims).feed(&sink).run().await;
    let ports = Ports {
        claims: &claims,
        objects: &objects,
        states: &states,
        sink: &sink,
    };
    let activity = sink.feed.clone();
    let settings = mapping.settings(move |mapping| Settings {
        mapping: Arc::new(mapping.reports.clone()),
        reports_prefix: config.reports_prefix.clone(),
        instance: config.instance.clone(),
        instances: Arc::new(mapping.instances.clone()),
        // Contact events on: each report's queue intervals are compared with the stream basis.
        reconciler: config.contact_table.clone().map(|table| {
            Arc::new(StreamReconciler {
                store: DynamoContactStore::new(dynamodb.clone(), table),
                settings: contacts::Settings {
                    stream: StreamSettings::from_mapping(mapping),
                },
            }) as Arc<dyn Reconciler>
        }),
        // Each ASPR's agent intervals are compared with the stream basis of the agent events
        // (the sweep's own computation over the feed's pieces and the agents' open segments).
        agent_reconciler: Some(Arc::new(StreamAgentReconciler {
            states: DynamoStateStore::new(dynamodb.clone(), config.state_table.clone()),
            activity: activity.clone(),
            settings: SweepSettings {
                stream: contacts::Settings {
                    stream: StreamSettings::from_mapping(mapping),
                },
                mapping: mapping.agent_states.clone(),
                ..SweepSettings::default()
            },
        }) as Arc<dyn AgentReconciler>),
        ..Settings::default()
    });
    let (ports, settings) = (&ports, &settings);
    start
        .serve(move |event: LambdaEvent<SqsBatch>| async move {
            let now = Utc::now();
            let settings = settings.current(now).await;
            let outcome = handle_messages(&event.payload, ports, &settings, now).await;
            outcome.record_metrics();
            Ok::<_, Error>(outcome.response)
        })
        .await
}
