//! The mapping a warm function uses: read at cold start like any configuration, then, for a file
//! in S3, checked again at most once a minute by its ETag (one HeadObject) and fetched only when
//! the ETag changed. A new file that does not parse is refused with one ERROR line naming the
//! file, its ETag and the parser's message; the last good mapping stays in force and the gauge
//! `MappingRejected` is 1 (the stack's alarm) until a good file replaces it. An S3 call that
//! fails keeps the mapping in force with a warning, and is tried again a minute later. A local
//! path and the built-in default are read once.
//!
//! [`LiveSettings`] is what a function holds: its handler's settings, derived from the mapping
//! and derived again only when the mapping in force changes.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use connect_wfm_core::Mapping;
use connect_wfm_core::config::ConfigError;
use connect_wfm_core::mapping::reload::{Check, Fetched, MappingReload};

use crate::error::describe;

/// The gauge that is 1 while the mapping file holds a version that was refused.
pub const MAPPING_REJECTED: &str = "MappingRejected";

/// A mapping file that has versions: what the reload needs of S3.
pub trait MappingObject: Send + Sync {
    /// The version (ETag) of the file now.
    fn version(&self) -> impl Future<Output = Result<String, String>> + Send;
    /// The file's version and content.
    fn fetch(&self) -> impl Future<Output = Result<(String, Vec<u8>), String>> + Send;
}

/// The mapping file at `s3://bucket/key`.
#[derive(Debug, Clone)]
pub struct S3MappingObject {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl S3MappingObject {
    /// The object `location` names (`s3://bucket/key`), or `None` when it is not an S3 URL; a
    /// malformed S3 URL is the error.
    pub fn at(s3: aws_sdk_s3::Client, location: &str) -> Option<Result<Self, ConfigError>> {
        let path = location.strip_prefix("s3://")?;
        Some(
            path.split_once('/')
                .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
                .map(|(bucket, key)| Self {
                    s3,
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
                .ok_or_else(|| ConfigError::MappingUnreadable {
                    location: location.to_owned(),
                    message: "expected s3://bucket/key".to_owned(),
                }),
        )
    }
}

impl MappingObject for S3MappingObject {
    async fn version(&self) -> Result<String, String> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        head.e_tag.ok_or_else(|| "HeadObject gave no ETag".to_owned())
    }

    async fn fetch(&self) -> Result<(String, Vec<u8>), String> {
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let etag = output.e_tag.clone().unwrap_or_default();
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        Ok((etag, body.into_bytes().to_vec()))
    }
}

/// The mapping in force: fixed (built in, or a local file), or a file in S3 checked again by
/// its ETag.
pub struct LiveMapping<O = S3MappingObject> {
    source: Source<O>,
}

enum Source<O> {
    Fixed(Arc<Mapping>),
    Reloading {
        location: String,
        object: O,
        reload: Mutex<MappingReload>,
    },
}

impl LiveMapping {
    /// The mapping at cold start: the built-in default when `location` is `None`, a local file
    /// read once, or an `s3://bucket/key` file that is then checked again. A file that cannot be
    /// read or parsed now is the error: with no mapping in force yet, a function does not start
    /// on one nobody chose.
    pub async fn load(
        location: Option<&str>,
        s3: &aws_sdk_s3::Client,
        now: DateTime<Utc>,
    ) -> Result<Self, ConfigError> {
        match location.and_then(|l| S3MappingObject::at(s3.clone(), l)) {
            Some(object) => Self::reloading(location.unwrap_or_default(), object?, now).await,
            None => Ok(Self::fixed(crate::config::load_mapping(location, s3).await?)),
        }
    }
}

impl<O: MappingObject> LiveMapping<O> {
    /// A mapping that never changes.
    pub fn fixed(mapping: Mapping) -> Self {
        Self {
            source: Source::Fixed(Arc::new(mapping)),
        }
    }

    /// The mapping file `object` (named `location` in logs and errors), fetched and parsed now.
    pub async fn reloading(location: &str, object: O, now: DateTime<Utc>) -> Result<Self, ConfigError> {
        let (etag, bytes) = object.fetch().await.map_err(|message| ConfigError::MappingUnreadable {
            location: location.to_owned(),
            message,
        })?;
        let mapping = Mapping::from_json(&bytes, location)?;
        tracing::info!(mapping = location, etag, "mapping file in force");
        Ok(Self {
            source: Source::Reloading {
                location: location.to_owned(),
                object,
                reload: Mutex::new(MappingReload::new(mapping, etag, now)),
            },
        })
    }

    /// Checks every `interval` instead of every minute (`MAPPING_CHECK_SECONDS`, tests).
    pub fn with_interval(mut self, interval: chrono::TimeDelta) -> Self {
        if let Source::Reloading { reload, .. } = &mut self.source {
            let inner = reload.get_mut().unwrap_or_else(PoisonError::into_inner);
            *inner = inner.clone().with_interval(interval);
        }
        self
    }

    /// The mapping in force at `now`, after the check that is due, if any. Never fails: what
    /// goes wrong is logged and the mapping in force stays.
    pub async fn current(&self, now: DateTime<Utc>) -> Arc<Mapping> {
        let (location, object, reload) = match &self.source {
            Source::Fixed(mapping) => return Arc::clone(mapping),
            Source::Reloading {
                location,
                object,
                reload,
            } => (location, object, reload),
        };
        // The lock is never held across a call to S3.
        let lock = || reload.lock().unwrap_or_else(PoisonError::into_inner);
        let in_force = {
            let mut reload = lock();
            if !reload.start_check(now) {
                return Arc::clone(reload.current());
            }
            Arc::clone(reload.current())
        };
        let version = match object.version().await {
            Ok(version) => version,
            Err(error) => {
                tracing::warn!(mapping = %location, %error, "mapping file could not be checked; the mapping in force stays");
                return in_force;
            }
        };
        {
            let mut reload = lock();
            let was_refusing = reload.is_refusing();
            let check = reload.checked(&version);
            if check == Check::Keep {
                report_refusal(was_refusing, reload.is_refusing());
                return Arc::clone(reload.current());
            }
        }
        let (etag, bytes) = match object.fetch().await {
            Ok(fetched) => fetched,
            Err(error) => {
                tracing::warn!(mapping = %location, etag = version, %error, "mapping file could not be read; the mapping in force stays");
                return in_force;
            }
        };
        let mut reload = lock();
        let was_refusing = reload.is_refusing();
        match reload.fetched(&etag, &bytes, location) {
            Fetched::Applied { previous } => {
                let changes: Vec<String> = reload
                    .current()
                    .changes_from(&previous)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(mapping = %location, etag, changes = changes.join("; "), "mapping file reloaded, in force now");
            }
            Fetched::Refused(error) => {
                tracing::error!(
                    mapping = %location,
                    etag,
                    in_force = reload.etag(),
                    "{error} (ETag {etag}): refused, the mapping of ETag {} stays in force",
                    reload.etag()
                );
            }
        }
        report_refusal(was_refusing, reload.is_refusing());
        Arc::clone(reload.current())
    }

    /// The settings `derive` makes of the mapping, made again only when the mapping changes.
    pub fn settings<S, F: Fn(&Mapping) -> S>(self, derive: F) -> LiveSettings<S, F, O> {
        LiveSettings {
            mapping: self,
            derive,
            derived: Mutex::new(None),
        }
    }
}

/// The gauge follows the refusal; it is written on a change only (the recorder publishes a
/// gauge at every flush once set), so a stack whose file was never refused publishes nothing.
fn report_refusal(was: bool, is: bool) {
    if was != is {
        metrics::gauge!(MAPPING_REJECTED).set(if is { 1.0 } else { 0.0 });
    }
}

/// A handler's settings derived from the [`LiveMapping`]: [`Self::current`] per invocation.
pub struct LiveSettings<S, F, O = S3MappingObject> {
    mapping: LiveMapping<O>,
    derive: F,
    derived: Mutex<Option<(Arc<Mapping>, Arc<S>)>>,
}

impl<S, F: Fn(&Mapping) -> S, O: MappingObject> LiveSettings<S, F, O> {
    /// The settings of the mapping in force at `now` (see [`LiveMapping::current`]).
    pub async fn current(&self, now: DateTime<Utc>) -> Arc<S> {
        let mapping = self.mapping.current(now).await;
        let mut derived = self.derived.lock().unwrap_or_else(PoisonError::into_inner);
        match &*derived {
            Some((from, settings)) if Arc::ptr_eq(from, &mapping) => Arc::clone(settings),
            _ => {
                let settings = Arc::new((self.derive)(&mapping));
                *derived = Some((mapping, Arc::clone(&settings)));
                settings
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::TimeDelta;

    use super::*;

    /// A mapping file in memory that counts the calls made to it.
    #[derive(Default)]
    struct MemoryObject {
        file: Mutex<(String, Vec<u8>)>,
        versions: AtomicUsize,
        fetches: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    impl MemoryObject {
        fn put(&self, etag: &str, body: &[u8]) {
            *self.file.lock().unwrap() = (etag.to_owned(), body.to_vec());
        }
        fn calls(&self) -> (usize, usize) {
            (
                self.versions.load(Ordering::SeqCst),
                self.fetches.load(Ordering::SeqCst),
            )
        }
    }

    impl MappingObject for &MemoryObject {
        async fn version(&self) -> Result<String, String> {
            self.versions.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err("SlowDown: please reduce your request rate".to_owned());
            }
            Ok(self.file.lock().unwrap().0.clone())
        }
        async fn fetch(&self) -> Result<(String, Vec<u8>), String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.file.lock().unwrap().clone())
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const LUNCH: &[u8] = br#"{"agent_states": [{"name": "Lunch", "reason": "Meal", "activity": "Closed"}]}"#;
    const TRAINING: &[u8] = br#"{"agent_states": [{"name": "Training", "reason": "Course", "activity": "Closed"}]}"#;

    fn reason_of(settings: &Mapping, name: &str) -> Option<String> {
        settings.agent_states.get(name).map(|e| e.reason.clone())
    }

    #[tokio::test]
    async fn checks_once_a_minute_fetches_new_versions_and_keeps_the_last_good_one() {
        let object = MemoryObject::default();
        object.put("\"1\"", LUNCH);
        let derived = AtomicUsize::new(0);
        let live = LiveMapping::reloading("s3://b/m.json", &object, at(0)).await.unwrap();
        assert_eq!(object.calls(), (0, 1), "read once at cold start");
        let settings = live.settings(|m| {
            derived.fetch_add(1, Ordering::SeqCst);
            (reason_of(m, "Lunch"), reason_of(m, "Training"))
        });
        let first = settings.current(at(1)).await;
        assert_eq!(*first, (Some("Meal".into()), None));
        assert!(Arc::ptr_eq(&first, &settings.current(at(30)).await), "derived once");
        assert_eq!(object.calls(), (0, 1), "no check within the minute");

        object.put("\"2\"", TRAINING);
        assert_eq!(
            settings.current(at(59)).await,
            first,
            "not seen before the minute is up"
        );
        assert_eq!(*settings.current(at(60)).await, (None, Some("Course".into())));
        assert_eq!(object.calls(), (1, 2));
        assert_eq!(derived.load(Ordering::SeqCst), 2);

        // A bad file: refused, the last good mapping stays, and it is fetched once only.
        object.put("\"3\"", br#"{"agent_states": [{"name": "Lunch"}]}"#);
        let good = settings.current(at(120)).await;
        assert_eq!(*good, (None, Some("Course".into())));
        assert_eq!(object.calls(), (2, 3));
        for minute in 3..6 {
            assert!(Arc::ptr_eq(&good, &settings.current(at(60 * minute)).await));
        }
        assert_eq!(object.calls(), (5, 3), "checked every minute, never fetched again");
        assert_eq!(derived.load(Ordering::SeqCst), 2, "nothing derived again");

        // S3 down: the mapping in force stays, the next check a minute later.
        object.down.store(true, Ordering::SeqCst);
        object.put("\"4\"", LUNCH);
        assert!(Arc::ptr_eq(&good, &settings.current(at(360)).await));
        assert!(Arc::ptr_eq(&good, &settings.current(at(400)).await));
        assert_eq!(object.calls(), (6, 3));
        object.down.store(false, Ordering::SeqCst);
        assert_eq!(*settings.current(at(420)).await, (Some("Meal".into()), None));
        assert_eq!(object.calls(), (7, 4));
    }

    #[tokio::test]
    async fn at_cold_start_a_bad_file_is_the_error_naming_it() {
        let object = MemoryObject::default();
        object.put("\"1\"", b"{\"agent_states\": 3}");
        let err = LiveMapping::reloading("s3://b/m.json", &object, at(0))
            .await
            .err()
            .expect("a bad file at cold start");
        assert!(
            err.to_string()
                .starts_with("mapping file s3://b/m.json: agent_states: invalid type"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn fixed_mappings_are_never_checked() {
        let live = LiveMapping::<&MemoryObject>::fixed(Mapping::default()).with_interval(TimeDelta::zero());
        let first = live.current(at(0)).await;
        assert!(Arc::ptr_eq(&first, &live.current(at(3600)).await));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .build(),
        );
        let err = LiveMapping::load(Some("s3://only-bucket"), &s3, at(0))
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "mapping file s3://only-bucket: expected s3://bucket/key"
        );
        assert!(LiveMapping::load(None, &s3, at(0)).await.is_ok());
    }
}
