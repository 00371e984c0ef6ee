//! S3 objects named by notifications, shared by the functions that read them (Connect's reports
//! in historical-reports, Firehose's contact-record files in contact-events): each object is
//! claimed once by (bucket, key, ETag), so a notification delivered twice reads it once, and
//! what happened to each object is told the same way.

use chrono::{DateTime, Utc};
use connect_wfm_core::ports::{ClaimOutcome, ClaimStore, ObjectSource, PortError};

use crate::input::s3::CreatedObject;

/// What happened to one object of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOutcome {
    /// Read: how many records were written (a report's interval records; a CTR file's contact
    /// records, its rejects left out).
    Converted { records: usize },
    /// Read before (a COMPLETED claim): nothing written.
    Duplicate,
    /// Not an object of ours (outside the prefix, not `.csv` for reports).
    Skipped { reason: String },
    /// Not read; the message fails and is delivered again.
    Failed { reason: String, permanent: bool },
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReport {
    pub message_id: Option<String>,
    /// `s3:TestEvent`: acknowledged.
    pub test_event: bool,
    /// Per object, in notification order; a body that is not a notification is one failure.
    pub objects: Vec<(Option<CreatedObject>, ObjectOutcome)>,
}

impl MessageReport {
    pub fn failed(&self) -> bool {
        self.objects
            .iter()
            .any(|(_, o)| matches!(o, ObjectOutcome::Failed { .. }))
    }
}

/// The failure of a port call: permanent when asking again cannot help.
pub fn port_failure(e: &PortError) -> ObjectOutcome {
    ObjectOutcome::Failed {
        reason: e.to_string(),
        permanent: !e.retryable,
    }
}

impl CreatedObject {
    /// The claim of the object: `bucket/key#etag`, and a claim of its own for a forced reload
    /// (`#reload-<id>`; the feed objects keep their names).
    pub fn claim_id(&self) -> String {
        let mut claim_id = format!("{}/{}#{}", self.bucket, self.key, self.etag.as_deref().unwrap_or("-"));
        if let Some(reload) = &self.reload {
            claim_id.push_str("#reload-");
            claim_id.push_str(reload);
        }
        claim_id
    }
}

/// Reads `object` once: claims it for `owner` (the SQS message: its redelivery re-enters the
/// claim at once, while another message for the same object waits), runs `work`, then completes
/// the claim when `work` succeeded or releases it when it failed. A COMPLETED claim is
/// [`ObjectOutcome::Duplicate`] without running `work`.
pub async fn once<C, T, W, Fut>(
    claims: &C,
    object: &CreatedObject,
    owner: &str,
    now: DateTime<Utc>,
    work: W,
) -> Result<T, ObjectOutcome>
where
    C: ClaimStore,
    W: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ObjectOutcome>>,
{
    let claim_id = object.claim_id();
    match claims.claim(&claim_id, owner, now).await {
        Err(e) => return Err(port_failure(&e)),
        Ok(ClaimOutcome::AlreadyCompleted) => return Err(ObjectOutcome::Duplicate),
        Ok(ClaimOutcome::HeldElsewhere) => {
            return Err(ObjectOutcome::Failed {
                reason: format!("{claim_id} is being read by another run"),
                permanent: false,
            });
        }
        Ok(ClaimOutcome::Claimed) => {}
    }
    match work().await {
        Ok(done) => match claims.complete(&claim_id, now).await {
            Ok(()) => Ok(done),
            // What the work wrote stands; a retry writes the same objects again.
            Err(e) => Err(port_failure(&e)),
        },
        Err(failure) => {
            if let Err(e) = claims.release(&claim_id).await {
                // The claim's in-progress lease expires on its own.
                tracing::warn!(claim_id, error = %e, "could not release claim");
            }
            Err(failure)
        }
    }
}

/// The whole object, read off the async executor (the reader may block on the network).
/// Reading is transient when it fails part-way; opening fails as the port says.
pub async fn read_all<O: ObjectSource>(objects: &O, object: &CreatedObject) -> Result<Vec<u8>, ObjectOutcome> {
    let mut reader = objects
        .open(&object.bucket, &object.key)
        .await
        .map_err(|e| port_failure(&e))?;
    let file = format!("s3://{}/{}", object.bucket, object.key);
    tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).map(|_| bytes)
    })
    .await
    .map_err(|e| ObjectOutcome::Failed {
        reason: format!("{file}: reading stopped: {e}"),
        permanent: false,
    })?
    .map_err(|e| ObjectOutcome::Failed {
        reason: format!("{file}: {e}"),
        permanent: false,
    })
}

#[cfg(test)]
mod tests {
    use connect_wfm_core::memory::MemoryClaimStore;

    use super::*;

    fn object(reload: Option<&str>) -> CreatedObject {
        CreatedObject {
            bucket: "b".into(),
            key: "k/1".into(),
            etag: Some("e".into()),
            reload: reload.map(str::to_owned),
        }
    }

    #[test]
    fn claim_ids_name_bucket_key_and_etag_and_a_reload_of_its_own() {
        assert_eq!(object(None).claim_id(), "b/k/1#e");
        assert_eq!(object(Some("r1")).claim_id(), "b/k/1#e#reload-r1");
        let no_etag = CreatedObject {
            etag: None,
            ..object(None)
        };
        assert_eq!(no_etag.claim_id(), "b/k/1#-");
    }

    #[tokio::test]
    async fn an_object_is_read_once_and_a_failure_releases_its_claim() {
        let claims = MemoryClaimStore::default();
        let now = "2026-11-20T10:00:00Z".parse().unwrap();
        let failed: Result<(), _> = once(&claims, &object(None), "m1", now, || async {
            Err(ObjectOutcome::Failed {
                reason: "x".into(),
                permanent: false,
            })
        })
        .await;
        assert!(matches!(failed, Err(ObjectOutcome::Failed { .. })));
        let read = once(&claims, &object(None), "m2", now, || async { Ok(3) }).await;
        assert_eq!(read, Ok(3));
        let again = once(&claims, &object(None), "m3", now, || async { Ok(4) }).await;
        assert_eq!(again, Err(ObjectOutcome::Duplicate));
    }
}
