//! SDK failures turned into [`PortError`]s that name the operation and say whether a retry
//! can help.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use connect_wfm_core::ports::PortError;

/// Error codes that mean the request itself is wrong or not allowed: sending it again cannot
/// succeed (architecture.md, "Error policy": bad input and access denied are permanent).
const PERMANENT_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "ValidationException",
    "SerializationException",
    "InvalidParameterValue",
    "InvalidArgument",
    "InvalidRequest",
    "NoSuchKey",
];

/// A [`PortError`] for a failed SDK call. Everything is retryable except requests that can
/// never succeed as sent (a validation error, a denied permission, a request the SDK could not
/// even build): the handlers keep such input under rejects or in the DLQ instead of retrying it
/// until a shard stalls. A missing table or bucket stays retryable (a deploy in progress). The
/// SDK's standard retry (throttling, 5xx, timeouts) has already run when this is called.
pub(crate) fn port_error<E, R>(operation: impl Into<String>, err: &SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.as_service_error().and_then(|e| e.code());
    let retryable =
        !matches!(err, SdkError::ConstructionFailure(_)) && !code.is_some_and(|c| PERMANENT_CODES.contains(&c));
    PortError::new(operation, describe(err), retryable)
}

/// `Code: message` for a service error, the whole error chain otherwise (timeouts, DNS,
/// connection refused...), whose top-level Display alone says nothing useful.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) if e.code().is_some() => {
            let code = e.code().unwrap_or_default();
            match e.message() {
                Some(message) if !message.is_empty() => format!("{code}: {message}"),
                _ => code.to_owned(),
            }
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}
