//! Lambda entry point of the contact-events function: build the clients once, then serve its
//! event sources (the contact-event queue, the CTR stream, and the queue of S3 notifications of
//! Firehose's contact-record files when `CLAIM_TABLE` is set), told apart by the records'
//! `eventSource` and the messages' content.

#![forbid(unsafe_code)]

mod config;

use chrono::Utc;
use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{DynamoClaimStore, DynamoContactStore, S3ObjectSource, WarmUp};
use connect_wfm_core::contact::StreamSettings;
use connect_wfm_handlers::contacts::{Clock, ContactBatch, CtrFiles, FUNCTION, Settings, handle_batch};
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
    let store = DynamoContactStore::new(dynamodb.clone(), config.contact_table);
    let settings = mapping.settings(|mapping| Settings {
        stream: StreamSettings::from_mapping(mapping),
    });
    let claims = config.files.as_ref().map(|files| {
        DynamoClaimStore::new(dynamodb.clone(), files.claim_table.clone())
            .with_durations(files.claim_lease, files.claim_retention)
    });
    let objects = S3ObjectSource::new(start.s3());
    let prefix = config.files.as_ref().and_then(|f| f.prefix.as_deref());
    let files = claims.as_ref().map(|claims| CtrFiles {
        claims,
        objects: &objects,
        prefix,
    });
    let mut warm = WarmUp::default().contact_table(&store).feed(&sink);
    if let Some(claims) = &claims {
        warm = warm.claim_table(claims);
    }
    warm.run().await;
    let (store, sink, settings, files) = (&store, &sink, &settings, files.as_ref());
    start
        .serve(move |event: LambdaEvent<ContactBatch>| async move {
            let now = Utc::now();
            let settings = settings.current(now).await;
            let outcome = handle_batch(&event.payload, store, sink, files, &settings, Clock::At(now), now).await;
            outcome.stats.record_metrics(now);
            Ok::<_, Error>(outcome.response)
        })
        .await
}
