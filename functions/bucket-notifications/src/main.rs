//! Lambda entry point of the bucket-notifications function: build the clients once, then
//! answer each CloudFormation request before the invocation's deadline.

#![forbid(unsafe_code)]
// The layout of the serving future nests the SDK's S3 calls inside the request's span and
// timeout deeper than the default limit lets rustc compute in a test build.
#![recursion_limit = "256"]

use std::time::SystemTime;

use connect_wfm_aws::lambda::Start;
use connect_wfm_aws::{HttpResponseSender, S3NotificationStore};
use connect_wfm_handlers::custom_resource::{FUNCTION, handle_request};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

/// mimalloc: a batch allocates and frees many small JSON strings and maps (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: Lambda gives a function under 1,769 MB less than one vCPU, the concurrency here is
// waiting on AWS, and one allocator heap keeps memory flat over invocations (README, Performance).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let start = Start::new(FUNCTION).await?;
    let store = S3NotificationStore::new(start.s3());
    let sender = HttpResponseSender::new()?;
    let (store, sender) = (&store, &sender);
    // The request is taken as raw JSON: a request that does not fit a type must still be
    // answered. An error goes back to Lambda only when no answer could be sent, so the
    // asynchronous invocation is tried again (every step is idempotent).
    start
        .serve(move |event: LambdaEvent<Value>| async move {
            let left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            handle_request(&event.payload, store, sender, Instant::now() + left).await?;
            Ok::<_, Error>(())
        })
        .await
}
