//! Connections opened during a function's init, so that its first invocation does not pay for
//! them: one cheap request to each endpoint the first batch will reach, all at once. What is
//! wanted is the side effect (credentials resolved, the TCP and TLS connection left in the
//! client's pool, which every client built from the same `SdkConfig` shares); the answer is only
//! logged, at debug level, and may well be an error: the feed bucket answers the HEAD of a key
//! that does not exist with 404 (403 without `s3:ListBucket`), the event bus an empty PutEvents
//! with a validation error. Nothing is read or written. No retries, and the whole warm-up gives
//! up after [`WARM_UP_LIMIT`]: an endpoint that does not answer now is the first batch's
//! problem, reported there, not init's.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::RetryConfig;
use futures_util::future::{FutureExt, join_all};

use crate::contact_store::{self, DynamoContactStore};
use crate::error::describe;
use crate::eventbridge::FeedOutputs;
use crate::s3::S3FeedSink;
use crate::{DynamoClaimStore, DynamoStateStore, item};

/// The longest the warm-up may hold up init.
pub const WARM_UP_LIMIT: Duration = Duration::from_secs(2);

/// The key value of the items the warm-up asks for; never written.
const NO_SUCH_KEY: &str = "#warm-up";

type Request<'a> = crate::eventbridge::WarmRequest<'a>;

/// The requests of one warm-up, added by endpoint, then [`Self::run`].
#[derive(Default)]
pub struct WarmUp<'a> {
    requests: Vec<Request<'a>>,
}

impl<'a> WarmUp<'a> {
    /// The agent-state table.
    pub fn state_table(self, store: &'a DynamoStateStore) -> Self {
        self.dynamodb(&store.client, &store.table, &[item::AGENT_ARN])
    }

    /// The claim table.
    pub fn claim_table(self, store: &'a DynamoClaimStore) -> Self {
        self.dynamodb(&store.client, &store.table, &[item::CLAIM_ID])
    }

    /// The contact table.
    pub fn contact_table(self, store: &'a DynamoContactStore) -> Self {
        self.dynamodb(&store.client, &store.table, &[contact_store::PK, contact_store::SK])
    }

    /// A GetItem on `table` of an item that does not exist (`key_attributes`, the table's key
    /// schema, each set to a string no item has): half a read unit.
    fn dynamodb(mut self, client: &'a aws_sdk_dynamodb::Client, table: &'a str, key_attributes: &[&str]) -> Self {
        let key = key_attributes
            .iter()
            .map(|name| ((*name).to_owned(), AttributeValue::S(NO_SUCH_KEY.to_owned())))
            .collect();
        self.requests.push(
            async move {
                let answer = client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(key))
                    .customize()
                    .config_override(aws_sdk_dynamodb::config::Builder::new().retry_config(RetryConfig::disabled()))
                    .send()
                    .await;
                (
                    format!("dynamodb table {table}"),
                    answer.map(drop).map_err(|e| describe(&e)),
                )
            }
            .boxed(),
        );
        self
    }

    /// The feed bucket (a HEAD of a key under the feed prefix that is never written) and, when
    /// the records also go to other outputs, each output's own warm-up request (the event bus:
    /// a PutEvents of no entries).
    pub fn feed(mut self, outputs: &'a FeedOutputs<S3FeedSink>) -> Self {
        let sink = &outputs.feed;
        let key = sink.object_key(NO_SUCH_KEY);
        self.requests.push(
            async move {
                let answer = sink
                    .client
                    .head_object()
                    .bucket(&sink.bucket)
                    .key(key)
                    .customize()
                    .config_override(aws_sdk_s3::config::Builder::new().retry_config(RetryConfig::disabled()))
                    .send()
                    .await;
                (
                    format!("s3 bucket {}", sink.bucket),
                    answer.map(drop).map_err(|e| describe(&e)),
                )
            }
            .boxed(),
        );
        self.requests
            .extend(outputs.outputs.iter().filter_map(|output| output.warm_up()));
        self
    }

    /// Sends every request at once and waits for the answers (at most [`WARM_UP_LIMIT`]);
    /// returns how long it took.
    pub async fn run(self) -> Duration {
        let started = Instant::now();
        let count = self.requests.len();
        match tokio::time::timeout(WARM_UP_LIMIT, join_all(self.requests)).await {
            Ok(answers) => {
                for (endpoint, answer) in answers {
                    match answer {
                        Ok(()) => tracing::debug!(endpoint, "warm-up request answered"),
                        Err(error) => tracing::debug!(endpoint, error, "warm-up request answered"),
                    }
                }
            }
            Err(_) => tracing::debug!(
                limit_ms = WARM_UP_LIMIT.as_millis() as u64,
                "warm-up requests unanswered within the limit"
            ),
        }
        let took = started.elapsed();
        tracing::info!(
            requests = count,
            ms = took.as_millis() as u64,
            "connections opened during init"
        );
        took
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    use super::*;
    use crate::eventbridge::{EventBusOutput, FeedOutputs};

    /// Every client of the test speaks to `endpoint`.
    fn sdk(endpoint: &str) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                Credentials::for_tests(),
            ))
            .build()
    }

    #[tokio::test]
    async fn one_request_per_endpoint_and_never_longer_than_the_limit() {
        // A server that accepts connections and never answers: only the limit ends the wait.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let config = sdk(&endpoint);
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let states = DynamoStateStore::new(dynamodb.clone(), "states");
        let claims = DynamoClaimStore::new(dynamodb, "claims");
        let s3 = aws_sdk_s3::Client::new(&config);
        let bus = crate::eventbridge::SdkEventBus::new(aws_sdk_eventbridge::Client::new(&config), "bus");
        let with_bus =
            FeedOutputs::feed_only(S3FeedSink::new(s3.clone(), "feed", "wfm")).with(EventBusOutput::new(bus));
        let feed_only = FeedOutputs::feed_only(S3FeedSink::new(s3, "feed", "wfm"));

        assert_eq!(WarmUp::default().feed(&feed_only).requests.len(), 1, "the bucket");
        assert_eq!(
            WarmUp::default().feed(&with_bus).requests.len(),
            2,
            "the bucket and the bus"
        );
        let warm_up = WarmUp::default()
            .state_table(&states)
            .claim_table(&claims)
            .feed(&with_bus);
        assert_eq!(warm_up.requests.len(), 4);

        let took = warm_up.run().await;
        assert!(took >= WARM_UP_LIMIT, "the silent endpoint was waited for: {took:?}");
        assert!(
            took < WARM_UP_LIMIT * 3,
            "and no longer than the limit allows: {took:?}"
        );
        held.abort();
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_ends_the_warm_up_at_once() {
        // Bind and drop: nothing listens on the port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = sdk(&format!("http://127.0.0.1:{port}"));
        let states = DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&config), "states");
        let took = WarmUp::default().state_table(&states).run().await;
        assert!(took < WARM_UP_LIMIT, "a refused connection is an answer: {took:?}");
    }
}
