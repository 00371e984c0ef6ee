//! [`HttpResponseSender`]: the answer to a CloudFormation custom-resource request, PUT to the
//! presigned ResponseURL (an S3 URL) with an empty Content-Type, as CloudFormation requires: the
//! URL is signed without one.
//!
//! Built on the HTTP stack the AWS SDK already compiles in (hyper 1, hyper-util's client,
//! rustls with the system's root certificates), so it adds no crate to the build.

use std::time::Duration;

use connect_wfm_core::custom_resource::CustomResourceResponse;
use connect_wfm_core::ports::{PortError, ResponseSender};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one PUT may take, connection included.
pub const PUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends answers over HTTPS (or plain HTTP, for a local listener in tests).
#[derive(Debug, Clone)]
pub struct HttpResponseSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpResponseSender {
    /// A sender trusting the system's root certificates. Fails when none can be loaded.
    pub fn new() -> Result<Self, std::io::Error> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }
}

/// The URL without its query (the presigned signature), for error messages and logs.
fn redacted(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl ResponseSender for HttpResponseSender {
    async fn send(&self, response_url: &str, response: &CustomResourceResponse) -> Result<(), PortError> {
        let operation = || format!("PUT the answer to {}", redacted(response_url));
        let body = response.to_body();
        let request = Request::builder()
            .method(Method::PUT)
            .uri(response_url)
            .header(CONTENT_TYPE, "")
            .header(CONTENT_LENGTH, body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PortError::new(operation(), format!("not a usable ResponseURL: {e}"), false))?;
        let answer = tokio::time::timeout(PUT_TIMEOUT, async {
            let answer = self.client.request(request).await.map_err(|e| {
                // hyper-util's error says "client error (Connect)": the cause says why.
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message.push_str(": ");
                    message.push_str(&cause.to_string());
                    source = cause.source();
                }
                message
            })?;
            let status = answer.status();
            let text = answer
                .into_body()
                .collect()
                .await
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            Ok::<_, String>((status, text))
        })
        .await
        .map_err(|_| PortError::new(operation(), format!("no answer within {PUT_TIMEOUT:?}"), true))?
        .map_err(|message| PortError::new(operation(), message, true))?;
        match answer {
            (status, _) if status.is_success() => Ok(()),
            (status, text) => Err(PortError::new(
                operation(),
                format!("HTTP {status}: {text}"),
                status.is_server_error(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_stays_out_of_messages() {
        assert_eq!(
            redacted("https://b.s3.amazonaws.com/arn%3Aaws/x?X-Amz-Signature=abc"),
            "https://b.s3.amazonaws.com/arn%3Aaws/x"
        );
    }

    #[tokio::test]
    async fn an_unusable_url_is_an_error_naming_it() {
        let sender = HttpResponseSender::new().unwrap();
        let envelope = connect_wfm_core::custom_resource::Envelope {
            response_url: "not a url".into(),
            stack_id: "s".into(),
            request_id: "r".into(),
            logical_resource_id: "l".into(),
            physical_resource_id: None,
        };
        let response = CustomResourceResponse::new(
            &envelope,
            "id",
            connect_wfm_core::custom_resource::Status::Success,
            "ok",
        );
        let err = sender.send("not a url", &response).await.unwrap_err();
        assert!(
            err.to_string().starts_with("PUT the answer to not a url failed"),
            "{err}"
        );
    }
}
