//! What a WFM's answer means: delivered, worth another try (and when), or refused.
//!
//! Retried: no answer at all (connection refused or reset, timeout), 408, 429 (after its
//! `Retry-After`, when it gives one) and every 5xx. Refused: any other 4xx; the WFM's message is
//! kept with the refused records. Any 2xx is delivered; a 1xx or 3xx (a redirect we do not
//! follow: a POST must not be replayed elsewhere silently) is treated as a refusal, since no
//! retry changes it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest wait a `Retry-After` may impose before the next try within one run; a longer one
/// ends the run (the records wait in the queue instead).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How much of a WFM's answer is kept as its message.
pub const MESSAGE_CHARS: usize = 500;

/// A WFM's answer to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The `Retry-After` header as sent, if any.
    pub retry_after: Option<String>,
    /// The body (as text, cut to [`MESSAGE_CHARS`]).
    pub body: String,
}

/// What to do after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again, after at least `after` when the WFM said so.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The WFM refused the call: no retry changes that.
    Refused {
        message: String,
    },
}

impl Verdict {
    /// The verdict on an answer, `now` reading a `Retry-After` given as an HTTP date.
    pub fn of(answer: &Answer, now: DateTime<Utc>) -> Self {
        let status = answer.status;
        let message = || {
            let body: String = answer.body.trim().chars().take(MESSAGE_CHARS).collect();
            if body.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {body}")
            }
        };
        match status {
            200..=299 => Verdict::Delivered,
            408 | 500..=599 => Verdict::Retry {
                after: None,
                reason: message(),
            },
            429 => Verdict::Retry {
                after: answer.retry_after.as_deref().and_then(|v| retry_after(v, now)),
                reason: message(),
            },
            _ => Verdict::Refused { message: message() },
        }
    }

    /// The verdict when no answer came (connection error, timeout).
    pub fn no_answer(error: &str) -> Self {
        Verdict::Retry {
            after: None,
            reason: format!("no answer: {error}"),
        }
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3); `None` when it is
/// neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>, body: &str) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.into(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn success_is_delivered_whatever_the_2xx() {
        for status in [200, 201, 202, 204] {
            assert_eq!(Verdict::of(&answer(status, None, ""), now()), Verdict::Delivered);
        }
    }

    #[test]
    fn timeouts_throttles_and_server_errors_are_retried() {
        for status in [408, 500, 502, 503, 504] {
            assert!(
                matches!(
                    Verdict::of(&answer(status, None, "busy"), now()),
                    Verdict::Retry { after: None, .. }
                ),
                "{status}"
            );
        }
        assert!(
            matches!(Verdict::no_answer("connection refused"), Verdict::Retry { after: None, reason } if reason == "no answer: connection refused")
        );
    }

    #[test]
    fn a_429_waits_as_long_as_it_says_in_seconds_or_as_a_date() {
        let of = |v: Option<&str>| match Verdict::of(&answer(429, v, ""), now()) {
            Verdict::Retry { after, .. } => after,
            other => panic!("{other:?}"),
        };
        assert_eq!(of(Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(of(Some("Fri, 20 Nov 2026 10:00:30 GMT")), Some(Duration::from_secs(30)));
        assert_eq!(of(Some("Fri, 20 Nov 2026 09:00:00 GMT")), Some(Duration::ZERO));
        assert_eq!(of(Some("soon")), None);
        assert_eq!(of(None), None);
    }

    #[test]
    fn other_client_errors_are_refusals_with_the_wfms_message() {
        assert_eq!(
            Verdict::of(&answer(400, None, " Unknown state code FOO \n"), now()),
            Verdict::Refused {
                message: "HTTP 400: Unknown state code FOO".into()
            }
        );
        assert_eq!(
            Verdict::of(&answer(403, None, ""), now()),
            Verdict::Refused {
                message: "HTTP 403".into()
            }
        );
        assert!(matches!(
            Verdict::of(&answer(301, None, ""), now()),
            Verdict::Refused { .. }
        ));
        let long = "x".repeat(2000);
        match Verdict::of(&answer(422, None, &long), now()) {
            Verdict::Refused { message } => assert_eq!(message.len(), "HTTP 422: ".len() + MESSAGE_CHARS),
            other => panic!("{other:?}"),
        }
    }
}
