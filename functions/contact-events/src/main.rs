//! Lambda entry point of the contact-events function: build the clients once, then serve both
//! of its event sources (the contact-event queue and the CTR stream), told apart by the
//! records' `eventSource`.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{DynamoContactStore, WarmUp};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::contacts::{Clock, ContactBatch, FUNCTION, Settings, handle_batch};
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
    let store = DynamoContactStore::new(start.dynamodb(), config.contact_table);
    let settings = Settings {
        stream: StreamSettings::from_mapping(&mapping),
    };
    WarmUp::default().contact_table(&store).feed(&sink).run().await;
    let (store, sink, settings) = (&store, &sink, &settings);
    start
        .serve(move |event: LambdaEvent<ContactBatch>| async move {
            let now = Utc::now();
            let outcome = handle_batch(&event.payload, store, sink, settings, Clock::At(now), now).await;
            outcome.stats.record_metrics(now);
            Ok::<_, Error>(outcome.response)
        })
        .await
}
