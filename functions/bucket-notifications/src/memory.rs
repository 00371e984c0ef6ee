//! In-memory implementations of the ports, for handler tests. They count calls and can be
//! told to fail or to hang, so tests can assert on writes, failures and deadlines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use connect_wfm_core::ports::PortError;

use crate::model::NotificationConfiguration;
use crate::ports::{Fetched, NotificationStore, ResponseSender, Stored};
use crate::request::CustomResourceResponse;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Buckets and their configurations in a map; a bucket not in the map does not exist.
#[derive(Debug, Default)]
pub struct MemoryNotificationStore {
    buckets: Mutex<HashMap<String, NotificationConfiguration>>,
    /// When set, every call fails with this message.
    pub fail_with: Mutex<Option<String>>,
    /// When true, every call waits forever (a backend that never answers).
    pub hang: std::sync::atomic::AtomicBool,
    pub gets: AtomicUsize,
    pub puts: AtomicUsize,
}

impl MemoryNotificationStore {
    /// Creates `bucket` with `configuration`.
    pub fn insert(&self, bucket: &str, configuration: NotificationConfiguration) {
        lock(&self.buckets).insert(bucket.to_owned(), configuration);
    }

    /// Deletes `bucket`.
    pub fn remove_bucket(&self, bucket: &str) {
        lock(&self.buckets).remove(bucket);
    }

    /// The configuration of `bucket`, if it exists.
    pub fn configuration(&self, bucket: &str) -> Option<NotificationConfiguration> {
        lock(&self.buckets).get(bucket).cloned()
    }

    async fn check(&self, operation: String) -> Result<(), PortError> {
        if self.hang.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
        match lock(&self.fail_with).clone() {
            Some(message) => Err(PortError::new(operation, message, true)),
            None => Ok(()),
        }
    }
}

impl NotificationStore for MemoryNotificationStore {
    async fn get(&self, bucket: &str) -> Result<Fetched, PortError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.check(format!("read the notification configuration of bucket {bucket}"))
            .await?;
        Ok(match lock(&self.buckets).get(bucket) {
            Some(configuration) => Fetched::Found(configuration.clone()),
            None => Fetched::BucketGone,
        })
    }

    async fn put(
        &self,
        bucket: &str,
        configuration: &NotificationConfiguration,
        _validate_destinations: bool,
    ) -> Result<Stored, PortError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.check(format!("write the notification configuration of bucket {bucket}"))
            .await?;
        Ok(match lock(&self.buckets).get_mut(bucket) {
            Some(stored) => {
                *stored = configuration.clone();
                Stored::Written
            }
            None => Stored::BucketGone,
        })
    }
}

/// Keeps every response sent, with its URL; fails the first `fail_times` sends.
#[derive(Debug, Default)]
pub struct MemoryResponseSender {
    pub sent: Mutex<Vec<(String, CustomResourceResponse)>>,
    pub fail_times: AtomicUsize,
}

impl MemoryResponseSender {
    /// The responses sent so far.
    pub fn responses(&self) -> Vec<CustomResourceResponse> {
        lock(&self.sent).iter().map(|(_, r)| r.clone()).collect()
    }
}

impl ResponseSender for MemoryResponseSender {
    async fn send(&self, response_url: &str, response: &CustomResourceResponse) -> Result<(), PortError> {
        let failing = self
            .fail_times
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(PortError::new(format!("PUT {response_url}"), "connection reset", true));
        }
        lock(&self.sent).push((response_url.to_owned(), response.clone()));
        Ok(())
    }
}
