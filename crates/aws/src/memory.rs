//! In-memory implementations of the ports this crate owns (those that speak the SDK's types),
//! for handler tests. Like `connect_wfm_core::memory`'s, they count calls and can be told to
//! fail or to hang.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use connect_wfm_core::ports::{Fetched, NotificationStore, PortError, Stored};

use crate::notifications::NotificationConfiguration;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the data from the assertions that follow.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Buckets and their notification configurations in a map; a bucket not in the map does not
/// exist.
#[derive(Debug, Default)]
pub struct MemoryNotificationStore {
    buckets: Mutex<HashMap<String, NotificationConfiguration>>,
    /// When set, every call fails with this message.
    pub fail_with: Mutex<Option<String>>,
    /// When true, every call waits forever (a backend that never answers).
    pub hang: AtomicBool,
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
    type Configuration = NotificationConfiguration;

    async fn get(&self, bucket: &str) -> Result<Fetched<NotificationConfiguration>, PortError> {
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
