//! When a function reads its mapping file again, and what it keeps: the pure decisions of the
//! reload (the S3 calls are the AWS adapter's). The file is checked at most once per
//! [`CHECK_INTERVAL`] by its version tag (S3's ETag); a new tag is fetched and parsed; a file
//! that does not parse is refused — the last good mapping stays in force, the refusal is
//! reported once, and that tag is not fetched again (only checked) until the file changes.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Mapping, MappingError};

/// The longest a change of the mapping file waits before a warm function sees it.
pub const CHECK_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// The mapping in force, the version it came from, and the state of the checks.
#[derive(Debug, Clone)]
pub struct MappingReload {
    current: Arc<Mapping>,
    /// Version tag of the file [`Self::current`] was parsed from.
    etag: String,
    /// Version tag of the last file refused, while the file still has it.
    refused: Option<String>,
    checked_at: DateTime<Utc>,
    interval: TimeDelta,
}

/// What to do after a check found the file's version tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The version in force, or the one already refused: nothing to fetch.
    Keep,
    /// A new version: fetch it and give it to [`MappingReload::fetched`].
    Fetch,
}

/// What a fetched file did.
#[derive(Debug)]
pub enum Fetched {
    /// It is the mapping in force now; `previous` the one it replaced (for the log of changes).
    Applied { previous: Arc<Mapping> },
    /// It does not parse; the mapping in force stays. Reported once per version.
    Refused(MappingError),
}

impl MappingReload {
    /// Starts with `mapping`, parsed at cold start from the file's version `etag`, checked `now`.
    pub fn new(mapping: Mapping, etag: String, now: DateTime<Utc>) -> Self {
        Self {
            current: Arc::new(mapping),
            etag,
            refused: None,
            checked_at: now,
            interval: CHECK_INTERVAL,
        }
    }

    /// Checks every `interval` instead of every [`CHECK_INTERVAL`] (tests).
    pub fn with_interval(mut self, interval: TimeDelta) -> Self {
        self.interval = interval;
        self
    }

    /// The mapping in force.
    pub fn current(&self) -> &Arc<Mapping> {
        &self.current
    }

    /// The version tag of the mapping in force.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// Whether the file holds a version that was refused (what the alarm says).
    pub fn is_refusing(&self) -> bool {
        self.refused.is_some()
    }

    /// Whether a check is due at `now`; if so it counts as made at `now` (a failed check waits
    /// for the next interval, and two callers never both check). A clock that went back makes
    /// it due.
    pub fn start_check(&mut self, now: DateTime<Utc>) -> bool {
        let due = now - self.checked_at >= self.interval || now < self.checked_at;
        if due {
            self.checked_at = now;
        }
        due
    }

    /// The check found the file at version `etag`.
    pub fn checked(&mut self, etag: &str) -> Check {
        if etag == self.etag {
            // Back to the version in force (the refused file was replaced by the good one).
            self.refused = None;
            Check::Keep
        } else if self.refused.as_deref() == Some(etag) {
            Check::Keep
        } else {
            Check::Fetch
        }
    }

    /// The file at version `etag` was fetched: `bytes` parsed (`source_name` naming it in the
    /// error) and put in force, or refused.
    pub fn fetched(&mut self, etag: &str, bytes: &[u8], source_name: &str) -> Fetched {
        match Mapping::from_json(bytes, source_name) {
            Ok(mapping) => {
                let previous = std::mem::replace(&mut self.current, Arc::new(mapping));
                self.etag = etag.to_owned();
                self.refused = None;
                Fetched::Applied { previous }
            }
            Err(error) => {
                self.refused = Some(etag.to_owned());
                Fetched::Refused(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const LUNCH: &[u8] = br#"{"agent_states": [{"name": "Lunch", "reason": "Meal", "activity": "Closed"}]}"#;
    const TRAINING: &[u8] = br#"{"agent_states": [{"name": "Training", "reason": "Training", "activity": "Closed"}]}"#;

    fn reload() -> MappingReload {
        MappingReload::new(Mapping::from_json(LUNCH, "m.json").unwrap(), "\"v1\"".into(), at(0))
    }

    #[test]
    fn checks_at_most_once_per_interval() {
        let mut reload = reload();
        assert!(!reload.start_check(at(1)), "checked at cold start");
        assert!(!reload.start_check(at(59)));
        assert!(reload.start_check(at(60)));
        assert!(!reload.start_check(at(61)), "a check counts from when it started");
        assert!(!reload.start_check(at(119)));
        assert!(reload.start_check(at(125)));
        assert!(reload.start_check(at(100)), "the clock went back");
        let mut fast = self::reload().with_interval(TimeDelta::seconds(1));
        assert!(fast.start_check(at(1)));
    }

    #[test]
    fn the_same_version_is_kept_a_new_one_fetched_and_applied() {
        let mut reload = reload();
        let first = Arc::clone(reload.current());
        assert_eq!(reload.checked("\"v1\""), Check::Keep);
        assert!(Arc::ptr_eq(&first, reload.current()), "nothing rebuilt");
        assert_eq!(reload.checked("\"v2\""), Check::Fetch);
        let Fetched::Applied { previous } = reload.fetched("\"v2\"", TRAINING, "s3://b/m.json") else {
            panic!("a good file applies");
        };
        assert!(Arc::ptr_eq(&first, &previous));
        assert!(reload.current().agent_states.get("Training").is_some());
        assert!(
            reload.current().agent_states.get("Lunch").is_none(),
            "the whole file, not a merge"
        );
        assert_eq!(reload.etag(), "\"v2\"");
        assert_eq!(reload.checked("\"v2\""), Check::Keep);
        assert!(!reload.is_refusing());
    }

    #[test]
    fn a_bad_file_is_refused_once_and_the_last_good_mapping_stays() {
        let mut reload = reload();
        let good = Arc::clone(reload.current());
        assert_eq!(reload.checked("\"bad\""), Check::Fetch);
        let Fetched::Refused(error) =
            reload.fetched("\"bad\"", br#"{"agent_states": [{"name": "X"}]}"#, "s3://b/m.json")
        else {
            panic!("a bad file is refused");
        };
        assert!(
            error
                .to_string()
                .starts_with("mapping file s3://b/m.json: agent_states[0]: missing field"),
            "{error}"
        );
        assert!(Arc::ptr_eq(&good, reload.current()), "the last good mapping stays");
        assert_eq!(reload.etag(), "\"v1\"");
        assert!(reload.is_refusing());
        assert_eq!(
            reload.checked("\"bad\""),
            Check::Keep,
            "the refused version is not fetched again"
        );
        assert!(reload.is_refusing(), "and the alarm stays on while the file has it");

        // Fixed: the new version applies and the alarm clears.
        assert_eq!(reload.checked("\"v3\""), Check::Fetch);
        assert!(matches!(
            reload.fetched("\"v3\"", TRAINING, "s3://b/m.json"),
            Fetched::Applied { .. }
        ));
        assert!(!reload.is_refusing());
    }

    #[test]
    fn putting_the_good_file_back_clears_the_refusal_without_a_fetch() {
        let mut reload = reload();
        reload.checked("\"bad\"");
        reload.fetched("\"bad\"", b"{", "m.json");
        assert!(reload.is_refusing());
        assert_eq!(reload.checked("\"v1\""), Check::Keep);
        assert!(!reload.is_refusing());
    }
}
