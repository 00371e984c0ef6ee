//! The webhook, for in-house WFMs: `POST {url}` with a JSON array of feed records as written,
//! `Content-Type: application/json`, signed, and keyed so a retried call can be recognised.
//!
//! - `Connect-Wfm-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the
//!   secret as the HMAC key; `t` is the time of the call (a retry is signed again), so a
//!   receiver can refuse old calls (replays) as well as forged ones.
//! - `Idempotency-Key`: hex SHA-256 of the batch's record keys (their `event_id`s), one per
//!   line: the same records give the same key on every retry.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use super::{HttpRequest, Kinds, PushRecord, Secret};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Connect-Wfm-Signature";

/// The idempotency header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Records a call carries by default.
pub const DEFAULT_BATCH: usize = 500;

/// A webhook target.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: Secret,
    pub kinds: Kinds,
    pub max_batch: usize,
}

impl Webhook {
    /// A target with the default kinds and batch size.
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        Self {
            url: url.into(),
            secret,
            kinds: Kinds::default(),
            max_batch: DEFAULT_BATCH,
        }
    }

    /// The request of `records`, signed at `now`.
    pub fn request(&self, records: &[&PushRecord], now: DateTime<Utc>) -> HttpRequest {
        let body = body(records);
        let t = now.timestamp();
        HttpRequest {
            url: self.url.clone(),
            headers: vec![
                (SIGNATURE_HEADER.to_owned(), signature_header(&self.secret, t, &body)),
                (
                    IDEMPOTENCY_HEADER.to_owned(),
                    idempotency_key(records.iter().map(|r| r.key())),
                ),
            ],
            body,
        }
    }
}

/// The body: the records' lines as one JSON array, in order.
pub fn body(records: &[&PushRecord]) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + records.iter().map(|r| r.line.len() + 1).sum::<usize>());
    body.push(b'[');
    for (n, record) in records.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(record.line.as_bytes());
    }
    body.push(b']');
    body
}

/// Hex HMAC-SHA256 of `message` with `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The header's value: `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature_header(secret: &Secret, t: i64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hmac_sha256_hex(secret.expose().as_bytes(), &signed))
}

/// Hex SHA-256 of the keys, one per line (`e1\ne2`), in order.
pub fn idempotency_key(keys: impl IntoIterator<Item = String>) -> String {
    let mut hasher = Sha256::new();
    for (n, key) in keys.into_iter().enumerate() {
        if n > 0 {
            hasher.update(b"\n");
        }
        hasher.update(key.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_request_is_the_documented_call_header_by_header() {
        let record = PushRecord::parse(r#"{"kind":"agent_state","event_id":"e1"}"#).unwrap();
        let target = Webhook::new("https://wfm.example.com/rta", Secret::new("whsec_test"));
        let now: DateTime<Utc> = "2026-11-21T10:00:00Z".parse().unwrap();
        let request = target.request(&[&record], now);
        assert_eq!(request.url, "https://wfm.example.com/rta");
        assert_eq!(request.body, br#"[{"kind":"agent_state","event_id":"e1"}]"#);
        // Computed apart (Python's hmac module) over "1795255200." + the body.
        assert_eq!(
            request.headers,
            [
                (
                    "Connect-Wfm-Signature".to_owned(),
                    "t=1795255200,v1=0c2f17b73bf10be9a6719225bf9f3f5e3d06d8dc276947189f81046db0f61acb".to_owned()
                ),
                ("Idempotency-Key".to_owned(), idempotency_key(["e1".to_owned()])),
            ]
        );
    }

    #[test]
    fn the_idempotency_key_is_a_stable_hash_of_the_event_ids_in_order() {
        assert_eq!(
            idempotency_key(["e1".to_owned(), "e2".to_owned()]),
            "c5a9367884b7c141583fd7cdfaf2cf0340d2fe262087d311ea818404979b0f79"
        );
        assert_ne!(
            idempotency_key(["e2".to_owned(), "e1".to_owned()]),
            idempotency_key(["e1".to_owned(), "e2".to_owned()])
        );
    }

    #[test]
    fn the_body_is_a_json_array_of_the_lines_in_order() {
        let a = PushRecord::parse(r#"{"kind":"agent_state","event_id":"a","x":[1,2]}"#).unwrap();
        let b = PushRecord::parse(r#"{"kind":"feed_health","event_id":"b"}"#).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&body(&[&a, &b])).unwrap();
        assert_eq!(parsed[0]["event_id"], "a");
        assert_eq!(parsed[1]["kind"], "feed_health");
        assert_eq!(body(&[]), b"[]");
    }
}
